"""Cross-backend tests (numpy vs cupy). Everything that needs CuPy and a GPU skips cleanly without them."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

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
    with pytest.raises(ValueError, match=r"unknown backend 'gpu'; choose from \('numpy', 'cupy'\)"):
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
        np.testing.assert_allclose(cp.asnumpy(out), net.forward(F, engine="reference"), rtol=1e-10, atol=1e-12)
        s, la = net.forward(Fd, log=True, engine=eng)
        s0, l0 = net.forward(F, log=True, engine="reference")
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


# ---------------------------------------------------------------------- a numpy-backed stand-in for cupy
# It runs every device code path (device weight caches, index arrays moved to the device, results that
# stay on the device) without a GPU. Its arrays refuse to mix with host arrays in ufuncs, so a host array
# leaking into a device computation fails loudly.


class _DeviceArray(np.ndarray):
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kw):
        for x in inputs + (out or ()):
            if isinstance(x, np.ndarray) and not isinstance(x, _DeviceArray) and x.ndim > 0:
                raise TypeError(f"host array of shape {x.shape} mixed into device op {ufunc.__name__}")
        args = [x.view(np.ndarray) if isinstance(x, _DeviceArray) else x for x in inputs]
        if out is not None:
            kw["out"] = tuple(o.view(np.ndarray) for o in out)
        res = getattr(ufunc, method)(*args, **kw)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(res)


_DeviceArray.__module__ = "cupy"


def _to_device(x):
    if isinstance(x, tuple):
        return tuple(_to_device(y) for y in x)
    if isinstance(x, np.ndarray) and x.ndim > 0:
        return x.view(_DeviceArray)
    return x


def _fake_cupy():
    import types

    mod = types.ModuleType("cupy")
    mod.__version__ = "fake"
    mod.ndarray = _DeviceArray
    def host(x):
        return x.view(np.ndarray) if isinstance(x, _DeviceArray) else x

    def wrap(fn):
        def call(*args, **kw):
            flat = [y for x in args for y in (x if isinstance(x, (list, tuple)) else [x])]
            leaked = [y for y in flat if isinstance(y, np.ndarray) and not isinstance(y, _DeviceArray) and y.ndim > 0]
            if leaked and fn is not np.asarray:
                raise TypeError(f"host array of shape {leaked[0].shape} passed to device function {fn.__name__}")
            if "out" in kw:  # write through a host view of the same memory
                kw["out"] = host(kw["out"])
            return _to_device(fn(*[host(x) for x in args], **kw))

        return call

    for name in ("empty", "zeros", "ones", "stack", "matmul", "multiply", "where", "log", "abs", "exp", "sign",
                 "maximum", "tensordot", "transpose", "isfinite", "argwhere", "ascontiguousarray", "take", "einsum",
                 "concatenate", "reshape", "sum", "prod", "dot", "moveaxis", "eye", "frexp", "ldexp"):
        setattr(mod, name, wrap(getattr(np, name)))
    mod.asarray = lambda x, dtype=None: np.array(x, dtype=dtype).view(_DeviceArray)
    mod.asnumpy = lambda x: np.array(x).view(np.ndarray)
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                    getDeviceProperties=lambda i: {"name": b"numpy stand-in"})
    stream = types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None))
    mod.cuda = types.SimpleNamespace(runtime=runtime, Stream=stream)
    return mod


@pytest.fixture
def fake_cupy(monkeypatch):
    if HAS_CUPY:  # the real tests above cover it; do not let opt_einsum cache the stand-in's functions
        pytest.skip("real CuPy installed")
    mod = _fake_cupy()
    monkeypatch.setitem(__import__("sys").modules, "cupy", mod)
    return mod


@pytest.mark.parametrize("tree", [tc.ModeTree.balanced(16), tc.ModeTree.interleaved(8), tc.ModeTree.random(9, seed=1)],
                         ids=["balanced", "interleaved", "random"])
@pytest.mark.parametrize("g", ["product", "relu_max"])
def test_device_code_paths_with_numpy_stand_in(fake_cupy, tree, g):
    cp = fake_cupy
    net = tc.ConvNet(tree, 3, 4, n_outputs=2, g=g, seed=1)
    F = np.random.default_rng(0).standard_normal((5, tree.n_inputs, 3))
    ref = net.forward(F, engine="reference")
    s0, l0 = net.forward(F, engine="reference", log=True)
    Fd = cp.asarray(F)
    for eng in ("auto", "nodes"):
        out = net.forward(Fd, engine=eng)
        assert type(out) is cp.ndarray
        np.testing.assert_allclose(cp.asnumpy(out), ref, rtol=1e-12, atol=0)
        s, la = net.forward(Fd, engine=eng, log=True)
        assert type(la) is cp.ndarray
        np.testing.assert_array_equal(cp.asnumpy(s), s0)
        np.testing.assert_allclose(cp.asnumpy(la), l0, rtol=1e-12, atol=1e-12)
    cache = dict(net.__dict__["_tnconv_device_cache"])
    net.forward(Fd)
    assert all(net.__dict__["_tnconv_device_cache"][k][1] is v[1] for k, v in cache.items())
    net.weights[tree.root] = net.weights[tree.root] * 2.0  # replaced arrays are copied again
    np.testing.assert_allclose(cp.asnumpy(net.forward(Fd)), 2.0 * ref, rtol=1e-12, atol=0)
    with pytest.raises(TypeError, match=r"cupy\.asarray"):
        net.forward(F, backend="cupy")
    with pytest.raises(TypeError, match=r"features.get\(\)"):
        net.forward(Fd, backend="numpy")
    with pytest.raises(ValueError, match="numpy only"):
        net.forward(Fd, engine="reference")


def test_device_coefficient_tensor_and_contraction_with_numpy_stand_in(fake_cupy):
    cp = fake_cupy
    net = tc.deep(8, 2, 3, seed=0, n_outputs=2)
    A = engine.coefficient_tensor(net, output=1, backend="cupy")
    assert type(A) is cp.ndarray
    np.testing.assert_allclose(cp.asnumpy(A), net.coefficient_tensor(output=1), rtol=1e-12, atol=1e-15)
    tn = net.to_tensor_network()
    F = np.random.default_rng(1).standard_normal((5, 8, 2))
    expected = net.forward(F, engine="reference")[:, 0]
    for opt in (None, "greedy"):
        out = tn.contract(cp.asarray(F), optimize=opt)
        assert type(out) is cp.ndarray
        np.testing.assert_allclose(cp.asnumpy(out), expected, rtol=1e-10, atol=0)
