// Convolution driver: picks the kernel for the layer (depthwise; the direct kernel for 1x1 NCHW
// layers and for layers with few input channels per group; else the indirect GEMM), packs the
// weights (and bias) once per call, and runs the per-ISA kernel's tasks with OpenMP over images x
// groups x tiles of output pixels, so one small image still uses every thread. Memory beyond input,
// weights and output: the packed weights, one scratch per thread and, for NCHW input to the indirect
// GEMM, an (H, W, C) copy of at most kIndirectCopyBytes of images.
#include "kernelkit/conv_driver.hpp"

#include <algorithm>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/scratch.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

constexpr i64 kStreamingOutputBytes = 32 << 20;
// NCHW input to the indirect GEMM is read from an (H, W, C) copy of this many bytes of images at most
// (at least one image).
constexpr i64 kIndirectCopyBytes = 8 << 20;
// Up to this many input channels per group the indirect GEMM's channel runs are too short to
// amortise its row pointers and transposed stores; the direct kernel wins (bench_conv.py stem cases,
// 3x3 and 7x7 layers with 5-7 channels, both layouts).
constexpr i64 kDirectMaxChannels = 7;
// Weights of at least this many elements are packed by every thread (smaller ones are not worth an
// OpenMP region).
constexpr i64 kParallelPackElements = 1 << 16;

// Tasks [0, tasks) of a kernel that numbers its own work, on up to n_threads threads, each with
// scratch_elements elements of scratch.
template <class T>
void run_tasks(ConvTaskFn<T> task_fn, const ConvProblem<T>& p, i64 tasks, i64 scratch_elements, int n_threads) {
  const int threads = static_cast<int>(std::min<i64>(n_threads, tasks));
  const std::vector<ScratchBuffer>& scratch =
      thread_scratch(threads, sizeof(T) * static_cast<std::size_t>(scratch_elements));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (i64 t = 0; t < tasks; ++t) task_fn(p, t, scratch[thread_index()].get());
}

// A zero-padded copy of one input plane with room for whole strips of 64 outputs (used by the NCHW
// path; the NHWC path keeps its sums in registers).
template <class T>
i64 depthwise_scratch_elements(const ConvProblem<T>& p) {
  const i64 padded_w = p.ow + (p.kw - 1) * p.dw + 64;
  return padded_w * input_rows_spanned(p, p.oh);
}

// groups == channels with one output channel each: the memory-bound direct path.
template <class T>
void depthwise(const ConvShape& s, const T* x, const WeightView<T>& weights, const T* bias, T* out, Activation act,
               double alpha, int n_threads) {
  const KernelTable& table = kernels();
  // The NCHW path reads the taps as (c, kh, kw), the NHWC path as (kh, kw, c).
  std::vector<T> taps(static_cast<std::size_t>(s.c * s.kh * s.kw));
  for (i64 ch = 0; ch < s.c; ++ch)
    for (i64 ky = 0; ky < s.kh; ++ky)
      for (i64 kx = 0; kx < s.kw; ++kx) {
        const i64 t = ky * s.kw + kx;
        taps[s.nhwc ? t * s.c + ch : ch * s.kh * s.kw + t] = weights.at(ch, 0, 0, ky, kx);
      }
  const ConvProblem<T> p{x, s.nhwc, s.c, s.h, s.w, s.groups, 1, 1, s.o, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                         s.pad_top, s.pad_left, s.out_h(), s.out_w(), taps.data(), 0, bias, 0, act, T(alpha), out,
                         false, nullptr, 0};
  run_tasks(TableEntry<T>::depthwise(table), p, s.nhwc ? s.n * p.oh : s.n * s.c, depthwise_scratch_elements(p),
            n_threads);
}

// The bias per group zero-padded to `padded` entries (all zeros without a bias).
template <class T>
std::vector<T> padded_bias(const T* bias, i64 groups, i64 og, i64 padded) {
  std::vector<T> out(static_cast<std::size_t>(groups * padded), T(0));
  if (bias != nullptr)
    for (i64 g = 0; g < groups; ++g) std::copy(bias + g * og, bias + (g + 1) * og, &out[g * padded]);
  return out;
}

