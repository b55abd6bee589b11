"""``kernelkit.Conv2d``: the prepared convolution's plans, packing once, repeated calls with other
input shapes, out= and threads, the work split of one small image, and the errors that say what to
pass instead. Results are checked against a float64 NumPy reference (and PyTorch where installed);
the seeded sweep of test_conv2d.py runs every case through Conv2d as well."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit
from kernelkit.models import ConvLayer

ALGORITHMS = (
    "depthwise",
    "direct_pointwise",
    "direct_few_channels",
    "direct_few_channels_nhwc",
    "indirect_gemm",
    "winograd",
)


# float32 Winograd F(4x4, 3x3): its relative error (to the largest output) grows with the input
# channels, measured 2e-6 at 13 and 1.6e-5 at 512 channels, against about 1e-6 for the direct sums.
WINOGRAD_TOL = 5e-5


def reference(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int = 1,
    pad: tuple[int, int, int, int] = (0, 0, 0, 0),
    groups: int = 1,
) -> np.ndarray:
    """float64 NCHW / OIHW cross-correlation with explicit (top, bottom, left, right) padding."""
    x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), pad[:2], pad[2:]))
    w = np.asarray(w, np.float64)
    o, cg, kh, kw = w.shape
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    n, _, oh, ow = windows.shape[:4]
    windows = windows.reshape(n, groups, cg, oh, ow, kh, kw)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", windows, wg).reshape(n, o, oh, ow)
    return y if bias is None else y + np.asarray(bias, np.float64)[None, :, None, None]


def same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30))


def data(
    shape_x: tuple[int, ...], shape_w: tuple[int, ...], dtype: Any = np.float32, seed: int = 0
):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape_x).astype(dtype), rng.standard_normal(shape_w).astype(dtype)


# (name, x NCHW, weight OIHW, stride, padding, groups, layout) -> the algorithm the plan must choose
# (a pair: for float32, for float64)
PLAN_CASES = [
    ("depthwise", (1, 32, 14, 14), (32, 1, 3, 3), 1, 1, 32, "NCHW", "depthwise"),
    ("depthwise-nhwc", (2, 24, 9, 9), (24, 1, 3, 3), 2, 1, 24, "NHWC", "depthwise"),
    ("pointwise", (2, 64, 28, 28), (96, 64, 1, 1), 1, 0, 1, "NCHW", "direct_pointwise"),
    ("rgb", (4, 3, 32, 32), (16, 3, 3, 3), 1, 1, 1, "NCHW", "direct_few_channels"),
    ("rgb-nhwc", (4, 3, 32, 32), (40, 3, 3, 3), 2, 1, 1, "NHWC", "direct_few_channels_nhwc"),
    ("rgb-nhwc-few", (2, 3, 17, 19), (3, 3, 3, 3), 1, 1, 1, "NHWC", "direct_few_channels"),
    ("gemm", (2, 64, 20, 20), (64, 64, 3, 3), 1, 1, 1, "NCHW", ("winograd", "indirect_gemm")),
    (
        "winograd-nhwc",
        (1, 32, 15, 15),
        (48, 32, 3, 3),
        1,
        1,
        1,
        "NHWC",
        ("winograd", "indirect_gemm"),
    ),
    (
        "winograd-grouped",
        (2, 32, 9, 10),
        (24, 16, 3, 3),
        1,
        2,
        2,
        "NCHW",
        ("winograd", "indirect_gemm"),
    ),
    ("gemm-nhwc", (1, 32, 15, 15), (48, 32, 3, 3), 2, 1, 1, "NHWC", "indirect_gemm"),
    ("pointwise-nhwc", (1, 64, 7, 7), (96, 64, 1, 1), 1, 0, 1, "NHWC", "indirect_gemm"),
    # strided 1x1 in NCHW: the direct kernel on a subsampled copy of the input
    ("pointwise-s2", (2, 64, 28, 27), (128, 64, 1, 1), 2, 0, 1, "NCHW", "direct_pointwise"),
    # ... unless its output plane is too small for the direct kernel: the GEMM reads the strided
    # input itself
    ("pointwise-s2-small", (2, 64, 4, 4), (128, 64, 1, 1), 2, 0, 1, "NCHW", "indirect_gemm"),
]


def to_layout(x: np.ndarray, w: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    if layout == "NCHW":
        return x, w
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(
        w.transpose(2, 3, 1, 0)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("xs", "ws", "stride", "pad", "groups", "layout", "algorithm"),
    [pytest.param(*c[1:], id=c[0]) for c in PLAN_CASES],
)
def test_plan_names_each_algorithm_and_runs_it(
    xs, ws, stride, pad, groups, layout, algorithm, dtype, simd_path
) -> None:
    if isinstance(algorithm, tuple):
        algorithm = algorithm[0] if dtype == np.float32 else algorithm[1]
    x, w = data(xs, ws, dtype)
    bias = np.linspace(-1, 1, ws[0]).astype(dtype)
    xl, wl = to_layout(x, w, layout)
    conv = kernelkit.Conv2d(wl, bias, stride, pad, groups=groups, layout=layout)
    plan = conv.plan(xl.shape, dtype=dtype, n_threads=2)
    assert plan.algorithm == algorithm
    assert plan.simd == simd_path
    assert plan.dtype == np.dtype(dtype).name
    assert plan.input_shape == xl.shape
    got = conv(xl, n_threads=2)
    assert plan.output_shape == got.shape
    assert min(plan.register_tile) >= 1
    assert plan.tasks >= plan.threads >= 1
    assert plan.scratch_bytes > 0
    assert plan.packed_bytes >= w.size * np.dtype(dtype).itemsize
    if algorithm in ("indirect_gemm", "winograd"):
        assert plan.channel_block > 0
    elif algorithm != "depthwise":
        assert plan.channel_block == 0
    assert algorithm in str(plan)
    ref = reference(x, w, bias, stride, (pad,) * 4, groups)
    if layout == "NHWC":
        ref = ref.transpose(0, 2, 3, 1)
    # Winograd's transforms round more than the direct sums (see WINOGRAD_TOL)
    tol = WINOGRAD_TOL if algorithm == "winograd" else 1e-5 if dtype == np.float32 else 1e-12
    assert rel_err(got, ref) <= tol


def test_small_pointwise_planes_go_to_the_gemm(simd_path: str) -> None:
    """1x1 NCHW layers run the direct kernel in strips of pixels; planes shorter than two strips
    (which would waste most of the last one) run the GEMM; both give the reference's result."""
    w = np.random.default_rng(2).standard_normal((40, 24, 1, 1)).astype(np.float32)
    conv = kernelkit.Conv2d(w)
    strip = conv.plan((1, 24, 32, 32)).register_tile[0]
    assert conv.plan((1, 24, 32, 32)).algorithm == "direct_pointwise"
    for hw in (1, 2, 3, 5, 7, 8, 9, 14):
        x = np.random.default_rng(hw).standard_normal((2, 24, hw, hw)).astype(np.float32)
        expected = "direct_pointwise" if hw * hw >= 2 * strip else "indirect_gemm"
        assert conv.plan(x.shape).algorithm == expected, hw
        assert rel_err(conv(x), reference(x, w)) <= 1e-5


