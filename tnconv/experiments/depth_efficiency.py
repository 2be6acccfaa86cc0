"""Claim 1 -- efficiency of depth: a deep ConvAC reaches ranks a shallow one needs exponential width for.

A deep ConvAC (hierarchical Tucker, size-2 contiguous pooling, width ``w`` at every layer, ``M``
descriptors) has generic odd/even Schmidt rank ``min(M, w)^(N/2)``, while a shallow ConvAC (CP) of
width ``Z`` has rank at most ``Z`` for every partition. So the shallow net needs ``Z >= min(M,w)^(N/2)``:
width exponential in ``N`` for a deep net of linear size. The same holds for the checkerboard partition
of an image under 2x2 pooling. Removing the top ``k`` layers (replacing them by one global pooling)
forces the remaining top width up to ``min(M, w)^(2^(k-1))``: double exponential in ``k``.

The experiment measures three things: exact generic ranks over GF(p) (``N <= 16``), min-cut bounds
for ``N`` up to 1024, and the Schmidt spectrum through the left/right cut, which is small at any
scale.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor Analysis",
   COLT 2016, arXiv:1509.05009 (Theorems 1-3).
.. [2] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743 (2D pooling).

Examples
--------
>>> from tnconv.experiments import depth_efficiency as de
>>> r = de.run("small")
>>> r.deep_odd_even_rank[:2], r.theory_odd_even_log2[:2]
([4, 16], [2.0, 4.0])
>>> de.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = de.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypedDict

from .. import partitions
from ..exact import generic_schmidt_rank
from ..models.convnet import ConvAC, deep, shallow
from ..trees import ModeTree
from .common import check_size, min_cut_log2
from .figures import HOLLOW, UNDERLAY, figure_target, finish_figure, label_axes

__all__ = ["DepthEfficiencyResult", "block_odd_partition", "plot", "run", "truncated_tree", "verdict"]

class _Config(TypedDict):
    exact_n: list[int]
    cut_n: list[int]
    images: list[tuple[int, int]]
    trunc_layers: int
    trunc_exact_layers: int


CONFIG: dict[str, _Config] = {
    "small": {"exact_n": [4, 8], "cut_n": [4, 8, 16, 32, 64], "images": [(4, 4)], "trunc_layers": 4,
              "trunc_exact_layers": 3},
    "full": {"exact_n": [4, 8, 16], "cut_n": [4, 8, 16, 32, 64, 128, 256, 512, 1024],
             "images": [(4, 4), (8, 8), (16, 16), (32, 32)], "trunc_layers": 10, "trunc_exact_layers": 4},
}


@dataclasses.dataclass
class DepthEfficiencyResult:
    """Plain data of the depth-efficiency experiment (all lists aligned with their ``*_n`` axis)."""

    n_descriptors: int
    width: int
    exact_n: list[int]
    deep_odd_even_rank: list[int]
    deep_left_right_rank: list[int]
    shallow_budget_width: list[int]
    shallow_budget_odd_even_rank: list[int]
    cut_n: list[int]
    deep_odd_even_log2_cut: list[float]
    deep_left_right_log2_cut: list[float]
    theory_odd_even_log2: list[float]
    left_right_entropy: list[float | None]
    images: list[list[int]]
    image_checkerboard_log2_cut: list[float]
    image_left_right_log2_cut: list[float]
    image_checkerboard_rank: list[int | None]
    image_left_right_rank: list[int | None]
    trunc_layers: int
    layers_removed: list[int]
    required_top_log2_cut: list[float]
    required_top_rank: list[int | None]
    truncated_rank_at_top_width: list[int | None]


def block_odd_partition(n: int, block: int) -> frozenset:
    """The inputs of the odd-numbered contiguous blocks of size ``block`` (``block=1``: odd/even).

    Parameters
    ----------
    n : int
        The number of inputs.
    block : int
        The block size.

    Returns
    -------
    frozenset of int

    Examples
    --------
    >>> sorted(block_odd_partition(8, 2))
    [2, 3, 6, 7]
    """
    if block < 1 or n % (2 * block):
        raise ValueError(f"block size {block} must divide n={n} into an even number of blocks")
    return frozenset(i for i in range(n) if (i // block) % 2 == 1)


def truncated_tree(n_layers: int, removed: int) -> ModeTree:
    """A balanced binary tree over ``2**n_layers`` inputs with its top ``removed`` layers replaced by one
    global pooling of the ``2**removed`` subtrees below them.

    Parameters
    ----------
    n_layers : int
        Layers of the full balanced tree.
    removed : int
        Top layers replaced by one global pooling.

    Returns
    -------
    ModeTree

    Examples
    --------
    >>> truncated_tree(3, 2).to_nested()
    ((0, 1), (2, 3), (4, 5), (6, 7))
    """
    if not 1 <= removed <= n_layers:
        raise ValueError(f"removed={removed} must be in 1..{n_layers}")
    n = 2**n_layers
    size = 2 ** (n_layers - removed)

    def sub(start: int, length: int) -> Any:
        if length == 1:
            return start
        half = length // 2
        return (sub(start, half), sub(start + half, half))

    return ModeTree.from_nested(tuple(sub(b, size) for b in range(0, n, size)))


def _entropy_or_none(model: Any, part: frozenset) -> float | None:
    from ..entanglement import entanglement_entropy

    try:
        return float(entanglement_entropy(model, part))
    except (MemoryError, NotImplementedError, ValueError, OverflowError):
        # The spectrum through a cut is unavailable for this network: leave the point out of the plot.
        return None


def run(size: str = "small", seed: int = 0, n_descriptors: int = 2, width: int = 2) -> DepthEfficiencyResult:
    """Run the depth-efficiency experiment.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: exact ranks for N = 4, 8 and min cuts to N = 64 (about a second); ``full``: exact
        ranks to N = 16, min cuts to N = 1024 and 32x32 images.
    seed : int
        Seed of the exact-rank weight draws and of the float models.
    n_descriptors, width : int
        M and the width of every layer of the deep net.

    Returns
    -------
    DepthEfficiencyResult

    Raises
    ------
    ValueError
        An unknown ``size``.
    """
    cfg = CONFIG[check_size(size)]
    M, w = int(n_descriptors), int(width)
    res: dict[str, Any] = {"n_descriptors": M, "width": w}
    for step in (_exact_ranks, _cut_growth, _images, _truncation):
        res.update(step(cfg, M, w, seed))
    return DepthEfficiencyResult(**res)


def _exact_ranks(cfg: _Config, M: int, w: int, seed: int) -> dict[str, Any]:
    """Exact generic ranks of the deep net (odd/even, left/right) and of the equal-budget shallow net."""
    oe, lr, zb, zr = [], [], [], []
    for n in cfg["exact_n"]:
        net = deep(n, M, w, seed=seed)
        oe.append(generic_schmidt_rank(net, partitions.odd_even(n), seed=seed))
        lr.append(generic_schmidt_rank(net, partitions.left_right(n), seed=seed))
        # The widest shallow net with no more parameters than the deep one.
        z = max(1, net.n_parameters // (n * M + 1))
        zb.append(z)
        zr.append(generic_schmidt_rank(shallow(n, M, z), partitions.odd_even(n), seed=seed))
    return {"exact_n": list(cfg["exact_n"]), "deep_odd_even_rank": oe, "deep_left_right_rank": lr,
                "shallow_budget_width": zb, "shallow_budget_odd_even_rank": zr}


def _cut_growth(cfg: _Config, M: int, w: int, seed: int) -> dict[str, Any]:
    """Min cuts to large N against the theory's ``N/2 log2 min(M, w)``, and left/right entropies."""
    r = min(M, w)
    c_oe, c_lr, th, ent = [], [], [], []
    for n in cfg["cut_n"]:
        net = deep(n, M, w, seed=seed, init="orthogonal")
        a, b = min_cut_log2(net, [partitions.odd_even(n), partitions.left_right(n)])
        c_oe.append(a)
        c_lr.append(b)
        th.append(n / 2 * math.log2(r))
        ent.append(_entropy_or_none(net, partitions.left_right(n)))
    return {"cut_n": list(cfg["cut_n"]), "deep_odd_even_log2_cut": c_oe, "deep_left_right_log2_cut": c_lr,
                "theory_odd_even_log2": th, "left_right_entropy": ent}


