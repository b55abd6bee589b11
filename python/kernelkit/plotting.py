"""Filter grids and feature maps of convolution layers, drawn with matplotlib's object API.

Every plotting function builds a :class:`matplotlib.figure.Figure` directly (no pyplot state, so
nothing opens a window) and returns it: save it with ``fig.savefig("filters.png")``, or annotate
its Axes first, one per panel. :func:`filter_grid` gives the pixels of a filter grid as a NumPy
array instead, in the manner of ``torchvision.utils.make_grid``.

Sources of filters: a :class:`~kernelkit.models.ConvLayer`, a :class:`~kernelkit.models.ConvModel`
(with ``layer=`` a name or an index; by default its first 2-D convolution), the path of a model
file that :func:`kernelkit.load_model` reads, or an array of weights (``layout=``
"OIHW", the default, or "HWIO"; a 2-D array is one kernel).
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._images import PathLike, as_channels, read_image
from ._validation import int_at_least, one_of, positive_int, real_array, real_number
from .models._layer import ConvLayer, ConvModel

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

__all__ = ["filter_grid", "plot_feature_maps", "plot_filters", "select_layer"]

Source = Union[ConvLayer, ConvModel, PathLike, ArrayLike]
FilterMode = Literal["auto", "gray", "rgb", "diverging"]
Float64Array = NDArray[np.float64]

_FILTER_MODES = ("auto", "gray", "rgb", "diverging")
_DEFAULT_CMAPS = {"gray": "gray", "diverging": "RdBu_r"}
_ARRAY_LAYOUTS = ("OIHW", "HWIO")
_PANEL_INCHES = 1.1  # default figure size per panel
_MAX_FIGURE_INCHES = 16.0


# --------------------------------------------------------------------------------------------
# Sources: which layer, and which image
# --------------------------------------------------------------------------------------------


def select_layer(
    source: Source, layer: int | str | None = None, layout: str | None = None
) -> ConvLayer:
    """The convolution layer that ``source`` names (see the module docstring for the sources).

    Examples
    --------
    >>> import numpy as np
    >>> select_layer(np.ones((3, 3))).oihw().shape        # one 3x3 kernel
    (1, 1, 3, 3)
    >>> select_layer(np.ones((3, 3, 1, 16)), layout="HWIO").out_channels
    16
    """
    if isinstance(source, ConvLayer):
        _only_for_arrays(layout)
        if layer is not None:
            raise ValueError("layer: selects a layer of a model; the source is a single layer")
        return source
    if isinstance(source, (str, os.PathLike)):
        from .models.load import load_model

        source = load_model(source)
    if isinstance(source, ConvModel):
        _only_for_arrays(layout)
        return _layer_of_model(source, layer)
    if layer is not None:
        raise ValueError("layer: selects a layer of a model; the source is an array of weights")
    return _layer_from_array(source, layout)


def _only_for_arrays(layout: str | None) -> None:
    if layout is not None:
        raise ValueError("layout: applies to arrays of weights; layers know their own layout")


def _layer_of_model(model: ConvModel, layer: int | str | None) -> ConvLayer:
    where = f"{model.path}: " if model.path else ""
    if not len(model):
        raise ValueError(f"{where}the model has no convolution layers")
    names = ", ".join(model.names)
    if layer is None:
        for candidate in model:
            if candidate.weight.ndim == 4:
                return candidate
        raise ValueError(f"{where}the model has no 2-D convolution layer (layers: {names})")
    if isinstance(layer, str):
        if layer not in model.names:
            raise ValueError(f"layer: no layer named {layer!r}; the layers are: {names}")
        return model[layer]
    try:
        index = operator.index(layer)
    except TypeError:
        raise TypeError(f"layer: expected a name or an index, got {layer!r}") from None
    if not -len(model) <= index < len(model):
        raise ValueError(f"layer: index {index} is out of range for {len(model)} layers ({names})")
    return model.layers[index]


def _layer_from_array(weights: ArrayLike, layout: str | None) -> ConvLayer:
    arr = real_array(weights, "weights")
    if arr.ndim == 2:
        if layout is not None:
            raise ValueError("layout: a 2-D array is one kernel (KH, KW) and takes no layout")
        arr, layout = arr[np.newaxis, np.newaxis], "OIHW"
    elif arr.ndim != 4:
        raise ValueError(
            f"weights: expected one 2-D kernel or a 4-D array (OIHW or HWIO), got shape {arr.shape}"
        )
    layout = "OIHW" if layout is None else str(layout).upper()
    if layout not in _ARRAY_LAYOUTS:
        raise ValueError(f"layout: expected 'OIHW' or 'HWIO', got {layout!r}")
    if min(arr.shape) < 1:
        raise ValueError(f"weights: every axis must be non-empty, got shape {arr.shape}")
    return ConvLayer("weights", "conv2d", arr, layout, data_format="NCHW")


def _image_for_layer(image: ArrayLike | PathLike, channels: int) -> Float64Array:
    """``image`` as (H, W, channels) float64 in [0, 1], from a file or an array.

    Arrays may be (H, W), (H, W, C) or (N, H, W, C) (the first image is used). Integer arrays are
    divided by their dtype's maximum; float arrays outside [0, 1] are scaled to [0, 1] by their
    minimum and maximum.
    """
    if isinstance(image, (str, os.PathLike)):
        pixels = read_image(image)
    else:
        arr = real_array(image, "image")
        if arr.ndim == 4:
            if arr.shape[0] == 0:
                raise ValueError("image: the batch is empty")
            arr = arr[0]
        if arr.ndim not in (2, 3):
            raise ValueError(
                f"image: expected (H, W), (H, W, C) or (N, H, W, C), got shape {arr.shape}"
            )
        pixels = _unit_range(arr)
    return as_channels(pixels, channels)


def _unit_range(arr: NDArray[Any]) -> Float64Array:
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    values = arr.astype(np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        return values
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


# --------------------------------------------------------------------------------------------
# Weights: channel selection, colour limits, layout of the panels
# --------------------------------------------------------------------------------------------


def _oihw_for_display(layer: ConvLayer, channel: int | str | None) -> tuple[Float64Array, str]:
    """The layer's filters as float64 (O, C, KH, KW), one channel chosen if ``channel`` says so,
    and a phrase naming the channel choice for titles."""
    weights = layer.oihw().astype(np.float64)
    if channel is None:
        return weights, ""
    if isinstance(channel, str):
        if channel != "mean":
            raise ValueError(f"channel: expected an int, 'mean' or None, got {channel!r}")
        return weights.mean(axis=1, keepdims=True), ", mean over input channels"
    try:
        index = operator.index(channel)
    except TypeError:
        raise TypeError(f"channel: expected an int, 'mean' or None, got {channel!r}") from None
    if not 0 <= index < weights.shape[1]:
        raise ValueError(
            f"channel: expected 0 <= channel < {weights.shape[1]} (the filters' input channels), "
            f"got {index}"
        )
    return weights[:, index : index + 1], f", input channel {index}"


def _resolve_mode(mode: str, channels: int) -> str:
    if one_of(mode, _FILTER_MODES, "mode") == "auto":
        return {1: "gray", 3: "rgb"}.get(channels, "diverging")
    if mode == "rgb" and channels != 3:
        raise ValueError(
            f"mode: 'rgb' needs filters with 3 input channels, these have {channels} "
            "(use mode='gray' or 'diverging', or channel=)"
        )
    return mode


def _filter_limits(weights: Float64Array, *, symmetric: bool, per_filter: bool) -> Float64Array:
    """(O, 2) colour limits (low, high) for each filter of (O, C, KH, KW) ``weights``.

    Symmetric limits are (-max|w|, max|w|) so that zero sits in the middle of the colour scale.
    A constant filter gets limits around its value, so that it is drawn in the middle colour
    rather than the extreme one.
    """
    axis = (1, 2, 3) if per_filter else None
    if symmetric:
        high = np.abs(weights).max(axis=axis)
        low = -high
    else:
        low, high = weights.min(axis=axis), weights.max(axis=axis)
    low = np.broadcast_to(low, weights.shape[:1]).astype(np.float64)
    high = np.broadcast_to(high, weights.shape[:1]).astype(np.float64)
    flat = high <= low
    return np.stack([np.where(flat, low - 1.0, low), np.where(flat, high + 1.0, high)], axis=1)


def _grid_shape(count: int, ncols: int | None) -> tuple[int, int]:
    """(rows, columns) for ``count`` panels: ``ncols`` columns, or a grid as square as possible."""
    cols = math.ceil(math.sqrt(count)) if ncols is None else positive_int(ncols, "ncols")
    cols = min(cols, count)
    return math.ceil(count / cols), cols


def _first(count: int, limit: int, what: str) -> tuple[int, str]:
    """How many of ``count`` items to show at most ``limit``, and the title's note if cut."""
    shown = min(count, positive_int(limit, f"max_{what}"))
    return shown, "" if shown == count else f" (first {shown} of {count} {what})"


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _new_figure(rows: int, cols: int, figsize: tuple[float, float] | None) -> Figure:
    from matplotlib.figure import Figure

    if figsize is None:
        width = min(1.0 + _PANEL_INCHES * cols, _MAX_FIGURE_INCHES)
        height = min(1.2 + _PANEL_INCHES * rows, _MAX_FIGURE_INCHES)
        figsize = (width, height)
    return Figure(figsize=figsize, layout="constrained")


