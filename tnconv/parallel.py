"""Run many independent evaluations serially, on local pools, or on a Dask cluster.

:func:`sweep` evaluates a function over a grid of points and returns the results in grid order, with
per-point errors, per-point seeds and a progress bar. :func:`map_chunks` is the batch primitive under
it (one task per chunk of items) that batch APIs such as ``min_cuts(..., executor=...)`` use, and
:func:`resolve_executor` turns an ``executor=`` argument into a :class:`Backend` (checking its type
early).

Executors
---------
``executor=`` accepts

* ``None``: serial, in the calling process (the default);
* any :class:`concurrent.futures.Executor`: :class:`~concurrent.futures.ThreadPoolExecutor`,
  :class:`~concurrent.futures.ProcessPoolExecutor` (any start method, ``spawn`` included), dask's
  ``client.get_executor()``, loky, mpi4py's ``MPIPoolExecutor``...;
* a ``dask.distributed.Client``: tasks go through ``client.submit`` and come back through
  ``distributed.as_completed`` (raw dask futures do not work with ``concurrent.futures.as_completed``).

Nothing private of an executor is read (no ``_max_workers``): the number of workers is known only for
a ``Client`` (``sum(client.nthreads().values())``), which is what sets the default chunking.

Pointing it at a real cluster
-----------------------------
The same call runs on one laptop or on hundreds of nodes; only the ``Client`` changes::

    from dask.distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=2, processes=True))      # this machine

    from dask_jobqueue import SLURMCluster                           # Slurm (PBSCluster for PBS)
    cluster = SLURMCluster(cores=32, memory="64GB", walltime="02:00:00", queue="normal")
    cluster.scale(jobs=10)                                           # 10 batch jobs of 32 cores
    client = Client(cluster)

    from dask_kubernetes.operator import KubeCluster                 # Kubernetes
    client = Client(KubeCluster(name="tnconv", n_workers=20))

    client = Client("tcp://scheduler:8786")                          # a running scheduler

    results = tc.sweep(fn, grid, executor=client)

``fn`` must be importable on the workers (install tnconv and your module there: same environment, or
``client.upload_file("mymodule.py")``); dask pickles functions defined in ``__main__`` or a notebook by
value with cloudpickle. ``fn`` and every point are serialized once per chunk, so send large data with
``client.scatter`` or load it inside ``fn`` (cached per worker), not in ``fn``'s closure.

Faults
------
Results are exactly once, execution is at least once: a point whose worker died may run again.

* **Dask**: the scheduler reruns the tasks of a dead worker on the others (up to
  ``distributed.scheduler.allowed-failures`` deaths per task, then ``KilledWorker``). A chunk that still
  fails with ``KilledWorker`` or a closed connection is resubmitted up to ``retries`` times.
* **Process pools**: a dead worker breaks the whole pool (``BrokenProcessPool``), and a broken pool
  cannot take work again. Every unfinished chunk is then resubmitted, up to ``retries`` times, to a
  fresh private ``ProcessPoolExecutor`` (``os.cpu_count()`` workers at most, Python's default start
  method), shut down before the call returns. A break is charged to every chunk that was unfinished,
  since the pool does not say whose worker died.
* Chunks are never rerun in the calling process, so a point that kills its worker cannot kill the
  caller. Once a chunk has used its retries, :func:`sweep` reports each of its points as failed (with
  the infrastructure error) and keeps the rest; :func:`map_chunks` raises it.

References
----------
.. [1] PEP 3148, futures: execute computations asynchronously.
.. [2] Dask.distributed documentation, https://distributed.dask.org (Client, as_completed, LocalCluster).
.. [3] NumPy, "Parallel random number generation", ``SeedSequence.spawn``.
"""

from __future__ import annotations

import itertools
import math
import os
import pickle
import queue
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures as cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Backend",
    "PointError",
    "SweepError",
    "SweepResult",
    "map_chunks",
    "resolve_executor",
    "sweep",
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
    >>> from tnconv.parallel import resolve_executor
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


class _Progress:
    """tqdm when installed, else a stderr counter at most every half second; or nothing."""

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


