"""The gram suite: kernelkit's Gram kernels against scikit-learn, NumPy, SciPy and PyTorch.

The NumPy peers are the best straightforward NumPy of each kernel (no Numba, no C): one BLAS
product and in-place epilogues for the product kernels, row chunks with a bounded broadcast
temporary for laplacian and chi2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .. import pairwise
from .cases import Array, Call, Case, Methods, Suite, random_generator, register

Params = dict[str, float]
PeerFunction = Callable[[Any, Any, Params], Any]

CHUNK_BYTES = 16 << 20  # bound on the 3-D temporaries of the chunked NumPy laplacian / chi2


# -- NumPy ---------------------------------------------------------------------------------------
def numpy_scaled_product(x: Array, y: Array, scale: float) -> Array:
    """``scale * X @ Y.T``, the scale folded into the smaller operand before the product."""
    return (x * scale) @ y.T


def numpy_linear(x: Array, y: Array, p: Params) -> Array:
    return x @ y.T


def numpy_rbf(x: Array, y: Array, p: Params) -> Array:
    """``exp(2g x.y - g|x|^2 - g|y|^2)`` from one GEMM, the row norms, in-place passes."""
    gamma = p["gamma"]
    k = numpy_scaled_product(x, y, 2.0 * gamma)
    k -= gamma * np.einsum("ij,ij->i", x, x)[:, None]
    k -= gamma * np.einsum("ij,ij->i", y, y)[None, :]
    np.minimum(k, 0.0, out=k)  # squared distances are >= 0
    np.exp(k, out=k)
    return k


def numpy_sq_distances(x: Array, y: Array) -> Array:
    """``|x - y|^2`` from one GEMM and the row norms (clipped at 0 against rounding)."""
    k = numpy_scaled_product(x, y, -2.0)
    k += np.einsum("ij,ij->i", x, x)[:, None]
    k += np.einsum("ij,ij->i", y, y)[None, :]
    np.maximum(k, 0.0, out=k)
    return k


def numpy_matern(x: Array, y: Array, p: Params) -> Array:
    """Matern's closed forms for nu 1.5 and 2.5 of ``r = |x - y| / length_scale``."""
    r = np.sqrt(numpy_sq_distances(x, y))
    r *= np.sqrt(2.0 * p["nu"]) / p["length_scale"]  # sqrt(3) r or sqrt(5) r
    polynomial = 1.0 + r if p["nu"] == 1.5 else 1.0 + r + np.square(r) / 3.0
    np.negative(r, out=r)
    np.exp(r, out=r)
    r *= polynomial
    return r


def numpy_rational_quadratic(x: Array, y: Array, p: Params) -> Array:
    """``(1 + |x - y|^2 / (2 alpha length_scale^2)) ** -alpha``."""
    k = numpy_sq_distances(x, y)
    k *= 1.0 / (2.0 * p["alpha"] * p["length_scale"] ** 2)
    k += 1.0
    np.power(k, -p["alpha"], out=k)
    return k


def numpy_polynomial(x: Array, y: Array, p: Params) -> Array:
    k = numpy_scaled_product(x, y, p["gamma"])
    k += p["coef0"]
    k *= np.square(k)  # degree 3 by multiplications: np.power is far slower
    return k


def numpy_sigmoid(x: Array, y: Array, p: Params) -> Array:
    k = numpy_scaled_product(x, y, p["gamma"])
    k += p["coef0"]
    return np.tanh(k, out=k)


