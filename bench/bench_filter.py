"""Benchmark kernelkit.filter2d against scipy.ndimage.correlate and OpenCV's cv2.filter2D.

The issue's three cases on one 2048 x 2048 float32 image, mode "reflect", in one process and one
run, with the same thread count T for every peer that has threads:

* kernelkit: ``kernelkit.filter2d(image, kernel, n_threads=T)`` (the Gaussian is detected as
  separable and runs as two 1-D passes);
* scipy: ``scipy.ndimage.correlate(image, kernel, mode="reflect")``, the 2-D kernel as given.
  scipy.ndimage has no threads: it runs on one core whatever T is;
* scipy separable (the Gaussian only): ``scipy.ndimage.correlate1d`` along rows then columns, the
  fastest scipy way to apply that kernel;
* OpenCV (when installed): ``cv2.filter2D(image, -1, kernel, borderType=BORDER_REFLECT)`` (the
  same boundary rule) after ``cv2.setNumThreads(T)``.

The same run times a plain copy of the image into a new array (NumPy ``x.copy()``): reading the
image and writing a fresh result is the floor no filter can beat. Every output is compared with
scipy's. Run ``python bench/bench_filter.py --help`` for the options and bench/README.md for how
to run it.
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
    Array,
    Timing,
    add_common_arguments,
    base_environment,
    check_common_arguments,
    fmt_ms,
    fmt_ratio,
    kernelkit_line,
    log_run_warnings,
    log_stderr,
    markdown_table,
    max_abs_diff,
    measure,
    optional_import,
    package_version,
    report_warnings,
    system_lines,
    text_table,
    threadpool_lines,
    timing_line,
    timing_settings,
    versions_line,
    within,
    write_reports,
)

SCRIPT = "bench/bench_filter.py"
DEFAULT_SIZE = 2048
QUICK_SIZE = 512
RTOL = 1e-5  # max|y - y_scipy| / max|y_scipy| (float32 sums against scipy's float64 sums)

ndimage = optional_import("scipy.ndimage")
cv2 = optional_import("cv2")


@dataclass(frozen=True)
class FilterCase:
    """One kernel on the image, and the speed-up over scipy.ndimage.correlate it must reach."""

    name: str
    label: str
    target: float
    make_kernel: Callable[[], Array]
    separable: bool = False  # rank 1: kernelkit runs two 1-D passes, scipy separable is timed


def random_kernel(size: int) -> Callable[[], Array]:
    def make() -> Array:
        return np.random.default_rng([size, 7]).standard_normal((size, size))

    return make


CASES: tuple[FilterCase, ...] = (
    FilterCase("3x3", "random 3x3", 5.0, random_kernel(3)),
    FilterCase("7x7", "random 7x7", 5.0, random_kernel(7)),
    FilterCase(
        "gauss15",
        "Gaussian 15x15 (sigma 2.5, separable)",
        10.0,
        lambda: kernelkit.kernels.gaussian(2.5, size=15),
        separable=True,
    ),
)


# --------------------------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------------------------


def scipy_separable(image: Array, kernel: Array) -> Array:
    """Two ``correlate1d`` passes with the rank-1 factors of ``kernel`` (its middle row/column)."""
    mid_row, mid_col = kernel.shape[0] // 2, kernel.shape[1] // 2
    col = kernel[:, mid_col]
    row = kernel[mid_row, :] / kernel[mid_row, mid_col]
    rows_done = ndimage.correlate1d(image, row, axis=1, mode="reflect")
    return ndimage.correlate1d(rows_done, col, axis=0, mode="reflect")


def peer_calls(image: Array, kernel: Array, separable: bool) -> dict[str, Callable[[], Any]]:
    """The installed peers as no-argument calls on ``image``."""
    calls: dict[str, Callable[[], Any]] = {}
    if ndimage is not None:
        calls["scipy"] = lambda: ndimage.correlate(image, kernel, mode="reflect")
        if separable:
            calls["scipy separable"] = lambda: scipy_separable(image, kernel)
    if cv2 is not None:
        kernel32 = kernel.astype(np.float32)
        calls["opencv"] = lambda: cv2.filter2D(image, -1, kernel32, borderType=cv2.BORDER_REFLECT)
    return calls


PEERS: tuple[str, ...] = ("scipy", "scipy separable", "opencv")


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    threads: int
    size: int
    quick: bool
    repeats: int
    peer_budget_s: float
    settle_s: float
    seed: int


@dataclass
class CaseResult:
    case: FilterCase
    kernelkit: Timing
    peers: dict[str, Timing] = field(default_factory=dict)
    rel_diffs: dict[str, float] = field(default_factory=dict)

    def peer_ms(self, peer: str) -> float | None:
        timing = self.peers.get(peer)
        return None if timing is None else timing.min_ms

    def speedup(self, peer: str) -> float | None:
        ms = self.peer_ms(peer)
        return None if ms is None else ms / self.kernelkit.min_ms

    def status(self) -> str:
        rel = self.rel_diffs.get("kernelkit")
        if rel is not None and not within(rel, RTOL):
            return "FAIL: wrong result"
        ratio = self.speedup("scipy")
        if ratio is None:
            return "n/a (no scipy)"
        return "PASS" if ratio >= self.case.target else "MISS"


def run_case(case: FilterCase, image: Array, cfg: Config) -> CaseResult:
    """Time kernelkit and every peer on one kernel; compare every output with scipy's."""
    kernel = case.make_kernel()
    timing, out = measure(
        lambda: kernelkit.filter2d(image, kernel, n_threads=cfg.threads),
        cfg.repeats,
        None,
        cfg.settle_s,
    )
    result = CaseResult(case, timing)
    outputs = {"kernelkit": out}
    for peer, call in peer_calls(image, kernel, case.separable).items():
        result.peers[peer], outputs[peer] = measure(
            call, cfg.repeats, cfg.peer_budget_s, cfg.settle_s
        )
    reference = outputs.get("scipy")
    if reference is not None:
        scale = float(np.max(np.abs(reference)))
        for name, output in outputs.items():
            if name != "scipy":
                result.rel_diffs[name] = max_abs_diff(np.asarray(output), reference) / scale
    return result


