"""plot_filters, plot_feature_maps and filter_grid: what each grid image holds, read back from the
Figure (image data, mask, colour limits, colormap, colour bar, titles, note), against values
computed here with NumPy."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import kernelkit
from kernelkit.models import ConvLayer, ConvModel, demo_digits, demo_model_path

EDGE = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])


def random_weights(shape, seed=0, offset=0.0):
    return np.random.default_rng(seed).normal(offset, 1.0, shape)


def numpy_conv_nhwc(image, weight_hwio, bias, relu=True):
    """Valid cross-correlation of one (H, W, C) image in float64, plus bias, then ReLU."""
    kh, kw = weight_hwio.shape[:2]
    windows = sliding_window_view(image, (kh, kw), axis=(0, 1))  # (OH, OW, C, KH, KW)
    maps = np.einsum("hwcij,ijco->ohw", windows, weight_hwio) + bias[:, None, None]
    return np.maximum(maps, 0) if relu else maps


def grid_axes(fig):
    """The Axes of the grid: the last one (the input image, where drawn, comes first)."""
    return fig.axes[-1]


def grid_image(fig):
    return grid_axes(fig).images[0]


def every_axes(fig):
    """The figure's Axes and their insets (the colour bar is an inset of the grid's Axes)."""
    return [*fig.axes, *(child for ax in fig.axes for child in ax.child_axes)]


def colour_bar(fig):
    """The colour bar's label and limits along its long axis."""
    (bar,) = grid_axes(fig).child_axes
    if bar.get_ylabel():
        return bar.get_ylabel(), bar.get_ylim()
    return bar.get_xlabel(), bar.get_xlim()


def split_grid(data, rows, cols, tile, count=None):
    """The tiles of a grid image in row-major order, (rows * cols, KH, KW, ...), and the mask of
    the pixels outside the first ``count`` tiles (the gaps). The gap width follows from the
    image's shape, so these tests do not assume it."""
    kh, kw = tile
    gap, rest = divmod(data.shape[0] - rows * kh, rows + 1)
    assert rest == 0
    assert gap >= 1
    assert data.shape[1] == cols * (kw + gap) + gap
    count = rows * cols if count is None else count
    outside = np.ones(data.shape[:2], bool)
    tiles = []
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        top, left = gap + r * (kh + gap), gap + c * (kw + gap)
        tiles.append(np.ma.getdata(data[top : top + kh, left : left + kw]))
        if index < count:
            outside[top : top + kh, left : left + kw] = False
    return np.array(tiles), outside


def drawn_tiles(fig, rows, cols, tile, count=None):
    """The tiles a scalar grid draws, after checking that exactly the gaps are masked."""
    data = grid_image(fig).get_array()
    tiles, gaps = split_grid(data, rows, cols, tile, count)
    np.testing.assert_array_equal(np.ma.getmaskarray(data), gaps)
    return tiles[: rows * cols if count is None else count]


def note(fig):
    return " ".join(fig.get_supxlabel().split())


def subtitle(fig):
    return " ".join(grid_axes(fig).get_title().split())


def tick_labels(ax, axis):
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks]


# -- plot_filters: one image, whatever the size ----------------------------------------------


@pytest.mark.parametrize("filters", [1, 16, 128, 1000])
@pytest.mark.parametrize("channels", [1, 3, 64])
def test_a_filter_picture_has_one_grid_and_one_colour_bar_at_any_size(filters, channels):
    fig = kernelkit.plot_filters(random_weights((filters, channels, 3, 3)))
    assert len(fig.axes) == 1
    assert len(every_axes(fig)) == 2
    (image,) = grid_axes(fig).images
    assert image.get_interpolation() == "nearest"


