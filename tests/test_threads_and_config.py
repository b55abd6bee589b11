"""Configuration, SIMD-path selection, OpenMP threads (with threadpoolctl), the GIL and the CLI."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import kernelkit
import kernelkit.cli

SIMD_PATHS: list[str] = list(kernelkit.config()["simd_supported"])
CONFIG_KEYS = {
    "version",
    "simd",
    "simd_compiled",
    "simd_supported",
    "openmp",
    "openmp_runtime",
    "num_threads",
    "compiler",
    "build_flags",
    "scratch_kept_bytes",
    "scratch_limit_bytes",
}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with extra environment variables."""
    full_env = {k: v for k, v in os.environ.items() if k != "KERNELKIT_SIMD"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


# ---------------------------------------------------------------------------------------------
# config / show_config
# ---------------------------------------------------------------------------------------------


def test_config_keys_and_values():
    info = kernelkit.config()
    assert set(info) >= CONFIG_KEYS
    assert info["version"] == kernelkit.__version__ == metadata.version("kernelkit")
    assert isinstance(info["simd_compiled"], list)
    assert isinstance(info["simd_supported"], list)
    assert "baseline" in info["simd_supported"]
    assert set(info["simd_supported"]) <= set(info["simd_compiled"])
    assert info["simd"] in info["simd_supported"]
    assert info["simd"] == kernelkit.simd_path()
    assert isinstance(info["openmp"], bool)
    assert isinstance(info["openmp_runtime"], str)
    assert info["num_threads"] == kernelkit.get_num_threads()
    assert isinstance(info["num_threads"], int)
    assert info["num_threads"] >= 1
    assert isinstance(info["compiler"], str)
    assert info["compiler"]
    assert isinstance(info["build_flags"], str)
    info["simd"] = "changed"  # a fresh dict every call
    assert kernelkit.config()["simd"] == kernelkit.simd_path()


def _sysfs_cache_bytes(level: int) -> int | None:
    """The size Linux reports for cpu0's data/unified cache of ``level``, or None."""
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        try:
            if int((index / "level").read_text()) != level:
                continue
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = (index / "size").read_text().strip()
        except OSError:
            return None
        scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
        return int(size.rstrip("KM")) * scale
    return None


def test_config_reports_cache_sizes_and_conv_blocking(simd_path):
    info = kernelkit.config()
    for key in ("cache_l1d", "cache_l2", "cache_l3"):
        assert isinstance(info[key], int)
        assert info[key] >= 4096
    assert info["cache_l1d"] < info["cache_l2"] <= info["cache_l3"] or not info["caches_detected"]
    for level, key in ((1, "cache_l1d"), (2, "cache_l2"), (3, "cache_l3")):
        expected = _sysfs_cache_bytes(level)  # Linux's reading, which is used first
        if expected is not None and info["caches_detected"]:
            assert info[key] == expected
    assert info["conv_depth_block_bytes"] >= min(info["cache_l1d"], 16384)
    # the plan reports the configured register tile, and depth blocks whose weight panels fit
    # conv_depth_block_bytes: the GEMM's (9 taps x channel_block x tile columns; stride 2 keeps
    # the layer off Winograd) and Winograd's (channel_block x tile columns per transformed point)
    weights = np.ones((64, 256, 3, 3), np.float32)
    for stride, algorithm, taps in ((2, "indirect_gemm", 9), (1, "winograd", 1)):
        plan = kernelkit.Conv2d(weights, stride=stride, padding=1).plan((1, 256, 14, 14))
        assert plan.algorithm == algorithm
        assert f"{plan.register_tile[0]}x{plan.register_tile[1]}" == info["conv_gemm_tile"]
        channel_panel = taps * plan.register_tile[1] * 4  # bytes of one input channel's weights
        assert (plan.channel_block - 1) * channel_panel <= info["conv_depth_block_bytes"]
    plan = kernelkit.Conv2d(weights, stride=2, padding=1).plan((1, 256, 14, 14))
    assert plan.channel_block < 256  # 256 channels' GEMM panels exceed any L1 data cache


def test_default_simd_path_is_the_best_supported():
    # valid unless KERNELKIT_SIMD forced a path for this test run
    if os.environ.get("KERNELKIT_SIMD"):
        pytest.skip("KERNELKIT_SIMD is set for this run")
    result = run_python("import kernelkit; print(kernelkit.simd_path())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == kernelkit.config()["simd_supported"][-1]


def test_show_config_prints_every_key(capsys):
    kernelkit.show_config()
    printed = capsys.readouterr().out
    info = kernelkit.config()
    lines = printed.splitlines()
    assert len(lines) == len(info)
    for key, line in zip(info, lines):
        assert line.split(":", 1)[0].strip() == key
    for key in CONFIG_KEYS:
        assert any(line.startswith(key) for line in lines), key
    assert kernelkit.__version__ in printed
    assert ", ".join(info["simd_supported"]) in printed


def test_show_config_to_a_file(capsys):
    stream = io.StringIO()
    kernelkit.show_config(file=stream)
    assert capsys.readouterr().out == ""
    assert "simd_supported" in stream.getvalue()


# ---------------------------------------------------------------------------------------------
# SIMD path selection
# ---------------------------------------------------------------------------------------------


def test_set_simd_path_switches(simd_path):
    assert kernelkit.simd_path() == simd_path
    assert kernelkit.config()["simd"] == simd_path
    K = kernelkit.rbf_kernel(np.eye(3), gamma=1.0)
    assert_array_equal(np.diagonal(K), np.ones(3))


def test_set_simd_path_rejects_unknown_and_unsupported():
    before = kernelkit.simd_path()
    with pytest.raises(ValueError, match="bogus"):
        kernelkit.set_simd_path("bogus")
    assert kernelkit.simd_path() == before
    info = kernelkit.config()
    for name in set(info["simd_compiled"]) - set(info["simd_supported"]):
        with pytest.raises(ValueError, match=name):
            kernelkit.set_simd_path(name)
        assert kernelkit.simd_path() == before


@pytest.mark.parametrize("path", SIMD_PATHS)
def test_env_selects_simd_path(path):
    code = "import kernelkit; print(kernelkit.simd_path(), kernelkit.config()['simd'])"
    result = run_python(code, KERNELKIT_SIMD=path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [path, path]


def test_env_baseline():
    result = run_python("import kernelkit; print(kernelkit.simd_path())", KERNELKIT_SIMD="baseline")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "baseline"


def test_env_empty_means_default():
    result = run_python("import kernelkit; print(kernelkit.simd_path())", KERNELKIT_SIMD="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == kernelkit.config()["simd_supported"][-1]


def test_env_bogus_fails_import_with_clear_message():
    result = run_python("import kernelkit", KERNELKIT_SIMD="bogus")
    assert result.returncode > 0  # an exception, not a signal
    assert "KERNELKIT_SIMD" in result.stderr
    assert "bogus" in result.stderr
    assert "Traceback" in result.stderr


UNSUPPORTED = sorted(
    set(kernelkit.config()["simd_compiled"]) - set(kernelkit.config()["simd_supported"])
)


@pytest.mark.parametrize(
    "path",
    UNSUPPORTED
    or [
        pytest.param(
            "none",
            marks=pytest.mark.skip(reason="every compiled SIMD path is supported by this CPU"),
        )
    ],
)
def test_env_unsupported_path_fails_import_without_crash(path):
    result = run_python("import kernelkit; kernelkit.rbf_kernel([[1.0]])", KERNELKIT_SIMD=path)
    assert result.returncode > 0  # a Python exception; negative would be SIGILL/SIGSEGV
    assert path in result.stderr
    assert "supported" in result.stderr
    assert "Traceback" in result.stderr


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------


def test_set_get_num_threads_round_trip(restore_num_threads):
    kernelkit.set_num_threads(1)
    assert kernelkit.get_num_threads() == 1
    assert kernelkit.config()["num_threads"] == 1
    kernelkit.set_num_threads(3)
    assert kernelkit.get_num_threads() == 3
    kernelkit.set_num_threads(-1)
    assert kernelkit.get_num_threads() == _cores()
    kernelkit.set_num_threads(-_cores() - 5)
    assert kernelkit.get_num_threads() == 1
    with pytest.raises(ValueError, match="n_threads"):
        kernelkit.set_num_threads(0)
    with pytest.raises(TypeError, match="n_threads"):
        kernelkit.set_num_threads(1.5)
    assert kernelkit.get_num_threads() == 1
    kernelkit.set_num_threads(restore_num_threads)
    assert kernelkit.get_num_threads() == restore_num_threads


def test_default_threads_follow_set_num_threads(restore_num_threads):
    x = np.random.default_rng(0).random((300, 20))
    expected = kernelkit.rbf_kernel(x, n_threads=1)
    for n in (1, 2):
        kernelkit.set_num_threads(n)
        assert_array_equal(kernelkit.rbf_kernel(x), expected)


def _openmp_entries(info):
    return [entry for entry in info if entry["user_api"] == "openmp"]


@functools.lru_cache(maxsize=1)
def kernelkit_openmp_entries() -> tuple[dict, ...]:
    """threadpoolctl's entries for the libraries that importing kernelkit loads (fresh process).

    Other packages may bring their own OpenMP runtime (scikit-learn's wheels bundle a libgomp),
    so kernelkit's is told apart by what appears when kernelkit alone is imported.
    """
    code = (
        "import json, numpy, threadpoolctl\n"
        "before = {e['filepath'] for e in threadpoolctl.threadpool_info()}\n"
        "import kernelkit\n"
        "new = [e for e in threadpoolctl.threadpool_info() if e['filepath'] not in before]\n"
        "print(json.dumps(new))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return tuple(json.loads(result.stdout))


def test_threadpoolctl_finds_kernelkits_openmp():
    pytest.importorskip("threadpoolctl")
    new = kernelkit_openmp_entries()
    openmp = _openmp_entries(new)
    assert len(openmp) >= 1, new  # importing kernelkit loaded an OpenMP runtime
    runtime = kernelkit.config()["openmp_runtime"]
    assert any(entry["prefix"] == runtime for entry in openmp), (runtime, openmp)


def _mine(info) -> list[dict]:
    paths = {os.path.realpath(e["filepath"]) for e in _openmp_entries(kernelkit_openmp_entries())}
    return [e for e in _openmp_entries(info) if os.path.realpath(e["filepath"]) in paths]


def test_threadpool_limits_controls_kernelkit(restore_num_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    kernelkit.set_num_threads(2)
    assert _mine(threadpoolctl.threadpool_info())
    x = np.random.default_rng(1).random((200, 9)).astype(np.float32)
    expected = kernelkit.rbf_kernel(x)
    for kwargs in ({"limits": 1}, {"limits": 1, "user_api": "openmp"}):
        with threadpoolctl.threadpool_limits(**kwargs):
            assert kernelkit.get_num_threads() == 1
            assert kernelkit.config()["num_threads"] == 1
            entries = _mine(threadpoolctl.threadpool_info())
            assert entries
            assert all(entry["num_threads"] == 1 for entry in entries)
            assert_array_equal(kernelkit.rbf_kernel(x), expected)
        assert kernelkit.get_num_threads() == 2
        assert all(entry["num_threads"] == 2 for entry in _mine(threadpoolctl.threadpool_info()))
    # and the other way round: kernelkit's setting is what threadpoolctl reports
    kernelkit.set_num_threads(1)
    mine = _mine(threadpoolctl.threadpool_info())
    assert mine
    assert all(entry["num_threads"] == 1 for entry in mine)


# ---------------------------------------------------------------------------------------------
# The GIL is released while the kernels run
# ---------------------------------------------------------------------------------------------


def test_gil_released_main_thread_progresses():
    """While another thread is inside one long kernelkit call, this thread keeps running Python.

    The main thread time-stamps every turn of a Python loop; with the GIL held for the whole call
    the stamps would show one gap as long as the call. (A GIL-holding call such as ``sorted`` on a
    big list gives a gap of ~95% of the call here; kernelkit's should be a few ms at most.)
    """
    rng = np.random.default_rng(2)
    x = rng.random((2000, 160))
    y = rng.random((2000, 160))
    kernelkit.rbf_kernel(x[:10], y[:10], n_threads=1)  # warm up
    state: dict[str, float] = {}

    def work() -> None:
        state["t0"] = time.perf_counter()
        kernelkit.rbf_kernel(x, y, n_threads=1)
        state["t1"] = time.perf_counter()

    stamps = []
    worker = threading.Thread(target=work)
    worker.start()
    while "t1" not in state:
        stamps.append(time.perf_counter())
    worker.join()
    t0, t1 = state["t0"], state["t1"]
    inside = [t0, *(s for s in stamps if t0 < s < t1), t1]
    longest_gap = float(np.max(np.diff(inside)))
    assert longest_gap < 0.5 * (t1 - t0), (longest_gap, t1 - t0)


def _serial_and_threaded(job, args) -> float:
    """Time ``job`` on both args one after the other, then in two threads; the ratio of the two."""
    t0 = time.perf_counter()
    for arg in args:
        job(arg)
    serial = time.perf_counter() - t0
    threads = [threading.Thread(target=job, args=(arg,)) for arg in args]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) / serial


def test_gil_released_threads_run_concurrently():
    """Two threads, one kernelkit call each at a time (n_threads=1), overlap in time.

    Serialised by the GIL, threaded/serial would be ~1; concurrent on two free cores ~0.5. The tries
    stop at 0.8 (1.6x one thread's time), at most 5; the bound is 0.9, because on a loaded machine
    the best try reached 0.81 while the control overlapped (still well apart from the GIL's ~1).
    NumPy's ``exp`` (which releases the GIL) is measured alongside as a control: when even it shows
    no overlap the machine is busy with other work and the test is skipped rather than failed.
    """
    if (os.cpu_count() or 1) < 2 or _cores() < 2:
        pytest.skip("needs at least 2 cores")
    rng = np.random.default_rng(3)
    xs = [rng.random((1500, 64)) for _ in range(2)]
    expected = [kernelkit.rbf_kernel(x, n_threads=1) for x in xs]  # also warms up
    results: dict[int, list[np.ndarray]] = {0: [], 1: []}

    def kernelkit_job(slot: int) -> None:
        for _ in range(8):
            results[slot].append(kernelkit.rbf_kernel(xs[slot], n_threads=1))

    control_data = [rng.random(2_000_000) for _ in range(2)]
    control_out = [np.empty_like(a) for a in control_data]

    def control_job(slot: int) -> None:
        for _ in range(12):
            np.exp(control_data[slot], out=control_out[slot])

    ratios, control_ratios = [], []
    for _ in range(5):
        control_ratios.append(_serial_and_threaded(control_job, [0, 1]))
        ratios.append(_serial_and_threaded(kernelkit_job, [0, 1]))
        if ratios[-1] < 0.8:
            break
    for slot in (0, 1):
        for got in results[slot]:
            assert_array_equal(got, expected[slot])  # concurrent calls give the serial result
    if min(ratios) >= 0.8 and min(control_ratios) >= 0.8:
        pytest.skip(f"machine too busy: even numpy.exp shows no overlap ({control_ratios})")
    assert min(ratios) < 0.9, (ratios, control_ratios)


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def test_cli_info(capsys):
    assert kernelkit.cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "simd_supported" in out
    assert kernelkit.__version__ in out


def test_cli_example(capsys):
    assert kernelkit.cli.main(["example", "--n", "50", "--d", "5"]) == 0
    out = capsys.readouterr().out
    assert "(50, 5)" in out
    for name in kernelkit.cli.EXAMPLE_KERNELS:
        assert name in out


@pytest.mark.parametrize("args", [["--d", "0"], ["--threads", "0"]], ids=["d0", "threads0"])
def test_cli_example_bad_arguments_report_errors(capsys, args):
    assert kernelkit.cli.main(["example", "--n", "10", *args]) == 1
    assert "kernelkit: error" in capsys.readouterr().err


def test_cli_version_and_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        kernelkit.cli.main(["--version"])
    assert exc.value.code == 0
    assert kernelkit.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        kernelkit.cli.main([])
    assert exc.value.code == 2


def test_python_m_kernelkit_help():
    result = subprocess.run(
        [sys.executable, "-m", "kernelkit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout
    assert "example" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "kernelkit", "info"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "simd" in result.stdout


@pytest.mark.parametrize("float64", [False, True])
def test_fma_peak_measures_something_and_checks_arguments(float64, simd_path):
    """The benchmarks' ceiling: a positive FLOP/s figure on every SIMD path (no timing test)."""
    from kernelkit import _core

    assert _core.fma_peak(float64, 0.01, 1) > 0
    with pytest.raises(ValueError, match="fma_peak"):
        _core.fma_peak(float64, 0.01, 0)
    with pytest.raises(ValueError, match="fma_peak"):
        _core.fma_peak(float64, 0.0, 1)
