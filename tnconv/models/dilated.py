"""Dilated 1D ConvNets as tree decompositions with one matrix per child (binary mode trees).

A dilated ConvNet over ``N = 2**L`` time points (size-2 convolutions, layer ``l`` with dilation ``d_l``,
no pooling) computes, at its last time point, a tree decomposition over a **binary** mode tree fixed by
the order of the dilations (:meth:`tnconv.ModeTree.dilated`). Unlike a ConvAC, each child of a node has
its own matrix before the channel-wise pooling operator ``g``:

    phi^v[c'] = g_u ( sum_a W_{v,u}[a, c'] phi^u[a] )          (u over the children of v)

with ``phi^leaf = features @ W_leaf``. At the root the matrices have ``n_outputs`` columns, so for a fixed
output ``y`` the root is a single (generalized) product of its children's projections.

The model lives here; its evaluation in :mod:`~tnconv.models.dilated_eval` (level plan, node by node),
its dense tensors in :mod:`~tnconv.models.dilated_dense` (the methods that return them in the mixin
:mod:`~tnconv.models.dilated_tensors`), its weights in :mod:`~tnconv.models.dilated_weights`, and mixtures
of two in :mod:`~tnconv.models.mixed`.

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, "Boosting Dilated Convolutional Networks with Mixed Tensor
   Decompositions", ICLR 2018, arXiv:1703.06846.
.. [2] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor Decompositions",
   ICML 2016, arXiv:1603.00162 (generalized tensor products, grid tensors).
.. [3] A. van den Oord et al., "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499 (dilated
   causal convolutions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from array_api_compat import device

from .._core.arrays import cached_copy, clear_cached_copies, is_numpy
from .._core.options import check_budget
from .._core.validate import check_flag
from ..trees import ModeTree, format_node
from .convnet import as_mode_tree, check_bool, check_init, check_positive_int, make_rng, resolve_dtype
from .dilated_eval import (
    LevelPlan,
    build_plan,
    check_features_in,
    forward_nodes,
    level_forward,
    require_binary,
    resolve_namespace,
    sequence_forward,
)
from .dilated_tensors import DilatedTensors
from .dilated_weights import check_dilations, checked_weights, planned_weight_bytes, random_weights, weights_on
from .io import Persistable
from .operators import PoolingOperator, check_log_operator, pooling_operator

__all__ = ["DilatedConvNet", "planned_weight_bytes"]


class DilatedConvNet(DilatedTensors, Persistable):
    """A dilated ConvNet as a tree decomposition with one matrix per child (binary mode tree).

    Parameters
    ----------
    tree : ModeTree or nested tuples
        A binary mode tree, usually :meth:`ModeTree.dilated`; any binary tree is accepted.
    n_descriptors : int
        M, the number of representation functions per input.
    width : int
        Channels of every hidden node.
    g : str, callable or PoolingOperator
        ``"product"`` (a ConvAC-type decomposition), ``"relu_max"``, ``"relu_sum"`` or an associative,
        commutative elementwise callable (checked on random samples; ``ValueError`` otherwise).
    n_outputs : int
        Columns of the root matrices.
    seed : int or numpy Generator, optional
        Seed of the random (generic) weights.
    dtype : {"float64", "float32"}
    weights : mapping, optional
        ``{node: array}`` for leaves (shape ``(M, width)``) and ``{node: (W_1, W_2)}`` for internal nodes,
        one matrix per child in ``tree.children(node)`` order, ``(width, width)`` each, or
        ``(width, n_outputs)`` at the root.
    shared : bool
        One kernel per layer, as in a true (time-invariant) convolution: all leaves share one matrix and,
        at each height, the child that ends earlier in time gets one matrix and the later child another.
        Needed by :meth:`forward_sequence`.
    dilations : sequence of int, optional
        The dilation of each layer. Inferred when ``tree`` equals ``ModeTree.dilated(L, d)`` for some
        ``d``; if given, it must reproduce ``tree``.
    init : {"normal", "orthogonal"}
        Gaussian weights scaled by ``1/sqrt(fan_in)``, or random orthonormal columns (rows if wide).

    Attributes
    ----------
    weights : dict
        Leaf ``{i}`` -> ``(M, width)`` array; internal node -> tuple of one array per child.
    dilations : tuple of int or None

    Raises
    ------
    ValueError
        A non-binary tree (naming the node), non-positive sizes, weights of the wrong shape, dilations
        that do not produce ``tree``.
    TypeError
        Arguments of the wrong type.

    References
    ----------
    .. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 3.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(3, [2, 1, 4]), 2, 3, seed=0, shared=True)
    >>> net.dilations
    (2, 1, 4)
    >>> x = np.random.default_rng(0).standard_normal((4, 11, 2))
    >>> y = net.forward_sequence(x)          # one output per full window: 11 - 8 + 1 = 4
    >>> y.shape
    (4, 4, 1)
    >>> bool(np.allclose(y[:, -1], net.forward(x[:, -8:])))
    True
    """


    def __init__(
        self,
        tree: ModeTree | Any,
        n_descriptors: int,
        width: int,
        g: str | Callable[[Any, Any], Any] | PoolingOperator = "product",
        n_outputs: int = 1,
        seed: int | np.random.Generator | None = None,
        dtype: Any = "float64",
        weights: Mapping[Any, Any] | None = None,
        shared: bool = False,
        dilations: Sequence[int] | None = None,
        init: str = "normal",
    ):
        self.tree = as_mode_tree(tree)
        require_binary(self.tree, "DilatedConvNet")
        self.n_descriptors = check_positive_int(n_descriptors, "n_descriptors")
        self.width = check_positive_int(width, "width")
        self.n_outputs = check_positive_int(n_outputs, "n_outputs")
        self.g = pooling_operator(g)
        self.dtype = resolve_dtype(dtype)
        self.shared = check_bool(shared, "shared")
        init = check_init(init)
        self.dilations = check_dilations(self.tree, dilations)
        self._plan: LevelPlan | None = None
        self._lock = threading.Lock()
        if weights is None:
            rng = make_rng(seed)
            check_budget(
                f"the weights of DilatedConvNet (n_inputs={self.n_inputs}, n_descriptors={self.n_descriptors}, "
                f"width={self.width}, n_outputs={self.n_outputs})",
                planned_weight_bytes(self.tree, self.n_descriptors, self.width, self.n_outputs, self.shared,
                                     self.dtype, init),
            )
            self._install(random_weights(self.tree, self.weight_shapes, self.shared, rng, init, self.dtype))
        else:
            self.set_weights(weights)

    # ------------------------------------------------------------------ weights
    @property
    def n_inputs(self) -> int:
        """The number of inputs ``N = 2 ** n_layers`` (time points)."""
        return self.tree.n_inputs

    def weight_shapes(self, node: Iterable[int]) -> tuple[int, int] | tuple[tuple[int, int], ...]:
        """Shape of a leaf's matrix, or the tuple of per-child shapes of an internal node.

        Parameters
        ----------
        node : iterable of int

        Returns
        -------
        tuple

        Examples
        --------
        >>> import tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 3, 4, n_outputs=2)
        >>> net.weight_shapes({0}), net.weight_shapes({0, 1}), net.weight_shapes(range(4))
        ((3, 4), ((4, 4), (4, 4)), ((4, 2), (4, 2)))
        """
        node = self._node(node)
        if self.tree.is_leaf(node):
            return (self.n_descriptors, self.width)
        cols = self.n_outputs if node == self.tree.root else self.width
        return tuple((self.width, cols) for _ in self.tree.children(node))

    def _node(self, node: Any) -> frozenset:
        if isinstance(node, (str, bytes)) or not isinstance(node, Iterable):
            raise TypeError(f"{node!r} is not a node; a node is a set of input positions, e.g. {{0, 1}}")
        try:
            v = frozenset(node)
        except TypeError:
            raise TypeError(f"{node!r} is not a node; a node is a set of input positions") from None
        try:
            self.tree.height(v)
        except KeyError:
            raise ValueError(
                f"{format_node(v) if v else '{}'} is not a node of this tree (over {self.n_inputs} inputs)"
            ) from None
        return v


    def set_weights(self, weights: Mapping[Any, Any]) -> None:
        """Replace the weights (every node required; shapes checked).

        Parameters
        ----------
        weights : mapping
            ``{node: matrix}`` at the leaves, ``{node: (matrix per child)}`` at internal nodes.

        Raises
        ------
        ValueError
            A missing node, a node not in the tree, a wrong shape or count of matrices, non-finite
            entries, or (with ``shared=True``) weights that differ within one layer.
        TypeError
            Non-real arrays.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(1), 2, 1, seed=0)
        >>> net.set_weights({(0,): np.ones((2, 1)), (1,): np.ones((2, 1)),
        ...                  (0, 1): (np.full((1, 1), 2.0), np.full((1, 1), 3.0))})
        >>> net.coefficient_tensor()
        array([[6., 6.],
               [6., 6.]])
        """
        tree = self.tree
        self._install(checked_weights(tree, weights, self.weight_shapes, self.shared, self.dtype))

    def _install(self, weights: dict[frozenset, Any]) -> None:
        with self._lock:
            self.weights = weights
            self._plan = None
        clear_cached_copies(self)

    def weights_in(self, xp: Any, like: Any) -> dict[frozenset, Any]:
        """The weights as arrays of ``xp`` on the device of ``like`` (numpy: the weights themselves).

        Copies for another namespace or device are made once per weight set and cached (thread-safe);
        after editing weight arrays in place call ``net.set_weights(net.weights)`` to refresh them.

        Parameters
        ----------
        xp : array namespace
        like : array
            An array of ``xp`` on the target device.

        Returns
        -------
        dict

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(1), 2, 2, seed=0)
        >>> net.weights_in(np, np.ones(1)) is net.weights
        True
        """
        if is_numpy(xp):
            return self.weights
        dev = device(like)
        weights = self.weights
        slot = ("dilated weights", getattr(xp, "__name__", str(xp)), str(dev))
        return cached_copy(self, slot, id(weights), lambda: weights_on(weights, xp, dev))

    def node_matrices(self, node: frozenset, output: int | None, xp: Any = np, like: Any = None) -> tuple[Any, ...]:
        """The per-child matrices of an internal node in ``xp`` (at the root, only column ``output``).

        Parameters
        ----------
        node : frozenset
            An internal node of the tree.
        output : int or None
            At the root, keep only this output column; None keeps them all.
        xp : array namespace
            Where the matrices should live (numpy by default).
        like : array, optional
            An array of ``xp`` on the target device (the weights are moved there once and cached).

        Returns
        -------
        tuple of array
            One matrix per child, in ``tree.children(node)`` order.

        Examples
        --------
        >>> import tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 3, 4, n_outputs=2, seed=0)
        >>> [W.shape for W in net.node_matrices(net.tree.root, output=1)]
        [(4, 1), (4, 1)]
        """
        mats = (self.weights if like is None else self.weights_in(xp, like))[node]
        if output is not None and node == self.tree.root:
            return tuple(W[:, output : output + 1] for W in mats)
        return mats

    def __getstate__(self) -> dict[str, Any]:  # no lock to copy; device copies stay on their device
        return {k: v for k, v in self.__dict__.items() if k != "_lock" and not k.startswith("_tnconv_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def n_parameters(self) -> int:
        """Number of distinct weight entries (shared arrays counted once)."""
        arrays: dict[int, np.ndarray] = {}
        for w in self.weights.values():
            for a in (w if isinstance(w, tuple) else (w,)):
                arrays[id(a)] = a
        return sum(a.size for a in arrays.values())

    def __repr__(self) -> str:
        return (
            f"DilatedConvNet(n_inputs={self.n_inputs}, n_descriptors={self.n_descriptors}, width={self.width}, "
            f"n_outputs={self.n_outputs}, g={self.g.name!r}, dilations={self.dilations}, shared={self.shared})"
        )

    # ------------------------------------------------------------------ evaluation
    def forward(self, features: Any, backend: str | None = None, log: bool = False) -> Any:
        """Evaluate the tree decomposition on features ``f_d(x_i)``, one batched matmul per level.

        Parameters
        ----------
        features : array of shape (batch, n_inputs, M)
            Any array API namespace (numpy, CuPy, JAX, torch, array-api-strict); the result stays in it
            and on its device. Numpy weights are moved to that device once and cached.
        backend : {"numpy", "cupy"} or an array namespace module, optional
            Defaults to the namespace of ``features``.
        log : bool
            Return ``(sign, log|h|)``: every activation vector is kept as a mantissa times an exact power
            of two, so nothing over- or underflows however many inputs there are (``product``,
            ``relu_max``, ``relu_sum`` only). Accuracy as plain float arithmetic without range limits,
            plus half an ulp of ``|log|h||`` (see :mod:`tnconv.contract.logscale`).

        Returns
        -------
        array of shape (batch, n_outputs), or a ``(sign, log_abs)`` pair of such arrays

        Raises
        ------
        ValueError
            Features of the wrong shape or with NaN/inf entries; an unknown backend; ``log=True`` with a
            pooling operator that is not positively homogeneous.
        TypeError
            ``log`` that is not a bool.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 3, 2, g="relu_max", seed=1)
        >>> net.forward(np.ones((5, 4, 3))).shape
        (5, 1)
        """
        log = check_flag(log, "log")
        if log:
            check_log_operator(self.g)
        xp = resolve_namespace(features, backend)
        feats = check_features_in(xp, features, self.n_inputs, self.n_descriptors, self.dtype)
        with self._lock:
            if self._plan is None:
                self._plan = build_plan(self.tree)
            plan = self._plan
        return level_forward(self, plan, feats, xp, log)

    def _forward_reference(self, features: Any, log: bool = False) -> Any:
        """Node-by-node evaluation, the oracle for :meth:`forward` (``log=True``: ``(sign, log|h|)``)."""
        log = check_flag(log, "log")
        if log:
            check_log_operator(self.g)
        xp = resolve_namespace(features, None)
        feats = check_features_in(xp, features, self.n_inputs, self.n_descriptors, self.dtype)
        return forward_nodes([self], [], feats, 0, xp, log)

    def forward_sequence(self, sequence: Any, padding: str = "valid", backend: str | None = None) -> Any:
        """Run the network as a real dilated convolution over time (WaveNet style).

        Layer ``l`` computes ``h_l[t] = g(h_{l-1}[t - d_l] @ A_l, h_{l-1}[t] @ B_l)`` with one kernel pair
        per layer for all time steps, and ``h_{-1}[t] = x[t] @ W_leaf``. The output at time ``t`` is the
        tree decomposition evaluated on the window ``x[t-N+1 .. t]``.

        Parameters
        ----------
        sequence : array of shape (batch, T, M)
        padding : {"valid", "causal"}
            ``"valid"``: outputs only for full windows, times ``N-1 .. T-1`` (``T - N + 1`` steps).
            ``"causal"``: every time step; each layer pads its input with ``d_l`` zero vectors in the past.
        backend : {"numpy", "cupy"} or an array namespace module, optional
            Defaults to the namespace of ``sequence`` (any array API namespace).

        Returns
        -------
        array of shape (batch, T - N + 1, n_outputs) or (batch, T, n_outputs)

        Raises
        ------
        ValueError
            If the tree is not a dilated tree (no dilations), the weights are not shared per layer
            (a convolution applies one kernel at every time step), the sequence has the wrong shape or is
            shorter than the receptive field ``N`` in ``"valid"`` mode, or ``padding`` is unknown.

        References
        ----------
        .. [1] A. van den Oord et al., arXiv:1609.03499 (dilated causal convolutions).
        .. [2] N. Cohen, R. Tamari, A. Shashua, arXiv:1703.06846, Sec. 3 (the last time point as a tree
           decomposition).

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2, [2, 1]), 1, 2, g="relu_sum", shared=True, seed=0)
        >>> x = np.arange(6.0).reshape(1, 6, 1)
        >>> y = net.forward_sequence(x, padding="causal")
        >>> y.shape, bool(np.allclose(y[:, 3:], net.forward_sequence(x)))
        ((1, 6, 1), True)
        """
        xp = resolve_namespace(sequence, backend)
        return sequence_forward(self, xp.asarray(sequence), xp, padding)
