"""Claim 4 -- entanglement measures sit below the min-cut bound: ``S <= log(min cut)``.

For a partition ``(I, I^c)`` the Schmidt rank of a ConvAC's coefficient tensor is at most the min cut
``C`` of its tensor network, so the entanglement entropy (nats) is at most ``log C`` and the geometric
measure ``1 - p_1`` at most ``1 - 1/C``. Random networks (orthogonal weights) use a sizeable part of that
capacity. Trained-like networks, whose weights are a low-rank matrix plus a small perturbation, keep the
same generic rank but carry far less entanglement: the bound is a capacity, and the weights decide how
much of it a network uses.

The experiment draws networks over several trees and widths, in both families. For every network
and partition it computes the exact entropy and geometric measure from the dense tensor, and the min
cut from :func:`tnconv.min_cuts`.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552 (Theorem 1, Sec. 4).

Examples
--------
>>> from tnconv.experiments import entanglement_vs_bound as evb
>>> r = evb.run("small")
>>> all(s <= c + 1e-9 for s, c in zip(r.entropy, r.log_bound))
True
>>> evb.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = evb.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypedDict

import numpy as np

from .. import partitions as P
from ..entanglement import schmidt_values
from ..models.convnet import ConvAC
from ..trees import ModeTree
from .common import blas_threads, check_size, min_cut_bounds
from .figures import bound_scatter, figure_target, finish_figure

__all__ = ["EntanglementBoundResult", "make_networks", "make_partitions", "plot", "run", "verdict"]

#: The columns of a claim-4 result: one entry per (network, partition) pair.
COLUMNS = ("kind", "network", "partition", "bound", "log_bound", "entropy", "geometric")

class _Config(TypedDict):
    n: int
    widths: list[int]
    n_random_parts: int
    n_draws: int


CONFIG: dict[str, _Config] = {
    "small": {"n": 8, "widths": [2, 4], "n_random_parts": 4, "n_draws": 2},
    "full": {"n": 16, "widths": [2, 4], "n_random_parts": 10, "n_draws": 4},
}

KINDS = ("random", "trained-like")


def _low_rank(rng: np.random.Generator, shape: tuple[int, int], eps: float) -> np.ndarray:
    # Rank one plus a small dense perturbation: full rank (same min cut), little spread in the spectrum.
    u, v = rng.standard_normal(shape[0]), rng.standard_normal(shape[1])
    return np.outer(u, v) / math.sqrt(shape[0]) + eps * rng.standard_normal(shape)


def make_networks(size: str = "small", seed: int = 0, eps: float = 0.05) -> list[tuple[str, str, ConvAC]]:
    """The networks of the experiment: ``(kind, description, model)`` triples.

    ``kind`` is ``"random"`` (random orthogonal weights) or ``"trained-like"`` (every weight matrix rank one
    plus ``eps`` times Gaussian noise), over balanced, interleaved and random binary/ternary trees.

    Parameters
    ----------
    size : {"small", "full"}
    seed : int
    eps : float
        Noise of the trained-like weights.

    Returns
    -------
    list of (str, str, ConvAC)

    Examples
    --------
    >>> nets = make_networks("small")
    >>> sorted({kind for kind, _, _ in nets})
    ['random', 'trained-like']
    """
    cfg = CONFIG[check_size(size)]
    n = cfg["n"]
    rng = np.random.default_rng(seed)
    trees = [("balanced", ModeTree.balanced(n)), ("interleaved", ModeTree.interleaved(n))]
    for d in range(cfg["n_draws"]):
        trees.append((f"random tree {d}", ModeTree.random(n, (2, 3), seed=int(rng.integers(2**31)))))
    out = []
    for tname, tree in trees:
        for w in cfg["widths"]:
            for kind in KINDS:
                net = ConvAC(tree, 2, w, seed=int(rng.integers(2**31)), init="orthogonal")
                if kind == "trained-like":
                    net.set_weights({v: _low_rank(rng, net.weights[v].shape, eps) for v in tree.nodes})
                out.append((kind, f"{tname}, w={w}", net))
    return out


def make_partitions(size: str = "small", seed: int = 0) -> list[tuple[str, frozenset]]:
    """Named and random balanced partitions of the experiment's ``N`` inputs.

    Parameters
    ----------
    size : {"small", "full"}
    seed : int

    Returns
    -------
    list of (str, frozenset)

    Examples
    --------
    >>> make_partitions("small")[0][0]
    'left_right'
    """
    cfg = CONFIG[check_size(size)]
    n = cfg["n"]
    parts = [("left_right", P.left_right(n)), ("odd_even", P.odd_even(n)), ("block 2", frozenset(range(2)))]
    for k in range(cfg["n_random_parts"]):
        parts.append((f"random {k}", P.random(n, n // 2, seed=seed * 1000 + k)))
    return parts


@dataclasses.dataclass
class EntanglementBoundResult:
    """One row per (network, partition): kind, network, partition, min cut, ``log`` of it (nats),
    entropy (nats) and geometric measure."""

    n_inputs: int
    kind: list[str]
    network: list[str]
    partition: list[str]
    bound: list[int]
    log_bound: list[float]
    entropy: list[float]
    geometric: list[float]


def run(size: str = "small", seed: int = 0) -> EntanglementBoundResult:
    """Exact entropy and geometric measure vs the min-cut bound, for random and trained-like networks.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: N = 8; ``full``: N = 16 and more partitions and trees.
    seed : int

    Returns
    -------
    EntanglementBoundResult
    """
    nets = make_networks(size, seed)
    parts = make_partitions(size, seed)
    rows: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    with blas_threads(1):
        for kind, desc, net in nets:
            add_rows(rows, kind, desc, measure(net, parts))
    return EntanglementBoundResult(n_inputs=CONFIG[size]["n"], **rows)


def measure(net: ConvAC, parts: list[tuple[str, frozenset]]) -> dict[str, list[Any]]:
    """Exact entropy (nats), geometric measure and min cut of ``net`` for every named partition.

    Parameters
    ----------
    net : ConvAC
        Small enough for its dense coefficient tensor.
    parts : list of (str, frozenset)
        Named partitions, as :func:`make_partitions` returns them.

    Returns
    -------
    dict
        Lists ``partition``, ``bound``, ``log_bound`` (nats), ``entropy`` (nats) and ``geometric``, one
        entry per partition.

    Examples
    --------
    >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
    >>> rows = measure(net, [("left_right", frozenset({0, 1}))])
    >>> rows["bound"], rows["entropy"][0] <= rows["log_bound"][0] + 1e-12
    ([2], True)
    """
    A = net.coefficient_tensor()
    bounds = min_cut_bounds(net, [p for _, p in parts])
    rows: dict[str, list[Any]] = {"partition": [], "bound": [], "log_bound": [], "entropy": [], "geometric": []}
    for (pname, part), b in zip(parts, bounds):
        # One SVD per pair gives both measures (as tnconv.entanglement_entropy / geometric_measure).
        s = schmidt_values(A, part)
        p = s**2 / np.sum(s**2)
        nz = p[p > 0]
        rows["partition"].append(pname)
        rows["bound"].append(int(b))
        rows["log_bound"].append(math.log(b))
        rows["entropy"].append(float(-np.sum(nz * np.log(nz))))
        rows["geometric"].append(float(1 - p[0]))
    return rows


def add_rows(rows: dict[str, list[Any]], kind: str, network: str, measured: dict[str, list[Any]]) -> None:
    """Append the :func:`measure` rows of one network to the :data:`COLUMNS` of a result, with its kind and name.

    Parameters
    ----------
    rows : dict of lists
        Keyed by :data:`COLUMNS`; extended in place.
    kind, network : str
        The kind of net (``random``) and its description, repeated on every row.
    measured : dict of lists
        From :func:`measure`.

    Examples
    --------
    >>> rows = {k: [] for k in COLUMNS}
    >>> add_rows(rows, "random", "net", {"partition": ["a"], "bound": [2], "log_bound": [0.69], "entropy": [0.5],
    ...                                  "geometric": [0.3]})
    >>> rows["kind"], rows["network"], rows["bound"]
    (['random'], ['net'], [2])
    """
    n = len(measured["partition"])
    rows["kind"] += [kind] * n
    rows["network"] += [network] * n
    for key in COLUMNS[2:]:
        rows[key] += measured[key]


def fraction_of_bound(result: Any, kind: str) -> float:
    """Mean ``entropy / log(min cut)`` over the pairs of ``kind``.

    Parameters
    ----------
    result : a claim-4 result
        With lists ``kind``, ``entropy`` and ``log_bound``.
    kind : str

    Returns
    -------
    float
        NaN when no pair of ``kind`` has a bound above 1.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> fraction_of_bound(SimpleNamespace(kind=["a", "a"], entropy=[0.5, 1.0], log_bound=[1.0, 4.0]), "a")
    0.375
    """
    vals = [s / c for k, s, c in zip(result.kind, result.entropy, result.log_bound) if k == kind and c > 0]
    return float(np.mean(vals)) if vals else float("nan")


def bound_violations(result: Any) -> tuple[int, int]:
    """How many pairs break ``entropy <= log C`` and how many ``geometric measure <= 1 - 1/C`` (to 1e-9).

    Parameters
    ----------
    result : a claim-4 result
        With lists ``entropy``, ``log_bound``, ``geometric`` and ``bound``.

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> bound_violations(SimpleNamespace(entropy=[0.5, 0.8], log_bound=[0.69, 0.69], geometric=[0.4, 0.6],
    ...                                  bound=[2, 2]))
    (1, 1)
    """
    viol_s = sum(s > c + 1e-9 for s, c in zip(result.entropy, result.log_bound))
    viol_g = sum(g > 1 - 1 / b + 1e-9 for g, b in zip(result.geometric, result.bound))
    return int(viol_s), int(viol_g)


def verdict(result: EntanglementBoundResult) -> str:
    """Check ``S <= log C`` and ``GM <= 1 - 1/C`` everywhere, and that trained-like networks use less of
    the bound than random ones.

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
    fr, ft = fraction_of_bound(r, "random"), fraction_of_bound(r, "trained-like")
    ok = viol_s == 0 and viol_g == 0 and ft < fr
    return "\n".join([
        ("SUPPORTED" if ok else "NOT SUPPORTED") + ": entanglement is bounded by the min cut.",
        f"- {len(r.entropy)} (network, partition) pairs: entropy > log(min cut) in {viol_s}; geometric measure > "
        f"1 - 1/min cut in {viol_g}.",
        f"- mean entropy / log(min cut): random {fr:.3f}, trained-like {ft:.3f} (trained-like lower: {ft < fr}).",
    ])


def plot(result: EntanglementBoundResult, ax_or_path: Any = None) -> Any:
    """Entropy and geometric measure against ``log2(min cut)``, with the bounds drawn; in bits, the
    unit of every entropy the command line prints (the result holds nats, as the library computes them).

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
    bound_scatter(axes, result, KINDS, ("C0", "C3"), bits=True, jitter=0.06, title=f"N = {result.n_inputs}")
    return finish_figure(fig, ax_or_path)
