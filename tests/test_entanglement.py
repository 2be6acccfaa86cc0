import numpy as np
import pytest
from helpers import fraction_rank, unfold
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv import ModeTree, partitions
from tnconv.exact import DEFAULT_PRIME, coefficient_tensor_mod_p, generic_schmidt_rank, rank_mod_p

fs = frozenset


def test_matricize_matches_manual_layout(rng):
    A = rng.standard_normal((2, 3, 4, 5))
    M = tc.matricize(A, [2, 0])
    assert M.shape == (8, 15)
    for a in range(2):
        for b in range(3):
            for c in range(4):
                for d in range(5):
                    assert M[a * 4 + c, b * 5 + d] == A[a, b, c, d]


def test_measures_on_known_states():
    bell = np.zeros((2, 2))
    bell[0, 0] = bell[1, 1] = 1
    assert tc.schmidt_rank(bell, [0]) == 2
    assert tc.entanglement_entropy(bell, [0]) == pytest.approx(np.log(2))
    assert tc.geometric_measure(bell, [0]) == pytest.approx(0.5)
    prod = np.einsum("i,j,k->ijk", [1.0, 2.0], [3.0, -1.0], [0.5, 0.5])
    for part in ([0], [1], [0, 2]):
        assert tc.schmidt_rank(prod, part) == 1
        assert tc.entanglement_entropy(prod, part) == pytest.approx(0.0, abs=1e-12)
        assert tc.geometric_measure(prod, part) == pytest.approx(0.0, abs=1e-12)
    # W state on three qubits across {0} | {1, 2}: Schmidt values sqrt(1/3), sqrt(2/3)
    w = np.zeros((2, 2, 2))
    w[1, 0, 0] = w[0, 1, 0] = w[0, 0, 1] = 1 / np.sqrt(3)
    s = tc.schmidt_values(w, [0])
    np.testing.assert_allclose(s, [np.sqrt(2 / 3), np.sqrt(1 / 3)], rtol=1e-12)
    h_w = -(1 / 3) * np.log2(1 / 3) - (2 / 3) * np.log2(2 / 3)
    assert tc.entanglement_entropy(w, [0], base=2) == pytest.approx(h_w)


def test_schmidt_values_are_svd_of_unfolding(rng):
    A = rng.standard_normal((3, 2, 2, 3))
    part = [1, 3]
    np.testing.assert_allclose(tc.schmidt_values(A, part), np.linalg.svd(unfold(A, part), compute_uv=False))


def test_rank_tolerance_is_relative():
    A = np.diag([1.0, 1e-6, 1e-17])
    assert tc.schmidt_rank(A, [0]) == 2  # default rtol = max(shape) * eps
    assert tc.schmidt_rank(A, [0], rtol=1e-3) == 1
    assert tc.schmidt_rank(A, [0], rtol=0) == 3
    assert tc.schmidt_rank(np.zeros((2, 2)), [0]) == 0
    with pytest.raises(ValueError, match="zero"):
        tc.entanglement_entropy(np.zeros((2, 2)), [0])


@pytest.mark.parametrize("part, match", [([], "empty"), ([0, 1, 2], "all 3"), ([0, 0], "duplicated"),
                                          ([3], "out of range"), ([-1], "out of range")])
def test_bad_partitions(part, match):
    with pytest.raises(ValueError, match=match):
        tc.schmidt_rank(np.ones((2, 2, 2)), part)


def test_bad_partition_types():
    with pytest.raises(TypeError, match="single int"):
        tc.matricize(np.ones((2, 2)), 0)
    with pytest.raises(TypeError, match="ints"):
        tc.matricize(np.ones((2, 2)), [0.5])
    with pytest.raises(ValueError, match="NaN"):
        tc.matricize(np.full((2, 2), np.nan), [0])


def test_rank_mod_p_agrees_with_rational_rank(rng):
    for _ in range(20):
        r = int(rng.integers(1, 5))
        M = rng.integers(-3, 4, size=(6, r)) @ rng.integers(-3, 4, size=(r, 7))
        assert rank_mod_p(M) == fraction_rank(M)
    with pytest.raises(ValueError, match="not prime"):
        rank_mod_p(np.eye(2, dtype=int), 15)
    with pytest.raises(TypeError, match="integer"):
        rank_mod_p(np.array([[0.5]]))


def _int_ht_tensor(rng, n, M, w):
    """Hierarchical Tucker over contiguous pairs with integer weights, written with einsum."""
    phis = [rng.integers(-9, 10, size=(M, w)).astype(object) for _ in range(n)]  # leaf factors, last axis = channel
    while len(phis) > 1:
        nxt = []
        for a, b in zip(phis[::2], phis[1::2]):
            W = rng.integers(-9, 10, size=(w, w if len(phis) > 2 else 1)).astype(object)
            la, lb = a.ndim - 1, b.ndim - 1
            ai = list(range(la)) + [50]
            bi = list(range(la, la + lb)) + [50]
            nxt.append(np.einsum(a, ai, b, bi, W, [50, 51], list(range(la + lb)) + [51]))
        phis = nxt
    return phis[0][..., 0]


