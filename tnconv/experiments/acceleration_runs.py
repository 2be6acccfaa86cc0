"""Runs of the implicit-acceleration experiment: every optimizer over one learning-rate grid.

The protocol is that of :mod:`tnconv.experiments.linear_acceleration`.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..linear import LpLoss
from .acceleration_data import DATASETS, load_dataset, minimum_loss
from .acceleration_optimizers import BASELINES, StackedOptimizer, make_optimizer, method_names

__all__ = ["AccelerationResult", "run", "run_all"]


@dataclass
class AccelerationResult:
    """Plain data of one (dataset, p) experiment; every array is a numpy array or a list.

    ``iters_to_target[name]`` is the first iteration from which the loss stays at or below ``target``
    (``None`` when no learning rate of the grid got there); ``curves[name]`` is the loss at every iteration
    at its best learning rate;
    ``grid_iters[name][k]`` is the iterations to target at ``lr_grid[k]`` (-1: not reached, -2: diverged).

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import run
    >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=150, lr_grid=[0.3, 1.0], baselines=(),
    ...           rel_target=1e-2)
    >>> res.iters_to_target["GD"] < res.n_iter
    True
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
        """``iters(reference) / iters(name)``: inf when only ``name`` reached the target, None if neither.

        Parameters
        ----------
        name : str
            A method of :attr:`methods`.
        reference : str
            The method to compare with.

        Returns
        -------
        float or None

        Examples
        --------
        >>> from tnconv.experiments.linear_acceleration import run
        >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=150, lr_grid=[0.3, 1.0], baselines=(),
        ...           rel_target=1e-2)
        >>> round(res.speedup("end-to-end N=2"), 2)   # p = 2: depth does not help
        0.61
        """
        a, b = self.iters_to_target.get(reference), self.iters_to_target.get(name)
        if b is None:
            return None if a is None else 0.0
        if a is None:
            return math.inf
        return a / max(b, 1)

    def to_dict(self) -> dict:
        """JSON-ready dict (arrays as lists).

        Returns
        -------
        dict

        Examples
        --------
        >>> from tnconv.experiments.linear_acceleration import run
        >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=150, lr_grid=[0.3, 1.0], baselines=(),
        ...           rel_target=1e-2)
        >>> import json
        >>> json.loads(json.dumps(res.to_dict()))["p"]
        2.0
        """
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
    grid = _check_run_args(p, depths, n_iter, lr_grid, rel_target, init_scale, wide, baselines)
    X, y = load_dataset(dataset, seed) if data is None else (np.asarray(data[0], float), np.asarray(data[1], float))
    loss = LpLoss(X, y, p)
    loss_star, _ = minimum_loss(X, y, p)
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(int(X.shape[1]))
    W0 = (init_scale / np.linalg.norm(w0)) * w0[None, :]
    loss_init = float(loss(W0)[0])
    target = loss_star + rel_target * (loss_init - loss_star)
    res = AccelerationResult(
        dataset=dataset if data is None else "custom", p=float(p), n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]), n_iter=n_iter, init_scale=float(init_scale), rel_target=float(rel_target),
        loss_star=loss_star, loss_init=loss_init, target=target, lr_grid=grid,
        methods=method_names([int(d) for d in depths], wide, baselines),
    )
    for method in res.methods:
        start = time.perf_counter()
        curves, diverged = _loss_curves(make_optimizer(method, loss, W0, grid, seed), loss, n_iter, 1e3 * loss_init)
        _record(res, method, curves, diverged)
        res.seconds[method] = time.perf_counter() - start
    return res


def _check_run_args(p: Any, depths: Sequence[int], n_iter: Any, lr_grid: Any, rel_target: float,
                    init_scale: float, wide: Any, baselines: Sequence[str]) -> np.ndarray:
    """Validate the options of :func:`run`; returns the learning-rate grid."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p < 2:
        raise ValueError(f"p must be a finite number >= 2, got p={p!r}")
    ds = [int(d) for d in depths]
    if not ds or min(ds) < 1:
        raise ValueError(f"depths must be positive ints, got {ds}")
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
    return grid


def _loss_curves(opt: StackedOptimizer, loss: LpLoss, n_iter: int, blowup: float) -> tuple[np.ndarray, np.ndarray]:
    """The loss of every learning rate at every step, inf once diverged; and which diverged."""
    K = opt.lr.shape[0]
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
    return curves, diverged


def _record(res: AccelerationResult, method: str, curves: np.ndarray, diverged: np.ndarray) -> None:
    """Iterations to target per learning rate, and the best learning rate's numbers, into ``res``."""
    # "reached" = at or below the target from then on until the end of the budget: a learning rate
    # that touches the target and then oscillates back above it has not converged.
    below = curves <= res.target
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
    res.best_lr[method] = float(res.lr_grid[k])
    res.iters_to_target[method] = int(first[k]) if first[k] >= 0 else None
    res.final_loss[method] = float(curves[k, -1])
    res.curves[method] = curves[k]


def run_all(
    ps: Sequence[float] = (4, 2), datasets: Sequence[str] = DATASETS, **options: Any
) -> list[AccelerationResult]:
    """:func:`run` for every ``(dataset, p)`` pair, in that order.

    Parameters
    ----------
    ps : sequence of float
    datasets : sequence of str
    **options
        Options of :func:`run` (``depths``, ``n_iter``, ``lr_grid``, ...); names are checked.

    Returns
    -------
    list of AccelerationResult

    Raises
    ------
    TypeError
        An option :func:`run` does not take (named), or ``p``/``dataset`` given here.

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import run_all
    >>> results = run_all(ps=(4, 2), datasets=("synthetic",), depths=(1,), n_iter=20, lr_grid=[0.1],
    ...                   baselines=())
    >>> [(r.dataset, r.p) for r in results]
    [('synthetic', 4.0), ('synthetic', 2.0)]
    """
    allowed = set(inspect.signature(run).parameters) - {"p", "dataset"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"run_all got unknown option(s) {unknown}; run takes {sorted(allowed)}")
    return [run(p=p, dataset=d, **options) for d in datasets for p in ps]
