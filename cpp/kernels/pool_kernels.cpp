// The inner loop of max and average pooling: output rows as the max or sum of strided source rows
// (one per window tap), vectorised along the row. Stride 1 (NHWC channels, NCHW rows of stride-1
// pooling) and 2 (the common downsampling) are compiled with the stride known, so that the
// compiler vectorises the stride-2 loads too. Compiled once per instruction set into kk::<isa>.
#include "kernelkit/dispatch.hpp"
#include "kernelkit/pool.hpp"

namespace kk {
namespace KK_ISA {
namespace {

using i64 = std::int64_t;

// One tap at a time over the whole row, which stays in L1 between taps.
template <class T, int S>
void reduce_rows(const PoolRows<T>& p) {
  const i64 stride = S > 0 ? S : p.stride;
  T* __restrict dst = p.dst;
  const T* first = p.src + p.offsets[0];
  for (i64 i = 0; i < p.length; ++i) dst[i] = first[i * stride];
  for (i64 t = 1; t < p.taps; ++t) {
    const T* __restrict src = p.src + p.offsets[t];
    if (p.kind == PoolKind::max) {
      // a comparison, not std::max, so that NaN wins as in NumPy's maximum
      for (i64 i = 0; i < p.length; ++i) {
        const T v = src[i * stride];
        dst[i] = (v > dst[i] || v != v) ? v : dst[i];
      }
    } else {
      for (i64 i = 0; i < p.length; ++i) dst[i] += src[i * stride];
    }
  }
  if (p.kind == PoolKind::average)
    for (i64 i = 0; i < p.length; ++i) dst[i] *= p.scale;
}

template <class T>
void pool_rows(const PoolRows<T>& p) {
  if (p.stride == 1) return reduce_rows<T, 1>(p);
  if (p.stride == 2) return reduce_rows<T, 2>(p);
  reduce_rows<T, 0>(p);
}

}  // namespace

void fill_pool_entries(KernelTable& table) {
  table.pool_rows_f32 = &pool_rows<float>;
  table.pool_rows_f64 = &pool_rows<double>;
}

}  // namespace KK_ISA
}  // namespace kk
