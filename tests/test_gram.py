"""Gram-matrix kernels against scikit-learn and an independent float64 NumPy reference.

Every kernel is checked for float32 and float64, every SIMD path, odd sizes (1, primes, sizes
that are not multiples of any vector width or tile), ``Y`` given and ``Y=None``, non-contiguous and
zero-size inputs, ``out=``, threads, exact symmetry and diagonals, and bad input.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit


def require_sklearn_pairwise():
    """``sklearn.metrics.pairwise``, or skip the calling test when scikit-learn is missing."""
    pytest.importorskip("sklearn")
    from sklearn.metrics import pairwise

    return pairwise


# ---------------------------------------------------------------------------------------------
# Independent float64 references (direct formulas, blocked over rows to bound the memory)
# ---------------------------------------------------------------------------------------------


def _blocked(x: np.ndarray, y: np.ndarray, pair: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """``pair(x[i], y[j])`` reduced over the features, for all i, j, in float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m, d = x.shape[0], y.shape[0], x.shape[1]
    result = np.empty((n, m), dtype=np.float64)
    step = max(1, 2_000_000 // max(1, m * d))
    for i in range(0, n, step):
        result[i : i + step] = pair(x[i : i + step, None, :], y[None, :, :])
    return result


def _dot(x, y):
    return _blocked(x, y, lambda a, b: (a * b).sum(-1))


def _sq_dist(x, y):
    return _blocked(x, y, lambda a, b: ((a - b) ** 2).sum(-1))


def _l1_dist(x, y):
    return _blocked(x, y, lambda a, b: np.abs(a - b).sum(-1))


def _chi2_terms(a, b):
    num = (a - b) ** 2
    den = np.broadcast_to(a + b, num.shape)
    terms = np.zeros(num.shape)
    np.divide(num, den, out=terms, where=den != 0)  # 0/0 counts as 0
    return terms.sum(-1)


def _gamma(gamma: float | None, d: int) -> float:
    return 1.0 / d if gamma is None else float(gamma)


def ref_linear(x, y):
    return _dot(x, y)


def ref_polynomial(x, y, degree=3, gamma=None, coef0=1):
    g = _gamma(gamma, x.shape[1])
    return (g * _dot(x, y) + coef0) ** degree


def ref_sigmoid(x, y, gamma=None, coef0=1):
    g = _gamma(gamma, x.shape[1])
    return np.tanh(g * _dot(x, y) + coef0)


def ref_rbf(x, y, gamma=None):
    g = _gamma(gamma, x.shape[1])
    return np.exp(-g * _sq_dist(x, y))


def ref_laplacian(x, y, gamma=None):
    g = _gamma(gamma, x.shape[1])
    return np.exp(-g * _l1_dist(x, y))


def _unit_rows(a):
    a = np.asarray(a, dtype=np.float64)
    norms = np.sqrt((a * a).sum(axis=1, keepdims=True))
    unit = np.zeros_like(a)
    np.divide(a, norms, out=unit, where=norms > 0)  # zero rows stay zero
    return unit


def ref_cosine(x, y):
    return _dot(_unit_rows(x), _unit_rows(y))


def ref_additive_chi2(x, y):
    return -_blocked(x, y, _chi2_terms)


def ref_chi2(x, y, gamma=1.0):
    return np.exp(gamma * ref_additive_chi2(x, y))


REFERENCES: dict[str, Callable[..., np.ndarray]] = {
    "linear": ref_linear,
    "polynomial": ref_polynomial,
    "sigmoid": ref_sigmoid,
    "rbf": ref_rbf,
    "laplacian": ref_laplacian,
    "cosine": ref_cosine,
    "chi2": ref_chi2,
    "additive_chi2": ref_additive_chi2,
}

FUNCTION_NAMES: dict[str, str] = {
    "linear": "linear_kernel",
    "polynomial": "polynomial_kernel",
    "sigmoid": "sigmoid_kernel",
    "rbf": "rbf_kernel",
    "laplacian": "laplacian_kernel",
    "cosine": "cosine_similarity",
    "chi2": "chi2_kernel",
    "additive_chi2": "additive_chi2_kernel",
}
KERNELS = list(FUNCTION_NAMES)
NONNEGATIVE_KERNELS = {"chi2", "additive_chi2"}


def kk_function(kernel: str) -> Callable[..., np.ndarray]:
    return getattr(kernelkit, FUNCTION_NAMES[kernel])


def sk_function(kernel: str) -> Callable[..., np.ndarray]:
    return getattr(require_sklearn_pairwise(), FUNCTION_NAMES[kernel])


# ---------------------------------------------------------------------------------------------
# Test data and tolerances
# ---------------------------------------------------------------------------------------------


def make_data(shape: tuple[int, int], dtype, *, nonneg: bool, seed: int) -> np.ndarray:
    """Signed normal data, or non-negative data with ~20% exact zeros (for the chi2 kernels)."""
    rng = np.random.default_rng(seed)
    a = rng.random(shape) * (rng.random(shape) > 0.2) if nonneg else rng.standard_normal(shape)
    return a.astype(dtype)


RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close_to(actual: np.ndarray, reference: np.ndarray, dtype, factor: float = 1.0) -> None:
    """|actual - reference| <= tol * max|reference| elementwise (tol by the result dtype)."""
    tol = RTOL[np.dtype(dtype)] * factor
    scale = float(np.max(np.abs(reference))) if reference.size else 1.0
    assert_allclose(actual, reference, rtol=0, atol=tol * max(scale, np.finfo(np.float64).tiny))


@dataclass(frozen=True)
class Case:
    """A kernel with parameters that depend on the number of features (keeps K in a sane range)."""

    id: str
    kernel: str
    params: Callable[[int], dict[str, Any]]

    @property
    def nonneg(self) -> bool:
        return self.kernel in NONNEGATIVE_KERNELS or self.id == "polynomial-fractional"


CASES = [
    Case("linear", "linear", lambda d: {}),
    Case("polynomial-defaults", "polynomial", lambda d: {}),
    Case("polynomial-deg2", "polynomial", lambda d: {"degree": 2, "gamma": 0.5 / d, "coef0": 0.25}),
    Case(
        "polynomial-deg3-negcoef",
        "polynomial",
        lambda d: {"degree": 3, "gamma": 2.0 / d, "coef0": -0.6},
    ),
    Case("polynomial-deg1", "polynomial", lambda d: {"degree": 1, "gamma": 1.0 / d, "coef0": 0.0}),
    Case(
        "polynomial-fractional",
        "polynomial",
        lambda d: {"degree": 2.5, "gamma": 1.0 / d, "coef0": 0.5},
    ),
    Case("sigmoid-defaults", "sigmoid", lambda d: {}),
    Case("sigmoid-params", "sigmoid", lambda d: {"gamma": 0.5 / d, "coef0": -0.5}),
    Case("rbf-defaults", "rbf", lambda d: {}),
    Case("rbf-gamma", "rbf", lambda d: {"gamma": 3.0 / d}),
    Case("laplacian-defaults", "laplacian", lambda d: {}),
    Case("laplacian-gamma", "laplacian", lambda d: {"gamma": 2.0 / d}),
    Case("cosine", "cosine", lambda d: {}),
    Case("chi2-gamma", "chi2", lambda d: {"gamma": 2.0 / d}),
    Case("additive_chi2", "additive_chi2", lambda d: {}),
]

SIZES = [
    (1, 1, 1),
    (2, 3, 2),
    (3, 7, 1),
    (7, 17, 3),
    (16, 17, 16),
    (17, 16, 7),
    (64, 64, 1000),
    (257, 255, 17),
    (1000, 7, 3),
    (3, 1000, 64),
    (255, 1, 257),
    (1, 257, 255),
]
SIZE_IDS = [f"{n}x{m}x{d}" for n, m, d in SIZES]
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]


