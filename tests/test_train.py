"""tnconv.train.fit: every pooling and sharing trains, JAX and torch agree, seeds, validation, early stopping,
learnable representations, trained models work with the rest of tnconv, bad input."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from helpers import NEEDS_TORCH

import tnconv as tc
from tnconv.models.io import load_model
from tnconv.train import DivergenceError, fit, jax_cache

pytest.importorskip("jax")
pytest.importorskip("optax")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _task(n=128, N=4, M=2, seed=0):
    """Positive features; the label is whether the inputs' first feature outweighs the second on average
    (every pooling, shared or not, can express it)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.1, 1.0, (n, N, M))
    y = (X[:, :, 0].mean(1) > X[:, :, 1].mean(1)).astype(np.int64)
    return X, y


@pytest.mark.parametrize("g, shared, backend", [
    ("product", False, "jax"), pytest.param("product", True, "torch", marks=NEEDS_TORCH),
    pytest.param("relu_max", False, "torch", marks=NEEDS_TORCH), ("relu_sum", True, "jax"),
    pytest.param("relu_sum", False, "torch", marks=NEEDS_TORCH),
])
def test_fit_learns_for_every_pooling(g, shared, backend):
    X, y = _task()
    net = tc.ConvNet(tc.ModeTree.balanced(4), 2, 4, n_outputs=2, g=g, shared=shared, seed=0, dtype="float32")
    res = fit(net, X, y, epochs=30, lr=0.05, batch_size=32, seed=0, backend=backend, progress=False)
    assert type(res.model) is type(net) and res.model.g.name == g and res.model.shared == shared
    assert all(isinstance(w, np.ndarray) for w in res.model.weights.values())
    assert res.history["loss"][-1] < res.history["loss"][0]
    # the history's accuracy is a running mean; the trained model, evaluated by the engine, must beat chance
    acc = np.mean(np.argmax(res.model.forward(X), axis=1) == y)
    assert acc > 0.8, acc
    np.testing.assert_array_equal(res.predict(X), np.argmax(res.model.forward(X), axis=1))
    if shared:
        for level in res.model.tree.levels():
            assert all(res.model.weights[v] is res.model.weights[level[0]] for v in level)


@NEEDS_TORCH
def test_fit_on_a_non_uniform_tree_in_log_space():
    tree = tc.ModeTree.from_nested((((0, 1), (2, 3, 4)), (5, (6, 7))))
    X, y = _task(N=8)
    res = fit(tc.ConvAC(tree, 2, 3, n_outputs=2, seed=1), X, y, epochs=30, lr=0.05, seed=0, backend="torch",
              progress=False, parameterization="log")
    sign, logabs = res.model.forward(X, log=True)  # the engine's exact log forward: logits = log h_y
    assert np.all(sign == 1)
    np.testing.assert_allclose(res.logits(X), logabs, rtol=1e-10)
    assert np.mean(np.argmax(logabs, axis=1) == y) > 0.8


@NEEDS_TORCH
@pytest.mark.parametrize("kind", ["signed", "log"])
def test_jax_and_torch_take_the_same_steps(kind):
    X, y = _task(n=32)
    # JAX runs with the compiled step of a fit with another lr, data and (signed) scales: the cache must
    # not carry any of them over
    fit(tc.deep(4, 2, 3, n_outputs=2, seed=9), X[::-1] * 2, y[::-1], epochs=1, batch_size=16, optimizer="sgd",
        lr=0.7, seed=2, progress=False, parameterization=kind)
    hits = jax_cache.cache_info()["hits"]
    net = tc.deep(4, 2, 3, n_outputs=2, seed=2)  # float64: both backends agree to roundoff
    runs = [fit(net, X, y, epochs=3, batch_size=16, optimizer="sgd", lr=0.1, seed=5, backend=b,
                progress=False, parameterization=kind) for b in ("jax", "torch")]
    assert jax_cache.cache_info()["hits"] == hits + 1
    for v in net.tree.nodes:
        np.testing.assert_allclose(runs[0].model.weights[v], runs[1].model.weights[v], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(runs[0].history["loss"], runs[1].history["loss"], rtol=1e-9)
    assert not np.allclose(runs[0].model.weights[net.tree.root], net.weights[net.tree.root])


def test_sgd_step_is_the_finite_difference_gradient_step():
    # One full-batch SGD step in signed space: theta' = theta - lr * dL/dtheta, with dL/dtheta by finite
    # differences of the engine's forward (an implementation independent of the training code).
    X, y = _task(n=16)
    # ... taken by the compiled step of an earlier fit with another lr and other level scales (cached;
    # the structure of test_jax_and_torch_take_the_same_steps[signed], which may have compiled it)
    fit(tc.deep(4, 2, 3, n_outputs=2, seed=11), X[::-1] * 3, y[::-1], epochs=1, batch_size=16, optimizer="sgd",
        lr=0.3, seed=1, progress=False, parameterization="signed")
    hits = jax_cache.cache_info()["hits"]
    net = tc.deep(4, 2, 3, n_outputs=2, seed=3)
    lr = 1e-3
    res = fit(net, X, y, epochs=1, batch_size=16, optimizer="sgd", lr=lr, seed=0, progress=False,
              parameterization="signed")
    assert jax_cache.cache_info()["hits"] == hits + 1
    root = net.tree.root
    # with one level scale s_root, the effective step is s^2 * lr * dL/dW (W = s theta)
    from tnconv.train.objective import Objective

    obj = Objective(net, "signed")
    obj.init_params(X)
    s = obj.scales[net.tree.height(root)]
    scaled = {v: w * obj.scales[net.tree.height(v)] for v, w in net.weights.items()}

    def loss(W_root):
        w = dict(scaled)
        w[root] = W_root
        z = tc.ConvAC(net.tree, 2, 3, n_outputs=2, weights=w).forward(X)
        z = z - z.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(16), y]))

    grad = np.zeros_like(scaled[root])
    for idx in np.ndindex(*grad.shape):
        e = np.zeros_like(grad)
        e[idx] = 1e-6
        grad[idx] = (loss(scaled[root] + e) - loss(scaled[root] - e)) / 2e-6
    np.testing.assert_allclose(res.model.weights[root], scaled[root] - lr * s**2 * grad, rtol=1e-7, atol=1e-10)


