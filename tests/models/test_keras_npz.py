"""Keras 3, legacy Keras HDF5 and .npz files written by Keras itself (make_keras_fixtures.py).

The reference is what Keras said when it wrote them (keras_<model>_reference.npz): each conv
layer's get_weights(), get_config() and output on a fixed input. Neither Keras nor TensorFlow is
needed to run these tests.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

import kernelkit
from kernelkit import WeightFileError, load_model
from kernelkit.models import FORMATS, detect_format

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

#: file -> (model, format, whether the file holds the model config)
KERAS_FILES = {
    "keras_sequential.keras": ("sequential", "keras3", True),
    "keras_sequential.weights.h5": ("sequential", "keras3-weights", False),
    "keras_sequential.h5": ("sequential", "keras-legacy-h5", True),
    "keras_sequential_keras2.h5": ("sequential", "keras-legacy-h5", True),
    "keras_functional.keras": ("functional", "keras3", True),
    "keras_functional.weights.h5": ("functional", "keras3-weights", False),
    "keras_functional.weights.json": ("functional", "keras3-sharded", False),
    "keras_functional.h5": ("functional", "keras-legacy-h5", True),
    "keras_functional_keras2.h5": ("functional", "keras-legacy-h5", True),
    "keras_functional_weights_only.h5": ("functional", "keras-legacy-h5", False),
}
WITH_CONFIG = [name for name, (_, _, config) in KERAS_FILES.items() if config]
WITHOUT_CONFIG = [name for name, (_, _, config) in KERAS_FILES.items() if not config]
NPZ_FILES = ["npz_sequential_list.npz", "npz_sequential_named.npz"]

KINDS = {"Conv1D": "conv1d", "Conv2D": "conv2d", "DepthwiseConv2D": "depthwise"}
KINDS["SeparableConv2D"] = "separable"


@functools.cache
def reference(model: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"keras_{model}_reference.npz") as arrays:
        return dict(arrays)


def layer_names(model: str) -> list[str]:
    return [str(name) for name in reference(model)["layer_names"]]


def keras_weights(model: str, name: str) -> list[np.ndarray]:
    """get_weights() of a layer: kernel(s), then bias."""
    ref = reference(model)
    return [ref[f"{name}/weight_{i}"] for i in range(3) if f"{name}/weight_{i}" in ref]


def keras_config(model: str, name: str) -> dict:
    return json.loads(str(reference(model)[f"{name}/config"]))


def stored_weights(layer: kernelkit.ConvLayer) -> list[np.ndarray]:
    return [a for a in (layer.weight, layer.pointwise, layer.bias) if a is not None]


def assert_same_arrays(got: list[np.ndarray], expected: list[np.ndarray], what: str) -> None:
    """Equal values, shapes and dtypes, array by array."""
    assert len(got) == len(expected), what
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype, what
        np.testing.assert_array_equal(a, b, err_msg=what)


def run_on_reference(layer: kernelkit.ConvLayer, model: str, **kwargs) -> None:
    """layer(x) against Keras' output on the same input."""
    ref = reference(model)
    x, expected = ref[f"{layer.name}/input"], ref[f"{layer.name}/output"]
    np.testing.assert_allclose(layer(x, **kwargs), expected, rtol=1e-5, atol=1e-5)


# -- format detection ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [*((name, fmt) for name, (_, fmt, _) in KERAS_FILES.items()), *((n, "npz") for n in NPZ_FILES)],
)
def test_format_is_recognised_from_the_content(name, expected, tmp_path):
    assert detect_format(FIXTURES / name) == expected
    renamed = tmp_path / "model.bin"  # the suffix is only a hint
    shutil.copy(FIXTURES / name, renamed)
    if expected != "keras3-sharded":  # the index is JSON and found by its name
        assert detect_format(renamed) == expected


