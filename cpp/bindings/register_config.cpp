// Build and runtime configuration: SIMD paths, OpenMP, compiler.
#include "bindings.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/threads.hpp"

namespace kk::bindings {

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
  m.def("simd_path", [] { return std::string(kernels().isa); });
  m.def("set_simd_path", &select_isa, py::arg("name"));
  m.def("get_max_threads", &max_threads);
  m.def("set_max_threads", &set_max_threads, py::arg("n"));
  m.def("available_cores", &available_cores);
}

}  // namespace kk::bindings
