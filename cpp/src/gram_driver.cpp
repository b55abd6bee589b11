// Gram-matrix driver: per-row terms (centre, norms), the parallel loop over output tiles, exact
// symmetry for Y = X, the exact diagonal, and the rows the fast forms cannot give exactly (Inf and
// NaN, magnitudes near the ends of the float range), recomputed from their definition. The tiles
// themselves are computed by the per-ISA kernels of cpp/kernels/gram_kernels.cpp. The whole call
// counts subnormal numbers as zero (kernelkit/float_mode.hpp).
#include "kernelkit/gram_driver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/output_cache.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/scratch.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// The epilogues read row terms a whole vector past the last column: pad by the widest panel.
constexpr i64 kRowTermPadding = 64;
// Outputs beyond this size (well past any L2 + L3 share) are written with streaming stores.
constexpr i64 kStreamingOutputBytes = 32 << 20;

// Columns per task of the parallel column sums, rows per task of the row norms.
constexpr i64 kCentreColumns = 256;
constexpr i64 kNormRows = 64;

// The mean of the finite values of column k of x and y together, element by element: for the
// columns whose plain sum is not finite.
template <class T>
T finite_mean(const T* x, i64 n, const T* y, i64 m, i64 d, i64 k) {
  double sum = 0.0;
  i64 count = 0;
  auto add_rows = [&](const T* a, i64 rows) {
    for (i64 i = 0; i < rows; ++i) {
      const double v = double(a[i * d + k]);
      const bool finite = std::isfinite(v);
      sum += finite ? v : 0.0;
      count += finite;
    }
  };
  add_rows(x, n);
  if (y != x) add_rows(y, m);
  return count == 0 ? T(0) : T(sum / double(count));
}

// Mean of the finite values of each feature over the rows of x and y together: subtracting it makes
// |x - y|^2 = |x|^2 + |y|^2 - 2 x.y free of the cancellation a large common offset would cause.
// Non-finite values are left out so that they spoil only their own rows of the result (a column
// holding one has a sum that is not finite, and only such columns are summed again without them).
template <class T>
std::vector<T> common_centre(const T* x, i64 n, const T* y, i64 m, i64 d, int n_threads) {
  const ColumnSumsFn<T> column_sums = TableEntry<T>::column_sums(kernels());
  std::vector<double> sum(static_cast<std::size_t>(d), 0.0);
  const i64 tasks = ceil_div(d, kCentreColumns);
  parallel_for(tasks, threads_for(n_threads, tasks), [&](i64 t) {
    const i64 k0 = t * kCentreColumns, k1 = std::min(d, k0 + kCentreColumns);
    column_sums(x, n, d, k0, k1, sum.data() + k0);
    if (y != x) column_sums(y, m, d, k0, k1, sum.data() + k0);
  });
  const double count = double(n + (y != x ? m : 0));
  std::vector<T> centre(static_cast<std::size_t>(d));
  for (i64 k = 0; k < d; ++k)
    centre[k] = std::isfinite(sum[k]) ? T(sum[k] / count) : finite_mean(x, n, y, m, d, k);
  return centre;
}

// RowNormsFn over the rows of a, in parallel: squared norms (of the rows minus the centre, if
// any) and, with `max_abs`, each row's largest |value|.
template <class T>
std::vector<double> row_sq_norms(const T* a, i64 rows, i64 d, const T* centre, T* max_abs, int n_threads) {
  const RowNormsFn<T> row_norms = TableEntry<T>::row_norms(kernels());
  std::vector<double> sq(static_cast<std::size_t>(rows));
  const i64 tasks = ceil_div(rows, kNormRows);
  parallel_for(tasks, threads_for(n_threads, tasks), [&](i64 t) {
    const i64 i0 = t * kNormRows, count = std::min(rows - i0, kNormRows);
    row_norms(a + i0 * d, count, d, centre, sq.data() + i0, max_abs == nullptr ? nullptr : max_abs + i0);
  });
  return sq;
}

