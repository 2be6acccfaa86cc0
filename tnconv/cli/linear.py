"""``tnconv linear-accel``: implicit acceleration by depth on l_p regression (arXiv:1802.06509).

The experiment is :mod:`tnconv.experiments.linear_acceleration`; this module parses its options.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tnconv")
>>> _ = register_cli(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["linear-accel", "--p", "4", "--depths", "1,2"])
>>> args.p, args.depths, args.iters
([4.0], [1, 2], 2000)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["cmd_linear_accel", "register_cli"]


def _int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``linear-accel`` subcommand.

    ``tnconv linear-accel --p 4 --depths 1,2,3 --iters 2000 --out DIR`` prints the table and writes
    ``DIR/linear_accel.png`` and ``DIR/linear_accel.json``.
    """
    p = subparsers.add_parser(
        "linear-accel",
        help="implicit acceleration by depth on l_p regression (arXiv:1802.06509)",
        description="Compare plain GD, deep linear networks (factor GD), the end-to-end rule, AdaGrad, "
        "AdaDelta, Adam and Nesterov on l_p regression, each with its learning rate grid-searched "
        "over the same grid, and report iterations to a target loss.",
    )
    p.add_argument("--p", type=_float_list, default=[4.0, 2.0], help="l_p exponent(s), comma-separated (default 4,2)")
    p.add_argument("--depths", type=_int_list, default=[1, 2, 3], help="depths (default 1,2,3; add 4 for more)")
    p.add_argument("--datasets", default="diabetes,synthetic", help="diabetes and/or synthetic")
    p.add_argument("--iters", type=int, default=2000, help="steps per run (default 2000)")
    p.add_argument("--lrs", type=int, default=29, help="learning rates in the log grid 1e-4..1e3 (default 29)")
    p.add_argument("--target", type=float, default=1e-4, help="relative target (default 1e-4)")
    p.add_argument("--init-scale", type=float, default=1e-2, help="||w0|| (default 1e-2)")
    p.add_argument("--wide", type=int, default=8, help="hidden width of the wide variant (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="directory for linear_accel.png and linear_accel.json")
    p.set_defaults(func=cmd_linear_accel)
    return p


def cmd_linear_accel(args: argparse.Namespace) -> int:
    """Execute ``tnconv linear-accel``: print the table, write PNG + JSON to ``--out``; returns 0."""
    import numpy as np

    from ..experiments.linear_acceleration import DATASETS, format_table, plot, run_all, save

    datasets = [d.strip() for d in str(args.datasets).split(",") if d.strip()]
    for d in datasets:
        if d not in DATASETS:
            raise SystemExit(f"tnconv linear-accel: unknown dataset {d!r}; choose from {DATASETS}")
    if args.lrs < 1:
        raise SystemExit(f"tnconv linear-accel: --lrs must be >= 1, got {args.lrs}")
    try:
        results = run_all(
            ps=args.p, datasets=datasets, depths=args.depths, n_iter=args.iters,
            lr_grid=np.logspace(-4, 3, args.lrs), rel_target=args.target, init_scale=args.init_scale,
            wide=args.wide, seed=args.seed,
        )
    except ValueError as exc:
        raise SystemExit(f"tnconv linear-accel: {exc}") from None
    print(format_table(results))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        save(results, out / "linear_accel.json")
        plot(results, out / "linear_accel.png")
        print(f"wrote {out / 'linear_accel.json'} and {out / 'linear_accel.png'}")
    return 0
