"""Benchmark kernelkit's Gram-matrix kernels against scikit-learn, NumPy and PyTorch.

Every kernel (linear, rbf, polynomial, sigmoid, laplacian, cosine, chi2) is timed in one process and
one run, with the same thread count for every peer:

* kernelkit: ``n_threads=T``;
* scikit-learn (``sklearn.metrics.pairwise``, same function) and NumPy: inside
  ``threadpoolctl.threadpool_limits(T)``, which also caps every OpenMP runtime loaded;
* PyTorch (when installed): ``torch.set_num_threads(T)``.

The same run measures the OpenBLAS GEMM ceiling, ``X @ Y.T`` with a distinct ``Y`` on the same
shapes (sgemm for float32, dgemm for float64), and reports kernelkit's linear/rbf GFLOP/s
(``2 n m d / t``) as a percentage of it. Every result is checked against scikit-learn's result of
the same run, so a fast wrong answer cannot look good.

Run ``python bench/bench_gram.py --help`` for the options and bench/README.md for how to run it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_info, threadpool_limits

import kernelkit

Array = NDArray[Any]
KernelParams = dict[str, float]
PeerFunction = Callable[[Any, Any, KernelParams], Any]

KERNELS: tuple[str, ...] = (
    "linear", "rbf", "polynomial", "sigmoid", "laplacian", "cosine", "chi2",
)
PRODUCT_KERNELS: tuple[str, ...] = ("linear", "rbf", "polynomial", "sigmoid", "cosine")
DISTANCE_KERNELS: tuple[str, ...] = ("laplacian", "chi2")
FLOAT64_KERNELS: tuple[str, ...] = ("linear", "rbf", "laplacian", "chi2")
GFLOP_KERNELS: tuple[str, ...] = ("linear", "rbf")
PEERS: tuple[str, ...] = ("sklearn", "numpy", "torch")
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}

SMALL_DIMS: tuple[int, ...] = (16, 64)
LARGE_DIMS: tuple[int, ...] = (16, 64, 1024)
DEFAULT_N = 4000
QUICK_N = 1000
CHUNK_BYTES = 16 * 2**20  # bound on the 3-D temporaries of the chunked NumPy laplacian/chi2
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}  # times max(1, max |K_sklearn|)
SLOW_OPENBLAS_VARS: tuple[str, ...] = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

SKLEARN_NAMES: dict[str, str] = {
    "linear": "linear_kernel",
    "rbf": "rbf_kernel",
    "polynomial": "polynomial_kernel",
    "sigmoid": "sigmoid_kernel",
    "laplacian": "laplacian_kernel",
    "cosine": "cosine_similarity",
    "chi2": "chi2_kernel",
}
KERNELKIT_FUNCTIONS: dict[str, Callable[..., Array]] = {
    "linear": kernelkit.linear_kernel,
    "rbf": kernelkit.rbf_kernel,
    "polynomial": kernelkit.polynomial_kernel,
    "sigmoid": kernelkit.sigmoid_kernel,
    "laplacian": kernelkit.laplacian_kernel,
    "cosine": kernelkit.cosine_similarity,
    "chi2": kernelkit.chi2_kernel,
}


def optional_import(name: str) -> ModuleType | None:
    """The module ``name``, or None when it (or one of its dependencies) is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


torch = optional_import("torch")
sklearn_pairwise = optional_import("sklearn.metrics.pairwise")


# --------------------------------------------------------------------------------------------
# Kernel parameters, shared by every peer
# --------------------------------------------------------------------------------------------


def kernel_params(kernel: str, d: int) -> KernelParams:
    """Explicit parameters for ``kernel``; gamma is 1/d for all (chi2 too, see bench/README.md)."""
    gamma = 1.0 / d
    if kernel in ("linear", "cosine"):
        return {}
    if kernel == "polynomial":
        return {"gamma": gamma, "degree": 3, "coef0": 1.0}
    if kernel == "sigmoid":
        return {"gamma": gamma, "coef0": 1.0}
    return {"gamma": gamma}


# --------------------------------------------------------------------------------------------
# Plain NumPy peers: the best straightforward NumPy version of each kernel
# --------------------------------------------------------------------------------------------


