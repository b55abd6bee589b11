"""The network of a Keras model config as a runnable :class:`~kernelkit.models.graph.Graph`.

Used by the Keras 3 (``.keras``) and legacy HDF5 readers, which pass the conv layers they read
(by their nested path, "block/conv") and a lookup of every other layer's weights. Sequential
and Functional models, nested models (inlined, each call of a shared one with its own values),
shared layers and both ways Keras records a layer's inputs (Keras 3's ``args`` of
``__keras_tensor__`` objects, Keras 2's ``[name, node, tensor, kwargs]`` lists) are read; every
layer kind in :data:`KERAS_LAYERS` runs, with Keras' inference semantics (dropout and noise
layers are the identity).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from . import ops
from ._keras_layers import CONV_CLASSES, int_tuple, snake_case
from ._layer import ConvLayer, ConvModel
from .graph import Array, Graph, GraphInput, Node
from .nodes import Dense, conv_node, dense_node, unary_node

__all__ = ["KERAS_LAYERS", "WeightLookup", "build_graph", "keras_model"]

#: (nested path "outer/layer", Keras 3 weight group, class name) -> the layer's weight arrays
WeightLookup = Callable[[str, str, str], list[Array]]

_IDENTITY_CLASSES = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Masking",
)
_MODEL_CLASSES = ("Sequential", "Functional", "Model")


@dataclass
class _Layer:
    """One layer entry of a config, with what its node factory needs."""

    name: str
    path: str
    class_name: str
    config: dict[str, Any]
    group: str
    weights: Callable[[], list[Array]]

    @property
    def channel_axis(self) -> int:
        return 1 if self.config.get("data_format") == "channels_first" else -1

    def get(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key, default)
        return default if value is None else value


Factory = Callable[[_Layer], Union[Callable[..., Array], Dense]]


# -- the layer kinds --------------------------------------------------------------------------
def _pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    """Keras' padding / cropping forms: n, (a, b) per axis, or ((a, b), (c, d))."""
    if isinstance(value, (int, float)):
        return [(int(value), int(value))] * rank
    items = list(value)
    return [
        (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1])) for v in items
    ]


def _activation(layer: _Layer, spec: Any = None) -> Callable[[Array], Array]:
    from ._keras_layers import _activation as parse

    name, alpha = parse(layer.config.get("activation") if spec is None else spec)
    if name is None:
        return lambda x: x
    if name.startswith("relu("):
        top, slope, threshold = _relu_settings_of(layer.config.get("activation"))
        return lambda x: ops.relu(x, top, slope, threshold)
    try:
        return ops.activation_function(name, alpha)
    except KeyError:
        raise _Unsupported(f"activation {name!r}") from None


def _relu_settings_of(spec: Any) -> tuple[float | None, float, float]:
    config = spec.get("config", {}) if isinstance(spec, dict) else {}
    return (
        config.get("max_value"),
        float(config.get("negative_slope") or 0.0),
        float(config.get("threshold") or 0.0),
    )


class _Unsupported(Exception):
    """A setting of a supported layer kind that kernelkit does not run."""


def _batch_norm(layer: _Layer) -> Callable[..., Array]:
    arrays = list(layer.weights())
    gamma = arrays.pop(0) if layer.get("scale", True) else None
    beta = arrays.pop(0) if layer.get("center", True) else None
    mean, variance = arrays[:2]
    scale, shift = ops.batch_norm_scale_shift(
        gamma, beta, mean, variance, layer.get("epsilon", 1e-3)
    )
    axis = layer.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) else axis
    layer.config["_fold"] = {"scale": scale, "shift": shift, "channel_axis": int(axis)}
    return lambda x: ops.batch_norm(x, scale, shift, int(axis))


def _dense(layer: _Layer) -> Dense:
    arrays = layer.weights()
    bias = arrays[1] if layer.get("use_bias", True) and len(arrays) > 1 else None
    return Dense(arrays[0], bias, _activation(layer))


def _relu_layer(layer: _Layer) -> Callable[..., Array]:
    top = layer.config.get("max_value")
    slope = float(layer.get("negative_slope", 0.0))
    threshold = float(layer.get("threshold", 0.0))
    return lambda x: ops.relu(x, top, slope, threshold)


def _leaky_relu(layer: _Layer) -> Callable[..., Array]:
    slope = float(layer.get("negative_slope", layer.get("alpha", 0.3)))
    return lambda x: ops.relu(x, slope=slope)