def test_depth_efficiency_exact_ranks():
    """Generic deep HT (N = 8, M = 2, w = 2): odd/even rank M^(N/2) = 16, left/right rank <= width."""
    rng = np.random.default_rng(11)
    A = _int_ht_tensor(rng, 8, 2, 2)
    assert fraction_rank(unfold(A, partitions.odd_even(8))) == 16
    assert fraction_rank(unfold(A, partitions.left_right(8))) <= 2
    net = tc.deep(8, 2, 2)
    assert generic_schmidt_rank(net, partitions.odd_even(8)) == 16
    assert generic_schmidt_rank(net, partitions.left_right(8)) == 2
    # well-conditioned float weights reproduce the exact values through the SVD
    A_float = tc.deep(8, 2, 2, seed=3, init="orthogonal").coefficient_tensor()
    assert tc.schmidt_rank(A_float, partitions.odd_even(8)) == 16
    assert tc.schmidt_rank(A_float, partitions.left_right(8)) == 2


def test_shallow_rank_at_most_width_every_partition(rng):
    net = tc.shallow(6, 3, width=4, seed=1)
    A = net.coefficient_tensor()
    for k in range(10):
        part = partitions.random(6, int(rng.integers(1, 6)), seed=k)
        assert tc.schmidt_rank(A, part) <= 4
        assert generic_schmidt_rank(net, part) == min(4, 3 ** min(len(part), 6 - len(part)))


def test_mod_p_tensor_matches_integer_arithmetic():
    """The mod-p coefficient tensor reduces the integer HT tensor built with the same weights."""
    net = tc.deep(4, 2, 2)
    A = coefficient_tensor_mod_p(net, seed=5)
    rng = np.random.default_rng(5)
    W = {v: rng.integers(0, DEFAULT_PRIME, size=(net.in_width(v), net.widths[v]), dtype=np.int64)
         for v in net.tree.nodes}
    def obj(x):
        return np.array(x, dtype=object)

    phi01 = np.einsum("ac,bc,ce->abe", obj(W[fs({0})]), obj(W[fs({1})]), obj(W[fs({0, 1})]))
    phi23 = np.einsum("ac,bc,ce->abe", obj(W[fs({2})]), obj(W[fs({3})]), obj(W[fs({2, 3})]))
    exact = np.einsum("abe,cde,e->abcd", phi01, phi23, obj(W[net.tree.root][:, 0]))
    np.testing.assert_array_equal(A, (exact % DEFAULT_PRIME).astype(np.int64))


tree_strategy = st.builds(lambda n, seed: ModeTree.random(n, arity=(2, 4), seed=seed),
                          st.integers(2, 7), st.integers(0, 10**6))


@settings(deadline=None)
@given(tree_strategy, st.integers(1, 3), st.integers(1, 3), st.data())
def test_rank_never_exceeds_mode_bound(tree, M, w, data):
    part = data.draw(st.sets(st.integers(0, tree.n_inputs - 1), min_size=1, max_size=tree.n_inputs - 1))
    net = tc.ConvAC(tree, M, w, seed=data.draw(st.integers(0, 100)))
    bound = min(M ** len(part), M ** (tree.n_inputs - len(part)))
    assert tc.schmidt_rank(net.coefficient_tensor(), part) <= bound
    assert generic_schmidt_rank(net, part) <= bound


def test_named_partitions_by_hand():
    assert partitions.checkerboard((2, 4)) == fs({1, 3, 4, 6})
    assert partitions.top_bottom((4, 2)) == fs({0, 1, 2, 3})
    assert partitions.left_right((2, 4)) == fs({0, 1, 4, 5})
    assert partitions.center_periphery((4, 4)) == fs({5, 6, 9, 10})
    assert partitions.block_interleaved((4, 4), 1) == fs({2, 3, 6, 7, 8, 9, 12, 13})
    assert partitions.block_interleaved((4, 4), 0) == partitions.checkerboard((4, 4))
    assert partitions.odd_even(5) == fs({1, 3}) and partitions.left_right(5) == fs({0, 1})
    assert len(partitions.random(10, 3, seed=1)) == 3
    assert partitions.named("random:3:7", 10) == partitions.random(10, 3, seed=7)
    with pytest.raises(ValueError, match="unknown partition name"):
        partitions.named("diagonal", (4, 4))
    with pytest.raises(ValueError, match="too large"):
        partitions.block_interleaved((4, 4), 2)
    mask = np.zeros(4, dtype=bool)
    mask[[1, 2]] = True
    assert partitions.validate_partition(mask, 4) == fs({1, 2})
