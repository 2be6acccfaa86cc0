"""Deep linear networks ``x -> W_N ... W_1 x`` trained by gradient descent on their factors.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, arXiv:1802.06509, Sections 4-5 (balancedness, the end-to-end rule).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import Array, DivergenceError, LossFn, as_float_array, check_depth, check_lr, check_n_iter, namespace_of

__all__ = ["DeepLinearNetwork", "hidden_widths", "random_orthonormal"]


def random_orthonormal(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    """``r`` Haar-distributed orthonormal columns in dimension ``n``."""
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
        xp = namespace_of(*factors)
        fs = [as_float_array(xp, f, f"factors[{j}]") for j, f in enumerate(factors)]
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
        xp = namespace_of(W)
        W = as_float_array(xp, W, "W")
        depth = check_depth(depth)
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix, got shape {tuple(W.shape)}")
        d_out, d_in = W.shape
        widths = hidden_widths(hidden, depth, d_in, d_out)
        if depth == 1:
            return cls([xp.asarray(W, copy=True)])
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
        frames = [Vh[:r].T] + [random_orthonormal(rng, n, r) for n in widths] + [U[:, :r]]
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
        depth = check_depth(depth)
        scale = float(scale)
        if not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be finite and >= 0, got {scale}")
        widths = hidden_widths(hidden, depth, d_in, d_out)
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
        """The product ``W_N ... W_1``.

        Returns
        -------
        array of shape (d_out, d_in)

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss
        >>> net = DeepLinearNetwork([np.full((2, 2), 0.5), np.eye(2), np.ones((1, 2))])
        >>> net.end_to_end().tolist()
        [[1.0, 1.0]]
        """
        W = self.factors[0]
        for f in self.factors[1:]:
            W = f @ W
        return W

    def __call__(self, X: Array) -> Array:
        """Outputs ``X W^T`` for inputs ``X`` of shape ``(m, d_in)``."""
        return X @ self._xp.matrix_transpose(self.end_to_end())

    def balancedness(self) -> list[float]:
        """``||W_{j+1}^T W_{j+1} - W_j W_j^T||_F`` for ``j = 1..N-1`` (largest over a stack).

        Returns
        -------
        list of float
            Zero for a balanced network (the end-to-end rule holds exactly under gradient flow).

        Examples
        --------
        >>> from tnconv.linear import DeepLinearNetwork
        >>> net = DeepLinearNetwork.balanced(d_in=3, d_out=1, depth=2, hidden=[2], scale=0.1, seed=0)
        >>> [round(b, 12) for b in net.balancedness()]
        [0.0]
        """
        xp = self._xp
        out = []
        for lo, hi in zip(self.factors[:-1], self.factors[1:]):
            D = xp.matrix_transpose(hi) @ hi - lo @ xp.matrix_transpose(lo)
            out.append(float(xp.max(xp.sqrt(xp.sum(D * D, axis=(-2, -1))))))
        return out

    def factor_gradients(self, grad: Array) -> list[Array]:
        """Chain rule: ``dL/dW_j = (W_N..W_{j+1})^T grad (W_{j-1}..W_1)^T`` for ``grad = dL/dW``.

        Parameters
        ----------
        grad : array of shape (d_out, d_in)
            The gradient of the loss at the end-to-end matrix.

        Returns
        -------
        list of array
            One gradient per factor, shaped like it.

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss
        >>> net = DeepLinearNetwork([np.full((2, 2), 0.5), np.eye(2), np.ones((1, 2))])
        >>> [g.shape for g in net.factor_gradients(np.ones((1, 2)))]
        [(2, 2), (2, 2), (1, 2)]
        """
        xp = self._xp
        fs = self.factors
        N = len(fs)
        T = lambda a: xp.matrix_transpose(a)  # noqa: E731
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
        """One gradient-descent step on all factors; returns the loss value before the step.

        Parameters
        ----------
        loss : callable
            ``loss(W) -> (value, grad)``, as for :meth:`fit`.
        lr : float
            Step size.

        Returns
        -------
        array
            The loss before the step.

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss
        >>> net = DeepLinearNetwork([np.full((2, 2), 0.5), np.eye(2), np.ones((1, 2))])
        >>> loss = SquaredLoss(np.eye(2), np.array([2.0, 0.0]))
        >>> before = net.step(loss, lr=0.01)
        >>> bool(loss.value(net.end_to_end()) < before)
        True
        """
        xp = self._xp
        lr_ = check_lr(xp, lr, tuple(self.factors[0].shape[:-2]), like=self.factors[0])
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

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv.linear import DeepLinearNetwork, SquaredLoss
        >>> net = DeepLinearNetwork([np.full((2, 2), 0.5), np.eye(2), np.ones((1, 2))])
        >>> losses = net.fit(SquaredLoss(np.eye(2), np.array([2.0, 0.0])), lr=0.05, n_iter=100)
        >>> losses.shape, bool(losses[-1] < losses[0])
        ((101,), True)
        """
        if tuple(self.factors[0].shape[:-2]):
            raise ValueError("fit() trains one network; for a stack call step() in a loop")
        check_lr(np, lr, ())
        n_iter = check_n_iter(n_iter)
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


def hidden_widths(hidden: Any, depth: int, d_in: int, d_out: int) -> list[int]:
    """The ``depth - 1`` hidden widths: one int for all, a sequence, or ``min(d_in, d_out)``."""
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
