// Vectorised exp and tanh for the kernel epilogues: no libm call per element, a few ulp of error,
// overflow to inf, underflow (through the subnormals) to 0, and NaN in -> NaN out, as the C library.
#pragma once
#include <limits>

#include "kernelkit/simd.hpp"

namespace kk {
namespace KK_ISA {

template <class T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  static constexpr float log2e = 1.44269504088896341f;
  // ln 2 split so that k * ln2_hi is exact for every |k| <= 2^9 without FMA.
  static constexpr float ln2_hi = 0.693115234375f;
  static constexpr float ln2_lo = 3.19461833e-05f;
  // Adding this rounds to an integer held in the low mantissa bits (for |x| < 2^22).
  static constexpr float shifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr int mantissa_bits = 23;
  static constexpr int exponent_bias = 127;
  // Just past the largest finite exp(x) and the point below which exp(x) rounds to 0: clamped
  // there, the computation itself overflows to inf or rounds to 0 exactly where the C library does.
  static constexpr float clamp_high = 89.0f;
  static constexpr float clamp_low = -104.0f;
  // expm1(r) = r + r^2/2! + ... truncated where the next term is below a tenth of an ulp for
  // |r| <= ln2/2.
  static constexpr int taylor_terms = 7;
  // tanh(x) rounds to +-1 from here on.
  static constexpr float tanh_saturates = 10.0f;
};

template <>
struct ExpConstants<double> {
  static constexpr double log2e = 1.4426950408889634;
  static constexpr double ln2_hi = 0.6931471805592082;
  static constexpr double ln2_lo = 7.371002565167799e-13;
  static constexpr double shifter = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int mantissa_bits = 52;
  static constexpr int exponent_bias = 1023;
  static constexpr double clamp_high = 710.0;
  static constexpr double clamp_low = -746.0;
  static constexpr int taylor_terms = 13;
  static constexpr double tanh_saturates = 20.0;
};

constexpr long double inverse_factorial(int k) {
  long double f = 1.0L;
  for (int i = 2; i <= k; ++i) f *= i;
  return 1.0L / f;
}

// e^r - 1 for |r| <= ln2/2, Horner form of the Taylor series.
template <class T>
inline vec<T> expm1_reduced(vec<T> r) {
  using C = ExpConstants<T>;
  vec<T> p = splat<T>(T(inverse_factorial(C::taylor_terms)));
#pragma GCC unroll 16
  for (int k = C::taylor_terms - 1; k >= 1; --k) p = p * r + T(inverse_factorial(k));
  return p * r;
}

// 2^k for k held as an integer-valued vector (|k| within the normal exponent range).
template <class T>
inline vec<T> exp2_integer(vec<T> k) {
  using C = ExpConstants<T>;
  const vec<T> shifted = k + C::shifter;
  return from_bits<T>((bits<T>(shifted) + C::exponent_bias) << C::mantissa_bits);
}

template <class T>
inline vec<T> round_to_integer(vec<T> x) {
  using C = ExpConstants<T>;
  return (x + C::shifter) - C::shifter;
}

// x = k ln2 + r with |r| <= ln2/2 (Cody-Waite reduction).
template <class T>
inline vec<T> reduce_ln2(vec<T> x, vec<T>& k) {
  using C = ExpConstants<T>;
  k = round_to_integer<T>(x * C::log2e);
  return (x - k * C::ln2_hi) - k * C::ln2_lo;
}

template <class T>
inline vec<T> exp(vec<T> x) {
  using C = ExpConstants<T>;
  // Written so that a NaN x passes both clamps (and comes out NaN); +-inf clamp like large values.
  vec<T> xc = C::clamp_low > x ? splat<T>(C::clamp_low) : x;
  xc = C::clamp_high < xc ? splat<T>(C::clamp_high) : xc;
  vec<T> k;
  const vec<T> r = reduce_ln2<T>(xc, k);
  const vec<T> p = expm1_reduced<T>(r) + T(1);
  // 2^k as two normal factors: the subnormal results and the overflow to inf then come out of the
  // last multiplication, correctly rounded.
  const vec<T> k_half = round_to_integer<T>(k * T(0.5));
  return (p * exp2_integer<T>(k_half)) * exp2_integer<T>(k - k_half);
}

template <class T>
inline vec<T> tanh(vec<T> x) {
  using C = ExpConstants<T>;
  vec<T> a = abs<T>(x);
  a = a > C::tanh_saturates ? splat<T>(C::tanh_saturates) : a;
  // tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)): no cancellation near 0.
  vec<T> k;
  const vec<T> r = reduce_ln2<T>(T(-2) * a, k);
  const vec<T> scale = exp2_integer<T>(k);
  const vec<T> em1 = scale * expm1_reduced<T>(r) + (scale - T(1));
  return copysign<T>(-em1 / (em1 + T(2)), x);
}

// v^n for an integer n, by repeated squaring.
template <class T>
inline vec<T> pow_integer(vec<T> v, long long n) {
  const bool invert = n < 0;
  unsigned long long e = invert ? 0ULL - static_cast<unsigned long long>(n) : static_cast<unsigned long long>(n);
  vec<T> result = splat<T>(T(1));
  while (e != 0) {
    if (e & 1ULL) result = result * v;
    v = v * v;
    e >>= 1;
  }
  return invert ? T(1) / result : result;
}

}  // namespace KK_ISA
}  // namespace kk
