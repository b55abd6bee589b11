// The prepared convolution: packs the weights (and bias) once per SIMD path and algorithm into the
// layout that algorithm's kernel streams, then runs each call's plan: the per-ISA kernel's tasks on
// kernelkit's threads (parallel_for, one scratch buffer per thread). Memory
// beyond input, weights and output: the packed weights, one scratch per thread and, for NCHW
// input to the indirect GEMM, an (H, W, C) copy of a pass of images (ConvPlan::copy_bytes).
#include "kernelkit/conv_driver.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/output_cache.hpp"
#include "kernelkit/scratch.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/parallel.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// Weights of at least this many elements are packed by every thread (smaller ones are not worth an
// parallel loop).
constexpr i64 kParallelPackElements = 1 << 16;

// Tasks [first, first + tasks) of a convolution kernel on up to n_threads threads, each with
// scratch_bytes of scratch.
template <class T>
void run_tasks(ConvTaskFn<T> task_fn, const ConvProblem<T>& p, i64 first, i64 tasks, std::size_t scratch_bytes,
               int n_threads) {
  const int threads = static_cast<int>(std::clamp<i64>(tasks, 1, n_threads));
  const ScratchLease scratch(threads, scratch_bytes);
  parallel_for(tasks, threads, [&](i64 t) { task_fn(p, first + t, scratch[thread_index()]); });
}

template <class T>
ScratchBuffer allocate(i64 elements) {
  return aligned_scratch(sizeof(T) * static_cast<std::size_t>(std::max<i64>(elements, 1)));
}

template <class T>
CachedBuffer allocate_packed(i64 elements) {
  return cached_buffer(sizeof(T) * static_cast<std::size_t>(std::max<i64>(elements, 1)), kMinCachedPackedBytes);
}

// The direct pointwise kernel's strip on `table`'s SIMD path.
template <class T>
i64 pointwise_strip(const KernelTable& table) {
  return sizeof(T) == 4 ? table.conv_direct_pointwise.strip_pixels_f32 : table.conv_direct_pointwise.strip_pixels_f64;
}

// A strided 1x1 layer's input is subsampled (planned_shape) this many bytes of images at a time (at
// least one image), as the GEMM's channels-last copy is.
constexpr i64 kSubsampleBytes = 8 << 20;

// Images per pass of the subsampled copy of a strided 1x1 layer's input (`compact`: its shape).
template <class T>
i64 subsampled_images(const ConvShape& compact) {
  const i64 image_bytes = compact.c * compact.h * compact.w * i64(sizeof(T));
  return std::clamp<i64>(kSubsampleBytes / image_bytes, 1, compact.n);
}

// compact[image][channel][y][x] = x[image][channel][y * sh][x * sw] for `images` NCHW images.
template <class T>
void subsample(const ConvShape& s, i64 images, const T* x, T* compact, int n_threads) {
  const i64 oh = s.out_h(), ow = s.out_w();
  parallel_for(images * s.c, n_threads, [&](i64 plane) {
    const T* src = x + plane * s.h * s.w;
    T* dst = compact + plane * oh * ow;
    for (i64 y = 0; y < oh; ++y)
      for (i64 col = 0; col < ow; ++col) dst[y * ow + col] = src[y * s.sh * s.w + col * s.sw];
  });
}

// Whether none of the n (contiguous) weights is Inf or NaN: their exponent bits are not all set. An
// integer test, which compilers vectorise (std::isfinite per element was 12 % of a one-shot
// 512-channel call), in blocks that stop at the first one holding a non-finite value.
template <class T>
bool all_finite(const T* w, i64 n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits exponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr i64 kBlock = 4096;
  for (i64 i0 = 0; i0 < n; i0 += kBlock) {
    Bits non_finite = 0;
    for (i64 i = i0; i < std::min(n, i0 + kBlock); ++i) {
      Bits bits;
      std::memcpy(&bits, w + i, sizeof bits);
      non_finite |= Bits((bits & exponent) == exponent);
    }
    if (non_finite != 0) return false;
  }
  return true;
}

