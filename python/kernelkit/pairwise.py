"""Gram-matrix (SVM) kernels with scikit-learn's ``sklearn.metrics.pairwise`` API.

Every function takes the same arguments, defaults and output conventions as its scikit-learn
namesake, so ``from kernelkit import rbf_kernel`` can replace ``from sklearn.metrics.pairwise import
rbf_kernel``. On top of that each takes keyword-only ``n_threads`` (``None``: OpenMP's current
maximum; negative: counted back from the cores) and ``out`` (a preallocated C-contiguous result).

dtypes: float32 inputs (X and Y both) give float32; everything else is computed in float64.
``Y=None`` (or ``Y is X``) computes ``K(X, X)`` once per pair and mirrors it: the result is exactly
symmetric.

Non-finite values and extreme magnitudes: every result is what IEEE arithmetic gives for the
kernel's definition evaluated directly, whatever faster form computes it. A NaN feature makes its
row (and with ``Y=None`` its column) NaN. An Inf feature puts a row infinitely far from every
finite row: rbf and laplacian give exactly 0 there, and NaN where inf - inf occurs (an Inf of the
same sign in the same feature of both rows, as on the diagonal of such a row). Where the definition
meets inf / inf or 0 * inf the result is NaN: cosine of a row holding Inf (its diagonal too), chi2
and additive_chi2 of a feature with an infinite x or y, the products of linear, polynomial and
sigmoid with inf * 0. Finite inputs whose squared norms, products or sums overflow or underflow the
dtype still give the exact finite result of rbf, cosine, chi2 and additive_chi2 (those rows are
recomputed from the definition, or scaled by powers of two). linear, polynomial and sigmoid
accumulate ``<x, y>`` in the result dtype, as the definition in that dtype does: in float32 it
overflows to inf beyond 3.4e38, even where ``gamma * <x, y>`` would not.

Subnormal numbers (float32 below 1.2e-38, float64 below 2.2e-308) count as zero inside the call,
in the inputs, in gamma and coef0 as the result dtype holds them, and in every intermediate result,
so that they cannot slow the kernels down (flush-to-zero and denormals-are-zero, on every thread of
the call; the caller's floating-point mode is restored afterwards): a result below the smallest
normal number comes out as 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._threads import resolve_n_threads
from ._validation import check_out, real_number

__all__ = [
    "additive_chi2_kernel",
    "chi2_kernel",
    "cosine_similarity",
    "laplacian_kernel",
    "linear_kernel",
    "pairwise_kernels",
    "polynomial_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
]

FloatArray = NDArray[Union[np.float32, np.float64]]


def _as_matrix(a: ArrayLike, name: str) -> NDArray[Any]:
    if hasattr(a, "toarray") and type(a).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name}: sparse matrices are not supported; pass {name}.toarray()")
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n_samples, n_features), "
            f"got shape {arr.shape}; "
            "reshape with .reshape(-1, 1) for one feature or .reshape(1, -1) for one sample"
        )
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex input is not supported")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: cannot convert dtype {arr.dtype} to float64") from None
    return arr


def _check_pair(
    X: ArrayLike, Y: ArrayLike | None
) -> tuple[NDArray[Any], NDArray[Any] | None, type[np.floating[Any]]]:
    """Validate X and Y; return C-contiguous float arrays and Y=None when K(X, X) is asked for."""
    symmetric = Y is None or Y is X
    x = _as_matrix(X, "X")
    y = None if symmetric else _as_matrix(Y, "Y")  # type: ignore[arg-type]
    if x.shape[1] == 0:
        raise ValueError("X: 0 features; at least one is required")
    if y is not None and y.shape[1] != x.shape[1]:
        raise ValueError(
            f"Y: incompatible dimension for X and Y matrices: X.shape[1] == {x.shape[1]} "
            f"while Y.shape[1] == {y.shape[1]}"
        )
    both_f32 = x.dtype == np.float32 and (y is None or y.dtype == np.float32)
    dtype: type[np.floating[Any]] = np.float32 if both_f32 else np.float64
    x = np.ascontiguousarray(x, dtype=dtype)
    if y is not None:
        y = np.ascontiguousarray(y, dtype=dtype)
    return x, y, dtype


def _gamma(gamma: float | None, n_features: int) -> float:
    if gamma is None:
        return 1.0 / n_features
    try:
        return float(gamma)
    except (TypeError, ValueError):
        raise TypeError(f"gamma: expected a real number or None, got {gamma!r}") from None


def _gram(
    kind: str,
    X: ArrayLike,
    Y: ArrayLike | None,
    *,
    out: NDArray[Any] | None,
    n_threads: int | None,
    gamma: float | None = None,
    coef0: float = 0.0,
    degree: float = 1.0,
    nonnegative: bool = False,
) -> FloatArray:
    """Validate, allocate and run one kernel; gamma=None means 1 / n_features."""
    x, y, dtype = _check_pair(X, Y)
    if nonnegative:
        if (x < 0).any():
            raise ValueError("X contains negative values.")
        if y is not None and (y < 0).any():
            raise ValueError("Y contains negative values.")
    threads = resolve_n_threads(n_threads)
    m = x.shape[0] if y is None else y.shape[0]
    result = check_out(out, (x.shape[0], m), dtype, [X, Y, x, y], "X or Y")
    _core.gram(kind, x, y, result, _gamma(gamma, x.shape[1]), coef0, degree, threads)
    return result


def linear_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    dense_output: bool = True,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Linear kernel ``K(x, y) = <x, y>``.

    Parameters
    ----------
    X : array_like of shape (n_samples_X, n_features)
    Y : array_like of shape (n_samples_Y, n_features), optional
        ``None`` means ``X``; the result is then exactly symmetric.
    dense_output : bool
        Accepted for compatibility with scikit-learn; the output is always dense.
    out : ndarray of shape (n_samples_X, n_samples_Y), optional
        C-contiguous array of the result dtype to write into.
    n_threads : int, optional
        ``None``: OpenMP's current maximum; negative: cores + 1 + n_threads.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y), float32 if X and Y are float32, else float64.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.linear_kernel(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[ 5., 11.],
           [11., 25.]])
    """
    del dense_output
    return _gram("linear", X, Y, out=out, n_threads=n_threads)


