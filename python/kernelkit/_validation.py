"""Validation shared by the public functions."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def check_out(
    out: NDArray[Any] | None,
    shape: tuple[int, ...],
    dtype: type,
    inputs: list[Any],
    input_names: str,
) -> NDArray[Any]:
    """``out`` validated as the result array (or a new one): shape, dtype, layout, no aliasing."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype or out.shape != shape:
        raise ValueError(
            f"out: expected shape {shape} and dtype {np.dtype(dtype).name}, "
            f"got shape {out.shape} and dtype {out.dtype.name}"
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out: must be a writeable C-contiguous array")
    if any(isinstance(a, np.ndarray) and np.shares_memory(out, a) for a in inputs):
        raise ValueError(f"out: must not share memory with {input_names}")
    return out


def real_number(value: Any, name: str) -> float:
    """``value`` as a float, or TypeError naming ``name``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number, got {value!r}") from None
