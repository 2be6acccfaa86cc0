"""Coefficient tensors modulo a prime, for weights drawn uniformly from GF(p): ConvNets with product
pooling (one matrix per node) and dilated nets (one matrix per child), built node by node in row chunks
against a planned peak.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.options import check_budget
from .arithmetic import CHUNK_ENTRIES, DEFAULT_PRIME, block_size, check_prime

__all__ = ["build_tensor_mod_p", "check_model", "coefficient_tensor_mod_p", "gf_rng", "plan_bytes",
           "planned_bytes_mod_p"]


def check_model(model: Any, output: Any) -> int:
    from ..models.convnet import ConvNet
    from ..models.dilated import DilatedConvNet

    if not isinstance(model, (ConvNet, DilatedConvNet)):
        hint = (" (a mixed decomposition is not a single tree: use tnconv.tiling_rank_bounds, or the dense "
                "coefficient_tensor() and tnconv.schmidt_rank)" if type(model).__name__ == "MixedConvNet" else "")
        raise TypeError(
            "this exact computation needs a ConvAC (a ConvNet with product pooling) or a DilatedConvNet with "
            f"product pooling, got {type(model).__name__}{hint}"
        )
    if not model.g.is_product:
        raise TypeError(f"it needs product pooling (a ConvAC); this net pools with {model.g.name!r}")
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int in 0..{model.n_outputs - 1}, got {output!r}")
    if not 0 <= output < model.n_outputs:
        raise ValueError(f"output {output} out of range for n_outputs={model.n_outputs}")
    return int(output)


def chunk_rows(width: int, out_width: int) -> int:
    return max(1, CHUNK_ENTRIES // max(width, out_width, 1))


def planned_bytes_mod_p(model: Any) -> int:
    """Peak bytes that :func:`coefficient_tensor_mod_p` allocates for ``model``.

    The count follows the computation step by step: the int64 GF(p) weights, every live node table
    (``rows x width`` int64), the chunk temporaries of pooling, and at the end the ``M ** n`` result
    together with its transposed copy. Measured peaks (tracemalloc) lie within about 15% below it.

    Parameters
    ----------
    model : ConvAC, ConvNet or DilatedConvNet with product pooling

    Returns
    -------
    int

    Raises
    ------
    TypeError
        Not a product-pooling model over a mode tree.

    Examples
    --------
    >>> import tnconv as tc
    >>> planned_bytes_mod_p(tc.deep(4, 2, 2)) >= 2 * 2**4 * 8
    True
    """
    check_model(model, 0)
    return plan_bytes(model)[0]


def _is_dilated(model: Any) -> bool:
    from ..models.dilated import DilatedConvNet

    return isinstance(model, DilatedConvNet)


def plan_bytes(model: Any) -> tuple[int, dict[frozenset, int]]:
    if _is_dilated(model):
        return _plan_dilated(model)
    tree = model.tree
    seen: set[int] = set()
    weight_bytes = 0
    for v in tree.nodes:
        key = tree.height(v) if model.shared else id(v)
        if key not in seen:
            seen.add(key)
            weight_bytes += 8 * model.in_width(v) * model.widths[v]
    rows: dict[frozenset, int] = {}
    modes: dict[frozenset, list[int]] = {}
    live = weight_bytes  # leaf tables are the weights themselves
    peak = live
    for v in tree.nodes:
        if tree.is_leaf(v):
            rows[v] = model.n_descriptors
            modes[v] = [next(iter(v))]
            continue
        kids = tree.children(v)
        modes[v] = [m for c in kids for m in modes.pop(c)]
        n_rows = 1
        for c in kids:
            n_rows *= rows[c]
        rows[v] = n_rows
        width = model.widths[kids[0]]
        out_width = 1 if v == tree.root else model.widths[v]
        chunk = min(n_rows, chunk_rows(width, out_width))
        out_bytes = 8 * n_rows * out_width
        temp = 8 * chunk * (2 * width + out_width + len(kids) + 1)
        peak = max(peak, live + out_bytes + temp)
        live += out_bytes - sum(8 * rows[c] * model.widths[c] for c in kids if not tree.is_leaf(c))
    if modes[tree.root] != sorted(modes[tree.root]):
        peak = max(peak, live + 8 * rows[tree.root])  # the transposed contiguous copy of the result
    return peak, rows


def _plan_dilated(model: Any) -> tuple[int, dict[frozenset, int]]:
    """The peak of the dilated (per-child matrix) form: each child's table is mapped by its own matrix,
    then the mapped tables are pooled row-chunk by row-chunk into the node's table."""
    tree, w, M = model.tree, model.width, model.n_descriptors
    seen: set[Any] = set()
    live = 0
    for v in tree.nodes:
        key = tree.height(v) if model.shared else v
        if key in seen:
            continue
        seen.add(key)
        out_w = model.n_outputs if v == tree.root else w
        live += 8 * (M * w if tree.is_leaf(v) else len(tree.children(v)) * w * out_w)
    peak = live
    rows: dict[frozenset, int] = {}
    modes: dict[frozenset, list[int]] = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            rows[v] = M
            modes[v] = [next(iter(v))]
            continue
        kids = tree.children(v)
        modes[v] = [m for c in kids for m in modes.pop(c)]
        out_w = 1 if v == tree.root else w
        n_rows = math.prod(rows[c] for c in kids)
        rows[v] = n_rows
        mapped = sum(8 * rows[c] * out_w for c in kids)
        chunk = min(n_rows, chunk_rows(out_w, out_w))
        out_bytes = 8 * n_rows * out_w
        # chunk temporaries: the gathered rows, one factor, the index arrays; plus a small fixed allowance
        # for the generator and index bookkeeping
        peak = max(peak, live + mapped + out_bytes + 8 * chunk * (3 * out_w + len(kids) + 1) + 2**16)
        live += out_bytes - sum(8 * rows[c] * w for c in kids if not tree.is_leaf(c))
    if modes[tree.root] != sorted(modes[tree.root]):
        peak = max(peak, live + 8 * rows[tree.root])
    return peak, rows


