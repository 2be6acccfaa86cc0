"""Level-batched execution of a ConvNet over a mode tree.

``levels``: for uniform trees (every leaf at the same depth, one arity and one weight shape per level:
balanced 1D, 2D grids, interleaved), the nodes of a level are ordered so that siblings are adjacent. A
level is then one stacked GEMM ``(n, batch, w_in) @ (n, w_in, w_out)`` followed by pooling groups of
``arity`` consecutive nodes (``prod`` for ConvACs, ``g.reduce`` for any other operator).

Levels are fused into *bands*: one CPU task takes a few consecutive subtrees over a block of samples and
runs every level of the band on them (GEMM, pooling, the next GEMM on the pooled result, ...) while they
are in cache, writing only the band's top activations. The pre-pooling activations, and the activations
of all levels inside a band, never reach memory: for N = 1024 inputs of width 64 the memory traffic drops
from about 2.5x the activations of the first level (every level written and read back) to the features
plus a few small band outputs. Tasks are sized by :data:`CHUNK_BYTES` (the GEMM output of the band's
bottom level in one task) and handed to worker threads that run single-threaded BLAS; the weights of a
level are used as the model stores them, one buffer per level (:mod:`tnconv.contract.stacks`), without a
copy per call.

An alternative fusion of the leaf level with the first pooling, through the Kronecker product of two
feature vectors (``(x_a (x) x_b) @ (KR(W_a, W_b) W_1)``, one GEMM with ``K = M**2``), was measured here and
rejected: in cache it runs at the same speed as the leaf GEMM, the product and the level-1 GEMM together
(91 against 94 us per pair at M = 8, width 64, batch 256, float64), needs an ``M**2 x w`` matrix per pair
and, for windows of four, ``M**4`` columns. Banding removes the memory traffic it was meant to remove.

This is the numpy fast path (threads, in-place pooling, ``out=`` GEMMs). Every other namespace, and
every tree that is not uniform, runs the generic array-API executor
(:func:`tnconv.contract.engine.run_generic`); ``tests/test_contract.py`` shows that both agree.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.options import check_budget
from ..trees import format_node
from .backends import Backend, blas_threads, n_workers
from .logscale import finish, leaf_too_small, normalize_, pool_scales, scale_features
from .stacks import group_weights

__all__ = ["CHUNK_BYTES", "LevelPlan", "level_plan", "live_bytes", "run_levels", "schedule"]

#: Target size of the GEMM output of a task's bottom level: small enough that the band stays in cache.
CHUNK_BYTES = 1 << 21

#: Fewest samples per task: fewer make the GEMMs too small for BLAS to run at speed.
MIN_ROWS = 16
#: Most samples per task: ``max(MAX_ROWS, width)``, and :data:`SMALL_ROWS` for widths up to
#: :data:`SMALL_WIDTH`. More make the bands shallow; measured best at 64 for width 64 and at 256 for
#: width 256.
MAX_ROWS = 64
#: At widths up to ``SMALL_WIDTH`` a node's GEMM is too small for BLAS to reach speed on few rows, and
#: the Python and BLAS call overhead per node is paid once per row block: tasks take up to ``SMALL_ROWS``
#: samples (N = 1024, float64, batch 256, one worker, CPU time: width 16, 17.3 ms at 128 rows and 12.6 ms
#: at 256; width 32, 38.0 / 28.4 / 26.2 ms at 64 / 128 / 256 rows; width 64 stays best at 64 rows,
#: 90 against 97 ms at 256).
SMALL_WIDTH = 32
SMALL_ROWS = 256


@dataclass(frozen=True)
class LevelPlan:
    """The level order of a uniform tree.

    Attributes
    ----------
    levels : list of tuple of frozenset
        ``levels[h]``: the nodes of height ``h``, ordered so that the children of the ``k``-th node of
        level ``h + 1`` are nodes ``k * a .. k * a + a - 1`` of level ``h``.
    arity : list of int
        ``arity[h]``: children per node of level ``h`` (0 at the leaves).
    leaf_order : numpy.ndarray
        Input position of each leaf in ``levels[0]``.
    contiguous : bool
        Whether ``leaf_order`` is ``0..N-1`` (features are then used without a gather).
    """

    levels: list
    arity: list
    leaf_order: np.ndarray
    contiguous: bool


def level_plan(model: Any) -> LevelPlan:
    """The :class:`LevelPlan` of ``model`` (cached on the model).

    Raises
    ------
    ValueError
        If the tree is not uniform or nodes of one level have different weight shapes (the message
        names the level and nodes); use ``engine="nodes"`` for such trees.

    Examples
    --------
    >>> import tnconv as tc
    >>> plan = level_plan(tc.deep(8, 2, 2, pooling="interleaved"))
    >>> plan.arity, plan.leaf_order.tolist(), plan.contiguous
    ([0, 2, 2, 2], [0, 4, 2, 6, 1, 5, 3, 7], False)
    """
    tree = model.tree
    cached = model.__dict__.get("_tnconv_level_plan")
    if cached is not None and cached[0] is tree and cached[1] == _shape_key(model):
        return cached[2]
    if not tree.is_uniform():
        raise ValueError(
            "engine='levels' needs a uniform tree (all leaves at one depth, one arity per level); this tree "
            "is not: use engine='nodes' or 'auto'"
        )
    top = [tree.root]
    order = [tuple(top)]
    arity = [len(tree.children(tree.root))]
    while not tree.is_leaf(top[0]):
        top = [c for v in top for c in tree.children(v)]
        order.append(tuple(top))
        arity.append(len(tree.children(top[0])) if not tree.is_leaf(top[0]) else 0)
    order.reverse()
    arity.reverse()
    for h, level in enumerate(order):
        shapes = {model.weight_shape(v) for v in level}
        if len(shapes) > 1:
            a, b = level[0], next(v for v in level if model.weight_shape(v) != model.weight_shape(level[0]))
            raise ValueError(
                f"engine='levels' needs one weight shape per level, but at height {h} node {format_node(a)} has "
                f"{model.weight_shape(a)} and node {format_node(b)} has {model.weight_shape(b)}; use engine='nodes'"
            )
    leaf_order = np.array([next(iter(v)) for v in order[0]], dtype=np.intp)
    plan = LevelPlan(order, arity, leaf_order, bool(np.array_equal(leaf_order, np.arange(len(leaf_order)))))
    model.__dict__["_tnconv_level_plan"] = (tree, _shape_key(model), plan)
    return plan


def _shape_key(model: Any) -> tuple:
    return (model.n_descriptors, model.n_outputs, tuple(sorted(set(model.widths.values()))))


# ---------------------------------------------------------------------- schedule
def schedule(plan: LevelPlan, widths: list[int], B: int, item: int, workers: int,
             chunk_bytes: int | None = None) -> list[tuple[int, int, list[tuple[int, int, int, int]]]]:
    """Cut the levels into bands and each band into tasks.

    Parameters
    ----------
    plan : LevelPlan
    widths : list of int
        ``widths[h]``: output width of level ``h``.
    B, item, workers : int
        Batch size, bytes per entry, worker threads.
    chunk_bytes : int, optional
        Default :data:`CHUNK_BYTES`.

    Returns
    -------
    list of ``(lo, hi, tasks)``
        Band ``lo..hi`` (inclusive) runs levels ``lo`` to ``hi`` and writes the pooled output of level
        ``hi`` (the root's output for the last band). Each task ``(q0, q1, b0, b1)`` covers output nodes
        ``q0:q1`` of the band over samples ``b0:b1``; the tasks of a band cover each (node, sample) once.

    Examples
    --------
    >>> import tnconv as tc
    >>> plan = level_plan(tc.deep(1024, 8, 64))
    >>> [(lo, hi, len(t)) for lo, hi, t in schedule(plan, [64] * 10 + [1], 256, 8, 2)]
    [(0, 5, 64), (6, 10, 4)]
    """
    budget = CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    H = len(plan.levels) - 1
    n = [len(level) for level in plan.levels]
    cap = max(MAX_ROWS, max(widths))
    if max(widths) <= SMALL_WIDTH:
        cap = max(cap, SMALL_ROWS)
    rows = max(1, min(B, cap, max(MIN_ROWS, budget // max(1, plan.arity[1] if H else 1) // (widths[0] * item))))
    out: list[tuple[int, int, list[tuple[int, int, int, int]]]] = []
    lo = 0
    while lo <= H:
        hi = lo
        # Grow the band while one output node's subtree over `rows` samples fits the budget.
        while hi < H and n[lo] // (n[hi + 2] if hi + 1 < H else 1) * rows * widths[lo] * item <= budget:
            hi += 1
        n_out = n[hi + 1] if hi < H else 1
        per_out = n[lo] // n_out  # bottom nodes under one output node
        t = max(1, budget // max(1, per_out * rows * widths[lo] * item))
        n_blocks = max(1, -(-B // rows))
        groups = -(-n_out // t)
        if groups * n_blocks < workers and B > 1:
            n_blocks = min(B, -(-workers // groups))
        bstep = max(1, -(-B // n_blocks))
        tasks = [(q, min(q + t, n_out), b, min(b + bstep, B)) for q in range(0, n_out, t) for b in range(0, B, bstep)]
        out.append((lo, hi, tasks))
        lo = hi + 1
    return out


def live_bytes(model: Any, B: int, item: int, workers: int, log: bool = False) -> int:
    """The most bytes the level engine holds at once beyond the features: band outputs and task scratch.

    Per band: the band's input and output, plus, for each task running at once (``min(workers, tasks)``),
    its scratch: the copied leaf features of the bottom level, and at every level the GEMM output beside
    its input (the pooled output of the level below, pooled in place). Non-product pooling adds two
    temporaries of the GEMM output's size (the rectified children, and in log mode their rescaled copy)
    and the pooled output, product pooling in log mode one (the magnitudes normalized by
    :func:`~tnconv.contract.logscale.normalize_`) and the partial products; log mode also counts a copy
    of the features (made only for features far from unit scale). Stacked weights of levels whose
    weights are separate arrays are counted too.

    Parameters
    ----------
    model : ConvNet
    B, item, workers : int
        Batch size, bytes per entry, worker threads.
    log : bool
        Whether the forward runs in log mode.

    Returns
    -------
    int
        An upper bound of the peak (measured by ``benchmarks/contraction.py`` against tracemalloc).

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(1024, 8, 64)
    >>> round(live_bytes(net, 256, 8, 1) / 2**20, 2), round(live_bytes(net, 256, 8, 2) / 2**20, 2)  # MiB
    (5.0, 8.0)
    """
    plan = level_plan(model)
    widths = [model.widths[level[0]] for level in plan.levels]
    W = group_weights(model, plan.levels, "levels")
    H = len(plan.levels) - 1
    n = [len(level) for level in plan.levels]
    M = model.n_descriptors
    most, prev = 0, 0
    for lo, hi, tasks in schedule(plan, widths, B, item, workers):
        n_out = n[hi + 1] if hi < H else 1
        out = n_out * B * widths[hi] * item
        if not tasks:  # an empty batch runs no task and holds nothing
            continue
        q0, q1, b0, b1 = tasks[0]  # the first task is the largest
        rows = b1 - b0
        inp = (q1 - q0) * (n[lo] // n_out) * rows * (M + 64 // item if lo == 0 else widths[lo - 1]) * item
        scratch = 0
        for h in range(lo, hi + 1):
            k = (q1 - q0) * (n[h] // n_out)  # nodes of level h in the task
            y = k * rows * widths[h] * item
            a = plan.arity[h + 1] if h < H else 1
            w_in = M if h == 0 else widths[h - 1]
            stacked = k * w_in * widths[h] * item if isinstance(W[h], list) else 0
            temps = 2 * y + y // a if not model.g.is_product else (y + y // a if log else 0)
            scratch = max(scratch, inp + y + stacked + temps)
            inp = y
        most = max(most, prev + out + min(workers, len(tasks)) * scratch)
        prev = out
    return most + (B * model.n_inputs * M * item if log else 0)


# ---------------------------------------------------------------------- executor
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    # One pool per worker count, never shut down while another caller might be using it.
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tnconv")
        return pool


def run_levels(model: Any, feats: np.ndarray, be: Backend | None = None, log: bool = False,
               workers: int | None = None, timings: list | None = None) -> Any:
    """Evaluate ``model`` level by level on numpy: the threaded fast path (uniform trees).

    Other namespaces run the generic executor (:func:`tnconv.contract.engine.run_generic`), which a
    test shows to agree with this path.

    Parameters
    ----------
    model : ConvNet with numpy weights
    feats : numpy array (batch, n_inputs, M), already validated and cast
    be : Backend, optional
        Must be numpy when given (kept for the old signature).
    log : bool
        Return ``(sign, log|h|)``.
    workers : int, optional
        CPU worker threads (default :func:`~tnconv.contract.backends.n_workers`).
    timings : list, optional
        For benchmarks: ``(lo, hi, seconds)`` is appended for every band run.

    Returns
    -------
    array (batch, n_outputs) or a ``(sign, log_abs)`` pair

    Raises
    ------
    ValueError
        If the tree does not allow level batching (see :func:`level_plan`), a bad ``workers``, or a
        backend other than numpy.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((4, 8, 2))
    >>> bool(np.allclose(run_levels(net, F, workers=2), net.forward(F, engine="nodes")))
    True
    """
    if be is not None and not be.is_numpy:
        raise ValueError(f"run_levels is the numpy fast path; backend {be.name!r} runs engine.run_generic")
    plan = level_plan(model)
    W = group_weights(model, plan.levels, "levels")
    if workers is None:
        workers = n_workers()
    elif isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    check_budget(f"the forward's activations (batch {feats.shape[0]})",
                 float(live_bytes(model, feats.shape[0], feats.dtype.itemsize, workers, log)),
                 hint="evaluate the batch in chunks (or as a dask array)")
    # Multi-threaded BLAS on these small GEMMs is 5-10x slower than one thread (measured); the
    # parallelism comes from the worker threads instead.
    with blas_threads(1):
        if not log:
            return _run(model, plan, W, feats, None, False, workers, timings)
        feats, E0 = scale_features(feats, np)
        out = _run(model, plan, W, feats, E0, True, workers, timings)
        if out is None:  # a tiny feature vector: rescale every vector and start again
            feats, E0 = scale_features(feats, np, force=True)
            out = _run(model, plan, W, feats, E0, True, workers, timings)
        return out


@dataclass
class _Band:
    """What the tasks of one band share: inputs ``X``/``S`` (the band below), outputs ``P``/``Sp``."""

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


def _task(model: Any, plan: LevelPlan, W: list, band: _Band, feats: np.ndarray, E0: Any, log: bool,
          tiny: list, q0: int, q1: int, b0: int, b1: int) -> None:
    """One task: levels ``band.lo..band.hi`` for the subtrees of output nodes ``q0:q1``, samples ``b0:b1``."""
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


def _run(model: Any, plan: LevelPlan, W: list, feats: np.ndarray, E0: Any, log: bool, workers: int,
         timings: list | None = None) -> Any:
    B, dtype = feats.shape[0], feats.dtype
    tiny: list[bool] = []
    widths = [model.widths[level[0]] for level in plan.levels]
    X: Any = None
    S: Any = None
    H = len(plan.levels) - 1
    for lo, hi, tasks in schedule(plan, widths, B, dtype.itemsize, workers):
        n_out = len(plan.levels[hi + 1]) if hi < H else 1
        # Exponents are integers held in float64: exact, whatever the activations' dtype.
        Sp = np.empty((n_out, B), dtype=np.float64) if log else None
        band = _Band(lo, hi, X, S, np.empty((n_out, B, widths[hi]), dtype=dtype), Sp)
        t0 = time.perf_counter()
        _run_tasks(workers, tasks, lambda t, band=band: _task(model, plan, W, band, feats, E0, log, tiny, *t))
        # Drop the band's input now: held until the next band's output is allocated, it made three band
        # outputs live at once (4% over live_bytes at N = 4096, width 256, where the first is 512 MiB).
        band.X = band.S = None
        if timings is not None:
            timings.append((lo, hi, time.perf_counter() - t0))
        if tiny:
            return None
        X, S = band.P, band.Sp
    return finish(X[0], S[0], np) if log else X[0]


def _run_tasks(workers: int, tasks: list, fn: Any) -> None:
    """Run ``fn`` on every task: ``workers`` threads (the caller one of them) take tasks in turn."""
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
