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

from .trees import ModeTree, format_node

__all__ = ["MAX_DIMENSION", "TensorNetwork", "check_dimension"]

#: The largest index dimension accepted: the largest axis length of a numpy array.
MAX_DIMENSION = 2**63 - 1


def check_dimension(d: Any, what: str) -> int:
    """Return ``d`` as an int if it is a valid index dimension, else raise naming ``what`` and ``d``.

    A dimension is an int (numpy integers too; bools and floats are refused) in ``1..2**63 - 1``. A
    dimension of 0 is refused: it makes every tensor carrying the index empty, and every min cut through
    it meaningless.

    Raises
    ------
    TypeError
        Not an int.
    ValueError
        Below 1 or above ``MAX_DIMENSION``.

    Examples
    --------
    >>> check_dimension(3, "index 'a'")
    3
    >>> check_dimension(3.5, "index 'a'")
    Traceback (most recent call last):
    ...
    TypeError: index 'a' must be a positive int, got 3.5 (float)
    """
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{what} must be a positive int, got {d!r} ({type(d).__name__})")
    d = int(d)
    if d < 1:
        empty = " (a dimension of 0 makes the tensor empty)" if d == 0 else ""
        raise ValueError(f"{what} must be a positive int, got {d}{empty}")
    if d > MAX_DIMENSION:
        raise ValueError(f"{what} is {d}, above 2**63 - 1, the largest axis an array can have")
    return d


def _check_labels(labels: Any, what: str) -> tuple[Hashable, ...]:
    if isinstance(labels, (str, bytes)):
        raise TypeError(
            f"{what} must be a sequence of index labels, got the string {labels!r}; pass tuple({labels!r}) to "
            "use its characters as labels"
        )
    if not isinstance(labels, Iterable):
        raise TypeError(f"{what} must be a sequence of index labels, got {labels!r}")
    out = tuple(labels)
    for i in out:
        if not isinstance(i, Hashable):
            raise TypeError(f"{what}: index label {i!r} is not hashable (use str or int labels)")
    return out


def _check_inds(inds: Any) -> list[tuple[Hashable, ...]]:
    if isinstance(inds, (str, bytes)) or not isinstance(inds, Iterable):
        raise TypeError(f"inds must be a sequence of index tuples (one per tensor), got {inds!r}")
    out = [_check_labels(ix, f"indices of tensor {k}") for k, ix in enumerate(inds)]
    for k, ix in enumerate(out):
        dup = [i for i, c in Counter(ix).items() if c > 1]
        if dup:
            raise ValueError(f"tensor {k} repeats index {dup[0]!r}; traces inside one tensor are not supported")
    return out


