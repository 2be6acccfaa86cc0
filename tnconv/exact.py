"""Exact ranks over a prime field: the generic Schmidt rank of an architecture without float round-off.

Coefficient tensors of deep ConvACs are products of many random factors; their singular values can
spread over 15 orders of magnitude, and a float SVD then miscounts the rank. Here weights are drawn
uniformly from GF(p), the coefficient tensor is built with int64 arithmetic modulo ``p < 2**25``
(products stay below ``2**50``), and matricizations are row-reduced modulo ``p``.

The rank modulo ``p`` of a matrix of integers never exceeds its rational rank, and for weights drawn
uniformly from GF(p) it equals the generic rank of the architecture with probability at least
``1 - deg/p`` (Schwartz-Zippel), where ``deg`` is the degree of the minor polynomial. A second draw with
another seed or prime confirms a value.

References
----------
.. [1] MATH.md §7; J. T. Schwartz, "Fast probabilistic algorithms for verification of polynomial
   identities", J. ACM 27 (1980).

Examples
--------
>>> import numpy as np, tnconv as tc
>>> rank_mod_p(np.array([[1, 2], [2, 4]]))
1
>>> net = tc.deep(8, 2, 2)
>>> generic_schmidt_rank(net, tc.partitions.odd_even(8)), generic_schmidt_rank(net, tc.partitions.left_right(8))
(16, 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._config import check_budget
from .partitions import validate_partition

__all__ = ["DEFAULT_PRIME", "coefficient_tensor_mod_p", "generic_schmidt_rank", "rank_mod_p"]

#: The largest prime below 2**25.
DEFAULT_PRIME = 33554393


def _check_prime(p: int) -> int:
    p = int(p)
    if not 2 <= p < 2**25:
        raise ValueError(f"prime {p} must be in [2, 2**25) so that products fit in int64")
    if any(p % q == 0 for q in range(2, int(p**0.5) + 1)):
        raise ValueError(f"{p} is not prime")
    return p


def rank_mod_p(matrix: Any, p: int = DEFAULT_PRIME) -> int:
    """Rank of an integer matrix over GF(p), by Gaussian elimination.

    Parameters
    ----------
    matrix : array_like of integers
    p : int
        A prime below ``2**25``.

    Returns
    -------
    int
        A lower bound on the rational rank; equal to it unless ``p`` divides certain minors.

    Raises
    ------
    TypeError
        Non-integer entries.
    """
    p = _check_prime(p)
    A = np.asarray(matrix)
    if A.dtype.kind not in "iu":
        if A.dtype.kind == "f" and np.all(np.round(A) == A):
            A = A.astype(np.int64)
        else:
            raise TypeError(f"rank_mod_p needs integer entries, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"rank_mod_p needs a matrix, got shape {A.shape}")
    A = np.mod(A.astype(np.int64), p)
    if A.shape[0] > A.shape[1]:
        A = A.T.copy()
    rows, cols = A.shape
    rank = 0
    for c in range(cols):
        if rank == rows:
            break
        pivots = np.flatnonzero(A[rank:, c])
        if pivots.size == 0:
            continue
        r = rank + pivots[0]
        if r != rank:
            A[[rank, r]] = A[[r, rank]]
        inv = pow(int(A[rank, c]), p - 2, p)
        A[rank] = (A[rank] * inv) % p
        below = A[rank + 1 :, c].copy()
        nz = np.flatnonzero(below)
        if nz.size:
            A[rank + 1 + nz] = (A[rank + 1 + nz] - np.outer(below[nz], A[rank]) % p) % p
        rank += 1
    return rank


def coefficient_tensor_mod_p(model: Any, p: int = DEFAULT_PRIME, seed: Any = None, output: int = 0,
                             max_bytes: float | None = None) -> np.ndarray:
    """The coefficient tensor of ``model``'s architecture with weights drawn uniformly from GF(p).

    Only the architecture (tree, widths, sharing) of ``model`` is used, not its float weights.

    Returns
    -------
    numpy.ndarray of int64, shape ``(M,) * n_inputs``, entries in ``0..p-1``.

    Raises
    ------
    TypeError
        For a non-product pooling operator (no coefficient tensor).
    tnconv.TensorTooLargeError
        Over the byte budget.
    """
    p = _check_prime(p)
    if not getattr(getattr(model, "g", None), "is_product", False):
        raise TypeError("coefficient_tensor_mod_p needs a ConvAC (product pooling)")
    tree = model.tree
    M, n = model.n_descriptors, model.n_inputs
    check_budget(f"the mod-p coefficient tensor ({M}^{n} int64 entries)", float(M) ** n * 8 * 2, max_bytes)
    rng = np.random.default_rng(seed)
    weights: dict[frozenset, np.ndarray] = {}
    by_height: dict[int, np.ndarray] = {}
    for v in tree.nodes:
        h = tree.height(v)
        if model.shared and h in by_height:
            weights[v] = by_height[h]
            continue
        shape = (model.in_width(v), model.widths[v])
        weights[v] = by_height[h] = rng.integers(0, p, size=shape, dtype=np.int64)

    def matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        # Accumulate one channel at a time so that partial sums stay below 2**63.
        out = np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
        for k in range(w.shape[0]):
            out = (out + np.outer(x[:, k], w[k]) % p) % p
        return out

    tables: dict[frozenset, tuple[np.ndarray, list[int]]] = {}
    for v in tree.nodes:
        W = weights[v] if v != tree.root else weights[v][:, output : output + 1]
        if tree.is_leaf(v):
            tables[v] = (W % p, [next(iter(v))])
            continue
        parts = [tables.pop(c) for c in tree.children(v)]
        width = parts[0][0].shape[1]
        acc = parts[0][0]
        for t, _ in parts[1:]:
            acc = (acc[:, None, :] * t[None, :, :] % p).reshape(-1, width)
        tables[v] = (matmul(acc, W), [m for _, modes in parts for m in modes])
    flat, order = tables[tree.root]
    return np.ascontiguousarray(np.transpose(flat[:, 0].reshape((M,) * n), np.argsort(order)))


def generic_schmidt_rank(model: Any, part: Iterable[int], p: int = DEFAULT_PRIME, seed: Any = 0,
                         output: int = 0) -> int:
    """The Schmidt rank that almost every weight setting of ``model``'s architecture attains.

    Computed exactly over GF(p) for weights drawn uniformly from GF(p): never above the generic rank, and
    equal to it with probability at least ``1 - deg/p`` (Schwartz-Zippel). Only the architecture of
    ``model`` is used.

    Parameters
    ----------
    model : ConvAC (or ConvNet with product pooling)
    part : iterable of int
        The side ``I`` of the partition.
    p : int
        A prime below ``2**25``.
    seed : int, optional
        Seed of the random GF(p) weights; another seed gives an independent check.
    output : int

    Returns
    -------
    int

    Raises
    ------
    ValueError
        An invalid partition or prime.
    tnconv.TensorTooLargeError
        When ``M ** n_inputs`` entries exceed the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009 (generic ranks of ConvACs).

    Examples
    --------
    >>> import tnconv as tc
    >>> generic_schmidt_rank(tc.shallow(6, 2, 3), tc.partitions.odd_even(6))
    3
    """
    from .entanglement import matricize

    A = coefficient_tensor_mod_p(model, p=p, seed=seed, output=output)
    validate_partition(part, model.n_inputs)
    return rank_mod_p(matricize(A, part), p)
