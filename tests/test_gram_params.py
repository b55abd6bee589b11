"""Parameter checks of the Gram kernels against scikit-learn's own: same input accepted or refused.

For every kernel and parameter, each value in a long list (negative, 0, inf, NaN, bool, NumPy
scalars, strings, None, arrays, complex, ...) is given to scikit-learn and to kernelkit. Where
scikit-learn refuses it, kernelkit must raise a ValueError naming the parameter; where it accepts
it, kernelkit must give the same matrix. Directly called kernels are checked with scikit-learn's
``@validate_params`` ranges; ``pairwise_kernels`` skips those (scikit-learn validates only its own
arguments there and passes the kernel's on unchecked), so there any real number is accepted.

The only places kernelkit refuses what scikit-learn accepts are listed in
:func:`_kernelkit_refuses` and tested as such.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import kernelkit
from kernelkit.pairwise import KERNEL_METRICS, KERNEL_PARAMS
from kernelkit.pairwise import KERNEL_SPECS as ALL_KERNEL_SPECS

# The kernels of sklearn.metrics.pairwise (the Gaussian-process kernels: tests/test_gram_gp.py).
KERNEL_SPECS = {kind: spec for kind, spec in ALL_KERNEL_SPECS.items() if spec.metrics}

sk = pytest.importorskip("sklearn.metrics.pairwise")
param_validation = pytest.importorskip("sklearn.utils._param_validation")

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

REAL_VALUES: list[Any] = [
    -1,
    -1.0,
    -1e-300,
    -0.0,
    0,
    0.0,
    1e-3,
    0.5,
    1,
    1.0,
    2,
    2.5,
    3,
    7,
    1e30,
    np.inf,
    -np.inf,
    np.nan,
    True,
    False,
    np.True_,
    np.False_,
    None,
    "1",
    "",
    b"1",
    [1.0],
    (1.0,),
    1 + 0j,
    np.complex128(1),
    Fraction(1, 2),
    Decimal("0.5"),
    10**400,
    object(),
    np.float16(2),
    np.float32(0.5),
    np.float64(-1.0),
    np.float64(np.nan),
    np.longdouble(1.5),
    np.int8(0),
    np.int64(2),
    np.array(2.0),
    np.array(-1.0),
    np.array(np.inf),
    np.array(3),
    np.array([0.5]),
    np.array([[2.0]]),
    np.array(["a"]),
    np.array([0.5, 1.0, 1.5, 2.0]),  # scikit-learn broadcasts it over the columns
]


def _value_id(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__}:{text[:24]}"


def _outcome(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """scikit-learn's result or exception, its RuntimeWarnings (inf * 0 ...) silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return func(*args, **kwargs), None
        except Exception as error:  # any refusal counts, whatever its type
            return None, error


def _data(kernel: str, with_y: bool) -> tuple[np.ndarray, np.ndarray | None]:
    rng = np.random.default_rng(7)
    nonneg = KERNEL_SPECS[kernel].nonnegative
    x = rng.random((5, 3)) if nonneg else rng.random((5, 3)) * 2 - 0.6
    y = (rng.random((4, 3)) if nonneg else rng.random((4, 3)) * 2 - 0.6) if with_y else None
    return x, y


def _kernelkit_refuses(value: Any, nested: bool) -> bool:
    """Values scikit-learn accepts and kernelkit refuses, on purpose: arrays of more than one
    element (scikit-learn broadcasts them against the matrix, kernelkit takes scalars only) and,
    inside pairwise_kernels, where scikit-learn hands the value to NumPy unchecked, what is no
    real number: numpy.bool_ scalars, lists and tuples, complex numbers. scikit-learn's outcome
    for those depends on which NumPy operation the kernel applies (``-np.True_`` and
    ``-[1.0]`` fail in rbf while ``K *= np.True_`` and ``K *= [1.0]`` work in poly; a complex
    gamma gives a complex laplacian matrix and fails elsewhere)."""
    if isinstance(value, np.ndarray) and value.size > 1:
        return True
    return nested and isinstance(value, (np.bool_, list, tuple, complex, np.complexfloating))


