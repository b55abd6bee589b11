"""The conv layers of a flat mapping of named tensors: a PyTorch state dict or a safetensors file.

Such files hold weights only, so the layers are found by name and shape:

* ``<layer>.weight`` with 3 to 5 dimensions is a PyTorch convolution kernel, OIHW (O, C/groups,
  KH, KW), with ``<layer>.bias``; ``<layer>/kernel`` (Keras naming) is an HWIO kernel with
  ``<layer>/bias``. 4-D kernels are ``conv2d`` layers; 3-D and 5-D ones are listed as ``conv1d``
  and ``conv3d`` layers, which kernelkit does not run. A bias whose length differs from the
  kernel's output channels marks a transposed convolution (``conv2d_transpose``, not run; its
  kernel IOHW for PyTorch names, HWOI for Keras names).
* Everything else (BatchNorm statistics, linear layers, optimizer state) is skipped.

The configuration is not stored: every layer gets stride 1, padding 0, dilation 1, no activation
and ``config_known=False``. ``groups`` is 1, except for a kernel with one input channel per group
that follows a layer with C output channels: it is read as a depthwise convolution over those C
channels (``groups = C``, kind ``depthwise``). That is the one case the shapes settle: a
depthwise kernel has one input channel per group, and on the previous layer's output it can only
run with ``groups = C``; on any other input, calling the layer raises a shape error rather than
computing something else. Grouped convolutions with more channels per group keep ``groups = 1``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any, Protocol

from numpy.typing import NDArray

from ._layer import ConvLayer, WeightFileError

__all__ = ["LazyTensor", "conv_layers"]


class LazyTensor(Protocol):
    """A tensor of a weight file whose values are read only when asked for."""

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape, known without reading its values."""
        ...

    def load(self) -> NDArray[Any]:
        """The tensor's values (raises WeightFileError if the file cannot provide them)."""
        ...


#: a transposed convolution's kernel swaps the channel axes: PyTorch (I, O/groups, KH, KW),
#: Keras (KH, KW, O, I)
_TRANSPOSED_LAYOUT = {"OIHW": "IOHW", "HWIO": "HWOI"}

#: kernel name suffix -> (bias name suffix, stored layout, data format of the framework)
_KERNEL_NAMING = {
    ".weight": (".bias", "OIHW", "NCHW"),
    "/kernel": ("/bias", "HWIO", "NHWC"),
}


def conv_layers(tensors: Mapping[str, LazyTensor], path: pathlib.Path) -> list[ConvLayer]:
    """The convolution layers among ``tensors``, in the mapping's order (see the module doc)."""
    layers: list[ConvLayer] = []
    for name, tensor in tensors.items():
        if not 3 <= len(tensor.shape) <= 5:
            continue
        for suffix, (bias_suffix, layout, data_format) in _KERNEL_NAMING.items():
            if name.endswith(suffix):
                prefix = name[: -len(suffix)]
                bias = _bias(prefix, tensors.get(prefix + bias_suffix), path)
                previous = layers[-1] if layers else None
                layers.append(_layer(prefix, tensor.load(), bias, layout, data_format, previous))
    return layers


def _bias(layer: str, tensor: LazyTensor | None, path: pathlib.Path) -> NDArray[Any] | None:
    if tensor is None:
        return None
    if len(tensor.shape) != 1:
        raise WeightFileError(
            path, f"the bias of layer {layer!r} has shape {tensor.shape}; expected a vector"
        )
    return tensor.load()


def _layer(
    name: str,
    weight: NDArray[Any],
    bias: NDArray[Any] | None,
    layout: str,
    data_format: str,
    previous: ConvLayer | None,
) -> ConvLayer:
    """A weights-only layer: kind from the kernel's rank and the bias length, default config."""
    spatial_dims = weight.ndim - 2
    in_per_group, out_channels = (
        (weight.shape[1], weight.shape[0])
        if layout == "OIHW"
        else (weight.shape[-2], weight.shape[-1])
    )
    kind = f"conv{spatial_dims}d"
    groups = 1
    if bias is not None and bias.shape[0] != out_channels:
        kind = f"conv{spatial_dims}d_transpose"
        layout = _TRANSPOSED_LAYOUT[layout]
    elif kind == "conv2d" and in_per_group == 1 and previous is not None:
        groups = _depthwise_groups(out_channels, previous)
        kind = "depthwise" if groups > 1 else kind
    return ConvLayer(
        name,
        kind,
        weight,
        layout,
        bias=bias,
        stride=(1,) * spatial_dims,
        dilation=(1,) * spatial_dims,
        groups=groups,
        data_format=data_format,
        config_known=False,
    )


def _depthwise_groups(out_channels: int, previous: ConvLayer) -> int:
    """C if the previous layer is a 2-D convolution with C > 1 outputs that divide ours, else 1."""
    if previous.kind not in ("conv2d", "depthwise"):
        return 1
    channels = previous.out_channels
    return channels if channels > 1 and out_channels % channels == 0 else 1
