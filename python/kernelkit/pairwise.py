"""Gram-matrix (SVM) kernels with scikit-learn's ``sklearn.metrics.pairwise`` API.

Every function takes the same arguments, defaults and output conventions as its scikit-learn
namesake, so ``from kernelkit import rbf_kernel`` can replace ``from sklearn.metrics.pairwise import
rbf_kernel``. On top of that each takes keyword-only ``n_threads`` (``None``: OpenMP's current
maximum; negative: counted back from the cores) and ``out`` (a preallocated C-contiguous result).

Parameters are checked as scikit-learn's ``@validate_params`` checks them, with the same valid
ranges (declared once per kernel in :data:`KERNEL_SPECS`): a value it refuses raises
:class:`kernelkit.InvalidParameterError` (a ``ValueError`` and a ``TypeError``, as scikit-learn's),
naming the parameter, the function and the valid range. ``pairwise_kernels`` passes the kernel's
parameters through unchecked in scikit-learn, so there any real number is accepted (see there).

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

Sparse input: X, Y or both may be scipy.sparse matrices or arrays in any format (CSR, CSC, COO,
...), for every kernel, chi2 and additive_chi2 included (which scikit-learn takes only dense). The
result is a dense ndarray, of the same dtype as for dense input (integer and boolean data are
computed in float64); with ``dense_output=False`` and both operands sparse, linear_kernel and
cosine_similarity return a sparse CSR result as scikit-learn does (scipy's sparse product, of the
unit-normalised rows for cosine). The kernel is computed from the sparse structure, in tiles: no
densified copy of X or Y; each sparse operand is converted to canonical CSR (indices sorted,
duplicate entries summed, as scipy defines them) where it is not already, a copy of O(nnz).
Limits of the sparse path: values must be finite (NaN or Inf raise ``ValueError`` as in
scikit-learn, for a dense operand paired with a sparse one too); rbf uses
``|x|^2 + |y|^2 - 2 <x, y>`` without the centring of the dense path (it would destroy sparsity),
clipped at 0, as scikit-learn does for sparse input; laplacian, chi2 and additive_chi2 are computed
as ``sum|x| + sum|y|`` minus a sum over the features both rows hold (so nearly equal rows carry the
rounding of those sums), their diagonal for ``Y=None`` exact; products, norms and sums are
accumulated in the result dtype, without the dense path's rescaling of rows whose squares would
overflow. Per-feature length scales and callable and ``"precomputed"`` metrics of
pairwise_kernels refuse sparse input; the kernel sums (:mod:`kernelkit.kernel_sums`) take it.

Subnormal numbers (float32 below 1.2e-38, float64 below 2.2e-308) count as zero inside the call,
in the inputs, in gamma and coef0 as the result dtype holds them, and in every intermediate result,
so that they cannot slow the kernels down (flush-to-zero and denormals-are-zero, on every thread of
the call; the caller's floating-point mode is restored afterwards): a result below the smallest
normal number comes out as 0.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._sparse_gram import SparsePair, is_sparse
from ._threads import resolve_n_threads
from ._validation import (
    InvalidParameterError,
    KernelParam,
    RealInterval,
    c_aligned,
    check_boolean,
    check_int_or_none,
    check_kernel_param,
    check_out,
)

__all__ = [  # every function of KERNEL_SPECS (tests/test_gram_specs.py checks it)
    "additive_chi2_kernel",
    "chi2_kernel",
    "cosine_similarity",
    "exp_sine_squared_kernel",
    "laplacian_kernel",
    "linear_kernel",
    "matern_kernel",
    "pairwise_kernels",
    "polynomial_kernel",
    "rational_quadratic_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
]

FloatArray = NDArray[Union[np.float32, np.float64]]


def _as_matrix(a: ArrayLike, name: str) -> NDArray[Any]:
    if is_sparse(a):  # the named kernels take sparse input before they get here
        raise TypeError(
            f"{name}: sparse matrices are not supported here (callable and precomputed "
            f"metrics); pass {name}.toarray()"
        )
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


def _check_shapes(x_shape: tuple[int, ...], y_shape: tuple[int, ...] | None) -> None:
    """At least one feature, and as many in Y as in X (dense or sparse operands)."""
    if x_shape[1] == 0:
        raise ValueError("X: 0 features; at least one is required")
    if y_shape is not None and y_shape[1] != x_shape[1]:
        raise ValueError(
            f"Y: incompatible dimension for X and Y matrices: X.shape[1] == {x_shape[1]} "
            f"while Y.shape[1] == {y_shape[1]}"
        )


def _check_pair(
    X: ArrayLike, Y: ArrayLike | None
) -> tuple[NDArray[Any], NDArray[Any] | None, type[np.floating[Any]]]:
    """Validate X and Y; return C-contiguous float arrays and Y=None when K(X, X) is asked for."""
    symmetric = Y is None or Y is X
    x = _as_matrix(X, "X")
    y = None if symmetric else _as_matrix(Y, "Y")  # type: ignore[arg-type]
    _check_shapes(x.shape, None if y is None else y.shape)
    both_f32 = x.dtype == np.float32 and (y is None or y.dtype == np.float32)
    dtype: type[np.floating[Any]] = np.float32 if both_f32 else np.float64
    x = c_aligned(x, dtype=dtype)
    if y is not None:
        y = c_aligned(y, dtype=dtype)
    return x, y, dtype


# ---------------------------------------------------------------------------------------------
# One declaration per kernel, in the C++ core (gram_kernels.def): its parameters with their
# defaults and valid ranges (scikit-learn's @validate_params constraints), from which the
# functions' checks, PAIRWISE_KERNEL_FUNCTIONS and KERNEL_PARAMS follow.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    """One Gram kernel as the C++ core declares it once (cpp/include/kernelkit/gram_kernels.def,
    read through ``_core.gram_specs()``); :data:`KERNEL_SPECS` holds the public ones.

    ``function`` is the public function's name, ``kind`` the compiled kernel's name, ``form`` the
    value its tiles accumulate (``"dot"``, ``"cosine"``, ``"sq_distance"``, ``"l1_distance"``,
    ``"chi2_sum"``), ``params`` its real parameters (name, default, valid range: scikit-learn's
    ranges), ``metrics`` its names in ``pairwise_kernels`` (none for a kernel scikit-learn does
    not register there), ``nonnegative`` whether X and Y must be non-negative, ``dense_output``
    whether the function takes scikit-learn's ``dense_output`` flag.

    Examples
    --------
    >>> from kernelkit.pairwise import KERNEL_SPECS
    >>> spec = KERNEL_SPECS["polynomial"]
    >>> spec.function, spec.metrics, [(p.name, p.default) for p in spec.params]
    ('polynomial_kernel', ('polynomial', 'poly'),
     [('degree', 3.0), ('gamma', None), ('coef0', 1.0)])
    >>> [p.describe() for p in spec.params]
    ['a float in the range [1.0, inf)', 'a float in the range [0.0, inf) or None',
     'a float in the range (-inf, inf)']
    """

    function: str
    kind: str
    form: str
    core_kind: Any
    params: tuple[KernelParam, ...] = ()
    metrics: tuple[str, ...] = ()
    nonnegative: bool = False
    dense_output: bool = False

    @property
    def param_names(self) -> frozenset[str]:
        """The names of :attr:`params` (what ``pairwise_kernels(filter_params=True)`` keeps)."""
        return frozenset(p.name for p in self.params)


def _interval(low: float, high: float, closed: Any) -> RealInterval:
    """The core's range (infinite ends as +-inf) as a RealInterval (open infinite ends: None)."""
    left_closed = closed in ("left", "both")
    right_closed = closed in ("right", "both")
    return RealInterval(
        None if math.isinf(low) and not left_closed else low,
        None if math.isinf(high) and not right_closed else high,
        closed,
    )


