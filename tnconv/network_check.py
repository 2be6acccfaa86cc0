"""Checks of a tensor network's constructor arguments: dimensions, open legs, names, descriptions, tree.

Each function checks one argument of :class:`tnconv.network.TensorNetwork` against the tensors' index
labels and returns it in the form the network stores; the constructor calls them in turn. Every error
names the offending tensor, index or count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from ._core.validate import MAX_DIMENSION, check_dimension, check_labels
from .trees import ModeTree

__all__ = ["check_index_info", "check_names", "check_open_inds", "check_sizes", "check_tree"]


def check_sizes(arrays: Sequence[Any], inds: Sequence[tuple[Hashable, ...]],
                size_dict: Mapping[Any, int] | None) -> dict[Hashable, int]:
    """The dimension of every index, from ``size_dict`` and the arrays' shapes, checked for consistency.

    Parameters
    ----------
    arrays : sequence of arrays or None
        One entry per tensor (``None`` for a shape-only tensor).
    inds : sequence of tuples of hashable
        Index labels of each tensor.
    size_dict : dict, optional
        Dimensions given explicitly.

    Returns
    -------
    dict
        ``{index: dimension}`` for every index of ``inds`` (and any extra ones of ``size_dict``).

    Raises
    ------
    TypeError
        ``size_dict`` that is not a mapping; a dimension that is not an int.
    ValueError
        A tensor whose number of axes differs from its number of indices, an index with two
        dimensions, an index whose dimension is known nowhere.

    Examples
    --------
    >>> import numpy as np
    >>> check_sizes([np.ones((2, 3)), None], [("a", "b"), ("b", "c")], {"c": 4})
    {'c': 4, 'a': 2, 'b': 3}
    >>> check_sizes([None], [("a",)], None)
    Traceback (most recent call last):
    ...
    ValueError: no dimension known for indices ['a']; pass size_dict
    """
    if size_dict is not None and not isinstance(size_dict, Mapping):
        raise TypeError(f"size_dict must be a dict {{index: dimension}}, got {type(size_dict).__name__}")
    sizes: dict[Hashable, int] = {
        i: check_dimension(d, f"the dimension of index {i!r} in size_dict") for i, d in (size_dict or {}).items()
    }
    shapeless = False
    for k, (arr, ix) in enumerate(zip(arrays, inds)):
        if arr is None:
            shapeless = True
            continue
        shape = tuple(arr.shape)
        if len(shape) != len(ix):
            raise ValueError(f"tensor {k} has {len(shape)} axes (shape {shape}) but {len(ix)} indices {ix}")
        for i, d in zip(ix, shape):
            # Plain ints in range (every numpy shape) need no check: a call per axis was a third of the
            # constructor's time on networks of 10**4 tensors.
            if type(d) is not int or not 1 <= d <= MAX_DIMENSION:
                d = check_dimension(d, f"axis {i!r} of tensor {k}")
            if sizes.setdefault(i, d) != d:
                raise ValueError(f"index {i!r} has dimension {sizes[i]} elsewhere but {d} on tensor {k}")
    # Every index of a tensor with an array got its dimension above: only shape-only tensors can lack one.
    missing = [i for i in dict.fromkeys(i for ix in inds for i in ix) if i not in sizes] if shapeless else []
    if missing:
        raise ValueError(f"no dimension known for indices {[*missing[:5]]}; pass size_dict")
    return sizes


def check_open_inds(open_inds: Sequence[Hashable], inds: Sequence[tuple[Hashable, ...]]) -> tuple[Hashable, ...]:
    """The open indices as a tuple, each listed once and carried by some tensor.

    Parameters
    ----------
    open_inds : sequence of hashable
    inds : sequence of tuples of hashable
        Index labels of each tensor.

    Returns
    -------
    tuple of hashable

    Raises
    ------
    TypeError
        Labels that are not a sequence of hashables.
    ValueError
        An open index listed twice, or on no tensor.

    Examples
    --------
    >>> check_open_inds(["a", "c"], [("a", "b"), ("b", "c")])
    ('a', 'c')
    >>> check_open_inds(["a", "a"], [("a",)])
    Traceback (most recent call last):
    ...
    ValueError: open index 'a' is listed twice
    """
    labels = check_labels(open_inds, "open_inds")
    dup = [i for i, c in Counter(labels).items() if c > 1]
    if dup:
        raise ValueError(f"open index {dup[0]!r} is listed twice")
    carried = {i for ix in inds for i in ix}
    lost = [i for i in labels if i not in carried]
    if lost:
        raise ValueError(f"open indices {lost[:5]} are on no tensor")
    return labels


def check_names(names: Sequence[str] | None, n: int) -> list[str]:
    """One name per tensor: ``names`` as strings, or ``T0, T1, ...`` when omitted.

    Parameters
    ----------
    names : sequence of str, optional
    n : int
        The number of tensors.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        A string or a non-sequence.
    ValueError
        A count of names unlike ``n``.

    Examples
    --------
    >>> check_names(None, 2), check_names(["W", 3], 2)
    (['T0', 'T1'], ['W', '3'])
    """
    if names is None:
        return [f"T{k}" for k in range(n)]
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(f"names must be a sequence of {n} strings, got {names!r}")
    out = [str(x) for x in names]
    if len(out) != n:
        raise ValueError(f"{len(out)} names for {n} tensors")
    return out


def check_index_info(index_info: Mapping[Any, str] | None) -> dict[Any, str]:
    """``index_info`` as a new dict (empty when omitted).

    Parameters
    ----------
    index_info : dict, optional
        ``{index: description}``.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        Anything but a mapping or None.

    Examples
    --------
    >>> check_index_info({"c0,1": "copy tensor of window {0,1}"})
    {'c0,1': 'copy tensor of window {0,1}'}
    """
    if index_info is not None and not isinstance(index_info, Mapping):
        raise TypeError(f"index_info must be a dict {{index: description}}, got {type(index_info).__name__}")
    return dict(index_info or {})


def check_tree(tree: ModeTree | None, tensor_nodes: Sequence[frozenset] | None,
               n: int) -> tuple[ModeTree | None, list[frozenset] | None]:
    """The mode tree of a compiled network and the tree node of each of its ``n`` tensors.

    Parameters
    ----------
    tree : ModeTree, optional
    tensor_nodes : sequence of frozenset, optional
    n : int
        The number of tensors.

    Returns
    -------
    (tree, tensor_nodes)
        ``tensor_nodes`` as a list, or None.

    Raises
    ------
    TypeError
        A tree that is not a :class:`~tnconv.trees.ModeTree`.
    ValueError
        A count of tensor nodes unlike ``n``.

    Examples
    --------
    >>> check_tree(None, None, 3)
    (None, None)
    >>> check_tree(None, [frozenset({0})], 2)
    Traceback (most recent call last):
    ...
    ValueError: 1 tensor_nodes for 2 tensors
    """
    if tree is not None and not isinstance(tree, ModeTree):
        raise TypeError(f"tree must be a ModeTree or None, got {type(tree).__name__}")
    nodes = list(tensor_nodes) if tensor_nodes is not None else None
    if nodes is not None and len(nodes) != n:
        raise ValueError(f"{len(nodes)} tensor_nodes for {n} tensors")
    return tree, nodes
