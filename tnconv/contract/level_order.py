"""The level order of a uniform mode tree: what the level engine (:mod:`tnconv.contract.levels`) runs.

A uniform tree has every leaf at one depth, one arity per level and, in a model on it, one weight
shape per level (balanced 1D, 2D grids, interleaved pooling). Its nodes of each height are ordered so
that siblings are adjacent: the children of the ``k``-th node of a level are the nodes
``k * a .. k * a + a - 1`` of the level below, so pooling a level is a reshape and a reduction over
groups of ``a`` consecutive nodes. The order of the leaves says where each leaf's features lie in the
input (:attr:`LevelPlan.leaf_order`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..trees import format_node

__all__ = ["LevelPlan", "level_plan"]


@dataclass(frozen=True)
class LevelPlan:
    """The level order of a uniform tree.

    Attributes
    ----------
    levels : list of tuple of frozenset
        ``levels[h]``: the nodes of height ``h``, ordered so that the children of the ``k``-th node of
        level ``h + 1`` are nodes ``k * a .. k * a + a - 1`` of level ``h``.
    arity : list of int
        ``arity[h]``: children per node of level ``h`` (0 at the leaves).
    leaf_order : numpy.ndarray
        Input position of each leaf in ``levels[0]``.
    contiguous : bool
        Whether ``leaf_order`` is ``0..N-1`` (features are then used without a gather).
    """

    levels: list
    arity: list
    leaf_order: np.ndarray
    contiguous: bool


def level_plan(model: Any) -> LevelPlan:
    """The :class:`LevelPlan` of ``model`` (cached on the model).

    Raises
    ------
    ValueError
        If the tree is not uniform or nodes of one level have different weight shapes (the message
        names the level and nodes); use ``engine="nodes"`` for such trees.

    Examples
    --------
    >>> import tnconv as tc
    >>> plan = level_plan(tc.deep(8, 2, 2, pooling="interleaved"))
    >>> plan.arity, plan.leaf_order.tolist(), plan.contiguous
    ([0, 2, 2, 2], [0, 4, 2, 6, 1, 5, 3, 7], False)
    """
    tree = model.tree
    cached = model.__dict__.get("_tnconv_level_plan")
    if cached is not None and cached[0] is tree and cached[1] == _shape_key(model):
        return cached[2]
    if not tree.is_uniform():
        raise ValueError(
            "engine='levels' needs a uniform tree (all leaves at one depth, one arity per level); this tree "
            "is not: use engine='nodes' or 'auto'"
        )
    top = [tree.root]
    order = [tuple(top)]
    arity = [len(tree.children(tree.root))]
    while not tree.is_leaf(top[0]):
        top = [c for v in top for c in tree.children(v)]
        order.append(tuple(top))
        arity.append(len(tree.children(top[0])) if not tree.is_leaf(top[0]) else 0)
    order.reverse()
    arity.reverse()
    for h, level in enumerate(order):
        shapes = {model.weight_shape(v) for v in level}
        if len(shapes) > 1:
            a, b = level[0], next(v for v in level if model.weight_shape(v) != model.weight_shape(level[0]))
            raise ValueError(
                f"engine='levels' needs one weight shape per level, but at height {h} node {format_node(a)} has "
                f"{model.weight_shape(a)} and node {format_node(b)} has {model.weight_shape(b)}; use engine='nodes'"
            )
    leaf_order = np.array([next(iter(v)) for v in order[0]], dtype=np.intp)
    plan = LevelPlan(order, arity, leaf_order, bool(np.array_equal(leaf_order, np.arange(len(leaf_order)))))
    model.__dict__["_tnconv_level_plan"] = (tree, _shape_key(model), plan)
    return plan


def _shape_key(model: Any) -> tuple:
    return (model.n_descriptors, model.n_outputs, tuple(sorted(set(model.widths.values()))))
