"""Claim 3, trained -- at equal parameter count, wide-base nets win local tasks, wide-tip nets global ones.

Levine et al. (ICLR'18) tie a layer's width to the range of the correlations the network can model:
the widths of early layers bound the entanglement across short-range partitions, those of deep layers
across long-range ones (claim 3). Trained on a task whose label sits in a small region of the image, a
net should profit from wide early layers ("wide-base"); on a task whose information is spread over the
whole image, from wide deep layers ("wide-tip").

The experiment trains deep ConvACs with 2x2 pooling on :func:`tnconv.datasets.digits_canvas`: ``local``
(a small digit at a random place on a noisy canvas; at ``medium``, 6x6 digits on an 8x8 canvas) and
``global`` (the digit stretched over the whole canvas), with two width profiles of equal parameter count
(within 5%): wide-base (wide below the middle level, narrow above) and wide-tip (the reverse, its top
width tuned to match the parameter count). ``small`` and ``medium`` nets have unshared weights and train
with signed, per-level rescaled weights (log-space and shared-weight nets hardly learned these tasks at
8x8); ``full`` (32x32) uses shared weights in log space. Test accuracy is reported as mean +- std over
seeds. The claim holds when wide-base beats wide-tip on ``local`` and wide-tip beats wide-base on
``global``, each by more than the spread (the sum of the two standard deviations).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552 (Sec. 6).

Examples
--------
>>> from tnconv.experiments import width_range_trained as wrt
>>> p = wrt.profiles(8, M=2, wide=16, narrow=4)
>>> p, wrt.n_parameters(8, 2, p["wide_base"]), wrt.n_parameters(8, 2, p["wide_tip"])
({'wide_base': [16, 16, 4], 'wide_tip': [4, 4, 218]}, 6440, 6436)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .common import TRAINED_SIZES, check_size
from .figures import figure_target, finish_figure, seed_bars
from .trained_common import (
    TrainedConfig,
    check_line,
    expected_checks,
    run_grid,
    seed_summary,
    train_options,
    train_point,
)

__all__ = ["CONFIG", "PROFILES", "TASKS", "WidthTrainedResult", "grid", "n_parameters", "plot", "profiles", "run",
           "verdict"]

TASKS = ("local", "global")
PROFILES = ("wide_base", "wide_tip")
EXPECTED = {"local": "wide_base", "global": "wide_tip"}
#: Allowed relative difference of the two profiles' parameter counts.
TOLERANCE = 0.05
N_CLASSES = 10


def n_parameters(side: int, M: int, widths: list[int], shared: bool = False) -> int:
    """Parameters of the deep ConvAC with 2x2 pooling over a ``side x side`` image with ``widths``.

    Height ``h`` has ``side**2 / 4**h`` nodes, each with a ``(w_{h-1}, w_h)`` matrix (``M`` below the
    leaves, 10 classes at the root); shared weights keep one matrix per height.

    Parameters
    ----------
    side : int
        The image side.
    M : int
    widths : list of int
        One width per height, leaf level first.
    shared : bool
        One weight matrix per height.

    Returns
    -------
    int

    Examples
    --------
    >>> n_parameters(4, 2, [3, 5]), n_parameters(4, 2, [3, 5], shared=True)
    (206, 71)
    """
    dims = [M, *widths, N_CLASSES]
    n = side * side
    return sum((1 if shared else n // 4**h) * dims[h] * dims[h + 1] for h in range(len(dims) - 1))


def profiles(side: int, M: int, wide: int, narrow: int, shared: bool = False) -> dict[str, list[int]]:
    """Wide-base ``[wide]*(L - L//2) + [narrow]*(L//2)`` and a wide-tip profile of the same parameter count.

    The wide-tip profile is ``[narrow]*(L - L//2) + [wide]*(L//2)`` with its top width replaced by the
    value that brings its parameter count closest to the wide-base one.

    Parameters
    ----------
    side : int
        The image side.
    M : int
    wide, narrow : int
        The two widths.
    shared : bool
        Count parameters with one weight matrix per height.

    Returns
    -------
    dict
        ``{"wide_base": widths, "wide_tip": widths}``.

    Raises
    ------
    ValueError
        When no top width brings the two counts within 5% (naming both counts).

    Examples
    --------
    >>> profiles(16, 3, wide=16, narrow=4)
    {'wide_base': [16, 16, 4, 4], 'wide_tip': [4, 4, 16, 334]}
    """
    L = side.bit_length() - 1
    base = [wide] * (L - L // 2) + [narrow] * (L // 2)
    target = n_parameters(side, M, base, shared)
    tip = [narrow] * (L - L // 2) + [wide] * (L // 2)
    best = min(range(1, 64 * wide + 1), key=lambda w: abs(n_parameters(side, M, tip[:-1] + [w], shared) - target))
    tip = tip[:-1] + [best]
    got = n_parameters(side, M, tip, shared)
    if abs(got / target - 1) > TOLERANCE:
        raise ValueError(f"no wide-tip profile within 5% of the wide-base count {target} (closest {tip}: {got})")
    return {"wide_base": base, "wide_tip": tip}


class _Config(TrainedConfig):
    shared: bool
    parameterization: str
    feature_width: float
    canvas: int
    digit_size: int
    M: int
    wide: int
    narrow: int


CONFIG: dict[str, _Config] = {
    "small": {"shared": False, "parameterization": "signed", "feature_width": 1.0, "canvas": 4, "digit_size": 2,
              "M": 2, "wide": 8, "narrow": 2, "n_train": 200, "n_test": 200,
              "seeds": 2, "epochs": 3, "batch_size": 50, "lr": 0.03, "backend": "jax"},
    "medium": {"shared": False, "parameterization": "signed", "feature_width": 1.0, "canvas": 8, "digit_size": 6,
               "M": 2, "wide": 16, "narrow": 4, "n_train": 2000, "n_test": 1000,
               "seeds": 3, "epochs": 10, "batch_size": 64, "lr": 0.01, "backend": "jax"},
    # 32x32: unshared wide-base nets have more leaf weights than any wide tip can match; convolutions
    # (shared weights, as the paper's nets) in log space, the parameterization that holds at N = 1024.
    "full": {"shared": True, "parameterization": "log", "feature_width": 0.5, "canvas": 32, "digit_size": 8,
             "M": 4, "wide": 64, "narrow": 16, "n_train": 20000, "n_test": 4000, "seeds": 5, "epochs": 40,
             "batch_size": 128, "lr": 0.003, "backend": "jax"},
}


def grid(size: str = "small", seed: int = 0, backend: str | None = None) -> list[dict[str, Any]]:
    """The grid points (one training run each): task x profile x seed.

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
    >>> len(points), sorted({p["profile"] for p in points})
    (8, ['wide_base', 'wide_tip'])
    """
    cfg = CONFIG[check_size(size, TRAINED_SIZES)]
    prof = profiles(cfg["canvas"], cfg["M"], cfg["wide"], cfg["narrow"], cfg["shared"])
    train = train_options(cfg, backend, parameterization=cfg["parameterization"])
    return [{"data": "digits", "task": task, "side": cfg["canvas"], "digit_size": cfg["digit_size"], "M": cfg["M"],
             "feature_width": cfg["feature_width"],
             "n_train": cfg["n_train"],
             "n_test": cfg["n_test"], "data_seed": seed * 100 + t, "geometry": "square", "g": "product",
             "shared": cfg["shared"], "profile": name, "widths": prof[name], "n_outputs": N_CLASSES,
             "seed": seed * 1000 + k, "train": train}
            for t, task in enumerate(TASKS) for name in PROFILES for k in range(cfg["seeds"])]


@dataclasses.dataclass
class WidthTrainedResult:
    """``accuracy[task][profile]``: test accuracy per seed; ``mean`` / ``std`` over seeds; ``widths`` and
    ``n_parameters`` per profile."""

    size: str
    canvas: int
    n_train: int
    n_test: int
    epochs: int
    seeds: int
    widths: dict[str, list[int]]
    n_parameters: dict[str, int]
    accuracy: dict[str, dict[str, list[float]]]
    train_accuracy: dict[str, dict[str, list[float]]]
    mean: dict[str, dict[str, float]]
    std: dict[str, dict[str, float]]
    seconds: list[float]


def run(size: str = "small", seed: int = 0, executor: Any = None, backend: str | None = None) -> WidthTrainedResult:
    """Train wide-base and wide-tip ConvACs of equal parameter count on local and global digits.

    Parameters
    ----------
    size : {"small", "medium", "full"}
        ``small``: 4x4 canvas (the tests), seconds; ``medium``: 8x8 canvas, 2,000 training images, minutes
        on a CPU (the notebook); ``full``: 32x32, 20,000 images.
    seed : int
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Runs the training grid (:func:`tnconv.sweep`).
    backend : {"jax", "torch"}, optional
        The autodiff backend of :func:`tnconv.train.fit` (default ``"jax"``).

    Returns
    -------
    WidthTrainedResult
    """
    cfg = CONFIG[check_size(size, TRAINED_SIZES)]
    points = grid(size, seed, backend)
    outs = run_grid(train_point, points, executor)
    widths, params = {}, {}
    for p, o in zip(points, outs):
        widths[p["profile"]], params[p["profile"]] = list(p["widths"]), o["n_parameters"]
    return WidthTrainedResult(
        size=size, canvas=cfg["canvas"], n_train=cfg["n_train"], n_test=cfg["n_test"], epochs=cfg["epochs"],
        seeds=cfg["seeds"], widths=widths, n_parameters=params, seconds=[o["seconds"] for o in outs],
        **seed_summary(points, outs, ("task", "profile"), (TASKS, PROFILES)))


def format_table(result: WidthTrainedResult) -> str:
    """Test accuracy, mean +- std over seeds, one row per task."""
    head = "".join(f"{p + ' ' + str(result.widths[p]):>26}" for p in PROFILES)
    lines = [f"{'task':<8}{head}"]
    for task in TASKS:
        cells = "".join(f"{result.mean[task][p]:.3f} +- {result.std[task][p]:.3f}".rjust(26) for p in PROFILES)
        lines.append(f"{task:<8}{cells}")
    lines.append(f"parameters: {result.n_parameters}")
    return "\n".join(lines)


def verdict(result: WidthTrainedResult) -> str:
    """Wide-base wins ``local`` and wide-tip wins ``global``, by more than the spread; equal parameters.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    pb, pt = result.n_parameters["wide_base"], result.n_parameters["wide_tip"]
    equal = abs(pt / pb - 1) <= TOLERANCE
    cs = expected_checks(result.accuracy, EXPECTED, PROFILES)
    ok = equal and all(c["wins"] for c in cs)
    lines = [("SUPPORTED" if ok else "NOT SUPPORTED")
             + f": layer widths should follow the task's interaction range ({result.canvas}x{result.canvas} canvas, "
             f"{result.n_train} training images, {result.seeds} seeds)."]
    lines.append(f"- parameters: wide-base {pb}, wide-tip {pt}, within 5%: {equal}.")
    lines += [check_line(c["task"], c) for c in cs]
    return "\n".join(lines)


def plot(result: WidthTrainedResult, ax_or_path: Any = None) -> Any:
    """Test accuracy (mean +- std over seeds) per task and width profile.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`
    ax_or_path : None, str, PathLike, matplotlib Axes or Figure
        None: a new pyplot figure; a path: a PNG written with the Agg canvas; an Axes: drawn on it; a
        Figure: the panel is added to it.

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
    fig, axes = figure_target(ax_or_path, n_panels=1, width=6.0)
    bars = [(prof, f"{prof} {result.widths[prof]} ({result.n_parameters[prof]} params)", color)
            for prof, color in zip(PROFILES, ("C2", "C1"))]
    seed_bars(axes[0], result.accuracy, result.mean, result.std, bars, chance=1 / N_CLASSES, ylim=(0, 1),
              ylabel="test accuracy (10 classes)", legend_loc="upper left",
              title=f"digits on a {result.canvas}x{result.canvas} canvas, {result.seeds} seeds")
    return finish_figure(fig, ax_or_path)
