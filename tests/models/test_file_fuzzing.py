"""File fuzzing of every reader of kernelkit.load_model.

Each committed fixture (one or two per format and variant) is mutated by hypothesis: bit flips,
byte overwrites, truncation at any point, inflated length and count fields (zip header sizes and
counts, the safetensors header length, numbers in .npy headers and JSON, integers in pickles,
size-like words of HDF5 files, ONNX tensor dims and attributes), swapped, duplicated, dropped and
renamed members of the zip-based formats (.keras, .npz, PyTorch zip), member contents damaged
inside a valid zip, and random bytes. The only acceptable outcomes are a model whose layers can
be listed and whose weights can be read, or a WeightFileError (FileNotFoundError where a file is
missing); anything else fails, and so do a load that runs past :data:`HANG_SECONDS` and one that
needs more memory than :func:`memory_limit` allows for the file's size.

The loads run in a worker process (this file run as a script, ``--worker``) under an address-space
limit, so that a hang, a crash or a huge allocation fails a test instead of hanging or killing
the test run; the worker measures each load's peak of traced memory (tracemalloc: Python objects
and NumPy arrays). The "ci" profile (the default) runs a fixed, derandomized budget of examples
per fixture and mutation; ``HYPOTHESIS_PROFILE=long python -m pytest
tests/models/test_file_fuzzing.py`` runs fifty times as many.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import pickletools
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import traceback
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kernelkit  # noqa: E402
from kernelkit import WeightFileError, load_model  # noqa: E402

# The same profiles as tests/test_properties.py (registering a name twice replaces it with the
# same settings).
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Examples per (fixture, mutation): 30 in "ci", 1500 in "long".
EXAMPLES = max(1, settings.default.max_examples // 2)

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

#: A load (reading and listing the model) that takes longer than this has hung. Real loads of
#: these fixtures take milliseconds; the margin is for slow, shared CI machines.
HANG_SECONDS = 30.0
#: How long the worker may take to start (importing NumPy, h5py, onnx).
START_SECONDS = 120.0
#: The worker's address space may grow this much past what it has after its imports: an
#: allocation beyond it raises MemoryError, which fails the test.
ADDRESS_SPACE_HEADROOM = 1 << 30


def memory_limit(file_size: int) -> int:
    """The most traced memory a load of a ``file_size``-byte file may peak at: a floor, plus what
    deflate's maximum expansion (about 1032) lets a zip member of that size hold, twice."""
    return (32 << 20) + 2100 * file_size


#: fixture -> the format it is (forced in half of the examples, so that mutations that defeat the
#: format detection still reach the reader)
FIXTURE_FORMATS = {
    "npz_sequential_list.npz": "npz",
    "npz_sequential_named.npz": "npz",
    "keras_sequential.keras": "keras3",
    "keras_functional.keras": "keras3",
    "keras_sequential.weights.h5": "keras3-weights",
    "keras_functional.weights.json": "keras3-sharded",
    "keras_sequential.h5": "keras-legacy-h5",
    "keras_functional_keras2.h5": "keras-legacy-h5",
    "keras_functional_weights_only.h5": "keras-legacy-h5",
    "safetensors_cnn.safetensors": "safetensors",
    "safetensors_mixed_dtypes.safetensors": "safetensors",
    "torch_cnn.pt": "torch",
    "torch_cnn_checkpoint.pth": "torch",
    "torch_cnn_legacy.pt": "torch-legacy",
    "onnx_cnn.onnx": "onnx",
    "onnx_constant_weights.onnx": "onnx",
}
#: The shards beside keras_functional.weights.json, copied next to its mutated copies.
SHARDS = [f"keras_functional_0000{i}.weights.h5" for i in range(3)]

_ZIP_FORMATS = ("npz", "keras3", "torch")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# -- the worker process ---------------------------------------------------------------------------


def _address_space_in_use() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _limit_address_space() -> None:
    """RLIMIT_AS at the current size plus the headroom, where the system has both."""
    try:
        import resource
    except ImportError:  # Windows
        return
    in_use = _address_space_in_use()
    if in_use is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = in_use + ADDRESS_SPACE_HEADROOM
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def exercise(model: kernelkit.ConvModel) -> None:
    """List the model and its network's layers and read every weight (without running the
    network: a damaged file may record any configuration, which the run then refuses)."""
    from kernelkit.models._layer import RUNNABLE_KINDS, TRANSPOSED_LAYOUTS
    from kernelkit.models.graph import shape_text

    model.summary()
    repr(model)
    if model.graph is not None:
        shape_text(model.graph.inputs[0].shape)
        for name in model.graph.layer_values:
            node = model.graph.node_of(name)
            if node is not None:
                repr(node.kind), repr(node.conv)
    for layer in model:
        repr(layer)
        for array in (layer.weight, layer.bias, layer.pointwise):
            if array is not None:
                np.asarray(array).sum()
        layer.in_channels, layer.out_channels, layer.kernel_size, layer.parameter_count  # noqa: B018
        runnable = layer.kind in RUNNABLE_KINDS and layer.weight.ndim == 4
        if runnable and layer.weight_layout not in TRANSPOSED_LAYOUTS:
            layer.hwio()
            layer.oihw()


