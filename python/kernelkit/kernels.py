"""Named 2-D kernels for :func:`kernelkit.filter2d`: edge and gradient detectors, blurs, sharpening.

Every function returns a new float64 array meant for correlation (``filter2d``'s default,
``convolve=False``): the output at a pixel is ``sum(kernel * window)`` with the kernel laid over
the window centred on that pixel, without flipping. Orientation conventions: **x runs along the
columns (to the right) and y along the rows (downwards)**, as in array indexing. So ``sobel_x``
gives a positive response where intensity increases to the right and ``sobel_y`` where it
increases downwards; with ``convolve=True`` every gradient kernel flips its sign.

:func:`kernel_from_spec` builds a kernel from a ``NAME[:PARAM]`` string (what ``kernelkit apply
--kernel`` takes) and :data:`NAMED_KERNELS` lists the names.

Examples
--------
>>> from kernelkit import kernels
>>> kernels.sobel_x()
array([[-1.,  0.,  1.],
       [-2.,  0.,  2.],
       [-1.,  0.,  1.]])
>>> kernels.gaussian(1.0).shape, round(float(kernels.gaussian(1.0).sum()), 12)
((7, 7), 1.0)
>>> kernels.kernel_from_spec("box:2")
array([[0.25, 0.25],
       [0.25, 0.25]])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from ._validation import positive_int

__all__ = [
    "NAMED_KERNELS",
    "NamedKernel",
    "box",
    "emboss",
    "gaussian",
    "horizontal_edge",
    "kernel_from_spec",
    "laplacian",
    "prewitt_x",
    "prewitt_y",
    "scharr_x",
    "scharr_y",
    "sharpen",
    "sobel_x",
    "sobel_y",
    "vertical_edge",
]

Kernel = NDArray[np.float64]
Size = Union[int, tuple[int, int]]


def _kernel(rows: list[list[float]]) -> Kernel:
    return np.array(rows, dtype=np.float64)


def _gradient_x(side: float, centre: float) -> Kernel:
    """A 3x3 derivative along x (columns) smoothed along y with weights (side, centre, side)."""
    return np.outer([side, centre, side], [-1.0, 0.0, 1.0])


def horizontal_edge() -> Kernel:
    """Horizontal edges: positive where it is brighter above than below.

    The response is the row above a pixel minus the row below it: positive for bright-above-dark
    edges, negative for dark-above-bright ones, zero on flat areas.

    Examples
    --------
    >>> horizontal_edge()
    array([[ 1.,  1.,  1.],
           [ 0.,  0.,  0.],
           [-1., -1., -1.]])
    """
    return _kernel([[1, 1, 1], [0, 0, 0], [-1, -1, -1]])


def vertical_edge() -> Kernel:
    """Vertical edges: positive where it is brighter left than right.

    The response is the column left of a pixel minus the column right of it: positive for
    bright-left-of-dark edges, negative for dark-left-of-bright ones, zero on flat areas.

    Examples
    --------
    >>> vertical_edge()
    array([[ 1.,  0., -1.],
           [ 1.,  0., -1.],
           [ 1.,  0., -1.]])
    """
    return _kernel([[1, 0, -1], [1, 0, -1], [1, 0, -1]])


def sobel_x() -> Kernel:
    """Sobel gradient along x: positive where intensity increases to the right.

    It detects vertical edges; on a linear ramp it gives 8x the derivative (smoothing weights
    (1, 2, 1) along y).
    """
    return _gradient_x(1.0, 2.0)


def sobel_y() -> Kernel:
    """Sobel gradient along y: positive where intensity increases downwards.

    It detects horizontal edges; on a linear ramp it gives 8x the derivative (smoothing weights
    (1, 2, 1) along x).
    """
    return _gradient_x(1.0, 2.0).T.copy()


def scharr_x() -> Kernel:
    """Scharr gradient along x: positive where intensity increases to the right.

    Like Sobel but more rotation invariant (smoothing weights (3, 10, 3) along y); 32x the
    derivative on a linear ramp.
    """
    return _gradient_x(3.0, 10.0)


def scharr_y() -> Kernel:
    """Scharr gradient along y: positive where intensity increases downwards.

    Smoothing weights (3, 10, 3) along x; 32x the derivative on a linear ramp.
    """
    return _gradient_x(3.0, 10.0).T.copy()


def prewitt_x() -> Kernel:
    """Prewitt gradient along x: positive where intensity increases to the right.

    Unweighted smoothing along y; 6x the derivative on a linear ramp.
    """
    return _gradient_x(1.0, 1.0)


def prewitt_y() -> Kernel:
    """Prewitt gradient along y: positive where intensity increases downwards.

    Unweighted smoothing along x; 6x the derivative on a linear ramp.
    """
    return _gradient_x(1.0, 1.0).T.copy()


def laplacian(diagonal: bool = False) -> Kernel:
    """Laplacian: negative on bright spots and lines, positive on dark ones, zero on ramps.

    The discrete sum of second derivatives marks blobs, thin lines and the two sides of every
    edge, and is zero on flat areas and linear ramps. ``diagonal=True`` adds the diagonal
    neighbours (the 8-neighbour form).

    Examples
    --------
    >>> laplacian()
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    if diagonal:
        return _kernel([[1, 1, 1], [1, -8, 1], [1, 1, 1]])
    return _kernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]])


