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

import numpy as np

from .._core.arrays import is_concrete, namespace
from .shims import exponents, scale_pow2

__all__ = [
    "finish",
    "leaf_too_small",
    "normalize",
    "normalize_",
    "pool_log",
    "pool_scales",
    "scale_features",
]

#: Pooling operators for which ``log=True`` is exact: ``g(t a, t b) = t**k g(a, b)`` for ``t > 0``.

#: Feature vectors with largest magnitude inside ``[2**-FEATURE_BAND, 2**FEATURE_BAND]`` are used as
#: they are; others are rescaled by a power of two before the first convolution.
FEATURE_BAND = 60


def _exponents(m: Any, xp: Any) -> Any:
    """Binary exponents ``k`` with ``m * 2**-k`` in ``[1/2, 1)`` (0 where ``m`` is 0), as float64."""
    return exponents(m, xp)


def _scale_by(y: Any, k: Any, xp: Any) -> None:
    """``y *= 2**-k[..., None]`` in place, exactly."""
    if k.size == 0:
        return
    finfo = np.finfo(y.dtype)
    lo, hi = float(k.min()), float(k.max())
    if -hi >= finfo.minexp and -lo < finfo.maxexp:
        y *= xp.ldexp(xp.ones((), dtype=y.dtype), (-k).astype(np.int32))[..., None]
    else:  # 2**-k itself is out of range (subnormal or huge maxima): scale without forming it
        xp.ldexp(y, (-k).astype(np.int32)[..., None], out=y)


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
    >>> y = np.array([[2.0, -4.0], [0.0, 0.0]])
    >>> normalize_(y, np).tolist(), y.tolist()
    ([3.0, 0.0], [[0.25, -0.5], [0.0, 0.0]])
    """
    k = _exponents(xp.abs(y).max(axis=-1), xp)
    _scale_by(y, k, xp)
    return k


def scale_features(feats: Any, xp: Any, force: bool = False) -> tuple[Any, Any]:
    """Rescale feature vectors by powers of two so that none is far from magnitude 1 (for log mode).

    Without ``force`` only the cheap test for large features runs (the largest and smallest entry);
    the engines detect tiny feature vectors from the exponents of the first convolution instead
    (:func:`leaf_too_small`) and call again with ``force=True``.

    Parameters
    ----------
    feats : array (batch, n_inputs, M), validated
    xp : array module
    force : bool
        Rescale every vector whatever its magnitude.

    Returns
    -------
    (features, exponents)
        ``exponents`` is ``None`` when nothing was rescaled (the features are then returned as they
        are); otherwise a float64 array ``(batch, n_inputs)`` with
        ``feats = features * 2**exponents[..., None]``.

    Examples
    --------
    >>> F = np.array([[[1e300, 2e300], [1.0, 0.5]]])
    >>> G, e = scale_features(F, np)
    >>> e.tolist(), bool(np.allclose(G[0, 0] * 2.0 ** e[0, 0], F[0, 0], rtol=1e-15, atol=0))
    ([[998.0, 1.0]], True)
    >>> tiny = np.array([[[1e-300]]])
    >>> scale_features(tiny, np)[1] is None, scale_features(tiny, np, force=True)[1]
    (True, array([[-996.]]))
    """
    if feats.size == 0:
        return feats, None
    if not force and max(float(feats.max()), -float(feats.min())) <= 2.0**FEATURE_BAND:
        return feats, None
    k = _exponents(xp.abs(feats).max(axis=-1), xp)
    out = feats.copy()
    _scale_by(out, k, xp)
    return out, k


def leaf_too_small(k: Any, dtype: Any) -> bool:
    """Whether first-convolution exponents ``k`` come within ``2**FEATURE_BAND`` of the dtype's underflow.

    Then some feature vector is tiny, and the engines rescale the features (``force=True``) and redo the
    first convolution, so that it keeps full precision.

    Examples
    --------
    >>> leaf_too_small(np.array([0.0, -3.0]), np.float64), leaf_too_small(np.array([-1000.0]), np.float64)
    (False, True)
    """
    return k.size > 0 and float(k.min()) < np.finfo(dtype).minexp + FEATURE_BAND


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
    eff = xp.where(mr > 0, s + _exponents(mr, xp), -math.inf)
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


def finish(out: Any, scale: Any, xp: Any = None) -> tuple[Any, Any]:
    """``(sign, log|out| + scale * log 2)`` for outputs ``(batch, n_out)`` and exponents ``(batch,)``.

    The logarithm is taken and the exponent added in float64, then rounded once to ``out.dtype``. Any
    array API namespace; the overflow check runs on concrete values only (never on a JAX tracer).

    Raises
    ------
    ValueError
        If ``out`` holds inf or NaN: a convolution overflowed (weights too large for the dtype).

    Examples
    --------
    >>> sign, la = finish(np.array([[-0.5, 0.0]]), np.array([2.0]), np)
    >>> sign.tolist(), la.tolist()
    ([[-1.0, 0.0]], [[0.6931471805599453, -inf]])
    """
    xp = namespace(out, scale)
    ok = xp.all(xp.isfinite(out))
    if is_concrete(ok) and not bool(ok):
        raise ValueError(
            f"the log-mode evaluation overflowed inside a 1x1 convolution ({out.dtype} weights too large for "
            "their dtype: the activations are kept in range, the weights are used as given); scale the weights "
            "down or use float64"
        )
    with np.errstate(divide="ignore"):
        la = xp.log(xp.abs(xp.astype(out, xp.float64))) + xp.astype(scale, xp.float64)[:, None] * math.log(2.0)
    return xp.sign(out), xp.astype(la, out.dtype)


# ---------------------------------------------------------------------- functional (any namespace)
def normalize(y: Any, xp: Any) -> tuple[Any, Any]:
    """``(y * 2**-k[..., None], k)`` with the largest magnitude of each last-axis vector in ``[1/2, 1)``.

    The functional twin of :func:`normalize_` for namespaces without in-place writes (JAX) and for
    autodiff; the exponents carry no gradient.

    Examples
    --------
    >>> y, k = normalize(np.array([[2.0, -4.0], [0.0, 0.0]]), np)
    >>> y.tolist(), k.tolist()
    ([[0.25, -0.5], [0.0, 0.0]], [3.0, 0.0])
    """
    k = exponents(xp.max(xp.abs(y), axis=-1), xp)
    return scale_pow2(y, -k[..., None], xp), k


def pool_log(ys: list, ss: list, g: Any, xp: Any) -> tuple[Any, Any]:
    """Pool children given as mantissas ``ys[j]`` (..., width) and exponents ``ss[j]`` (...), functionally.

    The same rules as :func:`pool_scales` (pairwise renormalized products; ReLU first and the exponent
    of the largest rectified child for ``relu_max``/``relu_sum``), in the same order, so both agree to
    the last bit up to the order of sums.

    Examples
    --------
    >>> from tnconv.models.operators import pooling_operator
    >>> p, t = pool_log([np.full((1, 1), 0.5)] * 1000, [np.zeros(1)] * 1000, pooling_operator("product"), np)
    >>> float(p[0, 0]), float(t[0])
    (0.25, -998.0)
    """
    if g.is_product:
        while len(ys) > 2:
            ny, ns = [], []
            for i in range(0, len(ys) - 1, 2):
                z, k = normalize(ys[i] * ys[i + 1], xp)
                ny.append(z)
                ns.append(ss[i] + ss[i + 1] + k)
            if len(ys) % 2:
                ny.append(ys[-1])
                ns.append(ss[-1])
            ys, ss = ny, ns
        if len(ys) == 1:
            return ys[0], ss[0]
        return ys[0] * ys[1], ss[0] + ss[1]
    rect = [xp.maximum(y, xp.zeros_like(y)) for y in ys]
    ninf = -math.inf
    eff = []
    for r, s in zip(rect, ss):
        mr = xp.max(r, axis=-1)
        eff.append(xp.where(mr > 0, s + exponents(mr, xp), xp.full_like(s, ninf)))
    top = xp.max(xp.stack(eff), axis=0)
    top = xp.where(xp.isfinite(top), top, xp.zeros_like(top))
    scaled = [scale_pow2(r, xp.maximum(s - top, xp.full_like(s, -4096.0))[..., None], xp) for r, s in zip(rect, ss)]
    return g.fold(scaled), top
