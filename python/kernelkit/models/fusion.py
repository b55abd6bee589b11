"""Rewrites of a graph's plan that change its speed, not its results, as onnxruntime does at
load: BatchNormalization folded into the convolution before it, and relu / leaky_relu fused
into the convolution's store.

Both apply only where the convolution's output feeds that one node and is not itself asked
for, and where the convolution has no activation of its own yet (BatchNormalization after an
activation is not linear in the convolution's output).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .graph import Node

__all__ = ["fold_batch_norm", "fuse"]

#: Activations the convolution kernels apply in their store, by the op name of their node.
_FUSABLE_ACTIVATIONS = ("relu", "leaky_relu", "relu6")


def fuse(nodes: Sequence[Node], keep: Iterable[str]) -> list[Node]:
    """The nodes with every foldable (convolution, BatchNormalization / activation) pair
    merged into one convolution node; the originals are left unchanged."""
    kept = set(keep)
    plan = list(nodes)
    changed = True
    while changed:
        changed = False
        readers = _readers(plan)
        for i, node in enumerate(plan):
            if node.outputs[0] in kept:
                continue
            followers = readers.get(node.outputs[0], [])
            if len(followers) != 1:
                continue
            if node.op == "pad":
                merged = _pad_into_conv(node, followers[0])
            elif node.op == "conv" and node.conv.activation is None:
                merged = _merge(node, followers[0])
            else:
                continue
            if merged is not None:
                plan[i] = merged
                plan.remove(followers[0])
                changed = True
                break
    return plan


def _pad_into_conv(pad: Node, conv: Node) -> Node | None:
    """A zero padding of the spatial axes followed by a convolution with explicit padding, as
    one convolution that pads more (MobileNetV2's ZeroPadding2D before a stride-2 depthwise)."""
    from ..conv import resolve_padding

    layer = conv.conv
    if conv.op != "conv" or layer.weight.ndim != 4 or layer.padding in ("same", "same_lower"):
        return None
    if pad.attrs["channel_axis"] != (-1 if layer.data_format == "NHWC" else 1):
        return None
    (top, bottom), (left, right) = pad.attrs["pads"]
    t, b, lf, r = resolve_padding(layer.padding, (0, 0), (1, 1), (1, 1), (1, 1))
    padded = dataclasses.replace(layer, padding=((t + top, b + bottom), (lf + left, r + right)))
    from .nodes import conv_node

    return conv_node(
        f"{pad.name}+{conv.name}", conv.kind, pad.inputs[0], conv.outputs[0], padded, conv.attrs
    )


def _readers(nodes: Sequence[Node]) -> dict[str, list[Node]]:
    readers: dict[str, list[Node]] = {}
    for node in nodes:
        for name in node.inputs:
            readers.setdefault(name, []).append(node)
    return readers


def _merge(conv: Node, follower: Node) -> Node | None:
    layer = conv.conv
    if follower.op == "batch_norm" and _same_channel_axis(conv, follower):
        folded = fold_batch_norm(layer, follower.attrs["scale"], follower.attrs["shift"])
    elif follower.op in _FUSABLE_ACTIVATIONS and layer.kind in ("conv2d", "depthwise", "separable"):
        folded = dataclasses.replace(
            layer, activation=follower.op, alpha=follower.attrs.get("alpha", 0.01)
        )
    else:
        return None
    from .nodes import conv_node

    return conv_node(
        f"{conv.name}+{follower.name}",
        conv.kind,
        conv.inputs[0],
        follower.outputs[0],
        folded,
        conv.attrs,
    )


def _same_channel_axis(conv: Node, norm: Node) -> bool:
    channel_axis = -1 if conv.conv.data_format == "NHWC" else 1
    return bool(norm.attrs.get("channel_axis") == channel_axis)


def fold_batch_norm(layer: Any, scale: np.ndarray, shift: np.ndarray) -> Any:
    """The conv layer followed by ``y * scale + shift`` per output channel, as one layer."""
    outputs = layer.out_channels
    bias = np.zeros(outputs) if layer.bias is None else layer.bias.astype(np.float64)
    bias = bias * scale + shift
    dtype = layer.weight.dtype
    if layer.pointwise is not None:
        pointwise = (layer.pointwise * scale).astype(dtype)
        return dataclasses.replace(layer, pointwise=pointwise, bias=bias.astype(dtype))
    weight = _scale_outputs(layer.weight, layer.weight_layout, scale).astype(dtype)
    return dataclasses.replace(layer, weight=weight, bias=bias.astype(dtype))


def _scale_outputs(weight: np.ndarray, layout: str, scale: np.ndarray) -> np.ndarray:
    """The kernel with output channel o multiplied by scale[o], in its stored layout."""
    if layout == "OIHW":
        return np.asarray(weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1)))
    if layout == "HWIO":
        return np.asarray(weight * scale)
    if layout == "HWCM":  # output c * M + m
        return np.asarray(weight * scale.reshape(weight.shape[-2:]))
    raise ValueError(f"cannot fold into a {layout} kernel")