def _worker_main() -> None:
    """Read requests (JSON lines: path, format) from stdin and answer each with its outcome."""
    import tracemalloc

    import h5py  # noqa: F401  (imported before the address space is limited)

    with contextlib.suppress(ImportError):
        import onnx  # noqa: F401
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever the libraries print goes to stderr, not into the replies
    _limit_address_space()
    replies.write('{"outcome": "ready"}\n')
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        tracemalloc.start()
        try:
            model = load_model(request["path"], format=request["format"])
            exercise(model)
            reply: dict[str, Any] = {"outcome": "model", "layers": len(model)}
        except (WeightFileError, FileNotFoundError) as exc:
            where = exc.path if isinstance(exc, WeightFileError) else request["path"]
            reply = {"outcome": "refused", "error": str(exc)[:400], "where": str(where)}
        except BaseException as exc:  # a MemoryError or RecursionError too
            reply = {
                "outcome": "other",
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "traceback": traceback.format_exc()[-6000:],
            }
        finally:
            reply["peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


class Worker:
    """The worker process, (re)started on demand; :meth:`load` answers with the outcome of one
    load, "hang" after :data:`HANG_SECONDS` and "crash" if the process died."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self._process: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._stderr = directory / "worker-stderr.txt"

    def _start(self) -> None:
        self._replies = queue.Queue()
        with open(self._stderr, "w") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
            )
        assert self._process.stdout is not None
        self._thread = threading.Thread(
            target=self._forward, args=(self._process.stdout, self._replies), daemon=True
        )
        self._thread.start()
        ready = self._reply(START_SECONDS)
        assert ready is not None
        assert ready["outcome"] == "ready", ready

    @staticmethod
    def _forward(stdout: io.TextIOBase, replies: queue.Queue[str | None]) -> None:
        with stdout:
            for line in stdout:
                replies.put(line)
        replies.put(None)

    def _reply(self, timeout: float) -> dict[str, Any] | None:
        """The next reply; None on a timeout (the worker is then killed)."""
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            return None
        if line is None:
            assert self._process is not None
            status = self._process.wait()
            self.stop()
            tail = self._stderr.read_text(errors="replace")[-3000:]
            return {"outcome": "crash", "error": f"exit status {status}; stderr: {tail}"}
        reply: dict[str, Any] = json.loads(line)
        return reply

    def load(self, path: pathlib.Path, format: str | None) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            self._start()
        assert self._process is not None
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"path": str(path), "format": format}) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the reply says how
        reply = self._reply(HANG_SECONDS)
        return reply if reply is not None else {"outcome": "hang"}

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            assert self._process.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
            self._thread.join()
            self._process = None


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("fuzzing")
    for shard in SHARDS:
        shutil.copy(FIXTURES / shard, directory)
    process = Worker(directory)
    try:
        yield process
    finally:
        process.stop()


def check_load(
    worker: Worker, data: bytes, name: str, format: str | None, how: str
) -> dict[str, Any]:
    """Write ``data`` as ``name`` beside the worker and load it: a model or a WeightFileError
    naming a file of that directory, within the time and memory bounds; the worker's reply."""
    path = worker.directory / name
    path.write_bytes(data)
    reply = worker.load(path, format)
    what = f"{name} {how} ({len(data)} bytes, format={format})"
    outcome = reply["outcome"]
    if outcome == "hang":
        kept = worker.directory / f"hang-{name}"
        shutil.copy(path, kept)
        raise AssertionError(f"{what}: no outcome within {HANG_SECONDS} s (kept as {kept})")
    assert outcome in ("model", "refused"), f"{what}: {reply['error']}\n{reply.get('traceback')}"
    if outcome == "refused":
        assert pathlib.Path(reply["where"]).parent == worker.directory, f"{what}: {reply}"
        # a reader that wraps every error of a library would hide an allocation that the
        # address-space limit refused
        assert "MemoryError" not in reply["error"], f"{what}: {reply['error']}"
    assert reply["peak"] <= memory_limit(len(data)), (
        f"{what}: the load peaked at {reply['peak']} bytes of traced memory"
    )
    return reply


# -- mutations ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """Mutated file content; ``how`` says what was done (what hypothesis prints)."""

    how: str
    data: bytes

    def __repr__(self) -> str:
        return f"Mutant({self.how}, {len(self.data)} bytes)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis' printer
        printer.text(repr(self))


def _put(data: bytes, offset: int, value: int, width: int) -> bytes:
    raw = (value % (1 << (8 * width))).to_bytes(width, "little")
    return data[:offset] + raw + data[offset + width :]


def positions(size: int) -> st.SearchStrategy[int]:
    """An offset in a ``size``-byte file, often in its first or last KiB (headers, zip
    directories)."""
    last = size - 1
    return st.one_of(
        st.integers(0, min(last, 1023)),
        st.integers(max(0, size - 1024), last),
        st.integers(0, last),
    )


def big_numbers(width: int) -> st.SearchStrategy[int]:
    """Values for a ``width``-byte little-endian field."""
    top = 1 << (8 * width)
    special = [0, 1, top - 1, top // 2 - 1, top // 2, top // 2 + 1]
    return st.one_of(st.sampled_from(special), st.integers(0, top - 1))


TEXT_NUMBERS = st.one_of(
    st.sampled_from(
        [-1, 0, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**400]
    ),
    st.integers(0, 10**6),
)

OVERWRITES = st.one_of(
    st.sampled_from([b"\x00", b"\xff", b"\x00" * 8, b"\xff" * 8, b"\xff\xff\xff\x7f", b"\x80"]),
    st.binary(min_size=1, max_size=8),
)


@st.composite
def bit_flips(draw: st.DrawFn, data: bytes) -> Mutant:
    bits = draw(
        st.lists(st.tuples(positions(len(data)), st.integers(0, 7)), min_size=1, max_size=16)
    )
    out = bytearray(data)
    for offset, bit in bits:
        out[offset] ^= 1 << bit
    return Mutant(f"bits flipped at {bits}", bytes(out))


@st.composite
def overwrites(draw: st.DrawFn, data: bytes) -> Mutant:
    edits = draw(st.lists(st.tuples(positions(len(data)), OVERWRITES), min_size=1, max_size=4))
    out = data
    for offset, raw in edits:
        out = out[:offset] + raw + out[offset + len(raw) :]
    return Mutant(f"bytes overwritten: {edits}", out[: max(len(data), 1)])


@st.composite
def truncations(draw: st.DrawFn, data: bytes) -> Mutant:
    keep = draw(st.one_of(positions(len(data)), st.integers(0, 64)))
    return Mutant(f"truncated to {keep} bytes", data[:keep])


@st.composite
def field_inflation(draw: st.DrawFn, data: bytes, fields: list[tuple[int, int]]) -> Mutant:
    """One of the little-endian ``(offset, width)`` fields set to another value."""
    offset, width = draw(st.sampled_from(fields))
    value = draw(big_numbers(width))
    old = int.from_bytes(data[offset : offset + width], "little")
    return Mutant(
        f"{width}-byte field at {offset}: {old} -> {value}", _put(data, offset, value, width)
    )


_DIGITS = re.compile(rb"\d+")


@st.composite
def text_number_inflation(draw: st.DrawFn, text: bytes) -> Mutant:
    """A number in a text (JSON, an .npy header) replaced by another."""
    runs = list(_DIGITS.finditer(text))
    if not runs:
        return draw(overwrites(text))
    run = runs[draw(st.integers(0, len(runs) - 1))]
    value = draw(TEXT_NUMBERS)
    new = text[: run.start()] + str(value).encode() + text[run.end() :]
    return Mutant(f"number {run.group().decode()} at {run.start()} -> {value}", new)


# fields of zip records: signature -> (offset, width) of sizes, counts and offsets
_ZIP_FIELDS = {
    b"PK\x03\x04": [(18, 4), (22, 4), (26, 2), (28, 2)],
    b"PK\x01\x02": [(20, 4), (24, 4), (28, 2), (30, 2), (32, 2), (42, 4)],
    b"PK\x05\x06": [(8, 2), (10, 2), (12, 4), (16, 4), (20, 2)],
    b"PK\x06\x06": [(24, 8), (32, 8), (40, 8), (48, 8)],
    b"PK\x06\x07": [(8, 8)],
}


@cache
def zip_fields(data: bytes) -> list[tuple[int, int]]:
    """The size, count and offset fields of every zip record in ``data``."""
    found = []
    for signature, fields in _ZIP_FIELDS.items():
        start = data.find(signature)
        while start >= 0:
            found += [(start + o, w) for o, w in fields if start + o + w <= len(data)]
            start = data.find(signature, start + 4)
    return found


_PICKLE_ARG_WIDTHS = {
    **dict.fromkeys(
        ["BININT1", "BINPUT", "BINGET", "SHORT_BINUNICODE", "SHORT_BINBYTES", "SHORT_BINSTRING"], 1
    ),
    "LONG1": 1,
    "BININT2": 2,
    **dict.fromkeys(
        ["BININT", "LONG_BINPUT", "LONG_BINGET", "BINUNICODE", "BINBYTES", "BINSTRING", "LONG4"], 4
    ),
    **dict.fromkeys(["BINUNICODE8", "BINBYTES8", "BYTEARRAY8", "FRAME"], 8),
}


@cache
def pickle_fields(data: bytes) -> list[tuple[int, int]]:
    """The integer, length and memo-index arguments of the pickles at the start of ``data``
    (back to back, as in a legacy PyTorch file), and the first legacy storage count after them."""
    stream = io.BytesIO(data)
    found = []
    for _ in range(5):
        try:
            for opcode, _arg, position in pickletools.genops(stream):
                width = _PICKLE_ARG_WIDTHS.get(opcode.name)
                if width is not None and position is not None:
                    found.append((position + 1, width))
        except ValueError:
            break
        if stream.tell() >= len(data):
            break
    else:
        if stream.tell() + 8 <= len(data):
            found.append((stream.tell(), 8))
    return found


@cache
def hdf5_fields(data: bytes) -> list[tuple[int, int]]:
    """Words that look like HDF5 addresses, sizes or counts: 8- and 4-byte little-endian values
    from 1 to the file's size."""
    found = []
    for width in (8, 4):
        for shift in range(width):
            usable = (len(data) - shift) // width * width
            words = np.frombuffer(data[shift : shift + usable], f"<u{width}")
            hits = np.flatnonzero((words >= 1) & (words < len(data)))
            found += [(shift + int(i) * width, width) for i in hits]
    return sorted(found)


def _npy_header_inflation(draw: st.DrawFn, npy: bytes) -> Mutant:
    """A number in an .npy member's header (its shape, mostly) changed, the header length kept
    consistent so that the header still parses."""
    if not npy.startswith(b"\x93NUMPY") or len(npy) < 12:
        return draw(overwrites(npy))
    length_width = 2 if npy[6] == 1 else 4
    start = 8 + length_width
    (length,) = struct.unpack("<H" if length_width == 2 else "<I", npy[8:start])
    header = npy[start : start + length]
    inflated = draw(text_number_inflation(header))
    new_length = len(inflated.data).to_bytes(length_width, "little")
    return Mutant(
        f".npy header {inflated.how}", npy[:8] + new_length + inflated.data + npy[start + length :]
    )


def _safetensors_inflation(draw: st.DrawFn, data: bytes) -> Mutant:
    """The header length, or a number of the JSON header (the length kept consistent)."""
    if draw(st.booleans()):
        return draw(field_inflation(data, [(0, 8)]))
    (length,) = struct.unpack("<Q", data[:8])
    inflated = draw(text_number_inflation(data[8 : 8 + length]))
    return Mutant(
        f"header {inflated.how}",
        struct.pack("<Q", len(inflated.data)) + inflated.data + data[8 + length :],
    )


def _onnx_inflation(draw: st.DrawFn, data: bytes) -> Mutant:
    """A dimension, the data type of a tensor or an integer attribute of a node set to another
    value (a valid protobuf with inconsistent contents)."""
    import onnx

    model = onnx.load_from_string(data)
    tensors = list(model.graph.initializer) + [
        a.t for node in model.graph.node for a in node.attribute if a.HasField("t")
    ]
    attributes = [a for node in model.graph.node for a in node.attribute if a.ints or a.i]
    value = draw(st.sampled_from([-(2**63), -1, 0, 1, 2**31, 2**40, 2**62, 2**63 - 1]))
    what = draw(st.sampled_from(["dim", "extra dim", "data type", "attribute"]))
    if what == "attribute" and attributes:
        attribute = attributes[draw(st.integers(0, len(attributes) - 1))]
        if attribute.ints:
            attribute.ints[draw(st.integers(0, len(attribute.ints) - 1))] = value
        else:
            attribute.i = value
        how = f"attribute {attribute.name} -> {value}"
    else:
        tensor = tensors[draw(st.integers(0, len(tensors) - 1))]
        if what == "data type":
            tensor.data_type = draw(st.integers(0, 30))
            how = f"tensor {tensor.name!r} data type -> {tensor.data_type}"
        elif what == "dim" and tensor.dims:
            tensor.dims[draw(st.integers(0, len(tensor.dims) - 1))] = value
            how = f"tensor {tensor.name!r} dims -> {list(tensor.dims)}"
        else:
            tensor.dims.append(abs(value) % (2**63))
            how = f"tensor {tensor.name!r} dims -> {list(tensor.dims)}"
    return Mutant(how, model.SerializeToString())


@st.composite
def inflations(draw: st.DrawFn, data: bytes, name: str) -> Mutant:
    """Inflated length and count fields, by format."""
    fmt = FIXTURE_FORMATS[name]
    if fmt in _ZIP_FORMATS:
        if draw(st.booleans()):
            return draw(field_inflation(data, zip_fields(data)))
        return draw(member_mutations(data, inflate_only=True))
    if fmt == "safetensors":
        return _safetensors_inflation(draw, data)
    if fmt == "torch-legacy":
        return draw(field_inflation(data, pickle_fields(data)))
    if fmt == "onnx":
        return _onnx_inflation(draw, data)
    if fmt == "keras3-sharded":
        return draw(text_number_inflation(data))
    return draw(field_inflation(data, hdf5_fields(data)))


def _inflate_member(draw: st.DrawFn, name: str, data: bytes) -> Mutant:
    if name.endswith(".npy"):
        return _npy_header_inflation(draw, data)
    if name.endswith(".json"):
        return draw(text_number_inflation(data))
    if name.endswith(".pkl") and pickle_fields(data):
        return draw(field_inflation(data, pickle_fields(data)))
    if data.startswith(_HDF5_MAGIC):
        return draw(field_inflation(data, hdf5_fields(data)))
    if data:
        return draw(overwrites(data))
    return Mutant("left empty", data)


Members = list[tuple[str, bytes, int]]


def read_members(data: bytes) -> Members:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, archive.read(i), i.compress_type) for i in archive.infolist()]


