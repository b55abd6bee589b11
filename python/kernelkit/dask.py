"""kernelkit on Dask arrays: Gram matrices, kernel sums, convolutions and filters larger than one
machine's memory, on Dask's threaded scheduler or a ``dask.distributed`` cluster.

Install with ``pip install kernelkit[dask]`` (dask, distributed, zarr). Each function takes Dask
arrays (NumPy arrays are wrapped) and returns a lazy Dask array whose blocks kernelkit computes:

- :func:`gram`: ``K(X, Y)`` for X and Y chunked by rows; ``Y=None`` computes the blocks on and
  above the diagonal and mirrors them (the result is exactly symmetric).
- :func:`kernel_matvec`: ``K(X, Y) @ v`` as a tree reduction, over Y's chunks, of the float64
  partial sums of :func:`kernelkit.kernel_matvec`, rounded once at the end.
- :func:`conv2d` / :func:`map_conv2d`: a convolution, or a prepared :class:`kernelkit.Conv2d`,
  over a batch-chunked array; the Conv2d travels as one task of the graph, so each worker unpickles
  and packs its weights once, not once per block.
- :func:`filter2d`: an image chunked spatially, through ``map_overlap`` with the kernel's halo; the
  chunks' borders equal the in-memory result for every boundary mode and origin (the image's own
  edges are left to kernelkit's boundary modes, and ``wrap`` gets dask's periodic halo).

The results equal the in-memory functions' (:func:`kernelkit.rbf_kernel` and the other Gram
functions, :func:`kernelkit.kernel_matvec`, :func:`kernelkit.conv2d`, :func:`kernelkit.filter2d`)
to float rounding: a block of a Gram matrix centres its rbf distances on its own rows, and a sum
over Y's chunks adds the float64 partial sums in a tree.

Threads: the compiled code releases the GIL, so Dask's threads run blocks in parallel. With
``n_threads=None`` each block uses kernelkit's thread count divided by the number of threads that
run blocks at once (Dask's ``num_workers`` setting on the threaded scheduler, else the cores;
a ``dask.distributed`` worker's ``nthreads``), at least 1, so that Dask's threads and kernelkit's
do not oversubscribe the cores. (``dask.distributed`` starts its worker processes with
``OMP_NUM_THREADS=1``, which makes kernelkit's count 1 there: one thread per task.)

Examples
--------
>>> import numpy as np, dask.array as da, kernelkit, kernelkit.dask
>>> X = da.from_array(np.random.default_rng(0).random((300, 8)), chunks=(100, 8))
>>> K = kernelkit.dask.gram(X, kernel="rbf", gamma=0.5)
>>> K.chunks
((100, 100, 100), (100, 100, 100))
>>> bool(np.allclose(K.compute(), kernelkit.rbf_kernel(X.compute(), gamma=0.5)))
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.delayed import delayed
from dask.highlevelgraph import HighLevelGraph
from numpy.typing import ArrayLike, NDArray

from . import kernel_sums
from ._threads import get_num_threads
from .conv import Conv2d
from .filtering import filter2d as _filter2d
from .pairwise import _run_kernel

__all__ = ["conv2d", "filter2d", "gram", "kernel_matvec", "map_conv2d"]


def threads_per_block(n_threads: int | None) -> int:
    """The kernelkit threads for one block run by the calling Dask thread (see the module's notes).

    Examples
    --------
    >>> import dask, kernelkit.dask
    >>> kernelkit.dask.threads_per_block(3)
    3
    >>> with dask.config.set(num_workers=1):
    ...     kernelkit.dask.threads_per_block(None) == kernelkit.get_num_threads()
    True
    """
    if n_threads is not None:
        return n_threads
    return max(1, get_num_threads() // _concurrent_blocks())


def _concurrent_blocks() -> int:
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError):  # not inside a dask.distributed worker
        pass
    configured = dask.config.get("num_workers", None)
    return int(configured) if configured else max(1, os.cpu_count() or 1)


def _rows_array(a: ArrayLike | da.Array, name: str) -> da.Array:
    """a as a 2-D Dask array with one chunk along the features."""
    arr = a if isinstance(a, da.Array) else da.asarray(np.asarray(a))
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n_samples, n_features), got shape {arr.shape}"
        )
    return arr.rechunk({1: -1}) if arr.numblocks[1] > 1 else arr


def _result_dtype(x: da.Array, y: da.Array | None) -> np.dtype[Any]:
    f32 = np.dtype(np.float32)
    return f32 if x.dtype == f32 and (y is None or y.dtype == f32) else np.dtype(np.float64)


def _check_call(function: str, kernel: str, x: da.Array, y: da.Array | None, params: Any) -> None:
    """The in-memory checks of kernel name, parameters and shapes, on empty arrays, so that a bad
    argument raises here rather than when the graph runs."""
    empty_y = None if y is None else np.empty((0, y.shape[1]), y.dtype)
    kernel_sums.checked_call(
        function, kernel, np.empty((0, x.shape[1]), x.dtype), empty_y, params, 1
    )


def _gram_block(
    x: NDArray[Any],
    y: NDArray[Any] | None,
    kernel: str,
    params: Mapping[str, Any],
    n_threads: int | None,
) -> NDArray[Any]:
    name = kernel_sums.kernel_name("kernelkit.dask.gram", kernel)
    return _run_kernel(name, x, y, params, None, threads_per_block(n_threads))


def _mirrored(block: NDArray[Any]) -> NDArray[Any]:
    return np.ascontiguousarray(block.T)


def gram(
    X: ArrayLike | da.Array,
    Y: ArrayLike | da.Array | None = None,
    kernel: str = "rbf",
    *,
    n_threads: int | None = None,
    **params: Any,
) -> da.Array:
    """The Gram matrix ``K(X, Y)`` as a lazy Dask array, one block per pair of row chunks.

    X and Y are chunked by rows (chunks along the features are merged). ``Y=None`` (or ``X``
    itself) computes the blocks on and above the diagonal only and mirrors them; the diagonal
    blocks are the exactly symmetric ``K(X_i, X_i)``. ``kernel`` and ``**params`` as in
    :func:`kernelkit.kernel_matvec`. Write it where it fits: ``gram(X).to_zarr(store)``.

    Examples
    --------
    >>> import numpy as np, kernelkit.dask
    >>> K = kernelkit.dask.gram(np.eye(3, dtype=np.float32), kernel="linear")
    >>> K.dtype, K.compute().tolist()
    (dtype('float32'), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    """
    x = _rows_array(X, "X")
    symmetric = Y is None or Y is X
    y = x if symmetric else _rows_array(Y, "Y")  # type: ignore[arg-type]
    _check_call("kernelkit.dask.gram", kernel, x, None if symmetric else y, params)
    dtype = _result_dtype(x, None if symmetric else y)
    name = "kernelkit-gram-" + dask.base.tokenize(x, None if symmetric else y, kernel, params)
    x_keys = [(x.name, i, 0) for i in range(x.numblocks[0])]
    y_keys = [(y.name, j, 0) for j in range(y.numblocks[0])]
    layer: dict[Any, Any] = {}
    for i, xk in enumerate(x_keys):
        for j, yk in enumerate(y_keys):
            if symmetric and j < i:
                layer[(name, i, j)] = (_mirrored, (name, j, i))
            else:
                y_arg = None if symmetric and i == j else yk
                layer[(name, i, j)] = (_gram_block, xk, y_arg, kernel, params, n_threads)
    dependencies = [x] if symmetric else [x, y]
    graph = HighLevelGraph.from_collections(name, layer, dependencies=dependencies)  # type: ignore[arg-type]
    return da.Array(graph, name, chunks=(x.chunks[0], y.chunks[0]), dtype=dtype)


def _matvec_block(
    x: NDArray[Any],
    y: NDArray[Any],
    v: NDArray[Any],
    kernel: str,
    params: Mapping[str, Any],
    n_threads: int | None,
) -> NDArray[np.float64]:
    threads = threads_per_block(n_threads)
    call = kernel_sums.checked_call("kernelkit.dask.kernel_matvec", kernel, x, y, params, threads)
    sums, _ = kernel_sums.matvec_float64(call, v)
    return sums[:, np.newaxis, :]


def kernel_matvec(
    X: ArrayLike | da.Array,
    Y: ArrayLike | da.Array | None,
    v: ArrayLike | da.Array,
    kernel: str = "rbf",
    *,
    n_threads: int | None = None,
    split_every: int | None = None,
    **params: Any,
) -> da.Array:
    """``K(X, Y) @ v`` as a lazy Dask array, without the Gram matrix.

    Each pair of row chunks (X_i, Y_j) gives the float64 partial sums ``K(X_i, Y_j) @ v_j``
    (:func:`kernelkit.kernel_matvec`); the partial sums of each X chunk are added in a tree over
    Y's chunks (``split_every`` of them per step, Dask's default when None) and rounded once to the
    result dtype. v (shape (m,) or (m, k)) is rechunked to Y's row chunks. Other arguments as in
    :func:`kernelkit.kernel_matvec`.

    Examples
    --------
    >>> import numpy as np, dask.array as da, kernelkit, kernelkit.dask
    >>> X = da.from_array(np.random.default_rng(0).random((500, 4)), chunks=(100, 4))
    >>> v = np.ones(500)
    >>> Kv = kernelkit.dask.kernel_matvec(X, None, v, gamma=0.1)
    >>> bool(np.allclose(Kv.compute(), kernelkit.kernel_matvec(X.compute(), None, v, gamma=0.1)))
    True
    """
    x = _rows_array(X, "X")
    y = x if Y is None or Y is X else _rows_array(Y, "Y")
    _check_call("kernelkit.dask.kernel_matvec", kernel, x, y, params)
    vd = v if isinstance(v, da.Array) else da.asarray(np.asarray(v))
    if vd.ndim not in (1, 2) or vd.shape[0] != y.shape[0]:
        raise ValueError(
            f"v: expected shape ({y.shape[0]},) or ({y.shape[0]}, k), one row per row of Y, "
            f"got shape {vd.shape}"
        )
    one_column = vd.ndim == 1
    weights = (vd[:, np.newaxis] if one_column else vd).rechunk({0: y.chunks[0], 1: -1})
    partial = da.blockwise(
        _matvec_block,
        "ijc",
        x,
        "id",
        y,
        "jd",
        weights,
        "jc",
        kernel=kernel,
        params=params,
        n_threads=n_threads,
        adjust_chunks={"j": 1},
        concatenate=True,
        meta=np.empty((0, 0, 0), np.float64),
    )
    sums = partial.sum(axis=1, split_every=split_every, dtype=np.float64)
    result = sums.astype(_result_dtype(x, y))
    return result[:, 0] if one_column else result


def _conv_block(block: NDArray[Any], conv: Conv2d, n_threads: int | None) -> NDArray[Any]:
    return conv(block, n_threads=threads_per_block(n_threads))


def map_conv2d(conv: Conv2d, x: ArrayLike | da.Array, *, n_threads: int | None = None) -> da.Array:
    """A prepared :class:`kernelkit.Conv2d` applied to every batch chunk of x (N first: NCHW or
    NHWC as the Conv2d's layout says; other axes are merged into one chunk).

    The Conv2d is one task of the graph: on the threaded scheduler every block uses this object
    (its weights packed once); on ``dask.distributed`` each worker receives one copy and packs it
    once for all its blocks.

    Examples
    --------
    >>> import numpy as np, dask.array as da, kernelkit, kernelkit.dask
    >>> conv = kernelkit.Conv2d(np.ones((2, 3, 3, 3), np.float32), padding=1)
    >>> x = da.ones((8, 3, 5, 5), dtype=np.float32, chunks=(2, 3, 5, 5))
    >>> y = kernelkit.dask.map_conv2d(conv, x)
    >>> y.shape, y.chunks[0]
    ((8, 2, 5, 5), (2, 2, 2, 2))
    >>> float(y[0, 0, 2, 2].compute()), conv.packings
    (27.0, 1)
    """
    arr = x if isinstance(x, da.Array) else da.asarray(np.asarray(x))
    if arr.ndim != 4:
        raise ValueError(f"x: expected a 4-D batch (N first), got shape {arr.shape}")
    arr = arr.rechunk({1: -1, 2: -1, 3: -1})
    plan = conv.plan((1, *arr.shape[1:]), dtype=arr.dtype)
    out_shape = plan.output_shape[1:]
    conv_task = delayed(conv, pure=True)
    return arr.map_blocks(
        _conv_block,
        conv_task,
        n_threads,
        chunks=(arr.chunks[0], *((s,) for s in out_shape)),
        dtype=np.dtype(plan.dtype),
        meta=np.empty((0, 0, 0, 0), np.dtype(plan.dtype)),
    )


def conv2d(
    x: ArrayLike | da.Array,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    n_threads: int | None = None,
    **kwargs: Any,
) -> da.Array:
    """:func:`kernelkit.conv2d` over every batch chunk of x: ``map_conv2d(Conv2d(weight, bias,
    **kwargs), x)``; ``kwargs`` are :class:`kernelkit.Conv2d`'s (stride, padding, layout, ...).

    Examples
    --------
    >>> import numpy as np, dask.array as da, kernelkit.dask
    >>> x = da.ones((4, 6, 6, 1), chunks=(1, 6, 6, 1))
    >>> kernelkit.dask.conv2d(x, np.ones((2, 2, 1, 1)), layout="NHWC").shape
    (4, 5, 5, 1)
    """
    return map_conv2d(Conv2d(weight, bias, **kwargs), x, n_threads=n_threads)


# Boundary modes whose values beyond an edge come from the opposite edge: dask's periodic halo
# gives those; every other mode reads only pixels near the edge itself, which the chunk holding
# the edge has, so the image's edges are left to kernelkit (dask's boundary "none").
_WRAPPING_MODES = frozenset({"wrap", "grid-wrap"})


def _spatial_axes(ndim: int) -> tuple[int, int]:
    if ndim in (2, 3):
        return 0, 1
    if ndim == 4:
        return 1, 2
    raise ValueError(f"image: expected (H, W), (H, W, C) or (N, H, W, C), got {ndim} dimensions")


def _filter_block(
    block: NDArray[Any],
    kernel: NDArray[Any],
    mode: str,
    cval: float,
    origin: int | tuple[int, int],
    convolve: bool,
    n_threads: int | None,
) -> NDArray[Any]:
    return _filter2d(
        block,
        kernel,
        mode=mode,
        cval=cval,
        origin=origin,
        convolve=convolve,
        n_threads=threads_per_block(n_threads),
    )


def filter2d(
    image: ArrayLike | da.Array,
    kernel: ArrayLike,
    *,
    mode: str = "reflect",
    cval: float = 0.0,
    origin: int | tuple[int, int] = 0,
    convolve: bool = False,
    n_threads: int | None = None,
) -> da.Array:
    """:func:`kernelkit.filter2d` of an image chunked along any axes, through ``map_overlap``.

    Each chunk is extended by the kernel's reach (``size - 1`` pixels per side along an axis with
    more than one chunk) from its neighbours, filtered, and trimmed back, so the chunk borders
    equal the in-memory result; the image's own edges follow ``mode`` as in
    :func:`kernelkit.filter2d` (``"wrap"``: dask's periodic halo). Arguments as there; the
    arguments are checked here, before anything runs.

    Examples
    --------
    >>> import numpy as np, dask.array as da, kernelkit, kernelkit.dask
    >>> image = np.random.default_rng(0).random((60, 50)).astype(np.float32)
    >>> tiles = da.from_array(image, chunks=(16, 20))
    >>> box = np.ones((3, 5)) / 15
    >>> smooth = kernelkit.dask.filter2d(tiles, box, mode="mirror", origin=(1, -1))
    >>> expected = kernelkit.filter2d(image, box, mode="mirror", origin=(1, -1))
    >>> bool(np.allclose(smooth.compute(), expected, rtol=1e-6, atol=1e-6))
    True
    """
    arr = image if isinstance(image, da.Array) else da.asarray(np.asarray(image))
    rows_axis, cols_axis = _spatial_axes(arr.ndim)
    weights = np.asarray(kernel)
    filter_args: dict[str, Any] = {
        "kernel": weights,
        "mode": mode,
        "cval": cval,
        "origin": origin,
        "convolve": convolve,
        "n_threads": n_threads,
    }
    probe = _filter_block(np.zeros((1,) * arr.ndim, dtype=arr.dtype), **filter_args)  # checks
    reach = {rows_axis: weights.shape[0] - 1, cols_axis: weights.shape[1] - 1}
    depth = {
        axis: (reach[axis] if axis in reach and arr.numblocks[axis] > 1 else 0)
        for axis in range(arr.ndim)
    }
    boundary = "periodic" if mode in _WRAPPING_MODES else "none"
    return arr.map_overlap(
        _filter_block,
        depth=depth,
        boundary=boundary,
        dtype=probe.dtype,
        meta=np.empty((0,) * arr.ndim, probe.dtype),
        **filter_args,
    )
