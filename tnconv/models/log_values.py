"""Log-scale values on any array namespace: activations as ``mantissa * 2**exponent`` pairs.

The one home of the log-scale arithmetic (binary exponents, exact power-of-two scaling, feature
rescaling, functional pooling, the final ``(sign, log|h|)``) for the binary pooling of dilated and mixed
ConvNets and for the contraction engines, which import it from here (:mod:`tnconv.contract.logscale`
adds the in-place numpy variants; :mod:`tnconv.contract.shims` re-exports :func:`exponents` and
:func:`scale_pow2`). Everything is functional (no in-place writes), so JAX traces it. The accuracy
statement of :mod:`tnconv.contract.logscale` holds unchanged, because every rescaling is by an exact
power of two:

* numpy and CuPy use ``frexp``/``ldexp``, which work on the bits;
* other namespaces (JAX, torch, array-api-strict) take the exponent as ``floor(log2 m) + 1``,
  corrected against the exact scaling ``m * 2**-k``, and scale by ``2**k`` as two exact factors so
  that neither leaves the range. JAX's ``frexp``/``ldexp`` have no gradient rule and ``torch.ldexp``
  computes ``2**k`` in floating point, which is why they are not used.

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

from .._core.arrays import backend_name, is_concrete, namespace
from .operators import OPERATORS, PoolingOperator

__all__ = [
    "FEATURE_BAND",
    "common_exponent",
    "exponents",
    "finish",
    "is_tracer",
    "leaf_too_small",
    "normalized",
    "pool_log",
    "pool_pair",
    "pool_pair_log",
    "scale_down",
    "scale_features",
    "scale_pow2",
]

#: Feature vectors with largest magnitude inside ``[2**-FEATURE_BAND, 2**FEATURE_BAND]`` are used as
#: they are; others are rescaled by a power of two before the first convolution.
FEATURE_BAND = 60

#: Exponent differences are clipped here: ``2**-4096`` is an exact zero in every float dtype.
_CLIP = 4096.0


def is_tracer(a: Any) -> bool:
    """Whether ``a`` is a JAX tracer (no concrete value to check), by duck typing: no jax import."""
    return type(a).__module__.startswith("jax") and "Tracer" in type(a).__name__


def _native_bits(xp: Any) -> bool:
    # numpy's and CuPy's frexp/ldexp work on the bits (exact, fast). JAX's have no gradient rule and
    # torch.ldexp computes 2**k in floating point, so those namespaces take the standard-only route.
    return backend_name(xp) in ("numpy", "cupy")


# ---------------------------------------------------------------------- binary exponents and scaling
def exponents(m: Any, xp: Any) -> Any:
    """Binary exponents ``k`` (float64) with ``|m| * 2**-k`` in ``[1/2, 1)``, and 0 where ``m`` is 0.

    ``frexp`` on numpy and CuPy; else ``floor(log2|m|) + 1``, corrected by one step where
    ``log2`` rounded across a power of two. Exponents carry no gradient (they are piecewise constant).

    Examples
    --------
    >>> exponents(np.array([0.0, 1.0, 0.75, 3.0]), np).tolist()
    [0.0, 1.0, 0.0, 2.0]
    >>> import array_api_strict as xs
    >>> exponents(xs.asarray([0.75, 1.0, 0.0, 3e-320]), xs)
    Array([    1.,     1.,     0., -1061.], dtype=array_api_strict.float64)
    """
    f64 = xp.float64
    if _native_bits(xp):
        return xp.astype(xp.frexp(m)[1], f64)
    a = xp.abs(xp.astype(m, f64))
    pos = a > 0
    safe = xp.where(pos, a, xp.ones_like(a))
    k = xp.floor(xp.log2(safe)) + 1.0
    mant = scale_pow2(safe, -k, xp)  # exact, so the test below is exact too
    k = xp.where(mant >= 1.0, k + 1.0, xp.where(mant < 0.5, k - 1.0, k))
    return xp.where(pos, k, xp.zeros_like(k))


def scale_pow2(y: Any, k: Any, xp: Any, out: Any = None) -> Any:
    """``y * 2**k`` exactly (``k`` integer-valued, broadcast against ``y``).

    numpy and CuPy: one multiplication by the factors ``2**k`` when they are normal numbers, else
    ``ldexp``. Other namespaces: two factors ``2**floor(k/2)`` and ``2**(k - floor(k/2))``, each in
    range for every ``k`` that can occur (``|k| < 2200``), so that scaling a subnormal up or a huge
    value down stays exact; no in-place writes, so it traces under ``jax.jit`` and differentiates.

    Parameters
    ----------
    y : array
    k : array of integer values (any float or int dtype), broadcastable against ``y``
    xp : array namespace
    out : array, optional
        Where to write the result (numpy and CuPy only: the in-place engines pass ``out=y``).

    Returns
    -------
    array
        ``y * 2**k``, of ``y``'s dtype.

    Raises
    ------
    TypeError
        ``out`` on a namespace other than numpy or CuPy.

    Examples
    --------
    >>> scale_pow2(np.array([[3.0, 1.0]]), np.array([[-1.0]]), np).tolist()
    [[1.5, 0.5]]
    >>> import array_api_strict as xs
    >>> scale_pow2(xs.asarray([3.0, 5e-324]), xs.asarray([-1.0, 1074.0]), xs)
    Array([1.5, 1. ], dtype=array_api_strict.float64)
    """
    if _native_bits(xp):
        ik = xp.astype(k, xp.int32)
        fi = np.finfo(y.dtype)
        if math.prod(ik.shape) and fi.minexp <= int(ik.min()) and int(ik.max()) < fi.maxexp:
            return xp.multiply(y, xp.ldexp(xp.ones((), dtype=y.dtype), ik), out=out)
        return xp.ldexp(y, ik, out=out)  # 2**k itself is out of range: scale without forming it
    if out is not None:
        raise TypeError(f"scale_pow2: out= needs numpy or CuPy arrays, got the namespace {backend_name(xp)!r}")
    k = xp.astype(k, xp.float64)
    h = xp.floor(k / 2.0)
    two = xp.asarray(2.0, dtype=xp.float64, device=device(y))
    f1 = xp.astype(xp.pow(two, h), y.dtype)
    f2 = xp.astype(xp.pow(two, k - h), y.dtype)
    return (y * f1) * f2


def scale_down(y: Any, k: Any, xp: Any) -> Any:
    """``y * 2**-k[..., None]``, exactly (differences past the range give exact zeros).

    Examples
    --------
    >>> scale_down(np.array([[3.0, 1.0], [1.0, 1.0]]), np.array([1.0, -2.0]), np).tolist()
    [[1.5, 0.5], [4.0, 4.0]]
    """
    return scale_pow2(y, -xp.clip(k, -_CLIP, _CLIP)[..., None], xp)


def normalized(y: Any, xp: Any) -> tuple[Any, Any]:
    """``(y * 2**-k[..., None], k)`` with the largest magnitude of each row (last axis) in ``[1/2, 1)``.

    The functional twin of :func:`tnconv.contract.logscale.normalize_` for namespaces without in-place
    writes (JAX) and for autodiff; the exponents carry no gradient.

    Examples
    --------
    >>> y, k = normalized(np.array([[2.0, -4.0], [0.0, 0.0]]), np)
    >>> y.tolist(), k.tolist()
    ([[0.25, -0.5], [0.0, 0.0]], [3.0, 0.0])
    """
    k = exponents(xp.max(xp.abs(y), axis=-1), xp)
    return scale_down(y, k, xp), k


# ---------------------------------------------------------------------- features
def scale_features(feats: Any, xp: Any, force: bool = False) -> tuple[Any, Any]:
    """Rescale feature vectors by powers of two so that none is far from magnitude 1 (for log mode).

    Without ``force`` only the cheap test for large features runs (the largest and smallest entry);
    the engines detect tiny feature vectors from the exponents of the first convolution instead
    (:func:`leaf_too_small`) and call again with ``force=True``. Tracers are always rescaled, their
    values being unknown.

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
    if math.prod(feats.shape) == 0:
        return feats, None
    if force or is_tracer(feats):
        return normalized(feats, xp)
    if max(float(xp.max(feats)), -float(xp.min(feats))) <= 2.0**FEATURE_BAND:
        return feats, None
    return normalized(feats, xp)


