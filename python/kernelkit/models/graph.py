"""The network a model file records, as a graph kernelkit can run: :class:`Graph` and its
:class:`Node` objects, built by the Keras (keras_graph.py) and ONNX (onnx_graph.py) readers.

A node computes named values from named values with a function of NumPy arrays (convolutions
through prepared :class:`kernelkit.Conv2d` objects, everything else in models/ops.py). Running
the graph computes only the nodes that the requested values depend on, in topological order,
and frees each intermediate value once no remaining node needs it. Before running, a plan
folds BatchNormalization into the convolution before it and fuses activations into the
convolution's store where that is exact and the convolution's own output is not requested
(models/fusion.py); plans are cached per set of requested values, so that the packed weights
of a model are reused by every later run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Graph", "GraphInput", "Node", "UnsupportedLayerError"]

Array = NDArray[Any]
#: compute(inputs, n_threads) -> outputs, one array per name in Node.outputs
Compute = Callable[[Sequence[Array], "int | None"], Sequence[Array]]


class UnsupportedLayerError(ValueError):
    """A layer kind or op that kernelkit cannot run; the message names it, the layer and what
    does run, and ``run(x, until=...)`` still works for the layers before it."""


@dataclass(eq=False)
class Node:
    """One layer (Keras) or node (ONNX) of a graph.

    ``compute`` is None for a layer kernelkit cannot run; ``problem`` then says why. ``conv``
    is the :class:`~kernelkit.models.ConvLayer` a convolution node runs (fusion replaces it by
    one with folded weights); ``op`` is kernelkit's name of what the node computes ("conv",
    "batch_norm", "relu", ...), which the fusion pass reads, and ``attrs`` its settings.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    compute: Compute | None
    op: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    conv: Any = None

    def run(self, values: Sequence[Array], n_threads: int | None) -> Sequence[Array]:
        if self.compute is None:
            raise UnsupportedLayerError(f"layer {self.name!r} ({self.kind}): {self.problem}")
        results = self.compute(values, n_threads)
        if len(results) != len(self.outputs):
            raise RuntimeError(f"layer {self.name!r} gave {len(results)} outputs")
        return results


@dataclass(frozen=True)
class GraphInput:
    """An input of the graph: its value name and shape (None for a free axis, e.g. the batch)."""

    name: str
    shape: tuple[int | None, ...]


class Graph:
    """A runnable network: nodes in topological order, the graph's inputs and outputs, and the
    layer names users ask for (``layer_values``: name -> the value name of its output).

    ``layout`` is the data format of its 4-D activations ("NHWC" for Keras' channels_last,
    "NCHW" for ONNX); ``supported`` lists the kinds its builder runs, for error messages.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        inputs: Sequence[GraphInput],
        outputs: Sequence[str],
        *,
        layout: str,
        layer_values: dict[str, str],
        supported: Iterable[str],
        constants: dict[str, Array] | None = None,
        rewrite: Callable[[list[Node], frozenset[str]], list[Node]] | None = None,
    ) -> None:
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.layout = layout
        self.layer_values = dict(layer_values)
        self.supported = sorted(set(supported))
        self.constants = dict(constants or {})
        #: a last pass over each plan (ONNX: running the convolutions channels-last)
        self.rewrite = rewrite
        self.nodes = _topological(nodes, {i.name for i in self.inputs} | set(self.constants))
        self._producer = {out: node for node in self.nodes for out in node.outputs}
        self._plans: dict[frozenset[str], _Plan] = {}

    # -- names ------------------------------------------------------------------------------
    def value_of(self, layer: str) -> str:
        """The value name of a layer's output; a value name is accepted as itself."""
        if layer in self.layer_values:
            return self.layer_values[layer]
        if layer in self._producer or layer in {i.name for i in self.inputs}:
            return layer
        raise KeyError(f"no layer named {layer!r}; the layers are: {', '.join(self.layer_values)}")

    def node_of(self, layer: str) -> Node | None:
        """The node that computes a layer's output (None for a graph input)."""
        return self._producer.get(self.value_of(layer))

    # -- running ----------------------------------------------------------------------------
    def run(
        self, feeds: dict[str, Array], targets: Sequence[str], n_threads: int | None = None
    ) -> dict[str, Array]:
        """The values ``targets`` (value names) computed from ``feeds`` (input name -> array)."""
        plan = self._plan(frozenset(targets))
        missing = [i.name for i in plan.inputs if i.name not in feeds]
        if missing:
            raise ValueError(f"x: no value given for the graph input(s) {', '.join(missing)}")
        remaining = dict(plan.readers)
        values: dict[str, Array] = {**self.constants, **feeds}
        for node in plan.nodes:
            results = node.run([values[name] for name in node.inputs], n_threads)
            values.update(zip(node.outputs, results))
            for name in node.inputs:
                remaining[name] -= 1
                if remaining[name] == 0 and name not in self.constants:
                    del values[name]
        return {name: values[name] for name in targets}

    def steps(self, targets: Iterable[str] | None = None) -> list[Node]:
        """The nodes a run that computes ``targets`` (value names; default: the outputs) runs,
        in order, after fusion and the builder's rewrite: what kernelkit actually executes."""
        return list(self._plan(frozenset(self.outputs if targets is None else targets)).nodes)

    def _needs(self, targets: Iterable[str]) -> set[str]:
        """Every value the targets depend on, the targets included."""
        needed: set[str] = set()
        stack = list(targets)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            needed.add(name)
            node = self._producer.get(name)
            if node is not None:
                stack.extend(node.inputs)
        return needed

    def _plan(self, targets: frozenset[str]) -> _Plan:
        plan = self._plans.get(targets)
        if plan is None:
            from .fusion import fuse

            needed = self._needs(targets)
            nodes = [n for n in self.nodes if any(out in needed for out in n.outputs)]
            self._check_runnable(nodes)
            steps = fuse(nodes, keep=targets)
            if self.rewrite is not None:
                steps = self.rewrite(steps, targets)
            inputs = [i for i in self.inputs if i.name in needed]
            plan = _Plan(steps, inputs, _consumer_counts(steps, targets))
            self._plans[targets] = plan
        return plan

    def _check_runnable(self, nodes: Sequence[Node]) -> None:
        blocked = next((n for n in nodes if n.compute is None), None)
        if blocked is None:
            return
        before = [
            name
            for name, value in self.layer_values.items()
            if blocked.name not in self._layer_ancestors(value)
        ]
        runnable = f"; run(x, until=...) works for layers before it ({', '.join(before[-3:])})"
        raise UnsupportedLayerError(
            f"layer {blocked.name!r} ({blocked.kind}) cannot run: {blocked.problem}. kernelkit "
            f"runs these kinds: {', '.join(self.supported)}" + (runnable if before else "")
        )

    def _layer_ancestors(self, value: str) -> set[str]:
        """Names of the nodes a value depends on."""
        return {self._producer[v].name for v in self._needs([value]) if v in self._producer}


