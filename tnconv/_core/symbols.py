"""The one map from index labels to single-character einsum symbols (``opt_einsum.get_symbol``)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

__all__ = ["einsum_symbols", "symbol"]


def symbol(k: int) -> str:
    """The ``k``-th einsum symbol (``opt_einsum.get_symbol``: letters first, then unicode).

    Examples
    --------
    >>> symbol(0), symbol(26)
    ('a', 'A')
    """
    from opt_einsum import get_symbol

    return str(get_symbol(k))


def einsum_symbols(*label_groups: Iterable[Iterable[Hashable]]) -> dict[Hashable, str]:
    """Symbols for every label, in order of first appearance over ``label_groups``.

    Each group is an iterable of label tuples (one per operand, or the output).

    Examples
    --------
    >>> einsum_symbols([("x", "y"), ("y", 3)], [("x",)])
    {'x': 'a', 'y': 'b', 3: 'c'}
    """
    from opt_einsum import get_symbol

    out: dict[Hashable, str] = {}
    for group in label_groups:
        for labels in group:
            for i in labels:
                if i not in out:
                    out[i] = get_symbol(len(out))
    return out
