"""Convolution layers of trained models, read without the frameworks that wrote them."""

from __future__ import annotations

from ._layer import ConvLayer, ConvModel, WeightFileError
from .demo_model import DemoDigits, demo_digits, demo_model_path
from .graph import Graph, UnsupportedLayerError
from .load import FORMATS, detect_format, load_model

__all__ = [
    "FORMATS",
    "ConvLayer",
    "ConvModel",
    "DemoDigits",
    "Graph",
    "UnsupportedLayerError",
    "WeightFileError",
    "demo_digits",
    "demo_model_path",
    "detect_format",
    "load_model",
]
