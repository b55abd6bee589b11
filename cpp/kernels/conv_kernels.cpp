// Convolution tile kernel (indirect implicit GEMM, as XNNPACK's igemm): for a tile of output pixels,
// one pointer per pixel and kernel position into channel-contiguous input rows (never an im2col
// buffer), register tiles of pixels x output channels accumulated by the shared micro-kernel against
// the packed weights, then bias and activation, and the tile written in NCHW (transposed in
// registers) or NHWC order.
// Compiled once per instruction set into kk::<isa>; the loops over images, groups and tiles and all
// argument checks live in cpp/src/conv_driver.cpp.
#include "kernelkit/conv.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/activation.hpp"
#include "kernelkit/microkernel.hpp"

namespace kk {
namespace KK_ISA {
namespace {

#if defined(__AVX512F__)
constexpr i64 kConvTile = 224;  // the largest tile of output pixels
#else
constexpr i64 kConvTile = 240;
#endif


// c (rows x ldc, the task's columns from col0 of the group) = act(c + bias).
template <class T>
void bias_and_activation(const ConvProblem<T>& p, i64 group, i64 col0, T* c, i64 ldc, i64 rows) {
  if (p.packed_bias == nullptr && p.activation == Activation::none) return;
  const T* bias = p.packed_bias != nullptr ? p.packed_bias + group * p.packed_bias_stride + col0 : nullptr;
  const Activation act = p.activation;  // local: the stores below might alias p
  const T alpha = p.alpha;
  for (i64 r = 0; r < rows; ++r)
    for (i64 q = 0; q < ldc; q += lanes<T>) {
      vec<T> v = load<T>(c + r * ldc + q);
      if (bias != nullptr) v += load<T>(bias + q);
      store<T>(c + r * ldc + q, activate<T>(v, act, alpha));
    }
}

// NHWC: each pixel's channels are contiguous; NCHW: each channel's pixels are, so the tile is
// written transposed, whole W x W blocks through registers. The tile holds `cols` output channels
// from col0 of the group.
template <class T>
void write_output(const ConvProblem<T>& p, const GemmTask& t, i64 rows, i64 col0, i64 cols, const T* c, i64 ldc) {
  const i64 pixels = p.oh * p.ow, first = t.group * p.og + col0;
  if (p.nhwc) {
    T* out = p.out + (t.image * pixels + t.pix0) * p.o + first;
    for (i64 r = 0; r < rows; ++r) copy_row<T>(out + r * p.o, c + r * ldc, cols, false);
    return;
  }
  write_transposed<T>(c, ldc, rows, cols, p.out + t.image * p.o * pixels, pixels, t.pix0, first, p.stream_output);
  if (p.stream_output) store_fence();
}

// One task's output pixels and output channels of (image, group) from channel-contiguous input (the
// NHWC input, or the driver's (H, W, C) copy of NCHW images): for every register tile of MR output pixels, one input
// pointer per pixel and kernel position (or a row of zeros where it falls in the padding); the
// micro-kernel broadcasts straight from those rows, so nothing of the input is packed.
template <class T>
void conv_tile(const ConvProblem<T>& p, i64 task, void* scratch) {
  constexpr int MR = DotStep::rows;
  constexpr int NR = kPanelCols<T>;
  const GemmTask job(p, task);
  const i64 pix0 = job.pix0, rows = job.pix1 - job.pix0, row_panels = ceil_div(rows, MR);
  const i64 col0 = job.panel0 * NR, cols = min_i64(p.og - col0, p.channel_units * NR);
  const i64 col_panels = ceil_div(cols, NR), ldc = col_panels * NR;
  const i64 taps = p.kh * p.kw, depth = taps * p.cg;
  const T* images = p.x_nhwc != nullptr ? p.x_nhwc : p.x;
  const i64 first = p.x_nhwc != nullptr ? p.x_nhwc_first : 0;
  const T* x = images + (job.image - first) * p.h * p.w * p.c + job.group * p.cg;
  T* c = static_cast<T*>(scratch);
  // rows_at[(ip * taps + t) * MR + r]: the input row of pixel r of row panel ip at kernel position t.
  const T** rows_at = reinterpret_cast<const T**>(c + ceil_div(row_panels * MR * ldc, 64) * 64);
  T* zeros = reinterpret_cast<T*>(rows_at + ceil_div(row_panels * taps * MR, 8) * 8);
  for (i64 k = 0; k < p.cg; ++k) zeros[k] = T(0);
  const T* weights = p.packed_weights + job.group * p.packed_group_stride + col0 * depth;
  // Output pixel (oy, ox) walks the tile in row-major order: no divisions per pixel or tap (two per
  // entry cost as much as the arithmetic of a task with few channels).
  i64 oy = pix0 / p.ow, ox = pix0 % p.ow;
  for (i64 row = 0; row < row_panels * MR; ++row) {
    const i64 ip = row / MR, r = row % MR;
    const i64 iy0 = oy * p.sh - p.pad_top, ix0 = ox * p.sw - p.pad_left;
    const T** entry = rows_at + ip * taps * MR + r;
    for (i64 ky = 0; ky < p.kh; ++ky) {
      const i64 iy = iy0 + ky * p.dh;
      for (i64 kx = 0; kx < p.kw; ++kx, entry += MR) {
        const i64 ix = ix0 + kx * p.dw;
        const bool inside = row < rows && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        *entry = inside ? x + (iy * p.w + ix) * p.c : zeros;
      }
    }
    if (++ox == p.ow) ox = 0, ++oy;
  }
  // The depth is split into blocks of input channels (every kernel position, cb channels each, as the
  // plan chose for this CPU's caches) whose weight panels (taps x cb x NR) stay in cache while every
  // row panel passes; a register tile accumulates one block in registers and adds it to the tile
  // buffer.
  const i64 cb = p.channel_block;
  for (i64 c0 = 0; c0 < p.cg; c0 += cb) {
    const i64 cn = min_i64(cb, p.cg - c0);
    for (i64 jp = 0; jp < col_panels; ++jp)
      for (i64 ip = 0; ip < row_panels; ++ip) {
        Accumulators<T, MR> acc;
        zero<T, MR>(acc);
        const T* b = weights + jp * NR * depth + c0 * NR;
        for (i64 t = 0; t < taps; ++t) {
          const T* const* a = rows_at + (ip * taps + t) * MR;
          accumulate<T, DotStep, MR>(acc, cn, [a, c0](int r, i64 k) { return a[r][c0 + k]; }, b + t * p.cg * NR);
        }
        store_tile<T, MR>(acc, c + ip * MR * ldc + jp * NR, ldc, c0 == 0);
      }
  }
  bias_and_activation<T>(p, job.group, col0, c, ldc, rows);
  write_output<T>(p, job, rows, col0, cols, c, ldc);
}

// rows = channels (a plane apart), columns = pixels, transposed through registers in W x W blocks.
template <class T>
void channels_last_row(const T* chw, i64 plane, i64 c, i64 w, T* hwc) {
  write_transposed<T>(chw, plane, c, w, hwc, c, 0, 0, false);
}

// The tile buffer (whole register tiles of `pixels` x `cols`), the row pointers of every register
// tile and kernel position, and a row of cg zeros, plus slack for the alignment of each.
std::size_t conv_scratch_bytes(std::int64_t pixels, std::int64_t cols, std::int64_t taps, std::int64_t cg) {
  const i64 tile_rows = pixels + 64;  // the tile rounded up to whole register tiles
  return std::size_t(tile_rows * (cols + 64) * 8 + tile_rows * taps * 8 + (cg + 64) * 8 + 4 * 64);
}

}  // namespace

void fill_conv_entries(KernelTable& table) {
  table.conv_tile_pixels = kConvTile;
  table.conv_scratch_bytes = &conv_scratch_bytes;
  // The Gram kernels' register tile (14 x 2 vectors with 32 registers, 6 x 2 with 16). A 6 x 4
  // tile (MLAS's shape on AVX-512, fewer loads per FMA) measured no faster on a Xeon with AVX-512
  // (0.9-1.0x on seven ResNet shapes, one and two threads), so there is one.
  table.conv_gemm = {DotStep::rows, kPanelCols<float>, kPanelCols<double>, &conv_tile<float>, &conv_tile<double>};
  table.channels_last_row_f32 = &channels_last_row<float>;
  table.channels_last_row_f64 = &channels_last_row<double>;
}

}  // namespace KK_ISA
}  // namespace kk