// Squared norms of the centred rows, from the same rounded centred values the kernel multiplies.
template <class T>
std::vector<T> centred_sq_norms(const T* a, i64 rows, i64 d, const T* centre, int n_threads) {
  const std::vector<double> sq = row_sq_norms(a, rows, d, centre, static_cast<T*>(nullptr), n_threads);
  std::vector<T> norms(static_cast<std::size_t>(rows + kRowTermPadding), T(0));
  for (i64 i = 0; i < rows; ++i) norms[i] = T(sq[i]);
  return norms;
}

// Row magnitudes (largest |value|) within [2^-kCosineExponentRange, 2^kCosineExponentRange] give
// products x.y in the input dtype that neither overflow nor underflow beyond a negligible part of
// |x| |y| (for any feature count below 2^47).
template <class T>
constexpr int kCosineExponentRange = sizeof(T) == 4 ? 40 : 400;

// 1/|row| from |row|^2, 0 for an all-zero row (scikit-learn's normalize leaves those at zero), and
// NaN for a row holding Inf or NaN (IEEE's <x, y> / (|x| |y|) is inf / inf or NaN there, the
// diagonal included).
template <class T>
T inverse_norm(double sq) {
  // A norm so small that its inverse overflows T counts as zero, as scikit-learn's normalize does.
  const double r = 1.0 / std::sqrt(sq);
  return !std::isfinite(sq)                                      ? std::numeric_limits<T>::quiet_NaN()
         : sq == 0.0 || r > double(std::numeric_limits<T>::max()) ? T(0)
                                                                  : T(r);
}

// The rows of a as the cosine kernel multiplies them, and their inverse norms (padded for the
// epilogues) into `inv`: a itself (`scaled` left empty) when every row's magnitude is in range,
// else a copy, into `scaled`, in which the rows out of range are scaled by a power of two (exact)
// to a largest |value| in [1, 2).
// The cosine is invariant under a positive scale of a row, so the result is the same, without the
// inf or 0 that x.y would overflow or underflow to (in float32: rows of ~1e20, or ~1e-25), and the
// sums of squares of the rows it multiplies cannot overflow.
template <class T>
const T* cosine_rows(const T* a, i64 rows, i64 d, int n_threads, std::vector<T>& scaled, std::vector<T>& inv) {
  constexpr int range = kCosineExponentRange<T>;
  std::vector<T> largest(static_cast<std::size_t>(rows));
  std::vector<double> sq = row_sq_norms(a, rows, d, static_cast<const T*>(nullptr), largest.data(), n_threads);
  std::vector<int> exponent(static_cast<std::size_t>(rows), 0);  // of the largest |value| out of range
  std::vector<i64> out_of_range;
  for (i64 i = 0; i < rows; ++i) {
    // zero rows stay 0, Inf/NaN rows NaN
    const int e = largest[i] != T(0) && std::isfinite(largest[i]) ? std::ilogb(largest[i]) : 0;
    if (e > range || e < -range) {
      exponent[i] = e;
      out_of_range.push_back(i);
    }
  }
  const T* result = a;
  if (!out_of_range.empty()) {
    scaled.resize(static_cast<std::size_t>(rows * d));
    parallel_for(
        rows, threads_for(n_threads, rows),
        [&](i64 i) {
          for (i64 k = 0; k < d; ++k) scaled[i * d + k] = std::scalbn(a[i * d + k], -exponent[i]);
        },
        std::max<i64>(1, rows / (4 * threads_for(n_threads, rows))));
    const RowNormsFn<T> row_norms = TableEntry<T>::row_norms(kernels());
    for (i64 i : out_of_range) row_norms(scaled.data() + i * d, 1, d, nullptr, &sq[i], nullptr);
    result = scaled.data();
  }
  inv.assign(static_cast<std::size_t>(rows + kRowTermPadding), T(0));
  for (i64 i = 0; i < rows; ++i) inv[i] = inverse_norm<T>(sq[i]);
  return result;
}

// K(x, x) where it is known exactly: the epilogue of a zero distance for sq_distance (NaN for a
// non-finite row), and for cosine 1 for a non-zero row, 0 for a zero row and NaN for a row holding
// Inf or NaN; the other forms compute their diagonal exactly. Entries are added with the row's
// term and where the value goes, and written in chunks through the epilogue.
template <class T>
class ExactDiagonal {
 public:
  ExactDiagonal(const GramProblem<T>& p, GramEpilogueFn epilogue) : p_(p), epilogue_(epilogue) {}
  ExactDiagonal(const ExactDiagonal&) = delete;
  ExactDiagonal& operator=(const ExactDiagonal&) = delete;
  ~ExactDiagonal() { flush(); }