// Output channels whose Winograd weights are transformed together (a panel's, at most).
constexpr i64 kWinogradFilters = 64;

// r[i][j] = sum over k of G[i][k] a[k][j] for j < n: Winograd F(4x4, 3x3)'s
// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1] applied to n
// filters at once with its rows' shared sums (a loop over filters that compilers vectorise; the
// 3 x 3 products one filter at a time were most of a one-shot call with 256 channels).
template <class T>
void apply_winograd_g(const T* const a[3], i64 n, T* const r[kWinogradIn]) {
  for (i64 j = 0; j < n; ++j) {
    const T a0 = a[0][j], a1 = a[1][j], a2 = a[2][j], even = a0 + a2, quarter = T(0.25) * a0 + a2;
    r[0][j] = T(0.25) * a0;
    r[1][j] = (even + a1) * T(-1.0 / 6);
    r[2][j] = (even - a1) * T(-1.0 / 6);
    r[3][j] = (quarter + T(0.5) * a1) * T(1.0 / 6);
    r[4][j] = (quarter - T(0.5) * a1) * T(1.0 / 6);
    r[5][j] = a2;
  }
}

// u[point][j] = (G g_j G^T)[point] for the n filters g_j = w(g, oc0 + j, ci, :, :).
template <class T>
void winograd_weights(const WeightView<T>& w, i64 g, i64 oc0, i64 ci, i64 n,
                      T (&u)[kWinogradPoints][kWinogradFilters]) {
  T taps[9][kWinogradFilters], gg[kWinogradIn][3][kWinogradFilters];  // gg[i][kx] = (G g)[i][kx]
  for (i64 t = 0; t < 9; ++t)
    for (i64 j = 0; j < n; ++j) taps[t][j] = w.at(g, oc0 + j, ci, t / 3, t % 3);
  for (i64 kx = 0; kx < 3; ++kx) {
    const T* column[3] = {taps[kx], taps[3 + kx], taps[6 + kx]};
    T* rows[kWinogradIn];
    for (i64 i = 0; i < kWinogradIn; ++i) rows[i] = gg[i][kx];
    apply_winograd_g(column, n, rows);
  }
  for (i64 i = 0; i < kWinogradIn; ++i) {
    const T* row[3] = {gg[i][0], gg[i][1], gg[i][2]};
    T* points[kWinogradIn];
    for (i64 j = 0; j < kWinogradIn; ++j) points[j] = u[i * kWinogradIn + j];
    apply_winograd_g(row, n, points);
  }
}

}  // namespace

// Weights and bias in the layout of one algorithm on one SIMD path.
template <class T>
struct PreparedConv<T>::Packed {
  const KernelTable* table;
  ConvAlgorithm algorithm;
  bool nhwc;
  i64 panel_cols;  // output channels per packed block or panel (the register tile's)
  CachedBuffer weights;
  ScratchBuffer bias;  // nullptr where the kernel takes none
  i64 group_stride = 0, bias_stride = 0;
};

template <class T>
PreparedConv<T>::PreparedConv(const T* weights, bool hwio, const T* bias, i64 groups, i64 o, i64 cg, i64 kh, i64 kw,
                              Activation activation, double alpha, bool single_use)
    : weights_(weights, hwio, o, cg, o / groups, kh, kw),
      bias_(bias),
      groups_(groups),
      o_(o),
      cg_(cg),
      kh_(kh),
      kw_(kw),
      activation_(activation),
      alpha_(T(alpha)),
      single_use_(single_use) {
  if (groups < 1 || o < 1 || cg < 1 || kh < 1 || kw < 1 || o % groups != 0)
    throw std::invalid_argument("weight: empty, or its output channels are not a multiple of groups");
  finite_weights_ = all_finite(weights, o * cg * kh * kw);  // every layout: o x cg x kh x kw values
}

