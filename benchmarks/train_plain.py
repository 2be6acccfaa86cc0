"""Plain trainable ConvACs, written the way public trainable ConvAC code is written: the references of
``benchmarks/train.py``.

A deep ConvAC over an ``H x W`` image (power-of-2 sides) with 2x2 pooling and unshared weights: at every
level a 1x1 convolution with its own matrix per position (one ``einsum``), then a product over the 2x2
pooling windows (a reshape and two ``prod``), until one position is left, then the output layer. This is
the structure of the PyTorch hierarchical tensor factorizations; ``log=True`` is the SimNets way instead
(positive weights stored as logs, the convolution a log-sum-exp, pooling a sum of logs).

Nothing here imports tnconv's training code: :func:`weights_from_model` only reads a ``ConvAC``'s
weights, so that the benchmark can check the references compute the same function as tnconv's forward.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

__all__ = ["forward_numpy", "init_weights", "train_jax", "train_torch", "weights_from_model"]


def levels(h: int) -> int:
    L = int(round(math.log2(h)))
    if 2**L != h:
        raise ValueError(f"image side must be a power of 2, got {h}")
    return L


def init_weights(h: int, M: int, widths: list[int], n_classes: int, seed: int, log: bool) -> list[np.ndarray]:
    """Per level ``l`` an array ``(h / 2^l, h / 2^l, in, out)``; the output layer ``(1, 1, w, n_classes)``.

    Linear: ``N(0, 1/fan_in)`` entries (activations keep unit scale through the products). Log: the
    logs of positive weights, ``log(1/fan_in) + 0.1 N(0, 1)``.
    """
    rng = np.random.default_rng(seed)
    L = levels(h)
    dims = [M, *widths[:L], n_classes]
    out = []
    for lvl in range(L + 1):
        side = h >> lvl
        shape = (side, side, dims[lvl], dims[lvl + 1])
        if log:
            out.append(-math.log(dims[lvl]) + 0.1 * rng.standard_normal(shape))
        else:
            out.append(rng.standard_normal(shape) / math.sqrt(dims[lvl]))
    return out


def weights_from_model(model: Any, h: int) -> list[np.ndarray]:
    """A tnconv ``deep((h, h), ...)`` model's weights as the per-level arrays of :func:`init_weights`."""
    L = levels(h)
    out = []
    for lvl in range(L + 1):
        side, block = h >> lvl, 1 << lvl
        rows = []
        for i in range(side):
            row = []
            for j in range(side):
                node = frozenset(r * h + c for r in range(i * block, (i + 1) * block)
                                 for c in range(j * block, (j + 1) * block))
                row.append(np.asarray(model.weights[node]))
            rows.append(np.stack(row))
        out.append(np.stack(rows))
    return out


