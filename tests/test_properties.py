"""Property tests (hypothesis): conv2d, Conv2d, filter2d and every Gram kernel on arbitrary small
shapes (0 and 1 included), strides, paddings, dilations, groups, layouts, dtypes and memory orders
(Fortran order, negative strides, strided views), against float64 references: explicit and
string paddings ("same" with TensorFlow's rule, "same_lower", "valid"; PyTorch's padding="same"
where torch is installed), every weight layout, activations with their leaky slope, gray,
multi-channel and batched filter2d / filter2d_separable in every boundary mode with origins and
convolve=True against scipy.ndimage per channel, on every SIMD path this CPU supports.

The "ci" profile (the default) keeps a fixed budget of examples so the suite stays fast;
``HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py`` runs many more.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import kernelkit  # noqa: E402
from test_conv2d import ref_conv2d  # noqa: E402
from test_gram import (  # noqa: E402
    ref_additive_chi2,
    ref_chi2,
    ref_cosine,
    ref_laplacian,
    ref_linear,
    ref_polynomial,
    ref_rbf,
    ref_sigmoid,
)

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DTYPES = st.sampled_from([np.float32, np.float64])
ORDERS = st.sampled_from(["C", "F", "negative", "reversed", "strided"])
SIMD_PATHS = st.sampled_from(list(kernelkit.config()["simd_supported"]))
ALPHAS = st.sampled_from([0.01, 0.0, 0.2, -0.5, 1.5])


def tolerance(dtype: type) -> float:
    return 2e-4 if dtype == np.float32 else 1e-10


def relayout(a: np.ndarray, order: str) -> np.ndarray:
    """The same values in another memory order: C, Fortran, the last axis reversed twice
    ("negative": one negative stride), every axis reversed twice ("reversed": all strides
    negative), or every second element of a larger array ("strided")."""
    if order == "F":
        return np.asfortranarray(a)
    if order == "negative":
        flipped = np.ascontiguousarray(a[..., ::-1])
        return flipped[..., ::-1]
    if order == "reversed":
        every = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[every])[every]
    if order == "strided":
        big = np.full(tuple(2 * n + 1 for n in a.shape), np.nan, dtype=a.dtype)
        view = big[(slice(1, None, 2),) * a.ndim]
        view[...] = a
        return view
    assert order == "C"
    return a


@contextmanager
def simd_path(path: str) -> Iterator[None]:
    """Run the body on one SIMD path, restoring the previous one afterwards."""
    previous = kernelkit.simd_path()
    kernelkit.set_simd_path(path)
    try:
        yield
    finally:
        kernelkit.set_simd_path(previous)


def assert_close(got: np.ndarray, expected: np.ndarray, dtype: type) -> None:
    assert got.shape == expected.shape
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance(dtype) * scale)


@st.composite
def convolutions(draw: st.DrawFn) -> dict:
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    span = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    h = draw(st.integers(max(1, span[0] - pads[0] - pads[1]), 9))
    w = draw(st.integers(max(1, span[1] - pads[2] - pads[3]), 9))
    return {
        "n": draw(st.integers(0, 2)),
        "shape": (cin, h, w),
        "weight": (cout, cin // groups, kh, kw),
        "groups": groups,
        "stride": stride,
        "dilation": dilation,
        "pads": pads,
        "bias": draw(st.booleans()),
        "activation": draw(st.sampled_from([None, "relu", "leaky_relu", "relu6"])),
        "alpha": draw(ALPHAS),
        "layout": draw(st.sampled_from(["NCHW", "NHWC"])),
        "dtype": draw(DTYPES),
        "order": draw(ORDERS),
        "simd": draw(SIMD_PATHS),
        "seed": draw(st.integers(0, 2**16)),
    }


@given(convolutions(), st.booleans())
def test_conv2d_matches_the_float64_reference(case, prepared):
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    x = rng.standard_normal((case["n"], *case["shape"])).astype(dtype) * 4
    w = rng.standard_normal(case["weight"]).astype(dtype)
    b = rng.standard_normal(case["weight"][0]).astype(dtype) if case["bias"] else None
    t, bottom, left, r = case["pads"]
    expected = ref_conv2d(
        x.astype(np.float64),
        w.astype(np.float64),
        b,
        case["stride"],
        case["pads"],
        case["dilation"],
        case["groups"],
        case["activation"],
        case["alpha"],
    )
    source = x if case["layout"] == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    arguments = dict(
        stride=case["stride"],
        padding=((t, bottom), (left, r)),
        dilation=case["dilation"],
        groups=case["groups"],
        layout=case["layout"],
        weight_layout="OIHW",
        activation=case["activation"],
        alpha=case["alpha"],
    )
    with simd_path(case["simd"]):
        if prepared:
            got = kernelkit.Conv2d(w, b, **arguments)(relayout(source, case["order"]))
        else:
            got = kernelkit.conv2d(relayout(source, case["order"]), w, b, **arguments)
    got = got if case["layout"] == "NCHW" else got.transpose(0, 3, 1, 2)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)


def tensorflow_same(size: int, k: int, s: int, d: int, lower: bool) -> tuple[int, int]:
    """(before, after) padding of one axis as TensorFlow's "same" (ONNX SAME_UPPER) resolves it,
    or ONNX's SAME_LOWER: ceil(size / s) outputs; the windows of those outputs reach
    (out - 1) * s + (k - 1) * d + 1 pixels; what is missing is split in two, the odd one after
    ("same") or before ("same_lower")."""
    out = (size + s - 1) // s
    reach = (out - 1) * s + (k - 1) * d + 1
    missing = max(reach - size, 0)
    small, large = missing // 2, missing - missing // 2
    return (large, small) if lower else (small, large)


def documented_pads(padding: str, hw: tuple[int, int], kernel, stride, dilation) -> tuple:
    """(top, bottom, left, right) for a string padding, as conv2d's docstring describes it."""
    mode = padding.lower()
    if mode == "valid":
        return (0, 0, 0, 0)
    assert mode in ("same", "same_lower")
    rows = tensorflow_same(hw[0], kernel[0], stride[0], dilation[0], mode == "same_lower")
    cols = tensorflow_same(hw[1], kernel[1], stride[1], dilation[1], mode == "same_lower")
    return (*rows, *cols)


