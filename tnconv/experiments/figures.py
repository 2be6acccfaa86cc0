"""Figures of the experiments: where a ``plot`` draws, how it saves, and the drawings several share.

matplotlib is imported lazily (``pip install 'tnconv[plot]'``): every helper that needs it imports it on
call, so that the experiments run, and their results print, without it.

Examples
--------
>>> import os, tempfile
>>> from tnconv.experiments.figures import figure_target, finish_figure, label_axes
>>> path = os.path.join(tempfile.mkdtemp(), "figure.png")
>>> fig, (ax,) = figure_target(path)
>>> _ = ax.plot([1, 2, 4], [0, 1, 2], "o-", label="log2")
>>> label_axes(ax, xlabel="x", ylabel="log2 x", title="a line", log2="x")
>>> os.path.basename(finish_figure(fig, path))
'figure.png'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "HOLLOW",
    "UNDERLAY",
    "bar_offsets",
    "bound_scatter",
    "figure_target",
    "finish_figure",
    "label_axes",
    "require_matplotlib",
    "seed_bars",
]

#: Hollow markers: a line drawn over another with the same values leaves the one below visible.
HOLLOW: dict[str, Any] = {"mfc": "none", "mew": 1.6}
#: A wide pale line under the others: where a thinner line coincides with it, both stay visible.
UNDERLAY: dict[str, Any] = {"alpha": 0.45, "zorder": 2}


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or an ImportError that says how to install it.

    Returns
    -------
    module

    Raises
    ------
    ImportError
        Without matplotlib (``pip install 'tnconv[plot]'``).

    Examples
    --------
    >>> require_matplotlib().__name__
    'matplotlib'
    """
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'tnconv[plot]'") from None
    return matplotlib


def figure_target(ax_or_path: Any, n_panels: int = 1, width: float = 5.0, height: float = 3.8) -> tuple[Any, list[Any]]:
    """Resolve the ``ax_or_path`` argument of a ``plot`` function into ``(figure, axes)``.

    * ``None``: a new pyplot figure with ``n_panels`` side-by-side axes;
    * a path (str or PathLike): a new Agg figure, not registered with pyplot (saved by
      :func:`finish_figure`);
    * a matplotlib ``Axes``: only the first (main) panel is drawn, on it;
    * a matplotlib ``Figure``: ``n_panels`` axes are added to it.

    Parameters
    ----------
    ax_or_path : None, str, PathLike, matplotlib Axes or Figure
    n_panels : int
        Side-by-side panels of a new figure.
    width, height : float
        Inches of one panel.

    Returns
    -------
    (Figure, list of Axes)

    Raises
    ------
    ImportError
        Without matplotlib.
    TypeError
        An ``ax_or_path`` of another type.

    Examples
    --------
    >>> fig, axes = figure_target("figure.png", n_panels=2)
    >>> len(axes), [float(v) for v in fig.get_size_inches()]
    (2, [10.0, 3.8])
    """
    require_matplotlib()
    size = (width * n_panels, height)
    if ax_or_path is None:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, n_panels, figsize=size, squeeze=False)
        return fig, list(axes[0])
    if isinstance(ax_or_path, (str, os.PathLike)):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size)
        FigureCanvasAgg(fig)
        return fig, [fig.add_subplot(1, n_panels, k + 1) for k in range(n_panels)]
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if isinstance(ax_or_path, Axes):
        return ax_or_path.figure, [ax_or_path]
    if isinstance(ax_or_path, Figure):
        return ax_or_path, [ax_or_path.add_subplot(1, n_panels, k + 1) for k in range(n_panels)]
    raise TypeError(f"ax_or_path must be None, a file path, a matplotlib Axes or Figure; got {ax_or_path!r}")


