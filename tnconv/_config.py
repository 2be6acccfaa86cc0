"""Global options and the errors shared across modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["TensorTooLargeError", "format_bytes", "option_context", "options", "set_options"]

#: ``max_dense_bytes``: the largest dense tensor (coefficient/grid tensor, matricization) that
#: tnconv will materialize.
options: dict[str, Any] = {"max_dense_bytes": 2**31}


def set_options(**kwargs: Any) -> None:
    """Set global options, e.g. ``set_options(max_dense_bytes=2**33)``.

    Parameters
    ----------
    **kwargs
        ``max_dense_bytes``: the largest dense tensor (bytes) tnconv will materialize.

    Raises
    ------
    KeyError
        For an unknown option name.

    Examples
    --------
    >>> import tnconv as tc
    >>> with tc.option_context(max_dense_bytes=1024):
    ...     tc.options["max_dense_bytes"]
    1024
    """
    for key, value in kwargs.items():
        if key not in options:
            raise KeyError(f"unknown tnconv option {key!r}; known: {sorted(options)}")
        options[key] = value


@contextmanager
def option_context(**kwargs: Any) -> Iterator[None]:
    """Temporarily set options inside a ``with`` block."""
    old = {k: options[k] for k in kwargs}
    set_options(**kwargs)
    try:
        yield
    finally:
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
    """

    def __init__(self, what: str, n_bytes: float, budget: float | None = None, hint: str = ""):
        budget = options["max_dense_bytes"] if budget is None else budget
        msg = (
            f"{what} would need {format_bytes(n_bytes)} ({n_bytes:.4g} bytes), over the budget of "
            f"{format_bytes(budget)}; raise it with tnconv.set_options(max_dense_bytes=...) or pass "
            f"max_bytes=..."
        )
        if hint:
            msg += f". {hint}"
        super().__init__(msg)
        self.n_bytes = n_bytes
        self.budget = budget


def check_budget(what: str, n_bytes: float, max_bytes: float | None = None, hint: str = "") -> None:
    budget = options["max_dense_bytes"] if max_bytes is None else max_bytes
    if n_bytes > budget:
        raise TensorTooLargeError(what, n_bytes, budget, hint)
