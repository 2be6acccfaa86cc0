"""The level-batched spectrum engine: against dense SVDs, against the per-node engine, and its caches."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_spectrum import dense_convac, matricize
from test_spectrum_accuracy import assert_close_to_dense

import tnconv as tc
from tnconv import partitions
from tnconv.measures import model_network, network_spectrum
from tnconv.spectrum import batched, cut_spectrum


def _staircase_everywhere(monkeypatch, on: bool) -> None:
    # The staircase QR of Khatri-Rao products runs from width 9 by default; forcing it from width 2
    # exercises it on networks small enough for a dense SVD.
    monkeypatch.setattr(batched, "STAIRCASE_MIN", 2 if on else 10**9)


@st.composite
def wide_cases(draw):
    """Trees, partitions and widths with enough descriptors that the leaves' messages are QR'd
    (triangular), so Khatri-Rao products of triangular factors occur; dense tensors up to 2^18."""
    kind = draw(st.sampled_from(["random", "balanced", "grid"]))
    if kind == "random":
        n = draw(st.integers(2, 5))
        tree = tc.ModeTree.random(n, arity=(2, 4), seed=draw(st.integers(0, 2**31 - 1)))
    elif kind == "balanced":
        tree = tc.ModeTree.balanced(4)
    else:
        tree = tc.ModeTree.grid(2, 2)
    n = tree.n_inputs
    M = draw(st.integers(2, {2: 64, 3: 32, 4: 16, 5: 10}[n]))
    widths = {}
    for v in tree.internal_nodes:
        w = draw(st.integers(1, 12))
        for c in tree.children(v):
            widths[c] = w
    k = draw(st.integers(1, n - 1))
    part = sorted(draw(st.permutations(range(n)))[:k])
    net = tc.ConvAC(tree, M, widths, seed=draw(st.integers(0, 2**31 - 1)))
    if draw(st.booleans()):
        rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
        net.set_weights({v: W * 10.0 ** rng.uniform(-3, 3, size=W.shape[1]) for v, W in net.weights.items()})
    return net, part, draw(st.booleans())


@settings(deadline=None)
@given(wide_cases())
def test_batched_values_match_dense_svd(case):
    net, part, staircase = case
    dense = np.linalg.svd(matricize(dense_convac(net), part), compute_uv=False)
    assume(dense[0] > 0)
    mp = pytest.MonkeyPatch()
    try:
        _staircase_everywhere(mp, staircase)
        s = tc.schmidt_values(net, part)
    finally:
        mp.undo()
    assert_close_to_dense(s, dense)


def test_staircase_blocks_cover_every_row_once():
    for n in (2, 5, 9, 32):
        order, blocks = batched.staircase(n)
        assert sorted(order.tolist()) == list(range(n * n))
        assert blocks[0][1] == 0 and blocks[-1][2] == n * n and blocks[-1][0] == 0
        for (lo, r0, r1), nxt in zip(blocks, blocks[1:] + ((None, n * n, None),)):
            assert r1 == nxt[1]
            i, j = np.divmod(order[r0:r1], n)
            assert np.all(np.maximum(i, j) >= lo)  # each block's rows are zero left of its columns


def test_staircase_r_factor_matches_dense_qr(rng):
    n, B = 12, 5
    A = np.triu(rng.standard_normal((B, n, n)))
    Bm = np.triu(rng.standard_normal((B, n, n)))
    fold = batched.BatchFold(np, None)
    R, cols, tri = fold.kr_triangular(A, Bm, (0,))
    KR = (A[:, :, None, :] * Bm[:, None, :, :]).reshape(B, n * n, n)
    for b in range(B):
        ref = np.linalg.svd(KR[b], compute_uv=False)
        got = np.linalg.svd(R[b], compute_uv=False)
        # Each matrix is divided by its own top entry (the logs are summed): compare the spectra's ratios.
        np.testing.assert_allclose(got / got[0], ref / ref[0], rtol=0, atol=1e-13)
    assert tri and cols == (0,) and R.shape == (B, n, n)
    assert np.allclose(np.tril(R, -1), 0)


@pytest.mark.parametrize("shape, M, w", [(64, 4, 8), ((8, 8), 6, 12), (32, 16, 10)])
def test_levels_engine_matches_per_node_engine(shape, M, w):
    """Medium networks (no dense tensor): the stacked engine against every vertex folded alone."""
    net = tc.deep(shape, M, w, seed=3)
    n = net.n_inputs
    block = partitions.contiguous_block(n, n // 4, n // 8) if isinstance(shape, int) else partitions.top_bottom(shape)
    for part in (partitions.left_right(shape), block):
        cut = tc.min_cut(net, part)
        tn = model_network(net)
        assert cut.bound <= 4096
        a = cut_spectrum(tn, cut.part, cut.tensor_sides(), normalize=True)
        b = cut_spectrum(tn, cut.part, cut.tensor_sides(), normalize=True, engine="nodes")
        np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-13)


def test_model_network_cache_follows_weights():
    net = tc.deep(8, 3, 4, seed=0)
    tn = model_network(net)
    assert model_network(net) is tn
    part = [0, 1, 2, 3]
    before = tc.schmidt_values(net, part)
    v = net.tree.root
    net.weights[v] = net.weights[v] * 2.0  # a replaced array recompiles
    assert model_network(net) is not tn
    np.testing.assert_allclose(tc.schmidt_values(net, part), 2 * before, rtol=1e-12)
    net.weights[v][...] *= 0.5  # an in-place edit reaches the cached network (it holds the same array)
    np.testing.assert_allclose(tc.schmidt_values(net, part), before, rtol=1e-12)
    dense = np.linalg.svd(matricize(dense_convac(net), part), compute_uv=False)
    assert_close_to_dense(tc.schmidt_values(net, part), dense)


def test_concurrent_calls_agree():
    """Caches (network, structure, plans) shared by threads: every thread gets the dense answer."""
    net = tc.deep(8, 3, 5, seed=2)
    parts = [partitions.left_right(8), partitions.odd_even(8), [0, 5, 6]]
    dense = {tuple(p): np.linalg.svd(matricize(dense_convac(net), p), compute_uv=False) for p in parts}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for j in range(6):
                p = parts[(k + j) % len(parts)]
                assert_close_to_dense(tc.schmidt_values(net, p), dense[tuple(p)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_unknown_engine_is_refused():
    net = tc.deep(4, 2, 2, seed=0)
    cut = tc.min_cut(net, [0, 1])
    with pytest.raises(ValueError, match="engine"):
        cut_spectrum(model_network(net), cut.part, cut.tensor_sides(), engine="fast")


def test_memory_is_tracked_and_budget_refuses_large_messages():
    net = tc.deep(16, 8, 8, seed=0)
    sp = network_spectrum(net, partitions.left_right(16))
    assert sp.largest_intermediate > 0
    with pytest.raises(MemoryError, match="message"):
        network_spectrum(net, partitions.left_right(16), max_bytes=4096)


@pytest.mark.parametrize("chunk_bytes, block_bytes", [(1, 2**24), (2**24, 2**24), (2**24, 100), (1, 300)])
def test_replayed_plan_matches_dense_svd(monkeypatch, chunk_bytes, block_bytes):
    """The first call records a plan (chunk bounds, where every stacked factor comes from, when each
    level's messages are freed); later calls replay it on the current weights. Tiny chunks force many
    chunks per level, so factors are gathered from runs of several earlier batches; tiny blocks fold
    the subtrees group by group (:func:`schedule`) rather than level by level."""
    from tnconv.spectrum import forest

    monkeypatch.setattr(forest, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(forest, "BLOCK_BYTES", block_bytes)
    net = tc.deep((4, 4), 2, 3, seed=5)
    rng = np.random.default_rng(1)
    for part in (partitions.left_right((4, 4)), partitions.checkerboard((4, 4)), [0, 3, 5, 6, 15]):
        for _ in range(2):  # record, then replay on new weights of the same structure
            dense = np.linalg.svd(matricize(dense_convac(net), part), compute_uv=False)
            assert_close_to_dense(tc.schmidt_values(net, part), dense)
            for W in net.weights.values():
                W[...] = rng.standard_normal(W.shape)
        net = tc.deep((4, 4), 2, 3, seed=5)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_weight_is_named(bad):
    """float64 weights are checked only when a result is not finite; the error still names the tensor."""
    net = tc.deep(8, 3, 4, seed=0)
    part = partitions.left_right(8)
    h = tc.entanglement_entropy(net, part)  # a warm plan, then the bad value in place
    v = list(net.weights)[2]
    net.weights[v][0, 0] = bad
    for fn in (tc.schmidt_values, tc.entanglement_entropy):
        with pytest.raises(ValueError, match=r"tensor \d+ contains NaN or infinite values"):
            fn(net, part)
    net.weights[v][0, 0] = 0.5
    assert np.isfinite(tc.entanglement_entropy(net, part)) and h >= 0


@pytest.mark.parametrize("block", [0.0, 3.0, 7.0, 1e9])
def test_schedule_orders_children_first_and_bounds_groups(block):
    """Against a brute-force check on a random forest: every vertex once, after all its children; a
    group of subtrees (under ``block``) is finished before the next starts."""
    from tnconv.spectrum.forest import schedule

    rng = np.random.default_rng(3)
    parent = {0: -1, 40: -1}
    for v in range(1, 40):
        parent[v] = int(rng.integers(0, v))
    for v in range(41, 60):
        parent[v] = int(rng.integers(40, v))
    weight = {v: float(rng.integers(0, 3)) for v in parent}
    levels = schedule(parent, weight, block)
    seen = [v for level in levels for v in level]
    assert sorted(seen) == sorted(parent)
    when = {v: k for k, level in enumerate(levels) for v in level}
    for v, p in parent.items():
        if p >= 0:
            assert when[v] < when[p]

    def height(v: int) -> int:
        return 1 + max((height(c) for c, p in parent.items() if p == v), default=-1)

    if block >= 1e9:  # everything fits: the plain level order, by height
        assert [sorted(level) for level in levels] == [
            sorted(v for v in parent if height(v) == k) for k in range(1 + max(map(height, parent)))]
    if block == 0.0:  # only zero-weight subtrees are grouped; the rest goes level by level
        assert all(len({height(v) for v in level}) == 1 for level in levels)


def test_square_factors_take_the_staircase_after_their_own_qr(rng):
    """Two batches of square, not triangular, n x n messages meeting at a kept copy index: each is made
    triangular first, then the staircase QR; the R must have the singular values of the dense KR."""
    from collections import Counter

    n, B = 10, 4
    A = rng.standard_normal((B, n, n))
    Bm = rng.standard_normal((B, n, n))
    fold = batched.BatchFold(np, None)
    calls = []
    staircase_kr = fold.kr_triangular
    fold.kr_triangular = lambda *a: calls.append(1) or staircase_kr(*a)  # type: ignore[method-assign]
    R, cols, tri = fold.combine((A, (0,), False), (Bm, (0,), False), {0: "o"}, Counter({0: 3}))
    assert calls and tri and cols == (0,) and R.shape == (B, n, n)
    KR = (A[:, :, None, :] * Bm[:, None, :, :]).reshape(B, n * n, n)
    for b in range(B):
        ref = np.linalg.svd(KR[b], compute_uv=False)
        got = np.linalg.svd(R[b], compute_uv=False)
        np.testing.assert_allclose(got / got[0], ref / ref[0], rtol=0, atol=1e-13)
