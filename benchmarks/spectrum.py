"""Spectra through a cut against the time numpy takes to draw the model's weights (issue 15, goals 2 and 6).

For each row (a deep ConvAC and a partition) it prints, in one run:

* ``draw``: numpy's ``default_rng().standard_normal`` filling as many float64 values as the model has
  weights (into a reused 16 MiB buffer, so that the reference allocates nothing);
* ``first``: the first ``entanglement_entropy`` call on the model (compiles the network, prepares the min
  cut, plans the sides; the process's one-time imports are paid before, on a tiny model), and
  ``entropy``, ``values``, ``geometric``, ``rank``: medians of warm calls of ``entanglement_entropy``,
  ``schmidt_values``, ``geometric_measure`` and ``schmidt_rank``;
* each time as a ratio to ``draw`` (goal: ``<= 1``);
* ``peak``: the tracemalloc peak of one warm call against ``largest``, the largest stacked intermediate the
  spectrum allocates (goal: ``peak <= 1.5 largest``).

A row whose estimated memory (weights, the reference buffer, and twice the leaf level's stacked messages)
is over ``--max-bytes`` (default: 80% of the available memory) is refused before it is built. The BLAS
kernel (threadpoolctl) and the load average before and after each row are printed, since the machine is
shared. Run it with the checkout first on the path (``PYTHONPATH=.``: a script's own folder comes first,
so an editable install elsewhere would be measured instead; the first line prints which tnconv ran). Usage::

    python benchmarks/spectrum.py            # all rows (the last, 134M weights, needs ~2.5 GB)
    python benchmarks/spectrum.py --quick    # the small rows only
    python benchmarks/spectrum.py --rows 3   # the big row only
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import tnconv as tc
from tnconv import partitions
from tnconv.measures import network_spectrum

ROWS: list[tuple[Any, int, int]] = [(1024, 4, 8), (1024, 4, 32), ((64, 64), 16, 8), ((128, 128), 256, 32)]


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    out = []
    for d in threadpool_info():
        if d.get("user_api") == "blas":
            out.append(f"{d.get('internal_api')} {d.get('version')} kernel={d.get('architecture')} "
                       f"threads={d.get('num_threads')} ({os.path.basename(d.get('filepath', ''))})")
    return "; ".join(out) or "no BLAS found"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def n_weights(shape: Any, M: int, w: int) -> int:
    """Weights of ``tc.deep(shape, M, w)`` without building it (leaves ``M x w``, inner nodes ``w x w``)."""
    n = shape if isinstance(shape, int) else shape[0] * shape[1]
    arity = 2 if isinstance(shape, int) else 4
    inner = (n - 1) // (arity - 1)
    return n * M * w + (inner - 1) * w * w + w


def draw_time(n: int, repeats: int = 3) -> float:
    rng = np.random.default_rng(0)
    buf = np.empty(min(n, 2**21))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        left = n
        while left > 0:
            k = min(left, buf.size)
            rng.standard_normal(out=buf[:k])
            left -= k
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def available_bytes() -> float:
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return float(2**33)


def row(shape: Any, M: int, w: int, repeats: int, budget: float) -> None:
    n = n_weights(shape, M, w)
    n_in = shape if isinstance(shape, int) else shape[0] * shape[1]
    need = 8.0 * n + 8.0 * 2**21 + 2 * 16.0 * n_in * max(M, w) * w / 2
    name = f"deep({shape}, {M}, {w}) left_right"
    if need > budget:
        print(f"{name}: refused, needs about {need / 2**30:.2f} GiB > budget {budget / 2**30:.2f} GiB")
        return
    before = load()
    t0 = time.perf_counter()
    net = tc.deep(shape, M, w, seed=0)
    build = time.perf_counter() - t0
    assert sum(W.size for W in net.weights.values()) == n
    part = partitions.left_right(shape)
    draw = draw_time(n)
    t0 = time.perf_counter()
    h = tc.entanglement_entropy(net, part)
    first = time.perf_counter() - t0
    times = {
        "entropy": median_time(lambda: tc.entanglement_entropy(net, part), repeats),
        "values": median_time(lambda: tc.schmidt_values(net, part), repeats),
        "geometric": median_time(lambda: tc.geometric_measure(net, part), repeats),
        "rank": median_time(lambda: tc.schmidt_rank(net, part), repeats),
    }
    tracemalloc.start()
    sp = network_spectrum(net, part, normalize=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    largest = sp.largest_intermediate / 2  # the budget estimate counts 16 bytes per float64 entry
    print(f"{name}: N={n_in} weights={n / 1e6:.2f}M cut_dim={sp.cut_dim} entropy={h:.6f}")
    print(f"  draw {draw:.3f} s   build {build:.3f} s ({build / draw:.2f}x)   first call {first:.3f} s "
          f"({first / draw:.2f}x)")
    print("  " + "   ".join(f"{k} {t:.3f} s ({t / draw:.2f}x)" for k, t in times.items()))
    print(f"  peak {peak / 2**20:.1f} MiB   largest intermediate {largest / 2**20:.1f} MiB   "
          f"ratio {peak / max(largest, 1.0):.2f}   load {before} -> {load()}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small rows only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", type=str, default=None, help="comma-separated row numbers (0-based) to run")
    ap.add_argument("--max-bytes", type=float, default=None, help="memory budget of a row (bytes)")
    args = ap.parse_args(argv)
    budget = args.max_bytes if args.max_bytes is not None else 0.8 * available_bytes()
    print(f"tnconv {tc.__version__} ({os.path.dirname(tc.__file__)}), numpy {np.__version__}, "
          f"Python {platform.python_version()}, {platform.machine()} x{os.cpu_count()} "
          f"({platform.processor() or platform.platform()})")
    print(f"BLAS: {blas_info()}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; load {load()}")
    # Imports done once per process (SciPy's LAPACK and csgraph, threadpoolctl's scan of the loaded
    # libraries) are paid here, on a tiny model, so that ``first`` is the cost of a new model.
    t0 = time.perf_counter()
    tc.entanglement_entropy(tc.deep(4, 2, 2, seed=0), [0, 1])
    print(f"process warm-up (imports, on deep(4, 2, 2)): {time.perf_counter() - t0:.3f} s")
    rows = ROWS[:3] if args.quick else ROWS
    if args.rows is not None:
        rows = [ROWS[int(k)] for k in args.rows.split(",")]
    for shape, M, w in rows:
        row(shape, M, w, args.repeats, budget)


if __name__ == "__main__":
    main()
