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

This module holds the :class:`Program` type, its cache, compiling and running; the parts live beside
it: the array calls of one step in :mod:`tnconv.contract.program_ops`, the two schedules (waves,
depth-first order, a step's transient elements) in :mod:`tnconv.contract.program_order`, and their
lowering to calls with fetches, frees and the peak in :mod:`tnconv.contract.program_lower`.

References
----------
.. [1] R. Sethi, J. D. Ullman, "The generation of optimal code for arithmetic expressions",
   J. ACM 17(4), 715-728 (1970).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import device_of
from .._core.caches import LRUCache
from .._core.threads import blas_threads
from .program_lower import lower
from .program_ops import index_size, pair_call, pair_ops, sum_op
from .program_order import depth_first, n_elements, waves

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

_CACHE = LRUCache()
_CACHE_SIZE = 64


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
    return _CACHE.get_or_build(key, lambda: _compile(*key), _CACHE_SIZE)


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
            flops += index_size(shape, taken[0][1])
            s, n_slots = n_slots, n_slots + 1
        for j in range(1, len(taken)):
            t, iy = taken[j]
            later = {i for _, iz in taken[j + 1 :] for i in iz}
            flops += index_size(shape, list(set(ix) | set(iy)))
            pre_a, pre_b, op, ix = pair_ops(ix, iy, keep | later, shape)
            steps.append((s, t, n_slots, (tuple(pre_a), tuple(pre_b), op)))
            slot_shape.append(tuple(shape[i] for i in ix))
            s, n_slots = n_slots, n_slots + 1
        count.update(ix)
        largest = max(largest, index_size(shape, ix))
        slots.append(s)
        inds.append(ix)
    if len(slots) != 1:
        raise ValueError(f"the path leaves {len(slots)} operands; it must reduce them to one")
    op, ix = sum_op(inds[0], out)
    perm = tuple(ix.index(i) for i in output) if tuple(ix) != tuple(output) else None
    final = (op, perm)
    n_in = len(inputs)
    steps_t = tuple(steps)
    wave_groups = waves(steps_t, n_in, slot_shape)
    # a level's results are all live in the batched schedule: skip lowering it when they alone are too many
    if len(wave_groups) < len(steps_t) and max(sum(n_elements(slot_shape[steps_t[k][2]]) for k in g)
                                               for g in wave_groups) <= BATCH_ELEMENTS:
        batched = lower(steps_t, n_in, slot_shape, wave_groups, slots[0], final, groups)
    else:
        batched = ((), None, BATCH_ELEMENTS + 1, 0)
    if batched[2] <= BATCH_ELEMENTS:
        calls, fetch, peak, big = batched
        is_batched = True
    else:
        order = depth_first(steps_t, n_in, slot_shape, units=UNITS, batch_elements=BATCH_ELEMENTS,
                            small_step=SMALL_STEP)
        calls, fetch, peak, big = lower(steps_t, n_in, slot_shape, order, slots[0], final, groups)
        is_batched = False
    return Program(n_in, steps_t, final, n_slots, slots[0], largest, calls, fetch, peak, big, is_batched, flops,
                   groups)


# ---------------------------------------------------------------------- running
def _apply(op: tuple, x: Any, xp: Any) -> Any:
    return xp.sum(x, axis=op[1])  # the only single-operand op: ("sum", axes)


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
