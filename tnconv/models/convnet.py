"""ConvNets over a mode tree: convolutional arithmetic circuits and generalized (rectifier) nets.

A network over a :class:`~tnconv.trees.ModeTree` applies a 1x1 convolution (a matrix) at every tree node
and pools the children of each internal node with an operator ``g``. With ``g = product`` it is a
convolutional arithmetic circuit (ConvAC) whose function is

    h_y(X) = sum_{d_1..d_N} A^y[d_1..d_N] prod_i f_{d_i}(x_i),

with ``A^y`` a hierarchical tensor decomposition over the tree (CP for a flat tree, hierarchical Tucker
for a balanced binary one).

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

from .._core.options import check_budget
from ..trees import ModeTree, format_node
from .io import Persistable
from .operators import PoolingOperator, _namespace, pooling_operator

__all__ = [
    "INITS",
    "POOLINGS",
    "ConvAC",
    "ConvNet",
    "as_mode_tree",
    "check_bool",
    "check_features",
    "check_init",
    "check_positive_int",
    "check_templates",
    "deep",
    "make_rng",
    "planned_init_bytes",
    "resolve_dtype",
    "shallow",
]

WidthSpec = int | Sequence[int] | Mapping[Any, int]


def resolve_dtype(dtype: Any) -> np.dtype:
    """Accept float32/float64 only (the arithmetic of every engine)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype {dtype!r} is not a numpy dtype; use 'float32' or 'float64'") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype {dt} is not supported; use 'float32' or 'float64'")
    return dt


def check_features(features: Any, n_inputs: int, n_descriptors: int, dtype: np.dtype) -> Any:
    """Validate features of shape ``(batch, n_inputs, M)`` and cast them to ``dtype``.

    NumPy and CuPy arrays stay on their device. Integer features are cast; complex, boolean, object
    and string arrays, wrong shapes and non-finite values raise.

    Raises
    ------
    ValueError
        Wrong shape, NaN or infinite entries.
    TypeError
        Unsupported dtype.
    """
    xp = _array_module(features)
    arr = features if xp is not np else np.asarray(features)
    if arr.dtype.kind not in "fiu":
        raise TypeError(
            f"features have dtype {arr.dtype}; expected real numbers (float32/float64 or integers)"
        )
    if arr.ndim != 3 or arr.shape[1:] != (n_inputs, n_descriptors):
        hint = " (add a batch axis: features[None])" if arr.shape == (n_inputs, n_descriptors) else ""
        raise ValueError(
            f"features have shape {tuple(arr.shape)}; expected (batch, n_inputs={n_inputs}, "
            f"n_descriptors={n_descriptors}){hint}"
        )
    arr = arr.astype(dtype, copy=False)
    from ..contract.backends import check_finite_features

    check_finite_features(arr)
    return arr


def check_templates(template_features: Any, n_descriptors: int, dtype: np.dtype) -> np.ndarray:
    """Validate grid-tensor templates of shape ``(T, M)`` (as features) and cast them to ``dtype``."""
    tf = np.asarray(template_features)
    if tf.ndim != 2 or tf.shape[1] != n_descriptors:
        raise ValueError(f"template_features have shape {tf.shape}; expected (T, {n_descriptors})")
    return check_features(tf[None], tf.shape[0], n_descriptors, dtype)[0]


_array_module = _namespace


