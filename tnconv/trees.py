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

from .hybrid import hybrid_trees
from .tree_builders import (
    BYTES_PER_NODE,
    BYTES_PER_POSITION,
    balanced_children,
    codes_to_tables,
    dilated_children,
    flat_children,
    format_node,
    grid_children,
    interleaved_children,
    nested_codes,
    random_children,
    short_repr,
    validate_children,
)

__all__ = ["BYTES_PER_NODE", "BYTES_PER_POSITION", "ModeTree", "format_node", "hybrid_trees"]


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

    #: ``(height, width)`` of the image for trees built by :meth:`grid` (read by partition names), else None.
    image_shape: tuple[int, int] | None = None

    def __init__(self, children: Mapping[frozenset, Sequence[frozenset]]):
        self._finish(*validate_children(children))

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
        return cls._from_codes(nested_codes(nested))

    @classmethod
    def _from_codes(cls, codes: Sequence[int]) -> ModeTree:
        """Build from validated post-order codes (leaf ``i >= 0``, node with ``k`` children ``-k``)."""
        self = cls.__new__(cls)
        self._finish(*codes_to_tables(codes))
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
        return cls(balanced_children(n, arity))

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
        return cls(interleaved_children(n, arity))

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
        tree = cls(grid_children(height, width, window, interleaved))
        tree.image_shape = (int(height), int(width))
        return tree

    @classmethod
    def flat(cls, n: int) -> ModeTree:
        """One root with ``n`` leaf children: the shallow network / CP decomposition.

        Examples
        --------
        >>> ModeTree.flat(3).to_nested()
        (0, 1, 2)
        """
        return cls(flat_children(n))

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
        return cls(dilated_children(n_layers, dilations))

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
        return cls(random_children(n, arity, seed, shuffle))

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
                raise TypeError(f"a tree node is a set of input positions, got {short_repr(node)}") from None
        if node not in self._height:
            raise ValueError(f"{format_node(node) if node else repr(node)} is not a node of this tree")
        return node

    def children(self, node: Iterable[int]) -> tuple[frozenset, ...]:
        """The children of ``node`` in stored order (``()`` for a leaf).

        Parameters
        ----------
        node : iterable of int
            A node (its input positions); anything else is a ValueError naming it.

        Returns
        -------
        tuple of frozenset

        Examples
        --------
        >>> ModeTree.balanced(4).children({0, 1, 2, 3})
        (frozenset({0, 1}), frozenset({2, 3}))
        """
        return self._children.get(self._check(node), ())

    def parent(self, node: Iterable[int]) -> frozenset | None:
        """The parent of ``node`` (``None`` for the root).

        Parameters
        ----------
        node : iterable of int
            A node (its input positions); anything else is a ValueError naming it.

        Returns
        -------
        frozenset or None

        Examples
        --------
        >>> ModeTree.balanced(4).parent({2})
        frozenset({2, 3})
        """
        return self._parent.get(self._check(node))

    def is_leaf(self, node: Iterable[int]) -> bool:
        """Whether ``node`` is a leaf (a single input).

        Parameters
        ----------
        node : iterable of int
            A node (its input positions); anything else is a ValueError naming it.

        Returns
        -------
        bool

        Examples
        --------
        >>> ModeTree.balanced(4).is_leaf({3}), ModeTree.balanced(4).is_leaf({2, 3})
        (True, False)
        """
        return self._check(node) not in self._children

    def height(self, node: Iterable[int]) -> int:
        """Height: leaves 0, otherwise 1 + the largest child height.

        Parameters
        ----------
        node : iterable of int
            A node (its input positions); anything else is a ValueError naming it.

        Returns
        -------
        int

        Examples
        --------
        >>> t = ModeTree.from_nested(((0, 1), 2))
        >>> t.height({0}), t.height({0, 1}), t.height(t.root)
        (0, 1, 2)
        """
        return self._height[self._check(node)]

    def depth(self, node: Iterable[int]) -> int:
        """Depth: the root 0, otherwise 1 + the parent's depth.

        Parameters
        ----------
        node : iterable of int
            A node (its input positions); anything else is a ValueError naming it.

        Returns
        -------
        int

        Examples
        --------
        >>> t = ModeTree.from_nested(((0, 1), 2))
        >>> t.depth(t.root), t.depth({2}), t.depth({0})
        (0, 1, 2)
        """
        return self._depth[self._check(node)]

    def levels(self) -> list[tuple[frozenset, ...]]:
        """Nodes grouped by height: ``levels()[h]`` holds the nodes of height ``h`` in tree order.

        Examples
        --------
        >>> [len(level) for level in ModeTree.balanced(8).levels()]
        [8, 4, 2, 1]
        """
        out: list[list[frozenset]] = [[] for _ in range(self._height[self._root] + 1)]
        for v in self._nodes:
            out[self._height[v]].append(v)
        return [tuple(level) for level in out]

    def is_uniform(self) -> bool:
        """True when every leaf has depth equal to the tree height and each level has one arity.

        Uniform trees (balanced 1D, 2D grids, interleaved) can be evaluated one level at a time.

        Examples
        --------
        >>> ModeTree.balanced(8).is_uniform(), ModeTree.from_nested(((0, 1), 2)).is_uniform()
        (True, False)
        """
        root_h = self._height[self._root]
        if any(self._depth[leaf] != root_h for leaf in self.leaves):
            return False
        return all(len({len(self._children[v]) for v in level}) == 1 for level in self.levels()[1:])

    def to_nested(self) -> Any:
        """Nested tuples of ints, the inverse of :meth:`from_nested`.

        Examples
        --------
        >>> ModeTree.from_nested(((0, 1), 2)).to_nested()
        ((0, 1), 2)
        """

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
        return f"ModeTree({short_repr(self.to_nested(), 80)})"

    def __len__(self) -> int:
        return len(self._nodes)