# -- Keras files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(KERAS_FILES))
def test_keras_weights_come_out_exactly_as_stored(name):
    model_name, fmt, with_config = KERAS_FILES[name]
    model = load_model(FIXTURES / name)
    assert model.format == fmt
    assert model.path == str(FIXTURES / name)
    expected_names = layer_names(model_name)
    if with_config:
        assert model.names == expected_names
    else:  # Keras 3 groups without a config come in the order of their names
        assert sorted(model.names) == sorted(expected_names)
    for layer in model:
        keras = keras_weights(model_name, layer.name)
        assert {a.dtype for a in keras} == {np.dtype(np.float32)}
        assert_same_arrays(stored_weights(layer), keras, layer.name)


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_keras_config_is_read(name):
    model_name = KERAS_FILES[name][0]
    model = load_model(FIXTURES / name)
    for layer in model:
        config = keras_config(model_name, layer.name)
        rank = len(config["kernel_size"])
        assert layer.config_known
        assert layer.kind == KINDS[config["class_name"]]
        assert layer.kernel_size == tuple(config["kernel_size"])
        assert layer.stride == tuple(config["strides"])
        assert layer.padding == config["padding"]
        assert layer.dilation == tuple(config["dilation_rate"])
        assert layer.activation == (
            None if config["activation"] == "linear" else config["activation"]
        )
        assert (
            layer.data_format
            == {"channels_last": "NHWC", "channels_first": "NCHW"}[config["data_format"]]
        )
        assert (layer.bias is not None) == config["use_bias"]
        in_channels = keras_weights(model_name, layer.name)[0].shape[rank]
        groups = in_channels if "depth_multiplier" in config else config["groups"]
        assert layer.groups == groups


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_keras_layers_reproduce_keras_outputs(name):
    model_name = KERAS_FILES[name][0]
    for layer in load_model(FIXTURES / name):
        if layer.kind == "conv1d":
            with pytest.raises(ValueError, match="conv1d layer"):
                layer(reference(model_name)[f"{layer.name}/input"])
        else:
            run_on_reference(layer, model_name)


def test_float64_input_gives_keras_output_too():
    layer = load_model(FIXTURES / "keras_sequential.keras")["separable"]
    ref = reference("sequential")
    y = layer(ref["separable/input"].astype(np.float64))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, ref["separable/output"], rtol=1e-5, atol=1e-5)


def test_leaky_relu_slope_is_keras_default():
    layer = load_model(FIXTURES / "keras_sequential.keras")["conv_groups"]
    assert layer.activation == "leaky_relu"
    assert layer.alpha == pytest.approx(0.2)  # keras.activations.leaky_relu's negative_slope


def keras_layer_object(class_name: str, **config) -> dict:
    """How Keras 3 serialises an activation layer given as a conv layer's activation."""
    return {"module": "keras.layers", "class_name": class_name, "config": config}


def with_activations(activations: dict):
    """An edit of a .keras archive's members that sets the activation of layers by name."""

    def edit(members: dict[str, bytes]) -> dict[str, bytes]:
        config = json.loads(members["config.json"])
        for layer in config["config"]["layers"]:
            if layer["config"].get("name") in activations:
                layer["config"]["activation"] = activations[layer["config"]["name"]]
        return {**members, "config.json": json.dumps(config).encode()}

    return edit


def test_activation_layers_in_the_config_run_as_their_functions(tmp_path):
    path = tmp_path / "layers_as_activations.keras"
    activations = {
        "conv_s2_same": keras_layer_object("ReLU", max_value=None, negative_slope=0.0),
        "conv_groups": keras_layer_object("LeakyReLU", negative_slope=0.2),
        "separable": keras_layer_object("Activation", activation="relu"),
    }
    rewrite_zip("keras_sequential.keras", with_activations(activations))(path)
    model = load_model(path)
    assert [model[name].activation for name in activations] == ["relu", "leaky_relu", "relu"]
    for name in activations:
        run_on_reference(model[name], "sequential")


@pytest.mark.parametrize(
    ("layer_object", "activation", "alpha"),
    [
        (keras_layer_object("ReLU", negative_slope=0.1), "leaky_relu", 0.1),
        (keras_layer_object("ReLU", max_value=6.0, negative_slope=0.0), "relu6", 0.0),
        (keras_layer_object("LeakyReLU", alpha=0.3), "leaky_relu", 0.3),  # Keras 2's name
        (keras_layer_object("ELU", alpha=0.5), "elu", 0.5),
        (keras_layer_object("Activation", activation="tanh"), "tanh", 0.01),
    ],
)
def test_activation_layers_are_read_with_their_settings(tmp_path, layer_object, activation, alpha):
    path = tmp_path / "activation.keras"
    rewrite_zip("keras_sequential.keras", with_activations({"conv_s2_same": layer_object}))(path)
    layer = load_model(path)["conv_s2_same"]
    assert (layer.activation, layer.alpha) == (activation, pytest.approx(alpha))


def test_a_relu_layer_no_function_matches_is_refused_when_run(tmp_path):
    path = tmp_path / "activation.keras"
    relu = keras_layer_object("ReLU", max_value=0.5, negative_slope=0.0, threshold=0.0)
    rewrite_zip("keras_sequential.keras", with_activations({"conv_s2_same": relu}))(path)
    layer = load_model(path)["conv_s2_same"]
    assert layer.activation == "relu(max_value=0.5, negative_slope=0.0, threshold=0.0)"
    with pytest.raises(ValueError, match=r"activation 'relu\(max_value=0\.5.* cannot be run"):
        run_on_reference(layer, "sequential")


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("keras_functional.keras", "3.15.1"),
        ("keras_functional.h5", "3.15.1"),
        ("keras_functional_keras2.h5", "2.2.4"),
        ("keras_functional.weights.h5", None),
    ],
)
def test_framework_version_is_the_files(name, version):
    assert load_model(FIXTURES / name).framework_version == version


