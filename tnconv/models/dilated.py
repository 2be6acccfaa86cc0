"""Dilated 1D ConvNets, mixed decompositions, and the tiling rank bounds of tree decompositions.

A dilated ConvNet over ``N = 2**L`` time points (size-2 convolutions, layer ``l`` with dilation ``d_l``,
no pooling) computes, at its last time point, a tree decomposition over a **binary** mode tree fixed by
the order of the dilations (:meth:`tnconv.ModeTree.dilated`). Unlike a ConvAC, each child of a node has
its own matrix before the channel-wise pooling operator ``g``:

    phi^v[c'] = g_u ( sum_a W_{v,u}[a, c'] phi^u[a] )          (u over the children of v)

with ``phi^leaf = features @ W_leaf``. At the root the matrices have ``n_outputs`` columns, so for a fixed
output ``y`` the root is a single (generalized) product of its children's projections.

A **mixed decomposition** of two trees runs both networks in parallel and, at every mixture node (a node
internal to both trees, inner ones first), swaps the channels ``c < width/2`` between them once both have
computed it; the output is the sum of the two roots.

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

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .._core.options import check_budget
from ..contract.logscale import (
    check_flag,
    check_log_operator,
    finish,
    leaf_too_small,
    normalize_,
    pool_scales,
    scale_features,
)
from ..trees import ModeTree, format_node
from .convnet import (
    _array_module,
    as_mode_tree,
    check_bool,
    check_features,
    check_init,
    check_positive_int,
    check_templates,
    make_rng,
    planned_init_bytes,
    resolve_dtype,
)
from .io import Persistable
from .operators import OPERATORS, PoolingOperator, pooling_operator

__all__ = ["DilatedConvNet", "common_exponent", "log_roots"]


# ---------------------------------------------------------------------------------------------- helpers
_as_tree = as_mode_tree


def planned_weight_bytes(tree: ModeTree, n_descriptors: int, width: int, n_outputs: int, shared: bool,
                         dtype: Any, init: str) -> float:
    """Peak bytes of drawing the random weights of a :class:`DilatedConvNet` (results and temporaries)."""
    shapes: list[tuple[int, int]] = []
    heights: set[int] = set()
    for v in tree.nodes:
        h = tree.height(v)
        if shared and h in heights:
            continue
        heights.add(h)
        if tree.is_leaf(v):
            shapes.append((n_descriptors, width))
        else:
            cols = n_outputs if v == tree.root else width
            shapes += [(width, cols)] * len(tree.children(v))
    return planned_init_bytes(shapes, dtype, init)


def _require_binary(tree: ModeTree, what: str) -> None:
    for v in tree.internal_nodes:
        k = len(tree.children(v))
        if k != 2:
            raise ValueError(
                f"{what} needs a binary mode tree, but node {format_node(v)} has {k} children"
            )


def _infer_dilations(tree: ModeTree) -> tuple[int, ...] | None:
    """The dilations ``d`` with ``ModeTree.dilated(L, d) == tree``, or ``None`` if there are none."""
    n = tree.n_inputs
    if n < 2 or n & (n - 1):
        return None
    n_layers = n.bit_length() - 1
    if tree.height(tree.root) != n_layers or any(len(tree.children(v)) != 2 for v in tree.internal_nodes):
        return None
    # Along the path of the last time point, the earlier child is the current one shifted back by d_l.
    dil: list[int] = []
    node = tree.root
    while not tree.is_leaf(node):
        a, b = tree.children(node)
        cur, early = (a, b) if n - 1 in a else (b, a)
        dil.append(max(cur) - max(early))
        node = cur
    dil.reverse()
    try:
        candidate = ModeTree.dilated(n_layers, dil)
    except ValueError:
        return None
    return tuple(dil) if candidate == tree else None


def _earlier_first(tree: ModeTree, node: frozenset) -> bool:
    """True when the first stored child of ``node`` ends earlier in time than the second."""
    a, b = tree.children(node)
    return max(a) < max(b)


def _swap_halves(xp: Any, a: Any, b: Any, half: int) -> tuple[Any, Any]:
    a2 = xp.concatenate([b[..., :half], a[..., half:]], axis=-1)
    b2 = xp.concatenate([a[..., :half], b[..., half:]], axis=-1)
    return a2, b2


def _pool_pair(g: PoolingOperator, xp: Any, a: Any, b: Any) -> Any:
    """``g(a, b)`` for two freshly computed arrays, in place for the named operators (``np.maximum``
    allocating twice costs more than the matmuls at large batch)."""
    if g is OPERATORS["product"]:
        a *= b
    elif g is OPERATORS["relu_max"]:
        xp.maximum(a, b, out=a)
        xp.maximum(a, 0, out=a)
    elif g is OPERATORS["relu_sum"]:
        xp.maximum(a, 0, out=a)
        xp.maximum(b, 0, out=b)
        a += b
    else:
        return g.pair(a, b)
    return a


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.array_equal(order, np.arange(len(order))))


class _TableOps:
    """Dense tables over template combinations: the value of node ``v`` has shape ``(T,) * |v| + (w,)``
    with its mode axes in ascending input order, so the two networks of a mixed net line up."""

    def __init__(self, g: PoolingOperator, leaf_table: np.ndarray, output: int):
        self.g, self.leaf_table, self.output = g, leaf_table, output
        self.T = leaf_table.shape[0]

    def leaf(self, net: DilatedConvNet, leaf: frozenset) -> np.ndarray:
        return self.leaf_table @ net.weights[leaf]

    def combine(self, net: DilatedConvNet, node: frozenset, values: list[np.ndarray]) -> np.ndarray:
        tree, T = net.tree, self.T
        mats = net._node_mats(node, self.output)
        kids = tree.children(node)
        ys = [x @ W for x, W in zip(values, mats)]
        w = ys[0].shape[-1]
        a = ys[0].reshape(-1, 1, w)
        b = ys[1].reshape(1, -1, w)
        out = self.g.pair(a, b)
        order = sorted(kids[0]) + sorted(kids[1])
        out = out.reshape((T,) * len(order) + (w,))
        perm = list(np.argsort(order)) + [len(order)]
        return np.ascontiguousarray(np.transpose(out, perm))


class _ForwardOps:
    """Activations ``(batch, w)`` node by node (the oracle for the level-batched forward)."""

    def __init__(self, g: PoolingOperator, feats: Any, xp: Any):
        self.g, self.feats, self.xp = g, feats, xp

    def leaf(self, net: DilatedConvNet, leaf: frozenset) -> Any:
        return self.feats[:, next(iter(leaf)), :] @ self.xp.asarray(net.weights[leaf])

    def combine(self, net: DilatedConvNet, node: frozenset, values: list[Any]) -> Any:
        mats = net._node_mats(node, None)
        return self.g.fold([x @ self.xp.asarray(W) for x, W in zip(values, mats)])


class _LogForwardOps:
    """Activations as ``(mantissa (batch, w), float64 exponent (batch,))`` pairs, node by node: the value
    is ``mantissa * 2**exponent`` with ``max|mantissa|`` in ``[1/2, 1)`` per sample (log mode; see
    :mod:`tnconv.contract.logscale`)."""

    def __init__(self, g: PoolingOperator, feats: Any, xp: Any):
        self.g, self.xp = g, xp
        self.feats, self.e0 = scale_features(feats, xp, force=True)

    def unit(self, x: Any, e: Any) -> tuple[Any, Any]:
        return x, e + normalize_(x, self.xp)

    def leaf(self, net: DilatedConvNet, leaf: frozenset) -> tuple[Any, Any]:
        i = next(iter(leaf))
        e = self.xp.zeros(self.feats.shape[0]) if self.e0 is None else self.e0[:, i]
        return self.unit(self.feats[:, i, :] @ self.xp.asarray(net.weights[leaf]), e)

    def combine(self, net: DilatedConvNet, node: frozenset, values: list[Any]) -> tuple[Any, Any]:
        xp = self.xp
        mats = net._node_mats(node, None)
        ys = [self.unit(x @ xp.asarray(W), e) for (x, e), W in zip(values, mats)]
        pooled, e = pool_scales(xp.stack([y for y, _ in ys])[None], xp.stack([f for _, f in ys])[None], self.g, xp)
        return self.unit(pooled[0], e[0])

    def swap(self, a: tuple[Any, Any], b: tuple[Any, Any], half: int) -> tuple[Any, Any]:
        (xa, ea), (xb, eb) = common_exponent([a, b], self.xp)
        xa, xb = _swap_halves(self.xp, xa, xb, half)
        return self.unit(xa, ea), self.unit(xb, eb)


def log_roots(nets: Sequence[DilatedConvNet], mixture: Sequence[frozenset], feats: Any, half: int,
              xp: Any) -> list[tuple[Any, Any]]:
    """The roots of one or two nets (mixed at ``mixture``) as ``(mantissa, exponent)`` pairs, node by node.

    The value of a root is ``mantissa * 2**exponent[:, None]`` with ``max|mantissa|`` in ``[1/2, 1)``
    per sample; see :mod:`tnconv.contract.logscale` for the rescaling and its accuracy.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((3, 4, 2))
    >>> (x, e), = log_roots([net], [], F, 0, np)
    >>> bool(np.allclose(x * 2.0 ** e[:, None], net.forward(F), rtol=1e-12, atol=0))
    True
    """
    return _evaluate(nets, mixture, _LogForwardOps(nets[0].g, feats, xp), half, xp)


def common_exponent(values: list[tuple[Any, Any]], xp: Any) -> list[tuple[Any, Any]]:
    """Bring ``(mantissa, exponent)`` pairs to their largest exponent per sample (exact rescaling)."""
    top = values[0][1]
    for _, e in values[1:]:
        top = xp.maximum(top, e)
    out = []
    for x, e in values:
        y = x.copy()
        _scale(y, top - e, xp)
        out.append((y, top))
    return out


def _scale(y: Any, k: Any, xp: Any) -> None:
    # y *= 2**-k, exactly; differences past the exponent range give exact zeros.
    xp.ldexp(y, (-xp.minimum(k, 4096)).astype(np.int32)[..., None], out=y)


def _evaluate(nets: Sequence[DilatedConvNet], mixture: Sequence[frozenset], ops: Any, half: int, xp: Any) -> list[Any]:
    """Evaluate one or two nets bottom-up, swapping ``half`` channels at each mixture node.

    Mixture nodes are processed by increasing size: everything of each tree inside a mixture node is
    computed (children first), then the two values of that node are swapped. Nodes inside a mixture
    node form a subtree of each tree (nodes of a tree are laminar), so every inner mixture node is
    swapped before its value is consumed.
    """
    values: list[dict[frozenset, Any]] = [{} for _ in nets]

    def run(k: int, limit: frozenset | None) -> None:
        net, vals = nets[k], values[k]
        for v in net.tree.nodes:
            if v in vals or (limit is not None and not v <= limit):
                continue
            if net.tree.is_leaf(v):
                vals[v] = ops.leaf(net, v)
            else:
                vals[v] = ops.combine(net, v, [vals[c] for c in net.tree.children(v)])

    swap = getattr(ops, "swap", None)
    for m in sorted(mixture, key=len):
        for k in range(len(nets)):
            run(k, m)
        if swap is not None:
            values[0][m], values[1][m] = swap(values[0][m], values[1][m], half)
        else:
            values[0][m], values[1][m] = _swap_halves(xp, values[0][m], values[1][m], half)
    for k in range(len(nets)):
        run(k, None)
    return [vals[net.tree.root] for net, vals in zip(nets, values)]


def _check_dense_budget(nets: Sequence[DilatedConvNet], T: int, what: str, max_bytes: float | None) -> None:
    net0 = nets[0]
    item = net0.dtype.itemsize
    n = net0.n_inputs
    check_budget(f"the {what} ({T}^{n} entries)", float(T) ** n * item * 3, max_bytes)
    for net in nets:
        for v in net.tree.internal_nodes:
            if v != net.tree.root:
                size = float(T) ** len(v) * net.width * item * 3
                check_budget(f"the intermediate table of node {format_node(v)} in the {what}", size, max_bytes)


# ---------------------------------------------------------------------------------------------- models
class DilatedConvNet(Persistable):
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
        _require_binary(self.tree, "DilatedConvNet")
        self.n_descriptors = check_positive_int(n_descriptors, "n_descriptors")
        self.width = check_positive_int(width, "width")
        self.n_outputs = check_positive_int(n_outputs, "n_outputs")
        self.g = pooling_operator(g)
        self.dtype = resolve_dtype(dtype)
        self.shared = check_bool(shared, "shared")
        init = check_init(init)
        if dilations is None:
            self.dilations = _infer_dilations(self.tree)
        else:
            if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
                raise TypeError(f"dilations must be a sequence of positive ints, got {dilations!r}")
            dil = tuple(check_positive_int(d, f"dilations[{k}]") for k, d in enumerate(dilations))
            n_layers = self.tree.height(self.tree.root)
            if len(dil) != n_layers:
                raise ValueError(f"dilations {list(dil)} has {len(dil)} entries; this tree has {n_layers} layers")
            if ModeTree.dilated(n_layers, dil) != self.tree:
                raise ValueError(f"dilations {list(dil)} do not produce this tree {self.tree!r}")
            self.dilations = dil
        self._plan: Any = None
        if weights is None:
            rng = make_rng(seed)
            check_budget(
                f"the weights of DilatedConvNet (n_inputs={self.n_inputs}, n_descriptors={self.n_descriptors}, "
                f"width={self.width}, n_outputs={self.n_outputs})",
                planned_weight_bytes(self.tree, self.n_descriptors, self.width, self.n_outputs, self.shared,
                                     self.dtype, init),
            )
            self._init_weights(rng, init)
        else:
            self.set_weights(weights)

    # ------------------------------------------------------------------ weights
    @property
    def n_inputs(self) -> int:
        return self.tree.n_inputs

    def weight_shapes(self, node: Iterable[int]) -> tuple[int, int] | tuple[tuple[int, int], ...]:
        """Shape of a leaf's matrix, or the tuple of per-child shapes of an internal node.

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

    def _random_matrix(self, rng: np.random.Generator, shape: tuple[int, int], init: str) -> np.ndarray:
        if init == "orthogonal":
            a = rng.standard_normal(shape if shape[0] >= shape[1] else shape[::-1])
            q, r = np.linalg.qr(a)
            q = q * np.sign(np.diag(r))
            w = q if shape[0] >= shape[1] else q.T
        else:
            w = rng.standard_normal(shape) / math.sqrt(shape[0])
        return np.ascontiguousarray(w, dtype=self.dtype)

    def _init_weights(self, rng: np.random.Generator, init: str) -> None:
        tree = self.tree
        weights: dict[frozenset, Any] = {}
        per_height: dict[int, tuple[np.ndarray, ...]] = {}
        for v in tree.nodes:
            shape = self.weight_shapes(v)
            if tree.is_leaf(v):
                if self.shared and 0 in per_height:
                    weights[v] = per_height[0][0]
                else:
                    weights[v] = self._random_matrix(rng, shape, init)  # type: ignore[arg-type]
                    per_height[0] = (weights[v],)
                continue
            h = tree.height(v)
            if self.shared:
                if h not in per_height:  # (earlier child, later child)
                    per_height[h] = tuple(self._random_matrix(rng, s, init) for s in shape)  # type: ignore[arg-type]
                early, late = per_height[h]
                weights[v] = (early, late) if _earlier_first(tree, v) else (late, early)
            else:
                weights[v] = tuple(self._random_matrix(rng, s, init) for s in shape)  # type: ignore[arg-type]
        self.weights = weights
        self._plan = None

    def set_weights(self, weights: Mapping[Any, Any]) -> None:
        """Replace the weights (every node required; shapes checked).

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
        if not isinstance(weights, Mapping):
            raise TypeError(
                f"weights must be a dict {{node: matrix or tuple of matrices}}, got {type(weights).__name__}"
            )
        given: dict[frozenset, Any] = {}
        for k, v in weights.items():
            if isinstance(k, (str, bytes, int, np.integer)) or not isinstance(k, Iterable):
                raise TypeError(f"weights: {k!r} is not a node; a node is a set of input positions, e.g. {{0, 1}}")
            given[frozenset(k)] = v
        extra = [k for k in given if k not in set(tree.nodes)]
        if extra:
            raise ValueError(f"weights given for nodes not in the tree: {[format_node(k) for k in extra[:5]]}")
        new: dict[frozenset, Any] = {}
        for v in tree.nodes:
            if v not in given:
                raise ValueError(f"weights missing for node {format_node(v)}")
            shape = self.weight_shapes(v)
            if tree.is_leaf(v):
                new[v] = self._check_matrix(given[v], shape, f"node {format_node(v)}")  # type: ignore[arg-type]
                continue
            mats = given[v]
            if isinstance(mats, np.ndarray) or not isinstance(mats, (tuple, list)) or len(mats) != len(shape):
                raise ValueError(
                    f"weights of internal node {format_node(v)} must be a tuple of {len(shape)} matrices "
                    f"(one per child, in tree.children order), got {type(mats).__name__}"
                )
            new[v] = tuple(
                self._check_matrix(m, s, f"node {format_node(v)} (child {k})")  # type: ignore[arg-type]
                for k, (m, s) in enumerate(zip(mats, shape))
            )
        if self.shared:
            self._check_shared(new)
        self.weights = new
        self._plan = None

    def _check_matrix(self, m: Any, shape: tuple[int, int], what: str) -> np.ndarray:
        try:
            w = np.asarray(m)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"weights of {what} are not a rectangular array: {exc}") from None
        if w.dtype.kind not in "fiu":
            raise TypeError(f"weights of {what} have dtype {w.dtype}; expected real numbers")
        if w.shape != shape:
            raise ValueError(f"weights of {what} have shape {w.shape}, expected {shape}")
        if not np.isfinite(w).all():
            raise ValueError(f"weights of {what} contain NaN or infinite values")
        return np.ascontiguousarray(w, dtype=self.dtype)

    def _layer_kernels(
        self, weights: Mapping[frozenset, Any]
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | str:
        """``(leaf kernel, [(earlier, later) per height])`` if weights are shared per layer, else the
        first node that breaks the sharing (as text)."""
        tree = self.tree
        leaf0 = weights[tree.leaves[0]]
        for leaf in tree.leaves[1:]:
            if not np.array_equal(weights[leaf], leaf0):
                return f"leaf {format_node(leaf)}"
        kernels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for v in tree.internal_nodes:
            a, b = weights[v]
            pair = (a, b) if _earlier_first(tree, v) else (b, a)
            h = tree.height(v)
            if h not in kernels:
                kernels[h] = pair
            elif not (np.array_equal(pair[0], kernels[h][0]) and np.array_equal(pair[1], kernels[h][1])):
                return f"node {format_node(v)}"
        return leaf0, [kernels[h] for h in sorted(kernels)]

    def _check_shared(self, weights: Mapping[frozenset, Any]) -> None:
        res = self._layer_kernels(weights)
        if isinstance(res, str):
            raise ValueError(f"shared=True but {res} has weights unlike the rest of its layer")

    def _node_mats(self, node: frozenset, output: int | None) -> tuple[np.ndarray, ...]:
        mats = self.weights[node]
        if output is not None and node == self.tree.root:
            return tuple(W[:, output : output + 1] for W in mats)
        return mats

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

    def _check_output(self, output: int) -> int:
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
            raise TypeError(f"output must be an int in 0..{self.n_outputs - 1}, got {output!r}")
        if not 0 <= output < self.n_outputs:
            raise ValueError(f"output {output!r} out of range for n_outputs={self.n_outputs}")
        return int(output)

    # ------------------------------------------------------------------ evaluation
    def _build_plan(self) -> tuple[np.ndarray, list[Any]]:
        # Level h holds the nodes of height h in tree order (leaves too), so in a complete tree the
        # first and second children of a level are the even and odd rows of the level below: strided
        # views, no copies. Each child slot gets its rows as a slice when they form a progression, as
        # an index array when they come from one level, or a list of (level, row) otherwise. Only the
        # structure is cached: weights are stacked at each call, so in-place edits are always seen.
        tree = self.tree
        levels = tree.levels()
        where = {v: (h, k) for h, level in enumerate(levels) for k, v in enumerate(level)}
        last_use = {h: h for h in range(len(levels))}
        plan: list[Any] = []
        for h, level in enumerate(levels[1:], start=1):
            slots: list[tuple[int | None, Any]] = []
            for s in range(2):
                src = [where[tree.children(v)[s]] for v in level]
                heights = {hs for hs, _ in src}
                for hs in heights:
                    last_use[hs] = max(last_use[hs], h)
                if len(heights) > 1:
                    slots.append((None, src))
                    continue
                hs = heights.pop()
                idx = np.array([i for _, i in src])
                step = idx[1] - idx[0] if len(idx) > 1 else 1
                rows: Any = idx
                if step > 0 and np.array_equal(idx, idx[0] + step * np.arange(len(idx))):
                    rows = slice(int(idx[0]), int(idx[-1]) + 1, int(step))
                slots.append((hs, rows))
            plan.append((h, level, slots))
        for k, (h, level, slots) in enumerate(plan):
            plan[k] = (h, level, slots, [hs for hs, last in last_use.items() if last == h and hs < h])
        return np.array([next(iter(leaf)) for leaf in levels[0]]), plan

    def forward(self, features: Any, backend: str | None = None, log: bool = False) -> Any:
        """Evaluate the tree decomposition on features ``f_d(x_i)``, one batched matmul per level.

        Parameters
        ----------
        features : array of shape (batch, n_inputs, M)
            NumPy or CuPy; the result stays on the same device.
        backend : {"numpy", "cupy"}, optional
            Defaults to the array module of ``features``.
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
        xp = self._backend(features, backend)
        feats = check_features(xp.asarray(features), self.n_inputs, self.n_descriptors, self.dtype)
        if self._plan is None:
            self._plan = self._build_plan()
        if log:
            return self._forward_log(feats, xp)
        leaf_order, plan = self._plan
        # (n_inputs, batch, width): one batched matmul for every leaf at once
        x = xp.moveaxis(feats, 1, 0)
        if not _is_identity(leaf_order):
            x = x[xp.asarray(leaf_order)]
        leaf_stack = np.stack([self.weights[frozenset({int(i)})] for i in leaf_order])
        acts: dict[int, Any] = {0: xp.matmul(x, xp.asarray(leaf_stack))}
        for h, level, slots, done in plan:
            parts = []
            for s, (hs, rows) in enumerate(slots):
                if hs is None:
                    x = xp.stack([acts[hc][i] for hc, i in rows])
                else:
                    x = acts[hs][rows if isinstance(rows, slice) else xp.asarray(rows)]
                mats = np.stack([self.weights[v][s] for v in level])
                parts.append(xp.matmul(x, xp.asarray(mats)))
            acts[h] = _pool_pair(self.g, xp, parts[0], parts[1])
            for hs in done:  # free the levels nobody reads any more
                del acts[hs]
        return acts[len(plan)][0]

    def _forward_log(self, feats: Any, xp: Any) -> tuple[Any, Any]:
        # forward(log=True): the level loop of forward with (mantissa, exponent) pairs.
        leaf_order, plan = self._plan
        feats, e0 = scale_features(feats, xp)
        leaf_stack = xp.asarray(np.stack([self.weights[frozenset({int(i)})] for i in leaf_order]))
        for _attempt in range(2):
            x = xp.moveaxis(feats, 1, 0)
            if not _is_identity(leaf_order):
                x = x[xp.asarray(leaf_order)]
            y = xp.matmul(x, leaf_stack)
            e = normalize_(y, xp)
            if e0 is not None or not leaf_too_small(e, y.dtype):
                break
            feats, e0 = scale_features(feats, xp, force=True)  # a tiny feature vector: rescale them all
        if e0 is not None:
            e += e0[:, xp.asarray(leaf_order)].T
        acts: dict[int, Any] = {0: y}
        exps: dict[int, Any] = {0: e}
        for h, level, slots, done in plan:
            parts, pexps = [], []
            for s, (hs, rows) in enumerate(slots):
                if hs is None:
                    x = xp.stack([acts[hc][i] for hc, i in rows])
                    ex = xp.stack([exps[hc][i] for hc, i in rows])
                else:
                    idx = rows if isinstance(rows, slice) else xp.asarray(rows)
                    x, ex = acts[hs][idx], exps[hs][idx]
                mats = np.stack([self.weights[v][s] for v in level])
                p = xp.matmul(x, xp.asarray(mats))
                parts.append(p)
                pexps.append(ex + normalize_(p, xp))
            pooled, e = pool_scales(xp.stack(parts, axis=1), xp.stack(pexps, axis=1), self.g, xp)
            e = e + normalize_(pooled, xp)
            acts[h], exps[h] = pooled, e
            for hs in done:
                del acts[hs], exps[hs]
        top = len(plan)
        return finish(acts[top][0], exps[top][0], xp)

    def _forward_reference(self, features: Any, log: bool = False) -> Any:
        """Node-by-node evaluation, the oracle for :meth:`forward` (``log=True``: ``(sign, log|h|)``)."""
        log = check_flag(log, "log")
        xp = _array_module(features)
        feats = check_features(features, self.n_inputs, self.n_descriptors, self.dtype)
        if log:
            check_log_operator(self.g)
            x, e = log_roots([self], [], feats, 0, xp)[0]
            return finish(x, e, xp)
        return _evaluate([self], [], _ForwardOps(self.g, feats, xp), 0, xp)[0]

    def _backend(self, features: Any, backend: str | None) -> Any:
        if backend is None:
            return _array_module(features)
        if backend == "numpy":
            return np
        if backend == "cupy":
            try:
                import cupy
            except ImportError as exc:  # pragma: no cover - depends on the machine
                raise ImportError("backend='cupy' needs CuPy: pip install 'tnconv[gpu]'") from exc
            return cupy
        raise ValueError(f"unknown backend {backend!r}; choose 'numpy' or 'cupy'")

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
        backend : {"numpy", "cupy"}, optional

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
        if padding not in ("valid", "causal"):
            raise ValueError(f"padding must be 'valid' or 'causal', got {padding!r}")
        if self.dilations is None:
            raise ValueError(
                "forward_sequence needs a dilated tree: this tree is not ModeTree.dilated(L, d) for any d"
            )
        kernels = self._layer_kernels(self.weights)
        if isinstance(kernels, str):
            raise ValueError(
                f"forward_sequence needs one kernel per layer (a convolution is time-invariant), but {kernels} "
                "has weights unlike the rest of its layer; build the net with shared=True"
            )
        leaf_w, pairs = kernels
        xp = self._backend(sequence, backend)
        seq = xp.asarray(sequence)
        if seq.ndim != 3 or seq.shape[2] != self.n_descriptors:
            raise ValueError(
                f"sequence has shape {tuple(seq.shape)}; expected (batch, T, n_descriptors={self.n_descriptors})"
            )
        T = seq.shape[1]
        if padding == "valid" and self.n_inputs > T:
            raise ValueError(f"sequence has {T} time steps, fewer than the receptive field {self.n_inputs}")
        seq = check_features(seq, T, self.n_descriptors, self.dtype)
        h = seq @ xp.asarray(leaf_w)
        for d, (A, B) in zip(self.dilations, pairs):
            if padding == "causal":
                h = xp.concatenate([xp.zeros((h.shape[0], d, h.shape[2]), dtype=h.dtype), h], axis=1)
            h = self.g.pair(h[:, :-d] @ xp.asarray(A), h[:, d:] @ xp.asarray(B))
        return h

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> np.ndarray:
        """The network's output on every combination of templates (any ``g``).

        Parameters
        ----------
        template_features : array of shape (T, M)
            Row ``j`` holds the features of template ``j``.
        output : int
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        numpy.ndarray of shape ``(T,) * n_inputs``

        Raises
        ------
        tnconv.TensorTooLargeError
            If the tensor or an intermediate table exceeds the budget.
        ValueError
            Templates of the wrong shape, an output out of range.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, g="relu_sum", seed=0)
        >>> G = net.grid_tensor(np.eye(2))
        >>> G.shape, bool(np.isclose(G[1, 0, 0, 1], net.forward(np.eye(2)[[[1, 0, 0, 1]]])[0, 0]))
        ((2, 2, 2, 2), True)
        """
        tf = check_templates(template_features, self.n_descriptors, self.dtype)
        return self._dense([self], [], tf, output, "grid tensor", max_bytes)

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None) -> np.ndarray:
        """The dense coefficient tensor ``A^y`` of shape ``(M,) * n_inputs`` (product ``g`` only).

        Raises
        ------
        ValueError
            For a non-product ``g`` (use :meth:`grid_tensor`), an output out of range.
        tnconv.TensorTooLargeError
            If the tensor would exceed the byte budget.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2, [2, 1]), 2, 2, seed=0)
        >>> A = net.coefficient_tensor()
        >>> F = np.random.default_rng(1).standard_normal((3, 4, 2))
        >>> direct = np.einsum("abcd,na,nb,nc,nd->n", A, F[:, 0], F[:, 1], F[:, 2], F[:, 3])
        >>> bool(np.allclose(net.forward(F)[:, 0], direct))
        True
        """
        if not self.g.is_product:
            raise ValueError(
                f"g={self.g.name!r} has no coefficient tensor (only product pooling does); use grid_tensor"
            )
        identity = np.eye(self.n_descriptors, dtype=self.dtype)
        return self._dense([self], [], identity, output, "coefficient tensor", max_bytes)

    def _dense(self, nets: Sequence[DilatedConvNet], mixture: Sequence[frozenset], table: np.ndarray,
               output: int, what: str, max_bytes: float | None) -> np.ndarray:
        output = self._check_output(output)
        _check_dense_budget(nets, table.shape[0], what, max_bytes)
        ops = _TableOps(self.g, table.astype(self.dtype, copy=False), output)
        roots = _evaluate(nets, mixture, ops, self.width // 2, np)
        out = roots[0]
        for r in roots[1:]:
            out = out + r
        return np.ascontiguousarray(out[..., 0])

    def to_tensor_network(self, output: int = 0) -> Any:
        """Compile into a :class:`~tnconv.network.TensorNetwork` (product ``g`` only).

        Tensors: ``W_leaf[d_i, c_leaf]`` per input (open leg ``d{i}``), and one matrix
        ``W_{v,u}[c_u, c_v]`` per child ``u`` of every internal node ``v``. The output legs ``c_v`` of
        the children's matrices meet at the copy tensor of ``v`` (a hyperedge also carrying the input leg
        of the parent's matrix). At the root the output column is fixed and the two root vectors share a
        bond ``y`` of dimension 1, so the network is a tree and its min cut sees the root's rank 1.

        Raises
        ------
        ValueError
            For a non-product ``g``, an output out of range.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 3, seed=0)
        >>> tn = net.to_tensor_network()
        >>> tn.n_tensors, len(tn.hyperedges)
        (10, 2)
        >>> bool(np.allclose(tn.contract(), net.coefficient_tensor()))
        True
        """
        from .protocol import compile_network

        if not self.g.is_product:
            raise ValueError(f"g={self.g.name!r} is not a product: only product pooling is a tensor network")
        return compile_network(self, self._check_output(output))
