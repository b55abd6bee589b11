"""``kernelkit.filter2d`` / ``filter2d_separable`` against ``scipy.ndimage.correlate`` and
``scipy.ndimage.convolve``.

The main sweep covers every boundary mode x convolve on/off x kernels 1x1, 1x7, 4x2, 3x3, 5x5, 7x7
x images 1x1, 5x7, 64x33, 31x40x3 x float32/float64 x every SIMD path; the scipy references are
computed once (in float64, from float32-representable data) and shared by both dtypes and all
paths. Further tests: origins, kernels larger than the image, images spanning several tiles,
NaN/Inf, separable kernels, batches, non-contiguous input, dtypes, ``out=``, threads and errors,
then the display scaling and the ``kernelkit apply`` command (one run in a subprocess writing a
real PNG).
"""

from __future__ import annotations

import importlib
import itertools
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit
from kernelkit import _core, cli, kernels
from kernelkit._display import auto_scaling, scale_for_display
from kernelkit._images import as_channels, read_image

MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
KERNEL_SHAPES = ((1, 1), (1, 7), (4, 2), (3, 3), (5, 5), (7, 7))
IMAGE_SHAPES = ((1, 1), (5, 7), (64, 33), (31, 40, 3))
DTYPES = (np.float32, np.float64)
CVAL = 0.75
# |kernelkit - scipy| <= TOL * sum|kernel| * max|image|: float32 sums in float32, scipy in float64.
TOL = {np.float32: 2e-6, np.float64: 1e-13}
# scipy.ndimage's boundary modes by their np.pad names ("constant" uses CVAL).
NUMPY_PAD_MODES = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}


@pytest.fixture(scope="module")
def ndimage() -> Any:
    return pytest.importorskip("scipy.ndimage")


def seeded(*key: Any) -> np.random.Generator:
    return np.random.default_rng([abs(hash(str(key))) % 2**32, 6])


@cache
def random_image(shape: tuple[int, ...]) -> np.ndarray:
    """Normal values that float32 represents exactly, so both dtypes share one reference."""
    image = seeded("image", shape).standard_normal(shape).astype(np.float32).astype(np.float64)
    image.flags.writeable = False
    return image


@cache
def random_kernel(shape: tuple[int, int]) -> np.ndarray:
    kernel = seeded("kernel", shape).standard_normal(shape)
    kernel.flags.writeable = False
    return kernel


def scipy_filter(
    image: np.ndarray,
    kernel: np.ndarray,
    mode: str,
    convolve: bool = False,
    origin: Any = 0,
    cval: float = CVAL,
) -> np.ndarray:
    """scipy.ndimage in float64; (H, W, C) and batches one 2-D plane at a time."""
    ndimage = importlib.import_module("scipy.ndimage")
    image = np.asarray(image, dtype=np.float64)
    if image.ndim > 2:
        planes = np.moveaxis(image, -1, 0) if image.ndim == 3 else image
        filtered = [scipy_filter(p, kernel, mode, convolve, origin, cval) for p in planes]
        return np.moveaxis(np.stack(filtered), 0, -1) if image.ndim == 3 else np.stack(filtered)
    function = ndimage.convolve if convolve else ndimage.correlate
    return function(image, np.asarray(kernel, np.float64), mode=mode, cval=cval, origin=origin)


@cache
def sweep_reference(
    mode: str, convolve: bool, kernel_shape: tuple[int, int], image_shape: tuple[int, ...]
) -> np.ndarray:
    return scipy_filter(
        random_image(image_shape), random_kernel(kernel_shape), mode, convolve=convolve
    )


def assert_matches(
    result: np.ndarray,
    expected: np.ndarray,
    image: np.ndarray,
    kernel: np.ndarray,
    dtype: Any,
    case: str = "",
) -> None:
    assert result.dtype == dtype, case
    assert result.shape == expected.shape, case
    scale = np.abs(kernel).sum() * max(float(np.nanmax(np.abs(image), initial=0.0)), 1.0)
    assert_allclose(result, expected, rtol=0, atol=TOL[dtype] * scale, err_msg=case)