@pytest.mark.parametrize(
    ("shape", "kwargs", "grid", "count"),
    [
        ((16, 1, 3, 3), {}, (4, 4), 16),
        ((10, 1, 3, 3), {}, (3, 4), 10),
        ((10, 1, 3, 3), {"ncols": 5}, (2, 5), 10),
        ((3, 1, 5, 5), {"ncols": 8}, (1, 3), 3),
        ((4, 5, 3, 3), {}, (4, 5), 20),  # 20 tiles: filters x channels
        ((8, 8, 3, 3), {"mode": "gray"}, (8, 8), 64),  # 64 tiles: still filters x channels
        ((8, 9, 3, 3), {}, (3, 3), 8),  # 72 tiles: one per filter, the mean
        ((8, 5, 3, 3), {"channel": 2}, (3, 3), 8),
        ((8, 5, 3, 3), {"channel": "mean", "ncols": 8}, (1, 8), 8),
        ((100, 1, 3, 3), {}, (8, 8), 64),  # max_filters=64 by default
        ((10, 1, 3, 3), {"max_filters": 4}, (2, 2), 4),
        ((128, 64, 3, 3), {}, (8, 8), 64),
        ((128, 64, 3, 3), {"max_channels": 8, "max_filters": 16}, (16, 8), 128),
        ((6, 4, 3, 3), {"max_channels": 10}, (6, 4), 24),
        ((2, 1, 7, 5), {}, (1, 2), 2),
    ],
)
def test_the_grid_image_holds_the_tiles_and_masks_the_gaps(shape, kwargs, grid, count):
    fig = kernelkit.plot_filters(random_weights(shape), **kwargs)
    tiles = drawn_tiles(fig, *grid, shape[2:], count)
    assert tiles.shape == (count, *shape[2:])


def test_global_diverging_tiles_are_the_weights_in_filter_order():
    weights = random_weights((10, 1, 3, 3))
    fig = kernelkit.plot_filters(weights)
    np.testing.assert_array_equal(drawn_tiles(fig, 3, 4, (3, 3), 10), weights[:, 0])
    assert grid_image(fig).cmap.name == "RdBu_r"


