"""The trained model shipped inside the package, and the digits it was trained and tested on.

A small CNN trained with Keras 3 on scikit-learn's 8x8 digits by scripts/train_digits_model.py:
Conv2D(16, 3x3, ReLU) "conv1" on (8, 8, 1) input, Conv2D(32, 3x3, ReLU) "conv2", Flatten and
a softmax Dense(10). Reading it needs only kernelkit (:func:`kernelkit.models.load_model`).
"""

from __future__ import annotations

import importlib.resources
import pathlib
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["DemoDigits", "demo_digits", "demo_model_path"]

_MODEL_FILE = "digits_cnn.keras"
_DIGITS_FILE = "digits.npz"
_DIGITS_MAX = 16.0  # the digits' pixels are counts 0..16


def _data_file(name: str) -> pathlib.Path:
    resource = importlib.resources.files("kernelkit").joinpath("data").joinpath(name)
    path = pathlib.Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the kernelkit installation")
    return path


def demo_model_path() -> pathlib.Path:
    """Path of the shipped Keras file ``digits_cnn.keras``.

    Examples
    --------
    >>> from kernelkit.models import demo_model_path, load_model
    >>> load_model(demo_model_path())
    ConvModel('keras3', 2 layers: conv1, conv2)
    """
    return _data_file(_MODEL_FILE)


class DemoDigits(NamedTuple):
    """scikit-learn's 1,797 digits and the split the shipped model was trained and tested with."""

    #: (1797, 8, 8) float64 in [0, 1], as the model takes them (with a channel axis added)
    images: NDArray[np.float64]
    #: (1797,) the digit each image shows
    labels: NDArray[Any]
    #: (1797,) True for the 20 % of the digits the model never saw in training
    is_test: NDArray[np.bool_]
    #: the model's accuracy on the test digits, measured when it was trained
    test_accuracy: float


def demo_digits() -> DemoDigits:
    """The digits of ``sklearn.datasets.load_digits()`` and the shipped model's train/test split,
    read from the package (no scikit-learn needed).

    Examples
    --------
    >>> from kernelkit.models import demo_digits
    >>> digits = demo_digits()
    >>> digits.images.shape, int(digits.is_test.sum()), float(digits.images.max())
    ((1797, 8, 8), 360, 1.0)
    """
    with np.load(_data_file(_DIGITS_FILE), allow_pickle=False) as data:
        return DemoDigits(
            images=data["images"] / _DIGITS_MAX,
            labels=data["labels"],
            is_test=data["is_test"],
            test_accuracy=float(data["test_accuracy"]),
        )
