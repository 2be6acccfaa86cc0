"""``tnconv bench paths``: time path search and contraction for several methods on a ConvAC.

The work is :func:`tnconv.contract.bench.benchmark_paths`; this module turns the architecture options
into a model and prints its rows as they come (or, with ``--json``, one JSON object on stdout).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_model_args, int_at_least, model_from_args
from .output import add_json_flag, write_json

__all__ = ["cmd_paths", "register_cli"]


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``tnconv bench paths`` to an argparse ``subparsers`` object.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="tnconv"); sub = parser.add_subparsers()
    >>> _ = register_cli(sub)
    >>> args = parser.parse_args(["bench", "paths", "--inputs", "16", "--optimizers", "levels,greedy"])
    >>> args.optimizers, args.batch
    ('levels,greedy', 256)
    """
    from ..contract.bench import DEFAULT_OPTIMIZERS

    p = subparsers.add_parser("bench", help="benchmarks (contraction paths)")
    sub = p.add_subparsers(dest="bench_command", metavar="{paths}")
    sub.required = True
    pp = sub.add_parser("paths", help="compare contraction paths and engines on one architecture",
                        description="Time path search and contraction for several methods on a ConvAC. "
                        "Each row is printed as soon as its method has finished; every path search is "
                        "capped by --max-time.")
    add_model_args(pp)
    pp.add_argument("--batch", type=int_at_least(1), default=256, help="samples per contraction")
    pp.add_argument("--repeats", type=int_at_least(1), default=5,
                    help="timed contractions per method (median reported; fewer once they take --max-time)")
    pp.add_argument("--optimizers", default=",".join(DEFAULT_OPTIMIZERS),
                    help="comma-separated methods / opt_einsum optimizer names")
    pp.add_argument("--max-time", type=_seconds, default=10.0,
                    help="wall-clock cap (s) of every path search, and of each method's timed repeats")
    pp.add_argument("--total-time", type=_seconds, default=None,
                    help="no method starts after this many seconds (s); the rest are reported 'skipped'")
    pp.add_argument("--max-bytes", type=float, default=None,
                    help="intermediate budget; larger paths are 'infeasible' (default: tnconv's max_dense_bytes)")
    add_json_flag(pp)
    pp.set_defaults(func=cmd_paths)
    return p


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text!r}")
    return value


def cmd_paths(args: argparse.Namespace) -> int:
    """Execute ``tnconv bench paths``: the rows as they come, then the table (or JSON); returns 0."""
    from ..contract.bench import benchmark_paths, format_table

    model = model_from_args(args)
    opts = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    try:
        benchmark_paths(model, opts, batch=1, repeats=1, total_time=0, show_progress=False)  # names only
    except ValueError as exc:
        print(f"tnconv bench: error: {exc}", file=sys.stderr)
        return 2
    as_json = bool(getattr(args, "json", False))
    if not as_json:
        print(f"{model!r}, batch {args.batch}, median of up to {args.repeats}, searches capped at {args.max_time:g} s",
              flush=True)
        print(format_table([]), flush=True)

    def show(row: dict) -> None:
        # each finished method at once (a long benchmark is never silent); the final table adds ratios
        if not as_json:
            print(format_table([row]).split("\n", 1)[1], flush=True)

    rows = benchmark_paths(model, opts, batch=args.batch, repeats=args.repeats, max_time=args.max_time,
                           max_bytes=args.max_bytes, total_time=args.total_time, on_row=show)
    if as_json:
        write_json({"command": "bench paths", "model": repr(model), "batch": args.batch, "repeats": args.repeats,
                    "max_time_s": args.max_time, "rows": list(rows)}, getattr(args, "argv", None))
        return 0
    print("\nwith ratios (contraction time over the fastest method's):")
    print(rows.table())
    return 0
