"""Min cuts against an exhaustive reference written here, exactness on near-ties, huge dimensions,
thread safety, the generic-rank claim (both sides), and bad input.

The reference knows nothing of tnconv's solvers: it reads a network's index lists, tries every
assignment of the tensors to the two sides (open legs fixed by the partition), and charges each index
whose carriers (tensors, and its open leg) straddle the cut its dimension ONCE, whether it joins two
carriers (a bond) or more (a copy tensor, a hyperedge); the cost is the exact integer product.
"""

from __future__ import annotations

import math
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opt_einsum import get_symbol

import tnconv as tc
from tnconv.mincut import min_cut, min_cuts, prepare
from tnconv.mincut.flow import common_base, integer_root

METHODS = ("auto", "tree", "networkx", "scipy")


# ---------------------------------------------------------------------------- the reference
def _carriers(tn):
    """[(dim, tensor positions, open-leg position or None)] for every index of dimension > 1."""
    members: dict = {}
    for k, ix in enumerate(tn.inds):
        for i in ix:
            members.setdefault(i, set()).add(k)
    opens = {i: p for p, i in enumerate(tn.open_inds)}
    return [(int(tn.size_dict[i]), sorted(ms), opens.get(i)) for i, ms in members.items() if tn.size_dict[i] > 1]


def labelling_cost(tn, part, tensor_sides) -> int:
    """Exact cost of one assignment of tensors to sides (True = the side of ``part``)."""
    cost = 1
    for d, ts, p in _carriers(tn):
        sides = {bool(tensor_sides[t]) for t in ts} | ({p in part} if p is not None else set())
        if len(sides) == 2:
            cost *= d
    return cost


def brute_min_cut(tn, part) -> int:
    """Minimum over all 2**T assignments of the tensors (vectorized over assignments)."""
    T = tn.n_tensors
    assert T <= 16, "the reference is exhaustive: small networks only"
    labels = ((np.arange(2**T)[:, None] >> np.arange(T)) & 1).astype(bool)  # (2**T, T)
    cost = np.ones(2**T, dtype=object)
    for d, ts, p in _carriers(tn):
        cols = labels[:, ts]
        if p is not None:
            cols = np.concatenate([cols, np.full((2**T, 1), p in part)], axis=1)
        straddle = cols.any(axis=1) & ~cols.all(axis=1)
        cost[straddle] *= d
    return int(cost.min())


def is_forest(tn) -> bool:
    """Forest test on the graph of tensors, open legs and hyperedge hubs (parallel bonds merged)."""
    G = nx.Graph()
    G.add_nodes_from(("t", k) for k in range(tn.n_tensors))
    for j, (_, ts, p) in enumerate(_carriers(tn)):
        ends = [("t", t) for t in ts] + ([("o", p)] if p is not None else [])
        if len(ends) == 2:
            G.add_edge(*ends)
        elif len(ends) > 2:
            G.add_edges_from((("h", j), e) for e in ends)
    return nx.is_forest(G)


def check_all_methods(tn, parts):
    """Every applicable method, single and batched, gives the brute-force minimum, and its cut is a
    real cut of exactly that cost whose listed dimensions multiply to the bound."""
    expect = [brute_min_cut(tn, p) for p in parts]
    forest = is_forest(tn)
    assert prepare(tn).is_forest == forest
    for method in METHODS:
        if method == "tree" and not forest:
            with pytest.raises(ValueError, match="cycle"):
                min_cut(tn, parts[0], method=method)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy -> networkx when int32 cannot be exact
            batch = min_cuts(tn, parts, method=method)
            single = [min_cut(tn, p, method=method) for p in parts]
        for cut, want, part in zip(batch + single, expect + expect, parts + parts):
            assert cut.bound == want, (method, sorted(part), cut.bound, want)
            assert isinstance(cut.bound, int)
            assert labelling_cost(tn, part, cut.tensor_sides()) == want
            assert math.prod(e.dim for e in cut.edges) == want
            assert cut.log2_bound == pytest.approx(math.log2(want), abs=1e-12)


