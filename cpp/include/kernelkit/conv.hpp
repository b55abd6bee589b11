// The 2-D convolution problem as the driver hands it to the per-ISA kernels (ISA-independent).
#pragma once
#include <cstdint>

namespace kk {

enum class Activation : int { none = 0, relu = 1, leaky_relu = 2, relu6 = 3 };

// The weights as the caller holds them, C-contiguous OIHW (O, C/groups, KH, KW) or HWIO (KH, KW,
// C/groups, O), read through strides, so that no layout copy is made before they are packed.
template <class T>
struct WeightView {
  const T* data = nullptr;
  std::int64_t group = 0, out = 0, in = 0, row = 0, col = 0;  // element strides

  WeightView() = default;
  WeightView(const T* w, bool hwio, std::int64_t o, std::int64_t cg, std::int64_t og, std::int64_t kh,
             std::int64_t kw)
      : data(w) {
    out = hwio ? 1 : cg * kh * kw;
    in = hwio ? o : kh * kw;
    col = hwio ? cg * o : 1;
    row = hwio ? kw * col : kw;
    group = og * out;
  }
  // Output channel oc and input channel ci of group g at kernel position (ky, kx).
  T at(std::int64_t g, std::int64_t oc, std::int64_t ci, std::int64_t ky, std::int64_t kx) const {
    return data[g * group + oc * out + ci * in + ky * row + kx * col];
  }
};

// out = act(conv(x, w) + bias), cross-correlation, implicit GEMM: rows = output pixels of one image,
// columns = output channels of one group, depth = (kh, kw, c) of that group.
template <class T>
struct ConvProblem {
  const T* x;  // N x C x H x W (NCHW) or N x H x W x C (NHWC), C-contiguous
  bool nhwc;
  std::int64_t n, c, h, w;
  std::int64_t groups, cg, og, o;  // channels per group in/out, total out
  std::int64_t kh, kw, sh, sw, dh, dw, pad_top, pad_left;
  std::int64_t oh, ow;
  // Weights packed once by the prepared convolution: per group, panels of the ISA's panel width
  // (GEMM) or blocks of the direct kernel's output channels, or the depthwise taps.
  const T* packed_weights;
  std::int64_t packed_group_stride;
  // The weights as the caller holds them (Winograd recomputes the tiles of non-finite input from
  // them directly).
  WeightView<T> weights;
  // Bias per group padded with zeros to whole panels (row stride packed_bias_stride), or nullptr.
  const T* packed_bias;
  std::int64_t packed_bias_stride;
  Activation activation;
  T alpha;
  T* out;  // N x O x OH x OW or N x OH x OW x O
  bool stream_output;
  // For NCHW input on the indirect path: images [x_nhwc_first, ...) transposed to (H, W, C), one
  // after the other, else nullptr.
  const T* x_nhwc;
  std::int64_t x_nhwc_first;
  // The work split the plan chose. Each task computes `channel_units` whole panels (GEMM) or blocks
  // (direct) of one group's output channels; `channel_tasks` such ranges cover the group, so that one
  // small image still gives every thread work.
  std::int64_t channel_units, channel_tasks;
  // GEMM only: output pixels per task, and input channels per depth block (its weight panels stay
  // in cache while every register tile of the task passes). Winograd: the same with output tiles of
  // kWinogradOut x kWinogradOut pixels in place of pixels. Direct: output columns per task (its
  // column chunk; channel_block unused).
  std::int64_t tile_pixels, channel_block;
  // Winograd only: the images one run of its tasks covers (a pass of the channels-last copy from
  // x_nhwc_first; NHWC input: every image).
  std::int64_t pass_images;
  // Direct pointwise only: the pixels of one image. Its problem is one row (h = 1, n = 1) of every
  // image's pixels end to end (w = images x image_pixels), so that strips run from one image into
  // the next instead of leaving the lanes past each image's last pixel empty.
  std::int64_t image_pixels;
};

// Winograd F(4x4, 3x3) (cpp/kernels/conv_winograd_kernels.cpp): each output tile of 4 x 4 pixels
// from the 6 x 6 inputs under it, through 36 transformed points per channel.
constexpr std::int64_t kWinogradOut = 4;
constexpr std::int64_t kWinogradIn = kWinogradOut + 2;
constexpr std::int64_t kWinogradPoints = kWinogradIn * kWinogradIn;

// Winograd's output tiles of one image, row-major over ceil(OH / 4) x ceil(OW / 4).
template <class T>
std::int64_t winograd_tiles(const ConvProblem<T>& p) {
  return ((p.oh + kWinogradOut - 1) / kWinogradOut) * ((p.ow + kWinogradOut - 1) / kWinogradOut);
}

// One Winograd task's scratch, in elements: the transformed input (points x rows x channel_stride),
// the products (points x rows x cols), a flag per tile and one tile of output vectors; `rows` is
// the task's tiles rounded up to whole register tiles, channel_stride the group's input channels
// rounded up to whole vectors, cols the task's output channels in whole panels.
struct WinogradScratch {
  std::int64_t rows, channel_stride, cols, lanes;
  std::int64_t transformed() const { return kWinogradPoints * rows * channel_stride; }
  std::int64_t products() const { return kWinogradPoints * rows * cols; }
  std::int64_t elements() const { return transformed() + products() + rows + kWinogradOut * kWinogradOut * lanes + 256; }
};

// One row of an image from channel planes to channels last: hwc[x * c + ch] = chw[ch * plane + x]
// for x < w, ch < c (chw at the row's first pixel in plane 0, hwc at the row's first pixel).
template <class T>
using ChannelsLastRowFn = void (*)(const T* chw, std::int64_t plane, std::int64_t c, std::int64_t w, T* hwc);

// Every convolution kernel computes numbered tasks of the problem:
// - indirect GEMM: one task is tile_pixels output pixels (row-major over OH x OW) x channel_units
//   panels of output channels of one (image, group), numbered image-major, then group, pixel tile,
//   channel range (see GemmTask);
// - Winograd: one task is tile_pixels output tiles of a pass's images x channel_units panels of one
//   group (see WinogradTask);
// - depthwise (groups == channels, one output channel each): one task is channel_units planes (NCHW,
//   numbered image * C + channel), a block of channel_block channels of an image (NCHW with narrow
//   rows) or an output row (NHWC); packed_weights holds (kh, kw, c) for NHWC and (c, kh, kw) for
//   NCHW; packed_bias is the plain bias or nullptr.
// - direct (either layout): one task is kDirectRowsPerTask output rows x tile_pixels output columns
//   x channel_units blocks of output channels of one (image, group), numbered image-major, then
//   group, row band, column chunk, channel range (pointwise: the one row of every image's pixels,
//   see image_pixels); packed_weights holds per group blocks of the
//   entry's `block` output channels, [block][cg][kh][kw][channel in block]; packed_bias the bias
//   per group zero-padded to whole blocks (zeros without a bias).
template <class T>
using ConvTaskFn = void (*)(const ConvProblem<T>&, std::int64_t task, void* scratch);

// One register-tile shape of the indirect GEMM: `rows` output pixels x cols_* output channels (the
// width of its packed weight panels), and its tasks.
struct GemmConvEntry {
  std::int64_t rows;
  std::int64_t cols_f32, cols_f64;
  ConvTaskFn<float> f32;
  ConvTaskFn<double> f64;
};

// One register-block shape of the direct kernel: its output-channel block (packed_weights holds
// blocks of that many channels) and the output pixels of its register tile, its tasks and the
// scratch elements one task needs.
struct DirectConvEntry {
  std::int64_t block;
  std::int64_t strip_pixels_f32, strip_pixels_f64;
  ConvTaskFn<float> f32;
  ConvTaskFn<double> f64;
  std::int64_t (*scratch_f32)(const ConvProblem<float>&);
  std::int64_t (*scratch_f64)(const ConvProblem<double>&);
};

constexpr std::int64_t kDirectRowsPerTask = 4;
// Output columns per direct task at most: a multiple of every ISA's strip width, wide enough that the
// rows of common first layers (112-224 columns) need one or two (a narrow last chunk copies its halo
// again). First layers use this chunk; the pointwise kernel's is planned per shape.
constexpr std::int64_t kDirectChunk = 192;

// Row bands and column chunks of one (image, group), and the direct tasks of `images` images.
template <class T>
std::int64_t direct_bands(const ConvProblem<T>& p) {
  return (p.oh + kDirectRowsPerTask - 1) / kDirectRowsPerTask;
}
template <class T>
std::int64_t direct_chunks(const ConvProblem<T>& p) {
  return (p.ow + p.tile_pixels - 1) / p.tile_pixels;
}
template <class T>
std::int64_t direct_tasks(const ConvProblem<T>& p, std::int64_t images) {
  return images * p.groups * direct_bands(p) * direct_chunks(p) * p.channel_tasks;
}

// The part of the output one GEMM task computes: pixels [pix0, pix1) and panels
// [panel0, panel0 + panels) of (image, group).
struct GemmTask {
  std::int64_t image, group, pix0, pix1, panel0;
  template <class T>
  GemmTask(const ConvProblem<T>& p, std::int64_t task) {
    const std::int64_t pixels = p.oh * p.ow, tiles = (pixels + p.tile_pixels - 1) / p.tile_pixels;
    const std::int64_t per_image = p.groups * tiles * p.channel_tasks;
    image = task / per_image;
    group = task / (tiles * p.channel_tasks) % p.groups;
    pix0 = task / p.channel_tasks % tiles * p.tile_pixels;
    pix1 = pix0 + p.tile_pixels < pixels ? pix0 + p.tile_pixels : pixels;
    panel0 = task % p.channel_tasks * p.channel_units;
  }
};
template <class T>
std::int64_t gemm_tasks_per_image(const ConvProblem<T>& p) {
  return p.groups * ((p.oh * p.ow + p.tile_pixels - 1) / p.tile_pixels) * p.channel_tasks;
}

// The part of the output one Winograd task computes: output tiles [tile0, tile1) of a pass's
// pass_images images (numbered image-major, so that a task's tiles may run from one image into the
// next: planes of a few tiles, 7 x 7 has four, would otherwise leave most rows of each register
// tile empty) and panels [panel0, panel0 + panels) of group `group`; tasks are numbered group-major,
// then tile range, channel range.
struct WinogradTask {
  std::int64_t group, tile0, tile1, panel0;
  template <class T>
  WinogradTask(const ConvProblem<T>& p, std::int64_t task) {
    const std::int64_t tiles = winograd_tiles(p) * p.pass_images;
    const std::int64_t ranges = (tiles + p.tile_pixels - 1) / p.tile_pixels;
    group = task / (ranges * p.channel_tasks);
    tile0 = task / p.channel_tasks % ranges * p.tile_pixels;
    tile1 = tile0 + p.tile_pixels < tiles ? tile0 + p.tile_pixels : tiles;
    panel0 = task % p.channel_tasks * p.channel_units;
  }
};
template <class T>
std::int64_t winograd_tasks(const ConvProblem<T>& p) {
  const std::int64_t tiles = winograd_tiles(p) * p.pass_images;
  return p.groups * ((tiles + p.tile_pixels - 1) / p.tile_pixels) * p.channel_tasks;
}

// Padded input rows that `output_rows` consecutive output rows read.
template <class T>
std::int64_t input_rows_spanned(const ConvProblem<T>& p, std::int64_t output_rows) {
  return (output_rows - 1) * p.sh + (p.kh - 1) * p.dh + 1;
}

}  // namespace kk
