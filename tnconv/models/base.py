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

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._core.arrays import device_of, namespace
from .._core.options import check_budget
from ..trees import ModeTree, format_node
from .checks import (
    as_mode_tree,
    as_node,
    check_bool,
    check_init,
    check_positive_int,
    check_templates,
    make_rng,
    planned_init_bytes,
    resolve_dtype,
    xp_dtype,
)
from .io import Persistable
from .operators import PoolingOperator, pooling_operator
from .packing import allocate_packed, pack_weights
from .parameters import Parameters, weights_for, weights_namespace
from .tables import dense_table

__all__ = ["ConvAC", "ConvNet", "WidthSpec"]

WidthSpec = int | Sequence[int] | Mapping[Any, int]


class ForwardRangeWarning(RuntimeWarning):
    """A plain (not log-scale) forward left the float range: zeros from underflow, subnormals, or
    infinities from overflow. ``forward(x, log=True)`` returns ``(sign, log|h|)`` without range limits."""


def _warn_out_of_range(out: np.ndarray, features: np.ndarray) -> None:
    """Warn (once) when ``out`` left the float range; cheap: one pass over ``out``, and over the features
    of the zero samples only (a zero feature vector makes a product net's output exactly 0)."""
    import warnings

    if not np.issubdtype(out.dtype, np.floating):
        return
    mag = np.abs(out)
    tiny = np.finfo(out.dtype).tiny
    low = mag < tiny
    if not low.any() and np.isfinite(out).all():
        return
    problems = []
    rows = np.nonzero(low.any(axis=tuple(range(1, out.ndim))))[0] if out.ndim > 1 else np.nonzero(low)[0]
    zero_rows = rows[np.all(out[rows].reshape(len(rows), -1) == 0, axis=1)] if rows.size else rows
    real_zero = np.array([bool(np.any(np.all(features[b] == 0, axis=-1))) for b in zero_rows], dtype=bool)
    underflow = int((~real_zero).sum()) if zero_rows.size else 0
    if underflow:
        problems.append(f"{underflow} sample(s) underflowed to exactly 0")
    subnormal = int(np.count_nonzero(low & (mag > 0)))
    if subnormal:
        problems.append(f"{subnormal} value(s) are subnormal (below {tiny:.3g}; precision lost)")
    overflow = int(np.count_nonzero(~np.isfinite(out)))
    if overflow:
        problems.append(f"{overflow} value(s) overflowed to inf")
    if problems:
        warnings.warn(f"forward left the {out.dtype} range: {'; '.join(problems)}. Use forward(x, log=True), "
                      "which returns (sign, log|h|) and never over- or underflows.", ForwardRangeWarning,
                      stacklevel=3)


