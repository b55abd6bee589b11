"""``kernelkit bench --suite filter`` under its old name: filter2d against NumPy, scipy.ndimage
and OpenCV (see bench/README.md); the cases live in python/kernelkit/bench/suite_filter.py."""

from __future__ import annotations

import sys

from _common import run_as_kernelkit_bench

RETIRED = {
    "--size": "the image is the suite's (2048 x 2048, 256 x 256 with --quick)",
    "--peer-budget": "the budget is the timing settings' (kernelkit.bench.timing)",
    "--settle": "the pause is the timing settings' (kernelkit.bench.timing)",
}

if __name__ == "__main__":
    sys.exit(run_as_kernelkit_bench("filter", None, RETIRED, __doc__.split("\n\n")[0]))
