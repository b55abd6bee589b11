// kernelkit._core.gram_matvec / gram_rows: kernel sums and rows of K without the whole matrix.
#include "bindings.hpp"
#include "kernelkit/gram_sum_driver.hpp"

namespace kk::bindings {
namespace {

// X (n x d) and the optional Y (m x d, m = n for None) of one element type, checked.
template <class T>
struct Operands {
  const T* x;
  const T* y;
  std::int64_t n, m, d;
  py::array y_array;  // holds Y while its data is used
};

template <class T>
Operands<T> operands(const py::array& x, const py::object& y) {
  Operands<T> o{nullptr, nullptr, x.shape(0), x.shape(0), x.shape(1), {}};
  check_array<T>(x, "X", o.n, o.d, false);
  o.x = static_cast<const T*>(x.data());
  o.y = optional_rows<T>(y, o.d, o.m, o.y_array);
  return o;
}

void gram_matvec(GramKind kind, const py::array& x, const py::object& y, const py::array& v, py::array& out,
                 const std::vector<double>& values, int n_threads) {
  const GramParams params = gram_params(kind, x, values, n_threads);
  for_element_type(x, [&](auto element) {
    using T = decltype(element);
    const Operands<T> o = operands<T>(x, y);
    const std::int64_t k = v.ndim() == 2 ? v.shape(1) : -1;
    check_array<double>(v, "v", o.m, k, false);
    check_array<double>(out, "out", o.n, k, true);
    const double* v_data = static_cast<const double*>(v.data());
    double* out_data = static_cast<double*>(out.mutable_data());
    const WithoutGil without_gil;
    compute_gram_matvec<T>(params, o.x, o.n, o.y, o.m, o.d, v_data, k, out_data);
  });
}

void gram_rows(GramKind kind, const py::array& x, const py::array& rows, const py::object& y, py::array& out,
               const std::vector<double>& values, int n_threads) {
  const GramParams params = gram_params(kind, x, values, n_threads);
  for_element_type(x, [&](auto element) {
    using T = decltype(element);
    const Operands<T> o = operands<T>(x, y);
    require(has_dtype<std::int64_t>(rows) && is_c_contiguous(rows) && rows.ndim() == 1,
            "rows: expected a C-contiguous 1-D int64 array");
    const std::int64_t count = rows.shape(0);
    const auto* index = static_cast<const std::int64_t*>(rows.data());
    for (std::int64_t r = 0; r < count; ++r) require(index[r] >= 0 && index[r] < o.n, "rows: index out of range");
    check_array<T>(out, "out", count, o.m, true);
    T* out_data = static_cast<T*>(out.mutable_data());
    const WithoutGil without_gil;
    compute_gram_rows<T>(params, o.x, o.n, index, count, o.y, o.m, o.d, out_data);
  });
}

}  // namespace

void register_gram_sums(py::module_& m) {
  m.def("gram_matvec", &gram_matvec, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("v"), py::arg("out"),
        py::arg("params"), py::arg("n_threads"),
        "out = K(x, y) @ v (v and out float64, 2-D) without forming K, the parameters as gram's; y=None means y = x.");
  m.def("gram_rows", &gram_rows, py::arg("kind"), py::arg("x"), py::arg("rows"), py::arg("y"), py::arg("out"),
        py::arg("params"), py::arg("n_threads"),
        "out = K(x, y)[rows] without forming K; y=None means y = x.");
}

}  // namespace kk::bindings
