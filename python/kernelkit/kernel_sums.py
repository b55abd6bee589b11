"""Kernel sums ``K(X, Y) @ v`` and selected rows of ``K``, without the ``n x m`` Gram matrix.

Kernel ridge regression, Gaussian processes, kernel k-means, MMD tests and SVM solvers at scale
need products ``K @ v`` or a few rows of ``K``, not the matrix (200,000 samples make a 160 GB
float32 matrix). :func:`kernel_matvec` computes ``K`` block by block with the Gram kernels (one
block of at most 240 x 240 entries per thread, kept in cache) and multiplies each block into
float64 sums at once: memory beyond the inputs and the result is one block per thread.
:func:`kernel_rows` returns ``K(X, Y)[rows]``.

Every Gram kernel of :data:`kernelkit.pairwise.KERNEL_SPECS` is available, under its name or
its ``pairwise_kernels`` metric name (``"poly"`` too), with its parameters, defaults and valid
ranges (checked as the kernel's own function checks them), and with the same exactness rules:
exact diagonals for ``Y=None``, Inf and NaN rows as in the Gram functions.

Sparse input: X, Y or both may be scipy.sparse matrices or arrays in any format (CSR, CSC, COO, ...;
spmatrix and sparray), for every kernel, with the sparse Gram functions' rules and errors (see
:mod:`kernelkit.pairwise`: canonical CSR copies where the input is not already so, finite values,
non-negative ones for the chi2 kernels, no per-feature length scales; the entries are the sparse
Gram functions', to the bit). ``K`` is computed from the sparse structure one output row segment
at a time (cpp/src/gram_sparse_driver.cpp) and each finished segment is multiplied into the float64
sums while it is in cache. Memory beyond the inputs and the result: O(nnz) for the canonical CSR
copies and, with both operands sparse, Y grouped by feature (plus n_features per column block of
Y), O(n + m) per-row terms, one row segment per thread (at most the larger of 1024 entries and half
of L2) and O(n k) partial sums; never a densified X or Y, never the ``n x m`` K.

Accuracy: each entry of ``K`` is the Gram functions' (float32 for float32 X and Y), and the sums
over ``j`` are accumulated in float64 whatever the dtype (``v`` is used in float64), then rounded
once to the result dtype. So ``kernel_matvec`` is ``K @ v`` with the float32 ``K`` summed exactly up
to float64 rounding: its error against the float64 kernel is that of the float32 entries, at most a
few float32 ulps of ``sum_j |K_ij v_j|``, independent of ``m``. The order of the sums depends on the
shapes only, so results do not change with ``n_threads``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._sparse_gram import is_sparse
from ._validation import InvalidParameterError, c_aligned
from .pairwise import (
    KERNEL_METRICS,
    KERNEL_SPECS,
    FloatArray,
    GramCall,
    SparseGramCall,
    gram_call,
    refuse_unexpected_params,
    sparse_gram_call,
)

__all__ = ["kernel_matvec", "kernel_rows"]


def kernel_name(function: str, kernel: str) -> str:
    """The name in :data:`KERNEL_SPECS` of ``kernel`` (a name there or a ``pairwise_kernels``
    metric name), or :class:`kernelkit.InvalidParameterError` naming ``function``."""
    names = {**{name: name for name in KERNEL_SPECS}, **KERNEL_METRICS}
    if not isinstance(kernel, str) or kernel not in names:
        raise InvalidParameterError(
            f"The 'kernel' parameter of {function} must be a str among "
            f"{{{', '.join(map(repr, sorted(names)))}}}. Got {kernel!r} instead."
        )
    return names[kernel]


def checked_call(
    function: str,
    kernel: str,
    X: ArrayLike,
    Y: ArrayLike | None,
    params: Mapping[str, Any],
    n_threads: int | None,
) -> GramCall | SparseGramCall:
    """The Gram call for ``kernel`` (see :func:`kernel_name`) with ``params`` checked as the
    kernel's own function checks them, X and Y as the Gram functions check theirs (scipy.sparse
    ones by the sparse Gram functions' rules); ``function`` names the caller in errors."""
    name = kernel_name(function, kernel)
    refuse_unexpected_params(params, KERNEL_SPECS[name].param_names, f"{function}()", f"{kernel!r}")
    if is_sparse(X) or is_sparse(Y):
        return sparse_gram_call(name, X, Y, params, n_threads)
    return gram_call(name, X, Y, params, n_threads)


def _as_weights(v: ArrayLike, m: int) -> NDArray[np.float64]:
    """v as a C-contiguous float64 (m, k) array."""
    arr = np.asarray(v)
    if arr.ndim not in (1, 2) or arr.shape[0] != m:
        raise ValueError(
            f"v: expected shape ({m},) or ({m}, k), one row per row of Y, got shape {arr.shape}"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"v: expected real numbers, got dtype {arr.dtype}")
    return c_aligned(arr.reshape(m, 1) if arr.ndim == 1 else arr, dtype=np.float64)


