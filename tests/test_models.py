import os

import numpy as np
import pytest
from helpers import brute_force_output
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv import ConvAC, ModeTree

fs = frozenset


def test_forward_equals_brute_force_sum(rng):
    for tree in [ModeTree.balanced(4), ModeTree.from_nested(((0, 2), 1, (3, 4))), ModeTree.flat(3)]:
        net = ConvAC(tree, 3, 2, n_outputs=2, seed=1)
        F = rng.standard_normal((5, tree.n_inputs, 3))
        out = net.forward(F)
        for y in range(2):
            A = net.coefficient_tensor(output=y)
            np.testing.assert_allclose(out[:, y], brute_force_output(A, F), rtol=1e-12, atol=1e-14)


def test_shallow_is_the_cp_formula(rng):
    net = tc.shallow(4, 3, width=5, seed=2)
    a = [net.weights[fs({i})] for i in range(4)]
    root = net.weights[net.tree.root][:, 0]
    A = np.einsum("z,az,bz,cz,dz->abcd", root, *a)
    np.testing.assert_allclose(net.coefficient_tensor(), A, rtol=1e-12)
    F = rng.standard_normal((7, 4, 3))
    h = np.einsum("z,nz,nz,nz,nz->n", root, *[F[:, i] @ a[i] for i in range(4)])
    np.testing.assert_allclose(net.forward(F)[:, 0], h, rtol=1e-12)


def test_deep_is_the_hierarchical_tucker_formula(rng):
    net = tc.deep(4, 2, [3, 2], seed=3)
    W = net.weights
    # phi^{01}[a, b, c'] = sum_c W0[a, c] W1[b, c] W01[c, c'], likewise {2,3}; root sums the product
    phi01 = np.einsum("ac,bc,ce->abe", W[fs({0})], W[fs({1})], W[fs({0, 1})])
    phi23 = np.einsum("ac,bc,ce->abe", W[fs({2})], W[fs({3})], W[fs({2, 3})])
    A = np.einsum("abe,cde,e->abcd", phi01, phi23, W[net.tree.root][:, 0])
    np.testing.assert_allclose(net.coefficient_tensor(), A, rtol=1e-12)
    F = rng.standard_normal((6, 4, 2))
    np.testing.assert_allclose(net.forward(F)[:, 0], brute_force_output(A, F), rtol=1e-12)


def test_width_specifications_agree():
    tree = ModeTree.balanced(8)
    by_height = ConvAC(tree, 2, [3, 4, 5], seed=0)
    by_node = ConvAC(tree, 2, {v: [3, 4, 5][tree.height(v)] for v in tree.nodes if v != tree.root}, seed=0)
    assert by_height.widths == by_node.widths
    assert by_height.weights[fs({0})].shape == (2, 3)
    assert by_height.weights[fs({0, 1})].shape == (3, 4)
    assert by_height.weights[fs(range(4))].shape == (4, 5)
    assert by_height.weights[tree.root].shape == (5, 1)
    for v in tree.nodes:
        np.testing.assert_array_equal(by_height.weights[v], by_node.weights[v])


@pytest.mark.parametrize(
    "widths, match",
    [
        ({fs({0}): 2, fs({1}): 3, fs({2}): 2, fs({3}): 2, fs({0, 1}): 2, fs({2, 3}): 2}, r"children of node \{0,1\}"),
        ([2, 2, 2], "one per height"),
        ({fs({0}): 2}, "widths missing"),
        (0, "positive"),
    ],
)
def test_inconsistent_widths(widths, match):
    with pytest.raises(ValueError, match=match):
        ConvAC(ModeTree.balanced(4), 2, widths)


def test_unbalanced_tree_per_height_widths_conflict():
    with pytest.raises(ValueError, match="different widths"):
        ConvAC(ModeTree.from_nested(((0, 1), 2)), 2, [2, 3])


