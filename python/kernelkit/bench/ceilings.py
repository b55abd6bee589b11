"""The machine's ceilings, measured in the same run as the cases they bound.

The FMA peak of kernelkit's active SIMD path (a loop of independent FMAs on every thread), the
OpenBLAS GEMM through NumPy (sgemm/dgemm, square), and the copy bandwidth (``x.copy()`` of an
array larger than the last-level cache: bytes read + written per second).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from .machine import optional_import
from .timing import measure


@dataclass(frozen=True)
class CeilingSizes:
    """How big and how long the ceiling measurements are."""

    gemm_size: int  # square GEMM gemm_size^3
    copy_bytes: int
    fma_seconds: float
    repeats: int


FULL_CEILINGS = CeilingSizes(gemm_size=2048, copy_bytes=128 << 20, fma_seconds=0.3, repeats=5)
QUICK_CEILINGS = CeilingSizes(gemm_size=512, copy_bytes=32 << 20, fma_seconds=0.05, repeats=3)


@dataclass
class Ceilings:
    """The ceilings of one thread count: GFLOP/s per dtype, GB/s."""

    threads: int
    fma_gflops: dict[str, float]
    gemm_gflops: dict[str, float]
    gemm_size: int
    copy_gbps: float

    def roof_gflops(
        self, dtype: str, flops: float, bytes_moved: float, copy_gbps: float | None = None
    ) -> tuple[float, str]:
        """The roofline of a case: min(FMA peak, copy bandwidth x FLOPs per byte) and its name.

        ``copy_gbps``: the copy bandwidth at the case's own size (a case that fits in a cache
        moves its bytes faster than the large copy of these ceilings); default the large one.

        Examples
        --------
        >>> c = Ceilings(2, {"float32": 100.0}, {"float32": 90.0}, 512, copy_gbps=20.0)
        >>> c.roof_gflops("float32", flops=18e6, bytes_moved=8e6)  # a 3x3 filter: 2.25 FLOP/B
        (45.0, 'copy')
        >>> c.roof_gflops("float32", flops=1e9, bytes_moved=1e6)
        (100.0, 'fma')
        """
        compute = self.fma_gflops[dtype]
        bandwidth = self.copy_gbps if copy_gbps is None else copy_gbps
        memory = bandwidth * flops / max(bytes_moved, 1.0)
        return (compute, "fma") if compute <= memory else (memory, "copy")

    def as_dict(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "fma_gflops": self.fma_gflops,
            "gemm_gflops": self.gemm_gflops,
            "gemm_size": self.gemm_size,
            "copy_gbps": self.copy_gbps,
        }


def fma_peak_gflops(dtype: str, threads: int, seconds: float) -> float:
    """GFLOP/s of independent FMAs of kernelkit's SIMD path on ``threads`` threads."""
    return float(_core.fma_peak(dtype == "float64", seconds, threads)) / 1e9


def gemm_gflops(dtype: str, size: int, threads: int, repeats: int) -> float:
    """OpenBLAS ``A @ B`` of two size x size matrices through NumPy, the best of ``repeats``."""
    rng = np.random.default_rng(size)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is None:
        timing, _ = measure(lambda: a @ b, repeats, None, 0.1)
    else:
        with threadpoolctl.threadpool_limits(threads):
            timing, _ = measure(lambda: a @ b, repeats, None, 0.1)
    return 2.0 * size**3 / (timing.min_ms / 1e3) / 1e9


def copy_gbps(nbytes: int, repeats: int) -> float:
    """Bytes read + written per second by ``x.copy()`` of ``nbytes`` (one thread, as NumPy)."""
    x = np.ones(nbytes // 8)
    timing, _ = measure(x.copy, repeats, None, 0.05)
    return 2.0 * x.nbytes / (timing.min_ms / 1e3) / 1e9


def measure_ceilings(dtypes: Sequence[str], threads: int, sizes: CeilingSizes) -> Ceilings:
    """Every ceiling for ``dtypes`` at ``threads`` threads."""
    return Ceilings(
        threads=threads,
        fma_gflops={d: fma_peak_gflops(d, threads, sizes.fma_seconds) for d in dtypes},
        gemm_gflops={d: gemm_gflops(d, sizes.gemm_size, threads, sizes.repeats) for d in dtypes},
        gemm_size=sizes.gemm_size,
        copy_gbps=copy_gbps(sizes.copy_bytes, sizes.repeats),
    )
