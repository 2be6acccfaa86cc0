"""Exact min cuts of forest-shaped tensor networks by dynamic programming, vectorized over partitions.

When the graph of a network (tensors, copy tensors and open legs, as :attr:`TensorNetwork.graph`) has
no cycle, every vertex gets a label: ``S`` (the side of ``I``), ``T`` (the side of ``I^c``), and, for a
copy tensor only, ``X`` (severed: its legs may lie on both sides, at cost ``log r`` once). An ordinary
bond costs its capacity when its ends differ; a leg of a copy tensor costs nothing when the copy tensor
is ``X`` and is forbidden (infinite) otherwise when its ends differ. Open legs are fixed to ``S`` or
``T`` by the partition. A two-pass dynamic programme over the rooted forest (leaves up, then labels
down) finds an optimal labelling in linear time.

:func:`tree_min_cut` is the *structural* form of the same programme: it works on the mode tree and the
widths of a ConvAC directly (two states per node, products of dimensions), without compiling a network,
for searches that evaluate thousands of width profiles (the width-allocation experiment).

Vertices are processed one *height level* at a time, so each level is a handful of numpy operations
over ``(vertices in the level) x (partitions in the batch)``: the Python overhead is per level, not
per vertex, and a batch of partitions shares it.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..partition_resolve import PartitionResolver
from ..trees import ModeTree

__all__ = ["TreeSolver", "tree_min_cut"]

_S, _T, _X = 0, 1, 2
# Kinds of a (child -> parent) link in the rooted forest.
_ORD, _CHILD_COPY, _PARENT_COPY = 0, 1, 2


_Adjacency = list[list[tuple[int, int, int]]]


def _adjacency(prob: Any, first_copy: int) -> _Adjacency:
    """Neighbours of each vertex as ``(vertex, capacity, link kind)``; copy tensors are numbered from ``first_copy``."""
    adj: _Adjacency = [[] for _ in range(prob.n_vertices)]
    for (u, v, _), c in zip(prob.edges, prob.edge_units):
        adj[u].append((v, c, _ORD))
        adj[v].append((u, c, _ORD))
    for j, (_, ms) in enumerate(prob.hyper):
        h = first_copy + j
        for m in ms.tolist():
            adj[h].append((m, 0, _PARENT_COPY))  # kind as seen from m when h is m's parent
            adj[m].append((h, 0, _CHILD_COPY))  # kind as seen from h when m is h's parent
    return adj


def _bfs_order(adj: _Adjacency, r: int) -> list[int]:
    """The vertices of ``r``'s component in breadth-first order from ``r``."""
    dist = {r: 0}
    q = deque([r])
    out = []
    while q:
        u = q.popleft()
        out.append(u)
        for v, _, _ in adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                q.append(v)
    return out


