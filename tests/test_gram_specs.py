"""The one declaration per Gram kernel (cpp/include/kernelkit/gram_kernels.def) and what follows
from it: the public functions, their signatures and defaults, the registries and the exports."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import kernelkit
from kernelkit import _core, pairwise

SPECS = list(pairwise.KERNEL_SPECS.values())


def test_core_kinds_are_the_specs():
    assert set(_core.GramKind.__members__) == set(pairwise.CORE_SPECS)
    for name, spec in pairwise.CORE_SPECS.items():
        assert spec.core_kind == _core.GramKind.__members__[name]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_every_kernel_has_its_exported_function(spec):
    assert spec.function in pairwise.__all__
    assert spec.function in kernelkit.__all__
    assert getattr(kernelkit, spec.function) is getattr(pairwise, spec.function)


def test_exports_are_the_specs_functions():
    functions = {spec.function for spec in SPECS}
    assert set(pairwise.__all__) == functions | {"pairwise_kernels"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_signature_follows_the_spec(spec):
    parameters = inspect.signature(getattr(pairwise, spec.function)).parameters
    positional = [name for name, p in parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    expected = ["X", "Y"] + (["dense_output"] if spec.dense_output else [])
    assert positional == expected + [p.name for p in spec.params]
    for param in spec.params:
        assert parameters[param.name].default == param.default
    assert parameters["out"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["n_threads"].kind is inspect.Parameter.KEYWORD_ONLY


def test_registries_follow_the_specs():
    for metric, kernel in pairwise.KERNEL_METRICS.items():
        spec = pairwise.KERNEL_SPECS[kernel]
        assert metric in spec.metrics
        assert pairwise.PAIRWISE_KERNEL_FUNCTIONS[metric].__name__ == spec.function
        assert pairwise.KERNEL_PARAMS[metric] == spec.param_names


def test_registries_are_scikit_learns():
    sk_pairwise = pytest.importorskip("sklearn.metrics.pairwise")
    assert set(pairwise.PAIRWISE_KERNEL_FUNCTIONS) == set(sk_pairwise.PAIRWISE_KERNEL_FUNCTIONS)
    for metric, function in sk_pairwise.PAIRWISE_KERNEL_FUNCTIONS.items():
        assert pairwise.PAIRWISE_KERNEL_FUNCTIONS[metric].__name__ == function.__name__
    for metric, names in sk_pairwise.KERNEL_PARAMS.items():
        assert pairwise.KERNEL_PARAMS[metric] == frozenset(names)


def test_core_refuses_the_wrong_number_of_parameters():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"^params: expected 1 values"):
        _core.gram(_core.GramKind.rbf, x, None, np.empty((2, 2)), [1.0, 2.0], 1)
