"""Shared plumbing of the trained experiments: features, one training run per grid point, summaries.

A grid point is a plain dict (picklable, so that ``tnconv.sweep`` can ship it to a process pool or a dask
cluster): the data set, the network and the training options. :func:`train_point` builds the data and the
net, trains with :func:`tnconv.train.fit` and returns test and train accuracy. Data sets are cached per
process, so the seeds of one configuration share the generated images.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..models.convnet import ConvNet
from ..trees import ModeTree

__all__ = ["GEOMETRIES", "build_net", "compare", "dataset", "grid_tree", "mean_std", "pixel_features", "run_grid",
           "train_point"]

#: Pooling geometries of the trained experiments: contiguous 2x2 windows, or mirror (interleaved) ones.
GEOMETRIES = ("square", "mirror")


def pixel_features(X: np.ndarray, M: int) -> np.ndarray:
    """Gaussian features of every pixel: ``(n, h*w, M)`` with ``f_d(x) = exp(-(x - mu_d)^2 / (2 s^2))``,
    ``mu_d = d / (M - 1)`` and ``s = 1 / (M - 1)`` (``mu = 0.5``, ``s = 0.5`` for ``M = 1``).

    Pixels lie in ``[0, 1]``, so every feature is at least ``exp(-(M - 1)^2 / 2)``: positive, as log-space
    training needs, and a fixed representation for every net of an experiment.
    """
    x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[..., None]
    mu = np.linspace(0.0, 1.0, M) if M > 1 else np.array([0.5])
    s = 1.0 / (M - 1) if M > 1 else 0.5
    return np.exp(-((x - mu) ** 2) / (2 * s * s))


def grid_tree(side: int, geometry: str) -> ModeTree:
    """The 2x2-pooling tree of a ``side x side`` image: ``square`` (contiguous) or ``mirror`` (interleaved)."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
    return ModeTree.grid(side, side, window=2, interleaved=geometry == "mirror")


def build_net(spec: Mapping[str, Any], seed: int) -> ConvNet:
    """A ConvNet from ``spec``: ``side``, ``geometry``, ``M``, ``widths``, ``n_outputs``, ``g``, ``shared``."""
    return ConvNet(grid_tree(spec["side"], spec["geometry"]), spec["M"], list(spec["widths"]),
                   n_outputs=spec["n_outputs"], g=spec.get("g", "product"), shared=spec.get("shared", False),
                   seed=seed)


@functools.lru_cache(maxsize=8)
def _cached(kind: str, task: str, side: int, n: int, seed: int, split: str | None, M: int) -> tuple:
    from .. import datasets

    if kind == "blobs":
        X, y = datasets.blobs(n, size=side, task=task, seed=seed)
    else:
        X, y = datasets.digits_canvas(n, canvas=side, task=task, seed=seed, split=split)
    F = pixel_features(X, M)
    F.setflags(write=False)
    y.setflags(write=False)
    return F, y


def dataset(point: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(F_train, y_train, F_test, y_test)`` of a grid point; train and test from different seeds (and,
    for digits, from disjoint source digits)."""
    kind, task, side, M = point["data"], point["task"], point["side"], point["M"]
    s = int(point["data_seed"])
    tr = _cached(kind, task, side, point["n_train"], 2 * s, "train" if kind == "digits" else None, M)
    te = _cached(kind, task, side, point["n_test"], 2 * s + 1, "test" if kind == "digits" else None, M)
    return tr[0], tr[1], te[0], te[1]


def train_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Train one net of a grid point; returns accuracies, epochs run and seconds (plain numbers).

    ``point`` holds the data keys of :func:`dataset`, the net keys of :func:`build_net`, ``seed`` (init
    and shuffling) and ``train`` (keyword arguments of :func:`tnconv.train.fit`).
    """
    from ..train import fit

    F, y, Ft, yt = dataset(point)
    net = build_net(point, int(point["seed"]))
    t0 = time.perf_counter()
    res = fit(net, F, y, seed=int(point["seed"]), progress=False, **dict(point["train"]))
    seconds = time.perf_counter() - t0
    test_acc = float(np.mean(res.predict(Ft) == yt))
    train_acc = float(np.mean(res.predict(F) == y))
    return {"test_accuracy": test_acc, "train_accuracy": train_acc, "epochs": len(res.history["loss"]),
            "final_loss": float(res.history["loss"][-1]), "seconds": seconds,
            "n_parameters": int(net.n_parameters), "parameterization": res.parameterization}


def run_grid(fn: Any, points: Sequence[Mapping[str, Any]], executor: Any = None) -> list[Any]:
    """``tnconv.sweep(fn, points, executor=executor)``: serial, a process pool or a dask Client."""
    from ..parallel import sweep

    return list(sweep(fn, list(points), executor=executor, progress=False))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def compare(winner: Sequence[float], loser: Sequence[float]) -> dict[str, Any]:
    """Does ``winner`` beat ``loser`` by more than the spread? The gap of the means against the sum of
    the two standard deviations (both over seeds): ``wins`` is ``gap > spread``."""
    mw, sw = mean_std(winner)
    ml, sl = mean_std(loser)
    gap, spread = mw - ml, sw + sl
    return {"gap": gap, "spread": spread, "wins": bool(gap > spread and math.isfinite(gap))}
