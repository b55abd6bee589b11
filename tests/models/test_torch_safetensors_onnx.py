"""PyTorch, safetensors and ONNX files: the committed fixtures (made by the real libraries with
make_torch_onnx_fixtures.py) load without those libraries, their weights are the stored ones and
their layers reproduce the framework's own outputs; damaged and hostile files raise
kernelkit.WeightFileError and never run code."""

from __future__ import annotations

import dataclasses
import doctest
import functools
import json
import os
import pathlib
import pickle
import re
import shlex
import struct
import sys
import zipfile
from typing import Any

import numpy as np
import pytest

import kernelkit
from kernelkit.conv import resolve_padding
from kernelkit.models import ConvLayer
from kernelkit.models._layer import RUNNABLE_KINDS as RUNNABLE

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

#: The conv layers of FixtureCNN in state-dict order, and their kinds as a state dict shows them.
CNN_KINDS = {
    "stem": "conv2d",
    "depthwise": "depthwise",
    "dilated": "conv2d",
    "head": "conv2d",
    "temporal": "conv1d",
}
#: safetensors files keep no model order: their layers come sorted by name, and the depthwise
#: layer comes first, with no layer before it to tell its groups.
SORTED_KINDS = dict(sorted(CNN_KINDS.items()), depthwise="conv2d")


@functools.cache
def stored(name: str) -> dict[str, Any]:
    """The arrays of a committed ``*_reference.npz``."""
    with np.load(FIXTURES / name) as arrays:
        return {key: arrays[key] for key in arrays.files}


def true_config(layer: ConvLayer) -> ConvLayer:
    """``layer`` with the configuration the state dict does not store, from the fixture script."""
    config = json.loads(str(stored("torch_cnn_reference.npz")["config"]))[layer.name]
    return dataclasses.replace(
        layer,
        stride=tuple(config["stride"]),
        padding=tuple(config["padding"]),
        dilation=tuple(config["dilation"]),
        groups=config["groups"],
    )


def assert_runs_like_the_framework(layer: ConvLayer, outputs: dict[str, Any]) -> None:
    expected = outputs[f"{layer.name}/output"]
    result = layer(outputs[f"{layer.name}/input"])
    assert result.shape == expected.shape
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-5 * scale)


# -- state dicts: .pt (zip and legacy), checkpoint .pth, .safetensors ----------------------------

#: file -> (format, the layers' kinds in file order)
STATE_DICT_FILES = {
    "torch_cnn.pt": ("torch", CNN_KINDS),
    "torch_cnn_legacy.pt": ("torch-legacy", CNN_KINDS),
    "torch_cnn_checkpoint.pth": ("torch", CNN_KINDS),
    "safetensors_cnn.safetensors": ("safetensors", SORTED_KINDS),
}


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_files_list_their_conv_layers(name):
    model = kernelkit.load_model(FIXTURES / name)
    format, kinds = STATE_DICT_FILES[name]
    assert model.format == format
    assert {layer.name: layer.kind for layer in model} == kinds
    assert model.names == list(kinds)
    for layer in model:
        assert layer.weight_layout == "OIHW"
        assert layer.data_format == "NCHW"
        assert layer.config_known is False


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_weights_are_the_stored_ones(name):
    outputs = stored("torch_cnn_reference.npz")
    model = kernelkit.load_model(FIXTURES / name)
    for layer in model.layers[:-1]:
        np.testing.assert_array_equal(layer.weight, outputs[f"{layer.name}/weight"])
        assert layer.weight.dtype == np.float32
        if f"{layer.name}/bias" in outputs:
            np.testing.assert_array_equal(layer.bias, outputs[f"{layer.name}/bias"])
        else:
            assert layer.bias is None
    assert model["temporal"].weight.shape == (4, 6, 3)


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_layers_with_the_true_config_give_pytorchs_output(name):
    outputs = stored("torch_cnn_reference.npz")
    model = kernelkit.load_model(FIXTURES / name)
    for layer in model:
        if layer.kind != "conv1d":
            assert_runs_like_the_framework(true_config(layer), outputs)


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_layers_get_default_configs(name):
    outputs = stored("torch_cnn_reference.npz")
    model = kernelkit.load_model(FIXTURES / name)
    for layer in model.layers[:-1]:
        assert (layer.stride, layer.padding, layer.dilation) == ((1, 1), 0, (1, 1))
        assert layer.activation is None
        if layer.kind != "depthwise":
            assert layer.groups == 1
        else:
            assert layer.groups == true_config(layer).groups
    # with the defaults the strided, padded layers do not reproduce PyTorch's output shape
    depthwise = true_config(model["depthwise"])
    default = dataclasses.replace(depthwise, stride=(1, 1), padding=0)
    x = outputs["depthwise/input"]
    assert default(x).shape != outputs["depthwise/output"].shape


def test_the_conv1d_layer_is_listed_but_not_run():
    layer = kernelkit.load_model(FIXTURES / "safetensors_cnn.safetensors")["temporal"]
    assert layer.kind == "conv1d"
    with pytest.raises(ValueError, match="temporal"):
        layer(np.zeros((1, 6, 5, 5), np.float32))


MIXED_DTYPES = {
    "stem": np.float16,
    "depthwise": np.float32,  # stored as bfloat16
    "dilated": np.float64,
    "head": np.float32,
}


