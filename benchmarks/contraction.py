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

    python benchmarks/contraction.py --quick               # forward roofline, small networks, memory
    python benchmarks/contraction.py --grid                # goal grid: widths 16-256, f32/f64, N 1024/4096, 1D/2D
    python benchmarks/contraction.py --kernels --write benchmarks/RESULTS_forward.md   # both BLAS kernels
    python benchmarks/contraction.py --paths --quick       # the path tables of every method
    python benchmarks/contraction.py --paths --write benchmarks/RESULTS_contraction.md
    python benchmarks/contraction.py --small --write benchmarks/RESULTS_contraction.md   # small networks only
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


def paths_main(argv: list[str] | None = None) -> int:
    """The path tables of every method (``--paths``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", action="store_true")
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



# ====================================================================== roofline, small networks, memory
FORWARD_GRID = [  # (inputs, width, dtype); N up to 4096, widths 16-256, 1D and 2D
    (1024, 16, "float64"), (1024, 64, "float64"), (1024, 256, "float64"),
    (1024, 16, "float32"), (1024, 64, "float32"), (1024, 256, "float32"),
    (4096, 64, "float64"), (4096, 64, "float32"), (4096, 256, "float32"),
    ((32, 32), 16, "float64"), ((32, 32), 64, "float64"), ((32, 32), 64, "float32"),
    ((64, 64), 64, "float32"),
]
#: ``--grid``: the goal's grid in full (issue "Performance", goal 1): widths 16, 64, 256, float32 and
#: float64, N = 1024 and 4096, 1D and 2D (32 x 32 and 64 x 64 images).
GOAL_GRID = [(shape, w, dt) for shape in (1024, (32, 32), 4096, (64, 64)) for w in (16, 64, 256)
             for dt in ("float64", "float32")]
QUICK_GRID = [(1024, 16, "float64"), (1024, 64, "float64"), (1024, 64, "float32"), ((32, 32), 64, "float64"),
              (4096, 64, "float32")]
SMALL_NETS = [(16, 2, 4), (64, 2, 4), (64, 4, 8), (64, 8, 16), (256, 2, 4), ((4, 4), 4, 4)]


def blas_kernel() -> str:
    from threadpoolctl import threadpool_info

    parts = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture', '?')}, "
             f"{i.get('num_threads')} threads" for i in threadpool_info() if i.get("user_api") == "blas"]
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    return "; ".join(parts) + f" ({env or 'OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset'})"


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median process CPU seconds) of ``repeats`` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def machine_limits(repeats: int = 3) -> dict:
    """GEMM rates (wall, all BLAS threads; CPU time, one thread) and copy bandwidth, measured now."""
    from threadpoolctl import threadpool_limits

    out: dict = {}
    rng = np.random.default_rng(0)
    for dt in ("float64", "float32"):
        n = 2048
        a = rng.standard_normal((n, n)).astype(dt)
        b = rng.standard_normal((n, n)).astype(dt)
        wall, _ = _timed(lambda a=a, b=b: a @ b, repeats)
        with threadpool_limits(1, user_api="blas"):
            _, cpu = _timed(lambda a=a, b=b: a @ b, repeats)
        out[dt] = (2 * n**3 / wall, 2 * n**3 / cpu)
    x = np.ones(2**25)
    y = np.empty_like(x)
    half = len(x) // 2

    def copy2() -> None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as ex:
            list(ex.map(lambda s: np.copyto(y[s], x[s]), [slice(0, half), slice(half, None)]))

    bw1 = 2 * x.nbytes / _timed(lambda: np.copyto(y, x), repeats)[0]
    bw2 = 2 * x.nbytes / _timed(copy2, repeats)[0]
    out["bandwidth"] = max(bw1, bw2)
    return out


def _level_costs(model, B: int, item: int) -> list[tuple[float, float]]:
    """Per level: (GEMM flops, bytes of its weights)."""
    from tnconv.contract.levels import level_plan

    plan = level_plan(model)
    return [(2.0 * len(lv) * B * model.weight_shape(lv[0])[0] * model.weight_shape(lv[0])[1],
             float(len(lv) * model.weight_shape(lv[0])[0] * model.weight_shape(lv[0])[1] * item))
            for lv in plan.levels]


def row_bytes(shape, w: int, dt: str, B: int, M: int = 8) -> int:
    """Upper bound of a row's memory before its model is built: weights (binary tree), features, output."""
    N = int(np.prod(shape))
    return (N * M * w + (N - 1) * w * w + w + B * N * M + B) * np.dtype(dt).itemsize


