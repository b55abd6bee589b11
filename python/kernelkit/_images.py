"""Reading and writing image files for the command line and the plotting functions.

Images are float arrays scaled to [0, 1], (H, W) for gray and (H, W, C) for colour. Pillow
(which matplotlib depends on) reads and writes them: PNG, JPEG and the other formats it knows.
"""

from __future__ import annotations

import os
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

__all__ = ["as_channels", "read_image", "write_image"]

PathLike = Union[str, "os.PathLike[str]"]

# ITU-R BT.601 luma, the weights Pillow's "L" conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114])


def read_image(path: PathLike) -> NDArray[np.float64]:
    """The image at ``path`` as float64 in [0, 1]: (H, W) for gray, (H, W, 3|4) for colour.

    Raises FileNotFoundError if the file is missing and ValueError naming the file if it is
    not an image that can be read.
    """
    from PIL import Image, UnidentifiedImageError

    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: no such file")
    try:
        with Image.open(name) as img:
            img.load()
            mode = img.mode
            pixels = np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{name}: not a readable image ({exc})") from None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        scale = 65535.0
    elif pixels.dtype == np.bool_:
        scale = 1.0
    else:
        scale = float(np.iinfo(pixels.dtype).max) if pixels.dtype.kind in "ui" else 1.0
    return pixels.astype(np.float64) / scale


def as_channels(image: NDArray[Any], channels: int) -> NDArray[Any]:
    """``image`` (H, W) or (H, W, C) converted to ``channels`` channels, (H, W, channels).

    Gray -> colour repeats the plane; colour -> gray uses BT.601 luma; an alpha channel is dropped.
    """
    img = image[..., np.newaxis] if image.ndim == 2 else image
    if img.ndim != 3:
        raise ValueError(f"image: expected (H, W) or (H, W, C), got shape {image.shape}")
    have = img.shape[-1]
    if have in (2, 4):  # gray+alpha, RGBA
        img, have = img[..., : have - 1], have - 1
    if have == channels:
        return img
    if have == 1:
        return np.repeat(img, channels, axis=-1)
    if have == 3 and channels == 1:
        gray: NDArray[Any] = img @ _LUMA.astype(img.dtype)
        return gray[..., np.newaxis]
    raise ValueError(f"image: cannot convert {have} channels to {channels}")


def write_image(path: PathLike, image: NDArray[Any]) -> None:
    """Write ``image`` (values in [0, 1]; (H, W) gray or (H, W, 3|4) colour) as 8-bit pixels to
    ``path``, in the format its suffix names (png, jpg, ...)."""
    from PIL import Image

    pixels = np.rint(np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    Image.fromarray(pixels).save(os.fspath(path))
