// Entry point of the pooling driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

#include "kernelkit/pool.hpp"

namespace kk {

struct PoolShape {
  std::int64_t n, c, h, w;             // input images; NCHW or NHWC as `channels_last` says
  std::int64_t oh, ow;                 // output rows and columns
  std::int64_t kh, kw, sh, sw, dh, dw;  // window, stride, dilation
  std::int64_t pad_top, pad_left;      // output (0, 0)'s window starts at (-pad_top, -pad_left)
  // An average divides by the window's elements inside the input extended by these (the explicit
  // padding, ONNX's count_include_pad; 0 to count the input's elements only).
  std::int64_t count_top, count_bottom, count_left, count_right;
  PoolKind kind;
  bool channels_last;
};

// Max or average pooling; windows that lie wholly in the padding give -inf (max) or NaN (average
// of nothing), which the Python layer's output sizes never ask for.
template <class T>
void compute_pool2d(const PoolShape& s, const T* x, T* out, int n_threads);

}  // namespace kk
