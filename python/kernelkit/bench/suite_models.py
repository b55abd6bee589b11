"""The models suite: whole networks read from their files by kernelkit.load_model, against the
frameworks' own runtimes on the same file (onnxruntime for .onnx, Keras 3 for .keras).

The networks: the digits CNN shipped in the package (.keras), and a ResNet built with PyTorch
(random weights, BatchNormalization statistics randomised) and exported to ONNX in the run:
ResNet-18 at 224 x 224, or a narrow one at 64 x 64 for ``--quick``.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..models import ConvModel, demo_model_path, load_model
from .cases import Array, Call, Case, Methods, Suite, random_generator, register
from .suite_conv import session_options

RESNET18_STAGES: tuple[int, ...] = (64, 128, 256, 512)
QUICK_STAGES: tuple[int, ...] = (16, 32)


@dataclass(frozen=True)
class ModelCase(Case):
    """One network file run on a batch of uniform [0, 1) inputs."""

    network: str = "digits"  # "digits" (the shipped .keras CNN) or "resnet" (exported ONNX)
    batch: int = 1
    hw: int = 224  # the ResNet's input size
    stages: tuple[int, ...] = RESNET18_STAGES  # the ResNet's widths, two blocks each

    suite = "models"

    @property
    def description(self) -> str:
        if self.network == "digits":
            return f"digits CNN (.keras) batch {self.batch}"
        depth = 2 + 4 * len(self.stages)
        return f"ResNet-{depth} {self.hw}x{self.hw} (.onnx) batch {self.batch}"

    @property
    def probe_memory(self) -> bool:
        return False  # a network's intermediate arrays are its own, not one call's scratch

    def path(self) -> Path:
        if self.network == "digits":
            return demo_model_path()
        return exported_resnet(self.stages, self.hw)

    def inputs(self, seed: int) -> tuple[ConvModel, Array]:
        model = load_model(self.path())
        if model.input_shape is None:
            raise ValueError(f"{model.path}: the file records no input shape")
        shape = [self.batch, *(self.hw if s is None else s for s in model.input_shape[1:])]
        x = random_generator(seed, self).random(shape).astype(self.dtype)
        return model, x

    def kernelkit(self, inputs: tuple[ConvModel, Array], threads: int) -> Call:
        model, x = inputs
        return lambda: model.run(x, n_threads=threads)

    def peer_methods(self, peer: str, module: ModuleType, inputs: Any, threads: int) -> Methods:
        model, x = inputs
        if peer == "onnxruntime" and model.format == "onnx":
            session = module.InferenceSession(
                str(model.path),
                session_options(module, threads),
                providers=["CPUExecutionProvider"],
            )
            name = session.get_inputs()[0].name
            return {"InferenceSession": lambda: session.run(None, {name: x})[0]}
        if peer == "keras" and model.format.startswith("keras"):
            return {"model(x)": keras_call(module, model.path, x)}
        return {}


def keras_call(keras: ModuleType, path: Path, x: Array) -> Call:
    """``model(x, training=False)`` under ``torch.no_grad()`` (Keras on the torch backend)."""
    import torch

    network = keras.saving.load_model(path, compile=False)
    tensor = torch.from_numpy(x)

    def call() -> Any:
        with torch.no_grad():
            return network(tensor, training=False)

    return call


@functools.cache
def exported_resnet(stages: tuple[int, ...], hw: int) -> Path:
    """A ResNet (two basic blocks per stage) exported to ONNX in a temporary folder; needs
    PyTorch and onnx (ImportError without them)."""
    import torch

    directory = Path(tempfile.mkdtemp(prefix="kernelkit-bench-"))
    path = directory / f"resnet-{'-'.join(map(str, stages))}-{hw}.onnx"
    torch.onnx.export(
        resnet(torch, stages),
        (torch.randn(1, 3, hw, hw),),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
    )
    return path


def resnet(torch: ModuleType, stages: tuple[int, ...]) -> Any:
    """ResNet-18's layout with ``stages`` widths: 7x7 stem, max pool, two basic blocks per
    stage (stride 2 from the second stage on), global pool, a 1000-way linear layer."""
    nn = torch.nn

    class Block(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: Any) -> Any:
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    blocks, cin = [], stages[0]
    for index, cout in enumerate(stages):
        blocks += [Block(cin, cout, 1 if index == 0 else 2), Block(cout, cout, 1)]
        cin = cout
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, stages[0], 7, 2, 3, bias=False),
        nn.BatchNorm2d(stages[0]),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(cin, 1000),
    ).eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # trained-looking statistics, not 0 and 1
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model


FULL_CASES: tuple[ModelCase, ...] = (
    ModelCase("digits-b360", network="digits", batch=360),
    ModelCase("resnet18-b1", network="resnet", batch=1),
    ModelCase("resnet18-b8", network="resnet", batch=8),
)
QUICK_CASES: tuple[ModelCase, ...] = (
    ModelCase("digits-b64", network="digits", batch=64),
    ModelCase("resnet10n-64-b1", network="resnet", batch=1, hw=64, stages=QUICK_STAGES),
)

SUITE = register(
    Suite(
        "models",
        "whole networks from their files (load_model(path).run(x))",
        lambda quick: QUICK_CASES if quick else FULL_CASES,
        ("onnxruntime", "keras"),
        unit="ms",
    )
)
