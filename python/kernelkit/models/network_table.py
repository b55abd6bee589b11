"""The table of every layer of a runnable model, as ``kernelkit layers`` prints it, and the
layer names that ``--layer N`` indexes."""

from __future__ import annotations

import numpy as np

from ._layer import ConvLayer, ConvModel, cell_text
from .graph import shape_text

__all__ = ["layer_names", "network_summary", "resolve_layer"]

#: What the letters of a stored kernel layout mean, for the note under the table.
_LAYOUT_WORDS = {
    "HWIO": "HWIO = height, width, in, out (Keras)",
    "OIHW": "OIHW = out, in, height, width (PyTorch, ONNX)",
    "HWCM": "HWCM = height, width, channels, depth multiplier (Keras depthwise)",
    "IOHW": "IOHW = in, out, height, width (transposed, ONNX)",
    "HWOI": "HWOI = height, width, out, in (transposed, Keras)",
}


def layer_names(model: ConvModel) -> list[str]:
    """The layers ``kernelkit layers`` lists, in order: every layer of a runnable model, the
    conv layers of a weights-only file."""
    if model.graph is None:
        return list(model.names)
    return list(model.graph.layer_values)


def resolve_layer(model: ConvModel, layer: str | None) -> str | None:
    """A ``--layer`` value as a layer name: a name, or an index into :func:`layer_names`."""
    if layer is None:
        return None
    names = layer_names(model)
    if layer in names or layer in model.names:
        return layer
    try:
        index = int(layer)
    except ValueError:
        raise ValueError(
            f"layer: no layer named {layer!r}; the layers are: {', '.join(names)}"
        ) from None
    if not -len(names) <= index < len(names):
        raise ValueError(f"layer: index {index} is out of range for {len(names)} layers")
    return names[index]


def _output_shapes(model: ConvModel) -> dict[str, tuple[int, ...]]:
    """Each layer's output shape for one sample, from a run on zeros (empty where the input's
    size is not recorded)."""
    assert model.graph is not None
    shape = model.input_shape or ()
    if len(shape) < 2 or any(s is None for s in shape[1:]):
        return {}
    x = np.zeros((1, *(int(s) for s in shape[1:] if s is not None)), np.float32)
    return {name: a.shape[1:] for name, a in model.activations(x).items()}


def _kernel(layer: ConvLayer | None) -> str:
    if layer is None:
        return ""
    text = "x".join(map(str, layer.weight.shape)) + f" {layer.weight_layout}"
    if layer.pointwise is not None:  # a separable layer's two halves
        text += " + " + "x".join(map(str, layer.pointwise.shape)) + " HWIO"
    return text


def network_summary(model: ConvModel) -> str:
    """Every layer of a runnable model: index, name, kind, output shape (one sample), the
    kernel as stored (both halves of a separable layer), stride, padding, activation and
    parameters of its convolutions."""
    graph = model.graph
    if graph is None:
        raise ValueError(f"{model.path or 'the model'}: {model.graph_problem}")
    shapes = _output_shapes(model)
    rows = [("#", "name", "kind", "output", "kernel", "stride", "padding", "activation", "params")]
    for index, name in enumerate(graph.layer_values):
        node = graph.node_of(name)
        conv: ConvLayer | None = None if node is None else node.conv
        kind = "Input" if node is None else node.kind
        output = "x".join(map(str, shapes[name])) if name in shapes else "-"
        rows.append(
            (
                str(index),
                name,
                kind,
                output,
                _kernel(conv),
                "" if conv is None else cell_text(conv.stride),
                "" if conv is None else cell_text(conv.padding),
                "" if conv is None else str(conv.activation),
                "" if conv is None else f"{conv.parameter_count:,}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    version = f" {model.framework_version}" if model.framework_version else ""
    total = sum(layer.parameter_count for layer in model.layers)
    input_shape = shape_text(graph.inputs[0].shape)
    title = (
        f"{model.path or '<model>'}: {model.format}{version}, {len(rows) - 1} layers, input "
        f"{input_shape} {graph.layout}, {total:,} parameters in {len(model)} conv layers"
    )
    layouts = sorted({layer.weight_layout for layer in model.layers})
    note = "output: one sample's shape, " + (
        "channels last" if graph.layout == "NHWC" else "channels first"
    )
    if layouts:
        note += "; kernel: as the file stores it, " + "; ".join(_LAYOUT_WORDS[w] for w in layouts)
    return "\n".join([title, *lines, note])
