"""Exact Schmidt spectra through a min cut, checked against dense SVDs built in this file and, at
N = 256/512, against an independent Gram recursion through the root window (well-conditioned orthogonal
weights, where the Gram recursion's sqrt(eps) accuracy suffices). Accuracy to eps: test_spectrum_accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import mps_einsum
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.measures import network_schmidt_values
from tnconv.spectrum import CutTooLargeError


def dense_convac(model, output: int = 0) -> np.ndarray:
    """The coefficient tensor from the model's weights, bottom-up with numpy (independent of tnconv)."""
    tree = model.tree
    phi = {}
    for v in tree.nodes:
        W = model.weights[v]
        if v == tree.root:
            W = W[:, output : output + 1]
        if tree.is_leaf(v):
            phi[v] = (W, [next(iter(v))])
            continue
        cur, modes = None, []
        for u in tree.children(v):
            t, m = phi.pop(u)
            if cur is None:
                cur, modes = t, m
                continue
            a = cur.reshape(cur.shape[:-1] + (1,) * (t.ndim - 1) + (cur.shape[-1],))
            cur = a * t.reshape((1,) * (cur.ndim - 1) + t.shape)
            modes = modes + m
        order = np.argsort(modes)
        cur = np.transpose(cur, list(order) + [cur.ndim - 1])
        phi[v] = (np.tensordot(cur, W, axes=([cur.ndim - 1], [0])), sorted(modes))
    return phi[tree.root][0][..., 0]


def matricize(A, part):
    I = sorted(part)
    J = [k for k in range(A.ndim) if k not in set(I)]
    return np.transpose(A, I + J).reshape(int(np.prod([A.shape[k] for k in I])), -1)


def assert_spectra_match(s, dense, rel=1e-7):
    """Values above 1e-6 s_1 agree to ``rel``; the rest of the dense spectrum is below that."""
    s = np.asarray(s)
    floor = 1e-6 * dense[0]
    k = int(np.count_nonzero(dense > floor))
    assert np.count_nonzero(s > floor) == k
    np.testing.assert_allclose(s[:k], dense[:k], rtol=rel * 10, atol=rel * dense[0])


@st.composite
def tree_cases(draw):
    M = draw(st.sampled_from([2, 3]))
    n = draw(st.integers(2, 8 if M == 2 else 6))
    tree = tc.ModeTree.random(n, arity=(2, 4), seed=draw(st.integers(0, 2**31 - 1)))
    width = {}
    for v in tree.internal_nodes:
        w = draw(st.integers(1, 4))
        for c in tree.children(v):
            width[c] = w
    k = draw(st.integers(1, n - 1))
    part = frozenset(draw(st.permutations(range(n)))[:k])
    return tree, M, width, part, draw(st.integers(0, 2**31 - 1))


@settings(deadline=None)
@given(tree_cases())
def test_matches_dense_svd_on_random_trees(case):
    tree, M, width, part, seed = case
    net = tc.ConvAC(tree, M, width, n_outputs=2, seed=seed, init="orthogonal")
    for output in (0, 1):
        A = dense_convac(net, output)
        dense = np.linalg.svd(matricize(A, part), compute_uv=False)
        s = network_schmidt_values(net, part, output=output)
        assert s.size <= tc.min_cut(net, part).bound
        assert_spectra_match(s, dense)


def test_entanglement_measures_dispatch_to_networks():
    net = tc.deep(8, 2, 3, seed=1, init="orthogonal")
    A = dense_convac(net)
    part = [0, 2, 5]
    d = np.linalg.svd(matricize(A, part), compute_uv=False)
    p = d**2 / np.sum(d**2)
    assert tc.entanglement_entropy(net, part) == pytest.approx(-np.sum(p * np.log(p)), rel=1e-9)
    assert tc.geometric_measure(net, part) == pytest.approx(1 - p[0], rel=1e-9)
    assert tc.schmidt_rank(net, part) == np.linalg.matrix_rank(matricize(A, part))
    np.testing.assert_allclose(tc.schmidt_values(net.to_tensor_network(), part)[:8], d[:8], rtol=1e-8)


def mps(n, d, chi, complex_=False, seed=0):
    rng = np.random.default_rng(seed)
    eq, shapes = mps_einsum(n, d, chi)
    arrays = [rng.standard_normal(s) + (1j * rng.standard_normal(s) if complex_ else 0) for s in shapes]
    return eq, arrays


