"""The non-convolution steps of a network, as NumPy functions of arrays in either layout.

None of them is hot next to the convolutions (each reads and writes its tensor once), so they
stay in NumPy. Each takes the axis of the channels (``channel_axis``, 1 for NCHW, -1 for
NHWC) or the spatial axes where the layout matters, and follows the framework semantics that
the comment names where Keras and ONNX differ (padding of "same" pooling, which elements an
average counts, where resized pixels sit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..conv import same_padding

Array = NDArray[Any]

__all__ = [
    "ACTIVATIONS",
    "activation_function",
    "batch_norm",
    "conv_transpose",
    "pool",
    "resize",
    "same_padding",
    "spatial_axes",
]


def spatial_axes(ndim: int, channel_axis: int) -> tuple[int, ...]:
    """The spatial axes of an (N, C, *spatial) or (N, *spatial, C) array."""
    return tuple(range(2, ndim)) if channel_axis in (1, 1 - ndim) else tuple(range(1, ndim - 1))


def channel_shape(ndim: int, channel_axis: int, channels: int) -> tuple[int, ...]:
    """The shape that broadcasts a per-channel vector against an array of ``ndim`` axes."""
    shape = [1] * ndim
    shape[channel_axis] = channels
    return tuple(shape)


# -- activations ----------------------------------------------------------------------------
def _sigmoid(x: Array) -> Array:
    # exp(-softplus(-x)): 1 / (1 + exp(-x)) overflows (and warns) below about -88 in float32
    result: Array = np.exp(-np.logaddexp(0.0, -x))
    return result


def softmax(x: Array, axis: int | tuple[int, ...] = -1) -> Array:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    result: Array = e / np.sum(e, axis=axis, keepdims=True)
    return result


def relu(
    x: Array, max_value: float | None = None, slope: float = 0.0, threshold: float = 0.0
) -> Array:
    """Keras' relu: ``slope * (x - threshold)`` below the threshold, else ``x``, capped at
    ``max_value``."""
    if not slope and not threshold:
        return np.clip(x, 0, max_value) if max_value is not None else np.maximum(x, 0)
    below = slope * (x - threshold) if slope else 0
    y = np.where(x >= threshold, x, below)
    if max_value is not None:
        y = np.minimum(y, max_value)
    return y.astype(x.dtype, copy=False)


def elu(x: Array, alpha: float = 1.0) -> Array:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def selu(x: Array) -> Array:
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return (scale * elu(x, alpha)).astype(x.dtype, copy=False)


def hard_sigmoid(x: Array, alpha: float = 0.2, beta: float = 0.5) -> Array:
    return np.clip(alpha * x + beta, 0, 1).astype(x.dtype, copy=False)


#: Activation functions by their Keras names (functions of the array alone).
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": relu,
    "relu6": lambda x: relu(x, 6.0),
    "sigmoid": lambda x: _sigmoid(x).astype(x.dtype, copy=False),
    "tanh": np.tanh,
    "softmax": softmax,
    "log_softmax": lambda x: np.log(softmax(x)),
    "softplus": lambda x: np.logaddexp(0.0, x).astype(x.dtype, copy=False),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "elu": elu,
    "selu": selu,
    "exponential": np.exp,
    "hard_sigmoid": lambda x: hard_sigmoid(x, 1 / 6, 0.5),
    "hard_silu": lambda x: x * hard_sigmoid(x, 1 / 6, 0.5),
    "hard_swish": lambda x: x * hard_sigmoid(x, 1 / 6, 0.5),
    "swish": lambda x: x * _sigmoid(x),
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
    "linear": lambda x: x,
}


def activation_function(name: str, alpha: float = 0.2) -> Callable[[Array], Array]:
    """The activation called ``name`` (``leaky_relu`` with slope ``alpha``, ``elu`` with that
    alpha); KeyError if none."""
    if name == "leaky_relu":
        return lambda x: relu(x, slope=alpha)
    if name == "elu":
        return lambda x: elu(x, alpha)
    return ACTIVATIONS[name]


# -- normalisation --------------------------------------------------------------------------
def batch_norm_scale_shift(
    gamma: Array | None, beta: Array | None, mean: Array, variance: Array, epsilon: float
) -> tuple[Array, Array]:
    """Inference BatchNormalization as ``x * scale + shift`` (float64 vectors)."""
    scale = 1.0 / np.sqrt(np.asarray(variance, np.float64) + epsilon)
    if gamma is not None:
        scale = scale * gamma
    shift = -np.asarray(mean, np.float64) * scale
    if beta is not None:
        shift = shift + beta
    return scale, shift


def batch_norm(x: Array, scale: Array, shift: Array, channel_axis: int) -> Array:
    shape = channel_shape(x.ndim, channel_axis, x.shape[channel_axis])
    y = x * scale.reshape(shape).astype(x.dtype) + shift.reshape(shape).astype(x.dtype)
    return np.asarray(y, dtype=x.dtype)


# -- pooling --------------------------------------------------------------------------------
def pool(
    x: Array,
    kind: str,
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[tuple[int, int]],
    channel_axis: int,
    *,
    dilations: Sequence[int] | None = None,
    count_padding: bool = False,
    ceil_mode: bool = False,
) -> Array:
    """Max or average pooling over the spatial axes with explicit (before, after) pads.

    ``count_padding``: an average divides by the whole window (ONNX count_include_pad=1) rather
    than by the elements inside the input (Keras, ONNX's default). ``ceil_mode`` (ONNX) adds
    the last partial window when it starts inside the input or the left padding.
    """
    axes = spatial_axes(x.ndim, channel_axis)
    dilations = tuple(dilations or (1,) * len(axes))
    width = [(0, 0)] * x.ndim
    extra = [(0, 0)] * x.ndim  # ceil_mode's partial windows beyond the explicit padding
    for i, axis in enumerate(axes):
        width[axis] = (int(pads[i][0]), int(pads[i][1]))
        if ceil_mode:
            extra[axis] = (
                0,
                _ceil_extra(x.shape[axis], kernel[i], strides[i], dilations[i], pads[i]),
            )
    if x.ndim == 4 and x.dtype in (np.float32, np.float64) and min(x.shape) > 0:
        return _pool2d_core(x, kind, kernel, strides, dilations, width, extra, axes, count_padding)
    fill = -np.inf if kind == "max" else 0.0
    both = [(w[0] + e[0], w[1] + e[1]) for w, e in zip(width, extra)]
    padded = pad_constant(x, both, fill)
    if kind == "max":
        return _reduce_windows(padded, axes, kernel, strides, dilations, np.maximum)
    total = _reduce_windows(padded, axes, kernel, strides, dilations, np.add)
    # the divisor: the window's elements inside the input, or inside the explicit padding too;
    # it depends on the position only, so it is computed on the spatial plane
    plane = [x.shape[a] + (sum(width[a]) if count_padding else 0) for a in axes]
    plane_width = [
        extra[a] if count_padding else (width[a][0] + extra[a][0], width[a][1] + extra[a][1])
        for a in axes
    ]
    ones = pad_constant(np.ones(plane, x.dtype), plane_width, 0.0)
    counts = _reduce_windows(ones, range(len(axes)), kernel, strides, dilations, np.add)
    shape = [counts.shape[axes.index(a)] if a in axes else 1 for a in range(x.ndim)]
    return np.asarray(total / counts.reshape(shape), dtype=x.dtype)


def _pool2d_core(
    x: Array,
    kind: str,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    width: Sequence[tuple[int, int]],
    extra: Sequence[tuple[int, int]],
    axes: Sequence[int],
    count_padding: bool,
) -> Array:
    """2-D pooling by kernelkit's kernels (the padding is never materialised)."""
    from .. import _core
    from .._threads import resolve_n_threads

    (top, bottom), (left, right) = (width[a] for a in axes)
    bottom, right = bottom + extra[axes[0]][1], right + extra[axes[1]][1]
    counted = (*width[axes[0]], *width[axes[1]]) if count_padding else (0, 0, 0, 0)
    channels_last = axes[0] == 1
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    oh = (x.shape[axes[0]] + top + bottom - spans[0]) // strides[0] + 1
    ow = (x.shape[axes[1]] + left + right - spans[1]) // strides[1] + 1
    n, c = x.shape[0], x.shape[-1] if channels_last else x.shape[1]
    out = np.empty((n, oh, ow, c) if channels_last else (n, c, oh, ow), dtype=x.dtype)
    _core.pool2d(
        np.ascontiguousarray(x),
        out,
        kind == "avg",
        channels_last,
        (kernel[0], kernel[1]),
        (strides[0], strides[1]),
        (dilations[0], dilations[1]),
        (top, bottom, left, right),
        counted,
        resolve_n_threads(None),
    )
    return out


def pad_constant(x: Array, width: Sequence[tuple[int, int]], fill: float) -> Array:
    """``x`` with ``width[axis]`` = (before, after) elements of ``fill`` around each axis
    (np.pad's constant mode, without its generality's cost); ``x`` itself where all are 0."""
    if not any(before or after for before, after in width):
        return x
    shape = [n + before + after for n, (before, after) in zip(x.shape, width)]
    padded = np.full(shape, fill, dtype=x.dtype)
    padded[tuple(slice(before, before + n) for n, (before, _) in zip(x.shape, width))] = x
    return padded


def _reduce_windows(
    x: Array,
    axes: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    combine: np.ufunc,
) -> Array:
    """``combine`` over each window, one strided slice per kernel tap (a few passes over
    contiguous memory instead of a reduction over a window view)."""
    axes = list(axes)
    spans = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    outs = [(x.shape[a] - span) // s + 1 for a, span, s in zip(axes, spans, strides)]
    result: Array | None = None
    for tap in np.ndindex(*kernel):
        index = [slice(None)] * x.ndim
        for i, axis in enumerate(axes):
            start = tap[i] * dilations[i]
            index[axis] = slice(start, start + (outs[i] - 1) * strides[i] + 1, strides[i])
        window = x[tuple(index)]
        if result is None:
            result = window.copy()
        else:
            combine(result, window, out=result)
    assert result is not None
    return result


def _ceil_extra(size: int, kernel: int, stride: int, dilation: int, pad: Sequence[int]) -> int:
    """The padding ceil_mode adds after the explicit one: enough for a last partial window,
    which must start inside the input or its left padding."""
    span = (kernel - 1) * dilation + 1
    padded = size + pad[0] + pad[1]
    out = -(-(padded - span) // stride) + 1
    if (out - 1) * stride >= size + pad[0]:
        out -= 1
    return max((out - 1) * stride + span - padded, 0)


# -- transposed convolution -----------------------------------------------------------------
def conv_transpose(
    x: Array,
    weight: Array,
    bias: Array | None,
    strides: Sequence[int],
    dilations: Sequence[int],
    crops: Sequence[tuple[int, int]],
    groups: int,
    channel_axis: int,
) -> Array:
    """A transposed convolution (the gradient of a convolution with respect to its input).

    ``weight`` is (in_channels, out_channels / groups, *kernel) as ONNX and PyTorch store it.
    Each input pixel scatters ``x[pixel] @ weight[:, :, tap]`` to ``pixel * stride + tap *
    dilation`` of the full output; ``crops`` (before, after) then cut it per axis (a negative
    value adds zero rows: output_padding beyond the last tap's reach).

    A 2-D one runs as the convolution it is the transpose of: the input spread out by the
    stride (zeros between its pixels), padded, and correlated with the spatially flipped kernel
    whose in and out channels are swapped, by kernelkit's convolution kernels.
    """
    spans = [(k - 1) * d + 1 for k, d in zip(weight.shape[2:], dilations)]
    pads = [(span - 1 - before, span - 1 - after) for span, (before, after) in zip(spans, crops)]
    if x.ndim == 4 and min(min(p) for p in pads) >= 0:
        return _conv_transpose_2d(x, weight, bias, strides, dilations, pads, groups, channel_axis)
    channels_last = channel_axis not in (1, 1 - x.ndim)
    xl = x if channels_last else np.moveaxis(x, 1, -1)
    n, *spatial, cin = xl.shape
    kernel = weight.shape[2:]
    cout_g = weight.shape[1]
    cin_g = cin // groups
    full = [
        (s - 1) * st + (k - 1) * d + 1 for s, st, k, d in zip(spatial, strides, kernel, dilations)
    ]
    extra = [max(-c[1], 0) for c in crops]
    y = np.zeros([n, *(f + e for f, e in zip(full, extra)), cout_g * groups], np.float64)
    for tap in np.ndindex(*kernel):
        target: list[Any] = [slice(None)]
        for t, s, st, d in zip(tap, spatial, strides, dilations):
            target.append(slice(t * d, t * d + (s - 1) * st + 1, st))
        for g in range(groups):
            w_tap = weight[(slice(g * cin_g, (g + 1) * cin_g), slice(None), *tap)].astype(
                np.float64
            )
            contribution = xl[..., g * cin_g : (g + 1) * cin_g] @ w_tap
            y[(*target, slice(g * cout_g, (g + 1) * cout_g))] += contribution
    index = [slice(None)] + [
        slice(max(c[0], 0), y.shape[i + 1] - max(c[1], 0)) for i, c in enumerate(crops)
    ]
    y = y[(*index, slice(None))]
    if bias is not None:
        y = y + bias
    y = y.astype(x.dtype)
    return np.ascontiguousarray(y if channels_last else np.moveaxis(y, -1, 1))


def _conv_transpose_2d(
    x: Array,
    weight: Array,
    bias: Array | None,
    strides: Sequence[int],
    dilations: Sequence[int],
    pads: Sequence[tuple[int, int]],
    groups: int,
    channel_axis: int,
) -> Array:
    from ..conv import conv2d

    channels_last = channel_axis not in (1, -3)
    cin, cout_g, kh, kw = weight.shape
    flipped = (
        weight.reshape(groups, cin // groups, cout_g, kh, kw)
        .transpose(0, 2, 1, 3, 4)
        .reshape(groups * cout_g, cin // groups, kh, kw)[:, :, ::-1, ::-1]
    )
    axes = (1, 2) if channels_last else (2, 3)
    spread_shape = list(x.shape)
    index: list[slice] = [slice(None)] * 4
    for axis, stride in zip(axes, strides):
        spread_shape[axis] = (x.shape[axis] - 1) * stride + 1
        index[axis] = slice(None, None, stride)
    spread = x
    if any(s > 1 for s in strides):
        spread = np.zeros(spread_shape, x.dtype)
        spread[tuple(index)] = x
    return conv2d(
        spread,
        np.ascontiguousarray(flipped, dtype=x.dtype),
        None if bias is None else np.asarray(bias, dtype=x.dtype),
        padding=((pads[0][0], pads[0][1]), (pads[1][0], pads[1][1])),
        dilation=(dilations[0], dilations[1]),
        groups=groups,
        layout="NHWC" if channels_last else "NCHW",
        weight_layout="OIHW",
    )


# -- resizing ---------------------------------------------------------------------------------
def resize(
    x: Array,
    sizes: Sequence[int],
    axes: Sequence[int],
    mode: str,
    coordinates: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
) -> Array:
    """Resize ``axes`` of ``x`` to ``sizes`` by nearest or (multi)linear interpolation, with
    ONNX's coordinate transformation modes (Keras' bilinear upsampling is "half_pixel")."""
    y = x
    for axis, size in zip(axes, sizes):
        length = y.shape[axis]
        if size == length and mode == "nearest":
            continue
        source = _source_coordinates(length, size, coordinates)
        if mode == "nearest":
            index = _nearest(source, nearest_mode)
            y = np.take(y, np.clip(index, 0, length - 1), axis=axis)
            continue
        source = np.clip(source, 0, length - 1)
        low = np.floor(source).astype(np.intp)
        high = np.minimum(low + 1, length - 1)
        shape = [1] * y.ndim
        shape[axis] = size
        frac = (source - low).astype(x.dtype).reshape(shape)
        below = np.take(y, low, axis=axis)
        y = below + (np.take(y, high, axis=axis) - below) * frac
    return np.asarray(y, dtype=x.dtype)


def _source_coordinates(length: int, size: int, mode: str) -> Array:
    out = np.arange(size, dtype=np.float64)
    scale = size / length
    if mode == "half_pixel":
        return (out + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (out + 0.5) / scale - 0.5 if size > 1 else np.zeros(size)
    if mode == "align_corners":
        return out * (length - 1) / (size - 1) if size > 1 else np.zeros(size)
    if mode == "asymmetric":
        return out / scale
    raise ValueError(f"coordinate_transformation_mode {mode!r} is not supported")


def _nearest(source: Array, mode: str) -> Array:
    if mode == "floor":
        return np.floor(source).astype(np.intp)
    if mode == "ceil":
        return np.ceil(source).astype(np.intp)
    if mode == "round_prefer_ceil":
        return np.floor(source + 0.5).astype(np.intp)
    if mode == "round_prefer_floor":
        return np.ceil(source - 0.5).astype(np.intp)
    raise ValueError(f"nearest_mode {mode!r} is not supported")
