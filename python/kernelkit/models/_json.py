"""JSON inside model files (Keras configs and shard indexes, safetensors headers), parsed so that
every failure is a :class:`WeightFileError` naming the file.

``json`` raises RecursionError rather than ValueError for deeply nested input (``[[[[...``), which
a hostile file can hold, and reading a JSON file whole must be bounded.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable
from typing import Any

from ._layer import WeightFileError

__all__ = ["MAX_JSON_FILE_BYTES", "parse_json", "read_json_file"]

#: Largest JSON file read whole (a sharded Keras index); real ones are kilobytes.
MAX_JSON_FILE_BYTES = 64 << 20

PairsHook = Callable[[list[tuple[str, Any]]], Any]


def parse_json(
    text: str | bytes, what: str, path: pathlib.Path, *, object_pairs_hook: PairsHook | None = None
) -> Any:
    """The document ``text`` (bytes must be UTF-8); ``what`` names it in the error message."""
    try:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        return json.loads(decoded, object_pairs_hook=object_pairs_hook)
    except (ValueError, RecursionError) as exc:
        raise WeightFileError(path, f"{what} is not valid JSON ({exc})") from None


def read_json_file(path: pathlib.Path, what: str) -> Any:
    """The JSON document in the file ``path``, refused above :data:`MAX_JSON_FILE_BYTES`."""
    size = path.stat().st_size
    if size > MAX_JSON_FILE_BYTES:
        raise WeightFileError(
            path, f"{what} has {size} bytes, more than the {MAX_JSON_FILE_BYTES} read as JSON"
        )
    return parse_json(path.read_bytes(), what, path)