def write_members(members: Members) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, method in members:
                archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, method)
    return buffer.getvalue()


@st.composite
def member_mutations(draw: st.DrawFn, data: bytes, *, inflate_only: bool = False) -> Mutant:
    """One member's content mutated inside a valid zip (the CRCs match), so that the parsers of
    the members (.npy, config.json, data.pkl, model.weights.h5) meet the damage."""
    members = read_members(data)
    index = draw(st.integers(0, len(members) - 1))
    name, content, method = members[index]
    kinds = ["inflate"] if inflate_only or not content else ["inflate", "flip", "overwrite", "cut"]
    kind = draw(st.sampled_from(kinds))
    if kind == "inflate":
        inner = _inflate_member(draw, name, content)
    else:
        inner = draw(
            {"flip": bit_flips, "overwrite": overwrites, "cut": truncations}[kind](content)
        )
    members[index] = (name, inner.data, method)
    return Mutant(f"member {name!r}: {inner.how}", write_members(members))


@st.composite
def member_shuffles(draw: st.DrawFn, data: bytes) -> Mutant:
    """Members swapped, duplicated, dropped, renamed, or their contents exchanged."""
    members = read_members(data)
    count = len(members)
    i, j = draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))
    (a, a_data, a_method), (b, b_data, b_method) = members[i], members[j]
    op = draw(
        st.sampled_from(["swap", "duplicate", "duplicate name", "drop", "exchange", "rename"])
    )
    if op == "swap":
        members[i], members[j] = members[j], members[i]
        how = f"members {a!r} and {b!r} swapped"
    elif op == "duplicate":
        members.insert(draw(st.integers(0, count)), members[i])
        how = f"member {a!r} duplicated"
    elif op == "duplicate name":  # a second member of name a, holding b's content
        members.insert(draw(st.integers(0, count)), (a, b_data, b_method))
        how = f"member {a!r} duplicated with the content of {b!r}"
    elif op == "drop":
        del members[i]
        how = f"member {a!r} dropped"
    elif op == "exchange":
        members[i], members[j] = (a, b_data, b_method), (b, a_data, a_method)
        how = f"contents of {a!r} and {b!r} exchanged"
    else:
        new = draw(st.sampled_from([b, a.upper(), a + "x", a.rpartition("/")[2], "", "/" + a]))
        members[i] = (new, a_data, a_method)
        how = f"member {a!r} renamed {new!r}"
    return Mutant(how, write_members(members))


