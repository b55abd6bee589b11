"""The machine and libraries a benchmark ran on, and the warnings that make timings doubtful."""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import os
import platform
from pathlib import Path
from types import ModuleType
from typing import Any

from .._config import config

#: OpenBLAS reads these when it is loaded; they slow NumPy's GEMM down on some CPUs.
SLOW_OPENBLAS_VARS: tuple[str, ...] = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

#: The distributions whose versions a report lists (those not installed are listed as null).
LIBRARIES: tuple[str, ...] = (
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "onnx",
    "onnxruntime",
    "opencv-python-headless",
    "opencv-python",
    "keras",
    "threadpoolctl",
    "matplotlib",
    "rich",
)

_CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


def optional_import(name: str) -> ModuleType | None:
    """The module ``name``, or None when it (or one of its dependencies) is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpuinfo_field(name: str) -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    """The SIMD-related CPU flags of /proc/cpuinfo (sse*, avx*, fma, f16c, amx*)."""
    flags = (_cpuinfo_field("flags") or "").split()
    return sorted(f for f in flags if f.startswith(("sse", "ssse", "avx", "fma", "f16c", "amx")))


def cache_sizes() -> dict[str, str]:
    """Per-core cache sizes from sysfs, e.g. ``{"L1d": "32K", "L2": "512K", "L3": "32768K"}``."""
    sizes = {}
    for index in sorted(_CACHE_DIR.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        sizes[f"L{level}{suffix}"] = size
    return sizes


def load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def load_warning() -> str | None:
    """A warning when other processes keep the CPUs busy (the 1-minute load average >= 0.5)."""
    load = load_average()
    if load is None or load[0] < 0.5:
        return None
    return (
        f"load average {load[0]:.2f} on {usable_cpus()} CPUs: other processes are running "
        "(a shared machine?), so every timing and ratio is noisy; rerun on an idle machine"
    )


def openblas_env_warning(command: str = "kernelkit bench ...") -> str | None:
    """A warning when OpenBLAS tuning variables that slow NumPy down are set."""
    present = [f"{name}={os.environ[name]}" for name in SLOW_OPENBLAS_VARS if name in os.environ]
    if not present:
        return None
    return (
        f"{' '.join(present)} is set: it slows NumPy's OpenBLAS (every BLAS-based peer and the "
        "GEMM ceiling) and cannot be undone once loaded; rerun as "
        f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE {command}"
    )


def run_warnings() -> list[str]:
    """The warnings that apply to a run started now."""
    return [w for w in (openblas_env_warning(), load_warning()) if w is not None]


def library_versions() -> dict[str, str | None]:
    """The installed version of each of LIBRARIES (None where not installed)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def threadpools() -> list[dict[str, Any]]:
    """threadpoolctl's view of every BLAS and OpenMP library loaded (empty without it)."""
    threadpoolctl = optional_import("threadpoolctl")
    return [] if threadpoolctl is None else list(threadpoolctl.threadpool_info())


def machine_info() -> dict[str, Any]:
    """The facts every report records: CPU, caches, SIMD path, load, platform and versions."""
    kk = config()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count() or 1,
        "usable_cpus": usable_cpus(),
        "caches": cache_sizes(),
        "simd_path": str(kk["simd"]),
        "simd_supported": [str(p) for p in kk["simd_supported"]],
        "kernelkit": str(kk["version"]),
        "compiler": str(kk.get("compiler", "")),
        "load_average": load_average(),
        "openblas_env": {k: os.environ[k] for k in SLOW_OPENBLAS_VARS if k in os.environ},
        "warnings": run_warnings(),
        "libraries": library_versions(),
        "threadpools": threadpools(),
    }