class ConvNet(Parameters, Persistable):
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
        self.widths = self._resolve_widths(widths)
        if self.shared:
            self._check_shareable()
        self.weights: dict[frozenset, np.ndarray] = {}
        if weights is None:
            rng = make_rng(seed)
            shapes = {self.tree.height(v) if self.shared else v: self.weight_shape(v) for v in self.tree.nodes}
            check_budget(
                f"the weights of {type(self).__name__} (n_inputs={self.n_inputs}, "
                f"n_descriptors={self.n_descriptors}, widths up to {max(self.widths.values())})",
                planned_init_bytes(shapes.values(), self.dtype, init),
            )
            self._init_weights(rng, init)
        else:
            self.set_weights(weights)

    # ------------------------------------------------------------------ structure
    def _resolve_widths(self, widths: WidthSpec) -> dict[frozenset, int]:
        tree = self.tree
        non_root = [v for v in tree.nodes if v != tree.root]
        out: dict[frozenset, int] = {}
        if isinstance(widths, np.ndarray):
            widths = widths.tolist()
        if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
            out = {v: check_positive_int(widths, "width") for v in non_root}
        elif isinstance(widths, Mapping):
            given = {as_node(k, "widths"): v for k, v in widths.items()}
            unknown = list(given.keys() - set(non_root))  # one set, not one per key: linear time
            if unknown:
                what = "the root (its width is n_outputs)" if tree.root in unknown else "not non-root nodes"
                raise ValueError(f"widths given for {[format_node(k) for k in unknown]}: {what}")
            missing = [v for v in non_root if v not in given]
            if missing:
                raise ValueError(f"widths missing for nodes {[format_node(v) for v in missing[:5]]}")
            out = {v: check_positive_int(given[v], f"width of node {format_node(v)}") for v in non_root}
        elif isinstance(widths, Sequence) and not isinstance(widths, (str, bytes)):
            root_h = tree.height(tree.root)
            if len(widths) != root_h:
                raise ValueError(
                    f"widths {list(widths)} has {len(widths)} entries; a per-height sequence needs one per "
                    f"height below the root ({root_h} for this tree)"
                )
            checked = [check_positive_int(w, f"widths[{h}]") for h, w in enumerate(widths)]
            out = {v: checked[tree.height(v)] for v in non_root}
        else:
            raise TypeError(f"widths must be an int, a sequence or a dict, got {widths!r}")
        for v in tree.internal_nodes:
            ws = {out[c] for c in tree.children(v)}
            if len(ws) > 1:
                detail = ", ".join(f"{format_node(c)}: {out[c]}" for c in tree.children(v))
                raise ValueError(
                    f"children of node {format_node(v)} have different widths ({detail}); product pooling is "
                    "channel-wise, so all children of one window need the same width"
                )
        out[tree.root] = self.n_outputs
        return out

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

    def _check_shareable(self) -> None:
        by_height: dict[int, tuple[tuple[int, int], frozenset]] = {}
        for v in self.tree.nodes:
            h, shape = self.tree.height(v), self.weight_shape(v)
            if h in by_height and by_height[h][0] != shape:
                other = by_height[h][1]
                raise ValueError(
                    f"shared=True needs one weight shape per height, but at height {h} node {format_node(v)} "
                    f"has {shape} and node {format_node(other)} has {by_height[h][0]}"
                )
            by_height.setdefault(h, (shape, v))

    def _init_weights(self, rng: np.random.Generator, init: str) -> None:
        cache: dict[int, np.ndarray] = {}
        # Views of one buffer per same-shaped level: the engines' stacked GEMMs use it without a copy.
        packed = {} if self.shared else allocate_packed(self.tree, self.weight_shape, self.dtype)
        for v in self.tree.nodes:
            h = self.tree.height(v)
            if self.shared and h in cache:
                self.weights[v] = cache[h]
                continue
            shape = self.weight_shape(v)
            if init == "orthogonal":
                a = rng.standard_normal(shape if shape[0] >= shape[1] else shape[::-1])
                q, r = np.linalg.qr(a)
                q = q * np.sign(np.diag(r))
                w = q if shape[0] >= shape[1] else q.T
            else:
                w = rng.standard_normal(shape) / math.sqrt(shape[0])
            if v in packed:
                packed[v][...] = w
                w = packed[v]
            else:
                w = np.ascontiguousarray(w, dtype=self.dtype)
            self.weights[v] = w
            cache[h] = w

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
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a dict {{node: matrix}}, got {type(weights).__name__}")
        given = {as_node(k, "weights"): v for k, v in weights.items()}
        new: dict[frozenset, np.ndarray] = {}
        for v in self.tree.nodes:
            if v not in given:
                raise ValueError(f"weights missing for node {format_node(v)}")
            try:
                w = np.asarray(given[v])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"weights of node {format_node(v)} are not a rectangular array: {exc}") from None
            if w.dtype.kind not in "fiu":
                raise TypeError(f"weights of node {format_node(v)} have dtype {w.dtype}; expected real numbers")
            if w.shape != self.weight_shape(v):
                raise ValueError(
                    f"weights of node {format_node(v)} have shape {w.shape}, expected {self.weight_shape(v)}"
                )
            if not np.isfinite(w).all():
                raise ValueError(f"weights of node {format_node(v)} contain NaN or infinite values")
            new[v] = np.ascontiguousarray(w, dtype=self.dtype)
        extra = list(given.keys() - set(self.tree.nodes))  # one set, not one per key: linear time
        if extra:
            raise ValueError(f"weights given for nodes not in the tree: {[format_node(k) for k in extra[:5]]}")
        if self.shared:
            for level in self.tree.levels():
                first = new[level[0]]
                for v in level[1:]:
                    if new[v] is not first and not np.array_equal(new[v], first):
                        raise ValueError(f"shared=True but node {format_node(v)} has weights unlike its level")
                    new[v] = first
        self.weights = pack_weights(self.tree, new, self.dtype)

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

    def _widths_by_height(self) -> list[int] | list[list[int]]:
        """The widths as given to ``deep``: one per height (leaves first), or per node where a height
        has several."""
        tree = self.tree
        by: dict[int, list[int]] = {}
        for v in tree.nodes:
            if v != tree.root:
                by.setdefault(tree.height(v), []).append(self.widths[v])
        rows = [by[h] for h in sorted(by)]
        if all(len(set(r)) == 1 for r in rows):
            return [r[0] for r in rows]
        return [sorted(set(r)) for r in rows]

    def __repr__(self) -> str:
        name = type(self).__name__
        g = "" if name == "ConvAC" else f", g={self.g.name!r}"
        widths = self._widths_by_height()
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
            _warn_out_of_range(out, features)
        return out

    def _forward_reference(self, features: Any, log: bool = False) -> Any:
        # Kept for contract/bench.py's "reference" label: the generic array-API executor.
        return self.forward(features, log=log, engine="reference")

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> Any:
        """The network's outputs on every combination of templates.

        Parameters
        ----------
        template_features : array of shape (T, M)
            Row ``j`` holds the features of template ``j``; any array namespace (numpy weights are
            moved to its device once and cached).
        output : int
            The output channel ``y``.
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        array of shape ``(T,) * n_inputs``, in the namespace of ``template_features``
            Entry ``[j_1..j_N]`` is the output on templates ``j_1..j_N``.

        Raises
        ------
        tnconv.TensorTooLargeError
            If the tensor or an intermediate would exceed the budget (the message gives the size).
        TypeError
            Templates in another namespace than weights that are not numpy.

        References
        ----------
        .. [1] Cohen & Shashua, ICML 2016, arXiv:1603.00162, Sec. 3 (grid tensors).

        Examples
        --------
        >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
        >>> G = net.grid_tensor(np.eye(2))   # templates with features e_1, e_2: the coefficient tensor
        >>> G.shape, bool(np.allclose(G, net.coefficient_tensor()))
        ((2, 2, 2, 2), True)
        """
        output = self._check_output(output)
        tf = check_templates(template_features, self.n_descriptors, self.dtype)
        ws = weights_for(self, namespace(tf), tf)
        return dense_table(self, tf, ws, output, "grid tensor", max_bytes)

    def _check_output(self, output: int) -> int:
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
            raise TypeError(f"output must be an int in 0..{self.n_outputs - 1}, got {output!r}")
        if not 0 <= output < self.n_outputs:
            raise ValueError(f"output {output!r} out of range for n_outputs={self.n_outputs}")
        return int(output)

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None, backend: str | None = None) -> Any:
        """The dense coefficient tensor ``A^y`` of shape ``(M,) * n_inputs``.

        Built in the namespace and on the device of the weights (differentiable under ``jax.grad``).

        Parameters
        ----------
        output : int
            The output channel ``y``.
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``, 2 GiB).
        backend : {None, "numpy", "cupy"}
            ``"cupy"`` contracts the tensor network on the GPU and returns a CuPy array.

        Raises
        ------
        tnconv.TensorTooLargeError
            A ``MemoryError`` whose message says how many bytes the tensor would need.
        ValueError
            For a non-product pooling operator (use :meth:`grid_tensor`).

        Examples
        --------
        >>> import tnconv as tc
        >>> tc.shallow(3, 2, 4, seed=0).coefficient_tensor().shape
        (2, 2, 2)
        """
        self._require_product("coefficient_tensor")
        if backend not in (None, "numpy"):
            from .protocol import hook

            return hook("coefficient_tensor")(self, output, backend=backend, max_bytes=max_bytes)
        output = self._check_output(output)
        xp = weights_namespace(self)
        first = self.weights[self.tree.root]
        eye = xp.eye(self.n_descriptors, dtype=xp_dtype(xp, self.dtype), device=device_of(first))
        return dense_table(self, eye, self.weights, output, "coefficient tensor", max_bytes)

    def to_tensor_network(self, output: int = 0) -> Any:
        """Compile into a :class:`~tnconv.network.TensorNetwork` (weights, copy tensors, open legs).

        Parameters
        ----------
        output : int
            The output channel ``y`` (the root's column).

        Returns
        -------
        TensorNetwork

        Raises
        ------
        ValueError
            For a non-product pooling operator, which has no tensor network.

        Examples
        --------
        >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
        >>> tn = net.to_tensor_network()
        >>> len(tn.open_legs), bool(np.allclose(tn.contract(), net.coefficient_tensor()))
        (4, True)
        """
        from .protocol import compile_network

        self._require_product("to_tensor_network")
        return compile_network(self, self._check_output(output))

    def _require_product(self, what: str) -> None:
        if not self.g.is_product:
            raise ValueError(
                f"{what} needs product pooling (a ConvAC); this net pools with {self.g.name!r}, which has no "
                "coefficient tensor: use grid_tensor(template_features) instead"
            )


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
