"""Pictures: 2D partitions as image masks, and min cuts drawn on their tensor network.

matplotlib is imported lazily (``pip install 'tnconv[plot]'``).

References
----------
.. [1] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743 (partitions of images and pooling geometry).
.. [2] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .mincut.draw import draw_cut, tree_layout
from .mincut.draw import pyplot as _pyplot
from .partitions import validate_partition

__all__ = ["draw_cut", "plot_partition", "plot_partitions", "tree_layout"]


def _mask(part: Iterable[int], shape: Sequence[int]) -> np.ndarray:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (height, width), got {shape}")
    part = validate_partition(part, shape[0] * shape[1])
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[list(part)] = True
    return mask.reshape(shape)


def plot_partition(part: Iterable[int], shape: Sequence[int], ax: Any = None, title: str | None = None) -> Any:
    """Draw a partition of an image as a mask: ``I`` dark, ``I^c`` light; position = ``row * width + col``.

    Parameters
    ----------
    part : iterable of int
        The side ``I``.
    shape : (height, width)
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        An invalid partition or shape.
    ImportError
        Without matplotlib.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> ax = tc.plot_partition(tc.partitions.checkerboard((4, 4)), (4, 4), title="checkerboard")
    >>> ax.get_title()
    'checkerboard'
    """
    mask = _mask(part, shape)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(2.5, 2.5))
    from matplotlib.colors import ListedColormap

    ax.imshow(mask, cmap=ListedColormap(["#f0f0f0", "#2b2b2b"]), vmin=0, vmax=1, interpolation="nearest")
    h, w = mask.shape
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    if max(h, w) <= 32:
        ax.grid(which="minor", color="#9a9a9a", linewidth=0.3)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def plot_partitions(
    parts: dict[str, Iterable[int]] | Sequence[Iterable[int]],
    shape: Sequence[int],
    model: Any = None,
    ncols: int = 4,
    output: int = 0,
) -> Any:
    """A grid of partition masks, each titled with its min-cut bound when ``model`` is given.

    Parameters
    ----------
    parts : dict name -> partition, or a sequence of partitions
    shape : (height, width)
    model : model or TensorNetwork, optional
        Titles then show ``log2`` of the min-cut bound (:func:`tnconv.min_cuts`).
    ncols : int

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import tnconv as tc
    >>> parts = {n: tc.partitions.named(n, (4, 4)) for n in tc.partitions.NAMES_2D}
    >>> fig = plot_partitions(parts, (4, 4), model=tc.deep((4, 4), 2, 2, seed=0))
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['left_right\\nlog2 bound 1', 'top_bottom\\nlog2 bound 1']
    """
    items = list(parts.items()) if isinstance(parts, dict) else [(None, p) for p in parts]
    bounds = None
    if model is not None:
        from .mincut import min_cuts

        bounds = min_cuts(model, [p for _, p in items], output=output)
    plt = _pyplot()
    n = len(items)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.9 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        name, part = items[k]
        lines = [name] if name is not None else []
        if bounds is not None:
            lines.append(f"log2 bound {bounds[k].log2_bound:.4g}")
        plot_partition(part, shape, ax=ax, title="\n".join(lines) or None)
    fig.tight_layout()
    return fig
