#!/usr/bin/env bash
# Builds the release files of this checkout into dist/ (or the folder given as $1): the sdist, a
# wheel built from that sdist (so the sdist is known to build), and on Linux the wheel repaired by
# auditwheel into a manylinux wheel that vendors the OpenMP runtime under a mangled name.
# Needs the release extra: pip install ".[release]".
#
# The manylinux tag is the lowest this machine's toolchain allows. A binary linked here asks for
# the symbol versions of the libraries it was linked against; on Debian 12 that is glibc 2.36's
# pthread_create and pthread_once at GLIBC_2.34 (where they moved into libc.so.6) and GCC 12's
# libstdc++ condition_variable::wait at GLIBCXX_3.4.30, which manylinux_2_35 is the first policy
# to allow: manylinux_2_35. (Linking libstdc++ statically is worse: its archive references
# GLIBC_2.36 symbols, giving manylinux_2_36.) Older tags (manylinux_2_28) need an older C library
# and C++ runtime to link against: cibuildwheel's manylinux images (pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
dist=$(realpath -m "${1:-dist}")
raw=$(mktemp -d)
trap 'rm -rf "$raw"' EXIT

if [[ "$(uname -s)" != Linux ]]; then
    python -m build --outdir "$dist" .
    python -m twine check --strict "$dist"/*
    exit 0
fi
python -m build --outdir "$raw" .
python -m twine check --strict "$raw"/*
# auditwheel picks the lowest manylinux policy the wheel satisfies, copies libgomp.so.1 into
# kernelkit.libs/ under a hashed name and points _core's RPATH at it.
python -m auditwheel repair --wheel-dir "$raw/repaired" "$raw"/*.whl
python -m auditwheel show "$raw"/repaired/*.whl
python -m twine check --strict "$raw"/repaired/*.whl
mkdir -p "$dist"
cp "$raw"/*.tar.gz "$raw"/repaired/*.whl "$dist/"
for wheel in "$raw"/repaired/*.whl; do echo "$dist/$(basename "$wheel")"; done
