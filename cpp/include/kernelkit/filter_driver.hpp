// Entry points of the filter2d driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

namespace kk {

// scipy.ndimage's boundary modes (its extension rules, repeated for kernels larger than the image).
enum class BoundaryMode : int { reflect = 0, constant = 1, nearest = 2, mirror = 3, wrap = 4 };

struct FilterShape {
  std::int64_t n, h, w, c;          // images (N, H, W, C); channels are filtered independently
  std::int64_t kh, kw;              // kernel rows and columns
  std::int64_t anchor_y, anchor_x;  // the kernel element over the output pixel (kh / 2 + origin)
  BoundaryMode mode;
  double cval;  // the value outside the image for BoundaryMode::constant
};

// out = correlate(x, kernel), kernel (kh, kw) row-major. As scipy.ndimage does, taps with
// |weight| <= DBL_EPSILON are left out (so a NaN under a zero weight does not spread); NaN
// weights are kept.
template <class T>
void compute_filter2d(const FilterShape& s, const T* x, const double* kernel, T* out, int n_threads);

// out = correlate(x, outer(col, row)) as a row pass and a column pass; col has kh, row kw weights.
template <class T>
void compute_filter2d_separable(const FilterShape& s, const T* x, const double* row, const double* col, T* out,
                                int n_threads);

}  // namespace kk
