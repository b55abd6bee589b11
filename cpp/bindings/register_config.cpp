// Build and runtime configuration: SIMD paths, OpenMP, compiler, the result-buffer cache.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "kernelkit/conv_plan.hpp"
#include "kernelkit/cpu_caches.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/output_cache.hpp"
#include "kernelkit/parallel.hpp"
#include "kernelkit/scratch.hpp"
#include "kernelkit/table_entry.hpp"
#include "kernelkit/threads.hpp"

namespace kk::bindings {
namespace {

// A new uninitialised C-contiguous array for a result: large ones come from the result-buffer
// cache and go back to it when the last array using them is gone (the capsule is their base).
py::array empty_result(const std::vector<py::ssize_t>& shape, const py::dtype& dtype) {
  std::size_t elements = 1;
  for (const py::ssize_t n : shape) {
    require(n >= 0, "shape: must not be negative");
    elements *= static_cast<std::size_t>(n);
  }
  const std::size_t bytes = elements * static_cast<std::size_t>(dtype.itemsize());
  if (bytes < kMinCachedBytes) return py::array(dtype, shape);
  struct Owned {
    void* data;
    std::size_t capacity;
  };
  auto* owned = new Owned{nullptr, 0};
  try {
    owned->data = acquire_output(bytes, owned->capacity);
  } catch (...) {
    delete owned;
    throw;
  }
  py::capsule base(owned, [](void* p) {
    auto* o = static_cast<Owned*>(p);
    release_output(o->data, o->capacity);
    delete o;
  });
  return py::array(dtype, shape, owned->data, base);
}

// For each thread of one parallel loop of `tasks` tasks on `threads` threads (each task busy for
// `task_us` microseconds), the tasks it ran, in its order: how the pool shares out work, for tests.
std::vector<std::vector<std::int64_t>> parallel_trace(std::int64_t tasks, int threads, double task_us) {
  require(tasks >= 0 && threads >= 1 && task_us >= 0, "parallel_trace: tasks >= 0, threads >= 1, task_us >= 0");
  std::vector<std::vector<std::int64_t>> ran(static_cast<std::size_t>(threads));
  for (auto& list : ran) list.reserve(static_cast<std::size_t>(tasks));  // nothing allocates inside the loop
  const WithoutGil without_gil;
  parallel_for(tasks, threads, [&](std::int64_t t) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double, std::micro>(task_us);
    while (std::chrono::steady_clock::now() < until) {
    }
    ran[static_cast<std::size_t>(thread_index())].push_back(t);
  });
  return ran;
}

}  // namespace

void register_config(py::module_& m) {
  m.def("build_info", [] {
    py::dict info;
    info["version"] = KK_VERSION;
    info["simd"] = std::string(kernels().isa);
    info["simd_compiled"] = compiled_isas();
    info["simd_supported"] = supported_isas();
    info["openmp"] = openmp_enabled();
    info["openmp_version"] = openmp_version();
    info["openmp_runtime"] = std::string(openmp_runtime());
    info["compiler"] = KK_COMPILER;
    info["build_flags"] = KK_BUILD_FLAGS;
    return info;
  });
  // What the blocking is derived from on this CPU, and what the convolution plans choose from on
  // the SIMD path in use (float32).
  m.def("blocking_info", [] {
    const CpuCaches& c = cpu_caches();
    const KernelTable& t = kernels();
    py::dict info;
    info["cache_l1d"] = c.l1d;
    info["cache_l2"] = c.l2;
    info["cache_l3"] = c.l3;
    info["caches_detected"] = c.detected;
    const auto tile = [](const GemmConvEntry& e) {
      return std::to_string(e.rows) + "x" + std::to_string(TableEntry<float>::cols(e));
    };
    info["vector_bytes"] = t.vector_bytes;
    info["conv_gemm_tile"] = tile(t.conv_gemm);
    info["conv_gemm_max_task_pixels"] = t.conv_tile_pixels;
    info["conv_depth_block_bytes"] = gemm_depth_block_bytes();
    return info;
  });
  m.def("simd_path", [] { return std::string(kernels().isa); });
  m.def("set_simd_path", &select_isa, py::arg("name"));
  m.def("get_max_threads", &max_threads);
  m.def("set_max_threads", &set_max_threads, py::arg("n"));
  m.def("available_cores", &available_cores);
  m.def("parallel_trace", &parallel_trace, py::arg("tasks"), py::arg("threads"), py::arg("task_us"));
  m.def("empty_result", &empty_result, py::arg("shape"), py::arg("dtype"));
  m.def("set_output_cache_limit", &set_output_cache_limit, py::arg("bytes"));
  m.def("output_cache_info", [] {
    py::dict info;
    info["limit_bytes"] = output_cache_limit();
    info["held_bytes"] = output_cache_held();
    info["min_bytes"] = kMinCachedBytes;
    info["default_limit_bytes"] = default_output_cache_limit();
    return info;
  });
  m.def("scratch_info", [] {
    py::dict info;
    info["scratch_kept_bytes"] = kept_scratch_bytes();
    info["scratch_limit_bytes"] = kKeptScratchBytes;
    return info;
  });
}

}  // namespace kk::bindings
