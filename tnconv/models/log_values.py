"""Log-scale values on any array namespace: activations as ``mantissa * 2**exponent`` pairs.

The functional (no in-place writes, so JAX traces it) counterpart of :mod:`tnconv.contract.logscale`
for the binary pooling of dilated and mixed ConvNets; the accuracy statement there holds unchanged,
because every rescaling is by an exact power of two:

* with ``frexp``/``ldexp`` in the namespace (numpy, CuPy, JAX, torch) they are used directly;
* otherwise (array-api-strict) the exponent is ``floor(log2 m) + 1``, corrected against the exact
  power ``2**k`` (``pow(2, k)`` is exact for integer ``k`` in the normal range), and a scaling by
  ``2**-k`` is applied as two exact factors so that neither leaves the range.

Exponents are float64 arrays of the namespace (exact integers up to ``2**53``).

References
----------
.. [1] N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., SIAM 2002, Ch. 2
   (exact scaling by powers of the radix).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device

from .operators import OPERATORS, PoolingOperator

__all__ = [
    "FEATURE_BAND",
    "common_exponent",
    "exponents",
    "finish",
    "is_tracer",
    "leaf_too_small",
    "normalized",
    "pool_pair",
    "pool_pair_log",
    "scale_down",
    "scale_features",
]

#: Feature vectors with largest magnitude inside ``[2**-FEATURE_BAND, 2**FEATURE_BAND]`` are used as
#: they are (as in :mod:`tnconv.contract.logscale`).
FEATURE_BAND = 60

#: Exponent differences are clipped here: ``2**-4096`` is an exact zero in every float dtype.
_CLIP = 4096.0


def is_tracer(a: Any) -> bool:
    """Whether ``a`` is a JAX tracer (no concrete value to check), by duck typing: no jax import."""
    return type(a).__module__.startswith("jax") and "Tracer" in type(a).__name__


def _pow2(k: Any, like: Any, xp: Any) -> Any:
    two = xp.asarray(2.0, dtype=like.dtype, device=device(like))
    return xp.pow(two, xp.astype(k, like.dtype))


def exponents(m: Any, xp: Any) -> Any:
    """Binary exponents ``k`` with ``m * 2**-k`` in ``[1/2, 1)`` (0 where ``m`` is 0), float64.

    Examples
    --------
    >>> exponents(np.array([0.0, 1.0, 0.75, 3.0]), np).tolist()
    [0.0, 1.0, 0.0, 2.0]
    """
    if isinstance(m, np.ndarray):
        return np.frexp(m)[1].astype(np.float64)
    if hasattr(xp, "frexp"):
        return xp.astype(xp.frexp(m)[1], xp.float64)
    pos = m > 0
    safe = xp.where(pos, m, xp.ones_like(m))
    k = xp.floor(xp.log2(safe)) + 1
    # log2 may round across a power of two: settle k so that 2**(k-1) <= m < 2**k exactly.
    k = xp.where(safe < _pow2(k - 1, safe, xp), k - 1, k)
    k = xp.where(safe >= _pow2(k, safe, xp), k + 1, k)
    return xp.astype(xp.where(pos, k, xp.zeros_like(k)), xp.float64)


def scale_down(y: Any, k: Any, xp: Any) -> Any:
    """``y * 2**-k[..., None]``, exactly (differences past the range give exact zeros)."""
    if isinstance(y, np.ndarray):
        # numpy: one multiplication by the exact factors 2**-k when they are normal numbers
        ik = (-np.clip(k, -_CLIP, _CLIP)).astype(np.int32)
        fi = np.finfo(y.dtype)
        if ik.size and fi.minexp <= ik.min() and ik.max() < fi.maxexp:
            return y * np.ldexp(np.ones((), dtype=y.dtype), ik)[..., None]
        return np.ldexp(y, ik[..., None])
    k = xp.clip(k, -_CLIP, _CLIP)[..., None]
    if hasattr(xp, "ldexp"):
        return xp.ldexp(y, xp.astype(-k, xp.int32))
    half = xp.floor(k / 2)
    return y * _pow2(-half, y, xp) * _pow2(half - k, y, xp)


def normalized(y: Any, xp: Any) -> tuple[Any, Any]:
    """``(y * 2**-k, k)`` with the largest magnitude of each row (last axis) in ``[1/2, 1)``."""
    k = exponents(xp.max(xp.abs(y), axis=-1), xp)
    return scale_down(y, k, xp), k


def scale_features(feats: Any, xp: Any, force: bool = False) -> tuple[Any, Any]:
    """Features rescaled by powers of two when some are far from magnitude 1, with their exponents.

    Returns ``(feats, None)`` when nothing needs rescaling (only the cheap test of the largest entry
    runs without ``force``; tracers are always rescaled, their values being unknown).
    """
    if math.prod(feats.shape) == 0:
        return feats, None
    if not force and not is_tracer(feats) and float(xp.max(xp.abs(feats))) <= 2.0**FEATURE_BAND:
        return feats, None
    return normalized(feats, xp)


def leaf_too_small(k: Any, dtype: Any, xp: Any) -> bool:
    """Whether first-convolution exponents ``k`` come within ``2**FEATURE_BAND`` of underflow."""
    if math.prod(k.shape) == 0 or is_tracer(k):
        return False
    minexp = math.log2(float(xp.finfo(dtype).smallest_normal))  # numpy's finfo.minexp
    return float(xp.min(k)) < minexp + FEATURE_BAND


def pool_pair(g: PoolingOperator, xp: Any, a: Any, b: Any, in_place: bool = False) -> Any:
    """``g(a, b)`` on any namespace; ``in_place`` reuses ``a``/``b`` (numpy: allocating twice costs more
    than the matmuls at large batch)."""
    if g is OPERATORS["product"]:
        if in_place:
            a *= b
            return a
        return a * b
    if g is OPERATORS["relu_max"]:
        if in_place:
            np.maximum(a, b, out=a)
            np.maximum(a, 0, out=a)
            return a
        return xp.maximum(xp.maximum(a, b), 0.0)
    if g is OPERATORS["relu_sum"]:
        if in_place:
            np.maximum(a, 0, out=a)
            np.maximum(b, 0, out=b)
            a += b
            return a
        return xp.maximum(a, 0.0) + xp.maximum(b, 0.0)
    return g.pair(a, b)


def pool_pair_log(g: PoolingOperator, xp: Any, a: Any, ea: Any, b: Any, eb: Any) -> tuple[Any, Any]:
    """Pool two children carried as ``(mantissa, exponent)``: products add exponents; ``relu_max`` and
    ``relu_sum`` rectify first and bring both to the exponent of the larger rectified child (an
    all-negative child rectifies to zero and must not set it)."""
    if g.is_product:
        return a * b, ea + eb
    ra, rb = xp.maximum(a, 0.0), xp.maximum(b, 0.0)
    ma, mb = xp.max(ra, axis=-1), xp.max(rb, axis=-1)
    top = xp.maximum(xp.where(ma > 0, ea + exponents(ma, xp), -math.inf),
                     xp.where(mb > 0, eb + exponents(mb, xp), -math.inf))
    top = xp.where(xp.isfinite(top), top, 0.0)
    return pool_pair(g, xp, scale_down(ra, top - ea, xp), scale_down(rb, top - eb, xp)), top


def common_exponent(values: list[tuple[Any, Any]], xp: Any) -> list[tuple[Any, Any]]:
    """Bring ``(mantissa, exponent)`` pairs to their largest exponent per sample (exact rescaling).

    Examples
    --------
    >>> [(x, e)] = common_exponent([(np.array([[0.5]]), np.array([3.0]))], np)
    >>> x.tolist(), e.tolist()
    ([[0.5]], [3.0])
    """
    top = values[0][1]
    for _, e in values[1:]:
        top = xp.maximum(top, e)
    return [(scale_down(x, top - e, xp), top) for x, e in values]


def finish(out: Any, scale: Any, xp: Any) -> tuple[Any, Any]:
    """``(sign, log|out| + scale * log 2)`` for outputs ``(batch, n_out)`` and exponents ``(batch,)``.

    The logarithm is taken and the exponent added in float64, then rounded once to ``out.dtype``.

    Raises
    ------
    ValueError
        If a concrete ``out`` holds inf or NaN (a convolution overflowed: weights too large).

    Examples
    --------
    >>> sign, la = finish(np.array([[-0.5, 0.0]]), np.array([2.0]), np)
    >>> sign.tolist(), la.tolist()
    ([[-1.0, 0.0]], [[0.6931471805599453, -inf]])
    """
    if not is_tracer(out) and not bool(xp.all(xp.isfinite(out))):
        raise ValueError(
            f"the log-mode evaluation overflowed inside a 1x1 convolution ({out.dtype} weights too large for "
            "their dtype: the activations are kept in range, the weights are used as given); scale the weights "
            "down or use float64"
        )
    mag = xp.astype(xp.abs(out), xp.float64)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the intended value of an exact zero
        la = xp.log(mag) + xp.astype(scale, xp.float64)[:, None] * math.log(2.0)
    return xp.sign(out), xp.astype(la, out.dtype)
