"""Numerics audit: NaN, +-Inf, extreme magnitudes and subnormal numbers in every kernel.

Each kernel (conv2d for each of its algorithms, filter2d and filter2d_separable, every Gram kernel,
max and average pooling) gets NaN, +Inf and -Inf in its inputs, weights and bias, on every SIMD path
the CPU has, and is compared with a float64 NumPy reference computed the straightforward way:
padding as explicit zeros (or the boundary rule), sums of products, distances from differences.
The positions of NaN, +Inf and -Inf must match exactly, the finite values closely. Where the
straightforward formula has a finite result, the kernel must give it too, however it is computed
(the expanded |x|^2 + |y|^2 - 2 x.y of rbf, cosine's norms, chi2's reciprocals): magnitudes near the
ends of the float range are tested as well.

Subnormal numbers count as zero inside kernelkit's calls (flush to zero and denormals are zero,
see cpp/include/kernelkit/float_mode.hpp): results on subnormal data equal the reference on that
data with its subnormals replaced by zero, arithmetic results are never subnormal, and the calling
thread's own floating-point mode is back when a call returns.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit
from kernelkit.models import ops

DTYPES = (np.float32, np.float64)
DTYPE_IDS = ("f32", "f64")
RTOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture(autouse=True)
def _quiet_numpy():
    """The references compute inf - inf, 0 * inf and 0 / 0 on purpose."""
    with np.errstate(all="ignore"):
        yield


def assert_ieee_equal(got: np.ndarray, expected: np.ndarray, dtype: Any) -> None:
    """NaN, +Inf and -Inf exactly where the reference has them; the rest close to it."""
    assert got.shape == expected.shape
    for name, where in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        assert_array_equal(where(got), where(expected), err_msg=f"{name} positions differ")
    finite = np.isfinite(expected)
    if finite.any():
        scale = float(np.max(np.abs(expected[finite])))
        tol = RTOL[dtype]
        assert_allclose(got[finite], expected[finite], rtol=tol, atol=tol * max(scale, 1.0))


def flushed(a: np.ndarray) -> np.ndarray:
    """``a`` with its subnormal numbers replaced by zero (what kernelkit's kernels see)."""
    tiny = np.finfo(a.dtype).tiny
    return np.where(np.abs(a) < tiny, np.zeros_like(a), a)


def assert_no_subnormals(a: np.ndarray) -> None:
    tiny = np.finfo(a.dtype).tiny
    magnitude = np.abs(a[np.isfinite(a)])
    assert np.all((magnitude == 0) | (magnitude >= tiny)), "a result is subnormal"


# ---------------------------------------------------------------------------------------------
# conv2d: every algorithm
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvCase:
    name: str
    c: int
    o: int
    k: int
    groups: int = 1
    pad: int = 1
    stride: int = 1
    dilation: int = 1
    h: int = 9
    w: int = 11
    # the algorithm each layout plans (a tuple: either, depending on the SIMD path's tiles)
    nchw: tuple[str, ...] = ()
    nhwc: tuple[str, ...] = ()


CONV_CASES = (
    # 19 channels: whole vectors and a remainder handled one channel at a time (NHWC)
    ConvCase("depthwise", 19, 19, 3, groups=19, nchw=("depthwise",), nhwc=("depthwise",)),
    ConvCase(
        "depthwise_strided_dilated",
        8,
        8,
        3,
        groups=8,
        pad=2,
        stride=2,
        dilation=2,
        h=13,
        w=12,
        nchw=("depthwise",),
        nhwc=("depthwise",),
    ),
    ConvCase(
        "pointwise_1x1",
        32,
        24,
        1,
        pad=0,
        h=12,
        w=14,
        nchw=("direct_pointwise",),
        nhwc=("indirect_gemm",),
    ),
    ConvCase(
        "first_layer",
        3,
        16,
        3,
        nchw=("direct_few_channels",),
        nhwc=("direct_few_channels", "direct_few_channels_nhwc"),
    ),
    ConvCase(
        "first_layer_wide",
        4,
        32,
        3,
        pad=2,
        nchw=("direct_few_channels",),
        nhwc=("direct_few_channels", "direct_few_channels_nhwc"),
    ),
    # float32 with finite weights: Winograd (its tiles with non-finite input computed directly)
    ConvCase(
        "indirect_gemm_or_winograd",
        32,
        24,
        3,
        nchw=("indirect_gemm", "winograd"),
        nhwc=("indirect_gemm", "winograd"),
    ),
    ConvCase(
        "indirect_gemm_grouped_strided",
        32,
        16,
        3,
        groups=2,
        stride=2,
        nchw=("indirect_gemm",),
        nhwc=("indirect_gemm",),
    ),
)


def conv_reference(x, w, b, case: ConvCase, activation: str | None) -> np.ndarray:
    """NCHW float64: the input padded with explicit zeros, then sum(weight * window) per tap."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g, og = case.groups, o // case.groups
    p, s, d = case.pad, case.stride, case.dilation
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    oh = (h + 2 * p - d * (kh - 1) - 1) // s + 1
    ow = (wd + 2 * p - d * (kw - 1) - 1) // s + 1
    out = np.zeros((n, g, og, oh, ow))
    wg = w.reshape(g, og, cg, kh, kw)
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i * d : i * d + s * oh : s, j * d : j * d + s * ow : s]
            window = window[:, :, :oh, :ow].reshape(n, g, 1, cg, oh, ow)
            out = out + np.sum(wg[None, :, :, :, i, j, None, None] * window, axis=3)
    out = out.reshape(n, o, oh, ow)
    if b is not None:
        out = out + b.astype(np.float64)[None, :, None, None]
    if activation == "relu":
        out = np.where(out < 0, 0.0, out)  # NaN stays NaN
    return out


def conv_data(case: ConvCase, dtype, where: str, seed: int):
    """x (NCHW), weight (OIHW) and bias, with NaN and +-Inf in the one named by ``where``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, case.c, case.h, case.w)).astype(dtype)
    w = rng.standard_normal((case.o, case.c // case.groups, case.k, case.k)).astype(dtype)
    b = rng.standard_normal(case.o).astype(dtype)
    c, h, wd, k = case.c, case.h, case.w, case.k
    if where == "x":  # corners and borders (under the padding's taps) and the interior
        x[0, 1, 0, 0] = np.inf
        x[0, 2, h // 2, wd // 2] = -np.inf
        x[1, 0, 3, 3] = np.nan
        x[1, c - 1, h - 1, wd - 1] = np.inf
        x[1, c // 2, 0, wd // 2] = -np.inf
        x[0, c - 2, 4, 5], x[0, c - 2, 4, 6] = np.inf, -np.inf  # inf - inf where both are read
    elif where == "weight":  # corner taps: over the padding at the borders
        w[1, 0, 0, 0] = np.inf
        w[2, 0, k - 1, k // 2] = -np.inf
        w[3, 0, k // 2, 0] = np.nan
        w[case.o - 1, w.shape[1] - 1, k - 1, k - 1] = np.inf
    else:
        b[0], b[1], b[2] = np.inf, -np.inf, np.nan
    return x, w, b


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("where", ["x", "weight", "bias"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c.name for c in CONV_CASES])
def test_conv2d_non_finite_values_propagate_as_ieee(simd_path, case, dtype, where, activation):
    x, w, b = conv_data(case, dtype, where, seed=len(case.name))
    expected = conv_reference(x, w, b, case, activation)
    for layout, algorithms in (("NCHW", case.nchw), ("NHWC", case.nhwc)):
        conv = kernelkit.Conv2d(
            w,
            b,
            stride=case.stride,
            padding=case.pad,
            dilation=case.dilation,
            groups=case.groups,
            layout=layout,
            weight_layout="OIHW",
            activation=activation,
        )
        xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        assert conv.plan(xin.shape).algorithm in algorithms
        got = conv(xin)
        if layout == "NHWC":
            got = got.transpose(0, 3, 1, 2)
        assert_ieee_equal(got, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_conv2d_function_matches_the_prepared_convolution_with_non_finite_weights(dtype):
    case = CONV_CASES[0]
    x, w, b = conv_data(case, dtype, "weight", seed=3)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    got = kernelkit.conv2d(
        xh, w, b, padding=1, groups=case.groups, layout="NHWC", weight_layout="OIHW"
    ).transpose(0, 3, 1, 2)
    assert_ieee_equal(got, conv_reference(x, w, b, case, None), dtype)


# ---------------------------------------------------------------------------------------------
# filter2d
# ---------------------------------------------------------------------------------------------

PAD_MODES = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}
EPS = float(np.finfo(np.float64).eps)


def extended(image, kh: int, kw: int, mode: str, cval: float) -> np.ndarray:
    """The float64 image extended by the boundary rule for a (kh, kw) kernel centred on a pixel."""
    top, left = kh // 2, kw // 2
    width = [(top, kh - 1 - top), (left, kw - 1 - left)] + [(0, 0)] * (image.ndim - 2)
    image = image.astype(np.float64)
    if mode == "constant":
        return np.pad(image, width, mode="constant", constant_values=cval)
    return np.pad(image, width, mode=PAD_MODES[mode])


def correlate_valid(padded, kernel, h: int, w: int) -> np.ndarray:
    """sum(weight * window) over the applied taps (|w| > float64 epsilon, or NaN: filter2d's
    documented rule), for the (h, w) windows of ``padded`` that fit."""
    out = np.zeros((h, w, *padded.shape[2:]))
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            if not abs(kernel[i, j]) <= EPS:
                out = out + kernel[i, j] * padded[i : i + h, j : j + w]
    return out


def filter_reference(image, kernel, mode: str, cval: float) -> np.ndarray:
    """(H, W[, C]) float64: the image extended by the boundary rule, then the 2-D kernel."""
    h, w = image.shape[:2]
    return correlate_valid(extended(image, *kernel.shape, mode, cval), kernel, h, w)


def separable_reference(image, row, col, mode: str, cval: float) -> np.ndarray:
    """The two passes of filter2d_separable: the row factor along every extended row, then the
    column factor down the results."""
    h, w = image.shape[:2]
    padded = extended(image, col.size, row.size, mode, cval)
    row_passed = correlate_valid(padded, row[None, :], padded.shape[0], w)
    return correlate_valid(row_passed, col[:, None], h, w)


def filter_data(where: str, shape: tuple[int, int], channels: int, dtype, seed: int):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((17, 23) + ((channels,) if channels > 1 else ())).astype(dtype)
    if where == "separable_image":
        col, row = rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
        kernel = np.outer(col, row)
    else:
        kernel = rng.standard_normal(shape)
    cval = 0.5
    if where in ("image", "separable_image"):
        image[0, 0] = np.inf
        image[5, 7] = -np.inf
        image[9, 3] = np.nan
        image[16, 22] = np.inf
        image[11, 12], image[11, 13] = np.inf, -np.inf
    elif where == "kernel":
        kernel[0, 0] = np.inf
        kernel[-1, -1] = -np.inf
        if kernel.size > 2:
            kernel.flat[kernel.size // 2] = np.nan
    else:
        cval = np.inf
    return image, kernel, cval


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("where", ["image", "kernel", "cval", "separable_image"])
@pytest.mark.parametrize("shape", [(3, 3), (5, 4), (1, 7)])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_filter2d_non_finite_values_propagate_as_ieee(
    simd_path, dtype, mode, shape, where, channels
):
    image, kernel, cval = filter_data(where, shape, channels, dtype, seed=sum(shape))
    got = kernelkit.filter2d(image, kernel, mode=mode, cval=cval)
    assert_ieee_equal(got, filter_reference(image, kernel, mode, cval), dtype)


@pytest.mark.parametrize("mode", ["reflect", "constant"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_filter2d_separable_non_finite_weights_and_values(simd_path, dtype, mode):
    rng = np.random.default_rng(8)
    image = rng.standard_normal((19, 21)).astype(dtype)
    image[4, 4], image[10, 0], image[18, 20] = np.nan, np.inf, -np.inf
    row = rng.standard_normal(5)
    col = rng.standard_normal(3)
    row[0], col[2] = np.inf, -np.inf
    got = kernelkit.filter2d_separable(image, row, col, mode=mode, cval=-np.inf)
    # with infinite weights the two passes are not the 2-D kernel np.outer(col, row): a column of
    # row-pass infinities can cancel (NaN) where the 2-D sum's terms do not, and the other way
    assert_ieee_equal(got, separable_reference(image, row, col, mode, -np.inf), dtype)


# ---------------------------------------------------------------------------------------------
# Gram kernels
# ---------------------------------------------------------------------------------------------


def _pairs(x, y, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    return f(x.astype(np.float64)[:, None, :], y.astype(np.float64)[None, :, :])


def _dot(x, y):
    return _pairs(x, y, lambda a, b: np.sum(a * b, axis=-1))


def _chi2_sum(x, y):
    # (x - y)^2 / (x + y) as diff * (diff/2 / (x/2 + y/2)): the same in IEEE arithmetic (inf / inf
    # and NaN alike), without the overflow of diff^2 or x + y for float64 values near the maximum
    def terms(a, b):
        diff, half_sum = a - b, a / 2 + b / 2
        return np.where(half_sum == 0, 0.0, diff * ((diff / 2) / half_sum))

    return _pairs(x, y, lambda a, b: np.sum(terms(a, b), axis=-1))


def _cosine(x, y):
    xn = np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=1))
    yn = np.sqrt(np.sum(y.astype(np.float64) ** 2, axis=1))
    norms = xn[:, None] * yn[None, :]
    return np.where(norms == 0, 0.0, _dot(x, y) / norms)  # zero rows: 0, as scikit-learn


GAMMA = 0.3
COEF0 = 0.7

# name -> (kernelkit call, reference, non-negative data only)
GRAM_KERNELS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray], bool]] = {
    "linear": (kernelkit.linear_kernel, _dot, False),
    "polynomial": (
        lambda x, y: kernelkit.polynomial_kernel(x, y, degree=3, gamma=GAMMA, coef0=COEF0),
        lambda x, y: (GAMMA * _dot(x, y) + COEF0) ** 3,
        False,
    ),
    "polynomial_degree0": (
        # degree=0 is out of polynomial_kernel's range [1, inf), as in scikit-learn; its
        # pairwise_kernels leaves the kernel's parameters unchecked, so the path stays reachable
        lambda x, y: kernelkit.pairwise_kernels(
            x, y, metric="poly", degree=0, gamma=GAMMA, coef0=COEF0
        ),
        lambda x, y: (GAMMA * _dot(x, y) + COEF0) ** 0,  # NaN ** 0 == 1, as pow() says
        False,
    ),
    "polynomial_degree2.5": (
        lambda x, y: kernelkit.polynomial_kernel(x, y, degree=2.5, gamma=GAMMA, coef0=COEF0),
        lambda x, y: (GAMMA * _dot(x, y) + COEF0) ** 2.5,
        False,
    ),
    "sigmoid": (
        lambda x, y: kernelkit.sigmoid_kernel(x, y, gamma=GAMMA, coef0=COEF0),
        lambda x, y: np.tanh(GAMMA * _dot(x, y) + COEF0),
        False,
    ),
    "rbf": (
        lambda x, y: kernelkit.rbf_kernel(x, y, gamma=GAMMA),
        lambda x, y: np.exp(-GAMMA * _pairs(x, y, lambda a, b: np.sum((a - b) ** 2, axis=-1))),
        False,
    ),
    "laplacian": (
        lambda x, y: kernelkit.laplacian_kernel(x, y, gamma=GAMMA),
        lambda x, y: np.exp(-GAMMA * _pairs(x, y, lambda a, b: np.sum(np.abs(a - b), axis=-1))),
        False,
    ),
    "cosine": (kernelkit.cosine_similarity, _cosine, False),
    "chi2": (
        lambda x, y: kernelkit.chi2_kernel(x, y, gamma=GAMMA),
        lambda x, y: np.exp(-GAMMA * _chi2_sum(x, y)),
        True,
    ),
    "additive_chi2": (kernelkit.additive_chi2_kernel, lambda x, y: -_chi2_sum(x, y), True),
}


def gram_data(nonneg: bool, dtype, with_y: bool, seed: int, features: int = 11):
    """X (37 x features) and Y (29 x features, or None) with NaN and Inf (and -Inf unless
    non-negative) in some rows, several in one row, one zero row, rows past the first register
    tiles; with more than 11 features, also in columns past the first vectors of the row norms."""
    rng = np.random.default_rng(seed)

    def sample(rows):
        return rng.random((rows, features)) if nonneg else rng.standard_normal((rows, features))

    x, y = sample(37), sample(29)
    x[1, 2] = np.inf
    x[2, 3] = np.nan
    x[4, 0], x[4, 1] = np.inf, np.inf
    x[30, 10] = np.inf
    x[6] = 0.0
    y[2, 4] = np.inf
    y[20, 0] = np.nan
    y[9] = 0.0
    if not nonneg:
        x[3, 5] = -np.inf
        x[5, 1], x[5, 2] = np.inf, -np.inf
        x[33, 0] = -np.inf
        y[3, 3] = -np.inf
        y[25, 1], y[25, 7] = -np.inf, -np.inf
    if features > 40:
        x[10, 40] = np.inf
        x[11, features - 1] = np.nan
        y[12, 39] = np.nan
    return x.astype(dtype), (y.astype(dtype) if with_y else None)


@pytest.mark.parametrize("features", [11, 77])
@pytest.mark.parametrize("with_y", [False, True], ids=["Y=None", "Y"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", list(GRAM_KERNELS))
def test_gram_non_finite_values_propagate_as_ieee(simd_path, kernel, dtype, with_y, features):
    call, reference, nonneg = GRAM_KERNELS[kernel]
    x, y = gram_data(nonneg, dtype, with_y, seed=len(kernel), features=features)
    got = call(x, y)
    assert_ieee_equal(got, reference(x, x if y is None else y), dtype)


def test_cosine_diagonal_of_rows_with_inf_is_nan():
    """inf / inf: an Inf row has no direction (its diagonal used to be 0, as for a zero row)."""
    x = np.array([[np.inf, 1.0], [0.0, 0.0], [1.0, 2.0]])
    diagonal = np.diag(kernelkit.cosine_similarity(x))
    assert np.isnan(diagonal[0])
    assert diagonal[1] == 0.0
    assert diagonal[2] == 1.0


def magnitude_data(kernel: str, dtype):
    """Rows whose exact kernel values are finite but whose products, squared norms or sums lie
    near or beyond the ends of the float range."""
    info = np.finfo(dtype)
    if kernel == "rbf":  # |x|^2 overflows; the identical and the small rows are exactly 1 apart
        big = 1e20 if dtype == np.float32 else 1e200
        return np.array([[big, 0.0], [big, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, big]], dtype), 1e-30
    if kernel == "cosine":  # x.y overflows or underflows in the input dtype
        big, small = (1e25, 1e-25) if dtype == np.float32 else (1e200, 1e-200)
        rows = [
            [big, big],
            [1.0, 2.0],
            [big, 0.0],
            [small, small],
            [small, 0.0],
            [3 * small, -small],
        ]
        return np.array(rows, dtype), None
    # chi2: sums x + y whose reciprocal is below the smallest normal, and whose sum overflows
    half = info.max / 2
    rows = [[half, 0.0], [0.0, 0.0], [half / 1e3, 1.0], [half, half], [info.max, 1.0]]
    return np.array(rows, dtype), 4.0 / float(half)  # a normal number in dtype


def magnitude_reference(kernel: str, x: np.ndarray, gamma: float | None) -> np.ndarray:
    if kernel == "rbf":
        return np.exp(-gamma * _pairs(x, x, lambda a, b: np.sum((a - b) ** 2, axis=-1)))
    if kernel == "cosine":  # scale invariant: each row divided by its largest |value| first
        return _cosine(*(2 * [x / np.max(np.abs(x), axis=1, keepdims=True)]))
    return _chi2_sum(x, x)


@pytest.mark.parametrize("zero_columns", [(0, 0), (40, 35)], ids=["2", "77"])
@pytest.mark.parametrize("with_y", [False, True], ids=["Y=None", "Y"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("kernel", ["rbf", "cosine", "additive_chi2", "chi2"])
def test_gram_extreme_magnitudes_give_the_exact_result(
    simd_path, kernel, dtype, with_y, zero_columns
):
    """Also with zero columns around the two of magnitude_data: its values then go through the
    vector part of the row norms and maxima."""
    x, gamma = magnitude_data("chi2" if "chi2" in kernel else kernel, dtype)
    x = np.pad(x, ((0, 0), zero_columns))
    y = x.copy() if with_y else None
    if kernel == "rbf":
        got = kernelkit.rbf_kernel(x, y, gamma=gamma)
    elif kernel == "cosine":
        got = kernelkit.cosine_similarity(x, y)
    elif kernel == "additive_chi2":
        got = kernelkit.additive_chi2_kernel(x, y)
    else:
        got = kernelkit.chi2_kernel(x, y, gamma=gamma)
    sums = magnitude_reference("chi2" if "chi2" in kernel else kernel, x, gamma)
    expected = np.exp(-gamma * sums) if kernel == "chi2" else (-sums if "chi2" in kernel else sums)
    assert np.isfinite(expected).all()
    assert_ieee_equal(got, expected, dtype)


# ---------------------------------------------------------------------------------------------
# Pooling (kernelkit.models.ops.pool runs the core's pool2d on 4-D float32/float64 arrays)
# ---------------------------------------------------------------------------------------------


def pool_reference(x, kind: str, k: int, s: int, p: int, count_padding: bool) -> np.ndarray:
    """NCHW float64: padded with -inf (max) or 0 (average), the window's max or mean over its
    elements inside the input (or inside the padding too, with count_padding)."""
    x = x.astype(np.float64)
    fill = -np.inf if kind == "max" else 0.0
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    inside = np.pad(np.ones(x.shape[2:]), p, constant_values=1.0 if count_padding else 0.0)
    oh, ow = (padded.shape[2] - k) // s + 1, (padded.shape[3] - k) // s + 1
    out = np.empty((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = padded[:, :, i * s : i * s + k, j * s : j * s + k]
            if kind == "max":
                out[:, :, i, j] = np.max(window, axis=(2, 3))
            else:
                count = inside[i * s : i * s + k, j * s : j * s + k].sum()
                out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("count_padding", [False, True])
@pytest.mark.parametrize("window", [(2, 2, 0), (3, 1, 1), (3, 2, 1)], ids=["2s2", "3s1p1", "3s2p1"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_pooling_non_finite_values_propagate_as_ieee(
    simd_path, dtype, kind, window, count_padding, layout
):
    k, s, p = window
    rng = np.random.default_rng(k + s + p)
    x = rng.standard_normal((2, 5, 9, 11)).astype(dtype)
    x[0, 1, 0, 0] = np.inf
    x[0, 2, 4, 5] = -np.inf
    x[1, 0, 3, 3] = np.nan
    x[1, 4, 8, 10] = np.inf
    x[1, 3, 2, 2], x[1, 3, 2, 3] = np.inf, -np.inf
    x[0, 4] = -np.inf  # a whole plane: max -inf, average -inf
    expected = pool_reference(x, kind, k, s, p, count_padding)
    nhwc = layout == "NHWC"
    xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if nhwc else x
    got = ops.pool(
        xin, kind, (k, k), (s, s), ((p, p), (p, p)), 3 if nhwc else 1, count_padding=count_padding
    )
    assert_ieee_equal(got.transpose(0, 3, 1, 2) if nhwc else got, expected, dtype)


# ---------------------------------------------------------------------------------------------
# Subnormal numbers: counted as zero inside the calls, the caller's mode untouched
# ---------------------------------------------------------------------------------------------

SUBNORMAL_SCALE = {np.float32: 1e-39, np.float64: 1e-310}


def subnormal_mix(shape, dtype, seed: int, nonneg: bool = False) -> np.ndarray:
    """Normal values with about a third of the entries subnormal."""
    rng = np.random.default_rng(seed)
    values = rng.random(shape) if nonneg else rng.standard_normal(shape)
    values = np.where(rng.random(shape) < 0.35, values * SUBNORMAL_SCALE[dtype], values)
    out = values.astype(dtype)
    assert (np.abs(out[out != 0]) < np.finfo(dtype).tiny).any()
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", CONV_CASES[::2], ids=[c.name for c in CONV_CASES[::2]])
def test_conv2d_subnormal_inputs_and_weights_count_as_zero(simd_path, case, dtype):
    x = subnormal_mix((2, case.c, case.h, case.w), dtype, 1)
    w = subnormal_mix((case.o, case.c // case.groups, case.k, case.k), dtype, 2)
    b = subnormal_mix((case.o,), dtype, 3)
    conv = kernelkit.Conv2d(
        w, b, stride=case.stride, padding=case.pad, dilation=case.dilation, groups=case.groups
    )
    got = conv(x)
    assert_ieee_equal(got, conv_reference(flushed(x), flushed(w), flushed(b), case, None), dtype)
    assert_no_subnormals(got)
    # weights and input wholly subnormal: exactly the bias
    tiny_conv = kernelkit.Conv2d(
        (w * 0 + 1).astype(dtype) * SUBNORMAL_SCALE[dtype],
        np.ones(case.o, dtype),
        padding=case.pad,
        stride=case.stride,
        dilation=case.dilation,
        groups=case.groups,
    )
    assert np.all(tiny_conv(np.ones_like(x)) == 1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_filter2d_subnormal_image_counts_as_zero(simd_path, dtype):
    image = subnormal_mix((33, 40), dtype, 4)
    kernel = np.random.default_rng(5).standard_normal((3, 5))
    got = kernelkit.filter2d(image, kernel, mode="nearest")
    assert_ieee_equal(got, filter_reference(flushed(image), kernel, "nearest", 0.0), dtype)
    assert_no_subnormals(got)
    faint = np.full((20, 20, 2), np.finfo(dtype).tiny / 30, dtype)  # 9 taps of 0.5: 0.15 tiny
    assert np.all(kernelkit.filter2d(faint, np.full((3, 3), 0.5)) == 0.0)
    assert np.all(kernelkit.filter2d_separable(faint, np.full(3, 0.5), np.ones(3)) == 0.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_average_pooling_of_subnormals_is_zero(simd_path, dtype):
    faint = np.full((1, 3, 8, 8), np.finfo(dtype).tiny / 30, dtype)
    got = ops.pool(faint, "avg", (2, 2), (2, 2), ((1, 1), (1, 1)), 1)
    assert np.all(got == 0.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize(
    "kernel", ["linear", "rbf", "laplacian", "cosine", "chi2", "additive_chi2"]
)
def test_gram_subnormal_inputs_count_as_zero(simd_path, kernel, dtype):
    call, reference, nonneg = GRAM_KERNELS[kernel]
    x = subnormal_mix((41, 13), dtype, 6, nonneg)
    y = subnormal_mix((23, 13), dtype, 7, nonneg)
    x[3] = SUBNORMAL_SCALE[dtype] / 10 * np.arange(1, 14)  # a row of subnormals only
    got = call(x, y)
    assert_ieee_equal(got, reference(flushed(x), flushed(y)), dtype)
    assert_no_subnormals(got)


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_gram_results_below_the_smallest_normal_are_zero(simd_path, dtype):
    """Products and exp() results in the subnormal range are flushed to 0 (documented)."""
    tiny = float(np.finfo(dtype).tiny)
    x = np.full((5, 4), np.sqrt(tiny) / 4, dtype)  # x.y = tiny / 4: a subnormal product
    assert np.all(kernelkit.linear_kernel(x) == 0.0)
    far = np.array([[0.0], [1.0]], dtype)
    gamma = -np.log(tiny) + 2.0  # exp(-gamma) is subnormal
    assert kernelkit.rbf_kernel(far, gamma=gamma)[0, 1] == 0.0


def test_callers_floating_point_mode_is_restored():
    """The calling thread's NumPy arithmetic keeps its subnormals after every kind of call."""
    tiny32, tiny64 = np.float32(np.finfo(np.float32).tiny), np.finfo(np.float64).tiny

    def subnormals_survive() -> bool:
        return bool(tiny32 / np.float32(8) != 0) and bool(tiny64 / 8.0 != 0)

    assert subnormals_survive()
    x = np.random.default_rng(0).random((64, 8))
    kernelkit.rbf_kernel(x)
    assert subnormals_survive()
    kernelkit.chi2_kernel(x)
    assert subnormals_survive()
    kernelkit.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding=1)
    assert subnormals_survive()
    kernelkit.filter2d(np.ones((16, 16)), np.ones((3, 3)))
    assert subnormals_survive()
    ops.pool(np.ones((1, 2, 6, 6)), "max", (2, 2), (2, 2), ((0, 0), (0, 0)), 1)
    assert subnormals_survive()
    with pytest.raises(ValueError, match="negative values"):
        kernelkit.additive_chi2_kernel(-x)
    assert subnormals_survive()


def test_pool_workers_take_on_the_callers_mode():
    """Worker threads started outside any kernelkit call (here by the FMA measurement, in a fresh
    process) flush too: every tile of a two-thread result is 0 where the products are subnormal."""
    script = textwrap.dedent(
        """
        import numpy as np
        import kernelkit
        from kernelkit import _core
        _core.fma_peak(False, 0.002, 2)  # starts the pool's worker outside any compute call
        tiny = float(np.finfo(np.float32).tiny)
        x = np.full((900, 8), np.sqrt(tiny) / 4, np.float32)  # x.y = tiny / 2, a subnormal
        images = np.full((2, 16, 40, 40), 1e-20, np.float32)
        weight = np.full((16, 16, 3, 3), 1e-21, np.float32)  # sums of 144 products of 1e-41
        for n_threads in (2, 2, 1):
            k = kernelkit.linear_kernel(x, x.copy(), n_threads=n_threads)
            assert np.count_nonzero(k) == 0, (n_threads, np.count_nonzero(k))
            y = kernelkit.conv2d(images, weight, padding=1, n_threads=n_threads)
            assert np.count_nonzero(y) == 0, (n_threads, np.count_nonzero(y))
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
