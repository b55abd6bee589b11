"""kernel_matvec and kernel_rows with scipy.sparse X, Y or both, for every Gram kernel.

Two references for each result: scikit-learn's kernel (kernelkit's dense float64 Gram function for
the kernels scikit-learn lacks) of the densified input in float64, times v (within the rounding of
the sparse Gram entries), and kernelkit's own sparse Gram matrix of the same input and dtype (the
same entries: rows equal to the bit, sums equal to that matrix times v in float64 up to the
rounding of float64 sums). The data has an empty row, a row of explicit zeros, a constant row;
sparse X and Y in every scipy format, unsorted indices and duplicates, Y=None with its exact
diagonal, several output column blocks and column groups.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import kernelkit
from kernelkit.pairwise import KERNEL_METRICS, KERNEL_SPECS

sp = pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")
from test_gram_sparse import FORMATS, sparse_data, with_explicit_zeros  # noqa: E402
from test_kernel_sums import METRICS, PARAMS, dense_reference, kernelkit_gram  # noqa: E402

SIDES = ["X", "Y", "both", "Y=None"]
# |result - K @ v| <= TOLERANCE * (|K| @ |v|) against the float64 reference: the sparse path's
# float32 entries carry the rounding of |x|^2 + |y|^2 - 2 <x, y> (no centring), see pairwise.
TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}


def nonnegative(metric: str) -> bool:
    return KERNEL_SPECS[KERNEL_METRICS.get(metric, metric)].nonnegative


def operands(
    metric: str, side: str, dtype: type, fmt: str = "csr_array", n: int = 41, m: int = 29
) -> tuple[Any, Any, np.ndarray, np.ndarray | None]:
    """(X, Y, dense X, dense Y or None): the sparse side(s) in format ``fmt``, X with a row of
    explicit zeros (row 3), both with an empty first row and a constant last row."""
    xd = sparse_data(n, 23, 1, nonnegative(metric)).astype(dtype)
    yd = sparse_data(m, 23, 2, nonnegative(metric)).astype(dtype)
    make = FORMATS[fmt]
    x = xd if side == "Y" else make(with_explicit_zeros(sp.csr_matrix(xd), row=3))
    y = {"X": yd, "Y": make(sp.csr_matrix(yd)), "both": make(sp.csr_matrix(yd)), "Y=None": None}
    return x, y[side], xd, None if side == "Y=None" else yd


def weights(m: int, columns: int | None, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(m if columns is None else (m, columns))


def assert_close_to_product(result, K, v, rtol):
    """|result - K @ v| <= rtol * (|K| @ |v|), K and v in float64."""
    K, v = np.asarray(K, np.float64), np.asarray(v, np.float64)
    assert result.shape == (K @ v).shape
    assert np.all(np.abs(result - K @ v) <= rtol * (np.abs(K) @ np.abs(v)) + 1e-300)


def unsorted_with_duplicates(csr: Any) -> Any:
    """``csr`` with every stored value split into two halves, in reversed order within each row
    (scipy's meaning: the same matrix, not in canonical format)."""
    data, indices = [], []
    for i in range(csr.shape[0]):
        row = slice(csr.indptr[i], csr.indptr[i + 1])
        data.append(np.repeat(csr.data[row][::-1] / 2, 2))
        indices.append(np.repeat(csr.indices[row][::-1], 2))
    messy = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), 2 * csr.indptr), shape=csr.shape
    )
    assert not messy.has_canonical_format
    return messy


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("columns", [None, 3])
def test_kernel_matvec_matches_dense_product(simd_path, metric, dtype, side, columns):
    x, y, xd, yd = operands(metric, side, dtype)
    v = weights(xd.shape[0] if yd is None else yd.shape[0], columns)
    params = PARAMS.get(metric, {})
    result = kernelkit.kernel_matvec(x, y, v, metric, **params)
    assert result.dtype == dtype
    assert_close_to_product(result, dense_reference(metric, xd, yd, **params), v, TOLERANCE[dtype])
    same_entries = kernelkit_gram(metric, x, y, **params)  # the sparse Gram matrix, this dtype
    assert_close_to_product(result, same_entries, v, 4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("side", SIDES)
def test_kernel_rows_match_dense_rows(metric, dtype, side):
    """Rows with repeats and negative row numbers; equal to the sparse Gram matrix's rows."""
    x, y, xd, yd = operands(metric, side, dtype)
    rows = [0, 40, 3, 3, -1, -41, 17]
    params = PARAMS.get(metric, {})
    result = kernelkit.kernel_rows(x, rows, y, metric, **params)
    assert result.dtype == dtype
    assert result.shape == (len(rows), 41 if y is None else 29)
    reference = dense_reference(metric, xd, yd, **params)[rows]
    np.testing.assert_allclose(result, reference, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert_array_equal(result, kernelkit_gram(metric, x, y, **params)[rows])


@pytest.mark.parametrize("metric", ["rbf", "cosine", "laplacian", "chi2", "additive_chi2"])
def test_kernel_rows_exact_diagonal(metric):
    """Y=None: K[i, i] exactly as the Gram functions give it (row 0 is empty)."""
    x = operands(metric, "Y=None", np.float32)[0]
    rows = np.array([0, 3, 20, 40, 3])
    diagonal = kernelkit.kernel_rows(x, rows, kernel=metric)[np.arange(5), rows]
    assert_array_equal(diagonal, np.diagonal(kernelkit_gram(metric, x, None))[rows])
    expected = {"cosine": 1.0, "additive_chi2": 0.0}.get(metric, 1.0)
    assert_array_equal(diagonal[1:], expected)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("side", SIDES)
def test_every_sparse_format(fmt, side):
    x, y, xd, yd = operands("rbf", side, np.float64, fmt)
    v = weights(xd.shape[0] if yd is None else yd.shape[0], 2)
    expected = dense_reference("rbf", xd, yd, gamma=0.2)
    assert_close_to_product(kernelkit.kernel_matvec(x, y, v, gamma=0.2), expected, v, 1e-12)
    rows = kernelkit.kernel_rows(x, [2, -3], y, gamma=0.2)
    np.testing.assert_allclose(rows, expected[[2, -3]], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("metric", ["linear", "rbf", "laplacian", "chi2"])
def test_unsorted_indices_and_duplicates(metric):
    """Non-canonical CSR is summed and sorted on a copy; the caller's matrix is left alone."""
    xd = sparse_data(17, 11, 3, nonnegative(metric))
    messy = unsorted_with_duplicates(sp.csr_matrix(xd))
    before = (messy.data.copy(), messy.indices.copy())
    v = weights(17, 2)
    K = dense_reference(metric, xd, xd)
    for y in (None, messy, xd):
        assert_close_to_product(kernelkit.kernel_matvec(messy, y, v, metric), K, v, 1e-12)
    assert_close_to_product(kernelkit.kernel_matvec(xd, messy, v, metric), K, v, 1e-12)
    np.testing.assert_allclose(
        kernelkit.kernel_rows(messy, [5, 1], None, metric), K[[5, 1]], rtol=1e-12, atol=1e-13
    )
    assert_array_equal(messy.data, before[0])
    assert_array_equal(messy.indices, before[1])


@pytest.mark.parametrize("side", ["X", "Y", "both"])
@pytest.mark.parametrize("metric", ["linear", "rbf", "laplacian", "chi2"])
def test_many_column_blocks_same_for_every_thread_count(metric, side):
    """Several output column blocks (both sparse: a block is as many rows of Y as fill half of
    L2; a dense operand: 64 to 4096 of its rows), few rows of X so that the column blocks are
    split over groups with partial sums, and more than one row block of 64; the result does not
    depend on n_threads."""
    rng = np.random.default_rng(5)
    block = max(1024, kernelkit.config()["cache_l2"] // 2 // 8)
    m, n, features = (2 * block + 77, 5, 40) if side == "both" else (700, 150, 1000)
    y = sp.random(m, features, density=0.05, format="csr", random_state=rng)
    x = sp.random(n, features, density=0.2, format="csr", random_state=rng)
    y.data, x.data = np.abs(y.data) + 0.1, np.abs(x.data) + 0.1
    v = weights(m, 2)
    expected = dense_reference(metric, x.toarray(), y.toarray())
    x = x.toarray() if side == "Y" else x
    y = y.toarray() if side == "X" else y
    one = kernelkit.kernel_matvec(x, y, v, metric, n_threads=1)
    assert_close_to_product(one, expected, v, 1e-12)
    for threads in (2, 3):
        assert_array_equal(kernelkit.kernel_matvec(x, y, v, metric, n_threads=threads), one)


def test_float32_sums_in_float64():
    """A long float32 sum of equal terms (all rows empty: K = 1): float32 sums would drift."""
    x = sp.csr_matrix((3, 2), dtype=np.float32)
    y = sp.csr_matrix((300_000, 2), dtype=np.float32)
    result = kernelkit.kernel_matvec(x, y, np.full(300_000, 0.1), "rbf")
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, 30_000.0, rtol=2e-7)


def test_dtype_rules():
    """float32 only when both operands are float32; integer data in float64, as the Gram."""
    xd = sparse_data(6, 5, 6, nonnegative=True)
    x32, v = sp.csr_matrix(xd.astype(np.float32)), np.ones(6)
    assert kernelkit.kernel_matvec(x32, None, v).dtype == np.float32
    assert kernelkit.kernel_matvec(x32, xd.astype(np.float32), v).dtype == np.float32
    assert kernelkit.kernel_matvec(x32, xd, v).dtype == np.float64
    assert kernelkit.kernel_rows(x32, [0], xd).dtype == np.float64
    counts = sp.csr_matrix((xd * 10).astype(np.int32))
    expected = dense_reference("chi2", counts.toarray(), None) @ v
    np.testing.assert_allclose(kernelkit.kernel_matvec(counts, None, v, "chi2"), expected)


def test_empty_inputs():
    x, y, _, _ = operands("rbf", "both", np.float64)
    assert kernelkit.kernel_matvec(x[:0], y, np.ones(29)).shape == (0,)
    assert_array_equal(kernelkit.kernel_matvec(x, y[:0], np.ones(0)), np.zeros(41))
    assert kernelkit.kernel_matvec(x, None, np.ones((41, 0))).shape == (41, 0)
    assert kernelkit.kernel_rows(x, [], y).shape == (0, 29)
    assert kernelkit.kernel_rows(x, [1], y[:0]).shape == (1, 0)


def test_no_dense_copy_and_no_gram_matrix():
    """The Python side allocates O(nnz + n k) for 2000 x 2000 sparse operands (a dense K would be
    32 MB, a densified X 8 MB); the core's own memory is stated in kernel_sums' docstring."""
    rng = np.random.default_rng(7)
    x = sp.random(2000, 500, density=0.01, format="coo", random_state=rng)
    v = rng.standard_normal((2000, 2))
    tracemalloc.start()
    try:
        result = kernelkit.kernel_matvec(x, x.tocsc(), v, gamma=0.1)
        rows = kernelkit.kernel_rows(x, [0, 1], None, gamma=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # canonical CSR copies and indices (~0.5 MB), result, rows
    K = dense_reference("rbf", x.toarray(), None, gamma=0.1)
    assert_close_to_product(result, K, v, 1e-12)
    np.testing.assert_allclose(rows, K[:2], rtol=1e-12, atol=1e-13)


def test_errors_as_for_the_sparse_gram_functions():
    x, y, _, _ = operands("rbf", "both", np.float64)
    v = np.ones(29)
    with pytest.raises(ValueError, match="X contains negative values"):
        kernelkit.kernel_matvec(x, y, v, kernel="chi2")
    with pytest.raises(ValueError, match="Y contains negative values"):
        kernelkit.kernel_rows(abs(x), [0], y, kernel="additive_chi2")
    nan = x.tocsr(copy=True)
    nan.data[0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        kernelkit.kernel_matvec(nan, y, v)
    with pytest.raises(ValueError, match="Y contains NaN or infinity"):
        kernelkit.kernel_matvec(x, np.full((29, 23), np.inf), v)
    with pytest.raises(ValueError, match="incompatible dimension"):
        kernelkit.kernel_matvec(x, y[:, :5], v)
    with pytest.raises(TypeError, match="complex"):
        kernelkit.kernel_rows(x.astype(np.complex128), [0])
    with pytest.raises(ValueError, match="per feature"):
        kernelkit.kernel_matvec(x, y, v, kernel="matern", length_scale=np.ones(23))
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'dense_output'"):
        kernelkit.kernel_matvec(x, y, v, kernel="linear", dense_output=False)
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        kernelkit.kernel_rows(x, [0], y, gamma=-1.0)
    with pytest.raises(ValueError, match="v: expected shape"):
        kernelkit.kernel_matvec(x, y, np.ones(41))
    with pytest.raises(IndexError, match="rows"):
        kernelkit.kernel_rows(x, [41], y)
    with pytest.raises(ValueError, match="n_threads"):
        kernelkit.kernel_matvec(x, y, v, n_threads=0)


def test_core_checks_rows_and_shapes():
    """The bindings refuse what could read or write out of bounds."""
    x, _, _, _ = operands("linear", "Y=None", np.float64)
    csr = x.tocsr()
    operand = (csr.data, csr.indices.astype(np.int64), csr.indptr.astype(np.int64))
    linear = kernelkit._core.GramKind.linear
    out = np.empty((1, 41))
    with pytest.raises(ValueError, match="rows"):
        kernelkit._core.gram_sparse_rows(linear, operand, np.array([41]), None, out, 23, [], 1)
    with pytest.raises(ValueError, match="v"):
        kernelkit._core.gram_sparse_matvec(
            linear, operand, None, np.ones((40, 1)), np.empty((41, 1)), 23, [], 1
        )
    with pytest.raises(ValueError, match="sparse"):
        kernelkit._core.gram_sparse_matvec(
            linear, np.ones((41, 23)), None, np.ones((41, 1)), np.empty((41, 1)), 23, [], 1
        )