def test_small_planes_of_few_images_go_from_winograd_to_the_gemm(simd_path: str) -> None:
    """Winograd's register tiles hold output tiles of 4 x 4 pixels, which run across images: one
    5 x 5 image (four tiles) would leave most of them empty, and runs the GEMM; a batch of them
    fills them, and runs Winograd; both give the reference's result."""
    x, w = data((16, 32, 5, 5), (40, 32, 3, 3), seed=3)
    conv = kernelkit.Conv2d(w, padding=1)
    for images, algorithm in ((1, "indirect_gemm"), (16, "winograd")):
        assert conv.plan(x[:images].shape).algorithm == algorithm
        ref = reference(x[:images], w, None, 1, (1, 1, 1, 1))
        assert rel_err(conv(x[:images]), ref) <= WINOGRAD_TOL


# Winograd F(4x4, 3x3): output sizes around whole 4 x 4 tiles, padding 0 to 2 (asymmetric too),
# channels off whole vectors and panels, groups; batches whose images have fewer tiles than a
# register tile's rows (a task's tiles run from one image into the next).
WINOGRAD_CASES = [
    # (x NCHW, (out channels, in channels per group), padding, groups)
    ((12, 8, 3, 3), (8, 8), 1, 1),
    ((8, 13, 6, 9), (21, 13), 0, 1),
    ((5, 16, 7, 5), (17, 16), ((2, 0), (1, 2)), 1),
    ((3, 24, 11, 4), (40, 12), 1, 2),
    ((1, 9, 16, 16), (33, 9), 2, 1),
    ((1, 64, 14, 14), (64, 64), 1, 1),
]


