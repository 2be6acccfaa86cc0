"""Scale-out of ``tc.sweep``: an architecture sweep, serial against 2 local workers of each kind.

The sweep: width profiles x partitions of a deep binary ConvAC on N = 64 inputs, M = 2 (at least 10^4
points; each point is one min-cut bound, ``min_cut(prepare(deep(64, 2, widths)), part).log2_bound``,
with the prepared network cached per worker and per width profile). It runs

* serially (``executor=None``),
* on ``ThreadPoolExecutor(2)``,
* on ``ProcessPoolExecutor(2)`` with the spawn context,
* on a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` dask Client,

with the default chunking (4 tasks per worker), and checks that every backend returns the serial
results exactly. Start-up (spawning processes, starting the cluster, importing tnconv there) is timed
separately; building the networks is part of the work, cold for every backend (each process worker
builds the profiles its chunks touch).

Columns: ``speed-up = serial / parallel``, ``efficiency = speed-up / workers`` (the figure that carries
over to a real cluster), ``overhead/task = (workers x parallel - serial) / tasks``: the worker time
each task costs beyond the serial work (scheduling, pickling, waiting). ``no-op task`` is the measured
round trip of one empty task (200 tasks of one point each).

Usage::

    python benchmarks/scaleout.py           # 20 profiles x 500 partitions = 10^4 points, ~2 min
    python benchmarks/scaleout.py --quick   # 5 x 200 = 10^3 points
    python benchmarks/scaleout.py --min-cuts-only   # only the 10^5-query min_cuts row

The first table is ``min_cuts`` over 10^5 random partitions (boolean masks) at N = 1024, serial against a
spawn process pool (chunks of ~10^4 queries per task; each task carries the network's structure, no
weights; the caller builds the MinCut objects, so that part stays serial).

(from a source checkout that is not the installed one: ``PYTHONPATH=$PWD python benchmarks/...``).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import multiprocessing
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

# One BLAS/OpenMP thread per process everywhere (dask's nanny does the same for its workers): the work
# here is small-array numpy, which threaded BLAS only slows down, and 2 workers x 2 BLAS threads would
# oversubscribe 2 cores. Set before numpy loads; spawned workers inherit it.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tnconv as tc  # noqa: E402
from tnconv.mincut import min_cut, prepare  # noqa: E402

N, M = 64, 2
_PROBLEMS: dict[tuple[int, ...], Any] = {}
_LOCK = threading.Lock()


def _problem(widths: tuple[int, ...]) -> Any:
    # One prepared network per width profile and per worker process: points carry only the widths.
    with _LOCK:
        prob = _PROBLEMS.get(widths)
        if prob is None:
            prob = _PROBLEMS[widths] = prepare(tc.deep(N, M, list(widths), seed=0))
        return prob


def arch_point(point: tuple[tuple[int, ...], frozenset]) -> float:
    """One grid point: the log2 min-cut bound of a width profile across one partition."""
    widths, part = point
    return min_cut(_problem(widths), part).log2_bound


def clear_cache() -> None:
    with _LOCK:
        _PROBLEMS.clear()


def noop(point: Any) -> Any:
    return point


def make_grid(n_profiles: int, n_parts: int) -> list[tuple[tuple[int, ...], frozenset]]:
    rng = np.random.default_rng(13)
    levels = int(np.log2(N))
    draws = {tuple(int(w) for w in rng.choice([1, 2, 3, 4, 8, 16], size=levels)) for _ in range(4 * n_profiles)}
    profiles = sorted(draws)[:n_profiles]
    parts = [tc.partitions.random(N, seed=s) for s in range(n_parts - 2)]
    parts += [tc.partitions.odd_even(N), tc.partitions.left_right(N)]
    return list(itertools.product(profiles, parts))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_min_cuts(n_queries: int, workers: int, n_inputs: int = 1024) -> list[str]:
    """``min_cuts`` over ``n_queries`` random half partitions (boolean masks) of a deep binary ConvAC,
    serial against a spawn ``ProcessPoolExecutor``: the table rows (markdown)."""
    from tnconv.mincut import min_cuts

    net = tc.deep(n_inputs, 4, 4, seed=0)
    prob = prepare(net)
    prob.tree_solver()  # built once, outside the timings (it travels to the workers with the tasks)
    rng = np.random.default_rng(0)
    masks = rng.permuted(np.arange(n_inputs)[None, :].repeat(n_queries, 0) < n_inputs // 2, axis=1)
    t_serial, ref = timed(lambda: min_cuts(prob, masks))
    bounds = [c.bound for c in ref]
    del ref
    rows = [f"| serial | 1 | 1 | {t_serial:.2f} | 1.00x | 100% | - | {t_serial / n_queries * 1e6:.0f} |"]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        min_cuts(prob, masks[: 4 * workers], executor=pool, chunk_size=1)  # start the workers, import tnconv
        n_tasks = 4 * workers
        t_par, got = timed(lambda: min_cuts(prob, masks, executor=pool, chunk_size=-(-n_queries // n_tasks)))
    if [c.bound for c in got] != bounds:
        raise SystemExit("min_cuts on the process pool differs from the serial run")
    speed = t_serial / t_par
    over = (workers * t_par - t_serial) / n_tasks * 1e3
    rows.append(f"| ProcessPoolExecutor (spawn) | {workers} | {n_tasks} | {t_par:.2f} | {speed:.2f}x | "
                f"{speed / workers:.0%} | {over:.0f} | {t_par / n_queries * 1e6:.0f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^3 points instead of 10^4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--min-cuts-only", action="store_true", help="only the 10^5-query min_cuts row")
    args = parser.parse_args(argv)

    # Import this file by its module name, so that process and dask workers unpickle the functions
    # by reference (they inherit sys.path) instead of receiving __main__'s globals.
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    bench = importlib.import_module("scaleout")

    w = args.workers
    n_q = 10_000 if args.quick else 100_000
    print(f"# min_cuts scale-out: {n_q} random half partitions of a deep ConvAC, N = 1024, M = 4, width 4\n")
    print(f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| backend | workers | tasks | time (s) | speed-up | efficiency | overhead/task (ms) | per query (us) |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(bench.bench_min_cuts(n_q, w)))
    print()
    if args.min_cuts_only:
        return 0
    grid = bench.make_grid(5, 200) if args.quick else bench.make_grid(20, 500)
    import dask
    import distributed

    print(f"# tc.sweep scale-out: {len(grid)} points (N={N}, M={M}), {w} workers")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) at start; Python "
        f"{platform.python_version()}, numpy {np.__version__}, dask {dask.__version__}, "
        f"distributed {distributed.__version__}, tnconv {tc.__version__}"
    )
    sweep = tc.sweep
    t_serial, reference = timed(lambda: sweep(bench.arch_point, grid, progress=False))
    rows = [("serial", 1, 1, t_serial, 0.0, float("nan"))]
    with ExitStack() as stack:
        setups: list[tuple[str, Callable[[], Any]]] = [
            ("ThreadPoolExecutor", lambda: stack.enter_context(ThreadPoolExecutor(w))),
            (
                "ProcessPoolExecutor (spawn)",
                lambda: stack.enter_context(ProcessPoolExecutor(w, mp_context=multiprocessing.get_context("spawn"))),
            ),
            (
                "dask LocalCluster (processes)",
                lambda: stack.enter_context(
                    distributed.Client(
                        stack.enter_context(
                            distributed.LocalCluster(
                                n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None
                            )
                        )
                    )
                ),
            ),
        ]
        for name, make in setups:
            t_start, ex = timed(make)
            # Warm up: start every worker and import tnconv there, outside the timing.
            t_warm, _ = timed(lambda ex=ex: sweep(bench.noop, range(4 * w), ex, progress=False, chunk_size=1))
            t_noop, _ = timed(lambda ex=ex: sweep(bench.noop, range(200), ex, progress=False, chunk_size=1))
            # 4 tasks per worker: sweep's default for a Client, and for pools on a 2-CPU machine.
            n_tasks, size = 4 * w, -(-len(grid) // (4 * w))
            bench.clear_cache()  # every backend builds its networks cold (threads share this process's cache)
            t_par, out = timed(
                lambda ex=ex, size=size: sweep(bench.arch_point, grid, ex, progress=False, chunk_size=size)
            )
            if list(out) != list(reference):
                raise SystemExit(f"{name}: results differ from the serial run")
            rows.append((name, w, n_tasks, t_par, t_start + t_warm, t_noop / 200))

    print()
    print(
        "| backend | workers | tasks | time (s) | speed-up | efficiency | overhead/task (ms) | no-op task (ms) "
        "| start-up (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, workers, tasks, t, start, t_noop in rows:
        speed = t_serial / t
        over = (workers * t - t_serial) / tasks * 1e3
        noop_ms = "-" if np.isnan(t_noop) else f"{t_noop * 1e3:.2f}"
        start_s = "-" if name == "serial" else f"{start:.2f}"
        over_s = "-" if name == "serial" else f"{over:.1f}"
        print(
            f"| {name} | {workers} | {tasks} | {t:.2f} | {speed:.2f}x | {speed / workers:.0%} | {over_s} | "
            f"{noop_ms} | {start_s} |"
        )
    print(f"\nserial: {t_serial / len(grid) * 1e3:.3f} ms per point; load average at end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
