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

// Kernels templated on K take a K x K kernel when K > 0 (its tap loops unrolled: the 3 x 3 layers of
// small planes spent most of their instructions on the loops over taps) or the problem's kh x kw
// when K == 0.
template <int K, class T>
inline i64 kernel_rows(const ConvProblem<T>& p) { return K > 0 ? K : p.kh; }
template <int K, class T>
inline i64 kernel_cols(const ConvProblem<T>& p) { return K > 0 ? K : p.kw; }

// V vectors of output pixels of one row (src at the strip's first output pixel in the padded plane,
// offsets[t] where tap t reads relative to it), every tap accumulated in registers; stored straight
// into the output row (only `columns` of them when the row ends inside the strip).
template <class T, int V, int K>
KK_ALWAYS_INLINE inline void depthwise_strip(const ConvProblem<T>& p, const T* src, const i64* offsets,
                                             const T* wk, T bias, T* dst, i64 columns) {
  constexpr int W = lanes<T>;
  vec<T> acc[1][V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[0][v] = splat<T>(bias);
  const i64 taps = kernel_rows<K>(p) * kernel_cols<K>(p);
#pragma GCC unroll 9
  for (i64 t = 0; t < taps; ++t) {
    const vec<T> wv = splat<T>(wk[t]);
    const T* at = src + offsets[t];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[0][v] = wv * load<T>(at + v * W) + acc[0][v];
  }
  store_activated<T, 1, V>(acc, p.activation, p.alpha, dst, 0, 1, columns);
}

// The zero-padded copy of one NCHW plane: every padded row the outputs read, split into sw phases
// (phase f holds padded columns f, f + sw, f + 2 sw, ...), each phase_len long, so that every tap
// of every stride is a run of consecutive values (as the direct kernel's row copies are).
template <class T>
struct PaddedPlane {
  i64 rows, phase_len, row_stride;
  explicit PaddedPlane(const ConvProblem<T>& p)
      : rows(input_rows_spanned(p, p.oh)),
        // whole vectors of outputs, plus the furthest tap within a phase
        phase_len(ceil_div(ceil_div(p.ow, lanes<T>) * lanes<T> + (p.kw - 1) * p.dw / p.sw + 1, lanes<T>) * lanes<T>),
        row_stride(p.sw * phase_len) {}
  i64 elements() const { return rows * row_stride; }
};

// NCHW: one plane, copied into its padded, phase-split form, then each strip of output pixels
// accumulates all taps in registers.
template <class T, int K>
void depthwise_plane(const ConvProblem<T>& p, i64 image, i64 ch, T* padded, i64* offsets) {
  constexpr int W = lanes<T>;
  constexpr int V = 4;  // vectors per strip
  const PaddedPlane<T> g(p);
  const T* x = p.x + (image * p.c + ch) * p.h * p.w;
  copy_padded_rows<T>(x, p.w, 1, 0, 1, p.h, p.w, -p.pad_top, g.rows, -p.pad_left, p.sw, g.phase_len, padded,
                      g.row_stride, 0);
  const T* wk = p.packed_weights + ch * p.kh * p.kw;
  const T bias = p.packed_bias != nullptr ? p.packed_bias[ch] : T(0);
  T* out = p.out + (image * p.o + ch) * p.oh * p.ow;
  for (i64 oy = 0; oy < p.oh; ++oy) {
    const T* src = padded + oy * p.sh * g.row_stride;
    T* dst = out + oy * p.ow;
    i64 ox = 0;
    for (; ox + V * W <= p.ow; ox += V * W) depthwise_strip<T, V, K>(p, src + ox, offsets, wk, bias, dst + ox, V * W);
    if (ox < p.ow)
      narrowest_strip<V>(ceil_div(p.ow - ox, W), [&](auto vectors) {
        depthwise_strip<T, decltype(vectors)::value, K>(p, src + ox, offsets, wk, bias, dst + ox, p.ow - ox);
      });
  }
}

// Whether tap (ky, kx) reads the zero padding of a pixel whose in-image taps are [ky0, ky1) x
// [kx0, kx1).
inline bool in_padding(i64 ky, i64 kx, i64 ky0, i64 ky1, i64 kx0, i64 kx1) {
  return ky < ky0 || ky >= ky1 || kx < kx0 || kx >= kx1;
}

// NHWC, one output pixel: channels [ch, ch + V vectors) accumulate the in-image taps
// [ky0, ky1) x [kx0, kx1) in registers (`first`: the element offset in x of the pixel's first tap,
// which may lie outside the image). The taps over the zero padding add weight * 0, as the other
// algorithms' padded copies do: nothing, except NaN for an Inf or NaN weight (IEEE's inf * 0).
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
  if (ky1 - ky0 < p.kh || kx1 - kx0 < p.kw) {  // a border pixel
    const vec<T> zero = splat<T>(T(0));
    for (i64 ky = 0; ky < p.kh; ++ky)
      for (i64 kx = 0; kx < p.kw; ++kx) {
        if (!in_padding(ky, kx, ky0, ky1, kx0, kx1)) continue;
        const T* wk = p.packed_weights + (ky * p.kw + kx) * c + ch;
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) acc[0][v] = load<T>(wk + v * W) * zero + acc[0][v];
      }
  }
  store_activated<T, 1, V>(acc, p.activation, p.alpha, dst + ch, 0, 1, V * W);  // always whole
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
      if (ky1 - ky0 < p.kh || kx1 - kx0 < p.kw)  // the padding's taps, as in depthwise_pixel_block
        for (i64 ky = 0; ky < p.kh; ++ky)
          for (i64 kx = 0; kx < p.kw; ++kx)
            if (in_padding(ky, kx, ky0, ky1, kx0, kx1)) acc += p.packed_weights[(ky * p.kw + kx) * c + ch] * T(0);
      dst[ch] = activate_scalar(acc, p.activation, p.alpha);
    }
  }
}