_MAGICS = [b"", b"PK\x03\x04", _HDF5_MAGIC, b"\x80\x02", b"\x80\x02\x8a\x0a", b"{", b"\x08\x07"]


@st.composite
def random_files(draw: st.DrawFn, data: bytes) -> Mutant:
    """Random bytes, after the magic number of a format or none."""
    del data
    prefix = draw(st.sampled_from(_MAGICS))
    if draw(st.booleans()):  # a plausible safetensors header length
        prefix = struct.pack("<Q", draw(st.integers(0, 256))) + b"{"
    body = draw(st.binary(max_size=2048))
    return Mutant(f"random bytes after {prefix!r}", prefix + body)


MUTATIONS: dict[str, Callable[..., st.SearchStrategy[Mutant]]] = {
    "bit_flips": bit_flips,
    "overwrites": overwrites,
    "truncations": truncations,
    "inflations": inflations,
    "member_contents": member_mutations,
    "member_shuffles": member_shuffles,
    "random_bytes": random_files,
}
_ZIP_ONLY = ("member_contents", "member_shuffles")


def _cases() -> list[Any]:
    cases = []
    for name, fmt in FIXTURE_FORMATS.items():
        marks = [pytest.mark.skipif(_no_onnx(), reason="needs onnx")] if fmt == "onnx" else []
        for kind in MUTATIONS:
            if kind in _ZIP_ONLY and fmt not in _ZIP_FORMATS:
                continue
            cases.append(pytest.param(name, kind, marks=marks, id=f"{name}-{kind}"))
    return cases


