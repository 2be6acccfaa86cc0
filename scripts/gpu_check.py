"""One prepared GPU check for tnconv's CuPy backend: agreement with numpy, then throughput.

Run on a machine with CuPy and a CUDA device (a few minutes at most)::

    python scripts/gpu_check.py --out "$OUT"            # writes gpu_check.json and gpu_check.md
    python -m pytest -q tests/test_backends.py           # the cross-backend tests

Checks (float64, relative tolerances):
* ``forward`` on cupy (engines ``levels`` and ``nodes``, plain and ``log=True``) against numpy's
  reference engine, for product / relu_max / relu_sum over balanced, grid and random trees;
* the coefficient tensor by contraction on cupy against ``ConvAC.coefficient_tensor``;
* ``TensorNetwork.contract`` on cupy (structure path and opt_einsum ``greedy``) against numpy.
Throughput: ``forward`` on cupy vs numpy for deep ConvACs (N = 1024, 4096; width 16, 64; batch 256 and
4096), medians of synchronized runs, with GFLOP/s from the structure path's flop count. The markdown
output is a section for ``benchmarks/RESULTS.md``.

Exit status 0 when every agreement check passes, 1 otherwise, 2 when no GPU is usable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import tnconv as tc
from tnconv.contract.engine import coefficient_tensor, select_engine
from tnconv.contract.paths import structure_path


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.abs(b).max(), 1e-300)
    return float(np.abs(a - b).max() / scale)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "."), help="folder for gpu_check.json/.md")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="smaller throughput grid")
    args = ap.parse_args(argv)
    try:
        import cupy as cp

        n_dev = cp.cuda.runtime.getDeviceCount()
        props = cp.cuda.runtime.getDeviceProperties(0)
        device = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    except Exception as exc:
        print(f"no usable GPU: {exc}")
        return 2
    print(f"device: {device} ({n_dev} visible), cupy {cp.__version__}, numpy {np.__version__}")
    checks = []

    def check(name: str, err: float, tol: float) -> None:
        ok = bool(err <= tol)
        checks.append({"check": name, "rel_err": err, "tol": tol, "ok": ok})
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {err:.2e} (tol {tol:g})", flush=True)

    rng = np.random.default_rng(0)
    trees = {"balanced64": tc.ModeTree.balanced(64), "grid8x8": tc.ModeTree.grid(8, 8),
             "random19": tc.ModeTree.random(19, seed=2), "balanced4096": tc.ModeTree.balanced(4096)}
    for tname, tree in trees.items():
        for g in ("product", "relu_max", "relu_sum"):
            if tname == "balanced4096" and g != "product":
                continue
            net = tc.ConvNet(tree, 4, 8, n_outputs=3, g=g, seed=1)
            F = rng.standard_normal((32, tree.n_inputs, 4))
            Fd = cp.asarray(F)
            with np.errstate(all="ignore"):
                ref = net.forward(F, engine="reference")
                s0, l0 = net.forward(F, engine="reference", log=True)
            for eng in ("levels", "nodes"):
                if eng == "levels" and select_engine(net) != "levels":
                    continue
                out = net.forward(Fd, engine=eng)
                assert isinstance(out, cp.ndarray), "forward left the device"
                if np.all(np.isfinite(ref)):
                    check(f"forward {tname} {g} {eng}", rel_err(cp.asnumpy(out), ref), 1e-10)
                s, la = net.forward(Fd, engine=eng, log=True)
                fin = np.isfinite(l0)
                check(f"forward log {tname} {g} {eng}", float(np.abs(cp.asnumpy(la)[fin] - l0[fin]).max()), 1e-8)
                check(f"forward sign {tname} {g} {eng}", float(np.abs(cp.asnumpy(s) - s0).max()), 0.0)
    net = tc.deep(16, 2, 3, seed=0, n_outputs=2)
    A = coefficient_tensor(net, output=1, backend="cupy")
    check("coefficient tensor N=16", rel_err(cp.asnumpy(A), net.coefficient_tensor(output=1)), 1e-12)
    tn = tc.deep(64, 4, 8, seed=0).to_tensor_network()
    F = rng.standard_normal((16, 64, 4))
    ref = tn.contract(F)
    for opt in (None, "greedy"):
        out = tn.contract(cp.asarray(F), optimize=opt)
        check(f"generic contract optimize={opt}", rel_err(cp.asnumpy(out), ref), 1e-10)

    # ------------------------------------------------------------------ throughput
    rows = []
    grid = [(1024, 16, 256), (1024, 64, 256), (4096, 64, 256), (4096, 64, 4096)]
    if args.quick:
        grid = grid[:2]
    for N, w, B in grid:
        net = tc.deep(N, 8, w, seed=0)
        flops = structure_path(net.to_tensor_network(), features=True, batch=B).cost.flops
        F = rng.standard_normal((B, N, 8))
        Fd = cp.asarray(F)
        net.forward(Fd)
        cp.cuda.Stream.null.synchronize()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            net.forward(Fd)
            cp.cuda.Stream.null.synchronize()
            times.append(time.perf_counter() - t0)
        t_gpu = statistics.median(times)
        t_cpu = None
        if B <= 256:
            net.forward(F)
            cpu = []
            for _ in range(3):
                t0 = time.perf_counter()
                net.forward(F)
                cpu.append(time.perf_counter() - t0)
            t_cpu = statistics.median(cpu)
        row = {"N": N, "width": w, "batch": B, "gpu_ms": t_gpu * 1e3, "cpu_ms": None if t_cpu is None else t_cpu * 1e3,
               "gpu_gflops": flops / t_gpu / 1e9, "samples_per_s": B / t_gpu}
        rows.append(row)
        print(row, flush=True)
    ok = all(c["ok"] for c in checks)
    result = {"device": device, "cupy": cp.__version__, "numpy": np.__version__, "host": platform.node(),
              "checks": checks, "throughput": rows, "all_ok": ok}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu_check.json"), "w") as fh:
        json.dump(result, fh, indent=2)
    md = [f"## GPU check (scripts/gpu_check.py) on {device}", "",
          f"{sum(c['ok'] for c in checks)}/{len(checks)} numpy/cupy agreement checks passed "
          f"(largest relative error {max(c['rel_err'] for c in checks):.1e}).", "",
          "| N | width | batch | cupy forward | numpy forward | GFLOP/s (cupy) | samples/s |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        cpu = "-" if r["cpu_ms"] is None else f"{r['cpu_ms']:.1f} ms"
        md.append(f"| {r['N']} | {r['width']} | {r['batch']} | {r['gpu_ms']:.2f} ms | {cpu} | "
                  f"{r['gpu_gflops']:.0f} | {r['samples_per_s']:.3g} |")
    with open(os.path.join(args.out, "gpu_check.md"), "w") as fh:
        fh.write("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
