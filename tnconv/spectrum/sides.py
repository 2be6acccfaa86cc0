"""The bookkeeping of a cut's sides: prepared tensors, the cut indices, each side's factors and graph.

A side whose subgraph is a forest is contracted by :func:`tnconv.spectrum.forest.side_forest` (level by
level, same-shaped messages stacked); a side with cycles by :mod:`tnconv.spectrum.loops`. Tensors stay in
their array namespace (numpy, CuPy, JAX, torch, ...) as float64 or complex128.

Everything here that depends only on the network's structure is computed once per network and side
assignment and cached (:func:`structure`, :func:`cached_plan`): the squeezed labels of each tensor, the
cut graph as arrays, the cut indices and each side's factor layout. A call on cached structure only
applies them to the current arrays. float64 numpy tensors are used as they are, without a finiteness
pass: a NaN or an infinity reaches every message above it, and :meth:`PreparedNetwork.check_finite`
names the tensor when a result is not finite.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import defaultdict
from collections.abc import Hashable
from typing import Any

import numpy as np

from .._core.arrays import device_of, is_concrete
from .._core.caches import LRUCache

__all__ = ["MAX_PLANS", "Factor", "PreparedNetwork", "as_float64", "cached_plan", "cut_indices", "host64",
           "side_factors", "side_links", "structure"]

#: Message type: an array of shape ``(rows, *column dims)`` and the labels of its column axes.
Factor = tuple[Any, tuple[Hashable, ...]]


def host64(a: Any, k: int) -> np.ndarray:
    """A float64/complex128 numpy array (float32 would lose digits), checked finite."""
    a = np.asarray(a)
    if a.dtype.kind not in "fiuc":
        raise TypeError(f"tensor {k} has data of dtype {a.dtype}, which cannot give a spectrum")
    a = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)
    # One pass without a mask: a NaN or inf makes the sum non-finite (a finite overflow is re-checked).
    if not math.isfinite(abs(complex(a.sum()))) and not np.isfinite(a).all():
        raise ValueError(f"tensor {k} contains NaN or infinite values")
    return a


def as_float64(xp: Any, a: Any, k: int) -> Any:
    """``a`` as float64/complex128 in namespace ``xp``; values are checked only when concrete (so JAX
    tracing passes through)."""
    if xp is np:
        return host64(a, k)
    if xp.isdtype(a.dtype, "complex floating"):
        a = xp.astype(a, xp.complex128)
    elif xp.isdtype(a.dtype, "numeric"):
        a = xp.astype(a, xp.float64)
    else:
        raise TypeError(f"tensor {k} has data of dtype {a.dtype}, which cannot give a spectrum")
    if is_concrete(a) and not bool(xp.all(xp.isfinite(a))):
        raise ValueError(f"tensor {k} contains NaN or infinite values")
    return a


#: Plans kept per network (per side assignment: its cut indices, and per side its factor layout and one
#: plan per engine); the oldest is dropped beyond this.
MAX_PLANS = 128
_STRUCTURES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def structure(tn: Any) -> dict[str, Any]:
    """The index bookkeeping of ``tn`` (members, open positions, the cut graph), cached per network.

    A :class:`~tnconv.network.TensorNetwork` is treated as immutable (as by :func:`tnconv.mincut.prepare`);
    only its structure is cached, never its arrays. Safe under concurrent calls (one entry wins).
    """
    with _LOCK:
        hit = _STRUCTURES.get(tn)
    if hit is not None:
        return hit
    edges, hyper = tn.links()
    built = {"members": tn.index_members(), "opens": {i: p for p, i in enumerate(tn.open_inds)}, "edges": edges,
             "hyper": hyper, "plans": LRUCache()}
    with _LOCK:
        return _STRUCTURES.setdefault(tn, built)


def cached_plan(prep: PreparedNetwork, key: Any, build: Any) -> Any:
    """``build()`` cached under ``key`` among ``prep``'s network's plans (bounded, thread-safe)."""
    return prep.plans.get_or_build(key, build, MAX_PLANS)


class PreparedNetwork:
    """The network's tensors with dimension-1 axes dropped (they contribute one entry each), as
    ``(array, labels)``, plus the index bookkeeping shared by both sides."""

    def __init__(self, tn: Any, xp: Any = np):
        self.tn = tn
        self.xp = xp
        self.concrete = xp is np or all(is_concrete(a) for a in tn.arrays)
        #: Keywords that put new arrays on the tensors' device (none for numpy).
        self.kw: dict[str, Any] = {} if xp is np or not tn.arrays else {"device": device_of(tn.arrays[0])}
        st = structure(tn)
        squeeze = st.get("squeeze")
        if squeeze is None:
            size = tn.size_dict
            # Per tensor: its labels without the dimension-1 axes, and the shape to reshape to (None: as is).
            squeeze = [(tuple(i for i in ix if size[i] > 1),
                        tuple(size[i] for i in ix if size[i] > 1) if any(size[i] == 1 for i in ix) else None)
                       for ix in tn.inds]
            st["squeeze"] = squeeze
        arrays = list(tn.arrays)
        #: Whether the values are still to be checked finite (see :meth:`check_finite`).
        self.unchecked = xp is np and all(type(a) is np.ndarray and a.dtype == np.float64 for a in arrays)
        if not self.unchecked:
            arrays = [as_float64(xp, a, k) for k, a in enumerate(arrays)]
        self.tensors: list[Factor] = [(a if shape is None else xp.reshape(a, shape), labels)
                                      for a, (labels, shape) in zip(arrays, squeeze)]
        self.members, self.opens, self.plans = st["members"], st["opens"], st["plans"]
        # The cut graph (the same one the min-cut solvers use): bonds and copy tensors over vertices.
        self.edges, self.hyper = st["edges"], st["hyper"]
        self.n_tensors, self.n_open = tn.n_tensors, len(tn.open_inds)

    def check_finite(self) -> None:
        """Raise the ValueError naming the first tensor with a NaN or an infinite value, if any.

        float64 numpy tensors are not checked up front (one pass per tensor per call): a NaN or an
        infinity reaches every message above it, so :func:`~tnconv.spectrum.cut_spectrum` calls this
        only when a result is not finite.
        """
        for k, a in enumerate(self.tn.arrays):
            host64(a, k)


def cut_indices(prep: PreparedNetwork, side: np.ndarray) -> list[Hashable]:
    """The indices joining the two sides (``side``: one bool per tensor, then per open leg), cached per
    side assignment."""
    return list(cached_plan(prep, ("cut", side.tobytes()), lambda: _cut_indices(prep, side)))


def side_factors(prep: PreparedNetwork, side_mask: np.ndarray) -> tuple[dict[int, Factor], list[int], list[int]]:
    """Initial factors of one side: ``{vertex: (array with the direct open legs as rows, column labels)}``.

    An open index carried by exactly one tensor on this side becomes a row of that tensor; any other
    open index on this side gets an identity factor (row, index) at its open vertex. The layout (which
    axes become rows) is cached per side assignment; each call only applies it to the current arrays.
    """
    xp = prep.xp
    recipe, eyes, tensors, open_ps = cached_plan(prep, ("factors", side_mask.tobytes()),
                                                 lambda: _factor_layout(prep, side_mask))
    factors: dict[int, Factor] = {}
    for k, perm, shape, cols in recipe:
        A = prep.tensors[k][0]
        if perm is not None:
            A = xp.permute_dims(A, perm)
        factors[k] = (A if shape is None else xp.reshape(A, shape), cols)
    for v, d, i in eyes:
        factors[v] = (xp.eye(d, dtype=xp.float64, **prep.kw), (i,))
    return factors, tensors, open_ps


def _factor_layout(prep: PreparedNetwork, side_mask: np.ndarray) -> tuple[list[Any], list[Any], list[int], list[int]]:
    """Per tensor of the side ``(k, axis permutation or None, 2+-d shape or None, column labels)``, the
    identity factors ``(vertex, dimension, index)``, the side's tensors and its open legs."""
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
    recipe: list[tuple[int, tuple[int, ...] | None, tuple[int, ...] | None, tuple[Hashable, ...]]] = []
    for k in tensors:
        A, ix = prep.tensors[k]
        if not direct.intersection(ix):
            recipe.append((k, None, (1, *A.shape), ix))
            continue
        if len(ix) == 2 and ix[0] in direct and ix[1] not in direct:  # a leaf: (open leg, bond) as it is
            recipe.append((k, None, None, ix[1:]))
            continue
        dims = [int(size[i]) for i in ix]
        rows = [a for a, i in enumerate(ix) if i in direct]
        cols = [a for a, i in enumerate(ix) if i not in direct]
        shape = (math.prod(dims[a] for a in rows),) + tuple(dims[a] for a in cols)
        perm = tuple(rows + cols) if rows + cols != list(range(len(ix))) else None
        recipe.append((k, perm, None if shape == tuple(dims) else shape, tuple(ix[a] for a in cols)))
    eyes = [(T + p, int(size[tn.open_inds[p]]), tn.open_inds[p]) for p in open_ps
            if size[tn.open_inds[p]] > 1 and tn.open_inds[p] not in direct]
    return recipe, eyes, tensors, open_ps