def oihw_as(weight_layout: str | None, layout: str, w: np.ndarray) -> np.ndarray:
    """OIHW weights in ``weight_layout`` (None: conv2d's default for ``layout``)."""
    resolved = weight_layout or ("HWIO" if layout == "NHWC" else "OIHW")
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)) if resolved == "HWIO" else w


@st.composite
def string_padded_convolutions(draw: st.DrawFn) -> dict:
    groups = draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["same", "same", "same_lower", "valid", "SAME", "Valid"]))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    low = span if padding.lower() == "valid" else [1, 1]
    size = st.tuples(st.integers(low[0], max(low[0], 9)), st.integers(low[1], max(low[1], 9)))
    layout = draw(st.sampled_from(["NCHW", "NHWC"]))
    return {
        "groups": groups,
        "cin": groups * draw(st.integers(1, 3)),
        "cout": groups * draw(st.integers(1, 3)),
        "kernel": kernel,
        "dilation": dilation,
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "padding": padding,
        # a prepared Conv2d resolves "same" per input size: call it on one or two sizes
        "sizes": draw(st.lists(size, min_size=1, max_size=2)),
        "n": draw(st.integers(0, 2)),
        "single": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "activation": draw(st.sampled_from([None, "relu", "leaky_relu", "relu6"])),
        "alpha": draw(ALPHAS),
        "layout": layout,
        "weight_layout": draw(st.sampled_from([None, "OIHW", "HWIO"])),
        "dtype": draw(DTYPES),
        "order": draw(ORDERS),
        "simd": draw(SIMD_PATHS),
        "prepared": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


@given(string_padded_convolutions())
def test_string_paddings_match_the_documented_explicit_padding(case):
    """padding="same" / "same_lower" / "valid" (any case) give the float64 reference on the input
    padded explicitly as the docstring says, with ceil(in / stride) outputs for "same", for
    conv2d and for one prepared Conv2d called on several input sizes, in both layouts and every
    weight layout."""
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    w = rng.standard_normal((case["cout"], case["cin"] // case["groups"], *case["kernel"]))
    w = w.astype(dtype)
    b = rng.standard_normal(case["cout"]).astype(dtype) if case["bias"] else None
    layout = case["layout"]
    weight = oihw_as(case["weight_layout"], layout, w)
    arguments = dict(
        stride=case["stride"],
        padding=case["padding"],
        dilation=case["dilation"],
        groups=case["groups"],
        layout=layout,
        weight_layout=case["weight_layout"],
        activation=case["activation"],
        alpha=case["alpha"],
    )
    prepared = kernelkit.Conv2d(weight, b, **arguments) if case["prepared"] else None
    n = 1 if case["single"] else case["n"]
    for hw in case["sizes"]:
        x = (rng.standard_normal((n, case["cin"], *hw)) * 4).astype(dtype)
        pads = documented_pads(
            case["padding"], hw, case["kernel"], case["stride"], case["dilation"]
        )
        expected = ref_conv2d(
            x.astype(np.float64),
            w.astype(np.float64),
            b,
            case["stride"],
            pads,
            case["dilation"],
            case["groups"],
            case["activation"],
            case["alpha"],
        )
        if case["padding"].lower() != "valid":
            assert expected.shape[2:] == tuple(-(-e // s) for e, s in zip(hw, case["stride"]))
        source = x if layout == "NCHW" else x.transpose(0, 2, 3, 1)
        source = relayout(
            np.ascontiguousarray(source[0] if case["single"] else source), case["order"]
        )
        with simd_path(case["simd"]):
            if prepared is not None:
                got = prepared(source)
            else:
                got = kernelkit.conv2d(source, weight, b, **arguments)
        if case["single"]:
            got = got[np.newaxis]
        got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
        assert got.dtype == dtype
        assert_close(got, expected, dtype)


@given(
    st.integers(0, 2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.tuples(st.integers(1, 9), st.integers(1, 9)),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.integers(1, 2), st.integers(1, 2)),
    st.booleans(),
    st.sampled_from([None, "relu", "leaky_relu", "relu6"]),
    ALPHAS,
    DTYPES,
    st.integers(0, 2**16),
)
def test_same_padding_matches_torch(
    n, groups, per_group, hw, kernel, dilation, bias, activation, alpha, dtype, seed
):
    """Stride 1: "same" is PyTorch's padding="same" (the odd padding after), activations too."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(seed)
    cin, cout = groups * per_group, groups * (1 + seed % 3)
    x = (rng.standard_normal((n, cin, *hw)) * 4).astype(dtype)
    w = rng.standard_normal((cout, per_group, *kernel)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if bias else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # even kernels: torch warns that it copies the input
        expected = functional.conv2d(
            torch.from_numpy(x.astype(np.float64)),
            torch.from_numpy(w.astype(np.float64)),
            None if b is None else torch.from_numpy(b.astype(np.float64)),
            padding="same",
            dilation=dilation,
            groups=groups,
        )
    if activation == "relu":
        expected = functional.relu(expected)
    elif activation == "leaky_relu":
        expected = functional.leaky_relu(expected, alpha)
    elif activation == "relu6":
        expected = functional.relu6(expected)
    got = kernelkit.conv2d(
        x,
        w,
        b,
        padding="same",
        dilation=dilation,
        groups=groups,
        activation=activation,
        alpha=alpha,
    )
    assert_close(got, expected.numpy(), dtype)


@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 5),
    st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    DTYPES,
    ORDERS,
    st.integers(0, 2**16),
)
def test_filter2d_matches_scipy(h, w, kh, kw, mode, dtype, order, seed):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(seed)
    image = rng.random((h, w)).astype(dtype)
    kernel = rng.standard_normal((kh, kw))
    expected = ndimage.correlate(image.astype(np.float64), kernel, mode=mode, cval=0.5)
    got = kernelkit.filter2d(relayout(image, order), kernel, mode=mode, cval=0.5)
    assert_close(got, expected, dtype)


FILTER_MODES = ["reflect", "constant", "nearest", "mirror", "wrap"]
FILTER_MODES += ["grid-mirror", "grid-constant", "grid-wrap"]


@st.composite
def filterings(draw: st.DrawFn) -> dict:
    # Kernels stay within 7x7 (at most 6 pixels outside the image): scipy.ndimage.correlate
    # itself (1.17; correlate1d is right) reads outside its input in mode="reflect" once a tap
    # lies 4 * size or more before the image (e.g. a 2-row image, a 9-row kernel, origin 4), and
    # gives garbage; farther reaches are checked against numpy.pad below.
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    convolve = draw(st.booleans())

    def origin(k: int) -> st.SearchStrategy[int]:
        lo, hi, even = -(k // 2), (k - 1) // 2, 1 - k % 2
        return st.integers(-hi - even, -lo - even) if convolve else st.integers(lo, hi)

    return {
        "shape": draw(st.sampled_from(["HW", "HWC", "NHWC"])),
        "n": draw(st.integers(0, 2)),
        "hw": (draw(st.integers(0, 11)), draw(st.integers(0, 11))),
        "channels": draw(st.integers(1, 4)),
        "kernel": (kh, kw),
        # "rank1" kernels large enough take the two-pass path; "separable" calls
        # filter2d_separable; "sparse" kernels have weights scipy leaves out
        "kind": draw(st.sampled_from(["random", "rank1", "box", "sparse", "separable"])),
        "mode": draw(st.sampled_from(FILTER_MODES)),
        "cval": draw(st.sampled_from([0.0, 0.5, -3.25])),
        "origin": (draw(origin(kh)), draw(origin(kw))),
        "convolve": convolve,
        "channels_first": draw(st.booleans()),
        "dtype": draw(DTYPES),
        "order": draw(ORDERS),
        "simd": draw(SIMD_PATHS),
        "seed": draw(st.integers(0, 2**16)),
    }


@given(filterings())
def test_multichannel_filter2d_matches_scipy_per_channel(case):
    """Gray (H, W), colour (H, W, C) and batched (N, H, W, C) images, empty ones included: each
    channel of each image is what scipy.ndimage.correlate (convolve with convolve=True) gives for
    it with the same mode, cval and origin."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    kh, kw = case["kernel"]
    n = {"HW": 1, "HWC": 1, "NHWC": case["n"]}[case["shape"]]
    c = 1 if case["shape"] == "HW" else case["channels"]
    batch = rng.standard_normal((n, *case["hw"], c)).astype(dtype)
    col, row = rng.standard_normal(kh), rng.standard_normal(kw)
    if case["kind"] in ("rank1", "separable"):
        kernel = np.outer(col, row)
    elif case["kind"] == "box":
        kernel = np.full((kh, kw), 1.0 / (kh * kw))
    else:
        kernel = rng.standard_normal((kh, kw))
        if case["kind"] == "sparse":
            kernel[rng.random((kh, kw)) < 0.5] = 0.0
    scipy_filter = ndimage.convolve if case["convolve"] else ndimage.correlate
    expected = np.zeros(batch.shape)
    if batch.size:
        for i in range(n):
            for j in range(c):
                expected[i, ..., j] = scipy_filter(
                    batch[i, ..., j].astype(np.float64),
                    kernel,
                    mode=case["mode"],
                    cval=case["cval"],
                    origin=case["origin"],
                )
    if case["shape"] == "HW":
        image = batch[0, ..., 0]
    else:
        image = batch[0] if case["shape"] == "HWC" else batch
    expected = expected.reshape(image.shape)
    if case["channels_first"] and image.ndim > 2:
        # a channels-last view of a channels-first array (each channel's plane contiguous)
        lead = tuple(range(image.ndim - 3))
        h, w, c = image.ndim - 3, image.ndim - 2, image.ndim - 1
        planes = np.ascontiguousarray(image.transpose((*lead, c, h, w)))
        image = relayout(planes, case["order"]).transpose((*lead, h + 1, w + 1, h))
    else:
        image = relayout(image, case["order"])
    options = dict(mode=case["mode"], cval=case["cval"], origin=case["origin"])
    with simd_path(case["simd"]):
        if case["kind"] == "separable":
            got = kernelkit.filter2d_separable(
                image, row, col, convolve=case["convolve"], **options
            )
        else:
            got = kernelkit.filter2d(image, kernel, convolve=case["convolve"], **options)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)


GRAM = {
    "linear": (kernelkit.linear_kernel, ref_linear, {}),
    "polynomial": (kernelkit.polynomial_kernel, ref_polynomial, {"degree": 2, "coef0": 0.5}),
    "sigmoid": (kernelkit.sigmoid_kernel, ref_sigmoid, {"coef0": 0.1}),
    "rbf": (kernelkit.rbf_kernel, ref_rbf, {}),
    "laplacian": (kernelkit.laplacian_kernel, ref_laplacian, {}),
    "cosine": (kernelkit.cosine_similarity, ref_cosine, {}),
    "chi2": (kernelkit.chi2_kernel, ref_chi2, {"gamma": 0.5}),
    "additive_chi2": (kernelkit.additive_chi2_kernel, ref_additive_chi2, {}),
}


@given(
    st.sampled_from(sorted(GRAM)),
    st.integers(0, 20),
    st.one_of(st.none(), st.integers(0, 20)),
    st.integers(1, 12),
    DTYPES,
    ORDERS,
    st.integers(0, 2**16),
)
def test_gram_kernels_match_the_float64_reference(name, n, m, d, dtype, order, seed):
    function, reference, params = GRAM[name]
    rng = np.random.default_rng(seed)
    x = rng.random((n, d)).astype(dtype)
    y = None if m is None else rng.random((m, d)).astype(dtype)
    x64 = x.astype(np.float64)
    expected = reference(x64, x64 if y is None else y.astype(np.float64), **params)
    got = function(relayout(x, order), None if y is None else relayout(y, order), **params)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)


NUMPY_PAD_MODES = {
    "reflect": "symmetric",
    "grid-mirror": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}


@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3)),
    st.tuples(st.integers(1, 15), st.integers(1, 15)),
    st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True)),
    st.sampled_from(sorted(NUMPY_PAD_MODES)),
    st.booleans(),
    DTYPES,
    SIMD_PATHS,
    st.integers(0, 2**16),
)
def test_filter2d_reaching_far_outside_tiny_images_matches_numpy_pad(
    shape, kernel_size, where, mode, rank_one, dtype, simd, seed
):
    """Kernels many times larger than the image (the boundary extended over and over, where
    scipy.ndimage.correlate is unreliable) give the correlation of the image extended by
    numpy.pad in the matching mode (symmetric, reflect, edge, wrap, constant)."""
    rng = np.random.default_rng(seed)
    kh, kw = kernel_size
    origin = tuple(int(f * k) - k // 2 for f, k in zip(where, kernel_size))
    image = rng.standard_normal(shape).astype(dtype)
    if rank_one:
        kernel = np.outer(rng.standard_normal(kh), rng.standard_normal(kw))
    else:
        kernel = rng.standard_normal(kernel_size)
    top, left = kh // 2 + origin[0], kw // 2 + origin[1]
    numpy_mode = NUMPY_PAD_MODES[mode]
    extra = {"constant_values": -1.5} if numpy_mode == "constant" else {}
    padded = np.pad(
        image.astype(np.float64),
        ((top, kh - 1 - top), (left, kw - 1 - left), (0, 0)),
        mode=numpy_mode,
        **extra,
    )
    h, w = shape[:2]
    expected = np.zeros(shape)
    for i in range(kh):
        for j in range(kw):
            expected += kernel[i, j] * padded[i : i + h, j : j + w]
    with simd_path(simd):
        got = kernelkit.filter2d(image, kernel, mode=mode, cval=-1.5, origin=origin)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)