def leaf_too_small(k: Any, dtype: Any, xp: Any = None) -> bool:
    """Whether first-convolution exponents ``k`` come within ``2**FEATURE_BAND`` of the dtype's underflow.

    Then some feature vector is tiny, and the engines rescale the features (``force=True``) and redo the
    first convolution, so that it keeps full precision. Always False for a tracer (no value to test).

    Parameters
    ----------
    k : array of float64
    dtype : the activations' float dtype
    xp : array namespace, optional
        Default: that of ``k``.

    Returns
    -------
    bool

    Examples
    --------
    >>> leaf_too_small(np.array([0.0, -3.0]), np.float64), leaf_too_small(np.array([-1000.0]), np.float64)
    (False, True)
    """
    if math.prod(k.shape) == 0 or is_tracer(k):
        return False
    xp = namespace(k) if xp is None else xp
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


def pool_log(ys: list, ss: list, g: Any, xp: Any) -> tuple[Any, Any]:
    """Pool children given as mantissas ``ys[j]`` (..., width) and exponents ``ss[j]`` (...), functionally.

    Products multiply pairwise, renormalizing every partial product before the next round (so a window
    of any width stays in range), and add the exponents. ``relu_max`` and ``relu_sum`` rectify first and
    bring the children to the exponent of the largest rectified child (an all-negative child rectifies
    to zero and must not set it). The same rules, in the same order, as the in-place
    :func:`tnconv.contract.logscale.pool_scales`, so both agree to the last bit up to the order of sums.

    Parameters
    ----------
    ys : list of arrays (..., width)
    ss : list of float64 arrays (...)
    g : PoolingOperator
    xp : array namespace

    Returns
    -------
    (pooled, exponents)

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
                z, k = normalized(ys[i] * ys[i + 1], xp)
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
    scaled = [scale_pow2(r, xp.maximum(s - top, xp.full_like(s, -_CLIP))[..., None], xp) for r, s in zip(rect, ss)]
    return g.fold(scaled), top


def pool_pair_log(g: PoolingOperator, xp: Any, a: Any, ea: Any, b: Any, eb: Any) -> tuple[Any, Any]:
    """Pool two children carried as ``(mantissa, exponent)``: :func:`pool_log` of ``[a, b]``.

    Examples
    --------
    >>> from tnconv.models.operators import pooling_operator
    >>> p, e = pool_pair_log(pooling_operator("relu_sum"), np, np.array([[0.5]]), np.array([2.0]),
    ...                      np.array([[-0.75]]), np.array([0.0]))
    >>> p.tolist(), e.tolist()
    ([[0.5]], [2.0])
    """
    return pool_log([a, b], [ea, eb], g, xp)


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


def finish(out: Any, scale: Any, xp: Any = None) -> tuple[Any, Any]:
    """``(sign, log|out| + scale * log 2)`` for outputs ``(batch, n_out)`` and exponents ``(batch,)``.

    The logarithm is taken and the exponent added in float64, then rounded once to ``out.dtype``. Any
    array API namespace; the overflow check runs on concrete values only (never on a JAX tracer or a
    lazy dask array).

    Parameters
    ----------
    out : array (batch, n_out)
        Mantissas of the outputs.
    scale : float64 array (batch,)
        Their binary exponents.
    xp : array namespace, optional
        Default: that of ``out`` and ``scale``.

    Returns
    -------
    (sign, log_abs) : arrays (batch, n_out) of ``out.dtype``

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
    xp = namespace(out, scale) if xp is None else xp
    ok = xp.all(xp.isfinite(out))
    if is_concrete(ok) and not bool(ok):
        raise ValueError(
            f"the log-mode evaluation overflowed inside a 1x1 convolution ({out.dtype} weights too large for "
            "their dtype: the activations are kept in range, the weights are used as given); scale the weights "
            "down or use float64"
        )
    with np.errstate(divide="ignore"):  # log(0) = -inf is the intended value of an exact zero
        la = xp.log(xp.abs(xp.astype(out, xp.float64))) + xp.astype(scale, xp.float64)[:, None] * math.log(2.0)
    return xp.sign(out), xp.astype(la, out.dtype)