def forward_row(shape, w: int, dt: str, B: int, lim: dict, repeats: int, budget: float) -> dict:

    head = {"shape": shape, "w": w, "dt": dt}
    if row_bytes(shape, w, dt, B) > budget:
        return {**head, "refused": f"weights + features {row_bytes(shape, w, dt, B) / 2**20:.0f} MiB over the budget"}
    # the rows' own budget replaces the library's default cap on weights (2 GiB: N = 4096, width 256, float64)
    with tc.option_context(max_dense_bytes=budget):
        return _forward_row(head, shape, w, dt, B, lim, repeats, budget)


def _forward_row(head: dict, shape, w: int, dt: str, B: int, lim: dict, repeats: int, budget: float) -> dict:
    from tnconv.contract import levels

    model = tc.deep(shape, 8, w, seed=0, dtype=dt)
    N, item = model.n_inputs, np.dtype(dt).itemsize
    F = np.random.default_rng(0).standard_normal((B, N, 8)).astype(dt)
    # Bring the output near magnitude 1: a product net's log|h| is a sum over its leaves, so one factor
    # on every leaf weight moves every level at once (by the share of leaves under it). Without it the
    # float32 width-16 outputs underflow to 0 and the forward times its range warning, not the engine.
    _, logabs = model.forward(F[:8], log=True)
    shift = float(np.exp(-np.mean(logabs) / N))
    for v in levels.level_plan(model).levels[0]:
        model.weights[v][...] *= shift  # in place: the packed buffer the engine reads
    live = levels.live_bytes(model, B, item, levels.n_workers())
    if row_bytes(shape, w, dt, B) + live > budget:
        return {**head, "refused": f"weights + features + live {(row_bytes(shape, w, dt, B) + live) / 2**20:.0f} MiB "
                "over the budget"}
    gemm_wall, gemm_cpu = lim[dt]
    bw = lim["bandwidth"]
    costs = _level_costs(model, B, item)
    flops = sum(c[0] for c in costs)
    n_bytes = F.nbytes + sum(c[1] for c in costs) + B * item  # features + weights + output: the least traffic
    roof_wall = max(flops / gemm_wall, n_bytes / bw)
    roof_cpu = max(flops / gemm_cpu, n_bytes / bw)
    wall, cpu = _timed(lambda: model.forward(F), repeats)
    # per band (the fused levels one task runs in cache): its time against its own roofline
    bands, engine_cpu = [], []
    for _ in range(repeats if flops < 2e10 else 1):  # one band profile of the largest rows (seconds each)
        t: list = []
        c0 = time.process_time()
        out = levels.run_levels(model, F, timings=t)
        engine_cpu.append(time.process_time() - c0)
        bands.append(t)
    in_range = bool(np.all(np.isfinite(out)) and np.all(np.abs(out) >= np.finfo(dt).tiny))
    plan = levels.level_plan(model)
    widths = [model.widths[lv[0]] for lv in plan.levels]
    per_band = []
    for k, (lo, hi, _) in enumerate(bands[0]):
        sec = float(np.median([b[k][2] for b in bands]))
        fl = sum(costs[h][0] for h in range(lo, hi + 1))
        inp = F.nbytes if lo == 0 else len(plan.levels[lo]) * B * widths[lo - 1] * item
        out_n = len(plan.levels[hi + 1]) if hi + 1 < len(plan.levels) else 1
        by = inp + sum(costs[h][1] for h in range(lo, hi + 1)) + out_n * B * widths[hi] * item
        per_band.append(f"{lo}-{hi}: {sec / max(fl / gemm_wall, by / bw):.2f}x")
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        model.forward(F)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the largest band output (input + output of a band), what live_bytes counted before the task scratch
    H = len(plan.levels) - 1
    outs = [(len(plan.levels[hi + 1]) if hi < H else 1) * B * widths[hi] * item for lo, hi, _ in bands[0]]
    largest = max(a + b for a, b in zip([0] + outs, outs))
    nodes = None
    if N <= 1024 and w <= 64:
        nodes = _timed(lambda: model.forward(F, engine="nodes"), max(1, repeats // 2))[0]
    return {**head, "wall": wall, "cpu": cpu, "engine_cpu": float(np.median(engine_cpu)), "in_range": in_range,
            "roof_wall": roof_wall,
            "roof_cpu": roof_cpu, "gflops": flops / 1e9, "bound": "flops" if flops / gemm_wall >= n_bytes / bw
            else "bytes", "bands": ", ".join(per_band), "peak": peak, "live": live, "largest": largest,
            "nodes": nodes}


def small_row(shape, M: int, w: int, B: int, repeats: int, inner: int = 1) -> dict:
    """One small network: ``tn.contract(F)`` (structure path) against opt_einsum greedy, timed interleaved.

    Each of ``repeats`` rounds times ``inner`` calls of every method back to back, so that a burst of load
    on the shared machine hits all methods of a round alike; ``ratio`` is the median over rounds of
    greedy / structure within a round. Memory: tracemalloc peak of one ``tn.contract(F)`` against the
    compiled program's static peak and against the largest intermediate of the path at this batch size.
    """
    import opt_einsum as oe

    from tnconv.contract import generic
    from tnconv.contract.paths import structure_path

    model = tc.deep(shape, M, w, seed=0)
    tn = model.to_tensor_network()
    N = model.n_inputs
    F = np.random.default_rng(0).standard_normal((B, N, M))
    ops = list(tn.arrays) + [F[:, p, :] for p in range(N)]
    eq = tn.equation(features=True)
    shapes = [o.shape for o in ops]
    sp = structure_path(tn, features=True, batch=B)
    expr_s = oe.contract_expression(eq, *shapes, optimize=sp.path)
    path, info = oe.contract_path(eq, *shapes, shapes=True, optimize="greedy")
    row = {"net": f"deep({shape}, {M}, {w})", "steps": len(sp.path)}
    item = 8
    fns = {"structure": lambda: tn.contract(F), "structure+oe": lambda: expr_s(*ops)}
    if info.largest_intermediate * item <= 2**28:
        expr_g = oe.contract_expression(eq, *shapes, optimize=path)
        fns["greedy"] = lambda: expr_g(*ops)
        fns["greedy_1t"] = lambda: expr_g(*ops)  # timed inside one blas_threads(1) block per round
        fns["greedy_call"] = lambda: tn.contract(F, optimize="greedy")
    else:
        row["greedy"] = row["greedy_call"] = None
        row["greedy_why"] = f"infeasible: largest intermediate {info.largest_intermediate:.3g} elements"
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    from tnconv.contract.backends import blas_threads

    for _ in range(repeats):
        for k, fn in fns.items():
            with blas_threads(1 if k == "greedy_1t" else None):
                t0 = time.perf_counter()
                for _ in range(inner):
                    fn()
                times[k].append((time.perf_counter() - t0) / inner)
    for k, ts in times.items():
        row[k] = float(np.median(ts))
    if "greedy" in times:
        row["ratio"] = float(np.median([g / s for g, s in zip(times["greedy"], times["structure"])]))
        row["ratio_1t"] = float(np.median([g / s for g, s in zip(times["greedy_1t"], times["structure"])]))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        tn.contract(F)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    prog = generic._program(tn, generic._cached_structure_path(tn, True), generic._device_arrays(
        tn, generic.resolve_backend(None, F)), F)
    row["peak"] = peak
    row["static_peak"] = prog.peak_bytes(item)
    row["largest"] = sp.cost.largest_intermediate * item
    row["largest_value"] = prog.largest_value * item
    row["peak_ratio"] = peak / row["largest"]
    row["calls"] = len(prog.calls)
    row["schedule"] = ("batched" if prog.batched else "depth-first" if len(prog.calls) == len(prog.steps)
                       else "depth-first, batched subtrees")
    return row


#: (inputs, width, batch, path) rows of the peak-memory table of ``--small`` (M = 8).
MEMORY_ROWS = [(64, 64, 256, "structure"), (64, 64, 256, "greedy"), (256, 64, 256, "structure"),
               (256, 64, 256, "greedy"), (1024, 64, 256, "structure")]


def path_memory_table() -> list[str]:
    """Traced peak of the compiled program of a path against its static peak and largest intermediate."""
    import opt_einsum as oe

    from tnconv.contract import program
    from tnconv.contract.paths import path_cost, structure_path

    md = ["", "Peak memory of compiled programs (run_program on the path, features as separate operands): `traced` "
          "is the tracemalloc peak of one run, `static` the program's peak of live intermediates, `largest` the "
          "path's largest intermediate.", "",
          "| network | batch | path | schedule | traced | static | traced / static | traced / largest |",
          "|---|---|---|---|---|---|---|---|"]
    print("\n".join(md[-2:]), flush=True)
    for N, w, B, which in MEMORY_ROWS:
        model = tc.deep(N, 8, w, seed=0)
        tn = model.to_tensor_network()
        F = np.random.default_rng(0).standard_normal((B, N, 8))
        ops = list(tn.arrays) + [F[:, p, :] for p in range(N)]
        shapes = [o.shape for o in ops]
        sp = structure_path(tn, features=True, batch=B)
        path = sp.path if which == "structure" else oe.contract_path(
            tn.equation(features=True), *shapes, shapes=True, optimize=which)[0]
        prog = program.compile_path(sp.inputs, sp.output, path, shapes)
        program.run_program(prog, ops, np)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            program.run_program(prog, ops, np)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        largest = path_cost(sp.inputs, sp.output, sp.size_dict, path).largest_intermediate * 8
        sched = "batched" if prog.batched else "depth-first" if len(prog.calls) == len(prog.steps) else "subtrees"
        line = (f"| deep({N}, 8, {w}) | {B} | {which} | {sched} | "
                f"{peak / 2**20:.2f} MiB | {prog.peak_bytes(8) / 2**20:.2f} MiB | {peak / prog.peak_bytes(8):.2f}x | "
                f"{peak / largest:.2f}x |")
        print(line, flush=True)
        md.append(line)
    return md


#: Small networks (the toy rows) and batch sizes for ``--small``; the last rows run the depth-first schedule.
SMALL_ROWS = [((4, 4), 4, 4, 64), ((2, 2), 2, 2, 64), ((2, 4), 2, 3, 64), (16, 2, 4, 64), (64, 8, 16, 64),
              (64, 8, 16, 256), (256, 8, 16, 64), (1024, 8, 16, 64), (64, 8, 64, 256)]


def small_report(argv: list[str] | None = None) -> int:
    """``--small``: the small-network table (structure path through ``tn.contract`` against opt_einsum greedy)."""
    from tnconv.contract.program import BATCH_ELEMENTS, SMALL_STEP, THREAD_FLOPS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved rounds (median)")
    ap.add_argument("--inner", type=int, default=20, help="calls per method and round")
    ap.add_argument("--write", metavar="PATH", help="append a markdown section")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    head = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: {platform.machine()}, {os.cpu_count()} "
            f"CPUs, numpy {np.__version__}, BLAS: {blas_kernel()}. Load average at start {load0[0]:.1f} (1 min) / "
            f"{load0[1]:.1f} (5 min).")
    print(head, flush=True)
    md = ["## Small networks: tn.contract(F) against opt_einsum greedy (benchmarks/contraction.py --small)", "",
          head, "",
          f"float64. {args.repeats} interleaved rounds of {args.inner} calls per method; times are medians over "
          "rounds, `greedy / structure` is the median over rounds of the in-round ratio (> 1: the structure path "
          "wins). `structure`: the whole `tn.contract(F)` call (checks, cached compiled program); `structure+oe`: "
          "a prebuilt opt_einsum expression of the same path; `greedy`: a prebuilt expression of opt_einsum's "
          "greedy path (contraction only), with OpenBLAS's default threads and with one BLAS thread (`greedy 1 "
          "thread`, the fair comparison: compiled programs limit threads from 1e7 flops); `greedy call`: "
          "`tn.contract(F, optimize='greedy')`. Schedule: "
          f"batched while its static peak is <= {BATCH_ELEMENTS} elements, else depth-first (with batched "
          f"subtrees of steps of <= {SMALL_STEP} elements); one BLAS thread "
          f"from {THREAD_FLOPS:.0e} flops. Memory: `traced` is the tracemalloc peak of one `tn.contract(F)`, "
          "`static` the compiled program's peak of live intermediates (computed before running), `largest` "
          "the path's largest intermediate at this batch size.", "",
          "| network | batch | steps | calls | schedule | structure | structure+oe | greedy | greedy 1 thread "
          "| greedy call | greedy / structure | greedy 1 thread / structure | traced | traced / static "
          "| traced / largest |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(md[-2:]), flush=True)
    for shape, M, w, B in SMALL_ROWS:
        r = small_row(shape, M, w, B, args.repeats, args.inner)
        g = r["greedy"]
        line = (f"| {r['net']} | {B} | {r['steps']} | {r['calls']} | {r['schedule']} | {r['structure'] * 1e3:.3f} ms "
                f"| {r['structure+oe'] * 1e3:.3f} ms | "
                + (f"{g * 1e3:.3f} ms | {r['greedy_1t'] * 1e3:.3f} ms | {r['greedy_call'] * 1e3:.3f} ms | "
                   f"{r['ratio']:.2f}x | {r['ratio_1t']:.2f}x"
                   if g is not None else f"- | - | - | - | {r['greedy_why']}")
                + f" | {r['peak'] / 1024:.0f} KiB | {r['peak'] / r['static_peak']:.2f}x | {r['peak_ratio']:.2f}x |")
        print(line, flush=True)
        md.append(line)
    md += path_memory_table()
    load1 = os.getloadavg()
    tail = f"Load average at end {load1[0]:.1f}; total {time.perf_counter() - t_start:.0f} s."
    print(tail)
    md += ["", tail, ""]
    if args.write:
        with open(args.write, "a") as fh:
            fh.write("\n" + "\n".join(md))
        print(f"appended to {args.write}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="five forward rows")
    ap.add_argument("--grid", action="store_true",
                    help="the goal grid (widths 16/64/256, float32/64, N 1024/4096, 1D/2D), no small networks")
    ap.add_argument("--budget-mib", type=float, default=3072.0,
                    help="refuse a row whose weights + features + live_bytes exceed this (MiB) before building it")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kernels", action="store_true",
                    help="run twice in subprocesses: OPENBLAS_CORETYPE/L2_SIZE unset, then OPENBLAS_CORETYPE=Haswell")
    ap.add_argument("--write", metavar="PATH", help="write (append with --kernels) a markdown section")
    args = ap.parse_args(argv)
    if args.kernels:
        return _both_kernels(args)
    md = forward_report(args)
    if args.write:
        with open(args.write, "a" if os.environ.get("TNCONV_BENCH_APPEND") else "w") as fh:
            fh.write("\n".join(md) + "\n")
    return 0


def _both_kernels(args) -> int:
    import subprocess

    base = [sys.executable, os.path.abspath(__file__)] + (["--quick"] if args.quick else [])
    base += (["--grid"] if args.grid else []) + ["--budget-mib", str(args.budget_mib)]
    base += ["--batch", str(args.batch), "--repeats", str(args.repeats)]
    if args.write:
        base += ["--write", args.write]
        open(args.write, "w").close()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    for extra in ({}, {"OPENBLAS_CORETYPE": "Haswell"}):
        subprocess.run(base, env={**env, **extra, "TNCONV_BENCH_APPEND": "1"}, check=True)
    return 0


def forward_report(args) -> list[str]:
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    warnings.filterwarnings("ignore", message=".*range.*")
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    head = (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, BLAS: {blas_kernel()}. "
            f"Load average at start {load0[0]:.1f} (1 min) / {load0[1]:.1f} (5 min).")
    print(head, flush=True)
    lim = machine_limits(args.repeats)
    limits = (f"Measured now: GEMM 2048^3 float64 {lim['float64'][0] / 1e9:.1f} GFLOP/s wall (all threads), "
              f"{lim['float64'][1] / 1e9:.1f} GFLOP/s per CPU-second (1 thread); float32 "
              f"{lim['float32'][0] / 1e9:.1f} / {lim['float32'][1] / 1e9:.1f}; copy bandwidth "
              f"{lim['bandwidth'] / 1e9:.1f} GB/s.")
    print(limits, flush=True)
    md = ["## Forward against the roofline (benchmarks/contraction.py)", "", head, limits, "",
          f"Deep ConvAC, M = 8, batch {args.batch}, medians of {args.repeats}. roofline = max(GEMM flops / GEMM "
          "rate, (features + weights + output bytes) / bandwidth). `wall/roof` uses the wall-clock GEMM rate "
          "(all threads), `cpu/roof` the forward's process CPU time against the one-thread GEMM rate per "
          "CPU-second (robust to other jobs on the machine); `engine cpu/roof` the same for `levels.run_levels` "
          "alone (no feature checks). Leaf weights are scaled so that outputs are near 1 (no range warning). "
          "Bands: the levels one task runs in cache, each "
          "against its own roofline (wall). peak: tracemalloc peak of one forward over the largest live "
          "intermediate counted by `levels.live_bytes` (band input and output plus every running task's "
          "scratch: the bound the budget check refuses on), and over the largest band input plus output "
          f"alone (`peak/band`). Rows whose weights + features + live bytes exceed {args.budget_mib:g} MiB "
          "are refused before the model is built.", "",
          "| inputs | width | dtype | GFLOP | forward (wall) | roofline | wall/roof | cpu/roof | bound | per band "
          "(levels: wall/roof) | live MiB | peak/live | peak/band | nodes/levels | engine cpu/roof |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print(md[-2])
    grid = GOAL_GRID if args.grid else QUICK_GRID if args.quick else FORWARD_GRID
    for shape, w, dt in grid:
        r = forward_row(shape, w, dt, args.batch, lim, args.repeats, args.budget_mib * 2**20)
        if "refused" in r:
            line = f"| {shape} | {w} | {dt} | refused: {r['refused']} |" + " |" * 11
        else:
            nodes = "-" if r["nodes"] is None else f"{r['nodes'] / r['wall']:.2f}x"
            line = (f"| {shape} | {w} | {dt} | {r['gflops']:.2f} | {r['wall'] * 1e3:.1f} ms "
                    f"| {r['roof_wall'] * 1e3:.1f} ms "
                    f"| {r['wall'] / r['roof_wall']:.2f}x | {r['cpu'] / r['roof_cpu']:.2f}x | {r['bound']} "
                    f"| {r['bands']} | {r['live'] / 2**20:.1f} | {r['peak'] / r['live']:.2f}x "
                    f"| {r['peak'] / r['largest']:.1f}x | {nodes} "
                    f"| {r['engine_cpu'] / r['roof_cpu']:.2f}x{'' if r['in_range'] else ' (output out of range)'} |")
        print(line, flush=True)
        md.append(line)
    if args.grid:
        load1 = os.getloadavg()
        tail = f"Load average at end {load1[0]:.1f}; total {time.perf_counter() - t_start:.0f} s."
        print(tail)
        return md + ["", tail, ""]
    md += ["", "### Small networks: tn.contract(F) on the structure path against opt_einsum greedy", "",
           f"Batch 64, float64, medians of {max(5, args.repeats)} (wall). `structure`: the whole `tn.contract(F)` call "
           "(checks, cached compiled path); `structure+oe`: a prebuilt opt_einsum expression of the same path; "
           "`greedy`: a prebuilt expression of opt_einsum's greedy path (contraction only); `greedy call`: "
           "`tn.contract(F, optimize='greedy')` (path cached after the first call). peak: tracemalloc peak of "
           "`tn.contract(F)` over the structure path's largest intermediate.", "",
           "| network | steps | structure | structure+oe | greedy | greedy call | greedy / structure | peak/largest |",
           "|---|---|---|---|---|---|---|---|"]
    print("\n".join(md[-2:]))
    for shape, M, w in SMALL_NETS:
        r = small_row(shape, M, w, 64, max(5, args.repeats))
        g = r["greedy"]
        line = (f"| {r['net']} | {r['steps']} | {r['structure'] * 1e3:.2f} ms | {r['structure+oe'] * 1e3:.2f} ms | "
                + (f"{g * 1e3:.2f} ms | {r['greedy_call'] * 1e3:.2f} ms | {g / r['structure']:.2f}x"
                   if g is not None else f"- | - | {r['greedy_why']}")
                + f" | {r['peak_ratio']:.2f}x |")
        print(line, flush=True)
        md.append(line)
    load1 = os.getloadavg()
    tail = f"Load average at end {load1[0]:.1f}; total {time.perf_counter() - t_start:.0f} s."
    print(tail)
    md += ["", tail, ""]
    return md


if __name__ == "__main__":
    if "--paths" in sys.argv[1:]:
        raise SystemExit(paths_main())
    if "--small" in sys.argv[1:]:
        raise SystemExit(small_report())
    raise SystemExit(main())
