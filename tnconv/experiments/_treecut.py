"""Min cut of a tree-shaped ConvAC network by dynamic programming (exact integer products).

The network of a ConvAC over a mode tree is itself a tree once every copy tensor is modelled as a
hyperedge (MATH.md §3), so the s-t minimum cut is a two-state dynamic programme over the mode tree:
for every node ``v`` and side ``s`` of its weight tensor, the cheapest cut of the subtree below it.
A hyperedge of dimension ``r`` is either cut (cost ``r``, its members free) or not (all members on one
side). Costs multiply, so the result is the exact integer product of the severed dimensions.

It serves the width-allocation search, which evaluates thousands of width profiles, where building a
flow network per profile would dominate. :func:`tnconv.min_cut` gives the same value for any network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..partitions import validate_partition
from ..trees import ModeTree

__all__ = ["tree_min_cut"]


def tree_min_cut(tree: ModeTree, n_descriptors: int, widths: Mapping[frozenset, int], part: Iterable[int]) -> int:
    """The min-cut bound of a ConvAC over ``tree`` for the partition ``(part, rest)``.

    Parameters
    ----------
    tree : ModeTree
    n_descriptors : int
        M, the dimension of every open leg.
    widths : mapping node -> int
        Output channels of every non-root node (all children of a node must agree).
    part : iterable of int
        The side ``I``.

    Returns
    -------
    int
        The product of the dimensions severed by a minimum cut.

    Raises
    ------
    ValueError
        An invalid partition, or children of one node with different widths.

    Examples
    --------
    >>> from tnconv.trees import ModeTree
    >>> t = ModeTree.balanced(8)
    >>> w = {v: 2 for v in t.nodes if v != t.root}
    >>> tree_min_cut(t, 2, w, [1, 3, 5, 7]), tree_min_cut(t, 2, w, [0, 1, 2, 3])
    (16, 2)

    References
    ----------
    .. [1] Levine, Yakira, Cohen, Shashua, ICLR 2018, arXiv:1704.01552 (the min-cut bound).
    """
    part = validate_partition(part, tree.n_inputs)
    M = int(n_descriptors)
    cost: dict[frozenset, tuple[int, int]] = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            inside = next(iter(v)) in part
            # side 1 = the side of I
            cost[v] = (M if inside else 1, 1 if inside else M)
            continue
        kids = tree.children(v)
        dims = {int(widths[c]) for c in kids}
        if len(dims) != 1:
            raise ValueError(f"children of node {sorted(v)} have different widths {sorted(dims)}")
        r = dims.pop()
        free = r
        same0 = same1 = 1
        for c in kids:
            c0, c1 = cost.pop(c)
            free *= min(c0, c1)
            same0 *= c0
            same1 *= c1
        cost[v] = (min(free, same0), min(free, same1))
    return min(cost[tree.root])
