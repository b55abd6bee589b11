"""Sphinx configuration of kernelkit's documentation (tools/build_docs.sh builds it)."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import kernelkit
import kernelkit.pairwise
from kernelkit.cli import build_parser

project = "kernelkit"
author = "The kernelkit developers"
copyright = "2026, the kernelkit developers"
release = kernelkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# _generated/ holds pieces that pages include, not pages of their own.
exclude_patterns = ["_build", "_generated"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
# numpydoc lists class members itself; autosummary's member tables would repeat them.
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# The signatures' type hints spell out NumPy's ArrayLike unions; the docstrings say the types.
autodoc_typehints = "none"

html_theme = "pydata_sphinx_theme"
html_title = f"kernelkit {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS))  # gallery_scraper.py


sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "image_scrapers": ("gallery_scraper",),
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "show_memory": False,
}


def _help_of(parser: argparse.ArgumentParser) -> str:
    with contextlib.redirect_stdout(io.StringIO()) as text:
        parser.print_help()
    return text.getvalue()


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public way to list the subcommands of a parser.
    actions = parser._subparsers._group_actions if parser._subparsers else []
    return {name: sub for action in actions for name, sub in action.choices.items()}


def write_cli_reference() -> None:
    """The command line reference, from the parser itself, so it cannot drift from the code."""
    parser = build_parser()
    sections = [".. code-block:: text\n\n" + _indent(_help_of(parser))]
    for name, command in _commands(parser).items():
        title = f"kernelkit {name}"
        sections.append(
            f"{title}\n{'-' * len(title)}\n\n.. code-block:: text\n\n" + _indent(_help_of(command))
        )
    out = DOCS / "_generated" / "cli_reference.rst"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n\n".join(sections))


def write_gram_function_list() -> None:
    """The API reference's Gram kernels: every function kernelkit.pairwise exports.

    autosummary makes stub pages only for the lists in the pages themselves, not in included
    files, so the stubs of these are written here (as autosummary's own template would).
    """
    names = kernelkit.pairwise.__all__
    listing = "".join(f"   {name}\n" for name in names)
    out = DOCS / "_generated" / "gram_functions.rst"
    out.parent.mkdir(exist_ok=True)
    out.write_text(".. autosummary::\n   :toctree: generated\n\n" + listing)
    stubs = DOCS / "generated"
    stubs.mkdir(exist_ok=True)
    for name in names:
        title = f"kernelkit.{name}".replace("_", r"\_")
        heading = f"{title}\n{'=' * len(title)}\n\n"
        stub = heading + f".. currentmodule:: kernelkit\n\n.. autofunction:: {name}\n"
        (stubs / f"kernelkit.{name}.rst").write_text(stub)


def _indent(text: str) -> str:
    return "".join(
        f"   {line}" if line.strip() else line for line in text.splitlines(keepends=True)
    )


write_cli_reference()
write_gram_function_list()
