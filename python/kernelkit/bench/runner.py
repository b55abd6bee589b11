"""Running the cases: ceilings, correctness checks, interleaved timing, memory; the results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .cases import Case, Suite, relative_difference, suite_cases, to_numpy
from .ceilings import Ceilings, CeilingSizes, copy_gbps, measure_ceilings
from .memory import Memory, measure_memory
from .peers import LoadedPeers
from .timing import Timing, TimingSettings, interleaved


@dataclass
class MethodResult:
    """One way a peer computes the case: its timing and how far its result is from kernelkit's."""

    timing: Timing
    rel_diff: float
    matches: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.timing.as_dict(), "rel_diff": self.rel_diff, "matches": self.matches}


@dataclass
class PeerResult:
    """A peer on one case: every method it has, and the fastest of them (the one reported)."""

    methods: dict[str, MethodResult]

    @property
    def best_method(self) -> str:
        return min(self.methods, key=lambda name: self.methods[name].timing.min_ms)

    @property
    def best(self) -> MethodResult:
        return self.methods[self.best_method]

    @property
    def matches(self) -> bool:
        return all(m.matches for m in self.methods.values())


@dataclass
class CaseResult:
    """One case at one thread count."""

    case: Case
    threads: int
    kernelkit: Timing | None = None
    peers: dict[str, PeerResult] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # peer -> why it did not run
    error: str | None = None  # why the case itself failed
    unavailable: str | None = None  # why it could not run here (an optional package missing)
    memory: Memory | None = None
    ceilings: Ceilings | None = None
    copy_gbps: float | None = None  # x.copy() of the case's own size: its memory roof

    @property
    def gflops(self) -> float | None:
        flops = self.case.flops
        if flops is None or self.kernelkit is None:
            return None
        return flops / (self.kernelkit.min_ms / 1e3) / 1e9

    def speedup(self, peer: str) -> float | None:
        """Peer min time / kernelkit min time (> 1: kernelkit is faster)."""
        if peer not in self.peers or self.kernelkit is None:
            return None
        return self.peers[peer].best.timing.min_ms / self.kernelkit.min_ms

    @property
    def roof(self) -> tuple[float, str] | None:
        """The ceiling that bounds the case (GFLOP/s) and its name, "fma" or "copy"."""
        flops = self.case.flops
        if flops is None or self.ceilings is None:
            return None
        case = self.case
        return self.ceilings.roof_gflops(case.dtype, flops, case.bytes_moved, self.copy_gbps)

    def percent_of(self, gflops: float | None) -> float | None:
        mine = self.gflops
        return None if mine is None or not gflops else 100.0 * mine / gflops

    @property
    def matches(self) -> bool:
        return all(p.matches for p in self.peers.values())


ProgressHook = Callable[[str], None]


def run_case(
    case: Case,
    threads: int,
    peers: LoadedPeers,
    suite: Suite,
    settings: TimingSettings,
    seed: int,
    progress: ProgressHook,
) -> CaseResult:
    """Check kernelkit against every method of every peer, then time them all in rounds."""
    result = CaseResult(case, threads)
    try:
        inputs = case.inputs(seed)
        kernelkit = case.kernelkit(inputs, threads)
        reference = to_numpy(kernelkit())
    except ImportError as exc:  # the framework that writes the case's model file, say
        result.unavailable = first_line(exc)
        return result
    except Exception as exc:
        result.error = first_line(exc)
        return result
    calls = {"kernelkit": kernelkit}
    diffs: dict[tuple[str, str], float] = {}
    for name in suite.peers:
        if name not in peers.modules:
            result.skipped[name] = peers.missing.get(name, "not requested")
            continue
        try:
            methods = case.peer_methods(name, peers.modules[name], inputs, threads)
            for method, call in methods.items():
                diffs[name, method] = relative_difference(call(), reference)
                calls[f"{name}/{method}"] = call
        except Exception as exc:  # onnxruntime has no float64 Conv, say
            result.skipped[name] = first_line(exc)
            continue
        if not methods:
            result.skipped[name] = f"{name} has no equivalent of this case"
    del reference
    timings = interleaved(calls, settings, on_series=lambda: progress(case.name))
    if case.bytes_moved:
        result.copy_gbps = copy_gbps(case.bytes_moved // 2, settings.repeats)
    result.kernelkit = timings.pop("kernelkit")
    for key, timing in timings.items():
        name, _, method = key.partition("/")
        diff = diffs[name, method]
        checked = MethodResult(timing, diff, diff <= case.tolerance)
        result.peers.setdefault(name, PeerResult({})).methods[method] = checked
    return result


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"


def series_count(case_count: int, peer_count: int, settings: TimingSettings) -> int:
    """Timed series of a run (for the progress bar): kernelkit and ~2 methods per peer."""
    return case_count * (1 + peer_count) * settings.rounds


@dataclass
class RunPlan:
    """What a run does: suites and their cases, thread counts, peers, timing and sizes."""

    suites: list[Suite]
    cases: dict[str, list[Case]]
    threads: list[int]
    peers: LoadedPeers
    timing: TimingSettings
    ceiling_sizes: CeilingSizes
    seed: int = 0
    memory: bool = True

    @classmethod
    def build(
        cls,
        suites: Sequence[Suite],
        quick: bool,
        dtype: str | None,
        threads: Sequence[int],
        peers: LoadedPeers,
        timing: TimingSettings,
        ceiling_sizes: CeilingSizes,
        seed: int = 0,
        memory: bool = True,
    ) -> RunPlan:
        cases = {s.name: suite_cases(s, quick, dtype) for s in suites}
        return cls(list(suites), cases, list(threads), peers, timing, ceiling_sizes, seed, memory)

    @property
    def dtypes(self) -> list[str]:
        return sorted({c.dtype for cases in self.cases.values() for c in cases})

    def total_series(self) -> int:
        count = 0
        for suite in self.suites:
            active = [p for p in suite.peers if p in self.peers.modules]
            count += series_count(len(self.cases[suite.name]), 2 * len(active), self.timing)
        return count * len(self.threads)


def run_plan(
    plan: RunPlan, progress: ProgressHook, status: Callable[[str], None]
) -> tuple[list[Ceilings], list[CaseResult]]:
    """Every thread count: its ceilings, then every case of every suite; then the memory."""
    all_ceilings, results = [], []
    for threads in plan.threads:
        status(f"ceilings at {threads} thread(s)")
        ceilings = measure_ceilings(plan.dtypes, threads, plan.ceiling_sizes)
        all_ceilings.append(ceilings)
        with plan.peers.threads(threads):
            for suite in plan.suites:
                for case in plan.cases[suite.name]:
                    status(f"{suite.name} {case.name} ({case.dtype}), {threads} thread(s)")
                    result = run_case(
                        case, threads, plan.peers, suite, plan.timing, plan.seed, progress
                    )
                    result.ceilings = ceilings
                    results.append(result)
    if plan.memory:
        probe_memory(results, max(plan.threads), plan.seed, status)
    return all_ceilings, results


def probe_memory(
    results: Sequence[CaseResult], threads: int, seed: int, status: Callable[[str], None]
) -> None:
    """The extra memory of one kernelkit call of each case, at the run's largest thread count."""
    for result in results:
        ran = result.kernelkit is not None
        if result.threads == threads and ran and result.case.probe_memory:
            status(f"memory of one call: {result.case.name} ({result.case.dtype})")
            result.memory = measure_memory(result.case, threads, seed)
