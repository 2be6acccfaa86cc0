"""Implicit acceleration by depth: l_p regression with deep linear networks vs adaptive optimizers.

The claim checked (Arora, Cohen & Hazan 2018, Section 8): on l_4 regression, overparameterizing a linear
model by depth 2 or 3 (even with hidden width 1) speeds gradient descent up by orders of magnitude and
beats AdaGrad and AdaDelta; on l_2 regression depth gains nothing.

Protocol (the same for every optimizer, so the comparison is fair):

* every optimizer starts from the same end-to-end weight vector ``w0`` (factor networks from a balanced
  factorization of it) and runs ``n_iter`` full-batch steps;
* every optimizer gets the same learning-rate grid (``lr_grid``, log-spaced) and therefore the same
  budget of ``len(lr_grid) * n_iter`` gradient evaluations; the whole grid runs as one stack of models;
* the target is ``L* + rel_target * (L(w0) - L*)`` where ``L*`` is the exact minimum (Newton's method
  on the convex problem); "iterations to target" is the first iteration from which the loss stays at
  or below the target until the end of the budget (touching it and bouncing back does not count);
  each optimizer reports its best learning rate = fewest iterations to the target (ties and misses
  broken by the lowest final loss). A run whose loss exceeds ``1e3 L(w0)`` or becomes non-finite
  counts as diverged and is never selected.

Optimizers: ``GD`` (depth 1), factor gradient descent at depths ``N >= 2`` with hidden width 1 (scalar
overparameterization) and a wider variant, the end-to-end rule at depth ``N``
(:func:`tnconv.linear.end_to_end_update`), AdaGrad, AdaDelta, Adam and Nesterov momentum.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..linear import DeepLinearNetwork, LpLoss, end_to_end_update

__all__ = [
    "AccelerationResult",
    "format_table",
    "load_dataset",
    "minimum_loss",
    "plot",
    "run",
    "run_all",
    "save",
]

DATASETS = ("diabetes", "synthetic")
BASELINES = ("AdaGrad", "AdaDelta", "Adam", "Nesterov")


# --------------------------------------------------------------------------------------------------
# data


def load_dataset(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardized regression data: ``"diabetes"`` (scikit-learn's bundled copy) or ``"synthetic"``.

    Parameters
    ----------
    name : {"diabetes", "synthetic"}
        ``"diabetes"``: 442 patients x 10 features, shipped inside scikit-learn (no download).
        ``"synthetic"``: 500 x 20 Gaussian features whose covariance has singular values from 1 down to
        0.05 along random directions (an ill-conditioned design that is not axis-aligned) and a linear
        target with heavy-tailed (Student-t, 3 dof) noise.
    seed : int
        Seed of the synthetic data.

    Returns
    -------
    X : numpy.ndarray, shape (m, d)
        Features with zero mean (diabetes: unit variance per column as well).
    y : numpy.ndarray, shape (m,)
        Targets with zero mean and unit variance.

    Raises
    ------
    ValueError
        An unknown name.
    ImportError
        ``"diabetes"`` without scikit-learn.

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import load_dataset
    >>> X, y = load_dataset("synthetic")
    >>> X.shape, y.shape
    ((500, 20), (500,))
    """
    if name == "diabetes":
        try:
            from sklearn.datasets import load_diabetes
        except ImportError as exc:
            raise ImportError(
                "the diabetes data set ships with scikit-learn: pip install 'tnconv[notebooks]' "
                "(or scikit-learn), or use dataset='synthetic'"
            ) from exc
        X, y = load_diabetes(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
    elif name == "synthetic":
        rng = np.random.default_rng(seed)
        m, d = 500, 20
        # Ill-conditioned along random (not axis-aligned) directions, so that a diagonal
        # preconditioner such as AdaGrad's gets no free win from the coordinate system.
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        X = (rng.standard_normal((m, d)) * np.geomspace(1.0, 0.05, d)) @ Q.T
        X -= X.mean(0)
        y = X @ rng.standard_normal(d) + 0.5 * rng.standard_t(3, m)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    y = (y - y.mean()) / y.std()
    return np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(y, dtype=float)


def minimum_loss(X: np.ndarray, y: np.ndarray, p: float, tol: float = 1e-28) -> tuple[float, np.ndarray]:
    """The exact minimum of the convex l_p loss ``1/(p m) sum |x_i.w - y_i|^p`` by damped Newton.

    Parameters
    ----------
    X, y : arrays
        Data as from :func:`load_dataset`.
    p : float
        Exponent ``>= 2``.
    tol : float
        Stop when the Newton decrement ``g^T H^+ g`` falls below ``tol * L(w)``.

    Returns
    -------
    (float, numpy.ndarray)
        The minimum value and the minimizer ``w*``.

    Raises
    ------
    ValueError
        ``p < 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.experiments.linear_acceleration import minimum_loss
    >>> value, w = minimum_loss(np.eye(2), np.array([1.0, 2.0]), p=4)
    >>> round(value, 12), np.round(w, 9)
    (0.0, array([1., 2.]))
    """
    loss = LpLoss(X, y, p)
    w = np.linalg.lstsq(X, y, rcond=None)[0]  # the exact answer for p = 2, a good start otherwise
    m = X.shape[0]
    for _ in range(0 if p == 2 else 300):
        value, grad = loss(w[None, :])
        g = grad[0]
        r = X @ w - y
        H = (p - 1) / m * (X.T * np.abs(r) ** (p - 2)) @ X
        step = np.linalg.lstsq(H, g, rcond=None)[0]  # H is singular at an exact fit (r = 0)
        dec = float(g @ step)
        if not dec > tol * float(value) or not np.any(step):
            break
        t = 1.0
        # Close to the minimum a loss decrease is below rounding and cannot be checked: take the full
        # Newton step, which converges quadratically there.
        while dec > 1e-8 * float(value) and float(loss((w - t * step)[None, :])[0]) > float(value) - 0.25 * t * dec:
            t /= 2
            if t < 1e-12:  # no decrease at machine precision: converged
                return float(value), w
        w = w - t * step
    return float(loss(w[None, :])[0]), w


# --------------------------------------------------------------------------------------------------
# optimizers, each running a whole stack of learning rates at once


class _Stacked:
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


class _GD(_Stacked):
    def step(self, grad):
        self.state["W"] -= self.lr * grad


class _EndToEnd(_Stacked):
    def __init__(self, loss, W0, lr, depth):
        self.depth = depth
        super().__init__(loss, W0, lr)

    def step(self, grad):
        self.state["W"] = end_to_end_update(self.state["W"], grad, self.depth, self.lr[:, 0, 0])


class _Factors(_Stacked):
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


class _AdaGrad(_Stacked):
    eps = 1e-10

    def init(self, W):
        return {"W": W, "G2": np.zeros_like(W)}

    def step(self, grad):
        s = self.state
        s["G2"] += grad * grad
        s["W"] -= self.lr * grad / (np.sqrt(s["G2"]) + self.eps)


class _AdaDelta(_Stacked):
    rho, eps = 0.95, 1e-6

    def init(self, W):
        return {"W": W, "Eg2": np.zeros_like(W), "Edx2": np.zeros_like(W)}

    def step(self, grad):
        s, rho = self.state, self.rho
        s["Eg2"] = rho * s["Eg2"] + (1 - rho) * grad * grad
        dx = np.sqrt(s["Edx2"] + self.eps) / np.sqrt(s["Eg2"] + self.eps) * grad
        s["Edx2"] = rho * s["Edx2"] + (1 - rho) * dx * dx
        s["W"] -= self.lr * dx


class _Adam(_Stacked):
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


class _Nesterov(_Stacked):
    mu = 0.9

    def init(self, W):
        return {"W": W, "v": np.zeros_like(W)}

    def gradient_point(self):
        return self.state["W"] + self.mu * self.state["v"]

    def step(self, grad):
        s = self.state
        s["v"] = self.mu * s["v"] - self.lr * grad
        s["W"] += s["v"]


def _make(name: str, loss: LpLoss, W0: np.ndarray, lr: np.ndarray, seed: int) -> _Stacked:
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


def _method_names(depths: Sequence[int], wide: int, baselines: Sequence[str]) -> list[str]:
    names = ["GD"] if 1 in depths else []
    for N in sorted(set(depths) - {1}):
        names += [f"depth {N} (width 1)", f"depth {N} (width {wide})", f"end-to-end N={N}"]
    return names + list(baselines)


# --------------------------------------------------------------------------------------------------
# the experiment


@dataclass
class AccelerationResult:
    """Plain data of one (dataset, p) experiment; every array is a numpy array or a list.

    ``iters_to_target[name]`` is the first iteration from which the loss stays at or below ``target``
    (``None`` when no learning rate of the grid got there); ``curves[name]`` is the loss at every iteration
    at its best learning rate;
    ``grid_iters[name][k]`` is the iterations to target at ``lr_grid[k]`` (-1: not reached, -2: diverged).
    """

    dataset: str
    p: float
    n_samples: int
    n_features: int
    n_iter: int
    init_scale: float
    rel_target: float
    loss_star: float
    loss_init: float
    target: float
    lr_grid: np.ndarray
    methods: list
    best_lr: dict = field(default_factory=dict)
    iters_to_target: dict = field(default_factory=dict)
    final_loss: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    grid_iters: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def speedup(self, name: str, reference: str = "GD") -> float | None:
        """``iters(reference) / iters(name)``: inf when only ``name`` reached the target, None if neither."""
        a, b = self.iters_to_target.get(reference), self.iters_to_target.get(name)
        if b is None:
            return None if a is None else 0.0
        if a is None:
            return math.inf
        return a / max(b, 1)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists)."""
        def num(x: Any) -> float | None:  # strict JSON has no inf/NaN: a diverged value is null
            x = float(x)
            return x if math.isfinite(x) else None

        d = asdict(self)
        d["lr_grid"] = [float(v) for v in self.lr_grid]
        d["curves"] = {k: [num(x) for x in v] for k, v in self.curves.items()}
        d["final_loss"] = {k: num(v) for k, v in self.final_loss.items()}
        d["grid_iters"] = {k: [int(x) for x in v] for k, v in self.grid_iters.items()}
        return d


def run(
    p: float = 4,
    dataset: str = "diabetes",
    depths: Sequence[int] = (1, 2, 3),
    n_iter: int = 2000,
    lr_grid: Sequence[float] | None = None,
    rel_target: float = 1e-4,
    init_scale: float = 1e-2,
    wide: int = 8,
    baselines: Sequence[str] = BASELINES,
    seed: int = 0,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> AccelerationResult:
    """Run every optimizer over the learning-rate grid on one data set and one ``p``.

    Parameters
    ----------
    p : float
        The l_p exponent (``>= 2``).
    dataset : {"diabetes", "synthetic"}
        See :func:`load_dataset`; ignored when ``data`` is given.
    depths : sequence of int
        Depths to compare; 1 is plain GD, each ``N >= 2`` adds factor GD at hidden width 1 and
        ``wide`` and the end-to-end rule.
    n_iter : int
        Steps per run (the same for every optimizer).
    lr_grid : sequence of float, optional
        Learning rates tried by every optimizer (default ``logspace(-4, 3, 29)``: 4 per decade).
    rel_target : float
        Target = ``L* + rel_target * (L(w0) - L*)``, with ``0 < rel_target < 1``.
    init_scale : float
        ``||w0||`` (a random direction; the same ``w0`` for every optimizer).
    wide : int
        Hidden width of the wider factor networks.
    baselines : sequence of str
        Subset of ``("AdaGrad", "AdaDelta", "Adam", "Nesterov")``.
    seed : int
        Seed of ``w0``, the hidden frames and the synthetic data.
    data : (X, y), optional
        Own data instead of a named data set.

    Returns
    -------
    AccelerationResult

    Raises
    ------
    ValueError
        ``p < 2``, an empty or non-positive learning-rate grid, ``rel_target`` outside (0, 1), a bad
        depth, width, baseline or iteration count.

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import run
    >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=50, lr_grid=[0.1, 1.0], baselines=())
    >>> res.methods
    ['GD', 'depth 2 (width 1)', 'depth 2 (width 8)', 'end-to-end N=2']
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p < 2:
        raise ValueError(f"p must be a finite number >= 2, got p={p!r}")
    depths = [int(d) for d in depths]
    if not depths or min(depths) < 1:
        raise ValueError(f"depths must be positive ints, got {depths}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive int, got {n_iter!r}")
    grid = np.logspace(-4, 3, 29) if lr_grid is None else np.asarray(lr_grid, dtype=float).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= 0):
        raise ValueError(f"lr_grid must be non-empty, positive and finite, got {list(grid)}")
    if not 0 < rel_target < 1:
        raise ValueError(f"rel_target must lie in (0, 1), got {rel_target}")
    if not init_scale > 0:
        raise ValueError(f"init_scale must be > 0 (depth >= 2 cannot leave w0 = 0), got {init_scale}")
    if isinstance(wide, bool) or not isinstance(wide, int) or wide < 1:
        raise ValueError(f"wide must be a positive int, got {wide!r}")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {BASELINES}")

    X, y = load_dataset(dataset, seed) if data is None else (np.asarray(data[0], float), np.asarray(data[1], float))
    name = dataset if data is None else "custom"
    loss = LpLoss(X, y, p)
    loss_star, _ = minimum_loss(X, y, p)
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(int(X.shape[1]))
    W0 = (init_scale / np.linalg.norm(w0)) * w0[None, :]
    loss_init = float(loss(W0)[0])
    target = loss_star + rel_target * (loss_init - loss_star)
    blowup = 1e3 * loss_init

    res = AccelerationResult(
        dataset=name, p=float(p), n_samples=int(X.shape[0]), n_features=int(X.shape[1]), n_iter=n_iter,
        init_scale=float(init_scale), rel_target=float(rel_target), loss_star=loss_star, loss_init=loss_init,
        target=target, lr_grid=grid, methods=_method_names(depths, wide, baselines),
    )
    K = grid.size
    for method in res.methods:
        start = time.perf_counter()
        opt = _make(method, loss, W0, grid, seed)
        curves = np.empty((K, n_iter + 1))
        diverged = np.zeros(K, bool)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for t in range(n_iter + 1):
                value, grad = loss(opt.weights())
                value = np.asarray(value, dtype=float)
                bad = ~np.isfinite(value) | (value > blowup) | diverged
                diverged |= bad
                curves[:, t] = np.where(diverged, np.inf, value)
                if t == n_iter:
                    break
                new_bad = bad & np.isfinite(curves[:, t - 1]) if t else bad
                if new_bad.any():
                    opt.reset(new_bad)  # keep NaNs out of the stack; the run is already marked diverged
                look = opt.gradient_point()
                if look is not None:
                    grad = loss(look)[1]
                # diverged members stay frozen at their start, so they cannot produce NaN or overflow
                opt.step(np.where(diverged[:, None, None], 0.0, grad))
        # "reached" = at or below the target from then on until the end of the budget: a learning rate
        # that touches the target and then oscillates back above it has not converged.
        below = curves <= target
        stays = np.flip(np.logical_and.accumulate(np.flip(below, axis=1), axis=1), axis=1)
        first = np.where(stays[:, -1], stays.argmax(axis=1), -1)
        first = np.where(diverged, -2, first)
        res.grid_iters[method] = first
        # a learning rate that reaches the target but later blows up is not usable: only stable runs
        ok = (first >= 0) & ~diverged
        if ok.any():
            k = int(np.flatnonzero(ok)[np.lexsort((curves[ok, -1], first[ok]))[0]])
        else:
            k = int(np.argmin(np.where(np.isfinite(curves[:, -1]), curves[:, -1], np.inf)))
        res.best_lr[method] = float(grid[k])
        res.iters_to_target[method] = int(first[k]) if first[k] >= 0 else None
        res.final_loss[method] = float(curves[k, -1])
        res.curves[method] = curves[k]
        res.seconds[method] = time.perf_counter() - start
    return res


