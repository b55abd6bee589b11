// The Gram-matrix problem as the drivers hand it to the per-ISA kernels (ISA-independent, no code).
// The kernels themselves are declared in gram_kernels.def.
#pragma once
#include <cstdint>
#include <string_view>

namespace kk {

// The value an output tile accumulates for each pair of rows, which the kernel's epilogue maps to
// the result (see gram_kernels.def).
enum class GramForm : int { dot, cosine, sq_distance, l1_distance, chi2_sum };

enum GramFlags : int { kGramDenseOutput = 1, kGramNonnegative = 2 };
enum GramParamFlags : int { kGramParamNone = 1, kGramParamArray = 2, kGramParamPerFeature = 4 };

enum class GramKind : int {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) kind,
#include "kernelkit/gram_kernels.def"
};

constexpr GramForm kGramForms[] = {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) GramForm::form,
#include "kernelkit/gram_kernels.def"
};

constexpr GramForm form_of(GramKind kind) { return kGramForms[static_cast<int>(kind)]; }

// Whether a kind's value is its form's value (the epilogue Identity: linear, cosine), so that a
// driver can skip the epilogue and its conversions to double.
constexpr bool kGramIdentityEpilogue[] = {
#define KK_GRAM_KERNEL(kind, function, form, epilogue, metrics, flags) std::string_view(#epilogue) == "Identity",
#include "kernelkit/gram_kernels.def"
};

constexpr bool has_identity_epilogue(GramKind kind) { return kGramIdentityEpilogue[static_cast<int>(kind)]; }

// The most parameters a kernel has.
constexpr int kMaxGramParams = 4;

// Everything a tile kernel needs to compute out[i0:i1, j0:j1] of K(X, Y) (and, with `mirror`, to
// write it to out[j, i] for j > i as well).
// X is n x d, Y is m x d, both C-contiguous; out is n x m with row stride ldo.
template <class T>
struct GramProblem {
  GramKind kind;
  const T* x;
  const T* y;
  std::int64_t n, m, d;
  T* out;
  std::int64_t ldo;
  // Per-feature centre subtracted from x and y while packing (sq_distance), or nullptr.
  const T* centre;
  // Per-row terms the form needs: squared norms of the centred rows (sq_distance), reciprocal
  // norms (cosine); nullptr otherwise.
  const T* x_row_term;
  const T* y_row_term;
  // The kernel's parameters in gram_kernels.def's order.
  const double* params;
  // Write the result with streaming stores (it is much larger than the caches).
  bool stream_output;
  // Y's rows from y_packed_first on (a multiple of the panel width away from every tile's j0),
  // packed once by GramPackFn for all the tiles that read them; nullptr: each tile packs its own.
  const T* y_packed;
  std::int64_t y_packed_first;
};

// acc (rows x k) += block (rows x cols, row stride ldb) . v (cols x k), in float64 (kernel sums).
template <class T>
using BlockProductFn = void (*)(const T* block, std::int64_t ldb, std::int64_t rows, std::int64_t cols,
                                const double* v, std::int64_t k, double* acc);

// dst[q * ldd + r] = src[r * lds + q] for r < rows, q < cols (the mirroring of a symmetric result
// computed by its upper triangle); with `stream`, whole aligned vector blocks are written with
// streaming stores and the caller fences.
template <class T>
using TransposedCopyFn = void (*)(const T* src, std::int64_t lds, std::int64_t rows, std::int64_t cols, T* dst,
                                  std::int64_t ldd, bool stream);

// out[i0:i1, j0:j1] for at most one tile's rows (KernelTable::gram_tile) and any columns, tile by
// tile along them.
template <class T>
using GramTileFn = void (*)(const GramProblem<T>&, std::int64_t i0, std::int64_t i1,
                            std::int64_t j0, std::int64_t j1, bool mirror, void* scratch);

// Rows [j0, j1) of y (d features each, minus the centre unless nullptr) as the column panels the
// tile kernels multiply, over the whole depth: GramProblem::y_packed. dst holds d times (j1 - j0)
// rounded up to whole panels (KernelTable::gram_panel_cols_*) elements.
template <class T>
using GramPackFn = void (*)(const T* y, std::int64_t d, std::int64_t j0, std::int64_t j1, const T* centre, T* dst);

// Per-row terms: for each of `rows` rows of a (d features each, consecutive), sq_norms[i] = the
// sum over k of (a[i][k] - centre[k])^2, each difference rounded to T (as the tiles see it), then
// squared and summed in double (centre == nullptr: a[i][k]^2); with max_abs, max_abs[i] = the
// largest |a[i][k]| but NaN (as std::max leaves it).
template <class T>
using RowNormsFn = void (*)(const T* a, std::int64_t rows, std::int64_t d, const T* centre, double* sq_norms,
                            T* max_abs);

// sums[k - k0] += a[i][k] over the rows of a (rows x d) in order, for k in [k0, k1), in double:
// the same result for every split of the columns.
template <class T>
using ColumnSumsFn = void (*)(const T* a, std::int64_t rows, std::int64_t d, std::int64_t k0, std::int64_t k1,
                              double* sums);

// values[0:count] = the kernel's epilogue applied to the form's values (computed in double: the
// driver's rows recomputed from the definition and its exact diagonals).
using GramEpilogueFn = void (*)(GramKind kind, const double* params, double* values, std::int64_t count);

}  // namespace kk