def run_benchmark(cfg: Config, log: Callable[[str], None]) -> tuple[Timing, list[CaseResult]]:
    image = np.random.default_rng(cfg.seed).random((cfg.size, cfg.size), dtype=np.float32)
    copy_timing, _ = measure(image.copy, cfg.repeats, None, cfg.settle_s)
    log(f"  copy of the image: {copy_timing.min_ms:.2f} ms")
    results = []
    for case in CASES:
        result = run_case(case, image, cfg)
        results.append(result)
        log(
            f"  {case.name:<8} kernelkit {result.kernelkit.min_ms:8.2f} ms  "
            + "  ".join(f"{p} {fmt_ms(result.peer_ms(p))}" for p in result.peers)
        )
    return copy_timing, results


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def environment(cfg: Config) -> dict[str, Any]:
    return {
        **base_environment(cfg.threads, None),
        "size": cfg.size,
        "quick": cfg.quick,
        "scipy": package_version("scipy"),
        "opencv": package_version("cv2"),
        "repeats": cfg.repeats,
        "peer_budget_s": cfg.peer_budget_s,
        "settle_s": cfg.settle_s,
    }


def header_lines(env: dict[str, Any]) -> list[str]:
    lines = system_lines(
        env,
        "kernelkit n_threads, cv2.setNumThreads, threadpool_limits; scipy.ndimage is "
        "single-threaded",
    )
    lines += [
        f"image: {env['size']}x{env['size']} float32, uniform [0, 1), mode 'reflect'"
        + (" (--quick: smaller than the issue's 2048x2048)" if env["quick"] else ""),
        kernelkit_line(env),
        versions_line(env, [("scipy", "scipy"), ("opencv", "opencv")]),
        *threadpool_lines(env),
        timing_line(env["repeats"], env["peer_budget_s"], env["settle_s"]),
    ]
    return lines


def table_rows(copy: Timing, results: Sequence[CaseResult]) -> tuple[list[str], list[list[str]]]:
    titles = ["case", "kernel", "kk min ms", "kk med ms", "x copy"]
    titles += [f"{p} ms" for p in PEERS] + [f"vs {p}" for p in PEERS]
    titles += ["target", "max rel diff", "status"]
    rows = []
    for r in results:
        cells = [
            r.case.name,
            r.case.label,
            fmt_ms(r.kernelkit.min_ms),
            fmt_ms(r.kernelkit.median_ms),
            f"{r.kernelkit.min_ms / copy.min_ms:.1f}",
        ]
        cells += [fmt_ms(r.peer_ms(p)) for p in PEERS]
        cells += [fmt_ratio(r.speedup(p)) for p in PEERS]
        rel = r.rel_diffs.get("kernelkit")
        cells += [f">= {r.case.target:g}x scipy", "-" if rel is None else f"{rel:.1e}", r.status()]
        rows.append(cells)
    return titles, rows