def np_scaled_product(x: Array, y: Array | None, scale: float) -> Array:
    """``scale * X @ Y.T``; with ``Y=None`` it is ``Xs @ Xs.T``, which NumPy runs as syrk."""
    if scale <= 0.0:
        k = x @ (x if y is None else y).T
        k *= scale
        return k
    if y is None:
        xs = x * np.sqrt(scale)
        return xs @ xs.T
    return (x * scale) @ y.T


def np_power_inplace(k: Array, degree: float) -> None:
    """``k **= degree`` with multiplications for the small integer degrees (pow is slow)."""
    if degree == 1:
        return
    if degree == 2:
        np.square(k, out=k)
    elif degree == 3:
        k *= np.square(k)
    else:
        np.power(k, degree, out=k)


def np_linear(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``X @ Y.T`` (``X @ X.T``, i.e. syrk, with ``Y=None``)."""
    return x @ (x if y is None else y).T


def np_rbf(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``exp(2g x.y - g|x|^2 - g|y|^2)`` from one GEMM, the norms, and in-place passes."""
    gamma = p["gamma"]
    k = np_scaled_product(x, y, 2.0 * gamma)
    hx = gamma * np.einsum("ij,ij->i", x, x)
    hy = hx if y is None else gamma * np.einsum("ij,ij->i", y, y)
    k -= hx[:, None]
    k -= hy[None, :]
    np.minimum(k, 0.0, out=k)  # squared distances are >= 0
    np.exp(k, out=k)
    return k


def np_polynomial(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``(g X @ Y.T + c0) ** degree`` in place."""
    k = np_scaled_product(x, y, p["gamma"])
    k += p["coef0"]
    np_power_inplace(k, p["degree"])
    return k


def np_sigmoid(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``tanh(g X @ Y.T + c0)`` in place."""
    k = np_scaled_product(x, y, p["gamma"])
    k += p["coef0"]
    np.tanh(k, out=k)
    return k


def np_normalize_rows(x: Array) -> Array:
    """Rows scaled to unit L2 norm; rows of zeros stay zero (scikit-learn's convention)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1
    return x / norms[:, None]


def np_cosine(x: Array, y: Array | None, p: KernelParams) -> Array:
    """Normalised rows, then one product (syrk with ``Y=None``)."""
    xn = np_normalize_rows(x)
    return xn @ (xn if y is None else np_normalize_rows(y)).T


def row_chunks(n_rows: int, bytes_per_row: int) -> Iterator[slice]:
    """Consecutive row slices whose temporaries stay under ``CHUNK_BYTES``."""
    step = max(1, CHUNK_BYTES // max(1, bytes_per_row))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def np_laplacian(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``exp(-g sum|x - y|)`` by row chunks, with an (rows, m, d) broadcast temporary."""
    other = x if y is None else y
    k = np.empty((x.shape[0], other.shape[0]), dtype=x.dtype)
    for rows in row_chunks(x.shape[0], other.size * x.itemsize):
        diff = x[rows, None, :] - other[None, :, :]
        np.abs(diff, out=diff)
        np.sum(diff, axis=2, out=k[rows])
    k *= -p["gamma"]
    np.exp(k, out=k)
    return k


def np_chi2(x: Array, y: Array | None, p: KernelParams) -> Array:
    """``exp(-g sum (x - y)^2 / (x + y))`` by row chunks; terms with x + y = 0 count 0."""
    other = x if y is None else y
    tiny = np.finfo(x.dtype).tiny  # x, y >= 0: x + y = 0 means x - y = 0, so 0 / tiny = 0
    k = np.empty((x.shape[0], other.shape[0]), dtype=x.dtype)
    for rows in row_chunks(x.shape[0], 2 * other.size * x.itemsize):
        diff = x[rows, None, :] - other[None, :, :]
        total = x[rows, None, :] + other[None, :, :]
        np.square(diff, out=diff)
        np.maximum(total, tiny, out=total)
        np.divide(diff, total, out=diff)
        np.sum(diff, axis=2, out=k[rows])
    k *= -p["gamma"]
    np.exp(k, out=k)
    return k


NUMPY_FUNCTIONS: dict[str, PeerFunction] = {
    "linear": np_linear,
    "rbf": np_rbf,
    "polynomial": np_polynomial,
    "sigmoid": np_sigmoid,
    "laplacian": np_laplacian,
    "cosine": np_cosine,
    "chi2": np_chi2,
}


# --------------------------------------------------------------------------------------------
# PyTorch peers (tensors share memory with the NumPy inputs; no conversion is timed)
# --------------------------------------------------------------------------------------------


def torch_linear(x: Any, y: Any | None, p: KernelParams) -> Any:
    """``X @ Y.T`` (a full GEMM even for ``Y=None``)."""
    return x @ (x if y is None else y).T


def torch_rbf(x: Any, y: Any | None, p: KernelParams) -> Any:
    """``exp(-g cdist(X, Y)^2)`` in place."""
    k = torch.cdist(x, x if y is None else y)
    return k.square_().mul_(-p["gamma"]).exp_()


def torch_laplacian(x: Any, y: Any | None, p: KernelParams) -> Any:
    """``exp(-g cdist(X, Y, p=1))`` in place."""
    k = torch.cdist(x, x if y is None else y, p=1.0)
    return k.mul_(-p["gamma"]).exp_()


def torch_polynomial(x: Any, y: Any | None, p: KernelParams) -> Any:
    """``(g X @ Y.T + c0) ** degree`` in place."""
    k = x @ (x if y is None else y).T
    return k.mul_(p["gamma"]).add_(p["coef0"]).pow_(p["degree"])


def torch_sigmoid(x: Any, y: Any | None, p: KernelParams) -> Any:
    """``tanh(g X @ Y.T + c0)`` in place."""
    k = x @ (x if y is None else y).T
    return k.mul_(p["gamma"]).add_(p["coef0"]).tanh_()


def torch_cosine(x: Any, y: Any | None, p: KernelParams) -> Any:
    """Normalised rows (``F.normalize``), then one product."""
    xn = torch.nn.functional.normalize(x, dim=1)
    yn = xn if y is None else torch.nn.functional.normalize(y, dim=1)
    return xn @ yn.T


TORCH_FUNCTIONS: dict[str, PeerFunction] = {  # no chi2 in PyTorch
    "linear": torch_linear,
    "rbf": torch_rbf,
    "polynomial": torch_polynomial,
    "sigmoid": torch_sigmoid,
    "laplacian": torch_laplacian,
    "cosine": torch_cosine,
}


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall-clock seconds of the timed calls (after one untimed warm-up call)."""

    times_s: list[float]
    warmup_s: float

    @property
    def min_ms(self) -> float:
        return 1e3 * min(self.times_s)

    @property
    def median_ms(self) -> float:
        return 1e3 * statistics.median(self.times_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "times_s": self.times_s, "warmup_s": self.warmup_s,
            "min_ms": self.min_ms, "median_ms": self.median_ms,
        }


def measure(fn: Callable[[], Any], repeats: int, budget_s: float | None,
            settle_s: float) -> tuple[Timing, Any]:
    """Pause, warm up once, then time ``repeats`` calls; return the timing and the warm-up's result.

    The pause lets the worker threads of the previous library go to sleep: OpenBLAS threads
    busy-wait for about 0.1 s after each call and would steal the cores from the next peer.
    With a ``budget_s``, a slow function gets fewer calls: as many as fit in the budget judging by
    the warm-up, but at least one.
    """
    time.sleep(settle_s)
    start = time.perf_counter()
    result = fn()
    warmup = time.perf_counter() - start
    count = repeats
    if budget_s is not None:
        count = max(1, min(repeats, int(budget_s / max(warmup, 1e-9))))
    times = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(times, warmup), result


def gflops(n: int, m: int, d: int, seconds: float) -> float:
    """GFLOP/s of an n x m x d matrix product (2 n m d flops) done in ``seconds``."""
    return 2.0 * n * m * d / seconds / 1e9


# --------------------------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------------------------


def to_numpy(result: Any) -> Array:
    """A NumPy view of a result (PyTorch tensors included)."""
    return result.numpy() if hasattr(result, "numpy") else np.asarray(result)


def max_abs_diff(a: Array, b: Array, rows_per_block: int = 512) -> float:
    """``max |a - b|`` in float64, computed by row blocks to bound memory (NaN if any is NaN)."""
    if a.shape != b.shape:
        return float("inf")
    worst = 0.0
    for start in range(0, a.shape[0], rows_per_block):
        block = np.abs(
            a[start:start + rows_per_block].astype(np.float64)
            - b[start:start + rows_per_block].astype(np.float64)
        )
        worst = max(worst, float(np.max(block, initial=0.0)))
        if np.isnan(worst):
            return worst
    return worst


def tolerance(dtype: str, reference: Array) -> float:
    """Allowed ``max |K - K_sklearn|``: 1e-4 (float32) or 1e-9 (float64) times max(1, max|K|)."""
    return TOLERANCE[dtype] * max(1.0, float(np.max(np.abs(reference), initial=0.0)))


def within(diff: float, tol: float) -> bool:
    """True when ``diff`` is a number no larger than ``tol``."""
    return not np.isnan(diff) and diff <= tol


# --------------------------------------------------------------------------------------------
# Cases and results
# --------------------------------------------------------------------------------------------


@dataclass
class Shape:
    """One input shape: X is (n, d), Y is (m, d) or None (symmetric mode)."""

    dtype: str
    n: int
    d: int
    kernels: list[str]


@dataclass
class GemmCeiling:
    """OpenBLAS ``X @ Y.T`` (distinct Y) on one shape."""

    dtype: str
    n: int
    m: int
    d: int
    timing: Timing

    @property
    def gflops(self) -> float:
        return gflops(self.n, self.m, self.d, min(self.timing.times_s))


@dataclass
class KernelResult:
    """One kernel on one shape: kernelkit's timing, the peers', and the correctness checks."""

    kernel: str
    dtype: str
    n: int
    m: int
    d: int
    kernelkit: Timing
    peers: dict[str, Timing | None] = field(default_factory=dict)
    diffs: dict[str, float] = field(default_factory=dict)
    tol: float = float("nan")
    reference: str = "sklearn"
    gflops: float | None = None
    pct_gemm: float | None = None

    def speedup(self, peer: str) -> float | None:
        timing = self.peers.get(peer)
        return None if timing is None else timing.min_ms / self.kernelkit.min_ms


def default_shapes(kernels: Sequence[str], dtypes: Sequence[str],
                   dims: Sequence[int] | None, n: int) -> list[Shape]:
    """The issue's target cases, restricted to ``kernels`` and ``dtypes`` (``dims`` overrides d)."""
    shapes = []
    for dtype in dtypes:
        default_dims = LARGE_DIMS if dtype == "float32" else SMALL_DIMS
        all_dims = sorted(set(dims)) if dims else list(default_dims)
        for d in all_dims:
            chosen = [k for k in kernels if dims or d in kernel_dims(k, dtype)]
            if chosen:
                shapes.append(Shape(dtype, n, d, chosen))
    return shapes


def kernel_dims(kernel: str, dtype: str) -> tuple[int, ...]:
    """Default feature counts of ``kernel`` in ``dtype`` (none: not a default case)."""
    if dtype == "float64":
        return SMALL_DIMS if kernel in FLOAT64_KERNELS else ()
    return LARGE_DIMS if kernel in PRODUCT_KERNELS else SMALL_DIMS


# --------------------------------------------------------------------------------------------
# Running the benchmark
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    """What to run, from the command line."""

    threads: int
    n: int
    shapes: list[Shape]
    peers: list[str]
    repeats: int
    peer_budget_s: float
    settle_s: float
    with_y: bool
    seed: int


def make_data(shape: Shape, seed: int) -> tuple[Array, Array]:
    """Non-negative uniform [0, 1) data (chi2 needs it): X (n, d) and a distinct Y (n, d)."""
    rng = np.random.default_rng([seed, shape.d, 32 if shape.dtype == "float32" else 64])
    dtype = DTYPES[shape.dtype]
    return rng.random((shape.n, shape.d), dtype=dtype), rng.random((shape.n, shape.d), dtype=dtype)


def available_peers(requested: Sequence[str]) -> list[str]:
    """The requested peers whose packages are installed."""
    missing = {"sklearn": sklearn_pairwise is None, "torch": torch is None, "numpy": False}
    return [peer for peer in requested if not missing[peer]]


def peer_call(peer: str, kernel: str, x: Array, y: Array | None,
              params: KernelParams) -> Callable[[], Any] | None:
    """A no-argument call of ``kernel`` by ``peer`` on (x, y), or None if the peer lacks it."""
    if peer == "sklearn":
        fn = getattr(sklearn_pairwise, SKLEARN_NAMES[kernel])
        return lambda: fn(x, y, **params)
    if peer == "numpy":
        np_fn = NUMPY_FUNCTIONS[kernel]
        return lambda: np_fn(x, y, params)
    if kernel not in TORCH_FUNCTIONS:
        return None
    torch_fn = TORCH_FUNCTIONS[kernel]
    xt = torch.from_numpy(x)
    yt = None if y is None else torch.from_numpy(y)
    return lambda: torch_fn(xt, yt, params)


def measure_gemm(x: Array, y: Array, shape: Shape, cfg: Config) -> GemmCeiling:
    """The OpenBLAS ceiling on this shape: ``X @ Y.T`` with a distinct Y (a full GEMM)."""
    timing, _ = measure(lambda: x @ y.T, cfg.repeats, None, cfg.settle_s)
    return GemmCeiling(shape.dtype, shape.n, y.shape[0], shape.d, timing)


def run_kernel(kernel: str, x: Array, y: Array | None, shape: Shape, cfg: Config,
               gemm: GemmCeiling) -> KernelResult:
    """Time kernelkit and every peer on one kernel and shape; check results against sklearn."""
    params = kernel_params(kernel, shape.d)
    kk_fn = KERNELKIT_FUNCTIONS[kernel]
    kk_timing, kk_result = measure(
        lambda: kk_fn(x, y, **params, n_threads=cfg.threads), cfg.repeats, None, cfg.settle_s
    )
    m = x.shape[0] if y is None else y.shape[0]
    result = KernelResult(kernel, shape.dtype, shape.n, m, shape.d, kk_timing)
    outputs: dict[str, Array] = {"kernelkit": to_numpy(kk_result)}
    del kk_result
    for peer in cfg.peers:
        call = peer_call(peer, kernel, x, y, params)
        if call is None:
            result.peers[peer] = None
            continue
        timing, output = measure(call, cfg.repeats, cfg.peer_budget_s, cfg.settle_s)
        result.peers[peer] = timing
        outputs[peer] = to_numpy(output)
    check_outputs(result, outputs)
    if kernel in GFLOP_KERNELS:
        result.gflops = gflops(shape.n, m, shape.d, min(kk_timing.times_s))
        result.pct_gemm = 100.0 * result.gflops / gemm.gflops
    return result


def check_outputs(result: KernelResult, outputs: dict[str, Array]) -> None:
    """Fill ``result.diffs`` with ``max |K - K_ref|`` for every output; sklearn is the reference.

    NumPy's output is the reference when scikit-learn is not run; with neither, nothing is checked.
    """
    ref_name = next((name for name in ("sklearn", "numpy") if name in outputs), None)
    if ref_name is None:
        result.reference = "none"
        return
    reference = outputs[ref_name]
    result.reference = ref_name
    result.tol = tolerance(result.dtype, reference)
    for name, output in outputs.items():
        if name != ref_name:
            result.diffs[name] = max_abs_diff(output, reference)


def run_benchmark(cfg: Config, log: Callable[[str], None]) -> tuple[list[GemmCeiling],
                                                                    list[KernelResult]]:
    """Every shape: the GEMM ceiling, then each kernel with kernelkit and the peers."""
    ceilings: list[GemmCeiling] = []
    results: list[KernelResult] = []
    for shape in cfg.shapes:
        x, y_distinct = make_data(shape, cfg.seed)
        gemm = measure_gemm(x, y_distinct, shape, cfg)
        ceilings.append(gemm)
        log(f"  {shape.dtype} n={shape.n} d={shape.d}: gemm {gemm.timing.min_ms:.2f} ms "
            f"({gemm.gflops:.1f} GFLOP/s)")
        y = y_distinct if cfg.with_y else None
        for kernel in shape.kernels:
            result = run_kernel(kernel, x, y, shape, cfg, gemm)
            results.append(result)
            log(f"    {kernel:<10} kernelkit {result.kernelkit.min_ms:8.2f} ms  " + "  ".join(
                f"{peer} {fmt_ms(t.min_ms if t else None)}" for peer, t in result.peers.items()
            ))
    return ceilings, results


# --------------------------------------------------------------------------------------------
# Environment description
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def package_version(name: str) -> str:
    """``name.__version__``, or "not installed"."""
    module = optional_import(name)
    return "not installed" if module is None else str(getattr(module, "__version__", "?"))


def torch_blas() -> str | None:
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


def openblas_env_warning() -> str | None:
    """A warning when OpenBLAS tuning variables that slow NumPy down are set in the environment."""
    present = [f"{name}={os.environ[name]}" for name in SLOW_OPENBLAS_VARS if name in os.environ]
    if not present:
        return None
    return (
        f"WARNING: {' '.join(present)} is set; it slows NumPy's OpenBLAS (and so every BLAS-based "
        "peer and the GEMM ceiling). OpenBLAS reads it at load time, so it cannot be undone from "
        "inside Python: rerun as\n"
        "    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_gram.py"
    )


def load_warning() -> str | None:
    """A warning when other processes keep the CPUs busy (the 1-minute load average)."""
    if not hasattr(os, "getloadavg"):
        return None
    load = os.getloadavg()[0]
    if load < 1.0:
        return None
    return (f"WARNING: load average {load:.2f} on {usable_cpus()} CPUs: other processes are "
            "running, so every timing (and every ratio) is noisy; rerun on an idle machine")


def environment(cfg: Config) -> dict[str, Any]:
    """Everything the header shows (call it inside threadpool_limits: it shows the limits)."""
    kk = kernelkit.config()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": cpu_model(),
        "usable_cpus": usable_cpus(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "threads": cfg.threads,
        "mode": "distinct Y (--with-y)" if cfg.with_y else "symmetric (Y=None)",
        "kernelkit": {key: kk.get(key) for key in (
            "version", "simd", "simd_supported", "openmp_runtime", "compiler")},
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": package_version("sklearn"),
        "scipy": package_version("scipy"),
        "torch": package_version("torch"),
        "torch_blas": torch_blas(),
        "threadpools": threadpool_info(),
        "load_warning": load_warning(),
        "openblas_env": {k: os.environ[k] for k in SLOW_OPENBLAS_VARS if k in os.environ},
        "peers": cfg.peers,
        "repeats": cfg.repeats,
        "peer_budget_s": cfg.peer_budget_s,
        "settle_s": cfg.settle_s,
    }


def header_lines(env: dict[str, Any]) -> list[str]:
    """The header of the report, one fact per line."""
    kk = env["kernelkit"]
    load = env["load_average"]
    lines = [
        f"date: {env['date']} on {env['host']}",
        f"cpu: {env['cpu']} ({env['usable_cpus']} usable CPUs"
        + (f", load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})" if load else ")"),
        f"threads: {env['threads']} for every peer (threadpool_limits, torch.set_num_threads, "
        "kernelkit n_threads)",
        f"mode: {env['mode']}",
        f"kernelkit {kk['version']}: simd {kk['simd']} "
        f"(supported {', '.join(kk['simd_supported'])}), "
        f"OpenMP {kk['openmp_runtime']}, {kk['compiler']}",
        f"python {env['python']}, numpy {env['numpy']}, scikit-learn {env['scikit-learn']}, "
        f"scipy {env['scipy']}, torch {env['torch']}"
        + (f" (BLAS {env['torch_blas']})" if env["torch_blas"] else ""),
    ]
    lines += [describe_threadpool(info) for info in env["threadpools"]]
    lines.append(
        f"timing: kernelkit min/median of {env['repeats']} calls after a warm-up; "
        f"peers min of up to {env['repeats']} calls after a warm-up, "
        f"fewer (>= 1) when that exceeds {env['peer_budget_s']:g} s; "
        f"{env['settle_s']:g} s pause before each series"
    )
    return lines


# --------------------------------------------------------------------------------------------
# Reporting
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


def table_rows(results: Sequence[KernelResult], peers: Sequence[str]) -> tuple[list[str],
                                                                                list[list[str]]]:
    """Column titles and cells of the main table."""
    titles = ["kernel", "dtype", "n", "d", "kk min ms", "kk med ms"]
    titles += [f"{peer} ms" for peer in peers]
    titles += [f"vs {peer}" for peer in peers]
    titles += ["GFLOP/s", "% gemm", "max|diff|", "ok"]
    rows = []
    for r in results:
        cells = [r.kernel, r.dtype, str(r.n), str(r.d),
                 fmt_ms(r.kernelkit.min_ms), fmt_ms(r.kernelkit.median_ms)]
        cells += [fmt_ms(t.min_ms if (t := r.peers.get(peer)) else None) for peer in peers]
        cells += [fmt_ratio(r.speedup(peer)) for peer in peers]
        kk_diff = r.diffs.get("kernelkit")
        ok = "-" if kk_diff is None else ("yes" if within(kk_diff, r.tol) else "NO")
        cells += [fmt_opt(r.gflops, ".1f"), fmt_opt(r.pct_gemm, ".0f"), fmt_opt(kk_diff, ".1e"), ok]
        rows.append(cells)
    return titles, rows


def gemm_rows(ceilings: Sequence[GemmCeiling]) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of the GEMM-ceiling table."""
    titles = ["gemm", "dtype", "n", "m", "d", "min ms", "GFLOP/s"]
    rows = [["sgemm" if c.dtype == "float32" else "dgemm", c.dtype, str(c.n), str(c.m), str(c.d),
             fmt_ms(c.timing.min_ms), f"{c.gflops:.1f}"] for c in ceilings]
    return titles, rows


def text_table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width table: text left-aligned in the first two columns, numbers right-aligned."""
    widths = [max(len(t), *(len(r[i]) for r in rows)) if rows else len(t)
              for i, t in enumerate(titles)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(titles), "  ".join("-" * w for w in widths), *map(line, rows)])


def markdown_table(titles: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    align = ["---" if i < 2 else "---:" for i in range(len(titles))]
    return "\n".join("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
                     for cells in [titles, align, *rows])


def check_warnings(results: Sequence[KernelResult]) -> list[str]:
    """One warning per output that differs from the reference by more than the tolerance."""
    warnings = []
    for r in results:
        for name, diff in r.diffs.items():
            if not within(diff, r.tol):
                warnings.append(
                    f"WARNING: {name} {r.kernel} {r.dtype} n={r.n} d={r.d}: "
                    f"max|K - K_{r.reference}| = {diff:.3g} > tolerance {r.tol:.3g}"
                )
    return warnings


def notes(env: dict[str, Any]) -> list[str]:
    """How to read the table."""
    sym = env["mode"].startswith("symmetric")
    return [
        "times are the minimum (kernelkit: also the median) wall-clock ms of one call, output "
        "allocation included; 'vs peer' = peer min / kernelkit min (> 1: kernelkit is faster)",
        "GFLOP/s = 2 n m d / kernelkit min time (nominal flops of the n x m x d product); "
        "% gemm = that / OpenBLAS X @ Y.T GFLOP/s on the same shape and dtype"
        + (" (with Y=None only the triangle is needed, so > 100% is possible; use --with-y to "
           "compare with the GEMM like for like)" if sym else ""),
        "max|diff| = max |K_kernelkit - K_sklearn| of this run (K_numpy without "
        "scikit-learn); ok = within 1e-4 (float32) / "
        "1e-9 (float64) times max(1, max|K_sklearn|)",
        "all kernels use gamma = 1/d (chi2 too, instead of sklearn's 1.0, so that its values "
        "do not all underflow to ~0); polynomial degree 3, coef0 1; sigmoid coef0 1",
    ]


def render_text(env: dict[str, Any], ceilings: Sequence[GemmCeiling],
                results: Sequence[KernelResult]) -> str:
    """The full plain-text report."""
    parts = ["# kernelkit Gram-kernel benchmark", *header_lines(env)]
    parts += [w for w in (openblas_env_warning(), env["load_warning"]) if w is not None]
    parts += ["", "OpenBLAS GEMM ceiling (X @ Y.T, distinct Y):", text_table(*gemm_rows(ceilings))]
    parts += ["", text_table(*table_rows(results, env["peers"])), ""]
    parts += [f"note: {n}" for n in notes(env)]
    parts += check_warnings(results)
    return "\n".join(parts)


def render_markdown(env: dict[str, Any], ceilings: Sequence[GemmCeiling],
                    results: Sequence[KernelResult]) -> str:
    """The full report as Markdown."""
    parts = ["# kernelkit Gram-kernel benchmark", ""]
    parts += [f"- {line}" for line in header_lines(env)]
    for warning in (openblas_env_warning(), env["load_warning"]):
        if warning is not None:
            parts += ["", "```", warning, "```"]
    parts += ["", "## OpenBLAS GEMM ceiling (X @ Y.T, distinct Y)", "",
              markdown_table(*gemm_rows(ceilings))]
    parts += ["", "## Gram kernels", "", markdown_table(*table_rows(results, env["peers"])), ""]
    parts += [f"- {n}" for n in notes(env)]
    if warnings := check_warnings(results):
        parts += ["", *[f"**{w}**" for w in warnings]]
    return "\n".join(parts) + "\n"


def json_report(env: dict[str, Any], ceilings: Sequence[GemmCeiling],
                results: Sequence[KernelResult]) -> dict[str, Any]:
    """Raw timings and the environment, for later analysis."""
    return {
        "environment": env,
        "gemm": [{"dtype": c.dtype, "n": c.n, "m": c.m, "d": c.d, "gflops": c.gflops,
                  **c.timing.as_dict()} for c in ceilings],
        "results": [{
            "kernel": r.kernel, "dtype": r.dtype, "n": r.n, "m": r.m, "d": r.d,
            "params": kernel_params(r.kernel, r.d),
            "kernelkit": r.kernelkit.as_dict(),
            "peers": {p: (t.as_dict() if t else None) for p, t in r.peers.items()},
            "speedup": {p: r.speedup(p) for p in r.peers},
            "reference": r.reference, "max_abs_diff": r.diffs, "tolerance": r.tol,
            "gflops": r.gflops, "pct_gemm": r.pct_gemm,
        } for r in results],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time kernelkit's Gram kernels against scikit-learn, NumPy and PyTorch "
                    "with the same thread count, and the OpenBLAS GEMM ceiling, in one run.",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for every peer (default 2)")
    parser.add_argument("--n", type=int, default=None,
                        help=f"rows of X and Y (default {DEFAULT_N}; {QUICK_N} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: n={QUICK_N}, 5 repeats, shorter budget and pauses "
                             "unless given")
    parser.add_argument("--kernels", nargs="+", choices=KERNELS, default=list(KERNELS),
                        metavar="KERNEL", help=f"subset of {', '.join(KERNELS)}")
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES))
    parser.add_argument("--dims", nargs="+", type=int, default=None,
                        help="feature counts d for every kernel (default: the issue's cases)")
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS),
                        help="peers to time (those not installed are skipped)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls after the warm-up (default 7, 5 with --quick)")
    parser.add_argument("--peer-budget", type=float, default=None, metavar="SECONDS",
                        help="a peer gets fewer repeats (>= 1) when they would exceed this "
                             "(default 2, 0.5 with --quick)")
    parser.add_argument("--settle", type=float, default=None, metavar="SECONDS",
                        help="pause before each series so the previous library's threads sleep "
                             "(default 0.25, 0.1 with --quick)")
    parser.add_argument("--with-y", action="store_true",
                        help="pass a distinct Y instead of Y=None (like-for-like with X @ Y.T)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write Markdown here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw timings here")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    n = args.n if args.n is not None else (QUICK_N if args.quick else DEFAULT_N)
    repeats = args.repeats if args.repeats is not None else (5 if args.quick else 7)
    budget = args.peer_budget if args.peer_budget is not None else (0.5 if args.quick else 2.0)
    settle = args.settle if args.settle is not None else (0.1 if args.quick else 0.25)
    kernels = [k for k in KERNELS if k in args.kernels]
    return Config(
        threads=args.threads, n=n,
        shapes=default_shapes(kernels, args.dtypes, args.dims, n),
        peers=available_peers(args.peers), repeats=repeats,
        peer_budget_s=budget, settle_s=settle, with_y=args.with_y, seed=args.seed,
    )


def log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(args)
    for warning in (openblas_env_warning(), load_warning()):
        if warning is not None:
            log_stderr(warning)
    for peer in sorted(set(args.peers) - set(cfg.peers)):
        log_stderr(f"note: {peer} is not installed; skipping it")
    if not cfg.shapes:
        log_stderr("nothing to run: no default case matches --kernels/--dtypes (try --dims)")
        return 2
    if torch is not None:
        torch.set_num_threads(cfg.threads)
    with threadpool_limits(limits=cfg.threads):
        env = environment(cfg)
        log_stderr(f"running {sum(len(s.kernels) for s in cfg.shapes)} cases on "
                   f"{len(cfg.shapes)} shapes with {cfg.threads} threads ...")
        ceilings, results = run_benchmark(cfg, log_stderr)
    print(render_text(env, ceilings, results))
    if args.markdown is not None:
        args.markdown.write_text(render_markdown(env, ceilings, results), encoding="utf-8")
    if args.json is not None:
        report = json_report(env, ceilings, results)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    kernelkit_off = any(not within(r.diffs.get("kernelkit", 0.0), r.tol) for r in results)
    return 1 if kernelkit_off else 0


if __name__ == "__main__":
    sys.exit(main())
