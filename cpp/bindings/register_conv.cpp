// kernelkit._core: the prepared convolution, one class per dtype registered by one template
// (kernelkit.conv2d runs a temporary one). Arguments are normalised by kernelkit/conv.py and
// checked again here so that no call can read or write out of bounds.
#include <array>
#include <memory>

#include "bindings.hpp"
#include "kernelkit/conv_driver.hpp"
#include "kernelkit/dispatch.hpp"

namespace kk::bindings {
namespace {

using i64 = std::int64_t;
using Pair = std::array<i64, 2>;
using Pads = std::array<i64, 4>;

// The weights (OIHW or HWIO) and bias arrays stay referenced here for as long as the C++ object
// reads them.
template <class T>
class Conv2dCore {
 public:
  Conv2dCore(const py::array& weight, bool hwio, i64 groups, const py::object& bias, int activation, double alpha,
             bool single_use)
      : weight_(weight), hwio_(hwio) {
    require(has_dtype<T>(weight) && is_c_contiguous(weight) && weight.ndim() == 4,
            "weight: must be a C-contiguous 4-D array (OIHW or HWIO) of the convolution's dtype");
    require(activation >= 0 && activation <= static_cast<int>(Activation::relu6), "activation: unknown code");
    const i64 o = weight.shape(hwio ? 3 : 0), cg = weight.shape(hwio ? 2 : 1);
    require(groups >= 1 && o % groups == 0, "groups: must divide the output channels");
    const T* bias_data = nullptr;
    if (!bias.is_none()) {
      require(py::isinstance<py::array>(bias), "bias: expected a numpy array or None");
      bias_ = bias.cast<py::array>();
      require(has_dtype<T>(bias_) && is_c_contiguous(bias_) && bias_.ndim() == 1 && bias_.shape(0) == o,
              "bias: must be a C-contiguous (O,) array of the convolution's dtype");
      bias_data = static_cast<const T*>(bias_.data());
    }
    conv_ = std::make_unique<PreparedConv<T>>(static_cast<const T*>(weight.data()), hwio, bias_data, groups, o, cg,
                                              weight.shape(hwio ? 0 : 2), weight.shape(hwio ? 1 : 3),
                                              static_cast<Activation>(activation), alpha, single_use);
    groups_ = groups;
  }

  // The shape of a call on an input of x_shape (4-D, in the layout nhwc says).
  ConvShape shape(const std::vector<i64>& x_shape, Pair stride, Pair dilation, Pads pads, bool nhwc) const {
    require(x_shape.size() == 4, "x: expected a 4-D array");
    const i64 o = weight_.shape(hwio_ ? 3 : 0);
    ConvShape s{x_shape[0], nhwc ? x_shape[3] : x_shape[1], nhwc ? x_shape[1] : x_shape[2],
                nhwc ? x_shape[2] : x_shape[3], groups_, o, weight_.shape(hwio_ ? 0 : 2),
                weight_.shape(hwio_ ? 1 : 3), stride[0], stride[1], dilation[0], dilation[1], pads[0], pads[1],
                pads[2], pads[3], nhwc};
    return s;
  }

  void run(const py::array& x, py::array& out, Pair stride, Pair dilation, Pads pads, bool nhwc, int n_threads) const {
    require(has_dtype<T>(x) && is_c_contiguous(x), "x: must be C-contiguous of the convolution's dtype");
    require(n_threads >= 1, "n_threads: must be >= 1");
    const ConvShape s = shape(std::vector<i64>(x.shape(), x.shape() + x.ndim()), stride, dilation, pads, nhwc);
    conv_->validate(s);  // std::invalid_argument -> ValueError
    const std::array<i64, 4> out_shape = nhwc ? std::array<i64, 4>{s.n, s.out_h(), s.out_w(), s.o}
                                              : std::array<i64, 4>{s.n, s.o, s.out_h(), s.out_w()};
    require(has_dtype<T>(out) && is_c_contiguous(out) && out.writeable() && out.ndim() == 4,
            "out: must be a writeable C-contiguous 4-D array of the convolution's dtype");
    for (int i = 0; i < 4; ++i) require(out.shape(i) == out_shape[i], "out: wrong shape");
    const T* xp = static_cast<const T*>(x.data());
    T* op = static_cast<T*>(out.mutable_data());
    const WithoutGil without_gil;
    conv_->run(s, xp, op, n_threads);
  }

  py::dict plan(const std::vector<i64>& x_shape, Pair stride, Pair dilation, Pads pads, bool nhwc,
                int n_threads) const {
    require(n_threads >= 1, "n_threads: must be >= 1");
    const ConvPlan p = conv_->plan(shape(x_shape, stride, dilation, pads, nhwc), n_threads);
    py::dict d;
    d["algorithm"] = algorithm_name(p.algorithm);
    d["simd"] = std::string(kernels().isa);
    d["register_tile"] = py::make_tuple(p.tile_pixels, p.tile_channels);
    d["task_pixels"] = p.task_pixels;
    d["task_channels"] = p.task_channels;
    d["channel_tasks"] = p.channel_tasks;
    d["channel_block"] = p.channel_block;
    d["tasks"] = p.tasks;
    d["threads"] = p.threads;
    d["scratch_bytes"] = p.scratch_bytes;
    d["packed_bytes"] = p.packed_bytes;
    d["copy_bytes"] = p.copy_bytes;
    return d;
  }

  i64 packings() const { return conv_->packings(); }

 private:
  py::array weight_, bias_;
  bool hwio_;
  i64 groups_ = 1;
  std::unique_ptr<PreparedConv<T>> conv_;
};

template <class T>
void register_core(py::module_& m, const char* name) {
  py::class_<Conv2dCore<T>>(m, name)
      .def(py::init<const py::array&, bool, i64, const py::object&, int, double, bool>(), py::arg("weight"),
           py::arg("hwio"), py::arg("groups"), py::arg("bias"), py::arg("activation"), py::arg("alpha"),
           py::arg("single_use") = false)
      .def("run", &Conv2dCore<T>::run, py::arg("x"), py::arg("out"), py::arg("stride"), py::arg("dilation"),
           py::arg("pads"), py::arg("nhwc"), py::arg("n_threads"),
           "out = act(conv2d(x, weight) + bias) with explicit per-side padding.")
      .def("plan", &Conv2dCore<T>::plan, py::arg("x_shape"), py::arg("stride"), py::arg("dilation"), py::arg("pads"),
           py::arg("nhwc"), py::arg("n_threads"))
      .def_property_readonly("packings", &Conv2dCore<T>::packings);
}

}  // namespace

void register_conv(py::module_& m) {
  register_core<float>(m, "Conv2dFloat32");
  register_core<double>(m, "Conv2dFloat64");
}

}  // namespace kk::bindings
