"""The NumPy steps of a network (models/ops.py) against PyTorch and plain NumPy references,
over the settings the whole-network fixtures do not cover."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.models import ops


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def F(torch):
    return torch.nn.functional


def random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    ("kernel", "stride", "pad", "dilation", "ceil_mode"),
    [
        (3, 2, 1, 1, False),
        (3, 2, 0, 1, True),
        (2, 2, 0, 1, True),
        (3, 1, 1, 2, False),
        (3, 3, 1, 1, True),
    ],
)
@pytest.mark.parametrize("size", [7, 8, 11])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_max_pool_matches_torch(kernel, stride, pad, dilation, ceil_mode, size, layout, torch, F):
    x = random((2, 19, size, size + 1))
    expected = F.max_pool2d(torch.from_numpy(x), kernel, stride, pad, dilation, ceil_mode=ceil_mode)
    source, axis = (
        (x, 1) if layout == "NCHW" else (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), -1)
    )
    got = ops.pool(
        source,
        "max",
        (kernel,) * 2,
        (stride,) * 2,
        [(pad, pad)] * 2,
        axis,
        dilations=(dilation,) * 2,
        ceil_mode=ceil_mode,
    )
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("count_padding", [False, True])
@pytest.mark.parametrize(
    ("kernel", "stride", "pad", "ceil_mode"), [(3, 2, 1, False), (3, 2, 1, True), (2, 2, 0, True)]
)
@pytest.mark.parametrize("size", [7, 10])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_average_pool_matches_torch(
    count_padding, kernel, stride, pad, ceil_mode, size, layout, torch, F
):
    x = random((2, 19, size, size))
    expected = F.avg_pool2d(
        torch.from_numpy(x),
        kernel,
        stride,
        pad,
        ceil_mode=ceil_mode,
        count_include_pad=count_padding,
    )
    source, axis = (
        (x, 1) if layout == "NCHW" else (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), -1)
    )
    got = ops.pool(
        source,
        "avg",
        (kernel,) * 2,
        (stride,) * 2,
        [(pad, pad)] * 2,
        axis,
        count_padding=count_padding,
        ceil_mode=ceil_mode,
    )
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


def reference_pool(x, kind, kernel, stride, dilation, pads, counted):
    """Window by window over an NCHW float64 copy: the taps inside the input, divided (average)
    by the taps inside the input extended by ``counted``."""
    n, c, h, w = x.shape
    top, bottom, left, right = pads
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    oh = (h + top + bottom - span[0]) // stride[0] + 1
    ow = (w + left + right - span[1]) // stride[1] + 1
    out = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            rows = [oy * stride[0] - top + k * dilation[0] for k in range(kernel[0])]
            cols = [ox * stride[1] - left + k * dilation[1] for k in range(kernel[1])]
            inside = [(r, q) for r in rows for q in cols if 0 <= r < h and 0 <= q < w]
            values = np.stack([x[:, :, r, q] for r, q in inside], axis=-1)
            if kind == "max":
                out[:, :, oy, ox] = values.max(axis=-1)
            else:
                ct, cb, cl, cr = counted
                rows_in = sum(-ct <= r < h + cb for r in rows)
                cols_in = sum(-cl <= q < w + cr for q in cols)
                out[:, :, oy, ox] = values.sum(axis=-1) / (rows_in * cols_in)
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_kernels_match_a_window_by_window_reference(seed, layout, dtype, simd_path):
    rng = np.random.default_rng(seed)
    kernel = tuple(int(v) for v in rng.integers(1, 5, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    pads = [(int(rng.integers(0, k)), int(rng.integers(0, k))) for k in kernel]
    size = (int(rng.integers(6, 14)), int(rng.integers(6, 14)))
    x = rng.standard_normal((2, int(rng.integers(1, 20)), *size)).astype(dtype)
    x[0, 0, 1, 2] = np.nan  # NaN wins a max and spoils a sum, as NumPy's would
    kind = "max" if seed % 2 else "avg"
    count_padding = bool(seed % 3 == 0)
    counted = (*pads[0], *pads[1]) if count_padding else (0, 0, 0, 0)
    expected = reference_pool(
        x.astype(np.float64), kind, kernel, stride, dilation, (*pads[0], *pads[1]), counted
    )
    source, axis = (
        (x, 1) if layout == "NCHW" else (np.ascontiguousarray(x.transpose(0, 2, 3, 1)), -1)
    )
    got = ops.pool(
        source, kind, kernel, stride, pads, axis, dilations=dilation, count_padding=count_padding
    )
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    assert got.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


def test_same_average_pooling_with_one_sided_padding_averages_the_input_values_only():
    """TensorFlow's (and Keras' documented) rule, computed here window by window."""
    x = random((1, 6, 6, 2))  # NHWC; pool 3 stride 2 "same": pads (0, 1) on each axis
    pads = [ops.same_padding(6, 3, 2)] * 2
    assert pads == [(0, 1), (0, 1)]
    got = ops.pool(x, "avg", (3, 3), (2, 2), pads, -1)
    expected = np.empty((1, 3, 3, 2), np.float64)
    for i in range(3):
        for j in range(3):
            expected[0, i, j] = x[0, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].mean(axis=(0, 1))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("mode", "coordinates", "torch_mode", "align"),
    [
        ("linear", "half_pixel", "bilinear", False),
        ("linear", "align_corners", "bilinear", True),
        ("nearest", "asymmetric", "nearest", None),
    ],
)
@pytest.mark.parametrize("size", [(10, 14), (3, 5), (9, 4)])
def test_resize_matches_torch_interpolate(mode, coordinates, torch_mode, align, size, torch, F):
    x = random((2, 3, 5, 7))
    expected = F.interpolate(torch.from_numpy(x), size=size, mode=torch_mode, align_corners=align)
    nearest = "floor"
    got = ops.resize(x, size, (2, 3), mode, coordinates, nearest)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("stride", "padding", "output_padding", "dilation", "groups"),
    [(1, 0, 0, 1, 1), (2, 1, 1, 1, 1), (2, 0, 0, 2, 1), (3, 1, 2, 1, 2), (2, 2, 0, 1, 4)],
)
def test_conv_transpose_matches_torch(stride, padding, output_padding, dilation, groups, torch, F):
    x = random((2, 8, 5, 6), 1)
    weight = random((8, 6 // 2 * 2 // groups if groups < 4 else 1, 3, 3), 2)
    bias = random((weight.shape[1] * groups,), 3)
    expected = F.conv_transpose2d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )
    crops = [(padding, padding - output_padding)] * 2
    got = ops.conv_transpose(x, weight, bias, (stride,) * 2, (dilation,) * 2, crops, groups, 1)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)
    nhwc = ops.conv_transpose(
        np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
        weight,
        bias,
        (stride,) * 2,
        (dilation,) * 2,
        crops,
        groups,
        -1,
    )
    np.testing.assert_allclose(nhwc.transpose(0, 3, 1, 2), got, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu6", lambda F, t: F.relu6(t)),
        ("hard_sigmoid", lambda F, t: F.hardsigmoid(t)),
        ("hard_swish", lambda F, t: F.hardswish(t)),
        ("silu", lambda F, t: F.silu(t)),
        ("softplus", lambda F, t: F.softplus(t)),
        ("selu", lambda F, t: F.selu(t)),
        ("mish", lambda F, t: F.mish(t)),
        ("softmax", lambda F, t: F.softmax(t, -1)),
    ],
)
def test_activations_match_torch(name, reference, torch, F):
    x = random((4, 33)) * 4
    np.testing.assert_allclose(
        ops.activation_function(name)(x),
        reference(F, torch.from_numpy(x)).numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    ("max_value", "slope", "threshold"),
    [(None, 0.0, 0.0), (6.0, 0.0, 0.0), (6.0, 0.1, 0.5), (None, 0.2, -1.0)],
)
def test_keras_relu_settings(max_value, slope, threshold):
    x = np.linspace(-3, 9, 97, dtype=np.float32)
    expected = np.where(x >= threshold, x, slope * (x - threshold))
    if max_value is not None:
        expected = np.minimum(expected, max_value)
    np.testing.assert_allclose(ops.relu(x, max_value, slope, threshold), expected, rtol=1e-6)


@pytest.mark.parametrize("padding", ["causal", "same", "valid", ((2, 1),)])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv1d_layers_run_as_2d_convolutions(padding, dilation, torch, F):
    from kernelkit.models import ConvLayer
    from kernelkit.models.nodes import conv_node

    x = random((2, 17, 4))  # (N, L, C): Keras' channels_last
    kernel = random((3, 4, 5), 1)  # (k, in, out)
    layer = ConvLayer(
        "c",
        "conv1d",
        kernel,
        "HWIO",
        padding=padding,
        stride=(1,),
        dilation=(dilation,),
        data_format="NHWC",
    )
    (got,) = conv_node("c", "Conv1D", "x", "y", layer, {}).run([x], None)
    span = 2 * dilation
    pads = {"causal": (span, 0), "same": (span // 2, span - span // 2), "valid": (0, 0)}
    left, right = pads.get(padding, (2, 1)) if isinstance(padding, str) else padding[0]
    expected = F.conv1d(
        F.pad(torch.from_numpy(x).transpose(1, 2), (left, right)),
        torch.from_numpy(kernel).permute(2, 1, 0),
        dilation=dilation,
    ).transpose(1, 2)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)
