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

__all__ = ["ModeTree", "format_node", "hybrid_trees"]

Node = frozenset


def format_node(node: Iterable[int]) -> str:
    """Short text for a node: ``{0,1,2,3}``; long contiguous runs are written ``{0..63}``."""
    items = sorted(node)
    if len(items) > 6 and items == list(range(items[0], items[-1] + 1)):
        return "{%d..%d}" % (items[0], items[-1])
    return "{" + ",".join(map(str, items)) + "}"


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
        kids: dict[frozenset, tuple[frozenset, ...]] = {}
        for node, ch in children.items():
            node = frozenset(node)
            ch = tuple(frozenset(c) for c in ch)
            if len(ch) < 2:
                raise ValueError(
                    f"node {format_node(node)} has {len(ch)} child; every internal node of a mode tree "
                    "needs at least two children (a unary node is not a pooling window)"
                )
            union: set[int] = set()
            for c in ch:
                if not c:
                    raise ValueError(f"node {format_node(node)} has an empty child")
                overlap = union & c
                if overlap:
                    raise ValueError(
                        f"children of node {format_node(node)} overlap on inputs {sorted(overlap)}"
                    )
                union |= c
            if union != node:
                raise ValueError(
                    f"children of node {format_node(node)} cover {format_node(union)}, not the node itself"
                )
            kids[node] = ch
        if not kids:
            raise ValueError("a mode tree needs at least two inputs (one internal node)")
        all_children = [c for ch in kids.values() for c in ch]
        parent: dict[frozenset, frozenset] = {}
        for node, ch in kids.items():
            for c in ch:
                if c in parent:
                    raise ValueError(f"node {format_node(c)} has two parents")
                parent[c] = node
        roots = [n for n in kids if n not in parent]
        if len(roots) != 1:
            raise ValueError(f"a mode tree has exactly one root, found {len(roots)}")
        root = roots[0]
        n = len(root)
        if root != frozenset(range(n)):
            bad = sorted(x for x in root if not (isinstance(x, (int, np.integer)) and 0 <= x < n))
            missing = sorted(set(range(n)) - root)
            raise ValueError(
                f"inputs must be exactly 0..{n - 1}; unexpected {bad}, missing {missing}"
            )
        for c in all_children:
            if len(c) > 1 and c not in kids:
                raise ValueError(f"node {format_node(c)} has no children listed")
        # Post-order: children before parents, a node's children in their stored order.
        order: list[frozenset] = []
        stack: list[tuple[frozenset, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done or node not in kids:
                order.append(node)
                continue
            stack.append((node, True))
            for c in reversed(kids[node]):
                stack.append((c, False))
        if len(order) != len(all_children) + 1:
            raise ValueError("the children mapping is not connected to the root")
        self._children = kids
        self._parent = parent
        self._root = root
        self._nodes = tuple(order)
        heights: dict[frozenset, int] = {}
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
            Unary nodes, duplicate or missing leaves, leaves that are not ``0..n-1``.
        TypeError
            Entries that are neither ints nor sequences.

        Examples
        --------
        >>> ModeTree.from_nested((0, (1, 2), 3)).n_inputs
        4
        """
        children: dict[frozenset, list[frozenset]] = {}
        seen: list[int] = []

        def build(item: Any) -> frozenset:
            if isinstance(item, (bool, np.bool_)):
                raise TypeError(f"mode tree leaves must be ints, got {item!r}")
            if isinstance(item, (int, np.integer)):
                seen.append(int(item))
                return frozenset({int(item)})
            if isinstance(item, (tuple, list)):
                if len(item) < 2:
                    raise ValueError(
                        f"nested node {item!r} has {len(item)} child; internal nodes need at least two"
                    )
                ch = [build(x) for x in item]
                node = frozenset().union(*ch)
                if len(node) != sum(len(c) for c in ch):
                    dup = sorted({x for x in seen if seen.count(x) > 1})
                    raise ValueError(f"duplicate leaves {dup} in mode tree {nested!r}")
                children[node] = ch
                return node
            raise TypeError(f"mode tree entries must be ints or tuples, got {item!r}")

        root = build(nested)
        dups = sorted({x for x in seen if seen.count(x) > 1})
        if dups:
            raise ValueError(f"duplicate leaves {dups} in mode tree {nested!r}")
        if not children:
            raise ValueError(f"a mode tree needs at least two inputs, got {nested!r}")
        n = len(root)
        if root != frozenset(range(n)):
            missing = sorted(set(range(n)) - root)
            extra = sorted(x for x in root if x >= n or x < 0)
            raise ValueError(
                f"leaves must be exactly 0..{n - 1} (non-contiguous ids): missing {missing}, out of range {extra}"
            )
        return cls(children)

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
        height, width, window = (_check_int(v, k) for v, k in ((height, "height"), (width, "width"), (window, "window")))
        if window < 2 or not (_is_power(height, window) and _is_power(width, window)) or height * width < 2:
            raise ValueError(
                f"grid({height}, {width}, window={window}): height and width must be powers of window >= 2"
            )
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
        if dilations is None:
            dilations = [2**l for l in range(n_layers)]
        for d in dilations:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
                raise TypeError(f"dilations must be ints, got {d!r}")
        dilations = [int(d) for d in dilations]
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
        lo, hi = arity
        if n < 2 or lo < 2 or hi < lo:
            raise ValueError(f"random(n={n}, arity={arity}): need n >= 2 and 2 <= arity[0] <= arity[1]")
        rng = np.random.default_rng(seed)
        items = [frozenset({i}) for i in (rng.permutation(n) if shuffle else range(n))]
        children: dict[frozenset, list[frozenset]] = {}
        while len(items) > 1:
            k = int(rng.integers(lo, hi + 1))
            k = min(k, len(items))
            if len(items) - k == 1 and k > 2:  # avoid leaving a single item that cannot be joined later
                k -= 1
            start = int(rng.integers(0, len(items) - k + 1))
            group = items[start : start + k]
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
        node = frozenset(node) if not isinstance(node, frozenset) else node
        if node not in self._height:
            raise KeyError(f"{format_node(node) if node else node!r} is not a node of this tree")
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

        def rec(node: frozenset) -> Any:
            if node not in self._children:
                return next(iter(node))
            return tuple(rec(c) for c in self._children[node])

        return rec(self._root)

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
        text = repr(self.to_nested())
        if len(text) > 80:
            text = text[:77] + "..."
        return f"ModeTree({text})"

    def __len__(self) -> int:
        return len(self._nodes)


def _check_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return int(value)


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

        def build(node: frozenset, src: ModeTree) -> None:
            if src.is_leaf(node):
                return
            for c in src.children(node):
                if c in choice and c != node:
                    build_segment(c)
                else:
                    build(c, src)
            children[node] = list(src.children(node))

        def build_segment(b: frozenset) -> None:
            build(b, choice[b])

        build_segment(tree_a.root)
        results[ModeTree(children)] = None
    return list(results)