@pytest.mark.parametrize("name", ["torch_mixed_dtypes.pt", "safetensors_mixed_dtypes.safetensors"])
def test_element_types_are_read_exactly(name):
    outputs = stored("torch_cnn_reference.npz")
    model = kernelkit.load_model(FIXTURES / name)
    for layer_name, dtype in MIXED_DTYPES.items():
        layer = model[layer_name]
        assert layer.weight.dtype == dtype
        np.testing.assert_array_equal(layer.weight, outputs[f"mixed/{layer_name}.weight"])
        if layer.bias is not None:
            np.testing.assert_array_equal(layer.bias, outputs[f"mixed/{layer_name}.bias"])


def test_a_strided_torch_view_is_read_from_its_storage_offset_and_strides():
    layer = kernelkit.load_model(FIXTURES / "torch_mixed_dtypes.pt")["strided"]
    expected = stored("torch_cnn_reference.npz")["mixed/strided.weight"]
    np.testing.assert_array_equal(layer.weight, expected)
    assert layer.weight.flags.c_contiguous
    assert layer.weight.flags.writeable


def test_safetensors_metadata_gives_the_framework():
    assert kernelkit.load_model(FIXTURES / "safetensors_cnn.safetensors").framework_version == "pt"
    assert (
        kernelkit.load_model(FIXTURES / "safetensors_mixed_dtypes.safetensors").framework_version
        is None
    )


def test_safetensors_layers_come_in_natural_name_order(tmp_path):
    names = ["block10.weight", "block2.weight", "block1.weight"]
    header = {name: tensor_entry("F32", [1, 1, 1, 1], 4 * i) for i, name in enumerate(names)}
    path = write_safetensors(tmp_path, header, bytes(12))
    assert kernelkit.load_model(path).names == ["block1", "block2", "block10"]


def test_safetensors_keras_style_kernels_are_hwio(tmp_path):
    kernel = np.arange(3 * 3 * 2 * 4, dtype="<f4").reshape(3, 3, 2, 4)
    bias = np.arange(4, dtype="<f4")
    header = {
        "conv/kernel": tensor_entry("F32", list(kernel.shape), 0),
        "conv/bias": tensor_entry("F32", [4], kernel.nbytes),
    }
    path = write_safetensors(tmp_path, header, kernel.tobytes() + bias.tobytes())
    layer = kernelkit.load_model(path)["conv"]
    assert (layer.weight_layout, layer.data_format) == ("HWIO", "NHWC")
    np.testing.assert_array_equal(layer.weight, kernel)
    np.testing.assert_array_equal(layer.bias, bias)


@pytest.mark.parametrize(
    ("kernel_shape", "bias_size", "kind", "layout"),
    [
        ((3, 3, 4, 2), 8, "depthwise", "HWCM"),  # Keras 3 DepthwiseConv2D: C x M biases
        ((2, 2, 3, 5), 3, "conv2d_transpose", "HWOI"),  # Conv2DTranspose: O biases, O third
    ],
)
def test_keras_style_kernels_follow_their_bias(tmp_path, kernel_shape, bias_size, kind, layout):
    kernel_bytes = 4 * int(np.prod(kernel_shape))
    header = {
        "k/kernel": tensor_entry("F32", list(kernel_shape), 0),
        "k/bias": tensor_entry("F32", [bias_size], kernel_bytes),
    }
    path = write_safetensors(tmp_path, header, bytes(kernel_bytes + 4 * bias_size))
    layer = kernelkit.load_model(path)["k"]
    assert (layer.kind, layer.weight_layout, layer.out_channels) == (kind, layout, bias_size)


def test_a_bias_that_does_not_match_the_filters_marks_a_transposed_convolution(tmp_path):
    header = {
        "up.weight": tensor_entry("F32", [3, 2, 2, 2], 0),  # ConvTranspose2d(3, 2, 2)
        "up.bias": tensor_entry("F32", [2], 96),
    }
    layer = kernelkit.load_model(write_safetensors(tmp_path, header, bytes(104)))["up"]
    assert (layer.kind, layer.weight_layout) == ("conv2d_transpose", "IOHW")
    assert (layer.in_channels, layer.out_channels) == (3, 2)
    with pytest.raises(ValueError, match="up"):
        layer(np.zeros((1, 3, 4, 4), np.float32))


# -- damaged and hostile safetensors files --------------------------------------------------------


def tensor_entry(dtype: str, shape: list[int], begin: int, nbytes: int | None = None) -> Any:
    itemsize = {"F32": 4, "F16": 2, "F8_E4M3": 1, "X9": 4}[dtype]
    size = int(np.prod(shape)) * itemsize if nbytes is None else nbytes
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + size]}


def write_safetensors(
    directory: pathlib.Path, header: Any, data: bytes, *, header_text: bytes | None = None
) -> pathlib.Path:
    text = json.dumps(header).encode() if header_text is None else header_text
    path = directory / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


