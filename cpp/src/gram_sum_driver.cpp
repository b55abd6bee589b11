// Kernel sums and single rows of K: the parallel loops over blocks of K(X, Y), each block computed
// by GramOperands::block() (cpp/src/gram_driver.cpp, the Gram kernels with their exactness rules)
// into per-thread scratch and, for sums, multiplied into float64 by the per-ISA block product
// (cpp/kernels/gram_sum_kernels.cpp) in the loop shared with the sparse driver (gram_sum_loop.hpp).
// Memory beyond the inputs and outputs: one block per thread.
#include "kernelkit/gram_sum_driver.hpp"

#include <algorithm>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/gram_sum_loop.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/scratch.hpp"
#include "kernelkit/table_entry.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// An index's gathered rows take at most this much scratch per thread (for many features).
constexpr i64 kGatheredBytes = 4 << 20;

}  // namespace

template <class T>
void compute_gram_matvec(const GramParams& params, const T* x, i64 n, const T* y, i64 m, i64 d, const double* v,
                         i64 k, double* out) {
  if (n == 0 || m == 0 || k == 0) {
    std::fill_n(out, n * k, 0.0);
    return;
  }
  const SubnormalsAsZero float_mode;  // as in compute_gram: on this thread and the workers
  const GramOperands<T> operands(params, x, n, y, m, d);
  const i64 b = operands.block_rows();
  const std::size_t tile_bytes = static_cast<std::size_t>(b * b) * sizeof(T);
  const BlockProductFn<T> block_product = TableEntry<T>::block_product(kernels());
  // Per thread: the block of K, then the tile kernel's scratch.
  sum_column_blocks({n, k, b, ceil_div(m, b)}, params.n_threads, operands.block_scratch_bytes(0) + tile_bytes, out,
                    [&](i64 i0, i64 rows, i64 cb, double* sums, void* scratch) {
                      T* tile = static_cast<T*>(scratch);
                      const i64 j0 = cb * b, j1 = std::min(m, j0 + b);
                      operands.block({nullptr, i0, rows}, j0, j1, tile, b, static_cast<char*>(scratch) + tile_bytes);
                      block_product(tile, b, rows, j1 - j0, v + j0 * k, k, sums);
                    });
}

template <class T>
void compute_gram_rows(const GramParams& params, const T* x, i64 n, const i64* rows, i64 count, const T* y, i64 m,
                       i64 d, T* out) {
  if (count == 0 || m == 0) return;
  const SubnormalsAsZero float_mode;
  const GramOperands<T> operands(params, x, n, y, m, d);
  const i64 b = operands.block_rows();
  const i64 gathered = std::clamp<i64>(kGatheredBytes / (d * static_cast<i64>(sizeof(T))), 1, b);
  const i64 row_blocks = ceil_div(count, gathered), col_blocks = ceil_div(m, b);
  const i64 tasks = row_blocks * col_blocks;
  const int threads = threads_for(params.n_threads, tasks);
  const ScratchLease scratch(threads, operands.block_scratch_bytes(gathered));

  parallel_for(tasks, threads, [&](i64 t) {
    const i64 r0 = (t / col_blocks) * gathered, j0 = (t % col_blocks) * b;
    const RowSelection selected{rows + r0, 0, std::min(gathered, count - r0)};
    operands.block(selected, j0, std::min(m, j0 + b), out + r0 * m + j0, m, scratch[thread_index()]);
  });
}

template void compute_gram_matvec<float>(const GramParams&, const float*, i64, const float*, i64, i64, const double*,
                                         i64, double*);
template void compute_gram_matvec<double>(const GramParams&, const double*, i64, const double*, i64, i64,
                                          const double*, i64, double*);
template void compute_gram_rows<float>(const GramParams&, const float*, i64, const i64*, i64, const float*, i64, i64,
                                       float*);
template void compute_gram_rows<double>(const GramParams&, const double*, i64, const i64*, i64, const double*, i64,
                                        i64, double*);

}  // namespace kk