def _graph_arrays(prep: PreparedNetwork) -> dict[str, Any]:
    """The cut graph as arrays (cached per network): bond ends ``(n, 2)``, copy tensors' members in CSR
    form, and every index's ends (tensors, then its open vertex) in CSR form."""
    st = structure(prep.tn)
    hit = st.get("arrays")
    if hit is not None:
        return hit
    tn = prep.tn
    T = tn.n_tensors
    bonds = np.array([(u, v) for u, v, _ in prep.edges], dtype=np.int64).reshape(-1, 2)
    h_len = np.array([len(ms) for _, ms in prep.hyper], dtype=np.int64)
    h_verts = np.concatenate([ms for _, ms in prep.hyper]).astype(np.int64) if prep.hyper else np.zeros(0, np.int64)
    idx = [i for i in prep.members if tn.size_dict[i] > 1]
    ends = [list(prep.members[i]) + ([T + prep.opens[i]] if i in prep.opens else []) for i in idx]
    i_len = np.array([len(e) for e in ends], dtype=np.int64)
    i_verts = np.array([v for e in ends for v in e], dtype=np.int64)
    built = {"bonds": bonds, "h_len": h_len, "h_verts": h_verts, "h_start": np.cumsum(h_len) - h_len,
             "idx": idx, "i_len": i_len, "i_verts": i_verts, "i_start": np.cumsum(i_len) - i_len}
    st["arrays"] = built
    return built


