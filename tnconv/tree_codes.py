"""Mode trees as tables: validating a children mapping, nested tuples or post-order codes, and indexing them.

A tree reaches :class:`~tnconv.trees.ModeTree` as a ``{node: children}`` mapping, as nested tuples or as
post-order codes (leaf ``i`` written ``i``, a node of ``k`` children ``-k``, the root last). The functions
here check each form in time linear in the size of the tree, without recursion, and turn it into what the
tree stores: its post-order nodes, its codes and the parent, height and depth of every node.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .tree_checks import check_tree_size, format_node, short_repr

__all__ = [
    "code_tables",
    "codes_to_tables",
    "nested_codes",
    "paused_gc",
    "post_order",
    "validate_children",
    "validate_codes",
]

Kids = dict[frozenset, tuple[frozenset, ...]]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a tree is built, and restore its state afterwards.

    A tree allocates millions of frozensets, and CPython's collector traverses every element of every
    live set on each full collection: at 10**6 leaves that alone costs more than building the tree.
    The objects built hold no reference cycles, so nothing collectable accumulates meanwhile.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _explain_children(node: frozenset, ch: Sequence[frozenset]) -> None:
    """Raise the ValueError that says how the children ``ch`` fail to partition ``node``."""
    if not all(ch):
        raise ValueError(f"node {format_node(node)} has an empty child")
    seen: set[Any] = set()
    overlap = sorted({x for c in ch for x in c if x in seen or seen.add(x)})  # type: ignore[func-returns-value]
    if overlap:
        raise ValueError(f"children of node {format_node(node)} overlap on inputs {overlap[:10]}")
    union = frozenset().union(*ch)
    raise ValueError(f"children of node {format_node(node)} cover {format_node(union)}, not the node itself")


def validate_children(children: Mapping[frozenset, Sequence[frozenset]]) -> tuple[Kids, frozenset, bool]:
    """Check that ``children`` describes a mode tree; return its children, its root, and whether every
    input is a Python int (numpy integers must be rebuilt as ints: they would not survive JSON).

    Linear in the size of the nodes and allocation-free per node: each node's children are checked to
    be subsets of it whose sizes add up to its size. With every node listed as a child at most once,
    induction from the leaves (singletons) up shows that each node is the disjoint union of its
    children, without building any union.
    """
    if not isinstance(children, Mapping):
        raise TypeError(f"ModeTree needs a mapping {{node: children}}, got {short_repr(children)}")
    kids: dict[frozenset, tuple[frozenset, ...]] = {}
    has_parent: set[frozenset] = set()
    add_parent = has_parent.add
    for node, ch in children.items():
        if type(node) is not frozenset:
            node = frozenset(node)
        ch = tuple(ch)
        if len(ch) < 2:
            raise ValueError(
                f"node {format_node(node)} has {len(ch)} child; every internal node of a mode tree "
                "needs at least two children (a unary node is not a pooling window)"
            )
        if node in kids:
            raise ValueError(f"node {format_node(node)} is listed twice")
        total = 0
        for c in ch:
            if type(c) is not frozenset:
                ch = tuple(frozenset(c) for c in ch)
                break
        for c in ch:
            if not c or not c <= node:
                _explain_children(node, ch)
            total += len(c)
            if c in has_parent:
                raise ValueError(f"node {format_node(c)} has two parents")
            add_parent(c)
        if total != len(node):
            _explain_children(node, ch)
        kids[node] = ch
    if not kids:
        raise ValueError("a mode tree needs at least two inputs (one internal node)")
    roots = [v for v in kids if v not in has_parent]
    if len(roots) != 1:
        raise ValueError(f"a mode tree has exactly one root, found {len(roots)}")
    root = roots[0]
    n_reached = 1
    ints = True
    stack = [root]
    while stack:
        ch = kids[stack.pop()]
        n_reached += len(ch)
        for c in ch:
            if c in kids:
                stack.append(c)
                continue
            if len(c) != 1:
                raise ValueError(f"mode tree has node {format_node(c)} with no children listed")
            (x,) = c
            if type(x) is not int:
                if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                    raise TypeError(f"mode tree inputs must be ints, got {x!r}")
                ints = False
    if n_reached != len(has_parent) + 1:
        raise ValueError("the children mapping is not connected to the root")
    n = len(root)
    if root != frozenset(range(n)):
        bad = sorted(x for x in root if not 0 <= x < n)
        missing = sorted(set(range(n)) - root)
        raise ValueError(
            f"inputs must be exactly 0..{n - 1}; unexpected {bad[:10]}, missing {missing[:10]}"
        )
    return kids, root, ints


def post_order(kids: Mapping[frozenset, Sequence[frozenset]], root: frozenset) -> tuple[list[frozenset], list[int]]:
    """The nodes in post-order (children in stored order, the root last) and their codes.

    A leaf ``{i}`` has code ``i``, a node with ``k`` children ``-k`` (the format of model files).
    """
    order: list[frozenset] = []
    codes: list[int] = []
    add, add_code, get = order.append, codes.append, kids.get
    stack = [root]
    pop, extend = stack.pop, stack.extend
    # Popping the last child first gives a pre-order with children reversed; its reverse is the
    # post-order with children in stored order.
    while stack:
        v = pop()
        add(v)
        ch = get(v)
        if ch is None:
            add_code(int(next(iter(v))))
        else:
            add_code(-len(ch))
            extend(ch)
    order.reverse()
    codes.reverse()
    return order, codes


def code_tables(codes: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """Parent index (``-1`` at the root), height and depth of every node of post-order ``codes``.

    Integer work only, no frozensets touched: one pass up with a stack, one pass down.
    """
    n = len(codes)
    parent = [-1] * n
    height = [0] * n
    stack: list[int] = []
    push = stack.append
    for p, c in enumerate(codes):
        if c < 0:
            ch = stack[c:]
            del stack[c:]
            h = 0
            for q in ch:
                parent[q] = p
                if height[q] > h:
                    h = height[q]
            height[p] = h + 1
        push(p)
    depth = [0] * n
    for p in range(n - 2, -1, -1):  # parents come after their children
        depth[p] = depth[parent[p]] + 1
    return parent, height, depth


class _End:
    """Marks, on :meth:`ModeTree.from_nested`'s stack, the end of a node's ``k`` children."""

    __slots__ = ("k", "list_id")

    def __init__(self, k: int, list_id: int | None):
        self.k = k
        self.list_id = list_id


def nested_codes(nested: Any) -> list[int]:
    """Validate nested tuples of ints; return their post-order codes (leaf ``i``, a ``k``-child node ``-k``)."""
    # Pass 1 validates and flattens the nesting into post-order codes (leaf ``i >= 0``, a node with
    # ``k`` children ``-k``), counting the positions the frozensets will hold, so that an oversized
    # tree is refused before anything big is built. Iterative: any depth works. Children are pushed
    # in reverse behind an end marker, so nodes complete in post-order.
    codes: list[int] = []
    seen: set[int] = set()
    open_lists: set[int] = set()
    stack: list[Any] = [nested]
    pop, push, extend = stack.pop, stack.append, stack.extend
    add_code, see = codes.append, seen.add
    ends: dict[int, _End] = {}  # one shared end marker per arity for tuples (lists need their own)
    depth = 0  # open nodes on the stack: the ancestors of the item just popped
    n_positions = 0  # a leaf is stored once in itself and once in each ancestor
    while stack:
        item = pop()
        kind = type(item)  # exact types first: the common cases cost one comparison
        if kind is int:
            if item in seen:
                raise ValueError(f"duplicate leaves [{item}] in mode tree {short_repr(nested)}")
            see(item)
            add_code(item)
            n_positions += depth + 1
        elif kind is _End:
            add_code(-item.k)
            depth -= 1
            if item.list_id is not None:
                open_lists.discard(item.list_id)
        elif kind is tuple or kind is list or isinstance(item, (tuple, list)):
            k = len(item)
            if k < 2:
                raise ValueError(
                    f"nested node {short_repr(item)} has {k} child; internal nodes need at least two"
                )
            if kind is not tuple and isinstance(item, list):  # only lists can hold themselves
                list_id = id(item)
                if list_id in open_lists:
                    raise ValueError("the nested mode tree contains itself (a list that holds itself)")
                open_lists.add(list_id)
                push(_End(k, list_id))
            else:
                end = ends.get(k)
                if end is None:
                    end = ends[k] = _End(k, None)
                push(end)
            depth += 1
            extend(reversed(item))
        elif isinstance(item, (bool, np.bool_)):
            raise TypeError(f"mode tree leaves must be ints, got {item!r}")
        elif isinstance(item, (int, np.integer)):
            push(int(item))
        else:
            raise TypeError(f"mode tree entries must be ints or tuples, got {short_repr(item)}")
    if len(codes) == 1:
        raise ValueError(f"a mode tree needs at least two inputs, got {short_repr(nested)}")
    n = len(seen)
    if min(seen) < 0 or max(seen) >= n:
        missing = sorted(set(range(n)) - seen)
        extra = sorted(x for x in seen if not 0 <= x < n)
        raise ValueError(
            f"leaves must be exactly 0..{n - 1} (non-contiguous ids): missing {missing[:10]}, "
            f"out of range {extra[:10]}"
        )
    check_tree_size(f"a mode tree over {n} inputs", len(codes), n_positions)
    return codes


def validate_codes(codes: Any) -> list[int]:
    """Check post-order codes (leaf ``i`` as ``i >= 0``, a node of ``k`` children as ``-k``); return them.

    Integer work only, one pass: every node closes at least two open subtrees, one subtree is left at
    the end, and the leaves are ``0..n-1`` once each. The tree's size is checked against the budget
    before any node is built.
    """
    if isinstance(codes, np.ndarray):
        if codes.ndim != 1 or codes.dtype.kind not in "iu":
            raise TypeError(f"tree codes must be a 1D sequence of ints, got an array of {codes.dtype} "
                            f"and shape {codes.shape}")
        codes = codes.tolist()
    elif isinstance(codes, (str, bytes)) or not isinstance(codes, Sequence):
        raise TypeError(f"tree codes must be a sequence of ints, got {short_repr(codes)}")
    out = list(codes)
    sizes: list[int] = []
    push = sizes.append
    n_positions = 0
    n_leaves = 0
    for k, c in enumerate(out):
        if type(c) is not int:
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
                raise TypeError(f"tree code {k} is {short_repr(c)}; codes are ints")
            c = out[k] = int(c)
        if c >= 0:
            push(1)
            n_leaves += 1
            continue
        if -c < 2 or -c > len(sizes):
            raise ValueError(f"tree code {c} at position {k} closes a node of {-c} children, but "
                             f"{len(sizes)} are open (a node needs at least two)")
        size = sum(sizes[c:])
        del sizes[c:]
        push(size)
        n_positions += size
    if len(sizes) != 1 or n_leaves < 2:
        raise ValueError(f"the tree codes leave {len(sizes)} unfinished subtrees (expected one root over at "
                         "least two inputs)")
    leaves = sorted(c for c in out if c >= 0)
    if leaves != list(range(n_leaves)):
        seen: set[int] = set()
        dups = sorted({c for c in leaves if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
        if dups:
            raise ValueError(f"duplicate leaves {dups[:10]} in the tree codes")
        missing = sorted(set(range(n_leaves)) - set(leaves))
        extra = sorted(c for c in leaves if c >= n_leaves)
        raise ValueError(f"leaves must be exactly 0..{n_leaves - 1} (non-contiguous ids): missing {missing[:10]}, "
                         f"out of range {extra[:10]}")
    check_tree_size(f"a mode tree over {n_leaves} inputs", len(out), n_positions + n_leaves)
    return out


def codes_to_tables(codes: Sequence[int]) -> tuple[Kids, list[frozenset]]:
    """Children and post-order nodes of validated post-order codes (see :func:`nested_codes`)."""
    kids: dict[frozenset, tuple[frozenset, ...]] = {}
    order: list[frozenset] = []
    built: list[frozenset] = []
    add, keep = order.append, built.append
    union = frozenset().union
    for c in codes:
        if c >= 0:
            node = frozenset((c,))
        else:
            ch = tuple(built[c:])
            del built[c:]
            node = union(*ch)
            kids[node] = ch
        keep(node)
        add(node)
    return kids, order
