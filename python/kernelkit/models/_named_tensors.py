"""The conv layers of named tensors: PyTorch state dicts, safetensors files and .npz files of
named arrays. Such files hold weights only, so the layers are found by name and shape.

A name splits at its last "/" or "." into the layer and the variable, without a ":0" suffix:
``features.0.weight`` is variable ``weight`` of layer ``features.0``, ``conv1/kernel:0`` variable
``kernel`` of layer ``conv1``, and a bare ``kernel`` belongs to a layer named after the file. The
variables read are

* ``weight`` (PyTorch): a kernel in OIHW (O, C/groups, KH, KW), or in IOHW (C, O/groups, KH, KW)
  where a bias whose length is not O marks a transposed convolution (``conv2d_transpose``);
* ``kernel`` (Keras): HWIO (KH, KW, C/groups, O); HWCM (KH, KW, C, M), Keras 3's depthwise kernel,
  where a bias has C x M entries; HWOI (KH, KW, O, C), a transposed convolution's, where it has as
  many as the third axis;
* ``depthwise_kernel`` (Keras 2): HWCM, and with a ``pointwise_kernel`` (1 x 1 HWIO) a separable
  convolution;
* ``bias``: a vector with one entry per output channel.

Kernels have 3 to 5 dimensions: 4-D ones are ``conv2d``, ``depthwise`` or ``separable`` layers,
which run; 3-D and 5-D ones are listed as ``conv1d``, ``conv3d`` and so on. Other variables and
ranks (normalisation, dense layers, optimizer state) are skipped. ``layout=`` (of
:func:`kernelkit.load_model`, for .npz files) forces the layout of ``weight`` and ``kernel``.

The configuration is not stored: every layer gets stride 1, padding 0, dilation 1, no activation
and ``config_known=False``, in the data format of its layout's framework (NCHW for OIHW and IOHW,
NHWC for the Keras layouts). ``groups`` is 1, except for a 2-D kernel with one input channel per
group that follows a layer with C output channels: it is read as a depthwise convolution over
those C channels (``groups = C``, kind ``depthwise``). That is the one case the shapes settle: a
depthwise kernel has one input channel per group, and on the previous layer's output it can only
run with ``groups = C``; on any other input, calling the layer raises a shape error rather than
computing something else. Grouped convolutions with more channels per group keep ``groups = 1``.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from numpy.typing import NDArray

from ._layer import (
    CHANNELS_FIRST_LAYOUTS,
    RUNNABLE_KINDS,
    TRANSPOSED_LAYOUTS,
    ConvLayer,
    WeightFileError,
)

__all__ = ["InMemoryTensor", "LazyTensor", "conv_layers", "is_pointwise_of", "weights_only_layer"]


class LazyTensor(Protocol):
    """A tensor of a weight file whose values are read only when asked for."""

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape, known without reading its values."""
        ...

    def load(self) -> NDArray[Any]:
        """The tensor's values (raises WeightFileError if the file cannot provide them)."""
        ...


class InMemoryTensor(NamedTuple):
    """A :class:`LazyTensor` whose values are already read (the arrays of an .npz file)."""

    array: NDArray[Any]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def load(self) -> NDArray[Any]:
        return self.array


_VARIABLE_SUFFIX = re.compile(r":\d+$")
#: kernel variables, in the order one is chosen where a layer has several
_KERNELS = ("weight", "kernel", "depthwise_kernel")
_VARIABLES = {*_KERNELS, "pointwise_kernel", "bias"}


def conv_layers(
    tensors: Mapping[str, LazyTensor], path: pathlib.Path, *, layout: str | None = None
) -> list[ConvLayer]:
    """The convolution layers among ``tensors``, in the order their layers first appear."""
    by_layer: dict[str, dict[str, LazyTensor]] = {}
    for key, tensor in tensors.items():
        layer, variable = _split_name(key)
        if variable in _VARIABLES:
            by_layer.setdefault(layer, {})[variable] = tensor
    layers: list[ConvLayer] = []
    for layer, variables in by_layer.items():
        kernel_name = next((v for v in _KERNELS if v in variables), None)
        if kernel_name is not None and 3 <= len(variables[kernel_name].shape) <= 5:
            previous = layers[-1] if layers else None
            name = layer or path.stem
            layers.append(_layer(name, kernel_name, variables, layout, previous, path))
    return layers


def _split_name(key: str) -> tuple[str, str]:
    """("conv1", "kernel") from "conv1/kernel:0", ("features.0", "weight") from
    "features.0.weight"; the layer part is "" for a bare variable."""
    cut = max(key.rfind("/"), key.rfind("."))
    return key[: max(cut, 0)], _VARIABLE_SUFFIX.sub("", key[cut + 1 :])


