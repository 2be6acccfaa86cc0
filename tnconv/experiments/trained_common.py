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
from typing import Any, TypedDict

import numpy as np

from ..models.convnet import ConvNet
from ..trees import ModeTree

__all__ = ["GEOMETRIES", "TrainedConfig", "build_net", "check_line", "compare", "dataset", "expected_checks",
           "grid_tree", "mean_std", "mean_std_table", "mirror_tree", "pixel_features", "run_grid", "seed_summary",
           "seed_table", "train_options", "train_point"]

#: Pooling geometries of the trained experiments: contiguous 2x2 windows, or mirror (interleaved) ones.
GEOMETRIES = ("square", "mirror")


class TrainedConfig(TypedDict):
    """The keys every trained experiment's ``CONFIG[size]`` has: data split, seeds and training options."""

    n_train: int
    n_test: int
    seeds: int
    epochs: int
    batch_size: int
    lr: float
    backend: str


def train_options(cfg: TrainedConfig, backend: str | None, **extra: Any) -> dict[str, Any]:
    """The ``train`` entry of a grid point: keyword arguments of :func:`tnconv.train.fit`.

    Parameters
    ----------
    cfg : TrainedConfig
        One size's configuration.
    backend : {"jax", "torch"}, optional
        Default: the configuration's.
    **extra
        More options (``parameterization``).

    Returns
    -------
    dict

    Examples
    --------
    >>> cfg = {"n_train": 10, "n_test": 10, "seeds": 1, "epochs": 3, "batch_size": 5, "lr": 0.1, "backend": "jax"}
    >>> train_options(cfg, None, parameterization="log")
    {'epochs': 3, 'batch_size': 5, 'lr': 0.1, 'backend': 'jax', 'parameterization': 'log'}
    """
    return {"epochs": cfg["epochs"], "batch_size": cfg["batch_size"], "lr": cfg["lr"],
            "backend": backend or cfg["backend"], **extra}


def pixel_features(X: np.ndarray, M: int, width: float = 0.5) -> np.ndarray:
    """Gaussian features of every pixel: ``(n, h*w, M)`` with ``f_d(x) = exp(-(x - mu_d)^2 / (2 s^2))``,
    ``mu_d = d / (M - 1)`` and ``s = width / (M - 1)``, ``width`` times the spacing of the centres
    (``mu = 0.5``, ``s = width`` for ``M = 1``).

    Pixels lie in ``[0, 1]``, so every feature is at least ``exp(-(M - 1)^2 / (2 width^2))``: positive,
    as log-space training needs. ``width = 0.5`` (near one-hot: ``(1, e^-2)`` and ``(e^-2, 1)`` for binary
    pixels and ``M = 2``) suits log space, where only the log features matter; ``width = 1`` (smooth
    features) suits signed training, whose products of ``N`` features must stay in range.
    """
    x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)[..., None]
    mu = np.linspace(0.0, 1.0, M) if M > 1 else np.array([0.5])
    s = width / (M - 1) if M > 1 else width
    return np.exp(-((x - mu) ** 2) / (2 * s * s))


def mirror_tree(side: int) -> ModeTree:
    """ICLR'17's mirror pooling over a ``side x side`` image (``side`` a power of 2, at least 2).

    The first level pools every pixel with its three reflections: window ``(i, j)`` (``i, j < side/2``)
    holds pixels ``(i, j)``, ``(i, side-1-j)``, ``(side-1-i, j)`` and ``(side-1-i, side-1-j)``; the
    windows then pool in contiguous 2x2 blocks of their ``(i, j)`` indices, as square pooling does. Every
    first-level window meets both the left and the right half (and the top and the bottom one), so the
    left/right partition gets the high separation rank that square pooling gives to interleaved ones.

    Examples
    --------
    >>> mirror_tree(4).to_nested()[0]
    (0, 3, 12, 15)
    """
    half = side // 2
    if side < 2 or side & (side - 1):
        raise ValueError(f"mirror pooling needs a power-of-2 side >= 2, got {side!r}")

    def window(i: int, j: int) -> tuple[int, ...]:
        a, b = side - 1 - i, side - 1 - j
        return (i * side + j, i * side + b, a * side + j, a * side + b)

    def block(i: int, j: int, size: int) -> Any:
        if size == 1:
            return window(i, j)
        h = size // 2
        return tuple(block(i + di, j + dj, h) for di in (0, h) for dj in (0, h))

    return ModeTree.from_nested(block(0, 0, half))


