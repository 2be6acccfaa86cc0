"""The cache of compiled JAX training functions (tnconv.train.jax_cache): a fit with a warm cache gives
exactly the result of one compiled afresh, compiles nothing new, in threads as serially; its keys.

The checks against independent computations with a warm cache (one SGD step against finite differences,
JAX against torch, after a fit with another lr and other signed scales) are in tests/test_train.py."""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

import tnconv as tc
from tnconv.train import fit, jax_cache
from tnconv.train.logspace import level_scales

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def compiles():
    """A list that grows by one entry per XLA compilation while the test runs."""
    seen: list[str] = []

    def listener(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            seen.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listener)


def _task(n=48, N=4, M=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, (n, N, M))
    y = (X[:, :, 0].mean(1) > X[:, :, 1].mean(1)).astype(np.int64)
    return X, y


def _same(a, b):
    for v in a.model.tree.nodes:
        np.testing.assert_array_equal(a.model.weights[v], b.model.weights[v])
    assert a.history["loss"] == b.history["loss"]
    assert a.history["val_loss"] == b.history["val_loss"] or np.isnan(a.history["val_loss"]).all()


CASES = {
    # (net builder, fit options): log space with Adam; signed (per-level scales) shared ReLU weights with SGD
    "log-adam": (lambda s: tc.deep(4, 2, 3, n_outputs=2, seed=s), {"optimizer": "adam"}),
    "signed-shared-sgd": (lambda s: tc.ConvNet(tc.ModeTree.balanced(4), 2, 3, n_outputs=2, g="relu_sum", shared=True,
                                               seed=s), {"optimizer": "sgd"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_warm_fit_equals_a_fresh_fit_and_compiles_nothing(case, compiles):
    build, opts = CASES[case]
    X, y = _task()
    Xv, yv = _task(n=20, seed=1)
    jax_cache.clear_cache()
    fit(build(0), X, y, epochs=2, batch_size=16, lr=0.01, seed=0, progress=False, **opts)  # warms the cache
    if "signed" in case:
        # the second fit's per-level scales differ, so a cache that froze the first fit's would be caught
        s0, s1 = (level_scales(build(s), X, build(s).weights) for s in (0, 1))
        assert not np.allclose(list(s0.values()), list(s1.values()))
    compiles.clear()
    warm = fit(build(1), X, y, epochs=2, batch_size=16, lr=0.05, seed=3, validation=(Xv, yv), progress=False,
               **opts)
    first_val_compiles = len(compiles)
    compiles.clear()
    again = fit(build(1), X, y, epochs=2, batch_size=16, lr=0.07, seed=4, validation=(Xv, yv), progress=False,
                **opts)
    assert compiles == [], "a fit of a cached structure (same shapes) must not compile"
    assert first_val_compiles > 0  # the validation logits (other shapes) compiled once: the counter works
    info = jax_cache.cache_info()
    assert info["size"] == 1 and info["hits"] == 2 and info["misses"] == 1
    jax_cache.clear_cache()
    fresh = fit(build(1), X, y, epochs=2, batch_size=16, lr=0.05, seed=3, validation=(Xv, yv), progress=False,
                **opts)
    _same(warm, fresh)
    assert not np.array_equal(again.model.weights[again.model.tree.root], warm.model.weights[warm.model.tree.root])


def test_fits_in_threads_equal_serial_fits():
    X, y = _task()
    tree = tc.ModeTree.balanced(4)
    nets = {d: tc.ConvNet(tree, 2, 3, n_outputs=2, g="relu_max", seed=0, dtype=d) for d in ("float64", "float32")}
    # two fits of one structure (one compile, shared) and a float32 one (x64 off in its thread only)
    jobs = [("float64", 1, 0.02), ("float32", 2, 0.05), ("float64", 3, 0.05)]

    def run(job):
        dtype, seed, lr = job
        return fit(nets[dtype], X, y, epochs=2, batch_size=16, lr=lr, seed=seed, progress=False)

    jax_cache.clear_cache()  # the threads compile, concurrently
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(run, jobs))
    serial = [run(job) for job in jobs]
    for (dtype, _, _), a, b in zip(jobs, threaded, serial):
        assert a.model.weights[tree.root].dtype == np.dtype(dtype)
        _same(a, b)


def test_cache_keys_and_lru_bound(monkeypatch):
    from tnconv.train.losses import cross_entropy, squared
    from tnconv.train.objective import Objective

    jax_cache.clear_cache()

    def obj(**kw):
        args = {"g": "product", "shared": False, "widths": 3, "n_outputs": 2}
        args.update(kw)
        return Objective(tc.ConvNet(tc.ModeTree.balanced(4), 2, args.pop("widths"), seed=0, **args))

    key = jax_cache.structure_key
    base = key(obj(), cross_entropy, "adam")
    assert key(obj(), cross_entropy, "adam") == base
    for other in (key(obj(widths=4), cross_entropy, "adam"), key(obj(n_outputs=3), cross_entropy, "adam"),
                  key(obj(shared=True), cross_entropy, "adam"), key(obj(g="relu_sum"), cross_entropy, "adam"),
                  key(obj(), squared, "adam"), key(obj(), cross_entropy, "sgd")):
        assert other != base

    def gmax(a, b):
        return np.maximum(a, b) if isinstance(a, np.ndarray) else jax.numpy.maximum(a, b)

    def gmax2(a, b):
        return gmax(a, b)

    # a user's pooling callable and optax transformation: by identity
    assert key(obj(g=gmax), cross_entropy, "adam") == key(obj(g=gmax), cross_entropy, "adam")
    assert key(obj(g=gmax), cross_entropy, "adam") != key(obj(g=gmax2), cross_entropy, "adam")
    tx = optax.sgd(0.1)
    assert key(obj(), cross_entropy, tx) == key(obj(), cross_entropy, tx)
    assert key(obj(), cross_entropy, tx) != key(obj(), cross_entropy, optax.sgd(0.1))

    monkeypatch.setattr(jax_cache, "CACHE_SIZE", 2)
    a = jax_cache.compiled_fit(obj(), cross_entropy, "adam")
    jax_cache.compiled_fit(obj(widths=4), cross_entropy, "adam")
    assert jax_cache.compiled_fit(obj(), cross_entropy, "adam") is a  # a is now the most recently used
    jax_cache.compiled_fit(obj(widths=5), cross_entropy, "adam")  # evicts widths=4
    assert jax_cache.cache_info()["size"] == 2
    assert jax_cache.compiled_fit(obj(), cross_entropy, "adam") is a
    jax_cache.clear_cache()
    assert jax_cache.compiled_fit(obj(), cross_entropy, "adam") is not a


def test_an_optax_transformation_steps_like_the_named_optimizer():
    X, y = _task(n=32)
    net = tc.deep(4, 2, 3, n_outputs=2, seed=0)
    named = fit(net, X, y, epochs=2, batch_size=16, optimizer="sgd", lr=0.1, seed=0, progress=False)
    own = fit(net, X, y, epochs=2, batch_size=16, optimizer=optax.sgd(0.1), seed=0, progress=False)
    for v in net.tree.nodes:
        np.testing.assert_allclose(own.model.weights[v], named.model.weights[v], rtol=1e-12)
