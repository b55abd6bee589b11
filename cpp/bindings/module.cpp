// kernelkit._core: the private extension module. Each area registers its functions in its own file.
#include "bindings.hpp"
#include "kernelkit/dispatch.hpp"
#include "kernelkit/parallel.hpp"

namespace {

// Asked by a long parallel loop every ~50 ms (from the thread that called kernelkit, which
// released the GIL): Python runs its signal handlers, and a KeyboardInterrupt they raise stops
// the loop and is raised when the call returns.
bool python_signal_pending() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "kernelkit's compiled core (private: use the kernelkit package)";
  try {
    kk::select_initial_isa();
  } catch (const std::invalid_argument& e) {
    throw py::import_error(std::string("kernelkit: KERNELKIT_SIMD: ") + e.what());
  }
  kk::set_interrupt_check(&python_signal_pending);
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const kk::Interrupted&) {
      // the signal handler's exception (KeyboardInterrupt) is already set
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
  kk::bindings::register_config(m);
  kk::bindings::register_gram(m);
  kk::bindings::register_gram_sums(m);
  kk::bindings::register_gram_sparse(m);
  kk::bindings::register_conv(m);
  kk::bindings::register_filter(m);
  kk::bindings::register_pool(m);
  kk::bindings::register_math(m);
}
