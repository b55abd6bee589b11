// The operand side of a Gram matrix as the sparse driver takes it: rows stored densely or as
// compressed sparse rows. Entry point of that driver (cpp/src/gram_sparse_driver.cpp).
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

// out (x.rows x m, row stride m) = K(x, y), where at least one operand is sparse; y == nullptr
// means Y = X (then m == x.rows). Values must be finite (the bindings' callers check).
template <class T>
void compute_sparse_gram(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y,
                         std::int64_t d, T* out);

}  // namespace kk