bool stream_output(const ConvShape& s, std::size_t element_bytes) {
  return s.n * s.o * s.out_h() * s.out_w() * static_cast<i64>(element_bytes) > kStreamingOutputBytes;
}

// A 1x1 kernel without stride or padding (dilation does not matter for 1x1).
bool pointwise_unpadded(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pad_top == 0 && s.pad_bottom == 0 && s.pad_left == 0 &&
         s.pad_right == 0;
}

// Per group, blocks of `block` output channels, [block][cg][kh][kw][channel in block], zero-padded to
// whole blocks.
template <class T>
std::vector<T> pack_direct_weights(const ConvShape& s, const WeightView<T>& weights, i64 block) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw, depth = taps * cg;
  const i64 blocks = ceil_div(og, block);
  std::vector<T> packed(static_cast<std::size_t>(s.groups * blocks * depth * block), T(0));
  for (i64 g = 0; g < s.groups; ++g)
    for (i64 oc = 0; oc < og; ++oc)
      for (i64 ci = 0; ci < cg; ++ci)
        for (i64 t = 0; t < taps; ++t)
          packed[((g * blocks + oc / block) * depth + ci * taps + t) * block + oc % block] =
              weights.at(g, oc, ci, t / s.kw, t % s.kw);
  return packed;
}

// Output rows computed directly (no GEMM) by one of the direct kernel's shapes.
template <class T>
void direct(const DirectConvEntry& kernel, const ConvShape& s, const T* x, const WeightView<T>& weights, const T* bias,
            T* out, Activation act, double alpha, int n_threads) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups;
  const i64 block = kernel.block, og_padded = ceil_div(og, block) * block;
  const std::vector<T> packed = pack_direct_weights(s, weights, block);
  const std::vector<T> bias_padded = padded_bias(bias, s.groups, og, og_padded);
  const i64 group_stride = static_cast<i64>(packed.size()) / s.groups;
  // The direct kernels store their register blocks straight into the output: no streaming stores.
  const ConvProblem<T> p{x, s.nhwc, s.c, s.h, s.w, s.groups, cg, og, s.o, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                         s.pad_top, s.pad_left, s.out_h(), s.out_w(), packed.data(), group_stride,
                         bias_padded.data(), og_padded, act, T(alpha), out, false, nullptr, 0};
  run_tasks(TableEntry<T>::task(kernel), p, direct_tasks(p, s.n), TableEntry<T>::scratch(kernel, p), n_threads);
}

// Per group, panels of `cols` output channels, [panel][depth = (kh, kw, cg)][cols], zero-padded to
// whole panels: the layout the GEMM micro-kernel streams. Large weights are packed by every thread.
template <class T>
void pack_gemm_weights(const ConvShape& s, const WeightView<T>& weights, i64 cols, T* packed, int n_threads) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups, depth = s.kh * s.kw * cg;
  const i64 panels = ceil_div(og, cols);
  const bool parallel = s.o * depth >= kParallelPackElements;
#pragma omp parallel for schedule(static) num_threads(n_threads) if (parallel)
  for (i64 gp = 0; gp < s.groups * panels; ++gp) {
    const i64 g = gp / panels, oc0 = gp % panels * cols;
    T* panel = packed + gp * depth * cols;
    for (i64 j = 0; j < cols; ++j)
      for (i64 ci = 0; ci < cg; ++ci)
        for (i64 ky = 0; ky < s.kh; ++ky)
          for (i64 kx = 0; kx < s.kw; ++kx)
            panel[((ky * s.kw + kx) * cg + ci) * cols + j] = oc0 + j < og ? weights.at(g, oc0 + j, ci, ky, kx) : T(0);
  }
}

}  // namespace

