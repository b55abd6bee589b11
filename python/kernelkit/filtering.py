"""Classic image filtering with a small 2-D kernel, with scipy.ndimage's semantics.

:func:`filter2d` gives what ``scipy.ndimage.correlate`` (``convolve=False``) and
``scipy.ndimage.convolve`` (``convolve=True``) give for the same mode, cval and origin, to float
rounding, on gray, multi-channel and batched images; :func:`filter2d_separable` applies a kernel
given by its two 1-D factors. All argument normalisation lives here: image shapes and dtypes,
boundary-mode names, scipy's origin and flip rules, the check for separable (rank-1) kernels. The
C++ core receives C-contiguous (N, H, W, C) images and a float64 kernel.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from ._threads import resolve_n_threads
from ._validation import c_aligned, check_out, int_pair, real_array, real_number, result_float_dtype

__all__ = ["BOUNDARY_MODES", "filter2d", "filter2d_separable"]

FloatArray = NDArray[Union[np.float32, np.float64]]
Origin = Union[int, tuple[int, int]]

# scipy.ndimage's names (the grid-* names are its synonyms for filters) and the core's codes.
BOUNDARY_MODES: dict[str, int] = {
    "reflect": 0,
    "constant": 1,
    "nearest": 2,
    "mirror": 3,
    "wrap": 4,
    "grid-mirror": 0,
    "grid-constant": 1,
    "grid-wrap": 4,
}
# scipy.ndimage leaves out the taps with |weight| <= DBL_EPSILON; so does the core.
_TAP_THRESHOLD = float(np.finfo(np.float64).eps)
# Factors whose outer product is off by more than this (relative to the largest weight) are not
# "exact to float rounding": the kernel is then applied as a 2-D kernel.
_RANK_ONE_RTOL = 8 * float(np.finfo(np.float64).eps)
# Two 1-D passes pay an extra write and read of every row, so they need to save this many taps
# per pixel (measured on 2048x2048 float32, one thread: a 3x3 box, 9 taps against 6, is 5% faster
# in one pass; a 4x4 box, 16 against 8, 25% faster in two).
_SEPARABLE_MIN_SAVED_TAPS = 5


def _image_batch(image: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
    """(the image as an array, a C-contiguous (N, H, W, C) view or copy in the compute dtype)."""
    arr = real_array(image, "image")
    if arr.ndim == 2:
        batch = arr[np.newaxis, :, :, np.newaxis]
    elif arr.ndim == 3:
        batch = arr[np.newaxis]
    elif arr.ndim == 4:
        batch = arr
    else:
        raise ValueError(
            "image: expected (H, W), (H, W, C) or (N, H, W, C), got shape "
            f"{arr.shape} (a batch of gray images is (N, H, W, 1))"
        )
    return arr, c_aligned(batch, dtype=result_float_dtype(arr.dtype))


def _weights(values: ArrayLike, name: str, ndim: int) -> NDArray[np.float64]:
    """Kernel weights as a C-contiguous float64 array with ``ndim`` non-empty axes."""
    arr = real_array(values, name)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: must not be empty, got shape {arr.shape}")
    return c_aligned(arr, dtype=np.float64)


def _mode_code(mode: Any) -> int:
    if not isinstance(mode, str) or mode not in BOUNDARY_MODES:
        raise ValueError(
            "mode: expected 'reflect', 'constant', 'nearest', 'mirror' or 'wrap' (or scipy's "
            f"synonyms 'grid-mirror', 'grid-constant', 'grid-wrap'), got {mode!r}"
        )
    return BOUNDARY_MODES[mode]


def _anchor(size: int, origin: int, convolve: bool, axis: str) -> int:
    """The kernel element (after the flip when convolving) laid over each output pixel.

    scipy.ndimage's rule: element ``size // 2 + origin``, with ``-(size // 2) <= origin <=
    (size - 1) // 2``. ``convolve=True`` flips the kernel, negates the origin and, for an even
    size, moves it one more step back, so that the flipped kernel covers the same pixels.
    """
    even = 1 - size % 2
    shift = -origin - even if convolve else origin
    lo, hi = -(size // 2), (size - 1) // 2
    if not lo <= shift <= hi:
        allowed = (-hi - even, -lo - even) if convolve else (lo, hi)
        raise ValueError(
            f"origin: {origin} along {axis} does not fit a kernel of size {size}"
            f"{' with convolve=True' if convolve else ''}; expected "
            f"{allowed[0]} <= origin <= {allowed[1]}"
        )
    return size // 2 + shift


def _taps(weights: NDArray[np.float64]) -> NDArray[np.bool_]:
    """The weights the core applies (NaN included)."""
    return ~(np.abs(weights) <= _TAP_THRESHOLD)


def _rank_one_factors(
    kernel: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(col, row) with ``outer(col, row) == kernel`` to float64 rounding and the same taps, where
    two 1-D passes do fewer multiply-adds per pixel than the 2-D kernel; else None."""
    magnitude = np.abs(kernel)
    if not np.all(np.isfinite(kernel)) or magnitude.max() == 0.0:
        return None
    p, q = np.unravel_index(np.argmax(magnitude), kernel.shape)
    col = kernel[:, q].copy()
    row = kernel[p, :] / kernel[p, q]
    if np.max(np.abs(np.outer(col, row) - kernel)) > _RANK_ONE_RTOL * magnitude.max():
        return None
    col_taps, row_taps = _taps(col), _taps(row)
    if not np.array_equal(np.outer(col_taps, row_taps), _taps(kernel)):
        return None
    if col_taps.sum() + row_taps.sum() + _SEPARABLE_MIN_SAVED_TAPS > _taps(kernel).sum():
        return None
    return col, row


