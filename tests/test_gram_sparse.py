"""Gram kernels with scipy.sparse input, against scikit-learn.

Every kernel, every sparse format (CSR, CSC, COO; spmatrix and sparray), sparse X, sparse Y, both,
and Y=None, float32 and float64, every SIMD path: against scikit-learn called on the same input
(on the densified input for chi2 and additive_chi2, which scikit-learn only takes dense). The data
has empty rows, rows of explicit zeros, and the canonicalisation cases scipy allows (unsorted
indices, duplicate entries); output tiles are crossed in both directions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit

sp = pytest.importorskip("scipy.sparse")
pairwise = pytest.importorskip("sklearn.metrics.pairwise")

KERNELS = {
    "linear": ("linear_kernel", {}),
    "polynomial": ("polynomial_kernel", {"degree": 3, "gamma": 0.3, "coef0": 0.5}),
    "sigmoid": ("sigmoid_kernel", {"gamma": 0.2, "coef0": 0.1}),
    "rbf": ("rbf_kernel", {"gamma": 0.4}),
    "laplacian": ("laplacian_kernel", {"gamma": 0.3}),
    "cosine": ("cosine_similarity", {}),
    "chi2": ("chi2_kernel", {"gamma": 0.7}),
    "additive_chi2": ("additive_chi2_kernel", {}),
}
DENSE_ONLY_IN_SKLEARN = {"chi2", "additive_chi2"}
NONNEGATIVE = {"chi2", "additive_chi2"}

FORMATS: dict[str, Callable[[Any], Any]] = {
    "csr_matrix": sp.csr_matrix,
    "csc_matrix": sp.csc_matrix,
    "coo_matrix": sp.coo_matrix,
    "csr_array": sp.csr_array,
    "csc_array": sp.csc_array,
    "coo_array": sp.coo_array,
}
SIDES = ["X", "Y", "both", "Y=None"]


def sparse_data(rows: int, features: int, seed: int, nonnegative: bool) -> np.ndarray:
    """Dense rows with ~30 % non-zeros, an empty first row and a constant last row."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.1, 1.0, (rows, features)) * rng.choice([-1.0, 1.0], (rows, features))
    values = np.abs(values) if nonnegative else values
    values[rng.random((rows, features)) > 0.3] = 0.0
    values[0] = 0.0
    values[-1, :] = 0.5
    return values


def with_explicit_zeros(csr: Any, row: int) -> Any:
    """``csr`` (canonical CSR) with every feature of ``row`` stored, zeros included."""
    dense = csr.toarray()
    coo = sp.coo_matrix(dense)
    extra = np.setdiff1d(np.arange(dense.shape[1]), dense[row].nonzero()[0])
    rows = np.concatenate([coo.row, np.full(extra.size, row)])
    cols = np.concatenate([coo.col, extra])
    data = np.concatenate([coo.data, np.zeros(extra.size, dtype=csr.dtype)])
    result = type(csr)(sp.csr_matrix((data, (rows, cols)), shape=dense.shape))
    assert result.nnz > csr.nnz
    return result


def operands(kernel: str, side: str, fmt: str, dtype: type) -> tuple[Any, Any, np.ndarray, Any]:
    """(X, Y, dense X, dense Y or None) for a test, X 13 x 17 and Y 9 x 17."""
    nonnegative = kernel in NONNEGATIVE
    xd = sparse_data(13, 17, 1, nonnegative).astype(dtype)
    yd = sparse_data(9, 17, 2, nonnegative).astype(dtype)
    make = FORMATS[fmt]
    x = make(with_explicit_zeros(sp.csr_matrix(xd), row=3)) if side != "Y" else xd
    y = {"X": yd, "Y": make(sp.csr_matrix(yd)), "both": make(sp.csr_matrix(yd)), "Y=None": None}
    return x, y[side], xd, None if side == "Y=None" else yd


