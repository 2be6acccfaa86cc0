"""Random binary blob images and the two tasks of ICLR'17: closedness and left-right symmetry.

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743, Sec. 7 (the closedness and symmetry tasks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..models.checks import check_positive_int, make_rng
from .morphology import closing, gaussian_smooth

__all__ = ["TASKS", "blob_images", "blob_scores", "blobs", "closedness", "closing_radius", "symmetry"]

TASKS = ("closedness", "symmetry")
#: Fraction of the generated images kept: the bottom and the top 40% by score.
KEEP = 0.4
#: Smallest image side: below it a blob has no room for a concavity and the closing disk no room at all.
MIN_SIZE = 4


def check_task(task: Any, tasks: tuple[str, ...]) -> str:
    """``task`` if it is one of ``tasks``, else a ``ValueError`` naming it."""
    if not isinstance(task, str) or task not in tasks:
        raise ValueError(f"task must be one of {tasks}, got {task!r}")
    return task


def closing_radius(size: int) -> int:
    """The radius of the closing disk for images of side ``size``: ``max(1, round(size / 16))`` (2 at 32).

    Parameters
    ----------
    size : int

    Returns
    -------
    int

    Examples
    --------
    >>> closing_radius(8), closing_radius(32)
    (1, 2)
    """
    return max(1, round(size / 16))


def blob_images(n: int, size: int = 32, seed: Any = None) -> np.ndarray:
    """``n`` random binary blob images ``(n, size, size)`` (bool).

    Each image is a thresholded smooth random field. Per image: white noise is smoothed by a Gaussian of
    width ``sigma ~ U(0.04, 0.1) * size`` (the blob scale); the field is mixed with its own mirror image,
    ``(1 - a) f + a f[:, ::-1]`` with ``a ~ U(0, 0.5)`` (``a = 0.5`` is exactly left-right symmetric,
    ``a = 0`` not at all), so that symmetry scores spread over ``[0, 1]``; the result is thresholded at
    its ``1 - v`` quantile with a foreground fraction ``v ~ U(0.2, 0.45)``. Every image has foreground.

    Parameters
    ----------
    n : int
        Images.
    size : int
        Image side.
    seed : int or numpy Generator, optional

    Returns
    -------
    numpy.ndarray of bool, shape (n, size, size)

    Examples
    --------
    >>> images = blob_images(2, size=8, seed=0)
    >>> images.shape, images.dtype.name, bool(images.any(axis=(1, 2)).all())
    ((2, 8, 8), 'bool', True)
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size")
    rng = make_rng(seed)
    sigma = rng.uniform(0.04, 0.1, size=n) * size
    mix = rng.uniform(0.0, 0.5, size=n)
    frac = rng.uniform(0.2, 0.45, size=n)
    noise = rng.standard_normal((n, size, size))
    out = np.empty((n, size, size), dtype=bool)
    # Images share a kernel width in blocks of similar sigma: smooth each block once.
    for s in np.unique(np.round(sigma, 1)):
        idx = np.flatnonzero(np.round(sigma, 1) == s)
        field = gaussian_smooth(noise[idx], float(max(s, 0.3)))
        field = (1 - mix[idx, None, None]) * field + mix[idx, None, None] * field[:, :, ::-1]
        flat = field.reshape(len(idx), -1)
        # Per-image threshold: the value with round(v * size**2) values at or above it.
        k = np.clip(flat.shape[1] - np.round(frac[idx] * flat.shape[1]).astype(int), 0, flat.shape[1] - 1)
        thr = np.sort(flat, axis=1)[np.arange(len(idx)), k]
        out[idx] = field >= thr[:, None, None]
    return out


def closedness(images: np.ndarray, radius: int | None = None) -> np.ndarray:
    """``|B| / |closing(B)|`` per image, in ``(0, 1]`` (1 for a blob its closing leaves unchanged; 1 for an
    empty image). ``radius`` defaults to :func:`closing_radius` of the image side.

    Parameters
    ----------
    images : numpy.ndarray of bool, shape (n, h, w)
    radius : int, optional
        Radius of the closing disk.

    Returns
    -------
    numpy.ndarray of float, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((1, 8, 8), bool); square[0, 2:6, 2:6] = True
    >>> closedness(square).tolist()   # a convex blob: its closing adds nothing
    [1.0]
    """
    b = np.asarray(images, dtype=bool)
    r = closing_radius(b.shape[-1]) if radius is None else int(radius)
    area = b.sum(axis=(1, 2))
    closed = closing(b, r).sum(axis=(1, 2))
    return np.where(closed > 0, area / np.maximum(closed, 1), 1.0)


