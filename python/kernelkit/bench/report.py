"""A run's results as JSON (see schema.py), as table cells, and as Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cases import Suite
from .ceilings import Ceilings
from .runner import CaseResult, PeerResult, RunPlan

SCHEMA_VERSION = 1
MIB = 1 << 20


@dataclass
class Report:
    """Everything one run produced: the plan, the machine, the ceilings and the results."""

    command: str
    quick: bool
    plan: RunPlan
    machine: dict[str, Any]
    ceilings: list[Ceilings]
    results: list[CaseResult]

    @property
    def ok(self) -> bool:
        """No kernelkit result differs from a peer's, and no case failed to run."""
        return all(r.matches and r.error is None for r in self.results)

    def suite_results(self, suite: Suite, threads: int) -> list[CaseResult]:
        return [r for r in self.results if r.case.suite == suite.name and r.threads == threads]

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "quick": self.quick,
            "suites": [s.name for s in self.plan.suites],
            "threads": self.plan.threads,
            "timing": self.plan.timing.as_dict(),
            "machine": self.machine,
            "peers": {
                "loaded": sorted(self.plan.peers.modules),
                "missing": self.plan.peers.missing,
            },
            "ceilings": [c.as_dict() for c in self.ceilings],
            "results": [result_dict(r) for r in self.results],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=1, default=str) + "\n", encoding="utf-8")


def peer_dict(peer: PeerResult, result: CaseResult, name: str) -> dict[str, Any]:
    best = peer.best
    return {
        "method": peer.best_method,
        "min_ms": best.timing.min_ms,
        "median_ms": best.timing.median_ms,
        "speedup": result.speedup(name),
        "matches": peer.matches,
        "methods": {m: r.as_dict() for m, r in peer.methods.items()},
    }


def result_dict(result: CaseResult) -> dict[str, Any]:
    case, roof = result.case, result.roof
    ceilings = result.ceilings
    return {
        "suite": case.suite,
        "case": case.name,
        "description": case.description,
        "dtype": case.dtype,
        "threads": result.threads,
        "flops": case.flops,
        "bytes_moved": case.bytes_moved,
        "kernelkit": None if result.kernelkit is None else result.kernelkit.as_dict(),
        "gflops": result.gflops,
        "copy_gbps": result.copy_gbps,
        "bound": None if roof is None else roof[1],
        "bound_gflops": None if roof is None else roof[0],
        "pct_of_bound": None if roof is None else result.percent_of(roof[0]),
        "pct_of_fma": None
        if ceilings is None
        else result.percent_of(ceilings.fma_gflops.get(case.dtype)),
        "pct_of_gemm": None
        if ceilings is None
        else result.percent_of(ceilings.gemm_gflops.get(case.dtype)),
        "extra_memory": None if result.memory is None else result.memory.as_dict(),
        "peers": {name: peer_dict(p, result, name) for name, p in result.peers.items()},
        "skipped": result.skipped,
        "error": result.error,
        "unavailable": result.unavailable,
        "matches": result.matches,
    }


# -- table cells (the terminal and the Markdown tables show the same) ---------------------------
def fmt_ms(value: float) -> str:
    """Milliseconds with three significant digits."""
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def fmt_memory(result: CaseResult) -> str:
    memory = result.memory
    if memory is None:
        return "-"
    return "error" if memory.extra_bytes is None else f"{memory.extra_bytes / MIB:.1f}"


def peer_cell(result: CaseResult, name: str) -> str:
    """``12.3 (4.10x)``: the peer's best min ms and kernelkit's speed-up over it; ``!`` marks a
    result that differs from kernelkit's."""
    peer = result.peers.get(name)
    if peer is None:
        return "-"
    speedup = result.speedup(name)
    mark = "" if peer.matches else " !"
    return f"{fmt_ms(peer.best.timing.min_ms)} ({speedup:.2f}x){mark}"


def kernelkit_cells(result: CaseResult) -> list[str]:
    if result.kernelkit is None:
        return ["error" if result.error else "not run", "-", "-", "-"]
    roof = result.roof
    pct = result.percent_of(roof[0]) if roof else None
    return [
        f"{fmt_ms(result.kernelkit.min_ms)} / {fmt_ms(result.kernelkit.median_ms)}",
        "-" if result.gflops is None else f"{result.gflops:.1f}",
        "-" if pct is None or roof is None else f"{pct:.0f}% {roof[1]}",
        fmt_memory(result),
    ]


def suite_table(suite: Suite, results: Sequence[CaseResult]) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of one suite's table at one thread count."""
    peers = [p for p in suite.peers if any(p in r.peers for r in results)]
    titles = ["case", "shape", "dtype", "kernelkit ms (min / median)", "GFLOP/s"]
    titles += ["% of ceiling", "extra MiB", *(f"{p} ms (speed-up)" for p in peers)]
    rows = [
        [r.case.name, r.case.description, r.case.dtype, *kernelkit_cells(r)]
        + [peer_cell(r, p) for p in peers]
        for r in results
    ]
    return titles, rows


def ceiling_table(ceilings: Sequence[Ceilings]) -> tuple[list[str], list[list[str]]]:
    titles = ["threads", "dtype", "FMA peak GFLOP/s", "GEMM GFLOP/s", "copy GB/s"]
    rows = [
        [
            str(c.threads),
            dtype,
            f"{c.fma_gflops[dtype]:.1f}",
            f"{c.gemm_gflops[dtype]:.1f}",
            f"{c.copy_gbps:.1f}",
        ]
        for c in ceilings
        for dtype in c.fma_gflops
    ]
    return titles, rows


