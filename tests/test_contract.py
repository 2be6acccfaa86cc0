"""Tests of the contraction engines (tnconv.contract).

Every numerical result is checked against a computation written here: brute-force sums in Python floats
(math.fsum), mpmath with unbounded exponents for log-scale values, np.einsum over the whole network,
and opt_einsum's own path accounting for path costs.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import tracemalloc

import numpy as np
import opt_einsum as oe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.cli.bench import register_cli
from tnconv.contract import backends, engine, generic, levels, paths
from tnconv.contract.bench import benchmark_paths, format_table
from tnconv.network import TensorNetwork

# ---------------------------------------------------------------------- independent oracles


def _pool_scalar(g, vals):
    if g.name == "product":
        return math.prod(vals)
    if g.name == "relu_max":
        return max(max(vals), 0.0)
    if g.name == "relu_sum":
        return sum(max(v, 0.0) for v in vals)
    return functools.reduce(lambda a, b: float(g.pair(np.float64(a), np.float64(b))), vals)


def brute_forward(model, F):
    """The network's outputs from its definition, one sample and one channel at a time."""
    tree = model.tree
    F = np.asarray(F, dtype=np.float64)
    out = np.empty((F.shape[0], model.n_outputs))
    for b in range(F.shape[0]):
        acts = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                x = [float(F[b, next(iter(v)), d]) for d in range(model.n_descriptors)]
            else:
                kids = tree.children(v)
                x = [_pool_scalar(model.g, [acts[c][ch] for c in kids]) for ch in range(model.in_width(v))]
            W = model.weights[v].astype(np.float64)
            acts[v] = [math.fsum(x[r] * float(W[r, col]) for r in range(W.shape[0])) for col in range(W.shape[1])]
        out[b] = acts[tree.root]
    return out


def mp_forward_log(model, F, prec=80):
    """(sign, log|h|) in mpmath: arbitrary exponent range, so nothing over- or underflows."""
    mpmath = pytest.importorskip("mpmath")
    mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
    mp.prec = prec
    tree = model.tree
    W = {v: [[mp.mpf(float(x)) for x in row] for row in model.weights[v]] for v in tree.nodes}
    signs, logs = [], []
    for b in range(F.shape[0]):
        acts = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                x = [mp.mpf(float(F[b, next(iter(v)), d])) for d in range(model.n_descriptors)]
            else:
                kids = tree.children(v)
                x = []
                for ch in range(model.in_width(v)):
                    vals = [acts.pop(c)[ch] if False else acts[c][ch] for c in kids]
                    if model.g.name == "product":
                        p = mp.mpf(1)
                        for y in vals:
                            p *= y
                    elif model.g.name == "relu_max":
                        p = max(max(vals), mp.mpf(0))
                    else:
                        p = sum(max(y, mp.mpf(0)) for y in vals)
                    x.append(p)
                for c in kids:
                    del acts[c]
            Wv = W[v]
            acts[v] = [mp.fsum(x[r] * Wv[r][col] for r in range(len(Wv))) for col in range(len(Wv[0]))]
        h = acts[tree.root]
        signs.append([0.0 if y == 0 else (1.0 if y > 0 else -1.0) for y in h])
        logs.append([float(mp.log(abs(y))) if y != 0 else -math.inf for y in h])
    return np.array(signs), np.array(logs)


def random_widths(tree, rng, lo=1, hi=3):
    """A valid width dict: all children of a node share one random width."""
    widths = {}
    for v in tree.internal_nodes:
        w = int(rng.integers(lo, hi + 1))
        for c in tree.children(v):
            widths[c] = w
    return widths


OPS = ["product", "relu_max", "relu_sum"]

# ---------------------------------------------------------------------- forward engines


@settings(deadline=None)
@given(n=st.integers(2, 10), seed=st.integers(0, 10**6), g=st.sampled_from(OPS), M=st.integers(1, 3),
       n_out=st.integers(1, 2))
def test_engines_match_brute_force_on_random_trees(n, seed, g, M, n_out):
    rng = np.random.default_rng(seed)
    tree = tc.ModeTree.random(n, (2, 4), seed=seed)
    net = tc.ConvNet(tree, M, random_widths(tree, rng), n_outputs=n_out, g=g, seed=seed)
    F = rng.standard_normal((3, n, M))
    expected = brute_forward(net, F)
    scale = max(np.abs(expected).max(), 1e-300)
    for eng in ("auto", "nodes", "reference") + (("levels",) if engine.select_engine(net) == "levels" else ()):
        got = net.forward(F, engine=eng)
        assert got.shape == (3, n_out)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * scale, err_msg=eng)


UNIFORM = [
    tc.ModeTree.balanced(16),
    tc.ModeTree.balanced(27, arity=3),
    tc.ModeTree.interleaved(16),
    tc.ModeTree.grid(4, 8),
    tc.ModeTree.grid(4, 4, interleaved=True),
    tc.ModeTree.flat(5),
]