  static bool applies(GramKind kind) {
    const GramForm form = form_of(kind);
    return form == GramForm::sq_distance || form == GramForm::cosine;
  }

  void add(T row_term, T* destination) {
    const double term = double(row_term);
    values_[count_] = form_of(p_.kind) == GramForm::sq_distance ? term - term : term == 0.0 ? 0.0 : term / term;
    destinations_[count_] = destination;
    if (++count_ == kChunk) flush();
  }

 private:
  static constexpr i64 kChunk = 64;

  void flush() {
    if (count_ == 0) return;
    epilogue_(p_.kind, p_.params, values_, count_);
    for (i64 k = 0; k < count_; ++k) *destinations_[k] = T(values_[k]);
    count_ = 0;
  }

  const GramProblem<T>& p_;
  GramEpilogueFn epilogue_;
  double values_[kChunk];
  T* destinations_[kChunk];
  i64 count_ = 0;
};

template <class T>
void set_exact_diagonal(const GramProblem<T>& p, GramEpilogueFn epilogue, i64 i0, i64 i1) {
  if (!ExactDiagonal<T>::applies(p.kind)) return;
  ExactDiagonal<T> diagonal(p, epilogue);
  for (i64 i = i0; i < i1; ++i) diagonal.add(p.x_row_term[i], &p.out[i * p.ldo + i]);
}

// |x_i - y_j|^2 from the differences, for the pairs the expanded form |x|^2 + |y|^2 - 2 x.y gets
// wrong: where a value is infinite (inf - inf = NaN where the distance is inf) or a centred row is
// so long that the expanded form overflows.
template <class T>
double sq_distance_directly(const T* xi, const T* yj, i64 d) {
  double s = 0.0;
  for (i64 k = 0; k < d; ++k) {
    const double v = double(xi[k]) - double(yj[k]);
    s += v * v;
  }
  return s;
}

// sum (x - y)^2 / (x + y) from its definition (0 where x + y = 0), in double, without the
// vector kernel's approximate reciprocal, which is 0 for sums above 2^126 in float32, nor the
// overflow of x + y or (x - y)^2 near the largest double.
template <class T>
double chi2_sum_directly(const T* xi, const T* yj, i64 d) {
  double s = 0.0;
  for (i64 k = 0; k < d; ++k) {
    const double a = double(xi[k]), b = double(yj[k]);
    const double sum = a + b;
    const double diff = a - b;
    if (sum == 0.0) continue;
    // halved where the sum overflows: the ratio is unchanged, (x - y) / (x + y) is at most 1
    s += diff * (std::isinf(sum) && std::isfinite(a) && std::isfinite(b) ? (0.5 * diff) / (0.5 * a + 0.5 * b)
                                                                         : diff / sum);
  }
  return s;
}

// The rows (of X, or of Y) in which the tiles' fast form may not give the exact result:
// sq_distance, rows whose centred squared norm is not below max/4 (Inf, NaN, or so long that
// |x|^2 + |y|^2 - 2 x.y overflows); chi2_sum, rows holding a value above 2^(max exponent - 4),
// whose sums x + y would have a reciprocal below the smallest normal number (0 after the
// approximate reciprocal or the flush to zero); Inf and NaN rows are left to the kernel, which
// gives NaN as IEEE does.
template <class T>
std::vector<i64> rows_to_recompute(GramForm form, const T* a, const T* row_terms, i64 rows, i64 d) {
  std::vector<i64> found;
  if (form == GramForm::sq_distance) {
    const T limit = std::numeric_limits<T>::max() / 4;
    for (i64 i = 0; i < rows; ++i)
      if (!(row_terms[i] <= limit)) found.push_back(i);
  } else if (form == GramForm::chi2_sum) {
    const T limit = std::ldexp(T(1), std::numeric_limits<T>::max_exponent - 5);
    for (i64 i = 0; i < rows; ++i)
      if (std::any_of(a + i * d, a + (i + 1) * d, [&](T v) { return v > limit && std::isfinite(v); }))
        found.push_back(i);
  }
  return found;
}

