// The table of kernel entry points, one per instruction set, chosen once at import (or forced for tests).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "kernelkit/conv.hpp"
#include "kernelkit/filter.hpp"
#include "kernelkit/gram.hpp"
#include "kernelkit/pool.hpp"

namespace kk {

template <class T>
using ElementwiseFn = void (*)(const T* x, T* y, std::int64_t n);

struct KernelTable {
  const char* isa;
  int vector_bytes;
  // Square output tiles of this many rows/columns keep the packed panels in L1/L2.
  std::int64_t gram_tile;
  // Scratch one thread needs for gram_tile_* (packed panels).
  std::size_t gram_scratch_bytes;
  GramTileFn<float> gram_tile_f32;
  GramTileFn<double> gram_tile_f64;
  GramEpilogueFn gram_epilogue;
  // Columns per packed panel of GramPackFn, and the packing itself.
  int gram_panel_cols_f32, gram_panel_cols_f64;
  GramPackFn<float> gram_pack_f32;
  GramPackFn<double> gram_pack_f64;
  RowNormsFn<float> row_norms_f32;
  RowNormsFn<double> row_norms_f64;
  ColumnSumsFn<float> column_sums_f32;
  ColumnSumsFn<double> column_sums_f64;
  BlockProductFn<float> block_product_f32;
  BlockProductFn<double> block_product_f64;
  TransposedCopyFn<float> transposed_copy_f32;
  TransposedCopyFn<double> transposed_copy_f64;
  ElementwiseFn<float> exp_f32;
  ElementwiseFn<double> exp_f64;
  ElementwiseFn<float> tanh_f32;
  ElementwiseFn<double> tanh_f64;
  // `iterations` rounds of fma_chains independent vector FMAs (for the FMA peak; see math_kernels.cpp).
  int fma_chains;
  float (*fma_loop_f32)(std::int64_t iterations);
  double (*fma_loop_f64)(std::int64_t iterations);
  // Convolution by indirect GEMM over channel-contiguous input: the largest tile of output pixels per
  // task, scratch per thread (a task of `pixels` x `cols` output channels, taps kernel positions, cg
  // input channels per group), and its register tile and tasks.
  std::int64_t conv_tile_pixels;
  std::size_t (*conv_scratch_bytes)(std::int64_t pixels, std::int64_t cols, std::int64_t taps, std::int64_t cg);
  GemmConvEntry conv_gemm;
  // Winograd F(4x4, 3x3) for 3x3 layers with stride and dilation 1: the same register tile over
  // output tiles instead of pixels (see conv_winograd_kernels.cpp).
  GemmConvEntry conv_winograd;
  // The NCHW input's rows transposed for the tile kernels (in-register transposes).
  ChannelsLastRowFn<float> channels_last_row_f32;
  ChannelsLastRowFn<double> channels_last_row_f64;
  ConvTaskFn<float> depthwise_f32;
  ConvTaskFn<double> depthwise_f64;
  std::int64_t (*depthwise_scratch_f32)(const ConvProblem<float>&);  // elements per task
  std::int64_t (*depthwise_scratch_f64)(const ConvProblem<double>&);
  // Direct convolution (see conv.hpp): first layers and 1x1 convolutions in NCHW, first layers in
  // NHWC.
  DirectConvEntry conv_direct_few_channels;
  DirectConvEntry conv_direct_pointwise;
  DirectConvEntry conv_direct_few_channels_nhwc;
  // filter2d: weighted sums of shifted rows.
  CorrelateRowsFn<float> correlate_rows_f32;
  CorrelateRowsFn<double> correlate_rows_f64;
  // Pooling: max or average of strided rows.
  PoolRowsFn<float> pool_rows_f32;
  PoolRowsFn<double> pool_rows_f64;
};

#define KK_DECLARE_ISA_TABLE(isa) \
  namespace isa {                 \
  const KernelTable& kernel_table(); \
  }
KK_DECLARE_ISA_TABLE(baseline)
KK_DECLARE_ISA_TABLE(avx2)
KK_DECLARE_ISA_TABLE(avx512)
#undef KK_DECLARE_ISA_TABLE

// The table in use; select_initial_isa() must have run (the module does it at import).
const KernelTable& kernels();
// Picks the best supported path, or the one KERNELKIT_SIMD names (throws std::invalid_argument).
void select_initial_isa();
// Names of the paths compiled into this build / supported by this CPU (best last).
std::vector<std::string> compiled_isas();
std::vector<std::string> supported_isas();
// Switch to a path by name; throws std::invalid_argument for an unknown, uncompiled or unsupported one.
void select_isa(const std::string& name);

}  // namespace kk
