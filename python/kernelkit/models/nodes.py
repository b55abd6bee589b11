"""Graph nodes both builders make the same way: convolutions (through a ConvLayer's prepared
Conv2d objects) and single-array steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..conv import Conv2d
from ._layer import ConvLayer
from .graph import Array, Node

__all__ = ["Dense", "conv_node", "dense_node", "unary_node"]


def conv_node(
    name: str, kind: str, source: str, target: str, layer: ConvLayer, attrs: dict[str, Any]
) -> Node:
    """A node that runs ``layer`` (a 1-D layer as a 2-D one of height 1) in its data format."""
    run = layer if layer.weight.ndim == 4 else _as_2d(layer)

    def compute(values: Any, n_threads: int | None) -> list[Array]:
        x = values[0]
        if layer.weight.ndim == 4:
            return [run(x, n_threads=n_threads)]
        axis = 1 if layer.data_format == "NHWC" else 2  # a height axis of 1
        return [np.squeeze(run(np.expand_dims(x, axis), n_threads=n_threads), axis)]

    return Node(name, kind, (source,), (target,), compute, op="conv", attrs=attrs, conv=layer)


def _as_2d(layer: ConvLayer) -> ConvLayer:
    """A Conv1D layer as a Conv2D one over an image of height 1."""
    import dataclasses

    weight = layer.weight[:, :, None] if layer.weight_layout == "OIHW" else layer.weight[None]
    pointwise = None if layer.pointwise is None else layer.pointwise[None]
    padding = layer.padding
    if padding == "causal":  # Keras Conv1D: all the padding before the first sample
        padding = ((0, 0), ((layer.kernel_size[0] - 1) * layer.dilation[0], 0))
    elif isinstance(padding, tuple):  # ((begin, end),), as the ONNX reader gives 1-D pads
        padding = ((0, 0), cast(tuple[int, int], padding[0]))
    elif isinstance(padding, int):
        padding = ((0, 0), (padding, padding))
    return dataclasses.replace(
        layer,
        kind={
            "conv1d": "conv2d",
            "depthwise_conv1d": "depthwise",
            "separable_conv1d": "separable",
        }.get(layer.kind, layer.kind),
        weight=weight,
        pointwise=pointwise,
        stride=(1, *layer.stride),
        dilation=(1, *layer.dilation),
        padding=padding,
    )


def unary_node(
    name: str,
    kind: str,
    source: str,
    target: str,
    function: Callable[[Array], Array],
    op: str = "",
    attrs: dict[str, Any] | None = None,
) -> Node:
    """A node computing ``function(x)`` of its one input."""

    def compute(values: Any, n_threads: int | None) -> list[Array]:
        return [function(values[0])]

    return Node(name, kind, (source,), (target,), compute, op=op, attrs=attrs or {})


@dataclass(frozen=True)
class Dense:
    """``after(x @ kernel + bias)`` over the last axis of ``x``; kernel (in, out)."""

    kernel: Array
    bias: Array | None = None
    after: Callable[[Array], Array] | None = None


def dense_node(name: str, kind: str, source: str, target: str, dense: Dense) -> Node:
    """A node computing ``dense`` on its input.

    It runs as a 1x1 convolution over the rows of ``x``, so that the weights are packed once
    and the threads are kernelkit's: NumPy's BLAS would start threads of its own, whose idle
    spinning after each product takes the cores the next convolution needs.
    """
    kernel, after = dense.kernel, dense.after
    conv = Conv2d(kernel[None, None], dense.bias, layout="NHWC", weight_layout="HWIO")

    def compute(values: Any, n_threads: int | None) -> list[Array]:
        x = values[0]
        rows = x.reshape(1, 1, -1, x.shape[-1])
        y = np.asarray(conv(rows, n_threads=n_threads)).reshape(*x.shape[:-1], kernel.shape[1])
        return [y if after is None else after(y)]

    return Node(name, kind, (source,), (target,), compute, op="dense")
