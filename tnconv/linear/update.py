"""The end-to-end update rule of a deep linear network, and gradient descent driven by it.

With a balanced initialization, gradient descent with step ``eta`` on the factors of a depth-``N``
linear network moves the end-to-end matrix ``W`` by

    W <- W - eta * sum_{j=1..N} (W W^T)^((j-1)/N) grad L(W) (W^T W)^((N-j)/N),

exactly for gradient flow and to first order in ``eta`` for gradient descent. Every function takes its
array namespace from its inputs (numpy, CuPy, JAX, torch, array-api-strict) and accepts stacks of
matrices with a learning rate that broadcasts over the stack.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .checks import (
    Array,
    DivergenceError,
    LossFn,
    as_float_array,
    check_depth,
    check_lr,
    check_n_iter,
    check_rtol,
    default_rtol,
    namespace_of,
)
from .powers import psd_power

__all__ = ["end_to_end_field", "end_to_end_update", "end_to_end_update_single_output", "fit_end_to_end"]


def end_to_end_field(W: Array, grad: Array, depth: int, rtol: float | None = None, method: str = "auto") -> Array:
    """The preconditioned direction ``sum_j (W W^T)^((j-1)/N) grad (W^T W)^((N-j)/N)``.

    :func:`end_to_end_update` is ``W - lr * end_to_end_field(W, grad, depth)``; see it for the
    parameters.

    Parameters
    ----------
    W : array (d_out, d_in)
        The end-to-end matrix.
    grad : array like ``W``
        The loss gradient at ``W``.
    depth : int
        ``N``.
    rtol, method
        As :func:`end_to_end_update`.

    Returns
    -------
    array like ``W``

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import end_to_end_field
    >>> W = np.array([[3.0, 0.0], [0.0, 1.0]]); G = np.ones((2, 2))
    >>> end_to_end_field(W, G, depth=2)   # entries (s_i + s_j) g_ij for diagonal W = diag(s)
    array([[6., 4.],
           [4., 2.]])
    """
    xp = namespace_of(W, grad)
    W = as_float_array(xp, W, "W")
    G = as_float_array(xp, grad, "grad")
    depth = check_depth(depth)
    if W.ndim < 2:
        raise ValueError(f"W must be a matrix (or a stack of them), got shape {tuple(W.shape)}")
    if tuple(G.shape) != tuple(W.shape):
        raise ValueError(f"grad has shape {tuple(G.shape)} but W has shape {tuple(W.shape)}; they must match")
    if method not in ("auto", "svd", "eigh", "closed"):
        raise ValueError(f"method must be 'auto', 'svd', 'eigh' or 'closed', got {method!r}")
    if depth == 1:
        return xp.asarray(G, copy=True)
    rows = W.shape[-2]
    if method == "closed" or (method == "auto" and rows == 1):
        if rows != 1:
            raise ValueError(f"method='closed' is for a single output (W of shape (1, d)), got {tuple(W.shape)}")
        return _field_single(xp, W[..., 0, :], G[..., 0, :], depth)[..., None, :]
    if method == "eigh":
        return _field_eigh(xp, W, G, depth, rtol)
    return _field_svd(xp, W, G, depth, rtol)


def _field_eigh(xp: Any, W: Array, G: Array, N: int, rtol: float | None) -> Array:
    WWt = W @ xp.matrix_transpose(W)
    WtW = xp.matrix_transpose(W) @ W
    out = xp.zeros_like(G)
    for j in range(1, N + 1):
        out = out + psd_power(WWt, (j - 1) / N, rtol) @ G @ psd_power(WtW, (N - j) / N, rtol)
    return out


def _field_svd(xp: Any, W: Array, G: Array, N: int, rtol: float | None) -> Array:
    # SVD of W diagonalizes W W^T = U S^2 U^T and W^T W = V S^2 V^T at once, with singular values accurate
    # to ~eps * s_max (eigh of the products only resolves eigenvalues to ~eps * s_max^2).
    rtol_ = check_rtol(rtol)
    if rtol_ is None:
        rtol_ = default_rtol(xp, W.dtype, W.shape[-2], W.shape[-1], "svd")
    U, s, Vh = xp.linalg.svd(W, full_matrices=False)
    V = xp.matrix_transpose(Vh)
    Ut = xp.matrix_transpose(U)
    lam = s * s
    keep = lam > rtol_ * xp.max(lam, axis=-1, keepdims=True)

    def spow(a: float) -> Array:  # eigenvalue powers lam^a, a > 0, exact zeros below the threshold
        return xp.where(keep, xp.where(keep, lam, 1.0) ** a, 0.0)

    top = spow((N - 1) / N)
    C = Ut @ G @ V  # the gradient in the singular bases
    # j = 1 (no left factor) and j = N (no right factor): identity on the null spaces.
    out = ((G @ V) * top[..., None, :]) @ Vh + U @ (top[..., :, None] * (Ut @ G))
    if N > 2:
        K = xp.zeros_like(C)
        for j in range(2, N):
            K = K + spow((j - 1) / N)[..., :, None] * spow((N - j) / N)[..., None, :]
        out = out + U @ (C * K) @ Vh
    return out


def _field_single(xp: Any, w: Array, g: Array, depth: int) -> Array:
    norm = xp.sqrt(xp.sum(w * w, axis=-1, keepdims=True))
    safe = xp.where(norm > 0, norm, 1.0)
    w_hat = xp.where(norm > 0, w / safe, 0.0)
    along = xp.sum(g * w_hat, axis=-1, keepdims=True)
    return norm ** (2 - 2 / depth) * (g + (depth - 1) * along * w_hat)


def end_to_end_update(
    W: Array, grad: Array, depth: int, lr: Any, *, rtol: float | None = None, method: str = "auto"
) -> Array:
    """One step of the end-to-end update rule of a depth-``N`` linear network.

    ``W - lr * sum_{j=1..N} (W W^T)^((j-1)/N) grad (W^T W)^((N-j)/N)``, the update of the end-to-end
    matrix induced by gradient descent on balanced factors (exact for gradient flow, first order in
    ``lr`` for gradient descent). ``depth = 1`` is plain gradient descent.

    Parameters
    ----------
    W : array, shape (..., d_out, d_in)
        End-to-end matrix, or a stack of them (NumPy or CuPy). It may be rank deficient.
    grad : array, same shape as ``W``
        Gradient of the loss at ``W``.
    depth : int
        Depth ``N >= 1`` of the linear network.
    lr : float or array
        Step size ``eta > 0``; an array broadcasts over the stack dimensions of ``W``.
    rtol : float, optional
        Eigenvalues of ``W W^T`` / ``W^T W`` at or below ``rtol`` times the largest are exactly zero.
        Default: ``(10 * max(d_out, d_in) * eps)^2`` for the SVD method (singular values to ``10 n eps``),
        ``100 * n * eps`` for ``method="eigh"``.
    method : {"auto", "svd", "eigh", "closed"}
        ``"svd"`` takes both eigendecompositions from one SVD of ``W``; ``"eigh"`` forms ``W W^T`` and
        ``W^T W`` and uses :func:`psd_power`; ``"closed"`` is the single-output closed form
        (``d_out = 1``). ``"auto"``: ``"closed"`` when ``d_out = 1``, else ``"svd"``.

    Returns
    -------
    array
        The new end-to-end matrix, same shape and array module as ``W``.

    Raises
    ------
    ValueError
        ``lr <= 0`` or not finite, ``depth < 1``, ``grad`` shaped unlike ``W``, an unknown ``method``.
    TypeError
        A non-integer depth or non-numeric input.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import end_to_end_update
    >>> W = np.array([[3.0, 4.0]])            # one output, ||w|| = 5
    >>> g = np.array([[1.0, 0.0]])
    >>> end_to_end_update(W, g, depth=1, lr=0.1)   # plain gradient descent
    array([[2.9, 4. ]])
    >>> end_to_end_update(W, g, depth=2, lr=0.01)  # w - lr*||w|| (g + (g.w_hat) w_hat)
    array([[2.932, 3.976]])

    References
    ----------
    .. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration
       by Overparameterization", ICML 2018, arXiv:1802.06509, Theorem 1 and Claim 1.
    """
    xp = namespace_of(W, grad)
    W = as_float_array(xp, W, "W")
    lr_ = check_lr(xp, lr, tuple(W.shape[:-2]) if W.ndim >= 2 else (), like=W)
    return W - lr_ * end_to_end_field(W, grad, depth, rtol=rtol, method=method)


def end_to_end_update_single_output(w: Array, g: Array, depth: int, lr: Any) -> Array:
    """Closed form of the end-to-end rule for one output: ``w - lr ||w||^(2-2/N) (g + (N-1)(g.w_hat) w_hat)``.

    Parameters
    ----------
    w, g : array, shape (..., d)
        Weight vector(s) and gradient(s). At ``w = 0`` the direction ``w_hat`` is taken as 0, so
        depths ``N >= 2`` do not move (zero is a stationary point of the factorized problem).
    depth : int
        Network depth ``N >= 1``.
    lr : float or array
        Step size ``> 0``, broadcast over the leading dimensions.

    Returns
    -------
    array, shape (..., d)

    Raises
    ------
    ValueError
        Bad ``lr``, ``depth`` or mismatched shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import end_to_end_update_single_output
    >>> end_to_end_update_single_output(np.array([3.0, 4.0]), np.array([1.0, 0.0]), depth=2, lr=0.01)
    array([2.932, 3.976])

    References
    ----------
    .. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Claim 1.
    """
    xp = namespace_of(w, g)
    w = as_float_array(xp, w, "w")
    g = as_float_array(xp, g, "g")
    depth = check_depth(depth)
    if w.ndim < 1 or tuple(w.shape) != tuple(g.shape):
        raise ValueError(f"w and g must be vectors of one shape, got {tuple(w.shape)} and {tuple(g.shape)}")
    lr_ = check_lr(xp, lr, tuple(w.shape[:-1]), like=w)[..., 0]
    if depth == 1:
        return w - lr_ * g
    return w - lr_ * _field_single(xp, w, g, depth)


def fit_end_to_end(
    loss: LossFn, W0: Array, depth: int, lr: Any, n_iter: int, *, rtol: float | None = None,
    method: str = "auto",
) -> tuple[Array, np.ndarray]:
    """Iterate :func:`end_to_end_update` from ``W0`` for ``n_iter`` steps.

    Parameters
    ----------
    loss : callable
        ``loss(W) -> (value, grad)``.
    W0 : array, shape (d_out, d_in)
        Starting end-to-end matrix.
    depth : int
        Depth of the emulated network.
    lr : float
        Step size.
    n_iter : int
        Number of steps.
    rtol, method
        As in :func:`end_to_end_update`.

    Returns
    -------
    W : array
        The final matrix.
    losses : numpy.ndarray, shape (n_iter + 1,)
        The loss before every step and after the last one.

    Raises
    ------
    DivergenceError
        When the loss or ``W`` becomes non-finite; the message has the step and suggests a smaller lr.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import fit_end_to_end, SquaredLoss
    >>> X = np.eye(2); y = np.array([1.0, 2.0])
    >>> W, losses = fit_end_to_end(SquaredLoss(X, y), np.array([[0.1, 0.1]]), depth=2, lr=0.5, n_iter=200)
    >>> np.round(W, 6)
    array([[1., 2.]])
    """
    check_lr(np, lr, ())
    n_iter = check_n_iter(n_iter)
    W = W0
    losses = np.empty(n_iter + 1)
    for t in range(n_iter + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = loss(W)
        value = float(value)
        if not math.isfinite(value):
            raise DivergenceError(t, value, lr)
        losses[t] = value
        if t == n_iter:
            break
        W = end_to_end_update(W, grad, depth, lr, rtol=rtol, method=method)
    return W, losses
