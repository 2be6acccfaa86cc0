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
    """``(calls, result fetch, peak elements, largest value)`` of running ``groups`` in turn."""
    loc: dict[int, tuple[int, int | None]] = {s: (s, None) for s in range(n_in)}
    value_size: list[int] = [0] * (n_in + len(stacked))  # inputs belong to the caller
    rows: list[int] = [1] * n_in + [n for _, n in stacked]
    for g, (a, n) in enumerate(stacked):
        for r in range(n):
            loc[a + r] = (n_in + g, r)
    n_in += len(stacked)  # the stacked inputs are values too
    calls: list[list] = []
    reads: list[list[int]] = []  # per call, the values it reads

    def fetch(slots: list[int]) -> tuple[Any, list[int], int]:
        """(fetch, values read, elements copied)."""
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

    live = peak = largest = 0
    transient: list[int] = []
    for group in groups:
        K = len(group)
        first = steps[group[0]]
        fa, ra, ca = fetch([steps[k][0] for k in group])
        read = list(ra)
        copied = ca
        if first[1] >= 0:
            fb, rb, cb = fetch([steps[k][1] for k in group])
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
    # free each value after its last reader; the peak counts the values live across each call
    last: dict[int, int] = {}
    for c, read in enumerate(reads):
        for v in read:
            last[v] = c
    v_res, r_res = loc[result]
    frees: list[list[int]] = [[] for _ in calls]
    for v, c in last.items():
        if v != v_res:
            frees[c].append(v)
    for c in range(len(calls)):
        peak = max(peak, live + transient[c])
        live += value_size[n_in + c] - sum(value_size[v] for v in frees[c])
    if final[0] is not None:  # the final sum's result, next to the value it sums
        sh = slot_shape[result]
        live += n_elements([d for k, d in enumerate(sh) if k not in final[0][1]])
    peak = max(peak, live)
    out = tuple((fa, fb, pre_a, pre_b, op, tuple(frees[c])) for c, (fa, fb, pre_a, pre_b, op) in enumerate(calls))
    return out, (v_res if r_res is None else ("r", v_res, r_res)), peak, largest