def polynomial_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    degree: float = 3,
    gamma: float | None = None,
    coef0: float = 1,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Polynomial kernel ``K(x, y) = (gamma <x, y> + coef0) ** degree``.

    ``gamma=None`` means ``1 / n_features``. An integer ``degree`` is computed by repeated squaring
    inside the kernel; a fractional one falls back to one ``pow`` call per element (slower).
    Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.polynomial_kernel(np.array([[1.0, 1.0]]), degree=2, gamma=1.0, coef0=0.0)
    array([[4.]])
    """
    return _gram(
        "polynomial",
        X,
        Y,
        out=out,
        n_threads=n_threads,
        gamma=gamma,
        coef0=real_number(coef0, "coef0"),
        degree=real_number(degree, "degree"),
    )


def sigmoid_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    gamma: float | None = None,
    coef0: float = 1,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Sigmoid kernel ``K(x, y) = tanh(gamma <x, y> + coef0)``.

    ``gamma=None`` means ``1 / n_features``. Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.sigmoid_kernel(np.zeros((1, 2)), coef0=0.0)
    array([[0.]])
    """
    return _gram(
        "sigmoid",
        X,
        Y,
        out=out,
        n_threads=n_threads,
        gamma=gamma,
        coef0=real_number(coef0, "coef0"),
    )


