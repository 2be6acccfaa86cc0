"""One side of a cut that is a forest, contracted level by level with same-shaped messages stacked.

Each component of the side's graph is rooted at the centroid of its cut indices (so no message carries
more than half of them down a path). A vertex's *height* is 0 for a leaf and one more than its highest
child; all vertices of one height are ready together. Among them, those whose groups (own factor and
children's messages) have the same *signature* — the shapes, the pattern of shared labels and each
label's state (cut index, held outside the group, or only inside) — perform the same sequence of
combinations, so their factors are stacked and folded at once by :class:`~.batched.BatchFold`, in chunks
of at most :data:`CHUNK_BYTES`. ``batched=False`` folds every vertex alone (the same code, one message
per batch): the per-node reference of the tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from typing import Any

from .batched import Batch, BatchFold

__all__ = ["CHUNK_BYTES", "side_forest"]

#: Largest stacked intermediate of one chunk of a batch (bytes); bounds the peak memory per level.
CHUNK_BYTES = 2**24

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


def heights(parent: dict[int, int]) -> dict[int, list[int]]:
    """``{height: vertices}``: 0 for leaves, one more than the highest child otherwise."""
    children: dict[int, list[int]] = defaultdict(list)
    for v, p in parent.items():
        if p >= 0:
            children[p].append(v)
    h: dict[int, int] = {}
    stack = [v for v, p in parent.items() if p < 0]
    order: list[int] = []
    while stack:
        u = stack.pop()
        order.append(u)
        stack.extend(children[u])
    for u in reversed(order):
        h[u] = 1 + max((h[c] for c in children[u]), default=-1)
    levels: dict[int, list[int]] = defaultdict(list)
    for u in order:
        levels[h[u]].append(u)
    return levels


def signature(items: list[Ref], count: Counter, K: set[Hashable]) -> tuple[Any, list[Hashable]]:
    """The signature of a group and its labels in local order (local label ``k`` is ``labels[k]``)."""
    local: dict[Hashable, int] = {}
    facs = []
    for arr, idx, labs, tri in items:
        shape = arr.shape if idx is None else arr.shape[1:]
        facs.append((shape[0], tuple((local.setdefault(lab, len(local)), d) for lab, d in zip(labs, shape[1:])), tri))
    held: Counter = Counter(lab for _, _, labs, _ in items for lab in labs)
    states = tuple("K" if lab in K else ("o" if count[lab] > held[lab] else "i") for lab in local)
    return (tuple(facs), states), list(local)


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


def _fold_batch(run: BatchFold, members: list[tuple[int, list[Ref], list[Hashable]]], sig: Any,
                K: set[Hashable]) -> list[Ref]:
    """Fold a signature group in chunks; each member's message as ``(batch, index, labels)``."""
    facs, states = sig
    state = dict(enumerate(states))
    out: list[Ref] = []
    n_items = len(members)
    start, chunk = 0, 1
    while start < n_items:
        part = members[start : start + chunk]
        group: list[Batch] = []
        for pos, (_, labs, tri) in enumerate(facs):
            group.append((gather(run.xp, [m[1][pos] for m in part]), tuple(lid for lid, _ in labs), tri))
        before = run.largest
        run.largest = 0.0
        R, cols, tri = run.fold(group, state)
        per_item = max(run.largest / len(part), 1.0)
        run.largest = max(before, run.largest)
        for b, (_, _, labels) in enumerate(part):
            out.append((R, b, tuple(labels[c] for c in cols), tri))
        start += len(part)
        chunk = max(1, int(CHUNK_BYTES // per_item))
    return out


class Plan:
    """What :func:`side_forest` did on one side, replayed on new arrays of the same structure: per level,
    the signature groups with each member's sources (``-1`` its own factor, else a child vertex)."""

    def __init__(self) -> None:
        self.levels: list[list[tuple[Any, list[tuple[int, list[int], list[Hashable]]]]]] = []
        self.roots: list[int] = []
        self.root_sig: Any = None
        self.root_labels: list[Hashable] = []


def _record(run: BatchFold, factors: dict[int, tuple[Any, tuple[Hashable, ...]]], links: dict[int, list[int]],
            verts: set[int], K_set: set[Hashable], batched: bool) -> tuple[Plan, dict[int, Ref]]:
    count: Counter = Counter()
    for _, cols in factors.values():
        count.update(cols)
    parent = root_forest(links, verts, {v: sum(lab in K_set for lab in f[1]) for v, f in factors.items()})
    plan = Plan()
    msgs: dict[int, list[tuple[int, Ref]]] = defaultdict(list)
    out: dict[int, Ref] = {}
    for _, level in sorted(heights(parent).items()):
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
        rec = []
        for key, members in groups.items():
            sig = key if batched else key[1]
            rec.append((sig, [(u, sources[u], labels) for u, _, labels in members]))
            for (u, items, labels), ref in zip(members, _fold_batch(run, members, sig, K_set)):
                for lab, st in zip(labels, sig[1]):
                    if st == "i":
                        del count[lab]
                    else:
                        count[lab] -= sum(lab in it[2] for it in items) - 1
                if parent[u] >= 0:
                    msgs[parent[u]].append((u, ref))
                else:
                    plan.roots.append(u)
                    out[u] = ref
        plan.levels.append(rec)
    roots = [out[u] for u in plan.roots]
    if not roots:  # pragma: no cover - a side always holds a factor
        raise RuntimeError("internal error: a side of the cut has no factor")
    plan.root_sig, plan.root_labels = signature(roots, count, K_set)
    return plan, out


def _replay(run: BatchFold, plan: Plan, factors: dict[int, tuple[Any, tuple[Hashable, ...]]],
            K_set: set[Hashable]) -> dict[int, Ref]:
    out: dict[int, Ref] = {}
    for rec in plan.levels:
        for sig, members in rec:
            mems = [(u, [(factors[u][0], None, factors[u][1], False) if c < 0 else out.pop(c) for c in srcs], labels)
                    for u, srcs, labels in members]
            for (u, _, _), ref in zip(mems, _fold_batch(run, mems, sig, K_set)):
                out[u] = ref
    return out


def side_forest(xp: Any, run: BatchFold, factors: dict[int, tuple[Any, tuple[Hashable, ...]]],
                links: dict[int, list[int]], verts: set[int], K: list[Hashable], batched: bool = True,
                plan: Plan | None = None) -> tuple[Any, Any, Plan]:
    """``R`` of shape ``(r, chi)`` with ``X = Q R`` (``Q`` an isometry), the log of its scale, and the plan.

    ``factors`` maps a vertex to its own factor ``(array (rows, *cols), labels)``; a ``plan`` from an
    earlier call on the same structure (same network, same side) replays it without re-planning.
    """
    K_set = set(K)
    if plan is None:
        plan, out = _record(run, factors, links, verts, K_set, batched)
    else:
        out = _replay(run, plan, factors, K_set)
    roots = [out[u] for u in plan.roots]
    (R, _, cols, _), = _fold_batch(run, [(-1, roots, plan.root_labels)], plan.root_sig, K_set)
    if set(cols) != K_set or len(cols) != len(K):  # pragma: no cover - guards the bookkeeping above
        raise RuntimeError(f"internal error: a side ends with indices {cols}, expected the cut {K}")
    R = xp.permute_dims(R[0, ...], (0, *[cols.index(lab) + 1 for lab in K]))
    return xp.reshape(R, (R.shape[0], -1)), run.log_scale, plan