def run_all(
    ps: Sequence[float] = (4, 2), datasets: Sequence[str] = DATASETS, **kw: Any
) -> list[AccelerationResult]:
    """:func:`run` for every ``(dataset, p)`` pair, in that order.

    Parameters
    ----------
    ps : sequence of float
    datasets : sequence of str
    **kw
        Passed to :func:`run`.

    Returns
    -------
    list of AccelerationResult
    """
    return [run(p=p, dataset=d, **kw) for d in datasets for p in ps]


# --------------------------------------------------------------------------------------------------
# reporting


def _fmt_iters(v: int | None, n_iter: int) -> str:
    return f">{n_iter}" if v is None else str(v)


def verdict(result: AccelerationResult) -> str:
    """One line on each part of the claim for this result.

    For ``p > 2``: (a) the best factor-GD depth reaches the target at least 10x sooner than GD
    ("orders of magnitude" would need 100x; 10x is the lenient reading), (b) it reaches it sooner than
    AdaGrad and than AdaDelta. For ``p = 2``: no depth is more than 1.5x faster than GD.

    Parameters
    ----------
    result : AccelerationResult

    Returns
    -------
    str
    """
    depth_names = [m for m in result.methods if m.startswith("depth ")]
    if not depth_names or "GD" not in result.methods:
        return "claim: not tested (needs GD and at least one depth >= 2)"
    iters = {m: result.iters_to_target[m] for m in result.methods}
    best = min(depth_names, key=lambda m: math.inf if iters[m] is None else iters[m])
    sp = result.speedup(best)
    sp_txt = "n/a" if sp is None else ("inf" if sp == math.inf else f"{sp:.3g}x")
    n = result.n_iter
    if result.p > 2:
        parts = [f"claim p={result.p:g}: best depth = {best}, {sp_txt} vs GD (needs >= 10x): "
                 f"{'HOLDS' if sp is not None and sp >= 10 else 'FAILS'}"]
        for b in ("AdaGrad", "AdaDelta"):
            if b in iters:
                ours, theirs = iters[best], iters[b]
                ok = ours is not None and (theirs is None or ours < theirs)
                parts.append(f"beats {b} ({_fmt_iters(ours, n)} vs {_fmt_iters(theirs, n)} iters): "
                             f"{'HOLDS' if ok else 'FAILS'}")
        return "; ".join(parts)
    holds = sp is not None and sp <= 1.5
    return (f"claim p=2 (depth gives no speed-up, <= 1.5x): {'HOLDS' if holds else 'FAILS'}; "
            f"best depth = {best}, {sp_txt} vs GD")