def _prelu(layer: _Layer) -> Callable[..., Array]:
    (alpha,) = layer.weights()
    return lambda x: np.where(x >= 0, x, alpha.astype(x.dtype) * x)


def _elu(layer: _Layer) -> Callable[..., Array]:
    alpha = float(layer.get("alpha", 1.0))
    return lambda x: ops.elu(x, alpha)


def _softmax(layer: _Layer) -> Callable[..., Array]:
    axis = layer.get("axis", -1)
    return lambda x: ops.softmax(x, tuple(axis) if isinstance(axis, list) else int(axis))


def _pooling(kind: str, rank: int) -> Factory:
    def factory(layer: _Layer) -> Callable[..., Array]:
        size = int_tuple(layer.get("pool_size", 2), rank)
        strides = int_tuple(layer.get("strides", size), rank)
        same = str(layer.get("padding", "valid")).lower() == "same"
        axis = layer.channel_axis

        def pooling(x: Array) -> Array:
            spatial = [x.shape[a] for a in ops.spatial_axes(x.ndim, axis)]
            pads = [
                ops.same_padding(n, k, s) if same else (0, 0)
                for n, k, s in zip(spatial, size, strides)
            ]
            return ops.pool(x, kind, size, strides, pads, axis)

        return pooling

    return factory


def _global_pooling(reduce: Callable[..., Array]) -> Factory:
    def factory(layer: _Layer) -> Callable[..., Array]:
        keep = bool(layer.get("keepdims", False))
        axis = layer.channel_axis
        return lambda x: reduce(x, axis=ops.spatial_axes(x.ndim, axis), keepdims=keep).astype(
            x.dtype
        )

    return factory


def _edges(rank: int, key: str, change: Callable[[Array, int, int, int], Array]) -> Factory:
    """ZeroPadding / Cropping: ``change(x, axis, before, after)`` on each spatial axis."""

    def factory(layer: _Layer) -> Callable[..., Array]:
        amounts = _pairs(layer.get(key, 1), rank)
        axis = layer.channel_axis

        def apply(x: Array) -> Array:
            for a, (before, after) in zip(ops.spatial_axes(x.ndim, axis), amounts):
                x = change(x, a, before, after)
            return x

        return apply

    return factory


def _pad_axis(x: Array, axis: int, before: int, after: int) -> Array:
    return ops.pad_constant(x, [(before, after) if i == axis else (0, 0) for i in range(x.ndim)], 0)


def _crop_axis(x: Array, axis: int, before: int, after: int) -> Array:
    return x[(slice(None),) * axis + (slice(before, x.shape[axis] - after),)]


def _upsampling(layer: _Layer) -> Callable[..., Array]:
    size = int_tuple(layer.get("size", 2), 2)
    interpolation = str(layer.get("interpolation", "nearest"))
    axis = layer.channel_axis
    if interpolation not in ("nearest", "bilinear"):
        raise _Unsupported(f"interpolation {interpolation!r}")

    def upsample(x: Array) -> Array:
        axes = ops.spatial_axes(x.ndim, axis)
        if interpolation == "nearest":  # each pixel repeated: one broadcast copy
            (h, w), (sh, sw) = axes, size
            spread = np.expand_dims(np.expand_dims(x, w + 1), h + 1)
            shape = list(spread.shape)
            shape[h + 1], shape[w + 2] = sh, sw
            merged = list(x.shape)
            merged[h], merged[w] = x.shape[h] * sh, x.shape[w] * sw
            return np.broadcast_to(spread, shape).reshape(merged)
        sizes = [x.shape[a] * s for a, s in zip(axes, size)]
        return ops.resize(x, sizes, axes, "linear", "half_pixel")

    return upsample


def _reshape(layer: _Layer) -> Callable[..., Array]:
    target = tuple(int(v) for v in layer.get("target_shape"))
    return lambda x: x.reshape((x.shape[0], *target))


def _flatten(layer: _Layer) -> Callable[..., Array]:
    first = layer.get("data_format") == "channels_first"

    def flatten(x: Array) -> Array:
        if first and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1)

    return flatten


def _permute(layer: _Layer) -> Callable[..., Array]:
    dims = tuple(int(d) for d in layer.get("dims"))
    return lambda x: np.ascontiguousarray(x.transpose((0, *dims)))