def test_shared_weights():
    net = tc.deep(8, 2, 3, shared=True, seed=0)
    level1 = net.tree.levels()[1]
    assert all(net.weights[v] is net.weights[level1[0]] for v in level1)
    assert net.n_parameters == 2 * 3 + 3 * 3 + 3 * 3 + 3 * 1
    with pytest.raises(ValueError, match="one weight shape per height"):
        ConvAC(ModeTree.balanced(4), 2, {fs({0, 1}): 4, fs({2, 3}): 4,
               **{fs({i}): (2 if i < 2 else 3) for i in range(4)}}, shared=True)


def test_dtypes_and_feature_validation(rng):
    net32 = tc.deep(4, 2, 2, seed=0, dtype="float32")
    assert net32.weights[fs({0})].dtype == np.float32
    F = rng.standard_normal((3, 4, 2))
    assert net32.forward(F).dtype == np.float32
    net = tc.deep(4, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"features have shape \(4, 2\).*features\[None\]"):
        net.forward(F[0])
    with pytest.raises(ValueError, match="expected"):
        net.forward(F[:, :3])
    bad = F.copy()
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN.*\(1, 2, 0\)"):
        net.forward(bad)
    with pytest.raises(TypeError, match="complex"):
        net.forward(F.astype(complex))
    with pytest.raises(TypeError, match="dtype"):
        tc.deep(4, 2, 2, dtype="int32")
    np.testing.assert_allclose(net.forward(np.ones((1, 4, 2), dtype=int)), net.forward(np.ones((1, 4, 2))))


def test_coefficient_tensor_budget():
    net = tc.deep(16, 4, 2, seed=0)
    with pytest.raises(MemoryError, match=r"4\^16 entries.*GiB"):
        net.coefficient_tensor(max_bytes=2**20)
    with tc.option_context(max_dense_bytes=1000), pytest.raises(tc.TensorTooLargeError, match="would need"):
        tc.deep(8, 2, 2).coefficient_tensor()


def test_output_out_of_range():
    with pytest.raises(ValueError, match="output 3"):
        tc.deep(4, 2, 2, n_outputs=2).coefficient_tensor(output=3)


def test_log_forward_matches_plain_and_mpmath(rng):
    mpmath = pytest.importorskip("mpmath")
    net = tc.deep(8, 2, 3, seed=5, n_outputs=2)
    F = rng.standard_normal((4, 8, 2))
    sign, logabs = net.forward(F, log=True, engine="reference")
    np.testing.assert_allclose(sign * np.exp(logabs), net.forward(F, engine="reference"), rtol=1e-10)
    # scaled up: features x 1e40 multiply the output by 1e320, past float64; the log form stays exact
    sign_big, log_big = net.forward(F * 1e40, log=True, engine="reference")
    assert np.all(np.isfinite(log_big))
    expected = np.array([[float(mpmath.log(abs(mpmath.mpf(float(v))) * mpmath.mpf(10) ** 320))
                          for v in row] for row in net.forward(F, engine="reference")])
    np.testing.assert_allclose(log_big, expected, rtol=1e-12)
    np.testing.assert_array_equal(sign_big, sign)


@settings(deadline=None)
@given(st.integers(2, 7), st.integers(1, 3), st.integers(1, 3), st.integers(0, 10**6), st.booleans())
def test_save_load_roundtrip(tmp_path_factory, n, M, w, seed, shared):
    tree = ModeTree.random(n, seed=seed, shuffle=False) if not shared else ModeTree.balanced(4)
    net = ConvAC(tree, M, w, n_outputs=2, seed=seed, shared=shared)
    path = os.path.join(tmp_path_factory.mktemp("io"), "m.npz")
    net.save(path)
    back = ConvAC.load(path)
    assert back.tree == net.tree and back.widths == net.widths and back.shared == shared
    for v in tree.nodes:
        np.testing.assert_array_equal(back.weights[v], net.weights[v])
    with np.load(path, allow_pickle=False) as data:  # readable without pickle
        assert "__spec__" in data.files


