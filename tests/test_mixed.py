"""Mixed decompositions (MATH.md section 5) and hybrid trees.

The mixed network is checked against a recursive definition written here (swap the first half of the
channels at every mixture node, inner ones first, then add the roots), and the rank claims of the worked
example with exact ranks modulo a prime.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import rank_mod_p as _rank_mod_p
from helpers import unfold
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.models.dilated import DilatedConvNet
from tnconv.models.mixed import MixedConvNet, tiling_rank_bounds

P = 2**24 - 3


def rank_mod_p(mat):
    return _rank_mod_p(mat, P)


G_REF = {
    "product": lambda a, b: a * b,
    "relu_max": lambda a, b: np.maximum(np.maximum(a, b), 0.0),
    "relu_sum": lambda a, b: np.maximum(a, 0.0) + np.maximum(b, 0.0),
}

PART = [0, 2, 4, 6, 8, 9, 12, 13]  # the worked example, N = 16
T_TREE = tc.ModeTree.dilated(4, [1, 2, 4, 8])
T_BAR = tc.ModeTree.dilated(4, [2, 1, 8, 4])  # even and odd layers swapped
QUARTERS = [frozenset(range(4 * k, 4 * k + 4)) for k in range(4)]


# ---------------------------------------------------------------------------------------------- oracles
def ref_mixed(trees, weights, mixture, g, leaf_value, combine_mod=None):
    """value_k(v) = g over children of value_k(child) @ W_k; at a mixture node the first half of the
    channels comes from the other tree. Written as a memoized recursion (the definition), not a schedule."""
    half = weights[0][trees[0].leaves[0]].shape[1] // 2
    memo: dict = {}

    def raw(k, v):
        if len(v) == 1:
            return leaf_value(weights[k][v], v)
        a, b = (mod(value(k, c) @ W) for c, W in zip(trees[k].children(v), weights[k][v]))
        return mod(g(a, b))

    def value(k, v):
        if (k, v) not in memo:
            if v in mixture:
                mine, other = raw(k, v), raw(1 - k, v)
                memo[(k, v)] = np.concatenate([other[:, :half], mine[:, half:]], axis=1)
            else:
                memo[(k, v)] = raw(k, v)
        return memo[(k, v)]

    def mod(x):
        return x % P if combine_mod else x

    root = trees[0].root
    return mod(value(0, root) + value(1, root))


def features_leaf(x):
    return lambda W, v: x[:, next(iter(v)), :] @ W


def int_weights(tree, m, w, rng, lo, hi):
    out = {}
    for v in tree.nodes:
        if len(v) == 1:
            out[v] = rng.integers(lo, hi + 1, (m, w))
        else:
            cols = 1 if v == tree.root else w
            out[v] = tuple(rng.integers(lo, hi + 1, (w, cols)) for _ in tree.children(v))
    return out


def mixed_coefficients_mod_p(trees, weights, mixture, m):
    n = trees[0].n_inputs
    combos = np.array(list(itertools.product(range(m), repeat=n)))
    out = ref_mixed(trees, weights, mixture, lambda a, b: a * b, lambda W, v: W[combos[:, next(iter(v))]] % P,
                    combine_mod=True)
    return out[:, 0].reshape((m,) * n)


def single_coefficients_mod_p(tree, weights, m):
    """One tree decomposition mod P: the forward pass on every one-hot input."""
    n = tree.n_inputs
    combos = np.array(list(itertools.product(range(m), repeat=n)))

    def val(v):
        if len(v) == 1:
            return weights[v][combos[:, next(iter(v))]] % P
        a, b = ((val(c) @ W) % P for c, W in zip(tree.children(v), weights[v]))
        return (a * b) % P

    return val(tree.root)[:, 0].reshape((m,) * n)


def as_float(weights):
    return {v: (w.astype(float) if isinstance(w, np.ndarray) else tuple(x.astype(float) for x in w))
            for v, w in weights.items()}


# ---------------------------------------------------------------------------------------------- model
@settings(deadline=None)
@given(dil_a=st.permutations([1, 2, 4]), dil_b=st.permutations([1, 2, 4]), w=st.sampled_from([2, 4]),
       g=st.sampled_from(sorted(G_REF)), seed=st.integers(0, 10**6), data=st.data())
def test_forward_matches_the_recursive_definition(dil_a, dil_b, w, g, seed, data):
    ta, tb = tc.ModeTree.dilated(3, dil_a), tc.ModeTree.dilated(3, dil_b)
    common = sorted(set(ta.internal_nodes) & set(tb.internal_nodes), key=sorted)
    mixture = data.draw(st.lists(st.sampled_from(common), unique=True)) if common else []
    net = MixedConvNet(ta, tb, mixture, 2, w, g=g, n_outputs=2, seed=seed)
    x = np.random.default_rng(seed).standard_normal((5, 8, 2))
    expected = ref_mixed((ta, tb), (net.nets[0].weights, net.nets[1].weights), set(mixture) - {ta.root},
                         G_REF[g], features_leaf(x))
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-10, atol=1e-12)
    if g == "product":
        A = net.coefficient_tensor(output=1)
        combos = np.array(list(itertools.product(range(2), repeat=8)))
        onehot = np.eye(2)[combos]
        brute = ref_mixed((ta, tb), (net.nets[0].weights, net.nets[1].weights), set(mixture) - {ta.root},
                          G_REF[g], features_leaf(onehot))[:, 1].reshape((2,) * 8)
        np.testing.assert_allclose(A, brute, rtol=1e-10, atol=1e-12)
    templates = np.random.default_rng(seed + 1).standard_normal((2, 2))
    combos = np.array(list(itertools.product(range(2), repeat=8)))
    brute_grid = ref_mixed((ta, tb), (net.nets[0].weights, net.nets[1].weights), set(mixture) - {ta.root},
                           G_REF[g], features_leaf(templates[combos]))[:, 0].reshape((2,) * 8)
    np.testing.assert_allclose(net.grid_tensor(templates), brute_grid, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("g", sorted(G_REF))
def test_nested_mixture_nodes_swap_inner_first(g, rng):
    # identical trees share every node, so mixture nodes can nest: {0,1} inside {0,1,2,3} inside {0..7}
    ta = tc.ModeTree.dilated(4, [1, 2, 4, 8])
    tb = tc.ModeTree.from_nested(ta.to_nested())
    mixture = [frozenset(range(8)), frozenset({0, 1}), frozenset(range(4)), frozenset({8, 9})]
    net = MixedConvNet(ta, tb, mixture, 2, 4, g=g, seed=4)
    assert [sorted(m) for m in net.mixture_nodes] == [[0, 1], [8, 9], [0, 1, 2, 3], list(range(8))]
    x = rng.standard_normal((5, 16, 2))
    expected = ref_mixed((ta, tb), (net.nets[0].weights, net.nets[1].weights), set(mixture), G_REF[g],
                         features_leaf(x))
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-10, atol=1e-12)
    if g == "product":
        onehot = np.eye(2)[np.array(list(itertools.product(range(2), repeat=16)))]
        brute = ref_mixed((ta, tb), (net.nets[0].weights, net.nets[1].weights), set(mixture), G_REF[g],
                          features_leaf(onehot))[:, 0].reshape((2,) * 16)
        np.testing.assert_allclose(net.coefficient_tensor(), brute, rtol=1e-9, atol=1e-12)


def test_no_mixture_is_the_sum_of_two_nets(rng):
    net = MixedConvNet(T_TREE, T_BAR, [], 2, 2, seed=3)
    x = rng.standard_normal((4, 16, 2))
    a, b = net.nets
    np.testing.assert_allclose(net.forward(x), a.forward(x) + b.forward(x), rtol=1e-12)
    np.testing.assert_allclose(net.coefficient_tensor(), a.coefficient_tensor() + b.coefficient_tensor(), rtol=1e-12)


def test_mixing_changes_the_function(rng):
    net = MixedConvNet(T_TREE, T_BAR, QUARTERS, 2, 4, seed=3)
    plain = MixedConvNet.from_nets(*net.nets, [])
    x = rng.standard_normal((4, 16, 2))
    assert np.abs(net.forward(x) - plain.forward(x)).max() > 1e-6


def test_root_as_mixture_node_changes_nothing(rng):
    with_root = MixedConvNet(T_TREE, T_BAR, QUARTERS + [T_TREE.root], 2, 4, seed=3)
    without = MixedConvNet.from_nets(*with_root.nets, QUARTERS)
    assert with_root.mixture_nodes == without.mixture_nodes
    x = rng.standard_normal((3, 16, 2))
    np.testing.assert_allclose(with_root.forward(x), without.forward(x))


# ---------------------------------------------------------------------------------------------- theorem
def test_worked_example_hybrid_and_mixed_ranks():
    """T and T-bar: rank r^6; a hybrid (T on the left half, T-bar on the right): r^8; the mixed net of
    width 2r reaches at least the hybrid's rank (r = M = 2, exact ranks mod P)."""
    r = 2
    rng = np.random.default_rng(2026)
    mixture = set(T_TREE.internal_nodes) & set(T_BAR.internal_nodes)
    assert set(QUARTERS) <= mixture
    hybrids = tc.hybrid_trees(T_TREE, T_BAR, mixture)
    assert T_TREE in hybrids and T_BAR in hybrids
    # the hybrid that takes the left quarters' segments from T and the right ones from T-bar
    target = [h for h in hybrids
              if all(set(h.children(q)) == set(T_TREE.children(q)) for q in QUARTERS[:2])
              and all(set(h.children(q)) == set(T_BAR.children(q)) for q in QUARTERS[2:])
              and set(h.children(h.root)) == set(T_TREE.children(T_TREE.root))]
    assert len(target) == 1
    hybrid = target[0]
    assert tiling_rank_bounds(hybrid, PART, r) == (r**8, r**8)
    ranks = {}
    for name, tree in [("T", T_TREE), ("T-bar", T_BAR), ("hybrid", hybrid)]:
        A = single_coefficients_mod_p(tree, int_weights(tree, 2, r, rng, 0, P - 1), 2)
        ranks[name] = rank_mod_p(unfold(A, PART))
    assert ranks == {"T": r**6, "T-bar": r**6, "hybrid": r**8}
    # every hybrid's bounds are reached, and none exceeds r^8 = 2^(N/2)
    assert max(tiling_rank_bounds(h, PART, r)[1] for h in hybrids) == r**8

    # the mixed decomposition of width 2r, generic weights, exact arithmetic
    wa = int_weights(T_TREE, 2, 2 * r, rng, 0, P - 1)
    wb = int_weights(T_BAR, 2, 2 * r, rng, 0, P - 1)
    A = mixed_coefficients_mod_p((T_TREE, T_BAR), (wa, wb), set(QUARTERS), 2)
    assert rank_mod_p(unfold(A, PART)) >= r**8

    # the model itself: small integer weights keep float64 exact (|entries| << 2^53), so its tensor
    # reduced mod P must equal the exact computation (such weights are too special to be generic)
    wa = int_weights(T_TREE, 2, 2 * r, rng, -1, 1)
    wb = int_weights(T_BAR, 2, 2 * r, rng, -1, 1)
    model = MixedConvNet.from_nets(DilatedConvNet(T_TREE, 2, 2 * r, weights=as_float(wa)),
                                   DilatedConvNet(T_BAR, 2, 2 * r, weights=as_float(wb)), QUARTERS)
    A_model = model.coefficient_tensor()
    assert np.abs(A_model).max() < 2**50 and np.array_equal(A_model, np.round(A_model))
    A_exact = mixed_coefficients_mod_p((T_TREE, T_BAR), (wa, wb), set(QUARTERS), 2)
    np.testing.assert_array_equal(A_model.astype(np.int64) % P, A_exact)

    # and with generic float weights: random orthonormal columns keep the spectrum within ~1e-6 of the
    # top, while exact zeros sit at ~1e-16, so the float rank is unambiguous here (MATH.md section 7)
    def float_rank(A):
        s = np.linalg.svd(unfold(A, PART), compute_uv=False)
        assert s[-1] < 1e-13 * s[0] or s[-1] > 1e-9 * s[0]  # a clear gap, else the count is unreliable
        return int((s > 1e-10 * s[0]).sum())

    assert float_rank(DilatedConvNet(T_TREE, 2, r, seed=1, init="orthogonal").coefficient_tensor()) == r**6
    assert float_rank(DilatedConvNet(T_BAR, 2, r, seed=1, init="orthogonal").coefficient_tensor()) == r**6
    assert float_rank(DilatedConvNet(hybrid, 2, r, seed=1, init="orthogonal").coefficient_tensor()) == r**8
    mixed = MixedConvNet(T_TREE, T_BAR, QUARTERS, 2, 2 * r, seed=1, init="orthogonal")
    assert float_rank(mixed.coefficient_tensor()) >= r**8


