"""Log-mode forward (``log=True``) against an independent mpmath evaluation with a rigorous error bound.

The reference below walks the tree in mpmath (50 digits) straight from the weights and features; it
never calls tnconv's forward code. Alongside every value it carries a first-order forward error bound of
the float computation (Higham, *Accuracy and Stability of Numerical Algorithms*, Ch. 3): a sum of ``n``
products gets ``gamma_n = n u`` times the sum of magnitudes, a product of ``a`` factors adds the factors'
relative errors plus ``(a - 1) u``, ``max`` and ReLU are 1-Lipschitz. Log mode must meet that bound (the
arithmetic is that of plain floats, only without range limits) plus the rounding of ``log|h|`` to the
dtype, in float32 and float64, for every engine, however far the plain values would over- or underflow.
"""

from __future__ import annotations

import math
import re

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.contract import backends, generic

mp.mp.dps = 50
LN2 = mp.log(2)


# ---------------------------------------------------------------------- independent reference
def _mpvec(row):
    return [mp.mpf(float(v)) for v in row]


def _gemm(x, ex, W, u):
    """y = x @ W with its error bound, given x's bound ex (lists of mpf)."""
    n = len(x)
    y, ey = [], []
    for j in range(W.shape[1]):
        col = [mp.mpf(float(W[i, j])) for i in range(n)]
        y.append(mp.fsum(x[i] * col[i] for i in range(n)))
        mag = mp.fsum(abs(x[i] * col[i]) for i in range(n))
        ey.append(mp.fsum(ex[i] * abs(col[i]) for i in range(n)) + (n + 1) * u * mag)
    return y, ey


def _pool(g, kids, u):
    """Channel-wise pooling of children [(values, bounds), ...] with the bound of the result."""
    w = len(kids[0][0])
    a = len(kids)
    vals, errs = [], []
    for c in range(w):
        xs = [k[0][c] for k in kids]
        es = [k[1][c] for k in kids]
        if g == "product":
            z = mp.fprod(xs)
            # sum_j e_j prod_{i != j} |x_i|, by prefix and suffix products
            pre, suf = [mp.mpf(1)] * (a + 1), [mp.mpf(1)] * (a + 1)
            for i in range(a):
                pre[i + 1] = pre[i] * abs(xs[i])
                suf[a - 1 - i] = suf[a - i] * abs(xs[a - 1 - i])
            e = mp.fsum(es[j] * pre[j] * suf[j + 1] for j in range(a)) + (a - 1) * u * abs(z)
        elif g == "relu_max":
            z = max([mp.mpf(0)] + xs)
            e = max(es)
        else:  # relu_sum
            r = [max(x, 0) for x in xs]
            z = mp.fsum(r)
            e = mp.fsum(es) + (a - 1) * u * z
        vals.append(z)
        errs.append(e)
    return vals, errs


def reference_convnet(net, F, g):
    """Outputs (batch, n_out) and error bounds of a ConvNet, in mpmath, node by node."""
    u = mp.mpf(2) ** -(24 if net.dtype == np.float32 else 53)
    tree = net.tree
    out = []
    for b in range(F.shape[0]):
        acts = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                x = _mpvec(F[b, next(iter(v))])
                ex = [mp.mpf(0)] * len(x)
            else:
                x, ex = _pool(g, [acts.pop(c) for c in tree.children(v)], u)
            acts[v] = _gemm(x, ex, net.weights[v], u)
        out.append(acts[tree.root])
    return out


def reference_dilated(nets, mixture, F, g, half):
    """Roots (summed for two nets) and bounds of dilated / mixed nets, swapping at mixture nodes."""
    net0 = nets[0]
    u = mp.mpf(2) ** -(24 if net0.dtype == np.float32 else 53)
    res = []
    for b in range(F.shape[0]):
        values = [{} for _ in nets]

        def run(k, limit, b=b, values=values):
            net, vals = nets[k], values[k]
            for v in net.tree.nodes:
                if v in vals or (limit is not None and not v <= limit):
                    continue
                if net.tree.is_leaf(v):
                    x = _mpvec(F[b, next(iter(v))])
                    vals[v] = _gemm(x, [mp.mpf(0)] * len(x), net.weights[v], u)
                else:
                    kids = net.tree.children(v)
                    parts = [_gemm(*vals[c], W, u) for c, W in zip(kids, net.weights[v])]
                    vals[v] = _pool(g, parts, u)

        for m in sorted(mixture, key=len):
            for k in range(len(nets)):
                run(k, m)
            (xa, ea), (xb, eb) = values[0][m], values[1][m]
            values[0][m] = (xb[:half] + xa[half:], eb[:half] + ea[half:])
            values[1][m] = (xa[:half] + xb[half:], ea[:half] + eb[half:])
        for k in range(len(nets)):
            run(k, None)
        roots = [vals[net.tree.root] for net, vals in zip(nets, values)]
        if len(roots) == 1:
            res.append(roots[0])
        else:
            (xa, ea), (xb, eb) = roots
            res.append(([p + q for p, q in zip(xa, xb)],
                        [p + q + u * (abs(r) + abs(s)) for p, q, r, s in zip(ea, eb, xa, xb)]))
    return res


