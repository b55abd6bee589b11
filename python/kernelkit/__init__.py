"""kernelkit: fast convolution and Gram-matrix (SVM) kernels for NumPy.

The compute functions run SIMD + OpenMP C++ kernels chosen at import for this CPU (see
:func:`show_config`). Every one takes keyword-only ``n_threads`` and ``out``.

Examples
--------
>>> import numpy as np, kernelkit
>>> X = np.random.default_rng(0).random((100, 16), dtype=np.float32)
>>> K = kernelkit.rbf_kernel(X)
>>> K.shape, K.dtype
((100, 100), dtype('float32'))
"""

from __future__ import annotations

from . import kernels, pairwise
from ._config import (
    config,
    output_cache,
    set_output_cache,
    set_simd_path,
    show_config,
    simd_path,
)
from ._threads import get_num_threads, set_num_threads
from ._validation import InvalidParameterError
from .conv import Conv2d, ConvPlan, conv2d
from .filtering import filter2d, filter2d_separable
from .kernel_sums import kernel_matvec, kernel_rows
from .models import ConvLayer, ConvModel, WeightFileError, load_model
from .pairwise import *  # noqa: F403  (pairwise_kernels and every Gram kernel's function)
from .plotting import filter_grid, plot_feature_maps, plot_filters

__version__: str = config()["version"]

__all__ = [
    "Conv2d",
    "ConvLayer",
    "ConvModel",
    "ConvPlan",
    "InvalidParameterError",
    "WeightFileError",
    "__version__",
    "config",
    "conv2d",
    "filter2d",
    "filter2d_separable",
    "filter_grid",
    "get_num_threads",
    "kernel_matvec",
    "kernel_rows",
    "kernels",
    "load_model",
    "output_cache",
    "plot_feature_maps",
    "plot_filters",
    "set_num_threads",
    "set_output_cache",
    "set_simd_path",
    "show_config",
    "simd_path",
]
__all__ += pairwise.__all__
