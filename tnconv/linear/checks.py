"""Argument checks and the divergence error shared by the deep-linear modules (any array namespace).

The namespace of a computation is the one of its array inputs (:func:`tnconv._core.arrays.namespace`);
plain Python numbers and lists are read as numpy. Checks that need a value (a finite learning rate, the
labels' range) read it from concrete arrays only, never from a JAX tracer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from array_api_compat import device, is_array_api_obj
from array_api_compat import numpy as compat_numpy

from .._core.arrays import namespace

__all__ = [
    "Array",
    "DivergenceError",
    "LossFn",
    "as_float_array",
    "check_depth",
    "check_lr",
    "check_n_iter",
    "check_rtol",
    "default_rtol",
    "namespace_of",
]

Array = Any
LossFn = Callable[[Array], "tuple[Array, Array]"]


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights.

    Attributes
    ----------
    step : int
        The 0-based step at which the non-finite value appeared.
    lr : float
        The learning rate in use.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss, DivergenceError
    >>> net = DeepLinearNetwork([np.ones((1, 2))])
    >>> try:
    ...     net.fit(SquaredLoss(np.eye(2) * 100, np.array([1.0, 1.0])), lr=10.0, n_iter=50)
    ... except DivergenceError as err:
    ...     print(err.lr)
    10.0
    """

    def __init__(self, step: int, value: Any, lr: Any, what: str = "loss"):
        self.step = int(step)
        self.lr = lr
        self.value = value
        try:
            hint = f"try lr={float(np.max(np.asarray(lr))) / 10:.3g}"
        except (TypeError, ValueError, RuntimeError):  # exotic or device-resident lr objects
            hint = "try a smaller lr"
        super().__init__(
            f"training diverged at step {self.step}: the {what} is {value} (lr={lr}); "
            f"lower the learning rate ({hint})"
        )


def namespace_of(*arrays: Any) -> Any:
    """The namespace of the array inputs (numpy itself when they are all numpy or plain Python values).

    Raises
    ------
    TypeError
        Arrays from different namespaces.

    Examples
    --------
    >>> namespace_of([1.0, 2.0]) is namespace_of(np.ones(2))
    True
    """
    found = [a for a in arrays if is_array_api_obj(a)]
    return namespace(*found) if found else compat_numpy


def as_float_array(xp: Any, a: Any, name: str) -> Array:
    """``a`` as a real floating array of ``xp`` (integers become float64).

    Raises
    ------
    TypeError
        Strings, ``None``, or arrays of non-real numbers, naming ``name`` and the dtype.
    """
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__} {a!r}")
    try:
        arr = xp.asarray(a)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__} ({exc})") from None
    if xp.isdtype(arr.dtype, "real floating"):
        return arr
    if xp.isdtype(arr.dtype, "integral"):
        return xp.astype(arr, xp.float64)
    raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def check_depth(depth: Any) -> int:
    """``depth`` as an int ``>= 1`` (bools refused)."""
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"depth must be an int >= 1, got {depth!r}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return int(depth)


def check_n_iter(n_iter: Any) -> int:
    """``n_iter`` as an int ``>= 0`` (bools refused)."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or n_iter < 0:
        raise ValueError(f"n_iter must be an int >= 0, got {n_iter!r}")
    return int(n_iter)


def _is_tracer(a: Any) -> bool:
    # A JAX tracer has no concrete value to check; detected by duck typing (no jax import here).
    return type(a).__module__.startswith("jax") and "Tracer" in type(a).__name__


def check_lr(xp: Any, lr: Any, batch_shape: tuple[int, ...], like: Any = None) -> Array:
    """A positive finite learning rate, scalar or broadcastable over the stack; shape ``(..., 1, 1)``.

    A host ``lr`` is placed on the device of ``like`` (the weights it will scale).

    An array ``lr`` stays in its namespace (it must be ``xp``'s); its values are checked when concrete.
    """
    if isinstance(lr, (bool, str, bytes)) or lr is None:
        raise TypeError(f"lr must be a positive number (or an array of them), got {lr!r}")
    if is_array_api_obj(lr) and not isinstance(lr, (np.ndarray, np.generic)):
        arr = lr
        if not _is_tracer(arr) and not bool(xp.all(xp.isfinite(arr) & (arr > 0))):
            raise ValueError(f"lr (the step size eta) must be positive and finite, got {lr!r}")
        shape = tuple(arr.shape)
    else:
        try:
            host = np.asarray(lr, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"lr must be a positive number (or an array of them), got {lr!r}") from None
        if not np.all(np.isfinite(host)) or np.any(host <= 0):
            raise ValueError(f"lr (the step size eta) must be positive and finite, got {lr!r}")
        shape = host.shape
        arr = xp.asarray(host) if like is None else xp.asarray(host, device=device(like))
    try:
        np.broadcast_shapes(shape, batch_shape)
    except ValueError:
        raise ValueError(f"lr of shape {shape} does not broadcast over the stack shape {batch_shape}") from None
    return arr[..., None, None]


def default_rtol(xp: Any, dtype: Any, rows: int, cols: int, on: str) -> float:
    """Relative eigenvalue threshold below which ``W W^T`` or ``W^T W`` counts as singular.

    Rounding noise in the eigenvalues of ``W W^T`` formed explicitly is ``~ n eps lambda_max``; in the
    singular values of ``W`` itself it is ``~ n eps s_max``, i.e. ``(n eps)^2`` on the eigenvalue scale.
    """
    eps = float(xp.finfo(dtype).eps)
    n = max(rows, cols)
    return (100 * n * eps) if on == "eigh" else (10 * n * eps) ** 2


def check_rtol(rtol: Any) -> float | None:
    """``None`` or a finite float ``>= 0``."""
    if rtol is None:
        return None
    value = float(rtol)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"rtol must be finite and >= 0, got {rtol!r}")
    return value
