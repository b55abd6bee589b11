"""An image as the input a model expects, and what the network makes of it: feature maps of a
layer and the predicted classes, for ``kernelkit features`` / ``predict`` and the plotting
functions.

Images are scaled to [0, 1] (see kernelkit._images), resized with Pillow's antialiasing
bilinear filter to the input's height and width where the file records them, and converted
to its channels (gray <-> RGB); each step is said in :attr:`NetworkInput.description`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from .._images import as_channels
from ._layer import ConvLayer, ConvModel

__all__ = ["NetworkInput", "Prediction", "feature_maps", "network_input", "predict"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class NetworkInput:
    """A batch of one image in the model's layout, the picture it shows and how it was made."""

    x: NDArray[np.float32]
    #: the image the network sees, (H, W) gray or (H, W, 3) colour, for drawing
    image: NDArray[np.float64]
    description: str
    #: "NHWC" or "NCHW", the layout of ``x``
    layout: str


def _geometry(model: ConvModel, layer: ConvLayer | None) -> tuple[str, int | None, Any, Any]:
    """(layout, channels, height, width) of the input; None where not recorded."""
    shape = model.input_shape
    if shape is None or len(shape) != 4:
        if layer is None:
            return "NHWC", None, None, None
        return layer.data_format, layer.in_channels, None, None
    layout = model.graph.layout if model.graph is not None else "NHWC"
    if layout == "NCHW":
        return layout, shape[1], shape[2], shape[3]
    return layout, shape[3], shape[1], shape[2]


def network_input(
    model: ConvModel,
    pixels: NDArray[np.float64],
    name: str = "image",
    layer: ConvLayer | None = None,
) -> NetworkInput:
    """``pixels`` ((H, W) or (H, W, C), values in [0, 1]) as the network's (or, for a file
    without a graph, ``layer``'s) input."""
    layout, channels, height, width = _geometry(model, layer)
    steps = [f"{name}: {pixels.shape[1]}x{pixels.shape[0]} {_colour(pixels)}"]
    if height is not None and width is not None and pixels.shape[:2] != (height, width):
        pixels = _resized(pixels, int(height), int(width))
        steps.append(f"resized to {width}x{height}")
    planes = pixels if channels is None else as_channels(pixels, int(channels))
    if planes.ndim == 2:
        planes = planes[..., None]
    if channels is not None and _colour(pixels) != _colour(planes):
        steps.append(f"converted to {_colour(planes)}")
    x = planes[None].astype(np.float32)
    if layout == "NCHW":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    shape = "x".join(map(str, x.shape))
    where = "the model's input" if model.input_shape is not None else "the first layer's input"
    description = ", ".join(steps) + f"; values in [0, 1], {where} {shape} ({layout})"
    shown = planes[..., 0] if planes.shape[-1] == 1 else planes[..., :3]
    return NetworkInput(x, np.asarray(shown, np.float64), description, layout)


def _colour(pixels: NDArray[Any]) -> str:
    channels = 1 if pixels.ndim == 2 else pixels.shape[-1]
    return {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels}-channel")


def _resized(pixels: NDArray[np.float64], height: int, width: int) -> NDArray[np.float64]:
    """Each plane resized by Pillow (bilinear, antialiased when shrinking) in float precision."""
    from PIL import Image

    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    resized = [
        np.asarray(
            Image.fromarray(planes[..., c].astype(np.float32), mode="F").resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for c in range(planes.shape[-1])
    ]
    out = np.stack(resized, axis=-1).astype(np.float64)
    return out[..., 0] if pixels.ndim == 2 else out


def feature_maps(
    model: ConvModel, pixels: NDArray[np.float64], layer: str, name: str = "image"
) -> tuple[NDArray[np.float64], NetworkInput]:
    """The (C, H, W) maps of ``layer`` computed through the network from ``pixels``, and the
    input they came from. A file without a graph runs its first layer only (see
    :meth:`ConvModel.run`)."""
    conv = model[layer] if model.graph is None else None
    prepared = network_input(model, pixels, name, conv)
    output = np.asarray(model.run(prepared.x, until=layer), dtype=np.float64)[0]
    if output.ndim != 3:
        raise ValueError(
            f"layer {layer!r} gives an output of shape {output.shape}, not feature maps "
            "(channels x height x width); choose a convolution or pooling layer"
        )
    maps = output.transpose(2, 0, 1) if prepared.layout == "NHWC" else output
    return maps, prepared


@dataclass(frozen=True)
class Prediction:
    """The network's output on one image: the top classes, their scores, and what they are."""

    classes: list[int]
    scores: list[float]
    probabilities: bool
    output_shape: tuple[int, ...]
    input: NetworkInput


def predict(
    model: ConvModel, pixels: NDArray[np.float64], top: int = 5, name: str = "image"
) -> Prediction:
    """The ``top`` classes of the network's output on ``pixels``. ``probabilities`` says whether
    the output is a probability vector (non-negative, summing to 1, as after a softmax)."""
    if top < 1:
        raise ValueError(f"top: expected a positive number of classes, got {top}")
    prepared = network_input(model, pixels, name)
    output = np.asarray(model.run(prepared.x), dtype=np.float64)[0]
    scores = output.reshape(-1)
    order = np.argsort(-scores, kind="stable")[:top]
    probabilities = bool(np.all(scores >= 0) and abs(scores.sum() - 1.0) < 1e-3)
    return Prediction(
        [int(i) for i in order],
        [float(scores[i]) for i in order],
        probabilities,
        tuple(output.shape),
        prepared,
    )