def format_table(result: AccelerationResult | Sequence[AccelerationResult]) -> str:
    """A plain-text table: best lr, iterations to target, speed-up vs GD, final excess loss.

    Parameters
    ----------
    result : AccelerationResult or a sequence of them

    Returns
    -------
    str
    """
    if not isinstance(result, AccelerationResult):
        return "\n\n".join(format_table(r) for r in result)
    r = result
    lines = [
        f"{r.dataset} (m={r.n_samples}, d={r.n_features}), l_{r.p:g} loss: L*={r.loss_star:.6g}, "
        f"L(w0)={r.loss_init:.6g}, target L*+{r.rel_target:g}(L(w0)-L*)={r.target:.6g}; "
        f"{r.n_iter} iters x {len(r.lr_grid)} lrs in [{r.lr_grid.min():.3g}, {r.lr_grid.max():.3g}] each",
        f"{'method':<22}{'best lr':>10}{'iters':>9}{'vs GD':>9}{'final L-L*':>13}{'time s':>8}",
    ]
    for m in r.methods:
        sp = r.speedup(m)
        sp_txt = "-" if sp is None else ("inf" if sp == math.inf else f"{sp:.3g}x")
        lines.append(
            f"{m:<22}{r.best_lr[m]:>10.3g}{_fmt_iters(r.iters_to_target[m], r.n_iter):>9}{sp_txt:>9}"
            f"{r.final_loss[m] - r.loss_star:>13.3e}{r.seconds.get(m, float('nan')):>8.2f}"
        )
    lines.append(verdict(r))
    return "\n".join(lines)


