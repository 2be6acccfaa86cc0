"""Lowering scheduled steps to the calls a program runs: batched fetches, stacked ops, frees, the peak.

:func:`lower` takes the groups of steps of a schedule (:mod:`tnconv.contract.program_order`) and gives
each group one call. A group of ``K`` same-shaped steps becomes one call over a stacked leading axis:
its operands that are rows of one earlier stacked value in a regular order are fetched as a view (all
rows, or a strided slice), others are gathered or stacked (a copy, counted in the peak). Each value is
freed by the last call that reads it, and the peak of live values is counted call by call, the calls'
transient copies and results included (:attr:`tnconv.contract.program.Program.peak`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .program_order import n_elements, step_transient

__all__ = ["lower"]


def _shift_sums(pre: tuple) -> tuple:
    """``pre`` sums with a leading stacked axis added."""
    return tuple(("sum", tuple(a + 1 for a in o[1])) for o in pre)


def _stack_op(op: tuple, K: int) -> tuple:
    kind, perm_a, sa, perm_b, sb, out_shape = op

    def sh(p: tuple | None) -> tuple | None:
        return None if p is None else (0,) + tuple(a + 1 for a in p)

    return (kind, sh(perm_a), (K,) + sa, sh(perm_b), (K,) + sb, (K,) + out_shape)


def lower(steps: tuple, n_in: int, slot_shape: list, groups: list[list[int]], result: int,
          final: tuple, stacked: tuple = ()) -> tuple[tuple, Any, int, int]:
    """``(calls, result fetch, peak elements, largest value)`` of running ``groups`` in turn.

    Parameters
    ----------
    steps : tuple
        The steps of a compiled path (:attr:`tnconv.contract.program.Program.steps`).
    n_in : int
        Number of inputs (slots ``0 .. n_in - 1``).
    slot_shape : list of tuple
        The shape of every slot: the inputs', then each step's result.
    groups : list of list of int
        The schedule: groups of steps, one call each, in the order they run (:func:`waves` or
        :func:`depth_first` of :mod:`tnconv.contract.program_order`).
    result : int
        The slot of the last result.
    final : tuple
        ``(sum op or None, permutation or None)`` applied to the last result (its sum counts in the peak).
    stacked : tuple of ``(start, count)``, optional
        Input groups passed as one stacked array each (:func:`tnconv.contract.program.compile_path`).

    Returns
    -------
    tuple
        The calls (:attr:`~tnconv.contract.program.Program.calls`), where the result lies among the
        values, the peak of live values in elements, and the largest value in elements.

    Examples
    --------
    Lowering the waves of four matrix-vector products and their pairwise products gives the three
    calls and the peak of the batched program:

    >>> from tnconv.contract.program import compile_path
    >>> from tnconv.contract.program_order import waves
    >>> ins = [("a", "i"), ("b", "i"), ("c", "i"), ("d", "i"), ("a",), ("b",), ("c",), ("d",)]
    >>> shapes = [(2, 3)] * 4 + [(2,)] * 4
    >>> prog = compile_path(ins, ("i",), [(0, 4), (0, 3), (0, 2), (0, 1), (0, 1), (0, 1), (0, 1)], shapes)
    >>> slot_shape = shapes + [s[3][2][-1] for s in prog.steps]  # each pair op's output shape
    >>> calls, fetch, peak, largest = lower(prog.steps, 8, slot_shape, waves(prog.steps, 8, slot_shape),
    ...                                     prog.result, prog.final)
    >>> len(calls), peak, largest, (calls, peak) == (prog.calls, prog.peak)
    (3, 44, 12, True)
    """
    loc: dict[int, tuple[int, int | None]] = {s: (s, None) for s in range(n_in)}
    value_size: list[int] = [0] * (n_in + len(stacked))  # inputs belong to the caller
    rows: list[int] = [1] * n_in + [n for _, n in stacked]
    for g, (a, n) in enumerate(stacked):
        for r in range(n):
            loc[a + r] = (n_in + g, r)
    n_in += len(stacked)  # the stacked inputs are values too
    calls: list[list] = []
    reads: list[list[int]] = []  # per call, the values it reads
    largest = 0
    transient: list[int] = []
    for group in groups:
        K = len(group)
        first = steps[group[0]]
        fa, ra, ca = _fetch([steps[k][0] for k in group], loc, rows, slot_shape)
        read = list(ra)
        copied = ca
        if first[1] >= 0:
            fb, rb, cb = _fetch([steps[k][1] for k in group], loc, rows, slot_shape)
            read += rb
            copied += cb
            pre_a, pre_b, op = first[3]
        else:
            fb, pre_a, pre_b, op = None, first[3], (), None
        tr = copied + sum(step_transient(steps[k], slot_shape, n_in) for k in group)
        if K > 1:
            pre_a, pre_b = _shift_sums(pre_a), _shift_sums(pre_b)
            op = _stack_op(op, K) if op is not None else None
        vid = len(value_size)
        for r, k in enumerate(group):
            loc[steps[k][2]] = (vid, None if K == 1 else r)
        size = sum(n_elements(slot_shape[steps[k][2]]) for k in group)
        value_size.append(size)
        rows.append(K)
        largest = max(largest, size)
        calls.append([fa, fb, pre_a, pre_b, op])
        reads.append(read)
        transient.append(tr)
    v_res, r_res = loc[result]
    final_sum = 0
    if final[0] is not None:  # the final sum's result, next to the value it sums
        sh = slot_shape[result]
        final_sum = n_elements([d for k, d in enumerate(sh) if k not in final[0][1]])
    frees, peak = _frees_and_peak(reads, value_size, transient, n_in, v_res, final_sum)
    out = tuple((fa, fb, pre_a, pre_b, op, tuple(frees[c])) for c, (fa, fb, pre_a, pre_b, op) in enumerate(calls))
    return out, (v_res if r_res is None else ("r", v_res, r_res)), peak, largest


def _fetch(slots: list[int], loc: dict, rows: list[int], slot_shape: list) -> tuple[Any, list[int], int]:
    """(fetch, values read, elements copied) of the operands in ``slots``, one per row of a call.

    ``loc`` maps a slot to ``(value, row or None)``, ``rows`` gives the rows of each value.
    """
    where = [loc[s] for s in slots]
    vids = sorted({v for v, _ in where})
    if len(slots) == 1:
        v, r = where[0]
        return (v if r is None else ("r", v, r)), vids, 0
    copied = len(slots) * n_elements(slot_shape[slots[0]])
    if len(vids) == 1 and all(r is not None for _, r in where):
        v = vids[0]
        idx = [int(r) for _, r in where if r is not None]
        if idx == list(range(rows[v])):
            return v, vids, 0
        d = idx[1] - idx[0]
        if d > 0 and all(idx[j + 1] - idx[j] == d for j in range(len(idx) - 1)):
            return ("s", v, idx[0], idx[-1] + 1, d), vids, 0
        return ("t", v, tuple(idx), np.asarray(idx, dtype=np.intp)), vids, copied
    parts = tuple(v if r is None else ("r", v, r) for v, r in where)
    return ("k", parts, all(type(p) is int for p in parts)), vids, copied


def _frees_and_peak(reads: list[list[int]], value_size: list[int], transient: list[int], n_in: int, v_res: int,
                    final_sum: int) -> tuple[list[list[int]], int]:
    """The values each call frees (after their last reader) and the peak of live values across the calls.

    Value ``n_in + c`` is the result of call ``c``; ``final_sum`` is the final sum's result, counted
    next to the value it sums.
    """
    last: dict[int, int] = {}
    for c, read in enumerate(reads):
        for v in read:
            last[v] = c
    frees: list[list[int]] = [[] for _ in reads]
    for v, c in last.items():
        if v != v_res:
            frees[c].append(v)
    live = peak = 0
    for c in range(len(reads)):
        peak = max(peak, live + transient[c])
        live += value_size[n_in + c] - sum(value_size[v] for v in frees[c])
    live += final_sum
    return frees, max(peak, live)
