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

# Resubmissions of a chunk lost to a dead worker (as tnconv.sweep).
_RETRIES = 3


def shipped(prob: CutProblem, method: str) -> CutProblem:
    """A copy of ``prob`` for workers: the same structure over a shape-only network (no arrays), with
    the tree solver built once here when the tree DP is used."""
    if method == "tree":
        prob.tree_solver()
    return prob.structure_copy()


def solve_chunk(prob: CutProblem, method: str, flow_func: Any, on_bits: np.ndarray,
                other_bits: np.ndarray | None) -> tuple:
    """A chunk of packed queries (rows of ``on_bits``; ``other_bits`` for A|B queries), solved: one compact
    block (a few arrays, cheap to send back) with the bounds, packed labellings (rows), solvers, and the
    severed bonds and copy tensors concatenated with their counts."""
    P = prob.n_open
    on = np.unpackbits(on_bits, axis=1, count=P).astype(bool).T
    free = None
    if other_bits is not None:
        free = ~(on | np.unpackbits(other_bits, axis=1, count=P).astype(bool).T)
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


def solve_distributed(prob: CutProblem, q: Any, method: str, flow_func: Any, executor: Any,
                      chunk_size: int | None, progress: bool) -> list:
    """The cuts of all queries ``q`` (a :class:`~tnconv.mincut.batch.Queries`), solved in chunks on ``executor``."""
    fn = partial(solve_chunk, shipped(prob, method), method, flow_func)
    backend = prepare_options(fn, executor, chunk_size, _RETRIES, progress)
    chunks = chunk_ranges(len(q), chunk_size, backend)
    blocks: list[Any] = [None] * len(chunks)
    bar = ProgressBar(len(q), progress, "min_cuts")

    def on_result(i: int, value: tuple) -> None:
        blocks[i] = value
        bar.update(len(value[0]))

    def on_failure(i: int, exc: Exception) -> None:
        raise exc

    try:
        run_tasks(backend, fn, [q.packed(c.start, c.stop) for c in chunks], _RETRIES, on_result, on_failure)
    finally:
        bar.close()
    return build_cuts(prob, q, 0, [r for block in blocks for r in _records(block)])