@dataclass(frozen=True)
class _Plan:
    """What one set of requested values needs: the nodes to run (fused, in order), the graph
    inputs they read, and how many nodes read each value (the requested ones once more, so
    that they are never freed)."""

    nodes: list[Node]
    inputs: list[GraphInput]
    readers: dict[str, int]


def _topological(nodes: Sequence[Node], available: set[str]) -> list[Node]:
    """The nodes in an order where each comes after the producers of its inputs (the given order
    where it already is one); ValueError for a cycle or a value nothing produces."""
    produced = set(available)
    pending = list(nodes)
    ordered: list[Node] = []
    while pending:
        ready = [n for n in pending if all(v in produced or v == "" for v in n.inputs)]
        if not ready:
            node = pending[0]
            lacking = [v for v in node.inputs if v not in produced]
            raise ValueError(
                f"layer {node.name!r} needs {', '.join(lacking)}, which no layer computes"
            )
        for node in ready:
            produced.update(node.outputs)
        ready_ids = {id(n) for n in ready}
        ordered.extend(ready)
        pending = [n for n in pending if id(n) not in ready_ids]
    return ordered


def _consumer_counts(plan: Sequence[Node], keep: Iterable[str]) -> dict[str, int]:
    """How many nodes of the plan read each value; the kept values get one more read, so that
    they are never freed."""
    counts: dict[str, int] = {}
    for node in plan:
        for name in node.inputs:
            counts[name] = counts.get(name, 0) + 1
    for name in keep:
        counts[name] = counts.get(name, 0) + 1
    return counts


def as_batch(
    x: Any, input_shape: tuple[int | None, ...], dtype: Any, channel_axis: int
) -> tuple[Array, bool]:
    """``x`` as a float array with the batch axis, and whether the caller gave one image
    without it (then the results lose the batch axis again). The channel count is checked, the
    other axes are left to the layers (a fully convolutional network takes any size)."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"x: expected a real array, got dtype {array.dtype}")
    single = array.ndim == len(input_shape) - 1
    if single:
        array = array[None]
    if array.ndim != len(input_shape):
        raise ValueError(
            f"x: the model expects arrays of shape {shape_text(input_shape)} "
            f"(or one without the batch axis), got {np.shape(x)}"
        )
    channels = input_shape[channel_axis]
    if channels is not None and array.shape[channel_axis] != channels:
        raise ValueError(
            f"x: the model expects arrays of shape {shape_text(input_shape)}, got {np.shape(x)}"
        )
    return np.ascontiguousarray(array, dtype=dtype), single


def shape_text(shape: tuple[int | None, ...]) -> str:
    """A shape with its free axes as N: (N, 48, 48, 1)."""
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
