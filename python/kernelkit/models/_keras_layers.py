"""Keras conv layers, from a model config or from weights alone, as :class:`ConvLayer` objects.

Shared by the Keras 3 reader (keras3.py) and the legacy HDF5 reader (keras_legacy_h5.py): which
Keras classes are conv layers, how their configs nest (Sequential and Functional models inside
models), how Keras 3 names their weight groups, and how a config plus weight arrays become a
layer.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._layer import ConvLayer, WeightFileError

__all__ = [
    "CONV_CLASSES",
    "KerasConv",
    "conv_class_from_weights",
    "conv_layers",
    "conv_without_config",
    "snake_case",
]


@dataclass(frozen=True)
class ConvClass:
    """What kernelkit needs to know about one Keras conv class."""

    kind: str
    rank: int  # spatial dimensions
    layout: str  # of the first (or only) kernel
    separable: bool = False  # a pointwise kernel follows the depthwise one

    @property
    def kernel_count(self) -> int:
        return 2 if self.separable else 1


CONV_CLASSES: dict[str, ConvClass] = {
    "Conv1D": ConvClass("conv1d", 1, "HWIO"),
    "Conv2D": ConvClass("conv2d", 2, "HWIO"),
    "Conv3D": ConvClass("conv3d", 3, "HWIO"),
    "Conv1DTranspose": ConvClass("conv1d_transpose", 1, "HWOI"),
    "Conv2DTranspose": ConvClass("conv2d_transpose", 2, "HWOI"),
    "Conv3DTranspose": ConvClass("conv3d_transpose", 3, "HWOI"),
    "DepthwiseConv1D": ConvClass("depthwise_conv1d", 1, "HWCM"),
    "DepthwiseConv2D": ConvClass("depthwise", 2, "HWCM"),
    "SeparableConv1D": ConvClass("separable_conv1d", 1, "HWCM", separable=True),
    "SeparableConv2D": ConvClass("separable", 2, "HWCM", separable=True),
}

#: Keras' default slope/alpha of the activations that take one, when the config names it only.
_ACTIVATION_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}
_DATA_FORMATS = {"channels_last": "NHWC", "channels_first": "NCHW"}


def snake_case(class_name: str) -> str:
    """Keras' snake_case of a class name, e.g. DepthwiseConv2D -> depthwise_conv2d.

    Keras 3 names the weight group of each layer after its class in this form.
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass(frozen=True)
class KerasConv:
    """A conv layer as a model config describes it, with where its weights live."""

    name: str
    class_name: str
    conv_class: ConvClass
    #: names of the enclosing models, outermost first (empty for a top-level layer)
    parents: tuple[str, ...]
    #: the HDF5 group of its weights in a Keras 3 file, e.g. "layers/sequential/layers/conv2d_1"
    keras3_group: str
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: str
    groups: int
    activation: str | None
    alpha: float
    data_format: str
    use_bias: bool
    filters: int | None
    depth_multiplier: int | None

    def problem_with(self, shapes: Sequence[tuple[int, ...]]) -> str | None:
        """Why arrays of these shapes cannot be this layer's weights (kernels, then bias), or
        None where they can."""
        cls = self.conv_class
        expected = cls.kernel_count + self.use_bias
        if len(shapes) != expected:
            return f"expected {expected} weight arrays, found {len(shapes)}"
        kernel = tuple(shapes[0])
        if len(kernel) != cls.rank + 2:
            return f"expected a {cls.rank + 2}-D kernel, found shape {kernel}"
        if kernel[: cls.rank] != self.kernel_size:
            return f"kernel shape {kernel} does not match kernel_size {self.kernel_size}"
        if cls.separable and tuple(shapes[1][:-1]) != (1,) * cls.rank + (kernel[-2] * kernel[-1],):
            return f"pointwise kernel {shapes[1]} does not follow depthwise kernel {kernel}"
        multiplier = self.depth_multiplier
        if cls.layout == "HWCM" and multiplier is not None and kernel[-1] != multiplier:
            return f"kernel shape {kernel} does not match depth_multiplier {multiplier}"
        outputs = _output_channels(cls, shapes)
        if self.filters is not None and outputs != self.filters:
            return f"kernel {kernel} gives {outputs} outputs, config says filters={self.filters}"
        if self.use_bias and tuple(shapes[-1]) != (outputs,):
            return f"bias shape {shapes[-1]} does not match {outputs} output channels"
        return None

    def to_layer(self, arrays: Sequence[NDArray[Any]], path: pathlib.Path) -> ConvLayer:
        """The ConvLayer with these weights; WeightFileError where they do not fit the config."""
        problem = self.problem_with([a.shape for a in arrays])
        if problem is not None:
            raise WeightFileError(path, f"layer {self.name!r} ({self.class_name}): {problem}")
        cls = self.conv_class
        return ConvLayer(
            self.name,
            cls.kind,
            arrays[0],
            cls.layout,
            bias=arrays[-1] if self.use_bias else None,
            stride=self.strides,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            activation=self.activation,
            alpha=self.alpha,
            data_format=self.data_format,
            pointwise=arrays[1] if cls.separable else None,
            extra={"class_name": self.class_name, "path": "/".join([*self.parents, self.name])},
        )


