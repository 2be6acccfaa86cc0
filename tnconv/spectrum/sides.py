"""Contracting one side of a cut to QR-canonical form (the method of :mod:`tnconv.spectrum`).

A side whose subgraph is a forest is contracted pairwise, leaves first, each message QR-compressed and
rescaled (:class:`SideContraction`); a side with cycles is contracted directly by opt_einsum, or through
its Gram matrix when that is over the byte budget. Each returns ``R`` with ``X = Q R`` (``Q`` an
isometry) and the logarithm of its scale.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from .._core.options import check_budget, options
from .errors import SpectrumRangeError

__all__ = ["Factor", "PreparedNetwork", "SideContraction", "cut_indices", "host64", "side_factors", "side_forest",
           "side_links"]

#: Largest ``m * n`` for which QR calls LAPACK's geqrf directly (its default workspace is unblocked).
_SMALL_QR = 2**14
#: Groups of up to this many factors are combined greedily (smallest product first), larger in order.
_GREEDY_MAX = 6


def lapack_geqrf(dtype: np.dtype) -> Any:
    """SciPy's LAPACK ``?geqrf`` for float64/complex128, or None without SciPy."""
    try:
        from scipy.linalg import lapack
    except ImportError:  # pragma: no cover - SciPy is optional
        return None
    return lapack.zgeqrf if dtype.kind == "c" else lapack.dgeqrf


#: Message type: an array of shape ``(rows, *column dims)`` and the labels of its column axes.

Factor = tuple[np.ndarray, tuple[Hashable, ...]]


def host64(a: Any, k: int) -> np.ndarray:
    """A float64/complex128 numpy copy (float32 would lose digits; CuPy arrays are fetched once here,
    the spectrum being a small host-side computation)."""
    if type(a).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU only
        a = a.get()
    a = np.asarray(a)
    if a.dtype.kind not in "fiuc":
        raise TypeError(f"tensor {k} has data of dtype {a.dtype}, which cannot give a spectrum")
    a = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"tensor {k} contains NaN or infinite values")
    return a



