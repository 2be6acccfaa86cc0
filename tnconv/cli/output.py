"""One output style for every ``tnconv`` command: ``--json`` on stdout, metadata, units, help defaults.

Conventions (every command follows them)
----------------------------------------
- ``--json`` is a flag. It writes one JSON object to stdout (and nothing else to stdout); progress and
  messages go to stderr.
- Every JSON object has a ``"meta"`` member (:func:`metadata`): the tnconv, Python and numpy versions,
  the platform, the machine, a UTC timestamp and the command line. The result files that
  ``experiments run --out`` writes carry it too.
- A min-cut ``bound`` is always a JSON integer, written exactly however large (Python ints are arbitrary
  precision and :mod:`json` writes them digit for digit). Readers that parse numbers as doubles lose
  precision above ``2**53``: use ``log2_bound`` (a float) there, or a big-integer parser.
- Entropies are in bits (``log2``), everywhere: :data:`ENTROPY_UNIT`. The tables say so, and the JSON
  keys carry the unit (``entropy_bits``). The bound is printed as ``log2``, so an entropy in bits reads
  directly against it (entropy <= log2 rank <= log2 bound).
- Help texts show every default (:class:`HelpFormatter`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
from typing import Any

from .._version import __version__

__all__ = ["ENTROPY_UNIT", "HelpFormatter", "Parser", "add_json_flag", "jsonable", "metadata", "write_json"]

#: The unit of every entropy the command line prints or writes.
ENTROPY_UNIT = "bits"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults-showing formatter, silent for options without a meaningful default.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    >>> _ = p.add_argument("--batch", type=int, default=256, help="samples per contraction")
    >>> _ = p.add_argument("--seed", type=int, default=0, help="seed")
    >>> _ = p.add_argument("--json", action="store_true", help="JSON on stdout")
    >>> text = p.format_help()
    >>> "(default: 256)" in text, "(default: 0)" in text, "(default: False)" in text
    (True, True, False)
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # flags (nargs=0: --json, --no-spectrum, --help) and options without a default say nothing
        if action.nargs == 0 or action.default is None or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action) or text


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help shows defaults; its subparsers are ``Parser`` s too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def add_json_flag(p: argparse.ArgumentParser) -> None:
    """The ``--json`` flag, the same on every command."""
    p.add_argument("--json", action="store_true",
                   help="write one JSON object to stdout instead of the table (with a 'meta' member)")


def metadata(argv: list[str] | None = None) -> dict[str, Any]:
    """Machine and version metadata, the ``"meta"`` member of every JSON output.

    Examples
    --------
    >>> sorted(metadata(["demo"]))
    ['command', 'machine', 'numpy', 'platform', 'python', 'timestamp', 'tnconv']
    """
    import numpy as np

    argv = list(sys.argv[1:] if argv is None else argv)
    return {
        "tnconv": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["tnconv", *argv]),
    }


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays made plain, non-finite floats as ``None`` (strict JSON).

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"a": np.int64(3), "b": [np.float32(0.5), float("nan")], "c": 2**80})
    {'a': 3, 'b': [0.5, None], 'c': 1208925819614629174706176}
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(payload: dict[str, Any], argv: list[str] | None = None, stream: Any = None) -> None:
    """Write ``{"meta": metadata(argv), **payload}`` as one JSON object (stdout by default)."""
    stream = sys.stdout if stream is None else stream
    json.dump({"meta": metadata(argv), **jsonable(payload)}, stream, indent=1, allow_nan=False)
    stream.write("\n")
    stream.flush()