template <class T>
void compute_conv2d(const ConvShape& s, const T* x, const WeightView<T>& weights, const T* bias, T* out,
                    Activation act, double alpha, int n_threads) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups, depth = s.kh * s.kw * cg;
  if (cg == 1 && og == 1) return depthwise(s, x, weights, bias, out, act, alpha, n_threads);
  const KernelTable& table = kernels();
  if (!s.nhwc && pointwise_unpadded(s)) {
    ConvShape row = s;  // each output pixel reads only its own input pixel: one long row per image
    row.w = s.h * s.w;
    row.h = 1;
    return direct(table.conv_direct_pointwise, row, x, weights, bias, out, act, alpha, n_threads);
  }
  if (cg <= kDirectMaxChannels)
    return direct(s.nhwc ? table.conv_direct_few_channels_nhwc : table.conv_direct_few_channels, s, x, weights, bias,
                  out, act, alpha, n_threads);

  // Indirect GEMM over channel-contiguous input: NHWC as it is, NCHW through (H, W, C) copies.
  const i64 panel_cols = TableEntry<T>::conv_panel_cols(table);
  const i64 og_padded = ceil_div(og, panel_cols) * panel_cols;
  const i64 group_stride = og_padded * depth;
  ScratchBuffer packed_weights = aligned_scratch(sizeof(T) * static_cast<std::size_t>(s.groups * group_stride));
  pack_gemm_weights(s, weights, panel_cols, static_cast<T*>(packed_weights.get()), n_threads);
  const std::vector<T> packed_bias = padded_bias(bias, s.groups, og, og_padded);

  ConvProblem<T> p{x,  s.nhwc, s.c,  s.h,  s.w,  s.groups, cg, og, s.o, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                   s.pad_top, s.pad_left, s.out_h(), s.out_w(),
                   static_cast<const T*>(packed_weights.get()), group_stride,
                   bias != nullptr ? packed_bias.data() : nullptr, og_padded, act, T(alpha), out,
                   stream_output(s, sizeof(T)), nullptr, 0};
  const ConvTileFn<T> tile_fn = TableEntry<T>::conv_tile(table);
  const i64 pixels = p.oh * p.ow;
  const i64 tile = table.conv_tile_pixels;
  const i64 tiles_per_image = ceil_div(pixels, tile);
  const i64 tasks_per_image = s.groups * tiles_per_image;
  const int threads = static_cast<int>(std::min<i64>(n_threads, s.n * tasks_per_image));
  const std::vector<ScratchBuffer>& scratch = thread_scratch(threads, table.conv_scratch_bytes(og, s.kh * s.kw, cg));

  auto run_tiles = [&](i64 first_image, i64 images) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (i64 t = 0; t < images * tasks_per_image; ++t) {
      const i64 image = first_image + t / tasks_per_image;
      const i64 group = t / tiles_per_image % s.groups;
      const i64 pix0 = t % tiles_per_image * tile;
      tile_fn(p, image, group, pix0, std::min(pix0 + tile, pixels), scratch[thread_index()].get());
    }
  };
  if (s.nhwc) return run_tiles(0, s.n);
  // NCHW input: as many images as fit kIndirectCopyBytes at a time, transposed to
  // (H, W, C) in one parallel pass, then all their tiles in one (few barriers: a thread preempted by
  // another process stalls every barrier).
  const i64 image_elements = s.c * s.h * s.w;
  const i64 per_pass = std::clamp<i64>(kIndirectCopyBytes / (image_elements * static_cast<i64>(sizeof(T))), 1, s.n);
  ScratchBuffer copy = aligned_scratch(sizeof(T) * static_cast<std::size_t>(per_pass * image_elements));
  T* hwc = static_cast<T*>(copy.get());
  p.x_nhwc = hwc;
  const ChannelsLastRowFn<T> transpose_row = TableEntry<T>::channels_last_row(table);
  for (i64 first = 0; first < s.n; first += per_pass) {
    const i64 images = std::min(per_pass, s.n - first);
    p.x_nhwc_first = first;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (i64 row = 0; row < images * s.h; ++row)
      transpose_row(x + (first + row / s.h) * image_elements + row % s.h * s.w, s.h * s.w, s.c, s.w,
                    hwc + row * s.w * s.c);
    run_tiles(first, images);
  }
}

template void compute_conv2d<float>(const ConvShape&, const float*, const WeightView<float>&, const float*, float*,
                                    Activation, double, int);
template void compute_conv2d<double>(const ConvShape&, const double*, const WeightView<double>&, const double*,
                                     double*, Activation, double, int);

}  // namespace kk
