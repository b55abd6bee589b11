// Subnormal numbers count as zero inside kernelkit's compute calls: the flush-to-zero (FTZ) and
// denormals-are-zero (DAZ) bits of MXCSR are set for the duration of a call, on the calling thread
// (SubnormalsAsZero, in each driver's entry point) and on every pool worker that runs its tasks
// (parallel_for gives a job the floating-point mode of the thread that started it). Without them
// subnormal inputs or intermediate values slow some kernels down (chi2 of subnormal data: 2.3-4.9x
// on Zen 5's baseline path, 1.7-3x on its AVX2 path in float64, bench/bench_denormal.py; CPUs that
// take a micro-code assist per subnormal operation lose far more); TensorFlow and OpenVINO run
// their CPU kernels the same way. The caller's own mode is restored when the call ends, so NumPy
// and Python arithmetic on that thread keeps its subnormals; the status flags the call raised stay
// raised. Without SSE (non-x86 builds) this is a no-op and subnormals are kept.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define KK_HAVE_MXCSR 1
#else
#define KK_HAVE_MXCSR 0
#endif

namespace kk {

// The floating-point control state of the calling thread (MXCSR on x86, 0 elsewhere).
using FloatMode = unsigned int;

#if KK_HAVE_MXCSR
// MXCSR's sticky exception flags (bits 0-5): never copied between threads or restored.
inline constexpr FloatMode kFloatStatusBits = 0x3Fu;
inline constexpr FloatMode kDenormalsAreZero = 1u << 6;
inline constexpr FloatMode kFlushToZero = 1u << 15;

inline FloatMode current_float_mode() { return _mm_getcsr() & ~kFloatStatusBits; }
// Sets the control bits to `mode`, keeping the status flags raised so far.
inline void set_float_mode(FloatMode mode) {
  _mm_setcsr((_mm_getcsr() & kFloatStatusBits) | (mode & ~kFloatStatusBits));
}
#else
inline constexpr FloatMode kDenormalsAreZero = 0, kFlushToZero = 0;
inline FloatMode current_float_mode() { return 0; }
inline void set_float_mode(FloatMode) {}
#endif

namespace detail {
// The mode the caller had before the innermost SubnormalsAsZero on this thread (what Python code
// called from inside the call, such as a signal handler run by the interrupt check, must see).
inline thread_local FloatMode caller_float_mode = 0;
inline thread_local bool inside_subnormals_as_zero = false;
}  // namespace detail

// FTZ + DAZ on the calling thread for its lifetime; the previous mode comes back afterwards.
class SubnormalsAsZero {
 public:
  SubnormalsAsZero()
      : saved_(current_float_mode()),
        outer_mode_(detail::caller_float_mode),
        outer_inside_(detail::inside_subnormals_as_zero) {
    if (!outer_inside_) detail::caller_float_mode = saved_;
    detail::inside_subnormals_as_zero = true;
    set_float_mode(saved_ | kFlushToZero | kDenormalsAreZero);
  }
  ~SubnormalsAsZero() {
    set_float_mode(saved_);
    detail::caller_float_mode = outer_mode_;
    detail::inside_subnormals_as_zero = outer_inside_;
  }
  SubnormalsAsZero(const SubnormalsAsZero&) = delete;
  SubnormalsAsZero& operator=(const SubnormalsAsZero&) = delete;

 private:
  FloatMode saved_, outer_mode_;
  bool outer_inside_;
};

// The caller's own mode for the lifetime of this object, inside a SubnormalsAsZero scope (no-op
// outside one): for code that may run Python.
class CallerFloatMode {
 public:
  CallerFloatMode() : active_(detail::inside_subnormals_as_zero), saved_(current_float_mode()) {
    if (active_) set_float_mode(detail::caller_float_mode);
  }
  ~CallerFloatMode() {
    if (active_) set_float_mode(saved_);
  }
  CallerFloatMode(const CallerFloatMode&) = delete;
  CallerFloatMode& operator=(const CallerFloatMode&) = delete;

 private:
  bool active_;
  FloatMode saved_;
};

}  // namespace kk