def test_convnet_save_load_keeps_g(tmp_path):
    net = tc.ConvNet(ModeTree.balanced(4), 2, 2, g="relu_sum", seed=0)
    net.save(tmp_path / "r.npz")
    back = tc.ConvNet.load(tmp_path / "r.npz")
    assert back.g.name == "relu_sum"
    with pytest.raises(TypeError, match="not a ConvAC"):
        ConvAC.load(tmp_path / "r.npz")
    with pytest.raises(ValueError, match="custom pooling"):
        tc.ConvNet(ModeTree.balanced(4), 2, 2, g=np.add).save(tmp_path / "c.npz")


def test_grid_tensor_of_convac_is_coefficients_times_templates(rng):
    net = tc.deep(4, 3, 2, seed=7)
    T = rng.standard_normal((5, 3))
    A = net.coefficient_tensor()
    expected = np.einsum("abcd,ia,jb,kc,ld->ijkl", A, T, T, T, T)
    np.testing.assert_allclose(net.grid_tensor(T), expected, rtol=1e-10, atol=1e-14)
    # entry-wise: the forward pass on the chosen templates
    idx = (4, 0, 2, 1)
    np.testing.assert_allclose(net.grid_tensor(T)[idx], net.forward(T[list(idx)][None])[0, 0], rtol=1e-12)


def test_custom_g_checked():
    with pytest.raises(ValueError, match="not commutative"):
        tc.ConvNet(ModeTree.balanced(4), 2, 2, g=lambda a, b: a - b)
    with pytest.raises(ValueError, match="not associative"):
        tc.ConvNet(ModeTree.balanced(4), 2, 2, g=lambda a, b: (a + b) / 2)
    with pytest.raises(ValueError, match="unknown pooling operator"):
        tc.ConvNet(ModeTree.balanced(4), 2, 2, g="relu_min")


def test_representation_layers(rng):
    x = rng.standard_normal((3, 4, 2))
    rep = tc.GaussianDescriptors(5, 2, seed=0)
    out = rep(x)
    for b, i, d in [(0, 0, 0), (2, 3, 4), (1, 2, 1)]:
        dist = np.sum((x[b, i] - rep.means[d]) ** 2)
        assert out[b, i, d] == pytest.approx(np.exp(-dist / (2 * rep.sigmas[d] ** 2)))
    neuron = tc.NeuronDescriptors(3, 2, activation="relu", seed=0)
    np.testing.assert_allclose(neuron(x), np.maximum(np.einsum("bis,sm->bim", x, neuron.W) + neuron.b, 0))
    with pytest.raises(ValueError, match="expected"):
        rep(x[..., :1])
    net = tc.deep(4, 5, 2, seed=0)
    assert net.forward(rep(x)).shape == (3, 1)


def test_shortcut_models():
    assert tc.deep(16, 2, 2, pooling="interleaved").tree == ModeTree.interleaved(16)
    assert tc.deep((4, 4), 2, 2).tree == ModeTree.grid(4, 4)
    assert tc.shallow((2, 2), 2, 3).tree == ModeTree.flat(4)
    with pytest.raises(ValueError, match="pooling"):
        tc.deep(8, 2, 2, pooling="mirror")
    assert "ConvAC(n_inputs=8" in repr(tc.deep(8, 2, 2))


def test_convnet_product_has_coefficients_and_network(rng):
    tree = ModeTree.balanced(4)
    ac, net = ConvAC(tree, 2, 2, seed=4), tc.ConvNet(tree, 2, 2, g="product", seed=4)
    np.testing.assert_array_equal(net.coefficient_tensor(), ac.coefficient_tensor())
    assert net.to_tensor_network().n_tensors == 7
    relu = tc.ConvNet(tree, 2, 2, g="relu_max", seed=4)
    with pytest.raises(ValueError, match="grid_tensor"):
        relu.coefficient_tensor()
    with pytest.raises(ValueError, match="product pooling"):
        relu.to_tensor_network()


