"""Validation shared by the public functions."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _core


def check_out(
    out: NDArray[Any] | None,
    shape: tuple[int, ...],
    dtype: type,
    inputs: list[Any],
    input_names: str,
) -> NDArray[Any]:
    """``out`` validated as the result array (or a new one, large ones from the result cache: see
    :func:`kernelkit.set_output_cache`): shape, dtype, layout, no aliasing."""
    if out is None:
        result: NDArray[Any] = _core.empty_result(shape, np.dtype(dtype))
        return result
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


def int_pair(value: Any, name: str) -> tuple[int, int]:
    """An int (for both axes) or a pair of ints, or TypeError/ValueError naming ``name``."""
    if isinstance(value, (int, np.integer)):  # the common case, without np.ndim's cost
        return int(value), int(value)
    try:
        pair = (
            (operator.index(value),) * 2
            if np.ndim(value) == 0
            else tuple(map(operator.index, value))
        )
    except TypeError:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return pair[0], pair[1]


def real_array(a: Any, name: str) -> NDArray[Any]:
    """``a`` as an array of real numbers; complex or other data is refused, naming ``name``."""
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex values are not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    return arr


def result_float_dtype(dtype: np.dtype[Any]) -> type[np.floating[Any]]:
    """The dtype computed and returned for input of ``dtype``: float32 for float32 and float16 (in
    either byte order), float64 for every other real type."""
    return np.float32 if dtype.kind == "f" and dtype.itemsize <= 4 else np.float64


def real_number(value: Any, name: str) -> float:
    """``value`` as a float, or TypeError naming ``name``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number, got {value!r}") from None


def one_of(value: Any, choices: tuple[str, ...], name: str) -> str:
    """``value`` if it is one of ``choices``, else ValueError naming ``name`` and the choices."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return str(value)


def int_at_least(value: Any, minimum: int, name: str) -> int:
    """``value`` as an int >= ``minimum``, or TypeError/ValueError naming ``name``."""
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {number}")
    return number


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, or TypeError/ValueError naming ``name``."""
    return int_at_least(value, 1, name)
