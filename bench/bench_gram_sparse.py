"""Benchmark kernelkit's Gram kernels on sparse (TF-IDF-shaped) input against scikit-learn.

The input is a CSR matrix shaped like TF-IDF features of a text corpus: 20,000 documents x 100,000
terms at 0.1 % density by default, terms drawn with Zipf-like document frequencies (term k with
probability proportional to 1 / (k + 50), so a few terms occur in a large share of the documents),
values idf-weighted and every row scaled to unit length, as scikit-learn's TfidfVectorizer gives.
Both float64 and float32, X against itself and against a distinct Y (its first 2,000 rows by
default), in one process and one run, with the same thread count for every peer:

* kernelkit: ``n_threads=T``;
* scikit-learn (``sklearn.metrics.pairwise``, same function, same sparse input): inside
  ``threadpoolctl.threadpool_limits(T)``.

linear, rbf and cosine are timed against scikit-learn on the sparse input; laplacian too, on the
first ``--laplacian-rows`` rows of X against Y (scikit-learn's sparse Manhattan distances take
minutes at the full shape). chi2 is compared with scikit-learn on the densified input (scikit-learn
takes chi2 only dense), which does not fit in memory at the full shape (X densified is 16 GB in
float64): that comparison runs on the first ``--dense-rows`` rows of X against the next ones;
kernelkit's chi2 is also timed at the full shape alone. Every result is checked against
scikit-learn's result of the same run.

Run ``python bench/bench_gram_sparse.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import kernelkit
from _common import (
    Timing,
    add_common_arguments,
    base_environment,
    check_common_arguments,
    fmt_ms,
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
    versions_line,
    within,
    write_reports,
)

SCRIPT = "bench/bench_gram_sparse.py"


def tfidf_matrix(rows: int, features: int, density: float, seed: int) -> Any:
    """A float64 CSR matrix shaped like TF-IDF features (see the module's notes), canonical."""
    sp = optional_import("scipy.sparse")
    assert sp is not None
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(features) + 50.0)
    cdf = np.cumsum(weights) / weights.sum()
    tokens = int(rows * features * density)
    for _ in range(3):  # a few more tokens where repeated terms of a document merge
        keys = np.unique(
            rng.integers(0, rows, tokens, dtype=np.int64) * features
            + np.searchsorted(cdf, rng.random(tokens))
        )
        tokens = int(tokens * (rows * features * density) / keys.size)
    row, col = np.divmod(keys, features)
    df = np.bincount(col, minlength=features)
    idf = np.log((1.0 + rows) / (1.0 + df)) + 1.0
    x = sp.csr_matrix((idf[col], (row, col)), shape=(rows, features))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x
    x = x.tocsr()
    x.sort_indices()
    return x


@dataclass
class Row:
    kernel: str
    dtype: str
    shape: str
    kernelkit: Timing
    sklearn: Timing | None
    peer_input: str
    max_diff: float | None
    tolerance: float

    @property
    def ratio(self) -> float | None:
        return None if self.sklearn is None else self.sklearn.min_ms / self.kernelkit.min_ms

    def cells(self) -> list[str]:
        check = "-" if self.max_diff is None else f"{self.max_diff:.1e}"
        if self.max_diff is not None and not within(self.max_diff, self.tolerance):
            check += " (!)"
        sk = self.sklearn
        return [
            self.kernel,
            self.dtype,
            self.shape,
            f"{fmt_ms(self.kernelkit.min_ms)} / {fmt_ms(self.kernelkit.median_ms)}",
            "-" if sk is None else f"{fmt_ms(sk.min_ms)} / {fmt_ms(sk.median_ms)}",
            fmt_ratio(self.ratio),
            self.peer_input,
            check,
        ]


TITLES = [
    "kernel",
    "dtype",
    "X x Y",
    "kernelkit ms min/med",
    "sklearn ms min/med",
    "speed-up",
    "sklearn input",
    "max |diff|",
]


