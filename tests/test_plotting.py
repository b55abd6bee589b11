"""plot_filters, plot_feature_maps and filter_grid: what each panel shows, read back from the
Figure (image data, colour limits, colormap), against values computed here with NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import kernelkit
from kernelkit.models import ConvLayer, ConvModel, demo_digits, demo_model_path

EDGE = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])


def image_axes(fig):
    """The panels: Axes that show an image (a colorbar's Axes shows none)."""
    return [ax for ax in fig.axes if ax.images]


def colours(ax):
    """The RGBA colours a panel draws, from its data, norm and colormap (RGB data as is)."""
    image = ax.images[0]
    data = np.asarray(image.get_array())
    return data if data.ndim == 3 else image.cmap(image.norm(data))


def random_weights(shape, seed=0, offset=0.0):
    return np.random.default_rng(seed).normal(offset, 1.0, shape)


def numpy_conv_nhwc(image, weight_hwio, bias):
    """Valid cross-correlation of one (H, W, C) image in float64, plus bias, then ReLU."""
    kh, kw = weight_hwio.shape[:2]
    windows = sliding_window_view(image, (kh, kw), axis=(0, 1))  # (OH, OW, C, KH, KW)
    return np.maximum(np.einsum("hwcij,ijco->ohw", windows, weight_hwio) + bias[:, None, None], 0)


# -- plot_filters: panels and layout ---------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "kwargs", "panels", "grid"),
    [
        ((16, 1, 3, 3), {}, 16, (4, 4)),
        ((10, 1, 3, 3), {}, 10, (3, 4)),
        ((10, 1, 3, 3), {"ncols": 5}, 10, (2, 5)),
        ((3, 1, 5, 5), {"ncols": 8}, 3, (1, 3)),
        ((16, 3, 3, 3), {}, 16, (4, 4)),  # auto -> rgb, one panel per filter
        ((4, 5, 3, 3), {}, 20, (4, 5)),  # auto -> diverging, filters x channels
        ((4, 5, 3, 3), {"mode": "gray"}, 20, (4, 5)),
        ((8, 5, 3, 3), {"channel": 2}, 8, (3, 3)),
        ((8, 5, 3, 3), {"channel": "mean", "ncols": 8}, 8, (1, 8)),
        ((100, 1, 3, 3), {}, 64, (8, 8)),  # max_filters=64 by default
        ((10, 1, 3, 3), {"max_filters": 4}, 4, (2, 2)),
    ],
)
def test_one_axes_per_panel_in_a_grid(shape, kwargs, panels, grid):
    fig = kernelkit.plot_filters(random_weights(shape), **kwargs)
    axes = image_axes(fig)
    assert len(axes) == panels
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in axes} == {grid}
    for ax in axes:
        assert ax.images[0].get_interpolation() == "nearest"
        assert list(ax.get_xticks()) == []
        assert list(ax.get_yticks()) == []


def test_panels_are_labelled_with_the_filter_index():
    fig = kernelkit.plot_filters(random_weights((6, 1, 3, 3)))
    assert [ax.get_title() for ax in image_axes(fig)] == [str(i) for i in range(6)]


def test_filters_by_channel_are_rows_and_columns():
    weights = random_weights((3, 4, 3, 3))
    fig = kernelkit.plot_filters(weights, mode="gray")
    axes = image_axes(fig)
    for index, ax in enumerate(axes):
        f, ch = divmod(index, 4)
        np.testing.assert_array_equal(ax.images[0].get_array(), weights[f, ch])
    assert [ax.get_title() for ax in axes[:4]] == ["ch 0", "ch 1", "ch 2", "ch 3"]
    assert [axes[4 * f].get_ylabel() for f in range(3)] == ["0", "1", "2"]


def test_title_says_when_filters_are_cut():
    fig = kernelkit.plot_filters(random_weights((100, 1, 3, 3)), max_filters=10)
    assert "first 10 of 100 filters" in fig.get_suptitle()
    fig = kernelkit.plot_filters(random_weights((10, 1, 3, 3)), title="mine", max_filters=10)
    assert fig.get_suptitle() == "mine"


# -- plot_filters: what the colours mean -----------------------------------------------------


