"""Log-scale evaluation: activations carried as (mantissa, per-sample log scale) pairs.

A ConvAC over N inputs multiplies N leaf values, so its output scales like ``c**N``: for a few thousand
inputs plain float64 overflows or underflows. The engines instead divide every node's activations by
their largest magnitude (per sample) right after the 1x1 convolution and add ``log`` of that factor to a
running scale. Product pooling adds the children's scales; positively homogeneous pooling (``relu_max``,
``relu_sum``) brings the children to their common largest scale first, since
``g(t a, t b) = t g(a, b)`` for ``t > 0``. The result is ``(sign, log|h|)``.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009 (ConvACs).
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162 (homogeneous pooling operators).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HOMOGENEOUS", "check_log_operator", "finish", "normalize_", "pool_scales"]

#: Pooling operators for which ``log=True`` is exact: ``g(t a, t b) = t**k g(a, b)`` for ``t > 0``.
HOMOGENEOUS = ("product", "relu_max", "relu_sum")


def check_log_operator(g: Any) -> None:
    """Refuse ``log=True`` for pooling operators that are not positively homogeneous.

    Raises
    ------
    ValueError
        Naming the operator.

    Examples
    --------
    >>> from tnconv.models.operators import pooling_operator
    >>> check_log_operator(pooling_operator("relu_max"))
    """
    if g.name not in HOMOGENEOUS:
        raise ValueError(f"log=True needs a positively homogeneous pooling operator, not {g.name!r}")


def normalize_(y: Any, xp: Any) -> Any:
    """Divide ``y`` in place by its largest magnitude over the last axis; return ``log`` of it.

    Rows that are all zero keep a factor of 1 (log 0), so that zeros stay exact zeros.

    Parameters
    ----------
    y : array (..., width), modified in place
    xp : array module

    Returns
    -------
    array (...)
        ``log`` of the factor divided out.

    Examples
    --------
    >>> y = np.array([[2.0, -4.0], [0.0, 0.0]])
    >>> normalize_(y, np).tolist(), y.tolist()
    ([1.3862943611198906, 0.0], [[0.5, -1.0], [0.0, 0.0]])
    """
    m = xp.abs(y).max(axis=-1)
    m = xp.where(m > 0, m, 1)
    y /= m[..., None]
    return xp.log(m)


def pool_scales(y: Any, s: Any, g: Any, xp: Any) -> tuple[Any, Any]:
    """Pool children carried as (mantissa, log scale) pairs.

    Parameters
    ----------
    y : array (parents, arity, batch, width)
    s : array (parents, arity, batch)
        Log scales: child ``j`` of parent ``p`` is ``y[p, j] * exp(s[p, j])``.
    g : PoolingOperator
        ``product`` adds the scales; homogeneous operators rescale to the largest one first.
    xp : array module

    Returns
    -------
    (pooled, scales) : arrays (parents, batch, width) and (parents, batch)

    Examples
    --------
    >>> from tnconv.models.operators import pooling_operator
    >>> y = np.array([[[[0.5]], [[1.0]]]]); s = np.array([[[2.0], [0.0]]])
    >>> p, t = pool_scales(y, s, pooling_operator("relu_sum"), np)
    >>> bool(np.isclose(p[0, 0, 0] * np.exp(t[0, 0]), 0.5 * np.exp(2.0) + 1.0))
    True
    """
    if g.is_product:
        return _product(y, xp), s.sum(axis=1)
    top = s.max(axis=1)
    y = y * xp.exp(s - top[:, None])[..., None]
    return g.reduce(y, axis=1), top


def _product(y: Any, xp: Any) -> Any:
    out = y[:, 0] * y[:, 1]
    for j in range(2, y.shape[1]):
        out *= y[:, j]
    return out


def finish(out: Any, scale: Any, xp: Any) -> tuple[Any, Any]:
    """``(sign, log|out| + scale)`` for outputs ``(batch, n_out)`` and scales ``(batch,)``.

    Examples
    --------
    >>> sign, la = finish(np.array([[-2.0, 0.0]]), np.array([1.0]), np)
    >>> sign.tolist(), la.tolist()
    ([[-1.0, 0.0]], [[1.6931471805599454, -inf]])
    """
    with np.errstate(divide="ignore"):
        return xp.sign(out), xp.log(xp.abs(out)) + scale[:, None]
