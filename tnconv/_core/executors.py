"""The engine under :func:`tnconv.sweep`: executors, chunked tasks, retries of lost chunks.

:func:`resolve_executor` turns an ``executor=`` argument into a :class:`Backend`; :func:`run_tasks` runs
one task per payload on it and retries the ones lost to a dead worker; :func:`map_chunks` is the batch
primitive built on them. :mod:`tnconv.parallel` documents the executors, clusters and fault handling.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import queue
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures as cf
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

__all__ = [
    "CHUNKS_PER_WORKER",
    "DEFAULT_WORKERS",
    "Backend",
    "ProgressBar",
    "check_bool",
    "check_int",
    "check_picklable",
    "chunk_ranges",
    "map_chunks",
    "prepare",
    "resolve_executor",
    "run_tasks",
]

#: Chunks per worker when the worker count is known (a dask Client): enough for load balancing and
#: for retries to lose little, few enough that per-task overhead stays negligible.
CHUNKS_PER_WORKER = 4
#: The worker count assumed for a ``concurrent.futures`` executor, whose size is not public.
DEFAULT_WORKERS = os.cpu_count() or 1


# --------------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------------


class _Done(cf.Future):
    """A future completed on creation: the serial backend runs a task when it is submitted."""

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        super().__init__()
        try:
            self.set_result(fn(*args))
        except Exception as exc:  # handed to the caller through .result(), like a pool's future
            self.set_exception(exc)


def _dask_client_type() -> type | None:
    # A Client can only exist if distributed was imported: no import (and no dependency) otherwise.
    mod = sys.modules.get("distributed")
    return getattr(mod, "Client", None) if mod is not None else None


class Backend:
    """An ``executor=`` argument, resolved: how to submit tasks and collect them as they finish.

    Build it with :func:`resolve_executor`.

    Attributes
    ----------
    kind : {"serial", "futures", "dask"}
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        What the user passed.
    n_workers : int or None
        Parallel slots when publicly known (the threads of a dask cluster), else None.
    """

    def __init__(self, kind: str, executor: Any, n_workers: int | None) -> None:
        self.kind = kind
        self.executor = executor
        self.n_workers = n_workers
        self._private: cf.ProcessPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"Backend(kind={self.kind!r}, executor={type(self.executor).__name__}, n_workers={self.n_workers})"

    # The engine below only uses these four methods.
    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.kind == "serial":
            return _Done(fn, args)
        if self.kind == "dask":
            # pure=False: results are never shared with another call's tasks (fn may be impure).
            return self.executor.submit(fn, *args, pure=False)
        return self.current().submit(fn, *args)

    def current(self) -> Any:
        """The executor that takes new tasks: the user's, or the private pool that replaced it."""
        return self._private if self._private is not None else self.executor

    def completion(self) -> _Completion:
        if self.kind == "dask":
            return _DaskCompletion()
        return _FuturesCompletion()

    def cancel(self, handles: Iterable[Any]) -> None:
        handles = list(handles)
        if not handles:
            return
        if self.kind == "dask":
            self.executor.cancel(handles)
        else:
            for h in handles:
                h.cancel()

    def replace_broken_pool(self) -> None:
        """Swap a broken process pool for a fresh private one (the user's pool is not touched)."""
        old, self._private = self._private, cf.ProcessPoolExecutor(max_workers=DEFAULT_WORKERS)
        if old is not None:
            old.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Shut down the private replacement pool, if one was made."""
        if self._private is not None:
            self._private.shutdown(wait=True, cancel_futures=True)
            self._private = None


class _Completion:
    def add(self, handle: Any) -> None:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError


class _FuturesCompletion(_Completion):
    """``as_completed`` for concurrent futures that accepts new futures while it is iterated."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._outstanding = 0

    def add(self, handle: Any) -> None:
        self._outstanding += 1
        handle.add_done_callback(self._queue.put)

    def __iter__(self) -> Iterator[Any]:
        while self._outstanding:
            handle = self._queue.get()
            self._outstanding -= 1
            yield handle


class _DaskCompletion(_Completion):
    def __init__(self) -> None:
        from distributed import as_completed

        self._ac = as_completed()

    def add(self, handle: Any) -> None:
        self._ac.add(handle)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._ac)


