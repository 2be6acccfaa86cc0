"""The algorithms behind :class:`~tnconv.trees.ModeTree`'s constructors, and their input checks.

Each builder validates its arguments, refuses trees over the memory budget before building them
(:data:`BYTES_PER_NODE`, :data:`BYTES_PER_POSITION`) and returns the ``{node: children}`` mapping (or,
for nested tuples, post-order codes) that :class:`~tnconv.trees.ModeTree` stores. Nothing here imports
the tree class itself: this is the layer below it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    "code_tables",
    "codes_to_tables",
    "dilated_children",
    "flat_children",
    "format_node",
    "nested_codes",
    "paused_gc",
    "post_order",
    "random_children",
    "short_repr",
    "validate_children",
    "validate_codes",
]

Children = dict[frozenset, tuple[frozenset, ...]]
Kids = dict[frozenset, tuple[frozenset, ...]]

#: Estimated memory of a :class:`ModeTree`: bytes per node (the frozenset object and its entries in the
#: children, parent, height and depth tables) plus bytes per stored position (every node stores the
#: inputs below it, so a tree stores ``sum(len(v) for v in nodes)`` positions). Measured with
#: ``tracemalloc`` on CPython 3.11 (about 450 and 24), rounded up. Trees whose estimate exceeds both the
#: byte budget (``tnconv.options["max_dense_bytes"]``) and 16 MiB are refused before they are built.
BYTES_PER_NODE = 500
BYTES_PER_POSITION = 32


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


class _End:
    """Marks, on :meth:`ModeTree.from_nested`'s stack, the end of a node's ``k`` children."""

    __slots__ = ("k", "list_id")

    def __init__(self, k: int, list_id: int | None):
        self.k = k
        self.list_id = list_id


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


def check_int(value: Any, name: str) -> int:
    """An int (Python or numpy integer); bools and floats (even ``2.0``) are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {short_repr(value)} ({type(value).__name__})")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {short_repr(value)}")
    return bool(value)


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


def flat_children(n: int) -> Children:
    """One root over ``n`` leaves."""
    n = check_int(n, "n")
    if n < 2:
        raise ValueError(f"flat(n={n}): a mode tree needs at least two inputs")
    check_tree_size(f"ModeTree.flat(n={n})", n + 1, 2 * n)
    return {frozenset(range(n)): tuple(frozenset({i}) for i in range(n))}


def dilated_children(n_layers: int, dilations: Sequence[int] | None) -> Children:
    """The receptive fields of a size-2 dilated convolution stack at its last time point."""
    n_layers = check_int(n_layers, "n_layers")
    if n_layers < 1:
        raise ValueError(f"dilated(n_layers={n_layers}): need at least one layer")
    if n_layers > 62:
        raise ValueError(f"dilated(n_layers={n_layers}): 2**{n_layers} inputs is far too many")
    check_tree_size(f"ModeTree.dilated(n_layers={n_layers})", 2.0 ** (n_layers + 1),
                     2.0**n_layers * (n_layers + 1))
    if dilations is None:
        dilations = [2**l for l in range(n_layers)]
    if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
        raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
    dilations = [check_int(d, "each dilation") for d in dilations]
    if len(dilations) != n_layers:
        raise ValueError(f"dilations {dilations} must have one entry per layer ({n_layers})")
    n = 2**n_layers
    if sorted(dilations) != [2**l for l in range(n_layers)]:
        raise ValueError(
            f"dilations {dilations} must be a permutation of {[2**l for l in range(n_layers)]} "
            f"to tile {n} inputs"
        )
    children: Children = {}

    def cover(layer: int, t: int) -> frozenset:
        if layer < 0:
            return frozenset({t})
        a, b = cover(layer - 1, t - dilations[layer]), cover(layer - 1, t)
        node = a | b
        children[node] = (a, b)
        return node

    cover(n_layers - 1, n - 1)
    return children


def random_children(n: int, arity: tuple[int, int], seed: int | np.random.Generator | None,
                    shuffle: bool) -> Children:
    """Random windows of ``arity[0]..arity[1]`` items over ``n`` inputs (shuffled unless ``shuffle=False``)."""
    n = check_int(n, "n")
    if not isinstance(arity, (tuple, list)) or len(arity) != 2:
        raise TypeError(f"arity must be a pair (min, max) of ints, got {arity!r}")
    lo, hi = (check_int(a, "arity") for a in arity)
    shuffle = check_bool(shuffle, "shuffle")
    if n < 2 or lo < 2 or hi < lo:
        raise ValueError(f"random(n={n}, arity={arity}): need n >= 2 and 2 <= arity[0] <= arity[1]")
    # A random tree's depth is not known in advance: check the nodes now, the positions as they grow.
    check_tree_size(f"ModeTree.random(n={n})", 2 * n, 2 * n)
    rng = np.random.default_rng(seed)
    items = [frozenset({int(i)}) for i in (rng.permutation(n) if shuffle else range(n))]
    children: Children = {}
    n_positions = n
    while len(items) > 1:
        k = int(rng.integers(lo, hi + 1))
        k = min(k, len(items))
        if len(items) - k == 1 and k > 2:  # avoid leaving a single item that cannot be joined later
            k -= 1
        start = int(rng.integers(0, len(items) - k + 1))
        group = items[start : start + k]
        n_positions += sum(len(g) for g in group)
        if n_positions > 64 * n:  # cheap to skip for the usual shallow trees
            check_tree_size(f"ModeTree.random(n={n})", 2 * n, n_positions)
        node = frozenset().union(*group)
        children[node] = tuple(group)
        items[start : start + k] = [node]
    return children
