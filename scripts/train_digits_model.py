"""Train the small CNN that kernelkit ships, on scikit-learn's bundled 8x8 digits.

Needs Keras 3 on the torch backend and scikit-learn (the ``fixtures`` extra); run it from the
repository root:

    KERAS_BACKEND=torch python scripts/train_digits_model.py

It writes two package data files that ``kernelkit demo`` reads (Keras is never needed at run time):

- ``python/kernelkit/data/digits_cnn.keras``: Conv2D(16, 3x3, ReLU) "conv1" on the (8, 8, 1) input,
  as in the classic filter-visualisation exercise, then Conv2D(32, 3x3, ReLU) "conv2", Flatten and
  a softmax Dense(10) "digit".
- ``python/kernelkit/data/digits.npz``: the digits themselves (``images``: uint8 counts 0..16,
  ``labels``), the split (``is_test``: the 20 % the model never saw) and the model's
  ``test_accuracy``, so that the demo runs without scikit-learn.

Training is seeded, deterministic and single-threaded, and the two archives are written with fixed
zip timestamps and a fixed Keras save date, so a rerun reproduces both files byte for byte on the
same software versions (float rounding may differ between torch versions or CPUs).
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import sys
import tempfile
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import torch
from keras import layers
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DATA = pathlib.Path(__file__).resolve().parents[1] / "python" / "kernelkit" / "data"
MODEL_FILE = DATA / "digits_cnn.keras"
DIGITS_FILE = DATA / "digits.npz"
SEED = 0
TEST_FRACTION = 0.2
EPOCHS = 30
BATCH_SIZE = 32
DIGITS_MAX = 16.0  # load_digits() pixels are counts 0..16
FIXED_SAVE_DATE = "2026-01-01@00:00:00"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def make_deterministic() -> None:
    """Seeded generators, one thread, deterministic torch kernels: the same weights each run."""
    keras.utils.set_random_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def split_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train indices, test indices, images (N, 8, 8) of counts, labels: a fixed stratified split."""
    digits = load_digits()
    indices = np.arange(len(digits.target))
    train, test = train_test_split(
        indices, test_size=TEST_FRACTION, random_state=SEED, stratify=digits.target
    )
    return np.sort(train), np.sort(test), digits.images, digits.target


def build_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1), name="image"),
            layers.Conv2D(16, (3, 3), activation="relu", name="conv1"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, activation="softmax", name="digit"),
        ],
        name="digits_cnn",
    )


def as_input(images: np.ndarray) -> np.ndarray:
    """Digit counts 0..16 as the model's input: float32 in [0, 1], NHWC with one channel."""
    return (images / DIGITS_MAX).astype(np.float32)[..., np.newaxis]


def write_zip(path: pathlib.Path, entries: dict[str, bytes]) -> None:
    """A zip archive whose bytes depend only on ``entries`` (fixed timestamps, given order)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_EPOCH), data, zipfile.ZIP_DEFLATED)


def save_keras_reproducibly(model: keras.Model, path: pathlib.Path) -> None:
    """The trained weights in an uncompiled copy of the model (no optimizer state: a third of
    the size), saved, then rewritten with a fixed save date and fixed zip timestamps."""
    inference = build_model()
    inference.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory() as tmp:
        saved = pathlib.Path(tmp) / path.name
        inference.save(saved)
        with zipfile.ZipFile(saved) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
    metadata = json.loads(entries["metadata.json"])
    metadata["date_saved"] = FIXED_SAVE_DATE
    entries["metadata.json"] = json.dumps(metadata, indent=4).encode()
    entries["config.json"] = renumber_shared_objects(entries["config.json"].decode()).encode()
    write_zip(path, entries)


def renumber_shared_objects(config: str) -> str:
    """Keras tags objects that several layers share with their memory address; number them 1, 2,
    ... in order of appearance instead (the same object keeps the same number)."""
    numbers: dict[str, int] = {}
    return re.sub(
        r'"shared_object_id": (\d+)',
        lambda m: f'"shared_object_id": {numbers.setdefault(m[1], len(numbers) + 1)}',
        config,
    )


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def main() -> int:
    make_deterministic()
    train, test, images, labels = split_digits()
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(
        as_input(images[train]),
        labels[train],
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        shuffle=True,
        verbose=0,
    )
    predicted = model.predict(as_input(images[test]), verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == labels[test]))
    DATA.mkdir(parents=True, exist_ok=True)
    save_keras_reproducibly(model, MODEL_FILE)
    write_zip(
        DIGITS_FILE,
        {
            "images.npy": npy_bytes(images.astype(np.uint8)),
            "labels.npy": npy_bytes(labels.astype(np.uint8)),
            "is_test.npy": npy_bytes(np.isin(np.arange(len(labels)), test)),
            "test_accuracy.npy": npy_bytes(np.float64(accuracy)),
        },
    )
    print(f"trained on {len(train)} digits, tested on {len(test)}")
    print(f"test accuracy: {accuracy:.4f}")
    for path in (MODEL_FILE, DIGITS_FILE):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
