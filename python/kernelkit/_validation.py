"""Validation shared by the public functions."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Literal

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
    if not out.flags.c_contiguous or not out.flags.writeable or not out.flags.aligned:
        raise ValueError("out: must be a writeable, aligned, C-contiguous array")
    if any(isinstance(a, np.ndarray) and np.shares_memory(out, a) for a in inputs):
        raise ValueError(f"out: must not share memory with {input_names}")
    return out


def c_aligned(a: Any, dtype: Any = None) -> NDArray[Any]:
    """``a`` as a C-contiguous array of ``dtype`` with aligned elements, copied only where needed.

    The core's loads assume aligned elements; arrays unpickled from out-of-band buffers (as
    dask.distributed sends them) or made by ``np.frombuffer`` at an odd offset are not, and
    ``np.ascontiguousarray`` keeps them as they are.
    """
    if (
        isinstance(a, np.ndarray)
        and (dtype is None or a.dtype == dtype)
        and a.flags.c_contiguous
        and a.flags.aligned
    ):
        return a  # the common case, without np.require's few microseconds
    return np.require(a, dtype=dtype, requirements=["C", "A"])


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


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or outside its valid range.

    It is what scikit-learn's ``sklearn.utils._param_validation.InvalidParameterError`` is: a
    subclass of both ``ValueError`` and ``TypeError``, so ``except ValueError`` and
    ``except TypeError`` both catch it. The message names the parameter, the function and what the
    parameter accepts, worded as scikit-learn words it.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> try:
    ...     kernelkit.rbf_kernel(np.ones((2, 2)), gamma=-1.0)
    ... except kernelkit.InvalidParameterError as error:
    ...     print(error)
    The 'gamma' parameter of rbf_kernel must be a float in the range [0.0, inf) or None.
    Got -1.0 instead.
    >>> issubclass(kernelkit.InvalidParameterError, ValueError)
    True
    """


InvalidParameterError.__module__ = "kernelkit"  # its public home, as in tracebacks and pickles


def _is_real_scalar(value: Any) -> bool:
    """A Python or NumPy int or float (bool included, numpy.bool_ not): scikit-learn's Real
    numbers, less the ones its range check cannot compare (``fractions.Fraction``)."""
    return isinstance(value, (int, float, np.integer, np.floating))


@dataclass(frozen=True)
class RealInterval:
    """A range of real numbers as scikit-learn's ``Interval(Real, low, high, closed=...)``.

    ``None`` bounds are infinite and never included: ``[0, inf)`` refuses ``inf``; NaN is in no
    interval.
    """

    low: float | None
    high: float | None
    closed: Literal["left", "right", "both", "neither"]

    def __contains__(self, value: object) -> bool:
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number):
            return False
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if (number < low) if self.closed in ("left", "both") else (number <= low):
            return False
        return (number <= high) if self.closed in ("right", "both") else (number < high)

    def __str__(self) -> str:
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else float(self.low)
        high = "inf" if self.high is None else float(self.high)
        return f"a float in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class KernelParam:
    """One real parameter of a kernel: its name, default and valid values.

    ``none_ok``: ``None`` is valid (gamma's "1 / n_features"). ``array_ok``: a NumPy array is
    valid whatever it holds, as scikit-learn's hidden ``np.ndarray`` constraint on gamma allows;
    kernelkit takes those with one real element only. ``per_feature``: an array of one value per
    feature is valid too (an anisotropic length scale), each value in ``valid``.
    """

    name: str
    default: float | None
    valid: RealInterval
    none_ok: bool = False
    array_ok: bool = False
    per_feature: bool = False

    def describe(self) -> str:
        """What the parameter accepts, worded as scikit-learn's messages word it."""
        if self.per_feature:
            return f"{self.valid} or an array of such floats, one per feature"
        return f"{self.valid} or None" if self.none_ok else str(self.valid)


def _one_real_element(value: NDArray[Any]) -> float | None:
    if value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(()))
    return None


def _per_feature_values(param: KernelParam, value: Any, caller: str) -> NDArray[np.float64]:
    """A 1-D sequence of values for ``param``, each in its range, as float64."""
    values = np.asarray(value)
    if values.dtype.kind in "biuf" and all(v in param.valid for v in values.tolist()):
        return values.astype(np.float64)
    raise InvalidParameterError(
        f"The {param.name!r} parameter of {caller} must be {param.describe()}. "
        f"Got {value!r} instead."
    )


def check_kernel_param(
    param: KernelParam, value: Any, caller: str, *, ranges: bool
) -> float | NDArray[np.float64] | None:
    """``value`` checked against ``param`` for the function ``caller``: a float, None where
    ``param.none_ok``, or a 1-D float64 array of per-feature values where ``param.per_feature``
    (of any length: the caller compares it with the number of features); else
    :class:`InvalidParameterError`.

    ``ranges=True`` checks as scikit-learn's ``@validate_params`` does for a direct call (types and
    the valid range); ``ranges=False`` as its ``pairwise_kernels`` does, which skips the kernel's
    own validation and takes any real number the arithmetic can use (NaN, inf, negative).
    """
    if value is None and param.none_ok:
        return None
    if param.per_feature and not _is_real_scalar(value) and np.ndim(value) == 1:
        values = _per_feature_values(param, value, caller)
        return float(values[0]) if values.size == 1 else values
    if isinstance(value, np.ndarray) and (param.array_ok or not ranges):
        number = _one_real_element(value)
        if number is not None:
            return number
        raise InvalidParameterError(
            f"The {param.name!r} parameter of {caller} must be {param.describe()}, or an array "
            f"holding one real number (kernelkit does not broadcast arrays of parameters). "
            f"Got an array of shape {value.shape} and dtype {value.dtype} instead."
        )
    if _is_real_scalar(value):
        try:
            number = float(value)
        except OverflowError:
            number = None
        if number is not None and (not ranges or value in param.valid):
            return number
    if ranges:
        expected = param.describe()
    else:
        expected = "a real number or None" if param.none_ok else "a real number"
    raise InvalidParameterError(
        f"The {param.name!r} parameter of {caller} must be {expected}. Got {value!r} instead."
    )


def check_boolean(value: Any, name: str, caller: str) -> bool:
    """``value`` if it is a ``bool`` or ``numpy.bool_`` (scikit-learn's "boolean"; ``1`` is not),
    else :class:`InvalidParameterError`."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {caller} must be an instance of 'bool' or an instance of "
        f"'numpy.bool'. Got {value!r} instead."
    )


def check_int_or_none(value: Any, name: str, caller: str) -> int | None:
    """``value`` if it is None or an integer (bool and NumPy integers included, as scikit-learn's
    ``[Integral, None]``), else :class:`InvalidParameterError`."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    raise InvalidParameterError(
        f"The {name!r} parameter of {caller} must be an instance of 'int' or None. "
        f"Got {value!r} instead."
    )
