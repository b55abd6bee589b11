"""The kernels' vectorised exp and tanh (``kernelkit._core.vexp`` / ``vtanh``) against NumPy.

Over the whole input range (a dense grid plus the overflow, underflow, subnormal and special-value
edges), for float32 and float64 and every SIMD path: at most 4 ulp from the reference, and inf,
NaN and exact zeros (with their sign) reproduced exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kernelkit import _core

MAX_ULP = 4.0

FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]]
FUNCTIONS = {"exp": (_core.vexp, np.exp), "tanh": (_core.vtanh, np.tanh)}
DTYPES = [np.float32, np.float64]
DTYPE_IDS = ["f32", "f64"]


def reference(name: str, x: np.ndarray) -> np.ndarray:
    """NumPy's function in float64 (for float32 input: of the exact float32 values)."""
    with np.errstate(all="ignore"):
        return FUNCTIONS[name][1](x.astype(np.float64))


def _neighbours(x0: float, dtype, count: int = 8) -> np.ndarray:
    """x0 rounded to dtype and `count` representable numbers on each side of it."""
    points = [dtype(x0)]
    lo = hi = dtype(x0)
    for _ in range(count):
        lo = np.nextafter(lo, dtype(-np.inf))
        hi = np.nextafter(hi, dtype(np.inf))
        points += [lo, hi]
    return np.array(points, dtype=dtype)


SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1.0, -1.0, 0.5, -0.5]


