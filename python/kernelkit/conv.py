"""2-D convolution (cross-correlation, as PyTorch and Keras compute it) over NumPy arrays.

All argument normalisation lives here: layouts, the padding forms (``"same"`` resolved with
TensorFlow/Keras semantics, ``"same_lower"`` with ONNX's SAME_LOWER), stride/dilation pairs,
groups, dtype coercion and non-contiguous inputs. The C++ core receives contiguous arrays and
explicit per-side paddings.
"""

from __future__ import annotations

import operator
import threading
from dataclasses import dataclass
from typing import Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._threads import resolve_n_threads
from ._validation import (
    c_aligned,
    check_out,
    int_pair,
    one_of,
    positive_int,
    real_array,
    real_number,
    result_float_dtype,
)

__all__ = ["Conv2d", "ConvPlan", "conv2d", "conv2d_output_shape", "resolve_padding"]

FloatArray = NDArray[Union[np.float32, np.float64]]
Pair = tuple[int, int]
Padding = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]], str]

_ACTIVATIONS = {None: 0, "relu": 1, "leaky_relu": 2, "relu6": 3}
_WEIGHT_LAYOUTS = ("OIHW", "HWIO")
_LAYOUTS = ("NCHW", "NHWC")


def _pair(value: Any, name: str) -> Pair:
    """An int or a pair of ints, each >= 1 (stride, dilation)."""
    pair = int_pair(value, name)
    if min(pair) < 1:
        raise ValueError(f"{name}: every value must be >= 1, got {value!r}")
    return pair