def _rescaling(layer: _Layer) -> Callable[..., Array]:
    scale = np.asarray(layer.get("scale", 1.0), np.float64)
    offset = np.asarray(layer.get("offset", 0.0), np.float64)
    return lambda x: (x * scale.astype(x.dtype) + offset.astype(x.dtype)).astype(x.dtype)


def _normalization(layer: _Layer) -> Callable[..., Array]:
    if layer.config.get("mean") is not None:
        mean = np.asarray(layer.config["mean"], np.float64)
        variance = np.asarray(layer.config["variance"], np.float64)
    else:
        arrays = layer.weights()
        mean, variance = arrays[0], arrays[1]
    if layer.get("invert", False):
        raise _Unsupported("invert=True")
    axis = layer.get("axis", -1)
    axes = [axis] if isinstance(axis, int) else list(axis)
    std = np.maximum(np.sqrt(variance), 1e-7)  # Keras' backend epsilon

    def normalize(x: Array) -> Array:
        shape = [1] * x.ndim
        for a in axes:
            shape[a] = x.shape[a]
        m = np.broadcast_to(mean, np.broadcast_shapes(np.shape(mean), ())).reshape(
            shape if np.size(mean) > 1 else ()
        )
        s = std.reshape(shape if np.size(std) > 1 else ())
        return ((x - m) / s).astype(x.dtype)

    return normalize


def _conv_transpose(layer: _Layer) -> Callable[..., Array]:
    arrays = layer.weights()
    kernel = arrays[0]  # HWOI: (*kernel, out, in)
    rank = kernel.ndim - 2
    weight = np.moveaxis(np.moveaxis(kernel, -1, 0), -1, 1)  # (in, out, *kernel)
    bias = arrays[1] if layer.get("use_bias", True) and len(arrays) > 1 else None
    strides = int_tuple(layer.get("strides", 1), rank)
    dilations = int_tuple(layer.get("dilation_rate", 1), rank)
    padding = str(layer.get("padding", "valid")).lower()
    output_padding = layer.config.get("output_padding")
    extras = [None] * rank if output_padding is None else list(int_tuple(output_padding, rank))
    crops = [
        _transpose_crop(k, s, d, padding, e)
        for k, s, d, e in zip(kernel.shape[:rank], strides, dilations, extras)
    ]
    activation = _activation(layer)
    axis = layer.channel_axis
    return lambda x: activation(
        ops.conv_transpose(x, weight, bias, strides, dilations, crops, 1, axis)
    )


