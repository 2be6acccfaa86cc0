"""Fractional powers of symmetric positive semidefinite matrices (any array namespace).

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Theorem 1 (powers of ``W W^T``, ``W^T W``).
"""

from __future__ import annotations

import math

from array_api_compat import device

from .checks import Array, as_float_array, check_rtol, default_rtol, namespace_of

__all__ = ["psd_power"]


def psd_power(M: Array, power: float, rtol: float | None = None) -> Array:
    """Fractional power ``M^power`` of a symmetric positive semidefinite matrix, via ``eigh``.

    Eigenvalues at or below ``rtol * lambda_max`` (negative rounding noise included) are treated as
    exactly zero. That matters: an eigenvalue of ``1e-16`` that should be ``0`` would become ``1e-4``
    under a quarter power, garbage rather than a rounding error. ``power = 0`` is the identity,
    including on the null space (``0^0 = 1``, matching the empty product of factors).

    Parameters
    ----------
    M : array, shape (..., n, n)
        Symmetric PSD matrix or stack of them (NumPy or CuPy). Only the symmetric part is used.
    power : float
        Non-negative exponent.
    rtol : float, optional
        Relative threshold on the eigenvalues. Default ``100 * n * eps``.

    Returns
    -------
    array, shape (..., n, n)

    Raises
    ------
    ValueError
        If ``M`` is not a (stack of) square matrix, ``power`` is negative or not finite, or ``rtol`` is
        negative.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import psd_power
    >>> M = np.array([[4.0, 0.0], [0.0, 0.0]])
    >>> psd_power(M, 0.5)
    array([[2., 0.],
           [0., 0.]])
    >>> psd_power(M, 0)
    array([[1., 0.],
           [0., 1.]])

    References
    ----------
    .. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Theorem 1 (powers of ``W W^T``, ``W^T W``).
    """
    xp = namespace_of(M)
    M = as_float_array(xp, M, "M")
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise ValueError(f"psd_power needs a square matrix (or a stack of them), got shape {tuple(M.shape)}")
    power = float(power)
    if not math.isfinite(power) or power < 0:
        raise ValueError(f"power must be finite and >= 0, got {power}")
    n = M.shape[-1]
    eye = xp.broadcast_to(xp.eye(n, dtype=M.dtype, device=device(M)), M.shape)
    if power == 0:
        return xp.asarray(eye, copy=True)
    rtol = check_rtol(rtol)
    if rtol is None:
        rtol = default_rtol(xp, M.dtype, n, n, "eigh")
    lam, V = xp.linalg.eigh((M + xp.matrix_transpose(M)) / 2)
    top = xp.max(xp.abs(lam), axis=-1, keepdims=True)
    keep = lam > rtol * top
    lam_p = xp.where(keep, xp.where(keep, lam, 1.0) ** power, 0.0)
    return (V * lam_p[..., None, :]) @ xp.matrix_transpose(V)