class SideContraction:
    """Pairwise, QR-compressed contraction of one side of the cut.

    ``count[label]`` is the number of live factors holding ``label``; a label shared by the two factors
    being combined is summed when no other factor needs it and it is not a cut index, else kept (a
    Khatri-Rao product along it).
    """

    def __init__(self, K: set[Hashable], max_bytes: float | None):
        self.K = K
        self.max_bytes = max_bytes
        self.count: Counter = Counter()
        self.log_scale = 0.0
        self.masks: dict[int, np.ndarray] = {}  # per instance: no cache shared across threads

    def register(self, factors: Iterable[Factor]) -> None:
        for _, cols in factors:
            self.count.update(cols)

    def reduce_dangling(self, f: Factor) -> Factor:
        """Sum axes that no other factor holds and that are not cut indices (plain traces)."""
        R, cols = f
        axes = [a for a, lab in enumerate(cols) if self.count[lab] == 1 and lab not in self.K]
        if axes:
            R = R.sum(axis=tuple(1 + a for a in axes))
            for a in axes:
                self.count[cols[a]] -= 1
            cols = tuple(lab for a, lab in enumerate(cols) if a not in set(axes))
        return self.compress(R, cols)

    def over_budget(self, n_bytes: float) -> bool:
        return n_bytes > (options["max_dense_bytes"] if self.max_bytes is None else self.max_bytes)

    def compress(self, R: np.ndarray, cols: tuple[Hashable, ...]) -> Factor:
        r = R.shape[0]
        n = math.prod(R.shape[1:])
        if r > n:
            if self.over_budget(32.0 * r * n):
                check_budget(f"the QR of a {r}x{n} message", 32.0 * r * n, self.max_bytes)
            R = self.qr_r(R.reshape(r, n)).reshape((n,) + R.shape[1:])
        top = float(np.abs(R).max()) if R.size else 0.0
        if top > 0:
            if not math.isfinite(top):  # pragma: no cover - inputs are finite and messages are rescaled
                raise SpectrumRangeError("a message of the cut-side contraction overflowed float64")
            R = R / top
            self.log_scale += math.log(top)
        return R, cols

    def qr_r(self, M: np.ndarray) -> np.ndarray:
        """The ``R`` factor (``n x n``) of a tall ``m x n`` matrix, by Householder QR."""
        m, n = M.shape
        geqrf = lapack_geqrf(M.dtype) if m * n <= _SMALL_QR else None
        if geqrf is None:
            return np.asarray(np.linalg.qr(M, mode="r"))
        # LAPACK directly: numpy's qr costs ~150 us per call on small matrices, geqrf ~10 us.
        qr, _, _, info = geqrf(M)
        if info != 0:  # pragma: no cover - only for illegal arguments
            return np.asarray(np.linalg.qr(M, mode="r"))
        mask = self.masks.get(n)
        if mask is None:
            mask = self.masks[n] = np.triu(np.ones((n, n)))
        return qr[:n] * mask

    def combine(self, a: Factor, b: Factor) -> Factor:
        Ra, ca = a
        Rb, cb = b
        da = dict(zip(ca, Ra.shape[1:]))
        db = dict(zip(cb, Rb.shape[1:]))
        summed = [lab for lab in ca if lab in db and self.count[lab] == 2 and lab not in self.K]
        s_set = set(summed)
        kept = [lab for lab in ca if lab in db and lab not in s_set]
        only_a = [lab for lab in ca if lab not in db]
        only_b = [lab for lab in cb if lab not in da]
        ra, rb = Ra.shape[0], Rb.shape[0]
        dk = math.prod(da[lab] for lab in kept)
        ds = math.prod(da[lab] for lab in summed)
        dp = math.prod(da[lab] for lab in only_a)
        dq = math.prod(db[lab] for lab in only_b)
        if self.over_budget(16.0 * ra * rb * dk * dp * dq):
            check_budget(f"a {ra * rb}x{dk * dp * dq} message of the cut-side contraction",
                         16.0 * ra * rb * dk * dp * dq, self.max_bytes)
        pa = [ca.index(lab) + 1 for lab in kept + only_a + summed]
        pb = [cb.index(lab) + 1 for lab in kept + summed + only_b]
        A = Ra.transpose([0, *pa]).reshape(ra, dk, dp, ds).transpose(1, 0, 2, 3).reshape(dk, ra * dp, ds)
        B = Rb.transpose([0, *pb]).reshape(rb, dk, ds, dq).transpose(1, 2, 0, 3).reshape(dk, ds, rb * dq)
        C = np.matmul(A, B).reshape(dk, ra, dp, rb, dq).transpose(1, 3, 0, 2, 4)
        cols = tuple(kept + only_a + only_b)
        C = C.reshape((ra * rb,) + tuple(da[lab] for lab in kept + only_a) + tuple(db[lab] for lab in only_b))
        for lab in summed:
            self.count[lab] -= 2
        for lab in kept:
            self.count[lab] -= 1
        return self.compress(C, cols)

    def fold(self, group: list[Factor]) -> Factor:
        """Combine a vertex's factors; small groups pairwise by the smallest product first, large
        groups (copy tensors with many legs) in order."""
        group = list(group)
        while len(group) > _GREEDY_MAX and len(group) > 1:
            group[:2] = [self.combine(group[0], group[1])]
        while len(group) > 1:
            best, pair = math.inf, (0, 1)
            for x in range(len(group)):
                for y in range(x + 1, len(group)):
                    c = self.product_size(group[x], group[y])
                    if c < best:
                        best, pair = c, (x, y)
            x, y = pair
            f = self.combine(group[x], group[y])
            group = [g for k, g in enumerate(group) if k not in pair] + [f]
        return group[0]

    def product_size(self, a: Factor, b: Factor) -> float:
        (Ra, ca), (Rb, cb) = a, b
        da = dict(zip(ca, Ra.shape[1:]))
        db = dict(zip(cb, Rb.shape[1:]))
        n = float(Ra.shape[0]) * Rb.shape[0]
        for lab, d in da.items():
            if not (lab in db and self.count[lab] == 2 and lab not in self.K):
                n *= d
        for lab, d in db.items():
            if lab not in da:
                n *= d
        return n