# ---------------------------------------------------------------------------------------------
# Accuracy against scikit-learn and the NumPy reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("n", "m", "d"), SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kernel_matches_references(simd_path, case, n, m, d, dtype, with_y):
    x = make_data((n, d), dtype, nonneg=case.nonneg, seed=n * 1009 + d)
    y = make_data((m, d), dtype, nonneg=case.nonneg, seed=m * 2003 + d + 1) if with_y else None
    params = case.params(d)

    K = kk_function(case.kernel)(x, y, **params)

    x64 = x.astype(np.float64)
    y64 = x64 if y is None else y.astype(np.float64)
    assert K.dtype == dtype
    assert K.shape == (n, y64.shape[0])
    assert K.flags.c_contiguous

    reference = REFERENCES[case.kernel](x64, y64, **params)
    assert_close_to(K, reference, dtype)

    sk_reference = sk_function(case.kernel)(x64, None if y is None else y64, **params)
    assert_close_to(K, sk_reference, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_default_parameters_match_sklearn(simd_path, kernel, dtype):
    """Every function called with only X and Y gives scikit-learn's defaults (chi2: gamma=1)."""
    x = make_data((13, 5), dtype, nonneg=True, seed=1)
    y = make_data((11, 5), dtype, nonneg=True, seed=2)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    sk = sk_function(kernel)
    assert_close_to(kk_function(kernel)(x, y), sk(x64, y64), dtype)
    assert_close_to(kk_function(kernel)(x), sk(x64), dtype)
    assert_close_to(kk_function(kernel)(x, y), REFERENCES[kernel](x64, y64), dtype)


def test_reference_agrees_with_sklearn():
    """The hand-written references are themselves right (so a kernelkit failure is kernelkit's)."""
    x = make_data((9, 6), np.float64, nonneg=True, seed=3)
    y = make_data((8, 6), np.float64, nonneg=True, seed=4)
    for case in CASES:
        params = case.params(6)
        assert_close_to(
            REFERENCES[case.kernel](x, y, **params),
            sk_function(case.kernel)(x, y, **params),
            np.float64,
        )


# ---------------------------------------------------------------------------------------------
# pairwise_kernels: every metric name, "precomputed" and a callable
# ---------------------------------------------------------------------------------------------

METRIC_PARAMS: dict[str, Callable[[int], dict[str, Any]]] = {
    "additive_chi2": lambda d: {},
    "chi2": lambda d: {"gamma": 1.5 / d},
    "linear": lambda d: {},
    "polynomial": lambda d: {"degree": 2, "gamma": 0.7 / d, "coef0": 0.3},
    "poly": lambda d: {"degree": 3, "gamma": 1.2 / d, "coef0": -0.2},
    "rbf": lambda d: {"gamma": 2.0 / d},
    "laplacian": lambda d: {"gamma": 0.5 / d},
    "sigmoid": lambda d: {"gamma": 0.8 / d, "coef0": 0.1},
    "cosine": lambda d: {},
}
METRIC_KERNEL = {name: ("polynomial" if name == "poly" else name) for name in METRIC_PARAMS}
PAIRWISE_SIZES = [(1, 1, 1), (7, 17, 3), (257, 255, 17), (3, 1000, 64)]


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    ("n", "m", "d"), PAIRWISE_SIZES, ids=[f"{n}x{m}x{d}" for n, m, d in PAIRWISE_SIZES]
)
@pytest.mark.parametrize("metric", list(METRIC_PARAMS))
def test_pairwise_kernels_by_name(simd_path, metric, n, m, d, dtype, with_y):
    x = make_data((n, d), dtype, nonneg=True, seed=n + 7 * d)
    y = make_data((m, d), dtype, nonneg=True, seed=m + 11 * d) if with_y else None
    params = METRIC_PARAMS[metric](d)
    K = kernelkit.pairwise_kernels(x, y, metric=metric, **params)

    x64 = x.astype(np.float64)
    y64 = None if y is None else y.astype(np.float64)
    assert K.dtype == dtype
    direct = kk_function(METRIC_KERNEL[metric])(x, y, **params)
    assert_array_equal(K, direct)
    reference = REFERENCES[METRIC_KERNEL[metric]](x64, x64 if y64 is None else y64, **params)
    assert_close_to(K, reference, dtype)
    sk = require_sklearn_pairwise()
    assert_close_to(K, sk.pairwise_kernels(x64, y64, metric=metric, **params), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64], ids=["f32", "f64", "i64"])
