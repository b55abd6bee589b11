// Gram-matrix tile kernels: packed panels, register-blocked micro-kernels for each form of
// gram.hpp, and the kernels' fused epilogues (exp, tanh, powers, norms) applied to each tile
// before it is stored; the dispatch over the kernels follows gram_kernels.def.
// Compiled once per instruction set into kk::<isa> (see CMakeLists.txt); the OpenMP loop over
// tiles, the mirroring of symmetric results and all argument checks live in cpp/src/gram_driver.cpp.
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <type_traits>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/gram.hpp"
#include "kernelkit/microkernel.hpp"
#include "kernelkit/simd_math.hpp"

namespace kk {
namespace KK_ISA {
namespace {

#if defined(__AVX512F__)
constexpr i64 kTile = 224;  // a multiple of 14 (rows of a dot tile) and of 32 (float columns)
#else
constexpr i64 kTile = 240;
#endif

// sum |x - y| (laplacian).
struct AbsDiffStep {
  static constexpr int rows = kRegisters == 32 ? 12 : 5;
  template <class T>
  static vec<T> step(vec<T> acc, vec<T> a, vec<T> b) {
    return acc + abs<T>(a - b);
  }
};

// sum (x - y)^2 / (x + y), where 0/0 counts as 0: with x, y >= 0 and subnormals counted as zero (the
// drivers' floating-point mode, kernelkit/float_mode.hpp), the sum is below the smallest normal only
// when x = y = 0, so clamping it there changes no other term. Sums above 2^(max exponent - 4), whose
// approximate reciprocal would be 0, are the driver's to recompute (gram_driver.cpp).
struct Chi2Step {
  static constexpr int rows = kRegisters == 32 ? 8 : 4;
  template <class T>
  static vec<T> step(vec<T> acc, vec<T> a, vec<T> b) {
    const vec<T> diff = a - b;
    const vec<T> sum = max_keep_nan<T>(a + b, splat<T>(std::numeric_limits<T>::min()));
    return diff * (diff * reciprocal(sum)) + acc;  // |diff| <= sum: no overflow of diff^2
  }
};

// The forms' values (gram.hpp's GramForm) from the accumulated sum s at row i, columns j..j+lanes.
template <class T>
struct AccumulatedValue {  // dot, l1_distance, chi2_sum: the sum itself
  static constexpr bool is_identity = true;
  explicit AccumulatedValue(const GramProblem<T>&) {}
  vec<T> operator()(vec<T> s, i64, i64) const { return s; }
};

template <class T>
struct CosineValue {
  static constexpr bool is_identity = false;
  const T* x_inv_norm;
  const T* y_inv_norm;
  explicit CosineValue(const GramProblem<T>& p) : x_inv_norm(p.x_row_term), y_inv_norm(p.y_row_term) {}
  vec<T> operator()(vec<T> s, i64 i, i64 j) const { return (s * x_inv_norm[i]) * load<T>(y_inv_norm + j); }
};

template <class T>
struct SqDistanceValue {  // |x|^2 + |y|^2 - 2 <x, y> of the centred rows, at least 0
  static constexpr bool is_identity = false;
  const T* x_sq_norm;
  const T* y_sq_norm;
  explicit SqDistanceValue(const GramProblem<T>& p) : x_sq_norm(p.x_row_term), y_sq_norm(p.y_row_term) {}
  vec<T> operator()(vec<T> s, i64 i, i64 j) const {
    return max_keep_nan<T>((splat<T>(x_sq_norm[i]) + load<T>(y_sq_norm + j)) - T(2) * s, splat<T>(T(0)));
  }
};

// What each form accumulates (Step) and how the sum becomes the form's value (Value).
template <GramForm form>
struct FormTraits {
  using Step = std::conditional_t<form == GramForm::l1_distance, AbsDiffStep,
                                  std::conditional_t<form == GramForm::chi2_sum, Chi2Step, DotStep>>;
  template <class T>
  using Value = std::conditional_t<form == GramForm::cosine, CosineValue<T>,
                                   std::conditional_t<form == GramForm::sq_distance, SqDistanceValue<T>,
                                                      AccumulatedValue<T>>>;
};

// Epilogues: the kernel's function of its form's value, constructed from the kernel's parameters
// in gram_kernels.def's order.
template <class T>
struct Identity {
  static constexpr bool is_identity = true;
  explicit Identity(const double*) {}
  vec<T> operator()(vec<T> v) const { return v; }
};

template <class T>
struct Negate {
  static constexpr bool is_identity = false;
  explicit Negate(const double*) {}
  vec<T> operator()(vec<T> v) const { return -v; }
};

template <class T>
struct Polynomial {  // (degree, gamma, coef0)
  static constexpr bool is_identity = false;
  double degree;
  T gamma, coef0;
  long long integer_degree;
  bool is_integer;
  explicit Polynomial(const double* params)
      : degree(params[0]),
        gamma(T(params[1])),
        coef0(T(params[2])),
        integer_degree(is_small_integer(params[0]) ? static_cast<long long>(params[0]) : 0),
        is_integer(is_small_integer(params[0])) {}
  static bool is_small_integer(double v) { return v > -1e15 && v < 1e15 && __builtin_floor(v) == v; }
  vec<T> operator()(vec<T> v) const {
    const vec<T> base = v * gamma + coef0;
    if (is_integer) return pow_integer<T>(base, integer_degree);
    // A fractional degree is rare: one libm call per element, documented as the slow path.
    vec<T> result;
    for (int l = 0; l < lanes<T>; ++l) result[l] = T(__builtin_pow(double(base[l]), degree));
    return result;
  }
};

template <class T>
struct Sigmoid {  // (gamma, coef0)
  static constexpr bool is_identity = false;
  T gamma, coef0;
  explicit Sigmoid(const double* params) : gamma(T(params[0])), coef0(T(params[1])) {}
  vec<T> operator()(vec<T> v) const { return tanh<T>(v * gamma + coef0); }
};

template <class T>
struct ExpNegGamma {  // (gamma)
  static constexpr bool is_identity = false;
  T neg_gamma;
  explicit ExpNegGamma(const double* params) : neg_gamma(T(-params[0])) {}
  vec<T> operator()(vec<T> v) const { return exp<T>(v * neg_gamma); }
};

// The Gaussian-process kernels of the squared distance v (scikit-learn's
// sklearn.gaussian_process.kernels formulas).
template <class T>
struct Matern {  // (length_scale, nu): the closed forms; other nu give r = |x - y| / length_scale,
                 // which the Python layer turns into the Bessel form
  static constexpr bool is_identity = false;
  enum class Order { half, three_halves, five_halves, infinite, distance };
  T inv_sq_length;
  Order order;
  explicit Matern(const double* params)
      : inv_sq_length(T(1.0 / (params[0] * params[0]))),
        order(params[1] == 0.5   ? Order::half
              : params[1] == 1.5 ? Order::three_halves
              : params[1] == 2.5 ? Order::five_halves
              : __builtin_isinf(params[1]) ? Order::infinite
                                           : Order::distance) {}
  vec<T> operator()(vec<T> v) const {
    const vec<T> sq = v * inv_sq_length;
    if (order == Order::infinite) return exp<T>(sq * T(-0.5));
    const vec<T> r = sqrt<T>(sq);
    if (order == Order::distance) return r;
    if (order == Order::half) return exp<T>(-r);
    // Beyond this the exponential is 0: clamping keeps inf * 0 out of an infinite distance.
    const vec<T> rc = min_keep_nan<T>(r, splat<T>(T(1e4)));
    if (order == Order::three_halves) {
      const vec<T> a = rc * T(1.7320508075688772);  // sqrt(3) r
      return (a + T(1)) * exp<T>(-a);
    }
    const vec<T> a = rc * T(2.2360679774997897);  // sqrt(5) r
    return ((a * a) * T(1.0 / 3.0) + a + T(1)) * exp<T>(-a);
  }
};

template <class T>
struct RationalQuadratic {  // (length_scale, alpha): (1 + v / (2 alpha l^2))^-alpha
  static constexpr bool is_identity = false;
  T scale, neg_alpha;
  explicit RationalQuadratic(const double* params)
      : scale(T(1.0 / (2.0 * params[1] * params[0] * params[0]))), neg_alpha(T(-params[1])) {}
  vec<T> operator()(vec<T> v) const { return exp<T>(log1p_nonnegative<T>(v * scale) * neg_alpha); }
};

template <class T>
struct ExpSineSquared {  // (length_scale, periodicity): exp(-2 sin^2(pi |x - y| / p) / l^2)
  static constexpr bool is_identity = false;
  T inv_periodicity, neg_two_inv_sq_length;
  explicit ExpSineSquared(const double* params)
      : inv_periodicity(T(1.0 / params[1])), neg_two_inv_sq_length(T(-2.0 / (params[0] * params[0]))) {}
  vec<T> operator()(vec<T> v) const {
    return exp<T>(sin_pi_squared<T>(sqrt<T>(v) * inv_periodicity) * neg_two_inv_sq_length);
  }
};

// The kernel's function of the finished sums, one vector at a time: a separate pass over the tile
// buffer (in L1/L2) keeps the long exp/tanh chains out of the register-starved micro-kernel. With
// `below_skipped` (the diagonal tile of a mirrored result), row r starts at the first register
// tile computed for its panel of MR rows: the tiles below the diagonal hold whatever the buffer
// held before (the mirror writes those entries).
template <class T, class Value, class Epilogue, int MR>
void apply_epilogue(const GramProblem<T>& p, T* c, i64 ldc, i64 rows, i64 i0, i64 j0, bool below_skipped) {
  if constexpr (!(Value::is_identity && Epilogue::is_identity)) {
    constexpr i64 NR = kPanelCols<T>;
    const Value value(p);
    const Epilogue epilogue(p.params);
    for (i64 r = 0; r < rows; ++r)
      for (i64 q = below_skipped ? r / MR * MR / NR * NR : 0; q < ldc; q += lanes<T>)
        store<T>(c + r * ldc + q, epilogue(value(load<T>(c + r * ldc + q), i0 + r, j0 + q)));
  }
}

// Copies rows [r0, r0 + nrows) x columns [k0, k0 + kc) of src (minus the centre, if any) into
// panels of P rows, each stored depth-major (panel[k * P + r]) so the micro-kernel reads it
// contiguously; missing rows are zero. Whole groups of W columns go through in-register W x W
// transposes. When P is not a multiple of W the last group's vectors spill into the next depth
// step (or the next panel), which is written afterwards: groups are stored last to first, and
// dst needs W elements of slack at the end.
template <class T, int P>
void pack_panels(const T* src, i64 ld, i64 r0, i64 nrows, i64 k0, i64 kc, const T* centre, T* dst) {
  constexpr int W = lanes<T>;
  constexpr int groups = (P + W - 1) / W;
  const i64 panels = ceil_div(nrows, P);
  const i64 whole_k = kc / W * W;
  for (i64 q = 0; q < panels; ++q) {
    T* panel = dst + q * P * kc;
    for (i64 k = 0; k < whole_k; k += W) {
      const vec<T> shift = centre != nullptr ? load<T>(centre + k0 + k) : splat<T>(T(0));
      for (int g = groups - 1; g >= 0; --g) {
        vec<T> v[W];
#pragma GCC unroll 16
        for (int t = 0; t < W; ++t) {
          const i64 row = q * P + g * W + t;
          const bool present = g * W + t < P && row < nrows;
          v[t] = present ? load<T>(src + (r0 + row) * ld + k0 + k) - shift : splat<T>(T(0));
        }
        transpose_block<T>(v);
#pragma GCC unroll 16
        for (int u = 0; u < W; ++u) store<T>(panel + (k + u) * P + g * W, v[u]);
      }
    }
    for (int r = 0; r < P; ++r) {
      const i64 row = q * P + r;
      const T* s = src + (r0 + row) * ld + k0;
      for (i64 k = whole_k; k < kc; ++k)
        panel[k * P + r] = row >= nrows ? T(0) : centre != nullptr ? s[k] - centre[k0 + k] : s[k];
    }
  }
}

// Copies the valid rows x cols of the tile buffer to out[i0:, j0:], and with `mirror` also to
// out[j, i] for every j > i (the lower triangle of a symmetric result): whole W x W blocks strictly
// above the diagonal are transposed in registers, the rest element by element.
template <class T>
void write_tile(const T* c, i64 ldc, T* out, i64 ldo, i64 i0, i64 j0, i64 rows, i64 cols, bool mirror,
                bool stream) {
  constexpr int W = lanes<T>;
  for (i64 r = 0; r < rows; ++r) copy_row<T>(out + (i0 + r) * ldo + j0, c + r * ldc, cols, stream);
  if (mirror) {
    // Along each band of W output rows, so that consecutive blocks fill the same cache lines.
    for (i64 q = 0; q < cols; q += W)
      for (i64 r = 0; r < rows; r += W) {
        const bool whole = r + W <= rows && q + W <= cols && j0 + q >= i0 + r + W;
        if (whole) {
          write_transposed_block<T>(c, ldc, out, ldo, i0, j0, r, q, stream);
          continue;
        }
        for (i64 qq = q; qq < min_i64(q + W, cols); ++qq)
          for (i64 rr = r; rr < min_i64(r + W, rows); ++rr)
            if (j0 + qq > i0 + rr) out[(j0 + qq) * ldo + i0 + rr] = c[rr * ldc + qq];
      }
  }
  if (stream) store_fence();
}

// Scratch of gram_tile: the tile buffer (whole register tiles, so no edge cases inside), one depth
// block of packed columns, and the packed rows: one depth block, or the whole depth of the row
// stripe when that fits in kStripeBytes and the call spans several tiles' columns (the rows are
// then packed once for all of them).
constexpr i64 kTileBufferBytes = (kTile + 64) * (kTile + 64) * i64(sizeof(double));
constexpr i64 kBlockBytes = (kTile + 64) * 1024 + 64 * i64(sizeof(double));  // + pack_panels' slack
constexpr i64 kStripeBytes = i64(2) << 20;
constexpr std::size_t kGramScratchBytes = kTileBufferBytes + kBlockBytes + std::max(kBlockBytes, kStripeBytes);

template <class T, GramForm form, template <class> class Epilogue>
void gram_tile_impl(const GramProblem<T>& p, i64 i0, i64 i1, i64 j0, i64 j1, bool mirror, void* scratch) {
  using Step = typename FormTraits<form>::Step;
  constexpr int MR = Step::rows;
  constexpr int NR = kPanelCols<T>;
  const i64 rows = i1 - i0, row_panels = ceil_div(rows, MR), padded_rows = row_panels * MR;
  T* c = static_cast<T*>(scratch);
  T* b_packed = reinterpret_cast<T*>(static_cast<char*>(scratch) + kTileBufferBytes);
  T* a_packed = reinterpret_cast<T*>(static_cast<char*>(scratch) + kTileBufferBytes + kBlockBytes);
  // Depth block k0 of the whole stripe's packed rows starts after the padded_rows x k0 before it.
  const bool whole_stripe =
      j1 - j0 > kTile && (padded_rows * p.d + lanes<T>) * i64(sizeof(T)) <= kStripeBytes;
  const auto pack_rows = [&](i64 k0, T* to) {
    pack_panels<T, MR>(p.x, p.d, i0, rows, k0, min_i64(kDepthBlock<T>, p.d - k0), p.centre, to);
  };
  if (whole_stripe)
    for (i64 k0 = 0; k0 < p.d; k0 += kDepthBlock<T>)  // in order: each block overwrites the last one's slack
      pack_rows(k0, a_packed + k0 * padded_rows);
  for (i64 jt = j0; jt < j1; jt += kTile) {
    const i64 cols = min_i64(kTile, j1 - jt), col_panels = ceil_div(cols, NR);
    const i64 ldc = col_panels * NR;
    const bool diagonal = mirror && i0 == jt;  // the tile on the diagonal of a mirrored result
    for (i64 k0 = 0; k0 < p.d; k0 += kDepthBlock<T>) {
      const i64 kc = min_i64(kDepthBlock<T>, p.d - k0);
      const bool first = k0 == 0;
      const T* a_block = whole_stripe ? a_packed + k0 * padded_rows : a_packed;
      if (!whole_stripe) pack_rows(k0, a_packed);
      // Panels packed once over the whole depth, or this depth block's, packed here.
      const T* b_block = p.y_packed != nullptr ? p.y_packed + (jt - p.y_packed_first) * p.d + k0 * NR : b_packed;
      const i64 b_panel_stride = p.y_packed != nullptr ? NR * p.d : NR * kc;
      if (p.y_packed == nullptr) pack_panels<T, NR>(p.y, p.d, jt, cols, k0, kc, p.centre, b_packed);
      for (i64 jp = 0; jp < col_panels; ++jp) {
        const T* b = b_block + jp * b_panel_stride;
        // On the diagonal of a mirrored result, register tiles wholly below it are never read.
        const i64 row_panels_needed = diagonal ? min_i64(row_panels, ceil_div((jp + 1) * NR, MR)) : row_panels;
        for (i64 ip = 0; ip < row_panels_needed; ++ip)
          register_tile<T, Step, MR>(kc, a_block + ip * MR * kc, b, c + ip * MR * ldc + jp * NR, ldc, first);
      }
    }
    apply_epilogue<T, typename FormTraits<form>::template Value<T>, Epilogue<T>, MR>(p, c, ldc, rows, i0, jt, diagonal);
    write_tile<T>(c, ldc, p.out, p.ldo, i0, jt, rows, cols, mirror, p.stream_output);
  }
}

// vec<double>'s lanes of T: float vectors of half the width, widened exactly to double.
template <class T>
struct Narrow {
  typedef T V __attribute__((vector_size(lanes<double> * sizeof(T))));
};

// p[k:k + lanes<double>] (minus centre[k:k + lanes<double>] if `centred`, rounded to T) as doubles;
// without `centred`, centre may be null (and is not offset).
template <class T, bool centred>
inline vec<double> values_as_double(const T* p, const T* centre, i64 k) {
  typename Narrow<T>::V a, b{};
  std::memcpy(&a, p + k, sizeof a);
  if constexpr (centred) std::memcpy(&b, centre + k, sizeof b);
  return __builtin_convertvector(centred ? a - b : a, vec<double>);
}

template <class T, bool centred, bool with_max>
void row_norms_impl(const T* a, i64 rows, i64 d, const T* centre, double* sq_norms, T* max_abs) {
  constexpr int W = lanes<double>;
  constexpr int U = 4;  // independent sums, to hide the add latency
  for (i64 i = 0; i < rows; ++i) {
    const T* row = a + i * d;
    vec<double> sum[U], largest = splat<double>(0.0);
    for (int u = 0; u < U; ++u) sum[u] = splat<double>(0.0);
    const auto add = [&](i64 at, vec<double>& to) {  // one vector of the row into a sum (and the max)
      const vec<double> v = values_as_double<T, centred>(row, centre, at);
      to = v * v + to;
      if constexpr (with_max) largest = max_keep_nan<double>(largest, abs<double>(v));
    };
    i64 k = 0;
    for (; k + U * W <= d; k += U * W)
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) add(k + u * W, sum[u]);
    for (; k + W <= d; k += W) add(k, sum[0]);
    const vec<double> total = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    double s = 0.0, top = 0.0;
    for (int l = 0; l < W; ++l) {
      s += total[l];
      top = largest[l] > top ? largest[l] : top;
    }
    for (; k < d; ++k) {
      const double v = double(centred ? T(row[k] - centre[k]) : row[k]);
      s += v * v;
      top = __builtin_fabs(v) > top ? __builtin_fabs(v) : top;
    }
    sq_norms[i] = s;
    if constexpr (with_max) max_abs[i] = T(top);
  }
}

template <class T>
void row_norms(const T* a, i64 rows, i64 d, const T* centre, double* sq_norms, T* max_abs) {
  using Impl = void (*)(const T*, i64, i64, const T*, double*, T*);
  constexpr Impl impls[2][2] = {{&row_norms_impl<T, false, false>, &row_norms_impl<T, false, true>},
                                {&row_norms_impl<T, true, false>, &row_norms_impl<T, true, true>}};
  impls[centre != nullptr][max_abs != nullptr](a, rows, d, centre, sq_norms, max_abs);
}

// Row by row, so that the rows stream through the caches; each sum still adds its rows in order.
template <class T>
void column_sums(const T* a, i64 rows, i64 d, i64 k0, i64 k1, double* sums) {
  for (i64 i = 0; i < rows; ++i) {
    const T* row = a + i * d;
    for (i64 k = k0; k < k1; ++k) sums[k - k0] += double(row[k]);
  }
}

template <class T>
void gram_pack(const T* y, i64 d, i64 j0, i64 j1, const T* centre, T* dst) {
  pack_panels<T, kPanelCols<T>>(y, d, j0, j1 - j0, 0, d, centre, dst);
}

template <class T>
void gram_tile(const GramProblem<T>& p, i64 i0, i64 i1, i64 j0, i64 j1, bool mirror, void* scratch) {
  switch (p.kind) {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) \
  case GramKind::kind:                                                \
    return gram_tile_impl<T, GramForm::form, epilogue>(p, i0, i1, j0, j1, mirror, scratch);
#include "kernelkit/gram_kernels.def"
  }
}

template <template <class> class Epilogue>
void epilogue_values(const double* params, double* values, i64 count) {
  if constexpr (Epilogue<double>::is_identity) return;  // linear, cosine: a pass over the values saved
  const Epilogue<double> epilogue(params);
  constexpr int W = lanes<double>;
  for (i64 k = 0; k < count; k += W) {
    const i64 n = min_i64(W, count - k);
    store_partial<double>(values + k, epilogue(load_partial<double>(values + k, n)), n);
  }
}

void gram_epilogue(GramKind kind, const double* params, double* values, i64 count) {
  switch (kind) {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) \
  case GramKind::kind:                                                \
    return epilogue_values<epilogue>(params, values, count);
#include "kernelkit/gram_kernels.def"
  }
}

template <class T>
void transposed_copy(const T* src, i64 lds, i64 rows, i64 cols, T* dst, i64 ldd, bool stream) {
  write_transposed<T>(src, lds, rows, cols, dst, ldd, 0, 0, stream);
}

}  // namespace

void fill_gram_entries(KernelTable& table) {
  table.gram_tile = kTile;
  table.gram_scratch_bytes = kGramScratchBytes;
  table.gram_tile_f32 = &gram_tile<float>;
  table.gram_tile_f64 = &gram_tile<double>;
  table.gram_epilogue = &gram_epilogue;
  table.gram_panel_cols_f32 = kPanelCols<float>;
  table.gram_panel_cols_f64 = kPanelCols<double>;
  table.gram_pack_f32 = &gram_pack<float>;
  table.gram_pack_f64 = &gram_pack<double>;
  table.row_norms_f32 = &row_norms<float>;
  table.row_norms_f64 = &row_norms<double>;
  table.column_sums_f32 = &column_sums<float>;
  table.column_sums_f64 = &column_sums<double>;
  table.transposed_copy_f32 = &transposed_copy<float>;
  table.transposed_copy_f64 = &transposed_copy<double>;
}

}  // namespace KK_ISA
}  // namespace kk
