"""A wall-clock cap for a block of Python code: path searches that must not run past ``max_time``.

Path optimizers check their time limit only between trials, and a single trial on a large network
can take many seconds (cotengra reported an 18 s search under ``max_time=5``). :func:`time_cap` makes
the limit hard: in the main thread of a POSIX process it arms ``SIGALRM`` and raises
:class:`TimeCapExceeded` inside the block when the time is up (Python code is interrupted between
bytecodes; a C call that never returns to Python is interrupted when it does). Elsewhere (another
thread, Windows) nothing can interrupt the block, and the caller checks the elapsed time afterwards
(:attr:`Cap.exceeded`).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Cap", "TimeCapExceeded", "time_cap"]


class TimeCapExceeded(BaseException):
    """Raised inside a :func:`time_cap` block when its time is up.

    A ``BaseException`` (like ``KeyboardInterrupt``), so that the ``except Exception`` of a searcher's
    own error handling (cotengra's ``on_trial_error``) does not swallow it.
    """


class Cap:
    """What :func:`time_cap` yields: the limit, whether it is enforced, and the elapsed time."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = None if seconds is None or not math.isfinite(seconds) else float(seconds)
        self.enforced = False
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def exceeded(self) -> bool:
        """Whether the block ran past the limit (the check for an unenforced cap)."""
        return self.seconds is not None and self.elapsed > self.seconds


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_cap(seconds: float | None) -> Iterator[Cap]:
    """Run the block under a wall-clock limit of ``seconds`` (``None`` or ``inf``: no limit).

    Raises
    ------
    TimeCapExceeded
        Inside the block, when the limit is enforced (main thread, POSIX) and the time is up.
    ValueError
        For a negative or NaN limit.

    Examples
    --------
    >>> import time
    >>> try:
    ...     with time_cap(0.05) as cap:
    ...         while True:
    ...             time.sleep(0.01)
    ... except TimeCapExceeded:
    ...     print("stopped", cap.enforced)
    stopped True
    """
    if seconds is not None and not (seconds >= 0):  # NaN fails too
        raise ValueError(f"the time cap must be a non-negative number of seconds or None, got {seconds!r}")
    cap = Cap(seconds)
    if cap.seconds is None or not _can_alarm():
        yield cap
        return
    armed = [True]

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if armed[0]:
            raise TimeCapExceeded(f"over the time cap of {cap.seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, max(cap.seconds, 1e-6))
    cap.enforced = True
    try:
        yield cap
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # an enclosing timer (ours or someone else's) keeps its remaining time
            signal.setitimer(signal.ITIMER_REAL, max(outer - cap.elapsed, 1e-6))
