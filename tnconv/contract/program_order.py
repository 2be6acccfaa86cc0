"""When the steps of a compiled path run: waves of same-shaped steps, the depth-first order, and peaks.

The steps of a path form a tree (every operand is read once). This module groups them into the units
that :mod:`tnconv.contract.program_lower` turns into calls, without running anything:

* :func:`waves`: steps of the same height in the tree and the same operand shapes and ops, one group
  each (the batched schedule), rows ordered so that readers take them as contiguous blocks;
* :func:`depth_first`: one group per step, each subtree finished before the next starts, children in
  the order of least peak (Sethi-Ullman order [1]_), optionally with subtrees of small steps batched.

The element counts of :func:`step_transient` (a step's sums, permuted copies and result) make the
static peak of :attr:`tnconv.contract.program.Program.peak`.

References
----------
.. [1] R. Sethi, J. D. Ullman, "The generation of optimal code for arithmetic expressions",
   J. ACM 17(4), 715-728 (1970).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["depth_first", "n_elements", "step_transient", "waves"]


def n_elements(sh: Sequence[int]) -> int:
    """The number of elements of an array of shape ``sh``.

    Parameters
    ----------
    sh : sequence of int

    Returns
    -------
    int

    Examples
    --------
    >>> n_elements((2, 3, 4)), n_elements(())
    (24, 1)
    """
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


def step_transient(step: tuple, slot_shape: list, n_in: int) -> int:
    """Elements a step allocates while it runs: its sums, permuted copies and result.

    Parameters
    ----------
    step : tuple
        ``(slot_a, slot_b or -1, out slot, ops)``, a step of :attr:`tnconv.contract.program.Program.steps`.
    slot_shape : list of tuple
        The shape of every slot: the inputs', then each step's result.
    n_in : int
        Number of inputs.

    Returns
    -------
    int

    Examples
    --------
    Summing ``j`` of a ``(2, 3, 4)`` tensor against a vector permutes it to ``(i, k, j)``, and reshaping
    that to ``(8, 3)`` copies its 24 elements; the result has 8:

    >>> from tnconv.contract.program_ops import pair_ops
    >>> pre_a, pre_b, op, out = pair_ops(("i", "j", "k"), ("j",), {"i", "k"}, {"i": 2, "j": 3, "k": 4})
    >>> step_transient((0, 1, 2, (tuple(pre_a), tuple(pre_b), op)), [(2, 3, 4), (3,), (2, 4)], 2)
    32
    """
    a, b, dst, ops = step
    res = n_elements(slot_shape[dst])
    if b < 0:
        return res
    pre_a, pre_b, op = ops
    extra = 0
    for pre, src, perm, to in ((pre_a, a, op[1], op[2]), (pre_b, b, op[3], op[4])):
        sh = slot_shape[src]
        if pre:
            sh = tuple(d for k, d in enumerate(sh) if k not in pre[0][1])
            extra += n_elements(sh)
        if _copies(sh, perm, to):
            extra += n_elements(sh)
    return extra + res


def depth_first(steps: tuple, n_in: int, slot_shape: list, *, units: bool, batch_elements: int,
                small_step: int) -> list[list[int]]:
    """One group per step, subtrees one after the other, children in the order of least peak.

    With ``units``, a subtree of small steps (results of at most ``small_step`` elements each) whose
    results all fit in ``batch_elements / 2`` runs batched as a unit (its levels' same-shaped steps as
    one call each) where the walk reaches it (:data:`tnconv.contract.program.SMALL_STEP` and
    :data:`tnconv.contract.program.BATCH_ELEMENTS` are the values compiled programs use).

    Parameters
    ----------
    steps : tuple
        The steps of a compiled path (:attr:`tnconv.contract.program.Program.steps`), producers first.
    n_in : int
        Number of inputs.
    slot_shape : list of tuple
        The shape of every slot: the inputs', then each step's result.
    units, batch_elements, small_step
        Whether subtrees of small steps run batched, and the limits above.

    Returns
    -------
    list of list of int
        The groups of steps in the order they run.

    Examples
    --------
    Four matrix-vector products and their pairwise products: one step at a time, each pair's
    subtree before the next; as one unit of three batched groups when small steps are batched:

    >>> from tnconv.contract.program import compile_path
    >>> ins = [("a", "i"), ("b", "i"), ("c", "i"), ("d", "i"), ("a",), ("b",), ("c",), ("d",)]
    >>> shapes = [(2, 3)] * 4 + [(2,)] * 4
    >>> prog = compile_path(ins, ("i",), [(0, 4), (0, 3), (0, 2), (0, 1), (0, 1), (0, 1), (0, 1)], shapes)
    >>> slot_shape = shapes + [s[3][2][-1] for s in prog.steps]  # each pair op's output shape
    >>> depth_first(prog.steps, 8, slot_shape, units=False, batch_elements=2**17, small_step=2048)
    [[0], [1], [4], [2], [3], [5], [6]]
    >>> depth_first(prog.steps, 8, slot_shape, units=True, batch_elements=2**17, small_step=2048)
    [[0, 2, 1, 3], [4, 5], [6]]
    """
    kids = _producers(steps, n_in)
    res = [n_elements(slot_shape[s[2]]) for s in steps]
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
        peak[k] = max(run, held + step_transient(steps[k], slot_shape, n_in))
        order[k] = ks
    out: list[list[int]] = []
    todo = [(len(steps) - 1, False)] if steps else []
    while todo:
        k, expanded = todo.pop()
        if expanded:
            out.append([k])
            continue
        if units and kids[k] and 2 * total[k] <= batch_elements and big[k] <= small_step:
            sub, stack = [], [k]
            while stack:
                v = stack.pop()
                sub.append(v)
                stack.extend(kids[v])
            out.extend(waves(steps, n_in, slot_shape, sorted(sub)))
            continue
        todo.append((k, True))
        todo.extend((c, False) for c in reversed(order[k]))
    return out


def _signature(step: tuple, slot_shape: list) -> tuple:
    # the operands' shapes too: sums before a pair op can bring different shapes to the same op
    return (step[1] < 0, step[3], slot_shape[step[0]], slot_shape[step[1]] if step[1] >= 0 else None)


def waves(steps: tuple, n_in: int, slot_shape: list, subset: list[int] | None = None) -> list[list[int]]:
    """Groups of steps with the same height in the tree, operand shapes and ops, lowest height first.

    Parameters
    ----------
    steps : tuple
        The steps of a compiled path (:attr:`tnconv.contract.program.Program.steps`), producers first.
    n_in : int
        Number of inputs.
    slot_shape : list of tuple
        The shape of every slot: the inputs', then each step's result.
    subset : list of int, optional
        Only these steps (in increasing order, closed under producers: a subtree).

    Returns
    -------
    list of list of int
        The groups, each one batched call; rows ordered so that each reader group takes the rows it
        reads as contiguous blocks (its left operands first).

    Examples
    --------
    Four matrix-vector products, then their pairwise products, then the last product: three waves,
    the first ordered ``0, 2, 1, 3`` so that the products read their left and right operands as halves:

    >>> from tnconv.contract.program import compile_path
    >>> ins = [("a", "i"), ("b", "i"), ("c", "i"), ("d", "i"), ("a",), ("b",), ("c",), ("d",)]
    >>> shapes = [(2, 3)] * 4 + [(2,)] * 4
    >>> prog = compile_path(ins, ("i",), [(0, 4), (0, 3), (0, 2), (0, 1), (0, 1), (0, 1), (0, 1)], shapes)
    >>> slot_shape = shapes + [s[3][2][-1] for s in prog.steps]  # each pair op's output shape
    >>> waves(prog.steps, 8, slot_shape)
    [[0, 2, 1, 3], [4, 5], [6]]
    """
    kids = _producers(steps, n_in)
    height: dict[int, int] = {}
    groups: dict = {}
    for k in range(len(steps)) if subset is None else subset:
        height[k] = 1 + max((height[c] for c in kids[k]), default=0)
        groups.setdefault((height[k], _signature(steps[k], slot_shape)), []).append(k)
    found = [groups[key] for key in sorted(groups, key=lambda key: (key[0], groups[key][0]))]
    return _order_rows(found, steps, n_in)


def _order_rows(groups: list[list[int]], steps: tuple, n_in: int) -> list[list[int]]:
    """Reorder each group's rows so that its readers take them as contiguous blocks.

    A reader group takes its left operands, then its right ones; rows laid out in that order are two
    contiguous slices of the stacked result. Strided slices would be views too, but numpy's ufuncs
    copy strided operands whole (measured: a product of two ``S[0::2]``, ``S[1::2]`` halves traced
    three times its result).
    """
    group_of = {k: g for g, ks in enumerate(groups) for k in ks}
    wanted: list[list[int]] = [[] for _ in groups]
    for g in range(len(groups) - 1, -1, -1):  # readers sit in later groups than the steps they read
        taken = set(wanted[g])
        rows = wanted[g] + [k for k in groups[g] if k not in taken]
        groups[g] = rows
        for side in (0, 1):
            for k in rows:
                src = steps[k][side]
                if src >= n_in:
                    wanted[group_of[src - n_in]].append(src - n_in)
    return groups
