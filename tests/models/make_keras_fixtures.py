"""Regenerate the Keras and .npz fixtures in tests/models/fixtures/ (files keras_* and npz_*).

Run from anywhere, with Keras 3 on the torch backend (the ``fixtures`` extra):

    KERAS_BACKEND=torch python tests/models/make_keras_fixtures.py

Everything is seeded and save dates, zip timestamps and object ids are fixed, so a rerun
rewrites every file byte for byte. Two models are written:

- ``sequential``: stride 2 with TensorFlow's asymmetric "same" padding, dilation, groups, a layer
  without bias, DepthwiseConv2D (multiplier 2), SeparableConv2D, ReLU and leaky_relu activations,
  and standalone ReLU/LeakyReLU layers that are not conv layers.
- ``functional``: a Functional model with a nested Sequential (BatchNormalization between its
  convolutions), a non-square strided kernel, a channels_first Conv2D and a Conv1D.

Each is saved as .keras, .weights.h5 and legacy .h5; the functional one also as sharded
.weights.json, as a legacy weights-only .h5, and both as legacy .h5 rewritten the way Keras 2 wrote
it (byte-string attributes, layer_names split into layer_names0/1, variable scopes that differ
from the layer names). The sequential one is also saved as .npz in the two conventions the npz
reader documents. ``keras_<model>_reference.npz`` holds what Keras itself says about every conv
layer: its weights, its config, and its output on a fixed input (see ``reference``).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import tempfile
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import keras
import numpy as np
from keras import layers
from keras.src.legacy.saving import legacy_h5_format

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
CONV_CLASSES = (layers.Conv1D, layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D)
CONFIG_KEYS = (
    "kernel_size",
    "filters",
    "depth_multiplier",
    "strides",
    "padding",
    "dilation_rate",
    "groups",
    "activation",
    "data_format",
    "use_bias",
)
FIXED_DATE = "2026-01-01@00:00:00"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def sequential_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((12, 11, 3)),
            # height 12, stride 2: TensorFlow pads 0 rows on top and 1 at the bottom
            layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv_s2_same"),
            layers.Conv2D(
                6, 3, padding="same", dilation_rate=2, use_bias=False, name="conv_dilated_no_bias"
            ),
            layers.ReLU(name="relu"),
            layers.Conv2D(6, 3, groups=2, activation="leaky_relu", name="conv_groups"),
            layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise"),
            layers.LeakyReLU(negative_slope=0.1, name="leaky"),
            layers.SeparableConv2D(
                5, 3, strides=2, padding="same", activation="relu", name="separable"
            ),
        ],
        name="sequential_fixture",
    )


def functional_model() -> keras.Model:
    inputs = keras.Input((10, 9, 3))
    x = layers.Conv2D(5, (3, 2), strides=(2, 1), padding="same", activation="tanh", name="stem")(
        inputs
    )
    block = keras.Sequential(
        [
            layers.Conv2D(6, 3, padding="same", activation="relu", name="block_conv"),
            layers.BatchNormalization(name="block_bn"),
            layers.DepthwiseConv2D(
                3, depth_multiplier=2, strides=2, padding="same", use_bias=False, name="block_dw"
            ),
            layers.Conv2D(4, 1, name="block_pointwise"),
        ],
        name="block",
    )
    x = block(x)
    x = layers.Permute((3, 1, 2), name="to_channels_first")(x)
    x = layers.Conv2D(
        4, 2, data_format="channels_first", activation="sigmoid", name="conv_channels_first"
    )(x)
    x = layers.Reshape((8, 4), name="to_sequence")(x)
    x = layers.Conv1D(3, 2, name="conv1d")(x)
    return keras.Model(inputs, x, name="functional_fixture")


def randomise_weights(model: keras.Model, rng: np.random.Generator) -> None:
    """Random values for every weight (Keras initialises biases to zero, which tests nothing)."""
    for variable in model.weights:
        values = rng.normal(0.0, 0.5, variable.shape).astype(np.float32)
        if "variance" in variable.path:
            values = np.abs(values) + 0.5
        variable.assign(values)


def conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The conv layers in model order, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += conv_layers(layer)
        elif isinstance(layer, CONV_CLASSES):
            found.append(layer)
    return found


def reference(model: keras.Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What Keras says about every conv layer: its weights, config, and output on an input.

    ``layer_names`` lists the conv layers in model order; for each layer ``<name>/weight_<i>``
    are its get_weights(), ``<name>/config`` its class name and get_config() (the entries
    kernelkit reads) as JSON, and
    ``<name>/output`` Keras' output on the random batch of 2 ``<name>/input``.
    """
    found = conv_layers(model)
    arrays = {"layer_names": np.array([layer.name for layer in found])}
    for layer in found:
        for i, weight in enumerate(layer.get_weights()):
            arrays[f"{layer.name}/weight_{i}"] = weight
        config = {k: v for k, v in layer.get_config().items() if k in CONFIG_KEYS}
        config["class_name"] = type(layer).__name__
        arrays[f"{layer.name}/config"] = np.array(json.dumps(config))
        x = rng.normal(0.0, 1.0, (2, *layer.input.shape[1:])).astype(np.float32)
        arrays[f"{layer.name}/input"] = x
        arrays[f"{layer.name}/output"] = keras.ops.convert_to_numpy(layer(x))
    return arrays


def stable_object_ids(config_json: bytes) -> bytes:
    """config.json with its shared_object_id values (Python id()s) renumbered 1, 2, ..."""
    numbers: dict[bytes, bytes] = {}

    def renumber(match: re.Match[bytes]) -> bytes:
        number = numbers.setdefault(match[2], str(len(numbers) + 1).encode())
        return match[1] + number

    return re.sub(rb'("shared_object_id": )(\d+)', renumber, config_json)


