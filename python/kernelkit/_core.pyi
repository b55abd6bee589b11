"""Type stubs for kernelkit's private compiled module."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

def build_info() -> dict[str, Any]: ...
def blocking_info() -> dict[str, Any]: ...
def scratch_info() -> dict[str, int]: ...
def simd_path() -> str: ...
def set_simd_path(name: str) -> None: ...
def get_max_threads() -> int: ...
def set_max_threads(n: int) -> None: ...
def available_cores() -> int: ...
def parallel_trace(tasks: int, threads: int, task_us: float) -> list[list[int]]: ...
def empty_result(shape: tuple[int, ...], dtype: np.dtype[Any]) -> NDArray[Any]: ...
def set_output_cache_limit(bytes: int) -> None: ...
def output_cache_info() -> dict[str, int]: ...

class GramKind:
    """The compiled Gram kernels (one member per entry of gram_kernels.def)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    __members__: dict[str, GramKind]

def gram_specs() -> list[dict[str, Any]]: ...
def gram(
    kind: GramKind,
    x: NDArray[Any],
    y: NDArray[Any] | None,
    out: NDArray[Any],
    params: list[float],
    n_threads: int,
) -> None: ...
def gram_matvec(
    kind: GramKind,
    x: NDArray[Any],
    y: NDArray[Any] | None,
    v: NDArray[np.float64],
    out: NDArray[np.float64],
    params: list[float],
    n_threads: int,
) -> None: ...
def gram_rows(
    kind: GramKind,
    x: NDArray[Any],
    rows: NDArray[np.int64],
    y: NDArray[Any] | None,
    out: NDArray[Any],
    params: list[float],
    n_threads: int,
) -> None: ...
def gram_sparse(
    kind: GramKind,
    x: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]],
    y: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]] | None,
    out: NDArray[Any],
    n_features: int,
    params: list[float],
    n_threads: int,
) -> None: ...
def gram_sparse_rows(
    kind: GramKind,
    x: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]],
    rows: NDArray[np.int64],
    y: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]] | None,
    out: NDArray[Any],
    n_features: int,
    params: list[float],
    n_threads: int,
) -> None: ...
def gram_sparse_matvec(
    kind: GramKind,
    x: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]],
    y: NDArray[Any] | tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]] | None,
    v: NDArray[np.float64],
    out: NDArray[np.float64],
    n_features: int,
    params: list[float],
    n_threads: int,
) -> None: ...
def vexp(x: NDArray[Any]) -> NDArray[np.floating[Any]]: ...
def vtanh(x: NDArray[Any]) -> NDArray[np.floating[Any]]: ...
def fma_peak(float64: bool, seconds: float, threads: int) -> float: ...

class _Conv2dCore:
    """A prepared convolution of one dtype (Conv2dFloat32 / Conv2dFloat64)."""

    def __init__(
        self,
        weight: NDArray[Any],
        hwio: bool,
        groups: int,
        bias: NDArray[Any] | None,
        activation: int,
        alpha: float,
        single_use: bool = False,
    ) -> None: ...
    def run(
        self,
        x: NDArray[Any],
        out: NDArray[Any],
        stride: tuple[int, int],
        dilation: tuple[int, int],
        pads: tuple[int, int, int, int],
        nhwc: bool,
        n_threads: int,
    ) -> None: ...
    def plan(
        self,
        x_shape: list[int],
        stride: tuple[int, int],
        dilation: tuple[int, int],
        pads: tuple[int, int, int, int],
        nhwc: bool,
        n_threads: int,
    ) -> dict[str, Any]: ...
    @property
    def packings(self) -> int: ...

class Conv2dFloat32(_Conv2dCore): ...
class Conv2dFloat64(_Conv2dCore): ...

def filter2d(
    x: NDArray[Any],
    kernel: NDArray[np.float64],
    out: NDArray[Any],
    anchor: tuple[int, int],
    mode: int,
    cval: float,
    n_threads: int,
) -> None: ...
def pool2d(
    x: NDArray[Any],
    out: NDArray[Any],
    average: bool,
    channels_last: bool,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: tuple[int, int, int, int],
    counted: tuple[int, int, int, int],
    n_threads: int,
) -> None: ...
def filter2d_separable(
    x: NDArray[Any],
    row: NDArray[np.float64],
    col: NDArray[np.float64],
    out: NDArray[Any],
    anchor: tuple[int, int],
    mode: int,
    cval: float,
    n_threads: int,
) -> None: ...
