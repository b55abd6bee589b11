// The register-blocked building blocks shared by the kernel families (Gram matrices, convolution):
// the micro-kernel over packed panels, in-register transposes and output writers. Compiled per
// instruction set: everything lives in kk::KK_ISA.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernelkit/simd.hpp"

#define KK_ALWAYS_INLINE __attribute__((always_inline))

namespace kk {
namespace KK_ISA {

using i64 = std::int64_t;

inline i64 min_i64(i64 a, i64 b) { return a < b ? a : b; }
inline i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

// Output columns [lo, hi) (hi <= ow) whose input column ox * sw + offset lies inside [0, w);
// lo == hi when there are none.
inline void valid_columns(i64 offset, i64 sw, i64 w, i64 ow, i64& lo, i64& hi) {
  lo = offset >= 0 ? 0 : (-offset + sw - 1) / sw;
  hi = offset >= w ? 0 : (w - 1 - offset) / sw + 1;
  hi = min_i64(hi, ow);
  if (lo > hi) lo = hi;
}

// The even lanes of the 2W values a, b (W = lanes): one shuffle (__builtin_shufflevector, which
// Clang and GCC >= 12 both understand, as in transpose_stage below).
template <class T, std::size_t... L>
KK_ALWAYS_INLINE inline vec<T> even_lanes(vec<T> a, vec<T> b, std::index_sequence<L...>) {
  return __builtin_shufflevector(a, b, int(2 * L)...);
}

// out[j] = row[2 * j] for j < n, where row[0, readable) may be read: a vector of outputs from two
// loads and a shuffle (GCC leaves the plain strided loop scalar, about three instructions a value,
// which made stride-2 layers' copies most of their time).
template <class T>
inline void copy_even(const T* row, i64 n, i64 readable, T* out) {
  constexpr int W = lanes<T>;
  i64 j = 0;
  for (; j + W <= n && 2 * (j + W) <= readable; j += W)
    store<T>(out + j, even_lanes<T>(load<T>(row + 2 * j), load<T>(row + 2 * j + W), std::make_index_sequence<W>{}));
  for (; j < n; ++j) out[j] = row[2 * j];
}

// The columns of a padded, stride-phase-split copy of input rows: n of them (a whole number of
// vectors), the input's w columns read from `first` every `step`, [lo, hi) inside the input. The
// same for every row of a plane: computed once, not per row (its two divisions cost small planes'
// depthwise layers a tenth of their time).
struct PhaseColumns {
  i64 w, first, step, n, lo, hi;
  PhaseColumns(i64 w_, i64 first_, i64 step_, i64 n_) : w(w_), first(first_), step(step_), n(n_) {
    valid_columns(first, step, w, n, lo, hi);
  }
};

// For each of `channels` channels ci: dst[ci * channel_stride + j] = src[(first + j * step) * pitch
// + ci * channel_pitch] for j < n, zero where first + j * step lies outside [0, w) (the columns of
// `g`): a padded, stride-phase-split copy of an input row. Channel rows (NCHW, pitch 1) are copied
// one by one; interleaved channels (NHWC) in one pass over the pixels. Vector loops, no library
// calls: the rows of small planes are shorter than a call's overhead.
template <class T>
inline void copy_phase(const T* src, i64 pitch, i64 channel_pitch, i64 channels, const PhaseColumns& g, T* dst,
                       i64 channel_stride) {
  constexpr int W = lanes<T>;
  const i64 first = g.first, step = g.step, w = g.w, lo = g.lo, hi = g.hi;
  const vec<T> zero = splat<T>(T(0));
  for (i64 ci = 0; ci < channels; ++ci) {  // the zeros first: their whole vectors overlap the copy
    T* out = dst + ci * channel_stride;
    for (i64 j = 0; j < lo; j += W) store<T>(out + j, zero);
    for (i64 j = hi / W * W; j < g.n; j += W) store<T>(out + j, zero);
  }
  if (pitch != 1) {
    for (i64 j = lo; j < hi; ++j) {
      const T* pixel = src + (first + j * step) * pitch;
      for (i64 ci = 0; ci < channels; ++ci) dst[ci * channel_stride + j] = pixel[ci * channel_pitch];
    }
    return;
  }
  for (i64 ci = 0; ci < channels; ++ci) {
    const T* row = src + ci * channel_pitch + first;
    T* out = dst + ci * channel_stride;
    if (step == 1) {
      i64 j = lo;
      for (; j + W <= hi; j += W) store<T>(out + j, load<T>(row + j));
      if (j < hi) store_partial<T>(out + j, load_partial<T>(row + j, hi - j), hi - j);
    } else if (step == 2) {
      copy_even<T>(row + 2 * lo, hi - lo, w - first - 2 * lo, out + lo);
    } else {
      for (i64 j = lo; j < hi; ++j) out[j] = row[j * step];
    }
  }
}

// The padded, stride-phase-split copy of `rows` input rows from input row iy0 (of h, row_pitch
// apart, x at row 0): row y at dst + y * row_stride (a whole number of vectors), zeros where the row
// lies outside the input, else `step` phases of n columns each (phase f at f * n, its columns read
// from first + f, as copy_phase). Each phase's valid columns are found once for all the rows.
template <class T>
inline void copy_padded_rows(const T* x, i64 row_pitch, i64 pitch, i64 channel_pitch, i64 channels, i64 h, i64 w,
                             i64 iy0, i64 rows, i64 first, i64 step, i64 n, T* dst, i64 row_stride,
                             i64 channel_stride) {
  constexpr int W = lanes<T>;
  const i64 y0 = std::clamp<i64>(-iy0, 0, rows), y1 = std::clamp<i64>(h - iy0, y0, rows);  // rows inside the input
  const vec<T> zero = splat<T>(T(0));
  const auto zero_rows = [&](i64 from, i64 to) {
    for (i64 j = from * row_stride; j < to * row_stride; j += W) store<T>(dst + j, zero);
  };
  zero_rows(0, y0);
  zero_rows(y1, rows);
  for (i64 f = 0; f < step; ++f) {
    const PhaseColumns columns(w, first + f, step, n);
    for (i64 y = y0; y < y1; ++y)
      copy_phase<T>(x + (iy0 + y) * row_pitch, pitch, channel_pitch, channels, columns, dst + y * row_stride + f * n,
                    channel_stride);
  }
}

// Calls f(std::integral_constant<int, U>{}) for the smallest U in [1, V] with U >= vectors: the
// narrowest strip of U vectors that covers the last `vectors` vectors of a row. Not forced inline:
// the tail strips inlined into the caller's row loop made the whole row slower (measured: one RGB
// 128x128 image through a 3x3 layer, 0.20 -> 0.34 ms on one thread).
template <int V, class F>
inline void narrowest_strip(i64 vectors, F&& f) {
  if constexpr (V > 1) {
    if (vectors < V) return narrowest_strip<V - 1>(vectors, std::forward<F>(f));
  }
  f(std::integral_constant<int, V>{});
}

#if defined(__AVX512F__)
constexpr int kRegisters = 32;
#else
constexpr int kRegisters = 16;
#endif

// A register tile is `rows` x (kVectorsPerRow * lanes) results.
constexpr int kVectorsPerRow = 2;
template <class T>
constexpr int kPanelCols = kVectorsPerRow * lanes<T>;
// Depth of one packed block: 768 bytes per packed row keep a column panel in L1, and the row block
// together with the tile buffer in a 512 KiB L2 (measured best for d = 512 and 1024 on Zen 3).
template <class T>
constexpr i64 kDepthBlock = 768 / i64(sizeof(T));

// Inner products: the rows are sized so that accumulators + operands fill the register file.
struct DotStep {
  static constexpr int rows = kRegisters == 32 ? 14 : 6;
  template <class T>
  static vec<T> step(vec<T> acc, vec<T> a, vec<T> b) {
    return a * b + acc;
  }
};

// A register tile: MR rows x (kVectorsPerRow * lanes) columns of accumulators.
template <class T, int MR>
using Accumulators = vec<T>[MR][kVectorsPerRow];

template <class T, int MR>
KK_ALWAYS_INLINE inline void zero(Accumulators<T, MR>& acc) {
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerRow; ++v) acc[r][v] = splat<T>(T(0));
}

// acc += sum over k < kc of Step(a(r, k), b_k) for a packed panel b (kc x NR); returns b advanced
// past it. `a(r, k)` reads row r of the left operand: a packed panel or rows read in place.
template <class T, class Step, int MR, class RowValue>
KK_ALWAYS_INLINE inline const T* accumulate(Accumulators<T, MR>& acc, i64 kc, RowValue a, const T* b) {
  constexpr int W = lanes<T>;
  for (i64 k = 0; k < kc; ++k) {
    vec<T> bv[kVectorsPerRow];
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerRow; ++v) bv[v] = load<T>(b + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const vec<T> av = splat<T>(a(r, k));
#pragma GCC unroll 4
      for (int v = 0; v < kVectorsPerRow; ++v) acc[r][v] = Step::template step<T>(acc[r][v], av, bv[v]);
    }
    b += kPanelCols<T>;
  }
  return b;
}

