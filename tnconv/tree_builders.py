"""The algorithms behind :class:`~tnconv.trees.ModeTree`'s constructors, and their input checks.

Each builder validates its arguments, refuses trees over the memory budget before building them
(:data:`BYTES_PER_NODE`, :data:`BYTES_PER_POSITION`) and returns the ``{node: children}`` mapping (or,
for nested tuples, post-order codes) that :class:`~tnconv.trees.ModeTree` stores. Nothing here imports
the tree class itself: this is the layer below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._core.options import check_budget

__all__ = [
    "BYTES_PER_NODE",
    "BYTES_PER_POSITION",
    "STRUCTURE_FLOOR_BYTES",
    "balanced_children",
    "check_bool",
    "check_int",
    "check_tree_size",
    "codes_to_tables",
    "dilated_children",
    "flat_children",
    "format_node",
    "grid_children",
    "interleaved_children",
    "nested_codes",
    "random_children",
    "short_repr",
    "validate_children",
]

Children = dict[frozenset, list[frozenset]]
Kids = dict[frozenset, tuple[frozenset, ...]]

#: Estimated memory of a :class:`ModeTree`: bytes per node (the frozenset object and its entries in the
#: children, parent, height and depth tables) plus bytes per stored position (every node stores the
#: inputs below it, so a tree stores ``sum(len(v) for v in nodes)`` positions). Measured with
#: ``tracemalloc`` on CPython 3.11 (about 450 and 24), rounded up. Trees whose estimate exceeds both the
#: byte budget (``tnconv.options["max_dense_bytes"]``) and 16 MiB are refused before they are built.
BYTES_PER_NODE = 500
BYTES_PER_POSITION = 32


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


def _is_power(n: int, base: int) -> bool:
    if n < 1 or base < 2:
        return False
    while n % base == 0:
        n //= base
    return n == 1


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


def _log(n: int, base: int) -> int:
    """The number of levels of a tree of arity ``base`` over ``n`` inputs (``n`` a power of ``base``)."""
    k = 0
    while n > 1:
        n //= base
        k += 1
    return k


def validate_children(children: Mapping[frozenset, Sequence[frozenset]]) -> tuple[Kids, list[frozenset]]:
    """Check that ``children`` describes a mode tree; return its canonical children and post-order."""
    if not isinstance(children, Mapping):
        raise TypeError(f"ModeTree needs a mapping {{node: children}}, got {short_repr(children)}")
    kids_raw: dict[frozenset, tuple[frozenset, ...]] = {}
    parent_raw: dict[frozenset, frozenset] = {}
    for node, ch in children.items():
        node = frozenset(node)
        ch = tuple(frozenset(c) for c in ch)
        if len(ch) < 2:
            raise ValueError(
                f"node {format_node(node)} has {len(ch)} child; every internal node of a mode tree "
                "needs at least two children (a unary node is not a pooling window)"
            )
        if node in kids_raw:
            raise ValueError(f"node {format_node(node)} is listed twice")
        if sum(len(c) for c in ch) != len(node) or not all(ch):
            _explain_children(node, ch)
        kids_raw[node] = ch
        for c in ch:
            if c in parent_raw:
                raise ValueError(f"node {format_node(c)} has two parents")
            parent_raw[c] = node
    if not kids_raw:
        raise ValueError("a mode tree needs at least two inputs (one internal node)")
    roots = [v for v in kids_raw if v not in parent_raw]
    if len(roots) != 1:
        raise ValueError(f"a mode tree has exactly one root, found {len(roots)}")
    # One iterative post-order pass (children before parents, in stored order) validates every node
    # and rebuilds it from canonical leaves, so that stored inputs are Python ints whatever the caller
    # passed (numpy integers would not survive JSON). Each node has one parent, so the walk from the
    # root visits each node at most once: linear in the total size of the nodes.
    canon: dict[frozenset, frozenset] = {}
    kids: dict[frozenset, tuple[frozenset, ...]] = {}
    order: list[frozenset] = []
    stack: list[tuple[frozenset, bool]] = [(roots[0], False)]
    while stack:
        node, done = stack.pop()
        if node not in kids_raw:
            if len(node) != 1:
                what = "an empty child" if not node else f"node {format_node(node)} has no children listed"
                raise ValueError(f"mode tree has {what}")
            (x,) = node
            if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
                raise TypeError(f"mode tree inputs must be ints, got {x!r}")
            leaf = frozenset((int(x),))
            canon[node] = leaf
            order.append(leaf)
            continue
        if not done:
            stack.append((node, True))
            for c in reversed(kids_raw[node]):
                stack.append((c, False))
            continue
        ch = tuple(canon[c] for c in kids_raw[node])
        union = frozenset().union(*ch)
        if union != node:
            _explain_children(node, ch)
        canon[node] = union
        kids[union] = ch
        order.append(union)
    if len(order) != len(parent_raw) + 1:
        raise ValueError("the children mapping is not connected to the root")
    root = order[-1]
    n = len(root)
    if root != frozenset(range(n)):
        bad = sorted(x for x in root if not 0 <= x < n)
        missing = sorted(set(range(n)) - root)
        raise ValueError(
            f"inputs must be exactly 0..{n - 1}; unexpected {bad[:10]}, missing {missing[:10]}"
        )
    return kids, order


def nested_codes(nested: Any) -> list[int]:
    """Validate nested tuples of ints; return their post-order codes (leaf ``i``, a ``k``-child node ``-k``)."""
    # Pass 1 validates and flattens the nesting into post-order codes (leaf ``i >= 0``, a node with
    # ``k`` children ``-k``), counting the positions the frozensets will hold, so that an oversized
    # tree is refused before anything big is built. Iterative: any depth works. Children are pushed
    # in reverse behind an end marker, so nodes complete in post-order.
    codes: list[int] = []
    sizes: list[int] = []
    seen: set[int] = set()
    open_lists: set[int] = set()
    n_positions = 0
    stack: list[Any] = [nested]
    while stack:
        item = stack.pop()
        if type(item) is _End:
            k = item.k
            size = sum(sizes[-k:])
            del sizes[-k:]
            sizes.append(size)
            n_positions += size
            codes.append(-k)
            if item.list_id is not None:
                open_lists.discard(item.list_id)
        elif type(item) is int or (isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))):
            leaf = int(item)
            if leaf in seen:
                raise ValueError(f"duplicate leaves [{leaf}] in mode tree {short_repr(nested)}")
            seen.add(leaf)
            codes.append(leaf)
            sizes.append(1)
            n_positions += 1
        elif isinstance(item, (tuple, list)):
            if len(item) < 2:
                raise ValueError(
                    f"nested node {short_repr(item)} has {len(item)} child; internal nodes need at "
                    "least two"
                )
            list_id = None
            if isinstance(item, list):  # only lists can hold themselves
                list_id = id(item)
                if list_id in open_lists:
                    raise ValueError("the nested mode tree contains itself (a list that holds itself)")
                open_lists.add(list_id)
            stack.append(_End(len(item), list_id))
            stack.extend(reversed(item))
        elif isinstance(item, (bool, np.bool_)):
            raise TypeError(f"mode tree leaves must be ints, got {item!r}")
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


def codes_to_tables(codes: Sequence[int]) -> tuple[Kids, list[frozenset], dict[frozenset, int]]:
    """Children, post-order and heights of validated post-order codes (see :func:`nested_codes`)."""
    kids: dict[frozenset, tuple[frozenset, ...]] = {}
    heights: dict[frozenset, int] = {}
    order: list[frozenset] = []
    built: list[frozenset] = []
    for c in codes:
        if c >= 0:
            node = frozenset((c,))
            heights[node] = 0
        else:
            ch = tuple(built[c:])
            del built[c:]
            node = frozenset().union(*ch)
            kids[node] = ch
            heights[node] = 1 + max([heights[x] for x in ch])
        built.append(node)
        order.append(node)
    return kids, order, heights


def balanced_children(n: int, arity: int) -> Children:
    """Contiguous windows of ``arity`` inputs, recursively (``n`` a power of ``arity``)."""
    n, arity = check_int(n, "n"), check_int(arity, "arity")
    if arity < 2 or n < arity or not _is_power(n, arity):
        raise ValueError(f"balanced(n={n}, arity={arity}): n must be a power of arity >= 2")
    check_tree_size(f"ModeTree.balanced(n={n}, arity={arity})", n * arity / (arity - 1),
                     n * (1 + _log(n, arity)))
    level = [frozenset({i}) for i in range(n)]
    children: dict[frozenset, list[frozenset]] = {}
    while len(level) > 1:
        nxt = []
        for k in range(0, len(level), arity):
            group = level[k : k + arity]
            node = frozenset().union(*group)
            children[node] = group
            nxt.append(node)
        level = nxt
    return children


def interleaved_children(n: int, arity: int) -> Children:
    """Windows joining inputs ``n/arity`` apart, recursively (``n`` a power of ``arity``)."""
    n, arity = check_int(n, "n"), check_int(arity, "arity")
    if arity < 2 or n < arity or not _is_power(n, arity):
        raise ValueError(f"interleaved(n={n}, arity={arity}): n must be a power of arity >= 2")
    check_tree_size(f"ModeTree.interleaved(n={n}, arity={arity})", n * arity / (arity - 1),
                     n * (1 + _log(n, arity)))
    level = [frozenset({i}) for i in range(n)]
    children: dict[frozenset, list[frozenset]] = {}
    while len(level) > 1:
        stride = len(level) // arity
        nxt = []
        for i in range(stride):
            group = [level[i + k * stride] for k in range(arity)]
            node = frozenset().union(*group)
            children[node] = group
            nxt.append(node)
        level = nxt
    return children


def grid_children(height: int, width: int, window: int, interleaved: bool) -> Children:
    """``window x window`` blocks of a ``height x width`` image (then strips), recursively."""
    height, width, window = (check_int(v, k)
                             for v, k in ((height, "height"), (width, "width"), (window, "window")))
    interleaved = check_bool(interleaved, "interleaved")
    if window < 2 or not (_is_power(height, window) and _is_power(width, window)) or height * width < 2:
        raise ValueError(
            f"grid({height}, {width}, window={window}): height and width must be powers of window >= 2"
        )
    n = height * width
    check_tree_size(f"ModeTree.grid({height}, {width}, window={window})", 2 * n,
                     n * (1 + _log(height, window) + _log(width, window)))
    # blocks[r][c] is the node covering one block of the current level
    blocks = [[frozenset({r * width + c}) for c in range(width)] for r in range(height)]
    children: dict[frozenset, list[frozenset]] = {}
    while len(blocks) > 1 or len(blocks[0]) > 1:
        sr = window if len(blocks) > 1 else 1
        sc = window if len(blocks[0]) > 1 else 1
        nr, nc = len(blocks) // sr, len(blocks[0]) // sc
        nxt = []
        for r in range(nr):
            row = []
            for c in range(nc):
                if interleaved:
                    group = [blocks[r + i * nr][c + j * nc] for i in range(sr) for j in range(sc)]
                else:
                    group = [blocks[r * sr + i][c * sc + j] for i in range(sr) for j in range(sc)]
                node = frozenset().union(*group)
                children[node] = group
                row.append(node)
            nxt.append(row)
        blocks = nxt
    return children


def flat_children(n: int) -> Children:
    """One root over ``n`` leaves."""
    n = check_int(n, "n")
    if n < 2:
        raise ValueError(f"flat(n={n}): a mode tree needs at least two inputs")
    check_tree_size(f"ModeTree.flat(n={n})", n + 1, 2 * n)
    return {frozenset(range(n)): [frozenset({i}) for i in range(n)]}


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
    children: dict[frozenset, list[frozenset]] = {}

    def cover(layer: int, t: int) -> frozenset:
        if layer < 0:
            return frozenset({t})
        a, b = cover(layer - 1, t - dilations[layer]), cover(layer - 1, t)
        node = a | b
        children[node] = [a, b]
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
    children: dict[frozenset, list[frozenset]] = {}
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
        children[node] = group
        items[start : start + k] = [node]
    return children
