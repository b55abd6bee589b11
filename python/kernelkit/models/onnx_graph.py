"""The main graph of an ONNX model as a runnable :class:`~kernelkit.models.graph.Graph`.

Every op of :data:`ONNX_OPS` runs with the ONNX specification's semantics, in NCHW, including
the shape arithmetic that exporters emit (Shape, Gather, Slice, Concat, Cast, ... computed on
the run's real shapes). Conv nodes run the :class:`~kernelkit.models.ConvLayer` objects the
reader made of them; constants are the initializers and Constant nodes' values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import ops
from ._layer import ConvLayer
from .graph import Array, Graph, GraphInput, Node
from .nodes import Dense, conv_node, dense_node

if TYPE_CHECKING:
    from onnx import GraphProto, NodeProto

__all__ = ["ONNX_OPS", "build_graph"]

Function = Callable[[Sequence[Any]], Sequence[Any]]
Attrs = dict[str, Any]


class _Unsupported(Exception):
    """A setting of a supported op that kernelkit does not run."""


def _one(function: Callable[..., Any]) -> Callable[[Attrs], Function]:
    """An op of its inputs (None for an omitted optional one) with one output."""

    def factory(attrs: Attrs) -> Function:
        return lambda xs: [function(attrs, *xs)]

    return factory


def _elementwise(function: Callable[..., Any]) -> Callable[[Attrs], Function]:
    return _one(lambda attrs, *xs: _keep_float(function(*xs), xs))


def _keep_float(result: Any, inputs: Sequence[Any]) -> Any:
    """NumPy promotes float32 with a float64 scalar constant no further, but a 0-d float64
    array would: keep the first float input's dtype, as ONNX (which has no promotion) does."""
    floats = [x.dtype for x in inputs if isinstance(x, np.ndarray) and x.dtype.kind == "f"]
    result = np.asarray(result)
    return result.astype(floats[0]) if floats and result.dtype.kind == "f" else result


def _divide(a: Array, b: Array) -> Array:
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.trunc(a / b).astype(a.dtype)  # ONNX integer division truncates
    return a / b


def _clip(attrs: Attrs, x: Array, low: Array | None = None, high: Array | None = None) -> Array:
    low = attrs.get("min", low)
    high = attrs.get("max", high)
    y = x
    if low is not None:
        y = np.maximum(y, np.asarray(low, x.dtype))
    if high is not None:
        y = np.minimum(y, np.asarray(high, x.dtype))
    return y


def _softmax(log: bool) -> Callable[..., Array]:
    def softmax(attrs: Attrs, x: Array) -> Array:
        axis = attrs.get("axis", -1 if attrs["_opset"] >= 13 else 1)
        if attrs["_opset"] < 13:  # softmax over the flattened axes from ``axis`` on
            flat = x.reshape(int(np.prod(x.shape[:axis])), -1)
            return _softmax_of(flat, -1, log).reshape(x.shape)
        return _softmax_of(x, axis, log)

    return softmax


def _softmax_of(x: Array, axis: int, log: bool) -> Array:
    y = ops.softmax(x, axis)
    return np.log(y) if log else y


def _gemm(attrs: Attrs, a: Array, b: Array, c: Array | None = None) -> Array:
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    y = a @ b.astype(a.dtype, copy=False)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha != 1.0:
        y *= alpha
    if c is not None:
        y += c if beta == 1.0 else beta * c
    return np.asarray(y, dtype=a.dtype)


def _batch_norm(
    attrs: Attrs, x: Array, scale: Array, bias: Array, mean: Array, variance: Array
) -> Array:
    s, shift = ops.batch_norm_scale_shift(scale, bias, mean, variance, attrs.get("epsilon", 1e-5))
    return ops.batch_norm(x, s, shift, _channel_axis(attrs))


def _channel_axis(attrs: Attrs) -> int:
    """1, or -1 where the layout pass runs the node on channels-last values."""
    return -1 if attrs.get("_channels_last") else 1