@pytest.mark.parametrize("name", WITHOUT_CONFIG)
def test_weights_only_files_say_the_config_is_unknown(name):
    model = load_model(FIXTURES / name)
    assert len(model) == len(layer_names(KERAS_FILES[name][0]))
    for layer in model:
        assert not layer.config_known
        assert layer.stride == (1,) * len(layer.kernel_size)
        assert layer.padding == 0
        assert layer.activation is None
    assert "defaults" in model.summary()


def with_keras_config(layer: kernelkit.ConvLayer, model: str) -> kernelkit.ConvLayer:
    """``layer`` with the configuration Keras reported for it (a weights-only file has none)."""
    config = keras_config(model, layer.name)
    activation = None if config["activation"] == "linear" else config["activation"]
    return dataclasses.replace(
        layer,
        stride=tuple(config["strides"]),
        padding=config["padding"],
        dilation=tuple(config["dilation_rate"]),
        groups=config.get("groups", layer.groups),
        activation=activation,
        alpha=0.2 if activation == "leaky_relu" else layer.alpha,  # Keras' default slope
        data_format={"channels_last": "NHWC", "channels_first": "NCHW"}[config["data_format"]],
    )


@pytest.mark.parametrize("name", WITHOUT_CONFIG)
def test_weights_only_layers_with_kerass_config_give_kerass_outputs(name):
    model_name = KERAS_FILES[name][0]
    for layer in load_model(FIXTURES / name):
        if (name, layer.name) == ("keras_functional_weights_only.h5", "block_dw"):
            # Keras 3's legacy writer names a depthwise kernel "kernel", and without a bias
            # nothing in the file tells it from a Conv2D kernel (see conv_class_from_weights)
            assert (layer.kind, layer.weight_layout) == ("conv2d", "HWIO")
        elif layer.kind != "conv1d":
            run_on_reference(with_keras_config(layer, model_name), model_name)


def test_nested_layers_record_their_path():
    model = load_model(FIXTURES / "keras_functional.keras")
    assert model["block_dw"].extra == {"class_name": "DepthwiseConv2D", "path": "block/block_dw"}
    assert model["stem"].extra["path"] == "stem"


def test_separable_layer_keeps_both_kernels():
    layer = load_model(FIXTURES / "keras_sequential.keras")["separable"]
    depthwise, pointwise, bias = keras_weights("sequential", "separable")
    assert layer.weight_layout == "HWCM"
    assert layer.groups == depthwise.shape[2]
    np.testing.assert_array_equal(layer.pointwise, pointwise)
    assert layer.out_channels == bias.size


# -- where Keras 3 keeps the weights: class-named groups and their name attribute -----------------
def rewrite_keras_weights(source: pathlib.Path, target: pathlib.Path, edit) -> None:
    """A copy of a .keras archive whose model.weights.h5 went through ``edit(h5py.File)``."""
    weights = target.with_suffix(".h5")
    with zipfile.ZipFile(source) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as f:
        edit(f)
    members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(target, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)


def swap_top_level_conv_groups(f: h5py.File) -> None:
    """stem (layers/conv2d) and conv_channels_first (layers/conv2d_1) trade places."""
    f.move("layers/conv2d", "layers/swap")
    f.move("layers/conv2d_1", "layers/conv2d")
    f.move("layers/swap", "layers/conv2d_1")


def drop_name_attributes(f: h5py.File) -> None:
    """What Keras 3 versions before the name attribute wrote."""
    nodes: list = []
    f.visititems(lambda _, node: nodes.append(node))
    for node in nodes:
        if "name" in node.attrs:
            del node.attrs["name"]


@pytest.mark.parametrize(
    "edits",
    [[swap_top_level_conv_groups], [drop_name_attributes]],
    ids=["groups-swapped", "no-name-attributes"],
)
def test_keras3_groups_are_found_by_name_then_by_position(tmp_path, edits):
    path = tmp_path / "edited.keras"

    def edit(f: h5py.File) -> None:
        for step in edits:
            step(f)

    rewrite_keras_weights(FIXTURES / "keras_functional.keras", path, edit)
    for layer in load_model(path):
        assert_same_arrays(
            stored_weights(layer), keras_weights("functional", layer.name), layer.name
        )


def test_keras3_weights_that_do_not_fit_the_config_are_an_error(tmp_path):
    path = tmp_path / "edited.keras"

    def edit(f: h5py.File) -> None:
        drop_name_attributes(f)
        swap_top_level_conv_groups(f)

    rewrite_keras_weights(FIXTURES / "keras_functional.keras", path, edit)
    with pytest.raises(WeightFileError, match=r"layer 'stem' \(Conv2D\): kernel shape"):
        load_model(path)