def _assert_same_verdict(
    sk_call: Callable[[], Any],
    kk_call: Callable[[], np.ndarray],
    param: str,
    value: Any,
    nested: bool,
    deviations: bool = True,
) -> None:
    expected, error = _outcome(sk_call)
    if error is None and deviations and _kernelkit_refuses(value, nested):
        with pytest.raises(kernelkit.InvalidParameterError, match=param):
            kk_call()
        return
    if error is not None:
        with pytest.raises(ValueError, match=f"'{param}'") as raised:
            kk_call()
        assert isinstance(raised.value, kernelkit.InvalidParameterError)
        assert isinstance(raised.value, TypeError)  # as scikit-learn's, both
        return
    result = kk_call()
    assert result.shape == np.shape(expected)
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-300, equal_nan=True)


PARAM_CASES = [(kernel, p.name) for kernel, spec in KERNEL_SPECS.items() for p in spec.params]
PARAM_IDS = [f"{KERNEL_SPECS[k].function}-{name}" for k, name in PARAM_CASES]
METRIC_CASES = [
    (metric, name) for metric, kernel in KERNEL_METRICS.items() for name in KERNEL_PARAMS[metric]
]


# ---------------------------------------------------------------------------------------------
# The spec table is scikit-learn's declaration
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", list(KERNEL_SPECS))
def test_spec_matches_sklearn_constraints_and_signatures(kernel):
    spec = KERNEL_SPECS[kernel]
    sk_func = getattr(sk, spec.function)
    kk_func = getattr(kernelkit, spec.function)
    constraints = sk_func._skl_parameter_constraints
    sk_params = inspect.signature(sk_func).parameters
    kk_params = inspect.signature(kk_func).parameters
    expected_names = [n for n in sk_params if n not in ("X", "Y", "dense_output")]
    assert [p.name for p in spec.params] == expected_names
    assert spec.dense_output == ("dense_output" in sk_params)
    assert list(kk_params)[: len(sk_params)] == list(sk_params)  # same positional order
    for p in spec.params:
        assert sk_params[p.name].default == p.default == kk_params[p.name].default
        options = constraints[p.name]
        intervals = [c for c in options if isinstance(c, param_validation.Interval)]
        assert len(intervals) == 1
        (interval,) = intervals
        assert (interval.left, interval.right, interval.closed) == (
            p.valid.low,
            p.valid.high,
            p.valid.closed,
        )
        assert (None in options) == p.none_ok
        hidden = [c for c in options if isinstance(c, param_validation.Hidden)]
        assert bool(hidden) == p.array_ok
        # the messages' wording is scikit-learn's
        assert str(interval) == str(p.valid)


def test_registries_match_sklearn():
    assert list(kernelkit.pairwise.PAIRWISE_KERNEL_FUNCTIONS) == list(sk.PAIRWISE_KERNEL_FUNCTIONS)
    for metric, func in sk.PAIRWISE_KERNEL_FUNCTIONS.items():
        assert kernelkit.pairwise.PAIRWISE_KERNEL_FUNCTIONS[metric].__name__ == func.__name__
        assert KERNEL_PARAMS[metric] == frozenset(sk.KERNEL_PARAMS[metric])


def test_exception_type_matches_sklearn():
    assert issubclass(kernelkit.InvalidParameterError, ValueError)
    assert issubclass(kernelkit.InvalidParameterError, TypeError)
    sk_bases = set(param_validation.InvalidParameterError.__bases__)
    assert set(kernelkit.InvalidParameterError.__bases__) == sk_bases
    assert kernelkit.InvalidParameterError.__module__ == "kernelkit"
    assert "InvalidParameterError" in kernelkit.__all__


# ---------------------------------------------------------------------------------------------
# Real parameters: direct calls and pairwise_kernels
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("value", REAL_VALUES, ids=_value_id)
@pytest.mark.parametrize(("kernel", "param"), PARAM_CASES, ids=PARAM_IDS)
def test_direct_call_accepts_what_sklearn_accepts(kernel, param, value, with_y):
    x, y = _data(kernel, with_y)
    name = KERNEL_SPECS[kernel].function
    _assert_same_verdict(
        lambda: getattr(sk, name)(x, y, **{param: value}),
        lambda: getattr(kernelkit, name)(x, y, **{param: value}),
        param,
        value,
        nested=False,
    )


