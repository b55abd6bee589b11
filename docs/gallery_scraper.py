"""sphinx-gallery scraper for matplotlib Figures made with the object API (docs/conf.py names it).

kernelkit's plotting functions return ``Figure`` objects that pyplot never sees, so sphinx-gallery's
matplotlib scraper would find nothing in the examples.
"""

from __future__ import annotations

from typing import Any, Callable

from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst


def object_api_figures(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Each Figure a code block leaves in the example's namespace, and that no earlier block
    showed, becomes an image of that block."""
    del block
    new = [
        value
        for value in block_vars["example_globals"].values()
        if isinstance(value, Figure) and not getattr(value, "_gallery_shown", False)
    ]
    paths = []
    for figure, path in zip(new, block_vars["image_path_iterator"]):
        figure.savefig(path, dpi=110)
        figure._gallery_shown = True  # type: ignore[attr-defined]
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


def _get_sg_image_scraper() -> Callable[..., str]:
    """The hook sphinx-gallery calls for a scraper named by its module."""
    return object_api_figures