// c (row stride ldc) = acc, or c + acc unless `first`.
template <class T, int MR>
KK_ALWAYS_INLINE inline void store_tile(const Accumulators<T, MR>& acc, T* c, i64 ldc, bool first) {
  constexpr int W = lanes<T>;
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectorsPerRow; ++v) {
      T* dst = c + r * ldc + v * W;
      store<T>(dst, first ? acc[r][v] : acc[r][v] + load<T>(dst));
    }
}

// c (row stride ldc) = sum over the depth block of Step(a_k, b_k) for packed panels a (kc x MR) and
// b (kc x NR), added to what c holds unless this is the first depth block. The accumulators stay in
// registers for the whole block.
template <class T, class Step, int MR>
KK_ALWAYS_INLINE inline void register_tile(i64 kc, const T* __restrict a, const T* __restrict b, T* c, i64 ldc,
                                           bool first) {
  Accumulators<T, MR> acc;
  zero<T, MR>(acc);
  accumulate<T, Step, MR>(acc, kc, [a](int r, i64 k) { return a[k * MR + r]; }, b);
  store_tile<T, MR>(acc, c, ldc, first);
}

// Stage H of an in-register W x W transpose (W = lanes): swaps the off-diagonal H x H blocks of
// every 2H x 2H block. Stages H = W/2, ..., 1 together transpose the whole block.
// __builtin_shufflevector (constant lane indices) is understood by Clang and GCC >= 12 alike;
// GCC's __builtin_shuffle (index vector) is not by Clang.
template <class T, int H, std::size_t... L>
KK_ALWAYS_INLINE inline void transpose_stage(vec<T> (&v)[lanes<T>], std::index_sequence<L...>) {
  constexpr int W = lanes<T>;
#pragma GCC unroll 16
  for (int r = 0; r < W; ++r) {
    if (r & H) continue;
    const vec<T> a = v[r], b = v[r + H];
    v[r] = __builtin_shufflevector(a, b, ((L & H) ? W + int(L) - H : int(L))...);
    v[r + H] = __builtin_shufflevector(a, b, ((L & H) ? W + int(L) : int(L) + H)...);
  }
}

