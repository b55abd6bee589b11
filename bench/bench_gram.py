"""``kernelkit bench --suite gram`` under its old name: the Gram kernels against scikit-learn,
NumPy, SciPy and PyTorch (see bench/README.md). The cases, the peers and the NumPy versions of
each kernel now live in python/kernelkit/bench/suite_gram.py."""

from __future__ import annotations

import sys

from _common import run_as_kernelkit_bench

RETIRED = {
    "--n": "the sizes are the suite's cases (4000, 300 with --quick)",
    "--kernels": "the suite runs every kernel; edit the cases in suite_gram.py for others",
    "--dims": "the suite's cases fix d (64, and 1024 for rbf)",
    "--with-y": "every case has a distinct Y now",
    "--peer-budget": "the budget is the timing settings' (kernelkit.bench.timing)",
    "--settle": "the pause is the timing settings' (kernelkit.bench.timing)",
}

if __name__ == "__main__":
    sys.exit(run_as_kernelkit_bench("gram", None, RETIRED, __doc__.split("\n\n")[0]))