@pytest.mark.parametrize("tree", UNIFORM, ids=lambda t: repr(t)[:30])
@pytest.mark.parametrize("g", OPS + ["custom"])
def test_levels_engine_on_uniform_trees(tree, g):
    rng = np.random.default_rng(tree.n_inputs)
    gg = (lambda a, b: a + b) if g == "custom" else g
    net = tc.ConvNet(tree, 3, [2 + h for h in range(tree.height(tree.root))], n_outputs=2, g=gg, seed=1)
    assert engine.select_engine(net) == "levels"
    F = rng.standard_normal((4, tree.n_inputs, 3))
    expected = brute_forward(net, F)
    got = net.forward(F, engine="levels")
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_levels_engine_shared_weights_and_float32():
    net = tc.deep(32, 3, 4, shared=True, seed=2, dtype="float32", n_outputs=3)
    F = np.random.default_rng(0).standard_normal((5, 32, 3))
    got = net.forward(F, engine="levels")
    assert got.dtype == np.float32
    expected = brute_forward(net, F.astype(np.float32))
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_levels_engine_thread_count_does_not_change_results(workers, monkeypatch):
    # Many small chunks so that every level is split across tasks (parents and batch).
    monkeypatch.setattr(levels, "CHUNK_BYTES", 256)
    net = tc.deep(64, 4, 5, seed=3, n_outputs=2)
    F = np.random.default_rng(1).standard_normal((7, 64, 4))
    be = backends.get_backend("numpy")
    got = levels.run_levels(net, F, be, workers=workers)
    np.testing.assert_allclose(got, brute_forward(net, F), rtol=1e-10, atol=0)
    s, la = levels.run_levels(net, F, be, log=True, workers=workers)
    ref = brute_forward(net, F)
    np.testing.assert_allclose(s * np.exp(la), ref, rtol=1e-10, atol=0)


@pytest.mark.parametrize("shape", [64, (8, 8), 3**4, 2])
@pytest.mark.parametrize("chunk", [256, 1 << 14, 1 << 20])
def test_schedule_covers_every_level_node_and_sample_once(shape, chunk):
    net = tc.deep(shape, 3, 5, arity=3 if shape == 3**4 else None)
    plan = levels.level_plan(net)
    widths = [net.widths[lv[0]] for lv in plan.levels]
    for B, workers in [(1, 1), (5, 4), (300, 2), (1000, 8)]:
        bands = levels.schedule(plan, widths, B, 8, workers, chunk)
        assert [lo for lo, _, _ in bands] == [0] + [hi + 1 for _, hi, _ in bands[:-1]]
        assert bands[-1][1] == len(plan.levels) - 1
        for _lo, hi, tasks in bands:
            n_out = len(plan.levels[hi + 1]) if hi + 1 < len(plan.levels) else 1
            cover = np.zeros((n_out, B), dtype=int)
            for q0, q1, b0, b1 in tasks:
                cover[q0:q1, b0:b1] += 1
            assert (cover == 1).all()


def test_node_groups_engine_with_mixed_shapes():
    # Leaves at different depths and different widths per window: only "nodes" applies.
    tree = tc.ModeTree.from_nested(((0, 1), 2, (3, (4, 5, 6))))
    w = {frozenset({0}): 2, frozenset({1}): 2, frozenset({0, 1}): 3, frozenset({2}): 3,
         frozenset({3}): 1, frozenset({4}): 4, frozenset({5}): 4, frozenset({6}): 4, frozenset({4, 5, 6}): 1,
         frozenset({3, 4, 5, 6}): 3}
    net = tc.ConvAC(tree, 2, w, n_outputs=2, seed=0)
    assert engine.select_engine(net) == "nodes"
    with pytest.raises(ValueError, match="uniform"):
        net.forward(np.ones((1, 7, 2)), engine="levels")
    F = np.random.default_rng(2).standard_normal((4, 7, 2))
    np.testing.assert_allclose(net.forward(F), brute_forward(net, F), rtol=1e-10, atol=0)


def test_levels_refuses_uniform_tree_with_unequal_level_shapes():
    tree = tc.ModeTree.balanced(4)
    w = {frozenset({0}): 2, frozenset({1}): 2, frozenset({2}): 3, frozenset({3}): 3,
         frozenset({0, 1}): 2, frozenset({2, 3}): 2}
    net = tc.ConvAC(tree, 2, w, seed=0)
    with pytest.raises(ValueError, match=r"one weight shape per level.*\{0\}|\{2\}"):
        engine.run_forward(net, np.ones((1, 4, 2)), engine="levels")
    assert engine.select_engine(net) == "nodes"
    F = np.random.default_rng(0).standard_normal((3, 4, 2))
    np.testing.assert_allclose(net.forward(F), brute_forward(net, F), rtol=1e-10, atol=0)