def coefficient_tensor_mod_p(model: Any, p: int = DEFAULT_PRIME, seed: Any = None, output: int = 0,
                             max_bytes: float | None = None) -> np.ndarray:
    """The coefficient tensor of ``model``'s architecture with weights drawn uniformly from GF(p).

    Only the architecture (tree, widths, sharing) of ``model`` is used, not its float weights. Nodes are
    computed bottom-up, each in chunks of rows, so that beyond the node tables (and the result with its
    transposed copy) only a few chunk temporaries are ever allocated; :func:`planned_bytes_mod_p` counts
    the peak, and it is checked against the budget before anything is allocated.

    Parameters
    ----------
    model : ConvAC, ConvNet with product pooling, or DilatedConvNet with product pooling
    p : int
        A prime below ``2**25``.
    seed : int or numpy Generator, optional
        Seed of the GF(p) weights.
    output : int
        The output channel.
    max_bytes : float, optional
        Byte budget (default ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    numpy.ndarray of int64, shape ``(M,) * n_inputs``, entries in ``0..p-1``.

    Raises
    ------
    TypeError
        Not a ConvNet, or a non-product pooling operator (no coefficient tensor); a non-int ``output``
        or ``p``.
    ValueError
        ``output`` out of range, ``p`` not a prime below ``2**25``, an invalid seed.
    tnconv.TensorTooLargeError
        When the planned peak exceeds the byte budget.

    Examples
    --------
    >>> import tnconv as tc
    >>> coefficient_tensor_mod_p(tc.shallow(3, 2, 1), p=7, seed=0).shape
    (2, 2, 2)
    """
    p = check_prime(p)
    output = check_model(model, output)
    peak, rows = plan_bytes(model)
    M, n = model.n_descriptors, model.n_inputs
    check_budget(f"the mod-p coefficient tensor ({M}^{n} int64 entries, with its node tables and copies)",
                 float(peak), max_bytes)
    return build_tensor_mod_p(model, p, gf_rng(seed), output, rows)


def gf_rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"seed {seed!r} is not valid: {exc}") from None


def build_tensor_mod_p(model: Any, p: int, rng: np.random.Generator, output: int,
                              rows: dict[frozenset, int]) -> np.ndarray:
    if _is_dilated(model):
        flat, order = _dilated_table_mod_p(model, p, rng, output, rows)
        return _as_dense(flat, order, model)
    tree = model.tree
    weights: dict[frozenset, np.ndarray] = {}
    by_height: dict[int, np.ndarray] = {}
    for v in tree.nodes:
        h = tree.height(v)
        if model.shared and h in by_height:
            weights[v] = by_height[h]
            continue
        shape = (model.in_width(v), model.widths[v])
        weights[v] = by_height[h] = rng.integers(0, p, size=shape, dtype=np.int64)
    block = block_size(p)
    tables: dict[frozenset, tuple[np.ndarray, list[int]]] = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            tables[v] = (weights[v], [next(iter(v))])
            continue
        W = weights[v] if v != tree.root else weights[v][:, output : output + 1]
        parts = [tables.pop(c) for c in tree.children(v)]
        tables[v] = (_node_table([t for t, _ in parts], W, p, block, rows[v]), [m for _, ms in parts for m in ms])
        del parts  # the children's tables are freed here, as planned
    flat, order = tables.pop(tree.root)
    return _as_dense(flat, order, model)