def _count_true(mask: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The number of True entries of ``mask`` in each run ``[start, start + length)`` (CSR rows)."""
    c = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    return c[starts + lengths] - c[starts]


def side_links(
    prob: PreparedNetwork, on_side: set[int], K_set: set[Hashable]
) -> tuple[dict[int, list[int]], set[int], bool]:
    """The side's graph (tensors, open vertices, copy tensors fully inside it) and whether it is a forest."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = _graph_arrays(prob)
    first_copy = prob.n_tensors + prob.n_open
    n_all = first_copy + len(prob.hyper)
    side = np.zeros(n_all, dtype=bool)
    side[list(on_side)] = True
    bonds = g["bonds"][side[g["bonds"][:, 0]] & side[g["bonds"][:, 1]]]
    h_in = side[g["h_verts"]]
    cut = np.array([i in K_set for i, _ in prob.hyper], dtype=bool)
    inside = (_count_true(h_in, g["h_start"], g["h_len"]) == g["h_len"]) & ~cut
    h_ids = np.flatnonzero(inside)
    if h_ids.size:
        rows = np.repeat(first_copy + h_ids, g["h_len"][h_ids])
        cols = np.concatenate([g["h_verts"][g["h_start"][j]: g["h_start"][j] + g["h_len"][j]] for j in h_ids])
        pairs = np.concatenate([bonds, np.stack([rows, cols], axis=1)])
    else:
        pairs = bonds
    side[first_copy + h_ids] = True
    verts = set(on_side)
    verts.update((first_copy + h_ids).tolist())
    # A graph is a forest iff it has (vertices - components) edges; inactive vertices are isolated.
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_all, n_all))
    n_comp, label = connected_components(graph, directed=False)
    forest = len(pairs) == n_all - n_comp
    links: dict[int, list[int]] = defaultdict(list)
    for u, v in pairs.tolist():
        links[u].append(v)
        links[v].append(u)
    if not forest:
        return links, verts, forest  # contracted directly: the links below only guide the forest sweep
    # A cut copy tensor still joins its members on this side (they share the cut index, never summed).
    # Linking them lets the traversal meet them early, while their messages are small, rather than
    # multiplying whole components at the end; links that would close a cycle are left out.
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for j in np.flatnonzero(cut).tolist():
        m = [x for x in prob.hyper[j][1].tolist() if side[x]]
        roots = {find(int(label[x])) for x in m}
        if len(m) < 2 or len(roots) < len(m):
            continue
        h = first_copy + j
        verts.add(h)
        for x in m:
            links[h].append(x)
            links[x].append(h)
        for r in roots:
            parent[r] = -1 - j  # the copy vertex's own component (labels are >= 0)
        parent[-1 - j] = -1 - j
    return links, verts, forest


def _cut_indices(prep: PreparedNetwork, side: np.ndarray) -> list[Hashable]:
    g = _graph_arrays(prep)
    on = _count_true(side[g["i_verts"]], g["i_start"], g["i_len"])
    return [g["idx"][k] for k in np.flatnonzero((on > 0) & (on < g["i_len"])).tolist()]
