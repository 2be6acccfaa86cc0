"""Contraction benchmark: tnconv's engines against opt_einsum, cotengra, quimb and a GEMM limit.

One table per size (N in 64, 256, 1024, 4096; M = 8; width 16 and 64; batch 256), built on the package's
own harness (``tnconv.benchmark_paths``). Columns: path-search time, path flops (opt_einsum convention),
largest intermediate (elements), contraction time (median of ``--repeats``) and the ratio to the best
method. ``gemm`` is the GEMM-equivalent limit: one square matmul with the structure path's flop count,
timed in the same run (the faster of 1-thread and all-thread BLAS).

Searches are capped (``--max-time``) so the full run stays under 10 minutes; ``--quick`` runs a subset.
Peak memory of the level engine is measured with tracemalloc and compared with the largest level's
activations (N * batch * width * 8 bytes).

Usage::

    python benchmarks/contraction.py --quick
    python benchmarks/contraction.py --write benchmarks/RESULTS_contraction.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import tracemalloc
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tnconv as tc
from tnconv.contract.bench import format_table

warnings.filterwarnings("ignore", message=".*kahypar.*")


# Searches that alone take minutes at N = 4096 on the 2-core test machine (measured at N = 1024: greedy
# 5.7 s, random-greedy 18 s and cotengra 29 s despite an 8 s cap, each growing faster than linearly).
SKIP_4096 = {
    "structure+oe": "skipped: opt_einsum's expression build is quadratic in the tensors (16 s)",
    "greedy": "skipped: search > 60 s (5.7 s at N = 1024); infeasible there already",
    "random-greedy": "skipped: search > 3 min (18 s at N = 1024)",
    "cotengra": "skipped: search > 2 min (29 s at N = 1024 with an 8 s cap)",
}


def methods_for(N: int, quick: bool) -> list[str]:
    out = ["levels", "nodes", "structure", "structure+oe", "greedy", "random-greedy", "cotengra", "quimb",
           "reference", "gemm"]
    if N > 64:
        # quimb's contraction_tree took 186 s at N = 256 even with a 8 s-capped HyperOptimizer
        out = [m for m in out if m != "quimb"]
    if N >= 4096:
        out = [m for m in out if m not in SKIP_4096]
    if quick:
        out = [m for m in out if m not in ("cotengra", "quimb")] if N > 256 else out
    return out


def peak_memory(model: tc.ConvAC, F: np.ndarray) -> tuple[int, int]:
    model.forward(F[:2])
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        model.forward(F, engine="levels")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    largest = F.shape[0] * model.n_inputs * max(model.widths.values()) * F.dtype.itemsize
    return peak, largest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N up to 1024, width 16, capped searches")
    ap.add_argument("--sizes", default=None, help="comma-separated N (default 64,256,1024,4096)")
    ap.add_argument("--widths", default=None, help="comma-separated widths (default 16,64)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-time", type=float, default=8.0, help="cap of each cotengra / random-greedy search (s)")
    ap.add_argument("--write", metavar="PATH", help="write a markdown results section")
    args = ap.parse_args(argv)
    default_sizes = [64, 256, 1024] if args.quick else [64, 256, 1024, 4096]
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else default_sizes
    widths = [int(x) for x in args.widths.split(",")] if args.widths else ([16] if args.quick else [16, 64])
    max_time = min(args.max_time, 3.0) if args.quick else args.max_time
    start = time.perf_counter()
    md = [
        "## Contraction engine (benchmarks/contraction.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
        f"load average at start {os.getloadavg()[0]:.1f}. M = 8, batch {args.batch}, float64, median of "
        f"{args.repeats} contractions. Flops in opt_einsum's convention (2 per multiply-add). Searches capped at "
        f"{max_time:g} s. Command: `python benchmarks/{os.path.basename(__file__)} {' '.join(argv or sys.argv[1:])}`",
        "",
    ]
    summary = []
    for w in widths:
        for N in sizes:
            model = tc.deep(N, 8, w, seed=0)
            F = np.random.default_rng(0).standard_normal((args.batch, N, 8))
            reps = args.repeats if N <= 256 else max(2, args.repeats // 2)
            t0 = time.perf_counter()
            rows = tc.benchmark_paths(model, methods_for(N, args.quick), features=F, repeats=reps,
                                      max_time=max_time, max_repeats=64)
            if N >= 4096:
                rows += [{"method": m, "search_s": None, "flops": None, "largest_intermediate": None,
                          "contract_s": None, "ratio": None, "status": why} for m, why in SKIP_4096.items()]
            title = f"N = {N}, width {w}, batch {args.batch} ({time.perf_counter() - t0:.0f} s)"
            print(title)
            table = format_table(rows)
            print(table, flush=True)
            peak, largest = peak_memory(model, F)
            mem = (f"levels engine peak memory {peak / 2**20:.1f} MiB = {peak / largest:.2f}x the largest level's "
                   f"activations ({largest / 2**20:.1f} MiB)")
            print(mem + "\n", flush=True)
            md += [f"### {title}", "", "```", table, "```", "", mem, ""]
            by = {r["method"]: r for r in rows}
            lv = by["levels"]["contract_s"]
            others = [by[m]["contract_s"] for m in ("random-greedy", "cotengra", "quimb")
                      if m in by and by[m]["contract_s"] is not None]
            gemm = by.get("gemm", {}).get("contract_s")
            summary.append((N, w, lv, min(others) if others else None, gemm, peak / largest))
    lines = ["### Summary", "",
             "| N | width | levels forward | best of random-greedy/cotengra/quimb (contraction only) | speed-up "
             "| GEMM limit | levels / GEMM | peak / largest level |",
             "|---|---|---|---|---|---|---|---|"]
    for N, w, lv, best, gemm, mem in summary:
        sp = f"{best / lv:.1f}x" if best else "-"
        lines.append(
            f"| {N} | {w} | {lv * 1e3:.1f} ms | {'-' if best is None else f'{best * 1e3:.1f} ms'} | {sp} | "
            f"{'-' if gemm is None else f'{gemm * 1e3:.1f} ms'} | "
            f"{'-' if gemm is None else f'{lv / gemm:.2f}x'} | {mem:.2f}x |"
        )
    print("\n".join(lines))
    total = time.perf_counter() - start
    print(f"\ntotal {total:.0f} s")
    md += lines + ["", f"Total benchmark time {total:.0f} s.", ""]
    if args.write:
        with open(args.write, "w") as fh:
            fh.write("\n".join(md))
        print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