@NEEDS_TORCH
def test_seed_makes_runs_identical():
    X, y = _task()
    net = tc.deep(4, 2, 3, n_outputs=2, seed=0, dtype="float32")
    a, b, c = (fit(net, X, y, epochs=2, batch_size=16, seed=s, progress=False, backend="torch") for s in (7, 7, 8))
    for v in net.tree.nodes:
        np.testing.assert_array_equal(a.model.weights[v], b.model.weights[v])
    assert a.history["loss"] == b.history["loss"]
    assert not np.array_equal(a.model.weights[net.tree.root], c.model.weights[net.tree.root])


@NEEDS_TORCH
def test_validation_history_and_early_stopping():
    X, y = _task(n=64)
    Xv, yv = _task(n=32, seed=1)
    net = tc.deep(4, 2, 4, n_outputs=2, seed=0)
    res = fit(net, X, y, epochs=3, seed=0, validation=(Xv, yv), progress=False, backend="torch")
    assert res.parameterization == "log"
    assert set(res.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(v) == 3 for v in res.history.values())
    z = np.log(res.model.forward(Xv))  # logits log h_y, by the engine
    z = z - z.max(1, keepdims=True)
    want = np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(32), yv])
    assert res.history["val_loss"][-1] == pytest.approx(want, rel=1e-10)
    assert res.history["val_accuracy"][-1] == np.mean(np.argmax(z, 1) == yv)
    # validation labels that contradict the training labels: the validation loss rises, training stops
    stop = fit(net, X, y, epochs=40, lr=0.05, seed=0, validation=(X, 1 - y), patience=2, progress=False,
               backend="torch")
    assert stop.stopped_early and len(stop.history["loss"]) < 40
    best = int(np.argmin(stop.history["val_loss"]))
    assert stop.best_epoch == best + 1
    assert len(stop.history["loss"]) == stop.best_epoch + 2


@NEEDS_TORCH
def test_learnable_representation_is_trained_and_input_untouched():
    rng = np.random.default_rng(0)
    P = rng.uniform(0, 1, (64, 4, 1))  # raw "pixels"
    y = (P[:, :2, 0].mean(1) > P[:, 2:, 0].mean(1)).astype(int)
    rep = tc.GaussianDescriptors(3, 1, seed=0, learnable=True)
    before = {k: v.copy() for k, v in rep.parameters().items()}
    res = fit(tc.deep(4, 3, 3, n_outputs=2, seed=0), P, y, representation=rep, epochs=5, seed=0, progress=False,
              backend="torch")
    for k, v in rep.parameters().items():
        np.testing.assert_array_equal(v, before[k])
    assert not np.allclose(res.representation.means, rep.means)
    assert not np.allclose(res.representation.log_sigmas, rep.log_sigmas)
    np.testing.assert_allclose(res.logits(P), np.log(res.model.forward(res.representation(P))), rtol=1e-10)
    fixed = tc.GaussianDescriptors(3, 1, seed=0)
    res2 = fit(tc.deep(4, 3, 3, n_outputs=2, seed=0), P, y, representation=fixed, epochs=1, seed=0,
               progress=False, backend="torch")
    assert res2.representation is fixed


@NEEDS_TORCH
def test_squared_and_callable_losses():
    X, y = _task(n=32)
    net = tc.deep(4, 2, 2, n_outputs=2, seed=0)
    sq = fit(net, X, y, loss="squared", epochs=2, seed=0, progress=False, backend="torch")
    assert np.isfinite(sq.history["loss"]).all()
    targets = np.stack([1 - y, y], 1).astype(float)
    reg = fit(net, X, targets, loss="squared", epochs=2, seed=0, progress=False, backend="torch")
    np.testing.assert_allclose(reg.history["loss"], sq.history["loss"], rtol=1e-12)
    assert np.isnan(reg.history["accuracy"]).all()

    def hinge(logits, labels):
        import torch

        margin = logits[:, 1] - logits[:, 0]
        return torch.clamp(1 - (2 * labels - 1) * margin, min=0).mean()

    hn = fit(net, X, y, loss=hinge, epochs=2, seed=0, progress=False, backend="torch")
    assert np.isfinite(hn.history["loss"]).all()


