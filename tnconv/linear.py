"""Deep linear networks and the end-to-end update rule (implicit acceleration by depth).

A depth-``N`` linear network ``x -> W_N ... W_1 x`` computes the same functions as the single matrix
``W = W_N ... W_1`` (the *end-to-end* matrix), so depth adds no expressiveness. It does change how gradient
descent moves: with a *balanced* initialization (``W_{j+1}^T W_{j+1} = W_j W_j^T``), gradient descent on
the factors with step ``eta`` moves ``W`` by the **end-to-end update rule**, exactly for gradient flow and
to first order in ``eta`` for gradient descent:

    W <- W - eta * sum_{j=1..N} (W W^T)^((j-1)/N) grad L(W) (W^T W)^((N-j)/N)

The rule depends on the depth ``N`` only, never on the hidden widths. For a single output (``W = w^T``)
it reads ``w <- w - eta ||w||^(2-2/N) (g + (N-1) (g . w_hat) w_hat)``: an adaptive step plus momentum
along the direction already taken.

Arrays may be NumPy or CuPy; the array module is taken from the inputs. Every function also accepts
*stacks* of matrices (shape ``(..., rows, cols)``) with a learning rate that broadcasts over the stack,
which is how :mod:`tnconv.experiments.linear_acceleration` runs a whole learning-rate grid at once.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DeepLinearNetwork",
    "DivergenceError",
    "LpLoss",
    "SoftmaxCrossEntropy",
    "SquaredLoss",
    "end_to_end_field",
    "end_to_end_update",
    "end_to_end_update_single_output",
    "fit_end_to_end",
    "psd_power",
]

Array = Any
LossFn = Callable[[Array], "tuple[Array, Array]"]


class DivergenceError(ValueError):
    """Training produced a non-finite loss or non-finite weights.

    Attributes
    ----------
    step : int
        The 0-based step at which the non-finite value appeared.
    lr : float
        The learning rate in use.
    """

    def __init__(self, step: int, value: Any, lr: Any, what: str = "loss"):
        self.step = int(step)
        self.lr = lr
        self.value = value
        try:
            hint = f"try lr={float(np.max(np.asarray(lr))) / 10:.3g}"
        except (TypeError, ValueError):  # pragma: no cover - exotic lr objects
            hint = "try a smaller lr"
        super().__init__(
            f"training diverged at step {self.step}: the {what} is {value} (lr={lr}); "
            f"lower the learning rate ({hint})"
        )


# --------------------------------------------------------------------------------------------------
# helpers


def _xp(*arrays: Any) -> Any:
    """The array module of the inputs (CuPy if any input is a CuPy array, else NumPy)."""
    for a in arrays:
        if type(a).__module__.split(".")[0] == "cupy":
            try:
                import cupy
            except ImportError as exc:  # pragma: no cover - a cupy array implies cupy
                raise ImportError("CuPy arrays need cupy: pip install 'tnconv[gpu]'") from exc
            return cupy
    return np


def _as_float_array(xp: Any, a: Any, name: str) -> Array:
    if isinstance(a, (str, bytes)) or a is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__} {a!r}")
    arr = xp.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(xp.float64)
    return arr


def _check_depth(depth: Any) -> int:
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"depth must be an int >= 1, got {depth!r}")
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    return int(depth)


def _check_lr(xp: Any, lr: Any, batch_shape: tuple[int, ...]) -> Array:
    """A positive finite learning rate, scalar or broadcastable over the stack; shape ``(..., 1, 1)``."""
    if isinstance(lr, (bool, str, bytes)) or lr is None:
        raise TypeError(f"lr must be a positive number (or an array of them), got {lr!r}")
    if hasattr(lr, "__cuda_array_interface__"):  # a CuPy scalar/array: validate on the host
        lr = lr.get()
    try:
        arr = np.asarray(lr, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"lr must be a positive number (or an array of them), got {lr!r}") from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"lr (the step size eta) must be positive and finite, got {lr!r}")
    try:
        np.broadcast_shapes(arr.shape, batch_shape)
    except ValueError:
        raise ValueError(f"lr of shape {arr.shape} does not broadcast over the stack shape {batch_shape}") from None
    return xp.asarray(arr)[..., None, None]


def _default_rtol(dtype: Any, rows: int, cols: int, on: str) -> float:
    # Rounding noise in the eigenvalues of W W^T formed explicitly is ~ n * eps * lambda_max; in the
    # singular values of W itself it is ~ n * eps * s_max, i.e. (n * eps)^2 on the eigenvalue scale.
    eps = float(np.finfo(dtype).eps)
    n = max(rows, cols)
    return (100 * n * eps) if on == "eigh" else (10 * n * eps) ** 2


# --------------------------------------------------------------------------------------------------
# fractional powers


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
    xp = _xp(M)
    M = _as_float_array(xp, M, "M")
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise ValueError(f"psd_power needs a square matrix (or a stack of them), got shape {tuple(M.shape)}")
    power = float(power)
    if not math.isfinite(power) or power < 0:
        raise ValueError(f"power must be finite and >= 0, got {power}")
    n = M.shape[-1]
    eye = xp.broadcast_to(xp.eye(n, dtype=M.dtype), M.shape)
    if power == 0:
        return eye.copy()
    rtol = _default_rtol(M.dtype, n, n, "eigh") if rtol is None else float(rtol)
    if rtol < 0:
        raise ValueError(f"rtol must be >= 0, got {rtol}")
    lam, V = xp.linalg.eigh((M + xp.swapaxes(M, -1, -2)) / 2)
    top = xp.max(xp.abs(lam), axis=-1, keepdims=True)
    keep = lam > rtol * top
    lam_p = xp.where(keep, xp.where(keep, lam, 1.0) ** power, 0.0)
    return (V * lam_p[..., None, :]) @ xp.swapaxes(V, -1, -2)


# --------------------------------------------------------------------------------------------------
# the end-to-end rule


def end_to_end_field(W: Array, grad: Array, depth: int, rtol: float | None = None, method: str = "auto") -> Array:
    """The preconditioned direction ``sum_j (W W^T)^((j-1)/N) grad (W^T W)^((N-j)/N)``.

    :func:`end_to_end_update` is ``W - lr * end_to_end_field(W, grad, depth)``; see it for the
    parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import end_to_end_field
    >>> W = np.array([[3.0, 0.0], [0.0, 1.0]]); G = np.ones((2, 2))
    >>> end_to_end_field(W, G, depth=2)   # entries (s_i + s_j) g_ij for diagonal W = diag(s)
    array([[6., 4.],
           [4., 2.]])
    """
    xp = _xp(W, grad)
    W = _as_float_array(xp, W, "W")
    G = _as_float_array(xp, grad, "grad")
    depth = _check_depth(depth)
    if W.ndim < 2:
        raise ValueError(f"W must be a matrix (or a stack of them), got shape {tuple(W.shape)}")
    if tuple(G.shape) != tuple(W.shape):
        raise ValueError(f"grad has shape {tuple(G.shape)} but W has shape {tuple(W.shape)}; they must match")
    if method not in ("auto", "svd", "eigh", "closed"):
        raise ValueError(f"method must be 'auto', 'svd', 'eigh' or 'closed', got {method!r}")
    if depth == 1:
        return G.copy()
    rows, cols = W.shape[-2:]
    if method == "closed" or (method == "auto" and rows == 1):
        if rows != 1:
            raise ValueError(f"method='closed' is for a single output (W of shape (1, d)), got {tuple(W.shape)}")
        return _field_single(xp, W[..., 0, :], G[..., 0, :], depth)[..., None, :]
    N = depth
    if method == "eigh":
        WWt = W @ xp.swapaxes(W, -1, -2)
        WtW = xp.swapaxes(W, -1, -2) @ W
        out = xp.zeros_like(G)
        for j in range(1, N + 1):
            out = out + psd_power(WWt, (j - 1) / N, rtol) @ G @ psd_power(WtW, (N - j) / N, rtol)
        return out
    # SVD of W diagonalizes W W^T = U S^2 U^T and W^T W = V S^2 V^T at once, with singular values accurate
    # to ~eps * s_max (eigh of the products only resolves eigenvalues to ~eps * s_max^2).
    rtol_ = _default_rtol(W.dtype, rows, cols, "svd") if rtol is None else float(rtol)
    if rtol_ < 0:
        raise ValueError(f"rtol must be >= 0, got {rtol_}")
    U, s, Vh = xp.linalg.svd(W, full_matrices=False)
    V = xp.swapaxes(Vh, -1, -2)
    Ut = xp.swapaxes(U, -1, -2)
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
    xp = _xp(W, grad)
    W = _as_float_array(xp, W, "W")
    lr_ = _check_lr(xp, lr, tuple(W.shape[:-2]) if W.ndim >= 2 else ())
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
    xp = _xp(w, g)
    w = _as_float_array(xp, w, "w")
    g = _as_float_array(xp, g, "g")
    depth = _check_depth(depth)
    if w.ndim < 1 or tuple(w.shape) != tuple(g.shape):
        raise ValueError(f"w and g must be vectors of one shape, got {tuple(w.shape)} and {tuple(g.shape)}")
    lr_ = _check_lr(xp, lr, tuple(w.shape[:-1]))[..., 0]
    if depth == 1:
        return w - lr_ * g
    return w - lr_ * _field_single(xp, w, g, depth)


def fit_end_to_end(
    loss: LossFn, W0: Array, depth: int, lr: Any, n_iter: int, **kw: Any
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
    **kw
        Passed to :func:`end_to_end_update` (``rtol``, ``method``).

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
    _check_lr(np, lr, ())
    n_iter = _check_n_iter(n_iter)
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
        W = end_to_end_update(W, grad, depth, lr, **kw)
    return W, losses


def _check_n_iter(n_iter: Any) -> int:
    if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or n_iter < 0:
        raise ValueError(f"n_iter must be an int >= 0, got {n_iter!r}")
    return int(n_iter)


# --------------------------------------------------------------------------------------------------
# deep linear networks


def _random_orthonormal(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    q, rr = np.linalg.qr(rng.standard_normal((n, r)))
    return q * np.sign(np.diag(rr))  # Haar-distributed columns


class DeepLinearNetwork:
    """A depth-``N`` linear network ``x -> W_N ... W_1 x`` trained by gradient descent on its factors.

    Parameters
    ----------
    factors : sequence of arrays
        ``[W_1, ..., W_N]``; ``W_1`` is applied first, shape ``(n_1, d_in)``, ``W_j`` has shape
        ``(n_j, n_{j-1})`` and ``W_N`` has shape ``(d_out, n_{N-1})``. Stacks ``(..., n_j, n_{j-1})``
        with one common stack shape are allowed (many networks trained at once).

    Raises
    ------
    ValueError
        If there are no factors or consecutive shapes do not chain.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss
    >>> net = DeepLinearNetwork.balanced(d_in=3, d_out=1, depth=3, hidden=[4, 2], scale=0.1, seed=0)
    >>> [f.shape for f in net.factors]
    [(4, 3), (2, 4), (1, 2)]
    >>> bool(max(net.balancedness()) < 1e-12)
    True
    >>> X = np.eye(3); y = np.array([1.0, -1.0, 0.5])
    >>> losses = net.fit(SquaredLoss(X, y), lr=0.3, n_iter=400)
    >>> np.round(net.end_to_end(), 4)
    array([[ 1. , -1. ,  0.5]])

    References
    ----------
    .. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Sections 4-5 (balancedness, the rule).
    """

    def __init__(self, factors: Sequence[Array]):
        if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__") or len(factors) == 0:
            raise ValueError(f"factors must be a non-empty sequence of matrices, got {factors!r}")
        xp = _xp(*factors)
        fs = [_as_float_array(xp, f, f"factors[{j}]") for j, f in enumerate(factors)]
        for j, f in enumerate(fs):
            if f.ndim < 2:
                raise ValueError(f"factors[{j}] (W_{j + 1}) must be a matrix, got shape {tuple(f.shape)}")
            if tuple(f.shape[:-2]) != tuple(fs[0].shape[:-2]):
                raise ValueError(
                    f"factors[{j}] has stack shape {tuple(f.shape[:-2])}, factors[0] has {tuple(fs[0].shape[:-2])}"
                )
            if j and f.shape[-1] != fs[j - 1].shape[-2]:
                raise ValueError(
                    f"factor shapes do not chain: W_{j + 1} = factors[{j}] has shape {tuple(f.shape[-2:])} "
                    f"but W_{j} = factors[{j - 1}] outputs {fs[j - 1].shape[-2]} (shape {tuple(fs[j - 1].shape[-2:])})"
                )
        self.factors: list[Array] = fs
        self._xp = xp

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_end_to_end(
        cls, W: Array, depth: int, hidden: int | Sequence[int] | None = None, seed: Any = None,
        rtol: float | None = None,
    ) -> DeepLinearNetwork:
        """A balanced factorization of a given end-to-end matrix (an SVD construction).

        With ``W = U S V^T`` of rank ``r`` and hidden orthonormal frames ``Q_j`` (``n_j x r``, random):
        ``W_1 = Q_1 S^(1/N) V^T``, ``W_j = Q_j S^(1/N) Q_{j-1}^T``, ``W_N = U S^(1/N) Q_{N-1}^T``. Then
        ``W_{j+1}^T W_{j+1} = Q_j S^(2/N) Q_j^T = W_j W_j^T`` and the product is ``W``.

        Parameters
        ----------
        W : array, shape (d_out, d_in)
        depth : int
        hidden : int or sequence of ``depth - 1`` ints, optional
            Hidden widths; each must be at least ``rank(W)``. Default ``min(d_out, d_in)``.
        seed : int or numpy Generator, optional
            For the hidden frames.
        rtol : float, optional
            Singular values at or below ``rtol * s_max`` count as zero (default ``10 n eps``).

        Returns
        -------
        DeepLinearNetwork

        Raises
        ------
        ValueError
            A hidden width below ``rank(W)``, or a bad depth or width list.

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import DeepLinearNetwork
        >>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> net = DeepLinearNetwork.from_end_to_end(W, depth=3, hidden=5, seed=1)
        >>> bool(np.allclose(net.end_to_end(), W))
        True
        """
        xp = _xp(W)
        W = _as_float_array(xp, W, "W")
        depth = _check_depth(depth)
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix, got shape {tuple(W.shape)}")
        d_out, d_in = W.shape
        widths = _hidden_widths(hidden, depth, d_in, d_out)
        if depth == 1:
            return cls([W.copy()])
        Wn = W.get() if hasattr(W, "get") else np.asarray(W)
        U, s, Vh = np.linalg.svd(Wn, full_matrices=False)
        rel = 10 * max(d_out, d_in) * np.finfo(Wn.dtype).eps if rtol is None else float(rtol)
        tol = rel * (s[0] if s.size else 0)
        r = int(np.sum(s > tol))
        if widths and min(widths) < r:
            j = int(np.argmin(widths))
            raise ValueError(
                f"hidden width n_{j + 1} = {widths[j]} is below rank(W) = {r}: a balanced factorization "
                f"needs every hidden width >= rank(W)"
            )
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        root = s[:r] ** (1.0 / depth)
        frames = [Vh[:r].T] + [_random_orthonormal(rng, n, r) for n in widths] + [U[:, :r]]
        fs = [(frames[j + 1] * root) @ frames[j].T for j in range(depth)]
        return cls([xp.asarray(f) for f in fs])

    @classmethod
    def balanced(
        cls, d_in: int, d_out: int, depth: int, hidden: int | Sequence[int] | None = None,
        scale: float = 0.1, seed: Any = None, xp: Any = None,
    ) -> DeepLinearNetwork:
        """A random balanced network whose end-to-end matrix has Frobenius norm ``scale``.

        A Gaussian ``d_out x d_in`` matrix, truncated to rank ``min(d_in, d_out, min(hidden))`` and
        rescaled, is factorized by :meth:`from_end_to_end`.

        Parameters
        ----------
        d_in, d_out : int
            Input and output dimensions.
        depth : int
            Number of factors ``N >= 1``.
        hidden : int or sequence of ``depth - 1`` ints, optional
            Hidden widths (default ``min(d_in, d_out)``).
        scale : float
            Frobenius norm of the initial end-to-end matrix (``>= 0``).
        seed : int or numpy Generator, optional
        xp : module, optional
            Array module of the factors (``numpy`` default; pass ``cupy`` for the GPU).

        Returns
        -------
        DeepLinearNetwork

        Raises
        ------
        ValueError
            Non-positive dimensions, negative or non-finite scale, bad hidden widths.

        Examples
        --------
        >>> from tnconv.linear import DeepLinearNetwork
        >>> import numpy as np
        >>> net = DeepLinearNetwork.balanced(5, 2, depth=4, hidden=3, scale=0.5, seed=0)
        >>> round(float(np.linalg.norm(net.end_to_end())), 12)
        0.5
        """
        for name, v in (("d_in", d_in), ("d_out", d_out)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        depth = _check_depth(depth)
        scale = float(scale)
        if not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be finite and >= 0, got {scale}")
        widths = _hidden_widths(hidden, depth, d_in, d_out)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        A = rng.standard_normal((d_out, d_in))
        r = min([d_in, d_out] + widths)
        U, s, Vh = np.linalg.svd(A, full_matrices=False)
        A = (U[:, :r] * s[:r]) @ Vh[:r]
        W = A * (scale / np.linalg.norm(A))
        net = cls.from_end_to_end(W, depth, widths if depth > 1 else None, seed=rng)
        if xp is not None and xp is not np:
            net = cls([xp.asarray(f) for f in net.factors])
        return net

    # -- properties -----------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of factors ``N``."""
        return len(self.factors)

    @property
    def shape(self) -> tuple[int, int]:
        """``(d_out, d_in)`` of the end-to-end matrix."""
        return (int(self.factors[-1].shape[-2]), int(self.factors[0].shape[-1]))

    @property
    def hidden_widths(self) -> list[int]:
        """``[n_1, ..., n_{N-1}]``."""
        return [int(f.shape[-2]) for f in self.factors[:-1]]

    def end_to_end(self) -> Array:
        """The product ``W_N ... W_1``."""
        W = self.factors[0]
        for f in self.factors[1:]:
            W = f @ W
        return W

    def __call__(self, X: Array) -> Array:
        """Outputs ``X W^T`` for inputs ``X`` of shape ``(m, d_in)``."""
        return X @ self._xp.swapaxes(self.end_to_end(), -1, -2)

    def balancedness(self) -> list[float]:
        """``||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` for ``j = 1..N-1`` (largest over a stack)."""
        xp = self._xp
        out = []
        for lo, hi in zip(self.factors[:-1], self.factors[1:]):
            D = xp.swapaxes(hi, -1, -2) @ hi - lo @ xp.swapaxes(lo, -1, -2)
            out.append(float(xp.max(xp.sqrt(xp.sum(D * D, axis=(-2, -1))))))
        return out

    def factor_gradients(self, grad: Array) -> list[Array]:
        """Chain rule: ``dL/dW_j = (W_N..W_{j+1})^T grad (W_{j-1}..W_1)^T`` for ``grad = dL/dW``."""
        xp = self._xp
        fs = self.factors
        N = len(fs)
        T = lambda a: xp.swapaxes(a, -1, -2)  # noqa: E731
        prefix = [None] * N  # prefix[j] = W_{j-1} ... W_1 (None: identity)
        for j in range(1, N):
            prefix[j] = fs[0] if j == 1 else fs[j - 1] @ prefix[j - 1]
        grads: list[Array] = [None] * N
        left = grad  # (W_N .. W_{j+1})^T grad, built from the top down
        for j in range(N - 1, -1, -1):
            grads[j] = left if prefix[j] is None else left @ T(prefix[j])
            left = T(fs[j]) @ left
        return grads

    def step(self, loss: LossFn, lr: Any) -> Array:
        """One gradient-descent step on all factors; returns the loss value before the step."""
        xp = self._xp
        lr_ = _check_lr(xp, lr, tuple(self.factors[0].shape[:-2]))
        value, grad = loss(self.end_to_end())
        gs = self.factor_gradients(grad)
        self.factors = [f - lr_ * g for f, g in zip(self.factors, gs)]
        return value

    def fit(self, loss: LossFn, lr: float, n_iter: int) -> np.ndarray:
        """Gradient descent on the factors for ``n_iter`` steps.

        Parameters
        ----------
        loss : callable
            ``loss(W) -> (value, grad)`` on the end-to-end matrix, e.g. :class:`LpLoss`.
        lr : float
            Step size ``> 0``.
        n_iter : int
            Number of steps.

        Returns
        -------
        numpy.ndarray, shape (n_iter + 1,)
            The loss before each step and after the last.

        Raises
        ------
        DivergenceError
            If the loss or a factor becomes non-finite; names the step and suggests a smaller lr.
        """
        if tuple(self.factors[0].shape[:-2]):
            raise ValueError("fit() trains one network; for a stack call step() in a loop")
        _check_lr(np, lr, ())
        n_iter = _check_n_iter(n_iter)
        losses = np.empty(n_iter + 1)
        xp = self._xp
        for t in range(n_iter + 1):
            if t == n_iter:
                value, _ = loss(self.end_to_end())
            else:
                with np.errstate(over="ignore", invalid="ignore"):
                    value = self.step(loss, lr)
            value = float(value)
            if not math.isfinite(value):
                raise DivergenceError(t, value, lr)
            losses[t] = value
            if t < n_iter and not all(bool(xp.all(xp.isfinite(f))) for f in self.factors):
                raise DivergenceError(t + 1, "non-finite", lr, what="factors")
        return losses

    def __repr__(self) -> str:
        return f"DeepLinearNetwork(depth={self.depth}, shape={self.shape}, hidden={self.hidden_widths})"


