// Planning a convolution: the algorithm from the layer's shape, then the work split (pixel tiles,
// output-channel ranges, depth blocks) from the SIMD path's register tiles, the CPU's cache sizes
// and the thread count. Pure functions: nothing here touches data.
#include "kernelkit/conv_plan.hpp"

#include <algorithm>

#include "kernelkit/cpu_caches.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/parallel.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

// Up to this many input channels per group the indirect GEMM's channel runs are too short to
// amortise its row pointers and transposed stores; the direct kernel wins (bench_conv.py stem cases,
// 3x3 and 7x7 layers with 5-7 channels, both layouts).
constexpr i64 kDirectMaxChannels = 7;
// Tasks per thread the split aims for when there are few images (threads that finish first take
// over the rest).
constexpr i64 kTasksPerThread = 4;
// NCHW input to the indirect GEMM is read from an (H, W, C) copy of this many bytes of images at most
// (at least one image).
constexpr i64 kIndirectCopyBytes = 8 << 20;
constexpr i64 kStreamingOutputBytes = 32 << 20;
// Winograd's transforms cost about as much per input and per output channel as a few of its
// products: below this many output channels per group they are not paid back.
constexpr i64 kWinogradMinChannels = 8;
// A Winograd task's tiles: their transformed inputs and products within the L2 cache (they are
// written and read once per task; twice the L2, as before, left 64 channels at 56 x 56 1.25x slower
// on a Xeon with 2 MiB of L2 and 2 threads: 3.6-3.8 ms instead of 2.9-3.0), and at least this many
// register tiles, so that each panel of transformed weights is used several times before it leaves
// L1 (256 and 512 channels would otherwise stream the weights: 1.4x onnxruntime instead of 1.8-2x
// on one Zen 1 core, bench/README.md).
constexpr i64 kWinogradMinPanels = 4;
// One 512-channel 7 x 7 image: Winograd (the GEMM's work) 1.4x slower than the GEMM, one 256-channel
// 14 x 14 image (1.75x less work) as fast, on a Xeon with AVX-512 and 2 threads.
constexpr double kWinogradMinSaving = 1.5;
// A single-use call (conv2d, which packs the weights for that call alone) also pays Winograd's
// weight transform, about this many of the GEMM's products per pair of input and output channels:
// on the Xeon with AVX-512 and 2 threads, one-shot Winograd lost to the one-shot GEMM where it
// saved up to 4300 products a pair (16 x 512 channels at 7 x 7: 16.0 ms against 14.7; one 128-channel
// 28 x 28 image 1.02 against 0.79) and won from 6500 on (8 x 256 at 14 x 14: 5.3 against 6.0).
constexpr double kWinogradTransformProducts = 5000;
// Output pixels a depthwise NCHW task computes at least (whole planes).
constexpr i64 kDepthwiseTaskPixels = 4096;

// A 1x1 kernel without stride or padding (dilation does not matter for 1x1).
bool pointwise_unpadded(const ConvShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pad_top == 0 && s.pad_bottom == 0 && s.pad_left == 0 &&
         s.pad_right == 0;
}

// The direct pointwise kernel computes whole strips of pixels: a plane shorter than two strips wastes
// most of its last one (e.g. 7 x 7 = 49 pixels in strips of 32), the GEMM's short register tiles do
// not.
bool runs_direct_pointwise(const ConvShape& s, i64 strip_pixels) {
  return !s.nhwc && pointwise_unpadded(s) && s.h * s.w >= 2 * strip_pixels;
}

// The direct pointwise kernel sees the NCHW images as one row of their pixels, end to end: a 7 x 7
// plane is 3 strips of 16 pixels and one vector for its 49th pixel, 8 such images 24.5 strips.
ConvShape as_one_row(const ConvShape& s) {
  ConvShape row = s;
  row.w = std::max<i64>(s.n, 1) * s.h * s.w;
  row.h = 1;
  row.n = 1;
  return row;
}

// Tasks the split aims for: several per thread, or one on one thread.
i64 wanted_tasks(int n_threads) { return n_threads > 1 ? kTasksPerThread * n_threads : 1; }

