"""Claim 3 -- layer widths vs interaction range, and an inverse-design helper for widths.

The min-cut bound of a ConvAC (:ref:`theory-mincut`) says which widths limit which interactions. The Schmidt
rank of a short contiguous block against the rest is limited by the widths of the first layers, which
the cut severs near the leaves. A long block is limited by the deep layers. Two width profiles with
the same parameter count show it: a wide-base profile (wide early layers) against a wide-tip one
(wide deep layers). The experiment plots the min-cut bound for the contiguous block ``0..2^l-1`` against the
rest, for every ``l``.

:func:`allocate_widths` inverts this. Given the partitions a user wants modelled and a parameter
budget, it picks one width per tree level that maximizes the minimum over those partitions of
``log2`` min cut. For small trees the search is exact; for larger ones it is greedy.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552 (Sec. 5: widths and
   interaction range).

Examples
--------
>>> from tnconv.experiments import width_range as wr
>>> alloc = wr.allocate_widths(8, [[3, 4], [0, 1, 2, 3]], parameter_budget=120, n_descriptors=2)
>>> alloc.method, alloc.n_parameters <= 120
('exact', True)
>>> r = wr.run("small")
>>> wr.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = wr.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..mincut.tree import tree_min_cut
from ..models.convnet import ConvAC
from ..partitions import validate_partition
from ..trees import ModeTree
from .common import check_size, figure_target, finish_figure, min_cut_log2

__all__ = [
    "Allocation",
    "WidthRangeResult",
    "allocate_widths",
    "geometric_profile",
    "n_parameters",
    "plot",
    "profile_bounds",
    "run",
    "verdict",
]


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


def _height_widths(tree: ModeTree, widths: Sequence[int]) -> dict[frozenset, int]:
    return {v: int(widths[tree.height(v)]) for v in tree.nodes if v != tree.root}


def n_parameters(tree: ModeTree | Any, n_descriptors: int, widths: Sequence[int], n_outputs: int = 1) -> int:
    """Parameters of a ConvAC over ``tree`` with one width per height (``widths[0]`` at the leaves).

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

    Examples
    --------
    >>> profile_bounds(8, 2, [2, 2, 2], [[1, 3, 5, 7], [0, 1, 2, 3]])
    [4.0, 1.0]
    """
    tree = _as_tree(tree)
    w = _height_widths(tree, widths)
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


CONFIG = {
    "small": {"n": 16, "M": 4, "uniform": 8, "alloc_n": 16},
    "full": {"n": 256, "M": 4, "uniform": 8, "alloc_n": 64},
}


@dataclasses.dataclass
class WidthRangeResult:
    """Min-cut bounds of width profiles for the blocks ``0..2^l-1`` (``block_sizes``), and the allocation
    comparison (targets: the blocks of sizes ``alloc_targets``)."""

    n_inputs: int
    n_descriptors: int
    budget: int
    block_sizes: list[int]
    profiles: dict[str, list[int]]
    profile_parameters: dict[str, int]
    log2_cut: dict[str, list[float]]
    alloc_n_inputs: int
    alloc_budget: int
    alloc_targets: list[int]
    alloc_profiles: dict[str, list[int]]
    alloc_objective: dict[str, float]
    alloc_method: str
    alloc_evaluated: int


def run(size: str = "small", seed: int = 0) -> WidthRangeResult:
    """Compare wide-base and wide-tip width profiles of equal budget across interaction ranges, and the
    allocation found by :func:`allocate_widths` for short+long range targets.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: N = 16; ``full``: N = 256 (the allocation search runs exactly at N = 64).
    seed : int
        Seed of the float models whose min cuts are computed with :func:`tnconv.min_cuts`.

    Returns
    -------
    WidthRangeResult
    """
    cfg = CONFIG[check_size(size)]
    n, M = cfg["n"], cfg["M"]
    tree = ModeTree.balanced(n)
    L = tree.height(tree.root)
    cand = [2**k for k in range(1, 7)]
    budget = n_parameters(tree, M, [cfg["uniform"]] * L)
    profiles = {
        "uniform": [cfg["uniform"]] * L,
        "wide-base": geometric_profile(tree, M, budget, wide_base=True),
        "wide-tip": geometric_profile(tree, M, budget, wide_base=False),
    }
    sizes = [2**l for l in range(L)]
    blocks = [frozenset(range(s)) for s in sizes]
    log2_cut = {}
    for name, ws in profiles.items():
        net = ConvAC(tree, M, _height_widths(tree, ws), seed=seed)
        log2_cut[name] = min_cut_log2(net, blocks)
    na = cfg["alloc_n"]
    ta = ModeTree.balanced(na)
    La = ta.height(ta.root)
    abudget = n_parameters(ta, M, [cfg["uniform"]] * La)
    targets = [2, na // 2]
    tparts = [frozenset(range(s)) for s in targets]
    ap = {
        "wide-base": geometric_profile(ta, M, abudget, wide_base=True),
        "wide-tip": geometric_profile(ta, M, abudget, wide_base=False),
        "uniform": [cfg["uniform"]] * La,
    }
    # The hand-made widths join the candidates, so the exact search is guaranteed to match or beat them.
    acand = sorted(set(cand) | {w for ws in ap.values() for w in ws})
    alloc = allocate_widths(ta, tparts, abudget, n_descriptors=M, candidates=acand)
    ap["allocated"] = alloc.widths
    aobj = {k: min(profile_bounds(ta, M, ws, tparts)) for k, ws in ap.items()}
    return WidthRangeResult(
        n_inputs=n, n_descriptors=M, budget=budget, block_sizes=sizes, profiles=profiles,
        profile_parameters={k: n_parameters(tree, M, ws) for k, ws in profiles.items()}, log2_cut=log2_cut,
        alloc_n_inputs=na, alloc_budget=abudget, alloc_targets=targets, alloc_profiles=ap, alloc_objective=aobj,
        alloc_method=alloc.method, alloc_evaluated=alloc.n_evaluated,
    )


def verdict(result: WidthRangeResult) -> str:
    """Short range favours the wide base, long range the wide tip; the allocation beats both profiles.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    r = result
    base, tip = r.log2_cut["wide-base"], r.log2_cut["wide-tip"]
    short = base[1] > tip[1]
    long_ = tip[-1] > base[-1]
    alloc_ok = r.alloc_objective["allocated"] >= max(v for k, v in r.alloc_objective.items() if k != "allocated") - 1e-9
    ok = short and long_ and alloc_ok
    return "\n".join([
        ("SUPPORTED" if ok else "NOT SUPPORTED") + ": early widths govern short-range, deep widths long-range "
        "interactions.",
        f"- block of {r.block_sizes[1]} inputs: log2 cut wide-base {base[1]:g} vs wide-tip {tip[1]:g} "
        f"(wide-base wins: {short}).",
        f"- block of {r.block_sizes[-1]} inputs: wide-base {base[-1]:g} vs wide-tip {tip[-1]:g} "
        f"(wide-tip wins: {long_}).",
        f"- parameters: {r.profile_parameters} (budget {r.budget}).",
        f"- allocate_widths ({r.alloc_method}, {r.alloc_evaluated} profiles scored, N = {r.alloc_n_inputs}, "
        f"targets = blocks of {r.alloc_targets}): min log2 cut {r.alloc_objective} "
        f"-> allocation {r.alloc_profiles['allocated']} is at least as good as every hand-made profile: {alloc_ok}.",
    ])


