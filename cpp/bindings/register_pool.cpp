// kernelkit._core.pool2d: arguments normalised by kernelkit/models/ops.py; checked again here so
// that no call can read or write out of bounds.
#include <array>

#include "bindings.hpp"
#include "kernelkit/pool_driver.hpp"

namespace kk::bindings {
namespace {

using i64 = std::int64_t;
using Pair = std::array<i64, 2>;
using Sides = std::array<i64, 4>;  // top, bottom, left, right

template <class T>
void run_typed(const PoolShape& s, const py::array& x, py::array& out, int n_threads) {
  require(has_dtype<T>(out) && is_c_contiguous(out) && out.writeable() && out.ndim() == 4,
          "out: must be a writeable C-contiguous 4-D array of x's dtype");
  const std::array<i64, 4> shape = s.channels_last ? std::array<i64, 4>{s.n, s.oh, s.ow, s.c}
                                                   : std::array<i64, 4>{s.n, s.c, s.oh, s.ow};
  for (int i = 0; i < 4; ++i) require(out.shape(i) == shape[static_cast<std::size_t>(i)], "out: wrong shape");
  if (s.n * s.c * s.oh * s.ow == 0) return;
  const T* xp = static_cast<const T*>(x.data());
  T* op = static_cast<T*>(out.mutable_data());
  const WithoutGil without_gil;
  compute_pool2d(s, xp, op, n_threads);
}

void pool2d(const py::array& x, py::array& out, bool average, bool channels_last, Pair kernel, Pair stride,
            Pair dilation, Sides pads, Sides counted, int n_threads) {
  require(x.ndim() == 4 && is_c_contiguous(x), "x: expected a C-contiguous 4-D array");
  require(kernel[0] >= 1 && kernel[1] >= 1, "kernel: must be >= 1");
  require(std::min({stride[0], stride[1], dilation[0], dilation[1]}) >= 1, "stride, dilation: must be >= 1");
  require(*std::min_element(pads.begin(), pads.end()) >= 0 && *std::min_element(counted.begin(), counted.end()) >= 0,
          "pads: must not be negative");
  require(n_threads >= 1, "n_threads: must be >= 1");
  PoolShape s{};
  s.n = x.shape(0);
  s.c = channels_last ? x.shape(3) : x.shape(1);
  s.h = channels_last ? x.shape(1) : x.shape(2);
  s.w = channels_last ? x.shape(2) : x.shape(3);
  const i64 span_h = (kernel[0] - 1) * dilation[0] + 1, span_w = (kernel[1] - 1) * dilation[1] + 1;
  s.oh = (s.h + pads[0] + pads[1] - span_h) / stride[0] + 1;
  s.ow = (s.w + pads[2] + pads[3] - span_w) / stride[1] + 1;
  require(s.h + pads[0] + pads[1] >= span_h && s.w + pads[2] + pads[3] >= span_w,
          "kernel: larger than the padded input");
  s.kh = kernel[0], s.kw = kernel[1], s.sh = stride[0], s.sw = stride[1], s.dh = dilation[0], s.dw = dilation[1];
  s.pad_top = pads[0], s.pad_left = pads[2];
  s.count_top = counted[0], s.count_bottom = counted[1], s.count_left = counted[2], s.count_right = counted[3];
  s.kind = average ? PoolKind::average : PoolKind::max;
  s.channels_last = channels_last;
  if (has_dtype<float>(x)) return run_typed<float>(s, x, out, n_threads);
  if (has_dtype<double>(x)) return run_typed<double>(s, x, out, n_threads);
  throw py::type_error("x: dtype must be float32 or float64");
}

}  // namespace

void register_pool(py::module_& m) {
  m.def("pool2d", &pool2d, py::arg("x"), py::arg("out"), py::arg("average"), py::arg("channels_last"),
        py::arg("kernel"), py::arg("stride"), py::arg("dilation"), py::arg("pads"), py::arg("counted"),
        py::arg("n_threads"),
        "Max or average pooling of NCHW / NHWC images; pads (top, bottom, left, right); an average divides by "
        "its window's taps inside the input extended by `counted`.");
}

}  // namespace kk::bindings
