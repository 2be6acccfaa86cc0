"""``min_cuts(..., executor=...)``: chunks of queries solved on an executor, cuts built on the caller.

Each task carries the network's *structure* (a :class:`~tnconv.mincut.flow.CutProblem` over a
shape-only copy of the network, with its tree solver: no weights) and a chunk of queries as packed
bit masks.
Each worker checks every labelling against the optimum exactly as the serial path does and returns
records (bound, packed labelling, severed bonds and copy tensors); the caller wraps them into
:class:`~tnconv.mincut.result.MinCut` objects on its own network, so the results equal the serial ones.
The executor machinery (serial, ``concurrent.futures``, dask, retries) is
:func:`tnconv._core.executors.map_chunks`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .._core.executors import map_chunks
from .batch import Record, build_cuts, solve_masks
from .flow import CutProblem

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


def solve_chunk(prob: CutProblem, method: str, flow_func: Any, items: list[_Item]) -> list[Record]:
    """The records (:data:`~tnconv.mincut.batch.Record`) of a chunk of packed queries."""
    P = prob.n_open
    on = np.stack([_unpack(a, P) for a, _ in items], axis=1)
    free = None
    if any(b is not None for _, b in items):
        other = np.stack([_unpack(b, P) if b is not None else ~on[:, k] for k, (_, b) in enumerate(items)], axis=1)
        free = ~(on | other)
    return solve_masks(prob, on, free, method, flow_func)


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
    recs = map_chunks(partial(solve_chunk, shipped(prob, method), method, flow_func), items, executor,
                      chunk_size, progress=progress)
    return build_cuts(prob, q, 0, recs)
