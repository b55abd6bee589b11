// Entry point of the convolution driver: arrays already validated and C-contiguous.
#pragma once
#include <cstdint>

#include "kernelkit/conv.hpp"

namespace kk {

struct ConvShape {
  std::int64_t n, c, h, w;          // input (layout given by nhwc)
  std::int64_t groups, o, kh, kw;
  std::int64_t sh, sw, dh, dw;
  std::int64_t pad_top, pad_bottom, pad_left, pad_right;
  bool nhwc;
  std::int64_t out_h() const { return (h + pad_top + pad_bottom - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t out_w() const { return (w + pad_left + pad_right - dw * (kw - 1) - 1) / sw + 1; }
};

// The weights as the caller holds them, C-contiguous OIHW (O, C/groups, KH, KW) or HWIO (KH, KW,
// C/groups, O), read through strides, so that no layout copy is made before they are packed.
template <class T>
struct WeightView {
  const T* data;
  std::int64_t group, out, in, row, col;  // element strides

  WeightView(const T* w, bool hwio, const ConvShape& s) : data(w) {
    const std::int64_t cg = s.c / s.groups, og = s.o / s.groups;
    out = hwio ? 1 : cg * s.kh * s.kw;
    in = hwio ? s.o : s.kh * s.kw;
    col = hwio ? cg * s.o : 1;
    row = hwio ? s.kw * col : s.kw;
    group = og * out;
  }
  // Output channel oc and input channel ci of group g at kernel position (ky, kx).
  T at(std::int64_t g, std::int64_t oc, std::int64_t ci, std::int64_t ky, std::int64_t kx) const {
    return data[g * group + oc * out + ci * in + ky * row + kx * col];
  }
};

template <class T>
void compute_conv2d(const ConvShape& s, const T* x, const WeightView<T>& weights, const T* bias, T* out,
                    Activation act, double alpha, int n_threads);

}  // namespace kk