def _no_onnx() -> bool:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return True
    return False


@cache
def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(("name", "kind"), _cases())
@settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_files_give_a_model_or_a_weight_file_error(worker, name, kind, data):
    original = fixture_bytes(name)
    mutant = data.draw(
        MUTATIONS[kind](original) if kind != "inflations" else inflations(original, name)
    )
    fmt = data.draw(st.sampled_from([None, FIXTURE_FORMATS[name]]), label="format")
    check_load(worker, mutant.data, name, fmt, mutant.how)


@pytest.mark.parametrize("name", list(FIXTURE_FORMATS))
def test_the_unmutated_fixtures_give_models(worker, name):
    """The harness itself: every fixture loads, in the worker, within the bounds."""
    if FIXTURE_FORMATS[name] == "onnx" and _no_onnx():
        pytest.skip("needs onnx")
    path = worker.directory / name
    path.write_bytes(fixture_bytes(name))
    reply = worker.load(path, None)
    assert reply["outcome"] == "model", reply
    assert reply["layers"] > 0
    assert reply["peak"] <= memory_limit(len(fixture_bytes(name)))


def test_the_harness_fails_on_other_exceptions_hangs_and_memory(worker, monkeypatch):
    """The checks can fail: a reader error that is not a WeightFileError, a hang and a memory
    peak above the limit are each reported."""
    path = worker.directory / "not-a-file"
    reply = worker.load(path, "npz")
    assert reply["outcome"] == "refused"  # FileNotFoundError is allowed
    reply = worker.load(worker.directory, "no-such-format")
    assert reply["outcome"] == "other"
    assert reply["error"].startswith("ValueError")
    monkeypatch.setattr(sys.modules[__name__], "HANG_SECONDS", 0.0)
    with pytest.raises(AssertionError, match="no outcome within"):
        check_load(worker, fixture_bytes("keras_sequential.h5"), "keras_sequential.h5", None, "")
    monkeypatch.undo()
    monkeypatch.setattr(sys.modules[__name__], "memory_limit", lambda size: 0)
    with pytest.raises(AssertionError, match="peaked at"):
        check_load(worker, fixture_bytes("torch_cnn.pt"), "torch_cnn.pt", None, "")