// Splits `units` output-channel units (panels or blocks) of a group into ranges, so that `work`
// independent pieces (images x groups x pixel tiles) times the ranges give every thread tasks. Of
// the range widths up to the one that gives the wanted task count, the widest whose tasks the
// threads finish soonest (in units of work, tasks taken in rounds): one 7 x 7 image with 10 panels
// on 2 threads runs 10 ranges of one panel (5 rounds of 1) rather than 5 of two (3 rounds of 2).
void split_channels(i64 work, i64 units, int n_threads, ConvPlan& plan, i64 unit_channels) {
  const i64 ranges = std::clamp<i64>(ceil_div(wanted_tasks(n_threads), work), 1, units);
  i64 per_range = ceil_div(units, ranges);
  const auto finish = [&](i64 width) { return ceil_div(work * ceil_div(units, width), n_threads) * width; };
  for (i64 width = per_range - 1; width >= 1; --width)
    if (finish(width) < finish(per_range)) per_range = width;
  plan.channel_tasks = ceil_div(units, per_range);
  plan.task_channels = per_range * unit_channels;
}

// The direct pointwise kernel gathers each strip of a task's pixels (every input channel) into a
// panel before its channel blocks use it: a strip's gathering costs about as much as this many of
// its blocks' products (its input rows lie a plane apart), and a task about this many more.
constexpr double kPointwisePackBlocks = 1.0;
constexpr double kPointwiseTaskBlocks = 0.5;

// The pointwise split: `work` groups, each one row of `pixels` pixels (every image's) in strips of `strip`
// (vectors of `lanes`), `blocks` output channel blocks per group; the chunk of strips and the blocks
// per range whose tasks the threads finish soonest (rounds of the largest task; a row's last, partial
// strip costs its share of the vectors). Splitting the channels finely re-gathers every strip for
// each range: one 7 x 7 image, 320 -> 1280 channels, in 214 ranges of one block ran 1.3x slower on 2
// threads than on one (Zen 3); splitting the pixels makes every thread read all the weights.
struct PointwiseSplit {
  i64 strips, blocks;
};
PointwiseSplit split_pointwise(i64 work, i64 pixels, i64 strip, i64 lanes, i64 blocks, i64 max_chunk_strips,
                               int n_threads) {
  const i64 strips = ceil_div(pixels, strip);
  const double row = double(pixels / strip) + double(ceil_div(pixels % strip, lanes) * lanes) / double(strip);
  PointwiseSplit best{std::min(strips, max_chunk_strips), blocks};
  double best_cost = -1;
  for (i64 chunk = best.strips; chunk >= 1; --chunk)
    for (i64 width = blocks; width >= 1; --width) {
      const i64 tasks = work * ceil_div(strips, chunk) * ceil_div(blocks, width);
      const double largest = std::min(double(chunk), row) * (double(width) + kPointwisePackBlocks) + kPointwiseTaskBlocks;
      const double cost = double(ceil_div(tasks, n_threads)) * largest;
      if (best_cost < 0 || cost < best_cost) best = {chunk, width}, best_cost = cost;
    }
  return best;
}

// Pixel tiles per image of the GEMM: at most the table's tile. When the images' tiles are too few
// for the threads, output-channel ranges make up the difference first (each range reads only its
// share of the weights), and only when those are too few as well are tiles made smaller. When no
// channel split is needed but there are few tiles, their number is rounded to a multiple of the
// threads, so that no thread is left with one tile more than the others.
i64 gemm_tiles(i64 pixels, i64 images, i64 max_tile, i64 min_tile, i64 channel_units, int n_threads) {
  const i64 wanted = wanted_tasks(n_threads);
  i64 tiles = ceil_div(pixels, max_tile);
  const i64 most = ceil_div(pixels, min_tile);
  if (images * tiles * channel_units < wanted) return std::min(most, ceil_div(wanted, images * channel_units));
  if (images * tiles >= wanted && images * tiles < 4 * wanted)
    tiles = std::min(most, ceil_div(round_up(images * tiles, n_threads), images));
  return tiles;
}

