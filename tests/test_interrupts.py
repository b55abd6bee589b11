"""Ctrl-C stops a long kernelkit call: SIGINT while a Gram matrix, a convolution or an image
filter is computed raises KeyboardInterrupt within a second, and kernelkit works normally after
it. Each case runs in a subprocess (the signal goes to that process's main thread)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

#: (inputs, a call on them that takes several seconds on 2 cores: far longer than the 0.5 s
#: before the signal); the inputs are made before the clock starts. The convolution runs as
#: dozens of parallel loops of ~25 ms each (passes of images), each shorter than the interval
#: between checks: the check's clock must run across them.
LONG_CALLS = {
    "gram": ("x = np.ones((9000, 2000), np.float32)", "kernelkit.laplacian_kernel(x)"),
    "conv2d": (
        "x, w = np.ones((768, 256, 28, 28), np.float32), np.ones((256, 256, 3, 3), np.float32)",
        "kernelkit.conv2d(x, w, padding=1)",
    ),
    "filter2d": (
        "x, k = np.ones((6000, 6000), np.float32), np.random.default_rng(0).random((41, 41))",
        "kernelkit.filter2d(x, k)",
    ),
}

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import numpy as np
    import kernelkit

    SETUP
    sent = {}

    def interrupt():
        time.sleep(0.5)
        sent["at"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    start = time.perf_counter()
    try:
        CALL
        outcome = "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    delay = time.perf_counter() - sent.get("at", start)
    # kernelkit still works, with threads, after an interrupted call
    x = np.random.default_rng(1).random((50, 8), dtype=np.float32)
    again = np.allclose(kernelkit.rbf_kernel(x, n_threads=2), kernelkit.rbf_kernel(x, n_threads=1))
    print(json.dumps({"outcome": outcome, "delay": delay, "again": bool(again)}))
    """
)


@pytest.mark.parametrize("family", sorted(LONG_CALLS))
def test_sigint_interrupts_a_long_call_within_a_second(family):
    setup, call = LONG_CALLS[family]
    script = CHILD.replace("SETUP", setup).replace("CALL", call)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted"
    assert report["delay"] < 1.0
    assert report["again"]
