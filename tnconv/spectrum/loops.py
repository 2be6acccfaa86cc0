"""Sides of a cut that have cycles (imported loopy networks): contracted directly, or by their Gram matrix.

:func:`side_direct` contracts ``X`` (rows: the side's open legs; columns: the cut) with opt_einsum's
greedy path, its size checked against the byte budget first, and QR-factorizes it; :func:`side_gram`
is the fallback when ``X`` is over the budget, accurate only to about ``sqrt(chi eps) s_1``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import numpy as np

from .._core.options import check_budget
from .._core.symbols import einsum_symbols
from .errors import SpectrumRangeError
from .sides import Factor, PreparedNetwork

__all__ = ["einsum_plan", "side_direct", "side_gram"]


class _Row:
    """Marks the row copy of an open index whose tensor sits on the other side (or is shared)."""

    def __repr__(self) -> str:
        return "row"


ROW_MARK = _Row()


def einsum_plan(operands: list[Factor], out: tuple[Hashable, ...]) -> tuple[str, list[np.ndarray]]:
    sym = einsum_symbols([ix for _, ix in operands], [out])
    eq = ",".join("".join(sym[i] for i in ix) for _, ix in operands) + "->" + "".join(sym[i] for i in out)
    return eq, [a for a, _ in operands]


def side_direct(
    prep: PreparedNetwork, tensors: list[int], open_ps: list[int], K: list[Hashable], max_bytes: float | None
) -> tuple[np.ndarray, float]:
    """``R`` of a side with cycles: contract ``X`` (rows = this side's open legs, columns = ``K``), QR it.

    Raises TensorTooLargeError when ``X`` or an intermediate is over the budget.
    """
    from opt_einsum import contract, contract_path

    tn = prep.tn
    size = tn.size_dict
    K_set = set(K)
    operands: list[Factor] = [prep.tensors[k] for k in tensors]
    rows: list[Hashable] = []
    n_rows = 1
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] == 1:
            continue
        n_rows *= int(size[i])
        if i in K_set:
            operands.append((np.eye(size[i]), ((ROW_MARK, i), i)))
            rows.append((ROW_MARK, i))
        else:
            rows.append(i)
    out = tuple(rows) + tuple(K)
    eq, arrays = einsum_plan(operands, out)
    chi = math.prod(size[i] for i in K)
    check_budget(f"the {n_rows}x{chi} side matrix X of the cut", 16.0 * n_rows * chi, max_bytes)
    _, info = contract_path(eq, *arrays, optimize="greedy")
    check_budget("the largest intermediate of the cut-side contraction", 16.0 * float(info.largest_intermediate),
                 max_bytes)
    X = np.asarray(contract(eq, *arrays, optimize="greedy")).reshape(n_rows, chi)
    if n_rows > chi:
        X = np.asarray(np.linalg.qr(X, mode="r"))
    top = float(np.max(np.abs(X))) if X.size else 0.0
    if not math.isfinite(top):
        raise SpectrumRangeError(
            "contracting a side of this network (it has cycles) overflowed float64; rescale its tensors"
        )
    if top > 0:
        return X / top, math.log(top)
    return X, 0.0


def side_gram(
    prep: PreparedNetwork, tensors: list[int], open_ps: list[int], K: list[Hashable], max_bytes: float | None
) -> tuple[np.ndarray, float]:
    """``R`` from the Gram matrix ``X^H X`` of a side (the fallback; accurate to ``sqrt(chi eps)``)."""
    from opt_einsum import contract, contract_path

    tn = prep.tn
    size = tn.size_dict
    operands: list[Factor] = []
    for k in tensors:
        A, ix = prep.tensors[k]
        operands.append((A, tuple((i, 0) for i in ix)))
        operands.append((A.conj() if np.iscomplexobj(A) else A, tuple((i, 1) for i in ix)))
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] > 1:
            operands.append((np.eye(size[i]), ((i, 0), (i, 1))))
    out = tuple((i, 0) for i in K) + tuple((i, 1) for i in K)
    eq, arrays = einsum_plan(operands, out)
    _, info = contract_path(eq, *arrays, optimize="greedy")
    check_budget("the largest intermediate of the cut-side Gram contraction",
                 16.0 * float(info.largest_intermediate), max_bytes)
    chi = math.prod(size[i] for i in K)
    G = np.asarray(contract(eq, *arrays, optimize="greedy")).reshape(chi, chi)
    top = float(np.max(np.abs(G))) if G.size else 0.0
    if not math.isfinite(top):
        raise SpectrumRangeError(
            "contracting a side of this network (it has cycles) overflowed float64; rescale its tensors"
        )
    log_scale = 0.0
    if top > 0:
        G = G / top
        log_scale = math.log(top) / 2
    # G[k, k'] = sum X[., k] conj X[., k'] = conj(X^H X); S with S^H S = X^H X gives X = Q S.
    M = G.conj()
    M = (M + M.conj().T) / 2
    w, U = np.linalg.eigh(M)
    return np.sqrt(np.clip(w, 0, None))[:, None] * U.conj().T, log_scale
