"""Benchmark kernel sums beyond memory: kernelkit.kernel_matvec against scikit-learn, and
kernelkit.dask on the threaded scheduler and on a dask.distributed LocalCluster.

1. ``kernel_matvec``: rbf, float32, n = m = 50,000, d = 32, k = 1, on ``--threads`` threads,
   against the fastest in-memory way with scikit-learn: ``rbf_kernel`` over row blocks of X times v
   (under ``threadpool_limits``; several block sizes are tried, the fastest is reported). Peak
   memory beyond the inputs is measured in a fresh process per method (the peak resident set,
   reset after the inputs exist, minus the resident set before the call).
2. Dask: the rbf Gram matrix of ``--gram-n`` x 32 float32 points written to a Zarr store, and
   ``kernel_matvec`` of ``--matvec-n`` points against ``--matvec-m`` points, on a LocalCluster of
   1 and 2 single-threaded worker processes (throughput in kernel entries per second), then the
   same kernel_matvec on the threaded scheduler with ``--threads`` threads against the in-memory
   function on the same data.

Run ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench_scale.py`` (``--help`` for
the options).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import kernelkit
from _common import log_run_warnings, usable_cpus

Array = np.ndarray


def matvec_inputs(n: int, d: int) -> tuple[Array, Array, Array, float]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    Y = rng.standard_normal((n, d), dtype=np.float32)
    v = rng.standard_normal(n)
    return X, Y, v, 1.0 / d


def sklearn_blocks(X: Array, Y: Array, v: Array, gamma: float, rows: int) -> Array:
    """scikit-learn's rbf_kernel over blocks of ``rows`` rows of X, each times v."""
    from sklearn.metrics.pairwise import rbf_kernel

    return np.concatenate(
        [rbf_kernel(X[i : i + rows], Y, gamma=gamma) @ v for i in range(0, X.shape[0], rows)]
    )


def method(name: str, threads: int) -> Callable[[Array, Array, Array, float], Array]:
    if name == "kernelkit":
        return lambda X, Y, v, g: kernelkit.kernel_matvec(X, Y, v, gamma=g, n_threads=threads)
    rows = int(name.split("-")[1])
    return lambda X, Y, v, g: sklearn_blocks(X, Y, v, g, rows)


