// Pooling driver. Each task is a band of output rows of one image (NHWC) or one channel plane
// (NCHW); each output row is split into the columns whose windows lie inside the input, which one
// kernel call reduces together, and the border columns, reduced one by one over their valid taps.
// Padding is never materialised: taps outside the input are left out, and an average divides by
// the count of its window's taps inside the counted region.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernelkit/dispatch.hpp"
#include "kernelkit/float_mode.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/pool_driver.hpp"
#include "kernelkit/table_entry.hpp"

namespace kk {
namespace {

using i64 = std::int64_t;

constexpr i64 kTasksPerThread = 4;
// Output elements per thread below which waking another thread costs more than it saves.
constexpr i64 kMinOutputsPerThread = 1 << 14;

// The taps k < size of one axis whose position start + k * dilation lies in [low, high).
struct TapRange {
  i64 first, last;  // [first, last)
  i64 count() const { return std::max<i64>(last - first, 0); }
};

TapRange taps_within(i64 start, i64 size, i64 dilation, i64 low, i64 high) {
  i64 first = start >= low ? 0 : ceil_div(low - start, dilation);
  i64 last = start >= high ? 0 : (high - 1 - start) / dilation + 1;
  return {std::min(first, size), std::min(last, size)};
}

template <class T>
class RowPooler {
 public:
  RowPooler(const PoolShape& s, const T* x, T* out)
      : s_(s), x_(x), out_(out), reduce_(TableEntry<T>::pool_rows(kernels())) {
    // columns whose whole window lies in the input: ox * sw - pad_left >= 0 and its last tap < w
    col_first_ = std::min(ceil_div(s.pad_left, s.sw), s.ow);
    const i64 reach = s.w - 1 - (s.kw - 1) * s.dw + s.pad_left;
    col_last_ = reach < 0 ? col_first_ : std::max(col_first_, std::min(reach / s.sw + 1, s.ow));
  }

  // Output row oy of plane (NCHW) or image (NHWC) `unit`.
  void row(i64 unit, i64 oy, std::vector<i64>& offsets) const {
    const i64 iy0 = oy * s_.sh - s_.pad_top;
    const TapRange rows = taps_within(iy0, s_.kh, s_.dh, 0, s_.h);
    const i64 counted_rows = taps_within(iy0, s_.kh, s_.dh, -s_.count_top, s_.h + s_.count_bottom).count();
    const i64 channels = s_.channels_last ? s_.c : 1;
    const T* src = x_ + unit * s_.h * s_.w * channels;
    T* dst = out_ + (unit * s_.oh + oy) * s_.ow * channels;
    for (i64 ox = 0; ox < col_first_; ++ox) column(src, dst, iy0, rows, counted_rows, ox, offsets);
    interior(src, dst, iy0, rows, counted_rows, offsets);
    for (i64 ox = col_last_; ox < s_.ow; ++ox) column(src, dst, iy0, rows, counted_rows, ox, offsets);
  }

 private:
  // Element offset of input pixel (iy, ix) within the unit.
  i64 at(i64 iy, i64 ix) const { return (iy * s_.w + ix) * (s_.channels_last ? s_.c : 1); }

  void tap_offsets(i64 iy0, TapRange rows, i64 ix0, TapRange cols, std::vector<i64>& offsets) const {
    offsets.clear();
    for (i64 ky = rows.first; ky < rows.last; ++ky)
      for (i64 kx = cols.first; kx < cols.last; ++kx) offsets.push_back(at(iy0 + ky * s_.dh, ix0 + kx * s_.dw));
  }

  void run(const T* src, T* dst, i64 stride, const std::vector<i64>& offsets, i64 length, i64 count) const {
    if (length <= 0) return;
    if (offsets.empty()) {  // a window wholly in the padding
      const T fill = s_.kind == PoolKind::max ? -std::numeric_limits<T>::infinity()
                                              : std::numeric_limits<T>::quiet_NaN();
      std::fill(dst, dst + length, fill);
      return;
    }
    const T scale = count > 0 ? T(1) / T(count) : std::numeric_limits<T>::quiet_NaN();
    reduce_({src, stride, offsets.data(), i64(offsets.size()), dst, length, s_.kind, scale});
  }

  void interior(const T* src, T* dst, i64 iy0, TapRange rows, i64 counted_rows, std::vector<i64>& offsets) const {
    if (col_last_ <= col_first_) return;
    const i64 ix0 = col_first_ * s_.sw - s_.pad_left;
    const TapRange all_cols{0, s_.kw};
    const i64 count = counted_rows * s_.kw;
    tap_offsets(iy0, rows, ix0, all_cols, offsets);
    if (!s_.channels_last) {
      run(src, dst + col_first_, s_.sw, offsets, col_last_ - col_first_, count);
    } else if (s_.sw == 1) {  // the columns' channels are one contiguous run
      run(src, dst + col_first_ * s_.c, 1, offsets, (col_last_ - col_first_) * s_.c, count);
    } else {
      for (i64 ox = col_first_; ox < col_last_; ++ox)
        run(src + at(0, (ox - col_first_) * s_.sw), dst + ox * s_.c, 1, offsets, s_.c, count);
    }
  }

  void column(const T* src, T* dst, i64 iy0, TapRange rows, i64 counted_rows, i64 ox,
              std::vector<i64>& offsets) const {
    const i64 ix0 = ox * s_.sw - s_.pad_left;
    const TapRange cols = taps_within(ix0, s_.kw, s_.dw, 0, s_.w);
    const i64 counted_cols = taps_within(ix0, s_.kw, s_.dw, -s_.count_left, s_.w + s_.count_right).count();
    tap_offsets(iy0, rows, ix0, cols, offsets);
    const i64 channels = s_.channels_last ? s_.c : 1;
    run(src, dst + ox * channels, 1, offsets, channels, counted_rows * counted_cols);
  }

  const PoolShape& s_;
  const T* x_;
  T* out_;
  PoolRowsFn<T> reduce_;
  i64 col_first_ = 0, col_last_ = 0;
};

}  // namespace

template <class T>
void compute_pool2d(const PoolShape& s, const T* x, T* out, int n_threads) {
  const SubnormalsAsZero float_mode;  // on this thread and the workers (see float_mode.hpp)
  const RowPooler<T> pooler(s, x, out);
  const i64 units = s.channels_last ? s.n : s.n * s.c;
  const i64 outputs = s.n * s.c * s.oh * s.ow;
  const int threads = static_cast<int>(
      std::max<i64>(1, std::min<i64>(n_threads, ceil_div(outputs, kMinOutputsPerThread))));
  const i64 bands_per_unit = std::min(s.oh, std::max<i64>(1, ceil_div(threads * kTasksPerThread, units)));
  const i64 band_rows = ceil_div(s.oh, bands_per_unit);
  const i64 tasks = units * bands_per_unit;
  std::vector<std::vector<i64>> offsets(static_cast<std::size_t>(threads));  // one per thread
  for (auto& o : offsets) o.reserve(static_cast<std::size_t>(s.kh * s.kw));
  parallel_for(tasks, threads, [&](i64 task) {
    const i64 unit = task / bands_per_unit, band = task % bands_per_unit;
    const i64 last = std::min(s.oh, (band + 1) * band_rows);
    std::vector<i64>& mine = offsets[static_cast<std::size_t>(thread_index())];
    for (i64 oy = band * band_rows; oy < last; ++oy) pooler.row(unit, oy, mine);
  });
}

template void compute_pool2d<float>(const PoolShape&, const float*, float*, int);
template void compute_pool2d<double>(const PoolShape&, const double*, double*, int);

}  // namespace kk
