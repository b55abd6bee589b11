"""The model and test digits shipped inside the package (scripts/train_digits_model.py)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from kernelkit.models import demo_digits, demo_model_path


def test_the_model_file_is_a_small_keras_archive():
    path = demo_model_path()
    assert path.stat().st_size < 100_000
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"metadata.json", "config.json", "model.weights.h5"}


def test_the_test_digits_are_the_held_out_scikit_learn_digits():
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    digits = demo_digits()
    reference = load_digits()
    np.testing.assert_array_equal(digits.images, reference.images[digits.indices] / 16)
    np.testing.assert_array_equal(digits.labels, reference.target[digits.indices])


def test_the_test_split_is_stratified_and_the_accuracy_recorded():
    digits = demo_digits()
    assert digits.images.shape == (360, 8, 8)
    assert digits.images.min() == 0.0
    assert digits.images.max() == 1.0
    assert set(np.bincount(digits.labels)) <= {35, 36, 37}  # 20 % of each digit's ~180 images
    correct = round(digits.test_accuracy * len(digits.labels))
    assert digits.test_accuracy == correct / len(digits.labels)
    assert digits.test_accuracy > 0.9
