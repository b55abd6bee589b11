"""The ``filters``, ``features`` and ``demo`` commands of the ``kernelkit`` command line."""

from __future__ import annotations

import argparse
import os
import pathlib
from typing import TYPE_CHECKING

from .demo import DEFAULT_DIRECTORY, run_demo
from .models import ConvModel, load_model
from .models.network_table import resolve_layer
from .plotting import feature_maps_figure, filters_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_figure_commands"]

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
_DPI = 150
# How a filter picture's note names the options that show what a default limit hid
_FILTER_OPTIONS = {
    "max_filters": "--max-filters N",
    "max_channels": "--max-channels N",
    "channel": "--channel K",
}
# matplotlib's built-in backends that only write files; where no GUI toolkit can be imported,
# matplotlib falls back to "agg"
_FILE_ONLY_BACKENDS = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})


def add_figure_commands(sub: SubParsers) -> None:
    """Register ``filters``, ``features`` and ``demo`` on the ``kernelkit`` subcommands."""
    _add_filters_command(sub)
    _add_features_command(sub)
    _add_demo_command(sub)


def _add_output_argument(parser: argparse.ArgumentParser, fallback: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        help=(
            "write the figure to this .png, .svg or .pdf file; without it the figure opens in a "
            f"window if there is a display, else it is written to {fallback}"
        ),
    )
    parser.set_defaults(fallback=fallback)


def _add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", help="a model file: .keras, .h5, .npz, .pt/.pth, .safetensors or .onnx"
    )
    parser.add_argument(
        "--layer",
        help=(
            "the layer: a name or the index `kernelkit layers` shows (default: the first conv "
            "layer)"
        ),
    )
    parser.add_argument("--ncols", type=int, help="columns of the grid (default: near square)")