// The form's value of (x_i, y_j) from its definition, in double, for the forms
// rows_to_recompute() names rows of.
template <class T>
double form_value_directly(const GramProblem<T>& p, i64 i, i64 j) {
  const T* xi = p.x + i * p.d;
  const T* yj = p.y + j * p.d;
  return form_of(p.kind) == GramForm::sq_distance ? sq_distance_directly(xi, yj, p.d)
                                                   : chi2_sum_directly(xi, yj, p.d);
}

// K(x_i, y_j) for j in [0, m) (`along_row`) or K(x_j, y_i) for j in [0, n), from the definition,
// into `values`.
template <class T>
void kernel_directly(const GramProblem<T>& p, GramEpilogueFn epilogue, i64 i, bool along_row,
                     std::vector<double>& values) {
  values.resize(static_cast<std::size_t>(along_row ? p.m : p.n));
  for (i64 j = 0; j < static_cast<i64>(values.size()); ++j)
    values[j] = along_row ? form_value_directly(p, i, j) : form_value_directly(p, j, i);
  epilogue(p.kind, p.params, values.data(), static_cast<i64>(values.size()));
}

// Recomputes the entries of the rows and columns rows_to_recompute() names, from the definition.
template <class T>
void recompute_rows(const GramProblem<T>& p, GramEpilogueFn epilogue, bool symmetric, int n_threads) {
  const GramForm form = form_of(p.kind);
  const std::vector<i64> x_rows = rows_to_recompute(form, p.x, p.x_row_term, p.n, p.d);
  const std::vector<i64> y_rows =
      symmetric ? std::vector<i64>{} : rows_to_recompute(form, p.y, p.y_row_term, p.m, p.d);
  if (x_rows.empty() && y_rows.empty()) return;
  // Row i of X: every column (mirrored afterwards into column i); then column j of Y: every row.
  const i64 rows = static_cast<i64>(x_rows.size()), cols = static_cast<i64>(y_rows.size());
  parallel_for(rows, threads_for(n_threads, rows), [&](i64 t) {
    const i64 i = x_rows[static_cast<std::size_t>(t)];
    std::vector<double> values;
    kernel_directly(p, epilogue, i, true, values);
    for (i64 j = 0; j < p.m; ++j) p.out[i * p.ldo + j] = T(values[j]);
  });
  parallel_for(cols, threads_for(n_threads, cols), [&](i64 t) {
    const i64 j = y_rows[static_cast<std::size_t>(t)];
    std::vector<double> values;
    kernel_directly(p, epilogue, j, false, values);
    for (i64 i = 0; i < p.n; ++i) p.out[i * p.ldo + j] = T(values[i]);
  });
  if (symmetric)  // mirrored after the loop: two recomputed rows would otherwise write each other's entries
    for (i64 i : x_rows)
      for (i64 j = 0; j < p.m; ++j) p.out[j * p.ldo + i] = p.out[i * p.ldo + j];
}

struct Tile {
  i64 i0, i1, j0, j1;
};

// The tasks over out[:n, c0:c1] (c0 a multiple of `tile`), row stripe by row stripe: `group`
// consecutive tiles of a stripe each (the tile kernel packs their rows once); with `upper_only`,
// the tiles on or above the diagonal.
std::vector<Tile> output_tasks(i64 n, i64 c0, i64 c1, i64 tile, i64 group, bool upper_only) {
  std::vector<Tile> tasks;
  for (i64 i0 = 0; i0 < (upper_only ? std::min(n, c1) : n); i0 += tile)
    for (i64 j0 = upper_only ? std::max(i0, c0) : c0; j0 < c1; j0 += group * tile)
      tasks.push_back({i0, std::min(i0 + tile, n), j0, std::min(j0 + group * tile, c1)});
  return tasks;
}

// Tiles per task: up to kTilesPerTask, while every thread still has several tasks to balance with.
constexpr i64 kTilesPerTask = 4;
constexpr i64 kTasksPerThread = 8;

