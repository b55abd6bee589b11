// Gram-matrix driver for sparse operands (X, Y or both compressed sparse rows), computed from the
// sparse structure in output tiles: nothing of X or Y is densified, the extra memory is Y grouped by
// feature (O(nnz + features per column block)) and one output row segment per thread.
//
// Every kernel is a function of one sum over the features both rows hold: s = sum over the shared
// support of pair(x_k, y_k), with per-row terms for the rest:
//   product kernels (linear, polynomial, sigmoid, rbf, cosine): pair = x y, and rbf's
//     |x - y|^2 = |x|^2 + |y|^2 - 2 s, cosine's s / (|x| |y|);
//   laplacian: sum |x - y| = sum |x| + sum |y| - s with pair = |x| + |y| - |x - y|, which is
//     2 min(|x|, |y|) for values of the same sign and 0 otherwise (no cancellation inside the term);
//   chi2: sum (x - y)^2 / (x + y) = sum x + sum y - s for non-negative data, with
//     pair = x + y - (x - y)^2 / (x + y) = 4 x y / (x + y) (0 where x + y = 0).
// A feature held by one row only contributes exactly its row term's share, so one accumulation
// loop with a per-kernel pair term serves all kernels, whichever operand is sparse:
//   sparse X, sparse Y: row-wise Gustavson accumulation: for each stored x_ik, add pair(x_ik, y_jk)
//     into the output row at every Y row j that holds feature k (Y grouped by feature, per block of
//     columns so that the output row segment stays in L1);
//   one operand dense: each sparse row gathers its features from the dense row.
// The epilogue (the kernel's function of s and the row terms) runs on each finished output row
// segment, while it is in cache; exp and tanh are the per-ISA vector routines of the dispatch table.
// What happens to a finished segment is the caller's (SparseKernel::segments' sink): the Gram
// matrix and kernel_rows store it; the kernel sums multiply it into float64 sums at once with the
// per-ISA block product (the loop of gram_sum_loop.hpp, as for dense operands), so they never hold
// more of K than one segment per thread.
// For Y = X only the entries on and above the diagonal are computed (from each tile's first row
// on), then mirrored by blocks of transposed copies. The result is exactly symmetric, and equal to
// the whole square computed: indices ascend within each row, so s(i, j) and s(j, i) add the same
// products in the same order, and every epilogue is symmetric in i and j.
#include "kernelkit/gram_sparse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernelkit/cpu_caches.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/gram_sum_loop.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/scratch.hpp"
#include "kernelkit/table_entry.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// What a kernel adds up over the features both rows hold (see the top of the file).
enum class PairTerm { product, shared_magnitude, chi2_overlap };

PairTerm pair_term_of(GramForm form) {
  switch (form) {
    case GramForm::l1_distance:
      return PairTerm::shared_magnitude;
    case GramForm::chi2_sum:
      return PairTerm::chi2_overlap;
    default:
      return PairTerm::product;
  }
}

template <PairTerm P, class T>
inline T pair(T a, T b) {
  if constexpr (P == PairTerm::product) {
    return a * b;
  } else if constexpr (P == PairTerm::shared_magnitude) {
    return (a > T(0)) == (b > T(0)) ? T(2) * std::min(std::abs(a), std::abs(b)) : T(0);
  } else {
    // In the order (larger, smaller) whatever the operands' order, so that pair(a, b) and
    // pair(b, a) round alike (exact symmetry); smaller / sum <= 1/2: no overflow of a b.
    const T sum = a + b;
    return sum == T(0) ? T(0) : T(4) * (std::max(a, b) * (std::min(a, b) / sum));
  }
}

// One row of an operand: dense rows list every feature (indices == nullptr).
template <class T>
struct RowView {
  const T* values;
  const i64* indices;
  i64 size;
  i64 feature(i64 p) const { return indices == nullptr ? p : indices[p]; }
};

template <class T>
RowView<T> row_of(const GramOperand<T>& op, i64 i, i64 d) {
  if (!op.sparse()) return {op.values + i * d, nullptr, d};
  const i64 begin = op.indptr[i];
  return {op.values + begin, op.indices + begin, op.indptr[i + 1] - begin};
}

