// Depthwise convolution (groups == channels, one output channel per input channel): memory-bound, so
// it is one pass that vectorises over output pixels of a plane (NCHW) or over channels (NHWC), with
// bias and activation fused into the store. Compiled once per instruction set into kk::<isa>.
#include "kernelkit/conv.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/activation.hpp"
#include "kernelkit/microkernel.hpp"

namespace kk {
namespace KK_ISA {
namespace {

// V vectors of output pixels of one row from the zero-padded plane (row pitch pw, src at the strip's
// first tap), every tap accumulated in registers; stored straight into the output row, or through a
// staging strip when only `columns` (< V lanes) of them are in the row.
template <class T, int V>
KK_ALWAYS_INLINE inline void depthwise_strip(const ConvProblem<T>& p, const T* src, i64 pw, const T* wk, T bias,
                                             T* dst, i64 columns) {
  constexpr int W = lanes<T>;
  vec<T> acc[1][V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[0][v] = splat<T>(bias);
  for (i64 ky = 0; ky < p.kh; ++ky) {
    const T* row = src + ky * p.dh * pw;
    for (i64 kx = 0; kx < p.kw; ++kx) {
      const vec<T> wv = splat<T>(wk[ky * p.kw + kx]);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[0][v] = wv * load<T>(row + kx * p.dw + v * W) + acc[0][v];
    }
  }
  T staging[V * W];
  store_activated<T, 1, V>(acc, p.activation, p.alpha, dst, 0, 1, columns, staging);
}

// NCHW, stride 1 along rows: the plane is first copied into a zero-padded buffer so that every tap is
// a plain vector load, then each strip of output pixels accumulates all taps in registers.
template <class T>
void depthwise_plane_unit_stride(const ConvProblem<T>& p, i64 image, i64 ch, T* padded) {
  constexpr int W = lanes<T>;
  constexpr int V = 4;  // vectors per strip
  const i64 pw = p.ow + (p.kw - 1) * p.dw + V * W;  // room for a whole last strip
  const i64 ph = input_rows_spanned(p, p.oh);
  const T* x = p.x + (image * p.c + ch) * p.h * p.w;
  for (i64 y = 0; y < ph; ++y) {
    const i64 iy = y - p.pad_top;
    T* dst = padded + y * pw;
    // Input columns [0, columns) land at dst[pad_left:].
    const i64 columns = iy < 0 || iy >= p.h ? 0 : min_i64(p.w, pw - p.pad_left);
    const i64 lead = columns > 0 ? p.pad_left : pw;
    std::memset(dst, 0, sizeof(T) * lead);
    if (columns <= 0) continue;
    std::memcpy(dst + lead, x + iy * p.w, sizeof(T) * columns);
    std::memset(dst + lead + columns, 0, sizeof(T) * (pw - lead - columns));
  }
  const T* wk = p.packed_weights + ch * p.kh * p.kw;
  const T bias = p.packed_bias != nullptr ? p.packed_bias[ch] : T(0);
  T* out = p.out + (image * p.o + ch) * p.oh * p.ow;
  for (i64 oy = 0; oy < p.oh; ++oy) {
    const T* src = padded + oy * p.sh * pw;
    T* dst = out + oy * p.ow;
    i64 ox = 0;
    for (; ox + V * W <= p.ow; ox += V * W) depthwise_strip<T, V>(p, src + ox, pw, wk, bias, dst + ox, V * W);
    if (ox < p.ow)
      narrowest_strip<V>(ceil_div(p.ow - ox, W), [&](auto vectors) {
        depthwise_strip<T, decltype(vectors)::value>(p, src + ox, pw, wk, bias, dst + ox, p.ow - ox);
      });
  }
}

// NCHW, any stride: one output row at a time in a row accumulator.
template <class T>
void depthwise_plane(const ConvProblem<T>& p, i64 image, i64 ch, T* row) {
  const T* x = p.x + (image * p.c + ch) * p.h * p.w;
  const T* wk = p.packed_weights + ch * p.kh * p.kw;
  const T bias = p.packed_bias != nullptr ? p.packed_bias[ch] : T(0);
  T* out = p.out + (image * p.o + ch) * p.oh * p.ow;
  for (i64 oy = 0; oy < p.oh; ++oy) {
    for (i64 ox = 0; ox < p.ow; ++ox) row[ox] = bias;
    for (i64 ky = 0; ky < p.kh; ++ky) {
      const i64 iy = oy * p.sh - p.pad_top + ky * p.dh;
      if (iy < 0 || iy >= p.h) continue;
      const T* xrow = x + iy * p.w;
      for (i64 kx = 0; kx < p.kw; ++kx) {
        const T wv = wk[ky * p.kw + kx];
        const i64 offset = kx * p.dw - p.pad_left;
        i64 lo, hi;
        valid_columns(offset, p.sw, p.w, p.ow, lo, hi);
        if (p.sw == 1) {
          const T* src = xrow + offset;
          for (i64 ox = lo; ox < hi; ++ox) row[ox] += wv * src[ox];
        } else {
          for (i64 ox = lo; ox < hi; ++ox) row[ox] += wv * xrow[ox * p.sw + offset];
        }
      }
    }
    T* dst = out + oy * p.ow;
    for (i64 ox = 0; ox < p.ow; ++ox) dst[ox] = activate_scalar(row[ox], p.activation, p.alpha);
  }
}

// NHWC, one output pixel: channels [ch, ch + V vectors) accumulate the in-image taps
// [ky0, ky1) x [kx0, kx1) in registers (`first`: the element offset in x of the pixel's first tap,
// which may lie outside the image).
template <class T, int V>
KK_ALWAYS_INLINE inline void depthwise_pixel_block(const ConvProblem<T>& p, const T* x, i64 first, i64 ky0, i64 ky1,
                                                   i64 kx0, i64 kx1, i64 ch, T* dst) {
  constexpr int W = lanes<T>;
  const i64 c = p.c;
  vec<T> acc[1][V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v)
    acc[0][v] = p.packed_bias != nullptr ? load<T>(p.packed_bias + ch + v * W) : splat<T>(T(0));
  for (i64 ky = ky0; ky < ky1; ++ky)
    for (i64 kx = kx0; kx < kx1; ++kx) {
      const T* src = x + first + ((ky * p.dh) * p.w + kx * p.dw) * c + ch;
      const T* wk = p.packed_weights + (ky * p.kw + kx) * c + ch;
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[0][v] = load<T>(wk + v * W) * load<T>(src + v * W) + acc[0][v];
    }
  store_activated<T, 1, V>(acc, p.activation, p.alpha, dst + ch, 0, 1, V * W, nullptr);  // always whole
}

// NHWC: output row `oy` of image `image`. Channels are contiguous, so each output pixel is blocks
// of channel vectors with every tap in registers, then the channels left over one by one.
template <class T>
void depthwise_row_nhwc(const ConvProblem<T>& p, i64 image, i64 oy) {
  constexpr int W = lanes<T>;
  constexpr int V = 4;
  const i64 c = p.c;
  const T* x = p.x + image * p.h * p.w * c;
  T* out = p.out + (image * p.oh + oy) * p.ow * c;
  const i64 iy0 = oy * p.sh - p.pad_top;
  i64 ky0, ky1;  // taps whose input row iy0 + ky * dh lies inside the image
  valid_columns(iy0, p.dh, p.h, p.kh, ky0, ky1);
  for (i64 ox = 0; ox < p.ow; ++ox) {
    const i64 ix0 = ox * p.sw - p.pad_left;
    i64 kx0, kx1;
    valid_columns(ix0, p.dw, p.w, p.kw, kx0, kx1);
    const i64 first = (iy0 * p.w + ix0) * c;
    T* dst = out + ox * c;
    i64 ch = 0;
    for (; ch + V * W <= c; ch += V * W) depthwise_pixel_block<T, V>(p, x, first, ky0, ky1, kx0, kx1, ch, dst);
    for (; ch + W <= c; ch += W) depthwise_pixel_block<T, 1>(p, x, first, ky0, ky1, kx0, kx1, ch, dst);
    for (; ch < c; ++ch) {
      T acc = p.packed_bias != nullptr ? p.packed_bias[ch] : T(0);
      for (i64 ky = ky0; ky < ky1; ++ky)
        for (i64 kx = kx0; kx < kx1; ++kx)
          acc += p.packed_weights[(ky * p.kw + kx) * c + ch] * x[first + ((ky * p.dh) * p.w + kx * p.dw) * c + ch];
      dst[ch] = activate_scalar(acc, p.activation, p.alpha);
    }
  }
}

// One task: a plane (NCHW: image * C + channel) or an output row (NHWC: image * OH + row).
template <class T>
void depthwise_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  T* buffer = static_cast<T*>(scratch);
  if (p.nhwc) return depthwise_row_nhwc<T>(p, task / p.oh, task % p.oh);
  if (p.sw == 1) return depthwise_plane_unit_stride<T>(p, task / p.c, task % p.c, buffer);
  depthwise_plane<T>(p, task / p.c, task % p.c, buffer);
}

}  // namespace

void fill_depthwise_entries(KernelTable& table) {
  table.depthwise_f32 = &depthwise_task<float>;
  table.depthwise_f64 = &depthwise_task<double>;
}

}  // namespace KK_ISA
}  // namespace kk
