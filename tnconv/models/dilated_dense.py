"""Dense tensors of dilated and mixed ConvNets: grid tensors (any ``g``) and coefficient tensors.

Node values are tables over template combinations: the value of node ``v`` has shape
``(T,) * |v| + (w,)`` with its mode axes in ascending input order, so the two networks of a mixed net
line up. The tables live in the namespace of the templates.

References
----------
.. [1] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162 (grid tensors).
.. [2] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846 (mixed decompositions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core.arrays import is_numpy
from .._core.options import check_budget
from ..trees import format_node
from .dilated_eval import evaluate, swap_halves
from .log_values import pool_pair
from .operators import PoolingOperator

__all__ = ["TableOps", "check_dense_budget", "check_output", "dense_tensor"]


class TableOps:
    """The :func:`~tnconv.models.dilated_eval.evaluate` arithmetic on dense template tables."""

    def __init__(self, g: PoolingOperator, leaf_table: Any, output: int, xp: Any):
        self.g, self.leaf_table, self.output, self.xp = g, leaf_table, output, xp
        self.T = leaf_table.shape[0]

    def leaf(self, net: Any, leaf: frozenset) -> Any:
        return self.leaf_table @ net.weights_in(self.xp, self.leaf_table)[leaf]

    def combine(self, net: Any, node: frozenset, values: list[Any]) -> Any:
        xp, T = self.xp, self.T
        mats = net.node_matrices(node, self.output, xp, self.leaf_table)
        kids = net.tree.children(node)
        ys = [x @ W for x, W in zip(values, mats)]
        w = ys[0].shape[-1]
        out = pool_pair(self.g, xp, xp.reshape(ys[0], (-1, 1, w)), xp.reshape(ys[1], (1, -1, w)))
        order = sorted(kids[0]) + sorted(kids[1])
        out = xp.reshape(out, (T,) * len(order) + (w,))
        perm = tuple(int(a) for a in np.argsort(order)) + (len(order),)
        out = xp.permute_dims(out, perm)
        return np.ascontiguousarray(out) if is_numpy(xp) else out

    def swap(self, a: Any, b: Any, half: int) -> tuple[Any, Any]:
        return swap_halves(self.xp, a, b, half)


def check_output(output: Any, n_outputs: int) -> int:
    """``output`` as an int in ``0..n_outputs-1`` (bools refused).

    Examples
    --------
    >>> check_output(np.int64(1), 2)
    1
    """
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int in 0..{n_outputs - 1}, got {output!r}")
    if not 0 <= output < n_outputs:
        raise ValueError(f"output {output!r} out of range for n_outputs={n_outputs}")
    return int(output)


def check_dense_budget(nets: Sequence[Any], T: int, what: str, max_bytes: float | None) -> None:
    """Refuse a dense tensor, or an intermediate table, over the byte budget (naming it)."""
    net0 = nets[0]
    item = net0.dtype.itemsize
    n = net0.n_inputs
    check_budget(f"the {what} ({T}^{n} entries)", float(T) ** n * item * 3, max_bytes)
    for net in nets:
        for v in net.tree.internal_nodes:
            if v != net.tree.root:
                size = float(T) ** len(v) * net.width * item * 3
                check_budget(f"the intermediate table of node {format_node(v)} in the {what}", size, max_bytes)


def dense_tensor(nets: Sequence[Any], mixture: Sequence[frozenset], table: Any, output: int, what: str,
                 max_bytes: float | None, xp: Any) -> Any:
    """The sum over ``nets`` (mixed at ``mixture``) of their outputs on every template combination.

    ``table`` is ``(T, M)`` in ``xp`` (the identity gives the coefficient tensor); the result has shape
    ``(T,) * n_inputs``. ``output`` is checked by the caller.
    """
    check_dense_budget(nets, table.shape[0], what, max_bytes)
    roots = evaluate(nets, mixture, TableOps(nets[0].g, table, output, xp), nets[0].width // 2)
    out = roots[0]
    for r in roots[1:]:
        out = out + r
    out = out[..., 0]
    return np.ascontiguousarray(out) if is_numpy(xp) else out