def test_weights_replaced_after_a_call_are_used():
    net = tc.deep(8, 2, 3, seed=0)
    F = np.random.default_rng(0).standard_normal((2, 8, 2))
    net.forward(F)
    net.weights[net.tree.root] = net.weights[net.tree.root] * 2.0
    np.testing.assert_allclose(net.forward(F), brute_forward(net, F), rtol=1e-10, atol=0)
    net.weights[frozenset({3})][:] = 0.5  # in place
    np.testing.assert_allclose(net.forward(F), brute_forward(net, F), rtol=1e-10, atol=0)


# ---------------------------------------------------------------------- log scale


@settings(deadline=None)
@given(n=st.integers(2, 9), seed=st.integers(0, 10**6), g=st.sampled_from(OPS))
def test_log_forward_matches_brute_force(n, seed, g):
    rng = np.random.default_rng(seed)
    tree = tc.ModeTree.random(n, (2, 3), seed=seed)
    net = tc.ConvNet(tree, 2, random_widths(tree, rng, 1, 3), n_outputs=2, g=g, seed=seed)
    F = rng.standard_normal((3, n, 2))
    expected = brute_forward(net, F)
    for eng in ("auto", "nodes"):
        sign, logabs = net.forward(F, log=True, engine=eng)
        nz = expected != 0
        assert np.array_equal(sign[nz], np.sign(expected[nz]))
        np.testing.assert_allclose(logabs[nz], np.log(np.abs(expected[nz])), rtol=0, atol=1e-9)
        assert np.all(np.isneginf(logabs[~nz]) | (np.abs(expected[~nz]) < 1e-300))


@pytest.mark.parametrize("factor", [40.0, 0.02])
def test_log_forward_n4096_against_mpmath(factor):
    # Deep binary ConvAC over 4096 inputs: the output scales like factor**4096.
    net = tc.deep(4096, 2, 2, seed=5, n_outputs=2)
    F = factor * np.random.default_rng(7).standard_normal((2, 4096, 2))
    with np.errstate(all="ignore"):
        plain = net.forward(F)
    assert not np.all(np.isfinite(plain) & (plain != 0)), "this case must defeat plain float64"
    sign, logabs = net.forward(F, log=True)
    assert np.all(np.isfinite(logabs))
    ms, ml = mp_forward_log(net, F)
    assert np.array_equal(sign, ms)
    np.testing.assert_allclose(logabs, ml, rtol=1e-12, atol=1e-8)


def test_log_forward_relu_max_n1024_against_mpmath():
    net = tc.ConvNet(tc.ModeTree.balanced(1024), 2, 2, g="relu_max", n_outputs=2, seed=3)
    F = 1e300 * np.random.default_rng(1).standard_normal((2, 1024, 2))
    sign, logabs = net.forward(F, log=True)
    ms, ml = mp_forward_log(net, F)
    assert np.array_equal(sign, ms)
    finite = np.isfinite(ml)
    np.testing.assert_allclose(logabs[finite], ml[finite], rtol=1e-12, atol=1e-9)
    assert np.array_equal(np.isfinite(logabs), finite)


def test_log_scale_homogeneity_closed_form():
    # h(c F) = c**N h(F) for a ConvAC: log|h| shifts by N log c exactly.
    net = tc.deep(256, 3, 3, seed=1)
    F = np.random.default_rng(4).standard_normal((3, 256, 3))
    s1, l1 = net.forward(F, log=True)
    s2, l2 = net.forward(F * 1e10, log=True)
    assert np.array_equal(s1, s2)
    np.testing.assert_allclose(l2 - l1, 256 * math.log(1e10), rtol=1e-12)


def test_log_refuses_non_homogeneous_operator():
    net = tc.ConvNet(tc.ModeTree.balanced(4), 2, 2, g=lambda a, b: a + b, seed=0)
    with pytest.raises(ValueError, match="homogeneous"):
        net.forward(np.ones((1, 4, 2)), log=True)


# ---------------------------------------------------------------------- bad input


def test_forward_bad_input():
    net = tc.deep(8, 2, 2, seed=0)
    F = np.ones((2, 8, 2))
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        net.forward(F, engine="fast")
    with pytest.raises(ValueError, match=r"unknown backend 'gpu'.*numpy.*cupy"):
        net.forward(F, backend="gpu")
    with pytest.raises(TypeError, match="backend must be a name"):
        net.forward(F, backend=3)
    with pytest.raises(ValueError, match=r"shape \(2, 7, 2\)"):
        net.forward(np.ones((2, 7, 2)))
    with pytest.raises(ValueError, match="NaN"):
        net.forward(np.full((2, 8, 2), np.nan))
    with pytest.raises(TypeError, match="complex"):
        net.forward(np.ones((2, 8, 2), dtype=complex))


# ---------------------------------------------------------------------- memory


def test_levels_peak_memory_below_twice_the_largest_level():
    net = tc.deep(512, 4, 16, seed=0)
    B = 64
    F = np.random.default_rng(0).standard_normal((B, 512, 4))
    net.forward(F[:2])  # plans and imports outside the measurement
    largest = 512 * B * 16 * 8  # the leaf level's activations, float64
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        net.forward(F, engine="levels")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * largest, (peak, largest)


# ---------------------------------------------------------------------- structure path


