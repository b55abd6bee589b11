"""The Gaussian-process kernels (matern_kernel, rational_quadratic_kernel,
exp_sine_squared_kernel) against sklearn.gaussian_process.kernels, on every SIMD path."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernelkit

gp = pytest.importorskip("sklearn.gaussian_process.kernels")

TOL = {np.float32: 2e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]


def _data(dtype, n=37, m=19, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(dtype), rng.normal(size=(m, d)).astype(dtype)


def _check(result, reference, dtype):
    assert result.dtype == dtype
    np.testing.assert_allclose(result, reference, rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5, math.inf, 0.7, 3.2])
@pytest.mark.parametrize(
    "length_scale", [1.3, [0.5, 1.0, 2.0, 3.0, 4.0]], ids=["scalar", "anisotropic"]
)
def test_matern_matches_sklearn(dtype, nu, length_scale, simd_path):
    x, y = _data(dtype)
    kernel = gp.Matern(length_scale=length_scale, nu=nu)
    _check(
        kernelkit.matern_kernel(x, y, length_scale, nu),
        kernel(x.astype(float), y.astype(float)),
        dtype,
    )
    symmetric = kernelkit.matern_kernel(x, length_scale=length_scale, nu=nu)
    _check(symmetric, kernel(x.astype(float)), dtype)
    np.testing.assert_array_equal(symmetric, symmetric.T)
    np.testing.assert_array_equal(np.diag(symmetric), 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [0.3, 1.0, 7.5, 1e4])
@pytest.mark.parametrize("length_scale", [0.4, 1.7])
def test_rational_quadratic_matches_sklearn(dtype, alpha, length_scale, simd_path):
    x, y = _data(dtype, seed=1)
    kernel = gp.RationalQuadratic(length_scale=length_scale, alpha=alpha)
    result = kernelkit.rational_quadratic_kernel(x, y, length_scale=length_scale, alpha=alpha)
    _check(result, kernel(x.astype(float), y.astype(float)), dtype)
    symmetric = kernelkit.rational_quadratic_kernel(x, length_scale=length_scale, alpha=alpha)
    _check(symmetric, kernel(x.astype(float)), dtype)
    np.testing.assert_array_equal(symmetric, symmetric.T)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("periodicity", [0.3, 1.0, 7.5])
@pytest.mark.parametrize("length_scale", [0.7, 1.7])
def test_exp_sine_squared_matches_sklearn(dtype, periodicity, length_scale, simd_path):
    x, y = _data(dtype, seed=2)
    kernel = gp.ExpSineSquared(length_scale=length_scale, periodicity=periodicity)
    result = kernelkit.exp_sine_squared_kernel(x, y, length_scale, periodicity)
    _check(result, kernel(x.astype(float), y.astype(float)), dtype)
    symmetric = kernelkit.exp_sine_squared_kernel(
        x, length_scale=length_scale, periodicity=periodicity
    )
    _check(symmetric, kernel(x.astype(float)), dtype)
    np.testing.assert_array_equal(symmetric, symmetric.T)


def test_exp_sine_squared_far_beyond_one_period():
    x = np.array([[0.0], [1e6 + 0.25], [-3e6 - 0.5]])
    result = kernelkit.exp_sine_squared_kernel(x, periodicity=1.0)
    np.testing.assert_allclose(result, gp.ExpSineSquared(periodicity=1.0)(x), atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_odd_sizes_out_and_threads(dtype, simd_path):
    for n, m, d in [(1, 1, 1), (3, 17, 2), (41, 29, 67)]:
        x, y = _data(dtype, n, m, d, seed=n)
        out = np.empty((n, m), dtype)
        result = kernelkit.matern_kernel(x, y, nu=2.5, out=out, n_threads=2)
        assert result is out
        _check(out, gp.Matern(nu=2.5)(x.astype(float), y.astype(float)), dtype)


def test_inf_row_is_at_infinite_distance():
    x = np.array([[0.0, 1.0], [np.inf, 0.0], [1.0, 1.0]])
    for nu in (0.5, 1.5, 2.5, math.inf, 0.7):
        result = kernelkit.matern_kernel(x, nu=nu)
        assert result[1, 0] == result[1, 2] == result[0, 1] == 0.0
        assert math.isnan(result[1, 1])
    assert kernelkit.rational_quadratic_kernel(x)[1, 0] == 0.0


@pytest.mark.parametrize(
    ("function", "params", "name"),
    [
        (kernelkit.matern_kernel, {"nu": 0.0}, "nu"),
        (kernelkit.matern_kernel, {"nu": -1.5}, "nu"),
        (kernelkit.matern_kernel, {"nu": math.nan}, "nu"),
        (kernelkit.matern_kernel, {"length_scale": 0.0}, "length_scale"),
        (kernelkit.matern_kernel, {"length_scale": [1.0, -1.0]}, "length_scale"),
        (kernelkit.matern_kernel, {"length_scale": "1"}, "length_scale"),
        (kernelkit.rational_quadratic_kernel, {"alpha": 0.0}, "alpha"),
        (kernelkit.rational_quadratic_kernel, {"alpha": math.inf}, "alpha"),
        (kernelkit.rational_quadratic_kernel, {"length_scale": [1.0, 2.0]}, "length_scale"),
        (kernelkit.exp_sine_squared_kernel, {"periodicity": -1.0}, "periodicity"),
        (kernelkit.exp_sine_squared_kernel, {"length_scale": math.inf}, "length_scale"),
    ],
)
def test_parameter_errors_name_the_parameter(function, params, name):
    with pytest.raises(
        kernelkit.InvalidParameterError, match=rf"^The '{name}' parameter of {function.__name__}"
    ):
        function(np.ones((2, 2)), **params)


def test_per_feature_length_scale_must_match_the_features():
    with pytest.raises(
        ValueError, match=r"^length_scale: expected one value per feature \(3\), got 2"
    ):
        kernelkit.matern_kernel(np.ones((2, 3)), length_scale=[1.0, 2.0])


def test_one_element_length_scale_is_isotropic():
    x, y = _data(np.float64)
    np.testing.assert_array_equal(
        kernelkit.matern_kernel(x, y, length_scale=[2.0]),
        kernelkit.matern_kernel(x, y, length_scale=2.0),
    )


@pytest.mark.parametrize(
    "kernel",
    [
        gp.Matern(length_scale=[0.5, 2.0, 1.0, 3.0, 1.5], nu=2.5),
        gp.Matern(length_scale=0.8, nu=0.9),
        gp.RationalQuadratic(length_scale=1.2, alpha=0.5),
        gp.ExpSineSquared(length_scale=1.2, periodicity=2.5),
    ],
    ids=repr,
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_kernels_with_sklearn_kernel_objects(kernel, dtype):
    x, y = _data(dtype, seed=4)
    result = kernelkit.pairwise_kernels(x, y, metric=kernel)
    expected = kernel(x, y)
    assert result.dtype == expected.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        kernelkit.pairwise_kernels(x, metric=kernel), kernel(x), rtol=0, atol=1e-12
    )