def rbf_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    gamma: float | None = None,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """RBF (Gaussian) kernel ``K(x, y) = exp(-gamma ||x - y||^2)``.

    ``gamma=None`` means ``1 / n_features``. The squared distances are computed from data centred on
    the common mean of X and Y, so a large common offset (which makes scikit-learn's float32 result
    lose most of its digits) costs no accuracy. With ``Y=None`` the diagonal is exactly 1 (NaN for
    a row holding Inf or NaN). A row with an Inf feature gives exactly 0 against every finite row,
    and rows so long that their squared norms overflow are computed from the differences (see the
    module's notes). Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> K = kernelkit.rbf_kernel(np.array([[0.0, 0.0], [1.0, 1.0]]), gamma=0.5)
    >>> np.round(K, 4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    """
    return _gram("rbf", X, Y, out=out, n_threads=n_threads, gamma=gamma)


def laplacian_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    gamma: float | None = None,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Laplacian kernel ``K(x, y) = exp(-gamma ||x - y||_1)``.

    ``gamma=None`` means ``1 / n_features``. Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> np.round(kernelkit.laplacian_kernel(np.array([[0.0], [2.0]]), gamma=0.5), 4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    """
    return _gram("laplacian", X, Y, out=out, n_threads=n_threads, gamma=gamma)


def cosine_similarity(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    dense_output: bool = True,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Cosine similarity ``K(x, y) = <x, y> / (||x|| ||y||)``.

    Rows of zeros have similarity 0 with everything (as in scikit-learn). With ``Y=None`` the
    diagonal is exactly 1 for every non-zero finite row. A row holding Inf or NaN is NaN against
    every row, its diagonal included (``inf / inf``). When a row's largest ``|value|`` lies beyond
    ``2**40`` or below ``2**-40`` (float32; ``2**400`` for float64), every row is first scaled by a
    power of two, which leaves the cosines unchanged and keeps the products from overflowing or
    underflowing. Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.cosine_similarity(np.array([[1.0, 0.0], [0.0, 2.0]]))
    array([[1., 0.],
           [0., 1.]])
    """
    del dense_output
    return _gram("cosine", X, Y, out=out, n_threads=n_threads)


def additive_chi2_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Additive chi-squared kernel ``K(x, y) = -sum((x - y)^2 / (x + y))``.

    Terms with ``x + y = 0`` count as 0; a term with an infinite x or y is ``inf / inf``, NaN.
    Sums near the top of the float range are exact (computed from the definition where the fast
    reciprocal would underflow).

    X and Y must be non-negative (``ValueError`` otherwise), as in scikit-learn.
    Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.additive_chi2_kernel(np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]]))
    array([[-1.]])
    """
    return _gram("additive_chi2", X, Y, out=out, n_threads=n_threads, nonnegative=True)


def chi2_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    gamma: float = 1.0,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Exponential chi-squared kernel ``K(x, y) = exp(-gamma sum((x - y)^2 / (x + y)))``.

    Terms as in :func:`additive_chi2_kernel` (NaN for an infinite x or y). X and Y must be
    non-negative (``ValueError`` otherwise). Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> np.round(kernelkit.chi2_kernel(np.array([[1.0, 0.0]]), np.array([[3.0, 0.0]])), 4)
    array([[0.3679]])
    """
    return _gram("chi2", X, Y, out=out, n_threads=n_threads, gamma=gamma, nonnegative=True)


KernelFunction = Callable[..., FloatArray]

PAIRWISE_KERNEL_FUNCTIONS: dict[str, KernelFunction] = {
    "additive_chi2": additive_chi2_kernel,
    "chi2": chi2_kernel,
    "linear": linear_kernel,
    "polynomial": polynomial_kernel,
    "poly": polynomial_kernel,
    "rbf": rbf_kernel,
    "laplacian": laplacian_kernel,
    "sigmoid": sigmoid_kernel,
    "cosine": cosine_similarity,
}

KERNEL_PARAMS: dict[str, frozenset[str]] = {
    "additive_chi2": frozenset(),
    "chi2": frozenset({"gamma"}),
    "cosine": frozenset(),
    "linear": frozenset(),
    "poly": frozenset({"gamma", "degree", "coef0"}),
    "polynomial": frozenset({"gamma", "degree", "coef0"}),
    "rbf": frozenset({"gamma"}),
    "laplacian": frozenset({"gamma"}),
    "sigmoid": frozenset({"gamma", "coef0"}),
}