def dense_network_value(tn, F=None):
    """np.einsum over the whole network (no path): the brute-force value."""
    eq = tn.equation(features=F is not None)
    return np.einsum(eq, *tn.operands(F), optimize=False)


@settings(deadline=None)
@given(n=st.integers(2, 7), seed=st.integers(0, 10**6), feats=st.booleans())
def test_structure_path_is_valid_and_costs_match_opt_einsum(n, seed, feats):
    rng = np.random.default_rng(seed)
    tree = tc.ModeTree.random(n, (2, 4), seed=seed)
    net = tc.ConvAC(tree, 2, random_widths(tree, rng, 1, 3), seed=seed)
    tn = net.to_tensor_network()
    B = 3
    sp = paths.structure_path(tn, features=feats, batch=B)
    ops = tn.operands(rng.standard_normal((B, n, 2)) if feats else None)
    eq = tn.equation(features=feats)
    _, info = oe.contract_path(eq, *ops, optimize=sp.path)
    assert sp.cost.flops == int(info.opt_cost)
    assert sp.cost.largest_intermediate == int(info.largest_intermediate)
    assert sp.cost.n_steps == len(ops) - 1
    got = oe.contract(eq, *ops, optimize=sp.path)
    np.testing.assert_allclose(got, np.einsum(eq, *ops, optimize=False), rtol=1e-10,
                               atol=1e-12 * np.abs(got).max())
    if feats:  # bottom-up keeps only (batch, channel) intermediates
        assert sp.cost.largest_intermediate <= B * max(max(net.widths.values()), 2)


def test_structure_path_cost_scales_linearly_and_exports_to_cotengra():
    ctg = pytest.importorskip("cotengra")
    costs = []
    for N in (64, 128):
        tn = tc.deep(N, 8, 16, seed=0).to_tensor_network()
        sp = paths.structure_path(tn, features=True, batch=256)
        # closed form for a binary tree with width 16, M = 8, batch 256 (opt_einsum convention):
        # leaves (b,d)x(d,c): 2*256*8*16 each; windows: Hadamard 256*16 + GEMM 2*256*16*c_out
        leaf = N * 2 * 256 * 8 * 16
        internal = (N - 2) * (256 * 16 + 2 * 256 * 16 * 16) + (256 * 16 + 2 * 256 * 16)
        assert sp.cost.flops == leaf + internal
        costs.append(sp.cost.flops)
        tree = sp.to_cotengra()
        assert isinstance(tree, ctg.ContractionTree)
        assert tree.max_size() == sp.cost.largest_intermediate
        assert math.isclose(float(tree.total_flops()), sp.cost.cotengra_flops, rel_tol=1e-9)
    assert 1.9 < costs[1] / costs[0] < 2.1


def test_structure_path_rejects_network_without_tree():
    tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 2)])
    with pytest.raises(ValueError, match="mode tree"):
        paths.structure_path(tn)


def test_path_cost_validation_messages():
    inputs, out, sizes = [("a", "b"), ("b", "c"), ("c", "d")], ("a", "d"), {"a": 2, "b": 3, "c": 4, "d": 5}
    with pytest.raises(ValueError, match=r"step 1 \(0, 5\)"):
        paths.path_cost(inputs, out, sizes, [(0, 1), (0, 5)])
    with pytest.raises(ValueError, match="leaves 2 operands"):
        paths.path_cost(inputs, out, sizes, [(0, 1)])
    with pytest.raises(ValueError, match="distinct"):
        paths.path_cost(inputs, out, sizes, [(1, 1), (0, 1)])
    with pytest.raises(ValueError, match="tuple of ints"):
        paths.path_cost(inputs, out, sizes, [("x", 1), (0, 1)])


# ---------------------------------------------------------------------- generic contraction


@settings(deadline=None)
@given(seed=st.integers(0, 10**6), n_tensors=st.integers(2, 6))
def test_execute_path_matches_einsum_on_random_hypergraphs(seed, n_tensors):
    # Random networks with hyperindices, batch-like indices, indices on one tensor only, and outputs.
    rng = np.random.default_rng(seed)
    letters = "abcdefg"
    sizes = {c: int(rng.integers(1, 4)) for c in letters}
    inputs = []
    for _ in range(n_tensors):
        k = int(rng.integers(1, 4))
        inputs.append(tuple(rng.choice(list(letters), size=k, replace=False)))
    used = sorted({i for ix in inputs for i in ix})
    output = tuple(i for i in used if rng.random() < 0.3)
    arrays = [rng.standard_normal([sizes[i] for i in ix]) for ix in inputs]
    eq = ",".join("".join(ix) for ix in inputs) + "->" + "".join(output)
    expected = np.einsum(eq, *arrays, optimize=False)
    for opt in ("greedy", "optimal"):
        path, _ = oe.contract_path(eq, *arrays, optimize=opt)
        got = generic.execute_path(inputs, output, path, arrays)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * max(1, np.abs(expected).max()))
    # a single k-ary step is folded pairwise
    got = generic.execute_path(inputs, output, [tuple(range(n_tensors))], arrays)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * max(1, np.abs(expected).max()))


