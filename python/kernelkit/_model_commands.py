"""The ``layers`` and ``predict`` commands of the ``kernelkit`` command line."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import numpy as np

from ._images import read_image
from .models import FORMATS, load_model
from .models.demo_model import demo_model_path
from .models.network_input import predict
from .models.network_table import network_summary

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_model_commands"]

#: The exit status of ``kernelkit layers --timeout`` when reading took too long (as timeout(1)).
TIMEOUT_STATUS = 124


def add_model_commands(sub: SubParsers) -> None:
    """Register ``layers`` and ``predict`` on the ``kernelkit`` subcommands."""
    _add_layers_command(sub)
    _add_predict_command(sub)


def _add_layers_command(sub: SubParsers) -> None:
    layers = sub.add_parser(
        "layers",
        help="list the layers of a model file",
        description=(
            "Print the layers of a Keras (.keras, .h5, .weights.h5, .weights.json), .npz, "
            "PyTorch, safetensors or ONNX file. Where the file records the network (.keras, "
            ".h5 with a model config, .onnx), every layer with its index (what --layer N of "
            "the other commands takes), kind, output shape, the kernel as stored (both halves "
            "of a separable layer), stride, padding, activation and parameters. Otherwise the "
            "conv layers: name, kind, kernel shape, stride, padding, dilation, groups, "
            "activation, parameters, and whether the file records the configuration."
        ),
        epilog="example: kernelkit layers model.keras",
    )
    layers.add_argument("file", help="the model file")
    layers.add_argument(
        "--format",
        default=None,
        choices=sorted(FORMATS),
        help="force a format (default: recognised from the content)",
    )
    layers.add_argument(
        "--layout",
        default=None,
        choices=("HWIO", "OIHW", "HWCM"),
        help="layout of the 4-D kernels of an .npz file (default: decided from shapes)",
    )
    layers.add_argument(
        "--conv", action="store_true", help="the table of the conv layers only, with their settings"
    )
    layers.add_argument(
        "--timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=(
            "read the file in a separate process, stopped after SECONDS with an error and exit "
            f"status {TIMEOUT_STATUS}: for files from untrusted sources, on which a library "
            "underneath (libhdf5) could loop forever (default: no limit)"
        ),
    )
    layers.set_defaults(func=_layers)


def _seconds(text: str) -> float:
    """A --timeout value: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _layers(args: argparse.Namespace) -> int:
    if args.timeout is not None:
        return _layers_in_a_process(args)
    model = load_model(args.file, format=args.format, layout=args.layout)
    print(network_summary(model) if model.runnable and not args.conv else model.summary())
    return 0


def _layers_command(args: argparse.Namespace) -> list[str]:
    """``kernelkit layers`` with the same arguments but no --timeout, as a command line."""
    command = [sys.executable, "-m", "kernelkit", *(["--debug"] if args.debug else []), "layers"]
    if args.format is not None:
        command += ["--format", args.format]
    if args.layout is not None:
        command += ["--layout", args.layout]
    if args.conv:
        command.append("--conv")
    return [*command, "--", os.fspath(args.file)]


def _layers_in_a_process(args: argparse.Namespace) -> int:
    """Run the command in a child process that prints what it would, and is killed once
    ``args.timeout`` seconds have passed: a library underneath (libhdf5) can loop forever on a
    damaged file, where no Python code of this process could interrupt it."""
    sys.stdout.flush()
    try:
        return subprocess.run(_layers_command(args), timeout=args.timeout, check=False).returncode
    except subprocess.TimeoutExpired:  # run() has killed the child
        print(
            f"kernelkit: error: {args.file}: reading the file took longer than "
            f"{args.timeout:g} s (--timeout), and was stopped",
            file=sys.stderr,
        )
        return TIMEOUT_STATUS


def _add_predict_command(sub: SubParsers) -> None:
    parser = sub.add_parser(
        "predict",
        help="run a model on an image and print its top classes",
        description=(
            "Run the whole network of a .keras, .h5 (with its model config) or .onnx file on an "
            "image (scaled to [0, 1], resized and converted to the model's input, as the "
            "output says) and print the classes with the highest scores: probabilities where "
            "the network ends in a softmax. The shipped digits model's classes are the digits."
        ),
        epilog=(
            "examples:\n  kernelkit predict model.keras photo.jpg\n"
            "  kernelkit predict model.onnx photo.png --top 3"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="a model file that records its network: .keras, .h5, .onnx")
    parser.add_argument("image", help="a PNG or JPEG image")
    parser.add_argument("--top", type=int, default=5, help="how many classes (default 5)")
    parser.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    model = load_model(args.file)
    result = predict(model, read_image(args.image), args.top, os.fspath(args.image))
    digits = os.path.realpath(args.file) == os.path.realpath(demo_model_path())
    what = "probability" if result.probabilities else "score (the output is not a softmax)"
    print(result.input.description)
    count = int(np.prod(result.output_shape))
    print(f"{args.file}: the network's output has {count} values; the top {len(result.scores)}:")
    print(f"{'rank':<6}{'digit' if digits else 'class':<8}{what}")
    for rank, (label, score) in enumerate(zip(result.classes, result.scores), 1):
        print(f"{rank:<6}{label:<8}{score:.4f}")
    return 0
