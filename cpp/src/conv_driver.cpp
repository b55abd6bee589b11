// Convolution driver: packs the weights (and bias) once per call, then runs the per-ISA tile kernel
// over images x groups x tiles of output pixels with OpenMP, so one small image still uses every
// thread. Memory beyond input, weights and output: the packed weights and one tile scratch per thread.
#include "kernelkit/conv_driver.hpp"

#include <algorithm>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/scratch.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

constexpr i64 kStreamingOutputBytes = 32 << 20;

// groups == channels with one output channel each: the memory-bound direct path.
template <class T>
void depthwise(const ConvShape& s, const T* x, const T* weights, const T* bias, T* out, Activation act,
               double alpha, int n_threads) {
  const KernelTable& table = kernels();
  // weights arrive as (c, kh, kw); the NHWC path reads them as (kh, kw, c).
  std::vector<T> taps(weights, weights + s.c * s.kh * s.kw);
  if (s.nhwc)
    for (i64 ch = 0; ch < s.c; ++ch)
      for (i64 k = 0; k < s.kh * s.kw; ++k) taps[k * s.c + ch] = weights[ch * s.kh * s.kw + k];
  const ConvProblem<T> p{x, s.nhwc, s.c, s.h, s.w, s.groups, 1, 1, s.o, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                         s.pad_top, s.pad_left, s.out_h(), s.out_w(), taps.data(), 0, bias, 0, act, T(alpha), out,
                         false};
  const i64 tasks = s.nhwc ? s.n * p.oh : s.n * s.c;
  const int threads = static_cast<int>(std::min<i64>(n_threads, tasks));
  const std::vector<ScratchBuffer> scratch =
      thread_scratch(threads, sizeof(T) * static_cast<std::size_t>(depthwise_scratch_elements(p)));
  const DepthwiseFn<T> task_fn = TableEntry<T>::depthwise(table);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (i64 t = 0; t < tasks; ++t) task_fn(p, t, scratch[thread_index()].get());
}

}  // namespace

template <class T>
void compute_conv2d(const ConvShape& s, const T* x, const T* weights, const T* bias, T* out, Activation act,
                    double alpha, int n_threads) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups, depth = s.kh * s.kw * cg;
  if (cg == 1 && og == 1) return depthwise(s, x, weights, bias, out, act, alpha, n_threads);
  const KernelTable& table = kernels();
  const i64 panel_cols = TableEntry<T>::conv_panel_cols(table);
  const i64 og_padded = ceil_div(og, panel_cols) * panel_cols;

  const i64 group_stride = og_padded * depth;
  ScratchBuffer packed_weights = aligned_scratch(sizeof(T) * static_cast<std::size_t>(s.groups * group_stride));
  TableEntry<T>::conv_pack(table)(weights, s.groups, depth, og, static_cast<T*>(packed_weights.get()));
  std::vector<T> packed_bias;
  if (bias != nullptr) {
    packed_bias.assign(static_cast<std::size_t>(s.groups * og_padded), T(0));
    for (i64 g = 0; g < s.groups; ++g) std::copy(bias + g * og, bias + (g + 1) * og, &packed_bias[g * og_padded]);
  }

  ConvProblem<T> p{x,  s.nhwc, s.c,  s.h,  s.w,  s.groups, cg, og, s.o, s.kh, s.kw, s.sh, s.sw, s.dh, s.dw,
                   s.pad_top, s.pad_left, s.out_h(), s.out_w(),
                   static_cast<const T*>(packed_weights.get()), group_stride,
                   bias != nullptr ? packed_bias.data() : nullptr, og_padded, act, T(alpha), out,
                   s.n * s.o * s.out_h() * s.out_w() * static_cast<i64>(sizeof(T)) > kStreamingOutputBytes};

  const i64 pixels = p.oh * p.ow;
  const i64 tile = table.conv_tile_pixels;
  const i64 tiles_per_image = ceil_div(pixels, tile);
  const i64 tasks = s.n * s.groups * tiles_per_image;
  const int threads = static_cast<int>(std::min<i64>(n_threads, tasks));
  const std::vector<ScratchBuffer> scratch = thread_scratch(threads, table.conv_scratch_bytes(og));
  const ConvTileFn<T> tile_fn = TableEntry<T>::conv_tile(table);

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (i64 t = 0; t < tasks; ++t) {
    const i64 image = t / (s.groups * tiles_per_image);
    const i64 group = t / tiles_per_image % s.groups;
    const i64 pix0 = t % tiles_per_image * tile;
    tile_fn(p, image, group, pix0, std::min(pix0 + tile, pixels), scratch[thread_index()].get());
  }
}

template void compute_conv2d<float>(const ConvShape&, const float*, const float*, const float*, float*, Activation,
                                    double, int);
template void compute_conv2d<double>(const ConvShape&, const double*, const double*, const double*, double*,
                                     Activation, double, int);

}  // namespace kk
