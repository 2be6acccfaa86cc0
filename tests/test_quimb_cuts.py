"""quimb networks without friction, and A|B cuts (two site sets, the other legs free).

References are independent of tnconv's solvers: exhaustive minimization over tensor labellings (and over
the free legs), networkx max flow on a graph built here, dense tensors with numpy SVDs.
"""

from __future__ import annotations

import itertools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import networkx as nx
import numpy as np
import pytest
from test_mincut_exact import brute_min_cut

import tnconv as tc
from tnconv.measures import network_spectrum
from tnconv.mincut import min_cut, min_cuts

qtn = pytest.importorskip("quimb.tensor")
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")


def dense(tn):
    return tn.contract()


# ---------------------------------------------------------------------------- from_quimb
def test_from_quimb_defaults_to_outer_indices_in_site_order():
    mps = qtn.MPS_rand_state(5, bond_dim=3, seed=0)
    tn = tc.TensorNetwork.from_quimb(mps)
    assert tn.open_inds == ("k0", "k1", "k2", "k3", "k4")
    want = mps.to_dense(["k0", "k1", "k2", "k3", "k4"]).reshape((2,) * 5)
    np.testing.assert_allclose(dense(tn), want, atol=1e-12)
    peps = qtn.PEPS.rand(2, 3, bond_dim=2, seed=1)
    assert tc.TensorNetwork.from_quimb(peps).open_inds == tuple(peps.site_ind(i, j) for i in range(2) for j in range(3))


def test_from_quimb_never_sums_silently():
    mps = qtn.MPS_rand_state(4, bond_dim=2, seed=0)
    with pytest.raises(ValueError, match=r"\['k2', 'k3'\] are neither open nor summed.*sum_inds"):
        tc.TensorNetwork.from_quimb(mps, ["k0", "k1"])
    tn = tc.TensorNetwork.from_quimb(mps, ["k0", "k1"], sum_inds=["k2", "k3"])
    full = mps.to_dense(["k0", "k1", "k2", "k3"]).reshape(2, 2, 2, 2)
    np.testing.assert_allclose(dense(tn), full.sum(axis=(2, 3)), atol=1e-12)
    assert tc.TensorNetwork.from_quimb(mps, sum_inds=["k3"]).open_inds == ("k0", "k1", "k2")
    with pytest.raises(ValueError, match="both in open_inds and in sum_inds"):
        tc.TensorNetwork.from_quimb(mps, ["k0", "k1", "k2"], sum_inds=["k2", "k3"])
    with pytest.raises(ValueError, match=r"sum_inds \['nope'\] are not outer"):
        tc.TensorNetwork.from_quimb(mps, sum_inds=["nope"])


def test_min_cut_takes_quimb_networks_index_names_and_tags():
    mps = qtn.MPS_rand_state(8, bond_dim=3, seed=0)
    tn = tc.TensorNetwork.from_quimb(mps)
    by_pos = min_cut(tn, [0, 1, 2]).bound
    assert by_pos == 3  # one bond of dimension 3 between sites 2 and 3
    assert min_cut(mps, [0, 1, 2]).bound == by_pos
    assert min_cut(mps, ["k0", "k1", "k2"]).bound == by_pos
    assert min_cut(tn, ["I0", "I1", "I2"]).bound == by_pos  # quimb site tags
    assert min_cut(mps, "k0").part == {0} and min_cut(mps, ["I0", 1]).part == {0, 1}
    assert min_cut(mps, ("k0", "k1")).part == {0, 1} and min_cut(mps, ("k0", "k1")).other is None  # one side
    with pytest.raises(ValueError, match="'k9' is neither an open-leg label nor a tag"):
        min_cut(mps, ["k0", "k9"])
    s = network_spectrum(mps, ["k0", "k1", "k2"]).values
    want = np.linalg.svd(mps.to_dense([f"k{i}" for i in range(8)]).reshape(8, 32), compute_uv=False)
    np.testing.assert_allclose(s, want[:3], atol=1e-12)


# ---------------------------------------------------------------------------- A|B against brute force
def brute_ab(tn, a, b):
    """Min over every way to add the free legs to A of the exhaustive min cut (an independent oracle)."""
    free = [p for p in range(len(tn.open_inds)) if p not in a and p not in b]
    best = None
    for k in range(len(free) + 1):
        for extra in itertools.combinations(free, k):
            v = brute_min_cut(tn, frozenset(a) | set(extra))
            best = v if best is None else min(best, v)
    return best


