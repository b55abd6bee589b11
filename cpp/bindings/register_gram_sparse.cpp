// kernelkit._core.gram_sparse, gram_sparse_rows, gram_sparse_matvec: the Gram kernels, rows of K and
// kernel sums where X, Y or both are compressed sparse rows.
#include <algorithm>
#include <cstdint>
#include <type_traits>

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

// Every index in [0, d), strictly ascending within each row: one pass over the whole array (a
// loop per row, over a TF-IDF row's hundred values, took 20 % of linear_kernel's time against a
// few rows), counting the indices outside and the descents, less the descents at the first value
// of a row (where a row may start below its predecessor's last index).
bool indices_ascend_in_range(const i64* starts, const i64* index, i64 rows, i64 d) {
  const auto outside = [d](i64 k) { return static_cast<std::uint64_t>(k) >= static_cast<std::uint64_t>(d); };
  const i64 nnz = starts[rows];
  i64 outside_count = nnz > 0 && outside(index[0]), descents = 0;
  for (i64 p = 1; p < nnz; ++p) {
    outside_count += outside(index[p]);
    descents += index[p - 1] >= index[p];
  }
  for (i64 i = 0; i < rows; ++i) {
    const i64 first = starts[i];
    if (first > 0 && first < starts[i + 1]) descents -= index[first - 1] >= index[first];
  }
  return outside_count == 0 && descents == 0;
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
  // indptr first, so that the index loops stay inside the arrays.
  bool monotone = true;
  for (i64 i = 0; i < rows; ++i) monotone &= starts[i] <= starts[i + 1];
  require(monotone, std::string(name) + ": indptr must be non-decreasing");
  require(indices_ascend_in_range(starts, index, rows, d),
          std::string(name) + ": indices must ascend within each row and lie in [0, n_features)");
  return {values, index, starts, rows};
}

// X and, unless Y is None (Y = X), Y of one call, at least one of them sparse.
template <class T>
struct SparseOperands {
  using Element = T;
  GramOperand<T> x, y;
  bool symmetric;
  const GramOperand<T>* y_or_null() const { return symmetric ? nullptr : &y; }
  i64 m() const { return symmetric ? x.rows : y.rows; }
};

template <class T>
SparseOperands<T> sparse_operands(const py::object& x, const py::object& y, i64 d) {
  SparseOperands<T> o{operand<T>(x, "X", d), {}, y.is_none()};
  if (!o.symmetric) o.y = operand<T>(y, "Y", d);
  require(o.x.sparse() || (!o.symmetric && o.y.sparse()), "X, Y: at least one operand must be sparse");
  return o;
}

GramParams sparse_params(GramKind kind, i64 n_features, const std::vector<double>& values, int n_threads) {
  require(n_features >= 1, "n_features: at least one feature is required");
  require(n_threads >= 1, "n_threads: must be >= 1");
  require(values.size() <= std::size_t(kMaxGramParams), "params: too many values for this kernel");
  GramParams params{kind, {}, n_threads};
  std::copy(values.begin(), values.end(), params.values);
  return params;
}

// body(operands) with X and Y read as X's element type (its array's, or its data's for (data,
// indices, indptr)), float32 or float64.
template <class Body>
void with_sparse_operands(const py::object& x, const py::object& y, i64 d, const Body& body) {
  const bool csr = py::isinstance<py::tuple>(x) && py::len(x) == 3;
  const py::object values = csr ? py::object(x.cast<py::tuple>()[0]) : x;
  require(py::isinstance<py::array>(values), "X: expected an array or (data, indices, indptr)");
  for_element_type(values.cast<py::array>(),
                   [&](auto element) { body(sparse_operands<decltype(element)>(x, y, d)); });
}

void gram_sparse(GramKind kind, const py::object& x, const py::object& y, py::array& out, i64 n_features,
                 const std::vector<double>& values, int n_threads) {
  const GramParams params = sparse_params(kind, n_features, values, n_threads);
  with_sparse_operands(x, y, n_features, [&](const auto& o) {
    using T = typename std::decay_t<decltype(o)>::Element;
    check_array<T>(out, "out", o.x.rows, o.m(), true);
    T* out_data = static_cast<T*>(out.mutable_data());
    const WithoutGil without_gil;
    compute_sparse_gram<T>(params, o.x, o.y_or_null(), n_features, out_data);
  });
}

void gram_sparse_rows(GramKind kind, const py::object& x, const py::array& rows, const py::object& y, py::array& out,
                      i64 n_features, const std::vector<double>& values, int n_threads) {
  const GramParams params = sparse_params(kind, n_features, values, n_threads);
  with_sparse_operands(x, y, n_features, [&](const auto& o) {
    using T = typename std::decay_t<decltype(o)>::Element;
    const i64 count = rows.ndim() == 1 ? rows.shape(0) : -1;
    const i64* index = vector_data<i64>(rows, "rows");
    for (i64 r = 0; r < count; ++r) require(index[r] >= 0 && index[r] < o.x.rows, "rows: index out of range");
    check_array<T>(out, "out", count, o.m(), true);
    T* out_data = static_cast<T*>(out.mutable_data());
    const WithoutGil without_gil;
    compute_sparse_gram_rows<T>(params, o.x, RowSelection{index, 0, count}, o.y_or_null(), n_features, out_data);
  });
}

void gram_sparse_matvec(GramKind kind, const py::object& x, const py::object& y, const py::array& v, py::array& out,
                        i64 n_features, const std::vector<double>& values, int n_threads) {
  const GramParams params = sparse_params(kind, n_features, values, n_threads);
  with_sparse_operands(x, y, n_features, [&](const auto& o) {
    using T = typename std::decay_t<decltype(o)>::Element;
    const i64 k = v.ndim() == 2 ? v.shape(1) : -1;
    check_array<double>(v, "v", o.m(), k, false);
    check_array<double>(out, "out", o.x.rows, k, true);
    const double* v_data = static_cast<const double*>(v.data());
    double* out_data = static_cast<double*>(out.mutable_data());
    const WithoutGil without_gil;
    compute_sparse_gram_matvec<T>(params, o.x, o.y_or_null(), n_features, v_data, k, out_data);
  });
}

}  // namespace

void register_gram_sparse(py::module_& m) {
  m.def("gram_sparse", &gram_sparse, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("out"),
        py::arg("n_features"), py::arg("params"), py::arg("n_threads"),
        "out = K(x, y) for the named kernel, x and y dense arrays or CSR (data, indices, indptr) "
        "tuples, at least one sparse; y=None computes the symmetric K(x, x).");
  m.def("gram_sparse_rows", &gram_sparse_rows, py::arg("kind"), py::arg("x"), py::arg("rows"), py::arg("y"),
        py::arg("out"), py::arg("n_features"), py::arg("params"), py::arg("n_threads"),
        "out = K(x, y)[rows] (rows int64, each in [0, len(x))) without the other rows, operands as "
        "gram_sparse's.");
  m.def("gram_sparse_matvec", &gram_sparse_matvec, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("v"),
        py::arg("out"), py::arg("n_features"), py::arg("params"), py::arg("n_threads"),
        "out = K(x, y) @ v (v and out float64, 2-D) without forming K, operands as gram_sparse's.");
}

}  // namespace kk::bindings
