"""Pieces shared by the developer benchmark scripts (bench_conv.py, bench_models.py, ...).

Timing, the machine description and the OPENBLAS_* / load-average warnings come from the
``kernelkit.bench`` package (``kernelkit bench``); this module adds the scripts' environment header,
correctness helpers, fixed-width and Markdown tables, their common command-line options, and
writing their Markdown/JSON reports.

The scripts are run as ``python bench/<script>.py``, which puts bench/ on ``sys.path``, so they
import this module as ``_common``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_info

import kernelkit
from kernelkit.bench import machine
from kernelkit.bench.cases import to_numpy as to_numpy
from kernelkit.bench.machine import cpu_model, optional_import, usable_cpus
from kernelkit.bench.timing import WARMUP_S
from kernelkit.bench.timing import Timing as Timing
from kernelkit.bench.timing import measure as measure

Array = NDArray[Any]

SLOW_OPENBLAS_VARS: tuple[str, ...] = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def package_version(name: str) -> str:
    """``name.__version__``, or "not installed"."""
    module = optional_import(name)
    return "not installed" if module is None else str(getattr(module, "__version__", "?"))


def log_stderr(message: str) -> None:
    """Progress and warnings go to stderr (the report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def timing_line(repeats: int, peer_budget_s: float, settle_s: float) -> str:
    """The header line that says how the timings were taken."""
    return (
        f"timing: kernelkit min/median of {repeats} calls after {WARMUP_S * 1e3:g} ms of warm-up "
        f"calls; peers min of up to {repeats} calls after the same warm-up, "
        f"fewer (>= 1) when that exceeds {peer_budget_s:g} s; "
        f"{settle_s:g} s pause before each series"
    )


# --------------------------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------------------------


def max_abs_diff(a: Array, b: Array, rows_per_block: int = 512) -> float:
    """``max |a - b|`` in float64, computed by blocks of the first axis (NaN if any is NaN)."""
    if a.shape != b.shape:
        return float("inf")
    worst = 0.0
    for start in range(0, a.shape[0], rows_per_block):
        block = np.abs(
            a[start : start + rows_per_block].astype(np.float64)
            - b[start : start + rows_per_block].astype(np.float64)
        )
        worst = max(worst, float(np.max(block, initial=0.0)))
        if np.isnan(worst):
            return worst
    return worst


def within(diff: float, tol: float) -> bool:
    """True when ``diff`` is a number no larger than ``tol``."""
    return not np.isnan(diff) and diff <= tol


# --------------------------------------------------------------------------------------------
# Environment description
# --------------------------------------------------------------------------------------------


def torch_blas(torch: ModuleType | None) -> str | None:
    """The BLAS PyTorch was built with (``BLAS_INFO`` of torch.__config__.show())."""
    if torch is None:
        return None
    for item in torch.__config__.show().replace(",", "\n").splitlines():
        if "BLAS_INFO=" in item:
            return item.split("=", 1)[1].strip()
    return "unknown"


def describe_threadpool(info: dict[str, Any]) -> str:
    """One line per threadpoolctl entry: library, version, kernel (architecture), owner, threads."""
    owner = Path(info.get("filepath", "")).parent.name
    library = f"{info.get('internal_api')} {info.get('version') or ''}".rstrip()
    parts = [f"{info.get('user_api')}: {library}"]
    if info.get("architecture"):
        parts.append(f"kernel {info['architecture']}")
    if info.get("threading_layer"):
        parts.append(f"{info['threading_layer']} threads")
    parts.append(f"num_threads={info.get('num_threads')}")
    parts.append(f"from {owner}/{Path(info.get('filepath', '')).name}")
    return ", ".join(parts)


def openblas_env_warning(script: str) -> str | None:
    """The OPENBLAS_* warning, with the command that reruns ``script`` without them."""
    warning = machine.openblas_env_warning(f"python {script}")
    return None if warning is None else f"WARNING: {warning}"


def load_warning() -> str | None:
    warning = machine.load_warning()
    return None if warning is None else f"WARNING: {warning}"


def log_run_warnings(script: str) -> None:
    """Print the OPENBLAS_* and load-average warnings to stderr before a run starts."""
    for warning in (openblas_env_warning(script), load_warning()):
        if warning is not None:
            log_stderr(warning)


def base_environment(threads: int, torch: ModuleType | None) -> dict[str, Any]:
    """The facts every benchmark header shows (call it inside threadpool_limits: it shows them)."""
    kk = kernelkit.config()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu_model(),
        "usable_cpus": usable_cpus(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "threads": threads,
        "kernelkit": {
            key: kk.get(key)
            for key in ("version", "simd", "simd_supported", "openmp_runtime", "compiler")
        },
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": package_version("torch"),
        "torch_blas": torch_blas(torch),
        "threadpools": threadpool_info(),
        "load_warning": load_warning(),
        "openblas_env": {k: os.environ[k] for k in SLOW_OPENBLAS_VARS if k in os.environ},
    }


def system_lines(env: dict[str, Any], thread_setting: str) -> list[str]:
    """Header lines: date and host, CPU and load, the thread count and how each peer got it."""
    load = env["load_average"]
    return [
        f"date: {env['date']} on {env['host']}",
        f"cpu: {env['cpu']} ({env['usable_cpus']} usable CPUs"
        + (f", load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})" if load else ")"),
        f"threads: {env['threads']} for every peer ({thread_setting})",
    ]


def kernelkit_line(env: dict[str, Any]) -> str:
    """Header line: kernelkit's version, SIMD path, OpenMP runtime and compiler."""
    kk = env["kernelkit"]
    return (
        f"kernelkit {kk['version']}: simd {kk['simd']} "
        f"(supported {', '.join(kk['simd_supported'])}), "
        f"OpenMP {kk['openmp_runtime']}, {kk['compiler']}"
    )


def versions_line(env: dict[str, Any], names: Sequence[tuple[str, str]]) -> str:
    """Header line: python, numpy, the (label, env key) packages, and torch with its BLAS."""
    parts = [f"python {env['python']}", f"numpy {env['numpy']}"]
    parts += [f"{label} {env[key]}" for label, key in names]
    parts.append(
        f"torch {env['torch']}" + (f" (BLAS {env['torch_blas']})" if env["torch_blas"] else "")
    )
    return ", ".join(parts)


def threadpool_lines(env: dict[str, Any]) -> list[str]:
    """Header lines: threadpoolctl's view of every BLAS and OpenMP library loaded."""
    return [describe_threadpool(info) for info in env["threadpools"]]


def report_warnings(env: dict[str, Any], script: str) -> list[str]:
    """The OPENBLAS_* and load-average warnings that apply to this run."""
    return [w for w in (openblas_env_warning(script), env["load_warning"]) if w is not None]


# --------------------------------------------------------------------------------------------
# Formatting and tables
# --------------------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    """Milliseconds with three significant digits (a dash for a missing peer)."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_opt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def left_columns(left: int | Collection[int]) -> Collection[int]:
    """Indexes of the left-aligned columns: the first ``left`` ones, or exactly those given."""
    return range(left) if isinstance(left, int) else left


def text_table(
    titles: Sequence[str], rows: Sequence[Sequence[str]], left: int | Collection[int] = 2
) -> str:
    """A fixed-width table: text left-aligned in the ``left`` columns, numbers right-aligned."""
    widths = [
        max(len(t), *(len(r[i]) for r in rows)) if rows else len(t) for i, t in enumerate(titles)
    ]
    lefts = left_columns(left)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in lefts else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(titles), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(
    titles: Sequence[str], rows: Sequence[Sequence[str]], left: int | Collection[int] = 2
) -> str:
    """A GitHub-flavoured Markdown table (the ``left`` columns left-aligned, the rest right)."""
    lefts = left_columns(left)
    align = ["---" if i in lefts else "---:" for i in range(len(titles))]
    return "\n".join(
        "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        for cells in [titles, align, *rows]
    )


# --------------------------------------------------------------------------------------------
# Command line and output files
# --------------------------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--threads, --repeats, --peer-budget, --settle, --seed, --markdown and --json."""
    parser.add_argument("--threads", type=int, default=2, help="threads for every peer (default 2)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed calls after the warm-up (default 7, 5 with --quick)",
    )
    parser.add_argument(
        "--peer-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a peer gets fewer repeats (>= 1) when they would exceed this "
        "(default 2, 0.5 with --quick)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="pause before each series so the previous library's threads sleep "
        "(default 0.25, 0.1 with --quick)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write Markdown here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw timings here")


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject thread and repeat counts below 1."""
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")


def timing_settings(args: argparse.Namespace, quick: bool) -> tuple[int, float, float]:
    """(repeats, peer budget s, settle s) from the options, with the --quick defaults."""
    repeats = args.repeats if args.repeats is not None else (5 if quick else 7)
    budget = args.peer_budget if args.peer_budget is not None else (0.5 if quick else 2.0)
    settle = args.settle if args.settle is not None else (0.1 if quick else 0.25)
    return repeats, budget, settle


def write_reports(
    markdown_path: Path | None,
    markdown: Callable[[], str],
    json_path: Path | None,
    report: Callable[[], dict[str, Any]],
) -> None:
    """Write the Markdown report and the raw JSON when their files were asked for."""
    if markdown_path is not None:
        markdown_path.write_text(markdown(), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps(report(), indent=1, default=str) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# Scripts that became `kernelkit bench --suite ...`
# --------------------------------------------------------------------------------------------


def run_as_kernelkit_bench(
    suite: str, argv: Sequence[str] | None, retired: dict[str, str], description: str
) -> int:
    """Run ``kernelkit bench --suite SUITE`` with the script's options mapped onto it.

    --threads, --quick, --peers P ..., --dtypes D ... (one dtype: --dtype), --repeats, --seed,
    --markdown and --json keep working; each option of ``retired`` fails with its reason.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", default=None, help="thread count(s): N or N,N,...")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--peers", nargs="+", default=None)
    parser.add_argument("--dtypes", nargs="+", choices=("float32", "float64"), default=None)
    parser.add_argument("--repeats", default=None)
    parser.add_argument("--seed", default=None)
    parser.add_argument("--markdown", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    for option in retired:
        parser.add_argument(option, nargs="*", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option, reason in retired.items():
        if getattr(args, option.lstrip("-").replace("-", "_")) is not None:
            parser.error(f"{option} is gone: {reason}")
    command = ["bench", "--suite", suite] + (["--quick"] if args.quick else [])
    if args.dtypes is not None and len(set(args.dtypes)) == 1:
        command += ["--dtype", args.dtypes[0]]
    if args.peers is not None:
        command += ["--peers", ",".join(args.peers)]
    for name in ("threads", "repeats", "seed", "markdown", "json", "plot"):
        if getattr(args, name) is not None:
            command += [f"--{name}", getattr(args, name)]
    from kernelkit.cli import main as kernelkit_main

    return kernelkit_main(command)