@pytest.mark.parametrize("with_y", [True, False], ids=["Y", "Ynone"])
@pytest.mark.parametrize("value", REAL_VALUES, ids=_value_id)
@pytest.mark.parametrize(
    ("metric", "param"), METRIC_CASES, ids=[f"{m}-{p}" for m, p in METRIC_CASES]
)
def test_pairwise_kernels_accepts_what_sklearn_accepts(metric, param, value, with_y):
    x, y = _data(KERNEL_METRICS[metric], with_y)
    _assert_same_verdict(
        lambda: sk.pairwise_kernels(x, y, metric=metric, **{param: value}),
        lambda: kernelkit.pairwise_kernels(x, y, metric=metric, **{param: value}),
        param,
        value,
        nested=True,
    )


def test_issue_examples_raise():
    x = np.ones((3, 2))
    for kwargs in ({"gamma": -1}, {"gamma": np.inf}, {"gamma": np.nan}):
        with pytest.raises(ValueError, match=r"'gamma' parameter of rbf_kernel .*\[0\.0, inf\)"):
            kernelkit.rbf_kernel(x, **kwargs)
    for degree in (0, -1):
        with pytest.raises(
            ValueError, match=r"'degree' parameter of polynomial_kernel .*\[1\.0, inf\)"
        ):
            kernelkit.polynomial_kernel(x, degree=degree)
    with pytest.raises(ValueError, match=r"'gamma' parameter of chi2_kernel .*\(0\.0, inf\)"):
        kernelkit.chi2_kernel(x, gamma=None)  # chi2 has no 1 / n_features default
    with pytest.raises(ValueError, match=r"laplacian_kernel .*\(0\.0, inf\) or None"):
        kernelkit.laplacian_kernel(x, gamma=0)  # open at 0, unlike rbf


def test_parameter_is_checked_before_the_arrays():
    """As in scikit-learn, a bad parameter is reported even when X is bad too."""
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        kernelkit.rbf_kernel(np.ones(3), gamma=-1)
    with pytest.raises(param_validation.InvalidParameterError, match="gamma"):
        sk.rbf_kernel(np.ones(3), gamma=-1)


# ---------------------------------------------------------------------------------------------
# dense_output, filter_params, n_jobs, metric
# ---------------------------------------------------------------------------------------------

FLAG_VALUES: list[Any] = [True, False, np.True_, np.False_, 1, 0, None, "True", 1.0]


@pytest.mark.parametrize("value", FLAG_VALUES, ids=_value_id)
@pytest.mark.parametrize("kernel", ["linear", "cosine"])
def test_dense_output(kernel, value):
    x, y = _data(kernel, True)
    name = KERNEL_SPECS[kernel].function
    _assert_same_verdict(
        lambda: getattr(sk, name)(x, y, dense_output=value),
        lambda: getattr(kernelkit, name)(x, y, dense_output=value),
        "dense_output",
        value,
        nested=False,
    )
    _assert_same_verdict(  # positionally, third as in scikit-learn
        lambda: getattr(sk, name)(x, y, value),
        lambda: getattr(kernelkit, name)(x, y, value),
        "dense_output",
        value,
        nested=False,
    )
    # inside pairwise_kernels scikit-learn does not check it (nor does it matter for dense input)
    _assert_same_verdict(
        lambda: sk.pairwise_kernels(x, y, metric=kernel, dense_output=value),
        lambda: kernelkit.pairwise_kernels(x, y, metric=kernel, dense_output=value),
        "dense_output",
        value,
        nested=True,
        deviations=False,  # passed on and ignored, whatever it is
    )


