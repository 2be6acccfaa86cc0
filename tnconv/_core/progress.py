"""A dependency-free progress bar on stderr, for long loops in any layer (benchmarks, experiments, CLI)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["progress"]


def progress(items: Iterable[T], total: int | None = None, desc: str = "", stream: Any = None) -> Iterator[T]:
    """Yield ``items``, drawing a progress bar on ``stream`` (stderr) when it is a terminal.

    Parameters
    ----------
    items : iterable
        What to iterate; materialized as a list when ``total`` is not given (to know its length).
    total : int, optional
        The number of items, when ``items`` has no cheap length.
    desc : str
        Label in front of the bar.
    stream : file-like, optional
        Default ``sys.stderr``. Nothing is written unless ``stream.isatty()``.

    Yields
    ------
    The items, unchanged.

    Examples
    --------
    >>> import io
    >>> list(progress(range(3), stream=io.StringIO()))  # not a terminal: silent
    [0, 1, 2]
    """
    stream = sys.stderr if stream is None else stream
    items = list(items) if total is None else items
    total = len(items) if total is None else total  # type: ignore[arg-type]
    live = hasattr(stream, "isatty") and stream.isatty()
    start = time.perf_counter()
    for k, item in enumerate(items):
        if live:
            done = int(30 * k / max(total, 1))
            stream.write(f"\r{desc} [{'#' * done}{'.' * (30 - done)}] {k}/{total} {time.perf_counter() - start:.1f}s")
            stream.flush()
        yield item
    if live:
        stream.write(f"\r{desc} [{'#' * 30}] {total}/{total} {time.perf_counter() - start:.1f}s\n")
        stream.flush()
