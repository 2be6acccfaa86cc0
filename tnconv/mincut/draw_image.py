"""A min cut drawn on the image: the pixels of each side, and where along the pooling hierarchy it runs.

Each severed index of a model's network belongs to one node of the mode tree: a copy tensor pools the
window of its node, a bond carries the output of its child node, an open leg feeds one pixel. The
picture colours the pixels by side and outlines the window of every severed index, coloured by the
height of its node, so that the cut of ``checkerboard`` under 2x2 pooling shows as every 2x2 window
outlined at height 1, and ``left_right`` as one outline of the whole image at the top.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

__all__ = ["cut_regions", "draw_on_image", "outline_segments"]

LIGHT_SIDES = ("#a9c1e6", "#f3c19d")  # I, I^c: light versions of draw.SIDE_COLORS


def cut_regions(cut: Any) -> list[tuple[frozenset, int, str, int]]:
    """``(pixels, height, kind, dim)`` for every severed index of a model's cut.

    ``pixels`` is the window of the tree node the index belongs to and ``height`` that node's height
    (0 for a pixel). Networks without a mode tree give the severed open legs only.
    """
    tn = cut.network
    G = tn.graph
    tree, nodes = tn.tree, tn.tensor_nodes
    out = []
    by_ind: dict = {}
    for u, v, d in G.edges(data=True):
        for i in d["inds"]:
            by_ind.setdefault(i, (u, v))
    for e in cut.edges:
        if e.kind == "copy":
            ts = [m for m in G[("copy", e.index)] if m[0] == "tensor"]
            if nodes is None or not ts:
                continue
            pixels = frozenset().union(*(nodes[t[1]] for t in ts))
        else:
            ends = by_ind.get(e.index)
            if ends is None:
                continue
            opens = [x for x in ends if x[0] == "open"]
            if opens:
                pixels = frozenset([opens[0][1]])
            elif nodes is not None:
                pixels = min((nodes[x[1]] for x in ends if x[0] == "tensor"), key=len)
            else:
                continue
        height = tree.height(pixels) if tree is not None and pixels in set(tree.nodes) else 0
        out.append((pixels, int(height), e.kind, int(e.dim)))
    return out


Segment = tuple[tuple[float, float], tuple[float, float]]


def outline_segments(pixels: frozenset, shape: tuple[int, int]) -> list[Segment]:
    """The boundary of a set of pixels (positions ``r * w + c``) as unit segments in image coordinates.

    Examples
    --------
    >>> len(outline_segments(frozenset({0, 1, 4, 5}), (4, 4)))  # a 2x2 square: 8 unit sides
    8
    """
    h, w = shape
    inside = set(pixels)
    segs: list[Segment] = []
    for p in inside:
        r, c = divmod(p, w)
        top, bottom = ((c - .5, r - .5), (c + .5, r - .5)), ((c - .5, r + .5), (c + .5, r + .5))
        left, right = ((c - .5, r - .5), (c - .5, r + .5)), ((c + .5, r - .5), (c + .5, r + .5))
        for dr, dc, seg in ((-1, 0, top), (1, 0, bottom), (0, -1, left), (0, 1, right)):
            rr, cc = r + dr, c + dc
            if not (0 <= rr < h and 0 <= cc < w) or rr * w + cc not in inside:
                segs.append(seg)
    return segs


def draw_on_image(cut: Any, shape: tuple[int, int], ax: Any, legend: bool = True) -> Any:
    """Draw the sides of ``cut`` as pixels and its severed windows as outlines on ``ax``."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    h, w = (int(s) for s in shape)
    n = len(cut.network.open_inds)
    if h * w != n:
        raise ValueError(f"shape {tuple(shape)} has {h * w} pixels, but the network has {n} inputs")
    mask = np.zeros(h * w, dtype=int)
    mask[sorted(cut.open_side)] = 1  # an A|B cut's free pixels: the side the cut put them on
    ax.imshow(mask.reshape(h, w), cmap=ListedColormap([LIGHT_SIDES[1], LIGHT_SIDES[0]]), vmin=0, vmax=1,
              interpolation="nearest")
    if max(h, w) <= 48:
        grid = [((c - .5, -.5), (c - .5, h - .5)) for c in range(1, w)] + \
               [((-.5, r - .5), (w - .5, r - .5)) for r in range(1, h)]
        ax.add_collection(LineCollection(grid, colors="white", linewidths=0.4))
    regions = cut_regions(cut)
    heights = sorted({hgt for _, hgt, _, _ in regions})
    import matplotlib

    cmap = matplotlib.colormaps["plasma"]
    colour = {hgt: cmap(0.55 if len(heights) == 1 else 0.1 + 0.75 * k / (len(heights) - 1))
              for k, hgt in enumerate(heights)}
    counts = Counter((hgt, kind, len(pixels)) for pixels, hgt, kind, _ in regions)
    scale = 2.2 if max(h, w) <= 32 else 1.4
    for pixels, hgt, _, _ in sorted(regions, key=lambda r: -r[1]):  # large windows below small ones
        ax.add_collection(LineCollection(outline_segments(pixels, (h, w)), colors=[colour[hgt]],
                                         linewidths=scale * (1 + 0.35 * heights.index(hgt)), capstyle="round"))
    pad = 0.35  # room for an outline along the image's edge
    ax.set_xlim(-.5 - pad, w - .5 + pad)
    ax.set_ylim(h - .5 + pad, -.5 - pad)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():  # an outline of the whole image must not hide behind the frame
        spine.set_visible(False)
    if legend:
        handles: list[Any] = [Patch(facecolor=LIGHT_SIDES[0], label="I (part)"),
                              Patch(facecolor=LIGHT_SIDES[1], label="I\u1d9c (complement)")]
        what = {"copy": "pooling of", "bond": "output of", "open": "input"}
        for (hgt, kind, size), k in sorted(counts.items()):
            where = "pixel" if kind == "open" else f"{what.get(kind, kind)} {size}-pixel window"
            handles.append(Line2D([], [], color=colour[hgt], linewidth=2.5,
                                  label=f"cut at height {hgt}: {k} x {where}"))
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=1, fontsize=8,
                  frameon=False)
    return ax
