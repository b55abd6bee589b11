// A small vector abstraction over GCC/Clang vector extensions, compiled once per instruction set.
// Everything here lives in kk::KK_ISA so that inline code built with AVX-512 flags can never be
// merged by the linker into a caller compiled for a lower instruction set.
#pragma once
#ifndef KK_ISA
#error "simd.hpp belongs to code compiled per instruction set: define KK_ISA"
#endif

#include <cstdint>
#include <cstring>
#include <utility>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kk {
namespace KK_ISA {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr int kVectorRegisters = 32;
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
constexpr int kVectorRegisters = 16;
#else
constexpr int kVectorBytes = 16;
constexpr int kVectorRegisters = 16;  // x86-64's xmm0-15; other targets' paths are not timed against it
#endif

template <class T>
struct IntOf;
template <>
struct IntOf<float> {
  using type = std::int32_t;
};
template <>
struct IntOf<double> {
  using type = std::int64_t;
};

template <class T>
struct Simd {
  static constexpr int lanes = kVectorBytes / int(sizeof(T));
  typedef T V __attribute__((vector_size(kVectorBytes)));
  typedef typename IntOf<T>::type I __attribute__((vector_size(kVectorBytes)));
};

template <class T>
using vec = typename Simd<T>::V;
template <class T>
using ivec = typename Simd<T>::I;
template <class T>
constexpr int lanes = Simd<T>::lanes;

template <class T>
inline vec<T> splat(T s) {
  return s - vec<T>{};  // s + 0 would turn -0.0 into +0.0; s - 0 is exact for every s
}

template <class T>
inline vec<T> load(const T* p) {
  vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
inline void store(T* p, vec<T> v) {
  std::memcpy(p, &v, sizeof v);
}

template <class T, std::size_t... L>
constexpr ivec<T> lane_indices(std::index_sequence<L...>) {
  return ivec<T>{static_cast<typename IntOf<T>::type>(L)...};
}

// v[0:n] = p[0:n], the other lanes 0, for 0 <= n <= lanes; nothing at or past p + n is read
// (AVX-512 and AVX2: one masked load, which does not fault on the masked lanes; the baseline path
// element by element). Inserting elements one by one into a vector goes through the stack, and
// the vector load that follows the scalar stores stalls on store-to-load forwarding.
template <class T>
inline vec<T> load_partial(const T* p, std::int64_t n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  } else {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
  }
#elif defined(__AVX2__)
  using I = typename IntOf<T>::type;
  const ivec<T> mask = lane_indices<T>(std::make_index_sequence<lanes<T>>{}) < static_cast<I>(n);
  if constexpr (sizeof(T) == 4) {
    return _mm256_maskload_ps(p, reinterpret_cast<__m256i>(mask));
  } else {
    return _mm256_maskload_pd(p, reinterpret_cast<__m256i>(mask));
  }
#else
  vec<T> v = splat<T>(T(0));
  for (std::int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
#endif
}

// p[0:n] = v[0:n] for 0 <= n <= lanes; nothing at or past p + n is written (AVX-512: one masked
// store; elsewhere element by element).
template <class T>
inline void store_partial(T* p, vec<T> v, std::int64_t n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  } else {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), v);
  }
#else
  for (std::int64_t i = 0; i < n; ++i) p[i] = v[i];
#endif
}

// A store that bypasses the caches (no read-for-ownership of the line); p must be vector-aligned.
// Callers issue store_fence() before the data is read by another thread.
inline void stream_store(float* p, vec<float> v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, v);
#elif defined(__AVX__)
  _mm256_stream_ps(p, v);
#elif defined(__SSE__)
  _mm_stream_ps(p, v);
#else
  store<float>(p, v);
#endif
}

inline void stream_store(double* p, vec<double> v) {
#if defined(__AVX512F__)
  _mm512_stream_pd(p, v);
#elif defined(__AVX__)
  _mm256_stream_pd(p, v);
#elif defined(__SSE2__)
  _mm_stream_pd(p, v);
#else
  store<double>(p, v);
#endif
}

inline void store_fence() {
#if defined(__SSE__)
  _mm_sfence();
#endif
}

template <class T>
inline ivec<T> bits(vec<T> v) {
  return reinterpret_cast<ivec<T>>(v);
}

template <class T>
inline vec<T> from_bits(ivec<T> v) {
  return reinterpret_cast<vec<T>>(v);
}

template <class T>
inline vec<T> abs(vec<T> v) {
  return from_bits<T>(bits<T>(v) & ~bits<T>(splat<T>(T(-0.0))));
}

// x with the sign of s.
template <class T>
inline vec<T> copysign(vec<T> x, vec<T> s) {
  const ivec<T> sign = bits<T>(splat<T>(T(-0.0)));
  return from_bits<T>((bits<T>(x) & ~sign) | (bits<T>(s) & sign));
}

// NaN-preserving max/min: a NaN in `a` is returned as is.
template <class T>
inline vec<T> max_keep_nan(vec<T> a, vec<T> b) {
  return a < b ? b : a;
}
template <class T>
inline vec<T> min_keep_nan(vec<T> a, vec<T> b) {
  return a > b ? b : a;
}

// 1/x to nearly full precision: hardware estimate refined by Newton steps where one exists.
inline vec<float> reciprocal(vec<float> x) {
#if defined(__AVX512F__)
  vec<float> r = _mm512_maskz_rcp14_ps(__mmask16(0xFFFF), x);  // maskz: no undefined input
#elif defined(__AVX__)
  vec<float> r = _mm256_rcp_ps(x);
#elif defined(__SSE__)
  vec<float> r = _mm_rcp_ps(x);
#else
  return 1.0f / x;
#endif
#if defined(__SSE__)
  return r * (2.0f - x * r);
#endif
}

inline vec<double> reciprocal(vec<double> x) {
#if defined(__AVX512F__)
  vec<double> r = _mm512_maskz_rcp14_pd(__mmask8(0xFF), x);
  r = r * (2.0 - x * r);
  return r * (2.0 - x * r);
#else
  return 1.0 / x;
#endif
}

}  // namespace KK_ISA
}  // namespace kk
