"""Drawing a min cut on its tensor network (matplotlib and networkx imported lazily).

This is the min-cut layer's own picture; :mod:`tnconv.plot` re-exports it (plot depends on mincut, never
the reverse). It reads only the public attributes of :class:`~tnconv.mincut.MinCut`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .draw_layouts import tree_layout

__all__ = ["CUT_COLOR", "SIDE_COLORS", "draw_cut", "pyplot", "tree_layout"]

SIDE_COLORS = ("#4c72b0", "#dd8452")  # I side, I^c side
CUT_COLOR = "#c44e52"


def pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError naming the ``plot`` extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is in the test extra
        raise ImportError("plotting needs matplotlib: pip install 'tnconv[plot]'") from exc
    return plt


def _sides(cut: Any, G: Any) -> dict:
    """0 (``I``), 1 (``I^c``) or -1 (severed) for every node of the cut graph."""
    severed_copies = {e.index for e in cut.edges if e.kind == "copy"}
    tensor_side = cut.tensor_sides()
    # open_side, not part: an A|B cut's free legs are drawn on the side the cut put them
    open_side = cut.open_side
    side_of: dict = {}
    for x in G:
        if x[0] == "tensor":
            side_of[x] = 0 if tensor_side[x[1]] else 1
        elif x[0] == "open":
            side_of[x] = 0 if x[1] in open_side else 1
    for x in G:
        if x[0] == "copy":
            sides = {side_of[m] for m in G[x] if m in side_of}
            side_of[x] = -1 if x[1] in severed_copies else (sides.pop() if len(sides) == 1 else -1)
    return side_of


def _title(cut: Any) -> str:
    size = f"{cut.bound} = 2^{cut.log2_bound:.4g}" if cut.log2_bound < 40 else f"2^{cut.log2_bound:.6g}"
    return f"min cut {size}"


def draw_cut(cut: Any, ax: Any = None, layout: str = "auto", with_labels: bool | None = None,
             shape: Any = None, view: str = "auto", legend: bool = True) -> Any:
    """Draw a :class:`~tnconv.mincut.MinCut` on its network, or on the image (see :meth:`MinCut.draw`).

    Tensors and open legs are coloured by side (blue: ``I``, orange: ``I^c``); severed copy tensors
    and bonds are red; a legend says so. Models are drawn as their pooling tree (root on top), an MPS
    as a chain and a PEPS as a grid (from the network's structure or quimb's ``X``/``Y`` tags). Large
    networks get small markers, thin bonds and a strip of the inputs' sides along the bottom.

    With ``shape=(h, w)`` (a 2D model) the image view colours the pixels of each side and outlines the
    window of every severed index, coloured by its height in the pooling hierarchy.

    Parameters
    ----------
    cut : MinCut
    ax : matplotlib Axes, optional
        Where to draw (one view). Default: a new figure (both views side by side when ``shape`` is
        given and ``view="auto"``).
    layout : {"auto", "tree", "chain", "grid", "spring"}
    with_labels : bool, optional
        Tensor names; default only for at most 16 tensors.
    shape : (height, width), optional
        The image shape of the inputs (position ``r * width + c``).
    view : {"auto", "network", "image", "both"}
    legend : bool

    Returns
    -------
    matplotlib Axes
        The image view's axes when there is one, else the network's (``ax.figure.axes`` holds both).

    Raises
    ------
    ValueError
        An unknown ``layout`` or ``view``, an image view without ``shape``, or a ``shape`` that does not
        match the inputs.
    ImportError
        Without matplotlib.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> ax = tc.min_cut(tc.deep(8, 2, 2, seed=0), [0, 1, 2, 3]).draw()
    >>> ax.get_title()
    'min cut 2 = 2^1'
    >>> cut = tc.min_cut(tc.deep((4, 4), 2, 2, seed=0), tc.partitions.checkerboard((4, 4)))
    >>> [a.get_title() for a in cut.draw(shape=(4, 4)).figure.axes]
    ['min cut 16 = 2^4: on the image', 'min cut 16 = 2^4']
    """
    if view not in ("auto", "network", "image", "both"):
        raise ValueError(f"view must be 'auto', 'network', 'image' or 'both', got {view!r}")
    if view in ("image", "both") and shape is None:
        raise ValueError(f"view={view!r} needs the image shape: draw(shape=(height, width))")
    if view == "auto":
        view = "network" if shape is None else ("both" if ax is None else "image")
    plt = pyplot()
    if view == "both":
        if ax is not None:
            raise ValueError("view='both' draws two panels: leave ax=None")
        fig = plt.figure(figsize=(12.5, 5.6))
        grid = fig.add_gridspec(1, 2, width_ratios=[1, 1.7])
        ax_img, ax_net = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
        _draw_image(cut, shape, ax_img, legend)
        _draw_network(cut, ax_net, layout, with_labels, legend)
        fig.tight_layout()
        return ax_img
    if view == "image":
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5.6))
        return _draw_image(cut, shape, ax, legend)
    return _draw_network(cut, ax, layout, with_labels, legend)


def _draw_image(cut: Any, shape: Any, ax: Any, legend: bool) -> Any:
    from .draw_image import draw_on_image

    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise ValueError(f"shape must be (height, width), got {shape!r}")
    draw_on_image(cut, (int(shape[0]), int(shape[1])), ax, legend=legend)
    ax.set_title(f"{_title(cut)}: on the image")
    return ax


def _draw_network(cut: Any, ax: Any, layout: str, with_labels: bool | None, legend: bool) -> Any:
    import networkx as nx

    from .draw_layouts import detect_layout

    plt = pyplot()
    tn = cut.network
    G = tn.graph
    name, pos = detect_layout(tn, layout)
    side_of = _sides(cut, G)
    xs = np.array([p[0] for p in pos.values()])
    columns = max(1, len({round(float(x), 3) for x in xs}))
    if ax is None:
        wide = 3 + 0.22 * columns if name != "grid" else 7
        _, ax = plt.subplots(figsize=(min(16, max(6, wide)), 5.5 if name != "chain" else 2.6))
    # markers shrink to the room per column, so that 256 inputs stay apart
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    room = max(1.0, width_pt / max(columns, 1))
    shrink = min(1.0, (0.8 * room / 12.0) ** 2)
    big = len(G) > 400
    severed_inds = {e.index for e in cut.edges if e.kind != "copy"}
    cut_edges = [(u, v) for u, v, d in G.edges(data=True) if set(d["inds"]) & severed_inds]
    cut_set = set(cut_edges)
    full = G
    compact = big and name in ("tree", "chain")
    if compact:
        # thousands of vertical legs read as a grey block: the strip below shows the inputs' sides, and
        # only the severed legs are drawn (red, down to the strip)
        G = G.subgraph([x for x in G if x[0] != "open"])
    other = [(u, v) for u, v in G.edges() if (u, v) not in cut_set]
    nx.draw_networkx_edges(G, pos, edgelist=other, edge_color="#9a9a9a", width=0.35 if big else 0.8, ax=ax)
    nx.draw_networkx_edges(full, pos, edgelist=cut_edges, edge_color=CUT_COLOR, width=1.2 if big else 2.5, ax=ax)
    if compact and name == "chain":  # one severed bond among thousands: a tick that shows at any size
        mids = [((pos[u][0] + pos[v][0]) / 2, (pos[u][1] + pos[v][1]) / 2) for u, v in cut_edges
                if u[0] != "open" and v[0] != "open"]
        if mids:
            ax.scatter(*zip(*mids), marker="|", s=900, linewidths=2.5, color=CUT_COLOR, zorder=5, gid="severed")
    shapes = {"tensor": "s", "copy": "o", "open": "v"}
    base = {"tensor": 140, "copy": 60, "open": 25}
    for kind, marker in shapes.items():
        sel = [x for x in G if x[0] == kind]
        if not sel:
            continue
        colors = [CUT_COLOR if side_of[x] < 0 else SIDE_COLORS[side_of[x]] for x in sel]
        sizes = [max(5.0, base[kind] * shrink) * (2.2 if side_of[x] < 0 else 1) for x in sel]
        nx.draw_networkx_nodes(G, pos, nodelist=sel, node_color=colors, node_size=sizes, node_shape=marker,
                               linewidths=0, ax=ax)
    if with_labels or (with_labels is None and tn.n_tensors <= 16):
        # quimb labels carry the site tag and the X/Y coordinate tags: the site tag says it all
        labels = {x: re.sub(r",?\b[XY]\d+\b", "", str(G.nodes[x]["label"])) for x in G if x[0] == "tensor"}
        nx.draw_networkx_labels(G, pos, labels=labels, font_size=6, ax=ax)
    if name == "grid" and tn.n_tensors <= 400:
        ax.set_aspect("equal")
        ax.margins(0.08)
    elif name == "chain":
        ax.set_ylim(-1.4 if compact else -1.2, 0.6)
    if compact:
        _side_strip(ax, pos, side_of, tn.graph, 1.8 if name == "tree" else 1.1)
    ax.set_title(_title(cut))
    ax.set_axis_off()
    if legend:
        _legend(ax, cut)
    return ax


def _side_strip(ax: Any, pos: dict, side_of: dict, G: Any, below: float) -> None:
    """A band under the network: one cell per input, coloured by its side (readable however many).

    One ``PolyCollection`` (gid ``"inputs"``), cells in left-to-right order: thousands of bar patches
    took seconds to draw."""
    from matplotlib.collections import PolyCollection

    opens = sorted((x for x in G if x[0] == "open"), key=lambda x: pos[x][0])
    if not opens:
        return
    y = min(pos[x][1] for x in G if x[0] != "open") - below
    xs = [pos[x][0] for x in opens]
    cells = [[(x - 0.5, y), (x + 0.5, y), (x + 0.5, y + 0.8), (x - 0.5, y + 0.8)] for x in xs]
    strip = PolyCollection(cells, facecolors=[SIDE_COLORS[side_of[x]] for x in opens], linewidths=0)
    strip.set_gid("inputs")
    ax.add_collection(strip)
    ax.update_datalim([(min(xs) - 0.5, y), (max(xs) + 0.5, y + 0.8)])
    ax.autoscale_view()
    ax.text(min(xs) - 1, y + 0.4, "inputs", ha="right", va="center", fontsize=8)


def _legend(ax: Any, cut: Any) -> None:
    from matplotlib.lines import Line2D

    n_copy = sum(e.kind == "copy" for e in cut.edges)
    n_other = len(cut.edges) - n_copy
    handles = [
        Line2D([], [], marker="s", linestyle="", color=SIDE_COLORS[0], label="side I"),
        Line2D([], [], marker="s", linestyle="", color=SIDE_COLORS[1], label="side I\u1d9c"),
        Line2D([], [], marker="o", linestyle="", color=CUT_COLOR, markersize=9,
               label=f"severed copy tensor ({n_copy})"),
        Line2D([], [], color=CUT_COLOR, linewidth=2.5, label=f"severed bond / leg ({n_other})"),
        Line2D([], [], marker="s", linestyle="", color="#555555", label="tensor"),
        Line2D([], [], marker="o", linestyle="", color="#555555", markersize=5, label="copy tensor (hyperedge)"),
        Line2D([], [], marker="v", linestyle="", color="#555555", markersize=5, label="open leg (input)"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8, frameon=False)
