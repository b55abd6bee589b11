// Direct convolution over padded copies of input rows, for the layers where the implicit GEMM is weak:
// - first layers with few input channels per group (RGB or gray images, NCHW or NHWC): the GEMM's
//   depth (C x KH x KW = 27 for a 3x3 RGB layer) is too small to amortise its row pointers and
//   transposed stores;
// - 1x1 convolutions without stride or padding (NCHW): every image is one long row of pixels, so
//   output pixels are contiguous in both the input and the output planes.
// NCHW vectorises over output pixels: a strip of V vectors of one output row x a block of B output
// channels lives in registers, each tap is one broadcast weight times V contiguous input vectors,
// and the results go straight into NCHW output rows. NHWC vectorises over output channels: a block
// of pixels x channel vectors, each tap the weight vectors times one broadcast input value per
// pixel, each pixel's channels stored contiguously. Input rows are copied per task with their zero
// padding, channels de-interleaved (NHWC) and split into stride phases, so every tap reads
// consecutive values. Compiled once per instruction set into kk::<isa>; the loop over tasks lives
// in cpp/src/conv_driver.cpp.
#include <algorithm>

#include "kernelkit/conv.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/activation.hpp"
#include "kernelkit/microkernel.hpp"

namespace kk {
namespace KK_ISA {
namespace {

// A register block: B output channels x V vectors of pixels. B x V accumulators plus V input
// vectors and one broadcast weight fit the register file.
template <int B, int V, bool InPlace>
struct Shape {
  static constexpr int block = B, vectors = V;
  // Reads the input where it lies instead of a padded copy (only for 1x1 without stride or padding).
  static constexpr bool in_place = InPlace;
  template <class T>
  static constexpr i64 strip_pixels = V * lanes<T>;
};
// First layers (NCHW): wide strips reuse each broadcast weight over three vectors.
using FewChannels = Shape<kRegisters == 32 ? 8 : 4, 3, false>;
// 1x1: one strip's input (C rows of whole cache lines) stays in cache over every block. With 32
// registers, 8 channels x 3 vectors rather than 12 x 2: fewer loads per FMA, and the channel
// counts of real networks (multiples of 8, often not of 12: 16, 32, 64, 160, 320) fill whole
// blocks. Xeon with AVX-512, 2 threads: 8x256->64 at 28x28 0.84 -> 0.76 ms, at 56x56 4.1 -> 3.2,
// 8x1024->256 at 14x14 2.8 -> 2.7; 36 channels (blocks of 12, not of 8) 0.061 -> 0.068 ms.
using Pointwise = Shape<kRegisters == 32 ? 8 : 6, kRegisters == 32 ? 3 : 2, true>;

// First layers (NHWC): a register block of `rows` output pixels x `block` output channels (block /
// lanes vectors), so that each pixel's channels are stored contiguously where NHWC wants them,
// without transposes; each tap is the weight vectors times `rows` broadcast input values.
struct PixelBlock {
  static constexpr int block = kRegisters == 32 ? 32 : 16;
  template <class T>
  static constexpr int vectors = block / lanes<T>;
  // Accumulators, the weight vectors and a broadcast fill the register file.
  template <class T>
  static constexpr int rows = std::max(1, (kRegisters - vectors<T> - 2) / vectors<T>);
  template <class T>
  static constexpr i64 strip_pixels = rows<T>;
};

// Output columns one task reads input for: its chunk rounded up to whole strips.
template <class S, class T>
i64 chunk_columns(const ConvProblem<T>& p) {
  return ceil_div(min_i64(p.tile_pixels, p.ow), S::template strip_pixels<T>) * S::template strip_pixels<T>;
}

// Geometry of the per-task input copy: for each needed padded input row and input channel, the
// columns the task's chunk reads, split into sw phases (phase f holds padded columns f, f + sw,
// f + 2 sw, ... from the chunk's first), each phase_len long (whole cache lines).
template <class S, class T>
struct RowCopy {
  i64 rows, phase_len, channel_stride, row_stride;
  explicit RowCopy(const ConvProblem<T>& p)
      : rows(input_rows_spanned(p, kDirectRowsPerTask)),
        phase_len(ceil_div(chunk_columns<S>(p) + (p.kw - 1) * p.dw / p.sw + 1, 64 / i64(sizeof(T))) *
                  (64 / i64(sizeof(T)))),
        channel_stride(p.sw * phase_len),
        row_stride(p.cg * channel_stride) {}
  // The input itself, one row per image: channel planes h * w apart.
  static RowCopy in_place(const ConvProblem<T>& p) {
    RowCopy g(p);
    g.rows = 1;
    g.phase_len = p.w;
    g.channel_stride = p.h * p.w;
    g.row_stride = p.cg * g.channel_stride;
    return g;
  }
};

// The part of the output one direct task computes: up to kDirectRowsPerTask rows from oy0 and
// p.tile_pixels columns from ox0 of (image, group), `blocks` blocks of B output channels from block
// blk0; tasks are numbered image-major, then group, row band, column chunk, channel range.
struct DirectTask {
  i64 image, group, oy0, rows, ox0, width, blk0, blocks;
  template <class T>
  DirectTask(const ConvProblem<T>& p, i64 task, i64 block) {
    const i64 chunks = direct_chunks(p), bands = direct_bands(p), ranges = p.channel_tasks;
    image = task / (p.groups * bands * chunks * ranges);
    group = task / (bands * chunks * ranges) % p.groups;
    oy0 = task / (chunks * ranges) % bands * kDirectRowsPerTask;
    rows = min_i64(kDirectRowsPerTask, p.oh - oy0);
    ox0 = task / ranges % chunks * p.tile_pixels;
    width = min_i64(p.tile_pixels, p.ow - ox0);
    blk0 = task % ranges * p.channel_units;
    blocks = min_i64(p.channel_units, ceil_div(p.og, block) - blk0);
  }
};

// Fills the copy with the input rows and columns task t reads: zeros where the padded position lies
// outside the input.
template <class S, class T>
void copy_input_rows(const ConvProblem<T>& p, const RowCopy<S, T>& g, const DirectTask& t, T* copy) {
  // NCHW: a channel's row is contiguous; NHWC: its columns are c apart.
  const i64 pitch = p.nhwc ? p.c : 1, row_pitch = p.nhwc ? p.w * p.c : p.w, channel_pitch = p.nhwc ? 1 : p.h * p.w;
  const T* x = p.x + t.image * p.c * p.h * p.w + t.group * p.cg * channel_pitch;
  copy_padded_rows<T>(x, row_pitch, pitch, channel_pitch, p.cg, p.h, p.w, t.oy0 * p.sh - p.pad_top,
                      input_rows_spanned(p, t.rows), t.ox0 * p.sw - p.pad_left, p.sw, g.phase_len, copy, g.row_stride,
                      g.channel_stride);
}

// Where each depth index (ci, ky, kx) of the packed weights reads in the copy, relative to the
// strip's first pixel in the first row of its output row.
template <class S, class T>
void tap_offsets(const ConvProblem<T>& p, const RowCopy<S, T>& g, i64* offsets) {
  for (i64 ci = 0; ci < p.cg; ++ci)
    for (i64 ky = 0; ky < p.kh; ++ky)
      for (i64 kx = 0; kx < p.kw; ++kx) {
        const i64 at = kx * p.dw;
        *offsets++ = ky * p.dh * g.row_stride + ci * g.channel_stride + at % p.sw * g.phase_len + at / p.sw;
      }
}

// Where one output row's strips go: channel b of pixel x at dst[b * ld + x * pixel_stride] (NCHW:
// ld a plane, pixel_stride 1; NHWC: ld 1, pixel_stride the output channels). Only the first
// `channels` channels and `columns` pixels of the row are results; of a strip that reaches past
// either (the zero-padded last channel block, a last strip wider than the rest of the row) only its
// results are stored, so that nothing outside the task's part of the output is written.
template <class T>
struct RowTarget {
  T* dst;
  i64 ld, channels, columns, pixel_stride;
};

// One strip of V vectors of output pixels starting at `src`, for the channels of one packed weight
// block (depth x B), with bias and activation, stored at dst[b * ld + x * pixel_stride] for
// channel b < channels, pixel x < columns (channels-last output through an in-register transpose).
template <class T, int B, int V>
KK_ALWAYS_INLINE inline void strip(const ConvProblem<T>& p, const T* src, const i64* offsets, i64 depth,
                                   const T* w, const T* bias, T* dst, i64 ld, i64 channels, i64 columns,
                                   i64 pixel_stride) {
  constexpr int W = lanes<T>;
  vec<T> acc[B][V];
#pragma GCC unroll 16
  for (int b = 0; b < B; ++b) {
    const vec<T> start = splat<T>(bias[b]);
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[b][v] = start;
  }
  for (i64 k = 0; k < depth; ++k, w += B) {
    const T* at = src + offsets[k];
    vec<T> xv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) xv[v] = load<T>(at + v * W);
#pragma GCC unroll 16
    for (int b = 0; b < B; ++b) {
      const vec<T> wv = splat<T>(w[b]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[b][v] = wv * xv[v] + acc[b][v];
    }
  }
  if (pixel_stride == 1) return store_activated<T, B, V>(acc, p.activation, p.alpha, dst, ld, channels, columns);
  T staging[B * V * W];
  store_activated<T, B, V>(acc, p.activation, p.alpha, staging, V * W, B, V * W);
  write_transposed<T>(staging, V * W, min_i64(B, channels), min_i64(V * W, columns), dst, pixel_stride, 0, 0, false);
}

// Input to fetch into cache while a strip computes: the line of src + offsets[k] for every depth
// index k.
template <class T>
struct Prefetch {
  const T* src = nullptr;
  const i64* offsets = nullptr;
};

// Every channel block of one strip of V vectors (input at `src`) at column `ox` of the row: the
// strip's input (depth x V vectors) stays in L1 while the blocks' weights stream past it. The rows
// of `next` are prefetched a share after each block, so that their misses overlap the arithmetic.
template <class T, int B, int V>
void strip_all_blocks(const ConvProblem<T>& p, const T* src, const i64* offsets, i64 depth, i64 blocks,
                      const T* w, const T* bias, const RowTarget<T>& to, i64 ox, Prefetch<T> next = {}) {
  const i64 share = ceil_div(depth, blocks);
  for (i64 blk = 0; blk < blocks; ++blk) {
    strip<T, B, V>(p, src, offsets, depth, w + blk * depth * B, bias + blk * B,
                   to.dst + blk * B * to.ld + ox * to.pixel_stride, to.ld, to.channels - blk * B, to.columns - ox,
                   to.pixel_stride);
    if (next.src == nullptr) continue;
    for (i64 k = blk * share; k < min_i64(depth, (blk + 1) * share); ++k)
      __builtin_prefetch(next.src + next.offsets[k]);
  }
}

// panel[k][V vectors] = the strip's input at depth index k.
template <class T, int V>
void pack_strip(const T* src, const i64* offsets, i64 depth, T* panel) {
  constexpr int W = lanes<T>;
  for (i64 k = 0; k < depth; ++k)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) store<T>(panel + (k * V + v) * W, load<T>(src + offsets[k] + v * W));
}

// panel[k * pitch + v * lanes + j] = the strip's input at depth index k and pixel v * lanes + j
// for the first n pixels, zeros after them (V vectors; a row's last, partial strip, read without
// going past the row's end).
template <class T, int V>
void pack_strip_tail(const T* src, const i64* offsets, i64 depth, i64 n, i64 pitch, T* panel) {
  constexpr int W = lanes<T>;
  for (i64 k = 0; k < depth; ++k)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const i64 left = n - v * W;
      const T* at = src + offsets[k] + v * W;
      store<T>(panel + k * pitch + v * W, left >= W ? load<T>(at) : left > 0 ? load_partial<T>(at, left) : splat<T>(T(0)));
    }
}

// `width` output pixels of one row, every channel block: whole strips, then the narrowest strip
// that covers the rest. Shapes that read the input in place first gather each strip's input into
// `panel` (read with panel_offsets): its depth rows lie a whole plane apart, too many streams for
// the hardware prefetchers, so the next strip's rows are prefetched meanwhile.
template <class S, class T>
void output_row(const ConvProblem<T>& p, i64 width, const T* src, const i64* offsets, i64 depth, i64 blocks,
                const T* w, const T* bias, const RowTarget<T>& to, T* panel, const i64* panel_offsets) {
  constexpr int B = S::block, V = S::vectors;
  constexpr i64 strip_pixels = S::template strip_pixels<T>;
  i64 ox = 0;
  for (; ox + strip_pixels <= width; ox += strip_pixels) {
    if constexpr (S::in_place) {
      pack_strip<T, V>(src + ox, offsets, depth, panel);
      strip_all_blocks<T, B, V>(p, panel, panel_offsets, depth, blocks, w, bias, to, ox,
                                {src + ox + 2 * strip_pixels - 1, offsets});  // the next strip's last line
    } else {
      strip_all_blocks<T, B, V>(p, src + ox, offsets, depth, blocks, w, bias, to, ox);
    }
  }
  if (ox < width)
    narrowest_strip<V>(ceil_div(width - ox, lanes<T>), [&](auto vectors) {
      constexpr int U = decltype(vectors)::value;
      if constexpr (S::in_place) {
        pack_strip_tail<T, U>(src + ox, offsets, depth, width - ox, strip_pixels, panel);
        strip_all_blocks<T, B, U>(p, panel, panel_offsets, depth, blocks, w, bias, to, ox);
      } else {
        strip_all_blocks<T, B, U>(p, src + ox, offsets, depth, blocks, w, bias, to, ox);
      }
    });
}

// One task: up to kDirectRowsPerTask output rows x p.tile_pixels output columns of one (image,
// group), the task's output channels of the group, written where the rows lie (NCHW rows, or NHWC
// pixels through in-register transposes).
template <class S, class T>
void direct_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  constexpr int B = S::block;
  const DirectTask t(p, task, B);
  // In place (each image one row of pixels, NCHW): every strip is gathered into the panel, the
  // last one with partial loads, so nothing past a row is read. A copy of the task's rows for each
  // of its channel ranges cost as much as their products on 14 x 14 planes.
  const bool in_place = S::in_place && !p.nhwc;
  const RowCopy<S, T> padded(p);
  const RowCopy<S, T> g = in_place ? RowCopy<S, T>::in_place(p) : padded;
  const i64 depth = p.cg * p.kh * p.kw;
  i64* offsets = reinterpret_cast<i64*>(static_cast<T*>(scratch) + padded.rows * padded.row_stride);
  i64* panel_offsets = offsets + depth;
  T* panel = reinterpret_cast<T*>(panel_offsets + depth);
  for (i64 k = 0; k < depth; ++k) panel_offsets[k] = k * S::template strip_pixels<T>;
  const T* copy = p.x + (t.image * p.c + t.group * p.cg) * p.h * p.w + t.ox0;
  if (!in_place) {
    T* rows_copy = static_cast<T*>(scratch);
    copy_input_rows<S, T>(p, g, t, rows_copy);
    copy = rows_copy;
  }
  tap_offsets<S, T>(p, g, offsets);
  const i64 ch0 = t.blk0 * B;
  const T* weights = p.packed_weights + t.group * p.packed_group_stride + ch0 * depth;
  const T* bias = p.packed_bias + t.group * p.packed_bias_stride + ch0;
  const i64 plane = p.oh * p.ow;
  // NCHW: rows of each channel's plane; NHWC: pixels of channels.
  const i64 ld = p.nhwc ? 1 : plane, pixel_stride = p.nhwc ? p.o : 1, row_stride = p.nhwc ? p.ow * p.o : p.ow;
  T* out = p.nhwc ? p.out + ((t.image * p.oh + t.oy0) * p.ow + t.ox0) * p.o + t.group * p.og + ch0
                  : p.out + (t.image * p.o + t.group * p.og + ch0) * plane + t.oy0 * p.ow + t.ox0;
  for (i64 r = 0; r < t.rows; ++r)
    output_row<S, T>(p, t.width, copy + r * p.sh * g.row_stride, offsets, depth, t.blocks, weights, bias,
                     RowTarget<T>{out + r * row_stride, ld, p.og - ch0, t.width, pixel_stride}, panel,
                     panel_offsets);
}

