// The operand side of a Gram matrix as the sparse driver takes it: rows stored densely or as
// compressed sparse rows. Entry points of that driver (cpp/src/gram_sparse_driver.cpp).
#pragma once
#include <cstdint>

#include "kernelkit/gram_driver.hpp"

namespace kk {

// `rows` rows of d features. Dense (indptr == nullptr): values is rows x d, C-contiguous. Sparse
// (CSR): row i holds values[p] at feature indices[p] for p in [indptr[i], indptr[i + 1]), indices
// strictly ascending within a row (so no duplicates); the features not listed are 0.
template <class T>
struct GramOperand {
  const T* values;
  const std::int64_t* indices;
  const std::int64_t* indptr;
  std::int64_t rows;
  bool sparse() const { return indptr != nullptr; }
};

// In all three, at least one operand is sparse, y == nullptr means Y = X (m = x.rows, with the exact
// diagonal), and values must be finite (the bindings' callers check).

// out (x.rows x m, row stride m) = K(x, y).
template <class T>
void compute_sparse_gram(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y,
                         std::int64_t d, T* out);

// out (rows.count x m, row stride m) = K(x, y)[rows], each selected row in [0, x.rows).
template <class T>
void compute_sparse_gram_rows(const GramParams& params, const GramOperand<T>& x, RowSelection rows,
                              const GramOperand<T>* y, std::int64_t d, T* out);

// out (x.rows x k) = K(x, y) . v, v being m x k (float64, as out), each row segment of K multiplied
// into float64 sums while it is in cache. The order of the sums depends on the shapes only, never
// on the thread count: results are the same for every n_threads.
template <class T>
void compute_sparse_gram_matvec(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y,
                                std::int64_t d, const double* v, std::int64_t k, double* out);

}  // namespace kk