// The zero-padded, channels-last copy of `lanes` NCHW planes for the channel-block kernel: every
// padded row and column the outputs read, one vector of channels per pixel.
template <class T>
struct ChannelBlock {
  i64 rows, cols;
  explicit ChannelBlock(const ConvProblem<T>& p)
      : rows(input_rows_spanned(p, p.oh)), cols((p.ow - 1) * p.sw + (p.kw - 1) * p.dw + 1) {}
  i64 input_elements() const { return rows * cols * lanes<T>; }
};

// Output pixels [ox, ox + P) of row oy of a channel block: one vector of channels each, every tap
// accumulated in registers, stored channels-last into `results`.
template <class T, int P, int K>
KK_ALWAYS_INLINE inline void channel_block_pixels(const ConvProblem<T>& p, const ChannelBlock<T>& g, const T* block,
                                                  const vec<T>* weights, vec<T> bias, i64 oy, i64 ox, T* results) {
  constexpr int W = lanes<T>;
  const T* at = block + (oy * p.sh * g.cols + ox * p.sw) * W;
  vec<T> acc[P];
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) acc[q] = bias;
  const i64 kh = kernel_rows<K>(p), kw = kernel_cols<K>(p);
#pragma GCC unroll 3
  for (i64 ky = 0; ky < kh; ++ky)
#pragma GCC unroll 3
    for (i64 kx = 0; kx < kw; ++kx) {
      const vec<T> w = weights[ky * kw + kx];
      const T* tap = at + (ky * p.dh * g.cols + kx * p.dw) * W;
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) acc[q] = w * load<T>(tap + q * p.sw * W) + acc[q];
    }
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) store<T>(results + (oy * p.ow + ox + q) * W, activate<T>(acc[q], p.activation, p.alpha));
}