// The input copy, two offsets (i64) per depth index (into the input, into a strip panel), then a
// strip panel (depth x strip pixels).
template <class S, class T>
i64 direct_scratch_elements(const ConvProblem<T>& p) {
  const RowCopy<S, T> g(p);
  const i64 depth = p.cg * p.kh * p.kw;
  const i64 offsets = 2 * depth * i64(sizeof(i64) / sizeof(T));
  const i64 panel = depth * S::template strip_pixels<T>;
  return g.rows * g.row_stride + offsets + panel + 64;
}

// MR output pixels (input at src, consecutive in the copy) x the NV vectors of output channels of
// one packed weight block (depth x NV * lanes), with bias and activation, stored at dst[r * p.o +
// channel] for pixel r < pixels and channel < channels.
template <class T, int MR, int NV>
KK_ALWAYS_INLINE inline void pixel_strip(const ConvProblem<T>& p, const T* src, const i64* offsets, i64 depth,
                                         const T* w, const T* bias, T* dst, i64 pixels, i64 channels) {
  constexpr int W = lanes<T>;
  vec<T> acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = load<T>(bias + v * W);
  for (i64 k = 0; k < depth; ++k, w += NV * W) {
    vec<T> wv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) wv[v] = load<T>(w + v * W);
    const T* at = src + offsets[k];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const vec<T> xv = splat<T>(at[r]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = wv[v] * xv + acc[r][v];
    }
  }
  store_activated<T, MR, NV>(acc, p.activation, p.alpha, dst, p.o, pixels, channels);
}

