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
materializing ``A`` (see :mod:`tnconv.spectrum`), with singular values accurate to about ``eps * s_1``
(as a dense SVD).

Rank rule
---------
Both forms count ``s_k > rtol * s_1`` with one default,
``rtol = min(max(rows, cols) * eps, sqrt(eps))`` (:func:`default_rtol`), where ``rows x cols`` is the
shape of ``[[A]]_I`` (exact products of the dimensions, however large) and ``eps`` that of the dtype
(float64 for networks). It is numpy's ``matrix_rank`` rule whenever ``max(rows, cols) <= eps^-1/2``
(6.7e7 in float64, 2896 in float32); the cap keeps the tolerance meaningful for networks whose
matricizations have astronomically many rows. Values within a small factor of the threshold are
ambiguous in floating point, for the dense SVD as much as for the network form.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552.
.. [2] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743 (separation rank and matricization rank).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._core.options import check_budget
from .partition_resolve import PartitionResolver

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
    I = sorted(PartitionResolver(A.ndim).resolve(part))  # positions, 1D masks, 1D names (API.md)
    J = [k for k in range(A.ndim) if k not in set(I)]
    rows = int(np.prod([A.shape[k] for k in I]))
    return np.transpose(A, I + J).reshape(rows, -1)


def _is_dense(obj: Any) -> bool:
    from .network import TensorNetwork

    if isinstance(obj, TensorNetwork):
        return False
    # Models (anything with a network or a coefficient tensor) go to the cut-based path, which explains
    # what they lack; everything else is read as an array.
    return not any(hasattr(obj, a) for a in ("to_tensor_network", "coefficient_tensor", "forward"))


def _dense_only(output: Any, **network_options: Any) -> None:
    given = [k for k, v in network_options.items() if v is not None]
    if given:
        raise TypeError(f"{', '.join(given)} only applies to models and TensorNetworks, not to a dense tensor")
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int, got {output!r}")
    if output != 0:
        raise ValueError(f"output={output!r} selects a model's output channel; a dense tensor has one")


def _spectrum(
    A: Any, part: Iterable[int], output: int, cutoff: float | None, normalize: bool,
    max_cut_dim: int | None, method: str | None, max_bytes: float | None,
) -> tuple[np.ndarray, tuple[int, int], Any]:
    """Singular values, the matricization's shape and the dtype whose eps sets the default rtol."""
    from .measures import network_spectrum
    from .spectrum import DEFAULT_MAX_CUT_DIM, check_max_bytes, check_tolerance

    if not _is_dense(A):
        sp = network_spectrum(
            A, part, output, max_cut_dim=DEFAULT_MAX_CUT_DIM if max_cut_dim is None else max_cut_dim,
            cutoff=cutoff, method="auto" if method is None else method, normalize=normalize,
            max_bytes=max_bytes,
        )
        return sp.values, (sp.n_rows, sp.n_cols), np.float64
    _dense_only(output, max_cut_dim=max_cut_dim, method=method)
    cut_tol = check_tolerance(cutoff, "cutoff")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    max_bytes = check_max_bytes(max_bytes)
    M = matricize(A, part)
    check_budget(f"the SVD of a {M.shape[0]}x{M.shape[1]} matricization", float(M.size) * M.itemsize * 3,
                 max_bytes)
    s = np.linalg.svd(M, compute_uv=False)
    if cut_tol is not None and s.size and s[0] > 0:
        s = np.where(s > cut_tol * s[0], s, 0.0)
    if normalize:
        nrm = float(np.linalg.norm(s))
        s = s / nrm if nrm > 0 else s
    return s, M.shape, M.dtype


