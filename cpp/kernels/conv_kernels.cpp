// Convolution tile kernels (implicit GEMM): a tile of output pixels is gathered from the input into
// packed panels one depth block at a time (never a full im2col buffer), multiplied with the packed
// weights by the shared register-tile micro-kernel, then bias and activation are applied and the
// tile is written in NCHW (transposed in registers) or NHWC order.
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
constexpr i64 kConvTile = 224;  // output pixels per tile, a multiple of the dot micro-tile rows
#else
constexpr i64 kConvTile = 240;
#endif

// Position of one depth index k = (kh, kw, c) of the implicit GEMM, advanced one step at a time.
struct DepthCursor {
  i64 ky, kx, ci;
  DepthCursor(i64 k, i64 cg, i64 kw) : ky(k / cg / kw), kx(k / cg % kw), ci(k % cg) {}
  void next(i64 cg, i64 kw) {
    if (++ci < cg) return;
    ci = 0;
    if (++kx < kw) return;
    kx = 0;
    ++ky;
  }
};

// NCHW, MR pixels of one output row: at each depth index the panel column is MR input values
// sw apart, copied without bounds checks when they are all inside the image.
template <class T, int MR>
void pack_contiguous_panel(const ConvProblem<T>& p, const T* x, i64 oy, i64 ox0, i64 k0, i64 kc, T* panel) {
  DepthCursor at(k0, p.cg, p.kw);
  for (i64 k = 0; k < kc; ++k) {
    const i64 iy = oy * p.sh - p.pad_top + at.ky * p.dh;
    const i64 ix = ox0 * p.sw - p.pad_left + at.kx * p.dw;
    T* dst = panel + k * MR;
    if (iy < 0 || iy >= p.h) {
      for (int r = 0; r < MR; ++r) dst[r] = T(0);
    } else {
      const T* src = x + (at.ci * p.h + iy) * p.w;
      if (ix >= 0 && ix + (MR - 1) * p.sw < p.w) {
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) dst[r] = src[ix + r * p.sw];
      } else {
        for (int r = 0; r < MR; ++r) {
          const i64 at_x = ix + r * p.sw;
          dst[r] = at_x >= 0 && at_x < p.w ? src[at_x] : T(0);
        }
      }
    }
    at.next(p.cg, p.kw);
  }
}

// Packs rows = output pixels [pix0, pix0 + rows) and depth [k0, k0 + kc) of image `image`, group
// `group` into panels of MR rows (panel[k * MR + r]); padding and missing rows give zeros.
template <class T, int MR>
void pack_input_rows(const ConvProblem<T>& p, i64 image, i64 group, i64 pix0, i64 rows, i64 k0, i64 kc,
                     T* dst) {
  const i64 channel_stride = p.nhwc ? 1 : p.h * p.w;
  const T* x = p.x + image * p.c * p.h * p.w + group * p.cg * (p.nhwc ? 1 : p.h * p.w);
  const i64 panels = ceil_div(rows, MR);
  for (i64 q = 0; q < panels; ++q) {
    T* panel = dst + q * MR * kc;
    const i64 first = pix0 + q * MR;
    if (!p.nhwc && (q + 1) * MR <= rows && first % p.ow + MR <= p.ow) {
      pack_contiguous_panel<T, MR>(p, x, first / p.ow, first % p.ow, k0, kc, panel);
      continue;
    }
    for (int r = 0; r < MR; ++r) {
      const i64 pix = pix0 + q * MR + r;
      if (q * MR + r >= rows) {
        for (i64 k = 0; k < kc; ++k) panel[k * MR + r] = T(0);
        continue;
      }
      const i64 iy0 = pix / p.ow * p.sh - p.pad_top, ix0 = pix % p.ow * p.sw - p.pad_left;
      DepthCursor at(k0, p.cg, p.kw);
      // NHWC without groups or horizontal dilation: the rest of a kernel row, (kx, c), is one
      // contiguous run of the input row when it lies inside the image.
      const bool row_runs = p.nhwc && p.cg == p.c && p.dw == 1;
      for (i64 k = 0; k < kc;) {
        // One run of channels at a fixed kernel position: contiguous (NHWC) or strided (NCHW).
        i64 run = min_i64(p.cg - at.ci, kc - k);
        const i64 iy = iy0 + at.ky * p.dh, ix = ix0 + at.kx * p.dw;
        const bool whole_row = row_runs && ix >= 0 && ix0 + p.kw <= p.w;
        if (whole_row) run = min_i64((p.kw - at.kx) * p.cg - at.ci, kc - k);
        if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) {
          for (i64 t = 0; t < run; ++t) panel[(k + t) * MR + r] = T(0);
        } else {
          const T* src = x + (p.nhwc ? (iy * p.w + ix) * p.c : iy * p.w + ix) + at.ci * channel_stride;
          for (i64 t = 0; t < run; ++t) panel[(k + t) * MR + r] = src[t * channel_stride];
        }
        k += run;
        at = DepthCursor(k0 + k, p.cg, p.kw);
      }
    }
  }
}

