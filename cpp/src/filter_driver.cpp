// filter2d driver. The boundary rule becomes one index table per axis; each task (an image x a
// band of output rows x a tile of output columns) copies the rows it reads, extended by that
// rule, into per-thread scratch, so that the per-ISA row correlation never meets a border. One
// parallel loop runs the tasks of all images together, so a single image keeps every thread busy.
#include "kernelkit/filter_driver.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/scratch.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/parallel.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

// A padded row of one column tile stays in L1 while the taps sweep over it; the rows a task keeps
// (its padded band, or its row-pass results) stay in a 512 KiB L2.
constexpr i64 kTileRowBytes = 4096;
constexpr i64 kBandBytes = 192 << 10;
// Tasks per thread, so that the threads that finish first can even out tasks of unequal cost.
constexpr i64 kTasksPerThread = 4;
// Multiply-adds per thread below which waking another thread costs more than it saves.
constexpr i64 kMinWorkPerThread = 1 << 16;
constexpr i64 kRowAlignBytes = 64;

i64 floor_mod(i64 a, i64 m) {
  const i64 r = a % m;
  return r < 0 ? r + m : r;
}

template <class T>
i64 aligned_elements(i64 n) {
  constexpr i64 step = kRowAlignBytes / i64(sizeof(T));
  return ceil_div(n, step) * step;
}

// The input index that position i of an axis of `size` reads under `mode`, or -1 for cval. The
// reflections repeat with their period, as scipy.ndimage's do when the kernel outreaches the image.
i64 source_index(i64 i, i64 size, BoundaryMode mode) {
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case BoundaryMode::constant:
      return -1;
    case BoundaryMode::nearest:
      return i < 0 ? 0 : size - 1;
    case BoundaryMode::wrap:
      return floor_mod(i, size);
    case BoundaryMode::reflect: {  // d c b a | a b c d | d c b a
      const i64 m = floor_mod(i, 2 * size);
      return m < size ? m : 2 * size - 1 - m;
    }
    case BoundaryMode::mirror: {  // d c b | a b c d | c b a; a single pixel mirrors onto itself
      if (size == 1) return 0;
      const i64 m = floor_mod(i, 2 * size - 2);
      return m < size ? m : 2 * size - 2 - m;
    }
  }
  return -1;
}

// An axis of `size` extended by `before` positions in front and `after` behind: position p stands
// for input index p - before and reads source[p].
struct ExtendedAxis {
  i64 size, before;
  std::vector<i64> source;  // -1: cval

  ExtendedAxis(i64 size_, i64 before_, i64 after, BoundaryMode mode)
      : size(size_), before(before_), source(static_cast<std::size_t>(size_ + before_ + after)) {
    for (std::size_t p = 0; p < source.size(); ++p) source[p] = source_index(i64(p) - before, size, mode);
  }
};

// Positions [first, first + count) of an extended image row into dst, c values per position; a
// null row is a row outside the image in constant mode.
template <class T>
void extend_row(const T* row, const ExtendedAxis& cols, i64 first, i64 count, i64 c, T cval, T* dst) {
  if (row == nullptr) {
    std::fill(dst, dst + count * c, cval);
    return;
  }
  const i64 inside_lo = std::clamp(cols.before - first, i64(0), count);
  const i64 inside_hi = std::clamp(cols.before + cols.size - first, inside_lo, count);
  auto copy_position = [&](i64 j) {
    const i64 src = cols.source[static_cast<std::size_t>(first + j)];
    if (src < 0)
      std::fill(dst + j * c, dst + (j + 1) * c, cval);
    else
      std::copy(row + src * c, row + (src + 1) * c, dst + j * c);
  };
  for (i64 j = 0; j < inside_lo; ++j) copy_position(j);
  std::memcpy(dst + inside_lo * c, row + (first + inside_lo - cols.before) * c,
              sizeof(T) * static_cast<std::size_t>((inside_hi - inside_lo) * c));
  for (i64 j = inside_hi; j < count; ++j) copy_position(j);
}

