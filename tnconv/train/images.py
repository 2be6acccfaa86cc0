"""Images as ConvAC inputs: pooling trees over an ``h x w`` grid (square and mirror), and pixel patches.

Input ``i`` of the net is pixel ``(i // w, i % w)`` (row-major, as :meth:`tnconv.ModeTree.grid`).

Square pooling
    Contiguous ``2 x 2`` windows, recursively; a side that is exhausted pools ``2 x 1`` / ``1 x 2``
    strips. For sides that are powers of two this is exactly ``ModeTree.grid(h, w)``. An odd side
    joins its last three rows (or columns) in one window, so every size ``h * w >= 2`` has a tree.
Mirror pooling
    The ICLR'17 geometry that favours symmetric correlations: every window joins a pixel with its
    mirror images about the vertical and horizontal centre lines, ``(r, c)``, ``(r, w-1-c)``,
    ``(h-1-r, c)``, ``(h-1-r, w-1-c)``; the folded quarter image is pooled the same way, recursively.
    With an odd side the centre row (or column), its own mirror image, joins the pair next to it.

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743, Sec. 6 (square and mirror pooling).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trees import ModeTree

__all__ = ["POOLINGS", "image_patches", "image_tree"]

POOLINGS = ("square", "mirror")


def _groups(n: int, mirror: bool) -> list[list[int]]:
    """Indices ``0..n-1`` in windows of 2 (one of 3 when ``n`` is odd): contiguous, or mirror pairs."""
    if n == 1:
        return [[0]]
    if not mirror:
        out = [[i, i + 1] for i in range(0, n - 1, 2)]
        if n % 2:
            out[-1].append(n - 1)
        return out
    out = [[i, n - 1 - i] for i in range(n // 2)]
    if n % 2:
        out[-1].append(n // 2)  # the centre is its own mirror image
    return out


def image_tree(h: int, w: int, pooling: str = "square") -> ModeTree:
    """The pooling tree of an ``h x w`` image: ``"square"`` (contiguous) or ``"mirror"`` windows.

    Raises
    ------
    ValueError
        An unknown pooling, or an image of fewer than 2 pixels.

    Examples
    --------
    >>> image_tree(4, 4) == ModeTree.grid(4, 4)
    True
    >>> t = image_tree(4, 4, "mirror")
    >>> sorted(sorted(c) for c in t.children(t.root))[0]
    [0, 3, 12, 15]
    """
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose from {POOLINGS} or pass a ModeTree")
    if h * w < 2:
        raise ValueError(f"an image of {h}x{w} pixels ({h * w} feature(s)) is too small: a ConvAC needs 2 inputs")
    mirror = pooling == "mirror"
    blocks = [[frozenset({r * w + c}) for c in range(w)] for r in range(h)]
    children: dict[frozenset, list[frozenset]] = {}
    while len(blocks) > 1 or len(blocks[0]) > 1:
        rows, cols = _groups(len(blocks), mirror), _groups(len(blocks[0]), mirror)
        nxt = []
        for rg in rows:
            row = []
            for cg in cols:
                group = [blocks[r][c] for r in rg for c in cg]
                node = frozenset().union(*group)
                children[node] = group
                row.append(node)
            nxt.append(row)
        blocks = nxt
    return ModeTree(children)


def image_patches(images: np.ndarray, patch: int) -> np.ndarray:
    """``(n, h*w, patch*patch*c)``: every pixel's ``patch x patch`` neighbourhood (edge-padded), row-major.

    Parameters
    ----------
    images : array (n, h, w, c)
    patch : int
        Odd; 1 gives every pixel's ``c`` channels.

    Examples
    --------
    >>> image_patches(np.arange(4.0).reshape(1, 2, 2, 1), 1)[0, :, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    >>> image_patches(np.arange(4.0).reshape(1, 2, 2, 1), 3).shape
    (1, 4, 9)
    """
    n, h, w, c = images.shape
    if patch == 1:
        return images.reshape(n, h * w, c)
    r = patch // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode="edge")
    parts = [padded[:, i : i + h, j : j + w, :] for i in range(patch) for j in range(patch)]
    return np.concatenate(parts, axis=-1).reshape(n, h * w, patch * patch * c)


def as_images(X: Any) -> np.ndarray:
    """``X`` as ``(n, h, w, c)`` float64: images ``(n, h, w)``, ``(n, h, w, c)``, or rows ``(n, d)`` as ``1 x d``.

    Raises
    ------
    ValueError
        Other shapes (a 1D ``X`` gets sklearn's hint), no samples, complex or NaN/inf values.
    TypeError
        Non-numeric data.
    """
    if X is None:
        raise ValueError("X is None; expected images (n, h, w) or (n, h, w, c), or rows (n, d)")
    if type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required: images are dense. Use '.toarray()' to "
            "convert to a dense numpy array"
        )
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"X is not a rectangular array of numbers: {exc}") from None
    if arr.dtype.kind == "c":
        raise ValueError("Complex data not supported: X must be real images")
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"X has dtype object with non-numeric entries: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"X has dtype {arr.dtype}; expected real numbers")
    if arr.ndim == 1:
        raise ValueError(
            f"X has shape {arr.shape}: expected images (n, h, w) or (n, h, w, c), or rows (n, d). Reshape your "
            "data with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample"
        )
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"X has shape {arr.shape}; expected images (n, h, w) or (n, h, w, c), or rows (n, d)")
    if arr.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.size == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 2 is required.")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError("X contains NaN or infinity; clean or impute the images first")
    if arr.ndim == 2:
        return arr[:, None, :, None]
    return arr if arr.ndim == 4 else arr[..., None]
