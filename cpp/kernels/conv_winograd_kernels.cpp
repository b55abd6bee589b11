// Winograd convolution F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016; interpolation points 0, +-1, +-2 and infinity) for 3x3 layers with stride and
// dilation 1: every 4 x 4 tile of output pixels from the 6 x 6 inputs under it with 36 products per
// input and output channel instead of 144. One task, a block of tiles (of one or several images) x a
// range of output channels:
//   1. the input transform V = B^T d B of every tile and input channel, a vector of channels at a
//      time from channel-contiguous input (NHWC, or the driver's copy of NCHW images);
//   2. 36 independent GEMMs, one per transformed point: M[point] = V[point] (tiles x channels) x
//      U[point] (channels x output channels, the weights transformed once when they are packed),
//      by the shared register-tile micro-kernel;
//   3. the output transform Y = A^T M A, bias and activation, stored in NCHW or NHWC.
// The transforms add and subtract values of the tile, so one NaN or infinity in its input would
// spread over the whole tile (and Inf - Inf makes NaN); a tile whose transformed input is not finite
// is computed again directly, so that non-finite values reach exactly the outputs they reach in the
// direct convolution. Compiled once per instruction set into kk::<isa>; the plan (conv_plan.cpp)
// chooses Winograd and the driver (conv_driver.cpp) packs its weights.
#include <algorithm>

#include "kernelkit/activation.hpp"
#include "kernelkit/conv.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/microkernel.hpp"

