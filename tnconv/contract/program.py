"""A contraction path compiled once into a list of array calls (the pairwise executor's fast form).

Interpreting a path step by step costs index bookkeeping in Python (sets of kept indices, permutations,
shapes): about 90 us a step measured here, more than the arithmetic of a small network. A
:class:`Program` does that bookkeeping once per (operand indices, output, path, shapes) and keeps, per
step, only the calls to make: ``sum``, ``tensordot``, or ``permute_dims`` + ``reshape`` + ``matmul``.
Programs are cached (thread-safe, a small LRU keyed on the structure and the shapes), so a network
contracted again with the same shapes (a new batch of features of the same size) only runs the calls.

Operands are named by slots (static single assignment), not list positions, so a run does no list
deletions, and each intermediate is released once its last reader has run.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Program", "compile_path", "pair_call", "pair_ops", "run_program", "sum_op"]

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Program:
    """The compiled form of one path: ``steps`` of ``(slot_a, slot_b or -1, out slot, ops)``.

    ``largest`` is the largest step result in elements (``paths.path_cost``'s ``largest_intermediate``).
    """

    n_inputs: int
    steps: tuple
    final: tuple
    n_slots: int
    result: int
    largest: int


def sum_op(ix: tuple, keep: set) -> tuple[tuple | None, tuple]:
    """``(("sum", axes) or None, remaining indices)``: sum out the indices of ``ix`` not in ``keep``."""
    drop = tuple(k for k, i in enumerate(ix) if i not in keep)
    if not drop:
        return None, ix
    return ("sum", drop), tuple(i for i in ix if i in keep)


def _prod(shape: dict, ix: Sequence) -> int:
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
    Pb, Pa, Pc, Pf = _prod(shape, batch), _prod(shape, afree), _prod(shape, summed), _prod(shape, bfree)
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


def compile_path(inputs: Sequence[Sequence[Hashable]], output: Sequence[Hashable], path: Sequence[Sequence[int]],
                 shapes: Sequence[Sequence[int]]) -> Program:
    """Compile a linear-format ``path`` (validated) over operands of the given ``shapes`` (cached).

    Examples
    --------
    >>> prog = compile_path([("i", "j"), ("j", "k")], ("k", "i"), [(0, 1)], [(2, 3), (3, 4)])
    >>> len(prog.steps), prog.final
    (1, (None, (1, 0)))
    """
    key = (tuple(map(tuple, inputs)), tuple(output), tuple(map(tuple, path)), tuple(map(tuple, shapes)))
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    prog = _compile(*key)
    with _LOCK:
        _CACHE[key] = prog
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return prog


def _compile(inputs: tuple, output: tuple, path: tuple, shapes: tuple) -> Program:
    shape: dict = {}
    for ix, sh in zip(inputs, shapes):
        shape.update(zip(ix, sh))
    slots = list(range(len(inputs)))
    inds = [tuple(ix) for ix in inputs]
    count: Counter = Counter(i for ix in inds for i in ix)
    out = set(output)
    n_slots = len(inputs)
    steps: list[tuple] = []
    largest = 0
    for step in path:
        taken = [(slots[p], inds[p]) for p in step]
        for p in sorted(step, reverse=True):
            del slots[p]
            del inds[p]
        for _, ix in taken:
            count.subtract(ix)
        union = {i for _, ix in taken for i in ix}
        keep = {i for i in union if count[i] > 0 or i in out}
        s, ix = taken[0]
        if len(taken) == 1:
            op, ix = sum_op(ix, keep)
            steps.append((s, -1, n_slots, (op,) if op else ()))
            s, n_slots = n_slots, n_slots + 1
        for j in range(1, len(taken)):
            t, iy = taken[j]
            later = {i for _, iz in taken[j + 1 :] for i in iz}
            pre_a, pre_b, op, ix = pair_ops(ix, iy, keep | later, shape)
            steps.append((s, t, n_slots, (tuple(pre_a), tuple(pre_b), op)))
            s, n_slots = n_slots, n_slots + 1
        count.update(ix)
        largest = max(largest, _prod(shape, ix))
        slots.append(s)
        inds.append(ix)
    if len(slots) != 1:
        raise ValueError(f"the path leaves {len(slots)} operands; it must reduce them to one")
    op, ix = sum_op(inds[0], out)
    perm = tuple(ix.index(i) for i in output) if tuple(ix) != tuple(output) else None
    return Program(len(inputs), tuple(steps), (op, perm), n_slots, slots[0], largest)


def _apply(op: tuple, x: Any, xp: Any) -> Any:
    return xp.sum(x, axis=op[1])  # the only single-operand op: ("sum", axes)


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


def run_program(prog: Program, arrays: Sequence[Any], xp: Any) -> Any:
    """Run a compiled path on ``arrays`` in namespace ``xp`` (array API names: ``permute_dims``)."""
    if len(arrays) != prog.n_inputs:
        raise ValueError(f"the program takes {prog.n_inputs} operands, got {len(arrays)}")
    vals: list = list(arrays) + [None] * (prog.n_slots - prog.n_inputs)
    for a, b, dst, ops in prog.steps:
        x = vals[a]
        vals[a] = None  # every slot is read once: release it
        if b < 0:
            for op in ops:
                x = _apply(op, x, xp)
        else:
            y = vals[b]
            vals[b] = None
            pre_a, pre_b, op = ops
            for o in pre_a:
                x = _apply(o, x, xp)
            for o in pre_b:
                y = _apply(o, y, xp)
            x = pair_call(op, x, y, xp)
        vals[dst] = x
    x = vals[prog.result]
    op, perm = prog.final
    if op is not None:
        x = _apply(op, x, xp)
    return xp.permute_dims(x, perm) if perm is not None else x
