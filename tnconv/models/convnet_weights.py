"""Widths and weights of ConvNets: width specs, per-height sharing, random draws, validation.

A ConvNet over a mode tree has one matrix per node: ``(M, w_leaf)`` at a leaf, ``(w_children, w_node)``
at an internal node and ``(w_children, n_outputs)`` at the root. All children of a node have one width
(pooling is channel-wise). With shared weights, the nodes of one height hold one array, so the tree must
give them one shape. :class:`~tnconv.models.base.ConvNet` checks its arguments with these functions.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .._core.validate import real_array
from ..trees import ModeTree, format_node
from .checks import as_node, check_positive_int
from .packing import allocate_packed, pack_weights

__all__ = ["WidthSpec", "check_shareable", "checked_weights", "random_matrix", "random_weights", "resolve_widths",
           "widths_by_height"]

WidthSpec = int | Sequence[int] | Mapping[Any, int]
Shape = Callable[[frozenset], tuple[int, int]]


def resolve_widths(tree: ModeTree, widths: WidthSpec, n_outputs: int) -> dict[frozenset, int]:
    """``{node: width}`` for every node of ``tree`` (the root's is ``n_outputs``), from a width spec.

    Parameters
    ----------
    tree : ModeTree
    widths : int, sequence or mapping
        One int for all non-root nodes, one per height below the root (leaves first), or
        ``{node: width}`` for every non-root node.
    n_outputs : int
        The root's width.

    Returns
    -------
    dict[frozenset, int]

    Raises
    ------
    ValueError
        Widths for the root or for nodes not in the tree, missing nodes, a sequence of the wrong length,
        children of one node with different widths (naming them).
    TypeError
        A spec that is not an int, a sequence or a dict; widths that are not positive ints.

    Examples
    --------
    >>> w = resolve_widths(ModeTree.balanced(4), [2, 5], n_outputs=3)
    >>> w[frozenset({0})], w[frozenset({0, 1})], w[frozenset(range(4))]
    (2, 5, 3)
    """
    non_root = [v for v in tree.nodes if v != tree.root]
    out: dict[frozenset, int] = {}
    if isinstance(widths, np.ndarray):
        widths = widths.tolist()
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        out = {v: check_positive_int(widths, "width") for v in non_root}
    elif isinstance(widths, Mapping):
        given = {as_node(k, "widths"): v for k, v in widths.items()}
        unknown = list(given.keys() - set(non_root))  # one set, not one per key: linear time
        if unknown:
            what = "the root (its width is n_outputs)" if tree.root in unknown else "not non-root nodes"
            raise ValueError(f"widths given for {[format_node(k) for k in unknown]}: {what}")
        missing = [v for v in non_root if v not in given]
        if missing:
            raise ValueError(f"widths missing for nodes {[format_node(v) for v in missing[:5]]}")
        out = {v: check_positive_int(given[v], f"width of node {format_node(v)}") for v in non_root}
    elif isinstance(widths, Sequence) and not isinstance(widths, (str, bytes)):
        root_h = tree.height(tree.root)
        if len(widths) != root_h:
            raise ValueError(
                f"widths {list(widths)} has {len(widths)} entries; a per-height sequence needs one per "
                f"height below the root ({root_h} for this tree)"
            )
        checked = [check_positive_int(w, f"widths[{h}]") for h, w in enumerate(widths)]
        out = {v: checked[tree.height(v)] for v in non_root}
    else:
        raise TypeError(f"widths must be an int, a sequence or a dict, got {widths!r}")
    for v in tree.internal_nodes:
        ws = {out[c] for c in tree.children(v)}
        if len(ws) > 1:
            detail = ", ".join(f"{format_node(c)}: {out[c]}" for c in tree.children(v))
            raise ValueError(
                f"children of node {format_node(v)} have different widths ({detail}); product pooling is "
                "channel-wise, so all children of one window need the same width"
            )
    out[tree.root] = n_outputs
    return out


def widths_by_height(tree: ModeTree, widths: Mapping[frozenset, int]) -> list[int] | list[list[int]]:
    """The widths as given to ``deep``: one per height (leaves first), or per node where a height
    has several.

    Parameters
    ----------
    tree : ModeTree
    widths : mapping
        ``{node: width}`` of every non-root node (the root's entry is ignored).

    Returns
    -------
    list of int, or list of sorted lists of int

    Examples
    --------
    >>> tree = ModeTree.balanced(4)
    >>> widths_by_height(tree, resolve_widths(tree, [2, 5], n_outputs=1))
    [2, 5]
    """
    by: dict[int, list[int]] = {}
    for v in tree.nodes:
        if v != tree.root:
            by.setdefault(tree.height(v), []).append(widths[v])
    rows = [by[h] for h in sorted(by)]
    if all(len(set(r)) == 1 for r in rows):
        return [r[0] for r in rows]
    return [sorted(set(r)) for r in rows]


def check_shareable(tree: ModeTree, weight_shape: Shape) -> None:
    """Refuse ``shared=True`` when two nodes of one height need different weight shapes.

    Parameters
    ----------
    tree : ModeTree
    weight_shape : callable
        ``node -> (rows, columns)`` of its weight matrix.

    Raises
    ------
    ValueError
        Naming the height and two nodes whose shapes differ.

    Examples
    --------
    >>> check_shareable(ModeTree.balanced(4), lambda v: (2, 2))
    >>> check_shareable(ModeTree.balanced(4), lambda v: (min(v) + 1, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: shared=True needs one weight shape per height, but at height 0 node {1} has (2, 2) and node {0} ...
    """
    by_height: dict[int, tuple[tuple[int, int], frozenset]] = {}
    for v in tree.nodes:
        h, shape = tree.height(v), weight_shape(v)
        if h in by_height and by_height[h][0] != shape:
            other = by_height[h][1]
            raise ValueError(
                f"shared=True needs one weight shape per height, but at height {h} node {format_node(v)} "
                f"has {shape} and node {format_node(other)} has {by_height[h][0]}"
            )
        by_height.setdefault(h, (shape, v))


def random_weights(tree: ModeTree, weight_shape: Shape, shared: bool, rng: np.random.Generator, init: str,
                   dtype: np.dtype) -> dict[frozenset, np.ndarray]:
    """Random weights for every node, drawn in post-order (one draw per height when ``shared``).

    Parameters
    ----------
    tree : ModeTree
    weight_shape : callable
        ``node -> (rows, columns)``.
    shared : bool
        Nodes of one height get one array.
    rng : numpy Generator
    init : {"normal", "orthogonal"}
        Gaussian scaled by ``1/sqrt(fan_in)``, or random orthonormal columns (rows when wide).
    dtype : numpy dtype

    Returns
    -------
    dict[frozenset, numpy.ndarray]
        Unshared weights are views of one buffer per same-shaped level
        (:func:`~tnconv.models.packing.allocate_packed`).

    Examples
    --------
    >>> tree = ModeTree.balanced(4)
    >>> w = random_weights(tree, lambda v: (2, 2), False, np.random.default_rng(0), "orthogonal",
    ...                    np.dtype("float64"))
    >>> W = w[frozenset({0})]
    >>> bool(np.allclose(W.T @ W, np.eye(2)))
    True
    """
    weights: dict[frozenset, np.ndarray] = {}
    cache: dict[int, np.ndarray] = {}
    # Views of one buffer per same-shaped level: the engines' stacked GEMMs use it without a copy.
    packed = {} if shared else allocate_packed(tree, weight_shape, dtype)
    for v in tree.nodes:
        h = tree.height(v)
        if shared and h in cache:
            weights[v] = cache[h]
            continue
        w = random_matrix(rng, weight_shape(v), init)
        if v in packed:
            packed[v][...] = w
            w = packed[v]
        else:
            w = np.ascontiguousarray(w, dtype=dtype)
        weights[v] = w
        cache[h] = w
    return weights


def random_matrix(rng: np.random.Generator, shape: tuple[int, int], init: str) -> np.ndarray:
    """One float64 weight matrix of ``shape``: ``"orthogonal"`` (orthonormal columns or rows, the QR
    factor with a positive diagonal, so the draw is unique), else Gaussian with variance ``1 / shape[0]``.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (rows, columns)
    init : {"orthogonal", "normal"}

    Returns
    -------
    numpy.ndarray
        float64, ``shape``.

    Examples
    --------
    >>> w = random_matrix(np.random.default_rng(0), (4, 2), "orthogonal")
    >>> bool(np.allclose(w.T @ w, np.eye(2)))
    True
    >>> random_matrix(np.random.default_rng(0), (4, 2), "normal").shape
    (4, 2)
    """
    if init == "orthogonal":
        a = rng.standard_normal(shape if shape[0] >= shape[1] else shape[::-1])
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        return q if shape[0] >= shape[1] else q.T
    return rng.standard_normal(shape) / math.sqrt(shape[0])


def checked_weights(tree: ModeTree, weights: Mapping[Any, Any], weight_shape: Shape, shared: bool,
                    dtype: np.dtype) -> dict[frozenset, np.ndarray]:
    """``{node: matrix}`` checked against the tree (every node, shapes, finite reals), packed per level.

    Parameters
    ----------
    tree : ModeTree
    weights : mapping
        ``{node: matrix}`` for every node of ``tree``.
    weight_shape : callable
        ``node -> (rows, columns)``.
    shared : bool
        Weights must be equal within each level (one array is kept per level).
    dtype : numpy dtype

    Returns
    -------
    dict[frozenset, numpy.ndarray]

    Raises
    ------
    TypeError
        ``weights`` is not a mapping, a key is not a node, an array is not real.
    ValueError
        A missing node, a node not in the tree, a wrong shape, NaN or infinite entries, or (with
        ``shared``) weights that differ within a level.

    Examples
    --------
    >>> tree = ModeTree.flat(2)
    >>> w = checked_weights(tree, {n: np.ones((2, 1)) for n in tree.nodes}, lambda v: (2, 1), False,
    ...                     np.dtype("float32"))
    >>> w[tree.root].dtype
    dtype('float32')
    """
    if not isinstance(weights, Mapping):
        raise TypeError(f"weights must be a dict {{node: matrix}}, got {type(weights).__name__}")
    given = {as_node(k, "weights"): v for k, v in weights.items()}
    new: dict[frozenset, np.ndarray] = {}
    for v in tree.nodes:
        if v not in given:
            raise ValueError(f"weights missing for node {format_node(v)}")
        w = real_array(given[v], f"weights of node {format_node(v)}")
        if w.shape != weight_shape(v):
            raise ValueError(
                f"weights of node {format_node(v)} have shape {w.shape}, expected {weight_shape(v)}"
            )
        if not np.isfinite(w).all():
            raise ValueError(f"weights of node {format_node(v)} contain NaN or infinite values")
        new[v] = np.ascontiguousarray(w, dtype=dtype)
    extra = list(given.keys() - set(tree.nodes))  # one set, not one per key: linear time
    if extra:
        raise ValueError(f"weights given for nodes not in the tree: {[format_node(k) for k in extra[:5]]}")
    if shared:
        for level in tree.levels():
            first = new[level[0]]
            for v in level[1:]:
                if new[v] is not first and not np.array_equal(new[v], first):
                    raise ValueError(f"shared=True but node {format_node(v)} has weights unlike its level")
                new[v] = first
    return pack_weights(tree, new, dtype)
