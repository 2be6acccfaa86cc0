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

__all__ = ["Queries", "Record", "build_cuts", "open_mask", "records", "solve_masks", "solve_queries"]

# Vertices x partitions per vectorized tree-DP batch (each work array at most 4 MiB in float32: measured
# 1.2x faster than 16 MiB at N = 1024, the arrays staying nearer the caches).
BATCH_ELEMENTS = 2**20


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
        self.parts: list[Any] = []  # frozensets or position arrays
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
            # a frozenset given by the caller is kept as it is; other forms stay arrays (MinCut.part
            # makes the frozenset on first use)
            self.parts.append(p if isinstance(p, frozenset) and len(p) == arr.size else arr)
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


#: One solved query: (bound, packed labelling of tensors and open legs, severed bonds, severed copy
#: tensors, solver used). Workers of ``min_cuts(executor=...)`` return these.
Record = tuple[int, np.ndarray, np.ndarray, np.ndarray, str]


def records(prob: CutProblem, on: np.ndarray, free: np.ndarray | None, sides: np.ndarray, method: str,
            expect: Sequence[int]) -> list[Record]:
    """Records of labellings ``sides`` ((T+P, B) bool) of the queries ``on``/``free``, each checked against
    the exact optimum ``expect`` (integer capacity units) that the solver reported."""
    cut_e, cut_h = prob.cut_masks(sides, on, free)
    # The labelling must cost exactly the optimum the solver reported (the DP value, or the max flow by
    # max-flow min-cut): anything else is a solver bug, never a silent result.
    got = prob.batch_units(cut_e, cut_h)
    B = sides.shape[1]
    for b in range(B):
        if got[b] != expect[b]:
            raise RuntimeError(
                f"internal error: the {method} cut costs {got[b]} units but the optimum is {expect[b]} "
                f"(partition {np.flatnonzero(on[:, b])[:10].tolist()})"
            )
    # each cut keeps its labelling as packed bits (V/8 bytes)
    packed = np.packbits(sides.T, axis=1)
    e_rows = _rows(cut_e)
    h_rows = _rows(cut_h)
    out: list[Record] = []
    for b in range(B):
        ce, ch = e_rows[b], h_rows[b]
        bound = int(prob.base) ** got[b] if prob.base is not None else prob.bound_of(ce.tolist(), ch.tolist())
        out.append((bound, packed[b], ce, ch, method))
    return out


def build_cuts(prob: CutProblem, q: Queries, lo: int, recs: Sequence[Record]) -> list[MinCut]:
    """MinCut objects of queries ``lo..`` from their records, on the caller's problem."""
    return [MinCut(bound, _log2(bound), q.parts[lo + b], method, prob, packed, ce, ch, q.others[lo + b])
            for b, (bound, packed, ce, ch, method) in enumerate(recs)]


def _rows(mask: np.ndarray) -> list[np.ndarray]:
    """The True positions of every column of a (K, B) bool mask, in one pass."""
    B = mask.shape[1]
    b_idx, k_idx = np.nonzero(mask.T)
    counts = np.bincount(b_idx, minlength=B)
    return np.split(k_idx, np.cumsum(counts)[:-1]) if B else []


def _log2(n: int) -> float:
    return math.log2(n)  # exact input (an int of any size), correctly rounded enough for display


def _flow_record(prob: CutProblem, on: np.ndarray, free: np.ndarray | None, k: int, method: str,
                 flow_func: Any) -> Record:
    part = frozenset(np.flatnonzero(on[:, k]).tolist())
    other = None
    if free is not None and free[:, k].any():
        other = frozenset(np.flatnonzero(~on[:, k] & ~free[:, k]).tolist())
    if method == "scipy":
        try:
            side, value = prob.solve_scipy(part, other)
        except OverflowError as exc:
            fallback_warning(str(exc))
            side, value = prob.solve_networkx(part, other=other)
            method = "networkx"
    else:
        side, value = prob.solve_networkx(part, flow_func, other)
    fr = None if free is None else free[:, k : k + 1]
    return records(prob, on[:, k : k + 1], fr, side[:, None], method, [value])[0]


def batch_size(prob: CutProblem) -> int:
    """Queries per vectorized tree-DP batch (work arrays of at most ``BATCH_ELEMENTS`` entries)."""
    solver = prob.tree_solver()
    # Object (Python int) work arrays cost ~50 bytes an entry, not 4-8: smaller batches.
    elements = BATCH_ELEMENTS if solver.dtype != object else BATCH_ELEMENTS // 16
    return max(1, elements // max(prob.n_vertices, 1))


def solve_masks(prob: CutProblem, on: np.ndarray, free: np.ndarray | None, method: str,
                flow_func: Any) -> list[Record]:
    """Records of the queries ``on`` ((P, B) bool) and ``free`` (A|B legs, or None): the tree DP in
    vectorized batches, or one flow per query."""
    B = on.shape[1]
    if method != "tree":
        return [_flow_record(prob, on, free, k, method, flow_func) for k in range(B)]
    solver = prob.tree_solver()
    step = batch_size(prob)
    out: list[Record] = []
    for a in range(0, B, step):
        o = on[:, a : a + step]
        f = None if free is None else free[:, a : a + step]
        sides, cost = solver.solve(o, f)
        out += records(prob, o, f, sides, "tree", cost)
    return out


def solve_queries(prob: CutProblem, q: Queries, lo: int, hi: int, method: str, flow_func: Any) -> list[MinCut]:
    """The cuts of queries ``lo..hi-1``."""
    step = batch_size(prob) if method == "tree" else 256
    out: list[MinCut] = []
    for a in range(lo, hi, step):
        b = min(a + step, hi)
        on, free = q.masks(a, b)
        out += build_cuts(prob, q, a, solve_masks(prob, on, free, method, flow_func))
    return out