def test_pairwise_kernels_precomputed(dtype):
    sk = require_sklearn_pairwise()
    rng = np.random.default_rng(5)
    gram = (rng.random((6, 6)) * 10).astype(dtype)
    K = kernelkit.pairwise_kernels(gram, metric="precomputed")
    assert K.dtype == (np.float32 if dtype == np.float32 else np.float64)
    assert_array_equal(K, gram.astype(np.float64))
    assert_array_equal(K, sk.pairwise_kernels(gram.astype(np.float64), metric="precomputed"))
    # K(X_test, X_train) against 6 training samples: X.shape[1] must equal Y.shape[0]
    cross = (rng.random((4, 6)) * 10).astype(dtype)
    train = rng.random((6, 3))
    assert_array_equal(
        kernelkit.pairwise_kernels(cross, train, metric="precomputed"), cross.astype(np.float64)
    )


def test_pairwise_kernels_precomputed_shape_mismatch_raises():
    """scikit-learn checks that a precomputed K(X, Y) has Y.shape[0] columns; so must kernelkit."""
    sk = require_sklearn_pairwise()
    cross = np.ones((4, 5))
    train = np.ones((6, 3))
    with pytest.raises(ValueError, match="recomputed"):
        sk.pairwise_kernels(cross, train, metric="precomputed")
    with pytest.raises(ValueError, match="recomputed"):
        kernelkit.pairwise_kernels(cross, train, metric="precomputed")