def sklearn_reference(kernel: str, x: Any, y: Any, xd: np.ndarray, yd: Any) -> np.ndarray:
    """scikit-learn's result in float64, on the sparse input where it takes it."""
    function = getattr(pairwise, KERNELS[kernel][0])
    params = KERNELS[kernel][1]
    if kernel in DENSE_ONLY_IN_SKLEARN:
        return function(
            xd.astype(np.float64), None if yd is None else yd.astype(np.float64), **params
        )
    as64 = [None if a is None else a.astype(np.float64) for a in (x, y)]
    return np.asarray(function(as64[0], as64[1], **params))


def tolerance(dtype: type) -> dict[str, float]:
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-6}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_against_sklearn(kernel, fmt, side, dtype, simd_path):
    x, y, xd, yd = operands(kernel, side, fmt, dtype)
    result = getattr(kernelkit, KERNELS[kernel][0])(x, y, **KERNELS[kernel][1])
    assert isinstance(result, np.ndarray)
    assert result.dtype == dtype
    assert result.shape == (13, 13 if y is None else 9)
    assert_allclose(result, sklearn_reference(kernel, x, y, xd, yd), **tolerance(dtype))
    if y is None:
        assert_array_equal(result, result.T)  # exactly symmetric


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_pairwise_kernels(kernel):
    x, y, xd, yd = operands(kernel, "both", "csr_array", np.float64)
    metric = "poly" if kernel == "polynomial" else kernel
    result = kernelkit.pairwise_kernels(x, y, metric=metric, **KERNELS[kernel][1])
    assert_allclose(result, sklearn_reference(kernel, x, y, xd, yd), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_unsorted_indices_and_duplicates_are_canonicalised(kernel):
    """Duplicate entries are summed (scipy's meaning) and unsorted indices sorted, on a copy."""
    xd = sparse_data(7, 11, 3, kernel in NONNEGATIVE)
    csr = sp.csr_matrix(xd)
    # Every stored value split into two halves, stored in reversed order within each row.
    data, indices = [], []
    for i in range(csr.shape[0]):
        row = slice(csr.indptr[i], csr.indptr[i + 1])
        data += [np.repeat(csr.data[row][::-1] / 2, 2)]
        indices += [np.repeat(csr.indices[row][::-1], 2)]
    messy = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), 2 * csr.indptr), shape=csr.shape
    )
    assert not messy.has_canonical_format
    before = (messy.data.copy(), messy.indices.copy())
    function = getattr(kernelkit, KERNELS[kernel][0])
    params = KERNELS[kernel][1]
    assert_allclose(function(messy, **params), function(xd, **params), rtol=1e-12, atol=1e-13)
    assert_allclose(function(xd, messy, **params), function(xd, **params), rtol=1e-12, atol=1e-13)
    assert_array_equal(messy.data, before[0])  # the caller's matrix is left as it was
    assert_array_equal(messy.indices, before[1])


@pytest.mark.parametrize("kernel", ["rbf", "cosine", "laplacian", "chi2", "additive_chi2"])
def test_exact_diagonal(kernel):
    x = sp.csr_matrix(sparse_data(20, 30, 4, kernel in NONNEGATIVE))
    result = getattr(kernelkit, KERNELS[kernel][0])(x, **KERNELS[kernel][1])
    expected = {"cosine": 1.0, "additive_chi2": 0.0}.get(kernel, 1.0)
    diagonal = np.diagonal(result)
    assert_array_equal(diagonal[1:], expected)  # row 0 is all zero
    assert diagonal[0] == (0.0 if kernel in ("cosine", "additive_chi2") else 1.0)


