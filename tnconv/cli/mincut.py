"""``tnconv mincut``: min-cut bounds (and exact spectra where the cut is small) from the command line.

Examples
--------
::

    tnconv mincut --inputs 16x16 --pooling contiguous --widths 8,8,8,8 --descriptors 4
    tnconv mincut --inputs 64 --widths 2 odd_even left_right 0,1,2,3 --json
    tnconv mincut --inputs 8x8 @parts.txt       # one partition per line (a name or a list)
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .common import add_model_args, int_at_least, model_from_args
from .output import ENTROPY_UNIT, add_json_flag, write_json

__all__ = ["parse_partition", "register_cli", "run"]


def parse_partition(text: str, shape: int | tuple[int, int]) -> list[tuple[str, frozenset]]:
    """``"odd_even"`` / ``"block_interleaved:1"`` / ``"random:K:SEED"`` / ``"0,1,2,3"`` / ``"@file"``.

    Returns
    -------
    list of (text, frozenset)

    Raises
    ------
    ValueError
        Unknown names, malformed lists, unreadable files (the message names the text).

    Examples
    --------
    >>> [sorted(p) for _, p in parse_partition("0,2,3", 8) + parse_partition("odd_even", 8)]
    [[0, 2, 3], [1, 3, 5, 7]]
    """
    from ..partitions import named, validate_partition

    n = shape if isinstance(shape, int) else shape[0] * shape[1]
    text = text.strip()
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as fh:
                lines = [ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ValueError(f"cannot read partition file {text[1:]!r}: {reason}") from None
        out = []
        for ln in lines:
            try:
                out += parse_partition(ln, shape)
            except ValueError as exc:
                raise ValueError(f"in partition file {text[1:]!r}: {exc}") from None
        return out
    if not text:
        raise ValueError("empty partition: give a name (odd_even, ...) or a list of positions such as 0,1,2")
    if text[0].isdigit() or text[0] in "[-":
        try:
            items = [int(x) for x in text.strip("[]").replace(" ", ",").split(",") if x]
        except ValueError:
            raise ValueError(f"partition {text!r} is not a comma-separated list of input positions") from None
        try:
            return [(text, validate_partition(items, n))]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"partition {text!r}: {exc}") from None
    # named() checks the name and its ':' arguments; the CLI only adds the text to the message
    try:
        return [(text, validate_partition(named(text, shape), n))]
    except (ValueError, TypeError, IndexError) as exc:
        message = str(exc)
        raise ValueError(message if repr(text) in message else f"partition {text!r}: {message}") from None


# Dense mod-p ranks only for small coefficient tensors (M^N entries).
_EXACT_MAX_ENTRIES = 2**16


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 12] + "..." + text[-9:]


def _describe(exc: BaseException) -> str:
    """The message of ``exc``, or its type and a hint when it has none (numpy's bare MemoryError)."""
    text = str(exc)
    if text:
        return text
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError) while building the model or its cuts: use fewer inputs or smaller widths"
    return type(exc).__name__


