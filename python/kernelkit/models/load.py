"""load_model: recognise a model file's format from its content and hand it to that reader.

Each reader is a module of this package with ``read(path: pathlib.Path, format: str) -> ConvModel``
(``format`` tells a module that reads several variants which one it was given; the readers of
:data:`LAYOUT_FORMATS` also take ``layout=``). The
format is decided by the first bytes (zip, HDF5, pickle, safetensors header, JSON); the suffix
only breaks ties the content cannot (ONNX's protobuf has no magic number).
"""

from __future__ import annotations

import importlib
import os
import pathlib
import struct

from .._validation import one_of
from ._archive import open_zip
from ._hdf5 import hdf5_file
from ._json import read_json_file
from ._layer import ConvModel, PathLike, WeightFileError

__all__ = ["FORMATS", "LAYOUT_FORMATS", "detect_format", "load_model"]

#: Formats whose files do not record the kernel layout, so that ``layout=`` may set it.
LAYOUT_FORMATS = ("npz",)

#: format name -> reader module (relative to kernelkit.models)
FORMATS: dict[str, str] = {
    "keras3": "keras3",
    "keras3-weights": "keras3",
    "keras3-sharded": "keras3",
    "keras-legacy-h5": "keras_legacy_h5",
    "npz": "npz",
    "torch": "torch_file",
    "torch-legacy": "torch_file",
    "safetensors": "safetensors_file",
    "onnx": "onnx_file",
}

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOL_2_PLUS = b"\x80"


def _zip_format(path: pathlib.Path) -> str:
    with open_zip(path) as archive:
        names = archive.namelist()
    if "config.json" in names and any(
        n.endswith(".weights.h5") or n == "model.weights.h5" for n in names
    ):
        return "keras3"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "torch"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    raise WeightFileError(
        path, "a zip archive that is neither a Keras .keras file, a PyTorch file nor an .npz"
    )


def _hdf5_format(path: pathlib.Path) -> str:
    with hdf5_file(path, path) as f:
        legacy = any(k in f.attrs for k in ("model_config", "layer_names", "layer_names0"))
        legacy = legacy or "model_weights" in f
        keras3 = "layers" in f or "_layer_checkpoint_dependencies" in f
    if legacy:
        return "keras-legacy-h5"
    if keras3:
        return "keras3-weights"
    raise WeightFileError(
        path, "an HDF5 file without Keras weights (no 'layers' or 'model_weights')"
    )


def _is_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9:
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 8 + header_len <= size and head[8:9] == b"{"


def _check_regular_file(path: pathlib.Path) -> None:
    """FileNotFoundError or WeightFileError unless ``path`` is a regular file: reading a pipe or
    a device (/dev/zero) could block or never reach an end."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise WeightFileError(path, "not a regular file (a directory, pipe or device)")


def detect_format(path: PathLike) -> str:
    """The format name of a model file, decided from its content (see :data:`FORMATS`)."""
    p = pathlib.Path(path)
    _check_regular_file(p)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(16)
    if not head:
        raise WeightFileError(p, "empty file")
    if head.startswith(_ZIP_MAGIC):
        return _zip_format(p)
    if head.startswith(_HDF5_MAGIC):
        return _hdf5_format(p)
    if _is_safetensors(head, size):
        return "safetensors"
    if head.startswith(_PICKLE_PROTOCOL_2_PLUS):
        return "torch-legacy"
    if head.lstrip().startswith(b"{") and p.name.endswith(".json"):
        return _json_format(p)
    if p.suffix.lower() == ".onnx":
        return "onnx"
    raise WeightFileError(
        p,
        "unknown format: not a zip (.keras/.pt/.npz), HDF5 (.h5), pickle (.pt), "
        "safetensors or ONNX (.onnx) file",
    )


def _json_format(path: pathlib.Path) -> str:
    doc = read_json_file(path, "the JSON file")
    if isinstance(doc, dict) and "weight_map" in doc:
        return "keras3-sharded"
    raise WeightFileError(path, "a JSON file that is not a sharded Keras weights index")


def load_model(
    path: PathLike, *, format: str | None = None, layout: str | None = None
) -> ConvModel:
    """Read the convolution layers of a trained model file without its framework.

    Parameters
    ----------
    path : str or os.PathLike
        A Keras ``.keras``, ``.weights.h5`` or sharded ``.weights.json``, a legacy Keras ``.h5``,
        an ``.npz``, a PyTorch ``.pt``/``.pth`` state dict, a ``.safetensors`` or an ``.onnx``
        file. The format is recognised from the content; the suffix is only a hint.
    format : str, optional
        Force a format, one of :data:`FORMATS`.
    layout : {"HWIO", "OIHW", "HWCM"}, optional
        The layout of the 4-D kernels in an ``.npz`` file, which does not record it (see
        :mod:`kernelkit.models.npz` for how it is decided otherwise).

    Returns
    -------
    ConvModel
        The conv-like layers in the model's own order.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    kernelkit.WeightFileError
        The file is damaged, of an unknown format, or inconsistent; the message says which.
    ValueError
        ``format`` or ``layout`` is not one of the accepted values.

    Notes
    -----
    Damaged and hostile files raise WeightFileError: sizes, counts and offsets are checked
    against the file before anything is allocated, nothing in a file is executed, and the test
    suite feeds every reader mutated files (tests/models/test_file_fuzzing.py). The libraries
    underneath can still misbehave in C code that no Python exception interrupts: libhdf5 (the
    .h5, .weights.h5 and .keras formats, through h5py) is known to loop forever on some damaged
    files. kernelkit refuses the case known to it (a global heap whose object sizes never reach
    its end) before the file is opened, but others may exist. To bound the time spent on an
    untrusted file, read it in a process of its own that can be stopped:
    ``kernelkit layers --timeout SECONDS FILE`` does that on the command line; in a program,
    call load_model in a child process (``multiprocessing``) and terminate it after a timeout.

    Examples
    --------
    >>> import numpy as np, os, tempfile, kernelkit
    >>> path = os.path.join(tempfile.mkdtemp(), "conv.npz")
    >>> np.savez(path, **{"conv1.weight": np.ones((8, 3, 5, 5), np.float32)})  # PyTorch naming
    >>> model = kernelkit.load_model(path)
    >>> model
    ConvModel('npz', 1 layer: conv1)
    >>> model["conv1"].weight_layout, model["conv1"].hwio().shape
    ('OIHW', (5, 5, 3, 8))
    >>> kernelkit.load_model(path, layout="HWIO")["conv1"].weight_layout
    'HWIO'
    """
    p = pathlib.Path(os.fspath(path))
    if format is None:
        format = detect_format(p)
    else:
        one_of(format, tuple(sorted(FORMATS)), "format")
        _check_regular_file(p)
    options = {}
    if layout is not None:
        if format not in LAYOUT_FORMATS:
            raise ValueError(
                f"layout: only {', '.join(LAYOUT_FORMATS)} files leave the kernel layout open; "
                f"{p} is a {format} file"
            )
        options["layout"] = layout
    reader = importlib.import_module(f".{FORMATS[format]}", __package__)
    model: ConvModel = reader.read(p, format, **options)
    return model
