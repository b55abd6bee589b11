// kernelkit._core.gram: one entry for every Gram kernel, dtype chosen by the input; GramKind and
// gram_specs(), the kernels of gram_kernels.def as the Python layer builds its registries from them.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "kernelkit/gram_driver.hpp"

namespace kk::bindings {
namespace {

struct ParamSpec {
  GramKind kind;
  const char* name;
  double default_value, low, high;
  const char* closed;
  int flags;
};

struct KernelSpec {
  GramKind kind;
  const char* name;
  const char* function;
  GramForm form;
  const char* metrics;
  int flags;
};

constexpr KernelSpec kKernels[] = {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) \
  {GramKind::kind, #kind, function, GramForm::form, metrics, flags},
#include "kernelkit/gram_kernels.def"
};

constexpr ParamSpec kParams[] = {
#define KK_GRAM_PARAM(kind, name, default_value, low, high, closed, flags) \
  {GramKind::kind, #name, default_value, low, high, closed, flags},
#include "kernelkit/gram_kernels.def"
};

constexpr int param_count(GramKind kind) {
  int count = 0;
  for (const ParamSpec& p : kParams) count += p.kind == kind;
  return count;
}

constexpr bool params_fit() {
  for (const KernelSpec& k : kKernels)
    if (param_count(k.kind) > kMaxGramParams) return false;
  return true;
}
static_assert(params_fit(), "a kernel of gram_kernels.def has more parameters than kMaxGramParams");

py::dict param_dict(const ParamSpec& p) {
  py::dict d;
  d["name"] = p.name;
  d["default"] = (p.flags & kGramParamNone) != 0 ? py::object(py::none()) : py::object(py::float_(p.default_value));
  d["low"] = p.low;
  d["high"] = p.high;
  d["closed"] = p.closed;
  d["none_ok"] = (p.flags & kGramParamNone) != 0;
  d["array_ok"] = (p.flags & kGramParamArray) != 0;
  d["per_feature"] = (p.flags & kGramParamPerFeature) != 0;
  return d;
}

const char* form_name(GramForm form) {
  switch (form) {
    case GramForm::dot: return "dot";
    case GramForm::cosine: return "cosine";
    case GramForm::sq_distance: return "sq_distance";
    case GramForm::l1_distance: return "l1_distance";
    case GramForm::chi2_sum: return "chi2_sum";
  }
  return "";
}

py::list gram_specs() {
  py::list specs;
  for (const KernelSpec& k : kKernels) {
    py::list params;
    for (const ParamSpec& p : kParams)
      if (p.kind == k.kind) params.append(param_dict(p));
    py::dict d;
    d["kind"] = py::cast(k.kind);
    d["name"] = k.name;
    d["function"] = k.function;
    d["form"] = form_name(k.form);
    d["metrics"] = py::str(k.metrics).attr("split")();
    d["dense_output"] = (k.flags & kGramDenseOutput) != 0;
    d["nonnegative"] = (k.flags & kGramNonnegative) != 0;
    d["params"] = params;
    specs.append(d);
  }
  return specs;
}

template <class T>
void gram_typed(const GramParams& params, const py::array& x, const py::object& y, py::array& out) {
  const std::int64_t n = x.shape(0), d = x.shape(1);
  check_array<T>(x, "X", n, d, false);
  std::int64_t m = n;
  py::array ya;  // outlives the computation below
  const T* y_data = optional_rows<T>(y, d, m, ya);
  check_array<T>(out, "out", n, m, true);
  const T* x_data = static_cast<const T*>(x.data());
  T* out_data = static_cast<T*>(out.mutable_data());
  const WithoutGil without_gil;
  compute_gram<T>(params, x_data, n, y_data, m, d, out_data);
}

void gram(GramKind kind, const py::array& x, const py::object& y, py::array& out,
          const std::vector<double>& values, int n_threads) {
  const GramParams params = gram_params(kind, x, values, n_threads);
  for_element_type(x, [&](auto element) { gram_typed<decltype(element)>(params, x, y, out); });
}

}  // namespace

GramParams gram_params(GramKind kind, const py::array& x, const std::vector<double>& values, int n_threads) {
  require(x.ndim() == 2 && x.shape(1) >= 1, "X: expected a 2-D array with at least one feature");
  require(n_threads >= 1, "n_threads: must be >= 1");
  require(static_cast<int>(values.size()) == param_count(kind),
          "params: expected " + std::to_string(param_count(kind)) + " values for this kernel");
  GramParams params{kind, {}, n_threads};
  std::copy(values.begin(), values.end(), params.values);
  return params;
}

void register_gram(py::module_& m) {
  py::enum_<GramKind> kinds(m, "GramKind", "The compiled Gram kernels (gram_kernels.def).");
  for (const KernelSpec& k : kKernels) kinds.value(k.name, k.kind);
  m.def("gram_specs", &gram_specs,
        "Every Gram kernel as declared in gram_kernels.def: kind, function, form, metrics, flags and "
        "parameters (name, default, valid range, flags).");
  m.def("gram", &gram, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("out"), py::arg("params"),
        py::arg("n_threads"),
        "out = K(x, y) for the kernel `kind` with its parameters in gram_specs()'s order; y=None "
        "computes the symmetric K(x, x).");
}

}  // namespace kk::bindings