def run(args: argparse.Namespace) -> int:
    """Execute ``tnconv mincut``; returns the exit status."""
    import numpy as np

    from ..entanglement import default_rtol
    from ..measures import network_spectrum
    from ..mincut import min_cuts
    from ..partitions import NAMES_1D, NAMES_2D
    from ..spectrum import CutTooLargeError

    try:
        model = model_from_args(args)
        shape = args.inputs
        texts = args.partitions or list(NAMES_2D if isinstance(shape, tuple) else NAMES_1D)
        parts = [item for t in texts for item in parse_partition(t, shape)]
        cuts = min_cuts(model, [p for _, p in parts], method=args.method)
    except (ValueError, TypeError, MemoryError) as exc:
        print(f"tnconv mincut: error: {_describe(exc)}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    for (name, part), cut in zip(parts, cuts):
        row: dict[str, Any] = {
            "partition": name,
            "size": len(part),
            "bound": int(cut.bound),  # always a JSON integer, exact however large (see tnconv.cli.output)
            "log2_bound": cut.log2_bound,
            "method": cut.method,
            "cut": [{"kind": e.kind, "index": str(e.index), "dim": e.dim, "where": e.description}
                    for e in cut.edges],
            "generic_rank": None,
            "numerical_rank": None,
            "entropy_bits": None,
        }
        if model.n_inputs * math.log2(args.descriptors) <= math.log2(_EXACT_MAX_ENTRIES):
            try:
                from ..exact import generic_schmidt_rank

                row["generic_rank"] = int(generic_schmidt_rank(model, part, seed=args.seed))
            except (ImportError, MemoryError):  # pragma: no cover - exact ranks are optional here
                pass
        if args.spectrum and cut.bound <= args.max_cut_dim:
            try:
                spec = network_spectrum(model, part, max_cut_dim=args.max_cut_dim, normalize=True)
            except (CutTooLargeError, MemoryError):
                spec = None
            if spec is not None:
                s = spec.values
                # the rank rule of tc.schmidt_rank; the values are returned raw, noise included
                tol = default_rtol((spec.n_rows, spec.n_cols)) * (float(s[0]) if s.size else 0.0)
                row["numerical_rank"] = int(np.count_nonzero(s > tol))
                p = s[s > 0] ** 2
                row["entropy_bits"] = float(-(p * np.log2(p)).sum())
        rows.append(row)
    if args.plot:
        _save_plot(args.plot, [name for name, _ in parts], cuts, shape if isinstance(shape, tuple) else None)
    if args.json:
        write_json({"command": "mincut", "model": repr(model), "entropy_unit": ENTROPY_UNIT, "partitions": rows},
                   getattr(args, "argv", None))
        return 0
    print(repr(model))
    print(f"{'partition':<22}{'|I|':>5}{'log2 bound':>12}{'rank':>7}{'S (bits)':>9}  where the cut runs")
    for row in rows:
        shown = [_short(c["where"]) for c in row["cut"][: args.show]]
        if len(row["cut"]) > args.show:
            shown.append(f"{'... ' if shown else ''}({len(row['cut'])} severed)")
        where = "; ".join(shown)
        if row["generic_rank"] is not None:
            rank = str(row["generic_rank"])
        else:
            rank = "-" if row["numerical_rank"] is None else f"{row['numerical_rank']}*"
        ent = "-" if row["entropy_bits"] is None else f"{row['entropy_bits']:.3f}"
        print(f"{row['partition'][:21]:<22}{row['size']:>5}{row['log2_bound']:>12.4g}{rank:>7}{ent:>9}  {where}")
    print("rank: exact generic Schmidt rank over GF(p) where M^N is small, else (*) the numerical rank of this "
          "seeded model (tnconv.spectrum); entropy in bits (log2). The bound is exact (the minimum over all cuts) and "
          "never below the rank; with independent (unshared) weights and all dimensions powers of one integer "
          "it equals the generic rank, while shared weights can fall below it.")
    return 0


def _save_plot(path: str, names: list[str], cuts: list[Any], shape: tuple[int, int] | None) -> None:
    """``--plot FILE``: every cut's picture in one figure (one panel per partition, at most 12): on the
    image for 2D inputs (sides as pixels, severed windows outlined), else on the network."""
    from .experiments import no_figure

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        no_figure("mincut", "plotting needs matplotlib: pip install 'tnconv[plot]'", None)
        return
    shown = list(zip(names, cuts))[:12]
    ncols = min(len(shown), 3)
    nrows = -(-len(shown) // ncols)
    w, h = (4.4, 5.4) if shape is not None else (6.5, 4.6)
    fig = Figure(figsize=(w * ncols, h * nrows))
    FigureCanvasAgg(fig)
    for k, (name, cut) in enumerate(shown):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        cut.draw(ax=ax, shape=shape)
        ax.set_title(f"{name}\n{ax.get_title()}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    print(f"tnconv mincut: wrote {path}", file=sys.stderr)


def register_cli(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``mincut`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "mincut",
        help="min-cut bounds on the Schmidt rank for input partitions",
        description=(
            "Min-cut bound (and, where the cut is small, the exact rank and entropy) of a ConvAC's "
            "coefficient tensor across input partitions. Partitions: names (left_right, odd_even, "
            "top_bottom, checkerboard, center_periphery, block_interleaved:L, random:K:SEED), explicit "
            "lists such as 0,1,2,3, or @FILE with one partition per line."
        ),
    )
    add_model_args(p)
    p.add_argument("partitions", nargs="*", help="partitions (default: the named ones for the input shape)")
    p.add_argument("--method", choices=["auto", "tree", "networkx", "scipy"], default="auto",
                   help="min-cut solver (auto: the tree DP for forests, else max flow)")
    p.add_argument("--no-spectrum", dest="spectrum", action="store_false",
                   help="skip the exact rank/entropy even when the cut is small")
    p.add_argument("--max-cut-dim", type=int_at_least(1), default=4096,
                   help="largest cut for which the exact spectrum is computed")
    p.add_argument("--show", type=int_at_least(0), default=3, help="severed indices to list per partition")
    p.add_argument("--plot", metavar="FILE", default=None,
                   help="save the pictures of the cuts (one panel per partition; PNG, PDF or SVG by suffix)")
    add_json_flag(p)
    p.set_defaults(func=run)
    return p