def assert_log_matches(sign, la, ref, dtype):
    """(sign, log|h|) against the mpmath values: within the forward error bound plus the final rounding."""
    sign, la = np.asarray(sign), np.asarray(la)
    assert la.dtype == dtype and sign.shape == la.shape
    checked = 0
    for b, (vals, errs) in enumerate(ref):
        for j, (h, e) in enumerate(zip(vals, errs)):
            if h == 0:
                assert sign[b, j] == 0 and la[b, j] == -np.inf, (b, j, sign[b, j], la[b, j])
                continue
            rel = e / abs(h)
            assert np.isfinite(la[b, j]), (b, j, la[b, j], h)
            if rel > 0.25:  # too ill-conditioned for the bound to say anything
                continue
            truth = mp.log(abs(h))
            tol = 2 * rel + 4 * float(np.spacing(dtype.type(abs(float(truth))))) + 1e-13 * max(1.0, abs(float(truth)))
            assert sign[b, j] == int(mp.sign(h)), (b, j, sign[b, j], h)
            assert abs(mp.mpf(float(la[b, j])) - truth) <= tol, (b, j, float(la[b, j]), truth, tol)
            checked += 1
    return checked


# ---------------------------------------------------------------------- strategies
@st.composite
def trees(draw):
    kind = draw(st.sampled_from(["balanced", "flat", "flat", "grid", "random"]))
    if kind == "balanced":
        arity = draw(st.integers(2, 4))
        return tc.ModeTree.balanced(arity ** draw(st.integers(1, 4 if arity == 2 else 3)), arity=arity)
    if kind == "flat":
        return tc.ModeTree.flat(draw(st.one_of(st.sampled_from([300, 1024, 2048]), st.integers(64, 2048))))
    if kind == "grid":
        return tc.ModeTree.grid(2 ** draw(st.integers(1, 3)), 2 ** draw(st.integers(1, 3)))
    return tc.ModeTree.random(draw(st.integers(2, 40)), seed=draw(st.integers(0, 2**16)))


def _features(rng, shape, dtype, exponent):
    # uniform magnitudes with random signs, scaled by an exact power of two (often far outside the
    # range where a plain product of n_inputs of them is representable)
    F = rng.uniform(0.2, 1.0, shape) * rng.choice([-1.0, 1.0], shape)
    return np.ldexp(F, exponent).astype(dtype)


@settings(deadline=None)
@given(tree=trees(), M=st.integers(1, 3), width=st.integers(1, 4), n_out=st.integers(1, 2),
       g=st.sampled_from(["product", "relu_max", "relu_sum"]), dtype=st.sampled_from(["float32", "float64"]),
       seed=st.integers(0, 2**16), exponent=st.integers(-90, 90))
def test_log_forward_matches_mpmath_on_every_engine(tree, M, width, n_out, g, dtype, seed, exponent):
    rng = np.random.default_rng(seed)
    n = tree.n_inputs
    batch = 2 if n <= 512 else 1
    net = tc.ConvNet(tree, M, width, n_outputs=n_out, g=g, seed=seed, dtype=dtype)
    F = _features(rng, (batch, n, M), net.dtype, exponent)
    ref = reference_convnet(net, F, g)
    engines = ["auto", "nodes", "reference"] + (["levels"] if tree.is_uniform() else [])
    for eng in engines:
        sign, la = net.forward(F, log=True, engine=eng)
        assert_log_matches(sign, la, ref, net.dtype)


@settings(deadline=None)
@given(L=st.integers(1, 6), width=st.sampled_from([2, 4]), g=st.sampled_from(["product", "relu_max", "relu_sum"]),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16), exponent=st.integers(-60, 60),
       mixed=st.booleans())