template <class T>
void PreparedConv<T>::validate(const ConvShape& s) const {
  if (s.groups != groups_ || s.o != o_ || s.c != cg_ * groups_ || s.kh != kh_ || s.kw != kw_)
    throw std::invalid_argument("x: its channels do not match the prepared weights");
  if (s.sh < 1 || s.sw < 1 || s.dh < 1 || s.dw < 1 || s.pad_top < 0 || s.pad_bottom < 0 || s.pad_left < 0 ||
      s.pad_right < 0 || s.n < 0 || s.h < 1 || s.w < 1)
    throw std::invalid_argument("conv2d: stride, dilation, padding or input size out of range");
  if (s.out_h() < 1 || s.out_w() < 1) throw std::invalid_argument("weight: larger than the padded input");
}

template <class T>
ConvPlan PreparedConv<T>::plan(const ConvShape& s, int n_threads) const {
  validate(s);
  const ConvShape shape = planned_shape(s, pointwise_strip<T>(kernels()));
  ConvPlan plan = make_conv_plan<T>(shape, kernels(), std::max(n_threads, 1), finite_weights_, single_use_);
  if (shape.h != s.h || shape.w != s.w)
    plan.copy_bytes += static_cast<std::size_t>(subsampled_images<T>(shape) * shape.c * shape.h * shape.w) * sizeof(T);
  return plan;
}

template <class T>
std::shared_ptr<const typename PreparedConv<T>::Packed> PreparedConv<T>::packed_for(const KernelTable& table,
                                                                                    ConvAlgorithm algorithm,
                                                                                    bool nhwc, i64 panel_cols,
                                                                                    int n_threads) const {
  // The depthwise taps' layout depends on the data layout only, not on the plan's register tile.
  if (algorithm == ConvAlgorithm::depthwise) panel_cols = 0;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& entry : packed_)
    if (entry->table == &table && entry->algorithm == algorithm && entry->nhwc == nhwc &&
        entry->panel_cols == panel_cols)
      return entry;

  auto packed = std::make_shared<Packed>();
  packed->table = &table;
  packed->algorithm = algorithm;
  packed->nhwc = nhwc;
  packed->panel_cols = panel_cols;
  const i64 og = o_ / groups_, taps = kh_ * kw_, depth = taps * cg_;
  const WeightView<T>& w = weights_;
  if (algorithm == ConvAlgorithm::depthwise) {
    // The NCHW kernel reads the taps as (c, kh, kw), the NHWC kernel as (kh, kw, c).
    const i64 c = groups_;
    packed->weights = allocate_packed<T>(c * taps);
    T* taps_out = static_cast<T*>(packed->weights.get());
    for (i64 ch = 0; ch < c; ++ch)
      for (i64 t = 0; t < taps; ++t) taps_out[nhwc ? t * c + ch : ch * taps + t] = w.at(ch, 0, 0, t / kw_, t % kw_);
    if (bias_ != nullptr) {
      packed->bias = allocate<T>(c);
      std::copy(bias_, bias_ + c, static_cast<T*>(packed->bias.get()));
    }
  } else if (algorithm == ConvAlgorithm::winograd) {
    pack_winograd(*packed, n_threads);
  } else {
    // Per group, blocks (direct) or panels (GEMM) of `cols` output channels, [block][depth][cols],
    // depth ordered (cg, kh, kw) for the direct kernels and (kh, kw, cg) for the GEMM, zero-padded
    // to whole blocks; the bias per group zero-padded the same way.
    const bool gemm = algorithm == ConvAlgorithm::indirect_gemm;
    const i64 cols = panel_cols;  // the plan's register-tile width
    const i64 blocks = ceil_div(og, cols);
    packed->group_stride = blocks * depth * cols;
    packed->bias_stride = blocks * cols;
    packed->weights = allocate_packed<T>(groups_ * packed->group_stride);
    T* out = static_cast<T*>(packed->weights.get());
    const bool parallel = o_ * depth >= kParallelPackElements;
parallel_for(groups_ * blocks, parallel ? n_threads : 1, [&](i64 gb) {
      const i64 g = gb / blocks, oc0 = gb % blocks * cols;
      T* block = out + gb * depth * cols;
      const i64 valid = std::min(cols, og - oc0);
      for (i64 ci = 0; ci < cg_; ++ci)
        for (i64 t = 0; t < taps; ++t) {
          T* row = block + (gemm ? t * cg_ + ci : ci * taps + t) * cols;  // contiguous stores
          for (i64 j = 0; j < valid; ++j) row[j] = w.at(g, oc0 + j, ci, t / kw_, t % kw_);
          std::fill(row + valid, row + cols, T(0));
        }
    });
    if (bias_ != nullptr || !gemm) pack_bias(*packed);  // the direct kernels start their sums at the (zero) bias
  }
  packed_.push_back(packed);
  return packed;
}