@pytest.mark.parametrize("optimize", [None, "structure", "greedy", "dp", "auto-hq", "explicit", "ctg_tree"])
@pytest.mark.parametrize("executor", ["auto", "opt_einsum"])
def test_contract_network_optimizers(optimize, executor):
    net = tc.ConvAC(tc.ModeTree.from_nested(((0, 1, 2), (3, 4))), 2, 2, seed=4)
    tn = net.to_tensor_network()
    F = np.random.default_rng(3).standard_normal((4, 5, 2))
    if optimize == "explicit":
        optimize = oe.contract_path(tn.equation(features=True), *tn.operands(F), optimize="greedy")[0]
    elif optimize == "ctg_tree":
        pytest.importorskip("cotengra")
        optimize = paths.structure_path(tn, features=True, batch=4).to_cotengra()
    got = tn.contract(F, optimize=optimize, executor=executor)
    np.testing.assert_allclose(got, brute_forward(net, F)[:, 0], rtol=1e-10, atol=0)
    A = tn.contract(optimize=None if not isinstance(optimize, str) else optimize, executor=executor)
    np.testing.assert_allclose(A, dense_network_value(tn), rtol=1e-10, atol=1e-14)


def test_contract_network_with_cotengra_optimizer():
    ctg = pytest.importorskip("cotengra")
    net = tc.deep(8, 2, 2, seed=4)
    tn = net.to_tensor_network()
    F = np.random.default_rng(3).standard_normal((3, 8, 2))
    opt = ctg.HyperOptimizer(max_repeats=4, progbar=False, methods=["greedy"], parallel=False)  # no loky pool left
    np.testing.assert_allclose(tn.contract(F, optimize=opt), brute_forward(net, F)[:, 0], rtol=1e-10, atol=0)


def test_contract_network_without_tree_defaults_to_auto():
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (3, 4), (4, 2, 3)]
    arrays = [rng.standard_normal(s) for s in shapes]
    tn = TensorNetwork.from_einsum("ab,bc,cae->e", shapes, arrays)
    np.testing.assert_allclose(tn.contract(), np.einsum("ab,bc,cae->e", *arrays), rtol=1e-12)


def test_contract_network_bad_input():
    net = tc.deep(4, 2, 2, seed=0)
    tn = net.to_tensor_network()
    F = np.ones((2, 4, 2))
    with pytest.raises(ValueError, match="unknown optimizer 'fastest'"):
        tn.contract(F, optimize="fastest")
    with pytest.raises(ValueError, match=r"path step 0 \(0, 50\)"):
        tn.contract(F, optimize=[(0, 50)])
    with pytest.raises(ValueError, match="leaves"):
        tn.contract(F, optimize=[(0, 1)])
    with pytest.raises(TypeError, match="optimize must be"):
        tn.contract(F, optimize=3.5)
    with pytest.raises(TypeError, match=r"float32.*float64"):
        tn.contract(F.astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 2\)"):
        tn.contract(np.ones((2, 3, 2)))
    with pytest.raises(ValueError, match="3 descriptors"):
        tn.contract(np.ones((2, 4, 3)))
    with pytest.raises(TypeError, match="complex"):
        tn.contract(np.ones((2, 4, 2), dtype=complex))
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        tn.contract(F, backend="gpu")
    with pytest.raises(ValueError, match="unknown executor"):
        tn.contract(F, executor="fast")
    # integer features are cast, not refused
    np.testing.assert_allclose(tn.contract(np.ones((2, 4, 2), dtype=int)), tn.contract(F), rtol=1e-12)


def test_contract_refuses_nan_features_like_forward():
    net = tc.deep(4, 2, 2, seed=0)
    tn = net.to_tensor_network()
    for bad in (np.nan, np.inf, -np.inf):
        F = np.ones((3, 4, 2))
        F[2, 1, 0] = bad
        msg = r"NaN or infinite values, first at index \(batch, input, descriptor\) = \(2, 1, 0\)"
        with pytest.raises(ValueError, match=msg):
            net.forward(F)
        for optimize in (None, "greedy", "auto"):
            for executor in generic.EXECUTORS:
                with pytest.raises(ValueError, match=msg):
                    tn.contract(F, optimize=optimize, executor=executor)


@pytest.mark.parametrize("eq,shape", [("abc->cb", (2, 3, 4)), ("abc->b", (3, 3, 2)), ("ab->", (2, 5)),
                                      ("ab->ba", (3, 4)), ("abc->bca", (2, 3, 4))])