def schmidt_values(
    A: Any, part: Iterable[int], output: int = 0, *, cutoff: float | None = None, normalize: bool = False,
    max_cut_dim: int | None = None, method: str | None = None, max_bytes: float | None = None,
) -> np.ndarray:
    """Singular values of ``[[A]]_I`` in descending order (unnormalized unless ``normalize``).

    For a model or network they are computed through a small cut, in QR-canonical form
    (:mod:`tnconv.spectrum`): the absolute error is about ``eps * s_1``, as for a dense SVD.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
        A dense tensor, or a network (then computed through a small cut without forming ``A``).
    part : iterable of int
    output : int
        Output channel, for models (0 otherwise).
    cutoff : float, optional
        If given (finite, ``>= 0``), values ``<= cutoff * s_1`` are returned as 0. By default the values
        are returned as computed.
    normalize : bool
        Return ``s / ||s||``; networks with thousands of inputs need it (raw values leave float64).
    max_cut_dim : int, optional
        Networks only: the largest cut dimension accepted (default 4096).
    method : str, optional
        Networks only: the min-cut solver (see :func:`tnconv.min_cut`; default ``"auto"``).
    max_bytes : float, optional
        Byte budget (default ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        An invalid partition, or a NaN, infinite or negative ``cutoff`` / ``max_bytes``.
    TypeError
        Network-only options (``max_cut_dim``, ``method``) or ``output != 0`` with a dense tensor; a
        non-bool ``normalize``.
    MemoryError
        Over the byte budget, or a cut larger than ``max_cut_dim`` (``CutTooLargeError``).

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
    return _spectrum(A, part, output, cutoff, normalize, max_cut_dim, method, max_bytes)[0]


def default_rtol(shape: tuple[int, ...], dtype: Any = np.float64) -> float:
    """The default relative tolerance of :func:`schmidt_rank`: ``min(max(shape) * eps, sqrt(eps))``.

    ``eps`` is that of ``dtype`` (float64 for integer dtypes; the real part's for complex). This is numpy's
    ``matrix_rank`` rule whenever ``max(shape) <= eps^-1/2``; ``shape`` may hold arbitrarily large ints
    (matricizations of networks with thousands of inputs).

    Examples
    --------
    >>> bool(default_rtol((256, 256)) == 256 * np.finfo(np.float64).eps)
    True
    >>> bool(default_rtol((4**512, 8)) == np.sqrt(np.finfo(np.float64).eps))
    True
    """
    dt = np.dtype(dtype)
    eps = float(np.finfo(dt if dt.kind in "fc" else np.float64).eps)
    cap = float(np.sqrt(eps))
    m = max(int(d) for d in shape)
    return cap if m >= cap / eps else float(m) * eps


def schmidt_rank(
    A: Any, part: Iterable[int], rtol: float | None = None, output: int = 0, *,
    max_cut_dim: int | None = None, method: str | None = None, max_bytes: float | None = None,
) -> int:
    """The Schmidt rank (separation rank) of ``A`` across ``(I, I^c)``: the rank of ``[[A]]_I``.

    Counts singular values ``s_k > rtol * s_1``, with the same rule for dense tensors and for models or
    networks (computed through a cut, to about ``eps * s_1``), so both forms agree wherever both can be
    computed, except for values within rounding of the threshold.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
    part : iterable of int
    rtol : float, optional
        Relative tolerance (finite, ``>= 0``). Default :func:`default_rtol` of the matricization's shape:
        ``min(max(rows, cols) * eps, sqrt(eps))``, numpy's ``matrix_rank`` rule for any matrix with at
        most ``eps^-1/2`` rows and columns. Deep nets can spread their singular values over many decades
        (theory page, :ref:`theory-exact-rank`); for exact generic ranks use :func:`tnconv.exact.generic_schmidt_rank`.
    output : int
        Output channel, for models.
    max_cut_dim, method, max_bytes
        As in :func:`schmidt_values`.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        A NaN, infinite or negative ``rtol``; otherwise as :func:`schmidt_values`.

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
    from .spectrum import check_tolerance

    tol = check_tolerance(rtol, "rtol")
    s, shape, dtype = _spectrum(A, part, output, None, not _is_dense(A), max_cut_dim, method, max_bytes)
    if not isinstance(s, np.ndarray):
        from ._core.arrays import to_numpy

        s = to_numpy(s)  # a count: the explicit host transfer of the namespace
    if s.size == 0 or s[0] == 0:
        return 0
    if tol is None:
        tol = default_rtol(shape, dtype)
    return int(np.count_nonzero(s > tol * s[0]))


def _probabilities(s: Any) -> tuple[Any, Any]:
    """``(namespace, s^2 / sum s^2)``; numpy arrays come back as float64 numpy, others stay in their
    namespace (JAX tracers included: the zero check then runs only on concrete values)."""
    if isinstance(s, np.ndarray):
        p = np.asarray(s, dtype=np.float64) ** 2
        total = p.sum()
        if total == 0:
            raise ValueError("the tensor is zero; its entanglement is undefined")
        return np, p / total
    from ._core.arrays import is_concrete, namespace

    xp = namespace(s)
    p = s * s
    total = xp.sum(p)
    if is_concrete(total) and float(total) == 0:
        raise ValueError("the tensor is zero; its entanglement is undefined")
    return xp, p / total


def _entropy(xp: Any, p: Any) -> Any:
    if xp is np:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())
    # Zero probabilities contribute 0; the inner where keeps log(0) (and its gradient) out of the sum.
    pos = p > 0
    return -xp.sum(xp.where(pos, p * xp.log(xp.where(pos, p, xp.ones_like(p))), xp.zeros_like(p)))


