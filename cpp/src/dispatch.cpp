// Chooses the instruction-set path once: the best one this CPU supports, or the one named by
// KERNELKIT_SIMD. This file is compiled for the baseline ISA only.
#include "kernelkit/dispatch.hpp"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace kk {
namespace {

struct IsaEntry {
  const char* name;
  const KernelTable& (*table)();
  bool (*cpu_has)();
};

bool always() { return true; }
#if defined(__x86_64__) || defined(__i386__)
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") && cpu_has_avx2();
}
#endif

// Compiled paths, lowest first.
const std::vector<IsaEntry>& compiled() {
  static const std::vector<IsaEntry> entries = {
      {"baseline", &baseline::kernel_table, &always},
#if defined(KK_HAVE_AVX2)
      {"avx2", &avx2::kernel_table, &cpu_has_avx2},
#endif
#if defined(KK_HAVE_AVX512)
      {"avx512", &avx512::kernel_table, &cpu_has_avx512},
#endif
  };
  return entries;
}

const KernelTable* best_supported() {
  const KernelTable* best = nullptr;
  for (const IsaEntry& e : compiled())
    if (e.cpu_has()) best = &e.table();
  return best;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

const KernelTable* find_supported(const std::string& name) {
  for (const IsaEntry& e : compiled()) {
    if (name != e.name) continue;
    if (!e.cpu_has())
      throw std::invalid_argument("SIMD path '" + name + "' is compiled in but this CPU lacks it; supported: " +
                                  join(supported_isas()));
    return &e.table();
  }
  throw std::invalid_argument("unknown SIMD path '" + name + "'; expected one of: " + join(compiled_isas()) +
                              " (set by KERNELKIT_SIMD or kernelkit.set_simd_path)");
}

const KernelTable* initial_table() {
  const char* forced = std::getenv("KERNELKIT_SIMD");
  if (forced != nullptr && *forced != '\0') return find_supported(forced);
  return best_supported();
}

std::atomic<const KernelTable*> current{nullptr};

}  // namespace

std::vector<std::string> compiled_isas() {
  std::vector<std::string> names;
  for (const IsaEntry& e : compiled()) names.emplace_back(e.name);
  return names;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (const IsaEntry& e : compiled())
    if (e.cpu_has()) names.emplace_back(e.name);
  return names;
}

void select_isa(const std::string& name) { current.store(find_supported(name)); }

void select_initial_isa() { current.store(initial_table()); }

const KernelTable& kernels() { return *current.load(); }

}  // namespace kk