# ---------------------------------------------------------------------------- strategies
DIM_FAMILIES = {
    "small": [1, 2, 3, 4, 5, 6],
    "base2": [1, 2, 4, 8],
    "base3": [1, 3, 9, 27],
    "base6": [6, 36],
    # near-ties: 999 * 1001 = 10**6 - 1, so products differ by 1 in 10**6
    "near_ties": [999, 1000, 1001, 10**6],
    # the same at 10**18: below float64's resolution of log2 (an exact comparison is needed)
    "near_ties_big": [10**9 - 1, 10**9 + 1, 10**18],
}


@st.composite
def networks(draw, max_tensors=7):
    T = draw(st.integers(1, max_tensors))
    dims = DIM_FAMILIES[draw(st.sampled_from(sorted(DIM_FAMILIES)))]
    n_open = draw(st.integers(2, 5))
    n_inner = draw(st.integers(0 if T == 1 else 1, 8)) if T > 1 else 0
    sym = iter(get_symbol(k) for k in range(100))
    terms: list[list[str]] = [[] for _ in range(T)]
    size: dict[str, int] = {}
    out = []
    for _ in range(n_open):
        x = next(sym)
        out.append(x)
        size[x] = draw(st.sampled_from(dims))
        # an open leg on several tensors is a copy tensor with an open leg
        for t in draw(st.lists(st.integers(0, T - 1), min_size=1, max_size=min(T, 3), unique=True)):
            terms[t].append(x)
    for _ in range(n_inner):
        x = next(sym)
        size[x] = draw(st.sampled_from(dims))
        for t in draw(st.lists(st.integers(0, T - 1), min_size=2, max_size=min(T, 4), unique=True)):
            terms[t].append(x)
    terms = [t for t in terms if t]
    eq = ",".join("".join(t) for t in terms) + "->" + "".join(out)
    tn = tc.TensorNetwork.from_einsum(eq, [[size[x] for x in t] for t in terms])
    parts = draw(st.lists(st.sets(st.integers(0, n_open - 1), min_size=1, max_size=n_open - 1),
                          min_size=1, max_size=4))
    return tn, [frozenset(p) for p in parts]


@st.composite
def convacs(draw):
    dims = DIM_FAMILIES[draw(st.sampled_from(["small", "base2", "base3"]))]
    wide = [d for d in dims if d > 1][:3]
    n = draw(st.integers(2, 6))
    tree = tc.ModeTree.random(n, arity=(2, 4), seed=draw(st.integers(0, 2**31 - 1)))
    M = draw(st.sampled_from(wide))
    widths = {}
    for v in tree.internal_nodes:  # the children of one window share its width (channel-wise pooling)
        w = draw(st.sampled_from(dims))
        widths.update(dict.fromkeys(tree.children(v), w))
    model = tc.ConvAC(tree, M, widths, seed=0)
    parts = draw(st.lists(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1), min_size=1, max_size=4))
    return model, [frozenset(p) for p in parts]


# ---------------------------------------------------------------------------- against brute force
@settings(deadline=None)
@given(networks())
def test_random_networks_every_method_matches_brute_force(case):
    tn, parts = case
    check_all_methods(tn, parts)


@settings(deadline=None)
@given(convacs())
def test_convac_networks_every_method_matches_brute_force(case):
    model, parts = case
    tn = model.to_tensor_network()
    check_all_methods(tn, parts)
    # the model path (compiled and cached per model) gives the same exact minima
    assert [c.bound for c in min_cuts(model, parts)] == [brute_min_cut(tn, p) for p in parts]


