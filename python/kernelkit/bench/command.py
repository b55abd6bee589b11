"""``kernelkit bench``: the command line of the benchmark."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from . import suite_conv, suite_filter, suite_gram, suite_models  # noqa: F401 (registers them)
from .cases import DTYPES, SUITES
from .ceilings import FULL_CEILINGS, QUICK_CEILINGS
from .machine import machine_info, usable_cpus
from .peers import PEER_NAMES, default_peers, load_peers
from .report import Report
from .runner import RunPlan, run_plan
from .timing import FULL_TIMING, QUICK_TIMING


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def thread_counts(text: str) -> list[int]:
    """``2`` or ``1,2,4``: thread counts >= 1, in increasing order."""
    try:
        counts = sorted({int(item) for item in comma_list(text)})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,N,..., got {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {text!r}")
    return counts


def suite_names(text: str) -> list[str]:
    names = comma_list(text)
    if names == ["all"]:
        return list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown suite {', '.join(unknown) if unknown else repr(text)}; choose from "
            f"{', '.join(SUITES)}, all"
        )
    return names


def peer_names(text: str) -> list[str]:
    names = comma_list(text)
    unknown = [n for n in names if n not in PEER_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown peer {', '.join(unknown)}; choose from {', '.join(PEER_NAMES)}"
        )
    return names


def add_bench_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="benchmark kernelkit against NumPy and every installed peer",
        description=(
            "Time kernelkit's conv2d, Gram kernels, filter2d and whole networks against NumPy "
            "and, where installed, SciPy, scikit-learn, PyTorch, onnxruntime, OpenCV and Keras, "
            "in one process with the same thread count and inputs; every result is checked "
            "against kernelkit's before it is timed. The same run measures the machine's "
            "ceilings (FMA peak, OpenBLAS GEMM, copy bandwidth). Exit status 1 when a result "
            "differs or a case fails."
        ),
        epilog="example: kernelkit bench --suite gram --quick --threads 1,2 --plot gram.png",
    )
    bench.add_argument(
        "--suite",
        type=suite_names,
        default=list(SUITES),
        metavar="NAME[,NAME]",
        help=f"{', '.join(SUITES)} or all (default all)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="small cases and short series (under a minute)"
    )
    bench.add_argument(
        "--threads",
        type=thread_counts,
        default=None,
        metavar="N[,N]",
        help="thread count(s) for kernelkit and every peer; several give a scaling table "
        "(default: the usable CPUs)",
    )
    bench.add_argument(
        "--dtype", choices=DTYPES, default=None, help="run every case in this dtype only"
    )
    bench.add_argument(
        "--peers",
        type=peer_names,
        default=None,
        metavar="NAME[,NAME]",
        help=f"a subset of {', '.join(PEER_NAMES)} (NumPy always runs; default: every "
        "installed one, Keras not with --quick)",
    )
    bench.add_argument("--json", type=Path, metavar="OUT.json", help="write the results as JSON")
    bench.add_argument("--markdown", type=Path, metavar="OUT.md", help="write a Markdown report")
    bench.add_argument(
        "--plot",
        type=Path,
        metavar="OUT.png",
        help="write grouped bars per suite (and OUT-threads.png with several thread counts)",
    )
    bench.add_argument("--repeats", type=int, default=None, help="timed calls per series")
    bench.add_argument("--rounds", type=int, default=None, help="interleaved rounds per case")
    bench.add_argument("--no-memory", action="store_true", help="skip the memory probes")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    bench.set_defaults(func=run_bench_command)


def run_bench_command(args: argparse.Namespace) -> int:
    from .terminal import print_report, progress_bar, warn

    for name, value in (("--repeats", args.repeats), ("--rounds", args.rounds)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    timing = QUICK_TIMING if args.quick else FULL_TIMING
    timing = dataclasses.replace(
        timing, repeats=args.repeats or timing.repeats, rounds=args.rounds or timing.rounds
    )
    plan = RunPlan.build(
        [SUITES[name] for name in args.suite],
        quick=args.quick,
        dtype=args.dtype,
        threads=args.threads or [usable_cpus()],
        peers=load_peers(args.peers if args.peers is not None else default_peers(args.quick)),
        timing=timing,
        ceiling_sizes=QUICK_CEILINGS if args.quick else FULL_CEILINGS,
        seed=args.seed,
        memory=not args.no_memory,
    )
    machine = machine_info()
    warn(machine["warnings"])
    with progress_bar(plan.total_series()) as hooks:
        ceilings, results = run_plan(plan, hooks.advance, hooks.status)
    command = shlex.join(["kernelkit", *args.argv])
    report = Report(command, args.quick, plan, machine, ceilings, results)
    print_report(report)
    write_outputs(report, args)
    return 0 if report.ok else 1


def write_outputs(report: Report, args: argparse.Namespace) -> None:
    from .report import markdown

    if args.json is not None:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    if args.markdown is not None:
        args.markdown.write_text(markdown(report), encoding="utf-8")
        print(f"wrote {args.markdown}")
    if args.plot is not None:
        from .plots import write_plots

        for path in write_plots(report, args.plot):
            print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kernelkit.bench``: the same as ``kernelkit bench``."""
    from ..cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])
