"""Sphinx configuration of the tnconv documentation.

Build (warnings are errors in CI)::

    python -m sphinx -W --keep-going -b html docs /tmp/tnconv-html
    python -m sphinx -W --keep-going -b doctest docs /tmp/tnconv-doctest
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The checkout being documented comes first, so a worktree documents itself and not an installed copy.
sys.path.insert(0, ROOT)

import tnconv  # noqa: E402

project = "tnconv"
author = "the tnconv authors"
copyright = "2026, the tnconv authors"
release = tnconv.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path = ["_templates"]
# numpydoc References sections list papers as citations (``.. [1]``) that the text need not cite.
suppress_warnings = ["ref.citation"]

# ---- optional modules ---------------------------------------------------------------------------------
# tnconv.train and tnconv.datasets get reference pages as soon as the modules exist: while one is missing
# its page is excluded and left out of the API index (no warning, no broken build); once it exists the
# page is built and listed at the end of the API index's toctree (see _add_optional_pages).
OPTIONAL_PAGES = {"tnconv.train": "api/train", "tnconv.datasets": "api/datasets"}
PRESENT_OPTIONAL = [page for module, page in OPTIONAL_PAGES.items() if importlib.util.find_spec(module)]
exclude_patterns += [page + ".rst" for page in OPTIONAL_PAGES.values() if page not in PRESENT_OPTIONAL]


def _add_optional_pages(app, docname, source):  # noqa: ANN001, ANN202
    if docname == "api/index" and PRESENT_OPTIONAL:
        entries = "".join(f"   {page.split('/')[-1]}\n" for page in PRESENT_OPTIONAL)
        source[0] = source[0].rstrip("\n") + "\n" + entries


# ---- autodoc / autosummary / numpydoc -----------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False  # the class template lists methods and attributes itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# ---- doctest ------------------------------------------------------------------------------------------
# Only explicit ``.. doctest::`` / ``.. testcode::`` blocks of the pages run here; the docstrings'
# Examples run under pytest (--doctest-modules), so they are not run twice.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import numpy as np
import tnconv as tc
"""
import doctest as _doctest  # noqa: E402

doctest_default_flags = _doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE | _doctest.DONT_ACCEPT_TRUE_FOR_1

# ---- cross references ---------------------------------------------------------------------------------
# No network at build time: intersphinx has no inventories configured, so external names stay text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

# ---- markdown (docs/architecture.md is kept in markdown and included as it is) ------------------------
myst_heading_anchors = 2

# ---- HTML ---------------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"tnconv {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Convolutional networks as tensor networks",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}


_MERMAID = re.compile(r"^```mermaid\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_NODE = re.compile(r'(\w+)(?:\["([^"]*)"\])?')


def _flowchart_as_list(match: re.Match) -> str:
    """A mermaid flowchart as a markdown list of arrows, one per source node, in the order given.

    No mermaid extension is needed (nor a network connection for its script). A block that is not a
    plain ``flowchart`` of ``a --> b`` lines is left as it is (and shown as text).
    """
    lines = match.group(1).strip().splitlines()
    if not lines or not lines[0].startswith(("flowchart", "graph")):
        return match.group(0)
    labels: dict[str, str] = {}
    edges: dict[str, list[str]] = {}
    for line in lines[1:]:
        if "-->" not in line:
            return match.group(0)
        left, right = line.split("-->", 1)
        sources = [_NODE.match(part.strip()) for part in left.split("&")]
        target = _NODE.match(right.strip())
        if target is None or None in sources:
            return match.group(0)
        for m in [*sources, target]:
            if m.group(2):
                labels[m.group(1)] = m.group(2).replace("<br/>", " ")
        for m in sources:
            edges.setdefault(m.group(1), []).append(target.group(1))
    name = lambda key: f"**{labels.get(key, key)}**"  # noqa: E731
    items = [f"- {name(src)} → {', '.join(name(t) for t in targets)}" for src, targets in edges.items()]
    return "Imports run along the arrows (each layer may use the layers before it):\n\n" + "\n".join(items)


def _architecture_diagram(app, docname, source):  # noqa: ANN001, ANN202
    if docname == "architecture":
        source[0] = _MERMAID.sub(_flowchart_as_list, source[0])


def _skip_foreign_members(app, what, name, obj, skip, options):  # noqa: ANN001, ANN202
    # Document tnconv's own methods only: an estimator inherits scikit-learn's (get_params, score,
    # set_*_request ...), whose docstrings cross-reference scikit-learn's own pages.
    target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    module = getattr(target, "__module__", None)
    if what == "class" and callable(target) and module and not module.startswith("tnconv"):
        return True
    return None


def setup(app):  # noqa: ANN001, ANN201
    # docs/architecture.md draws its layer graph in a ```mermaid block, shown as a list of arrows
    # (_architecture_diagram); any other mermaid block is shown as text, without a highlighter warning.
    from pygments.lexers.special import TextLexer

    app.add_lexer("mermaid", TextLexer)
    app.connect("source-read", _add_optional_pages)
    app.connect("source-read", _architecture_diagram)
    app.connect("autodoc-skip-member", _skip_foreign_members)
