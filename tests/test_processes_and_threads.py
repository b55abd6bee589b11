"""kernelkit in child processes and in many threads at once. After the parent has used every
kernel family (and so started its worker threads), a child made by fork, forkserver or spawn
computes the same results, with threads, and returns: OpenMP's pool (GNU libgomp) waits forever
in a forked child, kernelkit's own pool starts afresh there. Calls from many Python threads at
once share that pool and give the results of serial calls. A child that hangs is killed, so that
the test fails instead of keeping the run waiting for it at exit."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

import kernelkit
from kernelkit import _core

TIMEOUT_S = 60


def address_sanitizer_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return "libasan" in maps.read()
    except OSError:
        return False


# GCC's AddressSanitizer (libasan of GCC 12) takes no lock of its allocator around fork(): a child
# forked while another thread of the parent frees memory (a joined thread still ending, say) can
# inherit a held lock and hang at its first allocation (3 children of 300 in a test of that,
# none without the sanitizer). The suite without the sanitizer runs these tests.
UNSAFE_FORK = "fork is unsafe in a threaded process under libasan"
forks_a_threaded_process = pytest.mark.skipif(
    sys.platform != "linux" or address_sanitizer_loaded(),
    reason=f"fork is the default on Linux only; {UNSAFE_FORK}",
)


@pytest.fixture(autouse=True)
def children_killed_after_a_deadline() -> Iterator[None]:
    """Kills this process's children still running after twice the timeout: a hung child would
    otherwise keep a pool's shutdown, and the interpreter's exit, waiting for ever."""

    def kill_children() -> None:
        for child in multiprocessing.active_children():
            child.kill()

    watchdog = threading.Timer(2 * TIMEOUT_S, kill_children)
    watchdog.daemon = True
    watchdog.start()
    yield
    watchdog.cancel()


def workload(seed: int) -> list[np.ndarray]:
    """One call of each kernel family, with 2 threads."""
    rng = np.random.default_rng(seed)
    x = rng.random((300, 24), dtype=np.float32)
    images = rng.random((2, 8, 33, 31), dtype=np.float32)
    weights = rng.random((16, 8, 3, 3), dtype=np.float32)
    picture = rng.random((64, 80))
    model = kernelkit.load_model(kernelkit.models.demo_model_path())
    digits = kernelkit.models.demo_digits().images[:20, :, :, None]
    return [
        kernelkit.rbf_kernel(x, n_threads=2),
        kernelkit.laplacian_kernel(x, n_threads=2),
        kernelkit.conv2d(images, weights, padding=1, n_threads=2),
        kernelkit.conv2d(images, weights[:8, :1], groups=8, n_threads=2),  # depthwise
        kernelkit.filter2d(picture, kernelkit.kernels.sobel_x(), n_threads=2),
        model.run(digits, n_threads=2),
    ]


def in_child(seed: int) -> list[np.ndarray]:
    return workload(seed)


@pytest.fixture(scope="module")
def expected() -> list[np.ndarray]:
    return workload(0)  # also starts the parent's worker threads


def check(results: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_a_child_process_computes_the_same(method, expected):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    if method == "fork" and address_sanitizer_loaded():
        pytest.skip(UNSAFE_FORK)
    context = multiprocessing.get_context(method)
    with context.Pool(2) as pool:
        results = pool.map_async(in_child, [0, 0]).get(TIMEOUT_S)
    for result in results:
        check(result, expected)


@forks_a_threaded_process
def test_a_process_pool_executor_with_fork(expected):
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
        futures = [executor.submit(in_child, 0) for _ in range(3)]
        for future in futures:
            check(future.result(timeout=TIMEOUT_S), expected)


@forks_a_threaded_process
def test_a_forked_child_of_a_forked_child(expected):
    context = multiprocessing.get_context("fork")

    def grandchild(queue: multiprocessing.Queue) -> None:
        with context.Pool(1) as pool:
            queue.put(pool.apply_async(in_child, (0,)).get(TIMEOUT_S))

    queue = context.Queue()
    process = context.Process(target=grandchild, args=(queue,))
    process.start()
    try:
        result = queue.get(timeout=TIMEOUT_S)
        process.join(TIMEOUT_S)
    finally:
        process.kill()  # a child that hung (its pool ends its own worker after TIMEOUT_S)
    assert process.exitcode == 0
    check(result, expected)


@forks_a_threaded_process
def test_torch_in_the_same_process_does_not_block_a_forked_child(expected):
    """PyTorch brings its own libgomp; with both loaded, a forked child still runs kernelkit."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    torch.ones(256, 256) @ torch.ones(256, 256)  # start torch's OpenMP threads
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        check(pool.apply_async(in_child, (0,)).get(TIMEOUT_S), expected)