def finish_figure(fig: Any, ax_or_path: Any) -> Any:
    """Save to ``ax_or_path`` when it is a path (returns the path), else return the figure.

    Parameters
    ----------
    fig : matplotlib Figure
        From :func:`figure_target`.
    ax_or_path : None, str, PathLike, matplotlib Axes or Figure
        As given to :func:`figure_target`.

    Returns
    -------
    str or matplotlib Figure

    Examples
    --------
    >>> fig, _ = figure_target(None)
    >>> finish_figure(fig, None) is fig
    True
    """
    if isinstance(ax_or_path, (str, os.PathLike)):
        fig.tight_layout()
        fig.savefig(ax_or_path, dpi=110)
        return str(ax_or_path)
    if ax_or_path is None:
        fig.tight_layout()
    return fig


def label_axes(ax: Any, xlabel: str | None = None, ylabel: str | None = None, title: str | None = None,
               legend: float | str | None = 7, log2: str = "") -> None:
    """Label a panel: axis labels, title, a legend in ``legend``-point type, and base-2 log axes.

    Parameters
    ----------
    ax : matplotlib Axes
    xlabel, ylabel, title : str, optional
        Left as they are when None.
    legend : float or str, optional
        The legend's font size (points, or a name such as ``"medium"``); None: no legend.
    log2 : str
        The axes on a base-2 log scale: ``""``, ``"x"``, ``"y"`` or ``"xy"``.

    Raises
    ------
    ValueError
        A ``log2`` with letters other than ``x`` and ``y``.

    Examples
    --------
    >>> fig, (ax,) = figure_target("figure.png")
    >>> label_axes(ax, xlabel="N", title="t", legend=None, log2="x")
    >>> ax.get_xlabel(), ax.get_title(), ax.get_xscale(), ax.get_legend() is None
    ('N', 't', 'log', True)
    """
    if set(log2) - {"x", "y"}:
        raise ValueError(f"log2 must name axes 'x' and/or 'y', got {log2!r}")
    if "x" in log2:
        ax.set_xscale("log", base=2)
    if "y" in log2:
        ax.set_yscale("log", base=2)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if legend is not None:
        ax.legend(fontsize=legend)


def bar_offsets(n_bars: int, total: float = 0.8) -> tuple[np.ndarray, float]:
    """Offsets from the group centre, and the width, of ``n_bars`` side-by-side bars filling ``total``.

    Parameters
    ----------
    n_bars : int
        Bars per group (at least 1).
    total : float
        Width of the whole group, in units of the distance between groups.

    Returns
    -------
    (ndarray of float, float)

    Raises
    ------
    ValueError
        ``n_bars`` below 1.

    Examples
    --------
    >>> offsets, width = bar_offsets(2, 0.76)
    >>> [round(float(v), 2) for v in offsets], round(width, 2)
    ([-0.19, 0.19], 0.38)
    """
    if int(n_bars) < 1:
        raise ValueError(f"n_bars must be at least 1, got {n_bars!r}")
    width = total / n_bars
    return (np.arange(n_bars) - (n_bars - 1) / 2) * width, width