def _param_from_core(entry: Mapping[str, Any]) -> KernelParam:
    return KernelParam(
        entry["name"],
        entry["default"],
        _interval(entry["low"], entry["high"], entry["closed"]),
        none_ok=entry["none_ok"],
        array_ok=entry["array_ok"],
        per_feature=entry["per_feature"],
    )


def _spec_from_core(entry: Mapping[str, Any]) -> KernelSpec:
    return KernelSpec(
        function=entry["function"],
        kind=entry["name"],
        form=entry["form"],
        core_kind=entry["kind"],
        params=tuple(_param_from_core(p) for p in entry["params"]),
        metrics=tuple(entry["metrics"]),
        nonnegative=entry["nonnegative"],
        dense_output=entry["dense_output"],
    )


CORE_SPECS: dict[str, KernelSpec] = {
    spec.kind: spec for spec in map(_spec_from_core, _core.gram_specs())
}
"""Every compiled Gram kernel by name, the internal ones (no public function) included."""

KERNEL_SPECS: dict[str, KernelSpec] = {
    kind: spec for kind, spec in CORE_SPECS.items() if spec.function
}
"""Every public Gram kernel, by name: the single table of parameters and valid ranges."""

KERNEL_METRICS: dict[str, str] = {
    metric: spec.kind for spec in KERNEL_SPECS.values() for metric in spec.metrics
}
"""``pairwise_kernels``' metric names (scikit-learn's, ``"poly"`` included) -> kernel names."""


