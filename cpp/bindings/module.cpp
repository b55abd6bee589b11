// kernelkit._core: the private extension module. Each area registers its functions in its own file.
#include "bindings.hpp"
#include "kernelkit/dispatch.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "kernelkit's compiled core (private: use the kernelkit package)";
  try {
    kk::select_initial_isa();
  } catch (const std::invalid_argument& e) {
    throw py::import_error(std::string("kernelkit: KERNELKIT_SIMD: ") + e.what());
  }
  kk::bindings::register_config(m);
  kk::bindings::register_gram(m);
  kk::bindings::register_conv(m);
  kk::bindings::register_filter(m);
  kk::bindings::register_pool(m);
  kk::bindings::register_math(m);
}
