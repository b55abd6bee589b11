// The per-thread scratch behind ScratchLease: one cache per calling thread, and a process-wide count
// of what the caches keep between calls, so that many threads (a thread pool of an application,
// Dask's threaded scheduler) cannot accumulate scratch without bound.
#include "kernelkit/scratch.hpp"

#include <atomic>

namespace kk {
namespace {

std::atomic<std::size_t> kept_bytes{0};

struct ThreadCache {
  std::vector<ScratchBuffer> buffers;
  std::size_t bytes = 0;  // of each buffer
  std::size_t counted = 0;  // what this cache adds to kept_bytes while no lease holds it
  bool leased = false;

  std::size_t total() const { return buffers.size() * bytes; }
  ~ThreadCache() { kept_bytes.fetch_sub(counted, std::memory_order_relaxed); }
};

ThreadCache& thread_cache() {
  thread_local ThreadCache cache;
  return cache;
}

}  // namespace

ScratchLease::ScratchLease(int threads, std::size_t bytes) : buffers_(&own_), cached_(!thread_cache().leased) {
  if (!cached_) {
    for (int t = 0; t < threads; ++t) own_.push_back(aligned_scratch(bytes));
    return;
  }
  ThreadCache& cache = thread_cache();
  cache.leased = true;
  buffers_ = &cache.buffers;
  kept_bytes.fetch_sub(cache.counted, std::memory_order_relaxed);  // in use now, not kept
  cache.counted = 0;
  if (bytes > cache.bytes) {
    cache.buffers.clear();
    cache.bytes = bytes;
  }
  try {
    while (static_cast<int>(cache.buffers.size()) < threads) cache.buffers.push_back(aligned_scratch(cache.bytes));
  } catch (...) {  // out of memory: keep nothing
    cache.buffers.clear();
    cache.bytes = 0;
    cache.leased = false;
    throw;
  }
}

ScratchLease::~ScratchLease() {
  if (!cached_) return;
  ThreadCache& cache = thread_cache();
  cache.leased = false;
  const std::size_t total = cache.total();
  if (kept_bytes.fetch_add(total, std::memory_order_relaxed) + total <= kKeptScratchBytes) {
    cache.counted = total;
    return;
  }
  kept_bytes.fetch_sub(total, std::memory_order_relaxed);
  cache.buffers.clear();
  cache.bytes = 0;
}

std::size_t kept_scratch_bytes() { return kept_bytes.load(std::memory_order_relaxed); }

}  // namespace kk
