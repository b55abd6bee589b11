"""Results with more than 2**31 elements: every index the kernels compute is 64-bit, so the last
rows, columns and channels are right (a 32-bit index would wrap and write the start again). Each
result is 8.6 GB of float32, written into one shared out= buffer (the first touch of that much
fresh memory costs far more than the kernels); the tests run where that much memory is available
and skip otherwise. Rows and channels near both ends and across the 2**31 boundary are checked
against float64 references."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit

ELEMENTS = 2**31 + 2**20  # just over the boundary; 2**16 rows or 2**20 pixels per channel
RESULT_BYTES = ELEMENTS * 4


def available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
    except OSError:
        return 0
    return int(fields["MemAvailable"].split()[0]) * 1024


pytestmark = pytest.mark.skipif(
    available_memory() < RESULT_BYTES + (4 << 30),
    reason="needs about 13 GB of free memory for an 8.6 GB result",
)


def boundary_indices(count: int, row_elements: int) -> np.ndarray:
    """Rows at both ends and around the one holding element 2**31."""
    middle = 2**31 // row_elements
    picked = [0, 1, middle - 1, middle, middle + 1, count - 2, count - 1]
    return np.unique(np.clip(picked, 0, count - 1))


@pytest.fixture(scope="module")
def buffer() -> np.ndarray:
    return np.full(ELEMENTS, np.nan, dtype=np.float32)


def test_a_gram_matrix_over_2_31_elements(buffer):
    n, m = 2**16, ELEMENTS // 2**16
    rng = np.random.default_rng(0)
    x, y = rng.random((n, 2), dtype=np.float32), rng.random((m, 2), dtype=np.float32)
    k = kernelkit.rbf_kernel(x, y, gamma=0.5, out=buffer.reshape(n, m))
    assert k.shape == (n, m)
    assert k.size > 2**31
    rows = boundary_indices(n, m)
    d2 = ((x[rows, None, :].astype(np.float64) - y[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(k[rows], np.exp(-0.5 * d2), rtol=1e-5, atol=1e-6)


def test_a_convolution_output_over_2_31_elements(buffer):
    h = w = 1024
    channels = ELEMENTS // (h * w)
    rng = np.random.default_rng(1)
    x = rng.random((1, 1, h, w), dtype=np.float32)
    weight = rng.random((channels, 1, 1, 1), dtype=np.float32)
    bias = rng.random(channels, dtype=np.float32)
    out = kernelkit.conv2d(x, weight, bias, out=buffer.reshape(1, channels, h, w))
    assert out.shape == (1, channels, h, w)
    assert out.size > 2**31
    picked = boundary_indices(channels, h * w)
    expected = (
        weight[picked, 0, 0, 0, None, None].astype(np.float64) * x[0, 0] + bias[picked, None, None]
    )
    np.testing.assert_allclose(out[0, picked], expected, rtol=1e-6)
