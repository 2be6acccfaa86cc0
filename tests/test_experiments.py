"""Experiments checked against independent values: closed-form theorems, brute-force min cuts over all
side assignments, exact ranks over GF(p), and dense tensors contracted here from the weights."""

import concurrent.futures
import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
from helpers import unfold
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.exact import generic_schmidt_rank
from tnconv.experiments import common, figures, registry
from tnconv.experiments import contraction_paths as cp
from tnconv.experiments import depth_efficiency as de
from tnconv.experiments import entanglement_vs_bound as evb
from tnconv.experiments import mixed_dilated as md
from tnconv.experiments import pooling_geometry as pg
from tnconv.experiments import rectifier as rect
from tnconv.experiments import width_range as wr
from tnconv.mincut import tree_min_cut


# ----------------------------------------------------------------------------- independent references
def brute_min_cut(tree, M, widths, part):
    """Min over every side assignment of the weight tensors of the product of severed dimensions
    (hyperedge model: a copy tensor costs its dimension once when its members are split)."""
    nodes = list(tree.nodes)
    part = set(part)
    best = None
    for sides in itertools.product((0, 1), repeat=len(nodes)):
        side = dict(zip(nodes, sides))
        cost = 1
        for v in nodes:
            if tree.is_leaf(v):
                if side[v] != (next(iter(v)) in part):
                    cost *= M
            else:
                members = {side[v]} | {side[c] for c in tree.children(v)}
                if len(members) > 1:
                    cost *= widths[tree.children(v)[0]]
        best = cost if best is None else min(best, cost)
    return best


def brute_min_cut_internal(tree, M, widths, part):
    """The same minimum, enumerating every side assignment of the internal weight tensors only.

    Exact, not a heuristic: a leaf tensor touches only its open leg and its parent's copy tensor. If
    that copy tensor is severed (cost its dimension, once), every leaf below it sits on its own input's
    side for free; if not, all its members share one side and each leaf on the other side of its input
    pays M. Vectorized over all 2^(internal nodes) assignments, so trees of 16 inputs take milliseconds.
    """
    internal = list(tree.internal_nodes)
    col = {v: k for k, v in enumerate(internal)}
    # row a is the assignment whose bit k is the side of internal node k: all 2^K of them
    sides = ((np.arange(2 ** len(internal))[:, None] >> np.arange(len(internal))) & 1).astype(bool)
    part = set(part)
    # every assignment costs at most the product of all copy-tensor dimensions: int64 is exact below 2^62
    cap = math.prod(int(widths[tree.children(v)[0]]) for v in internal)
    dtype = np.int64 if cap < 2**62 else object
    cost = np.ones(len(sides), dtype=dtype)
    for v in internal:
        kids = tree.children(v)
        r = int(widths[kids[0]])
        sv = sides[:, col[v]]
        mixed = np.zeros(len(sides), dtype=bool)
        for c in kids:
            if not tree.is_leaf(c):
                mixed |= sides[:, col[c]] != sv
        leaves = [c for c in kids if tree.is_leaf(c)]
        n_in = sum(next(iter(c)) in part for c in leaves)  # leaves whose open leg is on side 1 (= part)
        mismatch = np.where(sv, len(leaves) - n_in, n_in)
        keep = np.array([min(r, M ** int(k)) for k in range(len(leaves) + 1)], dtype=dtype)[mismatch]
        cost = cost * np.where(mixed, np.asarray(r, dtype=dtype), keep)
    return int(cost.min())


def uniform_widths(tree, ws):
    """Per-node widths of a balanced tree from one width per height (``ws[0]`` at the leaves)."""
    return {v: ws[tree.height(v)] for v in tree.nodes if v != tree.root}


def n_parameters_closed_form(n, M, ws):
    """Parameters of a balanced binary ConvAC: N leaves (M x w_0), N/2^l nodes (w_(l-1) x w_l), root (w_(L-1) x 1)."""
    L = len(ws)
    return n * M * ws[0] + sum((n >> l) * ws[l - 1] * ws[l] for l in range(1, L)) + ws[L - 1]


