"""ConvLayer and ConvModel themselves: the activations a layer runs after conv2d (against
PyTorch's), the layers it refuses to run, and how a model is indexed and printed."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.models import ConvLayer, ConvModel

#: a 1x1 convolution that passes its one channel through, so the layer's output is the
#: activation of its input
IDENTITY = np.ones((1, 1, 1, 1), np.float32)


def torch_activation(name: str, alpha: float):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu6": functional.relu6,
        "elu": lambda t: functional.elu(t, alpha),
        "softplus": functional.softplus,
        "swish": functional.silu,
        "silu": functional.silu,
    }[name]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu6", "elu", "softplus", "swish", "silu"])
def test_activations_match_pytorch_without_overflow_warnings(name, dtype):
    """Inputs down to -200 overflow exp() in a naive sigmoid; pytest turns the warning into an
    error."""
    torch = pytest.importorskip("torch")
    layer = ConvLayer("act", "conv2d", IDENTITY.astype(dtype), "HWIO", activation=name, alpha=0.7)
    x = np.linspace(-200.0, 30.0, 231, dtype=dtype).reshape(1, 1, 231, 1)
    expected = torch_activation(name, 0.7)(torch.from_numpy(x)).numpy()
    got = layer(x, "NHWC")
    assert got.dtype == dtype
    # atol: PyTorch flushes float32 subnormals to 0; rtol: its softplus returns x above x = 20
    rtol = 2e-6 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-30)


def test_an_unknown_activation_is_named_with_the_supported_ones():
    layer = ConvLayer("act", "conv2d", IDENTITY, "HWIO", activation="gelu")
    with pytest.raises(ValueError, match=r"activation 'gelu' cannot be run.*sigmoid"):
        layer(np.ones((1, 2, 2, 1), np.float32), "NHWC")


@pytest.mark.parametrize(
    ("kind", "weight", "layout"),
    [
        ("conv2d_transpose", np.ones((3, 2, 2, 2)), "IOHW"),
        ("conv2d", np.ones((3, 2, 2, 2)), "IOHW"),  # a transposed kernel under another kind
        ("conv1d", np.ones((4, 3, 5)), "OIHW"),
    ],
)
def test_layers_conv2d_cannot_run_are_refused(kind, weight, layout):
    layer = ConvLayer("up", kind, weight, layout)
    for call in (layer.hwio, layer.oihw, lambda: layer(np.ones((1, 3, 4, 4)))):
        with pytest.raises(ValueError, match=f"layer 'up' is a {kind} layer"):
            call()


def test_a_model_is_indexed_by_position_name_and_slice():
    layers = [ConvLayer(name, "conv2d", np.ones((2, 1, 3, 3)), "OIHW") for name in "abc"]
    model = ConvModel(layers, format="npz", path="weights.npz")
    assert model["b"] is model[1] is layers[1]
    assert model[1:] == layers[1:]
    assert list(model) == layers
    assert repr(model) == "ConvModel('npz', 3 layers: a, b, c)"
    with pytest.raises(KeyError, match="no layer named 'd'; the layers are: a, b, c"):
        model["d"]


def test_a_layer_repr_is_one_line_with_its_configuration():
    layer = ConvLayer(
        "conv1", "conv2d", np.ones((3, 3, 2, 8)), "HWIO", stride=(2, 2), padding="same",
        activation="relu", data_format="NHWC", config_known=False,
    )  # fmt: skip
    assert repr(layer) == (
        "ConvLayer('conv1', conv2d, 2->8, kernel 3x3, stride (2, 2), padding 'same', "
        "dilation (1, 1), groups 1, activation relu, HWIO, config unknown)"
    )
