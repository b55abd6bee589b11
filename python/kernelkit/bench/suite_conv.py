"""The conv suite: kernelkit.Conv2d against NumPy, PyTorch and onnxruntime, NCHW / OIHW."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..conv import Conv2d
from .cases import Array, Call, Case, Methods, Suite, random_generator, register

ONNX_OPSET = 17


@dataclass(frozen=True)
class ConvCase(Case):
    """N x Cin x H x W (H = W) convolved with Cout x Cin/groups x k x k weights, no bias."""

    n: int = 1
    cin: int = 1
    cout: int = 1
    k: int = 3
    stride: int = 1
    pad: int = 0
    hw: int = 8
    groups: int = 1

    suite = "conv"

    @property
    def out_hw(self) -> int:
        return (self.hw + 2 * self.pad - self.k) // self.stride + 1

    @property
    def description(self) -> str:
        """e.g. ``8x64->64 3x3 s1 p1 56`` (``dw`` for depthwise)."""
        if self.groups > 1 and self.groups == self.cin == self.cout:
            channels = f"dw {self.n}x{self.cin}"
        else:
            channels = f"{self.n}x{self.cin}->{self.cout}"
            channels += f" g{self.groups}" if self.groups > 1 else ""
        return f"{channels} {self.k}x{self.k} s{self.stride} p{self.pad} {self.hw}"

    @property
    def flops(self) -> float:
        """2 N OH OW Cout (Cin/groups) KH KW."""
        return 2.0 * self.n * self.out_hw**2 * self.cout * (self.cin // self.groups) * self.k**2

    @property
    def bytes_moved(self) -> int:
        elements = self.n * self.hw**2 * self.cin + self.n * self.out_hw**2 * self.cout
        return elements * np.dtype(self.dtype).itemsize

    def inputs(self, seed: int) -> tuple[Array, Array]:
        """x ~ N(0, 1) (NCHW) and weights ~ N(0, 1/fan_in) (OIHW)."""
        rng = random_generator(seed, self)
        x = rng.standard_normal((self.n, self.cin, self.hw, self.hw)).astype(self.dtype)
        w = rng.standard_normal((self.cout, self.cin // self.groups, self.k, self.k))
        w /= np.sqrt(self.cin // self.groups * self.k**2)
        return x, w.astype(self.dtype)

    def kernelkit(self, inputs: tuple[Array, Array], threads: int) -> Call:
        """A prepared Conv2d (weights packed once, as onnxruntime's session packs them)."""
        x, w = inputs
        conv = Conv2d(w, None, self.stride, self.pad, 1, self.groups)
        return lambda: conv(x, n_threads=threads)

    def peer_methods(self, peer: str, module: ModuleType, inputs: Any, threads: int) -> Methods:
        x, w = inputs
        if peer == "numpy":
            return {
                "einsum": lambda: numpy_einsum_conv(x, w, self),
                "im2col+matmul": lambda: numpy_im2col_conv(x, w, self),
            }
        if peer == "torch":
            xt, wt = module.from_numpy(x), module.from_numpy(w)
            conv2d = module.nn.functional.conv2d
            return {"F.conv2d": lambda: conv2d(xt, wt, None, self.stride, self.pad, 1, self.groups)}
        if peer == "onnxruntime":
            return {"Conv": onnxruntime_conv(module, x, w, self, threads)}
        return {}


def padded_windows(x: Array, case: ConvCase) -> Array:
    """The (N, C, OH, OW, k, k) strided view of every window of the zero-padded input."""
    p, s = case.pad, case.stride
    if p:
        x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return sliding_window_view(x, (case.k, case.k), axis=(2, 3))[:, :, ::s, ::s]


def numpy_einsum_conv(x: Array, w: Array, case: ConvCase) -> Array:
    """``sliding_window_view`` + ``np.einsum(optimize=True)``, a group axis for grouped ones."""
    windows = padded_windows(x, case)
    g = case.groups
    n, c, oh, ow = windows.shape[:4]
    grouped = windows.reshape(n, g, c // g, oh, ow, case.k, case.k)
    wg = w.reshape(g, case.cout // g, c // g, case.k, case.k)
    out: Array = np.einsum("ngchwij,gocij->ngohw", grouped, wg, optimize=True)
    return out.reshape(n, case.cout, oh, ow)


def numpy_im2col_conv(x: Array, w: Array, case: ConvCase) -> Array:
    """An explicit im2col matrix per group, then one batched ``matmul`` (BLAS) over the groups."""
    windows = padded_windows(x, case)
    g = case.groups
    n, c, oh, ow = windows.shape[:4]
    # (g, N OH OW, C/g k k): the copy that im2col is
    cols = windows.reshape(n, g, c // g, oh, ow, case.k * case.k).transpose(1, 0, 3, 4, 2, 5)
    cols = cols.reshape(g, n * oh * ow, c // g * case.k * case.k)
    weights = w.reshape(g, case.cout // g, -1).transpose(0, 2, 1)
    out: Array = np.matmul(cols, weights)  # (g, N OH OW, Cout/g)
    out = out.reshape(g, n, oh, ow, case.cout // g).transpose(1, 0, 4, 2, 3)
    return out.reshape(n, case.cout, oh, ow)


def onnxruntime_conv(ort: ModuleType, x: Array, w: Array, case: ConvCase, threads: int) -> Call:
    """A one-node ONNX ``Conv`` session (weights as an initializer, static input shape).

    Raises where onnx is missing or onnxruntime has no kernel for the dtype (float64 Conv).
    """
    import onnx  # the bench extra installs it with onnxruntime
    from onnx import helper, numpy_helper

    elem = onnx.TensorProto.FLOAT if case.dtype == "float32" else onnx.TensorProto.DOUBLE
    node = helper.make_node(
        "Conv",
        ["x", "w"],
        ["y"],
        kernel_shape=[case.k, case.k],
        strides=[case.stride, case.stride],
        pads=[case.pad] * 4,
        group=case.groups,
    )
    graph = helper.make_graph(
        [node],
        "conv2d",
        [helper.make_tensor_value_info("x", elem, list(x.shape))],
        [helper.make_tensor_value_info("y", elem, None)],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = 8
    session = ort.InferenceSession(
        model.SerializeToString(), session_options(ort, threads), providers=["CPUExecutionProvider"]
    )
    return lambda: session.run(None, {"x": x})[0]


def session_options(ort: ModuleType, threads: int) -> Any:
    """``threads`` intra-op threads, one inter-op thread, sequential execution."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


#: ResNet/MobileNet-like layers at published sizes; a float64 copy of the 64-channel one
FULL_CASES: tuple[ConvCase, ...] = (
    ConvCase("stem3-b1", n=1, cin=3, cout=16, k=3, pad=0, hw=128),
    ConvCase("c64-56", n=8, cin=64, cout=64, k=3, pad=1, hw=56),
    ConvCase("c128-28", n=8, cin=128, cout=128, k=3, pad=1, hw=28),
    ConvCase("c256-14", n=8, cin=256, cout=256, k=3, pad=1, hw=14),
    ConvCase("stem7-s2", n=4, cin=3, cout=64, k=7, stride=2, pad=3, hw=224),
    ConvCase("pw256-64", n=8, cin=256, cout=64, k=1, pad=0, hw=28),
    ConvCase("dw128-56", n=8, cin=128, cout=128, k=3, pad=1, hw=56, groups=128),
    ConvCase("c64-56", "float64", n=8, cin=64, cout=64, k=3, pad=1, hw=56),
)
QUICK_CASES: tuple[ConvCase, ...] = (
    ConvCase("c32-28", n=1, cin=32, cout=32, k=3, pad=1, hw=28),
    ConvCase("pw64-14", n=1, cin=64, cout=32, k=1, pad=0, hw=14),
    ConvCase("dw32-28", n=1, cin=32, cout=32, k=3, pad=1, hw=28, groups=32),
)

SUITE = register(
    Suite(
        "conv",
        "conv2d (prepared kernelkit.Conv2d, NCHW)",
        lambda quick: QUICK_CASES if quick else FULL_CASES,
        ("numpy", "torch", "onnxruntime"),
    )
)
