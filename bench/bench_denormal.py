"""Benchmark kernelkit's kernels on subnormal (denormal) data against the same data at normal scale.

Subnormal numbers (float32 below 1.2e-38, float64 below 2.2e-308) can cost a micro-code assist per
floating-point operation. kernelkit counts them as zero inside its calls (flush to zero and
denormals are zero, set on the calling thread and on every worker for the call's duration, see
cpp/include/kernelkit/float_mode.hpp), so they must not slow any kernel down by more than 2x. This
script times each case three ways, in one run, on every SIMD path the CPU supports (or those given
with ``--simd``):

* ``normal``: standard-normal inputs (uniform [0, 1) for chi2) and weights;
* ``subnormal x``: the same inputs scaled into the subnormal range (float32 x 1e-39, float64 x
  1e-310), the weights normal;
* ``subnormal w``: the weights scaled so, the inputs normal (conv2d only: filter2d leaves out the
  weights below float64 epsilon, and the Gram kernels have none).

Cases: conv2d 3x3 with 64 input and 64 output channels (indirect GEMM) on one 56x56 image, a
depthwise 3x3 conv2d of 128 channels on 8 such images in NCHW and in NHWC, filter2d with a 5x5
kernel on a 1024x1024 image, and the Gram kernels linear, rbf, laplacian, cosine and chi2 of a
2000 x 64 X (``Y=None``). Each slowdown is the subnormal min time over the normal min time. Every
subnormal result is checked against the same call on the input with its subnormals replaced by
zero (what the kernels see). The exit status is 1 when a result differs or a slowdown exceeds
``--max-slowdown`` (default 2).

Run ``python bench/bench_denormal.py --help`` for the options and bench/README.md for how to run it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import kernelkit
from _common import (
    WARMUP_S,
    Array,
    Timing,
    add_common_arguments,
    base_environment,
    check_common_arguments,
    fmt_ms,
    kernelkit_line,
    log_run_warnings,
    log_stderr,
    markdown_table,
    max_abs_diff,
    measure,
    report_warnings,
    system_lines,
    text_table,
    threadpool_lines,
    timing_settings,
    versions_line,
    within,
    write_reports,
)

SCRIPT = "bench/bench_denormal.py"
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}
#: Factors that put standard-normal data into each dtype's subnormal range.
SUBNORMAL_SCALE: dict[str, float] = {"float32": 1e-39, "float64": 1e-310}
VARIANTS: tuple[str, ...] = ("normal", "subnormal x", "subnormal w")
GRAM_KERNELS: tuple[str, ...] = ("linear", "rbf", "laplacian", "cosine", "chi2")
DEFAULT_MAX_SLOWDOWN = 2.0


@dataclass(frozen=True)
class Sizes:
    image: int  # conv2d planes are image x image
    depthwise_batch: int  # images of a depthwise call (one of the 3x3 64-channel call)
    filter_image: int
    gram_n: int
    gram_d: int = 64


FULL = Sizes(image=56, depthwise_batch=8, filter_image=1024, gram_n=2000)
QUICK = Sizes(image=28, depthwise_batch=4, filter_image=512, gram_n=1000)

# A case: (inputs, weights) -> call. The weights are None for cases without any.
Call = Callable[[], Array]


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    make_inputs: Callable[[np.random.Generator, Sizes, type], Array]
    make_weights: Callable[[np.random.Generator, type], Any] | None
    make_call: Callable[[Array, Any, int], Call]


def conv_case(name: str, label: str, channels: int, groups: int, layout: str) -> Case:
    def inputs(rng: np.random.Generator, sizes: Sizes, dtype: type) -> Array:
        batch = sizes.depthwise_batch if groups > 1 else 1
        shape = (batch, channels, sizes.image, sizes.image)
        x = rng.standard_normal(shape).astype(dtype)
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "NHWC" else x

    def weights(rng: np.random.Generator, dtype: type) -> Any:
        w = rng.standard_normal((channels, channels // groups, 3, 3)) / np.sqrt(
            9 * channels / groups
        )
        return w.astype(dtype), (0.1 * rng.standard_normal(channels)).astype(dtype)

    def call(x: Array, wb: Any, threads: int) -> Call:
        w, b = wb
        conv = kernelkit.Conv2d(
            w, b, padding=1, groups=groups, layout=layout, weight_layout="OIHW", activation="relu"
        )
        return lambda: conv(x, n_threads=threads)

    return Case(name, label, inputs, weights, call)


def filter_case() -> Case:
    def inputs(rng: np.random.Generator, sizes: Sizes, dtype: type) -> Array:
        return rng.standard_normal((sizes.filter_image, sizes.filter_image)).astype(dtype)

    def call(image: Array, _: Any, threads: int) -> Call:
        kernel = np.random.default_rng(5).standard_normal((5, 5))  # not separable: one 2-D pass
        return lambda: kernelkit.filter2d(image, kernel, mode="reflect", n_threads=threads)

    return Case("filter2d", "filter2d 5x5 random, reflect", inputs, None, call)


def gram_case(kernel: str) -> Case:
    function = getattr(kernelkit, "cosine_similarity" if kernel == "cosine" else f"{kernel}_kernel")

    def inputs(rng: np.random.Generator, sizes: Sizes, dtype: type) -> Array:
        shape = (sizes.gram_n, sizes.gram_d)
        data = rng.random(shape) if kernel == "chi2" else rng.standard_normal(shape)
        return data.astype(dtype)

    def call(x: Array, _: Any, threads: int) -> Call:
        return lambda: function(x, n_threads=threads)

    return Case(kernel, f"{function.__name__}(X), X n x d", inputs, None, call)


CASES: tuple[Case, ...] = (
    conv_case("conv3x3", "conv2d 3x3 64->64 NCHW +bias+relu", 64, 1, "NCHW"),
    conv_case("depthwise", "conv2d depthwise 3x3 x128 NCHW", 128, 128, "NCHW"),
    conv_case("depthwise_nhwc", "conv2d depthwise 3x3 x128 NHWC", 128, 128, "NHWC"),
    filter_case(),
    *(gram_case(k) for k in GRAM_KERNELS),
)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    threads: int
    sizes: Sizes
    quick: bool
    repeats: int
    rounds: int
    settle_s: float
    seed: int
    simd_paths: list[str]
    dtypes: list[str]
    cases: list[Case]
    max_slowdown: float


@dataclass
class CaseResult:
    case: Case
    simd: str
    dtype: str
    timings: dict[str, Timing] = field(default_factory=dict)
    diffs: dict[str, float] = field(default_factory=dict)  # max |subnormal - flushed reference|
    tolerance: float = 0.0

    def slowdown(self, variant: str) -> float | None:
        timing = self.timings.get(variant)
        return None if timing is None else timing.min_ms / self.timings["normal"].min_ms

    def wrong(self) -> list[str]:
        return [v for v, d in self.diffs.items() if not within(d, self.tolerance)]

    def status(self, max_slowdown: float) -> str:
        if self.wrong():
            return "FAIL: " + ", ".join(self.wrong()) + " differs"
        slow = [v for v in VARIANTS[1:] if (r := self.slowdown(v)) is not None and r > max_slowdown]
        return f"SLOW: {', '.join(slow)} > {max_slowdown:g}x" if slow else "ok"


def flushed(a: Array) -> Array:
    """``a`` with its subnormal numbers replaced by zero (what kernelkit's kernels see)."""
    return np.where(np.abs(a) < np.finfo(a.dtype).tiny, np.zeros_like(a), a)


def scaled(weights: Any, factor: float) -> Any:
    return tuple((w * w.dtype.type(factor)).astype(w.dtype) for w in weights)


def run_case(case: Case, simd: str, dtype_name: str, cfg: Config) -> CaseResult:
    """Time the normal, subnormal-input and subnormal-weight calls of one case; check the
    subnormal results against the same call on flushed data."""
    dtype = DTYPES[dtype_name]
    scale = SUBNORMAL_SCALE[dtype_name]
    rng = np.random.default_rng(cfg.seed)
    x = case.make_inputs(rng, cfg.sizes, dtype)
    w = case.make_weights(rng, dtype) if case.make_weights is not None else None
    x_sub = (x * dtype(scale)).astype(dtype)
    calls = {"normal": case.make_call(x, w, cfg.threads)}
    references = {}
    calls["subnormal x"] = case.make_call(x_sub, w, cfg.threads)
    references["subnormal x"] = case.make_call(flushed(x_sub), w, cfg.threads)
    if w is not None:
        w_sub = scaled(w, scale)
        calls["subnormal w"] = case.make_call(x, w_sub, cfg.threads)
        references["subnormal w"] = case.make_call(x, tuple(flushed(a) for a in w_sub), cfg.threads)
    result = CaseResult(case, simd, dtype_name)
    result.tolerance = 16 * float(np.finfo(dtype).tiny)
    for round_index in range(cfg.rounds):  # the variants alternate: a burst of load hits all
        for variant, call in calls.items():
            timing, out = measure(call, cfg.repeats, None, cfg.settle_s)
            previous = result.timings.get(variant)
            result.timings[variant] = timing if previous is None else previous.merged(timing)
            if round_index == 0 and variant in references:
                expected = references[variant]()
                scale_out = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
                result.diffs[variant] = max_abs_diff(np.asarray(out), expected) / scale_out
    return result


def run_benchmark(cfg: Config, log: Callable[[str], None]) -> list[CaseResult]:
    results = []
    previous = kernelkit.simd_path()
    try:
        for simd in cfg.simd_paths:
            kernelkit.set_simd_path(simd)
            for dtype_name in cfg.dtypes:
                for case in cfg.cases:
                    r = run_case(case, simd, dtype_name, cfg)
                    results.append(r)
                    log(
                        f"  {simd:<8} {dtype_name} {case.name:<15} normal "
                        f"{r.timings['normal'].min_ms:8.2f} ms  "
                        + "  ".join(
                            f"{v} {r.slowdown(v):.2f}x" for v in VARIANTS[1:] if v in r.timings
                        )
                    )
    finally:
        kernelkit.set_simd_path(previous)
    return results


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def environment(cfg: Config) -> dict[str, Any]:
    return {
        **base_environment(cfg.threads, None),
        "command": " ".join(["python", SCRIPT, *sys.argv[1:]]),
        "quick": cfg.quick,
        "sizes": cfg.sizes.__dict__,
        "repeats": cfg.repeats,
        "rounds": cfg.rounds,
        "settle_s": cfg.settle_s,
        "simd_paths": cfg.simd_paths,
        "max_slowdown": cfg.max_slowdown,
    }


def header_lines(env: dict[str, Any]) -> list[str]:
    sizes = env["sizes"]
    lines = system_lines(env, "kernelkit n_threads")
    lines += [
        f"command: {env['command']}",
        f"sizes: conv2d 1 image of {sizes['image']}x{sizes['image']} (depthwise: "
        f"{sizes['depthwise_batch']}); filter2d "
        f"{sizes['filter_image']}x{sizes['filter_image']}; Gram n = {sizes['gram_n']}, "
        f"d = {sizes['gram_d']}" + (" (--quick)" if env["quick"] else ""),
        "subnormal: x or w times 1e-39 (float32) or 1e-310 (float64); "
        f"SIMD paths: {', '.join(env['simd_paths'])}",
        kernelkit_line(env),
        versions_line(env, []),
        *threadpool_lines(env),
        f"timing: min/median over {env['rounds']} rounds of {env['repeats']} calls, each after "
        f"{WARMUP_S * 1e3:g} ms of warm-up calls and a {env['settle_s']:g} s pause; the variants "
        "of a case alternate round by round",
    ]
    return lines


def table_rows(
    results: Sequence[CaseResult], max_slowdown: float
) -> tuple[list[str], list[list[str]]]:
    titles = ["simd", "dtype", "case", "normal ms"]
    for v in VARIANTS[1:]:
        titles += [f"{v} ms", f"{v} ratio"]
    titles += ["max diff", "status"]
    rows = []
    for r in results:
        cells = [r.simd, r.dtype, r.case.label, fmt_ms(r.timings["normal"].min_ms)]
        for v in VARIANTS[1:]:
            timing, ratio = r.timings.get(v), r.slowdown(v)
            cells += [
                "-" if timing is None else fmt_ms(timing.min_ms),
                "-" if ratio is None else f"{ratio:.2f}x",
            ]
        worst = max(r.diffs.values(), default=0.0)
        cells += [f"{worst:.1e}", r.status(max_slowdown)]
        rows.append(cells)
    return titles, rows


LEFT_COLUMNS = (0, 1, 2, 9)


def notes(max_slowdown: float) -> list[str]:
    return [
        "ratio = subnormal min ms / normal min ms of the same case (1.00x: no slowdown); "
        f"above {max_slowdown:g}x is SLOW",
        "max diff = max |result - result on the data with its subnormals replaced by 0| / "
        "max(1, max |that result|); above 16 x the dtype's smallest normal number is FAIL",
        "subnormals count as zero inside kernelkit's calls (FTZ/DAZ on the calling thread and "
        "the workers, restored afterwards): results below the smallest normal come out as 0",
    ]


def render_text(env: dict[str, Any], results: Sequence[CaseResult], max_slowdown: float) -> str:
    parts = ["# kernelkit subnormal-data benchmark", *header_lines(env)]
    parts += report_warnings(env, SCRIPT)
    parts += ["", text_table(*table_rows(results, max_slowdown), left=LEFT_COLUMNS), ""]
    parts += [f"note: {n}" for n in notes(max_slowdown)]
    return "\n".join(parts)


def render_markdown(env: dict[str, Any], results: Sequence[CaseResult], max_slowdown: float) -> str:
    parts = [
        "# kernelkit subnormal-data benchmark",
        "",
        *[f"- {line}" for line in header_lines(env)],
    ]
    for warning in report_warnings(env, SCRIPT):
        parts += ["", "```", warning, "```"]
    parts += ["", markdown_table(*table_rows(results, max_slowdown), left=LEFT_COLUMNS), ""]
    parts += [f"- {n}" for n in notes(max_slowdown)]
    return "\n".join(parts) + "\n"


def json_report(
    env: dict[str, Any], results: Sequence[CaseResult], max_slowdown: float
) -> dict[str, Any]:
    return {
        "environment": env,
        "results": [
            {
                "simd": r.simd,
                "dtype": r.dtype,
                "case": r.case.name,
                "label": r.case.label,
                "timings": {v: t.as_dict() for v, t in r.timings.items()},
                "slowdown": {v: r.slowdown(v) for v in r.timings if v != "normal"},
                "max_diff": r.diffs,
                "status": r.status(max_slowdown),
            }
            for r in results
        ],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time kernelkit's conv2d, filter2d and Gram kernels on subnormal inputs and "
        "weights against the same data at normal scale."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK.image}x{QUICK.image} conv planes, {QUICK.filter_image}^2 "
        f"filter image, Gram n = {QUICK.gram_n}",
    )
    supported = list(kernelkit.config()["simd_supported"])
    parser.add_argument(
        "--simd",
        nargs="+",
        choices=supported,
        default=supported,
        help="SIMD paths to run (default: every one this CPU supports)",
    )
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES))
    parser.add_argument(
        "--cases", nargs="+", choices=[c.name for c in CASES], default=[c.name for c in CASES]
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of every variant of a case, alternating (default 3, 2 with --quick)",
    )
    parser.add_argument(
        "--max-slowdown",
        type=float,
        default=DEFAULT_MAX_SLOWDOWN,
        metavar="RATIO",
        help=f"a slowdown above this is SLOW and makes the exit status 1 (default "
        f"{DEFAULT_MAX_SLOWDOWN:g})",
    )
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeats, _, settle = timing_settings(args, args.quick)
    cfg = Config(
        threads=args.threads,
        sizes=QUICK if args.quick else FULL,
        quick=args.quick,
        repeats=repeats,
        rounds=args.rounds if args.rounds is not None else (2 if args.quick else 3),
        settle_s=settle,
        seed=args.seed,
        simd_paths=args.simd,
        dtypes=args.dtypes,
        cases=[c for c in CASES if c.name in args.cases],
        max_slowdown=args.max_slowdown,
    )
    log_run_warnings(SCRIPT)
    with threadpool_limits(limits=cfg.threads):
        env = environment(cfg)
        log_stderr(
            f"running {len(cfg.cases)} cases x {len(cfg.dtypes)} dtypes on "
            f"{', '.join(cfg.simd_paths)} with {cfg.threads} threads ..."
        )
        results = run_benchmark(cfg, log_stderr)
    print(render_text(env, results, cfg.max_slowdown))
    write_reports(
        args.markdown,
        lambda: render_markdown(env, results, cfg.max_slowdown),
        args.json,
        lambda: json_report(env, results, cfg.max_slowdown),
    )
    return 0 if all(r.status(cfg.max_slowdown) == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
