// The one header every register_*.cpp includes: pybind11 plus the helpers shared by the bindings.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>

namespace py = pybind11;

namespace kk::bindings {

void register_config(py::module_& m);
void register_gram(py::module_& m);
void register_conv(py::module_& m);
void register_filter(py::module_& m);
void register_pool(py::module_& m);
void register_math(py::module_& m);

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

}  // namespace kk::bindings