def _transpose_crop(
    kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None
) -> tuple[int, int]:
    """How much a Keras transposed convolution cuts from the full scatter (k - 1 beyond the
    first and last input pixel each side), from the padding that Keras' own conversion gives
    an input-dilated convolution (TensorFlow's semantics)."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(span, stride) - span if output_padding is None else output_padding
        left, right = span - 1, span - 1 + extra
    else:
        total = (
            stride + span - 2 if output_padding is None else span + span % 2 - 2 + output_padding
        )
        left = min(total // 2 + total % 2, span - 1)
        right = total - left
    return span - 1 - left, span - 1 - right


def _merge(function: Callable[[Sequence[Array]], Array]) -> Factory:
    return lambda layer: function


def _concatenate(layer: _Layer) -> Callable[..., Array]:
    axis = int(layer.get("axis", -1))
    return lambda xs: np.concatenate(xs, axis=axis)


def _activation_layer(layer: _Layer) -> Callable[..., Array]:
    return _activation(layer)


def _reduce(function: Callable[..., Array]) -> Callable[[Sequence[Array]], Array]:
    def merged(xs: Sequence[Array]) -> Array:
        result = xs[0]
        for x in xs[1:]:
            result = function(result, x)
        return result

    return merged


#: Keras class name -> factory of the node's function; merge layers take the list of inputs.
KERAS_LAYERS: dict[str, Factory] = {
    "BatchNormalization": _batch_norm,
    "Dense": _dense,
    "Activation": _activation_layer,
    "ReLU": _relu_layer,
    "LeakyReLU": _leaky_relu,
    "PReLU": _prelu,
    "ELU": _elu,
    "Softmax": _softmax,
    "MaxPooling1D": _pooling("max", 1),
    "MaxPooling2D": _pooling("max", 2),
    "AveragePooling1D": _pooling("avg", 1),
    "AveragePooling2D": _pooling("avg", 2),
    "GlobalAveragePooling1D": _global_pooling(np.mean),
    "GlobalAveragePooling2D": _global_pooling(np.mean),
    "GlobalMaxPooling1D": _global_pooling(np.max),
    "GlobalMaxPooling2D": _global_pooling(np.max),
    "ZeroPadding1D": _edges(1, "padding", _pad_axis),
    "ZeroPadding2D": _edges(2, "padding", _pad_axis),
    "Cropping1D": _edges(1, "cropping", _crop_axis),
    "Cropping2D": _edges(2, "cropping", _crop_axis),
    "UpSampling2D": _upsampling,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Permute": _permute,
    "Rescaling": _rescaling,
    "Normalization": _normalization,
    "Conv1DTranspose": _conv_transpose,
    "Conv2DTranspose": _conv_transpose,
    "Add": _merge(_reduce(np.add)),
    "Subtract": _merge(lambda xs: xs[0] - xs[1]),
    "Multiply": _merge(_reduce(np.multiply)),
    "Maximum": _merge(_reduce(np.maximum)),
    "Minimum": _merge(_reduce(np.minimum)),
    "Average": _merge(lambda xs: np.mean(np.stack(xs), axis=0).astype(xs[0].dtype)),
    "Concatenate": _concatenate,
    **{name: (lambda layer: lambda x: x) for name in _IDENTITY_CLASSES},
}
_MERGE_CLASSES = ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average", "Concatenate")

#: Every class name that runs, for error messages.
SUPPORTED = sorted(
    {
        *KERAS_LAYERS,
        *(c for c in CONV_CLASSES if "Transpose" not in c and "3D" not in c),
        "InputLayer",
        *_MODEL_CLASSES,
    }
)


#: The op names the fusion pass reads, where a Keras layer computes exactly that.
def _fusion_op(layer: _Layer) -> tuple[str, dict[str, Any]]:
    if layer.class_name == "BatchNormalization":
        return "batch_norm", layer.config.pop("_fold")
    spec = layer.config.get("activation") if layer.class_name == "Activation" else None
    if layer.class_name == "Activation" and spec in ("relu", "relu6"):
        return str(spec), {}
    if layer.class_name == "ReLU" and _relu_layer_is_plain(layer):
        return "relu" if layer.config.get("max_value") is None else "relu6", {}
    if layer.class_name == "LeakyReLU":
        return "leaky_relu", {"alpha": float(layer.get("negative_slope", layer.get("alpha", 0.3)))}
    if layer.class_name == "ZeroPadding2D":
        return "pad", {
            "pads": _pairs(layer.get("padding", 1), 2),
            "channel_axis": layer.channel_axis,
        }
    return "", {}


def _relu_layer_is_plain(layer: _Layer) -> bool:
    """relu or relu6: what the convolution kernels can apply in their store."""
    return (
        layer.config.get("max_value") in (None, 6, 6.0)
        and not layer.config.get("negative_slope")
        and not layer.config.get("threshold")
    )


# -- walking the config -----------------------------------------------------------------------
@dataclass
class _Builder:
    convs: dict[str, ConvLayer]
    weights: WeightLookup
    nodes: list[Node] = field(default_factory=list)
    inputs: list[GraphInput] = field(default_factory=list)
    layer_values: dict[str, str] = field(default_factory=dict)
    functions: dict[str, tuple[Any, str, dict[str, Any], str | None]] = field(default_factory=dict)

    def model(
        self,
        entry: dict[str, Any],
        path: tuple[str, ...],
        group: str,
        sources: list[str] | None,
        prefix: str,
    ) -> list[str]:
        """Add a (nested) model's nodes; the values of its outputs."""
        config = entry.get("config")
        if isinstance(config, list):  # Keras <= 2.1 wrote a Sequential config as its layer list
            return self._sequential(config, entry, path, group, sources, prefix)
        if not isinstance(config, dict):
            raise ValueError(f"model {_name(entry)!r} has no config")
        layers = config.get("layers", [])
        if entry.get("class_name") == "Sequential" or "input_layers" not in config:
            return self._sequential(layers, config, path, group, sources, prefix)
        return self._functional(config, path, group, sources, prefix)

    def _sequential(
        self,
        entries: list[Any],
        config: dict[str, Any],
        path: tuple[str, ...],
        group: str,
        sources: list[str] | None,
        prefix: str,
    ) -> list[str]:
        groups = _groups(entries, group)
        current: str | None = None if sources is None else sources[0]
        for entry, layer_group in zip(entries, groups):
            name = _name(entry)
            if entry.get("class_name") == "InputLayer":
                if current is None:
                    current = self._input(entry, prefix + name)
                self.layer_values.setdefault("/".join((*path, name)), current)
                continue
            if current is None:
                current = self._input_from_first_layer(entry, config, prefix)
            (current,) = self._call(entry, [current], path, layer_group, prefix + name)
        assert current is not None
        return [current]

    def _functional(
        self,
        config: dict[str, Any],
        path: tuple[str, ...],
        group: str,
        sources: list[str] | None,
        prefix: str,
    ) -> list[str]:
        entries = [e for e in config.get("layers", []) if isinstance(e, dict)]
        groups = dict(zip(map(_name, entries), _groups(entries, group)))
        tensors: dict[tuple[str, int, int], str] = {}
        input_refs = _refs(config.get("input_layers", []))
        for i, ref in enumerate(input_refs):
            entry = next((e for e in entries if _name(e) == ref[0]), None)
            if entry is None:
                raise ValueError(f"the input layer {ref[0]!r} is not one of the model's layers")
            value = sources[i] if sources is not None else self._input(entry, prefix + ref[0])
            tensors[ref] = value
            self.layer_values.setdefault("/".join((*path, ref[0])), value)
        pending = [
            (entry, k, node)
            for entry in entries
            if entry.get("class_name") != "InputLayer"
            for k, node in enumerate(entry.get("inbound_nodes") or [])
        ]
        while pending:
            progress = False
            for item in list(pending):
                entry, k, node = item
                refs = _inbound_refs(node)
                if not all(r in tensors for r in refs):
                    continue
                name = _name(entry)
                target = prefix + name + (f":{k}" if k else "")
                outputs = self._call(entry, [tensors[r] for r in refs], path, groups[name], target)
                for t, value in enumerate(outputs):
                    tensors[(name, k, t)] = value
                pending.remove(item)
                progress = True
            if not progress:
                name = _name(pending[0][0])
                raise ValueError(f"layer {name!r}: its inputs are computed by no layer")
        return [tensors[ref] for ref in _refs(config.get("output_layers", []))]

    def _call(
        self,
        entry: dict[str, Any],
        sources: list[str],
        path: tuple[str, ...],
        group: str,
        target: str,
    ) -> list[str]:
        """Add the node(s) of one call of a layer; the values it produces."""
        name, class_name = _name(entry), str(entry.get("class_name", ""))
        layer_path = "/".join((*path, name))
        if class_name in _MODEL_CLASSES or _is_model(entry):
            outputs = self.model(entry, (*path, name), group + "/", sources, target + "/")
            self.layer_values.setdefault(layer_path, outputs[0])
            return outputs
        if class_name in CONV_CLASSES and class_name not in KERAS_LAYERS:
            node = conv_node(layer_path, class_name, sources[0], target, self.convs[layer_path], {})
        else:
            node = self._node(entry, class_name, layer_path, group, sources, target)
        self.nodes.append(node)
        self.layer_values.setdefault(layer_path, target)
        return [target]

    def _node(
        self,
        entry: dict[str, Any],
        class_name: str,
        layer_path: str,
        group: str,
        sources: list[str],
        target: str,
    ) -> Node:
        if layer_path not in self.functions:
            self.functions[layer_path] = self._function(entry, class_name, layer_path, group)
        function, op, attrs, problem = self.functions[layer_path]
        if problem is not None:
            return Node(layer_path, class_name, tuple(sources), (target,), None, problem=problem)
        if isinstance(function, Dense):
            return dense_node(layer_path, class_name, sources[0], target, function)
        if class_name in _MERGE_CLASSES:
            return Node(
                layer_path,
                class_name,
                tuple(sources),
                (target,),
                lambda values, n_threads: [function(list(values))],
            )
        return unary_node(layer_path, class_name, sources[0], target, function, op, attrs)

    def _function(
        self, entry: dict[str, Any], class_name: str, layer_path: str, group: str
    ) -> tuple[Any, str, dict[str, Any], str | None]:
        factory = KERAS_LAYERS.get(class_name)
        if factory is None:
            return None, "", {}, f"the Keras layer kind {class_name} is not supported"
        config = dict(entry.get("config") or {})
        conv = self.convs.get(layer_path)
        layer = _Layer(
            _name(entry),
            layer_path,
            class_name,
            config,
            group,
            lambda: _conv_weights(conv) if conv else self.weights(layer_path, group, class_name),
        )
        try:
            function = factory(layer)
        except _Unsupported as exc:
            return None, "", {}, f"{class_name} with {exc} is not supported"
        op, attrs = _fusion_op(layer)
        return function, op, attrs, None

    def _input(self, entry: dict[str, Any], value: str) -> str:
        config = entry.get("config", {})
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        self.inputs.append(GraphInput(value, tuple(shape or (None,))))
        return value

    def _input_from_first_layer(
        self, entry: dict[str, Any], config: dict[str, Any], prefix: str
    ) -> str:
        """Keras 2 Sequential models without an InputLayer give the first layer the shape."""
        layer_config = entry.get("config", {})
        shape = layer_config.get("batch_input_shape") or config.get("build_input_shape")
        build = entry.get("build_config", {}).get("input_shape")
        shape = shape or build
        value = prefix + "input"
        self.inputs.append(GraphInput(value, tuple(shape or (None,))))
        return value