def _layer(
    name: str,
    kernel_name: str,
    variables: dict[str, LazyTensor],
    layout: str | None,
    previous: ConvLayer | None,
    path: pathlib.Path,
) -> ConvLayer:
    kernel = variables[kernel_name].load()
    if kernel.dtype.kind not in "biuf":
        raise WeightFileError(path, f"{name}: the {kernel_name} holds {kernel.dtype}, not numbers")
    bias = _vector(name, variables.get("bias"), path)
    pointwise = None
    if kernel_name == "depthwise_kernel" and "pointwise_kernel" in variables:
        pointwise = variables["pointwise_kernel"].load()
        if not is_pointwise_of(kernel.shape, pointwise.shape):
            raise WeightFileError(
                path, f"{name}: pointwise kernel {pointwise.shape} does not follow {kernel.shape}"
            )
    bias_size = None if bias is None else bias.size
    kernel_layout = _kernel_layout(kernel_name, kernel.shape, bias_size, layout)
    groups = _depthwise_groups(kernel.shape, kernel_layout, previous)
    return weights_only_layer(name, kernel, kernel_layout, bias, pointwise, path, groups=groups)


def _vector(layer: str, tensor: LazyTensor | None, path: pathlib.Path) -> NDArray[Any] | None:
    if tensor is None:
        return None
    if len(tensor.shape) != 1:
        raise WeightFileError(
            path, f"the bias of layer {layer!r} has shape {tensor.shape}; expected a vector"
        )
    return tensor.load()


def _kernel_layout(
    variable: str, shape: tuple[int, ...], bias_size: int | None, forced: str | None
) -> str:
    """The stored layout of kernel ``variable`` by the rules of the module doc."""
    if variable == "depthwise_kernel":
        return "HWCM"
    if forced is not None:
        return forced
    if variable == "weight":
        return "OIHW" if bias_size in (None, shape[0]) else "IOHW"
    if bias_size in (None, shape[-1]):
        return "HWIO"
    return "HWCM" if bias_size == shape[-2] * shape[-1] else "HWOI"


def _depthwise_groups(shape: tuple[int, ...], layout: str, previous: ConvLayer | None) -> int:
    """C for a 2-D kernel with one input channel per group whose output channels are a multiple
    of the C > 1 outputs of a previous 2-D layer, else 1 (see the module doc)."""
    if len(shape) != 4 or layout not in ("OIHW", "HWIO") or previous is None:
        return 1
    in_per_group, outputs = (shape[1], shape[0]) if layout == "OIHW" else (shape[2], shape[3])
    if in_per_group != 1 or previous.kind not in RUNNABLE_KINDS:
        return 1
    channels = previous.out_channels
    return channels if channels > 1 and outputs % channels == 0 else 1


def is_pointwise_of(depthwise: tuple[int, ...], candidate: tuple[int, ...]) -> bool:
    """Whether a kernel of shape ``candidate`` is the 1x1 pointwise kernel of a separable layer
    whose depthwise kernel has shape ``depthwise`` (..., C, M)."""
    spatial = (1,) * (len(depthwise) - 2)
    return len(candidate) == len(depthwise) and candidate[:-1] == (
        *spatial,
        depthwise[-2] * depthwise[-1],
    )


def weights_only_layer(
    name: str,
    kernel: NDArray[Any],
    layout: str,
    bias: NDArray[Any] | None,
    pointwise: NDArray[Any] | None,
    path: pathlib.Path,
    *,
    groups: int = 1,
) -> ConvLayer:
    """A layer of a weights-only file: kind from its layout, rank and groups, default config;
    WeightFileError where the bias does not fit the outputs."""
    rank = kernel.ndim - 2
    layer = ConvLayer(
        name,
        _kind(layout, pointwise is not None, rank, groups),
        kernel,
        layout,
        bias=bias,
        stride=(1,) * rank,
        dilation=(1,) * rank,
        groups=groups,
        data_format="NCHW" if layout in CHANNELS_FIRST_LAYOUTS else "NHWC",
        config_known=False,
        pointwise=pointwise,
    )
    if bias is not None and bias.shape != (layer.out_channels,):
        raise WeightFileError(
            path, f"{name}: bias of shape {bias.shape} does not fit {layer.out_channels} outputs"
        )
    return layer


def _kind(layout: str, separable: bool, rank: int, groups: int) -> str:
    """ "conv2d", "depthwise", "separable", "conv2d_transpose", or for other ranks "conv1d",
    "depthwise_conv1d", ..."""
    if layout in TRANSPOSED_LAYOUTS:
        return f"conv{rank}d_transpose"
    if not separable and layout != "HWCM" and groups == 1:
        return f"conv{rank}d"
    base = "separable" if separable else "depthwise"
    return base if rank == 2 else f"{base}_conv{rank}d"
