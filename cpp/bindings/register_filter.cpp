// kernelkit._core.filter2d / filter2d_separable: arguments normalised by kernelkit/filtering.py;
// checked again here so that no call can read or write out of bounds.
#include <array>

#include "bindings.hpp"
#include "kernelkit/filter_driver.hpp"

namespace kk::bindings {
namespace {

constexpr int kModes = 5;

void check_weights(const py::array& a, const std::string& name, int ndim) {
  require(a.ndim() == ndim, name + ": expected a " + std::to_string(ndim) + "-D array");
  require(has_dtype<double>(a) && is_c_contiguous(a), name + ": must be C-contiguous float64");
}

// The (N, H, W, C) shape with everything the driver needs, after the checks that do not depend on T.
FilterShape filter_shape(const py::array& x, std::int64_t kh, std::int64_t kw, std::array<std::int64_t, 2> anchor,
                         int mode, double cval, int n_threads) {
  require(x.ndim() == 4, "x: expected a 4-D (N, H, W, C) array");
  require(kh >= 1 && kw >= 1, "kernel: must not be empty");
  require(anchor[0] >= 0 && anchor[0] < kh && anchor[1] >= 0 && anchor[1] < kw, "anchor: must lie in the kernel");
  require(mode >= 0 && mode < kModes, "mode: unknown code");
  require(n_threads >= 1, "n_threads: must be >= 1");
  return {x.shape(0), x.shape(1),  x.shape(2), x.shape(3), kh, kw,
          anchor[0],  anchor[1],   static_cast<BoundaryMode>(mode), cval};
}

// Checks x and out for element type T, then runs compute(x, out) without the GIL (compute takes
// typed pointers).
template <class T, class Compute>
void run_typed(const FilterShape& s, const py::array& x, py::array& out, const Compute& compute) {
  require(is_c_contiguous(x), "x: must be C-contiguous");
  require(has_dtype<T>(out) && is_c_contiguous(out) && out.writeable() && out.ndim() == 4,
          "out: must be a writeable C-contiguous 4-D array of x's dtype");
  for (int i = 0; i < 4; ++i) require(out.shape(i) == x.shape(i), "out: must have x's shape");
  if (s.n * s.h * s.w * s.c == 0) return;
  const T* xp = static_cast<const T*>(x.data());
  T* op = static_cast<T*>(out.mutable_data());
  const WithoutGil without_gil;
  compute(xp, op);
}

template <class Compute>
void dispatch_dtype(const FilterShape& s, const py::array& x, py::array& out, const Compute& compute) {
  if (has_dtype<float>(x)) return run_typed<float>(s, x, out, compute);
  if (has_dtype<double>(x)) return run_typed<double>(s, x, out, compute);
  throw py::type_error("x: dtype must be float32 or float64");
}

void filter2d(const py::array& x, const py::array& kernel, py::array& out, std::array<std::int64_t, 2> anchor,
              int mode, double cval, int n_threads) {
  check_weights(kernel, "kernel", 2);
  const FilterShape s = filter_shape(x, kernel.shape(0), kernel.shape(1), anchor, mode, cval, n_threads);
  const double* k = static_cast<const double*>(kernel.data());
  dispatch_dtype(s, x, out, [&](const auto* xp, auto* op) { compute_filter2d(s, xp, k, op, n_threads); });
}

void filter2d_separable(const py::array& x, const py::array& row, const py::array& col, py::array& out,
                        std::array<std::int64_t, 2> anchor, int mode, double cval, int n_threads) {
  check_weights(row, "row", 1);
  check_weights(col, "col", 1);
  const FilterShape s = filter_shape(x, col.shape(0), row.shape(0), anchor, mode, cval, n_threads);
  const double* r = static_cast<const double*>(row.data());
  const double* c = static_cast<const double*>(col.data());
  dispatch_dtype(s, x, out,
                 [&](const auto* xp, auto* op) { compute_filter2d_separable(s, xp, r, c, op, n_threads); });
}

}  // namespace

void register_filter(py::module_& m) {
  m.def("filter2d", &filter2d, py::arg("x"), py::arg("kernel"), py::arg("out"), py::arg("anchor"), py::arg("mode"),
        py::arg("cval"), py::arg("n_threads"),
        "out = correlate(x, kernel) over (N, H, W, C) images; anchor = kernel element over each pixel.");
  m.def("filter2d_separable", &filter2d_separable, py::arg("x"), py::arg("row"), py::arg("col"), py::arg("out"),
        py::arg("anchor"), py::arg("mode"), py::arg("cval"), py::arg("n_threads"),
        "out = correlate(x, outer(col, row)) as a row pass and a column pass.");
}

}  // namespace kk::bindings
