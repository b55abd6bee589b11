// kernelkit._core.gram_sparse: the Gram kernels where X, Y or both are compressed sparse rows.
#include <algorithm>

#include "bindings.hpp"
#include "kernelkit/gram_sparse.hpp"

namespace kk::bindings {
namespace {

using i64 = std::int64_t;

template <class T>
const T* vector_data(const py::array& a, const char* name) {
  require(a.ndim() == 1 && is_c_contiguous(a), std::string(name) + ": expected a contiguous 1-D array");
  require(has_dtype<T>(a), std::string(name) + ": wrong dtype");
  return static_cast<const T*>(a.data());
}

// A dense operand (a 2-D array with d columns) or a sparse one, (data, indices, indptr) of CSR with
// indices ascending within each row and inside [0, d): anything else could read out of bounds.
template <class T>
GramOperand<T> operand(const py::object& o, const char* name, i64 d) {
  if (py::isinstance<py::array>(o)) {
    const auto a = o.cast<py::array>();
    require(a.ndim() == 2, std::string(name) + ": expected a 2-D array");
    check_array<T>(a, name, a.shape(0), d, false);
    return {static_cast<const T*>(a.data()), nullptr, nullptr, a.shape(0)};
  }
  require(py::isinstance<py::tuple>(o) && py::len(o) == 3, std::string(name) + ": expected an array or (data, indices, indptr)");
  const auto parts = o.cast<py::tuple>();
  const auto data = parts[0].cast<py::array>(), indices = parts[1].cast<py::array>(), indptr = parts[2].cast<py::array>();
  const T* values = vector_data<T>(data, name);
  const i64* index = vector_data<i64>(indices, name);
  const i64* starts = vector_data<i64>(indptr, name);
  const i64 rows = indptr.shape(0) - 1;
  require(rows >= 0 && starts[0] == 0 && starts[rows] == data.shape(0) && indices.shape(0) == data.shape(0),
          std::string(name) + ": indptr does not match data and indices");
  bool ascending = true, in_range = true, monotone = true;
  for (i64 i = 0; i < rows; ++i) {
    monotone = monotone && starts[i] <= starts[i + 1];
    for (i64 p = monotone ? starts[i] : 0; monotone && p < starts[i + 1]; ++p) {
      in_range = in_range && index[p] >= 0 && index[p] < d;
      ascending = ascending && (p == starts[i] || index[p - 1] < index[p]);
    }
  }
  require(monotone, std::string(name) + ": indptr must be non-decreasing");
  require(in_range && ascending,
          std::string(name) + ": indices must ascend within each row and lie in [0, n_features)");
  return {values, index, starts, rows};
}

template <class T>
void gram_sparse_typed(const GramParams& params, const py::object& x, const py::object& y, py::array& out, i64 d) {
  const GramOperand<T> xo = operand<T>(x, "X", d);
  GramOperand<T> yo{};
  if (!y.is_none()) yo = operand<T>(y, "Y", d);
  require(xo.sparse() || (!y.is_none() && yo.sparse()), "X, Y: at least one operand must be sparse");
  check_array<T>(out, "out", xo.rows, y.is_none() ? xo.rows : yo.rows, true);
  T* out_data = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release release;
  compute_sparse_gram<T>(params, xo, y.is_none() ? nullptr : &yo, d, out_data);
}

void gram_sparse(GramKind kind, const py::object& x, const py::object& y, py::array& out, i64 n_features,
                 const std::vector<double>& values, int n_threads) {
  require(n_features >= 1, "n_features: at least one feature is required");
  require(n_threads >= 1, "n_threads: must be >= 1");
  require(values.size() <= std::size_t(kMaxGramParams), "params: too many values for this kernel");
  GramParams params{kind, {}, n_threads};
  std::copy(values.begin(), values.end(), params.values);
  if (has_dtype<float>(out)) return gram_sparse_typed<float>(params, x, y, out, n_features);
  if (has_dtype<double>(out)) return gram_sparse_typed<double>(params, x, y, out, n_features);
  throw py::type_error("out: dtype must be float32 or float64");
}

}  // namespace

void register_gram_sparse(py::module_& m) {
  m.def("gram_sparse", &gram_sparse, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("out"),
        py::arg("n_features"), py::arg("params"), py::arg("n_threads"),
        "out = K(x, y) for the named kernel, x and y dense arrays or CSR (data, indices, indptr) "
        "tuples, at least one sparse; y=None computes the symmetric K(x, x).");
}

}  // namespace kk::bindings
