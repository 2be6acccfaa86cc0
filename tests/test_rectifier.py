"""Generalized tensor products (MATH.md section 4): ConvNets with g = product | relu_max | relu_sum | callable.

Checks the ConvNet of tnconv.models.convnet against a recursive numpy forward written here, the grid
tensor against brute-force evaluation on every template combination, and reproduces the ICML'16 claim that
depth efficiency of ReLU + max pooling nets holds, but not almost always.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import unfold
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc

G_REF = {
    "product": lambda a, b: a * b,
    "relu_max": lambda a, b: np.maximum(np.maximum(a, b), 0.0),
    "relu_sum": lambda a, b: np.maximum(a, 0.0) + np.maximum(b, 0.0),
}


def ref_forward(tree, weights, g, x):
    """phi^leaf = x_i @ W_i; phi^v = (g over the children's phi, channel-wise) @ W_v."""

    def val(v):
        if len(v) == 1:
            (i,) = v
            return x[:, i, :] @ weights[v]
        kids = [val(c) for c in tree.children(v)]
        pooled = kids[0]
        for k in kids[1:]:
            pooled = g(pooled, k)
        return pooled @ weights[v]

    return val(tree.root)


def all_template_inputs(n, templates):
    combos = np.array(list(itertools.product(range(templates.shape[0]), repeat=n)))
    return templates[combos]  # (T**n, n, M)


trees = st.builds(lambda n, s: tc.ModeTree.random(n, arity=(2, 3), seed=s), st.integers(2, 7), st.integers(0, 10**6))


@settings(deadline=None)
@given(tree=trees, m=st.integers(1, 3), w=st.integers(1, 4), y=st.integers(1, 2), g=st.sampled_from(sorted(G_REF)),
       seed=st.integers(0, 10**6))
def test_forward_matches_independent_numpy(tree, m, w, y, g, seed):
    net = tc.ConvNet(tree, m, w, n_outputs=y, g=g, seed=seed)
    x = np.random.default_rng(seed).standard_normal((6, tree.n_inputs, m))
    np.testing.assert_allclose(net.forward(x), ref_forward(tree, net.weights, G_REF[g], x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("g", ["relu_max", "relu_sum"])
def test_log_forward_of_rectifier_nets(g, rng):
    tree = tc.ModeTree.balanced(8)
    net = tc.ConvNet(tree, 3, 3, g=g, seed=2)
    x = rng.standard_normal((7, 8, 3))
    sign, logabs = net.forward(x, log=True)
    np.testing.assert_allclose(sign * np.exp(logabs), ref_forward(tree, net.weights, G_REF[g], x),
                               rtol=1e-10, atol=1e-300)


def test_same_weights_different_operators_differ(rng):
    tree = tc.ModeTree.balanced(8)
    conv_ac = tc.ConvAC(tree, 3, 4, seed=1)
    x = rng.standard_normal((30, 8, 3))
    outs = {}
    for g in G_REF:
        net = tc.ConvNet(tree, 3, 4, g=g, weights=conv_ac.weights)
        outs[g] = net.forward(x)
        np.testing.assert_allclose(outs[g], ref_forward(tree, conv_ac.weights, G_REF[g], x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outs["product"], conv_ac.forward(x), rtol=1e-12)
    for a, b in itertools.combinations(G_REF, 2):
        assert np.abs(outs[a] - outs[b]).max() > 1e-3, (a, b)


@settings(deadline=None)
@given(tree=st.builds(lambda n, s: tc.ModeTree.random(n, arity=(2, 3), seed=s), st.integers(2, 5),
                      st.integers(0, 10**6)),
       t=st.integers(1, 3), m=st.integers(1, 3), g=st.sampled_from(sorted(G_REF)), seed=st.integers(0, 10**6))
def test_grid_tensor_is_every_template_combination(tree, t, m, g, seed):
    net = tc.ConvNet(tree, m, 2, n_outputs=2, g=g, seed=seed)
    templates = np.random.default_rng(seed).standard_normal((t, m))
    brute = ref_forward(tree, net.weights, G_REF[g], all_template_inputs(tree.n_inputs, templates))
    for y in (0, 1):
        np.testing.assert_allclose(net.grid_tensor(templates, output=y), brute[:, y].reshape((t,) * tree.n_inputs),
                                   rtol=1e-10, atol=1e-12)


def test_product_grid_tensor_is_coefficient_tensor_times_templates(rng):
    tree = tc.ModeTree.from_nested(((0, 3), (1, 4, 2)))
    net = tc.ConvAC(tree, 2, 3, seed=0)
    F = rng.standard_normal((3, 2))  # three templates of two descriptors
    # the coefficient tensor from one-hot inputs, independently of the model's dense code
    A = ref_forward(tree, net.weights, G_REF["product"], all_template_inputs(5, np.eye(2)))[:, 0].reshape((2,) * 5)
    np.testing.assert_allclose(net.coefficient_tensor(), A, rtol=1e-10, atol=1e-13)
    expected = np.einsum("abcde,ia,jb,kc,ld,me->ijklm", A, F, F, F, F, F)
    np.testing.assert_allclose(net.grid_tensor(F), expected, rtol=1e-10, atol=1e-13)


def test_not_almost_always_for_relu_max():
    """ICML'16: depth efficiency holds for ReLU + max pooling, but not almost always.

    N = 4, pooling ((0,1),(2,3)), width 2, M templates (orthonormal, so the grid tensor of a ConvAC has
    the rank of its coefficient tensor). A generic ConvAC has rank min(M, 2)^2 = 4 on the odd/even
    partition {0,2}|{1,3}; a shallow net of width Z has rank <= Z there. Among random ReLU + max nets a
    positive fraction falls below 4 (a set of positive measure), while random ConvACs never do.
    """
    tree = tc.ModeTree.balanced(4)
    part = [0, 2]
    for m in (2, 3):
        low = {"product": 0, "relu_max": 0}
        high_relu = 0
        n_samples = 150
        for s in range(n_samples):
            rng = np.random.default_rng([m, s])
            templates = np.linalg.qr(rng.standard_normal((m, m)))[0]
            for g in low:
                net = tc.ConvNet(tree, m, 2, g=g, seed=rng)
                sv = np.linalg.svd(unfold(net.grid_tensor(templates), part), compute_uv=False)
                rank = 0 if sv[0] == 0 else int((sv > 1e-9 * sv[0]).sum())
                if rank < 4:
                    low[g] += 1
                elif g == "relu_max":
                    high_relu += 1
        assert low["product"] == 0
        assert low["relu_max"] >= 0.1 * n_samples  # observed: more than half
        assert high_relu > 0  # and yet deep ReLU + max nets do reach the exponential rank


def test_relu_max_low_rank_example_is_exact():
    """A concrete positive-measure example: if every pre-activation entering the root pool is negative
    on all templates, max(a, b, 0) = 0 and the grid tensor is zero; perturbing the weights keeps it so."""
    tree = tc.ModeTree.balanced(4)
    templates = np.eye(2)
    rng = np.random.default_rng(0)
    base = tc.ConvNet(tree, 2, 2, g="relu_max", seed=0)
    weights = dict(base.weights)
    for v in tree.children(tree.root):
        weights[v] = -np.abs(weights[v]) - 1.0  # children of the root output negative values...
    for leaf in tree.leaves:
        weights[leaf] = np.abs(weights[leaf]) + 0.1  # ...from nonnegative pooled leaf activations
    for _ in range(20):
        pert = {v: w + 0.01 * rng.standard_normal(w.shape) for v, w in weights.items()}
        G = tc.ConvNet(tree, 2, 2, g="relu_max", weights=pert).grid_tensor(templates)
        assert np.all(G == 0.0)


def test_callable_g_checks():
    tree = tc.ModeTree.balanced(4)
    with pytest.raises(ValueError, match="not commutative"):
        tc.ConvNet(tree, 2, 2, g=lambda a, b: a - b)
    with pytest.raises(ValueError, match="not associative"):
        tc.ConvNet(tree, 2, 2, g=lambda a, b: (a + b) / 2)
    with pytest.raises(ValueError, match="elementwise"):
        tc.ConvNet(tree, 2, 2, g=lambda a, b: np.outer(a, b))
    with pytest.raises(TypeError, match="name or a callable"):
        tc.ConvNet(tree, 2, 2, g=3)
    net = tc.ConvNet(tree, 2, 2, g=np.logaddexp, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    np.testing.assert_allclose(net.forward(x), ref_forward(tree, net.weights, np.logaddexp, x), rtol=1e-12)


def test_grid_tensor_bad_input():
    net = tc.ConvNet(tc.ModeTree.balanced(8), 2, 2, g="relu_sum", seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 3\); expected \(T, 2\)"):
        net.grid_tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        net.grid_tensor(np.array([[0.0, np.nan]]))
    with pytest.raises(tc.TensorTooLargeError, match="grid tensor"):
        net.grid_tensor(np.eye(2), max_bytes=100)
    with pytest.raises(ValueError, match="output 1 out of range"):
        net.grid_tensor(np.eye(2), output=1)


@pytest.mark.parametrize("module", ["array_api_strict", "jax.numpy"])
def test_callable_g_on_other_namespaces(module, rng):
    """A namespace-aware callable runs on any backend; a numpy-only one is refused, naming it."""
    xp = pytest.importorskip(module)
    from array_api_compat import array_namespace

    def soft_max_pool(a, b):  # (1 + a)(1 + b) - 1: associative and commutative
        space = array_namespace(a, b)
        return space.multiply(a + 1, b + 1) - 1

    tree = tc.ModeTree.balanced(4)
    F = rng.standard_normal((3, 4, 2)).astype(np.float32)
    net = tc.ConvNet(tree, 2, 3, g=soft_max_pool, seed=1, dtype="float32")
    g = lambda a, b: (1 + a) * (1 + b) - 1
    want = ref_forward(tree, {v: np.asarray(w, np.float64) for v, w in net.weights.items()}, g,
                       F.astype(np.float64))
    got = np.asarray(net.to(xp).forward(xp.asarray(F)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    numpy_only = tc.ConvNet(tree, 2, 3, g=np.maximum, seed=1, dtype="float32")
    with pytest.raises(TypeError, match="'maximum'"):
        numpy_only.to(xp).forward(xp.asarray(F))
