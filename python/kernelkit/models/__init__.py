"""Convolution layers of trained models, read without the frameworks that wrote them."""

from __future__ import annotations

from ._layer import ConvLayer, ConvModel, WeightFileError

__all__ = ["ConvLayer", "ConvModel", "WeightFileError"]