namespace kk {
namespace KK_ISA {
namespace {

constexpr int kIn = int(kWinogradIn), kOut = int(kWinogradOut), kPoints = int(kWinogradPoints);

// r[0..5] (rs apart) = B^T d for d[0..5] (s apart).
template <class T>
KK_ALWAYS_INLINE inline void input_points(const vec<T>* d, int s, vec<T>* r, int rs) {
  const vec<T> d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
  const vec<T> a = d4 - T(4) * d2, b = d3 - T(4) * d1, c = d4 - d2, e = T(2) * (d3 - d1);
  r[0] = T(4) * d0 - T(5) * d2 + d4;
  r[rs] = a + b;
  r[2 * rs] = a - b;
  r[3 * rs] = c + e;
  r[4 * rs] = c - e;
  r[5 * rs] = T(4) * d1 - T(5) * d3 + d5;
}

// y[0..3] (ys apart) = A^T m for m[0..5] (s apart).
template <class T>
KK_ALWAYS_INLINE inline void output_points(const vec<T>* m, int s, vec<T>* y, int ys) {
  const vec<T> p = m[s] + m[2 * s], q = m[s] - m[2 * s], u = m[3 * s] + m[4 * s], w = m[3 * s] - m[4 * s];
  y[0] = m[0] + p + u;
  y[ys] = q + T(2) * w;
  y[2 * ys] = p + T(4) * u;
  y[3 * ys] = q + T(8) * w + m[5 * s];
}

// Where a task's tile lies: its first output pixel and its first (padded) input pixel.
struct TilePlace {
  i64 oy, ox, iy, ix;
  template <class T>
  TilePlace(const ConvProblem<T>& p, i64 tile) {
    const i64 across = ceil_div(p.ow, kOut);
    oy = tile / across * kOut, ox = tile % across * kOut;
    iy = oy - p.pad_top, ix = ox - p.pad_left;
  }
};

// V[point][tile][ci] for the group's cg channels of one tile (rows of channel_stride elements,
// points `point_stride` apart); returns whether every transformed value is finite (their sum is).
template <class T>
bool transform_input(const ConvProblem<T>& p, const T* x, const TilePlace& at, T* v, i64 point_stride) {
  constexpr int W = lanes<T>;
  const T* rows[kIn][kIn];
  for (int i = 0; i < kIn; ++i)
    for (int j = 0; j < kIn; ++j) {
      const i64 iy = at.iy + i, ix = at.ix + j;
      rows[i][j] = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w ? x + (iy * p.w + ix) * p.c : nullptr;
    }
  vec<T> sum = splat<T>(T(0));
  for (i64 c0 = 0; c0 < p.cg; c0 += W) {
    const i64 n = min_i64(W, p.cg - c0);
    vec<T> d[kIn][kIn], r[kIn][kIn];
#pragma GCC unroll 6
    for (int i = 0; i < kIn; ++i)
#pragma GCC unroll 6
      for (int j = 0; j < kIn; ++j)
        d[i][j] = rows[i][j] == nullptr ? splat<T>(T(0))
                  : n == W             ? load<T>(rows[i][j] + c0)
                                       : load_partial<T>(rows[i][j] + c0, n);
#pragma GCC unroll 6
    for (int j = 0; j < kIn; ++j) input_points<T>(&d[0][j], kIn, &r[0][j], kIn);
#pragma GCC unroll 6
    for (int i = 0; i < kIn; ++i) {
      vec<T> t[kIn];
      input_points<T>(&r[i][0], 1, t, 1);
#pragma GCC unroll 6
      for (int j = 0; j < kIn; ++j) {
        store<T>(v + (i * kIn + j) * point_stride + c0, t[j]);
        sum += t[j];
      }
    }
  }
  alignas(64) T lanes_of[W];
  store<T>(lanes_of, sum - sum);  // 0 where finite, NaN where not
  for (int k = 0; k < W; ++k)
    if (lanes_of[k] != T(0)) return false;
  return true;
}

// Output pixel (oy, ox), output channel `channel` of group `group` (from its first), as the direct
// convolution computes it from the caller's weights.
template <class T>
T direct_output(const ConvProblem<T>& p, const T* x, i64 group, i64 oy, i64 ox, i64 channel, T bias) {
  T sum = bias;
  for (i64 ky = 0; ky < 3; ++ky) {
    const i64 iy = oy - p.pad_top + ky;
    if (iy < 0 || iy >= p.h) continue;
    for (i64 kx = 0; kx < 3; ++kx) {
      const i64 ix = ox - p.pad_left + kx;
      if (ix < 0 || ix >= p.w) continue;
      const T* pixel = x + (iy * p.w + ix) * p.c;
      for (i64 ci = 0; ci < p.cg; ++ci) sum += pixel[ci] * p.weights.at(group, channel, ci, ky, kx);
    }
  }
  return activate_scalar<T>(sum, p.activation, p.alpha);
}

// The output of one (image, group): where output channel `channel` of the group and pixel
// (oy, ox) go, in either layout.
template <class T>
struct OutputView {
  T* base;
  i64 pixel_stride, channel_stride, ow;
  OutputView(const ConvProblem<T>& p, i64 image, i64 first_channel) {
    const i64 plane = p.oh * p.ow;
    base = p.out + image * p.o * plane + first_channel * (p.nhwc ? 1 : plane);
    pixel_stride = p.nhwc ? p.o : 1;
    channel_stride = p.nhwc ? 1 : plane;
    ow = p.ow;
  }
  T* at(i64 oy, i64 ox, i64 channel) const { return base + (oy * ow + ox) * pixel_stride + channel * channel_stride; }
};

// Y = act(A^T M A + bias) for one tile and `n` <= W output channels from `oc`: `m` at the tile's
// row of point 0, points `point_stride` apart; `buffer` holds kOut * kOut vectors.
template <class T>
void transform_output(const ConvProblem<T>& p, const T* m, i64 point_stride, const T* bias, const TilePlace& at,
                      const OutputView<T>& out, i64 oc, i64 n, T* buffer) {
  constexpr int W = lanes<T>;
  vec<T> t[kOut][kIn];
#pragma GCC unroll 6
  for (int j = 0; j < kIn; ++j) {
    vec<T> col[kIn];
#pragma GCC unroll 6
    for (int i = 0; i < kIn; ++i) col[i] = load<T>(m + (i * kIn + j) * point_stride + oc);
    output_points<T>(col, 1, &t[0][j], kIn);
  }
  const vec<T> b = bias != nullptr ? load<T>(bias + oc) : splat<T>(T(0));
  const i64 rows = min_i64(kOut, p.oh - at.oy), cols = min_i64(kOut, p.ow - at.ox);
#pragma GCC unroll 4
  for (int a = 0; a < kOut; ++a) {
    vec<T> y[kOut];
    output_points<T>(&t[a][0], 1, y, 1);
#pragma GCC unroll 4
    for (int q = 0; q < kOut; ++q) store<T>(buffer + (a * kOut + q) * W, activate<T>(y[q] + b, p.activation, p.alpha));
  }
  if (p.nhwc) {
    for (i64 a = 0; a < rows; ++a)
      for (i64 q = 0; q < cols; ++q) {
        const vec<T> y = load<T>(buffer + (a * kOut + q) * W);
        T* dst = out.at(at.oy + a, at.ox + q, oc);
        if (n == W) {
          store<T>(dst, y);
        } else {
          store_partial<T>(dst, y, n);
        }
      }
    return;
  }
  // NCHW: each row of the tile (cols pixels x n channels) transposed into the channels' planes.
  for (i64 a = 0; a < rows; ++a)
    write_transposed<T>(buffer + a * kOut * W, W, cols, n, out.base, out.channel_stride, (at.oy + a) * out.ow + at.ox,
                        oc, false);
}

// Where tile `tile` of a task's pass (numbered image-major) lies: its image's channel-contiguous
// input at the group's first channel, its place in that image, and its image's output.
template <class T>
struct PassTile {
  const T* x;
  TilePlace at;
  OutputView<T> out;
  PassTile(const ConvProblem<T>& p, const T* pass_input, i64 group, i64 first_channel, i64 tile)
      : x(pass_input + tile / winograd_tiles(p) * p.h * p.w * p.c + group * p.cg),
        at(p, tile % winograd_tiles(p)),
        out(p, p.x_nhwc_first + tile / winograd_tiles(p), first_channel) {}
};

template <class T>
void winograd_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  constexpr int MR = DotStep::rows, NR = kPanelCols<T>, W = lanes<T>;
  const WinogradTask job(p, task);
  const i64 tiles = job.tile1 - job.tile0, row_panels = ceil_div(tiles, MR);
  const i64 col0 = job.panel0 * NR, cols = min_i64(p.og - col0, p.channel_units * NR);
  const i64 col_panels = ceil_div(cols, NR);
  const WinogradScratch layout{ceil_div(p.tile_pixels, MR) * MR, ceil_div(p.cg, W) * W, p.channel_units * NR, W};
  const i64 v_point = layout.rows * layout.channel_stride, m_point = layout.rows * layout.cols;
  T* v = static_cast<T*>(scratch);
  T* m = v + ceil_div(layout.transformed(), 64) * 64;
  T* buffer = m + ceil_div(layout.products(), 64) * 64;
  bool* finite = reinterpret_cast<bool*>(buffer + kOut * kOut * W);
  // The pass's first image: the driver's channels-last copy of it, or the NHWC input's.
  const T* pass_input = p.x_nhwc != nullptr ? p.x_nhwc : p.x + p.x_nhwc_first * p.h * p.w * p.c;
  const i64 first_channel = job.group * p.og + col0;

