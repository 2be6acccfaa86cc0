"""Claim 2 -- pooling geometry decides which partitions a deep network favours.

Inputs pooled together early can be strongly entangled; inputs joined only near the root cannot. With
contiguous 2x2 pooling every first-level window straddles the checkerboard partition, so its Schmidt
rank is exponential in the image size, while the left/right halves meet only at the root and the rank
is capped by the top width. "Mirror" (interleaved) pooling joins pixels half the image apart and flips
the preference: left/right becomes exponential and checkerboard collapses. This is ICLR'17 Theorem 1.

For each geometry and a family of partitions (left/right, top/bottom, checkerboard, center/periphery,
checkerboards of 2^l x 2^l blocks) the experiment reports the min-cut bound on the Schmidt rank,
normalized by its maximum ``log2 M^min(|I|,|I^c|)``, for images up to 32x32. On 4x4 images it also
computes the exact generic rank over GF(p).

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743 (Theorem 1).
.. [2] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts).

Examples
--------
>>> from tnconv.experiments import pooling_geometry as pg
>>> r = pg.run("small")
>>> i, j = r.partitions.index("checkerboard"), r.partitions.index("left_right")
>>> r.log2_cut["contiguous"][-1][i] > r.log2_cut["contiguous"][-1][j]
True
>>> pg.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = pg.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypedDict

from .. import partitions as P
from ..exact import generic_schmidt_rank
from ..models.convnet import deep
from .common import check_size, min_cut_log2
from .figures import HOLLOW, figure_target, finish_figure, label_axes

__all__ = ["GEOMETRIES", "PoolingGeometryResult", "partition_family", "plot", "run", "verdict"]

GEOMETRIES = ("contiguous", "interleaved")

class _Config(TypedDict):
    sides: list[int]
    exact_side: int


CONFIG: dict[str, _Config] = {
    "small": {"sides": [4, 8], "exact_side": 4},
    "full": {"sides": [4, 8, 16, 32], "exact_side": 4},
}


@dataclasses.dataclass
class PoolingGeometryResult:
    """``log2_cut[geometry][k][j]``: log2 min cut on image ``sides[k]`` for partition ``partitions[j]``
    (``None`` where a block partition does not fit that image); ``max_log2[k][j]`` its ceiling
    ``min(|I|, |I^c|) log2 M``; ``exact_rank[geometry][j]`` the generic rank on the ``exact_side`` image."""

    n_descriptors: int
    width: int
    sides: list[int]
    partitions: list[str]
    log2_cut: dict[str, list[list[float | None]]]
    max_log2: list[list[float | None]]
    exact_side: int
    exact_rank: dict[str, list[int | None]]


def partition_family(side: int) -> dict[str, frozenset | None]:
    """The named partitions of a ``side x side`` image, with ``block_interleaved:l`` for l = 1..log2(side)-1.

    The names are the same for every side (blocks too large for the image map to ``None``), so that
    results for several sizes line up.

    Parameters
    ----------
    side : int
        The image side.

    Returns
    -------
    dict
        ``{name: partition or None}``.

    Examples
    --------
    >>> sorted(k for k, v in partition_family(4).items() if v is not None)
    ['block_interleaved:1', 'center_periphery', 'checkerboard', 'left_right', 'top_bottom']
    """
    return _family(side, side)


def _family(side: int, largest: int) -> dict[str, frozenset | None]:
    shape = (side, side)
    out: dict[str, frozenset | None] = {name: P.named(name, shape) for name in P.NAMES_2D}
    for level in range(1, int(math.log2(largest))):
        out[f"block_interleaved:{level}"] = P.block_interleaved(shape, level) if 2**level < side else None
    return out


def run(size: str = "small", seed: int = 0, n_descriptors: int = 2, width: int = 2) -> PoolingGeometryResult:
    """Min-cut bounds (and exact ranks on 4x4) for contiguous vs interleaved 2x2 pooling.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: 4x4 and 8x8 images; ``full``: up to 32x32.
    seed : int
    n_descriptors, width : int
        M, and the width of every hidden layer.

    Returns
    -------
    PoolingGeometryResult

    Raises
    ------
    ValueError
        An unknown ``size``.
    """
    cfg = CONFIG[check_size(size)]
    M, w = int(n_descriptors), int(width)
    sides = list(cfg["sides"])
    names = list(_family(sides[-1], sides[-1]))
    log2_cut: dict[str, list[list[float | None]]] = {}
    max_log2: list[list[float | None]] = []
    for side in sides:
        fam = _family(side, sides[-1])
        n = side * side
        max_log2.append([None if fam[k] is None else min(len(fam[k]), n - len(fam[k])) * math.log2(M)  # type: ignore[arg-type]
                         for k in names])
    for geo in GEOMETRIES:
        rows = []
        for side in sides:
            fam = _family(side, sides[-1])
            net = deep((side, side), M, w, pooling=geo, seed=seed)
            present = {k: part for k in names if (part := fam[k]) is not None}
            vals = dict(zip(present, min_cut_log2(net, list(present.values()))))
            rows.append([vals.get(k) for k in names])
        log2_cut[geo] = rows
    es = cfg["exact_side"]
    fam = _family(es, sides[-1])
    exact: dict[str, list[int | None]] = {}
    for geo in GEOMETRIES:
        net = deep((es, es), M, w, pooling=geo, seed=seed)
        exact[geo] = [None if (part := fam[k]) is None else generic_schmidt_rank(net, part, seed=seed)
                      for k in names]
    return PoolingGeometryResult(n_descriptors=M, width=w, sides=sides, partitions=names, log2_cut=log2_cut,
                                 max_log2=max_log2, exact_side=es, exact_rank=exact)


def _value(result: PoolingGeometryResult, geo: str, name: str, k: int = -1) -> float:
    v = result.log2_cut[geo][k][result.partitions.index(name)]
    assert v is not None
    return v


def verdict(result: PoolingGeometryResult) -> str:
    """Check ICLR'17 Theorem 1 on every image size: contiguous pooling gives checkerboard > left/right,
    interleaved pooling the reverse.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    r = result
    lines = []
    ok = True
    for k, side in enumerate(r.sides):
        c_cb, c_lr = _value(r, "contiguous", "checkerboard", k), _value(r, "contiguous", "left_right", k)
        i_cb, i_lr = _value(r, "interleaved", "checkerboard", k), _value(r, "interleaved", "left_right", k)
        good = c_cb > c_lr and i_lr > i_cb
        ok = ok and good
        lines.append(f"- {side}x{side}: contiguous log2 cut checkerboard {c_cb:g} vs left/right {c_lr:g}; "
                     f"interleaved checkerboard {i_cb:g} vs left/right {i_lr:g}: {good}")
    jc, jl = r.partitions.index("checkerboard"), r.partitions.index("left_right")
    ex = r.exact_rank
    exact_ok = ex["contiguous"][jc] > ex["contiguous"][jl] and ex["interleaved"][jl] > ex["interleaved"][jc]  # type: ignore[operator]
    ok = ok and exact_ok
    lines.append(f"- exact generic ranks on {r.exact_side}x{r.exact_side}: contiguous checkerboard "
                 f"{ex['contiguous'][jc]} vs left/right {ex['contiguous'][jl]}; interleaved checkerboard "
                 f"{ex['interleaved'][jc]} vs left/right {ex['interleaved'][jl]}: {exact_ok}")
    head = ("SUPPORTED" if ok else "NOT SUPPORTED") + ": the pooling geometry decides the favoured partitions " \
        "(ICLR'17 Theorem 1)."
    return "\n".join([head] + lines)