def exp_points(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    tiny_sub = float(info.smallest_subnormal)
    log_max = float(np.log(np.float64(info.max)))
    log_tiny = float(np.log(np.float64(info.smallest_normal)))
    log_sub = float(np.log(tiny_sub))
    log_zero = float(np.log(tiny_sub) - np.log(2.0))  # below this exp rounds to 0
    lo, hi = log_sub - 6, log_max + 6
    ln2 = np.log(2.0)
    k = np.arange(np.floor(log_sub / ln2) - 1, np.ceil(log_max / ln2) + 2)
    parts = [
        np.linspace(lo, hi, 200_001).astype(dtype),
        np.linspace(-1, 1, 20_001).astype(dtype),
        (k * ln2).astype(dtype),  # reduction boundaries: r = 0
        ((k + 0.5) * ln2).astype(dtype),  # and |r| = ln2 / 2
        *(_neighbours(v, dtype) for v in (log_max, log_tiny, log_sub, log_zero, 0.0)),
        np.array(
            [*SPECIALS, info.max, -info.max, info.smallest_normal, tiny_sub, -tiny_sub], dtype=dtype
        ),
        np.array([1e4, -1e4, 1e30, -1e30], dtype=dtype),
    ]
    return np.concatenate(parts)


def tanh_points(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    tiny_sub = float(info.smallest_subnormal)
    magnitudes = np.logspace(np.log10(tiny_sub), 1.5, 20_001).astype(dtype)
    # where tanh rounds to 1: 1 - tanh(x) ~ 2 exp(-2x) falls below half an ulp of 1
    saturation = 0.5 * np.log(4.0 / float(info.epsneg))
    parts = [
        np.linspace(-25, 25, 200_001).astype(dtype),
        magnitudes,
        -magnitudes,
        *(_neighbours(v, dtype) for v in (saturation, -saturation, 0.5 * np.log(3.0), 0.0)),
        np.array(
            [*SPECIALS, info.max, -info.max, info.smallest_normal, tiny_sub, -tiny_sub], dtype=dtype
        ),
    ]
    return np.concatenate(parts)


POINTS = {"exp": exp_points, "tanh": tanh_points}


def ulp_error(actual: np.ndarray, exact: np.ndarray, dtype) -> np.ndarray:
    """|actual - exact| in ulps of the rounded result (spacing(0) = smallest subnormal)."""
    rounded = exact.astype(dtype)
    spacing = np.spacing(np.abs(rounded)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def check_against_reference(name: str, x: np.ndarray, got: np.ndarray) -> None:
    dtype = x.dtype.type
    exact = reference(name, x)
    with np.errstate(over="ignore"):
        rounded = exact.astype(dtype)

    assert got.dtype == dtype
    assert got.shape == x.shape

    # inf and NaN exactly where the reference has them (with the sign of the infinity)
    special = ~np.isfinite(rounded)
    assert_array_equal(
        got[special], rounded[special], err_msg=f"{name}: inf/NaN mismatch at x = {x[special]}"
    )
    assert np.isfinite(got[~special]).all(), (
        f"{name}: non-finite result for x = {x[~special][~np.isfinite(got[~special])]}"
    )

    # exact zeros: tanh(+-0) = +-0; exp(x) = 0 well below the underflow threshold
    if name == "exp":
        log_zero = np.log(float(np.finfo(dtype).smallest_subnormal)) - np.log(2.0)
        must_be_zero = x.astype(np.float64) < log_zero - 1
    else:
        must_be_zero = x == 0
    assert_array_equal(got[must_be_zero], rounded[must_be_zero])
    assert_array_equal(
        np.signbit(got[must_be_zero]),
        np.signbit(rounded[must_be_zero]),
        err_msg=f"{name}: sign of zero",
    )

    finite = ~special
    err = ulp_error(got[finite], exact[finite], dtype)
    worst = int(np.argmax(err)) if err.size else 0
    assert err.size == 0 or err[worst] <= MAX_ULP, (
        f"{name} {np.dtype(dtype).name}: {err[worst]:.2f} ulp at x = {x[finite][worst]!r} "
        f"(got {got[finite][worst]!r}, reference {exact[finite][worst]!r})"
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_full_range(simd_path, name, dtype):
    x = POINTS[name](dtype)
    assert x.dtype == dtype
    check_against_reference(name, x, FUNCTIONS[name][0](x))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_exp_edges_exactly(simd_path, dtype):
    """The last finite exp is finite, the next input overflows; the subnormals come out non-zero."""
    info = np.finfo(dtype)
    log_max = dtype(np.log(np.float64(info.max)))
    below = log_max

    def overflows(v) -> bool:
        with np.errstate(over="ignore"):
            return not np.isfinite(reference("exp", np.array([v], dtype=dtype)).astype(dtype)[0])

    while overflows(below):
        below = np.nextafter(below, dtype(-np.inf))
    assert overflows(np.nextafter(below, dtype(np.inf)))
    above = np.nextafter(below, dtype(np.inf))
    got = _core.vexp(np.array([below, above], dtype=dtype))
    assert np.isfinite(got[0])
    assert got[1] == np.inf

    sub = dtype(np.log(np.float64(info.smallest_normal))) - dtype(5)
    got_sub = _core.vexp(np.array([sub], dtype=dtype))[0]
    assert 0 < got_sub < info.smallest_normal  # a subnormal, not flushed to zero
    assert _core.vexp(np.array([-np.inf], dtype=dtype))[0] == 0
    assert _core.vexp(np.array([np.inf], dtype=dtype))[0] == np.inf


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
def test_tanh_subnormal_inputs_are_kept(simd_path, dtype):
    """tanh(x) = x for subnormal x: no flush to zero."""
    info = np.finfo(dtype)
    x = np.array(
        [
            info.smallest_subnormal,
            -info.smallest_subnormal,
            info.smallest_normal / 4,
            -info.smallest_normal / 3,
        ],
        dtype=dtype,
    )
    assert_array_equal(_core.vtanh(x), x)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 1003])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_odd_sizes_and_tails(simd_path, name, dtype, size):
    rng = np.random.default_rng(size)
    x = rng.uniform(-20, 20, size).astype(dtype)
    if size >= 1:
        x[-1] = np.nan  # the last element lives in the tail
    got = FUNCTIONS[name][0](x)
    check_against_reference(name, x, got)
    # every position is the function of its own input (no lane mix-up in the tail)
    for i in range(min(size, 40)):
        single = FUNCTIONS[name][0](x[i : i + 1])
        assert_array_equal(single, got[i : i + 1])


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_shapes_layouts_and_dtypes(name):
    func = FUNCTIONS[name][0]
    rng = np.random.default_rng(1)
    x = rng.uniform(-5, 5, (7, 9))
    # any shape, same shape back; non-contiguous inputs
    for arr in (x, x.T, x[::2, 1::3], np.asfortranarray(x), x.reshape(3, 21), np.array(x[0, 0])):
        got = func(arr)
        assert got.shape == arr.shape
        assert got.dtype == np.float64
        check_against_reference(name, np.ascontiguousarray(arr), np.ascontiguousarray(got))
    # float32 stays float32, everything else is computed in float64
    assert func(x.astype(np.float32)).dtype == np.float32
    for dtype in (np.float16, np.int32, np.int64, np.uint8, np.bool_):
        small = np.arange(6).reshape(2, 3).astype(dtype)
        got = func(small)
        assert got.dtype == np.float64
        check_against_reference(name, small.astype(np.float64), got)
    # the input is not modified
    before = x.copy()
    func(x)
    assert_array_equal(x, before)