// The per-row terms of the forms, summed in double over the stored values: sq_distance |x|^2,
// cosine 1/|x| (0 for an all-zero row, as scikit-learn's normalize leaves it), l1_distance sum |x|,
// chi2_sum sum x; empty for dot.
template <class T>
std::vector<T> row_terms(GramForm form, const GramOperand<T>& op, i64 d, int n_threads) {
  if (form == GramForm::dot) return {};
  std::vector<T> terms(static_cast<std::size_t>(op.rows));
  const int threads = threads_for(n_threads, op.rows);
  parallel_for(
      op.rows, threads,
      [&](i64 i) {
        const RowView<T> r = row_of(op, i, d);
        double s = 0.0;
        for (i64 p = 0; p < r.size; ++p) {
          const double v = double(r.values[p]);
          s += form == GramForm::l1_distance ? std::abs(v) : form == GramForm::chi2_sum ? v : v * v;
        }
        if (form == GramForm::cosine) {
          const double inv = 1.0 / std::sqrt(s);
          s = s == 0.0 || inv > double(std::numeric_limits<T>::max()) ? 0.0 : inv;
        }
        terms[static_cast<std::size_t>(i)] = T(s);
      },
      std::max<i64>(1, op.rows / (4 * threads)));
  return terms;
}

// The form's value from the shared-support sums s[0:count) of output row i, columns j0.., in place
// (the distances clamped at 0 against the rounding of two nearly equal rows; every expression
// symmetric in i and j), then the kernel's epilogue, the dispatch table's (in double).
template <class T>
struct FormEpilogue {
  GramForm form;
  GramKind kind;
  const double* params;
  const T* x_term;
  const T* y_term;
  GramEpilogueFn epilogue;
  bool symmetric;

  void operator()(T* s, double* values, i64 i, i64 j0, i64 count) const {
    const T xt = x_term == nullptr ? T(0) : x_term[i];
    const T scale = form == GramForm::sq_distance ? T(2) : T(1);
    if (form == GramForm::cosine)
      for (i64 j = 0; j < count; ++j) s[j] *= xt * y_term[j0 + j];
    if (form == GramForm::sq_distance || form == GramForm::l1_distance || form == GramForm::chi2_sum)
      for (i64 j = 0; j < count; ++j) s[j] = std::max((xt + y_term[j0 + j]) - scale * s[j], T(0));
    if (symmetric && form != GramForm::dot && i >= j0 && i < j0 + count) s[i - j0] = exact_diagonal(xt);
    if (has_identity_epilogue(kind)) return;  // linear, cosine: float32 needs no pass through double
    if constexpr (sizeof(T) == sizeof(double)) {
      epilogue(kind, params, s, count);
    } else {
      for (i64 j = 0; j < count; ++j) values[j] = double(s[j]);
      epilogue(kind, params, values, count);
      for (i64 j = 0; j < count; ++j) s[j] = T(values[j]);
    }
  }

  // The form's exact value at K(x_i, x_i): 0 for the distances, cosine 1 (0 for a zero row); the
  // dot products of the diagonal are computed as any other entry.
  T exact_diagonal(T x_term_i) const {
    if (form == GramForm::cosine) return x_term_i == T(0) ? T(0) : T(1);
    return T(0);
  }
};

// Y's stored values grouped by feature, separately for each block of `width` consecutive rows of Y
// (an output column block): the values of feature k in block b are value[q] for q in
// [start(b, k), start(b, k + 1)), at rows block * width + row[q], ascending.
template <class T>
struct FeatureColumns {
  i64 width, features;
  std::vector<i64> starts;          // blocks x (features + 1)
  std::vector<std::int32_t> row;    // within the block
  std::vector<T> value;

  FeatureColumns(const GramOperand<T>& y, i64 d, i64 block_width) : width(block_width), features(d) {
    const i64 blocks = (y.rows + width - 1) / width;
    const i64 nnz = y.indptr[y.rows];
    starts.assign(static_cast<std::size_t>(blocks * (d + 1) + 1), 0);
    for (i64 j = 0; j < y.rows; ++j)
      for (i64 p = y.indptr[j]; p < y.indptr[j + 1]; ++p) ++starts[slot(j / width, y.indices[p]) + 1];
    for (std::size_t s = 1; s < starts.size(); ++s) starts[s] += starts[s - 1];
    row.resize(static_cast<std::size_t>(nnz));
    value.resize(static_cast<std::size_t>(nnz));
    std::vector<i64> next(starts.begin(), starts.end() - 1);
    for (i64 j = 0; j < y.rows; ++j)
      for (i64 p = y.indptr[j]; p < y.indptr[j + 1]; ++p) {
        const i64 q = next[slot(j / width, y.indices[p])]++;
        row[q] = static_cast<std::int32_t>(j % width);
        value[q] = y.values[p];
      }
  }
  std::size_t slot(i64 block, i64 k) const { return static_cast<std::size_t>(block * (features + 1) + k); }
};

