"""Dilated and mixed ConvNets and the end-to-end rule over every installed array namespace.

Each case runs on numpy, array-api-strict on its fake device ``device1`` (where any implicit
conversion to numpy raises, the stand-in for a GPU), JAX (CPU, 64-bit), torch and CuPy when
importable. It asserts agreement with numpy, that the numpy results agree with independent oracles
(recursive forwards, a time loop, SVD powers written here), and that results stay in the input's
namespace and on its device.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from test_dilated import G_REF, brute_coefficients, ref_forward
from test_mixed import ref_mixed

import tnconv as tc
from tnconv.linear import end_to_end_field, end_to_end_update, end_to_end_update_single_output, psd_power


@dataclass
class Space:
    name: str
    put: Any  # numpy array -> array of the namespace (on its device)
    host: Any  # array of the namespace -> numpy (explicitly)
    owns: Any  # whether a result is in the namespace and on the device
    context: Any = contextlib.nullcontext
    module: Any = None


def _numpy():
    return Space("numpy", np.asarray, np.asarray, lambda r: type(r) is np.ndarray, module=np)


def _strict():
    xps = pytest.importorskip("array_api_strict")
    dev, cpu = xps.Device("device1"), xps.Device("CPU_DEVICE")
    kind = type(xps.asarray(1.0))
    return Space("strict", lambda a: xps.asarray(a, device=dev), lambda r: np.asarray(r.to_device(cpu)),
                 lambda r: isinstance(r, kind) and r.device == dev, module=xps)


def _jax():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    return Space("jax", jnp.asarray, np.asarray, lambda r: isinstance(r, jax.Array),
                 context=lambda: jax.enable_x64(True), module=jnp)


def _torch():
    torch = pytest.importorskip("torch")
    return Space("torch", torch.asarray, lambda r: r.detach().cpu().numpy(), lambda r: isinstance(r, torch.Tensor),
                 module=torch)


def _cupy():
    cp = pytest.importorskip("cupy")
    return Space("cupy", cp.asarray, cp.asnumpy, lambda r: isinstance(r, cp.ndarray), module=cp)


ALL = ["numpy", "strict", "jax", "torch", "cupy"]
#: JAX compiles every eager op once per shape (seconds per case on a loaded machine): the matrix of
#: operators runs without it, and test_jax_eager_and_jit covers each JAX path once.
NO_JAX = [s for s in ALL if s != "jax"]


@pytest.fixture(params=ALL)
def space(request):
    s = {"numpy": _numpy, "strict": _strict, "jax": _jax, "torch": _torch, "cupy": _cupy}[request.param]()
    with s.context():
        yield s


def agree(space, got, want, rtol=1e-11, atol=1e-12, device=True):
    """``got`` is in the namespace (and, with ``device``, on the device of the inputs) and matches."""
    top = type(space.put(np.ones(1))).__module__.split(".")[0]
    owned = space.owns(got) if device else type(got).__module__.split(".")[0] == top
    assert owned, f"result is a {type(got).__name__}, not in the {space.name} namespace/device"
    np.testing.assert_allclose(space.host(got), want, rtol=rtol, atol=atol)


#: One feature shape (batch, inputs, M) for the model cases: JAX compiles every op once per shape.
SHAPE = (5, 8, 3)


# ---------------------------------------------------------------------------------------------- dilated
@pytest.mark.parametrize("space", NO_JAX, indirect=True)
@pytest.mark.parametrize("g", ["product", "relu_max", "relu_sum"])
@pytest.mark.parametrize("dil", [[2, 1, 4]])
def test_dilated_forward_plain_and_log(space, g, dil, rng):
    tree = tc.ModeTree.dilated(3, dil)
    net = tc.DilatedConvNet(tree, 3, 4, g=g, n_outputs=2, seed=int(rng.integers(1 << 30)))
    F = rng.standard_normal(SHAPE)
    want = ref_forward(tree, net.weights, G_REF[g], F)
    np.testing.assert_allclose(net.forward(F), want, rtol=1e-12, atol=1e-13)
    agree(space, net.forward(space.put(F)), want)
    sign, la = net.forward(space.put(F), log=True)
    keep = want != 0
    agree(space, sign, np.sign(want))
    np.testing.assert_allclose(space.host(la)[keep], np.log(np.abs(want[keep])), rtol=1e-11, atol=1e-11)
    assert space.owns(la)


@pytest.mark.parametrize("space", NO_JAX, indirect=True)
def test_dilated_log_survives_what_plain_overflows(space, rng):
    # features of magnitude 2**200: the product of 8 is about 2**1600, far beyond float64
    net = tc.DilatedConvNet(tc.ModeTree.dilated(3), 3, 4, n_outputs=2, seed=0)
    F = rng.standard_normal(SHAPE) * 2.0**200
    sign, la = net.forward(space.put(F), log=True)
    s0, l0 = net.forward(F, log=True)
    assert np.isfinite(l0).all() and (l0 > 1000).all()
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(net.forward(F)).all()
    agree(space, sign, s0)
    agree(space, la, l0, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("padding", ["valid", "causal"])
def test_forward_sequence(space, padding, rng):
    dil = [2, 1, 4]
    net = tc.DilatedConvNet(tc.ModeTree.dilated(3, dil), 2, 3, g="relu_sum", shared=True, seed=3)
    x = rng.standard_normal((2, 13, 2))
    # the time loop, written here: h_l[t] = g(h[t - d] @ A, h[t] @ B) with zero history when causal
    (leaf,) = {id(net.weights[v]): net.weights[v] for v in net.tree.leaves}.values()
    h = x @ leaf
    for d in dil:
        v = next(u for u in net.tree.internal_nodes if net.tree.height(u) == dil.index(d) + 1)
        a, b = net.weights[v]
        A, B = (a, b) if max(net.tree.children(v)[0]) < max(net.tree.children(v)[1]) else (b, a)
        past = np.concatenate([np.zeros((2, d, h.shape[2])), h], axis=1)[:, : h.shape[1]]
        h = G_REF["relu_sum"](past @ A, h @ B)
    want = h if padding == "causal" else h[:, net.n_inputs - 1 :]
    agree(space, net.forward_sequence(space.put(x), padding=padding), want)


def test_dense_tensors(space, rng):
    tree = tc.ModeTree.dilated(2, [2, 1])
    net = tc.DilatedConvNet(tree, 2, 3, seed=5)
    want = brute_coefficients(tree, net.weights, 2)
    np.testing.assert_allclose(net.coefficient_tensor(), want, rtol=1e-12, atol=1e-13)
    if space.name != "numpy":
        agree(space, net.coefficient_tensor(backend=space.module), want, device=False)
    T = rng.standard_normal((3, 2))
    rnet = tc.DilatedConvNet(tree, 2, 3, g="relu_max", seed=6)
    combos = np.stack(np.meshgrid(*[np.arange(3)] * 4, indexing="ij"), -1).reshape(-1, 4)
    grid = ref_forward(tree, rnet.weights, G_REF["relu_max"], T[combos], 0).reshape((3,) * 4)
    agree(space, rnet.grid_tensor(space.put(T)), grid)


def test_device_weights_are_moved_once_and_cached(space, rng):
    net = tc.DilatedConvNet(tc.ModeTree.dilated(3), 3, 4, n_outputs=2, seed=0)
    F = space.put(rng.standard_normal(SHAPE))
    first = net.weights_in(namespace_of(F), F)
    assert net.weights_in(namespace_of(F), F) is first
    results = []
    threads = [threading.Thread(target=lambda: results.append(net.weights_in(namespace_of(F), F))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is first for r in results)
    if space.name != "numpy":  # new weights: the copies are rebuilt, and seen by forward
        net.set_weights({v: (tuple(2 * a for a in w) if isinstance(w, tuple) else w) for v, w in net.weights.items()})
        assert net.weights_in(namespace_of(F), F) is not first
        agree(space, net.forward(F), net.forward(space.host(F)))


def namespace_of(x):
    from tnconv._core.arrays import namespace

    return namespace(x)


def test_mixed_namespaces_are_refused():
    xps = pytest.importorskip("array_api_strict")
    from tnconv.models.dilated_eval import resolve_namespace

    with pytest.raises(TypeError, match="different"):
        from tnconv._core.arrays import namespace

        namespace(np.ones(2), xps.asarray([1.0]))
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        resolve_namespace(np.ones(1), "tpu")


def test_jax_eager_and_jit(rng):
    jax = pytest.importorskip("jax")
    space = _jax()
    with jax.enable_x64(True):
        tree = tc.ModeTree.dilated(3, [2, 1, 4])
        net = tc.DilatedConvNet(tree, 3, 4, g="relu_max", n_outputs=2, seed=1)
        F = rng.standard_normal(SHAPE)
        want = ref_forward(tree, net.weights, G_REF["relu_max"], F)
        agree(space, net.forward(space.put(F)), want)
        sign, la = net.forward(space.put(F), log=True)
        agree(space, sign, np.sign(want))
        keep = want != 0
        np.testing.assert_allclose(np.asarray(la)[keep], np.log(np.abs(want[keep])), rtol=1e-11, atol=1e-11)
        f = jax.jit(lambda x: net.forward(x, log=True)[1])  # traced: value checks are skipped, not broken
        np.testing.assert_allclose(np.asarray(f(space.put(F)))[keep], np.log(np.abs(want[keep])), rtol=1e-11)
        with pytest.raises(ValueError, match="NaN"):
            net.forward(space.put(np.full(SHAPE, np.nan)))
        a = tc.ModeTree.dilated(3, [1, 2, 4])
        mix = tc.MixedConvNet.from_nets(tc.DilatedConvNet(a, 3, 4, g="relu_max", n_outputs=2, seed=2), net,
                                        [frozenset(range(4))])
        mwant = ref_mixed([a, tree], [n.weights for n in mix.nets], mix.mixture_nodes, G_REF["relu_max"],
                          lambda W, v: F[:, next(iter(v)), :] @ W)
        agree(space, mix.forward(space.put(F)), mwant)


# ---------------------------------------------------------------------------------------------- mixed
@pytest.mark.parametrize("space", NO_JAX, indirect=True)
@pytest.mark.parametrize("g", ["product", "relu_max"])
def test_mixed_forward_plain_and_log(space, g, rng):
    a, b = tc.ModeTree.dilated(3, [1, 2, 4]), tc.ModeTree.dilated(3, [2, 1, 4])
    mixture = [frozenset(range(4)), frozenset(range(4, 8))]
    mix = tc.MixedConvNet(a, b, mixture, 3, 4, g=g, n_outputs=2, seed=int(rng.integers(1 << 30)))
    F = rng.standard_normal(SHAPE)
    want = ref_mixed([a, b], [n.weights for n in mix.nets], mixture, G_REF[g], lambda W, v: F[:, next(iter(v)), :] @ W)
    np.testing.assert_allclose(mix.forward(F), want, rtol=1e-12, atol=1e-13)
    agree(space, mix.forward(space.put(F)), want)
    sign, la = mix.forward(space.put(F), log=True)
    agree(space, sign, np.sign(want))
    with np.errstate(divide="ignore"):  # exact zeros of relu_max are log 0 = -inf on both sides
        agree(space, la, np.log(np.abs(want)), rtol=1e-10, atol=1e-10)
    if g == "product" and space.name != "numpy":
        agree(space, mix.coefficient_tensor(backend=space.module), mix.coefficient_tensor(), device=False)


# ---------------------------------------------------------------------------------------------- linear
def svd_rule(W, G, N, lr):
    """The end-to-end rule summed term by term with powers from numpy's SVD (written here)."""
    U, s, Vh = np.linalg.svd(W, full_matrices=False)
    def left(p): return (U * s ** (2 * p)) @ U.T if p else np.eye(W.shape[0])
    def right(p): return (Vh.T * s ** (2 * p)) @ Vh if p else np.eye(W.shape[1])
    return W - lr * sum(left((j - 1) / N) @ G @ right((N - j) / N) for j in range(1, N + 1))


