"""The result-buffer cache: large results are reused after their arrays are gone, never while any
view of them lives, and every function still writes its whole result into reused memory."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import kernelkit

MIN_BYTES = kernelkit.output_cache()["min_bytes"]
DEFAULT_LIMIT = kernelkit.output_cache()["default_limit_bytes"]


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache at the default limit and leaves it so."""
    limit = kernelkit.output_cache()["limit_bytes"]
    kernelkit.set_output_cache(0)
    kernelkit.set_output_cache(limit)
    yield
    kernelkit.set_output_cache(0)
    kernelkit.set_output_cache(limit)


def large_conv_inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x and weights whose float32 conv2d result is just over the cache's smallest size."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(MIN_BYTES / 4 / 16))) + 1
    return rng.standard_normal((1, 2, side, side), dtype=np.float32), rng.standard_normal(
        (16, 2, 1, 1), dtype=np.float32
    )


def test_a_freed_large_result_is_reused_and_fully_rewritten() -> None:
    x, w = large_conv_inputs(0)
    first = kernelkit.conv2d(x, w)
    address = first.ctypes.data
    first[...] = np.nan  # what a reused buffer holds must not leak into the next result
    del first
    assert kernelkit.output_cache()["held_bytes"] >= MIN_BYTES
    x2, w2 = large_conv_inputs(1)
    second = kernelkit.conv2d(x2, w2)
    assert second.ctypes.data == address
    assert kernelkit.output_cache()["held_bytes"] == 0
    expected = np.einsum("oc,nchw->nohw", w2[:, :, 0, 0], x2)
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-5)


def test_a_view_keeps_the_buffer_out_of_the_cache() -> None:
    x, w = large_conv_inputs(2)
    result = kernelkit.conv2d(x, w)
    view = result[0, 3]
    kept = view.copy()
    address = result.ctypes.data
    del result
    assert kernelkit.output_cache()["held_bytes"] == 0  # the view still uses it
    other = kernelkit.conv2d(*large_conv_inputs(3))
    assert other.ctypes.data != address
    assert_array_equal(view, kept)


def test_small_results_are_plain_numpy_arrays() -> None:
    y = kernelkit.rbf_kernel(np.ones((10, 3)))
    assert y.flags.owndata
    del y
    assert kernelkit.output_cache()["held_bytes"] == 0


@pytest.mark.parametrize("limit", [0, MIN_BYTES - 1])
def test_a_limit_below_the_result_keeps_nothing(limit: int) -> None:
    kernelkit.set_output_cache(limit)
    y = kernelkit.conv2d(*large_conv_inputs(4))
    del y
    assert kernelkit.output_cache() == {
        "limit_bytes": limit,
        "held_bytes": 0,
        "min_bytes": MIN_BYTES,
        "default_limit_bytes": DEFAULT_LIMIT,
    }


def test_lowering_the_limit_frees_what_is_held() -> None:
    y = kernelkit.conv2d(*large_conv_inputs(5))
    del y
    assert kernelkit.output_cache()["held_bytes"] > 0
    kernelkit.set_output_cache(0)
    assert kernelkit.output_cache()["held_bytes"] == 0


def test_the_oldest_buffer_goes_first_when_the_limit_is_reached() -> None:
    a = kernelkit.conv2d(*large_conv_inputs(6))
    b = kernelkit.conv2d(*large_conv_inputs(7))
    kernelkit.set_output_cache(a.nbytes + MIN_BYTES // 2)  # room for one of them
    address_b = b.ctypes.data
    del a
    del b  # a is given back to make room for b
    held = kernelkit.output_cache()["held_bytes"]
    assert MIN_BYTES <= held <= kernelkit.output_cache()["limit_bytes"]
    c = kernelkit.conv2d(*large_conv_inputs(8))
    assert c.ctypes.data == address_b


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [(-1, ValueError, "max_bytes: must be >= 0"), (1.5, TypeError, "max_bytes: expected an int")],
)
def test_set_output_cache_rejects_bad_limits(value: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        kernelkit.set_output_cache(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("channels", "images"), [(192, 1), (384, 4), (384, 16)])
def test_packed_weights_of_one_shot_calls_go_back_to_the_cache(channels: int, images: int) -> None:
    """A one-shot conv2d packs its weights in every call; packings of 1 MiB or more (the GEMM's or
    Winograd's, whichever the call runs) go to the cache when the call ends and are reused by the
    next call instead of being mapped (and page-faulted) anew."""
    rng = np.random.default_rng(channels + images)
    w = rng.standard_normal((channels, channels, 3, 3), dtype=np.float32)
    x = rng.standard_normal((images, channels, 8, 8), dtype=np.float32)
    first = kernelkit.conv2d(x, w, padding=1)
    held = kernelkit.output_cache()["held_bytes"]
    assert held >= 1 << 20  # the packing (the result is below the cache's size)
    for _ in range(2):
        assert_array_equal(kernelkit.conv2d(x, w, padding=1), first)
        assert kernelkit.output_cache()["held_bytes"] == held


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages: Linux")
def test_large_results_start_on_a_huge_page() -> None:
    """madvise(MADV_HUGEPAGE) applies only to ranges that start on a page: large results start on a
    2 MiB boundary, so that they get huge pages where the system offers them on request (as NumPy's
    large arrays do) instead of a page fault per 4 KiB."""
    y = kernelkit.conv2d(*large_conv_inputs(9))
    assert y.nbytes >= MIN_BYTES
    assert y.ctypes.data % (2 << 20) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the memory size is read on Linux")
def test_the_default_limit_is_a_sixteenth_of_memory_within_bounds() -> None:
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert min(max(memory // 16, 256 << 20), 1 << 30) == DEFAULT_LIMIT
