"""Implicit acceleration by depth: l_p regression with deep linear networks vs adaptive optimizers.

The claim checked (Arora, Cohen & Hazan 2018, Section 8): on l_4 regression, overparameterizing a linear
model by depth 2 or 3 (even with hidden width 1) speeds gradient descent up by orders of magnitude and
beats AdaGrad and AdaDelta; on l_2 regression depth gains nothing.

Protocol (the same for every optimizer, so the comparison is fair):

* every optimizer starts from the same end-to-end weight vector ``w0`` (factor networks from a balanced
  factorization of it) and runs ``n_iter`` full-batch steps;
* every optimizer gets the same learning-rate grid (``lr_grid``, log-spaced) and therefore the same
  budget of ``len(lr_grid) * n_iter`` gradient evaluations; the whole grid runs as one stack of models;
* the target is ``L* + rel_target * (L(w0) - L*)`` where ``L*`` is the exact minimum (Newton's method
  on the convex problem); "iterations to target" is the first iteration from which the loss stays at
  or below the target until the end of the budget (touching it and bouncing back does not count);
  each optimizer reports its best learning rate = fewest iterations to the target (ties and misses
  broken by the lowest final loss). A run whose loss exceeds ``1e3 L(w0)`` or becomes non-finite
  counts as diverged and is never selected.

Optimizers: ``GD`` (depth 1), factor gradient descent at depths ``N >= 2`` with hidden width 1 (scalar
overparameterization) and a wider variant, the end-to-end rule at depth ``N``
(:func:`tnconv.linear.end_to_end_update`), AdaGrad, AdaDelta, Adam and Nesterov momentum.

The experiment is split by concept: :mod:`~tnconv.experiments.acceleration_data` (data sets, exact
minimum), :mod:`~tnconv.experiments.acceleration_optimizers` (the stacked optimizers),
:mod:`~tnconv.experiments.acceleration_runs` (:func:`run`, :class:`AccelerationResult`) and
:mod:`~tnconv.experiments.acceleration_report` (verdict, table, plot, JSON); this module re-exports them
and holds the command line.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .acceleration_data import DATASETS, load_dataset, minimum_loss
from .acceleration_optimizers import BASELINES
from .acceleration_report import format_table, plot, save, verdict
from .acceleration_runs import AccelerationResult, run, run_all

__all__ = [
    "BASELINES",
    "DATASETS",
    "AccelerationResult",
    "format_table",
    "load_dataset",
    "minimum_loss",
    "plot",
    "register_cli",
    "run",
    "run_all",
    "save",
    "verdict",
]


# --------------------------------------------------------------------------------------------------
# command line


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
    p.set_defaults(func=_cli_main)
    return p


def _cli_main(args: argparse.Namespace) -> int:
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