def _exp_l1_metric(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> float:
    return float(np.exp(-scale * np.abs(a.astype(np.float64) - b).sum()))


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 1), (7, 17, 3), (23, 19, 5)])
def test_pairwise_kernels_callable(n, m, d, dtype, with_y):
    sk = require_sklearn_pairwise()
    x = make_data((n, d), dtype, nonneg=False, seed=n)
    y = make_data((m, d), dtype, nonneg=False, seed=m + 100) if with_y else None
    K = kernelkit.pairwise_kernels(x, y, metric=_exp_l1_metric, scale=0.3)
    x64 = x.astype(np.float64)
    y64 = None if y is None else y.astype(np.float64)
    assert K.dtype == dtype
    assert_close_to(K, ref_laplacian(x64, x64 if y64 is None else y64, gamma=0.3), dtype)
    assert_close_to(K, sk.pairwise_kernels(x64, y64, metric=_exp_l1_metric, scale=0.3), dtype)
    if y is None:
        assert_array_equal(K, K.T)


def test_pairwise_kernels_filter_params_and_n_jobs():
    x = make_data((20, 4), np.float64, nonneg=False, seed=9)
    expected = kernelkit.linear_kernel(x)
    assert_array_equal(
        kernelkit.pairwise_kernels(x, metric="linear", gamma=0.5, degree=2, filter_params=True),
        expected,
    )
    with pytest.raises(TypeError, match="gamma"):
        kernelkit.pairwise_kernels(x, metric="linear", gamma=0.5)
    assert_array_equal(kernelkit.pairwise_kernels(x, metric="linear", n_jobs=1), expected)
    rbf = kernelkit.rbf_kernel(x, gamma=0.1)
    assert_array_equal(
        kernelkit.pairwise_kernels(x, metric="rbf", gamma=0.1, coef0=3.0, filter_params=True), rbf
    )


# ---------------------------------------------------------------------------------------------
# dtype rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    ("x_dtype", "y_dtype", "expected"),
    [
        (np.float32, np.float32, np.float32),
        (np.float32, None, np.float32),
        (np.float64, np.float64, np.float64),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.int64, np.int64, np.float64),
        (np.int32, None, np.float64),
        (np.int32, np.float32, np.float64),
        (np.float16, np.float16, np.float64),
        (np.bool_, np.bool_, np.float64),
    ],
    ids=[
        "f32-f32",
        "f32-none",
        "f64-f64",
        "f32-f64",
        "f64-f32",
        "i64-i64",
        "i32-none",
        "i32-f32",
        "f16-f16",
        "bool-bool",
    ],
)
def test_output_dtype(kernel, x_dtype, y_dtype, expected):
    rng = np.random.default_rng(6)
    x = (rng.random((9, 4)) * 3).astype(x_dtype)
    y = None if y_dtype is None else (rng.random((5, 4)) * 3).astype(y_dtype)
    K = kk_function(kernel)(x, y)
    assert K.dtype == expected
    x64 = x.astype(np.float64)
    y64 = x64 if y is None else y.astype(np.float64)
    assert_close_to(K, REFERENCES[kernel](x64, y64), expected)


