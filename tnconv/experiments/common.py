"""Shared plumbing of the experiments: sizes, JSON conversion and min-cut access.

:func:`figure_target` and :func:`finish_figure` live in :mod:`~tnconv.experiments.figures`; they are
re-exported here, where they used to be.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._core.threads import blas_threads
from .figures import figure_target, finish_figure

__all__ = [
    "SIZES",
    "TRAINED_SIZES",
    "blas_threads",
    "check_size",
    "figure_target",
    "finish_figure",
    "min_cut_bounds",
    "min_cut_log2",
    "save_json",
    "to_json",
    "to_plain",
]

SIZES = ("small", "full")
#: The sizes of the trained experiments: ``medium`` runs in minutes on a CPU (their notebooks use it).
TRAINED_SIZES = ("small", "medium", "full")


def check_size(size: Any, sizes: tuple[str, ...] = SIZES) -> str:
    """Validate the ``size`` argument of every ``run`` function (against ``sizes``)."""
    if not isinstance(size, str) or size not in sizes:
        raise ValueError(f"size must be one of {sizes}, got {size!r}")
    return str(size)


def to_plain(obj: Any) -> Any:
    """Convert dataclasses, numpy scalars/arrays, tuples, sets and frozensets into JSON-ready values.

    Python ints stay exact (min-cut bounds can exceed 2**64); floats that are not finite become
    strings ``"inf"``/``"nan"`` because JSON has no such numbers.

    Parameters
    ----------
    obj : any

    Returns
    -------
    JSON-ready value

    Examples
    --------
    >>> import numpy as np
    >>> to_plain({"a": np.int64(3), "b": (1, float("inf")), "c": frozenset({2})})
    {'a': 3, 'b': [1, 'inf'], 'c': [2]}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (frozenset, set)):
        return sorted(to_plain(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_plain(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot convert {type(obj).__name__} value {obj!r} to JSON")


def to_json(result: Any, indent: int | None = 1) -> str:
    """A result (dataclass or dict of plain values) as a JSON string.

    Parameters
    ----------
    result : dataclass or dict
    indent : int, optional
        As :func:`json.dumps`.

    Returns
    -------
    str

    Examples
    --------
    >>> import numpy as np
    >>> to_json({"ranks": np.array([1, 2]), "bound": 2**70}, indent=None)
    '{"ranks": [1, 2], "bound": 1180591620717411303424}'
    """
    return json.dumps(to_plain(result), indent=indent)


def save_json(result: Any, path: str | os.PathLike) -> str:
    """Write :func:`to_json` of ``result`` to ``path``; returns the path."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(to_json(result))
        fh.write("\n")
    return str(path)


def min_cut_bounds(model: Any, parts: Sequence[Iterable[int]]) -> list[int]:
    """Exact integer min-cut bounds of ``model`` for many partitions (:func:`tnconv.min_cuts`)."""
    from ..mincut import min_cuts

    return [int(c.bound) for c in min_cuts(model, [frozenset(p) for p in parts])]


def min_cut_log2(model: Any, parts: Sequence[Iterable[int]]) -> list[float]:
    """``log2`` of :func:`min_cut_bounds`, exact for powers of two (big ints are handled exactly)."""
    return [_log2_int(b) for b in min_cut_bounds(model, parts)]


def _log2_int(x: int) -> float:
    x = int(x)
    if x <= 0:
        raise ValueError(f"log2 of non-positive bound {x}")
    if x & (x - 1) == 0:
        return float(x.bit_length() - 1)
    shift = max(0, x.bit_length() - 60)
    return math.log2(x >> shift) + shift
