"""Functions that test_parallel.py sends to process pools and dask workers.

They live in this small module (importable as ``parallel_fns`` because pytest puts tests/ on sys.path,
and spawned workers inherit sys.path) so that workers do not import pytest and the test module.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path


def poly(point: tuple[int, float]) -> float:
    """A float that depends on every bit of the point, so misplaced or rounded results show."""
    k, x = point
    return math.sin(k * 0.7 + x) * 1e3 + k**3 - x / 7


def fails_on(point: tuple[int, float], bad: frozenset[int] = frozenset({3, 10, 11, 40})) -> float:
    k, _ = point
    if k in bad:
        raise ValueError(f"point {k} is bad")
    if k == 13:
        raise ZeroDivisionError("division by zero at 13")
    return poly(point)


def seeded(point: tuple[int, float], rng) -> tuple[float, int]:
    return (point[1] + float(rng.random()), int(rng.integers(0, 2**62)))


def getpid(point: object) -> int:
    return os.getpid()


def squares(chunk: list[int]) -> list[int]:
    return [x * x for x in chunk]


def bad_length(chunk: list[int]) -> list[int]:
    return chunk[1:]


def raise_on_five(chunk: list[int]) -> list[int]:
    if 5 in chunk:
        raise KeyError(5)
    return chunk


def die_once(point: tuple[int, float], marker: str, victim: int, delay: float = 0.0) -> float:
    """Kill this worker process on ``victim``, the first time only (an O_EXCL marker file says so)."""
    time.sleep(delay)
    if point[0] == victim:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)
    return poly(point)


def die_always(point: tuple[int, float], victim: int) -> float:
    if point[0] == victim:
        os._exit(1)
    return poly(point)


def die_once_chunk(chunk: list[int], marker: str, victim: int) -> list[int]:
    if victim in chunk and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return squares(chunk)
