"""THE cross-backend test file: the same cases over every installed array namespace.

numpy; array-api-strict on its fake device ``Device("device1")`` (any implicit conversion to numpy
raises, so it stands in for CuPy without a GPU); JAX (CPU, float64 enabled); torch (CPU) and CuPy when
importable. Every result is compared with an independent numpy oracle (tests/helpers.py) and checked
to stay in the input's namespace and on its device.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from helpers import POOL_PAIRS, node_by_node_forward

import tnconv as tc
from tnconv.contract import backends, engine

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def _cupy():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as exc:
        pytest.skip(f"no usable CUDA device: {exc}")
    return cp


# ---------------------------------------------------------------------- without a GPU


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed; this checks the message when it is not")
def test_cupy_backend_without_cupy_names_the_extra():
    net = tc.deep(4, 2, 2, seed=0)
    F = np.ones((1, 4, 2))
    with pytest.raises(ImportError, match=r"pip install 'tnconv\[gpu\]'"):
        net.forward(F, backend="cupy")
    with pytest.raises(ImportError, match=r"tnconv\[gpu\]"):
        net.to_tensor_network().contract(F, backend="cupy")
    with pytest.raises(ImportError, match=r"tnconv\[gpu\]"):
        engine.coefficient_tensor(net, backend="cupy")


def test_backend_inferred_from_features_and_unknown_names():
    assert backends.resolve_backend(None, np.ones(2)).name == "numpy"
    assert backends.resolve_backend("numpy", None).name == "numpy"
    with pytest.raises(ValueError, match=r"unknown backend 'gpu'; choose from \('numpy', 'cupy', 'jax', 'torch'\)"):
        backends.resolve_backend("gpu", np.ones(2))


# ---------------------------------------------------------------------- with a GPU


@pytest.mark.gpu
@pytest.mark.parametrize("tree", [tc.ModeTree.balanced(64), tc.ModeTree.grid(8, 8), tc.ModeTree.random(19, seed=2)],
                         ids=["balanced", "grid", "random"])
@pytest.mark.parametrize("g", ["product", "relu_max", "relu_sum"])
def test_cupy_forward_matches_numpy(tree, g):
    cp = _cupy()
    net = tc.ConvNet(tree, 4, 5, n_outputs=2, g=g, seed=1)
    F = np.random.default_rng(0).standard_normal((16, tree.n_inputs, 4))
    Fd = cp.asarray(F)
    for eng in ("auto", "nodes"):
        out = net.forward(Fd, engine=eng)
        assert isinstance(out, cp.ndarray)  # stays on the device
        ref = node_by_node_forward(net.tree, net.weights, POOL_PAIRS[g], F)
        np.testing.assert_allclose(cp.asnumpy(out), ref, rtol=1e-10, atol=1e-12)
        s, la = net.forward(Fd, log=True, engine=eng)
        s0, l0 = net.forward(F, log=True)
        np.testing.assert_array_equal(cp.asnumpy(s), s0)
        np.testing.assert_allclose(cp.asnumpy(la), l0, rtol=1e-10, atol=1e-10)


@pytest.mark.gpu
def test_cupy_weights_are_cached_on_the_model():
    cp = _cupy()
    net = tc.deep(32, 3, 4, seed=0)
    Fd = cp.asarray(np.random.default_rng(0).standard_normal((4, 32, 3)))
    net.forward(Fd)
    first = dict(net.__dict__["_tnconv_device_cache"])
    assert first and all(slot[0] == "cupy" for slot in first)
    net.forward(Fd)
    again = net.__dict__["_tnconv_device_cache"]
    assert all(again[slot][1] is first[slot][1] for slot in first)  # no second host-to-device copy


@pytest.mark.gpu
def test_cupy_wrong_device_features_are_refused():
    cp = _cupy()
    net = tc.deep(8, 2, 2, seed=0)
    with pytest.raises(TypeError, match=r"cupy\.asarray"):
        net.forward(np.ones((1, 8, 2)), backend="cupy")
    with pytest.raises(TypeError, match=r"features.get\(\)"):
        net.forward(cp.ones((1, 8, 2)), backend="numpy")


@pytest.mark.gpu
def test_cupy_coefficient_tensor_and_generic_contraction():
    cp = _cupy()
    net = tc.deep(8, 2, 3, seed=0)
    A = engine.coefficient_tensor(net, backend="cupy")
    assert isinstance(A, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(A), net.coefficient_tensor(), rtol=1e-12, atol=1e-14)
    tn = net.to_tensor_network()
    F = np.random.default_rng(1).standard_normal((5, 8, 2))
    for opt in (None, "greedy"):
        out = tn.contract(cp.asarray(F), optimize=opt)
        assert isinstance(out, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(out), net.forward(F)[:, 0], rtol=1e-10, atol=0)


# ---------------------------------------------------------------------- every installed namespace


def _strict():
    xs = pytest.importorskip("array_api_strict")
    return xs, xs.Device("device1")


def _jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return jnp, jax.devices("cpu")[0]


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.device("cpu")


def _cupy_ns():
    cp = _cupy()
    return cp, cp.cuda.Device(0)


NAMESPACES = {"numpy": lambda: (np, None), "strict": _strict, "jax": _jax, "torch": _torch, "cupy": _cupy_ns}


@pytest.fixture(params=list(NAMESPACES))
def ns(request):
    xp, device = NAMESPACES[request.param]()
    return request.param, xp, device


def _put(name, xp, device, a):
    if name == "numpy":
        return a
    if name == "cupy":
        return xp.asarray(a)
    return xp.asarray(a, device=device)


def _check_home(name, xp, device, out):
    """The result is an array of the input's namespace, on its device; returns it as numpy."""
    from tnconv._core.arrays import backend_name, device_of, namespace, to_numpy

    assert backend_name(namespace(out)) == backend_name(namespace(_put(name, xp, device, np.zeros(1))))
    if name not in ("numpy", "cupy"):
        assert str(device_of(out)) == str(device)
    return to_numpy(out)


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("tree", "g", "dtype"), [
    (tc.ModeTree.balanced(8), "product", "float64"), (tc.ModeTree.balanced(8), "relu_max", "float32"),
    (tc.ModeTree.random(7, seed=1), "relu_sum", "float64"), (tc.ModeTree.random(7, seed=1), "product", "float32"),
], ids=["balanced-product-64", "balanced-relu_max-32", "random-relu_sum-64", "random-product-32"])
def test_forward_agrees_with_numpy_oracle(ns, tree, g, dtype):
    name, xp, device = ns
    net = tc.ConvNet(tree, 3, 4, n_outputs=2, g=g, seed=1, dtype=dtype)
    F = np.random.default_rng(0).standard_normal((5, tree.n_inputs, 3)).astype(dtype)
    ref = node_by_node_forward(tree, {v: w.astype(np.float64) for v, w in net.weights.items()}, POOL_PAIRS[g],
                               F.astype(np.float64))
    Fd = _put(name, xp, device, F)
    fwd = net.forward
    if name == "jax":  # one compiled graph instead of hundreds of eagerly dispatched ops (and jit is tested)
        import jax

        fwd = jax.jit(net.forward, static_argnames=("engine", "log"))
    for eng in ("auto",):
        np.testing.assert_allclose(_check_home(name, xp, device, fwd(Fd, engine=eng)), ref, **_tol(dtype))
        s, la = fwd(Fd, engine=eng, log=True)
        np.testing.assert_array_equal(_check_home(name, xp, device, s), np.sign(ref))
        np.testing.assert_allclose(_check_home(name, xp, device, la), np.log(np.abs(ref)), **_tol(dtype))


