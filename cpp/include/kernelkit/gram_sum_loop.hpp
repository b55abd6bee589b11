// The parallel loop of the kernel sums out = K(X, Y) . v, shared by the dense driver
// (cpp/src/gram_sum_driver.cpp) and the sparse one (cpp/src/gram_sparse_driver.cpp): each computes
// a block of K into per-thread scratch and multiplies it into float64 sums while it is in cache;
// this loop decides which blocks each task adds up, and in which order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernelkit/parallel.hpp"
#include "kernelkit/scratch.hpp"

namespace kk {

// How a kernel sum is cut: the n rows of X in blocks of row_block rows, the m columns of K in
// col_blocks blocks, v and out having k columns. Chosen from the shapes and the CPU only, never from
// the thread count, so that the order of the sums (and so the result) is the same for every
// n_threads.
struct SumBlocking {
  std::int64_t n, k, row_block, col_blocks;
};

// Sums over few row blocks are split over groups of column blocks too, so that this many tasks exist
// (a constant, not the thread count, for the reason above).
constexpr std::int64_t kMinSumTasks = 64;

// out (n x k, zeroed first) = the sum over the column blocks cb in ascending order of what
// add_block(i0, rows, cb, sums, scratch) adds into sums (rows x k, row stride k: out's rows i0..):
// the block of K at rows [i0, i0 + rows) and column block cb times the matching rows of v. Each
// thread gets scratch_bytes of 64-byte aligned scratch. Group 0 of the column blocks sums into out,
// the others into partial sums (at most kMinSumTasks row blocks' worth) added afterwards in group
// order. add_block must not throw.
template <class AddBlock>
void sum_column_blocks(const SumBlocking& b, int n_threads, std::size_t scratch_bytes, double* out,
                       const AddBlock& add_block) {
  using i64 = std::int64_t;
  std::fill_n(out, b.n * b.k, 0.0);
  if (b.n == 0 || b.k == 0 || b.col_blocks == 0) return;
  const i64 row_blocks = ceil_div(b.n, b.row_block);
  const i64 groups = std::clamp<i64>(ceil_div(kMinSumTasks, row_blocks), 1, b.col_blocks);
  const i64 blocks_per_group = ceil_div(b.col_blocks, groups);
  const i64 size = b.n * b.k;
  std::vector<double> partial(static_cast<std::size_t>((groups - 1) * size), 0.0);
  const i64 tasks = row_blocks * groups;
  const int threads = threads_for(n_threads, tasks);
  const ScratchLease scratch(threads, scratch_bytes);

  parallel_for(tasks, threads, [&](i64 t) {
    const i64 i0 = (t / groups) * b.row_block, g = t % groups;
    const i64 rows = std::min(b.row_block, b.n - i0);
    double* sums = (g == 0 ? out : partial.data() + (g - 1) * size) + i0 * b.k;
    const i64 last = std::min(b.col_blocks, (g + 1) * blocks_per_group);
    for (i64 cb = g * blocks_per_group; cb < last; ++cb) add_block(i0, rows, cb, sums, scratch[thread_index()]);
  });
  for (i64 g = 1; g < groups; ++g) {
    const double* p = partial.data() + (g - 1) * size;
    for (i64 e = 0; e < size; ++e) out[e] += p[e];
  }
}

}  // namespace kk
