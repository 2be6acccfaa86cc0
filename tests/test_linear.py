"""Tests for tnconv.linear: the end-to-end rule against independent computations.

Independent references used here: scipy's fractional_matrix_power, the first-order term of the product
of factors written out by hand, closed-form rank-1 powers, brute-force loops for the losses, finite
differences for every gradient, and a line integral for the curl.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tnconv.linear import (
    DeepLinearNetwork,
    DivergenceError,
    LpLoss,
    SoftmaxCrossEntropy,
    SquaredLoss,
    end_to_end_field,
    end_to_end_update,
    end_to_end_update_single_output,
    fit_end_to_end,
    psd_power,
)

scipy_linalg = pytest.importorskip("scipy.linalg")


# ------------------------------------------------------------------------------------------------
# independent helpers (written without tnconv.linear)


def chain(mats):
    """mats[0] applied first: returns mats[-1] @ ... @ mats[0] (identity-free: needs >= 1 matrix)."""
    out = mats[0]
    for m in mats[1:]:
        out = m @ out
    return out


def factor_grads_by_hand(factors, G):
    N = len(factors)
    out = []
    for j in range(N):
        left = chain(factors[j + 1:]).T @ G if j < N - 1 else G
        out.append(left @ chain(factors[:j]).T if j > 0 else left)
    return out


def first_order_term(factors, G):
    """d/deta prod_j (W_j - eta G_j) at eta = 0: sum_j (W_N..W_{j+1}) G_j (W_{j-1}..W_1)."""
    N = len(factors)
    Gs = factor_grads_by_hand(factors, G)
    total = 0
    for j in range(N):
        term = Gs[j]
        if j > 0:
            term = term @ chain(factors[:j])
        if j < N - 1:
            term = chain(factors[j + 1:]) @ term
        total = total + term
    return total


def balanced_factors_by_hand(W, N):
    """Rank-r balanced factorization: W_1 = S^(1/N) V^T, W_j = S^(1/N), W_N = U S^(1/N)."""
    U, s, Vh = np.linalg.svd(W, full_matrices=False)
    r = int(np.sum(s > 1e-12 * s[0]))
    root = np.diag(s[:r] ** (1.0 / N))
    if N == 1:
        return [W.copy()]
    return [root @ Vh[:r]] + [root.copy() for _ in range(N - 2)] + [U[:, :r] @ root]


def rule_update_by_hand(W, G, N, lr):
    """W - lr * (the linear term of prod(W_j - eta G_j) at balanced factors of W): the rule, from its definition."""
    return W - lr * first_order_term(balanced_factors_by_hand(W, N), G)


def lp_grad_by_hand(X, y, p, W):
    """Gradient of sum |X w - y|^p / (p m) for one output, W of shape (1, d)."""
    r = X @ W[0] - y
    return (X.T @ (np.sign(r) * np.abs(r) ** (p - 1)) / len(y))[None, :]


def rule_by_scipy(W, G, N):
    """The rule's field with scipy's fractional_matrix_power (full-rank square W only)."""
    fmp = scipy_linalg.fractional_matrix_power
    A, B = W @ W.T, W.T @ W
    total = 0
    for j in range(1, N + 1):
        total = total + np.real(fmp(A, (j - 1) / N)) @ G @ np.real(fmp(B, (N - j) / N))
    return total


def num_grad(f, X, h=1e-6):
    g = np.zeros_like(X)
    for idx in np.ndindex(X.shape):
        E = np.zeros_like(X)
        E[idx] = h
        g[idx] = (f(X + E) - f(X - E)) / (2 * h)
    return g


# ------------------------------------------------------------------------------------------------
# psd_power


@settings(deadline=None)
@given(n=st.integers(1, 5), power=st.sampled_from([0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5]),
       seed=st.integers(0, 10**6))
def test_psd_power_matches_scipy_full_rank(n, power, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    M = A @ A.T + 0.1 * np.eye(n)
    ref = np.real(scipy_linalg.fractional_matrix_power(M, power))
    np.testing.assert_allclose(psd_power(M, power), ref, rtol=1e-8, atol=1e-10)


def test_psd_power_rank_one_null_space_is_exactly_zero():
    v = np.array([1.0, 2.0, -2.0, 0.5])  # M = v v^T has rounding-level eigenvalues on the null space
    M = np.outer(v, v)
    nv = np.linalg.norm(v)
    for a in (0.25, 0.5, 0.75):
        expected = nv ** (2 * a) * np.outer(v / nv, v / nv)
        np.testing.assert_allclose(psd_power(M, a), expected, atol=1e-12)


def test_psd_power_zero_is_identity_even_on_null_space():
    np.testing.assert_array_equal(psd_power(np.zeros((3, 3)), 0), np.eye(3))
    np.testing.assert_array_equal(psd_power(np.zeros((3, 3)), 0.5), np.zeros((3, 3)))


def test_psd_power_semigroup_rank_deficient():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 2))
    M = A @ A.T  # rank 2 of 5
    np.testing.assert_allclose(psd_power(M, 0.3) @ psd_power(M, 0.7), M, atol=1e-10)
    np.testing.assert_allclose(psd_power(M, 0.5) @ psd_power(M, 0.5), M, atol=1e-10)


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.ones(3)])
def test_psd_power_rejects_non_square(bad):
    with pytest.raises(ValueError, match="square"):
        psd_power(bad, 0.5)


def test_psd_power_rejects_negative_power():
    with pytest.raises(ValueError, match=r"-0\.5"):
        psd_power(np.eye(2), -0.5)


# ------------------------------------------------------------------------------------------------
# the end-to-end rule against independent references


@settings(deadline=None)
@given(n=st.integers(1, 4), depth=st.integers(1, 4), seed=st.integers(0, 10**6),
       method=st.sampled_from(["svd", "eigh"]))
def test_rule_matches_scipy_powers_full_rank(n, depth, seed, method):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) + 2 * np.eye(n)  # comfortably invertible
    G = rng.standard_normal((n, n))
    got = end_to_end_field(W, G, depth, method=method)
    np.testing.assert_allclose(got, rule_by_scipy(W, G, depth), rtol=1e-7, atol=1e-8)


@settings(deadline=None)
@given(d_out=st.integers(1, 4), d_in=st.integers(1, 5), rank=st.integers(1, 4), depth=st.integers(1, 5),
       seed=st.integers(0, 10**6), method=st.sampled_from(["auto", "svd", "eigh"]))
def test_rule_equals_first_order_term_of_balanced_factors(d_out, d_in, rank, depth, seed, method):
    """Any shape and rank: the rule is the linear term of prod(W_j - eta G_j) at balanced factors."""
    rng = np.random.default_rng(seed)
    r = min(rank, d_out, d_in)
    W = rng.standard_normal((d_out, r)) @ rng.standard_normal((r, d_in))
    G = rng.standard_normal((d_out, d_in))
    factors = balanced_factors_by_hand(W, depth)
    expected = first_order_term(factors, G)
    scale = 1 + np.abs(expected).max()
    tol = 1e-9 if method != "eigh" else 1e-5  # eigh resolves eigenvalues only to eps * s_max^2
    np.testing.assert_allclose(end_to_end_field(W, G, depth, method=method), expected, atol=tol * scale)


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
def test_rule_rank_one_multi_output_closed_form(depth):
    rng = np.random.default_rng(depth)
    u = rng.standard_normal(3); u /= np.linalg.norm(u)
    v = rng.standard_normal(5); v /= np.linalg.norm(v)
    s = 2.5
    W = s * np.outer(u, v)
    G = rng.standard_normal((3, 5))
    P, Q = np.outer(u, u), np.outer(v, v)
    expected = s ** (2 - 2 / depth) * (G @ Q + P @ G + (depth - 2) * P @ G @ Q)
    for method in ("svd", "eigh"):
        np.testing.assert_allclose(end_to_end_field(W, G, depth, method=method), expected, atol=1e-12)


def test_depth_one_is_plain_gradient_descent():
    rng = np.random.default_rng(0)
    W, G = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    np.testing.assert_array_equal(end_to_end_update(W, G, 1, 0.1), W - 0.1 * G)


def test_zero_matrix_does_not_move_for_depth_two_and_more():
    G = np.ones((2, 3))
    for depth in (2, 3):
        np.testing.assert_array_equal(end_to_end_update(np.zeros((2, 3)), G, depth, 0.1), np.zeros((2, 3)))
        np.testing.assert_array_equal(end_to_end_update(np.zeros((1, 3)), G[:1], depth, 0.1), np.zeros((1, 3)))


@settings(deadline=None)
@given(d=st.integers(1, 6), depth=st.integers(1, 6), seed=st.integers(0, 10**6),
       log_scale=st.floats(-6, 3))
def test_single_output_closed_form_equals_general_rule(d, depth, seed, log_scale):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d) * 10.0**log_scale
    g = rng.standard_normal(d)
    closed = end_to_end_update_single_output(w, g, depth, 0.01)
    for method in ("svd", "eigh"):
        general = end_to_end_update(w[None, :], g[None, :], depth, 0.01, method=method)[0]
        np.testing.assert_allclose(closed, general, rtol=1e-9, atol=1e-12 * (1 + np.abs(w).max()))
    # and the formula of the paper, written out here
    nw = np.linalg.norm(w)
    wh = w / nw
    ref = w - 0.01 * nw ** (2 - 2 / depth) * (g + (depth - 1) * (g @ wh) * wh)
    np.testing.assert_allclose(closed, ref, rtol=1e-12, atol=1e-15)


def test_stacked_inputs_match_one_by_one():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 3, 5))
    G = rng.standard_normal((4, 3, 5))
    lr = np.array([0.1, 0.2, 0.3, 0.4])
    stacked = end_to_end_update(W, G, 3, lr)
    for k in range(4):
        np.testing.assert_allclose(stacked[k], end_to_end_update(W[k], G[k], 3, lr[k]), atol=1e-13)
        np.testing.assert_allclose(stacked[k], rule_update_by_hand(W[k], G[k], 3, lr[k]), atol=1e-12)
    w1, g1 = W[:, :1, :], G[:, :1, :]
    stacked1 = end_to_end_update(w1, g1, 3, lr)
    for k in range(4):
        np.testing.assert_allclose(stacked1[k], end_to_end_update(w1[k], g1[k], 3, lr[k], method="svd"), atol=1e-13)
        np.testing.assert_allclose(stacked1[k], rule_update_by_hand(w1[k], g1[k], 3, lr[k]), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# factor gradient descent tracks the rule


def one_factor_step(factors, G, eta):
    return [f - eta * g for f, g in zip(factors, factor_grads_by_hand(factors, G))]


@pytest.mark.parametrize("depth,shape", [(2, (3, 4)), (3, (1, 6)), (4, (2, 2)), (3, (4, 2))])
def test_per_step_deviation_is_second_order(depth, shape):
    rng = np.random.default_rng(7)
    W = rng.standard_normal(shape)
    G = rng.standard_normal(shape)
    net = DeepLinearNetwork.from_end_to_end(W, depth, hidden=max(shape) + 1, seed=0)
    devs = []
    for eta in (1e-2, 5e-3, 2.5e-3):
        after = chain(one_factor_step(net.factors, G, eta))
        devs.append(np.linalg.norm(after - end_to_end_update(W, G, depth, eta)))
    assert devs[0] > 1e-9  # well above rounding: the ratio is meaningful
    for a, b in itertools.pairwise(devs):
        assert 3.6 < a / b < 4.4, devs


def test_trajectory_over_fixed_steps_deviation_quadratic():
    """K steps of factor GD vs K steps of the rule, a real loss: deviation ~ K * eta^2."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0])
    loss = LpLoss(X, y, p=4)
    W0 = 0.3 * rng.standard_normal((1, 4))
    devs = []
    for eta in (1e-5, 5e-6):  # eta * ||grad|| ~ 1e-3: the asymptotic regime
        net = DeepLinearNetwork.from_end_to_end(W0, 3, hidden=2, seed=1)
        W = W0.copy()
        for _ in range(10):
            net.step(loss, eta)
            W = rule_update_by_hand(W, lp_grad_by_hand(X, y, 4, W), 3, eta)
        devs.append(np.linalg.norm(net.end_to_end() - W))
    assert 3.6 < devs[0] / devs[1] < 4.4, devs


