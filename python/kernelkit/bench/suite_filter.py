"""The filter suite: kernelkit.filter2d against NumPy, scipy.ndimage and OpenCV ("reflect")."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from .. import kernels
from ..filtering import filter2d
from .cases import Array, Call, Case, Methods, Suite, random_generator, register


@dataclass(frozen=True)
class FilterCase(Case):
    """A size x size image, uniform [0, 1), correlated with a k x k kernel in "reflect" mode
    (scipy's: the edge value repeated, OpenCV's BORDER_REFLECT, NumPy's pad "symmetric"):
    random N(0, 1) weights, or a separable Gaussian (sigma k / 6)."""

    size: int = 64
    k: int = 3
    gaussian: bool = False

    suite = "filter"

    @property
    def description(self) -> str:
        kind = "Gaussian" if self.gaussian else "random"
        return f"{self.size}x{self.size} {kind} {self.k}x{self.k}"

    @property
    def flops(self) -> float:
        """2 k^2 per pixel, the direct 2-D filter (a separable kernel needs fewer)."""
        return 2.0 * self.size**2 * self.k**2

    @property
    def bytes_moved(self) -> int:
        return 2 * self.size**2 * np.dtype(self.dtype).itemsize

    @property
    def tolerance(self) -> float:
        return 1e-5 if self.dtype == "float32" else 1e-12

    def inputs(self, seed: int) -> tuple[Array, Array]:
        rng = random_generator(seed, self)
        image = rng.random((self.size, self.size)).astype(self.dtype)
        if self.gaussian:
            kernel = kernels.gaussian(self.k / 6.0, size=self.k)
        else:
            kernel = rng.standard_normal((self.k, self.k))
        return image, np.asarray(kernel, dtype=self.dtype)

    def kernelkit(self, inputs: tuple[Array, Array], threads: int) -> Call:
        image, kernel = inputs
        return lambda: filter2d(image, kernel, mode="reflect", n_threads=threads)

    def peer_methods(self, peer: str, module: ModuleType, inputs: Any, threads: int) -> Methods:
        image, kernel = inputs
        if peer == "numpy":
            return {"shifted sums": lambda: numpy_filter(image, kernel)}
        if peer == "scipy":
            import scipy.ndimage

            correlate = scipy.ndimage.correlate
            return {"ndimage.correlate": lambda: correlate(image, kernel, mode="reflect")}
        if peer == "opencv":
            border = module.BORDER_REFLECT
            return {"filter2D": lambda: module.filter2D(image, -1, kernel, borderType=border)}
        return {}


def numpy_filter(image: Array, kernel: Array) -> Array:
    """The padded image, one multiply-add of a shifted view per kernel weight."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="symmetric")
    out = np.zeros_like(image)
    h, w = image.shape
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i : i + h, j : j + w]
    return out


FULL_CASES: tuple[FilterCase, ...] = (
    FilterCase("3x3-2048", size=2048, k=3),
    FilterCase("7x7-2048", size=2048, k=7),
    FilterCase("gauss15-2048", size=2048, k=15, gaussian=True),
)
QUICK_CASES: tuple[FilterCase, ...] = (
    FilterCase("3x3-256", size=256, k=3),
    FilterCase("7x7-256", size=256, k=7),
)

SUITE = register(
    Suite(
        "filter",
        "filter2d (one float image, mode reflect)",
        lambda quick: QUICK_CASES if quick else FULL_CASES,
        ("numpy", "scipy", "opencv"),
    )
)
