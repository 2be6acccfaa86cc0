"""The algorithms behind :class:`~tnconv.trees.ModeTree`'s constructors, and their input checks.

Each builder validates its arguments, refuses trees over the memory budget before building them
(:data:`BYTES_PER_NODE`, :data:`BYTES_PER_POSITION`) and returns the ``{node: children}`` mapping (or,
for nested tuples, post-order codes) that :class:`~tnconv.trees.ModeTree` stores. Nothing here imports
the tree class itself: this is the layer below it.

The builders of named shapes (flat, dilated, random) are here; the checks of nested tuples, codes and
children mappings and the tables built from them are in :mod:`tnconv.tree_codes`, the argument checks,
memory estimate and error-message text in :mod:`tnconv.tree_checks`. Both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .tree_checks import (
    BYTES_PER_NODE,
    BYTES_PER_POSITION,
    STRUCTURE_FLOOR_BYTES,
    check_bool,
    check_int,
    check_tree_size,
    format_node,
    short_repr,
)
from .tree_codes import (
    Kids,
    code_tables,
    codes_to_tables,
    nested_codes,
    paused_gc,
    post_order,
    validate_children,
    validate_codes,
)

__all__ = [
    "BYTES_PER_NODE",
    "BYTES_PER_POSITION",
    "STRUCTURE_FLOOR_BYTES",
    "check_bool",
    "check_int",
    "check_tree_size",
    "code_tables",
    "codes_to_tables",
    "dilated_children",
    "flat_children",
    "format_node",
    "nested_codes",
    "paused_gc",
    "post_order",
    "random_children",
    "short_repr",
    "validate_children",
    "validate_codes",
]

Children = Kids


def flat_children(n: int) -> Children:
    """One root over ``n`` leaves."""
    n = check_int(n, "n")
    if n < 2:
        raise ValueError(f"flat(n={n}): a mode tree needs at least two inputs")
    check_tree_size(f"ModeTree.flat(n={n})", n + 1, 2 * n)
    return {frozenset(range(n)): tuple(frozenset({i}) for i in range(n))}


def dilated_children(n_layers: int, dilations: Sequence[int] | None) -> Children:
    """The receptive fields of a size-2 dilated convolution stack at its last time point."""
    n_layers = check_int(n_layers, "n_layers")
    if n_layers < 1:
        raise ValueError(f"dilated(n_layers={n_layers}): need at least one layer")
    if n_layers > 62:
        raise ValueError(f"dilated(n_layers={n_layers}): 2**{n_layers} inputs is far too many")
    check_tree_size(f"ModeTree.dilated(n_layers={n_layers})", 2.0 ** (n_layers + 1),
                     2.0**n_layers * (n_layers + 1))
    if dilations is None:
        dilations = [2**l for l in range(n_layers)]
    if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
        raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
    dilations = [check_int(d, "each dilation") for d in dilations]
    if len(dilations) != n_layers:
        raise ValueError(f"dilations {dilations} must have one entry per layer ({n_layers})")
    n = 2**n_layers
    if sorted(dilations) != [2**l for l in range(n_layers)]:
        raise ValueError(
            f"dilations {dilations} must be a permutation of {[2**l for l in range(n_layers)]} "
            f"to tile {n} inputs"
        )
    children: Children = {}

    def cover(layer: int, t: int) -> frozenset:
        if layer < 0:
            return frozenset({t})
        a, b = cover(layer - 1, t - dilations[layer]), cover(layer - 1, t)
        node = a | b
        children[node] = (a, b)
        return node

    cover(n_layers - 1, n - 1)
    return children


def random_children(n: int, arity: tuple[int, int], seed: int | np.random.Generator | None,
                    shuffle: bool) -> Children:
    """Random windows of ``arity[0]..arity[1]`` items over ``n`` inputs (shuffled unless ``shuffle=False``)."""
    n = check_int(n, "n")
    if not isinstance(arity, (tuple, list)) or len(arity) != 2:
        raise TypeError(f"arity must be a pair (min, max) of ints, got {arity!r}")
    lo, hi = (check_int(a, "arity") for a in arity)
    shuffle = check_bool(shuffle, "shuffle")
    if n < 2 or lo < 2 or hi < lo:
        raise ValueError(f"random(n={n}, arity={arity}): need n >= 2 and 2 <= arity[0] <= arity[1]")
    # A random tree's depth is not known in advance: check the nodes now, the positions as they grow.
    check_tree_size(f"ModeTree.random(n={n})", 2 * n, 2 * n)
    rng = np.random.default_rng(seed)
    items = [frozenset({int(i)}) for i in (rng.permutation(n) if shuffle else range(n))]
    children: Children = {}
    n_positions = n
    while len(items) > 1:
        k = int(rng.integers(lo, hi + 1))
        k = min(k, len(items))
        if len(items) - k == 1 and k > 2:  # avoid leaving a single item that cannot be joined later
            k -= 1
        start = int(rng.integers(0, len(items) - k + 1))
        group = items[start : start + k]
        n_positions += sum(len(g) for g in group)
        if n_positions > 64 * n:  # cheap to skip for the usual shallow trees
            check_tree_size(f"ModeTree.random(n={n})", 2 * n, n_positions)
        node = frozenset().union(*group)
        children[node] = tuple(group)
        items[start : start + k] = [node]
    return children