# -- regression tests: the reader bugs the fuzzing found, one deterministic file each --------------


def zip_with(source: str, edit: Callable[[dict[str, bytes]], dict[str, bytes]]) -> bytes:
    """A zip fixture with its members (name -> content) passed through ``edit``."""
    members = {name: content for name, content, _ in read_members(fixture_bytes(source))}
    return write_members([(n, c, zipfile.ZIP_STORED) for n, c in edit(members).items()])


def npy(header: str, payload: bytes = b"") -> bytes:
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f4', 'fortran_order': False, 'shape': ((3, 4), }\n",  # tokenize.TokenError
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)) }\n",  # SyntaxError
    ],
)
def test_an_npy_header_numpy_cannot_parse_is_a_weight_file_error(tmp_path, header):
    """Found: a bit flip in an .npy header made NumPy's header parser raise tokenize.TokenError."""
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arr_0.npy", npy(header, bytes(48)))
    with pytest.raises(WeightFileError, match=r"arr_0.npy is not a valid .npy member"):
        load_model(path)


def _global_heap_with(edit: Callable[[bytearray, int], None]) -> bytes:
    """keras_sequential.weights.h5 with its global heap collection (the layer names) edited:
    ``edit(data, offset of "GCOL")``. Its objects: 1 to 8 (index, refcount, reserved, 8-byte
    size, the name padded to 8 bytes) from byte 16, then the free space (index 0) at 272."""
    data = bytearray(fixture_bytes("keras_sequential.weights.h5"))
    heap = data.find(b"GCOL")
    assert data[heap + 240 : heap + 242] == b"\x08\x00"  # object 8 ...
    assert data[heap + 256 : heap + 265] == b"separable"  # ... holds 9 bytes
    assert data[heap + 272 : heap + 274] == b"\x00\x00"  # the free space
    edit(data, heap)
    return bytes(data)


def _free_space_of_size_zero(data: bytearray, heap: int) -> None:
    data[heap + 280 : heap + 288] = bytes(8)


def _object_shortened_into_its_padding(data: bytearray, heap: int) -> None:
    # 1 byte instead of 9: the walk goes on inside the name and its zero padding, where it
    # reads a free space of size 0
    data[heap + 248 : heap + 256] = (1).to_bytes(8, "little")


def _keras_archive_holding(weights: bytes) -> bytes:
    return zip_with("keras_sequential.keras", lambda m: {**m, "model.weights.h5": weights})