def resolve_executor(executor: Any) -> Backend:
    """Check an ``executor=`` argument and wrap it in a :class:`Backend`.

    Parameters
    ----------
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        ``None`` runs serially in the calling process.

    Returns
    -------
    Backend

    Raises
    ------
    TypeError
        Anything else (naming its type), including an executor class instead of an instance.
    ValueError
        An asynchronous dask Client (use a synchronous one) or a closed one.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from tnconv._core.executors import resolve_executor
    >>> resolve_executor(None)
    Backend(kind='serial', executor=NoneType, n_workers=None)
    >>> with ThreadPoolExecutor(2) as pool:
    ...     resolve_executor(pool).kind
    'futures'
    >>> resolve_executor(4)
    Traceback (most recent call last):
    ...
    TypeError: executor must be None, a concurrent.futures.Executor or a dask.distributed.Client, not int
    """
    if executor is None:
        return Backend("serial", None, None)
    if isinstance(executor, cf.Executor):
        return Backend("futures", executor, None)
    client_type = _dask_client_type()
    if client_type is not None and isinstance(executor, client_type):
        client: Any = executor
        if client.asynchronous:
            raise ValueError("executor: an asynchronous dask Client is not supported; pass a synchronous Client")
        if client.status != "running":
            raise ValueError(f"executor: the dask Client is {client.status!r}, not running")
        n = sum(client.nthreads().values())
        return Backend("dask", client, n if n > 0 else None)
    what = f"the class {executor.__name__}" if isinstance(executor, type) else type(executor).__name__
    raise TypeError(
        f"executor must be None, a concurrent.futures.Executor or a dask.distributed.Client, not {what}"
    )


def _retryable(exc: BaseException) -> bool:
    """Failures of the infrastructure (a dead worker), not of the task: worth running again."""
    if isinstance(exc, BrokenProcessPool):
        return True
    mod = sys.modules.get("distributed")
    if mod is None:
        return False
    from distributed.comm import CommClosedError

    return isinstance(exc, (mod.KilledWorker, CommClosedError))


# --------------------------------------------------------------------------------------------------
# The engine: one task per chunk, results in chunk order, retries of lost chunks
# --------------------------------------------------------------------------------------------------


class ProgressBar:
    """tqdm when installed, else a stderr counter at most every half second; or nothing (``enabled=False``)."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self._bar: Any = None
        self._enabled = enabled and total > 0
        self._total, self._count, self._desc, self._last = total, 0, desc, 0.0
        if not self._enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=total, desc=desc, unit="pt", file=sys.stderr)

    def update(self, n: int) -> None:
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        self._count += n
        now = time.monotonic()
        if now - self._last >= 0.5 or self._count >= self._total:
            self._last = now
            sys.stderr.write(f"\r{self._desc}: {self._count}/{self._total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._enabled and self._count:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run_tasks(
    backend: Backend,
    task: Callable[..., Any],
    payloads: Sequence[tuple],
    retries: int,
    on_result: Callable[[int, Any], None],
    on_failure: Callable[[int, Exception], None],
) -> None:
    """Run ``task(*payloads[i])`` for every i; ``on_result`` once per i, or ``on_failure`` once.

    A retryable failure (dead worker) resubmits payload i, at most ``retries`` times. Serially, tasks
    run one at a time as the loop asks for them, so progress and errors come in order.
    """
    attempts = [0] * len(payloads)
    done = [False] * len(payloads)
    index: dict[Any, int] = {}
    origin: dict[Any, Any] = {}  # the pool a handle went to: one break replaces that pool once
    completion = backend.completion()
    serial = backend.kind == "serial"
    queued = iter(range(len(payloads)))

    def submit(i: int) -> None:
        pool = backend.current()
        handle = backend.submit(task, *payloads[i])
        index[handle], origin[handle] = i, pool
        completion.add(handle)

    try:
        for i in itertools.islice(queued, 1 if serial else len(payloads)):
            submit(i)
        for handle in completion:
            i, pool = index.pop(handle), origin.pop(handle)
            try:
                value = handle.result()
            except Exception as exc:
                if not (_retryable(exc) and attempts[i] < retries):
                    done[i] = True
                    on_failure(i, exc)
                else:
                    attempts[i] += 1
                    if isinstance(exc, BrokenProcessPool) and pool is backend.current():
                        backend.replace_broken_pool()
                    submit(i)
            else:
                if not done[i]:  # exactly once, whatever the executor does
                    done[i] = True
                    on_result(i, value)
            if serial:
                for j in itertools.islice(queued, 1):
                    submit(j)
    finally:
        backend.cancel(index)
        backend.close()


def chunk_ranges(n: int, chunk_size: int | None, backend: Backend) -> list[range]:
    """``range(n)`` cut into chunks of ``chunk_size`` (default: everything serially, else
    :data:`CHUNKS_PER_WORKER` chunks per worker)."""
    if n == 0:
        return []
    if chunk_size is None:
        if backend.kind == "serial":
            chunk_size = n
        else:
            workers = backend.n_workers or DEFAULT_WORKERS
            chunk_size = math.ceil(n / (CHUNKS_PER_WORKER * workers))
    return [range(lo, min(lo + chunk_size, n)) for lo in range(0, n, chunk_size)]


def check_int(name: str, value: Any, low: int, allow_none: bool = False) -> None:
    """Refuse a non-int (bools included) or one below ``low``, naming ``name`` and the value."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def check_bool(name: str, value: Any) -> None:
    """Refuse anything but ``True`` and ``False``, naming ``name`` and the value."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__} ({value!r})")


def check_picklable(fn: Any, backend: Backend) -> None:
    """Refuse, with one clear TypeError, a ``fn`` that a plain process pool could not send."""
    # Only a plain process pool pickles with the standard pickle; dask uses cloudpickle. Checking here
    # turns the pool's opaque per-task failure into one clear error.
    if backend.kind == "futures" and isinstance(backend.executor, cf.ProcessPoolExecutor):
        try:
            pickle.dumps(fn)
        except Exception as exc:
            raise TypeError(
                f"fn {fn!r} cannot be pickled for a ProcessPoolExecutor ({type(exc).__name__}: {exc}); "
                "define it at the top level of an importable module"
            ) from None


def _apply_chunk(fn: Callable[[list], Any], items: list) -> list:
    out = list(fn(items))
    if len(out) != len(items):
        raise ValueError(f"map_chunks: fn returned {len(out)} results for a chunk of {len(items)} items")
    return out


def prepare(fn: Any, executor: Any, chunk_size: Any, retries: Any, progress: Any) -> Backend:
    """Check the options every chunked call shares and resolve its executor (a :class:`Backend` passes).

    Raises
    ------
    TypeError
        A non-callable ``fn``, a bad executor or option type, an unpicklable ``fn`` for a process pool.
    ValueError
        ``chunk_size < 1`` or ``retries < 0``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    backend = executor if isinstance(executor, Backend) else resolve_executor(executor)
    check_bool("progress", progress)
    check_int("chunk_size", chunk_size, 1, allow_none=True)
    check_int("retries", retries, 0)
    check_picklable(fn, backend)
    return backend

