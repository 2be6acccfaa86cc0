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

This module holds the engine's tuning (:data:`CHUNK_BYTES` and the row limits), the band schedule
(:func:`schedule`), its memory bound (:func:`live_bytes`) and the driver (:func:`run_levels`), which
read the tuning from here (so setting these names here changes all of them at once). The level order
of a tree is :mod:`tnconv.contract.level_order`; what one task runs, and the worker threads, are
:mod:`tnconv.contract.level_tasks`.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._core.options import check_budget
from .backends import Backend, blas_threads, n_workers
from .level_order import LevelPlan, level_plan
from .level_tasks import Band, run_task, run_tasks
from .logscale import finish, scale_features
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


# ---------------------------------------------------------------------- driver
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
        band = Band(lo, hi, X, S, np.empty((n_out, B, widths[hi]), dtype=dtype), Sp)
        t0 = time.perf_counter()
        run_tasks(workers, tasks, lambda t, band=band: run_task(model, plan, W, band, feats, E0, log, tiny, *t))
        # Drop the band's input now: held until the next band's output is allocated, it made three band
        # outputs live at once (4% over live_bytes at N = 4096, width 256, where the first is 512 MiB).
        band.X = band.S = None
        if timings is not None:
            timings.append((lo, hi, time.perf_counter() - t0))
        if tiny:
            return None
        X, S = band.P, band.Sp
    return finish(X[0], S[0], np) if log else X[0]
