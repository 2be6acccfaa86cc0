"""``ConvNet.forward``: one generic array-API executor, plus a threaded numpy fast path.

Engines
-------
``"levels"``
    One stacked GEMM plus one pooling per tree level (uniform trees: balanced 1D, 2D grids,
    interleaved). On numpy this is the threaded fast path of :mod:`tnconv.contract.levels`; on any
    other namespace it is the generic executor (whose groups are then exactly the levels).
``"nodes"``
    The generic executor (:func:`run_generic`): any tree, any array API namespace, nodes grouped by
    height and shape, one stacked GEMM per group. Functional (no in-place writes), so it traces under
    ``jax.jit`` and differentiates under ``jax.grad`` and torch autograd.
``"reference"``
    The generic executor too (kept as a name for ``benchmark_paths``' ``"reference"`` row and for
    callers that ask for the path without the numpy fast path).
``"auto"``
    ``"levels"`` when the tree allows it, ``"nodes"`` otherwise.

Both executors agree to about 1e-12 relative in float64 (``tests/test_contract.py``, which also tests
them against brute-force sums and an independent node-by-node oracle in ``tests/helpers.py``).

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

import contextlib
from itertools import pairwise
from typing import Any

import numpy as np

from .._core.arrays import cached_copy, device_of, is_concrete, is_numpy, namespace, to_namespace
from .._core.options import check_budget
from .._core.validate import check_flag
from ..models.checks import check_features
from ..models.operators import check_log_operator
from ..models.packing import pack_groups
from ..models.parameters import weights_for, weights_namespace
from ..models.protocol import install_hook
from .backends import blas_threads, check_finite_features, resolve_backend
from .dask_forward import forward_dask, is_dask_array
from .levels import level_plan, run_levels
from .logscale import finish, normalize, pool_log
from .stacks import group_weights

__all__ = ["ENGINES", "coefficient_tensor", "node_groups", "run_forward", "run_generic", "select_engine"]

ENGINES = ("auto", "levels", "nodes", "reference")


def select_engine(model: Any, engine: str = "auto") -> str:
    """The engine ``engine="auto"`` resolves to for ``model`` (others are returned unchanged).

    Raises
    ------
    ValueError
        For an unknown engine name.

    Examples
    --------
    >>> import tnconv as tc
    >>> select_engine(tc.deep(8, 2, 2)), select_engine(tc.ConvAC(((0, 1), 2), 2, 2))
    ('levels', 'nodes')
    """
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if engine != "auto":
        return engine
    try:
        level_plan(model)
    except ValueError:
        return "nodes"
    return "levels"


def run_forward(model: Any, features: Any, backend: Any = None, log: bool = False,
                engine: str = "auto") -> Any:
    """Evaluate ``model`` on ``features`` with the chosen engine, in the namespace of the features.

    Parameters
    ----------
    model : ConvNet
    features : array (batch, n_inputs, M)
        Any array API namespace (numpy, CuPy, JAX, torch, array-api-strict); integer features are cast
        to the model's dtype. Numpy weights are moved to the features' device once and cached. A
        ``dask.array`` gives a lazy dask array, one engine call per batch chunk
        (:mod:`tnconv.contract.dask_forward`).
    backend : str or namespace module, optional
        Defaults to the backend of ``features``; when given, it must be theirs.
    log : bool
        Return ``(sign, log|h|)`` with exact power-of-two rescaling after every convolution and inside
        every pooling window (product, relu_max, relu_sum only); see :mod:`tnconv.contract.logscale`.
    engine : {"auto", "levels", "nodes", "reference"}

    Returns
    -------
    array (batch, n_outputs) in the namespace and on the device of ``features``, or a
    ``(sign, log_abs)`` pair.

    Raises
    ------
    ValueError
        Unknown engine or backend, features of the wrong shape or with NaN/inf, ``engine="levels"`` on a
        tree that is not uniform, ``log=True`` with a non-homogeneous pooling operator.
    TypeError
        Features in another namespace than ``backend`` or than weights that are not numpy, features of
        a non-real dtype, ``log`` not a bool.
    ImportError
        ``backend="cupy"`` without CuPy or without a GPU (names ``pip install 'tnconv[gpu]'``).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(16, 3, 4, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((5, 16, 3))
    >>> fast, generic = net.forward(F, engine="levels"), net.forward(F, engine="nodes")
    >>> bool(np.allclose(fast, generic, rtol=1e-12, atol=0))
    True
    >>> sign, logabs = net.forward(F, log=True)
    >>> bool(np.allclose(sign * np.exp(logabs), fast))
    True
    """
    log = check_flag(log, "log")
    engine = select_engine(model, engine)
    if is_dask_array(features):  # lazily, one engine call per batch chunk
        return forward_dask(model, features, run_forward, backend=backend, log=log, engine=engine)
    be = resolve_backend(backend, features if hasattr(features, "shape") else None)
    if log:
        check_log_operator(model.g)
    # A NaN or inf feature reaches every output of its sample through products and sums (inf * 0 is
    # NaN), so the numpy level engine of a ConvAC scans only its small output, and the features only
    # when the output is not finite: one pass over the features less.
    deferred = (engine == "levels" and not log and model.g.is_product and be.is_numpy
                and isinstance(features, np.ndarray))
    feats = check_features(features, model.n_inputs, model.n_descriptors, model.dtype, finite=not deferred)
    if engine == "levels":
        level_plan(model)  # refuses trees that are not uniform, whatever the namespace
    ws = weights_for(model, namespace(feats), feats)
    # The model's own weights: their cached namespace (a scan of N = 1024 inputs' 2047 arrays took 2 ms)
    wxp = weights_namespace(model) if ws is model.weights else namespace(*ws.values())
    if be.is_numpy and is_numpy(wxp):
        if engine == "levels":
            # "invalid" (inf - inf, 0 * inf) follows only an inf: bad features, or an overflow that warned.
            with np.errstate(invalid="ignore") if deferred else contextlib.nullcontext():
                out = run_levels(model, feats, be, log=log)
            if deferred and not np.isfinite(out).all():
                check_finite_features(feats)  # raises, naming the first bad entry, if the features are bad
            return out
        with blas_threads(1):  # small stacked GEMMs run best single-threaded (see levels.run_levels)
            return run_generic(model, feats, ws, log=log)
    return run_generic(model, feats, ws, log=log)


# ---------------------------------------------------------------------- the generic executor
def node_groups(model: Any) -> list:
    """``[((arity, weight shape), nodes), ...]`` bottom-up: the groups of one stacked GEMM each (cached).

    The groups and their order are those in which models store their weights
    (:func:`tnconv.models.packing.pack_groups`), so that numpy weights are used without a copy.
    """
    return _generic_plan(model)[0]


def _generic_plan(model: Any) -> tuple[list, list, list]:
    """``(groups, sources, last use)``: how each group gathers its children's activations (cached).

    ``sources[g][j]`` is where slot ``j`` (the ``j``-th child of every node of group ``g``) comes from:
    ``(src, start, stop, step)`` when those children are a regular slice of group ``src``'s output
    (always the case in uniform trees), else a list of ``(src, position)`` pairs. ``last[g]`` lists the
    groups whose outputs are no longer needed after group ``g``.
    """
    tree = model.tree
    key = (model.n_descriptors, model.n_outputs, tuple(sorted(set(model.widths.values()))))
    cached = model.__dict__.get("_tnconv_node_groups")
    if cached is not None and cached[0] is tree and cached[1] == key:
        return cached[2]
    groups = [((k[1], k[2]), nodes) for k, nodes in pack_groups(tree, model.weight_shape)]
    where = {v: (gi, i) for gi, (_, nodes) in enumerate(groups) for i, v in enumerate(nodes)}
    sources: list = []
    final: dict[int, int] = {}
    for gi, ((arity, _), nodes) in enumerate(groups):
        slots = []
        for j in range(arity):
            refs = [where[tree.children(v)[j]] for v in nodes]
            for src, _ in refs:
                final[src] = gi
            slots.append(_as_slice(refs))
        sources.append(slots)
    last: list = [[] for _ in groups]
    for src, gi in final.items():
        last[gi].append(src)
    plan = (groups, sources, last)
    model.__dict__["_tnconv_node_groups"] = (tree, key, plan)
    return plan


def _as_slice(refs: list) -> Any:
    src = refs[0][0]
    pos = [i for _, i in refs]
    step = pos[1] - pos[0] if len(pos) > 1 else 1
    if step > 0 and all(s == src for s, _ in refs) and all(b - a == step for a, b in pairwise(pos)):
        return (src, pos[0], pos[-1] + 1, step)
    return refs


def _gather(outs: list, source: Any, xp: Any) -> Any:
    if isinstance(source, tuple):
        src, start, stop, step = source
        return outs[src][start:stop:step, ...]
    return xp.stack([outs[src][i, ...] for src, i in source])


def _stacks(model: Any, groups: list, ws: dict, xp: Any) -> list:
    def build() -> list:
        return [xp.stack([ws[v] for v in nodes]) for _, nodes in groups]

    first = next(iter(ws.values()))
    if is_numpy(xp) and ws is model.weights:
        # Views of the model's packed buffers: no copy; groups that are not packed are stacked here.
        found = group_weights(model, [nodes for _, nodes in groups], "nodes")
        return [np.stack(w) if isinstance(w, list) else w if w.ndim == 3 else w[None]
                for w in found]
    if is_numpy(xp) or not is_concrete(first):  # traced weights are never cached
        return build()
    key = tuple(id(w) for w in ws.values())
    return cached_copy(model, ("stacks", str(type(first)), str(device_of(first))), key, build)


def _leaf_block(feats: Any, E0: Any, nodes: tuple, xp: Any) -> tuple[Any, Any]:
    idx = to_namespace(np.array([next(iter(v)) for v in nodes], dtype=np.int64), xp, device_of(feats))
    X = xp.permute_dims(xp.take(feats, idx, axis=1), (1, 0, 2))
    S = None if E0 is None else xp.permute_dims(xp.take(E0, idx, axis=1), (1, 0))
    return X, S


def run_generic(model: Any, feats: Any, ws: dict, log: bool = False) -> Any:
    """Evaluate any tree in any array API namespace: one stacked GEMM per (height, arity, shape) group.

    Parameters
    ----------
    model : ConvNet
    feats : array (batch, n_inputs, M), validated and cast
    ws : dict node -> array
        The weights, in the namespace and on the device of ``feats``.
    log : bool
        Return ``(sign, log|h|)``: the features and every activation are carried as mantissas times
        exact powers of two (:func:`~tnconv.contract.logscale.normalize`, ``pool_log``).

    Returns
    -------
    array (batch, n_outputs) or a ``(sign, log_abs)`` pair

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.ConvNet(((0, 1), 2, (3, 4, 5)), 2, 3, g="relu_sum", seed=0)
    >>> F = np.random.default_rng(0).standard_normal((4, 6, 2))
    >>> run_generic(net, F, net.weights).shape
    (4, 1)
    """
    xp = namespace(feats)
    g = model.g
    groups, sources, last = _generic_plan(model)
    stacks = _stacks(model, groups, ws, xp)
    E0 = None
    if log:
        feats, E0 = normalize(feats, xp)
    outs: list = [None] * len(groups)
    scales: list = [None] * len(groups)
    for gi, (((arity, _), nodes), Wst) in enumerate(zip(groups, stacks)):
        if arity == 0:
            X, S = _leaf_block(feats, E0, nodes, xp)
        else:
            slots = [_gather(outs, src, xp) for src in sources[gi]]
            if log:
                X, S = pool_log(slots, [_gather(scales, src, xp) for src in sources[gi]], g, xp)
            else:
                X = g.fold(slots)
        Y = xp.matmul(X, Wst)
        if log:
            Y, k = normalize(Y, xp)
            S = k + S
        outs[gi], scales[gi] = Y, S
        for src in last[gi]:  # free what no later group reads
            outs[src] = scales[src] = None
    out = outs[-1][0, ...]
    return finish(out, scales[-1][0, ...]) if log else out


def coefficient_tensor(model: Any, output: int = 0, backend: str | None = None,
                       max_bytes: float | None = None) -> Any:
    """The coefficient tensor ``A^y`` of a ConvAC, by contracting its tensor network.

    The network is contracted bottom-up over the mode tree (the structure path), on numpy or cupy.

    Parameters
    ----------
    model : ConvAC (any ConvNet with product pooling)
    output : int
        The output channel ``y``.
    backend : {"numpy", "cupy"}, optional
        Default ``"numpy"``; with ``"cupy"`` the result stays on the GPU.
    max_bytes : float, optional
        Byte budget for the result and every intermediate (default
        ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    array of shape ``(M,) * n_inputs``

    Raises
    ------
    ValueError
        Non-product pooling (there is no coefficient tensor; use ``grid_tensor``), a bad ``output``.
    tnconv.TensorTooLargeError
        Before allocating, when the tensor or an intermediate exceeds the budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(4, 2, 3, seed=0)
    >>> bool(np.allclose(coefficient_tensor(net), net.coefficient_tensor(), rtol=1e-12, atol=0))
    True
    """
    if not model.g.is_product:
        raise ValueError(
            f"a ConvNet with pooling {model.g.name!r} has no coefficient tensor; use grid_tensor(templates)"
        )
    output = model._check_output(output)
    be = resolve_backend(backend)
    from ..network import TensorNetwork
    from .generic import execute_path
    from .paths import structure_path

    tn = TensorNetwork.from_convac(model, output=output)
    item = np.dtype(model.dtype).itemsize
    n = model.n_inputs
    check_budget(f"the coefficient tensor ({model.n_descriptors}^{n} entries)",
                 float(model.n_descriptors) ** n * item, max_bytes)
    sp = structure_path(tn, features=False)
    check_budget("the largest intermediate of the coefficient tensor's contraction",
                 float(sp.cost.largest_intermediate) * item, max_bytes)
    arrays = [be.asarray(a) for a in tn.arrays]
    return execute_path(sp.inputs, sp.output, sp.path, arrays, be.xp)


# Models sit left of this layer and call the engines through hooks (tnconv.models.protocol).
install_hook("forward", run_forward)
install_hook("coefficient_tensor", coefficient_tensor)