def _filter(
    image: ArrayLike,
    weights: tuple[NDArray[np.float64], ...],
    mode: str,
    cval: float,
    origin: Origin,
    convolve: bool,
    out: NDArray[Any] | None,
    n_threads: int | None,
) -> FloatArray:
    """Runs the core on ``weights``: (kernel,) for a 2-D kernel or (col, row) for two passes."""
    mode_code = _mode_code(mode)
    cval = real_number(cval, "cval")
    if not isinstance(convolve, (bool, np.bool_)):
        raise TypeError(f"convolve: expected a bool, got {convolve!r}")
    kh, kw = weights[0].shape if len(weights) == 1 else (weights[0].size, weights[1].size)
    oy, ox = int_pair(origin, "origin")
    anchor = (_anchor(kh, oy, convolve, "rows"), _anchor(kw, ox, convolve, "columns"))
    if convolve:
        weights = tuple(c_aligned(np.flip(w)) for w in weights)
    arr, batch = _image_batch(image)
    threads = resolve_n_threads(n_threads)
    result = check_out(out, arr.shape, batch.dtype.type, [image, arr, batch], "image")
    target = result.reshape(batch.shape)
    if len(weights) == 1:
        _core.filter2d(batch, weights[0], target, anchor, mode_code, cval, threads)
    else:
        col, row = weights
        _core.filter2d_separable(batch, row, col, target, anchor, mode_code, cval, threads)
    return result


