"""Arithmetic modulo a prime ``p < 2**25``: the default prime, block sizes that keep int64 sums exact, and
ranks by row reduction.

References
----------
.. [1] J. T. Schwartz, "Fast probabilistic algorithms for verification of polynomial identities",
   J. ACM 27 (1980).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.options import check_budget

__all__ = [
    "CHUNK_ENTRIES",
    "DEFAULT_PRIME",
    "block_size",
    "check_prime",
    "eliminate",
    "elimination_temp_bytes",
    "rank_mod_p",
]

#: The largest prime below 2**25.
DEFAULT_PRIME = 33554393

#: Entries per chunk of the row-wise work (pooling gathers, elimination updates): bounds the temporaries
#: at a few times 8 MiB whatever the size of the tensor.
CHUNK_ENTRIES = 2**20


def check_prime(p: Any) -> int:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
        raise TypeError(f"the prime p must be an int, got {p!r} ({type(p).__name__})")
    p = int(p)
    if not 2 <= p < 2**25:
        raise ValueError(f"prime p={p} must be in [2, 2**25) so that products fit in int64")
    if any(p % q == 0 for q in range(2, int(p**0.5) + 1)):
        raise ValueError(f"p={p} is not prime")
    return p


def block_size(p: int) -> int:
    """How many products ``a*b`` (``a, b < p``) can be summed onto a value ``< p`` within int64."""
    return max(1, (2**63 - 1 - p) // ((p - 1) ** 2 or 1))


def _reduced_copy(matrix: Any, p: int, transpose: bool) -> np.ndarray:
    """A new C-ordered int64 array holding ``matrix mod p`` (transposed if asked)."""
    A = matrix.T if transpose else matrix
    kind = A.dtype.kind
    out = np.empty(A.shape, dtype=np.int64)
    if kind in "iu":
        src = A.astype(np.uint64 if kind == "u" else np.int64, copy=False)
        np.remainder(src, p, out=out, casting="unsafe")
    elif kind == "f":
        # fmod is exact on integral floats, whatever their magnitude; the sign is fixed afterwards.
        red = np.fmod(A, float(p))
        red[red < 0] += p
        out[...] = red
    else:  # object arrays of Python ints: exact big-integer reduction
        out[...] = np.vectorize(lambda x: int(x) % p, otypes=[np.int64])(A) if A.size else 0
    return out


def rank_mod_p(matrix: Any, p: int = DEFAULT_PRIME, max_bytes: float | None = None) -> int:
    """Rank of an integer matrix over GF(p), by Gaussian elimination.

    Parameters
    ----------
    matrix : array_like of integers
        Integer dtypes, integral floats or Python ints of any size (reduced exactly modulo ``p``).
    p : int
        A prime below ``2**25``.
    max_bytes : float, optional
        Byte budget for the working copy (default ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    int
        A lower bound on the rational rank; equal to it unless ``p`` divides certain minors.

    Raises
    ------
    TypeError
        Non-integer entries or a prime that is not an int.
    ValueError
        Not a (rectangular) matrix, non-finite entries, ``p`` not a prime below ``2**25``.
    tnconv.TensorTooLargeError
        When the working copy (8 bytes per entry, twice for float input) exceeds the budget.

    Examples
    --------
    >>> rank_mod_p([[1, 2], [3, 4]]), rank_mod_p([[1, 2], [3, 4]], p=2)
    (2, 1)
    """
    p = check_prime(p)
    try:
        A = np.asarray(matrix)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"rank_mod_p needs a rectangular matrix of integers: {exc}") from None
    if A.ndim != 2:
        raise ValueError(f"rank_mod_p needs a matrix, got an array of shape {A.shape}")
    if A.dtype.kind == "f":
        if not np.isfinite(A).all():
            raise ValueError("rank_mod_p got NaN or infinite entries; it needs integers")
        if not np.all(np.round(A) == A):
            raise TypeError(f"rank_mod_p needs integer entries, got non-integral values of dtype {A.dtype}")
    elif A.dtype.kind == "O":
        bad = next((x for x in A.flat if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer))),
                   None)
        if bad is not None:
            raise TypeError(f"rank_mod_p needs integer entries, got {bad!r} ({type(bad).__name__})")
    elif A.dtype.kind not in "iu":
        raise TypeError(f"rank_mod_p needs integer entries, got dtype {A.dtype}")
    entries = float(A.shape[0]) * A.shape[1]
    copies = 2 if A.dtype.kind == "f" else 1
    check_budget(f"rank_mod_p's int64 working copy of the {A.shape[0]} x {A.shape[1]} matrix",
                 entries * 8 * copies + elimination_temp_bytes(min(A.shape), max(A.shape)), max_bytes)
    return eliminate(_reduced_copy(A, p, transpose=A.shape[0] > A.shape[1]), p)


def elimination_temp_bytes(rows: int, cols: int) -> float:
    # Per pivot: the pivot row and column copies, and a chunk's product, gathered rows and difference.
    chunk = max(1, CHUNK_ENTRIES // max(1, cols)) * cols
    return 8.0 * (3 * chunk + 2 * cols + 2 * rows)


def eliminate(A: np.ndarray, p: int) -> int:
    """Row-reduce the C-ordered int64 array ``A`` (entries in ``0..p-1``, ``rows <= cols``) in place."""
    rows, cols = A.shape
    rank = 0
    for c in range(cols):
        if rank == rows:
            break
        pivots = np.flatnonzero(A[rank:, c])
        if pivots.size == 0:
            continue
        r = rank + int(pivots[0])
        if r != rank:
            A[[rank, r], c:] = A[[r, rank], c:]
        inv = pow(int(A[rank, c]), p - 2, p)
        pivot_row = (A[rank, c:] * inv) % p
        A[rank, c:] = pivot_row
        below = np.flatnonzero(A[rank + 1 :, c]) + rank + 1
        step = max(1, CHUNK_ENTRIES // max(1, cols - c))
        for start in range(0, below.size, step):
            idx = below[start : start + step]
            upd = np.multiply.outer(A[idx, c], pivot_row)
            upd %= p
            A[idx, c:] = (A[idx, c:] - upd) % p
        rank += 1
    return rank