def test_numpy_weights_move_once_and_are_cached(ns):
    name, xp, device = ns
    net = tc.deep(16, 3, 4, seed=0)
    F = np.random.default_rng(0).standard_normal((4, 16, 3))
    Fd = _put(name, xp, device, F)
    net.forward(Fd)
    if name != "numpy":
        first = dict(net.__dict__["_tnconv_device_cache"])
        assert first
        net.forward(Fd)
        assert all(net.__dict__["_tnconv_device_cache"][k][1] is v[1] for k, v in first.items())
    ref = net.forward(F)
    net.weights[net.tree.root] = net.weights[net.tree.root] * 2.0  # a replaced array is copied again
    np.testing.assert_allclose(_check_home(name, xp, device, net.forward(Fd)), 2.0 * ref, rtol=1e-12, atol=0)


def test_converted_model_refuses_other_namespaces(ns):
    name, xp, device = ns
    if name == "numpy":
        pytest.skip("numpy weights move to any namespace by design")
    module = {"strict": xp, "cupy": "cupy", "jax": "jax", "torch": "torch"}[name]
    net = tc.deep(8, 2, 2, seed=0)
    moved = net.to(module, device=device if name == "strict" else None)
    F = np.ones((1, 8, 2))
    with pytest.raises(TypeError, match="weights are"):
        moved.forward(F)
    np.testing.assert_allclose(_check_home(name, xp, device, moved.forward(_put(name, xp, device, F))),
                               net.forward(F), rtol=1e-12)
    back = moved.to("numpy")
    assert isinstance(back.weights[back.tree.root], np.ndarray)


def test_coefficient_grid_tensor_and_contraction(ns):
    name, xp, device = ns
    net = tc.deep(8, 2, 3, seed=0, n_outputs=2)
    F = np.random.default_rng(1).standard_normal((5, 8, 2))
    ref = node_by_node_forward(net.tree, net.weights, POOL_PAIRS["product"], F)
    module = xp if name in ("strict", "numpy") else name
    moved = net.to(module, device=device if name == "strict" else None)
    A = _check_home(name, xp, device, moved.coefficient_tensor(output=1))
    direct = np.einsum("abcdefgh,na,nb,nc,nd,ne,nf,ng,nh->n", A, *[F[:, i] for i in range(8)])
    np.testing.assert_allclose(direct, ref[:, 1], rtol=1e-10)
    T = np.random.default_rng(2).standard_normal((2, 2))
    G = _check_home(name, xp, device, net.grid_tensor(_put(name, xp, device, T), output=1))
    np.testing.assert_allclose(G, np.einsum("abcdefgh,ia,jb,kc,ld,me,nf,og,ph->ijklmnop", A, *[T] * 8),
                               rtol=1e-10, atol=1e-12)
    tn = net.to_tensor_network()
    for opt in (None, "greedy"):
        for ex in ("auto", "opt_einsum"):
            out = tn.contract(_put(name, xp, device, F), optimize=opt, executor=ex)
            np.testing.assert_allclose(_check_home(name, xp, device, out), ref[:, 0], rtol=1e-10)


def test_strict_device_features_never_reach_numpy():
    xs, dev = _strict()
    net = tc.deep(8, 2, 2, seed=0)
    with pytest.raises(RuntimeError, match="NumPy"):
        np.asarray(xs.asarray(np.ones((1, 8, 2)), device=dev))  # the stand-in is strict
    with pytest.raises(ValueError, match="NaN"):
        net.forward(xs.asarray(np.full((1, 8, 2), np.nan), device=dev))
    other = net.to(xs, device=xs.Device("device2"))
    with pytest.raises(TypeError, match="device"):
        other.forward(xs.asarray(np.ones((1, 8, 2)), device=dev))
