"""Log-scale evaluation: activations carried as (mantissa, per-sample binary exponent) pairs.

A ConvAC over N inputs multiplies N leaf values, so its output scales like ``c**N``: for a few thousand
inputs plain float64 overflows or underflows, and float32 does so after about a hundred. In log mode every
activation vector (one per node and sample) is kept as ``y * 2**e`` with ``max|y|`` in ``[1/2, 1)`` and an
integer exponent ``e`` held in float64 (exact up to ``2**53``):

* after every 1x1 convolution the vector is divided by the power of two of its largest magnitude
  (:func:`normalize_`); dividing by a power of two is exact, so the rescaling itself adds no rounding;
* product pooling multiplies the children pairwise and renormalizes every partial product before the
  next round (:func:`pool_scales`), so a window of any width never leaves the floating-point range:
  each multiplication is of two vectors whose largest entries are in ``[1/2, 1)``;
* positively homogeneous pooling (``relu_max``, ``relu_sum``: ``g(t a, t b) = t g(a, b)`` for ``t > 0``)
  applies the ReLU first and brings the children to the exponent of the largest rectified child, so
  a child that is all negative cannot push a small positive one below the range;
* features whose vectors lie far outside ``[2**-60, 2**60]`` are rescaled the same way before the first
  convolution (:func:`scale_features`, :func:`leaf_too_small`).

The result is ``(sign, log|h|)`` with ``log|h| = log|y| + e log 2`` evaluated in float64 and rounded once
to the model's dtype.

This module holds the in-place variants for numpy and CuPy (:func:`normalize_`, :func:`pool_scales`);
the functional ones, which run on any namespace, and the shared pieces (binary exponents, exact scaling,
feature rescaling, :func:`finish`) live in :mod:`tnconv.models.log_values` and are re-exported here
(``normalize`` is :func:`tnconv.models.log_values.normalized`).

Accuracy
--------
Because every rescaling is by an exact power of two, the mantissas are exactly what the same float
arithmetic would give with an unbounded exponent range. The error of ``log|h|`` is therefore the relative
error of ``h`` in that arithmetic (a few units of roundoff ``u`` per node on the path, times the
condition number of the sums: ``u = 2**-24`` for float32, ``2**-53`` for float64) plus half an ulp of
``|log|h||`` from the final rounding to the dtype. For well-conditioned nets this is a few float32 ulps
of ``log|h|`` in relative terms. Entries of one activation vector smaller than ``2**-126`` (float32) or
``2**-1022`` (float64) times its largest entry are subnormal or zero; they affect the result only through
cancellations of that size; subnormal feature values are used as they are. Weights are used as given:
matrices with entries beyond about ``2**(±emax/2)`` of the dtype can still overflow inside a convolution.
Zero outputs are exact zeros: sign 0 and ``log|h| = -inf``.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009 (ConvACs).
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162 (homogeneous pooling operators).
.. [3] N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM 2002, Ch. 3
   (forward error of sums and products).
"""

from __future__ import annotations

import math
from typing import Any

from ..models.log_values import (
    FEATURE_BAND,
    exponents,
    finish,
    leaf_too_small,
    pool_log,
    scale_features,
    scale_pow2,
)
from ..models.log_values import normalized as normalize

__all__ = [
    "FEATURE_BAND",
    "finish",
    "leaf_too_small",
    "normalize",
    "normalize_",
    "pool_log",
    "pool_scales",
    "scale_features",
]


def _scale_by(y: Any, k: Any, xp: Any) -> None:
    """``y *= 2**-k[..., None]`` in place, exactly."""
    if math.prod(k.shape):
        scale_pow2(y, -k[..., None], xp, out=y)


def normalize_(y: Any, xp: Any) -> Any:
    """Scale ``y`` in place so that its largest magnitude over the last axis is in ``[1/2, 1)``.

    Parameters
    ----------
    y : array (..., width) of float32/float64, modified in place
    xp : array module

    Returns
    -------
    array (...) of float64
        The binary exponents ``k`` divided out (``y_before = y_after * 2**k``); 0 for all-zero rows,
        which stay exact zeros.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[2.0, -4.0], [0.0, 0.0]])
    >>> normalize_(y, np).tolist(), y.tolist()
    ([3.0, 0.0], [[0.25, -0.5], [0.0, 0.0]])
    """
    k = exponents(xp.abs(y).max(axis=-1), xp)
    _scale_by(y, k, xp)
    return k


def pool_scales(y: Any, s: Any, g: Any, xp: Any, out: Any = None) -> tuple[Any, Any]:
    """Pool children carried as (mantissa, binary exponent) pairs.

    Parameters
    ----------
    y : array (parents, arity, batch, width)
        Mantissas; ``y`` may be modified.
    s : array (parents, arity, batch) of float64
        Exponents: child ``j`` of parent ``p`` is ``y[p, j] * 2**s[p, j]``.
    g : PoolingOperator
        ``product``: pairwise products, each partial product renormalized before the next round, the
        exponents added. ``relu_max``/``relu_sum``: ReLU first, then the common exponent of the largest
        rectified child.
    xp : array module
    out : array (parents, batch, width), optional
        Where to write the pooled mantissas.

    Returns
    -------
    (pooled, exponents) : arrays (parents, batch, width) and float64 (parents, batch)

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.models.operators import pooling_operator
    >>> y = np.array([[[[0.5]], [[0.75]]]]); s = np.array([[[2.0], [0.0]]])
    >>> p, t = pool_scales(y, s, pooling_operator("relu_sum"), np)
    >>> float(p[0, 0, 0] * 2.0 ** t[0, 0]) == 0.5 * 4 + 0.75
    True
    >>> y = np.full((1, 1000, 1, 1), 0.5); s = np.zeros((1, 1000, 1))
    >>> p, t = pool_scales(y, s, pooling_operator("product"), np)
    >>> float(p[0, 0, 0]), float(t[0, 0])
    (0.25, -998.0)
    """
    if g.is_product:
        return _product(y, s, xp, out)
    r = xp.maximum(y, 0)
    mr = r.max(axis=-1)
    # An all-negative child rectifies to zero: it must not set the common exponent.
    eff = xp.where(mr > 0, s + exponents(mr, xp), -math.inf)
    top = eff.max(axis=1)
    top = xp.where(xp.isfinite(top), top, 0.0)
    diff = xp.maximum(s - top[:, None], -4096.0)
    _scale_by(r, -diff, xp)
    pooled = g.reduce(r, axis=1)
    if out is not None:
        out[...] = pooled
        pooled = out
    return pooled, top


def _product(y: Any, s: Any, xp: Any, out: Any) -> tuple[Any, Any]:
    a = y.shape[1]
    if a == 1:
        res = y[:, 0]
        if out is not None:
            out[...] = res
            res = out
        return res, s[:, 0]
    while a > 2:
        half = a // 2
        z = y[:, 0 : 2 * half : 2] * y[:, 1 : 2 * half : 2]
        t = s[:, 0 : 2 * half : 2] + s[:, 1 : 2 * half : 2]
        # Each partial product of two unit-scale vectors is brought back to unit scale, so the next
        # round cannot underflow however wide the window is.
        t += normalize_(z, xp)
        if a % 2:
            z = xp.concatenate([z, y[:, a - 1 : a]], axis=1)
            t = xp.concatenate([t, s[:, a - 1 : a]], axis=1)
        y, s, a = z, t, z.shape[1]
    if out is None:
        res = y[:, 0] * y[:, 1]
    else:
        res = xp.multiply(y[:, 0], y[:, 1], out=out)
    return res, s[:, 0] + s[:, 1]