# -- .npz ----------------------------------------------------------------------------------------
def test_npz_list_convention_is_keras_get_weights():
    model = load_model(FIXTURES / "npz_sequential_list.npz")
    keras = load_model(FIXTURES / "keras_sequential.keras")
    assert model.format == "npz"
    first_arrays = np.cumsum([0] + [len(keras_weights("sequential", n)) for n in keras.names])
    assert model.names == [f"arr_{i}" for i in first_arrays[:-1]]
    for layer, keras_layer in zip(model, keras):
        assert (layer.kind, layer.weight_layout) == (keras_layer.kind, keras_layer.weight_layout)
        assert not layer.config_known
        assert layer.data_format == "NHWC"
        assert_same_arrays(stored_weights(layer), stored_weights(keras_layer), layer.name)
        configured = dataclasses.replace(keras_layer, weight=layer.weight, bias=layer.bias)
        run_on_reference(configured, "sequential")


def test_npz_named_convention_reads_keras_and_pytorch_names():
    model = load_model(FIXTURES / "npz_sequential_named.npz")
    keras = load_model(FIXTURES / "keras_sequential.keras")
    assert model.names == keras.names
    for layer, keras_layer in zip(model, keras):
        torch_named = keras_layer.kind == "conv2d"
        assert layer.weight_layout == ("OIHW" if torch_named else "HWCM")
        assert layer.data_format == ("NCHW" if torch_named else "NHWC")
        np.testing.assert_array_equal(layer.oihw(), keras_layer.oihw())
        same_config = {
            field: getattr(keras_layer, field)
            for field in ("stride", "padding", "dilation", "groups", "activation", "alpha")
        }
        configured = dataclasses.replace(layer, **same_config)
        run_on_reference(configured, "sequential", layout="NHWC")


def save_npz(path: pathlib.Path, *arrays: np.ndarray, **named: np.ndarray) -> pathlib.Path:
    np.savez(path, *arrays, **named)
    return path


def f32(*shape: int) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)


@pytest.mark.parametrize(
    ("arrays", "named", "expected"),
    [
        # kernel + bias: the bias length says which axis holds the outputs
        ([f32(5, 5, 3, 8), f32(8)], {}, [("arr_0", "conv2d", "HWIO", True)]),
        ([f32(8, 3, 5, 5), f32(8)], {}, [("arr_0", "conv2d", "OIHW", True)]),
        ([f32(3, 3, 4, 2), f32(8)], {}, [("arr_0", "depthwise", "HWCM", True)]),
        # no bias: the square spatial axes
        ([f32(8, 3, 5, 5)], {}, [("arr_0", "conv2d", "OIHW", False)]),
        ([f32(5, 5, 3, 8)], {}, [("arr_0", "conv2d", "HWIO", False)]),
        ([f32(3, 3, 3, 3)], {}, [("arr_0", "conv2d", "HWIO", False)]),
        # SeparableConv2D: depthwise, 1x1 pointwise with C*M inputs, bias
        ([f32(3, 3, 4, 2), f32(1, 1, 8, 6), f32(6)], {}, [("arr_0", "separable", "HWCM", True)]),
        # a 1-D array that fits no axis is not a bias; dense layers are skipped
        (
            [f32(3, 3, 2, 4), f32(7), f32(10, 4), f32(4), f32(3, 5, 2)],
            {},
            [("arr_0", "conv2d", "HWIO", False), ("arr_4", "conv1d", "HWIO", False)],
        ),
        # names: PyTorch weight = OIHW, Keras kernel = HWIO, unless the bias says otherwise
        ([], {"c.weight": f32(3, 3, 3, 3), "c.bias": f32(3)}, [("c", "conv2d", "OIHW", True)]),
        ([], {"c/kernel:0": f32(3, 3, 3, 3)}, [("c", "conv2d", "HWIO", False)]),
        ([], {"d/kernel": f32(3, 3, 4, 2), "d/bias": f32(8)}, [("d", "depthwise", "HWCM", True)]),
        (
            [],
            {"s/depthwise_kernel": f32(3, 3, 2, 1), "s/pointwise_kernel": f32(1, 1, 2, 4)},
            [("s", "separable", "HWCM", False)],
        ),
        (
            [],
            {"bn.weight": f32(4), "fc.weight": f32(2, 4), "kernel": f32(1, 1, 4, 2)},
            [("weights", "conv2d", "HWIO", False)],
        ),
        # the rules of PyTorch state dicts: a bias that is not O makes a transposed kernel; one
        # input channel per group after a layer with 4 outputs, a depthwise kernel
        (
            [],
            {"up.weight": f32(3, 2, 2, 2), "up.bias": f32(2)},
            [("up", "conv2d_transpose", "IOHW", True)],
        ),
        (
            [],
            {"c.weight": f32(4, 3, 3, 3), "dw.weight": f32(8, 1, 3, 3)},
            [("c", "conv2d", "OIHW", False), ("dw", "depthwise", "OIHW", False)],
        ),
    ],
)
def test_npz_layout_rules(tmp_path, arrays, named, expected):
    model = load_model(save_npz(tmp_path / "weights.npz", *arrays, **named))
    found = [(lay.name, lay.kind, lay.weight_layout, lay.bias is not None) for lay in model]
    assert found == expected


