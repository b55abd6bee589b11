// A small cache of large result buffers. kernelkit's functions return new arrays, and the first
// touch of a freshly mapped block of tens of MiB costs the operating system's page zeroing (glibc
// maps every block of 32 MiB or more anew and unmaps it on free), often more than the kernel
// itself. Freed result buffers (and packed weights) of at least kMinCachedBytes are kept, up to a limit in all, and handed
// out again for requests that fit them, as onnxruntime's arena does.
#pragma once
#include <cstddef>
#include <memory>

namespace kk {

constexpr std::size_t kMinCachedBytes = std::size_t(16) << 20;
// Packed weights go through the cache from this size on: a one-shot conv2d packs them in every
// call, and mapping them anew cost a fifth of a call (one 256-channel 14 x 14 image, 11.8 MiB of
// Winograd weights: their page faults as long as the convolution).
constexpr std::size_t kMinCachedPackedBytes = std::size_t(1) << 20;
// The default limit: a sixteenth of the machine's memory, within these bounds (a 20,000 x 2,000
// float64 Gram matrix is 320 MB; fresh, its page zeroing took as long as its computation).
constexpr std::size_t kLeastDefaultCacheLimit = std::size_t(256) << 20;
constexpr std::size_t kMostDefaultCacheLimit = std::size_t(1) << 30;
std::size_t default_output_cache_limit();

// A 64-byte aligned buffer of at least `bytes` bytes (a cached one when one fits and `bytes` is at
// least `min_cached`); `capacity` receives its real size, to be given back to release_output.
void* acquire_output(std::size_t bytes, std::size_t& capacity, std::size_t min_cached = kMinCachedBytes);
// Takes back a buffer from acquire_output (with its min_cached): kept while the cache limit allows,
// freed otherwise.
void release_output(void* data, std::size_t capacity, std::size_t min_cached = kMinCachedBytes);

// The cache limit in bytes (0: keep nothing); lowering it frees what no longer fits.
void set_output_cache_limit(std::size_t bytes);
std::size_t output_cache_limit();
// Bytes of freed buffers held now.
std::size_t output_cache_held();

// A buffer of this cache that goes back to it when it ends: the packed weights of a prepared
// convolution, which a one-shot conv2d frees at the end of every call (Winograd's of 512 channels,
// 38 MiB, cost more in page faults than the call's arithmetic).
struct ReleaseToCache {
  std::size_t capacity, min_cached;
  void operator()(void* data) const { release_output(data, capacity, min_cached); }
};
using CachedBuffer = std::unique_ptr<void, ReleaseToCache>;
inline CachedBuffer cached_buffer(std::size_t bytes, std::size_t min_cached = kMinCachedBytes) {
  std::size_t capacity = 0;
  void* data = acquire_output(bytes, capacity, min_cached);
  return CachedBuffer(data, ReleaseToCache{capacity, min_cached});
}

}  // namespace kk
