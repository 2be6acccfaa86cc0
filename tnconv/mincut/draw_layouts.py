"""Positions for drawing a tensor network: trees by depth, chains (MPS) in a row, grids (PEPS) as grids.

Every layout here is iterative (no recursion), so a 2,500-site chain or a 4,096-input tree is fine.
The chain and grid layouts place the *tensors* from the network's structure (or its quimb ``X``/``Y``
tags) and put each copy tensor at the mean of its tensors and each open leg just below its tensor.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["anchored_layout", "chain_order", "detect_layout", "grid_coordinates", "tree_layout"]


def tree_layout(G: Any, root: Any = None) -> dict:
    """Positions for a forest: root (its centre, or ``root``) on top, leaves spread evenly at the bottom.

    Examples
    --------
    >>> import networkx as nx
    >>> pos = tree_layout(nx.path_graph(3))
    >>> pos[1][1] > pos[0][1]
    True
    >>> tree_layout(nx.path_graph(3), root=0)[0][1]
    -0.0
    """
    import networkx as nx

    pos: dict = {}
    x0 = 0.0
    for comp in nx.connected_components(G):
        sub = G.subgraph(comp)
        if root is not None and root in comp:
            centre = root
        else:
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


def _tensor_graph(G: Any) -> Any:
    """Tensors only, joined where they share a bond or a copy tensor."""
    import networkx as nx

    T = nx.Graph()
    T.add_nodes_from(x for x in G if x[0] == "tensor")
    for x in G:
        if x[0] == "copy":
            ts = [m for m in G[x] if m[0] == "tensor"]
            T.add_edges_from((a, b) for i, a in enumerate(ts) for b in ts[i + 1:])
    T.add_edges_from((u, v) for u, v in G.edges() if u[0] == "tensor" and v[0] == "tensor")
    return T


def chain_order(G: Any) -> list | None:
    """The tensors of ``G`` in chain order when they form a path (an MPS), else None."""
    import networkx as nx

    T = _tensor_graph(G)
    n = T.number_of_nodes()
    if n < 3 or T.number_of_edges() != n - 1 or max(d for _, d in T.degree()) > 2 or not nx.is_connected(T):
        return None
    ends = sorted((v for v, d in T.degree() if d == 1), key=lambda v: v[1])
    return list(nx.dfs_preorder_nodes(T, ends[0]))


_X_TAG, _Y_TAG = re.compile(r"(?:^|,)X(\d+)(?:,|$)"), re.compile(r"(?:^|,)Y(\d+)(?:,|$)")


def grid_coordinates(G: Any) -> dict | None:
    """``{tensor: (row, col)}`` when the tensors form a 2D grid (a PEPS), else None.

    quimb's ``X{x}``/``Y{y}`` tags (in the tensor labels) are used when every tensor has them; otherwise
    the tensor graph is matched against a grid of the only shape its degrees allow.
    """
    import networkx as nx

    tensors = [x for x in G if x[0] == "tensor"]
    coords = {}
    for t in tensors:
        label = str(G.nodes[t].get("label", ""))
        mx, my = _X_TAG.search(label), _Y_TAG.search(label)
        if mx is None or my is None:
            break
        coords[t] = (int(mx.group(1)), int(my.group(1)))
    if len(coords) == len(tensors) and len(set(coords.values())) == len(tensors) and len(tensors) >= 4:
        return coords
    T = _tensor_graph(G)
    n = T.number_of_nodes()
    degrees = [d for _, d in T.degree()]
    if n < 4 or n > 4096 or degrees.count(2) != 4 or max(degrees) > 4:
        return None
    # r x c grid: 4 corners, 2(r-2) + 2(c-2) sides of degree 3
    sides = degrees.count(3)
    for r in range(2, int(n**0.5) + 1):
        c = n // r
        if r * c == n and 2 * (r - 2) + 2 * (c - 2) == sides:
            match = nx.vf2pp_isomorphism(nx.grid_2d_graph(r, c), T)
            if match is not None:
                return {t: rc for rc, t in match.items()}
    return None


def anchored_layout(G: Any, tensor_pos: dict, leg: tuple[float, float] = (0.0, -0.45)) -> dict:
    """Tensors where ``tensor_pos`` says; copy tensors at the mean of their tensors (nudged off the
    bonds); open legs at their tensor plus ``leg``."""
    pos = {t: (float(x), float(y)) for t, (x, y) in tensor_pos.items()}
    for x in G:
        if x[0] == "copy":
            ts = [pos[m] for m in G[x] if m in pos]
            if ts:
                mx, my = np.mean(ts, axis=0)
                pos[x] = (float(mx) + 0.12, float(my) + 0.18)
    for x in G:
        if x[0] == "open":
            anchor = next((pos[m] for m in G[x] if m in pos), (0.0, 0.0))
            pos[x] = (anchor[0] + leg[0], anchor[1] + leg[1])
    for x in G:  # anything left (a copy tensor joining only open legs): at the origin
        pos.setdefault(x, (0.0, 0.0))
    return pos


def _model_root(tn: Any) -> Any:
    """The tensor of the mode tree's root (the output weights), the top of a model's picture."""
    if tn.tree is None or tn.tensor_nodes is None:
        return None
    root = tn.tree.root
    for k, node in enumerate(tn.tensor_nodes):
        if node == root:
            return ("tensor", k)
    return None


def detect_layout(tn: Any, layout: str = "auto") -> tuple[str, dict]:
    """``(name, positions)`` for drawing ``tn.graph``: ``"tree"`` for models and other forests,
    ``"chain"`` for an MPS, ``"grid"`` for a PEPS, ``"spring"`` for anything else.

    Raises
    ------
    ValueError
        For an unknown ``layout``, or ``"chain"``/``"grid"`` on a network without that structure.
    """
    import networkx as nx

    if layout not in ("auto", "tree", "chain", "grid", "spring"):
        raise ValueError(f"layout must be 'auto', 'tree', 'chain', 'grid' or 'spring', got {layout!r}")
    G = tn.graph
    auto = layout == "auto" and tn.tree is None  # a model is drawn as its pooling tree
    if auto or layout == "chain":
        order = chain_order(G)
        if order is not None:
            return "chain", anchored_layout(G, {t: (k, 0.0) for k, t in enumerate(order)})
        if layout == "chain":
            raise ValueError("layout='chain' needs a network whose tensors form a path (an MPS)")
    if auto or layout == "grid":
        coords = grid_coordinates(G)
        if coords is not None:
            return "grid", anchored_layout(G, {t: (c, -r) for t, (r, c) in coords.items()}, leg=(0.28, -0.28))
        if layout == "grid":
            raise ValueError("layout='grid' needs a network whose tensors form a 2D grid (a PEPS)")
    if layout == "tree" or (layout == "auto" and nx.is_forest(G)):
        return "tree", tree_layout(G, root=_model_root(tn))
    return "spring", nx.spring_layout(G, seed=0)
