"""Inverse design of layer widths: the min-cut bound of a width profile, and the search for the best profile.

:func:`allocate_widths` picks one width per tree level, within a parameter budget, that maximizes the minimum
over the target partitions of ``log2`` min cut; :func:`geometric_profile` builds the wide-base and wide-tip
profiles of claim 3 (:mod:`tnconv.experiments.width_range`, which re-exports everything here).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552 (Sec. 5).

Examples
--------
>>> from tnconv.experiments.width_search import allocate_widths
>>> allocate_widths(8, [[3, 4], [0, 1, 2, 3]], parameter_budget=120, n_descriptors=2).method
'exact'
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..mincut.tree import tree_min_cut
from ..partitions import validate_partition
from ..trees import ModeTree

__all__ = ["Allocation", "allocate_widths", "geometric_profile", "height_widths", "n_parameters", "profile_bounds"]

def _as_tree(tree_or_spec: Any) -> ModeTree:
    if isinstance(tree_or_spec, ModeTree):
        tree = tree_or_spec
    elif isinstance(tree_or_spec, (int,)) and not isinstance(tree_or_spec, bool):
        tree = ModeTree.balanced(int(tree_or_spec))
    elif isinstance(tree_or_spec, tuple) and len(tree_or_spec) == 2 and all(isinstance(x, int) for x in tree_or_spec):
        tree = ModeTree.grid(*tree_or_spec)
    else:
        raise TypeError(f"expected a ModeTree, an int N (balanced binary tree) or an image shape (h, w); "
                        f"got {tree_or_spec!r}")
    if not tree.is_uniform():
        raise ValueError("per-level widths need a tree whose leaves all lie at the same depth (is_uniform())")
    return tree


def height_widths(tree: ModeTree, widths: Sequence[int]) -> dict[frozenset, int]:
    """``{node: widths[height(node)]}`` for every non-root node of a uniform tree.

    Parameters
    ----------
    tree : ModeTree
    widths : sequence of int
        One width per height, leaf level first.

    Returns
    -------
    dict

    Examples
    --------
    >>> w = height_widths(ModeTree.balanced(4), [3, 5])
    >>> w[frozenset({0})], w[frozenset({0, 1})]
    (3, 5)
    """
    return {v: int(widths[tree.height(v)]) for v in tree.nodes if v != tree.root}


def n_parameters(tree: ModeTree | Any, n_descriptors: int, widths: Sequence[int], n_outputs: int = 1) -> int:
    """Parameters of a ConvAC over ``tree`` with one width per height (``widths[0]`` at the leaves).

    Parameters
    ----------
    tree : ModeTree or int
    n_descriptors : int
    widths : sequence of int
    n_outputs : int

    Returns
    -------
    int

    Examples
    --------
    >>> n_parameters(4, 2, [3, 5])  # 4 leaves (2x3) + 2 nodes (3x5) + root (5x1)
    59
    """
    tree = _as_tree(tree)
    total = 0
    for v in tree.nodes:
        h = tree.height(v)
        w_in = n_descriptors if h == 0 else int(widths[h - 1])
        w_out = n_outputs if v == tree.root else int(widths[h])
        total += w_in * w_out
    return total


@dataclasses.dataclass
class Allocation:
    """The result of :func:`allocate_widths`.

    Attributes
    ----------
    widths : list of int
        One width per height below the root (``widths[0]`` at the leaves).
    n_parameters : int
    objective : float
        ``min`` over the target partitions of ``log2`` min cut.
    log2_bounds : list of float
        ``log2`` min cut per target partition.
    method : {"exact", "greedy"}
    n_evaluated : int
        Width profiles whose bounds were computed.

    Examples
    --------
    >>> allocate_widths(8, [[3, 4]], parameter_budget=120, n_descriptors=2).widths
    [2, 1, 16]
    """

    widths: list[int]
    n_parameters: int
    objective: float
    log2_bounds: list[float]
    method: str
    n_evaluated: int


def profile_bounds(tree: ModeTree | Any, n_descriptors: int, widths: Sequence[int],
                   parts: Sequence[Iterable[int]]) -> list[float]:
    """``log2`` min-cut bound of the per-level width profile for each partition (exact tree min cut).

    Parameters
    ----------
    tree : ModeTree or int
    n_descriptors : int
    widths : sequence of int
    parts : sequence of partitions

    Returns
    -------
    list of float

    Examples
    --------
    >>> profile_bounds(8, 2, [2, 2, 2], [[1, 3, 5, 7], [0, 1, 2, 3]])
    [4.0, 1.0]
    """
    tree = _as_tree(tree)
    w = height_widths(tree, widths)
    return [math.log2(tree_min_cut(tree, n_descriptors, w, p)) for p in parts]


def _score(bounds: list[float], params: int) -> tuple[float, float, int]:
    # Maximize the worst partition, then the total, then prefer fewer parameters.
    return (round(min(bounds), 9), round(sum(bounds), 9), -params)


def allocate_widths(tree_or_spec: ModeTree | int | tuple[int, int], partitions: Sequence[Iterable[int]],
                    parameter_budget: int, n_descriptors: int = 2, candidates: Sequence[int] | None = None,
                    max_width: int = 64, exact_max_levels: int = 6, n_outputs: int = 1,
                    executor: Any = None) -> Allocation:
    """Choose one width per tree level, within a parameter budget, to model the given partitions best.

    The objective is ``min over partitions of log2 (min-cut bound)``. The min cut bounds the Schmidt
    rank; for independent (unshared) generic weights it is tight when all dimensions are powers of one
    integer (theory page, :ref:`theory-mincut`), while shared weights can fall below it.
    Ties go to the larger sum of ``log2`` bounds, then to fewer parameters.

    **Exact search** (trees with at most ``exact_max_levels`` levels below the root): every profile with
    widths from ``candidates`` is enumerated level by level from the leaves up. A branch is dropped as
    soon as its parameters exceed the budget. Only *maximal* profiles are scored: those where raising any
    one level to its next candidate would break the budget. The bound never decreases when a width grows,
    so some maximal profile is optimal, and the result is the optimum over ``candidates``.
    Widths above ``M^(inputs below the node)`` can never raise a cut, so candidates are capped there.

    **Greedy** (deeper trees): start from width 1 everywhere and repeatedly raise the level whose next
    candidate gives the best objective per added parameter, until nothing fits. It is fast, but not
    guaranteed optimal.

    Parameters
    ----------
    tree_or_spec : ModeTree, int or (height, width)
        A uniform mode tree, ``N`` (balanced binary tree) or an image shape (2x2 grid pooling).
    partitions : sequence of iterables of int
        The partitions (sides ``I``) that the network should be able to model.
    parameter_budget : int
        Maximum number of parameters (as :attr:`ConvAC.n_parameters`).
    n_descriptors : int
        M.
    candidates : sequence of int, optional
        Allowed widths (default: powers of two up to ``max_width``). Powers of ``M`` keep the bound tight.
    max_width : int
    exact_max_levels : int
        Use the exact search when the tree has at most this many levels below the root.
    n_outputs : int
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Where the exact search scores its maximal profiles (through :func:`tnconv.sweep`, in chunks);
        None scores them here. The result does not depend on the executor. The greedy search is
        sequential and always runs here.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        An empty partition list, an invalid partition, a non-uniform tree, or a budget too small for width 1.
    TypeError
        A ``tree_or_spec`` of the wrong type.

    Examples
    --------
    >>> a = allocate_widths(16, [[7, 8]], parameter_budget=400, n_descriptors=4)
    >>> a.objective >= profile_bounds(16, 4, [2, 2, 2, 2], [[7, 8]])[0]
    True

    References
    ----------
    .. [1] Levine, Yakira, Cohen, Shashua, ICLR 2018, arXiv:1704.01552, Sec. 5.
    """
    tree = _as_tree(tree_or_spec)
    parts = [validate_partition(p, tree.n_inputs) for p in partitions]
    if not parts:
        raise ValueError("allocate_widths needs at least one partition to model")
    M = int(n_descriptors)
    L = tree.height(tree.root)
    cand = sorted({int(c) for c in (candidates if candidates is not None else
                                    [2**k for k in range(int(math.log2(max_width)) + 1)])})
    if not cand or cand[0] < 1:
        raise ValueError(f"candidate widths must be positive ints, got {candidates!r}")
    budget = int(parameter_budget)
    minimal = [cand[0]] * L
    if n_parameters(tree, M, minimal, n_outputs) > budget:
        raise ValueError(f"parameter_budget {budget} is below the smallest profile {minimal} "
                         f"({n_parameters(tree, M, minimal, n_outputs)} parameters)")
    search = _WidthSearch(tree, M, parts, budget, _level_candidates(tree, M, cand), n_outputs)
    return search.exact(executor) if exact_max_levels >= L else search.greedy(minimal)


def _level_candidates(tree: ModeTree, M: int, cand: list[int]) -> list[list[int]]:
    """The candidate widths of each level below the root, capped where a wider one cannot raise a cut."""
    # Nodes of one height all have the same size in a uniform tree. The width below a node enters the
    # cut only through the node's hyperedge, which never needs to exceed M^(inputs of the parent).
    size_at = {tree.height(v): len(v) for v in tree.nodes}
    per_level = []
    for h in range(tree.height(tree.root)):
        cap = M ** min(size_at[h + 1], 62) if M ** min(size_at[h + 1], 62) < 2**62 else 2**62
        allowed = sorted({c for c in cand if c <= cap} | ({cap} if cap < cand[-1] else set()))
        per_level.append(allowed or [cand[0]])
    return per_level


class _WidthSearch:
    """The search space of :func:`allocate_widths`: per-level candidates under a parameter budget."""

    def __init__(self, tree: ModeTree, M: int, parts: list[frozenset], budget: int,
                 per_level: list[list[int]], n_outputs: int) -> None:
        self.tree, self.M, self.parts, self.budget = tree, M, parts, budget
        self.per_level, self.n_outputs = per_level, n_outputs
        self.L = tree.height(tree.root)
        self.count = {h: sum(1 for v in tree.nodes if tree.height(v) == h) for h in range(self.L + 1)}
        self.evaluated = 0  # profiles whose bounds were computed

    def params(self, ws: Sequence[int]) -> int:
        total = self.count[self.L] * ws[self.L - 1] * self.n_outputs
        for h in range(self.L):
            total += self.count[h] * (self.M if h == 0 else ws[h - 1]) * ws[h]
        return total

    def bounds(self, ws: list[int]) -> list[float]:
        self.evaluated += 1
        return profile_bounds(self.tree, self.M, ws, self.parts)

    def _is_maximal(self, ws: list[int]) -> bool:
        """No level can take its next candidate within the budget."""
        for h in range(self.L):
            nxt = [c for c in self.per_level[h] if c > ws[h]]
            if nxt and self.params(ws[:h] + [nxt[0]] + ws[h + 1:]) <= self.budget:
                return False
        return True

    def _allocation(self, ws: list[int], b: list[float], method: str) -> Allocation:
        return Allocation(widths=ws, n_parameters=self.params(ws), objective=min(b), log2_bounds=b,
                          method=method, n_evaluated=self.evaluated)

    def maximal_profiles(self) -> list[list[int]]:
        """Every maximal profile within the budget, enumerated from the leaves up (iteratively)."""
        L, count, budget = self.L, self.count, self.budget
        found: list[list[int]] = []
        # `spent`: parameters of the levels whose input and output widths are both fixed.
        stack: list[tuple[list[int], int]] = [([], 0)]
        while stack:
            ws, spent = stack.pop()
            if spent > budget:
                continue
            if len(ws) == L:
                # a non-maximal profile is dominated: a wider one fits and is at least as good
                if spent + count[L] * ws[L - 1] * self.n_outputs <= budget and self._is_maximal(ws):
                    found.append(ws)
                continue
            h = len(ws)
            w_in = self.M if h == 0 else ws[-1]
            # reversed, so that profiles pop in the order of the candidates (ties go to the first)
            stack += [(ws + [c], spent + count[h] * w_in * c) for c in reversed(self.per_level[h])]
        return found

    def exact(self, executor: Any = None) -> Allocation:
        """The best maximal profile; its bounds are scored serially or on ``executor``."""
        profiles = self.maximal_profiles()
        if executor is None:
            scored = [self.bounds(ws) for ws in profiles]
        else:
            from ..parallel import sweep

            scored = list(sweep(functools.partial(profile_bounds, self.tree, self.M, parts=self.parts),
                                profiles, executor=executor, progress=False))
            self.evaluated += len(profiles)
        best = max(range(len(profiles)), key=lambda i: _score(scored[i], self.params(profiles[i])))
        return self._allocation(profiles[best], scored[best], "exact")

    def greedy(self, start: list[int]) -> Allocation:
        """From ``start``, raise the level with the best gain per added parameter until nothing fits."""
        ws = list(start)
        b = self.bounds(ws)
        while True:
            options = []
            for h in range(self.L):
                nxt = [c for c in self.per_level[h] if c > ws[h]]
                if not nxt:
                    continue
                trial = ws[:h] + [nxt[0]] + ws[h + 1:]
                p = self.params(trial)
                if p > self.budget:
                    continue
                tb = self.bounds(trial)
                added = p - self.params(ws) + 1e-9
                options.append((((min(tb) - min(b)) / added, (sum(tb) - sum(b)) / added, -h), trial, tb))
            if not options:
                break
            _, ws, b = max(options, key=lambda o: o[0])
        return self._allocation(ws, b, "greedy")


def geometric_profile(tree: ModeTree | Any, n_descriptors: int, budget: int, wide_base: bool,
                      floor: int = 2) -> list[int]:
    """A width profile that halves at every level away from its wide end, scaled to use the budget.

    ``wide_base=True`` gives ``w_h = max(floor, round(c / 2**h))`` (wide early layers),
    ``wide_base=False`` gives ``w_h = max(floor, round(c / 2**(L-1-h)))`` (wide deep layers), with the
    largest ``c`` whose profile has at most ``budget`` parameters.

    Parameters
    ----------
    tree : ModeTree or int
        The tree (an int ``N``: the balanced binary tree).
    n_descriptors : int
    budget : int
        Parameter budget.
    wide_base : bool
    floor : int
        The smallest width.

    Returns
    -------
    list of int

    Examples
    --------
    >>> geometric_profile(16, 4, 1416, wide_base=True), geometric_profile(16, 4, 1416, wide_base=False)
    ([11, 6, 3, 2], [3, 6, 13, 26])
    """
    tree = _as_tree(tree)
    L = tree.height(tree.root)
    M = int(n_descriptors)

    def prof(c: float) -> list[int]:
        return [max(floor, round(c / 2 ** (h if wide_base else L - 1 - h))) for h in range(L)]

    if n_parameters(tree, M, prof(floor)) > budget:
        raise ValueError(f"budget {budget} is below the narrowest profile {prof(floor)}")
    lo, hi = float(floor), float(floor)
    while n_parameters(tree, M, prof(hi)) <= budget:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if n_parameters(tree, M, prof(mid)) <= budget else (lo, mid)
    return prof(lo)
