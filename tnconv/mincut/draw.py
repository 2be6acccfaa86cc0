"""Drawing a min cut on its tensor network (matplotlib and networkx imported lazily).

This is the min-cut layer's own picture; :mod:`tnconv.plot` re-exports it (plot depends on mincut, never
the reverse). It reads only the public attributes of :class:`~tnconv.mincut.MinCut`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


def tree_layout(G: Any) -> dict:
    """Positions for a forest: root (its centre) on top, leaves spread evenly at the bottom.

    Examples
    --------
    >>> import networkx as nx
    >>> pos = tree_layout(nx.path_graph(3))
    >>> pos[1][1] > pos[0][1]
    True
    """
    import networkx as nx

    pos: dict = {}
    x0 = 0.0
    for comp in nx.connected_components(G):
        sub = G.subgraph(comp)
        # The middle of a longest path (two BFS sweeps; nx.center would be quadratic).
        start = next(iter(comp))
        far = nx.single_source_shortest_path_length(sub, start)
        a = max(far, key=far.get)
        paths = nx.single_source_shortest_path(sub, a)
        longest = paths[max(paths, key=lambda v: len(paths[v]))]
        centre = longest[len(longest) // 2]
        tree = nx.bfs_tree(sub, centre)
        depth = nx.shortest_path_length(tree, centre)
        xs: dict = {}
        # Leaves take consecutive x positions in depth-first order and a parent sits at the mean of its
        # children; a post-order walk does this without recursion (long chains are thousands deep).
        for u in nx.dfs_postorder_nodes(tree, centre):
            kids = list(tree.successors(u))
            if kids:
                xs[u] = float(np.mean([xs[c] for c in kids]))
            else:
                xs[u] = x0
                x0 += 1.0
        for u in comp:
            pos[u] = (xs[u], -float(depth[u]))
        x0 += 1.0
    return pos


def draw_cut(cut: Any, ax: Any = None, layout: str = "auto", with_labels: bool | None = None) -> Any:
    """Draw a :class:`~tnconv.mincut.MinCut` on its network (see :meth:`MinCut.draw`).

    Tensors and open legs are coloured by side (blue: ``I``, orange: ``I^c``); severed copy tensors
    and bonds are red.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> ax = tc.min_cut(tc.deep(8, 2, 2, seed=0), [0, 1, 2, 3]).draw()
    >>> ax.get_title()
    'min cut 2 = 2^1'
    """
    import networkx as nx

    if layout not in ("auto", "tree", "spring"):
        raise ValueError(f"layout must be 'auto', 'tree' or 'spring', got {layout!r}")
    plt = pyplot()
    tn = cut.network
    G = tn.graph
    T = tn.n_tensors
    severed_copies = {e.index for e in cut.edges if e.kind == "copy"}
    severed_inds = {e.index for e in cut.edges if e.kind != "copy"}
    tensor_side = cut.tensor_sides()
    side_of: dict = {}
    for x in G:
        if x[0] == "tensor":
            side_of[x] = 0 if tensor_side[x[1]] else 1
        elif x[0] == "open":
            side_of[x] = 0 if x[1] in cut.part else 1
    for x in G:
        if x[0] == "copy":
            sides = {side_of[m] for m in G[x] if m in side_of}
            side_of[x] = -1 if x[1] in severed_copies else (sides.pop() if len(sides) == 1 else -1)
    if layout == "auto":
        layout = "tree" if nx.is_forest(G) else "spring"
    pos = tree_layout(G) if layout == "tree" else nx.spring_layout(G, seed=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(16, 3 + 0.25 * len(G)), 5))
    colors = [(CUT_COLOR if side_of[x] < 0 else SIDE_COLORS[side_of[x]]) for x in G]
    sizes = [{"tensor": 140, "copy": 60, "open": 25}[x[0]] * (2.2 if side_of[x] < 0 else 1) for x in G]
    shapes = {"tensor": "s", "copy": "o", "open": "v"}
    nodes = list(G)
    for kind, marker in shapes.items():
        sel = [k for k, x in enumerate(nodes) if x[0] == kind]
        if sel:
            nx.draw_networkx_nodes(G, pos, nodelist=[nodes[k] for k in sel], node_color=[colors[k] for k in sel],
                                   node_size=[sizes[k] for k in sel], node_shape=marker, ax=ax)
    cut_edges = [(u, v) for u, v, d in G.edges(data=True) if set(d["inds"]) & severed_inds]
    other = [(u, v) for u, v in G.edges() if (u, v) not in set(cut_edges)]
    nx.draw_networkx_edges(G, pos, edgelist=other, edge_color="#999999", width=0.8, ax=ax)
    nx.draw_networkx_edges(G, pos, edgelist=cut_edges, edge_color=CUT_COLOR, width=2.5, ax=ax)
    if with_labels or (with_labels is None and T <= 16):
        labels = {x: G.nodes[x]["label"] for x in G if x[0] == "tensor"}
        nx.draw_networkx_labels(G, pos, labels=labels, font_size=6, ax=ax)
    size = f"{cut.bound} = 2^{cut.log2_bound:.4g}" if cut.log2_bound < 40 else f"2^{cut.log2_bound:.6g}"
    ax.set_title(f"min cut {size}")
    ax.set_axis_off()
    return ax
