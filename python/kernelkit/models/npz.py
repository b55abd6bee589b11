"""NumPy ``.npz`` weight files, in the two conventions people save conv weights with.

1. **A list** ``np.savez(f, *model.get_weights())``: arrays ``arr_0``, ``arr_1``, ... in model
   order. Every floating-point array of 3 to 5 dimensions is a kernel and starts a layer named
   after its key (``"arr_0"``); a 1-D array right after it is its bias when its length is the
   kernel's number of outputs; a Keras SeparableConv2D is a depthwise kernel (kh, kw, C, M)
   followed by a 1x1 pointwise kernel with C·M inputs. Other arrays (dense layers,
   normalisation) are skipped.
2. **Named arrays** ``np.savez(f, **{"conv1/kernel": k, "conv1/bias": b, ...})``: Keras names
   (``kernel``, ``bias``, ``depthwise_kernel``, ``pointwise_kernel``, with or without ":0") and
   PyTorch names (``conv1.weight``, ``conv1.bias``), read by the rules of PyTorch and safetensors
   files (:mod:`kernelkit.models._named_tensors`): ``weight`` is OIHW, ``kernel`` HWIO unless its
   bias makes it a depthwise (HWCM) or transposed kernel. A lone ``kernel``/``weight`` (and
   ``bias``) is one layer named after the file; arrays with other names are skipped.

A list's 4-D kernels do not say their layout, which is decided, in this order, by: the ``layout=``
argument of :func:`kernelkit.load_model` ("HWIO", "OIHW" or "HWCM") where given; the bias: HWIO
when its length matches the last axis, OIHW when it matches the first, HWCM (Keras' depthwise
kernel) when it matches the product of the last two; and without bias the shape: OIHW when only
the last two axes are equal (kh == kw), HWIO otherwise. ``layout=`` also overrides the naming
rules of named arrays. Layers come out with ``config_known`` False (stride 1, no padding) and the
data format of their layout's framework (NHWC for HWIO/HWCM, NCHW for OIHW).

Examples
--------
>>> import numpy as np, os, tempfile, kernelkit
>>> path = os.path.join(tempfile.mkdtemp(), "weights.npz")
>>> kernel, bias = np.ones((3, 3, 1, 8), np.float32), np.zeros(8, np.float32)
>>> np.savez(path, kernel, bias)          # the list convention of Keras' get_weights()
>>> model = kernelkit.load_model(path)
>>> model["arr_0"].weight_layout, model["arr_0"].oihw().shape
('HWIO', (8, 1, 3, 3))
"""

from __future__ import annotations

import io
import math
import pathlib
import re
import zipfile
from typing import Any, cast

import numpy as np
from numpy.lib import format as npy_format
from numpy.typing import NDArray

from .._validation import one_of
from . import _archive
from ._layer import ConvLayer, ConvModel, WeightFileError
from ._named_tensors import InMemoryTensor, conv_layers, is_pointwise_of, weights_only_layer

__all__ = ["LAYOUTS", "read"]

#: The layouts ``layout=`` accepts for the 4-D kernels of an .npz file.
LAYOUTS = ("HWIO", "OIHW", "HWCM")

_LIST_KEY = re.compile(r"arr_\d+")


def read(path: pathlib.Path, format: str = "npz", *, layout: str | None = None) -> ConvModel:
    """The conv layers of an .npz file; ``layout`` forces the layout of its 4-D kernels."""
    if layout is not None:
        one_of(layout, LAYOUTS, "layout")
    arrays = _read_arrays(path)
    if arrays and all(_LIST_KEY.fullmatch(key) for key in arrays):
        layers = _list_layers(arrays, layout, path)
    else:
        tensors = {key: InMemoryTensor(array) for key, array in arrays.items()}
        layers = conv_layers(tensors, path, layout=layout)
    return ConvModel(layers, format=format, path=path)


def _read_arrays(path: pathlib.Path) -> dict[str, NDArray[Any]]:
    """Every ``.npy`` member of the archive, in file order, by name without the suffix."""
    with _archive.open_zip(path) as archive:
        return {
            info.filename[: -len(".npy")]: _read_npy(archive, info.filename, path)
            for info in archive.infolist()
            if info.filename.endswith(".npy")
        }


