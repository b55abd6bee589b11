"""Arrays whose elements are not aligned to their size (np.frombuffer at an odd offset, or unpickled
from out-of-band buffers as dask.distributed sends them) give the results of aligned copies; an
unaligned out= is refused. Under .ci/sanitize (UBSan) a misaligned load in the core would fail."""

import numpy as np
import pytest

import kernelkit


def unaligned(a: np.ndarray) -> np.ndarray:
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    view[...] = a
    assert not view.flags.aligned
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_rbf_filter2d_on_unaligned_inputs(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 9)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    np.testing.assert_array_equal(
        kernelkit.conv2d(unaligned(x), unaligned(w), padding=1), kernelkit.conv2d(x, w, padding=1)
    )
    conv = kernelkit.Conv2d(unaligned(w), padding=1)
    np.testing.assert_array_equal(conv(unaligned(x)), conv(x))
    a = rng.standard_normal((7, 5)).astype(dtype)
    np.testing.assert_array_equal(kernelkit.rbf_kernel(unaligned(a)), kernelkit.rbf_kernel(a))
    image = rng.standard_normal((11, 13)).astype(dtype)
    k = rng.standard_normal((3, 3))
    np.testing.assert_array_equal(
        kernelkit.filter2d(unaligned(image), k), kernelkit.filter2d(image, k)
    )


def test_unaligned_out_is_refused():
    x = np.ones((4, 3), dtype=np.float64)
    out = unaligned(np.zeros((4, 4), dtype=np.float64))
    with pytest.raises(ValueError, match="out: must be a writeable, aligned"):
        kernelkit.rbf_kernel(x, out=out)