@pytest.mark.parametrize("kernel", ["linear", "cosine"])
def test_dense_output_false_is_a_dense_array(kernel):
    x, y = _data(kernel, True)
    name = KERNEL_SPECS[kernel].function
    result = getattr(kernelkit, name)(x, y, dense_output=False)
    expected = getattr(sk, name)(x, y, dense_output=False)
    assert type(result) is type(expected) is np.ndarray
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("value", FLAG_VALUES, ids=_value_id)
def test_filter_params_values(value):
    x, _ = _data("rbf", False)
    _assert_same_verdict(
        lambda: sk.pairwise_kernels(x, metric="rbf", filter_params=value, gamma=0.3),
        lambda: kernelkit.pairwise_kernels(x, metric="rbf", filter_params=value, gamma=0.3),
        "filter_params",
        value,
        nested=False,
    )


EXTRA_KWARGS: list[dict[str, Any]] = [
    {"foo": 1},
    {"gamma": 0.3},
    {"degree": 2},
    {"coef0": 0.5},
    {"dense_output": False},
    {"gamma": 0.3, "degree": 2, "coef0": 0.5, "dense_output": True, "foo": None},
]


@pytest.mark.parametrize("filter_params", [False, True])
@pytest.mark.parametrize("kwargs", EXTRA_KWARGS, ids=lambda k: ",".join(k))
@pytest.mark.parametrize("metric", [*KERNEL_METRICS, "precomputed"])
def test_filter_params_and_unknown_parameters(metric, kwargs, filter_params):
    """Unknown parameters: TypeError from the kernel (scikit-learn's is Python's own) unless
    filter_params drops them; "precomputed" ignores them all."""
    if metric == "precomputed":
        x, y = np.random.default_rng(3).random((5, 5)), None
    else:
        x, y = _data(KERNEL_METRICS[metric], True)
    expected, error = _outcome(
        sk.pairwise_kernels, x, y, metric=metric, filter_params=filter_params, **kwargs
    )
    if error is not None:
        assert type(error) is TypeError
        with pytest.raises(TypeError, match=sorted(set(kwargs) - KERNEL_PARAMS[metric])[0]):
            kernelkit.pairwise_kernels(x, y, metric=metric, filter_params=filter_params, **kwargs)
        return
    result = kernelkit.pairwise_kernels(x, y, metric=metric, filter_params=filter_params, **kwargs)
    np.testing.assert_allclose(result, expected, rtol=1e-10)


def test_filter_params_is_ignored_for_callables():
    x, _ = _data("rbf", False)

    def scaled_dot(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> float:
        return float(scale * a @ b)

    for filter_params in (False, True):
        expected = sk.pairwise_kernels(x, metric=scaled_dot, filter_params=filter_params, scale=2)
        result = kernelkit.pairwise_kernels(
            x, metric=scaled_dot, filter_params=filter_params, scale=2
        )
        np.testing.assert_allclose(result, expected, rtol=1e-12)


N_JOBS_VALUES: list[Any] = [
    None,
    1,
    2,
    -1,
    -2,
    -100,
    0,
    True,
    False,
    np.int64(2),
    np.int32(-1),
    1.0,
    np.float64(1),
    "1",
    np.True_,
]


def _exp_l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.exp(-np.abs(a - b).sum()))


@pytest.mark.parametrize("value", N_JOBS_VALUES, ids=_value_id)
@pytest.mark.parametrize("metric", ["rbf", "poly", "precomputed", "callable"])
def test_n_jobs(metric, value):
    x = np.random.default_rng(4).random((6, 6))
    metric_arg: Any = _exp_l1 if metric == "callable" else metric
    zero = isinstance(value, (int, np.integer)) and value == 0
    if zero and metric != "precomputed":
        # joblib's "n_jobs == 0 has no meaning": a plain ValueError, in kernelkit too
        _, error = _outcome(sk.pairwise_kernels, x, metric=metric_arg, n_jobs=value)
        assert type(error) is ValueError
        with pytest.raises(ValueError, match="n_jobs"):
            kernelkit.pairwise_kernels(x, metric=metric_arg, n_jobs=value)
        return
    _assert_same_verdict(
        lambda: sk.pairwise_kernels(x, metric=metric_arg, n_jobs=value),
        lambda: kernelkit.pairwise_kernels(x, metric=metric_arg, n_jobs=value),
        "n_jobs",
        value,
        nested=False,
    )