// One NHWC task (numbered as direct_task's): strips of output pixels x every channel block, each
// pixel's channels stored in place.
template <class T>
void pixel_block_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  using S = PixelBlock;
  constexpr int B = S::block, NV = S::vectors<T>, MR = S::rows<T>;
  const DirectTask t(p, task, B);
  const RowCopy<S, T> g(p);
  const i64 depth = p.cg * p.kh * p.kw;
  T* copy = static_cast<T*>(scratch);
  i64* offsets = reinterpret_cast<i64*>(copy + g.rows * g.row_stride);
  copy_input_rows<S, T>(p, g, t, copy);
  tap_offsets<S, T>(p, g, offsets);
  const T* weights = p.packed_weights + t.group * p.packed_group_stride;
  const T* bias = p.packed_bias + t.group * p.packed_bias_stride;
  for (i64 r = 0; r < t.rows; ++r) {
    const T* src = copy + r * p.sh * g.row_stride;
    T* out = p.out + ((t.image * p.oh + t.oy0 + r) * p.ow + t.ox0) * p.o + t.group * p.og;
    for (i64 ox = 0; ox < t.width; ox += MR)
      for (i64 blk = t.blk0; blk < t.blk0 + t.blocks; ++blk)
        pixel_strip<T, MR, NV>(p, src + ox, offsets, depth, weights + blk * depth * B, bias + blk * B,
                               out + ox * p.o + blk * B, t.width - ox, p.og - blk * B);
  }
}