def _check_base(base: Any) -> float | None:
    if base is None:
        return None
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a real number > 0 other than 1, got {base!r}")
    b = float(base)
    if not math.isfinite(b) or b <= 0 or b == 1:
        raise ValueError(f"base must be a finite number > 0 other than 1, got {base!r}")
    return b


def entanglement_entropy(
    A: Any, part: Iterable[int], base: float | None = None, output: int = 0, *, cutoff: float | None = None,
    max_cut_dim: int | None = None, method: str | None = None, max_bytes: float | None = None,
) -> float:
    """Entanglement entropy ``-sum p_k log p_k`` with ``p_k = s_k^2 / sum s^2``.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
    part : iterable of int
    base : float, optional
        Logarithm base (finite, ``> 0``, not 1; default natural log).
    output : int
    cutoff, max_cut_dim, method, max_bytes
        As in :func:`schmidt_values`.

    Returns
    -------
    float
        At most ``log(schmidt_rank)``. Through a cut, the values carry an absolute error of about
        ``eps * s_1``, so the entropy is accurate to about ``1e-13`` (values at the rounding level
        contribute ``p log p`` of about 1e-30).

    Raises
    ------
    ValueError
        A zero tensor, or a bad ``base`` (0, 1, negative, NaN, infinite); otherwise as
        :func:`schmidt_values`.

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
    b = _check_base(base)
    s = _spectrum(A, part, output, cutoff, not _is_dense(A), max_cut_dim, method, max_bytes)[0]
    xp, p = _probabilities(s)
    h = _entropy(xp, p)
    if xp is np:
        return float(h / math.log(b)) if b is not None else h
    return h / math.log(b) if b is not None else h


def geometric_measure(
    A: Any, part: Iterable[int], output: int = 0, *, cutoff: float | None = None,
    max_cut_dim: int | None = None, method: str | None = None, max_bytes: float | None = None,
) -> float:
    """Geometric measure of entanglement across the partition: ``1 - s_1^2 / sum s^2``.

    Zero exactly for product functions ``g(x_I) g'(x_{I^c})``; accurate to about ``eps`` through a cut
    as for a dense tensor.

    Parameters
    ----------
    A : array_like, ConvAC or TensorNetwork
    part : iterable of int
    output : int
    cutoff, max_cut_dim, method, max_bytes
        As in :func:`schmidt_values`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        A zero tensor; otherwise as :func:`schmidt_values`.

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
    s = _spectrum(A, part, output, cutoff, not _is_dense(A), max_cut_dim, method, max_bytes)[0]
    xp, p = _probabilities(s)
    return float(1.0 - p[0]) if xp is np else 1.0 - p[0]
