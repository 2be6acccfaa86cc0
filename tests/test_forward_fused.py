"""The fused level engine (bands of levels per task) against an independent einsum forward.

The oracle contracts the network node by node with ``np.einsum`` in extended precision
(``np.longdouble``) from the model's definition: ``h_v = (pool of the children's h) @ W_v``, with the leaf
``h_v = x_i @ W_v``. It shares no code with the engines.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tnconv as tc
from tnconv.contract import levels
from tnconv.contract.stacks import group_weights, packed_view


def einsum_forward(model, F):
    tree = model.tree
    F = np.asarray(F, dtype=np.longdouble)
    acts = {}
    for v in tree.nodes:
        W = np.asarray(model.weights[v], dtype=np.longdouble)
        if tree.is_leaf(v):
            x = F[:, next(iter(v)), :]
        else:
            kids = [acts[c] for c in tree.children(v)]
            if model.g.is_product:
                x = kids[0]
                for k in kids[1:]:
                    x = np.einsum("bi,bi->bi", x, k)
            else:  # relu_max / relu_sum
                st = np.maximum(np.stack(kids), 0)
                x = st.max(axis=0) if model.g.name == "relu_max" else st.sum(axis=0)
        acts[v] = np.einsum("bi,ij->bj", x, W)
    return acts[tree.root]


SHAPES = [16, 64, (4, 4), (8, 8), 27]


def _net(shape, dtype, g="product", n_outputs=2):
    arity = 3 if shape == 27 else None
    if g == "product":
        return tc.deep(shape, 3, 4, arity=arity, seed=1, dtype=dtype, n_outputs=n_outputs)
    tree = tc.deep(shape, 3, 4, arity=arity).tree
    return tc.ConvNet(tree, 3, 4, g=g, seed=1, dtype=dtype, n_outputs=n_outputs)


@pytest.fixture(params=[64, 4096, 1 << 21], ids=["tiny-chunks", "mid-chunks", "default-chunks"])
def chunk(request, monkeypatch):
    monkeypatch.setattr(levels, "CHUNK_BYTES", request.param)
    monkeypatch.setattr(levels, "MAX_ROWS", 4 if request.param < 1 << 20 else levels.MAX_ROWS)
    monkeypatch.setattr(levels, "SMALL_ROWS", 4 if request.param < 1 << 20 else levels.SMALL_ROWS)
    return request.param


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("workers", [1, 2])
def test_fused_forward_matches_einsum(shape, dtype, workers, chunk):
    net = _net(shape, dtype)
    F = np.random.default_rng(0).standard_normal((9, net.n_inputs, 3))
    ref = einsum_forward(net, F.astype(dtype))
    got = levels.run_levels(net, F.astype(dtype), workers=workers)
    assert got.dtype == np.dtype(dtype)
    tol = 1e-11 if dtype == "float64" else 2e-4
    scale = float(np.abs(ref).max())
    np.testing.assert_allclose(got.astype(np.longdouble), ref, rtol=tol, atol=tol * scale * 1e-2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("g", ["product", "relu_max", "relu_sum"])
def test_fused_log_forward_matches_einsum(shape, dtype, g, chunk):
    net = _net(shape, dtype, g)
    F = np.random.default_rng(1).standard_normal((7, net.n_inputs, 3))
    ref = einsum_forward(net, F.astype(dtype))
    sign, logabs = levels.run_levels(net, F.astype(dtype), log=True, workers=2)
    nz = ref != 0
    assert np.array_equal(sign[nz], np.sign(ref[nz]).astype(sign.dtype))
    tol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(logabs[nz], np.log(np.abs(ref[nz])).astype(np.float64), rtol=0,
                               atol=tol * max(1.0, float(np.abs(np.log(np.abs(ref[nz]))).max())))


def test_fused_log_forward_beyond_the_float_range(chunk):
    # 1024 inputs at scale 30: the output is about 30**1024, far outside float64.
    net = tc.deep(1024, 2, 2, seed=4)
    F = 30.0 * np.random.default_rng(2).standard_normal((3, 1024, 2))
    sign, logabs = levels.run_levels(net, F, log=True, workers=2)
    s2, l2 = tc.deep(1024, 2, 2, seed=4).forward(F, log=True, engine="nodes")
    assert np.all(np.isfinite(logabs)) and float(logabs.min()) > 1000
    assert np.array_equal(sign, s2)
    np.testing.assert_allclose(logabs, l2, rtol=1e-12, atol=0)


@pytest.mark.parametrize("pooling", ["contiguous", "interleaved"])
@pytest.mark.parametrize("width", [16, 33])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_and_wide_row_blocks_match_einsum(pooling, width, dtype):
    # Widths up to SMALL_WIDTH take row blocks of SMALL_ROWS samples (33 takes MAX_ROWS): a batch of 300
    # splits into a full and a partial block; interleaved pooling gathers the leaves (np.take path).
    net = tc.deep(32, 3, width, pooling=pooling, seed=3, dtype=dtype)
    assert levels.level_plan(net).contiguous == (pooling == "contiguous")
    F = np.random.default_rng(5).standard_normal((300, 32, 3)).astype(dtype)
    ref = einsum_forward(net, F)
    tol = 1e-11 if dtype == "float64" else 2e-4
    for workers in (1, 2):
        got = levels.run_levels(net, F, workers=workers)
        np.testing.assert_allclose(got.astype(np.longdouble), ref, rtol=tol, atol=tol * float(np.abs(ref).max()) * 1e-2)
    rows = {b1 - b0 for _, _, tasks in levels.schedule(levels.level_plan(net), [width] * 5 + [1], 300, 8, 1)
            for _, _, b0, b1 in tasks}
    cap = levels.SMALL_ROWS if width <= levels.SMALL_WIDTH else max(levels.MAX_ROWS, width)
    assert max(rows) == -(-300 // -(-300 // cap))  # the fewest blocks of at most `cap` rows, evened out


def test_weights_are_packed_views_and_edits_are_seen():
    net = tc.deep(32, 3, 4, seed=0)
    plan = levels.level_plan(net)
    W = group_weights(net, plan.levels, "levels")
    assert all(isinstance(w, np.ndarray) and w.ndim == 3 for w in W[:-1])
    F = np.random.default_rng(3).standard_normal((5, 32, 3))
    net.forward(F)
    net.weights[plan.levels[1][3]][...] = 0.25  # in place: the packed buffer sees it
    np.testing.assert_allclose(net.forward(F), einsum_forward(net, F), rtol=1e-11)
    net.weights[plan.levels[0][5]] = np.full((3, 4), -0.5)  # replaced: the level falls back to a list
    assert isinstance(group_weights(net, plan.levels, "levels")[0], list)
    np.testing.assert_allclose(net.forward(F), einsum_forward(net, F), rtol=1e-11)
    net.weights[plan.levels[0][5]][0, 0] = 3.0  # in place on the separate array: seen too
    np.testing.assert_allclose(net.forward(F), einsum_forward(net, F), rtol=1e-11)


def test_unpickled_and_reparametrized_models_agree():
    net = tc.deep((4, 4), 3, 5, seed=2)
    F = np.random.default_rng(4).standard_normal((6, 16, 3))
    ref = einsum_forward(net, F)
    back = pickle.loads(pickle.dumps(net))
    plan = levels.level_plan(back)
    assert packed_view([back.weights[v] for v in plan.levels[0]]) is not None
    np.testing.assert_allclose(back.forward(F), ref, rtol=1e-11)
    swapped = net.with_parameters({k: np.array(v) for k, v in net.parameters().items()})
    np.testing.assert_allclose(swapped.forward(F), ref, rtol=1e-11)


def test_packed_view_refuses_arrays_out_of_order():
    buf = np.zeros((3, 2, 2))
    assert packed_view([buf[0], buf[1], buf[2]]).shape == (3, 2, 2)
    assert packed_view([buf[0], buf[2]]) is None
    assert packed_view([buf[0], np.zeros((2, 2))]) is None
    assert packed_view([buf[:, 0]]) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_refused_after_the_deferred_scan(bad):
    net = tc.deep(16, 3, 4, seed=0)
    leaf = levels.level_plan(net).levels[0][5]
    net.weights[leaf][1, :] = 0.0  # inf * 0 = NaN: the bad entry must still reach the output
    F = np.random.default_rng(0).standard_normal((4, 16, 3))
    F[2, next(iter(leaf)), 1] = bad
    with pytest.raises(ValueError, match=r"index \(batch, input, descriptor\) = \(2, 5, 1\)"):
        net.forward(F)
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.forward(F.astype(np.float32).astype(np.float64), engine="nodes")


def test_overflow_of_finite_features_is_returned_as_plain_arithmetic():
    net = tc.deep(64, 2, 2, seed=0)
    F = np.full((2, 64, 2), 1e30)
    with np.errstate(over="ignore"):
        out = net.forward(F)
    assert not np.isfinite(out).all()


def test_forward_over_the_byte_budget_is_refused_before_it_starts():
    net = tc.deep(64, 3, 8, seed=0)
    F = np.ones((50, 64, 3))
    need = levels.live_bytes(net, 50, 8, 2)
    assert need >= 50 * 8  # at least the output (one root, one channel)
    with tc.option_context(max_dense_bytes=need - 1), pytest.raises(tc.TensorTooLargeError, match="forward"):
        levels.run_levels(net, F, workers=2)
    with tc.option_context(max_dense_bytes=need):
        np.testing.assert_allclose(levels.run_levels(net, F, workers=2), einsum_forward(net, F), rtol=1e-11)


@pytest.mark.parametrize("shape, width, g, log", [
    (256, 16, "product", False), (256, 64, "product", False), ((16, 16), 32, "product", False),
    (256, 16, "relu_max", False), (81, 16, "product", True), (256, 32, "relu_sum", True),
])
@pytest.mark.parametrize("workers", [1, 2])
def test_live_bytes_bounds_the_traced_peak(shape, width, g, log, workers):
    # tracemalloc sees every numpy buffer: the peak of one forward (band outputs and every task's
    # scratch) must stay under live_bytes, the figure the budget check refuses on.
    import tracemalloc

    arity = 3 if shape == 81 else None
    tree = tc.deep(shape, 4, width, arity=arity).tree
    net = tc.ConvNet(tree, 4, width, g=g, seed=0)
    F = np.random.default_rng(0).standard_normal((96, net.n_inputs, 4))
    levels.run_levels(net, F, log=log, workers=workers)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        levels.run_levels(net, F, log=log, workers=workers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1.02 * levels.live_bytes(net, 96, 8, workers, log) + (64 << 10)
