"""Shared fixtures: every supported SIMD path, thread-count restoration."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import kernelkit

SIMD_PATHS: list[str] = list(kernelkit.config()["simd_supported"])


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, switch pytest-benchmark (when installed) off before it warns.

    pytest-benchmark warns that it disables itself when xdist is active, and pyproject turns every
    warning into an error, which would abort ``pytest -n 2`` before any test runs. Its
    ``pytest_configure`` is ``trylast``, so this one runs first.
    """
    xdist_active = (
        config.getoption("dist", "no") not in ("no", None) or "PYTEST_XDIST_WORKER" in os.environ
    )
    if xdist_active and hasattr(config.option, "benchmark_disable"):
        config.option.benchmark_disable = True


@pytest.fixture(params=SIMD_PATHS, ids=SIMD_PATHS)
def simd_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per SIMD path this CPU supports; restore the previous path afterwards."""
    previous = kernelkit.simd_path()
    kernelkit.set_simd_path(request.param)
    try:
        assert kernelkit.simd_path() == request.param
        yield request.param
    finally:
        kernelkit.set_simd_path(previous)


@pytest.fixture
def restore_num_threads() -> Iterator[int]:
    """Give the current default thread count and restore it after the test."""
    previous = kernelkit.get_num_threads()
    try:
        yield previous
    finally:
        kernelkit.set_num_threads(previous)
