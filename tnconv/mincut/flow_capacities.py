"""Exact integer capacities for min cuts: common bases of dimensions and scaled logarithms.

A cut costs the *product* of its dimensions; flow solvers minimize *sums* of integer capacities. When
every dimension is a power of one integer ``b`` the capacities are the exponents; otherwise they are
``round(2**K log2(d))`` with ``K`` large enough that rounding cannot reorder two cuts (see
:mod:`tnconv.mincut.flow`). Everything here is exact for integers of any size.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_cut_dim", "common_base", "exponent", "integer_root", "min_root", "primes_upto", "scaled_log2"]


def integer_root(d: int, k: int) -> int:
    """``floor(d ** (1/k))`` for integers ``d >= 0``, ``k >= 1``, in exact integer arithmetic.

    Examples
    --------
    >>> integer_root(10**30, 3), integer_root(2**1100, 11) == 2**100, integer_root(26, 3)
    (10000000000, True, 2)
    """
    if d < 2 or k == 1:
        return d
    # Newton's iteration from above, x_{n+1} = ((k-1) x_n + d // x_n^(k-1)) // k, decreases to the root;
    # a float seed just above the root makes it converge quadratically from the first step.
    e = math.log2(d) / k
    shift = max(0, math.floor(e) - 60)
    x = (int(2.0 ** (e - shift) * (1 + 1e-9)) + 2) << shift
    if x**k < d:  # pragma: no cover - the float seed is below the root (cannot happen at 1e-9 margin)
        x = 1 << -(-d.bit_length() // k)
    while True:
        y = ((k - 1) * x + d // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def primes_upto(n: int) -> list[int]:
    sieve = bytearray([1]) * (n + 1)
    sieve[:2] = b"\x00\x00"[: min(2, n + 1)]
    for p in range(2, math.isqrt(n) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytearray(len(range(p * p, n + 1, p)))
    return [p for p in range(n + 1) if sieve[p]]


def min_root(d: int) -> int:
    """The smallest ``r`` with ``r**k == d`` for some ``k >= 1`` (exact for integers of any size)."""
    changed = True
    while changed and d > 3:
        changed = False
        for p in primes_upto(d.bit_length()):
            r = integer_root(d, p)
            if r**p == d:
                d, changed = r, True
                break
    return d


def common_base(dims: Sequence[int]) -> int | None:
    """The integer ``b`` of which every dimension (> 1) is a power, or ``None``.

    Two integers are powers of a common base exactly when their smallest perfect-power roots agree.
    Exact for integers of any size (no float conversion).

    Examples
    --------
    >>> common_base([4, 8, 2, 1]), common_base([9, 3]), common_base([2, 3]), common_base([2**1100, 8])
    (2, 3, None, 2)
    """
    roots = {min_root(int(d)) for d in dims if int(d) > 1}
    if not roots:
        return 2
    return roots.pop() if len(roots) == 1 else None


def exponent(d: int, b: int) -> int:
    k = 0
    while d > 1:
        d //= b
        k += 1
    return k


def scaled_log2(d: int, bits: int) -> int:
    """``round(2**bits * log2(d))`` to within 0.51, with :mod:`decimal` at enough digits."""
    if d == 1:
        return 0
    digits = int((bits + d.bit_length().bit_length() + 16) * 0.30103) + 8
    ctx = decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX,
                          Emin=decimal.MIN_EMIN)
    val = ctx.multiply(ctx.divide(ctx.ln(decimal.Decimal(d)), ctx.ln(decimal.Decimal(2))),
                       ctx.power(decimal.Decimal(2), bits))
    return int(val.to_integral_value(rounding=decimal.ROUND_HALF_EVEN, context=ctx))


def check_cut_dim(index: Hashable, d: Any) -> int:
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise ValueError(f"index {index!r} has dimension {d!r}; dimensions must be positive ints")
    if d < 1:
        raise ValueError(f"index {index!r} has dimension {int(d)}; dimensions must be positive ints")
    return int(d)
