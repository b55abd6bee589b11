// Per-thread scratch for the drivers (compiled for the baseline ISA only): 64-byte aligned buffers
// allocated before a parallel loop, so nothing inside it allocates or throws.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kernelkit/parallel.hpp"

namespace kk {

// A failed allocation that says its size (pybind11 raises it as MemoryError with this message).
class AllocationFailure : public std::bad_alloc {
 public:
  explicit AllocationFailure(std::size_t bytes)
      : message_("kernelkit: cannot allocate " + std::to_string(bytes) + " bytes (" +
                 std::to_string(bytes >> 20) + " MiB)") {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using ScratchBuffer = std::unique_ptr<void, FreeDeleter>;

inline ScratchBuffer aligned_scratch(std::size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) throw AllocationFailure(bytes);
  return ScratchBuffer(p);
}

// At least `bytes` for each of `threads` threads, indexed by thread_index(). The buffers are kept
// for the next call from the same calling thread (a fresh allocation of this size costs page faults
// that small calls notice); each calling thread has its own, so concurrent calls never share one.
inline const std::vector<ScratchBuffer>& thread_scratch(int threads, std::size_t bytes) {
  struct Cache {
    std::vector<ScratchBuffer> buffers;
    std::size_t bytes = 0;
  };
  thread_local Cache cache;
  if (bytes > cache.bytes) {
    cache.buffers.clear();
    cache.bytes = bytes;
  }
  while (static_cast<int>(cache.buffers.size()) < threads) cache.buffers.push_back(aligned_scratch(cache.bytes));
  return cache.buffers;
}

}  // namespace kk
