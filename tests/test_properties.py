"""Property tests (hypothesis): conv2d, Conv2d, filter2d and every Gram kernel on arbitrary small
shapes (0 and 1 included), strides, paddings, dilations, groups, layouts, dtypes and memory orders
(Fortran order, negative strides), against float64 references.

The "ci" profile (the default) keeps a fixed budget of examples so the suite stays fast;
``HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties.py`` runs many more.
"""

from __future__ import annotations

import os

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


def tolerance(dtype: type) -> float:
    return 2e-4 if dtype == np.float32 else 1e-10


def relayout(a: np.ndarray, order: str) -> np.ndarray:
    """The same values in another memory order: C, Fortran, or reversed twice (negative strides)."""
    if order == "F":
        return np.asfortranarray(a)
    if order == "negative":
        flipped = np.ascontiguousarray(a[..., ::-1])
        return flipped[..., ::-1]
    return a


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
        "layout": draw(st.sampled_from(["NCHW", "NHWC"])),
        "dtype": draw(DTYPES),
        "order": draw(st.sampled_from(["C", "F", "negative"])),
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
    )
    if prepared:
        got = kernelkit.Conv2d(w, b, **arguments)(relayout(source, case["order"]))
    else:
        got = kernelkit.conv2d(relayout(source, case["order"]), w, b, **arguments)
    got = got if case["layout"] == "NCHW" else got.transpose(0, 3, 1, 2)
    assert got.dtype == dtype
    assert_close(got, expected, dtype)


@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 5),
    st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    DTYPES,
    st.sampled_from(["C", "F", "negative"]),
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
    st.sampled_from(["C", "F", "negative"]),
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
