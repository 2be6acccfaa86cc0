"""The array calls of one pairwise step: its sums, its pair op, and running the pair op.

A step of a compiled path (:mod:`tnconv.contract.program`) is at most one sum per operand (indices no
later step reads) and one pair op: a ``matmul`` of the two operands permuted and reshaped to 2D or 3D
(shared summed indices), or a broadcast product (shared indices all kept). The ops are plain tuples, so
a program holds no closures and the same op runs on numpy or any array-API namespace
(:func:`pair_call`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["index_size", "pair_call", "pair_ops", "sum_op"]


def sum_op(ix: tuple, keep: set) -> tuple[tuple | None, tuple]:
    """``(("sum", axes) or None, remaining indices)``: sum out the indices of ``ix`` not in ``keep``."""
    drop = tuple(k for k, i in enumerate(ix) if i not in keep)
    if not drop:
        return None, ix
    return ("sum", drop), tuple(i for i in ix if i in keep)


def index_size(shape: dict, ix: Sequence) -> int:
    """The number of elements spanned by indices ``ix``.

    Parameters
    ----------
    shape : dict
        Maps every index to its size.
    ix : sequence of indices

    Returns
    -------
    int

    Examples
    --------
    >>> index_size({"i": 2, "j": 3, "k": 4}, ("i", "k"))
    8
    """
    p = 1
    for i in ix:
        p *= shape[i]
    return p


def pair_ops(ia: tuple, ib: tuple, keep: set, shape: dict) -> tuple[list, list, tuple, tuple]:
    """``(sums on a, sums on b, pair op, result indices)`` for contracting operands ``ia`` and ``ib``.

    Shared indices not in ``keep`` are summed (``tensordot``, or a batched ``matmul`` when other shared
    indices are kept); shared kept indices are batch axes. ``shape`` maps every index to its size.
    """
    oa, ia = sum_op(ia, keep | set(ib))
    ob, ib = sum_op(ib, keep | set(ia))
    pre_a = [oa] if oa else []
    pre_b = [ob] if ob else []
    sa, sb = set(ia), set(ib)
    batch = [i for i in ia if i in sb and i in keep]
    summed = [i for i in ia if i in sb and i not in keep]
    afree = [i for i in ia if i not in sb]
    bfree = [i for i in ib if i not in sa]
    perm_a = _perm(ia, batch + afree + summed)
    perm_b = _perm(ib, batch + summed + bfree)
    Pb, Pa = index_size(shape, batch), index_size(shape, afree)
    Pc, Pf = index_size(shape, summed), index_size(shape, bfree)
    rinds = tuple(batch + afree + bfree)
    out_shape = tuple(shape[i] for i in rinds)
    if not batch:  # tensordot, as one 2D matmul (np.tensordot's own bookkeeping costs ~50 us a call)
        return pre_a, pre_b, ("mm", perm_a, (Pa, Pc), perm_b, (Pc, Pf), out_shape), rinds
    if not summed:
        return pre_a, pre_b, ("outer", perm_a, (Pb, Pa, 1), perm_b, (Pb, 1, Pf), out_shape), rinds
    return pre_a, pre_b, ("mm", perm_a, (Pb, Pa, Pc), perm_b, (Pb, Pc, Pf), out_shape), rinds


def _perm(ix: tuple, order: list) -> tuple | None:
    perm = tuple(ix.index(i) for i in order)
    return None if perm == tuple(range(len(ix))) else perm


def pair_call(op: tuple, a: Any, b: Any, xp: Any) -> Any:
    """Run the pair op of :func:`pair_ops` on ``a`` and ``b`` (after their sums)."""
    kind, perm_a, sa, perm_b, sb, out_shape = op
    if xp is np:  # ndarray methods: no dispatch wrappers on the hot path
        at = (a if perm_a is None else a.transpose(perm_a)).reshape(sa)
        bt = (b if perm_b is None else b.transpose(perm_b)).reshape(sb)
        return (at * bt if kind == "outer" else at @ bt).reshape(out_shape)
    at = xp.reshape(a if perm_a is None else xp.permute_dims(a, perm_a), sa)
    bt = xp.reshape(b if perm_b is None else xp.permute_dims(b, perm_b), sb)
    r = at * bt if kind == "outer" else xp.matmul(at, bt)
    return xp.reshape(r, out_shape)
