"""Reading a partition in any accepted form: positions, boolean masks, names, open-leg labels and tags.

Wherever tnconv accepts a partition (one side ``I`` of the open legs), any of these works:

* input positions: an iterable of ints (a set, list, tuple, range or 1D integer array);
* a boolean mask: 1D of length ``n_inputs``, or of the image's shape ``(height, width)``;
* a named partition (``"odd_even"``, ``"left_right"``, ``"checkerboard"``, ``"block_interleaved:1"``,
  ``"random:K:SEED"``, see :func:`tnconv.partitions.named`) for the geometry: the image shape of a 2D
  model (its tree's ``image_shape``), else the 1D sequence of ``n_inputs`` positions;
* for networks with labelled open legs: open-leg labels (quimb index names such as ``"k0"``) and
  tensor tags (quimb tags such as ``"I3"``, or tnconv tensor names), alone or in an iterable. A tag
  selects the open legs of every tensor that carries it.

Ints are always positions; strings are looked up as open-leg labels first, then as tags, then (a
single string only) as a partition name. Duplicated positions are an error; legs named twice (a label
and a tag of its tensor) are taken once.

A pair ``(A, B)`` of two such partitions (two collections, never two strings: ``("k0", "k1")`` is one
side naming two legs) is an A|B query: ``A`` and ``B`` disjoint and non-empty, the other open legs
free (see :func:`tnconv.min_cut`).

Examples
--------
>>> import numpy as np
>>> r = PartitionResolver(4, shape=(2, 2), labels=["a", "b", "c", "d"])
>>> sorted(r.resolve("checkerboard")), sorted(r.resolve(["a", 3])), sorted(r.resolve(np.eye(2, dtype=bool)))
([1, 2], [0, 3], [0, 3])
>>> is_pair(([0], [3])), is_pair(("a", "b"))
(True, False)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .partitions import named, validate_partition

__all__ = ["PartitionResolver", "is_pair"]

_SCALARS = (str, bytes, int, np.integer, np.bool_, bool)


def is_pair(part: Any) -> bool:
    """Whether ``part`` is an A|B pair: a tuple of exactly two collections (not strings, not ints)."""
    return (isinstance(part, tuple) and len(part) == 2
            and not any(isinstance(x, _SCALARS) for x in part)
            and all(isinstance(x, (Iterable, np.ndarray)) for x in part))


def _preview(obj: Any, width: int = 60) -> str:
    text = repr(obj)
    return text if len(text) <= width else text[: width - 4] + " ..."


class PartitionResolver:
    """Reads partitions of ``n_inputs`` open legs in every accepted form (module docstring).

    Parameters
    ----------
    n_inputs : int
        Number of open legs (input positions ``0..n_inputs-1``).
    shape : tuple of int, optional
        The geometry: ``(height, width)`` for an image (``height * width == n_inputs``), else 1D.
    labels : sequence of hashable, optional
        The label of each open leg, in position order (a network's ``open_inds``).
    tags : mapping str -> iterable of int, optional
        The open-leg positions that each tag selects.

    Raises
    ------
    ValueError
        A shape whose size is not ``n_inputs``, or labels of the wrong length.
    """

    def __init__(self, n_inputs: int, shape: Sequence[int] | None = None,
                 labels: Sequence[Hashable] | None = None, tags: Mapping[str, Iterable[int]] | None = None):
        self.n = int(n_inputs)
        dims = (self.n,) if shape is None else tuple(int(s) for s in shape)
        if math.prod(dims) != self.n or len(dims) not in (1, 2):
            raise ValueError(f"partition geometry {dims} does not hold {self.n} inputs")
        self.shape = dims
        self.labels: dict[Hashable, int] = {}
        if labels is not None:
            if len(labels) != self.n:
                raise ValueError(f"{len(labels)} open-leg labels for {self.n} inputs")
            # only non-int labels can be names (ints are positions)
            self.labels = {x: p for p, x in enumerate(labels) if not isinstance(x, (int, np.integer))}
        # kept as given: a network's tag map may be built lazily, on the first name looked up
        self.tags: Mapping[str, Iterable[int]] = tags if tags is not None else {}

    # ------------------------------------------------------------------ public
    def resolve(self, part: Any, allow_full: bool = False) -> frozenset:
        """One side ``I`` as a frozenset of positions.

        Raises
        ------
        ValueError
            Duplicated or out-of-range positions, an empty or full side, an unknown name, a mask of
            the wrong shape.
        TypeError
            A mapping, a single int, bytes, entries that are neither ints nor names.
        """
        if is_pair(part):
            raise TypeError(
                f"an A|B pair {_preview(part)} is accepted by min_cut/min_cuts and the network spectra, not here"
            )
        return frozenset(self.positions(part, allow_full).tolist())

    def resolve_pair(self, pair: tuple[Any, Any]) -> tuple[frozenset, frozenset]:
        """``(A, B)``: two disjoint, non-empty sides (their union may be every leg or leave some free).

        Raises
        ------
        ValueError
            Either side invalid, or the sides overlap (naming the shared positions).
        """
        a = self.resolve(pair[0])
        b = self.resolve(pair[1])
        both = sorted(a & b)
        if both:
            raise ValueError(f"the two sides of an A|B cut share positions {both[:10]}; they must be disjoint")
        return a, b

    def positions(self, part: Any, allow_full: bool = False) -> np.ndarray:
        """The positions of one side as an int64 array (no duplicates, unsorted)."""
        fast = self._fast_positions(part)
        if fast is not None:
            return fast
        if isinstance(part, str):
            return self._check(self._string(part), allow_full)
        if isinstance(part, np.ndarray) and part.dtype == bool:
            return self._check(self._mask(part), allow_full)
        if isinstance(part, (Iterable, np.ndarray)) and not isinstance(part, (bytes, Mapping)):
            items = part.tolist() if isinstance(part, np.ndarray) else part
            if isinstance(items, list) and any(isinstance(x, str) for x in items):
                return self._check(self._mixed(items), allow_full)
        fs = validate_partition(part, self.n, allow_full=allow_full)  # its errors for everything else
        return np.fromiter(fs, dtype=np.int64, count=len(fs))

    # ------------------------------------------------------------------ forms
    def _fast_positions(self, part: Any) -> np.ndarray | None:
        """Well-formed sets/lists of Python ints: the common case of batched queries, checked in C."""
        if isinstance(part, np.ndarray) and part.ndim == 1 and part.dtype.kind in "iu" and 0 < part.size < self.n:
            arr = part.astype(np.int64, copy=False)
            if arr.min() < 0 or arr.max() >= self.n or np.unique(arr).size != arr.size:
                return None
            return arr
        if not isinstance(part, (frozenset, set, list, tuple, range)) or not 0 < len(part) < self.n:
            return None
        if isinstance(part, range):
            arr = np.arange(part.start, part.stop, part.step, dtype=np.int64)
        else:
            if set(map(type, part)) != {int}:
                return None
            try:
                arr = np.fromiter(part, dtype=np.int64, count=len(part))
            except OverflowError:
                return None
        if arr.min() < 0 or arr.max() >= self.n:
            return None
        if not isinstance(part, (frozenset, set, range)):
            seen = np.zeros(self.n, dtype=bool)
            seen[arr] = True
            if np.count_nonzero(seen) != arr.size:
                return None
        return arr

    def _check(self, arr: np.ndarray, allow_full: bool) -> np.ndarray:
        if arr.size == 0:
            raise ValueError("partition side I is empty; it must hold at least one input position")
        if arr.size == self.n and not allow_full:
            raise ValueError(f"partition side I holds all {self.n} inputs; its complement must be non-empty")
        return arr

    def _mask(self, mask: np.ndarray) -> np.ndarray:
        if mask.shape not in ((self.n,), self.shape):
            shapes = f"({self.n},)" + (f" or {self.shape}" if len(self.shape) == 2 else "")
            raise ValueError(f"boolean partition mask has shape {mask.shape}, expected {shapes}")
        return np.flatnonzero(mask.ravel()).astype(np.int64)

    def _legs(self, name: str) -> tuple[int, ...] | None:
        if name in self.labels:
            return (self.labels[name],)
        legs = self.tags.get(name)
        return None if legs is None else tuple(int(p) for p in legs)

    def _string(self, text: str) -> np.ndarray:
        legs = self._legs(text)
        if legs is not None:
            return np.unique(np.array(legs, dtype=np.int64))
        geometry = self.shape if len(self.shape) == 2 else self.n
        try:
            return np.fromiter(named(text, geometry), dtype=np.int64)
        except ValueError as exc:
            where = ""
            if self.labels or self.tags:
                where = " nor an open-leg label or tag of this network"
            if len(self.shape) == 1 and "2D" in str(exc):
                where += ("; the model has no image shape (its tree has no image_shape): pass a mask of "
                          f"shape (height, width) or tc.partitions.{text.split(':')[0]}((height, width))")
            raise ValueError(f"partition {text!r} is not a partition name{where}: {exc}") from None

    def _mixed(self, items: list) -> np.ndarray:
        """An iterable of ints (positions) and strings (labels or tags)."""
        ints: list[int] = []
        named_legs: set[int] = set()
        for x in items:
            if isinstance(x, str):
                legs = self._legs(x)
                if legs is None:
                    known = ", ".join(map(repr, list(self.labels)[:6])) or "none"
                    raise ValueError(
                        f"partition entry {x!r} is neither an open-leg label nor a tag of this network "
                        f"(labels: {known}{', ...' if len(self.labels) > 6 else ''})"
                    )
                named_legs.update(legs)
            elif isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
                ints.append(int(x))
            else:
                raise TypeError(f"partition entries must be ints or leg names, got {x!r} ({type(x).__name__})")
        fs = validate_partition(ints, self.n, allow_full=True) if ints else frozenset()
        return np.fromiter(fs | named_legs, dtype=np.int64)
