"""What one task of the level engine runs, and the worker threads that run the tasks of a band.

A task (:func:`run_task`) takes a few consecutive subtrees of a band (:func:`tnconv.contract.levels.schedule`)
over a block of samples and runs every level of the band on them while they are in cache: the stacked
GEMM of a level, pooling groups of ``arity`` consecutive nodes in place, the next level's GEMM on the
pooled result, and so on, writing only the band's top activations into the band's output
(:class:`Band`). :func:`run_tasks` hands the tasks to worker threads (the caller one of them) that run
single-threaded BLAS.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .level_order import LevelPlan
from .logscale import leaf_too_small, normalize_, pool_scales

__all__ = ["Band", "run_task", "run_tasks"]

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    # One pool per worker count, never shut down while another caller might be using it.
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tnconv")
        return pool


@dataclass
class Band:
    """What the tasks of one band share: inputs ``X``/``S`` (the band below), outputs ``P``/``Sp``.

    Attributes
    ----------
    lo, hi : int
        The band runs levels ``lo`` to ``hi`` (inclusive).
    X : array or None
        The pooled output of the band below, ``(nodes of level lo, batch, width)`` (None for the leaf band).
    S : array or None
        In log mode, the power-of-two exponents of ``X``, ``(nodes, batch)``.
    P : numpy.ndarray
        The band's output, ``(output nodes, batch, width of level hi)``, written by the tasks.
    Sp : array or None
        In log mode, the exponents of ``P``.

    Examples
    --------
    >>> band = Band(0, 2, None, None, np.empty((1, 5, 1)), None)
    >>> band.P.shape
    (1, 5, 1)
    """

    lo: int
    hi: int
    X: Any
    S: Any
    P: np.ndarray
    Sp: Any


# Measured and rejected for small widths (one thread, CPU time, float64 unless said; 2026-12-02, shared
# 2-core EPYC, SkylakeX kernel), so the level stays one stacked np.matmul and an in-place multiply:
# - np.einsum("nbi,nio->nbo") (with or without a precomputed path it is one pairwise term, which numpy
#   runs in its own loop, not BLAS): 1.6 GFLOP/s against 20-26 for the stacked matmul at width 16.
# - Block-diagonal GEMMs of 2 or 4 nodes (one (rows, g*r) @ (g*r, g*r) call instead of g calls): the
#   call overhead saved is less than the g-fold flops, 2.22 / 5.16 ms against 1.37 ms for 256 nodes of
#   (256, 16) @ (16, 16), before the relayout they would need; float32 0.91 / 2.55 against 0.55 ms.
# - The transposed layout (W^T @ X^T per node, samples as the GEMM's N): 12-32 against 21-26 GFLOP/s
#   at width 16 depending on the shape, no better on balance, and it would change every level's layout.
# - Pooling: np.prod(axis=1, out=) 697 us and a contiguous output buffer 689 us against 281 us for the
#   in-place multiply into the first child (64 parents of 4 children, 64 rows, width 64, in cache); a
#   pairwise tree of multiplies 273 us (the same traffic). At width 16 pooling is 2.5 of 12 ms.
# - 2D leaf gathers: per task, a sorted take then an in-cache permutation (6.4 ms) or a strided block copy
#   then a Morton-order transpose (5.8 ms), against 3.7 ms for one np.take in the tree's leaf order
#   (32 x 32 image, 256 samples, 64 rows x 64 leaves per task). The leaf GEMM (K = M = 8, about 17
#   GFLOP/s) stays what bounds the 2D leaf band; 32 / 64 / 128 / 256 rows per task gave 54 / 45 / 43 /
#   59 ms for the whole 32 x 32 width-64 forward, within the noise of that run, so rows stay at 64.
#   Taking the leaves in runs of two (2x2 windows pair inputs 2i, 2i+1: half the pieces, each twice as
#   long) gave 13.6 against 13.0 ms (32 x 32, width 16) and 58.8 against 56.2 ms (width 64): no gain.
#   Copying each task's leaves as one square of the image (2x2 windows: runs of side * M entries) and
#   putting them in the tree's order by a (2,) * 2k-axis view alone: the copy took 6.5 against 7.6 ms,
#   but np.matmul over that many-axis batch ran the leaf GEMM at half speed (6.5 against 3.0 ms), 18.8
#   against 14.6 ms in all (32 x 32, width 16, float64, one worker).
def _gemm(Wl: Any, Xc: np.ndarray, n0: int, n1: int) -> np.ndarray:
    if not isinstance(Wl, list):
        return np.matmul(Xc, Wl if Wl.ndim == 2 else Wl[n0:n1])
    if Wl[0].size * 4 <= Xc.shape[1] * Wl[0].shape[1]:
        # Small matrices: stacking them (in cache) costs less than a Python-level call per node.
        return np.matmul(Xc, np.stack(Wl[n0:n1]))
    Y = np.empty((n1 - n0, Xc.shape[1], Wl[0].shape[1]), dtype=Xc.dtype)
    for k in range(n1 - n0):
        np.matmul(Xc[k], Wl[n0 + k], out=Y[k])
    return Y


def _pool_chunk(g: Any, Y: np.ndarray, s: Any, a: int, dest: Any) -> tuple[Any, Any]:
    """Pool groups of ``a`` consecutive nodes of ``Y`` (in place where possible), into ``dest`` if given."""
    if a == 1:
        if dest is not None:
            dest[...] = Y
            return dest, s
        return Y, s
    k, b, w = Y.shape
    Yr = Y.reshape(k // a, a, b, w)
    if s is not None:
        return pool_scales(Yr, s.reshape(k // a, a, b), g, np, out=dest)
    if g.is_product:
        out = Yr[:, 0] if dest is None else dest
        np.multiply(Yr[:, 0], Yr[:, 1], out=out)
        for j in range(2, a):
            out *= Yr[:, j]
        return out, None
    red = g.reduce(Yr, axis=1)
    if dest is not None:
        dest[...] = red
        return dest, None
    return red, None


def _leaf_block(feats: np.ndarray, plan: LevelPlan, b0: int, b1: int, n0: int, n1: int) -> np.ndarray:
    """The features of leaves ``n0:n1`` over samples ``b0:b1`` as a ``(leaves, samples, M)`` view.

    The block is copied in the features' own layout (``rows`` runs of ``(n1 - n0) * M`` contiguous
    entries, read at memory speed) into a buffer whose rows are padded by one cache line, and handed to
    the GEMM as a transposed view: BLAS packs its ``A`` operand anyway, and reads the strided rows from
    cache. Transposing while copying (the former ``ascontiguousarray(sel.transpose(1, 0, 2))``) read
    64-byte pieces ``n_inputs * M`` entries apart straight from memory, out of reach of the prefetchers:
    at width 16 that copy took 11 of the forward's 31 ms and this one 2.5 ms (forward 24.0 -> 12.6 ms
    CPU time, one worker, N = 1024, float64, batch 256; width 64: 106 -> 90 ms). The padding keeps the
    rows, a power of two apart without it, off a few cache sets (12.8 against 12.1 ms at width 16,
    90 against 98 ms at width 64: within noise at 16, kept for 64).
    """
    M = feats.shape[2]
    k = (n1 - n0) * M
    buf = np.empty((b1 - b0, k + 64 // feats.itemsize), dtype=feats.dtype)
    dst = buf[:, :k].reshape(b1 - b0, n1 - n0, M)
    if plan.contiguous:
        dst[...] = feats[b0:b1, n0:n1, :]
    else:
        # mode="clip": the indices are valid, and "raise" would buffer the output once more
        np.take(feats[b0:b1], plan.leaf_order[n0:n1], axis=1, out=dst, mode="clip")
    return dst.transpose(1, 0, 2)


def run_task(model: Any, plan: LevelPlan, W: list, band: Band, feats: np.ndarray, E0: Any, log: bool,
             tiny: list, q0: int, q1: int, b0: int, b1: int) -> None:
    """One task: levels ``band.lo..band.hi`` for the subtrees of output nodes ``q0:q1``, samples ``b0:b1``.

    Parameters
    ----------
    model : ConvNet
    plan : LevelPlan
    W : list
        The weights of each level (:func:`tnconv.contract.stacks.group_weights`).
    band : Band
        Read from ``band.X``/``band.S``, written to ``band.P``/``band.Sp``.
    feats : numpy.ndarray
        The features, ``(batch, n_inputs, M)``.
    E0 : array or None
        In log mode, the exponents of rescaled features (:func:`tnconv.contract.logscale.scale_features`).
    log : bool
        Whether to carry power-of-two exponents.
    tiny : list
        ``True`` is appended (and the task stops) when a leaf activation is too small for log mode
        without rescaled features.
    q0, q1, b0, b1 : int
        The output nodes and samples of the task (:func:`tnconv.contract.levels.schedule`).

    Examples
    --------
    One task covering a whole small network in one band:

    >>> import tnconv as tc
    >>> from tnconv.contract.level_order import level_plan
    >>> from tnconv.contract.stacks import group_weights
    >>> net = tc.deep(4, 2, 3, seed=0)
    >>> plan = level_plan(net)
    >>> F = np.random.default_rng(0).standard_normal((5, 4, 2))
    >>> band = Band(0, len(plan.levels) - 1, None, None, np.empty((1, 5, 1)), None)
    >>> run_task(net, plan, group_weights(net, plan.levels, "levels"), band, F, None, False, [], 0, 1, 0, 5)
    >>> bool(np.allclose(band.P[0], net.forward(F, engine="nodes")))
    True
    """
    H = len(plan.levels) - 1
    lo, hi = band.lo, band.hi
    F = len(plan.levels[lo]) // (len(plan.levels[hi + 1]) if hi < H else 1)
    n0, n1 = q0 * F, q1 * F
    s: Any = None
    if lo == 0:
        X = _leaf_block(feats, plan, b0, b1, n0, n1)
    else:
        X = band.X[n0:n1, b0:b1]
        if log:
            s = band.S[n0:n1, b0:b1]
    for h in range(lo, hi + 1):
        a = plan.arity[h + 1] if h < H else 1
        Y = _gemm(W[h], X, n0, n1)
        if log:
            k = normalize_(Y, np)
            if h > 0:
                k += s
            elif E0 is not None:
                k += E0[b0:b1, plan.leaf_order[n0:n1]].T
            elif leaf_too_small(k, Y.dtype):
                tiny.append(True)
                return
            s = k
        dest = band.P[q0:q1, b0:b1] if h == hi else None
        X, s = _pool_chunk(model.g, Y, s, a, dest)
        n0, n1 = n0 // a, n1 // a
    if log:
        band.Sp[q0:q1, b0:b1] = s


def run_tasks(workers: int, tasks: list, fn: Any) -> None:
    """Run ``fn`` on every task: ``workers`` threads (the caller one of them) take tasks in turn.

    Parameters
    ----------
    workers : int
        Threads at most (one of them the caller's); the others come from a pool kept per count.
    tasks : list
    fn : callable
        Called once per task, from any of the threads, with numpy's error state of the caller.

    Examples
    --------
    >>> done = []
    >>> run_tasks(2, [1, 2, 3], lambda t: done.append(t * t))
    >>> sorted(done)
    [1, 4, 9]
    """
    if workers == 1 or len(tasks) == 1:
        for t in tasks:
            fn(t)
        return
    it = iter(tasks)
    lock = threading.Lock()
    err = np.geterr()  # numpy's error state is per thread: the workers take the caller's

    def drain() -> None:
        with np.errstate(**err):
            while True:
                with lock:
                    t = next(it, None)
                if t is None:
                    return
                fn(t)

    pool = _pool(workers - 1)
    futures = [pool.submit(drain) for _ in range(min(workers, len(tasks)) - 1)]
    try:
        drain()
    finally:
        for f in futures:
            f.result()