def save_keras_zip(model: keras.Model, path: pathlib.Path) -> None:
    """model.save(path), then the same archive with fixed dates and object ids."""
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata["date_saved"] = FIXED_DATE
                data = json.dumps(metadata).encode()
            elif name == "config.json":
                data = stable_object_ids(data)
            archive.writestr(zipfile.ZipInfo(name, ZIP_EPOCH), data)


def save_legacy_weights_only(model: keras.Model, path: pathlib.Path) -> None:
    """The weights-only legacy HDF5 layout (Keras 2's model.save_weights("x.h5"))."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def save_sharded(model: keras.Model, directory: pathlib.Path, stem: str) -> None:
    """model.save_weights as <stem>.weights.json + <stem>_NNNNN.weights.h5 of about 1.3 KB each."""
    model.save_weights(directory / f"{stem}.weights.json", max_shard_size=1.2e-6)


def rewrite_as_keras2(path: pathlib.Path, *, list_config: bool) -> None:
    """Turn a legacy .h5 of Keras 3's writer into what Keras 2 / tf.keras wrote.

    Keras 2 stored every string attribute as bytes, split attributes over 64 KB into
    ``layer_names0``, ``layer_names1``, ... (forced here for a short list), and named weights by
    the variable scope they were created in ("conv2d_3/kernel:0"), which need not be the layer
    name. Keras <= 2.1 wrote a Sequential model's config as a bare list of layers
    (``list_config``); Functional models were class "Model" before Keras 2.4.
    """
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        if list_config:
            config["config"] = config["config"]["layers"]
        elif config["class_name"] == "Functional":
            config["class_name"] = "Model"
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
        weights = f["model_weights"]
        for group in (f, weights):
            for key in ("keras_version", "backend"):
                group.attrs[key] = np.bytes_(b"2.2.4" if key == "keras_version" else b"tensorflow")
        names = [str(n).encode() for n in weights.attrs["layer_names"]]
        del weights.attrs["layer_names"]
        half = len(names) // 2
        weights.attrs["layer_names0"] = np.array(names[:half], dtype="S")
        weights.attrs["layer_names1"] = np.array(names[half:], dtype="S")
        scope_ids: dict[str, int] = {}
        for layer_name in names:
            rename_weights_to_scopes(weights[layer_name.decode()], scope_ids)


def rename_weights_to_scopes(group: h5py.Group, scope_ids: dict[str, int]) -> None:
    """Move each weight of a layer group to "<scope>/<variable>:0" with a Keras-2-like scope."""
    old_names = [str(n) for n in group.attrs["weight_names"]]
    new_names = []
    for old in old_names:
        owner, variable = old.rsplit("/", 1)
        scope = f"scope_{scope_ids.setdefault(owner, len(scope_ids) + 7)}"
        new = f"{scope}/{variable}:0"
        data = group[old][()]
        del group[old]
        group[new] = data
        new_names.append(new.encode())
    for child in list(group):
        if not child.startswith("scope_"):
            del group[child]  # the groups the old names left empty
    group.attrs["weight_names"] = np.array(new_names, dtype="S")


def save_npz_conventions(model: keras.Model, directory: pathlib.Path) -> None:
    """The two .npz conventions: get_weights() as arr_0, arr_1, ... and named arrays.

    Named arrays use Keras names ("conv/kernel", HWIO) for the first layers and PyTorch names
    ("conv.weight", OIHW) for the plain Conv2D layers after them.
    """
    np.savez(directory / "npz_sequential_list.npz", *model.get_weights())
    named = {}
    for layer in conv_layers(model):
        if isinstance(layer, (layers.DepthwiseConv2D, layers.SeparableConv2D)):
            for variable in layer.weights:
                named[f"{layer.name}/{variable.name}"] = keras.ops.convert_to_numpy(variable)
        else:
            kernel, *bias = layer.get_weights()
            named[f"{layer.name}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
            if bias:
                named[f"{layer.name}.bias"] = bias[0]
    np.savez(directory / "npz_sequential_named.npz", **named)


def write_model(model: keras.Model, stem: str, directory: pathlib.Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    randomise_weights(model, rng)
    np.savez(directory / f"keras_{stem}_reference.npz", **reference(model, rng))
    save_keras_zip(model, directory / f"keras_{stem}.keras")
    model.save_weights(directory / f"keras_{stem}.weights.h5")
    model.save(directory / f"keras_{stem}.h5")
    shutil.copy(directory / f"keras_{stem}.h5", directory / f"keras_{stem}_keras2.h5")
    rewrite_as_keras2(directory / f"keras_{stem}_keras2.h5", list_config=stem == "sequential")


def main() -> None:
    keras.utils.set_random_seed(0)
    FIXTURES.mkdir(exist_ok=True)
    for old in [*FIXTURES.glob("keras_*"), *FIXTURES.glob("npz_*")]:
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        directory = pathlib.Path(tmp)
        sequential = sequential_model()
        write_model(sequential, "sequential", directory, seed=1)
        save_npz_conventions(sequential, directory)
        functional = functional_model()
        write_model(functional, "functional", directory, seed=2)
        save_sharded(functional, directory, "keras_functional")
        save_legacy_weights_only(functional, directory / "keras_functional_weights_only.h5")
        for made in sorted(directory.iterdir()):
            shutil.copy(made, FIXTURES / made.name)
            print(f"{made.stat().st_size:8d}  {FIXTURES / made.name}")


if __name__ == "__main__":
    main()
