"""The model objects every reader returns: :class:`ConvModel`, :class:`ConvLayer`, and the
error a malformed file raises, :class:`WeightFileError`.

A layer keeps its weights exactly as the file stores them (``weight`` + ``weight_layout``) and
converts on request (:meth:`ConvLayer.oihw`, :meth:`ConvLayer.hwio`), so that what users see is
what the framework wrote.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import one_of
from ..conv import Conv2d, Padding
from . import ops
from .graph import Graph, as_batch

__all__ = ["ConvLayer", "ConvModel", "WeightFileError"]

FusedActivation = Optional[Literal["relu", "leaky_relu", "relu6"]]

PathLike = Union[str, "os.PathLike[str]"]

#: Layer kinds that ``ConvLayer.__call__`` can run with kernelkit.conv2d.
RUNNABLE_KINDS = ("conv2d", "depthwise", "separable")

#: Stored weight layouts: PyTorch/ONNX OIHW, Keras HWIO, Keras' depthwise kernel
#: (kh, kw, in_channels, depth_multiplier), here "HWCM", and the transposed-convolution kernels
#: of PyTorch/ONNX (in_channels, out_channels/groups, kh, kw), "IOHW", and of Keras
#: (kh, kw, out_channels, in_channels), "HWOI". For 1-D and 3-D kernels the letters H, W stand
#: for all the spatial axes, e.g. a Conv1D kernel (k, in, out) is "HWIO".
WEIGHT_LAYOUTS = ("OIHW", "HWIO", "HWCM", "IOHW", "HWOI")

#: The layouts whose spatial axes come last.
CHANNELS_FIRST_LAYOUTS = ("OIHW", "IOHW")

#: The layouts of transposed-convolution kernels.
TRANSPOSED_LAYOUTS = ("IOHW", "HWOI")


class WeightFileError(ValueError):
    """A model or weight file that cannot be read: truncated, wrong format, inconsistent.

    The message names the file and what is wrong with it; ``path`` and ``problem`` hold the two.

    Examples
    --------
    >>> import os, tempfile, kernelkit
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.pt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("not a model")
    >>> try:
    ...     kernelkit.load_model(path)
    ... except kernelkit.WeightFileError as error:
    ...     print(isinstance(error, ValueError), error.path == path, error.problem[:14])
    True True unknown format
    """

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


#: The activations conv2d cannot fuse, applied with NumPy (models/ops.py) after the convolution.
_NUMPY_ACTIVATIONS = ("sigmoid", "tanh", "elu", "softplus", "swish", "silu")


def _numpy_activation(name: str, alpha: float) -> Callable[[NDArray[Any]], NDArray[Any]]:
    """The activation ``name`` (``alpha`` the elu's) as a NumPy function; ValueError if conv
    layers do not run it."""
    if name not in _NUMPY_ACTIVATIONS:
        supported = ", ".join(
            sorted([*_NUMPY_ACTIVATIONS, "relu", "leaky_relu", "relu6", "linear"])
        )
        raise ValueError(f"activation {name!r} cannot be run by kernelkit (supported: {supported})")
    return ops.activation_function(name, alpha)


@dataclass(eq=False)
class ConvLayer:
    """One convolution-like layer of a model file: its weights and, where known, its configuration.

    ``weight`` is the array as the file stores it, laid out as ``weight_layout`` says ("OIHW" for
    PyTorch/ONNX, "HWIO" for Keras, "HWCM" for Keras' depthwise kernels). ``stride``, ``padding``,
    ``dilation`` and ``groups`` are in the forms :func:`kernelkit.conv2d` accepts. Where the file
    stores weights only (``config_known`` is False, e.g. a PyTorch state dict) they are defaults
    (stride 1, padding 0, no activation) that may differ from the model's.

    Calling the layer runs it with :func:`kernelkit.conv2d`: convolution, bias and the layer's own
    activation, in the framework's data format unless ``layout=`` says otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.models import ConvLayer
    >>> w = np.zeros((3, 3, 1, 2), np.float32)   # Keras HWIO: 2 filters over 1 channel
    >>> layer = ConvLayer("conv1", "conv2d", w, "HWIO", bias=np.ones(2, np.float32),
    ...                   activation="relu", data_format="NHWC")
    >>> layer(np.ones((1, 5, 5, 1), np.float32)).shape
    (1, 3, 3, 2)
    >>> layer.oihw().shape
    (2, 1, 3, 3)
    """

    name: str
    kind: str
    weight: NDArray[Any]
    weight_layout: str
    bias: NDArray[Any] | None = None
    stride: tuple[int, ...] = (1, 1)
    padding: Padding = 0
    dilation: tuple[int, ...] = (1, 1)
    groups: int = 1
    activation: str | None = None
    data_format: str = "NCHW"
    config_known: bool = True
    #: SeparableConv2D only: the 1x1 pointwise kernel that follows the depthwise one (HWIO).
    pointwise: NDArray[Any] | None = None
    #: Slope of "leaky_relu" or the alpha of "elu", where the layer has one.
    alpha: float = 0.01
    #: Anything else the file records about the layer (e.g. the Keras class name).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        one_of(self.weight_layout, WEIGHT_LAYOUTS, "weight_layout")
        if self.data_format not in ("NCHW", "NHWC"):
            raise ValueError(f"data_format: expected 'NCHW' or 'NHWC', got {self.data_format!r}")
        if self.activation in ("linear", "identity", "none"):
            self.activation = None
        if self.weight_layout == "HWCM":
            self.groups = int(self.weight.shape[-2])

    # -- weights in the layouts conv2d takes -------------------------------------------------
    def _check_runnable(self, what: str) -> None:
        transposed = self.weight_layout in TRANSPOSED_LAYOUTS
        if self.kind not in RUNNABLE_KINDS or self.weight.ndim != 4 or transposed:
            raise ValueError(
                f"layer {self.name!r} is a {self.kind} layer with a {self.weight.ndim}-D "
                f"{self.weight_layout} kernel; {what} needs one of {RUNNABLE_KINDS} with a 4-D "
                "kernel that is not a transposed convolution's"
            )

    def hwio(self) -> NDArray[Any]:
        """The (depthwise part of the) kernel as conv2d's groups-aware HWIO: (KH, KW, C/groups, O).

        For a depthwise kernel (KH, KW, C, M) that is (KH, KW, 1, C·M), output channel c·M + m,
        the order Keras and PyTorch use.
        """
        self._check_runnable("hwio()")
        if self.weight_layout == "HWIO":
            return self.weight
        if self.weight_layout == "OIHW":
            return np.ascontiguousarray(self.weight.transpose(2, 3, 1, 0))
        kh, kw, c, m = self.weight.shape
        return self.weight.reshape(kh, kw, 1, c * m)

    def oihw(self) -> NDArray[Any]:
        """The (depthwise part of the) kernel as groups-aware OIHW: (O, C/groups, KH, KW)."""
        self._check_runnable("oihw()")
        if self.weight_layout == "OIHW":
            return self.weight
        return np.ascontiguousarray(self.hwio().transpose(3, 2, 0, 1))

    @property
    def in_channels(self) -> int:
        """Input channels the layer expects."""
        shape, layout = self.weight.shape, self.weight_layout
        if layout == "HWCM":
            return int(shape[-2])
        if layout in TRANSPOSED_LAYOUTS:
            return int(shape[0] if layout == "IOHW" else shape[-1])
        per_group = shape[1] if layout == "OIHW" else shape[-2]
        return int(per_group) * self.groups

    @property
    def out_channels(self) -> int:
        """Output channels (filters) the layer produces."""
        if self.pointwise is not None:
            return int(self.pointwise.shape[-1])
        shape, layout = self.weight.shape, self.weight_layout
        if layout == "HWCM":
            return int(shape[-2] * shape[-1])
        if layout in TRANSPOSED_LAYOUTS:
            return int(shape[1] if layout == "IOHW" else shape[-2]) * self.groups
        return int(shape[0] if layout == "OIHW" else shape[-1])

    @property
    def kernel_size(self) -> tuple[int, ...]:
        """Spatial size of the kernel, e.g. (3, 3)."""
        first = self.weight_layout in CHANNELS_FIRST_LAYOUTS
        spatial = self.weight.shape[2:] if first else self.weight.shape[:-2]
        return tuple(int(s) for s in spatial)

    @property
    def parameter_count(self) -> int:
        """Number of weights, bias and pointwise kernel included."""
        arrays = (self.weight, self.bias, self.pointwise)
        return sum(int(a.size) for a in arrays if a is not None)

    # -- running the layer ---------------------------------------------------------------------
    def __call__(
        self, x: ArrayLike, layout: str | None = None, *, n_threads: int | None = None
    ) -> NDArray[Any]:
        """Run the layer on ``x`` (N, C, H, W) / (N, H, W, C), or one image without the batch axis.

        ``layout`` defaults to the layer's ``data_format`` (NHWC for Keras, NCHW for PyTorch/ONNX).
        """
        self._check_runnable("running the layer")
        layout = self.data_format if layout is None else layout
        if layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout: expected 'NCHW' or 'NHWC', got {layout!r}")
        convs = self._prepared(layout)
        y = x
        for conv in convs:
            y = conv(y, n_threads=n_threads)
        _, after = self._activations()
        y = np.asarray(y)
        return y if after is None else after(y).astype(y.dtype, copy=False)

    def _prepared(self, layout: str) -> tuple[Conv2d, ...]:
        """The layer's prepared convolutions in ``layout`` (the depthwise and the pointwise one of a
        separable layer), built on first use, so that running a model never repacks weights.
        They copy the weights: assign new arrays (not in-place edits) to change a layer."""
        key = (layout, id(self.weight), id(self.bias), id(self.pointwise), self.activation)
        cached = self.__dict__.get("_conv_cache")
        if cached is not None and cached[0] == key:
            return cached[1]  # type: ignore[no-any-return]
        fused, _ = self._activations()
        prepare = functools.partial(
            Conv2d,
            layout=cast(Literal["NCHW", "NHWC"], layout),
            weight_layout="HWIO",
            alpha=self.alpha,
        )
        # _check_runnable made sure that the layer is 2-D
        stride, dilation = cast(tuple[int, int], self.stride), cast(tuple[int, int], self.dilation)
        spatial = (stride, self.padding, dilation, self.groups)
        if self.pointwise is None:
            convs: tuple[Conv2d, ...] = (
                prepare(self.hwio(), self.bias, *spatial, activation=fused),
            )
        else:  # separable: the bias and activation follow the pointwise 1x1 convolution
            convs = (
                prepare(self.hwio(), None, *spatial),
                prepare(self.pointwise, self.bias, activation=fused),
            )
        self.__dict__["_conv_cache"] = (key, convs)
        return convs

    def _activations(
        self,
    ) -> tuple[FusedActivation, Callable[[NDArray[Any]], NDArray[Any]] | None]:
        """The layer's activation as (what conv2d fuses, what NumPy applies after it)."""
        if self.activation is None:
            return None, None
        if self.activation in ("relu", "leaky_relu", "relu6"):
            return cast(FusedActivation, self.activation), None
        return None, _numpy_activation(self.activation, self.alpha)

    def __repr__(self) -> str:
        kernel = "x".join(map(str, self.kernel_size))
        config = "" if self.config_known else ", config unknown"
        return (
            f"ConvLayer({self.name!r}, {self.kind}, {self.in_channels}->{self.out_channels}, "
            f"kernel {kernel}, stride {self.stride}, padding {self.padding!r}, "
            f"dilation {self.dilation}, groups {self.groups}, activation {self.activation}, "
            f"{self.weight_layout}{config})"
        )


class ConvModel(Sequence[ConvLayer]):
    """The convolution-like layers of one model file, in the model's own order.

    Index by position or by layer name; ``format`` says which reader produced it ("keras3",
    "keras-legacy-h5", "npz", "torch", "safetensors", "onnx", ...) and ``framework_version`` the
    version the file records, if any.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.models import ConvLayer, ConvModel
    >>> conv = ConvLayer("conv1", "conv2d", np.zeros((8, 3, 3, 3), np.float32), "OIHW")
    >>> model = ConvModel([conv], format="npz")
    >>> model, len(model), model["conv1"] is model[0]
    (ConvModel('npz', 1 layer: conv1), 1, True)
    >>> print(model.summary())
    <model>: npz, 1 conv layer, 216 parameters
    name   kind    kernel   stride  padding  dilation  groups  activation  params  config
    conv1  conv2d  8x3x3x3  1       0        1         1       None        216     known
    """

    def __init__(
        self,
        layers: Sequence[ConvLayer],
        *,
        format: str,
        path: PathLike | None = None,
        framework_version: str | None = None,
        graph: Graph | None = None,
        graph_problem: str | None = None,
    ) -> None:
        self.layers: list[ConvLayer] = list(layers)
        self.format = format
        self.path = None if path is None else os.fspath(path)
        self.framework_version = framework_version
        #: the network the file records, or None (see ``graph_problem`` for why)
        self.graph = graph
        self.graph_problem = graph_problem or (
            None if graph is not None else "the file holds weights only"
        )

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[ConvLayer]:
        return iter(self.layers)

    @overload
    def __getitem__(self, key: int | str) -> ConvLayer: ...

    @overload
    def __getitem__(self, key: slice) -> list[ConvLayer]: ...

    def __getitem__(self, key: int | str | slice) -> ConvLayer | list[ConvLayer]:
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(f"no layer named {key!r}; the layers are: {', '.join(self.names)}")
        return self.layers[key]

    @property
    def names(self) -> list[str]:
        """The layer names, in order."""
        return [layer.name for layer in self.layers]

    # -- running the network ----------------------------------------------------------------
    @property
    def runnable(self) -> bool:
        """Whether the file records the network, so that :meth:`run` computes real activations
        of every layer (False for weights-only files: only the first layer runs on an image)."""
        return self.graph is not None

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """The shape of the network's (first) input, None for a free axis (the batch); None
        where the file records no network."""
        return None if self.graph is None else self.graph.inputs[0].shape

    def run(
        self, x: ArrayLike, *, until: str | None = None, n_threads: int | None = None
    ) -> NDArray[Any]:
        """The network's output on ``x``, or the output of layer ``until``.

        ``x`` is a batch shaped as :attr:`input_shape` says (NHWC for Keras' channels_last,
        NCHW for ONNX), or one sample without the batch axis (the result then has none
        either). It runs in float64 where ``x`` or the weights are float64, else in float32.
        For weights-only files (no graph) only the first conv layer runs, on ``x`` as its
        input.

        Examples
        --------
        >>> import kernelkit
        >>> model = kernelkit.load_model(kernelkit.models.demo_model_path())
        >>> digits = kernelkit.models.demo_digits()
        >>> model.run(digits.images[:2, :, :, None]).shape   # NHWC; class probabilities
        (2, 10)
        >>> model.run(digits.images[0, :, :, None], until="conv2").shape
        (4, 4, 32)
        """
        if self.graph is None:
            return self._run_first_layer(x, until, n_threads)
        graph = self.graph
        target = graph.value_of(until) if until is not None else graph.outputs[0]
        feeds, single = self._feeds(x)
        result = graph.run(feeds, [target], n_threads)[target]
        return result[0] if single else result

    def activations(
        self,
        x: ArrayLike,
        layers: Sequence[str] | None = None,
        *,
        n_threads: int | None = None,
    ) -> dict[str, NDArray[Any]]:
        """The outputs of several layers (default: every layer) on ``x``, computed in one pass
        through the network: a dict layer name -> array. See :meth:`run` for ``x``.

        Examples
        --------
        >>> import kernelkit
        >>> model = kernelkit.load_model(kernelkit.models.demo_model_path())
        >>> image = kernelkit.models.demo_digits().images[0, :, :, None]
        >>> maps = model.activations(image, ["conv1", "conv2"])
        >>> {name: a.shape for name, a in maps.items()}
        {'conv1': (6, 6, 16), 'conv2': (4, 4, 32)}
        """
        graph = self._graph_for("activations()")
        names = list(graph.layer_values) if layers is None else list(layers)
        targets = {name: graph.value_of(name) for name in names}
        feeds, single = self._feeds(x)
        values = graph.run(feeds, list(dict.fromkeys(targets.values())), n_threads)
        return {name: values[v][0] if single else values[v] for name, v in targets.items()}

    def _graph_for(self, what: str) -> Graph:
        if self.graph is None:
            raise ValueError(
                f"{self.path or 'the model'}: {what} needs the network, but "
                f"{self.graph_problem}; save the whole model as .keras / .onnx"
            )
        return self.graph

    def compute_dtype(self, x: ArrayLike) -> type[np.floating[Any]]:
        """float64 for float64 input or float64 weights (as a float64 PyTorch model would run),
        else float32."""
        wide = np.asarray(x).dtype == np.float64
        wide = wide or any(layer.weight.dtype == np.float64 for layer in self.layers)
        return np.float64 if wide else np.float32

    def _feeds(self, x: ArrayLike) -> tuple[dict[str, NDArray[Any]], bool]:
        assert self.graph is not None
        first = self.graph.inputs[0]
        dtype = self.compute_dtype(x)
        channel_axis = 1 if self.graph.layout == "NCHW" else -1
        array, single = as_batch(x, first.shape, dtype, channel_axis)
        return {first.name: array}, single

    def _run_first_layer(
        self, x: ArrayLike, until: str | None, n_threads: int | None
    ) -> NDArray[Any]:
        """run() of a file without a graph: the first conv layer on ``x``, nothing else."""
        source = self.path or "the model"
        if until is None:
            raise ValueError(
                f"{source}: the network cannot run: {self.graph_problem}; "
                "run(x, until=<first layer>) runs the first conv layer on an image, or save the "
                "whole model as .keras / .onnx"
            )
        layer = self[until]
        if layer is not self.layers[0]:
            raise ValueError(
                f"{source} holds weights only ({self.graph_problem}); {layer.name} expects "
                f"{layer.in_channels}-channel activations of the layers before it; only the "
                "first layer can run on an image, or save the whole model as .keras / .onnx"
            )
        return layer(np.asarray(x, dtype=self.compute_dtype(x)), n_threads=n_threads)

    def summary(self) -> str:
        """A table of the layers: name, kind, kernel shape, stride, padding, dilation, groups,
        activation, parameter count and whether the configuration is known."""
        header = (
            "name",
            "kind",
            "kernel",
            "stride",
            "padding",
            "dilation",
            "groups",
            "activation",
            "params",
            "config",
        )
        rows = [header] + [
            (
                layer.name,
                layer.kind,
                "x".join(map(str, layer.weight.shape)),
                cell_text(layer.stride),
                cell_text(layer.padding),
                cell_text(layer.dilation),
                str(layer.groups),
                str(layer.activation),
                f"{layer.parameter_count:,}",
                "known" if layer.config_known else "defaults",
            )
            for layer in self.layers
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        total = sum(layer.parameter_count for layer in self.layers)
        version = f" {self.framework_version}" if self.framework_version else ""
        title = (
            f"{self.path or '<model>'}: {self.format}{version}, "
            f"{_count(len(self), 'conv layer')}, {total:,} parameters"
        )
        if not all(layer.config_known for layer in self.layers):
            lines.append(
                "config 'defaults': the file stores weights only, so stride, padding, dilation, "
                "groups and activation are defaults that may differ from the model's"
            )
        return "\n".join([title, *lines])

    def __repr__(self) -> str:
        return f"ConvModel({self.format!r}, {_count(len(self), 'layer')}: {', '.join(self.names)})"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def cell_text(value: Any) -> str:
    """Compact text for table cells: (1, 1) -> 1x1, 'same' -> same."""
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "x".join(map(str, value)) if len(set(value)) > 1 else str(value[0])
    return str(value)
