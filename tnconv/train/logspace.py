"""The two parameterizations that keep training in range: log space, and signed weights rescaled per level.

Log space (``"log"``, product pooling)
    The papers' parameterization (SimNets [1]_, ConvACs [2]_): every weight is positive and stored as
    its log ``theta = log W``; the features enter as their logs ``log f_d(x_i)`` (a Gaussian
    representation gives them exactly, without the ``exp`` that underflows). A 1x1 convolution becomes
    a log-sum-exp, ``log a'_j = log sum_i exp(log a_i + theta_ij)``, and product pooling a sum of logs,
    so no value is ever formed outside the log domain. The logits are ``log h_y(x)``: the softmax gives
    ``p(y|x) = h_y(x) / sum_y' h_y'(x)`` as in the SimNets implementation. Every intermediate is a log,
    of magnitude about ``N`` times that of one input, so a net over a 32x32 image (``N = 1024``) stays
    many orders of magnitude inside float32's range in the forward pass and in the gradient.

    The log-sum-exp is computed as one matrix product, ``log(exp(a - max a) @ exp(theta - max theta))
    + max a + max theta`` (maxima over the summed axis), which is exact in real arithmetic. Every factor
    is in ``(0, 1]``, and the sum holds at least the term ``exp(theta_{i*j} - max_i theta_ij)`` of the
    largest activation ``i*``; it can underflow only when the log-weights of one output channel spread
    by more than about 87 (float32) or 708 (float64), i.e. weight ratios beyond ``1e37``; the result
    is then ``-inf`` and :func:`tnconv.train.fit` stops with its divergence error.

Signed (``"signed"``, any pooling)
    The weights keep their signs. Each tree height ``h`` gets a fixed scale ``s_h`` chosen once, on
    the first training batch, so that the activations of every level have unit root-mean-square
    (:func:`level_scales`, like a data-dependent initialization); the trained parameters are
    ``theta_h = W_h / s_h`` (entries of order one, which suits Adam's step sizes) and the logits are
    the network's plain outputs ``h_y(x)`` with weights ``s_h theta_h``, through tnconv's own forward
    engine. Outputs of ReLU nets grow only with depth (``log N``), so this holds at any ``N``; product
    nets multiply ``N`` numbers, so a drift of the scales during training is raised to the ``N``-th
    power: signed product nets are for moderate ``N``, and only on request (``parameterization=
    "signed"``, e.g. to train a ConvAC with weights of both signs). They are also harder to optimize:
    on 8x8 images (``tests/test_classifier.py``'s task) a signed product net stayed at chance after ten
    epochs where the same net in log space reached 100% test accuracy.

When each is used
    ``parameterization="auto"`` (the default of :func:`tnconv.train.fit`): log space for product
    pooling, whatever ``N``; signed weights with per-level scales for ``relu_max``, ``relu_sum`` and
    custom pooling operators (which have no log-domain form).

The trained model always holds the effective weights (``exp(theta)``, or ``s_h theta_h``) as numpy
arrays, so it is an ordinary :class:`~tnconv.models.ConvNet`: its coefficient tensor, min cuts and
spectra are those of the function that was trained.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "Deep SimNets", CVPR 2016, arXiv:1506.03059.
.. [2] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
   Analysis", COLT 2016, arXiv:1509.05009.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.arrays import device_of, namespace, to_namespace
from ..contract.engine import node_groups

__all__ = ["PARAMETERIZATIONS", "level_scales", "log_forward", "log_matmul", "resolve_parameterization"]

PARAMETERIZATIONS = ("auto", "log", "signed")


def resolve_parameterization(model: Any, parameterization: str) -> str:
    """``"log"`` or ``"signed"`` for ``model``: ``auto`` picks log space for product pooling, signed weights
    (with per-level scales) for every other pooling operator.

    Raises
    ------
    ValueError
        An unknown name, or ``"log"`` for a net whose pooling is not the product (naming it).

    Examples
    --------
    >>> import tnconv as tc
    >>> relu = tc.ConvNet(tc.ModeTree.balanced(8), 2, 2, g="relu_max")
    >>> resolve_parameterization(tc.deep(8, 2, 2), "auto"), resolve_parameterization(relu, "auto")
    ('log', 'signed')
    """
    if not isinstance(parameterization, str) or parameterization not in PARAMETERIZATIONS:
        raise ValueError(f"unknown parameterization {parameterization!r}; choose from {PARAMETERIZATIONS}")
    product = model.g.is_product
    if parameterization == "log" and not product:
        raise ValueError(
            f"parameterization='log' needs product pooling (a ConvAC); this net pools with {model.g.name!r}: "
            "use 'signed'"
        )
    if parameterization == "auto":
        return "log" if product else "signed"
    return parameterization


def log_matmul(a: Any, theta: Any, xp: Any) -> Any:
    """``log(exp(a) @ exp(theta))`` over the last axis of ``a`` and the second-to-last of ``theta``.

    Exact in real arithmetic, as one matrix product of factors in ``(0, 1]`` (see the module notes).

    Examples
    --------
    >>> a, t = np.log([[1.0, 2.0]]), np.log([[3.0], [4.0]])
    >>> float(np.exp(log_matmul(a, t, np))[0, 0])
    11.0
    """
    am = xp.max(a, axis=-1, keepdims=True)
    tm = xp.max(theta, axis=-2, keepdims=True)
    return xp.log(xp.matmul(xp.exp(a - am), xp.exp(theta - tm))) + am + tm


def log_forward(model: Any, log_weights: dict, log_features: Any) -> Any:
    """``log h_y(x)`` of a product net with weights ``exp(log_weights)``, entirely in the log domain.

    Parameters
    ----------
    model : ConvNet with product pooling
        Supplies the tree, the widths and the node groups (its weights are not used).
    log_weights : dict node -> array
        ``theta = log W`` per node, in the namespace of ``log_features``.
    log_features : array (batch, n_inputs, M)
        ``log f_d(x_i)``.

    Returns
    -------
    array (batch, n_outputs)
        The logits ``log h_y``; differentiable (JAX, torch), functional (traces under ``jax.jit``).

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(4, 2, 2, seed=0)
    >>> W = {v: abs(w) for v, w in net.weights.items()}
    >>> F = np.random.default_rng(0).uniform(0.5, 1.5, (3, 4, 2))
    >>> out = log_forward(net, {v: np.log(w) for v, w in W.items()}, np.log(F))
    >>> bool(np.allclose(np.exp(out), tc.ConvAC(net.tree, 2, 2, weights=W).forward(F), rtol=1e-12))
    True
    """
    xp = namespace(log_features)
    tree = model.tree
    acts: dict = {}
    for (arity, _), nodes in node_groups(model):
        theta = xp.stack([log_weights[v] for v in nodes])
        if arity == 0:
            idx = to_namespace(np.array([next(iter(v)) for v in nodes], dtype=np.int64), xp,
                               device_of(log_features))
            X = xp.permute_dims(xp.take(log_features, idx, axis=1), (1, 0, 2))
        else:
            kids = [tree.children(v) for v in nodes]
            X = xp.stack([acts.pop(k[0]) for k in kids])
            for j in range(1, arity):
                X = X + xp.stack([acts.pop(k[j]) for k in kids])  # product pooling: a sum of logs
        Y = log_matmul(X, theta, xp)
        for i, v in enumerate(nodes):
            acts[v] = Y[i, ...]
    return acts[tree.root]


def level_scales(model: Any, features: np.ndarray, weights: dict) -> dict[int, float]:
    """Per-height scales ``s_h`` that give every level's activations unit root-mean-square on ``features``.

    Bottom-up, in float64 numpy: the convolution outputs of height ``h`` (with the scales of the lower
    levels applied) are divided by their RMS over the batch, the nodes and the channels; a level whose
    outputs are all zero (dead ReLUs) keeps scale 1.

    Parameters
    ----------
    model : ConvNet
        Tree and pooling operator.
    features : array (batch, n_inputs, M)
    weights : dict node -> array
        The weights before scaling.

    Returns
    -------
    dict height -> float
        With the weights ``s_h W_h`` every level's convolution outputs have RMS 1 on ``features``.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((16, 8, 2))
    >>> s = level_scales(net, F, net.weights)
    >>> scaled = {v: s[net.tree.height(v)] * w for v, w in net.weights.items()}
    >>> out = tc.ConvAC(net.tree, 2, 3, weights=scaled).forward(F)
    >>> round(float(np.sqrt(np.mean(out ** 2))), 6)
    1.0
    """
    tree, g = model.tree, model.g
    feats = np.asarray(features, dtype=np.float64)
    acts: dict = {}
    scales: dict[int, float] = {}
    for level in tree.levels():
        h = tree.height(level[0])
        outs = {}
        for v in level:
            if tree.is_leaf(v):
                X = feats[:, next(iter(v)), :]
            else:
                X = g.fold([acts.pop(c) for c in tree.children(v)])
            outs[v] = X @ np.asarray(weights[v], dtype=np.float64)
        rms = float(np.sqrt(np.mean(np.concatenate([o.ravel() for o in outs.values()]) ** 2)))
        s = 1.0 / rms if np.isfinite(rms) and rms > 0 else 1.0
        scales[h] = s
        acts.update({v: o * s for v, o in outs.items()})
    return scales
