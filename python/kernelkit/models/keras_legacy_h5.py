"""Legacy Keras HDF5 files: Keras 2.x, tf.keras 2.x and Keras 3's ``model.save("x.h5")``.

A full model file has the JSON ``model_config`` attribute and a ``model_weights`` group; a
weights-only file (Keras 2's ``save_weights("x.h5")``) has the weight groups at its root. Either
way the ``layer_names`` attribute lists the top-level layers, each with a group of that name whose
``weight_names`` attribute lists its weights in Keras' order (kernel, then bias), each stored at
``<layer group>/<weight name>``. Attributes too long for an HDF5 header are split into
``layer_names0``, ``layer_names1``, ...; Keras 2 wrote every string as bytes.

The prefix of a weight name is the variable scope the weight was created in
(``conv2d_3/kernel:0``), which need not be the layer's name. A nested model's group holds the
weights of all its layers, trainable ones first; they are grouped by that prefix and matched to
the nested conv layers: a group whose prefix ends in the layer's name where there is one, else
the first unused group in file order whose shapes fit the layer's config.

Without ``model_config`` the conv layers are recognised from their variable names and kernel
ranks, with the configuration unknown (``config_known`` False).
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._hdf5 import child, hdf5_file, read_array, text_attribute
from ._json import parse_json
from ._keras_layers import (
    KerasConv,
    conv_class_from_weights,
    conv_layers,
    conv_without_config,
)
from ._layer import ConvLayer, ConvModel, WeightFileError
from .keras_graph import WeightLookup, keras_model

__all__ = ["read"]

_VARIABLE_SUFFIX = re.compile(r":\d+$")


@dataclass
class _Owner:
    """The weights in one layer group that share a variable scope (one layer's weights)."""

    scope: str
    variables: list[str] = field(default_factory=list)  # "kernel", "bias", ... without ":0"
    datasets: list[Any] = field(default_factory=list)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(d.shape) for d in self.datasets]

    def arrays(self, path: pathlib.Path) -> list[Any]:
        return [read_array(d, path) for d in self.datasets]


def read(path: pathlib.Path, format: str = "keras-legacy-h5") -> ConvModel:
    """The conv layers of a legacy Keras HDF5 file (``format`` is "keras-legacy-h5")."""
    with hdf5_file(path, path) as f:
        config_text = text_attribute(f.attrs, "model_config")
        weights = f if config_text is None else child(f, "model_weights", path)
        if weights is None:
            raise WeightFileError(path, "a model_config but no model_weights group")
        layer_names = _string_list(weights.attrs, "layer_names", path)
        if not layer_names:
            raise WeightFileError(path, "no layer_names attribute: not a legacy Keras weight file")
        version = text_attribute(f.attrs, "keras_version") or text_attribute(
            weights.attrs, "keras_version"
        )
        convs = (
            None
            if config_text is None
            else conv_layers(parse_json(config_text, "model_config", path), path)
        )
        lookup = None
        if convs is None:
            layers = _layers_without_config(weights, layer_names, path)
        else:
            layers, claimed = _configured_layers(weights, convs, path)
            lookup = _weight_lookup(weights, claimed, path)
        config = None if config_text is None else parse_json(config_text, "model_config", path)
        return keras_model(layers, config, lookup, format=format, path=path, version=version)


def _string_list(attrs: Any, name: str, path: pathlib.Path) -> list[str]:
    """A list-of-strings attribute, joined from ``name0``, ``name1``, ... where Keras split it."""
    if name in attrs:
        parts = [attrs[name]]
    else:
        parts = []
        while f"{name}{len(parts)}" in attrs:
            parts.append(attrs[f"{name}{len(parts)}"])
    values = [v for part in parts for v in np.atleast_1d(part)]
    if not all(isinstance(v, (bytes, str)) for v in values):
        raise WeightFileError(path, f"the {name} attribute is not a list of strings")
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def _owners(weights: Any, layer_name: str, path: pathlib.Path) -> list[_Owner]:
    """The weights of the layer group ``layer_name`` by variable scope, in first-seen order."""
    group = child(weights, layer_name, path)
    if group is None:
        raise WeightFileError(path, f"layer_names lists {layer_name!r} but it has no group")
    owners: dict[str, _Owner] = {}
    for weight_name in _string_list(group.attrs, "weight_names", path):
        dataset = child(group, weight_name, path)
        if dataset is None:
            raise WeightFileError(path, f"missing weight {weight_name!r} of layer {layer_name!r}")
        scope, _, variable = weight_name.rpartition("/")
        owner = owners.setdefault(scope, _Owner(scope))
        owner.variables.append(_VARIABLE_SUFFIX.sub("", variable))
        owner.datasets.append(dataset)
    return list(owners.values())


