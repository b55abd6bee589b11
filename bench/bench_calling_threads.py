"""Many Python threads calling kernelkit at once: throughput and threads started.

kernelkit runs every call on one process-wide pool of worker threads; a call made while another
thread's call holds the pool runs on its calling thread alone. So a ThreadPoolExecutor of W threads
never runs more than W + (pool workers) threads of kernelkit work, whatever each call's n_threads.
This script submits the same batch of calls (an rbf Gram matrix and a 3x3 convolution) serially
and from executors of 1, 4 and 16 threads, each with n_threads=None (the default count) and 1, and
prints the best wall time of a few rounds, calls per second, the most OS threads the process had
while it ran, and CPU seconds per wall second (how many cores were busy).

    python bench/bench_calling_threads.py [--calls 160] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from functools import partial

import numpy as np

import kernelkit
from _common import text_table


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


class ThreadPeak:
    """The most OS threads of this process, sampled every millisecond while it is open."""

    def __enter__(self) -> ThreadPeak:
        self.peak, self._stop = os_threads(), threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, os_threads())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()


def run_batch(call: Callable[[], object], calls: int, workers: int) -> None:
    if workers == 0:
        for _ in range(calls):
            call()
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as executor:
        for future in [executor.submit(call) for _ in range(calls)]:
            future.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((1500, 64), dtype=np.float32)
    images = rng.random((1, 64, 28, 28), dtype=np.float32)
    conv = kernelkit.Conv2d(rng.random((64, 64, 3, 3), dtype=np.float32), padding=1)
    tasks = {
        "rbf_kernel 1500x64": lambda n: kernelkit.rbf_kernel(x, n_threads=n),
        "Conv2d 64->64 3x3 28x28": lambda n: conv(images, n_threads=n),
    }
    print(
        f"cpu: {os.cpu_count()} CPUs, kernelkit {kernelkit.__version__} "
        f"({kernelkit.simd_path()}), default n_threads {kernelkit.get_num_threads()}, "
        f"{args.calls} calls per batch, best of {args.rounds} rounds"
    )
    rows = []
    for name, task in tasks.items():
        for n_threads in (None, 1):
            task(n_threads)  # warm-up: the pool's workers and the packed weights exist
            for workers in (0, 1, 4, 16):
                best_wall, best_cpu, peak = float("inf"), 0.0, 0
                for _ in range(args.rounds):
                    with ThreadPeak() as threads:
                        cpu, wall = time.process_time(), time.perf_counter()
                        run_batch(partial(task, n_threads), args.calls, workers)
                        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    peak = max(peak, threads.peak - 1)  # not the sampler
                    if wall < best_wall:
                        best_wall, best_cpu = wall, cpu
                rows.append(
                    [
                        name,
                        "default" if n_threads is None else str(n_threads),
                        "serial" if workers == 0 else str(workers),
                        f"{best_wall:.3f}",
                        f"{args.calls / best_wall:.0f}",
                        str(peak),
                        f"{best_cpu / best_wall:.2f}",
                    ]
                )
    header = [
        "call",
        "n_threads",
        "executor threads",
        "wall s",
        "calls/s",
        "OS threads",
        "cores busy",
    ]
    print(text_table(header, rows, left=(0, 1, 2)))


if __name__ == "__main__":
    main()
