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
.. [1] The theory page, :ref:`theory-exact-rank`; J. T. Schwartz, "Fast probabilistic algorithms for
   verification of polynomial identities", J. ACM 27 (1980).

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

from .._core.options import check_budget
from ..partitions import validate_partition
from .arithmetic import DEFAULT_PRIME, check_prime, eliminate, elimination_temp_bytes, rank_mod_p
from .tensors import build_tensor_mod_p, check_model, coefficient_tensor_mod_p, gf_rng, plan_bytes, planned_bytes_mod_p

__all__ = [
    "DEFAULT_PRIME",
    "coefficient_tensor_mod_p",
    "generic_schmidt_rank",
    "planned_bytes_mod_p",
    "rank_mod_p",
]


def generic_schmidt_rank(model: Any, part: Iterable[int], p: int = DEFAULT_PRIME, seed: Any = 0,
                         output: int = 0, max_bytes: float | None = None) -> int:
    """The Schmidt rank that almost every weight setting of ``model``'s architecture attains.

    Computed exactly over GF(p) for weights drawn uniformly from GF(p): never above the generic rank, and
    equal to it with probability at least ``1 - deg/p`` (Schwartz-Zippel). Only the architecture of
    ``model`` is used.

    Parameters
    ----------
    model : ConvAC, ConvNet with product pooling, or DilatedConvNet with product pooling
    part : iterable of int
        The side ``I`` of the partition.
    p : int
        A prime below ``2**25``.
    seed : int, optional
        Seed of the random GF(p) weights; another seed gives an independent check.
    output : int
    max_bytes : float, optional
        Byte budget (default ``tnconv.options["max_dense_bytes"]``), checked against the planned peak of
        the coefficient tensor and of its matricization before anything is allocated.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        Not a product-pooling ConvNet; a non-int ``p`` or ``output``.
    ValueError
        An invalid partition, prime or output.
    tnconv.TensorTooLargeError
        When the planned peak exceeds the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009 (generic ranks of ConvACs).

    Examples
    --------
    >>> import tnconv as tc
    >>> generic_schmidt_rank(tc.shallow(6, 2, 3), tc.partitions.odd_even(6))
    3
    >>> generic_schmidt_rank(tc.DilatedConvNet(tc.ModeTree.balanced(8), 2, 3), tc.partitions.odd_even(8))
    16
    """
    p = check_prime(p)
    output = check_model(model, output)
    I = validate_partition(part, model.n_inputs)
    M, n = model.n_descriptors, model.n_inputs
    peak, rows = plan_bytes(model)
    # The smaller side indexes the rows so that the elimination works on a wide matrix.
    side = sorted(I) if 2 * len(I) <= n else sorted(set(range(n)) - I)
    rest = [k for k in range(n) if k not in set(side)]
    n_rows, n_cols = M ** len(side), M ** len(rest)
    peak = max(peak, 2 * 8 * n_rows * n_cols + elimination_temp_bytes(n_rows, n_cols))
    check_budget(f"the mod-p rank across the cut ({M}^{n} int64 entries, the tensor and its matricization)",
                 float(peak), max_bytes)
    A = build_tensor_mod_p(model, p, gf_rng(seed), output, rows)
    mat = np.ascontiguousarray(np.transpose(A, side + rest).reshape(n_rows, n_cols))
    del A
    return eliminate(mat, p)
