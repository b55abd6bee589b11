// The activations conv2d fuses into its stores (compiled per instruction set, in kk::KK_ISA).
#pragma once
#include <cstring>

#include "kernelkit/conv.hpp"
#include "kernelkit/microkernel.hpp"
#include "kernelkit/simd.hpp"

namespace kk {
namespace KK_ISA {

// Comparisons, not min/max, so that NaN stays NaN as in the unfused computation.
template <class T>
inline vec<T> activate(vec<T> v, Activation act, T alpha) {
  if (act == Activation::relu) return v < T(0) ? splat<T>(T(0)) : v;
  if (act == Activation::leaky_relu) return v < T(0) ? v * alpha : v;
  if (act == Activation::relu6) {
    const vec<T> low = v < T(0) ? splat<T>(T(0)) : v;
    return low > T(6) ? splat<T>(T(6)) : low;
  }
  return v;
}

template <class T>
inline T activate_scalar(T v, Activation act, T alpha) {
  if (act == Activation::relu) return v < T(0) ? T(0) : v;
  if (act == Activation::leaky_relu) return v < T(0) ? v * alpha : v;
  if (act == Activation::relu6) return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
  return v;
}

// Stores act(acc), R rows of C vectors, at dst with rows ld apart. When only `rows` x `columns`
// values of it belong to the output (the rest runs past its channels or the end of its row), only
// those are stored (the last vector of each row partially), so that nothing outside them is
// written.
template <class T, int R, int C>
KK_ALWAYS_INLINE inline void store_activated(const vec<T> (&acc)[R][C], Activation act, T alpha, T* dst, i64 ld,
                                             i64 rows, i64 columns) {
  constexpr int W = lanes<T>;
  if (rows >= R && columns >= C * W) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) store<T>(dst + r * ld + c * W, activate<T>(acc[r][c], act, alpha));
    return;
  }
  for (int r = 0; r < min_i64(rows, R); ++r)
    for (int c = 0; c < C; ++c) {
      const i64 n = columns - c * W;
      if (n >= W) {
        store<T>(dst + r * ld + c * W, activate<T>(acc[r][c], act, alpha));
      } else if (n > 0) {
        store_partial<T>(dst + r * ld + c * W, activate<T>(acc[r][c], act, alpha), n);
      }
    }
}

}  // namespace KK_ISA
}  // namespace kk