// NCHW input to the GEMM-like kernels is read from an (H, W, C) copy of a pass of this many images;
// NHWC input is read where it lies, all images in one pass.
i64 pass_images(const ConvShape& s, i64 element_bytes) {
  if (s.nhwc) return std::max<i64>(s.n, 1);
  return std::clamp<i64>(kIndirectCopyBytes / (s.c * s.h * s.w * element_bytes), 1, std::max<i64>(s.n, 1));
}

std::size_t channels_last_copy_bytes(const ConvShape& s, i64 element_bytes) {
  if (s.nhwc) return 0;
  return static_cast<std::size_t>(pass_images(s, element_bytes) * s.c * s.h * s.w * element_bytes);
}

// A 3x3 layer that Winograd F(4x4, 3x3) computes: stride and dilation 1.
bool winograd_shape(const ConvShape& s) {
  return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 &&
         s.o / s.groups >= kWinogradMinChannels;
}

// Winograd computes 36 points per 4 x 4 output tile where the GEMM computes 9 taps per output
// pixel, both in register tiles of `rows` tiles or pixels (Winograd's tiles run across images). On
// small planes of few images Winograd's rows are mostly empty (one 7 x 7 image: 4 tiles in a
// register tile of 14), and the GEMM does as little work without the transforms: Winograd is chosen
// where it saves kWinogradMinSaving of the GEMM's products (its transforms cost about the rest),
// and a single-use call also the weight transform's kWinogradTransformProducts.
bool winograd_pays(const ConvShape& s, i64 rows, bool single_use) {
  const i64 oh = s.out_h(), ow = s.out_w(), images = std::max<i64>(s.n, 1);
  const i64 winograd = kWinogradPoints * round_up(images * ceil_div(oh, kWinogradOut) * ceil_div(ow, kWinogradOut), rows);
  const i64 gemm = s.kh * s.kw * images * round_up(oh * ow, rows);
  return gemm >= kWinogradMinSaving * double(winograd) + (single_use ? kWinogradTransformProducts : 0.0);
}

template <class T>
void plan_gemm(const ConvShape& s, const KernelTable& table, int n_threads, ConvPlan& plan) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
  const GemmConvEntry& entry = table.conv_gemm;
  const i64 mr = entry.rows, nr = TableEntry<T>::cols(entry);
  const i64 pixels = s.out_h() * s.out_w();
  const i64 panels = ceil_div(og, nr);
  const i64 tiles = gemm_tiles(pixels, s.n * s.groups, table.conv_tile_pixels, mr, panels, n_threads);
  plan.tile_pixels = mr;
  plan.tile_channels = nr;
  plan.task_pixels = std::min(round_up(ceil_div(pixels, tiles), mr), round_up(pixels, mr));
  split_channels(s.n * s.groups * ceil_div(pixels, plan.task_pixels), panels, n_threads, plan, nr);
  const i64 panel_bytes = cg * taps * nr * i64(sizeof(T));
  const i64 blocks = ceil_div(panel_bytes, gemm_depth_block_bytes());
  plan.channel_block = ceil_div(cg, blocks);
  plan.scratch_bytes = table.conv_scratch_bytes(plan.task_pixels, plan.task_channels, taps, cg);
  plan.packed_bytes = sizeof(T) * static_cast<std::size_t>(s.groups * (round_up(og, nr) * (taps * cg + 1)));
  plan.copy_bytes = channels_last_copy_bytes(s, sizeof(T));
}