def seed_bars(ax: Any, values: Mapping[str, Mapping[str, Sequence[float]]], mean: Mapping[str, Mapping[str, float]],
              std: Mapping[str, Mapping[str, float]], bars: Sequence[tuple[str, str, str]], chance: float,
              ylim: tuple[float, float], ylabel: str, title: str, legend_loc: str) -> None:
    """Bars of the mean over seeds with the standard deviation as error bars, every seed a dot.

    Parameters
    ----------
    ax : matplotlib Axes
    values : mapping
        ``values[group][bar]``: the per-seed numbers; one group of bars per key (the tasks), in order
        along x.
    mean, std : mapping
        ``mean[group][bar]``, ``std[group][bar]``: their mean and standard deviation.
    bars : sequence of (bar, label, colour)
        The bars of each group, left to right.
    chance : float
        A dotted line at the chance level.
    ylim : (float, float)
    ylabel, title : str
    legend_loc : str
        Where the legend goes (matplotlib ``loc``).

    Examples
    --------
    >>> fig, (ax,) = figure_target("figure.png")
    >>> vals = {"a": {"net": [0.6, 0.7]}, "b": {"net": [0.9, 0.8]}}
    >>> seed_bars(ax, vals, {"a": {"net": 0.65}, "b": {"net": 0.85}}, {"a": {"net": 0.07}, "b": {"net": 0.07}},
    ...           [("net", "a net", "C0")], chance=0.5, ylim=(0.4, 1.0), ylabel="accuracy", title="t",
    ...           legend_loc="lower right")
    >>> [round(float(p.get_height()), 2) for p in ax.patches]
    [0.65, 0.85]
    """
    groups = list(values)
    x = np.arange(len(groups))
    offsets, width = bar_offsets(len(bars), 0.76)
    for off, (bar, label, color) in zip(offsets, bars):
        ax.bar(x + off, [mean[g][bar] for g in groups], width, yerr=[std[g][bar] for g in groups], capsize=4,
               color=color, label=label)
        for t, group in enumerate(groups):
            ax.scatter(np.full(len(values[group][bar]), t + off), values[group][bar], s=10, color="k", zorder=3)
    ax.axhline(chance, color="grey", lw=0.8, ls=":")
    ax.set_xticks(x, groups)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, loc=legend_loc)


def bound_scatter(axes: Sequence[Any], result: Any, kinds: Sequence[str], colors: Sequence[str], bits: bool,
                  jitter: float, title: str) -> None:
    """Entropy and geometric measure of every (network, partition) pair against the log of its min cut.

    Draws on ``axes[0]`` the entropy with the bound ``S <= log C`` and, when there is a second panel, the
    geometric measure with the bound ``1 - 1/C``; the points of each kind in their own colour.

    Parameters
    ----------
    axes : sequence of matplotlib Axes
        One or two panels.
    result : a claim-4 result
        With lists ``kind``, ``log_bound`` (nats), ``entropy`` (nats) and ``geometric``.
    kinds, colors : sequence of str
        The kinds to draw, and their colours.
    bits : bool
        Logarithms (the x axis and the entropy) in bits; else in nats, as the result holds them.
    jitter : float
        Points move at random by up to this much along x, so that pairs with one bound stay apart.
    title : str
        Of the first panel.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(kind=["random", "random"], log_bound=[0.69, 1.39], entropy=[0.5, 1.0],
    ...                     geometric=[0.3, 0.6])
    >>> fig, axes = figure_target("figure.png", n_panels=2)
    >>> bound_scatter(axes, r, ["random"], ["C0"], bits=True, jitter=0.06, title="N = 4")
    >>> axes[0].get_xlabel(), axes[1].get_title()
    ('log2(min cut)  (bits)', 'geometric measure')
    """
    unit, log, scale = ("bits", "log2", math.log(2)) if bits else ("nats", "log", 1.0)
    xs = np.array(result.log_bound) / scale
    shift = np.random.default_rng(0).uniform(-jitter, jitter, size=xs.size)
    grid = np.linspace(0, max(xs.max(), 1e-3) * 1.05, 50)
    panels = (("entropy", f"entanglement entropy ({unit})", grid, f"bound: {log} C", title),
              ("geometric", "geometric measure 1 - p1", 1 - np.exp(-grid * scale), "bound: 1 - 1/C",
               "geometric measure"))
    for ax, (key, ylabel, bound, bound_label, panel_title) in zip(axes, panels):
        ys = np.array(getattr(result, key)) / (scale if key == "entropy" else 1.0)
        for kind, color in zip(kinds, colors):
            m = np.array([x == kind for x in result.kind])
            ax.scatter(xs[m] + shift[m], ys[m], s=12, alpha=0.7, color=color, label=kind)
        ax.plot(grid, bound, "k--", lw=1, label=bound_label)
        label_axes(ax, xlabel=f"{log}(min cut)  ({unit})", ylabel=ylabel, title=panel_title)
