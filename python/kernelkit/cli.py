"""The ``kernelkit`` command line: a thin layer over the package's functions."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__, filtering, kernels, pairwise, show_config
from ._display import SCALINGS, auto_scaling, scale_for_display
from ._figure_commands import add_figure_commands
from ._images import as_channels, read_image, write_image
from ._model_commands import add_model_commands
from .bench.command import add_bench_command

# Every kernel pairwise_kernels names, by its first metric name.
EXAMPLE_KERNELS = tuple(spec.metrics[0] for spec in pairwise.KERNEL_SPECS.values() if spec.metrics)


def _example(args: argparse.Namespace) -> int:
    """Compute every Gram kernel on random data and print timing and a checksum for each."""
    rng = np.random.default_rng(args.seed)
    X = rng.random((args.n, args.d), dtype=np.float32)
    show_config()
    print(f"\nGram kernels of X with shape {X.shape} (float32), Y = X:")
    for name in EXAMPLE_KERNELS:
        t0 = time.perf_counter()
        K = pairwise.pairwise_kernels(X, metric=name, n_threads=args.threads)
        ms = (time.perf_counter() - t0) * 1e3
        print(f"  {name:<10} {ms:8.2f} ms  K[0, :3] = {np.array2string(K[0, :3], precision=4)}")
    return 0


def _info(args: argparse.Namespace) -> int:
    del args
    show_config()
    return 0


def _read_kernel_file(path: str) -> np.ndarray:
    """A 2-D kernel from .npy (no pickles) or a text file of whitespace/comma-separated rows."""
    if path.lower().endswith(".npy"):
        kernel = np.load(path, allow_pickle=False)
    else:
        with open(path, encoding="utf-8") as text:
            rows = text.read().replace(",", " ")
        try:
            kernel = np.loadtxt(rows.splitlines(), ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{path}: not a kernel of numbers ({exc})") from None
    if kernel.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D kernel, got shape {kernel.shape}")
    return np.asarray(kernel)


def _list_kernels() -> None:
    width = max(len(name + entry.parameter) for name, entry in kernels.NAMED_KERNELS.items())
    for name, entry in kernels.NAMED_KERNELS.items():
        print(f"  {name + entry.parameter:<{width}}  {entry.summary}")


def _apply(args: argparse.Namespace) -> int:
    """Filter an image file with a named or stored kernel and write the response, scaled."""
    if args.list:
        _list_kernels()
        return 0
    if args.image is None or args.output is None or (args.kernel, args.kernel_file) == (None, None):
        raise ValueError("apply: give IMAGE, --kernel or --kernel-file, and -o OUT (or --list)")
    if args.kernel is not None:
        kernel, label = kernels.kernel_from_spec(args.kernel), args.kernel
    else:
        kernel, label = _read_kernel_file(args.kernel_file), args.kernel_file
    image = read_image(args.image)
    channels = 1 if args.gray or image.ndim == 2 or image.shape[-1] <= 2 else 3
    response = filtering.filter2d(
        as_channels(image, channels),
        kernel,
        mode=args.mode,
        cval=args.cval,
        convolve=args.convolve,
        n_threads=args.threads,
    )
    scaling = auto_scaling(kernel) if args.scale == "auto" else args.scale
    scaled, how = scale_for_display(response, scaling)
    write_image(args.output, scaled)
    h, w = response.shape[:2]
    print(
        f"{args.image}: {h}x{w}, {channels} channel(s); kernel {label} "
        f"{kernel.shape[0]}x{kernel.shape[1]}, mode {args.mode}"
        f"{', convolve' if args.convolve else ''}"
    )
    print(f"response: [{np.nanmin(response):.4g}, {np.nanmax(response):.4g}]")
    print(f"scaling: {how}")
    print(f"wrote {args.output}")
    return 0


def _add_apply_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apply = sub.add_parser(
        "apply",
        help="filter an image with a named kernel or a kernel file",
        description=(
            "Filter IMAGE with filter2d (scipy.ndimage semantics; gray stays gray, colour is "
            "filtered per channel) and write the response to OUT scaled to [0, 1]: 'auto' maps "
            "zero-sum kernels (edges, gradients) with symmetric limits, 0 to mid-gray, and clips "
            "the others (blurs, sharpening) to [0, 1]. The scaling used is printed."
        ),
        epilog="example: kernelkit apply photo.png --kernel sobel_x -o edges.png",
    )
    apply.add_argument("image", nargs="?", help="the image file (PNG, JPEG, ...)")
    source = apply.add_mutually_exclusive_group()
    source.add_argument("--kernel", help="a named kernel, NAME[:PARAM] (see --list)")
    source.add_argument("--kernel-file", help="a 2-D kernel in a .npy or text (.txt) file")
    source.add_argument("--list", action="store_true", help="list the named kernels and exit")
    apply.add_argument("-o", "--output", help="the output image file")
    apply.add_argument(
        "--mode",
        default="reflect",
        choices=[m for m in filtering.BOUNDARY_MODES if not m.startswith("grid-")],
        help="boundary mode (default reflect)",
    )
    apply.add_argument("--cval", type=float, default=0.0, help="value outside for --mode constant")
    apply.add_argument("--convolve", action="store_true", help="flip the kernel (convolution)")
    apply.add_argument("--gray", action="store_true", help="convert a colour image to gray first")
    apply.add_argument(
        "--scale", default="auto", choices=SCALINGS, help="display scaling (default auto)"
    )
    apply.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    apply.set_defaults(func=_apply)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernelkit",
        description="Fast convolution and Gram-matrix kernels; see the filters of a CNN.",
    )
    parser.add_argument("--version", action="version", version=f"kernelkit {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, show Python's traceback too"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info = sub.add_parser(
        "info",
        help="print the build and runtime configuration",
        description="Print version, SIMD paths, OpenMP and compiler settings.",
    )
    info.set_defaults(func=_info)
    example = sub.add_parser(
        "example",
        help="run every Gram kernel on random data",
        description="Compute each Gram kernel on random float32 data and print the timings.",
        epilog="example: kernelkit example --n 4000 --d 64 --threads 2",
    )
    example.add_argument("--n", type=int, default=2000, help="number of samples (default 2000)")
    example.add_argument("--d", type=int, default=64, help="number of features (default 64)")
    example.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    example.add_argument("--seed", type=int, default=0, help="random seed")
    example.set_defaults(func=_example)
    add_model_commands(sub)
    _add_apply_command(sub)
    add_figure_commands(sub)
    add_bench_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for reports
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's last flush
        return status
    except BrokenPipeError:  # the reader went away (`kernelkit layers m.keras | head`): status 0
        # the interpreter flushes stdout once more at exit; point it at /dev/null first, as the
        # Python documentation on SIGPIPE recommends
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("kernelkit: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report it
    except Exception as exc:
        if args.debug:
            raise
        # the expected kinds (bad arguments and files, a missing optional package) say it all;
        # anything else is kernelkit's fault: its type, and how to see where it happened
        if isinstance(exc, (ValueError, TypeError, OSError, ImportError)):
            print(f"kernelkit: error: {exc}", file=sys.stderr)
        else:
            print(
                f"kernelkit: error: {type(exc).__name__}: {exc} (kernelkit --debug ... shows the "
                "traceback)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
