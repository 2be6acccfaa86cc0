"""The ``tnconv`` command line (also ``python -m tnconv``).

``tnconv demo`` is the main job: depth efficiency and pooling geometry on a 4x4 image in a few seconds.
Each subcommand is one module of this package with a ``register_cli(subparsers)`` function; this file
builds the parser from them and turns errors into exit statuses. The command line is the top layer:
nothing else in tnconv imports it.

=================  ===========================================================
``demo``           :mod:`tnconv.cli.demo`
``info``           :mod:`tnconv.cli.info`
``bench paths``    :mod:`tnconv.cli.bench`
``mincut``         :mod:`tnconv.cli.mincut`
``linear-accel``   :mod:`tnconv.cli.linear`
``experiments``    :mod:`tnconv.cli.experiments`
=================  ===========================================================
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from . import bench, demo, experiments, info, linear, mincut
from .common import non_negative_int
from .demo import demo_rows
from .output import Parser

__all__ = ["COMMANDS", "build_parser", "demo_rows", "main", "non_negative_int"]

#: The subcommand modules, in the order ``tnconv --help`` lists them.
COMMANDS = (demo, info, bench, mincut, linear, experiments)


def build_parser() -> argparse.ArgumentParser:
    """The ``tnconv`` parser with every subcommand of :data:`COMMANDS`.

    Examples
    --------
    >>> build_parser().parse_args(["mincut", "--inputs", "16"]).command
    'mincut'
    """
    parser = Parser(prog="tnconv", description="Convolutional networks as tensor networks. Every command "
                    "takes --json (one JSON object on stdout, with a 'meta' member); entropies are in bits.")
    parser.add_argument("--version", action="version", version=f"tnconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Bad input exits with status 2 and a one-line ``tnconv COMMAND: error: ...`` message on stderr (argparse
    does the same for malformed options). An unexpected exception is a bug: it is reported in one line
    with status 1, and its traceback is shown only when the environment sets ``TNCONV_TRACEBACK=1``.
    A reader that closes the pipe early (``tnconv experiments list | head -1``) ends the command quietly
    with status 141 (128 + SIGPIPE, what a shell reports for a killed writer).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    args.argv = argv
    where = f"tnconv {args.command}"
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, KeyError, MemoryError, ImportError, OSError) as exc:
        print(f"{where}: error: {_describe(exc, argv)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("TNCONV_TRACEBACK") == "1":
            raise
        print(f"{where}: internal error: {_describe(exc, argv)}. This is a bug in tnconv; please report it "
              "(set TNCONV_TRACEBACK=1 for the traceback).", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    # The reader is gone: point stdout at /dev/null so that the interpreter's final flush does not
    # raise again ("Exception ignored ... BrokenPipeError") on the way out.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


def _describe(exc: BaseException, argv: Sequence[str]) -> str:
    # KeyError's str() is the repr of the key, and MemoryError() often has no message at all: say what
    # happened and on which command line, so that the offending value is always in view.
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if not text.strip():
        what = "out of memory" if isinstance(exc, MemoryError) else type(exc).__name__
        return f"{what} (no further detail) while running: tnconv {' '.join(argv)}"
    return text if isinstance(exc, (ValueError, TypeError, MemoryError)) else f"{type(exc).__name__}: {text}"