def map_chunks(
    fn: Callable[[list], Iterable[Any]],
    items: Iterable[Any],
    executor: Any = None,
    chunk_size: int | None = None,
    *,
    retries: int = 3,
    progress: bool = False,
) -> list:
    """``fn`` applied to consecutive chunks of ``items``, one task per chunk, results concatenated.

    The batch primitive for vectorized work (thousands of min-cut queries per task): ``fn`` takes a
    list of items and returns one result per item.

    Parameters
    ----------
    fn : callable
        ``fn(list_of_items) -> iterable`` of the same length. Must be picklable for process pools and
        importable on dask workers.
    items : iterable
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        See :func:`resolve_executor`; a :class:`Backend` is accepted too.
    chunk_size : int, optional
        Items per task. Default: everything in one chunk serially; for a dask Client about
        ``CHUNKS_PER_WORKER`` (4) chunks per worker thread; for other executors, whose size is not
        public, 4 chunks per local CPU (``os.cpu_count()``). Pass it for remote executors.
    retries : int
        Resubmissions of a chunk lost to a dead worker (see Faults in :mod:`tnconv.parallel`).
    progress : bool
        Show a progress bar (tqdm if installed, else a stderr counter).

    Returns
    -------
    list
        The results in the order of ``items``.

    Raises
    ------
    Exception
        The first exception raised by ``fn`` (its own type), after cancelling the other chunks.
    ValueError
        ``fn`` returned the wrong number of results for a chunk; bad ``chunk_size``/``retries``.
    TypeError
        A bad executor or option type, an unpicklable ``fn`` for a process pool.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from tnconv._core.executors import map_chunks
    >>> def squares(chunk):
    ...     return [x * x for x in chunk]
    >>> map_chunks(squares, range(7), chunk_size=3)
    [0, 1, 4, 9, 16, 25, 36]
    >>> with ThreadPoolExecutor(2) as pool:
    ...     map_chunks(squares, range(7), pool, chunk_size=2)
    [0, 1, 4, 9, 16, 25, 36]
    """
    backend = prepare(fn, executor, chunk_size, retries, progress)
    items = list(items)
    chunks = chunk_ranges(len(items), chunk_size, backend)
    parts: list[list | None] = [None] * len(chunks)
    bar = ProgressBar(len(items), progress, "map_chunks")

    def on_result(i: int, value: list) -> None:
        parts[i] = value
        bar.update(len(value))

    def on_failure(i: int, exc: Exception) -> None:
        raise exc

    try:
        payloads = [(fn, items[c.start : c.stop]) for c in chunks]
        run_tasks(backend, _apply_chunk, payloads, retries, on_result, on_failure)
    finally:
        bar.close()
    return [x for part in parts for x in part]  # type: ignore[union-attr]