def _images(cfg: _Config, M: int, w: int, seed: int) -> dict[str, Any]:
    """Checkerboard against left/right on images: min cuts, and exact ranks where the image is small."""
    ic, il, rc, rl = [], [], [], []
    for shape in cfg["images"]:
        net = deep(shape, M, w, seed=seed)
        cb, lrp = partitions.checkerboard(shape), partitions.left_right(shape)
        a, b = min_cut_log2(net, [cb, lrp])
        ic.append(a)
        il.append(b)
        small = shape[0] * shape[1] <= 16
        rc.append(generic_schmidt_rank(net, cb, seed=seed) if small else None)
        rl.append(generic_schmidt_rank(net, lrp, seed=seed) if small else None)
    return {"images": [list(s) for s in cfg["images"]], "image_checkerboard_log2_cut": ic,
                "image_left_right_log2_cut": il, "image_checkerboard_rank": rc, "image_left_right_rank": rl}


def _truncation(cfg: _Config, M: int, w: int, seed: int) -> dict[str, Any]:
    """The top width a net with ``k`` layers removed needs, by min cut and (small nets) exactly."""
    L, Le = cfg["trunc_layers"], cfg["trunc_exact_layers"]
    n = 2**L
    net = deep(n, M, w, seed=seed, init="orthogonal")
    ks = list(range(1, L + 1))
    parts = [block_odd_partition(n, 2 ** (L - k)) for k in ks]
    req_cut = min_cut_log2(net, parts)
    req_rank: list[int | None] = []
    trunc_rank: list[int | None] = []
    ne = 2**Le
    net_e = deep(ne, M, w)
    for k in ks:
        if k > Le:
            req_rank.append(None)
            trunc_rank.append(None)
            continue
        part = block_odd_partition(ne, 2 ** (Le - k))
        need = generic_schmidt_rank(net_e, part, seed=seed)
        req_rank.append(need)
        # The truncated net with top width exactly `need` reaches it: the requirement is also sufficient.
        tree = truncated_tree(Le, k)
        widths = {v: (need if tree.parent(v) == tree.root else w) for v in tree.nodes if v != tree.root}
        trunc_rank.append(generic_schmidt_rank(ConvAC(tree, M, widths), part, seed=seed))
    return {"trunc_layers": L, "layers_removed": ks, "required_top_log2_cut": req_cut, "required_top_rank": req_rank,
                "truncated_rank_at_top_width": trunc_rank}


