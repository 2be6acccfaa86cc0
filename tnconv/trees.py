"""Mode trees: the pooling geometry of a convolutional network.

A mode tree is a rooted tree whose nodes are frozensets of input positions. Leaves are singletons, each
internal node is the disjoint union of its (two or more) children, and the root holds every input. It is
the tree of pooling windows of a ConvAC, and the dimension tree of its hierarchical tensor decomposition.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor Analysis",
   COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743.
.. [3] N. Cohen, R. Tamari, A. Shashua, "Boosting Dilated Convolutional Networks with Mixed Tensor
   Decompositions", ICLR 2018, arXiv:1703.06846.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._core.options import check_budget

__all__ = ["BYTES_PER_NODE", "BYTES_PER_POSITION", "ModeTree", "format_node", "hybrid_trees"]

Node = frozenset

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


def _short_repr(obj: Any, limit: int = 60) -> str:
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
    """A piece of punctuation pushed by :func:`_short_repr` (distinct from user strings)."""


class _End:
    """Marks, on :meth:`ModeTree.from_nested`'s stack, the end of a node's ``k`` children."""

    __slots__ = ("k", "list_id")

    def __init__(self, k: int, list_id: int | None):
        self.k = k
        self.list_id = list_id


#: Trees estimated below this many bytes are always built, whatever the budget: the budget is meant for
#: dense tensors, and tests often set it tiny.
STRUCTURE_FLOOR_BYTES = 2**24


def _check_tree_size(what: str, n_nodes: float, n_positions: float) -> None:
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


class ModeTree:
    """A rooted tree over input positions ``0..n_inputs-1`` whose nodes are frozensets.

    Build one with a constructor (:meth:`from_nested`, :meth:`balanced`, :meth:`interleaved`,
    :meth:`grid`, :meth:`flat`, :meth:`dilated`, :meth:`random`) rather than directly.

    Parameters
    ----------
    children : mapping
        ``{internal node: sequence of child nodes}``. Leaves are the singletons that appear as
        children and have no entry. The order of the children is kept.

    Raises
    ------
    ValueError
        If the mapping does not describe a mode tree: a node with fewer than two children, children
        that overlap or do not cover their parent, inputs that are missing or not ``0..n-1``.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.
    .. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
       Geometry", ICLR 2017, arXiv:1605.06743.

    Examples
    --------
    >>> t = ModeTree.from_nested(((0, 1), (2, 3)))
    >>> t.n_inputs, len(t.nodes), t.height(t.root)
    (4, 7, 2)
    >>> sorted(map(sorted, t.children(t.root)))
    [[0, 1], [2, 3]]
    >>> t.to_nested()
    ((0, 1), (2, 3))
    """

    def __init__(self, children: Mapping[frozenset, Sequence[frozenset]]):
        if not isinstance(children, Mapping):
            raise TypeError(f"ModeTree needs a mapping {{node: children}}, got {_short_repr(children)}")
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
        self._finish(kids, order)

    def _finish(self, kids: dict[frozenset, tuple[frozenset, ...]], order: list[frozenset],
                heights: dict[frozenset, int] | None = None) -> None:
        """Store a validated tree: ``order`` is its post-order, the root last."""
        root = order[-1]
        parent: dict[frozenset, frozenset] = {}
        for node, ch in kids.items():
            for c in ch:
                parent[c] = node
        self._children = kids
        self._parent = parent
        self._root = root
        self._nodes = tuple(order)
        if heights is None:
            heights = {}
            for node in order:
                heights[node] = 0 if node not in kids else 1 + max(heights[c] for c in kids[node])
        self._height = heights
        depths = {root: 0}
        for node in reversed(order):
            for c in kids.get(node, ()):
                depths[c] = depths[node] + 1
        self._depth = depths

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_nested(cls, nested: Any) -> ModeTree:
        """Build a tree from nested tuples of ints, e.g. ``((0, 1), (2, 3))``.

        Time and memory are linear in the size of the result (``sum(len(v) for v in tree.nodes)``); the
        nesting is walked iteratively, so any depth works. Trees whose estimated memory
        (:data:`BYTES_PER_NODE`, :data:`BYTES_PER_POSITION`) exceeds the byte budget are refused before
        they are built: a caterpillar (each node one leaf plus a subtree) over ``n`` inputs stores about
        ``n**2 / 2`` positions.

        Parameters
        ----------
        nested : nested tuples or lists of int
            Each tuple is a node whose entries are its children; an int is a leaf.

        Returns
        -------
        ModeTree

        Raises
        ------
        ValueError
            Unary nodes, duplicate or missing leaves, leaves that are not ``0..n-1``, a list that
            contains itself.
        TypeError
            Entries that are neither ints nor sequences.
        TensorTooLargeError
            If the tree would exceed the byte budget.

        Examples
        --------
        >>> ModeTree.from_nested((0, (1, 2), 3)).n_inputs
        4
        """
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
                    raise ValueError(f"duplicate leaves [{leaf}] in mode tree {_short_repr(nested)}")
                seen.add(leaf)
                codes.append(leaf)
                sizes.append(1)
                n_positions += 1
            elif isinstance(item, (tuple, list)):
                if len(item) < 2:
                    raise ValueError(
                        f"nested node {_short_repr(item)} has {len(item)} child; internal nodes need at "
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
                raise TypeError(f"mode tree entries must be ints or tuples, got {_short_repr(item)}")
        if len(codes) == 1:
            raise ValueError(f"a mode tree needs at least two inputs, got {_short_repr(nested)}")
        n = len(seen)
        if min(seen) < 0 or max(seen) >= n:
            missing = sorted(set(range(n)) - seen)
            extra = sorted(x for x in seen if not 0 <= x < n)
            raise ValueError(
                f"leaves must be exactly 0..{n - 1} (non-contiguous ids): missing {missing[:10]}, "
                f"out of range {extra[:10]}"
            )
        _check_tree_size(f"a mode tree over {n} inputs", len(codes), n_positions)
        return cls._from_codes(codes)

    @classmethod
    def _from_codes(cls, codes: Sequence[int]) -> ModeTree:
        """Build from validated post-order codes (leaf ``i >= 0``, node with ``k`` children ``-k``)."""
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
        self = cls.__new__(cls)
        self._finish(kids, order, heights)
        return self

    @classmethod
    def balanced(cls, n: int, arity: int = 2) -> ModeTree:
        """Contiguous windows of size ``arity``, recursively: 1D ConvNet pooling.

        Raises
        ------
        ValueError
            If ``n`` is not a power of ``arity`` (at least ``arity``) or ``arity < 2``.

        Examples
        --------
        >>> ModeTree.balanced(8).to_nested()
        (((0, 1), (2, 3)), ((4, 5), (6, 7)))
        >>> ModeTree.balanced(9, arity=3).to_nested()
        ((0, 1, 2), (3, 4, 5), (6, 7, 8))
        """
        n, arity = _check_int(n, "n"), _check_int(arity, "arity")
        if arity < 2 or n < arity or not _is_power(n, arity):
            raise ValueError(f"balanced(n={n}, arity={arity}): n must be a power of arity >= 2")
        _check_tree_size(f"ModeTree.balanced(n={n}, arity={arity})", n * arity / (arity - 1),
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
        return cls(children)

    @classmethod
    def interleaved(cls, n: int, arity: int = 2) -> ModeTree:
        """First level pools ``i`` with ``i + n/arity`` (and ``i + 2n/arity``...), recursively.

        This geometry pools distant inputs first; it favours coarse partitions such as left/right and
        disfavours interleaved ones such as odd/even: the mirror image of :meth:`balanced`.

        Examples
        --------
        >>> ModeTree.interleaved(8).to_nested()
        (((0, 4), (2, 6)), ((1, 5), (3, 7)))
        """
        n, arity = _check_int(n, "n"), _check_int(arity, "arity")
        if arity < 2 or n < arity or not _is_power(n, arity):
            raise ValueError(f"interleaved(n={n}, arity={arity}): n must be a power of arity >= 2")
        _check_tree_size(f"ModeTree.interleaved(n={n}, arity={arity})", n * arity / (arity - 1),
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
        return cls(children)

    @classmethod
    def grid(cls, height: int, width: int, window: int = 2, interleaved: bool = False) -> ModeTree:
        """2D image pooling of ``window x window`` blocks, recursively (input index ``row * width + col``).

        When one side is exhausted before the other, the remaining levels pool ``window x 1`` or
        ``1 x window`` strips. With ``interleaved=True`` each window instead joins pixels that are
        half the image apart ("mirror" pooling: ``(r, c)``, ``(r + h/2, c)``, ``(r, c + w/2)``, ...),
        recursively: the 2D analogue of :meth:`interleaved`.

        Raises
        ------
        ValueError
            If ``height`` or ``width`` is not a power of ``window``, or the image has fewer than 2 pixels.

        Examples
        --------
        >>> t = ModeTree.grid(4, 4)
        >>> sorted(sorted(c) for c in t.children(t.root))
        [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
        """
        height, width, window = (_check_int(v, k)
                                 for v, k in ((height, "height"), (width, "width"), (window, "window")))
        interleaved = _check_bool(interleaved, "interleaved")
        if window < 2 or not (_is_power(height, window) and _is_power(width, window)) or height * width < 2:
            raise ValueError(
                f"grid({height}, {width}, window={window}): height and width must be powers of window >= 2"
            )
        n = height * width
        _check_tree_size(f"ModeTree.grid({height}, {width}, window={window})", 2 * n,
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
        return cls(children)

    @classmethod
    def flat(cls, n: int) -> ModeTree:
        """One root with ``n`` leaf children: the shallow network / CP decomposition.

        Examples
        --------
        >>> ModeTree.flat(3).to_nested()
        (0, 1, 2)
        """
        n = _check_int(n, "n")
        if n < 2:
            raise ValueError(f"flat(n={n}): a mode tree needs at least two inputs")
        _check_tree_size(f"ModeTree.flat(n={n})", n + 1, 2 * n)
        return cls({frozenset(range(n)): [frozenset({i}) for i in range(n)]})

    @classmethod
    def dilated(cls, n_layers: int, dilations: Sequence[int] | None = None) -> ModeTree:
        """The mode tree of a 1D dilated ConvNet (size-2 convolutions) at its last time point.

        Layer ``l`` combines time points ``t - dilations[l]`` and ``t`` of the layer below, so the node
        at layer ``l`` and time ``t`` covers ``S_l(t) = S_{l-1}(t - d_l) | S_{l-1}(t)`` with
        ``S_{-1}(t) = {t}``. Over ``N = 2**n_layers`` inputs the dilations must be a permutation of
        ``1, 2, 4, ..., 2**(n_layers-1)``.

        Parameters
        ----------
        n_layers : int
        dilations : sequence of int, optional
            Defaults to ``1, 2, 4, ...`` (contiguous halves, the same tree as ``balanced``).

        Raises
        ------
        ValueError
            If the dilations do not tile ``0..N-1`` exactly.

        Examples
        --------
        >>> ModeTree.dilated(2, [1, 2]).to_nested()
        ((0, 1), (2, 3))
        >>> ModeTree.dilated(2, [2, 1]).to_nested()
        ((0, 2), (1, 3))
        """
        n_layers = _check_int(n_layers, "n_layers")
        if n_layers < 1:
            raise ValueError(f"dilated(n_layers={n_layers}): need at least one layer")
        if n_layers > 62:
            raise ValueError(f"dilated(n_layers={n_layers}): 2**{n_layers} inputs is far too many")
        _check_tree_size(f"ModeTree.dilated(n_layers={n_layers})", 2.0 ** (n_layers + 1),
                         2.0**n_layers * (n_layers + 1))
        if dilations is None:
            dilations = [2**l for l in range(n_layers)]
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
            raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
        dilations = [_check_int(d, "each dilation") for d in dilations]
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
        return cls(children)

    @classmethod
    def random(
        cls, n: int, arity: tuple[int, int] = (2, 4), seed: int | np.random.Generator | None = None,
        shuffle: bool = True,
    ) -> ModeTree:
        """A random mode tree over ``n`` inputs, each internal node with ``arity[0]..arity[1]`` children.

        Useful for property tests. With ``shuffle=False`` leaves keep their input order (contiguous
        windows).

        Examples
        --------
        >>> t = ModeTree.random(7, seed=0)
        >>> t.n_inputs, all(2 <= len(t.children(v)) <= 4 for v in t.internal_nodes)
        (7, True)
        """
        n = _check_int(n, "n")
        if not isinstance(arity, (tuple, list)) or len(arity) != 2:
            raise TypeError(f"arity must be a pair (min, max) of ints, got {arity!r}")
        lo, hi = (_check_int(a, "arity") for a in arity)
        shuffle = _check_bool(shuffle, "shuffle")
        if n < 2 or lo < 2 or hi < lo:
            raise ValueError(f"random(n={n}, arity={arity}): need n >= 2 and 2 <= arity[0] <= arity[1]")
        # A random tree's depth is not known in advance: check the nodes now, the positions as they grow.
        _check_tree_size(f"ModeTree.random(n={n})", 2 * n, 2 * n)
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
                _check_tree_size(f"ModeTree.random(n={n})", 2 * n, n_positions)
            node = frozenset().union(*group)
            children[node] = group
            items[start : start + k] = [node]
        return cls(children)

    # ------------------------------------------------------------------ navigation
    @property
    def n_inputs(self) -> int:
        """Number of inputs (leaves)."""
        return len(self._root)

    @property
    def root(self) -> frozenset:
        """The root node, ``frozenset(range(n_inputs))``."""
        return self._root

    @property
    def leaves(self) -> tuple[frozenset, ...]:
        """The leaves ``frozenset({i})``, in input order."""
        return tuple(frozenset({i}) for i in range(self.n_inputs))

    @property
    def nodes(self) -> tuple[frozenset, ...]:
        """Every node, children before parents (post-order)."""
        return self._nodes

    @property
    def internal_nodes(self) -> tuple[frozenset, ...]:
        """The internal nodes (pooling windows), children before parents."""
        return tuple(v for v in self._nodes if v in self._children)

    def _check(self, node: Any) -> frozenset:
        if not isinstance(node, frozenset):
            try:
                node = frozenset(node)
            except TypeError:
                raise TypeError(f"a tree node is a set of input positions, got {_short_repr(node)}") from None
        if node not in self._height:
            raise ValueError(f"{format_node(node) if node else repr(node)} is not a node of this tree")
        return node

    def children(self, node: Iterable[int]) -> tuple[frozenset, ...]:
        """The children of ``node`` in stored order (``()`` for a leaf)."""
        return self._children.get(self._check(node), ())

    def parent(self, node: Iterable[int]) -> frozenset | None:
        """The parent of ``node`` (``None`` for the root)."""
        return self._parent.get(self._check(node))

    def is_leaf(self, node: Iterable[int]) -> bool:
        return self._check(node) not in self._children

    def height(self, node: Iterable[int]) -> int:
        """Height: leaves 0, otherwise 1 + the largest child height."""
        return self._height[self._check(node)]

    def depth(self, node: Iterable[int]) -> int:
        """Depth: the root 0, otherwise 1 + the parent's depth."""
        return self._depth[self._check(node)]

    def levels(self) -> list[tuple[frozenset, ...]]:
        """Nodes grouped by height: ``levels()[h]`` holds the nodes of height ``h`` in tree order."""
        out: list[list[frozenset]] = [[] for _ in range(self._height[self._root] + 1)]
        for v in self._nodes:
            out[self._height[v]].append(v)
        return [tuple(level) for level in out]

    def is_uniform(self) -> bool:
        """True when every leaf has depth equal to the tree height and each level has one arity.

        Uniform trees (balanced 1D, 2D grids, interleaved) can be evaluated one level at a time.
        """
        root_h = self._height[self._root]
        if any(self._depth[leaf] != root_h for leaf in self.leaves):
            return False
        return all(len({len(self._children[v]) for v in level}) == 1 for level in self.levels()[1:])

    def to_nested(self) -> Any:
        """Nested tuples of ints, the inverse of :meth:`from_nested`."""

        # Iterative over the post-order: deep trees (caterpillars) would exceed the recursion limit.
        built: list[Any] = []
        for node in self._nodes:
            ch = self._children.get(node)
            if ch is None:
                built.append(next(iter(node)))
            else:
                k = len(ch)
                sub = tuple(built[-k:])
                del built[-k:]
                built.append(sub)
        return built[0]

    def tiling(self, part: Iterable[int]) -> tuple[frozenset, ...]:
        """The maximal tree nodes contained in ``part``; their disjoint union is ``part``.

        Parameters
        ----------
        part : iterable of int
            A set of input positions (validated like every partition).

        Returns
        -------
        tuple of frozenset
            Sorted by smallest input position.

        Examples
        --------
        >>> t = ModeTree.balanced(8)
        >>> [sorted(v) for v in t.tiling({0, 1, 2, 3, 5})]
        [[0, 1, 2, 3], [5]]
        """
        from .partitions import validate_partition

        part = validate_partition(part, self.n_inputs, allow_full=True)
        out: list[frozenset] = []
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node <= part:
                out.append(node)
            elif node & part:
                stack.extend(self._children[node])
        return tuple(sorted(out, key=min))

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModeTree):
            return NotImplemented
        return {k: frozenset(v) for k, v in self._children.items()} == {
            k: frozenset(v) for k, v in other._children.items()
        }

    def __hash__(self) -> int:
        return hash(frozenset((k, frozenset(v)) for k, v in self._children.items()))

    def __repr__(self) -> str:
        return f"ModeTree({_short_repr(self.to_nested(), 80)})"

    def __len__(self) -> int:
        return len(self._nodes)


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


