"""The two training parameterizations: log space (against mpmath and the engine's exact log forward,
finite forward and gradient at N = 1024 in float32 and float64) and signed per-level scales."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from helpers import NEEDS_TORCH

import tnconv as tc
from tnconv.models.io import load_model
from tnconv.train.forward import group_plan, run_groups
from tnconv.train.images import image_tree
from tnconv.train.logspace import level_scales, log_forward, resolve_parameterization
from tnconv.train.objective import Objective

jax = pytest.importorskip("jax")
jnp = jax.numpy


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _positive_net(tree, M, width, n_out, seed, dtype="float64"):
    net = tc.ConvAC(tree, M, width, n_outputs=n_out, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    return net.with_parameters({k: rng.uniform(0.2, 2.0, w.shape).astype(dtype) for k, w in net.parameters().items()})


def _mp_eval(tree, W, F, node):
    """h at ``node`` by the definition, in mpmath (40 digits): a vector per sample, no vectorization."""
    if tree.is_leaf(node):
        i = next(iter(node))
        x = [mpmath.mpf(float(v)) for v in F[i]]
    else:
        kids = [_mp_eval(tree, W, F, c) for c in tree.children(node)]
        x = [mpmath.fprod(k[j] for k in kids) for j in range(len(kids[0]))]
    Wv = W[node]
    return [mpmath.fsum(x[i] * mpmath.mpf(float(Wv[i, j])) for i in range(len(x))) for j in range(Wv.shape[1])]


@pytest.mark.parametrize("tree", [tc.ModeTree.balanced(8), tc.ModeTree.from_nested(((0, 1), 2, (3, 4, 5)))])
def test_log_forward_matches_mpmath(tree):
    net = _positive_net(tree, 3, 2, 2, seed=1)
    F = np.random.default_rng(2).uniform(0.05, 1.0, (3, tree.n_inputs, 3))
    got = log_forward(net, {v: np.log(w) for v, w in net.weights.items()}, np.log(F))
    with mpmath.workdps(40):
        for b in range(3):
            want = [float(mpmath.log(h)) for h in _mp_eval(tree, net.weights, F[b], tree.root)]
            np.testing.assert_allclose(got[b], want, rtol=1e-12, atol=0)
    plan = group_plan(net)
    stacked = [np.log(np.stack([net.weights[v] for v in nodes])) for _, nodes in plan.groups]
    np.testing.assert_allclose(run_groups(net, stacked, np.log(F), "log"), got, rtol=1e-13, atol=0)


@pytest.mark.parametrize("g", ["product", "relu_max", "relu_sum"])
@pytest.mark.parametrize("shared", [False, True])
def test_signed_groups_match_engine(g, shared):
    tree = tc.ModeTree.grid(4, 4) if shared else tc.ModeTree.from_nested((((0, 1), (2, 3, 4)), ((5, 6), (7, 8, 9))))
    net = tc.ConvNet(tree, 3, 4, n_outputs=2, g=g, shared=shared, seed=3)
    F = np.random.default_rng(4).standard_normal((5, tree.n_inputs, 3))
    obj = Objective(net, "signed")
    params = obj.init_params(F)
    want = obj.to_model(params).forward(F)  # the engine, with the effective weights s_h W_h
    got = obj.logits(params, F)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_level_scales_give_unit_rms_at_every_level():
    net = tc.ConvNet(tc.ModeTree.balanced(16), 2, 3, g="relu_sum", seed=0)
    F = np.random.default_rng(0).uniform(0, 5, (32, 16, 2))
    s = level_scales(net, F, net.weights)
    for h in range(5):  # the subtree nets of height h: their outputs must have RMS 1
        sub_outs = []
        for v in net.tree.levels()[h]:
            if h == 0:
                sub_outs.append(F[:, next(iter(v)), :] @ (s[0] * net.weights[v]))
                continue
            rank = {i: r for r, i in enumerate(sorted(v))}
            sub = tc.ConvNet(tc.ModeTree.from_nested(_nested(net.tree, v, rank)), 2, 3, g="relu_sum",
                             n_outputs=net.widths[v], weights=_sub_weights(net, v, s))
            sub_outs.append(sub.forward(F[:, sorted(v), :]))
        assert np.sqrt(np.mean(np.concatenate(sub_outs) ** 2)) == pytest.approx(1.0, rel=1e-10)


def _nested(tree, v, rank):
    if tree.is_leaf(v):
        return rank[next(iter(v))]
    return tuple(_nested(tree, c, rank) for c in tree.children(v))


def _sub_weights(net, v, s):
    rank = {i: r for r, i in enumerate(sorted(v))}
    out = {}
    stack = [v]
    while stack:
        u = stack.pop()
        out[frozenset(rank[i] for i in u)] = net.weights[u] * s[net.tree.height(u)]
        stack.extend(net.tree.children(u))
    return out


def _big_net(dtype):
    tree = image_tree(32, 32)
    return _positive_net(tree, 2, 2, 3, seed=5, dtype=dtype), tree


def _logits_and_grads(obj, params_np, F, labels, backend, dtype):
    """Logits and the cross-entropy gradient on ``backend`` (one jit compile on JAX)."""
    loss_fn = tc.train.losses.cross_entropy
    if backend == "torch":
        torch = pytest.importorskip("torch")
        params = {k: torch.tensor(v, requires_grad=True) for k, v in params_np.items()}
        logits = obj.logits(params, torch.from_numpy(obj.prepare(F)))
        loss_fn(logits, torch.tensor(labels)).backward()
        return logits.detach().numpy(), {k: p.grad.numpy() for k, p in params.items()}
    with jax.enable_x64(dtype == "float64"):
        x, yj = jnp.asarray(obj.prepare(F)), jnp.asarray(labels)

        def loss(p):
            out = obj.logits(p, x)
            return loss_fn(out, yj), out

        (_, logits), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(
            {k: jnp.asarray(v) for k, v in params_np.items()})
        return np.asarray(logits), {k: np.asarray(v) for k, v in grads.items()}


@pytest.mark.parametrize("backend, dtype", [
    ("jax", "float32"), ("torch", "float32"), ("torch", "float64"),
    pytest.param("jax", "float64", marks=pytest.mark.slow),
])
def test_n1024_log_space_forward_and_gradient_are_finite(backend, dtype):
    net, tree = _big_net(dtype)
    assert tree.n_inputs == 1024
    rng = np.random.default_rng(6)
    F = rng.uniform(1e-3, 1e-2, (2, 1024, 2))  # the plain product underflows: about (1e-2)^1024
    plain = net.forward(F.astype(dtype))
    assert not np.any(plain), "the plain forward should underflow to 0 here, or the test proves nothing"
    sign, want = tc.ConvAC(tree, 2, 2, n_outputs=3, weights={v: w.astype(np.float64) for v, w in
                                                               net.weights.items()}).forward(F, log=True)
    assert np.all(sign == 1)
    obj = Objective(net, "log")
    logits, grads = _logits_and_grads(obj, obj.init_params(obj.prepare(F)), F, np.array([0, 2]), backend, dtype)
    assert logits.dtype == np.dtype(dtype)
    rtol = 1e-4 if dtype == "float32" else 1e-11  # |log h| ~ 7000: float32 roundoff over 2000 nodes
    np.testing.assert_allclose(logits.astype(np.float64), want, rtol=rtol, atol=0)
    for k, gk in grads.items():
        assert np.isfinite(gk).all(), k
    assert any(np.abs(gk).max() > 0 for gk in grads.values())


def test_n1024_log_space_gradient_matches_finite_differences_of_the_engine():
    torch = pytest.importorskip("torch")
    net, _ = _big_net("float64")
    F = np.random.default_rng(7).uniform(1e-3, 1e-2, (2, 1024, 2))
    obj = Objective(net, "log")
    p0 = obj.init_params(obj.prepare(F))
    key = obj.keys[3]
    direction = np.random.default_rng(8).standard_normal(p0[key].shape)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in p0.items()}
    out = obj.logits(params, torch.from_numpy(obj.prepare(F)))
    (out[0, 1] - out[1, 2]).backward()
    analytic = float(np.sum(params[key].grad.numpy() * direction))

    def engine(eps):  # the engine's mantissa-exponent log forward: an independent implementation
        p = dict(p0)
        p[key] = p0[key] + eps * direction
        _, la = obj.to_model(p).forward(F, log=True)
        return la[0, 1] - la[1, 2]

    eps = 1e-5
    numeric = (engine(eps) - engine(-eps)) / (2 * eps)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@NEEDS_TORCH
def test_n1024_trains_one_epoch_in_log_space_without_overflow():
    tree = image_tree(32, 32)
    net = tc.ConvAC(tree, 2, 2, n_outputs=2, seed=0, dtype="float32")
    rng = np.random.default_rng(9)
    X = rng.uniform(1e-3, 1e-2, (16, 1024, 2))
    y = (X[:, :512, 0].mean(1) > X[:, 512:, 0].mean(1)).astype(int)
    res = tc.train.fit(net, X, y, epochs=1, batch_size=8, seed=0, progress=False, backend="torch")
    assert res.parameterization == "log"
    assert np.isfinite(res.history["loss"]).all()
    assert all(np.isfinite(w).all() and (w > 0).all() for w in res.model.weights.values())
    z = res.logits(X)
    assert np.isfinite(z).all()


@NEEDS_TORCH
def test_trained_log_model_roundtrips_through_save_load(tmp_path):
    rng = np.random.default_rng(10)
    X = rng.uniform(0.1, 1.0, (32, 4, 2))
    y = (X[:, 0, 0] > 0.5).astype(int)
    res = tc.train.fit(tc.deep(4, 2, 2, n_outputs=2, seed=0), X, y, epochs=1, progress=False,
                       parameterization="log", backend="torch")
    res.model.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.forward(X), res.model.forward(X))
    np.testing.assert_allclose(np.log(back.forward(X)), res.logits(X), rtol=1e-12)


def test_resolve_parameterization_rules():
    assert resolve_parameterization(tc.deep(4, 2, 2), "auto") == "log"
    assert resolve_parameterization(tc.deep(4, 2, 2), "signed") == "signed"
    relu = tc.ConvNet(tc.ModeTree.balanced(256), 2, 2, g="relu_max")
    assert resolve_parameterization(relu, "auto") == "signed"
    with pytest.raises(ValueError, match="relu_max"):
        resolve_parameterization(relu, "log")
    with pytest.raises(ValueError, match="'exp'"):
        resolve_parameterization(relu, "exp")


def test_log_space_refuses_non_positive_features():
    X = np.ones((4, 4, 2))
    X[2, 1, 0] = -0.5
    with pytest.raises(ValueError, match=r"X\[2, 1, 0\] = -0.5"):
        tc.train.fit(tc.deep(4, 2, 2, n_outputs=2), X, [0, 1, 0, 1], parameterization="log", progress=False)


def test_mpmath_oracle_is_the_definition():
    # the oracle itself, on a net small enough for the coefficient tensor: h = <A, f_1 x ... x f_N>
    net = _positive_net(tc.ModeTree.balanced(4), 2, 2, 1, seed=11)
    F = np.random.default_rng(12).uniform(0.1, 1.0, (4, 2))
    A = net.coefficient_tensor()
    direct = sum(A[idx] * np.prod([F[i, d] for i, d in enumerate(idx)])
                 for idx in itertools.product(range(2), repeat=4))
    assert float(_mp_eval(net.tree, net.weights, F, net.tree.root)[0]) == pytest.approx(direct, rel=1e-13)
