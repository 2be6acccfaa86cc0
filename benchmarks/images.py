"""Images of any size: a 100x100 ConvAC with M = 256, end to end, against numpy in the same run.

Rows, for the default pooling (2x2 windows, ragged edges absorbed: 100 -> 50 -> 25 -> 12 -> 6 -> 3 -> 1)
and for explicit windows ``[(2, 2), (5, 5), (5, 5), (2, 2)]`` (a uniform tree):

* ``construct``: ``tc.deep((100, 100), 256, width, seed=0)``, against ``draw``, numpy drawing the same
  number of standard normal weights (``default_rng(0).standard_normal``);
* ``min cut``: checkerboard and left/right (the first call builds the flow structures), then 100 random
  half/half partitions through ``tc.min_cuts``; against ``draw``;
* ``forward log``: ``forward(x, log=True)`` on a batch, against ``gemm``, one numpy matmul with the flops
  of the leaf level (``(batch * N, M) @ (M, width)``, the largest level) and ``draw``;
* ``entropy``: ``tc.entanglement_entropy`` through a small cut (the inputs of one child of the root:
  the cut is one bond of dimension ``width``), against ``draw``.

Usage::

    python benchmarks/images.py                # 100x100, M = 256, width 16, batch 16 (~2 min, 2 busy cores)
    python benchmarks/images.py --quick        # 28x28, M = 16, width 4
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tnconv as tc


def timeit(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fmt(t: float) -> str:
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def blas_kernel() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    info = [f"{d.get('internal_api')} {d.get('version')} {d.get('architecture')}" for d in threadpool_info()
            if d.get("user_api") == "blas"]
    return ", ".join(info) or "unknown"


def rows_for(label: str, shape: tuple[int, int], M: int, width: int, batch: int, windows: Any,
             repeats: int) -> list[list[str]]:
    rows: list[list[str]] = []

    def add(what: str, t: float, ref_name: str, ref: float, note: str = "") -> None:
        rows.append([label, what, fmt(t), f"{ref_name} {fmt(ref)}", f"{t / ref:.3g}x", note])
        print(" | ".join(rows[-1]), flush=True)

    t_build, net = timeit(lambda: tc.deep(shape, M, width, windows=windows, seed=0), 1)
    n_params = net.n_parameters
    t_draw, _ = timeit(lambda: np.random.default_rng(0).standard_normal(n_params), repeats)
    levels = net.tree.height(net.tree.root)
    add("construct", t_build, "draw", t_draw, f"{n_params:,} weights, {levels} levels")

    P = tc.partitions
    for name in ("checkerboard", "left_right"):
        part = P.named(name, shape)
        t, cut = timeit(lambda part=part: tc.min_cut(net, part), 1)
        add(f"min cut {name} (first call)" if name == "checkerboard" else f"min cut {name}", t, "draw", t_draw,
            f"log2 bound {cut.log2_bound:.1f}")
    parts = [P.random(shape, seed=k) for k in range(100)]
    t, cuts = timeit(lambda: tc.min_cuts(net, parts), repeats)
    add("min cuts, 100 random", t, "draw", t_draw, f"median log2 bound {np.median([c.log2_bound for c in cuts]):.0f}")

    x = np.random.default_rng(1).random((batch, net.n_inputs, M))
    t_fwd, (_, log_abs) = timeit(lambda: net.forward(x, log=True), repeats)
    a = x.reshape(-1, M)
    w_leaf = np.random.default_rng(2).standard_normal((M, width))
    t_gemm, _ = timeit(lambda: a @ w_leaf, repeats)
    add(f"forward log, batch {batch}", t_fwd, "gemm", t_gemm,
        f"{t_fwd / t_draw:.2f}x draw; finite: {bool(np.isfinite(log_abs).all())}")

    node = net.tree.children(net.tree.root)[0]
    t_ent, ent = timeit(lambda: tc.entanglement_entropy(net, node), 1)
    add(f"entropy, cut {width} ({len(node)} pixels)", t_ent, "draw", t_draw, f"S = {float(ent):.4f} nats")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="28x28, M = 16, width 4")
    parser.add_argument("--width", type=int, default=None, help="channels per node (default 16; quick 4)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.quick:
        shape, M, width = (28, 28), 16, args.width or 4
        variants = [("28x28 default", None), ("28x28 windows [2,2,7]", [(2, 2), (2, 2), (7, 7)])]
    else:
        shape, M, width = (100, 100), 256, args.width or 16
        variants = [("100x100 default", None), ("100x100 windows [2,5,5,2]", [(2, 2), (5, 5), (5, 5), (2, 2)])]
    print(f"python {platform.python_version()}, numpy {np.__version__}, BLAS {blas_kernel()}; "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}; M = {M}, width = {width}")
    rows = []
    for label, windows in variants:
        rows += rows_for(label, shape, M, width, args.batch, windows, args.repeats)
    print()
    print("| model | what | time | reference | ratio | note |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
