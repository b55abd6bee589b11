"""The API reference (docs/api.rst) lists every public name, so none goes undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kernelkit
import kernelkit.kernels
import kernelkit.models
import kernelkit.pairwise

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
# Values rather than functions or classes: their meaning is given where they are used.
CONSTANTS = {"__version__", "NAMED_KERNELS", "FORMATS"}


def documented_names() -> set[str]:
    """The names api.rst lists, and the Gram functions docs/conf.py lists there for it."""
    text = API_PAGE.read_text(encoding="utf-8")
    entries = re.findall(r"^   ([A-Za-z_][A-Za-z0-9_]*)$", text, flags=re.MULTILINE)
    return set(entries) | set(kernelkit.pairwise.__all__)


@pytest.mark.skipif(
    not API_PAGE.exists(), reason="docs/ is not beside the tests (an sdist or wheel)"
)
@pytest.mark.parametrize("module", [kernelkit, kernelkit.kernels, kernelkit.models])
def test_every_public_name_is_in_the_api_reference(module):
    public = {n for n in module.__all__ if n not in CONSTANTS and n != "kernels"}
    missing = sorted(public - documented_names())
    assert not missing, f"{module.__name__}: not in docs/api.rst: {missing}"