def test_mixed_width_2r_realizes_a_hybrid_of_width_r(rng):
    """Embedding: the hybrid's weights in channels [r, 2r) of one net and zeros elsewhere (plus a
    matching copy in the other) make the mixed net compute the hybrid decomposition exactly."""
    r = 2
    mixture = set(QUARTERS)
    hybrid = next(h for h in tc.hybrid_trees(T_TREE, T_BAR, mixture)
              if all(set(h.children(q)) == set(T_TREE.children(q)) for q in QUARTERS[:2])
              and all(set(h.children(q)) == set(T_BAR.children(q)) for q in QUARTERS[2:])
              and set(h.children(h.root)) == set(T_TREE.children(T_TREE.root)))
    hnet = DilatedConvNet(hybrid, 2, r, seed=9)
    # The left quarters' segments come from T (net a), the right ones from T-bar (net b), the root
    # segment from T. Net a computes its quarters into channels [r, 2r), which the swap keeps; net b
    # computes its quarters into channels [0, r), which the swap hands to net a. Net a's root segment
    # then reads the left quarters from [r, 2r) and the right ones from [0, r). All else is zero.
    def blank(tree):
        out = {}
        for v in tree.nodes:
            if len(v) == 1:
                out[v] = np.zeros((2, 2 * r))
            else:
                cols = 1 if v == tree.root else 2 * r
                out[v] = tuple(np.zeros((2 * r, cols)) for _ in tree.children(v))
        return out

    wa, wb = blank(T_TREE), blank(T_BAR)

    def put(target, tree, v, src_rows, dst_cols):
        kids_h = hybrid.children(v)
        mats = list(target[v]) if len(v) > 1 else None
        if len(v) == 1:
            target[v][:, dst_cols] = hnet.weights[v]
            return
        for c, Wh in zip(kids_h, hnet.weights[v]):
            k = list(tree.children(v)).index(c)
            mats[k] = mats[k].copy()
            mats[k][np.ix_(src_rows(c), dst_cols)] = Wh
        target[v] = tuple(mats)

    keep = np.arange(r, 2 * r)
    swap = np.arange(0, r)
    for q, (target, tree, out) in zip(QUARTERS, [(wa, T_TREE, keep), (wa, T_TREE, keep),
                                                 (wb, T_BAR, swap), (wb, T_BAR, swap)]):
        for v in tree.nodes:
            if v <= q:
                put(target, tree, v, lambda c: keep, out if v == q else keep)
    root_cols = np.arange(1)
    for v in T_TREE.nodes:
        if len(v) > 4:
            put(wa, T_TREE, v,
                lambda c: swap if c in QUARTERS[2:] else keep,
                root_cols if v == T_TREE.root else keep)
    model = MixedConvNet.from_nets(DilatedConvNet(T_TREE, 2, 2 * r, weights=wa),
                                   DilatedConvNet(T_BAR, 2, 2 * r, weights=wb), QUARTERS)
    x = rng.standard_normal((6, 16, 2))
    np.testing.assert_allclose(model.forward(x), hnet.forward(x), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------- hybrids
def test_hybrid_trees_are_segment_choices():
    a, b = tc.ModeTree.dilated(3, [1, 2, 4]), tc.ModeTree.dilated(3, [2, 1, 4])
    halves = [frozenset(range(4)), frozenset(range(4, 8))]
    hybrids = tc.hybrid_trees(a, b, halves)
    # both trees share the root segment; each half independently from a or b
    expected = set()
    for ca, cb in itertools.product([a, b], repeat=2):
        kids = {a.root: list(a.children(a.root))}
        for half, src in zip(halves, (ca, cb)):
            for v in src.internal_nodes:
                if v <= half:
                    kids[v] = list(src.children(v))
        expected.add(tc.ModeTree(kids))
    assert set(hybrids) == expected and len(hybrids) == 4


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input():
    with pytest.raises(ValueError, match="width 3 is odd"):
        MixedConvNet(T_TREE, T_BAR, QUARTERS, 2, 3)
    with pytest.raises(ValueError, match=r"mixture node \{0,1\} is not an internal node of tree_b"):
        MixedConvNet(T_TREE, T_BAR, [frozenset({0, 1})], 2, 2)
    with pytest.raises(ValueError, match=r"mixture node \{3\} is not an internal node of tree_a and tree_b"):
        MixedConvNet(T_TREE, T_BAR, [frozenset({3})], 2, 2)
    with pytest.raises(ValueError, match="different inputs: 16 and 8"):
        MixedConvNet(T_TREE, tc.ModeTree.dilated(3), [], 2, 2)
    with pytest.raises(ValueError, match=r"node \{0,1,2\} has 3 children"):
        MixedConvNet(((0, 1, 2), 3), ((0, 1), (2, 3)), [], 2, 2)
    with pytest.raises(TypeError, match="single node"):
        MixedConvNet(T_TREE, T_BAR, QUARTERS[0], 2, 2)
    with pytest.raises(TypeError, match="got the int 0"):
        MixedConvNet(T_TREE, T_BAR, [0, 1, 2, 3], 2, 2)
    with pytest.raises(ValueError, match="not commutative"):
        MixedConvNet(T_TREE, T_BAR, [], 2, 2, g=lambda a, b: a - 2 * b)
    relu = MixedConvNet(T_TREE, T_BAR, QUARTERS, 2, 2, g="relu_sum", seed=0)
    with pytest.raises(ValueError, match="grid_tensor"):
        relu.coefficient_tensor()
    a = DilatedConvNet(T_TREE, 2, 2, seed=0)
    with pytest.raises(ValueError, match="width"):
        MixedConvNet.from_nets(a, DilatedConvNet(T_BAR, 2, 4, seed=0), [])
    with pytest.raises(ValueError, match="pooling operators"):
        MixedConvNet.from_nets(a, DilatedConvNet(T_BAR, 2, 2, g="relu_max", seed=0), [])
    with pytest.raises(tc.TensorTooLargeError):
        MixedConvNet(T_TREE, T_BAR, QUARTERS, 2, 2, seed=0).coefficient_tensor(max_bytes=10**4)


def test_dilated_and_mixed_save_load_roundtrip(tmp_path):
    import tnconv as tc

    a = tc.ModeTree.dilated(3, [1, 2, 4])
    b = tc.ModeTree.dilated(3, [2, 1, 4])
    dil = tc.DilatedConvNet(b, 2, 3, n_outputs=2, seed=1, shared=True, g="relu_sum")
    dil.save(tmp_path / "d.npz")
    back = tc.DilatedConvNet.load(tmp_path / "d.npz")
    assert back.tree == dil.tree and back.dilations == dil.dilations and back.g.name == "relu_sum"
    x = np.random.default_rng(0).standard_normal((3, 8, 2))
    np.testing.assert_array_equal(back.forward(x), dil.forward(x))
    mix = tc.MixedConvNet(a, b, [frozenset(range(4)), frozenset(range(4, 8))], 2, 4, seed=2)
    mix.save(tmp_path / "m.npz")
    again = tc.MixedConvNet.load(tmp_path / "m.npz")
    assert again.mixture_nodes == mix.mixture_nodes
    np.testing.assert_array_equal(again.coefficient_tensor(), mix.coefficient_tensor())
    with pytest.raises(TypeError, match="not a DilatedConvNet"):
        tc.DilatedConvNet.load(tmp_path / "m.npz")


def test_mixed_budget_counts_both_nets():
    from tnconv.models.dilated import planned_weight_bytes

    a, b = tc.ModeTree.dilated(3, [1, 2, 4]), tc.ModeTree.dilated(3, [2, 1, 4])
    one = planned_weight_bytes(a, 2, 8, 1, False, "float64", "normal")
    both = one + planned_weight_bytes(b, 2, 8, 1, False, "float64", "normal")
    with tc.option_context(max_dense_bytes=both - 1):
        tc.DilatedConvNet(a, 2, 8)  # each net alone fits
        with pytest.raises(tc.TensorTooLargeError, match="MixedConvNet"):
            MixedConvNet(a, b, [], 2, 8)
    with tc.option_context(max_dense_bytes=both):
        assert MixedConvNet(a, b, [], 2, 8, seed=0).width == 8
