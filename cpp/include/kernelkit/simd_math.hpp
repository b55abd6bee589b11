// Vectorised exp, tanh, log1p, sin^2(pi x) and sqrt for the kernel epilogues: no libm call per
// element, a few ulp of error, overflow to inf, underflow (through the subnormals) to 0, and NaN in
// -> NaN out, as the C library.
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

// Correctly rounded square root (the instruction).
template <class T>
inline vec<T> sqrt(vec<T> x) {
#if defined(__AVX512F__)
  // maskz: no undefined input (the plain form reads one, which GCC warns of)
  if constexpr (sizeof(T) == 4) return _mm512_maskz_sqrt_ps(__mmask16(0xFFFF), x);
  else return _mm512_maskz_sqrt_pd(__mmask8(0xFF), x);
#elif defined(__AVX__)
  if constexpr (sizeof(T) == 4) return _mm256_sqrt_ps(x);
  else return _mm256_sqrt_pd(x);
#elif defined(__SSE2__)
  if constexpr (sizeof(T) == 4) return _mm_sqrt_ps(x);
  else return _mm_sqrt_pd(x);
#else
  vec<T> r;
  for (int l = 0; l < lanes<T>; ++l) r[l] = __builtin_sqrt(x[l]);
  return r;
#endif
}

// ln x for x >= 1 (inf -> inf, NaN -> NaN): x = 2^e m with m in [sqrt(1/2), sqrt(2)), then
// ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series.
template <class T>
inline vec<T> log_at_least_one(vec<T> x) {
  using C = ExpConstants<T>;
  using I = typename IntOf<T>::type;
  constexpr int series_terms = sizeof(T) == 4 ? 6 : 12;  // the next term is below 0.1 ulp
  constexpr I mantissa_mask = (I(1) << C::mantissa_bits) - 1;
  const ivec<T> xi = bits<T>(x);
  const ivec<T> above_sqrt2 = from_bits<T>((xi & mantissa_mask) | bits<T>(splat<T>(T(1)))) > T(1.41421356237309505);
  // the exponent, one more where the mantissa is halved below
  const ivec<T> e = ((xi >> C::mantissa_bits) - C::exponent_bias) - above_sqrt2;
  const vec<T> m = from_bits<T>((xi & mantissa_mask) | bits<T>(splat<T>(T(1)))) * (above_sqrt2 ? splat<T>(T(0.5)) : splat<T>(T(1)));
  const vec<T> s = (m - T(1)) / (m + T(1));
  const vec<T> s2 = s * s;
  vec<T> series = splat<T>(T(1.0L / (2 * series_terms - 1)));
#pragma GCC unroll 16
  for (int k = series_terms - 2; k >= 0; --k) series = series * s2 + T(1.0L / (2 * k + 1));
  const vec<T> ef = __builtin_convertvector(e, vec<T>);
  const vec<T> result = ef * C::ln2_hi + (ef * C::ln2_lo + T(2) * s * series);
  return x < std::numeric_limits<T>::infinity() ? result : x;
}

// ln(1 + u) for u >= 0 (inf -> inf, NaN -> NaN), without the loss of 1 + u's rounding: ln w times
// u / (w - 1) for w = 1 + u rounded (Goldberg's correction).
template <class T>
inline vec<T> log1p_nonnegative(vec<T> u) {
  const vec<T> w = u + T(1);
  const vec<T> corrected = log_at_least_one<T>(w) * (u / (w - T(1)));
  return w == T(1) ? u : w < std::numeric_limits<T>::infinity() ? corrected : w;
}

constexpr long double sin_pi_coefficient(int k) {  // (-1)^k pi^(2k+1) / (2k+1)!
  long double c = 1.0L;
  for (int i = 1; i <= 2 * k + 1; ++i) c *= 3.14159265358979323846264338327950288L / i;
  return k % 2 == 0 ? c : -c;
}

// sin(pi f) for |f| <= 1/2, its Taylor series (the next term is below 0.1 ulp).
template <class T>
inline vec<T> sin_pi_reduced(vec<T> f) {
  constexpr int terms = sizeof(T) == 4 ? 7 : 11;
  const vec<T> f2 = f * f;
  vec<T> p = splat<T>(T(sin_pi_coefficient(terms - 1)));
#pragma GCC unroll 16
  for (int k = terms - 2; k >= 0; --k) p = p * f2 + T(sin_pi_coefficient(k));
  return p * f;
}

// sin^2(pi t) = sin^2(pi (t - round(t))), the reduction exact (t is an integer from 2^mantissa
// bits on); +-inf gives NaN as sin does.
template <class T>
inline vec<T> sin_pi_squared(vec<T> t) {
  using C = ExpConstants<T>;
  const T integers_from = T(2) * C::shifter / T(3);  // 2^mantissa_bits
  const vec<T> f = abs<T>(t) < integers_from ? t - round_to_integer<T>(t) : t * T(0);
  const vec<T> s = sin_pi_reduced<T>(f);
  return s * s;
}

}  // namespace KK_ISA
}  // namespace kk