@pytest.mark.parametrize("layout", ["OIHW", "HWIO"])
def test_gray_mode_draws_the_horizontal_edge_bright_on_top_dark_below(layout):
    weights = EDGE[np.newaxis, np.newaxis]
    if layout == "HWIO":
        weights = weights.transpose(2, 3, 1, 0)
    fig = kernelkit.plot_filters(weights, layout=layout, mode="gray")
    (ax,) = image_axes(fig)
    assert ax.images[0].cmap.name == "gray"
    rgba = colours(ax)
    np.testing.assert_allclose(rgba[..., 0], rgba[..., 1])  # gray: R = G = B
    luminance = rgba[..., 0]
    np.testing.assert_allclose(luminance[0], 1.0)  # top row: white
    np.testing.assert_allclose(luminance[2], 0.0)  # bottom row: black
    np.testing.assert_allclose(luminance[1], 0.5, atol=1 / 255)


def test_a_2d_array_is_one_kernel():
    (ax,) = image_axes(kernelkit.plot_filters(EDGE, mode="gray"))
    np.testing.assert_array_equal(ax.images[0].get_array(), EDGE)


@pytest.mark.parametrize("normalize", ["global", "per_filter"])
def test_gray_limits_are_the_weight_range(normalize):
    weights = random_weights((80, 1, 3, 3), offset=2.0)
    fig = kernelkit.plot_filters(weights, mode="gray", normalize=normalize, max_filters=9)
    for f, ax in enumerate(image_axes(fig)):  # the first 9; global means over all 80
        part = weights[f] if normalize == "per_filter" else weights
        norm = ax.images[0].norm
        assert (norm.vmin, norm.vmax) == (part.min(), part.max())