@pytest.mark.parametrize(
    ("named", "message"),
    [
        (
            {"c.weight": f32(8, 3, 5, 5), "c.bias": f32(7)},
            r"c: bias of shape \(7,\) does not fit 3",
        ),
        ({"c.weight": np.full((2, 1, 3, 3), "x")}, r"c: the weight holds <U1, not numbers"),
        (
            {"s/depthwise_kernel": f32(3, 3, 2, 1), "s/pointwise_kernel": f32(1, 1, 3, 4)},
            r"s: pointwise kernel \(1, 1, 3, 4\) does not follow \(3, 3, 2, 1\)",
        ),
    ],
)
def test_npz_named_arrays_that_do_not_make_a_layer_raise(tmp_path, named, message):
    with pytest.raises(WeightFileError, match=message):
        load_model(save_npz(tmp_path / "weights.npz", **named))


def test_npz_layout_argument_overrides_the_rules(tmp_path):
    path = save_npz(tmp_path / "weights.npz", f32(8, 3, 5, 5), f32(8))
    assert load_model(path)[0].weight_layout == "OIHW"
    layer = load_model(path, layout="HWIO")[0]
    assert (layer.weight_layout, layer.bias) == ("HWIO", None)  # 8 fits no HWIO output axis
    with pytest.raises(ValueError, match="layout: expected one of"):
        load_model(path, layout="NCHW")
    with pytest.raises(ValueError, match="layout: only npz files"):
        load_model(FIXTURES / "keras_sequential.keras", layout="HWIO")


def test_npz_weights_keep_their_dtype(tmp_path):
    path = save_npz(tmp_path / "w.npz", np.ones((3, 3, 2, 4)), np.ones(4))
    layer = load_model(path)[0]
    assert layer.weight.dtype == np.float64
    assert layer.weight.flags.writeable


# -- bad files -----------------------------------------------------------------------------------
MY_FORMATS = ["keras3", "keras3-weights", "keras3-sharded", "keras-legacy-h5", "npz"]


@pytest.mark.parametrize("fmt", [None, *MY_FORMATS])
def test_missing_file_is_file_not_found(tmp_path, fmt):
    with pytest.raises(FileNotFoundError, match=r"missing\.keras"):
        load_model(tmp_path / "missing.keras", format=fmt)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("fmt", [None, *FORMATS])
@pytest.mark.parametrize("kind", ["pipe", "directory"])
def test_a_pipe_or_a_directory_is_refused_before_it_is_read(tmp_path, fmt, kind):
    path = tmp_path / "model.pt"
    if kind == "pipe":
        os.mkfifo(path)  # reading it would block: no writer
    else:
        path.mkdir()
    with pytest.raises(WeightFileError, match="not a regular file"):
        load_model(path, format=fmt)


@pytest.mark.parametrize("fmt", [None, *MY_FORMATS])
def test_random_bytes_are_a_weight_file_error(tmp_path, fmt):
    path = tmp_path / "random.keras"
    path.write_bytes(b"\x00" + np.random.default_rng(0).bytes(4000))
    with pytest.raises(WeightFileError, match=re.escape(str(path))):
        load_model(path, format=fmt)


