"""Benchmark kernelkit's Gram-matrix kernels against scikit-learn, NumPy and PyTorch.

Every kernel (linear, rbf, polynomial, sigmoid, laplacian, cosine, chi2, and the Gaussian-process
kernels matern with nu 1.5 and 2.5 and rational_quadratic against scikit-learn's kernel objects) is
timed in one process and one run, with the same thread count for every peer:

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
import sys
from collections.abc import Callable, Iterator, Sequence
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
    fmt_opt,
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
    to_numpy,
    versions_line,
    within,
    write_reports,
)

KernelParams = dict[str, float]
PeerFunction = Callable[[Any, Any, KernelParams], Any]

KERNELS: tuple[str, ...] = (
    "linear",
    "rbf",
    "polynomial",
    "sigmoid",
    "laplacian",
    "cosine",
    "chi2",
    "matern_1.5",
    "matern_2.5",
    "rational_quadratic",
)
# The Gaussian-process kernels, against scikit-learn's kernel objects (sklearn.gaussian_process):
# bench name -> kernelkit kernel and scikit-learn class.
GP_KERNELS: dict[str, tuple[str, str]] = {
    "matern_1.5": ("matern", "Matern"),
    "matern_2.5": ("matern", "Matern"),
    "rational_quadratic": ("rational_quadratic", "RationalQuadratic"),
}
PRODUCT_KERNELS: tuple[str, ...] = ("linear", "rbf", "polynomial", "sigmoid", "cosine")
DISTANCE_KERNELS: tuple[str, ...] = ("laplacian", "chi2")
FLOAT64_KERNELS: tuple[str, ...] = ("linear", "rbf", "laplacian", "chi2", *GP_KERNELS)
GFLOP_KERNELS: tuple[str, ...] = ("linear", "rbf")
PEERS: tuple[str, ...] = ("sklearn", "numpy", "torch")
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}

SMALL_DIMS: tuple[int, ...] = (16, 64)
LARGE_DIMS: tuple[int, ...] = (16, 64, 1024)
DEFAULT_N = 4000
QUICK_N = 1000
CHUNK_BYTES = 16 * 2**20  # bound on the 3-D temporaries of the chunked NumPy laplacian/chi2
TOLERANCE = {"float32": 1e-4, "float64": 1e-9}  # times max(1, max |K_sklearn|)
SCRIPT = "bench/bench_gram.py"

# kernelkit's functions have scikit-learn's names (the spec's function, KERNEL_SPECS).
SKLEARN_NAMES: dict[str, str] = {
    k: kernelkit.pairwise.KERNEL_SPECS[GP_KERNELS[k][0] if k in GP_KERNELS else k].function
    for k in KERNELS
}
KERNELKIT_FUNCTIONS: dict[str, Callable[..., Array]] = {
    k: getattr(kernelkit, name) for k, name in SKLEARN_NAMES.items()
}


torch = optional_import("torch")
sklearn_pairwise = optional_import("sklearn.metrics.pairwise")
sklearn_gp = optional_import("sklearn.gaussian_process.kernels")


# --------------------------------------------------------------------------------------------
# Kernel parameters, shared by every peer
# --------------------------------------------------------------------------------------------


def kernel_params(kernel: str, d: int) -> KernelParams:
    """Explicit parameters for ``kernel``; gamma is 1/d for all (chi2 too, see bench/README.md)."""
    gamma = 1.0 / d
    if kernel.startswith("matern_"):
        return {"length_scale": float(np.sqrt(d)), "nu": float(kernel.split("_")[1])}
    if kernel == "rational_quadratic":
        return {"length_scale": float(np.sqrt(d)), "alpha": 1.5}
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


def gflops(n: int, m: int, d: int, seconds: float) -> float:
    """GFLOP/s of an n x m x d matrix product (2 n m d flops) done in ``seconds``."""
    return 2.0 * n * m * d / seconds / 1e9


# --------------------------------------------------------------------------------------------
# Correctness
# --------------------------------------------------------------------------------------------


def tolerance(dtype: str, reference: Array) -> float:
    """Allowed ``max |K - K_sklearn|``: 1e-4 (float32) or 1e-9 (float64) times max(1, max|K|)."""
    return TOLERANCE[dtype] * max(1.0, float(np.max(np.abs(reference), initial=0.0)))


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


def default_shapes(
    kernels: Sequence[str], dtypes: Sequence[str], dims: Sequence[int] | None, n: int
) -> list[Shape]:
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


def peer_call(
    peer: str, kernel: str, x: Array, y: Array | None, params: KernelParams
) -> Callable[[], Any] | None:
    """A no-argument call of ``kernel`` by ``peer`` on (x, y), or None if the peer lacks it."""
    if peer == "sklearn" and kernel in GP_KERNELS:
        gp_kernel = getattr(sklearn_gp, GP_KERNELS[kernel][1])(**params)
        return lambda: gp_kernel(x, y)
    if peer == "sklearn":
        fn = getattr(sklearn_pairwise, SKLEARN_NAMES[kernel])
        return lambda: fn(x, y, **params)
    if peer == "numpy" and kernel not in NUMPY_FUNCTIONS:
        return None
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


def run_kernel(
    kernel: str, x: Array, y: Array | None, shape: Shape, cfg: Config, gemm: GemmCeiling
) -> KernelResult:
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


def run_benchmark(
    cfg: Config, log: Callable[[str], None]
) -> tuple[list[GemmCeiling], list[KernelResult]]:
    """Every shape: the GEMM ceiling, then each kernel with kernelkit and the peers."""
    ceilings: list[GemmCeiling] = []
    results: list[KernelResult] = []
    for shape in cfg.shapes:
        x, y_distinct = make_data(shape, cfg.seed)
        gemm = measure_gemm(x, y_distinct, shape, cfg)
        ceilings.append(gemm)
        log(
            f"  {shape.dtype} n={shape.n} d={shape.d}: gemm {gemm.timing.min_ms:.2f} ms "
            f"({gemm.gflops:.1f} GFLOP/s)"
        )
        y = y_distinct if cfg.with_y else None
        for kernel in shape.kernels:
            result = run_kernel(kernel, x, y, shape, cfg, gemm)
            results.append(result)
            log(
                f"    {kernel:<10} kernelkit {result.kernelkit.min_ms:8.2f} ms  "
                + "  ".join(
                    f"{peer} {fmt_ms(t.min_ms if t else None)}" for peer, t in result.peers.items()
                )
            )
    return ceilings, results


# --------------------------------------------------------------------------------------------
# Environment description
# --------------------------------------------------------------------------------------------


def environment(cfg: Config) -> dict[str, Any]:
    """Everything the header shows (call it inside threadpool_limits: it shows the limits)."""
    return {
        **base_environment(cfg.threads, torch),
        "mode": "distinct Y (--with-y)" if cfg.with_y else "symmetric (Y=None)",
        "scikit-learn": package_version("sklearn"),
        "scipy": package_version("scipy"),
        "peers": cfg.peers,
        "repeats": cfg.repeats,
        "peer_budget_s": cfg.peer_budget_s,
        "settle_s": cfg.settle_s,
    }


def header_lines(env: dict[str, Any]) -> list[str]:
    """The header of the report, one fact per line."""
    lines = system_lines(env, "threadpool_limits, torch.set_num_threads, kernelkit n_threads")
    lines += [
        f"mode: {env['mode']}",
        kernelkit_line(env),
        versions_line(env, [("scikit-learn", "scikit-learn"), ("scipy", "scipy")]),
    ]
    lines += threadpool_lines(env)
    lines.append(timing_line(env["repeats"], env["peer_budget_s"], env["settle_s"]))
    return lines


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def table_rows(
    results: Sequence[KernelResult], peers: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of the main table."""
    titles = ["kernel", "dtype", "n", "d", "kk min ms", "kk med ms"]
    titles += [f"{peer} ms" for peer in peers]
    titles += [f"vs {peer}" for peer in peers]
    titles += ["GFLOP/s", "% gemm", "max|diff|", "ok"]
    rows = []
    for r in results:
        cells = [
            r.kernel,
            r.dtype,
            str(r.n),
            str(r.d),
            fmt_ms(r.kernelkit.min_ms),
            fmt_ms(r.kernelkit.median_ms),
        ]
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
    rows = [
        [
            "sgemm" if c.dtype == "float32" else "dgemm",
            c.dtype,
            str(c.n),
            str(c.m),
            str(c.d),
            fmt_ms(c.timing.min_ms),
            f"{c.gflops:.1f}",
        ]
        for c in ceilings
    ]
    return titles, rows


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
        + (
            " (with Y=None only the triangle is needed, so > 100% is possible; use --with-y to "
            "compare with the GEMM like for like)"
            if sym
            else ""
        ),
        "max|diff| = max |K_kernelkit - K_sklearn| of this run (K_numpy without "
        "scikit-learn); ok = within 1e-4 (float32) / "
        "1e-9 (float64) times max(1, max|K_sklearn|)",
        "all kernels use gamma = 1/d (chi2 too, instead of sklearn's 1.0, so that its values "
        "do not all underflow to ~0); polynomial degree 3, coef0 1; sigmoid coef0 1; "
        "matern and rational_quadratic (alpha 1.5) length_scale sqrt(d), scikit-learn's "
        "peer its kernel object (Matern, RationalQuadratic), which computes in float64",
    ]


