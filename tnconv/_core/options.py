"""Global options and the errors shared across modules."""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["TensorTooLargeError", "check_budget", "format_bytes", "option_context", "options", "set_options"]

#: ``max_dense_bytes``: the largest dense tensor (coefficient/grid tensor, matricization) that
#: tnconv will materialize.
options: dict[str, Any] = {"max_dense_bytes": 2**31}


def _positive_bytes(value: Any, name: str) -> float:
    """A byte count: a positive finite real number (bools and strings refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or isinstance(value, np.bool_):
        raise ValueError(f"{name} must be a positive finite number of bytes, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number of bytes, got {value!r}")
    return value if isinstance(value, int) else v


#: One validator per option: it returns the value to store or raises ValueError naming the value.
_VALIDATORS = {"max_dense_bytes": _positive_bytes}
_LOCK = threading.Lock()


def _validated(kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = [k for k in kwargs if k not in _VALIDATORS]
    if unknown:
        raise ValueError(f"unknown tnconv option {unknown[0]!r}; known: {sorted(_VALIDATORS)}")
    return {k: _VALIDATORS[k](v, k) for k, v in kwargs.items()}


def set_options(**kwargs: Any) -> None:
    """Set global options, e.g. ``set_options(max_dense_bytes=2**33)``.

    All values are checked before any is set.

    Parameters
    ----------
    **kwargs
        ``max_dense_bytes``: the largest dense tensor (bytes) tnconv will materialize; a positive finite
        number.

    Raises
    ------
    ValueError
        For an unknown option name or an invalid value (NaN, infinite, non-positive, not a number).

    Examples
    --------
    >>> import tnconv as tc
    >>> with tc.option_context(max_dense_bytes=1024):
    ...     tc.options["max_dense_bytes"]
    1024
    >>> tc.set_options(max_dense_bytes="abc")
    Traceback (most recent call last):
    ...
    ValueError: max_dense_bytes must be a positive finite number of bytes, got 'abc'
    """
    values = _validated(kwargs)
    with _LOCK:
        options.update(values)


@contextmanager
def option_context(**kwargs: Any) -> Iterator[None]:
    """Temporarily set options inside a ``with`` block (validated like :func:`set_options`).

    Parameters
    ----------
    **kwargs
        Option names and values, as :func:`set_options` takes them; the old values come back on exit,
        also when the block raises.

    Raises
    ------
    ValueError, TypeError
        An unknown option or an invalid value (naming it), before anything changes.

    Examples
    --------
    >>> import tnconv as tc
    >>> with tc.option_context(max_dense_bytes=1024):
    ...     tc.deep(16, 2, 2, seed=0).coefficient_tensor()
    Traceback (most recent call last):
        ...
    tnconv._core.options.TensorTooLargeError: ... over the budget of 1 KiB; ...
    >>> tc.options["max_dense_bytes"] > 1024
    True
    """
    values = _validated(kwargs)
    with _LOCK:
        old = {k: options[k] for k in values}
        options.update(values)
    try:
        yield
    finally:
        with _LOCK:
            options.update(old)


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


class TensorTooLargeError(MemoryError):
    """Raised before allocating a dense tensor larger than the byte budget.

    The message states the size that would be needed and the budget.

    Parameters
    ----------
    what : str
        What would be allocated (the start of the message).
    n_bytes : float
        The bytes it would need.
    budget : float, optional
        The budget (default ``tnconv.options["max_dense_bytes"]``).
    hint : str
        An extra clause for the message.

    Attributes
    ----------
    n_bytes, budget : float

    Examples
    --------
    >>> import tnconv as tc
    >>> try:
    ...     tc.deep(16, 2, 2, seed=0).coefficient_tensor(max_bytes=1024)
    ... except tc.TensorTooLargeError as err:
    ...     print(err.n_bytes > err.budget, isinstance(err, MemoryError))
    True True
    """

    def __init__(self, what: str, n_bytes: float, budget: float | None = None, hint: str = ""):
        budget = options["max_dense_bytes"] if budget is None else budget
        msg = (
            f"{what} would need {format_bytes(n_bytes)} ({n_bytes:.4g} bytes), over the budget of "
            f"{format_bytes(budget)}; raise it with tnconv.set_options(max_dense_bytes=...) or pass "
            f"max_bytes=..."
        )
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)
        self.n_bytes = n_bytes
        self.budget = budget


def check_budget(what: str, n_bytes: float, max_bytes: float | None = None, hint: str = "") -> None:
    """Raise :class:`TensorTooLargeError` if ``n_bytes`` exceeds the budget.

    Parameters
    ----------
    what : str
        What would be allocated (for the message).
    n_bytes : float
        Its planned size; NaN counts as over any budget.
    max_bytes : float, optional
        The budget; defaults to ``options["max_dense_bytes"]``. A positive finite number.
    hint : str
        Appended to the message.

    Raises
    ------
    ValueError
        If ``max_bytes`` is NaN, infinite, non-positive, a bool or not a number.
    TensorTooLargeError
        If ``n_bytes`` is over the budget.

    Examples
    --------
    >>> check_budget("a table", 100.0, max_bytes=1000)
    >>> check_budget("a table", 100.0, max_bytes=float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: max_bytes must be a positive finite number of bytes, got nan
    """
    budget = options["max_dense_bytes"] if max_bytes is None else _positive_bytes(max_bytes, "max_bytes")
    if not n_bytes <= budget:  # NaN sizes are refused too
        raise TensorTooLargeError(what, n_bytes, budget, hint)
