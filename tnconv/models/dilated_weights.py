"""Weights of dilated ConvNets: shapes, random draws, validation, per-layer sharing, dilations.

A dilated net has one matrix per tree leaf ``(M, width)`` and, at every internal node, one matrix per
child ``(width, width)`` (``(width, n_outputs)`` at the root). With shared weights, all leaves share one
matrix and, at each height, the child that ends earlier in time gets one matrix and the later another.

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .._core.validate import real_array
from ..trees import ModeTree, format_node
from .convnet import check_positive_int, planned_init_bytes
from .convnet_weights import random_matrix

__all__ = [
    "check_dilations",
    "checked_weights",
    "earlier_first",
    "infer_dilations",
    "layer_kernels",
    "planned_weight_bytes",
    "random_weights",
    "weights_on",
]

Shapes = Callable[[frozenset], Any]


def planned_weight_bytes(tree: ModeTree, n_descriptors: int, width: int, n_outputs: int, shared: bool,
                         dtype: Any, init: str) -> float:
    """Peak bytes of drawing the random weights of a :class:`DilatedConvNet` (results and temporaries)."""
    shapes: list[tuple[int, int]] = []
    heights: set[int] = set()
    for v in tree.nodes:
        h = tree.height(v)
        if shared and h in heights:
            continue
        heights.add(h)
        if tree.is_leaf(v):
            shapes.append((n_descriptors, width))
        else:
            cols = n_outputs if v == tree.root else width
            shapes += [(width, cols)] * len(tree.children(v))
    return planned_init_bytes(shapes, dtype, init)


def infer_dilations(tree: ModeTree) -> tuple[int, ...] | None:
    """The dilations ``d`` with ``ModeTree.dilated(L, d) == tree``, or ``None`` if there are none.

    Examples
    --------
    >>> infer_dilations(ModeTree.dilated(3, [2, 1, 4])), infer_dilations(ModeTree.flat(3))
    ((2, 1, 4), None)
    """
    n = tree.n_inputs
    if n < 2 or n & (n - 1):
        return None
    n_layers = n.bit_length() - 1
    if tree.height(tree.root) != n_layers or any(len(tree.children(v)) != 2 for v in tree.internal_nodes):
        return None
    # Along the path of the last time point, the earlier child is the current one shifted back by d_l.
    dil: list[int] = []
    node = tree.root
    while not tree.is_leaf(node):
        a, b = tree.children(node)
        cur, early = (a, b) if n - 1 in a else (b, a)
        dil.append(max(cur) - max(early))
        node = cur
    dil.reverse()
    try:
        candidate = ModeTree.dilated(n_layers, dil)
    except ValueError:
        return None
    return tuple(dil) if candidate == tree else None


def check_dilations(tree: ModeTree, dilations: Any) -> tuple[int, ...] | None:
    """Given dilations checked against ``tree``, or the inferred ones when ``dilations`` is ``None``.

    Raises
    ------
    TypeError, ValueError
        Not a sequence of positive ints, the wrong count, or dilations that do not produce ``tree``.
    """
    if dilations is None:
        return infer_dilations(tree)
    if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
        raise TypeError(f"dilations must be a sequence of positive ints, got {dilations!r}")
    dil = tuple(check_positive_int(d, f"dilations[{k}]") for k, d in enumerate(dilations))
    n_layers = tree.height(tree.root)
    if len(dil) != n_layers:
        raise ValueError(f"dilations {list(dil)} has {len(dil)} entries; this tree has {n_layers} layers")
    if ModeTree.dilated(n_layers, dil) != tree:
        raise ValueError(f"dilations {list(dil)} do not produce this tree {tree!r}")
    return dil


def earlier_first(tree: ModeTree, node: frozenset) -> bool:
    """True when the first stored child of ``node`` ends earlier in time than the second."""
    a, b = tree.children(node)
    return max(a) < max(b)


def _random_matrix(rng: np.random.Generator, shape: tuple[int, int], init: str, dtype: Any) -> np.ndarray:
    return np.ascontiguousarray(random_matrix(rng, shape, init), dtype=dtype)


def random_weights(tree: ModeTree, shapes: Shapes, shared: bool, rng: np.random.Generator, init: str,
                   dtype: Any) -> dict[frozenset, Any]:
    """Random weights for every node (``shapes(node)`` as ``DilatedConvNet.weight_shapes``)."""
    weights: dict[frozenset, Any] = {}
    per_height: dict[int, tuple[np.ndarray, ...]] = {}
    for v in tree.nodes:
        shape = shapes(v)
        if tree.is_leaf(v):
            if shared and 0 in per_height:
                weights[v] = per_height[0][0]
            else:
                weights[v] = _random_matrix(rng, shape, init, dtype)
                per_height[0] = (weights[v],)
            continue
        h = tree.height(v)
        if shared:
            if h not in per_height:  # (earlier child, later child)
                per_height[h] = tuple(_random_matrix(rng, s, init, dtype) for s in shape)
            early, late = per_height[h]
            weights[v] = (early, late) if earlier_first(tree, v) else (late, early)
        else:
            weights[v] = tuple(_random_matrix(rng, s, init, dtype) for s in shape)
    return weights


def _checked_matrix(m: Any, shape: tuple[int, int], what: str, dtype: Any) -> np.ndarray:
    w = real_array(m, f"weights of {what}")
    if w.shape != shape:
        raise ValueError(f"weights of {what} have shape {w.shape}, expected {shape}")
    if not np.isfinite(w).all():
        raise ValueError(f"weights of {what} contain NaN or infinite values")
    return np.ascontiguousarray(w, dtype=dtype)


def _given_nodes(tree: ModeTree, weights: Mapping[Any, Any]) -> dict[frozenset, Any]:
    if not isinstance(weights, Mapping):
        raise TypeError(
            f"weights must be a dict {{node: matrix or tuple of matrices}}, got {type(weights).__name__}"
        )
    given: dict[frozenset, Any] = {}
    for k, v in weights.items():
        if isinstance(k, (str, bytes, int, np.integer)) or not isinstance(k, Iterable):
            raise TypeError(f"weights: {k!r} is not a node; a node is a set of input positions, e.g. {{0, 1}}")
        given[frozenset(k)] = v
    extra = [k for k in given if k not in set(tree.nodes)]
    if extra:
        raise ValueError(f"weights given for nodes not in the tree: {[format_node(k) for k in extra[:5]]}")
    return given


def checked_weights(tree: ModeTree, weights: Mapping[Any, Any], shapes: Shapes, shared: bool,
                    dtype: Any) -> dict[frozenset, Any]:
    """``weights`` validated for every node of ``tree`` and cast to ``dtype`` (see ``set_weights``)."""
    given = _given_nodes(tree, weights)
    new: dict[frozenset, Any] = {}
    for v in tree.nodes:
        if v not in given:
            raise ValueError(f"weights missing for node {format_node(v)}")
        shape = shapes(v)
        if tree.is_leaf(v):
            new[v] = _checked_matrix(given[v], shape, f"node {format_node(v)}", dtype)
            continue
        mats = given[v]
        if isinstance(mats, np.ndarray) or not isinstance(mats, (tuple, list)) or len(mats) != len(shape):
            raise ValueError(
                f"weights of internal node {format_node(v)} must be a tuple of {len(shape)} matrices "
                f"(one per child, in tree.children order), got {type(mats).__name__}"
            )
        new[v] = tuple(
            _checked_matrix(m, s, f"node {format_node(v)} (child {k})", dtype)
            for k, (m, s) in enumerate(zip(mats, shape))
        )
    if shared:
        res = layer_kernels(tree, new)
        if isinstance(res, str):
            raise ValueError(f"shared=True but {res} has weights unlike the rest of its layer")
    return new


def layer_kernels(
    tree: ModeTree, weights: Mapping[frozenset, Any]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | str:
    """``(leaf kernel, [(earlier, later) per height])`` if weights are shared per layer, else the
    first node that breaks the sharing (as text)."""
    leaf0 = weights[tree.leaves[0]]
    for leaf in tree.leaves[1:]:
        if not np.array_equal(weights[leaf], leaf0):
            return f"leaf {format_node(leaf)}"
    kernels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for v in tree.internal_nodes:
        a, b = weights[v]
        pair = (a, b) if earlier_first(tree, v) else (b, a)
        h = tree.height(v)
        if h not in kernels:
            kernels[h] = pair
        elif not (np.array_equal(pair[0], kernels[h][0]) and np.array_equal(pair[1], kernels[h][1])):
            return f"node {format_node(v)}"
    return leaf0, [kernels[h] for h in sorted(kernels)]


def weights_on(weights: Mapping[frozenset, Any], xp: Any, dev: Any) -> dict[frozenset, Any]:
    """A copy of ``weights`` (matrices or tuples of them) as arrays of ``xp`` on device ``dev``."""

    def move(a: Any) -> Any:
        return xp.asarray(a, device=dev)

    return {v: tuple(move(a) for a in w) if isinstance(w, tuple) else move(w) for v, w in weights.items()}
