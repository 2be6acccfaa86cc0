"""The bookkeeping of a cut's sides: prepared tensors, the cut indices, each side's factors and graph.

A side whose subgraph is a forest is contracted by :func:`tnconv.spectrum.forest.side_forest` (level by
level, same-shaped messages stacked); a side with cycles by :mod:`tnconv.spectrum.loops`. Tensors stay in
their array namespace (numpy, CuPy, JAX, torch, ...) as float64 or complex128.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Hashable
from typing import Any

import numpy as np

from .._core.arrays import device_of, is_concrete

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
             "hyper": hyper, "plans": OrderedDict()}
    with _LOCK:
        return _STRUCTURES.setdefault(tn, built)


def cached_plan(prep: PreparedNetwork, key: Any, build: Any) -> Any:
    """``build()`` cached under ``key`` among ``prep``'s network's plans (bounded, thread-safe)."""
    plans = prep.plans
    with _LOCK:
        hit = plans.get(key)
        if hit is not None:
            plans.move_to_end(key)
            return hit
    value = build()
    with _LOCK:
        plans[key] = value
        while len(plans) > MAX_PLANS:
            plans.popitem(last=False)
    return value


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


def _cut_indices(prep: PreparedNetwork, side: np.ndarray) -> list[Hashable]:
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
    recipe = []
    for k in tensors:
        ix = prep.tensors[k][1]
        dims = [int(size[i]) for i in ix]
        rows = [a for a, i in enumerate(ix) if i in direct]
        cols = [a for a, i in enumerate(ix) if i not in direct]
        shape = (math.prod(dims[a] for a in rows),) + tuple(dims[a] for a in cols)
        perm = tuple(rows + cols) if rows + cols != list(range(len(ix))) else None
        recipe.append((k, perm, None if shape == tuple(dims) else shape, tuple(ix[a] for a in cols)))
    eyes = [(T + p, int(size[tn.open_inds[p]]), tn.open_inds[p]) for p in open_ps
            if size[tn.open_inds[p]] > 1 and tn.open_inds[p] not in direct]
    return recipe, eyes, tensors, open_ps


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
