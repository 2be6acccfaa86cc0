"""``min_cuts(..., executor=...)``: chunks of queries solved on an executor, cuts built on the caller.

Each task carries the network's *structure* (a :class:`~tnconv.mincut.flow.CutProblem` over a
shape-only copy of the network, with its tree solver: no weights) and a chunk of queries as packed
bit masks; it returns, per query, the packed labelling and the exact optimum the solver reported.
The caller rebuilds every :class:`~tnconv.mincut.result.MinCut` on its own network, checking each
labelling against the optimum exactly as the serial path does, so the results equal the serial ones.
The executor machinery (serial, ``concurrent.futures``, dask, retries) is
:func:`tnconv._core.executors.map_chunks`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .._core.executors import map_chunks
from .batch import make_batch
from .flow import CutProblem, fallback_warning

__all__ = ["shipped", "solve_distributed"]

_Item = tuple[bytes, "bytes | None"]


def shipped(prob: CutProblem, method: str) -> CutProblem:
    """A copy of ``prob`` for workers: the same structure over a shape-only network (no arrays), with
    the tree solver built once here when the tree DP is used."""
    if method == "tree":
        prob.tree_solver()
    return prob.structure_copy()


def _unpack(bits: bytes, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n).astype(bool)


def solve_chunk(prob: CutProblem, method: str, flow_func: Any, items: list[_Item]) -> list[tuple[bytes, int, str]]:
    """Labellings ``(packed sides, optimum in units, method used)`` of a chunk of packed queries."""
    P = prob.n_open
    on = np.stack([_unpack(a, P) for a, _ in items], axis=1)
    pairs = [b is not None for _, b in items]
    free = None
    if any(pairs):
        other = np.stack([_unpack(b, P) if b is not None else ~on[:, k] for k, (_, b) in enumerate(items)], axis=1)
        free = ~(on | other)
    out = []
    if method == "tree":
        sides, cost = prob.tree_solver().solve(on, free)
        for k in range(len(items)):
            out.append((np.packbits(sides[:, k]).tobytes(), cost[k], "tree"))
        return out
    for k in range(len(items)):
        part = frozenset(np.flatnonzero(on[:, k]).tolist())
        other_k = frozenset(np.flatnonzero(~on[:, k] & ~free[:, k]).tolist()) if free is not None else None
        used = method
        if method == "scipy":
            try:
                side, value = prob.solve_scipy(part, other_k)
            except OverflowError as exc:
                fallback_warning(str(exc))
                side, value = prob.solve_networkx(part, other=other_k)
                used = "networkx"
        else:
            side, value = prob.solve_networkx(part, flow_func, other_k)
        out.append((np.packbits(side).tobytes(), value, used))
    return out


def _pack(arr: np.ndarray, n: int) -> bytes:
    mask = np.zeros(n, dtype=bool)
    mask[arr] = True
    return np.packbits(mask).tobytes()


def solve_distributed(prob: CutProblem, q: Any, method: str, flow_func: Any, executor: Any,
                      chunk_size: int | None, progress: bool) -> list:
    """The cuts of all queries ``q`` (a ``_Queries``), solved in chunks on ``executor``."""
    P = prob.n_open
    items: list[_Item] = [
        (_pack(a, P), None if b is None else _pack(b, P)) for a, b in zip(q.arrays, q.other_arrays)
    ]
    # The tree DP's batches stay within one task: no chunk larger than the serial batch size.
    results = map_chunks(partial(solve_chunk, shipped(prob, method), method, flow_func), items, executor,
                         chunk_size, progress=progress)
    V = prob.n_tensors + P
    out: list = []
    batch = 1 if method != "tree" else 256
    for lo in range(0, len(results), batch):
        chunk = results[lo : lo + batch]
        used = {m for _, _, m in chunk}
        sides = np.stack([_unpack(s, V) for s, _, _ in chunk], axis=1)
        on, free = q.masks(lo, lo + len(chunk))
        out += make_batch(prob, q, lo, on, free, sides, used.pop() if len(used) == 1 else method,
                           [c for _, c, _ in chunk])
    return out
