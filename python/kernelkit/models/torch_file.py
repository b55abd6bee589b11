"""Reader for PyTorch ``.pt``/``.pth`` files that hold a state dict, without torch.

Two containers exist:

* zip (``torch.save`` since PyTorch 1.6): ``<archive>/data.pkl`` is the pickled object, storage
  ``<key>`` is the member ``<archive>/data/<key>``, and ``<archive>/byteorder`` says "little" or
  "big" (absent in older files: little).
* legacy (before 1.6, or ``_use_new_zipfile_serialization=False``): back to back, pickles of the
  magic number, the protocol version (1001) and a system-info dict (byte order), the pickled
  object and the list of storage keys; then, per key in that order, an 8-byte element count and
  the storage's raw bytes.

In both, a tensor is pickled as a call ``torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...)`` whose storage is a persistent id ``("storage", <storage type>, key, location,
numel)`` (legacy files add a view entry, None since PyTorch 0.4).

Unpickling runs whatever callables a file names, so the unpickler here resolves only the tensor
rebuild functions, the storage types, torch dtypes and ``collections.OrderedDict`` (plain lists,
dicts and tuples need no lookup); any other name raises :class:`WeightFileError` naming it,
before anything is called. The rebuild functions are this module's own: they record where each
tensor's values are, and arrays are made only for the conv tensors, with the offset, sizes and
strides checked against the storage. CPython's unpickler sizes its memo table by the largest
index a pickle names, so those indices are checked first.

The file must hold a state dict (tensor name -> tensor) or a checkpoint dict with one under
"state_dict", "model_state_dict" or "model". A whole pickled ``nn.Module`` is refused: loading it
would run the model's code; save ``model.state_dict()`` instead. The conv layers are found as
:mod:`kernelkit.models._named_tensors` describes; the file stores no configuration, so they have
``config_known=False``. PyTorch files do not record the torch version.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pathlib
import pickle
import pickletools
import zipfile
from collections.abc import Callable
from typing import IO, Any, Literal, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from ._archive import open_zip, read_member
from ._layer import ConvModel, WeightFileError
from ._named_tensors import conv_layers
from ._tensor_bytes import ELEMENT_TYPES, array_from_bytes

__all__ = ["MAX_PICKLE_BYTES", "read"]

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL_VERSION = 1001

#: Largest data.pkl read from a zip file (real ones are kilobytes to a few megabytes).
MAX_PICKLE_BYTES = 256 << 20

#: torch storage class -> element type
_STORAGE_TYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}

#: torch dtype (pickled by name, e.g. torch.float32) -> element type
_TORCH_DTYPES = {
    **{name: name for name in ELEMENT_TYPES},
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "cfloat": "complex64",
    "cdouble": "complex128",
}

#: the keys under which checkpoints keep the model's state dict
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")

_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}

#: The most values a pickle may expand to, per byte of pickle (real state dicts and checkpoints
#: measure 1 to 2) and in any case.
_EXPANSION_PER_BYTE = 16
_EXPANSION_FLOOR = 1 << 16

# The objects the unpickler creates are named tuples: immutable and without a __dict__, so a
# pickle's BUILD instruction cannot alter them after they were checked.


class _StorageType(NamedTuple):
    """What ``torch.FloatStorage`` & co. resolve to: their element type."""

    element_type: str


class _Dtype(NamedTuple):
    """What ``torch.float32`` & co. resolve to."""

    element_type: str


class _Storage(NamedTuple):
    """A storage a persistent id declared: ``numel`` elements of ``element_type``."""

    key: str
    element_type: str
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * ELEMENT_TYPES[self.element_type].itemsize


class _Tensor(NamedTuple):
    """Where a tensor's values are: its storage, offset, shape and strides (in elements)."""

    storages: _Storages
    storage: _Storage
    element_type: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def load(self) -> NDArray[Any]:
        return self.storages.tensor_array(self)


