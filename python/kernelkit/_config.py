"""Build and runtime configuration: version, SIMD paths, OpenMP, compiler."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from . import _core
from ._threads import get_num_threads

__all__ = ["config", "set_simd_path", "show_config", "simd_path"]


def config() -> dict[str, Any]:
    """Return kernelkit's configuration as a dict.

    Keys: ``version``, ``simd`` (path in use), ``simd_compiled``, ``simd_supported``, ``openmp``,
    ``openmp_version``, ``openmp_runtime``, ``num_threads`` (default thread count), ``compiler`` and
    ``build_flags``.

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.config()["simd"] in kernelkit.config()["simd_supported"]
    True
    """
    info: dict[str, Any] = dict(_core.build_info())
    info["num_threads"] = get_num_threads()
    return info


def show_config(file: TextIO | None = None) -> None:
    """Print :func:`config` as aligned ``key: value`` lines (to ``sys.stdout`` by default)."""
    stream = sys.stdout if file is None else file
    info = config()
    width = max(len(k) for k in info)
    for key, value in info.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{key:<{width}} : {shown}", file=stream)


def simd_path() -> str:
    """The instruction-set path the kernels run on: ``"baseline"``, ``"avx2"`` or ``"avx512"``."""
    return str(_core.simd_path())


def set_simd_path(name: str) -> None:
    """Switch every kernel to another compiled SIMD path, process-wide.

    The best path the CPU supports is chosen at import (or the one named by the environment variable
    ``KERNELKIT_SIMD``); this switches later, e.g. to compare paths. A path this CPU lacks, or an
    unknown name, raises ``ValueError``.
    """
    _core.set_simd_path(name)  # std::invalid_argument arrives as ValueError