def _run(
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


def _chunks(n: int, chunk_size: int | None, backend: Backend) -> list[range]:
    if n == 0:
        return []
    if chunk_size is None:
        if backend.kind == "serial":
            chunk_size = n
        else:
            workers = backend.n_workers or DEFAULT_WORKERS
            chunk_size = math.ceil(n / (CHUNKS_PER_WORKER * workers))
    return [range(lo, min(lo + chunk_size, n)) for lo in range(0, n, chunk_size)]


def _check_int(name: str, value: Any, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(value).__name__} ({value!r})")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {type(value).__name__} ({value!r})")


def _check_picklable(fn: Any, backend: Backend) -> None:
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
        Resubmissions of a chunk lost to a dead worker (see the module's Faults section).
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
    >>> from tnconv.parallel import map_chunks
    >>> def squares(chunk):
    ...     return [x * x for x in chunk]
    >>> map_chunks(squares, range(7), chunk_size=3)
    [0, 1, 4, 9, 16, 25, 36]
    >>> with ThreadPoolExecutor(2) as pool:
    ...     map_chunks(squares, range(7), pool, chunk_size=2)
    [0, 1, 4, 9, 16, 25, 36]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    backend = executor if isinstance(executor, Backend) else resolve_executor(executor)
    _check_int("chunk_size", chunk_size, 1, allow_none=True)
    _check_int("retries", retries, 0)
    _check_bool("progress", progress)
    items = list(items)
    _check_picklable(fn, backend)
    chunks = _chunks(len(items), chunk_size, backend)
    parts: list[list | None] = [None] * len(chunks)
    bar = _Progress(len(items), progress, "map_chunks")

    def on_result(i: int, value: list) -> None:
        parts[i] = value
        bar.update(len(value))

    def on_failure(i: int, exc: Exception) -> None:
        raise exc

    try:
        _run(backend, _apply_chunk, [(fn, items[c.start : c.stop]) for c in chunks], retries, on_result, on_failure)
    finally:
        bar.close()
    return [x for part in parts for x in part]  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointError:
    """One failed grid point of a :func:`sweep`."""

    index: int
    """Position of the point in the grid."""
    point: Any
    """The point itself."""
    type: str
    """The exception's class name (e.g. ``"ValueError"``, ``"KilledWorker"``)."""
    message: str
    """``str()`` of the exception."""
    traceback: str
    """The formatted traceback, as seen on the worker."""

    def __str__(self) -> str:
        return f"point {self.index} ({_short(self.point)}): {self.type}: {self.message}"


def _short(obj: Any, width: int = 60) -> str:
    text = repr(obj)
    return text if len(text) <= width else text[: width - 3] + "..."


class SweepResult(list):
    """The results of a :func:`sweep` in grid order: a list, plus the failures.

    A failed point's slot holds ``None``; its :class:`PointError` is in :attr:`errors`.

    Attributes
    ----------
    errors : tuple of PointError
        The failed points, in grid order.
    points : tuple
        The grid.
    """

    errors: tuple[PointError, ...]
    points: tuple

    def __init__(self, values: Iterable[Any] = (), errors: Iterable[PointError] = (), points: Iterable = ()):
        super().__init__(values)
        self.errors = tuple(errors)
        self.points = tuple(points)

    @property
    def ok(self) -> bool:
        """True when no point failed."""
        return not self.errors

    @property
    def failed(self) -> list[int]:
        """Indices of the failed points."""
        return [e.index for e in self.errors]

    def __repr__(self) -> str:
        return f"SweepResult({list.__repr__(self)}, errors={len(self.errors)})"

    def __reduce__(self) -> Any:
        return (SweepResult, (list(self), self.errors, self.points))


class SweepError(RuntimeError):
    """Raised by :func:`sweep` (``raise_errors=True``) when some points failed.

    Attributes
    ----------
    result : SweepResult
        Every point's result; failed slots hold ``None``.
    errors : tuple of PointError
    """

    def __init__(self, result: SweepResult) -> None:
        self.result = result
        self.errors = result.errors
        shown = "; ".join(str(e) for e in self.errors[:3])
        more = f"; and {len(self.errors) - 3} more" if len(self.errors) > 3 else ""
        super().__init__(f"{len(self.errors)} of {len(result)} grid points failed: {shown}{more}")

    def __reduce__(self) -> Any:
        return (SweepError, (self.result,))


def _seed_parts(seed: Any) -> tuple[Any, tuple[int, ...], int] | None:
    if seed is None:
        return None
    if isinstance(seed, np.random.SeedSequence):
        return (seed.entropy, tuple(seed.spawn_key), seed.pool_size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be None, a non-negative int or a numpy.random.SeedSequence, not {type(seed).__name__} "
            f"({_short(seed)}); a Generator is stateful and would make points depend on their order"
        )
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return (int(seed), (), np.random.SeedSequence().pool_size)


def point_rng(seed: Any, index: int) -> np.random.Generator:
    """The Generator that :func:`sweep` passes to ``fn`` for grid point ``index``.

    It is ``numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(n)[index])`` for any grid
    size ``n > index``: a function of the sweep's seed and the point's position only.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
    index : int

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.parallel import point_rng
    >>> child = np.random.SeedSequence(7).spawn(3)[2]
    >>> point_rng(7, 2).random() == np.random.default_rng(child).random()
    True
    """
    parts = _seed_parts(seed)
    if parts is None:
        raise TypeError("seed must not be None")
    _check_int("index", index, 0)
    return _rng(parts, int(index))


def _rng(parts: tuple[Any, tuple[int, ...], int], index: int) -> np.random.Generator:
    entropy, key, pool = parts
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key + (index,), pool_size=pool))


