// Element-wise vector math (exp, tanh) over arrays: the same routines the Gram epilogues inline,
// exposed so that they can be checked against the C library over the whole input range; and a loop
// of independent FMAs, the physical limit the benchmarks report kernels against.
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

namespace {

// The FMA peak of this SIMD path: `iterations` rounds of kChains independent chains of vector FMAs
// (enough chains to cover the FMA latency on every pipe), returning a value that depends on all of
// them so that the compiler keeps the work. Each round is kChains * lanes FMAs. The chains and the
// two operands must fit in the vector registers: a spilled chain waits on store-to-load forwarding
// and halves the loop (16 chains on AVX2's 16 ymm registers measured half the peak).
constexpr int kChains = kVectorRegisters - 4;
template <class T>
T fma_loop(std::int64_t iterations) {
  vec<T> acc[kChains];
  const vec<T> a = splat<T>(T(0.999999)), b = splat<T>(T(1e-7));
#pragma GCC unroll 32
  for (int i = 0; i < kChains; ++i) acc[i] = splat<T>(T(i));
  for (std::int64_t k = 0; k < iterations; ++k) {
#pragma GCC unroll 32
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * a + b;
    __asm__ volatile("" : "+x"(acc[0]));  // keeps the loop a loop of FMAs
  }
  vec<T> sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum += acc[i];
  T total = 0;
  for (int l = 0; l < lanes<T>; ++l) total += sum[l];
  return total;
}

}  // namespace

void fill_math_entries(KernelTable& table) {
  table.fma_chains = kChains;
  table.fma_loop_f32 = &fma_loop<float>;
  table.fma_loop_f64 = &fma_loop<double>;
  table.exp_f32 = &map_array<float, exp<float>>;
  table.exp_f64 = &map_array<double, exp<double>>;
  table.tanh_f32 = &map_array<float, tanh<float>>;
  table.tanh_f64 = &map_array<double, tanh<double>>;
}

}  // namespace KK_ISA
}  // namespace kk
