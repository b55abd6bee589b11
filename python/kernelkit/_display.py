"""Filter responses mapped to [0, 1] for an image file, with a sentence saying how."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["SCALINGS", "auto_scaling", "scale_for_display"]

SCALINGS = ("auto", "symmetric", "minmax", "clip")
# A kernel whose weights sum to less than this fraction of sum(|w|) is a derivative (zero-sum).
_ZERO_SUM_RTOL = 1e-9


def auto_scaling(kernel: NDArray[Any]) -> str:
    """ "symmetric" for a zero-sum kernel (edges, gradients, Laplacian: signed responses around 0),
    "clip" otherwise (blurs, sharpening: responses on the image's own [0, 1] scale)."""
    magnitude = float(np.abs(kernel).sum())
    return "symmetric" if abs(float(kernel.sum())) <= _ZERO_SUM_RTOL * magnitude else "clip"


def scale_for_display(values: NDArray[Any], scaling: str) -> tuple[NDArray[np.float64], str]:
    """(``values`` mapped to [0, 1], a sentence saying how) for one of :data:`SCALINGS` but auto.

    symmetric: ``[-L, L] -> [0, 1]`` with L = max |value|, so 0 is mid-gray and the sign stays
    visible; minmax: ``[min, max] -> [0, 1]``; clip: values as they are, clipped to [0, 1]. The
    limits come from the finite values; NaN is written as 0.

    Examples
    --------
    >>> scaled, how = scale_for_display(np.array([-2.0, 0.0, 1.0]), "symmetric")
    >>> scaled, how
    (array([0.  , 0.5 , 0.75]), 'symmetric: [-2, 2] -> [0, 1], 0 is mid-gray')
    """
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if scaling == "symmetric":
        limit = float(np.max(np.abs(finite), initial=0.0))
        scaled = 0.5 + 0.5 * v / limit if limit > 0 else np.where(np.isnan(v), v, 0.5)
        return scaled, f"symmetric: [{-limit:.4g}, {limit:.4g}] -> [0, 1], 0 is mid-gray"
    if scaling == "minmax":
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        scaled = (v - lo) / (hi - lo) if hi > lo else np.where(np.isnan(v), v, 0.0)
        return scaled, f"min-max: [{lo:.4g}, {hi:.4g}] -> [0, 1]"
    if scaling == "clip":
        outside = float(np.mean((finite < 0) | (finite > 1))) if finite.size else 0.0
        how = f"clip: values as they are, {100 * outside:.1f}% clipped to [0, 1]"
        return np.clip(v, 0.0, 1.0), how
    raise ValueError(f"scaling: expected one of {', '.join(SCALINGS[1:])}, got {scaling!r}")