// s[rows[q]] += pair(a, values[q]) for q < n, four at a time. The rows of one feature are
// distinct, so the four entries never coincide (hence restrict: their loads need not wait for the
// stores before them).
template <PairTerm P, class T>
inline void scatter_pairs(T a, const std::int32_t* __restrict rows, const T* __restrict values, i64 n,
                          T* __restrict s) {
  i64 q = 0;
  for (; q + 4 <= n; q += 4) {
    const std::int32_t r0 = rows[q], r1 = rows[q + 1], r2 = rows[q + 2], r3 = rows[q + 3];
    const T p0 = pair<P>(a, values[q]), p1 = pair<P>(a, values[q + 1]);
    const T p2 = pair<P>(a, values[q + 2]), p3 = pair<P>(a, values[q + 3]);
    s[r0] += p0;
    s[r1] += p1;
    s[r2] += p2;
    s[r3] += p3;
  }
  for (; q < n; ++q) s[rows[q]] += pair<P>(a, values[q]);
}

// Y's feature groups (starts and values) are larger than L2 for text-sized vocabularies, and each
// stored x_k opens one at random: their lines are fetched this many features ahead (the starts
// first, then the rows and values they point to), so that the misses overlap.
constexpr i64 kStartsAhead = 8, kColumnsAhead = 4;

// s[lo:count) for output row x_row against Y's rows [block * width + lo, block * width + count):
// zeroed, then every stored x_k adds pair(x_k, y_k) at the rows of that range that hold k (found by
// bisection: the rows of a feature ascend).
template <PairTerm P, class T>
void accumulate_by_feature(const RowView<T>& x_row, const FeatureColumns<T>& y, i64 block, T* s, i64 lo,
                           i64 count) {
  std::fill(s + lo, s + count, T(0));
  const std::int32_t* rows = y.row.data();
  const T* values = y.value.data();
  const i64* starts = y.starts.data();
  for (i64 p = 0; p < x_row.size; ++p) {
    if (p + kStartsAhead < x_row.size) __builtin_prefetch(starts + y.slot(block, x_row.indices[p + kStartsAhead]));
    if (p + kColumnsAhead < x_row.size) {
      const i64 q = starts[y.slot(block, x_row.indices[p + kColumnsAhead])];
      __builtin_prefetch(rows + q);
      __builtin_prefetch(values + q);
    }
    const std::size_t k = y.slot(block, x_row.indices[p]);
    i64 first = y.starts[k];
    const i64 end = y.starts[k + 1];
    if (lo > 0) first = std::lower_bound(rows + first, rows + end, static_cast<std::int32_t>(lo)) - rows;
    scatter_pairs<P>(x_row.values[p], rows + first, values + first, end - first, s);
  }
}

// The shared-support sum of a sparse row and a dense one: the sparse row's features gathered.
template <PairTerm P, class T>
T gather_sum(const RowView<T>& sparse_row, const T* dense_row) {
  T s = T(0);
  for (i64 p = 0; p < sparse_row.size; ++p) s += pair<P>(dense_row[sparse_row.indices[p]], sparse_row.values[p]);
  return s;
}

// Results larger than this (well past any L2 + L3 share) are written with streaming stores: a
// finished row segment goes to memory once, without first reading the lines it overwrites.
constexpr i64 kStreamingOutputBytes = 32 << 20;