def times_of(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    result = None
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def resident_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_probe(name: str, n: int, d: int, threads: int) -> None:
    """In this fresh process: the peak memory one call of ``name`` takes beyond its inputs."""
    from threadpoolctl import threadpool_limits

    X, Y, v, gamma = matvec_inputs(n, d)
    fn = method(name, threads)
    with threadpool_limits(threads):
        fn(X[:10], Y[:10], v[:10], gamma)  # imports and thread pools exist before the baseline
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the peak resident set starts again from the current one
        before = resident_bytes("VmRSS")
        fn(X, Y, v, gamma)
        print(resident_bytes("VmHWM") - before)


def peak_memory_mb(name: str, n: int, d: int, threads: int) -> float:
    command = [sys.executable, __file__, "--memory-probe", name, "--n", str(n), "--d", str(d)]
    command += ["--threads", str(threads)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return int(output.split()[-1]) / 1e6


def fmt_times(times: list[float]) -> str:
    return f"min {min(times):.3f} s, median {statistics.median(times):.3f} s"


def bench_matvec(args: argparse.Namespace) -> None:
    from threadpoolctl import threadpool_limits

    n, d, threads = args.n, args.d, args.threads
    X, Y, v, gamma = matvec_inputs(n, d)
    print(f"## kernel_matvec: rbf, float32, n = m = {n}, d = {d}, k = 1, {threads} threads")
    kk_times, kk_result = times_of(
        lambda: method("kernelkit", threads)(X, Y, v, gamma), args.repeats
    )
    rate = n * n / min(kk_times) / 1e9
    print(f"kernelkit.kernel_matvec: {fmt_times(kk_times)} ({rate:.2f} G kernel entries/s)")
    best: tuple[float, str] | None = None
    for rows in args.sklearn_rows:
        name = f"sklearn-{rows}"
        blocks = method(name, threads)
        with threadpool_limits(threads):
            sk_times, sk_result = times_of(
                lambda fn=blocks: fn(X, Y, v, gamma), args.sklearn_repeats
            )
        error = np.max(np.abs(sk_result - kk_result)) / np.max(np.abs(sk_result))
        print(
            f"scikit-learn rbf_kernel over {rows}-row blocks + matmul: {fmt_times(sk_times)} "
            f"(max |difference| / max |result| = {error:.1e})"
        )
        if best is None or min(sk_times) < best[0]:
            best = (min(sk_times), name)
    assert best is not None
    print(
        f"speed-up against the fastest scikit-learn way ({best[1]}): "
        f"{best[0] / min(kk_times):.2f}x (min over min)"
    )
    for name in ("kernelkit", best[1]):
        print(
            f"peak memory beyond the inputs, {name}: {peak_memory_mb(name, n, d, threads):.1f} MB"
        )


def bench_dask(args: argparse.Namespace) -> None:
    import dask
    import dask.array as da
    import distributed

    import kernelkit.dask as kkdask

    d = 32
    directory = tempfile.mkdtemp(prefix="kernelkit-bench-scale-", dir=args.store_dir)
    rng = da.random.default_rng(0)
    gram_x = rng.random((args.gram_n, d), chunks=(args.gram_chunk, d), dtype=np.float32)
    mv_x = rng.random((args.matvec_n, d), chunks=(args.matvec_chunk, d), dtype=np.float32)
    mv_y = rng.random((args.matvec_m, d), chunks=(args.matvec_m, d), dtype=np.float32)
    mv_v = rng.standard_normal(args.matvec_m, chunks=args.matvec_m)
    gram_entries = args.gram_n**2
    mv_entries = args.matvec_n * args.matvec_m
    print(
        f"## Dask: rbf Gram of {args.gram_n} x {d} float32 to Zarr "
        f"({gram_entries * 4 / 1e9:.0f} GB, {args.gram_chunk}-row chunks); kernel_matvec of "
        f"{args.matvec_n} x {args.matvec_m} points ({args.matvec_chunk}-row chunks)"
    )
    try:
        for workers in args.workers:
            with (
                distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                store = os.path.join(directory, f"gram-{workers}.zarr")
                start = time.perf_counter()
                kkdask.gram(gram_x, kernel="rbf").to_zarr(store, compressors=None)
                gram_s = time.perf_counter() - start
                shutil.rmtree(store)
                on_workers = client.persist([mv_x, mv_y, mv_v])
                times, _ = times_of(
                    lambda data=on_workers: kkdask.kernel_matvec(*data).compute(), args.repeats
                )
                print(
                    f"LocalCluster, {workers} worker(s) x 1 thread: Gram to Zarr {gram_s:.1f} s "
                    f"({gram_entries / gram_s / 1e9:.2f} G entries/s); kernel_matvec "
                    f"{fmt_times(times)} ({mv_entries / min(times) / 1e9:.2f} G entries/s)"
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    # the same data in memory: NumPy arrays, and Dask arrays over them in the same chunks
    x, y, v = dask.compute(mv_x, mv_y, mv_v, scheduler="threads")
    in_memory, _ = times_of(
        lambda: kernelkit.kernel_matvec(x, y, v, n_threads=args.threads), args.repeats
    )
    chunked = (da.from_array(x, chunks=mv_x.chunks), da.from_array(y, chunks=mv_y.chunks), v)
    with dask.config.set(scheduler="threads", num_workers=args.threads):
        threaded, _ = times_of(lambda: kkdask.kernel_matvec(*chunked).compute(), args.repeats)
    print(f"kernel_matvec in memory, {args.threads} threads: {fmt_times(in_memory)}")
    print(
        f"kernelkit.dask.kernel_matvec, threaded scheduler, {args.threads} threads: "
        f"{fmt_times(threaded)} ({min(threaded) / min(in_memory):.2f}x the in-memory time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sklearn-repeats", type=int, default=2)
    parser.add_argument("--sklearn-rows", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--gram-n", type=int, default=100_000)
    parser.add_argument("--gram-chunk", type=int, default=5_000)
    parser.add_argument("--matvec-n", type=int, default=1_000_000)
    parser.add_argument("--matvec-m", type=int, default=10_000)
    parser.add_argument("--matvec-chunk", type=int, default=50_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--store-dir", default=None, help="where the Zarr store goes (a temporary folder)"
    )
    parser.add_argument("--skip", choices=["matvec", "dask"], nargs="*", default=[])
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(args.memory_probe, args.n, args.d, args.threads)
        return
    log_run_warnings("bench_scale.py")
    print(
        f"{usable_cpus()} usable CPUs, load average {os.getloadavg()[0]:.2f}; kernelkit simd "
        f"{kernelkit.simd_path()}"
    )
    if "matvec" not in args.skip:
        bench_matvec(args)
    if "dask" not in args.skip:
        bench_dask(args)


if __name__ == "__main__":
    main()