@pytest.mark.parametrize("optimize", [[], [(0,)], None, "greedy", "optimal"])
@pytest.mark.parametrize("executor", ["auto", "pairwise", "opt_einsum"])
def test_one_tensor_network_is_reduced_and_transposed_by_every_executor(eq, shape, optimize, executor):
    x = np.random.default_rng(0).standard_normal(shape)
    tn = TensorNetwork.from_einsum(eq, [shape], [x])
    got = tn.contract(optimize=optimize, executor=executor)
    expected = np.einsum(eq, x)
    assert np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_contract_checks_the_budget_before_allocating():
    net = tc.deep(256, 4, 8, seed=0)
    tn = net.to_tensor_network()
    F = np.random.default_rng(0).standard_normal((256, 256, 4))
    _, info = oe.contract_path(tn.equation(features=True), *[o.shape for o in tn.operands(F)], shapes=True,
                               optimize="greedy")
    assert info.largest_intermediate * 8 > tc.options["max_dense_bytes"]  # the 128 GiB case
    with pytest.raises(tc.TensorTooLargeError, match="largest intermediate of the contraction") as err:
        tn.contract(F, optimize="greedy")
    assert err.value.n_bytes == pytest.approx(info.largest_intermediate * 8)
    for executor in generic.EXECUTORS:
        with pytest.raises(tc.TensorTooLargeError):
            tn.contract(F, optimize="greedy", executor=executor)
    # the structure path fits, and a small explicit budget refuses it too, before contracting
    sp = paths.structure_path(tn, features=True, batch=256)
    with pytest.raises(tc.TensorTooLargeError):
        tn.contract(F, max_bytes=sp.cost.largest_intermediate * 8 - 1)
    small = tc.deep(8, 2, 2, seed=0).to_tensor_network()
    with pytest.raises(tc.TensorTooLargeError, match="largest intermediate"):
        small.contract(np.ones((4, 8, 2)), optimize="greedy", max_bytes=8)
    # coefficient tensors of 4**64 and 2**1100 entries are refused (no OverflowError on the size)
    with pytest.raises(tc.TensorTooLargeError):
        tc.deep(64, 4, 2, seed=0).to_tensor_network().contract(optimize="greedy")
    with pytest.raises(tc.TensorTooLargeError, match="inf"):
        tc.shallow(1100, 2, 2, seed=0).to_tensor_network().contract()


@pytest.mark.parametrize("name", ["optimal", "dp", "branch-2", "branch-all", "branch-1", "dynamic-programming"])
def test_exhaustive_searches_are_refused_on_large_networks(name):
    tn = tc.deep(256, 4, 8, seed=0).to_tensor_network()
    F = np.ones((4, 256, 4))
    limit = generic.EXHAUSTIVE_LIMITS[name]
    msg = rf"optimize='{name}' is an exhaustive search.*767 operands.*limit of {limit}.*greedy"
    with pytest.raises(ValueError, match=msg):
        tn.contract(F, optimize=name)
    with pytest.raises(ValueError, match="exhaustive search"):
        tn.contract(optimize=name)


def test_exhaustive_optimizer_objects_are_refused_too():
    tn = tc.deep(64, 2, 2, seed=0).to_tensor_network()
    for opt in (oe.DynamicProgramming(), oe.BranchBound(nbranch=2), oe.BranchBound()):
        with pytest.raises(ValueError, match="exhaustive search"):
            tn.contract(np.ones((2, 64, 2)), optimize=opt)


def test_exhaustive_searches_still_run_on_small_networks():
    net = tc.ConvAC(tc.ModeTree.flat(3), 2, 2, seed=1)
    tn = net.to_tensor_network()
    assert tn.n_tensors + 3 <= generic.EXHAUSTIVE_LIMITS["optimal"]
    F = np.random.default_rng(0).standard_normal((3, 3, 2))
    for name in generic.EXHAUSTIVE_LIMITS:
        np.testing.assert_allclose(tn.contract(F, optimize=name), brute_forward(net, F)[:, 0], rtol=1e-10)


