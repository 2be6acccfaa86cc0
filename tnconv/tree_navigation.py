"""The stored form of a mode tree and every query on it: the base class of :class:`~tnconv.trees.ModeTree`.

A tree is stored as its nodes in post-order (children before parents, the root last), one dict from
node to position, the children of each internal node, and flat integer tables of parent positions,
heights and depths. Navigation (children, parent, height, depth, levels), the tiling of a set of inputs
by tree nodes and the export to nested tuples and post-order codes read these tables only.
:class:`~tnconv.trees.ModeTree` adds the constructors, which validate their input and store it here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .partition_checks import validate_partition
from .tree_checks import format_node, short_repr
from .tree_codes import code_tables

__all__ = ["ModeTreeNavigation"]


class ModeTreeNavigation:
    """The tables of a mode tree and the queries on them; build trees with :class:`~tnconv.trees.ModeTree`.

    Every method of this class reads a tree that a :class:`~tnconv.trees.ModeTree` constructor has
    validated and stored; it is not built directly.

    Examples
    --------
    >>> from tnconv.trees import ModeTree
    >>> issubclass(ModeTree, ModeTreeNavigation), ModeTree.balanced(4).children({0, 1})
    (True, (frozenset({0}), frozenset({1})))
    """

    def _finish(self, kids: dict[frozenset, tuple[frozenset, ...]], order: list[frozenset],
                codes: Sequence[int]) -> None:
        """Store a validated tree: its children, its post-order (the root last) and its codes."""
        # One index dict and flat integer tables instead of a dict per property: a tree of 10**6
        # leaves has 2 * 10**6 nodes, and each dict of frozenset keys costs about a second to fill.
        self._children = kids
        self._root = order[-1]
        self._nodes = tuple(order)
        self._index = dict(zip(order, range(len(order))))
        self._par, self._hgt, self._dep = code_tables(codes)
        self._leaves: tuple[frozenset, ...] | None = None

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
        if self._leaves is None:
            by_input: list[Any] = [None] * self.n_inputs
            kids = self._children
            for v in self._nodes:
                if v not in kids:
                    by_input[next(iter(v))] = v
            self._leaves = tuple(by_input)
        return self._leaves

    @property
    def nodes(self) -> tuple[frozenset, ...]:
        """Every node, children before parents (post-order)."""
        return self._nodes

    @property
    def internal_nodes(self) -> tuple[frozenset, ...]:
        """The internal nodes (pooling windows), children before parents."""
        return tuple(v for v in self._nodes if v in self._children)

    def _where(self, node: Any) -> int:
        """The post-order position of ``node``, with a clear error for anything else."""
        try:
            return self._index[node]
        except (KeyError, TypeError):
            pass
        if not isinstance(node, frozenset):
            try:
                node = frozenset(node)
            except TypeError:
                raise TypeError(f"a tree node is a set of input positions, got {short_repr(node)}") from None
        k = self._index.get(node)
        if k is None:
            raise ValueError(f"{format_node(node) if node else repr(node)} is not a node of this tree")
        return k

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
        >>> from tnconv.trees import ModeTree
        >>> ModeTree.balanced(4).children({0, 1, 2, 3})
        (frozenset({0, 1}), frozenset({2, 3}))
        """
        return self._children.get(self._nodes[self._where(node)], ())

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
        >>> from tnconv.trees import ModeTree
        >>> ModeTree.balanced(4).parent({2})
        frozenset({2, 3})
        """
        p = self._par[self._where(node)]
        return None if p < 0 else self._nodes[p]

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
        >>> from tnconv.trees import ModeTree
        >>> ModeTree.balanced(4).is_leaf({3}), ModeTree.balanced(4).is_leaf({2, 3})
        (True, False)
        """
        return self._nodes[self._where(node)] not in self._children

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
        >>> from tnconv.trees import ModeTree
        >>> t = ModeTree.from_nested(((0, 1), 2))
        >>> t.height({0}), t.height({0, 1}), t.height(t.root)
        (0, 1, 2)
        """
        return self._hgt[self._where(node)]

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
        >>> from tnconv.trees import ModeTree
        >>> t = ModeTree.from_nested(((0, 1), 2))
        >>> t.depth(t.root), t.depth({2}), t.depth({0})
        (0, 1, 2)
        """
        return self._dep[self._where(node)]

    def levels(self) -> list[tuple[frozenset, ...]]:
        """Nodes grouped by height: ``levels()[h]`` holds the nodes of height ``h`` in tree order.

        Examples
        --------
        >>> from tnconv.trees import ModeTree
        >>> [len(level) for level in ModeTree.balanced(8).levels()]
        [8, 4, 2, 1]
        """
        out: list[list[frozenset]] = [[] for _ in range(self._hgt[-1] + 1)]
        for v, h in zip(self._nodes, self._hgt):
            out[h].append(v)
        return [tuple(level) for level in out]

    def is_uniform(self) -> bool:
        """True when every leaf has depth equal to the tree height and each level has one arity.

        Uniform trees (balanced 1D, 2D grids, interleaved) can be evaluated one level at a time.

        Examples
        --------
        >>> from tnconv.trees import ModeTree
        >>> ModeTree.balanced(8).is_uniform(), ModeTree.from_nested(((0, 1), 2)).is_uniform()
        (True, False)
        """
        root_h = self._hgt[-1]
        kids = self._children
        if any(d != root_h for v, d in zip(self._nodes, self._dep) if v not in kids):
            return False
        return all(len({len(kids[v]) for v in level}) == 1 for level in self.levels()[1:])

    def to_nested(self) -> Any:
        """Nested tuples of ints, the inverse of :meth:`from_nested`.

        Examples
        --------
        >>> from tnconv.trees import ModeTree
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

    def codes(self) -> list[int]:
        """The post-order codes of the tree (see :meth:`from_codes`).

        Examples
        --------
        >>> from tnconv.trees import ModeTree
        >>> ModeTree.from_nested(((0, 1), 2)).codes()
        [0, 1, -2, 2, -2]
        """
        kids = self._children
        return [-len(kids[v]) if v in kids else next(iter(v)) for v in self._nodes]

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
        >>> from tnconv.trees import ModeTree
        >>> t = ModeTree.balanced(8)
        >>> [sorted(v) for v in t.tiling({0, 1, 2, 3, 5})]
        [[0, 1, 2, 3], [5]]
        """
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