def forward_numpy(weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Linear forward in numpy; ``x`` is ``(B, H, W, M)``. The benchmark's correctness check."""
    a = x
    for lvl, w in enumerate(weights):
        a = np.einsum("bhwm,hwmr->bhwr", a, w)
        if lvl < len(weights) - 1:
            B, s, _, r = a.shape
            a = a.reshape(B, s // 2, 2, s // 2, 2, r).prod(axis=(2, 4))
    return a.reshape(a.shape[0], -1)


# ---------------------------------------------------------------------------------------------- torch

def _torch_forward(torch: Any, weights: Any, x: Any, log: bool) -> Any:
    a = x
    for lvl, w in enumerate(weights):
        if log:  # log a'_r = logsumexp_m (log a_m + log W_mr)
            a = torch.logsumexp(a.unsqueeze(-1) + w.unsqueeze(0), dim=-2)
        else:
            a = torch.einsum("bhwm,hwmr->bhwr", a, w)
        if lvl < len(weights) - 1:
            B, s, _, r = a.shape
            a = a.reshape(B, s // 2, 2, s // 2, 2, r)
            a = a.sum(dim=(2, 4)) if log else a.prod(dim=4).prod(dim=2)
    return a.reshape(a.shape[0], -1)


def train_torch(weights: list[np.ndarray], X: np.ndarray, y: np.ndarray, Xv: np.ndarray, yv: np.ndarray, *,
                epochs: int, batch_size: int, lr: float, seed: int, log: bool) -> dict[str, list[float]]:
    """Adam on cross-entropy of the logits (``log h_y`` in log space, ``h_y`` otherwise), float32.

    Returns per-epoch ``seconds`` (cumulative training time) and validation ``accuracy``.
    """
    import torch

    torch.manual_seed(seed)
    params = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in weights]
    opt = torch.optim.Adam(params, lr=lr)
    Xt = torch.tensor(np.log(X) if log else X, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.int64)
    Xvt = torch.tensor(np.log(Xv) if log else Xv, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    hist: dict[str, list[float]] = {"seconds": [], "accuracy": []}
    elapsed = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.tensor(rng.permutation(len(X)))
        for k in range(0, len(X), batch_size):
            idx = perm[k:k + batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(_torch_forward(torch, params, Xt[idx], log), yt[idx])
            loss.backward()
            opt.step()
        elapsed += time.perf_counter() - t0
        with torch.no_grad():
            pred = _torch_forward(torch, params, Xvt, log).argmax(dim=1).numpy()
        hist["seconds"].append(elapsed)
        hist["accuracy"].append(float(np.mean(pred == yv)))
    return hist


# ------------------------------------------------------------------------------------------------ JAX

def _jax_forward(jnp: Any, jax: Any, weights: Any, x: Any, log: bool) -> Any:
    a = x
    for lvl, w in enumerate(weights):
        if log:
            a = jax.nn.logsumexp(a[..., :, None] + w[None], axis=-2)
        else:
            a = jnp.einsum("bhwm,hwmr->bhwr", a, w)
        if lvl < len(weights) - 1:
            B, s, _, r = a.shape
            a = a.reshape(B, s // 2, 2, s // 2, 2, r)
            a = a.sum(axis=(2, 4)) if log else a.prod(axis=(2, 4))
    return a.reshape(a.shape[0], -1)


def train_jax(weights: list[np.ndarray], X: np.ndarray, y: np.ndarray, Xv: np.ndarray, yv: np.ndarray, *,
              epochs: int, batch_size: int, lr: float, seed: int, log: bool) -> dict[str, list[float]]:
    """As :func:`train_torch`, with ``jax.jit`` on the update step and optax's Adam (float32)."""
    import jax
    import jax.numpy as jnp
    import optax

    params = [jnp.asarray(w, dtype=jnp.float32) for w in weights]
    opt = optax.adam(lr)
    state = opt.init(params)

    def loss_fn(p: Any, xb: Any, yb: Any) -> Any:
        logits = _jax_forward(jnp, jax, p, xb, log)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def step(p: Any, s: Any, xb: Any, yb: Any) -> Any:
        g = jax.grad(loss_fn)(p, xb, yb)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s

    predict = jax.jit(lambda p, xb: jnp.argmax(_jax_forward(jnp, jax, p, xb, log), axis=1))
    Xj = jnp.asarray(np.log(X) if log else X, dtype=jnp.float32)
    yj = jnp.asarray(y)
    Xvj = jnp.asarray(np.log(Xv) if log else Xv, dtype=jnp.float32)
    rng = np.random.default_rng(seed)
    hist: dict[str, list[float]] = {"seconds": [], "accuracy": []}
    elapsed = 0.0
    n_full = len(X) // batch_size * batch_size  # one batch shape: one compilation
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(len(X))[:n_full]
        for k in range(0, n_full, batch_size):
            idx = perm[k:k + batch_size]
            params, state = step(params, state, Xj[idx], yj[idx])
        jax.block_until_ready(params)
        elapsed += time.perf_counter() - t0
        pred = np.asarray(predict(params, Xvj))
        hist["seconds"].append(elapsed)
        hist["accuracy"].append(float(np.mean(pred == yv)))
    return hist
