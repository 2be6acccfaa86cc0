"""The rows of :func:`tnconv.contract.bench.benchmark_paths`: timing under the caps, checks, the table.

:class:`Recorder` runs each method's contraction under the byte budget and the time cap, checks its output
against the first method's, and hands each finished row on as it comes; :class:`PathBenchmark` is the
list of rows with its text table and JSON.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core.options import format_bytes
from .time_cap import TimeCapExceeded, time_cap

__all__ = ["PathBenchmark", "Recorder", "format_table", "median_time"]


class PathBenchmark(list):
    """The rows of :func:`benchmark_paths` (a list of dicts) with a text table and JSON export."""

    def table(self) -> str:
        return format_table(self)

    def to_json(self) -> str:
        return json.dumps(list(self), indent=2)

    def __str__(self) -> str:
        return self.table()


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _fmt_num(x: float | None) -> str:
    return "-" if x is None else f"{float(x):.3g}"


def format_table(rows: Sequence[dict]) -> str:
    """A fixed-width text table of benchmark rows.

    Examples
    --------
    >>> print(format_table([{"method": "x", "search_s": 0.0, "flops": 10, "largest_intermediate": 4,
    ...                      "contract_s": 0.001, "ratio": 1.0, "status": "ok"}]))
    method        search    flops (oe)   largest   contract   ratio  status
    x             0 ms      10           4         1 ms       1      ok
    """
    head = f"{'method':<13} {'search':<9} {'flops (oe)':<12} {'largest':<9} {'contract':<10} {'ratio':<6} status"
    lines = [head]
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.3g}"
        lines.append(
            f"{str(r['method'])[:13]:<13} {_fmt_time(r.get('search_s')):<9} {_fmt_num(r.get('flops')):<12} "
            f"{_fmt_num(r.get('largest_intermediate')):<9} {_fmt_time(r.get('contract_s')):<10} {ratio:<6} "
            f"{r.get('status', '')}"
        )
    return "\n".join(lines)


def median_time(fn: Callable[[], Any], repeats: int, max_time: float | None = None) -> tuple[Any, float]:
    """``(output, median time)``: one untimed warm-up call (its output is returned), then up to
    ``repeats`` timed calls; no new call starts once the calls have taken ``max_time`` seconds in all
    (at least one timed call is always made)."""
    t0 = time.perf_counter()
    out = fn()
    spent = time.perf_counter() - t0
    times: list[float] = []
    for _ in range(max(1, repeats)):
        if times and max_time is not None and spent >= max_time:
            break
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    return out, statistics.median(times)


class Recorder:
    """Times each method's contraction under the byte budget and checks its output against the first."""

    def __init__(self, itemsize: int, budget: float, repeats: int, check: bool, max_time: float | None = None,
                 on_row: Callable[[dict], Any] | None = None) -> None:
        self.rows: list[dict] = []
        self.itemsize, self.budget, self.repeats, self.check = itemsize, budget, repeats, check
        self.max_time, self.on_row = max_time, on_row
        self.reference_out: Any = None

    def add(self, row: dict) -> None:
        """Append a finished row and hand it to ``on_row`` (partial results as they come)."""
        self.rows.append(row)
        if self.on_row is not None:
            self.on_row(dict(row))

    def search(self, method: str, fn: Callable[[], Any], best_so_far: Callable[[], Any] | None = None) -> Any:
        """``(result, seconds)`` of the path search ``fn`` under the time cap, or None (the row says why).

        When the cap stops the search, ``best_so_far()`` may still give a result (the best path a
        searcher had found); its row then says that the search was stopped.
        """
        t0 = time.perf_counter()
        try:
            with time_cap(self.max_time) as cap:
                result = fn()
        except TimeCapExceeded:
            stopped_at = cap.elapsed
            result = best_so_far() if best_so_far is not None else None
            if result is None:
                self.skip(method, f"timeout: no path within the cap of {self.max_time:g} s", search=stopped_at)
                return None
            self.stopped = (f"ok: search stopped at {stopped_at:.3g} s by the cap of {self.max_time:g} s "
                            "(best path so far)")
            return result, time.perf_counter() - t0
        if cap.exceeded:  # not enforceable here (another thread): report it, do not contract
            self.skip(method, f"timeout: search took {cap.elapsed:.3g} s > cap of {self.max_time:g} s",
                      search=cap.elapsed)
            return None
        return result, time.perf_counter() - t0

    def over_budget(self, cost: Any) -> bool:
        return cost is not None and cost.largest_intermediate * self.itemsize > self.budget

    stopped: str | None = None  # the status of a search that the cap stopped with a path in hand

    def skip(self, method: str, status: str, search: float | None = None) -> None:
        """A row for a method that does not apply or did not finish (``status`` says why)."""
        self.add({"method": method, "search_s": search, "flops": None, "largest_intermediate": None,
                  "contract_s": None, "ratio": None, "status": status})

    def record(self, method: str, search: float | None, cost: Any, run: Callable[[], Any] | None) -> None:
        """Run ``run`` once (its output is checked), then time it; over-budget paths are never run."""
        row: dict[str, Any] = {"method": method, "search_s": search, "flops": None if cost is None else int(cost.flops),
                               "largest_intermediate": None if cost is None else int(cost.largest_intermediate),
                               "contract_s": None, "ratio": None, "status": self.stopped or "ok"}
        stopped, self.stopped = self.stopped, None
        try:
            self._contract(row, cost, run)
        finally:
            if stopped and row["status"] != stopped:  # infeasible or failed: still say the cap stopped it
                row["status"] = f"{row['status']} ({stopped[4:]})"
            self.add(row)

    def _contract(self, row: dict, cost: Any, run: Callable[[], Any] | None) -> None:
        if run is None:
            return
        if self.over_budget(cost):
            row["status"] = (f"infeasible: largest intermediate {cost.largest_intermediate:.3g} elements "
                             f"({format_bytes(cost.largest_intermediate * self.itemsize)}) > budget")
            return
        try:
            out, row["contract_s"] = median_time(run, self.repeats, self.max_time)
        except (MemoryError, ValueError) as exc:
            row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            return
        out = np.asarray(out).reshape(-1)
        if not self.check:
            return
        if self.reference_out is None:
            self.reference_out = out
        elif not np.allclose(out, self.reference_out, rtol=1e-6, atol=1e-12 * np.abs(self.reference_out).max()):
            row["status"] = "MISMATCH with the first method's output"

    def result(self) -> PathBenchmark:
        """The rows with ``ratio``: contraction time over the best method's (``gemm`` is not a method)."""
        times = [r["contract_s"] for r in self.rows if r["contract_s"] is not None and r["method"] != "gemm"
                 and str(r["status"]).startswith("ok")]
        best = min(times) if times else None
        for r in self.rows:
            if best and r["contract_s"] is not None:
                r["ratio"] = r["contract_s"] / best
        return PathBenchmark(self.rows)