def _norm(low: float, high: float) -> Normalize:
    from matplotlib.colors import Normalize

    return Normalize(vmin=low, vmax=high)


def _draw_panel(
    fig: Figure,
    grid: tuple[int, int],
    position: int,
    image: NDArray[Any],
    norm: Normalize | None,
    cmap: str | None,
) -> Axes:
    """One Axes at ``position`` (0-based, row-major) of the ``grid``, showing ``image`` pixel for
    pixel, without ticks."""
    ax = fig.add_subplot(grid[0], grid[1], position + 1)
    ax.imshow(image, cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _panel_label(ax: Axes, text: str) -> None:
    ax.set_title(text, fontsize="small", pad=2)


def plot_filters(
    source: Source,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    mode: FilterMode = "auto",
    channel: int | str | None = None,
    normalize: Literal["global", "per_filter"] = "global",
    ncols: int | None = None,
    max_filters: int = 64,
    cmap: str | None = None,
    colorbar: bool | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw the filters of a convolution layer, one image per filter (or per filter and channel).

    Parameters
    ----------
    source : ConvLayer, ConvModel, path or array_like
        The layer; a model (with ``layer``), a model file, or weights (with ``layout``).
    layer : str or int, optional
        Name or index of the layer in a model; by default the first 2-D convolution.
    layout : {"OIHW", "HWIO"}, optional
        Layout of an array of weights (default OIHW; a 2-D array is one kernel).
    mode : {"auto", "gray", "rgb", "diverging"}
        ``"gray"``: darker = lower weight. ``"rgb"``: 3-channel filters as colour images, zero
        as mid-grey, limits symmetric about zero so negative weights are not clipped to black.
        ``"diverging"``: a diverging colormap centred at zero (symmetric limits) with one shared
        colorbar. ``"auto"``: rgb for 3 input channels, gray for 1, diverging otherwise.
        Multi-channel filters in gray or diverging mode are drawn one panel per input channel
        (filters as rows, channels as columns) unless ``channel`` picks one.
    channel : int or "mean", optional
        Show one input channel of each filter, or their mean.
    normalize : {"global", "per_filter"}
        One colour scale for the whole layer (filters are comparable), or one per filter.
    ncols : int, optional
        Columns of the grid of filters; by default as square as possible (16 filters: 4 x 4).
    max_filters : int
        Show at most this many filters (the first ones; the title says so).
    cmap : str, optional
        Colormap for gray and diverging mode (defaults "gray" and "RdBu_r").
    colorbar : bool, optional
        Draw one colorbar for all panels; by default in diverging mode with global scaling.
    title, figsize : optional
        Figure title (default: the layer and the filter shape) and size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per panel, with the filter index as its title.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> edges = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float)
    >>> weights = np.stack([edges, edges.T, -edges, -edges.T])[:, np.newaxis]   # OIHW
    >>> fig = kernelkit.plot_filters(weights, mode="gray")
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (4, (3, 3))
    >>> fig.savefig("filters.png")  # doctest: +SKIP
    """
    conv = select_layer(source, layer, layout)
    weights, channel_note = _oihw_for_display(conv, channel)
    drawn = _resolve_mode(mode, weights.shape[1])
    one_of(normalize, ("global", "per_filter"), "normalize")
    with_colorbar = _wants_colorbar(drawn, normalize, colorbar, cmap)
    shown, cut_note = _first(weights.shape[0], max_filters, "filters")
    limits = _filter_limits(
        weights, symmetric=drawn != "gray", per_filter=normalize == "per_filter"
    )[:shown]
    if drawn == "rgb":
        fig = _draw_rgb_filters(weights[:shown], limits, ncols, figsize)
    else:
        colormap = cmap or _DEFAULT_CMAPS[drawn]
        fig = _draw_scalar_filters(weights[:shown], limits, ncols, figsize, colormap)
    if with_colorbar:
        fig.colorbar(fig.axes[0].images[0], ax=fig.axes, shrink=0.8, label="weight")
    o, c, kh, kw = weights.shape
    heading = f"{conv.name}: {o} filters {kh}x{kw}x{c}{channel_note}" if title is None else title
    fig.suptitle(heading + cut_note)
    return fig


def _wants_colorbar(mode: str, normalize: str, colorbar: bool | None, cmap: str | None) -> bool:
    """Whether to draw the shared colorbar: by default in diverging mode with one global scale."""
    if mode == "rgb":
        if cmap is not None or colorbar:
            raise ValueError("cmap, colorbar: rgb mode draws colours, not a colormap")
        return False
    if colorbar is None:
        return mode == "diverging" and normalize == "global"
    if colorbar and normalize != "global":
        raise ValueError("colorbar: one colorbar for all panels needs normalize='global'")
    return colorbar


def _draw_rgb_filters(
    weights: Float64Array,
    limits: Float64Array,
    ncols: int | None,
    figsize: tuple[float, float] | None,
) -> Figure:
    """3-channel filters as colour images: 0.5 + 0.5 * w / limit, so zero is mid-grey."""
    grid = _grid_shape(weights.shape[0], ncols)
    fig = _new_figure(*grid, figsize)
    scale = limits[:, 1, np.newaxis, np.newaxis, np.newaxis]
    colours = np.clip(0.5 + 0.5 * weights / scale, 0.0, 1.0).transpose(0, 2, 3, 1)
    for index, image in enumerate(colours):
        _panel_label(_draw_panel(fig, grid, index, image, None, None), str(index))
    return fig


def _draw_scalar_filters(
    weights: Float64Array,
    limits: Float64Array,
    ncols: int | None,
    figsize: tuple[float, float] | None,
    cmap: str,
) -> Figure:
    """Filters through a colormap: a grid of filters for one channel, else filters x channels."""
    o, c = weights.shape[:2]
    norms = [_norm(*pair) for pair in limits]
    if np.all(limits == limits[0]):
        norms = [norms[0]] * o  # one shared scale, so a colorbar speaks for every panel
    if c == 1:
        grid = _grid_shape(o, ncols)
        fig = _new_figure(*grid, figsize)
        for index in range(o):
            ax = _draw_panel(fig, grid, index, weights[index, 0], norms[index], cmap)
            _panel_label(ax, str(index))
        return fig
    if ncols is not None:
        raise ValueError(
            "ncols: multi-channel filters are drawn as filters x channels; pick one channel "
            "with channel= to arrange them freely"
        )
    fig = _new_figure(o, c, figsize)
    for f in range(o):
        for ch in range(c):
            ax = _draw_panel(fig, (o, c), f * c + ch, weights[f, ch], norms[f], cmap)
            if f == 0:
                _panel_label(ax, f"ch {ch}")
            if ch == 0:
                ax.set_ylabel(str(f), rotation=0, ha="right", va="center", fontsize="small")
    return fig


def plot_feature_maps(
    source: Source,
    image: ArrayLike | PathLike,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    ncols: int | None = None,
    max_maps: int = 64,
    normalize: Literal["per_map", "global"] = "per_map",
    cmap: str = "viridis",
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Run a convolution layer on an image and draw every output channel (feature map).

    The layer runs with :func:`kernelkit.conv2d`, its bias and its activation (ReLU in the
    classic example) included, exactly as the model computes it.

    Parameters
    ----------
    source, layer, layout
        The layer, as for :func:`plot_filters`.
    image : array_like or path
        (H, W), (H, W, C) or (N, H, W, C) (the first image), or a PNG/JPEG file. It is scaled to
        [0, 1] (integers by their dtype's maximum, floats outside [0, 1] by their range) and
        converted to the layer's input channels (RGB <-> gray).
    ncols : int, optional
        Columns of the grid; by default as square as possible.
    max_maps : int
        Show at most this many maps (the first ones; the title says so).
    normalize : {"per_map", "global"}
        One colour scale per map, or one for all maps.
    cmap, title, figsize : optional
        Colormap, figure title (default: the layer and the map shape) and size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes per map, titled with its channel index. A constant map (a dead ReLU channel) is
        drawn with its constant value, in the colour of zero for an all-zero map, and its label
        says "constant".

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> from kernelkit.models import ConvLayer
    >>> edges = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float)
    >>> layer = ConvLayer("conv1", "conv2d", np.stack([edges, -edges])[:, np.newaxis], "OIHW",
    ...                   activation="relu")
    >>> image = np.zeros((8, 8))
    >>> image[:4] = 1.0                                   # bright top half: one edge
    >>> fig = kernelkit.plot_feature_maps(layer, image)
    >>> [ax.get_title() for ax in fig.axes]               # ReLU kills the opposite edge
    ['0', '1 constant 0']
    """
    conv = select_layer(source, layer, layout)
    one_of(normalize, ("per_map", "global"), "normalize")
    pixels = _image_for_layer(image, conv.in_channels)
    maps = np.asarray(conv(pixels[np.newaxis], layout="NHWC"), dtype=np.float64)[0]
    maps = maps.transpose(2, 0, 1)
    shown, cut_note = _first(maps.shape[0], max_maps, "maps")
    grid = _grid_shape(shown, ncols)
    fig = _new_figure(*grid, figsize)
    global_norm = _norm(*_map_limits(maps))
    for index, feature_map in enumerate(maps[:shown]):
        norm = global_norm if normalize == "global" else _norm(*_map_limits(feature_map))
        ax = _draw_panel(fig, grid, index, feature_map, norm, cmap)
        _panel_label(ax, _map_label(index, feature_map))
    o, oh, ow = maps.shape
    heading = f"{conv.name}: {o} feature maps {oh}x{ow}" if title is None else title
    fig.suptitle(heading + cut_note)
    return fig


def _map_limits(values: Float64Array) -> tuple[float, float]:
    """Colour limits (min, max); a constant map gets limits that include zero, so an all-zero map
    is drawn in the colour of zero (the low end) and a constant c != 0 in the colour of c."""
    low, high = float(values.min()), float(values.max())
    if high > low:
        return low, high
    low, high = min(low, 0.0), max(high, 0.0)
    return (low, high) if high > low else (0.0, 1.0)


def _map_label(index: int, feature_map: Float64Array) -> str:
    value = float(feature_map.flat[0])
    return f"{index} constant {value:.3g}" if np.all(feature_map == value) else str(index)


# --------------------------------------------------------------------------------------------
# The pixels of a filter grid
# --------------------------------------------------------------------------------------------


def filter_grid(
    weights: Source,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    channel: int | str | None = None,
    ncols: int | None = None,
    padding: int = 1,
    normalize: bool = True,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Float64Array:
    """The filters of a layer tiled into one image array, as ``torchvision.utils.make_grid`` does.

    Filters with 1 or 3 input channels become one gray or colour tile each; others one gray tile
    per input channel (``ncols`` defaults to the channel count, so each filter is a row) unless
    ``channel`` picks one channel or the mean.

    Parameters
    ----------
    weights : ConvLayer, ConvModel, path or array_like
        As the source of :func:`plot_filters` (with ``layer`` and ``layout``).
    channel : int or "mean", optional
        One input channel of each filter, or their mean.
    ncols : int, optional
        Tiles per row (torchvision's ``nrow``); by default as square as possible.
    padding : int
        Pixels between tiles and around the grid.
    normalize : bool
        Map ``value_range`` (default: the minimum and maximum of the weights) to [0, 1],
        clipping values outside it. Pass ``value_range=(-a, a)`` to put zero at 0.5.
    scale_each : bool
        With ``normalize``, use each tile's own minimum and maximum.
    pad_value : float
        Value of the padding pixels.

    Returns
    -------
    ndarray of float64
        (H, W) for gray tiles, (H, W, 3) for colour tiles, with
        ``H = rows * (KH + padding) + padding`` and ``W = cols * (KW + padding) + padding``.
        Unlike make_grid, the result is channels-last (ready for ``imshow`` or Pillow), gray
        stays one channel, and a single tile is padded too.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> grid = kernelkit.filter_grid(np.arange(8.0).reshape(2, 1, 2, 2), padding=1)
    >>> grid.shape
    (4, 7)
    >>> grid[1:3, 1:3]                                  # the first filter, scaled by 0 .. 7
    array([[0.        , 0.14285714],
           [0.28571429, 0.42857143]])
    """
    conv = select_layer(weights, layer, layout)
    values, _ = _oihw_for_display(conv, channel)
    o, c, kh, kw = values.shape
    if c in (1, 3):
        tiles = values
    else:
        tiles = values.reshape(o * c, 1, kh, kw)
        ncols = c if ncols is None else ncols
    if normalize:
        tiles = _normalized_tiles(tiles, value_range, scale_each)
    pad = int_at_least(padding, 0, "padding")
    rows, cols = _grid_shape(tiles.shape[0], ncols)
    grid = np.full(
        (tiles.shape[1], rows * (kh + pad) + pad, cols * (kw + pad) + pad),
        real_number(pad_value, "pad_value"),
    )
    for index, tile in enumerate(tiles):
        top, left = (pad + (kh + pad) * (index // cols), pad + (kw + pad) * (index % cols))
        grid[:, top : top + kh, left : left + kw] = tile
    return grid[0] if grid.shape[0] == 1 else grid.transpose(1, 2, 0)


def _normalized_tiles(
    tiles: Float64Array, value_range: Sequence[float] | None, scale_each: bool
) -> Float64Array:
    """make_grid's normalisation: clip to (low, high), then (t - low) / max(high - low, 1e-5)."""
    if value_range is not None:
        if np.shape(value_range) != (2,):
            raise ValueError(f"value_range: expected (low, high), got {value_range!r}")
        lowest, highest = (real_number(v, "value_range") for v in value_range)
        if not lowest < highest:
            raise ValueError(f"value_range: expected low < high, got {value_range!r}")
        low = np.full(tiles.shape[0], lowest)
        high = np.full(tiles.shape[0], highest)
    elif scale_each:
        low, high = tiles.min(axis=(1, 2, 3)), tiles.max(axis=(1, 2, 3))
    else:
        low = np.full(tiles.shape[0], tiles.min())
        high = np.full(tiles.shape[0], tiles.max())
    low4, high4 = low[:, None, None, None], high[:, None, None, None]
    scaled: Float64Array = (np.clip(tiles, low4, high4) - low4) / np.maximum(high4 - low4, 1e-5)
    return scaled