// Winograd: the GEMM's split over output tiles of 4 x 4 pixels, a task's tiles as many as keep
// their transformed inputs and products (36 points each) within the L2 cache.
template <class T>
void plan_winograd(const ConvShape& s, const KernelTable& table, int n_threads, ConvPlan& plan) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups;
  const GemmConvEntry& entry = table.conv_winograd;
  const i64 mr = entry.rows, nr = TableEntry<T>::cols(entry), lanes = table.vector_bytes / i64(sizeof(T));
  // A pass's tiles, numbered across its images (see WinogradTask).
  const i64 tiles = ceil_div(s.out_h(), kWinogradOut) * ceil_div(s.out_w(), kWinogradOut) * pass_images(s, sizeof(T));
  const i64 panels = ceil_div(og, nr);
  const i64 tile_bytes = kWinogradPoints * (round_up(cg, lanes) + round_up(og, nr)) * i64(sizeof(T));
  const i64 most_tiles = std::max(kWinogradMinPanels * mr, cpu_caches().l2 / tile_bytes / mr * mr);
  const i64 ranges = gemm_tiles(tiles, s.groups, most_tiles, mr, panels, n_threads);
  plan.tile_pixels = mr;
  plan.tile_channels = nr;
  plan.task_pixels = std::min(round_up(ceil_div(tiles, ranges), mr), round_up(tiles, mr));
  split_channels(s.groups * ceil_div(tiles, plan.task_pixels), panels, n_threads, plan, nr);
  plan.channel_block = ceil_div(cg, ceil_div(cg * nr * i64(sizeof(T)), gemm_depth_block_bytes()));
  const WinogradScratch layout{round_up(plan.task_pixels, mr), round_up(cg, lanes), plan.task_channels, lanes};
  plan.scratch_bytes = sizeof(T) * static_cast<std::size_t>(layout.elements());
  plan.packed_bytes = sizeof(T) * static_cast<std::size_t>(
                                      s.groups * panels * nr * (kWinogradPoints * cg + 1));
  plan.copy_bytes = channels_last_copy_bytes(s, sizeof(T));
}

// NCHW depthwise planes whose rows are narrower than two vectors leave most lanes of the plane
// kernel's strips empty; blocks of `lanes` channels transposed channels-last fill every lane, as
// long as a block's padded input stays within half the L2 cache.
bool depthwise_by_channel_blocks(const ConvShape& s, i64 lanes, std::size_t element_bytes) {
  const i64 rows = (s.out_h() - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  const i64 cols = (s.out_w() - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  return !s.nhwc && s.out_w() < 2 * lanes && rows * cols * lanes * i64(element_bytes) <= cpu_caches().l2 / 2;
}

}  // namespace

template <class T>
std::int64_t winograd_tasks_of_images(ConvProblem<T> p, std::int64_t images) {
  const i64 whole = images / p.pass_images, rest = images % p.pass_images;
  i64 tasks = whole * winograd_tasks(p);
  p.pass_images = rest;
  return rest > 0 ? tasks + winograd_tasks(p) : tasks;
}

ConvShape planned_shape(const ConvShape& s, std::int64_t pointwise_strip_pixels) {
  const bool unpadded = s.pad_top == 0 && s.pad_bottom == 0 && s.pad_left == 0 && s.pad_right == 0;
  if (s.nhwc || s.kh != 1 || s.kw != 1 || !unpadded || (s.sh == 1 && s.sw == 1)) return s;
  ConvShape compact = s;
  compact.h = s.out_h(), compact.w = s.out_w();
  compact.sh = compact.sw = 1;
  return runs_direct_pointwise(compact, pointwise_strip_pixels) ? compact : s;
}

std::int64_t gemm_depth_block_bytes() { return std::max<i64>(cpu_caches().l1d, 16 << 10); }

const char* algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::depthwise: return "depthwise";
    case ConvAlgorithm::direct_pointwise: return "direct_pointwise";
    case ConvAlgorithm::direct_few_channels: return "direct_few_channels";
    case ConvAlgorithm::direct_few_channels_nhwc: return "direct_few_channels_nhwc";
    case ConvAlgorithm::indirect_gemm: return "indirect_gemm";
    case ConvAlgorithm::winograd: return "winograd";
  }
  return "unknown";
}

const DirectConvEntry& direct_entry(const KernelTable& table, ConvAlgorithm algorithm) {
  if (algorithm == ConvAlgorithm::direct_pointwise) return table.conv_direct_pointwise;
  if (algorithm == ConvAlgorithm::direct_few_channels_nhwc) return table.conv_direct_few_channels_nhwc;
  return table.conv_direct_few_channels;
}

