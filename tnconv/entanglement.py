"""Entanglement measures of a coefficient tensor across an input partition.

For a partition ``(I, I^c)`` the matricization ``[[A]]_I`` has rows indexed by the modes in ``I``
(ascending) and columns by the rest. With singular values ``s_1 >= s_2 >= ...`` and
``p_k = s_k^2 / sum s^2``:

* Schmidt rank (separation rank) ``= rank [[A]]_I``;
* entanglement entropy ``= -sum p_k log p_k``;
* geometric measure ``= 1 - p_1``.

Every function takes a dense tensor ``A``. :func:`schmidt_values`, :func:`schmidt_rank`,
:func:`entanglement_entropy` and :func:`geometric_measure` also take a model or a
:class:`~tnconv.network.TensorNetwork`; they then work through a small cut of the network without
materializing ``A`` (see :mod:`tnconv.spectrum`).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552.
.. [2] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743 (separation rank and matricization rank).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._config import check_budget
from .partitions import validate_partition

__all__ = [
    "default_rtol",
    "entanglement_entropy",
    "geometric_measure",
    "matricize",
    "schmidt_rank",
    "schmidt_values",
]


def _as_dense(A: Any) -> np.ndarray:
    if not isinstance(A, np.ndarray):
        A = np.asarray(A)
    if A.dtype.kind not in "fiuc":
        raise TypeError(f"tensor has dtype {A.dtype}; expected numbers")
    if A.ndim < 2:
        raise ValueError(f"a partition needs a tensor of order >= 2, got shape {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError("tensor contains NaN or infinite values")
    return A


def matricize(A: Any, part: Iterable[int]) -> np.ndarray:
    """The matricization ``[[A]]_I``: rows are the modes in ``I`` (ascending), columns the rest.

    Parameters
    ----------
    A : array_like of order N
    part : iterable of int
        The side ``I`` (non-empty, proper subset of ``0..N-1``).

    Returns
    -------
    numpy.ndarray of shape ``(prod of dims in I, prod of dims in I^c)``

    Raises
    ------
    ValueError
        An invalid partition (duplicates, out of range, empty or full side).

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018,
       arXiv:1704.01552.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.arange(8).reshape(2, 2, 2)
    >>> matricize(A, [1])
    array([[0, 1, 4, 5],
           [2, 3, 6, 7]])
    """
    A = _as_dense(A)
    I = sorted(validate_partition(part, A.ndim))
    J = [k for k in range(A.ndim) if k not in set(I)]
    rows = int(np.prod([A.shape[k] for k in I]))
    return np.transpose(A, I + J).reshape(rows, -1)


def _is_dense(obj: Any) -> bool:
    return isinstance(obj, (np.ndarray, list, tuple))


def _scale_free(A: Any, kw: dict[str, Any]) -> dict[str, Any]:
    # Rank, entropy and geometric measure ignore the overall scale, and raw Schmidt values of networks
    # with thousands of inputs overflow float64: ask the cut-based spectrum for normalized values.
    return kw if _is_dense(A) else {"normalize": True, **kw}


def schmidt_values(A: Any, part: Iterable[int], output: int = 0, **kw: Any) -> np.ndarray:
    """Singular values of ``[[A]]_I`` in descending order (unnormalized).

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
        A dense tensor, or a network (then computed through a small cut without forming ``A``).
    part : iterable of int
    output : int
        Output channel, for models.

    Returns
    -------
    numpy.ndarray

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018,
       arXiv:1704.01552.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.einsum("i,j->ij", [3.0, 4.0], [1.0, 0.0])  # a product state
    >>> schmidt_values(A, [0]).round(12)
    array([5., 0.])
    """
    if not _is_dense(A):
        from .spectrum import network_schmidt_values

        return network_schmidt_values(A, part, output=output, **kw)
    M = matricize(A, part)
    check_budget(f"the SVD of a {M.shape[0]}x{M.shape[1]} matricization", float(M.size) * M.itemsize * 3)
    return np.linalg.svd(M, compute_uv=False)


def default_rtol(shape: tuple[int, ...], dtype: Any = np.float64) -> float:
    """The default relative tolerance of :func:`schmidt_rank`: ``max(shape) * eps(dtype)``, as numpy's
    ``matrix_rank``."""
    return float(max(shape) * np.finfo(np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.float64).eps)


def schmidt_rank(A: Any, part: Iterable[int], rtol: float | None = None, output: int = 0, **kw: Any) -> int:
    """The Schmidt rank (separation rank) of ``A`` across ``(I, I^c)``: the rank of ``[[A]]_I``.

    Counts singular values ``s_k > rtol * s_1``.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
    part : iterable of int
    rtol : float, optional
        Relative tolerance. Default ``max(rows, cols) * eps`` of the dtype (numpy's ``matrix_rank``
        rule). Coefficient tensors of deep nets can spread their singular values over many orders of
        magnitude, so a numerical rank is only trustworthy for well-conditioned weights; for exact
        ranks use integer weights and arithmetic modulo a prime (see the test suite).
    output : int
        Output channel, for models.

    Returns
    -------
    int

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018,
       arXiv:1704.01552.

    Examples
    --------
    >>> import numpy as np
    >>> schmidt_rank(np.eye(3), [0])
    3
    """
    s = schmidt_values(A, part, output=output, **_scale_free(A, kw))
    if s.size == 0 or s[0] == 0:
        return 0
    if rtol is None:
        if _is_dense(A):
            shape = matricize(A, part).shape
            rtol = default_rtol(shape, np.asarray(A).dtype)
        else:
            rtol = default_rtol((s.size, s.size))
    if rtol < 0:
        raise ValueError(f"rtol must be non-negative, got {rtol}")
    return int(np.count_nonzero(s > rtol * s[0]))


def _probabilities(s: np.ndarray) -> np.ndarray:
    p = np.asarray(s, dtype=np.float64) ** 2
    total = p.sum()
    if total == 0:
        raise ValueError("the tensor is zero; its entanglement is undefined")
    return p / total


def entanglement_entropy(A: Any, part: Iterable[int], base: float | None = None, output: int = 0, **kw: Any) -> float:
    """Entanglement entropy ``-sum p_k log p_k`` with ``p_k = s_k^2 / sum s^2``.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
    part : iterable of int
    base : float, optional
        Logarithm base (default natural log).
    output : int

    Returns
    -------
    float
        At most ``log(schmidt_rank)``.

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018,
       arXiv:1704.01552.

    Examples
    --------
    >>> import numpy as np
    >>> round(entanglement_entropy(np.eye(4) / 2, [0], base=2), 12)
    2.0
    """
    p = _probabilities(schmidt_values(A, part, output=output, **_scale_free(A, kw)))
    p = p[p > 0]
    h = float(-(p * np.log(p)).sum())
    return float(h / np.log(base)) if base is not None else h


def geometric_measure(A: Any, part: Iterable[int], output: int = 0, **kw: Any) -> float:
    """Geometric measure of entanglement across the partition: ``1 - s_1^2 / sum s^2``.

    Zero exactly for product functions ``g(x_I) g'(x_{I^c})``.

    References
    ----------
    .. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018,
       arXiv:1704.01552.

    Examples
    --------
    >>> import numpy as np
    >>> geometric_measure(np.eye(2), [0])
    0.5
    """
    p = _probabilities(schmidt_values(A, part, output=output, **_scale_free(A, kw)))
    return float(1.0 - p[0])