def test_tensor_network_contracts_to_the_coefficient_tensor(rng):
    net = ConvAC(ModeTree.from_nested(((0, 3), (1, 2, 5), 4)), 2, 3, seed=2)
    tn = net.to_tensor_network()
    assert tn.open_legs == tn.open_inds == tuple(f"d{i}" for i in range(6))
    A = net.coefficient_tensor()
    np.testing.assert_allclose(tn.contract(), A, rtol=1e-12)
    F = rng.standard_normal((4, 6, 2))
    np.testing.assert_allclose(tn.contract(features=F), brute_force_output(A, F), rtol=1e-12)
    # every window is one copy tensor (hyperedge): its children's output legs and its own input leg
    members = tn.index_members()
    for v in net.tree.internal_nodes:
        key = "c" + ",".join(map(str, sorted(v)))
        assert key in tn.hyperedges
        assert len(members[key]) == len(net.tree.children(v)) + 1


def test_shallow_and_deep_take_explicit_keywords_only():
    net = tc.shallow((2, 3), 2, 3, n_outputs=2, seed=1, dtype="float32", init="orthogonal")
    assert net.n_inputs == 6 and net.n_outputs == 2 and net.dtype == np.float32
    # the keywords reach the model: same seed, same weights
    again = tc.shallow((2, 3), 2, 3, n_outputs=2, seed=1, dtype="float32", init="orthogonal")
    for v in net.tree.nodes:
        np.testing.assert_array_equal(net.weights[v], again.weights[v])
    with pytest.raises(TypeError, match="seeed"):
        tc.shallow(4, 2, 2, seeed=1)
    with pytest.raises(TypeError, match="g"):
        tc.deep(4, 2, 2, g="relu_max")  # a ConvAC always pools by products


@pytest.mark.parametrize("bad, exc, match", [
    ((-2, -2), ValueError, "-2"), ((4, True), TypeError, "True"), (0, ValueError, "got 0"), (4.0, TypeError, "4.0"),
])
def test_non_positive_or_non_int_input_shapes_are_refused(bad, exc, match):
    # issue 10: shallow((-2, -2)) built 4 inputs
    with pytest.raises(exc, match=match):
        tc.shallow(bad, 2, 2)
    with pytest.raises(exc, match=match):
        tc.deep(bad, 2, 2)


def test_widths_as_numpy_array_and_huge_widths():
    net = ConvAC(ModeTree.balanced(4), 2, np.array([3, 2]), seed=0)
    assert net.weights[fs({0})].shape == (2, 3) and net.weights[fs({0, 1})].shape == (3, 2)
    with pytest.raises(tc.TensorTooLargeError, match="1099511627776"):
        tc.deep(8, 2**40, 2)  # issue 10: an empty MemoryError from numpy before
    with pytest.raises(tc.TensorTooLargeError, match="1099511627776"):
        tc.shallow(4, 2, 2**40)


def test_models_pickle_for_process_pools():
    """Models go to process pools by pickle: every kind round-trips after use (caches are dropped), and the
    copy computes what the original computes."""
    import pickle

    F = np.random.default_rng(0).standard_normal((3, 8, 2))
    tree = tc.ModeTree.balanced(8)
    models = [tc.deep(8, 2, 2, seed=0), tc.ConvNet(tree, 2, 2, g="relu_max", seed=0), tc.deep(8, 2, 2, shared=True),
              tc.DilatedConvNet(tree, 2, 2, seed=0),
              tc.MixedConvNet(tree, tc.ModeTree.interleaved(8), [], 2, 2, seed=0)]
    for m in models:
        before = m.forward(F)
        copy = pickle.loads(pickle.dumps(m))
        np.testing.assert_array_equal(copy.forward(F), before)
    rep = tc.NeuronDescriptors(4, 3, activation="sigmoid", seed=0)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(rep))(x), rep(x))