class PreparedNetwork:
    """The network's tensors with dimension-1 axes dropped (they contribute one entry each), as
    ``(array, labels)``, plus the index bookkeeping shared by both sides."""

    def __init__(self, tn: Any):
        self.tn = tn
        size = tn.size_dict
        self.tensors: list[Factor] = []
        for k, (arr, ix) in enumerate(zip(tn.arrays, tn.inds)):
            A = host64(arr, k)
            keep = [a for a, i in enumerate(ix) if size[i] > 1]
            if len(keep) < len(ix):
                A = A.reshape([size[i] for i in ix if size[i] > 1])
            self.tensors.append((A, tuple(ix[a] for a in keep)))
        self.members = tn.index_members()
        self.opens = {i: p for p, i in enumerate(tn.open_inds)}
        # The cut graph (the same one the min-cut solvers use): bonds and copy tensors over vertices.
        self.edges, self.hyper = tn.links()
        self.n_tensors, self.n_open = tn.n_tensors, len(tn.open_inds)


def cut_indices(prep: PreparedNetwork, side: np.ndarray) -> list[Hashable]:
    tn = prep.tn
    T = tn.n_tensors
    K: list[Hashable] = []
    for i, ms in prep.members.items():
        if tn.size_dict[i] == 1:
            continue
        verts = list(ms) + ([T + prep.opens[i]] if i in prep.opens else [])
        s = side[verts]
        if s.any() and not s.all():
            K.append(i)
    return K


def side_factors(prep: PreparedNetwork, side_mask: np.ndarray) -> tuple[dict[int, Factor], list[int], list[int]]:
    """Initial factors of one side: ``{vertex: (array with the direct open legs as rows, column labels)}``.

    An open index carried by exactly one tensor on this side becomes a row of that tensor; any other
    open index on this side gets an identity factor (row, index) at its open vertex.
    """
    tn = prep.tn
    T = tn.n_tensors
    size = tn.size_dict
    tensors = np.flatnonzero(side_mask[:T]).tolist()
    open_ps = np.flatnonzero(side_mask[T:]).tolist()
    direct = set()
    for p in open_ps:
        i = tn.open_inds[p]
        ms = prep.members[i]
        if size[i] > 1 and len(ms) == 1 and side_mask[ms[0]]:
            direct.add(i)
    factors: dict[int, Factor] = {}
    for k in tensors:
        A, ix = prep.tensors[k]
        rows = [a for a, i in enumerate(ix) if i in direct]
        cols = [a for a, i in enumerate(ix) if i not in direct]
        n_rows = math.prod(A.shape[a] for a in rows)
        factors[k] = (A.transpose(rows + cols).reshape((n_rows,) + tuple(A.shape[a] for a in cols)),
                      tuple(ix[a] for a in cols))
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] > 1 and i not in direct:
            factors[T + p] = (np.eye(size[i]), (i,))
    return factors, tensors, open_ps