@pytest.mark.parametrize("activation", [None, "relu6"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(("xs", "oc", "pad", "groups"), WINOGRAD_CASES)
def test_winograd_against_the_reference(xs, oc, pad, groups, layout, activation, simd_path) -> None:
    """float32 3x3 layers with stride 1 run Winograd: the float64 reference within WINOGRAD_TOL,
    the same result whatever the thread count (tiles never straddle tasks)."""
    x, w = data(xs, (oc[0], oc[1], 3, 3), seed=xs[1])
    bias = np.linspace(-1, 1, oc[0]).astype(np.float32)
    xl, wl = to_layout(x, w, layout)
    conv = kernelkit.Conv2d(wl, bias, 1, pad, groups=groups, layout=layout, activation=activation)
    assert conv.plan(xl.shape).algorithm == "winograd"
    got = conv(xl, n_threads=1)
    pads = pad if isinstance(pad, tuple) else ((pad, pad), (pad, pad))
    ref = reference(x, w, bias, 1, (*pads[0], *pads[1]), groups)
    scale = np.abs(ref).max()  # of the sums: relu6 clips the output's own largest values
    if activation == "relu6":
        ref = np.clip(ref, 0, 6)
    if layout == "NHWC":
        ref = ref.transpose(0, 2, 3, 1)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= WINOGRAD_TOL * scale
    for threads in (2, 3):
        assert_array_equal(conv(xl, n_threads=threads), got)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("groups", [1, 2])
def test_winograd_non_finite_inputs_reach_only_their_receptive_fields(
    value, layout, groups
) -> None:
    """Winograd's transforms mix a whole 6 x 6 input tile: a non-finite input (at a tile's edge,
    where two tiles overlap, and inside one) must still reach exactly the outputs whose 3x3 window
    holds it, with the values the direct sums give (Inf stays Inf, Inf - Inf is NaN); the tile's
    other outputs, computed again from the caller's weights, keep their values."""
    x, w = data((2, 16, 13, 11), (24, 16 // groups, 3, 3), seed=5)
    x[0, 3, 4, 5] = value  # rows 4-5 are shared by two tiles' inputs
    x[1, 7, 9, 1] = value
    x[1, 2, 0, 10] = -value
    xl, wl = to_layout(x, w, layout)
    conv = kernelkit.Conv2d(wl, padding=1, layout=layout, groups=groups)
    assert conv.plan(xl.shape).algorithm == "winograd"
    got = conv(xl)
    with np.errstate(invalid="ignore"):
        ref = reference(x, w, None, 1, (1, 1, 1, 1), groups).astype(np.float32)
    if layout == "NHWC":
        ref = ref.transpose(0, 2, 3, 1)
    assert_array_equal(np.isnan(got), np.isnan(ref))
    assert_array_equal(np.isposinf(got), np.isposinf(ref))
    assert_array_equal(np.isneginf(got), np.isneginf(ref))
    finite = np.isfinite(ref)
    assert rel_err(got[finite], ref[finite]) <= WINOGRAD_TOL


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", [(3, 2, 1, 1), (0, 0, 0, 0), (15, 15, 2, 2)])
@pytest.mark.parametrize("weight_layout", ["OIHW", "HWIO"])
def test_non_finite_weights_plan_the_gemm(value, where, weight_layout) -> None:
    """A non-finite weight (anywhere: the first, the last, one between) would spread over every
    transformed point: such a layer runs the GEMM, whose NaNs are the reference's; a layer of finite
    weights runs Winograd."""
    x, w = data((1, 16, 9, 9), (16, 16, 3, 3), seed=6)
    finite = w.copy()
    w[where] = value
    as_given = (lambda a: a.transpose(2, 3, 1, 0).copy()) if weight_layout == "HWIO" else np.copy
    for weights, algorithm in ((finite, "winograd"), (w, "indirect_gemm")):
        conv = kernelkit.Conv2d(as_given(weights), padding=1, weight_layout=weight_layout)
        assert conv.plan(x.shape).algorithm == algorithm
    with np.errstate(invalid="ignore"):
        ref = reference(x, w, None, 1, (1, 1, 1, 1))
    got = conv(x)
    assert_array_equal(np.isnan(got), np.isnan(ref))
    assert_array_equal(np.isinf(got), np.isinf(ref))


@pytest.mark.parametrize(
    ("images", "single_use_algorithm"), [(1, "indirect_gemm"), (8, "winograd")]
)
def test_one_shot_conv2d_counts_the_weight_transform(images, single_use_algorithm) -> None:
    """conv2d packs the weights for its one call, so it runs Winograd only where that saves the
    weight transform too: one 256-channel 14 x 14 image runs the GEMM there (a prepared Conv2d,
    whose packing is paid once, runs Winograd), a batch of eight runs Winograd in both; conv2d's
    results are Conv2d's within Winograd's tolerance."""
    x, w = data((images, 256, 14, 14), (256, 256, 3, 3), seed=8)
    prepared = kernelkit.Conv2d(w, padding=1)
    one_shot = kernelkit.Conv2d._borrowing(w, None, 1, 1, 1, 1, "NCHW", None, None, 0.01)
    assert prepared.plan(x.shape).algorithm == "winograd"
    assert one_shot.plan(x.shape).algorithm == single_use_algorithm
    ref = reference(x, w, None, 1, (1, 1, 1, 1))
    assert rel_err(kernelkit.conv2d(x, w, padding=1), ref) <= WINOGRAD_TOL
    assert rel_err(prepared(x), ref) <= WINOGRAD_TOL


@pytest.mark.parametrize("stride", [(2, 2), (3, 2)])
def test_strided_pointwise_subsamples_in_passes(stride) -> None:
    """A strided 1x1 NCHW layer runs on a subsampled copy of its input, 8 MiB of images at a time
    (at least one): subsampled images of 4.4 MiB (stride 2) take a pass each, of 2.9 MiB two a
    pass; the result is the reference's either way."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 32, 380, 380), dtype=np.float32)
    w = rng.standard_normal((24, 32, 1, 1), dtype=np.float32)
    bias = np.linspace(-1, 1, 24).astype(np.float32)
    conv = kernelkit.Conv2d(w, bias, stride, activation="relu")
    plan = conv.plan(x.shape)
    assert plan.algorithm == "direct_pointwise"
    subsampled = x[:, :, :: stride[0], :: stride[1]]
    per_pass = max(1, min((8 << 20) // subsampled[0].nbytes, 3))
    assert plan.copy_bytes == per_pass * subsampled[0].nbytes
    expected = np.einsum(
        "nchw,oc->nohw", subsampled.astype(np.float64), w[:, :, 0, 0].astype(np.float64)
    )
    expected = np.maximum(expected + bias[None, :, None, None], 0)
    assert rel_err(conv(x), expected) <= 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("c", "hw", "stride", "dilation", "pad"),
    [
        (32, 14, 1, 1, 1),
        (21, 9, 2, 1, (1, 2)),
        (7, 11, 1, 2, 2),
        (40, 7, 3, 1, 0),
        (5, 64, 2, 1, 1),
    ],
)
def test_depthwise_both_kernels(c, hw, stride, dilation, pad, dtype, simd_path: str) -> None:
    """NCHW depthwise runs plane by plane where rows are at least two vectors wide, else blocks of
    `lanes` channels transposed channels-last; both against the reference, with bias and ReLU."""
    rng = np.random.default_rng(c * hw)
    x = rng.standard_normal((2, c, hw, hw)).astype(dtype)
    w = rng.standard_normal((c, 1, 3, 3)).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    conv = kernelkit.Conv2d(w, b, stride, pad, dilation, groups=c, activation="relu")
    plan = conv.plan(x.shape, dtype=dtype)
    lanes = kernelkit.config()["vector_bytes"] // np.dtype(dtype).itemsize
    out_w = plan.output_shape[-1]
    assert plan.channel_block == (lanes if out_w < 2 * lanes else 0)
    pads = (pad, pad) if isinstance(pad, int) else pad
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0],) * 2, (pads[1],) * 2))
    ref = np.zeros(plan.output_shape)
    for ky in range(3):
        for kx in range(3):
            y0, x0 = ky * dilation, kx * dilation
            patch = xp[
                :,
                :,
                y0 : y0 + stride * (ref.shape[2] - 1) + 1 : stride,
                x0 : x0 + stride * (ref.shape[3] - 1) + 1 : stride,
            ]
            ref += patch * w[None, :, 0, ky, kx, None, None]
    ref = np.maximum(ref + b[None, :, None, None], 0)
    assert rel_err(conv(x), ref) <= (1e-5 if dtype == np.float32 else 1e-12)


def test_plans_are_kept_per_shape_and_follow_the_simd_path() -> None:
    conv = kernelkit.Conv2d(np.ones((32, 16, 3, 3), np.float32), padding=1)
    first = conv.plan((2, 16, 20, 20), n_threads=2)
    assert conv.plan((2, 16, 20, 20), n_threads=2) is first
    assert conv.plan((2, 16, 20, 20), n_threads=1).threads == 1
    assert conv.plan((16, 20, 20), n_threads=2).output_shape == (32, 20, 20)
    previous = kernelkit.simd_path()
    try:
        kernelkit.set_simd_path("baseline")
        assert conv.plan((2, 16, 20, 20), n_threads=2).simd == "baseline"
    finally:
        kernelkit.set_simd_path(previous)


@pytest.mark.parametrize("filters", [1, 5, 8, 16, 24, 31, 32, 33, 64])
def test_nhwc_first_layers_pick_the_kernel_by_filters(filters: int, simd_path: str) -> None:
    """NHWC first layers run the pixel-block kernel where the filters fill its channel block, the
    strip kernel (stored through transposes) below that; both against the reference."""
    block = (
        kernelkit.Conv2d(np.ones((3, 3, 3, 64), np.float32), layout="NHWC")
        .plan((1, 9, 9, 3))
        .register_tile[1]
    )
    rng = np.random.default_rng(filters)
    x = rng.standard_normal((2, 3, 23, 21)).astype(np.float32)
    w = rng.standard_normal((filters, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(filters).astype(np.float32)
    xl, wl = to_layout(x, w, "NHWC")
    conv = kernelkit.Conv2d(wl, b, 2, 1, layout="NHWC", activation="relu")
    expected = "direct_few_channels_nhwc" if filters >= block else "direct_few_channels"
    assert conv.plan(xl.shape).algorithm == expected
    ref = np.maximum(reference(x, w, b, 2, (1, 1, 1, 1)), 0).transpose(0, 2, 3, 1)
    assert rel_err(conv(xl), ref) <= 1e-5
    big = np.full((ref.size + 64,), -7.0, np.float32)  # out= amid sentinels: nothing outside it

    view = big[32 : 32 + ref.size].reshape(ref.shape)
    conv(xl, out=view)
    assert np.all(big[:32] == -7.0)
    assert np.all(big[-32:] == -7.0)
    assert rel_err(view, ref) <= 1e-5


def test_every_algorithm_is_covered_by_the_plan_cases() -> None:
    named = {name for c in PLAN_CASES for name in (c[-1] if isinstance(c[-1], tuple) else (c[-1],))}
    assert named == set(ALGORITHMS)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_weights_packed_once_over_calls_and_shapes(layout: str) -> None:
    x, w = data((2, 16, 12, 12), (24, 16, 3, 3))
    xl, wl = to_layout(x, w, layout)
    conv = kernelkit.Conv2d(wl, padding="same", layout=layout)
    assert conv.packings == 0  # packed on first use
    for _ in range(5):
        conv(xl)
    assert conv.packings == 1
    for n, h, wd in [(16, 5, 5), (3, 20, 9), (1, 12, 12)]:  # all Winograd's (see the plan tests)
        xs = np.ones((n, 16, h, wd) if layout == "NCHW" else (n, h, wd, 16), np.float32)
        conv(xs)
        conv.plan(xs.shape)
    assert conv.packings == 1  # same algorithm for every shape: no repacking
    conv(xl.astype(np.float64))  # another dtype is another packing, once
    conv(xl.astype(np.float64))
    assert conv.packings == 2


def test_packed_again_per_simd_path_once() -> None:
    x, w = data((1, 16, 10, 10), (16, 16, 3, 3))
    conv = kernelkit.Conv2d(w, padding=1)
    previous = kernelkit.simd_path()
    paths = list(kernelkit.config()["simd_supported"])
    results = []
    try:
        for _ in range(2):
            for path in paths:
                kernelkit.set_simd_path(path)
                results.append(conv(x))
    finally:
        kernelkit.set_simd_path(previous)
    assert conv.packings == len(paths)
    assert conv.plan(x.shape).algorithm == "winograd"  # whose rounding differs most between paths
    for r in results[1:]:
        assert rel_err(r, results[0]) <= WINOGRAD_TOL


def test_depthwise_packed_once_for_both_nchw_kernels(simd_path: str) -> None:
    """Wide planes run plane by plane, narrow ones in channel blocks: the same packed taps."""
    conv = kernelkit.Conv2d(np.ones((24, 1, 3, 3), np.float32), padding=1, groups=24)
    narrow, wide = np.ones((1, 24, 5, 5), np.float32), np.ones((1, 24, 40, 40), np.float32)
    assert conv.plan(narrow.shape).channel_block != conv.plan(wide.shape).channel_block
    conv(narrow)
    conv(wide)
    assert conv.packings == 1


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("stride", [1, 2])
def test_repeated_calls_with_other_input_shapes(layout: str, stride: int, simd_path: str) -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((20, 12, 3, 3)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    conv = kernelkit.Conv2d(
        to_layout(np.zeros((1, 12, 1, 1)), w, layout)[1],
        b,
        stride,
        "same",
        layout=layout,
        activation="relu",
    )
    for n, h, wd in [(1, 7, 7), (3, 16, 11), (1, 33, 5), (2, 7, 7), (1, 1, 2)]:
        x = rng.standard_normal((n, 12, h, wd)).astype(np.float32)
        pads = (*same_pads(h, 3, stride), *same_pads(wd, 3, stride))
        ref = np.maximum(reference(x, w, b, stride, pads), 0)
        got = conv(to_layout(x, w, layout)[0])
        if layout == "NHWC":
            got = got.transpose(0, 3, 1, 2)
        assert rel_err(got, ref) <= 1e-5, (n, h, wd)
    # a single image without the batch axis
    x = rng.standard_normal((12, 9, 9)).astype(np.float32)
    single = conv(x if layout == "NCHW" else x.transpose(1, 2, 0))
    batched = conv((x if layout == "NCHW" else x.transpose(1, 2, 0))[None])
    assert_array_equal(single, batched[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_and_threads(dtype: type, simd_path: str) -> None:
    x, w = data((2, 32, 13, 13), (40, 32, 3, 3), dtype)
    conv = kernelkit.Conv2d(w, padding=1)
    expected = conv(x, n_threads=1)
    for threads in (2, 3, -1, None):
        assert_allclose(conv(x, n_threads=threads), expected, rtol=1e-6, atol=1e-6)
    out = np.full(expected.shape, np.nan, dtype)
    assert conv(x, out=out) is out
    assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"^out:"):
        conv(x, out=np.empty((2, 40, 13, 12), dtype))
    with pytest.raises(ValueError, match=r"^n_threads:"):
        conv(x, n_threads=0)


@pytest.mark.parametrize(
    ("xs", "ws", "pad", "stride"),
    [
        ((1, 512, 7, 7), (512, 512, 3, 3), 1, 1),  # ResNet-18's last stage
        ((1, 320, 7, 7), (1280, 320, 1, 1), 0, 1),  # MobileNetV2's last 1x1
        ((1, 256, 14, 14), (512, 256, 3, 3), 1, 2),
        ((1, 5, 6, 6), (200, 5, 3, 3), 1, 1),  # a first layer with many output channels
    ],
)
def test_one_small_image_uses_every_thread(xs, ws, pad, stride, simd_path: str) -> None:
    x, w = data(xs, ws)
    conv = kernelkit.Conv2d(w, padding=pad, stride=stride)
    plan = conv.plan(x.shape, n_threads=4)
    assert plan.threads == 4
    assert plan.tasks >= 4
    assert plan.channel_tasks > 1  # split over output channels, the weights shared out
    ref = reference(x, w, None, stride, (pad,) * 4)
    tol = WINOGRAD_TOL if plan.algorithm == "winograd" else 1e-5
    assert rel_err(conv(x, n_threads=4), ref) <= tol
    assert rel_err(conv(x, n_threads=1), ref) <= tol


@pytest.mark.parametrize(
    ("xs", "ws"),
    [
        ((1, 320, 7, 7), (1280, 320, 1, 1)),  # MobileNetV2's last 1x1
        ((1, 384, 14, 14), (64, 384, 1, 1)),
        ((2, 64, 28, 28), (96, 64, 1, 1)),
    ],
)
@pytest.mark.parametrize("threads", [2, 4])
def test_pointwise_tasks_share_each_gathered_strip_among_blocks(xs, ws, threads, simd_path) -> None:
    """The direct pointwise kernel gathers each strip of its pixels once per task: tasks keep many
    output-channel blocks (not one block per range, which re-gathers the input for every block),
    and still give every thread work."""
    x, w = data(xs, ws)
    conv = kernelkit.Conv2d(w)
    plan = conv.plan(x.shape, n_threads=threads)
    assert plan.algorithm == "direct_pointwise"
    assert plan.threads == threads
    blocks = -(-ws[0] // plan.register_tile[1])
    assert plan.task_channels >= min(ws[0], 4 * plan.register_tile[1]) or plan.channel_tasks == 1
    assert plan.tasks >= threads
    assert blocks >= plan.channel_tasks
    assert rel_err(conv(x, n_threads=threads), reference(x, w, None, 1, (0,) * 4)) <= 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("n", "c", "o", "h", "w"), [(8, 40, 20, 7, 7), (3, 17, 13, 9, 11), (5, 24, 7, 6, 9)]
)
@pytest.mark.parametrize("threads", [1, 3])
def test_pointwise_strips_run_from_one_image_into_the_next(
    n, c, o, h, w, threads, dtype, simd_path
) -> None:
    """The direct pointwise kernel lays the images' pixels end to end, so that a strip that reaches
    past one image's last pixel continues in the next; every pixel of every image (and no other
    element of the output) gets its result, with bias and activation."""
    x, wt = data((n, c, h, w), (o, c, 1, 1), dtype)
    bias = np.linspace(-1, 1, o).astype(dtype)
    conv = kernelkit.Conv2d(wt, bias, activation="relu")
    plan = conv.plan(x.shape, dtype=dtype, n_threads=threads)
    strip = plan.register_tile[0]
    if plan.algorithm != "direct_pointwise":
        pytest.skip(f"planes of {h * w} pixels run {plan.algorithm} with strips of {strip} here")
    assert (h * w) % strip != 0  # strips cross image boundaries
    out = np.full((n + 1, o, h, w), 7, dtype)  # one image more: nothing may be written there
    conv(x, out=out[:n], n_threads=threads)
    ref = np.maximum(reference(x, wt, bias), 0)
    assert rel_err(out[:n], ref) <= (1e-5 if dtype == np.float32 else 1e-12)
    assert (out[n] == 7).all()


def test_weights_are_copied() -> None:
    x, w = data((1, 8, 6, 6), (4, 8, 3, 3))
    conv = kernelkit.Conv2d(w)
    before = conv(x)
    w[:] = 0
    assert_array_equal(conv(x), before)
    assert not conv.weight.flags.writeable
    assert conv.weight.shape == (4, 8, 3, 3)
    assert (conv.in_channels, conv.out_channels, conv.kernel_size) == (8, 4, (3, 3))
    assert "Conv2d(8->4, 3x3" in repr(conv)


def test_pickled_copy_computes_the_same_and_packs_afresh() -> None:
    x, w = data((2, 8, 9, 9), (6, 8, 3, 3))
    conv = kernelkit.Conv2d(w, np.arange(6.0), 2, "same", activation="leaky_relu", alpha=0.2)
    expected = conv(x)
    copy = pickle.loads(pickle.dumps(conv))
    assert copy.packings == 0
    assert_array_equal(copy(x), expected)
    assert copy.packings == 1
    assert repr(copy) == repr(conv)
    assert not copy.weight.flags.writeable


def test_concurrent_calls_from_python_threads() -> None:
    x, w = data((4, 32, 20, 20), (32, 32, 3, 3))
    conv = kernelkit.Conv2d(w, padding=1)
    expected = conv(x, n_threads=1)
    results: list[np.ndarray] = []

    def work() -> None:
        for _ in range(5):
            results.append(conv(x, n_threads=1))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 15
    for r in results:
        assert_array_equal(r, expected)


def test_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x, w = data((2, 24, 17, 17), (48, 8, 3, 3))
    b = np.arange(48, dtype=np.float32) / 10
    conv = kernelkit.Conv2d(w, b, stride=2, padding=1, groups=3, activation="relu")
    expected = torch.relu(
        torch.nn.functional.conv2d(
            torch.from_numpy(x),
            torch.from_numpy(w),
            torch.from_numpy(b),
            stride=2,
            padding=1,
            groups=3,
        )
    ).numpy()
    assert rel_err(conv(x), expected) <= 1e-5


def test_model_layers_hold_a_prepared_convolution() -> None:
    w = np.random.default_rng(5).standard_normal((3, 3, 2, 4)).astype(np.float32)
    layer = ConvLayer("conv", "conv2d", w, "HWIO", activation="relu", data_format="NHWC")
    x = np.ones((1, 6, 6, 2), np.float32)
    first = layer(x)
    for _ in range(3):
        assert_array_equal(layer(x), first)
    (conv,) = layer._prepared("NHWC")
    assert conv.packings == 1


# -- errors that say what to pass instead ------------------------------------------------------

X = np.ones((1, 3, 8, 8), np.float32)
W = np.ones((4, 3, 3, 3), np.float32)


@pytest.mark.parametrize("call", ["conv2d", "Conv2d"])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strides": 2}, "Keras argument 'strides'; kernelkit takes stride="),
        ({"data_format": "channels_last"}, "Keras argument 'data_format'; kernelkit takes layout="),
        ({"dilation_rate": 2}, "takes dilation="),
        ({"no_such_argument": 1}, "unexpected keyword argument 'no_such_argument'"),
    ],
)
def test_keras_argument_names(call: str, kwargs: dict[str, Any], match: str) -> None:
    make = kernelkit.conv2d if call == "conv2d" else lambda *args, **kw: kernelkit.Conv2d(W, **kw)
    with pytest.raises(TypeError, match=match):
        make(X, W, **kwargs)


@pytest.mark.parametrize("call", ["conv2d", "Conv2d"])
def test_nhwc_input_without_layout(call: str) -> None:
    x = np.ones((1, 8, 8, 3), np.float32)  # channels last
    with pytest.raises(
        ValueError, match=r"^x: .* looks like NHWC \(channels last\); pass layout='NHWC'"
    ):
        kernelkit.conv2d(x, W) if call == "conv2d" else kernelkit.Conv2d(W)(x)
    hwio = np.ones((3, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"looks like NCHW \(channels first\); pass layout='NCHW'"):
        kernelkit.conv2d(X, hwio, layout="NHWC")


def test_keras_depthwise_kernel() -> None:
    x = np.ones((1, 8, 8, 6), np.float32)
    keras_kernel = np.ones((3, 3, 6, 2), np.float32)  # (KH, KW, C, multiplier)
    with pytest.raises(
        ValueError, match=r"Keras depthwise kernel .* weight.reshape\(3, 3, 1, 12\)"
    ):
        kernelkit.conv2d(x, keras_kernel, groups=6, layout="NHWC")
    got = kernelkit.conv2d(x, keras_kernel.reshape(3, 3, 1, 12), groups=6, layout="NHWC")
    assert got.shape == (1, 6, 6, 12)
    assert_array_equal(got, 9.0)


@pytest.mark.parametrize("call", ["conv2d", "Conv2d"])
def test_float64_weights_with_float32_input(call: str) -> None:
    w64 = W.astype(np.float64)
    with pytest.raises(TypeError, match=r"^weight: float64 weights with float32 input; cast"):
        kernelkit.conv2d(X, w64) if call == "conv2d" else kernelkit.Conv2d(w64)(X)
    # float32 weights with float64 input compute in float64, exactly
    got = kernelkit.Conv2d(W)(X.astype(np.float64))
    assert got.dtype == np.float64
    assert_array_equal(got, 27.0)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"weight": np.ones((4, 3, 3))}, ValueError, "^weight:"),
        ({"groups": 3}, ValueError, "^groups:"),
        ({"stride": 0}, ValueError, "^stride:"),
        ({"padding": "full"}, ValueError, "^padding:"),
        ({"layout": "CHW"}, ValueError, "^layout:"),
        ({"activation": "gelu"}, ValueError, "^activation:"),
        ({"bias": np.ones(3)}, ValueError, "^bias:"),
        ({"weight": np.ones((4, 3, 3, 3), complex)}, TypeError, "^weight:"),
    ],
)
def test_constructor_errors(kwargs: dict[str, Any], exc: type, match: str) -> None:
    args: dict[str, Any] = {"weight": W, **kwargs}
    with pytest.raises(exc, match=match):
        kernelkit.Conv2d(**args)
