"""The ConvNet and ConvAC classes: a 1x1 convolution at every node of a mode tree, pooled by ``g``.

See :mod:`tnconv.models.convnet` for the model family and its references.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor Analysis",
   COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor Decompositions",
   ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .._core.options import check_budget
from ..trees import ModeTree, format_node
from .checks import (
    as_mode_tree,
    as_node,
    check_bool,
    check_init,
    check_positive_int,
    make_rng,
    planned_init_bytes,
    resolve_dtype,
)
from .convnet_tensors import ConvNetTensors
from .convnet_weights import (
    WidthSpec,
    check_shareable,
    checked_weights,
    random_weights,
    resolve_widths,
    widths_by_height,
)
from .forward_range import ForwardRangeWarning, warn_out_of_range
from .io import Persistable
from .operators import PoolingOperator, pooling_operator
from .packing import pack_weights
from .parameters import Parameters

# ForwardRangeWarning and WidthSpec live in forward_range.py and convnet_weights.py; imported from here too.
__all__ = ["ConvAC", "ConvNet", "ForwardRangeWarning", "WidthSpec"]


class ConvNet(Parameters, ConvNetTensors, Persistable):
    """A ConvNet over a mode tree with pooling operator ``g`` (``"product"`` gives a ConvAC).

    Parameters
    ----------
    tree : ModeTree or nested tuples
        The pooling geometry.
    n_descriptors : int
        M, the number of representation functions (features) per input.
    widths : int, sequence or dict
        Output channels of every non-root node: one int for all, a sequence indexed by node height
        (``widths[0]`` at the leaves, one entry per height below the root), or ``{node: width}``.
        All children of a node must have equal width.
    n_outputs : int
        Output channels of the root (the classes ``y``).
    g : str or callable
        Pooling operator: ``"product"``, ``"relu_max"``, ``"relu_sum"`` or an associative, commutative
        elementwise ``g(a, b)``.
    shared : bool
        One weight matrix per tree height (a true convolution). The tree must give every node of one
        height the same matrix shape.
    seed : int or numpy Generator, optional
        Seed of the random (generic) weights.
    dtype : {"float64", "float32"}
    weights : dict, optional
        ``{node: matrix}`` to use instead of random weights (shapes as in :attr:`weights`).
    init : {"normal", "orthogonal"}
        Random weights: Gaussian scaled by ``1/sqrt(fan_in)``, or random orthonormal columns (rows when
        a matrix is wide), which keeps matricizations well conditioned.

    Attributes
    ----------
    weights : dict[frozenset, numpy.ndarray]
        Leaf ``{i}``: ``(M, w_leaf)``; internal non-root node: ``(w_children, w_node)``; root:
        ``(w_children, n_outputs)``. With ``shared=True`` nodes of one height hold the same array.
    widths : dict[frozenset, int]
        Output channels of every node (the root's is ``n_outputs``).

    Raises
    ------
    ValueError
        Inconsistent widths (naming the node), non-positive sizes, weights of the wrong shape, shared
        weights over a tree whose nodes of one height differ, an unknown ``g`` or ``init`` (listing the
        valid ones).
    TypeError
        Sizes or widths that are not ints (bools and floats are refused), a non-bool ``shared``, an
        invalid seed or dtype.
    tnconv.TensorTooLargeError
        When the random weights (and the temporaries of drawing them) would exceed the byte budget
        (``tnconv.options["max_dense_bytes"]``); checked before anything is drawn.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.
    .. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162 (generalized tensor products).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.ConvNet(tc.ModeTree.balanced(4), 3, 2, g="relu_max", seed=0)
    >>> net.forward(np.ones((5, 4, 3))).shape
    (5, 1)
    """

    def __init__(
        self,
        tree: ModeTree | Any,
        n_descriptors: int,
        widths: WidthSpec,
        n_outputs: int = 1,
        g: str | Callable[[Any, Any], Any] | PoolingOperator = "product",
        shared: bool = False,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        weights: Mapping[Any, Any] | None = None,
        init: str = "normal",
    ):
        self.tree = as_mode_tree(tree)
        self.n_descriptors = check_positive_int(n_descriptors, "n_descriptors")
        self.n_outputs = check_positive_int(n_outputs, "n_outputs")
        self.g = pooling_operator(g)
        self.shared = check_bool(shared, "shared")
        self.dtype = resolve_dtype(dtype)
        init = check_init(init)
        self.widths = resolve_widths(self.tree, widths, self.n_outputs)
        if self.shared:
            check_shareable(self.tree, self.weight_shape)
        self.weights: dict[frozenset, np.ndarray] = {}
        if weights is None:
            rng = make_rng(seed)
            shapes = {self.tree.height(v) if self.shared else v: self.weight_shape(v) for v in self.tree.nodes}
            check_budget(
                f"the weights of {type(self).__name__} (n_inputs={self.n_inputs}, "
                f"n_descriptors={self.n_descriptors}, widths up to {max(self.widths.values())})",
                planned_init_bytes(shapes.values(), self.dtype, init),
            )
            self.weights = random_weights(self.tree, self.weight_shape, self.shared, rng, init, self.dtype)
        else:
            self.set_weights(weights)

    # ------------------------------------------------------------------ structure
    def in_width(self, node: Iterable[int]) -> int:
        """Channels entering ``node``: M at a leaf, the children's width otherwise.

        Parameters
        ----------
        node : iterable of int

        Returns
        -------
        int

        Raises
        ------
        ValueError
            ``node`` is not a node of the tree (naming it).

        Examples
        --------
        >>> net = ConvAC(ModeTree.balanced(4), 3, [2, 5])
        >>> net.in_width({0}), net.in_width({0, 1}), net.in_width(net.tree.root)
        (3, 2, 5)
        """
        node = self._node(node)
        if self.tree.is_leaf(node):
            return self.n_descriptors
        return self.widths[self.tree.children(node)[0]]

    def weight_shape(self, node: Iterable[int]) -> tuple[int, int]:
        """``(in_width(node), widths[node])``: the shape of the node's weight matrix.

        Parameters
        ----------
        node : iterable of int

        Returns
        -------
        (int, int)

        Raises
        ------
        ValueError
            ``node`` is not a node of the tree (naming it).

        Examples
        --------
        >>> net = ConvAC(ModeTree.balanced(4), 3, [2, 5], n_outputs=4)
        >>> net.weight_shape({0}), net.weight_shape({0, 1}), net.weight_shape(net.tree.root)
        ((3, 2), (2, 5), (5, 4))
        """
        node = self._node(node)
        return (self.in_width(node), self.widths[node])

    def _node(self, node: Any) -> frozenset:
        v = as_node(node, "node")
        if v not in self.widths:
            name = format_node(v) if v else "{}"
            raise ValueError(f"{name} is not a node of this tree (over {self.tree.n_inputs} inputs)")
        return v

    def set_weights(self, weights: Mapping[Any, Any]) -> None:
        """Replace the weights with ``{node: matrix}`` (shapes checked, every node required).

        Parameters
        ----------
        weights : mapping
            ``{node: matrix}`` for every node, shapes as :meth:`weight_shape`.

        Raises
        ------
        TypeError
            ``weights`` is not a mapping, a key is not a node (a set of input positions), an array is not
            real.
        ValueError
            A missing node, a node not in the tree, a wrong shape, NaN or infinite entries, or (with
            ``shared=True``) weights that differ within a level.

        Examples
        --------
        >>> net = ConvAC(ModeTree.flat(2), 2, 1)
        >>> net.set_weights({n: np.ones(net.weight_shape(n)) for n in net.tree.nodes})
        >>> net.forward(np.ones((1, 2, 2))).tolist()
        [[4.0]]
        """
        self.weights = checked_weights(self.tree, weights, self.weight_shape, self.shared, self.dtype)

    @property
    def n_inputs(self) -> int:
        """The number of inputs ``N`` (leaves of the tree)."""
        return self.tree.n_inputs

    @property
    def n_parameters(self) -> int:
        """Number of distinct weight entries (shared arrays counted once)."""
        return sum(w.size for w in {id(w): w for w in self.weights.values()}.values())

    def __getstate__(self) -> dict[str, Any]:
        # Caches (level plans, device copies, the weights' namespace module) are rebuilt on use; dropping
        # them keeps models picklable for process pools and keeps device arrays out of the pickle.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_tnconv_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickled views arrive as separate arrays: pack them again for the engines' stacked GEMMs.
        self.__dict__.update(state)
        if all(isinstance(w, np.ndarray) for w in self.weights.values()):
            self.weights = pack_weights(self.tree, self.weights, self.dtype)

    def __repr__(self) -> str:
        name = type(self).__name__
        g = "" if name == "ConvAC" else f", g={self.g.name!r}"
        widths = widths_by_height(self.tree, self.widths)
        return (
            f"{name}(n_inputs={self.n_inputs}, n_descriptors={self.n_descriptors}, widths={widths}, "
            f"n_outputs={self.n_outputs}, height={self.tree.height(self.tree.root)}{g}, shared={self.shared})"
        )

    # ------------------------------------------------------------------ evaluation
    def forward(self, features: Any, backend: str | None = None, log: bool = False, engine: str = "auto") -> Any:
        """Evaluate the network on features ``f_d(x_i)``.

        Parameters
        ----------
        features : array of shape (batch, n_inputs, M)
        backend : {"numpy", "cupy"}, optional
            Defaults to the backend of ``features``.
        log : bool
            Return ``(sign, log|h|)``. Every activation vector is kept as a mantissa times an exact power
            of two, renormalized after every convolution and inside every pooling window, so that nothing
            over- or underflows however many inputs there are (``product``, ``relu_max``, ``relu_sum``).
            The error of ``log|h|`` is the relative error of ``h`` in plain float arithmetic (without its
            range limits) plus half an ulp of ``|log|h||``: a few float32 ulps of ``log|h||`` in relative
            terms for well-conditioned nets (see :mod:`tnconv.contract.logscale`). Exact zeros come back
            as sign 0 and ``-inf``.
        engine : {"auto", "levels", "nodes", "reference"}
            ``"levels"``: one batched contraction per tree level (uniform trees); ``"nodes"``: one
            stacked contraction per group of same-shaped nodes (any tree); ``"reference"``: node by node
            (numpy only, the oracle); ``"auto"``: levels when the tree allows it, else nodes.

        Returns
        -------
        array of shape (batch, n_outputs), or a ``(sign, log_abs)`` pair of such arrays.

        Raises
        ------
        ValueError
            Features of the wrong shape, NaN/inf features, an unknown engine or backend, ``log=True`` with
            a pooling operator that is not positively homogeneous.
        TypeError
            Features on another device than ``backend``, or of a non-real dtype; ``log`` not a bool.
        ImportError
            ``backend="cupy"`` without CuPy (``pip install 'tnconv[gpu]'``).

        Warns
        -----
        ForwardRangeWarning
            Once per call, when a product-pooling net on numpy features returns exact zeros for samples
            whose feature vectors are all nonzero (underflow: the value is below the float range),
            subnormal values (precision lost) or infinities (overflow). ``log=True`` has no range limit.

        Examples
        --------
        >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
        >>> F = np.random.default_rng(0).standard_normal((3, 4, 2))
        >>> net.forward(F).shape
        (3, 1)
        >>> sign, log_abs = net.forward(F, log=True)
        >>> bool(np.allclose(sign * np.exp(log_abs), net.forward(F)))
        True
        """
        from .protocol import hook

        out = hook("forward")(self, features, backend=backend, log=log, engine=engine)
        if not log and isinstance(out, np.ndarray) and isinstance(features, np.ndarray) and self.g.is_product:
            warn_out_of_range(out, features)
        return out

    def _forward_reference(self, features: Any, log: bool = False) -> Any:
        # Kept for contract/bench.py's "reference" label: the generic array-API executor.
        return self.forward(features, log=log, engine="reference")


class ConvAC(ConvNet):
    """A convolutional arithmetic circuit: linear activation and product pooling over a mode tree.

    Parameters are those of :class:`ConvNet` without ``g``.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.ConvAC(tc.ModeTree.balanced(4), n_descriptors=2, widths=2, seed=0)
    >>> A = net.coefficient_tensor()
    >>> A.shape
    (2, 2, 2, 2)
    >>> F = np.random.default_rng(1).standard_normal((3, 4, 2))
    >>> direct = np.einsum("abcd,na,nb,nc,nd->n", A, F[:, 0], F[:, 1], F[:, 2], F[:, 3])
    >>> bool(np.allclose(net.forward(F)[:, 0], direct))
    True

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
    """

    def __init__(
        self,
        tree: ModeTree | Any,
        n_descriptors: int,
        widths: WidthSpec,
        n_outputs: int = 1,
        shared: bool = False,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        weights: Mapping[Any, Any] | None = None,
        init: str = "normal",
    ):
        super().__init__(tree, n_descriptors, widths, n_outputs=n_outputs, g="product", shared=shared,
                         seed=seed, dtype=dtype, weights=weights, init=init)