// The taps of a rows x cols kernel whose rows lie row_stride and columns col_stride elements apart
// in the source. |w| <= DBL_EPSILON is left out as scipy.ndimage does; NaN is kept.
template <class T>
struct Taps {
  std::vector<i64> offsets;
  std::vector<T> weights;

  Taps(const double* kernel, i64 rows, i64 cols, i64 row_stride, i64 col_stride) {
    for (i64 r = 0; r < rows; ++r)
      for (i64 k = 0; k < cols; ++k) {
        const double w = kernel[r * cols + k];
        if (std::fabs(w) <= DBL_EPSILON) continue;
        offsets.push_back(r * row_stride + k * col_stride);
        weights.push_back(T(w));
      }
  }

  i64 count() const { return i64(offsets.size()); }

  TapRows<T> over(const T* src, i64 src_stride, T* dst, i64 dst_stride, i64 rows, i64 length) const {
    return {src, src_stride, offsets.data(), weights.data(), count(), dst, dst_stride, rows, length};
  }
};

// Output columns in tiles of tile_w and output rows in bands of band_h.
struct Tiling {
  i64 tile_w, tiles, band_h, bands;
};

template <class T>
Tiling plan_tiles(const FilterShape& s, int n_threads) {
  const i64 pixel_bytes = s.c * i64(sizeof(T));
  // At least twice the kernel width, so that the halo is at most half of what a tile reads.
  const i64 tiles = ceil_div(s.w, std::max(kTileRowBytes / pixel_bytes, 2 * s.kw));
  const i64 tile_w = ceil_div(s.w, tiles);
  const i64 row_bytes = (tile_w + s.kw - 1) * pixel_bytes;
  i64 band_h = std::max(kBandBytes / row_bytes - (s.kh - 1), s.kh);
  const i64 bands_wanted = ceil_div(kTasksPerThread * n_threads, s.n * tiles);
  band_h = std::max<i64>(1, std::min(band_h, ceil_div(s.h, bands_wanted)));
  const i64 bands = ceil_div(s.h, band_h);
  return {tile_w, tiles, ceil_div(s.h, bands), bands};
}

// One task: output rows [y0, y1) and columns [x0, x1) of image `image`.
struct Task {
  i64 image, y0, y1, x0, x1;
};

// Runs body(task, scratch) over every task of every image on up to n_threads threads, each with
// scratch_elements of T (plus the kernels' read slack) of its own; taps_per_value is the work.
template <class T, class Body>
void run_tasks(const FilterShape& s, const Tiling& t, int n_threads, i64 taps_per_value, i64 scratch_elements,
               const Body& body) {
  const i64 tasks = s.n * t.bands * t.tiles;
  const i64 work = s.n * s.h * s.w * s.c * std::max<i64>(taps_per_value, 1);
  const int threads = static_cast<int>(std::min({i64(n_threads), tasks, ceil_div(work, kMinWorkPerThread)}));
  const ScratchLease scratch(threads, sizeof(T) * static_cast<std::size_t>(scratch_elements) + kFilterReadSlackBytes);
  parallel_for(tasks, threads, [&](i64 k) {
    const i64 tile = k % t.tiles, band = k / t.tiles % t.bands;
    const Task task{k / (t.tiles * t.bands), band * t.band_h, std::min(s.h, (band + 1) * t.band_h),
                    tile * t.tile_w, std::min(s.w, (tile + 1) * t.tile_w)};
    body(task, static_cast<T*>(scratch[thread_index()]));
  });
}

// The image extended by the boundary rule on both axes.
template <class T>
struct ExtendedImage {
  const FilterShape& s;
  const T* x;
  ExtendedAxis rows, cols;