def nx_ab_log2(tn, a, b):
    """log2 of the A|B min cut by networkx max flow on a graph built here (networks without hyperedges)."""
    G = nx.DiGraph()
    members = {}
    for k, ix in enumerate(tn.inds):
        for i in ix:
            members.setdefault(i, []).append(("t", k))
    for p, i in enumerate(tn.open_inds):
        members[i].append(("o", p))
    for i, ends in members.items():
        assert len(ends) <= 2, "plain bonds only"
        if len(ends) == 2:
            c = np.log2(tn.size_dict[i])
            G.add_edge(ends[0], ends[1], capacity=c)
            G.add_edge(ends[1], ends[0], capacity=c)
    for p in a:
        G.add_edge("s", ("o", p))
    for p in b:
        G.add_edge(("o", p), "t")
    return nx.maximum_flow_value(G, "s", "t")


AB_CASES = [([0], [5]), ([0, 1], [4, 5]), ([2], [3]), ([0, 5], [2])]


@pytest.mark.parametrize("a, b", AB_CASES)
def test_ab_cut_on_an_mps_matches_brute_force_and_networkx(a, b):
    mps = qtn.MPS_rand_state(6, bond_dim=3, phys_dim=2, seed=2)
    tn = tc.TensorNetwork.from_quimb(mps)
    want = brute_ab(tn, a, b)
    for method in ("tree", "scipy", "networkx"):
        cut = min_cut(tn, (a, b), method=method)
        assert cut.bound == want, method
        assert cut.part == set(a) and cut.other == set(b) and cut.free == set(range(6)) - set(a) - set(b)
        assert set(a) <= cut.open_side and not (cut.open_side & set(b))
    assert np.isclose(min_cut(tn, (a, b)).log2_bound, nx_ab_log2(tn, a, b))


@pytest.mark.parametrize("seed", range(3))
def test_ab_cut_on_a_peps_with_loops(seed):
    rng = np.random.default_rng(seed)
    peps = qtn.PEPS.rand(2, 3, bond_dim=int(rng.integers(2, 4)), phys_dim=2, seed=seed)
    tn = tc.TensorNetwork.from_quimb(peps)
    a, b = [0], [5]
    if seed == 2:
        a, b = [0, 3], [2]
    want = brute_ab(tn, a, b)
    for method in ("scipy", "networkx"):
        assert min_cut(tn, (a, b), method=method).bound == want
    assert np.isclose(min_cut(peps, (a, b)).log2_bound, nx_ab_log2(tn, a, b))


@pytest.mark.parametrize("a, b", [([0], [5]), ([0, 1], [4]), ([1, 4], [2, 5]), ([3], [0, 2, 5])])
def test_ab_cut_on_a_convac_equals_the_smallest_rank_over_free_assignments(a, b):
    net = tc.ConvAC(tc.ModeTree.from_nested(((0, 1), (2, 3), (4, 5))), 2, 2, seed=3)
    A = net.coefficient_tensor()
    cut = min_cut(net, (a, b))
    assert cut.bound == brute_ab(net.to_tensor_network(), a, b)
    free = [p for p in range(6) if p not in a and p not in b]
    ranks = []
    for k in range(len(free) + 1):
        for extra in itertools.combinations(free, k):
            s = np.linalg.svd(tc.matricize(A, sorted(set(a) | set(extra))), compute_uv=False)
            ranks.append(int(np.count_nonzero(s > 1e-10 * s[0])))
    # generic weights, dimensions powers of 2: the bound is attained for the best assignment
    assert cut.bound == min(ranks)
    # the spectrum is the SVD of the matricization the cut chose (free legs on the side it puts them)
    sp = network_spectrum(net, (a, b))
    want = np.linalg.svd(tc.matricize(A, sorted(cut.open_side)), compute_uv=False)
    assert sp.values.size <= cut.bound
    np.testing.assert_allclose(sp.values, want[: sp.values.size], rtol=1e-9, atol=1e-12 * want[0])
    assert np.all(want[sp.values.size :] <= 1e-10 * want[0])
    assert tc.entanglement_entropy(net, (a, b)) == pytest.approx(tc.entanglement_entropy(A, sorted(cut.open_side)))