@pytest.mark.parametrize("normalize", ["global", "per_filter"])
def test_diverging_limits_are_symmetric_about_zero(normalize):
    weights = random_weights((6, 5, 3, 3), offset=1.5)
    fig = kernelkit.plot_filters(weights, mode="diverging", normalize=normalize)
    axes = image_axes(fig)
    for index, ax in enumerate(axes):
        part = weights[index // 5] if normalize == "per_filter" else weights
        norm = ax.images[0].norm
        assert norm.vmin == -norm.vmax == -np.abs(part).max()
        assert ax.images[0].cmap.name == "RdBu_r"
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(colorbars) == (1 if normalize == "global" else 0)


def test_rgb_mode_maps_zero_to_mid_grey_and_keeps_negative_weights():
    weights = random_weights((4, 3, 3, 3))
    weights[:, :, 1, 1] = 0.0
    fig = kernelkit.plot_filters(weights)  # auto -> rgb
    scale = np.abs(weights).max()
    for f, ax in enumerate(image_axes(fig)):
        rgb = np.asarray(ax.images[0].get_array())
        assert rgb.shape == (3, 3, 3)
        np.testing.assert_allclose(rgb[1, 1], 0.5)
        np.testing.assert_allclose(rgb, 0.5 + 0.5 * weights[f].transpose(1, 2, 0) / scale)
    assert rgb.min() >= 0.0
    assert rgb.max() <= 1.0


def test_a_constant_filter_is_mid_grey():
    weights = np.stack([np.zeros((1, 3, 3)), np.full((1, 3, 3), 0.25)])
    fig = kernelkit.plot_filters(weights, mode="gray", normalize="per_filter")
    for ax in image_axes(fig):
        np.testing.assert_allclose(colours(ax)[..., 0], 0.5, atol=1 / 255)


def test_cmap_and_colorbar_options():
    weights = random_weights((4, 1, 3, 3))
    fig = kernelkit.plot_filters(weights, mode="gray", cmap="magma", colorbar=True)
    assert {ax.images[0].cmap.name for ax in image_axes(fig)} == {"magma"}
    assert len(fig.axes) == 5
    fig = kernelkit.plot_filters(weights, mode="diverging", colorbar=False)
    assert len(fig.axes) == 4


def test_figures_save_as_png(tmp_path):
    from PIL import Image

    path = tmp_path / "filters.png"
    kernelkit.plot_filters(random_weights((16, 1, 3, 3)), figsize=(4, 3)).savefig(path, dpi=50)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (200, 150)


# -- sources: layers, models, arrays ---------------------------------------------------------


def keras_like_layer(name, weight_hwio, bias=None, activation="relu"):
    return ConvLayer(
        name, "conv2d", weight_hwio, "HWIO", bias=bias, activation=activation, data_format="NHWC"
    )


def test_a_model_shows_its_first_2d_convolution_or_the_named_layer():
    conv1d = ConvLayer("temporal", "conv1d", random_weights((4, 2, 5)), "OIHW")
    first = keras_like_layer("conv_a", random_weights((3, 3, 1, 4), seed=1))
    second = keras_like_layer("conv_b", random_weights((3, 3, 4, 6), seed=2))
    model = ConvModel([conv1d, first, second], format="keras3")
    for kwargs, expected in [({}, first), ({"layer": "conv_b"}, second), ({"layer": -1}, second)]:
        fig = kernelkit.plot_filters(model, channel=0, **kwargs)
        axes = image_axes(fig)
        assert len(axes) == expected.out_channels
        np.testing.assert_array_equal(axes[1].images[0].get_array(), expected.oihw()[1, 0])
        assert fig.get_suptitle().startswith(expected.name)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: kernelkit.plot_filters(m, layer="nope"), ValueError, "conv_a, conv_b"),
        (lambda m: kernelkit.plot_filters(m, layer=5), ValueError, "^layer: index 5"),
        (lambda m: kernelkit.plot_filters(m, layer=1.5), TypeError, "^layer:"),
        (lambda m: kernelkit.plot_filters(m, layout="HWIO"), ValueError, "^layout:"),
        (lambda m: kernelkit.plot_filters(m[0], layer=0), ValueError, "^layer:"),
        (lambda m: kernelkit.plot_filters(m, mode="rgb"), ValueError, "^mode: 'rgb' needs"),
        (lambda m: kernelkit.plot_filters(m, mode="hot"), ValueError, "^mode:"),
        (lambda m: kernelkit.plot_filters(m, normalize="each"), ValueError, "^normalize:"),
        (lambda m: kernelkit.plot_filters(m, channel=1), ValueError, "^channel: expected 0 <="),
        (lambda m: kernelkit.plot_filters(m, channel="max"), ValueError, "^channel:"),
        (lambda m: kernelkit.plot_filters(m, ncols=0), ValueError, "^ncols:"),
        (lambda m: kernelkit.plot_filters(m, max_filters=0), ValueError, "^max_filters:"),
        (lambda m: kernelkit.plot_filters(m, layer=1, ncols=2), ValueError, "^ncols:"),
        (
            lambda m: kernelkit.plot_filters(m, normalize="per_filter", colorbar=True),
            ValueError,
            "^colorbar:",
        ),
        (lambda m: kernelkit.plot_feature_maps(m, np.zeros((3,))), ValueError, "^image:"),
        (lambda m: kernelkit.plot_feature_maps(m, np.ones((5, 5), complex)), TypeError, "^image:"),
        (lambda m: kernelkit.plot_filters(np.array([["a"]])), TypeError, "^weights:"),
        (lambda m: kernelkit.plot_feature_maps(m, "missing.png"), FileNotFoundError, "missing"),
        (lambda m: kernelkit.plot_feature_maps(m, np.ones((5, 5)), max_maps=0), ValueError, "max_"),
        (lambda m: kernelkit.filter_grid(m, padding=-1), ValueError, "^padding:"),
        (lambda m: kernelkit.filter_grid(m, value_range=(0,)), ValueError, "^value_range:"),
        (lambda m: kernelkit.filter_grid(m, value_range=3), ValueError, "^value_range:"),
        (lambda m: kernelkit.filter_grid(m, value_range=(1, 0)), ValueError, "^value_range:"),
        (lambda m: kernelkit.filter_grid(m, value_range=(0, "x")), TypeError, "^value_range:"),
        (lambda m: kernelkit.filter_grid(m, padding=1.5), TypeError, "^padding:"),
        (lambda m: kernelkit.filter_grid(m, pad_value="x"), TypeError, "^pad_value:"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    model = ConvModel(
        [
            keras_like_layer("conv_a", random_weights((3, 3, 1, 4))),
            keras_like_layer("conv_b", random_weights((3, 3, 4, 2))),
        ],
        format="keras3",
    )
    with pytest.raises(error, match=match):
        call(model)


@pytest.mark.parametrize(
    ("weights", "kwargs", "match"),
    [
        (np.ones((2, 3, 3)), {}, "^weights: expected one 2-D kernel or a 4-D array"),
        (np.ones((3, 3)), {"layout": "HWIO"}, "^layout: a 2-D array"),
        (np.ones((1, 1, 3, 3)), {"layout": "NCHW"}, "^layout: expected 'OIHW' or 'HWIO'"),
        (np.ones((0, 1, 3, 3)), {}, "^weights: every axis"),
        (np.ones((1, 1, 3, 3)), {"layer": "x"}, "^layer:"),
    ],
)
def test_array_source_errors(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kernelkit.plot_filters(weights, **kwargs)


def test_a_model_file_is_read_with_load_model():
    path = demo_model_path()
    conv1 = kernelkit.load_model(path)["conv1"]
    digit = demo_digits().images[0]
    filters = image_axes(kernelkit.plot_filters(path))
    maps = image_axes(kernelkit.plot_feature_maps(path, digit))
    expected_maps = numpy_conv_nhwc(digit[..., None], conv1.hwio().astype(float), conv1.bias)
    assert len(filters) == len(maps) == 16
    for f, (drawn_filter, drawn_map) in enumerate(zip(filters, maps)):
        np.testing.assert_array_equal(drawn_filter.images[0].get_array(), conv1.hwio()[..., 0, f])
        np.testing.assert_allclose(drawn_map.images[0].get_array(), expected_maps[f], atol=1e-6)


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.keras"):
        kernelkit.plot_filters(tmp_path / "nothing.keras")


# -- plot_feature_maps -----------------------------------------------------------------------


def test_feature_maps_are_the_layer_output_with_bias_and_relu():
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(3, 3, 1, 5))
    bias = rng.normal(size=5)
    layer = keras_like_layer("conv1", weight, bias)
    image = rng.random((9, 7))
    fig = kernelkit.plot_feature_maps(layer, image)
    expected = numpy_conv_nhwc(image[..., None], weight, bias)
    axes = image_axes(fig)
    assert len(axes) == 5
    assert fig.get_suptitle() == "conv1: 5 feature maps 7x5"
    for ax, reference in zip(axes, expected):
        np.testing.assert_allclose(ax.images[0].get_array(), reference, atol=1e-12)
        assert ax.images[0].cmap.name == "viridis"


def test_a_dead_relu_map_is_drawn_as_zeros_and_labelled():
    weight = np.zeros((3, 3, 1, 2))
    weight[..., 0, 0] = 1.0
    layer = keras_like_layer("conv1", weight, bias=np.array([0.0, -1.0]))  # map 1: relu(-1) = 0
    for normalize in ("per_map", "global"):
        fig = kernelkit.plot_feature_maps(
            layer, np.random.default_rng(0).random((6, 6)), normalize=normalize
        )
        live, dead = image_axes(fig)
        data = np.asarray(dead.images[0].get_array())
        np.testing.assert_array_equal(data, 0.0)
        drawn = colours(dead)
        assert np.isfinite(dead.images[0].norm(data)).all()
        np.testing.assert_allclose(drawn, np.broadcast_to(dead.images[0].cmap(0.0), drawn.shape))
        assert dead.get_title() == "1 constant 0"
        assert live.get_title() == "0"


def test_a_constant_positive_map_is_drawn_in_the_top_colour():
    layer = keras_like_layer("conv1", np.zeros((3, 3, 1, 1)), bias=np.array([2.0]))
    (ax,) = image_axes(kernelkit.plot_feature_maps(layer, np.ones((4, 4))))
    np.testing.assert_allclose(colours(ax), np.broadcast_to(ax.images[0].cmap(1.0), (2, 2, 4)))
    assert ax.get_title() == "0 constant 2"


def test_global_normalize_shares_one_scale_and_per_map_does_not():
    rng = np.random.default_rng(4)
    layer = keras_like_layer("conv1", rng.normal(size=(3, 3, 1, 4)), rng.normal(size=4))
    image = rng.random((8, 8))
    maps = [ax.images[0].get_array() for ax in kernelkit.plot_feature_maps(layer, image).axes]
    fig = kernelkit.plot_feature_maps(layer, image, normalize="global")
    limits = {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in fig.axes}
    assert limits == {(min(m.min() for m in maps), max(m.max() for m in maps))}


def test_feature_maps_grid_and_cut():
    layer = keras_like_layer("conv1", random_weights((3, 3, 1, 20)), np.zeros(20))
    fig = kernelkit.plot_feature_maps(layer, np.ones((5, 5)), max_maps=6, ncols=3)
    axes = image_axes(fig)
    assert len(axes) == 6
    assert axes[0].get_subplotspec().get_geometry()[:2] == (2, 3)
    assert "first 6 of 20 maps" in fig.get_suptitle()


def gray_layer():
    """A 1x1 convolution without activation that outputs its gray input: the map is the image."""
    return keras_like_layer("identity", np.ones((1, 1, 1, 1)), activation=None)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (np.array([[0, 128], [255, 64]], np.uint8), np.array([[0, 128], [255, 64]]) / 255),
        (np.array([[0.0, 8.0], [16.0, 4.0]]), np.array([[0.0, 0.5], [1.0, 0.25]])),  # 0..16
        (np.array([[0.2, 0.4], [0.6, 0.8]]), np.array([[0.2, 0.4], [0.6, 0.8]])),  # kept
        (np.full((3, 2, 2, 1), 0.3), np.full((2, 2), 0.3)),  # batch: the first image
    ],
)
def test_images_are_scaled_to_unit_range(image, expected):
    (ax,) = image_axes(kernelkit.plot_feature_maps(gray_layer(), image))
    np.testing.assert_allclose(ax.images[0].get_array(), expected)