def truncated(source: str):
    def make(path: pathlib.Path) -> None:
        data = (FIXTURES / source).read_bytes()
        path.write_bytes(data[: len(data) // 2])

    return make


def wrong_magic(source: str):
    def make(path: pathlib.Path) -> None:
        path.write_bytes(b"XX" + (FIXTURES / source).read_bytes()[2:])

    return make


def hdf5_without_keras_groups(path: pathlib.Path) -> None:
    with h5py.File(path, "w") as f:
        f["data"] = np.ones(3)


def copy_and_edit_hdf5(source: str, edit):
    def make(path: pathlib.Path) -> None:
        shutil.copy(FIXTURES / source, path)
        with h5py.File(path, "r+") as f:
            edit(f)

    return make


KERAS3_KERNEL = "layers/sequential/layers/conv2d/vars/0"


def soft_link_to_kernel(f: h5py.File) -> None:
    target = KERAS3_KERNEL
    f["layers/elsewhere"] = f[target][()]
    del f[target]
    f[target] = h5py.SoftLink("/layers/elsewhere")


def external_kernel(f: h5py.File) -> None:
    target = KERAS3_KERNEL
    shape = f[target].shape
    del f[target]
    f.create_dataset(target, shape=shape, dtype="f4", external=[("/etc/hostname", 0, 4000)])


def shape_bomb_kernel(f: h5py.File) -> None:
    target = KERAS3_KERNEL
    del f[target]
    f.create_dataset(
        target, shape=(3, 3, 100_000, 10_000), dtype="f4", chunks=(3, 3, 100, 100), compression=4
    )


def integer_kernel(f: h5py.File) -> None:
    target = KERAS3_KERNEL
    data = f[target][()]
    del f[target]
    f[target] = data.astype(np.int32)


def legacy_layer_without_group(f: h5py.File) -> None:
    del f["model_weights/stem"]


def legacy_config_not_json(f: h5py.File) -> None:
    f.attrs["model_config"] = "{not json"


def legacy_missing_weight(f: h5py.File) -> None:
    del f["model_weights/stem/stem/kernel"]


def legacy_kernel_of_wrong_shape(f: h5py.File) -> None:
    del f["model_weights/stem/stem/kernel"]
    f["model_weights/stem/stem/kernel"] = np.ones((3, 3, 3, 7), np.float32)


def rewrite_zip(source: str, edit):
    """A copy of a zip fixture with its members (name -> bytes) passed through ``edit``."""

    def make(path: pathlib.Path) -> None:
        with zipfile.ZipFile(FIXTURES / source) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in edit(members).items():
                archive.writestr(name, data)

    return make


def with_config_strides(strides):
    """An edit of a .keras archive's members that sets the first layer's strides."""

    def edit(members: dict[str, bytes]) -> dict[str, bytes]:
        config = json.loads(members["config.json"])
        config["config"]["layers"][1]["config"]["strides"] = strides
        return {**members, "config.json": json.dumps(config).encode()}

    return edit


def central_directory_entry(data: bytes, member: str) -> int:
    """Offset of the central directory header of ``member`` in a zip archive's bytes."""
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        name_length = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + name_length] == member.encode():
            return start
        start = data.find(b"PK\x01\x02", start + 4)
    raise AssertionError(f"{member} is not in the archive")


def zip_member_declaring(source: str, member: str, declared_size: int):
    """A copy of a zip fixture whose central directory declares another size for ``member``."""

    def make(path: pathlib.Path) -> None:
        data = bytearray((FIXTURES / source).read_bytes())
        entry = central_directory_entry(bytes(data), member)
        data[entry + 24 : entry + 28] = declared_size.to_bytes(4, "little")  # uncompressed size
        path.write_bytes(bytes(data))

    return make


def npy_declaring_huge_shape(path: pathlib.Path) -> None:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100), }"
    header += " " * (63 - len(header) % 64) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arr_0.npy", npy + bytes(16))


def with_signature_damaged(source: str, signature: bytes):
    """A copy of an HDF5 fixture whose internal structures with ``signature`` (local heaps
    "HEAP", B-trees "TREE", global heaps "GCOL") are damaged."""

    def make(path: pathlib.Path) -> None:
        path.write_bytes((FIXTURES / source).read_bytes().replace(signature, b"XXXX"))

    return make


def legacy_layer_names(names: np.ndarray):
    """An edit of a legacy weights-only file (its weight groups at the root)."""

    def edit(f: h5py.File) -> None:
        f.attrs["layer_names"] = names

    return edit


