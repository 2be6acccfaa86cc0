"""Stacked weights of node groups for the numpy engines, without a copy per call.

A group (the nodes of one level, or one (height, arity, shape) group of the generic executor) runs as
one stacked GEMM ``(n, batch, w_in) @ (n, w_in, w_out)``. Models keep their weights as views of one
buffer per group (:mod:`tnconv.models.packing`); :func:`group_weights` finds that buffer and returns a
``(n, w_in, w_out)`` view of it, so nothing is stacked and in-place edits of ``model.weights[v]`` are
seen. What it found is cached on the model, keyed on the identity of the weight arrays (the cache holds
them, so their ids cannot be reused): replacing ``model.weights[v]`` by another array invalidates it.
Groups whose arrays are not such views (weights given through ``with_parameters``, or edited into
separate arrays) come back as lists, which the engines stack per task, in cache, on every call: in-place
edits are then seen as well.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["group_weights", "packed_view"]

_LOCK = threading.Lock()
_ATTR = "_tnconv_group_weights"


def packed_view(arrays: Sequence[Any]) -> np.ndarray | None:
    """``(n, r, c)`` view of the buffer that holds ``arrays`` back to back, or ``None`` if none does.

    Examples
    --------
    >>> buf = np.arange(12.0).reshape(3, 2, 2)
    >>> packed_view([buf[0], buf[1], buf[2]]) is not None, packed_view([buf[1], buf[0]]) is None
    (True, True)
    """
    first = arrays[0]
    base = getattr(first, "base", None)
    if not isinstance(first, np.ndarray) or not isinstance(base, np.ndarray) or first.ndim != 2:
        return None
    if not (base.flags.c_contiguous and first.flags.c_contiguous):
        return None
    item, (r, c) = first.itemsize, first.shape
    start = first.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    step = r * c * item
    for k, w in enumerate(arrays):
        if (not isinstance(w, np.ndarray) or w.base is not base or w.shape != (r, c) or w.dtype != first.dtype
                or not w.flags.c_contiguous or w.__array_interface__["data"][0]
                != base.__array_interface__["data"][0] + start + k * step):
            return None
    if start % item:
        return None
    flat = base.reshape(-1)
    off = start // item
    view = flat[off: off + len(arrays) * r * c]
    return view.reshape(len(arrays), r, c)


def _resolve(arrays: list) -> Any:
    first = arrays[0]
    if all(w is first for w in arrays):
        return first  # one shared matrix: a single broadcast GEMM
    view = packed_view(arrays)
    return view if view is not None else list(arrays)


def group_weights(model: Any, groups: Sequence[Sequence[frozenset]], tag: str) -> list:
    """Per group: a ``(n, w_in, w_out)`` view, one shared 2D matrix, or the list of the group's arrays.

    Thread-safe; cached on ``model`` under ``tag`` while ``model.weights`` holds the same arrays.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> [getattr(w, "shape", None) for w in group_weights(net, net.tree.levels(), "doc")]
    [(8, 2, 3), (4, 3, 3), (2, 3, 3), (3, 1)]
    """
    ws = model.weights
    current = [[ws[v] for v in nodes] for nodes in groups]
    with _LOCK:
        hit = model.__dict__.get(_ATTR, {}).get(tag)
    if hit is not None and len(hit[0]) == len(current) and all(
        len(a) == len(b) and all(x is y for x, y in zip(a, b)) for a, b in zip(hit[0], current)
    ):
        return hit[1]
    out = [_resolve(arrays) for arrays in current]
    with _LOCK:
        model.__dict__.setdefault(_ATTR, {})[tag] = (current, out)
    return out
