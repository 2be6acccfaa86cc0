"""Optimizers of the implicit-acceleration experiment, each running a whole stack of learning rates at once.

GD, factor gradient descent on deep linear networks, the end-to-end rule
(:func:`tnconv.linear.end_to_end_update`), AdaGrad, AdaDelta, Adam and Nesterov momentum, over a stack
``(K, 1, d)`` of weight vectors, one per learning rate.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..linear import DeepLinearNetwork, LpLoss, end_to_end_update

__all__ = ["BASELINES", "StackedOptimizer", "make_optimizer", "method_names"]

BASELINES = ("AdaGrad", "AdaDelta", "Adam", "Nesterov")


class StackedOptimizer:
    """An optimizer over a stack ``(K, 1, d)`` of weight vectors, one per learning rate."""

    def __init__(self, loss: LpLoss, W0: np.ndarray, lr: np.ndarray):
        self.loss = loss
        self.lr = lr[:, None, None]
        self.state = self.init(np.repeat(W0[None], len(lr), axis=0))
        self.initial = {k: v.copy() for k, v in self.state.items()}

    def init(self, W: np.ndarray) -> dict:
        return {"W": W}

    def weights(self) -> np.ndarray:
        return self.state["W"]

    def step(self, grad: np.ndarray) -> None:
        raise NotImplementedError

    def reset(self, mask: np.ndarray) -> None:
        for key, arr in self.state.items():
            arr[mask] = self.initial[key][mask]

    def gradient_point(self) -> np.ndarray | None:
        """Where the next gradient is taken (None: at the current weights)."""
        return None


class _GD(StackedOptimizer):
    def step(self, grad):
        self.state["W"] -= self.lr * grad


class _EndToEnd(StackedOptimizer):
    def __init__(self, loss, W0, lr, depth):
        self.depth = depth
        super().__init__(loss, W0, lr)

    def step(self, grad):
        self.state["W"] = end_to_end_update(self.state["W"], grad, self.depth, self.lr[:, 0, 0])


class _Factors(StackedOptimizer):
    """Gradient descent on the factors of a balanced deep linear network (one per learning rate)."""

    def __init__(self, loss, W0, lr, depth, hidden, seed):
        net = DeepLinearNetwork.from_end_to_end(W0, depth, hidden=hidden, seed=seed)
        K = len(lr)
        self.net = DeepLinearNetwork([np.repeat(f[None], K, axis=0) for f in net.factors])
        self.loss = loss
        self.lr = lr[:, None, None]
        self.state = {f"W{j}": f for j, f in enumerate(self.net.factors)}
        self.initial = {k: v.copy() for k, v in self.state.items()}

    def weights(self):
        self.net.factors = [self.state[f"W{j}"] for j in range(len(self.state))]
        return self.net.end_to_end()

    def step(self, grad):
        gs = self.net.factor_gradients(grad)
        for j, g in enumerate(gs):
            self.state[f"W{j}"] = self.state[f"W{j}"] - self.lr * g
        self.net.factors = [self.state[f"W{j}"] for j in range(len(self.state))]


class _AdaGrad(StackedOptimizer):
    eps = 1e-10

    def init(self, W):
        return {"W": W, "G2": np.zeros_like(W)}

    def step(self, grad):
        s = self.state
        s["G2"] += grad * grad
        s["W"] -= self.lr * grad / (np.sqrt(s["G2"]) + self.eps)


class _AdaDelta(StackedOptimizer):
    rho, eps = 0.95, 1e-6

    def init(self, W):
        return {"W": W, "Eg2": np.zeros_like(W), "Edx2": np.zeros_like(W)}

    def step(self, grad):
        s, rho = self.state, self.rho
        s["Eg2"] = rho * s["Eg2"] + (1 - rho) * grad * grad
        dx = np.sqrt(s["Edx2"] + self.eps) / np.sqrt(s["Eg2"] + self.eps) * grad
        s["Edx2"] = rho * s["Edx2"] + (1 - rho) * dx * dx
        s["W"] -= self.lr * dx


class _Adam(StackedOptimizer):
    b1, b2, eps = 0.9, 0.999, 1e-8

    def init(self, W):
        return {"W": W, "m": np.zeros_like(W), "v": np.zeros_like(W), "t": np.zeros((len(W), 1, 1))}

    def step(self, grad):
        s = self.state
        s["t"] += 1
        s["m"] = self.b1 * s["m"] + (1 - self.b1) * grad
        s["v"] = self.b2 * s["v"] + (1 - self.b2) * grad * grad
        m_hat = s["m"] / (1 - self.b1 ** s["t"])
        v_hat = s["v"] / (1 - self.b2 ** s["t"])
        s["W"] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class _Nesterov(StackedOptimizer):
    mu = 0.9

    def init(self, W):
        return {"W": W, "v": np.zeros_like(W)}

    def gradient_point(self):
        return self.state["W"] + self.mu * self.state["v"]

    def step(self, grad):
        s = self.state
        s["v"] = self.mu * s["v"] - self.lr * grad
        s["W"] += s["v"]


def make_optimizer(name: str, loss: LpLoss, W0: np.ndarray, lr: np.ndarray, seed: int) -> StackedOptimizer:
    """The optimizer called ``name`` (as :func:`method_names` builds them) over the stack of rates ``lr``."""
    if name == "GD":
        return _GD(loss, W0, lr)
    simple = {"AdaGrad": _AdaGrad, "AdaDelta": _AdaDelta, "Adam": _Adam, "Nesterov": _Nesterov}
    if name in simple:
        return simple[name](loss, W0, lr)
    if name.startswith("end-to-end N="):
        return _EndToEnd(loss, W0, lr, int(name.split("=")[1]))
    if name.startswith("depth "):  # "depth 3 (width 1)"
        depth = int(name.split()[1])
        width = int(name.split("width ")[1].rstrip(")"))
        return _Factors(loss, W0, lr, depth, width, seed)
    raise ValueError(f"unknown optimizer {name!r}")  # pragma: no cover - names are built below


def method_names(depths: Sequence[int], wide: int, baselines: Sequence[str]) -> list[str]:
    """GD (depth 1), then per depth ``N >= 2`` factor GD at widths 1 and ``wide`` and the rule, then baselines."""
    names = ["GD"] if 1 in depths else []
    for N in sorted(set(depths) - {1}):
        names += [f"depth {N} (width 1)", f"depth {N} (width {wide})", f"end-to-end N={N}"]
    return names + list(baselines)
