"""``tnconv experiments list`` and ``tnconv experiments run NAME... [--size small|medium|full] [--out DIR]``.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tnconv")
>>> _ = register_cli(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["experiments", "run", "rectifier", "--size", "small"])
>>> args.names, args.size
(['rectifier'], 'small')
"""

from __future__ import annotations

import argparse
from typing import Any

from ..experiments.common import check_size
from ..experiments.registry import EXPERIMENTS, get, run_experiment
from .common import progress

__all__ = ["cmd_list", "cmd_run", "register_cli"]


def cmd_list(args: argparse.Namespace) -> int:
    """Print every experiment: name, section, notebook, figure and claim."""
    print(f"{'name':<23}{'sec':>3}  {'notebook':<32}claim")
    for e in EXPERIMENTS.values():
        print(f"{e.name:<23}{e.section:>3}  {e.notebook:<32}{e.claim}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the named experiments (``all`` for every one), print verdicts, write PNG + JSON to ``--out``.

    Returns 0 once every experiment has run, whatever its verdict (the verdict is data, not an error).
    """
    names = list(EXPERIMENTS) if args.names == ["all"] else list(args.names)
    for n in names:
        check_size(args.size, get(n).sizes)  # unknown names and sizes fail before anything runs
    for name in progress(names, desc="experiments"):
        info = run_experiment(name, size=args.size, seed=args.seed, out=args.out)
        print(f"== {name} ({args.size}, {info['seconds']:.1f} s)")
        print(info["verdict"])
        if args.out is not None:
            wrote = info["json"] if info["png"] is None else f"{info['json']} and {info['png']}"
            print(f"   wrote {wrote}")
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``experiments`` subcommand (with ``list`` and ``run``) to a ``tnconv`` parser."""
    p = subparsers.add_parser("experiments", help="reproduce the theory's claims (data, verdict, PNG + JSON)")
    sub = p.add_subparsers(dest="experiments_command", metavar="ACTION")
    pl = sub.add_parser("list", help="list the experiments")
    pl.set_defaults(func=cmd_list)
    pr = sub.add_parser("run", help="run experiments by name ('all' for every one)")
    pr.add_argument("names", nargs="+", metavar="NAME", help=f"one of: {', '.join(EXPERIMENTS)}, or all")
    pr.add_argument("--size", choices=["small", "medium", "full"], default="small",
                    help="medium: the trained experiments only (minutes on a CPU)")
    pr.add_argument("--out", default=None, metavar="DIR", help="directory for NAME.png and NAME.json")
    pr.add_argument("--seed", type=int, default=0)
    pr.set_defaults(func=cmd_run)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p

