"""Autodiff through the generic executor: jax.grad / jax.jit and torch autograd, against central finite
differences in float64 (an independent reference: only forward evaluations of perturbed weights)."""

from __future__ import annotations

import numpy as np
import pytest

import tnconv as tc

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def _fd(f, params, key, idx, eps=1e-6):
    d = np.zeros(params[key].shape)
    d[idx] = eps
    return (float(f({**params, key: params[key] + d})) - float(f({**params, key: params[key] - d}))) / (2 * eps)


@pytest.mark.parametrize("g", ["product", "relu_max", "relu_sum"])
@pytest.mark.parametrize("log", [False, True])
def test_jax_grad_and_jit_match_finite_differences(g, log):
    net = tc.ConvNet(tc.ModeTree.balanced(4), 3, 3, g=g, seed=1)
    F = jnp.asarray(np.random.default_rng(0).standard_normal((4, 4, 3)))
    p = {k: jnp.asarray(w) for k, w in net.parameters().items()}

    def f(q):
        out = net.with_parameters(q).forward(F, log=log)
        return (out[1] if log else out).sum()

    grad = jax.jit(jax.grad(f))(p)
    for key in ("0", "0,1", "0,1,2,3"):
        np.testing.assert_allclose(float(grad[key][1, 0]), _fd(f, p, key, (1, 0)), rtol=1e-6, atol=1e-8)


def test_jax_grad_of_coefficient_tensor():
    net = tc.deep(4, 2, 2, seed=0)
    p = {k: jnp.asarray(w) for k, w in net.parameters().items()}
    target = np.random.default_rng(3).standard_normal((2,) * 4)

    def f(q):
        return (net.with_parameters(q).coefficient_tensor() * target).sum()

    grad = jax.grad(f)(p)
    np.testing.assert_allclose(float(grad["2,3"][1, 1]), _fd(f, p, "2,3", (1, 1)), rtol=1e-6)


def test_torch_autograd_through_converted_weights():
    torch = pytest.importorskip("torch")
    net = tc.ConvNet(tc.ModeTree.balanced(4), 3, 3, g="relu_sum", seed=1)
    tnet = net.to("torch")
    params = tnet.parameters()
    for w in params.values():
        w.requires_grad_(True)
    F = torch.asarray(np.random.default_rng(0).standard_normal((4, 4, 3)))
    tnet.forward(F).sum().backward()
    fnp = np.asarray(F)

    def f(q):
        return net.with_parameters({k: np.asarray(v) for k, v in q.items()}).forward(fnp).sum()

    host = {k: w.detach().numpy() for k, w in params.items()}
    np.testing.assert_allclose(float(params["0,1"].grad[2, 1]), _fd(f, host, "0,1", (2, 1)), rtol=1e-6)
