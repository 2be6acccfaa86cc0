"""The differentiated forward of training: weights stacked per node group, one gather per group.

``ConvNet.forward`` on JAX or torch runs the generic executor of :mod:`tnconv.contract.engine`, which
takes one weight matrix per node, so a traced training step holds one stack and one slice per node:
for an unshared net over ``N`` inputs, ``O(N)`` traced operations, which dominate ``jax.jit``'s
compile time (seconds for ``N = 64``, minutes for ``N = 1024``). Training instead keeps the parameters
already stacked per group of :func:`~tnconv.contract.engine.node_groups` (one ``(nodes, in, out)``
array, or one ``(in, out)`` matrix per height when the weights are shared) and gathers each group's
children with one ``take``: ``O(groups)`` operations, a handful per tree height.

Both parameterizations of :mod:`tnconv.train.logspace` run here: ``"log"`` (log-sum-exp convolutions,
pooling as a sum of logs) and ``"signed"`` (plain convolutions times the fixed per-level scales,
pooling with the net's ``g``). ``tests/test_train_logspace.py`` checks both against the engine's
``forward`` (and the log space one against mpmath).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.arrays import device_of, namespace, to_namespace
from ..contract.engine import node_groups
from .logspace import log_matmul

__all__ = ["GroupPlan", "group_plan", "run_groups"]


class GroupPlan:
    """Where every group's inputs come from: leaf indices, or (source groups, row indices) of children.

    Attributes
    ----------
    groups : list of ((arity, weight shape), nodes)
        As :func:`~tnconv.contract.engine.node_groups` (bottom-up).
    heights : list[int]
        The tree height of every group.
    sources : list
        For a leaf group the input positions ``(nodes,)``; otherwise ``(source group ids, idx)`` with
        ``idx`` of shape ``(nodes * arity,)`` indexing the concatenation of those groups' outputs.
    """

    def __init__(self, model: Any):
        tree = model.tree
        self.groups = node_groups(model)
        self.heights = [tree.height(nodes[0]) for _, nodes in self.groups]
        where: dict[frozenset, tuple[int, int]] = {}
        self.sources: list[Any] = []
        for gi, ((arity, _), nodes) in enumerate(self.groups):
            if arity == 0:
                self.sources.append(np.array([next(iter(v)) for v in nodes], dtype=np.int64))
            else:
                kids = [k for v in nodes for k in tree.children(v)]
                src = sorted({where[k][0] for k in kids})
                offset = dict(zip(src, np.cumsum([0] + [len(self.groups[s][1]) for s in src[:-1]])))
                idx = np.array([offset[where[k][0]] + where[k][1] for k in kids], dtype=np.int64)
                self.sources.append((tuple(src), idx))
            for i, v in enumerate(nodes):
                where[v] = (gi, i)


def group_plan(model: Any) -> GroupPlan:
    """The :class:`GroupPlan` of ``model`` (cached on it, rebuilt for another tree)."""
    cached = model.__dict__.get("_tnconv_group_plan")
    if cached is not None and cached[0] is model.tree and cached[1] == model.n_outputs:
        return cached[2]
    plan = GroupPlan(model)
    model.__dict__["_tnconv_group_plan"] = (model.tree, model.n_outputs, plan)
    return plan


def _rows(xp: Any, a: Any, idx: np.ndarray, axis: int) -> Any:
    """``take(a, idx, axis)``, as a slice when ``idx`` is a regular progression (always in uniform trees):
    under ``jax.jit`` a slice, and its gradient, compile several times faster than a gather."""
    n = len(idx)
    step = int(idx[1] - idx[0]) if n > 1 else 1
    if step > 0 and np.array_equal(idx, idx[0] + step * np.arange(n)):
        where: list[Any] = [slice(None)] * a.ndim
        where[axis] = slice(int(idx[0]), int(idx[0]) + step * (n - 1) + 1, step)
        return a if n == a.shape[axis] and step == 1 else a[tuple(where)]
    return xp.take(a, to_namespace(idx, xp, device_of(a)), axis=axis)


def run_groups(model: Any, weights: list, inputs: Any, kind: str, scales: dict | None = None) -> Any:
    """Logits ``(batch, n_outputs)`` from per-group weights, in the namespace of ``inputs``.

    Parameters
    ----------
    model : ConvNet
        Tree, pooling operator, groups.
    weights : list of arrays
        Per group of :func:`group_plan`: ``(nodes, in, out)``, or ``(in, out)`` shared by the group.
        Log-weights ``theta`` for ``kind="log"``.
    inputs : array (batch, n_inputs, M)
        Log features (``"log"``) or features (``"signed"``).
    kind : {"log", "signed"}
    scales : dict height -> float or 0-d array, optional
        The per-level scales of ``"signed"`` (default 1): numbers, or arrays of the namespace of
        ``inputs`` (traced values under ``jax.jit``).

    Returns
    -------
    array (batch, n_outputs): ``log h_y`` (log) or ``h_y`` (signed).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.ConvNet(((0, 1), 2, (3, 4, 5)), 2, 3, g="relu_sum", seed=0)
    >>> plan = group_plan(net)
    >>> W = [np.stack([net.weights[v] for v in nodes]) for _, nodes in plan.groups]
    >>> F = np.random.default_rng(0).standard_normal((4, 6, 2))
    >>> bool(np.allclose(run_groups(net, W, F, "signed"), net.forward(F), rtol=1e-12))
    True
    """
    xp = namespace(inputs)
    plan = group_plan(model)
    g = model.g
    outs: list[Any] = []
    for gi, ((arity, _), nodes) in enumerate(plan.groups):
        src = plan.sources[gi]
        if arity == 0:
            X = xp.permute_dims(_rows(xp, inputs, src, 1), (1, 0, 2))
        else:
            ids, rows = src
            bank = outs[ids[0]] if len(ids) == 1 else xp.concat([outs[s] for s in ids], axis=0)
            kids = xp.reshape(_rows(xp, bank, rows, 0), (len(nodes), arity, *tuple(bank.shape[1:])))
            X = xp.sum(kids, axis=1) if kind == "log" else g.reduce(kids, axis=1)
        W = weights[gi]
        if kind == "log":
            Y = log_matmul(X, W if W.ndim == 3 else W[None, ...], xp)
        else:
            Y = xp.matmul(X, W)
            if scales is not None:  # always multiplied (by 1.0 exactly): no branch on a traced value
                Y = Y * scales[plan.heights[gi]]
        outs.append(Y)
    return outs[-1][0, ...]
