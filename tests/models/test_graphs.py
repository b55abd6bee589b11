"""Whole networks run from the graph their file records (make_graph_fixtures.py).

The reference is what the framework computed when the fixture was written: Keras 3 (torch
backend) for the .keras and legacy .h5 files, onnxruntime for the .onnx files, every layer's
output on a fixed batch of two. Neither framework is needed to run these tests.
"""

from __future__ import annotations

import functools
import json
import pathlib
import shutil
import zipfile

import numpy as np
import pytest

import kernelkit
from kernelkit.models.graph import UnsupportedLayerError

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
KERAS_MODELS = ("sequential", "xception", "mobilenet", "unet", "misc")
ONNX_MODELS = ("resnet", "unet_torch", "ops")
FILES = [f"graph_{m}.{suffix}" for m in KERAS_MODELS for suffix in ("keras", "h5")] + [
    f"graph_{m}.onnx" for m in ONNX_MODELS
]
RELATIVE = 1e-4


@functools.cache
def reference(file: str) -> dict[str, np.ndarray]:
    stem = file.rsplit(".", 1)[0]
    with np.load(FIXTURES / f"{stem}_reference.npz") as arrays:
        return dict(arrays)


@functools.cache
def model(file: str) -> kernelkit.models.ConvModel:
    return kernelkit.load_model(FIXTURES / file)


def layer_keys(file: str) -> list[str]:
    """The reference's per-layer entries that the graph computes (ONNX references also hold
    the constants, which no node computes)."""
    graph = model(file).graph
    assert graph is not None
    keys = [k for k in reference(file) if k not in ("input", "output")]
    if file.endswith(".onnx"):
        return [k for k in keys if k in graph._producer]
    return keys


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape, what
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
    error = float(np.max(np.abs(actual.astype(np.float64) - expected), initial=0.0)) / scale
    assert error <= RELATIVE, f"{what}: relative error {error:.2e}"


@pytest.mark.parametrize("file", FILES)
def test_every_layer_gives_the_frameworks_output(file):
    ref = reference(file)
    keys = layer_keys(file)
    assert len(keys) >= 8
    activations = model(file).activations(ref["input"], keys)
    for key in keys:
        assert_close(activations[key], ref[key], key)


@pytest.mark.parametrize("file", FILES)
def test_the_network_output_and_its_argmax_match(file):
    ref = reference(file)
    output = model(file).run(ref["input"])
    assert output.dtype == np.float32
    assert_close(output, ref["output"], "output")
    if output.ndim == 2:
        np.testing.assert_array_equal(output.argmax(1), ref["output"].argmax(1))


@pytest.mark.parametrize(
    "file", ["graph_xception.keras", "graph_mobilenet.h5", "graph_resnet.onnx"]
)
def test_the_whole_network_folds_batch_norm_and_fuses_relu_into_convolutions(file):
    graph = model(file).graph
    assert graph is not None
    plan = graph.steps()
    conv_nodes = [n for n in plan if n.op == "conv"]
    folded = [n for n in conv_nodes if "+" in n.name]
    assert folded, "no BatchNormalization was folded"
    assert len(plan) < len(graph.nodes)
    assert_close(model(file).run(reference(file)["input"]), reference(file)["output"], "output")


def test_a_requested_layer_is_not_fused_away():
    file = "graph_resnet.onnx"
    graph = model(file).graph
    conv = next(n for n in graph.nodes if n.op == "conv")
    plan = graph.steps([conv.outputs[0]])
    assert [n.name for n in plan if n.op == "conv"] == [conv.name]  # not merged with its BN


@pytest.mark.parametrize("file", ["graph_xception.keras", "graph_unet_torch.onnx"])
def test_weights_are_packed_once_over_repeated_runs(file):
    """Each layer packs its weights once per algorithm its inputs' shapes plan (a batch and one
    image may plan Winograd and the GEMM), and never again in later runs."""
    m = kernelkit.load_model(FIXTURES / file)
    x = reference(file)["input"]

    def packings() -> dict[str, list[int]]:
        return {
            node.name: [conv.packings for conv in node.conv._prepared(node.conv.data_format)]
            for node in m.graph.steps()
            if node.op == "conv"
        }

    m.run(x)
    m.run(x[:1])
    first = packings()
    assert first
    assert all(1 <= n <= 2 for counts in first.values() for n in counts), first
    m.run(x)
    m.run(x[:1])
    assert packings() == first


@pytest.mark.parametrize("file", ["graph_mobilenet.keras", "graph_resnet.onnx"])
def test_run_until_a_layer_and_one_sample_without_the_batch_axis(file):
    ref = reference(file)
    m = model(file)
    names = [n for n, value in m.graph.layer_values.items() if value in ref]
    name = [n for n in names if "conv" in n.lower()][1]  # a layer name, not a value name
    expected = ref[m.graph.value_of(name)]
    assert_close(m.run(ref["input"], until=name), expected, name)
    assert_close(m.run(ref["input"][1], until=name), expected[1], name)