def _pool_pads(
    attrs: Attrs, x: Array, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> list[tuple[int, int]]:
    auto_pad = _text(attrs.get("auto_pad", "NOTSET"))
    spatial = x.shape[1:-1] if attrs.get("_channels_last") else x.shape[2:]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = [
            ops.same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilations)
        ]
        return pads if auto_pad == "SAME_UPPER" else [(b, a) for a, b in pads]
    if auto_pad == "VALID":
        return [(0, 0)] * len(spatial)
    flat = list(attrs.get("pads", [0] * 2 * len(spatial)))
    dims = len(spatial)
    return [(flat[i], flat[i + dims]) for i in range(dims)]


def _pool(kind: str) -> Callable[..., Array]:
    def pool(attrs: Attrs, x: Array) -> Array:
        kernel = list(attrs["kernel_shape"])
        dims = len(kernel)
        strides = list(attrs.get("strides", [1] * dims))
        dilations = list(attrs.get("dilations", [1] * dims))
        pads = _pool_pads(attrs, x, kernel, strides, dilations)
        return ops.pool(
            x,
            kind,
            kernel,
            strides,
            pads,
            _channel_axis(attrs),
            dilations=dilations,
            count_padding=bool(attrs.get("count_include_pad", 0)),
            ceil_mode=bool(attrs.get("ceil_mode", 0)),
        )

    return pool


def _global_pool(reduce: Callable[..., Array]) -> Callable[..., Array]:
    def pool(attrs: Attrs, x: Array) -> Array:
        axes = ops.spatial_axes(x.ndim, _channel_axis(attrs))
        return np.asarray(reduce(x, axis=axes, keepdims=True), dtype=x.dtype)

    return pool


def _pad(
    attrs: Attrs,
    x: Array,
    pads: Array | None = None,
    value: Array | None = None,
    axes: Array | None = None,
) -> Array:
    flat = [int(p) for p in (attrs["pads"] if pads is None else pads)]
    chosen = list(range(x.ndim)) if axes is None else [int(a) % x.ndim for a in axes]
    n = len(chosen)
    width = [(0, 0)] * x.ndim
    for i, axis in enumerate(chosen):
        width[axis] = (flat[i], flat[i + n])
    if any(b < 0 or a < 0 for b, a in width):
        raise _Unsupported("negative pads")
    mode = _text(attrs.get("mode", "constant"))
    if mode == "constant":
        fill = attrs.get("value", 0.0) if value is None else np.asarray(value).item()
        return ops.pad_constant(x, width, fill)
    if mode not in ("reflect", "edge"):
        raise _Unsupported(f"Pad mode {mode!r}")
    return np.asarray(np.pad(x, width, mode=mode))  # type: ignore[call-overload]


def _reshape(attrs: Attrs, x: Array, shape: Array) -> Array:
    target = [int(s) for s in shape]
    if not attrs.get("allowzero", 0):
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(target)


def _flatten(attrs: Attrs, x: Array) -> Array:
    axis = (
        attrs.get("axis", 1) % max(x.ndim, 1) if attrs.get("axis", 1) < 0 else attrs.get("axis", 1)
    )
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _transpose(attrs: Attrs, x: Array) -> Array:
    perm = attrs.get("perm")
    return np.ascontiguousarray(np.transpose(x, None if perm is None else list(perm)))


def _axes(attrs: Attrs, axes: Array | None) -> list[int] | None:
    values = attrs.get("axes") if axes is None else axes
    return None if values is None else [int(a) for a in values]


def _squeeze(attrs: Attrs, x: Array, axes: Array | None = None) -> Array:
    chosen = _axes(attrs, axes)
    return np.squeeze(x, axis=None if chosen is None else tuple(chosen))


def _unsqueeze(attrs: Attrs, x: Array, axes: Array | None = None) -> Array:
    chosen = _axes(attrs, axes)
    assert chosen is not None
    rank = x.ndim + len(chosen)
    result = x
    for axis in sorted(a % rank for a in chosen):
        result = np.expand_dims(result, axis)
    return result


