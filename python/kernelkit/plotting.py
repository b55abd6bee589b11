"""Filter grids and feature maps of convolution layers, drawn with matplotlib's object API.

Every plotting function builds a :class:`matplotlib.figure.Figure` directly (no pyplot state, so
nothing opens a window) and returns it: save it with ``fig.savefig("filters.png")``. A grid of
filters or feature maps is one image in one Axes, its tiles separated by gaps in a colour that
the colormap does not use, with row and column index ticks and a colour bar of the scale. So a
figure costs about the same for 4 filters as for 4,096, and it explains itself: the title names
the layer, the weight shape and layout, the arrangement and the normalisation, and a note under
the grid says when a default limit hid filters or channels, and which options show them.
:func:`filter_grid` gives the pixels of a filter grid as a NumPy array instead, in the manner of
``torchvision.utils.make_grid``.

Sources of filters: a :class:`~kernelkit.models.ConvLayer`, a :class:`~kernelkit.models.ConvModel`
(with ``layer=`` a name or an index; by default its first 2-D convolution), the path of a model
file that :func:`kernelkit.load_model` reads, or an array of weights (``layout=``
"OIHW", the default, or "HWIO"; a 2-D array is one kernel).
"""

from __future__ import annotations

import math
import operator
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._images import PathLike, as_channels, read_image
from ._validation import int_at_least, one_of, positive_int, real_array, real_number
from .models._layer import ConvLayer, ConvModel
from .models.network_input import feature_maps
from .models.network_table import resolve_layer

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

__all__ = ["filter_grid", "plot_feature_maps", "plot_filters", "select_layer"]

Source = Union[ConvLayer, ConvModel, PathLike, ArrayLike]
FilterMode = Literal["auto", "gray", "rgb", "diverging"]
Float64Array = NDArray[np.float64]

_FILTER_MODES = ("auto", "gray", "rgb", "diverging")
_DEFAULT_CMAPS = {"gray": "gray", "diverging": "RdBu_r"}
_ARRAY_LAYOUTS = ("OIHW", "HWIO")
# A default picture of multi-channel filters holds at most this many tiles (as many as
# max_filters' default): beyond it, each filter is drawn as the mean of its channels.
_TILE_BUDGET = 64
# Gap colours to choose from: the one farthest from every colour of the colormap, so that a gap
# never reads as a value. Colour tiles (rgb mode) get white, the page's colour.
_GAP_CANDIDATES = ("white", "0.5", "0.15", "#d8b365")
_RGB_GAP = "white"
# Figure size: tiles of this many inches while the grid's longer side stays within the limits
_FILTER_TILE_INCHES = 0.55
_MAP_TILE_INCHES = 1.1
_GRID_INCHES = (2.5, 11.0)
_MIN_FIGURE_WIDTH = 5.0
_MARGIN_INCHES = (2.0, 1.6)  # width: ticks and colour bar; height: titles and tick labels
_NOTE_INCHES = 0.5
_MAX_TICK_LABELS = 16
# Characters per inch of the title's and the small fonts, to wrap texts to the figure's width
_CHARS_PER_INCH = {"large": 13, "small": 17}
_COLORBAR_INCHES = 0.16  # thickness
_COLORBAR_GAP_INCHES = (0.12, 0.5)  # from the grid: beside it; below it, clear of its ticks
_COLORBAR_BELOW_INCHES = 0.6  # the height a bar below a flat grid adds, labels included
# How the figure's note names the options that show more (the CLI passes its own spelling)
_PYTHON_OPTIONS = {
    "max_filters": "max_filters=N",
    "max_channels": "max_channels=N",
    "channel": "channel=K",
}
_MAX_LISTED_CONSTANT_MAPS = 8


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


def _scaled_image(image: ArrayLike | PathLike, name: str) -> Float64Array:
    """``image`` as (H, W) or (H, W, C) float64 in [0, 1], from a file or an array.

    Arrays may be (H, W), (H, W, C) or (N, H, W, C) (the first image is used). Integer arrays are
    divided by their dtype's maximum; float arrays outside [0, 1] are scaled to [0, 1] by their
    minimum and maximum.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    arr = real_array(image, name)
    if arr.ndim == 4:
        if arr.shape[0] == 0:
            raise ValueError(f"{name}: the batch is empty")
        arr = arr[0]
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected (H, W), (H, W, C) or (N, H, W, C), got shape {arr.shape}"
        )
    return _unit_range(arr)


def _unit_range(arr: NDArray[Any]) -> Float64Array:
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    values = arr.astype(np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        return values
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def _picture(pixels: Float64Array) -> Float64Array | None:
    """``pixels`` as a picture to show, (H, W) gray or (H, W, 3) colour (alpha dropped), or None
    when it has some other number of channels."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[-1]
    if channels in (1, 2):
        return pixels[..., 0]
    if channels in (3, 4):
        return pixels[..., :3]
    return None


