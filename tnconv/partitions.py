"""Named input partitions (1D sequences and 2D images) and partition validation.

A partition is given by one side ``I``: a set of input positions. ``I`` and its complement must both be
non-empty. 2D positions are ``row * width + col``.

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743 (the partitions compared there).

Examples
--------
>>> from tnconv import partitions
>>> sorted(partitions.odd_even(6))
[1, 3, 5]
>>> sorted(partitions.left_right((2, 4)))
[0, 1, 4, 5]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._core.options import check_budget
from .partition_checks import PARTITION_NAMES, as_parts, validate_partition
from .tree_checks import STRUCTURE_FLOOR_BYTES, check_int

__all__ = [
    "NAMES_1D",
    "NAMES_2D",
    "as_parts",
    "block_interleaved",
    "center_periphery",
    "checkerboard",
    "contiguous_block",
    "left_right",
    "named",
    "odd_even",
    "random",
    "top_bottom",
    "validate_partition",
]


#: Estimated bytes per position of a partition held as a frozenset of ints (hash table plus int).
BYTES_PER_POSITION = 64


def _check_size(what: str, n_positions: float) -> None:
    # Small partitions are always built: the budget is meant for dense tensors (see tree_checks.py).
    if float(n_positions) * BYTES_PER_POSITION <= STRUCTURE_FLOOR_BYTES:
        return
    check_budget(what, float(n_positions) * BYTES_PER_POSITION,
                 hint=f"a partition is held as a frozenset of {n_positions:.4g} positions")


def _shape(shape: Any, what: str) -> tuple[int, ...]:
    """``n`` or ``(height, width)``, validated, with the partition's size checked against the budget."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        if shape < 2:
            raise ValueError(f"{what}: need at least 2 inputs, got {shape}")
        _check_size(f"{what} over {int(shape)} inputs", int(shape))
        return (int(shape),)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{what}: shape must be an int n or a pair (height, width), got {shape!r}")
    dims = tuple(check_int(s, f"{what}: each image side") for s in shape)
    if len(dims) != 2:
        raise ValueError(f"{what}: image shape must be (height, width), got {shape!r}")
    if min(dims) < 1 or dims[0] * dims[1] < 2:
        raise ValueError(f"{what}: image shape must be (height, width) of positive sizes with at least 2 "
                         f"pixels, got {shape!r}")
    # np.indices builds two int64 grids of the image besides the frozenset.
    _check_size(f"{what} over a {dims[0]}x{dims[1]} image", dims[0] * dims[1] * (1 + 16 / BYTES_PER_POSITION))
    return dims


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices(shape)
    return rows, cols


def _from_mask(mask: np.ndarray) -> frozenset:
    return frozenset(np.flatnonzero(mask.ravel()).tolist())


