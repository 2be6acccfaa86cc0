"""Level-batched execution of a ConvNet over a mode tree.

``levels``: for uniform trees (every leaf at the same depth, one arity and one weight shape per level:
balanced 1D, 2D grids, interleaved), the nodes of a level are ordered so that siblings are adjacent. A
level is then one stacked GEMM ``(n, batch, w_in) @ (n, w_in, w_out)`` followed by pooling groups of
``arity`` consecutive nodes (``prod`` for ConvACs, ``g.reduce`` for any other operator). On the CPU the
level is cut into chunks of a few MiB that worker threads run with single-threaded BLAS; the GEMM output
of a chunk is pooled while it is still in cache, so the full pre-pooling activations never exist.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..trees import format_node
from .backends import Backend, blas_threads, n_workers
from .logscale import finish, leaf_too_small, normalize_, pool_scales, scale_features

__all__ = ["CHUNK_BYTES", "LevelPlan", "level_plan", "run_levels"]

#: Target size of one CPU task's GEMM output. Small enough to stay in L2/L3 while it is pooled.
CHUNK_BYTES = 1 << 20


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


# ---------------------------------------------------------------------- weights
def _level_weights(model: Any, plan: LevelPlan) -> list:
    """Per level: one 2D matrix when the level shares one array, else the list of its matrices.

    Stacked per chunk at run time, so in-place edits of weights are always seen.
    """
    ws = model.weights
    out = []
    for level in plan.levels:
        first = ws[level[0]]
        out.append(first if all(ws[v] is first for v in level) else [ws[v] for v in level])
    return out


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
               workers: int | None = None) -> Any:
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
    W = _level_weights(model, plan)
    if workers is None:
        workers = n_workers()
    elif isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    # Multi-threaded BLAS on these small GEMMs is 5-10x slower than one thread (measured); the
    # parallelism comes from the worker threads instead.
    with blas_threads(1):
        if not log:
            return _run_scaled(model, plan, W, feats, None, False, workers)
        feats, E0 = scale_features(feats, np)
        out = _run_scaled(model, plan, W, feats, E0, True, workers)
        if out is None:  # a tiny feature vector: rescale every vector and start again
            feats, E0 = scale_features(feats, np, force=True)
            out = _run_scaled(model, plan, W, feats, E0, True, workers)
        return out


@dataclass
class _Level:
    """The state one level's tasks share: inputs ``X``/``S`` (previous level), outputs ``P``/``Sp``."""

    h: int
    a: int
    w_out: int
    W: Any
    X: Any
    S: Any
    P: np.ndarray
    Sp: Any


def _gemm(lv: _Level, Xc: np.ndarray, n0: int, n1: int) -> np.ndarray:
    Wl = lv.W
    if isinstance(Wl, list) and Wl[0].size * 4 <= Xc.shape[1] * lv.w_out:
        # Small matrices: stacking them costs less than a Python-level call per node.
        return np.matmul(Xc, np.stack(Wl[n0:n1]))
    if isinstance(Wl, list):
        # Large matrices: one GEMM per node into a task-local buffer, no stacked weight copy.
        Y = np.empty((n1 - n0, Xc.shape[1], lv.w_out), dtype=Xc.dtype)
        for k in range(n1 - n0):
            np.matmul(Xc[k], Wl[n0 + k], out=Y[k])
        return Y
    if Wl.ndim == 3:
        return np.matmul(Xc, Wl[n0:n1])
    k, bb, wi = Xc.shape  # one shared matrix: a single GEMM over nodes and batch
    return (np.ascontiguousarray(Xc).reshape(k * bb, wi) @ Wl).reshape(k, bb, lv.w_out)


def _task(model: Any, plan: LevelPlan, lv: _Level, feats: np.ndarray, E0: Any, log: bool, tiny: list,
          p0: int, p1: int, b0: int, b1: int) -> None:
    """One chunk: GEMM of ``a * (p1 - p0)`` nodes over the batch rows ``b0:b1``, then their pooling."""
    a, n0, n1 = lv.a, p0 * lv.a, p1 * lv.a
    if lv.h == 0:
        sel = feats[b0:b1, n0:n1, :] if plan.contiguous else feats[b0:b1][:, plan.leaf_order[n0:n1], :]
        Xc = sel.transpose(1, 0, 2)
    else:
        Xc = lv.X[n0:n1, b0:b1]
    Y = _gemm(lv, Xc, n0, n1)
    s: Any = None
    if log:
        s = normalize_(Y, np)
        if lv.h > 0:
            s += lv.S[n0:n1, b0:b1]
        elif E0 is not None:
            s += E0[b0:b1, plan.leaf_order[n0:n1]].T
        elif leaf_too_small(s, Y.dtype):
            tiny.append(True)
    if a == 1:
        lv.P[p0:p1, b0:b1] = Y
        if log:
            lv.Sp[p0:p1, b0:b1] = s
        return
    Yr = Y.reshape(p1 - p0, a, b1 - b0, lv.w_out)
    out = lv.P[p0:p1, b0:b1]
    if log:
        _, lv.Sp[p0:p1, b0:b1] = pool_scales(Yr, s.reshape(p1 - p0, a, b1 - b0), model.g, np, out=out)
    elif model.g.is_product:
        np.multiply(Yr[:, 0], Yr[:, 1], out=out)
        for j in range(2, a):
            out *= Yr[:, j]
    else:
        out[...] = model.g.reduce(Yr, axis=1)


def _run_scaled(model: Any, plan: LevelPlan, W: list, feats: np.ndarray, E0: Any, log: bool,
                workers: int) -> Any:
    B, dtype = feats.shape[0], feats.dtype
    tiny: list[bool] = []
    X: Any = None
    S: Any = None
    H = len(plan.levels) - 1
    for h, level in enumerate(plan.levels):
        a = plan.arity[h + 1] if h < H else 1
        w_out = model.widths[level[0]]
        n_par = len(level) // a
        # Exponents are integers held in float64: exact, whatever the activations' dtype.
        Sp = np.empty((n_par, B), dtype=np.float64) if log else None
        lv = _Level(h, a, w_out, W[h], X, S, np.empty((n_par, B, w_out), dtype=dtype), Sp)
        tasks = _split(n_par, a, B, w_out, dtype.itemsize, workers)
        if workers > 1 and len(tasks) > 1:
            pool = _pool(workers)
            for f in [pool.submit(_task, model, plan, lv, feats, E0, log, tiny, *t) for t in tasks]:
                f.result()
        else:
            for t in tasks:
                _task(model, plan, lv, feats, E0, log, tiny, *t)
        if tiny:
            return None
        X, S = lv.P, lv.Sp
    return finish(X[0], S[0], np) if log else X[0]


def _split(n_par: int, a: int, B: int, w: int, item: int, workers: int) -> list[tuple[int, int, int, int]]:
    """Cut a level into (parent range, batch range) tasks of about CHUNK_BYTES of GEMM output each."""
    per_parent = a * B * w * item
    total = n_par * per_parent
    n_tasks = max(1, min(int(total // CHUNK_BYTES), 4096))
    if total >= 4 * 65536:
        n_tasks = max(n_tasks, workers)
    if n_tasks <= n_par:
        step = -(-n_par // n_tasks)
        return [(p, min(p + step, n_par), 0, B) for p in range(0, n_par, step)]
    # Few parents (top of the tree) but much work: split the batch too.
    per_node = -(-n_tasks // n_par)
    bstep = max(1, -(-B // per_node))
    return [(p, p + 1, b, min(b + bstep, B)) for p in range(n_par) for b in range(0, B, bstep)]