def test_log_forward_of_dilated_and_mixed_nets_matches_mpmath(L, width, g, dtype, seed, exponent, mixed):
    rng = np.random.default_rng(seed)
    dil_a = [2**i for i in range(L)]
    dil_b = list(rng.permutation(dil_a))
    a, b = tc.ModeTree.dilated(L, dil_a), tc.ModeTree.dilated(L, [int(d) for d in dil_b])
    n = 2**L
    F = _features(rng, (2, n, 2), np.dtype(dtype), exponent)
    if mixed:
        common = [m for m in set(a.internal_nodes) & set(b.internal_nodes) if m != a.root]
        mix = tc.MixedConvNet(a, b, common, 2, width, g=g, n_outputs=2, seed=seed, dtype=dtype)
        ref = reference_dilated(mix.nets, mix.mixture_nodes, F, g, width // 2)
        assert_log_matches(*mix.forward(F, log=True), ref, np.dtype(dtype))
    else:
        net = tc.DilatedConvNet(b, 2, width, g=g, n_outputs=2, seed=seed, dtype=dtype)
        ref = reference_dilated([net], [], F, g, 0)
        assert_log_matches(*net.forward(F, log=True), ref, np.dtype(dtype))
        assert_log_matches(*net._forward_reference(F, log=True), ref, np.dtype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("g", ["product", "relu_sum"])
@pytest.mark.parametrize("tree", [tc.ModeTree.flat(2048), tc.ModeTree.balanced(1024, arity=32),
                                  tc.ModeTree.random(600, arity=(20, 40), seed=3)], ids=["flat", "wide", "random"])
def test_log_forward_of_wide_windows_matches_mpmath(tree, g, dtype):
    rng = np.random.default_rng(7)
    net = tc.ConvNet(tree, 2, 3, g=g, seed=5, dtype=dtype)
    F = _features(rng, (1, tree.n_inputs, 2), net.dtype, 0)
    ref = reference_convnet(net, F, g)
    for eng in ["auto", "nodes", "reference"] + (["levels"] if tree.is_uniform() else []):
        assert assert_log_matches(*net.forward(F, log=True, engine=eng), ref, net.dtype) == 1


# ---------------------------------------------------------------------- the examples
def test_wide_window_regression_shallow_1024():
    net = tc.shallow(1024, 3, 4, seed=1)
    F = np.random.default_rng(0).uniform(0.2, 1.0, (4, 1024, 3))
    ref = reference_convnet(net, F[:1], "product")
    assert mp.sign(ref[0][0][0]) == -1
    assert abs(mp.log(abs(ref[0][0][0])) - mp.mpf("-1119.2107719422833563")) < 1e-12
    for eng in ("auto", "levels", "nodes", "reference"):
        sign, la = net.forward(F, log=True, engine=eng)
        assert sign[0, 0] == -1.0
        assert la[0, 0] == pytest.approx(-1119.2107719422834, rel=1e-14, abs=0)
        assert np.all(np.isfinite(la)) and np.all(sign != 0)


def test_wide_window_regression_float32_shallow_128():
    net = tc.shallow(128, 3, 4, seed=1, dtype="float32")
    F = np.random.default_rng(0).uniform(0.2, 1.0, (4, 128, 3)).astype(np.float32)
    ref = reference_convnet(net, F, "product")
    for eng in ("auto", "levels", "nodes", "reference"):
        sign, la = net.forward(F, log=True, engine=eng)
        assert assert_log_matches(sign, la, ref, np.dtype(np.float32)) == 4
        # a factor of 1.8 would be 0.59 in log|h|; this is a few float32 ulps of |log|h|| (~ 1e-5 here)
        truth = np.array([float(mp.log(abs(v[0][0]))) for v in ref])
        assert np.max(np.abs(la[:, 0] - truth) / np.abs(truth)) < 8 * np.finfo(np.float32).eps


def test_zero_outputs_are_exact_zeros_not_underflow():
    net = tc.shallow(512, 2, 3, seed=0)
    F = np.random.default_rng(1).uniform(0.2, 1.0, (3, 512, 2))
    F[1, 17] = 0.0  # one input with zero features: the product output is exactly 0
    for eng in ("auto", "levels", "nodes", "reference"):
        sign, la = net.forward(F, log=True, engine=eng)
        assert sign[1, 0] == 0 and la[1, 0] == -np.inf
        assert np.all(sign[[0, 2]] != 0) and np.all(np.isfinite(la[[0, 2]]))
    relu = tc.ConvNet(tc.ModeTree.flat(300), 2, 3, g="relu_max", seed=0)
    relu.weights[relu.tree.root] = np.zeros_like(relu.weights[relu.tree.root])
    sign, la = relu.forward(F[:, :300], log=True)
    assert np.all(sign == 0) and np.all(la == -np.inf)


def test_relu_child_that_is_all_negative_does_not_hide_a_tiny_positive_one():
    # Child 0 is huge and all negative, child 1 is positive and 2**-2000 smaller: relu_sum is child 1.
    net = tc.ConvNet(tc.ModeTree.flat(2), 1, 1, g="relu_sum", weights={
        frozenset({0}): np.array([[1.0]]), frozenset({1}): np.array([[1.0]]), frozenset({0, 1}): np.array([[1.0]])})
    F = np.array([[[-(2.0**900)], [2.0**-1000]]])
    for eng in ("levels", "nodes", "reference"):
        sign, la = net.forward(F, log=True, engine=eng)
        assert sign[0, 0] == 1.0 and la[0, 0] == pytest.approx(-1000 * math.log(2), rel=1e-15)


# ---------------------------------------------------------------------- flags and environment
@pytest.mark.parametrize("bad", ["no", 0, 1, 0.5, None, [True]])
def test_log_flag_must_be_a_bool(bad):
    net = tc.deep(4, 2, 2, seed=0)
    F = np.ones((1, 4, 2))
    for eng in ("auto", "nodes", "reference"):
        with pytest.raises(TypeError, match=r"log must be a bool.*" + re.escape(repr(bad))):
            net.forward(F, log=bad, engine=eng)
    dil = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, seed=0)
    with pytest.raises(TypeError, match="log must be a bool"):
        dil.forward(F, log=bad)
    mix = tc.MixedConvNet(tc.ModeTree.dilated(2), tc.ModeTree.dilated(2, [2, 1]), [], 2, 2, seed=0)
    with pytest.raises(TypeError, match="log must be a bool"):
        mix.forward(F, log=bad)


def test_numpy_bools_are_accepted_as_flags():
    net = tc.deep(4, 2, 2, seed=0)
    F = np.random.default_rng(0).standard_normal((2, 4, 2))
    s, la = net.forward(F, log=np.True_)
    np.testing.assert_allclose(s * np.exp(la), net.forward(F, log=np.False_), rtol=1e-12)


@pytest.mark.parametrize("value", ["-5", "0", "two", "1.5"])
def test_num_threads_environment_refuses_non_positive_values(monkeypatch, value):
    monkeypatch.setenv("TNCONV_NUM_THREADS", value)
    with pytest.raises(ValueError, match=f"TNCONV_NUM_THREADS must be a positive integer, got '{value}'"):
        backends.n_workers()
    monkeypatch.setenv("TNCONV_NUM_THREADS", "3")
    assert backends.n_workers() == 3


def test_exhaustive_limits_are_documented_numbers():
    assert set(generic.EXHAUSTIVE_LIMITS) >= {"optimal", "dp", "branch-2", "branch-all"}
    assert all(isinstance(v, int) and v > 0 for v in generic.EXHAUSTIVE_LIMITS.values())


@pytest.mark.parametrize("dtype,exponent", [("float64", -1060), ("float64", 1021), ("float32", -140), ("float32", 125)])
def test_features_far_from_one_are_rescaled_exactly(dtype, exponent):
    # feature vectors near the under/overflow threshold of the dtype, on every engine and net kind
    rng = np.random.default_rng(2)
    net = tc.ConvNet(tc.ModeTree.balanced(16), 2, 3, g="product", seed=1, dtype=dtype)
    F = rng.uniform(0.5, 1.0, (2, 16, 2))
    F[:, ::3] = np.ldexp(F[:, ::3], exponent)  # some vectors tiny (or huge), the others O(1)
    F = F.astype(dtype)
    ref = reference_convnet(net, F, "product")
    for eng in ("levels", "nodes", "reference"):
        assert assert_log_matches(*net.forward(F, log=True, engine=eng), ref, net.dtype) == 2
    dil = tc.DilatedConvNet(tc.ModeTree.dilated(4), 2, 2, g="relu_sum", seed=0, dtype=dtype)
    ref = reference_dilated([dil], [], F, "relu_sum", 0)
    assert_log_matches(*dil.forward(F, log=True), ref, np.dtype(dtype))
    assert_log_matches(*dil._forward_reference(F, log=True), ref, np.dtype(dtype))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflow_inside_a_convolution_is_a_clear_error():
    net = tc.deep(8, 4, 64, seed=0, dtype="float32")
    leaf = frozenset({3})
    net.weights[leaf] = np.full_like(net.weights[leaf], 3e38)  # 4 positive terms of 3e38 overflow float32
    F = np.random.default_rng(0).uniform(0.5, 1.0, (2, 8, 4)).astype(np.float32)
    for eng in ("levels", "nodes", "reference"):
        with pytest.raises(ValueError, match=r"overflowed inside a 1x1 convolution.*float32"):
            net.forward(F, log=True, engine=eng)


def test_empty_batch_in_log_mode():
    net = tc.deep(8, 2, 2, seed=0)
    for eng in ("levels", "nodes", "reference"):
        s, la = net.forward(np.ones((0, 8, 2)), log=True, engine=eng)
        assert s.shape == la.shape == (0, 1)
