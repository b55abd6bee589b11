"""Build and runtime configuration: version, SIMD paths, OpenMP, compiler, the result cache."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from . import _core
from ._threads import get_num_threads
from ._validation import int_at_least

__all__ = [
    "config",
    "output_cache",
    "set_output_cache",
    "set_simd_path",
    "show_config",
    "simd_path",
]


def config() -> dict[str, Any]:
    """Return kernelkit's configuration as a dict.

    Keys: ``version``, ``simd`` (path in use), ``simd_compiled``, ``simd_supported``, ``openmp``,
    ``openmp_version``, ``openmp_runtime``, ``num_threads`` (default thread count), ``compiler``,
    ``build_flags``; the CPU's cache sizes the blocking is derived from, read at import
    (``cache_l1d``, ``cache_l2``, ``cache_l3`` in bytes, ``caches_detected``: False when the
    operating system did not say and defaults are used); and what convolution plans choose from on
    the SIMD path in use: ``vector_bytes`` (its vector width), ``conv_gemm_tile`` (the GEMM's
    register tile, output pixels x output channels, float32), ``conv_gemm_max_task_pixels`` and
    ``conv_depth_block_bytes`` (the weight panels of one depth block, sized to the L1 data
    cache); :meth:`kernelkit.Conv2d.plan` says what one call chose. ``scratch_kept_bytes``: the
    scratch memory that threads which called kernelkit keep for their next call, now; at most
    ``scratch_limit_bytes`` in all (a call that would exceed it frees its scratch when it ends, and
    a thread's share is freed when it exits).

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.config()["simd"] in kernelkit.config()["simd_supported"]
    True
    """
    info: dict[str, Any] = dict(_core.build_info())
    info["num_threads"] = get_num_threads()
    info.update(_core.blocking_info())
    info.update(_core.scratch_info())
    return info


def show_config(file: TextIO | None = None) -> None:
    """Print :func:`config` as aligned ``key: value`` lines (to ``sys.stdout`` by default).

    Examples
    --------
    >>> import io, kernelkit
    >>> text = io.StringIO()
    >>> kernelkit.show_config(file=text)
    >>> text.getvalue().split(":")[0].strip()
    'version'
    """
    stream = sys.stdout if file is None else file
    info = config()
    width = max(len(k) for k in info)
    for key, value in info.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        print(f"{key:<{width}} : {shown}", file=stream)


def simd_path() -> str:
    """The instruction-set path the kernels run on: ``"baseline"``, ``"avx2"`` or ``"avx512"``.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.simd_path() in kernelkit.config()["simd_supported"]
    True
    """
    return str(_core.simd_path())


def set_simd_path(name: str) -> None:
    """Switch every kernel to another compiled SIMD path, process-wide.

    The best path the CPU supports is chosen at import (or the one named by the environment variable
    ``KERNELKIT_SIMD``); this switches later, e.g. to compare paths. A path this CPU lacks, or an
    unknown name, raises ``ValueError``.

    Examples
    --------
    >>> import kernelkit
    >>> best = kernelkit.simd_path()
    >>> kernelkit.set_simd_path("baseline")  # the portable kernels, which every CPU runs
    >>> kernelkit.simd_path()
    'baseline'
    >>> kernelkit.set_simd_path(best)
    """
    _core.set_simd_path(name)  # std::invalid_argument arrives as ValueError


def set_output_cache(max_bytes: int) -> None:
    """Set how many bytes of freed result arrays kernelkit keeps for reuse (0: none).

    Results of 16 MiB or more (and the packed weights of a one-shot :func:`conv2d` of 1 MiB or
    more) come from a small cache: when the last array using one is gone, its memory is kept (up
    to ``max_bytes`` in all, the oldest given back first) and handed to the next result that fits
    it, as onnxruntime's arena does. A fresh block of that size costs the
    operating system's page zeroing on first touch, which for a memory-bound call can take longer
    than the computation. The default limit is a sixteenth of the machine's memory, at least
    256 MiB and at most 1 GiB (``output_cache()["default_limit_bytes"]``); lowering it frees what
    no longer fits.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.set_output_cache(0)  # keep nothing: every result is freed with its array
    >>> kernelkit.output_cache()["held_bytes"]
    0
    >>> kernelkit.set_output_cache(kernelkit.output_cache()["default_limit_bytes"])
    """
    _core.set_output_cache_limit(int_at_least(max_bytes, 0, "max_bytes"))


def output_cache() -> dict[str, int]:
    """The result cache's state: ``limit_bytes`` (see :func:`set_output_cache`),
    ``default_limit_bytes`` (the limit at import), ``held_bytes`` (freed results kept now) and
    ``min_bytes`` (the smallest result that goes through it).

    Examples
    --------
    >>> import kernelkit
    >>> sorted(kernelkit.output_cache())
    ['default_limit_bytes', 'held_bytes', 'limit_bytes', 'min_bytes']
    """
    return {str(k): int(v) for k, v in _core.output_cache_info().items()}