# --------------------------------------------------------------------------------------------
# What a filter picture shows, and on which colour scale
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FilterSelection:
    """The weights a filter picture shows, decided before anything is drawn.

    ``values`` holds every filter, with ``channel=`` (or the default mean) applied: the colour
    scale comes from it, so that the limits on filters and channels never change the scale. The
    first ``filters`` filters are drawn, either with their first ``channels`` channels side by
    side (``by_channel``) or one tile each (one channel, or three as colours).
    """

    values: Float64Array
    mode: str
    filters: int
    channels: int
    by_channel: bool
    channel_phrase: str
    averaged_by_default: bool
    in_channels: int


def _select_filters(
    weights: Float64Array,
    mode: str,
    channel: int | str | None,
    max_filters: int,
    max_channels: int | None,
) -> _FilterSelection:
    o, c = weights.shape[:2]
    filters = min(o, positive_int(max_filters, "max_filters"))
    if max_channels is not None:
        max_channels = positive_int(max_channels, "max_channels")
        if channel is not None:
            raise ValueError(
                "max_channels: draws the first channels side by side; channel= already picks "
                "one channel (or 'mean') per filter"
            )
    if channel is not None:
        values, phrase = _one_channel(weights, channel)
        drawn = _resolve_mode(mode, 1, side_by_side=False)
        return _FilterSelection(values, drawn, filters, 1, False, phrase, False, c)
    drawn = _resolve_mode(mode, c, side_by_side=max_channels is not None)
    if drawn == "rgb" or c == 1:
        return _FilterSelection(weights, drawn, filters, c, False, "", False, c)
    if max_channels is None and filters * c > _TILE_BUDGET:
        values, phrase = _one_channel(weights, "mean")
        return _FilterSelection(values, drawn, filters, 1, False, phrase, True, c)
    channels = c if max_channels is None else min(c, max_channels)
    return _FilterSelection(weights, drawn, filters, channels, True, "", False, c)


def _one_channel(weights: Float64Array, channel: int | str) -> tuple[Float64Array, str]:
    """One input channel of each (O, C, KH, KW) filter, or their mean, as (O, 1, KH, KW), and a
    phrase naming the choice for titles."""
    channels = weights.shape[1]
    if isinstance(channel, str):
        if channel != "mean":
            raise ValueError(f"channel: expected an int, 'mean' or None, got {channel!r}")
        return weights.mean(axis=1, keepdims=True), f"the mean of its {channels} input channels"
    try:
        index = operator.index(channel)
    except TypeError:
        raise TypeError(f"channel: expected an int, 'mean' or None, got {channel!r}") from None
    if not 0 <= index < channels:
        raise ValueError(
            f"channel: expected 0 <= channel < {channels} (the filters' input channels), "
            f"got {index}"
        )
    return weights[:, index : index + 1], f"input channel {index}"