def dense_from_weights(net):
    """The coefficient tensor contracted here with einsum, node by node, from ``net.weights``."""
    tree = net.tree
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    mode = {i: next(letters) for i in range(tree.n_inputs)}
    tables = {}
    for v in tree.nodes:
        W = net.weights[v] if v != tree.root else net.weights[v][:, :1]
        if tree.is_leaf(v):
            tables[v] = (W, [next(iter(v))])
            continue
        kids = [tables.pop(c) for c in tree.children(v)]
        terms, modes = [], []
        for _, ms in kids:
            terms.append("".join(mode[m] for m in ms) + "Z")
            modes += ms
        out = "".join(mode[m] for m in modes) + "Y"
        eq = ",".join(terms) + ",ZY->" + out
        tables[v] = (np.einsum(eq, *[T.reshape([net.n_descriptors] * len(ms) + [-1]) for T, ms in kids], W).reshape(
            -1, W.shape[1]), modes)
    flat, order = tables[tree.root]
    A = flat[:, 0].reshape([net.n_descriptors] * tree.n_inputs)
    return np.transpose(A, np.argsort(order))


@st.composite
def tree_widths_part(draw, max_n=6):
    n = draw(st.integers(2, max_n))
    tree = tc.ModeTree.random(n, (2, 3), seed=draw(st.integers(0, 10**6)))
    M = draw(st.sampled_from([2, 4]))
    widths = {}
    for v in tree.internal_nodes:
        w = draw(st.sampled_from([1, 2, 4, 8]))
        for c in tree.children(v):
            widths[c] = w
    k = draw(st.integers(1, n - 1))
    part = frozenset(draw(st.permutations(range(n)))[:k])
    return tree, M, widths, part


# ----------------------------------------------------------------------------- tree min cut
@settings(deadline=None)
@given(tree_widths_part())
def test_tree_min_cut_equals_brute_force_and_generic_rank(case):
    tree, M, widths, part = case
    cut = tree_min_cut(tree, M, widths, part)
    assert cut == brute_min_cut(tree, M, widths, part) == brute_min_cut_internal(tree, M, widths, part)
    # All dimensions are powers of 2: the bound is tight for generic weights (MATH.md §3).
    assert cut == generic_schmidt_rank(tc.ConvAC(tree, M, widths), part, seed=1)


def test_tree_min_cut_rejects_bad_partition():
    t = tc.ModeTree.balanced(4)
    w = {v: 2 for v in t.nodes if v != t.root}
    with pytest.raises(ValueError, match=r"\[7\]"):
        tree_min_cut(t, 2, w, [0, 7])


# ----------------------------------------------------------------------------- 1 depth efficiency
@pytest.fixture(scope="module")
def depth_result():
    return de.run("small", seed=3)


