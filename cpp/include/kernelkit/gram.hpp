// The Gram-matrix problem as the drivers hand it to the per-ISA kernels (ISA-independent, no code).
#pragma once
#include <cstdint>

namespace kk {

enum class GramKind : int {
  linear = 0,
  polynomial,
  rbf,
  sigmoid,
  cosine,
  laplacian,
  chi2,           // exp(gamma * additive_chi2)
  additive_chi2,  // -sum((x - y)^2 / (x + y))
};

// Everything a tile kernel needs to compute out[i0:i1, j0:j1] of K(X, Y) (and, with `mirror`, to
// write it to out[j, i] for j > i as well).
// X is n x d, Y is m x d, both C-contiguous; out is n x m with row stride ldo.
template <class T>
struct GramProblem {
  GramKind kind;
  const T* x;
  const T* y;
  std::int64_t n, m, d;
  T* out;
  std::int64_t ldo;
  // Per-feature centre subtracted from x and y while packing (rbf), or nullptr.
  const T* centre;
  // Per-row terms used by the epilogue: squared norms of the centred rows (rbf),
  // reciprocal norms (cosine); nullptr otherwise.
  const T* x_row_term;
  const T* y_row_term;
  double gamma, coef0, degree;
  // Write the result with streaming stores (it is much larger than the caches).
  bool stream_output;
};

template <class T>
using GramTileFn = void (*)(const GramProblem<T>&, std::int64_t i0, std::int64_t i1,
                            std::int64_t j0, std::int64_t j1, bool mirror, void* scratch);

}  // namespace kk
