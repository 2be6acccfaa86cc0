"""Accuracy of spectra and ranks through a cut (issue 10, sections 1 and 2), against independent references:
dense SVDs of coefficient tensors built bottom-up with numpy (tests/test_spectrum.dense_convac) or with
np.einsum, and an mpmath closed form for shallow nets of width 2."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opt_einsum import get_symbol
from test_spectrum import dense_convac, matricize

import tnconv as tc
from tnconv.exact import generic_schmidt_rank
from tnconv.measures import network_spectrum
from tnconv.spectrum import CutTooLargeError, SpectrumAccuracyWarning

EPS = np.finfo(np.float64).eps


def einsum_dense(tn) -> np.ndarray:
    """The network's tensor by one np.einsum over its own arrays (independent of tnconv's contraction)."""
    sym: dict = {}
    for ix in tn.inds:
        for i in ix:
            sym.setdefault(i, get_symbol(len(sym)))
    eq = ",".join("".join(sym[i] for i in ix) for ix in tn.inds) + "->" + "".join(sym[i] for i in tn.open_inds)
    return np.einsum(eq, *tn.arrays, optimize=True)


def assert_close_to_dense(s, dense, rel=1e-12):
    """Every value within ``rel * s_1`` of the dense SVD; dense values past ``s.size`` are below it."""
    s = np.asarray(s)
    k = min(s.size, dense.size)
    assert s.size == min(s.size, dense.size) or np.all(s[dense.size:] <= rel * dense[0])
    np.testing.assert_allclose(s[:k], dense[:k], rtol=0, atol=rel * dense[0])
    assert np.all(dense[k:] <= rel * dense[0])


def numpy_rank_is_ambiguous(dense: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether a dense singular value lies within a factor 30 of numpy's threshold max(shape) eps s_1:
    there rounding (of the dense SVD itself, or of the network form) can decide either way."""
    thr = max(shape) * EPS * dense[0]
    return bool(np.any((dense > thr / 30) & (dense < thr * 30)))


@st.composite
def convac_cases(draw):
    kind = draw(st.sampled_from(["random", "balanced", "balanced3", "interleaved", "grid", "grid_interleaved"]))
    M = draw(st.sampled_from([2, 3]))
    if kind == "random":
        n = draw(st.integers(2, 9 if M == 2 else 6))
        tree = tc.ModeTree.random(n, arity=(2, 4), seed=draw(st.integers(0, 2**31 - 1)))
    elif kind == "balanced":
        tree = tc.ModeTree.balanced(draw(st.sampled_from([4, 8] if M == 3 else [4, 8, 16])))
    elif kind == "balanced3":
        M = 2
        tree = tc.ModeTree.balanced(9, arity=3)
    elif kind == "interleaved":
        tree = tc.ModeTree.interleaved(draw(st.sampled_from([4, 8])))
    else:
        M = 2
        h, w = draw(st.sampled_from([(2, 2), (2, 4), (4, 2), (4, 4)]))
        tree = tc.ModeTree.grid(h, w, interleaved=kind == "grid_interleaved")
    n = tree.n_inputs
    widths = {}
    for v in tree.internal_nodes:
        w = draw(st.integers(1, 4))
        for c in tree.children(v):
            widths[c] = w
    k = draw(st.integers(1, n - 1))
    part = sorted(draw(st.permutations(range(n)))[:k])
    init = draw(st.sampled_from(["normal", "orthogonal"]))
    net = tc.ConvAC(tree, M, widths, n_outputs=2, seed=draw(st.integers(0, 2**31 - 1)), init=init)
    if draw(st.booleans()):
        # Ill-conditioned weights: columns scaled over six decades spread the spectrum over many more.
        rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
        net.set_weights({v: W * 10.0 ** rng.uniform(-3, 3, size=W.shape[1]) for v, W in net.weights.items()})
    return net, part, draw(st.integers(0, 1))


@settings(deadline=None)
@given(convac_cases())
def test_values_match_dense_svd_to_eps(case):
    net, part, output = case
    M = matricize(dense_convac(net, output), part)
    dense = np.linalg.svd(M, compute_uv=False)
    assume(dense[0] > 0)
    s = tc.schmidt_values(net, part, output=output)
    assert s.size == min(tc.min_cut(net, part).bound, *M.shape)
    assert_close_to_dense(s, dense)


@settings(deadline=None)
@given(convac_cases())
def test_rank_equals_dense_rank(case):
    net, part, output = case
    A = dense_convac(net, output)
    M = matricize(A, part)
    dense = np.linalg.svd(M, compute_uv=False)
    assume(dense[0] > 0 and not numpy_rank_is_ambiguous(dense, M.shape))
    expect = int(np.linalg.matrix_rank(M))  # numpy's own rule: max(rows, cols) * eps * s_1
    assert tc.schmidt_rank(net, part, output=output) == expect
    assert tc.schmidt_rank(A, part) == expect