template <class T>
void bias_and_activation(const ConvProblem<T>& p, i64 group, T* c, i64 ldc, i64 rows) {
  if (p.packed_bias == nullptr && p.activation == Activation::none) return;
  const T* bias = p.packed_bias != nullptr ? p.packed_bias + group * p.packed_bias_stride : nullptr;
  for (i64 r = 0; r < rows; ++r)
    for (i64 q = 0; q < ldc; q += lanes<T>) {
      vec<T> v = load<T>(c + r * ldc + q);
      if (bias != nullptr) v += load<T>(bias + q);
      store<T>(c + r * ldc + q, activate<T>(v, p.activation, p.alpha));
    }
}

// NHWC: each pixel's channels are contiguous; NCHW: each channel's pixels are, so the tile is
// written transposed, whole W x W blocks through registers.
template <class T>
void write_output(const ConvProblem<T>& p, i64 image, i64 group, i64 pix0, i64 rows, const T* c, i64 ldc) {
  const i64 pixels = p.oh * p.ow;
  if (p.nhwc) {
    T* out = p.out + (image * pixels + pix0) * p.o + group * p.og;
    for (i64 r = 0; r < rows; ++r) copy_row<T>(out + r * p.o, c + r * ldc, p.og, false);
    return;
  }
  write_transposed<T>(c, ldc, rows, p.og, p.out + image * p.o * pixels, pixels, pix0, group * p.og, p.stream_output);
  if (p.stream_output) store_fence();
}

template <class T>
void conv_tile(const ConvProblem<T>& p, i64 image, i64 group, i64 pix0, i64 pix1, void* scratch) {
  constexpr int MR = DotStep::rows;
  constexpr int NR = kPanelCols<T>;
  const i64 rows = pix1 - pix0, row_panels = ceil_div(rows, MR);
  const i64 col_panels = ceil_div(p.og, NR), ldc = col_panels * NR;
  const i64 depth = p.kh * p.kw * p.cg;
  T* c = static_cast<T*>(scratch);
  T* a_packed = c + ceil_div(row_panels * MR * ldc, 64) * 64;
  const T* weights = p.packed_weights + group * p.packed_group_stride;
  for (i64 k0 = 0; k0 < depth; k0 += kDepthBlock<T>) {
    const i64 kc = min_i64(kDepthBlock<T>, depth - k0);
    pack_input_rows<T, MR>(p, image, group, pix0, rows, k0, kc, a_packed);
    for (i64 jp = 0; jp < col_panels; ++jp) {
      const T* b = weights + jp * NR * depth + k0 * NR;
      for (i64 ip = 0; ip < row_panels; ++ip)
        register_tile<T, DotStep, MR>(kc, a_packed + ip * MR * kc, b, c + ip * MR * ldc + jp * NR, ldc, k0 == 0);
    }
  }
  bias_and_activation<T>(p, group, c, ldc, rows);
  write_output<T>(p, image, group, pix0, rows, c, ldc);
}