def _conv_weights(layer: ConvLayer) -> list[Array]:
    """The weights of a conv layer the reader has read already, in Keras' order."""
    return [a for a in (layer.weight, layer.pointwise, layer.bias) if a is not None]


def _name(entry: dict[str, Any]) -> str:
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return str(name or entry.get("name") or snake_case(str(entry.get("class_name", ""))))


def _is_model(entry: dict[str, Any]) -> bool:
    config = entry.get("config")
    return isinstance(config, dict) and isinstance(config.get("layers"), list)


def _groups(entries: list[Any], group: str) -> list[str]:
    """Each layer's Keras 3 weight group: its class in snake_case, numbered per container."""
    seen: dict[str, int] = {}
    groups = []
    for entry in entries:
        base = snake_case(str(entry.get("class_name", ""))) if isinstance(entry, dict) else ""
        count = seen.get(base, -1) + 1
        seen[base] = count
        groups.append(f"{group}layers/{base}" + (f"_{count}" if count else ""))
    return groups


def _refs(value: Any) -> list[tuple[str, int, int]]:
    """input_layers / output_layers: [name, node, tensor] or a list of them."""
    if not value:
        return []
    if isinstance(value[0], str):
        value = [value]
    return [(str(v[0]), int(v[1]), int(v[2])) for v in value]


