"""Mode trees: the pooling geometry of a convolutional network.

A mode tree is a rooted tree whose nodes are frozensets of input positions. Leaves are singletons, each
internal node is the disjoint union of its (two or more) children, and the root holds every input. It is
the tree of pooling windows of a ConvAC, and the dimension tree of its hierarchical tensor decomposition.

This module holds :class:`ModeTree` and its constructors. The stored tables and every query on them
(navigation, tilings, export to nested tuples and codes) are inherited from
:class:`~tnconv.tree_navigation.ModeTreeNavigation`; the algorithms the constructors call are in
:mod:`tnconv.tree_builders`, :mod:`tnconv.tree_codes` and :mod:`tnconv.tree_windows`.

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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .hybrid import hybrid_trees
from .tree_builders import dilated_children, flat_children, random_children
from .tree_checks import BYTES_PER_NODE, BYTES_PER_POSITION, check_int, format_node, short_repr
from .tree_codes import codes_to_tables, nested_codes, paused_gc, post_order, validate_children, validate_codes
from .tree_navigation import ModeTreeNavigation
from .tree_windows import pooled_children, pooling_windows

__all__ = ["BYTES_PER_NODE", "BYTES_PER_POSITION", "ModeTree", "format_node", "hybrid_trees"]


class ModeTree(ModeTreeNavigation):
    """A rooted tree over input positions ``0..n_inputs-1`` whose nodes are frozensets.

    Build one with a constructor (:meth:`from_nested`, :meth:`from_codes`, :meth:`balanced`,
    :meth:`interleaved`, :meth:`grid`, :meth:`flat`, :meth:`dilated`, :meth:`random`) rather than
    directly. Every constructor takes time linear in the size of the tree (``sum(len(v) for v in
    nodes)``) and none recurses, so trees of 10**6 leaves and caterpillars 10**4 deep build.

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
        with paused_gc():
            kids, root, ints = validate_children(children)
            order, codes = post_order(kids, root)
            if not ints:  # rebuild the nodes from Python ints
                kids, order = codes_to_tables(codes)
            self._finish(kids, order, codes)

    @classmethod
    def _trusted(cls, build: Any, *args: Any) -> ModeTree:
        """A tree from ``build(*args)``, a builder's mapping that is correct by construction and whose
        root is its last key."""
        self = cls.__new__(cls)
        with paused_gc():
            kids = build(*args)
            kids = {v: ch if type(ch) is tuple else tuple(ch) for v, ch in kids.items()}
            self._finish(kids, *post_order(kids, next(reversed(kids))))
        return self

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
        with paused_gc():
            codes = nested_codes(nested)
        return cls._from_codes(codes)

    @classmethod
    def from_codes(cls, codes: Sequence[int]) -> ModeTree:
        """Build a tree from its post-order codes, the form model files store it in.

        Leaf ``i`` is written ``i``, a node with ``k`` children ``-k``, children before parents and
        in order, the root last: ``((0, 1), 2)`` is ``[0, 1, -2, 2, -2]``. Time is linear in the size
        of the tree, with no recursion; :meth:`codes` is the inverse.

        Parameters
        ----------
        codes : sequence of int
            The post-order codes.

        Returns
        -------
        ModeTree

        Raises
        ------
        ValueError
            A node of fewer than two children or more than are open, unfinished subtrees, leaves that
            are not ``0..n-1`` once each.
        TypeError
            Codes that are not ints.
        TensorTooLargeError
            If the tree would exceed the byte budget.

        Examples
        --------
        >>> ModeTree.from_codes([0, 1, -2, 2, -2]).to_nested()
        ((0, 1), 2)
        """
        return cls._from_codes(validate_codes(codes))

    @classmethod
    def _from_codes(cls, codes: Sequence[int]) -> ModeTree:
        """Build from validated post-order codes (leaf ``i >= 0``, node with ``k`` children ``-k``)."""
        self = cls.__new__(cls)
        with paused_gc():
            self._finish(*codes_to_tables(codes), codes)
        return self

    @classmethod
    def balanced(cls, n: int, arity: int = 2, windows: Sequence[int] | None = None) -> ModeTree:
        """Contiguous windows of size ``arity``, recursively: 1D ConvNet pooling.

        ``n`` need not be a power of ``arity``: at a level of ``c`` blocks the windows are
        ``c // arity`` runs of ``arity`` consecutive blocks, the last of which also takes the
        ``c % arity`` blocks left over (a window of one block would be a unary node). A level of fewer
        than ``arity`` blocks pools them all. See :mod:`tnconv.tree_windows` for the rule.

        Parameters
        ----------
        n : int
            Number of inputs, at least 2.
        arity : int
            The window size at every level (at least 2), when ``windows`` is not given.
        windows : sequence of int, optional
            Per-level window sizes, from the leaves up, for example ``[2, 2, 7]`` for 28 inputs. Each
            must fit in the blocks left; the last level must leave one block.

        Raises
        ------
        ValueError
            Fewer than 2 inputs, ``arity < 2``, windows that do not fit or do not pool down to one block.
        TypeError
            Sizes that are not ints.

        Examples
        --------
        >>> ModeTree.balanced(8).to_nested()
        (((0, 1), (2, 3)), ((4, 5), (6, 7)))
        >>> ModeTree.balanced(9, arity=3).to_nested()
        ((0, 1, 2), (3, 4, 5), (6, 7, 8))
        >>> ModeTree.balanced(7).to_nested()
        ((0, 1), (2, 3), (4, 5, 6))
        >>> ModeTree.balanced(6, windows=[3, 2]).to_nested()
        ((0, 1, 2), (3, 4, 5))
        """
        return cls._pooled(1, n, arity, windows, False, "balanced", 1)

    @classmethod
    def interleaved(cls, n: int, arity: int = 2, windows: Sequence[int] | None = None) -> ModeTree:
        """First level pools ``i`` with ``i + n/arity`` (and ``i + 2n/arity``...), recursively.

        This geometry pools distant inputs first; it favours coarse partitions such as left/right and
        disfavours interleaved ones such as odd/even: the mirror image of :meth:`balanced`. When
        ``arity`` does not divide a level's ``c`` blocks, window ``j`` takes blocks
        ``j, j + s, ...`` with ``s = c // arity``, and the last window also the ``c % arity`` blocks
        left over (:mod:`tnconv.tree_windows`). ``windows`` is as in :meth:`balanced`.

        Parameters
        ----------
        n : int
            Number of inputs, at least 2.
        arity : int
            The window size at every level (at least 2), when ``windows`` is not given.
        windows : sequence of int, optional
            Per-level window sizes, from the leaves up.

        Examples
        --------
        >>> ModeTree.interleaved(8).to_nested()
        (((0, 4), (2, 6)), ((1, 5), (3, 7)))
        >>> ModeTree.interleaved(5).to_nested()
        ((0, 2), (1, 3, 4))
        """
        return cls._pooled(1, n, arity, windows, True, "interleaved", 1)

    @classmethod
    def grid(cls, height: int, width: int, window: int = 2, interleaved: bool = False,
             windows: Sequence[Any] | None = None) -> ModeTree:
        """2D image pooling of ``window x window`` blocks, recursively (input index ``row * width + col``).

        Any image shape works, rectangles and sides that are not powers of the window included:

        * Without ``windows``, every level pools ``window x window`` blocks (2 x 2). A side with
          fewer blocks than ``window`` left uses what it has, and a side down to one block uses 1, so
          the last levels of a rectangle pool strips. Where ``window`` does not divide a side's
          ``c`` blocks, the last window along that side also takes the ``c % window`` blocks left
          over, so every window spans 2 or 3 blocks per side (for ``window=2``). 28 pixels pool as
          28 -> 14 -> 7 -> 3 -> 1 in four levels.
        * ``windows`` gives each level's window, from the leaves up: a pair ``(rows, cols)``, or an
          int ``k`` for ``(k, k)`` (1 on a side already down to one block). For example
          ``[(2, 2), (2, 2), (7, 7)]`` for 28 x 28, or ``[(2, 2), (5, 5), (5, 5), (2, 2)]`` for
          100 x 100. A window that does not divide its side follows the same rule.

        With ``interleaved=True`` each window instead joins pixels that are a fraction of the image
        apart ("mirror" pooling: ``(r, c)``, ``(r + h/2, c)``, ``(r, c + w/2)``, ...), recursively:
        the 2D analogue of :meth:`interleaved`. The full rule is in :mod:`tnconv.tree_windows`, and
        :func:`tnconv.tree_windows.pooling_windows` lists the windows a shape gets.

        Parameters
        ----------
        height, width : int
            The image, at least 2 pixels.
        window : int
            The default square window (at least 2) when ``windows`` is not given.
        interleaved : bool
            Mirror pooling instead of contiguous windows.
        windows : sequence of int or (int, int), optional
            Per-level windows, from the leaves up.

        Raises
        ------
        ValueError
            An image of fewer than 2 pixels, ``window < 2``, windows larger than the blocks left at
            their level, ``1 x 1`` windows, windows that do not pool the image down to one block, or
            both ``window`` and ``windows``.
        TypeError
            Sizes that are not ints.

        References
        ----------
        .. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
           Geometry", ICLR 2017, arXiv:1605.06743.

        Examples
        --------
        >>> t = ModeTree.grid(4, 4)
        >>> sorted(sorted(c) for c in t.children(t.root))
        [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
        >>> t = ModeTree.grid(28, 28, windows=[(2, 2), (2, 2), (7, 7)])
        >>> t.n_inputs, t.height(t.root), len(t.children(t.root))
        (784, 3, 49)
        >>> ModeTree.grid(3, 2).to_nested()
        (0, 1, 2, 3, 4, 5)
        """
        tree = cls._pooled(height, width, window, windows, interleaved, "grid", 2)
        tree.image_shape = (int(height), int(width))
        return tree

    @classmethod
    def _pooled(cls, height: int, width: int, window: int, windows: Sequence[Any] | None, interleaved: bool,
                what: str, dims: int) -> ModeTree:
        name = "arity" if dims == 1 else "window"
        if isinstance(window, (list, tuple)):
            raise TypeError(f"{what}: {name} is one int; per-level windows such as {short_repr(window)} go in "
                            "windows=")
        if windows is not None and window != 2:
            raise ValueError(f"{what}: give either {name}={window!r} or windows, not both")
        check_int(window, name)
        if dims == 1 and check_int(width, "n") < 2:
            raise ValueError(f"{what}(n={width}): a mode tree needs at least two inputs")
        levels = pooling_windows(height, width, windows, window, dims)
        label = f"ModeTree.{what}(n={width})" if dims == 1 else f"ModeTree.grid({height}, {width})"
        return cls._trusted(pooled_children, height, width, levels, interleaved, label)

    @classmethod
    def flat(cls, n: int) -> ModeTree:
        """One root with ``n`` leaf children: the shallow network / CP decomposition.

        Parameters
        ----------
        n : int
            The number of inputs.

        Examples
        --------
        >>> ModeTree.flat(3).to_nested()
        (0, 1, 2)
        """
        return cls._trusted(flat_children, n)

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
        return cls._trusted(dilated_children, n_layers, dilations)

    @classmethod
    def random(
        cls, n: int, arity: tuple[int, int] = (2, 4), seed: int | np.random.Generator | None = None,
        shuffle: bool = True,
    ) -> ModeTree:
        """A random mode tree over ``n`` inputs, each internal node with ``arity[0]..arity[1]`` children.

        Useful for property tests. With ``shuffle=False`` leaves keep their input order (contiguous
        windows).

        Parameters
        ----------
        n : int
        arity : (int, int)
            The least and most children of a node.
        seed : int or numpy Generator, optional
        shuffle : bool
            Shuffle the leaves.

        Examples
        --------
        >>> t = ModeTree.random(7, seed=0)
        >>> t.n_inputs, all(2 <= len(t.children(v)) <= 4 for v in t.internal_nodes)
        (7, True)
        """
        return cls._trusted(random_children, n, arity, seed, shuffle)

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModeTree):
            return NotImplemented
        # The nodes of a mode tree are a laminar family that holds every leaf: each node's parent is the
        # smallest node strictly above it, so two trees over the same inputs are equal (up to the
        # order of children) exactly when their internal nodes are.
        return self._children.keys() == other._children.keys()

    def __hash__(self) -> int:
        return hash(frozenset(self._children))

    def __repr__(self) -> str:
        return f"ModeTree({short_repr(self.to_nested(), 80)})"

    def __len__(self) -> int:
        return len(self._nodes)