BAD_SAFETENSORS = {
    "overlap": (
        {"a.weight": tensor_entry("F32", [4], 0), "b.weight": tensor_entry("F32", [4], 8)},
        bytes(24),
        "overlap",
    ),
    "out of range": (
        {"a.weight": tensor_entry("F32", [1, 1, 2, 2], 0)},
        bytes(8),
        "past its end",
    ),
    "size mismatch": (
        {"a.weight": tensor_entry("F32", [2, 3], 0, nbytes=20)},
        bytes(20),
        "needs 24",
    ),
    "hole": (
        {"a.weight": tensor_entry("F32", [2], 0), "b.weight": tensor_entry("F32", [2], 16)},
        bytes(24),
        "belong to no tensor",
    ),
    "trailing bytes": ({"a.weight": tensor_entry("F32", [2], 0)}, bytes(12), "no tensor"),
    "negative offset": (
        {"a.weight": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}},
        bytes(4),
        "data_offsets",
    ),
    "reversed offsets": (
        {"a.weight": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
        bytes(4),
        "data_offsets",
    ),
    "boolean shape": (
        {"a.weight": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
        bytes(4),
        "shape",
    ),
    "unknown dtype": ({"a.weight": tensor_entry("X9", [1], 0)}, bytes(4), "unknown dtype"),
    "float8 conv weight": (
        {"a.weight": tensor_entry("F8_E4M3", [1, 1, 2, 2], 0)},
        bytes(4),
        "F8_E4M3, which kernelkit cannot read",
    ),
    "entry not an object": ({"a.weight": [1, 2]}, b"", "not a JSON object"),
    "header not an object": ([1, 2], b"", "not a JSON object"),
    "metadata not an object": ({"__metadata__": "pt"}, b"", "__metadata__"),
    "2-D bias": (
        {
            "a.weight": tensor_entry("F32", [1, 1, 1, 1], 0),
            "a.bias": tensor_entry("F32", [1, 1], 4),
        },
        bytes(8),
        "expected a vector",
    ),
}


@pytest.mark.parametrize("case", BAD_SAFETENSORS)
def test_inconsistent_safetensors_headers_raise(tmp_path, case):
    header, data, message = BAD_SAFETENSORS[case]
    path = write_safetensors(tmp_path, header, data)
    with pytest.raises(kernelkit.WeightFileError, match=message) as info:
        kernelkit.load_model(path, format="safetensors")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("header_text", "message"),
    [
        (b"{not json}", "not valid JSON"),
        (b'{"a": {}, "a": {}}', "appears twice"),
        (b"\xff\xfe{}", "not valid JSON"),
        pytest.param(b"[" * 100_000, "not valid JSON", id="nested too deeply"),  # RecursionError
    ],
)
def test_safetensors_headers_that_are_not_json_raise(tmp_path, header_text, message):
    path = write_safetensors(tmp_path, None, b"", header_text=header_text)
    with pytest.raises(kernelkit.WeightFileError, match=message):
        kernelkit.load_model(path, format="safetensors")


@pytest.mark.parametrize("length", [2**63 + 5, 2**40, 100 * 2**20 + 1])
def test_a_huge_safetensors_header_length_is_refused_before_reading(tmp_path, length):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", length) + b'{"a": 1}')
    with pytest.raises(kernelkit.WeightFileError, match="exceeds the limit"):
        kernelkit.load_model(path, format="safetensors")
    with pytest.raises(kernelkit.WeightFileError, match="unknown format"):
        kernelkit.load_model(path)


def test_a_safetensors_header_longer_than_the_file_is_truncation(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b'{"a": 1}')
    with pytest.raises(kernelkit.WeightFileError, match="truncated"):
        kernelkit.load_model(path, format="safetensors")


@pytest.mark.parametrize("keep", [0, 5, 8, 60, 0.5, 0.99])
def test_truncated_safetensors_files_raise(tmp_path, keep):
    data = (FIXTURES / "safetensors_cnn.safetensors").read_bytes()
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(kernelkit.WeightFileError):
        kernelkit.load_model(path, format="safetensors")


# -- PyTorch files written by hand: the two containers, without torch -----------------------------
# A few pickle protocol 2 opcodes suffice to write what torch.save writes.