// NCHW with planes too narrow for strips along their rows: channels [ch0, ch0 + n) of one image (n
// <= lanes) are transposed channels-last through registers into a padded block, every output pixel
// is one vector of channels accumulating all taps (the taps' weights held in registers), and the
// results are transposed back into the planes.
template <class T, int K>
void depthwise_channel_block(const ConvProblem<T>& p, i64 image, i64 ch0, T* scratch) {
  constexpr int W = lanes<T>;
  const ChannelBlock<T> g(p);
  const i64 n = min_i64(W, p.c - ch0), taps = p.kh * p.kw, plane = p.h * p.w, out_plane = p.oh * p.ow;
  T* block = scratch;
  T* results = block + g.input_elements();
  vec<T>* weights = reinterpret_cast<vec<T>*>(results + out_plane * W);  // taps vectors, aligned below
  const vec<T> zero = splat<T>(T(0));
  for (i64 j = 0; j < g.input_elements(); j += W) store<T>(block + j, zero);
  const T* x = p.x + (image * p.c + ch0) * plane;
  for (i64 y = 0; y < g.rows; ++y) {
    const i64 iy = y - p.pad_top;
    if (iy < 0 || iy >= p.h) continue;
    i64 lo, hi;  // input columns inside the padded row
    valid_columns(-p.pad_left, 1, p.w, g.cols, lo, hi);
    write_transposed<T>(x + iy * p.w + lo - p.pad_left, plane, n, hi - lo, block + (y * g.cols + lo) * W, W, 0, 0,
                        false);
  }
  for (i64 t = 0; t < taps; ++t) {
    T lanes_of_tap[W] = {};
    for (i64 r = 0; r < n; ++r) lanes_of_tap[r] = p.packed_weights[(ch0 + r) * taps + t];
    weights[t] = load<T>(lanes_of_tap);
  }
  T bias_lanes[W] = {};
  if (p.packed_bias != nullptr)
    for (i64 r = 0; r < n; ++r) bias_lanes[r] = p.packed_bias[ch0 + r];
  const vec<T> bias = load<T>(bias_lanes);
  constexpr int P = 4;  // output pixels at a time: independent sums hide the FMA latency
  for (i64 oy = 0; oy < p.oh; ++oy) {
    i64 ox = 0;
    for (; ox + P <= p.ow; ox += P) channel_block_pixels<T, P, K>(p, g, block, weights, bias, oy, ox, results);
    if (ox < p.ow)
      narrowest_strip<P>(p.ow - ox, [&](auto pixels) {
        channel_block_pixels<T, decltype(pixels)::value, K>(p, g, block, weights, bias, oy, ox, results);
      });
  }
  write_transposed<T>(results, W, out_plane, n, p.out + (image * p.o + ch0) * out_plane, out_plane, 0, 0, false);
}

// One NCHW task: channel_units planes (numbered image * C + channel), or with channel blocks
// (channel_block = lanes) one block of lanes channels of an image (numbered image * blocks +
// block).
template <class T, int K>
void depthwise_nchw_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  if (p.channel_block > 0) {
    const i64 blocks = ceil_div(p.c, p.channel_block);
    return depthwise_channel_block<T, K>(p, task / blocks, task % blocks * p.channel_block, static_cast<T*>(scratch));
  }
  const PaddedPlane<T> g(p);
  T* padded = static_cast<T*>(scratch);
  i64* offsets = reinterpret_cast<i64*>(padded + g.elements());
  for (i64 ky = 0; ky < p.kh; ++ky)
    for (i64 kx = 0; kx < p.kw; ++kx) {
      const i64 at = kx * p.dw;
      offsets[ky * p.kw + kx] = ky * p.dh * g.row_stride + at % p.sw * g.phase_len + at / p.sw;
    }
  const i64 last = min_i64((task + 1) * p.channel_units, p.n * p.c);
  for (i64 plane = task * p.channel_units; plane < last; ++plane)
    depthwise_plane<T, K>(p, plane / p.c, plane % p.c, padded, offsets);
}

// One task: as depthwise_nchw_task, or an output row (NHWC: image * OH + row).
template <class T>
void depthwise_task(const ConvProblem<T>& p, i64 task, void* scratch) {
  if (p.nhwc) return depthwise_row_nhwc<T>(p, task / p.oh, task % p.oh);
  if (p.kh == 3 && p.kw == 3) return depthwise_nchw_task<T, 3>(p, task, scratch);
  depthwise_nchw_task<T, 0>(p, task, scratch);
}

// The padded plane and the tap offsets, or the channel block, its results and the taps' weight
// vectors (NCHW; the NHWC rows need none).
template <class T>
std::int64_t depthwise_scratch_elements(const ConvProblem<T>& p) {
  if (p.nhwc) return 1;
  if (p.channel_block > 0)
    return ChannelBlock<T>(p).input_elements() + (p.oh * p.ow + p.kh * p.kw) * lanes<T> + 64;
  return PaddedPlane<T>(p).elements() + p.kh * p.kw * i64(sizeof(i64) / sizeof(T)) + 64;
}

}  // namespace

void fill_depthwise_entries(KernelTable& table) {
  table.depthwise_f32 = &depthwise_task<float>;
  table.depthwise_f64 = &depthwise_task<double>;
  table.depthwise_scratch_f32 = &depthwise_scratch_elements<float>;
  table.depthwise_scratch_f64 = &depthwise_scratch_elements<double>;
}

}  // namespace KK_ISA
}  // namespace kk
