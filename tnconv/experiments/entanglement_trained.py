"""Claim 4, trained -- how much of its min-cut bound does a trained ConvAC use?

Claim 4 bounds the entanglement of a ConvAC's coefficient tensor across a partition by its min cut ``C``:
the entropy is at most ``log C`` and the geometric measure at most ``1 - 1/C``. The bound is a capacity;
the weights decide how much of it a network uses. Claim 4's own experiment compares random nets with a
stand-in for trained ones (low-rank-perturbed weights). This experiment trains the nets.

ConvACs over ``N = 16`` inputs (4x4 binary blob images, two Gaussian features per pixel, so that the
coefficient tensor is small enough to be exact) are trained with :func:`tnconv.train.fit` on the
closedness and symmetry tasks of :func:`tnconv.datasets.blobs`, over claim 4's trees (balanced and
interleaved) and widths. For every trained net, and for random nets of the same architectures (random
orthogonal weights, as in claim 4), it computes the exact Schmidt spectrum across claim 4's partitions
(:func:`tnconv.schmidt_values` of the dense coefficient tensor), the entropy and geometric measure, and
the min cut (:func:`tnconv.min_cuts`). The claim holds when no pair exceeds its bound and trained nets use
a smaller fraction ``S / log C`` of it than random ones. The nets train in log space (positive weights), so
the trained nets' own positive starting point (``|W|`` of their random init) is measured too: it tells how
much of the difference is positivity and how much is training. The tensor measured is the class-1 score
``h_1`` (in log space ``p(y=1|x) = h_1 / (h_0 + h_1)``).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552 (Theorem 1, Sec. 4).

Examples
--------
>>> from tnconv.experiments import entanglement_trained as et
>>> sorted({p["tree"] for p in et.grid("small")})
['balanced', 'interleaved']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..models.convnet import ConvAC
from ..trees import ModeTree
from .common import TRAINED_SIZES, blas_threads, check_size
from .entanglement_vs_bound import COLUMNS, add_rows, bound_violations, fraction_of_bound, make_partitions, measure
from .figures import bound_scatter, figure_target, finish_figure
from .trained_common import TrainedConfig, dataset, run_grid, train_options

__all__ = ["CONFIG", "KINDS", "TREES", "EntanglementTrainedResult", "grid", "plot", "run", "verdict"]

#: ``random``: claim 4's random nets (orthogonal, signed weights); ``initial``: the trained nets' own
#: starting point (log-space training starts from ``|W|`` of the random init, positive weights);
#: ``trained``: after training.
KINDS = ("random", "initial", "trained")
TREES = ("balanced", "interleaved")
SIDE = 4  # 4x4 images: N = 16 inputs, M = 2, a coefficient tensor of 2**16 entries
TASKS = ("closedness", "symmetry")


class _Config(TrainedConfig):
    widths: list[int]
    tasks: list[str]


CONFIG: dict[str, _Config] = {
    "small": {"widths": [4], "tasks": ["symmetry"], "n_train": 200, "n_test": 200, "seeds": 1, "epochs": 3,
              "batch_size": 50, "lr": 0.03, "backend": "jax"},
    "medium": {"widths": [2, 4], "tasks": ["closedness", "symmetry"], "n_train": 2000, "n_test": 1000, "seeds": 2,
               "epochs": 15, "batch_size": 64, "lr": 0.01, "backend": "jax"},
    "full": {"widths": [2, 4, 8], "tasks": ["closedness", "symmetry"], "n_train": 20000, "n_test": 4000,
             "seeds": 5, "epochs": 40, "batch_size": 128, "lr": 0.003, "backend": "jax"},
}


def tree_of(name: str) -> ModeTree:
    """Claim 4's trees over the 16 pixels of a 4x4 image (row-major): balanced or interleaved."""
    return ModeTree.balanced(SIDE * SIDE) if name == "balanced" else ModeTree.interleaved(SIDE * SIDE)


def grid(size: str = "small", seed: int = 0, backend: str | None = None) -> list[dict[str, Any]]:
    """The grid points: task x tree x width x seed; each trains one net and measures it and a random one.

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
    >>> len(grid("small"))
    2
    """
    cfg = CONFIG[check_size(size, TRAINED_SIZES)]
    train = train_options(cfg, backend, parameterization="log")
    return [{"data": "blobs", "task": task, "side": SIDE, "M": 2, "n_train": cfg["n_train"], "n_test": cfg["n_test"],
             "data_seed": seed * 100 + TASKS.index(task), "tree": tree, "width": w, "seed": seed * 1000 + k,
             "partition_seed": seed, "train": train}
            for task in cfg["tasks"] for tree in TREES for w in cfg["widths"] for k in range(cfg["seeds"])]


