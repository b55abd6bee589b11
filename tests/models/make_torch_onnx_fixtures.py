"""Regenerate the PyTorch, safetensors and ONNX fixtures in tests/models/fixtures/.

Run from anywhere (needs torch, safetensors, onnx and onnxruntime: ``pip install
"kernelkit[fixtures]"``)::

    python tests/models/make_torch_onnx_fixtures.py

Everything is seeded, so a rerun rewrites every file byte for byte, except
``torch_cnn_legacy.pt``: the legacy format names its storages by memory address (its tensors
are the same).

Written (all small):

* ``torch_cnn.pt`` (zip format), ``torch_cnn_legacy.pt`` (pre-1.6 format) and
  ``torch_cnn_checkpoint.pth`` (``{"epoch", "state_dict", "optimizer"}``, zip format): the state
  dict of :class:`FixtureCNN` after one SGD step; ``safetensors_cnn.safetensors``: the same
  tensors.
* ``torch_cnn_reference.npz``: per conv layer ``<name>/input``, ``<name>/output`` (PyTorch's own
  conv2d with the layer's true configuration), ``<name>/weight``, ``<name>/bias``; ``config``,
  a JSON string with each layer's true stride/padding/dilation/groups; and ``mixed/<tensor>``,
  the float64 values of the mixed-dtype files below.
* ``torch_mixed_dtypes.pt`` and ``safetensors_mixed_dtypes.safetensors``: conv tensors in
  float16, bfloat16, float64 and float32 (the .pt also a strided view with a storage offset).
* ``torch_whole_module.pt``: a pickled whole ``nn.Sequential``, which the reader must refuse.
* ``onnx_cnn.onnx``: :class:`FixtureCNN` exported by ``torch.onnx.export`` (initializers, one
  Constant node, BatchNorm folded into the first conv, a 1-D conv).
* ``onnx_constant_weights.onnx``: a graph built with onnx.helper whose conv weights are Constant
  nodes (one through an Identity node, two initializers), with auto_pad SAME_UPPER, SAME_LOWER
  (stride 1 and 2), VALID, explicit asymmetric pads, dilation, groups, depthwise and a
  ConvTranspose.
* ``onnx_*_reference.npz``: per Conv node ``<name>/input``, ``<name>/output`` (onnxruntime),
  ``<name>/weight``, ``<name>/bias``.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.torch import save_file
from torch import nn

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
SEED = 0
INPUT_SHAPE = (2, 3, 13, 11)


class FixtureCNN(nn.Module):
    """Strides, padding, dilation, groups, a depthwise conv with multiplier 2, a conv without
    bias, BatchNorm and ReLUs, and a 1-D conv at the end (listed, not run, by kernelkit)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=8)
        self.dilated = nn.Conv2d(16, 12, 3, padding=2, dilation=2, groups=4)
        self.head = nn.Conv2d(12, 6, (1, 3), stride=(2, 1), padding=(0, 1), bias=False)
        self.temporal = nn.Conv1d(6, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem_bn(self.stem(x)))
        x = torch.relu(self.depthwise(x))
        x = torch.relu(self.dilated(x))
        return self.temporal(self.head(x).flatten(2))


def trained_model() -> tuple[FixtureCNN, torch.optim.Optimizer]:
    """The model after one SGD step with momentum: non-trivial BatchNorm statistics and an
    optimizer state with tensors, as a real checkpoint has."""
    torch.manual_seed(SEED)
    model = FixtureCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss = model(torch.randn(INPUT_SHAPE)).square().mean()
    loss.backward()
    optimizer.step()
    return model.eval(), optimizer


def torch_reference(model: FixtureCNN, x: torch.Tensor) -> dict[str, np.ndarray]:
    """Each Conv2d's input, output, weights and true configuration, recorded by forward hooks."""
    arrays: dict[str, np.ndarray] = {}
    config = {}

    def record(name: str, conv: nn.Conv2d):
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
            arrays[f"{name}/input"] = inputs[0].numpy().copy()
            arrays[f"{name}/output"] = output.numpy().copy()

        return conv.register_forward_hook(hook)

    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    handles = [record(name, conv) for name, conv in convs.items()]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    for name, conv in convs.items():
        arrays[f"{name}/weight"] = conv.weight.detach().numpy().copy()
        if conv.bias is not None:
            arrays[f"{name}/bias"] = conv.bias.detach().numpy().copy()
        config[name] = {
            "stride": list(conv.stride),
            "padding": list(conv.padding),
            "dilation": list(conv.dilation),
            "groups": conv.groups,
        }
    arrays["config"] = np.array(json.dumps(config))
    return arrays