@dataclass(frozen=True)
class GramCall:
    """One Gram-kernel call, checked: the compiled kernel, C-contiguous X and Y (``None``:
    ``Y = X``) of the result dtype, the parameters in the core's order with scikit-learn's
    defaults resolved, the thread count. :func:`gram_call` makes it; the Gram functions and the
    kernel sums (kernel_sums.py) run it."""

    kind: Any
    x: NDArray[Any]
    y: NDArray[Any] | None
    dtype: type[np.floating[Any]]
    params: list[float]
    threads: int

    @property
    def n(self) -> int:
        """The number of rows of X."""
        return int(self.x.shape[0])

    @property
    def m(self) -> int:
        """The number of rows of Y (of X when ``y`` is None)."""
        return int((self.x if self.y is None else self.y).shape[0])

    def matvec(self, weights: NDArray[np.float64], out: NDArray[np.float64]) -> None:
        """``out = K(X, Y) @ weights`` (both float64 and 2-D), block by block."""
        _core.gram_matvec(self.kind, self.x, self.y, weights, out, self.params, self.threads)

    def rows(self, index: NDArray[np.int64], out: NDArray[Any]) -> None:
        """``out = K(X, Y)[index]`` (index: int64 row numbers in [0, n))."""
        _core.gram_rows(self.kind, self.x, index, self.y, out, self.params, self.threads)


@dataclass(frozen=True)
class SparseGramCall:
    """:class:`GramCall` where X, Y or both are scipy.sparse: the operands as
    :class:`kernelkit._sparse_gram.SparsePair` holds them (canonical CSR, values checked).
    :func:`sparse_gram_call` makes it; the Gram functions and the kernel sums run it."""

    kind: Any
    pair: SparsePair
    params: list[float]
    threads: int

    @property
    def dtype(self) -> type[np.floating[Any]]:
        """The result dtype: float32 if X and Y are float32, else float64."""
        return self.pair.dtype

    @property
    def n(self) -> int:
        return int(self.pair.x.shape[0])

    @property
    def m(self) -> int:
        return self.pair.m

    def matvec(self, weights: NDArray[np.float64], out: NDArray[np.float64]) -> None:
        """As :meth:`GramCall.matvec`, from the sparse structure."""
        self.pair.matvec(self.kind, self.params, weights, out, self.threads)

    def rows(self, index: NDArray[np.int64], out: NDArray[Any]) -> None:
        """As :meth:`GramCall.rows`, from the sparse structure."""
        self.pair.rows(self.kind, self.params, index, out, self.threads)


def gram_call(
    kernel: str,
    X: ArrayLike,
    Y: ArrayLike | None,
    params: Mapping[str, Any],
    n_threads: int | None,
    nested_in: str | None = None,
) -> GramCall:
    """Check the parameters against the kernel's spec (:data:`KERNEL_SPECS`), then the arrays.

    ``nested_in=None``: a direct call, checked as scikit-learn's ``@validate_params`` checks it.
    Otherwise the caller's name (``pairwise_kernels``): scikit-learn skips the kernel's own checks
    there, so only the types are checked (any real number, NaN, inf and negative ones included).
    """
    spec = KERNEL_SPECS[kernel]
    values = _checked_params(spec, params, nested_in)
    x, y, dtype = _check_pair(X, Y)
    if spec.nonnegative:
        if (x < 0).any():
            raise ValueError("X contains negative values.")
        if y is not None and (y < 0).any():
            raise ValueError("Y contains negative values.")
    threads = resolve_n_threads(n_threads)
    numbers = []
    for name, value in values.items():
        if isinstance(value, np.ndarray):  # per feature: the isotropic kernel of scaled columns
            x, y = _scale_columns(x, y, value, name)
            value = 1.0
        numbers.append(1.0 / x.shape[1] if value is None else value)  # scikit-learn's gamma=None
    return GramCall(spec.core_kind, x, y, dtype, numbers, threads)


