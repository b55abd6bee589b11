// The one header every register_*.cpp includes: pybind11 plus the helpers shared by the bindings.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernelkit/gram_driver.hpp"
#include "kernelkit/parallel.hpp"

namespace py = pybind11;

namespace kk::bindings {

void register_config(py::module_& m);
void register_gram(py::module_& m);
void register_gram_sums(py::module_& m);
void register_gram_sparse(py::module_& m);
void register_conv(py::module_& m);
void register_filter(py::module_& m);
void register_pool(py::module_& m);
void register_math(py::module_& m);

// The parameters of a Gram entry: `values` in gram_kernels.def's order for `kind`, after the checks
// every Gram entry makes of X, the values' count and n_threads (ValueError).
GramParams gram_params(GramKind kind, const py::array& x, const std::vector<double>& values, int n_threads);

// Held around the computing part of every entry: the GIL released, and one interrupt-check clock
// for the whole call (see InterruptibleCall).
struct WithoutGil {
  py::gil_scoped_release release;
  InterruptibleCall call;
};

// The bindings trust the Python layer for argument normalisation but still refuse anything that
// could make the C++ side read or write out of bounds.
template <class T>
bool has_dtype(const py::array& a) {
  return a.dtype().equal(py::dtype::of<T>());  // equal, not identical: '<f4' is float32 here too
}

inline bool is_c_contiguous(const py::array& a) {
  return (a.flags() & py::array::c_style) != 0;
}

inline void require(bool ok, const std::string& message) {
  if (!ok) throw py::value_error(message);
}

// A C-contiguous array of the expected dtype and shape, or ValueError naming `name`.
template <class T>
void check_array(const py::array& a, const char* name, std::int64_t rows, std::int64_t cols,
                 bool writeable) {
  require(has_dtype<T>(a), std::string(name) + ": wrong dtype");
  require(is_c_contiguous(a), std::string(name) + ": must be C-contiguous");
  require(a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols,
          std::string(name) + ": wrong shape");
  require(!writeable || a.writeable(), std::string(name) + ": must be writeable");
}

// Y of a Gram kernel: null for None (Y = X), else its data after checking it is m x d (m read from
// it); `keep` holds the array while the data is used.
template <class T>
const T* optional_rows(const py::object& y, std::int64_t d, std::int64_t& m, py::array& keep) {
  if (y.is_none()) return nullptr;
  require(py::isinstance<py::array>(y), "Y: expected a numpy array or None");
  keep = y.cast<py::array>();
  m = keep.ndim() == 2 ? keep.shape(0) : -1;
  check_array<T>(keep, "Y", m, d, false);
  return static_cast<const T*>(keep.data());
}

// body(T{}) for X's element type T (float32 or float64); TypeError for any other.
template <class Body>
void for_element_type(const py::array& x, const Body& body) {
  if (has_dtype<float>(x)) return body(float{});
  if (has_dtype<double>(x)) return body(double{});
  throw py::type_error("X: dtype must be float32 or float64");
}

}  // namespace kk::bindings