def _inbound_refs(node: Any) -> list[tuple[str, int, int]]:
    """The (layer, node, tensor) references one inbound node reads, in argument order."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        found: list[tuple[str, int, int]] = []
        _collect_tensors(node.get("args", []), found)
        return found
    return [(str(r[0]), int(r[1]), int(r[2])) for r in node]  # Keras 2


def _collect_tensors(value: Any, found: list[tuple[str, int, int]]) -> None:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            found.append((str(history[0]), int(history[1]), int(history[2])))
    elif isinstance(value, list):
        for item in value:
            _collect_tensors(item, found)


def build_graph(
    model_config: dict[str, Any], convs: Sequence[ConvLayer], weights: WeightLookup
) -> Graph:
    """The graph of a Keras model config whose conv layers are ``convs`` (each with its nested
    path in ``extra["path"]``); ValueError where the config does not describe a graph."""
    by_path = {str(layer.extra.get("path", layer.name)): layer for layer in convs}
    builder = _Builder(by_path, weights)
    outputs = builder.model(model_config, (), "", None, "")
    layout = "NCHW" if any(c.data_format == "NCHW" for c in convs[:1]) else "NHWC"
    return Graph(
        builder.nodes,
        builder.inputs,
        outputs,
        layout=layout,
        layer_values=builder.layer_values,
        supported=SUPPORTED,
    )


def keras_model(
    layers: list[ConvLayer],
    model_config: Any,
    weights: WeightLookup | None,
    *,
    format: str,
    path: pathlib.Path,
    version: str | None,
) -> ConvModel:
    """The model of a Keras file: its conv layers and, where the file has a model config
    (``weights`` given), the network's graph, or why it has none (the conv layers stay usable:
    their filters can be drawn even where the network cannot run)."""
    graph: Graph | None = None
    problem: str | None = "the file holds weights only"
    if weights is not None and isinstance(model_config, dict):
        try:
            graph, problem = build_graph(model_config, layers, weights), None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            problem = f"its model config does not describe a network kernelkit can build ({exc})"
    return ConvModel(
        layers,
        format=format,
        path=path,
        framework_version=version,
        graph=graph,
        graph_problem=problem,
    )
