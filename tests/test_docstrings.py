"""The examples in the public docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "kernelkit",
    "kernelkit.pairwise",
    "kernelkit.conv",
    "kernelkit.kernels",
    "kernelkit.filtering",
    "kernelkit.kernel_sums",
    "kernelkit._display",
    "kernelkit._threads",
    "kernelkit._config",
    "kernelkit.plotting",
    "kernelkit.models._layer",
    "kernelkit.models.load",
    "kernelkit.models.npz",
    "kernelkit.models.safetensors_file",
    "kernelkit.models._tensor_bytes",
    "kernelkit.models.demo_model",
    "kernelkit.bench",
    "kernelkit.bench.timing",
    "kernelkit.bench.ceilings",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, restore_num_threads):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