@pytest.mark.parametrize("method", ["svd", "eigh"])
@pytest.mark.parametrize("depth", [1, 3])
def test_end_to_end_update(space, method, depth, rng):
    W, G = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    want = svd_rule(W, G, depth, 0.05)
    np.testing.assert_allclose(end_to_end_update(W, G, depth, 0.05, method=method), want, rtol=1e-9, atol=1e-11)
    agree(space, end_to_end_update(space.put(W), space.put(G), depth, 0.05, method=method), want, 1e-9, 1e-11)
    agree(space, end_to_end_field(space.put(W), space.put(G), depth, method=method), (W - want) / 0.05, 1e-8, 1e-10)


def test_single_output_rule_and_psd_power(space, rng):
    w, g = rng.standard_normal(4), rng.standard_normal(4)
    n = np.linalg.norm(w)
    want = w - 0.1 * n ** (2 - 2 / 3) * (g + 2 * (g @ w / n) * w / n)
    agree(space, end_to_end_update_single_output(space.put(w), space.put(g), 3, 0.1), want)
    A = rng.standard_normal((3, 3))
    M = A @ A.T
    lam, V = np.linalg.eigh(M)
    agree(space, psd_power(space.put(M), 0.5), (V * np.sqrt(lam)) @ V.T, 1e-10, 1e-12)
    lrs = np.array([0.1, 0.2])
    Ws, Gs = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2, 3))
    want = np.stack([svd_rule(Ws[k], Gs[k], 2, lrs[k]) for k in range(2)])
    agree(space, end_to_end_update(space.put(Ws), space.put(Gs), 2, space.put(lrs)), want, 1e-9, 1e-11)
