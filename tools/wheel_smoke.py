"""Smoke test of an installed kernelkit wheel, run by tools/test_wheel.sh outside the source tree.

It checks what a user of the wheel meets first: the installed copy is imported (not the checkout),
its OpenMP runtime is the one the wheel vendors, the configuration prints, one call of each family
(Gram, conv2d, filter2d, model loading and plotting) matches a NumPy reference, and ``kernelkit
demo`` writes its pictures. With ``--with-torch`` it also runs PyTorch's OpenMP parallel regions
and kernelkit's threads by turns in one process, which must finish (a deadlock is caught by the
caller's timeout).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

import kernelkit


def check_installed_copy() -> None:
    package = Path(kernelkit.__file__).parent
    assert not (package.parent.parent / "pyproject.toml").exists(), (
        f"imported the checkout {package}"
    )
    assert kernelkit.__version__ == metadata.version("kernelkit"), kernelkit.__version__


def loaded_openmp_runtimes() -> list[str]:
    maps = Path("/proc/self/maps").read_text().splitlines()
    paths = {line.split()[-1] for line in maps if "libgomp" in line or "libomp" in line}
    return sorted(paths)


def check_vendored_openmp() -> None:
    """Linux wheels carry libgomp in kernelkit.libs under a hashed name, not the system's copy."""
    if not sys.platform.startswith("linux"):
        return
    runtimes = loaded_openmp_runtimes()
    ours = [p for p in runtimes if "kernelkit.libs" in p]
    assert ours, f"no vendored OpenMP runtime loaded: {runtimes}"
    assert all(Path(p).name != "libgomp.so.1" for p in ours), ours


def check_gram() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((37, 5))
    Y = rng.random((11, 5))
    squared = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(kernelkit.rbf_kernel(X, Y, gamma=0.5), np.exp(-0.5 * squared))


def check_conv2d() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))
    expected = np.einsum("nchwij,ocij->nohw", windows, w)
    np.testing.assert_allclose(kernelkit.conv2d(x, w), expected, atol=1e-12)


def check_filter2d() -> None:
    image = np.random.default_rng(2).random((12, 10))
    kernel = np.arange(9.0).reshape(3, 3)
    padded = np.pad(image, 1, mode="constant")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
    expected = np.einsum("hwij,ij->hw", windows, kernel)
    got = kernelkit.filter2d(image, kernel, mode="constant")
    np.testing.assert_allclose(got, expected, atol=1e-12)


def check_shipped_model() -> None:
    from kernelkit.models.demo_model import demo_model_path

    model = kernelkit.load_model(demo_model_path())
    figure = kernelkit.plot_filters(model[0])
    assert figure.axes, "plot_filters drew nothing"


def check_demo_command() -> None:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "kernelkit", "demo"]
        subprocess.run(command, cwd=folder, check=True, timeout=600)
        pictures = {p.name for p in Path(folder, "kernelkit-demo").glob("*.png")}
        assert {"filters.png", "feature-maps.png"} <= pictures, pictures


def check_with_torch_by_turns() -> None:
    """PyTorch's vendored libgomp and kernelkit's in one process, each run with threads by turns."""
    import torch

    x = np.random.default_rng(3).standard_normal((4, 8, 32, 32)).astype(np.float32)
    w = np.random.default_rng(4).standard_normal((16, 8, 3, 3)).astype(np.float32)
    torch.set_num_threads(2)
    for _ in range(5):
        expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
        got = kernelkit.conv2d(x, w, n_threads=2)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
        kernelkit.rbf_kernel(x.reshape(32, -1), n_threads=2)
    print("OpenMP runtimes loaded:", ", ".join(loaded_openmp_runtimes()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-torch", action="store_true", help="only the PyTorch check")
    if parser.parse_args().with_torch:
        check_with_torch_by_turns()
        return
    check_installed_copy()
    kernelkit.show_config()
    check_vendored_openmp()
    check_gram()
    check_conv2d()
    check_filter2d()
    check_shipped_model()
    check_demo_command()
    print("wheel smoke test passed:", kernelkit.__file__)


if __name__ == "__main__":
    main()
