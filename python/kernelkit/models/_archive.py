"""Reading members of zip archives (.keras, .npz) without trusting their declared sizes.

A zip member declares its compressed and uncompressed sizes; a hostile archive can declare
terabytes (a "zip bomb") or sizes beyond the end of the file. Every member is checked before a
byte of it is read: its data must lie inside the archive and its uncompressed size must be
reachable from its compressed size. Large members are spooled to a temporary file rather than
held in memory.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from ._layer import WeightFileError

__all__ = ["checked_member", "open_zip", "read_member", "spooled_member"]

#: Deflate cannot expand data more than about 1032 times; bzip2 and lzma are given more room.
_MAX_EXPANSION = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}
_MAX_EXPANSION_OTHER = 100_000

#: Members up to this size are spooled in memory, larger ones on disk.
SPOOL_IN_MEMORY = 64 << 20

#: What zipfile raises for a damaged archive or member (ValueError: a name that is not UTF-8, a
#: negative seek from a corrupt offset; NotImplementedError: an unknown zip version or method).
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    ValueError,
)


def open_zip(path: pathlib.Path) -> zipfile.ZipFile:
    """The archive at ``path``; a damaged one raises WeightFileError."""
    try:
        return zipfile.ZipFile(path)
    except ZIP_READ_ERRORS as exc:
        raise WeightFileError(path, f"damaged zip archive ({exc})") from None


def checked_member(archive: zipfile.ZipFile, name: str, path: pathlib.Path) -> zipfile.ZipInfo:
    """The entry of member ``name`` after checking that its declared sizes are possible."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise WeightFileError(path, f"the archive has no member {name!r}") from None
    if info.flag_bits & 0x1:  # zipfile would ask for a password (RuntimeError)
        raise WeightFileError(path, f"member {name!r} is encrypted")
    archive_size = os.path.getsize(path)
    if info.header_offset + info.compress_size > archive_size:
        raise WeightFileError(
            path,
            f"member {name!r} declares {info.compress_size} compressed bytes, more than the "
            f"{archive_size}-byte archive holds (truncated file?)",
        )
    expansion = _MAX_EXPANSION.get(info.compress_type, _MAX_EXPANSION_OTHER)
    # the slack covers the few bytes of framing that a tiny compressed member needs
    if info.file_size > info.compress_size * expansion + 1024:
        raise WeightFileError(
            path,
            f"member {name!r} declares {info.file_size} bytes from {info.compress_size} "
            "compressed ones, more than the compression can produce (zip bomb?)",
        )
    return info


def read_member(archive: zipfile.ZipFile, name: str, path: pathlib.Path, limit: int) -> bytes:
    """The bytes of member ``name``, refusing members larger than ``limit`` bytes."""
    info = checked_member(archive, name, path)
    if info.file_size > limit:
        raise WeightFileError(
            path, f"member {name!r} has {info.file_size} bytes, more than the {limit} allowed"
        )
    try:
        with archive.open(info) as member:
            return member.read(limit)
    except ZIP_READ_ERRORS as exc:
        raise WeightFileError(path, f"damaged member {name!r} ({exc})") from None


@contextmanager
def spooled_member(archive: zipfile.ZipFile, name: str, path: pathlib.Path) -> Iterator[IO[bytes]]:
    """Member ``name`` copied into a seekable temporary file (in memory while small)."""
    info = checked_member(archive, name, path)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        try:
            with archive.open(info) as member:
                shutil.copyfileobj(member, spool)
        except ZIP_READ_ERRORS as exc:
            raise WeightFileError(path, f"damaged member {name!r} ({exc})") from None
        spool.seek(0)
        yield spool