def _concat(attrs: Attrs, *xs: Array) -> Array:
    axis = attrs["axis"]
    if attrs.get("_channels_last"):  # only the channel axis of 4-D values (see _to_channels_last)
        axis = -1
    return np.concatenate([x for x in xs if x is not None], axis=axis)


def _shape(attrs: Attrs, x: Array) -> Array:
    start, end = attrs.get("start", 0), attrs.get("end")
    return np.asarray(x.shape[start:end], np.int64)


def _gather(attrs: Attrs, x: Array, indices: Array) -> Array:
    axis = attrs.get("axis", 0)
    index = np.asarray(indices, np.int64)
    index = np.where(index < 0, index + x.shape[axis], index)
    return np.take(x, index, axis=axis)


def _slice(
    attrs: Attrs,
    x: Array,
    starts: Array | None = None,
    ends: Array | None = None,
    axes: Array | None = None,
    steps: Array | None = None,
) -> Array:
    first = [int(v) for v in (attrs["starts"] if starts is None else starts)]
    last = [int(v) for v in (attrs["ends"] if ends is None else ends)]
    chosen = _axes(attrs, axes) or list(range(len(first)))
    step_of = [1] * len(first) if steps is None else [int(v) for v in steps]
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(chosen, first, last, step_of):
        size = x.shape[axis]
        index[axis] = slice(*_clamped(int(start), int(end), int(step), size))
    return x[tuple(index)]


def _clamped(start: int, end: int, step: int, size: int) -> tuple[int | None, int | None, int]:
    """ONNX Slice's clamping of huge and negative bounds, as a Python slice."""

    def clamp(v: int, low: int, high: int) -> int:
        v = v + size if v < 0 else v
        return min(max(v, low), high)

    if step > 0:
        return clamp(start, 0, size), clamp(end, 0, size), step
    start_c = clamp(start, 0, size - 1)
    end_c = clamp(end, -1, size - 1)
    return start_c, (None if end_c < 0 else end_c), step


def _cast(attrs: Attrs, x: Array) -> Array:
    from onnx import helper

    return np.asarray(x).astype(helper.tensor_dtype_to_np_dtype(attrs["to"]))


def _constant_of_shape(attrs: Attrs, shape: Array) -> Array:
    value = attrs.get("value")
    fill = np.zeros(1, np.float32) if value is None else value
    return np.full([int(s) for s in shape], fill.reshape(-1)[0], dtype=fill.dtype)


def _range(attrs: Attrs, start: Array, limit: Array, delta: Array) -> Array:
    return np.arange(start.item(), limit.item(), delta.item(), dtype=np.asarray(start).dtype)


def _expand(attrs: Attrs, x: Array, shape: Array) -> Array:
    target = np.broadcast_shapes(x.shape, tuple(int(s) for s in shape))
    return np.broadcast_to(x, target).copy()


def _reduce(function: Callable[..., Array]) -> Callable[..., Array]:
    def reduce(attrs: Attrs, x: Array, axes: Array | None = None) -> Array:
        chosen = _axes(attrs, axes)
        keep = bool(attrs.get("keepdims", 1))
        if not chosen and attrs.get("noop_with_empty_axes", 0):
            return x
        axis = None if not chosen else tuple(chosen)
        return np.asarray(function(x, axis=axis, keepdims=keep), dtype=x.dtype)

    return reduce


