"""Building mode trees: every constructor and the model-file tree parser against a bare frozenset build.

A ModeTree stores every node as a frozenset of its inputs, so a binary tree over ``n`` leaves holds
``2n - 1`` frozensets with ``n (log2 n + 1)`` positions in all. The reference, timed in the same run,
is the least any such tree costs in Python: the ``2n - 1`` node frozensets built level by level with
``a | b`` into a plain list (``ref nodes``). ``ref leaves`` (a list of ``n`` singleton frozensets) and
``np.arange(n)`` are printed too. Ratios are ``time / ref nodes``.

Rows (binary trees over ``n`` leaves unless said otherwise):

* ``balanced``, ``grid`` (a square image, 2x2 windows) and ``grid ragged`` (a ``(s+1) x (s+1)`` image:
  no side a power of 2);
* ``from_nested``: nested tuples, as a user writes them;
* ``mapping``: ``ModeTree({node: children})``, fully validated;
* ``from_codes`` / ``spec parser``: post-order codes, as model files store them
  (``tnconv.models.io_validate.tree_from_codes`` adds the JSON field checks);
* ``navigation``: ``height``, ``depth``, ``parent`` and ``children`` of every node.

Usage::

    python benchmarks/trees.py            # n = 2**14, 2**17, 2**20 (about 3 min on 2 busy cores)
    python benchmarks/trees.py --quick    # n = 2**10, 2**14
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tnconv.models.io_validate import SpecReader, tree_from_codes
from tnconv.trees import ModeTree


def timeit(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn``; results are dropped between calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        del out
    return statistics.median(times)


def ref_nodes(n: int) -> list[frozenset]:
    level = [frozenset((i,)) for i in range(n)]
    out = list(level)
    while len(level) > 1:
        level = [level[k] | level[k + 1] for k in range(0, len(level) - 1, 2)]
        out.extend(level)
    return out


def navigate(t: ModeTree) -> int:
    total = 0
    for v in t.nodes:
        total += t.height(v) + t.depth(v) + len(t.children(v)) + (t.parent(v) is None)
    return total


def fmt(t: float) -> str:
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def rows_for(n: int, reps: int) -> list[list[str]]:
    rows = []
    ref = timeit(lambda: ref_nodes(n), reps)
    ref_leaves = timeit(lambda: [frozenset((i,)) for i in range(n)], reps)
    arange = timeit(lambda: np.arange(n), reps)
    side = math.isqrt(n)
    tree = ModeTree.balanced(n)
    nested, codes = tree.to_nested(), tree.codes()
    mapping = {v: tree.children(v) for v in tree.internal_nodes}
    spec = SpecReader("bench.npz", {"tree": codes})
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("balanced", lambda: ModeTree.balanced(n)),
        (f"grid {side}x{side}", lambda: ModeTree.grid(side, side)),
        (f"grid ragged {side + 1}x{side + 1}", lambda: ModeTree.grid(side + 1, side + 1)),
        ("from_nested", lambda: ModeTree.from_nested(nested)),
        ("mapping", lambda: ModeTree(mapping)),
        ("from_codes", lambda: ModeTree.from_codes(codes)),
        ("spec parser", lambda: tree_from_codes(spec, codes)),
        ("navigation", lambda: navigate(tree)),
    ]
    label = f"2^{int(math.log2(n))}"
    for name, fn in cases:
        t = timeit(fn, reps)
        rows.append([label, name, fmt(t), fmt(ref), f"{t / ref:.2f}x"])
        print(" | ".join(rows[-1]), flush=True)
    rows.append([label, "(ref leaves / np.arange)", f"{fmt(ref_leaves)} / {fmt(arange)}", fmt(ref),
                 f"{ref_leaves / ref:.2f}x"])
    print(" | ".join(rows[-1]), flush=True)
    return rows


def run(sizes: list[int], repeats: int) -> list[list[str]]:
    rows = []
    for n in sizes:
        rows += rows_for(n, repeats if n <= 2**17 else 1)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 2**10 and 2**14 only")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per row up to n = 2**17 (default 5)")
    args = parser.parse_args(argv)
    sizes = [2**10, 2**14] if args.quick else [2**14, 2**17, 2**20]
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}; "
          f"load average {', '.join(f'{x:.1f}' for x in _load())}")
    rows = run(sizes, args.repeats)
    print()
    print("| n | what | time | ref nodes | ratio |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


def _load() -> tuple[float, ...]:
    try:
        import os

        return os.getloadavg()
    except (OSError, AttributeError):
        return ()


if __name__ == "__main__":
    main(sys.argv[1:])
