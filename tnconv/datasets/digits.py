"""Digits on a noisy canvas: a local task and a global one, after Levine et al. (ICLR'18).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552, Sec. 6.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models.checks import check_positive_int, make_rng
from .blobs import check_task

__all__ = ["DIGIT", "SPLITS", "TASKS", "digits_canvas", "load_source_digits", "resize_bilinear"]

TASKS = ("local", "global")
SPLITS = (None, "train", "test")
#: Side of scikit-learn's bundled digits.
DIGIT = 8
#: Fraction of each class's bundled digits in the ``"train"`` split.
TRAIN_FRACTION = 0.8


def load_source_digits(split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), scaled to ``[0, 1]``.

    ``split="train"`` keeps a fixed 80% of every class (a permutation with seed 0), ``"test"`` the other
    20%, ``None`` all of them; train and test canvases built from the two splits share no source digit.

    Parameters
    ----------
    split : {"train", "test"}, optional

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Images ``(n, 8, 8)`` in ``[0, 1]`` and their labels.

    Raises
    ------
    ImportError
        Without scikit-learn (``pip install 'tnconv[notebooks]'`` or ``pip install scikit-learn``).
    ValueError
        An unknown split.

    Examples
    --------
    >>> X, y = load_source_digits("test")
    >>> X.shape, float(X.max()) <= 1.0
    ((359, 8, 8), True)
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("digits_canvas needs scikit-learn's bundled digits: pip install scikit-learn "
                          "(or pip install 'tnconv[notebooks]')") from None
    data = load_digits()
    images = np.asarray(data.images, dtype=np.float64) / 16.0
    labels = np.asarray(data.target, dtype=np.int64)
    if split is None:
        return images, labels
    rng = np.random.default_rng(0)
    keep = []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        cut = round(TRAIN_FRACTION * len(idx))
        keep.append(idx[:cut] if split == "train" else idx[cut:])
    sel = np.sort(np.concatenate(keep))
    return images[sel], labels[sel]


def resize_bilinear(images: np.ndarray, side: int) -> np.ndarray:
    """Bilinear resize of a batch ``(n, h, w)`` to ``(n, side, side)`` with pixel centres aligned
    (``align_corners=False``, edges clamped), as ``torch.nn.functional.interpolate(mode="bilinear")``.

    Parameters
    ----------
    images : numpy.ndarray, shape (n, h, w)
    side : int
        The new side.

    Returns
    -------
    numpy.ndarray, shape (n, side, side)

    Examples
    --------
    >>> import numpy as np
    >>> resize_bilinear(np.ones((1, 8, 8)), 16).shape
    (1, 16, 16)
    """
    x = np.asarray(images, dtype=np.float64)
    _, h, w = x.shape

    def axis_weights(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(side) + 0.5) * n_in / side - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    ylo, yhi, fy = axis_weights(h)
    xlo, xhi, fx = axis_weights(w)
    rows = x[:, ylo, :] * (1 - fy)[None, :, None] + x[:, yhi, :] * fy[None, :, None]
    return rows[:, :, xlo] * (1 - fx)[None, None, :] + rows[:, :, xhi] * fx[None, None, :]


def _balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % 10).astype(np.int64)


def digits_canvas(n: int, canvas: int = 32, task: str = "local", seed: Any = None, *, noise: float = 0.2,
                  split: str | None = None, digit_size: int = DIGIT) -> tuple[np.ndarray, np.ndarray]:
    """Ten-class digit images on a noisy ``canvas x canvas`` canvas: a local task or a global one.

    After Levine et al. [1]_, who contrast a task whose label is decided by a small region of the image
    (short-range correlations, favouring wide early layers) with one whose information is spread over the
    whole image (long-range correlations, favouring wide deep layers). The source digits are
    scikit-learn's bundled 8x8 digits (no download), scaled to ``[0, 1]``.

    Exact construction, per image:

    1. the label is drawn class-balanced (``arange(n) % 10``, shuffled: counts differ by at most one), and
       a source digit of that class uniformly (with replacement) from the chosen ``split``;
    2. ``local``: the 8x8 digit, resized bilinearly to ``digit_size x digit_size`` when that is not 8
       (:func:`resize_bilinear`), is pasted at a uniformly random position (top-left corner in
       ``0..canvas-digit_size`` on each axis) of a blank canvas;
       ``global``: the digit is resized bilinearly to the whole ``canvas x canvas`` canvas
       (:func:`resize_bilinear`), so every region of the image carries part of it;
    3. i.i.d. Gaussian noise of standard deviation ``noise`` is added to every pixel, and the result is
       clipped to ``[0, 1]``.

    At ``canvas == digit_size == 8`` the two tasks coincide (no room to move, nothing to stretch); a
    smaller ``digit_size`` makes a local task on a small canvas (e.g. 4x4 digits on an 8x8 canvas).

    Parameters
    ----------
    n : int
        Number of images (>= 1).
    canvas : int
        Canvas side: at least ``digit_size`` for ``local``, at least 2 for ``global`` (a canvas under 8
        shrinks the digit).
    task : {"local", "global"}
    seed : int, numpy Generator or None
        Same seed, same images.
    noise : float
        Standard deviation of the pixel noise (>= 0).
    split : {None, "train", "test"}
        Which source digits to use (:func:`load_source_digits`): build train and test sets from
        ``"train"`` and ``"test"`` so that no source digit is shared.
    digit_size : int
        Side of the pasted digit in the ``local`` task (2..8; default 8, the source size).

    Returns
    -------
    X : ndarray, float64, shape (n, canvas, canvas)
        Pixels in ``[0, 1]``.
    y : ndarray, int64, shape (n,)
        Digit labels 0..9.

    Raises
    ------
    TypeError
        ``n`` or ``canvas`` not an int, or an invalid seed.
    ValueError
        ``n < 1``, a canvas too small (under ``digit_size`` for ``local``, under 2 for ``global``),
        ``digit_size`` outside 2..8, an unknown task or split, or a negative or non-finite ``noise``.
    ImportError
        Without scikit-learn.

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552, Sec. 6.

    Examples
    --------
    >>> X, y = digits_canvas(20, canvas=16, task="local", seed=0)
    >>> X.shape, sorted(set(y.tolist())) == list(range(10))
    ((20, 16, 16), True)
    """
    n = check_positive_int(n, "n")
    canvas = check_positive_int(canvas, "canvas")
    task = check_task(task, TASKS)
    d = check_positive_int(digit_size, "digit_size")
    if not 2 <= d <= DIGIT:
        raise ValueError(f"digit_size must be in 2..{DIGIT}, got {d}")
    need = 2 if task == "global" else d
    if canvas < need:
        raise ValueError(f"canvas must be at least {need} (the side of the digits), got {canvas}")
    if isinstance(noise, (bool, np.bool_)) or not isinstance(noise, (int, float, np.integer, np.floating)) \
            or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = make_rng(seed)
    images, labels = load_source_digits(split)
    y = _balanced_labels(n, rng)
    pick = np.empty(n, dtype=np.int64)
    for c in range(10):
        where = np.flatnonzero(y == c)
        pick[where] = rng.choice(np.flatnonzero(labels == c), size=len(where))
    digits = images[pick]
    if task == "local":
        if d != DIGIT:
            digits = resize_bilinear(digits, d)
        X = np.zeros((n, canvas, canvas))
        top = rng.integers(0, canvas - d + 1, size=(n, 2))
        rows = top[:, 0, None, None] + np.arange(d)[None, :, None]
        cols = top[:, 1, None, None] + np.arange(d)[None, None, :]
        X[np.arange(n)[:, None, None], rows, cols] = digits
    else:
        X = resize_bilinear(digits, canvas)
    X += float(noise) * rng.standard_normal(X.shape)
    return np.clip(X, 0.0, 1.0), y
