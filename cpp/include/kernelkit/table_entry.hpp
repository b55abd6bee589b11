// Typed access to the dispatch table for the drivers and bindings (baseline code only: the per-ISA
// kernel sources never include this header).
#pragma once
#include "kernelkit/dispatch.hpp"

namespace kk {

// The entry for element type T.
template <class T>
struct TableEntry;
template <>
struct TableEntry<float> {
  static GramTileFn<float> gram_tile(const KernelTable& t) { return t.gram_tile_f32; }
  static GramPackFn<float> gram_pack(const KernelTable& t) { return t.gram_pack_f32; }
  static int gram_panel_cols(const KernelTable& t) { return t.gram_panel_cols_f32; }
  static RowNormsFn<float> row_norms(const KernelTable& t) { return t.row_norms_f32; }
  static ColumnSumsFn<float> column_sums(const KernelTable& t) { return t.column_sums_f32; }
  static BlockProductFn<float> block_product(const KernelTable& t) { return t.block_product_f32; }
  static TransposedCopyFn<float> transposed_copy(const KernelTable& t) { return t.transposed_copy_f32; }
  static ElementwiseFn<float> exp(const KernelTable& t) { return t.exp_f32; }
  static ElementwiseFn<float> tanh(const KernelTable& t) { return t.tanh_f32; }
  static ChannelsLastRowFn<float> channels_last_row(const KernelTable& t) { return t.channels_last_row_f32; }
  static ConvTaskFn<float> task(const GemmConvEntry& e) { return e.f32; }
  static std::int64_t cols(const GemmConvEntry& e) { return e.cols_f32; }
  static ConvTaskFn<float> depthwise(const KernelTable& t) { return t.depthwise_f32; }
  static std::int64_t depthwise_scratch(const KernelTable& t, const ConvProblem<float>& p) {
    return t.depthwise_scratch_f32(p);
  }
  static ConvTaskFn<float> task(const DirectConvEntry& e) { return e.f32; }
  static std::int64_t scratch(const DirectConvEntry& e, const ConvProblem<float>& p) { return e.scratch_f32(p); }
  static CorrelateRowsFn<float> correlate_rows(const KernelTable& t) { return t.correlate_rows_f32; }
  static PoolRowsFn<float> pool_rows(const KernelTable& t) { return t.pool_rows_f32; }
};
template <>
struct TableEntry<double> {
  static GramTileFn<double> gram_tile(const KernelTable& t) { return t.gram_tile_f64; }
  static GramPackFn<double> gram_pack(const KernelTable& t) { return t.gram_pack_f64; }
  static int gram_panel_cols(const KernelTable& t) { return t.gram_panel_cols_f64; }
  static RowNormsFn<double> row_norms(const KernelTable& t) { return t.row_norms_f64; }
  static ColumnSumsFn<double> column_sums(const KernelTable& t) { return t.column_sums_f64; }
  static BlockProductFn<double> block_product(const KernelTable& t) { return t.block_product_f64; }
  static TransposedCopyFn<double> transposed_copy(const KernelTable& t) { return t.transposed_copy_f64; }
  static ElementwiseFn<double> exp(const KernelTable& t) { return t.exp_f64; }
  static ElementwiseFn<double> tanh(const KernelTable& t) { return t.tanh_f64; }
  static ChannelsLastRowFn<double> channels_last_row(const KernelTable& t) { return t.channels_last_row_f64; }
  static ConvTaskFn<double> task(const GemmConvEntry& e) { return e.f64; }
  static std::int64_t cols(const GemmConvEntry& e) { return e.cols_f64; }
  static ConvTaskFn<double> depthwise(const KernelTable& t) { return t.depthwise_f64; }
  static std::int64_t depthwise_scratch(const KernelTable& t, const ConvProblem<double>& p) {
    return t.depthwise_scratch_f64(p);
  }
  static ConvTaskFn<double> task(const DirectConvEntry& e) { return e.f64; }
  static std::int64_t scratch(const DirectConvEntry& e, const ConvProblem<double>& p) { return e.scratch_f64(p); }
  static CorrelateRowsFn<double> correlate_rows(const KernelTable& t) { return t.correlate_rows_f64; }
  static PoolRowsFn<double> pool_rows(const KernelTable& t) { return t.pool_rows_f64; }
};

}  // namespace kk
