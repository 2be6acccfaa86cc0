"""Independent reference computations for the tests (no tnconv code inside)."""

import importlib.util
import itertools
from fractions import Fraction

import numpy as np
import pytest


def brute_force_output(A, F):
    """h(X) = sum_d A[d] prod_i F[:, i, d_i], by an explicit loop over all index tuples."""
    n = A.ndim
    out = np.zeros(F.shape[0])
    for d in itertools.product(*(range(s) for s in A.shape)):
        term = np.full(F.shape[0], A[d])
        for i in range(n):
            term = term * F[:, i, d[i]]
        out += term
    return out


def fraction_rank(M):
    """Exact rational rank of an integer matrix by Gaussian elimination over Fractions."""
    rows = [[Fraction(int(x)) for x in row] for row in np.asarray(M)]
    rank, ncols = 0, len(rows[0]) if rows else 0
    for c in range(ncols):
        piv = next((r for r in range(rank, len(rows)) if rows[r][c] != 0), None)
        if piv is None:
            continue
        rows[rank], rows[piv] = rows[piv], rows[rank]
        for r in range(len(rows)):
            if r != rank and rows[r][c] != 0:
                f = rows[r][c] / rows[rank][c]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[rank])]
        rank += 1
    return rank


def unfold(A, part):
    """Matricization written directly with moveaxis (rows = sorted part)."""
    I = sorted(part)
    J = [k for k in range(A.ndim) if k not in I]
    B = np.moveaxis(A, I + J, list(range(A.ndim)))
    return B.reshape(int(np.prod([A.shape[k] for k in I])), -1)


def rank_mod_p(A, p):
    """Rank over GF(p) by Gaussian elimination (int64; every product < p**2 < 2**50 for p < 2**25)."""
    A = np.array(A, dtype=np.int64) % p
    if A.shape[0] > A.shape[1]:
        A = A.T.copy()
    rows, cols = A.shape
    r = 0
    for c in range(cols):
        nz = np.flatnonzero(A[r:, c])
        if nz.size == 0:
            continue
        i = r + int(nz[0])
        A[[r, i]] = A[[i, r]]
        A[r] = A[r] * pow(int(A[r, c]), p - 2, p) % p
        f = A[:, c].copy()
        f[r] = 0
        A = (A - (f[:, None] * A[r][None, :]) % p) % p
        r += 1
        if r == rows:
            break
    return r


def mps_einsum(n, d, chi):
    """An open-boundary MPS as an einsum equation and its shapes (physical legs are the output)."""
    import string

    letters = iter(string.ascii_letters)
    phys = [next(letters) for _ in range(n)]
    bonds = [next(letters) for _ in range(n - 1)]
    terms, shapes = [], []
    for i in range(n):
        t, s = phys[i], [d]
        if i > 0:
            t, s = bonds[i - 1] + t, [chi] + s
        if i < n - 1:
            t, s = t + bonds[i], s + [chi]
        terms.append(t)
        shapes.append(s)
    return ",".join(terms) + "->" + "".join(phys), shapes


def node_by_node_forward(tree, weights, g_pair, F):
    """Plain node-by-node numpy evaluation of a tree ConvNet (an oracle independent of tnconv's engines).

    ``weights[node]`` are numpy matrices, ``g_pair(a, b)`` the pooling operator on two arrays.
    """
    acts = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            x = F[:, next(iter(v)), :]
        else:
            kids = [acts.pop(c) for c in tree.children(v)]
            x = kids[0]
            for y in kids[1:]:
                x = g_pair(x, y)
        acts[v] = x @ np.asarray(weights[v])
    return acts[tree.root]


POOL_PAIRS = {
    "product": lambda a, b: a * b,
    "relu_max": lambda a, b: np.maximum(np.maximum(a, b), 0),
    "relu_sum": lambda a, b: np.maximum(a, 0) + np.maximum(b, 0),
}


#: torch is optional (several GB): the tests that train with it skip without it.
NEEDS_TORCH = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="needs torch: pip install 'tnconv[torch]'")