LEFT_COLUMNS = (0, 1, 11, 13)


def notes(copy: Timing) -> list[str]:
    return [
        "times: minimum wall-clock ms of one call (kernelkit: also the median), output "
        "allocation included; 'vs peer' = peer ms / kernelkit ms (> 1: kernelkit is faster)",
        f"x copy = kernelkit time / the time of x.copy() ({copy.min_ms:.2f} ms), the floor for "
        "reading the image and writing a new one",
        "scipy = scipy.ndimage.correlate with the 2-D kernel (one thread: scipy.ndimage has "
        "none); scipy separable = correlate1d along rows then columns (Gaussian only); "
        "opencv = cv2.filter2D with BORDER_REFLECT (OpenCV switches to a DFT for kernels "
        "of 11x11 and more)",
        f"max rel diff = max |y_kernelkit - y_scipy| / max |y_scipy|; above {RTOL:g} is FAIL",
    ]


def peer_warnings(results: Sequence[CaseResult]) -> list[str]:
    return [
        f"WARNING: {r.case.name}: {name} differs from scipy by {rel:.2g} (relative)"
        for r in results
        for name, rel in r.rel_diffs.items()
        if name != "kernelkit" and not within(rel, RTOL)
    ]


def render_text(env: dict[str, Any], copy: Timing, results: Sequence[CaseResult]) -> str:
    parts = ["# kernelkit filter2d benchmark", *header_lines(env), *report_warnings(env, SCRIPT)]
    parts += ["", text_table(*table_rows(copy, results), left=LEFT_COLUMNS), ""]
    parts += [f"note: {n}" for n in notes(copy)] + peer_warnings(results)
    return "\n".join(parts)


def render_markdown(env: dict[str, Any], copy: Timing, results: Sequence[CaseResult]) -> str:
    parts = ["# kernelkit filter2d benchmark", "", *[f"- {line}" for line in header_lines(env)]]
    for warning in report_warnings(env, SCRIPT):
        parts += ["", "```", warning, "```"]
    parts += ["", markdown_table(*table_rows(copy, results), left=LEFT_COLUMNS), ""]
    parts += [f"- {n}" for n in notes(copy)]
    parts += [f"\n**{w}**" for w in peer_warnings(results)]
    return "\n".join(parts) + "\n"


def json_report(env: dict[str, Any], copy: Timing, results: Sequence[CaseResult]) -> dict[str, Any]:
    return {
        "environment": env,
        "copy": copy.as_dict(),
        "results": [
            {
                "case": r.case.name,
                "kernel": r.case.label,
                "separable": r.case.separable,
                "kernelkit": r.kernelkit.as_dict(),
                "peers": {p: t.as_dict() for p, t in r.peers.items()},
                "speedup": {p: r.speedup(p) for p in r.peers},
                "target_vs_scipy": r.case.target,
                "rel_diff_vs_scipy": r.rel_diffs,
                "status": r.status(),
            }
            for r in results
        ],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time kernelkit.filter2d against scipy.ndimage and OpenCV on a 2048x2048 "
        "float32 image (3x3, 7x7, separable 15x15 Gaussian), in one run."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: a {QUICK_SIZE}x{QUICK_SIZE} image"
    )
    parser.add_argument(
        "--size", type=int, default=None, help=f"image side (default {DEFAULT_SIZE})"
    )
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeats, budget, settle = timing_settings(args, args.quick)
    size = args.size or (QUICK_SIZE if args.quick else DEFAULT_SIZE)
    cfg = Config(args.threads, size, args.quick, repeats, budget, settle, args.seed)
    log_run_warnings(SCRIPT)
    for module, name in ((ndimage, "scipy"), (cv2, "opencv-python")):
        if module is None:
            log_stderr(f"note: {name} is not installed; skipping it")
    if cv2 is not None:
        cv2.setNumThreads(cfg.threads)
    with threadpool_limits(limits=cfg.threads):
        env = environment(cfg)
        log_stderr(f"running {len(CASES)} cases on {size}x{size} with {cfg.threads} threads ...")
        copy, results = run_benchmark(cfg, log_stderr)
    print(render_text(env, copy, results))
    write_reports(
        args.markdown,
        lambda: render_markdown(env, copy, results),
        args.json,
        lambda: json_report(env, copy, results),
    )
    return 1 if any(r.status().startswith("FAIL") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