def grid_tree(side: int, geometry: str) -> ModeTree:
    """The 2x2-pooling tree of a ``side x side`` image: ``square`` (contiguous) or ``mirror`` (reflections,
    :func:`mirror_tree`)."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
    return ModeTree.grid(side, side, window=2) if geometry == "square" else mirror_tree(side)


def build_net(spec: Mapping[str, Any], seed: int) -> ConvNet:
    """A ConvNet from ``spec``: ``side``, ``geometry``, ``M``, ``widths``, ``n_outputs``, ``g``, ``shared``."""
    return ConvNet(grid_tree(spec["side"], spec["geometry"]), spec["M"], list(spec["widths"]),
                   n_outputs=spec["n_outputs"], g=spec.get("g", "product"), shared=spec.get("shared", False),
                   seed=seed)


@functools.lru_cache(maxsize=8)
def _cached(kind: str, task: str, side: int, n: int, seed: int, split: str | None, M: int, digit: int,
            width: float) -> tuple:
    from .. import datasets

    if kind == "blobs":
        X, y = datasets.blobs(n, size=side, task=task, seed=seed)
    else:
        X, y = datasets.digits_canvas(n, canvas=side, task=task, seed=seed, split=split, digit_size=digit)
    F = pixel_features(X, M, width)
    F.setflags(write=False)
    y.setflags(write=False)
    return F, y


def dataset(point: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(F_train, y_train, F_test, y_test)`` of a grid point; train and test from different seeds (and,
    for digits, from disjoint source digits)."""
    kind, task, side, M = point["data"], point["task"], point["side"], point["M"]
    s, digit, fw = int(point["data_seed"]), int(point.get("digit_size", 8)), float(point.get("feature_width", 0.5))
    tr = _cached(kind, task, side, point["n_train"], 2 * s, "train" if kind == "digits" else None, M, digit, fw)
    te = _cached(kind, task, side, point["n_test"], 2 * s + 1, "test" if kind == "digits" else None, M, digit, fw)
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


def seed_table(points: Sequence[Mapping[str, Any]], outs: Sequence[Mapping[str, Any]], keys: Sequence[str],
               levels: Sequence[Sequence[str]], field: str) -> dict[str, Any]:
    """The per-seed values of ``field``, nested by the grid-point ``keys``: ``table[p[k0]][p[k1]]... = [...]``.

    Parameters
    ----------
    points, outs : sequences of mappings
        The grid points and what training returned for each, in the same order.
    keys : sequence of str
        The point keys that nest the table, outermost first.
    levels : sequence of sequences of str
        The values of each key, in the order the table lists them.
    field : str
        The entry of each output to collect (``test_accuracy``).

    Returns
    -------
    dict
        Nested dicts, ``len(keys)`` deep, of lists in grid order.

    Examples
    --------
    >>> pts = [{"task": "a", "seed": 0}, {"task": "b", "seed": 0}, {"task": "a", "seed": 1}]
    >>> outs = [{"acc": 0.5}, {"acc": 0.9}, {"acc": 0.7}]
    >>> seed_table(pts, outs, ["task"], [["a", "b"]], "acc")
    {'a': [0.5, 0.7], 'b': [0.9]}
    """
    def empty(depth: int) -> Any:
        return [] if depth == len(keys) else {v: empty(depth + 1) for v in levels[depth]}

    table = empty(0)
    for p, o in zip(points, outs):
        cell = table
        for k in keys:
            cell = cell[p[k]]
        cell.append(o[field])
    return table