def test_eight_python_threads_at_once_give_the_serial_results(expected):
    """Calls from many threads share one pool: one runs on it, the others on their own thread;
    every result equals the one computed alone, bit for bit."""
    with concurrent.futures.ThreadPoolExecutor(8) as executor:
        futures = [executor.submit(workload, 0) for _ in range(8)]
        for future in futures:
            check(future.result(timeout=TIMEOUT_S), expected)


def kept_scratch() -> int:
    return int(kernelkit.config()["scratch_kept_bytes"])


def settled_kept_scratch() -> int:
    """The scratch kept once threads that earlier tests joined have ended."""
    deadline, last = time.monotonic() + 5, -1
    while kept_scratch() != last and time.monotonic() < deadline:
        last = kept_scratch()
        time.sleep(0.1)
    return last


def wait_for_kept_scratch(at_most: int) -> int:
    """Joined threads free their scratch as the operating system ends them, just after join."""
    deadline = time.monotonic() + 5
    while kept_scratch() > at_most and time.monotonic() < deadline:
        time.sleep(0.01)
    return kept_scratch()


def test_scratch_kept_by_many_idle_threads_stays_within_the_limit(expected):
    """Threads that called every kernel family and now wait keep at most the limit in all (sixty of
    them would keep more than that); when they exit, their scratch is freed."""
    limit = int(kernelkit.config()["scratch_limit_bytes"])
    before = settled_kept_scratch()

    def waiting_threads(count: int) -> tuple[list[threading.Thread], threading.Event, list]:
        called, release, results = threading.Barrier(count + 1), threading.Event(), []

        def call_then_wait() -> None:
            results.append(workload(0))
            called.wait(TIMEOUT_S)
            release.wait(TIMEOUT_S)

        threads = [threading.Thread(target=call_then_wait) for _ in range(count)]
        for thread in threads:
            thread.start()
        called.wait(TIMEOUT_S)
        return threads, release, results

    def end(threads: list[threading.Thread], release: threading.Event) -> None:
        release.set()
        for thread in threads:
            thread.join(TIMEOUT_S)

    one, release, _ = waiting_threads(1)
    share = kept_scratch() - before
    end(one, release)
    assert 60 * share > limit
    assert wait_for_kept_scratch(before) == before

    many, release, results = waiting_threads(60)
    try:
        assert before <= kept_scratch() <= limit
    finally:
        end(many, release)
    assert wait_for_kept_scratch(before) == before
    for result in results:
        check(result, expected)


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs thread affinities (Linux) and two CPUs",
)
def test_workers_keep_the_affinity_they_were_given() -> None:
    """A worker that the scheduler has put on its caller's core moves off it by leaving that core
    out of its own affinity for a moment; afterwards every thread may run where it could before."""
    allowed = os.sched_getaffinity(0)
    w = np.random.default_rng(0).standard_normal((64, 96, 1, 1)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((1, 96, 7, 7)).astype(np.float32)
    conv = kernelkit.Conv2d(w)
    for _ in range(200):
        conv(x, n_threads=2)
    time.sleep(0.05)  # after a pause the scheduler tends to wake a worker where its caller runs
    for _ in range(200):
        conv(x, n_threads=2)
    for tid in os.listdir("/proc/self/task"):
        assert os.sched_getaffinity(int(tid)) == allowed


@pytest.mark.parametrize(("tasks", "threads"), [(64, 2), (7, 3), (100, 4), (5, 1)])
def test_each_thread_starts_with_its_own_contiguous_share(tasks: int, threads: int) -> None:
    """Thread i of a parallel loop first runs share i (tasks [tasks i / threads, tasks (i + 1) /
    threads) in order), so that it writes the same part of the output in every call; a share's
    tasks that its thread had not reached are taken by the others. Every task runs exactly once."""
    for _ in range(5):
        ran = _core.parallel_trace(tasks, threads, 20.0)
        assert sorted(t for mine in ran for t in mine) == list(range(tasks))
        owner = {t: i for i, mine in enumerate(ran) for t in mine}
        for i, mine in enumerate(ran):
            lo, hi = tasks * i // threads, tasks * (i + 1) // threads
            own = [t for t in mine if lo <= t < hi]
            assert own == sorted(own)
            if mine and lo < hi and owner[lo] == i:
                assert mine[0] == lo  # its share first, from the start