def test_depth_efficiency_matches_theorems(depth_result):
    r = depth_result
    M, w = r.n_descriptors, r.width
    for n, oe, lr in zip(r.exact_n, r.deep_odd_even_rank, r.deep_left_right_rank):
        assert oe == min(M, w) ** (n // 2)
        assert lr == min(w, M ** (n // 2))
    for n, z, rank in zip(r.exact_n, r.shallow_budget_width, r.shallow_budget_odd_even_rank):
        assert rank == min(z, M ** (n // 2))  # CP rank bound, attained generically
        assert rank < min(M, w) ** (n // 2) or n <= 2
    for n, c in zip(r.cut_n, r.deep_odd_even_log2_cut):
        assert c == pytest.approx(n / 2 * math.log2(min(M, w)))
    assert all(c == pytest.approx(math.log2(w)) for c in r.deep_left_right_log2_cut)
    for shape, cb, lrr in zip(r.images, r.image_checkerboard_rank, r.image_left_right_rank):
        if cb is not None:  # every 2x2 window straddles the checkerboard: min(w, M^2) per window
            assert cb == min(w, M**2) ** (shape[0] * shape[1] // 4)
            assert lrr == w
    for k, c, need, got in zip(r.layers_removed, r.required_top_log2_cut, r.required_top_rank,
                               r.truncated_rank_at_top_width):
        assert c == pytest.approx(2 ** (k - 1) * math.log2(min(M, w)))
        if need is not None:
            assert need == min(M, w) ** (2 ** (k - 1))
            assert got == need
    assert de.verdict(r).startswith("SUPPORTED")


def test_depth_efficiency_entropy_within_rank(depth_result):
    r = depth_result
    for n, e in zip(r.cut_n, r.left_right_entropy):
        assert e is not None and 0 <= e <= math.log(r.width) + 1e-9
        if n <= 8:  # the same float model, contracted densely here
            A = dense_from_weights(tc.deep(n, r.n_descriptors, r.width, seed=3, init="orthogonal"))
            s = np.linalg.svd(unfold(A, tc.partitions.left_right(n)), compute_uv=False)
            p = s**2 / np.sum(s**2)
            p = p[p > 0]
            assert e == pytest.approx(-np.sum(p * np.log(p)), abs=1e-9)


def test_block_odd_partition_and_truncated_tree():
    assert de.block_odd_partition(8, 1) == tc.partitions.odd_even(8)
    assert de.block_odd_partition(8, 4) == frozenset(range(4, 8))
    with pytest.raises(ValueError, match="block size 3"):
        de.block_odd_partition(8, 3)
    t = de.truncated_tree(4, 2)
    assert [len(c) for c in t.children(t.root)] == [4, 4, 4, 4]
    with pytest.raises(ValueError, match="removed=5"):
        de.truncated_tree(4, 5)


# ----------------------------------------------------------------------------- 2 pooling geometry
def test_pooling_geometry_theorem_values():
    r = pg.run("small")
    M, w = r.n_descriptors, r.width
    for k, side in enumerate(r.sides):
        n = side * side
        row_c = dict(zip(r.partitions, r.log2_cut["contiguous"][k]))
        row_i = dict(zip(r.partitions, r.log2_cut["interleaved"][k]))
        # contiguous: every first-level window straddles the checkerboard; left/right meet at the root
        assert row_c["checkerboard"] == pytest.approx(n / 4 * math.log2(min(w, M**2)))
        assert row_c["left_right"] == pytest.approx(math.log2(w))
        # mirror pooling: windows lie inside one checkerboard colour and straddle left/right
        assert row_i["checkerboard"] == pytest.approx(math.log2(w))
        assert row_i["left_right"] == pytest.approx(n / 4 * math.log2(min(w, M**2)))
        for name, mx in zip(r.partitions, r.max_log2[k]):
            if mx is not None:
                part = dict(pg.partition_family(side))[name]
                assert mx == pytest.approx(min(len(part), n - len(part)) * math.log2(M))
    j = {name: i for i, name in enumerate(r.partitions)}
    assert r.exact_rank["contiguous"][j["checkerboard"]] == min(w, M**2) ** 4
    assert r.exact_rank["contiguous"][j["left_right"]] == w
    assert r.exact_rank["interleaved"][j["left_right"]] == min(w, M**2) ** 4
    assert r.exact_rank["interleaved"][j["checkerboard"]] == w
    assert pg.verdict(r).startswith("SUPPORTED")


def test_pooling_geometry_cuts_equal_brute_force():
    r = pg.run("small")
    side = r.sides[0]
    fam = pg.partition_family(side)
    checked = 0
    for geo in pg.GEOMETRIES:
        net = tc.deep((side, side), r.n_descriptors, r.width, pooling=geo)
        w = {v: net.widths[v] for v in net.tree.nodes if v != net.tree.root}
        for name, val in zip(r.partitions, r.log2_cut[geo][0]):
            if fam.get(name) is not None:
                expected = brute_min_cut_internal(net.tree, r.n_descriptors, w, fam[name])
                assert val == pytest.approx(math.log2(expected))
                checked += 1
    assert checked >= 2 * len(pg.GEOMETRIES)


# ----------------------------------------------------------------------------- 3 width range
@settings(deadline=None)
@given(st.sampled_from([4, 8, 16]), st.sampled_from([2, 3, 4]), st.data())
def test_n_parameters_matches_model(n, M, data):
    L = int(math.log2(n))
    ws = [data.draw(st.integers(1, 9)) for _ in range(L)]
    tree = tc.ModeTree.balanced(n)
    expected = n_parameters_closed_form(n, M, ws)
    assert wr.n_parameters(n, M, ws) == expected
    assert tc.ConvAC(tree, M, uniform_widths(tree, ws)).n_parameters == expected


@pytest.mark.parametrize("pool", [None, "threads"])
def test_allocate_widths_exact_is_optimal_over_all_profiles(pool):
    n, M = 4, 3
    tree = tc.ModeTree.balanced(n)
    parts = [frozenset({1, 2}), frozenset({0, 1}), frozenset({1, 3})]
    cand = [1, 2, 3, 4, 8, 9]
    budget = 70
    if pool is None:
        alloc = wr.allocate_widths(n, parts, budget, n_descriptors=M, candidates=cand)
    else:
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            alloc = wr.allocate_widths(n, parts, budget, n_descriptors=M, candidates=cand, executor=ex)
    assert alloc.method == "exact" and alloc.n_parameters == n_parameters_closed_form(n, M, alloc.widths) <= budget
    best = -1.0
    for ws in itertools.product(cand, repeat=2):
        if n_parameters_closed_form(n, M, ws) <= budget:
            widths = {v: ws[tree.height(v)] for v in tree.nodes if v != tree.root}
            best = max(best, min(math.log2(brute_min_cut(tree, M, widths, p)) for p in parts))
    assert alloc.objective == pytest.approx(best)
    widths = {v: alloc.widths[tree.height(v)] for v in tree.nodes if v != tree.root}
    assert alloc.log2_bounds == pytest.approx([math.log2(brute_min_cut(tree, M, widths, p)) for p in parts])


def test_allocate_widths_greedy_respects_budget():
    parts = [range(2), range(8)]
    alloc = wr.allocate_widths(16, parts, 600, n_descriptors=2, exact_max_levels=2)
    assert alloc.method == "greedy"
    assert alloc.n_parameters == n_parameters_closed_form(16, 2, alloc.widths) <= 600
    tree = tc.ModeTree.balanced(16)
    bounds = [math.log2(brute_min_cut_internal(tree, 2, uniform_widths(tree, alloc.widths), p)) for p in parts]
    assert alloc.log2_bounds == pytest.approx(bounds)
    assert alloc.objective == pytest.approx(min(bounds))
    # at least as good as the cheapest profile, width 1 everywhere: bound 1, log2 0
    assert alloc.objective >= 0


def test_allocate_widths_errors():
    with pytest.raises(ValueError, match="parameter_budget 3"):
        wr.allocate_widths(8, [[0]], 3)
    with pytest.raises(ValueError, match=r"\[9\]"):
        wr.allocate_widths(8, [[0, 9]], 500)
    with pytest.raises(ValueError, match="at least one partition"):
        wr.allocate_widths(8, [], 500)
    with pytest.raises(TypeError, match="ModeTree"):
        wr.allocate_widths("8", [[0]], 500)
    with pytest.raises(ValueError, match="uniform"):
        wr.allocate_widths(tc.ModeTree.from_nested(((0, 1), 2)), [[0]], 500)


def test_width_range_small_run():
    r = wr.run("small")
    tree = tc.ModeTree.balanced(r.n_inputs)
    for name, ws in r.profiles.items():
        assert r.profile_parameters[name] == n_parameters_closed_form(r.n_inputs, r.n_descriptors, ws) <= r.budget
        widths = uniform_widths(tree, ws)
        for size, val in zip(r.block_sizes, r.log2_cut[name]):
            expected = brute_min_cut_internal(tree, r.n_descriptors, widths, range(size))
            assert val == pytest.approx(math.log2(expected))
    # one input: min(M, w_0); the first pair: its own input copy tensor (w_0), the parent's (w_1), or M^2
    for name, ws in r.profiles.items():
        assert r.log2_cut[name][0] == pytest.approx(math.log2(min(r.n_descriptors, ws[0])))
        assert r.log2_cut[name][1] == pytest.approx(math.log2(min(r.n_descriptors**2, ws[0], ws[1])))
    assert r.alloc_objective["allocated"] >= max(r.alloc_objective.values()) - 1e-9
    assert wr.verdict(r).startswith("SUPPORTED")


# ----------------------------------------------------------------------------- 4 entanglement vs bound
def test_entanglement_vs_bound_against_dense_and_exact_rank():
    r = evb.run("small", seed=2)
    nets = evb.make_networks("small", seed=2)
    parts = evb.make_partitions("small", seed=2)
    k = 0
    for kind, desc, net in nets[:6]:
        A = dense_from_weights(net)
        for pname, part in parts:
            assert (r.kind[k], r.network[k], r.partition[k]) == (kind, desc, pname)
            s = np.linalg.svd(unfold(A, part), compute_uv=False)
            p = s**2 / np.sum(s**2)
            p = p[p > 1e-300]
            assert r.entropy[k] == pytest.approx(-np.sum(p * np.log(p)), abs=1e-9)
            assert r.geometric[k] == pytest.approx(1 - p.max(), abs=1e-12)
            assert r.bound[k] == generic_schmidt_rank(net, part, seed=5)  # dims are powers of 2: tight
            k += 1
    k = 0
    for _, _, net in nets:
        widths = {v: net.widths[v] for v in net.tree.nodes if v != net.tree.root}
        for _, part in parts:
            bound = brute_min_cut_internal(net.tree, net.n_descriptors, widths, part)
            assert r.bound[k] == bound
            assert r.log_bound[k] == pytest.approx(math.log(bound), abs=1e-12)
            assert r.entropy[k] <= math.log(bound) + 1e-9
            assert r.geometric[k] <= 1 - 1 / bound + 1e-9
            k += 1
    assert k == len(r.bound)
    assert evb.verdict(r).startswith("SUPPORTED")


# ----------------------------------------------------------------------------- 5 rectifier
def _grid_by_loops(net, templates):
    """Evaluate the network on every template combination by its defining recursion."""
    tree, g = net.tree, net.g
    n = tree.n_inputs
    T = templates.shape[0]
    G = np.empty((T,) * n)
    for combo in itertools.product(range(T), repeat=n):
        vals = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                vals[v] = templates[combo[next(iter(v))]] @ net.weights[v]
                continue
            kids = [vals.pop(c) for c in tree.children(v)]
            pooled = kids[0]
            for x in kids[1:]:
                if g.name == "product":
                    pooled = pooled * x
                elif g.name == "relu_max":
                    pooled = np.maximum(np.maximum(pooled, x), 0)
                else:
                    pooled = np.maximum(pooled, 0) + np.maximum(x, 0)
            vals[v] = pooled @ net.weights[v]
        G[combo] = vals[tree.root][0]
    return G


def test_rectifier_grid_ranks_independent():
    part = tc.partitions.odd_even(4)
    for g in rect.OPERATORS:
        for seed in range(3):
            net, templates = rect.draw(g, seed)
            G = _grid_by_loops(net, templates)
            s = np.linalg.svd(unfold(G, part), compute_uv=False)
            expected = int(np.sum(s > rect.RTOL * s[0]))
            assert rect.grid_rank(net, templates, part) == expected
            if g == "product":
                assert expected == min(3, 3) ** 2


def test_rectifier_run_distribution():
    r = rect.run("small")
    assert set(r.ranks["product"]) == {min(r.n_descriptors, r.width) ** (r.n_inputs // 2)}
    mx = r.ranks["relu_max"]
    assert max(mx) <= r.max_rank and any(x < max(mx) for x in mx)
    assert rect.verdict(r).startswith("SUPPORTED")


# ----------------------------------------------------------------------------- 6 mixed dilated
def test_mixed_dilated_worked_example():
    r = md.run("small")
    w = r.width
    assert r.exact_rank[0] == r.exact_rank[1] == w**6
    assert max(r.exact_rank) == w**8 == r.mixed_rank
    for rv, req in zip(r.r_values, r.required_width):
        target = max(1, rv // 2) ** 8
        expected = next(x for x in itertools.count(1) if x**6 >= target)
        assert req == expected
    assert md.verdict(r).startswith("SUPPORTED")


def test_dilated_as_convac_has_the_dilated_ranks():
    # Independent check of the folding argument: float ranks of a real DilatedConvNet (8 inputs,
    # orthogonal weights, tiny tensor) equal the exact generic ranks of the folded ConvAC.
    tree = tc.ModeTree.dilated(3, [2, 1, 4])
    rng = np.random.default_rng(0)
    net = tc.DilatedConvNet(tree, 2, 2, seed=1, init="orthogonal")
    A = net.coefficient_tensor()
    for _ in range(5):
        part = frozenset(rng.permutation(8)[: rng.integers(1, 8)].tolist())
        s = np.linalg.svd(unfold(A, part), compute_uv=False)
        assert int(np.sum(s > 1e-10 * s[0])) == generic_schmidt_rank(md.dilated_as_convac(tree, 2, 2), part)


# ----------------------------------------------------------------------------- 8 contraction paths
def _paths_claim_holds(r, tol=0.05):
    """The claim, from the path costs alone: per network, the best structure-derived path costs at most
    (1 + tol) x the best searched path's flops, with no larger intermediate. Times play no part."""
    holds = []
    for net in dict.fromkeys(r.network):
        rows = [k for k in range(len(r.method)) if r.network[k] == net and r.status[k] == "ok"]
        mine = [k for k in rows if r.method[k] in ("levels", "structure", "structure+oe")]
        searched = [k for k in rows if r.method[k] not in ("levels", "structure", "structure+oe", "gemm")]
        holds.append(bool(mine and searched)
                     and min(r.flops[k] for k in mine) <= (1 + tol) * min(r.flops[k] for k in searched)
                     and min(r.largest_intermediate[k] for k in mine)
                     <= min(r.largest_intermediate[k] for k in searched))
    return all(holds)


def test_contraction_paths_small():
    oe = pytest.importorskip("opt_einsum")
    r = cp.run("small")
    assert r.method == ["levels", "structure", "greedy"] and all(s == "ok" for s in r.status)
    cfg = cp.CONFIG["small"]
    N, M, w, B = cfg["networks"][0][1], cfg["M"], cfg["width"], cfg["batch"]
    # Level by level, opt_einsum's convention (size of the indices involved, x2 when one is summed):
    # N leaves F(B,M) @ W(M,w); each non-root node: Hadamard of its two children (B w), then @ W(w,w);
    # the root: Hadamard, then @ W(w,1). Every intermediate is at most B x w.
    levels = N * 2 * B * M * w + (N - 2) * (B * w + 2 * B * w * w) + (B * w + 2 * B * w)
    for k in (0, 1):
        assert r.flops[k] == levels == 8224
        assert r.largest_intermediate[k] == B * w
    # greedy's cost as opt_einsum itself counts it, on the same equation
    net = tc.deep(N, M, w, seed=0)
    tn = tc.TensorNetwork.from_convac(net)
    feats = np.zeros((B, N, M))
    shapes = [o.shape for o in tn.operands(feats)]
    _, info = oe.contract_path(tn.equation(features=True), *shapes, shapes=True, optimize="greedy")
    assert r.flops[2] == float(info.opt_cost)
    assert r.largest_intermediate[2] == float(info.largest_intermediate)
    # the verdict follows the path costs, and here the structure path ties the search (8224 flops)
    assert _paths_claim_holds(r)
    assert cp.verdict(r).startswith("SUPPORTED:")


def test_contraction_paths_verdict_ignores_timing():
    base = {"batch": 1, "network": ["a", "a", "a"], "method": ["levels", "greedy", "cotengra"],
            "search_s": [0.0, 0.1, 5.0], "status": ["ok", "ok", "ok"]}
    cases = [  # (flops, largest intermediate, contraction times)
        ([100.0, 120.0, 99.0], [8.0, 8.0, 16.0], [9.0, 1.0, 1.0]),    # 1% over the best search, 9x slower
        ([100.0, 90.0, 200.0], [8.0, 8.0, 8.0], [1e-6, 1.0, 1.0]),    # 11% over: fails however fast it runs
        ([100.0, 100.0, 100.0], [16.0, 8.0, 8.0], [1e-6, 1.0, 1.0]),  # a larger intermediate fails
        ([100.0, 104.0, 1e9], [8.0, 8.0, 4.0], [1.0, 1.0, 1.0]),      # cotengra's smaller intermediate wins
    ]
    for flops, largest, times in cases:
        r = cp.ContractionPathsResult(flops=flops, largest_intermediate=largest, contract_s=times, **base)
        expected = _paths_claim_holds(r)
        text = cp.verdict(r)
        assert text.startswith("SUPPORTED:" if expected else "NOT SUPPORTED:"), (flops, largest, text)
        for shuffled in itertools.permutations(times):
            r.contract_s = list(shuffled)
            assert cp.verdict(r).splitlines()[0] == text.splitlines()[0]
    assert [_paths_claim_holds(cp.ContractionPathsResult(flops=f, largest_intermediate=l, contract_s=t, **base))
            for f, l, t in cases] == [True, False, False, False]
    # an infeasible search still has its path cost; a failed one does not count
    r = cp.ContractionPathsResult(batch=1, network=["a", "a"], method=["levels", "greedy"], flops=[100.0, 1e12],
                                  largest_intermediate=[8.0, 1e11], search_s=[0.0, 0.1], contract_s=[1.0, None],
                                  status=["ok", "infeasible: largest intermediate 1e11 elements > budget"])
    assert cp.verdict(r).startswith("SUPPORTED:")
    r.status[1] = "failed: MemoryError"
    assert cp.verdict(r).startswith("NOT SUPPORTED:")


# ----------------------------------------------------------------------------- plumbing
def test_to_json_roundtrip_exact_ints():
    big = 2**100 + 1
    data = json.loads(common.to_json({"b": big, "arr": np.arange(3), "f": np.float32(0.5), "s": frozenset({2, 1}),
                                       "inf": float("inf")}))
    assert data == {"b": big, "arr": [0, 1, 2], "f": 0.5, "s": [1, 2], "inf": "inf"}
    with pytest.raises(TypeError, match="object"):
        common.to_json({"x": object()})


def test_check_size_and_registry_errors():
    with pytest.raises(ValueError, match="'huge'"):
        de.run("huge")
    with pytest.raises(KeyError, match="nope"):
        registry.get("nope")
    assert [registry.get(n).section for n in registry.names()] == list(range(1, 12))


def test_run_experiment_writes_png_and_json(tmp_path):
    info = registry.run_experiment("pooling_geometry", "small", out=tmp_path)
    data = json.loads((tmp_path / "pooling_geometry.json").read_text())
    assert data["verdict"] == info["verdict"]
    assert data["result"]["log2_cut"]["contiguous"][0][data["result"]["partitions"].index("checkerboard")] == 4.0
    assert (tmp_path / "pooling_geometry.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_list_and_run(tmp_path, capsys):
    from tnconv.cli import main

    assert main(["experiments", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in registry.names())
    assert main(["experiments", "run", "rectifier", "--size", "small", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "rectifier.png").exists() and (tmp_path / "rectifier.json").exists()
    assert main(["experiments", "run", "bogus"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_plots_accept_axes_and_paths(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = pg.run("small")
    fig, ax = plt.subplots()
    assert pg.plot(r, ax) is fig
    plt.close(fig)
    path = pg.plot(r, tmp_path / "x.png")
    assert str(path).endswith("x.png")
    with pytest.raises(TypeError, match="ax_or_path"):
        pg.plot(r, 42)


@pytest.mark.slow
def test_implicit_acceleration_small():
    from tnconv.experiments import implicit_acceleration as ia

    r = ia.run("small")
    assert [x.p for x in r.results] == [4, 2]
    lines = ia.verdict(r).splitlines()
    for res, line in zip(r.results, lines[1:]):
        it = res.iters_to_target
        for m in res.methods:  # iterations to target, re-read from the curve at the chosen lr
            curve = np.asarray(res.curves[m])
            above = np.flatnonzero(curve > res.target)
            if it[m] is not None:
                assert it[m] == (0 if above.size == 0 else above[-1] + 1)
        reached = [it[m] for m in res.methods if m.startswith("depth ") and it[m] is not None]
        best = min(reached) if reached else None
        gd = it["GD"]
        if res.p == 4:  # depth >= 10x faster than GD, and faster than AdaGrad and AdaDelta
            assert best is not None
            speed = best is not None and (gd is None or gd >= 10 * max(best, 1))
            beats = [best is not None and (it[b] is None or best < it[b]) for b in ("AdaGrad", "AdaDelta")]
            assert line.count("HOLDS") == speed + sum(beats)
            assert speed and all(beats)  # what the theory predicts, and what this run shows
        else:  # no depth more than 1.5x faster than GD
            holds = gd is not None and (best is None or gd <= 1.5 * max(best, 1))
            assert ("HOLDS" in line) == holds and holds
    assert lines[0].startswith("SUPPORTED:")


def test_width_search_dp_and_min_cut_module_equal_brute_force():
    """The width search's structural DP and tnconv.min_cuts both equal the brute-force minimum."""
    net = tc.deep((4, 4), 2, [2, 4], seed=0)
    parts = [tc.partitions.checkerboard((4, 4)), tc.partitions.left_right((4, 4)), frozenset({0, 5})]
    widths = {v: net.widths[v] for v in net.tree.nodes if v != net.tree.root}
    expected = [brute_min_cut_internal(net.tree, 2, widths, p) for p in parts]
    # closed forms: every 2x2 window straddles the checkerboard (min(w_0, M^2) = 2 each); the halves
    # meet only at the root's copy tensor (w_1 = 4); {0, 5} splits one window (w_0 = 2)
    assert expected == [2**4, 4, 2]
    assert common.min_cut_bounds(net, parts) == expected
    assert [int(tc.min_cut(net, p, method=m).bound) for p in parts for m in ("networkx", "auto")] == [
        e for e in expected for _ in range(2)]
    assert [tree_min_cut(net.tree, 2, widths, p) for p in parts] == expected


# --- figure helpers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n, total", [(1, 0.8), (2, 0.76), (3, 0.8), (5, 0.5)])
def test_bar_offsets_fill_the_group_symmetrically(n, total):
    offsets, width = figures.bar_offsets(n, total)
    assert width == pytest.approx(total / n)
    # centred, one width apart, and the outer bars' edges span exactly the group's width
    assert sum(offsets) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diff(offsets), width)
    assert (offsets[-1] + width / 2) - (offsets[0] - width / 2) == pytest.approx(total)
    with pytest.raises(ValueError, match="0"):
        figures.bar_offsets(0)


def test_label_axes_and_bound_scatter_draw_what_they_say(tmp_path):
    pytest.importorskip("matplotlib")
    _, axes = figures.figure_target(tmp_path / "f.png", n_panels=2)
    figures.label_axes(axes[0], xlabel="x", ylabel="y", title="t", legend=None, log2="xy")
    assert (axes[0].get_xscale(), axes[0].get_yscale(), axes[0].get_title()) == ("log", "log", "t")
    with pytest.raises(ValueError, match="'z'"):
        figures.label_axes(axes[0], log2="z")
    r = evb.run("small")
    _, axes = figures.figure_target(tmp_path / "g.png", n_panels=2)
    figures.bound_scatter(axes, r, evb.KINDS, ("C0", "C3"), bits=True, jitter=0.06, title="bits")
    for ax, key in zip(axes, ("entropy", "geometric")):
        pts = np.concatenate([c.get_offsets() for c in ax.collections])
        want_x = np.concatenate([[b / math.log(2) for k, b in zip(r.kind, r.log_bound) if k == kind]
                                 for kind in evb.KINDS])
        want_y = np.concatenate([[v / (math.log(2) if key == "entropy" else 1) for k, v in zip(r.kind, getattr(r, key))
                                  if k == kind] for kind in evb.KINDS])
        assert np.all(np.abs(pts[:, 0] - want_x) <= 0.06)
        np.testing.assert_allclose(pts[:, 1], want_y)
        (bound,) = ax.get_lines()  # the bound in bits: log2 C, and 1 - 2^-log2 C
        x, y = bound.get_data()
        np.testing.assert_allclose(y, x if key == "entropy" else 1 - 2.0 ** -np.asarray(x))
    assert (axes[0].get_xlabel(), axes[0].get_title()) == ("log2(min cut)  (bits)", "bits")


def test_figures_without_matplotlib_say_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"tnconv\[plot\]"):
        figures.require_matplotlib()
    with pytest.raises(ImportError, match=r"tnconv\[plot\]"):
        rect.plot(rect.run("small"))


def test_claim4_helpers_against_hand_counts():
    r = evb.run("small")
    viol_s, viol_g = evb.bound_violations(r)
    assert (viol_s, viol_g) == (0, 0)
    shifted = dataclasses.replace(r, entropy=[c + 0.5 for c in r.log_bound])
    assert evb.bound_violations(shifted)[0] == len(r.entropy)
    for kind in evb.KINDS:
        vals = [s / c for k, s, c in zip(r.kind, r.entropy, r.log_bound) if k == kind and c > 0]
        assert evb.fraction_of_bound(r, kind) == pytest.approx(sum(vals) / len(vals))