def mean_std_table(table: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`mean_std` of every list of a :func:`seed_table`: two tables of the same nesting.

    Parameters
    ----------
    table : nested dicts of lists of float

    Returns
    -------
    (dict, dict)
        The means and the standard deviations.

    Examples
    --------
    >>> mean_std_table({"a": {"x": [1.0, 3.0]}, "b": {"x": [2.0]}})
    ({'a': {'x': 2.0}, 'b': {'x': 2.0}}, {'a': {'x': 1.4142135623730951}, 'b': {'x': 0.0}})
    """
    means: dict[str, Any] = {}
    stds: dict[str, Any] = {}
    for k, v in table.items():
        means[k], stds[k] = mean_std_table(v) if isinstance(v, Mapping) else mean_std(v)
    return means, stds


def seed_summary(points: Sequence[Mapping[str, Any]], outs: Sequence[Mapping[str, Any]], keys: Sequence[str],
                 levels: Sequence[Sequence[str]]) -> dict[str, dict[str, Any]]:
    """Test and train accuracy per seed (:func:`seed_table`), and the test accuracy's mean and std.

    Parameters
    ----------
    points, outs, keys, levels
        As :func:`seed_table`.

    Returns
    -------
    dict
        ``accuracy``, ``train_accuracy``, ``mean`` and ``std``: the fields of a trained result of those names.

    Examples
    --------
    >>> pts = [{"task": "a"}, {"task": "a"}]
    >>> outs = [{"test_accuracy": 0.5, "train_accuracy": 0.6}, {"test_accuracy": 0.7, "train_accuracy": 0.8}]
    >>> s = seed_summary(pts, outs, ["task"], [["a"]])
    >>> s["accuracy"], s["train_accuracy"], round(s["mean"]["a"], 3)
    ({'a': [0.5, 0.7]}, {'a': [0.6, 0.8]}, 0.6)
    """
    acc = seed_table(points, outs, keys, levels, "test_accuracy")
    mean, std = mean_std_table(acc)
    return {"accuracy": acc, "train_accuracy": seed_table(points, outs, keys, levels, "train_accuracy"),
            "mean": mean, "std": std}


def expected_checks(accuracy: Mapping[str, Mapping[str, Sequence[float]]], expected: Mapping[str, str],
                    options: Sequence[str]) -> list[dict[str, Any]]:
    """One :func:`compare` per task: the option the theory expects to win against the other one.

    Parameters
    ----------
    accuracy : mapping
        ``accuracy[task][option]``: per-seed test accuracy.
    expected : mapping
        The winning option of each task, in the order of the checks.
    options : sequence of str
        The two options.

    Returns
    -------
    list of dict
        ``task``, ``winner``, ``loser`` and the entries of :func:`compare`.

    Examples
    --------
    >>> acc = {"t": {"a": [0.9, 0.8], "b": [0.5, 0.6]}}
    >>> [(c["winner"], c["loser"], c["wins"]) for c in expected_checks(acc, {"t": "a"}, ["a", "b"])]
    [('a', 'b', True)]
    """
    out = []
    for task, win in expected.items():
        lose = next(g for g in options if g != win)
        out.append({"task": task, "winner": win, "loser": lose,
                    **compare(accuracy[task][win], accuracy[task][lose])})
    return out


def check_line(label: str, check: Mapping[str, Any]) -> str:
    """The verdict line of an :func:`expected_checks` entry: the gap, the spread and whether it wins.

    Parameters
    ----------
    label : str
        What the check is about (the task).
    check : mapping
        From :func:`expected_checks`.

    Returns
    -------
    str

    Examples
    --------
    >>> check_line("t", {"winner": "a", "loser": "b", "gap": 0.3, "spread": 0.1, "wins": True})
    '- t: a - b = +0.300 test accuracy, spread (sum of stds) 0.100: True.'
    """
    return (f"- {label}: {check['winner']} - {check['loser']} = {check['gap']:+.3f} test accuracy, "
            f"spread (sum of stds) {check['spread']:.3f}: {check['wins']}.")
