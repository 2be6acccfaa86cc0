"""One batch of min-cut queries: validated sides, their masks, the solvers, and the MinCut objects.

:class:`Queries` reads every partition once (:mod:`tnconv.partition_resolve`); :func:`solve_queries`
runs the tree DP in vectorized batches or one flow per query; :func:`make_batch` turns labellings
into :class:`~tnconv.mincut.result.MinCut` objects, checking each against the optimum the solver
reported. The serial path and the executor path (:mod:`tnconv.mincut.distributed`) share them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..partition_resolve import is_pair
from .flow import CutProblem, fallback_warning
from .result import MinCut

__all__ = ["Queries", "make_batch", "open_mask", "solve_queries"]

# Vertices x partitions per vectorized tree-DP batch (each work array is at most 16 MiB in float32).
BATCH_ELEMENTS = 2**22


def open_mask(arrs: Sequence[np.ndarray], P: int) -> np.ndarray:
    """(P, B) bool: ``on[p, b]`` iff open leg p is in partition b."""
    on = np.zeros((P, len(arrs)), dtype=bool)
    if arrs:
        cols = np.repeat(np.arange(len(arrs)), [a.size for a in arrs])
        on[np.concatenate(arrs), cols] = True
    return on


class Queries:
    """Validated queries of one ``min_cuts`` call: sides ``A``, optional ``B`` (A|B cuts), and masks."""

    def __init__(self, prob: CutProblem, parts: Iterable[Any]):
        resolver = prob.resolver
        self.P = prob.n_open
        self.parts: list[frozenset] = []
        self.others: list[frozenset | None] = []
        self.arrays: list[np.ndarray] = []
        self.other_arrays: list[np.ndarray | None] = []
        for p in parts:
            if is_pair(p):
                a, b = resolver.resolve_pair(p)
                self.parts.append(a)
                self.others.append(b)
                self.arrays.append(np.fromiter(a, np.int64, len(a)))
                self.other_arrays.append(np.fromiter(b, np.int64, len(b)))
                continue
            arr = resolver.positions(p)
            # a frozenset given by the caller is kept as it is (no copy of thousands of ints)
            self.parts.append(p if isinstance(p, frozenset) and len(p) == arr.size else frozenset(arr.tolist()))
            self.others.append(None)
            self.arrays.append(arr)
            self.other_arrays.append(None)

    def __len__(self) -> int:
        return len(self.parts)

    def masks(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``on`` and ``free`` ((P, hi - lo) bool) of queries ``lo..hi-1``; ``free`` is None without A|B."""
        on = open_mask(self.arrays[lo:hi], self.P)
        if all(o is None for o in self.others[lo:hi]):
            return on, None
        empty = np.zeros(0, np.int64)
        taken = on | open_mask([o if o is not None else empty for o in self.other_arrays[lo:hi]], self.P)
        free = ~taken
        plain = np.array([o is None for o in self.others[lo:hi]])
        free[:, plain] = False
        return on, free


def make_batch(
    prob: CutProblem, q: Queries, lo: int, on: np.ndarray, free: np.ndarray | None, sides: np.ndarray,
    method: str, expect: Sequence[int],
) -> list[MinCut]:
    """MinCut objects from labellings ``sides`` ((T+P, B) bool) of queries ``lo..``, checked against the
    exact optimum ``expect`` (integer capacity units) that the solver reported."""
    cut_e, cut_h = prob.cut_masks(sides, on, free)
    # The labelling must cost exactly the optimum the solver reported (the DP value, or the max flow by
    # max-flow min-cut): anything else is a solver bug, never a silent result.
    got = prob.batch_units(cut_e, cut_h)
    B = sides.shape[1]
    for b in range(B):
        if got[b] != expect[b]:
            raise RuntimeError(
                f"internal error: the {method} cut costs {got[b]} units but the optimum is {expect[b]} "
                f"(partition {sorted(q.parts[lo + b])[:10]})"
            )
    # one transposed copy per batch: each cut keeps a contiguous row (a view) of it
    sides_t = np.ascontiguousarray(sides.T)
    e_rows = _rows(cut_e)
    h_rows = _rows(cut_h)
    out = []
    for b in range(B):
        ce, ch = e_rows[b], h_rows[b]
        if prob.base is not None:
            bound = int(prob.base) ** got[b]
        else:
            bound = prob.bound_of(ce.tolist(), ch.tolist())
        out.append(MinCut(bound, _log2(bound), q.parts[lo + b], method, prob, sides_t[b], ce, ch,
                          q.others[lo + b]))
    return out


def _rows(mask: np.ndarray) -> list[np.ndarray]:
    """The True positions of every column of a (K, B) bool mask, in one pass."""
    B = mask.shape[1]
    b_idx, k_idx = np.nonzero(mask.T)
    counts = np.bincount(b_idx, minlength=B)
    return np.split(k_idx, np.cumsum(counts)[:-1]) if B else []


def _log2(n: int) -> float:
    return math.log2(n)  # exact input (an int of any size), correctly rounded enough for display


def _solve_flow(prob: CutProblem, q: Queries, k: int, method: str, flow_func: Any) -> MinCut:
    part, other = q.parts[k], q.others[k]
    if method == "scipy":
        try:
            side, value = prob.solve_scipy(part, other)
        except OverflowError as exc:
            fallback_warning(str(exc))
            side, value = prob.solve_networkx(part, other=other)
            method = "networkx"
    else:
        side, value = prob.solve_networkx(part, flow_func, other)
    on, free = q.masks(k, k + 1)
    return make_batch(prob, q, k, on, free, side[:, None], method, [value])[0]


def solve_queries(prob: CutProblem, q: Queries, lo: int, hi: int, method: str, flow_func: Any) -> list[MinCut]:
    """The cuts of queries ``lo..hi-1``: the tree DP in vectorized batches, or one flow per query."""
    if method != "tree":
        return [_solve_flow(prob, q, k, method, flow_func) for k in range(lo, hi)]
    solver = prob.tree_solver()
    out: list[MinCut] = []
    # Object (Python int) work arrays cost ~50 bytes an entry, not 4-8: smaller batches.
    elements = BATCH_ELEMENTS if solver.dtype != object else BATCH_ELEMENTS // 16
    batch = max(1, elements // max(prob.n_vertices, 1))
    for a in range(lo, hi, batch):
        b = min(a + batch, hi)
        on, free = q.masks(a, b)
        sides, cost = solver.solve(on, free)
        out += make_batch(prob, q, a, on, free, sides, "tree", cost)
    return out