def test_filters_by_channel_are_rows_and_columns():
    weights = random_weights((3, 4, 3, 3))
    fig = kernelkit.plot_filters(weights, mode="gray")
    np.testing.assert_array_equal(drawn_tiles(fig, 3, 4, (3, 3)), weights.reshape(12, 3, 3))
    ax = grid_axes(fig)
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("filter", "input channel")
    assert tick_labels(ax, "y") == ["0", "1", "2"]
    assert tick_labels(ax, "x") == ["0", "1", "2", "3"]
    assert "rows: filters, columns: input channels" in subtitle(fig)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"channel": 2}, lambda w: w[:, 2]),
        ({"channel": "mean"}, lambda w: w.mean(axis=1)),
        ({}, lambda w: w.mean(axis=1)),  # 32 x 16 tiles would be too many: the mean
        ({"max_channels": 3}, lambda w: w[:, :3].reshape(-1, 3, 3)),
        ({"max_channels": 100}, lambda w: w.reshape(-1, 3, 3)),
    ],
)
def test_channel_and_max_channels_choose_what_each_filter_shows(kwargs, expected):
    weights = random_weights((32, 16, 3, 3))
    fig = kernelkit.plot_filters(weights, **kwargs)
    want = expected(weights)
    rows, cols = (6, 6) if "max_channels" not in kwargs else (32, want.shape[0] // 32)
    np.testing.assert_allclose(drawn_tiles(fig, rows, cols, (3, 3), len(want)), want)


def test_max_channels_shows_a_3_channel_layer_channel_by_channel():
    weights = random_weights((4, 3, 3, 3))
    fig = kernelkit.plot_filters(weights, max_channels=2)  # auto: diverging, not rgb
    np.testing.assert_array_equal(drawn_tiles(fig, 4, 2, (3, 3)), weights[:, :2].reshape(8, 3, 3))
    assert grid_image(fig).cmap.name == "RdBu_r"


@pytest.mark.parametrize("layout", ["OIHW", "HWIO"])
def test_gray_mode_draws_the_horizontal_edge_bright_on_top_dark_below(layout):
    weights = EDGE[np.newaxis, np.newaxis]
    if layout == "HWIO":
        weights = weights.transpose(2, 3, 1, 0)
    fig = kernelkit.plot_filters(weights, layout=layout, mode="gray")
    image = grid_image(fig)
    assert image.cmap.name == "gray"
    (tile,) = drawn_tiles(fig, 1, 1, (3, 3))
    luminance = image.cmap(image.norm(tile))[..., 0]
    np.testing.assert_allclose(luminance[0], 1.0)  # top row: white
    np.testing.assert_allclose(luminance[2], 0.0)  # bottom row: black
    np.testing.assert_allclose(luminance[1], 0.5, atol=1 / 255)


def test_a_2d_array_is_one_kernel():
    fig = kernelkit.plot_filters(EDGE)
    np.testing.assert_array_equal(drawn_tiles(fig, 1, 1, (3, 3)), [EDGE])
    assert fig.get_suptitle().startswith("weights: 1 filter of 3x3x1")


# -- plot_filters: the colour scale ----------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 1.5, -3.0])
@pytest.mark.parametrize("mode", ["auto", "diverging"])
def test_signed_weights_get_a_colour_bar_symmetric_about_zero(offset, mode):
    weights = random_weights((80, 1, 3, 3), offset=offset)
    fig = kernelkit.plot_filters(weights, mode=mode, max_filters=9)
    label, (low, high) = colour_bar(fig)
    extent = np.abs(weights).max()  # of all 80 filters, not only the 9 drawn
    assert (low, high) == (-extent, extent)
    assert label == "weight"
    norm = grid_image(fig).norm
    assert (norm.vmin, norm.vmax) == (-extent, extent)
    assert "one scale for the layer, centred at 0" in subtitle(fig)


def test_gray_limits_are_the_weight_range():
    weights = random_weights((80, 1, 3, 3), offset=2.0)
    fig = kernelkit.plot_filters(weights, mode="gray", max_filters=9)
    np.testing.assert_array_equal(drawn_tiles(fig, 3, 3, (3, 3)), weights[:9, 0])
    assert colour_bar(fig) == ("weight", (weights.min(), weights.max()))


def test_per_filter_diverging_divides_each_filter_by_its_max_abs_weight():
    weights = random_weights((6, 5, 3, 3), offset=1.5)
    fig = kernelkit.plot_filters(weights, normalize="per_filter")
    scaled = weights / np.abs(weights).max(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(drawn_tiles(fig, 6, 5, (3, 3)), scaled.reshape(30, 3, 3))
    label, limits = colour_bar(fig)
    assert limits == (-1.0, 1.0)
    assert "max |weight|" in label
    assert "each filter scaled by its max |w|" in subtitle(fig)


def test_per_filter_gray_maps_each_filter_from_its_min_to_its_max():
    weights = random_weights((5, 1, 3, 3))
    fig = kernelkit.plot_filters(weights, mode="gray", normalize="per_filter")
    low = weights.min(axis=(1, 2, 3), keepdims=True)
    high = weights.max(axis=(1, 2, 3), keepdims=True)
    expected = ((weights - low) / (high - low))[:, 0]
    np.testing.assert_allclose(drawn_tiles(fig, 2, 3, (3, 3), 5), expected)
    assert colour_bar(fig)[1] == (0.0, 1.0)


@pytest.mark.parametrize("normalize", ["global", "per_filter"])
def test_rgb_mode_maps_zero_to_mid_grey_and_keeps_negative_weights(normalize):
    weights = random_weights((4, 3, 3, 3))
    weights[:, :, 1, 1] = 0.0
    fig = kernelkit.plot_filters(weights, normalize=normalize)  # auto -> rgb
    data = np.asarray(grid_image(fig).get_array())
    tiles, gaps = split_grid(data, 2, 2, (3, 3))
    per_filter = normalize == "per_filter"
    scale = np.abs(weights).max(axis=(1, 2, 3) if per_filter else None, keepdims=True)
    np.testing.assert_allclose(tiles, 0.5 + 0.5 * (weights / scale).transpose(0, 2, 3, 1))
    np.testing.assert_allclose(tiles[:, 1, 1], 0.5)
    np.testing.assert_array_equal(data[gaps], 1.0)  # white gaps
    label, limits = colour_bar(fig)
    assert limits == ((-1.0, 1.0) if per_filter else (-scale.item(), scale.item()))
    assert "each of R, G, B" in label


@pytest.mark.parametrize(("mode", "normalize"), [("gray", "per_filter"), ("diverging", "global")])
def test_a_constant_filter_is_drawn_in_the_middle_colour(mode, normalize):
    weights = np.stack([np.zeros((1, 3, 3)), np.zeros((1, 3, 3))])
    if mode == "gray":
        weights[1] = 0.25
    fig = kernelkit.plot_filters(weights, mode=mode, normalize=normalize)
    image = grid_image(fig)
    drawn = image.cmap(image.norm(drawn_tiles(fig, 1, 2, (3, 3))))
    np.testing.assert_allclose(drawn, np.broadcast_to(image.cmap(0.5), drawn.shape), atol=1 / 255)


@pytest.mark.parametrize("cmap", ["gray", "RdBu_r", "viridis", "magma", "coolwarm"])
def test_the_gap_colour_is_none_of_the_colormaps_colours(cmap):
    fig = kernelkit.plot_filters(random_weights((4, 1, 3, 3)), mode="gray", cmap=cmap)
    image = grid_image(fig)
    assert image.cmap.name == cmap
    gap = np.array(image.cmap.get_bad()[:3])
    colours = matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    assert np.linalg.norm(colours - gap, axis=1).min() > 0.15


def test_colorbar_false_leaves_only_the_grid():
    fig = kernelkit.plot_filters(random_weights((4, 1, 3, 3)), colorbar=False)
    assert len(every_axes(fig)) == 1


def test_a_flat_grid_gets_its_colour_bar_below():
    fig = kernelkit.plot_filters(random_weights((8, 1, 3, 3)), ncols=8)
    (bar,) = grid_axes(fig).child_axes
    assert bar.get_xlabel() == "weight"


def test_figures_save_as_png(tmp_path):
    from PIL import Image

    path = tmp_path / "filters.png"
    kernelkit.plot_filters(random_weights((16, 1, 3, 3)), figsize=(4, 3)).savefig(path, dpi=50)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (200, 150)


# -- plot_filters: titles, ticks and the note ------------------------------------------------


def test_titles_name_layer_shape_layout_arrangement_and_normalisation():
    layer = ConvLayer("conv2", "conv2d", random_weights((3, 3, 8, 16)), "HWIO")
    fig = kernelkit.plot_filters(layer, channel=1, normalize="per_filter")
    assert fig.get_suptitle() == "conv2: 16 filters of 3x3x8 (weights 3x3x8x16, HWIO)"
    assert subtitle(fig) == (
        "one tile per filter: input channel 1; each filter scaled by its max |w|"
    )
    fig = kernelkit.plot_filters(layer, title="mine")
    assert fig.get_suptitle() == "mine"
    assert subtitle(fig).startswith("one tile per filter: the mean of its 8 input channels;")


def test_ticks_give_each_rows_first_filter_and_the_offset_in_the_row():
    fig = kernelkit.plot_filters(random_weights((10, 1, 3, 3)))
    ax = grid_axes(fig)
    assert tick_labels(ax, "y") == ["0", "4", "8"]
    assert tick_labels(ax, "x") == ["+0", "+1", "+2", "+3"]
    assert ax.get_ylabel() == "filter"


def test_ticks_of_a_big_grid_are_thinned_to_stay_readable():
    fig = kernelkit.plot_filters(random_weights((100, 64, 3, 3)), max_channels=64)
    ax = grid_axes(fig)
    assert tick_labels(ax, "y") == [str(i) for i in range(0, 64, 4)]
    assert tick_labels(ax, "x") == [str(i) for i in range(0, 64, 4)]


@pytest.mark.parametrize(
    ("shape", "kwargs", "shown", "options"),
    [
        ((100, 1, 3, 3), {}, "the first 64 of 100 filters.", ["max_filters=N"]),
        (
            (64, 32, 3, 3),
            {},
            "every filter, each as the mean of its 32 input channels.",
            ["max_channels=N", "channel=K"],
        ),
        (
            (128, 64, 3, 3),
            {},
            "the first 64 of 128 filters, each as the mean of its 64 input channels.",
            ["max_filters=N", "max_channels=N", "channel=K"],
        ),
        (
            (20, 16, 3, 3),
            {"max_channels": 4, "max_filters": 8},
            "the first 8 of 20 filters, with their first 4 of 16 input channels.",
            ["max_filters=N", "max_channels=N", "channel=K"],
        ),
    ],
)
def test_the_note_says_what_is_shown_and_how_to_see_the_rest(shape, kwargs, shown, options):
    text = note(kernelkit.plot_filters(random_weights(shape), **kwargs))
    assert text.startswith(f"Shown: {shown} To see the rest: ")
    for option in options:
        assert option in text
    assert ("max_filters=N" in text) == ("max_filters=N" in options)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"channel": 0}, {"channel": "mean"}, {"max_channels": 16}, {"max_filters": 4}],
)
def test_no_note_when_every_chosen_weight_is_drawn(kwargs):
    assert note(kernelkit.plot_filters(random_weights((4, 16, 3, 3)), **kwargs)) == ""


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
        count = expected.out_channels
        tiles = drawn_tiles(fig, 2, count // 2, (3, 3))
        np.testing.assert_array_equal(tiles, expected.oihw()[:, 0])
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
        (lambda m: kernelkit.plot_filters(m, max_channels=0), ValueError, "^max_channels:"),
        (lambda m: kernelkit.plot_filters(m, max_channels=1.5), TypeError, "^max_channels:"),
        (
            lambda m: kernelkit.plot_filters(m, layer=1, channel=0, max_channels=2),
            ValueError,
            "^max_channels: draws the first channels side by side; channel=",
        ),
        (lambda m: kernelkit.plot_filters(m, layer=1, ncols=2), ValueError, "^ncols:"),
        (lambda m: kernelkit.plot_filters(m, mode="rgb", cmap="gray"), ValueError, "^mode:"),
        (lambda m: kernelkit.plot_feature_maps(m, np.zeros((3,))), ValueError, "^image:"),
        (lambda m: kernelkit.plot_feature_maps(m, np.ones((5, 5), complex)), TypeError, "^image:"),
        (lambda m: kernelkit.plot_filters(np.array([["a"]])), TypeError, "^weights:"),
        (lambda m: kernelkit.plot_feature_maps(m, "missing.png"), FileNotFoundError, "missing"),
        (lambda m: kernelkit.plot_feature_maps(m, np.ones((5, 5)), max_maps=0), ValueError, "max_"),
        (
            lambda m: kernelkit.plot_feature_maps(
                m, np.ones((5, 5)), input_image=np.ones((5, 5, 6))
            ),
            ValueError,
            "^input_image: expected a gray or colour image",
        ),
        (
            lambda m: kernelkit.plot_feature_maps(m, np.ones((5, 5)), input_image=np.zeros(3)),
            ValueError,
            "^input_image:",
        ),
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
        (np.ones((2, 3, 3, 3)), {"mode": "rgb", "max_channels": 2}, "^max_channels: rgb mode"),
        (np.ones((2, 3, 3, 3)), {"mode": "rgb", "cmap": "gray"}, "^cmap: rgb mode"),
    ],
)
def test_array_source_errors(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kernelkit.plot_filters(weights, **kwargs)


def test_a_model_file_is_read_with_load_model():
    path = demo_model_path()
    conv1 = kernelkit.load_model(path)["conv1"]
    digit = demo_digits().images[0]
    filters = drawn_tiles(kernelkit.plot_filters(path), 4, 4, (3, 3))
    maps = drawn_tiles(kernelkit.plot_feature_maps(path, digit, normalize="global"), 4, 4, (6, 6))
    expected_maps = numpy_conv_nhwc(digit[..., None], conv1.hwio().astype(float), conv1.bias)
    np.testing.assert_array_equal(filters, conv1.hwio()[..., 0, :].transpose(2, 0, 1))
    np.testing.assert_allclose(maps, expected_maps, atol=1e-6)


def test_a_missing_model_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.keras"):
        kernelkit.plot_filters(tmp_path / "nothing.keras")


# -- plot_feature_maps -----------------------------------------------------------------------


def layer_and_maps(seed=3, filters=5, activation="relu"):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(3, 3, 1, filters))
    bias = rng.normal(size=filters)
    image = rng.random((9, 7))
    layer = keras_like_layer("conv1", weight, bias, activation)
    return layer, image, numpy_conv_nhwc(image[..., None], weight, bias, activation == "relu")


