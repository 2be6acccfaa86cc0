"""Dense tables of a tree model: grid tensors and coefficient tensors, in any array namespace.

Every node's activations on all template combinations of its inputs are built bottom-up; the axes of a
table follow the concatenated order of its children and are permuted once at the end. The root is
built in chunks of the first child's rows so that the pooled ``(rows x width)`` table never exists in
full, only the final tensor (and its chunks) do.

References
----------
.. [1] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162, Sec. 3 (grid tensors).
.. [2] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009 (coefficient tensors).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.arrays import is_numpy, namespace
from .._core.options import check_budget
from ..trees import format_node

__all__ = ["dense_table"]

#: Entries of one root chunk.
ROOT_CHUNK = 2**25


def _check_sizes(model: Any, T: int, what: str, max_bytes: float | None) -> None:
    tree, item, n = model.tree, model.dtype.itemsize, model.n_inputs
    check_budget(f"the {what} ({T}^{n} entries)", float(T) ** n * item * 2, max_bytes)
    for v in tree.internal_nodes:
        if v != tree.root:
            size = float(T) ** len(v) * max(model.in_width(v), model.widths[v]) * item * (len(tree.children(v)) + 1)
            check_budget(f"the intermediate table of node {format_node(v)} in the {what}", size, max_bytes)


def _combine(parts: list, width: int, first: slice, g: Any, xp: Any) -> Any:
    """Pool children tables into one broadcast table (rows of child ``i`` on axis ``i``)."""
    k = len(parts)
    arrays = []
    for i, (p, _) in enumerate(parts):
        if i == 0:
            p = p[first, ...]
        shape = [1] * k + [width]
        shape[i] = p.shape[0]
        arrays.append(xp.reshape(p, tuple(shape)))
    return g.fold(arrays) if k > 1 else arrays[0]


def _root(parts: list, W: Any, g: Any, xp: Any) -> Any:
    rows = [p.shape[0] for p, _ in parts]
    width = parts[0][0].shape[1]
    rest = math.prod(rows[1:])
    step = max(1, ROOT_CHUNK // max(1, rest * width))
    chunks = []
    for start in range(0, rows[0], step):
        x = _combine(parts, width, slice(start, min(start + step, rows[0])), g, xp)
        chunks.append(xp.reshape(xp.reshape(x, (-1, width)) @ W, (-1,)))
    return chunks[0] if len(chunks) == 1 else xp.concat(chunks)


def dense_table(model: Any, leaf_table: Any, weights: dict, output: int, what: str,
                max_bytes: float | None) -> Any:
    """The ``(T,) * n_inputs`` table of output ``output`` on every combination of leaf-table rows.

    Parameters
    ----------
    model : ConvNet
    leaf_table : array (T, M)
        The features of the templates (the identity for the coefficient tensor).
    weights : dict node -> array
        The model's weights in the namespace of ``leaf_table``.
    output : int
        A valid output channel.
    what : str
        Named in budget errors.
    max_bytes : float, optional

    Raises
    ------
    tnconv.TensorTooLargeError
        Before anything is built, when the table or an intermediate exceeds the budget.
    """
    xp = namespace(leaf_table)
    tree, g, root = model.tree, model.g, model.tree.root
    T = leaf_table.shape[0]
    _check_sizes(model, T, what, max_bytes)
    tables: dict[frozenset, tuple[Any, list[int]]] = {}
    for v in tree.nodes:
        W = weights[v] if v != root else weights[v][:, output : output + 1]
        if tree.is_leaf(v):
            tables[v] = (leaf_table @ W, [next(iter(v))])
            continue
        parts = [tables.pop(c) for c in tree.children(v)]
        order = [m for _, modes in parts for m in modes]
        width = parts[0][0].shape[1]
        if v != root:
            x = _combine(parts, width, slice(None), g, xp)
            tables[v] = (xp.reshape(x, (-1, width)) @ W, order)
        else:
            tables[v] = (_root(parts, W, g, xp), order)
    flat, order = tables[root]
    if tree.is_leaf(root):
        flat = xp.reshape(flat, (-1,))
    dense = xp.reshape(flat, (T,) * model.n_inputs)
    perm = tuple(int(i) for i in np.argsort(order))
    out = xp.permute_dims(dense, perm) if perm != tuple(range(len(perm))) else dense
    return np.ascontiguousarray(out) if is_numpy(xp) else out
