"""PyTorch, safetensors and ONNX files: the committed fixtures (made by the real libraries with
make_torch_onnx_fixtures.py) load without those libraries, their weights are the stored ones and
their layers reproduce the framework's own outputs; damaged and hostile files raise
WeightFileError and never run code."""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import struct
from typing import Any

import numpy as np
import pytest

from kernelkit.models import ConvLayer, WeightFileError
from kernelkit.models.load import load_model

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
    "safetensors_cnn.safetensors": ("safetensors", SORTED_KINDS),
}


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_files_list_their_conv_layers(name):
    model = load_model(FIXTURES / name)
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
    model = load_model(FIXTURES / name)
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
    model = load_model(FIXTURES / name)
    for layer in model:
        if layer.kind != "conv1d":
            assert_runs_like_the_framework(true_config(layer), outputs)


@pytest.mark.parametrize("name", STATE_DICT_FILES)
def test_state_dict_layers_get_default_configs(name):
    outputs = stored("torch_cnn_reference.npz")
    model = load_model(FIXTURES / name)
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
    layer = load_model(FIXTURES / "safetensors_cnn.safetensors")["temporal"]
    assert layer.kind == "conv1d"
    with pytest.raises(ValueError, match="temporal"):
        layer(np.zeros((1, 6, 5, 5), np.float32))


MIXED_DTYPES = {
    "stem": np.float16,
    "depthwise": np.float32,  # stored as bfloat16
    "dilated": np.float64,
    "head": np.float32,
}


@pytest.mark.parametrize("name", ["safetensors_mixed_dtypes.safetensors"])
def test_element_types_are_read_exactly(name):
    outputs = stored("torch_cnn_reference.npz")
    model = load_model(FIXTURES / name)
    for layer_name, dtype in MIXED_DTYPES.items():
        layer = model[layer_name]
        assert layer.weight.dtype == dtype
        np.testing.assert_array_equal(layer.weight, outputs[f"mixed/{layer_name}.weight"])
        if layer.bias is not None:
            np.testing.assert_array_equal(layer.bias, outputs[f"mixed/{layer_name}.bias"])


def test_safetensors_metadata_gives_the_framework():
    assert load_model(FIXTURES / "safetensors_cnn.safetensors").framework_version == "pt"
    assert load_model(FIXTURES / "safetensors_mixed_dtypes.safetensors").framework_version is None


def test_safetensors_layers_come_in_natural_name_order(tmp_path):
    names = ["block10.weight", "block2.weight", "block1.weight"]
    header = {name: tensor_entry("F32", [1, 1, 1, 1], 4 * i) for i, name in enumerate(names)}
    path = write_safetensors(tmp_path, header, bytes(12))
    assert load_model(path).names == ["block1", "block2", "block10"]


def test_safetensors_keras_style_kernels_are_hwio(tmp_path):
    kernel = np.arange(3 * 3 * 2 * 4, dtype="<f4").reshape(3, 3, 2, 4)
    bias = np.arange(4, dtype="<f4")
    header = {
        "conv/kernel": tensor_entry("F32", list(kernel.shape), 0),
        "conv/bias": tensor_entry("F32", [4], kernel.nbytes),
    }
    path = write_safetensors(tmp_path, header, kernel.tobytes() + bias.tobytes())
    layer = load_model(path)["conv"]
    assert (layer.weight_layout, layer.data_format) == ("HWIO", "NHWC")
    np.testing.assert_array_equal(layer.weight, kernel)
    np.testing.assert_array_equal(layer.bias, bias)


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
    with pytest.raises(WeightFileError, match=message) as info:
        load_model(path, format="safetensors")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("header_text", "message"),
    [
        (b"{not json}", "not valid JSON"),
        (b'{"a": {}, "a": {}}', "appears twice"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
def test_safetensors_headers_that_are_not_json_raise(tmp_path, header_text, message):
    path = write_safetensors(tmp_path, None, b"", header_text=header_text)
    with pytest.raises(WeightFileError, match=message):
        load_model(path, format="safetensors")


@pytest.mark.parametrize("length", [2**63 + 5, 2**40, 100 * 2**20 + 1])
def test_a_huge_safetensors_header_length_is_refused_before_reading(tmp_path, length):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", length) + b'{"a": 1}')
    with pytest.raises(WeightFileError, match="exceeds the limit"):
        load_model(path, format="safetensors")
    with pytest.raises(WeightFileError, match="unknown format"):
        load_model(path)


def test_a_safetensors_header_longer_than_the_file_is_truncation(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b'{"a": 1}')
    with pytest.raises(WeightFileError, match="truncated"):
        load_model(path, format="safetensors")


@pytest.mark.parametrize("keep", [0, 5, 8, 60, 0.5, 0.99])
def test_truncated_safetensors_files_raise(tmp_path, keep):
    data = (FIXTURES / "safetensors_cnn.safetensors").read_bytes()
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    with pytest.raises(WeightFileError):
        load_model(path, format="safetensors")
