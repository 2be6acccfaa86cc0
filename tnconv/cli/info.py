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
from .output import add_json_flag, write_json

__all__ = ["PACKAGES", "cmd_info", "package_rows", "register_cli"]


#: (import name, distribution, the extra that installs it; None for a core dependency).
PACKAGES = (
    ("numpy", "numpy", None),
    ("networkx", "networkx", None),
    ("opt_einsum", "opt_einsum", None),
    ("array_api_compat", "array-api-compat", None),
    ("threadpoolctl", "threadpoolctl", None),
    ("scipy", "scipy", "scipy"),
    ("cotengra", "cotengra", "quimb"),
    ("quimb", "quimb", "quimb"),
    ("matplotlib", "matplotlib", "plot"),
    ("jax", "jax", "jax"),
    ("torch", "torch", "torch"),
    ("dask", "dask", "dask"),
    ("distributed", "distributed", "dask"),
    ("tqdm", "tqdm", "dask"),
    ("nbclient", "nbclient", "notebooks"),
    ("sklearn", "scikit-learn", "notebooks"),
    ("cupy", "cupy-cuda12x", "gpu"),
)


def _install_hint(dist: str, extra: str | None) -> str:
    return f"pip install 'tnconv[{extra}]'" if extra else f"pip install {dist} (a core dependency)"


def _version(name: str, dist: str) -> str:
    # the installed distribution's metadata, without importing the package (jax and torch take seconds)
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # another distribution name (cupy-cuda11x, a source build)
        return str(getattr(importlib.import_module(name), "__version__", "installed"))


def package_rows() -> list[dict[str, Any]]:
    """One dict per package of :data:`PACKAGES`: name, version (None when it is not installed), the
    extra and the command that installs it, and why it is unavailable.

    Examples
    --------
    >>> row = package_rows()[0]
    >>> row["name"], row["version"] is not None, row["extra"]
    ('numpy', True, None)
    """
    import importlib.util

    out = []
    for name, dist, extra in PACKAGES:
        row: dict[str, Any] = {"name": name, "version": None, "extra": extra, "install": None, "error": None}
        try:
            if importlib.util.find_spec(name) is None:
                raise ImportError(f"No module named {name!r}")
            row["version"] = _version(name, dist)
        except Exception as exc:  # a broken install (not only ImportError) must not stop the report
            row["error"] = f"{type(exc).__name__}: {exc}"[:200]
            row["install"] = _install_hint(dist, extra)
        out.append(row)
    return out


def _cuda_devices() -> int | None:
    """The number of CUDA devices CuPy sees; None without CuPy or a driver."""
    import importlib.util

    if importlib.util.find_spec("cupy") is None:
        return None
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return None


def cmd_info(args: argparse.Namespace) -> int:
    """Print tnconv's, Python's and the optional packages' versions (naming the extra of each missing
    one), and whether CUDA is there; ``--json`` writes the same as one JSON object."""
    rows, devices = package_rows(), _cuda_devices()
    if getattr(args, "json", False):
        write_json({"command": "info", "packages": rows, "cuda_devices": devices}, getattr(args, "argv", None))
        return 0
    print(f"tnconv {__version__}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    for row in rows:
        text = row["version"] if row["version"] is not None else f"not available: {row['install']}"
        print(f"  {row['name']:<17}{text}")
    print(f"  {'cuda device':<17}{'no' if devices is None else f'yes ({devices} device(s))'}")
    return 0


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``info`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("info", help="versions and optional backends",
                              description="Versions of tnconv, Python and the optional packages; for each "
                              "missing one, the extra that installs it.")
    add_json_flag(p)
    # looked up when the parser is built, so that tests can replace cmd_info
    p.set_defaults(func=cmd_info)
    return p
