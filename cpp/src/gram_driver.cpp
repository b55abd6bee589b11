// Gram-matrix driver: per-row terms (centre, norms), the parallel loop over output tiles, exact
// symmetry for Y = X, and the exact diagonal. The tiles themselves are computed by the per-ISA
// kernels of cpp/kernels/gram_kernels.cpp.
#include "kernelkit/gram_driver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/scratch.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// The epilogues read row terms a whole vector past the last column: pad by the widest panel.
constexpr i64 kRowTermPadding = 64;
// Outputs beyond this size (well past any L2 + L3 share) are written with streaming stores.
constexpr i64 kStreamingOutputBytes = 32 << 20;

// At most one thread per work item.
int threads_for(int n_threads, i64 items) {
  return static_cast<int>(std::max<i64>(1, std::min<i64>(n_threads, items)));
}

// Mean of the finite values of each feature over the rows of x and y together: subtracting it makes
// |x - y|^2 = |x|^2 + |y|^2 - 2 x.y free of the cancellation a large common offset would cause.
// Non-finite values are left out so that they spoil only their own rows of the result.
template <class T>
std::vector<T> common_centre(const T* x, i64 n, const T* y, i64 m, i64 d) {
  std::vector<double> sum(static_cast<std::size_t>(d), 0.0);
  std::vector<i64> count(static_cast<std::size_t>(d), 0);
  auto add_rows = [&](const T* a, i64 rows) {
    for (i64 i = 0; i < rows; ++i)
      for (i64 k = 0; k < d; ++k) {
        const double v = double(a[i * d + k]);
        const bool finite = std::isfinite(v);
        sum[k] += finite ? v : 0.0;
        count[k] += finite;
      }
  };
  add_rows(x, n);
  if (y != x) add_rows(y, m);
  std::vector<T> centre(static_cast<std::size_t>(d));
  for (i64 k = 0; k < d; ++k) centre[k] = count[k] == 0 ? T(0) : T(sum[k] / double(count[k]));
  return centre;
}

// Squared norms of the centred rows, from the same rounded centred values the kernel multiplies.
template <class T>
std::vector<T> centred_sq_norms(const T* a, i64 rows, i64 d, const T* centre, int n_threads) {
  std::vector<T> norms(static_cast<std::size_t>(rows + kRowTermPadding), T(0));
  const int threads = threads_for(n_threads, rows);
  parallel_for(
      rows, threads,
      [&](i64 i) {
        double s = 0.0;
        for (i64 k = 0; k < d; ++k) {
          const double v = double(T(a[i * d + k] - centre[k]));
          s += v * v;
        }
        norms[i] = T(s);
      },
      std::max<i64>(1, rows / (4 * threads)));
  return norms;
}

// 1/|row|, and 0 for an all-zero row (scikit-learn's normalize leaves those at zero).
template <class T>
std::vector<T> inverse_norms(const T* a, i64 rows, i64 d, int n_threads) {
  std::vector<T> inv(static_cast<std::size_t>(rows + kRowTermPadding), T(0));
  const int threads = threads_for(n_threads, rows);
  parallel_for(
      rows, threads,
      [&](i64 i) {
        double s = 0.0;
        for (i64 k = 0; k < d; ++k) s += double(a[i * d + k]) * double(a[i * d + k]);
        // A norm so small that its inverse overflows T counts as zero, as scikit-learn's normalize
        // does.
        const double r = 1.0 / std::sqrt(s);
        inv[i] = s == 0.0 || r > double(std::numeric_limits<T>::max()) ? T(0) : T(r);
      },
      std::max<i64>(1, rows / (4 * threads)));
  return inv;
}

// K(x, x) where it is known exactly: rbf gives exp(0) = 1 (NaN for a non-finite row), cosine 1 for
// a non-zero row and 0 for a zero row.
template <class T>
void set_exact_diagonal(GramKind kind, const GramProblem<T>& p, i64 i0, i64 i1) {
  if (kind != GramKind::rbf && kind != GramKind::cosine) return;  // only these have row terms
  for (i64 i = i0; i < i1; ++i) {
    const T term = p.x_row_term[i];
    p.out[i * p.ldo + i] = kind == GramKind::rbf ? T(1) + (term - term)
                           : term == T(0)        ? T(0)
                                                 : term / term;
  }
}

// The rows of a (rows x d) holding an Inf or NaN.
template <class T>
std::vector<i64> non_finite_rows(const T* a, i64 rows, i64 d) {
  std::vector<i64> found;
  for (i64 i = 0; i < rows; ++i)
    if (!std::all_of(a + i * d, a + (i + 1) * d, [](T v) { return std::isfinite(v); })) found.push_back(i);
  return found;
}