def plot(result: WidthRangeResult, ax_or_path: Any = None) -> Any:
    """log2 min cut vs block size for each profile; and the allocation comparison as bars.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`
    ax_or_path : None, str, PathLike, matplotlib Axes or Figure
        None: a new pyplot figure; a path: a PNG written with the Agg canvas; an Axes: the main panel
        only, drawn on it; a Figure: the panels are added to it.

    Returns
    -------
    matplotlib.figure.Figure, or the path written

    Raises
    ------
    ImportError
        Without matplotlib (``pip install 'tnconv[plot]'``).
    TypeError
        An ``ax_or_path`` of another type.
    """
    r = result
    fig, axes = figure_target(ax_or_path, n_panels=2)
    ax = axes[0]
    for name, ys in r.log2_cut.items():
        ax.plot(r.block_sizes, ys, "o-", label=f"{name} {r.profiles[name]} ({r.profile_parameters[name]} params)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("size of the block I = 0..2^l-1 (interaction range)")
    ax.set_ylabel("log2 min-cut bound")
    ax.set_title(f"Widths vs interaction range (N={r.n_inputs}, M={r.n_descriptors})")
    ax.legend(fontsize=7)
    if len(axes) > 1:
        ax = axes[1]
        names = list(r.alloc_objective)
        ax.bar(range(len(names)), [r.alloc_objective[k] for k in names], color=["C0", "C1", "C2", "C3"][: len(names)])
        ax.set_xticks(range(len(names)), [f"{k}\n{r.alloc_profiles[k]}" for k in names], fontsize=7)
        ax.set_ylabel("min over targets of log2 min cut")
        ax.set_title(f"allocate_widths, N={r.alloc_n_inputs}, budget {r.alloc_budget}")
    return finish_figure(fig, ax_or_path)