def symmetry(images: np.ndarray) -> np.ndarray:
    """Left-right symmetry per image: ``|B & B'| / |B | B'|`` for the mirror image ``B'`` (intersection over
    union; 1 for a symmetric blob, and for an empty image).

    Parameters
    ----------
    images : numpy.ndarray of bool, shape (n, h, w)

    Returns
    -------
    numpy.ndarray of float, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((1, 8, 8), bool); square[0, 2:6, 2:6] = True
    >>> left = square.copy(); left[0, :, 4:] = False
    >>> symmetry(square).tolist(), symmetry(left).tolist()
    ([1.0], [0.0])
    """
    b = np.asarray(images, dtype=bool)
    m = b[:, :, ::-1]
    inter = (b & m).sum(axis=(1, 2))
    union = (b | m).sum(axis=(1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def blob_scores(images: np.ndarray, task: str) -> np.ndarray:
    """:func:`closedness` or :func:`symmetry` of a boolean batch, by task name.

    Parameters
    ----------
    images : numpy.ndarray of bool, shape (n, h, w)
    task : {"closedness", "symmetry"}

    Returns
    -------
    numpy.ndarray of float, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((1, 8, 8), bool); square[0, 2:6, 2:6] = True
    >>> blob_scores(square, "symmetry").tolist()
    [1.0]
    """
    return closedness(images) if check_task(task, TASKS) == "closedness" else symmetry(images)


def blobs(n: int, size: int = 32, task: str = "closedness", seed: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Binary blob images labelled by closedness or by left-right symmetry, after ICLR'17 [1]_.

    ``ceil(ceil(n / 2) / 0.4)`` random blob images (:func:`blob_images`) are scored; the lowest-scoring
    ``n // 2`` become class 0 and the highest-scoring ``n - n // 2`` class 1 (the bottom and the top 40%,
    as in the paper, which generated 25,000 images and kept 20,000), and the two are shuffled together.
    Calling with ``n = 20000`` keeps 20,000 of 25,000 generated images, as the paper did; the thresholds
    are computed within one call, so train and test sets come from two calls with different seeds (as the
    paper's separately generated 25,000 / 5,000 sets).

    Choices the paper leaves open, made here:

    * blobs: a thresholded smooth Gaussian random field with a random scale, foreground fraction and a
      random amount of left-right mirroring (see :func:`blob_images`); several blobs per image are
      allowed, "blob pixels" are all foreground pixels;
    * closedness: ``|B| / |closing(B)|`` with a disk of radius ``max(1, round(size / 16))`` (2 at 32x32),
      on the infinite plane (no closing against the border, see :mod:`tnconv.datasets.morphology`);
    * symmetry: intersection over union of the image and its left-right mirror image;
    * ties in the score are broken by generation order (a stable sort), so the result is deterministic.

    Parameters
    ----------
    n : int
        Number of images returned (>= 1).
    size : int
        Image side (>= 4); 32 as in the paper.
    task : {"closedness", "symmetry"}
        Class 1 is the more closed (resp. more symmetric) group.
    seed : int, numpy Generator or None
        Same seed, same images.

    Returns
    -------
    X : ndarray, float64, shape (n, size, size)
        Pixels in {0, 1} (1 = blob).
    y : ndarray, int64, shape (n,)
        0 for the bottom 40% by score, 1 for the top 40%.

    Raises
    ------
    TypeError
        ``n`` or ``size`` not an int, or an invalid seed.
    ValueError
        ``n < 1``, ``size < 4`` or an unknown task.

    References
    ----------
    .. [1] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743, Sec. 7.

    Examples
    --------
    >>> X, y = blobs(10, size=16, task="symmetry", seed=0)
    >>> X.shape, y.tolist().count(1)
    ((10, 16, 16), 5)
    """
    n = check_positive_int(n, "n")
    size = check_positive_int(size, "size")
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    task = check_task(task, TASKS)
    rng = make_rng(seed)
    n0, n1 = n // 2, n - n // 2
    n_gen = math.ceil(n1 / KEEP)
    images = blob_images(n_gen, size, rng)
    order = np.argsort(blob_scores(images, task), kind="stable")
    chosen = np.concatenate([order[:n0], order[n_gen - n1:]])
    labels = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    perm = rng.permutation(n)
    return images[chosen[perm]].astype(np.float64), labels[perm]