def _add_filters_command(sub: SubParsers) -> None:
    filters = sub.add_parser(
        "filters",
        help="draw the filters of a conv layer of a model file",
        description=(
            "Draw the filters of a conv layer as one grid of tiles with a colour bar. diverging: "
            "a red-blue scale centred at zero; gray: darker = lower weight; rgb: 3-channel "
            "filters in colour, zero as mid-grey; auto: rgb for 3 input channels, diverging "
            "otherwise. Multi-channel filters are drawn filters x channels while that makes at "
            "most 64 tiles, else each as the mean of its channels; at most 64 filters. When a "
            "limit hides filters or channels, the figure and the output say so, and which "
            "options show them."
        ),
        epilog=(
            "examples:\n"
            "  kernelkit filters model.keras -o filters.png\n"
            "  kernelkit filters model.pt --layer conv2 --max-channels 8 --max-filters 16\n"
            "  kernelkit filters model.pt --layer conv2 --channel 0 -o f.svg\n"
            "  kernelkit filters model.onnx --normalize per_filter --ncols 8 -o filters.pdf"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_layer_arguments(filters)
    filters.add_argument(
        "--mode", default="auto", choices=("auto", "gray", "rgb", "diverging"), help="colours"
    )
    filters.add_argument(
        "--normalize",
        default="global",
        choices=("global", "per_filter"),
        help="one colour scale for the layer (default) or one per filter",
    )
    filters.add_argument(
        "--channel", help="show one input channel (an index) or the 'mean' of each filter"
    )
    filters.add_argument(
        "--max-channels",
        type=int,
        help=(
            "show the first N input channels of each filter side by side (default: all of "
            "them while that makes at most 64 tiles, else each filter's mean)"
        ),
    )
    filters.add_argument(
        "--max-filters", type=int, default=64, help="show at most this many (default 64)"
    )
    _add_output_argument(filters, "filters.png")
    filters.set_defaults(func=_filters)


def _add_features_command(sub: SubParsers) -> None:
    features = sub.add_parser(
        "features",
        help="draw the feature maps a layer of a network makes of an image",
        description=(
            "Run the network of a model file up to a layer on an image (scaled to [0, 1], resized "
            "and converted to the model's input, as the first line of the output says) and draw "
            "the layer's output channels beside the input. Files that record the network "
            "(.keras, .h5 with its config, .onnx) run every layer before it; weights-only files "
            "run their first layer only. The note lists constant maps (a dead ReLU channel)."
        ),
        epilog=(
            "examples:\n"
            "  kernelkit features model.keras digit.png -o maps.png\n"
            "  kernelkit features model.keras photo.jpg --layer conv2 -o maps.png\n"
            "  kernelkit features model.onnx photo.jpg --layer 7 --normalize global -o maps.pdf"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_layer_arguments(features)
    features.add_argument("image", help="a PNG or JPEG image")
    features.add_argument(
        "--normalize",
        default="per_map",
        choices=("per_map", "global"),
        help="one colour scale per map (default) or one for all",
    )
    features.add_argument(
        "--max-maps", type=int, default=64, help="show at most this many (default 64)"
    )
    _add_output_argument(features, "features.png")
    features.set_defaults(func=_features)


def _add_demo_command(sub: SubParsers) -> None:
    demo = sub.add_parser(
        "demo",
        help="filters and feature maps of the shipped digits CNN, with timings",
        description=(
            "Read the small CNN shipped with kernelkit (trained with Keras on scikit-learn's 8x8 "
            "digits), write its 16 first-layer filters and the feature maps of a test digit as "
            "PNG files, time its convolutions with kernelkit and NumPy, and compute an rbf Gram "
            "matrix of the digits with kernelkit and scikit-learn (if installed), fitting an SVM "
            "on it."
        ),
        epilog="examples:\n  kernelkit demo\n  kernelkit demo -o /tmp/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "-o",
        "--output",
        default=DEFAULT_DIRECTORY,
        help=f"directory for the PNG files (default ./{DEFAULT_DIRECTORY})",
    )
    demo.set_defaults(func=_demo)


def _model_and_layer(args: argparse.Namespace) -> tuple[ConvModel, str | None]:
    """The model file and the --layer it names (a name, or an index as `kernelkit layers`
    numbers the layers)."""
    model = load_model(args.file)
    return model, resolve_layer(model, args.layer)


def _filters(args: argparse.Namespace) -> int:
    model, layer = _model_and_layer(args)
    fig, note = filters_figure(
        model,
        layer=layer,
        mode=args.mode,
        channel=_channel(args.channel),
        max_channels=args.max_channels,
        normalize=args.normalize,
        ncols=args.ncols,
        max_filters=args.max_filters,
        options=_FILTER_OPTIONS,
    )
    return _write_or_show(fig, args, note)


def _features(args: argparse.Namespace) -> int:
    model, layer = _model_and_layer(args)
    fig, description = feature_maps_figure(
        model,
        args.image,
        layer=layer,
        ncols=args.ncols,
        max_maps=args.max_maps,
        normalize=args.normalize,
    )
    print(description)
    return _write_or_show(fig, args)


def _demo(args: argparse.Namespace) -> int:
    run_demo(args.output)
    return 0


def _channel(text: str | None) -> int | str | None:
    if text is None or text == "mean":
        return text
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--channel: expected an index or 'mean', got {text!r}") from None


def _write_or_show(fig: Figure, args: argparse.Namespace, note: str = "") -> int:
    """Write the figure to ``--output``; without it show a window, or write the fallback file
    where no window can open. Print ``note`` (what the figure leaves out) too."""
    if args.output is None and _can_open_windows():
        if note:
            print(note)
        _show(fig)
        return 0
    path = pathlib.Path(args.fallback if args.output is None else args.output)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ValueError(f"--output: expected a .png, .svg or .pdf file, got {str(path)!r}")
    fig.savefig(path, dpi=_DPI)
    fallback = "" if args.output is not None else " (no display to show it in; -o chooses the file)"
    print(f"wrote {path}{fallback}")
    if note:
        print(note)
    return 0


def _can_open_windows() -> bool:
    """A display to draw on and a GUI backend that matplotlib can use there."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import matplotlib.pyplot as plt  # resolves the default backend: a GUI one where one works

    return str(plt.get_backend()).lower() not in _FILE_ONLY_BACKENDS


def _show(fig: Figure) -> None:
    import matplotlib.pyplot as plt

    plt.figure(fig)  # hand the Figure to pyplot, which gives it a window
    plt.show()