class ConvNet(Persistable):
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
            given = {_as_node(k, "widths"): v for k, v in widths.items()}
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

        Raises
        ------
        ValueError
            ``node`` is not a node of the tree (naming it).
        """
        node = self._node(node)
        if self.tree.is_leaf(node):
            return self.n_descriptors
        return self.widths[self.tree.children(node)[0]]

    def weight_shape(self, node: Iterable[int]) -> tuple[int, int]:
        """``(in_width(node), widths[node])``: the shape of the node's weight matrix.

        Raises
        ------
        ValueError
            ``node`` is not a node of the tree (naming it).
        """
        node = self._node(node)
        return (self.in_width(node), self.widths[node])

    def _node(self, node: Any) -> frozenset:
        v = _as_node(node, "node")
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
            w = np.ascontiguousarray(w, dtype=self.dtype)
            self.weights[v] = w
            cache[h] = w

    def set_weights(self, weights: Mapping[Any, Any]) -> None:
        """Replace the weights with ``{node: matrix}`` (shapes checked, every node required).

        Raises
        ------
        TypeError
            ``weights`` is not a mapping, a key is not a node (a set of input positions), an array is not
            real.
        ValueError
            A missing node, a node not in the tree, a wrong shape, NaN or infinite entries, or (with
            ``shared=True``) weights that differ within a level.
        """
        if not isinstance(weights, Mapping):
            raise TypeError(f"weights must be a dict {{node: matrix}}, got {type(weights).__name__}")
        given = {_as_node(k, "weights"): v for k, v in weights.items()}
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
        self.weights = new

    @property
    def n_inputs(self) -> int:
        return self.tree.n_inputs

    @property
    def n_parameters(self) -> int:
        """Number of distinct weight entries (shared arrays counted once)."""
        return sum(w.size for w in {id(w): w for w in self.weights.values()}.values())

    def __repr__(self) -> str:
        name = type(self).__name__
        g = "" if name == "ConvAC" else f", g={self.g.name!r}"
        widths = sorted({self.widths[v] for v in self.tree.nodes if v != self.tree.root})
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
        """
        from ..contract.engine import run_forward

        return run_forward(self, features, backend=backend, log=log, engine=engine)

    def _forward_reference(self, features: Any, log: bool = False) -> Any:
        """Node-by-node evaluation (numpy); the oracle the fast engines are tested against.

        In log mode every activation vector is kept as ``x * 2**e`` (``max|x|`` in ``[1/2, 1)``, ``e`` an
        integer in float64), renormalized after every convolution and after every factor of a product
        window, one child at a time (the engines multiply pairwise instead). Rescaling by powers of two
        is exact, so the accuracy is that of plain float arithmetic without its range limits (see
        :mod:`tnconv.contract.logscale`).
        """
        from ..contract.logscale import check_flag, check_log_operator

        log = check_flag(log, "log")
        feats = check_features(features, self.n_inputs, self.n_descriptors, self.dtype)
        tree, g = self.tree, self.g
        if log:
            check_log_operator(g)
            return self._forward_reference_log(feats)
        acts: dict[frozenset, np.ndarray] = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                x = feats[:, next(iter(v)), :]
            else:
                x = g.fold([acts.pop(c) for c in tree.children(v)])
            acts[v] = x @ self.weights[v]
        return acts[tree.root]

    def _forward_reference_log(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tree, g = self.tree, self.g

        def unit(x: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # x * 2**e  ->  (x', e') with max|x'| in [1/2, 1) per row; zero rows stay (0, e).
            _, k = np.frexp(np.abs(x).max(axis=1))
            return np.ldexp(x, -k[:, None]), e + k

        acts: dict[frozenset, tuple[np.ndarray, np.ndarray]] = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                x, e = unit(feats[:, next(iter(v)), :], np.zeros(feats.shape[0]))
            else:
                kids = [acts.pop(c) for c in tree.children(v)]
                if g.is_product:
                    x, e = kids[0]
                    for y, f in kids[1:]:
                        x, e = unit(x * y, e + f)
                else:
                    # ReLU first (g is positively homogeneous), then the exponent of the largest
                    # rectified child: an all-negative child must not hide a tiny positive one.
                    rect = [(np.maximum(y, 0), f) for y, f in kids]
                    tops = [np.where(r.max(axis=1) > 0, f + np.frexp(r.max(axis=1))[1], -np.inf) for r, f in rect]
                    e = np.max(tops, axis=0)
                    e = np.where(np.isfinite(e), e, 0.0)
                    x = g.fold([np.ldexp(r, np.maximum(f - e, -4096).astype(np.int64)[:, None]) for r, f in rect])
            x, e = unit(x @ self.weights[v], e)
            acts[v] = (x, e)
        out, e = acts[tree.root]
        from ..contract.logscale import finish

        return finish(out, e, np)

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> np.ndarray:
        """The network's outputs on every combination of templates.

        Parameters
        ----------
        template_features : array of shape (T, M)
            Row ``j`` holds the features of template ``j``.
        output : int
            The output channel ``y``.
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        numpy.ndarray of shape ``(T,) * n_inputs``
            Entry ``[j_1..j_N]`` is the output on templates ``j_1..j_N``.

        Raises
        ------
        tnconv.TensorTooLargeError
            If the tensor or an intermediate would exceed the budget (the message gives the size).

        References
        ----------
        .. [1] Cohen & Shashua, ICML 2016, arXiv:1603.00162, Sec. 3 (grid tensors).
        """
        tf = check_templates(template_features, self.n_descriptors, self.dtype)
        return self._dense_table(tf, output, "grid tensor", max_bytes)

    def _check_output(self, output: int) -> int:
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
            raise TypeError(f"output must be an int in 0..{self.n_outputs - 1}, got {output!r}")
        if not 0 <= output < self.n_outputs:
            raise ValueError(f"output {output!r} out of range for n_outputs={self.n_outputs}")
        return int(output)

    def _dense_table(self, leaf_table: np.ndarray, output: int, what: str, max_bytes: float | None) -> np.ndarray:
        # Bottom-up table of every node's activations on all template combinations of its inputs; the
        # axes of a table follow the concatenated order of its children, transposed once at the end.
        output = self._check_output(output)
        tree = self.tree
        T = leaf_table.shape[0]
        item = self.dtype.itemsize
        n = self.n_inputs
        check_budget(f"the {what} ({T}^{n} entries)", float(T) ** n * item * 2, max_bytes)
        for v in tree.internal_nodes:
            if v != tree.root:
                size = float(T) ** len(v) * max(self.in_width(v), self.widths[v]) * item * (len(tree.children(v)) + 1)
                check_budget(f"the intermediate table of node {format_node(v)} in the {what}", size, max_bytes)
        tables: dict[frozenset, tuple[np.ndarray, list[int]]] = {}
        root = tree.root
        for v in tree.nodes:
            if tree.is_leaf(v):
                w = self.weights[v] if v != root else self.weights[v][:, output : output + 1]
                tables[v] = (leaf_table @ w, [next(iter(v))])
                continue
            kids = tree.children(v)
            parts = [tables.pop(c) for c in kids]
            order = [m for _, modes in parts for m in modes]
            W = self.weights[v] if v != root else self.weights[v][:, output : output + 1]
            rows = [p.shape[0] for p, _ in parts]
            width = parts[0][0].shape[1]
            if v != root:
                x = self._combine(parts, rows, width, slice(None))
                tables[v] = (x.reshape(-1, width) @ W, order)
            else:
                # The root is built in chunks of the first child's rows so that the (rows x width)
                # pooled table never exists in full: only the final tensor does.
                out = np.empty(int(np.prod(rows)), dtype=self.dtype)
                rest = int(np.prod(rows[1:]))
                step = max(1, int(2**25 // max(1, rest * width)))
                for start in range(0, rows[0], step):
                    sl = slice(start, min(start + step, rows[0]))
                    x = self._combine(parts, rows, width, sl)
                    out[sl.start * rest : sl.stop * rest] = (x.reshape(-1, width) @ W)[:, 0]
                tables[v] = (out[:, None], order)
        flat, order = tables[root]
        dense = flat[:, 0].reshape((T,) * n)
        return np.ascontiguousarray(np.transpose(dense, np.argsort(order)))

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None, backend: str | None = None) -> Any:
        """The dense coefficient tensor ``A^y`` of shape ``(M,) * n_inputs``.

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
            from ..contract.engine import coefficient_tensor as contracted

            return contracted(self, output, backend=backend, max_bytes=max_bytes)
        eye = np.eye(self.n_descriptors, dtype=self.dtype)
        return self._dense_table(eye, output, "coefficient tensor", max_bytes)

    def to_tensor_network(self, output: int = 0) -> Any:
        """Compile into a :class:`~tnconv.network.TensorNetwork` (weights, copy tensors, open legs).

        Raises
        ------
        ValueError
            For a non-product pooling operator, which has no tensor network.
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


    def _combine(
        self, parts: list[tuple[np.ndarray, list[int]]], rows: list[int], width: int, first: slice
    ) -> np.ndarray:
        k = len(parts)
        arrays = []
        for i, (p, _) in enumerate(parts):
            if i == 0:
                p = p[first]
            shape = [1] * k + [width]
            shape[i] = p.shape[0]
            arrays.append(p.reshape(shape))
        return self.g.fold(arrays) if k > 1 else arrays[0]


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

def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive int (numpy ints too; bools and floats refused).

    Raises
    ------
    TypeError
        Not an int (naming ``name`` and the value).
    ValueError
        Below 1.

    Examples
    --------
    >>> check_positive_int(3, "width")
    3
    >>> check_positive_int(2.5, "width")
    Traceback (most recent call last):
    ...
    TypeError: width must be a positive int, got 2.5 (float)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)


_positive_int = check_positive_int


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a bool (``numpy.bool_`` too); anything else raises ``TypeError`` naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: The random weight initializations.
INITS = ("normal", "orthogonal")


def check_init(init: Any) -> str:
    """``init`` if it names an initialization in :data:`INITS`, else ``ValueError`` listing them."""
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    return init


def make_rng(seed: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, refusing bools and naming an invalid seed."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"seed {seed!r} is not valid: {exc}") from None


def as_mode_tree(tree: Any, name: str = "tree") -> ModeTree:
    """``tree`` as a :class:`ModeTree` (nested tuples or lists are converted)."""
    if isinstance(tree, ModeTree):
        return tree
    if isinstance(tree, (tuple, list)):
        return ModeTree.from_nested(tree)
    raise TypeError(f"{name} must be a ModeTree or nested tuples of ints, got {tree!r}")


def _as_node(key: Any, what: str) -> frozenset:
    if isinstance(key, frozenset):
        return key
    if isinstance(key, (str, bytes)) or not isinstance(key, Iterable):
        raise TypeError(f"{what}: {key!r} is not a node; a node is a set of input positions, e.g. {{0, 1}}")
    try:
        return frozenset(key)
    except TypeError:
        raise TypeError(f"{what}: {key!r} is not a node; a node is a set of input positions") from None


def planned_init_bytes(shapes: Iterable[tuple[int, int]], dtype: Any, init: str) -> float:
    """Peak bytes of drawing random weight matrices of ``shapes``: all results plus the float64
    temporaries of the largest draw (the Gaussian sample and its scaled copy, or the QR factors)."""
    item = np.dtype(dtype).itemsize
    total, temp = 0.0, 0.0
    for a, b in shapes:
        entries = float(a) * float(b)
        total += entries * item
        temp = max(temp, entries * 8 * (4 if init == "orthogonal" else 2) + float(min(a, b)) ** 2 * 8)
    return total + temp


def _n_inputs(n_inputs: Any) -> tuple[int, tuple[int, int] | None]:
    """``(n, shape)`` from an int or an image shape ``(height, width)`` of positive ints."""
    if isinstance(n_inputs, (tuple, list)):
        if len(n_inputs) != 2:
            raise ValueError(f"n_inputs must be an int or a (height, width) pair, got {n_inputs!r}")
        h = check_positive_int(n_inputs[0], "n_inputs[0] (the image height)")
        w = check_positive_int(n_inputs[1], "n_inputs[1] (the image width)")
        return h * w, (h, w)
    return check_positive_int(n_inputs, "n_inputs"), None


def _precheck(n: int, n_descriptors: Any, leaf_width: Any, dtype: Any) -> None:
    # Before the tree is built: the leaves alone hold n * M * w weights, and the tree about 500 bytes
    # per input, so a request far over the budget is refused without building anything.
    M = check_positive_int(n_descriptors, "n_descriptors")
    item = resolve_dtype(dtype).itemsize
    if isinstance(leaf_width, Sequence) and not isinstance(leaf_width, (str, bytes)) and len(leaf_width):
        leaf_width = leaf_width[0]
    valid = isinstance(leaf_width, (int, np.integer)) and not isinstance(leaf_width, bool) and leaf_width > 0
    w = int(leaf_width) if valid else 1  # anything else is refused by the model, with its own message
    check_budget(f"a model over {n} inputs with n_descriptors={M} and leaf width {w}",
                 float(n) * (float(M) * w * item + 500))


def shallow(
    n_inputs: int | tuple[int, int],
    n_descriptors: int,
    width: int,
    *,
    n_outputs: int = 1,
    shared: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = "float64",
    weights: Mapping[Any, Any] | None = None,
    init: str = "normal",
) -> ConvAC:
    """A shallow ConvAC (one hidden layer, global product pooling): the CP decomposition.

    Its coefficient tensor has CP rank at most ``width``, so every matricization has rank at most
    ``width``.

    Parameters
    ----------
    n_inputs : int or (height, width)
        Positive ints; an image shape gives ``height * width`` inputs.
    n_descriptors : int
    width : int
    n_outputs, shared, seed, dtype, weights, init
        As :class:`ConvAC`.

    Raises
    ------
    TypeError
        Sizes that are not ints (bools and floats are refused), unknown keywords.
    ValueError
        Non-positive sizes, an unknown ``init``.
    tnconv.TensorTooLargeError
        When the weights would exceed the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.  Shallow networks = CP decompositions.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.shallow(4, 2, width=3, seed=0)
    >>> net.tree.to_nested(), net.n_parameters
    ((0, 1, 2, 3), 27)
    """
    n, _ = _n_inputs(n_inputs)
    width = check_positive_int(width, "width")
    if weights is None:
        _precheck(n, n_descriptors, width, dtype)
    return ConvAC(ModeTree.flat(n), n_descriptors, width, n_outputs=n_outputs, shared=shared, seed=seed,
                  dtype=dtype, weights=weights, init=init)


#: The pooling geometries of :func:`deep`.
POOLINGS = ("contiguous", "interleaved")


def deep(
    n_inputs: int | tuple[int, int],
    n_descriptors: int,
    widths: WidthSpec,
    pooling: str = "contiguous",
    arity: int | None = None,
    *,
    n_outputs: int = 1,
    shared: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = "float64",
    weights: Mapping[Any, Any] | None = None,
    init: str = "normal",
) -> ConvAC:
    """A deep ConvAC with pooling windows of size 2 (1D) or 2x2 (2D), recursively: hierarchical Tucker.

    Parameters
    ----------
    n_inputs : int or (height, width)
        A power of 2 (1D) or an image shape with power-of-2 sides (2D grid pooling).
    n_descriptors : int
    widths : int, sequence or dict
    pooling : {"contiguous", "interleaved"}
        Contiguous windows, or windows joining inputs half the sequence/image apart.
    arity : int, optional
        1D window size (default 2); 2D windows are ``arity x arity``.
    n_outputs, shared, seed, dtype, weights, init
        As :class:`ConvAC`.

    Raises
    ------
    TypeError
        Sizes that are not ints (bools and floats are refused), unknown keywords.
    ValueError
        Non-positive sizes, sizes that are not powers of the arity, an unknown ``pooling`` or ``init``.
    tnconv.TensorTooLargeError
        When the weights would exceed the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.
    .. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
       Geometry", ICLR 2017, arXiv:1605.06743.

    Examples
    --------
    >>> import tnconv as tc
    >>> tc.deep(8, 2, 2).tree.to_nested()
    (((0, 1), (2, 3)), ((4, 5), (6, 7)))
    >>> tc.deep((4, 4), 2, [2, 2]).n_inputs
    16
    """
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    a = 2 if arity is None else check_positive_int(arity, "arity")
    n, shape = _n_inputs(n_inputs)
    if weights is None:
        _precheck(n, n_descriptors, widths, dtype)
    if shape is not None:
        tree = ModeTree.grid(shape[0], shape[1], window=a, interleaved=pooling == "interleaved")
    elif pooling == "interleaved":
        tree = ModeTree.interleaved(n, arity=a)
    else:
        tree = ModeTree.balanced(n, arity=a)
    return ConvAC(tree, n_descriptors, widths, n_outputs=n_outputs, shared=shared, seed=seed, dtype=dtype,
                  weights=weights, init=init)