// dst[0:n) = src[0:n), with non-temporal stores where `stream` (SSE2, every x86-64 CPU).
template <class T>
void copy_row(T* dst, const T* src, i64 n, bool stream) {
#if defined(__SSE2__)
  if (stream) {
    constexpr i64 W = 16 / sizeof(T);
    i64 k = 0;
    for (; k < n && reinterpret_cast<std::uintptr_t>(dst + k) % 16 != 0; ++k) dst[k] = src[k];
    for (; k + W <= n; k += W) {
      if constexpr (sizeof(T) == 4) {
        _mm_stream_ps(reinterpret_cast<float*>(dst + k), _mm_loadu_ps(reinterpret_cast<const float*>(src + k)));
      } else {
        _mm_stream_pd(reinterpret_cast<double*>(dst + k), _mm_loadu_pd(reinterpret_cast<const double*>(src + k)));
      }
    }
    for (; k < n; ++k) dst[k] = src[k];
    return;
  }
#endif
  (void)stream;
  std::memcpy(dst, src, sizeof(T) * std::size_t(n));
}

inline void store_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// The width of the output column blocks. Both operands sparse: row segments (the target of the
// scattered accumulation) that fit half of L1 (cachegrind, 1000 x 12000 linear: 71 % fewer L1 read
// misses than segments of half L2, 5 % more instructions), widened where needed so that the block
// starts of Y grouped by feature (blocks x features) stay within Y's stored values in number.
// A dense operand: as many of its rows as fit half of L2 (64 to 4096). From the shapes and the CPU
// only, not the thread count (the kernel sums' order depends on it).
template <class T>
i64 column_block(const GramOperand<T>& y, i64 d, bool both_sparse) {
  const i64 m = y.rows;
  if (!both_sparse) return std::min(std::clamp<i64>(cpu_caches().l2 / 2 / i64(sizeof(T)) / d, 64, 4096), m);
  const i64 half_l1 = std::max<i64>(256, cpu_caches().l1d / 2 / i64(sizeof(T)));
  const i64 most_blocks = std::max<i64>(1, y.indptr[m] / (d + 1));
  return std::max<i64>(1, std::min(std::max(half_l1, ceil_div(m, most_blocks)), m));
}

// K(X, Y) for sparse operands, prepared once per call (row terms, epilogue, Y grouped by feature),
// computed one output row segment at a time. Output row r is X's row rows[r] (a RowSelection), so
// that kernel_rows takes the same path as the whole matrix. Not copyable: the epilogue points into
// the row terms.
template <class T>
class SparseKernel {
 public:
  SparseKernel(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y_or_null, i64 d)
      : x_(x),
        y_(y_or_null == nullptr ? x : *y_or_null),
        d_(d),
        m_(y_.rows),
        cols_(column_block<T>(y_, d, x.sparse() && y_.sparse())),
        form_(form_of(params.kind)),
        term_(pair_term_of(form_)),
        x_terms_(row_terms(form_, x, d, params.n_threads)),
        y_terms_(y_or_null == nullptr ? std::vector<T>{} : row_terms(form_, y_, d, params.n_threads)),
        epilogue_{form_,
                  params.kind,
                  params.values,
                  x_terms_.empty() ? nullptr : x_terms_.data(),
                  x_terms_.empty() ? nullptr : (y_or_null == nullptr ? x_terms_.data() : y_terms_.data()),
                  kernels().gram_epilogue,
                  y_or_null == nullptr} {
    // built before any parallel loop: nothing inside one allocates
    if (x.sparse() && y_.sparse()) y_by_feature_.emplace_back(y_, d, cols_);
  }
  SparseKernel(const SparseKernel&) = delete;
  SparseKernel& operator=(const SparseKernel&) = delete;

  i64 column_blocks() const { return ceil_div(m_, cols_); }
  // Per thread: the row segment, then (float32) its values in double for the epilogue.
  std::size_t scratch_bytes() const { return row_bytes() + std::size_t(cols_) * sizeof(double); }

  // For the output rows r in [r0, r1) in turn: the shared-support sums of X's row rows[r] against
  // the columns j >= first_column of column block `block` (scratch: scratch_bytes()), the epilogue
  // on them, then sink(r, j0, count, segment) with the finished K(x_rows[r], y_j) for j in
  // [j0, j0 + count), while the segment is in cache. first_column > 0 needs both operands sparse
  // (the upper triangle of a symmetric result). Runs on the calling thread only.
  template <class Sink>
  void segments(RowSelection rows, i64 r0, i64 r1, i64 block, i64 first_column, void* scratch,
                const Sink& sink) const {
    switch (term_) {
      case PairTerm::product:
        return segments_of<PairTerm::product>(rows, r0, r1, block, first_column, scratch, sink);
      case PairTerm::shared_magnitude:
        return segments_of<PairTerm::shared_magnitude>(rows, r0, r1, block, first_column, scratch, sink);
      case PairTerm::chi2_overlap:
        return segments_of<PairTerm::chi2_overlap>(rows, r0, r1, block, first_column, scratch, sink);
    }
  }