def verdict(result: DepthEfficiencyResult) -> str:
    """Whether the numbers support depth efficiency, computed from ``result``.

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    r = result
    base = math.log2(min(r.n_descriptors, r.width))
    exact_ok = all(rank == 2 ** round(n / 2 * base) for n, rank in zip(r.exact_n, r.deep_odd_even_rank))
    cut_ok = all(abs(c - t) < 1e-9 for c, t in zip(r.deep_odd_even_log2_cut, r.theory_odd_even_log2))
    lr_small = max(r.deep_left_right_log2_cut) <= math.log2(r.width) + 1e-9
    shallow_loses = all(s < d for s, d in zip(r.shallow_budget_odd_even_rank, r.deep_odd_even_rank[: len(r.exact_n)])
                        if d > 4)
    ratios = [b - a for a, b in zip(r.required_top_log2_cut, r.required_top_log2_cut[1:])]
    doubling = all(abs(b - 2 * a) < 1e-9 for a, b in zip(r.required_top_log2_cut, r.required_top_log2_cut[1:]))
    ents = [(n, e) for n, e in zip(r.cut_n, r.left_right_entropy) if e is not None]
    ent_ok = all(e <= math.log(r.width) + 1e-9 for _, e in ents)
    ok = exact_ok and cut_ok and lr_small and shallow_loses and doubling and ent_ok
    n_max = r.cut_n[-1]
    lines = [
        ("SUPPORTED" if ok else "NOT SUPPORTED") + ": depth efficiency.",
        f"- deep odd/even rank = min(M,w)^(N/2) exactly for N in {r.exact_n}: {exact_ok}; the min cut matches "
        f"it up to N = {n_max} (log2 = {r.deep_odd_even_log2_cut[-1]:g}): {cut_ok}.",
        f"- left/right stays at the top width (log2 cut <= {math.log2(r.width):g}): {lr_small}; its exact entropy "
        f"through the cut (N up to {ents[-1][0] if ents else '-'}) is at most log w = {math.log(r.width):.3f} nats: "
        f"{ent_ok}.",
        f"- a shallow net with the deep net's parameter budget reaches only {r.shallow_budget_odd_even_rank} "
        f"vs deep {r.deep_odd_even_rank}: {shallow_loses}.",
        f"- required top width after removing k = {r.layers_removed[0]}..{r.layers_removed[-1]} layers: log2 = "
        f"{[round(x, 3) for x in r.required_top_log2_cut]}, doubling with every layer (double exponential): {doubling}"
        + (f" (increments {ratios[:3]}...)" if not doubling else "") + ".",
    ]
    return "\n".join(lines)


def plot(result: DepthEfficiencyResult, ax_or_path: Any = None) -> Any:
    """log2 rank vs N (log N axis), deep vs shallow; and the required top width (log axis) vs layers removed.

    ``ax_or_path``: None (new figure), a PNG path, a matplotlib Axes (first panel only) or Figure.

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
    r = result
    fig, axes = figure_target(ax_or_path, n_panels=2)
    ax = axes[0]
    # Lines that coincide (the min cut and the exact rank; the theory and the deep odd/even cut; the two
    # small ranks near 0) get different widths, styles and hollow markers, so every entry stays visible.
    ax.plot(r.cut_n, r.deep_odd_even_log2_cut, "o-", lw=4, ms=9, color="C0", label="deep, odd/even (min cut)",
            **UNDERLAY)
    ax.plot(r.cut_n, r.theory_odd_even_log2, ":", lw=1.8, color="k", zorder=4,
            label="shallow width needed = min(M,w)^(N/2)")
    ax.plot(r.exact_n, [math.log2(x) for x in r.deep_odd_even_rank], "x", color="k", ms=10, mew=1.8, zorder=5,
            label="deep, odd/even (exact rank)")
    ax.plot(r.cut_n, r.deep_left_right_log2_cut, "s-", ms=10, color="C1", zorder=3,
            label="deep, left/right (min cut)", **HOLLOW)
    ax.plot(r.exact_n, [math.log2(x) for x in r.shallow_budget_odd_even_rank], "v--", ms=6, color="C2",
            zorder=6, label="shallow, at most the deep #params (exact)")
    label_axes(ax, xlabel="N (inputs, log scale)", ylabel="log2 Schmidt rank",
               title=f"Efficiency of depth (1D, M={r.n_descriptors:d}, w={r.width:d})", log2="x")
    if len(axes) > 1:
        ax = axes[1]
        # the required width itself on a log2 axis (not its log2 on a log axis): a straight line would be
        # exponential, this curve is double-exponential
        ax.plot(r.layers_removed, [2.0**v for v in r.required_top_log2_cut], "o-", ms=8,
                label=f"min cut, N = 2^{r.trunc_layers}", **HOLLOW)
        ex = [(k, float(x)) for k, x in zip(r.layers_removed, r.required_top_rank) if x]
        if ex:
            ax.plot(*zip(*ex), "kx", ms=8, mew=1.8, label="exact rank (small N)")
        # the scale first: setting it afterwards would reset the ticks placed below
        label_axes(ax, xlabel="layers removed k", ylabel="required top width (log scale)",
                   title="Double-exponential penalty", log2="y")
        top = max(r.required_top_log2_cut, default=1.0)
        # 2^1 and 2^(2^j) far enough apart to read: 2^1, 2^32, ..., 2^512
        exps = [e for e in (2**j for j in range(int(math.log2(max(top, 1.0))) + 1)) if e == 1 or e >= top / 20]
        ax.set_yticks([2.0**e for e in exps], [f"$2^{{{e}}}$" for e in exps])
        ax.minorticks_off()
    return finish_figure(fig, ax_or_path)
