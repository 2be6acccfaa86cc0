"""Shared pieces of the command line: the architecture spec, option parsers and a progress bar.

Every option parser here is an argparse ``type=``: bad values make argparse exit with status 2 and a
message naming the option and the value (``argument --show: must be an int >= 0, got '-1'``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from .._core.progress import progress

__all__ = [
    "add_model_args",
    "estimate_model_bytes",
    "int_at_least",
    "model_from_args",
    "non_negative_int",
    "parse_inputs",
    "parse_widths",
    "progress",
]

# Measured peak memory of building deep(N, 4, 4): about 2 KB per input (tree nodes, dicts, arrays).
_BYTES_PER_INPUT = 2048


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type=`` accepting ints ``>= low``; the message names the value.

    Examples
    --------
    >>> int_at_least(1)("7")
    7
    >>> int_at_least(0)("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an int >= 0, got '-1'
    """

    def parse(text: str) -> int:
        v = _int(text, "the value")
        if v < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}, got {text!r}")
        return v

    parse.__name__ = f"int_at_least_{low}"
    return parse


def non_negative_int(text: str) -> int:
    """An argparse ``type``: a non-negative int, refusing floats, signs and blanks with a clear message.

    Examples
    --------
    >>> non_negative_int("7")
    7
    >>> non_negative_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a non-negative integer, got '-1'
    """
    t = str(text).strip()
    if not t.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(t)


def parse_inputs(text: str) -> int | tuple[int, int]:
    """``"64"`` -> 64, ``"16x16"`` -> (16, 16); positive sizes only.

    Examples
    --------
    >>> parse_inputs("64"), parse_inputs("16x8")
    (64, (16, 8))
    """
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"must be N or HxW with positive integers, got {text!r}")
    vals = [int(p) for p in parts]
    if min(vals) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return vals[0] if len(vals) == 1 else (vals[0], vals[1])


def parse_widths(text: str) -> list[int]:
    """``"4"`` -> [4], ``"8,8,4"`` -> [8, 8, 4]; positive ints only.

    Examples
    --------
    >>> parse_widths("8, 8,4")
    [8, 8, 4]
    """
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"must be one width or comma-separated widths, got {text!r}")
    out = []
    for t in items:
        w = _int(t, f"width {t.strip()!r} in {text!r}")
        if w < 1:
            raise argparse.ArgumentTypeError(f"widths must be positive, got {w} in {text!r}")
        out.append(w)
    return out


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Architecture options shared by ``mincut``, ``bench paths`` and friends."""
    # string defaults: argparse runs them through ``type``, and the help shows them as typed
    p.add_argument("--inputs", type=parse_inputs, default="8x8", help="N (1D) or HxW (2D image)")
    p.add_argument("--pooling", choices=["contiguous", "interleaved", "flat"], default="contiguous",
                   help="pooling geometry (flat = shallow CP network)")
    p.add_argument("--widths", type=parse_widths, default="4",
                   help="one width, or comma-separated widths per height (leaves first)")
    p.add_argument("--descriptors", type=int_at_least(1), default=4, help="M, descriptors per input")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the weights")


def estimate_model_bytes(n_inputs: int, n_descriptors: int, widths: Iterable[int]) -> int:
    """An upper estimate of the memory a CLI model takes: per input ~2 KB of structure, its
    ``M x w`` leaf weights and a ``w x w`` window share (float64)."""
    w = max(widths)
    return n_inputs * (_BYTES_PER_INPUT + 8 * n_descriptors * w + 8 * w * w)


def model_from_args(args: argparse.Namespace) -> Any:
    """The model the architecture options describe.

    Raises
    ------
    tnconv.TensorTooLargeError
        When the estimated model memory exceeds ``options["max_dense_bytes"]`` (names the input count).
    ValueError
        Options the model constructors refuse (their message names the value).
    """
    from .._core.options import check_budget
    from ..models.convnet import deep, shallow

    widths = args.widths if isinstance(args.widths, list) else parse_widths(str(args.widths))
    shape = args.inputs
    n = shape if isinstance(shape, int) else shape[0] * shape[1]
    text = str(shape) if isinstance(shape, int) else f"{shape[0]}x{shape[1]}"
    check_budget(f"a model with {n} inputs (--inputs {text})", estimate_model_bytes(n, args.descriptors, widths),
                 hint="too many inputs for this budget: use fewer inputs or raise the budget")
    if args.pooling == "flat":
        return shallow(shape, args.descriptors, widths[0], seed=args.seed)
    spec: Any = widths[0] if len(widths) == 1 else widths
    return deep(shape, args.descriptors, spec, pooling=args.pooling, seed=args.seed)
