"""Losses of the end-to-end matrix: ``loss(W) -> (value, grad)`` for ``W`` of shape ``(..., d_out, d_in)``.

Every loss keeps its data in the namespace it was given (numpy, CuPy, JAX, torch, array-api-strict).

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Section 8 (l_p regression, p = 4).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .checks import Array, as_float_array, namespace_of

__all__ = ["LpLoss", "SoftmaxCrossEntropy", "SquaredLoss"]


def contiguous(xp: Any, a: Array) -> Array:
    """``a`` laid out in C order where the namespace has that notion (numpy, CuPy), else ``a``."""
    f = getattr(xp, "ascontiguousarray", None)
    return a if f is None else f(a)


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
        W = as_float_array(xp, W, "W")
        if W.ndim < 2 or tuple(W.shape[-2:]) != self.shape:
            raise ValueError(
                f"W has shape {tuple(W.shape)} but this loss needs (d_out, d_in) = {self.shape} "
                f"(data: {self.n_samples} samples x {self.shape[1]} features)"
            )
        return W

    def value(self, W: Array) -> Array:
        """The loss alone.

        Parameters
        ----------
        W : array of shape (d_out, d_in)
            The end-to-end matrix.

        Returns
        -------
        array
            A scalar (or one per stacked network).

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import LpLoss
        >>> float(LpLoss(np.eye(2), np.array([1.0, 1.0]), p=4).value(np.zeros((1, 2))))
        0.25
        """
        return self(W)[0]


def _data(X: Any, name: str = "X") -> tuple[Any, Array]:
    xp = namespace_of(X)
    X = as_float_array(xp, X, name)
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
        y = as_float_array(self._xp, y, "y")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != self.X.shape[0]:
            raise ValueError(f"y of shape {tuple(y.shape)} does not match X with {self.X.shape[0]} samples")
        self.Y = y
        self._Xt: Array = contiguous(self._xp, self.X.T)
        self._Yt: Array = contiguous(self._xp, y.T)
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
        n_rows = math.prod(W.shape) // d_in
        # Read the cached tiling once into a local: a concurrent call with another stack size may
        # replace the attribute, never the array this call uses (attribute assignment is atomic).
        Y_rows = self._Y_rows
        if Y_rows.shape[0] != n_rows:
            Y_rows = xp.tile(self._Yt, (n_rows // d_out, 1))
            self._Y_rows = Y_rows
        R = xp.reshape(W, (n_rows, d_in)) @ self._Xt - Y_rows
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
        value = xp.sum(xp.reshape(xp.sum(P * R, axis=-1), stack + (d_out,)), axis=-1) / (p * m)
        grad = xp.reshape((P @ self.X) / m, stack + (d_out, d_in))
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
        if not xp.isdtype(lab.dtype, "integral"):
            if xp.isdtype(lab.dtype, "real floating") and bool(xp.all(lab == xp.round(lab))):
                lab = xp.astype(lab, xp.int64)
            else:
                raise ValueError(f"labels must be integers, got dtype {lab.dtype}")
        C = int(xp.max(lab)) + 1 if n_classes is None else int(n_classes)
        bad = (lab < 0) | (lab >= C)
        if bool(xp.any(bad)):
            raise ValueError(f"labels must lie in [0, {C}), got {int(lab[bad][0])}")
        self.labels = lab
        self.n_samples = int(self.X.shape[0])
        self.shape = (C, int(self.X.shape[1]))
        self._onehot = xp.astype(lab[:, None] == xp.arange(C)[None, :], self.X.dtype)

    def __call__(self, W: Array) -> tuple[Array, Array]:
        xp = self._xp
        W = self._check_W(W)
        Z = self.X @ xp.matrix_transpose(W)  # (..., m, C) logits
        Z = Z - xp.max(Z, axis=-1, keepdims=True)  # log-sum-exp shift: no overflow
        logZ = xp.log(xp.sum(xp.exp(Z), axis=-1, keepdims=True))
        logP = Z - logZ
        value = -xp.sum(logP * self._onehot, axis=(-2, -1)) / self.n_samples
        dZ = (xp.exp(logP) - self._onehot) / self.n_samples
        return value, xp.matrix_transpose(dZ) @ self.X