@st.composite
def complex_cases(draw):
    n = draw(st.integers(2, 7))
    tree = tc.ModeTree.random(n, arity=(2, 3), seed=draw(st.integers(0, 2**31 - 1)))
    widths = {}
    for v in tree.internal_nodes:
        w = draw(st.integers(1, 3))
        for c in tree.children(v):
            widths[c] = w
    tn = tc.ConvAC(tree, 2, widths).to_tensor_network()
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    arrays = [rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape) for a in tn.arrays]
    k = draw(st.integers(1, n - 1))
    return tc.TensorNetwork(arrays, tn.inds, open_inds=tn.open_inds), sorted(draw(st.permutations(range(n)))[:k])


@settings(deadline=None)
@given(complex_cases())
def test_complex_networks_match_dense_svd(case):
    """Complex tensors with copy tensors (hyperedges): X Y^T without conjugation, R_L R_R^T as the core."""
    tn, part = case
    M = matricize(einsum_dense(tn), part)
    dense = np.linalg.svd(M, compute_uv=False)
    assert_close_to_dense(tc.schmidt_values(tn, part), dense)
    if not numpy_rank_is_ambiguous(dense, M.shape):
        assert tc.schmidt_rank(tn, part) == np.linalg.matrix_rank(M)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deep16_odd_even_rank_is_256(seed):
    """Issue 10 §1: the Gram recursion gave 148/163/222; dense SVD, GF(p) rank and the min cut give 256."""
    net = tc.deep(16, 2, 2, seed=seed)
    part = tc.partitions.odd_even(16)
    M = matricize(dense_convac(net), part)
    dense = np.linalg.svd(M, compute_uv=False)
    assert np.linalg.matrix_rank(M) == 256
    assert tc.schmidt_rank(net, part) == 256 == tc.schmidt_rank(net.coefficient_tensor(), part)
    assert_close_to_dense(tc.schmidt_values(net, part), dense)


def test_deep_4x4_center_periphery_rank_is_256():
    """Issue 10 §1: 240 before. The dense tensor (4^16 entries) is out of reach. Reference: 512 columns of
    [[A]]_I evaluated by forward passes on one-hot features (entries of A, independent of the spectrum
    code) already have rank 256 = 4^4, the number of rows, with a wide margin; the min cut is 256 too."""
    import itertools

    net = tc.deep((4, 4), 4, 4, seed=0)
    part = sorted(tc.partitions.center_periphery((4, 4)))
    rest = [i for i in range(16) if i not in part]
    idx = np.zeros((256, 512, 16), dtype=int)
    idx[:, :, part] = np.array(list(itertools.product(range(4), repeat=4)))[:, None, :]
    idx[:, :, rest] = np.random.default_rng(0).integers(0, 4, size=(512, 12))[None, :, :]
    sub = np.asarray(net.forward(np.eye(4)[idx.reshape(-1, 16)])).reshape(256, 512)
    d = np.linalg.svd(sub, compute_uv=False)
    assert d[-1] > 1e4 * 512 * EPS * d[0]  # unambiguous: rank 256
    assert tc.min_cut(net, part).bound == 256
    assert tc.schmidt_rank(net, part) == 256
    s = tc.schmidt_values(net, part, normalize=True)
    # The smallest value sits well above the rank threshold (rows 4^4, cols 4^12: rtol = 4^12 eps).
    assert s[-1] > 5 * tc.entanglement.default_rtol((256, 4**12)) * s[0]


def _shallow_width2_closed_form(net, part, dps=60):
    """Normalized Schmidt values of a width-2 shallow net from its weights, in mpmath.

    A = sum_k w_k u_k v_k^T with u_k = kron_{i in I} W_i[:, k], v_k = kron_{i not in I} W_i[:, k], so the
    squared values are the eigenvalues of D G_I D G_J with G_I[k, l] = prod_{i in I} <W_i[:, k], W_i[:, l]>
    (a 2 x 2 problem, products of thousands of factors carried at 60 digits).
    """
    import mpmath

    with mpmath.workdps(dps):
        tree = net.tree
        w = [mpmath.mpf(float(x)) for x in net.weights[tree.root][:, 0]]

        def gram(idx):
            G = [[mpmath.mpf(1)] * 2 for _ in range(2)]
            for i in idx:
                W = net.weights[frozenset({i})]
                for k in range(2):
                    for m in range(2):
                        G[k][m] *= mpmath.fsum(mpmath.mpf(float(W[x, k])) * mpmath.mpf(float(W[x, m]))
                                               for x in range(W.shape[0]))
            return mpmath.matrix(G)

        I = sorted(part)
        J = [i for i in range(tree.n_inputs) if i not in set(I)]
        D = mpmath.diag(w)
        C = D * gram(I) * D * gram(J)
        tr, det = C[0, 0] + C[1, 1], C[0, 0] * C[1, 1] - C[0, 1] * C[1, 0]
        disc = mpmath.sqrt(tr**2 - 4 * det)
        lam = [(tr + disc) / 2, (tr - disc) / 2]
        return np.array([float(mpmath.sqrt(x / (lam[0] + lam[1]))) for x in lam])