def test_ab_cut_bad_input():
    net = tc.deep(8, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"share positions \[1\]"):
        min_cut(net, ([0, 1], [1]))
    with pytest.raises(ValueError, match="empty"):
        min_cut(net, ([], [1]))
    with pytest.raises(ValueError, match="out of range"):
        min_cut(net, ([0], [8]))


def test_ab_with_complementary_sides_is_the_ordinary_cut():
    net = tc.deep(16, 2, 2, seed=0)
    part = tc.partitions.odd_even(16)
    rest = frozenset(range(16)) - part
    assert min_cut(net, (part, rest)).bound == min_cut(net, part).bound == 256


# ---------------------------------------------------------------------------- executors
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl,
        distributed.Client(cl) as c,
    ):
        yield c


@pytest.mark.parametrize("kind", ["threads", "processes", "dask"])
def test_min_cuts_on_executors_equal_serial(kind, request):
    net = tc.deep(32, 2, [2, 4, 2, 4, 2], seed=0)
    parts = [tc.partitions.random(32, seed=s) for s in range(40)] + [([0], [31]), "odd_even"]
    serial = min_cuts(net, parts)
    tn = tc.TensorNetwork.from_quimb(qtn.PEPS.rand(2, 3, bond_dim=2, seed=0))
    loopy = [[0], ([0], [5]), [1, 2, 3]]
    loopy_serial = min_cuts(tn, loopy)

    def check(executor):
        got = min_cuts(net, parts, executor=executor, chunk_size=7)
        assert [c.bound for c in got] == [c.bound for c in serial]
        assert all(g.part == s.part and g.other == s.other for g, s in zip(got, serial))
        assert all(np.array_equal(g.tensor_sides(), s.tensor_sides()) for g, s in zip(got, serial))
        assert all(g.problem is serial[0].problem for g in got)  # built on the caller's network
        got = min_cuts(tn, loopy, executor=executor, chunk_size=2)
        assert [(c.bound, c.method) for c in got] == [(c.bound, c.method) for c in loopy_serial]

    if kind == "threads":
        with ThreadPoolExecutor(2) as pool:
            check(pool)
    elif kind == "processes":
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            check(pool)
    else:
        check(request.getfixturevalue("client"))


def test_min_cuts_executor_options_are_checked():
    net = tc.deep(8, 2, 2, seed=0)
    with pytest.raises(TypeError, match="executor"):
        min_cuts(net, [[0]], executor="pool")
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        min_cuts(net, [[0]], chunk_size=0)
    with pytest.raises(TypeError, match="progress must be True or False"):
        min_cuts(net, [[0]], progress=1)


def test_peps_sites_carry_their_grid_for_partition_names():
    peps = qtn.PEPS.rand(3, 4, bond_dim=2, seed=0)
    tn = tc.TensorNetwork.from_quimb(peps)
    assert tn.leg_shape == (3, 4)
    for name in ("checkerboard", "left_right", "top_bottom"):
        part = tc.partitions.named(name, (3, 4))
        cut = min_cut(peps, name)
        assert cut.part == part and cut.bound == brute_min_cut(tn, part)
    # columns 0-1 against 2-3: three horizontal bonds of dimension 2
    assert min_cut(peps, "left_right").bound == 8
    # open legs that are not exactly the sites, row-major: no grid
    assert tc.TensorNetwork.from_quimb(peps, list(reversed(tn.open_inds))).leg_shape is None


def test_ab_cut_picture_colours_free_legs_by_the_side_the_cut_chose():
    """An A|B cut's free legs are drawn on the side the cut put them (``open_side``), not by ``part``. The
    case is one where they differ; that side assignment is checked against the dense tensor: the
    matricization across it has rank at most the cut's bound (dense SVD)."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    net = tc.deep((4, 4), 2, 2, seed=0)
    a, b = [0, 1], [14, 15]
    cut = min_cut(net, (a, b))
    side = sorted(cut.open_side)
    assert set(side) > set(a) and not set(side) & set(b)  # free legs went to A's side
    s = np.linalg.svd(tc.matricize(net.coefficient_tensor(), side), compute_uv=False)
    assert int(np.count_nonzero(s > 1e-10 * s[0])) <= cut.bound
    ax = cut.draw(shape=(4, 4), view="image")
    img = np.asarray(ax.images[0].get_array()).reshape(-1)
    assert np.flatnonzero(img == 1).tolist() == side
    plt.close("all")
