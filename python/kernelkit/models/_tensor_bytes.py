"""Arrays from the raw bytes of tensor files (PyTorch storages, safetensors data).

Element types are named as NumPy names them; ``bfloat16``, which NumPy lacks, is stored as its
16-bit patterns and widened to float32 (exactly: bfloat16 is the upper half of a float32).
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["ELEMENT_TYPES", "array_from_bytes"]

#: element type -> the NumPy dtype of its stored bytes
ELEMENT_TYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(stored)
    for name, stored in {
        "bool": np.bool_,
        "uint8": np.uint8,
        "int8": np.int8,
        "uint16": np.uint16,
        "int16": np.int16,
        "uint32": np.uint32,
        "int32": np.int32,
        "uint64": np.uint64,
        "int64": np.int64,
        "float16": np.float16,
        "bfloat16": np.uint16,
        "float32": np.float32,
        "float64": np.float64,
        "complex64": np.complex64,
        "complex128": np.complex128,
    }.items()
}


def array_from_bytes(
    raw: bytes | bytearray, element_type: str, byteorder: Literal["little", "big"] = "little"
) -> NDArray[Any]:
    """The 1-D array of ``element_type`` values that ``raw`` holds, in native byte order.

    Examples
    --------
    >>> import numpy as np
    >>> array_from_bytes(np.array([1.5, -2.0], "<f4").tobytes(), "float32")
    array([ 1.5, -2. ], dtype=float32)
    >>> array_from_bytes(bytes([0x80, 0x3F]), "bfloat16")   # bfloat16 1.0 -> float32
    array([1.], dtype=float32)
    """
    # Native dtype objects, swapped by hand: compiled code may compare dtypes by identity, and
    # np.dtype("<f4") is not np.dtype(np.float32) there.
    flat = np.frombuffer(raw, dtype=ELEMENT_TYPES[element_type])
    if byteorder != sys.byteorder:
        flat = flat.byteswap()
    if element_type == "bfloat16":
        return (flat.astype(np.uint32) << 16).view(np.float32)
    return flat