def test_shallow_2048_no_underflow_at_wide_copy_tensor():
    """Issue 10 §2: [1, 0] and a false "the tensor is zero" before; truth [0.99990859, 0.01352070]."""
    net = tc.shallow(2048, 2, 2, seed=2)
    part = tc.partitions.odd_even(2048)
    expect = _shallow_width2_closed_form(net, part)
    np.testing.assert_allclose(expect, [0.99990859, 0.01352070], atol=5e-9)
    # The model's network, compiled once for both calls (schmidt_values(net, ...) compiles the same
    # network; compiling 2048 inputs takes seconds, outside the spectrum).
    tn = net.to_tensor_network()
    s = tc.schmidt_values(tn, part, normalize=True)
    np.testing.assert_allclose(s, expect, rtol=0, atol=1e-13)
    p = _shallow_width2_closed_form(net, [0]) ** 2
    h = tc.entanglement_entropy(tn, [0])  # raised "the tensor is zero" before
    assert h == pytest.approx(float(-(p * np.log(p)).sum()), rel=1e-10)


def test_values_are_not_zeroed_and_cutoff_is_optional():
    """Rank-1 network (width 1): the second value is at the rounding level, not set to 0 unless asked."""
    net = tc.deep(8, 2, 1, seed=0)
    part = [0, 1, 2, 3]
    M = matricize(dense_convac(net), part)
    dense = np.linalg.svd(M, compute_uv=False)
    s = tc.schmidt_values(net, part)
    assert s.size == 1 and s[0] == pytest.approx(dense[0], rel=1e-12)
    net2 = tc.deep(8, 2, 2, seed=0)
    d2 = np.linalg.svd(matricize(dense_convac(net2), part), compute_uv=False)
    s2 = tc.schmidt_values(net2, part, cutoff=0.999 * d2[1] / d2[0])
    assert s2[1] > 0
    s3 = tc.schmidt_values(net2, part, cutoff=1.001 * d2[1] / d2[0])
    assert s3[1] == 0 and s3[0] == pytest.approx(d2[0], rel=1e-12)
    A = net2.coefficient_tensor()
    np.testing.assert_array_equal(tc.schmidt_values(A, part, cutoff=1.001 * d2[1] / d2[0])[1:], 0)
    assert np.linalg.norm(tc.schmidt_values(A, part, normalize=True)) == pytest.approx(1.0)


def ladder(L: int, bond: int, seed: int) -> tc.TensorNetwork:
    """A 2 x L PEPS (a ladder: one cycle per plaquette), physical dimension 2."""
    rng = np.random.default_rng(seed)
    sites = [(r, c) for c in range(L) for r in range(2)]
    inds = {s: [f"p{s[0]}{s[1]}"] for s in sites}
    for r, c in sites:
        for nb in ((r + 1, c), (r, c + 1)):
            if nb in inds:
                b = f"b{r}{c}-{nb[0]}{nb[1]}"
                inds[(r, c)].append(b)
                inds[nb].append(b)
    arrays = [rng.standard_normal((2,) + (bond,) * (len(inds[s]) - 1)) for s in sites]
    return tc.TensorNetwork(arrays, [inds[s] for s in sites], open_inds=[inds[s][0] for s in sites])


def test_loopy_sides_direct_and_gram_fallback():
    """Sides with cycles: X contracted and QR-factorized (eps accuracy); over the budget, the Gram
    fallback warns and is accurate to about sqrt(eps) only."""
    tn = ladder(6, 2, seed=5)
    part = list(range(6))  # the left three rungs: each side is a ladder with cycles, cut = 2 bonds
    M = matricize(einsum_dense(tn), part)
    dense = np.linalg.svd(M, compute_uv=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpectrumAccuracyWarning)
        sp = network_spectrum(tn, part)
    assert sp.cut_dim == 4 and not sp.gram_fallback
    assert_close_to_dense(sp.values, dense)
    with pytest.warns(SpectrumAccuracyWarning, match="sqrt"):
        sp = network_spectrum(tn, part, max_bytes=3000)
    assert sp.gram_fallback
    np.testing.assert_allclose(sp.values, dense[:4], rtol=0, atol=1e-7 * dense[0])


