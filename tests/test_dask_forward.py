"""``forward`` on dask arrays: lazy, chunked along the batch, equal to the numpy forward.

Uses the threaded scheduler only (no cluster is started). The reference is the numpy forward, itself
tested against brute-force sums in tests/test_contract.py and an einsum oracle in test_forward_fused.py;
here the einsum oracle of test_forward_fused checks one case independently too.
"""

from __future__ import annotations

import numpy as np
import pytest

import tnconv as tc

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from test_forward_fused import einsum_forward  # noqa: E402


@pytest.mark.parametrize("shape", [16, (4, 4)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("chunks", [5, 13, 40])
def test_dask_forward_is_lazy_and_matches_numpy(shape, dtype, chunks):
    net = tc.deep(shape, 3, 4, seed=0, n_outputs=2, dtype=dtype)
    F = np.random.default_rng(0).standard_normal((37, net.n_inputs, 3)).astype(dtype)
    lazy = net.forward(da.from_array(F, chunks=(chunks, 4, 3)))  # inputs split too: rechunked
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (37, 2) and lazy.dtype == np.dtype(dtype)
    assert lazy.chunks[0] == da.from_array(F, chunks=(chunks, 4, 3)).chunks[0]
    got = lazy.compute(scheduler="threads")
    np.testing.assert_allclose(got, net.forward(F), rtol=1e-12 if dtype == "float64" else 1e-5, atol=0)


def test_dask_forward_matches_einsum_and_log_mode():
    net = tc.ConvNet(tc.ModeTree.balanced(8), 2, 3, g="relu_sum", seed=1)
    F = np.random.default_rng(1).standard_normal((11, 8, 2))
    x = da.from_array(F, chunks=(3, 8, 2))
    np.testing.assert_allclose(net.forward(x).compute(scheduler="threads"), einsum_forward(net, F).astype(float),
                               rtol=1e-11)
    sign, logabs = net.forward(x, log=True)
    assert isinstance(sign, da.Array) and isinstance(logabs, da.Array)
    s, la = dask.compute(sign, logabs, scheduler="threads")
    s0, la0 = net.forward(F, log=True)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_allclose(la, la0, rtol=1e-13)


def test_dask_forward_puts_the_model_in_the_graph_once():
    net = tc.deep(16, 2, 3, seed=0)
    F = np.random.default_rng(2).standard_normal((40, 16, 2))
    lazy = net.forward(da.from_array(F, chunks=(4, 16, 2)))
    graph = dict(lazy.__dask_graph__())
    holders = [k for k, v in graph.items() if v is net or getattr(v, "value", None) is net
               or (isinstance(k, str) and k.startswith("tnconv-model-"))]
    assert len(holders) == 1
    assert len(lazy.chunks[0]) == 10


def test_dask_forward_checks_shape_now_and_values_on_compute():
    net = tc.deep(8, 2, 3, seed=0)
    with pytest.raises(ValueError, match=r"expected \(batch, n_inputs=8, n_descriptors=2\)"):
        net.forward(da.ones((4, 8, 3), chunks=2))
    with pytest.raises(TypeError, match="real numbers"):
        net.forward(da.ones((4, 8, 2), chunks=2, dtype=complex))
    F = np.ones((4, 8, 2))
    F[3, 2, 1] = np.nan
    lazy = net.forward(da.from_array(F, chunks=(2, 8, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        lazy.compute(scheduler="threads")