def _dilated_table_mod_p(model: Any, p: int, rng: np.random.Generator, output: int,
                         rows: dict[frozenset, int]) -> tuple[np.ndarray, list[int]]:
    """The root table of a dilated net: each node maps child ``j``'s table by its own matrix ``W_j``,
    then pools the mapped tables (a Khatri-Rao product of rows), as in ``DilatedConvNet``."""
    tree, w, M = model.tree, model.width, model.n_descriptors
    drawn: dict[Any, Any] = {}
    block = block_size(p)
    tables: dict[frozenset, tuple[np.ndarray, list[int]]] = {}
    for v in tree.nodes:
        key = tree.height(v) if model.shared else v
        if key not in drawn:
            if tree.is_leaf(v):
                drawn[key] = rng.integers(0, p, size=(M, w), dtype=np.int64)
            else:
                out_w = model.n_outputs if v == tree.root else w
                drawn[key] = [rng.integers(0, p, size=(w, out_w), dtype=np.int64) for _ in tree.children(v)]
        if tree.is_leaf(v):
            tables[v] = (drawn[key], [next(iter(v))])
            continue
        mats = drawn[key] if v != tree.root else [W[:, output : output + 1] for W in drawn[key]]
        parts = [tables.pop(c) for c in tree.children(v)]
        mapped = [_matmul_mod_p(t, W, p, block) for (t, _), W in zip(parts, mats)]
        tables[v] = (_pooled_table(mapped, p, rows[v]), [m for _, ms in parts for m in ms])
        del parts, mapped
    return tables.pop(tree.root)


def _matmul_mod_p(T: np.ndarray, W: np.ndarray, p: int, block: int) -> np.ndarray:
    out = np.zeros((T.shape[0], W.shape[1]), dtype=np.int64)
    for k in range(0, W.shape[0], block):
        out += T[:, k : k + block] @ W[k : k + block]
        out %= p
    return out


def _pooled_table(tables: list[np.ndarray], p: int, n_rows: int) -> np.ndarray:
    """The Khatri-Rao product of ``tables`` (rows: every combination, first table slowest) mod ``p``."""
    out = np.empty((n_rows, tables[0].shape[1]), dtype=np.int64)
    for start, stop, pooled in pooled_chunks(tables, p, n_rows, chunk_rows(out.shape[1], out.shape[1])):
        out[start:stop] = pooled
    return out


def pooled_chunks(tables: list[np.ndarray], p: int, n_rows: int, step: int) -> Any:
    shape = tuple(t.shape[0] for t in tables)
    for start in range(0, n_rows, step):
        stop = min(start + step, n_rows)
        idx = np.unravel_index(np.arange(start, stop), shape)
        pooled = tables[0][idx[0]]
        for t, ix in zip(tables[1:], idx[1:]):
            pooled *= t[ix]
            pooled %= p
        yield start, stop, pooled


def _as_dense(flat: np.ndarray, order: list[int], model: Any) -> np.ndarray:
    dense = flat.reshape((model.n_descriptors,) * model.n_inputs)
    perm = np.argsort(order)
    if np.array_equal(perm, np.arange(len(perm))):
        return dense
    return np.ascontiguousarray(np.transpose(dense, perm))


def _node_table(tables: list[np.ndarray], W: np.ndarray, p: int, block: int, n_rows: int) -> np.ndarray:
    """``(pooled children) @ W mod p``, pooled row-chunk by row-chunk (the full pooled table never exists)."""
    out = np.empty((n_rows, W.shape[1]), dtype=np.int64)
    for start, stop, pooled in pooled_chunks(tables, p, n_rows, chunk_rows(W.shape[0], W.shape[1])):
        acc = out[start:stop]
        acc[...] = 0
        for k in range(0, W.shape[0], block):
            acc += pooled[:, k : k + block] @ W[k : k + block]
            acc %= p
    return out
