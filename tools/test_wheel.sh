#!/usr/bin/env bash
# Installs a built kernelkit wheel into a fresh virtual environment and runs tools/wheel_smoke.py
# there with a PATH that holds no compiler, so nothing can be built from source on the way (every
# dependency must come as a wheel too). Then, where the calling Python has PyTorch, runs the wheel's
# vendored OpenMP runtime and PyTorch's in one process under a time limit (a deadlock fails).
# Usage: tools/test_wheel.sh dist/kernelkit-*.whl
set -euo pipefail
wheel=$(realpath "$1")
smoke=$(realpath "$(dirname "$0")/wheel_smoke.py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --only-binary=:all: "$wheel"
# The smoke test runs in an empty folder, so the checkout's python/ cannot shadow the wheel.
cd "$work"
for compiler in cc gcc c++ g++ clang; do
    if PATH="$work/venv/bin" command -v "$compiler" >/dev/null; then
        echo "a compiler is on the test PATH: $compiler" >&2
        exit 1
    fi
done
timeout 900 env -i HOME="$work" PATH="$work/venv/bin" MPLBACKEND=Agg \
    "$work/venv/bin/python" "$smoke"

if python -c "import torch" 2>/dev/null; then
    python -m pip install -q --no-deps --target "$work/site" "$wheel"
    PYTHONPATH="$work/site" timeout 300 python "$smoke" --with-torch
else
    echo "PyTorch is not installed: the vendored-OpenMP + PyTorch check is skipped"
fi