def _read_npy(archive: zipfile.ZipFile, name: str, path: pathlib.Path) -> NDArray[Any]:
    """One member, after checking that its header declares exactly the bytes it holds."""
    info = _archive.checked_member(archive, name, path)
    try:
        with archive.open(info) as member:
            version = npy_format.read_magic(member)
            read_header = (
                npy_format.read_array_header_1_0
                if version == (1, 0)
                else npy_format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(member)
            if dtype.hasobject:
                raise WeightFileError(path, f"{name} holds Python objects, which are not read")
            size = math.prod(shape) * dtype.itemsize
            if member.tell() + size != info.file_size:
                raise WeightFileError(
                    path, f"{name} declares shape {shape} of {dtype} but holds other data"
                )
            data = bytearray(size)
            if cast(io.BufferedIOBase, member).readinto(data) != size:  # a ZipExtFile
                raise WeightFileError(path, f"{name} is truncated")
    except WeightFileError:
        raise
    except Exception as exc:
        # besides the zip errors, NumPy's header parser (tokenize, ast.literal_eval, the dtype
        # from its descr) raises ValueError, SyntaxError, tokenize.TokenError, TypeError, ...
        # on a damaged header
        raise WeightFileError(
            path, f"{name} is not a valid .npy member ({type(exc).__name__}: {exc})"
        ) from None
    flat: NDArray[Any] = np.frombuffer(data, dtype)
    return flat.reshape(tuple(shape), order="F" if fortran_order else "C")


def _is_kernel(a: NDArray[Any]) -> bool:
    return a.dtype.kind == "f" and 3 <= a.ndim <= 5


def _bias_layouts(kernel: tuple[int, ...], bias: int) -> list[str]:
    """The layouts in which a kernel of this shape has ``bias`` outputs."""
    layouts = []
    if bias == kernel[-1]:
        layouts.append("HWIO")
    if bias == kernel[0]:
        layouts.append("OIHW")
    if bias == kernel[-2] * kernel[-1]:
        layouts.append("HWCM")
    return layouts


def _shape_layout(kernel: tuple[int, ...]) -> str:
    """The layout of an unnamed kernel without bias: OIHW when only its last two axes could
    be the square spatial ones."""
    if len(kernel) == 4 and kernel[2] == kernel[3] and kernel[0] != kernel[1]:
        return "OIHW"
    return "HWIO"


def _is_pointwise(candidate: NDArray[Any], kernel: NDArray[Any], layout: str | None) -> bool:
    """Whether ``candidate`` is the 1x1 pointwise kernel that follows the depthwise ``kernel`` of
    a Keras SeparableConv2D in a list."""
    return (
        layout in (None, "HWCM")
        and _is_kernel(candidate)
        and is_pointwise_of(kernel.shape, candidate.shape)
    )


def _list_layers(
    arrays: dict[str, NDArray[Any]], layout: str | None, path: pathlib.Path
) -> list[ConvLayer]:
    keys = list(arrays)
    values = list(arrays.values())
    layers = []
    i = 0
    while i < len(values):
        kernel = values[i]
        if not _is_kernel(kernel):
            i += 1
            continue
        following = values[i + 1 : i + 3]
        pointwise = None
        if following and _is_pointwise(following[0], kernel, layout):
            pointwise = following.pop(0)
        bias = following[0] if following and following[0].ndim == 1 else None
        outputs = pointwise.shape[-1] if pointwise is not None else None
        if bias is not None and not _fits_bias(kernel.shape, bias.size, outputs, layout):
            bias = None
        if pointwise is not None:
            kernel_layout = "HWCM"
        elif layout is not None:
            kernel_layout = layout
        else:
            kernel_layout = _choose_layout(kernel.shape, bias, _shape_layout(kernel.shape))
        layers.append(weights_only_layer(keys[i], kernel, kernel_layout, bias, pointwise, path))
        i += 1 + (pointwise is not None) + (bias is not None)
    return layers


def _fits_bias(
    kernel: tuple[int, ...], length: int, pointwise_outputs: int | None, layout: str | None
) -> bool:
    if pointwise_outputs is not None:
        return length == pointwise_outputs
    possible = _bias_layouts(kernel, length)
    return bool(possible) if layout is None else layout in possible


def _choose_layout(kernel: tuple[int, ...], bias: NDArray[Any] | None, default: str) -> str:
    """``default`` unless the bias rules it out, then the first layout the bias allows."""
    if bias is None:
        return default
    possible = _bias_layouts(kernel, bias.size)
    return default if default in possible or not possible else possible[0]