def _explicit_padding(padding: Any) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, (ph, pw) or ((top, bottom), (left, right))."""
    try:
        if isinstance(padding, (int, np.integer)) or np.ndim(padding) == 0:
            p = operator.index(padding)
            sides = (p, p, p, p)
        elif all(np.ndim(v) == 0 for v in padding):
            ph, pw = map(operator.index, padding)
            sides = (ph, ph, pw, pw)
        else:
            (top, bottom), (left, right) = padding
            sides = tuple(map(operator.index, (top, bottom, left, right)))  # type: ignore[assignment]
    except (TypeError, ValueError):
        raise ValueError(
            "padding: expected an int, (ph, pw), ((top, bottom), (left, right)), 'valid', "
            f"'same' or 'same_lower', got {padding!r}"
        ) from None
    if min(sides) < 0:
        raise ValueError(f"padding: must not be negative, got {padding!r}")
    return sides


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's "same" padding of one axis of ``size``: (before, after) for ``ceil(size /
    stride)`` outputs, the extra one after.

    Examples
    --------
    >>> same_padding(4, 2, 1)
    (0, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: Padding, in_size: Pair, kernel: Pair, stride: Pair, dilation: Pair
) -> tuple[int, int, int, int]:
    """Per-side padding (top, bottom, left, right) for any accepted padding form.

    ``"same"`` follows TensorFlow/Keras: the output has ``ceil(in / stride)`` rows/columns and when
    the total padding is odd the extra row/column goes to the bottom/right. ``"same_lower"``
    (ONNX's ``auto_pad="SAME_LOWER"``) puts it at the top/left instead.

    Examples
    --------
    >>> resolve_padding("same", (5, 5), (3, 3), (2, 2), (1, 1))
    (1, 1, 1, 1)
    >>> resolve_padding("same", (4, 4), (2, 2), (1, 1), (1, 1))
    (0, 1, 0, 1)
    >>> resolve_padding("same_lower", (4, 4), (2, 2), (1, 1), (1, 1))
    (1, 0, 1, 0)
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode not in ("same", "same_lower"):
            raise ValueError(f"padding: expected 'valid', 'same' or 'same_lower', got {padding!r}")
        sides = []
        for size, k, s, d in zip(in_size, kernel, stride, dilation):
            smaller, larger = same_padding(size, k, s, d)
            sides += [larger, smaller] if mode == "same_lower" else [smaller, larger]
        return sides[0], sides[1], sides[2], sides[3]
    return _explicit_padding(padding)


def conv2d_output_shape(
    in_size: Pair, kernel: Pair, stride: Pair, dilation: Pair, pads: tuple[int, int, int, int]
) -> Pair:
    """Output (height, width) of a convolution with explicit per-side padding."""
    oh = (in_size[0] + pads[0] + pads[1] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (in_size[1] + pads[2] + pads[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    return oh, ow


def _compute_dtype(x: NDArray[Any]) -> type[np.floating[Any]]:
    if x.dtype.kind == "c":
        raise TypeError("x: complex input is not supported")
    return result_float_dtype(x.dtype)


# Keras / TensorFlow argument names, and what conv2d and Conv2d call them.
_KERAS_NAMES = {
    "strides": "stride=",
    "dilation_rate": "dilation=",
    "data_format": "layout='NHWC' (channels_last) or layout='NCHW' (channels_first)",
    "kernel": "weight=",
    "filters": "weight= (the kernel array itself)",
    "use_bias": "bias= (the bias array, or None)",
}


def _refuse_unknown_arguments(function: str, kwargs: dict[str, Any]) -> None:
    """TypeError for keyword arguments the function does not take, with the name it uses instead."""
    if not kwargs:
        return
    name = next(iter(kwargs))
    hint = _KERAS_NAMES.get(name)
    if hint is not None:
        raise TypeError(f"{function}() got the Keras argument {name!r}; kernelkit takes {hint}")
    raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


def _refuse_float64_weights(weight_dtype: np.dtype[Any], dtype: type) -> None:
    """TypeError for float64 weights with float32 input, which PyTorch refuses too: rounding the
    weights silently would hide the mismatch."""
    if weight_dtype == np.float64 and dtype == np.float32:
        raise TypeError(
            "weight: float64 weights with float32 input; cast one of them (e.g. "
            "weight.astype(np.float32), or x.astype(np.float64)) as PyTorch requires"
        )


def _refuse_keras_depthwise_kernel(shape: tuple[int, ...], weight_layout: str, groups: int) -> None:
    """ValueError for a Keras DepthwiseConv2D kernel (KH, KW, C, multiplier) given as HWIO with
    groups=C, whose HWIO form is (KH, KW, 1, C * multiplier); called where the weights do not
    fit, since the same shape is a valid grouped kernel for C * groups input channels."""
    if weight_layout == "HWIO" and groups > 1 and shape[2] == groups:
        kh, kw, c, m = shape
        raise ValueError(
            f"weight: shape {shape} looks like a Keras depthwise kernel (KH, KW, C, multiplier); "
            f"the depthwise HWIO kernel is (KH, KW, 1, C*multiplier): pass "
            f"weight.reshape({kh}, {kw}, 1, {c * m}) with groups={c}"
        )


@dataclass(frozen=True)
class ConvPlan:
    """What a prepared convolution chose for one input shape (:meth:`Conv2d.plan`).

    Attributes
    ----------
    algorithm : str
        ``"winograd"`` (float32 3x3 layers with stride and dilation 1: Winograd F(4x4, 3x3),
        4x fewer multiplications; relative errors up to about 2e-5 of the largest output instead
        of about 1e-6; tiles whose input holds NaN or Inf are computed directly, so non-finite
        values reach the same outputs), ``"indirect_gemm"`` (implicit GEMM over
        channel-contiguous rows), ``"direct_pointwise"`` (1x1 without stride or padding, NCHW),
        ``"direct_few_channels"`` (up to 7 input channels per group, first layers: strips of
        pixels, either layout),
        ``"direct_few_channels_nhwc"`` (the same in NHWC for layers with many filters: blocks
        of channel vectors) or ``"depthwise"``.
    simd : str
        The SIMD path that runs it (:func:`kernelkit.simd_path`).
    register_tile : (int, int)
        Output pixels x output channels accumulated in registers.
    task_pixels, task_channels : int
        Output pixels (for ``"winograd"``: output tiles of 4 x 4 pixels) and output channels one
        parallel task computes.
    channel_tasks : int
        How many output-channel ranges cover a group (more than 1 when the images alone would
        not give every thread work, e.g. one small image).
    channel_block : int
        GEMM: input channels per depth block, sized so that its weight panels stay in the L1
        data cache. Depthwise NCHW: the channels transposed channels-last per task where rows
        are too narrow for strips along them (0: plane by plane). 0 for the other algorithms.
    tasks, threads : int
        Parallel tasks of the call and the threads that run them.
    scratch_bytes : int
        Scratch memory per thread.
    packed_bytes : int
        The weights and bias as packed for this algorithm (once per algorithm and SIMD path).
    copy_bytes : int
        GEMM with NCHW input: the channels-last copy of the images of one pass.
    input_shape, output_shape : tuple of int
    dtype : str

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> conv = kernelkit.Conv2d(np.ones((8, 3, 3, 3), np.float32), padding=1)
    >>> plan = conv.plan((1, 3, 32, 32))
    >>> plan.algorithm, plan.output_shape
    ('direct_few_channels', (1, 8, 32, 32))
    """

    algorithm: str
    simd: str
    register_tile: tuple[int, int]
    task_pixels: int
    task_channels: int
    channel_tasks: int
    channel_block: int
    tasks: int
    threads: int
    scratch_bytes: int
    packed_bytes: int
    copy_bytes: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    dtype: str

    def __str__(self) -> str:
        rows, cols = self.register_tile
        parts = [
            f"{self.algorithm} ({self.simd}, {self.dtype})",
            f"{self.input_shape} -> {self.output_shape}",
            f"register tile {rows}x{cols}",
            f"tasks {self.tasks} of {self.task_pixels} pixels x {self.task_channels} channels"
            + (f" ({self.channel_tasks} channel ranges)" if self.channel_tasks > 1 else ""),
            f"{self.threads} thread{'s' if self.threads != 1 else ''}",
        ]
        if self.channel_block:
            parts.append(f"depth blocks of {self.channel_block} channels")
        parts.append(f"scratch {self.scratch_bytes / 1024:.0f} KiB/thread")
        parts.append(f"packed weights {self.packed_bytes / 1024:.0f} KiB")
        return ", ".join(parts)


def _freeze(*arrays: NDArray[Any] | None) -> None:
    """Mark a Conv2d's own copies of its weights and bias read-only."""
    for a in arrays:
        if a is not None:
            a.flags.writeable = False


_CORES: dict[type, type[_core._Conv2dCore]] = {
    np.float32: _core.Conv2dFloat32,
    np.float64: _core.Conv2dFloat64,
}


class Conv2d:
    """A prepared 2-D convolution: weights validated once and packed once for its kernels.

    ``Conv2d(weight, ...)(x)`` computes what ``conv2d(x, weight, ...)`` computes, without
    checking and repacking the weights on every call, as onnxruntime does when a session is
    created. Each call plans for its input shape (kernel, register tile, work split, scratch;
    see :meth:`plan`); the weights are packed on first use for each dtype, SIMD path and
    algorithm (:attr:`packings` counts them), so a model run many times never repacks.

    Parameters
    ----------
    weight : array_like
        ``"OIHW"``: (O, C/groups, KH, KW) as in PyTorch/ONNX, or ``"HWIO"``: (KH, KW, C/groups, O)
        as in Keras/TensorFlow. ``weight_layout=None`` means OIHW with NCHW and HWIO with NHWC.
        A private copy is kept: changing the array afterwards does not change the convolution.
    bias : array_like of shape (O,), optional
    stride, padding, dilation, groups, layout, weight_layout, activation, alpha
        As in :func:`conv2d`; ``padding="same"`` is resolved for each input size.

    Calls computes in the input's dtype (float32 for float16/float32 input, float64 otherwise),
    as :func:`conv2d` does; float64 weights refuse float32 input (TypeError: cast one of them).

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> w = np.ones((4, 3, 3, 3), dtype=np.float32)
    >>> conv = kernelkit.Conv2d(w, padding="same", activation="relu")
    >>> conv(np.ones((2, 3, 8, 8), dtype=np.float32)).shape
    (2, 4, 8, 8)
    >>> conv.plan((2, 3, 8, 8)).algorithm
    'direct_few_channels'
    >>> conv.packings
    1
    """

    def __init__(
        self,
        weight: ArrayLike,
        bias: ArrayLike | None = None,
        stride: int | Pair = 1,
        padding: Padding = 0,
        dilation: int | Pair = 1,
        groups: int = 1,
        *,
        layout: Literal["NCHW", "NHWC"] = "NCHW",
        weight_layout: Literal["OIHW", "HWIO"] | None = None,
        activation: Literal["relu", "leaky_relu", "relu6"] | None = None,
        alpha: float = 0.01,
        **kwargs: Any,
    ) -> None:
        _refuse_unknown_arguments("Conv2d", kwargs)
        owned_weight = np.array(real_array(weight, "weight"), copy=True)
        owned_bias = None if bias is None else np.array(real_array(bias, "bias"), copy=True)
        _freeze(owned_weight, owned_bias)
        self._setup(
            owned_weight,
            owned_bias,
            stride,
            padding,
            dilation,
            groups,
            layout,
            weight_layout,
            activation,
            alpha,
        )

    def _setup(
        self,
        weight: NDArray[Any],
        bias: NDArray[Any] | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: Any,
        layout: Any,
        weight_layout: Any,
        activation: Any,
        alpha: Any,
    ) -> None:
        """Validate and store the configuration (``weight`` and ``bias`` are owned arrays)."""
        self._layout = one_of(str(layout).upper(), _LAYOUTS, "layout")
        default_layout = "HWIO" if self._layout == "NHWC" else "OIHW"
        w_layout = default_layout if weight_layout is None else str(weight_layout).upper()
        self._weight_layout = one_of(w_layout, _WEIGHT_LAYOUTS, "weight_layout")
        if (
            not (activation is None or isinstance(activation, str))
            or activation not in _ACTIVATIONS
        ):
            raise ValueError(
                f"activation: expected None, 'relu', 'leaky_relu' or 'relu6', got {activation!r}"
            )
        self._activation = activation
        self._alpha = real_number(alpha, "alpha")
        if weight.ndim != 4:
            raise ValueError(
                f"weight: expected a 4-D array ({self._weight_layout}), got shape {weight.shape}"
            )
        hwio = self._weight_layout == "HWIO"
        o, cg, kh, kw = (
            (weight.shape[3], weight.shape[2], *weight.shape[:2]) if hwio else weight.shape
        )
        if min(o, cg, kh, kw) < 1:
            raise ValueError(
                f"weight: the kernel and the channels must not be empty, got {weight.shape}"
            )
        self._groups = positive_int(groups, "groups")
        if o % self._groups:
            _refuse_keras_depthwise_kernel(weight.shape, self._weight_layout, self._groups)
            raise ValueError(
                f"groups: {self._groups} must divide the output channels ({o}) of weight "
                f"{weight.shape} ({self._weight_layout})"
            )
        self._out_channels, self._in_channels = int(o), int(cg) * self._groups
        self._kernel_size = (int(kh), int(kw))
        self._stride = _pair(stride, "stride")
        self._dilation = _pair(dilation, "dilation")
        self._padding = padding
        if isinstance(padding, str):
            resolve_padding(padding, (1, 1), (1, 1), (1, 1), (1, 1))  # checks the name now
        else:
            _explicit_padding(padding)
        if bias is not None and bias.shape != (o,):
            raise ValueError(f"bias: expected shape ({o},), got {bias.shape}")
        self._weight, self._bias = weight, bias
        self._cores: dict[type, _core._Conv2dCore] = {}
        self._single_use = False
        self._geometry: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._plans: dict[tuple[Any, ...], ConvPlan] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """The configuration only: a copy (pickled, or sent to another process) packs its weights
        again on first use, for whatever CPU it runs on."""
        return {
            "weight": self._weight,
            "bias": self._bias,
            "stride": self._stride,
            "padding": self._padding,
            "dilation": self._dilation,
            "groups": self._groups,
            "layout": self._layout,
            "weight_layout": self._weight_layout,
            "activation": self._activation,
            "alpha": self._alpha,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        _freeze(state["weight"], state["bias"])  # unpickled arrays are this object's own
        self._setup(**state)

    @classmethod
    def _borrowing(cls, weight: NDArray[Any], bias: NDArray[Any] | None, *args: Any) -> Conv2d:
        """A Conv2d over the caller's arrays without copying them (conv2d's one-shot call)."""
        conv = cls.__new__(cls)
        conv._setup(weight, bias, *args)
        conv._single_use = True  # its plans count the packing: it is done for this call alone
        return conv

    # -- configuration ---------------------------------------------------------------------
    @property
    def weight(self) -> NDArray[Any]:
        """The weights as given (read-only), in :attr:`weight_layout`."""
        return self._weight

    @property
    def bias(self) -> NDArray[Any] | None:
        return self._bias

    @property
    def stride(self) -> Pair:
        return self._stride

    @property
    def padding(self) -> Padding:
        return self._padding  # type: ignore[no-any-return]

    @property
    def dilation(self) -> Pair:
        return self._dilation

    @property
    def groups(self) -> int:
        return self._groups

    @property
    def layout(self) -> str:
        return self._layout

    @property
    def weight_layout(self) -> str:
        return self._weight_layout

    @property
    def activation(self) -> str | None:
        return self._activation

    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def in_channels(self) -> int:
        return self._in_channels

    @property
    def out_channels(self) -> int:
        return self._out_channels

    @property
    def kernel_size(self) -> Pair:
        return self._kernel_size

    @property
    def packings(self) -> int:
        """How many times the weights were packed: once per dtype, SIMD path and algorithm used."""
        return sum(int(core.packings) for core in self._cores.values())

    def __repr__(self) -> str:
        kh, kw = self._kernel_size
        extras = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("stride", self._stride, (1, 1)),
                ("padding", self._padding, 0),
                ("dilation", self._dilation, (1, 1)),
                ("groups", self._groups, 1),
                ("activation", self._activation, None),
            )
            if value != default
        )
        bias = "" if self._bias is None else ", bias"
        return (
            f"Conv2d({self._in_channels}->{self._out_channels}, {kh}x{kw}{extras}{bias}, "
            f"layout={self._layout!r}, weight_layout={self._weight_layout!r}, "
            f"weights {self._weight.dtype})"
        )

    # -- planning and running ----------------------------------------------------------------
    def _core_for(self, dtype: type) -> _core._Conv2dCore:
        core = self._cores.get(dtype)
        if core is not None:
            return core
        _refuse_float64_weights(self._weight.dtype, dtype)
        with self._lock:
            core = self._cores.get(dtype)
            if core is None:
                weight: NDArray[Any] = c_aligned(self._weight, dtype=dtype)
                bias: NDArray[Any] | None = None
                if self._bias is not None:
                    bias = c_aligned(self._bias, dtype=dtype)
                core = _CORES[dtype](
                    weight,
                    self._weight_layout == "HWIO",
                    self._groups,
                    bias,
                    _ACTIVATIONS[self._activation],
                    self._alpha,
                    self._single_use,
                )
                self._cores[dtype] = core
        return core

    def _input_geometry(self, shape: tuple[int, ...]) -> tuple[Any, ...]:
        """(pads, result shape without the batch axis) for a 4-D input shape, checked once."""
        geometry = self._geometry.get(shape)
        if geometry is not None:
            return geometry
        nhwc = self._layout == "NHWC"
        c, h, w = (shape[3], shape[1], shape[2]) if nhwc else shape[1:]
        self._check_channels(shape, c)
        kh, kw = self._kernel_size
        pads = resolve_padding(self._padding, (h, w), (kh, kw), self._stride, self._dilation)
        oh, ow = conv2d_output_shape((h, w), (kh, kw), self._stride, self._dilation, pads)
        if oh < 1 or ow < 1:
            raise ValueError(
                f"weight: the dilated kernel ({kh}x{kw}, dilation {self._dilation}) is larger "
                f"than the padded input ({h + pads[0] + pads[1]}x{w + pads[2] + pads[3]})"
            )
        result = (oh, ow, self._out_channels) if nhwc else (self._out_channels, oh, ow)
        # a stride beyond the padded input gives one output row (column) whatever its size; the
        # kernels get that size instead, so that no index arithmetic meets a stride of 2**62
        extents = (h + pads[0] + pads[1], w + pads[2] + pads[3])
        strides = tuple(min(s, max(e, 1)) for s, e in zip(self._stride, extents))
        geometry = (pads, result, strides)
        if len(self._geometry) < 64:
            self._geometry[shape] = geometry
        return geometry

    def _check_channels(self, shape: tuple[int, ...], c: int) -> None:
        """ValueError for an input whose channels do not match the weights, saying why."""
        if c == self._in_channels:
            return
        if c < 1:
            raise ValueError(f"x: at least one input channel is required, got shape {shape}")
        other = shape[1] if self._layout == "NHWC" else shape[3]
        if other == self._in_channels:
            actual = "NCHW (channels first)" if self._layout == "NHWC" else "NHWC (channels last)"
            raise ValueError(
                f"x: shape {shape} has {c} channels in layout={self._layout!r} but looks like "
                f"{actual}; pass layout={actual[:4]!r}"
            )
        cg = self._in_channels // self._groups
        w = self._weight.shape
        if c == self._groups:
            _refuse_keras_depthwise_kernel(w, self._weight_layout, self._groups)
        if c % self._groups:
            raise ValueError(
                f"groups: {self._groups} must divide the input channels ({c}) and the output "
                f"channels ({self._out_channels})"
            )
        raise ValueError(
            f"weight: shape {w} ({self._weight_layout}) has {cg} input channels per group; x "
            f"has {c} channels and groups={self._groups}, so {c // self._groups} were expected"
        )

    def _shape_args(self, shape: tuple[int, ...]) -> tuple[Any, ...]:
        if len(shape) not in (3, 4):
            raise ValueError(
                f"x: expected a 4-D batch ({self._layout}) or a 3-D single image, got shape {shape}"
            )
        return shape if len(shape) == 4 else (1, *shape)

    def plan(
        self,
        x_shape: tuple[int, ...],
        *,
        dtype: Any = None,
        n_threads: int | None = None,
    ) -> ConvPlan:
        """What a call on an input of ``x_shape`` runs: algorithm, tiles, work split, memory.

        ``dtype`` is the input's (default: the weights' float dtype). A plan is a pure function
        of the input shape, dtype, thread count, SIMD path and this CPU's caches: plans are kept
        per shape here, and each call recomputes its own in C++ (a few hundred nanoseconds of
        arithmetic), so a call always runs what ``plan`` reports for its arguments.

        Examples
        --------
        >>> import numpy as np, kernelkit
        >>> conv = kernelkit.Conv2d(np.ones((64, 64, 3, 3), np.float32), padding=1)
        >>> conv.plan((1, 64, 56, 56)).algorithm
        'winograd'
        >>> conv.plan((1, 64, 56, 56), dtype=np.float64).algorithm
        'indirect_gemm'
        """
        shape = tuple(operator.index(v) for v in x_shape)
        shape4 = self._shape_args(shape)
        compute = result_float_dtype(np.dtype(self._weight.dtype if dtype is None else dtype))
        threads = resolve_n_threads(n_threads)
        key = (shape, compute, threads, _core.simd_path())
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        pads, result, strides = self._input_geometry(shape4)
        info = self._core_for(compute).plan(
            list(shape4), strides, self._dilation, pads, self._layout == "NHWC", threads
        )
        plan = ConvPlan(
            **info,
            input_shape=shape,
            output_shape=(shape4[0], *result) if len(shape) == 4 else result,
            dtype=np.dtype(compute).name,
        )
        if len(self._plans) < 64:
            self._plans[key] = plan
        return plan

    def __call__(
        self,
        x: ArrayLike,
        *,
        out: NDArray[Any] | None = None,
        n_threads: int | None = None,
    ) -> FloatArray:
        """The convolution of ``x`` ((N, C, H, W) or (N, H, W, C) as :attr:`layout` says, or one
        image without the batch axis), optionally into ``out``."""
        xa = np.asarray(x)
        shape4 = self._shape_args(xa.shape)
        dtype = _compute_dtype(xa)
        core = self._core_for(dtype)
        pads, result_shape, strides = self._input_geometry(shape4)
        threads = resolve_n_threads(n_threads)
        full = (shape4[0], *result_shape)
        result = check_out(out, full if xa.ndim == 4 else result_shape, dtype, [x, xa], "x")
        xa = c_aligned(xa, dtype=dtype).reshape(shape4)
        if shape4[0] > 0:
            core.run(
                xa,
                result.reshape(full),
                strides,
                self._dilation,
                pads,
                self._layout == "NHWC",
                threads,
            )
        return result


def conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | Pair = 1,
    padding: Padding = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
    *,
    layout: Literal["NCHW", "NHWC"] = "NCHW",
    weight_layout: Literal["OIHW", "HWIO"] | None = None,
    activation: Literal["relu", "leaky_relu", "relu6"] | None = None,
    alpha: float = 0.01,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
    **kwargs: Any,
) -> FloatArray:
    """Batched multi-channel 2-D convolution (cross-correlation, no kernel flip).

    One call packs the weights and runs; to run the same weights many times, prepare them once
    with :class:`Conv2d` (the same kernels, without the packing). Since the packing is part of
    this call, it may choose another algorithm than :meth:`Conv2d.plan` shows: a 3x3 layer with
    many channels applied to few small images runs the GEMM rather than Winograd, whose weight
    transform would cost more than it saves in one call.

    Parameters
    ----------
    x : array_like
        (N, C, H, W) with ``layout="NCHW"``, (N, H, W, C) with ``layout="NHWC"``; a 3-D x is one
        image without the batch axis and gives a 3-D result.
    weight : array_like
        ``"OIHW"``: (O, C/groups, KH, KW) as in PyTorch/ONNX, or ``"HWIO"``: (KH, KW, C/groups, O)
        as in Keras/TensorFlow. ``weight_layout=None`` means OIHW with NCHW and HWIO with NHWC.
        float64 weights with float32 (or float16) input are refused, as in PyTorch.
    bias : array_like of shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid", "same" or "same_lower"
        ``"same"`` has TensorFlow/Keras semantics (output = ceil(input / stride); an odd total
        padding puts the extra row/column at the bottom/right); ``"same_lower"``, ONNX's
        SAME_LOWER, puts it at the top/left.
    groups : int
        Divides C and O; ``groups == C`` is a depthwise convolution (O = C * multiplier).
    activation : None, "relu", "leaky_relu" or "relu6"
        Applied with the bias as the result is stored (``alpha`` is the leaky slope).
    out : ndarray, optional
        C-contiguous result array in ``layout`` (dtype of the result).
    n_threads : int, optional
        ``None``: OpenMP's current maximum; negative: cores + 1 + n_threads.

    Returns
    -------
    ndarray
        (N, O, OH, OW) or (N, OH, OW, O); float32 for float32/float16 input, else float64.

    Notes
    -----
    NaN and Inf propagate as IEEE arithmetic says for the sum of weight * input over the input
    padded with zeros, whichever algorithm runs (:meth:`Conv2d.plan`): an Inf or NaN weight gives
    NaN at the outputs whose window puts it over the padding (``inf * 0``), ``inf - inf`` gives
    NaN, and the fused activations keep NaN (``relu(nan)`` is NaN). Subnormal numbers (float32
    below 1.2e-38, float64 below 2.2e-308) in the input, weights, bias or any intermediate sum count
    as zero inside the call, so that they cannot slow it down (flush-to-zero and
    denormals-are-zero on every thread of the call; the caller's floating-point mode is restored
    afterwards): an output below the smallest normal number comes out as 0.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 2, 2), dtype=np.float32)
    >>> kernelkit.conv2d(x, w)[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]], dtype=float32)
    """
    _refuse_unknown_arguments("conv2d", kwargs)
    xa = np.asarray(x)
    if xa.ndim not in (3, 4):
        raise ValueError(
            f"x: expected a 4-D batch ({str(layout).upper()}) or a 3-D single image, "
            f"got shape {xa.shape}"
        )
    dtype = _compute_dtype(xa)
    channels = xa.shape[-1] if str(layout).upper() == "NHWC" else xa.shape[-3]
    if channels < 1:
        raise ValueError(f"x: at least one input channel is required, got shape {xa.shape}")
    wa = real_array(weight, "weight")
    _refuse_float64_weights(wa.dtype, dtype)
    wa = c_aligned(wa, dtype=dtype)
    ba = None
    if bias is not None:
        ba = c_aligned(real_array(bias, "bias"), dtype=dtype)
    conv = Conv2d._borrowing(
        wa, ba, stride, padding, dilation, groups, layout, weight_layout, activation, alpha
    )
    if out is not None and any(
        isinstance(a, np.ndarray) and np.shares_memory(out, a) for a in (weight, wa, bias, ba)
    ):
        raise ValueError("out: must not share memory with x, weight or bias")
    return conv(xa, out=out, n_threads=n_threads)
