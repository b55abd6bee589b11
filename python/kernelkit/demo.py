"""``kernelkit demo``: the shipped digits model's filters and feature maps, and kernelkit's speed.

:func:`run_demo` reads the model shipped in the package with :func:`kernelkit.models.load_model`,
writes its 16 first-layer filters (the classic 4 x 4 figure) and the feature maps of both conv
layers for a test digit, computed through the network as Keras computes them, as PNG files, runs
the whole network on the held-out digits, times its convolutions on the digits with kernelkit and
with NumPy, and computes an rbf Gram matrix of the digits with kernelkit (and scikit-learn, where
installed, which then also fits an SVM on it). scikit-learn is optional: without it those parts
are skipped with a note.
"""

from __future__ import annotations

import importlib.util
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from ._images import PathLike
from .models import ConvLayer, DemoDigits, demo_digits, demo_model_path
from .models.load import load_model
from .pairwise import rbf_kernel
from .plotting import plot_feature_maps, plot_filters

__all__ = ["run_demo"]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

T = TypeVar("T")

DEFAULT_DIRECTORY = "kernelkit-demo"
FILTERS_PNG = "filters.png"
FEATURE_MAPS_PNG = "feature-maps.png"
DEEPER_MAPS_PNG = "feature-maps-conv2.png"
_DPI = 120
_TIMING_REPEATS = 7


def run_demo(out_dir: PathLike = DEFAULT_DIRECTORY) -> list[pathlib.Path]:
    """Run the demo, print what it finds, and return the paths of the PNG files it wrote.

    Examples
    --------
    >>> paths = run_demo("kernelkit-demo")  # doctest: +SKIP
    model ...
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(demo_model_path())
    digits = demo_digits()
    print(
        f"model: {model.path} ({model.format}), conv layers {', '.join(model.names)}; "
        f"test accuracy {digits.test_accuracy:.1%} on {digits.is_test.sum()} held-out digits"
    )
    test_index = int(np.flatnonzero(digits.is_test)[0])
    digit, label = digits.images[test_index], digits.labels[test_index]
    written = [
        _save(
            plot_filters(model, title="conv1: 16 filters 3x3, trained on digits"), out, FILTERS_PNG
        ),
        *(
            _save(
                plot_feature_maps(
                    model,
                    digit,
                    layer=name,
                    title=f"{name} feature maps of a test digit (a {label})",
                ),
                out,
                png,
            )
            for name, png in (("conv1", FEATURE_MAPS_PNG), ("conv2", DEEPER_MAPS_PNG))
        ),
    ]
    images = digits.images.astype(np.float32)[..., np.newaxis]  # NHWC, as Keras runs the model
    _classify(model, images, digits)
    _compare_convolutions(list(model), images)
    _gram_and_svm(digits.images.reshape(len(images), -1).astype(np.float32), digits)
    print("wrote:")
    for path in written:
        print(f"  {path}")
    return written


def _classify(model: Any, images: NDArray[np.float32], digits: DemoDigits) -> None:
    """The whole network (conv1, conv2, flatten, dense softmax) run by kernelkit."""
    test = digits.is_test
    seconds, probabilities = _best_time(lambda: model.run(images[test]))
    accuracy = float(np.mean(probabilities.argmax(axis=1) == digits.labels[test]))
    print(
        f"the whole network run by kernelkit on the {test.sum()} held-out digits: "
        f"{accuracy:.1%} classified right ({seconds * 1e3:.2f} ms)"
    )


def _save(fig: Figure, directory: pathlib.Path, name: str) -> pathlib.Path:
    path = directory / name
    fig.savefig(path, dpi=_DPI)
    return path


def _best_time(function: Callable[[], T], repeats: int = _TIMING_REPEATS) -> tuple[float, T]:
    """The fastest of ``repeats`` calls in seconds, and the last result."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _numpy_conv2d_nhwc(
    x: NDArray[Any], weight_hwio: NDArray[Any], bias: NDArray[Any] | None, relu: bool
) -> NDArray[Any]:
    """Valid, stride-1 convolution in plain NumPy: ``sliding_window_view`` + ``einsum`` (im2col and
    a BLAS GEMM), the reference bench/bench_conv.py measures kernelkit against."""
    kh, kw = weight_hwio.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, OH, OW, C, KH, KW)
    y: NDArray[Any] = np.einsum("nhwcij,ijco->nhwo", windows, weight_hwio, optimize=True)
    if bias is not None:
        y += bias
    return np.maximum(y, 0) if relu else y


