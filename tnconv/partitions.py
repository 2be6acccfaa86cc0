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

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "NAMES_1D",
    "NAMES_2D",
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


def validate_partition(part: Any, n_inputs: int, allow_full: bool = False) -> frozenset:
    """Check one side ``I`` of a partition of ``n_inputs`` inputs and return it as a frozenset.

    Parameters
    ----------
    part : iterable of int
        The input positions on one side.
    n_inputs : int
        Total number of inputs.
    allow_full : bool
        Accept ``I`` equal to every input (used by :meth:`ModeTree.tiling`).

    Returns
    -------
    frozenset of int

    Raises
    ------
    ValueError
        Duplicated positions, positions outside ``0..n_inputs-1``, an empty side or a full side.
    TypeError
        Entries that are not integers.

    Examples
    --------
    >>> sorted(validate_partition([2, 0], 4))
    [0, 2]
    >>> validate_partition([0, 0, 1], 4)
    Traceback (most recent call last):
    ...
    ValueError: partition has duplicated positions [0]
    """
    if isinstance(part, (int, np.integer)):
        raise TypeError(f"a partition is a set of input positions, got the single int {part!r}")
    if isinstance(part, np.ndarray) and part.dtype == bool:
        if part.shape != (n_inputs,):
            raise ValueError(f"boolean partition mask has shape {part.shape}, expected ({n_inputs},)")
        part = np.flatnonzero(part)
    try:
        items = list(part)
    except TypeError:
        raise TypeError(f"a partition is an iterable of input positions, got {part!r}") from None
    positions = []
    for x in items:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"partition positions must be ints, got {x!r}")
        positions.append(int(x))
    seen: set[int] = set()
    dups = sorted({x for x in positions if x in seen or seen.add(x)})  # type: ignore[func-returns-value]
    if dups:
        raise ValueError(f"partition has duplicated positions {dups}")
    bad = sorted(x for x in positions if not 0 <= x < n_inputs)
    if bad:
        raise ValueError(f"partition positions {bad} are out of range for {n_inputs} inputs (0..{n_inputs - 1})")
    out = frozenset(positions)
    if not out:
        raise ValueError("partition side I is empty; it must hold at least one input position")
    if len(out) == n_inputs and not allow_full:
        raise ValueError(f"partition side I holds all {n_inputs} inputs; its complement must be non-empty")
    return out


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        if shape < 2:
            raise ValueError(f"need at least 2 inputs, got {shape}")
        return (int(shape),)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] < 2:
        raise ValueError(f"image shape must be (height, width) with at least 2 pixels, got {shape}")
    return shape


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.indices(shape)


def _from_mask(mask: np.ndarray) -> frozenset:
    return frozenset(int(i) for i in np.flatnonzero(mask.ravel()))


def left_right(shape: int | tuple[int, int]) -> frozenset:
    """The left half: the first ``n//2`` positions in 1D, the left ``width//2`` columns in 2D."""
    s = _shape(shape)
    if len(s) == 1:
        return frozenset(range(s[0] // 2))
    if s[1] < 2:
        raise ValueError(f"left_right needs an image at least 2 wide, got {s}")
    _, cols = _grid(s)
    return _from_mask(cols < s[1] // 2)


def odd_even(shape: int) -> frozenset:
    """The odd positions of a 1D sequence (the interleaved partition)."""
    s = _shape(shape)
    if len(s) != 1:
        raise ValueError("odd_even is a 1D partition; use checkerboard for images")
    return frozenset(range(1, s[0], 2))


def top_bottom(shape: tuple[int, int]) -> frozenset:
    """The top ``height//2`` rows of an image."""
    s = _shape(shape)
    if len(s) != 2 or s[0] < 2:
        raise ValueError(f"top_bottom needs an image at least 2 high, got {shape}")
    rows, _ = _grid(s)
    return _from_mask(rows < s[0] // 2)


def checkerboard(shape: tuple[int, int]) -> frozenset:
    """Pixels with odd ``row + col``: the most interleaved 2D partition."""
    s = _shape(shape)
    if len(s) != 2:
        raise ValueError("checkerboard is a 2D partition; use odd_even for sequences")
    rows, cols = _grid(s)
    return _from_mask((rows + cols) % 2 == 1)


def center_periphery(shape: tuple[int, int]) -> frozenset:
    """The central block (half the height by half the width) of an image."""
    s = _shape(shape)
    if len(s) != 2 or min(s) < 2:
        raise ValueError(f"center_periphery needs an image at least 2x2, got {shape}")
    h, w = s
    rows, cols = _grid(s)
    r0, c0 = (h - h // 2) // 2, (w - w // 2) // 2
    return _from_mask((rows >= r0) & (rows < r0 + h // 2) & (cols >= c0) & (cols < c0 + w // 2))


def block_interleaved(shape: tuple[int, int], level: int) -> frozenset:
    """Checkerboard of ``2**level x 2**level`` blocks (``level=0`` is :func:`checkerboard`)."""
    s = _shape(shape)
    if len(s) != 2:
        raise ValueError("block_interleaved is a 2D partition")
    b = 2 ** int(level)
    if level < 0 or b >= max(s):
        raise ValueError(f"block_interleaved level {level} gives blocks of {b} pixels, too large for {s}")
    rows, cols = _grid(s)
    return _from_mask(((rows // b) + (cols // b)) % 2 == 1)


def contiguous_block(n: int, size: int, start: int = 0) -> frozenset:
    """A contiguous 1D block ``start..start+size-1`` (the rest is the other side)."""
    if not 0 < size < n or start < 0 or start + size > n:
        raise ValueError(f"block start={start}, size={size} does not fit inside 0..{n - 1} as a proper subset")
    return frozenset(range(start, start + size))


def random(shape: int | tuple[int, int], k: int | None = None, seed: Any = None) -> frozenset:
    """A uniformly random side of size ``k`` (default: half the inputs)."""
    s = _shape(shape)
    n = int(np.prod(s))
    k = n // 2 if k is None else int(k)
    if not 0 < k < n:
        raise ValueError(f"random partition size k={k} must be between 1 and {n - 1}")
    rng = np.random.default_rng(seed)
    return frozenset(int(i) for i in rng.choice(n, size=k, replace=False))


NAMES_1D = ("left_right", "odd_even")
NAMES_2D = ("left_right", "top_bottom", "checkerboard", "center_periphery")


def named(name: str, shape: int | tuple[int, int]) -> frozenset:
    """Look a partition up by name, e.g. ``named("checkerboard", (4, 4))``.

    ``block_interleaved:L`` selects a level; ``random:K:SEED`` a random one.
    """
    base, *args = name.split(":")
    table = {
        "left_right": left_right,
        "odd_even": odd_even,
        "top_bottom": top_bottom,
        "checkerboard": checkerboard,
        "center_periphery": center_periphery,
    }
    if base in table:
        return table[base](shape)
    if base == "block_interleaved":
        return block_interleaved(shape, int(args[0]) if args else 0)
    if base == "random":
        return random(shape, int(args[0]) if args else None, int(args[1]) if len(args) > 1 else 0)
    raise ValueError(
        f"unknown partition name {name!r}; known: {', '.join(list(table) + ['block_interleaved:L', 'random:K:SEED'])}"
    )


def as_parts(parts: Iterable[Any], n_inputs: int) -> list[frozenset]:
    """Validate many partitions at once."""
    return [validate_partition(p, n_inputs) for p in parts]