def _resize(
    attrs: Attrs,
    x: Array,
    roi: Array | None = None,
    scales: Array | None = None,
    sizes: Array | None = None,
) -> Array:
    mode = _text(attrs.get("mode", "nearest"))
    if mode not in ("nearest", "linear"):
        raise _Unsupported(f"Resize mode {mode!r}")
    shape = _nchw_shape(attrs, x.shape)
    if sizes is not None and np.size(sizes):
        target = [int(s) for s in sizes]
    elif scales is not None and np.size(scales):
        target = [int(np.floor(n * float(s))) for n, s in zip(shape, scales)]
    else:
        raise _Unsupported("Resize without scales or sizes")
    if attrs.get("_channels_last"):  # sizes and scales are given per NCHW axis
        target = [target[0], *target[2:], target[1]]
    coordinates = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
    if coordinates == "tf_crop_and_resize":
        raise _Unsupported("coordinate_transformation_mode 'tf_crop_and_resize'")
    axes = [a for a in range(x.ndim) if target[a] != x.shape[a]]
    return ops.resize(
        x,
        [target[a] for a in axes],
        axes,
        mode,
        coordinates,
        _text(attrs.get("nearest_mode", "round_prefer_floor")),
    )


def _nchw_shape(attrs: Attrs, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a value as the ONNX graph sees it (NCHW) when the layout pass holds it
    channels-last."""
    return (shape[0], shape[-1], *shape[1:-1]) if attrs.get("_channels_last") else shape


def _conv_transpose(attrs: Attrs, x: Array, weight: Array, bias: Array | None = None) -> Array:
    dims = weight.ndim - 2
    kernel = weight.shape[2:]
    strides = list(attrs.get("strides", [1] * dims))
    dilations = list(attrs.get("dilations", [1] * dims))
    extra = list(attrs.get("output_padding", [0] * dims))
    spatial = _nchw_shape(attrs, x.shape)[2:]
    full = [
        (n - 1) * s + (k - 1) * d + 1 for n, s, k, d in zip(spatial, strides, kernel, dilations)
    ]
    auto_pad = _text(attrs.get("auto_pad", "NOTSET"))
    wanted = attrs.get("output_shape")
    if wanted is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        shape = (
            list(wanted)[-dims:]
            if wanted is not None
            else [n * s for n, s in zip(spatial, strides)]
        )
        totals = [f + e - o for f, e, o in zip(full, extra, shape)]
        lower = auto_pad == "SAME_LOWER"
        pads = [(t - t // 2, t // 2) if lower else (t // 2, t - t // 2) for t in totals]
    else:
        flat = list(attrs.get("pads", [0] * 2 * dims))
        pads = [(flat[i], flat[i + dims]) for i in range(dims)]
    crops = [(b, a - e) for (b, a), e in zip(pads, extra)]
    group = attrs.get("group", 1)
    return ops.conv_transpose(
        x, weight, bias, strides, dilations, crops, group, _channel_axis(attrs)
    )


def _dropout(attrs: Attrs, x: Array, *rest: Any) -> list[Array]:
    return [x, np.ones(x.shape, bool)]


def _hard_swish(attrs: Attrs, x: Array) -> Array:
    return x * ops.hard_sigmoid(x, 1 / 6, 0.5)


def _activation(function: Callable[..., Array]) -> Callable[..., Array]:
    return lambda attrs, x: np.asarray(function(x), dtype=x.dtype)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_ONE_OUTPUT: dict[str, Callable[..., Any]] = {
    "Relu": _activation(ops.relu),
    "LeakyRelu": lambda attrs, x: ops.relu(x, slope=attrs.get("alpha", 0.01)),
    "PRelu": lambda attrs, x, slope: np.where(x >= 0, x, slope.astype(x.dtype) * x),
    "Clip": _clip,
    "Sigmoid": _activation(ops.ACTIVATIONS["sigmoid"]),
    "HardSigmoid": lambda attrs, x: ops.hard_sigmoid(
        x, attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    ),
    "HardSwish": _hard_swish,
    "Tanh": _activation(np.tanh),
    "Elu": lambda attrs, x: ops.elu(x, attrs.get("alpha", 1.0)),
    "Selu": _activation(ops.selu),
    "Softplus": _activation(ops.ACTIVATIONS["softplus"]),
    "Exp": _activation(np.exp),
    "Log": _activation(np.log),
    "Sqrt": _activation(np.sqrt),
    "Neg": lambda attrs, x: -x,
    "Abs": lambda attrs, x: np.abs(x),
    "Reciprocal": _activation(np.reciprocal),
    "Softmax": _softmax(log=False),
    "LogSoftmax": _softmax(log=True),
    "BatchNormalization": _batch_norm,
    "MaxPool": _pool("max"),
    "AveragePool": _pool("avg"),
    "GlobalAveragePool": _global_pool(np.mean),
    "GlobalMaxPool": _global_pool(np.max),
    "Pad": _pad,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Gemm": _gemm,
    "MatMul": lambda attrs, a, b: _keep_float(np.matmul(a, b), (a, b)),
    "Resize": _resize,
    "Identity": lambda attrs, x: x,
    "Shape": _shape,
    "Size": lambda attrs, x: np.asarray(x.size, np.int64),
    "Gather": _gather,
    "Slice": _slice,
    "Cast": _cast,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": _expand,
    "ReduceMean": _reduce(np.mean),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
    "ReduceSum": _reduce(np.sum),
    "ConvTranspose": _conv_transpose,
    "Add": lambda attrs, a, b: _keep_float(a + b, (a, b)),
    "Sub": lambda attrs, a, b: _keep_float(a - b, (a, b)),
    "Mul": lambda attrs, a, b: _keep_float(a * b, (a, b)),
    "Div": lambda attrs, a, b: _keep_float(_divide(a, b), (a, b)),
    "Pow": lambda attrs, a, b: _keep_float(np.power(a, b), (a, b)),
    "Max": lambda attrs, *xs: _keep_float(np.maximum.reduce(np.broadcast_arrays(*xs)), xs),
    "Min": lambda attrs, *xs: _keep_float(np.minimum.reduce(np.broadcast_arrays(*xs)), xs),
    "Sum": lambda attrs, *xs: _keep_float(sum(xs), xs),
    "Mean": lambda attrs, *xs: _keep_float(sum(xs) / len(xs), xs),
    "Equal": lambda attrs, a, b: np.equal(a, b),
    "Less": lambda attrs, a, b: np.less(a, b),
    "Greater": lambda attrs, a, b: np.greater(a, b),
    "Not": lambda attrs, x: np.logical_not(x),
    "Where": lambda attrs, c, a, b: _keep_float(np.where(c, a, b), (a, b)),
}

#: Every op type that runs (Conv and Constant are handled by the builder itself).
ONNX_OPS = sorted({*_ONE_OUTPUT, "Conv", "Constant", "Dropout"})

#: ONNX ops whose kernelkit name the fusion pass reads.
_FUSION_OPS = {"Relu": "relu", "LeakyRelu": "leaky_relu"}


def _attributes(node: NodeProto, opset: int) -> Attrs:
    from onnx import helper, numpy_helper

    attrs: Attrs = {"_opset": opset}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if attribute.type == attribute.TENSOR:
            value = numpy_helper.to_array(value)
        attrs[attribute.name] = value
    return attrs


def _node_name(node: NodeProto, index: int) -> str:
    return _text(node.name) or _text(next(iter(node.output), "")) or f"{node.op_type}_{index}"


def build_graph(
    graph: GraphProto, opset: int, convs: Sequence[ConvLayer], constants: dict[str, Array]
) -> Graph:
    """The runnable graph of an ONNX main graph whose Conv nodes the reader made ``convs``
    (in node order) and whose constant values (initializers, Constant outputs) are given."""
    conv_of = iter([c for c in convs if c.extra.get("op_type") == "Conv"])
    nodes: list[Node] = []
    layer_values: dict[str, str] = {}
    for index, proto in enumerate(graph.node):
        if proto.op_type == "Constant" and proto.domain in ("", "ai.onnx"):
            continue  # its value is one of ``constants``
        node = _node(proto, index, opset, conv_of, constants)
        nodes.append(node)
        layer_values.setdefault(node.name, node.outputs[0])
    initializers = {t.name for t in graph.initializer}
    inputs = [
        GraphInput(value.name, _shape_of(value))
        for value in graph.input
        if value.name not in initializers
    ]
    return Graph(
        nodes,
        inputs,
        [value.name for value in graph.output],
        layout="NCHW",
        layer_values=layer_values,
        supported=ONNX_OPS,
        constants=constants,
        rewrite=lambda plan, keep: to_channels_last(plan, keep, constants),
    )


def _node(
    proto: NodeProto, index: int, opset: int, convs: Any, constants: dict[str, Array]
) -> Node:
    name = _node_name(proto, index)
    given = [_text(i) for i in proto.input]
    inputs = tuple(i for i in given if i)  # an empty name is an omitted optional input
    outputs = tuple(_text(o) for o in proto.output)
    if proto.domain not in ("", "ai.onnx"):
        return Node(
            name,
            proto.op_type,
            inputs,
            outputs,
            None,
            problem=f"ops of the domain {proto.domain!r} are not supported",
        )
    if proto.op_type == "Conv":
        layer = next(convs)
        return conv_node(name, "Conv", inputs[0], outputs[0], layer, {})
    attrs = _attributes(proto, opset)
    if proto.op_type == "Dropout":
        count = len(outputs)
        return Node(
            name, "Dropout", inputs, outputs, lambda values, n: _dropout(attrs, *values)[:count]
        )
    dense = _constant_dense(proto.op_type, attrs, given, constants)
    if dense is not None:
        return dense_node(name, proto.op_type, inputs[0], outputs[0], dense)
    op = _ONE_OUTPUT.get(proto.op_type)
    if op is None:
        return Node(
            name,
            proto.op_type,
            inputs,
            outputs,
            None,
            problem=f"the ONNX op {proto.op_type} is not supported",
        )
    op_name, fusion_attrs = _fusion(proto.op_type, attrs, given, constants)
    return _op_node(name, proto.op_type, given, outputs, attrs, op_name, fusion_attrs)


def _op_node(
    name: str,
    op_type: str,
    given: Sequence[str],
    outputs: tuple[str, ...],
    attrs: Attrs,
    op_name: str = "",
    fusion_attrs: dict[str, Any] | None = None,
) -> Node:
    """The node of an op of :data:`_ONE_OUTPUT`; ``given`` are its input names, "" for an
    omitted optional one. Its attrs keep what the layout pass needs to rebuild it."""
    op = _ONE_OUTPUT[op_type]
    present = [i != "" for i in given]

    def compute(values: Sequence[Array], n_threads: int | None) -> list[Array]:
        supplied = iter(values)
        arguments = [next(supplied) if p else None for p in present]
        try:
            return [op(attrs, *arguments)]
        except _Unsupported as exc:
            raise _unsupported_error(name, op_type, str(exc)) from None

    node_attrs = {**(fusion_attrs or {}), "onnx": (attrs, tuple(given))}
    inputs = tuple(i for i in given if i)
    return Node(name, op_type, inputs, outputs, compute, op=op_name, attrs=node_attrs)


def _constant_dense(
    op_type: str, attrs: Attrs, inputs: Sequence[str], constants: dict[str, Array]
) -> Dense | None:
    """A Gemm or MatMul whose weight (and Gemm's bias) are constants, as the dense layer it is
    (run by kernelkit's kernels; see nodes.dense_node); None for any other."""
    if op_type not in ("Gemm", "MatMul") or len(inputs) < 2 or inputs[1] not in constants:
        return None
    weight = constants[inputs[1]]
    if weight.ndim != 2 or weight.dtype.kind != "f":
        return None
    if op_type == "MatMul":
        return Dense(weight)
    if attrs.get("transA", 0):
        return None
    kernel = weight.T if attrs.get("transB", 0) else weight
    kernel = kernel * attrs.get("alpha", 1.0)
    bias = None
    if len(inputs) > 2 and inputs[2]:
        c = constants.get(inputs[2])
        if c is None or c.size not in (1, kernel.shape[1]) or c.ndim > 2:
            return None
        bias = np.broadcast_to(c.reshape(-1) * attrs.get("beta", 1.0), kernel.shape[1])
    return Dense(
        np.ascontiguousarray(kernel, dtype=weight.dtype),
        None if bias is None else bias.astype(weight.dtype),
    )


def _unsupported_error(name: str, op_type: str, problem: str) -> Exception:
    from .graph import UnsupportedLayerError

    return UnsupportedLayerError(f"layer {name!r} ({op_type}): {problem} is not supported")


def _fusion(
    op_type: str, attrs: Attrs, inputs: Sequence[str], constants: dict[str, Array]
) -> tuple[str, dict[str, Any]]:
    if op_type in _FUSION_OPS:
        return _FUSION_OPS[op_type], {"alpha": attrs.get("alpha", 0.01)}
    if op_type == "BatchNormalization" and all(i in constants for i in inputs[1:5]):
        gamma, beta, mean, variance = (constants[i] for i in inputs[1:5])
        scale, shift = ops.batch_norm_scale_shift(
            gamma, beta, mean, variance, attrs.get("epsilon", 1e-5)
        )
        return "batch_norm", {"scale": scale, "shift": shift, "channel_axis": 1}
    if op_type == "Pad":
        return _zero_spatial_pad(attrs, inputs, constants)
    if op_type == "Clip" and _clip_bounds(attrs, inputs, constants) == (0.0, 6.0):
        return "relu6", {}
    return "", {}


def _clip_bounds(
    attrs: Attrs, inputs: Sequence[str], constants: dict[str, Array]
) -> tuple[float | None, float | None]:
    """A Clip's (min, max) where both are constants (attributes before opset 11)."""
    given = [*inputs, "", ""]
    bounds = []
    for name, key in ((given[1], "min"), (given[2], "max")):
        value = attrs.get(key) if name == "" else constants.get(name)
        bounds.append(None if value is None else float(np.asarray(value).reshape(-1)[0]))
    return bounds[0], bounds[1]


def _zero_spatial_pad(
    attrs: Attrs, inputs: Sequence[str], constants: dict[str, Array]
) -> tuple[str, dict[str, Any]]:
    """A Pad of a 4-D tensor's height and width with zeros, which a convolution after it can
    take over; ("", {}) for any other Pad."""
    given = list(inputs) + [""] * 4
    pads = attrs.get("pads") if given[1] == "" else constants.get(given[1])
    value = 0.0 if given[2] == "" else constants.get(given[2], np.ones(1))
    constant = _text(attrs.get("mode", "constant")) == "constant"
    if pads is None or len(pads) != 8 or given[3] != "" or not constant:
        return "", {}
    flat = [int(p) for p in pads]
    if any(flat[i] for i in (0, 1, 4, 5)) or min(flat) < 0 or np.any(np.asarray(value) != 0):
        return "", {}
    return "pad", {"pads": [(flat[2], flat[6]), (flat[3], flat[7])], "channel_axis": 1}


def _shape_of(value: Any) -> tuple[int | None, ...]:
    dims = value.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)


# -- running ONNX's NCHW networks channels-last ----------------------------------------------------
_UNARY = frozenset(
    {
        "Relu",
        "LeakyRelu",
        "Sigmoid",
        "Tanh",
        "HardSigmoid",
        "HardSwish",
        "Elu",
        "Selu",
        "Softplus",
        "Exp",
        "Log",
        "Sqrt",
        "Neg",
        "Abs",
        "Reciprocal",
        "Identity",
        "Clip",
    }
)
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean"})
_CHANNEL_OPS = frozenset(
    {
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "BatchNormalization",
        "Concat",
        "ConvTranspose",
        "Resize",
    }
)
#: The channel ops whose other inputs are weights or sizes, not values to broadcast.
_WEIGHTED_OPS = frozenset({"BatchNormalization", "ConvTranspose", "Resize"})
_TWIN = "@nhwc"


def _transposer(source: str, target: str, axes: tuple[int, ...]) -> Node:
    def compute(values: Sequence[Array], n_threads: int | None) -> list[Array]:
        return [np.ascontiguousarray(values[0].transpose(axes))]

    return Node(f"{target} (layout)", "Transpose", (source,), (target,), compute)


def to_channels_last(
    plan: Sequence[Node], keep: frozenset[str], constants: dict[str, Array]
) -> list[Node]:
    """The plan with its convolutions run on channels-last (NHWC) values, which kernelkit's
    convolution kernels read and write without transposing, and the steps between them that
    do not care (elementwise ops, pooling, BatchNormalization, Concat of channels) on those
    values too. A value's NCHW form is made (one transpose) only where a step that needs it, a
    requested value or the network's output reads it; the values requested keep their names
    and NCHW layout."""
    if not any(n.op == "conv" and n.conv.weight.ndim == 4 for n in plan):
        return list(plan)
    out: list[Node] = []
    channels_last: set[str] = set()  # values whose NHWC twin exists
    channels_first: set[str] = set()  # channels-last values whose NCHW form exists too

    def twin_of(name: str) -> str:
        if name not in channels_last:  # an NCHW input of a convolution
            out.append(_transposer(name, name + _TWIN, (0, 2, 3, 1)))
            channels_last.add(name)
            channels_first.add(name)
        return name + _TWIN

    def nchw(name: str) -> str:
        if name in channels_last and name not in channels_first:
            out.append(_transposer(name + _TWIN, name, (0, 3, 1, 2)))
            channels_first.add(name)
        return name

    for node in plan:
        twins = _as_channels_last(node, channels_last, constants, twin_of)
        if twins is None:
            out.append(_replace_io(node, tuple(nchw(i) for i in node.inputs), node.outputs))
            continue
        out.append(twins)
        channels_last.update(o.removesuffix(_TWIN) for o in twins.outputs)
    for name in keep:
        nchw(name)
    return out


def _replace_io(node: Node, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Node:
    if inputs == node.inputs and outputs == node.outputs:
        return node
    return dataclasses.replace(node, inputs=inputs, outputs=outputs)


def _as_channels_last(
    node: Node, available: set[str], constants: dict[str, Array], twin_of: Callable[[str], str]
) -> Node | None:
    """The node on channels-last values, or None where it needs NCHW ones."""
    outputs = tuple(o + _TWIN for o in node.outputs)
    if node.op == "conv":
        if node.conv.weight.ndim != 4:
            return None
        layer = dataclasses.replace(node.conv, data_format="NHWC")
        return conv_node(
            node.name, node.kind, twin_of(node.inputs[0]), outputs[0], layer, node.attrs
        )
    if "onnx" not in node.attrs or len(node.outputs) != 1:
        return None
    attrs, given = node.attrs["onnx"]
    data = [i for i in given if i and i not in constants]
    if not data or not all(i in available for i in data):
        return None
    small_constants = all(constants[i].size == 1 for i in given if i in constants)
    if node.kind in _UNARY or node.kind in _BINARY:
        if not small_constants:
            return None
        return _replace_io(
            node, tuple(twin_of(i) if i in available else i for i in node.inputs), outputs
        )
    if node.kind not in _CHANNEL_OPS or (
        node.kind == "Concat" and attrs.get("axis") not in (1, -3)
    ):
        return None
    if node.kind not in _WEIGHTED_OPS and not small_constants:
        return None
    if node.kind in _WEIGHTED_OPS and len(data) != 1:
        return None
    renamed = [twin_of(i) if i in available else i for i in given]
    return _op_node(
        node.name,
        node.kind,
        renamed,
        outputs,
        {**attrs, "_channels_last": True},
        node.op,
        {k: v for k, v in node.attrs.items() if k != "onnx"}
        | ({"channel_axis": -1} if node.op == "batch_norm" else {}),
    )