def plot(result: AccelerationResult | Sequence[AccelerationResult], path_or_ax: Any = None) -> Any:
    """Excess loss ``L - L*`` vs iteration at each optimizer's best learning rate.

    Parameters
    ----------
    result : AccelerationResult or a sequence of them (one panel each)
    path_or_ax : str, Path, matplotlib Axes or sequence of Axes, optional
        A file name to save a PNG to, or axes to draw on (one per result).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib (``pip install 'tnconv[plot]'``).
    """
    try:
        from matplotlib.figure import Figure  # no pyplot: no global backend or figure state touched
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'tnconv[plot]'") from exc
    results = [result] if isinstance(result, AccelerationResult) else list(result)
    if path_or_ax is None or isinstance(path_or_ax, (str, Path)):
        ncols = min(2, len(results))
        nrows = -(-len(results) // ncols)
        fig = Figure(figsize=(6.5 * ncols, 4.5 * nrows))
        grid = fig.subplots(nrows, ncols, squeeze=False)
        axes = list(grid.ravel())
        for ax in axes[len(results):]:
            ax.set_visible(False)
        axes = axes[: len(results)]
    else:
        axes = list(path_or_ax) if isinstance(path_or_ax, (list, tuple, np.ndarray)) else [path_or_ax]
        if len(axes) != len(results):
            raise ValueError(f"got {len(axes)} axes for {len(results)} results")
        fig = axes[0].figure
    styles = {"GD": ("k", "-"), "AdaGrad": ("tab:orange", ":"), "AdaDelta": ("tab:brown", ":"),
              "Adam": ("tab:pink", ":"), "Nesterov": ("tab:gray", ":")}
    palette = ["tab:blue", "tab:green", "tab:red", "tab:purple", "tab:cyan", "tab:olive"]
    for ax, r in zip(axes, results):
        depth_colors: dict[int, str] = {}
        for m in r.methods:
            excess = np.maximum(np.asarray(r.curves[m]) - r.loss_star, 1e-16)
            if m in styles:
                color, ls = styles[m]
            else:
                N = int(m.split("=")[1]) if m.startswith("end-to-end") else int(m.split()[1])
                color = depth_colors.setdefault(N, palette[len(depth_colors) % len(palette)])
                ls = "--" if m.startswith("end-to-end") else ("-" if "width 1)" in m else "-.")
            ax.semilogy(excess, color=color, ls=ls, lw=1.4, label=f"{m} (lr {r.best_lr[m]:.2g})")
        ax.axhline(r.target - r.loss_star, color="0.6", lw=0.8)
        ax.set_xlabel("iteration")
        ax.set_ylabel("L - L*")
        ax.set_title(f"{r.dataset}, l_{r.p:g} regression")
        ax.legend(fontsize=7)
    fig.tight_layout()
    if isinstance(path_or_ax, (str, Path)):
        fig.savefig(path_or_ax, dpi=120)
    return fig


def save(results: AccelerationResult | Sequence[AccelerationResult], path: str | Path) -> Path:
    """Write the results as JSON (no pickle). Returns the path."""
    results = [results] if isinstance(results, AccelerationResult) else list(results)
    path = Path(path)
    path.write_text(json.dumps([r.to_dict() for r in results], indent=1, default=_json_default))
    return path


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"cannot serialize {type(o).__name__}")
