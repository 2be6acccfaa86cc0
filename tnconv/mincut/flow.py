"""The cut problem of a tensor network, and its max-flow solvers (networkx, scipy).

:class:`CutProblem` holds everything about a network that does not depend on the partition: its
graph (tensors, open legs, copy tensors), the capacity of every bond, and the flow networks built
from it. Copy tensors (hyperedges) use the standard reduction: two auxiliary vertices
``e_in -> e_out`` with capacity ``log r``, infinite arcs from every member to ``e_in`` and from
``e_out`` to every member, so that separating the legs of a delta tensor costs ``r`` once.

Exactness
---------
A cut costs the *product* of its dimensions, and every solver minimizes a *sum* of integer
capacities (its logarithm), so the capacities are chosen to make the two orders agree exactly:

* When every dimension is a power of one integer ``b`` (:func:`common_base`), the capacity of a bond of
  dimension ``b**k`` is ``k``: sums of capacities are exactly the base-``b`` logarithms of products.
* Otherwise the capacity of an index of dimension ``d`` is ``q(d) = round(2**K * log2(d))`` (computed
  with :mod:`decimal` to within 0.51; a bond merging parallel indices gets the sum), with ``K`` chosen
  once per network so that rounding can never reorder two cuts: with ``m`` rounded logarithms (indices
  of dimension > 1) a cut's scaled sum is within ``m`` of ``2**K log2(product)``;
  the optimum ``P*`` is at most ``U = isqrt(prod of open dims) + 1`` (cut all open legs of the smaller
  side); a worse cut has product at least ``P* + 1``, so its ``log2`` exceeds ``log2 P*`` by at least
  ``1 / P* >= 1 / U``; and ``2**K > 2 m U`` makes that gap larger than the two rounding errors.

Every solver (tree DP, networkx, scipy) therefore returns an exact minimum, and the reported bound is
the exact integer product of the dimensions of the cut actually returned. scipy's Dinic runs on int32
capacities; a network whose exact capacities do not fit is solved with networkx (Python ints).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts bound the
   Schmidt rank of a ConvAC's coefficient tensor).
.. [2] E. L. Lawler, "Combinatorial Optimization: Networks and Matroids" (1976), the hypergraph cut
   reduction.
"""

from __future__ import annotations

import math
import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .flow_capacities import check_cut_dim, common_base, exponent, integer_root, scaled_log2

__all__ = ["CutProblem", "common_base", "integer_root", "prepare"]

_INT32_MAX = 2**31 - 1
# Integer sums are exact in float64 below 2**53; beyond that the tree DP works on Python ints.
_FLOAT64_EXACT = 2**53