def _callable_gram(
    metric: Callable[..., float],
    X: ArrayLike,
    Y: ArrayLike | None,
    out: NDArray[Any] | None,
    **kwds: Any,
) -> FloatArray:
    x, y, dtype = _check_pair(X, Y)
    rows = x if y is None else y
    result = check_out(out, (x.shape[0], rows.shape[0]), dtype, [X, Y, x, y], "X or Y")
    for i in range(x.shape[0]):
        first = i if y is None else 0
        for j in range(first, rows.shape[0]):
            result[i, j] = metric(x[i], rows[j], **kwds)
            if y is None:
                result[j, i] = result[i, j]
    return result


def _precomputed(X: ArrayLike, Y: ArrayLike | None, out: NDArray[Any] | None) -> FloatArray:
    """X is already the kernel matrix: checked against Y (the indexed samples) and returned."""
    x = _as_matrix(X, "X")
    if Y is not None:
        n_indexed = np.shape(Y)[0]
        if x.shape[1] != n_indexed:
            raise ValueError(
                f"X: precomputed metric requires shape (n_queries, n_indexed); got {x.shape} "
                f"for {n_indexed} indexed samples"
            )
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    if out is None:
        return np.ascontiguousarray(x, dtype=dtype)
    result = check_out(out, x.shape, dtype, [X, x], "X or Y")
    result[...] = x
    return result


def pairwise_kernels(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    metric: str | Callable[..., float] = "linear",
    *,
    filter_params: bool = False,
    n_jobs: int | None = None,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
    **kwds: Any,
) -> FloatArray:
    """The kernel named by ``metric`` between the rows of X and Y, as scikit-learn's function.

    Parameters
    ----------
    metric : str or callable
        One of ``"additive_chi2"``, ``"chi2"``, ``"linear"``, ``"poly"``/``"polynomial"``,
        ``"rbf"``, ``"laplacian"``, ``"sigmoid"``, ``"cosine"``; ``"precomputed"`` returns X itself
        (as a float array); a callable is called on each pair of rows, ``metric(x, y, **kwds)``
        (slow, Python).
    filter_params : bool
        Drop keyword arguments the named kernel does not take.
    n_jobs : int, optional
        scikit-learn's parallelism argument, used as ``n_threads`` when that is not given.
    **kwds
        Parameters of the kernel (``gamma``, ``degree``, ``coef0``).

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.pairwise_kernels(np.eye(2), metric="poly", degree=2, gamma=1.0, coef0=0.0)
    array([[1., 0.],
           [0., 1.]])
    """
    threads = n_threads if n_threads is not None else n_jobs
    resolve_n_threads(threads)  # reject a bad count whatever the metric
    if callable(metric):
        return _callable_gram(metric, X, Y, out, **kwds)
    if not isinstance(metric, str):
        kind = type(metric).__name__  # type: ignore[unreachable]  # callers without type checks
        raise TypeError(f"metric: expected a kernel name or a callable, got {kind}")
    if metric == "precomputed":
        return _precomputed(X, Y, out)
    if metric not in PAIRWISE_KERNEL_FUNCTIONS:
        known = ", ".join(sorted([*PAIRWISE_KERNEL_FUNCTIONS, "precomputed"]))
        raise ValueError(
            f"metric: unknown kernel {metric!r}; expected one of {known}, or a callable"
        )
    if filter_params:
        kwds = {k: v for k, v in kwds.items() if k in KERNEL_PARAMS[metric]}
    unexpected = set(kwds) - KERNEL_PARAMS[metric]
    if unexpected:
        raise TypeError(f"{metric} kernel: unexpected parameter(s) {sorted(unexpected)}")
    return PAIRWISE_KERNEL_FUNCTIONS[metric](X, Y, out=out, n_threads=threads, **kwds)
