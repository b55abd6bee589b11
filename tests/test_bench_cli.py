"""``kernelkit bench``: a --quick run as a user runs it (a subprocess writing JSON, Markdown and
plots, checked against the documented schema), the same without any optional peer, the exit
status when a result differs, and the option errors. No timing is asserted."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from kernelkit.bench import cases
from kernelkit.bench.schema import RESULT_SCHEMA, property_names
from kernelkit.cli import main

README = Path(__file__).resolve().parents[1] / "bench" / "README.md"
OPTIONAL_MODULES = ("scipy", "sklearn", "torch", "onnx", "onnxruntime", "cv2", "keras")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def validate(report: dict) -> None:
    jsonschema.validate(report, RESULT_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_quick_run_writes_json_markdown_and_plots(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = tmp_path / "quick"
    outputs = ["--json", f"{out}.json", "--markdown", f"{out}.md", "--plot", f"{out}.png"]
    proc = subprocess.run(
        [sys.executable, "-m", "kernelkit", "bench", "--quick", *outputs],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(Path(f"{out}.json").read_text())
    validate(report)
    assert report["suites"] == ["conv", "filter", "gram", "models"]
    assert {r["suite"] for r in report["results"]} == set(report["suites"])
    for result in report["results"]:
        assert result["matches"], result
        assert result["kernelkit"] is not None or result["unavailable"], result
        if result["suite"] != "models":
            assert "numpy" in result["peers"]
            assert result["gflops"] > 0
            assert result["extra_memory"]["extra_bytes"] is not None
    conv_numpy = report["results"][0]["peers"]["numpy"]
    assert set(conv_numpy["methods"]) == {"einsum", "im2col+matmul"}
    assert conv_numpy["method"] in conv_numpy["methods"]
    assert report["ceilings"][0]["fma_gflops"]["float32"] > 0
    markdown = Path(f"{out}.md").read_text()
    assert "## Ceilings" in markdown
    assert "| c32-28 |" in markdown
    assert Path(f"{out}.png").read_bytes().startswith(PNG_MAGIC)
    assert "c32-28" in proc.stdout  # the terminal table


def test_runs_without_any_optional_peer(tmp_path, monkeypatch, capsys):
    blocked = (*OPTIONAL_MODULES, "threadpoolctl")
    for name in [*blocked, *(m for m in sys.modules if m.split(".")[0] in blocked)]:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, loaded or not
    out = tmp_path / "bare"
    argv = ["bench", "--quick", "--suite", "filter,models", "--threads", "1,2", "--rounds", "1"]
    argv += ["--no-memory", "--json", f"{out}.json", "--plot", f"{out}.png"]
    assert main(argv) == 0
    report = json.loads(Path(f"{out}.json").read_text())
    validate(report)
    assert report["peers"]["loaded"] == ["numpy"]
    assert {"scipy", "opencv", "onnxruntime"} <= set(report["peers"]["missing"])
    resnet = next(r for r in report["results"] if r["case"].startswith("resnet"))
    assert "torch" in resnet["unavailable"]
    filters = [r for r in report["results"] if r["suite"] == "filter"]
    assert {r["threads"] for r in filters} == {1, 2}
    assert all(set(r["peers"]) == {"numpy"} for r in filters)
    assert Path(f"{out}-threads.png").read_bytes().startswith(PNG_MAGIC)
    text = capsys.readouterr().out
    assert "Thread scaling" in text
    assert "scipy skipped: scipy is not installed" in text


@dataclasses.dataclass(frozen=True)
class WrongCase(cases.Case):
    """kernelkit's result is zeros where NumPy's is ones."""

    suite = "wrong"

    def inputs(self, seed):
        return np.ones(16)

    def kernelkit(self, inputs, threads):
        return lambda: np.zeros_like(inputs)

    def peer_methods(self, peer, module, inputs, threads):
        return {"copy": inputs.copy} if peer == "numpy" else {}


def test_a_result_that_differs_fails_the_run(monkeypatch, capsys):
    suite = cases.Suite("wrong", "a wrong case", lambda quick: [WrongCase("zeros")], ("numpy",))
    monkeypatch.setitem(cases.SUITES, "wrong", suite)
    assert main(["bench", "--quick", "--suite", "wrong", "--no-memory", "--threads", "1"]) == 1
    assert "zeros (float32): numpy differs from kernelkit" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--threads", "0"], "thread counts must be >= 1"),
        (["--threads", "two"], "expected N or N,N"),
        (["--suite", "fft"], "unknown suite fft"),
        (["--peers", "numpy,jax"], "unknown peer jax"),
        (["--dtype", "float16"], "invalid choice"),
    ],
)
def test_bad_options_name_the_problem(option, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", *option])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_readme_documents_every_json_field():
    documented = set(re.findall(r"`([a-z_0-9]+)`", README.read_text(encoding="utf-8")))
    assert property_names() - documented == set()