@NEEDS_TORCH
def test_trained_model_works_with_min_cut_spectra_and_save_load(tmp_path):
    X, y = _task(n=64, N=8)
    res = fit(tc.deep(8, 2, 2, n_outputs=2, seed=0), X, y, epochs=3, seed=0, progress=False, backend="torch")
    net = res.model
    part = [0, 1, 2, 3]
    cut = tc.min_cut(net, part)
    A = net.coefficient_tensor(output=1)
    dense = np.linalg.svd(A.reshape(2**4, 2**4), compute_uv=False)  # the matricization, by numpy
    got = tc.schmidt_values(net, part, output=1)
    np.testing.assert_allclose(got[: dense.size], dense[: got.size], rtol=1e-8, atol=1e-12 * dense[0])
    assert np.sum(dense > 1e-10 * dense[0]) <= cut.bound
    net.save(tmp_path / "trained.npz")
    back = load_model(tmp_path / "trained.npz")
    np.testing.assert_array_equal(back.forward(X), net.forward(X))


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, exc, match", [
    ({"y": [0, 1, 0]}, ValueError, r"X has 8 samples but y has 3 entries"),
    ({"y": [0, 1, 2, 0, 1, 0, 1, 0]}, ValueError, r"label 2 \(y\[2\]\).*n_outputs=2.*0\.\.1"),
    ({"y": [0, 1, -1, 0, 1, 0, 1, 0]}, ValueError, r"label -1"),
    ({"y": np.linspace(0, 1, 8)}, TypeError, r"integer class labels"),
    ({"X": np.ones((8, 5, 2))}, ValueError, r"shape \(8, 5, 2\).*n_inputs=4"),
    ({"X": np.ones((8, 4, 3))}, ValueError, r"n_descriptors=2"),
    ({"loss": "hinge"}, ValueError, r"unknown loss 'hinge'"),
    ({"loss": 3}, TypeError, r"loss must be"),
    ({"optimizer": "lbfgs"}, ValueError, r"unknown optimizer 'lbfgs'"),
    ({"backend": "tensorflow"}, ValueError, r"unknown backend 'tensorflow'"),
    ({"lr": -1.0}, ValueError, r"lr must be positive.*-1\.0"),
    ({"epochs": 2.5}, TypeError, r"epochs must be a positive int, got 2\.5"),
    ({"batch_size": 0}, ValueError, r"batch_size"),
    ({"patience": True}, TypeError, r"patience"),
    ({"progress": "yes"}, TypeError, r"progress must be a bool"),
    ({"validation": np.ones(3)}, TypeError, r"validation must be a pair"),
    ({"validation": (np.ones((2, 4, 2)), [0, 5])}, ValueError, r"label 5 \(y_val\[1\]\)"),
    ({"parameterization": "exp"}, ValueError, r"unknown parameterization 'exp'"),
    ({"model": tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2)}, TypeError, r"DilatedConvNet"),
])
def test_bad_input_names_the_value(kwargs, exc, match):
    args = {"model": tc.deep(4, 2, 2, n_outputs=2, seed=0), "X": np.full((8, 4, 2), 0.5),
            "y": [0, 1] * 4, "progress": False, "epochs": 1}
    args.update(kwargs)
    model, X, y = args.pop("model"), args.pop("X"), args.pop("y")
    with pytest.raises(exc, match=match):
        fit(model, X, y, **args)


def test_nan_pixels_name_the_sample():
    X = np.full((8, 4, 2), 0.5)
    X[5, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values.*sample 5"):
        fit(tc.deep(4, 2, 2, n_outputs=2), X, [0, 1] * 4, progress=False)


@pytest.mark.parametrize("backend, modules, extra", [("jax", ("optax",), "tnconv[jax]"),
                                                     ("torch", ("torch",), "tnconv[torch]")])
def test_missing_backend_names_the_extra(monkeypatch, backend, modules, extra):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=re.escape(f"pip install '{extra}'")):
        fit(tc.deep(4, 2, 2, n_outputs=2), np.full((8, 4, 2), 0.5), [0, 1] * 4, backend=backend, progress=False)


@NEEDS_TORCH
def test_divergence_stops_with_the_epoch_and_keeps_finite_weights():
    X, y = _task(n=32, N=16)
    net = tc.deep(16, 2, 2, n_outputs=2, seed=0, dtype="float32")
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+.*lower lr.*parameterization='log'") as info:
        fit(net, X * 50, y, epochs=20, optimizer="sgd", lr=1e4, seed=0, progress=False, backend="torch",
            parameterization="signed")
    result = info.value.result
    assert all(np.isfinite(w).all() for w in result.model.weights.values())
    assert len(result.history["loss"]) == result.best_epoch
    assert isinstance(info.value, FloatingPointError)
