// Direct convolution over padded copies of input rows, for the layers where the implicit GEMM is weak:
// - first layers with few input channels per group (RGB or gray images, NCHW or NHWC): the GEMM's
//   depth (C x KH x KW = 27 for a 3x3 RGB layer) is too small to amortise its row pointers and
//   transposed stores;
// - 1x1 convolutions without stride or padding (NCHW): the images' pixels are one long row, read in
//   place, so output pixels are contiguous in both the input and the output planes (but where a
//   strip runs from one image into the next).
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
template <int B, int V>
struct Shape {
  static constexpr int block = B, vectors = V;
  template <class T>
  static constexpr i64 strip_pixels = V * lanes<T>;
};
// First layers (NCHW): wide strips reuse each broadcast weight over three vectors.
using FewChannels = Shape<kRegisters == 32 ? 8 : 4, 3>;
// 1x1 (read in place, no padded copy): one strip's input (C rows of whole cache lines) stays in
// cache over every block. With 32
// registers, 8 channels x 3 vectors rather than 12 x 2: fewer loads per FMA, and the channel
// counts of real networks (multiples of 8, often not of 12: 16, 32, 64, 160, 320) fill whole
// blocks. Xeon with AVX-512, 2 threads: 8x256->64 at 28x28 0.84 -> 0.76 ms, at 56x56 4.1 -> 3.2,
// 8x1024->256 at 14x14 2.8 -> 2.7; 36 channels (blocks of 12, not of 8) 0.061 -> 0.068 ms.
using Pointwise = Shape<kRegisters == 32 ? 8 : 6, kRegisters == 32 ? 3 : 2>;

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
// Not inlined: one instance per register block, whose accumulators GCC keeps in registers (inlined
// into a second caller, strip_across_images's, it spilled one: a 7 x 7 batch of 8 ran 1.2x slower).
template <class T, int B, int V>
__attribute__((noinline)) void strip_all_blocks(const ConvProblem<T>& p, const T* src, const i64* offsets, i64 depth, i64 blocks,
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
      const i64 left = std::clamp<i64>(n - v * W, 0, W);  // clamped: GCC sees the partial load's bound
      const T* at = src + offsets[k] + v * W;
      store<T>(panel + k * pitch + v * W, left == W ? load<T>(at) : load_partial<T>(at, left));
    }
}

// `width` output pixels of one row (its input copied with its padding), every channel block: whole
// strips, then the narrowest strip that covers the rest.
template <class S, class T>
void output_row(const ConvProblem<T>& p, i64 width, const T* src, const i64* offsets, i64 depth, i64 blocks,
                const T* w, const T* bias, const RowTarget<T>& to) {
  constexpr int B = S::block, V = S::vectors;
  constexpr i64 strip_pixels = S::template strip_pixels<T>;
  i64 ox = 0;
  for (; ox + strip_pixels <= width; ox += strip_pixels)
    strip_all_blocks<T, B, V>(p, src + ox, offsets, depth, blocks, w, bias, to, ox);
  if (ox < width)
    narrowest_strip<V>(ceil_div(width - ox, lanes<T>), [&](auto vectors) {
      strip_all_blocks<T, B, decltype(vectors)::value>(p, src + ox, offsets, depth, blocks, w, bias, to, ox);
    });
}

// One task: up to kDirectRowsPerTask output rows x p.tile_pixels output columns of one (image,
// group), the task's output channels of the group, written where the rows lie (NCHW rows, or NHWC
// pixels through in-register transposes).
template <class S, class T>
void direct_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  constexpr int B = S::block;
  const DirectTask t(p, task, B);
  const RowCopy<S, T> g(p);
  const i64 depth = p.cg * p.kh * p.kw;
  T* copy = static_cast<T*>(scratch);
  i64* offsets = reinterpret_cast<i64*>(copy + g.rows * g.row_stride);
  copy_input_rows<S, T>(p, g, t, copy);
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
                     RowTarget<T>{out + r * row_stride, ld, p.og - ch0, t.width, pixel_stride});
}

// The input copy, then one offset (i64) per depth index.
template <class S, class T>
i64 direct_scratch_elements(const ConvProblem<T>& p) {
  const RowCopy<S, T> g(p);
  const i64 offsets = p.cg * p.kh * p.kw * i64(sizeof(i64) / sizeof(T));
  return g.rows * g.row_stride + offsets + 64;
}

// Where a pointwise task's pixels lie: column q of the row of every image's pixels (image_pixels
// each) is pixel q % image_pixels of image q / image_pixels, in the input planes of the task's group
// (`x`, images c planes apart) and in the output planes of its first channel (`out`, o apart).
template <class T>
struct ImagesRow {
  const T* x;
  T* out;
  i64 plane, image_in, image_out;
  const T* input(i64 q) const { return x + q / plane * image_in + q % plane; }
  T* output(i64 q) const { return out + q / plane * image_out + q % plane; }
};

