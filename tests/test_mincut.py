"""Min-cut bounds: exact ranks mod a prime, closed forms, solver agreement, MPS/PEPS, bad input.

Every rank here is computed independently of tnconv: integer weights, a coefficient tensor built
bottom-up in this file with int64 arithmetic mod a prime, and Gaussian elimination mod that prime.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.mincut import CutProblem, min_cut, min_cuts, prepare
from tnconv.mincut.flow import common_base

P = 33554393  # prime < 2**25: products of two residues stay below 2**50

from helpers import mps_einsum  # noqa: E402
from helpers import rank_mod_p as _rank_mod_p  # noqa: E402
from test_mincut_exact import brute_min_cut, labelling_cost  # noqa: E402


def rank_mod_p(A, p=P):
    return _rank_mod_p(A, p)


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % k for k in range(2, math.isqrt(n) + 1))


def test_prime_is_prime():
    assert _is_prime(P) and P < 2**25


# ---------------------------------------------------------------------------- independent oracles
def convac_tensor_mod_p(tree: tc.ModeTree, M: int, in_width: dict, width: dict, rng) -> np.ndarray:
    """A generic coefficient tensor over ``tree`` with random integer weights, mod P, built bottom-up.

    ``phi[v]`` has axes (sorted inputs of v..., channel); a window multiplies its children's tensors
    channel-wise (product pooling) and applies its weight matrix.
    """
    phi: dict = {}
    for v in tree.nodes:
        rows = M if tree.is_leaf(v) else in_width[v]
        cols = 1 if v == tree.root else width[v]
        W = rng.integers(0, P, size=(rows, cols), dtype=np.int64)
        if tree.is_leaf(v):
            cur, modes = W, [next(iter(v))]
        else:
            cur, modes = None, []
            for u in tree.children(v):
                t, m = phi.pop(u)
                if cur is None:
                    cur, modes = t, m
                else:
                    a = cur.reshape(cur.shape[:-1] + (1,) * (t.ndim - 1) + (cur.shape[-1],))
                    cur = (a * t.reshape((1,) * (cur.ndim - 1) + t.shape)) % P
                    modes = modes + m
            order = np.argsort(modes)
            cur = np.transpose(cur, list(order) + [cur.ndim - 1])
            modes = sorted(modes)
            # contract the channel with W (each term < P**2, at most 64 terms: < 2**56)
            cur = np.tensordot(cur, W, axes=([cur.ndim - 1], [0])) % P
        phi[v] = (cur, modes)
    A, _ = phi[tree.root]
    return A[..., 0]


def matricize(A: np.ndarray, part) -> np.ndarray:
    I = sorted(part)
    J = [k for k in range(A.ndim) if k not in set(I)]
    return np.transpose(A, I + J).reshape(int(np.prod([A.shape[k] for k in I])), -1)


# ---------------------------------------------------------------------------- strategies
@st.composite
def convac_cases(draw, dims):
    """A random tree, per-window widths drawn from ``dims`` and M from ``dims`` (>1), a partition."""
    M = draw(st.sampled_from([d for d in dims if d > 1]))
    max_n = min(10, max(2, int(math.log(2**13) / math.log(M))))
    # Mostly the largest sizes that keep the dense tensor small: that is where ranks get interesting.
    n = draw(st.one_of(st.integers(max(2, max_n - 3), max_n), st.integers(2, max_n)))
    tree = tc.ModeTree.random(n, arity=(2, 4), seed=draw(st.integers(0, 2**31 - 1)))
    width, in_width = {}, {}
    wide = [d for d in dims if d > 1]
    for v in tree.internal_nodes:
        # width 1 (a product across the window) in about one window out of eight
        w = draw(st.one_of(st.sampled_from(wide), st.sampled_from(wide), st.sampled_from(wide),
                           st.sampled_from(dims)))
        in_width[v] = w
        for c in tree.children(v):
            width[c] = w
    k = draw(st.integers(1, n - 1))
    part = frozenset(draw(st.permutations(range(n)))[:k])
    return tree, M, width, in_width, part


def model_of(tree, M, width):
    return tc.ConvAC(tree, M, dict(width), seed=0)


# ---------------------------------------------------------------------------- rank properties
@settings(deadline=None)
@given(convac_cases(dims=[1, 2, 3, 4, 5, 6]), st.integers(0, 2**31 - 1))
def test_bound_at_least_exact_rank(case, seed):
    tree, M, width, in_width, part = case
    A = convac_tensor_mod_p(tree, M, in_width, width, np.random.default_rng(seed))
    cut = min_cut(model_of(tree, M, width), part)
    assert cut.bound >= rank_mod_p(matricize(A, part))


@settings(deadline=None)
@given(st.sampled_from([[1, 2, 4], [1, 2, 4, 8], [1, 3, 9]]).flatmap(convac_cases), st.integers(0, 2**31 - 1))
def test_bound_equals_generic_rank_for_powers_of_one_base(case, seed):
    tree, M, width, in_width, part = case
    A = convac_tensor_mod_p(tree, M, in_width, width, np.random.default_rng(seed))
    cut = min_cut(model_of(tree, M, width), part)
    assert cut.bound == rank_mod_p(matricize(A, part))


@settings(deadline=None)
@given(convac_cases(dims=[1, 2, 3, 4, 6]))
def test_tree_solver_matches_flow_solvers(case):
    tree, M, width, _, part = case
    model = model_of(tree, M, width)
    cuts = {m: min_cut(model, part, method=m) for m in ("tree", "networkx", "scipy")}
    bounds = {m: c.bound for m, c in cuts.items()}
    tn = model.to_tensor_network()
    if tn.n_tensors <= 13:  # each solver against the exhaustive reference, not only against the others
        expect = brute_min_cut(tn, part)
        assert bounds == dict.fromkeys(bounds, expect), (bounds, expect)
    assert len(set(bounds.values())) == 1, bounds
    for c in cuts.values():
        assert math.prod(e.dim for e in c.edges) == c.bound
        assert c.log2_bound == pytest.approx(math.log2(c.bound))


@settings(deadline=None)
@given(convac_cases(dims=[1, 2, 3, 4]), st.integers(0, 2**31 - 1), st.integers(2, 40))
def test_batched_tree_dp_matches_single_queries(case, seed, n_parts):
    """The vectorized batch path (2-D work arrays) agrees with single queries (1-D) and with scipy."""
    tree, M, width, _, _ = case
    model = model_of(tree, M, width)
    rng = np.random.default_rng(seed)
    n = tree.n_inputs
    parts = [frozenset(rng.choice(n, size=int(rng.integers(1, n)), replace=False).tolist()) for _ in range(n_parts)]
    batch = [c.bound for c in min_cuts(model, parts)]
    assert batch == [min_cut(model, p).bound for p in parts]
    assert batch == [c.bound for c in min_cuts(model, parts, method="scipy")]
    tn = model.to_tensor_network()
    if tn.n_tensors <= 12:
        assert batch == [brute_min_cut(tn, p) for p in parts]


@settings(deadline=None)
@given(convac_cases(dims=[1, 2, 4]))
def test_cut_separates_and_matches_brute_force(case):
    """The returned cut really separates I from I^c, and no cheaper cut exists (exhaustive search
    over the labellings of tensors and copy tensors, written here from the graph alone)."""
    tree, M, width, _, part = case
    model = model_of(tree, M, width)
    tn = model.to_tensor_network()
    for method in ("networkx", "scipy"):
        other = min_cut(tn, part, method=method)
        if tn.n_tensors <= 12:
            assert other.bound == brute_min_cut(tn, part), method
        assert labelling_cost(tn, part, other.tensor_sides()) == other.bound
    cut = min_cut(tn, part)
    G = tn.graph
    # Severed: the cut's copy tensors and bonds, plus every dimension-1 index (free to cut).
    removed = {("copy", e.index) for e in cut.edges if e.kind == "copy"}
    removed |= {x for x in G if x[0] == "copy" and G.nodes[x]["dim"] == 1}
    H = G.copy()
    H.remove_nodes_from(removed)
    cut_inds = {e.index for e in cut.edges if e.kind != "copy"}
    H.remove_edges_from(
        [(u, v) for u, v, d in G.edges(data=True) if set(d["inds"]) & cut_inds or d["dim"] == 1]
    )
    for comp in nx.connected_components(H):
        opens = {x[1] for x in comp if x[0] == "open"}
        assert not (opens & part and opens - part), "cut does not separate the partition"
    # Brute force on small graphs: choose a set of copy tensors to sever and a side for every tensor.
    tensors = [x for x in G if x[0] == "tensor"]
    copies = [x for x in G if x[0] == "copy"]
    if len(tensors) + len(copies) > 11:
        return
    best = math.inf
    for mask in range(3 ** len(copies) * 2 ** len(tensors)):
        lab, rest = {}, mask
        for c in copies:
            lab[c], rest = rest % 3, rest // 3
        for t in tensors:
            lab[t], rest = rest % 2, rest // 2
        for x in G:
            if x[0] == "open":
                lab[x] = 0 if x[1] in part else 1
        cost, ok = 1, True
        for c in copies:
            sides = {lab[m] for m in G[c]}
            if lab[c] == 2:
                cost *= G.nodes[c]["dim"]
            elif sides != {lab[c]}:
                ok = False
        for u, v, d in G.edges(data=True):
            if u[0] != "copy" and v[0] != "copy" and lab[u] != lab[v]:
                cost *= d["dim"]
        if ok:
            best = min(best, cost)
    assert cut.bound == best


@pytest.mark.parametrize(
    "tree,M,w,parts",
    [
        (tc.ModeTree.balanced(8), 2, 2, [[1, 3, 5, 7], [0, 1, 4, 5], [0, 7], [2, 3, 4]]),
        (tc.ModeTree.random(7, seed=5), 4, 16, [[0, 2, 4], [1, 5, 6], [3]]),
        (tc.ModeTree.balanced(9, arity=3), 3, 9, [[0, 3, 6, 1], [0, 4, 8], [2, 5, 6, 7]]),
        (tc.ModeTree.interleaved(8), 2, 4, [[0, 1, 2, 3], [1, 3, 5, 7]]),
    ],
)
def test_bound_equals_rank_high_rank_cases(tree, M, w, parts):
    """Ranks in the tens to hundreds, exact mod P: the bound is attained."""
    width = {v: w for v in tree.nodes if v != tree.root}
    in_width = dict.fromkeys(tree.internal_nodes, w)
    A = convac_tensor_mod_p(tree, M, in_width, width, np.random.default_rng(0))
    model = model_of(tree, M, width)
    bounds = []
    for part in parts:
        bounds.append(min_cut(model, part).bound)
        assert bounds[-1] == rank_mod_p(matricize(A, part)), (part, bounds[-1])
    assert max(bounds) >= 16


# ---------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("N,M,w", [(8, 2, 2), (16, 2, 3), (8, 3, 2), (16, 4, 2), (32, 2, 2)])
def test_deep_odd_even_closed_form(N, M, w):
    net = tc.deep(N, M, w, seed=0)
    assert min_cut(net, tc.partitions.odd_even(N)).bound == min(M, w) ** (N // 2)


@pytest.mark.parametrize("widths", [[4, 4, 2], [2, 3, 5], [8, 8, 8], [2, 9, 9]])
def test_left_right_bounded_by_top_width(widths):
    """Left/right of contiguous pooling: at most the top width. Exactly: r(root's children), where
    the rank through a window is r(v) = min(width entering v, prod of r(children)), r(leaf) = M."""
    M = 3
    net = tc.deep(8, M, widths, seed=0)
    cut = min_cut(net, tc.partitions.left_right(8))
    assert cut.bound <= widths[-1]
    r1 = min(widths[0], M * M)  # a window of two inputs
    r2 = min(widths[1], r1 * r1)  # a window of four inputs
    assert cut.bound == min(widths[2], r2)


@pytest.mark.parametrize("n,M,Z", [(5, 2, 3), (6, 3, 100), (6, 2, 7), (4, 4, 1)])
def test_shallow_closed_form(n, M, Z):
    net = tc.shallow(n, M, Z, seed=0)
    for k in range(1, n):
        part = range(k)
        assert min_cut(net, part).bound == min(Z, M ** min(k, n - k))


def test_copy_tensor_is_charged_once():
    """A 4-child window of width 3: separating its legs costs 3 once, not once per leg."""
    net = tc.shallow(4, 4, 3, seed=0)
    cut = min_cut(net, [0, 1])
    assert cut.bound == 3
    (edge,) = cut.edges
    assert edge.kind == "copy" and edge.dim == 3 and "window {0,1,2,3}" in edge.description


def test_min_cuts_reuses_problem_and_matches_single():
    net = tc.deep((4, 4), 2, [2, 4], seed=0)
    parts = [tc.partitions.named(n, (4, 4)) for n in tc.partitions.NAMES_2D] + [[0], [3, 12]]
    batch = min_cuts(net, parts)
    assert prepare(net) is prepare(net)
    assert [c.bound for c in batch] == [min_cut(net, p, method="networkx").bound for p in parts]
    # every returned cut is a real cut of its reported cost (the reference's cost of its labelling)
    tn = net.to_tensor_network()
    assert all(labelling_cost(tn, c.part, c.tensor_sides()) == c.bound for c in batch)
    small = tc.deep((2, 4), 3, [2, 5], seed=0)  # 11 tensors: exhaustive reference
    sparts = [tc.partitions.named(n, (2, 4)) for n in tc.partitions.NAMES_2D] + [[0], [3, 4]]
    stn = small.to_tensor_network()
    assert [c.bound for c in min_cuts(small, sparts)] == [brute_min_cut(stn, p) for p in sparts]


# ---------------------------------------------------------------------------- general networks
def mps_tn(n, d, chi):
    return tc.TensorNetwork.from_einsum(*mps_einsum(n, d, chi))


def peps_tn(h, w, d, chi, arrays=False, seed=0):
    from opt_einsum import get_symbol

    sym = iter(get_symbol(k) for k in range(10_000))
    phys = {(r, c): next(sym) for r in range(h) for c in range(w)}
    bond = {}
    for r in range(h):
        for c in range(w):
            if c + 1 < w:
                bond[(r, c), (r, c + 1)] = next(sym)
            if r + 1 < h:
                bond[(r, c), (r + 1, c)] = next(sym)
    terms, shapes = [], []
    for r in range(h):
        for c in range(w):
            t, s = phys[r, c], [d]
            for (a, b), x in bond.items():
                if (r, c) in (a, b):
                    t, s = t + x, s + [chi]
            terms.append(t)
            shapes.append(s)
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s) for s in shapes] if arrays else None
    out = "".join(phys[r, c] for r in range(h) for c in range(w))
    return tc.TensorNetwork.from_einsum(",".join(terms) + "->" + out, shapes, arrays=arrs)


@pytest.mark.parametrize("n,d,chi", [(6, 2, 3), (8, 2, 4), (5, 3, 2)])
def test_mps_bound(n, d, chi):
    tn = mps_tn(n, d, chi)
    for k in range(1, n):
        cut = min_cut(tn, range(k))
        assert cut.bound == min(chi, d**k, d ** (n - k)), k
        assert cut.method == "tree"


@pytest.mark.parametrize(
    "h,w,d,chi,region,crossing",
    [
        (4, 4, 4, 2, [(0, 0), (0, 1), (1, 0), (1, 1)], 4),
        (3, 3, 4, 2, [(1, 1)], 4),
        (3, 3, 2, 2, [(1, 1)], 4),
        (4, 4, 3, 2, [(0, 0), (1, 0), (2, 0), (3, 0)], 4),
        (4, 4, 8, 2, [(0, 0), (0, 1)], 3),
    ],
)
def test_peps_region_bound(h, w, d, chi, region, crossing):
    tn = peps_tn(h, w, d, chi)
    part = [r * w + c for r, c in region]
    expect = min(chi**crossing, d ** len(part), d ** (h * w - len(part)))
    for method in ("auto", "networkx", "scipy"):
        cut = min_cut(tn, part, method=method)
        assert cut.bound == expect
        assert cut.method in ("scipy", "networkx")


@settings(deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_random_loopy_network_bound_at_least_dense_rank(seed):
    """Random small networks (cycles and hyperedges) from einsum: bound >= numerical rank, and all
    flow solvers agree."""
    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(2, 5))
    n_inner = int(rng.integers(1, 5))
    opens = "abcdef"[: int(rng.integers(2, 5))]
    inner = "pqrst"[:n_inner]
    terms = [set() for _ in range(n_t)]
    for x in opens + inner:
        k = int(rng.integers(1 if x in opens else 2, min(n_t, 3) + 1))
        for t in rng.choice(n_t, size=k, replace=False):
            terms[t].add(x)
    terms = ["".join(sorted(t)) or "z" for t in terms]
    dims = {x: int(rng.integers(1, 4)) for x in opens + inner + "z"}
    shapes = [[dims[x] for x in t] for t in terms]
    arrays = [rng.standard_normal(s) for s in shapes]
    eq = ",".join(terms) + "->" + opens
    tn = tc.TensorNetwork.from_einsum(eq, shapes, arrays=arrays)
    A = np.einsum(eq, *arrays)
    k = int(rng.integers(1, len(opens)))
    part = list(range(k))
    bounds = {m: min_cut(tn, part, method=m).bound for m in ("networkx", "scipy")}
    if prepare(tn).is_forest:
        bounds["tree"] = min_cut(tn, part, method="tree").bound
    assert len(set(bounds.values())) == 1, (eq, dims, bounds)
    assert bounds["networkx"] == brute_min_cut(tn, part), (eq, dims, bounds)
    rank = np.linalg.matrix_rank(matricize(A, part))
    assert bounds["networkx"] >= rank


def test_open_hyperindex_and_dimension_one_bond():
    # leg a sits on a copy tensor shared by two tensors: A[a,b,c] = X[a,b] Y[a,c]
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    tn = tc.TensorNetwork.from_einsum("ab,ac->abc", [(3, 2), (3, 2)], arrays=[X, Y])
    A = np.einsum("ab,ac->abc", X, Y)
    for part in ([0], [1], [2], [0, 1]):
        cut = min_cut(tn, part)
        assert cut.bound == np.linalg.matrix_rank(matricize(A, part)), part
    # a bond of dimension 1 costs nothing
    tn1 = tc.TensorNetwork.from_einsum("ab,bc->ac", [(4, 1), (1, 4)])
    cut = min_cut(tn1, [0])
    assert cut.bound == 1 and cut.edges == () and cut.log2_bound == 0.0


def test_non_power_dimensions_exact_product():
    net = tc.deep(8, 3, [2, 5, 7], seed=0)
    for part in (tc.partitions.odd_even(8), [0, 5], [1, 2, 3]):
        cuts = [min_cut(net, part, method=m) for m in ("tree", "networkx", "scipy")]
        assert {c.bound for c in cuts} == {brute_min_cut(net.to_tensor_network(), frozenset(part))}
        assert all(isinstance(c.bound, int) and math.prod(e.dim for e in c.edges) == c.bound for c in cuts)
    assert prepare(net).base is None


def test_common_base():
    assert common_base([2, 4, 8, 1]) == 2
    assert common_base([9, 27, 3]) == 3
    assert common_base([4, 6]) is None
    assert common_base([1, 1]) == 2
    assert common_base([64, 8]) == 2


def test_edges_name_the_bottleneck():
    net = tc.deep(8, 4, [4, 4, 2], seed=0)
    cut = min_cut(net, [0, 1, 2, 3])
    assert cut.bound == 2
    assert [e.description for e in cut.edges] in (
        ["copy tensor of window {0..7} (dim 2)"],
        ["copy tensor of window {0,1,2,3} (dim 2)"],
        ["copy tensor of window {4,5,6,7} (dim 2)"],
    )
    assert "min cut 2" in str(cut)
    assert cut.side  # tensor names on the I side


def test_quimb_network():
    qtn = pytest.importorskip("quimb.tensor")
    mps = qtn.MPS_rand_state(8, bond_dim=3, phys_dim=2, seed=0)
    tn = tc.TensorNetwork.from_quimb(mps, [mps.site_ind(i) for i in range(8)])
    assert [min_cut(tn, range(k)).bound for k in range(1, 8)] == [2, 3, 3, 3, 3, 3, 2]


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "part,match",
    [([], "empty"), (range(8), "all 8"), ([1, 1], "duplicated"), ([8], "out of range"), ([-1], "out of range")],
)
def test_bad_partitions(part, match):
    with pytest.raises(ValueError, match=match):
        min_cut(tc.deep(8, 2, 2), part)
    with pytest.raises(ValueError, match=match):
        min_cuts(tc.deep(8, 2, 2), [[0], part])


def test_bad_method_and_models():
    net = tc.deep(8, 2, 2)
    with pytest.raises(ValueError, match="'auto', 'tree', 'networkx', 'scipy'; got 'magic'"):
        min_cut(net, [0], method="magic")
    for bad in (None, 3, ["auto"]):
        with pytest.raises(ValueError, match="method must be one of"):
            min_cuts(net, [[0]], method=bad)
    with pytest.raises(ValueError, match="cycle"):
        min_cut(peps_tn(2, 2, 2, 2), [0], method="tree")
    with pytest.raises(ValueError, match="flow_func"):
        min_cut(net, [0], method="scipy", flow_func=nx.algorithms.flow.edmonds_karp)
    with pytest.raises((TypeError, ValueError), match=r"to_tensor_network|product"):
        min_cut(tc.ConvNet(tc.ModeTree.balanced(4), 2, 2, g="relu_max"), [0])
    with pytest.raises(TypeError, match="partition"):
        min_cut(net, 3)


@pytest.mark.parametrize(
    "flow", ["boykov_kolmogorov", "preflow_push", "edmonds_karp", "shortest_augmenting_path", "dinitz"]
)
def test_every_networkx_flow_function(flow):
    func = getattr(nx.algorithms.flow, flow)
    tn = peps_tn(3, 4, 2, 2)
    parts = [[0, 1, 4, 5], [5, 6], [0, 11]]
    got = [c.bound for c in min_cuts(tn, parts, flow_func=func)]
    assert got == [c.bound for c in min_cuts(tn, parts, method="scipy")]
    assert got == [brute_min_cut(tn, frozenset(p)) for p in parts]


def test_cut_problem_is_cached_per_network():
    tn = mps_tn(5, 2, 2)
    assert isinstance(prepare(tn), CutProblem) and prepare(tn) is prepare(tn)
    assert min_cut(prepare(tn), [0, 1]).bound == 2


# ---------------------------------------------------------------------------- CLI and pictures
def _cli(argv, capsys):
    import argparse

    from tnconv.cli.mincut import register_cli

    ap = argparse.ArgumentParser(prog="tnconv")
    register_cli(ap.add_subparsers())
    args = ap.parse_args(argv)
    rc = args.func(args)
    return rc, capsys.readouterr()


def test_cli_json_and_table(capsys, tmp_path):
    import json

    f = tmp_path / "parts.txt"
    f.write_text("# comment\nodd_even\n0,1,2,3\n")
    rc, out = _cli(["mincut", "--inputs", "16", "--widths", "2", "--descriptors", "2", "left_right", f"@{f}",
                    "--json"], capsys)
    assert rc == 0
    data = json.loads(out.out)
    rows = {r["partition"]: r for r in data["partitions"]}
    assert rows["odd_even"]["bound"] == 2**8 and rows["odd_even"]["log2_bound"] == 8.0
    assert rows["left_right"]["bound"] == 2 and rows["left_right"]["numerical_rank"] == 2
    assert rows["odd_even"]["generic_rank"] == 2**8  # exact over GF(p): the bound is attained
    assert rows["0,1,2,3"]["cut"][0]["kind"] == "copy"
    rc, out = _cli(["mincut", "--inputs", "4x4", "--widths", "2,2", "--descriptors", "2"], capsys)
    assert rc == 0 and "checkerboard" in out.out and "copy tensor of window" in out.out


@pytest.mark.parametrize("bad", ["0,0", "nonsense", "@/nonexistent/file", "0,x", "99"])
def test_cli_bad_partitions(capsys, bad):
    rc, out = _cli(["mincut", "--inputs", "8", "--widths", "2", bad], capsys)
    assert rc == 2 and "error" in out.err


def test_drawing():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    cut = min_cut(tc.deep(8, 2, 2, seed=0), [0, 2])
    ax = cut.draw()
    assert ax.get_title() == "min cut 4 = 2^2"
    assert min_cut(peps_tn(2, 3, 2, 2), [0, 1]).draw(layout="spring") is not None
    with pytest.raises(ValueError, match="layout"):
        cut.draw(layout="circle")
    with pytest.raises(ValueError, match="duplicated"):
        tc.plot_partition([0, 0], (2, 2))
    with pytest.raises(ValueError, match="shape"):
        tc.plot_partition([0], (4,))
    import matplotlib.pyplot as plt

    plt.close("all")


def test_repr_is_short_for_huge_bounds():
    cut = min_cut(tc.deep(1024, 2, 2, seed=0), tc.partitions.odd_even(1024))
    assert cut.bound == 2**512 and cut.log2_bound == 512.0
    assert "2^512" in repr(cut) and len(repr(cut)) < 120
