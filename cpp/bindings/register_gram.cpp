// kernelkit._core.gram: one entry for every Gram kernel, dtype chosen by the input.
#include <map>

#include "bindings.hpp"
#include "kernelkit/gram_driver.hpp"

namespace kk::bindings {
namespace {

GramKind kind_from_name(const std::string& name) {
  static const std::map<std::string, GramKind> kinds = {
      {"linear", GramKind::linear},       {"polynomial", GramKind::polynomial},
      {"rbf", GramKind::rbf},             {"sigmoid", GramKind::sigmoid},
      {"cosine", GramKind::cosine},       {"laplacian", GramKind::laplacian},
      {"chi2", GramKind::chi2},           {"additive_chi2", GramKind::additive_chi2},
  };
  const auto it = kinds.find(name);
  require(it != kinds.end(), "kind: unknown Gram kernel '" + name + "'");
  return it->second;
}

template <class T>
void gram_typed(const GramParams& params, const py::array& x, const py::object& y, py::array& out) {
  const std::int64_t n = x.shape(0), d = x.shape(1);
  check_array<T>(x, "X", n, d, false);
  const T* y_data = nullptr;
  std::int64_t m = n;
  py::array ya;  // outlives the computation below
  if (!y.is_none()) {
    require(py::isinstance<py::array>(y), "Y: expected a numpy array or None");
    ya = y.cast<py::array>();
    m = ya.ndim() == 2 ? ya.shape(0) : -1;
    check_array<T>(ya, "Y", m, d, false);
    y_data = static_cast<const T*>(ya.data());
  }
  check_array<T>(out, "out", n, m, true);
  const T* x_data = static_cast<const T*>(x.data());
  T* out_data = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release release;
  compute_gram<T>(params, x_data, n, y_data, m, d, out_data);
}

void gram(const std::string& kind, const py::array& x, const py::object& y, py::array& out, double gamma,
          double coef0, double degree, int n_threads) {
  require(x.ndim() == 2 && x.shape(1) >= 1, "X: expected a 2-D array with at least one feature");
  require(n_threads >= 1, "n_threads: must be >= 1");
  const GramParams params{kind_from_name(kind), gamma, coef0, degree, n_threads};
  if (has_dtype<float>(x)) return gram_typed<float>(params, x, y, out);
  if (has_dtype<double>(x)) return gram_typed<double>(params, x, y, out);
  throw py::type_error("X: dtype must be float32 or float64");
}

}  // namespace

void register_gram(py::module_& m) {
  m.def("gram", &gram, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("out"), py::arg("gamma"),
        py::arg("coef0"), py::arg("degree"), py::arg("n_threads"),
        "out = K(x, y) for the named kernel; y=None computes the symmetric K(x, x).");
}

}  // namespace kk::bindings