i64 tiles_per_task(i64 n, i64 m, i64 tile, bool upper_only, int threads) {
  const i64 stripes = ceil_div(n, tile), tiles = stripes * ceil_div(m, tile);
  const i64 needed = upper_only ? (tiles + stripes) / 2 : tiles;
  return std::clamp<i64>(needed / (kTasksPerThread * threads), 1, kTilesPerTask);
}

// With several row stripes of tiles, each tile packing its own columns of Y would read them once
// per stripe, at a stride of d (a cache line from each of hundreds of rows): they are packed once,
// for all the stripes, in chunks of columns that hold at most max(4 MiB, 10 % of the output) of
// extra memory (smaller chunks cost only a wait for the slowest thread at the end of each).
// 0: no packing ahead (one stripe, or not one tile's columns within that bound).
constexpr i64 kPackedColumnsMinBytes = 4 << 20;

template <class T>
i64 packed_chunk_columns(i64 n, i64 m, i64 d, i64 tile) {
  if (n <= tile || m <= 0) return 0;
  const i64 budget = std::max<i64>(kPackedColumnsMinBytes, n * m / 10 * i64(sizeof(T)));
  const i64 columns = budget / (d * i64(sizeof(T))) / tile * tile;
  return std::min(columns, ceil_div(m, tile) * tile);
}

}  // namespace

template <class T>
GramOperands<T>::GramOperands(const GramParams& params, const T* x, i64 n, const T* y, i64 m, i64 d)
    : p_{params.kind, x, y == nullptr ? x : y, n, m, d, nullptr, 0, nullptr, nullptr, nullptr, values_, false,
         nullptr, 0},
      symmetric_(y == nullptr) {
  std::copy_n(params.values, kMaxGramParams, values_);
  const int n_threads = params.n_threads;
  const GramForm form = form_of(params.kind);
  if (form == GramForm::sq_distance) {
    centre_ = common_centre(x, n, p_.y, m, d, n_threads);
    x_terms_ = centred_sq_norms(x, n, d, centre_.data(), n_threads);
    if (!symmetric_) y_terms_ = centred_sq_norms(p_.y, m, d, centre_.data(), n_threads);
    p_.centre = centre_.data();
  } else if (form == GramForm::cosine) {
    p_.x = cosine_rows(x, n, d, n_threads, x_scaled_, x_terms_);
    p_.y = symmetric_ ? p_.x : cosine_rows(p_.y, m, d, n_threads, y_scaled_, y_terms_);
  }
  if (!x_terms_.empty()) {
    p_.x_row_term = x_terms_.data();
    p_.y_row_term = symmetric_ ? x_terms_.data() : y_terms_.data();
  }
}

template <class T>
i64 GramOperands<T>::block_rows() const {
  return kernels().gram_tile;
}

// The tile kernel's scratch, then (for a row index) the gathered rows and their padded terms.
template <class T>
std::size_t GramOperands<T>::block_scratch_bytes(i64 gathered_rows) const {
  const i64 gathered = gathered_rows == 0 ? 0 : gathered_rows * (p_.d + 1) + kRowTermPadding;
  return kernels().gram_scratch_bytes + static_cast<std::size_t>(gathered) * sizeof(T);
}

template <class T>
void GramOperands<T>::block(RowSelection rows, i64 j0, i64 j1, T* out, i64 ldo, void* scratch) const {
  const KernelTable& table = kernels();
  GramProblem<T> q = p_;
  q.n = rows.count;
  q.y = p_.y + j0 * p_.d;
  q.m = j1 - j0;
  q.y_row_term = p_.y_row_term == nullptr ? nullptr : p_.y_row_term + j0;
  q.out = out;
  q.ldo = ldo;
  if (rows.index == nullptr) {
    q.x = p_.x + rows.first * p_.d;
    q.x_row_term = p_.x_row_term == nullptr ? nullptr : p_.x_row_term + rows.first;
  } else {  // gathered after the kernel's scratch, so the kernel reads them as contiguous rows
    T* x_rows = reinterpret_cast<T*>(static_cast<char*>(scratch) + table.gram_scratch_bytes);
    T* terms = x_rows + rows.count * p_.d;
    for (i64 r = 0; r < rows.count; ++r) std::copy_n(p_.x + rows[r] * p_.d, p_.d, x_rows + r * p_.d);
    std::fill_n(terms, rows.count + kRowTermPadding, T(0));
    if (p_.x_row_term != nullptr)
      for (i64 r = 0; r < rows.count; ++r) terms[r] = p_.x_row_term[rows[r]];
    q.x = x_rows;
    q.x_row_term = p_.x_row_term == nullptr ? nullptr : terms;
  }
  TableEntry<T>::gram_tile(table)(q, 0, q.n, 0, q.m, false, scratch);
  recompute_rows(q, table.gram_epilogue, false, 1);
  if (!symmetric_ || !ExactDiagonal<T>::applies(p_.kind)) return;
  ExactDiagonal<T> diagonal(p_, table.gram_epilogue);
  for (i64 r = 0; r < rows.count; ++r) {
    const i64 j = rows[r];
    if (j >= j0 && j < j1) diagonal.add(p_.x_row_term[j], &out[r * ldo + (j - j0)]);
  }
}

