"""One side of a cut that is a forest, contracted level by level with same-shaped messages stacked.

Each component of the side's graph is rooted at the centroid of its cut indices (so no message carries
more than half of them down a path). A vertex's *height* is 0 for a leaf and one more than its highest
child; all vertices of one height are ready together. Among them, those whose groups (own factor and
children's messages) have the same *signature* — the shapes, the pattern of shared labels and each
label's state (cut index, held outside the group, or only inside) — perform the same sequence of
combinations, so their factors are stacked and folded at once by :class:`~.batched.BatchFold`, in chunks
of at most :data:`CHUNK_BYTES`. Levels are not global when a side is large: subtrees are folded in
groups of at most :data:`BLOCK_BYTES` of factors (:func:`schedule`), so the messages waiting for their
parents are one group's, not a whole level's. ``batched=False`` folds every vertex alone (the same code, one message
per batch): the per-node reference of the tests.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from collections.abc import Hashable
from typing import Any

from .batched import Batch, BatchFold

__all__ = ["BLOCK_BYTES", "CHUNK_BYTES", "schedule", "side_forest"]

#: Largest stacked intermediate of one chunk of a batch (bytes); bounds the peak memory per level.
CHUNK_BYTES = 2**24
#: Subtrees are folded in groups whose factors total at most this many bytes (:func:`schedule`), so the
#: messages alive between levels stay about this small instead of a whole level's.
BLOCK_BYTES = 2**24

#: A message: ``(array, index in its batch or None for an unstacked array, its labels, triangular)``.
Ref = tuple[Any, Any, tuple[Hashable, ...], bool]


def root_forest(links: dict[int, list[int]], verts: set[int], n_cut: dict[int, int]) -> dict[int, int]:
    """``{vertex: parent}`` (``-1`` at roots), each component rooted at the centroid of its cut indices."""
    parent: dict[int, int] = {}
    for start in sorted(verts):
        if start in parent:
            continue
        order, up = [start], {start: -1}
        for u in order:
            for v in links[u]:
                if v not in up:
                    up[v] = u
                    order.append(v)
        sub = {u: n_cut.get(u, 0) for u in order}
        for u in reversed(order[1:]):
            sub[up[u]] += sub[u]
        total, root = sub[start], start
        while True:
            heavy = [v for v in links[root] if up.get(v) == root and 2 * sub[v] > total]
            if not heavy:
                break
            root = heavy[0]
        stack = [root]
        parent[root] = -1
        while stack:
            u = stack.pop()
            for v in links[u]:
                if v not in parent:
                    parent[v] = u
                    stack.append(v)
    return parent


def schedule(parent: dict[int, int], weight: dict[int, float], block: float) -> list[list[int]]:
    """The vertices in folding order, as lists whose members are ready together (their children come in
    earlier lists): subtrees whose factors total at most ``block`` bytes are grouped (consecutive ones
    while the group stays under ``block``) and each group is folded level by level before the next, so
    only one group's messages are alive at a time; the vertices above them follow, level by level.
    With every tree under ``block`` this is the plain level order (height 0 for leaves, one more than the
    highest child otherwise)."""
    children: dict[int, list[int]] = defaultdict(list)
    for v, p in parent.items():
        if p >= 0:
            children[p].append(v)
    stack = [v for v, p in parent.items() if p < 0]
    order: list[int] = []  # preorder: every subtree is a contiguous run
    while stack:
        u = stack.pop()
        order.append(u)
        stack.extend(children[u])
    h = dict.fromkeys(order, 0)
    sub = {u: weight.get(u, 0.0) for u in order}
    size = dict.fromkeys(order, 1)
    for u in reversed(order):  # children before parents
        p = parent[u]
        if p >= 0:
            if h[u] >= h[p]:
                h[p] = h[u] + 1
            sub[p] += sub[u]
            size[p] += size[u]

    def by_height(vs: list[int]) -> list[list[int]]:
        levels: dict[int, list[int]] = defaultdict(list)
        for u in vs:
            levels[h[u]].append(u)
        return [levels[k] for k in sorted(levels)]

    out: list[list[int]] = []
    group: list[int] = []
    top: list[int] = []
    load = 0.0
    i = 0
    while i < len(order):
        u = order[i]
        p = parent[u]
        if sub[u] <= block and (p < 0 or sub[p] > block):
            if group and load + sub[u] > block:
                out.extend(by_height(group))
                group, load = [], 0.0
            group.extend(order[i : i + size[u]])
            load += sub[u]
            i += size[u]
        else:
            top.append(u)
            i += 1
    if group:
        out.extend(by_height(group))
    return out + by_height(top)


def signature(items: list[Ref], count: Counter, K: set[Hashable]) -> tuple[Any, list[Hashable]]:
    """The signature of a group and its labels in local order (local label ``k`` is ``labels[k]``)."""
    local: dict[Hashable, int] = {}
    held: dict[Hashable, int] = {}
    facs = []
    for arr, idx, labs, tri in items:
        shape = arr.shape if idx is None else arr.shape[1:]
        cols = []
        for lab, d in zip(labs, shape[1:]):
            lid = local.get(lab)
            if lid is None:
                lid = local[lab] = len(local)
            held[lab] = held.get(lab, 0) + 1
            cols.append((lid, d))
        facs.append((shape[0], tuple(cols), tri))
    states = tuple("K" if lab in K else ("o" if count[lab] > held[lab] else "i") for lab in local)
    return (tuple(facs), states), list(local)


@functools.lru_cache(maxsize=1024)
def _holders(sig: Any) -> tuple[int, ...]:
    """How many factors of a group with signature ``sig`` hold each local label."""
    n = [0] * len(sig[1])
    for _, cols, _ in sig[0]:
        for lid, _ in cols:
            n[lid] += 1
    return tuple(n)


def gather(xp: Any, refs: list[Ref]) -> Any:
    """Stack the arrays of ``refs`` (runs of one batch are sliced, not copied one by one)."""
    parts: list[Any] = []
    k = 0
    while k < len(refs):
        arr, idx = refs[k][0], refs[k][1]
        if idx is None:
            j = k + 1
            while j < len(refs) and refs[j][1] is None:
                j += 1
            parts.append(xp.stack([r[0] for r in refs[k:j]]))
            k = j
            continue
        j = k + 1
        while j < len(refs) and refs[j][0] is arr and refs[j][1] == idx + (j - k):
            j += 1
        parts.append(arr[idx : idx + (j - k), ...])
        k = j
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def _fold_chunks(run: BatchFold, n_items: int, sig: Any, stack: Any,
                 chunks: list[tuple[int, int]] | None = None) -> list[tuple[Any, tuple[int, ...], bool, int, int]]:
    """Fold ``n_items`` members of one signature in chunks; ``stack(pos, start, end)`` gives the stacked
    factor at ``pos`` of members ``start:end``. The first chunk holds one member, whose intermediates size
    the next ones (at most :data:`CHUNK_BYTES`); ``chunks`` replays recorded bounds instead.
    Returns ``(R, local labels, triangular, start, end)`` per chunk."""
    facs, states = sig
    state = dict(enumerate(states))
    done = []
    start, chunk = 0, 1
    k = 0
    while start < n_items:
        end = chunks[k][1] if chunks is not None else min(n_items, start + chunk)
        group: list[Batch] = [(stack(pos, start, end), tuple(lid for lid, _ in labs), tri)
                              for pos, (_, labs, tri) in enumerate(facs)]
        before = run.largest
        run.largest = 0.0
        R, cols, tri = run.fold(group, state)
        del group
        per_item = max(run.largest / (end - start), 1.0)
        run.largest = max(before, run.largest)
        done.append((R, cols, tri, start, end))
        start, k = end, k + 1
        chunk = max(1, int(CHUNK_BYTES // per_item))
    return done


#: Where the factors at one position of a chunk come from: ``("own", vertices)`` (their own factors),
#: ``("seg", [(batch, start, stop), ...])`` (runs of earlier output batches) or ``("mix", [(batch or -1,
#: index or vertex), ...])``.
Source = tuple[str, Any]


def _sources(entries: list[tuple[int, int]]) -> Source:
    """The :data:`Source` of a chunk's factors at one position: ``(batch, index)`` per member, batch
    ``-1`` for an own factor (index: its vertex)."""
    if all(b < 0 for b, _ in entries):
        return ("own", [v for _, v in entries])
    if any(b < 0 for b, _ in entries):
        return ("mix", list(entries))
    segs: list[list[int]] = []
    for b, i in entries:
        if segs and segs[-1][0] == b and segs[-1][2] == i:
            segs[-1][2] += 1
        else:
            segs.append([b, i, i + 1])
    return ("seg", [tuple(x) for x in segs])


class Plan:
    """What :func:`side_forest` did on one side, replayed on new arrays of the same structure: the folds
    in order, each ``(signature, chunks, sources per chunk and position, batches last used there)``,
    and the labels of the final message (the last fold's single member)."""

    def __init__(self) -> None:
        self.folds: list[tuple[Any, list[tuple[int, int]], list[list[Source]], list[int]]] = []
        self.labels: list[Hashable] = []


def _record(run: BatchFold, factors: dict[int, tuple[Any, tuple[Hashable, ...]]], links: dict[int, list[int]],
            verts: set[int], K_set: set[Hashable], batched: bool) -> tuple[Plan, Ref]:
    xp = run.xp
    count: Counter = Counter()
    for _, cols in factors.values():
        count.update(cols)
    parent = root_forest(links, verts, {v: sum(lab in K_set for lab in f[1]) for v, f in factors.items()})
    plan = Plan()
    msgs: dict[int, list[tuple[int, Ref]]] = defaultdict(list)
    where: dict[int, tuple[int, int]] = {}  # vertex -> (output batch, index) of its message
    last_use: dict[int, int] = {}
    roots: list[tuple[int, Ref]] = []
    n_out = [0]  # output batches so far (the replay numbers them the same way)

    def fold(members: list[tuple[int, list[Ref], list[Hashable]]], srcs: list[list[int]], sig: Any) -> list[Ref]:
        done = _fold_chunks(run, len(members), sig,
                            lambda pos, a, b: gather(xp, [m[1][pos] for m in members[a:b]]))
        chunks = [(a, b) for *_, a, b in done]
        table = []
        for a, b in chunks:
            table.append([_sources([(-1, members[j][0]) if srcs[j][pos] < 0 else where[srcs[j][pos]]
                                    for j in range(a, b)]) for pos in range(len(sig[0]))])
            for j in range(a, b):
                for c in srcs[j]:
                    if c >= 0:
                        last_use[where[c][0]] = len(plan.folds)
        plan.folds.append((sig, chunks, table, []))
        out: list[Ref] = []
        first = n_out[0]
        n_out[0] += len(done)
        for n, (R, cols, tri, a, b) in enumerate(done):
            for j in range(a, b):
                u, _, labels = members[j]
                where[u] = (first + n, j - a)
                out.append((R, j - a, tuple(labels[c] for c in cols), tri))
        return out

    weight = {v: 8.0 * math.prod(int(d) for d in f[0].shape) for v, f in factors.items()}
    for level in schedule(parent, weight, BLOCK_BYTES):
        groups: dict[Any, list[tuple[int, list[Ref], list[Hashable]]]] = defaultdict(list)
        sources: dict[int, list[int]] = {}
        for u in level:
            got = msgs.pop(u, [])
            own = [(factors[u][0], None, factors[u][1], False)] if u in factors else []
            items = own + [ref for _, ref in got]
            if not items:
                continue
            sources[u] = [-1] * len(own) + [c for c, _ in got]
            sig, labels = signature(items, count, K_set)
            groups[sig if batched else (u, sig)].append((u, items, labels))
        for key, members in groups.items():
            sig = key if batched else key[1]
            held = _holders(sig)
            for (u, _, labels), ref in zip(members, fold(members, [sources[m[0]] for m in members], sig)):
                for lab, st, n in zip(labels, sig[1], held):
                    if st == "i":
                        del count[lab]
                    else:
                        count[lab] -= n - 1
                if parent[u] >= 0:
                    msgs[parent[u]].append((u, ref))
                else:
                    roots.append((u, ref))
    if not roots:  # pragma: no cover - a side always holds a factor
        raise RuntimeError("internal error: a side of the cut has no factor")
    items = [ref for _, ref in roots]
    sig, plan.labels = signature(items, count, K_set)
    (ref,) = fold([(-2, items, plan.labels)], [[u for u, _ in roots]], sig)
    for b, n in last_use.items():
        plan.folds[n][3].append(b)
    return plan, ref


def _stack(xp: Any, factors: dict[int, tuple[Any, tuple[Hashable, ...]]], outs: list[Any], src: Source) -> Any:
    kind, what = src
    if kind == "own":
        return xp.stack([factors[v][0] for v in what]) if len(what) > 1 else factors[what[0]][0][None, ...]
    if kind == "seg":
        parts = [outs[b][a:e, ...] for b, a, e in what]
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    return xp.stack([factors[i][0] if b < 0 else outs[b][i, ...] for b, i in what])


def _replay(run: BatchFold, plan: Plan, factors: dict[int, tuple[Any, tuple[Hashable, ...]]]) -> tuple[Any, Any]:
    """The last fold's ``(R, local labels)``, refolding the recorded plan on ``factors``."""
    xp = run.xp
    outs: list[Any] = []
    last: Any = None
    for sig, chunks, table, frees in plan.folds:
        done = []
        for (a, b), srcs in zip(chunks, table):
            def stack(pos: int, _a: int, _b: int, srcs: list[Source] = srcs) -> Any:
                return _stack(xp, factors, outs, srcs[pos])

            done.extend(_fold_chunks(run, b - a, sig, stack, [(0, b - a)]))
        for n in frees:
            outs[n] = None  # consumed: free the stacked messages now
        outs.extend(R for R, *_ in done)
        last = done[-1]
    return last[0], last[1]


def side_forest(xp: Any, run: BatchFold, factors: dict[int, tuple[Any, tuple[Hashable, ...]]],
                links: dict[int, list[int]], verts: set[int], K: list[Hashable], batched: bool = True,
                plan: Plan | None = None) -> tuple[Any, Any, Plan]:
    """``R`` of shape ``(r, chi)`` with ``X = Q R`` (``Q`` an isometry), the log of its scale, and the plan.

    ``factors`` maps a vertex to its own factor ``(array (rows, *cols), labels)``; a ``plan`` from an
    earlier call on the same structure (same network, same side) replays it without re-planning.
    """
    K_set = set(K)
    if plan is None:
        plan, (R, _, cols, _) = _record(run, factors, links, verts, K_set, batched)
    else:
        R, local = _replay(run, plan, factors)
        cols = tuple(plan.labels[c] for c in local)
    if set(cols) != K_set or len(cols) != len(K):  # pragma: no cover - guards the bookkeeping above
        raise RuntimeError(f"internal error: a side ends with indices {cols}, expected the cut {K}")
    R = xp.permute_dims(R[0, ...], (0, *[cols.index(lab) + 1 for lab in K]))
    return xp.reshape(R, (R.shape[0], -1)), run.log_scale, plan
