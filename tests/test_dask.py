"""kernelkit.dask against the in-memory functions, on Dask's threaded scheduler and on a
two-process dask.distributed LocalCluster (started on loopback for this module, shut down after)."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.filtering import BOUNDARY_MODES

da = pytest.importorskip("dask.array")
kkdask = pytest.importorskip("kernelkit.dask")

THREADS = {"scheduler": "threads", "num_workers": 2}
RTOL = {np.float32: 2e-6, np.float64: 1e-13}


def rows(n, d, dtype, chunk, seed=0):
    values = np.random.default_rng(seed).random((n, d)).astype(dtype) + 0.25
    return values, da.from_array(values, chunks=(chunk, d))


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "cosine", "chi2", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_equals_in_memory(kernel, dtype):
    x, X = rows(150, 6, dtype, 40)
    y, Y = rows(97, 6, dtype, 30, seed=1)
    K = kkdask.gram(X, Y, kernel)
    assert K.chunks == (X.chunks[0], Y.chunks[0])
    assert K.dtype == dtype
    expected = kernelkit.pairwise_kernels(x, y, metric=kernel)
    np.testing.assert_allclose(K.compute(**THREADS), expected, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gram_symmetric_computes_one_triangle_and_mirrors(dtype):
    x, X = rows(130, 5, dtype, 32)
    K = kkdask.gram(X, kernel="rbf", gamma=0.4)
    tasks = [key for key in K.__dask_graph__() if isinstance(key, tuple) and key[0] == K.name]
    assert len(tasks) == 25
    result = K.compute(**THREADS)
    assert np.array_equal(result, result.T)
    assert np.all(np.diag(result) == 1.0)
    expected = kernelkit.rbf_kernel(x, gamma=0.4)
    np.testing.assert_allclose(result, expected, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("columns", [None, 2])
@pytest.mark.parametrize("with_y", [True, False])
def test_kernel_matvec_equals_in_memory(dtype, columns, with_y):
    x, X = rows(210, 7, dtype, 50)
    y, Y = rows(333, 7, dtype, 64, seed=2) if with_y else (None, None)
    m = 333 if with_y else 210
    v = np.random.default_rng(3).standard_normal(m if columns is None else (m, columns))
    Kv = kkdask.kernel_matvec(
        X, Y, da.from_array(v, chunks=45), "sigmoid", gamma=0.2, split_every=2
    )
    expected = kernelkit.kernel_matvec(x, y, v, "sigmoid", gamma=0.2)
    result = Kv.compute(**THREADS)
    assert result.dtype == dtype
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=RTOL[dtype], atol=RTOL[dtype])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_map_conv2d_packs_once_on_the_threaded_scheduler(layout):
    rng = np.random.default_rng(4)
    shape = (10, 3, 9, 8) if layout == "NCHW" else (10, 9, 8, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    weight = rng.standard_normal((5, 3, 3, 3) if layout == "NCHW" else (3, 3, 3, 5))
    conv = kernelkit.Conv2d(weight.astype(np.float32), stride=2, padding="same", layout=layout)
    result = kkdask.map_conv2d(conv, da.from_array(x, chunks=(3, *shape[1:]))).compute(**THREADS)
    np.testing.assert_allclose(result, conv(x), rtol=1e-5, atol=1e-5)
    assert conv.packings == 1


def test_conv2d_equals_in_memory():
    x = np.random.default_rng(5).standard_normal((6, 2, 7, 7))
    w = np.random.default_rng(6).standard_normal((4, 2, 3, 3))
    X = da.from_array(x, chunks=(4, 1, 7, 7))  # channel chunks are merged
    result = kkdask.conv2d(X, w, np.ones(4), padding=1, activation="relu").compute(**THREADS)
    expected = kernelkit.conv2d(x, w, np.ones(4), padding=1, activation="relu")
    np.testing.assert_allclose(result, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", sorted(BOUNDARY_MODES))
@pytest.mark.parametrize(
    ("kernel_shape", "origin", "convolve"),
    [((5, 4), (0, 0), False), ((3, 3), (1, -1), False), ((4, 5), (-1, 1), True)],
)
def test_filter2d_borders_equal_in_memory(mode, kernel_shape, origin, convolve):
    rng = np.random.default_rng(7)
    image = rng.random((31, 26)).astype(np.float32)
    kernel = rng.standard_normal(kernel_shape)
    args = {"mode": mode, "cval": 0.5, "origin": origin, "convolve": convolve}
    tiles = da.from_array(image, chunks=(7, 9))
    result = kkdask.filter2d(tiles, kernel, **args).compute(**THREADS)
    np.testing.assert_allclose(
        result, kernelkit.filter2d(image, kernel, **args), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("shape", [(3, 20, 17, 2), (20, 17, 3)])
def test_filter2d_batches_and_channels(shape):
    image = np.random.default_rng(8).random(shape)
    chunks = (2, 6, 8, 1) if len(shape) == 4 else (6, 8, 2)
    box = np.ones((3, 3)) / 9
    result = kkdask.filter2d(da.from_array(image, chunks=chunks), box, mode="wrap")
    expected = kernelkit.filter2d(image, box, mode="wrap")
    np.testing.assert_allclose(result.compute(**THREADS), expected, rtol=1e-12)


def test_bad_arguments_raise_before_compute():
    _, X = rows(20, 3, np.float64, 10)
    with pytest.raises(kernelkit.InvalidParameterError, match="'kernel' parameter"):
        kkdask.gram(X, kernel="nope")
    with pytest.raises(kernelkit.InvalidParameterError, match="gamma"):
        kkdask.kernel_matvec(X, None, np.ones(20), gamma=-1.0)
    with pytest.raises(ValueError, match="v: expected shape"):
        kkdask.kernel_matvec(X, None, np.ones(21))
    with pytest.raises(ValueError, match="mode"):
        kkdask.filter2d(np.zeros((8, 8)), np.ones((3, 3)), mode="bogus")
    with pytest.raises(ValueError, match="image: expected"):
        kkdask.filter2d(np.zeros(8), np.ones((3, 3)))
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        kkdask.gram(np.zeros(5))


def test_threads_per_block_divides_the_threads(restore_num_threads):
    dask = pytest.importorskip("dask")
    kernelkit.set_num_threads(4)
    with dask.config.set(num_workers=2):
        assert kkdask.threads_per_block(None) == 2
    with dask.config.set(num_workers=8):
        assert kkdask.threads_per_block(None) == 1
    assert kkdask.threads_per_block(3) == 3


# -- dask.distributed ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_distributed_gram_and_kernel_matvec(client):
    x, X = rows(120, 4, np.float32, 30)
    K = client.compute(kkdask.gram(X, kernel="rbf")).result()
    np.testing.assert_allclose(K, kernelkit.rbf_kernel(x), rtol=2e-6, atol=2e-6)
    v = np.arange(120.0)
    Kv = client.compute(kkdask.kernel_matvec(X, X, v, "laplacian")).result()
    np.testing.assert_allclose(Kv, kernelkit.kernel_matvec(x, x, v, "laplacian"), rtol=2e-6)
    threads = client.run(lambda: kkdask.threads_per_block(None))
    assert set(threads.values()) == {1}


def test_distributed_conv2d_and_filter2d(client):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    conv = kernelkit.Conv2d(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), padding=1)
    result = client.compute(kkdask.map_conv2d(conv, da.from_array(x, chunks=(2, 2, 6, 6))))
    np.testing.assert_allclose(result.result(), conv(x), rtol=1e-5, atol=1e-5)
    image = rng.random((40, 33))
    for mode in ("reflect", "wrap"):
        tiles = kkdask.filter2d(da.from_array(image, chunks=(11, 10)), np.ones((3, 4)), mode=mode)
        expected = kernelkit.filter2d(image, np.ones((3, 4)), mode=mode)
        np.testing.assert_allclose(client.compute(tiles).result(), expected, rtol=1e-12)


def test_docstring_examples(restore_num_threads):
    """kernelkit.dask's examples (here rather than in test_docstrings.py: dask is optional)."""
    import doctest

    dask = pytest.importorskip("dask")
    # the threaded scheduler, which the examples describe, even while a Client is the default
    with dask.config.set(scheduler="threads"):
        result = doctest.testmod(kkdask, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