def test_float64_input_runs_in_float64():
    file = "graph_unet.keras"
    ref = reference(file)
    output = model(file).run(ref["input"].astype(np.float64))
    assert output.dtype == np.float64
    assert_close(output, ref["output"], "output")


def test_layer_names_include_nested_models_and_both_halves_are_reachable():
    m = model("graph_misc.keras")
    assert "shared_block/shared_conv" in m.graph.layer_values
    assert "inner_functional/clipped_relu" in m.graph.layer_values


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((2, 48, 48, 3), np.float32), "expects arrays of shape"),
        (np.zeros((48, 48), np.float32), "expects arrays of shape"),
        (np.zeros((1, 48, 48, 1), complex), "real array"),
    ],
)
def test_wrong_input_is_refused_naming_x(x, message):
    with pytest.raises((ValueError, TypeError), match=message):
        model("graph_xception.keras").run(x)


def test_unknown_layer_name_lists_the_layers():
    with pytest.raises(KeyError, match="no layer named 'nope'; the layers are: "):
        model("graph_sequential.keras").run(
            reference("graph_sequential.keras")["input"], until="nope"
        )


def _keras_with_class_renamed(tmp_path, layer: str, class_name: str) -> pathlib.Path:
    """The sequential fixture with one layer's class replaced by one kernelkit cannot run."""
    source = FIXTURES / "graph_sequential.keras"
    target = tmp_path / "edited.keras"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for item in archive.infolist():
            data = archive.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                for entry in config["config"]["layers"]:
                    if entry["config"].get("name") == layer:
                        entry["class_name"] = class_name
                data = json.dumps(config).encode()
            out.writestr(item, data)
    return target


def test_an_unsupported_layer_names_itself_and_the_layers_before_it_still_run(tmp_path):
    m = kernelkit.load_model(_keras_with_class_renamed(tmp_path, "pool1", "Lambda"))
    x = reference("graph_sequential.keras")["input"]
    with pytest.raises(
        UnsupportedLayerError, match=r"'pool1' \(Lambda\).*runs these kinds: .*Conv2D"
    ):
        m.run(x)
    assert_close(m.run(x, until="relu1"), reference("graph_sequential.keras")["relu1"], "relu1")


def test_an_onnx_op_outside_the_set_is_named(tmp_path):
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(FIXTURES / "graph_resnet.onnx"))
    last = proto.graph.node[-1]
    last.op_type = "Einsum"
    path = tmp_path / "edited.onnx"
    path.write_bytes(proto.SerializeToString())
    m = kernelkit.load_model(path)
    with pytest.raises(UnsupportedLayerError, match="the ONNX op Einsum is not supported"):
        m.run(reference("graph_resnet.onnx")["input"])


def test_weights_only_files_run_the_first_layer_only(tmp_path):
    path = tmp_path / "weights_only.h5"
    shutil.copy(FIXTURES / "keras_functional_weights_only.h5", path)
    m = kernelkit.load_model(path)
    assert not m.runnable
    assert m.input_shape is None
    first, second = m.layers[0], m.layers[1]
    x = np.zeros((1, 10, 9, first.in_channels), np.float32)
    assert m.run(x, until=first.name).shape[0] == 1
    with pytest.raises(
        ValueError,
        match=rf"holds weights only.*{second.name} expects "
        rf"{second.in_channels}-channel activations",
    ):
        m.run(x, until=second.name)
    with pytest.raises(ValueError, match="the network cannot run"):
        m.run(x)
    with pytest.raises(ValueError, match="activations\\(\\) needs the network"):
        m.activations(x)


def test_the_demo_model_classifies_its_digits_through_the_network():
    m = kernelkit.load_model(kernelkit.models.demo_model_path())
    digits = kernelkit.models.demo_digits()
    test = digits.is_test
    probabilities = m.run(digits.images[test, :, :, None])
    accuracy = float(np.mean(probabilities.argmax(1) == digits.labels[test]))
    assert accuracy == pytest.approx(digits.test_accuracy, abs=0.01)


def test_zero_padding_before_a_valid_convolution_becomes_its_padding():
    file = "graph_mobilenet.keras"
    graph = model(file).graph
    assert any(n.kind == "ZeroPadding2D" for n in graph.nodes)
    plan = graph.steps()
    assert not any(n.op == "pad" for n in plan)
    merged = next(n for n in plan if n.name.startswith("block_2_pad+"))
    assert merged.conv.padding == ((0, 1), (0, 1))  # the pad's, before a "valid" convolution
    assert_close(model(file).run(reference(file)["input"]), reference(file)["output"], "output")


@pytest.mark.parametrize("file", ["graph_resnet.onnx", "graph_unet_torch.onnx"])
def test_onnx_convolutions_run_channels_last_with_few_transposes(file):
    graph = model(file).graph
    plan = graph.steps()
    convs = [n for n in plan if n.op == "conv"]
    assert convs
    assert {n.conv.data_format for n in convs} == {"NHWC"}
    transposes = [n for n in plan if n.name.endswith("(layout)")]
    assert len(transposes) <= 2  # the input in, and out before the head or the output
    assert_close(model(file).run(reference(file)["input"]), reference(file)["output"], "output")
