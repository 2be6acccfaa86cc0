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
import sys
import warnings
from typing import Any

from ..experiments.common import check_size
from ..experiments.registry import EXPERIMENTS, get, run_experiment
from .common import progress
from .output import add_json_flag, write_json

__all__ = ["cmd_list", "cmd_run", "no_figure", "register_cli"]


def no_figure(command: str, reason: BaseException | str, data: str | None) -> None:
    """The one message (on stderr) of every command that wrote its data but could not draw its figure
    (matplotlib missing): the command still exits 0."""
    where = f"; the data is in {data}" if data else ""
    print(f"tnconv {command}: no figure written ({reason}){where}", file=sys.stderr)


def cmd_list(args: argparse.Namespace) -> int:
    """Print every experiment: name, section, notebook and claim (``--json``: the same as JSON)."""
    if getattr(args, "json", False):
        rows = [{"name": e.name, "section": e.section, "title": e.title, "notebook": e.notebook,
                 "figure": e.figure, "claim": e.claim, "paper": e.paper} for e in EXPERIMENTS.values()]
        write_json({"command": "experiments list", "experiments": rows}, getattr(args, "argv", None))
        return 0
    print(f"{'name':<23}{'section':>7}  {'notebook':<32}claim")
    for e in EXPERIMENTS.values():
        print(f"{e.name:<23}{e.section:>7}  {e.notebook:<32}{e.claim}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the named experiments (``all`` for every one), print verdicts, write PNG + JSON to ``--out``.

    Returns 0 once every experiment has run, whatever its verdict (the verdict is data, not an error).
    Without matplotlib the JSON is still written and a one-line message says that the figure is not
    (the same message and status as ``tnconv linear-accel``). ``--json`` writes the verdicts and timings
    (and the written paths) as one JSON object instead of the text.
    """
    names = list(EXPERIMENTS) if args.names == ["all"] else list(args.names)
    for n in names:
        check_size(args.size, get(n).sizes)  # unknown names and sizes fail before anything runs
    as_json = bool(getattr(args, "json", False))
    done = []
    for name in progress(names, desc="experiments"):
        with warnings.catch_warnings():  # the figure's absence is said once, below, in the CLI's words
            warnings.filterwarnings("ignore", message=f"{name}: wrote JSON but no figure", category=UserWarning)
            info = run_experiment(name, size=args.size, seed=args.seed, out=args.out)
        row = {"name": name, "size": args.size, "seed": args.seed, "seconds": info["seconds"],
               "verdict": info["verdict"], "json": info.get("json"), "png": info.get("png")}
        done.append(row)
        if args.out is not None and info["png"] is None:
            no_figure("experiments run", "plotting needs matplotlib: pip install 'tnconv[plot]'", info["json"])
        if as_json:
            continue
        print(f"== {name} ({args.size}, {info['seconds']:.1f} s)")
        print(info["verdict"])
        if args.out is not None:
            wrote = info["json"] if info["png"] is None else f"{info['json']} and {info['png']}"
            print(f"   wrote {wrote}", flush=True)
    if as_json:
        write_json({"command": "experiments run", "experiments": done}, getattr(args, "argv", None))
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``experiments`` subcommand (with ``list`` and ``run``) to a ``tnconv`` parser."""
    p = subparsers.add_parser("experiments", help="reproduce the theory's claims (data, verdict, PNG + JSON)")
    sub = p.add_subparsers(dest="experiments_command", metavar="ACTION")
    pl = sub.add_parser("list", help="list the experiments")
    add_json_flag(pl)
    pl.set_defaults(func=cmd_list)
    pr = sub.add_parser("run", help="run experiments by name ('all' for every one)")
    pr.add_argument("names", nargs="+", metavar="NAME", help=f"one of: {', '.join(EXPERIMENTS)}, or all")
    pr.add_argument("--size", choices=["small", "medium", "full"], default="small",
                    help="problem size (medium: the trained experiments only, minutes on a CPU)")
    pr.add_argument("--out", default=None, metavar="DIR", help="directory for NAME.png and NAME.json")
    pr.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    add_json_flag(pr)
    pr.set_defaults(func=cmd_run)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p