def _check_arrays(arrays: Any, n: int, what: str = "") -> list[Any]:
    """The arrays as a list; entries without ``shape`` (lists) become numpy arrays, ``None`` stays."""
    if arrays is None:
        return [None] * n
    if isinstance(arrays, (str, bytes, Mapping)) or not isinstance(arrays, Iterable):
        raise TypeError(f"arrays must be a sequence of arrays (one per tensor), got {type(arrays).__name__}")
    out = list(arrays)
    if len(out) != n:
        prefix = what or f"{n} index tuples but"
        raise ValueError(f"{prefix} {len(out)} arrays were given")
    for k, a in enumerate(out):
        if a is None:
            continue
        if not (hasattr(a, "shape") and hasattr(a, "dtype")):
            try:
                a = np.asarray(a)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"array {k} is not a rectangular array of numbers: {exc}") from None
            out[k] = a
        try:
            kind = np.dtype(a.dtype).kind
        except TypeError:
            continue  # a foreign array type (e.g. torch): its backend checks it
        if kind not in "biufc":
            raise TypeError(f"array {k} has dtype {a.dtype}; expected numbers")
    return out


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
        self.inds = _check_inds(inds)
        n = len(self.inds)
        self.arrays = _check_arrays(arrays, n)
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
        self.open_inds = _check_labels(open_inds, "open_inds")
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
    def from_convac(cls, model: Any, output: int = 0) -> TensorNetwork:
        """Compile a ConvAC: one weight tensor per tree node, a copy tensor (hyperedge) per window.

        Leaf ``i`` holds ``W_i[d_i, c]`` (open leg ``d{i}``); internal node ``v`` holds
        ``W_v[c_v, c_parent]``; the root holds the output column ``W_root[c_root, output]``. The channel
        index ``c_v`` of window ``v`` is shared by its children and ``W_v``: the copy tensor.
        """
        from .models.io import node_key

        tree = getattr(model, "tree", None)
        if not isinstance(tree, ModeTree) or not isinstance(getattr(model, "weights", None), Mapping):
            raise TypeError(f"from_convac needs a ConvAC (a model over a ModeTree), got {type(model).__name__}")
        if not getattr(getattr(model, "g", None), "is_product", False):
            raise ValueError("from_convac needs product pooling (a ConvAC); this model has no tensor network")
        n_outputs = int(getattr(model, "n_outputs", 1))
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
            raise TypeError(f"output must be an int in 0..{n_outputs - 1}, got {output!r}")
        if not 0 <= output < n_outputs:
            raise ValueError(f"output {output} out of range for n_outputs={n_outputs}")
        arrays: list[Any] = []
        inds: list[tuple[str, ...]] = []
        names: list[str] = []
        nodes: list[frozenset] = []
        info: dict[Hashable, str] = {}

        def chan(v: frozenset) -> str:
            return "c" + node_key(v)

        for v in tree.nodes:
            W = model.weights[v]
            parent = tree.parent(v)
            if tree.is_leaf(v):
                i = next(iter(v))
                info[f"d{i}"] = f"open leg of input {i} (dim {W.shape[0]})"
                ix_in = f"d{i}"
            else:
                ix_in = chan(v)
                info[ix_in] = f"copy tensor of window {format_node(v)} (dim {W.shape[0]})"
            if parent is None:
                arrays.append(W[:, output])
                inds.append((ix_in,))
            else:
                arrays.append(W)
                inds.append((ix_in, chan(parent)))
            names.append(f"W{format_node(v)}")
            nodes.append(v)
        open_inds = [f"d{i}" for i in range(tree.n_inputs)]
        return cls(arrays, inds, open_inds=open_inds, names=names, index_info=info, tree=tree, tensor_nodes=nodes)

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
        if not isinstance(equation, str):
            raise TypeError(f"equation must be an einsum string such as 'ab,bc->ac', got {equation!r}")
        eq = equation.replace(" ", "")
        if eq.count("->") != 1:
            raise ValueError(
                f"equation {equation!r} needs exactly one explicit output ('->'); open legs are never inferred"
            )
        if "." in eq:
            raise ValueError(f"equation {equation!r}: ellipses are not supported")
        lhs, out = eq.split("->")
        for part, what in ((lhs, "inputs"), (out, "output")):
            bad = sorted({c for c in part if c in "-><" or (c == "," and what == "output")})
            if bad:
                raise ValueError(f"equation {equation!r}: stray {bad[0]!r} in the {what}")
        terms = lhs.split(",")
        if arrays is not None:
            arrays = _check_arrays(arrays, len(terms), what=f"equation {equation!r} has {len(terms)} operands but")
        if shapes is None:
            if arrays is None:
                raise TypeError("from_einsum needs shapes (one tuple of ints per operand) or arrays")
            shapes = [tuple(a.shape) for a in arrays]
        if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Iterable):
            raise TypeError(f"shapes must be a sequence of shapes (one tuple of ints per operand), got {shapes!r}")
        shapes = list(shapes)
        if len(terms) != len(shapes):
            hint = ""
            if len(terms) == 1 and shapes and all(isinstance(d, (int, np.integer)) for d in shapes):
                hint = f"; for one operand pass [{tuple(shapes)}]"
            raise ValueError(
                f"equation {equation!r} has {len(terms)} operands but {len(shapes)} shapes were given{hint}"
            )
        sizes: dict[str, int] = {}
        for k, (term, shape) in enumerate(zip(terms, shapes)):
            if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
                raise TypeError(f"shape of operand {k} ({term!r}) must be a tuple of ints, got {shape!r}")
            shape = tuple(shape)
            if len(term) != len(shape):
                raise ValueError(f"operand {k} ({term!r}) has {len(term)} indices but shape {shape}")
            dims = tuple(
                check_dimension(d, f"dimension {a} of operand {k} ({term!r}, index {c!r})")
                for a, (c, d) in enumerate(zip(term, shape))
            )
            if arrays is not None and arrays[k] is not None and tuple(arrays[k].shape) != dims:
                raise ValueError(
                    f"operand {k} ({term!r}) has shape {dims} but its array has shape {tuple(arrays[k].shape)}"
                )
            for c, d in zip(term, dims):
                if sizes.setdefault(c, d) != d:
                    raise ValueError(f"index {c!r} has dimension {sizes[c]} on one operand but {d} on operand {k}")
        return cls(arrays, [tuple(t) for t in terms], size_dict=sizes, open_inds=tuple(out))

    @classmethod
    def from_quimb(cls, tn: Any, open_inds: Sequence[Hashable]) -> TensorNetwork:
        """Import a ``quimb.tensor.TensorNetwork``; ``open_inds`` lists the open legs in order.

        Open legs are taken from ``open_inds`` only, never inferred by counting (quimb #203).

        Raises
        ------
        TypeError
            ``tn`` is not a quimb tensor network (anything without ``.tensors`` of quimb tensors).
        ValueError
            As the constructor: open indices on no tensor, inconsistent dimensions.
        """
        tensors_attr = getattr(tn, "tensors", None)
        if tensors_attr is None or isinstance(tn, (list, tuple)):
            raise TypeError(
                f"from_quimb needs a quimb.tensor.TensorNetwork, got {type(tn).__name__}; for plain arrays use "
                "TensorNetwork.from_einsum or TensorNetwork(arrays, inds, open_inds=...)"
            )
        tensors = list(tensors_attr)
        names = []
        for k, t in enumerate(tensors):
            if not all(hasattr(t, a) for a in ("data", "inds", "tags")):
                raise TypeError(f"tensor {k} of the quimb network is a {type(t).__name__}, not a quimb Tensor")
            tags = sorted(map(str, t.tags))
            names.append(",".join(tags) if tags else f"T{k}")
        arrays = [np.asarray(t.data) if type(t.data).__module__.split(".")[0] == "numpy" else t.data for t in tensors]
        return cls(arrays, [tuple(t.inds) for t in tensors], open_inds=_check_labels(open_inds, "open_inds"),
                   names=names)

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
        labels = list(dict.fromkeys([*(i for ix in self.inds for i in ix), *self.open_inds]))
        taken = {i for i in labels if isinstance(i, str)}
        out: dict[Hashable, str] = {}
        for i in labels:
            if isinstance(i, str):
                out[i] = i
                continue
            name = str(i)
            if name in taken:
                name = f"{i!r}:{type(i).__name__}"
                k = 1
                while name in taken:
                    name = f"{i!r}:{type(i).__name__}~{k}"
                    k += 1
            taken.add(name)
            out[i] = name
        return out

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
        """
        try:
            import quimb.tensor as qtn
        except ImportError as exc:
            raise ImportError("to_quimb needs quimb: pip install 'tnconv[quimb]'") from exc
        self._require_arrays("to_quimb")
        lab = self.string_labels()
        return qtn.TensorNetwork(
            [
                qtn.Tensor(a, inds=tuple(lab[i] for i in ix), tags={name})
                for a, ix, name in zip(self.arrays, self.inds, self.names)
            ]
        )

    # ------------------------------------------------------------------ structure
    @property
    def open_legs(self) -> tuple[Hashable, ...]:
        """The open indices, one per input position, in order (the same tuple as ``open_inds``)."""
        return self.open_inds

    @property
    def n_tensors(self) -> int:
        return len(self.inds)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(self.size_dict[i] for i in ix) for ix in self.inds]

    def index_members(self) -> dict[Hashable, list[int]]:
        """``{index: [tensor positions carrying it]}``."""
        members: dict[Hashable, list[int]] = defaultdict(list)
        for k, ix in enumerate(self.inds):
            for i in ix:
                members[i].append(k)
        return dict(members)

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
        """A map from index labels to single einsum symbols (``opt_einsum.get_symbol``)."""
        from opt_einsum import get_symbol

        order: dict[Hashable, str] = {}
        for ix in self.inds:
            for i in ix:
                if i not in order:
                    order[i] = get_symbol(len(order))
        return order

    def equation(self, features: bool = False) -> str:
        """The einsum equation; with ``features=True`` one ``(batch, M)`` operand per open leg is
        appended and the output is the batch index alone (the network's forward pass)."""
        sym = self.symbols()
        terms = ["".join(sym[i] for i in ix) for ix in self.inds]
        if not features:
            return ",".join(terms) + "->" + "".join(sym[i] for i in self.open_inds)
        from opt_einsum import get_symbol

        b = get_symbol(len(sym))
        terms += [b + sym[i] for i in self.open_inds]
        return ",".join(terms) + "->" + b

    def operands(self, features: Any = None) -> list[Any]:
        """The arrays in equation order; with ``features`` of shape ``(batch, n_open, M)`` the feature
        slices are appended."""
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

        Raises
        ------
        TypeError
            Features that are not an array.
        ValueError
            Naming the shape, or the open leg whose dimension differs.
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
        from .contract.generic import contract_network

        return contract_network(self, features=features, optimize=optimize, backend=backend, executor=executor,
                                memory_limit=memory_limit, max_bytes=max_bytes)

    def _require_arrays(self, what: str) -> None:
        if any(a is None for a in self.arrays):
            raise ValueError(f"{what} needs arrays, but this network is shape-only (built without arrays)")

    def __repr__(self) -> str:
        return (
            f"TensorNetwork(n_tensors={self.n_tensors}, open_legs={len(self.open_inds)}, "
            f"hyperedges={len(self.hyperedges)}, indices={len(self.size_dict)})"
        )