  i64 column_block_width() const { return cols_; }

 private:
  std::size_t row_bytes() const { return (std::size_t(cols_) * sizeof(T) + 63) / 64 * 64; }

  template <PairTerm P, class Sink>
  void segments_of(RowSelection rows, i64 r0, i64 r1, i64 block, i64 first_column, void* scratch,
                   const Sink& sink) const {
    const i64 j0 = block * cols_, count = std::min(cols_, m_ - j0);
    const i64 lo = std::clamp<i64>(first_column - j0, 0, count);
    T* row = static_cast<T*>(scratch);
    double* values = reinterpret_cast<double*>(static_cast<char*>(scratch) + row_bytes());
    for (i64 r = r0; r < r1; ++r) {
      const i64 i = rows[r];
      if (!y_by_feature_.empty()) {
        accumulate_by_feature<P>(row_of(x_, i, d_), y_by_feature_.front(), block, row, lo, count);
      } else if (x_.sparse()) {
        const RowView<T> x_row = row_of(x_, i, d_);
        for (i64 j = 0; j < count; ++j) row[j] = gather_sum<P>(x_row, y_.values + (j0 + j) * d_);
      } else {
        for (i64 j = 0; j < count; ++j) row[j] = gather_sum<P>(row_of(y_, j0 + j, d_), x_.values + i * d_);
      }
      epilogue_(row + lo, values, i, j0 + lo, count - lo);
      sink(r, j0 + lo, count - lo, static_cast<const T*>(row + lo));
    }
  }

  const GramOperand<T>& x_;
  const GramOperand<T>& y_;
  i64 d_, m_, cols_;
  GramForm form_;
  PairTerm term_;
  std::vector<T> x_terms_, y_terms_;
  FormEpilogue<T> epilogue_;
  std::vector<FeatureColumns<T>> y_by_feature_;  // one entry with both operands sparse
};

// Kernel sums take this many output rows per task: a constant, so that the order of the sums does
// not depend on the thread count (see gram_sum_loop.hpp).
constexpr i64 kSumRowBlock = 64;

}  // namespace

// The strictly lower triangle of the symmetric n x n result out (row stride n) from its upper
// triangle: blocks of `side` rows and columns, each a transposed copy (the dispatch table's) of its
// mirror image; blocks on the diagonal element by element. side keeps the source lines a block
// reads (one per row) in L1 while the block's columns are crossed.
template <class T>
void mirror_upper_triangle(T* out, i64 n, int n_threads, bool stream) {
  const i64 side = std::clamp<i64>(cpu_caches().l1d / (2 * 64), 16, 1024) / 16 * 16;
  const i64 blocks = ceil_div(n, side);
  const TransposedCopyFn<T> transposed_copy = TableEntry<T>::transposed_copy(kernels());
  // Task t: block row b = (t / blocks), block column c = (t % blocks) <= b.
  const i64 tasks = blocks * blocks;
  parallel_for(tasks, threads_for(n_threads, tasks), [&](i64 t) {
    const i64 b = t / blocks, c = t % blocks;
    if (c > b) return;
    const i64 i0 = b * side, rows = std::min(side, n - i0), j0 = c * side, cols = std::min(side, n - j0);
    if (c < b) {
      transposed_copy(out + j0 * n + i0, n, cols, rows, out + i0 * n + j0, n, stream);
      if (stream) store_fence();
      return;
    }
    for (i64 i = i0 + 1; i < i0 + rows; ++i)
      for (i64 j = j0; j < i; ++j) out[i * n + j] = out[j * n + i];
  });
}