def _keras_conv(
    name: str, class_name: str, config: dict[str, Any], parents: tuple[str, ...], group: str
) -> KerasConv:
    """The settings of a conv layer's config; ValueError/TypeError where they are malformed."""
    cls = CONV_CLASSES[class_name]
    activation, alpha = _activation(config.get("activation"))
    data_format = config.get("data_format") or "channels_last"
    if data_format not in _DATA_FORMATS:
        raise ValueError(f"unknown data_format {data_format!r}")
    filters, multiplier = config.get("filters"), config.get("depth_multiplier")
    return KerasConv(
        name,
        class_name,
        cls,
        parents,
        group,
        kernel_size=int_tuple(config.get("kernel_size"), cls.rank),
        strides=int_tuple(config.get("strides", 1), cls.rank),
        dilation=int_tuple(config.get("dilation_rate", 1), cls.rank),
        padding=str(config.get("padding", "valid")).lower(),
        groups=int(config.get("groups", 1)),
        activation=activation,
        alpha=alpha,
        data_format=_DATA_FORMATS[data_format],
        use_bias=bool(config.get("use_bias", True)),
        filters=None if filters is None else int(filters),
        depth_multiplier=None if multiplier is None else int(multiplier),
    )


def int_tuple(value: Any, rank: int) -> tuple[int, ...]:
    """A config's int-or-list (strides, kernel_size, dilation_rate) as a tuple of ``rank`` ints."""
    values = [value] * rank if isinstance(value, int) else list(value)
    if len(values) != rank:
        raise ValueError(f"expected {rank} values, got {value!r}")
    return tuple(int(v) for v in values)


def _output_channels(cls: ConvClass, shapes: Sequence[tuple[int, ...]]) -> int:
    kernel = shapes[0]
    if cls.separable:
        return int(shapes[1][-1])
    if cls.layout == "HWCM":
        return int(kernel[-2] * kernel[-1])
    return int(kernel[-2] if cls.layout == "HWOI" else kernel[-1])


def _activation(spec: Any) -> tuple[str | None, float]:
    """(name, slope/alpha) of a config's activation: a name, a serialised function, or an
    activation layer (``activation=keras.layers.LeakyReLU(0.3)``)."""
    alpha = None
    if isinstance(spec, dict):  # Keras 3 serialises functions and layers as objects
        config = spec.get("config")
        if isinstance(config, dict):
            class_name = str(spec.get("class_name", ""))
            if class_name == "Activation":
                return _activation(config.get("activation"))
            alpha = config.get("negative_slope", config.get("alpha"))
            spec = _activation_of_layer(class_name, config)
        else:
            spec = config
    name = None if spec is None else str(spec).lower()
    default = _ACTIVATION_ALPHA.get(name or "", 0.01)
    return name, float(default if alpha is None else alpha)


def _activation_of_layer(class_name: str, config: dict[str, Any]) -> str:
    """The function an activation layer computes, by the name ConvLayer knows it under; ReLU's
    variants that no function matches keep their settings in the name, which ConvLayer then
    refuses to run."""
    if class_name != "ReLU":
        return {"LeakyReLU": "leaky_relu", "ELU": "elu"}.get(class_name, snake_case(class_name))
    top, slope, threshold = (config.get(k) for k in ("max_value", "negative_slope", "threshold"))
    if not threshold and top is None:
        return "leaky_relu" if slope else "relu"
    if not threshold and top == 6 and not slope:
        return "relu6"
    return f"relu(max_value={top}, negative_slope={slope}, threshold={threshold})"