def test_feature_maps_are_the_layer_output_with_bias_and_relu():
    layer, image, expected = layer_and_maps()
    fig = kernelkit.plot_feature_maps(layer, image, normalize="global")
    np.testing.assert_allclose(drawn_tiles(fig, 2, 3, (7, 5), 5), expected, atol=1e-12)
    assert grid_image(fig).cmap.name == "viridis"
    assert fig.get_suptitle() == "conv1: 5 feature maps 7x5"
    assert colour_bar(fig) == ("activation", (expected.min(), expected.max()))
    assert subtitle(fig) == "one scale for all maps"


def test_per_map_normalize_maps_each_map_from_its_min_to_its_max():
    layer, image, expected = layer_and_maps(activation=None)
    fig = kernelkit.plot_feature_maps(layer, image)
    low = expected.min(axis=(1, 2), keepdims=True)
    high = expected.max(axis=(1, 2), keepdims=True)
    scaled = (expected - low) / (high - low)
    np.testing.assert_allclose(drawn_tiles(fig, 2, 3, (7, 5), 5), scaled, atol=1e-12)
    label, limits = colour_bar(fig)
    assert limits == (0.0, 1.0)
    assert "per map" in label
    assert subtitle(fig) == "each map scaled from its min to its max"


@pytest.mark.parametrize("maps", [1, 20, 200])
def test_a_feature_map_picture_has_the_input_one_grid_and_one_colour_bar(maps):
    layer = keras_like_layer("conv1", random_weights((3, 3, 1, maps)), np.zeros(maps))
    fig = kernelkit.plot_feature_maps(layer, np.random.default_rng(0).random((8, 8)))
    assert len(fig.axes) == 2
    assert len(every_axes(fig)) == 3


