"""``kernelkit.conv2d`` against an independent float64 NumPy reference and (when installed) PyTorch.

A seeded random sweep (more than 300 configurations per dtype, on every SIMD path) covers batch
sizes, channel counts, odd non-square images, kernels up to 7x7, stride/dilation per axis, groups
(depthwise included), every padding form ("same" with TensorFlow semantics), bias, activations and
both layouts with default and explicit weight layouts. Specific tests cover tiny, empty, single
and non-contiguous inputs, dtype promotion, ``out=``, threads, NaN propagation, a hand-checkable
edge filter and argument errors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import kernelkit

Pair = tuple[int, int]
Sides = tuple[int, int, int, int]

TOL = {np.float32: 1e-4, np.float64: 1e-10}
DEFAULT_ALPHA = 0.01  # conv2d's documented default leaky slope


# ---------------------------------------------------------------------------------------------
# Independent float64 reference (NCHW input, OIHW weights)
# ---------------------------------------------------------------------------------------------


def same_pads(in_hw: Pair, k_hw: Pair, stride: Pair, dilation: Pair) -> Sides:
    """TensorFlow "same": ceil(in / stride) outputs, an odd total puts the extra at bottom/right."""
    sides: list[int] = []
    for size, k, s, d in zip(in_hw, k_hw, stride, dilation):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        sides += [total // 2, total - total // 2]
    return sides[0], sides[1], sides[2], sides[3]


def explicit_pads(padding: Any, in_hw: Pair, k_hw: Pair, stride: Pair, dilation: Pair) -> Sides:
    """(top, bottom, left, right) for every padding form conv2d accepts."""
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return (0, 0, 0, 0)
        assert padding.lower() == "same"
        return same_pads(in_hw, k_hw, stride, dilation)
    if np.ndim(padding) == 0:
        return (int(padding),) * 4  # type: ignore[return-value]
    first, second = padding
    if np.ndim(first) == 0:
        return int(first), int(first), int(second), int(second)
    return int(first[0]), int(first[1]), int(second[0]), int(second[1])


def out_size(size: int, k: int, s: int, d: int, before: int, after: int) -> int:
    return (size + before + after - d * (k - 1) - 1) // s + 1


def ref_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None = None,
    stride: Pair = (1, 1),
    pads: Sides = (0, 0, 0, 0),
    dilation: Pair = (1, 1),
    groups: int = 1,
    activation: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """float64 cross-correlation: pad, then sum strided slices times each kernel tap (einsum over
    the channels of each group), then bias and activation. x (N, C, H, W), w (O, C/groups, KH, KW).
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    assert c == cg * groups
    assert o % groups == 0
    og = o // groups
    (sh, sw), (dh, dw) = stride, dilation
    top, bottom, left, right = pads
    oh = out_size(h, kh, sh, dh, top, bottom)
    ow = out_size(wd, kw, sw, dw, left, right)
    assert oh >= 1
    assert ow >= 1
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    xg = xp.reshape(n, groups, cg, *xp.shape[2:])
    wg = w.reshape(groups, og, cg, kh, kw)
    acc = np.zeros((n, groups, og, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            patch = xg[..., y0 : y0 + sh * (oh - 1) + 1 : sh, x0 : x0 + sw * (ow - 1) + 1 : sw]
            acc += np.einsum("ngchw,goc->ngohw", patch, wg[..., i, j])
    result = acc.reshape(n, o, oh, ow)
    if bias is not None:
        result = result + np.asarray(bias, dtype=np.float64)[None, :, None, None]
    if activation == "relu":
        result = np.where(result < 0, 0.0, result)  # NaN stays NaN
    elif activation == "leaky_relu":
        result = np.where(result < 0, alpha * result, result)
    elif activation == "relu6":
        result = np.where(result < 0, 0.0, np.where(result > 6, 6.0, result))
    else:
        assert activation is None
    return result


def nchw_to(layout: str, a: np.ndarray) -> np.ndarray:
    """An NCHW array (4-D, or 3-D CHW) in ``layout``, C-contiguous."""
    if layout == "NCHW":
        return np.ascontiguousarray(a)
    axes = (0, 2, 3, 1) if a.ndim == 4 else (1, 2, 0)
    return np.ascontiguousarray(a.transpose(axes))


def oihw_to(weight_layout: str, w: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(w if weight_layout == "OIHW" else w.transpose(2, 3, 1, 0))


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    if ref.size == 0:
        return 0.0
    diff = np.abs(np.asarray(got, dtype=np.float64) - ref)
    return float(diff.max() / max(1.0, float(np.abs(ref).max())))


def test_reference_hand_example() -> None:
    """The reference itself: the docstring's example, and a padded, strided, dilated single row."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    assert_array_equal(ref_conv2d(x, w)[0, 0], [[10, 14, 18], [26, 30, 34], [42, 46, 50]])
    row = np.arange(1.0, 8.0).reshape(1, 1, 1, 7)  # 1..7
    taps = np.array([1.0, 10.0, 100.0]).reshape(1, 1, 1, 3)
    # pad 1 left/right -> p = [0,1,...,7,0] (9 values); dilation 2 spans 5, stride 3: windows
    # start at 0 and 3 and read p[s], p[s + 2], p[s + 4]
    got = ref_conv2d(row, taps, stride=(1, 3), pads=(0, 0, 1, 1), dilation=(1, 2))[0, 0, 0]
    assert_array_equal(got, [0 + 10 * 2 + 100 * 4, 3 + 10 * 5 + 100 * 7])


# ---------------------------------------------------------------------------------------------
# Seeded random sweep
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    groups: int
    stride: Pair
    dilation: Pair
    stride_arg: Any
    dilation_arg: Any
    padding: Any
    layout: str
    weight_layout: str | None
    bias: bool
    activation: str | None
    alpha: float | None
    n_threads: int | None
    seed: int

    @property
    def pads(self) -> Sides:
        return explicit_pads(
            self.padding, (self.h, self.w), (self.kh, self.kw), self.stride, self.dilation
        )

    @property
    def out_hw(self) -> Pair:
        t, b, left, r = self.pads
        return (
            out_size(self.h, self.kh, self.stride[0], self.dilation[0], t, b),
            out_size(self.w, self.kw, self.stride[1], self.dilation[1], left, r),
        )

    @property
    def valid(self) -> bool:
        return min(self.out_hw) >= 1

    @property
    def macs(self) -> int:
        oh, ow = self.out_hw
        return (
            self.n * self.o * max(oh, 0) * max(ow, 0) * self.kh * self.kw * (self.c // self.groups)
        )

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {
            "stride": _as_arg(self.stride_arg),
            "padding": self.padding,
            "dilation": _as_arg(self.dilation_arg),
            "groups": self.groups,
            "layout": self.layout,
            "activation": self.activation,
            "n_threads": self.n_threads,
        }
        if self.weight_layout is not None:
            kw["weight_layout"] = self.weight_layout
        if self.alpha is not None:
            kw["alpha"] = self.alpha
        return kw

    def describe(self) -> str:
        return (
            f"x NCHW=({self.n},{self.c},{self.h},{self.w}) weight OIHW=({self.o},"
            f"{self.c // self.groups},{self.kh},{self.kw}) bias={self.bias} {self.kwargs()} "
            f"seed={self.seed}"
        )


def _pair_arg(rng: np.random.Generator, pair: Pair) -> Any:
    """An int (only when both are equal), a tuple, or a tagged pair that kwargs() makes a list."""
    if pair[0] == pair[1] and rng.random() < 0.5:
        return pair[0]
    return ("list", pair) if rng.random() < 0.2 else pair


def _as_arg(value: Any) -> Any:
    return list(value[1]) if isinstance(value, tuple) and value[0] == "list" else value


def random_case(rng: np.random.Generator) -> Case:
    """One random configuration, mostly small, some with up to 67 channels."""
    kind = rng.choice(["plain", "grouped", "depthwise"], p=[0.5, 0.25, 0.25])
    big = rng.random() < 0.15
    if kind == "plain":
        groups = 1
        c = int(rng.integers(17, 68)) if big else int(rng.integers(1, 9))
        o = int(rng.integers(17, 68)) if big else int(rng.integers(1, 9))
    elif kind == "grouped":
        groups = int(rng.integers(2, 5))
        hi = 67 // groups + 1 if big else 4
        c = groups * int(rng.integers(1, hi))
        o = groups * int(rng.integers(1, hi))
    else:
        c = int(rng.integers(17, 68)) if big else int(rng.integers(1, 9))
        groups = c
        o = c * int(rng.integers(1, 4))
    if big:
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    else:
        h, w = (int(v) for v in rng.choice(np.arange(1, 24, 2), size=2))  # odd sizes
        if rng.random() < 0.2:
            h = int(rng.integers(1, 24))
        kh, kw = (int(v) for v in rng.integers(1, 8, size=2))
    stride = (int(rng.choice([1, 1, 2, 3])), int(rng.choice([1, 1, 2, 3])))
    dilation = (int(rng.choice([1, 1, 1, 2, 3])), int(rng.choice([1, 1, 1, 2, 3])))
    form = rng.choice(["int", "pair", "sides", "valid", "same"])
    if form == "int":
        padding: Any = int(rng.integers(0, 4))
    elif form == "pair":
        padding = tuple(int(v) for v in rng.integers(0, 4, size=2))
    elif form == "sides":
        t, b, left, r = (int(v) for v in rng.integers(0, 4, size=4))
        padding = ((t, b), (left, r))
    else:
        padding = str(form)
    activation = rng.choice(["none", "relu", "leaky_relu", "relu6"])
    alpha = None if rng.random() < 0.5 else round(float(rng.uniform(0.05, 0.9)), 3)
    layout = str(rng.choice(["NCHW", "NHWC"]))
    weight_layout = None if rng.random() < 0.5 else str(rng.choice(["OIHW", "HWIO"]))
    return Case(
        n=int(rng.integers(1, 4)),
        c=c,
        h=h,
        w=w,
        o=o,
        kh=kh,
        kw=kw,
        groups=groups,
        stride=stride,
        dilation=dilation,
        stride_arg=_pair_arg(rng, stride),
        dilation_arg=_pair_arg(rng, dilation),
        padding=padding,
        layout=layout,
        weight_layout=weight_layout,
        bias=bool(rng.random() < 0.5),
        activation=None if activation == "none" else str(activation),
        alpha=alpha,
        # mostly one thread, so the sweep stays fast on a busy machine; thread counts are
        # compared in test_n_threads_give_equal_results
        n_threads=[1, 1, 1, 2, None][int(rng.integers(5))],
        seed=int(rng.integers(2**31)),
    )


VALID_PER_DTYPE = 320
CHUNKS = 8
MAX_MACS = 400_000  # keeps the float64 reference (and the whole sweep) fast


def sweep_cases(seed: int) -> list[Case]:
    """Deterministic cases: VALID_PER_DTYPE valid ones plus the invalid ones drawn on the way."""
    rng = np.random.default_rng(seed)
    cases: list[Case] = []
    valid = 0
    while valid < VALID_PER_DTYPE:
        case = random_case(rng)
        if case.macs > MAX_MACS:
            continue
        cases.append(case)
        valid += case.valid
    return cases


SWEEP = {np.float32: sweep_cases(20240601), np.float64: sweep_cases(20240602)}
DTYPE_IDS = {np.float32: "float32", np.float64: "float64"}


@cache
def case_data(case: Case, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x NCHW, weight OIHW, bias) in ``dtype`` (the exact values conv2d is given)."""
    rng = np.random.default_rng(case.seed)
    x = rng.standard_normal((case.n, case.c, case.h, case.w)).astype(dtype)
    w = rng.standard_normal((case.o, case.c // case.groups, case.kh, case.kw)).astype(dtype)
    b = rng.standard_normal(case.o).astype(dtype) if case.bias else None
    return x, w, b


@cache
def case_reference(case: Case, dtype: type) -> np.ndarray:
    """The float64 reference in the case's layout."""
    x, w, b = case_data(case, dtype)
    ref = ref_conv2d(
        x,
        w,
        b,
        case.stride,
        case.pads,
        case.dilation,
        case.groups,
        case.activation,
        DEFAULT_ALPHA if case.alpha is None else case.alpha,
    )
    return nchw_to(case.layout, ref)


def run_case(case: Case, dtype: type, prepared: bool = False) -> np.ndarray:
    """conv2d on the case, or (``prepared``) a kernelkit.Conv2d called twice: the second call
    runs on the weights packed by the first and must give the same result."""
    x, w, b = case_data(case, dtype)
    weight_layout = case.weight_layout or ("HWIO" if case.layout == "NHWC" else "OIHW")
    xl, wl = nchw_to(case.layout, x), oihw_to(weight_layout, w)
    if not prepared:
        return kernelkit.conv2d(xl, wl, b, **case.kwargs())
    kwargs = case.kwargs()
    n_threads = kwargs.pop("n_threads")
    conv = kernelkit.Conv2d(wl, b, **kwargs)
    first = conv(xl, n_threads=n_threads)
    second = conv(xl, n_threads=n_threads)
    assert_array_equal(second, first)
    assert conv.packings == 1
    return second


def check_case(case: Case, dtype: type, prepared: bool = False) -> str | None:
    """None when conv2d (or Conv2d) handles the case correctly, else what went wrong."""
    if not case.valid:
        try:
            run_case(case, dtype, prepared)
        except ValueError as exc:
            if not str(exc).startswith("weight:"):
                return f"invalid case raised a ValueError not naming weight: {exc}"
            return None
        return "kernel larger than the padded input did not raise ValueError"
    got = run_case(case, dtype, prepared)
    ref = case_reference(case, dtype)
    if got.dtype != dtype:
        return f"dtype {got.dtype}"
    if got.shape != ref.shape:
        return f"shape {got.shape}, expected {ref.shape}"
    if case.padding == "same":
        oh, ow = got.shape[2:] if case.layout == "NCHW" else got.shape[1:3]
        expected = (-(-case.h // case.stride[0]), -(-case.w // case.stride[1]))
        if (oh, ow) != expected:
            return f"'same' gave {(oh, ow)} output pixels, expected ceil(in/stride) = {expected}"
    if not got.flags.c_contiguous:
        return "result not C-contiguous"
    if not np.isfinite(got).all():
        return "non-finite values"
    err = rel_err(got, ref)
    if not err <= TOL[dtype]:
        return f"relative error {err:.3g} > {TOL[dtype]:g}"
    return None


def test_sweep_is_broad() -> None:
    """The sweep really covers what it claims (so a generator change cannot silently narrow it)."""
    for cases in SWEEP.values():
        valid = [c for c in cases if c.valid]
        assert len(valid) >= 300
        assert any(not c.valid for c in cases)
        assert {c.n for c in valid} == {1, 2, 3}
        assert max(c.c for c in valid) >= 60
        assert max(c.o for c in valid) >= 60
        assert any(c.groups == c.c > 1 and c.o > c.c for c in valid)  # depthwise, multiplier > 1
        assert any(1 < c.groups < c.c for c in valid)
        assert {(c.kh, c.kw) for c in valid} >= {(1, 1), (7, 7), (1, 7), (7, 1), (3, 5)}
        assert any(c.h != c.w for c in valid)
        assert max(c.h for c in valid) == 23
        assert {c.stride[0] for c in valid} == {1, 2, 3} == {c.stride[1] for c in valid}
        assert {c.dilation[0] for c in valid} == {1, 2, 3} == {c.dilation[1] for c in valid}
        forms = {
            type(c.padding).__name__ if not isinstance(c.padding, str) else c.padding for c in valid
        }
        assert forms == {"int", "tuple", "valid", "same"}
        assert any(isinstance(c.padding, tuple) and isinstance(c.padding[0], tuple) for c in valid)
        assert {c.activation for c in valid} == {None, "relu", "leaky_relu", "relu6"}
        assert any(c.activation == "leaky_relu" and c.alpha is not None for c in valid)
        assert {(c.layout, c.weight_layout) for c in valid} == {
            (lay, wl) for lay in ("NCHW", "NHWC") for wl in (None, "OIHW", "HWIO")
        }
        assert {c.bias for c in valid} == {False, True}
        # depth beyond one packed depth block, and images spanning several pixel tiles
        assert any(c.kh * c.kw * c.c // c.groups > 192 for c in valid)
        assert any(c.out_hw[0] * c.out_hw[1] > 256 for c in valid)


@pytest.mark.parametrize("prepared", [False, True], ids=["conv2d", "Conv2d"])
@pytest.mark.parametrize("chunk", range(CHUNKS), ids=lambda i: f"chunk{i}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
def test_sweep(dtype: type, chunk: int, simd_path: str, prepared: bool) -> None:
    cases = SWEEP[dtype][chunk::CHUNKS]
    failures = [
        f"{problem}: {case.describe()}"
        for case in cases
        if (problem := check_case(case, dtype, prepared)) is not None
    ]
    assert not failures, f"{len(failures)}/{len(cases)} cases failed:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# PyTorch (optional)
# ---------------------------------------------------------------------------------------------


def torch_conv2d(case: Case, dtype: type) -> np.ndarray:
    """torch.nn.functional.conv2d in float64 on the case's inputs, in the case's layout."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x, w, b = case_data(case, dtype)
    t, bottom, left, r = case.pads
    xt = functional.pad(torch.from_numpy(x.astype(np.float64)), (left, r, t, bottom))
    y = functional.conv2d(
        xt,
        torch.from_numpy(w.astype(np.float64)),
        None if b is None else torch.from_numpy(b.astype(np.float64)),
        stride=case.stride,
        dilation=case.dilation,
        groups=case.groups,
    )
    if case.activation == "relu":
        y = functional.relu(y)
    elif case.activation == "leaky_relu":
        y = functional.leaky_relu(y, DEFAULT_ALPHA if case.alpha is None else case.alpha)
    elif case.activation == "relu6":
        y = functional.relu6(y)
    return nchw_to(case.layout, y.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
def test_sweep_matches_torch(dtype: type) -> None:
    """The NumPy reference, conv2d and Conv2d agree with PyTorch over the whole sweep."""
    pytest.importorskip("torch")
    failures = []
    for case in SWEEP[dtype]:
        if not case.valid:
            continue
        expected = torch_conv2d(case, dtype)
        ref_err = rel_err(case_reference(case, dtype), expected)
        got_err = rel_err(run_case(case, dtype), expected)
        prepared_err = rel_err(run_case(case, dtype, prepared=True), expected)
        if not (ref_err <= 1e-12 and max(got_err, prepared_err) <= TOL[dtype]):
            failures.append(
                f"reference {ref_err:.3g}, conv2d {got_err:.3g}, Conv2d {prepared_err:.3g}: "
                f"{case.describe()}"
            )
    assert not failures, "\n".join(failures)


def test_same_padding_matches_torch_same() -> None:
    """Stride 1: TensorFlow's "same" agrees with PyTorch's padding="same" (extra bottom/right)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 8, 9))
    for kh, kw, dh, dw in [(2, 4, 1, 1), (3, 2, 1, 3), (4, 5, 2, 1), (1, 6, 1, 1)]:
        w = rng.standard_normal((5, 3, kh, kw))
        with warnings.catch_warnings():  # even kernels: "may require a zero-padded copy"
            warnings.simplefilter("ignore", UserWarning)
            expected = torch.nn.functional.conv2d(
                torch.from_numpy(x), torch.from_numpy(w), padding="same", dilation=(dh, dw)
            ).numpy()
        got = kernelkit.conv2d(x, w, padding="same", dilation=(dh, dw))
        assert got.shape == (*x.shape[:1], 5, *x.shape[2:])
        assert_allclose(got, expected, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# "same" padding, layouts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "k", "s", "d"),
    [
        (4, 2, 1, 1),
        (5, 3, 2, 1),
        (6, 3, 2, 1),
        (7, 4, 3, 1),
        (9, 3, 2, 2),
        (1, 7, 3, 1),
        (2, 5, 2, 3),
        (10, 1, 3, 1),
        (8, 2, 3, 1),
    ],
)
def test_same_padding_tensorflow_semantics(size: int, k: int, s: int, d: int) -> None:
    rng = np.random.default_rng(size * 1000 + k * 100 + s * 10 + d)
    x = rng.standard_normal((1, 2, size, size + 2))
    w = rng.standard_normal((3, 2, k, k + 1))
    got = kernelkit.conv2d(x, w, stride=s, dilation=d, padding="same")
    assert got.shape == (1, 3, math.ceil(size / s), math.ceil((size + 2) / s))
    pads = same_pads((size, size + 2), (k, k + 1), (s, s), (d, d))
    assert pads[1] - pads[0] in (0, 1)
    assert pads[3] - pads[2] in (0, 1)
    ref = ref_conv2d(x, w, stride=(s, s), pads=pads, dilation=(d, d))
    assert_allclose(got, ref, rtol=0, atol=1e-12)
    explicit = kernelkit.conv2d(
        x, w, stride=s, dilation=d, padding=((pads[0], pads[1]), (pads[2], pads[3]))
    )
    assert_array_equal(got, explicit)


def test_same_padding_extra_goes_bottom_right() -> None:
    """4x4 input, 2x2 kernel: one padding row/column, at the bottom/right (not top/left)."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])  # picks the top-left tap: output == input
    assert_array_equal(kernelkit.conv2d(x, w, padding="same"), x)
    w2 = np.array([[[[0.0, 0.0], [0.0, 1.0]]]])  # bottom-right tap: shifted, zeros at the end
    expected = np.zeros_like(x)
    expected[0, 0, :3, :3] = x[0, 0, 1:, 1:]
    assert_array_equal(kernelkit.conv2d(x, w2, padding="same"), expected)


@pytest.mark.parametrize(("size", "k", "s", "d"), [(4, 2, 1, 1), (6, 3, 2, 1), (9, 3, 2, 2)])
def test_same_lower_padding_puts_the_extra_top_left(size: int, k: int, s: int, d: int) -> None:
    """ONNX's SAME_LOWER: "same"'s total padding, an odd one with the extra at the top/left."""
    rng = np.random.default_rng(size * 1000 + k * 100 + s * 10 + d)
    x = rng.standard_normal((1, 2, size, size + 1))
    w = rng.standard_normal((3, 2, k, k + 1))
    top, bottom, left, right = same_pads((size, size + 1), (k, k + 1), (s, s), (d, d))
    assert (bottom - top, right - left) != (0, 0)  # an odd total somewhere, or nothing to test
    ref = ref_conv2d(x, w, stride=(s, s), pads=(bottom, top, right, left), dilation=(d, d))
    got = kernelkit.conv2d(x, w, stride=s, dilation=d, padding="same_lower")
    assert_allclose(got, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("weight_layout", [None, "OIHW", "HWIO"])
@pytest.mark.parametrize(
    ("c", "o", "groups"),
    [(6, 10, 2), (16, 12, 2), (4, 4, 4)],
    ids=["direct", "gemm", "depthwise"],
)
def test_layouts_agree(
    c: int, o: int, groups: int, layout: str, weight_layout: str | None, simd_path: str
) -> None:
    """Every kernel family reads OIHW and HWIO weights where they lie (no layout copy)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, c, 9, 7))
    w = rng.standard_normal((o, c // groups, 3, 2))
    b = rng.standard_normal(o)
    ref = ref_conv2d(x, w, b, (2, 1), (1, 0, 2, 1), (1, 2), groups, "leaky_relu", 0.3)
    wl = weight_layout or ("HWIO" if layout == "NHWC" else "OIHW")
    got = kernelkit.conv2d(
        nchw_to(layout, x),
        oihw_to(wl, w),
        b,
        stride=(2, 1),
        padding=((1, 0), (2, 1)),
        dilation=(1, 2),
        groups=groups,
        layout=layout,
        weight_layout=weight_layout,
        activation="leaky_relu",
        alpha=0.3,
    )
    assert_allclose(got, nchw_to(layout, ref), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Specific shapes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_one_by_one_images(dtype: type, layout: str, simd_path: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 1, 1)).astype(dtype)
    w1 = rng.standard_normal((4, 5, 1, 1)).astype(dtype)
    w3 = rng.standard_normal((6, 5, 3, 3)).astype(dtype)
    wl = "HWIO" if layout == "NHWC" else "OIHW"
    b = rng.standard_normal(6).astype(dtype)
    for w, kwargs, pads in [
        (w1, {}, (0, 0, 0, 0)),
        (w3, {"padding": 1}, (1, 1, 1, 1)),
        (w3, {"padding": "same", "stride": 2}, (1, 1, 1, 1)),
        (w3, {"padding": ((2, 0), (0, 2))}, (2, 0, 0, 2)),
    ]:
        bias = b[: w.shape[0]]
        got = kernelkit.conv2d(
            nchw_to(layout, x), oihw_to(wl, w), bias, layout=layout, activation="relu", **kwargs
        )
        ref = ref_conv2d(x, w, bias, pads=pads, activation="relu")
        assert got.shape == nchw_to(layout, ref).shape
        assert got.dtype == dtype
        assert rel_err(got, nchw_to(layout, ref)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_empty_batch(dtype: type, layout: str) -> None:
    x = np.zeros((0, 4, 7, 6), dtype=dtype)
    w = np.ones((6, 2, 3, 2), dtype=dtype)
    got = kernelkit.conv2d(
        nchw_to(layout, x),
        oihw_to("OIHW", w),
        np.ones(6),
        stride=(2, 1),
        padding=1,
        groups=2,
        layout=layout,
        weight_layout="OIHW",
    )
    expected = (0, 6, 4, 7) if layout == "NCHW" else (0, 4, 7, 6)
    assert got.shape == expected
    assert got.dtype == dtype
    out = np.empty(expected, dtype=dtype)
    res = kernelkit.conv2d(
        nchw_to(layout, x),
        w,
        stride=(2, 1),
        padding=1,
        groups=2,
        layout=layout,
        weight_layout="OIHW",
        out=out,
    )
    assert res is out


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_single_image_without_batch_axis(layout: str, simd_path: str) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8, 5)).astype(np.float32)  # CHW
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    wl = "HWIO" if layout == "NHWC" else "OIHW"
    got = kernelkit.conv2d(nchw_to(layout, x), oihw_to(wl, w), padding="same", layout=layout)
    assert got.ndim == 3
    batched = kernelkit.conv2d(
        nchw_to(layout, x[None]), oihw_to(wl, w), padding="same", layout=layout
    )
    assert_array_equal(got, batched[0])
    ref = nchw_to(layout, ref_conv2d(x[None], w, pads=(1, 1, 1, 1))[0])
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-4
    out = np.empty_like(got)
    assert (
        kernelkit.conv2d(nchw_to(layout, x), oihw_to(wl, w), padding="same", layout=layout, out=out)
        is out
    )
    assert_array_equal(out, got)


def test_large_channels_depth_and_tiles(simd_path: str) -> None:
    """67 channels, 7x7 kernels (depth >> one packed depth block), several pixel tiles per image."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((1, 67, 23, 21))
    w = rng.standard_normal((67, 67, 7, 7)) / 50
    b = rng.standard_normal(67)
    for dtype in (np.float32, np.float64):
        got = kernelkit.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), padding=3)
        assert got.dtype == dtype
        ref_t = ref_conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype), pads=(3, 3, 3, 3))
        assert rel_err(got, ref_t) <= TOL[dtype]
        got_nhwc = kernelkit.conv2d(
            nchw_to("NHWC", x.astype(dtype)),
            w.astype(dtype),
            b.astype(dtype),
            padding=3,
            layout="NHWC",
            weight_layout="OIHW",
        )
        assert rel_err(got_nhwc, nchw_to("NHWC", ref_t)) <= TOL[dtype]


@pytest.mark.parametrize("size", [330, 370])
def test_nchw_batch_copied_in_passes(size: int, simd_path: str) -> None:
    """NCHW input with 8+ channels is read from an (H, W, C) copy of at most 8 MiB of images: 3.5 MB
    images go two per pass (then one), 4.4 MB images one per pass."""
    rng = np.random.default_rng(size)
    x = rng.standard_normal((3, 8, size, size)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    got = kernelkit.conv2d(x, w, padding=1, n_threads=2)
    assert rel_err(got, ref_conv2d(x, w, pads=(1, 1, 1, 1))) <= TOL[np.float32]


def test_depthwise_large(simd_path: str) -> None:
    rng = np.random.default_rng(19)
    x = rng.standard_normal((2, 67, 13, 11))
    w = rng.standard_normal((134, 1, 5, 3))
    ref = ref_conv2d(x, w, stride=(2, 1), pads=(2, 2, 1, 1), dilation=(1, 2), groups=67)
    got = kernelkit.conv2d(x, w, stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=67)
    assert rel_err(got, ref) <= 1e-10
    got_nhwc = kernelkit.conv2d(
        nchw_to("NHWC", x),
        oihw_to("HWIO", w),
        stride=(2, 1),
        padding=(2, 1),
        dilation=(1, 2),
        groups=67,
        layout="NHWC",
    )
    assert rel_err(got_nhwc, nchw_to("NHWC", ref)) <= 1e-10


# ---------------------------------------------------------------------------------------------
# Non-contiguous inputs, dtypes, out=, threads
# ---------------------------------------------------------------------------------------------


def test_non_contiguous_inputs(simd_path: str) -> None:
    rng = np.random.default_rng(23)
    x = rng.standard_normal((2, 4, 9, 14))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(12)
    kwargs: dict[str, Any] = {"stride": (1, 2), "padding": 1, "groups": 2, "activation": "relu"}
    base = kernelkit.conv2d(np.ascontiguousarray(x[..., ::2]), w, b[::2].copy(), **kwargs)
    ref = ref_conv2d(x[..., ::2], w, b[::2], (1, 2), (1, 1, 1, 1), (1, 1), 2, "relu")
    assert_allclose(base, ref, rtol=0, atol=1e-12)

    strided = x[..., ::2]
    assert not strided.flags.c_contiguous
    assert_array_equal(kernelkit.conv2d(strided, w, b[::2], **kwargs), base)
    fortran = np.asfortranarray(strided)
    assert fortran.flags.f_contiguous
    assert not fortran.flags.c_contiguous
    assert_array_equal(kernelkit.conv2d(fortran, np.asfortranarray(w), b[::2], **kwargs), base)
    # an NHWC buffer seen as NCHW through a transposed view, and the other way round
    nchw_view = np.ascontiguousarray(strided.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert not nchw_view.flags.c_contiguous
    assert_array_equal(kernelkit.conv2d(nchw_view, w, b[::2], **kwargs), base)
    nhwc_view = strided.transpose(0, 2, 3, 1)
    hwio_view = w.transpose(2, 3, 1, 0)
    got = kernelkit.conv2d(nhwc_view, hwio_view, b[::2], layout="NHWC", **kwargs)
    assert_allclose(got, base.transpose(0, 2, 3, 1), rtol=0, atol=1e-12)
    # a negative-stride weight view
    w_flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1])[:, :, ::-1, ::-1]
    assert_array_equal(kernelkit.conv2d(strided, w_flipped, b[::2], **kwargs), base)


def test_float16_input_gives_float32() -> None:
    rng = np.random.default_rng(29)
    x = rng.standard_normal((2, 3, 7, 5)).astype(np.float16)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float16)
    got = kernelkit.conv2d(x, w, padding=1)
    assert got.dtype == np.float32
    ref = ref_conv2d(x, w, pads=(1, 1, 1, 1))
    assert rel_err(got, ref) <= 1e-4
    # float16 x with float32 weights still computes in float32; float64 weights are refused, as
    # PyTorch refuses them with float32 input, rather than rounded silently
    assert kernelkit.conv2d(x, w.astype(np.float32), padding=1).dtype == np.float32
    with pytest.raises(TypeError, match=r"^weight: float64 weights with float32 input"):
        kernelkit.conv2d(x, w.astype(np.float64), padding=1)


@pytest.mark.parametrize("int_dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_int_input_gives_float64(int_dtype: type) -> None:
    rng = np.random.default_rng(31)
    x = rng.integers(0, 20, size=(2, 2, 6, 5)).astype(int_dtype)
    w = rng.integers(0, 5, size=(3, 2, 2, 3)).astype(int_dtype)
    got = kernelkit.conv2d(x, w, np.array([1, 2, 3]), stride=(1, 2))
    assert got.dtype == np.float64
    assert_array_equal(got, ref_conv2d(x, w, np.array([1, 2, 3]), stride=(1, 2)))  # exact
    assert kernelkit.conv2d(x.tolist(), w, stride=(1, 2)).dtype == np.float64  # nested lists too


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_out_written_in_place(dtype: type, layout: str, simd_path: str) -> None:
    rng = np.random.default_rng(37)
    x = nchw_to(layout, rng.standard_normal((2, 3, 9, 8)).astype(dtype))
    w = rng.standard_normal((5, 3, 2, 3)).astype(dtype)
    kwargs: dict[str, Any] = {"padding": "same", "layout": layout, "weight_layout": "OIHW"}
    expected = kernelkit.conv2d(x, w, **kwargs)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    res = kernelkit.conv2d(x, w, out=out, **kwargs)
    assert res is out
    assert_array_equal(out, expected)


# (C, O, kernel, padding, H, W, groups): direct and depthwise cases whose last channel block or last
# strip of a row is partial, so that a strip stored whole would run past the group's channels or
# the row.
GUARDED_CASES = [
    (3, 5, 3, 1, 9, 37, 1),  # first layer, partial block, strip tail
    (3, 5, 3, 1, 5, 211, 1),  # two column chunks per row
    (2, 6, 3, 0, 6, 11, 2),  # two groups: group 0's padding channels would land in group 1
    (16, 13, 1, 0, 5, 7, 1),  # 1x1 from a copy (35 pixels), partial block
    (16, 13, 1, 0, 4, 8, 1),  # 1x1 read in place (32 pixels)
    (4, 4, 3, 1, 6, 37, 4),  # depthwise: a whole strip, then a 5-pixel tail
]


@pytest.mark.parametrize(("c", "o", "k", "pad", "h", "w", "groups"), GUARDED_CASES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_out_neighbours_untouched(
    c: int,
    o: int,
    k: int,
    pad: int,
    h: int,
    w: int,
    groups: int,
    layout: str,
    n_threads: int,
    simd_path: str,
) -> None:
    """out= as the middle of a larger buffer: the images before and after it keep their NaNs, so a
    kernel writing outside its part of the output (channel padding, strip overrun) fails here."""
    rng = np.random.default_rng(c * 100 + o)
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((o, c // groups, k, k)).astype(np.float32)
    kwargs: dict[str, Any] = {"padding": pad, "groups": groups, "n_threads": n_threads}
    expected = kernelkit.conv2d(x, weight, **kwargs)
    buffer = np.full((4, *nchw_to(layout, expected).shape[1:]), np.nan, dtype=np.float32)
    kernelkit.conv2d(
        nchw_to(layout, x), weight, layout=layout, weight_layout="OIHW", out=buffer[1:3], **kwargs
    )
    assert np.isnan(buffer[[0, 3]]).all()
    assert_array_equal(buffer[1:3], nchw_to(layout, expected))


@pytest.mark.parametrize(
    ("make_out", "exc"),
    [
        (lambda s, d: np.empty((*s[:-1], s[-1] + 1), dtype=d), ValueError),  # shape
        (lambda s, d: np.empty(s[1:], dtype=d), ValueError),  # missing batch axis
        (lambda s, d: np.empty(s, dtype=np.float64), ValueError),  # dtype (float32 result)
        (lambda s, d: np.empty(s, dtype=d, order="F"), ValueError),  # not C-contiguous
        (lambda s, d: np.empty((*s[:-1], 2 * s[-1]), dtype=d)[..., ::2], ValueError),  # strided
        (lambda s, d: np.empty(s, dtype=d).tolist(), TypeError),  # not an ndarray
    ],
    ids=["shape", "ndim", "dtype", "fortran", "strided", "list"],
)
def test_out_errors(make_out: Any, exc: type) -> None:
    x = np.ones((2, 3, 6, 5), dtype=np.float32)
    w = np.ones((4, 3, 3, 3), dtype=np.float32)
    shape = (2, 4, 4, 3)
    assert kernelkit.conv2d(x, w).shape == shape
    with pytest.raises(exc, match=r"^out"):
        kernelkit.conv2d(x, w, out=make_out(shape, np.float32))


def test_out_read_only_or_aliasing_x() -> None:
    x = np.ones((1, 2, 4, 4))
    w = np.ones((2, 2, 1, 1))
    out = np.empty((1, 2, 4, 4))
    out.flags.writeable = False
    with pytest.raises(ValueError, match=r"^out"):
        kernelkit.conv2d(x, w, out=out)
    with pytest.raises(ValueError, match=r"^out"):
        kernelkit.conv2d(x, w, out=x)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_n_threads_give_equal_results(layout: str, simd_path: str) -> None:
    """Several images x groups x pixel tiles, so the work really is split between threads."""
    rng = np.random.default_rng(41)
    x = nchw_to(layout, rng.standard_normal((3, 8, 23, 19)).astype(np.float32))
    w = rng.standard_normal((12, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    kwargs: dict[str, Any] = {
        "padding": 1,
        "groups": 2,
        "layout": layout,
        "weight_layout": "OIHW",
        "activation": "leaky_relu",
        "alpha": 0.2,
    }
    one = kernelkit.conv2d(x, w, b, n_threads=1, **kwargs)
    for n_threads in (2, -1, None, 7):
        assert_array_equal(kernelkit.conv2d(x, w, b, n_threads=n_threads, **kwargs), one)


# ---------------------------------------------------------------------------------------------
# NaN propagation and a hand-checkable filter
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "relu6"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_nan_propagates_to_its_receptive_field(
    activation: str | None, layout: str, simd_path: str
) -> None:
    """7x7 image, 3x3 kernel, padding 1: a NaN at (3, 4) reaches exactly the outputs (3+-1, 4+-1)
    of the output channels of its own group."""
    rng = np.random.default_rng(43)
    x = rng.uniform(0.5, 1.0, size=(2, 4, 7, 7))
    x[1, 0, 3, 4] = np.nan  # image 1, channel 0 (group 0 of 2)
    w = rng.uniform(0.5, 1.0, size=(6, 2, 3, 3))
    w[:3] *= -1  # some outputs negative, so relu/leaky_relu act on them
    got = kernelkit.conv2d(
        nchw_to(layout, x),
        oihw_to("OIHW", w),
        padding=1,
        groups=2,
        layout=layout,
        weight_layout="OIHW",
        activation=activation,
    )
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    expected_nan = np.zeros(got.shape, dtype=bool)
    expected_nan[1, :3, 2:5, 3:6] = True
    assert_array_equal(np.isnan(got), expected_nan)
    ref = ref_conv2d(x, w, pads=(1, 1, 1, 1), groups=2, activation=activation)
    assert_array_equal(np.isnan(ref), expected_nan)
    assert_allclose(got[~expected_nan], ref[~expected_nan], rtol=0, atol=1e-12)


def test_nan_strided_dilated_matches_reference_mask(simd_path: str) -> None:
    """Output row r reads input rows 2r-1, 2r+1, 2r+3 (pad 1, dilation 2, stride 2) and output
    column c reads input columns 3c, 3c+1: a NaN at (7, 4) reaches rows 2..4 of column 1, and a
    NaN on an even row is never read at all."""
    rng = np.random.default_rng(47)
    x = rng.standard_normal((1, 3, 15, 13))
    x[0, 1, 7, 4] = np.nan
    x[0, 2, 6, 0] = np.nan  # even row: skipped by the stride
    w = rng.uniform(0.5, 1.0, size=(4, 3, 3, 2))
    kwargs: dict[str, Any] = {"stride": (2, 3), "dilation": (2, 1), "padding": ((1, 2), (0, 3))}
    got = kernelkit.conv2d(x, w, **kwargs)
    ref = ref_conv2d(x, w, stride=(2, 3), pads=(1, 2, 0, 3), dilation=(2, 1))
    mask = np.zeros(ref.shape, dtype=bool)
    mask[0, :, 2:5, 1] = True
    assert_array_equal(np.isnan(ref), mask)
    assert_array_equal(np.isnan(got), mask)
    assert_allclose(got[~mask], ref[~mask], rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_horizontal_edge_filter(layout: str, simd_path: str) -> None:
    """Bright (1) rows above dark (0) rows: the filter [[1,1,1],[0,0,0],[-1,-1,-1]] responds
    positively exactly where its window straddles the edge and is zero elsewhere."""
    img = np.zeros((1, 1, 10, 9), dtype=np.float32)
    img[:, :, :4] = 1.0  # rows 0-3 bright, rows 4-9 dark: the edge is between rows 3 and 4
    kernel = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=np.float32)[None, None]
    got = kernelkit.conv2d(
        nchw_to(layout, img), oihw_to("OIHW", kernel), layout=layout, weight_layout="OIHW"
    )
    got = got if layout == "NCHW" else got.transpose(0, 3, 1, 2)
    ref = ref_conv2d(img, kernel)
    assert_array_equal(got, ref)
    response = got[0, 0]
    # output row r looks at input rows r..r+2: it straddles the edge for r = 2 (rows 2-4) and
    # r = 3 (rows 3-5); the top minus the bottom row is 1 - 0 per column there
    edge_rows = [r for r in range(response.shape[0]) if r <= 3 < r + 2]
    assert edge_rows == [2, 3]
    assert (response[edge_rows] > 0).all()
    assert (np.delete(response, edge_rows, axis=0) == 0).all()
    # a dark-above-bright image gives the opposite sign
    flipped = kernelkit.conv2d(1 - img, kernel)
    assert (flipped[0, 0, edge_rows] < 0).all()


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

X = np.ones((2, 4, 6, 5))
W = np.ones((6, 2, 3, 3))  # groups=2 fits X


def _error_id(kwargs: dict[str, Any]) -> str:
    """Readable test ids: ``groups=2.0``, ``weight=ones(6,2,9,3)``, ``bias=ones(6)complex128``."""
    parts = []
    for key, v in kwargs.items():
        if isinstance(v, np.ndarray):
            dtype = "" if v.dtype == np.float64 else str(v.dtype)
            parts.append(f"{key}=ones{v.shape}{dtype}".replace(" ", "").replace(",)", ")"))
        else:
            parts.append(f"{key}={v!r}".replace(" ", ""))
    return ",".join(parts)


ERROR_CASES: list[tuple[dict[str, Any], Any, str]] = [
    ({"x": np.ones((6, 5))}, ValueError, "^x:"),
    ({"x": np.ones((1, 2, 4, 6, 5))}, ValueError, "^x:"),
    ({"x": np.ones(5)}, ValueError, "^x:"),
    ({"x": np.ones((2, 4, 6, 5), dtype=complex)}, TypeError, "^x:"),
    # complex x is refused, so complex weights/bias must not silently lose their imaginary part
    ({"weight": np.ones((6, 2, 3, 3), dtype=complex)}, TypeError, "^weight:"),
    ({"bias": np.ones(6, dtype=complex)}, TypeError, "^bias:"),
    ({"weight": np.ones((6, 2, 3))}, ValueError, "^weight:"),
    ({"weight": np.ones((1, 6, 2, 3, 3))}, ValueError, "^weight:"),
    ({"weight": np.ones((6, 3, 3, 3))}, ValueError, "^(groups|weight):"),  # C/groups wrong
    ({"groups": 3}, ValueError, "^groups:"),  # does not divide C=4
    ({"weight": np.ones((5, 2, 3, 3))}, ValueError, "^groups:"),  # does not divide O=5
    ({"groups": 0}, ValueError, "^groups:"),
    ({"groups": -2}, ValueError, "^groups:"),
    ({"groups": 2.0}, TypeError, "groups"),
    ({"stride": 0}, ValueError, "^stride:"),
    ({"stride": (1, 0)}, ValueError, "^stride:"),
    ({"stride": -1}, ValueError, "^stride:"),
    ({"stride": (1, 2, 3)}, ValueError, "^stride:"),
    ({"stride": 1.5}, TypeError, "^stride:"),
    ({"dilation": 0}, ValueError, "^dilation:"),
    ({"dilation": (0, 1)}, ValueError, "^dilation:"),
    ({"dilation": "2"}, TypeError, "^dilation:"),
    ({"padding": -1}, ValueError, "^padding:"),
    ({"padding": (0, -1)}, ValueError, "^padding:"),
    ({"padding": ((0, 0), (-1, 2))}, ValueError, "^padding:"),
    ({"padding": "full"}, ValueError, "^padding:"),
    ({"padding": ""}, ValueError, "^padding:"),
    ({"padding": (1, 2, 3)}, ValueError, "^padding:"),
    ({"padding": 1.5}, (ValueError, TypeError), "^padding:"),
    ({"weight": np.ones((6, 2, 9, 3))}, ValueError, "^weight:"),  # taller than 6 rows
    ({"weight": np.ones((6, 2, 3, 3)), "dilation": (1, 3)}, ValueError, "^weight:"),
    ({"weight": np.ones((6, 2, 8, 3)), "padding": ((1, 0), (0, 0))}, ValueError, "^weight:"),
    ({"bias": np.ones(5)}, ValueError, "^bias:"),
    ({"bias": np.ones((1, 6))}, ValueError, "^bias:"),
    ({"bias": 1.0}, ValueError, "^bias:"),
    ({"layout": "NWHC"}, ValueError, "^layout:"),
    ({"layout": "CHW"}, ValueError, "^layout:"),
    ({"weight_layout": "OHWI"}, ValueError, "^weight_layout:"),
    ({"activation": "gelu"}, ValueError, "^activation:"),
    ({"activation": "ReLU6"}, ValueError, "^activation:"),
    ({"n_threads": 0}, ValueError, "^n_threads:"),
    ({"n_threads": 1.5}, TypeError, "^n_threads:"),
]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"), [pytest.param(*case, id=_error_id(case[0])) for case in ERROR_CASES]
)
def test_errors(kwargs: dict[str, Any], exc: type | tuple[type, ...], match: str) -> None:
    args: dict[str, Any] = {"x": X, "weight": W, "groups": 2, **kwargs}
    with pytest.raises(exc, match=match):
        kernelkit.conv2d(**args)


def test_valid_baseline_for_error_cases() -> None:
    """The error cases differ from this working call in one argument only."""
    got = kernelkit.conv2d(X, W, np.ones(6), groups=2)
    assert got.shape == (2, 6, 4, 3)
    assert_array_equal(got, np.full((2, 6, 4, 3), 2 * 9 + 1.0))


@pytest.mark.parametrize(
    ("c", "o", "k", "stride", "dilation", "pads", "groups"),
    [
        (3, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),  # the classic RGB first layer
        (1, 5, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), 1),  # gray, a partial channel block
        (3, 17, (7, 7), (2, 2), (1, 1), (3, 3, 3, 3), 1),  # ResNet's stem, one channel over
        (4, 9, (5, 3), (3, 2), (2, 1), (2, 0, 1, 3), 1),  # strides, dilation, uneven pads
        (2, 6, (1, 4), (1, 3), (1, 2), (0, 1, 2, 2), 1),
        (4, 10, (3, 3), (2, 1), (1, 3), (1, 1, 3, 3), 2),  # two groups of 2 channels
        (3, 3, (2, 2), (1, 1), (1, 1), (0, 0, 0, 0), 3),  # depthwise stays on its own path
        (7, 9, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),  # the most channels the kernel takes
        (12, 10, (3, 2), (2, 1), (1, 1), (1, 0, 1, 1), 2),  # 6 per group
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
@pytest.mark.parametrize("width", [1, 7, 37, 211])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_few_input_channels(
    c: int,
    o: int,
    k: Pair,
    stride: Pair,
    dilation: Pair,
    pads: Sides,
    groups: int,
    dtype: type,
    width: int,
    layout: str,
    simd_path: str,
) -> None:
    """Layers with few input channels per group (<= 7) run a direct kernel: strips of output
    pixels in registers, every strip tail and column chunks (1, 7, 37, 211 input columns), partial
    channel blocks, stride phases, bias and leaky ReLU, both layouts (NHWC output written through
    transposes), against the float64 reference."""
    rng = np.random.default_rng(width * 31 + c)
    h = 9
    top, bottom, left, right = pads
    width = max(width, dilation[1] * (k[1] - 1) + 1 - left - right)  # at least one output column
    w = rng.standard_normal((o, c // groups, *k)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    padding = ((top, bottom), (left, right))
    # Two calls on different images: an output pixel the kernel forgets to write would show the
    # first call's value (its scratch is reused) in the second.
    for x in rng.standard_normal((2, 2, c, h, width)).astype(dtype):
        got = kernelkit.conv2d(
            nchw_to(layout, x),
            w,
            bias,
            stride,
            padding,
            dilation,
            groups,
            layout=layout,
            weight_layout="OIHW",
            activation="leaky_relu",
            alpha=0.1,
        )
        ref = ref_conv2d(x, w, bias, stride, pads, dilation, groups, "leaky_relu", 0.1)
        assert got.shape == nchw_to(layout, ref).shape
        assert rel_err(got, nchw_to(layout, ref)) <= TOL[dtype]


@pytest.mark.parametrize(("c", "o", "groups"), [(5, 7, 1), (64, 13, 1), (64, 40, 4), (12, 1, 1)])
@pytest.mark.parametrize("hw", [(1, 1), (7, 9), (4, 8), (13, 17), (31, 29), (28, 28)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=DTYPE_IDS.get)
def test_pointwise_unpadded(
    c: int, o: int, groups: int, hw: Pair, dtype: type, simd_path: str
) -> None:
    """1x1 convolutions without stride or padding (NCHW) run the direct kernel over each image as
    one row of pixels, read in place when it is whole vectors long (32 and 784 pixels) and from a
    copy otherwise: pixel counts across column chunks, partial channel blocks, groups, bias and
    ReLU, against the float64 reference."""
    rng = np.random.default_rng(c * 7 + o)
    w = rng.standard_normal((o, c // groups, 1, 1)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    for x in rng.standard_normal((2, 2, c, *hw)).astype(dtype):  # unwritten pixels show in call 2
        got = kernelkit.conv2d(x, w, bias, dilation=2, groups=groups, activation="relu")
        ref = ref_conv2d(x, w, bias, groups=groups, activation="relu")
        assert got.shape == ref.shape
        assert rel_err(got, ref) <= TOL[dtype]