ConvAlgorithm select_conv_algorithm(const ConvShape& s, std::int64_t pointwise_strip_pixels,
                                    std::int64_t pixel_block_channels, std::int64_t gemm_rows,
                                    bool winograd_allowed, bool single_use) {
  const i64 cg = s.c / s.groups, og = s.o / s.groups;
  if (cg == 1 && og == 1) return ConvAlgorithm::depthwise;
  if (runs_direct_pointwise(s, pointwise_strip_pixels)) return ConvAlgorithm::direct_pointwise;
  // First layers: strips of pixels x a few channels, stored transposed in NHWC; in NHWC the pixel
  // block (pixels x channel vectors, stored in place) where the filters fill its channel block,
  // else most of its accumulators would hold padding (16 filters with AVX-512: 1.5x slower).
  if (cg <= kDirectMaxChannels)
    return s.nhwc && og >= pixel_block_channels ? ConvAlgorithm::direct_few_channels_nhwc
                                                : ConvAlgorithm::direct_few_channels;
  if (winograd_allowed && winograd_shape(s) && winograd_pays(s, gemm_rows, single_use)) return ConvAlgorithm::winograd;
  return ConvAlgorithm::indirect_gemm;
}

template <class T>
ConvProblem<T> planned_problem(const ConvShape& shape, const ConvPlan& plan) {
  const bool row = plan.algorithm == ConvAlgorithm::direct_pointwise;
  const ConvShape s = row ? as_one_row(shape) : shape;
  ConvProblem<T> p{};
  p.nhwc = s.nhwc;
  p.n = s.n, p.c = s.c, p.h = s.h, p.w = s.w;
  p.groups = s.groups, p.cg = s.c / s.groups, p.og = s.o / s.groups, p.o = s.o;
  p.kh = s.kh, p.kw = s.kw, p.sh = s.sh, p.sw = s.sw, p.dh = s.dh, p.dw = s.dw;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  p.oh = s.out_h(), p.ow = s.out_w();
  p.stream_output = plan.algorithm == ConvAlgorithm::indirect_gemm &&
                    s.n * s.o * p.oh * p.ow * i64(sizeof(T)) > kStreamingOutputBytes;
  p.channel_tasks = plan.channel_tasks;
  // direct: the columns of a band of rows
  p.tile_pixels = is_direct(plan.algorithm) ? plan.task_pixels / std::min(kDirectRowsPerTask, p.oh) : plan.task_pixels;
  p.channel_block = plan.channel_block;
  p.pass_images = pass_images(s, sizeof(T));
  p.image_pixels = row ? shape.h * shape.w : 0;
  // GEMM and direct kernels: whole panels or blocks of the register tile's width; depthwise NCHW:
  // planes per task.
  p.channel_units = plan.algorithm == ConvAlgorithm::depthwise ? plan.task_channels
                                                               : plan.task_channels / plan.tile_channels;
  return p;
}