def _checked_params(
    spec: KernelSpec, params: Mapping[str, Any], nested_in: str | None
) -> dict[str, Any]:
    """The kernel's parameters checked against its spec (see :func:`gram_call`), by name."""
    caller = spec.function if nested_in is None else nested_in
    ranges = nested_in is None
    values = {
        p.name: check_kernel_param(p, params.get(p.name, p.default), caller, ranges=ranges)
        for p in spec.params
    }
    if spec.dense_output and ranges:
        check_boolean(params.get("dense_output", True), "dense_output", caller)
    return values


def sparse_gram_call(
    kernel: str,
    X: Any,
    Y: Any,
    params: Mapping[str, Any],
    n_threads: int | None,
    nested_in: str | None = None,
) -> SparseGramCall:
    """:func:`gram_call` for a scipy.sparse X or Y (:mod:`kernelkit._sparse_gram`'s operand rules:
    canonical CSR, finite values, non-negative ones for chi2); one value per feature is refused."""
    spec = KERNEL_SPECS[kernel]
    values = _checked_params(spec, params, nested_in)
    pair = SparsePair.of(X, Y, spec.nonnegative)
    threads = resolve_n_threads(n_threads)
    numbers = []
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            raise ValueError(f"{name}: one value per feature is not supported for sparse input")
        numbers.append(1.0 / pair.n_features if value is None else value)  # gamma=None
    return SparseGramCall(spec.core_kind, pair, numbers, threads)


def _run_sparse(
    kernel: str,
    X: Any,
    Y: Any,
    params: Mapping[str, Any],
    out: NDArray[Any] | None,
    n_threads: int | None,
    nested_in: str | None,
) -> Any:
    """_run_kernel for sparse X or Y: a dense result, or with ``dense_output=False`` and both
    sparse, scikit-learn's sparse CSR one."""
    call = sparse_gram_call(kernel, X, Y, params, n_threads, nested_in)
    sparse_result = not params.get("dense_output", True) and call.pair.both_sparse
    if KERNEL_SPECS[kernel].dense_output and sparse_result:
        if out is not None:
            raise ValueError("out: a sparse result (dense_output=False) cannot be written to out")
        return call.pair.sparse_product(kernel)
    return call.pair.gram(call.kind, call.params, out, call.threads, [X, Y])


def _run_kernel(
    kernel: str,
    X: ArrayLike,
    Y: ArrayLike | None,
    params: Mapping[str, Any],
    out: NDArray[Any] | None,
    n_threads: int | None,
    nested_in: str | None = None,
) -> FloatArray:
    """Check the call (:func:`gram_call`), allocate and run."""
    if is_sparse(X) or is_sparse(Y):
        # a scipy.sparse result for linear / cosine with dense_output=False (see their docs)
        return cast(FloatArray, _run_sparse(kernel, X, Y, params, out, n_threads, nested_in))
    call = gram_call(kernel, X, Y, params, n_threads, nested_in)
    x, y = call.x, call.y
    result = check_out(out, (x.shape[0], call.m), call.dtype, [X, Y, x, y], "X or Y")
    _core.gram(call.kind, x, y, result, call.params, call.threads)
    return result


