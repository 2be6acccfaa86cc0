"""Validation of one side of a partition: a set of input positions or a boolean mask, checked and frozen.

:func:`validate_partition` is the context-free check every measure runs on a partition it is given, and
:func:`as_parts` runs it (or a :class:`~tnconv.partition_resolve.PartitionResolver`) over many. Both are
re-exported by :mod:`tnconv.partitions`, where the named partitions are built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .tree_checks import check_int

__all__ = ["PARTITION_NAMES", "as_parts", "validate_partition"]

#: The names :func:`tnconv.partitions.named` reads, with their ``:`` arguments; a string given as a
#: partition is refused with this list (keep it in step with the builders of :mod:`tnconv.partitions`).
PARTITION_NAMES = ("left_right", "odd_even", "top_bottom", "checkerboard", "center_periphery",
                   "block_interleaved:L", "random:K:SEED")
_BASE_NAMES = frozenset(name.split(":")[0] for name in PARTITION_NAMES)


def validate_partition(part: Any, n_inputs: int, allow_full: bool = False) -> frozenset:
    """Check one side ``I`` of a partition of ``n_inputs`` inputs and return it as a frozenset.

    Parameters
    ----------
    part : iterable of int or boolean mask
        The input positions on one side (a set, list, tuple, range or 1D integer array), or a boolean
        array of shape ``(n_inputs,)``. This context-free check takes no names: ``min_cut``, the spectra
        and the dense measures read names (``"odd_even"``), image-shaped masks and open-leg labels
        through :class:`tnconv.partition_resolve.PartitionResolver`, which knows the geometry.
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
        A string, a mapping, a single int, or entries that are not integers.

    Examples
    --------
    >>> sorted(validate_partition([2, 0], 4))
    [0, 2]
    >>> validate_partition([0, 0, 1], 4)
    Traceback (most recent call last):
    ...
    ValueError: partition has duplicated positions [0]
    """
    n_inputs = check_int(n_inputs, "n_inputs")
    _refuse_non_positions(part)
    positions = _read_positions(part, n_inputs)
    seen: set[int] = set()
    dups = sorted({x for x in positions if x in seen or seen.add(x)})  # type: ignore[func-returns-value]
    if dups:
        raise ValueError(f"partition has duplicated positions {dups[:10]}")
    bad = sorted(x for x in positions if not 0 <= x < n_inputs)
    if bad:
        raise ValueError(
            f"partition positions {bad[:10]} are out of range for {n_inputs} inputs (0..{n_inputs - 1})"
        )
    out = frozenset(positions)
    if not out:
        raise ValueError("partition side I is empty; it must hold at least one input position")
    if len(out) == n_inputs and not allow_full:
        raise ValueError(f"partition side I holds all {n_inputs} inputs; its complement must be non-empty")
    return out



def _refuse_non_positions(part: Any) -> None:
    """Refuse the things that are not a set of positions: names, mappings, a single int."""
    if isinstance(part, (str, bytes)):
        text = part if isinstance(part, str) else part.decode("utf-8", "replace")
        base = text.split(":")[0]
        hint = f"use tc.partitions.{base}(shape)" if base in _BASE_NAMES else "see tc.partitions.named"
        raise TypeError(
            f"a partition is a set of input positions, got the string {part!r}; partition names are "
            f"accepted only by tc.partitions.named(name, shape) and the command line: {hint} "
            f"(known names: {', '.join(PARTITION_NAMES)})"
        )
    if isinstance(part, Mapping):
        raise TypeError(
            f"a partition is a set of input positions, got a {type(part).__name__}; pass the positions of "
            "one side, e.g. a set or list of ints, or a boolean mask"
        )
    if isinstance(part, (int, np.integer)):
        raise TypeError(f"a partition is a set of input positions, got the single int {part!r}")



def _read_positions(part: Any, n_inputs: int) -> list[int]:
    """The positions of ``part`` (an iterable of ints or a boolean mask) as Python ints, never more
    than ``n_inputs + 1`` of them: a longer input cannot be a partition and is not materialized."""
    if isinstance(part, np.ndarray):
        if part.dtype == bool:
            if part.shape != (n_inputs,):
                raise ValueError(f"boolean partition mask has shape {part.shape}, expected ({n_inputs},)")
            part = np.flatnonzero(part)
        elif part.ndim != 1:
            raise ValueError(f"a partition array must be 1D (positions) or a boolean mask, got shape {part.shape}")
    try:
        size = len(part)
    except TypeError:
        size = None
    if size is not None and size > n_inputs:
        # More entries than inputs means duplicates or out-of-range positions; do not materialize them.
        raise ValueError(f"partition has {size} positions but there are only {n_inputs} inputs")
    try:
        iterator = iter(part)
    except TypeError:
        raise TypeError(f"a partition is an iterable of input positions, got {part!r}") from None
    positions = []
    for x in iterator:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise TypeError(f"partition positions must be ints, got {x!r} ({type(x).__name__})")
        positions.append(int(x))
        if len(positions) > n_inputs:
            raise ValueError(f"partition has more than {n_inputs} positions but there are only {n_inputs} inputs")
    return positions


def as_parts(parts: Iterable[Any], n_inputs: int, resolver: Any = None) -> list[frozenset]:
    """Validate many partitions at once (see :func:`validate_partition`; with a ``resolver``, every form
    that :meth:`tnconv.partition_resolve.PartitionResolver.resolve` reads: names, masks, leg names).

    Parameters
    ----------
    parts : iterable
        Partitions, in any form ``resolver`` reads (positions and masks without one).
    n_inputs : int
    resolver : PartitionResolver, optional

    Returns
    -------
    list of frozenset

    Examples
    --------
    >>> from tnconv.partition_resolve import PartitionResolver
    >>> as_parts([[0], "odd_even"], 4, PartitionResolver(4))
    [frozenset({0}), frozenset({1, 3})]
    """
    if resolver is None:
        return [validate_partition(p, n_inputs) for p in parts]
    return [resolver.resolve(p) for p in parts]

