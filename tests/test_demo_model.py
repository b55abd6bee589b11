"""The model and test digits shipped inside the package (scripts/train_digits_model.py)."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest

from kernelkit.models import demo_digits, demo_model_path


def test_the_model_file_is_a_small_keras_archive():
    path = demo_model_path()
    assert path.stat().st_size < 100_000
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"metadata.json", "config.json", "model.weights.h5"}


def test_the_digits_are_scikit_learns():
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    digits = demo_digits()
    reference = load_digits()
    np.testing.assert_array_equal(digits.images, reference.images / 16)
    np.testing.assert_array_equal(digits.labels, reference.target)


def test_the_test_split_is_stratified_and_the_accuracy_recorded():
    digits = demo_digits()
    assert digits.images.min() == 0.0
    assert digits.images.max() == 1.0
    assert digits.is_test.dtype == np.bool_
    test_labels = digits.labels[digits.is_test]
    assert len(test_labels) == math.ceil(0.2 * len(digits.labels))  # as train_test_split rounds
    per_digit = np.bincount(test_labels) / np.bincount(digits.labels)
    np.testing.assert_allclose(per_digit, 0.2, atol=0.01)
    correct = round(digits.test_accuracy * len(test_labels))
    assert digits.test_accuracy == correct / len(test_labels)
    assert digits.test_accuracy > 0.9
