"""``tnconv bench paths``: time path search and contraction for several methods on a ConvAC.

The work is :func:`tnconv.contract.bench.benchmark_paths`; this module turns the architecture options
into a model and prints (or writes) its rows.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_model_args, model_from_args

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
                        description="Time path search and contraction for several methods on a ConvAC.")
    add_model_args(pp)
    pp.add_argument("--batch", type=int, default=256, help="samples per contraction (default 256)")
    pp.add_argument("--repeats", type=int, default=5, help="timed contractions per method (median reported)")
    pp.add_argument("--optimizers", default=",".join(DEFAULT_OPTIMIZERS),
                    help="comma-separated methods / opt_einsum optimizer names")
    pp.add_argument("--max-time", type=float, default=10.0, help="cap of the cotengra/random-greedy searches (s)")
    pp.add_argument("--max-bytes", type=float, default=None, help="intermediate budget; larger paths are 'infeasible'")
    pp.add_argument("--json", metavar="PATH", default=None, help="write the rows as JSON ('-' for stdout)")
    pp.set_defaults(func=cmd_paths)
    return p


def cmd_paths(args: argparse.Namespace) -> int:
    """Execute ``tnconv bench paths``: print the table (or write JSON); returns the exit status."""
    from ..contract.bench import benchmark_paths

    if args.batch < 1 or args.repeats < 1:
        print(f"error: --batch and --repeats must be positive (got {args.batch}, {args.repeats})", file=sys.stderr)
        return 2
    model = model_from_args(args)
    opts = [o.strip() for o in args.optimizers.split(",") if o.strip()]
    try:
        rows = benchmark_paths(model, opts, batch=args.batch, repeats=args.repeats, max_time=args.max_time,
                               max_bytes=args.max_bytes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json == "-":
        print(rows.to_json())
    else:
        print(f"{model!r}, batch {args.batch}, median of {args.repeats}")
        print(rows.table())
        if args.json:
            with open(args.json, "w") as fh:
                fh.write(rows.to_json())
    return 0
