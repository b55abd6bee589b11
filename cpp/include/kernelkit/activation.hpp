// The activations conv2d fuses into its stores (compiled per instruction set, in kk::KK_ISA).
#pragma once
#include "kernelkit/conv.hpp"
#include "kernelkit/simd.hpp"

namespace kk {
namespace KK_ISA {

template <class T>
inline vec<T> activate(vec<T> v, Activation act, T alpha) {
  if (act == Activation::relu) return v < T(0) ? splat<T>(T(0)) : v;  // NaN stays NaN
  if (act == Activation::leaky_relu) return v < T(0) ? v * alpha : v;
  return v;
}

template <class T>
inline T activate_scalar(T v, Activation act, T alpha) {
  if (act == Activation::relu) return v < T(0) ? T(0) : v;
  if (act == Activation::leaky_relu) return v < T(0) ? v * alpha : v;
  return v;
}

}  // namespace KK_ISA
}  // namespace kk
