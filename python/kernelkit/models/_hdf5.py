"""Guarded access to HDF5 files for the Keras readers.

An HDF5 file can point outside itself (soft and external links, datasets stored in external or
virtual files) and can declare a huge dataset that stores almost nothing (a "shape bomb"). The
readers only follow hard links inside the file and read datasets whose declared size the file
actually stores.

libhdf5 itself can loop forever on a damaged file: it walks the objects of a global heap
collection (where variable-length strings, such as Keras 3's layer names, are kept) by their
declared sizes, and an object whose size makes that step zero is visited again and again
(H5HG__cache_heap_deserialize, still in HDF5 2.0). Such collections are refused before the file
is opened (:func:`check_global_heaps`). Other loops of that kind may exist; see
:func:`kernelkit.load_model` for the bounded way to read an untrusted file.
"""

from __future__ import annotations

import io
import math
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Union

import numpy as np
from numpy.typing import NDArray

from ._layer import WeightFileError

__all__ = ["check_global_heaps", "child", "hdf5_file", "read_array", "text_attribute"]

#: Datasets above this size must store at least 1/_MAX_EXPANSION of their bytes.
_BOMB_FLOOR = 1 << 20
_MAX_EXPANSION = 1000

Source = Union[pathlib.Path, IO[bytes]]


#: What h5py raises where the HDF5 library finds a damaged structure (a heap, a B-tree, an
#: object header) while the file is read, which one depending on the call that met it; ValueError
#: also for a damaged type description or a name that is not UTF-8, OverflowError for an offset
#: that a file object (a .keras archive's weights) cannot seek to.
_DAMAGE_ERRORS = (OSError, RuntimeError, KeyError, ValueError, OverflowError)

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_GLOBAL_HEAP_SIGNATURE = b"GCOL"
_SCAN_CHUNK = 16 << 20
_SIZE_T = (1 << 64) - 1


@contextmanager
def hdf5_file(source: Source, path: pathlib.Path) -> Iterator[Any]:
    """Open ``source`` (a path, or a seekable file object holding the HDF5 data) read-only.

    ``path`` names the file in error messages: damage that h5py meets while the file is open,
    in the ``with`` body too, raises WeightFileError.
    """
    import h5py

    check_global_heaps(source, path)
    try:
        handle = h5py.File(source, "r")
    except _DAMAGE_ERRORS as exc:
        raise WeightFileError(path, f"unreadable HDF5 file ({exc})") from None
    with handle:
        try:
            yield handle
        except WeightFileError:
            raise
        except _DAMAGE_ERRORS as exc:
            raise WeightFileError(path, f"damaged HDF5 file ({exc})") from None


def check_global_heaps(source: Source, path: pathlib.Path) -> None:
    """Refuse global heap collections on which libhdf5 would loop forever (see the module doc).

    Each collection ("GCOL", version 1, its size) holds objects, each a header (index, reference
    count, reserved, size) and its data padded to 8 bytes; the last one, index 0, is the free
    space, whose size includes its header. libhdf5 steps from object to object by
    ``16 + align8(size)`` (index 0: ``size``), in 64-bit arithmetic, until the collection's end;
    a step of 0 never ends, and one of 2**63 or more wraps backwards. The file is scanned for
    collections (a chunked read: no more memory than a chunk) and each is walked the same way.
    """
    if isinstance(source, pathlib.Path):
        with open(source, "rb") as f:
            _check_global_heaps_in(f, path)
    else:
        start = source.tell()
        try:
            _check_global_heaps_in(source, path)
        finally:
            source.seek(start)


def _check_global_heaps_in(f: IO[bytes], path: pathlib.Path) -> None:
    f.seek(0, io.SEEK_END)
    file_size = f.tell()
    length_size = _length_size(f, file_size)
    if length_size is None:
        return  # not an HDF5 file: h5py says so
    header_size = 8 + length_size
    for offset in _signature_offsets(f, _GLOBAL_HEAP_SIGNATURE, header_size):
        f.seek(offset)
        header = f.read(header_size)
        size = int.from_bytes(header[8:], "little")
        if len(header) < header_size or header[4] != 1 or not header_size <= size:
            continue  # not a collection: libhdf5 refuses it if it is one it reads
        if offset + size > file_size:
            continue  # libhdf5 cannot read it and says so
        f.seek(offset)
        _walk_global_heap(f.read(size), header_size, length_size, offset, path)