def test_list_input_is_float64():
    K = kernelkit.rbf_kernel([[0.0, 1.0], [2.0, 3.0]], [[1.0, 1.0]], gamma=0.5)
    assert K.dtype == np.float64
    assert_close_to(
        K, ref_rbf(np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[1.0, 1.0]]), 0.5), np.float64
    )


# ---------------------------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------------------------

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    **{FUNCTION_NAMES[k]: kk_function(k) for k in KERNELS},
    **{
        f"pairwise_kernels[{name}]": functools.partial(kernelkit.pairwise_kernels, metric=name)
        for name in ["rbf", "poly", "cosine", "chi2", "precomputed"]
    },
    "pairwise_kernels[callable]": functools.partial(
        kernelkit.pairwise_kernels, metric=_exp_l1_metric
    ),
}
COMPUTING_FUNCTIONS = {k: f for k, f in FUNCTIONS.items() if "precomputed" not in k}


def _square_if_precomputed(name: str, x: np.ndarray, y: np.ndarray | None):
    """'precomputed' takes a kernel matrix: make X square (Y=None) or (n, len(Y))."""
    if "precomputed" not in name:
        return x
    cols = x.shape[0] if y is None else y.shape[0]
    return np.ascontiguousarray(np.resize(x, (x.shape[0], cols)))


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_out_is_filled_and_returned(name, dtype, with_y):
    func = FUNCTIONS[name]
    y = make_data((13, 6), dtype, nonneg=True, seed=21) if with_y else None
    x = _square_if_precomputed(name, make_data((17, 6), dtype, nonneg=True, seed=20), y)
    expected = func(x, y)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    result = func(x, y, out=out)
    assert result is out
    assert_array_equal(out, expected)


def _bad_out(kind: str, n: int, m: int, dtype) -> Any:
    if kind == "shape":
        return np.empty((m, n), dtype=dtype)
    if kind == "shape-1d":
        return np.empty(n * m, dtype=dtype)
    if kind == "dtype":
        return np.empty((n, m), dtype=np.float64 if dtype == np.float32 else np.float32)
    if kind == "fortran":
        return np.empty((m, n), dtype=dtype).T
    if kind == "strided":
        return np.empty((n, 2 * m), dtype=dtype)[:, ::2]
    assert kind == "readonly"
    return _readonly(np.empty((n, m), dtype=dtype))


@pytest.mark.parametrize("kind", ["shape", "shape-1d", "dtype", "fortran", "strided", "readonly"])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_out_raises(name, kind):
    dtype = np.float32
    y = make_data((13, 6), dtype, nonneg=True, seed=23)
    x = _square_if_precomputed(name, make_data((17, 6), dtype, nonneg=True, seed=22), y)
    out = _bad_out(kind, 17, 13, dtype)
    with pytest.raises(ValueError, match="out"):
        FUNCTIONS[name](x, y, out=out)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_out_not_an_array_raises(name):
    y = make_data((13, 6), np.float64, nonneg=True, seed=23)
    x = _square_if_precomputed(name, make_data((17, 6), np.float64, nonneg=True, seed=22), y)
    with pytest.raises(TypeError, match="out"):
        FUNCTIONS[name](x, y, out=np.zeros((17, 13)).tolist())


@pytest.mark.parametrize("name", list(COMPUTING_FUNCTIONS))
def test_out_must_not_alias_inputs(name):
    func = FUNCTIONS[name]
    buf = make_data((8, 8), np.float64, nonneg=True, seed=24)
    with pytest.raises(ValueError, match="out"):
        func(buf, out=buf)
    other = make_data((8, 8), np.float64, nonneg=True, seed=25)
    with pytest.raises(ValueError, match="out"):
        func(other, buf, out=buf)


# ---------------------------------------------------------------------------------------------
# Layouts: strided, Fortran-ordered, reversed and read-only inputs
# ---------------------------------------------------------------------------------------------

LAYOUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rows-strided": lambda a: np.repeat(a, 2, axis=0)[::2],
    "cols-strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "fortran": np.asfortranarray,
    "reversed": lambda a: np.ascontiguousarray(a[::-1])[::-1],
    "readonly": lambda a: _readonly(a.copy()),
}


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", list(COMPUTING_FUNCTIONS))
def test_layouts_give_same_result(simd_path, name, layout, dtype, with_y):
    func = FUNCTIONS[name]
    n = 9 if "callable" in name else 37
    x = make_data((n, 19), dtype, nonneg=True, seed=30)
    y = make_data((n - 4, 19), dtype, nonneg=True, seed=31) if with_y else None
    xv = LAYOUTS[layout](x)
    yv = None if y is None else LAYOUTS[layout](y)
    assert_array_equal(xv, x)
    if layout not in ("readonly",):
        assert not xv.flags.c_contiguous
    expected = func(x, y)
    assert_array_equal(func(xv, yv), expected)


def test_x_strided_slice_matches_copy():
    """X[::2] (a plain strided view, not a test-made copy) against its contiguous copy."""
    x = make_data((101, 33), np.float32, nonneg=False, seed=32)
    view = x[::2]
    for kernel in KERNELS:
        data = np.abs(view) if kernel in NONNEGATIVE_KERNELS else view
        func = kk_function(kernel)
        assert_array_equal(func(data), func(np.ascontiguousarray(data)))
        assert_array_equal(
            func(data, x[1::3] ** 2),
            func(np.ascontiguousarray(data), np.ascontiguousarray(x[1::3] ** 2)),
        )


@pytest.mark.parametrize(("n", "m"), [(230, 1000), (700, None)], ids=["Y", "Ynone"])
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_columns_packed_in_several_chunks(simd_path, kernel, n, m):
    """Y's rows, packed once for all row stripes of tiles in chunks of at most 4 MiB of columns
    (here 1,000 float64 features: about 500 rows a chunk), give the reference's result: several
    chunks, a partial last one, and for Y=None the tiles mirrored across chunks."""
    d = 1000
    x = make_data((n, d), np.float64, nonneg=False, seed=n + d)
    y = None if m is None else make_data((m, d), np.float64, nonneg=False, seed=m + d + 1)
    params = {} if kernel == "linear" else {"gamma": 0.5 / d}
    K = kk_function(kernel)(x, y, **params)
    reference = REFERENCES[kernel](x, x if y is None else y, **params)
    assert_close_to(K, reference, np.float64)
    if y is None:
        assert_array_equal(K, K.T)


@pytest.mark.parametrize(("n", "m"), [(1400, 1400), (2000, None)], ids=["Y", "Ynone"])
@pytest.mark.parametrize("kernel", ["linear", "rbf", "laplacian"])
def test_tiles_grouped_along_row_stripes(simd_path, kernel, n, m):
    """On 2 threads, results of 6 x 6 tiles or more run several tiles of a row stripe per task,
    which pack the stripe's rows once: the same result as the reference, the diagonal tiles and
    the partial last tiles included."""
    d = 300
    x = make_data((n, d), np.float32, nonneg=False, seed=n)
    y = None if m is None else make_data((m, d), np.float32, nonneg=False, seed=m + 1)
    params = {} if kernel == "linear" else {"gamma": 0.5 / d}
    K = kk_function(kernel)(x, y, n_threads=2, **params)
    x64 = x.astype(np.float64)
    reference = REFERENCES[kernel](x64, x64 if y is None else y.astype(np.float64), **params)
    assert_close_to(K, reference, np.float32)
    if y is None:
        assert_array_equal(K, K.T)


# ---------------------------------------------------------------------------------------------
# Exact symmetry and exact diagonals for Y=None
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 17, 241, 257, 500])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_symmetric_result_is_exact(simd_path, kernel, dtype, n):
    x = make_data((n, 13), dtype, nonneg=True, seed=n)
    if n > 2:
        x[1] = 0  # an all-zero row
        x[2] = x[0]  # a duplicate row
    func = kk_function(kernel)
    K = func(x)
    assert_array_equal(K, K.T)
    assert_array_equal(func(x, x), K)  # Y is X takes the same path
    diagonal = np.diagonal(K)
    if kernel in ("rbf", "laplacian", "chi2"):
        assert_array_equal(diagonal, np.ones(n, dtype=dtype))
    if kernel == "cosine":
        nonzero = np.any(x != 0, axis=1)
        assert_array_equal(diagonal, nonzero.astype(dtype))
    if kernel == "additive_chi2":
        assert_array_equal(diagonal, np.zeros(n, dtype=dtype))
    if kernel in ("rbf", "laplacian", "chi2"):
        assert np.all(K >= 0)
        assert np.all(K <= 1)  # no negative squared distance, even between duplicate rows
    if n > 2 and kernel in ("laplacian", "chi2"):
        assert K[0, 2] == 1  # identical rows: the sum is exactly 0