template <class T>
void compute_gram(const GramParams& params, const T* x, i64 n, const T* y, i64 m, i64 d, T* out) {
  if (n == 0 || m == 0) return;
  const SubnormalsAsZero float_mode;  // on this thread and the workers (see float_mode.hpp)
  const bool symmetric = y == nullptr;
  const GramOperands<T> operands(params, x, n, y, m, d);
  GramProblem<T> p = operands.problem();
  p.out = out;
  p.ldo = m;
  p.stream_output = n * m * static_cast<i64>(sizeof(T)) > kStreamingOutputBytes;

  const KernelTable& table = kernels();
  const GramTileFn<T> tile_fn = TableEntry<T>::gram_tile(table);
  const i64 tile_size = table.gram_tile;
  const i64 chunk = packed_chunk_columns<T>(n, m, d, tile_size);
  const i64 panel_cols = TableEntry<T>::gram_panel_cols(table);
  const i64 packed_columns = std::min(chunk, m);
  const std::size_t packed_bytes =
      static_cast<std::size_t>(ceil_div(packed_columns, panel_cols) * panel_cols * d) * sizeof(T);
  // Through the result cache: mapping tens of MiB anew in every call costs page faults.
  const CachedBuffer packed = chunk == 0 ? nullptr : cached_buffer(packed_bytes, kMinCachedPackedBytes);
  const int threads = threads_for(params.n_threads, ceil_div(n, tile_size) * ceil_div(m, tile_size));
  const ScratchLease scratch(threads, table.gram_scratch_bytes);

  for (i64 c0 = 0; c0 < m; c0 += chunk == 0 ? m : chunk) {
    const i64 c1 = chunk == 0 ? m : std::min(m, c0 + chunk);
    if (chunk != 0) {
      T* dst = static_cast<T*>(packed.get());
      const i64 tasks = ceil_div(c1 - c0, tile_size);
      parallel_for(tasks, threads_for(threads, tasks), [&](i64 t) {
        const i64 j0 = c0 + t * tile_size;
        TableEntry<T>::gram_pack(table)(p.y, d, j0, std::min(j0 + tile_size, c1), p.centre, dst + (j0 - c0) * d);
      });
      p.y_packed = dst;
      p.y_packed_first = c0;
    }
    const i64 group = tiles_per_task(n, c1 - c0, tile_size, symmetric, threads);
    const std::vector<Tile> tasks = output_tasks(n, c0, c1, tile_size, group, symmetric);
    const i64 count = static_cast<i64>(tasks.size());
    parallel_for(count, threads_for(threads, count), [&](i64 t) {
      const Tile& task = tasks[t];
      tile_fn(p, task.i0, task.i1, task.j0, task.j1, symmetric, scratch[thread_index()]);
      // a stripe's first task starts at its diagonal tile, if this chunk holds it
      if (symmetric && task.i0 == task.j0) set_exact_diagonal(p, table.gram_epilogue, task.i0, task.i1);
    });
  }
  p.y_packed = nullptr;
  recompute_rows(p, table.gram_epilogue, symmetric, params.n_threads);
}

template class GramOperands<float>;
template class GramOperands<double>;
template void compute_gram<float>(const GramParams&, const float*, i64, const float*, i64, i64, float*);
template void compute_gram<double>(const GramParams&, const double*, i64, const double*, i64, i64, double*);

}  // namespace kk
