"""A contraction path compiled once into a list of array calls (the pairwise executor's fast form).

Interpreting a path step by step costs index bookkeeping in Python (sets of kept indices, permutations,
shapes): about 90 us a step measured here, more than the arithmetic of a small network. A
:class:`Program` does that bookkeeping once per (operand indices, output, path, shapes) and keeps, per
call, only the array calls to make: ``sum``, or ``permute_dims`` + ``reshape`` + ``matmul`` (or a
broadcast product). Programs are cached (thread-safe, a small LRU keyed on the structure and the shapes),
so a network contracted again with the same shapes (a new batch of features) only runs the calls.

The path fixes which pairs are contracted, not when. Its steps form a tree (every operand is read
once), and the program picks one of two schedules of that tree:

* batched: steps of the same height in the tree and the same shapes and permutations (the sibling
  windows of one level of a uniform mode tree) run as one call over a stacked leading axis. Operands
  that are rows of one earlier stacked result in a regular order are taken as a strided view, others
  are stacked (a copy). This keeps a whole level live, so it is used only while the schedule's peak
  stays under :data:`BATCH_ELEMENTS` (small networks, where the per-call overhead is the cost).
* depth-first: one call per step, each subtree finished before the next starts, the children of a
  step in the order that lowers the peak (Sethi-Ullman order [1]_). A balanced tree then keeps about
  one intermediate per level live instead of a whole level. Subtrees of small steps (results of at
  most :data:`SMALL_STEP` elements) whose results fit in half of :data:`BATCH_ELEMENTS` still run
  batched, one subtree at a time (1.6-1.9x faster for deep(256 and 1024, 8, 16) at batch 64; no gain
  measured from 4096-element steps up).

Either way each intermediate is released as soon as its last reader has run, and the peak of live
intermediates (:attr:`Program.peak`, elements, the calls' transient copies and results included) is
known before anything runs, so a caller can refuse an over-budget program first
(:func:`tnconv.contract.generic.contract_network` does).

References
----------
.. [1] R. Sethi, J. D. Ullman, "The generation of optimal code for arithmetic expressions",
   J. ACM 17(4), 715-728 (1970).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import device_of
from .._core.threads import blas_threads

__all__ = ["BATCH_ELEMENTS", "SMALL_STEP", "THREAD_FLOPS", "UNITS", "Program", "compile_path", "pair_call", "pair_ops",
           "run_program", "sum_op"]

#: The batched schedule is used while its peak of live intermediates stays at or under this many
#: elements (1 MiB of float64); past it the depth-first schedule, which keeps far fewer live, runs.
BATCH_ELEMENTS = 2**17

#: Past :data:`BATCH_ELEMENTS`, subtrees of steps whose results have at most this many elements each
#: still run batched, one such subtree at a time, inside the depth-first walk.
SMALL_STEP = 2048
#: Whether the depth-first schedule batches such subtrees.
UNITS = True

#: Programs of at least this many flops run with one BLAS thread: OpenBLAS's threads on the small GEMMs
#: of a path made a (64, 64) @ (64, 256) product 5-20x slower on the shared 2-core test machine, and
#: limiting the threads costs about 65 us a call, so small programs are left alone.
THREAD_FLOPS = 10**7

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Program:
    """The compiled form of one path.

    Attributes
    ----------
    n_inputs : int
    steps : tuple
        The pairwise steps in path order, ``(slot_a, slot_b or -1, out slot, ops)`` (slots are static
        single assignment names: inputs first, then each step's result).
    final : tuple
        ``(sum op or None, permutation or None)`` applied to the last result.
    n_slots, result : int
        Number of slots and the slot of the last result.
    largest : int
        The largest step result in elements (``paths.path_cost``'s ``largest_intermediate``).
    calls : tuple
        The run form: ``(fetch a, fetch b or None, pre a, pre b, pair op or None, values to free)``,
        each call writing the next value id (inputs are values ``0 .. n_inputs - 1``, then one value per
        input group).
    result_fetch : Any
        Where the last result lies among the values.
    peak : int
        Peak of live intermediates while the calls run, in elements (inputs not counted, the result and
        the calls' transient copies counted).
    largest_value : int
        The largest single value the calls hold, in elements (a stacked result of a batched call counts
        whole).
    batched : bool
        Whether the batched schedule was chosen for the whole path (else depth-first, where subtrees of
        small steps may still run batched one at a time: ``len(calls) < len(steps)``).
    flops : int
        Multiply-adds and products of all steps (one per element operation).
    groups : tuple
        The input groups (``(start, count)``) the program reads as stacked arrays.
    """

    n_inputs: int
    steps: tuple
    final: tuple
    n_slots: int
    result: int
    largest: int
    calls: tuple = ()
    result_fetch: Any = None
    peak: int = 0
    largest_value: int = 0
    batched: bool = False
    flops: int = 0
    groups: tuple = ()

    def peak_bytes(self, itemsize: int) -> int:
        """:attr:`peak` in bytes for elements of ``itemsize`` bytes."""
        return self.peak * int(itemsize)


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
                 shapes: Sequence[Sequence[int]], groups: Sequence[tuple[int, int]] = ()) -> Program:
    """Compile a linear-format ``path`` (validated) over operands of the given ``shapes`` (cached).

    Parameters
    ----------
    inputs : sequence of index tuples
    output : sequence of indices
    path : sequence of tuples of int
        opt_einsum's linear format; k-ary steps are folded pairwise.
    shapes : sequence of shapes, one per input
    groups : sequence of ``(start, count)``, optional
        Runs of inputs that the caller passes stacked, as one array per run (``stacked`` of
        :func:`run_program`) whose row ``r`` is input ``start + r``: batched calls then take their rows
        as views instead of stacking them again (the features of ``tn.contract(F)`` are such a run).

    Returns
    -------
    Program

    Raises
    ------
    ValueError
        If the path does not reduce the operands to one, or a group is out of range or overlaps another.

    Examples
    --------
    >>> prog = compile_path([("i", "j"), ("j", "k")], ("k", "i"), [(0, 1)], [(2, 3), (3, 4)])
    >>> len(prog.steps), prog.final, prog.peak
    (1, (None, (1, 0)), 8)

    Four same-shaped products of a (2, 3) matrix with a vector, then their pairwise products, run as two
    batched calls and one last product:

    >>> ins = [("a", "i"), ("b", "i"), ("c", "i"), ("d", "i"), ("a",), ("b",), ("c",), ("d",)]
    >>> path = [(0, 4), (0, 3), (0, 2), (0, 1), (0, 1), (0, 1), (0, 1)]
    >>> prog = compile_path(ins, ("i",), path, [(2, 3)] * 4 + [(2,)] * 4)
    >>> prog.batched, len(prog.steps), len(prog.calls)
    (True, 7, 3)
    """
    key = (tuple(map(tuple, inputs)), tuple(output), tuple(map(tuple, path)), tuple(map(tuple, shapes)),
           tuple((int(a), int(n)) for a, n in groups))
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


def _compile(inputs: tuple, output: tuple, path: tuple, shapes: tuple, groups: tuple) -> Program:
    seen: set = set()
    for a, n in groups:
        span = set(range(a, a + n))
        if n < 1 or a < 0 or a + n > len(inputs) or span & seen:
            raise ValueError(f"input group (start={a}, count={n}) is out of range 0..{len(inputs) - 1} or overlaps "
                             "another group")
        seen |= span
    shape: dict = {}
    for ix, sh in zip(inputs, shapes):
        shape.update(zip(ix, sh))
    slots = list(range(len(inputs)))
    inds = [tuple(ix) for ix in inputs]
    count: Counter = Counter(i for ix in inds for i in ix)
    out = set(output)
    n_slots = len(inputs)
    steps: list[tuple] = []
    slot_shape: list[tuple] = [tuple(sh) for sh in shapes]
    flops = 0
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
            slot_shape.append(tuple(shape[i] for i in ix))
            flops += _prod(shape, taken[0][1])
            s, n_slots = n_slots, n_slots + 1
        for j in range(1, len(taken)):
            t, iy = taken[j]
            later = {i for _, iz in taken[j + 1 :] for i in iz}
            flops += _prod(shape, list(set(ix) | set(iy)))
            pre_a, pre_b, op, ix = pair_ops(ix, iy, keep | later, shape)
            steps.append((s, t, n_slots, (tuple(pre_a), tuple(pre_b), op)))
            slot_shape.append(tuple(shape[i] for i in ix))
            s, n_slots = n_slots, n_slots + 1
        count.update(ix)
        largest = max(largest, _prod(shape, ix))
        slots.append(s)
        inds.append(ix)
    if len(slots) != 1:
        raise ValueError(f"the path leaves {len(slots)} operands; it must reduce them to one")
    op, ix = sum_op(inds[0], out)
    perm = tuple(ix.index(i) for i in output) if tuple(ix) != tuple(output) else None
    final = (op, perm)
    n_in = len(inputs)
    steps_t = tuple(steps)
    waves = _waves(steps_t, n_in, slot_shape)
    # a level's results are all live in the batched schedule: skip lowering it when they alone are too many
    if len(waves) < len(steps_t) and max(sum(_size(slot_shape[steps_t[k][2]]) for k in g)
                                         for g in waves) <= BATCH_ELEMENTS:
        batched = _lower(steps_t, n_in, slot_shape, waves, slots[0], final, groups)
    else:
        batched = ((), None, BATCH_ELEMENTS + 1, 0)
    if batched[2] <= BATCH_ELEMENTS:
        calls, fetch, peak, big = batched
        is_batched = True
    else:
        calls, fetch, peak, big = _lower(steps_t, n_in, slot_shape,
                                         _depth_first(steps_t, n_in, slot_shape, units=UNITS),
                                         slots[0], final, groups)
        is_batched = False
    return Program(n_in, steps_t, final, n_slots, slots[0], largest, calls, fetch, peak, big, is_batched, flops,
                   groups)


# ---------------------------------------------------------------------- schedules
def _size(sh: Sequence[int]) -> int:
    p = 1
    for d in sh:
        p *= d
    return p


def _copies(shape: tuple, perm: tuple | None, new_shape: tuple) -> bool:
    """Whether reshaping the ``perm``-transpose of a C-contiguous ``shape`` to ``new_shape`` copies."""
    if perm is None:
        return False
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    axes = [(shape[p], strides[p]) for p in perm if shape[p] != 1]
    k = 0
    for d in new_shape:
        if d == 1:
            continue
        if k >= len(axes):  # zero-size shapes: nothing to copy, but say so without guessing
            return True
        group = [axes[k]]
        prod = axes[k][0]
        k += 1
        while prod < d and k < len(axes):
            group.append(axes[k])
            prod *= axes[k][0]
            k += 1
        if prod != d:
            return True
        if any(group[j][1] != group[j + 1][1] * group[j + 1][0] for j in range(len(group) - 1)):
            return True
    return False


def _producers(steps: tuple, n_in: int) -> list[list[int]]:
    """For each step, the steps that produce its operands (inputs are no step)."""
    return [[a - n_in for a in (s[0], s[1]) if a >= n_in] for s in steps]


def _step_transient(step: tuple, slot_shape: list, n_in: int) -> int:
    """Elements a step allocates while it runs: its sums, permuted copies and result."""
    a, b, dst, ops = step
    res = _size(slot_shape[dst])
    if b < 0:
        return res
    pre_a, pre_b, op = ops
    extra = 0
    for pre, src, perm, to in ((pre_a, a, op[1], op[2]), (pre_b, b, op[3], op[4])):
        sh = slot_shape[src]
        if pre:
            sh = tuple(d for k, d in enumerate(sh) if k not in pre[0][1])
            extra += _size(sh)
        if _copies(sh, perm, to):
            extra += _size(sh)
    return extra + res


def _depth_first(steps: tuple, n_in: int, slot_shape: list, units: bool = False) -> list[list[int]]:
    """One group per step, subtrees one after the other, children in the order of least peak.

    With ``units``, a subtree of small steps whose results all fit in :data:`BATCH_ELEMENTS` / 2 runs
    batched as a unit (its levels' same-shaped steps as one call each) where the walk reaches it.
    """
    kids = _producers(steps, n_in)
    res = [_size(slot_shape[s[2]]) for s in steps]
    peak = [0] * len(steps)
    total = [0] * len(steps)  # results of the whole subtree
    big = [0] * len(steps)  # its largest step result
    order: list[list[int]] = [[] for _ in steps]
    for k in range(len(steps)):  # producers come before their readers in a path
        total[k] = res[k] + sum(total[c] for c in kids[k])
        big[k] = max([res[k]] + [big[c] for c in kids[k]])
        ks = kids[k]
        if len(ks) == 2 and peak[ks[1]] - res[ks[1]] > peak[ks[0]] - res[ks[0]]:
            ks = [ks[1], ks[0]]
        run = held = 0
        for c in ks:
            run = max(run, held + peak[c])
            held += res[c]
        peak[k] = max(run, held + _step_transient(steps[k], slot_shape, n_in))
        order[k] = ks
    out: list[list[int]] = []
    todo = [(len(steps) - 1, False)] if steps else []
    while todo:
        k, expanded = todo.pop()
        if expanded:
            out.append([k])
            continue
        if units and kids[k] and 2 * total[k] <= BATCH_ELEMENTS and big[k] <= SMALL_STEP:
            sub, stack = [], [k]
            while stack:
                v = stack.pop()
                sub.append(v)
                stack.extend(kids[v])
            out.extend(_waves(steps, n_in, slot_shape, sorted(sub)))
            continue
        todo.append((k, True))
        todo.extend((c, False) for c in reversed(order[k]))
    return out


def _signature(step: tuple, slot_shape: list) -> tuple:
    # the operands' shapes too: sums before a pair op can bring different shapes to the same op
    return (step[1] < 0, step[3], slot_shape[step[0]], slot_shape[step[1]] if step[1] >= 0 else None)


def _waves(steps: tuple, n_in: int, slot_shape: list, subset: list[int] | None = None) -> list[list[int]]:
    """Groups of steps with the same height in the tree, operand shapes and ops, lowest height first.

    ``subset``: only these steps (in increasing order, closed under producers: a subtree).
    """
    kids = _producers(steps, n_in)
    height: dict[int, int] = {}
    groups: dict = {}
    for k in range(len(steps)) if subset is None else subset:
        height[k] = 1 + max((height[c] for c in kids[k]), default=0)
        groups.setdefault((height[k], _signature(steps[k], slot_shape)), []).append(k)
    waves = [groups[key] for key in sorted(groups, key=lambda key: (key[0], groups[key][0]))]
    return _order_rows(waves, steps, n_in)


def _order_rows(waves: list[list[int]], steps: tuple, n_in: int) -> list[list[int]]:
    """Reorder each group's rows so that its readers take them as contiguous blocks.

    A reader group takes its left operands, then its right ones; rows laid out in that order are two
    contiguous slices of the stacked result. Strided slices would be views too, but numpy's ufuncs
    copy strided operands whole (measured: a product of two ``S[0::2]``, ``S[1::2]`` halves traced
    three times its result).
    """
    group_of = {k: g for g, ks in enumerate(waves) for k in ks}
    wanted: list[list[int]] = [[] for _ in waves]
    for g in range(len(waves) - 1, -1, -1):  # readers sit in later groups than the steps they read
        taken = set(wanted[g])
        rows = wanted[g] + [k for k in waves[g] if k not in taken]
        waves[g] = rows
        for side in (0, 1):
            for k in rows:
                src = steps[k][side]
                if src >= n_in:
                    wanted[group_of[src - n_in]].append(src - n_in)
    return waves


def _shift_sums(pre: tuple) -> tuple:
    """``pre`` sums with a leading stacked axis added."""
    return tuple(("sum", tuple(a + 1 for a in o[1])) for o in pre)


def _stack_op(op: tuple, K: int) -> tuple:
    kind, perm_a, sa, perm_b, sb, out_shape = op

    def sh(p: tuple | None) -> tuple | None:
        return None if p is None else (0,) + tuple(a + 1 for a in p)

    return (kind, sh(perm_a), (K,) + sa, sh(perm_b), (K,) + sb, (K,) + out_shape)


def _lower(steps: tuple, n_in: int, slot_shape: list, groups: list[list[int]], result: int,
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
        copied = len(slots) * _size(slot_shape[slots[0]])
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
        tr = copied + sum(_step_transient(steps[k], slot_shape, n_in) for k in group)
        if K > 1:
            pre_a, pre_b = _shift_sums(pre_a), _shift_sums(pre_b)
            op = _stack_op(op, K) if op is not None else None
        vid = len(value_size)
        for r, k in enumerate(group):
            loc[steps[k][2]] = (vid, None if K == 1 else r)
        size = sum(_size(slot_shape[steps[k][2]]) for k in group)
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
        live += _size([d for k, d in enumerate(sh) if k not in final[0][1]])
    peak = max(peak, live)
    out = tuple((fa, fb, pre_a, pre_b, op, tuple(frees[c])) for c, (fa, fb, pre_a, pre_b, op) in enumerate(calls))
    return out, (v_res if r_res is None else ("r", v_res, r_res)), peak, largest


# ---------------------------------------------------------------------- running
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


def _fetch(f: Any, vals: list, xp: Any) -> Any:
    if type(f) is int:
        return vals[f]
    tag = f[0]
    if tag == "r":  # the array API indexes all axes (a trailing ellipsis); numpy needs none
        return vals[f[1]][f[2]] if xp is np else vals[f[1]][f[2], ...]
    if tag == "s":
        return vals[f[1]][f[2] : f[3] : f[4]] if xp is np else vals[f[1]][f[2] : f[3] : f[4], ...]
    if tag == "t":
        x = vals[f[1]]
        return x[f[3]] if xp is np else xp.take(x, xp.asarray(f[2], device=device_of(x)), axis=0)
    if xp is np:  # np.array of a list of same-shaped arrays stacks them 3x faster than np.stack
        return np.array([vals[p] for p in f[1]] if f[2] else [_fetch(p, vals, xp) for p in f[1]])
    return xp.stack([_fetch(p, vals, xp) for p in f[1]], axis=0)


def run_program(prog: Program, arrays: Sequence[Any], xp: Any, stacked: Sequence[Any] = ()) -> Any:
    """Run a compiled path on ``arrays`` in namespace ``xp`` (array API names: ``permute_dims``).

    Parameters
    ----------
    prog : Program
    arrays : sequence of arrays, one per input of the program
        (``None`` at the positions of the program's input groups: those are not read)
    xp : namespace
    stacked : sequence of arrays, optional
        One per input group of the program, in order: group ``(start, count)``'s array has ``count``
        rows, row ``r`` being input ``start + r``.

    Returns
    -------
    array with axes in the program's output order

    Raises
    ------
    ValueError
        If the number of arrays differs from the program's inputs, or of stacked arrays from its groups.

    Examples
    --------
    >>> a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> prog = compile_path([("i", "j"), ("j", "k")], ("i", "k"), [(0, 1)], [a.shape, b.shape])
    >>> bool(np.array_equal(run_program(prog, [a, b], np), a @ b))
    True
    """
    if len(arrays) != prog.n_inputs:
        raise ValueError(f"the program takes {prog.n_inputs} operands, got {len(arrays)}")
    if len(stacked) != len(prog.groups):
        raise ValueError(f"the program has {len(prog.groups)} input groups, got {len(stacked)} stacked arrays")
    if xp is np and prog.flops >= THREAD_FLOPS:
        with blas_threads(1):
            return _run(prog, arrays, xp, stacked)
    return _run(prog, arrays, xp, stacked)


def _run(prog: Program, arrays: Sequence[Any], xp: Any, stacked: Sequence[Any]) -> Any:
    vals: list = [*arrays, *stacked]
    append = vals.append
    for fa, fb, pre_a, pre_b, op, free in prog.calls:
        x = vals[fa] if type(fa) is int else _fetch(fa, vals, xp)
        for o in pre_a:
            x = xp.sum(x, axis=o[1])
        if fb is not None:
            y = vals[fb] if type(fb) is int else _fetch(fb, vals, xp)
            for o in pre_b:
                y = xp.sum(y, axis=o[1])
            for v in free:  # every value is read by one call (all rows of a stacked one, by their last)
                vals[v] = None
            x = pair_call(op, x, y, xp)
            y = None
        else:
            for v in free:
                vals[v] = None
        append(x)
        x = None
    f = prog.result_fetch
    x = vals[f] if type(f) is int else _fetch(f, vals, xp)
    vals = []
    op, perm = prog.final
    if op is not None:
        x = _apply(op, x, xp)
    return xp.permute_dims(x, perm) if perm is not None else x
