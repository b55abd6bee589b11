// The result-buffer cache (see output_cache.hpp): a short list of freed buffers, most recent last,
// behind one mutex (taken once per large allocation and once per free).
#include "kernelkit/output_cache.hpp"
#include "kernelkit/scratch.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace kk {
namespace {

struct Buffer {
  void* data;
  std::size_t capacity;
};

struct Cache {
  std::mutex mutex;
  std::vector<Buffer> free;  // oldest first
  std::size_t held = 0;
  std::size_t limit = default_output_cache_limit();

  // Frees the oldest buffers until `incoming` more bytes fit the limit. Caller holds the mutex.
  void evict_for(std::size_t incoming) {
    while (!free.empty() && held + incoming > limit) {
      held -= free.front().capacity;
      std::free(free.front().data);
      free.erase(free.begin());
    }
  }
};

Cache& cache() {
  static Cache instance;
  return instance;
}

// Buffers of at least kHugeBytes start on a huge-page boundary and fill whole huge pages, so that
// madvise can back them with transparent huge pages where the system offers them on request, as
// NumPy does for its arrays of 4 MiB or more (madvise refuses a range that does not start on a
// page, which every large block from malloc does not: a 320 MB result then took 78,000 page
// faults, half the time of a sparse Gram matrix).
constexpr std::size_t kHugePage = std::size_t(2) << 20;
constexpr std::size_t kHugeBytes = std::size_t(4) << 20;

// A new buffer of `capacity` bytes (rounded up to whole huge pages where it gets them).
void* allocate(std::size_t& capacity) {
  const bool huge = capacity >= kHugeBytes;
  if (huge) capacity = (capacity + kHugePage - 1) / kHugePage * kHugePage;
  void* data = std::aligned_alloc(huge ? kHugePage : 64, capacity);
  if (data == nullptr) throw AllocationFailure(capacity);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (huge) madvise(data, capacity, MADV_HUGEPAGE);  // a hint: failure changes nothing
#endif
  return data;
}

}  // namespace

std::size_t default_output_cache_limit() {
#if defined(__linux__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0)
    return std::clamp(std::size_t(pages) * std::size_t(page) / 16, kLeastDefaultCacheLimit, kMostDefaultCacheLimit);
#endif
  return kLeastDefaultCacheLimit;
}

void* acquire_output(std::size_t bytes, std::size_t& capacity, std::size_t min_cached) {
  capacity = (bytes + 4095) / 4096 * 4096;  // whole pages (aligned_alloc needs a multiple of 64)
  if (capacity < min_cached) return allocate(capacity);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    // The smallest cached buffer that fits without wasting more than a quarter of itself.
    std::size_t best = c.free.size();
    for (std::size_t i = 0; i < c.free.size(); ++i) {
      const std::size_t have = c.free[i].capacity;
      if (have >= capacity && have - capacity <= have / 4 && (best == c.free.size() || have < c.free[best].capacity))
        best = i;
    }
    if (best < c.free.size()) {
      const Buffer found = c.free[best];
      c.free.erase(c.free.begin() + static_cast<std::ptrdiff_t>(best));
      c.held -= found.capacity;
      capacity = found.capacity;
      return found.data;
    }
  }
  return allocate(capacity);
}

void release_output(void* data, std::size_t capacity, std::size_t min_cached) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (capacity < min_cached || capacity > c.limit) {
    std::free(data);
    return;
  }
  c.evict_for(capacity);
  c.free.push_back({data, capacity});
  c.held += capacity;
}

void set_output_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.limit = bytes;
  c.evict_for(0);
}

std::size_t output_cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.limit;
}

std::size_t output_cache_held() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.held;
}

}  // namespace kk
