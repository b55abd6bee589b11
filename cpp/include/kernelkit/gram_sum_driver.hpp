// Kernel sums K(X, Y) . v and selected rows of K, computed block by block from the Gram kernels
// without the n x m matrix. Arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

#include "kernelkit/gram_driver.hpp"

namespace kk {

// out (n x k) = K(x, y) . v, v being m x k (float64, as out): each block of K is multiplied into
// float64 sums while it is in cache. y == nullptr means Y = X. The order of the sums depends on the
// shapes only, never on the thread count: results are the same for every n_threads.
template <class T>
void compute_gram_matvec(const GramParams& params, const T* x, std::int64_t n, const T* y, std::int64_t m,
                         std::int64_t d, const double* v, std::int64_t k, double* out);

// out (count x m, row stride m) = K(x, y)[rows]: the rows of K for the rows of x that `rows` names
// (each in [0, n)). y == nullptr means Y = X (with its exact diagonal, as compute_gram's).
template <class T>
void compute_gram_rows(const GramParams& params, const T* x, std::int64_t n, const std::int64_t* rows,
                       std::int64_t count, const T* y, std::int64_t m, std::int64_t d, T* out);

}  // namespace kk
