// The data-cache sizes of this CPU, read once (baseline code): blocking is derived from them at run
// time, not from constants tuned on one machine.
#pragma once
#include <cstdint>

namespace kk {

struct CpuCaches {
  std::int64_t l1d, l2, l3;  // bytes per core (L3: the whole cache); defaults where the OS does not say
  bool detected;             // false: all three are the defaults
};

const CpuCaches& cpu_caches();

}  // namespace kk