def numpy_unit_rows(x: Array) -> Array:
    """Rows scaled to unit L2 norm; rows of zeros stay zero (scikit-learn's convention)."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    norms[norms == 0] = 1
    unit: Array = x / norms[:, None]
    return unit


def numpy_cosine(x: Array, y: Array, p: Params) -> Array:
    return numpy_unit_rows(x) @ numpy_unit_rows(y).T


def row_chunks(n_rows: int, bytes_per_row: int) -> Iterator[slice]:
    """Consecutive row slices whose temporaries stay under CHUNK_BYTES."""
    step = max(1, CHUNK_BYTES // max(1, bytes_per_row))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def numpy_laplacian(x: Array, y: Array, p: Params) -> Array:
    """``exp(-g sum |x - y|)`` by row chunks of an (rows, m, d) broadcast temporary."""
    k = np.empty((x.shape[0], y.shape[0]), dtype=x.dtype)
    for rows in row_chunks(x.shape[0], y.size * x.itemsize):
        diff = x[rows, None, :] - y[None, :, :]
        np.abs(diff, out=diff)
        np.sum(diff, axis=2, out=k[rows])
    k *= -p["gamma"]
    return np.exp(k, out=k)


def numpy_chi2(x: Array, y: Array, p: Params) -> Array:
    """``exp(-g sum (x - y)^2 / (x + y))`` by row chunks; terms with x + y = 0 count 0."""
    tiny = np.finfo(x.dtype).tiny  # x, y >= 0: x + y = 0 means x - y = 0, and 0 / tiny = 0
    k = np.empty((x.shape[0], y.shape[0]), dtype=x.dtype)
    for rows in row_chunks(x.shape[0], 2 * y.size * x.itemsize):
        diff = x[rows, None, :] - y[None, :, :]
        total = x[rows, None, :] + y[None, :, :]
        np.square(diff, out=diff)
        np.maximum(total, tiny, out=total)
        np.divide(diff, total, out=diff)
        np.sum(diff, axis=2, out=k[rows])
    k *= -p["gamma"]
    return np.exp(k, out=k)


# -- PyTorch (tensors share memory with the NumPy inputs: no conversion is timed) ---------------
def torch_linear(x: Any, y: Any, p: Params) -> Any:
    return x @ y.T


def torch_rbf(x: Any, y: Any, p: Params) -> Any:
    import torch

    return torch.cdist(x, y).square_().mul_(-p["gamma"]).exp_()


def torch_laplacian(x: Any, y: Any, p: Params) -> Any:
    import torch

    return torch.cdist(x, y, p=1.0).mul_(-p["gamma"]).exp_()


def torch_polynomial(x: Any, y: Any, p: Params) -> Any:
    return (x @ y.T).mul_(p["gamma"]).add_(p["coef0"]).pow_(3)


def torch_sigmoid(x: Any, y: Any, p: Params) -> Any:
    return (x @ y.T).mul_(p["gamma"]).add_(p["coef0"]).tanh_()


def torch_cosine(x: Any, y: Any, p: Params) -> Any:
    import torch

    normalize = torch.nn.functional.normalize
    return normalize(x, dim=1) @ normalize(y, dim=1).T


# -- SciPy (scipy.spatial.distance.cdist, one core) ----------------------------------------------
def scipy_rbf(x: Array, y: Array, p: Params) -> Array:
    from scipy.spatial.distance import cdist

    k: Array = cdist(x, y, "sqeuclidean")
    k *= -p["gamma"]
    return np.exp(k, out=k)


def scipy_laplacian(x: Array, y: Array, p: Params) -> Array:
    from scipy.spatial.distance import cdist

    k: Array = cdist(x, y, "cityblock")
    k *= -p["gamma"]
    return np.exp(k, out=k)


def scipy_cosine(x: Array, y: Array, p: Params) -> Array:
    from scipy.spatial.distance import cdist

    k: Array = 1.0 - cdist(x, y, "cosine")
    return k


@dataclass(frozen=True)
class GramKernel:
    """One Gram kernel's peers and its FLOPs per (row of X, row of Y, feature): 2 for the
    product kernels (one FMA); 3 for laplacian (sub, abs, add) and 5 for chi2 (sub, add, mul,
    div, add), counted as floating-point operations. Its function name, kernelkit's and
    scikit-learn's, is the spec's (kernelkit.pairwise.KERNEL_SPECS)."""

    numpy: PeerFunction
    torch: PeerFunction | None
    scipy: PeerFunction | None
    flops_per_term: int = 2
    sklearn_gp: str | None = None  # scikit-learn's kernel object (sklearn.gaussian_process)


KERNELS: dict[str, GramKernel] = {
    "linear": GramKernel(numpy_linear, torch_linear, None),
    "rbf": GramKernel(numpy_rbf, torch_rbf, scipy_rbf),
    "polynomial": GramKernel(numpy_polynomial, torch_polynomial, None),
    "sigmoid": GramKernel(numpy_sigmoid, torch_sigmoid, None),
    "cosine": GramKernel(numpy_cosine, torch_cosine, scipy_cosine),
    "laplacian": GramKernel(numpy_laplacian, torch_laplacian, scipy_laplacian, 3),
    "chi2": GramKernel(numpy_chi2, None, None, 5),
    "matern": GramKernel(numpy_matern, None, None, sklearn_gp="Matern"),
    "rational_quadratic": GramKernel(
        numpy_rational_quadratic, None, None, sklearn_gp="RationalQuadratic"
    ),
}


@dataclass(frozen=True)
class GramCase(Case):
    """``kernel(X, Y)`` with X (n, d) and a distinct Y (m, d), uniform [0, 1) data (chi2 needs
    x >= 0); gamma = 1/d for every kernel that has one (polynomial degree 3, coef0 1)."""

    kernel: str = "rbf"
    n: int = 1
    m: int = 1
    d: int = 1
    nu: float = 1.5  # matern's

    suite = "gram"

    @property
    def description(self) -> str:
        nu = f" nu={self.nu:g}" if self.kernel == "matern" else ""
        return f"{self.kernel}{nu} {self.n}x{self.m} d={self.d}"

    @property
    def flops(self) -> float:
        return float(KERNELS[self.kernel].flops_per_term * self.n * self.m * self.d)

    @property
    def bytes_moved(self) -> int:
        return (self.n * self.d + self.m * self.d + self.n * self.m) * np.dtype(self.dtype).itemsize

    @property
    def function(self) -> str:
        """kernelkit's and scikit-learn's name of the kernel's function."""
        return pairwise.KERNEL_SPECS[self.kernel].function

    @property
    def params(self) -> Params:
        if self.kernel == "matern":
            return {"length_scale": float(np.sqrt(self.d)), "nu": self.nu}
        if self.kernel == "rational_quadratic":
            return {"length_scale": float(np.sqrt(self.d)), "alpha": 1.5}
        if self.kernel in ("linear", "cosine"):
            return {}
        if self.kernel == "polynomial":
            return {"gamma": 1.0 / self.d, "degree": 3, "coef0": 1.0}
        if self.kernel == "sigmoid":
            return {"gamma": 1.0 / self.d, "coef0": 1.0}
        return {"gamma": 1.0 / self.d}

    def inputs(self, seed: int) -> tuple[Array, Array]:
        rng = random_generator(seed, self)
        return rng.random((self.n, self.d)).astype(self.dtype), rng.random((self.m, self.d)).astype(
            self.dtype
        )

    def kernelkit(self, inputs: tuple[Array, Array], threads: int) -> Call:
        x, y = inputs
        function = getattr(pairwise, self.function)
        params = self.params
        return lambda: function(x, y, **params, n_threads=threads)

    def peer_methods(self, peer: str, module: ModuleType, inputs: Any, threads: int) -> Methods:
        x, y = inputs
        params = self.params
        kernel = KERNELS[self.kernel]
        if peer == "sklearn" and kernel.sklearn_gp is not None:
            from sklearn.gaussian_process import kernels

            gp_kernel = getattr(kernels, kernel.sklearn_gp)(**params)
            return {kernel.sklearn_gp: lambda: gp_kernel(x, y)}
        if peer == "sklearn":
            function = getattr(module, self.function)
            return {self.function: lambda: function(x, y, **params)}
        if peer == "torch" and kernel.torch is not None:
            xt, yt, fn = module.from_numpy(x), module.from_numpy(y), kernel.torch
            return {fn.__name__.removeprefix("torch_"): lambda: fn(xt, yt, params)}
        by_peer = {"numpy": kernel.numpy, "scipy": kernel.scipy}
        chosen = by_peer.get(peer)
        if chosen is None:
            return {}
        return {"cdist" if peer == "scipy" else "matmul/broadcast": lambda: chosen(x, y, params)}


FULL_CASES: tuple[GramCase, ...] = (
    *(GramCase(f"{k}-4000-d64", kernel=k, n=4000, m=4000, d=64) for k in KERNELS if k != "matern"),
    *(
        GramCase(f"matern-{nu}-4000-d64", kernel="matern", n=4000, m=4000, d=64, nu=nu)
        for nu in (1.5, 2.5)
    ),
    GramCase("rbf-4000-d1024", kernel="rbf", n=4000, m=4000, d=1024),
    GramCase("rbf-4000-d64", "float64", kernel="rbf", n=4000, m=4000, d=64),
    GramCase("linear-4000-d64", "float64", kernel="linear", n=4000, m=4000, d=64),
)
QUICK_CASES: tuple[GramCase, ...] = tuple(
    GramCase(f"{k}-300-d32", kernel=k, n=300, m=300, d=32) for k in ("rbf", "laplacian", "chi2")
)

SUITE = register(
    Suite(
        "gram",
        "Gram kernels (X (n, d), distinct Y (m, d))",
        lambda quick: QUICK_CASES if quick else FULL_CASES,
        ("numpy", "sklearn", "scipy", "torch"),
    )
)