@pytest.mark.parametrize("edit", [_free_space_of_size_zero, _object_shortened_into_its_padding])
@pytest.mark.parametrize("container", ["weights.h5", "keras"])
def test_a_global_heap_libhdf5_would_walk_forever_is_refused(worker, edit, container):
    """Found: libhdf5 loops forever in H5HG__cache_heap_deserialize on these files (reading a
    layer's name attribute); they are refused before h5py opens them."""
    data = _global_heap_with(edit)
    name = "damaged.weights.h5"
    if container == "keras":
        data, name = _keras_archive_holding(data), "damaged.keras"
    reply = check_load(worker, data, name, None, edit.__name__)
    assert reply["outcome"] == "refused"
    assert "the HDF5 library would loop forever" in reply["error"]


def test_the_global_heap_check_reads_only_hdf5_files_and_keeps_the_position(tmp_path):
    from kernelkit.models._hdf5 import check_global_heaps

    stream = io.BytesIO(b"GCOL\x01\x00\x00\x00" + bytes(4096))  # no superblock: left alone
    stream.seek(5)
    check_global_heaps(stream, tmp_path / "x.h5")
    assert stream.tell() == 5
    stream = io.BytesIO(_global_heap_with(_free_space_of_size_zero))
    with pytest.raises(WeightFileError, match=r"object 0 of the global heap collection at byte"):
        check_global_heaps(stream, tmp_path / "x.h5")


def test_an_hdf5_address_a_file_object_cannot_seek_to_is_a_weight_file_error(tmp_path):
    """Found: a .keras archive whose weights declare a driver-information block at a huge
    address made h5py's file-object driver raise OverflowError."""
    with zipfile.ZipFile(FIXTURES / "keras_sequential.keras") as archive:
        weights = bytearray(archive.read("model.weights.h5"))
    assert weights[48:56] == b"\xff" * 8  # superblock v0: no driver information block
    weights[49] = 0x80  # now one at about 2**64
    path = tmp_path / "model.keras"
    path.write_bytes(_keras_archive_holding(bytes(weights)))
    with pytest.raises(WeightFileError, match="unreadable HDF5 file"):
        load_model(path)


def test_a_member_name_that_is_not_utf8_in_an_hdf5_group_is_a_weight_file_error(tmp_path):
    """Found: h5py names such a member with bytes, which the Keras 3 reader passed on as a str."""
    import h5py

    path = tmp_path / "model.weights.h5"
    shutil.copy(FIXTURES / "keras_sequential.weights.h5", path)
    with h5py.File(path, "r+") as f:
        groups: list[str] = []
        f.visit(lambda name: groups.append(name) if name.endswith("/vars") else None)
        f[groups[0]][b"\xff\xfe"] = np.zeros(3, np.float32)
    with pytest.raises(WeightFileError, match=r"a member name that is not UTF-8"):
        load_model(path)


def test_a_dataset_of_a_string_type_h5py_cannot_describe_is_a_weight_file_error(tmp_path):
    """Found: one flipped bit (the character set of a kernel's string type: 2, which does not
    exist) made h5py raise TypeError when the reader asked for the dtype."""
    data = bytearray(fixture_bytes("keras_sequential.h5"))
    data[35472] ^= 1 << 1
    path = tmp_path / "model.h5"
    path.write_bytes(bytes(data))
    with pytest.raises(WeightFileError, match=r"has a damaged element type"):
        load_model(path)


def test_a_shard_name_too_long_for_the_file_system_is_a_weight_file_error(tmp_path):
    """Found: a number inflated in a shard name made is_file() raise OSError (ENAMETOOLONG)."""
    path = tmp_path / "model.weights.json"
    shard = "x" * 5000 + ".weights.h5"
    path.write_text(json.dumps({"weight_map": {"/layers/conv2d/vars": [shard]}}))
    with pytest.raises(WeightFileError, match=r"shard 'xxx.*: File name too long"):
        load_model(path)


@pytest.mark.parametrize(
    ("source", "member"),
    [
        ("torch_cnn.pt", "torch_cnn/data.pkl"),
        ("torch_cnn.pt", "torch_cnn/data/0"),
        ("npz_sequential_list.npz", "arr_0.npy"),
        ("keras_sequential.keras", "config.json"),
    ],
)
def test_an_encrypted_zip_member_is_a_weight_file_error(tmp_path, source, member):
    """Found: a bit flip in a member's flags made zipfile raise RuntimeError (a password is
    required)."""
    data = bytearray(fixture_bytes(source))
    entry = data.find(b"PK\x01\x02")
    while data[entry + 46 : entry + 46 + len(member)] != member.encode():
        entry = data.find(b"PK\x01\x02", entry + 4)
    data[entry + 8] |= 0x1  # general purpose flags, bit 0: encrypted
    path = tmp_path / source
    path.write_bytes(bytes(data))
    with pytest.raises(WeightFileError, match=rf"member '{member}' is encrypted"):
        load_model(path)