// A strip of n <= V vectors' pixels from column q that runs from one image into the next (so each
// of its pixels lies in its own place): gathered pixel by pixel, computed into `staging` (the
// task's channels x strip pixels) and scattered back. One strip in a few on 7 x 7 planes; its
// pixels are too few for the extra loads and stores to matter against its blocks' products.
template <class T, int B, int V>
void strip_across_images(const ConvProblem<T>& p, const ImagesRow<T>& row, i64 q, i64 n, i64 depth, i64 blocks,
                         const T* w, const T* bias, i64 channels, T* panel, const i64* panel_offsets, T* staging) {
  constexpr i64 SP = V * lanes<T>;
  const T* in[SP];
  T* out[SP];
  for (i64 j = 0; j < n; ++j) in[j] = row.input(q + j), out[j] = row.output(q + j);
  for (i64 k = 0; k < depth; ++k)
    for (i64 j = 0; j < SP; ++j) panel[k * SP + j] = j < n ? in[j][k * row.plane] : T(0);
  strip_all_blocks<T, B, V>(p, panel, panel_offsets, depth, blocks, w, bias, RowTarget<T>{staging, SP, channels, n, 1},
                            0);
  for (i64 ch = 0; ch < min_i64(channels, blocks * B); ++ch)
    for (i64 j = 0; j < n; ++j) out[j][ch * row.plane] = staging[ch * SP + j];
}

// One pointwise task (1x1 without stride or padding, NCHW): p.tile_pixels columns of the row of
// every image's pixels, the task's output channels. Each strip's input (depth rows a plane apart:
// too many streams for the hardware prefetchers) is gathered into `panel` while the next strip's
// rows are prefetched, then every channel block runs over it; a row's last strip is the narrowest
// that covers it, read without going past the row's end.
template <class S, class T>
void pointwise_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  constexpr int B = S::block, V = S::vectors;
  constexpr i64 SP = S::template strip_pixels<T>;
  const DirectTask t(p, task, B);
  const i64 depth = p.cg, plane = p.image_pixels, ch0 = t.blk0 * B, channels = p.og - ch0;
  i64* offsets = static_cast<i64*>(scratch);
  i64* panel_offsets = offsets + depth;
  T* panel = reinterpret_cast<T*>(panel_offsets + depth);
  T* staging = panel + depth * SP;
  for (i64 k = 0; k < depth; ++k) offsets[k] = k * plane, panel_offsets[k] = k * SP;
  const T* weights = p.packed_weights + t.group * p.packed_group_stride + ch0 * depth;
  const T* bias = p.packed_bias + t.group * p.packed_bias_stride + ch0;
  const ImagesRow<T> row{p.x + t.group * p.cg * plane, p.out + (t.group * p.og + ch0) * plane, plane, p.c * plane,
                         p.o * plane};
  const i64 end = t.ox0 + t.width;
  for (i64 q = t.ox0; q < end; q += SP) {
    const i64 n = min_i64(SP, end - q);
    if (q % plane + n > plane) {
      strip_across_images<T, B, V>(p, row, q, n, depth, t.blocks, weights, bias, channels, panel, panel_offsets,
                                   staging);
      continue;
    }
    const T* src = row.input(q);
    const RowTarget<T> to{row.output(q), plane, channels, n, 1};
    if (n == SP) {
      pack_strip<T, V>(src, offsets, depth, panel);
      const i64 next_last = min_i64(q + 2 * SP, p.w) - 1;  // the next strip's last line
      strip_all_blocks<T, B, V>(p, panel, panel_offsets, depth, t.blocks, weights, bias, to, 0,
                                {row.input(next_last), offsets});
      continue;
    }
    narrowest_strip<V>(ceil_div(n, lanes<T>), [&](auto vectors) {
      constexpr int U = decltype(vectors)::value;
      pack_strip_tail<T, U>(src, offsets, depth, n, SP, panel);
      strip_all_blocks<T, B, U>(p, panel, panel_offsets, depth, t.blocks, weights, bias, to, 0);
    });
  }
}

// Two offsets (i64) per depth index (into the input, into a strip panel), a strip panel (depth x
// strip pixels) and a strip's results for the task's channels (strip_across_images).
template <class S, class T>
i64 pointwise_scratch_elements(const ConvProblem<T>& p) {
  const i64 channels = p.channel_units * S::block;
  return 2 * p.cg * i64(sizeof(i64) / sizeof(T)) + (p.cg + channels) * S::template strip_pixels<T> + 64;
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

// The entry of register-block shape S (its block and strips), its tasks and their scratch.
template <class S>
DirectConvEntry direct_entry(ConvTaskFn<float> f32, ConvTaskFn<double> f64,
                             i64 (*scratch_f32)(const ConvProblem<float>&),
                             i64 (*scratch_f64)(const ConvProblem<double>&)) {
  return {S::block, S::template strip_pixels<float>, S::template strip_pixels<double>, f32, f64, scratch_f32,
          scratch_f64};
}

}  // namespace

void fill_conv_direct_entries(KernelTable& table) {
  table.conv_direct_few_channels =
      direct_entry<FewChannels>(&direct_task<FewChannels, float>, &direct_task<FewChannels, double>,
                                &direct_scratch_elements<FewChannels, float>,
                                &direct_scratch_elements<FewChannels, double>);
  table.conv_direct_pointwise =
      direct_entry<Pointwise>(&pointwise_task<Pointwise, float>, &pointwise_task<Pointwise, double>,
                              &pointwise_scratch_elements<Pointwise, float>,
                              &pointwise_scratch_elements<Pointwise, double>);
  table.conv_direct_few_channels_nhwc =
      direct_entry<PixelBlock>(&pixel_block_task<float>, &pixel_block_task<double>,
                               &direct_scratch_elements<PixelBlock, float>,
                               &direct_scratch_elements<PixelBlock, double>);
}

}  // namespace KK_ISA
}  // namespace kk
