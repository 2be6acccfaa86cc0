"""Run many independent evaluations serially, on local pools, or on a Dask cluster.

:func:`sweep` evaluates a function over a grid of points and returns the results in grid order, with
per-point errors, per-point seeds and a progress bar. :func:`map_chunks` is the batch primitive under
it (one task per chunk of items) that batch APIs such as ``min_cuts(..., executor=...)`` use, and
:func:`resolve_executor` turns an ``executor=`` argument into a :class:`Backend` (checking its type
early); those three live in :mod:`tnconv._core.executors` and are re-exported here.

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

Examples
--------
A grid given as a mapping, on a thread pool, with per-point seeds (:func:`point_rng`, after [3]_) and
one failing point:

>>> import tnconv as tc
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

References
----------
.. [1] PEP 3148, futures: execute computations asynchronously.
.. [2] Dask.distributed documentation, https://distributed.dask.org (Client, as_completed, LocalCluster).
.. [3] NumPy, "Parallel random number generation", ``SeedSequence.spawn``.
"""

from __future__ import annotations

import itertools
import math
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core.executors import (
    Backend,
    ProgressBar,
    check_bool,
    check_int,
    chunk_ranges,
    map_chunks,
    prepare,
    resolve_executor,
    run_tasks,
)

__all__ = [
    "Backend",
    "PointError",
    "SweepError",
    "SweepResult",
    "map_chunks",
    "point_rng",
    "resolve_executor",
    "sweep",
]


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
    check_int("index", index, 0)
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


class _Outcomes:
    """Collects a sweep's chunk results into grid order, and its failures into :class:`PointError` s."""

    def __init__(self, points: list, chunks: list[range], progress: bool) -> None:
        self.points, self.chunks = points, chunks
        self.values: list[Any] = [None] * len(points)
        self.errors: dict[int, PointError] = {}
        self.bar = ProgressBar(len(points), progress, "sweep")

    def on_result(self, i: int, outcome: list[tuple[bool, Any]]) -> None:
        start = self.chunks[i].start
        for offset, (ok, value) in enumerate(outcome):
            if ok:
                self.values[start + offset] = value
            else:
                self.errors[start + offset] = PointError(start + offset, self.points[start + offset], *value)
        self.bar.update(len(outcome))

    def on_failure(self, i: int, exc: Exception) -> None:
        # The whole chunk was lost (its worker kept dying, its result could not be sent back...).
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        chunk = self.chunks[i]
        msg = f"{exc} (the chunk of points {chunk.start}..{chunk.stop - 1} failed as a whole)"
        for j in chunk:
            self.errors[j] = PointError(j, self.points[j], type(exc).__name__, msg, tb)
        self.bar.update(len(chunk))

    def result(self) -> SweepResult:
        return SweepResult(self.values, (self.errors[i] for i in sorted(self.errors)), self.points)


def sweep(fn: Callable[..., Any], grid: Iterable[Any] | Mapping[str, Iterable[Any]], executor: Any = None,
          progress: bool = True, seed: int | np.random.SeedSequence | None = None, chunk_size: int | None = None,
          retries: int = 3, raise_errors: bool = True) -> SweepResult:
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
        If True (default), raise :class:`SweepError` (carrying the full ``.result``) when any point
        failed; if False, return the result with failed slots ``None``. Every other point is kept.

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
        A bad executor (naming its type), non-callable or unpicklable ``fn``, bad option types.
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

    More (a mapping grid, a thread pool, seeds and a failing point) in the module's Examples; on a dask
    cluster pass its ``Client`` as ``executor`` (see the module docstring).
    """
    backend = prepare(fn, executor, chunk_size, retries, progress)
    check_bool("raise_errors", raise_errors)
    seed_parts = _seed_parts(seed)
    points = _grid_points(grid)
    if chunk_size is None and backend.kind == "serial":
        chunk_size = max(1, math.ceil(len(points) / 100))  # serially chunks cost nothing: let the bar move by 1%
    outcomes = _Outcomes(points, chunk_ranges(len(points), chunk_size, backend), progress)
    payloads = [(fn, c.start, points[c.start : c.stop], seed_parts) for c in outcomes.chunks]
    try:
        run_tasks(backend, _sweep_chunk, payloads, retries, outcomes.on_result, outcomes.on_failure)
    finally:
        outcomes.bar.close()
    result = outcomes.result()
    if result.errors and raise_errors:
        raise SweepError(result)
    return result