  for (i64 t = 0; t < tiles; ++t) {
    const PassTile<T> tile(p, pass_input, job.group, first_channel, job.tile0 + t);
    finite[t] = transform_input<T>(p, tile.x, tile.at, v + t * layout.channel_stride, v_point);
  }
  // The register tiles' rows past the last tile read zeros (their products are never stored).
  for (i64 point = 0; point < kPoints; ++point)
    std::fill(v + point * v_point + tiles * layout.channel_stride, v + point * v_point + row_panels * MR * layout.channel_stride,
              T(0));

  // U[point] per group: every panel of NR output channels, (cg x NR) each.
  const i64 panels = ceil_div(p.og, NR);
  const T* u = p.packed_weights + job.group * p.packed_group_stride;
  const i64 cb = p.channel_block;
  for (i64 point = 0; point < kPoints; ++point)
    for (i64 c0 = 0; c0 < p.cg; c0 += cb) {
      const i64 cn = min_i64(cb, p.cg - c0);
      for (i64 jp = 0; jp < col_panels; ++jp) {
        const T* b = u + ((point * panels + job.panel0 + jp) * p.cg + c0) * NR;
        for (i64 ip = 0; ip < row_panels; ++ip) {
          const T* a = v + point * v_point + ip * MR * layout.channel_stride + c0;
          const i64 stride = layout.channel_stride;
          Accumulators<T, MR> acc;
          zero<T, MR>(acc);
          accumulate<T, DotStep, MR>(acc, cn, [a, stride](int r, i64 k) { return a[r * stride + k]; }, b);
          store_tile<T, MR>(acc, m + point * m_point + ip * MR * layout.cols + jp * NR, layout.cols, c0 == 0);
        }
      }
    }

  const T* bias = p.packed_bias != nullptr ? p.packed_bias + job.group * p.packed_bias_stride + col0 : nullptr;
  for (i64 t = 0; t < tiles; ++t) {
    const PassTile<T> tile(p, pass_input, job.group, first_channel, job.tile0 + t);
    for (i64 oc = 0; oc < cols; oc += W)
      transform_output<T>(p, m + t * layout.cols, m_point, bias, tile.at, tile.out, oc, min_i64(W, cols - oc), buffer);
    if (finite[t]) continue;
    const TilePlace& at = tile.at;
    for (i64 oy = at.oy; oy < min_i64(at.oy + kOut, p.oh); ++oy)
      for (i64 ox = at.ox; ox < min_i64(at.ox + kOut, p.ow); ++ox)
        for (i64 oc = 0; oc < cols; ++oc)
          *tile.out.at(oy, ox, oc) =
              direct_output<T>(p, tile.x, job.group, oy, ox, col0 + oc, bias != nullptr ? bias[oc] : T(0));
  }
}

}  // namespace

void fill_conv_winograd_entries(KernelTable& table) {
  table.conv_winograd = {DotStep::rows, kPanelCols<float>, kPanelCols<double>, &winograd_task<float>,
                         &winograd_task<double>};
}

}  // namespace KK_ISA
}  // namespace kk
