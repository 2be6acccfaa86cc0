"""``tnconv info``: versions of tnconv, Python and the optional backends.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tnconv")
>>> _ = register_cli(parser.add_subparsers(dest="command"))
>>> parser.parse_args(["info"]).func is cmd_info
True
"""

from __future__ import annotations

import argparse
import importlib
import platform
from typing import Any

from .._version import __version__

__all__ = ["cmd_info", "register_cli"]


def _optional_versions() -> list[tuple[str, str]]:
    out = []
    for name in ("numpy", "networkx", "opt_einsum", "scipy", "cotengra", "quimb", "matplotlib", "threadpoolctl",
                 "nbclient", "sklearn", "cupy"):
        try:
            mod = importlib.import_module(name)
            out.append((name, getattr(mod, "__version__", "installed")))
        except Exception as exc:
            out.append((name, f"not available ({type(exc).__name__})"))
    return out


def cmd_info(args: argparse.Namespace) -> int:
    """Print tnconv's, Python's and the optional packages' versions, and whether CUDA is there."""
    print(f"tnconv {__version__}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    for name, version in _optional_versions():
        print(f"  {name:<14}{version}")
    gpu = "no"
    try:
        import cupy

        gpu = f"yes ({cupy.cuda.runtime.getDeviceCount()} device(s))"
    except Exception:
        pass
    print(f"  {'cuda device':<14}{gpu}")
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("info", help="versions and optional backends")
    # looked up when the parser is built, so that tests can replace cmd_info
    p.set_defaults(func=cmd_info)
    return p