def left_right(shape: int | tuple[int, int]) -> frozenset:
    """The left half: the first ``n//2`` positions in 1D, the left ``width//2`` columns in 2D.

    Parameters
    ----------
    shape : int or (height, width)
        The number of inputs of a sequence, or an image shape.

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(left_right(5)), sorted(left_right((2, 2)))
    ([0, 1], [0, 2])
    """
    s = _shape(shape, "left_right")
    if len(s) == 1:
        return frozenset(range(s[0] // 2))
    if s[1] < 2:
        raise ValueError(f"left_right needs an image at least 2 wide, got {s}")
    _, cols = _grid(s)
    return _from_mask(cols < s[1] // 2)


def odd_even(shape: int) -> frozenset:
    """The odd positions of a 1D sequence (the interleaved partition).

    Parameters
    ----------
    shape : int
        The number of inputs.

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(odd_even(5))
    [1, 3]
    """
    s = _shape(shape, "odd_even")
    if len(s) != 1:
        raise ValueError(f"odd_even is a 1D partition (an int n); use checkerboard for images, got {shape!r}")
    return frozenset(range(1, s[0], 2))


def top_bottom(shape: tuple[int, int]) -> frozenset:
    """The top ``height//2`` rows of an image.

    Parameters
    ----------
    shape : (height, width)
        An image shape (positions ``row * width + col``).

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(top_bottom((2, 3)))
    [0, 1, 2]
    """
    s = _shape(shape, "top_bottom")
    if len(s) != 2 or s[0] < 2:
        raise ValueError(f"top_bottom needs an image at least 2 high, got {shape!r}")
    rows, _ = _grid(s)
    return _from_mask(rows < s[0] // 2)


def checkerboard(shape: tuple[int, int]) -> frozenset:
    """Pixels with odd ``row + col``: the most interleaved 2D partition.

    Parameters
    ----------
    shape : (height, width)
        An image shape (positions ``row * width + col``).

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(checkerboard((2, 2)))
    [1, 2]
    """
    s = _shape(shape, "checkerboard")
    if len(s) != 2:
        raise ValueError(f"checkerboard is a 2D partition; use odd_even for sequences, got {shape!r}")
    rows, cols = _grid(s)
    return _from_mask((rows + cols) % 2 == 1)


def center_periphery(shape: tuple[int, int]) -> frozenset:
    """The central block (half the height by half the width) of an image.

    Parameters
    ----------
    shape : (height, width)
        An image shape (positions ``row * width + col``).

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(center_periphery((4, 4)))
    [5, 6, 9, 10]
    """
    s = _shape(shape, "center_periphery")
    if len(s) != 2 or min(s) < 2:
        raise ValueError(f"center_periphery needs an image at least 2x2, got {shape!r}")
    h, w = s
    rows, cols = _grid(s)
    r0, c0 = (h - h // 2) // 2, (w - w // 2) // 2
    return _from_mask((rows >= r0) & (rows < r0 + h // 2) & (cols >= c0) & (cols < c0 + w // 2))


def block_interleaved(shape: int | tuple[int, int], level: int) -> frozenset:
    """Checkerboard of ``2**level x 2**level`` blocks (``level=0`` is :func:`checkerboard`).

    Parameters
    ----------
    shape : int or (height, width)
        The number of inputs of a sequence, or an image shape.
    level : int
        Blocks of side ``2**level``.

    Returns
    -------
    frozenset of int
        The side ``I``.

    Raises
    ------
    TypeError
        A level that is not an int (``1.5`` and ``1.0`` alike).
    ValueError
        A negative level, or blocks as large as the image.

    Examples
    --------
    >>> sorted(block_interleaved((2, 4), 1))
    [2, 3, 6, 7]
    """
    s = _shape(shape, "block_interleaved")
    if len(s) != 2:
        raise ValueError(f"block_interleaved is a 2D partition, got shape {shape!r}")
    level = check_int(level, "block_interleaved level")
    if level < 0 or level.bit_length() > 7 or 2**level >= max(s):
        raise ValueError(f"block_interleaved level {level} gives blocks too large for the image {s}; the level "
                         "must be >= 0 with 2**level below the longer side")
    b = 2**level
    rows, cols = _grid(s)
    return _from_mask(((rows // b) + (cols // b)) % 2 == 1)


def contiguous_block(n: int, size: int, start: int = 0) -> frozenset:
    """A contiguous 1D block ``start..start+size-1`` (the rest is the other side).

    Parameters
    ----------
    n : int
        The number of inputs.
    size : int
        The block's length.
    start : int
        Its first position.

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> sorted(contiguous_block(6, 2, start=3))
    [3, 4]
    """
    n = check_int(n, "n")
    size = check_int(size, "size")
    start = check_int(start, "start")
    if not 0 < size < n or start < 0 or start + size > n:
        raise ValueError(f"block start={start}, size={size} does not fit inside 0..{n - 1} as a proper subset")
    _check_size(f"contiguous_block of size {size}", size)
    return frozenset(range(start, start + size))


def random(shape: int | tuple[int, int], k: int | None = None, seed: Any = None) -> frozenset:
    """A uniformly random side of size ``k`` (default: half the inputs).

    Parameters
    ----------
    shape : int or (height, width)
        The number of inputs of a sequence, or an image shape.
    k : int, optional
        The size of ``I``.
    seed : int or numpy Generator, optional

    Returns
    -------
    frozenset of int
        The side ``I``.

    Examples
    --------
    >>> len(random(10, 3, seed=0))
    3
    """
    s = _shape(shape, "random")
    n = math.prod(s)
    k = n // 2 if k is None else check_int(k, "k")
    if not 0 < k < n:
        raise ValueError(f"random partition size k={k} must be between 1 and {n - 1}")
    rng = np.random.default_rng(seed)
    return frozenset(rng.choice(n, size=k, replace=False).tolist())


NAMES_1D = ("left_right", "odd_even")
NAMES_2D = ("left_right", "top_bottom", "checkerboard", "center_periphery")


# One builder per base name of PARTITION_NAMES, the list validate_partition shows when it refuses a string.
_BUILDERS: dict[str, Callable[..., frozenset]] = {
    "left_right": left_right,
    "odd_even": odd_even,
    "top_bottom": top_bottom,
    "checkerboard": checkerboard,
    "center_periphery": center_periphery,
    "block_interleaved": block_interleaved,
    "random": random,
}
# The two lists live in two modules (validation sits below the builders); a mismatch is a bug at import.
if set(_BUILDERS) != {name.split(":")[0] for name in PARTITION_NAMES}:  # pragma: no cover
    raise RuntimeError(f"partition builders {sorted(_BUILDERS)} do not match PARTITION_NAMES {PARTITION_NAMES}")


def _int_arg(name: str, text: str, what: str) -> int:
    t = text.strip()
    if not (t.isascii() and t.lstrip("-").isdigit()):
        raise ValueError(f"partition name {name!r}: {what} must be an integer, got {text!r}")
    return int(t)


def named(name: str, shape: int | tuple[int, int]) -> frozenset:
    """Look a partition up by name, e.g. ``named("checkerboard", (4, 4))``.

    ``block_interleaved:L`` selects a level; ``random:K:SEED`` a random one.

    Parameters
    ----------
    name : str
        One of :data:`NAMES_1D` or :data:`NAMES_2D`, with ``:``-separated arguments.
    shape : int or (height, width)
        The number of inputs of a sequence, or an image shape.

    Returns
    -------
    frozenset of int
        The side ``I``.

    Raises
    ------
    ValueError
        An unknown name, or arguments that are not integers.
    TypeError
        A name that is not a string.

    Examples
    --------
    >>> sorted(named("block_interleaved:1", (2, 4)))
    [2, 3, 6, 7]
    """
    if not isinstance(name, str):
        raise TypeError(f"a partition name is a string such as 'odd_even', got {name!r}")
    base, *args = name.split(":")
    n_args = {"block_interleaved": 1, "random": 2}.get(base, 0)
    if base not in _BUILDERS:
        raise ValueError(f"unknown partition name {name!r}; known: {', '.join(PARTITION_NAMES)}")
    if len(args) > n_args:
        raise ValueError(f"partition name {name!r} has {len(args)} ':' arguments; {base} takes at most {n_args}")
    if base == "block_interleaved":
        return block_interleaved(shape, _int_arg(name, args[0], "the level L") if args else 0)
    if base == "random":
        k = _int_arg(name, args[0], "the size K") if args else None
        seed = _int_arg(name, args[1], "the SEED") if len(args) > 1 else 0
        if seed < 0:
            raise ValueError(f"partition name {name!r}: the SEED must be >= 0, got {seed}")
        return random(shape, k, seed)
    return _BUILDERS[base](shape)
