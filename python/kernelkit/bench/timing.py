"""Timing of one call: a pause, a warm-up, timed calls; interleaved rounds of several calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Untimed calls go on for at least this long before the timed ones: after a pause the cores
#: run at a low clock for a few milliseconds, so one short warm-up call is not enough (batch-1
#: layers of 0.05-0.6 ms were timed at 2-8x their speed with a single warm-up call).
WARMUP_S = 0.02


@dataclass
class Timing:
    """Wall-clock seconds of the timed calls of one function (every round's, in order).

    Examples
    --------
    >>> timing = Timing([0.003, 0.001, 0.002]).merged(Timing([0.004]))
    >>> timing.min_ms, timing.median_ms
    (1.0, 2.5)
    """

    times_s: list[float] = field(default_factory=list)

    @property
    def min_ms(self) -> float:
        return 1e3 * min(self.times_s)

    @property
    def median_ms(self) -> float:
        return 1e3 * statistics.median(self.times_s)

    def merged(self, other: Timing) -> Timing:
        """This series followed by a later one of the same call."""
        return Timing(self.times_s + other.times_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_ms": self.min_ms,
            "median_ms": self.median_ms,
            "times_ms": [1e3 * t for t in self.times_s],
        }


@dataclass(frozen=True)
class TimingSettings:
    """How long each series runs.

    ``repeats`` timed calls after the warm-up; a peer slower than ``peer_budget_s / repeats``
    gets fewer (at least one); ``settle_s`` of sleep before each series; ``rounds`` of
    kernelkit-then-every-peer series per case.
    """

    repeats: int
    rounds: int
    peer_budget_s: float
    settle_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "repeats": self.repeats,
            "rounds": self.rounds,
            "peer_budget_s": self.peer_budget_s,
            "settle_s": self.settle_s,
            "warmup_s": WARMUP_S,
        }


FULL_TIMING = TimingSettings(repeats=7, rounds=3, peer_budget_s=1.0, settle_s=0.2)
QUICK_TIMING = TimingSettings(repeats=3, rounds=2, peer_budget_s=0.15, settle_s=0.02)


def measure(
    fn: Callable[[], Any], repeats: int, budget_s: float | None, settle_s: float
) -> tuple[Timing, Any]:
    """Pause, warm up for WARMUP_S (at least one call), then time ``repeats`` calls; return the
    timing and the first call's result.

    The pause lets the previous library's worker threads go to sleep: OpenBLAS and onnxruntime
    threads spin for a while after each call and would steal the cores from the next one. With
    a ``budget_s``, a slow function gets as many calls as fit in it judging by the first call,
    but at least one.
    """
    time.sleep(settle_s)
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    while time.perf_counter() - start < WARMUP_S:
        fn()
    count = repeats
    if budget_s is not None:
        count = max(1, min(repeats, int(budget_s / max(first, 1e-9))))
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(times), result


def interleaved(
    calls: Mapping[str, Callable[[], Any]],
    settings: TimingSettings,
    unbudgeted: str = "kernelkit",
    on_series: Callable[[], None] | None = None,
) -> dict[str, Timing]:
    """Time every call in ``settings.rounds`` rounds: each round times one series of each, in
    order, so a burst of outside load hits every library's minimum alike. The ``unbudgeted``
    call always gets all repeats; ``on_series`` is called after each series (progress)."""
    timings: dict[str, Timing] = {name: Timing() for name in calls}
    for _ in range(settings.rounds):
        for name, call in calls.items():
            budget = None if name == unbudgeted else settings.peer_budget_s
            series, _ = measure(call, settings.repeats, budget, settings.settle_s)
            timings[name] = timings[name].merged(series)
            if on_series is not None:
                on_series()
    return timings