// The input copy, then one offset (i64) per depth index.
template <class T>
i64 pixel_block_scratch_elements(const ConvProblem<T>& p) {
  const RowCopy<PixelBlock, T> g(p);
  const i64 offsets = p.cg * p.kh * p.kw * i64(sizeof(i64) / sizeof(T));
  return g.rows * g.row_stride + offsets + 64;
}

template <class S>
DirectConvEntry direct_entry() {
  return {S::block,
          S::template strip_pixels<float>,
          S::template strip_pixels<double>,
          &direct_task<S, float>,
          &direct_task<S, double>,
          &direct_scratch_elements<S, float>,
          &direct_scratch_elements<S, double>};
}

}  // namespace

void fill_conv_direct_entries(KernelTable& table) {
  table.conv_direct_few_channels = direct_entry<FewChannels>();
  table.conv_direct_pointwise = direct_entry<Pointwise>();
  table.conv_direct_few_channels_nhwc = {PixelBlock::block,
                                         PixelBlock::strip_pixels<float>,
                                         PixelBlock::strip_pixels<double>,
                                         &pixel_block_task<float>,
                                         &pixel_block_task<double>,
                                         &pixel_block_scratch_elements<float>,
                                         &pixel_block_scratch_elements<double>};
}

}  // namespace KK_ISA
}  // namespace kk