def mixed_dtype_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Conv tensors in each floating type the readers convert."""
    dtypes = {
        "stem": torch.float16,
        "depthwise": torch.bfloat16,
        "dilated": torch.float64,
        "head": torch.float32,
    }
    return {
        name: tensor.to(dtypes[name.split(".")[0]])
        for name, tensor in state.items()
        if name.split(".")[0] in dtypes
    }


def strided_view() -> torch.Tensor:
    """A non-contiguous 4-D view with a storage offset: torch.save keeps the whole storage."""
    base = torch.arange(4 * 6 * 7 * 5, dtype=torch.float32).reshape(4, 6, 7, 5)
    return base.permute(1, 0, 2, 3)[1:, :, ::2]


def save_torch_and_safetensors(model: FixtureCNN, optimizer: torch.optim.Optimizer) -> None:
    state = model.state_dict()
    torch.save(state, FIXTURES / "torch_cnn.pt")
    torch.save(state, FIXTURES / "torch_cnn_legacy.pt", _use_new_zipfile_serialization=False)
    checkpoint = {"epoch": 1, "state_dict": state, "optimizer": optimizer.state_dict()}
    torch.save(checkpoint, FIXTURES / "torch_cnn_checkpoint.pth")
    torch.save(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), FIXTURES / "torch_whole_module.pt")
    save_file(state, str(FIXTURES / "safetensors_cnn.safetensors"), metadata={"format": "pt"})

    mixed = mixed_dtype_tensors(state)
    save_file(mixed, str(FIXTURES / "safetensors_mixed_dtypes.safetensors"))
    mixed["strided.weight"] = strided_view()
    torch.save(mixed, FIXTURES / "torch_mixed_dtypes.pt")

    reference = torch_reference(model, torch.randn(INPUT_SHAPE))
    for name, tensor in mixed.items():
        reference[f"mixed/{name}"] = tensor.to(torch.float64).numpy()
    np.savez(FIXTURES / "torch_cnn_reference.npz", **reference)


def layer_name(node: onnx.NodeProto) -> str:
    return node.name or node.output[0]


def onnx_reference(model: onnx.ModelProto, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each Conv node's input and output from onnxruntime, and its weights as the file stores
    them (initializer or Constant node, followed through Identity nodes)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    convs = [node for node in probe.graph.node if node.op_type == "Conv"]
    wanted = {name for node in convs for name in (node.input[0], node.output[0])}
    wanted -= {o.name for o in probe.graph.output}
    probe.graph.output.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in sorted(wanted)
    )
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, inputs)))
    values.update(inputs)
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in constants:
            constants[node.output[0]] = constants[node.input[0]]
    arrays = {}
    for node in convs:
        name = layer_name(node)
        arrays[f"{name}/input"] = values[node.input[0]]
        arrays[f"{name}/output"] = values[node.output[0]]
        arrays[f"{name}/weight"] = constants[node.input[1]]
        if len(node.input) > 2 and node.input[2]:
            arrays[f"{name}/bias"] = constants[node.input[2]]
    return arrays


def export_onnx_cnn(model: FixtureCNN) -> None:
    path = FIXTURES / "onnx_cnn.onnx"
    x = torch.randn(INPUT_SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, still exact
        torch.onnx.export(
            model, (x,), str(path), dynamo=False, input_names=["image"], opset_version=17
        )
    reference = onnx_reference(onnx.load(str(path)), {"image": x.numpy()})
    np.savez(FIXTURES / "onnx_cnn_reference.npz", **reference)


def constant_weights_model(rng: np.random.Generator) -> onnx.ModelProto:
    """A graph whose conv weights are mostly Constant nodes; input (1, 4, 17, 15)."""

    def array(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    def constant(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node(
            "Constant", [], [name], name=f"{name}_const", value=numpy_helper.from_array(value)
        )

    nodes = [
        constant("w_upper", array(6, 4, 3, 3)),
        constant("b_upper", array(6)),
        helper.make_node(
            "Conv", ["x", "w_upper", "b_upper"], ["c1"], name="same_upper_s2",
            auto_pad="SAME_UPPER", strides=[2, 2],
        ),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        constant("w_lower_raw", array(6, 3, 2, 2)),
        helper.make_node("Identity", ["w_lower_raw"], ["w_lower"], name="w_lower_identity"),
        constant("b_lower", array(6)),
        helper.make_node(
            "Conv", ["r1", "w_lower", "b_lower"], ["c2"], name="same_lower_s2_grouped",
            auto_pad="SAME_LOWER", strides=[2, 2], group=2, kernel_shape=[2, 2],
        ),
        constant("w_depthwise", array(12, 1, 2, 2)),
        helper.make_node(
            "Conv", ["c2", "w_depthwise"], ["c3"], name="same_lower_s1_depthwise",
            auto_pad="SAME_LOWER", group=6,
        ),
        helper.make_node(
            "Conv", ["c3", "w_dilated", "b_dilated"], ["c4"], name="explicit_dilated",
            pads=[0, 1, 2, 1], dilations=[2, 2],
        ),
        helper.make_node(
            "Conv", ["c4", "w_pointwise"], ["c5"], name="valid_pointwise", auto_pad="VALID"
        ),
        constant("w_transpose", array(3, 2, 2, 2)),
        helper.make_node(
            "ConvTranspose", ["c5", "w_transpose"], ["y"], name="upsample", strides=[2, 2]
        ),
    ]  # fmt: skip
    initializers = [
        numpy_helper.from_array(array(5, 12, 3, 3), "w_dilated"),
        numpy_helper.from_array(array(5), "b_dilated"),
        numpy_helper.from_array(array(3, 5, 1, 1), "w_pointwise"),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 17, 15])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 4])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="kernelkit-fixtures",
        producer_version="1.0",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save_constant_weights_model() -> None:
    rng = np.random.default_rng(SEED)
    model = constant_weights_model(rng)
    onnx.save(model, str(FIXTURES / "onnx_constant_weights.onnx"))
    x = rng.standard_normal((1, 4, 17, 15)).astype(np.float32)
    np.savez(FIXTURES / "onnx_constant_weights_reference.npz", **onnx_reference(model, {"x": x}))


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    model, optimizer = trained_model()
    save_torch_and_safetensors(model, optimizer)
    export_onnx_cnn(model)
    save_constant_weights_model()
    written = sorted(FIXTURES.glob("*"))
    mine = [p for p in written if p.name.startswith(("torch_", "safetensors_", "onnx_"))]
    for p in mine:
        print(f"{p.stat().st_size:>8}  {p.name}")
    print(f"{sum(p.stat().st_size for p in mine):>8}  total")


if __name__ == "__main__":
    main()
