"""scipy.sparse operands for the Gram kernels of :mod:`kernelkit.pairwise`.

X, Y or both may be a scipy.sparse matrix or array in any format (CSR, CSC, COO, ...; spmatrix and
sparray). Each sparse operand is handed to the compiled core as canonical CSR (indices ascending,
duplicates summed: a copy only where the input is not already so, O(nnz)); the Gram matrix is then
computed from the sparse structure in tiles (cpp/src/gram_sparse_driver.cpp), never from a
densified copy; so are the rows of K and the kernel sums ``K @ v`` of :mod:`kernelkit.kernel_sums`
(those without the whole matrix either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from . import _core, pairwise
from ._validation import c_aligned, check_out

# A sparse operand as the core takes it, (data, indices, indptr) of canonical CSR, or a dense one.
CoreOperand = Union[tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]], NDArray[Any]]


def is_sparse(a: object) -> bool:
    """Whether ``a`` is a scipy.sparse matrix or array (without importing scipy)."""
    return type(a).__module__.startswith("scipy.sparse") and hasattr(a, "tocsr")


def _check_dtype(a: Any, name: str) -> None:
    """Refuse the dtypes the kernels cannot take, as for dense input."""
    dtype = np.dtype(a.dtype)
    if dtype.kind == "c":
        raise TypeError(f"{name}: complex input is not supported")
    if dtype.kind not in "biuf":
        raise TypeError(f"{name}: cannot convert dtype {dtype} to float64")


def _canonical_csr(a: Any, name: str, dtype: type[np.floating[Any]]) -> Any:
    """``a`` as CSR of ``dtype``, indices ascending, duplicates summed (scipy's meaning)."""
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix, got shape {a.shape}")
    csr = a.tocsr().astype(dtype, copy=False)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


def _check_values(values: NDArray[Any], name: str, nonnegative: bool) -> None:
    if not np.isfinite(values).all():
        raise ValueError(
            f"{name} contains NaN or infinity: with sparse input (on either side) the values must "
            "be finite, as scikit-learn requires"
        )
    if nonnegative and (values < 0).any():
        raise ValueError(f"{name} contains negative values.")


@dataclass(frozen=True)
class SparsePair:
    """X and Y validated for the sparse Gram driver: each canonical CSR (scipy) or a dense array of
    the result dtype; ``y`` is None for ``K(X, X)``."""

    x: Any
    y: Any
    dtype: type[np.floating[Any]]

    @classmethod
    def of(cls, X: Any, Y: Any, nonnegative: bool) -> SparsePair:
        """Validate X and Y (at least one sparse) as the dense functions validate theirs, plus
        finiteness of every value (scikit-learn's rule) and, for chi2, non-negativity."""
        symmetric = Y is None or Y is X
        operands = [("X", X)] if symmetric else [("X", X), ("Y", Y)]
        checked: dict[str, Any] = {}
        for name, a in operands:
            if is_sparse(a):
                _check_dtype(a, name)
            checked[name] = a if is_sparse(a) else pairwise._as_matrix(a, name)
        both_f32 = all(a.dtype == np.float32 for a in checked.values())
        dtype: type[np.floating[Any]] = np.float32 if both_f32 else np.float64
        converted = {
            name: _canonical_csr(a, name, dtype) if is_sparse(a) else c_aligned(a, dtype=dtype)
            for name, a in checked.items()
        }
        x, y = converted["X"], converted.get("Y")
        pairwise._check_shapes(x.shape, None if y is None else y.shape)
        for name, a in converted.items():
            _check_values(_arrays_of(a)[0], name, nonnegative)
        return cls(x, y, dtype)

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def both_sparse(self) -> bool:
        return is_sparse(self.x) and (self.y is None or is_sparse(self.y))

    @property
    def m(self) -> int:
        """The number of rows of Y (of X when ``y`` is None)."""
        return int((self.x if self.y is None else self.y).shape[0])

    def gram(
        self,
        kind: Any,
        params: list[float],
        out: NDArray[Any] | None,
        n_threads: int,
        inputs: list[Any],
    ) -> NDArray[Any]:
        """The dense Gram matrix ``K(X, Y)`` of the compiled kernel ``kind`` (a _core.GramKind)
        with its parameters in the spec's order."""
        parts = [p for a in (self.x, self.y) for p in _arrays_of(a)]
        result = check_out(out, (self.x.shape[0], self.m), self.dtype, inputs + parts, "X or Y")
        _core.gram_sparse(kind, *self._core_operands(), result, self.n_features, params, n_threads)
        return result

    def matvec(
        self,
        kind: Any,
        params: list[float],
        weights: NDArray[np.float64],
        out: NDArray[np.float64],
        n_threads: int,
    ) -> None:
        """``out = K(X, Y) @ weights`` (float64, 2-D): each row segment of K computed from the
        sparse structure and multiplied into float64 sums at once, never the whole matrix."""
        x, y = self._core_operands()
        _core.gram_sparse_matvec(kind, x, y, weights, out, self.n_features, params, n_threads)

    def rows(
        self,
        kind: Any,
        params: list[float],
        index: NDArray[np.int64],
        out: NDArray[Any],
        n_threads: int,
    ) -> None:
        """``out = K(X, Y)[index]`` (int64 row numbers of X in [0, n)), only those rows."""
        x, y = self._core_operands()
        _core.gram_sparse_rows(kind, x, index, y, out, self.n_features, params, n_threads)

    def _core_operands(self) -> tuple[CoreOperand, CoreOperand | None]:
        return _core_operand(self.x), None if self.y is None else _core_operand(self.y)

    def sparse_product(self, kind: str) -> Any:
        """``K(X, Y)`` as a sparse CSR matrix (of X's scipy type) for ``dense_output=False``:
        ``X @ Y.T`` by scipy for linear, of the rows scaled to unit norm for cosine, as
        scikit-learn computes it."""
        x, y = self.x, self.x if self.y is None else self.y
        if kind == "cosine":
            x, y = _unit_rows(x), (None if self.y is None else _unit_rows(y))
            y = x if y is None else y
        return (x @ y.T).tocsr()


def _arrays_of(a: Any) -> list[NDArray[Any]]:
    """The ndarrays an operand's values live in (for out='s aliasing check)."""
    if a is None:
        return []
    return [a.data, a.indices, a.indptr] if is_sparse(a) else [a]


def _core_operand(a: Any) -> CoreOperand:
    if not is_sparse(a):
        return a  # type: ignore[no-any-return]
    data = c_aligned(a.data)
    return data, a.indices.astype(np.int64, copy=False), a.indptr.astype(np.int64, copy=False)


def _unit_rows(csr: Any) -> Any:
    """``csr`` with every row scaled to unit Euclidean norm; all-zero rows stay zero."""
    counts = np.diff(csr.indptr)
    rows = np.repeat(np.arange(csr.shape[0]), counts)
    sq_norms = np.bincount(
        rows, weights=np.square(csr.data, dtype=np.float64), minlength=csr.shape[0]
    )
    with np.errstate(divide="ignore"):
        inverse = np.where(sq_norms > 0, 1.0 / np.sqrt(sq_norms), 0.0)
    scaled = csr.copy()
    scaled.data = (csr.data * np.repeat(inverse, counts)).astype(csr.dtype, copy=False)
    return scaled
