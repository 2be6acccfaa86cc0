"""Dilated ConvNets (MATH.md section 5): tree, forward, real dilated convolution, tensors, network, bounds.

Every numerical check is against code written here: a recursive numpy forward, brute-force coefficient
tensors from one-hot inputs, a time-loop dilated convolution, and exact ranks modulo a prime.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from helpers import rank_mod_p as _rank_mod_p
from helpers import unfold
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.models.dilated import DilatedConvNet
from tnconv.models.mixed import tiling_rank_bounds

P = 2**24 - 3  # prime; products of two residues stay below 2**48 in int64


def rank_mod_p(mat):
    return _rank_mod_p(mat, P)


G_REF = {
    "product": lambda a, b: a * b,
    "relu_max": lambda a, b: np.maximum(np.maximum(a, b), 0.0),
    "relu_sum": lambda a, b: np.maximum(a, 0.0) + np.maximum(b, 0.0),
}


# ---------------------------------------------------------------------------------------------- oracles
def ref_forward(tree, weights, g, x, output=None):
    """phi^v = g(phi^{u1} @ W1, phi^{u2} @ W2), recursively; x has shape (batch, N, M)."""

    def val(v):
        if len(v) == 1:
            (i,) = v
            return x[:, i, :] @ weights[v]
        a, b = (val(c) @ W for c, W in zip(tree.children(v), weights[v]))
        return g(a, b)

    out = val(tree.root)
    return out if output is None else out[:, output]


def one_hot_inputs(n, m):
    """All m**n one-hot input combinations, in C order of (d_1..d_n)."""
    combos = np.array(list(itertools.product(range(m), repeat=n)))
    return np.eye(m)[combos]  # (m**n, n, m)


def brute_coefficients(tree, weights, m, output=0):
    n = tree.n_inputs
    return ref_forward(tree, weights, G_REF["product"], one_hot_inputs(n, m), output).reshape((m,) * n)


def random_int_weights(tree, m, w, rng, high=P):
    out = {}
    for v in tree.nodes:
        if len(v) == 1:
            out[v] = rng.integers(0, high, (m, w))
        else:
            cols = 1 if v == tree.root else w
            out[v] = tuple(rng.integers(0, high, (w, cols)) for _ in tree.children(v))
    return out


def coefficients_mod_p(tree, weights, m):
    """Coefficient tensor mod P: the forward pass on every one-hot input, in int64 arithmetic mod P."""
    n = tree.n_inputs
    combos = np.array(list(itertools.product(range(m), repeat=n)))

    def val(v):
        if len(v) == 1:
            (i,) = v
            return weights[v][combos[:, i]] % P
        a, b = ((val(c) @ W) % P for c, W in zip(tree.children(v), weights[v]))
        return (a * b) % P

    return val(tree.root)[:, 0].reshape((m,) * n)


binary_trees = st.builds(
    lambda n, seed: tc.ModeTree.random(n, arity=(2, 2), seed=seed),
    st.integers(2, 8),
    st.integers(0, 10**6),
)


# ---------------------------------------------------------------------------------------------- trees
def covers(dilations, t, layer):
    """S_l(t) = S_{l-1}(t - d_l) | S_{l-1}(t), S_{-1}(t) = {t}: the receptive field, by iteration."""
    cur = {t}
    for lvl in range(layer, -1, -1):
        cur = {s for x in cur for s in (x, x - dilations[lvl])}
    return frozenset(cur)


@pytest.mark.parametrize("dilations", list(itertools.permutations([1, 2, 4])) + [(2, 1, 8, 4), (8, 4, 2, 1)])
def test_dilated_tree_is_the_receptive_field_tree(dilations):
    L = len(dilations)
    n = 2**L
    tree = tc.ModeTree.dilated(L, dilations)
    assert tree.root == frozenset(range(n))
    # walk down from the last time point: the two children of the layer-l node at time t
    stack = [(L - 1, n - 1)]
    while stack:
        layer, t = stack.pop()
        node = covers(dilations, t, layer)
        kids = set(tree.children(node))
        if layer == 0:
            assert kids == {frozenset({t - dilations[0]}), frozenset({t})}
            continue
        assert kids == {covers(dilations, t - dilations[layer], layer - 1), covers(dilations, t, layer - 1)}
        stack += [(layer - 1, t - dilations[layer]), (layer - 1, t)]


def test_dilation_orders_of_the_worked_example():
    contiguous = tc.ModeTree.dilated(4, [1, 2, 4, 8])
    assert contiguous == tc.ModeTree.balanced(16)
    swapped = tc.ModeTree.dilated(4, [2, 1, 8, 4])
    # swapping even and odd layers: each node joins the 1st+3rd and the 2nd+4th quarters of its parent
    for v in swapped.internal_nodes:
        if len(v) < 4:
            continue
        s = sorted(v)
        q = len(s) // 4
        quarters = [frozenset(s[k * q:(k + 1) * q]) for k in range(4)]
        kids = set(swapped.children(v))
        if kids == {quarters[0] | quarters[1], quarters[2] | quarters[3]}:
            continue  # a contiguous layer
        assert kids == {quarters[0] | quarters[2], quarters[1] | quarters[3]}
    assert set(swapped.children(swapped.root)) == {
        frozenset(range(0, 4)) | frozenset(range(8, 12)),
        frozenset(range(4, 8)) | frozenset(range(12, 16)),
    }


@pytest.mark.parametrize("dilations", list(itertools.permutations([1, 2, 4])))
def test_dilations_are_recovered_from_the_tree(dilations):
    tree = tc.ModeTree.dilated(3, dilations)
    assert DilatedConvNet(tree, 2, 2, seed=0).dilations == dilations
    # the same tree written with the children of every node in the opposite order
    def rev(x):
        return x if isinstance(x, int) else tuple(rev(c) for c in reversed(x))

    flipped = tc.ModeTree.from_nested(rev(tree.to_nested()))
    assert DilatedConvNet(flipped, 2, 2, seed=0).dilations == dilations


def test_non_dilated_tree_has_no_dilations():
    tree = tc.ModeTree.from_nested((((0, 5), (2, 3)), ((4, 1), (6, 7))))
    net = DilatedConvNet(tree, 2, 2, seed=0, shared=True)
    assert net.dilations is None
    with pytest.raises(ValueError, match=r"not ModeTree\.dilated"):
        net.forward_sequence(np.ones((1, 9, 2)))
    with pytest.raises(ValueError, match=r"dilations \[1, 2, 4\] do not produce"):
        DilatedConvNet(tree, 2, 2, dilations=[1, 2, 4])


# ---------------------------------------------------------------------------------------------- forward
@settings(deadline=None)
@given(tree=binary_trees, m=st.integers(1, 3), w=st.integers(1, 4), y=st.integers(1, 2),
       g=st.sampled_from(sorted(G_REF)), seed=st.integers(0, 10**6))
def test_forward_matches_independent_numpy(tree, m, w, y, g, seed):
    net = DilatedConvNet(tree, m, w, g=g, n_outputs=y, seed=seed)
    x = np.random.default_rng(seed).standard_normal((5, tree.n_inputs, m))
    expected = ref_forward(tree, net.weights, G_REF[g], x)
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net._forward_reference(x), expected, rtol=1e-10, atol=1e-12)


def test_rectifier_operators_differ_on_the_same_weights(rng):
    tree = tc.ModeTree.dilated(3, [2, 1, 4])
    base = DilatedConvNet(tree, 3, 3, seed=5)
    x = rng.standard_normal((20, 8, 3))
    outs = {g: DilatedConvNet(tree, 3, 3, g=g, weights=base.weights).forward(x) for g in G_REF}
    for g, out in outs.items():
        np.testing.assert_allclose(out, ref_forward(tree, base.weights, G_REF[g], x), rtol=1e-10, atol=1e-12)
    for a, b in itertools.combinations(G_REF, 2):
        assert np.abs(outs[a] - outs[b]).max() > 1e-3, (a, b)


def test_custom_associative_commutative_g(rng):
    tree = tc.ModeTree.dilated(2)
    net = DilatedConvNet(tree, 2, 3, g=np.logaddexp, seed=1)
    x = rng.standard_normal((4, 4, 2))
    np.testing.assert_allclose(net.forward(x), ref_forward(tree, net.weights, np.logaddexp, x), rtol=1e-12)


def test_non_commutative_or_non_associative_g_is_rejected():
    tree = tc.ModeTree.dilated(2)
    with pytest.raises(ValueError, match="not commutative"):
        DilatedConvNet(tree, 2, 2, g=lambda a, b: a - b)
    with pytest.raises(ValueError, match="not associative"):
        DilatedConvNet(tree, 2, 2, g=lambda a, b: (a + b) / 2)


# ---------------------------------------------------------------------------------------------- sequences
def ref_dilated_conv(x, dilations, leaf_w, kernels, g, t):
    """Output at time t of the dilated convolution, recursively over (layer, time); times < 0 are zero."""

    def h(layer, s):
        if s < 0:
            return np.zeros((x.shape[0], leaf_w.shape[1]))
        if layer < 0:
            return x[:, s, :] @ leaf_w
        A, B = kernels[layer]
        return g(h(layer - 1, s - dilations[layer]) @ A, h(layer - 1, s) @ B)

    return h(len(dilations) - 1, t)


@pytest.mark.parametrize("g", sorted(G_REF))
@pytest.mark.parametrize("dilations", [(1, 2, 4), (2, 1, 4), (4, 1, 2), (2, 4, 1)])
def test_forward_sequence_is_a_dilated_convolution(g, dilations, rng):
    tree = tc.ModeTree.dilated(3, dilations)
    net = DilatedConvNet(tree, 2, 3, g=g, n_outputs=2, shared=True, seed=7)
    # the layer kernels, read off the shared weights by time order of the children
    leaf_w = net.weights[frozenset({0})]
    kernels = []
    node = tree.root
    path = []
    while len(node) > 1:
        path.append(node)
        a, b = tree.children(node)
        node = a if 7 in a else b
    for v in reversed(path):
        a, b = tree.children(v)
        Wa, Wb = net.weights[v]
        kernels.append((Wa, Wb) if max(a) < max(b) else (Wb, Wa))
    T = 13
    x = rng.standard_normal((3, T, 2))
    valid = net.forward_sequence(x)
    assert valid.shape == (3, T - 7, 2)
    for k in range(T - 7):
        t = 7 + k
        np.testing.assert_allclose(valid[:, k], ref_dilated_conv(x, dilations, leaf_w, kernels, G_REF[g], t),
                                   rtol=1e-10, atol=1e-12)
        # the tree decomposition on the window ending at t
        np.testing.assert_allclose(valid[:, k], net.forward(x[:, t - 7:t + 1]), rtol=1e-10, atol=1e-12)
    causal = net.forward_sequence(x, padding="causal")
    assert causal.shape == (3, T, 2)
    np.testing.assert_allclose(causal[:, 7:], valid, rtol=1e-12)
    for t in range(7):
        np.testing.assert_allclose(causal[:, t], ref_dilated_conv(x, dilations, leaf_w, kernels, G_REF[g], t),
                                   rtol=1e-10, atol=1e-12)


def test_forward_sequence_last_step_for_sixteen_inputs(rng):
    for dil in [(1, 2, 4, 8), (2, 1, 8, 4)]:
        net = DilatedConvNet(tc.ModeTree.dilated(4, dil), 3, 2, shared=True, seed=3)
        x = rng.standard_normal((2, 16, 3))
        np.testing.assert_allclose(net.forward_sequence(x)[:, -1], net.forward(x), rtol=1e-10)


def test_forward_sequence_errors():
    tree = tc.ModeTree.dilated(2)
    with pytest.raises(ValueError, match="shared=True"):
        DilatedConvNet(tree, 2, 2, seed=0).forward_sequence(np.ones((1, 5, 2)))
    net = DilatedConvNet(tree, 2, 2, seed=0, shared=True)
    with pytest.raises(ValueError, match="fewer than the receptive field 4"):
        net.forward_sequence(np.ones((1, 3, 2)))
    with pytest.raises(ValueError, match=r"shape \(5, 2\)"):
        net.forward_sequence(np.ones((5, 2)))
    with pytest.raises(ValueError, match="padding"):
        net.forward_sequence(np.ones((1, 5, 2)), padding="same")


def test_shared_weights_are_one_kernel_per_layer():
    tree = tc.ModeTree.dilated(3, [2, 1, 4])
    net = DilatedConvNet(tree, 2, 3, shared=True, seed=0)
    leaves = [net.weights[leaf] for leaf in tree.leaves]
    assert all(w is leaves[0] for w in leaves)
    for level in tree.levels()[1:]:
        roles = set()
        for v in level:
            a, b = tree.children(v)
            Wa, Wb = net.weights[v]
            roles.add((id(Wa), id(Wb)) if max(a) < max(b) else (id(Wb), id(Wa)))
        assert len(roles) == 1
    assert net.n_parameters == 2 * 3 + 2 * (9 + 9) + 2 * 3
    bad = dict(net.weights)
    v = tree.levels()[1][0]
    bad[v] = (bad[v][0] + 1.0, bad[v][1])
    with pytest.raises(ValueError, match="unlike the rest of its layer"):
        DilatedConvNet(tree, 2, 3, shared=True, weights=bad)


# ---------------------------------------------------------------------------------------------- tensors
@settings(deadline=None)
@given(tree=st.builds(lambda n, s: tc.ModeTree.random(n, arity=(2, 2), seed=s), st.integers(2, 6),
                      st.integers(0, 10**6)),
       m=st.integers(1, 3), w=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_coefficient_tensor_is_brute_force(tree, m, w, seed):
    net = DilatedConvNet(tree, m, w, n_outputs=2, seed=seed)
    for y in (0, 1):
        np.testing.assert_allclose(net.coefficient_tensor(output=y), brute_coefficients(tree, net.weights, m, y),
                                   rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("g", sorted(G_REF))
def test_grid_tensor_is_every_template_combination(g, rng):
    tree = tc.ModeTree.dilated(2, [2, 1])
    net = DilatedConvNet(tree, 3, 2, g=g, seed=2)
    templates = rng.standard_normal((3, 3))
    G = net.grid_tensor(templates)
    combos = np.array(list(itertools.product(range(3), repeat=4)))
    expected = ref_forward(tree, net.weights, G_REF[g], templates[combos], 0).reshape((3,) * 4)
    np.testing.assert_allclose(G, expected, rtol=1e-10, atol=1e-13)


def test_grid_tensor_is_coefficient_tensor_times_templates(rng):
    tree = tc.ModeTree.dilated(3, [4, 1, 2])
    net = DilatedConvNet(tree, 2, 3, seed=4)
    F = rng.standard_normal((3, 2))  # 3 templates, 2 descriptors
    A = net.coefficient_tensor()
    expected = A
    for axis in range(8):
        expected = np.moveaxis(np.tensordot(F, expected, axes=([1], [axis])), 0, axis)
    np.testing.assert_allclose(net.grid_tensor(F), expected, rtol=1e-10, atol=1e-13)


def test_non_product_g_has_no_coefficient_tensor_or_network():
    net = DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, g="relu_max", seed=0)
    with pytest.raises(ValueError, match="grid_tensor"):
        net.coefficient_tensor()
    with pytest.raises(ValueError, match="relu_max"):
        net.to_tensor_network()


def test_dense_budget_is_enforced():
    net = DilatedConvNet(tc.ModeTree.dilated(4), 2, 2, seed=0)
    with pytest.raises(tc.TensorTooLargeError, match="2\\^16"):
        net.coefficient_tensor(max_bytes=1000)
    with pytest.raises(MemoryError):
        net.grid_tensor(np.eye(2), max_bytes=1000)


# ---------------------------------------------------------------------------------------------- network
@pytest.mark.parametrize("dilations", [(1, 2, 4), (2, 1, 4), (4, 2, 1)])
def test_tensor_network_contracts_to_the_coefficient_tensor(dilations, rng):
    tree = tc.ModeTree.dilated(3, dilations)
    net = DilatedConvNet(tree, 2, 3, n_outputs=2, seed=1)
    for y in (0, 1):
        tn = net.to_tensor_network(output=y)
        np.testing.assert_allclose(tn.contract(), brute_coefficients(tree, net.weights, 2, y), rtol=1e-10, atol=1e-13)
        x = rng.standard_normal((4, 8, 2))
        np.testing.assert_allclose(tn.contract(features=x), ref_forward(tree, net.weights, G_REF["product"], x, y),
                                   rtol=1e-10)
    G = tn.graph
    assert nx.is_tree(G)
    # 8 leaf matrices + 2 per internal node (7 internal nodes)
    assert tn.n_tensors == 8 + 2 * 7
    assert len(tn.hyperedges) == 6  # one copy tensor per internal non-root node
    assert tn.open_inds == tuple(f"d{i}" for i in range(8))
    assert tn.size_dict["y"] == 1


def log2_min_cut(tn, part):
    """s-t min cut of the network's graph, copy tensors as e_in -> e_out gadgets (MATH.md section 3);
    every dimension is a power of 2, so capacities are exact integer exponents."""
    D = nx.DiGraph()
    G = tn.graph
    for u, v, data in G.edges(data=True):
        if u[0] == "copy" or v[0] == "copy":
            c, o = (u, v) if u[0] == "copy" else (v, u)
            D.add_edge(o, (c, "in"))  # no capacity attribute: infinite
            D.add_edge((c, "out"), o)
        else:
            cap = int(np.log2(data["dim"]))
            D.add_edge(u, v, capacity=cap)
            D.add_edge(v, u, capacity=cap)
    for x, data in G.nodes(data=True):
        if x[0] == "copy":
            D.add_edge((x, "in"), (x, "out"), capacity=int(np.log2(data["dim"])))
    for i in range(len(tn.open_inds)):
        D.add_edge(*(("s", ("open", i)) if i in part else (("open", i), "t")))
    return nx.minimum_cut(D, "s", "t")[0]


@settings(deadline=None)
@given(tree=st.builds(lambda n, s: tc.ModeTree.random(n, arity=(2, 2), seed=s), st.integers(3, 7),
                      st.integers(0, 10**6)),
       dims=st.sampled_from([(2, 2), (2, 4), (4, 2)]), data=st.data())
def test_min_cut_of_the_network_is_the_exact_rank(tree, dims, data):
    """Unshared weights, dimensions all powers of 2: the hyperedge min cut equals the generic rank."""
    r, m = dims
    n = tree.n_inputs
    if m**n > 20000:
        m = 2
    part = set(data.draw(st.permutations(range(n)))[: data.draw(st.integers(1, n - 1))])
    net = DilatedConvNet(tree, m, r, seed=0)
    tn = net.to_tensor_network()
    w = random_int_weights(tree, m, r, np.random.default_rng(data.draw(st.integers(0, 10**6))))
    rank = rank_mod_p(unfold(coefficients_mod_p(tree, w, m), part))
    assert 2 ** log2_min_cut(tn, part) == rank


def test_min_cut_bounds_the_exact_rank():
    mincut = pytest.importorskip("tnconv.mincut")
    if not hasattr(mincut, "min_cut"):
        pytest.skip("tnconv.mincut.min_cut is not available yet")
    tree = tc.ModeTree.dilated(3, [2, 1, 4])
    rng = np.random.default_rng(0)
    w = random_int_weights(tree, 2, 2, rng)
    A = coefficients_mod_p(tree, w, 2)
    net = DilatedConvNet(tree, 2, 2, seed=0)
    for part in [{0, 2}, {0, 1, 2, 3}, {0, 3, 5, 6}, {1}]:
        cut = mincut.min_cut(net.to_tensor_network(), part)
        assert cut.bound >= rank_mod_p(unfold(A, part))


# ---------------------------------------------------------------------------------------------- bounds
@settings(deadline=None)
@given(tree=st.builds(lambda n, s: tc.ModeTree.random(n, arity=(2, 2), seed=s), st.integers(3, 8),
                      st.integers(0, 10**6)),
       r=st.integers(1, 3), extra_m=st.integers(-2, 1), data=st.data())
def test_tiling_bounds_hold(tree, r, extra_m, data):
    n = tree.n_inputs
    m = max(1, r + extra_m)
    if m**n > 7000:
        m = r
    size = data.draw(st.integers(1, n - 1))
    part = data.draw(st.permutations(range(n)))[:size]
    lower, upper = tiling_rank_bounds(tree, part, r, n_descriptors=m)
    assert lower <= upper
    if m >= r:  # the leaves do not bottleneck: the M-free statement applies
        assert (lower, upper) == tiling_rank_bounds(tree, part, r)
    seed = data.draw(st.integers(0, 10**6))
    # lower bound: generic weights; the rank mod P never exceeds the true rank
    w = random_int_weights(tree, m, r, np.random.default_rng(seed))
    assert rank_mod_p(unfold(coefficients_mod_p(tree, w, m), part)) >= lower
    # upper bound: any weights; a float rank with a tiny tolerance errs towards counting too many
    net = DilatedConvNet(tree, m, r, seed=seed, init="orthogonal")
    s = np.linalg.svd(unfold(brute_coefficients(tree, net.weights, m), part), compute_uv=False)
    assert int((s > 1e-11 * s[0]).sum()) <= upper
    sparse = {v: (w_ % 3) - 1 if isinstance(w_, np.ndarray) else tuple(x % 3 - 1 for x in w_) for v, w_ in w.items()}
    assert rank_mod_p(unfold(coefficients_mod_p(tree, sparse, m), part)) <= upper


def test_tiling_bounds_with_few_descriptors():
    tree = tc.ModeTree.balanced(8)
    part = [0, 2, 4, 6]
    assert tiling_rank_bounds(tree, part, 3) == (3**4, 3**4)
    assert tiling_rank_bounds(tree, part, 3, n_descriptors=2) == (2**4, 3**4)
    rng = np.random.default_rng(1)
    A = coefficients_mod_p(tree, random_int_weights(tree, 2, 3, rng), 2)
    assert rank_mod_p(unfold(A, part)) >= 2**4


@pytest.mark.parametrize("dilations", [(1, 2, 4, 8), (2, 1, 8, 4)])
def test_worked_example_single_trees_have_rank_r6(dilations):
    # MATH.md section 5: N = 16, I = {0,2,4,6,8,9,12,13}; T and T-bar give rank r^6 (here r = M = 2)
    part = [0, 2, 4, 6, 8, 9, 12, 13]
    tree = tc.ModeTree.dilated(4, dilations)
    assert tiling_rank_bounds(tree, part, 2) == (2**6, 2**6)
    A = coefficients_mod_p(tree, random_int_weights(tree, 2, 2, np.random.default_rng(11)), 2)
    assert rank_mod_p(unfold(A, part)) == 2**6


def test_tiling_bounds_bad_input():
    with pytest.raises(ValueError, match=r"node \{0,1,2\} has 3 children"):
        tiling_rank_bounds(tc.ModeTree.from_nested(((0, 1, 2), 3)), [0], 2)
    with pytest.raises(ValueError, match="duplicated"):
        tiling_rank_bounds(tc.ModeTree.dilated(2), [0, 0], 2)
    with pytest.raises(ValueError):
        tiling_rank_bounds(tc.ModeTree.dilated(2), [0, 1, 2, 3], 2)
    with pytest.raises(ValueError, match="width"):
        tiling_rank_bounds(tc.ModeTree.dilated(2), [0], 0)


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_messages():
    with pytest.raises(ValueError, match=r"binary mode tree, but node \{0,1,2\} has 3 children"):
        DilatedConvNet(((0, 1, 2), (3, 4)), 2, 2)
    tree = tc.ModeTree.dilated(2)
    net = DilatedConvNet(tree, 2, 3, seed=0)
    w = dict(net.weights)
    w[frozenset({0})] = np.ones((3, 3))
    with pytest.raises(ValueError, match=r"node \{0\} have shape \(3, 3\), expected \(2, 3\)"):
        DilatedConvNet(tree, 2, 3, weights=w)
    w = dict(net.weights)
    w[frozenset({0, 1})] = w[frozenset({0, 1})][:1]
    with pytest.raises(ValueError, match=r"\{0,1\} must be a tuple of 2 matrices"):
        DilatedConvNet(tree, 2, 3, weights=w)
    w = dict(net.weights)
    del w[tree.root]
    with pytest.raises(ValueError, match=r"missing for node \{0,1,2,3\}"):
        DilatedConvNet(tree, 2, 3, weights=w)
    w = dict(net.weights)
    w[tree.root] = (np.full((3, 1), np.nan), w[tree.root][1])
    with pytest.raises(ValueError, match="NaN"):
        DilatedConvNet(tree, 2, 3, weights=w)
    with pytest.raises(ValueError, match=r"expected \(batch, n_inputs=4"):
        net.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match="output 3 out of range"):
        net.coefficient_tensor(output=3)
    with pytest.raises(ValueError, match="n_descriptors must be a positive int, got 0"):
        DilatedConvNet(tree, 0, 2)
    with pytest.raises(TypeError, match="width"):
        DilatedConvNet(tree, 2, True)
    with pytest.raises(ValueError, match="unknown pooling operator"):
        DilatedConvNet(tree, 2, 2, g="relu_min")
    with pytest.raises(ValueError, match="unknown backend"):
        net.forward(np.ones((1, 4, 2)), backend="torch")


def test_float32_and_cupy_backend_choice(rng):
    net = DilatedConvNet(tc.ModeTree.dilated(3), 2, 2, seed=0, dtype="float32")
    x = rng.standard_normal((3, 8, 2))
    out = net.forward(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref_forward(net.tree, net.weights, G_REF["product"], x.astype(np.float32)),
                               rtol=1e-4)


def test_cupy_forward_matches_numpy(rng):
    cp = pytest.importorskip("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - no device
        pytest.skip("no CUDA device")
    tree = tc.ModeTree.dilated(3, [2, 1, 4])
    net = DilatedConvNet(tree, 2, 3, g="relu_max", seed=0, shared=True)
    x = rng.standard_normal((4, 10, 2))
    out = net.forward(cp.asarray(x[:, -8:]))
    assert type(out).__module__.startswith("cupy")
    np.testing.assert_allclose(cp.asnumpy(out), net.forward(x[:, -8:]), rtol=1e-10)
    seq = net.forward_sequence(cp.asarray(x))
    np.testing.assert_allclose(cp.asnumpy(seq), net.forward_sequence(x), rtol=1e-10)


def test_deep_copies_keep_the_function(rng):
    import copy

    net = DilatedConvNet(tc.ModeTree.dilated(3, [2, 1, 4]), 2, 3, g="relu_sum", seed=4)
    x = rng.standard_normal((3, 8, 2))
    want = ref_forward(net.tree, net.weights, G_REF["relu_sum"], x)
    net.forward(x)  # a plan and a lock exist now
    for other in (copy.deepcopy(net), copy.copy(net)):
        np.testing.assert_allclose(other.forward(x), want, rtol=1e-12, atol=1e-13)
