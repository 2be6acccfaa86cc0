"""Shared pieces of the command line: the architecture spec and a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["add_model_args", "model_from_args", "parse_inputs", "progress"]


def parse_inputs(text: str) -> int | tuple[int, int]:
    """``"64"`` -> 64, ``"16x16"`` -> (16, 16)."""
    try:
        if "x" in text:
            h, w = text.lower().split("x")
            return (int(h), int(w))
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--inputs must be N or HxW, got {text!r}") from None


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Architecture options shared by ``mincut``, ``bench paths`` and friends."""
    p.add_argument("--inputs", type=parse_inputs, default=(8, 8), help="N (1D) or HxW (2D image); default 8x8")
    p.add_argument("--pooling", choices=["contiguous", "interleaved", "flat"], default="contiguous",
                   help="pooling geometry (flat = shallow CP network)")
    p.add_argument("--widths", default="4", help="one width, or comma-separated widths per height (leaves first)")
    p.add_argument("--descriptors", type=int, default=4, help="M, descriptors per input")
    p.add_argument("--seed", type=int, default=0)


def model_from_args(args: argparse.Namespace) -> Any:
    from .models.convnet import deep, shallow

    widths = [int(w) for w in str(args.widths).split(",") if w]
    if args.pooling == "flat":
        return shallow(args.inputs, args.descriptors, widths[0], seed=args.seed)
    spec: Any = widths[0] if len(widths) == 1 else widths
    return deep(args.inputs, args.descriptors, spec, pooling=args.pooling, seed=args.seed)


def progress(items: Iterable[T], total: int | None = None, desc: str = "", stream: Any = None) -> Iterator[T]:
    """A dependency-free progress bar on stderr (silent when stderr is not a terminal)."""
    stream = sys.stderr if stream is None else stream
    items = list(items) if total is None else items
    total = len(items) if total is None else total  # type: ignore[arg-type]
    live = hasattr(stream, "isatty") and stream.isatty()
    start = time.perf_counter()
    for k, item in enumerate(items):
        if live:
            done = int(30 * k / max(total, 1))
            stream.write(f"\r{desc} [{'#' * done}{'.' * (30 - done)}] {k}/{total} {time.perf_counter() - start:.1f}s")
            stream.flush()
        yield item
    if live:
        stream.write(f"\r{desc} [{'#' * 30}] {total}/{total} {time.perf_counter() - start:.1f}s\n")
        stream.flush()