def filter2d(
    image: ArrayLike,
    kernel: ArrayLike,
    *,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: Origin = 0,
    convolve: bool = False,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Filter an image with a 2-D kernel, as ``scipy.ndimage.correlate`` / ``convolve`` do.

    Each output pixel is ``sum(kernel * window)`` over the window of the image under the kernel
    (correlation: no flip); ``convolve=True`` flips the kernel first. Outside the image the
    boundary ``mode`` extends it, as many times as a large kernel needs.

    Parameters
    ----------
    image : array_like
        (H, W) gray, (H, W, C) with every channel filtered on its own, or a batch (N, H, W, C).
        A 3-D image is always (H, W, C): give a batch of gray images as (N, H, W, 1).
    kernel : array_like
        2-D, any size (even sizes too). A rank-1 (separable) kernel, such as a Gaussian or a
        box, is detected and applied as two 1-D passes where that is exact to float rounding and
        saves work.
    mode : str
        ``"reflect"`` (d c b a | a b c d | d c b a), ``"constant"`` (``cval`` outside),
        ``"nearest"`` (a a a | a b c d | d d d), ``"mirror"`` (d c b | a b c d | c b a) or
        ``"wrap"`` (a b c d | a b c d | a b c d); scipy's synonyms ``"grid-mirror"``,
        ``"grid-constant"`` and ``"grid-wrap"`` are accepted too.
    cval : float
        The value outside the image with ``mode="constant"``.
    origin : int or (int, int)
        Shift of the kernel per axis (rows, columns): element ``k // 2 + origin`` lies over the
        output pixel, with ``-(k // 2) <= origin <= (k - 1) // 2``. With ``convolve=True`` the
        origin follows ``scipy.ndimage.convolve`` (negated, and one step more for even sizes).
    convolve : bool
        Flip the kernel (true convolution) instead of correlating.
    out : ndarray, optional
        C-contiguous result of the image's shape and the result dtype.
    n_threads : int, optional
        ``None``: OpenMP's current maximum; negative: cores + 1 + n_threads.

    Returns
    -------
    ndarray
        The image's shape; float32 for float32 and float16 images, float64 for every other real
        dtype (integers and bool included).

    Notes
    -----
    As scipy.ndimage does, weights with ``|w| <= 2.2e-16`` (float64 epsilon) are left out, so a
    NaN under a zero weight does not spread; NaN and Inf under the other weights propagate. A NaN
    weight gives NaN (scipy leaves it out). float32 images are summed in float32 (scipy sums in
    float64), so they agree with scipy to float32 rounding. Subnormal pixel values (float32 below
    1.2e-38, float64 below 2.2e-308) and subnormal intermediate sums count as zero inside the call,
    so that they cannot slow it down (flush-to-zero and denormals-are-zero on every thread of the
    call; the caller's floating-point mode is restored afterwards).

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> image = np.zeros((4, 5), dtype=np.float32)
    >>> image[:2] = 1.0                       # bright above dark
    >>> kernelkit.filter2d(image, kernelkit.kernels.horizontal_edge(), mode="nearest")
    array([[0., 0., 0., 0., 0.],
           [3., 3., 3., 3., 3.],
           [3., 3., 3., 3., 3.],
           [0., 0., 0., 0., 0.]], dtype=float32)
    >>> kernelkit.filter2d(np.arange(5.0).reshape(1, 5), [[1.0, 2.0]], mode="constant")
    array([[ 0.,  2.,  5.,  8., 11.]])
    """
    k = _weights(kernel, "kernel", 2)
    factors = _rank_one_factors(k)
    return _filter(
        image, (k,) if factors is None else factors, mode, cval, origin, convolve, out, n_threads
    )


def filter2d_separable(
    image: ArrayLike,
    row: ArrayLike,
    col: ArrayLike,
    *,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: Origin = 0,
    convolve: bool = False,
    out: NDArray[Any] | None = None,
    n_threads: int | None = None,
) -> FloatArray:
    """Filter with the separable kernel ``np.outer(col, row)`` as a row pass and a column pass.

    The result equals ``filter2d(image, np.outer(col, row), ...)`` to float rounding, in about
    ``len(row) + len(col)`` instead of ``len(row) * len(col)`` multiply-adds per pixel. ``row``
    runs along the columns (x, length KW) and ``col`` along the rows (y, length KH); weights with
    ``|w| <= 2.2e-16`` are left out of each pass. Every other argument is as in :func:`filter2d`
    (``origin`` and ``convolve`` apply to the (KH, KW) kernel).

    With Inf or NaN among the weights or pixels the result is that of the two passes in IEEE
    arithmetic: the row pass along every row of the extended image, then the column pass over its
    results. Where infinities meet this can differ from the 2-D kernel's sum (a column of row-pass
    results ``+inf`` and ``-inf`` gives NaN where the 2-D terms might not cancel, and the other way
    round); :func:`filter2d` never splits a kernel holding Inf or NaN.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> image = np.arange(12.0).reshape(3, 4)
    >>> kernelkit.filter2d_separable(image, [1.0, 1.0, 1.0], [1.0], mode="constant")
    array([[ 1.,  3.,  6.,  5.],
           [ 9., 15., 18., 13.],
           [17., 27., 30., 21.]])
    """
    weights = (_weights(col, "col", 1), _weights(row, "row", 1))
    return _filter(image, weights, mode, cval, origin, convolve, out, n_threads)
