"""The peer registry: the libraries kernelkit is compared with, how each is found and threaded.

A new peer is one :class:`Peer` entry in :data:`PEERS`; the suites say what it runs for each case.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .machine import optional_import

ThreadSetter = Callable[[ModuleType, int], AbstractContextManager[Any]]


@contextmanager
def _blas_threads(module: ModuleType, threads: int) -> Iterator[None]:
    """threadpoolctl's limit for every BLAS and OpenMP library loaded (NumPy, SciPy, sklearn)."""
    del module
    threadpoolctl = optional_import("threadpoolctl")
    if threadpoolctl is None:  # the bench extra installs it; without it the peers keep theirs
        yield
        return
    with threadpoolctl.threadpool_limits(threads):
        yield


@contextmanager
def _swapped_threads(
    get: Callable[[], int], set_: Callable[[int], None], threads: int
) -> Iterator[None]:
    """``set_(threads)`` for the duration, then the count ``get()`` gave before."""
    before = get()
    set_(threads)
    try:
        yield
    finally:
        set_(before)


def _torch_threads(torch: ModuleType, threads: int) -> AbstractContextManager[None]:
    return _swapped_threads(torch.get_num_threads, torch.set_num_threads, threads)


def _keras_threads(keras: ModuleType, threads: int) -> AbstractContextManager[None]:
    """Keras on the torch backend runs PyTorch's kernels, on PyTorch's threads."""
    del keras
    import torch

    return _torch_threads(torch, threads)


def _opencv_threads(cv2: ModuleType, threads: int) -> AbstractContextManager[None]:
    return _swapped_threads(cv2.getNumThreads, cv2.setNumThreads, threads)


def _session_threads(module: ModuleType, threads: int) -> AbstractContextManager[Any]:
    """onnxruntime takes its thread count per session, where the suites build it."""
    del module, threads
    return nullcontext()


def _import_keras() -> ModuleType | None:
    # Keras 3 picks its backend at import: PyTorch's, the one the bench extra installs
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return optional_import("keras")


@dataclass(frozen=True)
class Peer:
    """A library kernelkit is compared with: its name (as in ``--peers``), the module that must
    import, how to install it, and how to give it the run's thread count."""

    name: str
    module: str
    install: str
    threads: ThreadSetter = _blas_threads
    slow_import: bool = False  # left out of --quick runs unless --peers names it

    def load(self) -> ModuleType | None:
        """The peer's module, or None when it is not installed."""
        if self.name == "keras":
            return _import_keras()
        return optional_import(self.module)


PEERS: tuple[Peer, ...] = (
    Peer("numpy", "numpy", "pip install numpy"),
    Peer("scipy", "scipy", "pip install scipy"),
    Peer("sklearn", "sklearn.metrics.pairwise", "pip install scikit-learn"),
    Peer("torch", "torch", "pip install torch==2.13.0", _torch_threads),
    Peer("onnxruntime", "onnxruntime", "pip install onnx onnxruntime", _session_threads),
    Peer("opencv", "cv2", "pip install opencv-python-headless", _opencv_threads),
    Peer("keras", "keras", "pip install keras torch==2.13.0", _keras_threads, slow_import=True),
)
PEER_NAMES: tuple[str, ...] = tuple(p.name for p in PEERS)


def default_peers(quick: bool) -> list[str]:
    """Every peer, less those slow to import in a --quick run (Keras takes 10 s and more)."""
    return [p.name for p in PEERS if not (quick and p.slow_import)]


def peer(name: str) -> Peer:
    """The registry entry called ``name``."""
    for entry in PEERS:
        if entry.name == name:
            return entry
    raise ValueError(f"peers: unknown peer {name!r}; choose from {', '.join(PEER_NAMES)}")


@dataclass
class LoadedPeers:
    """The requested peers that imported (name -> module) and why the others did not."""

    modules: dict[str, ModuleType]
    missing: dict[str, str]

    def threads(self, threads: int) -> ExitStack:
        """A context that gives every loaded peer ``threads`` threads (and restores them)."""
        stack = ExitStack()
        for name, module in self.modules.items():
            stack.enter_context(peer(name).threads(module, threads))
        return stack


def load_peers(names: Sequence[str]) -> LoadedPeers:
    """Import the peers called ``names`` (NumPy is always one); note those not installed."""
    modules, missing = {}, {}
    for name in dict.fromkeys(["numpy", *names]):
        entry = peer(name)
        module = entry.load()
        if module is None:
            missing[name] = f"{entry.module} is not installed ({entry.install})"
        else:
            modules[name] = module
    return LoadedPeers(modules, missing)