class _Storages:
    """The storages a pickle declares; each is read (by ``read_bytes``) and decoded once."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.byteorder: Literal["little", "big"] = "little"
        self.read_bytes: Callable[[_Storage], bytes] | None = None
        self._declared: dict[str, _Storage] = {}
        self._flat: dict[tuple[str, str], NDArray[Any]] = {}

    def declare(self, pid: Any) -> _Storage:
        """The storage of a persistent id ``("storage", type, key, location, numel[, view])``."""
        if isinstance(pid, tuple) and pid and pid[0] == "module":
            raise WeightFileError(self.path, _WHOLE_MODULE)
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise WeightFileError(self.path, f"unexpected persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) == 6 and pid[5] is not None:
            raise WeightFileError(
                self.path, "storage views (files of PyTorch before 0.4) are not supported"
            )
        if not (isinstance(storage_type, _StorageType) and isinstance(key, str)):
            raise WeightFileError(self.path, f"malformed storage reference {pid!r:.80}")
        if not _is_count(numel):
            raise WeightFileError(self.path, f"storage {key!r} has {numel!r} elements")
        storage = _Storage(key, storage_type.element_type, numel)
        if self._declared.setdefault(key, storage) != storage:
            raise WeightFileError(self.path, f"storage {key!r} is declared twice, differently")
        return storage

    def declared(self, key: str) -> _Storage:
        try:
            return self._declared[key]
        except KeyError:
            raise WeightFileError(self.path, f"storage {key!r} is used by no tensor") from None

    def tensor_array(self, tensor: _Tensor) -> NDArray[Any]:
        """A tensor's values as a new C-contiguous array, bounds checked against its storage."""
        flat = self._flat_array(tensor.storage, tensor.element_type)
        shape, stride, offset = tensor.shape, tensor.stride, tensor.offset
        if 0 in shape:
            return np.empty(shape, flat.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
        where = f"a tensor of shape {shape}, stride {stride} at offset {offset}"
        if last >= flat.size:
            raise WeightFileError(
                self.path,
                f"{where} reaches element {last} of storage {tensor.storage.key!r}, which has "
                f"{flat.size}",
            )
        # Stride-0 (broadcast) views could claim any size; a real kernel has its own elements.
        if math.prod(shape) > flat.size:
            raise WeightFileError(
                self.path, f"{where} has more elements than its storage ({flat.size})"
            )
        strides = tuple(s * flat.itemsize for s in stride)
        view = np.lib.stride_tricks.as_strided(flat[offset:], shape, strides, writeable=False)
        return view.copy()

    def _flat_array(self, storage: _Storage, element_type: str) -> NDArray[Any]:
        cached = self._flat.get((storage.key, element_type))
        if cached is not None:
            return cached
        if self.read_bytes is None:
            raise WeightFileError(self.path, "tensor data requested before the storages")
        raw = self.read_bytes(storage)
        if len(raw) != storage.nbytes:
            raise WeightFileError(
                self.path,
                f"storage {storage.key!r} holds {len(raw)} bytes where {storage.nbytes} are "
                "expected: the file is truncated or damaged",
            )
        if len(raw) % ELEMENT_TYPES[element_type].itemsize:
            raise WeightFileError(
                self.path, f"storage {storage.key!r} is not a whole number of {element_type}"
            )
        flat = array_from_bytes(raw, element_type, self.byteorder)
        self._flat[storage.key, element_type] = flat
        return flat


_WHOLE_MODULE = (
    "the file holds a pickled whole nn.Module, and loading it would run the model's code; "
    "save its weights with torch.save(model.state_dict(), path) and load that file"
)


def _refusal(module: str, name: str) -> str:
    """Why the global ``module.name`` is not loaded, and what to do instead."""
    if module.startswith("torch.nn."):
        return f"{_WHOLE_MODULE} (it names {module}.{name})"
    return (
        f"refusing to load the pickled global {module}.{name}: kernelkit reads tensors in plain "
        "containers (a state dict) only, since anything else would run code from the file; a "
        "model saved with torch.save(model) must be saved as model.state_dict() instead"
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_counts(value: Any) -> bool:
    return isinstance(value, tuple) and all(map(_is_count, value))


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that knows tensors, storages, dtypes and OrderedDict, and nothing else."""

    def __init__(self, file: IO[bytes], storages: _Storages) -> None:
        super().__init__(file, encoding="utf-8")
        self._storages = storages
        self._torch_utils: dict[str, Callable[..., Any]] = {
            "_rebuild_tensor": self._rebuild_tensor,
            "_rebuild_tensor_v2": self._rebuild_tensor,
            "_rebuild_tensor_v3": self._rebuild_tensor_v3,
            "_rebuild_parameter": self._rebuild_parameter,
            "_rebuild_parameter_with_state": self._rebuild_parameter,
        }

    def find_class(self, module: str, name: str, /) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in self._torch_utils:
            return self._torch_utils[name]
        if module in ("torch", "torch.storage") and name in _STORAGE_TYPES:
            return _StorageType(_STORAGE_TYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _Dtype(_TORCH_DTYPES[name])
        raise WeightFileError(self._storages.path, _refusal(module, name))

    def persistent_load(self, pid: Any) -> Any:
        return self._storages.declare(pid)

    def _rebuild_tensor(
        self, storage: Any, offset: Any, size: Any, stride: Any, *_grad_hooks_metadata: Any
    ) -> _Tensor:
        """torch._utils._rebuild_tensor and _rebuild_tensor_v2 (which adds arguments that do
        not change the values: requires_grad, backward hooks, metadata)."""
        if not isinstance(storage, _Storage):
            raise WeightFileError(self._storages.path, "a tensor without a storage")
        return self._tensor(storage, storage.element_type, offset, size, stride)

    def _rebuild_tensor_v3(
        self,
        storage: Any,
        offset: Any,
        size: Any,
        stride: Any,
        _requires_grad: Any,
        _backward_hooks: Any,
        dtype: Any,
        *_metadata: Any,
    ) -> _Tensor:
        """torch._utils._rebuild_tensor_v3: an untyped (byte) storage and the tensor's dtype."""
        if not (isinstance(storage, _Storage) and isinstance(dtype, _Dtype)):
            raise WeightFileError(self._storages.path, "a tensor without a storage or dtype")
        return self._tensor(storage, dtype.element_type, offset, size, stride)

    def _tensor(
        self, storage: _Storage, element_type: str, offset: Any, size: Any, stride: Any
    ) -> _Tensor:
        valid = _is_count(offset) and _is_counts(size) and _is_counts(stride)
        if not valid or len(size) != len(stride):
            raise WeightFileError(
                self._storages.path,
                f"a tensor with offset {offset!r:.40}, size {size!r:.80} and stride {stride!r:.80}",
            )
        return _Tensor(self._storages, storage, element_type, offset, size, stride)

    def _rebuild_parameter(self, data: Any, *_grad_hooks_state: Any) -> Any:
        """torch._utils._rebuild_parameter(_with_state): a Parameter is its tensor here."""
        if not isinstance(data, _Tensor):
            raise WeightFileError(self._storages.path, "a Parameter without a tensor")
        return data


def _load_pickle(file: IO[bytes], storages: _Storages, memo_limit: int) -> Any:
    """The next pickle of ``file``, checked (:func:`_check_pickle`) and loaded by the restricted
    unpickler; ``file`` is left just after it."""
    start = file.tell()
    try:
        _check_pickle(file, storages.path, memo_limit)
        end = file.tell()
        file.seek(start)
        result = _RestrictedUnpickler(io.BytesIO(file.read(end - start)), storages).load()
    except WeightFileError:
        raise
    except Exception as exc:  # a damaged or hostile pickle can make the unpickler raise anything
        raise WeightFileError(
            storages.path, f"damaged pickle ({type(exc).__name__}: {exc})"
        ) from None
    return result


class _CappedReads:
    """A file whose ``read(n)`` never asks for more than the bytes left in it.

    pickletools reads the string a pickle declares (up to 2**64 - 1 bytes) with one read, and a
    buffered file allocates the bytes asked for before it reads them: a damaged length would
    allocate gigabytes, or raise MemoryError or OverflowError.
    """

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        position = file.tell()
        self._size = file.seek(0, os.SEEK_END)
        file.seek(position)

    def read(self, n: int = -1) -> bytes:
        left = max(self._size - self._file.tell(), 0)
        return self._file.read(left if n is None or n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self._file.readline()

    def tell(self) -> int:
        return self._file.tell()


def _check_pickle(file: IO[bytes], path: pathlib.Path, memo_limit: int) -> None:
    """Read the next pickle's instructions without running them and refuse two attacks that
    allowing only harmless globals does not stop.

    CPython's unpickler sizes its memo table by the largest index a pickle names. And a pickle can
    refer to one object many times (memo GET, DUP), so a few hundred bytes can build a tuple of
    tuples of ... whose expanded size is 2**60: hashing it (as a dict key) or printing it (in an
    error message) never ends. The work of expanding every value the pickle builds is counted
    and capped at a multiple of the pickle's length, which real files stay far below.
    """
    start = file.tell()
    count = _ExpansionCount()
    for opcode, arg, _position in pickletools.genops(cast(IO[bytes], _CappedReads(file))):
        if opcode.name in _MEMO_PUTS and isinstance(arg, int) and arg >= memo_limit:
            raise WeightFileError(
                path,
                f"a pickle memo index of {arg} in a {memo_limit}-byte pickle (damaged or hostile)",
            )
        count.step(opcode, arg)
    budget = _EXPANSION_PER_BYTE * (file.tell() - start) + _EXPANSION_FLOOR
    if count.work > budget:
        raise WeightFileError(
            path,
            f"a pickle whose shared references expand to more than {budget} values "
            "(a 'billion laughs' file: damaged or hostile)",
        )


class _ExpansionCount:
    """Follows a pickle's stack as the unpickler would, holding the expanded size of each value
    instead of the value, and adds up the sizes the instructions consume. A malformed pickle
    raises (IndexError, KeyError, ValueError)."""

    def __init__(self) -> None:
        self.work = 0
        self._stack: list[int | None] = []  # None: a MARK
        self._memo: dict[Any, int | None] = {}

    def step(self, opcode: pickletools.OpcodeInfo, arg: Any) -> None:
        name, stack = opcode.name, self._stack
        if name in _MEMO_PUTS or name == "MEMOIZE":
            self._memo[len(self._memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _MEMO_GETS:
            stack.append(self._memo[arg])
        elif name in ("MARK", "DUP"):
            stack.append(None if name == "MARK" else stack[-1])
        else:
            consumed = self._pop_operands(opcode)
            self.work += consumed
            stack.extend([1 + consumed] * len(opcode.stack_after))

    def _pop_operands(self, opcode: pickletools.OpcodeInfo) -> int:
        """Pop what ``opcode`` takes (down to a MARK where it takes one); their expanded size."""
        stack, before = self._stack, opcode.stack_before
        if opcode.name == "POP" and stack[-1] is None:  # POP may drop a MARK
            stack.pop()
            return 0
        consumed = 0
        takes_mark = pickletools.markobject in before
        if takes_mark:
            mark = len(stack) - 1 - stack[::-1].index(None)
            consumed = sum(cast(list[int], stack[mark + 1 :]))
            del stack[mark:]
        for _ in range(before.index(pickletools.markobject) if takes_mark else len(before)):
            size = stack.pop()
            if size is None:
                raise ValueError("an instruction takes a MARK as its operand")
            consumed += size
        return consumed


def read(path: pathlib.Path, format: str = "torch") -> ConvModel:
    """The conv layers of the state dict in the PyTorch file ``path`` (``format``: "torch" for
    the zip container, "torch-legacy" for the pre-1.6 one).

    Examples
    --------
    Through :func:`kernelkit.load_model`, which recognises the container (torchvision's
    ResNet-18 weights, which the tests do not ship):

    >>> model = kernelkit.load_model("resnet18-f37072fd.pth")  # doctest: +SKIP
    >>> model["conv1"]  # doctest: +SKIP
    ConvLayer('conv1', conv2d, 3->64, kernel 7x7, stride (1, 1), padding 0, dilation (1, 1),
              groups 1, activation None, OIHW, config unknown)
    >>> conv1 = dataclasses.replace(model["conv1"], stride=(2, 2), padding=3)  # doctest: +SKIP

    The last line gives the layer the configuration that the file does not store.
    """
    if format == "torch-legacy":
        return _read_legacy(path)
    if format == "torch":
        return _read_zip(path)
    raise ValueError(f"format: expected 'torch' or 'torch-legacy', got {format!r}")


def _model(obj: Any, path: pathlib.Path, format: str) -> ConvModel:
    return ConvModel(conv_layers(_state_dict(obj, path), path), format=format, path=path)


def _state_dict(obj: Any, path: pathlib.Path) -> dict[str, _Tensor]:
    """The tensors of a state dict, or of the state dict inside a checkpoint dict."""
    if isinstance(obj, dict):
        for key in _STATE_DICT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, dict) and _tensors(inner):
                return _tensors(inner)
        if _tensors(obj):
            return _tensors(obj)
    kind = "a dict without tensors" if isinstance(obj, dict) else type(obj).__name__
    raise WeightFileError(
        path,
        f"no state dict found: the file holds {kind}; expected a dict of tensors "
        f"(torch.save(model.state_dict(), path)) or a checkpoint dict with one under "
        f"{' or '.join(map(repr, _STATE_DICT_KEYS))}",
    )


def _tensors(mapping: dict[Any, Any]) -> dict[str, _Tensor]:
    return {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, _Tensor)}


# -- the zip container -----------------------------------------------------------------------


def _read_zip(path: pathlib.Path) -> ConvModel:
    with open_zip(path) as archive:
        prefix = _archive_prefix(archive, path)
        storages = _Storages(path)
        storages.byteorder = _zip_byteorder(archive, prefix, path)
        storages.read_bytes = lambda storage: read_member(
            archive, f"{prefix}data/{storage.key}", path, storage.nbytes
        )
        pickled = read_member(archive, f"{prefix}data.pkl", path, MAX_PICKLE_BYTES)
        obj = _load_pickle(io.BytesIO(pickled), storages, len(pickled))
        return _model(obj, path, "torch")


def _archive_prefix(archive: zipfile.ZipFile, path: pathlib.Path) -> str:
    """The folder all members live in ("archive/" in recent files, the file name in older)."""
    names = archive.namelist()
    if any(name.endswith("/constants.pkl") for name in names):
        raise WeightFileError(
            path,
            "a TorchScript archive (torch.jit.save); kernelkit reads torch.save files that hold "
            "a state dict",
        )
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise WeightFileError(path, "a zip archive without exactly one <archive>/data.pkl")
    return pickles[0][: -len("data.pkl")]


def _zip_byteorder(
    archive: zipfile.ZipFile, prefix: str, path: pathlib.Path
) -> Literal["little", "big"]:
    if f"{prefix}byteorder" not in archive.namelist():
        return "little"
    byteorder = read_member(archive, f"{prefix}byteorder", path, 16).strip()
    if byteorder == b"little":
        return "little"
    if byteorder == b"big":
        return "big"
    raise WeightFileError(path, f"unknown byte order {byteorder!r:.20}")


# -- the legacy container --------------------------------------------------------------------


def _read_legacy(path: pathlib.Path) -> ConvModel:
    storages = _Storages(path)
    file_size = path.stat().st_size
    with open(path, "rb") as f:
        if _load_pickle(f, storages, file_size) != _MAGIC_NUMBER:
            raise WeightFileError(path, "not a PyTorch file: wrong magic number")
        version = _load_pickle(f, storages, file_size)
        if version != _LEGACY_PROTOCOL_VERSION:
            raise WeightFileError(path, f"unsupported legacy PyTorch protocol {version!r:.20}")
        storages.byteorder = _legacy_byteorder(_load_pickle(f, storages, file_size), path)
        obj = _load_pickle(f, storages, file_size)
        keys = _load_pickle(f, storages, file_size)
        offsets = _locate_legacy_storages(f, keys, storages, file_size)

    def read_bytes(storage: _Storage) -> bytes:
        with open(path, "rb") as f:
            f.seek(offsets[storage.key])
            return f.read(storage.nbytes)

    storages.read_bytes = read_bytes
    return _model(obj, path, "torch-legacy")


def _legacy_byteorder(sys_info: Any, path: pathlib.Path) -> Literal["little", "big"]:
    if not (isinstance(sys_info, dict) and isinstance(sys_info.get("little_endian"), bool)):
        raise WeightFileError(path, "malformed system info in a legacy PyTorch file")
    return "little" if sys_info["little_endian"] else "big"


def _locate_legacy_storages(
    f: IO[bytes], keys: Any, storages: _Storages, file_size: int
) -> dict[str, int]:
    """The file offset of each storage's bytes, after checking its element count and size."""
    path = storages.path
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise WeightFileError(path, "the storage key list of a legacy PyTorch file is malformed")
    offsets = {}
    for key in keys:
        storage = storages.declared(key)
        count_bytes = f.read(8)
        if len(count_bytes) < 8:
            raise WeightFileError(path, f"truncated before storage {key!r}")
        count = int.from_bytes(count_bytes, storages.byteorder, signed=True)
        if count != storage.numel:
            raise WeightFileError(
                path, f"storage {key!r} has {count} elements where {storage.numel} are declared"
            )
        offsets[key] = f.tell()
        if f.tell() + storage.nbytes > file_size:
            raise WeightFileError(path, f"truncated inside storage {key!r}")
        f.seek(storage.nbytes, os.SEEK_CUR)
    return offsets