# ---------------------------------------------------------------------------------------------
# The scipy sweep
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("convolve", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("mode", MODES)
def test_matches_scipy_for_every_kernel_and_image_size(ndimage, simd_path, mode, convolve, dtype):
    for kernel_shape, image_shape in itertools.product(KERNEL_SHAPES, IMAGE_SHAPES):
        image, kernel = random_image(image_shape), random_kernel(kernel_shape)
        result = kernelkit.filter2d(
            image.astype(dtype), kernel, mode=mode, cval=CVAL, convolve=convolve
        )
        expected = sweep_reference(mode, convolve, kernel_shape, image_shape)
        case = f"kernel {kernel_shape}, image {image_shape}"
        assert_matches(result, expected, image, kernel, dtype, case)


@pytest.mark.parametrize("convolve", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("kernel_shape", [(3, 3), (4, 3), (2, 5), (6, 6)])
def test_every_valid_origin_matches_scipy(ndimage, kernel_shape, convolve):
    image, kernel = random_image((9, 11)), random_kernel(kernel_shape)
    even = [1 - k % 2 for k in kernel_shape]
    # scipy's accepted range (for convolve=True: negated and, for even sizes, one step back).
    ranges = [
        range(-((k - 1) // 2) - e, k // 2 - e + 1)
        if convolve
        else range(-(k // 2), (k - 1) // 2 + 1)
        for k, e in zip(kernel_shape, even)
    ]
    for origin in itertools.product(*ranges):
        for mode in ("constant", "wrap"):
            expected = scipy_filter(image, kernel, mode, convolve, origin)
            result = kernelkit.filter2d(
                image, kernel, mode=mode, cval=CVAL, origin=origin, convolve=convolve
            )
            assert_matches(result, expected, image, kernel, np.float64, f"origin {origin}, {mode}")


def test_scalar_origin_applies_to_both_axes(ndimage):
    image, kernel = random_image((8, 9)), random_kernel((5, 5))
    expected = scipy_filter(image, kernel, "reflect", origin=-2)
    assert_allclose(kernelkit.filter2d(image, kernel, origin=-2), expected, atol=1e-13)


def padded_filter(image: np.ndarray, kernel: np.ndarray, mode: str, convolve: bool) -> np.ndarray:
    """float64 reference: the image extended by np.pad (which repeats the extension as often as
    needed), then sum(kernel * window) over every window; origin 0."""
    if convolve:
        kernel = kernel[::-1, ::-1]
    before = [(k - 1) // 2 if convolve else k // 2 for k in kernel.shape]
    pads = [(b, k - 1 - b) for b, k in zip(before, kernel.shape)]
    if mode == "constant":
        extended = np.pad(image, pads, mode="constant", constant_values=CVAL)
    else:
        extended = np.pad(image, pads, mode=NUMPY_PAD_MODES[mode])
    windows = sliding_window_view(extended, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


@pytest.mark.parametrize("convolve", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("mode", MODES)
def test_kernel_larger_than_the_image(ndimage, mode, convolve):
    """The extension rules repeat as often as the kernel reaches, as np.pad repeats them.

    scipy agrees in every mode but "reflect": there (scipy 1.17) a tap that lands a multiple of
    2 * size beyond the first edge, at least 4 * size away, reads cval instead of the reflection
    (e.g. size 2 and a reach of 8), so reflect is compared with np.pad only.
    """
    for image_shape, kernel_shape in itertools.product(
        [(1, 1), (1, 2), (2, 3), (3, 1), (4, 5)], [(9, 12), (8, 8), (20, 3), (2, 17)]
    ):
        image, kernel = random_image(image_shape), random_kernel(kernel_shape)
        expected = padded_filter(image, kernel, mode, convolve)
        if mode != "reflect":
            assert_allclose(scipy_filter(image, kernel, mode, convolve), expected, atol=1e-12)
        for dtype in DTYPES:
            result = kernelkit.filter2d(
                image.astype(dtype), kernel, mode=mode, cval=CVAL, convolve=convolve
            )
            case = f"kernel {kernel_shape}, image {image_shape}"
            assert_matches(result, expected, image, kernel, dtype, case)


@pytest.mark.parametrize(
    "image_shape", [(37, 1100), (23, 700, 3), (2, 130, 300, 2)], ids=["gray", "rgb", "batch"]
)
@pytest.mark.parametrize("kernel_shape", [(3, 3), (7, 5)])
def test_images_spanning_several_tiles_and_bands(ndimage, simd_path, image_shape, kernel_shape):
    image, kernel = random_image(image_shape), random_kernel(kernel_shape)
    expected = scipy_filter(image, kernel, "mirror")
    for dtype in DTYPES:
        result = kernelkit.filter2d(image.astype(dtype), kernel, mode="mirror", n_threads=2)
        assert_matches(result, expected, image, kernel, dtype)


# ---------------------------------------------------------------------------------------------
# NaN, Inf and zero weights
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel",
    [kernels.sobel_x(), kernels.laplacian(), kernels.gaussian(1.0), random_kernel((4, 2))],
    ids=["sobel_x", "laplacian", "gaussian", "random"],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_nan_and_inf_spread_exactly_as_in_scipy(ndimage, simd_path, kernel, dtype):
    """Only the taps scipy applies (|w| > DBL_EPSILON) carry NaN/Inf, on the direct and the
    separable path alike."""
    image = np.array(random_image((12, 13)))
    image[3, 4] = np.nan
    image[8, 9] = np.inf
    image[10, 2] = -np.inf
    for mode in ("reflect", "constant"):
        expected = scipy_filter(image, kernel, mode)
        result = kernelkit.filter2d(image.astype(dtype), kernel, mode=mode, cval=CVAL)
        assert_array_equal(np.isnan(result), np.isnan(expected))
        assert_array_equal(np.isposinf(result), np.isposinf(expected))
        assert_array_equal(np.isneginf(result), np.isneginf(expected))
        finite = np.isfinite(expected)
        assert_matches(result[finite], expected[finite], image[np.isfinite(image)], kernel, dtype)


def test_weights_below_float64_epsilon_are_left_out_as_in_scipy(ndimage):
    image = np.array([[1e20, 1.0, 2.0, 3.0]])
    kernel = np.array([[1e-17, 1.0, 0.0]])
    expected = scipy_filter(image, kernel, "constant", cval=0.0)
    assert_array_equal(kernelkit.filter2d(image, kernel, mode="constant"), expected)


def test_nan_weight_and_nan_cval_propagate():
    image = np.ones((4, 5))
    kernel = np.zeros((3, 3))
    kernel[1, 1] = np.nan
    assert np.isnan(kernelkit.filter2d(image, kernel)).all()
    edge = kernelkit.filter2d(image, np.ones((3, 3)), mode="constant", cval=np.nan)
    assert np.isnan(edge[[0, -1]]).all()
    assert np.isnan(edge[:, [0, -1]]).all()
    assert_array_equal(edge[1:-1, 1:-1], 9.0)


def test_all_zero_kernel_gives_zeros(ndimage):
    image = random_image((5, 7))
    result = kernelkit.filter2d(image, np.zeros((3, 2)))
    assert_array_equal(result, scipy_filter(image, np.zeros((3, 2)), "reflect"))
    assert_array_equal(result, 0.0)


# ---------------------------------------------------------------------------------------------
# Separable kernels
# ---------------------------------------------------------------------------------------------


def rank_one(rows: int, cols: int) -> np.ndarray:
    rng = seeded("rank-one", rows, cols)
    return np.outer(rng.standard_normal(rows), rng.standard_normal(cols))


@pytest.fixture
def separable_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records the (len(col), len(row)) of every call of the core's separable path."""
    calls: list[tuple[int, int]] = []
    core_separable = _core.filter2d_separable

    def recording(x, row, col, *args):
        calls.append((col.size, row.size))
        return core_separable(x, row, col, *args)

    monkeypatch.setattr(_core, "filter2d_separable", recording)
    return calls


@pytest.mark.parametrize(
    ("kernel", "separable"),
    [
        (kernels.gaussian(2.3), True),
        (kernels.box(5), True),
        (kernels.box((3, 9)), True),
        (rank_one(7, 6), True),
        (rank_one(1, 9), False),  # a single row: nothing to save
        (kernels.sobel_x(), False),  # 5 taps in two passes against 6 in one
        (random_kernel((7, 7)), False),
        (rank_one(7, 7) + 1e-9 * random_kernel((7, 7)), False),  # not rank-1 to rounding
    ],
    ids=["gaussian", "box5", "box3x9", "rank1", "single-row", "sobel", "random", "near-rank1"],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_separable_kernels_take_two_passes_and_match_scipy(
    ndimage, simd_path, separable_calls, kernel, separable, dtype
):
    image = random_image((45, 52, 2))
    for mode, convolve in itertools.product(("reflect", "wrap", "constant"), (False, True)):
        expected = scipy_filter(image, kernel, mode, convolve)
        result = kernelkit.filter2d(
            image.astype(dtype), kernel, mode=mode, cval=CVAL, convolve=convolve
        )
        assert_matches(result, expected, image, kernel, dtype, f"{mode}, convolve={convolve}")
    assert bool(separable_calls) == separable
    assert all(call == kernel.shape for call in separable_calls)


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (3, 1), (1, 6), (4, 5), (15, 15), (12, 3)])
@pytest.mark.parametrize("mode", MODES)
def test_filter2d_separable_matches_scipy_with_the_outer_product(
    ndimage, simd_path, mode, rows, cols
):
    rng = seeded("factors", rows, cols)
    col, row = rng.standard_normal(rows), rng.standard_normal(cols)
    kernel = np.outer(col, row)
    for image_shape, convolve, dtype in itertools.product(
        [(1, 1), (6, 5), (33, 41, 3)], (False, True), DTYPES
    ):
        image = random_image(image_shape)
        origin = (-(rows // 2), (cols - 1) // 2) if not convolve else 0
        expected = scipy_filter(image, kernel, mode, convolve, origin)
        result = kernelkit.filter2d_separable(
            image.astype(dtype), row, col, mode=mode, cval=CVAL, origin=origin, convolve=convolve
        )
        assert_matches(result, expected, image, kernel, dtype, f"{image_shape}, {convolve}")


# ---------------------------------------------------------------------------------------------
# Shapes, layouts, dtypes, out=, threads
# ---------------------------------------------------------------------------------------------


def test_batches_and_channels_are_filtered_independently():
    kernel = random_kernel((3, 4))
    batch = np.stack([random_image((10, 12, 3)), random_image((10, 12, 3))[::-1]])
    result = kernelkit.filter2d(batch, kernel, mode="wrap")
    assert result.shape == batch.shape
    for n, c in itertools.product(range(2), range(3)):
        plane = kernelkit.filter2d(np.ascontiguousarray(batch[n, ..., c]), kernel, mode="wrap")
        assert_allclose(result[n, ..., c], plane, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "view",
    [
        lambda a: a.T,
        lambda a: a[::2, 1::3],
        lambda a: a[::-1],
        np.asfortranarray,
    ],
    ids=["transposed", "strided", "reversed", "fortran"],
)
def test_non_contiguous_images(ndimage, view):
    image = view(np.array(random_image((40, 30))))
    kernel = random_kernel((5, 3))
    assert_allclose(
        kernelkit.filter2d(image, kernel), scipy_filter(image, kernel, "reflect"), atol=1e-13
    )
    assert_allclose(
        kernelkit.filter2d(image, kernel[:, ::-1]),
        scipy_filter(image, kernel[:, ::-1], "reflect"),
        atol=1e-13,
    )


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float32, np.float32),
        (np.float16, np.float32),
        (np.float64, np.float64),
        (np.int32, np.float64),
        (np.uint8, np.float64),
        (np.int64, np.float64),
        (np.bool_, np.float64),
    ],
)
def test_result_dtype(dtype, expected):
    image = (random_image((6, 7)) > 0).astype(dtype) * dtype(1)
    kernel = np.array([[1, 2, 1]])  # integer kernels are fine too
    result = kernelkit.filter2d(image, kernel, mode="constant")
    assert result.dtype == expected
    reference = kernelkit.filter2d(image.astype(np.float64), kernel.astype(float), mode="constant")
    assert_allclose(result, reference, rtol=1e-6)


@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (3, 5, 0), (0, 4, 4, 2), (2, 0, 3, 1)])
def test_empty_images(shape):
    image = np.ones(shape, dtype=np.float32)
    result = kernelkit.filter2d(image, np.ones((3, 3)))
    assert result.shape == shape
    assert result.dtype == np.float32


def test_out_is_filled_and_returned():
    image, kernel = random_image((9, 8, 2)), random_kernel((3, 3))
    out = np.full(image.shape, np.nan)
    result = kernelkit.filter2d(image, kernel, out=out)
    assert result is out
    assert_array_equal(out, kernelkit.filter2d(image, kernel))
    out32 = np.empty(image.shape, dtype=np.float32)
    assert kernelkit.filter2d_separable(image.astype(np.float32), [1, 2], [3], out=out32) is out32


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (np.empty((9, 8)), "shape"),
        (np.empty((9, 8, 2), dtype=np.float32), "dtype"),
        (np.empty((9, 16, 2))[:, ::2], "C-contiguous"),
        ([[0.0]], "numpy.ndarray"),
    ],
)
def test_bad_out(out, match):
    with pytest.raises((ValueError, TypeError), match=match):
        kernelkit.filter2d(np.ones((9, 8, 2)), np.ones((3, 3)), out=out)


def test_out_must_not_alias_the_image():
    image = np.ones((6, 6))
    with pytest.raises(ValueError, match="share memory"):
        kernelkit.filter2d(image, np.ones((3, 3)), out=image)


def test_thread_counts_give_identical_results(restore_num_threads):
    image = random_image((61, 530, 3)).astype(np.float32)
    kernel = random_kernel((5, 4))
    single = kernelkit.filter2d(image, kernel, n_threads=1)
    for threads in (2, 3, -1):
        assert_array_equal(kernelkit.filter2d(image, kernel, n_threads=threads), single)
    kernelkit.set_num_threads(2)
    assert_array_equal(kernelkit.filter2d(image, kernel), single)


def test_sobel_on_a_step_edge_end_to_end():
    image = np.zeros((6, 8))
    image[:, 4:] = 1.0  # intensity increases to the right
    response = kernelkit.filter2d(image, kernels.sobel_x(), mode="nearest")
    assert (response[:, 3:5] == 4.0).all()
    assert (response[:, [0, 1, 2, 5, 6, 7]] == 0.0).all()
    assert_array_equal(kernelkit.filter2d(image, kernels.sobel_y(), mode="nearest"), 0.0)
    assert (kernelkit.filter2d(image, kernels.sobel_x(), mode="nearest", convolve=True) <= 0).all()


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "reflec"}, ValueError, "^mode:"),
        ({"mode": None}, ValueError, "^mode:"),
        ({"kernel": np.ones(3)}, ValueError, "^kernel: expected a 2-D"),
        ({"kernel": np.ones((2, 2, 2))}, ValueError, "^kernel: expected a 2-D"),
        ({"kernel": np.ones((0, 3))}, ValueError, "^kernel: must not be empty"),
        ({"kernel": np.ones((3, 3), dtype=complex)}, TypeError, "^kernel:"),
        ({"kernel": [["a"]]}, TypeError, "^kernel:"),
        ({"image": np.ones(5)}, ValueError, r"^image: expected \(H, W\)"),
        ({"image": np.ones((1, 2, 3, 4, 5))}, ValueError, "^image:"),
        ({"image": np.ones((4, 4), dtype=complex)}, TypeError, "^image:"),
        ({"origin": (0, 0, 0)}, ValueError, "^origin:"),
        ({"origin": 0.5}, TypeError, "^origin:"),
        ({"origin": 2}, ValueError, r"^origin: 2 along rows .* -1 <= origin <= 1"),
        ({"cval": "zero"}, TypeError, "^cval:"),
        ({"convolve": "yes"}, TypeError, "^convolve:"),
        ({"n_threads": 0}, ValueError, "^n_threads:"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, match):
    args = {"image": np.ones((4, 4)), "kernel": np.ones((3, 3)), **kwargs}
    with pytest.raises(error, match=match):
        kernelkit.filter2d(args.pop("image"), args.pop("kernel"), **args)


@pytest.mark.parametrize("convolve", [False, True], ids=["correlate", "convolve"])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_origins_are_rejected_exactly_where_scipy_rejects_them(ndimage, size, convolve):
    image, kernel = np.ones((5, 5)), np.ones((1, size))
    function = ndimage.convolve if convolve else ndimage.correlate
    for origin in range(-size - 1, size + 2):
        try:
            function(image, kernel, origin=(0, origin))
        except ValueError:
            with pytest.raises(ValueError, match=r"^origin:"):
                kernelkit.filter2d(image, kernel, origin=(0, origin), convolve=convolve)
        else:
            kernelkit.filter2d(image, kernel, origin=(0, origin), convolve=convolve)


@pytest.mark.parametrize(
    ("row", "col", "match"),
    [
        (np.ones((2, 2)), np.ones(3), "^row: expected a 1-D"),
        (np.ones(3), np.ones(0), "^col: must not be empty"),
        (np.ones(3), 1.0, "^col: expected a 1-D"),
    ],
)
def test_filter2d_separable_bad_factors(row, col, match):
    with pytest.raises(ValueError, match=match):
        kernelkit.filter2d_separable(np.ones((4, 4)), row, col)


def test_scipy_mode_synonyms(ndimage):
    image, kernel = random_image((6, 9)), random_kernel((3, 4))
    for synonym, mode in [
        ("grid-mirror", "reflect"),
        ("grid-constant", "constant"),
        ("grid-wrap", "wrap"),
    ]:
        assert_array_equal(
            kernelkit.filter2d(image, kernel, mode=synonym, cval=CVAL),
            kernelkit.filter2d(image, kernel, mode=mode, cval=CVAL),
        )


# ---------------------------------------------------------------------------------------------
# Display scaling and the `kernelkit apply` command
# ---------------------------------------------------------------------------------------------


def test_display_scalings():
    values = np.array([-2.0, 0.0, 1.0, np.nan])
    scaled, how = scale_for_display(values, "symmetric")
    assert_array_equal(scaled[:3], [0.0, 0.5, 0.75])
    assert how == "symmetric: [-2, 2] -> [0, 1], 0 is mid-gray"
    scaled, how = scale_for_display(values + 3.0, "minmax")
    assert_array_equal(scaled[:3], [0.0, 2 / 3, 1.0])
    assert how == "min-max: [1, 4] -> [0, 1]"
    scaled, how = scale_for_display(values, "clip")
    assert_array_equal(scaled[:3], [0.0, 0.0, 1.0])
    assert how == "clip: values as they are, 33.3% clipped to [0, 1]"
    assert_array_equal(scale_for_display(np.zeros(3), "symmetric")[0], 0.5)
    assert_array_equal(scale_for_display(np.ones(3), "minmax")[0], 0.0)
    with pytest.raises(ValueError, match=r"^scaling:"):
        scale_for_display(values, "auto")


@pytest.mark.parametrize("name", sorted(kernels.NAMED_KERNELS))
def test_auto_scaling_is_symmetric_exactly_for_zero_sum_kernels(name):
    kernel = kernels.kernel_from_spec({"gaussian": "gaussian:1", "box": "box:3"}.get(name, name))
    assert auto_scaling(kernel) == ("symmetric" if abs(kernel.sum()) < 1e-12 else "clip")


def write_png(path: Path, pixels: np.ndarray) -> Path:
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(pixels).save(path)
    return path


def read_png(path: Path) -> np.ndarray:
    Image = pytest.importorskip("PIL.Image")
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture
def step_png(tmp_path: Path) -> Path:
    """40x60 gray, dark left half, bright (200) right half: intensity increases to the right."""
    pixels = np.zeros((40, 60), dtype=np.uint8)
    pixels[:, 30:] = 200
    return write_png(tmp_path / "step.png", pixels)


@pytest.fixture
def colour_png(tmp_path: Path) -> Path:
    pixels = seeded("colour").integers(0, 256, (21, 34, 3), dtype=np.uint8)
    return write_png(tmp_path / "colour.png", pixels)


def test_apply_in_a_subprocess_writes_a_png_of_the_edge(tmp_path, step_png):
    out = tmp_path / "edges.png"
    command = [sys.executable, "-m", "kernelkit", "apply", str(step_png), "--kernel", "sobel_x"]
    proc = subprocess.run(
        [*command, "-o", str(out)], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "scaling: symmetric: [-3.137, 3.137] -> [0, 1], 0 is mid-gray" in proc.stdout
    pixels = read_png(out)
    assert pixels.shape == (40, 60)
    assert (pixels[:, 29:31] == 255).all()  # the strongest response, positive: dark -> bright
    assert (pixels[:, :28] == 128).all()  # flat areas: zero response, mid-gray
    assert (pixels[:, 32:] == 128).all()


def expected_pixels(
    image_path: Path, kernel: np.ndarray, channels: int, **kwargs: Any
) -> np.ndarray:
    """What `kernelkit apply` should write, from the library functions it is a thin layer over."""
    image = as_channels(read_image(image_path), channels)
    response = kernelkit.filter2d(image, kernel, **kwargs)
    scaled = (
        np.clip(response, 0, 1)
        if auto_scaling(kernel) == "clip"
        else 0.5 + 0.5 * response / np.abs(response).max()
    )
    return np.rint(np.clip(scaled, 0, 1) * 255).astype(np.uint8).squeeze()


@pytest.mark.parametrize(
    ("spec", "kernel", "options"),
    [
        ("gaussian:1.5", kernels.gaussian(1.5), {}),
        ("sharpen", kernels.sharpen(), {"mode": "constant", "cval": 0.5}),
        (
            "laplacian:diagonal",
            kernels.laplacian(diagonal=True),
            {"mode": "wrap", "convolve": True},
        ),
    ],
)
def test_apply_filters_each_colour_channel(tmp_path, colour_png, capsys, spec, kernel, options):
    out = tmp_path / "out.png"
    flags = [f"--{k}" if v is True else f"--{k}={v}" for k, v in options.items()]
    assert cli.main(["apply", str(colour_png), "--kernel", spec, "-o", str(out), *flags]) == 0
    assert_array_equal(read_png(out), expected_pixels(colour_png, kernel, 3, **options))
    assert "3 channel(s)" in capsys.readouterr().out


def test_apply_gray_option_and_minmax_scaling(tmp_path, colour_png, capsys):
    out = tmp_path / "out.png"
    args = ["apply", str(colour_png), "--kernel", "box:3", "--gray", "--scale", "minmax"]
    assert cli.main([*args, "-o", str(out)]) == 0
    response = kernelkit.filter2d(as_channels(read_image(colour_png), 1), kernels.box(3))[..., 0]
    lo, hi = response.min(), response.max()
    assert_array_equal(read_png(out), np.rint((response - lo) / (hi - lo) * 255).astype(np.uint8))
    assert f"scaling: min-max: [{lo:.4g}, {hi:.4g}] -> [0, 1]" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".npy", ".txt"])
