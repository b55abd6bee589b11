"""The ``kernelkit`` command line: a thin layer over the package's functions."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np

from . import __version__, pairwise, show_config
from ._figure_commands import add_figure_commands

EXAMPLE_KERNELS = ("linear", "rbf", "polynomial", "sigmoid", "laplacian", "cosine", "chi2")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kernelkit",
        description="Fast convolution and Gram-matrix kernels; see the filters of a CNN.",
    )
    parser.add_argument("--version", action="version", version=f"kernelkit {__version__}")
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
    add_figure_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError) as exc:
        print(f"kernelkit: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
