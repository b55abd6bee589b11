// The row correlation the filter2d driver hands to the per-ISA kernels (ISA-independent).
#pragma once
#include <cstddef>
#include <cstdint>

namespace kk {

// dst[r * dst_stride + i] = sum over t of weights[t] * src[r * src_stride + offsets[t] + i]
// for rows r < rows and i < length. One tap list serves a 2-D kernel over padded rows (offset
// ky * src_stride + kx * channels), the row pass of a separable kernel (kx * channels) and its
// column pass (ky * src_stride). Sums run over the taps in list order from +0.
template <class T>
struct TapRows {
  const T* src;  // readable for kFilterReadSlackBytes past the last element a row reads
  std::int64_t src_stride;
  const std::int64_t* offsets;
  const T* weights;
  std::int64_t taps;
  T* dst;
  std::int64_t dst_stride;
  std::int64_t rows, length;
};

// The kernels compute whole vector strips and store only the part inside `length`, so their
// loads may run this far past the end of a source row.
constexpr std::size_t kFilterReadSlackBytes = 1024;

template <class T>
using CorrelateRowsFn = void (*)(const TapRows<T>&);

}  // namespace kk