def test_balancedness_change_is_exactly_eta_squared_term():
    rng = np.random.default_rng(4)
    W = rng.standard_normal((2, 3))
    net = DeepLinearNetwork.from_end_to_end(W, 3, hidden=[3, 4], seed=2)
    G = rng.standard_normal((2, 3))
    eta = 0.05
    Gs = factor_grads_by_hand(net.factors, G)
    new = one_factor_step(net.factors, G, eta)
    for j in range(2):
        before = net.factors[j + 1].T @ net.factors[j + 1] - net.factors[j] @ net.factors[j].T
        after = new[j + 1].T @ new[j + 1] - new[j] @ new[j].T
        # first-order terms cancel, the remainder is eta^2 (G_{j+1}^T G_{j+1} - G_j G_j^T)
        np.testing.assert_allclose(after - before, eta**2 * (Gs[j + 1].T @ Gs[j + 1] - Gs[j] @ Gs[j].T), atol=1e-12)


def test_balancedness_conserved_under_small_steps_any_init():
    """The difference W_{j+1}^T W_{j+1} - W_j W_j^T is a gradient-flow invariant, also off balance."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20, 3))
    Y = X @ rng.standard_normal((3, 2))
    loss = SquaredLoss(X, Y)
    factors0 = [0.5 * rng.standard_normal((4, 3)), 0.5 * rng.standard_normal((2, 4))]
    drifts = []
    for eta in (1e-2, 5e-3):
        net = DeepLinearNetwork([f.copy() for f in factors0])
        D0 = net.factors[1].T @ net.factors[1] - net.factors[0] @ net.factors[0].T
        n_steps = round(0.2 / eta)  # the same flow time
        for _ in range(n_steps):
            net.step(loss, eta)
        D1 = net.factors[1].T @ net.factors[1] - net.factors[0] @ net.factors[0].T
        drifts.append(np.linalg.norm(D1 - D0))
    assert drifts[0] < 1e-2
    assert 1.7 < drifts[0] / drifts[1] < 2.3  # O(eta) over a fixed time = O(eta^2) per step


@settings(deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(2, 4))
def test_rule_does_not_depend_on_hidden_widths(seed, depth):
    """Balanced starts of hidden width 1 and 5 give end-to-end trajectories within O(eta^2) per step.

    The network's own steps are checked against factor gradient descent written here (hand-written
    loss gradient and factor gradients), and the width independence is asserted on those.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((15, 3))
    y = X @ rng.standard_normal(3)
    loss = LpLoss(X, y, p=4)
    W0 = 0.2 * rng.standard_normal((1, 3))
    eta = 1e-3
    trajectories = []
    for hidden in (1, 5):
        net = DeepLinearNetwork.from_end_to_end(W0, depth, hidden=hidden, seed=seed)
        factors = [f.copy() for f in net.factors]
        np.testing.assert_allclose(chain(factors), W0, atol=1e-14)
        for lo, hi in itertools.pairwise(factors):  # a balanced start
            np.testing.assert_allclose(hi.T @ hi, lo @ lo.T, atol=1e-14)
        traj = []
        for _ in range(20):
            net.step(loss, eta)
            factors = one_factor_step(factors, lp_grad_by_hand(X, y, 4, chain(factors)), eta)
            np.testing.assert_allclose(net.end_to_end(), chain(factors), rtol=1e-10, atol=1e-14)
            traj.append(chain(factors))
        trajectories.append(np.array(traj))
    assert np.abs(trajectories[0] - trajectories[1]).max() < 20 * eta**2


