"""The named kernels of ``kernelkit.kernels``: shapes, normalisation, what each one detects (its
sign on synthetic images, computed as ``sum(kernel * window)``: the definition of correlation)
and the ``NAME[:PARAM]`` specs of the command line."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kernelkit import kernels

ZERO_SUM = (
    "horizontal_edge",
    "vertical_edge",
    "sobel_x",
    "sobel_y",
    "scharr_x",
    "scharr_y",
    "prewitt_x",
    "prewitt_y",
    "laplacian",
)
UNIT_SUM = ("sharpen", "emboss", "gaussian", "box")
# The response to a ramp with slope 1 along x of each x-gradient kernel, and of its y twin.
GRADIENT_GAIN = {"sobel": 8.0, "scharr": 32.0, "prewitt": 6.0}
SPEC_PARAMETER = {"gaussian": "1.5", "box": "4"}


def centre_response(kernel: np.ndarray, image: np.ndarray) -> float:
    """Correlation at the centre pixel of ``image``: the kernel laid over the centred window."""
    kh, kw = kernel.shape
    cy, cx = image.shape[0] // 2, image.shape[1] // 2
    window = image[cy - kh // 2 : cy - kh // 2 + kh, cx - kw // 2 : cx - kw // 2 + kw]
    return float((kernel * window).sum())


def ramp(axis: int, size: int = 9) -> np.ndarray:
    """Intensity increasing by 1 per pixel along ``axis`` (1: x, to the right; 0: y, downwards)."""
    coords = np.arange(size, dtype=np.float64)
    return np.broadcast_to(coords if axis == 1 else coords[:, None], (size, size)).copy()


def step(bright: str, size: int = 9) -> np.ndarray:
    """A step edge through the centre: 1 on the ``bright`` side (above/below/left/right), else 0."""
    image = np.zeros((size, size))
    half = size // 2
    region = {
        "above": (slice(0, half), slice(None)),
        "below": (slice(half + 1, None), slice(None)),
        "left": (slice(None), slice(0, half)),
        "right": (slice(None), slice(half + 1, None)),
    }[bright]
    image[region] = 1.0
    return image


def spot(size: int = 9) -> np.ndarray:
    image = np.zeros((size, size))
    image[size // 2, size // 2] = 1.0
    return image


@pytest.mark.parametrize("name", sorted(kernels.NAMED_KERNELS))
def test_named_kernels_are_fresh_float64_matrices(name):
    entry = kernels.NAMED_KERNELS[name]
    param = SPEC_PARAMETER.get(name)
    first = kernels.kernel_from_spec(name if param is None else f"{name}:{param}")
    assert first.dtype == np.float64
    assert first.ndim == 2
    assert first.flags.writeable
    first[...] = 123.0
    second = entry.build(param)
    assert not np.any(second == 123.0), "each call must return a new array"
    assert entry.summary[:1].isupper()


@pytest.mark.parametrize("name", ZERO_SUM)
def test_derivative_kernels_sum_to_zero(name):
    k = getattr(kernels, name)()
    assert k.shape == (3, 3)
    assert k.sum() == 0.0


@pytest.mark.parametrize(
    "kernel",
    [
        kernels.sharpen(),
        kernels.emboss(),
        kernels.gaussian(0.7),
        kernels.gaussian(2.5, size=4),
        kernels.box(3),
        kernels.box((2, 5)),
    ],
    ids=["sharpen", "emboss", "gaussian", "gaussian-even", "box", "box-pair"],
)
def test_smoothing_kernels_sum_to_one(kernel):
    assert kernel.sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("family", sorted(GRADIENT_GAIN))
def test_gradient_kernels_respond_along_their_axis(family):
    kx = getattr(kernels, f"{family}_x")()
    ky = getattr(kernels, f"{family}_y")()
    gain = GRADIENT_GAIN[family]
    assert centre_response(kx, ramp(axis=1)) == gain  # increasing to the right
    assert centre_response(kx, ramp(axis=0)) == 0.0
    assert centre_response(ky, ramp(axis=0)) == gain  # increasing downwards
    assert centre_response(ky, ramp(axis=1)) == 0.0
    assert centre_response(kx, step("right")) > 0 > centre_response(kx, step("left"))
    assert centre_response(ky, step("below")) > 0 > centre_response(ky, step("above"))
    assert_array_equal(ky, kx.T)


def test_edge_kernels_respond_to_bright_above_and_bright_left():
    horizontal, vertical = kernels.horizontal_edge(), kernels.vertical_edge()
    assert centre_response(horizontal, step("above")) > 0
    assert centre_response(horizontal, step("below")) < 0
    assert centre_response(horizontal, step("left")) == 0.0
    assert centre_response(vertical, step("left")) > 0
    assert centre_response(vertical, step("right")) < 0
    assert centre_response(vertical, step("above")) == 0.0


@pytest.mark.parametrize("diagonal", [False, True])
def test_laplacian_marks_spots_not_ramps(diagonal):
    lap = kernels.laplacian(diagonal=diagonal)
    assert lap.sum() == 0.0
    assert centre_response(lap, spot()) < 0 < centre_response(lap, -spot())
    assert centre_response(lap, ramp(axis=0)) == 0.0
    assert centre_response(lap, ramp(axis=1) + ramp(axis=0)) == 0.0
    assert centre_response(lap, np.ones((9, 9))) == 0.0


def test_sharpen_and_emboss_keep_flat_areas_and_emboss_lights_bottom_right():
    flat = np.full((9, 9), 0.25)
    assert centre_response(kernels.sharpen(), flat) == pytest.approx(0.25)
    assert centre_response(kernels.emboss(), flat) == pytest.approx(0.25)
    assert centre_response(kernels.sharpen(), spot()) > 1.0  # detail is amplified
    diagonal_ramp = ramp(axis=0) + ramp(axis=1)
    centre = diagonal_ramp[4, 4]
    assert centre_response(kernels.emboss(), diagonal_ramp) > centre
    assert centre_response(kernels.emboss(), -diagonal_ramp) < -centre


@pytest.mark.parametrize(("sigma", "size"), [(0.3, 3), (0.5, 5), (1.0, 7), (1.5, 11), (2.2, 15)])
def test_gaussian_default_size_is_two_ceil_three_sigma_plus_one(sigma, size):
    g = kernels.gaussian(sigma)
    assert g.shape == (size, size) == (2 * math.ceil(3 * sigma) + 1,) * 2
    assert np.unravel_index(np.argmax(g), g.shape) == (size // 2, size // 2)
    assert_allclose(g, g[::-1, ::-1], rtol=0, atol=1e-18)
    assert np.linalg.matrix_rank(g) == 1


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.7, 3.0])
def test_gaussian_matches_scipy_gaussian_filter_of_a_spot(sigma):
    ndimage = pytest.importorskip("scipy.ndimage")
    g = kernels.gaussian(sigma)
    radius = g.shape[0] // 2
    impulse = spot(g.shape[0])
    expected = ndimage.gaussian_filter(impulse, sigma, mode="constant", radius=radius)
    assert_allclose(g, expected, rtol=1e-12, atol=1e-17)


def test_gaussian_even_size_is_centred_between_pixels():
    g = kernels.gaussian(1.0, size=4)
    assert g.shape == (4, 4)
    assert_allclose(g, g[::-1, ::-1], rtol=1e-15)
    assert g[1, 1] == g.max()


def test_box_values():
    assert_array_equal(kernels.box(3), np.full((3, 3), 1 / 9))
    assert_array_equal(kernels.box((1, 4)), np.full((1, 4), 0.25))
    assert_array_equal(kernels.box(1), [[1.0]])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: kernels.gaussian(0.0), ValueError, "sigma"),
        (lambda: kernels.gaussian(-1.0), ValueError, "sigma"),
        (lambda: kernels.gaussian(float("nan")), ValueError, "sigma"),
        (lambda: kernels.gaussian("wide"), TypeError, "sigma"),
        (lambda: kernels.gaussian(1.0, size=0), ValueError, "size"),
        (lambda: kernels.gaussian(1.0, size=2.5), TypeError, "size"),
        (lambda: kernels.box(0), ValueError, "size"),
        (lambda: kernels.box((3, 0)), ValueError, "size"),
        (lambda: kernels.box((1, 2, 3)), TypeError, "size"),
        (lambda: kernels.box("big"), TypeError, "size"),
    ],
)
def test_bad_parameters_raise_naming_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("sobel_x", kernels.sobel_x()),
        ("  Sobel_Y ", kernels.sobel_y()),
        ("laplacian", kernels.laplacian()),
        ("laplacian:diagonal", kernels.laplacian(diagonal=True)),
        ("gaussian:1.5", kernels.gaussian(1.5)),
        ("box:4", kernels.box(4)),
    ],
)
def test_kernel_from_spec(spec, expected):
    assert_array_equal(kernels.kernel_from_spec(spec), expected)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("blur", "unknown name 'blur'"),
        ("sobel_x:2", "takes no parameter"),
        ("laplacian:4", "diagonal"),
        ("gaussian", "needs a parameter"),
        ("gaussian:wide", "bad parameter"),
        ("gaussian:-1", "sigma"),
        ("box:2.5", "bad parameter"),
    ],
)
def test_kernel_from_spec_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        kernels.kernel_from_spec(spec)
