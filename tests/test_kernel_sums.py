"""kernel_matvec and kernel_rows against dense products, for every Gram kernel.

The references are scikit-learn's kernels in float64 for the kernels scikit-learn has (kernelkit's
own dense Gram function in float64 for any other kernel of KERNEL_SPECS), times v in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.pairwise import KERNEL_METRICS, KERNEL_SPECS

sklearn_pairwise = pytest.importorskip("sklearn.metrics.pairwise")

METRICS = sorted({*KERNEL_SPECS, *KERNEL_METRICS})  # names and metric names
# Parameters away from the defaults, for the kernels that take them.
PARAMS = {
    "poly": {"degree": 2, "gamma": 0.3, "coef0": 0.5},
    "polynomial": {"degree": 3.0, "gamma": 0.2},
    "rbf": {"gamma": 0.7},
    "laplacian": {"gamma": 0.4},
    "sigmoid": {"gamma": 0.1, "coef0": -0.2},
    "chi2": {"gamma": 0.5},
}
# |result - K @ v| <= TOLERANCE * (|K| @ |v|): float32 entries of K, float64 sums.
TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}


def dense_reference(metric, X, Y, **params):
    """K(X, Y) in float64 from scikit-learn (kernelkit's float64 Gram where sklearn lacks it)."""
    X64 = np.asarray(X, np.float64)
    Y64 = None if Y is None else np.asarray(Y, np.float64)
    if metric in sklearn_pairwise.PAIRWISE_KERNEL_FUNCTIONS:
        return sklearn_pairwise.pairwise_kernels(X64, Y64, metric=metric, **params)
    return kernelkit_gram(metric, X64, Y64, **params)


def kernelkit_gram(metric, X, Y, **params):
    """kernelkit's dense Gram matrix of the kernel named (or metric-named) ``metric``."""
    spec = KERNEL_SPECS[KERNEL_METRICS.get(metric, metric)]
    return getattr(kernelkit, spec.function)(X, Y, **params)


def data(n, m, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    # non-negative for the chi2 kernels; a common offset for rbf's centring
    return rng.random((n, d)).astype(dtype) + 0.5, rng.random((m, d)).astype(dtype) + 0.5


def assert_close_to_product(result, K, v, dtype):
    expected = K @ np.asarray(v, np.float64)
    scale = np.abs(K) @ np.abs(np.asarray(v, np.float64))
    assert result.shape == expected.shape
    assert np.all(np.abs(result - expected) <= TOLERANCE[dtype] * scale + 1e-300)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("columns", [None, 1, 3])
@pytest.mark.parametrize("with_y", [True, False])
def test_kernel_matvec_matches_dense_product(simd_path, metric, dtype, columns, with_y):
    X, Y = data(263, 517, 13, dtype)
    Y = Y if with_y else None
    m = X.shape[0] if Y is None else Y.shape[0]
    rng = np.random.default_rng(1)
    v = rng.standard_normal(m if columns is None else (m, columns))
    params = PARAMS.get(metric, {})
    result = kernelkit.kernel_matvec(X, Y, v, metric, **params)
    assert result.dtype == dtype
    assert_close_to_product(result, dense_reference(metric, X, Y, **params), v, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "m"), [(1, 1), (7, 3001), (241, 239), (1000, 3)])
def test_kernel_matvec_shapes(dtype, n, m):
    """Row blocks, and few rows split over column groups (7 x 3001), with odd edges."""
    X, Y = data(n, m, 5, dtype, seed=n)
    v = np.random.default_rng(2).standard_normal((m, 2))
    result = kernelkit.kernel_matvec(X, Y, v, "rbf", gamma=0.3)
    assert_close_to_product(result, dense_reference("rbf", X, Y, gamma=0.3), v, dtype)


def test_kernel_matvec_same_for_every_thread_count():
    X, Y = data(50, 4000, 9, np.float32)
    v = np.random.default_rng(3).standard_normal(4000)
    one = kernelkit.kernel_matvec(X, Y, v, n_threads=1)
    assert np.array_equal(one, kernelkit.kernel_matvec(X, Y, v, n_threads=2))
    assert np.array_equal(one, kernelkit.kernel_matvec(X, Y, v, n_threads=3))


def test_kernel_matvec_float32_sums_in_float64():
    """A long float32 sum of equal terms: float32 accumulation would be off by ~1e-3 here."""
    X = np.zeros((3, 2), np.float32)
    v = np.full(300_000, 0.1)
    result = kernelkit.kernel_matvec(X, np.zeros((300_000, 2), np.float32), v, "rbf")
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, 30_000.0, rtol=2e-7)