template <class T, int H = lanes<T> / 2>
KK_ALWAYS_INLINE inline void transpose_block(vec<T> (&v)[lanes<T>]) {
  if constexpr (H >= 1) {
    transpose_stage<T, H>(v, std::make_index_sequence<lanes<T>>{});
    transpose_block<T, H / 2>(v);
  }
}

// out[j0 + q][i0 + r] = c[r][q] for the block of W rows at r and W columns at q.
template <class T>
inline void write_transposed_block(const T* c, i64 ldc, T* out, i64 ldo, i64 i0, i64 j0, i64 r, i64 q,
                                   bool stream) {
  constexpr int W = lanes<T>;
  vec<T> v[W];
#pragma GCC unroll 16
  for (int t = 0; t < W; ++t) v[t] = load<T>(c + (r + t) * ldc + q);
  transpose_block<T>(v);
  T* dst = out + (j0 + q) * ldo + i0 + r;
  if (stream && reinterpret_cast<std::uintptr_t>(dst) % kVectorBytes == 0 &&
      (ldo * i64(sizeof(T))) % kVectorBytes == 0) {
#pragma GCC unroll 16
    for (int t = 0; t < W; ++t) stream_store(dst + t * ldo, v[t]);
    return;
  }
#pragma GCC unroll 16
  for (int t = 0; t < W; ++t) store<T>(dst + t * ldo, v[t]);
}

// The edge block of write_transposed: nr < W rows and/or nq < W columns, read and written with
// partial loads and stores, so that nothing outside them is touched.
template <class T>
inline void write_transposed_edge(const T* c, i64 ldc, T* out, i64 ldo, i64 i0, i64 j0, i64 r, i64 q, i64 nr,
                                  i64 nq) {
  constexpr int W = lanes<T>;
  vec<T> v[W];
#pragma GCC unroll 16
  for (int t = 0; t < W; ++t) v[t] = t < nr ? load_partial<T>(c + (r + t) * ldc + q, nq) : splat<T>(T(0));
  transpose_block<T>(v);
  T* dst = out + (j0 + q) * ldo + i0 + r;
  for (i64 t = 0; t < nq; ++t) store_partial<T>(dst + t * ldo, v[t], nr);
}

// out[(j0 + q) * ldo + i0 + r] = c[r * ldc + q] for r < rows, q < cols: W x W blocks through
// registers (streaming stores for whole blocks when `stream`; the caller fences), the edge blocks
// with partial loads and stores.
template <class T>
inline void write_transposed(const T* c, i64 ldc, i64 rows, i64 cols, T* out, i64 ldo, i64 i0, i64 j0, bool stream) {
  constexpr int W = lanes<T>;
  for (i64 q = 0; q < cols; q += W)
    for (i64 r = 0; r < rows; r += W) {
      if (r + W <= rows && q + W <= cols) {
        write_transposed_block<T>(c, ldc, out, ldo, i0, j0, r, q, stream);
      } else {
        write_transposed_edge<T>(c, ldc, out, ldo, i0, j0, r, q, min_i64(W, rows - r), min_i64(W, cols - q));
      }
    }
}

// dst[0:n] = src[0:n]; the aligned middle with streaming stores when `stream` (large outputs, which
// would only evict the working set and pay a read-for-ownership per line).
template <class T>
inline void copy_row(T* dst, const T* src, i64 n, bool stream) {
  constexpr int W = lanes<T>;
  if (!stream) {
    std::memcpy(dst, src, sizeof(T) * n);
    return;
  }
  i64 k = 0;
  for (; k < n && reinterpret_cast<std::uintptr_t>(dst + k) % kVectorBytes != 0; ++k) dst[k] = src[k];
  for (; k + W <= n; k += W) stream_store(dst + k, load<T>(src + k));
  for (; k < n; ++k) dst[k] = src[k];
}

}  // namespace KK_ISA
}  // namespace kk
