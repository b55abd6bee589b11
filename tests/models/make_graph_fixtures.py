"""Regenerate the whole-network fixtures in tests/models/fixtures/ (files graph_*).

Run from anywhere, with Keras 3 on the torch backend, torch, onnx and onnxruntime (the
``fixtures`` extra)::

    KERAS_BACKEND=torch python tests/models/make_graph_fixtures.py

They test running a whole network from the file's graph, without the frameworks. Everything is
seeded and the Keras save dates, zip timestamps and object ids are fixed (with the helpers of
make_keras_fixtures.py), so a rerun rewrites every file byte for byte. Weights are random,
BatchNormalization gamma/beta/moving statistics too (variance positive), so that every layer
is really tested. Keras models, each saved as ``graph_<name>.keras`` and legacy
``graph_<name>.h5``:

- ``xception``: the mini-Xception emotion classifier public packages ship (48x48x1, 7 classes,
  auto-generated layer names, l2 regularizers in the config; half its channels, 4 in the stem
  and modules of 8 and 16, to keep the reference small): Conv2D without bias + BN + relu
  twice, two residual modules (SeparableConv2D, MaxPooling2D 3/2 "same", a strided 1x1 Conv2D
  shortcut, Add), Conv2D, GlobalAveragePooling2D and Activation("softmax", name="predictions").
- ``mobilenet``: MobileNetV2-like (32x32x3): Rescaling(1/127.5, offset=-1), ReLU(6.),
  inverted residual blocks (1x1 expand, DepthwiseConv2D, 1x1 project, Add) and a stride-2 block
  with ZeroPadding2D(((0, 1), (0, 1))) + DepthwiseConv2D "valid" as keras.applications does,
  GlobalAveragePooling2D, Dropout, Dense softmax.
- ``unet``: a small U-Net (32x32x3): MaxPooling2D, Conv2DTranspose (kernel 3, stride 2,
  "same"), Concatenate with skips, UpSampling2D bilinear and nearest (size 4), a
  Cropping2D/ZeroPadding2D pair with asymmetric amounts, a 1x1 sigmoid head.
- ``misc``: Normalization (mean/variance given), PReLU(shared_axes=[1, 2]), AveragePooling2D
  3/2 "same" on 15 x 15 (border windows average fewer values), Conv2D(activation="elu"),
  LeakyReLU(0.3), ELU(0.7), SpatialDropout2D, GaussianNoise, Dropout, a nested Sequential
  (Conv2D + BN) shared by two branches, Subtract, Multiply, Conv1D between Reshape layers, a
  nested Functional model with ReLU(max_value=6, negative_slope=0.1, threshold=0.5),
  GlobalMaxPooling2D, Dense + Activation("relu"), Reshape + Flatten, Softmax.
- ``sequential``: a Sequential model (20x20x3): Conv2D, BN, ReLU, MaxPooling2D, Conv2D,
  GlobalAveragePooling2D, Dense softmax.

``graph_<name>_reference.npz`` (compressed) holds ``input`` (a seeded float32 batch of 2),
``output`` (Keras' output in inference mode) and each layer's output keyed by its name
(InputLayer included); the layers of a nested model are keyed ``<outer name>/<inner name>``,
with their outputs for the first call of the nested model, and a shared layer's key holds its
first call's output. The script checks that the last layer's entry is the output and that the
.keras and .h5 files, loaded back by Keras, give that output.

ONNX models exported from torch.nn (eval mode) by the TorchScript exporter (opset 17, dynamic
batch axis, graph input ``input`` and output ``output``), as ``graph_<name>.onnx``. The export
runs with ``training=TrainingMode.PRESERVE`` so that BatchNormalization nodes stay in the graph
(the default mode folds them into the convolutions, which onnx_cnn.onnx already tests):

- ``resnet``: a small ResNet (input 1x3x64x64): Conv 7x7/2 without bias, BatchNormalization,
  Relu, MaxPool 3/2 pad 1, two BasicBlocks (Add; one with a strided 1x1 Conv + BN shortcut),
  GlobalAveragePool, Flatten, Gemm.
- ``unet_torch``: a small U-Net (1x3x32x32): MaxPool, BatchNormalization, ConvTranspose
  (stride 2, pads 1, output_padding 1), Resize x2 nearest (asymmetric, floor) and linear
  (half_pixel), Concat, Sigmoid.
- ``ops``: HardSwish, HardSigmoid, LeakyRelu, PRelu, Clip, Tanh, Softmax, Sub/Mul/Div/Add by
  tensors and constants, Pad reflect and constant (pads computed by the exporter's
  ConstantOfShape/Concat/Reshape/Slice/Transpose/Cast chain), Transpose, MatMul, Unsqueeze/Squeeze,
  Reshape from Shape/Gather/Unsqueeze/Concat arithmetic, AveragePool with and without
  count_include_pad, MaxPool with ceil_mode, GlobalMaxPool, Flatten, Gemm, and an inference
  Dropout and an Identity node (emitted with custom symbolics: the exporter drops nn.Dropout and
  nn.Identity in eval mode).

``graph_<name>_reference.npz`` (compressed) holds ``input`` (seeded float32, batch 2),
``output`` and every node output (Constant and int64 shape tensors included) keyed by its
tensor name, computed by onnxruntime (graph optimisations off) on a copy of the model where
each node output is a graph output; torch's own output is checked against it (rtol 1e-4).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import warnings
from collections.abc import Callable

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import onnx
import onnxruntime
import torch
from keras import layers
from keras.src.ops.function import make_node_key
from make_keras_fixtures import FIXTURES, save_keras_zip
from torch import nn
from torch.nn import functional

BATCH = 2
OPSET = 17


# --------------------------------------------------------------------------------- Keras models


def xception_model(num_classes: int = 7) -> keras.Model:
    """The mini-Xception of face_classification-style packages, with two residual modules."""
    regularization = keras.regularizers.l2(0.01)
    image = keras.Input((48, 48, 1))
    x = image
    for _ in range(2):
        x = layers.Conv2D(4, 3, use_bias=False, kernel_regularizer=regularization)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    for filters in (8, 16):  # the published model: 8 in the stem, modules of 16 ... 128
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x)
        residual = layers.BatchNormalization()(residual)
        separable = {
            "padding": "same",
            "use_bias": False,
            "depthwise_regularizer": regularization,
            "pointwise_regularizer": regularization,
        }
        x = layers.SeparableConv2D(filters, 3, **separable)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, **separable)(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.Add()([x, residual])
    x = layers.Conv2D(num_classes, 3, padding="same")(x)
    x = layers.GlobalAveragePooling2D()(x)
    output = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(image, output, name="mini_XCEPTION")


def batch_norm(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)


def inverted_residual(x, block_id: int, filters: int, stride: int, expansion: int = 3):
    """A MobileNetV2 block, named as keras.applications.MobileNetV2 names it."""
    prefix = f"block_{block_id}_"
    in_channels = x.shape[-1]
    block_input = x
    x = layers.Conv2D(expansion * in_channels, 1, use_bias=False, name=prefix + "expand")(x)
    x = batch_norm(prefix + "expand_BN")(x)
    x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=prefix + "pad")(x)
    padding = "same" if stride == 1 else "valid"
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding=padding, use_bias=False, name=prefix + "depthwise"
    )(x)
    x = batch_norm(prefix + "depthwise_BN")(x)
    x = layers.ReLU(6.0, name=prefix + "depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=prefix + "project")(x)
    x = batch_norm(prefix + "project_BN")(x)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=prefix + "add")([block_input, x])
    return x


def mobilenet_model() -> keras.Model:
    image = keras.Input((32, 32, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(image)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="Conv1")(x)
    x = batch_norm("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    x = inverted_residual(x, 1, filters=8, stride=1)
    x = inverted_residual(x, 2, filters=12, stride=2)
    x = inverted_residual(x, 3, filters=12, stride=1)
    x = layers.Conv2D(32, 1, use_bias=False, name="Conv_1")(x)
    x = batch_norm("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    output = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(image, output, name="mobilenet_fixture")


def unet_model() -> keras.Model:
    image = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(8, 3, padding="same", name="enc1_conv")(image)
    enc1 = layers.ReLU(name="enc1_relu")(x)
    x = layers.MaxPooling2D(2, name="pool1")(enc1)
    enc2 = layers.Conv2D(16, 3, padding="same", activation="relu", name="enc2_conv")(x)
    x = layers.MaxPooling2D(2, name="pool2")(enc2)
    bottom = layers.Conv2D(32, 3, padding="same", activation="relu", name="bottleneck")(x)
    x = layers.Conv2DTranspose(16, 3, strides=2, padding="same", name="up2")(bottom)
    x = layers.Concatenate(name="cat2")([x, enc2])
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="dec2_conv")(x)
    up1 = layers.UpSampling2D(2, interpolation="bilinear", name="up1_bilinear")(x)
    side = layers.Conv2D(4, 1, name="side_conv")(bottom)
    side = layers.UpSampling2D(4, interpolation="nearest", name="side_nearest")(side)
    skip = layers.Cropping2D(((1, 2), (3, 0)), name="skip_crop")(enc1)
    skip = layers.ZeroPadding2D(((2, 1), (0, 3)), name="skip_pad")(skip)
    x = layers.Concatenate(name="cat1")([up1, skip, side])
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="dec1_conv")(x)
    mask = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(image, mask, name="unet_fixture")


def shared_block() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.Input((8, 8, 8), name="shared_input"),
            layers.Conv2D(8, 3, padding="same", name="shared_conv"),
            layers.BatchNormalization(name="shared_bn"),
        ],
        name="shared_block",
    )


def clipped_block() -> keras.Model:
    inner_input = keras.Input((8, 8, 8), name="inner_input")
    x = layers.Conv2D(8, 3, padding="same", name="inner_conv")(inner_input)
    x = layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5, name="clipped_relu")(x)
    return keras.Model(inner_input, x, name="inner_functional")


def misc_model() -> keras.Model:
    # 15 x 15: pooling 3/2 "same" pads one row each side, which Keras' backends agree on (the
    # torch backend averages replicated edge values where the padding is one-sided)
    image = keras.Input((15, 15, 3), name="image")
    x = layers.Normalization(mean=[0.25, -0.5, 1.0], variance=[0.5, 2.0, 1.5], name="normalize")(
        image
    )
    x = layers.Conv2D(8, 3, padding="same", name="stem")(x)
    x = layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="avg_pool")(x)
    a = layers.Conv2D(8, 3, padding="same", activation="elu", name="conv_elu")(x)
    a = layers.SpatialDropout2D(0.3, name="spatial_dropout")(a)
    b = layers.LeakyReLU(negative_slope=0.3, name="leaky")(x)
    b = layers.GaussianNoise(0.5, name="noise")(b)
    b = layers.ELU(alpha=0.7, name="elu")(b)
    shared = shared_block()
    x = layers.Subtract(name="subtract")([shared(a), shared(b)])
    x = layers.Multiply(name="multiply")([x, a])
    x = layers.Reshape((64, 8), name="to_sequence")(x)
    x = layers.Conv1D(8, 3, padding="same", name="conv1d")(x)
    x = layers.Reshape((8, 8, 8), name="to_image")(x)
    x = clipped_block()(x)
    x = layers.Dropout(0.25, name="dropout")(x)
    x = layers.GlobalMaxPooling2D(name="global_max")(x)
    x = layers.Dense(16, name="dense")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    x = layers.Reshape((2, 8), name="to_matrix")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(6, name="logits")(x)
    output = layers.Softmax(name="softmax")(x)
    return keras.Model(image, output, name="misc_fixture")


def sequential_model() -> keras.Sequential:
    return keras.Sequential(
        [
            keras.Input((20, 20, 3), name="image"),
            layers.Conv2D(8, 3, name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="relu1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(16, 3, padding="same", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(5, activation="softmax", name="predictions"),
        ],
        name="sequential_fixture",
    )


def randomise_keras_weights(model: keras.Model, rng: np.random.Generator) -> None:
    """Random biases, BatchNormalization parameters and statistics, and PReLU slopes.

    Kernels keep Keras' seeded Glorot initialisation: the N(0, 0.5) of make_keras_fixtures'
    randomise_weights is too wide for deep networks, whose softmax outputs would saturate.
    """
    for variable in model.weights:
        kind = variable.path.rsplit("/", 1)[-1]
        shape = variable.shape
        if kind in ("gamma", "moving_variance"):
            values = rng.uniform(0.5, 1.5, shape)
        elif kind in ("beta", "moving_mean", "bias"):
            values = rng.normal(0.0, 0.2, shape)
        elif kind == "alpha":
            values = rng.uniform(0.05, 0.4, shape)
        else:
            continue
        variable.assign(values.astype(np.float32))


def first_node(graph: keras.Model, layer: keras.layers.Layer):
    """The layer's first call inside ``graph`` (a shared layer has one node per call)."""
    for index, node in enumerate(layer._inbound_nodes):
        if make_node_key(layer, index) in graph._nodes:
            return node
    raise ValueError(f"{layer.name} is not called in {graph.name}")


