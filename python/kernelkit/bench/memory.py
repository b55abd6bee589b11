"""The extra memory of one kernelkit call, measured in a fresh process.

``python -m kernelkit.bench.memory SPEC`` rebuilds the case from its spec (see Case.spec), makes
its inputs, runs one small call so the thread pool exists, gives the memory freed so far back to
the system (glibc's malloc_trim: otherwise the call's buffers could reuse the inputs' freed
temporaries, resident already, unseen), resets the peak resident size to the current one (Linux:
"5" > /proc/self/clear_refs), runs the call once and prints, as JSON, the peak minus the size
before minus the result's own bytes: the scratch, packing buffers and copies the call needed. A
fresh process, so that nothing that earlier calls or other libraries kept (kernelkit's scratch
and result caches included) hides what one call needs.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cases import Case, to_numpy

_PROBE_TIMEOUT_S = 300


@dataclass
class Memory:
    """The extra bytes of one call (None with the error that kept it from being measured)."""

    extra_bytes: int | None
    method: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"extra_bytes": self.extra_bytes, "method": self.method, "error": self.error}


def _status_kib() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def _case_from_spec(spec: dict[str, Any]) -> Case:
    module_name, _, class_name = spec["class"].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["fields"].items()}
    case: Case = cls(**fields)
    return case


def _release_freed_heap() -> None:
    """Hand the memory freed so far (the inputs' temporaries) back to the system (glibc's
    malloc_trim; elsewhere nothing), so that the call's own buffers cannot reuse resident pages
    unseen."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def probe(spec: dict[str, Any], threads: int, seed: int) -> dict[str, Any]:
    """Run in the fresh process: one call of the case, measured as the module docstring says."""
    from ..pairwise import linear_kernel

    case = _case_from_spec(spec)
    call = case.kernelkit(case.inputs(seed), threads)
    linear_kernel(np.ones((2, 2)), n_threads=threads)  # the pool's threads and their stacks
    _release_freed_heap()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")
    before = _status_kib()["VmRSS"]
    result_bytes = to_numpy(call()).nbytes
    peak = _status_kib()["VmHWM"]
    extra = max(0, 1024 * (peak - before) - result_bytes)
    return {"extra_bytes": extra, "method": "VmHWM after - VmRSS before - result bytes"}


def measure_memory(case: Case, threads: int, seed: int) -> Memory:
    """The extra memory of one kernelkit call of ``case`` (a fresh ``python -m`` process)."""
    argument = json.dumps({"spec": case.spec(), "threads": threads, "seed": seed})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", __name__, argument],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Memory(None, error=f"the probe did not run: {exc}")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Memory(None, error=f"the probe exited with {proc.returncode}: {tail}")
    report = json.loads(lines[-1])
    return Memory(int(report["extra_bytes"]), report["method"])


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    print(json.dumps(probe(request["spec"], request["threads"], request["seed"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