# ---------------------------------------------------------------------------------------------
# Accuracy with a large common offset (the centred formula)
# ---------------------------------------------------------------------------------------------


def _offset_data(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (1000.0 + 1e-3 * rng.standard_normal((n, d))).astype(np.float32)


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("d", [16, 64])
def test_rbf_float32_with_large_offset(simd_path, d, with_y):
    x = _offset_data(500, d, seed=d)
    y = _offset_data(450, d, seed=d + 1) if with_y else None
    x64 = x.astype(np.float64)
    y64 = x64 if y is None else y.astype(np.float64)
    sq = _sq_dist(x64, y64)
    off_diagonal = sq[~np.eye(*sq.shape, dtype=bool)] if y is None else sq.ravel()
    gamma = np.log(2.0) / float(np.median(off_diagonal))  # K = 0.5 at the median distance
    reference = np.exp(-gamma * sq)
    lo, hi = np.quantile(reference, [0.01, 0.99])
    assert lo < 0.4
    assert hi > 0.6  # the test data does span a range of K (narrower for larger d)

    K = kernelkit.rbf_kernel(x, y, gamma=gamma)
    assert K.dtype == np.float32
    assert float(np.max(np.abs(K - reference))) <= 1e-6


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_dimensions_raise(name):
    func = FUNCTIONS[name]
    good = np.ones((3, 3))
    for bad in (np.ones(3), np.ones((2, 3, 3)), np.float64(1.0)):
        with pytest.raises(ValueError, match="X"):
            func(bad)
        with pytest.raises(ValueError, match="X"):
            func(bad, good)
    if "precomputed" in name:
        return
    with pytest.raises(ValueError, match="Y"):
        func(good, np.ones(3))
    with pytest.raises(ValueError, match="Y"):
        func(good, np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="Y"):
        func(good, np.ones((3, 4)))


@pytest.mark.parametrize("name", list(COMPUTING_FUNCTIONS))
def test_zero_features_raise(name):
    with pytest.raises(ValueError, match="features"):
        FUNCTIONS[name](np.ones((3, 0)))
    with pytest.raises(ValueError, match="features"):
        FUNCTIONS[name](np.ones((3, 0)), np.ones((2, 0)))


@pytest.mark.parametrize("kernel", ["chi2", "additive_chi2"])
def test_negative_values_raise_for_chi2(kernel):
    func = kk_function(kernel)
    neg = np.ones((3, 4))
    neg[1, 2] = -1e-30
    pos = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"X.*negative"):
        func(neg)
    with pytest.raises(ValueError, match=r"X.*negative"):
        func(neg, pos)
    with pytest.raises(ValueError, match=r"Y.*negative"):
        func(pos, neg)
    with pytest.raises(ValueError, match="negative"):
        kernelkit.pairwise_kernels(neg, metric=kernel)
    assert func(-0.0 * pos).shape == (2, 2)  # -0.0 is not negative


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("n_threads", [0])
def test_n_threads_zero_raises(name, n_threads):
    x = np.ones((4, 4))
    with pytest.raises(ValueError, match="n_threads"):
        FUNCTIONS[name](x, n_threads=n_threads)


@pytest.mark.parametrize("kernel", KERNELS)
def test_n_threads_wrong_type_raises(kernel):
    with pytest.raises(TypeError, match="n_threads"):
        kk_function(kernel)(np.ones((4, 4)), n_threads=1.5)
    with pytest.raises(TypeError, match="n_threads"):
        kk_function(kernel)(np.ones((4, 4)), n_threads="2")


def test_unknown_metric_raises():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="metric"):
        kernelkit.pairwise_kernels(x, metric="gaussian")
    with pytest.raises(ValueError, match="metric"):
        kernelkit.pairwise_kernels(x, metric="RBF")
    with pytest.raises(TypeError, match="metric"):
        kernelkit.pairwise_kernels(x, metric=3)
    with pytest.raises(TypeError, match="degree"):
        kernelkit.pairwise_kernels(x, metric="rbf", degree=3)