def _configured_layers(
    weights: Any, convs: list[KerasConv], path: pathlib.Path
) -> tuple[list[ConvLayer], set[str]]:
    """Each conv layer of the config with the weights of its top-level layer group, and the
    HDF5 names of the first weight of each owner in nested groups that they claimed."""
    by_group: dict[str, list[int]] = {}
    for i, conv in enumerate(convs):
        by_group.setdefault(conv.parents[0] if conv.parents else conv.name, []).append(i)
    found: list[list[Any]] = [[] for _ in convs]
    claimed: set[str] = set()
    for group_name, members in by_group.items():
        owners = _owners(weights, group_name, path)
        if [convs[i].parents for i in members] == [()]:  # a top-level conv layer
            found[members[0]] = [d for owner in owners for d in owner.datasets]
            continue
        for i, owner in zip(members, _match([convs[i] for i in members], owners, path)):
            found[i] = owner.datasets
            claimed.add(owner.datasets[0].name)
    layers = [
        conv.to_layer([read_array(d, path) for d in ds], path) for conv, ds in zip(convs, found)
    ]
    return layers, claimed


def _weight_lookup(weights: Any, claimed: set[str], path: pathlib.Path) -> WeightLookup:
    """The weights of any layer for the graph builder: a top-level layer's whole group; in a
    nested model's group, the owner whose scope ends in the layer's name, else the first owner
    (in file order) that no conv layer and no earlier lookup claimed."""
    owners_of: dict[str, list[_Owner]] = {}

    def lookup(layer_path: str, group: str, class_name: str) -> list[Any]:
        parts = layer_path.split("/")
        top, name = parts[0], parts[-1]
        if top not in owners_of:
            owners_of[top] = _owners(weights, top, path)
        owners = owners_of[top]
        if top == layer_path:
            return [read_array(d, path) for owner in owners for d in owner.datasets]
        free = [o for o in owners if o.datasets[0].name not in claimed]
        named = [o for o in free if o.scope.rpartition("/")[2] == name]
        owner = named[0] if len(named) == 1 else next(iter(free), None)
        if owner is None:
            raise WeightFileError(path, f"no weights of group {top!r} for layer {layer_path!r}")
        claimed.add(owner.datasets[0].name)
        return owner.arrays(path)

    return lookup


def _match(convs: list[KerasConv], owners: list[_Owner], path: pathlib.Path) -> list[_Owner]:
    """The owner of each conv layer of one nested model: the fitting owner whose scope ends in
    the layer's name, else the first unused owner (in file order) that fits."""
    chosen: list[_Owner | None] = [None] * len(convs)
    unused = list(owners)
    for i, conv in enumerate(convs):
        named = [
            o
            for o in unused
            if o.scope.rpartition("/")[2] == conv.name and conv.problem_with(o.shapes) is None
        ]
        if len(named) == 1:
            chosen[i] = named[0]
            unused.remove(named[0])
    matched = []
    for conv, owner in zip(convs, chosen):
        if owner is None:
            owner = next((o for o in unused if conv.problem_with(o.shapes) is None), None)
            if owner is None:
                raise WeightFileError(
                    path, f"no weights of group {conv.parents[0]!r} fit layer {conv.name!r}"
                )
            unused.remove(owner)
        matched.append(owner)
    return matched


def _layers_without_config(
    weights: Any, layer_names: list[str], path: pathlib.Path
) -> list[ConvLayer]:
    layers = []
    for layer_name in layer_names:
        owners = _owners(weights, layer_name, path)
        for owner in owners:
            class_name = conv_class_from_weights(owner.variables, owner.shapes)
            if class_name is not None:
                name = layer_name if len(owners) == 1 else owner.scope.rpartition("/")[2]
                layers.append(conv_without_config(name, class_name, owner.arrays(path), path))
    return layers
