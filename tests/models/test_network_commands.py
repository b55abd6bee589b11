"""What the command line and the plotting functions make of a network: the input prepared
from an image, the layer table, feature maps through the network and predictions."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import kernelkit
from kernelkit._images import write_image
from kernelkit.models.network_input import feature_maps, network_input, predict
from kernelkit.models.network_table import layer_names, network_summary, resolve_layer

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
DEMO = kernelkit.models.demo_model_path()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelkit", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo():
    return kernelkit.load_model(DEMO)


@pytest.fixture(scope="module")
def digit():
    """A test digit of the shipped data, its label, and a 4x larger copy (as a photo would be)."""
    digits = kernelkit.models.demo_digits()
    index = int(np.flatnonzero(digits.is_test)[3])
    image = digits.images[index]
    return image, int(digits.labels[index]), np.kron(image, np.ones((4, 4)))


@pytest.mark.parametrize(
    ("file", "pixels_shape", "x_shape", "words"),
    [
        ("graph_xception.keras", (100, 60, 3), (1, 48, 48, 1), ["resized to 48x48", "gray"]),
        ("graph_mobilenet.keras", (32, 32), (1, 32, 32, 3), ["converted to RGB"]),
        ("graph_resnet.onnx", (64, 64, 3), (1, 3, 64, 64), ["NCHW"]),
    ],
)
def test_an_image_becomes_the_models_input_and_says_how(file, pixels_shape, x_shape, words):
    model = kernelkit.load_model(FIXTURES / file)
    pixels = np.random.default_rng(0).random(pixels_shape)
    prepared = network_input(model, pixels, "photo.png")
    assert prepared.x.shape == x_shape
    assert prepared.x.dtype == np.float32
    assert 0.0 <= prepared.x.min() <= prepared.x.max() <= 1.0
    for word in words:
        assert word in prepared.description
    assert prepared.description.startswith(f"photo.png: {pixels_shape[1]}x{pixels_shape[0]}")


def test_resizing_keeps_a_constant_image_constant_and_averages_when_shrinking():
    model = kernelkit.load_model(FIXTURES / "graph_xception.keras")
    flat = network_input(model, np.full((96, 96), 0.25))
    np.testing.assert_allclose(flat.x, 0.25, rtol=1e-6)
    stripes = np.tile([0.0, 1.0], (96, 48))  # 1-pixel stripes: a 2x shrink averages them
    inside = network_input(model, stripes).x[:, :, 1:-1]  # the edge columns see one side only
    np.testing.assert_allclose(inside, 0.5, atol=0.02)


def test_feature_maps_of_a_deeper_layer_come_through_the_network(demo, digit):
    image, _, _ = digit
    maps, prepared = feature_maps(demo, image, "conv2")
    expected = demo.run(image[:, :, None].astype(np.float32), until="conv2")
    np.testing.assert_allclose(maps, expected.transpose(2, 0, 1), rtol=1e-6)
    assert maps.shape == (32, 4, 4)
    assert prepared.x.shape == (1, 8, 8, 1)


def test_feature_maps_of_a_dense_layer_are_refused(demo, digit):
    with pytest.raises(ValueError, match="not feature maps"):
        feature_maps(demo, digit[0], "digit")


def test_the_demo_model_predicts_its_test_digit(demo, digit):
    _, label, large = digit
    result = predict(demo, large, top=3)
    assert result.classes[0] == label
    assert result.probabilities
    assert result.scores == sorted(result.scores, reverse=True)


def test_predict_checks_top(demo, digit):
    with pytest.raises(ValueError, match="top: expected a positive"):
        predict(demo, digit[0], top=0)


def test_layer_indices_resolve_to_names(demo):
    names = layer_names(demo)
    assert names[:3] == ["image", "conv1", "conv2"]
    assert resolve_layer(demo, "2") == "conv2"
    assert resolve_layer(demo, "-1") == names[-1]
    assert resolve_layer(demo, "conv1") == "conv1"
    with pytest.raises(ValueError, match="out of range"):
        resolve_layer(demo, "99")
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        resolve_layer(demo, "nope")


def test_the_network_table_lists_every_layer_with_shapes_and_both_halves():
    model = kernelkit.load_model(FIXTURES / "graph_xception.keras")
    table = network_summary(model)
    lines = table.splitlines()
    assert "28 layers, input (N, 48, 48, 1) NHWC" in lines[0]
    header = "# name kind output kernel stride padding activation params"
    assert lines[1].split() == header.split(" ")
    rows = {line.split()[1]: line for line in lines[2:-1]}
    assert list(rows) == layer_names(model)
    assert "44x44x8" in rows["separable_conv2d"]
    assert "3x3x4x1 HWCM + 1x1x4x8 HWIO" in rows["separable_conv2d"]
    assert rows["predictions"].split()[3] == "7"
    assert "HWIO = height, width, in, out" in lines[-1]


def test_cli_layers_prints_the_network_table():
    result = run_cli("layers", str(FIXTURES / "graph_resnet.onnx"))
    assert result.returncode == 0, result.stderr
    assert "input (N, 3, 64, 64) NCHW" in result.stdout
    assert "OIHW = out, in, height, width" in result.stdout


def test_cli_predict_prints_the_top_digits(tmp_path, digit):
    _, label, large = digit
    path = tmp_path / "digit.png"
    write_image(path, large)
    result = run_cli("predict", str(DEMO), str(path), "--top", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}: 32x32 gray, resized to 8x8")
    assert lines[2].split() == ["rank", "digit", "probability"]
    assert lines[3].split()[:2] == ["1", str(label)]
    assert len(lines) == 6


def test_cli_predict_refuses_a_weights_only_file(tmp_path, digit):
    path = tmp_path / "digit.png"
    write_image(path, digit[2])
    result = run_cli("predict", str(FIXTURES / "keras_functional_weights_only.h5"), str(path))
    assert result.returncode == 1
    assert "the network cannot run" in result.stderr


def test_plot_feature_maps_of_a_deeper_layer_draws_the_networks_activations(demo, digit):
    image, _, _ = digit
    fig = kernelkit.plot_feature_maps(demo, image, layer="conv2", normalize="global")
    input_ax, maps_ax, *_ = fig.axes
    grid = np.ma.filled(maps_ax.images[0].get_array().astype(np.float64), np.nan)
    expected = demo.run(image[:, :, None].astype(np.float32), until="conv2")
    top, left = np.argwhere(~np.isnan(grid))[0]  # map 0 is the first tile, after the gap
    tile = grid[top : top + 4, left : left + 4]
    np.testing.assert_allclose(tile, expected[:, :, 0], rtol=1e-6)
    assert fig.texts[0].get_text().startswith("conv2: 32 feature maps 4x4")
    assert input_ax.images[0].get_array().shape == (8, 8)


@pytest.mark.parametrize("layer", ["conv2", "2"])
def test_cli_features_runs_the_network_up_to_the_layer(tmp_path, digit, layer):
    _, _, large = digit
    path = tmp_path / "digit.png"
    write_image(path, large)
    out = tmp_path / "maps.png"
    result = run_cli("features", str(DEMO), str(path), "--layer", layer, "-o", str(out))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert (
        first
        == f"{path}: 32x32 gray, resized to 8x8; values in [0, 1], the model's input 1x8x8x1 (NHWC)"
    )
    assert out.stat().st_size > 0


def test_cli_features_of_a_deeper_layer_of_a_weights_only_file_says_why_not(tmp_path, digit):
    path = tmp_path / "digit.png"
    write_image(path, digit[2])
    model = FIXTURES / "keras_functional_weights_only.h5"
    second = kernelkit.load_model(model).layers[1].name
    result = run_cli(
        "features", str(model), str(path), "--layer", second, "-o", str(tmp_path / "m.png")
    )
    assert result.returncode == 1
    assert "holds weights only" in result.stderr
    assert "only the first layer can run on an image" in result.stderr
