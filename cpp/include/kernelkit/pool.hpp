// The row reduction the pooling driver hands to the per-ISA kernels (ISA-independent).
#pragma once
#include <cstdint>

namespace kk {

enum class PoolKind : int { max = 0, average = 1 };

// dst[i] = reduce over t < taps of src[i * stride + offsets[t]] for i < length, reduce being max
// or the sum times `scale` (an average's 1 / count). taps >= 1.
template <class T>
struct PoolRows {
  const T* src;
  std::int64_t stride;
  const std::int64_t* offsets;
  std::int64_t taps;
  T* dst;
  std::int64_t length;
  PoolKind kind;
  T scale;
};

template <class T>
using PoolRowsFn = void (*)(const PoolRows<T>&);

}  // namespace kk