template <class T>
ConvPlan make_conv_plan(const ConvShape& shape, const KernelTable& table, int n_threads, bool finite_weights,
                        bool single_use) {
  ConvPlan plan{};
  const DirectConvEntry& pointwise = table.conv_direct_pointwise;
  // Winograd for float32 only: its transforms cost float64 the accuracy that callers of float64
  // ask for (relative errors near 1e-14 instead of 1e-16).
  plan.algorithm = select_conv_algorithm(shape, sizeof(T) == 4 ? pointwise.strip_pixels_f32 : pointwise.strip_pixels_f64,
                                         table.conv_direct_few_channels_nhwc.block, table.conv_gemm.rows,
                                         sizeof(T) == 4 && finite_weights, single_use);
  plan.channel_tasks = 1;
  const ConvShape s = plan.algorithm == ConvAlgorithm::direct_pointwise ? as_one_row(shape) : shape;
  const i64 cg = s.c / s.groups, og = s.o / s.groups, taps = s.kh * s.kw;
  const i64 oh = s.out_h(), ow = s.out_w(), lanes = table.vector_bytes / i64(sizeof(T));
  switch (plan.algorithm) {
    case ConvAlgorithm::depthwise: {
      if (s.nhwc) {  // four channel vectors of a pixel in registers, an output row per task
        plan.tile_pixels = 1;
        plan.tile_channels = 4 * lanes;
        plan.task_pixels = ow;
        plan.task_channels = s.c;
        plan.tasks = s.n * oh;
      } else if (depthwise_by_channel_blocks(s, lanes, sizeof(T))) {
        // Rows narrower than two vectors: blocks of `lanes` channels, channels-last in registers.
        plan.tile_pixels = 1;
        plan.tile_channels = lanes;
        plan.task_pixels = oh * ow;
        plan.task_channels = lanes;
        plan.channel_block = lanes;
        plan.tasks = s.n * ceil_div(s.c, lanes);
      } else {
        // Strips of four vectors of a plane's pixels, planes grouped into tasks of about
        // kDepthwiseTaskPixels outputs (small planes would leave each task too little work for its
        // scheduling).
        const i64 planes = s.n * s.c;
        const i64 per_task = std::clamp<i64>(
            std::min(ceil_div(kDepthwiseTaskPixels, oh * ow), planes / wanted_tasks(n_threads)), 1, planes);
        plan.tile_pixels = 4 * lanes;
        plan.tile_channels = 1;
        plan.task_pixels = oh * ow;
        plan.task_channels = per_task;
        plan.tasks = ceil_div(planes, per_task);
      }
      plan.packed_bytes = sizeof(T) * static_cast<std::size_t>(s.c * (taps + 1));
      break;
    }
    case ConvAlgorithm::direct_pointwise:
    case ConvAlgorithm::direct_few_channels:
    case ConvAlgorithm::direct_few_channels_nhwc: {
      const DirectConvEntry& entry = direct_entry(table, plan.algorithm);
      const i64 strip = sizeof(T) == 4 ? entry.strip_pixels_f32 : entry.strip_pixels_f64;
      plan.tile_pixels = strip;
      plan.tile_channels = entry.block;
      const i64 blocks = ceil_div(og, entry.block);
      if (plan.algorithm == ConvAlgorithm::direct_pointwise) {
        const PointwiseSplit split = split_pointwise(s.groups, ow, strip, lanes, blocks, kDirectChunk / strip, n_threads);
        plan.task_pixels = std::min(split.strips * strip, ow);
        plan.channel_tasks = ceil_div(blocks, split.blocks);
        plan.task_channels = split.blocks * entry.block;
      } else {
        plan.task_pixels = std::min(kDirectRowsPerTask, oh) * std::min(kDirectChunk, ow);
        const i64 bands = ceil_div(oh, kDirectRowsPerTask), chunks = ceil_div(ow, kDirectChunk);
        split_channels(s.n * s.groups * bands * chunks, blocks, n_threads, plan, entry.block);
      }
      plan.packed_bytes = sizeof(T) * static_cast<std::size_t>(s.groups * round_up(og, entry.block) * (taps * cg + 1));
      break;
    }
    case ConvAlgorithm::indirect_gemm:
      plan_gemm<T>(s, table, n_threads, plan);
      break;
    case ConvAlgorithm::winograd:
      plan_winograd<T>(s, table, n_threads, plan);
      break;
  }
  const ConvProblem<T> p = planned_problem<T>(shape, plan);
  if (plan.algorithm == ConvAlgorithm::winograd) {
    plan.tasks = winograd_tasks_of_images(p, s.n);
  } else if (plan.algorithm == ConvAlgorithm::indirect_gemm) {
    plan.tasks = s.n * gemm_tasks_per_image(p);
  } else if (plan.algorithm == ConvAlgorithm::depthwise) {
    plan.scratch_bytes = sizeof(T) * static_cast<std::size_t>(TableEntry<T>::depthwise_scratch(table, p));
  } else {
    const DirectConvEntry& entry = direct_entry(table, plan.algorithm);
    plan.tasks = direct_tasks(p, s.n);
    plan.scratch_bytes = sizeof(T) * static_cast<std::size_t>(TableEntry<T>::scratch(entry, p));
  }
  plan.threads = static_cast<int>(std::clamp<i64>(plan.tasks, 1, n_threads));
  return plan;
}

template ConvPlan make_conv_plan<float>(const ConvShape&, const KernelTable&, int, bool, bool);
template ConvPlan make_conv_plan<double>(const ConvShape&, const KernelTable&, int, bool, bool);
template ConvProblem<float> planned_problem<float>(const ConvShape&, const ConvPlan&);
template ConvProblem<double> planned_problem<double>(const ConvShape&, const ConvPlan&);
template std::int64_t winograd_tasks_of_images<float>(ConvProblem<float>, std::int64_t);
template std::int64_t winograd_tasks_of_images<double>(ConvProblem<double>, std::int64_t);

}  // namespace kk
