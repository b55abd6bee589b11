// kernelkit._core.vexp / vtanh: the kernels' vector math over whole arrays, so that tests can
// compare it with the C library over the full input range; fma_peak: the FMA ceiling of the SIMD
// path in use, measured on every thread.
#include <algorithm>
#include <chrono>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "bindings.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/table_entry.hpp"

namespace kk::bindings {
namespace {

template <class T>
py::array_t<T> map_elementwise(ElementwiseFn<T> fn, const py::array& x) {
  const auto src = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!src) throw py::type_error("x: expected an array of numbers");
  py::array_t<T> dst(std::vector<py::ssize_t>(src.shape(), src.shape() + src.ndim()));
  const T* in = src.data();
  T* result = dst.mutable_data();
  const std::int64_t size = src.size();
  const WithoutGil without_gil;
  fn(in, result, size);
  return dst;
}

// float32 stays float32; everything else is computed in float64.
template <class Entry32, class Entry64>
py::array dispatch_elementwise(const py::array& x, Entry32 entry32, Entry64 entry64) {
  if (has_dtype<float>(x)) return map_elementwise<float>(entry32(kernels()), x);
  return map_elementwise<double>(entry64(kernels()), x);
}

// FLOP/s of `threads` threads each running the FMA loop for about `seconds` (the best of three
// rounds); 2 FLOP per FMA lane.
template <class T>
double fma_peak(double seconds, int threads) {
  const KernelTable& table = kernels();
  T (*loop)(std::int64_t) = nullptr;
  if constexpr (sizeof(T) == 4) loop = table.fma_loop_f32; else loop = table.fma_loop_f64;
  const double flop_per_round = 2.0 * table.fma_chains * (table.vector_bytes / double(sizeof(T)));
  using clock = std::chrono::steady_clock;
  // Calibrate on one thread: rounds for about seconds / 3.
  std::int64_t rounds = 1 << 16;
  for (;;) {
    const auto t0 = clock::now();
    volatile T sink = loop(rounds);
    (void)sink;
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > seconds / 30 || rounds > (std::int64_t(1) << 40)) {
      rounds = std::max<std::int64_t>(1, std::int64_t(double(rounds) * (seconds / 3) / std::max(dt, 1e-9)));
      break;
    }
    rounds *= 4;
  }
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto t0 = clock::now();
    kk::on_each_thread(threads, [&](int) {
      volatile T sink = loop(rounds);
      (void)sink;
    });
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::max(best, flop_per_round * double(rounds) * threads / dt);
  }
  return best;
}

}  // namespace

void register_math(py::module_& m) {
  m.def(
      "vexp",
      [](const py::array& x) { return dispatch_elementwise(x, TableEntry<float>::exp, TableEntry<double>::exp); },
      py::arg("x"));
  m.def(
      "vtanh",
      [](const py::array& x) { return dispatch_elementwise(x, TableEntry<float>::tanh, TableEntry<double>::tanh); },
      py::arg("x"));
  m.def(
      "fma_peak",
      [](bool float64, double seconds, int threads) {
        require(threads >= 1 && seconds > 0, "fma_peak: threads >= 1 and seconds > 0");
        const WithoutGil without_gil;
        return float64 ? fma_peak<double>(seconds, threads) : fma_peak<float>(seconds, threads);
      },
      py::arg("float64"), py::arg("seconds"), py::arg("threads"),
      "FLOP/s of independent vector FMAs of the SIMD path in use on `threads` threads.");
}

}  // namespace kk::bindings
