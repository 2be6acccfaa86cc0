"""Mixed decompositions of two dilated ConvNets, and the tiling rank bounds of tree decompositions.

A **mixed decomposition** of two trees runs both networks in parallel and, at every mixture node (a node
internal to both trees, inner ones first), swaps the channels ``c < width/2`` between them once both have
computed it; the output is the sum of the two roots. A mixed net of width ``r`` realizes every hybrid
tree (:func:`tnconv.hybrid_trees`) at width ``r/2``.

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, "Boosting Dilated Convolutional Networks with Mixed Tensor
   Decompositions", ICLR 2018, arXiv:1703.06846.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .._core.options import check_budget
from .._core.validate import check_flag
from ..partitions import validate_partition
from ..trees import ModeTree, format_node
from .convnet import (
    as_mode_tree,
    check_init,
    check_positive_int,
    make_rng,
    resolve_dtype,
)
from .dilated import DilatedConvNet
from .dilated_dense import check_output, dense_tensor
from .dilated_eval import check_features_in, check_templates_in, forward_nodes, require_binary, resolve_namespace
from .dilated_weights import planned_weight_bytes
from .io import Persistable
from .operators import PoolingOperator, check_log_operator, pooling_operator

__all__ = ["MixedConvNet", "tiling_rank_bounds"]


def _check_mixture_arg(mixture_nodes: Any) -> None:
    if isinstance(mixture_nodes, (str, bytes)) or not isinstance(mixture_nodes, Iterable):
        raise TypeError(
            f"mixture_nodes must be a collection of nodes (sets of input positions), got {mixture_nodes!r}"
        )


class MixedConvNet(Persistable):
    """A mixed decomposition: two dilated ConvNets run in parallel and exchange half their channels.

    At each mixture node (inner ones first), once both networks have computed it, channels
    ``c < width/2`` are swapped between the two. The output is the sum of both roots. A mixed net of
    width ``r`` realizes every hybrid tree (:func:`tnconv.hybrid_trees`) at width ``r/2``.

    Parameters
    ----------
    tree_a, tree_b : ModeTree or nested tuples
        Binary mode trees over the same inputs (e.g. two dilation orders).
    mixture_nodes : iterable of node
        Nodes internal to both trees. Swapping at the root would not change the sum, so a root entry is
        accepted and ignored.
    n_descriptors : int
    width : int
        Even; the channels of both networks.
    g : str, callable or PoolingOperator
    n_outputs : int
    seed : int or numpy Generator, optional
    dtype : {"float64", "float32"}
    init : {"normal", "orthogonal"}

    Attributes
    ----------
    nets : tuple of two DilatedConvNet
        The networks over ``tree_a`` and ``tree_b`` whose weights the mixed net uses.
    mixture_nodes : tuple of frozenset
        Sorted inner first.

    Raises
    ------
    ValueError
        Trees over different inputs, a mixture node that is not internal to both trees (naming it), an
        odd width, non-binary trees.

    References
    ----------
    .. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 4.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> a, b = tc.ModeTree.dilated(3, [1, 2, 4]), tc.ModeTree.dilated(3, [2, 1, 4])
    >>> mix = tc.MixedConvNet(a, b, [frozenset(range(4)), frozenset(range(4, 8))], 2, 4, seed=0)
    >>> A = mix.coefficient_tensor()
    >>> x = np.random.default_rng(0).standard_normal((3, 8, 2))
    >>> direct = np.einsum("abcdefgh,na,nb,nc,nd,ne,nf,ng,nh->n", A, *[x[:, i] for i in range(8)])
    >>> bool(np.allclose(mix.forward(x)[:, 0], direct))
    True
    """

    def __init__(
        self,
        tree_a: ModeTree | Any,
        tree_b: ModeTree | Any,
        mixture_nodes: Iterable[Iterable[int]],
        n_descriptors: int,
        width: int,
        g: str | Callable[[Any, Any], Any] | PoolingOperator = "product",
        n_outputs: int = 1,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        init: str = "normal",
    ):
        width = check_positive_int(width, "width")
        if width % 2:
            raise ValueError(f"width {width} is odd; a mixed decomposition swaps half of the channels")
        ta, tb = as_mode_tree(tree_a, "tree_a"), as_mode_tree(tree_b, "tree_b")
        require_binary(ta, "MixedConvNet (tree_a)")
        require_binary(tb, "MixedConvNet (tree_b)")
        M = check_positive_int(n_descriptors, "n_descriptors")
        n_out = check_positive_int(n_outputs, "n_outputs")
        init = check_init(init)
        dtype = resolve_dtype(dtype)
        op = pooling_operator(g)
        _check_mixture_arg(mixture_nodes)
        # Both nets together against the budget, before either draws its weights.
        check_budget(
            f"the weights of MixedConvNet (n_inputs={ta.n_inputs}, n_descriptors={M}, width={width})",
            sum(planned_weight_bytes(t, M, width, n_out, False, dtype, init) for t in (ta, tb)),
        )
        rng = make_rng(seed)
        net_a = DilatedConvNet(ta, M, width, g=op, n_outputs=n_out, seed=rng, dtype=dtype, init=init)
        net_b = DilatedConvNet(tb, M, width, g=op, n_outputs=n_out, seed=rng, dtype=dtype, init=init)
        self._setup(net_a, net_b, mixture_nodes)

    @classmethod
    def from_nets(
        cls, net_a: DilatedConvNet, net_b: DilatedConvNet, mixture_nodes: Iterable[Iterable[int]]
    ) -> MixedConvNet:
        """Mix two existing :class:`DilatedConvNet` (their weights are used, not copied).

        Raises
        ------
        ValueError
            Nets that differ in M, width, outputs, ``g`` or dtype; bad mixture nodes; an odd width.

        Examples
        --------
        >>> import tnconv as tc
        >>> a = tc.DilatedConvNet(tc.ModeTree.dilated(2, [1, 2]), 2, 2, seed=0)
        >>> b = tc.DilatedConvNet(tc.ModeTree.dilated(2, [2, 1]), 2, 2, seed=1)
        >>> tc.MixedConvNet.from_nets(a, b, []).coefficient_tensor().shape
        (2, 2, 2, 2)
        """
        for tag, net in (("net_a", net_a), ("net_b", net_b)):
            if not isinstance(net, DilatedConvNet):
                raise TypeError(f"{tag} must be a DilatedConvNet, got {type(net).__name__}")
        for name in ("n_descriptors", "width", "n_outputs", "dtype"):
            if getattr(net_a, name) != getattr(net_b, name):
                raise ValueError(f"the nets differ in {name}: {getattr(net_a, name)} vs {getattr(net_b, name)}")
        if net_a.g.name != net_b.g.name or net_a.g.pair is not net_b.g.pair:
            raise ValueError(f"the nets use different pooling operators {net_a.g.name!r} and {net_b.g.name!r}")
        if net_a.width % 2:
            raise ValueError(f"width {net_a.width} is odd; a mixed decomposition swaps half of the channels")
        self = cls.__new__(cls)
        self._setup(net_a, net_b, mixture_nodes)
        return self

    def _setup(self, net_a: DilatedConvNet, net_b: DilatedConvNet, mixture_nodes: Iterable[Iterable[int]]) -> None:
        ta, tb = net_a.tree, net_b.tree
        if ta.n_inputs != tb.n_inputs:
            raise ValueError(f"the trees are over different inputs: {ta.n_inputs} and {tb.n_inputs}")
        if isinstance(mixture_nodes, (frozenset, set)) and all(isinstance(x, (int, np.integer)) for x in mixture_nodes):
            raise TypeError(
                f"mixture_nodes must be a collection of nodes, got a single node {format_node(mixture_nodes)}; "
                "wrap it in a list"
            )
        _check_mixture_arg(mixture_nodes)
        ia, ib = set(ta.internal_nodes), set(tb.internal_nodes)
        mix: list[frozenset] = []
        for m in mixture_nodes:
            if isinstance(m, (int, np.integer)):
                raise TypeError(
                    f"mixture_nodes must be a collection of nodes (sets of input positions), got the int {m}"
                )
            if isinstance(m, (str, bytes)) or not isinstance(m, Iterable):
                raise TypeError(
                    f"mixture_nodes must be a collection of nodes (sets of input positions), got {m!r}"
                )
            try:
                m = frozenset(m)
            except TypeError:
                raise TypeError(f"mixture node {m!r} is not a set of input positions") from None
            if m not in ia or m not in ib:
                where = [name for name, s in (("tree_a", ia), ("tree_b", ib)) if m not in s]
                raise ValueError(
                    f"mixture node {format_node(m) if m else '{}'} is not an internal node of {' and '.join(where)}"
                )
            if m != ta.root and m not in mix:
                mix.append(m)
        self.nets = (net_a, net_b)
        self.mixture_nodes = tuple(sorted(mix, key=lambda m: (len(m), min(m))))

    @property
    def n_inputs(self) -> int:
        """The number of inputs ``N`` (shared by both trees)."""
        return self.nets[0].n_inputs

    @property
    def n_descriptors(self) -> int:
        """``M``, the features per input."""
        return self.nets[0].n_descriptors

    @property
    def width(self) -> int:
        """``r``, the channels of every hidden layer of both nets."""
        return self.nets[0].width

    @property
    def n_outputs(self) -> int:
        """The number of outputs (the two roots are summed)."""
        return self.nets[0].n_outputs

    @property
    def g(self) -> PoolingOperator:
        """The pooling operator, shared by both nets."""
        return self.nets[0].g


    def __repr__(self) -> str:
        return (
            f"MixedConvNet(n_inputs={self.n_inputs}, n_descriptors={self.n_descriptors}, width={self.width}, "
            f"n_outputs={self.n_outputs}, g={self.g.name!r}, "
            f"mixture_nodes={[format_node(m) for m in self.mixture_nodes]})"
        )

    def forward(self, features: Any, log: bool = False) -> Any:
        """Evaluate on features of shape ``(batch, n_inputs, M)``; returns ``(batch, n_outputs)``.

        Evaluation is node by node on both trees (NumPy or CuPy arrays), swapping at mixture nodes.

        Parameters
        ----------
        features : array of shape (batch, n_inputs, M)
        log : bool
            Return ``(sign, log|h|)`` computed with exact power-of-two rescaling of every activation
            vector, so that nothing over- or underflows (``product``, ``relu_max``, ``relu_sum`` only). At a
            mixture node both nets' vectors are brought to their common exponent before the channels are
            swapped, and the two roots before they are added. Accuracy as plain float arithmetic without
            range limits, plus half an ulp of ``|log|h||`` (see :mod:`tnconv.contract.logscale`).

        Returns
        -------
        array of shape (batch, n_outputs), or a ``(sign, log_abs)`` pair

        Raises
        ------
        ValueError
            Features of the wrong shape or with NaN/inf entries; ``log=True`` with a pooling operator that
            is not positively homogeneous.
        TypeError
            ``log`` that is not a bool.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> a, b = tc.ModeTree.dilated(2, [1, 2]), tc.ModeTree.dilated(2, [2, 1])
        >>> mix = tc.MixedConvNet(a, b, [], 2, 2, g="relu_max", seed=0)
        >>> x = np.ones((3, 4, 2))
        >>> bool(np.allclose(mix.forward(x), mix.nets[0].forward(x) + mix.nets[1].forward(x)))
        True
        """
        log = check_flag(log, "log")
        net = self.nets[0]
        if log:
            check_log_operator(net.g)
        xp = resolve_namespace(features, None)
        feats = check_features_in(xp, features, net.n_inputs, net.n_descriptors, net.dtype)
        return forward_nodes(self.nets, self.mixture_nodes, feats, self.width // 2, xp, log)

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None, backend: Any = None) -> Any:
        """The dense coefficient tensor (product ``g`` only), the sum of the two mixed decompositions.

        Raises
        ------
        ValueError
            For a non-product ``g`` or an output out of range.
        tnconv.TensorTooLargeError
            If the tensor would exceed the byte budget.

        Examples
        --------
        >>> import tnconv as tc
        >>> a, b = tc.ModeTree.dilated(3, [1, 2, 4]), tc.ModeTree.dilated(3, [2, 1, 4])
        >>> tc.MixedConvNet(a, b, [range(4)], 2, 2, seed=0).coefficient_tensor().shape
        (2, 2, 2, 2, 2, 2, 2, 2)
        """
        net = self.nets[0]
        if not net.g.is_product:
            raise ValueError(f"g={net.g.name!r} has no coefficient tensor (only product pooling does); use grid_tensor")
        output = check_output(output, net.n_outputs)
        xp = resolve_namespace(None, backend)
        eye = xp.eye(net.n_descriptors, dtype=getattr(xp, net.dtype.name))
        return dense_tensor(self.nets, self.mixture_nodes, eye, output, "coefficient tensor", max_bytes, xp)

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> Any:
        """The output on every combination of templates (any ``g``); shape ``(T,) * n_inputs``.

        Raises
        ------
        ValueError, tnconv.TensorTooLargeError
            As :meth:`DilatedConvNet.grid_tensor`.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> a, b = tc.ModeTree.dilated(2, [1, 2]), tc.ModeTree.dilated(2, [2, 1])
        >>> tc.MixedConvNet(a, b, [], 2, 2, g="relu_sum", seed=0).grid_tensor(np.eye(2)[:1]).shape
        (1, 1, 1, 1)
        """
        net = self.nets[0]
        output = check_output(output, net.n_outputs)
        xp = resolve_namespace(template_features, None)
        tf = check_templates_in(xp, template_features, net.n_descriptors, net.dtype)
        return dense_tensor(self.nets, self.mixture_nodes, tf, output, "grid tensor", max_bytes, xp)


# ---------------------------------------------------------------------------------------------- bounds
def tiling_rank_bounds(
    tree: ModeTree | Any, part: Iterable[int], width: int, n_descriptors: int | None = None
) -> tuple[int, int]:
    """Bounds on ``rank [[A]]_I`` for a product-``g`` :class:`DilatedConvNet` of width ``r`` over ``tree``.

    With ``Theta(I)`` the tiling of ``I`` by maximal tree nodes (:meth:`ModeTree.tiling`):

    * **upper** ``= r ** min(|Theta(I)|, |Theta(I^c)|)``. Every node above the tiles is multilinear in
      the tiles' ``r``-channel outputs, so expanding over the channels of the tiles of one side writes
      ``A`` as that many separable terms. It holds for every choice of weights (and any ``M``).
    * **lower** ``= r ** p`` with ``p`` the number of sibling pairs ``(u, u')``, ``u`` in ``Theta(I)``,
      ``u'`` in ``Theta(I^c)``, of depth > 1 (their parent is not the root). Each such parent computes
      ``r`` separable products ``(A^T phi^u)[c] (B^T phi^{u'})[c]``, and the grandparent's sum over ``c``
      has rank ``r``; choosing weights that multiply these sums together gives ``r ** p``, so generic
      weights reach at least that. The children of the root are excluded because, for a fixed output,
      the root is a single product of its two children's projections (rank 1).

    The lower bound assumes the tiles of a pair can produce ``r`` linearly independent functions, which
    holds when ``M >= r``. Pass ``n_descriptors`` to account for ``M < r``: a pair then counts
    ``min(r, M ** |u|, M ** |u'|)`` instead of ``r``. The upper bound is returned without any
    M-dependent cap, as the statement reads; the true rank is also at most ``M ** min(|I|, |I^c|)``
    (the shape of the matrix). Both bounds were checked against exact ranks modulo a prime on random
    binary trees (``tests/test_dilated.py``).

    Parameters
    ----------
    tree : ModeTree or nested tuples
        A binary mode tree.
    part : iterable of int
        The side ``I`` of the partition.
    width : int
        ``r``, the width of every hidden node.
    n_descriptors : int, optional
        ``M``; when omitted ``M >= r`` is assumed for the lower bound.

    Returns
    -------
    (lower, upper) : tuple of int
        Exact integers, ``lower <= upper``.

    Raises
    ------
    ValueError
        A non-binary tree (naming the node); an invalid partition (duplicates, out of range, empty or
        full side); a non-positive width.

    References
    ----------
    .. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 4 (tilings of a mode tree
       and the rank of matricized tree decompositions).

    Examples
    --------
    The worked example of the paper: ``N = 16``, ``I = {0,2,4,6,8,9,12,13}``.

    >>> import tnconv as tc
    >>> I = {0, 2, 4, 6, 8, 9, 12, 13}
    >>> tiling_rank_bounds(tc.ModeTree.dilated(4, [1, 2, 4, 8]), I, 2)
    (64, 64)
    >>> tiling_rank_bounds(tc.ModeTree.dilated(4, [2, 1, 8, 4]), I, 2)
    (64, 64)
    """
    tree = as_mode_tree(tree)
    require_binary(tree, "tiling_rank_bounds")
    r = check_positive_int(width, "width")
    M = None if n_descriptors is None else check_positive_int(n_descriptors, "n_descriptors")
    I = validate_partition(part, tree.n_inputs)
    Ic = frozenset(range(tree.n_inputs)) - I
    tiles_i, tiles_c = tree.tiling(I), tree.tiling(Ic)
    upper = r ** min(len(tiles_i), len(tiles_c))
    in_c = set(tiles_c)
    lower = 1
    for u in tiles_i:
        parent = tree.parent(u)
        if parent is None or parent == tree.root:
            continue
        sib = next(c for c in tree.children(parent) if c != u)
        if sib in in_c:
            lower *= r if M is None else min(r, M ** len(u), M ** len(sib))
    return lower, upper
