"""Evaluation of dilated ConvNets on any array namespace: the level plan and the node-by-node walk.

* :func:`build_plan` / :func:`level_forward`: one batched matmul per tree level, plain or log scale
  (``DilatedConvNet.forward``). Values are tuples: ``(activations,)`` or ``(mantissas, exponents)``, so
  both modes share one gather-convolve-pool loop.
* :func:`evaluate`: node by node over one net, or two nets mixed at given nodes (``MixedConvNet``, and
  the oracle of the level plan), with :class:`ForwardOps` or :class:`LogForwardOps`.
* :func:`check_features_in`: the features check of :func:`tnconv.models.convnet.check_features` for
  numpy, and its namespace-generic form for the rest (values checked on concrete arrays only).

The namespace comes from the features (:func:`tnconv._core.arrays.namespace`); results stay in it and
on its device. Numpy weights are moved to that device once per weight set (see
``DilatedConvNet.weights_in``).

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 3-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from array_api_compat import device, is_array_api_obj

from .._core.arrays import is_numpy, namespace
from ..trees import ModeTree, format_node
from .convnet import check_features, check_templates
from .dilated_weights import layer_kernels
from .log_values import (
    common_exponent,
    finish,
    is_tracer,
    leaf_too_small,
    normalized,
    pool_pair,
    pool_pair_log,
    scale_features,
)
from .operators import PoolingOperator

__all__ = [
    "ForwardOps",
    "LevelPlan",
    "LogForwardOps",
    "TreeNet",
    "build_plan",
    "check_features_in",
    "check_templates_in",
    "evaluate",
    "forward_nodes",
    "level_forward",
    "log_roots",
    "require_binary",
    "resolve_namespace",
    "sequence_forward",
    "swap_halves",
]


class TreeNet(Protocol):
    """What the evaluation needs of a dilated net."""

    tree: ModeTree
    g: PoolingOperator

    def weights_in(self, xp: Any, like: Any) -> dict[frozenset, Any]: ...

    def node_matrices(self, node: frozenset, output: int | None, xp: Any, like: Any) -> tuple[Any, ...]: ...


def require_binary(tree: ModeTree, what: str) -> None:
    """Refuse a tree with a node of other than two children, naming the node.

    Examples
    --------
    >>> from tnconv import ModeTree
    >>> require_binary(ModeTree.flat(3), "this model")
    Traceback (most recent call last):
    ...
    ValueError: this model needs a binary mode tree, but node {0,1,2} has 3 children
    """
    for v in tree.internal_nodes:
        k = len(tree.children(v))
        if k != 2:
            raise ValueError(f"{what} needs a binary mode tree, but node {format_node(v)} has {k} children")


def swap_halves(xp: Any, a: Any, b: Any, half: int) -> tuple[Any, Any]:
    """Exchange the channels ``c < half`` (last axis) of ``a`` and ``b``."""
    a2 = xp.concat([b[..., :half], a[..., half:]], axis=-1)
    b2 = xp.concat([a[..., :half], b[..., half:]], axis=-1)
    return a2, b2


def check_features_in(xp: Any, features: Any, n_inputs: int, n_descriptors: int, dtype: np.dtype) -> Any:
    """Features ``(batch, n_inputs, M)`` validated and cast to ``dtype``, in their own namespace.

    Raises
    ------
    TypeError
        Non-real dtypes.
    ValueError
        A wrong shape, or NaN/inf entries (checked on concrete arrays, never on a JAX tracer).
    """
    if is_numpy(xp):
        return check_features(np.asarray(features), n_inputs, n_descriptors, dtype)
    arr = xp.asarray(features)
    if not (xp.isdtype(arr.dtype, "real floating") or xp.isdtype(arr.dtype, "integral")):
        raise TypeError(f"features have dtype {arr.dtype}; expected real numbers (float32/float64 or integers)")
    if arr.ndim != 3 or tuple(arr.shape[1:]) != (n_inputs, n_descriptors):
        raise ValueError(
            f"features have shape {tuple(arr.shape)}; expected (batch, n_inputs={n_inputs}, "
            f"n_descriptors={n_descriptors})"
        )
    arr = xp.astype(arr, getattr(xp, dtype.name))
    if not is_tracer(arr) and not bool(xp.all(xp.isfinite(arr))):
        raise ValueError("features contain NaN or infinite values")
    return arr


def resolve_namespace(data: Any, backend: Any) -> Any:
    """The namespace to evaluate in: that of ``data`` (``backend=None``), numpy, CuPy, or a given module.

    Raises
    ------
    ValueError
        An unknown backend name.
    ImportError
        ``backend="cupy"`` without CuPy.
    """
    if backend is None:
        return namespace(data) if is_array_api_obj(data) else np
    if backend == "numpy":
        return np
    if backend == "cupy":
        try:
            import cupy
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ImportError("backend='cupy' needs CuPy: pip install 'tnconv[gpu]'") from exc
        return cupy
    if hasattr(backend, "asarray") and hasattr(backend, "matmul"):  # a module: its array API namespace
        return namespace(backend.asarray(0.0))
    raise ValueError(f"unknown backend {backend!r}; choose 'numpy', 'cupy' or an array namespace module")


def sequence_forward(net: Any, seq: Any, xp: Any, padding: str) -> Any:
    """``DilatedConvNet.forward_sequence``: the dilated convolution over time (checks included)."""
    if padding not in ("valid", "causal"):
        raise ValueError(f"padding must be 'valid' or 'causal', got {padding!r}")
    if net.dilations is None:
        raise ValueError("forward_sequence needs a dilated tree: this tree is not ModeTree.dilated(L, d) for any d")
    kernels = layer_kernels(net.tree, net.weights)
    if isinstance(kernels, str):
        raise ValueError(
            f"forward_sequence needs one kernel per layer (a convolution is time-invariant), but {kernels} "
            "has weights unlike the rest of its layer; build the net with shared=True"
        )
    if seq.ndim != 3 or seq.shape[2] != net.n_descriptors:
        raise ValueError(
            f"sequence has shape {tuple(seq.shape)}; expected (batch, T, n_descriptors={net.n_descriptors})"
        )
    T = seq.shape[1]
    if padding == "valid" and net.n_inputs > T:
        raise ValueError(f"sequence has {T} time steps, fewer than the receptive field {net.n_inputs}")
    seq = check_features_in(xp, seq, T, net.n_descriptors, net.dtype)
    # the kernels found on the numpy weights, taken from their copies on the sequence's device
    moved = net.weights_in(xp, seq)
    on_device = {id(a): b for v, w in net.weights.items() for a, b in zip(_tup(w), _tup(moved[v]))}
    leaf_w, pairs = kernels
    h = seq @ on_device[id(leaf_w)]
    for d, (A, B) in zip(net.dilations, pairs):
        if padding == "causal":
            pad = xp.zeros((h.shape[0], d, h.shape[2]), dtype=h.dtype, device=device(h))
            h = xp.concat([pad, h], axis=1)
        h = pool_pair(net.g, xp, h[:, :-d, :] @ on_device[id(A)], h[:, d:, :] @ on_device[id(B)])
    return h


def _tup(w: Any) -> tuple[Any, ...]:
    return w if isinstance(w, tuple) else (w,)


def check_templates_in(xp: Any, template_features: Any, n_descriptors: int, dtype: np.dtype) -> Any:
    """Grid-tensor templates ``(T, M)`` validated as features and cast to ``dtype``, in their namespace."""
    if is_numpy(xp):
        return check_templates(template_features, n_descriptors, dtype)
    tf = xp.asarray(template_features)
    if tf.ndim != 2 or tf.shape[1] != n_descriptors:
        raise ValueError(f"template_features have shape {tuple(tf.shape)}; expected (T, {n_descriptors})")
    return check_features_in(xp, xp.expand_dims(tf, axis=0), tf.shape[0], n_descriptors, dtype)[0, ...]


# ---------------------------------------------------------------------------------------------- level plan
@dataclass(frozen=True)
class LevelPlan:
    """Where every child of every level comes from.

    Level ``h`` holds the nodes of height ``h`` in tree order (leaves too), so in a complete tree the
    first and second children of a level are the even and odd rows of the level below: strided views,
    no copies. Each child slot has its rows as a slice (a progression), an index list (one source
    level), or ``(level, row)`` pairs (``source None``). ``done[h]`` lists the levels last read at ``h``.
    Only the structure is planned: weights are stacked at each call, so in-place edits are always seen.
    """

    leaf_order: tuple[int, ...]
    levels: tuple[tuple[frozenset, ...], ...]
    slots: tuple[tuple[tuple[int | None, Any], tuple[int | None, Any]], ...]
    done: tuple[tuple[int, ...], ...]


def _slot(src: list[tuple[int, int]]) -> tuple[int | None, Any]:
    heights = {hs for hs, _ in src}
    if len(heights) > 1:
        return None, tuple(src)
    idx = [i for _, i in src]
    step = idx[1] - idx[0] if len(idx) > 1 else 1
    if step > 0 and idx == list(range(idx[0], idx[-1] + 1, step)):
        return heights.pop(), slice(idx[0], idx[-1] + 1, step)
    return heights.pop(), tuple(idx)


def build_plan(tree: ModeTree) -> LevelPlan:
    """The :class:`LevelPlan` of a binary tree."""
    levels = tree.levels()
    where = {v: (h, k) for h, level in enumerate(levels) for k, v in enumerate(level)}
    last_use = {h: h for h in range(len(levels))}
    slots = []
    for h, level in enumerate(levels[1:], start=1):
        pair = []
        for s in range(2):
            src = [where[tree.children(v)[s]] for v in level]
            for hs, _ in src:
                last_use[hs] = max(last_use[hs], h)
            pair.append(_slot(src))
        slots.append((pair[0], pair[1]))
    done = tuple(tuple(hs for hs, last in last_use.items() if last == h and hs < h) for h in range(1, len(levels)))
    return LevelPlan(tuple(next(iter(leaf)) for leaf in levels[0]), tuple(tuple(lv) for lv in levels),
                     tuple(slots), done)


def _rows(xp: Any, a: Any, rows: Any) -> Any:
    if isinstance(rows, slice):
        return a[rows, ...]
    return xp.take(a, xp.asarray(rows, device=device(a)), axis=0)


def _gather(xp: Any, acts: dict[int, tuple[Any, ...]], slot: tuple[int | None, Any]) -> tuple[Any, ...]:
    hs, rows = slot
    if hs is None:
        n = len(acts[rows[0][0]])
        return tuple(xp.stack([acts[hc][c][i, ...] for hc, i in rows]) for c in range(n))
    return tuple(_rows(xp, a, rows) for a in acts[hs])


def _leaf_values(plan: LevelPlan, feats: Any, leaf_stack: Any, xp: Any, log: bool) -> tuple[Any, ...]:
    """The first convolution of every leaf at once, ``(n_inputs, batch, width)``."""
    order = None if plan.leaf_order == tuple(range(len(plan.leaf_order))) else plan.leaf_order

    def conv(f: Any) -> Any:
        x = xp.moveaxis(f, 1, 0)
        return xp.matmul(x if order is None else _rows(xp, x, order), leaf_stack)

    if not log:
        return (conv(feats),)
    scaled, e0 = scale_features(feats, xp)
    y, e = normalized(conv(scaled), xp)
    if e0 is None and leaf_too_small(e, y.dtype, xp):  # a tiny feature vector: rescale them all
        scaled, e0 = scale_features(feats, xp, force=True)
        y, e = normalized(conv(scaled), xp)
    if e0 is not None:
        e0t = xp.moveaxis(e0, 1, 0)
        e = e + (e0t if order is None else _rows(xp, e0t, order))
    return y, e


def _pool_level(g: PoolingOperator, xp: Any, parts: list[tuple[Any, ...]], mats: list[Any]) -> tuple[Any, ...]:
    ys = [xp.matmul(p[0], m) for p, m in zip(parts, mats)]
    if len(parts[0]) == 1:
        return (pool_pair(g, xp, ys[0], ys[1], in_place=is_numpy(xp)),)
    (a, ka), (b, kb) = normalized(ys[0], xp), normalized(ys[1], xp)
    pooled, e = pool_pair_log(g, xp, a, parts[0][1] + ka, b, parts[1][1] + kb)
    pooled, k = normalized(pooled, xp)
    return pooled, e + k


def level_forward(net: TreeNet, plan: LevelPlan, feats: Any, xp: Any, log: bool) -> Any:
    """Evaluate ``net`` level by level: ``(batch, n_outputs)``, or ``(sign, log|h|)`` with ``log``."""
    weights = net.weights_in(xp, feats)
    leaf_stack = xp.stack([weights[frozenset({i})] for i in plan.leaf_order])
    acts = {0: _leaf_values(plan, feats, leaf_stack, xp, log)}
    for h, (level, slots, done) in enumerate(zip(plan.levels[1:], plan.slots, plan.done), start=1):
        parts = [_gather(xp, acts, slot) for slot in slots]
        mats = [xp.stack([weights[v][s] for v in level]) for s in range(2)]
        acts[h] = _pool_level(net.g, xp, parts, mats)
        for hs in done:  # free the levels nobody reads any more
            del acts[hs]
    top = acts[len(plan.slots)]
    return top[0][0, ...] if not log else finish(top[0][0, ...], top[1][0, ...], xp)


# ---------------------------------------------------------------------------------------------- node by node
class ForwardOps:
    """Activations ``(batch, w)`` node by node."""

    def __init__(self, g: PoolingOperator, feats: Any, xp: Any):
        self.g, self.feats, self.xp = g, feats, xp

    def leaf(self, net: TreeNet, leaf: frozenset) -> Any:
        return self.feats[:, next(iter(leaf)), :] @ net.weights_in(self.xp, self.feats)[leaf]

    def combine(self, net: TreeNet, node: frozenset, values: list[Any]) -> Any:
        mats = net.node_matrices(node, None, self.xp, self.feats)
        ys = [x @ W for x, W in zip(values, mats)]
        return pool_pair(self.g, self.xp, ys[0], ys[1])

    def swap(self, a: Any, b: Any, half: int) -> tuple[Any, Any]:
        return swap_halves(self.xp, a, b, half)


class LogForwardOps:
    """Activations as ``(mantissa (batch, w), float64 exponent (batch,))`` pairs, node by node: the value
    is ``mantissa * 2**exponent`` with ``max|mantissa|`` in ``[1/2, 1)`` per sample."""

    def __init__(self, g: PoolingOperator, feats: Any, xp: Any):
        self.g, self.xp, self.like = g, xp, feats
        self.feats, e0 = scale_features(feats, xp, force=True)
        self.e0 = e0 if e0 is not None else xp.zeros(feats.shape[:2], dtype=xp.float64, device=device(feats))

    def unit(self, x: Any, e: Any) -> tuple[Any, Any]:
        y, k = normalized(x, self.xp)
        return y, e + k

    def leaf(self, net: TreeNet, leaf: frozenset) -> tuple[Any, Any]:
        i = next(iter(leaf))
        return self.unit(self.feats[:, i, :] @ net.weights_in(self.xp, self.like)[leaf], self.e0[:, i])

    def combine(self, net: TreeNet, node: frozenset, values: list[Any]) -> tuple[Any, Any]:
        mats = net.node_matrices(node, None, self.xp, self.like)
        (a, ea), (b, eb) = (self.unit(x @ W, e) for (x, e), W in zip(values, mats))
        return self.unit(*pool_pair_log(self.g, self.xp, a, ea, b, eb))

    def swap(self, a: tuple[Any, Any], b: tuple[Any, Any], half: int) -> tuple[Any, Any]:
        (xa, ea), (xb, eb) = common_exponent([a, b], self.xp)
        xa, xb = swap_halves(self.xp, xa, xb, half)
        return self.unit(xa, ea), self.unit(xb, eb)


class NodeOps(Protocol):
    """The value arithmetic of :func:`evaluate` (activations, log pairs or dense tables)."""

    def leaf(self, net: Any, leaf: frozenset) -> Any: ...

    def combine(self, net: Any, node: frozenset, values: list[Any]) -> Any: ...

    def swap(self, a: Any, b: Any, half: int) -> tuple[Any, Any]: ...


def evaluate(nets: Sequence[Any], mixture: Sequence[frozenset], ops: NodeOps, half: int) -> list[Any]:
    """Evaluate one or two nets bottom-up, swapping ``half`` channels at each mixture node.

    Mixture nodes are processed by increasing size: everything of each tree inside a mixture node is
    computed (children first), then the two values of that node are swapped. Nodes inside a mixture
    node form a subtree of each tree (nodes of a tree are laminar), so every inner mixture node is
    swapped before its value is consumed.
    """
    values: list[dict[frozenset, Any]] = [{} for _ in nets]

    def run(k: int, limit: frozenset | None) -> None:
        net, vals = nets[k], values[k]
        for v in net.tree.nodes:
            if v in vals or (limit is not None and not v <= limit):
                continue
            if net.tree.is_leaf(v):
                vals[v] = ops.leaf(net, v)
            else:
                vals[v] = ops.combine(net, v, [vals[c] for c in net.tree.children(v)])

    for m in sorted(mixture, key=len):
        for k in range(len(nets)):
            run(k, m)
        values[0][m], values[1][m] = ops.swap(values[0][m], values[1][m], half)
    for k in range(len(nets)):
        run(k, None)
    return [vals[net.tree.root] for net, vals in zip(nets, values)]


def log_roots(nets: Sequence[Any], mixture: Sequence[frozenset], feats: Any, half: int,
              xp: Any) -> list[tuple[Any, Any]]:
    """The roots of one or two nets (mixed at ``mixture``) as ``(mantissa, exponent)`` pairs, node by node.

    The value of a root is ``mantissa * 2**exponent[:, None]`` with ``max|mantissa|`` in ``[1/2, 1)``
    per sample; see :mod:`tnconv.contract.logscale` for the rescaling and its accuracy.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((3, 4, 2))
    >>> (x, e), = log_roots([net], [], F, 0, np)
    >>> bool(np.allclose(x * 2.0 ** e[:, None], net.forward(F), rtol=1e-12, atol=0))
    True
    """
    return evaluate(nets, mixture, LogForwardOps(nets[0].g, feats, xp), half)


def forward_nodes(nets: Sequence[Any], mixture: Sequence[frozenset], feats: Any, half: int, xp: Any,
                  log: bool) -> Any:
    """The sum of the roots of ``nets`` (mixed at ``mixture``), node by node; ``(sign, log|h|)`` with ``log``."""
    if log:
        pairs = common_exponent(log_roots(nets, mixture, feats, half, xp), xp)
        total = pairs[0][0]
        for x, _ in pairs[1:]:
            total = total + x
        return finish(total, pairs[0][1], xp)
    roots = evaluate(nets, mixture, ForwardOps(nets[0].g, feats, xp), half)
    out = roots[0]
    for r in roots[1:]:
        out = out + r
    return out
