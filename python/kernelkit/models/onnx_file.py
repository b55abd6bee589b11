"""Reader for ONNX models (``.onnx``), with the optional ``onnx`` package
(``pip install "kernelkit[onnx]"``).

The layers are the main graph's Conv nodes in graph order (nodes inside If/Loop bodies are not
read), with their configuration:

* ``strides``, ``dilations``, ``group`` and ``kernel_shape`` (checked against the weight);
* ``pads`` [top, left, bottom, right] as ``((top, bottom), (left, right))``, as ``(ph, pw)`` when
  top = bottom and left = right, and as an int when all four are equal;
* ``auto_pad``: VALID is ``"valid"``, SAME_UPPER ``"same"`` (TensorFlow's rule: an odd total
  padding puts the extra row/column at the bottom/right) and SAME_LOWER ``"same_lower"`` (the
  extra one at the top/left), padding forms that :func:`kernelkit.conv2d` resolves from the
  input's size.

Weights come from initializers or from Constant nodes, also through Identity nodes, and where
the model keeps them as external data from files in the model's directory only; a Conv whose
weight is computed at run time raises WeightFileError. Conv has no activation attribute, and a
Relu node after it is a node of its own, so ``activation`` is None and ``layer(x)`` is the Conv
node's output. 1-D and 3-D Conv nodes are listed as ``conv1d``/``conv3d`` (their ``padding`` is
one of the strings above, an int when all sides are equal, else the (begin, end) pair of each
axis),
ConvTranspose nodes as ``conv2d_transpose`` (IOHW weights) and so on; these do not run. A layer's
name is its node's name, or its output's name for an unnamed node; ``framework_version`` is the
producer's name and version (e.g. "pytorch 2.13.0").
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from ..conv import Padding
from ._layer import ConvLayer, ConvModel, WeightFileError
from .graph import Graph
from .onnx_graph import build_graph

if TYPE_CHECKING:
    from onnx import GraphProto, NodeProto, TensorProto

__all__ = ["read"]

_CONV_OPS = ("Conv", "ConvTranspose")
_FLOAT_TYPES = (np.float16, np.float32, np.float64)
_AUTO_PAD = {"VALID": "valid", "SAME_UPPER": "same", "SAME_LOWER": "same_lower"}


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            'reading ONNX files needs the onnx package: pip install "kernelkit[onnx]"'
        ) from exc


def read(path: pathlib.Path, format: str = "onnx") -> ConvModel:
    """The Conv (and ConvTranspose) layers of the ONNX model ``path``.

    Examples
    --------
    >>> import pathlib, tempfile, numpy as np
    >>> from onnx import TensorProto, helper, numpy_helper
    >>> weight = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    >>> conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", strides=[2, 2],
    ...                         pads=[1, 1, 1, 1])
    >>> graph = helper.make_graph(
    ...     [conv], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])], [weight])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.onnx"
    >>> _ = path.write_bytes(helper.make_model(graph).SerializeToString())
    >>> layer = read(path)["conv"]
    >>> layer.stride, layer.padding, layer(np.ones((1, 1, 5, 5), np.float32)).shape
    ((2, 2), 1, (1, 2, 3, 3))
    """
    _require_onnx()
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)  # see _inline_external_data
    except Exception as exc:  # protobuf and onnx raise many types for damaged files
        raise WeightFileError(
            path, f"not a valid ONNX model ({type(exc).__name__}: {exc})"
        ) from None
    if not model.HasField("graph") or not model.opset_import:
        raise WeightFileError(path, "not an ONNX model, or a truncated one (no graph or opset)")
    constants = _constant_tensors(model.graph)
    layers = [
        _layer(node, index, constants, path)
        for index, node in enumerate(model.graph.node)
        if node.op_type in _CONV_OPS and node.domain in ("", "ai.onnx")
    ]
    producer = " ".join(filter(None, map(_text, (model.producer_name, model.producer_version))))
    graph, problem = _graph_or_problem(model, layers, constants, path)
    return ConvModel(
        layers,
        format=format,
        path=path,
        framework_version=producer or None,
        graph=graph,
        graph_problem=problem,
    )


def _graph_or_problem(
    model: Any, layers: list[ConvLayer], constants: dict[str, TensorProto], path: pathlib.Path
) -> tuple[Graph | None, str | None]:
    """The runnable graph, or None and why there is none (the conv layers stay usable)."""
    from onnx import TensorProto, numpy_helper

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    try:
        values = {}
        for name, tensor in constants.items():
            if tensor.data_location == TensorProto.EXTERNAL:
                _inline_external_data(tensor, f"constant {name!r}", path)
            values[name] = numpy_helper.to_array(tensor)
        return build_graph(model.graph, opset, layers, values), None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return None, f"its graph cannot be built ({exc})"


def _constant_tensors(graph: GraphProto) -> dict[str, TensorProto]:
    """The TensorProto behind each value name that holds a constant: initializers, Constant
    node outputs and Identity node outputs of those (graphs are topologically sorted)."""
    tensors = {tensor.name: tensor for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and len(node.output) == 1:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                tensors[node.output[0]] = value
        elif node.op_type == "Identity" and len(node.input) == len(node.output) == 1:
            source = tensors.get(node.input[0])
            if source is not None:
                tensors[node.output[0]] = source
    return tensors


def _array(
    name: str, role: str, node_name: str, constants: dict[str, TensorProto], path: pathlib.Path
) -> NDArray[Any]:
    """The values of constant ``name`` (the node's ``role`` input) as a float array."""
    from onnx import TensorProto, numpy_helper

    if name not in constants:
        raise WeightFileError(
            path,
            f"{role} {name!r} of node {node_name!r} is computed at run time, not stored as an "
            "initializer or Constant node",
        )
    tensor = constants[name]
    where = f"{role} {name!r} of node {node_name!r}"
    if tensor.data_location == TensorProto.EXTERNAL:
        _inline_external_data(tensor, where, path)
    try:
        values = numpy_helper.to_array(tensor)
    except Exception as exc:  # a damaged TensorProto can fail in many ways
        raise WeightFileError(path, f"{where}: {exc}") from None
    if values.dtype.kind in "biu":
        raise WeightFileError(path, f"{role} {name!r} of node {node_name!r} holds integers")
    return values if values.dtype in _FLOAT_TYPES else values.astype(np.float32)


def _inline_external_data(tensor: TensorProto, where: str, path: pathlib.Path) -> None:
    """Move the bytes of a tensor stored in a file of its own (ONNX's external data) into it.

    The file must lie in the model's directory, symlinks resolved, and be a regular file that
    holds the offset and length given: onnx's own loader followed symlinks out of the directory
    before version 1.21, and a hostile model could name any file, or /dev/zero.
    """
    from onnx import TensorProto

    info = {entry.key: entry.value for entry in tensor.external_data}
    location = pathlib.PurePath(_text(info.get("location", "")))
    directory = path.parent.resolve()
    target = (directory / location).resolve()
    if location.is_absolute() or not target.is_relative_to(directory) or not target.is_file():
        raise WeightFileError(
            path, f"{where} is stored in {str(location)!r}, which is not a file beside the model"
        )
    size = target.stat().st_size
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError:
        offset = length = -1
    if min(offset, length) < 0 or offset + length > size:
        raise WeightFileError(
            path,
            f"{where}: offset {info.get('offset')} and length {info.get('length')} do not "
            f"lie inside the {size}-byte {str(location)!r}",
        )
    with open(target, "rb") as f:
        f.seek(offset)
        tensor.raw_data = f.read(length)
    tensor.data_location = TensorProto.DEFAULT
    del tensor.external_data[:]


def _text(value: str | bytes) -> str:
    """A string field of the model: protobuf gives the bytes of one that is not valid UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _layer(
    node: NodeProto, index: int, constants: dict[str, TensorProto], path: pathlib.Path
) -> ConvLayer:
    from onnx import helper

    name = _text(node.name) or _text(next(iter(node.output), "")) or f"{node.op_type}_{index}"
    if len(node.input) < 2:
        raise WeightFileError(path, f"node {name!r} ({node.op_type}) has no weight input")
    weight = _array(node.input[1], "weight", name, constants, path)
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = _array(node.input[2], "bias", name, constants, path)
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    config = _Config.of(attributes, weight, name, path)
    transposed = node.op_type == "ConvTranspose"
    dims = weight.ndim - 2
    kind = f"conv{dims}d" + ("_transpose" if transposed else "")
    if kind == "conv2d" and config.group > 1 and weight.shape[1] == 1:
        kind = "depthwise"
    return ConvLayer(
        name,
        kind,
        weight,
        "IOHW" if transposed else "OIHW",
        bias=bias,
        stride=config.strides,
        padding=config.padding,
        dilation=config.dilations,
        groups=config.group,
        data_format="NCHW",
        extra={"op_type": node.op_type},
    )


@dataclasses.dataclass(frozen=True)
class _Config:
    """A Conv node's attributes, validated against its weight."""

    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    group: int
    padding: Padding

    @classmethod
    def of(
        cls, attributes: dict[str, Any], weight: NDArray[Any], node: str, path: pathlib.Path
    ) -> _Config:
        dims = weight.ndim - 2
        if dims < 1:
            raise WeightFileError(path, f"node {node!r} has a {weight.ndim}-D weight")

        def ints(name: str, default: list[int], length: int) -> tuple[int, ...]:
            value = attributes.get(name, default)
            if not (
                isinstance(value, list)
                and len(value) == length
                and all(isinstance(v, int) and v >= 0 for v in value)
            ):
                raise WeightFileError(
                    path, f"node {node!r}: {name} {value!r} for a {dims}-D convolution"
                )
            return tuple(value)

        kernel = ints("kernel_shape", list(weight.shape[2:]), dims)
        if kernel != weight.shape[2:]:
            raise WeightFileError(
                path, f"node {node!r}: kernel_shape {list(kernel)} but weight {weight.shape}"
            )
        strides, dilations = ints("strides", [1] * dims, dims), ints("dilations", [1] * dims, dims)
        if min(strides + dilations) < 1:
            raise WeightFileError(path, f"node {node!r}: strides and dilations must be >= 1")
        group = attributes.get("group", 1)
        if not (isinstance(group, int) and group >= 1):
            raise WeightFileError(path, f"node {node!r}: group {group!r}")
        pads = ints("pads", [0] * 2 * dims, 2 * dims)
        auto_pad = attributes.get("auto_pad", b"NOTSET")
        padding = _padding(auto_pad, pads, node, path)
        return cls(strides, dilations, group, padding)


def _padding(auto_pad: Any, pads: tuple[int, ...], node: str, path: pathlib.Path) -> Padding:
    """The padding as the module doc describes it."""
    mode = _text(auto_pad)
    if mode in _AUTO_PAD:
        return _AUTO_PAD[mode]
    if mode != "NOTSET":
        raise WeightFileError(path, f"node {node!r}: unknown auto_pad {mode!r}")
    dims = len(pads) // 2
    pairs = tuple((pads[i], pads[i + dims]) for i in range(dims))
    if len(set(pads)) == 1:
        return pads[0]
    if dims == 2:
        (top, bottom), (left, right) = pairs
        return (top, left) if (top, left) == (bottom, right) else ((top, bottom), (left, right))
    return cast(Padding, pairs)  # not a conv2d padding: 1-D and 3-D layers do not run