def test_the_input_image_is_drawn_beside_the_maps():
    layer, image, _ = layer_and_maps()
    fig = kernelkit.plot_feature_maps(layer, image * 16.0)  # floats outside [0, 1]: scaled
    input_ax = fig.axes[0]
    expected = (image - image.min()) / (image.max() - image.min())
    np.testing.assert_allclose(input_ax.images[0].get_array(), expected)
    assert input_ax.get_title() == "input 9x7"
    assert input_ax.images[0].cmap.name == "gray"


def test_input_image_false_draws_no_input_and_an_array_draws_that_one():
    layer, image, _ = layer_and_maps()
    assert len(kernelkit.plot_feature_maps(layer, image, input_image=False).axes) == 1
    photo = np.random.default_rng(9).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    fig = kernelkit.plot_feature_maps(layer, image, input_image=photo)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), photo / 255)
    assert fig.axes[0].get_title() == "input 20x30"


def test_a_deep_input_that_is_no_picture_is_not_drawn():
    layer = ConvLayer("conv2", "conv2d", random_weights((3, 3, 6, 2)), "HWIO", data_format="NHWC")
    fig = kernelkit.plot_feature_maps(layer, np.random.default_rng(0).random((6, 6, 6)))
    assert len(fig.axes) == 1


def test_a_dead_relu_map_is_drawn_as_zeros_and_named_in_the_note():
    weight = np.zeros((3, 3, 1, 2))
    weight[..., 0, 0] = 1.0
    layer = keras_like_layer("conv1", weight, bias=np.array([0.0, -1.0]))  # map 1: relu(-1) = 0
    for normalize in ("per_map", "global"):
        fig = kernelkit.plot_feature_maps(
            layer, np.random.default_rng(0).random((6, 6)), normalize=normalize
        )
        _, dead = drawn_tiles(fig, 1, 2, (4, 4))
        np.testing.assert_array_equal(dead, 0.0)
        image = grid_image(fig)
        drawn = image.cmap(image.norm(dead))
        np.testing.assert_allclose(drawn, np.broadcast_to(image.cmap(0.0), drawn.shape))
        assert note(fig) == "Constant maps (no pattern, e.g. a dead ReLU channel): 1 (= 0)."


