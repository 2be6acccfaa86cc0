"""The cut problem of a tensor network, and its max-flow solvers (networkx, scipy).

:class:`CutProblem` holds everything about a network that does not depend on the partition: its
graph (tensors, open legs, copy tensors), the capacity of every bond, and the flow networks built
from it. Copy tensors (hyperedges) use the standard reduction: two auxiliary vertices
``e_in -> e_out`` with capacity ``log r``, infinite arcs from every member to ``e_in`` and from
``e_out`` to every member, so that separating the legs of a delta tensor costs ``r`` once.

Capacities are integers whenever possible. When every dimension is a power of one integer ``b`` the
capacity of a bond of dimension ``b**k`` is ``k`` (exact). Otherwise ``log2(dim)`` is scaled and
rounded to an integer (``2**40`` for networkx, which has unbounded ints; the largest scale that fits
``int32`` for scipy), and the reported bound is always the exact integer product of the dimensions of
the cut actually returned, which is re-verified to separate ``I`` from ``I^c``.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts bound the
   Schmidt rank of a ConvAC's coefficient tensor).
.. [2] E. L. Lawler, "Combinatorial Optimization: Networks and Matroids" (1976), the hypergraph cut
   reduction.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["CutProblem", "common_base", "prepare"]

# Fixed-point scale of log2 capacities when the dimensions share no base (networkx: exact big ints).
_NX_SCALE = 2**40
_INT32_MAX = 2**31 - 1


def _min_root(d: int) -> int:
    """The smallest ``r`` with ``r**k == d`` for some ``k >= 1``."""
    best = d
    for k in range(2, d.bit_length() + 1):
        r = round(d ** (1.0 / k))
        for c in (r - 1, r, r + 1):
            if c >= 2 and c**k == d:
                best = min(best, c)
    return best


def common_base(dims: Sequence[int]) -> int | None:
    """The integer ``b`` of which every dimension (> 1) is a power, or ``None``.

    Two integers are powers of a common base exactly when their smallest perfect-power roots agree.

    Examples
    --------
    >>> common_base([4, 8, 2, 1]), common_base([9, 3]), common_base([2, 3])
    (2, 3, None)
    """
    roots = {_min_root(int(d)) for d in dims if int(d) > 1}
    if not roots:
        return 2
    return roots.pop() if len(roots) == 1 else None


def _exponent(d: int, b: int) -> int:
    k = 0
    while d > 1:
        d //= b
        k += 1
    return k


class CutProblem:
    """A tensor network prepared for min-cut queries (everything that is partition-independent).

    Graph vertices: tensors ``0..T-1``, open legs ``T..T+P-1``, copy tensors ``T+P..T+P+H-1``.
    Indices of dimension 1 are dropped (cutting them is free).

    Parameters
    ----------
    tn : TensorNetwork

    Attributes
    ----------
    edges : list of tuple
        Ordinary bonds ``(u, v, indices)`` between two vertices (several shared indices merged).
    hyper : list of tuple
        Copy tensors ``(index, member vertices)``.
    base : int or None
        Common base of all dimensions (then capacities are exact integer exponents).
    is_forest : bool
        Whether the graph (as :attr:`TensorNetwork.graph`) has no cycle: then the tree solver applies.

    Examples
    --------
    >>> import tnconv as tc
    >>> p = prepare(tc.deep(4, 2, 2, seed=0))
    >>> p.n_tensors, p.n_open, len(p.hyper), p.base, p.is_forest
    (7, 4, 3, 2, True)
    """

    def __init__(self, tn: Any):
        self.tn = tn
        T, P = tn.n_tensors, len(tn.open_inds)
        self.n_tensors, self.n_open = T, P
        opens = {i: T + p for p, i in enumerate(tn.open_inds)}
        members = tn.index_members()
        pair_inds: dict[tuple[int, int], list[Hashable]] = defaultdict(list)
        hyper: list[tuple[Hashable, np.ndarray]] = []
        for i, ms in members.items():
            if tn.size_dict[i] == 1:
                continue
            ends = list(ms) + ([opens[i]] if i in opens else [])
            if len(ends) == 2:
                u, v = sorted(ends)
                pair_inds[(u, v)].append(i)
            elif len(ends) >= 3:
                hyper.append((i, np.array(ends, dtype=np.int64)))
        self.edges = [(u, v, tuple(ix)) for (u, v), ix in pair_inds.items()]
        self.hyper = hyper
        self.n_vertices = T + P + len(hyper)
        self.edge_dims = [math.prod(tn.size_dict[i] for i in ix) for _, _, ix in self.edges]
        self.hyper_dims = [int(tn.size_dict[i]) for i, _ in hyper]
        self.base = common_base(self.edge_dims + self.hyper_dims)
        if self.base is not None:
            ecap = [_exponent(d, self.base) for d in self.edge_dims]
            hcap = [_exponent(d, self.base) for d in self.hyper_dims]
        else:
            ecap = [math.log2(d) for d in self.edge_dims]
            hcap = [math.log2(d) for d in self.hyper_dims]
        #: capacities used by the tree solver: exact exponents (as floats, exact below 2**53) or log2
        self.edge_cap = np.array(ecap, dtype=np.float64)
        self.hyper_cap = np.array(hcap, dtype=np.float64)
        self.edge_u = np.array([e[0] for e in self.edges], dtype=np.int64)
        self.edge_v = np.array([e[1] for e in self.edges], dtype=np.int64)
        # Members of all copy tensors, concatenated (CSR-like), for vectorized side counts.
        self.hyper_members = np.concatenate([m for _, m in hyper]) if hyper else np.zeros(0, np.int64)
        self.hyper_sizes = np.array([len(m) for _, m in hyper], dtype=np.int64)
        self.hyper_starts = np.r_[0, np.cumsum(self.hyper_sizes)[:-1]].astype(np.int64) if hyper else self.hyper_sizes
        n_links = len(self.edges) + sum(len(m) for _, m in hyper)
        self.is_forest = n_links == self.n_vertices - self._n_components()
        self._tree: Any = None
        self._nx: Any = None
        self._scipy: dict[str, Any] = {}

    # ------------------------------------------------------------------ structure
    def _n_components(self) -> int:
        parent = list(range(self.n_vertices))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        comps = self.n_vertices
        links = [(u, v) for u, v, _ in self.edges]
        links += [(self.n_tensors + self.n_open + j, int(m)) for j, (_, ms) in enumerate(self.hyper) for m in ms]
        for u, v in links:
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[ru] = rv
                comps -= 1
        return comps

    def log2_unit(self) -> float:
        """log2 of one capacity unit (``log2(base)``, or 1 for log2 capacities)."""
        return math.log2(self.base) if self.base is not None else 1.0

    def int_capacities(self, scale: int | None) -> tuple[list[int], list[int]]:
        """Integer capacities: exponents when a common base exists, else ``round(log2(dim) * scale)``."""
        if self.base is not None:
            return [int(c) for c in self.edge_cap], [int(c) for c in self.hyper_cap]
        assert scale is not None
        return ([max(1, round(c * scale)) for c in self.edge_cap],
                [max(1, round(c * scale)) for c in self.hyper_cap])

    # ------------------------------------------------------------------ result from a labelling
    def cut_masks(self, sides: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cut bonds and copy tensors of labellings ``sides`` ((T+P, B) bool, True = I side).

        A bond is cut when its two ends differ, a copy tensor when its members are on both sides.
        ``on`` ((P, B) bool) is the partitions' open-leg mask, checked against the labelling.

        Raises
        ------
        RuntimeError
            If a labelling puts an open leg on the wrong side (a solver bug; never silently wrong).
        """
        T, P = self.n_tensors, self.n_open
        bad = np.argwhere(sides[T : T + P] != on)
        if bad.size:
            raise RuntimeError(f"internal error: a cut puts open leg {int(bad[0, 0])} on the wrong side")
        B = sides.shape[1]
        cut_e = sides[self.edge_u] != sides[self.edge_v] if self.edges else np.zeros((0, B), bool)
        if self.hyper:
            count = np.add.reduceat(sides[self.hyper_members].astype(np.int64), self.hyper_starts, axis=0)
            cut_h = (count > 0) & (count < self.hyper_sizes[:, None])
        else:
            cut_h = np.zeros((0, B), bool)
        return cut_e, cut_h

    def cut_log(self, cut_e: np.ndarray, cut_h: np.ndarray) -> float:
        return float(self.edge_cap[cut_e].sum() + self.hyper_cap[cut_h].sum())

    def bound_of(self, cut_e: np.ndarray, cut_h: np.ndarray) -> int:
        """The exact product of the dimensions of a cut."""
        if self.base is not None:
            return int(self.base) ** int(round(self.cut_log(cut_e, cut_h)))
        return math.prod(self.edge_dims[k] for k in cut_e) * math.prod(self.hyper_dims[k] for k in cut_h)

    # ------------------------------------------------------------------ networkx
    def _nx_network(self) -> tuple[Any, int, int, list[int]]:
        """One residual network for all queries; only the terminal arcs change between partitions."""
        if self._nx is not None:
            return self._nx
        import networkx as nx
        from networkx.algorithms.flow import build_residual_network

        T, P, H = self.n_tensors, self.n_open, len(self.hyper)
        ecap, hcap = self.int_capacities(_NX_SCALE)
        G = nx.DiGraph()
        G.add_nodes_from(range(T + P + 2 * H + 2))
        for (u, v, _), c in zip(self.edges, ecap):
            G.add_edge(u, v, capacity=c)
            G.add_edge(v, u, capacity=c)
        for j, ((_, ms), c) in enumerate(zip(self.hyper, hcap)):
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
        self._nx = (R, s, t, (ecap, hcap))
        return self._nx

    def solve_networkx(self, part: frozenset, flow_func: Callable | None = None) -> tuple[np.ndarray, int]:
        """Max flow with networkx; returns the side of every tensor/open vertex and the flow value."""
        from networkx.algorithms.flow import boykov_kolmogorov

        R, s, t, _ = self._nx_network()
        inf = R.graph["inf"]
        T = self.n_tensors
        for p in range(self.n_open):
            on = p in part
            R[s][T + p]["capacity"] = inf if on else 0
            R[T + p][t]["capacity"] = 0 if on else inf
        func = boykov_kolmogorov if flow_func is None else flow_func
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
        side = np.zeros(T + self.n_open, dtype=bool)
        idx = [v for v in seen if v < T + self.n_open]
        side[idx] = True
        return side, int(R.graph["flow_value"])

    # ------------------------------------------------------------------ scipy
    def _scipy_network(self) -> dict[str, Any]:
        if self._scipy:
            return self._scipy
        T, P, H = self.n_tensors, self.n_open, len(self.hyper)
        if self.base is not None:
            ecap, hcap = self.int_capacities(None)
            total = sum(ecap) + sum(hcap)
        else:
            total_log = float(self.edge_cap.sum() + self.hyper_cap.sum())
            # Leave room for "infinity" = total + 1 and one unit of rounding per arc.
            scale = int((_INT32_MAX // 4) / max(total_log + len(self.edges) + H, 1.0))
            if scale < 2**10:
                raise OverflowError(
                    f"log capacities of this network do not fit int32 with useful precision (scale {scale}); "
                    "use method='networkx'"
                )
            ecap, hcap = self.int_capacities(scale)
            total = sum(ecap) + sum(hcap)
        inf = total + 1
        if inf * 2 > _INT32_MAX:
            raise OverflowError(
                f"total capacity {total} overflows scipy's int32 flow; use method='networkx'"
            )
        rows, cols, data = [], [], []
        for (u, v, _), c in zip(self.edges, ecap):
            rows += [u, v]
            cols += [v, u]
            data += [c, c]
        for j, ((_, ms), c) in enumerate(zip(self.hyper, hcap)):
            hin, hout = T + P + j, T + P + H + j
            rows.append(hin)
            cols.append(hout)
            data.append(c)
            m = ms.tolist()
            rows += m + [hout] * len(m)
            cols += [hin] * len(m) + m
            data += [inf] * (2 * len(m))
        import scipy.sparse as sp

        n, s, t = T + P + 2 * H + 2, T + P + 2 * H, T + P + 2 * H + 1
        # Both terminal arcs of every open leg are stored (explicit zeros allowed): a query only
        # rewrites their capacities in a copy of ``data``.
        opens = list(range(T, T + P))
        rows += [s] * P + opens
        cols += opens + [t] * P
        data += [0] * (2 * P)
        cap = sp.csr_array((np.array(data, dtype=np.int32), (np.array(rows, dtype=np.int32),
                            np.array(cols, dtype=np.int32))), shape=(n, n))
        cap.sum_duplicates()
        cap.sort_indices()

        def slot(r: int, c: int) -> int:
            lo, hi = cap.indptr[r], cap.indptr[r + 1]
            return int(lo + np.searchsorted(cap.indices[lo:hi], c))

        self._scipy = {
            "caps": (ecap, hcap),
            "cap": cap,
            "from_s": np.array([slot(s, o) for o in opens], dtype=np.int64),
            "to_t": np.array([slot(o, t) for o in opens], dtype=np.int64),
            "inf": inf,
            "s": s,
            "t": t,
        }
        return self._scipy

    def solve_scipy(self, part: frozenset) -> tuple[np.ndarray, int]:
        """Max flow with ``scipy.sparse.csgraph.maximum_flow`` (Dinic) on the cached CSR network; a query
        only rewrites the capacities of the terminal arcs."""
        try:
            import scipy.sparse as sp
            from scipy.sparse.csgraph import breadth_first_order, maximum_flow
        except ImportError as exc:  # pragma: no cover - scipy is in the test extra
            raise ImportError("method='scipy' needs scipy: pip install 'tnconv[scipy]'") from exc
        net = self._scipy_network()
        T, P = self.n_tensors, self.n_open
        s, t, inf, base = net["s"], net["t"], net["inf"], net["cap"]
        on = np.zeros(P, dtype=bool)
        on[list(part)] = True
        data = base.data.copy()
        data[net["from_s"]] = np.where(on, inf, 0)
        data[net["to_t"]] = np.where(on, 0, inf)
        cap = sp.csr_array((data, base.indices, base.indptr), shape=base.shape)
        res = maximum_flow(cap, s, t)
        resid = (cap - res.flow).tocsr()
        resid.data = (resid.data > 0).astype(np.int8)
        resid.eliminate_zeros()
        reach = breadth_first_order(resid, s, directed=True, return_predecessors=False)
        side = np.zeros(T + P, dtype=bool)
        reach = reach[reach < T + P]
        side[reach] = True
        return side, int(res.flow_value)


# Per-network caches: compiled networks by model (per output) and prepared problems by network.
_MODEL_CACHE: weakref.WeakKeyDictionary[Any, dict[int, CutProblem]] = weakref.WeakKeyDictionary()
_TN_CACHE: weakref.WeakKeyDictionary[Any, CutProblem] = weakref.WeakKeyDictionary()


def prepare(obj: Any, output: int = 0) -> CutProblem:
    """The :class:`CutProblem` of a model or a :class:`~tnconv.network.TensorNetwork` (cached).

    Parameters
    ----------
    obj : model, TensorNetwork or CutProblem
        A model is compiled with ``obj.to_tensor_network(output)``.
    output : int
        The output channel of a model.

    Returns
    -------
    CutProblem

    Raises
    ------
    TypeError
        ``obj`` is neither a network nor a model that compiles to one.

    Notes
    -----
    The cache holds weak references to the model or network. Only the structure (indices and
    dimensions) is cached, which is fixed once a model is built; a :class:`TensorNetwork` is treated as
    immutable, so build a new one rather than editing ``inds`` in place.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(8, 2, 2, seed=0)
    >>> prepare(net) is prepare(net)
    True
    """
    from ..network import TensorNetwork

    if isinstance(obj, CutProblem):
        return obj
    if isinstance(obj, TensorNetwork):
        try:
            return _TN_CACHE[obj]
        except (KeyError, TypeError):
            prob = CutProblem(obj)
            try:
                _TN_CACHE[obj] = prob
            except TypeError:  # pragma: no cover - not weak-referenceable
                pass
            return prob
    if not hasattr(obj, "to_tensor_network"):
        raise TypeError(
            f"min cuts need a TensorNetwork or a model with to_tensor_network() (product pooling); got "
            f"{type(obj).__name__}. Rectifier ConvNets have no tensor network: use their grid tensor instead"
        )
    try:
        per_model = _MODEL_CACHE.setdefault(obj, {})
    except TypeError:  # pragma: no cover
        per_model = {}
    if output not in per_model:
        per_model[output] = CutProblem(obj.to_tensor_network(output))
    return per_model[output]


def _fallback_warning(reason: str) -> None:
    warnings.warn(f"scipy max-flow unavailable ({reason}); falling back to networkx", RuntimeWarning, stacklevel=3)