def matvec_float64(
    call: GramCall | SparseGramCall, v: ArrayLike
) -> tuple[NDArray[np.float64], bool]:
    """``K @ v`` for a checked call, as float64 of shape (n, k), and whether v was 1-D (for
    callers that sum several such products before rounding, as kernelkit.dask does)."""
    weights = _as_weights(v, call.m)
    out = np.empty((call.n, weights.shape[1]), dtype=np.float64)
    call.matvec(weights, out)
    return out, np.ndim(v) == 1


def kernel_matvec(
    X: ArrayLike,
    Y: ArrayLike | None,
    v: ArrayLike,
    kernel: str = "rbf",
    *,
    n_threads: int | None = None,
    **params: Any,
) -> FloatArray:
    """``K(X, Y) @ v`` computed block by block, without forming ``K``.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n, n_features)
    Y : array_like or scipy.sparse matrix of shape (m, n_features), or None
        ``None`` (or ``X`` itself) means ``Y = X``. A sparse X or Y (any scipy format) is used
        from its sparse structure, never densified (see the module's notes).
    v : array_like of shape (m,) or (m, k)
        One row per row of Y; used in float64.
    kernel : str, default "rbf"
        A Gram kernel: a name of :data:`kernelkit.pairwise.KERNEL_SPECS` (``"rbf"``,
        ``"polynomial"``, ``"chi2"``, ...) or a ``pairwise_kernels`` metric name (``"poly"``).
    n_threads : int, optional
        ``None``: OpenMP's current maximum; negative: cores + 1 + n_threads.
    **params
        The kernel's parameters (``gamma``, ``degree``, ``coef0``), with its function's defaults
        and valid ranges; one the kernel does not take raises ``TypeError``.

    Returns
    -------
    ndarray of shape (n,) or (n, k), as v
        float32 if X and Y are float32 (the float64 sums rounded once), else float64.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> np.round(kernelkit.kernel_matvec(X, None, np.ones(2), gamma=0.5), 4)
    array([1.3679, 1.3679])
    >>> Y = np.array([[1.0, 2.0]])
    >>> kernelkit.kernel_matvec(X, Y, np.array([[1.0, 2.0]]), kernel="linear")
    array([[0., 0.],
           [3., 6.]])
    >>> import scipy.sparse
    >>> S = scipy.sparse.csr_array([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> kernelkit.kernel_matvec(S, None, np.ones(3), kernel="linear")
    array([4., 1., 0.])
    """
    call = checked_call("kernel_matvec", kernel, X, Y, params, n_threads)
    out, one_column = matvec_float64(call, v)
    result = out.astype(call.dtype, copy=False)
    return result[:, 0] if one_column else result


def _as_row_index(rows: ArrayLike, n: int) -> NDArray[np.int64]:
    index = np.asarray(rows)
    if index.ndim != 1:
        raise ValueError(f"rows: expected a 1-D sequence of row numbers, got shape {index.shape}")
    if index.size and index.dtype.kind not in "iu":
        raise TypeError(f"rows: expected integers, got dtype {index.dtype}")
    index = index.astype(np.int64, copy=False)
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"rows: row numbers must lie in [-{n}, {n}) for X of {n} rows")
    return c_aligned(np.where(index < 0, index + n, index))


def kernel_rows(
    X: ArrayLike,
    rows: ArrayLike,
    Y: ArrayLike | None = None,
    kernel: str = "rbf",
    *,
    n_threads: int | None = None,
    **params: Any,
) -> FloatArray:
    """The rows ``K(X, Y)[rows]`` of the Gram matrix, without the others.

    For solvers that need individual rows of ``K`` (SMO working sets, greedy selection). ``rows``
    is a 1-D sequence of row numbers of X (negative ones count from the end, repeats allowed);
    ``Y=None`` means ``Y = X``, with the exact diagonal of the Gram functions (``K[i, i] = 1`` for
    rbf and cosine). X and Y may be scipy.sparse (the rows are then those of the sparse Gram
    functions, computed from the sparse structure). Other parameters as :func:`kernel_matvec`.

    Returns
    -------
    ndarray of shape (len(rows), m)
        float32 if X and Y are float32, else float64.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> np.round(kernelkit.kernel_rows(X, [2, 0], gamma=0.5), 4)
    array([[0.0183, 0.3679, 1.    ],
           [1.    , 0.3679, 0.0183]])
    >>> import scipy.sparse
    >>> kernelkit.kernel_rows(scipy.sparse.csr_array(X), [-1], kernel="cosine")
    array([[0., 1., 1.]])
    """
    call = checked_call("kernel_rows", kernel, X, Y, params, n_threads)
    index = _as_row_index(rows, call.n)
    out = np.empty((index.shape[0], call.m), dtype=call.dtype)
    call.rows(index, out)
    return out