def test_reference_charges_a_copy_tensor_once():
    """The reference itself: a 4-leg copy tensor of dim 3 split 2/2 costs 3, not 9."""
    tn = tc.TensorNetwork.from_einsum("ax,bx,cx,dx->abcd", [(4, 3)] * 4)
    assert brute_min_cut(tn, {0, 1}) == 3
    assert labelling_cost(tn, {0, 1}, [True, True, False, False]) == 3
    assert labelling_cost(tn, {0, 1}, [True, True, True, True]) == 16  # the two open legs c, d


# ---------------------------------------------------------------------------- issue 10 regressions
def ring_with_tail(n_tail=100, a=10**6, b=10**6 + 1, n_open=3):
    """A ring of 4 tensors (bonds of dim b) with a chain of ``n_tail`` tensors hanging off it (links of
    two parallel bonds of dim a); ``n_open`` open legs of dim a on the ring and on the chain's end.
    Min cut between them: one chain link, a*a; cutting the ring costs b*b (a near-tie)."""
    sym = iter(get_symbol(k) for k in range(100_000))
    size = {}
    ring = [next(sym) for _ in range(4)]
    size.update(dict.fromkeys(ring, b))
    oc, ot = [next(sym) for _ in range(n_open)], [next(sym) for _ in range(n_open)]
    tail = [[next(sym), next(sym)] for _ in range(n_tail)]
    size.update(dict.fromkeys(oc + ot + [x for link in tail for x in link], a))
    terms = [ring[3] + ring[0] + "".join(tail[0]), ring[0] + ring[1], ring[1] + ring[2] + "".join(oc),
             ring[2] + ring[3]]
    for k in range(n_tail):
        terms.append("".join(tail[k]) + "".join(tail[k + 1] if k + 1 < n_tail else ot))
    eq = ",".join(terms) + "->" + "".join(oc + ot)
    return tc.TensorNetwork.from_einsum(eq, [[size[x] for x in t] for t in terms])