@pytest.mark.parametrize("bad", [math.nan, -1.0, math.inf, -math.inf])
def test_bad_tolerances_are_refused(bad):
    net = tc.deep(4, 2, 2, seed=0)
    A = net.coefficient_tensor()
    for obj in (net, A):
        shown = "nan" if bad != bad else "inf" if abs(bad) == math.inf else "-1"
        with pytest.raises(ValueError, match="cutoff.*" + shown):
            tc.schmidt_values(obj, [0], cutoff=bad)
        with pytest.raises(ValueError, match="rtol"):
            tc.schmidt_rank(obj, [0], rtol=bad)
        with pytest.raises(ValueError, match="max_bytes"):
            tc.schmidt_values(obj, [0], max_bytes=bad)
    with pytest.raises(TypeError, match="rtol"):
        tc.schmidt_rank(A, [0], rtol=True)


@pytest.mark.parametrize("base", [1, 1.0, -2, 0, math.nan, math.inf])
def test_bad_entropy_base_is_refused(base):
    for obj in (tc.deep(4, 2, 2, seed=0), np.eye(2)):
        with pytest.raises(ValueError, match=f"base.*{base!r}"):
            tc.entanglement_entropy(obj, [0], base=base)
    with pytest.raises(TypeError, match="base"):
        tc.entanglement_entropy(np.eye(2), [0], base="2")
    assert tc.entanglement_entropy(np.eye(2), [0], base=2) == pytest.approx(1.0)


@pytest.mark.parametrize("fn, kw", [
    (tc.schmidt_values, {"max_cutdim": 4}),
    (tc.schmidt_values, {"normalise": True}),
    (tc.schmidt_rank, {"rtoll": 1e-3}),
    (tc.entanglement_entropy, {"cut_off": 0.1}),
    (tc.geometric_measure, {"max_cut": 4}),
])
def test_misspelled_keywords_raise(fn, kw):
    for obj in (tc.deep(4, 2, 2, seed=0), np.eye(2)):
        with pytest.raises(TypeError, match=next(iter(kw))):
            fn(obj, [0], **kw)


def test_network_only_options_refused_for_dense():
    A = np.eye(4).reshape(2, 2, 2, 2)
    for kw in ({"max_cut_dim": 8}, {"method": "tree"}):
        with pytest.raises(TypeError, match=next(iter(kw))):
            tc.schmidt_values(A, [0], **kw)
        with pytest.raises(TypeError, match=next(iter(kw))):
            tc.schmidt_rank(A, [0], **kw)
    with pytest.raises(ValueError, match="output=1"):
        tc.schmidt_values(A, [0], 1)
    tn = tc.deep(4, 2, 2, seed=0).to_tensor_network()
    with pytest.raises(ValueError, match="output=1"):
        tc.schmidt_values(tn, [0], output=1)
    with pytest.raises(TypeError, match=r"normalize.*'no'"):
        tc.schmidt_values(tn, [0], normalize="no")
    with pytest.raises(TypeError, match=r"max_cut_dim.*True"):
        tc.schmidt_values(tn, [0], max_cut_dim=True)


def test_min_cut_claim_is_qualified():
    """The min cut bounds the rank; it equals the generic rank for unshared weights (dims powers of 2
    here) but not for shared weights: ((2, 1, 0), 4, 3) across {0, 2} has min cut 4, generic rank 3."""
    tree = tc.ModeTree.from_nested(((2, 1, 0), 4, 3))
    shared = tc.ConvAC(tree, 2, 4, shared=True, seed=0)
    unshared = tc.ConvAC(tree, 2, 4, seed=0)
    part = [0, 2]
    assert tc.min_cut(shared, part).bound == 4 == tc.min_cut(unshared, part).bound
    assert generic_schmidt_rank(shared, part) == 3 == np.linalg.matrix_rank(matricize(dense_convac(shared), part))
    assert generic_schmidt_rank(unshared, part) == 4
    assert tc.schmidt_rank(shared, part) == 3 and tc.schmidt_rank(unshared, part) == 4
    with pytest.raises(CutTooLargeError) as info:
        tc.schmidt_values(tc.deep(8, 2, 2, seed=0), [0, 2, 4], max_cut_dim=4)
    msg = str(info.value)
    assert "upper bound" in msg and "unshared" in msg and "exact for generic weights" not in msg


def test_default_rtol_rule():
    """min(max(rows, cols) eps, sqrt(eps)): numpy's rule for small shapes, capped for huge ones."""
    rt = tc.entanglement.default_rtol
    assert rt((3, 7)) == 7 * EPS
    assert rt((4**512, 2)) == math.sqrt(EPS)
    assert rt((10, 10), np.float32) == 10 * np.finfo(np.float32).eps
    assert rt((10**6, 2), np.float32) == pytest.approx(math.sqrt(np.finfo(np.float32).eps))
    assert rt((5, 5), np.complex64) == 5 * np.finfo(np.float32).eps
