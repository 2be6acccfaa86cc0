"""Claim 5 -- rectifier nets: depth efficiency holds for ReLU + max pooling, but not almost always.

A ConvAC (linear activation, product pooling) realizes its maximal odd/even grid-tensor rank for
almost every weight setting: the rank is a polynomial condition, so every random draw attains it.
For the generalized tensor decomposition of a ReLU network (``g(a, b) = max(a, b, 0)`` for ReLU + max
pooling, ``max(a, 0) + max(b, 0)`` for ReLU + sum pooling), rank deficiency happens on sets of
*positive* measure. A unit that is dead, or active, on every template makes part of the network
collapse. So a random draw gives a low rank with positive probability: a shallow network of small
size realizes those functions.

The experiment draws random deep networks (balanced binary tree over ``N`` inputs, width ``r``,
``M`` descriptors, ``T = M`` random templates) for each pooling operator. It records the rank of the
odd/even matricization of the grid tensor (a float SVD with an explicit relative tolerance, safe at
this size).

References
----------
.. [1] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor Decompositions",
   ICML 2016, arXiv:1603.00162 (Claims 2-5: universality, depth efficiency not almost always).

Examples
--------
>>> from tnconv.experiments import rectifier
>>> r = rectifier.run("small")
>>> len(set(r.ranks["product"]))   # a ConvAC attains one generic rank on every draw
1
>>> rectifier.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = rectifier.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import partitions as P
from ..models.convnet import ConvNet
from ..trees import ModeTree
from .common import blas_threads, check_size
from .figures import bar_offsets, figure_target, finish_figure, label_axes

__all__ = ["OPERATORS", "RectifierResult", "draw", "grid_rank", "plot", "run", "verdict"]

OPERATORS = ("product", "relu_max", "relu_sum")
RTOL = 1e-7

CONFIG = {
    "small": {"n": 4, "M": 3, "width": 3, "draws": 40},
    "full": {"n": 4, "M": 3, "width": 3, "draws": 1000},
}


def draw(g: str, seed: int, n_inputs: int = 4, n_descriptors: int = 3, width: int = 3) -> tuple[ConvNet, np.ndarray]:
    """One random network with pooling operator ``g`` (random orthogonal weights) and its ``T = M`` random
    orthogonal templates ``(T, M)``.

    Parameters
    ----------
    g : str
        The pooling operator's name.
    seed : int
    n_inputs, n_descriptors, width : int

    Returns
    -------
    (ConvNet, numpy.ndarray)

    Examples
    --------
    >>> net, templates = draw("relu_max", seed=0)
    >>> net.g.name, templates.shape
    ('relu_max', (3, 3))
    """
    rng = np.random.default_rng(seed)
    net = ConvNet(ModeTree.balanced(n_inputs), n_descriptors, width, g=g, seed=rng, init="orthogonal")
    # Orthogonal templates: a badly conditioned template matrix would blur float ranks (theory page, "Reliable ranks").
    templates, _ = np.linalg.qr(rng.standard_normal((n_descriptors, n_descriptors)))
    return net, templates


def grid_rank(net: ConvNet, templates: np.ndarray, part: Any, rtol: float = RTOL) -> int:
    """Rank of the grid tensor's matricization: singular values above ``rtol * s_max`` (0 for a zero tensor).

    Parameters
    ----------
    net : ConvNet
    templates : numpy.ndarray of shape (T, M)
    part : iterable of int
        The side ``I`` of the matricization.
    rtol : float

    Returns
    -------
    int

    Examples
    --------
    >>> net, templates = draw("product", seed=0)
    >>> grid_rank(net, templates, [0, 1]), grid_rank(net, templates, [0, 2])   # width 3, M = 3
    (3, 9)
    """
    G = net.grid_tensor(templates)
    I = sorted(part)
    J = [k for k in range(G.ndim) if k not in I]
    mat = np.transpose(G, I + J).reshape(G.shape[0] ** len(I), -1)
    s = np.linalg.svd(mat, compute_uv=False)
    return 0 if s[0] == 0 else int(np.sum(s > rtol * s[0]))


@dataclasses.dataclass
class RectifierResult:
    """``ranks[g]``: the odd/even grid-tensor rank of each random draw with pooling operator ``g``."""

    n_inputs: int
    n_descriptors: int
    width: int
    n_templates: int
    rtol: float
    max_rank: int
    generic_product_rank: int
    ranks: dict[str, list[int]]


def run(size: str = "small", seed: int = 0) -> RectifierResult:
    """Distribution of grid-tensor ranks for product, ReLU+max and ReLU+sum pooling over random draws.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: 40 draws per operator; ``full``: 1000.
    seed : int

    Returns
    -------
    RectifierResult
    """
    cfg = CONFIG[check_size(size)]
    n, M, w = cfg["n"], cfg["M"], cfg["width"]
    part = P.odd_even(n)
    ranks: dict[str, list[int]] = {}
    with blas_threads(1):
        for k, g in enumerate(OPERATORS):
            ranks[g] = [grid_rank(*draw(g, seed * 1_000_003 + 7919 * k + d, n, M, w), part)
                        for d in range(cfg["draws"])]
    return RectifierResult(n_inputs=n, n_descriptors=M, width=w, n_templates=M, rtol=RTOL,
                           max_rank=M ** (n // 2), generic_product_rank=min(M, w) ** (n // 2), ranks=ranks)


def _fraction_below(ranks: list[int], value: int) -> float:
    return float(np.mean([x < value for x in ranks])) if ranks else float("nan")


def verdict(result: RectifierResult) -> str:
    """Product: one rank on every draw (the generic one). ReLU+max: the top rank is reached, but a
    positive fraction of draws fall below it (not almost always).

    Parameters
    ----------
    result : the dataclass returned by :func:`run`

    Returns
    -------
    str
        ``"SUPPORTED: ..."`` or ``"NOT SUPPORTED: ..."`` followed by one line per check, with the numbers.
    """
    r = result
    prod = r.ranks["product"]
    prod_ok = set(prod) == {r.generic_product_rank}
    mx = r.ranks["relu_max"]
    top = max(mx)
    below = _fraction_below(mx, top)
    max_ok = top >= r.generic_product_rank and 0 < below < 1
    sm = r.ranks["relu_sum"]
    ok = prod_ok and max_ok
    return "\n".join([
        ("SUPPORTED" if ok else "NOT SUPPORTED") + ": depth efficiency of ReLU+max nets holds, but not almost always.",
        f"- product pooling: ranks {sorted(set(prod))} on all {len(prod)} draws; generic rank min(M,r)^(N/2) = "
        f"{r.generic_product_rank}: {prod_ok}.",
        f"- ReLU+max: highest rank {top} (of at most {r.max_rank}); {below:.0%} of draws fall below it "
        f"(a positive-measure set): {max_ok}.",
        f"- ReLU+sum: ranks {sorted(set(sm))}, {_fraction_below(sm, top):.0%} of draws below ReLU+max's top rank.",
    ])


def plot(result: RectifierResult, ax_or_path: Any = None) -> Any:
    """Histogram of odd/even grid-tensor ranks per pooling operator.

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
    fig, axes = figure_target(ax_or_path, n_panels=1, width=6.0)
    ax = axes[0]
    values = np.arange(0, r.max_rank + 1)
    offsets, width = bar_offsets(len(OPERATORS))
    for off, g in zip(offsets, OPERATORS):
        counts = np.array([sum(x == v for x in r.ranks[g]) for v in values]) / max(1, len(r.ranks[g]))
        ax.bar(values + off, counts, width=width, label=g)
    ax.set_xticks(values)
    label_axes(ax, xlabel="rank of the odd/even matricization of the grid tensor", ylabel="fraction of random draws",
               title=f"N={r.n_inputs}, M=T={r.n_descriptors}, width {r.width}, {len(r.ranks['product'])} draws each",
               legend="medium")
    return finish_figure(fig, ax_or_path)
