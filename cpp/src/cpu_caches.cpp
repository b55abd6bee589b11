// Cache sizes from Linux's sysfs (the kernel's reading, which lscpu shows), else from sysconf
// (glibc reads them from cpuid on x86: on a Zen 4 virtual machine it gave 320 MiB for a 32 MiB
// L3), else defaults of a common x86-64 core (32 KiB L1d, 512 KiB L2, 16 MiB L3).
#include "kernelkit/cpu_caches.hpp"

#include <fstream>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace kk {
namespace {

std::int64_t from_sysconf([[maybe_unused]] int level) {
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
  const int name = level == 1 ? _SC_LEVEL1_DCACHE_SIZE : level == 2 ? _SC_LEVEL2_CACHE_SIZE : _SC_LEVEL3_CACHE_SIZE;
  const long value = sysconf(name);
  return value > 0 ? value : 0;
#else
  return 0;
#endif
}

// /sys/devices/system/cpu/cpu0/cache/indexN: "level", "type" (Data, Instruction, Unified), "size" ("48K").
std::int64_t from_sysfs(int level) {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level_file(dir + "level"), type_file(dir + "type"), size_file(dir + "size");
    int file_level = 0;
    std::string type, size;
    if (!(level_file >> file_level) || !(type_file >> type) || !(size_file >> size)) continue;
    if (file_level != level || type == "Instruction" || size.empty()) continue;
    std::int64_t bytes = std::stoll(size);
    const char unit = size.back();
    if (unit == 'K') bytes <<= 10;
    if (unit == 'M') bytes <<= 20;
    return bytes;
  }
  return 0;
}

CpuCaches detect() {
  const std::int64_t defaults[3] = {32 << 10, 512 << 10, 16 << 20};
  CpuCaches c{};
  std::int64_t* sizes[3] = {&c.l1d, &c.l2, &c.l3};
  c.detected = true;
  for (int level = 1; level <= 3; ++level) {
    std::int64_t bytes = 0;
    try {
      bytes = from_sysfs(level);
    } catch (...) {  // a malformed size file: ask sysconf
      bytes = 0;
    }
    if (bytes <= 0) bytes = from_sysconf(level);
    if (bytes <= 0) {
      bytes = defaults[level - 1];
      c.detected = false;
    }
    *sizes[level - 1] = bytes;
  }
  return c;
}

}  // namespace

const CpuCaches& cpu_caches() {
  static const CpuCaches caches = detect();
  return caches;
}

}  // namespace kk