def plot(result: PoolingGeometryResult, ax_or_path: Any = None) -> Any:
    """Heatmap of normalized log2 min cut (geometry x partition) on the largest image, plus the scaling of
    checkerboard and left/right with the image side.

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
    fig, axes = figure_target(ax_or_path, n_panels=2, width=6.0, height=4.0)
    ax = axes[0]
    data = np.array([[np.nan if (v is None or m in (None, 0)) else v / m
                      for v, m in zip(r.log2_cut[g][-1], r.max_log2[-1])] for g in GEOMETRIES])
    im = ax.imshow(data, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(GEOMETRIES)), list(GEOMETRIES))
    ax.set_xticks(range(len(r.partitions)), [p.replace("block_interleaved:", "blocks 2^") for p in r.partitions],
                  rotation=45, ha="right", fontsize=8)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = r.log2_cut[GEOMETRIES[i]][-1][j]
            if v is not None:
                ax.text(j, i, f"{v:g}", ha="center", va="center", color="w" if data[i, j] < 0.6 else "k", fontsize=7)
    side = r.sides[-1]
    ax.set_title(f"log2 min cut / max, {side}x{side} image")
    bar = fig.colorbar(im, ax=ax, fraction=0.03)
    bar.set_label("log2 min cut / its largest possible value", fontsize=8)
    if len(axes) > 1:
        ax = axes[1]
        # contiguous checkerboard and interleaved left/right coincide, and so do the other two: filled
        # small markers on solid lines over hollow large ones on dashed lines keep all four visible
        styles = {"contiguous": {"ls": "-", "ms": 5, "lw": 1.4}, "interleaved": {"ls": "--", "ms": 12, "lw": 2.4,
                                                                                **HOLLOW}}
        for geo in GEOMETRIES:
            for name, marker, colour in (("checkerboard", "o", "C0"), ("left_right", "s", "C1")):
                ys = [row[r.partitions.index(name)] for row in r.log2_cut[geo]]
                if geo != "contiguous":
                    colour = {"C0": "C2", "C1": "C3"}[colour]
                ax.plot([side * side for side in r.sides], ys, marker=marker, color=colour,
                        zorder=3 if geo == "contiguous" else 2, label=f"{geo}: {name}", **styles.get(geo, {}))
        # log2 of the cut against the area, both linear: a straight line is a cut exponential in the area
        label_axes(ax, xlabel=f"pixels (images {r.sides[0]}x{r.sides[0]} to {r.sides[-1]}x{r.sides[-1]})",
                   ylabel="log2 min cut", title="Favoured partitions scale exponentially")
    return finish_figure(fig, ax_or_path)