def timed_pair(
    kernel: str,
    x: Any,
    y: Any,
    sk_x: Any,
    sk_y: Any,
    threads: int,
    settings: tuple[int, float, float],
) -> tuple[Timing, Timing, float]:
    """kernelkit on (x, y) and scikit-learn on (sk_x, sk_y), timed; the largest difference."""
    from sklearn.metrics import pairwise

    repeats, budget, settle = settings
    name = {"cosine": "cosine_similarity"}.get(kernel, f"{kernel}_kernel")
    ours, ours_result = measure(
        lambda: getattr(kernelkit, name)(x, y, n_threads=threads), repeats, None, settle
    )
    with threadpool_limits(threads):
        theirs, their_result = measure(
            lambda: getattr(pairwise, name)(sk_x, sk_y), repeats, budget, settle
        )
    diff = max_abs_diff(np.asarray(ours_result), np.asarray(their_result))
    return ours, theirs, diff


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, Any]]:
    settings = timing_settings(args, args.quick)
    x64 = tfidf_matrix(args.rows, args.features, args.density, args.seed)
    log_stderr(
        f"X: {x64.shape[0]} x {x64.shape[1]}, nnz {x64.nnz} "
        f"(density {x64.nnz / (x64.shape[0] * x64.shape[1]):.4%})"
    )
    rows: list[Row] = []
    for dtype in (np.float64, np.float32):
        x = x64.astype(dtype)
        y = x[: args.y_rows]
        tol = 1e-10 if dtype == np.float64 else 1e-4
        for other, label in ((None, "X"), (y, "Y")):
            shape = f"{x.shape[0]} x {x.shape[0] if other is None else other.shape[0]}"
            for kernel in ["linear", "rbf", "cosine"]:
                log_stderr(f"{kernel} {np.dtype(dtype).name} X vs {label}")
                ours, theirs, diff = timed_pair(kernel, x, other, x, other, args.threads, settings)
                rows.append(
                    Row(kernel, np.dtype(dtype).name, shape, ours, theirs, "sparse", diff, tol)
                )
        # scikit-learn's sparse Manhattan distances cost O(n m (nnz_x + nnz_y)) serial work:
        # minutes at the full shape, so laplacian runs on the first --laplacian-rows rows of X.
        xl = x[: args.laplacian_rows]
        log_stderr(f"laplacian {np.dtype(dtype).name} {xl.shape[0]} rows vs Y")
        ours, theirs, diff = timed_pair("laplacian", xl, y, xl, y, args.threads, settings)
        shape = f"{xl.shape[0]} x {y.shape[0]}"
        rows.append(
            Row("laplacian", np.dtype(dtype).name, shape, ours, theirs, "sparse", diff, tol)
        )
        xs, ys = x[: args.dense_rows], x[args.dense_rows : 2 * args.dense_rows]
        log_stderr(f"chi2 {np.dtype(dtype).name} on {args.dense_rows} rows, densified for sklearn")
        ours, theirs, diff = timed_pair(
            "chi2", xs, ys, xs.toarray(), ys.toarray(), args.threads, settings
        )
        shape = f"{xs.shape[0]} x {ys.shape[0]}"
        rows.append(Row("chi2", np.dtype(dtype).name, shape, ours, theirs, "dense", diff, tol))
        big, _ = measure(
            lambda: kernelkit.chi2_kernel(x, y, n_threads=args.threads),  # noqa: B023
            settings[0],
            None,
            settings[2],
        )
        shape = f"{x.shape[0]} x {y.shape[0]}"
        rows.append(
            Row("chi2", np.dtype(dtype).name, shape, big, None, "dense: not run", None, tol)
        )
    return rows, {"nnz": int(x64.nnz), "shape": list(x64.shape)}


def header(env: dict[str, Any], args: argparse.Namespace, data: dict[str, Any]) -> list[str]:
    return [
        *system_lines(env, "kernelkit n_threads; scikit-learn inside threadpool_limits"),
        kernelkit_line(env),
        versions_line(env, [("scikit-learn", "sklearn"), ("scipy", "scipy")]),
        *threadpool_lines(env),
        timing_line(*timing_settings(args, args.quick)),
        f"X: TF-IDF-shaped CSR {data['shape'][0]} x {data['shape'][1]}, nnz {data['nnz']}; "
        f"Y: its first {args.y_rows} rows; chi2 against scikit-learn on the first "
        f"{args.dense_rows} rows vs the next {args.dense_rows}, densified for scikit-learn",
        *report_warnings(env, SCRIPT),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--y-rows", type=int, default=2_000)
    parser.add_argument("--dense-rows", type=int, default=100)
    parser.add_argument("--laplacian-rows", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, shorter pauses")
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    if optional_import("sklearn") is None or optional_import("scipy.sparse") is None:
        parser.error("scikit-learn and scipy are needed (pip install '.[bench]')")
    log_run_warnings(SCRIPT)
    rows, data = run(args)
    with threadpool_limits(args.threads):
        env = base_environment(args.threads, None)
    env["sklearn"], env["scipy"] = package_version("sklearn"), package_version("scipy")
    lines = header(env, args, data)
    table = [r.cells() for r in rows]
    print("\n".join(lines) + "\n\n" + text_table(TITLES, table, left=3))

    def markdown() -> str:
        return "\n".join(f"- {line}" for line in lines) + "\n\n" + markdown_table(TITLES, table, 3)

    def report() -> dict[str, Any]:
        return {
            "environment": env,
            "data": data,
            "rows": [
                {
                    "kernel": r.kernel,
                    "dtype": r.dtype,
                    "shape": r.shape,
                    "kernelkit_s": r.kernelkit.times_s,
                    "sklearn_s": None if r.sklearn is None else r.sklearn.times_s,
                    "sklearn_input": r.peer_input,
                    "max_diff": r.max_diff,
                }
                for r in rows
            ],
        }

    write_reports(args.markdown, markdown, args.json, report)
    return 0 if all(r.max_diff is None or within(r.max_diff, r.tolerance) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
