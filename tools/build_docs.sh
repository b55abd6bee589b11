#!/usr/bin/env bash
# Builds the documentation site into docs/_build/html, warnings as errors, running every example
# of the gallery (examples/). Needs kernelkit importable and the docs extra:
# pip install ".[docs]".
set -euo pipefail
cd "$(dirname "$0")/.."
# The gallery's and autosummary's pages are made anew from examples/ and the docstrings.
rm -rf docs/_build docs/auto_examples docs/generated docs/_generated docs/sg_execution_times.rst
MPLBACKEND=Agg python -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "docs/_build/html/index.html"