def _component_centre(adj: _Adjacency, r0: int) -> int:
    """The middle vertex of a longest path in ``r0``'s component (two sweeps of breadth-first search)."""
    a = _bfs_order(adj, r0)[-1]
    path_order = _bfs_order(adj, a)
    b = path_order[-1]
    prev = {a: -1}
    q = deque([a])
    while q:
        u = q.popleft()
        for v, _, _ in adj[u]:
            if v not in prev:
                prev[v] = u
                q.append(v)
    path = [b]
    while prev[path[-1]] != -1:
        path.append(prev[path[-1]])
    return path[len(path) // 2]


def _root_at_centres(adj: _Adjacency, V: int) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Root each component at its centre: ``parent``, link ``kind`` and ``cap`` per vertex, and the BFS order.

    The centre gives the fewest height levels, so the fewest numpy calls per solve.
    """
    parent = np.full(V, -1, dtype=np.int64)
    kind = np.zeros(V, dtype=np.int8)
    cap: list[int] = [0] * V
    order: list[int] = []
    seen = np.zeros(V, dtype=bool)
    for r0 in range(V):
        if seen[r0]:
            continue
        r = _component_centre(adj, r0)
        seen[r] = True
        q = deque([r])
        while q:
            u = q.popleft()
            order.append(u)
            for v, c, k in adj[u]:
                if not seen[v]:
                    seen[v] = True
                    parent[v] = u
                    kind[v] = k  # adj[u] stores the kind v has when u is its parent
                    cap[v] = c
                    q.append(v)
    return parent, kind, cap, order


# More components than this are rooted by the Python BFS: numpy's costs a few calls per level.
_VECTOR_MAX_COMPONENTS = 16


def _csr(V: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected adjacency of links ``u[k] - v[k]`` as (indptr, indices)."""
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    order = np.argsort(src, kind="stable")
    return np.r_[0, np.cumsum(np.bincount(src, minlength=V))], dst[order]


def _bfs(indptr: np.ndarray, indices: np.ndarray, r: int, seen: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Breadth-first order of ``r``'s tree, level by level in numpy (a forest: every new vertex has one
    parent in the frontier); marks ``seen`` and sets ``pred``."""
    levels = [np.array([r], dtype=np.int64)]
    seen[r] = True
    pred[r] = -1
    frontier = levels[0]
    while frontier.size:
        starts = indptr[frontier]
        counts = indptr[frontier + 1] - starts
        total = int(counts.sum())
        if total == 0:
            break
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        nbrs = indices[np.arange(total) + offsets]
        parents = np.repeat(frontier, counts)
        new = ~seen[nbrs]
        frontier, parents = nbrs[new], parents[new]
        seen[frontier] = True
        pred[frontier] = parents
        levels.append(frontier)
    return np.concatenate(levels)


def _root_vectorized(prob: Any, first_copy: int) -> tuple[np.ndarray, np.ndarray, list[int], list[int]] | None:
    """:func:`_root_at_centres` with level-synchronous numpy searches (no per-vertex Python); None for
    forests of many components (the Python searches are cheaper there)."""
    V = prob.n_vertices
    H = len(prob.hyper)
    hub = np.repeat(np.arange(first_copy, first_copy + H, dtype=np.int64), prob.hyper_sizes)
    indptr, indices = _csr(V, np.concatenate([prob.edge_u, hub]), np.concatenate([prob.edge_v, prob.hyper_members]))
    seen = np.zeros(V, dtype=bool)
    scratch = np.zeros(V, dtype=bool)
    pred = np.full(V, -1, dtype=np.int64)
    parent = np.full(V, -1, dtype=np.int64)
    orders: list[np.ndarray] = []
    start = 0
    while True:
        left = np.flatnonzero(~seen[start:])
        if left.size == 0:
            break
        if len(orders) >= _VECTOR_MAX_COMPONENTS:
            return None
        r0 = start + int(left[0])
        start = r0
        # two sweeps find a longest path; its middle vertex roots the component (fewest levels)
        comp = _bfs(indptr, indices, r0, scratch, pred)
        scratch[comp] = False
        far = _bfs(indptr, indices, int(comp[-1]), scratch, pred)
        scratch[far] = False
        path = [int(far[-1])]
        while pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        order = _bfs(indptr, indices, path[len(path) // 2], seen, pred)
        parent[order] = pred[order]
        orders.append(order)
    kind = np.zeros(V, dtype=np.int8)
    has = parent >= 0
    kind[has & (np.arange(V) >= first_copy)] = _CHILD_COPY
    kind[has & (parent >= first_copy)] = _PARENT_COPY
    cap = np.zeros(V, dtype=object)
    units = np.array(prob.edge_units, dtype=object)
    eu, ev = prob.edge_u, prob.edge_v
    down = parent[ev] == eu  # the bond links v to its parent u
    cap[ev[down]] = units[down]
    up = ~down & (parent[eu] == ev)
    cap[eu[up]] = units[up]
    return parent, kind, cap.tolist(), np.concatenate(orders).tolist()


def _heights(parent: np.ndarray, order: list[int], V: int) -> np.ndarray:
    """Height of each vertex above its deepest leaf (``order`` lists parents before children)."""
    height = np.zeros(V, dtype=np.int64)
    for u in reversed(order):
        p = parent[u]
        if p >= 0 and height[p] < height[u] + 1:
            height[p] = height[u] + 1
    return height


def _sibling_groups(
    parent: np.ndarray, kind: np.ndarray, height: np.ndarray, V: int
) -> list[tuple[int, np.ndarray, int]]:
    """Groups ``(kind, vertices, m)`` of non-root vertices with one height, one link kind and ``m`` siblings each.

    Vertices of a group are sorted by parent, siblings adjacent, so that once the rows are renumbered
    group by group the gathers become slices and the per-parent sums a reshape.
    """
    raw = []
    for h in range(int(height.max()) + 1 if V else 0):
        for k in (_ORD, _CHILD_COPY, _PARENT_COPY):
            us = np.flatnonzero((height == h) & (parent >= 0) & (kind == k))
            if us.size == 0:
                continue
            # siblings of one kind at one height: count them per parent
            cnt = np.bincount(parent[us], minlength=V)[parent[us]]
            for m in np.unique(cnt):
                sel = us[cnt == m]
                raw.append((k, sel[np.argsort(parent[sel], kind="stable")], int(m)))
    return raw


class TreeSolver:
    """Partition-independent data of the tree DP for one :class:`~tnconv.mincut.flow.CutProblem`.

    Parameters
    ----------
    prob : CutProblem
        Its graph must be a forest.

    Raises
    ------
    ValueError
        If the network's graph has a cycle.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> from tnconv.mincut import prepare
    >>> solver = TreeSolver(prepare(tc.deep(8, 2, 2)))
    >>> on = np.zeros((8, 2), dtype=bool)
    >>> on[[1, 3, 5, 7], 0] = True   # odd/even
    >>> on[[0, 1, 2, 3], 1] = True   # left/right
    >>> sides, cost = solver.solve(on)
    >>> cost                         # exponents of the base 2
    [4, 1]
    """

    def __init__(self, prob: Any):
        if not prob.is_forest:
            raise ValueError(
                "the tree solver needs a network whose graph (tensors, copy tensors, open legs) has no "
                "cycle; this one has a cycle: use method='networkx' or method='scipy'"
            )
        self.prob = prob
        V = prob.n_vertices
        T, P = prob.n_tensors, prob.n_open
        first_copy = T + P
        rooted = _root_vectorized(prob, first_copy)
        parent, kind, cap, order = rooted if rooted is not None else _root_at_centres(_adjacency(prob, first_copy), V)
        height = _heights(parent, order, V)
        cap_arr = np.array(cap, dtype=object)
        self.parent, self.kind, self.height = parent, kind, height
        roots = np.flatnonzero(parent < 0)
        is_copy = np.zeros(V, dtype=bool)
        is_copy[first_copy:] = True
        copy_cap = np.zeros(V, dtype=object)
        copy_cap[first_copy:] = prob.hyper_units
        n_kids = np.bincount(parent[parent >= 0], minlength=V)
        raw = _sibling_groups(parent, kind, height, V)
        rows = np.concatenate([g[1] for g in raw] + [roots]).astype(np.int64)
        pos = np.empty(V, dtype=np.int64)
        pos[rows] = np.arange(V)
        self.groups: list[tuple[int, int, int, int, np.ndarray, np.ndarray]] = []
        start = 0
        for k, sel, m in raw:
            stop = start + sel.size
            self.groups.append((k, start, stop, m, pos[parent[sel][::m]], cap_arr[sel]))
            # (capacities are cast to the work dtype below, once)
            start = stop
        self.n_kids = n_kids
        self.pos = pos  # original vertex -> row
        self.roots = pos[roots]
        self.is_copy = is_copy[rows]
        self.copy_cap = copy_cap[rows]
        self.open_rows = pos[T : T + P]
        self.side_rows = pos[: T + P]
        # All capacities are integers (prob.edge_units) and every DP value is a sum of some of them, so
        # the DP is exact in float32 below 2**24 (half the memory traffic of float64), in float64 below
        # 2**53, and beyond that runs on Python ints (object arrays, slower), with an "infinity" larger
        # than every finite sum.
        total = int(prob.total_units)
        self.dtype: Any = np.dtype(np.float32 if total < 2**24 else np.float64 if total < 2**53 else object)
        self.inf: Any = self.dtype.type(np.inf) if self.dtype != object else 2 * total + 2
        self.groups = [(k, a, b, m, pu, self._cast(c)) for k, a, b, m, pu, c in self.groups]
        x0 = self.copy_cap.copy()
        x0[~self.is_copy] = self.inf
        self.x0 = self._cast(x0)

    def _cast(self, values: np.ndarray) -> np.ndarray:
        if self.dtype == object:
            return np.array([int(v) for v in values], dtype=object).reshape(values.shape)
        return np.asarray(values.astype(np.float64), dtype=self.dtype)

    def solve(self, on: np.ndarray, free: np.ndarray | None = None) -> tuple[np.ndarray, list[int]]:
        """Optimal labellings of a batch of partitions.

        Parameters
        ----------
        on : (P, B) bool
            ``on[p, b]``: open leg ``p`` is in side ``I`` of partition ``b``.
        free : (P, B) bool, optional
            ``free[p, b]``: open leg ``p`` may go to either side in query ``b`` (A|B cuts); ``on`` is
            ignored there.

        Returns
        -------
        sides : (T + P, B) bool
            True on the ``I`` side, for tensors then open legs (severed copy tensors are implied).
        cost : list of int
            The exact min cut of each partition in capacity units (``prob.edge_units``: exponents of the
            base, or scaled log2).
        """
        V, B = self.prob.n_vertices, on.shape[1]
        dt = self.dtype
        inf = self.inf
        zero = self._cast(np.zeros(1))[0]
        # Layout (vertices, partitions), a group being a contiguous run of rows with siblings adjacent.
        # A single partition uses 1-D arrays: numpy's fancy indexing is several times faster there.
        tail: tuple[int, ...] = () if B == 1 else (B,)
        ex = (slice(None),) + (None,) * len(tail)  # broadcasts per-vertex constants over the batch
        on_ = on[:, 0] if B == 1 else on
        dS = np.zeros((V,) + tail, dtype=dt)
        dT = np.zeros((V,) + tail, dtype=dt)
        dX = np.repeat(self.x0[ex], B, axis=1) if B > 1 else self.x0.copy()
        zi = np.array([zero, inf], dtype=dt)  # indexed by a bool mask: no int64 round trip for big ints
        if free is None:
            dS[self.open_rows] = zi[(~on_).astype(np.intp)]
            dT[self.open_rows] = zi[on_.astype(np.intp)]
        else:
            fr = free[:, 0] if B == 1 else free
            dS[self.open_rows] = zi[(~on_ & ~fr).astype(np.intp)]
            dT[self.open_rows] = zi[(on_ & ~fr).astype(np.intp)]

        def push(target: np.ndarray, vals: np.ndarray, m: int, pu: np.ndarray) -> None:
            target[pu] += vals if m == 1 else vals.reshape((-1, m) + tail).sum(axis=1)

        for k, a, b, m, pu, c in self.groups:
            S, Tt = dS[a:b], dT[a:b]
            if k == _ORD:
                c = c[ex]
                push(dS, np.minimum(S, Tt + c), m, pu)
                push(dT, np.minimum(Tt, S + c), m, pu)
            elif k == _CHILD_COPY:
                X = dX[a:b]
                push(dS, np.minimum(S, X), m, pu)
                push(dT, np.minimum(Tt, X), m, pu)
            else:
                push(dS, S, m, pu)
                push(dT, Tt, m, pu)
                push(dX, np.minimum(S, Tt), m, pu)
        labels = np.zeros((V,) + tail, dtype=np.int8)
        r = self.roots
        best = np.stack([dS[r], dT[r], dX[r]])  # (3, R) + tail
        labels[r] = np.argmin(best, axis=0)
        cost = [int(x) for x in np.atleast_1d(best.min(axis=0).sum(axis=0))]
        for k, a, b, m, pu, c in reversed(self.groups):
            pl = labels[pu] if m == 1 else np.repeat(labels[pu], m, axis=0)
            S, Tt = dS[a:b], dT[a:b]
            # Ties go to the parent's side (fewest severed bonds).
            if k == _ORD:
                c = c[ex]
                keep = np.where(pl == _S, Tt + c >= S, Tt <= S + c)
                labels[a:b] = np.where(keep, pl, 1 - pl)
            elif k == _CHILD_COPY:
                X = dX[a:b]
                keep = np.where(pl == _S, S <= X, Tt <= X)
                labels[a:b] = np.where(keep, pl, _X)
            else:
                labels[a:b] = np.where(pl == _X, np.where(Tt >= S, _S, _T), pl)
        sides = labels[self.side_rows] == _S
        return (sides[:, None] if B == 1 else sides), cost


def tree_min_cut(tree: ModeTree, n_descriptors: int, widths: Mapping[frozenset, int], part: Iterable[int]) -> int:
    """The min-cut bound of a ConvAC over ``tree`` for the partition ``(part, rest)``, from the tree alone.

    The network of a ConvAC is a tree once every copy tensor is a hyperedge, so the minimum cut is a
    two-state programme over the mode tree: for every node and side of its weight tensor, the cheapest
    cut below it; a copy tensor of dimension ``r`` is either severed (cost ``r``, its members free) or
    not (all members on one side). Costs multiply: the result is the exact integer product, equal to
    ``tnconv.min_cut(ConvAC(tree, M, widths), part).bound``.

    Parameters
    ----------
    tree : ModeTree
    n_descriptors : int
        M, the dimension of every open leg.
    widths : mapping node -> int
        Output channels of every non-root node (all children of a node must agree).
    part : partition
        The side ``I``: positions, a boolean mask (1D or of the tree's ``image_shape``) or a partition
        name for the tree's geometry (see :mod:`tnconv.partition_resolve`).

    Returns
    -------
    int
        The product of the dimensions severed by a minimum cut.

    Raises
    ------
    ValueError
        An invalid partition, or children of one node with different widths.

    Examples
    --------
    >>> from tnconv.trees import ModeTree
    >>> t = ModeTree.balanced(8)
    >>> w = {v: 2 for v in t.nodes if v != t.root}
    >>> tree_min_cut(t, 2, w, [1, 3, 5, 7]), tree_min_cut(t, 2, w, [0, 1, 2, 3]), tree_min_cut(t, 2, w, "odd_even")
    (16, 2, 16)

    References
    ----------
    .. [1] Levine, Yakira, Cohen, Shashua, ICLR 2018, arXiv:1704.01552 (the min-cut bound).
    """
    part = PartitionResolver(tree.n_inputs, shape=tree.image_shape).resolve(part)
    M = int(n_descriptors)
    cost: dict[frozenset, tuple[int, int]] = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            inside = next(iter(v)) in part
            # side 1 = the side of I
            cost[v] = (M if inside else 1, 1 if inside else M)
            continue
        kids = tree.children(v)
        dims = {int(widths[c]) for c in kids}
        if len(dims) != 1:
            raise ValueError(f"children of node {sorted(v)} have different widths {sorted(dims)}")
        r = dims.pop()
        free = r
        same0 = same1 = 1
        for c in kids:
            c0, c1 = cost.pop(c)
            free *= min(c0, c1)
            same0 *= c0
            same1 *= c1
        cost[v] = (min(free, same0), min(free, same1))
    return min(cost[tree.root])
