"""Guarded access to HDF5 files for the Keras readers.

An HDF5 file can point outside itself (soft and external links, datasets stored in external or
virtual files) and can declare a huge dataset that stores almost nothing (a "shape bomb"). The
readers only follow hard links inside the file and read datasets whose declared size the file
actually stores.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Union

import numpy as np
from numpy.typing import NDArray

from ._layer import WeightFileError

__all__ = ["child", "hdf5_file", "read_array", "text_attribute"]

#: Datasets above this size must store at least 1/_MAX_EXPANSION of their bytes.
_BOMB_FLOOR = 1 << 20
_MAX_EXPANSION = 1000

Source = Union[pathlib.Path, IO[bytes]]


#: What h5py raises where the HDF5 library finds a damaged structure (a heap, a B-tree, an
#: object header) while the file is read, which one depending on the call that met it; ValueError
#: also for a damaged type description or a name that is not UTF-8.
_DAMAGE_ERRORS = (OSError, RuntimeError, KeyError, ValueError)


@contextmanager
def hdf5_file(source: Source, path: pathlib.Path) -> Iterator[Any]:
    """Open ``source`` (a path, or a seekable file object holding the HDF5 data) read-only.

    ``path`` names the file in error messages: damage that h5py meets while the file is open,
    in the ``with`` body too, raises WeightFileError.
    """
    import h5py

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


def child(group: Any, name: str, path: pathlib.Path) -> Any:
    """``group[name]`` (name may contain "/"), following hard links only; None where missing."""
    import h5py

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
    if dataset.dtype.kind != "f":
        raise WeightFileError(path, f"{where} holds {dataset.dtype}, not floating-point weights")
    declared = math.prod(dataset.shape) * dataset.dtype.itemsize
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