def test_an_rgb_file_is_read_and_converted_to_the_layer_channels(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(5).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    (ax,) = image_axes(kernelkit.plot_feature_maps(gray_layer(), path))
    np.testing.assert_allclose(ax.images[0].get_array(), rgb / 255 @ [0.299, 0.587, 0.114])
    colour_layer = keras_like_layer("rgb", np.ones((1, 1, 3, 1)), activation=None)
    (ax,) = image_axes(kernelkit.plot_feature_maps(colour_layer, rgb[..., 0]))
    np.testing.assert_allclose(ax.images[0].get_array(), rgb[..., 0] / 255 * 3)


# -- filter_grid -----------------------------------------------------------------------------


def hand_grid(tiles, cols, pad, pad_value=0.0):
    """Place (N, C, KH, KW) tiles by hand: tile i at row i // cols, column i % cols."""
    n, c, kh, kw = tiles.shape
    rows = -(-n // cols)
    grid = np.full((rows * (kh + pad) + pad, cols * (kw + pad) + pad, c), pad_value)
    for i in range(n):
        top, left = pad + (i // cols) * (kh + pad), pad + (i % cols) * (kw + pad)
        grid[top : top + kh, left : left + kw] = tiles[i].transpose(1, 2, 0)
    return grid[..., 0] if c == 1 else grid


@pytest.mark.parametrize(
    ("shape", "kwargs", "cols"),
    [
        ((16, 1, 3, 3), {}, 4),
        ((5, 1, 2, 4), {"padding": 2, "pad_value": 0.5}, 3),
        ((7, 3, 3, 3), {"ncols": 2, "padding": 0}, 2),
        ((1, 1, 3, 3), {}, 1),
    ],
)
def test_filter_grid_layout_without_normalization(shape, kwargs, cols):
    weights = random_weights(shape)
    grid = kernelkit.filter_grid(weights, normalize=False, **kwargs)
    expected = hand_grid(weights, cols, kwargs.get("padding", 1), kwargs.get("pad_value", 0.0))
    np.testing.assert_array_equal(grid, expected)


def test_filter_grid_puts_each_channel_of_deep_filters_in_a_row():
    weights = random_weights((3, 5, 2, 2))
    grid = kernelkit.filter_grid(weights, normalize=False, padding=1)
    np.testing.assert_array_equal(grid, hand_grid(weights.reshape(15, 1, 2, 2), 5, 1))
    mean = kernelkit.filter_grid(weights, normalize=False, channel="mean")
    np.testing.assert_array_equal(mean, hand_grid(weights.mean(axis=1, keepdims=True), 2, 1))


@pytest.mark.parametrize(
    ("kwargs", "low", "high"),
    [
        ({}, lambda w: w.min(), lambda w: w.max()),
        (
            {"scale_each": True},
            lambda w: w.min(axis=(1, 2, 3), keepdims=True),
            lambda w: w.max(axis=(1, 2, 3), keepdims=True),
        ),
        ({"value_range": (-1.0, 1.0)}, lambda w: -1.0, lambda w: 1.0),
    ],
)
def test_filter_grid_normalization(kwargs, low, high):
    weights = random_weights((6, 1, 3, 3), offset=0.5)
    lo, hi = low(weights), high(weights)
    scaled = (np.clip(weights, lo, hi) - lo) / (hi - lo)
    grid = kernelkit.filter_grid(weights, **kwargs)
    np.testing.assert_allclose(grid, hand_grid(scaled, 3, 1), atol=1e-15)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale_each", [False, True])
def test_filter_grid_matches_torchvision_make_grid(channels, scale_each):
    make_grid = pytest.importorskip("torchvision.utils").make_grid
    torch = pytest.importorskip("torch")
    weights = random_weights((10, channels, 3, 3))
    expected = make_grid(
        torch.from_numpy(weights), nrow=4, padding=2, normalize=True, scale_each=scale_each
    ).numpy()  # (3, H, W): make_grid repeats gray tiles into 3 channels
    grid = kernelkit.filter_grid(weights, ncols=4, padding=2, scale_each=scale_each)
    if channels == 1:
        np.testing.assert_allclose(grid, expected[0], atol=1e-12)
    else:
        np.testing.assert_allclose(grid, expected.transpose(1, 2, 0), atol=1e-12)
