"""Claim 2, trained -- square pooling wins closedness, mirror pooling wins left-right symmetry.

ICLR'17 trains deep networks with contiguous ("square") 2x2 pooling and with mirror pooling, which joins
every pixel with its left-right (and top-bottom) mirror image at the first level, on two tasks over the
same kind of random blob images: closedness, decided by local pixel correlations, and left-right
symmetry, decided by correlations between the two halves of the image. The theory (claim 2) says
square pooling supports high separation ranks for interleaved partitions and low ones for left/right,
and mirror pooling the reverse; so square pooling should fit closedness and mirror pooling symmetry.

The experiment trains ConvACs (product pooling) and ReLU + max-pooling nets with each geometry on
:func:`tnconv.datasets.blobs` for both tasks, over several seeds (init and shuffling; the images are fixed
per task), with :func:`tnconv.train.fit`, and reports test accuracy as mean +- std over seeds. The claim
holds when, for both net kinds, square beats mirror on closedness and mirror beats square on symmetry,
each by more than the spread (the sum of the two standard deviations).

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743 (Sec. 7, closedness and symmetry).

Examples
--------
>>> from tnconv.experiments import pooling_geometry_trained as pgt
>>> len(pgt.grid("small")), len(pgt.grid("medium"))   # tasks x geometries x net kinds x seeds
(8, 24)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .common import TRAINED_SIZES, check_size
from .figures import figure_target, finish_figure, seed_bars
from .trained_common import (
    GEOMETRIES,
    TrainedConfig,
    check_line,
    expected_checks,
    run_grid,
    seed_summary,
    train_options,
    train_point,
)

__all__ = ["CONFIG", "KINDS", "TASKS", "PoolingTrainedResult", "grid", "plot", "run", "verdict"]

TASKS = ("closedness", "symmetry")
#: Net kinds: a ConvAC (product pooling) and a ReLU net with max pooling.
KINDS = {"convac": "product", "relu_max": "relu_max"}
#: How each kind trains (:func:`tnconv.train.fit`): ConvACs in log space (the SimNets way; signed
#: product nets did not learn these tasks at 8x8), ReLU nets with signed, per-level rescaled weights.
PARAMETERIZATION = {"convac": "log", "relu_max": "signed"}
#: Which geometry the theory says wins each task.
EXPECTED = {"closedness": "square", "symmetry": "mirror"}


class _Config(TrainedConfig):
    kinds: list[str]
    side: int
    M: int
    width: int


CONFIG: dict[str, _Config] = {
    "small": {"kinds": ["convac"], "side": 4, "M": 2, "width": 4, "n_train": 200, "n_test": 200, "seeds": 2,
              "epochs": 3, "batch_size": 50, "lr": 0.03, "backend": "jax"},
    "medium": {"kinds": list(KINDS), "side": 8, "M": 2, "width": 8, "n_train": 2000, "n_test": 1000, "seeds": 3,
               "epochs": 10, "batch_size": 64, "lr": 0.01, "backend": "jax"},
    # The paper's scale: 32x32 images, 20,000 / 4,000 kept per task.
    "full": {"kinds": list(KINDS), "side": 32, "M": 2, "width": 32, "n_train": 20000, "n_test": 4000, "seeds": 5,
             "epochs": 40, "batch_size": 128, "lr": 0.003, "backend": "jax"},
}


def grid(size: str = "small", seed: int = 0, backend: str | None = None) -> list[dict[str, Any]]:
    """The grid points (one training run each): task x geometry x net kind x seed.

    Parameters
    ----------
    size : {"small", "medium", "full"}
    seed : int
    backend : {"jax", "torch"}, optional
        Default: the size's.

    Returns
    -------
    list of dict
        One dict per training run (its data, net and training options).

    Examples
    --------
    >>> points = grid("small")
    >>> len(points), sorted({p["geometry"] for p in points})
    (8, ['mirror', 'square'])
    """
    cfg = CONFIG[check_size(size, TRAINED_SIZES)]
    levels = cfg["side"].bit_length() - 1
    train = train_options(cfg, backend)
    return [{"data": "blobs", "task": task, "side": cfg["side"], "M": cfg["M"], "n_train": cfg["n_train"],
             "n_test": cfg["n_test"], "data_seed": seed * 100 + t, "geometry": geo, "g": g, "kind": kind,
             "widths": [cfg["width"]] * levels, "n_outputs": 2, "seed": seed * 1000 + k,
             "train": {**train, "parameterization": PARAMETERIZATION[kind]}}
            for t, task in enumerate(TASKS) for geo in GEOMETRIES for kind, g in KINDS.items()
            if kind in cfg["kinds"] for k in range(cfg["seeds"])]


@dataclasses.dataclass
class PoolingTrainedResult:
    """``accuracy[kind][task][geometry]``: test accuracy per seed, for the net ``kinds`` of the size;
    ``train_accuracy`` alike; ``mean`` / ``std`` over seeds; ``seconds``: training time of each run."""

    size: str
    kinds: list[str]
    side: int
    n_train: int
    n_test: int
    epochs: int
    seeds: int
    n_parameters: dict[str, dict[str, int]]
    accuracy: dict[str, dict[str, dict[str, list[float]]]]
    train_accuracy: dict[str, dict[str, dict[str, list[float]]]]
    mean: dict[str, dict[str, dict[str, float]]]
    std: dict[str, dict[str, dict[str, float]]]
    seconds: list[float]


def run(size: str = "small", seed: int = 0, executor: Any = None, backend: str | None = None) -> PoolingTrainedResult:
    """Train square and mirror pooling nets (ConvAC and ReLU+max) on closedness and symmetry blobs.

    Parameters
    ----------
    size : {"small", "medium", "full"}
        ``small``: 4x4 images, seconds (the tests); ``medium``: 8x8 images, 2,000 training images,
        minutes on a CPU (the notebook); ``full``: the paper's 32x32 images and 20,000 / 4,000 split.
    seed : int
        Data and init seeds derive from it.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Runs the training grid (:func:`tnconv.sweep`).
    backend : {"jax", "torch"}, optional
        The autodiff backend of :func:`tnconv.train.fit` (default: the size's, ``"jax"``).

    Returns
    -------
    PoolingTrainedResult
    """
    cfg = CONFIG[check_size(size, TRAINED_SIZES)]
    points = grid(size, seed, backend)
    outs = run_grid(train_point, points, executor)
    kinds = list(cfg["kinds"])
    params: dict[str, dict[str, int]] = {k: {} for k in kinds}
    for p, o in zip(points, outs):
        params[p["kind"]][p["geometry"]] = o["n_parameters"]
    return PoolingTrainedResult(
        size=size, kinds=kinds, side=cfg["side"], n_train=cfg["n_train"], n_test=cfg["n_test"], epochs=cfg["epochs"],
        seeds=cfg["seeds"], n_parameters=params, seconds=[o["seconds"] for o in outs],
        **seed_summary(points, outs, ("kind", "task", "geometry"), (kinds, TASKS, GEOMETRIES)))


def checks(result: PoolingTrainedResult) -> list[dict[str, Any]]:
    """One check per (net kind, task): the expected geometry's accuracy against the other's."""
    return [{"kind": kind, **c} for kind in result.kinds
            for c in expected_checks(result.accuracy[kind], EXPECTED, GEOMETRIES)]


def format_table(result: PoolingTrainedResult) -> str:
    """Test accuracy, mean +- std over seeds, one row per (net kind, task)."""
    lines = [f"{'net':<9}{'task':<12}{'square':>16}{'mirror':>16}"]
    for kind in result.kinds:
        for task in TASKS:
            cells = [f"{result.mean[kind][task][g]:.3f} +- {result.std[kind][task][g]:.3f}" for g in GEOMETRIES]
            lines.append(f"{kind:<9}{task:<12}{cells[0]:>16}{cells[1]:>16}")
    return "\n".join(lines)


def verdict(result: PoolingTrainedResult) -> str:
    """Square wins closedness and mirror wins symmetry, by more than the spread, for every net kind.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    cs = checks(result)
    ok = all(c["wins"] for c in cs)
    lines = [("SUPPORTED" if ok else "NOT SUPPORTED")
             + f": pooling geometry decides which task a trained net fits ({result.side}x{result.side} blobs, "
             f"{result.n_train} training images, {result.seeds} seeds)."]
    lines += [check_line(f"{c['kind']}, {c['task']}", c) for c in cs]
    return "\n".join(lines)


def plot(result: PoolingTrainedResult, ax_or_path: Any = None) -> Any:
    """Test accuracy (mean +- std over seeds) per task and geometry, one panel per net kind.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`
    ax_or_path : None, str, PathLike, matplotlib Axes or Figure
        None: a new pyplot figure; a path: a PNG written with the Agg canvas; an Axes: the main panel
        only, drawn on it; a Figure: the panels are added to it.

    Returns
    -------
    matplotlib.figure.Figure, or the path written

    Raises
    ------
    ImportError
        Without matplotlib (``pip install 'tnconv[plot]'``).
    TypeError
        An ``ax_or_path`` of another type.
    """
    fig, axes = figure_target(ax_or_path, n_panels=len(result.kinds))
    for ax, kind in zip(axes, result.kinds):
        seed_bars(ax, result.accuracy[kind], result.mean[kind], result.std[kind],
                  [(geo, f"{geo} pooling", color) for geo, color in zip(GEOMETRIES, ("C0", "C3"))], chance=0.5,
                  ylim=(0.4, 1.0), ylabel="test accuracy",
                  title=f"{kind} ({result.side}x{result.side}, {result.seeds} seeds)", legend_loc="lower right")
    return finish_figure(fig, ax_or_path)
