"""``min_cuts(..., executor=...)``: chunks of queries solved on an executor, cuts built on the caller.

Each task carries the network's *structure* (a :class:`~tnconv.mincut.flow.CutProblem` over a
shape-only copy of the network, with its tree solver: no weights) and a chunk of queries as packed
bit masks.
Each worker checks every labelling against the optimum exactly as the serial path does and returns
records (bound, packed labelling, severed bonds and copy tensors); the caller wraps them into
:class:`~tnconv.mincut.result.MinCut` objects on its own network, so the results equal the serial ones.
The executor machinery (serial, ``concurrent.futures``, dask, retries of chunks lost to a dead
worker) is :func:`tnconv._core.executors.run_tasks`, as under :func:`tnconv.sweep`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .._core.executors import ProgressBar, chunk_ranges, run_tasks
from .._core.executors import prepare as prepare_options
from .batch import Record, build_cuts, solve_masks
from .flow import CutProblem

__all__ = ["shipped", "solve_distributed"]

_Item = tuple[bytes, "bytes | None"]
# Resubmissions of a chunk lost to a dead worker (as tnconv.sweep).
_RETRIES = 3


def shipped(prob: CutProblem, method: str) -> CutProblem:
    """A copy of ``prob`` for workers: the same structure over a shape-only network (no arrays), with
    the tree solver built once here when the tree DP is used."""
    if method == "tree":
        prob.tree_solver()
    return prob.structure_copy()


def _unpack(bits: bytes, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n).astype(bool)


def solve_chunk(prob: CutProblem, method: str, flow_func: Any, items: list[_Item]) -> tuple:
    """A chunk of packed queries, solved: one compact block (a few arrays, cheap to send back) with
    the bounds, packed labellings (rows), solvers, and the severed bonds and copy tensors
    concatenated with their counts."""
    P = prob.n_open
    on = np.stack([_unpack(a, P) for a, _ in items], axis=1)
    free = None
    if any(b is not None for _, b in items):
        other = np.stack([_unpack(b, P) if b is not None else ~on[:, k] for k, (_, b) in enumerate(items)], axis=1)
        free = ~(on | other)
    recs = solve_masks(prob, on, free, method, flow_func)
    bounds = [r[0] for r in recs]
    packed = np.stack([r[1] for r in recs])
    methods = [r[4] for r in recs]
    e_n = np.array([r[2].size for r in recs], dtype=np.int64)
    h_n = np.array([r[3].size for r in recs], dtype=np.int64)
    e_all = np.concatenate([r[2] for r in recs]) if recs else np.zeros(0, np.int64)
    h_all = np.concatenate([r[3] for r in recs]) if recs else np.zeros(0, np.int64)
    return bounds, packed, methods, e_n, e_all, h_n, h_all


def _records(block: tuple) -> list[Record]:
    bounds, packed, methods, e_n, e_all, h_n, h_all = block
    es = np.split(e_all, np.cumsum(e_n)[:-1]) if len(bounds) else []
    hs = np.split(h_all, np.cumsum(h_n)[:-1]) if len(bounds) else []
    return [(b, packed[k], es[k], hs[k], m) for k, (b, m) in enumerate(zip(bounds, methods))]


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
    fn = partial(solve_chunk, shipped(prob, method), method, flow_func)
    backend = prepare_options(fn, executor, chunk_size, _RETRIES, progress)
    chunks = chunk_ranges(len(items), chunk_size, backend)
    blocks: list[Any] = [None] * len(chunks)
    bar = ProgressBar(len(items), progress, "min_cuts")

    def on_result(i: int, value: tuple) -> None:
        blocks[i] = value
        bar.update(len(value[0]))

    def on_failure(i: int, exc: Exception) -> None:
        raise exc

    try:
        run_tasks(backend, fn, [(items[c.start : c.stop],) for c in chunks], _RETRIES, on_result, on_failure)
    finally:
        bar.close()
    return build_cuts(prob, q, 0, [r for block in blocks for r in _records(block)])
