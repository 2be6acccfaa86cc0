"""Hybrid trees of a mixed tensor decomposition: segments of two mode trees, cut at shared nodes.

The trees are taken as they come (anything with :class:`~tnconv.trees.ModeTree`'s navigation); the
hybrids are built with ``type(tree_a)``, so this module does not import the tree class.

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, "Boosting Dilated Convolutional Networks with Mixed Tensor
   Decompositions", ICLR 2018, arXiv:1703.06846.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .tree_builders import format_node

__all__ = ["hybrid_trees"]


def hybrid_trees(tree_a: Any, tree_b: Any, mixture_nodes: Iterable[Iterable[int]],
                 max_segments: int = 16) -> list[Any]:
    """The hybrid trees of a mixed decomposition.

    Each mixture node is internal to both trees. Cutting both trees at the mixture nodes splits them
    into segments; a hybrid takes each segment (the part of a tree between a mixture node and the
    mixture nodes below it, or the top segment under the root) from either ``tree_a`` or ``tree_b``.
    The root segment and each mixture node's segment are chosen independently, so there are
    ``2 ** (len(mixture_nodes) + 1)`` choices (duplicates removed).

    Parameters
    ----------
    tree_a, tree_b : ModeTree
        Trees over the same inputs.
    mixture_nodes : iterable of node
        Nodes internal to both trees (the root may be included; it is always a segment boundary).
    max_segments : int
        Refuse more than this many segments (``2**max_segments`` hybrids would be enumerated).

    Returns
    -------
    list of ModeTree
        Distinct hybrid trees; ``tree_a`` and ``tree_b`` are among them.

    Raises
    ------
    ValueError
        If the trees have different inputs or a mixture node is not internal to both.

    References
    ----------
    .. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 4.

    Examples
    --------
    >>> from tnconv.trees import ModeTree
    >>> a = ModeTree.dilated(3, [1, 2, 4]); b = ModeTree.dilated(3, [2, 1, 4])
    >>> len(hybrid_trees(a, b, [frozenset(range(4)), frozenset(range(4, 8))]))
    4
    """
    if tree_a.n_inputs != tree_b.n_inputs:
        raise ValueError(f"trees have {tree_a.n_inputs} and {tree_b.n_inputs} inputs")
    mix = [frozenset(m) for m in mixture_nodes]
    ia, ib = set(tree_a.internal_nodes), set(tree_b.internal_nodes)
    for m in mix:
        if m not in ia or m not in ib:
            raise ValueError(f"mixture node {format_node(m)} is not an internal node of both trees")
    boundaries = sorted(set(mix) | {tree_a.root}, key=len)
    if len(boundaries) > max_segments:
        raise ValueError(
            f"{len(mix)} mixture nodes give 2^{len(boundaries)} hybrid choices; pass at most "
            f"{max_segments - 1} mixture nodes or raise max_segments"
        )
    make = type(tree_a)
    results: dict[Any, None] = {}
    for mask in range(2 ** len(boundaries)):
        choice = {b: (tree_a if (mask >> k) & 1 == 0 else tree_b) for k, b in enumerate(boundaries)}
        children: dict[frozenset, list[frozenset]] = {}
        # Each node's children come from the tree chosen for the segment it lies in; a boundary node
        # starts a new segment. Iterative: trees may be deeper than the recursion limit.
        todo = [(tree_a.root, choice[tree_a.root])]
        while todo:
            node, src = todo.pop()
            if src.is_leaf(node):
                continue
            children[node] = list(src.children(node))
            todo.extend((c, choice.get(c, src)) for c in src.children(node))
        results[make(children)] = None
    return list(results)