def scaling_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """kernelkit's min ms at each thread count and the speed-up over the fewest threads."""
    counts = report.plan.threads
    titles = ["suite", "case", "dtype", *(f"{t} thr ms" for t in counts)]
    titles.append(f"speed-up {counts[-1]} vs {counts[0]}")
    rows = []
    for key, by_threads in scaling_series(report).items():
        times = [by_threads.get(t) for t in counts]
        cells = [*key, *("-" if ms is None else fmt_ms(ms) for ms in times)]
        first, last = times[0], times[-1]
        cells.append("-" if first is None or last is None else f"{first / last:.2f}x")
        rows.append(cells)
    return titles, rows


def scaling_series(report: Report) -> dict[tuple[str, str, str], dict[int, float]]:
    """(suite, case, dtype) -> {threads: kernelkit min ms}."""
    series: dict[tuple[str, str, str], dict[int, float]] = {}
    for r in report.results:
        if r.kernelkit is not None:
            key = (r.case.suite, r.case.name, r.case.dtype)
            series.setdefault(key, {})[r.threads] = r.kernelkit.min_ms
    return series


def notes(report: Report, results: Sequence[CaseResult]) -> list[str]:
    """Why peers were skipped, which NumPy method was faster, and errors."""
    lines = []
    for r in results:
        label = f"{r.case.name} ({r.case.dtype})"
        if r.error:
            lines.append(f"{label}: failed: {r.error}")
        if r.unavailable:
            lines.append(f"{label}: not run: {r.unavailable}")
        lines += [
            f"{label}: {name} differs from kernelkit"
            for name, p in r.peers.items()
            if not p.matches
        ]
        for name, reason in r.skipped.items():
            if name in report.plan.peers.modules:  # the missing ones are listed once
                lines.append(f"{label}: {name} skipped: {reason}")
        numpy = r.peers.get("numpy")
        if numpy is not None and len(numpy.methods) > 1:
            lines.append(f"{label}: numpy's faster method: {numpy.best_method}")
    return lines


def machine_lines(report: Report) -> list[str]:
    m = report.machine
    load = m["load_average"]
    loaded = [
        f"{n} {m['libraries'].get(n) or '?'}" for n in sorted(m["libraries"]) if m["libraries"][n]
    ]
    lines = [
        f"date: {m['date']} on {m['hostname']}",
        f"command: {report.command}",
        f"cpu: {m['cpu_model']}, {m['usable_cpus']} usable of {m['cores']} CPUs, caches "
        + ", ".join(f"{k} {v}" for k, v in m["caches"].items()),
        f"kernelkit {m['kernelkit']}: SIMD path {m['simd_path']} "
        f"(supported: {', '.join(m['simd_supported'])}), {m['compiler']}",
        "libraries: " + ", ".join(loaded),
        f"threads: {', '.join(map(str, report.plan.threads))} (kernelkit n_threads, threadpoolctl "
        "for NumPy/SciPy/scikit-learn, torch.set_num_threads, onnxruntime intra_op_num_threads, "
        "cv2.setNumThreads)",
        timing_line(report),
    ]
    if load:
        lines.append(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    lines += [f"WARNING: {w}" for w in m["warnings"]]
    lines += [f"{name} skipped: {why}" for name, why in report.plan.peers.missing.items()]
    return lines


def timing_line(report: Report) -> str:
    t = report.plan.timing
    return (
        f"timing: {t.rounds} interleaved rounds (kernelkit, then each peer) of {t.repeats} calls "
        f"after {t.as_dict()['warmup_s'] * 1e3:g} ms of warm-up and a {t.settle_s:g} s pause; "
        f"a peer gets fewer calls (>= 1) beyond {t.peer_budget_s:g} s; min and median over all "
        "rounds; speed-up = peer min / kernelkit min"
    )


LEGEND = (
    "% of ceiling: kernelkit's GFLOP/s against the roofline of the case, the lower of the FMA "
    "peak of its SIMD path ('fma') and the copy bandwidth at its size times its FLOPs per byte "
    "('copy'); "
    "extra MiB: memory one kernelkit call needs beyond its inputs and result (a fresh process); "
    "'!': the peer's result differs from kernelkit's beyond the tolerance"
)


def markdown_table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; the first three columns left-aligned, the rest right."""
    align = ["---" if i < 3 else "---:" for i in range(len(titles))]
    return "\n".join(
        "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
        for cells in [titles, align, *rows]
    )


def markdown(report: Report) -> str:
    """The whole report as Markdown."""
    parts = ["# kernelkit bench", "", *(f"- {line}" for line in machine_lines(report)), ""]
    parts += ["## Ceilings", "", markdown_table(*ceiling_table(report.ceilings)), ""]
    for suite in report.plan.suites:
        for threads in report.plan.threads:
            results = report.suite_results(suite, threads)
            parts += [f"## {suite.title}, {threads} thread(s)", ""]
            parts += [markdown_table(*suite_table(suite, results)), ""]
            parts += [f"- {line}" for line in notes(report, results)]
            parts.append("")
    if len(report.plan.threads) > 1:
        parts += ["## Thread scaling (kernelkit)", "", markdown_table(*scaling_table(report)), ""]
    parts += [LEGEND, ""]
    return "\n".join(parts)