// out (n x m) = K(x, y)[rows]; with `upper` (Y = X, every row of X in order) only the entries
// on and above the diagonal are computed, and the rest mirrored from them.
template <class T>
void store_sparse_gram(const GramParams& params, const GramOperand<T>& x, RowSelection rows,
                       const GramOperand<T>* y, i64 d, bool upper, T* out) {
  const i64 n = rows.count, m = y == nullptr ? x.rows : y->rows;
  if (n == 0 || m == 0) return;
  const SubnormalsAsZero float_mode;  // on this thread and the workers (see float_mode.hpp)
  const SparseKernel<T> kernel(params, x, y, d);
  // Output tiles: row blocks small enough for a dozen tiles per thread, column blocks outermost
  // (Y's block grouped by feature is shared by the tiles that follow each other). Upper: the tile
  // of rows [r0, r1) computes the columns from r0 on (a triangle of r1 - r0 rows beyond the
  // diagonal, equal to their mirror images: s(i, j) and s(j, i) add the same products in the same
  // order); the threads that finish their share of these unequal tiles first take over the rest.
  const i64 col_blocks = kernel.column_blocks(), width = kernel.column_block_width();
  const i64 tile_rows = std::clamp<i64>((n * col_blocks) / (12 * i64(params.n_threads)), 1, 64);
  const i64 row_blocks = ceil_div(n, tile_rows);
  const bool stream = n * m * i64(sizeof(T)) > kStreamingOutputBytes;
  const int threads = threads_for(params.n_threads, row_blocks * col_blocks);
  const ScratchLease scratch(threads, kernel.scratch_bytes());
  parallel_for(row_blocks * col_blocks, threads, [&](i64 t) {
    const i64 r0 = (t % row_blocks) * tile_rows, block = t / row_blocks;
    const i64 first_column = upper ? r0 : 0;
    if ((block + 1) * width <= first_column) return;
    kernel.segments(rows, r0, std::min(n, r0 + tile_rows), block, first_column, scratch[thread_index()],
                    [&](i64 r, i64 j0, i64 count, const T* segment) { copy_row(out + r * m + j0, segment, count, stream); });
    if (stream) store_fence();
  });
  if (upper) mirror_upper_triangle(out, n, params.n_threads, stream);
}

template <class T>
void compute_sparse_gram_rows(const GramParams& params, const GramOperand<T>& x, RowSelection rows,
                              const GramOperand<T>* y, i64 d, T* out) {
  store_sparse_gram(params, x, rows, y, d, false, out);
}

// Y = X: the upper triangle, mirrored (both operands are sparse: at least one is).
template <class T>
void compute_sparse_gram(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y, i64 d, T* out) {
  store_sparse_gram(params, x, RowSelection{nullptr, 0, x.rows}, y, d, y == nullptr, out);
}

template <class T>
void compute_sparse_gram_matvec(const GramParams& params, const GramOperand<T>& x, const GramOperand<T>* y, i64 d,
                                const double* v, i64 k, double* out) {
  const i64 n = x.rows, m = y == nullptr ? x.rows : y->rows;
  if (n == 0 || m == 0 || k == 0) {
    std::fill_n(out, n * k, 0.0);
    return;
  }
  const SubnormalsAsZero float_mode;
  const SparseKernel<T> kernel(params, x, y, d);
  const BlockProductFn<T> block_product = TableEntry<T>::block_product(kernels());
  const RowSelection all{nullptr, 0, n};
  sum_column_blocks({n, k, kSumRowBlock, kernel.column_blocks()}, params.n_threads, kernel.scratch_bytes(), out,
                    [&](i64 i0, i64 rows, i64 block, double* sums, void* scratch) {
                      kernel.segments(all, i0, i0 + rows, block, 0, scratch, [&](i64 r, i64 j0, i64 count, const T* segment) {
                        block_product(segment, count, 1, count, v + j0 * k, k, sums + (r - i0) * k);
                      });
                    });
}

template void compute_sparse_gram<float>(const GramParams&, const GramOperand<float>&, const GramOperand<float>*,
                                         i64, float*);
template void compute_sparse_gram<double>(const GramParams&, const GramOperand<double>&,
                                          const GramOperand<double>*, i64, double*);
template void compute_sparse_gram_rows<float>(const GramParams&, const GramOperand<float>&, RowSelection,
                                              const GramOperand<float>*, i64, float*);
template void compute_sparse_gram_rows<double>(const GramParams&, const GramOperand<double>&, RowSelection,
                                               const GramOperand<double>*, i64, double*);
template void compute_sparse_gram_matvec<float>(const GramParams&, const GramOperand<float>&,
                                                const GramOperand<float>*, i64, const double*, i64, double*);
template void compute_sparse_gram_matvec<double>(const GramParams&, const GramOperand<double>&,
                                                 const GramOperand<double>*, i64, const double*, i64, double*);

}  // namespace kk
