"""Tensor networks: tensors, copy tensors (hyperedges) and open legs, as plain interoperable objects.

A :class:`TensorNetwork` is a list of tensors, each with a tuple of index labels, plus the ordered tuple of
open indices (one per input position). An index shared by three or more tensors, or by two tensors and
the open legs, is a **hyperedge**: a copy (delta) tensor, which is how product pooling appears in a
ConvAC. Hyperedges stay explicit so that min cuts can charge a copy tensor of dimension ``r`` once, and
so that exports to opt_einsum, cotengra and quimb never infer open legs by counting.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (ConvACs as tensor
   networks).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._core.symbols import einsum_symbols, symbol
from ._core.validate import MAX_DIMENSION, check_arrays, check_dimension, check_inds, check_labels
from .models.protocol import hook, install_compiler
from .network_compile import compile_parts
from .network_io import einsum_parts, quimb_network, quimb_parts, string_labels
from .trees import ModeTree

__all__ = ["MAX_DIMENSION", "TensorNetwork", "check_dimension"]

class TensorNetwork:
    """A tensor network with explicit open legs and hyperedges.

    Parameters
    ----------
    arrays : sequence of arrays or None
        The tensors' data; ``None`` entries (or ``arrays=None``) give a shape-only network.
    inds : sequence of tuples of hashable
        Index labels of each tensor.
    size_dict : dict, optional
        Dimension of every index (derived from the arrays when omitted).
    open_inds : sequence of hashable
        The open indices, one per input position, in order.
    names : sequence of str, optional
        Human-readable tensor names (used in min-cut reports).
    index_info : dict, optional
        ``{index: description}``, e.g. ``"copy tensor of window {0,1}"``.
    tree : ModeTree, optional
        Set when the network was compiled from a model over a mode tree.
    tensor_nodes : sequence of frozenset, optional
        The tree node of each tensor (compiled networks only).

    Raises
    ------
    ValueError
        Inconsistent dimensions, open indices that no tensor carries, repeated open indices, or an
        index repeated within one tensor.

    Examples
    --------
    >>> import tnconv as tc
    >>> tn = tc.deep(4, 2, 3, seed=0).to_tensor_network()
    >>> tn.n_tensors, len(tn.open_inds), sorted(tn.hyperedges)[:1]
    (7, 4, ['c0,1'])
    >>> tn.equation().count(","), tn.contract().shape
    (6, (2, 2, 2, 2))
    """

    #: Tags of each tensor (a quimb import's tags; None otherwise: the ``names`` serve as tags).
    tensor_tags: list[frozenset[str]] | None = None
    #: ``(rows, cols)`` of the open legs (row-major) when they form a grid, e.g. a quimb PEPS's sites:
    #: the geometry of 2D partition names. A compiled 2D model has its tree's ``image_shape`` instead.
    leg_shape: tuple[int, int] | None = None

    def __init__(
        self,
        arrays: Sequence[Any] | None,
        inds: Sequence[Sequence[Hashable]],
        size_dict: Mapping[Any, int] | None = None,
        open_inds: Sequence[Hashable] = (),
        names: Sequence[str] | None = None,
        index_info: Mapping[Any, str] | None = None,
        tree: ModeTree | None = None,
        tensor_nodes: Sequence[frozenset] | None = None,
    ):
        self.inds = check_inds(inds)
        n = len(self.inds)
        self.arrays = check_arrays(arrays, n)
        if size_dict is not None and not isinstance(size_dict, Mapping):
            raise TypeError(f"size_dict must be a dict {{index: dimension}}, got {type(size_dict).__name__}")
        sizes: dict[Hashable, int] = {
            i: check_dimension(d, f"the dimension of index {i!r} in size_dict") for i, d in (size_dict or {}).items()
        }
        for k, (arr, ix) in enumerate(zip(self.arrays, self.inds)):
            if arr is None:
                continue
            shape = tuple(arr.shape)
            if len(shape) != len(ix):
                raise ValueError(f"tensor {k} has {len(shape)} axes (shape {shape}) but {len(ix)} indices {ix}")
            for i, d in zip(ix, shape):
                d = check_dimension(d, f"axis {i!r} of tensor {k}")
                if sizes.setdefault(i, d) != d:
                    raise ValueError(f"index {i!r} has dimension {sizes[i]} elsewhere but {d} on tensor {k}")
        missing = [i for i in dict.fromkeys(i for ix in self.inds for i in ix) if i not in sizes]
        if missing:
            raise ValueError(f"no dimension known for indices {[*missing[:5]]}; pass size_dict")
        self.size_dict = sizes
        self.open_inds = check_labels(open_inds, "open_inds")
        dup = [i for i, c in Counter(self.open_inds).items() if c > 1]
        if dup:
            raise ValueError(f"open index {dup[0]!r} is listed twice")
        carried = {i for ix in self.inds for i in ix}
        lost = [i for i in self.open_inds if i not in carried]
        if lost:
            raise ValueError(f"open indices {lost[:5]} are on no tensor")
        if names is None:
            self.names = [f"T{k}" for k in range(n)]
        else:
            if isinstance(names, str) or not isinstance(names, Iterable):
                raise TypeError(f"names must be a sequence of {n} strings, got {names!r}")
            self.names = [str(x) for x in names]
            if len(self.names) != n:
                raise ValueError(f"{len(self.names)} names for {n} tensors")
        if index_info is not None and not isinstance(index_info, Mapping):
            raise TypeError(f"index_info must be a dict {{index: description}}, got {type(index_info).__name__}")
        self.index_info = dict(index_info or {})
        if tree is not None and not isinstance(tree, ModeTree):
            raise TypeError(f"tree must be a ModeTree or None, got {type(tree).__name__}")
        self.tree = tree
        self.tensor_nodes = list(tensor_nodes) if tensor_nodes is not None else None
        if self.tensor_nodes is not None and len(self.tensor_nodes) != n:
            raise ValueError(f"{len(self.tensor_nodes)} tensor_nodes for {n} tensors")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_model(cls, model: Any, output: int = 0) -> TensorNetwork:
        """Compile a tree model: the one compiler (:mod:`tnconv.network_compile`).

        A ConvNet/ConvAC gets one weight tensor per tree node and a copy tensor (hyperedge) per window; a
        DilatedConvNet one matrix per child of every node. Both networks carry the mode tree and each
        tensor's node, so they get the structure path. ``model.to_tensor_network(output)`` is the same
        call (a hook this module installs in :mod:`tnconv.models.protocol`).

        Parameters
        ----------
        model : TreeModel
            Any model providing :class:`tnconv.models.protocol.TreeModel` with product pooling.
        output : int
            The output channel.

        Returns
        -------
        TensorNetwork

        Raises
        ------
        TypeError
            Not a tree model (a MixedConvNet: the message names its bounds); a non-int output.
        ValueError
            Non-product pooling; an output out of range.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 3, seed=0)
        >>> tn = TensorNetwork.from_model(net)
        >>> tn.tree is net.tree, bool(np.allclose(tn.contract(optimize="structure"), net.coefficient_tensor()))
        (True, True)
        """
        return cls(**compile_parts(model, output))

    @classmethod
    def from_convac(cls, model: Any, output: int = 0) -> TensorNetwork:
        """The same as :meth:`from_model` (kept for compatibility).

        Parameters
        ----------
        model : TreeModel
        output : int

        Returns
        -------
        TensorNetwork

        Examples
        --------
        >>> from tnconv.models import deep
        >>> TensorNetwork.from_convac(deep(4, 2, 2, seed=0)).open_legs
        ('d0', 'd1', 'd2', 'd3')
        """
        return cls.from_model(model, output)

    @classmethod
    def from_einsum(
        cls, equation: str, shapes: Sequence[Sequence[int]] | None = None, arrays: Sequence[Any] | None = None
    ) -> TensorNetwork:
        """Import ``equation`` (explicit ``->`` form); open legs follow the output's order.

        Parameters
        ----------
        equation : str
            e.g. ``"ab,bc,cd->ad"``. Letters that appear on three or more operands are hyperedges.
        shapes : sequence of shapes, optional
            One tuple of positive ints per operand. May be omitted when ``arrays`` are given.
        arrays : sequence of arrays, optional
            One array (or nested list) per operand; lists are converted with ``numpy.asarray``.

        Returns
        -------
        TensorNetwork

        Raises
        ------
        TypeError
            An equation that is not a string, shapes or arrays of the wrong type, dimensions that are not
            ints (floats and bools are refused).
        ValueError
            No ``->``, an output index on no operand, a count of shapes or arrays unlike the count of
            operands, shapes that do not match the equation, the arrays or each other, and dimensions
            below 1 or above ``2**63 - 1`` (a dimension of 0 would make the tensor empty: refused).

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc,cd->ad", [(2, 3), (3, 3), (3, 2)])
        >>> tn.open_inds, tn.size_dict["b"]
        (('a', 'd'), 3)
        >>> TensorNetwork.from_einsum("ab->a", [(2, 0)])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: dimension 1 of operand 0 ('ab', index 'b') must be a positive int, got 0 (a dimension of 0 ...)
        """
        return cls(**einsum_parts(equation, shapes, arrays))

    @classmethod
    def from_quimb(cls, tn: Any, open_inds: Sequence[Hashable] | None = None, *,
                   sum_inds: Sequence[Hashable] = ()) -> TensorNetwork:
        """Import a ``quimb.tensor.TensorNetwork``.

        Parameters
        ----------
        tn : quimb.tensor.TensorNetwork
            Any quimb network (MPS, PEPS, MPO, ...).
        open_inds : sequence of hashable, optional
            The open legs, in order (an index on several tensors may be open too: it is then a copy
            tensor). Default: the network's outer indices (those on exactly one tensor), site indices
            first in site order when the network has them (``tn.site_inds`` of an MPS or PEPS), less
            ``sum_inds``.
        sum_inds : sequence of hashable
            Outer indices to sum over. Every outer index must be open or listed here: none is summed
            silently.

        Returns
        -------
        TensorNetwork
            Its ``names`` are the tensors' tags joined by commas; the tags themselves (``tensor_tags``)
            select open legs in partitions (``min_cut(tn, ["I0", "I1"])``), as do the index names. A
            PEPS whose sites are the open legs gets ``leg_shape = (Lx, Ly)``, so that 2D partition names
            (``"checkerboard"``) apply.

        Raises
        ------
        TypeError
            ``tn`` is not a quimb tensor network (anything without ``.tensors`` of quimb tensors).
        ValueError
            Outer indices neither open nor in ``sum_inds`` (naming them); ``sum_inds`` that are not outer
            or are also open; as the constructor: open indices on no tensor, inconsistent dimensions.

        Examples
        --------
        >>> import quimb.tensor as qtn
        >>> mps = qtn.MPS_rand_state(4, bond_dim=2, seed=0)
        >>> tn = TensorNetwork.from_quimb(mps)
        >>> tn.open_inds
        ('k0', 'k1', 'k2', 'k3')
        >>> TensorNetwork.from_quimb(mps, ["k0", "k1"], sum_inds=["k2", "k3"]).open_inds
        ('k0', 'k1')
        """
        parts = quimb_parts(tn, open_inds, sum_inds)
        tags, shape = parts.pop("tags"), parts.pop("leg_shape")
        net = cls(**parts)
        net.tensor_tags, net.leg_shape = tags, shape
        return net

    def string_labels(self) -> dict[Hashable, str]:
        """An injective map from index labels to strings (the labels of :meth:`to_quimb`).

        String labels are kept as they are. Any other label gets ``str(label)`` when no other label
        claims that string, and otherwise ``repr(label)`` tagged with its type (``"1:int"``), with a
        counter appended should even that be taken. The result depends only on the labels and their
        order of first appearance, so it is deterministic.

        Returns
        -------
        dict
            ``{label: string}``, one distinct string per label.

        Examples
        --------
        >>> tn = TensorNetwork(None, [(1, "1"), ("1", "b")], size_dict={1: 2, "1": 3, "b": 2}, open_inds=[1, "b"])
        >>> tn.string_labels()
        {1: '1:int', '1': '1', 'b': 'b'}
        """
        return string_labels(self.inds, self.open_inds)

    def to_quimb(self) -> Any:
        """Export to ``quimb.tensor.TensorNetwork`` (tags = tensor names).

        Index labels become the strings of :meth:`string_labels`, an injective map, so that labels such
        as ``1`` and ``"1"`` stay distinct. Contract it with explicit
        ``output_inds=[tn.string_labels()[i] for i in tn.open_inds]``, since quimb treats an index on
        three or more tensors as an inner hyperindex.

        Raises
        ------
        ImportError
            Without quimb.
        ValueError
            For a shape-only network.

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)], [np.ones((2, 3)), np.ones((3, 4))])
        >>> q = tn.to_quimb()
        >>> q.num_tensors, sorted(q.ind_size(i) for i in q.outer_inds())
        (2, [2, 4])
        """
        self._require_arrays("to_quimb")
        return quimb_network(self.arrays, self.inds, self.names, self.string_labels())

    # ------------------------------------------------------------------ structure
    @property
    def open_legs(self) -> tuple[Hashable, ...]:
        """The open indices, one per input position, in order (the same tuple as ``open_inds``)."""
        return self.open_inds

    @property
    def n_tensors(self) -> int:
        """The number of tensors (weights and copy tensors alike)."""
        return len(self.inds)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of every tensor, in tensor order."""
        return [tuple(self.size_dict[i] for i in ix) for ix in self.inds]

    def index_members(self) -> dict[Hashable, list[int]]:
        """``{index: [tensor positions carrying it]}``.

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.index_members()
        {'a': [0], 'b': [0, 1], 'c': [1]}
        """
        members: dict[Hashable, list[int]] = defaultdict(list)
        for k, ix in enumerate(self.inds):
            for i in ix:
                members[i].append(k)
        return dict(members)

    def links(self) -> tuple[list[tuple[int, int, tuple[Hashable, ...]]], list[tuple[Hashable, np.ndarray]]]:
        """The network as a graph for cuts: bonds and copy tensors over numbered vertices.

        Vertices are the tensors ``0..T-1`` and the open legs ``T..T+P-1``. Indices of dimension 1 are
        left out (cutting them is free). An index with two ends is a bond (parallel bonds between the same
        two vertices are merged into one entry listing their indices); one with three or more ends is a
        copy tensor (hyperedge).

        Returns
        -------
        bonds : list of ``(u, v, indices)`` with ``u < v``
        copies : list of ``(index, member vertices)``

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc,bd->acd", [(2, 3), (3, 2), (3, 2)])
        >>> tn.links()[0], [(i, m.tolist()) for i, m in tn.links()[1]]
        ([(0, 3, ('a',)), (1, 4, ('c',)), (2, 5, ('d',))], [('b', [0, 1, 2])])
        """
        T = self.n_tensors
        opens = {i: T + p for p, i in enumerate(self.open_inds)}
        pairs: dict[tuple[int, int], list[Hashable]] = defaultdict(list)
        copies: list[tuple[Hashable, np.ndarray]] = []
        for i, ms in self.index_members().items():
            if self.size_dict[i] == 1:
                continue
            ends = list(ms) + ([opens[i]] if i in opens else [])
            if len(ends) == 2:
                u, v = sorted(ends)
                pairs[(u, v)].append(i)
            elif len(ends) >= 3:
                copies.append((i, np.array(ends, dtype=np.int64)))
        return [(u, v, tuple(ix)) for (u, v), ix in pairs.items()], copies

    @property
    def hyperedges(self) -> list[Hashable]:
        """Indices that act as copy tensors: on 3+ tensors, or on 2+ tensors and open."""
        opens = set(self.open_inds)
        return [i for i, m in self.index_members().items() if len(m) + (i in opens) >= 3]

    @property
    def graph(self) -> Any:
        """A ``networkx.Graph`` view: tensors, copy tensors and open legs as nodes.

        Node keys: ``("tensor", k)``, ``("copy", index)`` for hyperedges, ``("open", position)`` for open
        legs. Each edge has ``dim`` (the bond dimension, the product when tensors share several indices)
        and ``inds``. Node attributes: ``kind`` and ``label``.
        """
        import networkx as nx

        G = nx.Graph()
        for k, name in enumerate(self.names):
            G.add_node(("tensor", k), kind="tensor", label=name)
        hyper = set(self.hyperedges)
        open_pos = {i: p for p, i in enumerate(self.open_inds)}
        for i, members in self.index_members().items():
            d = self.size_dict[i]
            if i in hyper:
                c = ("copy", i)
                G.add_node(c, kind="copy", label=self.index_info.get(i, f"copy tensor {i}"), dim=d)
                ends = [("tensor", k) for k in members] + ([("open", open_pos[i])] if i in open_pos else [])
                for e in ends:
                    if e[0] == "open":
                        G.add_node(e, kind="open", label=f"input {e[1]}")
                    G.add_edge(c, e, dim=d, inds=[i])
                continue
            ends = [("tensor", k) for k in members]
            if i in open_pos:
                ends.append(("open", open_pos[i]))
                G.add_node(ends[-1], kind="open", label=f"input {open_pos[i]}")
            if len(ends) == 2:
                u, v = ends
                if G.has_edge(u, v):
                    G[u][v]["dim"] *= d
                    G[u][v]["inds"].append(i)
                else:
                    G.add_edge(u, v, dim=d, inds=[i])
        return G

    # ------------------------------------------------------------------ einsum export
    def symbols(self) -> dict[Hashable, str]:
        """A map from index labels to single einsum symbols (``opt_einsum.get_symbol``).

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> sorted(tn.symbols().items())
        [('a', 'a'), ('b', 'b'), ('c', 'c')]
        """
        return einsum_symbols(self.inds)

    def equation(self, features: bool = False) -> str:
        """The einsum equation; with ``features=True`` one ``(batch, M)`` operand per open leg is
        appended and the output is the batch index alone (the network's forward pass).

        Parameters
        ----------
        features : bool

        Returns
        -------
        str

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.equation()
        'ab,bc->ac'
        >>> tn.equation(features=True)
        'ab,bc,da,dc->d'
        """
        sym = self.symbols()
        terms = ["".join(sym[i] for i in ix) for ix in self.inds]
        if not features:
            return ",".join(terms) + "->" + "".join(sym[i] for i in self.open_inds)
        b = symbol(len(sym))
        terms += [b + sym[i] for i in self.open_inds]
        return ",".join(terms) + "->" + b

    def operands(self, features: Any = None) -> list[Any]:
        """The arrays in equation order; with ``features`` of shape ``(batch, n_open, M)`` the feature
        slices are appended.

        Parameters
        ----------
        features : array (batch, n_open, M), optional

        Returns
        -------
        list of array

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 2)], [np.ones((2, 3)), np.ones((3, 2))])
        >>> [op.shape for op in tn.operands(np.ones((5, 2, 2)))]
        [(2, 3), (3, 2), (5, 2), (5, 2)]
        """
        self._require_arrays("operands")
        ops = list(self.arrays)
        if features is not None:
            if not hasattr(features, "shape"):
                try:
                    features = np.asarray(features)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"features are not a rectangular array: {exc}") from None
                if features.dtype.kind not in "fiu":
                    raise TypeError(f"features have dtype {features.dtype}; expected real numbers")
            self.check_feature_shape(features)
            ops += [features[:, p, :] for p in range(len(self.open_inds))]
        return ops

    def check_feature_shape(self, features: Any) -> None:
        """Check that ``features`` is ``(batch, n_open, M)`` with ``M`` matching every open leg.

        Parameters
        ----------
        features : array

        Raises
        ------
        TypeError
            Features that are not an array.
        ValueError
            Naming the shape, or the open leg whose dimension differs.

        Examples
        --------
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.check_feature_shape(np.ones((5, 2, 2)))
        Traceback (most recent call last):
            ...
        ValueError: ...
        """
        n = len(self.open_inds)
        if not hasattr(features, "shape") or not hasattr(features, "ndim"):
            raise TypeError(f"features must be an array of shape (batch, {n}, M), got {type(features).__name__}")
        if features.ndim != 3 or features.shape[1] != n:
            raise ValueError(f"features have shape {tuple(features.shape)}; expected (batch, {n} open legs, M)")
        for p, i in enumerate(self.open_inds):
            if features.shape[2] != self.size_dict[i]:
                raise ValueError(
                    f"features have {features.shape[2]} descriptors but open leg {p} ({i!r}) has dimension "
                    f"{self.size_dict[i]}"
                )

    def contract(self, features: Any = None, optimize: Any = None, backend: str | None = None,
                 executor: str = "auto", memory_limit: Any = None, max_bytes: float | None = None) -> Any:
        """Contract the network (optionally with features on its open legs).

        The path is found first and its largest intermediate checked against the byte budget before
        anything is allocated; see :func:`tnconv.contract.generic.contract_network`.

        Parameters
        ----------
        features : array (batch, n_open, M), optional
            Attach features to the open legs and return the ``(batch,)`` outputs. NaN/inf entries are
            refused, as by ``ConvNet.forward``.
        optimize : str, list, PathOptimizer, optional
            ``"structure"`` (the path read off the mode tree: no search), any opt_einsum optimizer name,
            a cotengra optimizer or ``ContractionTree``, or an explicit path. Default: ``"structure"``
            for compiled tree networks, ``"auto"`` otherwise. Exhaustive searches (``"optimal"``,
            ``"dp"``, ``"branch-*"``) are refused on networks with more operands than
            ``tnconv.contract.generic.EXHAUSTIVE_LIMITS`` allows.
        backend : {"numpy", "cupy"}, optional
            Defaults to the backend of ``features``.
        executor : {"auto", "pairwise", "opt_einsum"}, optional
            Who runs the path: tnconv's pairwise executor (``"auto"``; avoids opt_einsum's quadratic path
            bookkeeping on thousands of tensors) or ``opt_einsum.contract``.
        memory_limit : None, "max_input" or int, optional
            opt_einsum's ``memory_limit`` (elements) for the path search.
        max_bytes : float, optional
            Byte budget of the largest intermediate (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        array of shape ``(dims of open legs)`` or ``(batch,)``.

        Raises
        ------
        ValueError
            Bad features (shape, NaN/inf), an unknown optimizer, executor or backend, an exhaustive
            search on too many operands, a path that does not fit.
        TypeError
            An unknown keyword (Python's own error), features of another dtype than the tensors.
        tnconv.TensorTooLargeError
            When the path's largest intermediate exceeds the budget, before contracting.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> tn = tc.TensorNetwork.from_einsum("ab->ba", [(2, 3)], [np.arange(6.0).reshape(2, 3)])
        >>> tn.contract(optimize=[], executor="opt_einsum").shape
        (3, 2)
        """
        # The executor lives in the contraction layer, right of this one; it installs itself as a hook.
        return hook("contract")(self, features=features, optimize=optimize, backend=backend, executor=executor,
                                memory_limit=memory_limit, max_bytes=max_bytes)

    def _require_arrays(self, what: str) -> None:
        if any(a is None for a in self.arrays):
            raise ValueError(f"{what} needs arrays, but this network is shape-only (built without arrays)")

    def __repr__(self) -> str:
        return (
            f"TensorNetwork(n_tensors={self.n_tensors}, open_legs={len(self.open_inds)}, "
            f"hyperedges={len(self.hyperedges)}, indices={len(self.size_dict)})"
        )


def _compile(model: Any, output: int) -> TensorNetwork:
    return TensorNetwork.from_model(model, output)


# Models reach the compiler through this hook (they never import the network layer); tnconv/__init__
# imports this module, so the hook is installed whenever tnconv is.
install_compiler(_compile)
