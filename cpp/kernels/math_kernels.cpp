// Element-wise vector math (exp, tanh) over arrays: the same routines the Gram epilogues inline,
// exposed so that they can be checked against the C library over the whole input range.
#include "kernelkit/dispatch.hpp"
#include "kernelkit/simd_math.hpp"

namespace kk {
namespace KK_ISA {
namespace {

using i64 = std::int64_t;

template <class T, vec<T> (*F)(vec<T>)>
void map_array(const T* x, T* y, i64 n) {
  constexpr int W = lanes<T>;
  i64 i = 0;
  for (; i + W <= n; i += W) store<T>(y + i, F(load<T>(x + i)));
  if (i == n) return;
  T tail[W] = {};
  for (i64 t = 0; t < n - i; ++t) tail[t] = x[i + t];
  const vec<T> r = F(load<T>(tail));
  for (i64 t = 0; t < n - i; ++t) y[i + t] = r[t];
}

}  // namespace

void fill_math_entries(KernelTable& table) {
  table.exp_f32 = &map_array<float, exp<float>>;
  table.exp_f64 = &map_array<double, exp<double>>;
  table.tanh_f32 = &map_array<float, tanh<float>>;
  table.tanh_f64 = &map_array<double, tanh<double>>;
}

}  // namespace KK_ISA
}  // namespace kk