def layer_outputs(model: keras.Model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output (InputLayer included) on ``x``, in inference mode.

    Layers of nested models are keyed "<model>/<layer>", for the nested model's first call.
    """
    # .inputs/.outputs, not .input/.output: a nested model's .output is its call's, outside
    graph = keras.Model(model.inputs, model.outputs)  # a Sequential's graph, with its InputLayer
    nodes = [(layer, first_node(graph, layer)) for layer in graph.layers]
    nested = [(layer, node) for layer, node in nodes if isinstance(layer, keras.Model)]
    wanted = [node.output_tensors[0] for _, node in nodes]
    wanted += [node.input_tensors[0] for _, node in nested]
    probe = keras.Model(graph.inputs, wanted)
    values = [keras.ops.convert_to_numpy(v) for v in probe([x], training=False)]
    arrays = {layer.name: value for (layer, _), value in zip(nodes, values)}
    for (inner, _), inner_x in zip(nested, values[len(nodes) :]):
        for name, value in layer_outputs(inner, inner_x).items():
            arrays[f"{inner.name}/{name}"] = value
    return arrays


def keras_reference(model: keras.Model, x: np.ndarray) -> dict[str, np.ndarray]:
    output = keras.ops.convert_to_numpy(model(x, training=False))
    arrays = {"input": x, "output": output, **layer_outputs(model, x)}
    last = model.layers[-1].name
    np.testing.assert_array_equal(arrays[last], output, err_msg=f"{last} is not the output")
    return arrays


def write_keras_model(
    build: Callable[[], keras.Model], stem: str, directory: pathlib.Path, seed: int
) -> None:
    keras.backend.clear_session()  # auto-generated layer names restart from conv2d, ...
    keras.utils.set_random_seed(seed)
    model = build()
    rng = np.random.default_rng(seed)
    randomise_keras_weights(model, rng)
    shape = (BATCH, *model.inputs[0].shape[1:])
    if stem == "mobilenet":
        x = rng.uniform(0.0, 255.0, shape).astype(np.float32)  # pixels, for the Rescaling
    else:
        x = rng.normal(0.0, 1.0, shape).astype(np.float32)
    reference = keras_reference(model, x)
    np.savez_compressed(directory / f"graph_{stem}_reference.npz", **reference)
    save_keras_zip(model, directory / f"graph_{stem}.keras")
    model.save(directory / f"graph_{stem}.h5")
    for suffix in (".keras", ".h5"):
        check_reloads(directory / f"graph_{stem}{suffix}", x, reference["output"])


def check_reloads(path: pathlib.Path, x: np.ndarray, expected: np.ndarray) -> None:
    """The saved file, loaded back by Keras, gives the reference output (the file is complete)."""
    model = keras.saving.load_model(path, compile=False)
    output = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(output, expected, err_msg=str(path))


# ---------------------------------------------------------------------------------- ONNX models


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class MiniResNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class MiniUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1)
        self.dec2 = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(24, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc1 = self.enc1(x)
        enc2 = self.enc2(self.pool(enc1))
        bottom = self.bottleneck(self.pool(enc2))
        dec2 = self.dec2(torch.cat([self.up(bottom), enc2], 1))
        nearest = functional.interpolate(dec2, scale_factor=2, mode="nearest")
        bilinear = functional.interpolate(
            dec2, scale_factor=2, mode="bilinear", align_corners=False
        )
        return torch.sigmoid(self.head(torch.cat([nearest, bilinear, enc1], 1)))


class OnnxIdentity(torch.autograd.Function):
    """Identity in torch; an ONNX Identity node in the export."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def symbolic(g, x):
        return g.op("Identity", x)


class OnnxInferenceDropout(torch.autograd.Function):
    """Identity in torch; an ONNX Dropout node (ratio 0.3, inference) in the export."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def symbolic(g, x):
        return g.op("Dropout", x, g.op("Constant", value_t=torch.tensor(0.3)))


class OpsModel(nn.Module):
    """Makes the exporter emit the elementwise, padding, shape and pooling ops (input 3x16x16)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        self.mix = nn.Parameter(torch.randn(8, 8) * 0.4)
        self.pool_with_pads = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
        self.pool_without_pads = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.pool_ceil = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.dropout = nn.Dropout(0.3)
        self.identity = nn.Identity()
        self.head = nn.Linear(8, 5)

    def activations(self, h: torch.Tensor) -> torch.Tensor:
        x = functional.hardswish(h) - functional.hardsigmoid(h)  # HardSwish, HardSigmoid, Sub
        x = x * functional.leaky_relu(h, 0.2) + self.prelu(h)  # LeakyRelu, Mul, PRelu, Add
        x = x / (torch.tanh(h) + 2.0)  # Tanh, Add and Div by a constant
        return torch.clamp(x, -0.5, 0.75) * 1.5 - 0.25  # Clip, Mul and Sub by constants

    def shapes(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.matmul(x.permute(0, 2, 3, 1), self.mix).permute(0, 3, 1, 2)  # Transpose, MatMul
        n, c, h, w = x.shape
        x = torch.softmax(x.reshape(n, c, h * w), dim=-1)  # Shape, Gather, Concat, Reshape
        x = x.reshape(n * c, h, w).reshape(n, c, h, w) / 0.02
        return x.unsqueeze(1).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activations(self.conv(x))
        x = functional.pad(x, (1, 2, 0, 1), mode="reflect")  # 17x19
        x = functional.pad(x, (1, 1, 2, 0), value=0.5)  # 19x21
        x = self.pool_with_pads(x) - 2.0 * self.pool_without_pads(x)  # 10x11
        x = self.pool_ceil(self.shapes(x))  # 5x5
        x = functional.adaptive_max_pool2d(x, 1)  # GlobalMaxPool
        x = OnnxInferenceDropout.apply(self.identity(self.dropout(x)))
        return self.head(OnnxIdentity.apply(torch.flatten(x, 1)))


def randomise_torch_weights(model: nn.Module) -> None:
    """Random BatchNorm parameters and running statistics, random PReLU slopes."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.2)
                module.running_var.uniform_(0.5, 1.5)
            elif isinstance(module, nn.PReLU):
                module.weight.uniform_(0.05, 0.4)


def export_onnx(model: nn.Module, example: torch.Tensor, path: pathlib.Path) -> None:
    """The TorchScript exporter (plain, stable graphs); PRESERVE keeps BatchNormalization."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, still exact
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            training=torch.onnx.TrainingMode.PRESERVE,
        )


def node_outputs(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every node output of the model on ``x``, computed by onnxruntime."""
    inferred = onnx.shape_inference.infer_shapes(model)
    typed = {info.name: info for info in [*inferred.graph.value_info, *inferred.graph.output]}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {output.name for output in probe.graph.output}
    names = [name for node in probe.graph.node for name in node.output if name]
    probe.graph.output.extend(typed[name] for name in names if name not in known)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return dict(zip(names, session.run(names, {"input": x})))


def write_onnx_model(
    build: Callable[[], nn.Module], stem: str, size: int, directory: pathlib.Path, seed: int
) -> None:
    torch.manual_seed(seed)
    model = build()
    randomise_torch_weights(model)
    model.eval()
    path = directory / f"graph_{stem}.onnx"
    export_onnx(model, torch.randn(1, 3, size, size), path)
    x = torch.randn(BATCH, 3, size, size)
    loaded = onnx.load(str(path))
    outputs = node_outputs(loaded, x.numpy())
    output = outputs[loaded.graph.output[0].name]
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-6, err_msg=stem)
    arrays = {"input": x.numpy(), **outputs, "output": output}
    np.savez_compressed(directory / f"graph_{stem}_reference.npz", **arrays)


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for old in FIXTURES.glob("graph_*"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        keras_models = {
            "xception": xception_model,
            "mobilenet": mobilenet_model,
            "unet": unet_model,
            "misc": misc_model,
            "sequential": sequential_model,
        }
        for seed, (stem, build) in enumerate(keras_models.items(), start=1):
            write_keras_model(build, stem, directory, seed)
        write_onnx_model(MiniResNet, "resnet", 64, directory, seed=11)
        write_onnx_model(MiniUNet, "unet_torch", 32, directory, seed=12)
        write_onnx_model(OpsModel, "ops", 16, directory, seed=13)
        for made in sorted(directory.iterdir()):
            shutil.copy(made, FIXTURES / made.name)
            print(f"{made.stat().st_size:8d}  {FIXTURES / made.name}")


if __name__ == "__main__":
    main()
