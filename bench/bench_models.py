"""Benchmark whole networks run by kernelkit from their files against the frameworks' own runtimes.

In one process, one run, with the same thread count T for every peer:

* kernelkit: ``kernelkit.load_model(path).run(x, n_threads=T)`` (the graph the file records;
  BatchNormalization folded, activations fused, weights packed once at the first run);
* onnxruntime, for the .onnx files: an ``InferenceSession`` of the same file with its default
  graph optimisations, ``intra_op_num_threads=T``, ``inter_op_num_threads=1``, sequential;
* Keras 3 on the torch backend, for the .keras files: ``model(x, training=False)`` under
  ``torch.no_grad()`` after ``torch.set_num_threads(T)``.

The networks: the whole-network test fixtures (tests/models/fixtures/graph_*) and, where PyTorch
and Keras are installed, two of published size built here with random weights: ResNet-18
(PyTorch, exported to ONNX) and MobileNetV2 (keras.applications), 224 x 224 inputs. Every
output is compared with the peer's before it is timed; the rounds interleave kernelkit and each
peer. The same run times ``kernelkit filters`` and ``kernelkit features`` as commands (a new
process each, as a user types them) on the fixtures' largest conv layers. Run
``python bench/bench_models.py --help`` for the options and bench/README.md for how to run it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np

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
    measure,
    optional_import,
    package_version,
    system_lines,
    text_table,
    timing_settings,
    versions_line,
    write_reports,
)
from kernelkit.bench.suite_conv import session_options
from kernelkit.bench.suite_models import RESNET18_STAGES, exported_resnet

SCRIPT = "bench/bench_models.py"
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "models" / "fixtures"
FIXTURE_MODELS = (
    "graph_resnet.onnx",
    "graph_unet_torch.onnx",
    "graph_xception.keras",
    "graph_mobilenet.keras",
    "graph_unet.keras",
)
ROUNDS = 3
RTOL = 1e-3  # max|y - y_peer| / max|y_peer|, float32 networks
TARGETS = {"onnxruntime": 1.0, "keras": 3.0}

ort = optional_import("onnxruntime")
torch = optional_import("torch")
keras = optional_import("keras") if torch is not None else None


@dataclass
class Network:
    name: str
    path: Path
    peer: str  # "onnxruntime" or "keras"


@dataclass
class Result:
    network: Network
    batch: int
    timings: dict[str, Timing] = field(default_factory=dict)
    rel_diff: float | None = None
    note: str = ""

    def ratio(self) -> float | None:
        peer = self.timings.get(self.network.peer)
        own = self.timings.get("kernelkit")
        return None if peer is None or own is None else peer.min_ms / own.min_ms

    def status(self) -> str:
        if self.rel_diff is not None and self.rel_diff > RTOL:
            return f"FAIL: differs by {self.rel_diff:.1e}"
        ratio = self.ratio()
        if ratio is None:
            return "n/a"
        target = TARGETS[self.network.peer]
        return "PASS" if ratio >= target else f"MISS: >= {target:g}x"


# -- networks ----------------------------------------------------------------------------------
def published_networks(directory: Path) -> list[Network]:
    """ResNet-18 as ONNX and MobileNetV2 as .keras, random weights, where the frameworks are."""
    found = []
    if torch is not None:
        path = exported_resnet(RESNET18_STAGES, 224)
        found.append(Network("ResNet-18 224", path, "onnxruntime"))
    if keras is not None:
        path = directory / "mobilenetv2.keras"
        keras.utils.set_random_seed(0)
        model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
        randomise_batch_norms(model)
        model.save(path)
        found.append(Network("MobileNetV2 224", path, "keras"))
    return found


def randomise_batch_norms(model: Any) -> None:
    """Trained-looking statistics instead of the initial ones (mean 0, variance 1), under which
    a randomly initialised MobileNetV2 gives nearly the same output for every input."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            weights = layer.get_weights()  # gamma, beta, moving mean, moving variance
            n = weights[0].shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.normal(0, 0.2, n),
                    rng.normal(0, 0.2, n),
                    rng.uniform(0.5, 1.5, n),
                ]
            )