def p_global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def p_str(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def p_int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def p_tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def p_call(function: bytes, *args: bytes) -> bytes:
    return function + p_tuple(*args) + b"R"


def p_dict(items: dict[str, bytes]) -> bytes:
    return b"}(" + b"".join(p_str(k) + v for k, v in items.items()) + b"u"


def p_pickle(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


def p_tensor(
    key: str,
    numel: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    offset: int = 0,
    *,
    storage_type: str = "FloatStorage",
    legacy: bool = False,
) -> bytes:
    """torch._utils._rebuild_tensor_v2 of a storage persistent id, as torch.save writes it."""
    fields = [p_str("storage"), p_global("torch", storage_type), p_str(key), p_str("cpu")]
    storage = p_tuple(*fields, p_int(numel), *([b"N"] if legacy else [])) + b"Q"
    return p_call(
        p_global("torch._utils", "_rebuild_tensor_v2"),
        storage,
        p_int(offset),
        p_tuple(*map(p_int, size)),
        p_tuple(*map(p_int, stride)),
        b"\x89",  # requires_grad=False
        p_call(p_global("collections", "OrderedDict")),
    )


def conv_state_dict(weight: np.ndarray, *, legacy: bool = False) -> bytes:
    """The pickle of {"conv.weight": weight} with a contiguous float32 storage "0"."""
    strides = tuple(s // weight.itemsize for s in weight.strides)
    tensor = p_tensor("0", weight.size, weight.shape, strides, legacy=legacy)
    return p_pickle(p_dict({"conv.weight": tensor}))


def write_torch_zip(
    path: pathlib.Path,
    pickled: bytes,
    storages: dict[str, bytes],
    *,
    byteorder: str = "little",
    extra: tuple[str, ...] = (),
) -> pathlib.Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", byteorder)
        for key, data in storages.items():
            archive.writestr(f"archive/data/{key}", data)
        for name in extra:
            archive.writestr(f"archive/{name}", b"")
    return path


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}


def write_torch_legacy(
    path: pathlib.Path,
    pickled: bytes,
    storages: dict[str, np.ndarray],
    *,
    header: tuple[Any, ...] = (LEGACY_MAGIC, 1001, SYS_INFO),
) -> pathlib.Path:
    parts = [pickle.dumps(value, protocol=2) for value in header]
    parts += [pickled, pickle.dumps(list(storages), protocol=2)]
    for values in storages.values():
        parts += [struct.pack("<q", values.size), values.tobytes()]
    path.write_bytes(b"".join(parts))
    return path


HOOKS = p_call(p_global("collections", "OrderedDict"))
WEIGHT = np.arange(2 * 3 * 2 * 2, dtype="<f4").reshape(2, 3, 2, 2) - 5.5


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_hand_made_pytorch_files_are_read(tmp_path, container):
    if container == "zip":
        path = write_torch_zip(tmp_path / "w.pt", conv_state_dict(WEIGHT), {"0": WEIGHT.tobytes()})
    else:
        path = write_torch_legacy(
            tmp_path / "w.pt", conv_state_dict(WEIGHT, legacy=True), {"0": WEIGHT}
        )
    layer = kernelkit.load_model(path)["conv"]
    np.testing.assert_array_equal(layer.weight, WEIGHT)
    assert layer.weight.dtype == np.float32


def test_big_endian_zip_storages_are_swapped(tmp_path):
    big = WEIGHT.astype(">f4").tobytes()
    path = write_torch_zip(tmp_path / "w.pt", conv_state_dict(WEIGHT), {"0": big}, byteorder="big")
    np.testing.assert_array_equal(kernelkit.load_model(path)["conv"].weight, WEIGHT)


def test_parameters_and_untyped_storages_with_a_dtype_are_read(tmp_path):
    """_rebuild_parameter wraps a tensor; _rebuild_tensor_v3 (newer dtypes) gives an untyped
    byte storage and the dtype separately."""
    v3 = p_call(
        p_global("torch._utils", "_rebuild_tensor_v3"),
        p_tuple(
            p_str("storage"),
            p_global("torch", "UntypedStorage"),
            p_str("0"),
            p_str("cpu"),
            p_int(WEIGHT.nbytes),
        )
        + b"Q",
        p_int(0),
        p_tuple(*map(p_int, WEIGHT.shape)),
        p_tuple(p_int(12), p_int(4), p_int(2), p_int(1)),
        b"\x89",
        HOOKS,
        p_global("torch", "float32"),
    )
    parameter = p_call(p_global("torch._utils", "_rebuild_parameter"), v3, b"\x88", HOOKS)
    pickled = p_pickle(p_dict({"conv.weight": parameter}))
    path = write_torch_zip(tmp_path / "w.pt", pickled, {"0": WEIGHT.tobytes()})
    np.testing.assert_array_equal(kernelkit.load_model(path)["conv"].weight, WEIGHT)


@pytest.mark.parametrize("zip_format", [True, False])
def test_files_that_torch_writes_with_parameters_and_new_dtypes(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    kernel = torch.from_numpy(np.arange(24, dtype=np.uint16).reshape(2, 3, 2, 2))
    state = {"a.weight": torch.nn.Parameter(torch.ones(4, 1, 3, 3)), "b.weight": kernel}
    path = tmp_path / "new.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    model = kernelkit.load_model(path)
    np.testing.assert_array_equal(model["a"].weight, np.ones((4, 1, 3, 3), np.float32))
    np.testing.assert_array_equal(model["b"].weight, kernel.numpy())
    assert model["b"].weight.dtype == np.uint16


# -- damaged and hostile PyTorch files ------------------------------------------------------------


class RunsCode:
    """An object whose unpickling calls ``function(argument)``."""

    def __init__(self, function: Any, argument: str) -> None:
        self.function, self.argument = function, argument

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return self.function, (self.argument,)


def code_that_creates(marker: pathlib.Path, how: str) -> RunsCode:
    if how == "os.system":
        return RunsCode(os.system, f"touch {shlex.quote(str(marker))}")
    return RunsCode(exec, f"open({str(marker)!r}, 'w').close()")


HOSTILE = ["os.system", "exec"]


@pytest.mark.parametrize("how", HOSTILE)
def test_the_hostile_pickles_run_code_under_plain_pickle(tmp_path, how):
    """The control for the two tests below: the same bytes do run code when trusted."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(code_that_creates(marker, how), protocol=2))
    assert marker.exists()


@pytest.mark.parametrize("how", HOSTILE)
def test_a_zip_pickle_that_runs_code_is_refused(tmp_path, how):
    marker = tmp_path / "ran"
    hostile = pickle.dumps({"conv.weight": code_that_creates(marker, how)}, protocol=2)
    path = write_torch_zip(tmp_path / "hostile.pt", hostile, {})
    with pytest.raises(kernelkit.WeightFileError, match="refusing to load the pickled global"):
        kernelkit.load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("how", HOSTILE)
@pytest.mark.parametrize("position", ["magic number", "system info", "object"])
def test_a_legacy_pickle_that_runs_code_is_refused(tmp_path, how, position):
    marker = tmp_path / "ran"
    hostile = code_that_creates(marker, how)
    header: tuple[Any, ...] = {
        "magic number": (hostile, 1001, SYS_INFO),
        "system info": (LEGACY_MAGIC, 1001, hostile),
        "object": (LEGACY_MAGIC, 1001, SYS_INFO),
    }[position]
    pickled = conv_state_dict(WEIGHT, legacy=True)
    if position == "object":
        pickled = pickle.dumps(hostile, protocol=2)
    path = write_torch_legacy(tmp_path / "hostile.pt", pickled, {"0": WEIGHT}, header=header)
    with pytest.raises(kernelkit.WeightFileError, match="refusing to load the pickled global"):
        kernelkit.load_model(path, format="torch-legacy")
    assert not marker.exists()


def test_a_pickled_whole_module_is_refused_with_advice():
    with pytest.raises(
        kernelkit.WeightFileError, match=r"whole nn\.Module.*state_dict\(\)"
    ) as info:
        kernelkit.load_model(FIXTURES / "torch_whole_module.pt")
    assert "torch.nn.modules.container.Sequential" in str(info.value)


REBUILD = p_global("torch._utils", "_rebuild_tensor_v2")
LAUGHS = p_int(1) + b"2\x86" * 20  # 20 x (DUP, TUPLE2)

#: case -> (data.pkl, storages, what the error says)
BAD_ZIP_PICKLES = {
    "tensor past its storage": (
        p_pickle(p_dict({"a.weight": p_tensor("0", 4, (1, 1, 2, 3), (6, 6, 3, 1))})),
        {"0": bytes(16)},
        "reaches element 5 of storage '0', which has 4",
    ),
    "broadcast view larger than its storage": (
        p_pickle(p_dict({"a.weight": p_tensor("0", 1, (1000, 1000, 1000, 1000), (0, 0, 0, 0))})),
        {"0": bytes(4)},
        "has more elements than its storage (1)",
    ),
    "storage shorter than declared": (
        conv_state_dict(WEIGHT),
        {"0": WEIGHT.tobytes()[:-4]},
        "holds 92 bytes where 96 are expected",
    ),
    "storage longer than declared": (conv_state_dict(WEIGHT), {"0": bytes(100)}, "100 bytes"),
    "missing storage": (conv_state_dict(WEIGHT), {}, "data/0"),
    "huge memo index": (b"\x80\x02K\x01r\xff\xff\xff\x0f.", {}, "memo index of 268435455"),
    # (((1, 1), (1, 1)), ...) 20 levels deep from one object: 2**20 values to print or hash
    "billion laughs persistent id": (p_pickle(LAUGHS + b"Q"), {}, "shared references expand"),
    "billion laughs dict key": (
        p_pickle(b"}" + LAUGHS + p_int(0) + b"s"),
        {},
        "shared references expand",
    ),
    "truncated pickle": (conv_state_dict(WEIGHT)[:-12], {"0": WEIGHT.tobytes()}, "damaged pickle"),
    "not a dict": (p_pickle(p_int(5)), {}, "no state dict found: the file holds int"),
    "a dict without tensors": (pickle.dumps({"epoch": 3}), {}, "a dict without tensors"),
    "tensor without storage": (
        p_pickle(p_dict({"a": p_call(REBUILD, p_int(1), p_int(0), p_tuple(), p_tuple())})),
        {},
        "a tensor without a storage",
    ),
    "negative offset": (
        p_pickle(p_dict({"a.weight": p_tensor("0", 4, (1, 1, 2, 2), (4, 4, 2, 1), -1)})),
        {"0": bytes(16)},
        "a tensor with offset -1",
    ),
    "size and stride of different ranks": (
        p_pickle(p_dict({"a.weight": p_tensor("0", 4, (1, 1, 2, 2), (4, 2, 1))})),
        {"0": bytes(16)},
        "a tensor with offset 0",
    ),
    "unknown persistent id": (
        p_pickle(p_tuple(p_str("blob")) + b"Q"),
        {},
        "unexpected persistent id",
    ),
    "storage declared twice differently": (
        p_pickle(
            p_dict(
                {
                    "a.weight": p_tensor("0", 4, (1, 1, 2, 2), (4, 4, 2, 1)),
                    "b.weight": p_tensor("0", 8, (1, 2, 2, 2), (8, 4, 2, 1)),
                }
            )
        ),
        {"0": bytes(32)},
        "declared twice",
    ),
    "quantized storage": (
        p_pickle(p_dict({"a.weight": p_tensor("0", 4, (4,), (1,), storage_type="QInt8Storage")})),
        {"0": bytes(4)},
        "refusing to load the pickled global torch.QInt8Storage",
    ),
}


@pytest.mark.parametrize("case", BAD_ZIP_PICKLES)
def test_inconsistent_zip_pytorch_files_raise(tmp_path, case):
    pickled, storages, message = BAD_ZIP_PICKLES[case]
    path = write_torch_zip(tmp_path / "bad.pt", pickled, storages)
    with pytest.raises(kernelkit.WeightFileError, match=re.escape(message)) as info:
        kernelkit.load_model(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("extra", "byteorder", "message"),
    [
        (("constants.pkl",), "little", "TorchScript"),
        ((), "middle", "unknown byte order"),
    ],
)
def test_zip_archives_that_are_not_state_dict_files_raise(tmp_path, extra, byteorder, message):
    data = {"0": WEIGHT.tobytes()}
    path = write_torch_zip(
        tmp_path / "w.pt", conv_state_dict(WEIGHT), data, byteorder=byteorder, extra=extra
    )
    with pytest.raises(kernelkit.WeightFileError, match=message):
        kernelkit.load_model(path)


def test_a_zip_without_data_pkl_raises(tmp_path):
    path = tmp_path / "w.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data/0", WEIGHT.tobytes())
    with pytest.raises(kernelkit.WeightFileError, match=r"data\.pkl"):
        kernelkit.load_model(path, format="torch")


def declare_uncompressed_size(archive: bytes, member: str, size: int) -> bytes:
    """``archive`` with the central directory entry of ``member`` claiming ``size`` bytes."""
    position = archive.find(b"PK\x01\x02")
    while position >= 0:
        (name_length,) = struct.unpack_from("<H", archive, position + 28)
        if archive[position + 46 : position + 46 + name_length] == member.encode():
            size_field = position + 24
            return archive[:size_field] + struct.pack("<I", size) + archive[size_field + 4 :]
        position = archive.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"no member {member}")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("member", ["archive/data.pkl", "archive/data/0"])
def test_a_zip_member_with_an_absurd_declared_size_is_refused(tmp_path, method, member):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("archive/data.pkl", conv_state_dict(WEIGHT))
        archive.writestr("archive/data/0", WEIGHT.tobytes())
    path.write_bytes(declare_uncompressed_size(path.read_bytes(), member, 0xFFFFFFF0))
    with pytest.raises(kernelkit.WeightFileError, match="zip bomb"):
        kernelkit.load_model(path)


#: case -> (header pickles, the object's pickle, storages, what the error says)
BAD_LEGACY = {
    "wrong magic number": ((12345, 1001, SYS_INFO), None, {"0": WEIGHT}, "wrong magic number"),
    "wrong protocol": ((LEGACY_MAGIC, 1000, SYS_INFO), None, {"0": WEIGHT}, "protocol 1000"),
    "bad system info": ((LEGACY_MAGIC, 1001, "x"), None, {"0": WEIGHT}, "system info"),
    "element count mismatch": (
        None,
        p_pickle(p_dict({"a.weight": p_tensor("0", 5, (5,), (1,), legacy=True)})),
        {"0": np.zeros(4, np.float32)},
        "4 elements where 5 are declared",
    ),
    "storage used by no tensor": (
        None,
        None,
        {"0": WEIGHT, "1": WEIGHT},
        "storage '1' is used by no tensor",
    ),
    "storage view": (
        None,
        p_pickle(
            p_dict(
                {
                    "a.weight": p_call(
                        REBUILD,
                        p_tuple(
                            p_str("storage"),
                            p_global("torch", "FloatStorage"),
                            p_str("0"),
                            p_str("cpu"),
                            p_int(4),
                            p_tuple(p_str("1"), p_int(0), p_int(4)),
                        )
                        + b"Q",
                        p_int(0),
                        p_tuple(p_int(4)),
                        p_tuple(p_int(1)),
                    )
                }
            )
        ),
        {"0": np.zeros(4, np.float32)},
        "storage views",
    ),
}


@pytest.mark.parametrize("case", BAD_LEGACY)
def test_inconsistent_legacy_pytorch_files_raise(tmp_path, case):
    header, pickled, storages, message = BAD_LEGACY[case]
    path = write_torch_legacy(
        tmp_path / "bad.pt",
        conv_state_dict(WEIGHT, legacy=True) if pickled is None else pickled,
        storages,
        header=(LEGACY_MAGIC, 1001, SYS_INFO) if header is None else header,
    )
    with pytest.raises(kernelkit.WeightFileError, match=message):
        kernelkit.load_model(path, format="torch-legacy")


@pytest.mark.parametrize(
    "name", ["torch_cnn.pt", "torch_cnn_legacy.pt", "torch_cnn_checkpoint.pth"]
)
@pytest.mark.parametrize("keep", [0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_pytorch_files_raise(tmp_path, name, keep):
    data = (FIXTURES / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    format = "torch-legacy" if "legacy" in name else "torch"
    with pytest.raises(kernelkit.WeightFileError):
        kernelkit.load_model(path, format=format)


# -- ONNX -----------------------------------------------------------------------------------------


@pytest.fixture
def onnx():
    """The onnx package, which the ONNX reader needs (the test extra installs it)."""
    return pytest.importorskip("onnx")


ONNX_FILES = ["onnx_cnn.onnx", "onnx_constant_weights.onnx"]


def onnx_reference(name: str) -> dict[str, Any]:
    return stored(name.replace(".onnx", "_reference.npz"))


@pytest.mark.parametrize("name", ONNX_FILES)
def test_onnx_weights_are_the_stored_ones(onnx, name):
    reference = onnx_reference(name)
    model = kernelkit.load_model(FIXTURES / name)
    assert model.format == "onnx"
    for layer in model:
        if layer.kind == "conv2d_transpose":
            continue
        np.testing.assert_array_equal(layer.weight, reference[f"{layer.name}/weight"])
        if f"{layer.name}/bias" in reference:
            np.testing.assert_array_equal(layer.bias, reference[f"{layer.name}/bias"])
        else:
            assert layer.bias is None
        assert layer.config_known
        assert layer.activation is None


@pytest.mark.parametrize("name", ONNX_FILES)
def test_onnx_layers_give_onnxruntimes_output(onnx, name):
    reference = onnx_reference(name)
    runnable = [layer for layer in kernelkit.load_model(FIXTURES / name) if layer.kind in RUNNABLE]
    assert {f"{layer.name}/output" for layer in runnable} == {
        key for key in reference if key.endswith("/output") and reference[key].ndim == 4
    }
    for layer in runnable:
        assert_runs_like_the_framework(layer, reference)


def test_an_exported_pytorch_model_keeps_its_configuration(onnx):
    model = kernelkit.load_model(FIXTURES / "onnx_cnn.onnx")
    assert model.framework_version.startswith("pytorch ")
    assert [layer.kind for layer in model] == list(CNN_KINDS.values())
    config = json.loads(str(stored("torch_cnn_reference.npz")["config"]))
    for layer in model.layers[:-1]:
        true = config[layer.name.split("/")[1]]
        assert layer.stride == tuple(true["stride"])
        assert layer.dilation == tuple(true["dilation"])
        assert layer.groups == true["groups"]
        ph, pw = true["padding"]
        assert resolve_padding(layer.padding, (9, 9), (3, 3), (1, 1), (1, 1)) == (ph, ph, pw, pw)
    assert model["/temporal/Conv"].weight.shape == (4, 6, 3)


#: layer -> (kind, stride, padding, dilation, groups) of onnx_constant_weights.onnx
CONSTANT_WEIGHTS_LAYERS = {
    "same_upper_s2": ("conv2d", (2, 2), "same", (1, 1), 1),
    "same_lower_s2_grouped": ("conv2d", (2, 2), "same_lower", (1, 1), 2),
    "same_lower_s1_depthwise": ("depthwise", (1, 1), "same_lower", (1, 1), 6),
    "explicit_dilated": ("conv2d", (1, 1), ((0, 2), (1, 1)), (2, 2), 1),
    "valid_pointwise": ("conv2d", (1, 1), "valid", (1, 1), 1),
    "upsample": ("conv2d_transpose", (2, 2), 0, (1, 1), 1),
}


def test_constant_node_weights_and_auto_pad_are_read(onnx):
    model = kernelkit.load_model(FIXTURES / "onnx_constant_weights.onnx")
    assert model.framework_version == "kernelkit-fixtures 1.0"
    assert model.names == list(CONSTANT_WEIGHTS_LAYERS)
    for layer in model:
        config = (layer.kind, layer.stride, layer.padding, layer.dilation, layer.groups)
        assert config == CONSTANT_WEIGHTS_LAYERS[layer.name]
    upsample = model["upsample"]
    assert (upsample.weight_layout, upsample.in_channels, upsample.out_channels) == ("IOHW", 3, 2)
    with pytest.raises(ValueError, match="upsample"):
        upsample(np.zeros((1, 3, 4, 4), np.float32))


def test_same_lower_padding_is_resolved_for_each_input_and_layout(onnx):
    """conv2d takes padding="same_lower", so the layer's padding is usable as it is."""
    layer = kernelkit.load_model(FIXTURES / "onnx_constant_weights.onnx")["same_lower_s2_grouped"]
    reference = onnx_reference("onnx_constant_weights.onnx")
    x, expected = reference[f"{layer.name}/input"], reference[f"{layer.name}/output"]
    nhwc = layer(x.transpose(0, 2, 3, 1), layout="NHWC")
    np.testing.assert_allclose(nhwc.transpose(0, 3, 1, 2), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer(x[0]), expected[0], rtol=1e-4, atol=1e-5)
    # 9 rows needed one padding row at the top; 8 rows need none, so the pads follow the input
    x8 = x[:, :, 1:]
    unpadded = kernelkit.conv2d(x8, layer.weight, layer.bias, stride=2, groups=layer.groups)
    np.testing.assert_allclose(layer(x8), unpadded, rtol=1e-6)
    config = (layer.stride, layer.padding, layer.dilation, layer.groups)
    direct = kernelkit.conv2d(x, layer.oihw(), layer.bias, *config)
    np.testing.assert_allclose(direct, expected, rtol=1e-4, atol=1e-5)


def test_the_onnx_reader_example_runs(onnx):
    """tests/test_docstrings.py runs the examples of the modules without optional dependencies."""
    from kernelkit.models import onnx_file

    result = doctest.testmod(onnx_file, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_onnx_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=re.escape('pip install "kernelkit[onnx]"')):
        kernelkit.load_model(FIXTURES / "onnx_cnn.onnx")


def test_the_cli_says_how_to_install_onnx_in_one_line(monkeypatch, capsys):
    from kernelkit.cli import main

    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["layers", str(FIXTURES / "onnx_cnn.onnx")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        'kernelkit: error: reading ONNX files needs the onnx package: pip install "kernelkit[onnx]"'
    ]


def conv_model(onnx: Any, conv: Any, *, weight_as_input: bool = False) -> bytes:
    """A one-Conv model with weight ``w`` (2, 1, 3, 3) as an initializer or a graph input."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])]
    if weight_as_input:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 1, 3, 3]))
    graph = helper.make_graph(
        [conv],
        "g",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [] if weight_as_input else [weight],
    )
    return helper.make_model(graph).SerializeToString()


BAD_CONV_ATTRIBUTES = {
    "three strides": ({"strides": [1, 1, 1]}, "strides"),
    "zero stride": ({"strides": [0, 1]}, "must be >= 1"),
    "kernel shape of another weight": ({"kernel_shape": [2, 2]}, "kernel_shape"),
    "unknown auto_pad": ({"auto_pad": "MIDDLE"}, "unknown auto_pad"),
    "negative pads": ({"pads": [1, -1, 1, 1]}, "pads"),
    "zero group": ({"group": 0}, "group"),
}


@pytest.mark.parametrize("case", BAD_CONV_ATTRIBUTES)
def test_inconsistent_onnx_conv_attributes_raise(onnx, tmp_path, case):
    attributes, message = BAD_CONV_ATTRIBUTES[case]
    conv = onnx.helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attributes)
    path = tmp_path / "bad.onnx"
    path.write_bytes(conv_model(onnx, conv))
    with pytest.raises(kernelkit.WeightFileError, match=message):
        kernelkit.load_model(path)


def test_an_onnx_weight_computed_at_run_time_raises(onnx, tmp_path):
    conv = onnx.helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    path = tmp_path / "input_weight.onnx"
    path.write_bytes(conv_model(onnx, conv, weight_as_input=True))
    with pytest.raises(kernelkit.WeightFileError, match="computed at run time"):
        kernelkit.load_model(path)


def test_onnx_strings_that_are_not_utf8_are_read_with_replacement_characters(onnx, tmp_path):
    """protobuf hands such strings over as bytes; ONNX requires UTF-8 but files can break it."""
    conv = onnx.helper.make_node("Conv", ["x", "w"], ["y"], name="convAA", auto_pad="VALID")
    model = onnx.load_from_string(conv_model(onnx, conv))
    model.producer_name = "makerAA"
    data = model.SerializeToString().replace(b"AA", b"\xff\xfe")
    path = tmp_path / "latin.onnx"
    path.write_bytes(data)
    loaded = kernelkit.load_model(path)
    assert loaded.names == ["conv\ufffd\ufffd"]
    assert loaded.framework_version == "maker\ufffd\ufffd"
    path.write_bytes(data.replace(b"VALID", b"VAL\xff\xfe"))
    with pytest.raises(kernelkit.WeightFileError, match="unknown auto_pad 'VAL\ufffd\ufffd'"):
        kernelkit.load_model(path)


def test_nodes_without_outputs_do_not_break_the_reader(onnx, tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], []), helper.make_node("Conv", ["x", "w"], [])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 5, 5])],
        [],
        [weight],
    )
    path = tmp_path / "no_outputs.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    assert kernelkit.load_model(path).names == ["Conv_1"]


def model_with_external_weight(onnx: Any, location: str, **fields: int) -> bytes:
    """A one-Conv model whose (2, 1, 3, 3) weight is stored as external data at ``location``."""
    from onnx import TensorProto

    model = onnx.load_from_string(
        conv_model(onnx, onnx.helper.make_node("Conv", ["x", "w"], ["y"], name="conv"))
    )
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **fields}.items():
        entry = weight.external_data.add()
        entry.key, entry.value = key, str(value)
    return model.SerializeToString()


EXTERNAL_WEIGHT = np.arange(18, dtype="<f4").reshape(2, 1, 3, 3)


@pytest.mark.parametrize(
    ("location", "fields"), [("w.bin", {}), ("data/w.bin", {"offset": 8, "length": 72})]
)
def test_onnx_external_data_beside_the_model_is_read(onnx, tmp_path, location, fields):
    (tmp_path / "data").mkdir()
    (tmp_path / location).write_bytes(bytes(fields.get("offset", 0)) + EXTERNAL_WEIGHT.tobytes())
    path = tmp_path / "external.onnx"
    path.write_bytes(model_with_external_weight(onnx, location, **fields))
    np.testing.assert_array_equal(kernelkit.load_model(path)["conv"].weight, EXTERNAL_WEIGHT)


@pytest.mark.parametrize(
    ("location", "fields", "message"),
    [
        ("../secret.bin", {}, "not a file beside the model"),
        ("/dev/zero", {"length": 72}, "not a file beside the model"),
        ("link.bin", {}, "not a file beside the model"),  # a symlink to ../secret.bin
        ("missing.bin", {}, "not a file beside the model"),
        ("w.bin", {"offset": 80}, "do not lie inside the 72-byte"),
        ("w.bin", {"length": 1 << 40}, "do not lie inside the 72-byte"),
        ("w.bin", {"length": 36}, "cannot reshape|size"),
    ],
)
def test_onnx_external_data_elsewhere_is_refused(onnx, tmp_path, location, fields, message):
    (tmp_path / "secret.bin").write_bytes(EXTERNAL_WEIGHT.tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "w.bin").write_bytes(EXTERNAL_WEIGHT.tobytes())
    (model_dir / "link.bin").symlink_to(tmp_path / "secret.bin")
    path = model_dir / "external.onnx"
    path.write_bytes(model_with_external_weight(onnx, location, **fields))
    with pytest.raises(kernelkit.WeightFileError, match=message):
        kernelkit.load_model(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("name", ONNX_FILES)
def test_truncated_onnx_files_raise(onnx, tmp_path, name, keep):
    data = (FIXTURES / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(kernelkit.WeightFileError):
        kernelkit.load_model(path)


def test_an_onnx_file_without_a_graph_raises(onnx, tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"\x08\x07")  # ir_version 7 and nothing else
    with pytest.raises(kernelkit.WeightFileError, match="no graph"):
        kernelkit.load_model(path)


# -- random bytes and wrong magic, for every format -----------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("format", ["torch", "torch-legacy", "safetensors", "onnx"])
def test_random_bytes_raise(tmp_path, seed, format):
    if format == "onnx":
        pytest.importorskip("onnx")
    path = tmp_path / "random.bin"
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    with pytest.raises(kernelkit.WeightFileError) as info:
        kernelkit.load_model(path, format=format)
    assert str(path) in str(info.value)
