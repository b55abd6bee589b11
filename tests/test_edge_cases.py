"""Edge cases found in review: empty kernels, extreme magnitudes, private-core misuse."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit import _core


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "match"),
    [
        ((1, 2, 5, 5), (3, 2, 0, 3), "^weight:"),
        ((1, 2, 5, 5), (3, 2, 3, 0), "^weight:"),
        ((1, 2, 5, 5), (0, 2, 3, 3), "^weight:"),
        ((1, 0, 5, 5), (3, 0, 3, 3), "^x:"),
    ],
)
def test_conv2d_rejects_empty_kernels_and_channels(x_shape, w_shape, match):
    with pytest.raises(ValueError, match=match):
        kernelkit.conv2d(np.ones(x_shape), np.ones(w_shape))


def test_conv2d_out_must_not_alias_weight():
    w = np.ones((1, 1, 1, 1))
    out = w.reshape(1, 1, 1, 1)
    with pytest.raises(ValueError, match=r"^out:"):
        kernelkit.conv2d(np.ones((1, 1, 1, 1)), w, out=out)


def test_core_refuses_non_array_y_and_bias():
    x = np.random.default_rng(0).random((8, 4))
    with pytest.raises(ValueError, match=r"^Y:"):
        _core.gram(_core.GramKind.linear, x, x.tolist(), np.empty((8, 8)), [], 1)
    with pytest.raises(ValueError, match=r"^bias:"):
        _core.Conv2dFloat64(np.ones((2, 1, 1, 1)), False, 1, [0.0, 1.0], 0, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_additive_chi2_large_differences_stay_finite(dtype, simd_path):
    x = np.array([[1e20, 1.0]], dtype=dtype)
    y = np.array([[0.0, 2.0]], dtype=dtype)
    expected = -((1e20 - 0.0) ** 2 / 1e20 + 1.0 / 3.0)
    result = kernelkit.additive_chi2_kernel(x, y)
    np.testing.assert_allclose(result, [[expected]], rtol=1e-5)


def test_cosine_of_rows_with_subnormal_norms_is_zero_like_zero_rows(simd_path):
    x = np.array([[1e-39, 0.0], [2e-39, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(kernelkit.cosine_similarity(x), np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("degree", [np.nan, np.inf, 1e300])
def test_polynomial_with_non_integer_extreme_degree_matches_numpy_power(degree):
    x = np.full((2, 2), 0.5)
    base = 1.0 * (x @ x.T) + 1.0
    with np.errstate(over="ignore"):
        expected = base**degree
    # NaN and inf are out of polynomial_kernel's range [1, inf), as in scikit-learn, whose
    # pairwise_kernels leaves the kernel's parameters unchecked: the path is reachable there
    result = kernelkit.pairwise_kernels(x, metric="poly", degree=degree, gamma=1.0)
    np.testing.assert_array_equal(result, expected)
    if np.isfinite(degree):
        np.testing.assert_array_equal(
            kernelkit.polynomial_kernel(x, degree=degree, gamma=1.0), result
        )


@pytest.mark.parametrize("order", ["<", ">", "="])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_explicit_byte_order_dtypes_are_accepted(order, dtype):
    """Arrays whose dtype spells out its byte order (as file readers make them) compute like
    native ones: '<' is this machine's native type, '>' is converted. (The Gram functions follow
    scikit-learn, which computes non-native float32 in float64, so only native orders there.)"""
    rng = np.random.default_rng(3)
    x, w, b = rng.random((1, 2, 6, 5)), rng.random((3, 2, 3, 3)), rng.random(3)
    typed = np.dtype(dtype).newbyteorder(order)
    expected = kernelkit.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype))
    got = kernelkit.conv2d(x.astype(typed), w.astype(typed), b.astype(typed))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, expected)
    if typed.isnative:
        X = rng.random((7, 4))
        np.testing.assert_array_equal(
            kernelkit.rbf_kernel(X.astype(typed)), kernelkit.rbf_kernel(X.astype(dtype))
        )


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("stride", [2**62, (2**62, 1), (1, 2**40)])
def test_a_stride_beyond_the_input_gives_its_first_windows(layout, stride, simd_path):
    """Absurd strides are legal (one output row or column); nothing overflows."""
    rng = np.random.default_rng(5)
    x = rng.random((2, 3, 9, 8), dtype=np.float32)
    w = rng.random((4, 3, 3, 3), dtype=np.float32)
    expected = kernelkit.conv2d(x, w, stride=1)
    pair = stride if isinstance(stride, tuple) else (stride, stride)
    rows = slice(None, None, 10**6) if pair[0] > 1 else slice(None)
    cols = slice(None, None, 10**6) if pair[1] > 1 else slice(None)
    expected = expected[:, :, rows, cols]
    source = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    got = kernelkit.conv2d(source, w, stride=stride, layout=layout, weight_layout="OIHW")
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_an_allocation_that_cannot_succeed_is_a_memory_error_naming_its_size():
    x = np.ones((1, 3, 8, 8), np.float32)
    with pytest.raises(MemoryError, match=r"cannot allocate \d+ bytes"):
        kernelkit.conv2d(x, np.ones((4, 3, 3, 3), np.float32), padding=2**20)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_y", [False, True])
def test_rbf_of_infinite_values_is_exact(dtype, with_y, simd_path):
    """An Inf feature puts a row infinitely far from every finite row: exactly 0, not the NaN of
    inf - inf in the expanded |x|^2 + |y|^2 - 2 x.y; NaN stays NaN."""
    rng = np.random.default_rng(11)
    x = rng.random((37, 5)).astype(dtype)
    x[3, 1], x[20, 4], x[21, 0] = np.inf, -np.inf, np.nan
    y = rng.random((29, 5)).astype(dtype) if with_y else None
    if with_y:
        y[7, 2] = np.inf
    other = x if y is None else y
    with np.errstate(invalid="ignore"):
        diff = x.astype(np.float64)[:, None, :] - other.astype(np.float64)[None, :, :]
        expected = np.exp(-0.2 * np.sum(diff * diff, axis=-1))
    got = kernelkit.rbf_kernel(x, y, gamma=0.2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.all(got[np.isinf(x).any(axis=1)][:, np.isfinite(other).all(axis=1)] == 0)
    finite = ~np.isnan(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-5, atol=1e-6)