def _walk_global_heap(
    chunk: bytes, position: int, length_size: int, offset: int, path: pathlib.Path
) -> None:
    """Step through the objects of the collection ``chunk`` as libhdf5 does."""
    object_header = 8 + length_size
    end = len(chunk)
    while position < end and position + object_header <= end:
        index = int.from_bytes(chunk[position : position + 2], "little")
        size = int.from_bytes(chunk[position + 8 : position + object_header], "little")
        # index 0, the free space: its size includes the header and is not padded
        step = (object_header + (((size + 7) & _SIZE_T) & ~7)) & _SIZE_T if index > 0 else size
        if step == 0 or step >= 1 << 63:
            raise WeightFileError(
                path,
                f"damaged HDF5 file: object {index} of the global heap collection at byte "
                f"{offset} declares {size} bytes, on which the HDF5 library would loop forever",
            )
        position += step


def _length_size(f: IO[bytes], file_size: int) -> int | None:
    """The "size of lengths" of the superblock (at byte 0, 512, 1024, ...), None if none."""
    at = 0
    while at + 16 <= file_size:
        f.seek(at)
        head = f.read(16)
        if head.startswith(_HDF5_SIGNATURE):
            size = head[14] if head[8] in (0, 1) else head[10]
            return size if size in (2, 4, 8) else None
        at = 512 if at == 0 else 2 * at
    return None


def _signature_offsets(f: IO[bytes], signature: bytes, overlap: int) -> list[int]:
    """Where ``signature`` occurs in the file, read chunk by chunk."""
    found: set[int] = set()
    start = 0
    while True:
        f.seek(start)
        data = f.read(_SCAN_CHUNK + overlap)
        at = data.find(signature)
        while at >= 0:
            found.add(start + at)
            at = data.find(signature, at + 1)
        if len(data) <= _SCAN_CHUNK:
            return sorted(found)
        start += _SCAN_CHUNK


def child(group: Any, name: str | bytes, path: pathlib.Path) -> Any:
    """``group[name]`` (name may contain "/"), following hard links only; None where missing."""
    import h5py

    if isinstance(name, bytes):  # h5py's form of a name that is not UTF-8
        raise WeightFileError(path, f"{group.name}: a member name that is not UTF-8 ({name!r:.60})")
    node = group
    for part in name.split("/"):
        if not part or not isinstance(node, h5py.Group) or part not in node:
            return None
        link = node.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise WeightFileError(
                path, f"{node.name}/{part} is a {type(link).__name__}; only hard links are read"
            )
        node = node[part]
    return node


def read_array(dataset: Any, path: pathlib.Path) -> NDArray[np.floating[Any]]:
    """A floating-point dataset as a NumPy array of its stored dtype, after the safety checks."""
    import h5py

    where = f"dataset {dataset.name}" if isinstance(dataset, h5py.Dataset) else str(dataset)
    if not isinstance(dataset, h5py.Dataset):
        raise WeightFileError(path, f"expected a dataset, found {where}")
    if dataset.external or dataset.is_virtual:
        raise WeightFileError(path, f"{where} stores its data outside the file")
    try:
        dtype = dataset.dtype
    except (TypeError, ValueError) as exc:  # h5py cannot describe a damaged type
        raise WeightFileError(path, f"{where} has a damaged element type ({exc})") from None
    if dtype.kind != "f":
        raise WeightFileError(path, f"{where} holds {dtype}, not floating-point weights")
    declared = math.prod(dataset.shape) * dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > _BOMB_FLOOR and declared > _MAX_EXPANSION * stored:
        raise WeightFileError(
            path, f"{where} declares {declared} bytes but stores {stored} (shape bomb?)"
        )
    try:
        return np.asarray(dataset[()])
    except (OSError, ValueError) as exc:
        raise WeightFileError(path, f"{where} cannot be read ({exc})") from None


def text_attribute(attrs: Any, name: str) -> str | None:
    """A string attribute, stored as str or (Keras 2) bytes; None where absent."""
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