def test_a_constant_positive_map_is_drawn_in_the_top_colour():
    layer = keras_like_layer("conv1", np.zeros((3, 3, 1, 1)), bias=np.array([2.0]))
    fig = kernelkit.plot_feature_maps(layer, np.ones((4, 4)))
    image = grid_image(fig)
    drawn = image.cmap(image.norm(drawn_tiles(fig, 1, 1, (2, 2))))
    np.testing.assert_allclose(drawn, np.broadcast_to(image.cmap(1.0), drawn.shape))
    assert note(fig) == "Constant maps (no pattern, e.g. a dead ReLU channel): 0 (= 2)."


def test_many_constant_maps_are_listed_up_to_eight():
    layer = keras_like_layer("conv1", np.zeros((3, 3, 1, 12)), bias=np.zeros(12))
    text = note(kernelkit.plot_feature_maps(layer, np.ones((4, 4))))
    assert text.endswith(
        "0 (= 0), 1 (= 0), 2 (= 0), 3 (= 0), 4 (= 0), 5 (= 0), 6 (= 0), 7 (= 0) and 4 more."
    )


def test_feature_maps_grid_and_cut():
    layer = keras_like_layer("conv1", random_weights((3, 3, 1, 20)), np.zeros(20))
    fig = kernelkit.plot_feature_maps(layer, np.ones((5, 5)), max_maps=6, ncols=3)
    drawn_tiles(fig, 2, 3, (3, 3))
    assert tick_labels(grid_axes(fig), "y") == ["0", "3"]
    assert grid_axes(fig).get_ylabel() == "map"
    assert note(fig).startswith("Shown: the first 6 of 20 maps; max_maps=N shows more.")


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
    fig = kernelkit.plot_feature_maps(gray_layer(), image, normalize="global")
    np.testing.assert_allclose(drawn_tiles(fig, 1, 1, (2, 2))[0], expected)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected)


def test_an_rgb_file_is_read_and_converted_to_the_layer_channels(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(5).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    fig = kernelkit.plot_feature_maps(gray_layer(), path, normalize="global")
    (drawn,) = drawn_tiles(fig, 1, 1, (6, 5))
    np.testing.assert_allclose(drawn, rgb / 255 @ [0.299, 0.587, 0.114])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), rgb / 255)  # in colour
    colour_layer = keras_like_layer("rgb", np.ones((1, 1, 3, 1)), activation=None)
    fig = kernelkit.plot_feature_maps(colour_layer, rgb[..., 0], normalize="global")
    (drawn,) = drawn_tiles(fig, 1, 1, (6, 5))
    np.testing.assert_allclose(drawn, rgb[..., 0] / 255 * 3)


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