@pytest.mark.parametrize("a", [10**6, 10**9, 10**15])
@pytest.mark.parametrize("n_tail", [92, 100, 10])
def test_ring_with_tail_near_tie_is_exact(a, n_tail):
    """Issue 10: auto (scipy, int32 log capacities) gave 1000002000001 instead of 10**12; a 2**40
    fixed-point scale (the old networkx capacities) fails the same way at a = 10**15."""
    tn = ring_with_tail(n_tail, a=a, b=a + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for method in ("auto", "networkx", "scipy"):
            for part in ([0, 1, 2], [3, 4, 5]):
                cut = min_cut(tn, part, method=method)
                assert cut.bound == a * a, (method, part, cut.bound)


def test_ring_with_tail_mixed_open_legs():
    """The same near-tie shape, small enough for the reference, with partitions mixing ring and chain
    legs."""
    tn = ring_with_tail(3, a=10**6, b=10**6 + 1, n_open=2)
    check_all_methods(tn, [frozenset({0, 2}), frozenset({0, 1}), frozenset({1})])


def test_explicit_scipy_that_cannot_be_exact_warns_and_uses_networkx():
    tn = ring_with_tail(10)
    with pytest.warns(RuntimeWarning, match="int32"):
        cut = min_cut(tn, [0, 1, 2], method="scipy")
    assert cut.method == "networkx" and cut.bound == 10**12


def test_chain_of_near_tie_bonds_tree_dp_is_exact():
    """A chain (a forest: the tree DP) whose k-th link is the parallel pair (a - p_k, a + p_k), product
    a*a - p_k**2: the min cut is the link with the largest p_k. With a = 10**9 the products differ by
    less than float64 resolves in log2, so the DP must compare exact integers."""
    a = 10**9
    rng = np.random.default_rng(0)
    offs = rng.permutation(np.arange(1, 61)).tolist()
    sym = iter(get_symbol(k) for k in range(10_000))
    links = [(next(sym), next(sym)) for _ in offs]
    size = {}
    for (x, y), p in zip(links, offs):
        size[x], size[y] = a - p, a + p
    o1, o2 = next(sym), next(sym)
    size[o1] = size[o2] = a * a  # open legs dearer than any link
    terms = [o1 + "".join(links[0])]
    terms += ["".join(links[k]) + "".join(links[k + 1]) for k in range(len(links) - 1)]
    terms += ["".join(links[-1]) + o2]
    tn = tc.TensorNetwork.from_einsum(",".join(terms) + "->" + o1 + o2, [[size[x] for x in t] for t in terms])
    expect = a * a - max(offs) ** 2
    for method in METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cut = min_cut(tn, [0], method=method)
        assert cut.bound == expect, (method, cut.bound - expect)
        assert sorted(e.dim for e in cut.edges) == [a - max(offs), a + max(offs)]


def test_parallel_bonds_beyond_float_range():
    """Issue 10: merged parallel bonds over 2**1024 raised OverflowError (a float root)."""
    n = 400
    inds = "".join(get_symbol(k) for k in range(n))
    o1, o2 = get_symbol(n), get_symbol(n + 1)
    for d in (1000, 1024, 3):
        tn = tc.TensorNetwork.from_einsum(f"{o1}{inds},{inds}{o2}->{o1}{o2}", [[2] + [d] * n, [d] * n + [3]])
        for method in ("auto", "tree", "networkx", "scipy"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                assert min_cut(tn, [0], method=method).bound == 2
        # the bond alone: the open legs (n + 1 of dimension d on each side, as no axis may exceed
        # 2**63 - 1) are too dear to cut
        left = "".join(get_symbol(k) for k in range(n + 2, 2 * n + 3))
        right = "".join(get_symbol(k) for k in range(2 * n + 3, 3 * n + 4))
        tn = tc.TensorNetwork.from_einsum(f"{left}{inds},{inds}{right}->{left}{right}",
                                          [[d] * (2 * n + 1), [d] * (2 * n + 1)])
        for method in ("auto", "networkx"):
            cut = min_cut(tn, range(n + 1), method=method)
            assert cut.bound == d**n and cut.log2_bound == pytest.approx(n * math.log2(d))


def test_common_base_and_roots_are_exact_for_huge_integers():
    assert common_base([2**1100, 8]) == 2
    assert common_base([3**700, 9**350, 27]) == 3
    assert common_base([2**1100, 2**1100 + 1]) is None
    assert common_base([10**400, 100]) == 10
    for d, k in [(10**300, 7), (2**5000 - 1, 13), (12345**77, 77)]:
        r = integer_root(d, k)
        assert r**k <= d < (r + 1) ** k


# ---------------------------------------------------------------------------- thread safety
def _hammer(target, parts, methods, serial, workers=8, rounds=6):
    """Many concurrent min_cut calls; a short GIL switch interval makes threads interleave inside one
    flow solve (with the default 5 ms a small solve rarely gets preempted)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        _hammer_inner(target, parts, methods, serial, workers, rounds)
    finally:
        sys.setswitchinterval(old)


def _hammer_inner(target, parts, methods, serial, workers, rounds):
    barrier = threading.Barrier(workers)

    def job(k):
        if k < workers:
            barrier.wait()  # start together: lazily built solvers race too
        m = methods[k % len(methods)]
        p = parts[k % len(parts)]
        return m, p, min_cut(target, p, method=m).bound

    with ThreadPoolExecutor(workers) as ex:
        results = list(ex.map(job, range(workers * rounds * len(methods))))
    for m, p, b in results:
        assert b == serial[p], (m, sorted(p), b, serial[p])


def grid_network(h, w, d, chi):
    """A PEPS-like h x w grid: one open leg of dim d per site, bonds of dim chi (cycles)."""
    sym = iter(get_symbol(k) for k in range(10_000))
    phys = {(r, c): next(sym) for r in range(h) for c in range(w)}
    terms = {rc: phys[rc] for rc in phys}
    size = dict.fromkeys(phys.values(), d)
    for r in range(h):
        for c in range(w):
            for rc2 in ((r, c + 1), (r + 1, c)):
                if rc2 in phys:
                    x = next(sym)
                    size[x] = chi
                    terms[(r, c)] += x
                    terms[rc2] += x
    ts = [terms[rc] for rc in phys]
    return tc.TensorNetwork.from_einsum(",".join(ts) + "->" + "".join(phys.values()),
                                        [[size[x] for x in t] for t in ts])


@pytest.mark.parametrize("dims", [(2, 2), (3, 2), (5, 6)])
def test_concurrent_min_cuts_on_one_network(dims):
    """Issue 10: networkx from two threads on one network raised 'a cut puts open leg N on the wrong
    side' in 7-11% of calls (the cached residual network had no lock). A fresh network, so the caches
    are built under contention too; every answer must equal the serial one (checked on a fresh copy)."""
    d, chi = dims
    parts = [frozenset(p) for p in ([0, 1, 4, 5], [5, 6], [0, 11], [1, 2, 3, 7], [4, 8, 9])]
    serial_tn = grid_network(3, 4, d, chi)
    serial = {p: min_cut(serial_tn, p, method="networkx").bound for p in parts}
    # independent check of the serial answers on this small grid
    assert all(serial[p] == brute_min_cut(serial_tn, p) for p in parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _hammer(grid_network(3, 4, d, chi), parts, ["networkx", "scipy", "auto", "networkx"], serial)


def test_concurrent_min_cuts_on_one_model():
    model = tc.deep((4, 4), 3, [5, 2], seed=0)
    parts = [frozenset(tc.partitions.named(n, (4, 4))) for n in tc.partitions.NAMES_2D]
    parts += [frozenset({0}), frozenset({3, 12, 5})]
    tn = tc.deep((4, 4), 3, [5, 2], seed=0).to_tensor_network()
    serial = {p: min_cut(tn, p, method="networkx").bound for p in parts}
    _hammer(model, parts, ["tree", "networkx", "scipy", "auto"], serial)
    # and a batched call racing with single ones
    with ThreadPoolExecutor(4) as ex:
        old = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        try:
            batches = list(ex.map(lambda _: [c.bound for c in min_cuts(model, parts, method="networkx")],
                                  range(8)))
        finally:
            sys.setswitchinterval(old)
    assert all(b == [serial[p] for p in parts] for b in batches)


def test_prepare_under_contention_returns_one_problem():
    tn = grid_network(2, 3, 2, 2)
    with ThreadPoolExecutor(8) as ex:
        probs = list(ex.map(lambda _: prepare(tn), range(32)))
    assert all(p is probs[0] for p in probs)


# ---------------------------------------------------------------------------- the generic-rank claim
def _rank_mod_p(M, p=2**31 - 1):
    """Rank over GF(p) by Gaussian elimination (Python ints: no overflow)."""
    rows = [[int(x) % p for x in r] for r in M]
    rank = 0
    for c in range(len(rows[0]) if rows else 0):
        piv = next((r for r in range(rank, len(rows)) if rows[r][c]), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        inv = pow(rows[rank][c], p - 2, p)
        rows[rank] = [x * inv % p for x in rows[rank]]
        for r in range(len(rows)):
            if r != rank and rows[r][c]:
                f = rows[r][c]
                rows[r] = [(x - f * y) % p for x, y in zip(rows[r], rows[rank])]
        rank += 1
    return rank


@pytest.mark.parametrize(
    "nested,M,w,part",
    [
        (((2, 1, 0), 4, 3), 2, 4, [0, 2]),
        (((0, 1), (2, 3)), 2, 2, [0, 2]),
        (((0, 1), (2, 3), (4, 5)), 2, 4, [0, 2, 4]),
        ((((0, 1), 2), (3, 4)), 3, 3, [1, 3]),
        (((0, 1, 2), (3, 4, 5)), 2, 8, [0, 3]),
    ],
)
def test_unshared_generic_weights_attain_the_bound(nested, M, w, part):
    """Powers of one integer, independent weights: generic rank == min cut (both tnconv's GF(p) rank
    and a dense float rank of a random model, which can only be lower, reach the bound)."""
    tree = tc.ModeTree.from_nested(nested)
    model = tc.ConvAC(tree, M, w, seed=3)
    bound = min_cut(model, part).bound
    assert tc.generic_schmidt_rank(model, part) == bound
    A = model.coefficient_tensor()
    assert np.linalg.matrix_rank(tc.matricize(A, part)) == bound


def test_shared_weights_fall_below_the_bound():
    """Issue 10 section 4: with shared weights the window (2, 1, 0) is symmetric in its inputs, so the
    rows (d0, d2) = (0, 1) and (1, 0) of the matricization across {0, 2} coincide: rank <= 3 < 4."""
    tree = tc.ModeTree.from_nested(((2, 1, 0), 4, 3))
    model = tc.ConvAC(tree, 2, 4, shared=True, seed=0)
    part = [0, 2]
    assert min_cut(model, part).bound == 4
    assert tc.generic_schmidt_rank(model, part) == 3
    for seed in range(3):
        A = tc.ConvAC(tree, 2, 4, shared=True, seed=seed).coefficient_tensor()
        Amat = np.moveaxis(A, [0, 2], [0, 1]).reshape(4, -1)  # rows (d0, d2) in C order
        np.testing.assert_allclose(Amat[1], Amat[2], rtol=1e-12, atol=1e-15)
        s = np.linalg.svd(Amat, compute_uv=False)
        assert s[3] < 1e-12 * s[0] and s[2] > 1e-6 * s[0]
    # integer shared weights, exact rank mod a prime: 3 as well
    int_model = tc.ConvAC(tree, 2, 4, shared=True, seed=0)
    rng = np.random.default_rng(5)
    fresh: dict = {}  # shared weights are one array per level: keep them shared
    for key, W in int_model.weights.items():
        if id(W) not in fresh:
            fresh[id(W)] = rng.integers(1, 50, size=np.shape(W)).astype(np.float64)
        int_model.weights[key] = fresh[id(W)]
    A = int_model.coefficient_tensor()
    assert np.abs(A).max() < 2**50  # integer products: exact in float64
    Aint = np.rint(A).astype(np.int64).astype(object)
    assert _rank_mod_p(np.moveaxis(Aint, [0, 2], [0, 1]).reshape(4, -1)) == 3


# ---------------------------------------------------------------------------- bad input
class _StubNetwork:
    """The few attributes CutProblem reads, with whatever dimensions a test wants."""

    def __init__(self, dims):
        self.inds = [("a", "b"), ("b", "c")]
        self.size_dict = {"a": 2, "b": dims, "c": 2}
        self.open_inds = ("a", "c")
        self.n_tensors = 2

    def index_members(self):
        return {"a": [0], "b": [0, 1], "c": [1]}


@pytest.mark.parametrize("bad", [-3, 0, 3.5, True, "4", None])
def test_cut_problem_refuses_non_positive_or_non_integer_dims(bad):
    from tnconv.mincut import CutProblem

    with pytest.raises(ValueError, match=r"index 'b' has dimension"):
        CutProblem(_StubNetwork(bad))


@pytest.mark.parametrize("bad", [-3, 0])
def test_bad_einsum_dims_never_give_a_cut(bad):
    """Issue 10: dims -3, 3.5 and 0 were accepted and the cut reported bound 1. Whether from_einsum or
    the cut refuses them, the user gets a ValueError and never a bound. (3.5 is from_einsum's to refuse:
    it reaches the network as 3; CutProblem's own refusal of 3.5 is tested on a stub above.)"""
    with pytest.raises(ValueError, match=r"dim|size|shape"):
        tn = tc.TensorNetwork.from_einsum("ab,bc->ac", [(2, bad), (bad, 2)])
        min_cut(tn, [0])


def test_numpy_integer_dims_are_fine():
    tn = tc.TensorNetwork.from_einsum("ab,bc->ac", [(np.int64(2), np.int64(3)), (np.int64(3), np.int64(2))])
    assert min_cut(tn, [0]).bound == 2


def test_partition_given_as_a_name():
    net = tc.deep(8, 2, 2)
    # names resolve for the model's geometry (API.md, Partitions)
    assert min_cut(net, "odd_even").part == frozenset({1, 3, 5, 7})
    assert [c.part for c in min_cuts(net, ["left_right", [0]])] == [frozenset(range(4)), frozenset({0})]


@pytest.mark.parametrize("part, exc, match", [
    ("0", ValueError, r"'0' is not a partition name"),
    ("odd", ValueError, r"'odd' is not a partition name.*unknown partition name"),
    (b"01", TypeError, "got the string b'01'"),
])
def test_partition_given_as_a_bad_string(part, exc, match):
    net = tc.deep(8, 2, 2)
    with pytest.raises(exc, match=match):
        min_cut(net, part)
    with pytest.raises(exc, match=match):
        min_cuts(net, [[0], part])
    with pytest.raises(TypeError, match="parts must be an iterable of partitions"):
        min_cuts(net, "odd_even")


def test_partition_given_as_a_dict():
    net = tc.deep(8, 2, 2)
    with pytest.raises(TypeError, match=r"got a dict.*min_cuts"):
        min_cut(net, {0: True, 1: False})
    with pytest.raises(TypeError, match="got a dict"):
        min_cuts(net, [{0: 1}])
    # a dict of partitions is the documented min_cuts form (API.md): a dict of cuts back
    got = min_cuts(net, {"oe": tc.partitions.odd_even(8), "lr": tc.partitions.left_right(8)})
    assert list(got) == ["oe", "lr"] and [c.bound for c in got.values()] == [16, 2]


def test_unknown_keywords_and_bad_options_are_refused():
    net = tc.deep(8, 2, 2)
    with pytest.raises(TypeError, match="max_cutdim"):
        min_cut(net, [0], max_cutdim=3)
    with pytest.raises(TypeError, match="normalise"):
        min_cuts(net, [[0]], normalise=True)
    with pytest.raises(TypeError, match="output must be an int"):
        min_cut(net, [0], output=True)
    with pytest.raises(TypeError, match="output must be an int"):
        min_cut(net, [0], output=0.0)
    tn = net.to_tensor_network()
    with pytest.raises(ValueError, match="output=1 applies to models"):
        min_cut(tn, [0], output=1)
    with pytest.raises(TypeError, match="flow_func must be"):
        min_cut(tn, [0], flow_func="boykov_kolmogorov")
    with pytest.raises(ValueError, match="'auto', 'tree', 'networkx', 'scipy'; got 'Auto'"):
        min_cut(tn, [0], method="Auto")


def _main(argv, capsys):
    from tnconv.cli import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse refuses the value
        rc = exc.code
    return rc, capsys.readouterr()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--max-cut-dim", "-1"], "--max-cut-dim: must be an int >= 1, got '-1'"),
        (["--show", "-1"], "--show: must be an int >= 0, got '-1'"),
        (["--show", "two"], "--show: the value must be an integer, got 'two'"),
        (["--descriptors", "0"], "--descriptors: must be an int >= 1, got '0'"),
        (["--widths", "4,x"], "--widths: width 'x' in '4,x' must be an integer"),
        (["--widths", "4,-2"], "--widths: widths must be positive, got -2"),
        (["--inputs", "-8"], "--inputs: must be N or HxW"),
        (["--inputs", "4x0"], "--inputs: sizes must be positive, got '4x0'"),
        (["random:x"], "partition name 'random:x': the size K must be an integer, got 'x'"),
        (["block_interleaved:1.5"], "L must be an integer, got '1.5'"),
    ],
)
def test_cli_bad_values_name_the_option_and_value(argv, needle, capsys):
    rc, out = _main(["mincut", "--inputs", "8", "--widths", "2", *argv] if "--inputs" not in argv
                    else ["mincut", *argv], capsys)
    assert rc not in (0, None)
    assert needle in out.err, out.err
    assert "invalid literal for int()" not in out.err


def test_cli_too_many_inputs_says_why(capsys):
    """Issue 10: ``tnconv mincut --inputs 1073741824`` printed an empty 'error:'."""
    rc, out = _main(["mincut", "--inputs", "1073741824"], capsys)
    assert rc == 2
    assert "1073741824 inputs" in out.err and "budget" in out.err
    rc, out = _main(["bench", "paths", "--inputs", "1073741824"], capsys)  # the shared model options
    assert rc == 2 and "1073741824 inputs" in out.err


def test_cli_footer_qualifies_the_rank_claim(capsys):
    rc, out = _main(["mincut", "--inputs", "8", "--widths", "2", "--descriptors", "2", "odd_even"], capsys)
    assert rc == 0
    assert "unshared" in out.out and "shared weights can fall below" in out.out


@pytest.mark.parametrize("max_components", [0, 10**6])
def test_tree_solver_rooting_paths_agree_with_a_closed_form(monkeypatch, max_components):
    """Both rootings of the tree DP (numpy level-synchronous BFS; the Python BFS for many components) on a
    forest of 18 two-site chains with bonds of dimension 3 and legs of 2 or 4: a chain with one leg on each side costs
    min(3, its smaller leg), the others nothing."""
    import string

    import tnconv.mincut.tree as tree_mod

    monkeypatch.setattr(tree_mod, "_VECTOR_MAX_COMPONENTS", max_components)
    letters = iter(string.ascii_letters + string.digits + "αβγδεζηθικλμνξπρστυφχψω")
    terms, outs, shapes, legs = [], [], [], []
    rng = np.random.default_rng(0)
    for _ in range(18):
        a, b, c = next(letters), next(letters), next(letters)
        da, dc = (int(x) for x in rng.choice([2, 4], size=2))
        terms += [a + b, b + c]
        outs += [a, c]
        shapes += [(da, 3), (3, dc)]
        legs += [da, dc]
    tn = tc.TensorNetwork.from_einsum(",".join(terms) + "->" + "".join(outs), shapes)
    for seed in range(5):
        part = tc.partitions.random(36, 18, seed=seed)
        want = math.prod(min(3, legs[2 * k], legs[2 * k + 1]) for k in range(18)
                         if (2 * k in part) != (2 * k + 1 in part))
        assert min_cut(tn, part, method="tree").bound == want


@st.composite
def ab_queries(draw):
    tn, _ = draw(networks())
    P = len(tn.open_inds)
    legs = draw(st.permutations(range(P)))
    na = draw(st.integers(1, P - 1))
    nb = draw(st.integers(1, P - na))
    return tn, frozenset(legs[:na]), frozenset(legs[na : na + nb])


@settings(deadline=None)
@given(ab_queries())
def test_ab_cuts_match_the_exhaustive_minimum_over_free_legs(case):
    """A|B cuts (other legs free) on random networks (hyperedges, near-tied dimensions): every method
    returns the minimum over all ways to add the free legs to A of the exhaustive ordinary min cut, and
    its labelling (free legs where it puts them) costs exactly that."""
    tn, a, b = case
    free = sorted(set(range(len(tn.open_inds))) - a - b)
    want = min(brute_min_cut(tn, a | {f for k, f in enumerate(free) if mask >> k & 1})
               for mask in range(2 ** len(free)))
    for method in METHODS:
        if method == "tree" and not is_forest(tn):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cut = min_cut(tn, (a, b), method=method)
        assert cut.bound == want, (method, sorted(a), sorted(b))
        assert a <= cut.open_side and not cut.open_side & b
        assert labelling_cost(tn, cut.open_side, cut.tensor_sides()) == want
        assert math.prod(e.dim for e in cut.edges) == want
