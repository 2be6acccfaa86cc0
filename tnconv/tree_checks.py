"""Argument checks and error-message text of the tree layer, and the memory estimate of a mode tree.

Int and bool checks that refuse bools and floats, the byte estimate of a :class:`~tnconv.trees.ModeTree`
(:data:`BYTES_PER_NODE`, :data:`BYTES_PER_POSITION`) and the check that refuses an oversized tree before
it is built, and short text for nodes and for huge or deeply nested inputs, so that error messages about
big trees stay readable. The tree builders, the pooling windows and the partitions use them; this module
imports nothing else of tnconv but the budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._core.options import check_budget

__all__ = [
    "BYTES_PER_NODE",
    "BYTES_PER_POSITION",
    "STRUCTURE_FLOOR_BYTES",
    "check_bool",
    "check_int",
    "check_tree_size",
    "format_node",
    "short_repr",
]

#: Estimated memory of a :class:`ModeTree`: bytes per node (the frozenset object and its entries in the
#: children, parent, height and depth tables) plus bytes per stored position (every node stores the
#: inputs below it, so a tree stores ``sum(len(v) for v in nodes)`` positions). Measured with
#: ``tracemalloc`` on CPython 3.11 (about 450 and 24), rounded up. Trees whose estimate exceeds both the
#: byte budget (``tnconv.options["max_dense_bytes"]``) and 16 MiB are refused before they are built.
BYTES_PER_NODE = 500
BYTES_PER_POSITION = 32

#: Trees estimated below this many bytes are always built, whatever the budget: the budget is meant for
#: dense tensors, and tests often set it tiny.
STRUCTURE_FLOOR_BYTES = 2**24


def check_tree_size(what: str, n_nodes: float, n_positions: float) -> None:
    """Refuse a tree whose estimated memory exceeds the byte budget, before building it."""
    n_bytes = float(n_nodes) * BYTES_PER_NODE + float(n_positions) * BYTES_PER_POSITION
    if n_bytes <= STRUCTURE_FLOOR_BYTES:
        return
    check_budget(
        what, n_bytes,
        hint=f"a ModeTree stores every node as a frozenset of its inputs: {n_nodes:.4g} nodes holding "
        f"{n_positions:.4g} positions in all",
    )


def check_int(value: Any, name: str) -> int:
    """An int (Python or numpy integer); bools and floats (even ``2.0``) are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {short_repr(value)} ({type(value).__name__})")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """A bool (Python or numpy); ints such as ``1`` are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {short_repr(value)}")
    return bool(value)


def format_node(node: Iterable[int]) -> str:
    """Short text for a node: ``{0,1,2,3}``; long contiguous runs are written ``{0..63}``.

    Nodes of more than 16 non-contiguous inputs are shortened to their first and last inputs and a count,
    so that error messages about huge trees stay readable.

    Examples
    --------
    >>> format_node({3, 1, 2}), format_node(range(64)), format_node(range(0, 80, 2))
    ('{1,2,3}', '{0..63}', '{0,2,4,6,8,10,...,76,78} (40 inputs)')
    """
    items = sorted(node)
    if len(items) > 6 and items == list(range(items[0], items[-1] + 1)):
        return f"{{{items[0]}..{items[-1]}}}"
    if len(items) > 16:
        head, tail = ",".join(map(str, items[:6])), ",".join(map(str, items[-2:]))
        return f"{{{head},...,{tail}}} ({len(items)} inputs)"
    return "{" + ",".join(map(str, items)) + "}"


def short_repr(obj: Any, limit: int = 60) -> str:
    """``repr`` of a possibly huge or deeply nested object, cut to ``limit`` characters.

    Built iteratively: ``repr`` of a 50,000-deep nesting would raise RecursionError.
    """
    out: list[str] = []
    size = 0
    stack: list[Any] = [obj]
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, _Tok):
            text = str(item)
        elif isinstance(item, (tuple, list)):
            opening, closing = ("(", ")") if isinstance(item, tuple) else ("[", "]")
            stack.append(_Tok(closing))
            for k in range(len(item) - 1, -1, -1):
                stack.append(item[k])
                if k:
                    stack.append(_Tok(", "))
            text = opening
        else:
            text = repr(item) if not isinstance(item, (dict, set, frozenset)) else f"<{type(item).__name__}>"
        out.append(text)
        size += len(text)
    text = "".join(out)
    return text if len(text) <= limit and not stack else text[: limit - 3] + "..."


class _Tok(str):
    """A piece of punctuation pushed by :func:`short_repr` (distinct from user strings)."""