@pytest.mark.parametrize("complex_", [False, True])
def test_mps_spectrum_matches_dense(complex_):
    eq, arrays = mps(7, 2, 3, complex_=complex_)
    tn = tc.TensorNetwork.from_einsum(eq, [a.shape for a in arrays], arrays=arrays)
    A = np.einsum(eq, *arrays)
    for part in ([0, 1, 2], [3], [0, 6], [1, 3, 5]):
        dense = np.linalg.svd(matricize(A, part), compute_uv=False)
        assert_spectra_match(network_schmidt_values(tn, part), dense)


def peps_tn(h, w, d, chi, seed=0):
    """A random PEPS on an h x w grid with physical dimension d and bond chi (einsum import)."""
    from opt_einsum import get_symbol

    sym = iter(get_symbol(k) for k in range(10_000))
    legs = {(r, c): [next(sym)] for r in range(h) for c in range(w)}
    shapes = {rc: [d] for rc in legs}
    for r in range(h):
        for c in range(w):
            for nb in ((r, c + 1), (r + 1, c)):
                if nb in legs:
                    x = next(sym)
                    for site in ((r, c), nb):
                        legs[site].append(x)
                        shapes[site].append(chi)
    rng = np.random.default_rng(seed)
    eq = ",".join("".join(legs[rc]) for rc in legs) + "->" + "".join(legs[rc][0] for rc in legs)
    arrays = [rng.standard_normal(shapes[rc]) for rc in legs]
    return tc.TensorNetwork.from_einsum(eq, [a.shape for a in arrays], arrays=arrays)


def test_loopy_peps_spectrum_matches_dense():
    tn = peps_tn(3, 3, 2, 2, seed=3)
    eq = ",".join("".join(ix) for ix in tn.inds) + "->" + "".join(tn.open_inds)
    A = np.einsum(eq, *tn.arrays, optimize=True)
    for part in ([4], [0, 1, 3, 4], [0, 2, 6, 8]):
        dense = np.linalg.svd(matricize(A, part), compute_uv=False)
        assert_spectra_match(network_schmidt_values(tn, part), dense)


def root_gram_spectrum(net):
    """Left/right spectrum of a binary contiguous ConvAC through its root window, by the Gram
    recursion G_v = W_v^T (G_child1 * G_child2) W_v (rescaled, logs kept)."""
    tree = net.tree
    G, logs = {}, {}
    for v in tree.nodes:
        W = net.weights[v]
        if tree.is_leaf(v):
            g, lg = W.T @ W, 0.0
        elif v != tree.root:
            a, b = tree.children(v)
            g = W.T @ (G[a] * G[b]) @ W
            lg = logs[a] + logs[b]
        else:
            continue
        m = np.abs(g).max()
        G[v], logs[v] = g / m, lg + math.log(m)
    a, b = tree.children(tree.root)

    def half(g):
        w, U = np.linalg.eigh(g)
        return np.sqrt(np.clip(w, 0, None))[:, None] * U.T

    s = np.linalg.svd(half(G[a]) @ np.diag(net.weights[tree.root][:, 0]) @ half(G[b]).T, compute_uv=False)
    return s, (logs[a] + logs[b]) / 2


@pytest.mark.parametrize("N,w", [(256, 3), (512, 4)])
def test_large_network_left_right(N, w):
    net = tc.deep(N, 2, w, seed=0, init="orthogonal")
    expect, log_scale = root_gram_spectrum(net)
    got = network_schmidt_values(net, tc.partitions.left_right(N), normalize=True)
    np.testing.assert_allclose(got, expect / np.linalg.norm(expect), rtol=1e-7, atol=1e-9)
    assert np.linalg.norm(got) == pytest.approx(1.0)
    raw = network_schmidt_values(net, tc.partitions.left_right(N))
    np.testing.assert_allclose(np.log(raw[0]), np.log(expect[0]) + log_scale, rtol=1e-9)


def test_large_network_multi_block_partition():
    """N = 256, I = 8 scattered blocks of 4: cut of dimension <= 2^8, all of it feasible."""
    net = tc.deep(256, 2, 2, seed=2, init="orthogonal")
    part = [i for b in range(0, 256, 32) for i in range(b, b + 4)]
    cut = tc.min_cut(net, part)
    s = network_schmidt_values(net, part, normalize=True)
    assert s.size == cut.bound <= 4096
    assert np.all(np.diff(s) <= 1e-12) and np.linalg.norm(s) == pytest.approx(1.0)


