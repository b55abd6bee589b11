// Kernel sums: a block of K (computed by the Gram tile kernels into scratch) times the matching rows
// of v, added to the result rows in float64, so a float32 K loses no digits to the sum over many
// blocks. Compiled once per instruction set into kk::<isa>; the loop over blocks is in
// cpp/src/gram_sum_driver.cpp.
#include "kernelkit/dispatch.hpp"
#include "kernelkit/microkernel.hpp"

namespace kk {
namespace KK_ISA {
namespace {

using dvec = vec<double>;
constexpr int L = lanes<double>;

// L consecutive values of the block as doubles.
template <class T>
inline dvec load_as_double(const T* p) {
  if constexpr (sizeof(T) == sizeof(double)) {
    return load<double>(p);
  } else {
    typedef T Narrow __attribute__((vector_size(L * sizeof(T))));
    Narrow narrow;
    std::memcpy(&narrow, p, sizeof narrow);
    return __builtin_convertvector(narrow, dvec);
  }
}

// sum_j row[j] * v[j] over [0, cols): four independent chains of vector FMAs, then the tail.
template <class T>
double row_dot(const T* row, const double* v, i64 cols) {
  dvec acc[4] = {splat<double>(0.0), splat<double>(0.0), splat<double>(0.0), splat<double>(0.0)};
  i64 j = 0;
  for (; j + 4 * L <= cols; j += 4 * L)
    for (int u = 0; u < 4; ++u) acc[u] += load_as_double(row + j + u * L) * load<double>(v + j + u * L);
  for (; j + L <= cols; j += L) acc[0] += load_as_double(row + j) * load<double>(v + j);
  const dvec total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
  double s = 0.0;
  for (int l = 0; l < L; ++l) s += total[l];
  for (; j < cols; ++j) s += double(row[j]) * v[j];
  return s;
}

// acc[0:k] += a * v[0:k].
inline void add_scaled(double a, const double* v, i64 k, double* acc) {
  const dvec va = splat<double>(a);
  i64 c = 0;
  for (; c + L <= k; c += L) store<double>(acc + c, load<double>(acc + c) + va * load<double>(v + c));
  for (; c < k; ++c) acc[c] += a * v[c];
}

// acc (rows x k, row stride k) += block (rows x cols, row stride ldb) . v (cols x k, row stride k).
template <class T>
void accumulate_block_product(const T* block, i64 ldb, i64 rows, i64 cols, const double* v, i64 k, double* acc) {
  for (i64 r = 0; r < rows; ++r) {
    const T* row = block + r * ldb;
    if (k == 1) {
      acc[r] += row_dot(row, v, cols);
      continue;
    }
    for (i64 j = 0; j < cols; ++j) add_scaled(double(row[j]), v + j * k, k, acc + r * k);
  }
}

}  // namespace

void fill_gram_sum_entries(KernelTable& table) {
  table.block_product_f32 = &accumulate_block_product<float>;
  table.block_product_f64 = &accumulate_block_product<double>;
}

}  // namespace KK_ISA
}  // namespace kk
