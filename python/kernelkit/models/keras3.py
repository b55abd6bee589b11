"""Keras 3 files: ``.keras`` archives, ``.weights.h5`` and sharded ``.weights.json``.

Keras 3 keeps each layer's variables in an HDF5 group named after the layer's class, not its
name: ``layers/conv2d/vars/0`` (kernel), ``layers/conv2d/vars/1`` (bias); a nested model adds its
own level (``layers/sequential/layers/conv2d_1/vars/0``), and repeated classes are numbered in
the order of the model's layers. A ``.keras`` archive (``config.json`` + ``metadata.json`` +
``model.weights.h5``) lists that order, so each conv layer of the config is looked up at the
group its class and position give. Recent Keras also writes the layer's name as the ``name``
attribute of each ``vars`` group; where that name and the position disagree, the name wins.

A ``.weights.h5`` file, or its sharded form (``x.weights.json`` mapping each ``vars`` group to
the ``x_00000.weights.h5``, ``x_00001.weights.h5``, ... files holding it), has no config: its
conv layers are the groups named after a conv class, in group-name order, named by their
``name`` attribute, with the configuration unknown (``config_known`` False).
"""

from __future__ import annotations

import pathlib
import zipfile
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import IO, Any

from . import _archive
from ._hdf5 import child, hdf5_file, read_array, text_attribute
from ._json import parse_json, read_json_file
from ._keras_layers import (
    CONV_CLASSES,
    conv_layers,
    conv_without_config,
    snake_case,
)
from ._layer import ConvLayer, ConvModel, WeightFileError
from .keras_graph import WeightLookup, keras_model

__all__ = ["read"]

_CONFIG_LIMIT = 64 << 20
_METADATA_LIMIT = 1 << 20
_CLASS_OF_GROUP = {snake_case(name): name for name in CONV_CLASSES}


@dataclass
class _Vars:
    """One layer's ``vars`` group: the name Keras recorded and its datasets by key ("0", ...)."""

    name: str | None = None
    datasets: dict[str, Any] = field(default_factory=dict)

    def arrays(self, path: pathlib.Path) -> list[Any]:
        keys = sorted(self.datasets, key=lambda k: (len(k), k))  # "10" after "9"
        return [read_array(self.datasets[k], path) for k in keys]


def read(path: pathlib.Path, format: str) -> ConvModel:
    """The conv layers of a Keras 3 file; ``format`` is "keras3", "keras3-weights" or
    "keras3-sharded" (see :data:`kernelkit.models.load.FORMATS`)."""
    with ExitStack() as stack:
        config: Any = None
        version = None
        if format == "keras3":
            archive = stack.enter_context(_archive.open_zip(path))
            config, version = _archive_config(archive, path)
            weights = stack.enter_context(_archive_weights(archive, path))
            index = _vars_index([stack.enter_context(hdf5_file(weights, path))], path)
        elif format == "keras3-weights":
            index = _vars_index([stack.enter_context(hdf5_file(path, path))], path)
        elif format == "keras3-sharded":
            shards = [stack.enter_context(hdf5_file(s, s)) for s in _shard_paths(path)]
            index = _vars_index(shards, path)
        else:
            raise ValueError(f"format: expected a Keras 3 format, got {format!r}")
        convs = conv_layers(config, path) if config is not None else None
        if convs is None:
            layers = _layers_without_config(index, path)
        else:
            layers = [
                conv.to_layer(_locate(index, conv.keras3_group, conv.name, path).arrays(path), path)
                for conv in convs
            ]
        lookup = None if convs is None else _weight_lookup(index, path)
        return keras_model(layers, config, lookup, format=format, path=path, version=version)


def _archive_config(archive: zipfile.ZipFile, path: pathlib.Path) -> tuple[Any, str | None]:
    """The model config and the Keras version of a .keras archive."""
    config = parse_json(
        _archive.read_member(archive, "config.json", path, _CONFIG_LIMIT), "config.json", path
    )
    if not isinstance(config, dict):
        raise WeightFileError(path, "config.json does not describe a model")
    version = None
    if "metadata.json" in archive.namelist():
        raw = _archive.read_member(archive, "metadata.json", path, _METADATA_LIMIT)
        metadata = parse_json(raw, "metadata.json", path)
        if isinstance(metadata, dict) and metadata.get("keras_version") is not None:
            version = str(metadata["keras_version"])
    return config, version