def gaussian(sigma: float, size: int | None = None) -> Kernel:
    """Gaussian blur, normalised to sum 1.

    A low-pass filter that removes detail finer than about ``sigma`` pixels. It is separable (an
    outer product of two 1-D Gaussians), so ``filter2d`` applies it as two 1-D passes.

    ``size`` (odd or even; default ``2 * ceil(3 * sigma) + 1``) is the side of the square kernel;
    the Gaussian is centred on the middle of it.

    Examples
    --------
    >>> gaussian(0.5).shape
    (5, 5)
    >>> gaussian(0.5, size=3).round(4)
    array([[0.0113, 0.0838, 0.0113],
           [0.0838, 0.6193, 0.0838],
           [0.0113, 0.0838, 0.0113]])
    """
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise TypeError(f"sigma: expected a real number, got {sigma!r}") from None
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"sigma: must be a finite number > 0, got {sigma!r}")
    n = 2 * math.ceil(3 * s) + 1 if size is None else positive_int(size, "size")
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2
    g = np.exp(-0.5 * (x / s) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def box(size: Size) -> Kernel:
    """Box blur: the mean of a window, normalised to sum 1.

    ``size`` is the side of a square window, or ``(rows, cols)``.

    Examples
    --------
    >>> box((1, 4))
    array([[0.25, 0.25, 0.25, 0.25]])
    """
    if np.ndim(size) == 0:
        rows = cols = positive_int(size, "size")
    else:
        try:
            rows_value, cols_value = size  # type: ignore[misc]
        except (TypeError, ValueError):
            raise TypeError(f"size: expected an int or (rows, cols), got {size!r}") from None
        rows, cols = positive_int(rows_value, "size"), positive_int(cols_value, "size")
    return np.full((rows, cols), 1.0 / (rows * cols))


def sharpen() -> Kernel:
    """Sharpening: amplifies edges and fine detail, keeps flat areas.

    The pixel minus the 4-neighbour Laplacian; the kernel sums to 1.
    """
    return _kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])


def emboss() -> Kernel:
    """Emboss: relief shading, brighter where intensity increases towards the bottom right.

    The pixel plus a diagonal gradient, so edges look lit from one side; the kernel sums to 1.
    """
    return _kernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


# --------------------------------------------------------------------------------------------
# Names for the command line
# --------------------------------------------------------------------------------------------


def _no_parameter(make: Callable[[], Kernel]) -> Callable[[str | None], Kernel]:
    def build(param: str | None) -> Kernel:
        if param is not None:
            raise ValueError(f"kernel: {make.__name__} takes no parameter, got {param!r}")
        return make()

    return build


def _laplacian_from(param: str | None) -> Kernel:
    if param not in (None, "diagonal"):
        raise ValueError(f"kernel: laplacian takes no parameter or 'diagonal', got {param!r}")
    return laplacian(diagonal=param == "diagonal")


def _number(param: str | None, name: str, cast: Callable[[str], Any]) -> Any:
    if param is None:
        raise ValueError(f"kernel: {name} needs a parameter, e.g. {name}:3")
    try:
        return cast(param)
    except ValueError:
        raise ValueError(f"kernel: bad parameter {param!r} for {name}") from None


def _gaussian_from(param: str | None) -> Kernel:
    return gaussian(_number(param, "gaussian", float))


def _box_from(param: str | None) -> Kernel:
    return box(_number(param, "box", int))


@dataclass(frozen=True)
class NamedKernel:
    """A kernel the command line knows by name: how to build it and what its parameter means."""

    function: Callable[..., Kernel]
    build: Callable[[str | None], Kernel]
    parameter: str = ""

    @property
    def summary(self) -> str:
        """The first sentence of the function's docstring: what the kernel detects."""
        return (self.function.__doc__ or "").strip().split("\n")[0].rstrip(".")


NAMED_KERNELS: dict[str, NamedKernel] = {
    f.__name__: NamedKernel(f, _no_parameter(f))
    for f in (
        horizontal_edge,
        vertical_edge,
        sobel_x,
        sobel_y,
        scharr_x,
        scharr_y,
        prewitt_x,
        prewitt_y,
        sharpen,
        emboss,
    )
}
NAMED_KERNELS["laplacian"] = NamedKernel(laplacian, _laplacian_from, "[:diagonal]")
NAMED_KERNELS["gaussian"] = NamedKernel(gaussian, _gaussian_from, ":SIGMA")
NAMED_KERNELS["box"] = NamedKernel(box, _box_from, ":SIZE")


def kernel_from_spec(spec: str) -> Kernel:
    """The kernel named by ``NAME[:PARAM]``, e.g. ``"sobel_x"``, ``"gaussian:1.5"``, ``"box:5"``
    or ``"laplacian:diagonal"``; ValueError for an unknown name or a bad parameter."""
    name, sep, param = spec.partition(":")
    entry = NAMED_KERNELS.get(name.strip().lower())
    if entry is None:
        raise ValueError(
            f"kernel: unknown name {name!r}; expected one of {', '.join(sorted(NAMED_KERNELS))}"
        )
    return entry.build(param.strip() if sep else None)