// Indirect GEMM over channel-contiguous (NHWC) input, as XNNPACK's igemm: for every register tile of
// MR output pixels, one input pointer per pixel and kernel position (or a row of zeros where it
// falls in the padding); the micro-kernel broadcasts straight from those rows, so nothing of the
// input is packed or duplicated.
template <class T>
void conv_tile_indirect(const ConvProblem<T>& p, i64 image, i64 group, i64 pix0, i64 pix1, void* scratch) {
  constexpr int MR = DotStep::rows;
  constexpr int NR = kPanelCols<T>;
  const i64 rows = pix1 - pix0, row_panels = ceil_div(rows, MR);
  const i64 col_panels = ceil_div(p.og, NR), ldc = col_panels * NR;
  const i64 taps = p.kh * p.kw, depth = taps * p.cg;
  const T* images = p.x_nhwc != nullptr ? p.x_nhwc : p.x;
  const i64 first = p.x_nhwc != nullptr ? p.x_nhwc_first : 0;
  const T* x = images + (image - first) * p.h * p.w * p.c + group * p.cg;
  T* c = static_cast<T*>(scratch);
  // rows_at[(ip * taps + t) * MR + r]: the input row of pixel r of row panel ip at kernel position t.
  const T** rows_at = reinterpret_cast<const T**>(c + ceil_div(row_panels * MR * ldc, 64) * 64);
  T* zeros = reinterpret_cast<T*>(rows_at + ceil_div(row_panels * taps * MR, 8) * 8);
  for (i64 k = 0; k < p.cg; ++k) zeros[k] = T(0);
  const T* weights = p.packed_weights + group * p.packed_group_stride;
  for (i64 ip = 0; ip < row_panels; ++ip) {
    for (int r = 0; r < MR; ++r) {
      const i64 row = ip * MR + r, pix = pix0 + row;
      const i64 iy0 = pix / p.ow * p.sh - p.pad_top, ix0 = pix % p.ow * p.sw - p.pad_left;
      for (i64 t = 0; t < taps; ++t) {
        const i64 iy = iy0 + t / p.kw * p.dh, ix = ix0 + t % p.kw * p.dw;
        const bool inside = row < rows && iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        rows_at[(ip * taps + t) * MR + r] = inside ? x + (iy * p.w + ix) * p.c : zeros;
      }
    }
  }
  // Every register tile accumulates its whole depth in registers: the indirect path is used only
  // where the weight panel (depth x NR) stays in L1/L2 (see conv_driver.cpp).
  for (i64 ip = 0; ip < row_panels; ++ip)
    for (i64 jp = 0; jp < col_panels; ++jp) {
      Accumulators<T, MR> acc;
      zero<T, MR>(acc);
      const T* b = weights + jp * NR * depth;
      for (i64 t = 0; t < taps; ++t) {
        const T* const* a = rows_at + (ip * taps + t) * MR;
        b = accumulate<T, DotStep, MR>(acc, p.cg, [a](int r, i64 k) { return a[r][k]; }, b);
      }
      store_tile<T, MR>(acc, c + ip * MR * ldc + jp * NR, ldc, true);
    }
  bias_and_activation<T>(p, group, c, ldc, rows);
  write_output<T>(p, image, group, pix0, rows, c, ldc);
}

// weights (groups, depth, og) -> per group, panels of NR output channels: [panel][depth][NR].
template <class T>
void pack_weights(const T* weights, i64 groups, i64 depth, i64 og, T* packed) {
  constexpr int NR = kPanelCols<T>;
  const i64 col_panels = ceil_div(og, NR);
  for (i64 g = 0; g < groups; ++g)
    for (i64 jp = 0; jp < col_panels; ++jp) {
      T* panel = packed + (g * col_panels + jp) * depth * NR;
      const i64 cols = min_i64(NR, og - jp * NR);
      for (i64 k = 0; k < depth; ++k) {
        const T* src = weights + (g * depth + k) * og + jp * NR;
        for (int j = 0; j < NR; ++j) panel[k * NR + j] = j < cols ? src[j] : T(0);
      }
    }
}

// The tile buffer (whole register tiles) and one packed depth block of input rows, plus slack.
std::size_t conv_scratch_bytes(std::int64_t og) {
  return std::size_t((kConvTile + 64) * (og + 64) * 8 + (kConvTile + 64) * 1024 + 8 * 64 * 8);
}

}  // namespace

void fill_conv_entries(KernelTable& table) {
  table.conv_tile_pixels = kConvTile;
  table.conv_scratch_bytes = &conv_scratch_bytes;
  table.conv_panel_cols_f32 = kPanelCols<float>;
  table.conv_panel_cols_f64 = kPanelCols<double>;
  table.conv_tile_f32 = &conv_tile<float>;
  table.conv_tile_f64 = &conv_tile<double>;
  table.conv_tile_indirect_f32 = &conv_tile_indirect<float>;
  table.conv_tile_indirect_f64 = &conv_tile_indirect<double>;
  table.conv_pack_f32 = &pack_weights<float>;
  table.conv_pack_f64 = &pack_weights<double>;
}

}  // namespace KK_ISA
}  // namespace kk
