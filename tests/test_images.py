"""Image file helpers used by the command line and the plots."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit._images import as_channels, read_image, write_image


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 3), (6, 9, 4)])
def test_write_then_read_is_8_bit_exact(tmp_path, shape):
    rng = np.random.default_rng(0)
    image = rng.random(shape)
    path = tmp_path / "image.png"
    write_image(path, image)
    back = read_image(path)
    assert back.shape == shape
    assert np.abs(back - image).max() <= 0.5 / 255 + 1e-12


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"bad\.png: not a readable image"):
        read_image(bad)


def test_channel_conversions():
    rgb = np.random.default_rng(1).random((4, 3, 3))
    gray = as_channels(rgb, 1)
    assert gray.shape == (4, 3, 1)
    np.testing.assert_allclose(gray[..., 0], rgb @ [0.299, 0.587, 0.114])
    assert as_channels(gray[..., 0], 3).shape == (4, 3, 3)
    rgba = np.concatenate([rgb, np.ones((4, 3, 1))], axis=-1)
    np.testing.assert_array_equal(as_channels(rgba, 3), rgb)
    with pytest.raises(ValueError, match="cannot convert 3 channels to 2"):
        as_channels(rgb, 2)