def _hidden_widths(hidden: Any, depth: int, d_in: int, d_out: int) -> list[int]:
    if hidden is None:
        return [min(d_in, d_out)] * (depth - 1)
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        widths = [int(hidden)] * (depth - 1)
    else:
        widths = list(hidden)
        if len(widths) != depth - 1:
            raise ValueError(f"hidden must give depth - 1 = {depth - 1} widths, got {len(widths)}: {hidden!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1:
            raise ValueError(f"hidden widths must be positive ints, got {w!r} in {hidden!r}")
    return [int(w) for w in widths]


# --------------------------------------------------------------------------------------------------
# losses of the end-to-end matrix


class _MatrixLoss:
    """Base: ``loss(W) -> (value, grad)`` for ``W`` of shape ``(..., d_out, d_in)``, data rows = samples."""

    _xp: Any  # the array module of the data (numpy or cupy)
    X: Array
    n_samples: int
    shape: tuple[int, int]

    def __call__(self, W: Array) -> tuple[Array, Array]:
        raise NotImplementedError  # pragma: no cover - every loss defines it

    def _check_W(self, W: Array) -> Array:
        xp = self._xp
        W = _as_float_array(xp, W, "W")
        if W.ndim < 2 or tuple(W.shape[-2:]) != self.shape:
            raise ValueError(
                f"W has shape {tuple(W.shape)} but this loss needs (d_out, d_in) = {self.shape} "
                f"(data: {self.n_samples} samples x {self.shape[1]} features)"
            )
        return W

    def value(self, W: Array) -> Array:
        """The loss alone."""
        return self(W)[0]


def _data(X: Any, name: str = "X") -> tuple[Any, Array]:
    xp = _xp(X)
    X = _as_float_array(xp, X, name)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (n_samples, n_features) matrix, got shape {tuple(X.shape)}")
    return xp, X


class LpLoss(_MatrixLoss):
    """l_p regression loss ``L(W) = 1/(p m) sum_i sum_k |(W x_i)_k - y_ik|^p`` with its gradient.

    Parameters
    ----------
    X : array, shape (m, d_in)
        Inputs, one sample per row.
    y : array, shape (m,) or (m, d_out)
        Targets; a vector means one output.
    p : float
        Exponent, ``p >= 2`` (the loss is then twice differentiable with a continuous gradient).

    Raises
    ------
    ValueError
        ``p < 2`` or not finite, or shapes of ``X`` and ``y`` that disagree.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import LpLoss
    >>> loss = LpLoss(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 0.0]), p=4)
    >>> value, grad = loss(np.zeros((1, 2)))
    >>> float(value), grad
    (0.125, array([[-0.5,  0. ]]))

    References
    ----------
    .. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Section 8 (l_p regression, p = 4).
    """

    def __init__(self, X: Array, y: Array, p: float = 2):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not math.isfinite(float(p)) or p < 2:
            raise ValueError(f"p must be a finite number >= 2 (l_p loss with p < 2 is not smooth), got p={p!r}")
        self._xp, self.X = _data(X)
        y = _as_float_array(self._xp, y, "y")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != self.X.shape[0]:
            raise ValueError(f"y of shape {tuple(y.shape)} does not match X with {self.X.shape[0]} samples")
        self.Y = y
        self._Xt: Array = self._xp.ascontiguousarray(self.X.T)
        self._Yt: Array = self._xp.ascontiguousarray(y.T)
        self._Y_rows: Array = self._Yt  # targets tiled for the last stack size seen
        self.p: float = float(p)
        self.n_samples = int(self.X.shape[0])
        self.shape = (int(y.shape[1]), int(self.X.shape[1]))

    def __call__(self, W: Array) -> tuple[Array, Array]:
        xp = self._xp
        W = self._check_W(W)
        d_out, d_in = self.shape
        stack = tuple(W.shape[:-2])
        # Residuals laid out (stack * d_out, m): one GEMM for the whole stack and contiguous row sums,
        # much faster than a broadcast matmul over a stack of thin matrices.
        n_rows = W.size // d_in
        # Read the cached tiling once into a local: a concurrent call with another stack size may
        # replace the attribute, never the array this call uses (attribute assignment is atomic).
        Y_rows = self._Y_rows
        if Y_rows.shape[0] != n_rows:
            Y_rows = xp.tile(self._Yt, (n_rows // d_out, 1))
            self._Y_rows = Y_rows
        R = W.reshape(n_rows, d_in) @ self._Xt - Y_rows
        m, p = self.n_samples, self.p
        # P = sign(R) |R|^(p-1) = R |R|^(p-2); |R|^p = P * R. Integer powers by multiplication.
        k = p - 2
        if k == 0:
            P = R
        elif k == int(k) and k <= 8:
            A = xp.abs(R)
            P = R
            for _ in range(int(k)):
                P = P * A
        else:
            P = R * xp.abs(R) ** k
        value = xp.sum(P * R, axis=-1).reshape(stack + (d_out,)).sum(axis=-1) / (p * m)
        grad = ((P @ self.X) / m).reshape(stack + (d_out, d_in))
        return value, grad


class SquaredLoss(LpLoss):
    """Squared loss ``L(W) = 1/(2m) sum_i ||W x_i - y_i||^2`` (the ``p = 2`` :class:`LpLoss`).

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import SquaredLoss
    >>> float(SquaredLoss(np.eye(2), np.array([1.0, 1.0]))(np.zeros((1, 2)))[0])
    0.5
    """

    def __init__(self, X: Array, y: Array):
        super().__init__(X, y, p=2)


class SoftmaxCrossEntropy(_MatrixLoss):
    """Softmax cross-entropy ``L(W) = -1/m sum_i log softmax(W x_i)[y_i]`` for ``W`` of shape ``(C, d)``.

    Parameters
    ----------
    X : array, shape (m, d)
    labels : array of int, shape (m,)
        Class indices in ``[0, n_classes)``.
    n_classes : int, optional
        Default ``max(labels) + 1``.

    Raises
    ------
    ValueError
        Labels that are not integers in range, or a length that disagrees with ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.linear import SoftmaxCrossEntropy
    >>> loss = SoftmaxCrossEntropy(np.eye(2), np.array([0, 1]))
    >>> value, grad = loss(np.zeros((2, 2)))
    >>> round(float(value), 6) == round(float(np.log(2)), 6)
    True
    """

    def __init__(self, X: Array, labels: Array, n_classes: int | None = None):
        self._xp, self.X = _data(X)
        xp = self._xp
        lab = xp.asarray(labels)
        if lab.ndim != 1 or lab.shape[0] != self.X.shape[0]:
            raise ValueError(f"labels of shape {tuple(lab.shape)} do not match X with {self.X.shape[0]} samples")
        if lab.dtype.kind not in "iu":
            if lab.dtype.kind == "f" and bool(xp.all(lab == xp.round(lab))):
                lab = lab.astype(xp.int64)
            else:
                raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
        C = int(lab.max()) + 1 if n_classes is None else int(n_classes)
        bad = (lab < 0) | (lab >= C)
        if bool(xp.any(bad)):
            raise ValueError(f"labels must lie in [0, {C}), got {int(lab[bad][0])}")
        self.labels = lab
        self.n_samples = int(self.X.shape[0])
        self.shape = (C, int(self.X.shape[1]))
        self._onehot = (lab[:, None] == xp.arange(C)[None, :]).astype(self.X.dtype)

    def __call__(self, W: Array) -> tuple[Array, Array]:
        xp = self._xp
        W = self._check_W(W)
        Z = self.X @ xp.swapaxes(W, -1, -2)  # (..., m, C) logits
        Z = Z - xp.max(Z, axis=-1, keepdims=True)  # log-sum-exp shift: no overflow
        logZ = xp.log(xp.sum(xp.exp(Z), axis=-1, keepdims=True))
        logP = Z - logZ
        value = -xp.sum(logP * self._onehot, axis=(-2, -1)) / self.n_samples
        dZ = (xp.exp(logP) - self._onehot) / self.n_samples
        return value, xp.swapaxes(dZ, -1, -2) @ self.X