// exp(-gamma |x_i - y_j|^2) from the differences, for the pairs the expanded form
// |x|^2 + |y|^2 - 2 x.y gets wrong when a value is infinite (inf - inf = NaN where the distance is
// inf and the kernel exactly 0).
template <class T>
T rbf_directly(const T* xi, const T* yj, i64 d, double gamma) {
  double s = 0.0;
  for (i64 k = 0; k < d; ++k) {
    const double v = double(xi[k]) - double(yj[k]);
    s += v * v;
  }
  return T(std::exp(-gamma * s));
}

// The rbf entries of the rows and columns whose inputs hold Inf or NaN, recomputed directly.
template <class T>
void fix_non_finite_rbf(const GramProblem<T>& p, bool symmetric) {
  for (i64 i : non_finite_rows(p.x, p.n, p.d))
    for (i64 j = 0; j < p.m; ++j) {
      const T v = rbf_directly(p.x + i * p.d, p.y + j * p.d, p.d, p.gamma);
      p.out[i * p.ldo + j] = v;
      if (symmetric) p.out[j * p.ldo + i] = v;
    }
  if (symmetric) return;
  for (i64 j : non_finite_rows(p.y, p.m, p.d))
    for (i64 i = 0; i < p.n; ++i) p.out[i * p.ldo + j] = rbf_directly(p.x + i * p.d, p.y + j * p.d, p.d, p.gamma);
}

struct Tile {
  i64 i0, i1, j0, j1;
};

std::vector<Tile> output_tiles(i64 n, i64 m, i64 tile, bool upper_only) {
  std::vector<Tile> tiles;
  for (i64 i0 = 0; i0 < n; i0 += tile)
    for (i64 j0 = upper_only ? i0 : 0; j0 < m; j0 += tile)
      tiles.push_back({i0, std::min(i0 + tile, n), j0, std::min(j0 + tile, m)});
  return tiles;
}

}  // namespace

template <class T>
void compute_gram(const GramParams& params, const T* x, i64 n, const T* y, i64 m, i64 d, T* out) {
  if (n == 0 || m == 0) return;
  const bool symmetric = y == nullptr;
  if (symmetric) y = x;
  const int n_threads = params.n_threads;

  GramProblem<T> p{params.kind, x, y, n, m, d, out, m, nullptr, nullptr, nullptr,
                   params.gamma, params.coef0, params.degree,
                   n * m * static_cast<i64>(sizeof(T)) > kStreamingOutputBytes};
  std::vector<T> centre, x_terms, y_terms;
  if (params.kind == GramKind::rbf) {
    centre = common_centre(x, n, y, m, d);
    x_terms = centred_sq_norms(x, n, d, centre.data(), n_threads);
    if (!symmetric) y_terms = centred_sq_norms(y, m, d, centre.data(), n_threads);
    p.centre = centre.data();
  } else if (params.kind == GramKind::cosine) {
    x_terms = inverse_norms(x, n, d, n_threads);
    if (!symmetric) y_terms = inverse_norms(y, m, d, n_threads);
  }
  if (!x_terms.empty()) {
    p.x_row_term = x_terms.data();
    p.y_row_term = symmetric ? x_terms.data() : y_terms.data();
  }

  const KernelTable& table = kernels();
  const GramTileFn<T> tile_fn = TableEntry<T>::gram_tile(table);
  const std::vector<Tile> tiles = output_tiles(n, m, table.gram_tile, symmetric);
  const int threads = static_cast<int>(std::min<i64>(n_threads, static_cast<i64>(tiles.size())));
  const ScratchLease scratch(threads, table.gram_scratch_bytes);

  parallel_for(static_cast<i64>(tiles.size()), threads, [&](i64 t) {
    const Tile& tile = tiles[t];
    tile_fn(p, tile.i0, tile.i1, tile.j0, tile.j1, symmetric, scratch[thread_index()]);
    if (symmetric && tile.i0 == tile.j0) set_exact_diagonal(params.kind, p, tile.i0, tile.i1);
  });
  if (params.kind == GramKind::rbf) fix_non_finite_rbf(p, symmetric);
}

template void compute_gram<float>(const GramParams&, const float*, i64, const float*, i64, i64, float*);
template void compute_gram<double>(const GramParams&, const double*, i64, const double*, i64, i64, double*);

}  // namespace kk
