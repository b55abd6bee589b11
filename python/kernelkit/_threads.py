"""Thread counts for every compute function, with scikit-learn's ``n_threads`` semantics."""

from __future__ import annotations

import operator
import os

from . import _core

__all__ = ["get_num_threads", "resolve_n_threads", "set_num_threads"]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has affinity masks
        return os.cpu_count() or 1


def resolve_n_threads(n_threads: int | None) -> int:
    """Turn a user's ``n_threads`` into a positive thread count.

    ``None`` means OpenMP's current maximum for the calling thread (what ``OMP_NUM_THREADS``,
    :func:`set_num_threads` or ``threadpoolctl.threadpool_limits`` set); a negative value counts
    back from the number of usable cores (``-1``: all of them, ``-2``: all but one); ``0`` is an
    error.
    """
    if n_threads is None:
        return max(1, int(_core.get_max_threads()))
    try:
        n = operator.index(n_threads)
    except TypeError:
        raise TypeError(
            f"n_threads: expected an int or None, got {type(n_threads).__name__}"
        ) from None
    if n == 0:
        raise ValueError(
            "n_threads: 0 is invalid; use None for the default, or a positive/negative count"
        )
    if n < 0:
        return max(1, _cpu_count() + 1 + n)
    return n


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads kernelkit uses when ``n_threads=None``.

    This sets OpenMP's maximum for the calling thread, exactly as ``threadpoolctl`` does, so the two
    stay consistent. ``n`` follows the ``n_threads`` rules (negative counts back from the cores).

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.set_num_threads(1)
    >>> kernelkit.get_num_threads()
    1
    """
    _core.set_max_threads(resolve_n_threads(n))


def get_num_threads() -> int:
    """The number of threads a compute function uses with ``n_threads=None``.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.get_num_threads() >= 1
    True
    """
    return resolve_n_threads(None)