def render_text(
    env: dict[str, Any], ceilings: Sequence[GemmCeiling], results: Sequence[KernelResult]
) -> str:
    """The full plain-text report."""
    parts = ["# kernelkit Gram-kernel benchmark", *header_lines(env)]
    parts += report_warnings(env, SCRIPT)
    parts += ["", "OpenBLAS GEMM ceiling (X @ Y.T, distinct Y):", text_table(*gemm_rows(ceilings))]
    parts += ["", text_table(*table_rows(results, env["peers"])), ""]
    parts += [f"note: {n}" for n in notes(env)]
    parts += check_warnings(results)
    return "\n".join(parts)


def render_markdown(
    env: dict[str, Any], ceilings: Sequence[GemmCeiling], results: Sequence[KernelResult]
) -> str:
    """The full report as Markdown."""
    parts = ["# kernelkit Gram-kernel benchmark", ""]
    parts += [f"- {line}" for line in header_lines(env)]
    for warning in report_warnings(env, SCRIPT):
        parts += ["", "```", warning, "```"]
    parts += [
        "",
        "## OpenBLAS GEMM ceiling (X @ Y.T, distinct Y)",
        "",
        markdown_table(*gemm_rows(ceilings)),
    ]
    parts += ["", "## Gram kernels", "", markdown_table(*table_rows(results, env["peers"])), ""]
    parts += [f"- {n}" for n in notes(env)]
    if warnings := check_warnings(results):
        parts += ["", *[f"**{w}**" for w in warnings]]
    return "\n".join(parts) + "\n"


