"""Spectra through a cut on other array namespaces, and jax.grad of the entropy against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tnconv as tc

PART = [0, 1, 2, 3]


def test_torch_spectrum_matches_numpy():
    pytest.importorskip("torch")
    net = tc.deep(8, 3, 4, seed=0)
    s = tc.schmidt_values(net.to("torch"), PART)
    assert type(s).__module__.startswith("torch")
    np.testing.assert_allclose(s.numpy(), tc.schmidt_values(net, PART), rtol=1e-12)
    assert tc.schmidt_rank(net.to("torch"), PART) == tc.schmidt_rank(net, PART)


def test_jax_grad_of_entropy_matches_finite_differences():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    net = tc.deep(8, 3, 4, seed=0)
    p = {k: jnp.asarray(w) for k, w in net.parameters().items()}

    def f(q):
        return tc.entanglement_entropy(net.with_parameters(q), PART)

    # jitted: one XLA compile instead of one per eager operation (2 s instead of 8 s), and jit through the
    # spectrum is part of what is checked
    np.testing.assert_allclose(float(jax.jit(f)(p)), tc.entanglement_entropy(net, PART), rtol=1e-12)
    grad = jax.jit(jax.grad(f))(p)
    eps = 1e-6
    for key, idx in (("0", (1, 2)), ("0,1", (0, 3)), ("4,5,6,7", (2, 1))):
        # Finite differences of the numpy (dense-free, independent of JAX) entropy.
        def h(delta, key=key, idx=idx):
            w = {k: np.asarray(v) for k, v in p.items()}
            w[key] = w[key].copy()
            w[key][idx] += delta
            return tc.entanglement_entropy(net.with_parameters(w), PART)

        fd = (h(eps) - h(-eps)) / (2 * eps)
        np.testing.assert_allclose(float(grad[key][idx]), fd, rtol=1e-5, atol=1e-8)