def _run_layers_with_numpy(layers: Sequence[ConvLayer], x: NDArray[Any]) -> NDArray[Any]:
    """The shipped model's layers (valid padding, stride 1, ReLU) in plain NumPy."""
    for layer in layers:
        x = _numpy_conv2d_nhwc(x, layer.hwio(), layer.bias, layer.activation == "relu")
    return x


def _run_layers(layers: Sequence[ConvLayer], x: NDArray[Any]) -> NDArray[Any]:
    for layer in layers:
        x = layer(x)
    return x


def _print_peer(
    name: str, peer: tuple[float, NDArray[Any]], ours: tuple[float, NDArray[Any]]
) -> None:
    """A peer's line from its and kernelkit's (seconds, result): its time, kernelkit's speed-up
    over it, and the largest difference between the results."""
    seconds = peer[0]
    error = float(np.abs(ours[1] - peer[1]).max())
    print(
        f"  {name:<38}{seconds * 1e3:9.2f} ms   kernelkit {seconds / ours[0]:.1f}x faster, "
        f"max |difference| {error:.1e}"
    )


def _compare_convolutions(layers: Sequence[ConvLayer], images: NDArray[np.float32]) -> None:
    ours = _best_time(lambda: _run_layers(layers, images))
    n, h, w, c = ours[1].shape
    print(
        f"conv {' -> '.join(layer.name for layer in layers)} on {n} digits "
        f"(float32 NHWC, output {h}x{w}x{c}):\n  {'kernelkit':<38}{ours[0] * 1e3:9.2f} ms"
    )
    numpy_peer = _best_time(lambda: _run_layers_with_numpy(layers, images))
    _print_peer("NumPy (sliding_window_view + einsum)", numpy_peer, ours)


def _gram_and_svm(features: NDArray[np.float32], digits: DemoDigits) -> None:
    train, test = ~digits.is_test, digits.is_test
    gamma = 1.0 / (features.shape[1] * float(features[train].var()))  # SVC's gamma="scale"
    ours = _best_time(lambda: rbf_kernel(features, gamma=gamma))
    print(
        f"rbf Gram matrix of {len(features)} digits x {features.shape[1]} features "
        f"(float32, gamma {gamma:.4f}):\n  {'kernelkit':<38}{ours[0] * 1e3:9.2f} ms"
    )
    if importlib.util.find_spec("sklearn") is None:
        print(
            "  scikit-learn is not installed: skipping its Gram matrix and the SVM "
            "(pip install scikit-learn)"
        )
        return
    from sklearn.metrics.pairwise import rbf_kernel as sklearn_rbf_kernel
    from sklearn.svm import SVC

    _print_peer("scikit-learn", _best_time(lambda: sklearn_rbf_kernel(features, gamma=gamma)), ours)
    gram = ours[1]
    start = time.perf_counter()
    svm = SVC(kernel="precomputed").fit(gram[np.ix_(train, train)], digits.labels[train])
    accuracy = svm.score(gram[np.ix_(test, train)], digits.labels[test])
    print(
        f"SVC(kernel='precomputed') on kernelkit's Gram: test accuracy {accuracy:.1%} "
        f"({time.perf_counter() - start:.2f} s to fit and score; the CNN: "
        f"{digits.test_accuracy:.1%})"
    )