def side_links(
    prob: PreparedNetwork, on_side: set[int], K_set: set[Hashable]
) -> tuple[dict[int, list[int]], set[int], bool]:
    """The side's graph (tensors, open vertices, copy tensors fully inside it) and whether it is a forest."""
    links: dict[int, list[int]] = defaultdict(list)
    verts = set(on_side)
    pairs: list[tuple[int, int]] = []
    for u, v, _ in prob.edges:
        if u in on_side and v in on_side:
            pairs.append((u, v))
    first_copy = prob.n_tensors + prob.n_open
    for j, (i, ms) in enumerate(prob.hyper):
        m = ms.tolist()
        if i in K_set or not all(x in on_side for x in m):
            continue
        h = first_copy + j
        verts.add(h)
        pairs.extend((h, x) for x in m)
    parent = {v: v for v in verts}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    forest = True
    for u, v in pairs:
        links[u].append(v)
        links[v].append(u)
        ru, rv = find(u), find(v)
        if ru == rv:
            forest = False
        else:
            parent[ru] = rv
    # A cut copy tensor still joins its members on this side (they share the cut index, never summed).
    # Linking them lets the traversal meet them early, while their messages are small, rather than
    # multiplying whole components at the end; links that would close a cycle are left out.
    for j, (i, ms) in enumerate(prob.hyper):
        if i not in K_set:
            continue
        m = [x for x in ms.tolist() if x in on_side]
        roots = {find(x) for x in m}
        if len(m) < 2 or len(roots) < len(m):
            continue
        h = first_copy + j
        verts.add(h)
        parent[h] = h
        for x in m:
            links[h].append(x)
            links[x].append(h)
            parent[find(x)] = h
    return links, verts, forest


def centroid(start: int, links: dict[int, list[int]], weight: dict[int, int]) -> int:
    """A vertex of ``start``'s tree whose removal leaves no subtree with more than half the weight."""
    order, parent = [start], {start: -1}
    for u in order:
        for v in links[u]:
            if v not in parent:
                parent[v] = u
                order.append(v)
    sub = {u: weight.get(u, 0) for u in order}
    for u in reversed(order[1:]):
        sub[parent[u]] += sub[u]
    total, u = sub[start], start
    while True:
        heavy = [v for v in links[u] if parent.get(v) == u and 2 * sub[v] > total]
        if not heavy:
            return u
        u = heavy[0]


def side_forest(
    factors: dict[int, Factor], links: dict[int, list[int]], verts: set[int], K: list[Hashable],
    max_bytes: float | None,
) -> tuple[np.ndarray, float]:
    """``R`` of shape ``(r, chi)`` with ``X = Q R`` (``Q`` an isometry) and the log of its scale."""
    K_set = set(K)
    run = SideContraction(K_set, max_bytes)
    run.register(factors.values())
    own = {v: run.reduce_dangling(f) for v, f in factors.items()}
    roots: list[Factor] = []
    done: set[int] = set()
    # Root each component at the centroid of its cut indices, so that no message carries more than half.
    n_cut = {v: sum(lab in K_set for lab in f[1]) for v, f in own.items()}
    for start in sorted(verts):
        if start in done:
            continue
        comp, stack = [start], [start]
        seen = {start}
        while stack:
            u = stack.pop()
            for v in links[u]:
                if v not in seen:
                    seen.add(v)
                    comp.append(v)
                    stack.append(v)
        done |= seen
        root = centroid(start, links, n_cut)
        order, parent = [], {root: -1}
        stack = [root]
        while stack:
            u = stack.pop()
            order.append(u)
            for v in links[u]:
                if v not in parent:
                    parent[v] = u
                    stack.append(v)
        msgs: dict[int, list[Factor]] = defaultdict(list)
        for u in reversed(order):
            group = ([own[u]] if u in own else []) + msgs.pop(u, [])
            if not group:
                continue
            item = run.fold(group)
            if parent[u] >= 0:
                msgs[parent[u]].append(item)
            else:
                roots.append(item)
    R, cols = run.fold(roots)
    if set(cols) != K_set or len(cols) != len(K):  # pragma: no cover - guards the bookkeeping above
        raise RuntimeError(f"internal error: a side ends with indices {cols}, expected the cut {K}")
    R = R.transpose([0] + [cols.index(lab) + 1 for lab in K])
    return R.reshape(R.shape[0], -1), run.log_scale
