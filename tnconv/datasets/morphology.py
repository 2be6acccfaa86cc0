"""Binary morphology and Gaussian smoothing on batches of images, in numpy alone.

Everything works on a batch ``(n, h, w)`` at once: a dilation is an OR over the shifts of the
structuring element, an erosion an AND, so the cost is ``|element|`` vectorized passes over the batch.
scipy is not needed (``scipy.ndimage`` would do the same for one image at a time).

The closing is taken on the infinite plane with background outside the image: the image is padded with
background by twice the element's radius, closed there, and cropped back. A blob touching the border is
therefore not closed against the border, and the result does not depend on a boundary convention.

Examples
--------
>>> import numpy as np
>>> ring = np.ones((1, 5, 5), bool); ring[0, 2, 2] = False   # a one-pixel hole
>>> bool(closing(ring, 1)[0, 2, 2])
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["closing", "dilate", "disk", "erode", "gaussian_smooth"]


def disk(radius: int) -> np.ndarray:
    """The offsets ``(k, 2)`` of a discrete disk: every ``(dy, dx)`` with ``dy**2 + dx**2 <= radius**2``.

    Examples
    --------
    >>> disk(1).tolist()
    [[-1, 0], [0, -1], [0, 0], [0, 1], [1, 0]]
    """
    r = int(radius)
    if r < 0:
        raise ValueError(f"radius must be >= 0, got {radius!r}")
    d = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    keep = dy**2 + dx**2 <= r * r
    return np.stack([dy[keep], dx[keep]], axis=1)


def _combine_shifts(images: np.ndarray, offsets: np.ndarray, sign: int, outside: bool, any_of: bool) -> np.ndarray:
    """OR (``any_of``) or AND of the batch shifted by ``sign * o`` for every offset ``o``; pixels outside
    the image read as ``outside``."""
    b = np.asarray(images, dtype=bool)
    pad = int(np.abs(offsets).max()) if len(offsets) else 0
    _, h, w = b.shape
    padded = np.pad(b, ((0, 0), (pad, pad), (pad, pad)), constant_values=outside)
    out = np.zeros_like(b) if any_of else np.ones_like(b)
    for dy, dx in offsets:
        y0, x0 = pad + sign * int(dy), pad + sign * int(dx)
        shifted = padded[:, y0: y0 + h, x0: x0 + w]
        if any_of:
            out |= shifted
        else:
            out &= shifted
    return out


def dilate(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Dilation of a boolean batch ``(n, h, w)``: pixel ``p`` is set if ``p - o`` is set for some offset
    ``o`` (background outside the image). The disk is symmetric, so ``p + o`` gives the same result."""
    return _combine_shifts(images, offsets, -1, outside=False, any_of=True)


def erode(images: np.ndarray, offsets: np.ndarray, outside: bool = False) -> np.ndarray:
    """Erosion of a boolean batch: pixel ``p`` stays set if ``p + o`` is set for every offset ``o``.
    Pixels outside the image count as ``outside``."""
    return _combine_shifts(images, offsets, 1, outside=outside, any_of=False)


def closing(images: np.ndarray, radius: int) -> np.ndarray:
    """Morphological closing (dilation, then erosion) by a disk of ``radius``, on the infinite plane.

    The image is padded by ``2 * radius`` background pixels: the dilation reaches ``radius`` beyond the
    image, and every pixel there that the erosion keeps has its whole disk inside the padding, so the
    padded computation equals the infinite-plane one. The result is cropped back to ``(n, h, w)``; it
    always contains the input (closing is extensive).
    """
    b = np.asarray(images, dtype=bool)
    if b.ndim != 3:
        raise ValueError(f"images must be a batch (n, h, w), got shape {b.shape}")
    r = int(radius)
    offsets = disk(r)
    p = 2 * r
    padded = np.pad(b, ((0, 0), (p, p), (p, p)), constant_values=False)
    closed = erode(dilate(padded, offsets), offsets)
    return closed[:, p: p + b.shape[1], p: p + b.shape[2]]


def gaussian_smooth(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian smoothing of a float batch ``(n, h, w)``, zero outside the image.

    The kernel is truncated at ``ceil(3 sigma)`` and normalized to sum 1.
    """
    x = np.asarray(images, dtype=np.float64)
    radius = max(1, int(np.ceil(3.0 * sigma)))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (t / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (1, 2):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad)
        n = x.shape[axis]
        out = np.zeros_like(x)
        for k, wk in enumerate(kernel):
            out += wk * np.take(padded, np.arange(k, k + n), axis=axis)
        x = out
    return x
