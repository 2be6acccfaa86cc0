"""Weights stored as views of one buffer per group of same-shaped nodes (the engines' stacked GEMMs).

The forward engines run one stacked GEMM ``(n, batch, w_in) @ (n, w_in, w_out)`` per group of nodes of
one height, arity and weight shape. When the weights of such a group are consecutive views of one
C-contiguous buffer, in the group's order, the engines use the buffer itself: no ``np.stack`` per call,
and in-place edits of ``model.weights[v]`` are seen because they write into the buffer.

The group order is the tree's level order (:meth:`~tnconv.trees.ModeTree.levels`: post-order, filtered by
height), which for uniform trees is the left-to-right order the level engine uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["allocate_packed", "pack_groups", "pack_weights"]


def pack_groups(tree: Any, shape_of: Callable[[frozenset], tuple[int, int]]) -> list[tuple[tuple, tuple]]:
    """``[((height, arity, weight shape), nodes), ...]``, bottom-up, nodes in level order.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(4, 2, 3)
    >>> [(k, len(v)) for k, v in pack_groups(net.tree, net.weight_shape)]
    [((0, 0, (2, 3)), 4), ((1, 2, (3, 3)), 2), ((2, 2, (3, 1)), 1)]
    """
    out: list[tuple[tuple, tuple]] = []
    for h, level in enumerate(tree.levels()):
        by: dict[tuple, list] = {}
        for v in level:
            by.setdefault((h, len(tree.children(v)), tuple(shape_of(v))), []).append(v)
        out.extend((k, tuple(nodes)) for k, nodes in by.items())
    return out


def allocate_packed(tree: Any, shape_of: Callable[[frozenset], tuple[int, int]], dtype: Any) -> dict:
    """``{node: view}``: uninitialized weight matrices, one buffer per :func:`pack_groups` group."""
    views: dict = {}
    for (_, _, shape), nodes in pack_groups(tree, shape_of):
        buf = np.empty((len(nodes), *shape), dtype=dtype)
        for i, v in enumerate(nodes):
            views[v] = buf[i]
    return views


def pack_weights(tree: Any, weights: Mapping[frozenset, np.ndarray], dtype: Any) -> dict:
    """A copy of ``weights`` (numpy, validated shapes) packed as :func:`allocate_packed` views.

    Arrays shared between nodes (``shared=True`` models) are left as they are: one array per height.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(4, 2, 3, seed=0)
    >>> ws = pack_weights(net.tree, {v: w.copy() for v, w in net.weights.items()}, net.dtype)
    >>> leaves = net.tree.levels()[0]
    >>> ws[leaves[1]].base is ws[leaves[0]].base, bool(np.array_equal(ws[leaves[1]], net.weights[leaves[1]]))
    (True, True)
    """
    ids = [id(w) for w in weights.values()]
    if len(set(ids)) < len(ids):
        return dict(weights)
    views = allocate_packed(tree, lambda v: weights[v].shape, dtype)
    for v, w in weights.items():
        views[v][...] = w
    return views