def test_softmax_network_tracks_rule_multi_output():
    """Several outputs (general SVD path): factor GD on cross-entropy vs the rule, deviation O(eta^2)."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((25, 4))
    loss = SoftmaxCrossEntropy(X, rng.integers(0, 3, 25), n_classes=3)
    W0 = 0.5 * rng.standard_normal((3, 4))
    devs = []
    for eta in (4e-3, 2e-3):
        net = DeepLinearNetwork.from_end_to_end(W0, 3, hidden=[4, 5], seed=0)
        W = W0.copy()
        for _ in range(5):
            net.step(loss, eta)
            W = rule_update_by_hand(W, loss(W)[1], 3, eta)  # the loss's gradient is checked against FD below
        devs.append(np.linalg.norm(net.end_to_end() - W))
    assert 3.6 < devs[0] / devs[1] < 4.4, devs
    losses = DeepLinearNetwork.from_end_to_end(W0, 3, seed=0).fit(loss, 0.2, 100)
    assert losses[-1] < 0.9 * losses[0]


# ------------------------------------------------------------------------------------------------
# the rule is not a gradient field


def _field_flat(W_flat, A, depth):
    W = W_flat.reshape(2, 2)
    return end_to_end_field(W, W - A, depth).ravel()  # grad of 0.5 ||W - A||^2 is W - A


def _jacobian(f, x, h=1e-5):
    return np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=1)


@pytest.mark.parametrize("depth", [2, 3])
def test_rule_has_nonzero_curl_on_2x2(depth):
    A = np.array([[1.0, 0.5], [-0.3, 2.0]])  # L(W) = 0.5 ||W - A||^2: no critical point at W = 0
    W0 = np.array([[0.7, 0.2], [0.4, 1.1]])
    J = _jacobian(lambda x: _field_flat(x, A, depth), W0.ravel())
    curl = J - J.T
    control = _jacobian(lambda x: _field_flat(x, A, 1), W0.ravel())  # depth 1: the gradient itself
    assert np.abs(control - control.T).max() < 1e-8
    assert np.abs(curl).max() > 1e-2
    # independently: the circulation around a small loop in the plane of the largest curl entry
    a, b = np.unravel_index(np.argmax(np.abs(curl)), curl.shape)
    e_a, e_b = np.eye(4)[a], np.eye(4)[b]
    radius, n = 1e-2, 400
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    circ = 0.0
    for ti in t:
        x = W0.ravel() + radius * (np.cos(ti) * e_a + np.sin(ti) * e_b)
        tangent = radius * (-np.sin(ti) * e_a + np.cos(ti) * e_b)
        circ += _field_flat(x, A, depth) @ tangent * (2 * np.pi / n)
    # Stokes: circulation = (dF_b/dx_a - dF_a/dx_b) * area
    np.testing.assert_allclose(circ, curl[b, a] * np.pi * radius**2, rtol=1e-3)
    assert abs(circ) > 1e-7


# ------------------------------------------------------------------------------------------------
# losses against brute force and finite differences


@settings(deadline=None)
@given(p=st.sampled_from([2, 2.5, 3, 4, 6]), d_out=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_lp_loss_value_and_gradient(p, d_out, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((7, 3))
    Y = rng.standard_normal((7, d_out))
    W = rng.standard_normal((d_out, 3))
    loss = LpLoss(X, Y, p=p)
    brute = sum(abs(sum(W[k, i] * X[s, i] for i in range(3)) - Y[s, k]) ** p
                for s in range(7) for k in range(d_out)) / (p * 7)
    value, grad = loss(W)
    assert math.isclose(float(value), brute, rel_tol=1e-12)
    np.testing.assert_allclose(grad, num_grad(lambda V: float(loss(V)[0]), W), rtol=1e-5, atol=1e-7)


def test_lp_loss_is_safe_under_concurrent_stack_sizes():
    """One loss called from several threads, each with its own stack size (the loss caches the tiled
    targets of the last stack size): every value equals the brute-force one."""
    rng = np.random.default_rng(11)
    m = 2000  # long enough GEMMs for the threads to interleave inside a call
    X, y = rng.standard_normal((m, 3)), rng.standard_normal(m)
    loss = LpLoss(X, y, p=4)
    errors = []

    def work(k):
        W = rng_w[k]
        expected = [np.sum((X @ W[j, 0] - y) ** 4) / (4 * m) for j in range(W.shape[0])]
        for _ in range(200):
            try:
                value, _ = loss(W)
                if not np.allclose(value, expected, rtol=1e-12):
                    errors.append((k, value))
            except ValueError as exc:  # a shape mismatch from another thread's cache
                errors.append((k, str(exc)))

    rng_w = [rng.standard_normal((k + 1, 1, 3)) for k in range(4)]
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: make a race show up
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]


def test_squared_loss_is_half_mean_squared_error():
    rng = np.random.default_rng(0)
    X, y, W = rng.standard_normal((9, 4)), rng.standard_normal(9), rng.standard_normal((1, 4))
    value, grad = SquaredLoss(X, y)(W)
    r = X @ W[0] - y
    assert math.isclose(float(value), float(r @ r) / 18, rel_tol=1e-12)
    np.testing.assert_allclose(grad[0], X.T @ r / 9, atol=1e-13)


@settings(deadline=None)
@given(C=st.integers(2, 4), seed=st.integers(0, 10**6))
def test_softmax_cross_entropy_value_and_gradient(C, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((6, 3))
    labels = rng.integers(0, C, 6)
    W = 3 * rng.standard_normal((C, 3))
    loss = SoftmaxCrossEntropy(X, labels, n_classes=C)
    brute = 0.0
    for s in range(6):
        z = [sum(W[c, i] * X[s, i] for i in range(3)) for c in range(C)]
        brute -= z[labels[s]] - math.log(sum(math.exp(zc) for zc in z))
    value, grad = loss(W)
    assert math.isclose(float(value), brute / 6, rel_tol=1e-10)
    np.testing.assert_allclose(grad, num_grad(lambda V: float(loss(V)[0]), W), rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_no_overflow_at_huge_logits():
    loss = SoftmaxCrossEntropy(np.eye(2), np.array([0, 1]))
    value, grad = loss(np.array([[1e4, 0.0], [0.0, 1e4]]))
    assert np.isfinite(value) and np.all(np.isfinite(grad))


# ------------------------------------------------------------------------------------------------
# the network


@settings(deadline=None)
@given(depth=st.integers(1, 4), seed=st.integers(0, 10**6))
def test_factor_gradients_match_finite_differences(depth, seed):
    rng = np.random.default_rng(seed)
    widths = list(rng.integers(1, 4, depth - 1))
    dims = [3] + widths + [2]
    factors = [rng.standard_normal((dims[j + 1], dims[j])) for j in range(depth)]
    net = DeepLinearNetwork(factors)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    loss = LpLoss(X, Y, p=3)
    grads = net.factor_gradients(loss(net.end_to_end())[1])
    for j in range(depth):
        def f(F, j=j):
            fs = list(factors); fs[j] = F
            return float(loss(chain(fs))[0])
        # central differences with h = 1e-6 carry a rounding error of about 1e-10 |loss|: the absolute
        # tolerance follows it (a small entry beside entries of 2e3 once failed at atol=1e-7 by 5e-7)
        atol = 1e-7 * max(1.0, abs(f(factors[j])))
        np.testing.assert_allclose(grads[j], num_grad(f, factors[j]), rtol=1e-5, atol=atol)


@settings(deadline=None)
@given(d_in=st.integers(1, 5), d_out=st.integers(1, 4), depth=st.integers(1, 5), extra=st.integers(0, 3),
       seed=st.integers(0, 10**6))
def test_balanced_construction_is_exact(d_in, d_out, depth, extra, seed):
    net = DeepLinearNetwork.balanced(d_in, d_out, depth, hidden=min(d_in, d_out) + extra, scale=0.7, seed=seed)
    assert [f.shape[0] for f in net.factors[:-1]] == [min(d_in, d_out) + extra] * (depth - 1)
    assert math.isclose(np.linalg.norm(chain(net.factors)), 0.7, rel_tol=1e-12)
    for lo, hi in zip(net.factors[:-1], net.factors[1:]):
        np.testing.assert_allclose(hi.T @ hi, lo @ lo.T, atol=1e-14)


def test_fit_reaches_least_squares_solution():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.1 * rng.standard_normal(40)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    net = DeepLinearNetwork.balanced(3, 1, depth=3, hidden=2, scale=0.5, seed=1)
    losses = net.fit(SquaredLoss(X, y), lr=0.05, n_iter=3000)
    np.testing.assert_allclose(net.end_to_end()[0], w_star, atol=1e-6)
    assert losses[-1] < losses[0]
    W, _losses2 = fit_end_to_end(SquaredLoss(X, y), 0.5 * np.ones((1, 3)) / np.sqrt(3), 3, 0.05, 3000)
    np.testing.assert_allclose(W[0], w_star, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_rejects_non_positive_or_non_finite_lr(lr):
    with pytest.raises(ValueError, match="lr"):
        end_to_end_update(np.ones((2, 2)), np.ones((2, 2)), 2, lr)
    with pytest.raises(ValueError, match="lr"):
        end_to_end_update_single_output(np.ones(2), np.ones(2), 2, lr)
    net = DeepLinearNetwork.balanced(2, 1, 2, seed=0)
    with pytest.raises(ValueError, match="lr"):
        net.fit(SquaredLoss(np.eye(2), np.ones(2)), lr, 3)


@pytest.mark.parametrize("p", [1, 1.5, 0, -2, float("nan")])
def test_rejects_p_below_two(p):
    with pytest.raises(ValueError, match=f"p={p}"):
        LpLoss(np.eye(2), np.ones(2), p=p)


def test_rejects_factors_that_do_not_chain():
    with pytest.raises(ValueError, match=r"W_2 = factors\[1\] has shape \(2, 4\)"):
        DeepLinearNetwork([np.ones((3, 5)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="non-empty"):
        DeepLinearNetwork([])


def test_rejects_shape_mismatches():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        end_to_end_update(np.ones((2, 2)), np.ones((2, 3)), 2, 0.1)
    with pytest.raises(ValueError, match=r"\(1, 3\)"):
        SquaredLoss(np.eye(2), np.ones(2))(np.ones((1, 3)))
    with pytest.raises(ValueError, match="3 samples"):
        LpLoss(np.ones((3, 2)), np.ones(4), p=4)
    with pytest.raises(ValueError, match="rank"):
        DeepLinearNetwork.from_end_to_end(np.eye(3), 2, hidden=2)
    with pytest.raises(ValueError, match="depth - 1 = 2"):
        DeepLinearNetwork.balanced(3, 1, 3, hidden=[1])


@pytest.mark.parametrize("depth,exc", [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_rejects_bad_depth(depth, exc):
    with pytest.raises(exc, match="depth"):
        end_to_end_update(np.ones((1, 2)), np.ones((1, 2)), depth, 0.1)


def test_rejects_bad_labels():
    with pytest.raises(ValueError, match=r"\[0, 2\), got 5"):
        SoftmaxCrossEntropy(np.eye(2), np.array([0, 5]), n_classes=2)


def test_divergence_is_detected_with_step_and_hint():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    loss = LpLoss(X, X @ np.ones(3), p=4)
    net = DeepLinearNetwork.balanced(3, 1, depth=2, hidden=1, scale=1.0, seed=0)
    with pytest.raises(DivergenceError, match=r"diverged at step \d+.*lower the learning rate") as info:
        net.fit(loss, lr=10.0, n_iter=100)
    assert 0 < info.value.step <= 100 and isinstance(info.value, ValueError)
    with pytest.raises(DivergenceError, match=r"step \d+"):
        fit_end_to_end(loss, np.full((1, 3), 0.1), 2, 10.0, 100)


# ------------------------------------------------------------------------------------------------
# GPU


@pytest.mark.gpu
def test_cupy_matches_numpy():
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - no device
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(0)
    W, G = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for depth in (1, 2, 3):
        for method in ("svd", "eigh"):
            out = end_to_end_update(cp.asarray(W), cp.asarray(G), depth, 0.1, method=method)
            assert isinstance(out, cp.ndarray)
            np.testing.assert_allclose(cp.asnumpy(out), end_to_end_update(W, G, depth, 0.1, method=method), atol=1e-10)
    w, g = W[:1], G[:1]
    np.testing.assert_allclose(cp.asnumpy(end_to_end_update(cp.asarray(w), cp.asarray(g), 3, 0.1)),
                               end_to_end_update(w, g, 3, 0.1), atol=1e-12)
    X = rng.standard_normal((10, 4))
    net = DeepLinearNetwork.balanced(4, 1, depth=3, hidden=2, scale=0.3, seed=0, xp=cp)
    losses = net.fit(LpLoss(cp.asarray(X), cp.asarray(X @ np.ones(4)), p=4), lr=0.01, n_iter=50)
    ref = DeepLinearNetwork.balanced(4, 1, depth=3, hidden=2, scale=0.3, seed=0)
    ref_losses = ref.fit(LpLoss(X, X @ np.ones(4), p=4), lr=0.01, n_iter=50)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-10)


def test_fit_end_to_end_refuses_unknown_keywords_and_bad_rtol():
    X, y = np.eye(2), np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="rtl"):
        fit_end_to_end(SquaredLoss(X, y), np.array([[0.1, 0.1]]), depth=2, lr=0.5, n_iter=2, rtl=1e-3)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rtol"):
            end_to_end_update(np.eye(2), np.ones((2, 2)), 2, 0.1, rtol=bad)
