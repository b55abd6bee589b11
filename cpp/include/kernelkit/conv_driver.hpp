// Entry point of the convolution driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

#include "kernelkit/conv.hpp"

namespace kk {

struct ConvShape {
  std::int64_t n, c, h, w;          // input (layout given by nhwc)
  std::int64_t groups, o, kh, kw;   // weights given as (groups, kh, kw, c / groups, o / groups)
  std::int64_t sh, sw, dh, dw;
  std::int64_t pad_top, pad_bottom, pad_left, pad_right;
  bool nhwc;
  std::int64_t out_h() const { return (h + pad_top + pad_bottom - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t out_w() const { return (w + pad_left + pad_right - dw * (kw - 1) - 1) / sw + 1; }
};

template <class T>
void compute_conv2d(const ConvShape& s, const T* x, const T* weights, const T* bias, T* out, Activation act,
                    double alpha, int n_threads);

}  // namespace kk