# -- peers -------------------------------------------------------------------------------------
def peer_call(network: Network, x: np.ndarray, threads: int) -> Callable[[], Any] | str:
    """The peer's forward pass on x, or why it cannot run."""
    if network.peer == "onnxruntime":
        if ort is None:
            return "onnxruntime is not installed"
        session = ort.InferenceSession(
            str(network.path), session_options(ort, threads), providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        return lambda: session.run(None, {name: x})[0]
    if keras is None:
        return "Keras (on the torch backend) is not installed"
    torch.set_num_threads(threads)
    model = keras.saving.load_model(network.path, compile=False)
    tensor = torch.from_numpy(x)

    def call() -> Any:
        with torch.no_grad():
            return model(tensor, training=False)

    return call


def to_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def run_network(network: Network, batch: int, cfg: Config) -> Result:
    result = Result(network, batch)
    model = kernelkit.load_model(network.path)
    shape = [batch if s is None else s for s in model.input_shape]
    shape[0] = batch
    x = np.random.default_rng(cfg.seed).random(shape, dtype=np.float32)
    ours = lambda: model.run(x, n_threads=cfg.threads)  # noqa: E731
    theirs = peer_call(network, x, cfg.threads)
    calls: dict[str, Callable[[], Any]] = {"kernelkit": ours}
    if isinstance(theirs, str):
        result.note = theirs
    else:
        calls[network.peer] = theirs
        expected = to_array(theirs())
        got = np.asarray(ours())
        result.rel_diff = float(
            np.max(np.abs(got - expected)) / max(np.max(np.abs(expected)), 1e-30)
        )
    for _ in range(ROUNDS):
        for name, call in calls.items():
            timing, _ = measure(call, cfg.repeats, cfg.budget, cfg.settle)
            previous = result.timings.get(name)
            result.timings[name] = timing if previous is None else previous.merged(timing)
    return result


# -- the commands ------------------------------------------------------------------------------
@dataclass
class CommandTiming:
    command: str
    min_s: float


def largest_conv(path: Path) -> str:
    model = kernelkit.load_model(path)
    layers = [layer for layer in model if layer.weight.ndim == 4]
    return max(layers, key=lambda layer: layer.weight.size).name


def time_commands(directory: Path) -> list[CommandTiming]:
    """``kernelkit filters`` and ``features`` on the largest conv layer of the biggest fixtures,
    each a new process, best of three."""
    from kernelkit._images import write_image

    image = directory / "photo.png"
    write_image(image, np.random.default_rng(0).random((240, 320, 3)))
    timings = []
    for file in ("graph_unet.keras", "graph_resnet.onnx"):
        path = FIXTURES / file
        layer = largest_conv(path)
        for command in (["filters", str(path)], ["features", str(path), str(image)]):
            argv = [
                sys.executable,
                "-m",
                "kernelkit",
                *command,
                "--layer",
                layer,
                "-o",
                str(directory / "f.png"),
            ]
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                best = min(best, time.perf_counter() - start)
            shown = " ".join(
                [
                    "kernelkit",
                    command[0],
                    file,
                    *(["photo.png"] if len(command) > 2 else []),
                    "--layer",
                    layer,
                ]
            )
            timings.append(CommandTiming(shown, best))
    return timings


# -- report ------------------------------------------------------------------------------------
@dataclass
class Config:
    threads: int
    repeats: int
    budget: float
    settle: float
    seed: int
    batches: list[int]


def rows(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    header = [
        "network",
        "batch",
        "kernelkit ms",
        "kk median",
        "peer",
        "peer ms",
        "vs peer",
        "rel diff",
        "status",
    ]
    body = []
    for r in results:
        own = r.timings["kernelkit"]
        peer = r.timings.get(r.network.peer)
        body.append(
            [
                r.network.name,
                str(r.batch),
                fmt_ms(own.min_ms),
                fmt_ms(own.median_ms),
                r.network.peer,
                fmt_ms(None if peer is None else peer.min_ms),
                fmt_ratio(r.ratio()),
                "-" if r.rel_diff is None else f"{r.rel_diff:.1e}",
                r.status() + (f" ({r.note})" if r.note else ""),
            ]
        )
    return header, body


def environment(cfg: Config) -> dict[str, Any]:
    env = base_environment(cfg.threads, torch)
    for name in ("onnxruntime", "keras", "onnx"):
        env[name] = package_version(name)
    return env


def render(
    env: dict[str, Any],
    results: Sequence[Result],
    commands: Sequence[CommandTiming],
    markdown: bool,
) -> str:
    table = markdown_table if markdown else text_table
    names = [
        ("onnxruntime", "onnxruntime"),
        ("keras", "keras"),
        ("torch", "torch"),
        ("onnx", "onnx"),
    ]
    lines = [
        "# kernelkit whole-network benchmark" if markdown else "kernelkit whole-network benchmark",
        *system_lines(
            env, "onnxruntime intra_op_num_threads, torch.set_num_threads, kernelkit n_threads"
        ),
        kernelkit_line(env),
        versions_line(env, names),
        f"timing: min (and kernelkit's median) of {ROUNDS} interleaved rounds of calls after a "
        "warm-up",
        "",
    ]
    header, body = rows(results)
    lines += [table(header, body, left=(0, 4, 8)), ""]
    lines += [
        table(
            ["command", "best of 3 s"], [[c.command, f"{c.min_s:.2f}"] for c in commands], left=(0,)
        ),
        "",
    ]
    lines.append(
        "note: vs peer = peer min / kernelkit min (> 1: kernelkit is faster); targets: >= 1.0x "
        "onnxruntime on the same .onnx file, >= 3x Keras (torch backend) on the .keras file; "
        "commands: wall time of a new process, Python start and imports included"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument(
        "--batches", default="1,32", help="comma-separated batch sizes (default 1,32)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the fixtures only, batch 1, fewer repeats"
    )
    parser.add_argument("--no-commands", action="store_true", help="skip timing the commands")
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    repeats, budget, settle = timing_settings(args, args.quick)
    batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    cfg = Config(args.threads, repeats, budget, settle, args.seed, batches)
    log_run_warnings(SCRIPT)
    env = environment(cfg)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        networks = [
            Network(
                f.split(".")[0].removeprefix("graph_"),
                FIXTURES / f,
                "onnxruntime" if f.endswith(".onnx") else "keras",
            )
            for f in FIXTURE_MODELS
        ]
        if not args.quick:
            networks += published_networks(directory)
        for network in networks:
            for batch in batches:
                log_stderr(f"  {network.name} batch {batch} ...")
                results.append(run_network(network, batch, cfg))
        commands = [] if args.no_commands else time_commands(directory)
    print(render(env, results, commands, markdown=False))
    write_reports(
        args.markdown,
        lambda: render(env, results, commands, markdown=True),
        args.json,
        lambda: {
            "environment": env,
            "results": [
                {
                    "network": r.network.name,
                    "file": str(r.network.path.name),
                    "batch": r.batch,
                    "peer": r.network.peer,
                    "timings": {k: v.as_dict() for k, v in r.timings.items()},
                    "rel_diff": r.rel_diff,
                    "status": r.status(),
                }
                for r in results
            ],
            "commands": [c.__dict__ for c in commands],
        },
    )
    return 1 if any(r.status().startswith("FAIL") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
