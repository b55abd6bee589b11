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

// Scratch for one parallel call: at least `bytes` for each of `threads` threads, indexed by
// thread_index(), allocated before the loop (so nothing inside it allocates or throws). Each calling
// thread has its own buffers, so concurrent calls never share one. When the lease ends they are
// kept for that thread's next call (a fresh allocation of this size costs page faults that small
// calls notice) while the scratch kept by all threads together stays within kKeptScratchBytes;
// beyond it, and when the thread exits, they are freed.
constexpr std::size_t kKeptScratchBytes = std::size_t(64) << 20;

class ScratchLease {
 public:
  ScratchLease(int threads, std::size_t bytes);
  ~ScratchLease();
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;

  void* operator[](int index) const { return (*buffers_)[static_cast<std::size_t>(index)].get(); }

 private:
  std::vector<ScratchBuffer> own_;  // a lease taken while another is held on the same thread
  std::vector<ScratchBuffer>* buffers_;
  bool cached_;
};

// Bytes of scratch kept between calls by all threads now.
std::size_t kept_scratch_bytes();

}  // namespace kk
