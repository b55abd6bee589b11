// Entry point of the Gram-matrix driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

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

}  // namespace kk