def test_too_large_cut_suggests_min_cut():
    net = tc.deep(64, 2, 2, seed=0)
    with pytest.raises(CutTooLargeError, match="min_cut") as info:
        network_schmidt_values(net, tc.partitions.odd_even(64))
    assert isinstance(info.value, MemoryError) and info.value.bound == 2**32
    with pytest.raises(MemoryError, match="max_cut_dim=4"):
        tc.schmidt_values(tc.deep(8, 2, 2, seed=0), [0, 2, 4], max_cut_dim=4)
    assert network_schmidt_values(tc.deep(8, 2, 2, seed=0), [0, 2, 4], max_cut_dim=8).size == 8


def test_bad_input():
    with pytest.raises((TypeError, ValueError), match=r"to_tensor_network|product"):
        network_schmidt_values(tc.ConvNet(tc.ModeTree.balanced(4), 2, 2, g="relu_max"), [0])
    shape_only = tc.TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 2)])
    with pytest.raises(ValueError, match="shape-only"):
        network_schmidt_values(shape_only, [0])
    with pytest.raises(ValueError, match="max_cut_dim"):
        network_schmidt_values(tc.deep(4, 2, 2), [0], max_cut_dim=0)
    with pytest.raises(ValueError, match="duplicated"):
        network_schmidt_values(tc.deep(4, 2, 2), [0, 0])


def test_spectrum_follows_new_weights():
    """The cut structure is cached per model, but the spectrum must use the current weights."""
    net = tc.deep(8, 2, 2, seed=0, init="orthogonal")
    part = [0, 1, 4]
    network_schmidt_values(net, part)
    rng = np.random.default_rng(7)
    net.set_weights({v: rng.standard_normal(w.shape) for v, w in net.weights.items()})
    dense = np.linalg.svd(matricize(dense_convac(net), part), compute_uv=False)
    assert_spectra_match(network_schmidt_values(net, part), dense)


def test_disconnected_network_with_a_scalar():
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((4, 2)), np.array(-2.0)]
    tn = tc.TensorNetwork.from_einsum("ab,cd,->abcd", [a.shape for a in arrays], arrays=arrays)
    A = np.einsum("ab,cd,->abcd", *arrays)
    for part, bound in (([0], 2), ([0, 2], 4), ([1, 3], 4), ([0, 1], 1)):
        assert tc.min_cut(tn, part).bound == bound
        dense = np.linalg.svd(matricize(A, part), compute_uv=False)
        assert_spectra_match(network_schmidt_values(tn, part), dense)


def test_dilated_network_spectrum_and_bound():
    """Per-child-matrix (dilated) networks are trees too: bound >= rank, spectrum = dense SVD of an
    einsum over the network's own arrays."""
    if not hasattr(tc, "DilatedConvNet"):
        pytest.skip("DilatedConvNet not available")
    net = tc.DilatedConvNet(tc.ModeTree.dilated(3, [2, 1, 4]), 2, 2, seed=3)
    tn = net.to_tensor_network()
    from opt_einsum import get_symbol

    sym = {}
    for ix in tn.inds:
        for i in ix:
            sym.setdefault(i, get_symbol(len(sym)))
    eq = ",".join("".join(sym[i] for i in ix) for ix in tn.inds) + "->" + "".join(sym[i] for i in tn.open_inds)
    A = np.einsum(eq, *tn.arrays, optimize=True)
    for part in ([1, 3, 5, 7], [0, 5], [0, 1, 2, 3], [2, 6]):
        cut = tc.min_cut(tn, part)
        assert cut.method == "tree" and cut.bound == tc.min_cut(tn, part, method="networkx").bound
        M = matricize(A, part)
        assert cut.bound >= np.linalg.matrix_rank(M)
        assert_spectra_match(network_schmidt_values(tn, part), np.linalg.svd(M, compute_uv=False))


def test_unnormalized_overflow_is_a_clear_error():
    from tnconv.spectrum import SpectrumRangeError

    net = tc.deep(2048, 2, 8, seed=0, init="orthogonal")
    with pytest.raises(OverflowError, match="normalize=True"):
        network_schmidt_values(net, tc.partitions.left_right(2048))
    s = network_schmidt_values(net, tc.partitions.left_right(2048), normalize=True)
    assert s.size == 8 and np.linalg.norm(s) == pytest.approx(1.0)
    assert issubclass(SpectrumRangeError, FloatingPointError)