def _model_layers(entry: Any) -> list[Any] | None:
    """The layer entries of a model config (Sequential, Functional, Keras 2's Model), or None.

    Keras <= 2.1 wrote a Sequential config as the bare list of its layers.
    """
    config = entry.get("config") if isinstance(entry, dict) else None
    if isinstance(config, list):
        return config
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return list(config["layers"])
    return None


def conv_layers(model_config: Any, path: pathlib.Path) -> list[KerasConv] | None:
    """The conv layers of a model config in model order, nested models included.

    None when the config does not list layers (e.g. a subclassed model).
    """
    entries = _model_layers(model_config)
    return None if entries is None else list(_walk(entries, "", (), path))


def _walk(
    entries: list[Any], group: str, parents: tuple[str, ...], path: pathlib.Path
) -> Iterator[KerasConv]:
    # Keras 3 names each layer's group after its class, numbering repeats in layer order:
    # conv2d, conv2d_1, ...
    seen: dict[str, int] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), (dict, list)):
            continue
        class_name = str(entry.get("class_name", ""))
        base = snake_case(class_name)
        count = seen.get(base, -1) + 1
        seen[base] = count
        layer_group = f"{group}layers/{base}" + (f"_{count}" if count else "")
        config = entry["config"]
        name = str(config.get("name", "") if isinstance(config, dict) else "") or base
        nested = _model_layers(entry)
        if nested is not None:
            yield from _walk(nested, f"{layer_group}/", (*parents, name), path)
        elif class_name in CONV_CLASSES:
            try:
                yield _keras_conv(name, class_name, config, parents, layer_group)
            except (TypeError, ValueError) as exc:
                raise WeightFileError(path, f"layer {name!r}: malformed config ({exc})") from None


def conv_class_from_weights(
    variable_names: Sequence[str], shapes: Sequence[tuple[int, ...]]
) -> str | None:
    """The Keras conv class whose weights have these variable names and shapes, or None.

    For files without a config: "depthwise_kernel" + "pointwise_kernel" is a separable
    convolution, "depthwise_kernel" a depthwise one (Keras 2), "kernel" a plain one unless its
    bias has (in x multiplier) entries, which makes it a Keras 3 depthwise kernel; the kernel's
    rank gives the spatial dimensions. A depthwise kernel without bias in a Keras 3 file, or a
    transposed convolution's kernel, cannot be told apart from a plain one.
    """
    by_name = {name: tuple(shape) for name, shape in zip(variable_names, shapes)}
    if "depthwise_kernel" in by_name:
        base = "SeparableConv" if "pointwise_kernel" in by_name else "DepthwiseConv"
        class_name = f"{base}{len(by_name['depthwise_kernel']) - 2}D"
    elif "kernel" in by_name:
        kernel, bias = by_name["kernel"], by_name.get("bias")
        depthwise = bias is not None and len(kernel) > 2 and bias[0] == kernel[-2] * kernel[-1]
        base = "DepthwiseConv" if depthwise and bias != (kernel[-1],) else "Conv"
        class_name = f"{base}{len(kernel) - 2}D"
    else:
        return None
    return class_name if class_name in CONV_CLASSES else None


def conv_without_config(
    name: str, class_name: str, arrays: Sequence[NDArray[Any]], path: pathlib.Path
) -> ConvLayer:
    """A layer from its weights alone (kernels, then an optional bias): config_known False."""
    cls = CONV_CLASSES[class_name]
    kernels = arrays[: cls.kernel_count]
    if len(kernels) < cls.kernel_count or any(k.ndim != cls.rank + 2 for k in kernels):
        shapes = [a.shape for a in arrays]
        raise WeightFileError(
            path, f"layer {name!r} ({class_name}): weights of shapes {shapes} are not its kernels"
        )
    extra = arrays[cls.kernel_count :]
    bias = extra[0] if extra and np.ndim(extra[0]) == 1 else None
    return ConvLayer(
        name,
        cls.kind,
        kernels[0],
        cls.layout,
        bias=bias,
        stride=(1,) * cls.rank,
        dilation=(1,) * cls.rank,
        data_format="NHWC",
        config_known=False,
        pointwise=kernels[1] if cls.separable else None,
        extra={"class_name": class_name},
    )
