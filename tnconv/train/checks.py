"""Validation of what :func:`tnconv.train.fit` is given, naming the offending value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.validate import real_array
from ..models.base import ConvNet

__all__ = ["check_X", "check_model", "check_number", "check_optional_int", "check_y"]


def check_model(model: Any) -> Any:
    """``model`` if it is a :class:`~tnconv.models.ConvNet`, else ``TypeError`` naming its type."""
    if not isinstance(model, ConvNet):
        raise TypeError(
            f"fit trains a ConvNet (any pooling, any tree); got {type(model).__name__}. Dilated and mixed nets "
            "are not trainable yet"
        )
    return model


def check_X(X: Any, n_inputs: int, width: int, what: str = "X", width_name: str = "n_descriptors") -> np.ndarray:
    """``X`` as a float64 array ``(n, n_inputs, width)`` with finite entries.

    Raises
    ------
    TypeError
        Not an array of real numbers.
    ValueError
        A wrong shape (naming it and the expected one), no samples, or NaN/inf (naming the first sample).

    Examples
    --------
    >>> check_X(np.ones((2, 4, 3)), 4, 3).shape
    (2, 4, 3)
    """
    arr = real_array(X, what, kinds="biuf")
    if arr.ndim != 3 or arr.shape[1:] != (n_inputs, width):
        raise ValueError(
            f"{what} has shape {arr.shape}; the model expects (n_samples, n_inputs={n_inputs}, {width_name}={width})"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{what} has no samples (shape {arr.shape})")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise ValueError(f"{what} contains NaN or infinite values (first in sample {i})")
    return arr


def check_y(y: Any, n: int, n_outputs: int, regression: bool, what: str = "y") -> np.ndarray:
    """Integer labels in ``0..n_outputs-1`` (or, when ``regression``, float targets), ``n`` of them.

    Raises
    ------
    ValueError
        A length other than ``n`` (naming both), labels out of range (naming the first), NaN targets,
        targets of the wrong shape.
    TypeError
        Labels that are not integers (for classification losses).

    Examples
    --------
    >>> check_y([0, 1, 1], 3, 2, False).tolist()
    [0, 1, 1]
    """
    arr = np.asarray(y)
    if arr.ndim == 0 or arr.shape[0] != n:
        got = "a scalar" if arr.ndim == 0 else f"{arr.shape[0]} entries"
        raise ValueError(f"X has {n} samples but {what} has {got}; they must match")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind in "iu" and arr.ndim == 1:
        bad = np.flatnonzero((arr < 0) | (arr >= n_outputs))
        if bad.size:
            raise ValueError(
                f"label {int(arr[bad[0]])} ({what}[{bad[0]}]) is out of range: the model has n_outputs={n_outputs}, so "
                f"labels must be in 0..{n_outputs - 1}"
            )
        return arr.astype(np.int64)
    if not regression:
        raise TypeError(
            f"{what} must be integer class labels of shape ({n},) for this loss, got dtype {arr.dtype} and shape "
            f"{arr.shape} (use loss='squared' for real-valued targets)"
        )
    if arr.dtype.kind != "f":
        raise TypeError(f"{what} has dtype {arr.dtype}; expected integer labels or real targets")
    if arr.shape not in ((n,), (n, n_outputs)) or (arr.ndim == 1 and n_outputs != 1):
        raise ValueError(f"targets {what} have shape {arr.shape}; expected ({n}, {n_outputs})")
    if not np.isfinite(arr).all():
        raise ValueError(f"targets {what} contain NaN or infinite values")
    return arr.reshape(n, n_outputs).astype(np.float64)


def check_number(value: Any, name: str, integer: bool = False) -> Any:
    """A positive finite number (an int when ``integer``), refusing bools; naming ``name`` and the value.

    Examples
    --------
    >>> check_number(0.1, "lr"), check_number(3, "epochs", integer=True)
    (0.1, 3)
    """
    kinds: tuple = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        what = "a positive int" if integer else "a positive number"
        raise TypeError(f"{name} must be {what}, got {value!r}")
    if not (math.isfinite(float(value)) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return int(value) if integer else float(value)


def check_optional_int(value: Any, name: str) -> int | None:
    """``None`` or a positive int (see :func:`check_number`)."""
    return None if value is None else check_number(value, name, integer=True)
