"""Level-batched execution of a ConvNet over a mode tree.

``levels``: for uniform trees (every leaf at the same depth, one arity and one weight shape per level:
balanced 1D, 2D grids, interleaved), the nodes of a level are ordered so that siblings are adjacent. A
level is then one stacked GEMM ``(n, batch, w_in) @ (n, w_in, w_out)`` followed by pooling groups of
``arity`` consecutive nodes (``prod`` for ConvACs, ``g.reduce`` for any other operator). On the CPU the
level is cut into chunks of a few MiB that worker threads run with single-threaded BLAS; the GEMM output
of a chunk is pooled while it is still in cache, so the full pre-pooling activations never exist.

``nodes``: any tree. Nodes are grouped by height and by (arity, weight shape); each group gathers its
children's activations and runs one stacked GEMM. It replaces the per-node Python loop of the reference
with a handful of calls per height.

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
from .backends import Backend, blas_threads, device_weights, n_workers
from .logscale import finish, leaf_too_small, normalize_, pool_scales, scale_features

__all__ = ["CHUNK_BYTES", "LevelPlan", "level_plan", "run_levels", "run_nodes"]

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
def _level_weights(model: Any, plan: LevelPlan, be: Backend) -> list:
    """Per level: a 2D matrix when the level shares one array, else the list (numpy) or a device stack."""
    ws = model.weights

    def host() -> list:
        out = []
        for level in plan.levels:
            first = ws[level[0]]
            out.append(first if all(ws[v] is first for v in level) else [ws[v] for v in level])
        return out

    if be.is_numpy:
        # Stacked per chunk at run time, so in-place edits of weights are always seen.
        return host()
    key = tuple(id(ws[v]) for level in plan.levels for v in level)

    def build(backend: Backend) -> list:
        return [backend.asarray(w if not isinstance(w, list) else np.stack(w)) for w in host()]

    return device_weights(model, be, ("levels", key), build)


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


def run_levels(model: Any, feats: Any, be: Backend, log: bool = False, workers: int | None = None) -> Any:
    """Evaluate ``model`` level by level (uniform trees). See the module docstring.

    Parameters
    ----------
    model : ConvNet
    feats : array (batch, n_inputs, M), already validated and cast
    be : Backend
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
        If the tree does not allow level batching (see :func:`level_plan`).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> from tnconv.contract.backends import get_backend
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((4, 8, 2))
    >>> bool(np.allclose(run_levels(net, F, get_backend("numpy"), workers=2), net.forward(F, engine="reference")))
    True
    """
    plan = level_plan(model)
    W = _level_weights(model, plan, be)
    if be.is_numpy:
        if workers is None:
            workers = n_workers()
        elif isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        # Multi-threaded BLAS on these small GEMMs is 5-10x slower than one thread (measured); the
        # parallelism comes from the worker threads instead.
        with blas_threads(1):
            return _run(model, plan, W, feats, be.xp, log, workers)
    return _run(model, plan, W, feats, be.xp, log, 0)


def _run(model: Any, plan: LevelPlan, W: list, feats: Any, xp: Any, log: bool, workers: int) -> Any:
    E0: Any = None
    if log:
        feats, E0 = scale_features(feats, xp)
        out = _run_scaled(model, plan, W, feats, E0, xp, log, workers)
        if out is None:  # a tiny feature vector: rescale every vector and start again
            feats, E0 = scale_features(feats, xp, force=True)
            out = _run_scaled(model, plan, W, feats, E0, xp, log, workers)
        return out
    return _run_scaled(model, plan, W, feats, None, xp, log, workers)


def _run_scaled(model: Any, plan: LevelPlan, W: list, feats: Any, E0: Any, xp: Any, log: bool,
                workers: int) -> Any:
    g = model.g
    B = feats.shape[0]
    dtype = feats.dtype
    tiny: list[bool] = []
    X: Any = None
    S: Any = None
    H = len(plan.levels) - 1
    leaf_idx = plan.leaf_order if xp is np else xp.asarray(plan.leaf_order)
    for h, level in enumerate(plan.levels):
        n = len(level)
        a = plan.arity[h + 1] if h < H else 1
        w_out = model.widths[level[0]]
        n_par = n // a
        P = xp.empty((n_par, B, w_out), dtype=dtype)
        # Exponents are integers held in float64: exact, whatever the activations' dtype.
        Sp: Any = xp.empty((n_par, B), dtype=np.float64) if log else None

        # The level's state is bound as defaults: each task sees this level's arrays, never a later one's.
        def task(p0: int, p1: int, b0: int, b1: int, *, h: int = h, a: int = a, w_out: int = w_out,
                 X: Any = X, S: Any = S, P: Any = P, Sp: Any = Sp) -> None:
            n0, n1 = p0 * a, p1 * a
            if h == 0:
                if plan.contiguous:
                    Xc = feats[b0:b1, n0:n1, :].transpose(1, 0, 2)
                else:
                    Xc = feats[b0:b1][:, leaf_idx[n0:n1], :].transpose(1, 0, 2)
            else:
                Xc = X[n0:n1, b0:b1]
            Wl = W[h]
            if isinstance(Wl, list) and Wl[0].size * 4 <= Xc.shape[1] * w_out:
                # Small matrices: stacking them costs less than a Python-level call per node.
                Y = xp.matmul(Xc, np.stack(Wl[n0:n1]))
            elif isinstance(Wl, list):
                # Large matrices: one GEMM per node into a task-local buffer, no stacked weight copy.
                Y = xp.empty((n1 - n0, Xc.shape[1], w_out), dtype=dtype)
                for k in range(n1 - n0):
                    xp.matmul(Xc[k], Wl[n0 + k], out=Y[k])
            elif Wl.ndim == 3:
                Y = xp.matmul(Xc, Wl[n0:n1])
            else:  # one shared matrix: a single GEMM over nodes and batch
                k, bb, wi = Xc.shape
                Y = (xp.ascontiguousarray(Xc).reshape(k * bb, wi) @ Wl).reshape(k, bb, w_out)
            if log:
                s = normalize_(Y, xp)
                if h > 0:
                    s += S[n0:n1, b0:b1]
                elif E0 is not None:
                    s += E0[b0:b1, leaf_idx[n0:n1]].T
                elif leaf_too_small(s, dtype):
                    tiny.append(True)
            if a == 1:
                P[p0:p1, b0:b1] = Y
                if log:
                    Sp[p0:p1, b0:b1] = s
                return
            Yr = Y.reshape(p1 - p0, a, b1 - b0, w_out)
            if log:
                _, Sp[p0:p1, b0:b1] = pool_scales(Yr, s.reshape(p1 - p0, a, b1 - b0), g, xp, out=P[p0:p1, b0:b1])
            elif g.is_product:
                out = P[p0:p1, b0:b1]
                xp.multiply(Yr[:, 0], Yr[:, 1], out=out)
                for j in range(2, a):
                    out *= Yr[:, j]
            else:
                P[p0:p1, b0:b1] = g.reduce(Yr, axis=1)

        tasks = _split(n_par, a, B, w_out, dtype.itemsize, workers)
        if workers > 1 and len(tasks) > 1:
            for f in [_pool(workers).submit(task, *t) for t in tasks]:
                f.result()
        else:
            for t in tasks:
                task(*t)
        if tiny:
            return None
        X, S = P, Sp
    out = X[0]
    if log:
        return finish(out, S[0], xp)
    return out


def _split(n_par: int, a: int, B: int, w: int, item: int, workers: int) -> list[tuple[int, int, int, int]]:
    """Cut a level into (parent range, batch range) tasks of about CHUNK_BYTES of GEMM output each."""
    if workers == 0:  # device backends: one call per level
        return [(0, n_par, 0, B)]
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


# ---------------------------------------------------------------------- any tree
def run_nodes(model: Any, feats: Any, be: Backend, log: bool = False) -> Any:
    """Evaluate any tree, one stacked GEMM per (height, arity, weight shape) group.

    Parameters
    ----------
    model : ConvNet
    feats : array (batch, n_inputs, M), validated and cast
    be : Backend
    log : bool

    Returns
    -------
    array (batch, n_outputs) or a ``(sign, log_abs)`` pair

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> from tnconv.contract.backends import get_backend
    >>> net = tc.ConvNet(((0, 1), 2, (3, 4, 5)), 2, 3, g="relu_sum", seed=0)
    >>> F = np.random.default_rng(0).standard_normal((4, 6, 2))
    >>> bool(np.allclose(run_nodes(net, F, get_backend("numpy")), net.forward(F, engine="reference")))
    True
    """
    if be.is_numpy:
        with blas_threads(1):  # see run_levels: small stacked GEMMs run best single-threaded
            return _run_nodes(model, feats, be, log)
    return _run_nodes(model, feats, be, log)


def _run_nodes(model: Any, feats: Any, be: Backend, log: bool) -> Any:
    tree, xp = model.tree, be.xp
    groups = _groups(model)
    ws = model.weights
    if be.is_numpy:
        stacks = [None] * len(groups)
    else:
        key = tuple(id(ws[v]) for v in tree.nodes)

        def build(backend: Backend) -> list:
            return [backend.asarray(np.stack([ws[v] for v in nodes])) for _, nodes in groups]

        stacks = device_weights(model, be, ("nodes", key), build)
    E0: Any = None
    if log:
        feats, E0 = scale_features(feats, xp)
        out = _run_groups(model, feats, E0, xp, log, groups, stacks)
        if out is None:  # a tiny feature vector: rescale every vector and start again
            feats, E0 = scale_features(feats, xp, force=True)
            out = _run_groups(model, feats, E0, xp, log, groups, stacks)
        return out
    return _run_groups(model, feats, None, xp, log, groups, stacks)


def _run_groups(model: Any, feats: Any, E0: Any, xp: Any, log: bool, groups: list, stacks: list) -> Any:
    tree, g, ws = model.tree, model.g, model.weights
    acts: dict = {}
    scales: dict = {}
    for gi, ((arity, _), nodes) in enumerate(groups):
        if arity == 0:
            idx = xp.asarray(np.array([next(iter(v)) for v in nodes], dtype=np.intp))
            X = feats[:, idx, :].transpose(1, 0, 2)
            S: Any = None if E0 is None else E0[:, idx].T
        else:
            kids = [tree.children(v) for v in nodes]
            slots = [xp.stack([acts.pop(k[j]) for k in kids]) for j in range(arity)]
            if log:
                sl = xp.stack([xp.stack([scales.pop(k[j]) for k in kids]) for j in range(arity)], axis=1)
                X, S = pool_scales(xp.stack(slots, axis=1), sl, g, xp)
            else:
                X = g.fold(slots) if not g.is_product else _prod(slots)
        Wst = stacks[gi] if stacks[gi] is not None else np.stack([ws[v] for v in nodes])
        Y = xp.matmul(X, Wst)
        if log:
            s = normalize_(Y, xp)
            if arity == 0 and E0 is None and leaf_too_small(s, Y.dtype):
                return None
            S = s if S is None else s + S
        for k, v in enumerate(nodes):
            acts[v] = Y[k]
            if log:
                scales[v] = S[k]
    out = acts[tree.root]
    if log:
        return finish(out, scales[tree.root], xp)
    return out


def _prod(slots: list) -> Any:
    out = slots[0] * slots[1]
    for x in slots[2:]:
        out *= x
    return out


def _groups(model: Any) -> list:
    tree = model.tree
    cached = model.__dict__.get("_tnconv_node_groups")
    if cached is not None and cached[0] is tree and cached[1] == _shape_key(model):
        return cached[2]
    out: list = []
    for level in tree.levels():
        by: dict = {}
        for v in level:
            by.setdefault((len(tree.children(v)), model.weight_shape(v)), []).append(v)
        out.extend((k, tuple(v)) for k, v in by.items())
    model.__dict__["_tnconv_node_groups"] = (tree, _shape_key(model), out)
    return out