def zip_with_a_name_that_is_not_utf8(path: pathlib.Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arr_\u00e9.npy", b"")  # flagged UTF-8 by zipfile
    path.write_bytes(path.read_bytes().replace("\u00e9".encode(), b"\xff\xff"))


def zip_needing_an_unknown_version(path: pathlib.Path) -> None:
    shutil.copy(FIXTURES / "npz_sequential_list.npz", path)
    data = bytearray(path.read_bytes())
    entry = central_directory_entry(bytes(data), "arr_0.npy")
    data[entry + 6] = 0xFF  # version needed to extract: 25.5
    path.write_bytes(bytes(data))


def sharded_index(weight_map: dict):
    def make(path: pathlib.Path) -> None:
        shutil.copy(FIXTURES / "keras_functional_00000.weights.h5", path.parent)
        path.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    return make


#: case -> (file name, how to make it, what the error must say)
BAD_FILES = {
    "truncated .keras": (
        "model.keras",
        truncated("keras_sequential.keras"),
        r"damaged zip archive",
    ),
    "truncated .h5": ("model.h5", truncated("keras_sequential.h5"), r"unreadable HDF5 file"),
    "truncated .weights.h5": (
        "model.weights.h5",
        truncated("keras_sequential.weights.h5"),
        r"unreadable HDF5 file",
    ),
    "truncated .npz": ("model.npz", truncated("npz_sequential_list.npz"), r"damaged zip archive"),
    "wrong magic .keras": ("model.keras", wrong_magic("keras_sequential.keras"), r"unknown format"),
    "wrong magic .h5": ("model.h5", wrong_magic("keras_sequential.h5"), r"unknown format"),
    "h5 without Keras groups": ("model.h5", hdf5_without_keras_groups, r"without Keras weights"),
    "keras3 soft link": (
        "model.weights.h5",
        copy_and_edit_hdf5("keras_functional.weights.h5", soft_link_to_kernel),
        r"is a SoftLink; only hard links are read",
    ),
    "keras3 external dataset": (
        "model.weights.h5",
        copy_and_edit_hdf5("keras_functional.weights.h5", external_kernel),
        r"stores its data outside the file",
    ),
    "keras3 shape bomb": (
        "model.weights.h5",
        copy_and_edit_hdf5("keras_functional.weights.h5", shape_bomb_kernel),
        r"declares 36000000000 bytes but stores 0",
    ),
    "keras3 integer kernel": (
        "model.weights.h5",
        copy_and_edit_hdf5("keras_functional.weights.h5", integer_kernel),
        r"holds int32, not floating-point",
    ),
    "legacy layer without group": (
        "model.h5",
        copy_and_edit_hdf5("keras_functional.h5", legacy_layer_without_group),
        r"lists 'stem' but it has no group",
    ),
    "legacy config not JSON": (
        "model.h5",
        copy_and_edit_hdf5("keras_functional.h5", legacy_config_not_json),
        r"model_config is not valid JSON",
    ),
    "legacy missing weight": (
        "model.h5",
        copy_and_edit_hdf5("keras_functional.h5", legacy_missing_weight),
        r"missing weight 'stem/kernel'",
    ),
    "legacy kernel of wrong shape": (
        "model.h5",
        copy_and_edit_hdf5("keras_functional.h5", legacy_kernel_of_wrong_shape),
        r"does not match kernel_size",
    ),
    ".keras without weights": (
        "model.keras",
        rewrite_zip("keras_sequential.keras", lambda m: {"config.json": m["config.json"]}),
        r"neither a Keras .keras file",
    ),
    ".keras config not JSON": (
        "model.keras",
        rewrite_zip("keras_sequential.keras", lambda m: {**m, "config.json": b"{not json"}),
        r"config.json is not valid JSON",
    ),
    ".keras malformed layer config": (
        "model.keras",
        rewrite_zip("keras_sequential.keras", with_config_strides("x")),
        r"layer 'conv_s2_same': malformed config",
    ),
    ".keras config nested too deeply": (
        "model.keras",
        rewrite_zip("keras_sequential.keras", lambda m: {**m, "config.json": b"[" * 100_000}),
        r"config.json is not valid JSON",
    ),
    ".keras zip bomb": (
        "model.keras",
        zip_member_declaring("keras_sequential.keras", "model.weights.h5", 0xFFFF_FFF0),
        r"declares 4294967280 bytes from",
    ),
    ".npz zip bomb": (
        "model.npz",
        zip_member_declaring("npz_sequential_list.npz", "arr_0.npy", 0xFFFF_FFF0),
        r"declares 4294967280 bytes from",
    ),
    ".npz header declaring 40 GB": (
        "model.npz",
        npy_declaring_huge_shape,
        r"declares shape \(100000, 100000, 100\)",
    ),
    "shard missing": (
        "model.weights.json",
        sharded_index({"/layers/conv2d/vars": ["keras_functional_00009.weights.h5"]}),
        r"missing shard file",
    ),
    "shard outside the directory": (
        "model.weights.json",
        sharded_index({"/layers/conv2d/vars": ["../keras_functional_00000.weights.h5"]}),
        r"not a file name beside the index",
    ),
    "keras3 damaged local heaps": (
        "model.weights.h5",
        with_signature_damaged("keras_functional.weights.h5", b"HEAP"),
        r"damaged HDF5 file .*bad local heap signature",
    ),
    "legacy damaged B-trees": (
        "model.h5",
        with_signature_damaged("keras_functional.h5", b"TREE"),
        r"damaged HDF5 file .*wrong B-tree signature",
    ),
    "legacy damaged global heap": (
        "model.h5",
        with_signature_damaged("keras_functional.h5", b"GCOL"),
        r"damaged HDF5 file .*bad global heap",
    ),
    "legacy layer_names not strings": (
        "model.h5",
        copy_and_edit_hdf5("keras_functional_weights_only.h5", legacy_layer_names(np.arange(3))),
        r"the layer_names attribute is not a list of strings",
    ),
    "legacy layer_names not UTF-8": (
        "model.h5",
        copy_and_edit_hdf5(
            "keras_functional_weights_only.h5", legacy_layer_names(np.array([b"\xffstem"]))
        ),
        r"layer_names lists '\ufffdstem' but it has no group",
    ),
    "zip member name not UTF-8": ("model.npz", zip_with_a_name_that_is_not_utf8, "damaged zip"),
    "zip of an unknown version": ("model.npz", zip_needing_an_unknown_version, "zip file version"),
    "shard index nested too deeply": (
        "model.weights.json",
        lambda path: path.write_text('{"weight_map": ' + "[" * 100_000),
        r"the JSON file is not valid JSON",
    ),
    "shard index without weight_map": (
        "model.weights.json",
        lambda path: path.write_text('{"weight_map": 3}'),
        r"no 'weight_map' object",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_weight_file_errors_naming_the_file(tmp_path, case):
    file_name, make, problem = BAD_FILES[case]
    path = tmp_path / file_name
    make(path)
    with pytest.raises(WeightFileError, match=re.escape(str(path))) as info:
        load_model(path)
    assert isinstance(info.value, ValueError)
    assert info.value.path == str(path)
    assert re.search(problem, info.value.problem)


def keras_archive_with_damaged_weights(path: pathlib.Path) -> None:
    damage = {"model.weights.h5": lambda data: data.replace(b"HEAP", b"XXXX")}
    rewrite_zip(
        "keras_functional.keras", lambda m: {k: damage.get(k, bytes)(v) for k, v in m.items()}
    )(path)


@pytest.mark.parametrize(
    ("name", "make", "fmt"),
    [
        (
            "m.weights.h5",
            with_signature_damaged("keras_functional.weights.h5", b"TREE"),
            "keras3-weights",
        ),
        ("m.h5", with_signature_damaged("keras_functional.h5", b"HEAP"), "keras-legacy-h5"),
        ("m.keras", keras_archive_with_damaged_weights, "keras3"),
    ],
)
def test_damaged_hdf5_structures_are_weight_file_errors_in_the_readers(tmp_path, name, make, fmt):
    """Past format detection: the readers' own HDF5 reads meet the damage."""
    path = tmp_path / name
    make(path)
    with pytest.raises(WeightFileError, match=r"(damaged|unreadable) HDF5 file"):
        load_model(path, format=fmt)


def test_a_json_file_too_large_to_be_an_index_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr("kernelkit.models._json.MAX_JSON_FILE_BYTES", 100)
    path = tmp_path / "model.weights.json"
    path.write_text(json.dumps({"weight_map": {}, "padding": "x" * 100}))
    with pytest.raises(WeightFileError, match="more than the 100 read as JSON"):
        load_model(path)
    with pytest.raises(WeightFileError, match="more than the 100 read as JSON"):
        load_model(path, format="keras3-sharded")


def test_forced_formats_refuse_the_other_keras_layouts():
    with pytest.raises(WeightFileError, match="no layer_names attribute"):
        load_model(FIXTURES / "keras_sequential.weights.h5", format="keras-legacy-h5")
    with pytest.raises(WeightFileError, match="no Keras 3 weights"):
        load_model(FIXTURES / "keras_sequential.h5", format="keras3-weights")
    with pytest.raises(WeightFileError, match="damaged zip archive"):
        load_model(FIXTURES / "keras_sequential.h5", format="npz")


class _CreatesFile:
    """Unpickling it calls open(marker, "w"): a file appears if the pickle is ever run."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_objects_in_npz_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npz"
    np.savez(path, kernel=np.array([_CreatesFile(marker)], dtype=object))
    with pytest.raises(WeightFileError, match="Python objects"):
        load_model(path)
    assert not marker.exists()


# -- command line --------------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelkit", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_layers_prints_the_table():
    path = FIXTURES / "keras_sequential.keras"
    result = run_cli("layers", str(path), "--conv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}: keras3 3.15.1, 5 conv layers, 789 parameters"
    header = "name kind kernel stride padding dilation groups activation params config"
    assert lines[1].split() == header.split()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == layer_names("sequential")
    assert rows["conv_s2_same"] == [
        "conv2d",
        "3x3x3x4",
        "2",
        "same",
        "1",
        "1",
        "relu",
        "112",
        "known",
    ]
    assert rows["depthwise"][:6] == ["depthwise", "3x3x6x2", "1", "same", "1", "6"]


@pytest.mark.parametrize("content", [None, b"\x00 not a model"])
def test_cli_layers_reports_a_bad_file_in_one_line(tmp_path, content):
    path = tmp_path / "model.keras"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("layers", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("kernelkit: error: ")
    assert str(path) in line


def test_cli_layers_help_has_an_example():
    result = run_cli("layers", "--help")
    assert result.returncode == 0
    assert "example: kernelkit layers model.keras" in result.stdout
