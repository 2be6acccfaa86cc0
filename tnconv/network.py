"""Tensor networks: tensors, copy tensors (hyperedges) and open legs, as plain interoperable objects.

A :class:`TensorNetwork` is a list of tensors, each with a tuple of index labels, plus the ordered tuple of
open indices (one per input position). An index shared by three or more tensors, or by two tensors and
the open legs, is a **hyperedge**: a copy (delta) tensor, which is how product pooling appears in a
ConvAC. Hyperedges stay explicit so that min cuts can charge a copy tensor of dimension ``r`` once, and
so that exports to opt_einsum, cotengra and quimb never infer open legs by counting.

The class is assembled from one module per concept: the constructor's checks
(:mod:`tnconv.network_check`), the structural queries it inherits (:mod:`tnconv.network_structure`),
the einsum form it inherits (:mod:`tnconv.network_einsum`), imports and exports
(:mod:`tnconv.network_io`) and the model compiler (:mod:`tnconv.network_compile`).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (ConvACs as tensor
   networks).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from ._core.validate import MAX_DIMENSION, check_arrays, check_dimension, check_inds
from .models.protocol import hook, install_compiler
from .network_check import check_index_info, check_names, check_open_inds, check_sizes, check_tree
from .network_compile import compile_parts
from .network_einsum import EinsumForm
from .network_io import einsum_parts, quimb_network, quimb_parts, string_labels
from .network_structure import NetworkStructure
from .trees import ModeTree

__all__ = ["MAX_DIMENSION", "TensorNetwork", "check_dimension"]


class TensorNetwork(NetworkStructure, EinsumForm):
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
        self.size_dict = check_sizes(self.arrays, self.inds, size_dict)
        self.open_inds = check_open_inds(open_inds, self.inds)
        self.names = check_names(names, n)
        self.index_info = check_index_info(index_info)
        self.tree, self.tensor_nodes = check_tree(tree, tensor_nodes, n)

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
        return cls._compiled(compile_parts(model, output))

    @classmethod
    def _compiled(cls, parts: dict[str, Any]) -> TensorNetwork:
        """The network of :func:`~tnconv.network_compile.compile_parts`, whose labels are right by
        construction: distinct string labels per tensor, open legs ``d0..`` each on its leaf, one name
        per tensor. Only what the model supplies (its arrays and their dimensions) is checked."""
        # check_inds and check_open_inds walk every label of 10**4..10**5 tensors (a Counter per
        # tensor), about a fifth of a large model's compilation, to confirm what the compiler built.
        self = cls.__new__(cls)
        self.inds = list(parts["inds"])
        n = len(self.inds)
        self.arrays = check_arrays(parts["arrays"], n)
        self.size_dict = check_sizes(self.arrays, self.inds, None)
        self.open_inds = tuple(parts["open_inds"])
        self.names = list(parts["names"])
        self.index_info = check_index_info(parts["index_info"])
        self.tree, self.tensor_nodes = check_tree(parts["tree"], parts["tensor_nodes"], n)
        return self

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
        >>> import numpy as np
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)], [np.ones((2, 3)), np.ones((3, 4))])
        >>> q = tn.to_quimb()
        >>> q.num_tensors, sorted(q.ind_size(i) for i in q.outer_inds())
        (2, [2, 4])
        """
        self._require_arrays("to_quimb")
        return quimb_network(self.arrays, self.inds, self.names, self.string_labels())

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
