// The inner loop of filter2d: output rows as weighted sums of shifted source rows (a tap list),
// vectorised along the row. The same loop runs a small 2-D kernel over padded rows and the row and
// column passes of a separable kernel. Compiled once per instruction set into kk::<isa>.
#include <cstring>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/filter.hpp"
#include "kernelkit/simd.hpp"

namespace kk {
namespace KK_ISA {
namespace {

using i64 = std::int64_t;

// Independent accumulators per strip. The loop is bound by its loads (one per multiply-add), so
// more accumulators do not help: on Zen 3 (AVX2) four ran 3x3 and smaller kernels 1.4x faster than
// eight, and 5x5 and 7x7 as fast; a shorter strip also wastes less at the end of a row.
constexpr int kStripVectors = 4;

template <class T>
void correlate_rows(const TapRows<T>& p) {
  constexpr int W = lanes<T>;
  constexpr int V = kStripVectors;
  constexpr i64 S = V * W;
  static_assert(S * sizeof(T) <= kFilterReadSlackBytes, "a strip may read past the row end");
  for (i64 r = 0; r < p.rows; ++r) {
    const T* src = p.src + r * p.src_stride;
    T* dst = p.dst + r * p.dst_stride;
    for (i64 i = 0; i < p.length; i += S) {
      vec<T> acc[V];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) acc[v] = splat<T>(T(0));
      for (i64 t = 0; t < p.taps; ++t) {
        const T* s = src + p.offsets[t] + i;
        const vec<T> w = splat<T>(p.weights[t]);
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) acc[v] = w * load<T>(s + v * W) + acc[v];
      }
      if (i + S <= p.length) {
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) store<T>(dst + i + v * W, acc[v]);
        continue;
      }
      T strip[S];
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) store<T>(strip + v * W, acc[v]);
      std::memcpy(dst + i, strip, sizeof(T) * static_cast<std::size_t>(p.length - i));
    }
  }
}

}  // namespace

void fill_filter_entries(KernelTable& table) {
  table.correlate_rows_f32 = &correlate_rows<float>;
  table.correlate_rows_f64 = &correlate_rows<double>;
}

}  // namespace KK_ISA
}  // namespace kk
