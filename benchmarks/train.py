"""Training throughput and time to a target accuracy: ``tnconv.train.fit`` against plain ConvAC code.

The same deep ConvAC (2x2 square pooling, unshared weights, ``M`` Gaussian pixel features, widths ``w``)
is trained on the same data, in the same run, by

* ``tnconv.train.fit`` with ``backend="jax"`` and ``backend="torch"``,
* the plain references of ``benchmarks/train_plain.py``, written the way public trainable ConvAC code
  is written (an einsum per layer and a product over the pooling windows; or, for log space, the SimNets
  way: a log-sum-exp per layer and a sum over the windows), in torch and in JAX (``jax.jit`` on the step).

Each pair trains the same parameterization: ``signed`` (tnconv) against the plain linear code, ``log``
(tnconv) against the plain log-space code. All float32 (tnconv's model dtype float32), Adam, the same
learning rate, batch size and epochs. Before timing, the plain forward is checked against tnconv's
forward on the same weights.

Columns: ``img/s`` = training images per second in the steady state (median epoch after the first,
each epoch including one validation pass); ``first epoch`` (JAX compiles there); ``to target``: wall time
until the validation accuracy first reaches ``--target`` (compilation included; ``-`` if never);
``ratio`` = tnconv's img/s over the plain code's of the same parameterization and backend.

Usage::

    PYTHONPATH=$PWD python benchmarks/train.py            # 8x8 digits, ~3 min on 2 cores
    PYTHONPATH=$PWD python benchmarks/train.py --quick    # fewer images and epochs
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import train_plain as plain

import tnconv as tc
from tnconv.experiments.trained_common import build_net, pixel_features


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    blas = "threadpoolctl not installed"
    try:
        from threadpoolctl import threadpool_info

        blas = "; ".join(f"{d.get('internal_api')} {d.get('version')} ({d.get('architecture')}, "
                         f"{d.get('num_threads')} threads)" for d in threadpool_info() if d.get("user_api") == "blas")
    except ImportError:
        pass
    import jax
    import torch

    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy {np.__version__}, "
            f"BLAS: {blas}; jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")


def summarize(name: str, hist: dict[str, list[float]], n_train: int, target: float) -> dict[str, Any]:
    secs = hist["seconds"]
    epochs = np.diff([0.0, *secs])
    steady = statistics.median(epochs[1:]) if len(epochs) > 1 else epochs[0]
    hit = next((s for s, a in zip(secs, hist["accuracy"]) if a >= target), None)
    return {"name": name, "img_s": n_train / steady, "first": float(epochs[0]), "to_target": hit,
            "best": max(hist["accuracy"])}


def run_tnconv(net: Any, F: np.ndarray, y: np.ndarray, Fv: np.ndarray, yv: np.ndarray, backend: str,
               parameterization: str, args: argparse.Namespace) -> dict[str, list[float]]:
    res = tc.train.fit(net, F.reshape(len(F), -1, F.shape[-1]), y, epochs=args.epochs, batch_size=args.batch,
                       lr=args.lr, seed=0, backend=backend, parameterization=parameterization, progress=False,
                       validation=(Fv.reshape(len(Fv), -1, Fv.shape[-1]), yv))
    return {"seconds": list(np.cumsum(res.history["seconds"])), "accuracy": res.history["val_accuracy"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=8)
    ap.add_argument("--task", default="global")
    ap.add_argument("--M", type=int, default=2)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--n-val", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--target", type=float, default=0.5)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.n_val, args.epochs = 1000, 500, 3
    print("Machine:", machine())
    X, y = tc.datasets.digits_canvas(args.n_train, canvas=args.side, task=args.task, seed=0, split="train")
    Xv, yv = tc.datasets.digits_canvas(args.n_val, canvas=args.side, task=args.task, seed=1, split="test")
    # Unit-RMS features keep the plain linear code's products at unit scale (its init assumes it).
    F, Fv = pixel_features(X, args.M, 1.0), pixel_features(Xv, args.M, 1.0)
    scale = float(np.sqrt(np.mean(F**2)))
    F, Fv = F / scale, Fv / scale
    L = args.side.bit_length() - 1
    spec = {"side": args.side, "geometry": "square", "M": args.M, "widths": [args.width] * L, "n_outputs": 10}
    img = (args.side, args.side, args.M)
    rows = []
    for par, log in (("signed", False), ("log", True)):
        w0 = plain.init_weights(args.side, args.M, [args.width] * L, 10, seed=0, log=log)
        net = build_net(spec, 0)
        weights = {}
        for lvl, arr in enumerate(w0):  # the same starting weights for tnconv (positive ones in log space)
            side, block = args.side >> lvl, 1 << lvl
            for i in range(side):
                for j in range(side):
                    node = frozenset(r * args.side + c for r in range(i * block, (i + 1) * block)
                                     for c in range(j * block, (j + 1) * block))
                    weights[node] = np.exp(arr[i, j]) if log else arr[i, j]
        net = tc.ConvNet(net.tree, args.M, [args.width] * L, n_outputs=10, weights=weights, dtype="float32")
        ref = net.forward(F[:8].astype(np.float64).reshape(8, -1, args.M))
        got = plain.forward_numpy([np.exp(a) if log else a for a in w0], F[:8].reshape(8, *img))
        assert np.allclose(ref, got, rtol=1e-4, atol=1e-30), "plain forward differs from tnconv's"
        Ff, Fvf = F.reshape(len(F), *img), Fv.reshape(len(Fv), *img)
        opts = {"epochs": args.epochs, "batch_size": args.batch, "lr": args.lr, "seed": 0, "log": log}
        for backend in ("jax", "torch"):
            t = run_tnconv(net, F, y, Fv, yv, backend, par, args)
            rows.append((par, backend, summarize(f"tnconv fit ({backend})", t, args.n_train, args.target)))
            trainer = plain.train_jax if backend == "jax" else plain.train_torch
            p = trainer(w0, Ff, y, Fvf, yv, **opts)
            rows.append((par, backend, summarize(f"plain {backend}", p, args.n_train, args.target)))
            print(f"  done {par} {backend}", flush=True)
    print(f"\n{args.side}x{args.side} digits_canvas ({args.task}), M={args.M}, width {args.width}, "
          f"{args.n_train} train / {args.n_val} val, batch {args.batch}, {args.epochs} epochs, lr {args.lr}, "
          f"target {args.target:.0%}\n")
    print("| parameterization | backend | code | img/s | first epoch | to target | best val acc | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for k in range(0, len(rows), 2):
        (par, be, t), (_, _, p) = rows[k], rows[k + 1]
        for r in (t, p):
            hit = "-" if r["to_target"] is None else f"{r['to_target']:.1f} s"
            ratio = f"{t['img_s'] / p['img_s']:.2f}x" if r is t else ""
            print(f"| {par} | {be} | {r['name']} | {r['img_s']:.0f} | {r['first']:.1f} s | {hit} | "
                  f"{r['best']:.3f} | {ratio} |")
    return 0


if __name__ == "__main__":
    t0 = time.perf_counter()
    code = main()
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
    sys.exit(code)