def _archive_weights(
    archive: zipfile.ZipFile, path: pathlib.Path
) -> AbstractContextManager[IO[bytes]]:
    """The archive's model.weights.h5, spooled into a seekable file for h5py."""
    names = archive.namelist()
    if "model.weights.npz" in names:
        raise WeightFileError(path, "the archive holds model.weights.npz; kernelkit reads .h5 only")
    if "model.weights.h5" not in names:
        raise WeightFileError(path, "the .keras archive has no model.weights.h5")
    return _archive.spooled_member(archive, "model.weights.h5", path)


def _vars_index(files: list[Any], path: pathlib.Path) -> dict[str, _Vars]:
    """Every ``vars`` group of the files by the path of its layer ("layers/conv2d"), merged
    over shards (a layer's variables may be split over two of them)."""
    index: dict[str, _Vars] = {}

    def visit(name: str | bytes, node: Any) -> None:
        if isinstance(name, bytes):  # h5py's form of a name that is not UTF-8
            name = name.decode("utf-8", "replace")
        head, _, last = name.rpartition("/")
        if last != "vars" or not hasattr(node, "keys"):
            return
        # Keras 2.13-2.15 wrote the .keras format with this name for "layers"
        layer_path = head.replace("_layer_checkpoint_dependencies", "layers")
        entry = index.setdefault(layer_path, _Vars())
        entry.name = entry.name or text_attribute(node.attrs, "name")
        for key in node:
            entry.datasets[key] = child(node, key, path)

    for f in files:
        f.visititems(visit)
    if not index:
        raise WeightFileError(path, "no Keras 3 weights ('vars' groups) in the file")
    return index


def _locate(index: dict[str, _Vars], group: str, name: str, path: pathlib.Path) -> _Vars:
    """The vars group of a configured layer: by its ``name`` attribute, else by position."""
    at_position = index.get(group)
    if at_position is not None and at_position.name in (None, name):
        return at_position
    container = group.rpartition("/")[0]
    named = [
        entry
        for layer_path, entry in index.items()
        if layer_path.rpartition("/")[0] == container and entry.name == name
    ]
    if len(named) == 1:
        return named[0]
    if at_position is not None:
        return at_position
    raise WeightFileError(path, f"no weights for layer {name!r}: no group {group}/vars")


def _weight_lookup(index: dict[str, _Vars], path: pathlib.Path) -> WeightLookup:
    """Every layer's weights for the graph builder, looked up as the conv layers' are."""

    def weights(layer_path: str, group: str, class_name: str) -> list[Any]:
        return _locate(index, group, layer_path.rpartition("/")[2], path).arrays(path)

    return weights


def _split_number(group: str) -> tuple[str, int]:
    """("conv2d", 3) from "conv2d_3", ("conv2d", -1) from "conv2d"."""
    base, _, number = group.rpartition("_")
    return (base, int(number)) if base and number.isdigit() else (group, -1)


def _natural_key(layer_path: str) -> list[tuple[str, int]]:
    """Sort key that puts "layers/conv2d_10" after "layers/conv2d_9"."""
    return [_split_number(part) for part in layer_path.split("/")]


def _layers_without_config(index: dict[str, _Vars], path: pathlib.Path) -> list[ConvLayer]:
    layers = []
    for layer_path in sorted(index, key=_natural_key):
        class_name = _CLASS_OF_GROUP.get(_split_number(layer_path.rpartition("/")[2])[0])
        entry = index[layer_path]
        if class_name is not None and entry.datasets:
            name = entry.name or layer_path
            layers.append(conv_without_config(name, class_name, entry.arrays(path), path))
    return layers


def _shard_paths(index_path: pathlib.Path) -> list[pathlib.Path]:
    """The shard files a sharded ``.weights.json`` names, each beside it."""
    doc = read_json_file(index_path, "the shard index")
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise WeightFileError(index_path, "the shard index has no 'weight_map' object")
    names: dict[str, None] = {}
    for files in weight_map.values():
        for name in files if isinstance(files, list) else [files]:
            if not _is_plain_file_name(name):
                raise WeightFileError(
                    index_path, f"shard {name!r} is not a file name beside the index"
                )
            names[name] = None
    shards = [index_path.with_name(name) for name in names]
    for shard in shards:
        try:
            found = shard.is_file()
        except OSError as exc:  # a name too long for the file system, ...
            raise WeightFileError(index_path, f"shard {shard.name!r:.80}: {exc.strerror}") from None
        if not found:
            raise WeightFileError(index_path, f"missing shard file {shard.name}")
    return shards


def _is_plain_file_name(name: Any) -> bool:
    """A file name without directories: shards must lie beside their index."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and pathlib.PurePath(name).name == name
    )
