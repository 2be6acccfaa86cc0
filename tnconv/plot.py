"""Pictures: 2D partitions as image masks, and min cuts drawn on their tensor network.

matplotlib is imported lazily (``pip install 'tnconv[plot]'``).

References
----------
.. [1] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743 (partitions of images and pooling geometry).
.. [2] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .partitions import validate_partition

__all__ = ["draw_cut", "plot_partition", "plot_partitions", "tree_layout"]

_SIDE_COLORS = ("#4c72b0", "#dd8452")  # I side, I^c side
_CUT_COLOR = "#c44e52"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is in the test extra
        raise ImportError("plotting needs matplotlib: pip install 'tnconv[plot]'") from exc
    return plt


def _mask(part: Iterable[int], shape: Sequence[int]) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (height, width), got {shape}")
    part = validate_partition(part, shape[0] * shape[1])
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[list(part)] = True
    return mask.reshape(shape)


def plot_partition(part: Iterable[int], shape: Sequence[int], ax: Any = None, title: str | None = None) -> Any:
    """Draw a partition of an image as a mask: ``I`` dark, ``I^c`` light; position = ``row * width + col``.

    Parameters
    ----------
    part : iterable of int
        The side ``I``.
    shape : (height, width)
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        An invalid partition or shape.
    ImportError
        Without matplotlib.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> ax = tc.plot_partition(tc.partitions.checkerboard((4, 4)), (4, 4), title="checkerboard")
    >>> ax.get_title()
    'checkerboard'
    """
    mask = _mask(part, shape)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(2.5, 2.5))
    from matplotlib.colors import ListedColormap

    ax.imshow(mask, cmap=ListedColormap(["#f0f0f0", "#2b2b2b"]), vmin=0, vmax=1, interpolation="nearest")
    h, w = mask.shape
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    if max(h, w) <= 32:
        ax.grid(which="minor", color="#9a9a9a", linewidth=0.3)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_partitions(
    parts: dict[str, Iterable[int]] | Sequence[Iterable[int]],
    shape: Sequence[int],
    model: Any = None,
    ncols: int = 4,
    output: int = 0,
) -> Any:
    """A grid of partition masks, each titled with its min-cut bound when ``model`` is given.

    Parameters
    ----------
    parts : dict name -> partition, or a sequence of partitions
    shape : (height, width)
    model : model or TensorNetwork, optional
        Titles then show ``log2`` of the min-cut bound (:func:`tnconv.min_cuts`).
    ncols : int

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> parts = {n: tc.partitions.named(n, (4, 4)) for n in tc.partitions.NAMES_2D}
    >>> fig = plot_partitions(parts, (4, 4), model=tc.deep((4, 4), 2, 2, seed=0))
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['left_right\\nlog2 bound 1', 'top_bottom\\nlog2 bound 1']
    """
    items = list(parts.items()) if isinstance(parts, dict) else [(None, p) for p in parts]
    bounds = None
    if model is not None:
        from .mincut import min_cuts

        bounds = min_cuts(model, [p for _, p in items], output=output)
    plt = _pyplot()
    n = len(items)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.9 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        name, part = items[k]
        lines = [name] if name is not None else []
        if bounds is not None:
            lines.append(f"log2 bound {bounds[k].log2_bound:.4g}")
        plot_partition(part, shape, ax=ax, title="\n".join(lines) or None)
    fig.tight_layout()
    return fig


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
    plt = _pyplot()
    prob = cut._prob
    tn = prob.tn
    G = tn.graph
    T = prob.n_tensors
    severed_copies = {prob.hyper[j][0] for j in cut._cut_h.tolist()}
    severed_inds = {i for k in cut._cut_e.tolist() for i in prob.edges[k][2]}
    side_of: dict = {}
    for x in G:
        if x[0] == "tensor":
            side_of[x] = 0 if cut._side[x[1]] else 1
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
    colors = [(_CUT_COLOR if side_of[x] < 0 else _SIDE_COLORS[side_of[x]]) for x in G]
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
    nx.draw_networkx_edges(G, pos, edgelist=cut_edges, edge_color=_CUT_COLOR, width=2.5, ax=ax)
    if with_labels or (with_labels is None and T <= 16):
        labels = {x: G.nodes[x]["label"] for x in G if x[0] == "tensor"}
        nx.draw_networkx_labels(G, pos, labels=labels, font_size=6, ax=ax)
    size = f"{cut.bound} = 2^{cut.log2_bound:.4g}" if cut.log2_bound < 40 else f"2^{cut.log2_bound:.6g}"
    ax.set_title(f"min cut {size}")
    ax.set_axis_off()
    return ax
