"""Min-cut solvers: per-query time vs N, loopy networks, and batched throughput.

Compares, in one run and on the same partitions:

* ``tree``: tnconv's vectorized tree DP (forest networks only);
* ``scipy``: tnconv's flow network on ``scipy.sparse.csgraph.maximum_flow`` (Dinic);
* ``nx:<flow>``: tnconv's flow network (hyperedge gadget, reused residual network) with each networkx
  flow function;
* ``ref``: the reference, networkx's default ``minimum_cut`` (preflow_push) on the plain graph
  (``TensorNetwork.graph`` with copy tensors as ordinary nodes and ``log2(dim)`` capacities), as a
  user would call it. Its bound can be looser (a copy tensor is charged per leg).

Times are medians over repeats of one query on an already prepared network (preparation is listed
separately). Ratios are ``ref / solver``. Usage::

    python benchmarks/mincut.py            # full run, < 10 min on 2 cores
    python benchmarks/mincut.py --quick    # a small subset for notebooks / CI
    python benchmarks/mincut.py --goal-only  # issue 15 goal 4 only: N = 16,384 against the draw time
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import networkx as nx
import numpy as np

import tnconv as tc
from tnconv.mincut import min_cut, min_cuts, prepare

FLOWS = ["boykov_kolmogorov", "preflow_push", "shortest_augmenting_path", "edmonds_karp", "dinitz"]


def timeit(fn: Callable[[], Any], repeats: int, budget: float = 2.0) -> tuple[float, Any]:
    """Median wall time of ``fn`` (fewer repeats when a call is slow)."""
    times, out = [], None
    t_start = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - t_start > budget:
            break
    return statistics.median(times), out


def plain_graph(tn: Any) -> nx.Graph:
    G = nx.Graph()
    for u, v, d in tn.graph.edges(data=True):
        G.add_edge(u, v, capacity=math.log2(d["dim"]))
    return G


def ref_min_cut(G: nx.Graph, part: frozenset, n_open: int) -> float:
    H = G.copy()
    for p in range(n_open):
        if p in part:
            H.add_edge("s", ("open", p))
        else:
            H.add_edge(("open", p), "t")
    value, _ = nx.minimum_cut(H, "s", "t", capacity="capacity")
    return value


def fmt(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def table(rows: list[list[str]], header: list[str]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def bench_sizes(sizes: list[Any], flows: list[str], repeats: int, slow_cap: float) -> str:
    rows = []
    skip: set[str] = set()
    for n in sizes:
        net = tc.deep(n, 4, 4, seed=0)
        N = net.n_inputs
        part = tc.partitions.random(N, seed=1)
        t0 = time.perf_counter()
        tn = net.to_tensor_network()
        prob = prepare(tn)
        min_cut(prob, part)  # builds the tree solver
        prep = time.perf_counter() - t0
        res: dict[str, tuple[float, float]] = {}
        t, c = timeit(partial(min_cut, prob, part, method="tree"), repeats)
        res["tree"] = (t, c.log2_bound)
        prob._scipy_network()
        t, c = timeit(partial(min_cut, prob, part, method="scipy"), repeats)
        res["scipy"] = (t, c.log2_bound)
        for f in flows:
            if f in skip:
                continue
            func = getattr(nx.algorithms.flow, f)
            t, c = timeit(partial(min_cut, prob, part, method="networkx", flow_func=func), repeats, budget=slow_cap)
            res["nx:" + f] = (t, c.log2_bound)
            if t > slow_cap:
                skip.add(f)
        if "ref" not in skip:
            G = plain_graph(tn)
            t, v = timeit(partial(ref_min_cut, G, part, N), repeats, budget=slow_cap)
            res["ref"] = (t, v)
            if t > slow_cap:
                skip.add("ref")
        ref = res.get("ref", (None, None))[0]
        shape = "x".join(map(str, n)) if isinstance(n, tuple) else str(n)
        best_nx = min((v[0] for k, v in res.items() if k.startswith("nx:")), default=None)
        row = [shape, str(N), f"{res['tree'][1]:.0f}", fmt(prep), fmt(res["tree"][0]), fmt(res["scipy"][0]),
               fmt(best_nx)]
        row += [fmt(res["nx:" + f][0]) if "nx:" + f in res else "skipped" for f in flows]
        row += [fmt(ref), f"{res['ref'][1]:.0f}" if ref else "-"]
        row += [f"{ref / res['tree'][0]:.0f}x" if ref else "-", f"{ref / res['scipy'][0]:.0f}x" if ref else "-"]
        agree = {round(v[1], 6) for k, v in res.items() if k != "ref"}
        if len(agree) != 1:
            raise AssertionError(f"solvers disagree at {shape}: {res}")
        rows.append(row)
        print("  " + " | ".join(row), file=sys.stderr)
    header = ["inputs", "N", "log2 bound", "prepare", "tree", "scipy", "best nx (gadget)"]
    header += ["nx:" + f for f in flows] + ["ref nx default (plain)", "ref log2", "ref/tree", "ref/scipy"]
    return table(rows, header)


def peps(h: int, w: int, d: int, chi: int) -> Any:
    from opt_einsum import get_symbol

    sym = iter(get_symbol(k) for k in range(100_000))
    phys = {(r, c): next(sym) for r in range(h) for c in range(w)}
    bonds: dict[tuple[int, int], list[str]] = {(r, c): [] for r in range(h) for c in range(w)}
    for r in range(h):
        for c in range(w):
            for nb in ((r, c + 1), (r + 1, c)):
                if nb in bonds:
                    x = next(sym)
                    bonds[r, c].append(x)
                    bonds[nb].append(x)
    terms = [phys[rc] + "".join(bonds[rc]) for rc in phys]
    shapes = [[d] + [chi] * len(bonds[rc]) for rc in phys]
    return tc.TensorNetwork.from_einsum(",".join(terms) + "->" + "".join(phys[rc] for rc in phys), shapes)


def bench_loopy(cases: list[tuple[str, Any, frozenset]], flows: list[str], repeats: int, slow_cap: float) -> str:
    rows = []
    for name, tn, part in cases:
        prob = prepare(tn)
        N = prob.n_open
        t0 = time.perf_counter()
        min_cut(prob, part, method="scipy")
        prep = time.perf_counter() - t0
        res = {}
        t, c = timeit(partial(min_cut, prob, part, method="scipy"), repeats)
        res["scipy"] = (t, c.log2_bound)
        for f in flows:
            func = getattr(nx.algorithms.flow, f)
            t, c = timeit(partial(min_cut, prob, part, method="networkx", flow_func=func), repeats, budget=slow_cap)
            res["nx:" + f] = (t, c.log2_bound)
        G = plain_graph(tn)
        t, v = timeit(partial(ref_min_cut, G, part, N), repeats, budget=slow_cap)
        res["ref"] = (t, v)
        best = min(res, key=lambda k: res[k][0] if k != "ref" else math.inf)
        row = [name, str(N), f"{res['scipy'][1]:.6g}", fmt(prep), fmt(res["scipy"][0])]
        row += [fmt(res["nx:" + f][0]) for f in flows]
        same = all(math.isclose(res[k][1], res["ref"][1], rel_tol=1e-6) for k in res)
        row += [fmt(res["ref"][0]), f"{res['ref'][1]:.6g}", best, f"{res['ref'][0] / res[best][0]:.0f}x",
                "yes" if same else "NO"]
        rows.append(row)
        print("  " + " | ".join(row), file=sys.stderr)
    header = ["network", "open legs", "log2 bound", "prepare", "scipy"] + ["nx:" + f for f in flows]
    header += ["ref nx default", "ref log2", "best", "ref/best", "same bound"]
    return table(rows, header)


def bench_throughput(N: int, n_parts: int, repeats: int) -> str:
    net = tc.deep(N, 4, 4, seed=0)
    prob = prepare(net)
    parts = [tc.partitions.random(N, seed=s) for s in range(n_parts)]
    min_cuts(prob, parts[:2])
    prob._scipy_network()
    rows = []
    t, _ = timeit(lambda: min_cuts(prob, parts), repeats, budget=20)
    rows.append(["tree (batched, vectorized)", str(n_parts), fmt(t), fmt(t / n_parts)])
    k = min(n_parts, 100)
    t, _ = timeit(lambda: min_cuts(prob, parts[:k], method="scipy"), 1)
    rows.append(["scipy (reused network)", str(k), fmt(t * n_parts / k) + " (extrapolated)", fmt(t / k)])
    k = min(n_parts, 10)
    t, _ = timeit(lambda: min_cuts(prob, parts[:k], method="networkx"), 1)
    rows.append(["networkx boykov_kolmogorov (reused residual)", str(k), fmt(t * n_parts / k) + " (extrapolated)",
                 fmt(t / k)])
    G = plain_graph(prob.tn)
    t, _ = timeit(lambda: [ref_min_cut(G, p, N) for p in parts[:3]], 1)
    rows.append(["ref: nx default minimum_cut, plain graph", "3", fmt(t * n_parts / 3) + " (extrapolated)", fmt(t / 3)])
    return table(rows, ["solver", "partitions timed", f"time for {n_parts}", "per partition"])


def bench_spectrum(cases: list[tuple[int, int, Any]]) -> str:
    from tnconv.measures import network_schmidt_values

    rows = []
    for N, w, part in cases:
        net = tc.deep(N, 2, w, seed=0, init="orthogonal")
        part = part(N)
        cut = min_cut(net, part)
        t, s = timeit(partial(network_schmidt_values, net, part, normalize=True), 3, budget=10)
        rows.append([str(N), str(w), str(len(part)), str(cut.bound), fmt(t), str(int(np.count_nonzero(s)))])
    return table(rows, ["N", "width", "|I|", "cut dim", "time (spectrum)", "values above floor"])


def draw_time(n_weights: int, repeats: int = 2) -> float:
    """The reference of issue 15 goal 4: numpy drawing ``n_weights`` standard normals (median)."""
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        x = np.random.default_rng(k).standard_normal(n_weights)
        times.append(time.perf_counter() - t0)
        del x
    return statistics.median(times)


def bench_goal(shape: tuple[int, int], M: int, width: int, n_parts: int) -> list[list[str]]:
    """Issue 15 goal 4: the first min cut and ``n_parts`` random partitions against the draw time."""
    N = shape[0] * shape[1]
    net = tc.deep(shape, M, width, seed=0)
    n_weights = sum(int(w.size) for w in net.weights.values())
    draw = draw_time(n_weights)
    parts = [tc.partitions.random(N, seed=s) for s in range(n_parts)]
    t0 = time.perf_counter()
    first = min_cut(net, parts[0])  # compiles the network, builds the cut problem and the tree solver
    t_first = time.perf_counter() - t0
    t_many, cuts = timeit(lambda: min_cuts(net, parts), 3, budget=10)
    assert cuts[0].bound == first.bound
    rows = [
        [f"draw {n_weights / 1e6:.1f}M weights (numpy standard_normal)", fmt(draw), "1", "reference"],
        ["first min_cut (compile + prepare + solve)", fmt(t_first), f"{t_first / draw:.2f}", "<= 1"],
        [f"{n_parts} random partitions (min_cuts, prepared)", fmt(t_many), f"{t_many / draw:.2f}", "<= 0.5"],
        [f"  per partition (N = {N})", fmt(t_many / n_parts), "", ""],
    ]
    return rows


def bench_vectorized(n_many: int, many_n: int) -> list[list[str]]:
    """``min_cuts`` over ``n_many`` random partitions (one boolean array) against one ``min_cut`` per partition."""
    net1 = tc.deep(many_n, 4, 4, seed=0)
    prob = prepare(net1)
    min_cut(prob, [0])
    rng = np.random.default_rng(0)
    masks = rng.permuted(np.arange(many_n)[None, :].repeat(n_many, 0) < many_n // 2, axis=1)
    t_vec, _ = timeit(lambda: min_cuts(prob, masks), 1)
    k = min(n_many, 300)
    t_one = timeit(lambda: [min_cut(prob, m) for m in masks[:k]], 1)[0] / k
    return [[f"{n_many} random partitions, N = {many_n} (min_cuts, vectorized)", fmt(t_vec),
             f"{t_one * n_many / t_vec:.1f}x faster", f"than {n_many} min_cut calls ({fmt(t_one)} each)"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only (about 30 s)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--goal-only", action="store_true", help="only the issue-15 goal rows (about a minute)")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    if args.quick:
        sizes_1d, sizes_2d, peps_size, n_parts = [64, 1024], [(16, 16)], (12, 12), 200
        flows, slow_cap = ["boykov_kolmogorov", "preflow_push"], 1.0
    else:
        sizes_1d = [64, 256, 1024, 4096, 16384]
        sizes_2d = [(8, 8), (16, 16), (32, 32), (64, 64), (128, 128)]
        peps_size, n_parts, flows, slow_cap = (32, 32), 1000, FLOWS, 3.0
    goal = ((32, 32), 256, 32, 200, 2000, 1024) if args.quick else ((128, 128), 256, 32, 200, 10_000, 1024)
    print(f"## Issue 15 goal 4: min cuts at N = {goal[0][0] * goal[0][1]} against the weights' draw time\n")
    print(f"deep({goal[0]}, M = {goal[1]}, width {goal[2]}), random half partitions; ratios in this run.\n")
    rows = bench_goal(*goal[:4])  # the model (1 GiB at full size) is freed before the next rows
    rows += bench_vectorized(*goal[4:])
    print(table(rows, ["step", "time", "ratio to draw", "goal"]))
    if args.goal_only:
        return 0
    print("\n## Min-cut solvers\n")
    print("Deep ConvAC, M = 4, width 4, binary (1D) / 2x2 (2D) contiguous pooling; one random half partition.\n")
    print("### 1D\n")
    print(bench_sizes(sizes_1d, flows, args.repeats, slow_cap))
    print("\n### 2D\n")
    print(bench_sizes(sizes_2d, flows, args.repeats, slow_cap))
    print("\n### Loopy networks (no tree DP)\n")
    h, w = peps_size
    cases = [(f"PEPS {h}x{w}, bond 4, d 2, left half", peps(h, w, 2, 4), tc.partitions.left_right((h, w))),
             (f"PEPS {h}x{w}, bond 4, d 2, center", peps(h, w, 2, 4), tc.partitions.center_periphery((h, w)))]
    try:
        import quimb.tensor as qtn

        L = 16 if not args.quick else 8
        q = qtn.PEPS.rand(L, L, bond_dim=3, phys_dim=2, seed=0)
        tn = tc.TensorNetwork.from_quimb(q)  # the site indices, in site order
        cases.append((f"quimb PEPS.rand {L}x{L}, bond 3 (float capacities)", tn, tc.partitions.checkerboard((L, L))))
    except ImportError:
        print("(quimb not installed: imported-network case skipped)")
    print(bench_loopy(cases, flows, args.repeats, slow_cap))
    print(f"\n### Throughput: {n_parts} random partitions, deep 1D ConvAC, N = 1024\n")
    print(bench_throughput(1024, n_parts, 3))
    print("\n### Exact spectra through the cut (Gram method), deep ConvAC M = 2\n")
    spec = [(256, 4, tc.partitions.left_right), (1024, 4, tc.partitions.left_right),
            (256, 2, lambda n: [i for b in range(0, n, n // 8) for i in range(b, b + 4)])]
    if not args.quick:
        spec.append((4096, 8, tc.partitions.left_right))
        spec.append((256, 2, lambda n: [i for b in range(0, n, n // 16)[:10] for i in range(b, b + 4)]))
    print(bench_spectrum(spec))
    print(f"\nTotal benchmark time: {time.perf_counter() - t_all:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