  ExtendedImage(const FilterShape& shape, const T* data)
      : s(shape),
        x(data),
        rows(s.h, s.anchor_y, s.kh - 1 - s.anchor_y, s.mode),
        cols(s.w, s.anchor_x, s.kw - 1 - s.anchor_x, s.mode) {}

  // Extended row e (output row y reads rows y .. y + kh - 1), the columns output columns
  // [x0, x1) read, into dst.
  void row(const Task& task, i64 e, T* dst) const {
    const i64 src = rows.source[static_cast<std::size_t>(e)];
    const T* row_data = src < 0 ? nullptr : x + (task.image * s.h + src) * s.w * s.c;
    extend_row(row_data, cols, task.x0, task.x1 - task.x0 + s.kw - 1, s.c, T(s.cval), dst);
  }

  T* out_tile(T* out, const Task& task) const { return out + ((task.image * s.h + task.y0) * s.w + task.x0) * s.c; }
};

}  // namespace

template <class T>
void compute_filter2d(const FilterShape& s, const T* x, const double* kernel, T* out, int n_threads) {
  const SubnormalsAsZero float_mode;  // on this thread and the workers (see float_mode.hpp)
  const CorrelateRowsFn<T> correlate = TableEntry<T>::correlate_rows(kernels());
  const ExtendedImage<T> image(s, x);
  const Tiling t = plan_tiles<T>(s, n_threads);
  const i64 stride = aligned_elements<T>((t.tile_w + s.kw - 1) * s.c);
  const Taps<T> taps(kernel, s.kh, s.kw, stride, s.c);
  run_tasks<T>(s, t, n_threads, taps.count(), (t.band_h + s.kh - 1) * stride, [&](const Task& task, T* band) {
    for (i64 e = task.y0; e < task.y1 + s.kh - 1; ++e) image.row(task, e, band + (e - task.y0) * stride);
    correlate(taps.over(band, stride, image.out_tile(out, task), s.w * s.c, task.y1 - task.y0,
                        (task.x1 - task.x0) * s.c));
  });
}

template <class T>
void compute_filter2d_separable(const FilterShape& s, const T* x, const double* row, const double* col, T* out,
                                int n_threads) {
  const SubnormalsAsZero float_mode;
  const CorrelateRowsFn<T> correlate = TableEntry<T>::correlate_rows(kernels());
  const ExtendedImage<T> image(s, x);
  const Tiling t = plan_tiles<T>(s, n_threads);
  const i64 line_elements = aligned_elements<T>((t.tile_w + s.kw - 1) * s.c);
  const i64 stride = aligned_elements<T>(t.tile_w * s.c);
  const Taps<T> row_taps(row, 1, s.kw, 0, s.c);
  const Taps<T> col_taps(col, s.kh, 1, stride, 0);
  const i64 scratch_elements = line_elements + (t.band_h + s.kh - 1) * stride;
  run_tasks<T>(s, t, n_threads, row_taps.count() + col_taps.count(), scratch_elements, [&](const Task& task, T* scratch) {
    T* line = scratch;
    T* row_passed = scratch + line_elements;
    const i64 length = (task.x1 - task.x0) * s.c;
    for (i64 e = task.y0; e < task.y1 + s.kh - 1; ++e) {
      image.row(task, e, line);
      correlate(row_taps.over(line, 0, row_passed + (e - task.y0) * stride, 0, 1, length));
    }
    correlate(col_taps.over(row_passed, stride, image.out_tile(out, task), s.w * s.c, task.y1 - task.y0, length));
  });
}

template void compute_filter2d<float>(const FilterShape&, const float*, const double*, float*, int);
template void compute_filter2d<double>(const FilterShape&, const double*, const double*, double*, int);
template void compute_filter2d_separable<float>(const FilterShape&, const float*, const double*, const double*,
                                                float*, int);
template void compute_filter2d_separable<double>(const FilterShape&, const double*, const double*, const double*,
                                                 double*, int);

}  // namespace kk
