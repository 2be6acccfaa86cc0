"""Section 8 -- contraction paths: the network's own structure against generic path search.

A ConvAC's tensor network comes with a free contraction order: its mode tree, level by level. Generic
optimizers (opt_einsum's greedy and random-greedy, cotengra) must rediscover it from the graph, and
with the batch index as a hyperedge they often do worse. This runs the harness behind
``benchmarks/contraction.py`` (:func:`tnconv.benchmark_paths`) at reduced size and plots path flops
(opt_einsum convention) and median contraction time per method.

The verdict depends only on the paths, which are deterministic: the best structure-derived path must
cost at most 5% more flops than the best searched path, and its largest intermediate must be no larger
than the smallest largest intermediate of any searched path. Search and contraction times depend on
the machine and its load; they are reported as information and never decide the verdict.

References
----------
.. [1] D. G. A. Smith, J. Gray, "opt_einsum - A Python package for optimizing contraction order for
   einsum-like expressions", JOSS 3(26), 753 (2018).
.. [2] J. Gray, S. Kourtis, "Hyper-optimized tensor network contraction", Quantum 5, 410 (2021),
   arXiv:2002.01935 (cotengra).

Examples
--------
>>> from tnconv.experiments import contraction_paths as cp
>>> r = cp.run("small")
>>> cp.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = cp.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypedDict

from ..models.convnet import deep
from .common import check_size
from .figures import bar_offsets, figure_target, finish_figure, label_axes

__all__ = ["FLOPS_TOLERANCE", "STRUCTURED", "ContractionPathsResult", "plot", "run", "verdict"]

#: Methods that read the order off the network's structure (no search).
STRUCTURED = ("levels", "structure", "structure+oe")

class _Config(TypedDict):
    networks: list[tuple[str, int | tuple[int, int]]]
    M: int
    width: int
    batch: int
    repeats: int
    optimizers: list[str]
    max_time: float
    max_repeats: int


#: Relative flop slack of the structure path over the best searched one.
FLOPS_TOLERANCE = 0.05

CONFIG: dict[str, _Config] = {
    "small": {"networks": [("1D N=16", 16)], "M": 4, "width": 4, "batch": 8, "repeats": 1,
              "optimizers": ["levels", "structure", "greedy"], "max_time": 1.0, "max_repeats": 4},
    "full": {"networks": [("1D N=64", 64), ("1D N=256", 256), ("image 8x8", (8, 8))], "M": 4, "width": 4,
             "batch": 64, "repeats": 5,
             "optimizers": ["levels", "structure", "structure+oe", "greedy", "random-greedy", "cotengra"],
             "max_time": 5.0, "max_repeats": 8},
}


@dataclasses.dataclass
class ContractionPathsResult:
    """One entry per (network, method), aligned lists; ``None`` where a method did not run."""

    batch: int
    network: list[str]
    method: list[str]
    flops: list[float | None]
    largest_intermediate: list[float | None]
    search_s: list[float | None]
    contract_s: list[float | None]
    status: list[str]


def run(size: str = "small", seed: int = 0) -> ContractionPathsResult:
    """Benchmark contraction methods on deep ConvACs with :func:`tnconv.benchmark_paths`.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: one 16-input network, three methods; ``full``: N = 64, 256 and an 8x8 image, six methods.
    seed : int

    Returns
    -------
    ContractionPathsResult

    Raises
    ------
    ImportError
        When :mod:`tnconv.contract.bench` is not available.
    """
    from ..contract.bench import benchmark_paths

    cfg = CONFIG[check_size(size)]
    out: dict[str, list[Any]] = {k: [] for k in ("network", "method", "flops", "largest_intermediate", "search_s",
                                                  "contract_s", "status")}
    optimizers = list(cfg["optimizers"])
    for label, n in cfg["networks"]:
        model = deep(n, cfg["M"], cfg["width"], seed=seed)
        rows = benchmark_paths(model, optimizers, batch=cfg["batch"], repeats=cfg["repeats"], seed=seed,
                               max_time=cfg["max_time"], max_repeats=cfg["max_repeats"], show_progress=False)
        for row in rows:
            out["network"].append(label)
            out["method"].append(str(row.get("method")))
            for key in ("flops", "largest_intermediate", "search_s", "contract_s"):
                v = row.get(key)
                out[key].append(None if v is None else float(v))
            out["status"].append(str(row.get("status", "")))
    return ContractionPathsResult(batch=cfg["batch"], **out)


def _best(result: ContractionPathsResult, network: str, structured: bool, key: str) -> tuple[float, str] | None:
    """The smallest ``key`` over one group's methods (structure-derived or searched) whose path is valid.

    A path reported ``infeasible`` (its largest intermediate is over the byte budget, so it was not run)
    still has its cost; failed runs and mismatching outputs do not count.
    """
    column: list[float | None] = getattr(result, key)
    vals = [(v, m) for v, m, net, st in zip(column, result.method, result.network, result.status)
            if net == network and (m in STRUCTURED) == structured and v is not None and m != "gemm"
            and (st == "ok" or st.startswith("infeasible"))]
    return min(vals) if vals else None


def verdict(result: ContractionPathsResult) -> str:
    """Compare the best structure-derived path with the best searched path, per network.

    The criterion uses only deterministic path costs: for every network, the best structure-derived
    path (``levels``, ``structure``, ``structure+oe``) costs at most ``1 + FLOPS_TOLERANCE`` times the
    flops of the best searched path, and its largest intermediate is at most the smallest largest
    intermediate among the searched paths. Median contraction times are printed for information only:
    they depend on the machine and its load, so they never decide the verdict.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per network, with the numbers.

    Examples
    --------
    >>> r = ContractionPathsResult(batch=1, network=["n", "n"], method=["levels", "greedy"],
    ...                            flops=[100.0, 120.0], largest_intermediate=[8.0, 8.0],
    ...                            search_s=[0.0, 0.1], contract_s=[2.0, 1.0], status=["ok", "ok"])
    >>> verdict(r).splitlines()[0][:10]  # slower to contract, but cheaper: time does not decide
    'SUPPORTED:'
    """
    r = result
    lines, ok = [], True
    for net in dict.fromkeys(r.network):
        fs, fg = _best(r, net, True, "flops"), _best(r, net, False, "flops")
        ls, lg = _best(r, net, True, "largest_intermediate"), _best(r, net, False, "largest_intermediate")
        if fs is None or fg is None or ls is None or lg is None:
            lines.append(f"- {net}: not enough successful methods to compare")
            ok = False
            continue
        good = fs[0] <= fg[0] * (1 + FLOPS_TOLERANCE) and ls[0] <= lg[0]
        ok = ok and good
        ts, tg = _best(r, net, True, "contract_s"), _best(r, net, False, "contract_s")
        timing = ("n/a" if ts is None or tg is None else
                  f"{ts[0]:.2e} s ({ts[1]}) vs {tg[0]:.2e} s ({tg[1]})")
        lines.append(f"- {net}: flops {fs[0]:.4g} ({fs[1]}) vs best search {fg[0]:.4g} ({fg[1]}), ratio "
                     f"{fs[0] / fg[0]:.3f}; largest intermediate {ls[0]:.4g} vs {lg[0]:.4g}: {good} "
                     f"(median time, information only: {timing})")
    head = (("SUPPORTED" if ok else "NOT SUPPORTED") + f": the structure path costs within "
            f"{FLOPS_TOLERANCE:.0%} of the best searched path's flops, with no larger intermediate, and needs "
            "no search.")
    return "\n".join([head] + lines)


def plot(result: ContractionPathsResult, ax_or_path: Any = None) -> Any:
    """Path flops and median contraction time per method (grouped by network, log scale).

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
    import numpy as np

    r = result
    fig, axes = figure_target(ax_or_path, n_panels=2)
    nets = list(dict.fromkeys(r.network))
    methods = list(dict.fromkeys(r.method))
    offsets, width = bar_offsets(max(1, len(methods)))
    for ax, key, label in zip(axes, ("flops", "contract_s"), ("path flops (opt_einsum convention, log scale)",
                                                               f"median contraction time, batch {r.batch} (s, log)")):
        table = [[next((getattr(r, key)[k] for k in range(len(r.method)) if r.network[k] == net and r.method[k] == m),
                       None) for net in nets] for m in methods]
        good = [v for row in table for v in row if v is not None and math.isfinite(v) and v > 0]
        # On a log axis a bar from 0 starts at the axis' lower limit, which autoscaling puts at the
        # smallest value: that bar had no height. Bars start a factor 3 below the smallest value.
        floor = min(good) / 3 if good else 1.0
        for j, (m, row, off) in enumerate(zip(methods, table, offsets)):
            xs = np.arange(len(nets)) + off
            ys = [np.nan if v is None or not math.isfinite(v) or v <= 0 else v for v in row]
            bars = ax.bar(xs, [y - floor for y in ys], bottom=floor, width=width, label=m, color=f"C{j}")
            for x, y in zip(xs, ys):  # a method with no number (timeout, n/a) says so instead of vanishing
                if not np.isfinite(y):
                    ax.text(x, floor * 1.15, "n/a", rotation=90, ha="center", va="bottom", fontsize=6,
                            color=bars.patches[0].get_facecolor() if bars.patches else "k")
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xticks(range(len(nets)), nets)
        label_axes(ax, ylabel=label)
    axes[0].set_title("Contraction paths on deep ConvACs")
    return finish_figure(fig, ax_or_path)