template <class T>
void PreparedConv<T>::pack_bias(Packed& packed) const {
  const i64 og = o_ / groups_;
  packed.bias = allocate<T>(groups_ * packed.bias_stride);
  T* b = static_cast<T*>(packed.bias.get());
  std::fill(b, b + groups_ * packed.bias_stride, T(0));
  if (bias_ != nullptr)
    for (i64 g = 0; g < groups_; ++g) std::copy(bias_ + g * og, bias_ + (g + 1) * og, b + g * packed.bias_stride);
}

// Per group: U[point][panel][cg][cols] (the transformed weights in panels of the register tile's
// width, zero-padded to whole panels); the bias as for the GEMM. The tiles whose input is not
// finite read the caller's weights (see conv_winograd_kernels.cpp).
template <class T>
void PreparedConv<T>::pack_winograd(Packed& packed, int n_threads) const {
  const i64 og = o_ / groups_, cols = packed.panel_cols, panels = ceil_div(og, cols);
  if (cols > kWinogradFilters) throw std::logic_error("Winograd panels wider than kWinogradFilters");
  const i64 transformed = kWinogradPoints * panels * cg_ * cols;
  packed.group_stride = transformed;
  packed.bias_stride = panels * cols;
  packed.weights = allocate_packed<T>(groups_ * packed.group_stride);
  T* out = static_cast<T*>(packed.weights.get());
  const bool parallel = o_ * cg_ * kWinogradPoints >= kParallelPackElements;
  parallel_for(groups_ * panels, parallel ? n_threads : 1, [&](i64 gp) {
    const i64 g = gp / panels, panel = gp % panels;
    T* group = out + g * packed.group_stride;
    // A point's row of `cols` values per input channel, written whole (contiguous stores).
    const i64 oc0 = panel * cols, valid = std::min(cols, og - oc0);
    T u[kWinogradPoints][kWinogradFilters];
    for (i64 ci = 0; ci < cg_; ++ci) {
      winograd_weights(weights_, g, oc0, ci, valid, u);
      for (i64 point = 0; point < kWinogradPoints; ++point) {
        T* row = group + ((point * panels + panel) * cg_ + ci) * cols;
        std::copy(u[point], u[point] + valid, row);
        std::fill(row + valid, row + cols, T(0));
      }
    }
  });
  if (bias_ != nullptr) pack_bias(packed);
}

template <class T>
std::int64_t PreparedConv<T>::packings() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<std::int64_t>(packed_.size());  // one entry per packing
}