def json_report(
    env: dict[str, Any], ceilings: Sequence[GemmCeiling], results: Sequence[KernelResult]
) -> dict[str, Any]:
    """Raw timings and the environment, for later analysis."""
    return {
        "environment": env,
        "gemm": [
            {
                "dtype": c.dtype,
                "n": c.n,
                "m": c.m,
                "d": c.d,
                "gflops": c.gflops,
                **c.timing.as_dict(),
            }
            for c in ceilings
        ],
        "results": [
            {
                "kernel": r.kernel,
                "dtype": r.dtype,
                "n": r.n,
                "m": r.m,
                "d": r.d,
                "params": kernel_params(r.kernel, r.d),
                "kernelkit": r.kernelkit.as_dict(),
                "peers": {p: (t.as_dict() if t else None) for p, t in r.peers.items()},
                "speedup": {p: r.speedup(p) for p in r.peers},
                "reference": r.reference,
                "max_abs_diff": r.diffs,
                "tolerance": r.tol,
                "gflops": r.gflops,
                "pct_gemm": r.pct_gemm,
            }
            for r in results
        ],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time kernelkit's Gram kernels against scikit-learn, NumPy and PyTorch "
        "with the same thread count, and the OpenBLAS GEMM ceiling, in one run.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help=f"rows of X and Y (default {DEFAULT_N}; {QUICK_N} with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: n={QUICK_N}, 5 repeats, shorter budget and pauses unless given",
    )
    parser.add_argument(
        "--kernels",
        nargs="+",
        choices=KERNELS,
        default=list(KERNELS),
        metavar="KERNEL",
        help=f"subset of {', '.join(KERNELS)}",
    )
    parser.add_argument("--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES))
    parser.add_argument(
        "--dims",
        nargs="+",
        type=int,
        default=None,
        help="feature counts d for every kernel (default: the issue's cases)",
    )
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=PEERS,
        default=list(PEERS),
        help="peers to time (those not installed are skipped)",
    )
    parser.add_argument(
        "--with-y",
        action="store_true",
        help="pass a distinct Y instead of Y=None (like-for-like with X @ Y.T)",
    )
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    n = args.n if args.n is not None else (QUICK_N if args.quick else DEFAULT_N)
    repeats, budget, settle = timing_settings(args, args.quick)
    kernels = [k for k in KERNELS if k in args.kernels]
    return Config(
        threads=args.threads,
        n=n,
        shapes=default_shapes(kernels, args.dtypes, args.dims, n),
        peers=available_peers(args.peers),
        repeats=repeats,
        peer_budget_s=budget,
        settle_s=settle,
        with_y=args.with_y,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(args)
    log_run_warnings(SCRIPT)
    for peer in sorted(set(args.peers) - set(cfg.peers)):
        log_stderr(f"note: {peer} is not installed; skipping it")
    if not cfg.shapes:
        log_stderr("nothing to run: no default case matches --kernels/--dtypes (try --dims)")
        return 2
    if torch is not None:
        torch.set_num_threads(cfg.threads)
    with threadpool_limits(limits=cfg.threads):
        env = environment(cfg)
        log_stderr(
            f"running {sum(len(s.kernels) for s in cfg.shapes)} cases on "
            f"{len(cfg.shapes)} shapes with {cfg.threads} threads ..."
        )
        ceilings, results = run_benchmark(cfg, log_stderr)
    print(render_text(env, ceilings, results))
    write_reports(
        args.markdown,
        lambda: render_markdown(env, ceilings, results),
        args.json,
        lambda: json_report(env, ceilings, results),
    )
    kernelkit_off = any(not within(r.diffs.get("kernelkit", 0.0), r.tol) for r in results)
    return 1 if kernelkit_off else 0


if __name__ == "__main__":
    sys.exit(main())
