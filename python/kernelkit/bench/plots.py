"""Plots of a run (matplotlib's object API): grouped bars per suite with the ceiling drawn as a
line over each case's group, and kernelkit's thread scaling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .cases import Suite
from .peers import PEER_NAMES
from .report import Report, scaling_series
from .runner import CaseResult

_BAR_GROUP_WIDTH = 0.8
#: one colour per library in every figure (matplotlib's default cycle, in registry order)
_COLOURS = dict(zip(["kernelkit", *PEER_NAMES], (f"C{i}" for i in range(10))))


def _value(result: CaseResult, peer: str, unit: str) -> float | None:
    """GFLOP/s (or ms) of kernelkit (``peer == "kernelkit"``) or of a peer's best method."""
    if peer == "kernelkit":
        timing = result.kernelkit
    else:
        timing = result.peers[peer].best.timing if peer in result.peers else None
    if timing is None:
        return None
    if unit == "ms" or result.case.flops is None:
        return timing.min_ms
    return result.case.flops / (timing.min_ms / 1e3) / 1e9


def draw_suite(axes: Axes, suite: Suite, results: Sequence[CaseResult]) -> None:
    """Grouped bars: one group per case, one bar per library; the bounding ceiling as a line."""
    libraries = ["kernelkit", *(p for p in suite.peers if any(p in r.peers for r in results))]
    width = _BAR_GROUP_WIDTH / len(libraries)
    positions = np.arange(len(results))
    for index, library in enumerate(libraries):
        values = [_value(r, library, suite.unit) for r in results]
        heights = [np.nan if v is None else v for v in values]
        offset = (index - (len(libraries) - 1) / 2) * width
        axes.bar(positions + offset, heights, width, label=library, color=_COLOURS[library])
    if suite.unit != "ms":
        draw_ceilings(axes, positions.tolist(), results)
    labels = [f"{r.case.name}\n{r.case.dtype}" for r in results]
    # Many cases' names side by side overlap: slanted, each ends under its bars.
    slanted = {"rotation": 30, "ha": "right"} if len(results) > 8 else {}
    axes.set_xticks(positions, labels, fontsize=7, **slanted)
    axes.set_yscale("log")
    axes.set_ylabel("ms (lower is better)" if suite.unit == "ms" else "GFLOP/s (higher is better)")
    axes.set_title(f"{suite.title}, {results[0].threads} thread(s)" if results else suite.title)
    axes.legend(fontsize=7)


def draw_ceilings(axes: Axes, positions: Sequence[float], results: Sequence[CaseResult]) -> None:
    """The roofline of each case as a line across its group of bars."""
    half = _BAR_GROUP_WIDTH / 2
    for position, result in zip(positions, results):
        roof = result.roof
        if roof is not None:
            axes.hlines(roof[0], position - half, position + half, colors="black", linewidths=1.5)
    axes.plot([], [], color="black", label="ceiling (FMA peak or copy roofline)")


def bars_figure(report: Report) -> Figure:
    """One row of axes per suite, at the run's largest thread count."""
    threads = max(report.plan.threads)
    suites = [s for s in report.plan.suites if report.suite_results(s, threads)]
    figure = Figure(figsize=(11, 3.6 * max(1, len(suites))), layout="constrained")
    for axes, suite in zip(figure.subplots(len(suites), 1, squeeze=False)[:, 0], suites):
        draw_suite(axes, suite, report.suite_results(suite, threads))
    return figure


def scaling_figure(report: Report) -> Figure:
    """kernelkit's speed-up over its time at the fewest threads, per case, and the ideal line."""
    counts = report.plan.threads
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    for (suite, case, dtype), by_threads in scaling_series(report).items():
        xs = [t for t in counts if t in by_threads]
        if xs:
            base = by_threads[xs[0]]
            axes.plot(
                xs, [base / by_threads[t] for t in xs], marker="o", label=f"{suite} {case} {dtype}"
            )
    axes.plot(counts, [t / counts[0] for t in counts], "k--", label="ideal")
    axes.set_xticks(counts)
    axes.set_xlabel("threads")
    axes.set_ylabel(f"speed-up over {counts[0]} thread(s)")
    axes.set_title("kernelkit thread scaling")
    axes.legend(fontsize=6, ncol=2)
    return figure


def scaling_path(path: Path) -> Path:
    """Where the thread-scaling plot of ``--plot path`` goes: ``<stem>-threads<suffix>``."""
    return path.with_name(f"{path.stem}-threads{path.suffix}")


def write_plots(report: Report, path: Path) -> list[Path]:
    """The bar chart at ``path`` and, with several thread counts, the scaling plot beside it."""
    bars_figure(report).savefig(path, dpi=110)
    written = [path]
    if len(report.plan.threads) > 1:
        scaling_figure(report).savefig(scaling_path(path), dpi=110)
        written.append(scaling_path(path))
    return written
