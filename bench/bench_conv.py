"""Benchmark kernelkit.conv2d against NumPy, PyTorch and onnxruntime, with the OpenBLAS ceiling.

Every case (the issue's nine convolutions) is timed in one process and one run, with the same
thread count T for every peer:

* kernelkit: ``kernelkit.conv2d(..., n_threads=T)``, NCHW/OIHW or (``--layout NHWC``) NHWC/HWIO;
* NumPy: ``np.pad`` + ``sliding_window_view`` + ``np.einsum(..., optimize=True)`` inside
  ``threadpoolctl.threadpool_limits(T)`` (which also caps every OpenMP runtime loaded);
* PyTorch CPU (when installed): ``torch.nn.functional.conv2d`` after ``torch.set_num_threads(T)``;
* onnxruntime (when installed): a one-node ``Conv`` model built with ``onnx.helper``,
  ``intra_op_num_threads=T``, ``inter_op_num_threads=1``, sequential execution.

The same run measures the OpenBLAS GEMM ceiling (NumPy ``A @ B``: a square 2048^3 sgemm/dgemm, and
the GEMM of each case's im2col shape), checks every output against PyTorch's (NumPy's without
PyTorch), measures the memory each kernelkit call needs beyond its input, weights and output (in a
fresh subprocess), and prints the issue's target for each row with PASS/MISS.

Run ``python bench/bench_conv.py --help`` for the options and bench/README.md for how to run it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import kernelkit
from _common import (
    Array,
    Timing,
    add_common_arguments,
    base_environment,
    check_common_arguments,
    fmt_ms,
    fmt_opt,
    fmt_ratio,
    kernelkit_line,
    log_run_warnings,
    log_stderr,
    markdown_table,
    max_abs_diff,
    measure,
    optional_import,
    package_version,
    report_warnings,
    system_lines,
    text_table,
    threadpool_lines,
    timing_line,
    timing_settings,
    to_numpy,
    versions_line,
    within,
    write_reports,
)
from kernelkit.bench.ceilings import copy_gbps, fma_peak_gflops
from kernelkit.bench.suite_conv import ONNX_OPSET, numpy_einsum_conv, onnxruntime_conv
from networks import NETWORKS, Layer

SCRIPT = "bench/bench_conv.py"
PEERS: tuple[str, ...] = ("numpy", "torch", "onnxruntime")
PEER_LABELS: dict[str, str] = {"numpy": "numpy", "torch": "torch", "onnxruntime": "ort"}
BEST_OF: tuple[str, ...] = ("torch", "onnxruntime")  # "vs best" = the faster of these two
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}
RTOL: dict[str, float] = {"float32": 1e-3, "float64": 1e-9}  # max|diff| / max|reference|
MIB = 2**20
MEMORY_FLOOR_BYTES = 16 * MIB  # the limit is max(16 MiB, 10% of the output)
MEMORY_OUTPUT_FRACTION = 0.10
DEFAULT_GEMM_SIZE = 2048
QUICK_GEMM_SIZE = 1024
# Rounds of kernelkit-then-every-peer series per case: the minimum of a library is its best round.
DEFAULT_ROUNDS = 3
FMA_SECONDS = 0.3

torch = optional_import("torch")
onnx = optional_import("onnx")
ort = optional_import("onnxruntime")
onnx_helper = optional_import("onnx.helper") if onnx is not None else None
onnx_numpy_helper = optional_import("onnx.numpy_helper") if onnx is not None else None


# --------------------------------------------------------------------------------------------
# Cases and their targets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """kernelkit must reach ``minimum``: a speed-up over a peer (x) or a % of a ceiling (the FMA
    peak of the SIMD path, or the copy bandwidth for memory-bound cases)."""

    against: str  # "best" (faster of torch and onnxruntime), "torch", "numpy", "fma" or "copy"
    minimum: float

    @property
    def label(self) -> str:
        if self.against in ("fma", "copy"):
            return f"{self.against}>={self.minimum:g}%"
        name = {"numpy": "np", "torch": "torch", "best": "best"}[self.against]
        return f"{name}>={self.minimum:g}x"


@dataclass(frozen=True)
class ConvCase:
    """One convolution: N x Cin x H x W (H = W) -> N x Cout x OH x OW, square kernel."""

    index: int
    name: str
    n: int
    cin: int
    cout: int
    k: int
    stride: int
    pad: int
    hw: int
    groups: int = 1
    dtype: str = "float32"
    targets: tuple[Target, ...] = ()
    quick: tuple[int, int] = (1, 8)  # (N, H=W) of the --quick variant

    @property
    def out_hw(self) -> int:
        return (self.hw + 2 * self.pad - self.k) // self.stride + 1

    @property
    def flops(self) -> int:
        """2 N OH OW Cout (Cin/groups) KH KW."""
        return 2 * self.n * self.out_hw**2 * self.cout * (self.cin // self.groups) * self.k**2

    @property
    def gemm_shape(self) -> tuple[int, int, int]:
        """(M, N, K) of the im2col GEMM of one group: N OH OW, Cout/groups, Cin/groups KH KW."""
        return (
            self.n * self.out_hw**2,
            self.cout // self.groups,
            self.cin // self.groups * self.k**2,
        )

    def x_shape(self, layout: str) -> tuple[int, ...]:
        if layout == "NHWC":
            return (self.n, self.hw, self.hw, self.cin)
        return (self.n, self.cin, self.hw, self.hw)

    def w_shape(self, layout: str) -> tuple[int, ...]:
        """OIHW with NCHW, HWIO with NHWC (kernelkit's default weight layout for each)."""
        if layout == "NHWC":
            return (self.k, self.k, self.cin // self.groups, self.cout)
        return (self.cout, self.cin // self.groups, self.k, self.k)

    def out_shape(self, layout: str) -> tuple[int, ...]:
        if layout == "NHWC":
            return (self.n, self.out_hw, self.out_hw, self.cout)
        return (self.n, self.cout, self.out_hw, self.out_hw)

    def out_bytes(self) -> int:
        return int(np.prod(self.out_shape("NCHW"))) * np.dtype(self.dtype).itemsize

    @property
    def bytes_moved(self) -> int:
        """Input and output bytes: what one pass over memory reads and writes at least."""
        return int(np.prod(self.x_shape("NCHW"))) * np.dtype(self.dtype).itemsize + self.out_bytes()

    @property
    def memory_bound(self) -> bool:
        """Depthwise: too few FLOPs per byte for the FMA peak to bound it."""
        return self.groups > 1 and self.groups == self.cin

    def memory_limit(self) -> int:
        """The allowed extra memory of one call: max(16 MiB, 10% of the output)."""
        return max(MEMORY_FLOOR_BYTES, int(MEMORY_OUTPUT_FRACTION * self.out_bytes()))

    def describe(self) -> str:
        """e.g. ``8x64->64 3x3 s1 p1 56`` (``dw`` for depthwise, ``g<groups>`` otherwise)."""
        if self.groups > 1 and self.groups == self.cin == self.cout:
            channels = f"dw {self.n}x{self.cin}"
        else:
            channels = f"{self.n}x{self.cin}->{self.cout}"
            if self.groups > 1:
                channels += f" g{self.groups}"
        return f"{channels} {self.k}x{self.k} s{self.stride} p{self.pad} {self.hw}"

    def quick_variant(self) -> ConvCase:
        n, hw = self.quick
        return dataclasses.replace(self, n=n, hw=hw)


FIRST = (Target("best", 1.5),)
GEMM3 = (Target("best", 1.05), Target("fma", 90.0))
CASES: tuple[ConvCase, ...] = (
    ConvCase(1, "stem3-b1", 1, 3, 16, 3, 1, 0, 128, targets=FIRST, quick=(1, 64)),
    ConvCase(2, "stem3-b32", 32, 3, 16, 3, 1, 1, 128, targets=FIRST, quick=(4, 64)),
    ConvCase(3, "c64-56", 8, 64, 64, 3, 1, 1, 56, targets=GEMM3, quick=(2, 28)),
    ConvCase(4, "c128-28", 8, 128, 128, 3, 1, 1, 28, targets=GEMM3, quick=(2, 28)),
    ConvCase(5, "c256-14", 8, 256, 256, 3, 1, 1, 14, targets=GEMM3, quick=(2, 14)),
    ConvCase(6, "stem7-s2", 4, 3, 64, 7, 2, 3, 224, targets=(Target("best", 1.1),), quick=(1, 112)),
    ConvCase(7, "pw256-64", 8, 256, 64, 1, 1, 0, 28, targets=(Target("best", 1.1),), quick=(2, 28)),
    ConvCase(
        8,
        "dw128-56",
        8,
        128,
        128,
        3,
        1,
        1,
        56,
        groups=128,
        targets=(Target("best", 1.5), Target("copy", 70.0)),
        quick=(2, 28),
    ),
    ConvCase(
        9,
        "f64-c64-56",
        8,
        64,
        64,
        3,
        1,
        1,
        56,
        dtype="float64",
        targets=(Target("torch", 3.0), Target("fma", 90.0)),
        quick=(2, 28),
    ),
)


def select_cases(selectors: Sequence[str] | None) -> list[ConvCase]:
    """The cases named by index (1-9) or name, in table order; all of them without selectors."""
    if not selectors:
        return list(CASES)
    by_key = {str(c.index): c for c in CASES} | {c.name: c for c in CASES}
    unknown = [s for s in selectors if s not in by_key]
    if unknown:
        choices = ", ".join(f"{c.index}={c.name}" for c in CASES)
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; choose from {choices}")
    wanted = {by_key[s].index for s in selectors}
    return [c for c in CASES if c.index in wanted]


# --------------------------------------------------------------------------------------------
# Peers (all of them run NCHW input and OIHW weights, their native layout)
# --------------------------------------------------------------------------------------------


def torch_call(x: Array, w: Array, case: ConvCase) -> Callable[[], Any]:
    """``F.conv2d`` on tensors that share memory with the NumPy arrays (nothing copied)."""
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    conv = torch.nn.functional.conv2d

    def call() -> Any:
        return conv(xt, wt, None, case.stride, case.pad, 1, case.groups)

    return call


def available_peers(requested: Sequence[str]) -> list[str]:
    """The requested peers whose packages are installed."""
    missing = {
        "numpy": False,
        "torch": torch is None,
        "onnxruntime": ort is None or onnx_helper is None or onnx_numpy_helper is None,
    }
    return [peer for peer in PEERS if peer in requested and not missing[peer]]


def missing_peer_note(peer: str) -> str:
    if peer == "torch":
        return "torch is not installed; skipping it (pip install torch==2.13.0)"
    return "onnx/onnxruntime are not installed; skipping them (pip install onnx onnxruntime)"


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class GemmCeiling:
    """OpenBLAS ``A @ B`` (M x K times K x N) through NumPy, in the case's dtype."""

    dtype: str
    m: int
    n: int
    k: int
    timing: Timing

    @property
    def gflops(self) -> float:
        return 2.0 * self.m * self.n * self.k / min(self.timing.times_s) / 1e9


@dataclass
class Memory:
    """Extra bytes of one kernelkit call beyond x, weights and out (see memory_probe)."""

    limit_bytes: int
    extra_bytes: int | None = None
    method: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool | None:
        return None if self.extra_bytes is None else self.extra_bytes <= self.limit_bytes


@dataclass
class CaseResult:
    """One case: kernelkit's timing, the peers', the ceilings, correctness and memory."""

    case: ConvCase
    layout: str
    kernelkit: Timing
    peers: dict[str, Timing | None] = field(default_factory=dict)
    peer_notes: dict[str, str] = field(default_factory=dict)
    diffs: dict[str, float] = field(default_factory=dict)
    reference: str = "none"
    ref_scale: float = float("nan")  # max |reference|
    shape_gemm: GemmCeiling | None = None
    ceiling_gflops: float | None = None
    memory: Memory | None = None
    oneshot: Timing | None = None  # kernelkit.conv2d (kernelkit above: a prepared Conv2d)
    fma_gflops: float | None = None  # the FMA peak of the SIMD path in this run
    copy_gbps: float | None = None  # x.copy() of the case's input, bytes read + written per s

    def peer_ms(self, peer: str) -> float | None:
        timing = self.peers.get(peer)
        return None if timing is None else timing.min_ms

    def speedup(self, peer: str) -> float | None:
        ms = self.peer_ms(peer)
        return None if ms is None else ms / self.kernelkit.min_ms

    @property
    def best_peer(self) -> str | None:
        """The faster of PyTorch and onnxruntime (of those that ran)."""
        timed = [(ms, p) for p in BEST_OF if (ms := self.peer_ms(p)) is not None]
        return min(timed)[1] if timed else None

    def vs_best(self) -> float | None:
        best = self.best_peer
        return None if best is None else self.speedup(best)

    @property
    def gflops(self) -> float:
        return self.case.flops / min(self.kernelkit.times_s) / 1e9

    @property
    def pct_gemm(self) -> float | None:
        return None if not self.ceiling_gflops else 100.0 * self.gflops / self.ceiling_gflops

    @property
    def pct_fma(self) -> float | None:
        return None if not self.fma_gflops else 100.0 * self.gflops / self.fma_gflops

    @property
    def pct_copy(self) -> float | None:
        """Input + output bytes per second of kernelkit's call, as a % of the copy bandwidth."""
        if not self.copy_gbps:
            return None
        gbps = self.case.bytes_moved / min(self.kernelkit.times_s) / 1e9
        return 100.0 * gbps / self.copy_gbps

    @property
    def pct_peak(self) -> float | None:
        """% of the ceiling that bounds the case: copy bandwidth (depthwise) or FMA peak."""
        return self.pct_copy if self.case.memory_bound else self.pct_fma

    @property
    def oneshot_ratio(self) -> float | None:
        """One-shot conv2d time / prepared Conv2d time (min over the rounds)."""
        return None if self.oneshot is None else self.oneshot.min_ms / self.kernelkit.min_ms

    @property
    def rel_diff(self) -> float | None:
        diff = self.diffs.get("kernelkit")
        if diff is None:
            return None
        return diff / self.ref_scale if self.ref_scale > 0 else diff

    @property
    def correct(self) -> bool | None:
        rel = self.rel_diff
        return None if rel is None else within(rel, RTOL[self.case.dtype])

    def target_value(self, target: Target) -> float | None:
        if target.against == "fma":
            return self.pct_fma
        if target.against == "copy":
            return self.pct_copy
        if target.against == "best":
            return self.vs_best()
        return self.speedup(target.against)

    def missed(self) -> tuple[list[str], list[str]]:
        """(labels of the targets missed, labels that could not be evaluated)."""
        missed, unknown = [], []
        for target in self.case.targets:
            value = self.target_value(target)
            if value is None:
                unknown.append(target.label)
            elif value < target.minimum:
                missed.append(target.label)
        if self.memory is not None and self.memory.ok is False:
            missed.append("memory")
        return missed, unknown

    def status(self) -> str:
        """FAIL (wrong result), MISS (with the targets missed) or PASS; n/a: not evaluated."""
        if self.correct is False:
            return "FAIL: wrong result"
        missed, unknown = self.missed()
        status = "MISS: " + ", ".join(missed) if missed else "PASS"
        return status + (f" (n/a: {', '.join(unknown)})" if unknown else "")


# --------------------------------------------------------------------------------------------
# Memory: one kernelkit call in a fresh subprocess
# --------------------------------------------------------------------------------------------

# Runs in a fresh interpreter (only NumPy and kernelkit imported). x, weights and the output array
# (passed as out=, so the output is not counted) are allocated and touched first, and a tiny
# convolution starts the OpenMP threads; then the peak RSS is reset to the current RSS (Linux:
# "5" > /proc/self/clear_refs), one call runs, and extra = VmHWM after - VmRSS before. Where the
# reset is refused, ru_maxrss gives the exact value when the call raised the peak, else only an
# upper bound (the earlier peak - VmRSS before).
MEMORY_PROBE = r"""
import json, resource, sys
import numpy as np
import kernelkit

def status_kib():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields

spec = json.loads(sys.argv[1])
dtype = np.dtype(spec["dtype"])
x = np.ones(spec["x_shape"], dtype)
w = np.ones(spec["w_shape"], dtype)
out = np.ones(spec["out_shape"], dtype)
options = dict(layout=spec["layout"], n_threads=spec["threads"])
tiny = (1, 1, 4, 4) if spec["layout"] == "NCHW" else (1, 4, 4, 1)
kernelkit.conv2d(np.ones(tiny, dtype), np.ones((1, 1, 1, 1), dtype), **options)
try:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    reset = True
except OSError:
    reset = False
before = status_kib()
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kernelkit.conv2d(x, w, None, spec["stride"], spec["padding"], 1, spec["groups"], out=out,
                 **options)
after = status_kib()
maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if reset:
    extra, method = after["VmHWM"] - before["VmRSS"], "VmHWM after - VmRSS before (peak reset)"
elif maxrss_after > maxrss_before:
    extra, method = maxrss_after - before["VmRSS"], "ru_maxrss after - VmRSS before"
else:
    extra, method = maxrss_before - before["VmRSS"], "upper bound: earlier peak - VmRSS before"
print(json.dumps({"extra_kib": max(0, extra), "method": method, "reset": reset,
                  "before": before, "after": after}))
"""


def memory_probe(case: ConvCase, layout: str, threads: int) -> Memory:
    """Extra memory of one kernelkit call on ``case`` (a fresh subprocess; see MEMORY_PROBE)."""
    memory = Memory(case.memory_limit())
    spec = {
        "dtype": case.dtype,
        "layout": layout,
        "threads": threads,
        "x_shape": case.x_shape(layout),
        "w_shape": case.w_shape(layout),
        "out_shape": case.out_shape(layout),
        "stride": case.stride,
        "padding": case.pad,
        "groups": case.groups,
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        memory.error = f"probe did not run: {exc}"
        return memory
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        memory.error = f"probe exited with {proc.returncode}: {tail}"
        return memory
    report = json.loads(lines[-1])
    memory.extra_bytes = 1024 * int(report["extra_kib"])
    memory.method = report["method"]
    return memory


# --------------------------------------------------------------------------------------------
# Running the benchmark
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    """What to run, from the command line."""

    threads: int
    layout: str
    cases: list[ConvCase]
    quick: bool
    peers: list[str]
    repeats: int
    rounds: int
    peer_budget_s: float
    settle_s: float
    gemm_size: int
    shape_gemm: bool
    memory: bool
    seed: int
    networks: list[str] = field(default_factory=list)
    network_batches: list[int] = field(default_factory=list)
    fma_gflops: dict[str, float] = field(default_factory=dict)  # measured by run_benchmark
    network_results: list[NetworkResult] = field(default_factory=list)  # filled by run_benchmark


def make_data(case: ConvCase, seed: int) -> tuple[Array, Array]:
    """x ~ N(0, 1) in NCHW and weights ~ N(0, 1/fan_in) in OIHW, in the case's dtype."""
    rng = np.random.default_rng([seed, case.index])
    dtype = DTYPES[case.dtype]
    x = rng.standard_normal(case.x_shape("NCHW"), dtype=dtype)
    w = rng.standard_normal(case.w_shape("NCHW"), dtype=dtype)
    w *= 1.0 / np.sqrt(case.cin // case.groups * case.k**2)
    return x, w


def kernelkit_inputs(x: Array, w: Array, layout: str) -> tuple[Array, Array]:
    """x and weights in kernelkit's layout: as they are (NCHW/OIHW) or NHWC/HWIO copies."""
    if layout == "NCHW":
        return x, w
    return (
        np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
        np.ascontiguousarray(w.transpose(2, 3, 1, 0)),
    )


def measure_gemm(
    dtype: str, m: int, n: int, k: int, cfg: Config, rng: np.random.Generator
) -> GemmCeiling:
    """OpenBLAS ``A @ B`` (M x K times K x N) through NumPy, every repeat (no budget)."""
    a = rng.standard_normal((m, k), dtype=DTYPES[dtype])
    b = rng.standard_normal((k, n), dtype=DTYPES[dtype])
    timing, _ = measure(lambda: a @ b, cfg.repeats, None, cfg.settle_s)
    return GemmCeiling(dtype, m, n, k, timing)


def peer_call(peer: str, x: Array, w: Array, case: ConvCase, threads: int) -> Callable[[], Any]:
    """A no-argument call of the convolution by ``peer`` on the NCHW/OIHW arrays."""
    if peer == "numpy":
        return lambda: numpy_einsum_conv(x, w, case)
    if peer == "torch":
        return torch_call(x, w, case)
    return onnxruntime_conv(ort, x, w, case, threads)


def run_case(case: ConvCase, cfg: Config, ceilings: dict[str, GemmCeiling]) -> CaseResult:
    """Time kernelkit, the peers and the shape's GEMM on one case; check the outputs.

    Each of ``cfg.rounds`` rounds times a series of kernelkit and then of every peer, so that a
    burst of load from other processes hits every library's minimum alike.
    """
    x, w = make_data(case, cfg.seed)
    xk, wk = kernelkit_inputs(x, w, cfg.layout)
    prepared = kernelkit.Conv2d(wk, None, case.stride, case.pad, 1, case.groups, layout=cfg.layout)
    calls: dict[str, Callable[[], Any]] = {
        "kernelkit": lambda: prepared(xk, n_threads=cfg.threads),
        "kernelkit_oneshot": lambda: kernelkit.conv2d(
            xk,
            wk,
            None,
            case.stride,
            case.pad,
            1,
            case.groups,
            layout=cfg.layout,
            n_threads=cfg.threads,
        ),
    }
    notes: dict[str, str] = {}
    for peer in cfg.peers:
        try:
            calls[peer] = peer_call(peer, x, w, case, cfg.threads)
        except Exception as exc:  # onnxruntime: no float64 Conv
            notes[peer] = str(exc).strip().splitlines()[0][:160]
    timings: dict[str, Timing] = {}
    outputs: dict[str, Array] = {}
    for _ in range(cfg.rounds):
        for name, call in calls.items():
            budget = None if name.startswith("kernelkit") else cfg.peer_budget_s
            timing, output = measure(call, cfg.repeats, budget, cfg.settle_s)
            timings[name] = timings[name].merged(timing) if name in timings else timing
            outputs.setdefault(name, to_numpy(output))
            del output
    result = CaseResult(
        case,
        cfg.layout,
        timings.pop("kernelkit"),
        ceiling_gflops=ceilings[case.dtype].gflops,
        oneshot=timings.pop("kernelkit_oneshot"),
        fma_gflops=cfg.fma_gflops.get(case.dtype),
        copy_gbps=copy_gbps(x.nbytes, cfg.repeats),
    )

    if cfg.layout == "NHWC":
        for name in ("kernelkit", "kernelkit_oneshot"):
            outputs[name] = outputs[name].transpose(0, 3, 1, 2)
    for peer in cfg.peers:
        result.peers[peer] = timings.get(peer)
        if peer in notes:
            result.peer_notes[peer] = notes[peer]
    check_outputs(result, outputs)
    del outputs
    if cfg.shape_gemm and case.groups == 1:
        m, n, k = case.gemm_shape
        rng = np.random.default_rng([cfg.seed, case.index, 1])
        result.shape_gemm = measure_gemm(case.dtype, m, n, k, cfg, rng)
    return result


def check_outputs(result: CaseResult, outputs: dict[str, Array]) -> None:
    """``max |y - y_ref|`` of every output against PyTorch's (NumPy's without PyTorch)."""
    ref_name = next((name for name in ("torch", "numpy") if name in outputs), None)
    if ref_name is None:
        return
    reference = outputs[ref_name]
    result.reference = ref_name
    result.ref_scale = float(np.max(np.abs(reference), initial=0.0))
    for name, output in outputs.items():
        if name != ref_name:
            result.diffs[name] = max_abs_diff(output, reference)


def run_benchmark(
    cfg: Config, log: Callable[[str], None]
) -> tuple[dict[str, GemmCeiling], list[CaseResult]]:
    """The square GEMM ceiling of each dtype, every case, then the memory probes."""
    ceilings: dict[str, GemmCeiling] = {}
    size = cfg.gemm_size
    for dtype in sorted({c.dtype for c in cfg.cases}):
        cfg.fma_gflops[dtype] = fma_peak_gflops(dtype, cfg.threads, FMA_SECONDS)
        log(f"  FMA peak {dtype} ({kernelkit.simd_path()}): {cfg.fma_gflops[dtype]:.1f} GFLOP/s")
        rng = np.random.default_rng([cfg.seed, size])
        ceilings[dtype] = measure_gemm(dtype, size, size, size, cfg, rng)
        log(
            f"  {'sgemm' if dtype == 'float32' else 'dgemm'} {size}^3: "
            f"{ceilings[dtype].timing.min_ms:.1f} ms ({ceilings[dtype].gflops:.1f} GFLOP/s)"
        )
    results = []
    for case in cfg.cases:
        result = run_case(case, cfg, ceilings)
        results.append(result)
        log(
            f"  {case.index} {case.name:<11} kernelkit {result.kernelkit.min_ms:8.2f} ms  "
            + "  ".join(f"{PEER_LABELS[p]} {fmt_ms(result.peer_ms(p))}" for p in result.peers)
        )
    if cfg.memory:
        log("  memory: one kernelkit call per case in a fresh subprocess ...")
        for result in results:
            result.memory = memory_probe(result.case, cfg.layout, cfg.threads)
    for name in cfg.networks:
        for batch in cfg.network_batches:
            log(f"  {name}, batch {batch}: every conv layer ...")
            network = run_network(name, batch, cfg)
            cfg.network_results.append(network)
            log(f"    {network_title(network)}")
    return ceilings, results


# --------------------------------------------------------------------------------------------
# Whole networks: every conv layer of ResNet-18 and MobileNetV2
# --------------------------------------------------------------------------------------------

NETWORK_SETTLE_S = 0.1  # shorter pauses than the cases' (hundreds of series)


@dataclass
class LayerResult:
    layer: Layer
    kernelkit: Timing
    peers: dict[str, Timing]

    def vs_best(self) -> float | None:
        best = [t.min_ms for p, t in self.peers.items() if p in BEST_OF]
        return min(best) / self.kernelkit.min_ms if best else None


@dataclass
class NetworkResult:
    network: str
    batch: int
    layers: list[LayerResult]

    def total_ms(self, name: str) -> float | None:
        """Sum over the network of count x min ms (None when the library missed a layer)."""
        times = [r.kernelkit if name == "kernelkit" else r.peers.get(name) for r in self.layers]
        if any(t is None for t in times):
            return None
        return sum(r.layer.count * t.min_ms for r, t in zip(self.layers, times) if t)

    def vs_best(self) -> float | None:
        peers = [ms for p in BEST_OF if (ms := self.total_ms(p)) is not None]
        kk = self.total_ms("kernelkit")
        return min(peers) / kk if peers and kk else None

    def worst_layer(self) -> float | None:
        ratios = [v for r in self.layers if (v := r.vs_best()) is not None]
        return min(ratios) if ratios else None


def run_network(name: str, batch: int, cfg: Config) -> NetworkResult:
    """Each layer: prepared kernelkit, then torch and onnxruntime, ``cfg.rounds`` rounds."""
    peers = [p for p in cfg.peers if p in BEST_OF]
    layers = []
    for layer in NETWORKS[name]():
        case = ConvCase(
            0,
            layer.name,
            batch,
            layer.cin,
            layer.cout,
            layer.k,
            layer.stride,
            layer.pad,
            layer.hw,
            groups=layer.groups,
        )
        x, w = make_data(case, cfg.seed)
        xk, wk = kernelkit_inputs(x, w, cfg.layout)
        conv = kernelkit.Conv2d(
            wk, None, layer.stride, layer.pad, 1, layer.groups, layout=cfg.layout
        )
        calls: dict[str, Callable[[], Any]] = {
            "kernelkit": lambda conv=conv, xk=xk: conv(xk, n_threads=cfg.threads)
        }
        for peer in peers:
            calls[peer] = peer_call(peer, x, w, case, cfg.threads)
        timings: dict[str, Timing] = {}
        for _ in range(cfg.rounds):
            for lib, call in calls.items():
                timing, _ = measure(call, cfg.repeats, cfg.peer_budget_s, NETWORK_SETTLE_S)
                timings[lib] = timings[lib].merged(timing) if lib in timings else timing
        kk = timings.pop("kernelkit")
        layers.append(LayerResult(layer, kk, timings))
    return NetworkResult(name, batch, layers)


def network_rows(result: NetworkResult, peers: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    names = [p for p in peers if p in BEST_OF]
    titles = ["layer", "x", "shape", "GFLOP", "kk ms"] + [f"{PEER_LABELS[p]} ms" for p in names]
    titles.append("vs best")
    rows = []
    for r in result.layers:
        lay = r.layer
        case = ConvCase(
            0,
            lay.name,
            result.batch,
            lay.cin,
            lay.cout,
            lay.k,
            lay.stride,
            lay.pad,
            lay.hw,
            groups=lay.groups,
        )
        cells = [lay.name, str(lay.count), case.describe(), f"{lay.flops(result.batch) / 1e9:.3f}"]
        cells.append(fmt_ms(r.kernelkit.min_ms))
        cells += [fmt_ms(r.peers[p].min_ms) if p in r.peers else "-" for p in names]
        cells.append(fmt_ratio(r.vs_best()))
        rows.append(cells)
    total = ["network (sum of x * ms)", "", "", ""]
    total.append(fmt_opt(result.total_ms("kernelkit"), ".2f"))
    total += [fmt_opt(result.total_ms(p), ".2f") for p in names]
    total.append(fmt_ratio(result.vs_best()))
    rows.append(total)
    return titles, rows


def network_title(result: NetworkResult) -> str:
    worst = result.worst_layer()
    return (
        f"{result.network} conv layers, batch {result.batch}, 224x224 input: sum "
        f"{fmt_ratio(result.vs_best())} the faster peer's sum; slowest layer "
        f"{fmt_ratio(worst)}"
    )


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


def environment(cfg: Config) -> dict[str, Any]:
    """Everything the header shows (call it inside threadpool_limits: it shows the limits)."""
    return {
        **base_environment(cfg.threads, torch),
        "layout": cfg.layout,
        "quick": cfg.quick,
        "onnx": package_version("onnx"),
        "onnxruntime": package_version("onnxruntime"),
        "peers": cfg.peers,
        "repeats": cfg.repeats,
        "rounds": cfg.rounds,
        "peer_budget_s": cfg.peer_budget_s,
        "settle_s": cfg.settle_s,
        "gemm_size": cfg.gemm_size,
        "fma_gflops": cfg.fma_gflops,  # filled in by run_benchmark
        "networks": cfg.networks,
        "network_batches": cfg.network_batches,
    }


def layout_line(layout: str) -> str:
    if layout == "NHWC":
        return (
            "layout: kernelkit NHWC input, HWIO weights (layout='NHWC'); the peers run their "
            "native NCHW/OIHW on the same values"
        )
    return "layout: NCHW input, OIHW weights for kernelkit and every peer"


def header_lines(env: dict[str, Any]) -> list[str]:
    """The header of the report, one fact per line."""
    lines = system_lines(
        env,
        "threadpool_limits, torch.set_num_threads, onnxruntime intra_op_num_threads "
        "(inter_op 1, sequential), kernelkit n_threads",
    )
    lines += [
        layout_line(env["layout"]),
        "shapes: --quick (smaller N and H=W than the issue's cases; PASS/MISS only indicative)"
        if env["quick"]
        else "shapes: the issue's cases",
        kernelkit_line(env),
        versions_line(env, [("onnx", "onnx"), ("onnxruntime", "onnxruntime")]),
    ]
    lines += threadpool_lines(env)
    lines.append(
        timing_line(env["repeats"], env["peer_budget_s"], env["settle_s"])
        + f"; {env['rounds']} rounds (kernelkit, then each peer), min and median over all rounds"
    )
    return lines


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def fmt_mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.1f}"


def fmt_memory(memory: Memory | None) -> str:
    if memory is None or memory.extra_bytes is None:
        return "-" if memory is None else "error"
    prefix = "<=" if memory.method.startswith("upper bound") else ""
    return prefix + fmt_mib(memory.extra_bytes)


def ceiling_rows(
    ceilings: dict[str, GemmCeiling], fma: dict[str, float]
) -> tuple[list[str], list[list[str]]]:
    """The FMA peak of kernelkit's SIMD path and the OpenBLAS GEMM of each dtype."""
    titles = ["ceiling", "dtype", "size", "min ms", "GFLOP/s"]
    rows = [
        ["FMA peak", dtype, "independent FMAs, every thread", "-", f"{gflops:.1f}"]
        for dtype, gflops in sorted(fma.items())
    ]
    rows += [
        [
            "sgemm" if c.dtype == "float32" else "dgemm",
            c.dtype,
            f"{c.m}x{c.n}x{c.k}",
            fmt_ms(c.timing.min_ms),
            f"{c.gflops:.1f}",
        ]
        for c in ceilings.values()
    ]
    return titles, rows


def timing_rows(
    results: Sequence[CaseResult], peers: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of the timing table."""
    titles = [
        "#",
        "case",
        "shape",
        "dtype",
        "GFLOP",
        "kk min ms",
        "kk med ms",
        "1-shot ms",
        "1-shot/prep",
        "GFLOP/s",
        "% fma",
        "% gemm",
        "copy GB/s",
        "% copy",
        "gemm@shape GFLOP/s",
    ]
    titles += [f"{PEER_LABELS[p]} ms" for p in peers]
    rows = []
    for r in results:
        c = r.case
        cells = [
            str(c.index),
            c.name,
            c.describe(),
            c.dtype,
            f"{c.flops / 1e9:.3f}",
            fmt_ms(r.kernelkit.min_ms),
            fmt_ms(r.kernelkit.median_ms),
            fmt_ms(r.oneshot.min_ms) if r.oneshot else "-",
            fmt_opt(r.oneshot_ratio, ".2f"),
            f"{r.gflops:.1f}",
            fmt_opt(r.pct_fma, ".0f"),
            fmt_opt(r.pct_gemm, ".0f"),
            fmt_opt(r.copy_gbps, ".1f"),
            fmt_opt(r.pct_copy, ".0f"),
            fmt_opt(r.shape_gemm.gflops if r.shape_gemm else None, ".1f"),
        ]
        cells += [fmt_ms(r.peer_ms(p)) for p in peers]
        rows.append(cells)
    return titles, rows


TIMING_LEFT = (1, 2, 3)


def target_rows(
    results: Sequence[CaseResult], peers: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """Column titles and cells of the target/memory/correctness table."""
    titles = ["#", "case"] + [f"vs {PEER_LABELS[p]}" for p in peers]
    titles += [
        "vs best",
        "% peak",
        "target",
        "extra MiB",
        "limit MiB",
        "max|diff|",
        "rel diff",
        "status",
    ]
    rows = []
    for r in results:
        best = r.best_peer
        vs_best = fmt_ratio(r.vs_best()) + (f" ({PEER_LABELS[best]})" if best else "")
        limit = r.memory.limit_bytes if r.memory else r.case.memory_limit()
        cells = [str(r.case.index), r.case.name]
        cells += [fmt_ratio(r.speedup(p)) for p in peers]
        cells += [
            vs_best,
            fmt_opt(r.pct_peak, ".0f"),
            " ".join(t.label for t in r.case.targets),
            fmt_memory(r.memory),
            fmt_mib(limit),
            fmt_opt(r.diffs.get("kernelkit"), ".1e"),
            fmt_opt(r.rel_diff, ".1e"),
            r.status(),
        ]
        rows.append(cells)
    return titles, rows


def target_left(peers: Sequence[str]) -> tuple[int, ...]:
    """Left-aligned columns of the target table: case name, target and status."""
    target_col = 2 + len(peers) + 2
    return (1, target_col, target_col + 5)


def check_warnings(results: Sequence[CaseResult]) -> list[str]:
    """Wrong outputs (any peer), skipped peers, failed memory probes."""
    warnings = []
    for r in results:
        tag = f"{r.case.index} {r.case.name}"
        for name, diff in r.diffs.items():
            rel = diff / r.ref_scale if r.ref_scale > 0 else diff
            if not within(rel, RTOL[r.case.dtype]):
                warnings.append(
                    f"WARNING: {tag}: {name} differs from {r.reference}: max|diff| = {diff:.3g} "
                    f"= {rel:.3g} of max|y_{r.reference}| > {RTOL[r.case.dtype]:g}"
                )
        for peer, note in r.peer_notes.items():
            warnings.append(f"note: {tag}: {PEER_LABELS[peer]} skipped: {note}")
        if r.memory is not None and r.memory.error:
            warnings.append(f"WARNING: {tag}: memory probe failed: {r.memory.error}")
    return warnings


def notes(env: dict[str, Any], results: Sequence[CaseResult]) -> list[str]:
    """How to read the tables."""
    size = env["gemm_size"]
    methods = sorted({r.memory.method for r in results if r.memory and r.memory.method})
    lines = [
        "times are the minimum (kernelkit: also the median) wall-clock ms of one call, output "
        "allocation included (kernelkit's results of 16 MiB or more reuse freed results' memory "
        "through its result cache, as onnxruntime's arena does), no bias, no activation; "
        "kernelkit = a prepared kernelkit.Conv2d (weights packed once, as onnxruntime's session "
        "does); 1-shot = kernelkit.conv2d, which packs the weights in every call; "
        "'vs peer' = peer min / kernelkit min (> 1: kernelkit is faster); 'vs best' = against "
        "the faster of torch and ort",
        "GFLOP/s = 2 N OH OW Cout (Cin/groups) KH KW / kernelkit min time; % fma = that / the "
        "FMA peak of kernelkit's SIMD path in this run (a loop of independent FMAs on every "
        f"thread); % gemm = that / the OpenBLAS {size}x{size}x{size} GEMM of this run (NumPy "
        "A @ B; sgemm for float32, dgemm for float64); copy GB/s = bytes read + written per "
        "second by x.copy() of the case's input; % copy = (input + output bytes) / kernelkit "
        "min time / copy GB/s; % peak = % copy for depthwise (memory-bound), else % fma; "
        "gemm@shape = OpenBLAS on the case's im2col GEMM shape M = N OH OW, N = Cout, "
        "K = Cin KH KW (groups = 1 only; the im2col copy not included)",
        "numpy = np.pad + sliding_window_view + np.einsum(optimize=True) (an im2col copy and a "
        "BLAS GEMM; groups as a batch axis); torch = torch.nn.functional.conv2d; ort = a "
        f"one-node ONNX Conv (opset {ONNX_OPSET}, default graph optimizations, "
        "CPUExecutionProvider); onnxruntime has no float64 Conv, so the float64 row has no ort",
        "targets: best>=Rx = vs best >= R; torch>=Rx = vs that peer; fma>=P% / copy>=P% = % fma "
        "/ % copy; "
        "status PASS / MISS (the targets missed; 'memory' when extra > limit) / FAIL (wrong "
        "result); n/a = not evaluated (peer not run)",
        f"max|diff| = max |y_kernelkit - y_ref| against torch (numpy without torch); rel diff = "
        f"that / max|y_ref|, a wrong result above {RTOL['float32']:g} (float32) / "
        f"{RTOL['float64']:g} (float64)",
        "extra MiB = memory one kernelkit call needs beyond x, weights and the output (passed "
        "as out=), measured in a fresh subprocess: peak RSS reset (/proc/self/clear_refs), one "
        "call, VmHWM - VmRSS before; limit = max(16 MiB, 10% of the output)"
        + (f" [method: {'; '.join(methods)}]" if methods else ""),
    ]
    if env["layout"] == "NHWC":
        lines.append(
            "--layout NHWC: only kernelkit runs NHWC/HWIO; numpy, torch and ort still "
            "run NCHW/OIHW (their native layout), so the ratios compare kernelkit's "
            "NHWC path with the peers' NCHW paths; outputs compared after a transpose"
        )
    if env["quick"]:
        lines.append(
            "--quick: smaller shapes than the issue's cases and a smaller GEMM "
            "ceiling; the PASS/MISS column is only indicative"
        )
    return lines


def render_text(
    env: dict[str, Any],
    ceilings: dict[str, GemmCeiling],
    results: Sequence[CaseResult],
    networks: Sequence[NetworkResult] = (),
) -> str:
    """The full plain-text report."""
    peers = env["peers"]
    parts = ["# kernelkit conv2d benchmark", *header_lines(env), *report_warnings(env, SCRIPT)]
    parts += [
        "",
        "Ceilings (FMA peak of kernelkit's SIMD path; OpenBLAS GEMM through NumPy A @ B):",
        text_table(*ceiling_rows(ceilings, env["fma_gflops"])),
    ]
    parts += ["", "Timings:", text_table(*timing_rows(results, peers), left=TIMING_LEFT)]
    parts += [
        "",
        "Targets, memory and correctness:",
        text_table(*target_rows(results, peers), left=target_left(peers)),
        "",
    ]
    parts += [f"note: {n}" for n in notes(env, results)]
    parts += check_warnings(results)
    for network in networks:
        parts += ["", network_title(network) + ":", text_table(*network_rows(network, peers))]
    return "\n".join(parts)


def render_markdown(
    env: dict[str, Any],
    ceilings: dict[str, GemmCeiling],
    results: Sequence[CaseResult],
    networks: Sequence[NetworkResult] = (),
) -> str:
    """The full report as Markdown."""
    peers = env["peers"]
    parts = ["# kernelkit conv2d benchmark", ""]
    parts += [f"- {line}" for line in header_lines(env)]
    for warning in report_warnings(env, SCRIPT):
        parts += ["", "```", warning, "```"]
    parts += [
        "",
        "## Ceilings (FMA peak of kernelkit's SIMD path; OpenBLAS GEMM through NumPy A @ B)",
        "",
        markdown_table(*ceiling_rows(ceilings, env["fma_gflops"])),
    ]
    parts += ["", "## Timings", "", markdown_table(*timing_rows(results, peers), left=TIMING_LEFT)]
    parts += [
        "",
        "## Targets, memory and correctness",
        "",
        markdown_table(*target_rows(results, peers), left=target_left(peers)),
        "",
    ]
    parts += [f"- {n}" for n in notes(env, results)]
    if warnings := check_warnings(results):
        parts += ["", *[f"**{w}**" for w in warnings]]
    for network in networks:
        parts += ["", f"## {network_title(network)}", ""]
        parts.append(markdown_table(*network_rows(network, peers)))
    return "\n".join(parts) + "\n"


def ceiling_dict(c: GemmCeiling) -> dict[str, Any]:
    return {
        "dtype": c.dtype,
        "m": c.m,
        "n": c.n,
        "k": c.k,
        "gflops": c.gflops,
        **c.timing.as_dict(),
    }


def json_report(
    env: dict[str, Any],
    ceilings: dict[str, GemmCeiling],
    results: Sequence[CaseResult],
    networks: Sequence[NetworkResult] = (),
) -> dict[str, Any]:
    """Raw timings and the environment, for later analysis."""
    return {
        "environment": env,
        "networks": [
            {
                "network": n.network,
                "batch": n.batch,
                "total_ms": {lib: n.total_ms(lib) for lib in ("kernelkit", *BEST_OF)},
                "vs_best": n.vs_best(),
                "layers": [
                    {
                        **dataclasses.asdict(r.layer),
                        "kernelkit": r.kernelkit.as_dict(),
                        "peers": {p: t.as_dict() for p, t in r.peers.items()},
                        "vs_best": r.vs_best(),
                    }
                    for r in n.layers
                ],
            }
            for n in networks
        ],
        "gemm": [ceiling_dict(c) for c in ceilings.values()],
        "results": [
            {
                "case": {
                    **dataclasses.asdict(r.case),
                    "shape": r.case.describe(),
                    "flops": r.case.flops,
                    "targets": [t.label for t in r.case.targets],
                },
                "layout": r.layout,
                "kernelkit": r.kernelkit.as_dict(),
                "kernelkit_oneshot": r.oneshot.as_dict() if r.oneshot else None,
                "gflops": r.gflops,
                "pct_gemm": r.pct_gemm,
                "pct_fma": r.pct_fma,
                "copy_gbps": r.copy_gbps,
                "pct_copy": r.pct_copy,
                "shape_gemm": ceiling_dict(r.shape_gemm) if r.shape_gemm else None,
                "peers": {p: (t.as_dict() if t else None) for p, t in r.peers.items()},
                "peer_notes": r.peer_notes,
                "speedup": {p: r.speedup(p) for p in r.peers},
                "best_peer": r.best_peer,
                "vs_best": r.vs_best(),
                "targets": {t.label: r.target_value(t) for t in r.case.targets},
                "reference": r.reference,
                "max_abs_diff": r.diffs,
                "ref_max_abs": r.ref_scale,
                "rel_diff": r.rel_diff,
                "rtol": RTOL[r.case.dtype],
                "memory": dataclasses.asdict(r.memory) if r.memory else None,
                "status": r.status(),
            }
            for r in results
        ],
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    case_list = ", ".join(f"{c.index}={c.name}" for c in CASES)
    parser = argparse.ArgumentParser(
        description="Time kernelkit.conv2d against NumPy, PyTorch and onnxruntime with the same "
        "thread count, with the OpenBLAS GEMM ceiling, in one run.",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: smaller N and H=W, a 1024^3 GEMM ceiling, 5 repeats, "
        "shorter budget and pauses unless given",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=None,
        metavar="CASE",
        help=f"subset by index or name: {case_list}",
    )
    parser.add_argument(
        "--layout",
        type=str.upper,
        choices=["NCHW", "NHWC"],
        default="NCHW",
        help="kernelkit's input layout (NHWC: HWIO weights); the peers always run NCHW",
    )
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=PEERS,
        default=list(PEERS),
        help="peers to time (those not installed are skipped)",
    )
    parser.add_argument(
        "--gemm-size",
        type=int,
        default=None,
        metavar="S",
        help=f"the square GEMM ceiling S x S x S (default {DEFAULT_GEMM_SIZE}, "
        f"{QUICK_GEMM_SIZE} with --quick)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of kernelkit-then-every-peer series "
        f"(default {DEFAULT_ROUNDS}, 1 with --quick)",
    )
    parser.add_argument(
        "--no-shape-gemm", action="store_true", help="skip the GEMM on each case's im2col shape"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the memory probes (one subprocess per case)"
    )
    parser.add_argument(
        "--networks",
        nargs="*",
        choices=sorted(NETWORKS),
        default=None,
        help="whole networks whose every conv layer is timed (default: all; none with --quick "
        "or an empty list)",
    )
    parser.add_argument(
        "--network-batches",
        type=int,
        nargs="+",
        default=[1, 8],
        metavar="N",
        help="batch sizes of the network tables (default: 1 8)",
    )
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be >= 1")
    try:
        args.selected = select_cases(args.cases)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def config_from_args(args: argparse.Namespace) -> Config:
    repeats, budget, settle = timing_settings(args, args.quick)
    cases = [c.quick_variant() for c in args.selected] if args.quick else args.selected
    gemm_size = args.gemm_size or (QUICK_GEMM_SIZE if args.quick else DEFAULT_GEMM_SIZE)
    return Config(
        threads=args.threads,
        layout=args.layout,
        cases=cases,
        quick=args.quick,
        peers=available_peers(args.peers),
        repeats=repeats,
        rounds=args.rounds if args.rounds is not None else (1 if args.quick else DEFAULT_ROUNDS),
        peer_budget_s=budget,
        settle_s=settle,
        gemm_size=gemm_size,
        shape_gemm=not args.no_shape_gemm,
        memory=not args.no_memory,
        seed=args.seed,
        networks=sorted(NETWORKS)
        if args.networks is None and not args.quick
        else args.networks or [],
        network_batches=args.network_batches,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(args)
    log_run_warnings(SCRIPT)
    for peer in sorted(set(args.peers) - set(cfg.peers)):
        log_stderr(f"note: {missing_peer_note(peer)}")
    if torch is not None:
        torch.set_num_threads(cfg.threads)
    with threadpool_limits(limits=cfg.threads):
        env = environment(cfg)
        log_stderr(f"running {len(cfg.cases)} cases ({cfg.layout}) with {cfg.threads} threads ...")
        ceilings, results = run_benchmark(cfg, log_stderr)
    networks = cfg.network_results
    print(render_text(env, ceilings, results, networks))
    write_reports(
        args.markdown,
        lambda: render_markdown(env, ceilings, results, networks),
        args.json,
        lambda: json_report(env, ceilings, results, networks),
    )
    return 1 if any(r.correct is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