template <class T>
void PreparedConv<T>::run(const ConvShape& s, const T* x, T* out, int n_threads) const {
  validate(s);
  if (s.n == 0) return;
  const SubnormalsAsZero float_mode;  // on this thread and the workers (see float_mode.hpp)
  const ConvShape shape = planned_shape(s, pointwise_strip<T>(kernels()));
  if (shape.h != s.h || shape.w != s.w) {
    const i64 per_pass = subsampled_images<T>(shape), image = shape.c * shape.h * shape.w;
    ScratchBuffer copy = allocate<T>(per_pass * image);
    T* compact = static_cast<T*>(copy.get());
    for (i64 first = 0; first < s.n; first += per_pass) {
      ConvShape pass = shape;
      pass.n = std::min(per_pass, s.n - first);
      subsample(s, pass.n, x + first * s.c * s.h * s.w, compact, std::max(n_threads, 1));
      run(pass, compact, out + first * s.o * shape.h * shape.w, n_threads);
    }
    return;
  }
  const KernelTable& table = kernels();
  const ConvPlan plan = make_conv_plan<T>(s, table, std::max(n_threads, 1), finite_weights_, single_use_);
  const std::shared_ptr<const Packed> packed = packed_for(table, plan.algorithm, s.nhwc, plan.tile_channels, plan.threads);
  ConvProblem<T> p = planned_problem<T>(s, plan);
  p.x = x;
  p.out = out;
  p.packed_weights = static_cast<const T*>(packed->weights.get());
  p.packed_group_stride = packed->group_stride;
  p.weights = weights_;
  p.packed_bias = static_cast<const T*>(packed->bias.get());
  p.packed_bias_stride = packed->bias_stride;
  p.activation = activation_;
  p.alpha = alpha_;

  switch (plan.algorithm) {
    case ConvAlgorithm::depthwise:
      return run_tasks(TableEntry<T>::depthwise(table), p, 0, plan.tasks, plan.scratch_bytes, plan.threads);
    case ConvAlgorithm::direct_pointwise:
      return run_tasks(TableEntry<T>::task(table.conv_direct_pointwise), p, 0, plan.tasks, plan.scratch_bytes,
                       plan.threads);
    case ConvAlgorithm::direct_few_channels:
      return run_tasks(TableEntry<T>::task(table.conv_direct_few_channels), p, 0, plan.tasks, plan.scratch_bytes,
                       plan.threads);
    case ConvAlgorithm::direct_few_channels_nhwc:
      return run_tasks(TableEntry<T>::task(table.conv_direct_few_channels_nhwc), p, 0, plan.tasks,
                       plan.scratch_bytes, plan.threads);
    case ConvAlgorithm::indirect_gemm:
    case ConvAlgorithm::winograd:
      break;
  }
  const bool winograd = plan.algorithm == ConvAlgorithm::winograd;
  const ConvTaskFn<T> tile_fn = TableEntry<T>::task(winograd ? table.conv_winograd : table.conv_gemm);
  const i64 per_image = gemm_tasks_per_image(p);
  if (s.nhwc) return run_tasks(tile_fn, p, 0, plan.tasks, plan.scratch_bytes, plan.threads);
  // NCHW input: a pass of images (plan.copy_bytes) transposed to (H, W, C) in one parallel loop,
  // then all their tiles in one (few barriers: a thread preempted by another process stalls each).
  const i64 image_elements = s.c * s.h * s.w;
  const i64 per_pass = static_cast<i64>(plan.copy_bytes) / (image_elements * i64(sizeof(T)));
  ScratchBuffer copy = allocate<T>(per_pass * image_elements);
  T* hwc = static_cast<T*>(copy.get());
  p.x_nhwc = hwc;
  const ChannelsLastRowFn<T> transpose_row = TableEntry<T>::channels_last_row(table);
  for (i64 first = 0; first < s.n; first += per_pass) {
    const i64 images = std::min(per_pass, s.n - first);
    p.x_nhwc_first = first;
    parallel_for(
        images * s.h, plan.threads,
        [&](i64 row) {
          transpose_row(x + (first + row / s.h) * image_elements + row % s.h * s.w, s.h * s.w, s.c, s.w,
                        hwc + row * s.w * s.c);
        },
        std::max<i64>(1, images * s.h / (4 * plan.threads)));
    // GEMM tasks are numbered over all images, Winograd's over the pass (its tiles run across images).
    p.pass_images = images;
    if (winograd) {
      run_tasks(tile_fn, p, 0, winograd_tasks(p), plan.scratch_bytes, plan.threads);
    } else {
      run_tasks(tile_fn, p, first * per_image, images * per_image, plan.scratch_bytes, plan.threads);
    }
  }
}

template class PreparedConv<float>;
template class PreparedConv<double>;

}  // namespace kk