def _resolve_mode(mode: str, channels: int, *, side_by_side: bool) -> str:
    """The drawing mode: ``"auto"`` is rgb for 3 channels drawn together, diverging otherwise
    (weights are signed: a scale centred at 0 shows which way each one pulls)."""
    if one_of(mode, _FILTER_MODES, "mode") == "auto":
        return "rgb" if channels == 3 and not side_by_side else "diverging"
    if mode == "rgb" and channels != 3:
        raise ValueError(
            f"mode: 'rgb' needs filters with 3 input channels, these have {channels} "
            "(use mode='gray' or 'diverging', or channel=)"
        )
    if mode == "rgb" and side_by_side:
        raise ValueError(
            "max_channels: rgb mode draws the 3 input channels as one colour tile; use "
            "mode='gray' or 'diverging' to see them side by side"
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


@dataclass(frozen=True)
class _ColourScale:
    """The values the tiles hold and the colour bar's limits and label, in the same unit.

    Scalar tiles are drawn with the colormap from ``low`` to ``high``; colour tiles (rgb) hold
    intensities in [0, 1] that stand for ``low`` .. ``high`` in every channel.
    """

    values: Float64Array
    low: float
    high: float
    label: str
    phrase: str


def _filter_scale(values: Float64Array, mode: str, normalize: str) -> _ColourScale:
    """The documented normalisations: ``"global"`` keeps the weights (one scale for the layer),
    ``"per_filter"`` maps each filter's own limits to -1 .. 1 (diverging, rgb) or 0 .. 1 (gray);
    rgb then maps the scale's limits to intensities 0 .. 1, so that zero is mid-grey."""
    symmetric = mode != "gray"
    limits = _filter_limits(values, symmetric=symmetric, per_filter=normalize == "per_filter")
    if normalize == "global":
        low, high = (float(v) for v in limits[0])
        scaled, label = values, "weight"
        phrase = "one scale for the layer" + (", centred at 0" if symmetric else "")
    elif symmetric:
        low, high = -1.0, 1.0
        scaled = _rescale(values, limits, (low, high))
        label, phrase = "weight / max |weight| of its filter", "each filter scaled by its max |w|"
    else:
        low, high = 0.0, 1.0
        scaled = _rescale(values, limits, (low, high))
        label = "(weight - min) / (max - min) of its filter"
        phrase = "each filter scaled from its min to its max"
    if mode == "rgb":
        bounds = np.array([[low, high]])
        scaled = np.clip(_rescale(scaled, bounds, (0.0, 1.0)), 0.0, 1.0)  # clip float rounding
        label += " (each of R, G, B)"
    return _ColourScale(scaled, low, high, label, phrase)


def _rescale(
    values: Float64Array, limits: Float64Array, target: tuple[float, float]
) -> Float64Array:
    """Each item of ``values`` (N, ...) mapped affinely from its (low, high) row of ``limits``
    (N, 2), or one row for all, to ``target``."""
    shape = (-1,) + (1,) * (values.ndim - 1)
    low, high = limits[:, 0].reshape(shape), limits[:, 1].reshape(shape)
    scaled: Float64Array = target[0] + (values - low) * ((target[1] - target[0]) / (high - low))
    return scaled


def _filter_note(selection: _FilterSelection, options: Mapping[str, str]) -> str:
    """What a picture that hides filters or channels shows, and the options that show the rest;
    empty when it shows every weight."""
    total, channels = selection.values.shape[0], selection.in_channels
    filters_cut = selection.filters < total
    channels_cut = selection.by_channel and selection.channels < channels
    if not (filters_cut or channels_cut or selection.averaged_by_default):
        return ""
    shown = [f"the first {selection.filters} of {total} filters" if filters_cut else "every filter"]
    more = [f"{options['max_filters']} (more filters)"] if filters_cut else []
    if selection.averaged_by_default:
        shown.append(f"each as the mean of its {channels} input channels")
    elif channels_cut:
        shown.append(f"with their first {selection.channels} of {channels} input channels")
    if selection.averaged_by_default or channels_cut:
        more.append(f"{options['max_channels']} (the first N channels side by side)")
        more.append(f"{options['channel']} (input channel K of each filter)")
    return f"Shown: {', '.join(shown)}. To see the rest: {', '.join(more)}."


# --------------------------------------------------------------------------------------------
# Grids as one image
# --------------------------------------------------------------------------------------------


def _grid_shape(count: int, ncols: int | None) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles: ``ncols`` columns, or a grid as square as possible."""
    cols = math.ceil(math.sqrt(count)) if ncols is None else positive_int(ncols, "ncols")
    cols = min(cols, count)
    return math.ceil(count / cols), cols


def _gap(tile: tuple[int, ...]) -> int:
    """Pixels between tiles: one, or an eighth of a big tile, so that the gaps stay visible."""
    return max(1, max(tile) // 8)


def _tile_grid(tiles: Float64Array, rows: int, cols: int, gap: int, fill: float) -> Float64Array:
    """(N, KH, KW, ...) tiles in one (rows·(KH+gap)+gap, cols·(KW+gap)+gap, ...) array, row-major,
    with ``gap`` pixels of ``fill`` between the tiles and around them."""
    n, kh, kw = tiles.shape[:3]
    rest = tiles.shape[3:]
    cells = np.full((rows * cols, kh + gap, kw + gap, *rest), fill)
    cells[:n, gap:, gap:] = tiles
    grid = cells.reshape(rows, cols, kh + gap, kw + gap, *rest).swapaxes(1, 2)
    grid = grid.reshape(rows * (kh + gap), cols * (kw + gap), *rest)
    padding = [(0, gap), (0, gap)] + [(0, 0)] * len(rest)
    padded: Float64Array = np.pad(grid, padding, constant_values=fill)
    return padded


def _figure_size(
    grid: tuple[int, ...], tile: tuple[int, ...], tile_inches: float, extra: tuple[float, float]
) -> tuple[float, float]:
    """Inches for a figure around a grid image of ``grid`` pixels: tiles ``tile_inches`` wide
    while the grid's longer side stays within _GRID_INCHES, room for titles, ticks and colour
    bar, and ``extra`` (width, height) for what else the figure holds."""
    height_px, width_px = grid[:2]
    longest = max(height_px, width_px)
    per_pixel = tile_inches / max(tile)
    per_pixel = min(max(per_pixel, _GRID_INCHES[0] / longest), _GRID_INCHES[1] / longest)
    width = max(width_px * per_pixel + _MARGIN_INCHES[0] + extra[0], _MIN_FIGURE_WIDTH)
    height = height_px * per_pixel + _MARGIN_INCHES[1] + extra[1]
    height += _COLORBAR_BELOW_INCHES if _is_flat(grid) else 0.0
    # tenths of an inch: whole pixels at the usual dpi (100, 120, 150, 300)
    return round(width, 1), round(height, 1)


def _is_flat(grid: tuple[int, ...]) -> bool:
    """Whether a grid image is so flat that its colour bar goes below it, not beside it."""
    return grid[1] > 2 * grid[0]


def _pixel_inches(
    figsize: tuple[float, float], grid: tuple[int, ...], extra: tuple[float, float]
) -> float:
    """About how many inches a pixel of the grid image gets in a figure of ``figsize``: the
    inverse of _figure_size, for the sizes it chose and for the caller's own."""
    below = _COLORBAR_BELOW_INCHES if _is_flat(grid) else 0.0
    width = (figsize[0] - _MARGIN_INCHES[0] - extra[0]) / grid[1]
    height = (figsize[1] - _MARGIN_INCHES[1] - extra[1] - below) / grid[0]
    return max(min(width, height), 1e-3)


def _gap_colour(cmap_name: str) -> tuple[float, float, float]:
    """Of _GAP_CANDIDATES, the colour farthest from every colour of the colormap."""
    import matplotlib
    from matplotlib.colors import to_rgb

    samples = matplotlib.colormaps[cmap_name](np.linspace(0.0, 1.0, 64))[:, :3]
    candidates = np.array([to_rgb(c) for c in _GAP_CANDIDATES])
    nearest = np.linalg.norm(candidates[:, None] - samples[None], axis=-1).min(axis=1)
    r, g, b = candidates[int(np.argmax(nearest))]
    return float(r), float(g), float(b)


def _draw_grid(
    ax: Axes, grid: Float64Array, cmap: str | None, scale: _ColourScale
) -> ScalarMappable:
    """Draw a grid image whose gaps are NaN; return what the colour bar should show.

    Scalar grids go through ``cmap`` from ``scale.low`` to ``scale.high``, their gaps masked and
    drawn in the colormap's "bad" colour. Colour grids (``cmap`` None) get the gap colour as
    pixels, and a gray bar stands for the scale of each channel.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, to_rgb

    norm = Normalize(vmin=scale.low, vmax=scale.high)
    ax.set_anchor("N")  # under its title; the room the layout leaves goes below, to the bar
    if cmap is None:
        ax.imshow(np.where(np.isnan(grid), to_rgb(_RGB_GAP), grid), interpolation="nearest")
        return ScalarMappable(norm=norm, cmap="gray")
    colormap = matplotlib.colormaps[cmap].with_extremes(bad=_gap_colour(cmap))
    return ax.imshow(np.ma.masked_invalid(grid), cmap=colormap, norm=norm, interpolation="nearest")


def _tick_tiles(
    ax: Axes, axis: Literal["x", "y"], count: int, tile: int, gap: int, label: Callable[[int], str]
) -> None:
    """Ticks at the centres of ``count`` tiles along ``axis``, labelled ``label(index)``: every
    one, or every 2nd, 4th, ... so that at most _MAX_TICK_LABELS stay readable."""
    step = 1 << max(0, math.ceil(math.log2(count / _MAX_TICK_LABELS)))
    indices = range(0, count, step)
    positions = [gap + i * (tile + gap) + (tile - 1) / 2 for i in indices]
    texts = [label(i) for i in indices]
    if axis == "x":
        ax.set_xticks(positions, texts)
    else:
        ax.set_yticks(positions, texts)
    ax.tick_params(length=0, labelsize="small")


def _label_item_grid(
    ax: Axes, rows: int, cols: int, tile: tuple[int, int], gap: int, item: str
) -> None:
    """Index ticks for a row-major grid of items: each row's first index on the left, the offset
    within the row below (row 8, column +3: item 11); one row is labelled directly."""
    if rows == 1:
        _tick_tiles(ax, "x", cols, tile[1], gap, str)
        ax.set_yticks([])
        ax.set_xlabel(item)
        return
    _tick_tiles(ax, "y", rows, tile[0], gap, lambda r: str(r * cols))
    _tick_tiles(ax, "x", cols, tile[1], gap, lambda c: f"+{c}")
    ax.set_ylabel(item)


def _label_filters_by_channel(
    ax: Axes, filters: int, channels: int, tile: tuple[int, int], gap: int
) -> None:
    _tick_tiles(ax, "y", filters, tile[0], gap, str)
    _tick_tiles(ax, "x", channels, tile[1], gap, str)
    ax.set_ylabel("filter")
    ax.set_xlabel("input channel")


def _add_titles(fig: Figure, ax: Axes, heading: str, subtitle: str, note: str) -> None:
    """The figure's title, the grid's title and the note under everything, each wrapped to the
    figure's width."""
    fig.suptitle(_wrap(heading, fig, "large"))
    ax.set_title(_wrap(subtitle, fig, "small"), fontsize="small")
    if note:
        fig.supxlabel(_wrap(note, fig, "small"), fontsize="small")


def _wrap(text: str, fig: Figure, size: Literal["large", "small"]) -> str:
    width = max(20, int(fig.get_figwidth() * _CHARS_PER_INCH[size]))
    lines = text.splitlines()
    # options such as --max-filters stay whole
    return "\n".join(textwrap.fill(line, width, break_on_hyphens=False) for line in lines)


def _add_colorbar(
    fig: Figure, ax: Axes, mappable: ScalarMappable, label: str, grid: tuple[int, ...], pixel: float
) -> None:
    """The colour bar along the grid image's longer side, as long as the image.

    It is an inset of the grid's Axes, which follows the image's aspect-adjusted box (where
    ``fig.colorbar(ax=)`` would span the Axes' whole cell); its thickness and gap, in fractions
    of that box, come from ``pixel``, the inches of one image pixel.
    """
    height, width = grid[0] * pixel, grid[1] * pixel
    if _is_flat(grid):
        thick, gap = _COLORBAR_INCHES / height, _COLORBAR_GAP_INCHES[1] / height
        cax = ax.inset_axes((0.0, -gap - thick, 1.0, thick))
        fig.colorbar(mappable, cax=cax, orientation="horizontal", label=label)
    else:
        thick, gap = _COLORBAR_INCHES / width, _COLORBAR_GAP_INCHES[0] / width
        cax = ax.inset_axes((1.0 + gap, 0.0, thick, 1.0))
        fig.colorbar(mappable, cax=cax, orientation="vertical", label=label)


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


def plot_filters(
    source: Source,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    mode: FilterMode = "auto",
    channel: int | str | None = None,
    max_channels: int | None = None,
    normalize: Literal["global", "per_filter"] = "global",
    ncols: int | None = None,
    max_filters: int = 64,
    cmap: str | None = None,
    colorbar: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw the filters of a convolution layer as one grid image with a colour bar.

    Each filter (or each filter and input channel) is a tile of the image, tiles are separated
    by gaps in a colour the colormap does not use, and ticks give the indices: each row's first
    filter on the left, the offset within the row below (row 8, column +3: filter 11).

    Parameters
    ----------
    source : ConvLayer, ConvModel, path or array_like
        The layer; a model (with ``layer``), a model file, or weights (with ``layout``).
    layer : str or int, optional
        Name or index of the layer in a model; by default the first 2-D convolution.
    layout : {"OIHW", "HWIO"}, optional
        Layout of an array of weights (default OIHW; a 2-D array is one kernel).
    mode : {"auto", "gray", "rgb", "diverging"}
        ``"diverging"``: a diverging colormap centred at zero (limits symmetric about 0), so the
        sign of every weight shows. ``"gray"``: darker = lower weight, limits the weights' range.
        ``"rgb"``: 3-channel filters as colour tiles, zero as mid-grey, limits symmetric about
        zero so negative weights are not clipped to black. ``"auto"``: rgb for 3 input channels
        drawn together, diverging otherwise.
    channel : int or "mean", optional
        Draw one input channel of each filter, or their mean, one tile per filter.
    max_channels : int, optional
        Draw the first ``max_channels`` input channels of each filter side by side (filters as
        rows, channels as columns). By default multi-channel filters (gray and diverging mode)
        are drawn that way with all their channels while that makes at most 64 tiles, and as
        the mean of their channels, one tile per filter, beyond: one tile per filter keeps the
        grid square and readable, and the mean involves every weight where the first channels
        would show an arbitrary few. The note under the grid says so.
    normalize : {"global", "per_filter"}
        ``"global"``: the tiles hold the weights, one colour scale for the whole layer (filters
        are comparable). ``"per_filter"``: each filter divided by its own max ``|weight|`` (its
        values in -1 .. 1; gray mode: mapped from its min .. max to 0 .. 1). The scale comes
        from every filter and channel of the layer, also those not drawn.
    ncols : int, optional
        Columns of the grid of filters; by default as square as possible (16 filters: 4 x 4).
    max_filters : int
        Draw at most this many filters (the first ones; the note says so).
    cmap : str, optional
        Colormap for gray and diverging mode (defaults "gray" and "RdBu_r").
    colorbar : bool
        Draw the colour bar (rgb mode: a gray bar, the scale of each of R, G and B).
    title, figsize : optional
        Figure title (default: the layer, its filters and its weight shape and layout) and size
        in inches (default: from the grid). The grid's own title names the arrangement and the
        normalisation.

    Returns
    -------
    matplotlib.figure.Figure
        One Axes, the grid's: one image, scalar tiles as a masked array whose gaps are masked
        (colour tiles as RGB, gaps white). The colour bar is an inset Axes of it.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> edges = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=float)
    >>> weights = np.stack([edges, edges.T, -edges, -edges.T])[:, np.newaxis]   # OIHW
    >>> fig = kernelkit.plot_filters(weights)
    >>> (grid_ax,) = fig.axes                       # one Axes, however many filters
    >>> image = grid_ax.images[0]
    >>> pixels = image.get_array()                  # 2 x 2 tiles of 3x3, 1-pixel gaps
    >>> pixels.shape, bool(np.all(pixels[1:4, 5:8] == edges.T)), bool(pixels.mask[0].all())
    ((9, 9), True, True)
    >>> image.colorbar.ax.get_ylabel(), float(image.norm.vmin), float(image.norm.vmax)
    ('weight', -1.0, 1.0)
    >>> big = np.random.default_rng(0).normal(size=(128, 64, 3, 3))
    >>> print(kernelkit.plot_filters(big).get_supxlabel())
    Shown: the first 64 of 128 filters, each as the mean of its 64 input channels. To see the
    rest: max_filters=N (more filters), max_channels=N (the first N channels side by side),
    channel=K (input channel K of each filter).
    >>> fig.savefig("filters.png")  # doctest: +SKIP
    """
    fig, _ = filters_figure(
        source,
        layer=layer,
        layout=layout,
        mode=mode,
        channel=channel,
        max_channels=max_channels,
        normalize=normalize,
        ncols=ncols,
        max_filters=max_filters,
        cmap=cmap,
        colorbar=colorbar,
        title=title,
        figsize=figsize,
    )
    return fig


def filters_figure(
    source: Source,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    mode: FilterMode = "auto",
    channel: int | str | None = None,
    max_channels: int | None = None,
    normalize: Literal["global", "per_filter"] = "global",
    ncols: int | None = None,
    max_filters: int = 64,
    cmap: str | None = None,
    colorbar: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    options: Mapping[str, str] = _PYTHON_OPTIONS,
) -> tuple[Figure, str]:
    """:func:`plot_filters`' figure and its note ("" when every weight is drawn), the note naming
    the options that show the rest as ``options`` spells them (the command line has its own)."""
    conv = select_layer(source, layer, layout)
    one_of(normalize, ("global", "per_filter"), "normalize")
    weights = conv.oihw().astype(np.float64)
    selection = _select_filters(weights, mode, channel, max_filters, max_channels)
    if selection.mode == "rgb" and cmap is not None:
        raise ValueError("cmap: rgb mode draws colours, not a colormap")
    scale = _filter_scale(selection.values, selection.mode, normalize)
    tiles, rows, cols = _filter_tiles(selection, scale.values, ncols)
    tile = (tiles.shape[1], tiles.shape[2])
    gap = _gap(tile)
    grid = _tile_grid(tiles, rows, cols, gap, np.nan)
    note = _filter_note(selection, options)
    extra = (0.0, _NOTE_INCHES if note else 0.0)
    figsize = figsize or _figure_size(grid.shape, tile, _FILTER_TILE_INCHES, extra)
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    colormap = None if selection.mode == "rgb" else cmap or _DEFAULT_CMAPS[selection.mode]
    mappable = _draw_grid(ax, grid, colormap, scale)
    if selection.by_channel:
        _label_filters_by_channel(ax, rows, cols, tile, gap)
    else:
        _label_item_grid(ax, rows, cols, tile, gap, "filter")
    if colorbar:
        pixel = _pixel_inches(figsize, grid.shape, extra)
        _add_colorbar(fig, ax, mappable, scale.label, grid.shape, pixel)
    heading = _filters_heading(conv) if title is None else title
    _add_titles(fig, ax, heading, f"{_arrangement(selection)}; {scale.phrase}", note)
    return fig, note


def _filter_tiles(
    selection: _FilterSelection, values: Float64Array, ncols: int | None
) -> tuple[Float64Array, int, int]:
    """The tiles the grid shows, row-major, as (N, KH, KW) or (N, KH, KW, 3) colours, and the
    grid's rows and columns."""
    shown = values[: selection.filters, : selection.channels]
    if selection.by_channel:
        if ncols is not None:
            raise ValueError(
                "ncols: multi-channel filters are drawn as filters x channels; pick one channel "
                "with channel= to arrange them freely"
            )
        return shown.reshape(-1, *shown.shape[2:]), selection.filters, selection.channels
    rows, cols = _grid_shape(selection.filters, ncols)
    tiles = shown.transpose(0, 2, 3, 1) if selection.mode == "rgb" else shown[:, 0]
    return tiles, rows, cols


def _filters_heading(conv: ConvLayer) -> str:
    o, c, kh, kw = conv.oihw().shape
    shape = "x".join(str(n) for n in conv.weight.shape)
    filters = "1 filter" if o == 1 else f"{o} filters"
    return f"{conv.name}: {filters} of {kh}x{kw}x{c} (weights {shape}, {conv.weight_layout})"


def _arrangement(selection: _FilterSelection) -> str:
    if selection.by_channel:
        return "rows: filters, columns: input channels"
    if selection.mode == "rgb":
        return "one tile per filter, R, G, B: input channels 0, 1, 2"
    if selection.channel_phrase:
        return f"one tile per filter: {selection.channel_phrase}"
    return "one tile per filter"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


# --------------------------------------------------------------------------------------------
# Feature maps
# --------------------------------------------------------------------------------------------


def plot_feature_maps(
    source: Source,
    image: ArrayLike | PathLike,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    input_image: bool | ArrayLike | PathLike = True,
    ncols: int | None = None,
    max_maps: int = 64,
    normalize: Literal["per_map", "global"] = "per_map",
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Run a convolution layer on an image and draw its output channels (feature maps) as one
    grid image, with the input image beside it and a colour bar.

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
    input_image : bool, array_like or path
        The picture drawn beside the maps: True (default) ``image`` as scaled (where it is gray
        or colour), False none, or another image (e.g. the photo a model started from when the
        layer is a deeper one), scaled the same way.
    ncols : int, optional
        Columns of the grid; by default as square as possible.
    max_maps : int
        Draw at most this many maps (the first ones; the note says so).
    normalize : {"per_map", "global"}
        ``"per_map"``: each map mapped from its own min .. max to 0 .. 1 (a constant map from
        its value and 0, so an all-zero map gets the lowest colour and a constant c > 0 the
        highest). ``"global"``: the tiles hold the activations, one scale for all maps.
    cmap : str
        Colormap of the maps.
    colorbar : bool
        Draw the colour bar of the activation scale.
    title, figsize : optional
        Figure title (default: the layer and the map shape) and size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The input's Axes (unless ``input_image=False``) and the grid's (one image, a masked
        array whose gaps are masked), with the colour bar as an inset Axes of the grid's. The
        note under the grid lists the constant maps (a dead ReLU channel is one) and says when
        maps were left out.

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
    >>> input_ax, maps_ax = fig.axes                      # the colour bar is an inset of maps_ax
    >>> maps_ax.images[0].get_array().shape              # 1 x 2 tiles of 6x6, 1-pixel gaps
    (8, 15)
    >>> print(fig.get_supxlabel())                        # ReLU kills the opposite edge
    Constant maps (no pattern, e.g. a dead ReLU channel): 1 (= 0).
    """
    fig, _ = feature_maps_figure(
        source,
        image,
        layer=layer,
        layout=layout,
        input_image=input_image,
        ncols=ncols,
        max_maps=max_maps,
        normalize=normalize,
        cmap=cmap,
        colorbar=colorbar,
        title=title,
        figsize=figsize,
    )
    return fig


def feature_maps_figure(
    source: Source,
    image: ArrayLike | PathLike,
    *,
    layer: int | str | None = None,
    layout: str | None = None,
    input_image: bool | ArrayLike | PathLike = True,
    ncols: int | None = None,
    max_maps: int = 64,
    normalize: Literal["per_map", "global"] = "per_map",
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> tuple[Figure, str]:
    """:func:`plot_feature_maps`' figure and the line that says how the image became the
    model's input ("" for a layer or weights given directly)."""
    one_of(normalize, ("per_map", "global"), "normalize")
    name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "image"
    maps, layer_name, pixels, description = _maps_of(
        source, layer, layout, _scaled_image(image, "image"), name
    )
    shown = min(maps.shape[0], positive_int(max_maps, "max_maps"))
    scale = _map_scale(maps, normalize)
    rows, cols = _grid_shape(shown, ncols)
    tile = (maps.shape[1], maps.shape[2])
    gap = _gap(tile)
    grid = _tile_grid(scale.values[:shown], rows, cols, gap, np.nan)
    beside = _picture_beside(input_image, pixels)
    note = _maps_note(maps[:shown], maps.shape[0])
    beside_width = 0 if beside is None else min(2, cols) * (tile[1] + gap)
    extra = (0.0 if beside is None else 0.4, _NOTE_INCHES if note else 0.0)
    sized = (grid.shape[0], grid.shape[1] + beside_width)  # the input as part of the grid
    figsize = figsize or _figure_size(sized, tile, _MAP_TILE_INCHES, extra)
    fig = _new_figure(figsize)
    if beside is None:
        ax = fig.add_subplot()
    else:
        input_ax, ax = fig.subplots(1, 2, width_ratios=(beside_width, grid.shape[1]))
        _draw_input(input_ax, beside)
    mappable = _draw_grid(ax, grid, cmap, scale)
    _label_item_grid(ax, rows, cols, tile, gap, "map")
    if colorbar:
        pixel = _pixel_inches(figsize, sized, extra)
        _add_colorbar(fig, ax, mappable, scale.label, grid.shape, pixel)
    o, oh, ow = maps.shape
    heading = f"{layer_name}: {o} feature maps {oh}x{ow}" if title is None else title
    _add_titles(fig, ax, heading, scale.phrase, note)
    return fig, description


def _maps_of(
    source: Source, layer: int | str | None, layout: str | None, pixels: Float64Array, name: str
) -> tuple[Float64Array, str, Float64Array, str]:
    """(C, H, W) maps of the layer, its name, the picture it started from and how the image
    became the input: through the network where the model file records it, else the one layer
    on the image (a weights-only file runs its first layer only)."""
    if isinstance(source, (str, os.PathLike)):
        from .models.load import load_model

        source = load_model(source)
    if isinstance(source, ConvModel):
        _only_for_arrays(layout)
        chosen = _map_layer(source, layer)
        maps, prepared = feature_maps(source, pixels, chosen, name)
        return maps, chosen, prepared.image, prepared.description
    conv = select_layer(source, layer, layout)
    run_on = as_channels(pixels, conv.in_channels)[np.newaxis]
    maps = np.asarray(conv(run_on, layout="NHWC"), dtype=np.float64)[0].transpose(2, 0, 1)
    return maps, conv.name, pixels, ""


def _map_layer(model: ConvModel, layer: int | str | None) -> str:
    """The layer whose maps are drawn: a name, an index into the layers ``kernelkit layers``
    lists, or by default the first 2-D convolution."""
    if layer is None:
        return _layer_of_model(model, None).name
    return str(resolve_layer(model, str(layer)))


def _map_limits(maps: Float64Array, *, per_map: bool) -> Float64Array:
    """(N, 2) colour limits (low, high) of (N, H, W) maps: each map's min and max, or all maps'.

    A constant map gets limits that include zero, so an all-zero map is drawn in the colour of
    zero (the low end) and a constant c != 0 in the colour of c.
    """
    axis = (1, 2) if per_map else None
    low = np.broadcast_to(maps.min(axis=axis), maps.shape[:1])
    high = np.broadcast_to(maps.max(axis=axis), maps.shape[:1])
    flat = high <= low
    low, high = (
        np.where(flat, np.minimum(low, 0.0), low),
        np.where(flat, np.maximum(high, 0.0), high),
    )
    zero = high <= low
    return np.stack([np.where(zero, 0.0, low), np.where(zero, 1.0, high)], axis=1)


def _map_scale(maps: Float64Array, normalize: str) -> _ColourScale:
    if normalize == "global":
        low, high = (float(v) for v in _map_limits(maps, per_map=False)[0])
        return _ColourScale(maps, low, high, "activation", "one scale for all maps")
    scaled = _rescale(maps, _map_limits(maps, per_map=True), (0.0, 1.0))
    label = "activation, per map: 0 = its min, 1 = its max"
    return _ColourScale(scaled, 0.0, 1.0, label, "each map scaled from its min to its max")


def _picture_beside(
    input_image: bool | ArrayLike | PathLike, pixels: Float64Array
) -> Float64Array | None:
    """The picture to draw beside the maps, as ``input_image`` asks."""
    if input_image is False:
        return None
    if input_image is True:
        return _picture(pixels)
    other = _scaled_image(input_image, "input_image")
    picture = _picture(other)
    if picture is None:
        raise ValueError(
            f"input_image: expected a gray or colour image (1 to 4 channels), got shape "
            f"{other.shape}"
        )
    return picture


def _draw_input(ax: Axes, picture: Float64Array) -> None:
    if picture.ndim == 2:
        ax.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(picture, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"input {picture.shape[0]}x{picture.shape[1]}", fontsize="small")
    ax.set_anchor("N")  # level with the top of the grid


def _maps_note(shown: Float64Array, total: int) -> str:
    """Which maps were left out, and which drawn ones are constant (no pattern to see)."""
    parts = []
    if len(shown) < total:
        parts.append(f"Shown: the first {len(shown)} of {total} maps; max_maps=N shows more.")
    constant = np.flatnonzero(shown.min(axis=(1, 2)) == shown.max(axis=(1, 2)))
    if constant.size:
        listed = ", ".join(
            f"{i} (= {shown[i, 0, 0]:.3g})" for i in constant[:_MAX_LISTED_CONSTANT_MAPS]
        )
        left = constant.size - _MAX_LISTED_CONSTANT_MAPS
        more = f" and {left} more" if left > 0 else ""
        parts.append(f"Constant maps (no pattern, e.g. a dead ReLU channel): {listed}{more}.")
    return " ".join(parts)


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
    values = conv.oihw().astype(np.float64)
    if channel is not None:
        values, _ = _one_channel(values, channel)
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
    fill = real_number(pad_value, "pad_value")
    grid = _tile_grid(tiles.transpose(0, 2, 3, 1), rows, cols, pad, fill)
    return grid[..., 0] if grid.shape[-1] == 1 else grid


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
