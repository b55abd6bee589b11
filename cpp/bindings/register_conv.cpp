// kernelkit._core.conv2d: arguments normalised by kernelkit/conv.py; checked again here so that no
// call can read or write out of bounds.
#include <array>

#include "bindings.hpp"
#include "kernelkit/conv_driver.hpp"

namespace kk::bindings {
namespace {

template <class T>
void conv2d_typed(const ConvShape& s, const py::array& x, const py::array& w, bool hwio, const py::object& bias,
                  py::array& out, Activation act, double alpha, int n_threads) {
  require(has_dtype<T>(x) && is_c_contiguous(x), "x: must be C-contiguous float32/float64");
  require(has_dtype<T>(w) && is_c_contiguous(w), "weight: must be C-contiguous of x's dtype");
  const T* bias_data = nullptr;
  py::array b;  // outlives the computation below
  if (!bias.is_none()) {
    require(py::isinstance<py::array>(bias), "bias: expected a numpy array or None");
    b = bias.cast<py::array>();
    require(has_dtype<T>(b) && is_c_contiguous(b) && b.ndim() == 1 && b.shape(0) == s.o,
            "bias: must be a C-contiguous (O,) array of x's dtype");
    bias_data = static_cast<const T*>(b.data());
  }
  const std::array<std::int64_t, 4> out_shape =
      s.nhwc ? std::array<std::int64_t, 4>{s.n, s.out_h(), s.out_w(), s.o}
             : std::array<std::int64_t, 4>{s.n, s.o, s.out_h(), s.out_w()};
  require(has_dtype<T>(out) && is_c_contiguous(out) && out.writeable() && out.ndim() == 4,
          "out: must be a writeable C-contiguous 4-D array of x's dtype");
  for (int i = 0; i < 4; ++i) require(out.shape(i) == out_shape[i], "out: wrong shape");
  const T* xp = static_cast<const T*>(x.data());
  const WeightView<T> weights(static_cast<const T*>(w.data()), hwio, s);
  T* op = static_cast<T*>(out.mutable_data());
  py::gil_scoped_release release;
  compute_conv2d<T>(s, xp, weights, bias_data, op, act, alpha, n_threads);
}

void conv2d(const py::array& x, const py::array& w, bool hwio, std::int64_t groups, const py::object& bias,
            py::array& out, std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> dilation,
            std::array<std::int64_t, 4> pads, bool nhwc, int activation, double alpha, int n_threads) {
  require(x.ndim() == 4, "x: expected a 4-D array");
  require(w.ndim() == 4, "weight: expected a 4-D array (OIHW or HWIO)");
  require(n_threads >= 1, "n_threads: must be >= 1");
  require(activation >= 0 && activation <= 2, "activation: unknown code");
  require(stride[0] >= 1 && stride[1] >= 1 && dilation[0] >= 1 && dilation[1] >= 1,
          "stride/dilation: must be >= 1");
  require(pads[0] >= 0 && pads[1] >= 0 && pads[2] >= 0 && pads[3] >= 0, "padding: must be >= 0");
  // OIHW: (O, C/groups, KH, KW); HWIO: (KH, KW, C/groups, O).
  const std::int64_t o = w.shape(hwio ? 3 : 0), cg = w.shape(hwio ? 2 : 1);
  ConvShape s{x.shape(0),
              nhwc ? x.shape(3) : x.shape(1),
              nhwc ? x.shape(1) : x.shape(2),
              nhwc ? x.shape(2) : x.shape(3),
              groups,
              o,
              w.shape(hwio ? 0 : 2),
              w.shape(hwio ? 1 : 3),
              stride[0], stride[1], dilation[0], dilation[1], pads[0], pads[1], pads[2], pads[3], nhwc};
  require(groups >= 1 && s.c >= groups && s.c % groups == 0 && o % groups == 0 && cg == s.c / groups,
          "groups: must divide the (non-zero) input and output channels, with C/groups weight input channels");
  require(s.kh >= 1 && s.kw >= 1 && s.o >= 1, "weight: kernel and output channels must not be empty");
  require(s.out_h() >= 1 && s.out_w() >= 1, "weight: larger than the padded input");
  const auto act = static_cast<Activation>(activation);
  if (has_dtype<float>(x)) return conv2d_typed<float>(s, x, w, hwio, bias, out, act, alpha, n_threads);
  if (has_dtype<double>(x)) return conv2d_typed<double>(s, x, w, hwio, bias, out, act, alpha, n_threads);
  throw py::type_error("x: dtype must be float32 or float64");
}

}  // namespace

void register_conv(py::module_& m) {
  m.def("conv2d", &conv2d, py::arg("x"), py::arg("weight"), py::arg("hwio"), py::arg("groups"), py::arg("bias"),
        py::arg("out"), py::arg("stride"),
        py::arg("dilation"), py::arg("pads"), py::arg("nhwc"), py::arg("activation"), py::arg("alpha"),
        py::arg("n_threads"), "out = act(conv2d(x, weight) + bias) with explicit per-side padding.");
}

}  // namespace kk::bindings
