"""Reader for safetensors files (``.safetensors``), without the safetensors package.

The format: an 8-byte little-endian header length N, N bytes of JSON header mapping each tensor
name to ``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`` (plus an optional
``"__metadata__"`` of strings), then the tensors' raw little-endian bytes, offsets counted from
the end of the header.

Everything is checked before a tensor is read: the header length (capped at
:data:`MAX_HEADER_BYTES`), the JSON, every tensor's byte count (number of elements x item size),
and the offsets, which must lie inside the file and tile the data area without overlaps or holes,
as the format requires. F16, BF16 (read as float32), F32, F64, integer and bool tensors are read;
a conv tensor of another type (e.g. F8_E4M3) raises a WeightFileError.

The layers are found by name as in PyTorch state dicts (see
:mod:`kernelkit.models._named_tensors`: ``<layer>.weight`` OIHW, or Keras-style ``<layer>/kernel``
HWIO), with the defaults that weights-only files imply (``config_known=False``). Writers store the
tensors sorted by name, not in model order, so the layers come in the names' natural order
(numbers by value: ``conv2`` before ``conv10``).
``framework_version`` is the ``"format"`` entry of ``__metadata__`` ("pt", "tf", ...) where present.
"""

from __future__ import annotations

import math
import pathlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from numpy.typing import NDArray

from ._json import parse_json
from ._layer import ConvModel, WeightFileError
from ._named_tensors import conv_layers
from ._tensor_bytes import ELEMENT_TYPES, array_from_bytes

__all__ = ["MAX_HEADER_BYTES", "read"]

#: Largest JSON header accepted; real headers are kilobytes, a few megabytes for huge models.
MAX_HEADER_BYTES = 100 * 2**20

#: safetensors dtype -> element type read
_READABLE = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "C64": "complex64",
}
#: dtypes whose size is known (for the offset checks) but whose values kernelkit does not read
_UNREADABLE_ITEMSIZE = {"F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}


@dataclass(frozen=True)
class _Tensor:
    """One tensor of the file, read from ``start`` to ``stop`` (absolute offsets) on demand."""

    path: pathlib.Path
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int

    def load(self) -> NDArray[Any]:
        element_type = _READABLE.get(self.dtype)
        if element_type is None:
            raise WeightFileError(
                self.path,
                f"tensor {self.name!r} has dtype {self.dtype}, which kernelkit cannot read "
                f"(it reads {', '.join(_READABLE)})",
            )
        raw = bytearray(self.stop - self.start)
        with open(self.path, "rb") as f:
            f.seek(self.start)
            if f.readinto(raw) != len(raw):
                raise WeightFileError(self.path, f"tensor {self.name!r}: the file is truncated")
        return array_from_bytes(raw, element_type).reshape(self.shape)


def read(path: pathlib.Path, format: str = "safetensors") -> ConvModel:
    """The conv layers of the safetensors file ``path``.

    Examples
    --------
    >>> import json, struct, tempfile, pathlib, numpy as np
    >>> weight = np.arange(18, dtype="<f4").reshape(2, 1, 3, 3)
    >>> header = {"conv.weight": {"dtype": "F32", "shape": [2, 1, 3, 3],
    ...                           "data_offsets": [0, weight.nbytes]}}
    >>> text = json.dumps(header).encode()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.safetensors"
    >>> _ = path.write_bytes(struct.pack("<Q", len(text)) + text + weight.tobytes())
    >>> model = read(path)
    >>> model.names, model["conv"].weight.shape, model["conv"].config_known
    (['conv'], (2, 1, 3, 3), False)
    """
    header, data_start = _read_header(path)
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict):
        raise WeightFileError(path, "the header's __metadata__ is not a JSON object")
    tensors = [_tensor(path, name, info, data_start) for name, info in header.items()]
    _check_offsets(tensors, data_start, path.stat().st_size - data_start, path)
    by_name = {t.name: t for t in sorted(tensors, key=lambda t: _natural_key(t.name))}
    framework = metadata.get("format")
    return ConvModel(
        conv_layers(by_name, path),
        format=format,
        path=path,
        framework_version=framework if isinstance(framework, str) else None,
    )


