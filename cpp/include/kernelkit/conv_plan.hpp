// The plan of one convolution: which kernel computes it and how the work is split, a pure function
// of the layer's shape, the SIMD path's kernel table, the CPU's caches and the thread count (as
// XNNPACK's select_microkernel_type and MLAS's MlasConvPrepare choose before they run). The
// prepared convolution (conv_driver.hpp) packs weights for the plan's algorithm and runs it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernelkit/conv.hpp"
#include "kernelkit/dispatch.hpp"

namespace kk {

struct ConvShape {
  std::int64_t n, c, h, w;          // input (layout given by nhwc)
  std::int64_t groups, o, kh, kw;
  std::int64_t sh, sw, dh, dw;
  std::int64_t pad_top, pad_bottom, pad_left, pad_right;
  bool nhwc;
  std::int64_t out_h() const { return (h + pad_top + pad_bottom - dh * (kh - 1) - 1) / sh + 1; }
  std::int64_t out_w() const { return (w + pad_left + pad_right - dw * (kw - 1) - 1) / sw + 1; }
};

enum class ConvAlgorithm : int {
  depthwise = 0,                 // groups == channels, one output channel each: one memory-bound pass
  direct_pointwise = 1,          // 1x1 without stride or padding, NCHW: each image one row of pixels
  direct_few_channels = 2,       // few input channels per group (first layers): strips of pixels
  direct_few_channels_nhwc = 3,  // the same in NHWC with many filters: blocks of channel vectors
  indirect_gemm = 4,             // everything else: implicit GEMM over channel-contiguous rows
  winograd = 5,                  // 3x3, stride and dilation 1, float32: Winograd F(4x4, 3x3)
};
const char* algorithm_name(ConvAlgorithm algorithm);

// shape -> algorithm (pointwise_strip_pixels: the direct pointwise kernel's strip on this path;
// pixel_block_channels: the NHWC first-layer kernel's channel block; gemm_rows: the rows of the
// GEMM's and Winograd's register tile; winograd_allowed: float32 with finite weights, see
// conv_winograd_kernels.cpp; single_use: the weights are packed for this call only, conv2d's).
ConvAlgorithm select_conv_algorithm(const ConvShape& s, std::int64_t pointwise_strip_pixels,
                                    std::int64_t pixel_block_channels, std::int64_t gemm_rows,
                                    bool winograd_allowed, bool single_use);

// The register-block shape of a direct algorithm on `table`'s SIMD path.
const DirectConvEntry& direct_entry(const KernelTable& table, ConvAlgorithm algorithm);

struct ConvPlan {
  ConvAlgorithm algorithm;
  // Register tile: output pixels x output channels accumulated in registers.
  std::int64_t tile_pixels, tile_channels;
  // Output pixels one task computes (GEMM: a tile of pixels; Winograd: output tiles of 4 x 4 pixels;
  // direct: a band of rows x a column chunk; depthwise: a plane in NCHW, an output row in NHWC).
  std::int64_t task_pixels;
  // Output channels one task computes, and how many such ranges cover a group.
  std::int64_t task_channels, channel_tasks;
  // GEMM and Winograd: input channels per depth block (its weight panels stay in L1 while the tile
  // passes);
  // depthwise NCHW: the channels of a channels-last block (0: plane by plane); 0 otherwise.
  std::int64_t channel_block;
  std::int64_t tasks;
  int threads;
  std::size_t scratch_bytes;   // per thread
  std::size_t packed_bytes;    // the packed weights and bias
  std::size_t copy_bytes;      // GEMM and Winograd with NCHW input: the channels-last copy of a pass of images
};

// The shape the plan is made for: a strided, unpadded 1x1 layer in NCHW reads every sh-th row and
// sw-th column only, so where its output plane is wide enough for the direct pointwise kernel
// (pointwise_strip_pixels: its strip on this path) it runs as a 1x1 layer without stride on a
// subsampled copy of its input (input / (sh sw) bytes), instead of transposing all of it
// channels-last for the GEMM (ResNet's stride-2 projections on Zen 1: 0.4-0.7x onnxruntime that
// way). Smaller output planes go to the GEMM in any case, which reads the strided rows itself: a
// subsampled copy first made 8 x 256 -> 512 from 14 x 14 0.68x onnxruntime instead of 0.93x (Xeon,
// AVX-512). Every other shape is planned as it is.
ConvShape planned_shape(const ConvShape& s, std::int64_t pointwise_strip_pixels);

// The plan for element type T (float or double) on `table`'s SIMD path with up to n_threads threads;
// finite_weights: whether every weight is finite (Winograd's transforms would spread a non-finite one);
// single_use: whether the weights are packed for this one call (conv2d), whose cost then counts.
template <class T>
ConvPlan make_conv_plan(const ConvShape& s, const KernelTable& table, int n_threads, bool finite_weights,
                        bool single_use);

// Whether the plan's kernel reads channel-contiguous input (NCHW input is copied to (H, W, C) first).
inline bool reads_channels_last(ConvAlgorithm algorithm) {
  return algorithm == ConvAlgorithm::indirect_gemm || algorithm == ConvAlgorithm::winograd;
}

// Whether the plan runs the direct kernel (bands of rows x column chunks x channel blocks).
inline bool is_direct(ConvAlgorithm algorithm) {
  return algorithm == ConvAlgorithm::direct_pointwise || algorithm == ConvAlgorithm::direct_few_channels ||
         algorithm == ConvAlgorithm::direct_few_channels_nhwc;
}

// The problem the plan's kernel runs, without its data pointers (input, weights, bias, output).
template <class T>
ConvProblem<T> planned_problem(const ConvShape& s, const ConvPlan& plan);

// Winograd's tasks for `images` images: whole passes of p.pass_images, then the rest.
template <class T>
std::int64_t winograd_tasks_of_images(ConvProblem<T> p, std::int64_t images);

// The bytes of weight panels one GEMM depth block may hold: this CPU's L1 data cache.
std::int64_t gemm_depth_block_bytes();

}  // namespace kk