def _scale_columns(
    x: NDArray[Any], y: NDArray[Any] | None, lengths: NDArray[np.float64], name: str
) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """x / lengths and y / lengths, column by column (new arrays of x's dtype)."""
    if lengths.shape != (x.shape[1],):
        raise ValueError(
            f"{name}: expected one value per feature ({x.shape[1]}), got {lengths.shape[0]}"
        )
    inverse = (1.0 / lengths).astype(x.dtype)
    return x * inverse, None if y is None else y * inverse


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
    X : array_like or scipy.sparse matrix of shape (n_samples_X, n_features)
    Y : array_like or scipy.sparse matrix of shape (n_samples_Y, n_features), optional
        ``None`` means ``X``; the result is then exactly symmetric. Sparse input (any format)
        is computed from its sparse structure (see the module's notes).
    dense_output : bool, default True
        scikit-learn's flag (``bool`` or ``numpy.bool_``; anything else raises
        :class:`kernelkit.InvalidParameterError`). ``False`` with X and Y (or X and ``Y=None``)
        both scipy.sparse gives a sparse CSR result, as in scikit-learn; otherwise the result is a
        dense ndarray either way.
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
    >>> import scipy.sparse
    >>> X = scipy.sparse.csr_array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    >>> kernelkit.linear_kernel(X)
    array([[5., 0.],
           [0., 9.]])
    >>> kernelkit.linear_kernel(X, dense_output=False).nnz
    2
    """
    return _run_kernel("linear", X, Y, {"dense_output": dense_output}, out, n_threads)


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
    params = {"degree": degree, "gamma": gamma, "coef0": coef0}
    return _run_kernel("polynomial", X, Y, params, out, n_threads)


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
    return _run_kernel("sigmoid", X, Y, {"gamma": gamma, "coef0": coef0}, out, n_threads)


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
    return _run_kernel("rbf", X, Y, {"gamma": gamma}, out, n_threads)


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
    return _run_kernel("laplacian", X, Y, {"gamma": gamma}, out, n_threads)


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
    return _run_kernel("cosine", X, Y, {"dense_output": dense_output}, out, n_threads)


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
    return _run_kernel("additive_chi2", X, Y, {}, out, n_threads)


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
    return _run_kernel("chi2", X, Y, {"gamma": gamma}, out, n_threads)


MATERN_CLOSED_FORMS = (0.5, 1.5, 2.5, math.inf)
"""The values of ``nu`` :func:`matern_kernel` computes in closed form (the others: Bessel form)."""

_BLOCK_ELEMENTS = 1 << 20  # temporaries of the Bessel form: row blocks of about 8 MB in float64


def matern_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    length_scale: float | ArrayLike = 1.0,
    nu: float = 1.5,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Matern kernel, as ``sklearn.gaussian_process.kernels.Matern(length_scale, nu)(X, Y)``.

    With ``r = ||(x - y) / length_scale||``: ``nu=0.5`` gives ``exp(-r)``, ``nu=1.5``
    ``(1 + sqrt(3) r) exp(-sqrt(3) r)``, ``nu=2.5`` ``(1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r)``
    and ``nu=inf`` ``exp(-r^2 / 2)``, each fused into the distance tiles in C++. Any other
    ``nu > 0`` is the general form ``2^(1 - nu) / Gamma(nu) t^nu K_nu(t)``, ``t = sqrt(2 nu) r``:
    the distances come from C++ and the modified Bessel function ``K_nu`` from SciPy
    (``scipy.special.kve``, relative accuracy about 1e-15; SciPy is needed for it:
    ``pip install kernelkit[gp]``), applied by blocks of rows, so it is several times slower than
    the closed forms.

    ``length_scale`` is a positive float, or an array of one positive length per feature (the
    anisotropic kernel: every column of X and Y divided by its length, then the isotropic form).
    With ``Y=None`` the result is exactly symmetric and its diagonal exactly 1. A row holding Inf
    is at an infinite distance from every finite row: 0 there (scikit-learn gives NaN for
    ``nu=1.5`` and ``2.5``, from ``inf * 0``). Squared distances come from data centred on the
    common mean of X and Y, as for :func:`rbf_kernel`. float32 input gives float32 (scikit-learn's
    kernel objects always return float64). Other parameters as :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> np.round(kernelkit.matern_kernel(X, length_scale=5.0, nu=0.5), 4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    >>> np.round(kernelkit.matern_kernel(X, length_scale=[3.0, 4.0], nu=np.inf), 4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    """
    params = {"length_scale": length_scale, "nu": nu}
    result = _run_kernel("matern", X, Y, params, out, n_threads)
    if float(nu) not in MATERN_CLOSED_FORMS:
        _matern_bessel_form(result, float(nu))
    return result