def _sweep_chunk(fn: Callable[..., Any], start: int, points: list, seed: Any) -> list[tuple[bool, Any]]:
    """Worker side: each point's result, or its error as (type, message, traceback) strings."""
    out: list[tuple[bool, Any]] = []
    for offset, point in enumerate(points):
        try:
            if seed is None:
                value = fn(point)
            else:
                value = fn(point, rng=_rng(seed, start + offset))
        except Exception as exc:
            out.append((False, (type(exc).__name__, str(exc), traceback.format_exc())))
        else:
            out.append((True, value))
    return out


def _grid_points(grid: Any) -> list:
    if isinstance(grid, Mapping):
        names = list(grid)
        axes = []
        for name in names:
            values = grid[name]
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(f"grid[{name!r}] must be an iterable of values, not {type(values).__name__}")
            axes.append(list(values))
        return [dict(zip(names, combo)) for combo in itertools.product(*axes)]
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Iterable):
        raise TypeError(f"grid must be an iterable of points or a mapping name -> values, not {type(grid).__name__}")
    return list(grid)


def sweep(
    fn: Callable[..., Any],
    grid: Iterable[Any] | Mapping[str, Iterable[Any]],
    executor: Any = None,
    progress: bool = True,
    seed: int | np.random.SeedSequence | None = None,
    chunk_size: int | None = None,
    retries: int = 3,
    raise_errors: bool = True,
) -> SweepResult:
    """``fn(point)`` for every point of ``grid``, in grid order, serially or on any executor.

    Parameters
    ----------
    fn : callable
        ``fn(point)``, or ``fn(point, rng=generator)`` when ``seed`` is given. Must be picklable for
        process pools (top level of an importable module) and importable on dask workers.
    grid : iterable or mapping
        The points (materialized once). A mapping ``{name: values}`` means the Cartesian product, in
        row-major order (the last name varies fastest), each point a dict ``{name: value}``.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        None runs serially here. See the module docstring for clusters.
    progress : bool
        A progress bar on stderr: tqdm if installed (``pip install tnconv[dask]`` or ``tqdm``), else a
        plain counter.
    seed : int or numpy.random.SeedSequence, optional
        When given, ``fn`` is called as ``fn(point, rng=rng)`` with
        ``rng = numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(len(grid))[index])``
        (see :func:`point_rng`): it depends on the seed and the point's index only, never on the
        worker or the chunking, so every executor gives the serial results bit for bit. When None,
        ``fn(point)`` is called and points must carry their own seeds if they need any.
    chunk_size : int, optional
        Points per task. Default: about 4 tasks per worker (see :func:`map_chunks`); serially, 1% of
        the grid, so that the progress bar moves.
    retries : int
        Resubmissions of a chunk lost to a dead worker (see Faults in the module docstring). An
        exception raised by ``fn`` is not retried: it is that point's result.
    raise_errors : bool
        If True (default), raise :class:`SweepError` at the end when any point failed; it carries the
        full :class:`SweepResult` (``.result``) and the errors. If False, return the SweepResult with
        failed slots ``None`` and the failures in ``.errors``. Either way every other point is kept.

    Returns
    -------
    SweepResult
        A list of the results in grid order, with ``.errors`` (tuple of :class:`PointError`: index,
        point, type, message, traceback), ``.failed`` and ``.ok``.

    Raises
    ------
    SweepError
        Some points failed and ``raise_errors`` is True.
    TypeError
        A bad executor (naming its type), a non-callable ``fn``, bad option types, an unpicklable
        ``fn`` for a ProcessPoolExecutor.
    ValueError
        ``chunk_size < 1``, ``retries < 0``, a negative seed.

    Examples
    --------
    >>> import tnconv as tc
    >>> def bound(point):
    ...     n, m, width = point
    ...     return tc.min_cut(tc.deep(n, m, width), tc.partitions.odd_even(n)).bound
    >>> out = tc.sweep(bound, [(8, 2, 2), (16, 2, 2), (16, 4, 4)], progress=False)
    >>> out
    SweepResult([16, 256, 65536], errors=0)
    >>> out == [16, 256, 65536], out.ok
    (True, True)

    A grid given as a mapping, on a thread pool, with per-point seeds and one failing point:

    >>> from concurrent.futures import ThreadPoolExecutor
    >>> def draw(point, rng):
    ...     if point["k"] == 0:
    ...         raise ValueError("k must be positive")
    ...     return point["m"] * int(rng.integers(0, 10 ** point["k"]))
    >>> with ThreadPoolExecutor(2) as pool:
    ...     out = tc.sweep(draw, {"m": [1, -1], "k": [0, 1, 2]}, pool, progress=False, seed=0,
    ...                    raise_errors=False)
    >>> out == tc.sweep(draw, {"m": [1, -1], "k": [0, 1, 2]}, progress=False, seed=0, raise_errors=False)
    True
    >>> out.failed, out.errors[0].type, out.errors[0].message
    ([0, 3], 'ValueError', 'k must be positive')

    The same on a dask cluster (here a local one; see the module docstring for real clusters)::

        from dask.distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, processes=True) as cluster, Client(cluster) as client:
            out = tc.sweep(bound, grid, executor=client)

    References
    ----------
    .. [1] NumPy, "Parallel random number generation" (``SeedSequence.spawn``).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    backend = resolve_executor(executor)
    _check_bool("progress", progress)
    _check_bool("raise_errors", raise_errors)
    _check_int("chunk_size", chunk_size, 1, allow_none=True)
    _check_int("retries", retries, 0)
    seed_parts = _seed_parts(seed)
    points = _grid_points(grid)
    _check_picklable(fn, backend)

    n = len(points)
    values: list[Any] = [None] * n
    errors: dict[int, PointError] = {}
    if chunk_size is None and backend.kind == "serial":
        chunk_size = max(1, math.ceil(n / 100))  # serially chunks cost nothing: let the bar move by 1%
    chunks = _chunks(n, chunk_size, backend)
    bar = _Progress(n, progress, "sweep")

    def on_result(i: int, outcome: list[tuple[bool, Any]]) -> None:
        start = chunks[i].start
        for offset, (ok, value) in enumerate(outcome):
            if ok:
                values[start + offset] = value
            else:
                errors[start + offset] = PointError(start + offset, points[start + offset], *value)
        bar.update(len(outcome))

    def on_failure(i: int, exc: Exception) -> None:
        # The whole chunk was lost (its worker kept dying, its result could not be sent back...).
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        msg = f"{exc} (the chunk of points {chunks[i].start}..{chunks[i].stop - 1} failed as a whole)"
        for j in chunks[i]:
            errors[j] = PointError(j, points[j], type(exc).__name__, msg, tb)
        bar.update(len(chunks[i]))

    payloads = [(fn, c.start, points[c.start : c.stop], seed_parts) for c in chunks]
    try:
        _run(backend, _sweep_chunk, payloads, retries, on_result, on_failure)
    finally:
        bar.close()
    result = SweepResult(values, (errors[i] for i in sorted(errors)), points)
    if result.errors and raise_errors:
        raise SweepError(result)
    return result