def mirror_block_side() -> int:
    """The side of the blocks the driver mirrors K(X, X)'s upper triangle by (from L1's size)."""
    return min(max(kernelkit.config()["cache_l1d"] // 128, 16), 1024) // 16 * 16


MIRROR_SIDE = mirror_block_side()


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "rows", [1, 2, 64, 65, MIRROR_SIDE - 1, MIRROR_SIDE + 1, 2 * MIRROR_SIDE + 3]
)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_y_none_mirrors_the_upper_triangle(kernel, rows, dtype, threads, simd_path):
    """K(X) is computed on and above the diagonal and mirrored: exactly symmetric, equal to the bit
    to the whole square K(X, copy of X) off the diagonal (the same sums in the same order), with
    every entry written (out= starts as NaN), against scikit-learn; sizes around the tiles of rows
    (up to 64) and the mirrored blocks, repeated rows (distance 0 off the diagonal)."""
    rng = np.random.default_rng(rows)
    xd = sparse_data(rows, 40, rows, kernel in NONNEGATIVE)
    xd[rng.integers(0, rows, rows // 5)] = xd[-1]
    x = sp.csr_matrix(xd.astype(dtype))
    function = getattr(kernelkit, KERNELS[kernel][0])
    params = KERNELS[kernel][1]
    out = np.full((rows, rows), np.nan, dtype=dtype)
    result = function(x, out=out, n_threads=threads, **params)
    assert_array_equal(result, result.T)
    square = function(x, x.copy(), n_threads=threads, **params)
    off_diagonal = ~np.eye(rows, dtype=bool)
    assert_array_equal(result[off_diagonal], square[off_diagonal])
    assert_allclose(result, sklearn_reference(kernel, x, None, xd, None), **tolerance(dtype))


def sparse_column_block(itemsize: int) -> int:
    """The rows of Y in one column block of the sparse driver with both operands sparse (as many
    as fill half of L1, for Y with more stored values than features)."""
    return max(256, kernelkit.config()["cache_l1d"] // 2 // itemsize)


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_y_none_across_column_blocks(kernel):
    """K(X)'s upper triangle where the tiles of rows start inside a later column block (the
    blocks left of them skipped, the first one computed from the tile's first row on)."""
    rows = 2 * sparse_column_block(8) + 3
    x = sp.random(rows, 60, density=0.1, format="csr", random_state=np.random.default_rng(6))
    function = getattr(kernelkit, KERNELS[kernel][0])
    params = KERNELS[kernel][1]
    result = function(x, **params)
    assert_array_equal(result, result.T)
    square = function(x, x.copy(), **params)
    off_diagonal = ~np.eye(rows, dtype=bool)
    assert_array_equal(result[off_diagonal], square[off_diagonal])
    assert_allclose(result, sklearn_reference(kernel, x, None, None, None), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("side", ["X", "Y", "both"])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "laplacian", "chi2"])
def test_many_output_tiles(kernel, side):
    """Many row blocks of X and several column blocks of Y, both sparse (see sparse_column_block)
    and with a dense operand (64-4096 rows per block)."""
    rng = np.random.default_rng(5)
    block = sparse_column_block(8)
    rows, features = (2 * block + 77, 40) if side == "both" else (700, 1000)
    y = sp.random(rows, features, density=0.05, format="csr", random_state=rng)
    x = sp.random(
        5 if side == "both" else 150, features, density=0.2, format="csr", random_state=rng
    )
    y.data = np.abs(y.data) + 0.1
    x.data = np.abs(x.data) + 0.1
    function = getattr(kernelkit, KERNELS[kernel][0])
    params = KERNELS[kernel][1]
    reference = function(x.toarray(), y.toarray(), **params)
    x = x.toarray() if side == "Y" else x
    y = y.toarray() if side == "X" else y
    assert_allclose(function(x, y, **params), reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", ["linear", "cosine"])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csr_array", "coo_array"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_output_false(kernel, fmt, dtype):
    """Sparse X and Y with dense_output=False give a sparse CSR result as scikit-learn does; a
    dense operand gives a dense array either way."""
    x, y, _, yd = operands(kernel, "both", fmt, dtype)
    function = getattr(kernelkit, KERNELS[kernel][0])
    for other in (y, None):
        result = function(x, other, dense_output=False)
        expected = getattr(pairwise, KERNELS[kernel][0])(x, other, dense_output=False)
        assert sp.issparse(result)
        assert result.format == "csr"
        assert result.dtype == dtype
        assert_allclose(result.toarray(), expected.toarray(), **tolerance(dtype))
    assert isinstance(function(x, yd, dense_output=False), np.ndarray)
    sparse_result = kernelkit.pairwise_kernels(x, y, metric=kernel, dense_output=False)
    assert sp.issparse(sparse_result)
    with pytest.raises(ValueError, match="out"):
        function(x, y, dense_output=False, out=np.empty((13, 9), dtype=dtype))


def test_dtype_rules():
    """float32 only when both operands are float32; integer and boolean data computed in float64."""
    xd = sparse_data(5, 6, 6, nonnegative=True)
    x32, x64 = sp.csr_matrix(xd.astype(np.float32)), sp.csr_matrix(xd)
    assert kernelkit.rbf_kernel(x32).dtype == np.float32
    assert kernelkit.rbf_kernel(x32, x32).dtype == np.float32
    assert kernelkit.rbf_kernel(x32, xd.astype(np.float32)).dtype == np.float32
    assert kernelkit.rbf_kernel(x32, x64).dtype == np.float64
    assert kernelkit.rbf_kernel(xd.astype(np.float32), x64).dtype == np.float64
    counts = sp.csr_matrix((xd * 10).astype(np.int32))
    assert_allclose(kernelkit.chi2_kernel(counts), pairwise.chi2_kernel(counts.toarray()))
    flags = sp.csr_matrix(xd > 0.5)
    assert_allclose(kernelkit.linear_kernel(flags), pairwise.linear_kernel(flags.astype(float)))


def test_out_and_threads(restore_num_threads):
    x, y, xd, yd = operands("rbf", "both", "csr_matrix", np.float64)
    expected = kernelkit.rbf_kernel(xd, yd, gamma=0.4)
    out = np.full((13, 9), np.nan)
    assert kernelkit.rbf_kernel(x, y, gamma=0.4, out=out, n_threads=1) is out
    assert_allclose(out, expected, rtol=1e-12, atol=1e-13)
    for threads in (2, -1, None):
        assert_allclose(kernelkit.rbf_kernel(x, y, gamma=0.4, n_threads=threads), out, rtol=1e-13)
    with pytest.raises(ValueError, match="out"):
        kernelkit.rbf_kernel(x, y, out=np.empty((9, 13)))
    with pytest.raises(ValueError, match="out"):
        kernelkit.rbf_kernel(x, y, out=np.empty((13, 9), dtype=np.float32))
    with pytest.raises(ValueError, match="n_threads"):
        kernelkit.rbf_kernel(x, y, n_threads=0)


def test_zero_size():
    empty = sp.csr_matrix((0, 4))
    assert kernelkit.rbf_kernel(empty).shape == (0, 0)
    assert kernelkit.linear_kernel(empty, np.ones((3, 4))).shape == (0, 3)
    assert kernelkit.cosine_similarity(np.ones((2, 4)), empty).shape == (2, 0)
    with pytest.raises(ValueError, match="0 features"):
        kernelkit.rbf_kernel(sp.csr_matrix((3, 0)))


@pytest.mark.parametrize("fmt", ["csr_matrix", "coo_array"])
def test_bad_input_raises(fmt):
    make = FORMATS[fmt]
    x = make(sp.csr_matrix(sparse_data(4, 5, 7, nonnegative=False)))
    with pytest.raises(ValueError, match="incompatible dimension"):
        kernelkit.rbf_kernel(x, make(sp.csr_matrix(np.ones((2, 6)))))
    with pytest.raises(ValueError, match="incompatible dimension"):
        kernelkit.rbf_kernel(x, np.ones((2, 6)))
    with pytest.raises(ValueError, match="X contains negative values"):
        kernelkit.chi2_kernel(x)
    with pytest.raises(ValueError, match="Y contains negative values"):
        kernelkit.additive_chi2_kernel(abs(x), x)
    nan = x.copy().tocsr()
    nan.data[0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        kernelkit.linear_kernel(nan)
    with pytest.raises(ValueError, match="Y contains NaN or infinity"):
        kernelkit.linear_kernel(x, np.full((2, 5), np.inf))
    with pytest.raises(TypeError, match="complex"):
        kernelkit.linear_kernel(x.astype(np.complex128))
    with pytest.raises(ValueError, match="2-D"):
        kernelkit.linear_kernel(sp.coo_array(np.ones(5)))


@pytest.mark.parametrize("kernel", ["rbf", "polynomial", "laplacian", "chi2", "sigmoid"])
def test_parameters_are_checked_as_for_dense_input(kernel):
    x = sp.csr_matrix(sparse_data(4, 5, 8, nonnegative=True))
    function = getattr(kernelkit, KERNELS[kernel][0])
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        function(x, gamma=-1.0)
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        function(x, gamma="big")


def test_unchecked_parameters_of_pairwise_kernels():
    """pairwise_kernels takes any real gamma (as scikit-learn): the formula's IEEE result."""
    x = sp.csr_matrix(sparse_data(4, 5, 9, nonnegative=False))
    result = kernelkit.pairwise_kernels(x, metric="rbf", gamma=np.inf)
    assert np.isnan(np.diagonal(result)).all()
    expected = pairwise.pairwise_kernels(x, metric="rbf", gamma=-0.5)
    assert_allclose(kernelkit.pairwise_kernels(x, metric="rbf", gamma=-0.5), expected)


def test_callable_and_precomputed_metrics_refuse_sparse_input():
    x = sp.csr_matrix(np.eye(3))
    with pytest.raises(TypeError, match="sparse"):
        kernelkit.pairwise_kernels(x, metric="precomputed")
    with pytest.raises(TypeError, match="sparse"):
        kernelkit.pairwise_kernels(x, metric=lambda a, b: float(a @ b))


def test_core_refuses_malformed_csr():
    """The binding checks what could make the driver read out of bounds."""
    LINEAR = kernelkit._core.GramKind.linear
    out = np.empty((2, 2))
    data, indptr = np.ones(2), np.array([0, 1, 2], dtype=np.int64)

    def call(indices, ptr=indptr, features=3):
        kernelkit._core.gram_sparse(LINEAR, (data, indices, ptr), None, out, features, [], 1)

    call(np.array([0, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="indices"):
        call(np.array([0, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="indices"):
        call(np.array([-1, 0], dtype=np.int64))
    with pytest.raises(ValueError, match="indptr"):
        call(np.array([0, 1], dtype=np.int64), ptr=np.array([0, 2, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="indptr"):
        call(np.array([0, 1], dtype=np.int64), ptr=np.array([0, 1, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="dtype"):
        call(np.array([0, 1], dtype=np.int32))
    unsorted = (np.ones(2), np.array([2, 0], dtype=np.int64), np.array([0, 2, 2], dtype=np.int64))
    with pytest.raises(ValueError, match="ascend"):
        kernelkit._core.gram_sparse(LINEAR, unsorted, None, out, 3, [], 1)
    with pytest.raises(ValueError, match="sparse"):
        kernelkit._core.gram_sparse(LINEAR, np.ones((2, 3)), None, out, 3, [], 1)


@pytest.mark.parametrize(
    ("function", "params"),
    [
        ("matern_kernel", {"length_scale": 1.3, "nu": 1.5}),
        ("matern_kernel", {"length_scale": 0.8, "nu": np.inf}),
        ("rational_quadratic_kernel", {"length_scale": 1.1, "alpha": 0.7}),
        ("exp_sine_squared_kernel", {"length_scale": 1.2, "periodicity": 2.0}),
    ],
)
@pytest.mark.parametrize("side", SIDES)
def test_gaussian_process_kernels(function, params, side):
    """The GP kernels take sparse input through the same spec and epilogue (dense kernelkit as
    the reference: tests/test_gram_gp.py checks it against scikit-learn's kernel objects)."""
    x, y, xd, yd = operands("rbf", side, "csr_array", np.float64)
    result = getattr(kernelkit, function)(x, y, **params)
    assert_allclose(result, getattr(kernelkit, function)(xd, yd, **params), rtol=1e-9, atol=1e-12)
    if y is None:
        assert_array_equal(result, result.T)
    with pytest.raises(ValueError, match="per feature"):
        kernelkit.matern_kernel(sp.csr_matrix(xd), length_scale=np.ones(17))


# The compiled entry point checks its CSR operands again (the Python layer passes canonical ones):
# a malformed (data, indices, indptr) must be refused before anything reads through it.
MALFORMED_CSR = {
    "decreasing indptr": ([1.0, 2.0, 3.0], [0, 1, 2], [0, 2, 1, 3]),
    "index past n_features": ([1.0, 2.0, 3.0], [0, 1, 4], [0, 2, 2, 3]),
    "negative index": ([1.0, 2.0, 3.0], [-1, 1, 2], [0, 2, 2, 3]),
    "unsorted row": ([1.0, 2.0, 3.0], [1, 0, 2], [0, 2, 2, 3]),
    "repeated index": ([1.0, 2.0, 3.0], [1, 1, 2], [0, 2, 2, 3]),
    "indptr past data": ([1.0, 2.0, 3.0], [0, 1, 2], [0, 2, 2, 4]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_CSR))
def test_the_compiled_entry_refuses_malformed_csr(case: str) -> None:
    from kernelkit import _core

    data, indices, indptr = MALFORMED_CSR[case]
    operand = (np.array(data), np.array(indices, np.int64), np.array(indptr, np.int64))
    out = np.empty((3, 3))
    with pytest.raises(ValueError, match="X: "):
        _core.gram_sparse(_core.GramKind.linear, operand, None, out, 4, [], 1)
    good = (np.array(data), np.array([0, 1, 2], np.int64), np.array([0, 2, 2, 3], np.int64))
    _core.gram_sparse(_core.GramKind.linear, good, None, out, 4, [], 1)
    dense = np.zeros((3, 4))
    dense[0, [0, 1]], dense[2, 2] = data[:2], data[2]
    np.testing.assert_allclose(out, dense @ dense.T)


def _core_linear(indices: list[int], indptr: list[int], n_features: int = 5) -> np.ndarray:
    """The private core call on a hand-made CSR of ones, without scipy's canonicalisation."""
    from kernelkit import _core

    data = np.ones(len(indices))
    x = (data, np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64))
    out = np.empty((len(indptr) - 1, len(indptr) - 1))
    _core.gram_sparse(_core.GramKind.__members__["linear"], x, None, out, n_features, [], 1)
    return out


@pytest.mark.parametrize(
    ("indices", "indptr"),
    [
        ([3, 4, 0, 1], [0, 2, 4]),  # each row's first index below the last row's last: allowed
        ([4, 0, 2], [0, 1, 1, 1, 3]),  # empty rows between
        ([], [0, 0, 0]),
        ([0, 1, 2, 3, 4], [0, 5]),
    ],
)
def test_the_core_takes_rows_that_each_ascend(indices: list[int], indptr: list[int]) -> None:
    out = _core_linear(indices, indptr)
    dense = np.zeros((len(indptr) - 1, 5))
    for row in range(len(indptr) - 1):
        dense[row, indices[indptr[row] : indptr[row + 1]]] = 1.0
    assert_array_equal(out, dense @ dense.T)


@pytest.mark.parametrize(
    ("indices", "indptr"),
    [
        ([1, 0], [0, 2]),  # a descent inside a row
        ([2, 2], [0, 2]),  # a repeated index
        ([0, 3, 1], [0, 1, 3]),  # a descent in a row that follows another
        ([3, 4, 5], [0, 2, 3]),  # past n_features at a row's first value
        ([-1, 2], [0, 2]),
        ([0, 5], [0, 2]),
    ],
)
def test_the_core_refuses_indices_that_do_not_ascend_or_lie_outside(
    indices: list[int], indptr: list[int]
) -> None:
    with pytest.raises(ValueError, match="indices must ascend within each row"):
        _core_linear(indices, indptr)
