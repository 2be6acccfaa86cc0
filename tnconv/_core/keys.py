"""Text keys of mode-tree nodes, shared by the network compiler and the model files.

A node is a frozenset of input positions; its key is the comma-separated sorted positions. The keys
name channel indices of compiled networks (``"c0,1"``) and members of version 1 model files.
"""

from __future__ import annotations

__all__ = ["node_key", "parse_node_key"]


def node_key(node: frozenset) -> str:
    """The text ``"0,1,5"`` of a node (its sorted inputs).

    Examples
    --------
    >>> node_key(frozenset({5, 0, 1}))
    '0,1,5'
    """
    return ",".join(map(str, sorted(node)))


def parse_node_key(key: str) -> frozenset:
    """The inverse of :func:`node_key`.

    Raises
    ------
    ValueError
        If ``key`` is not comma-separated non-negative integers.

    Examples
    --------
    >>> sorted(parse_node_key("0,1,5"))
    [0, 1, 5]
    >>> parse_node_key("a,1")
    Traceback (most recent call last):
    ...
    ValueError: node key 'a,1' is not comma-separated non-negative integers
    """
    parts = key.split(",")
    if not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"node key {key[:60]!r} is not comma-separated non-negative integers")
    return frozenset(int(x) for x in parts)