def _check_int(value: Any, name: str) -> int:
    """An int (Python or numpy integer); bools and floats (even ``2.0``) are refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {_short_repr(value)} ({type(value).__name__})")
    return int(value)


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_short_repr(value)}")
    return bool(value)


def _log(n: int, base: int) -> int:
    """The number of levels of a tree of arity ``base`` over ``n`` inputs (``n`` a power of ``base``)."""
    k = 0
    while n > 1:
        n //= base
        k += 1
    return k


def hybrid_trees(tree_a: ModeTree, tree_b: ModeTree, mixture_nodes: Iterable[Iterable[int]],
                 max_segments: int = 16) -> list[ModeTree]:
    """The hybrid trees of a mixed decomposition.

    Each mixture node is internal to both trees. Cutting both trees at the mixture nodes splits them
    into segments; a hybrid takes each segment (the part of a tree between a mixture node and the
    mixture nodes below it, or the top segment under the root) from either ``tree_a`` or ``tree_b``.
    The root segment and each mixture node's segment are chosen independently, so there are
    ``2 ** (len(mixture_nodes) + 1)`` choices (duplicates removed).

    Parameters
    ----------
    tree_a, tree_b : ModeTree
        Trees over the same inputs.
    mixture_nodes : iterable of node
        Nodes internal to both trees (the root may be included; it is always a segment boundary).
    max_segments : int
        Refuse more than this many segments (``2**max_segments`` hybrids would be enumerated).

    Returns
    -------
    list of ModeTree
        Distinct hybrid trees; ``tree_a`` and ``tree_b`` are among them.

    Raises
    ------
    ValueError
        If the trees have different inputs or a mixture node is not internal to both.

    References
    ----------
    .. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 4.

    Examples
    --------
    >>> a = ModeTree.dilated(3, [1, 2, 4]); b = ModeTree.dilated(3, [2, 1, 4])
    >>> len(hybrid_trees(a, b, [frozenset(range(4)), frozenset(range(4, 8))]))
    4
    """
    if tree_a.n_inputs != tree_b.n_inputs:
        raise ValueError(f"trees have {tree_a.n_inputs} and {tree_b.n_inputs} inputs")
    mix = [frozenset(m) for m in mixture_nodes]
    ia, ib = set(tree_a.internal_nodes), set(tree_b.internal_nodes)
    for m in mix:
        if m not in ia or m not in ib:
            raise ValueError(f"mixture node {format_node(m)} is not an internal node of both trees")
    boundaries = sorted(set(mix) | {tree_a.root}, key=len)
    if len(boundaries) > max_segments:
        raise ValueError(
            f"{len(mix)} mixture nodes give 2^{len(boundaries)} hybrid choices; pass at most "
            f"{max_segments - 1} mixture nodes or raise max_segments"
        )
    results: dict[ModeTree, None] = {}
    for mask in range(2 ** len(boundaries)):
        choice = {b: (tree_a if (mask >> k) & 1 == 0 else tree_b) for k, b in enumerate(boundaries)}
        children: dict[frozenset, list[frozenset]] = {}
        # Each node's children come from the tree chosen for the segment it lies in; a boundary node
        # starts a new segment. Iterative: trees may be deeper than the recursion limit.
        todo = [(tree_a.root, choice[tree_a.root])]
        while todo:
            node, src = todo.pop()
            if src.is_leaf(node):
                continue
            children[node] = list(src.children(node))
            todo.extend((c, choice.get(c, src)) for c in src.children(node))
        results[ModeTree(children)] = None
    return list(results)
