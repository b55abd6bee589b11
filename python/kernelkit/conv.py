"""2-D convolution (cross-correlation, as PyTorch and Keras compute it) over NumPy arrays.

All argument normalisation lives here: layouts, the padding forms (``"same"`` resolved with
TensorFlow/Keras semantics, ``"same_lower"`` with ONNX's SAME_LOWER), stride/dilation pairs,
groups, dtype coercion and non-contiguous inputs. The C++ core receives contiguous arrays and
explicit per-side paddings.
"""

from __future__ import annotations

import operator
from typing import Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._threads import resolve_n_threads
from ._validation import (
    check_out,
    int_pair,
    positive_int,
    real_array,
    real_number,
    result_float_dtype,
)

__all__ = ["conv2d", "conv2d_output_shape", "resolve_padding"]

FloatArray = NDArray[Union[np.float32, np.float64]]
Pair = tuple[int, int]
Padding = Union[int, tuple[int, int], tuple[tuple[int, int], tuple[int, int]], str]

_ACTIVATIONS = {None: 0, "relu": 1, "leaky_relu": 2}
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
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            smaller, larger = total // 2, total - total // 2
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
    activation: Literal["relu", "leaky_relu"] | None = None,
    alpha: float = 0.01,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Batched multi-channel 2-D convolution (cross-correlation, no kernel flip).

    Parameters
    ----------
    x : array_like
        (N, C, H, W) with ``layout="NCHW"``, (N, H, W, C) with ``layout="NHWC"``; a 3-D x is one
        image without the batch axis and gives a 3-D result.
    weight : array_like
        ``"OIHW"``: (O, C/groups, KH, KW) as in PyTorch/ONNX, or ``"HWIO"``: (KH, KW, C/groups, O)
        as in Keras/TensorFlow. ``weight_layout=None`` means OIHW with NCHW and HWIO with NHWC.
    bias : array_like of shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (ph, pw), ((top, bottom), (left, right)), "valid", "same" or "same_lower"
        ``"same"`` has TensorFlow/Keras semantics (output = ceil(input / stride); an odd total
        padding puts the extra row/column at the bottom/right); ``"same_lower"``, ONNX's
        SAME_LOWER, puts it at the top/left.
    groups : int
        Divides C and O; ``groups == C`` is a depthwise convolution (O = C * multiplier).
    activation : None, "relu" or "leaky_relu"
        Applied with the bias as the result is stored (``alpha`` is the leaky slope).
    out : ndarray, optional
        C-contiguous result array in ``layout`` (dtype of the result).
    n_threads : int, optional
        ``None``: OpenMP's current maximum; negative: cores + 1 + n_threads.

    Returns
    -------
    ndarray
        (N, O, OH, OW) or (N, OH, OW, O); float32 for float32/float16 input, else float64.

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
    layout_name = str(layout).upper()
    if layout_name not in _LAYOUTS:
        raise ValueError(f"layout: expected 'NCHW' or 'NHWC', got {layout!r}")
    nhwc = layout_name == "NHWC"
    w_layout = ("HWIO" if nhwc else "OIHW") if weight_layout is None else str(weight_layout).upper()
    if w_layout not in _WEIGHT_LAYOUTS:
        raise ValueError(f"weight_layout: expected 'OIHW' or 'HWIO', got {weight_layout!r}")
    if not (activation is None or isinstance(activation, str)) or activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected None, 'relu' or 'leaky_relu', got {activation!r}")
    alpha = real_number(alpha, "alpha")

    xa = np.asarray(x)
    if xa.ndim not in (3, 4):
        raise ValueError(
            f"x: expected a 4-D batch ({layout_name}) or a 3-D single image, got shape {xa.shape}"
        )
    single = xa.ndim == 3
    dtype = _compute_dtype(xa)
    xa = np.ascontiguousarray(xa[None] if single else xa, dtype=dtype)
    n = xa.shape[0]
    c, h, w = (xa.shape[3], xa.shape[1], xa.shape[2]) if nhwc else xa.shape[1:]

    wa = real_array(weight, "weight")
    if wa.ndim != 4:
        raise ValueError(f"weight: expected a 4-D array ({w_layout}), got shape {wa.shape}")
    wa = wa.astype(dtype, copy=False)
    o, cg, kh, kw = wa.shape if w_layout == "OIHW" else (wa.shape[3], wa.shape[2], *wa.shape[:2])
    if min(o, kh, kw) < 1:
        raise ValueError(
            f"weight: the kernel and the output channels must not be empty, got {wa.shape}"
        )
    if c < 1:
        raise ValueError(f"x: at least one input channel is required, got shape {xa.shape}")

    groups = positive_int(groups, "groups")
    if c % groups or o % groups:
        raise ValueError(
            f"groups: {groups} must divide the input channels ({c}) and the output channels ({o})"
        )
    if cg != c // groups:
        raise ValueError(
            f"weight: shape {wa.shape} ({w_layout}) has {cg} input channels per group; x has {c} "
            f"channels and groups={groups}, so {c // groups} were expected"
        )
    stride_hw = _pair(stride, "stride")
    dilation_hw = _pair(dilation, "dilation")
    pads = resolve_padding(padding, (h, w), (kh, kw), stride_hw, dilation_hw)
    oh, ow = conv2d_output_shape((h, w), (kh, kw), stride_hw, dilation_hw, pads)
    if oh < 1 or ow < 1:
        raise ValueError(
            f"weight: the dilated kernel ({kh}x{kw}, dilation {dilation_hw}) is larger than the "
            f"padded input ({h + pads[0] + pads[1]}x{w + pads[2] + pads[3]})"
        )

    ba = None
    if bias is not None:
        ba = np.ascontiguousarray(real_array(bias, "bias"), dtype=dtype)
        if ba.shape != (o,):
            raise ValueError(f"bias: expected shape ({o},), got {ba.shape}")

    threads = resolve_n_threads(n_threads)
    shape = (n, oh, ow, o) if nhwc else (n, o, oh, ow)
    inputs = [x, xa, weight, wa, bias, ba]
    result = check_out(out, shape[1:] if single else shape, dtype, inputs, "x, weight or bias")
    if n > 0:
        _core.conv2d(
            xa,
            np.ascontiguousarray(wa),
            w_layout == "HWIO",
            groups,
            ba,
            result.reshape(shape),
            stride_hw,
            dilation_hw,
            pads,
            nhwc,
            _ACTIVATIONS[activation],
            alpha,
            threads,
        )
    return result
