"""Reports of the implicit-acceleration experiment: the verdict, the table, the plot and JSON files.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .acceleration_runs import AccelerationResult
from .figures import UNDERLAY, require_matplotlib

__all__ = ["format_table", "plot", "save", "verdict"]


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

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import run
    >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=150, lr_grid=[0.3, 1.0], baselines=(),
    ...           rel_target=1e-2)
    >>> print(format_table(res).splitlines()[1])
    method best lr iters vs GD final L-L* time s
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
    require_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state touched

    results = [result] if isinstance(result, AccelerationResult) else list(result)
    if path_or_ax is None or isinstance(path_or_ax, (str, Path)):
        ncols = min(2, len(results))
        nrows = -(-len(results) // ncols)
        fig = Figure(figsize=(8.2 * ncols, 4.5 * nrows))
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
            # factor GD and the end-to-end rule coincide (that is the claim): a wide pale line under a
            # thin dashed one keeps both (and their legend entries) visible
            wide = ls == "-" and m not in styles
            style = {"lw": 3.2, **UNDERLAY} if wide else {"lw": 1.3, "zorder": 3}
            ax.semilogy(excess, color=color, ls=ls, label=f"{m} (lr {r.best_lr[m]:.2g})", **style)
        ax.axhline(r.target - r.loss_star, color="0.6", lw=0.8, label="target")
        ax.set_xlabel("iteration")
        ax.set_ylabel("L - L* (log scale)")
        ax.set_title(f"{r.dataset}, l_{r.p:g} regression")
        # outside the axes: inside, the legend covered the curves it names
        ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    if isinstance(path_or_ax, (str, Path)):
        fig.savefig(path_or_ax, dpi=120)
    return fig


def save(results: AccelerationResult | Sequence[AccelerationResult], path: str | Path) -> Path:
    """Write the results as JSON (no pickle).

    Parameters
    ----------
    results : AccelerationResult or a sequence of them
    path : str or Path
        The JSON file to write.

    Returns
    -------
    Path
        The path written.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from tnconv.experiments.linear_acceleration import run
    >>> res = run(p=2, dataset="synthetic", depths=(1, 2), n_iter=150, lr_grid=[0.3, 1.0], baselines=(),
    ...           rel_target=1e-2)
    >>> path = save(res, os.path.join(tempfile.mkdtemp(), "acceleration.json"))
    >>> type(json.loads(path.read_text())).__name__
    'list'
    """
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