@pytest.mark.parametrize(
    "declared",
    [
        b"B" + struct.pack("<I", 0xFFFF_FFF0),  # BINBYTES: 4 GiB
        b"\x8e" + struct.pack("<Q", 2**62),  # BINBYTES8
        b"\x8d" + struct.pack("<Q", 2**63 - 1),  # BINUNICODE8
        b"X" + struct.pack("<I", 0x7FFF_FFF0),  # BINUNICODE: 2 GiB
    ],
)
def test_a_legacy_pickle_declaring_a_huge_string_allocates_nothing_of_that_size(worker, declared):
    """Found: checking a legacy PyTorch file's pickle read a declared string length in one
    read, and a buffered file allocates that much before reading (gigabytes, or MemoryError)."""
    data = b"\x80\x02" + declared + bytes(64)
    reply = check_load(worker, data, "model.pt", "torch-legacy", "a huge declared string")
    assert reply["outcome"] == "refused"
    assert re.search(
        r"damaged pickle \(ValueError: expected \d+ bytes .* but only 64 remain", reply["error"]
    )


def test_an_input_layer_missing_from_a_keras_config_leaves_the_model_without_a_graph(tmp_path):
    """Found: a functional config whose input_layers name no layer made the graph builder raise
    StopIteration; the conv layers load and the graph problem says what is wrong."""

    def edit(members: dict[str, bytes]) -> dict[str, bytes]:
        config = json.loads(members["config.json"])
        config["config"]["input_layers"] = [["no_such_layer", 0, 0]]
        return {**members, "config.json": json.dumps(config).encode()}

    path = tmp_path / "model.keras"
    path.write_bytes(zip_with("keras_functional.keras", edit))
    model = load_model(path)
    assert len(model) == len(load_model(FIXTURES / "keras_functional.keras"))
    assert model.graph is None
    assert "'no_such_layer' is not one of the model's layers" in str(model.graph_problem)


# -- bounded reading: kernelkit layers --timeout --------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelkit", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("options", [[], ["--conv"]])
@pytest.mark.parametrize("name", ["keras_sequential.keras", "torch_cnn.pt"])
def test_layers_with_a_timeout_prints_what_layers_prints(name, options):
    path = str(FIXTURES / name)
    plain = run_cli("layers", path, *options)
    bounded = run_cli("layers", path, *options, "--timeout", "100")
    assert plain.returncode == 0, plain.stderr
    assert (bounded.returncode, bounded.stdout, bounded.stderr) == (0, plain.stdout, "")


def test_layers_with_a_timeout_reports_a_bad_file_as_layers_does(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"\x00 not a model")
    result = run_cli("layers", str(path), "--timeout", "100")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("kernelkit: error: ")
    assert str(path) in line


def test_layers_stops_a_read_that_runs_past_the_timeout(tmp_path):
    """Through the real path: no Python starts, let alone reads a file, within a microsecond."""
    path = FIXTURES / "keras_sequential.h5"
    result = run_cli("layers", str(path), "--timeout", "1e-6")
    assert result.returncode == 124
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (
        f"kernelkit: error: {path}: reading the file took longer than 1e-06 s (--timeout), "
        "and was stopped"
    )


def test_layers_kills_a_reader_that_never_returns(monkeypatch, capsys, tmp_path):
    """A reader stuck in C code (as libhdf5 can be) is killed: a child that sleeps stands in."""
    from kernelkit import _model_commands, cli

    marker = tmp_path / "still running"
    sleeper = f"import time, pathlib; time.sleep(30); pathlib.Path({str(marker)!r}).touch()"
    monkeypatch.setattr(
        _model_commands, "_layers_command", lambda args: [sys.executable, "-c", sleeper]
    )
    status = cli.main(["layers", str(FIXTURES / "keras_sequential.h5"), "--timeout", "0.5"])
    assert status == 124
    assert "took longer than 0.5 s" in capsys.readouterr().err
    assert not marker.exists()


def test_the_child_gets_the_same_arguments():
    from kernelkit import _model_commands, cli

    args = cli.build_parser().parse_args(
        ["--debug", "layers", "--format", "npz", "--layout", "OIHW", "--conv", "--", "-odd.npz"]
    )
    assert _model_commands._layers_command(args)[1:] == [
        "-m",
        "kernelkit",
        "--debug",
        "layers",
        "--format",
        "npz",
        "--layout",
        "OIHW",
        "--conv",
        "--",
        "-odd.npz",
    ]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_layers_refuses_a_timeout_that_is_not_a_positive_number(value):
    result = run_cli("layers", str(FIXTURES / "torch_cnn.pt"), "--timeout", value)
    assert result.returncode == 2
    assert "--timeout: expected a positive number of seconds" in result.stderr


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    _worker_main()