class CutProblem:
    """A tensor network prepared for min-cut queries (everything that is partition-independent).

    Graph vertices: tensors ``0..T-1``, open legs ``T..T+P-1``, copy tensors ``T+P..T+P+H-1``.
    Indices of dimension 1 are dropped (cutting them is free).

    A problem may be queried from several threads at once: its lazily built solvers are created under
    a lock, and the networkx residual network (mutated by every query) is used under that lock.

    Parameters
    ----------
    tn : TensorNetwork

    Attributes
    ----------
    edges : list of tuple
        Ordinary bonds ``(u, v, indices)`` between two vertices (several shared indices merged).
    hyper : list of tuple
        Copy tensors ``(index, member vertices)``.
    edge_dims, hyper_dims : list of int
        Exact dimensions of the bonds (products, for merged parallel bonds) and copy tensors.
    base : int or None
        Common base of all dimensions (then capacities are exact integer exponents).
    scale_bits : int or None
        ``K`` when there is no common base: capacities are ``round(2**K log2(dim))`` (module docstring).
    edge_units, hyper_units : list of int
        The integer capacities of every solver (exponents of ``base``, or scaled log2).
    is_forest : bool
        Whether the graph (as :attr:`TensorNetwork.graph`) has no cycle: then the tree solver applies.

    Raises
    ------
    ValueError
        A dimension that is not a positive int (naming the index).

    Examples
    --------
    >>> import tnconv as tc
    >>> p = prepare(tc.deep(4, 2, 2, seed=0))
    >>> p.n_tensors, p.n_open, len(p.hyper), p.base, p.is_forest
    (7, 4, 3, 2, True)
    """

    def __init__(self, tn: Any):
        self.tn = tn
        sizes = {i: check_cut_dim(i, d) for i, d in tn.size_dict.items()}
        T, P = tn.n_tensors, len(tn.open_inds)
        self.n_tensors, self.n_open = T, P
        self.edges, hyper = tn.links()
        self.hyper = hyper
        self.n_vertices = T + P + len(hyper)
        self.edge_dims = [math.prod(sizes[i] for i in ix) for _, _, ix in self.edges]
        self.hyper_dims = [sizes[i] for i, _ in hyper]
        # The base and the capacities come from the individual index dimensions (a merged bond's
        # capacity is the sum over its indices), never from the possibly huge merged products.
        used = sorted({sizes[i] for _, _, ix in self.edges for i in ix} | set(self.hyper_dims))
        self.base = common_base(used)
        self.scale_bits: int | None = None
        if self.base is not None:
            unit = {d: exponent(d, self.base) for d in used}
        else:
            # 2**K > 2 m U with m the number of rounded logs and U >= every min cut (module docstring).
            U = math.isqrt(math.prod(sizes[i] for i in tn.open_inds)) + 1
            m = sum(len(ix) for _, _, ix in self.edges) + len(hyper)
            self.scale_bits = K = U.bit_length() + (2 * m).bit_length()
            unit = {d: scaled_log2(d, K) for d in used}
        ecap = [sum(unit[sizes[i]] for i in ix) for _, _, ix in self.edges]
        hcap = [unit[d] for d in self.hyper_dims]
        self.edge_units: list[int] = ecap
        self.hyper_units: list[int] = hcap
        self.total_units = sum(ecap) + sum(hcap)
        #: capacities as arrays (float64 when their sums are exact there, else Python ints)
        cap_dtype = np.float64 if self.total_units < _FLOAT64_EXACT else object
        self.edge_cap = np.array(ecap, dtype=cap_dtype)
        self.hyper_cap = np.array(hcap, dtype=cap_dtype)
        self.edge_u = np.array([e[0] for e in self.edges], dtype=np.int64)
        self.edge_v = np.array([e[1] for e in self.edges], dtype=np.int64)
        # Members of all copy tensors, concatenated (CSR-like), for vectorized side counts.
        self.hyper_members = np.concatenate([m for _, m in hyper]) if hyper else np.zeros(0, np.int64)
        self.hyper_sizes = np.array([len(m) for _, m in hyper], dtype=np.int64)
        self.hyper_starts = np.r_[0, np.cumsum(self.hyper_sizes)[:-1]].astype(np.int64) if hyper else self.hyper_sizes
        n_links = len(self.edges) + sum(len(m) for _, m in hyper)
        self.is_forest = n_links == self.n_vertices - self._n_components()
        self._lock = threading.RLock()
        self._tree: Any = None
        self._nx: Any = None
        self._scipy: dict[str, Any] = {}
        self._resolver: Any = None

    # ------------------------------------------------------------------ copies for workers
    def __getstate__(self) -> dict[str, Any]:
        # The lock cannot be pickled and the flow networks are rebuilt where needed; the tree solver
        # (the costly part) travels.
        state = self.__dict__.copy()
        state.update(_lock=None, _nx=None, _scipy={}, _resolver=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def structure_copy(self) -> CutProblem:
        """A copy over a shape-only network (no arrays: what a worker needs), sharing the built tree
        solver's arrays."""
        import copy

        from ..network import TensorNetwork

        tn = self.tn
        out = copy.copy(self)
        out.__setstate__(self.__getstate__())
        out.tn = TensorNetwork(None, tn.inds, size_dict=tn.size_dict, open_inds=tn.open_inds, names=tn.names,
                               index_info=tn.index_info)
        if self._tree is not None:
            solver = copy.copy(self._tree)
            solver.prob = out
            out._tree = solver
        return out

    # ------------------------------------------------------------------ structure
    def _n_components(self) -> int:
        """Connected components of the cut graph: label propagation with pointer jumping, in numpy
        (a few dozen passes over the links even for 10^5 vertices)."""
        T, P, H = self.n_tensors, self.n_open, len(self.hyper)
        hub = np.repeat(np.arange(T + P, T + P + H, dtype=np.int64), self.hyper_sizes)
        u = np.concatenate([self.edge_u, hub])
        v = np.concatenate([self.edge_v, self.hyper_members])
        label = np.arange(self.n_vertices, dtype=np.int64)
        while True:
            low = np.minimum(label[u], label[v])
            new = label.copy()
            np.minimum.at(new, label[u], low)  # merge the two roots' labels
            np.minimum.at(new, label[v], low)
            new = new[new]
            while True:  # pointer jumping to the roots
                nxt = new[new]
                if np.array_equal(nxt, new):
                    break
                new = nxt
            if np.array_equal(new, label):
                return int(np.count_nonzero(label == np.arange(self.n_vertices)))
            label = new

    @property
    def resolver(self) -> Any:
        """The :class:`~tnconv.partition_resolve.PartitionResolver` of this network's open legs (cached):
        its geometry (the image shape of a compiled 2D model), open-leg labels and tensor tags."""
        with self._lock:
            if self._resolver is None:
                from ..network_io import LegTags
                from ..partition_resolve import PartitionResolver

                tn = self.tn
                shape = tn.leg_shape or (getattr(tn.tree, "image_shape", None) if tn.tree is not None else None)
                if shape is not None and math.prod(shape) != self.n_open:
                    shape = None
                self._resolver = PartitionResolver(self.n_open, shape=shape, labels=tn.open_inds,
                                                   tags=LegTags(tn))
            return self._resolver

    def log2_unit(self) -> float:
        """log2 of one capacity unit (``log2(base)``, or ``2**-K``); approximate, for display only."""
        return math.log2(self.base) if self.base is not None else 2.0 ** -(self.scale_bits or 0)

    def tree_solver(self) -> Any:
        """The (cached) :class:`~tnconv.mincut.tree.TreeSolver` of this problem; built once, thread-safe.

        Raises
        ------
        ValueError
            If the graph has a cycle.
        """
        with self._lock:
            if self._tree is None:
                from .tree import TreeSolver

                self._tree = TreeSolver(self)
            return self._tree

    # ------------------------------------------------------------------ result from a labelling
    def cut_masks(self, sides: np.ndarray, on: np.ndarray, free: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Cut bonds and copy tensors of labellings ``sides`` ((T+P, B) bool, True = I side).

        A bond is cut when its two ends differ, a copy tensor when its members are on both sides.
        ``on`` ((P, B) bool) is the partitions' open-leg mask, checked against the labelling except
        where ``free`` ((P, B) bool, A|B queries) leaves a leg to either side.

        Raises
        ------
        RuntimeError
            If a labelling puts an open leg on the wrong side (a solver bug; never silently wrong).
        """
        T, P = self.n_tensors, self.n_open
        wrong = sides[T : T + P] != on
        if free is not None:
            wrong &= ~free
        bad = np.argwhere(wrong)
        if bad.size:
            raise RuntimeError(f"internal error: a cut puts open leg {int(bad[0, 0])} on the wrong side")
        B = sides.shape[1]
        cut_e = sides[self.edge_u] != sides[self.edge_v] if self.edges else np.zeros((0, B), bool)
        if self.hyper:
            # bool reductions: no int64 copy of the (members x partitions) array
            member_sides = sides[self.hyper_members]
            cut_h = np.logical_or.reduceat(member_sides, self.hyper_starts, axis=0)
            cut_h &= ~np.logical_and.reduceat(member_sides, self.hyper_starts, axis=0)
        else:
            cut_h = np.zeros((0, B), bool)
        return cut_e, cut_h

    def batch_units(self, cut_e: np.ndarray, cut_h: np.ndarray) -> list[int]:
        """The exact capacity (integer units) of each cut of a batch (``cut_masks`` output)."""
        B = cut_e.shape[1]
        if self.total_units < 2**53:
            # every partial sum is an integer below 2**53: exact in float64
            got = np.zeros(B)
            if cut_e.size:
                got += self.edge_cap.astype(np.float64) @ cut_e
            if cut_h.size:
                got += self.hyper_cap.astype(np.float64) @ cut_h
            return [int(x) for x in got]
        return [self.cut_units(np.flatnonzero(cut_e[:, b]).tolist(), np.flatnonzero(cut_h[:, b]).tolist())
                for b in range(B)]

    def cut_units(self, cut_e: Sequence[int], cut_h: Sequence[int]) -> int:
        """The exact capacity (integer units) of the cut made of bonds ``cut_e`` and copy tensors ``cut_h``."""
        return sum(self.edge_units[k] for k in cut_e) + sum(self.hyper_units[k] for k in cut_h)

    def bound_of(self, cut_e: Sequence[int], cut_h: Sequence[int]) -> int:
        """The exact product of the dimensions of a cut (bond and copy-tensor positions)."""
        if self.base is not None:
            return int(self.base) ** self.cut_units(cut_e, cut_h)
        return math.prod(self.edge_dims[k] for k in cut_e) * math.prod(self.hyper_dims[k] for k in cut_h)

    # ------------------------------------------------------------------ networkx
    def _nx_network(self) -> tuple[Any, int, int]:
        """One residual network for all queries; only the terminal arcs change between partitions.
        Call with ``self._lock`` held."""
        if self._nx is not None:
            return self._nx
        import networkx as nx
        from networkx.algorithms.flow import build_residual_network

        T, P, H = self.n_tensors, self.n_open, len(self.hyper)
        G = nx.DiGraph()
        G.add_nodes_from(range(T + P + 2 * H + 2))
        for (u, v, _), c in zip(self.edges, self.edge_units):
            if u == v:
                continue  # an index traced inside one tensor is never cut
            G.add_edge(u, v, capacity=c)
            G.add_edge(v, u, capacity=c)
        for j, ((_, ms), c) in enumerate(zip(self.hyper, self.hyper_units)):
            hin, hout = T + P + j, T + P + H + j
            G.add_edge(hin, hout, capacity=c)
            for m in ms:
                G.add_edge(int(m), hin)  # no capacity attribute: infinite
                G.add_edge(hout, int(m))
        R = build_residual_network(G, "capacity")
        s, t = T + P + 2 * H, T + P + 2 * H + 1
        for p in range(P):
            o = T + p
            R.add_edge(s, o, capacity=0)
            R.add_edge(o, s, capacity=0)
            R.add_edge(o, t, capacity=0)
            R.add_edge(t, o, capacity=0)
        self._nx = (R, s, t)
        return self._nx

    def solve_networkx(self, part: frozenset, flow_func: Callable | None = None,
                       other: frozenset | None = None) -> tuple[np.ndarray, int]:
        """Max flow with networkx on exact Python-int capacities; returns the side of every tensor/open
        vertex and the flow value (in capacity units). ``other`` (an A|B query) ties only those legs to
        the sink, leaving the rest free. Thread-safe: queries on one problem take turns on its cached
        residual network."""
        from networkx.algorithms.flow import boykov_kolmogorov

        func = boykov_kolmogorov if flow_func is None else flow_func
        T = self.n_tensors
        with self._lock:
            R, s, t = self._nx_network()
            inf = R.graph["inf"]
            for p in range(self.n_open):
                on = p in part
                sink = not on and (other is None or p in other)
                R[s][T + p]["capacity"] = inf if on else 0
                R[T + p][t]["capacity"] = inf if sink else 0
            R2 = func(R, s, t, capacity="capacity", residual=R)
            if R2 is not R:  # pragma: no cover - a flow_func that ignores residual=
                R = R2
            # The source side: reachable from s through arcs with residual capacity (integers: exact).
            seen = {s}
            stack = [s]
            succ = R.succ
            while stack:
                u = stack.pop()
                for v, e in succ[u].items():
                    if v not in seen and e["flow"] < e["capacity"]:
                        seen.add(v)
                        stack.append(v)
            value = int(R.graph["flow_value"])
        side = np.zeros(T + self.n_open, dtype=bool)
        idx = [v for v in seen if v < T + self.n_open]
        side[idx] = True
        return side, value

    # ------------------------------------------------------------------ scipy
    def scipy_fits(self) -> bool:
        """Whether the exact integer capacities fit scipy's int32 max-flow (infinity included)."""
        return 2 * (self.total_units + 1) <= _INT32_MAX

    def _scipy_network(self) -> dict[str, Any]:
        with self._lock:
            if not self._scipy:
                from .flow_scipy import build_scipy_network

                self._scipy = build_scipy_network(self)
            return self._scipy

    def solve_scipy(self, part: frozenset, other: frozenset | None = None) -> tuple[np.ndarray, int]:
        """Max flow with ``scipy.sparse.csgraph.maximum_flow`` (Dinic) on the cached CSR network; a query
        only rewrites the capacities of the terminal arcs, in its own copy (thread-safe). ``other`` (an
        A|B query) ties only those legs to the sink, leaving the rest free.

        Raises
        ------
        OverflowError
            If the exact capacities do not fit int32 (see :meth:`scipy_fits`).
        """
        from .flow_scipy import solve_scipy

        return solve_scipy(self, self._scipy_network(), part, other)


# Per-network caches: compiled networks by model (per output) and prepared problems by network.
_MODEL_CACHE: weakref.WeakKeyDictionary[Any, dict[int, CutProblem]] = weakref.WeakKeyDictionary()
_TN_CACHE: weakref.WeakKeyDictionary[Any, CutProblem] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def prepare(obj: Any, output: int = 0) -> CutProblem:
    """The :class:`CutProblem` of a model or a :class:`~tnconv.network.TensorNetwork` (cached).

    Parameters
    ----------
    obj : TreeModel, TensorNetwork, quimb TensorNetwork or CutProblem
        A model is compiled with ``TensorNetwork.from_model(obj, output)``; a quimb network is imported
        with ``TensorNetwork.from_quimb(obj)`` (its outer indices open) on every call.
    output : int
        The output channel of a model (must be 0 for a network or a problem).

    Returns
    -------
    CutProblem

    Raises
    ------
    TypeError
        ``obj`` is neither a network nor a model that compiles to one; ``output`` is not an int.
    ValueError
        A dimension that is not a positive int; ``output`` out of range or nonzero for a network.

    Notes
    -----
    The cache holds weak references to the model or network and is safe under concurrent calls (one
    problem per network wins). Only the structure (indices and dimensions) is cached, which is fixed
    once a model is built; a :class:`TensorNetwork` is treated as immutable, so build a new one rather
    than editing ``inds`` in place.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(8, 2, 2, seed=0)
    >>> prepare(net) is prepare(net)
    True
    """
    from ..network import TensorNetwork
    from ..network_io import is_quimb_network

    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int (an output channel), got {output!r}")
    output = int(output)
    if isinstance(obj, (CutProblem, TensorNetwork)) and output != 0:
        raise ValueError(f"output={output} applies to models; a {type(obj).__name__} has a single output")
    if isinstance(obj, CutProblem):
        return obj
    if is_quimb_network(obj):
        # converted on every call: a quimb network is mutable, so it is never cached by identity
        obj = TensorNetwork.from_quimb(obj)
    if isinstance(obj, TensorNetwork):
        with _CACHE_LOCK:
            prob = _TN_CACHE.get(obj)
        if prob is None:
            built = CutProblem(obj)
            with _CACHE_LOCK:
                prob = _TN_CACHE.setdefault(obj, built)
        return prob
    if not (hasattr(obj, "n_inputs") and hasattr(obj, "g")):
        raise TypeError(
            f"min cuts need a TensorNetwork, a CutProblem or a tree model (tnconv.models.protocol.TreeModel); "
            f"got {type(obj).__name__}"
        )
    with _CACHE_LOCK:
        try:
            per_model = _MODEL_CACHE.setdefault(obj, {})
        except TypeError:  # pragma: no cover - not weak-referenceable
            per_model = {}
        prob = per_model.get(output)
    if prob is None:
        # The one compiler; its errors name what the model lacks (non-product pooling; a MixedConvNet,
        # whose network is not a tree, and the bounds that apply to it).
        built = CutProblem(TensorNetwork.from_model(obj, output))
        with _CACHE_LOCK:
            prob = per_model.setdefault(output, built)
    return prob


def fallback_warning(reason: str) -> None:
    """Warn that an explicitly requested scipy solve runs on networkx instead (``reason`` says why)."""
    warnings.warn(f"scipy max-flow unavailable ({reason}); falling back to networkx", RuntimeWarning, stacklevel=4)