@pytest.mark.parametrize("kernel", KERNELS)
def test_other_bad_inputs_raise(kernel):
    func = kk_function(kernel)
    with pytest.raises(TypeError, match="complex"):
        func(np.ones((2, 2), dtype=np.complex128))
    with pytest.raises(TypeError, match="X"):
        func(np.array([[object(), object()]], dtype=object))
    if kernel in ("rbf", "laplacian", "chi2", "polynomial", "sigmoid"):
        with pytest.raises(TypeError, match="gamma"):
            func(np.ones((2, 2)), gamma="large")


# ---------------------------------------------------------------------------------------------
# Zero-size inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(COMPUTING_FUNCTIONS))
def test_zero_rows(name, dtype):
    func = FUNCTIONS[name]
    empty = np.zeros((0, 5), dtype=dtype)
    full = np.ones((4, 5), dtype=dtype)
    for x, y, shape in [
        (empty, full, (0, 4)),
        (full, empty, (4, 0)),
        (empty, None, (0, 0)),
        (empty, empty, (0, 0)),
    ]:
        K = func(x, y)
        assert K.shape == shape
        assert K.dtype == dtype
        out = np.empty(shape, dtype=dtype)
        assert func(x, y, out=out) is out


# ---------------------------------------------------------------------------------------------
# NaN propagation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", ["rbf", "linear", "laplacian"])
def test_nan_propagates_to_its_row_only(simd_path, kernel, dtype):
    x = make_data((31, 9), dtype, nonneg=False, seed=40)
    y = make_data((23, 9), dtype, nonneg=False, seed=41)
    x[5, 3] = np.nan
    K = kk_function(kernel)(x, y)
    assert np.isnan(K[5]).all()
    finite_rows = np.arange(31) != 5
    assert np.isfinite(K[finite_rows]).all()
    reference = REFERENCES[kernel](x[finite_rows].astype(np.float64), y.astype(np.float64))
    assert_close_to(K[finite_rows], reference, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", ["rbf", "linear", "laplacian"])
def test_nan_propagates_to_its_row_and_column_when_symmetric(simd_path, kernel, dtype):
    x = make_data((31, 9), dtype, nonneg=False, seed=42)
    x[7, 0] = np.nan
    K = kk_function(kernel)(x)
    assert np.isnan(K[7]).all()
    assert np.isnan(K[:, 7]).all()
    keep = np.arange(31) != 7
    rest = K[np.ix_(keep, keep)]
    assert np.isfinite(rest).all()
    x64 = x[keep].astype(np.float64)
    assert_close_to(rest, REFERENCES[kernel](x64, x64), dtype)


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_threads", [1, 2, 3, -1, -2])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_n_threads_give_same_result(kernel, dtype, n_threads):
    x = make_data((300, 33), dtype, nonneg=True, seed=50)
    y = make_data((260, 33), dtype, nonneg=True, seed=51)
    func = kk_function(kernel)
    for args in [(x, y), (x,)]:
        default = func(*args)
        K = func(*args, n_threads=n_threads)
        assert_close_to(K, default, dtype, factor=0.1)
    assert_close_to(
        kernelkit.pairwise_kernels(x, y, metric=kernel, n_jobs=n_threads),
        func(x, y),
        dtype,
        factor=0.1,
    )


# ---------------------------------------------------------------------------------------------
# End to end: an SVM with a precomputed kernel
# ---------------------------------------------------------------------------------------------


def test_svc_with_precomputed_kernel_matches_builtin_rbf():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, y_train, X_test = X[:1200], y[:1200], X[1200:]
    g = 0.02

    builtin = SVC(kernel="rbf", gamma=g).fit(X_train, y_train)
    expected = builtin.predict(X_test)

    K_train = kernelkit.rbf_kernel(X_train, X_train, gamma=g)
    K_test = kernelkit.rbf_kernel(X_test, X_train, gamma=g)
    assert K_train.dtype == np.float64
    precomputed = SVC(kernel="precomputed").fit(K_train, y_train)
    predicted = precomputed.predict(K_test)
    assert_array_equal(predicted, expected)
    assert np.mean(predicted == y[1200:]) > 0.8