def test_greedy_path_is_cached_per_structure_and_thread_safe(monkeypatch):
    import threading

    net = tc.deep(32, 2, 3, seed=0)
    tn = net.to_tensor_network()
    F = np.random.default_rng(0).standard_normal((5, 32, 2))
    calls = []
    real = oe.contract_path

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(oe, "contract_path", counting)
    expected = brute_forward(net, F)[:, 0]
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(tn.contract(F, optimize="greedy"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(results) == 20
    for r in results:
        np.testing.assert_allclose(r, expected, rtol=1e-10)
    assert 1 <= len(calls) <= 4  # at most one search per racing thread, then cache hits
    n = len(calls)
    tn.contract(F, optimize="greedy")
    assert len(calls) == n
    tn.contract(F[:2], optimize="greedy")  # another batch size is another structure
    assert len(calls) == n + 1
    other = tc.deep(32, 2, 3, seed=1).to_tensor_network()
    other.contract(F, optimize="greedy")  # another network searches again
    assert len(calls) == n + 2


def test_contract_rejects_unknown_keywords():
    tn = tc.deep(4, 2, 2, seed=0).to_tensor_network()
    with pytest.raises(TypeError, match="optimise"):
        tn.contract(np.ones((1, 4, 2)), optimise="greedy")
    with pytest.raises(TypeError, match="memory_limt"):
        generic.contract_network(tn, memory_limt=10)
    with pytest.raises(ValueError, match="memory_limit must be a positive finite number of elements, got nan"):
        tn.contract(np.ones((1, 4, 2)), optimize="greedy", memory_limit=float("nan"))
    with pytest.raises(TypeError, match="memory_limit must be None"):
        tn.contract(np.ones((1, 4, 2)), optimize="greedy", memory_limit=True)
    F = np.random.default_rng(0).standard_normal((3, 4, 2))
    np.testing.assert_allclose(tn.contract(F, optimize="greedy", memory_limit=10**6), tn.contract(F), rtol=1e-12)


# ---------------------------------------------------------------------- coefficient tensor


@settings(deadline=None)
@given(n=st.integers(2, 6), seed=st.integers(0, 10**6), M=st.integers(1, 3))
def test_coefficient_tensor_by_contraction(n, seed, M):
    rng = np.random.default_rng(seed)
    tree = tc.ModeTree.random(n, (2, 3), seed=seed)
    net = tc.ConvAC(tree, M, random_widths(tree, rng, 1, 3), n_outputs=2, seed=seed)
    A = engine.coefficient_tensor(net, output=1)
    ref = net.coefficient_tensor(output=1)
    np.testing.assert_allclose(A, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    # Independent: A[d] is the output on one-hot features e_{d_1}, ..., e_{d_n}.
    idx = np.array(list(np.ndindex(*(M,) * n)))
    onehot = np.eye(M)[idx]  # (M**n, n, M)
    np.testing.assert_allclose(A.reshape(-1), brute_forward(net, onehot)[:, 1], rtol=1e-10,
                               atol=1e-12 * np.abs(ref).max())


def test_coefficient_tensor_budget_and_operator_errors():
    net = tc.deep(16, 4, 2, seed=0)
    with pytest.raises(tc.TensorTooLargeError, match="coefficient tensor"):
        engine.coefficient_tensor(net, max_bytes=1000)
    relu = tc.ConvNet(tc.ModeTree.balanced(4), 2, 2, g="relu_max", seed=0)
    with pytest.raises(ValueError, match="grid_tensor"):
        engine.coefficient_tensor(relu)
    with pytest.raises(ValueError, match="output 3"):
        engine.coefficient_tensor(net, output=3)


# ---------------------------------------------------------------------- device cache


def test_device_weights_cache_builds_once_per_key():
    net = tc.deep(4, 2, 2, seed=0)
    be = backends.get_backend("numpy")
    calls = []

    def build(b):
        calls.append(1)
        return [b.asarray(w) for w in net.weights.values()]

    a = backends.device_weights(net, be, ("k", 1), build)
    b = backends.device_weights(net, be, ("k", 1), build)
    assert a is b and len(calls) == 1
    backends.device_weights(net, be, ("k", 2), build)
    assert len(calls) == 2
    backends.clear_device_cache(net)
    backends.device_weights(net, be, ("k", 2), build)
    assert len(calls) == 3


def test_blas_threads_context_is_reentrant():
    with backends.blas_threads(1), backends.blas_threads(1):
        x = np.ones((8, 8)) @ np.ones((8, 8))
    assert x[0, 0] == 8.0


# ---------------------------------------------------------------------- benchmark harness


def test_benchmark_paths_rows_and_infeasible():
    # deep(8, 3, 4) at batch 32: the structure path's largest intermediate is 128 elements, greedy's
    # 69984 (checked below with opt_einsum itself), so a budget of 8 KiB makes greedy, and only greedy,
    # infeasible.
    net = tc.deep(8, 3, 4, seed=0)
    budget = 8192
    rows = benchmark_paths(net, ["levels", "structure", "structure+oe", "greedy", "reference", "gemm"],
                           batch=32, repeats=2, show_progress=False, max_bytes=budget)
    by = {r["method"]: r for r in rows}
    assert set(by) == {"levels", "structure", "structure+oe", "greedy", "reference", "gemm"}
    tn = net.to_tensor_network()
    sp = paths.structure_path(tn, features=True, batch=32)
    assert by["structure"]["flops"] == sp.cost.flops
    assert sp.cost.largest_intermediate * 8 <= budget
    _, info = oe.contract_path(tn.equation(features=True), *tn.operands(np.ones((32, 8, 3))),
                                         optimize="greedy")
    assert by["greedy"]["largest_intermediate"] == int(info.largest_intermediate)
    assert info.largest_intermediate * 8 > budget
    assert by["greedy"]["status"].startswith("infeasible") and by["greedy"]["contract_s"] is None
    assert by["greedy"]["ratio"] is None
    assert all(by[m]["status"] == "ok" for m in ("levels", "structure", "structure+oe", "reference"))
    ok = [r for r in rows if r["status"] == "ok"]
    assert min(r["ratio"] for r in ok) == pytest.approx(1.0)
    assert all(r["contract_s"] > 0 for r in ok)
    text = format_table(rows)
    assert "levels" in text and "ratio" in text and "infeasible" in text
    assert json.loads(rows.to_json())[0]["method"] == "levels"


def test_benchmark_paths_on_plain_network_and_errors():
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (3, 2)]
    tn = TensorNetwork.from_einsum("ab,bc->ac", shapes, [rng.standard_normal(s) for s in shapes])
    rows = benchmark_paths(tn, ["levels", "structure", "greedy"], batch=4, repeats=1, show_progress=False)
    assert [r["status"][:3] for r in rows] == ["n/a", "n/a", "ok"]
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        benchmark_paths(tn, ["nope"], batch=2, repeats=1, show_progress=False)
    with pytest.raises(TypeError, match="ConvAC or a TensorNetwork"):
        benchmark_paths(42)


def test_benchmark_paths_searched_methods_match_a_dense_forward(monkeypatch):
    # Every method family on one small network: its output is checked against the first method's
    # inside benchmark_paths, and the first (``structure``) against a plain einsum of the whole network.
    ctg = pytest.importorskip("cotengra")
    pytest.importorskip("quimb")
    # cotengra's default pool and methods take seconds to start: a cheap in-process greedy search
    cheap = functools.partial(ctg.HyperOptimizer, parallel=False, methods=["greedy"])
    monkeypatch.setattr(ctg, "HyperOptimizer", cheap)
    net = tc.deep(8, 2, 2, seed=0)
    F = np.random.default_rng(1).standard_normal((4, 8, 2))
    opt = oe.RandomGreedy(max_repeats=2)
    rows = benchmark_paths(net, ["structure", "random-greedy", opt, "cotengra", "quimb", "nodes", "gemm"],
                           features=F, repeats=1, show_progress=False, max_time=5, max_repeats=2)
    assert [r["method"] for r in rows] == ["structure", "random-greedy", "RandomGreedy", "cotengra", "quimb",
                                           "nodes", "gemm"]
    assert all(r["status"].startswith("ok") for r in rows), [r["status"] for r in rows]
    tn = net.to_tensor_network()
    dense = np.einsum(tn.equation(features=True), *tn.operands(F), optimize="greedy")
    assert np.allclose(np.asarray(dense).reshape(-1), net.forward(F)[:, 0])
    # the flop counts are opt_einsum's for the same path; gemm's is 2 n^3 of its square matmul
    for r in rows[:5]:
        assert r["flops"] > 0 and r["largest_intermediate"] >= 1
    n = round((rows[0]["flops"] / 2) ** (1 / 3))
    assert rows[-1]["flops"] == 2 * max(1, n) ** 3
    # ratios are over the best method's time; the gemm limit gets one but never sets the best
    best = min(r["contract_s"] for r in rows[:-1])
    assert all(r["ratio"] == pytest.approx(r["contract_s"] / best) for r in rows)


def test_benchmark_paths_flags_a_mismatch_and_refuses_non_bool_flags(monkeypatch):
    net = tc.deep(8, 2, 2, seed=0)
    real = type(net).forward

    def wrong(self, x, engine="auto"):
        out = real(self, x, engine=engine)
        return out * 2.0 if engine == "nodes" else out

    monkeypatch.setattr(type(net), "forward", wrong)
    rows = benchmark_paths(net, ["levels", "nodes"], batch=4, repeats=1, show_progress=False)
    assert rows[0]["status"] == "ok" and rows[1]["status"].startswith("MISMATCH")
    rows = benchmark_paths(net, ["levels", "nodes"], batch=4, repeats=1, show_progress=False, check=False)
    assert rows[1]["status"] == "ok"
    with pytest.raises(TypeError, match="check"):
        benchmark_paths(net, ["levels"], batch=4, repeats=1, show_progress=False, check="no")


def test_bench_cli_json(capsys):
    parser = argparse.ArgumentParser(prog="tnconv")
    register_cli(parser.add_subparsers())
    args = parser.parse_args(["bench", "paths", "--inputs", "16", "--widths", "2", "--descriptors", "2",
                              "--batch", "8", "--repeats", "1", "--optimizers", "levels,structure",
                              "--json"])
    assert args.func(args) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]  # --json is a flag: one object on stdout
    assert [r["method"] for r in rows] == ["levels", "structure"]
    bad = parser.parse_args(["bench", "paths", "--inputs", "16", "--optimizers", "nope", "--repeats", "1"])
    assert bad.func(bad) == 2


def test_benchmark_paths_reports_engine_that_cannot_run():
    net = tc.ConvAC(tc.ModeTree.from_nested(((0, 1), 2)), 2, 2, seed=0)  # not uniform: no "levels"
    rows = benchmark_paths(net, ["levels", "nodes"], batch=4, repeats=1, show_progress=False)
    assert rows[0]["status"].startswith("failed: ValueError") and "uniform" in rows[0]["status"]
    assert rows[1]["status"] == "ok"


def test_num_threads_environment_variable(monkeypatch):
    monkeypatch.setenv("TNCONV_NUM_THREADS", "3")
    assert backends.n_workers() == 3
    monkeypatch.setenv("TNCONV_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="'many'"):
        backends.n_workers()
