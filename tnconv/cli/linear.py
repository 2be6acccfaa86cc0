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

from .common import int_at_least, progress
from .output import add_json_flag, write_json

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
    p.add_argument("--p", type=_float_list, default=[4.0, 2.0], help="l_p exponent(s), comma-separated")
    p.add_argument("--depths", type=_int_list, default=[1, 2, 3], help="depths, comma-separated (add 4 for more)")
    p.add_argument("--datasets", default="diabetes,synthetic", help="diabetes and/or synthetic")
    p.add_argument("--iters", type=int_at_least(1), default=2000, help="steps per run")
    p.add_argument("--lrs", type=int_at_least(1), default=29, help="learning rates in the log grid 1e-4..1e3")
    p.add_argument("--target", type=float, default=1e-4, help="relative target")
    p.add_argument("--init-scale", type=float, default=1e-2, help="||w0||")
    p.add_argument("--wide", type=int_at_least(1), default=8, help="hidden width of the wide variant")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the data and the initialization")
    p.add_argument("--out", default=None, metavar="DIR", help="directory for linear_accel.png and linear_accel.json")
    add_json_flag(p)
    p.set_defaults(func=cmd_linear_accel)
    return p


def cmd_linear_accel(args: argparse.Namespace) -> int:
    """Execute ``tnconv linear-accel``: print the table (``--json``: the results as one JSON object),
    write JSON + PNG to ``--out``; returns 0.

    Without matplotlib the JSON is still written, and a one-line message says that the figure is not
    (the same message and status as ``tnconv experiments run``).
    """
    import numpy as np

    from ..experiments.linear_acceleration import DATASETS, format_table, plot, run, save
    from .experiments import no_figure

    datasets = [d.strip() for d in str(args.datasets).split(",") if d.strip()]
    for d in datasets:
        if d not in DATASETS:
            raise ValueError(f"unknown dataset {d!r} in --datasets; choose from {list(DATASETS)}")
    options = {"depths": args.depths, "n_iter": args.iters, "lr_grid": np.logspace(-4, 3, args.lrs),
               "rel_target": args.target, "init_scale": args.init_scale, "wide": args.wide, "seed": args.seed}
    pairs = [(d, p) for d in datasets for p in args.p]
    results = [run(p=p, dataset=d, **options) for d, p in progress(pairs, desc="linear-accel")]
    wrote: dict[str, str | None] = {"json": None, "png": None}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        wrote["json"] = str(save(results, out / "linear_accel.json"))
        try:
            plot(results, out / "linear_accel.png")
            wrote["png"] = str(out / "linear_accel.png")
        except ImportError as exc:  # the data is worth having without the picture
            no_figure("linear-accel", exc, wrote["json"])
    if getattr(args, "json", False):
        write_json({"command": "linear-accel", "results": [r.to_dict() for r in results], **wrote},
                   getattr(args, "argv", None))
        return 0
    print(format_table(results))
    if args.out:
        print(f"wrote {wrote['json']}" + (f" and {wrote['png']}" if wrote["png"] else ""))
    return 0
