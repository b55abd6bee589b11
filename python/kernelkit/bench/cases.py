"""The case registry: what a benchmark case is, and the suites that list them.

A case says what it computes (its FLOPs and the bytes it must move, for GFLOP/s and the roofline),
builds its inputs, and gives the call of kernelkit and of each peer on them. A suite is a named
list of cases (a full list and a ``--quick`` one) and the peers that have something to run.
A new case is one entry in its suite's list; a new suite is one :func:`register` call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]
Call = Callable[[], Any]
#: peer methods of a case: method name -> a no-argument call on the case's inputs
Methods = dict[str, Call]

#: max |kernelkit - peer| / max |peer| above which a result is reported as differing
TOLERANCE: dict[str, float] = {"float32": 1e-3, "float64": 1e-9}
DTYPES: tuple[str, ...] = ("float32", "float64")


@dataclass(frozen=True)
class Case:
    """One benchmark case. Subclasses add their shape fields and implement the methods."""

    name: str
    dtype: str = "float32"

    suite: ClassVar[str] = ""

    @property
    def description(self) -> str:
        return self.name

    @property
    def flops(self) -> float | None:
        """Floating-point operations of one call (None where they are not defined)."""
        return None

    @property
    def bytes_moved(self) -> int:
        """Bytes one call must read and write at least (inputs and output)."""
        return 0

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.dtype]

    @property
    def probe_memory(self) -> bool:
        """Whether the extra memory of one call is measured (in a fresh process)."""
        return True

    def inputs(self, seed: int) -> Any:
        """The case's input arrays (and whatever else its calls need)."""
        raise NotImplementedError

    def kernelkit(self, inputs: Any, threads: int) -> Call:
        """kernelkit's call on ``inputs`` with ``threads`` threads."""
        raise NotImplementedError

    def peer_methods(self, peer: str, module: ModuleType, inputs: Any, threads: int) -> Methods:
        """The peer's ways of computing the same result (empty: the peer has none)."""
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """The fields that rebuild this case in another process (see memory.py)."""
        return {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "fields": dataclasses.asdict(self),
        }


@dataclass(frozen=True)
class Suite:
    """A named list of cases: ``cases(quick)`` gives the full or the ``--quick`` list."""

    name: str
    title: str
    cases: Callable[[bool], Sequence[Case]]
    peers: tuple[str, ...]
    unit: str = "GFLOP/s"  # what the plot shows: GFLOP/s, or ms where FLOPs are not defined


SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    SUITES[suite.name] = suite
    return suite


def suite_cases(suite: Suite, quick: bool, dtype: str | None) -> list[Case]:
    """The suite's cases; with ``dtype``, each in that dtype instead (duplicates dropped)."""
    cases = list(suite.cases(quick))
    if dtype is None:
        return cases
    if dtype not in DTYPES:
        raise ValueError(f"--dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    return list(dict.fromkeys(dataclasses.replace(c, dtype=dtype) for c in cases))


def relative_difference(result: Any, reference: Array) -> float:
    """``max |result - reference| / max |reference|`` in float64 (inf for another shape)."""
    got = to_numpy(result)
    if got.shape != reference.shape:
        return float("inf")
    scale = float(np.max(np.abs(reference), initial=0.0)) or 1.0
    diff = np.abs(got.astype(np.float64) - reference.astype(np.float64))
    return float(np.max(diff, initial=0.0)) / scale


def to_numpy(result: Any) -> Array:
    """A NumPy array of a result (PyTorch tensors included)."""
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    return np.asarray(result)


def random_generator(seed: int, case: Case) -> np.random.Generator:
    """A generator for ``case``'s data: the same inputs for the same seed, case and dtype."""
    return np.random.default_rng([seed, *map(ord, f"{case.suite}/{case.name}")])
