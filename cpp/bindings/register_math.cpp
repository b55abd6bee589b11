// kernelkit._core.vexp / vtanh: the kernels' vector math over whole arrays, so that tests can
// compare it with the C library over the full input range.
#include <vector>

#include "bindings.hpp"
#include "kernelkit/dispatch.hpp"
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
  py::gil_scoped_release release;
  fn(in, result, size);
  return dst;
}

// float32 stays float32; everything else is computed in float64.
template <class Entry32, class Entry64>
py::array dispatch_elementwise(const py::array& x, Entry32 entry32, Entry64 entry64) {
  if (has_dtype<float>(x)) return map_elementwise<float>(entry32(kernels()), x);
  return map_elementwise<double>(entry64(kernels()), x);
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
}

}  // namespace kk::bindings
