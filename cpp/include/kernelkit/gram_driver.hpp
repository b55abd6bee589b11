// Entry points of the Gram-matrix driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>
#include <vector>

#include "kernelkit/gram.hpp"

namespace kk {

struct GramParams {
  GramKind kind;
  // The kernel's parameters in gram_kernels.def's order.
  double values[kMaxGramParams] = {};
  int n_threads = 1;
};

// out (n x m, row stride m) = K(x, y); y == nullptr means Y = X, computed as one exactly symmetric
// triangle (then m == n).
template <class T>
void compute_gram(const GramParams& params, const T* x, std::int64_t n, const T* y, std::int64_t m,
                  std::int64_t d, T* out);

// The rows of X a block of K is asked for: `count` rows from `first` on, or index[0:count] when
// index is not null.
struct RowSelection {
  const std::int64_t* index;
  std::int64_t first, count;
  std::int64_t operator[](std::int64_t r) const { return index != nullptr ? index[r] : first + r; }
};

// X and Y as the tile kernels read them (centre, per-row terms, rescaled rows: computed once, on
// params.n_threads threads), for callers that need K(X, Y) block by block without the whole matrix
// (kernel sums, single rows). y == nullptr means Y = X (its diagonal then is exact, as in
// compute_gram). Not copyable: the problem points into the vectors.
template <class T>
class GramOperands {
 public:
  GramOperands(const GramParams& params, const T* x, std::int64_t n, const T* y, std::int64_t m, std::int64_t d);
  GramOperands(const GramOperands&) = delete;
  GramOperands& operator=(const GramOperands&) = delete;

  const GramProblem<T>& problem() const { return p_; }

  // Scratch one thread needs for block() with up to `gathered_rows` rows given by an index (0: only
  // contiguous rows): the tile kernel's, and the gathered rows.
  std::size_t block_scratch_bytes(std::int64_t gathered_rows) const;
  // The most rows (and columns) one block() may have.
  std::int64_t block_rows() const;

  // out[r, j - j0] (row stride ldo) = K(x_rows[r], y_j) for j in [j0, j1), with the exact diagonal
  // and the rows the fast form cannot give (Inf, NaN, near-overflow) recomputed as compute_gram
  // does. At most block_rows() rows and columns. Runs on the calling thread only.
  void block(RowSelection rows, std::int64_t j0, std::int64_t j1, T* out, std::int64_t ldo, void* scratch) const;

 private:
  double values_[kMaxGramParams];  // the parameters p_ points to
  GramProblem<T> p_;
  bool symmetric_;
  std::vector<T> centre_, x_terms_, y_terms_, x_scaled_, y_scaled_;
};

}  // namespace kk