def _matern_bessel_form(distances: FloatArray, nu: float) -> None:
    """``distances`` (``r``, as the core's Matern gives them for other nu) replaced by
    ``2^(1 - nu) / Gamma(nu) t^nu K_nu(t)``, ``t = sqrt(2 nu) r``, computed as
    ``exp(log scale + nu ln t - t) kve(nu, t)`` so that neither ``t^nu`` overflows nor ``K_nu``
    underflows on the way; 1 at ``r = 0`` (the limit), 0 at ``r = inf``."""
    try:
        from scipy.special import gammaln, kve
    except ImportError:
        raise ImportError(
            f"matern_kernel: nu={nu} (other than {', '.join(map(str, MATERN_CLOSED_FORMS))}) "
            "needs SciPy's Bessel functions; install it (pip install kernelkit[gp])"
        ) from None
    log_scale = (1.0 - nu) * math.log(2.0) - float(gammaln(nu))
    step = max(1, _BLOCK_ELEMENTS // max(1, distances.shape[1]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for start in range(0, distances.shape[0], step):
            block = distances[start : start + step]
            t = math.sqrt(2.0 * nu) * block.astype(np.float64)
            value = np.exp(log_scale + nu * np.log(t) - t) * kve(nu, t)
            value[t == 0.0] = 1.0
            value[t == math.inf] = 0.0
            block[...] = value


def rational_quadratic_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    length_scale: float = 1.0,
    alpha: float = 1.0,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Rational quadratic kernel ``K(x, y) = (1 + ||x - y||^2 / (2 alpha length_scale^2))^-alpha``,
    as ``sklearn.gaussian_process.kernels.RationalQuadratic(length_scale, alpha)(X, Y)``.

    ``length_scale`` and ``alpha`` are positive floats (isotropic only, as in scikit-learn). The
    power is ``exp(-alpha log1p(...))``, vectorised and fused into the distance tiles. With
    ``Y=None`` the diagonal is exactly 1. float32 input gives float32. Other parameters as
    :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.rational_quadratic_kernel(np.array([[0.0], [2.0]]), alpha=2.0)
    array([[1.  , 0.25],
           [0.25, 1.  ]])
    """
    params = {"length_scale": length_scale, "alpha": alpha}
    return _run_kernel("rational_quadratic", X, Y, params, out, n_threads)


def exp_sine_squared_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    length_scale: float = 1.0,
    periodicity: float = 1.0,
    *,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Exp-sine-squared (periodic) kernel
    ``K(x, y) = exp(-2 sin^2(pi ||x - y|| / periodicity) / length_scale^2)``, as
    ``sklearn.gaussian_process.kernels.ExpSineSquared(length_scale, periodicity)(X, Y)``.

    ``length_scale`` and ``periodicity`` are positive floats (isotropic only, as in
    scikit-learn). The sine's argument is reduced exactly to ``[-pi/2, pi/2]``, but the phase
    is only as good as the distance: it comes from ``|x|^2 + |y|^2 - 2 <x, y>`` of the centred
    rows (as for :func:`rbf_kernel`), whose error is about the dtype's epsilon times the squared
    norms, so with values of float32 or far from their common mean compared with the periodicity
    (float64 values near 1e9 for a periodicity near 1) the phases of distant pairs are noise.
    With ``Y=None`` the diagonal is exactly 1. float32 input gives float32. Other parameters as
    :func:`linear_kernel`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> X = np.array([[0.0], [0.5], [1.0]])
    >>> np.round(kernelkit.exp_sine_squared_kernel(X, length_scale=1.0, periodicity=2.0), 4)
    array([[1.    , 0.3679, 0.1353],
           [0.3679, 1.    , 0.3679],
           [0.1353, 0.3679, 1.    ]])
    """
    params = {"length_scale": length_scale, "periodicity": periodicity}
    return _run_kernel("exp_sine_squared", X, Y, params, out, n_threads)


KernelFunction = Callable[..., FloatArray]

_FUNCTIONS: dict[str, KernelFunction] = {
    spec.function: globals()[spec.function] for spec in KERNEL_SPECS.values()
}

PAIRWISE_KERNEL_FUNCTIONS: dict[str, KernelFunction] = {
    metric: _FUNCTIONS[KERNEL_SPECS[kernel].function] for metric, kernel in KERNEL_METRICS.items()
}
"""scikit-learn's registry: metric name -> function (from :data:`KERNEL_SPECS`)."""

KERNEL_PARAMS: dict[str, frozenset[str]] = {
    metric: KERNEL_SPECS[kernel].param_names for metric, kernel in KERNEL_METRICS.items()
}
"""scikit-learn's registry: metric name -> the parameters ``filter_params=True`` keeps."""


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
    """X is already the kernel matrix K(X, Y): checked as scikit-learn checks it (2-D, with one
    column per row of Y, so square when Y is None) and returned, X itself when it is a float32 or
    float64 array of the result dtype (any memory layout, as scikit-learn does), else a float64
    copy."""
    x = _as_matrix(X, "X")
    if Y is None or Y is X:
        n_indexed, y_dtype = x.shape[0], x.dtype
    else:
        y = _as_matrix(Y, "Y")
        n_indexed, y_dtype = y.shape[0], y.dtype
    if x.shape[1] != n_indexed:
        raise ValueError(
            f"X: precomputed metric requires shape (n_queries, n_indexed); got {x.shape} for "
            f"{n_indexed} indexed samples ("
            + ("Y=None: X must be square" if Y is None or Y is X else "Y's rows")
            + ")"
        )
    both_f32 = x.dtype == np.float32 and y_dtype == np.float32
    dtype = np.float32 if both_f32 else np.float64
    if out is None:
        return np.asarray(x, dtype=dtype)
    result = check_out(out, x.shape, dtype, [X, x], "X or Y")
    result[...] = x
    return result


def _kernelkit_gp_kernel(metric: Any, module: Any) -> tuple[KernelFunction, dict[str, Any]] | None:
    """kernelkit's function and its parameters for a scikit-learn Matern, RationalQuadratic or
    ExpSineSquared object (exactly those classes), else None."""
    if type(metric) is module.Matern:
        return matern_kernel, {"length_scale": metric.length_scale, "nu": metric.nu}
    if type(metric) is module.RationalQuadratic:
        return rational_quadratic_kernel, {
            "length_scale": metric.length_scale,
            "alpha": metric.alpha,
        }
    if type(metric) is module.ExpSineSquared:
        params = {"length_scale": metric.length_scale, "periodicity": metric.periodicity}
        return exp_sine_squared_kernel, params
    return None


def _gaussian_process_kernel(
    metric: Any,
    X: ArrayLike,
    Y: ArrayLike | None,
    out: NDArray[Any] | None,
    n_threads: int | None,
    **kwds: Any,
) -> FloatArray | None:
    """scikit-learn's GP kernels (``sklearn.gaussian_process.kernels.Kernel``) are called on the
    whole of X and Y, ``metric(X, Y, **kwds)``, not per pair of rows; None for other metrics.
    Matern, RationalQuadratic and ExpSineSquared objects are computed by kernelkit's own functions
    instead, in float64 as scikit-learn's objects compute."""
    module = sys.modules.get("sklearn.gaussian_process.kernels")
    if module is None or not isinstance(metric, module.Kernel):
        return None
    own = None if kwds else _kernelkit_gp_kernel(metric, module)
    if own is not None:
        function, params = own
        x64 = np.asarray(X, dtype=np.float64)
        y64 = None if Y is None or Y is X else np.asarray(Y, dtype=np.float64)
        return function(x64, y64, **params, out=out, n_threads=n_threads)
    x = np.asarray(X)
    result = np.asarray(metric(x, x if Y is None else np.asarray(Y), **kwds))
    if out is None:
        return result
    checked = check_out(out, result.shape, result.dtype.type, [X, Y, x], "X or Y")
    checked[...] = result
    return checked


def refuse_unexpected_params(
    params: Mapping[str, Any], accepted: frozenset[str], caller: str, kernel: str, hint: str = ""
) -> None:
    """``TypeError`` naming the keyword arguments in ``params`` that ``accepted`` lacks."""
    unexpected = sorted(set(params) - accepted)
    if unexpected:
        names = ", ".join(map(repr, unexpected))
        takes = ", ".join(sorted(accepted)) or "no parameters"
        raise TypeError(
            f"{caller} got unexpected keyword argument(s) {names} ({kernel} takes {takes}{hint})"
        )


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
        ``"rbf"``, ``"laplacian"``, ``"sigmoid"``, ``"cosine"`` (:data:`PAIRWISE_KERNEL_FUNCTIONS`),
        or ``"precomputed"``: X is then the kernel matrix K(X, Y) itself, of shape
        ``(n_samples_X, n_samples_Y)`` (square when Y is None), checked as scikit-learn checks it
        (``ValueError`` otherwise) and returned as is, the same object when it is a float64 array
        or float32 with Y None or float32, else a float64 copy; the kernel parameters are then
        ignored. Its values are not checked: NaN, Inf and zero rows pass through, as they do in
        kernelkit's kernels (scikit-learn refuses them here). A callable is called on each pair
        of rows, ``metric(x, y, **kwds)`` (slow, Python), except a scikit-learn Gaussian-process
        kernel, called once as ``metric(X, Y)``, as scikit-learn calls it; a ``Matern``,
        ``RationalQuadratic`` or ``ExpSineSquared`` object (exactly those classes, no ``kwds``)
        is computed by :func:`matern_kernel`, :func:`rational_quadratic_kernel` or
        :func:`exp_sine_squared_kernel` with its parameters instead, in float64 as scikit-learn's
        object computes (the GP kernels have no metric names of their own: scikit-learn's
        ``pairwise_kernels`` knows none). Anything else raises
        :class:`kernelkit.InvalidParameterError`.
    filter_params : bool, default False
        ``True`` drops the keyword arguments that the named kernel does not take
        (:data:`KERNEL_PARAMS`; ``dense_output`` too); ``False`` passes them on, and one the kernel
        does not take raises ``TypeError``, as in scikit-learn. Ignored for callables.
    n_jobs : int, optional
        scikit-learn's number of jobs, used here as the number of threads: ``None`` is
        ``n_threads=None`` (OpenMP's current maximum), ``-1`` all cores, ``-2`` all but one, a
        positive count that many threads; ``0`` raises ``ValueError`` except with
        ``"precomputed"`` (where scikit-learn ignores it), and a non-integer raises
        :class:`kernelkit.InvalidParameterError`. ``n_threads``, when given, takes precedence;
        ``n_jobs`` is still checked.
    out, n_threads
        As in :func:`linear_kernel` (``n_threads`` is checked whatever the metric).
    **kwds
        Parameters of the kernel (``gamma``, ``degree``, ``coef0``, ``dense_output``). As in
        scikit-learn, which skips the kernel's own range checks inside ``pairwise_kernels``, any
        real number is accepted here (a negative, infinite or NaN ``gamma``, ``degree=0``; the
        result is what the kernel's formula gives); a value that is not a real number (a string,
        ``None`` where the kernel has no default for it, an array of more than one element) raises
        :class:`kernelkit.InvalidParameterError`.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> kernelkit.pairwise_kernels(np.eye(2), metric="poly", degree=2, gamma=1.0, coef0=0.0)
    array([[1., 0.],
           [0., 1.]])
    """
    caller = "pairwise_kernels"
    if not (callable(metric) or (isinstance(metric, str) and metric in _METRIC_CHOICES)):
        raise InvalidParameterError(
            f"The 'metric' parameter of {caller} must be a str among "
            f"{{{', '.join(map(repr, sorted(_METRIC_CHOICES)))}}} or a callable. "
            f"Got {metric!r} instead."
        )
    filter_params = check_boolean(filter_params, "filter_params", caller)
    n_jobs = check_int_or_none(n_jobs, "n_jobs", caller)
    resolve_n_threads(n_threads)  # kernelkit's own argument: checked whatever the metric
    if isinstance(metric, str) and metric == "precomputed":
        return _precomputed(X, Y, out)  # scikit-learn never uses n_jobs here, 0 included
    if n_jobs == 0:
        raise ValueError(
            "n_jobs: 0 has no meaning (as in scikit-learn); use None for the default number of "
            "threads, a positive count, or -1 for all cores"
        )
    threads = n_threads if n_threads is not None else n_jobs
    if callable(metric):
        gp = _gaussian_process_kernel(metric, X, Y, out, threads, **kwds)
        if gp is not None:
            return gp
        return _callable_gram(metric, X, Y, out, **kwds)
    kernel = KERNEL_METRICS[metric]
    spec = KERNEL_SPECS[kernel]
    if filter_params:
        kwds = {k: v for k, v in kwds.items() if k in spec.param_names}
    accepted = spec.param_names | ({"dense_output"} if spec.dense_output else frozenset())
    refuse_unexpected_params(
        kwds,
        accepted,
        f"{spec.function}()",
        f"metric={metric!r}",
        "; filter_params=True drops the others",
    )
    return _run_kernel(kernel, X, Y, kwds, out, threads, nested_in=f"{caller}(metric={metric!r})")


_METRIC_CHOICES = frozenset([*KERNEL_METRICS, "precomputed"])