def entanglement_point(point: Mapping[str, Any]) -> dict[str, Any]:
    """Train one net of a grid point and measure it, and a random net of the same architecture."""
    from ..train import fit

    F, y, Ft, yt = dataset(point)
    tree = tree_of(point["tree"])
    seed = int(point["seed"])
    parts = make_partitions("full", int(point["partition_seed"]))
    start = ConvAC(tree, 2, point["width"], n_outputs=2, seed=seed)
    res = fit(start, F, y, seed=seed, progress=False, **dict(point["train"]))
    # The tensor of the learned decision function: with signed weights the logits are h_0, h_1 and
    # p(y=1|x) depends on h_1 - h_0 only; in log space (logits log h_y) on h_1 / h_0, so take h_1.
    def root(w: np.ndarray) -> np.ndarray:
        return w[:, 1:] - w[:, :1] if res.parameterization == "signed" else w[:, 1:]

    trained = ConvAC(tree, 2, point["width"], n_outputs=1,
                     weights={v: (root(w) if v == tree.root else w) for v, w in res.model.weights.items()})
    first = {v: np.abs(w) if res.parameterization == "log" else w for v, w in start.weights.items()}
    initial = ConvAC(tree, 2, point["width"], n_outputs=1,
                     weights={v: (root(w) if v == tree.root else w) for v, w in first.items()})
    random = ConvAC(tree, 2, point["width"], seed=seed + 7, init="orthogonal")
    with blas_threads(1):
        out: dict[str, Any] = {"trained": measure(trained, parts), "initial": measure(initial, parts),
                               "random": measure(random, parts)}
    out["test_accuracy"] = float(np.mean(res.predict(Ft) == yt))
    return out


@dataclasses.dataclass
class EntanglementTrainedResult:
    """One row per (kind, network, partition): kind (random or trained), network, partition, min cut,
    ``log`` of it (nats), entropy (nats) and geometric measure; ``test_accuracy[network]`` of the trained
    nets."""

    size: str
    n_inputs: int
    kind: list[str]
    network: list[str]
    partition: list[str]
    bound: list[int]
    log_bound: list[float]
    entropy: list[float]
    geometric: list[float]
    test_accuracy: dict[str, float]


def run(size: str = "small", seed: int = 0, executor: Any = None,
        backend: str | None = None) -> EntanglementTrainedResult:
    """Train ConvACs on 4x4 blobs; exact entanglement vs the min-cut bound, trained next to random nets.

    Parameters
    ----------
    size : {"small", "medium", "full"}
        ``small``: one task, one width, one seed (the tests); ``medium``: both tasks, widths 2 and 4, two
        seeds (the notebook); ``full``: widths up to 8, five seeds, 20,000 training images.
    seed : int
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Runs the grid (:func:`tnconv.sweep`).
    backend : {"jax", "torch"}, optional
        The autodiff backend of :func:`tnconv.train.fit` (default ``"jax"``).

    Returns
    -------
    EntanglementTrainedResult
    """
    check_size(size, TRAINED_SIZES)
    points = grid(size, seed, backend)
    outs = run_grid(entanglement_point, points, executor)
    cols: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    acc = {}
    for p, o in zip(points, outs):
        desc = f"{p['task']}, {p['tree']}, w={p['width']}, seed {p['seed']}"
        acc[desc] = o["test_accuracy"]
        for kind in KINDS:
            add_rows(cols, kind, desc, o[kind])
    return EntanglementTrainedResult(size=size, n_inputs=SIDE * SIDE, test_accuracy=acc, **cols)


def verdict(result: EntanglementTrainedResult) -> str:
    """Bounds hold for every pair; trained nets use a smaller fraction of ``log C`` than random ones.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    r = result
    viol_s, viol_g = bound_violations(r)
    fr, fi, ft = (fraction_of_bound(r, k) for k in KINDS)
    accs = list(r.test_accuracy.values())
    ok = viol_s == 0 and viol_g == 0 and ft < fr
    return "\n".join([
        ("SUPPORTED" if ok else "NOT SUPPORTED") + ": trained nets stay below the min-cut bound and use less of it.",
        f"- {len(r.entropy)} (network, partition) pairs: entropy > log(min cut) in {viol_s}; geometric measure > "
        f"1 - 1/min cut in {viol_g}.",
        f"- mean entropy / log(min cut): random {fr:.3f}, trained {ft:.3f}; trained lower: {ft < fr}.",
        f"- for reference, the trained nets' positive starting point: {fi:.3f} (training "
        f"{'raised' if ft > fi else 'lowered'} it by {abs(ft - fi):.3f}).",
        f"- trained nets' test accuracy: {min(accs):.3f} to {max(accs):.3f} over {len(accs)} nets (chance 0.5).",
    ])


def plot(result: EntanglementTrainedResult, ax_or_path: Any = None) -> Any:
    """Entropy and geometric measure against ``log(min cut)``, trained and random nets, bounds drawn.

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
    fig, axes = figure_target(ax_or_path, n_panels=2)
    bound_scatter(axes, result, KINDS, ("C0", "C7", "C3"), bits=False, jitter=0.04,
                  title=f"trained on 4x4 blobs, N = {result.n_inputs}")
    return finish_figure(fig, ax_or_path)
