"""Validation of tensor-network data that names the offending value: dimensions, labels, arrays."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_DIMENSION", "check_arrays", "check_dimension", "check_flag", "check_inds", "check_labels",
           "real_array"]

#: The largest index dimension accepted: the largest axis length of a numpy array.
MAX_DIMENSION = 2**63 - 1


def check_dimension(d: Any, what: str) -> int:
    """Return ``d`` as an int if it is a valid index dimension, else raise naming ``what`` and ``d``.

    A dimension is an int (numpy integers too; bools and floats are refused) in ``1..2**63 - 1``. A
    dimension of 0 is refused: it makes every tensor carrying the index empty, and every min cut through
    it meaningless.

    Raises
    ------
    TypeError
        Not an int.
    ValueError
        Below 1 or above ``MAX_DIMENSION``.

    Examples
    --------
    >>> check_dimension(3, "index 'a'")
    3
    >>> check_dimension(3.5, "index 'a'")
    Traceback (most recent call last):
    ...
    TypeError: index 'a' must be a positive int, got 3.5 (float)
    """
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{what} must be a positive int, got {d!r} ({type(d).__name__})")
    d = int(d)
    if d < 1:
        empty = " (a dimension of 0 makes the tensor empty)" if d == 0 else ""
        raise ValueError(f"{what} must be a positive int, got {d}{empty}")
    if d > MAX_DIMENSION:
        raise ValueError(f"{what} is {d}, above 2**63 - 1, the largest axis an array can have")
    return d


def check_labels(labels: Any, what: str) -> tuple[Hashable, ...]:
    if isinstance(labels, (str, bytes)):
        raise TypeError(
            f"{what} must be a sequence of index labels, got the string {labels!r}; pass tuple({labels!r}) to "
            "use its characters as labels"
        )
    if not isinstance(labels, Iterable):
        raise TypeError(f"{what} must be a sequence of index labels, got {labels!r}")
    out = tuple(labels)
    for i in out:
        if not isinstance(i, Hashable):
            raise TypeError(f"{what}: index label {i!r} is not hashable (use str or int labels)")
    return out


def check_inds(inds: Any) -> list[tuple[Hashable, ...]]:
    if isinstance(inds, (str, bytes)) or not isinstance(inds, Iterable):
        raise TypeError(f"inds must be a sequence of index tuples (one per tensor), got {inds!r}")
    out = [check_labels(ix, f"indices of tensor {k}") for k, ix in enumerate(inds)]
    for k, ix in enumerate(out):
        dup = [i for i, c in Counter(ix).items() if c > 1]
        if dup:
            raise ValueError(f"tensor {k} repeats index {dup[0]!r}; traces inside one tensor are not supported")
    return out


def check_arrays(arrays: Any, n: int, what: str = "") -> list[Any]:
    """The arrays as a list; entries without ``shape`` (lists) become numpy arrays, ``None`` stays."""
    if arrays is None:
        return [None] * n
    if isinstance(arrays, (str, bytes, Mapping)) or not isinstance(arrays, Iterable):
        raise TypeError(f"arrays must be a sequence of arrays (one per tensor), got {type(arrays).__name__}")
    out = list(arrays)
    if len(out) != n:
        prefix = what or f"{n} index tuples but"
        raise ValueError(f"{prefix} {len(out)} arrays were given")
    for k, a in enumerate(out):
        if a is None:
            continue
        if not (hasattr(a, "shape") and hasattr(a, "dtype")):
            try:
                a = np.asarray(a)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"array {k} is not a rectangular array of numbers: {exc}") from None
            out[k] = a
        try:
            kind = np.dtype(a.dtype).kind
        except TypeError:
            continue  # a foreign array type (e.g. torch): its backend checks it
        if kind not in "biufc":
            raise TypeError(f"array {k} has dtype {a.dtype}; expected numbers")
    return out


def real_array(x: Any, what: str, *, kinds: str = "fiu") -> np.ndarray:
    """``x`` as a numpy array of real numbers, or an error that names ``what``.

    The one check behind every "weights / patches / features must be real numbers" message: a rectangular
    array (ragged lists are refused) with a dtype of one of the numpy ``kinds`` (default: floats and
    integers; ``"biuf"`` admits booleans). Finiteness is the caller's check, after its shape check, so
    that its message can name the offending node or sample.

    Parameters
    ----------
    x : array_like
    what : str
        How the message names ``x``, e.g. ``"weights of node {0, 1}"``.
    kinds : str
        Accepted ``numpy.dtype.kind`` letters.

    Returns
    -------
    numpy.ndarray
        ``numpy.asarray(x)`` (no copy when ``x`` already is one).

    Raises
    ------
    ValueError
        A ragged array.
    TypeError
        A dtype outside ``kinds`` (strings, objects, complex numbers ...).

    Examples
    --------
    >>> real_array([[1, 2], [3, 4]], "weights").dtype.kind
    'i'
    >>> real_array([[1, 2], [3]], "weights")
    Traceback (most recent call last):
    ...
    ValueError: weights: not a rectangular array of numbers (...)
    >>> real_array(["a"], "patches")
    Traceback (most recent call last):
    ...
    TypeError: patches: dtype <U1, expected real numbers
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: not a rectangular array of numbers ({exc})") from None
    if arr.dtype.kind not in kinds:
        raise TypeError(f"{what}: dtype {arr.dtype}, expected real numbers")
    return arr


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool, refusing anything but ``bool`` and ``numpy.bool_``.

    ``log='no'`` or ``log=0.5`` would otherwise be truthy and silently switch a mode on.

    Raises
    ------
    TypeError
        Naming the argument and the value.

    Examples
    --------
    >>> check_flag(np.True_, "log")
    True
    >>> check_flag("no", "log")
    Traceback (most recent call last):
    ...
    TypeError: log must be a bool (True or False), got 'no' of type str
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be a bool (True or False), got {value!r} of type {type(value).__name__}")