def test_n_jobs_is_the_thread_count(restore_num_threads):
    x = np.random.default_rng(5).random((300, 20))
    expected = kernelkit.rbf_kernel(x, n_threads=1)
    for n_jobs in (None, 1, 2, -1, -2, -100):
        result = kernelkit.pairwise_kernels(x, metric="rbf", n_jobs=n_jobs)
        np.testing.assert_allclose(result, expected, rtol=1e-12)
    # n_threads takes precedence, but n_jobs is still checked
    result = kernelkit.pairwise_kernels(x, metric="rbf", n_jobs=1, n_threads=2)
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="n_jobs"):
        kernelkit.pairwise_kernels(x, metric="rbf", n_jobs=0, n_threads=2)
    with pytest.raises(kernelkit.InvalidParameterError, match="n_jobs"):
        kernelkit.pairwise_kernels(x, metric="rbf", n_jobs=1.0, n_threads=2)
    with pytest.raises(ValueError, match="n_threads"):
        kernelkit.pairwise_kernels(x @ x.T, metric="precomputed", n_threads=0)


METRIC_VALUES: list[Any] = [
    *KERNEL_METRICS,
    "precomputed",
    "RBF",
    "gaussian",
    "",
    "euclidean",
    None,
    3,
    b"rbf",
    ["rbf"],
    _exp_l1,
]


@pytest.mark.parametrize("value", METRIC_VALUES, ids=_value_id)
def test_metric_values(value):
    x = np.random.default_rng(6).random((5, 5))
    _assert_same_verdict(
        lambda: sk.pairwise_kernels(x, metric=value),
        lambda: kernelkit.pairwise_kernels(x, metric=value),
        "metric",
        value,
        nested=False,
    )