def test_kernel_matvec_empty_inputs():
    X, Y = data(4, 6, 3, np.float64)
    assert kernelkit.kernel_matvec(X[:0], Y, np.ones(6)).shape == (0,)
    np.testing.assert_array_equal(kernelkit.kernel_matvec(X, Y[:0], np.ones(0)), np.zeros(4))
    assert kernelkit.kernel_matvec(X, Y, np.ones((6, 0))).shape == (4, 0)


def test_kernel_matvec_inf_row_as_the_gram_function():
    X, Y = data(20, 30, 4, np.float64)
    X[3, 1] = np.inf
    v = np.random.default_rng(4).standard_normal(30)
    K = kernelkit.rbf_kernel(X, Y, gamma=0.5)
    np.testing.assert_allclose(kernelkit.kernel_matvec(X, Y, v, gamma=0.5), K @ v, rtol=1e-13)
    assert np.all(K[3] == 0.0)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_y", [True, False])
def test_kernel_rows_match_dense_rows(simd_path, metric, dtype, with_y):
    X, Y = data(300, 251, 11, dtype)
    Y = Y if with_y else None
    rows = [0, 299, 17, 17, -2, 150]
    params = PARAMS.get(metric, {})
    result = kernelkit.kernel_rows(X, rows, Y, metric, **params)
    assert result.dtype == dtype
    assert result.shape == (6, 300 if Y is None else 251)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    reference = dense_reference(metric, X, Y, **params)[rows]
    np.testing.assert_allclose(result, reference, rtol=rtol, atol=rtol)
    same_dtype = kernelkit_gram(metric, X, Y, **params)[rows]
    np.testing.assert_allclose(result, same_dtype, rtol=4 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("metric", ["rbf", "cosine"])
def test_kernel_rows_exact_diagonal(metric):
    X, _ = data(400, 1, 7, np.float32)
    rows = np.array([3, 250, 399])
    result = kernelkit.kernel_rows(X, rows, kernel=metric)
    assert np.all(result[np.arange(3), rows] == 1.0)


def test_kernel_rows_many_features_and_empty():
    X, Y = data(40, 30, 70_000, np.float32)  # fewer gathered rows per block than a tile
    rows = np.arange(40)[::-1]
    np.testing.assert_allclose(
        kernelkit.kernel_rows(X, rows, Y, "linear"),
        dense_reference("linear", X, Y)[rows],
        rtol=1e-5,
    )
    assert kernelkit.kernel_rows(X, [], Y).shape == (0, 30)


def test_errors_name_the_argument():
    X, Y = data(5, 4, 3, np.float64)
    with pytest.raises(kernelkit.InvalidParameterError, match="'kernel' parameter"):
        kernelkit.kernel_matvec(X, Y, np.ones(4), kernel="gaussian")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'degree'"):
        kernelkit.kernel_matvec(X, Y, np.ones(4), kernel="rbf", degree=2)
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        kernelkit.kernel_rows(X, [0], Y, kernel="rbf", gamma=-1.0)
    with pytest.raises(ValueError, match="v: expected shape"):
        kernelkit.kernel_matvec(X, Y, np.ones(5))
    with pytest.raises(ValueError, match="v: expected shape"):
        kernelkit.kernel_matvec(X, Y, np.ones((4, 1, 1)))
    with pytest.raises(TypeError, match="v: expected real"):
        kernelkit.kernel_matvec(X, Y, np.ones(4, complex))
    with pytest.raises(IndexError, match="rows"):
        kernelkit.kernel_rows(X, [5], Y)
    with pytest.raises(ValueError, match="rows: expected a 1-D"):
        kernelkit.kernel_rows(X, [[0]], Y)
    with pytest.raises(TypeError, match="rows: expected integers"):
        kernelkit.kernel_rows(X, [0.5], Y)
    with pytest.raises(ValueError, match="negative"):
        kernelkit.kernel_matvec(-X, Y, np.ones(4), kernel="chi2")
    with pytest.raises(ValueError, match="Y: incompatible dimension"):
        kernelkit.kernel_matvec(X, Y[:, :2], np.ones(4))