def _read_header(path: pathlib.Path) -> tuple[dict[str, Any], int]:
    """The JSON header and the file offset where the data starts."""
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        length_bytes = f.read(8)
        if len(length_bytes) < 8:
            raise WeightFileError(path, "truncated: shorter than a safetensors header length")
        (length,) = struct.unpack("<Q", length_bytes)
        if length > MAX_HEADER_BYTES:
            raise WeightFileError(
                path,
                f"safetensors header length of {length} bytes exceeds the limit of "
                f"{MAX_HEADER_BYTES} bytes (a damaged or hostile file)",
            )
        if 8 + length > file_size:
            raise WeightFileError(
                path,
                f"the {length}-byte safetensors header runs past the end of the file "
                f"({file_size} bytes): truncated",
            )
        text = f.read(length)
    header = parse_json(text, "the safetensors header", path, object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise WeightFileError(path, "the safetensors header is not a JSON object")
    return header, 8 + length


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [name for name, _ in pairs]
        duplicate = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"the name {duplicate!r} appears twice")
    return result


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor(path: pathlib.Path, name: str, info: Any, data_start: int) -> _Tensor:
    """The header entry ``name`` validated: dtype, shape, and a byte count that fits them."""
    if not isinstance(info, dict):
        raise WeightFileError(path, f"tensor {name!r}: the header entry is not a JSON object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(map(_is_count, shape)):
        raise WeightFileError(path, f"tensor {name!r}: shape {shape!r} is not a list of sizes")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(map(_is_count, offsets))
        and offsets[0] <= offsets[1]
    ):
        raise WeightFileError(
            path, f"tensor {name!r}: data_offsets {offsets!r} is not a [begin, end] pair"
        )
    if dtype in _READABLE:
        itemsize = ELEMENT_TYPES[_READABLE[dtype]].itemsize
    elif dtype in _UNREADABLE_ITEMSIZE:
        itemsize = _UNREADABLE_ITEMSIZE[dtype]
    else:
        raise WeightFileError(path, f"tensor {name!r}: unknown dtype {dtype!r}")
    expected = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != expected:
        raise WeightFileError(
            path,
            f"tensor {name!r} spans {offsets[1] - offsets[0]} bytes (data_offsets {offsets}) "
            f"but shape {shape} of {dtype} needs {expected}",
        )
    begin, end = offsets
    return _Tensor(path, name, dtype, tuple(shape), data_start + begin, data_start + end)


def _check_offsets(
    tensors: list[_Tensor], data_start: int, data_size: int, path: pathlib.Path
) -> None:
    """The tensors must tile the data area (``data_size`` bytes from ``data_start``) in some
    order: nothing outside it, no overlap, no hole."""
    position = 0
    previous = None
    for tensor in sorted(tensors, key=lambda t: (t.start, t.stop)):
        begin, end = tensor.start - data_start, tensor.stop - data_start
        if end > data_size:
            raise WeightFileError(
                path,
                f"tensor {tensor.name!r} ends at byte {end} of the data, past its end "
                f"({data_size} bytes): truncated or damaged",
            )
        if begin < position:
            raise WeightFileError(
                path,
                f"tensors {previous!r} and {tensor.name!r} overlap (bytes {begin} to {position})",
            )
        if begin > position:
            raise WeightFileError(
                path, f"bytes {position} to {begin} of the data belong to no tensor"
            )
        position, previous = end, tensor.name
    if position != data_size:
        raise WeightFileError(
            path, f"bytes {position} to {data_size} of the data belong to no tensor"
        )


def _natural_key(name: str) -> list[Any]:
    """Sort key that orders the numbers in names by value: "conv2" < "conv10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