def test_apply_reads_kernel_files(tmp_path, step_png, suffix):
    kernel = np.array([[0.0, -1.0, 1.5], [2.0, 0.25, -3.0]])
    path = tmp_path / f"kernel{suffix}"
    if suffix == ".npy":
        np.save(path, kernel)
    else:
        path.write_text("0, -1, 1.5\n2 0.25 -3\n", encoding="utf-8")
    out = tmp_path / "out.png"
    args = ["apply", str(step_png), "--kernel-file", str(path), "--scale", "clip", "-o", str(out)]
    assert cli.main(args) == 0
    expected = np.clip(kernelkit.filter2d(read_image(step_png), kernel), 0, 1)
    assert_array_equal(read_png(out), np.rint(expected * 255).astype(np.uint8))


def test_apply_list_names_every_kernel(capsys):
    assert cli.main(["apply", "--list"]) == 0
    listing = capsys.readouterr().out
    for name, entry in kernels.NAMED_KERNELS.items():
        assert f"{name}{entry.parameter}" in listing
        assert entry.summary in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kernel", "blur"], "unknown name 'blur'"),
        ([], "give IMAGE, --kernel or --kernel-file, and -o OUT"),
        (["--kernel-file", "{tmp}/missing.npy"], "missing.npy"),
        (["--kernel-file", "{tmp}/cube.npy"], "expected a 2-D kernel"),
        (["--kernel-file", "{tmp}/words.txt"], "not a kernel of numbers"),
    ],
)
def test_apply_errors_exit_with_a_message(tmp_path, step_png, capsys, args, message):
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    (tmp_path / "words.txt").write_text("one two\n", encoding="utf-8")
    args = [a.format(tmp=tmp_path) for a in args]
    assert cli.main(["apply", str(step_png), *args, "-o", str(tmp_path / "out.png")]) == 1
    assert message in capsys.readouterr().err