def test_gaussian_process_kernel_is_called_on_the_whole_matrices():
    gp_kernels = pytest.importorskip("sklearn.gaussian_process.kernels")
    rng = np.random.default_rng(8)
    x, y = rng.random((5, 3)), rng.random((4, 3))
    for metric in (gp_kernels.RBF(length_scale=1.5), gp_kernels.DotProduct(sigma_0=0.5)):
        for args in [(x,), (x, y)]:
            expected = sk.pairwise_kernels(*args, metric=metric)
            np.testing.assert_allclose(
                kernelkit.pairwise_kernels(*args, metric=metric), expected, rtol=1e-12
            )
        out = np.empty((5, 4))
        assert kernelkit.pairwise_kernels(x, y, metric=metric, out=out) is out
        np.testing.assert_allclose(out, sk.pairwise_kernels(x, y, metric=metric), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# metric="precomputed"
# ---------------------------------------------------------------------------------------------

PRECOMPUTED_SHAPES: list[tuple[Any, Any]] = [
    ((4, 4), None),
    ((4, 3), None),  # Y=None: X must be square
    ((3, 4), None),
    ((1, 1), None),
    ((4, 6), (6, 2)),
    ((4, 6), (5, 2)),
    ((4, 6), (4, 6)),
    ((6, 4), (4, 9)),
    ((3,), None),
    ((3,), (3, 2)),
    ((3, 3, 3), None),
    ((3, 3), (3,)),
    ((3, 3), (3, 3, 1)),
    ((2, 2), "X"),  # Y is X
    ((2, 3), "X"),
]


@pytest.mark.parametrize(("x_shape", "y_shape"), PRECOMPUTED_SHAPES, ids=str)
def test_precomputed_shapes(x_shape, y_shape):
    rng = np.random.default_rng(9)
    x = rng.random(x_shape)
    y = x if y_shape == "X" else (None if y_shape is None else rng.random(y_shape))
    expected, error = _outcome(sk.pairwise_kernels, x, y, metric="precomputed")
    if error is not None:
        assert isinstance(error, ValueError)
        with pytest.raises(ValueError, match=r"X|Y"):
            kernelkit.pairwise_kernels(x, y, metric="precomputed")
        return
    result = kernelkit.pairwise_kernels(x, y, metric="precomputed")
    np.testing.assert_array_equal(result, expected)


def _layouts() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    return {
        "C": np.ascontiguousarray,
        "F": np.asfortranarray,
        "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        "list": lambda a: a.tolist(),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
@pytest.mark.parametrize("y_dtype", [None, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64, np.float16, np.int64, np.bool_])
def test_precomputed_returns_what_sklearn_returns(x_dtype, y_dtype, layout):
    """The same object where scikit-learn returns X itself, else a copy of the same dtype."""
    rng = np.random.default_rng(10)
    x = _layouts()[layout]((rng.random((4, 4)) * 3).astype(x_dtype))
    y = None if y_dtype is None else rng.random((4, 2)).astype(y_dtype)
    expected = sk.pairwise_kernels(x, y, metric="precomputed")
    result = kernelkit.pairwise_kernels(x, y, metric="precomputed")
    assert result.dtype == expected.dtype
    assert (result is x) == (expected is x)
    np.testing.assert_array_equal(result, expected)


def test_precomputed_ignores_kernel_parameters():
    x = np.random.default_rng(11).random((3, 3))
    assert kernelkit.pairwise_kernels(x, metric="precomputed", gamma=-1, foo="bar") is x
    assert sk.pairwise_kernels(x, metric="precomputed", gamma=-1, foo="bar") is x


def test_precomputed_values_pass_through():
    """kernelkit's policy for data (NaN/Inf propagate, zero rows are fine) holds here too, where
    scikit-learn's check_array refuses them: only the shapes are checked."""
    x = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    assert kernelkit.pairwise_kernels(x, metric="precomputed") is x
    with pytest.raises(ValueError, match="NaN"):
        sk.pairwise_kernels(x, metric="precomputed")
    assert kernelkit.pairwise_kernels(np.zeros((0, 0)), metric="precomputed").shape == (0, 0)
    empty = kernelkit.pairwise_kernels(np.zeros((0, 3)), np.ones((3, 2)), metric="precomputed")
    assert empty.shape == (0, 3)


def test_precomputed_message_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(n_queries, n_indexed\).*\(4, 3\).*square"):
        kernelkit.pairwise_kernels(np.ones((4, 3)), metric="precomputed")
    with pytest.raises(ValueError, match=r"\(4, 6\) for 5 indexed"):
        kernelkit.pairwise_kernels(np.ones((4, 6)), np.ones((5, 2)), metric="precomputed")


# ---------------------------------------------------------------------------------------------
# The documented difference, checked so that it stays deliberate
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [k for k, s in KERNEL_SPECS.items() if s.params])
def test_array_parameters_of_one_element_only(kernel):
    spec = KERNEL_SPECS[kernel]
    x, y = _data(kernel, True)
    func = getattr(kernelkit, spec.function)
    gamma = [p for p in spec.params if p.name == "gamma"]
    if not gamma:
        return
    for value in (np.array(0.25), np.array([0.25]), np.array([[0.25]])):
        np.testing.assert_allclose(func(x, y, gamma=value), func(x, y, gamma=0.25), rtol=0)
    with pytest.raises(kernelkit.InvalidParameterError, match=r"'gamma'.*one real number"):
        func(x, y, gamma=np.full(4, 0.25))
    # scikit-learn accepts it, applying one gamma per column of the result
    sk_func: Callable[..., np.ndarray] = functools.partial(getattr(sk, spec.function), x, y)
    assert sk_func(gamma=np.full(4, 0.25)).shape == (5, 4)


def test_unsigned_gamma_is_its_value():
    """scikit-learn computes ``K *= -gamma``: an np.uint8(3) gamma wraps to 253 there. kernelkit
    uses the value, 3 (and scikit-learn's validation accepts it, so kernelkit must too)."""
    x, y = _data("rbf", True)
    for kernel in ("rbf_kernel", "laplacian_kernel", "chi2_kernel"):
        func = getattr(kernelkit, kernel)
        data = np.abs(x), np.abs(y)
        np.testing.assert_array_equal(func(*data, gamma=np.uint8(3)), func(*data, gamma=3.0))
