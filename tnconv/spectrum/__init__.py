"""Exact Schmidt spectra of tensor networks through a cut, without the dense tensor.

This package needs only the network and a side assignment of its tensors; it does not find the cut.
:func:`tnconv.measures.network_spectrum` (the measures layer) finds a min cut with :func:`tnconv.min_cut`
and passes ``cut.tensor_sides()`` to :func:`cut_spectrum`. A min cut splits the network into a side ``L``
holding the open legs of ``I`` and a side ``R`` holding those of ``I^c``, joined only by the severed
indices ``K`` (of total dimension ``chi``, the bound). Then ``[[A]]_I = X Y^T`` with ``X`` of shape
``(dims of I, chi)`` and ``Y`` of shape ``(dims of I^c, chi)``. Neither is formed. Each side is brought to orthogonal
(QR-canonical) form, ``X = Q_L R_L`` and ``Y = Q_R R_R`` with isometries ``Q`` and small triangular
factors ``R`` (at most ``chi`` rows), as in the mixed canonical form of a matrix product state or a
tree tensor network [2]_. Then ``[[A]]_I = Q_L (R_L R_R^T) Q_R^T`` and the Schmidt values are the
singular values of the small core ``R_L R_R^T``.

Method
------
When a side's subgraph is a forest (every side of every ConvAC) it is contracted vertex by vertex,
leaves first, copy tensors (hyperedges) included. A *message* is a tensor whose first axis collects the
open legs below it (already compressed) and whose other axes are the indices still needed: the bond to
the parent and the cut indices ``K``. Factors are combined two at a time, so a copy tensor with thousands
of legs costs thousands of small steps rather than one huge one (two messages sharing a copy index give
their Khatri-Rao product along it). After each combination a message with more rows than columns is
replaced by the ``R`` of its QR factorization: the discarded ``Q`` is an isometry, and a Kronecker
product of isometries is one, so the singular values are unchanged. Every message is divided by its
largest entry, with the scale kept as a logarithm, so thousands of inputs neither overflow nor
underflow.

A side with cycles (imported loopy networks) is contracted directly into ``X`` by opt_einsum (greedy
path, size checked against the byte budget first) and QR-factorized. When ``X`` is over the budget
the side falls back to its ``chi x chi`` Gram matrix ``X^H X`` (contracted with its conjugate over the
open legs), with a :class:`SpectrumAccuracyWarning`: squaring the condition number loses half the
digits there (see Precision).

Cost
----
Everything that depends only on the structure (the cut indices, each side's factor layout and graph, the
order of the folds with their chunks and the source of every stacked factor) is planned on the first
call per network and side and replayed afterwards, so a warm call costs the folds' arithmetic plus a
Python step per fold and chunk, not per tensor. Large sides are folded subtree group by subtree group
(:data:`tnconv.spectrum.forest.BLOCK_BYTES`), so only one group's messages wait for their parents.
One sweep over each side's tensors with a small matrix product and at most one small QR per pairwise
combination, then one SVD of the ``r_L x r_R`` core (``r <= chi``). Two messages of ``w chi_a`` and
``w chi_b`` rows meeting at a copy index of dimension ``w`` give ``w^2 chi_a chi_b`` rows before their QR,
so large cuts cost about ``w^2 chi^3`` flops there (the Gram form needed about ``10 chi^3``). Measured
here (2 shared, busy cores, one BLAS thread; medians, old Gram recursion in brackets): ``deep(1024, 4, 8)``
left/right 0.38 s (0.52 s), ``deep((64, 64), 16, 8)`` left/right 1.2 s (1.4 s), ``deep(256, 2, 2)`` with
chi = 256 0.14 s (0.15 s) and chi = 1024 1.7 s (1.25 s).

Precision
---------
Householder QR and the SVD are backward stable, so each singular value ``s_k`` carries an absolute
error of about ``eps * ||X||_2 ||Y||_2`` times a factor that grows slowly with the bond dimensions and
the depth (``eps`` = 2.2e-16 in float64). Without strong cancellation across the cut
``||X|| ||Y||`` is of the order of ``s_1``: the tests check random trees, widths, partitions and
ill-conditioned deep nets against a dense SVD to ``1e-12 * s_1`` (the largest error measured over 150
random nets was 5e-15 ``s_1``). No value is set to zero unless a ``cutoff`` is passed, so values that should be zero
come back at the rounding level (about ``1e-16 * s_1``): :func:`tnconv.schmidt_rank` counts values above
its documented ``rtol`` rule. Sides that fall back to the Gram form are accurate only to about
``sqrt(chi * eps) * s_1`` (1.5e-8 ``s_1`` for chi = 1).

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts and
   entanglement of ConvACs).
.. [2] U. Schollwöck, "The density-matrix renormalization group in the age of matrix product
   states", Ann. Phys. 326 (2011), arXiv:1008.3477 (canonical forms and spectra across a cut).
.. [3] G. H. Golub, C. F. Van Loan, *Matrix Computations*, 4th ed., §5.2 (Householder QR) and §8.6
   (SVD), backward stability.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import is_numpy, namespace
from .._core.options import TensorTooLargeError, check_budget
from .._core.threads import blas_threads
from .batched import BatchFold
from .errors import CutTooLargeError, SpectrumAccuracyWarning, SpectrumRangeError
from .forest import side_forest
from .loops import side_direct, side_gram
from .sides import PreparedNetwork, cached_plan, cut_indices, side_factors, side_links

__all__ = [
    "DEFAULT_MAX_CUT_DIM",
    "SINGLE_THREAD_MAX_CHI",
    "CutTooLargeError",
    "NetworkSpectrum",
    "SpectrumAccuracyWarning",
    "SpectrumRangeError",
    "check_max_bytes",
    "check_tolerance",
    "cut_spectrum",
]

#: Largest cut dimension ``chi`` for which spectra are computed (the core is at most ``chi x chi``).
DEFAULT_MAX_CUT_DIM = 4096
#: Up to this ``chi`` the spectrum runs with one BLAS thread (threadpoolctl, when installed). Measured on
#: the shared 2-core machine: chi = 1024 took 0.9 s with one thread and 20 s with OpenBLAS's two
#: (spin-waiting threads on a busy machine); chi = 2048: 8 s vs 30 s; chi = 4096: 69 s vs 125 s.
SINGLE_THREAD_MAX_CHI = 4096


@dataclass(frozen=True)
class NetworkSpectrum:
    """Schmidt values of a network across a partition, with the sizes that define rank tolerances.

    Attributes
    ----------
    values : numpy.ndarray
        ``min(cut_dim, n_rows, n_cols)`` values in descending order (normalized if requested).
    n_rows, n_cols : int
        Exact sizes of the matricization ``[[A]]_I`` (products of the open dimensions of ``I`` and
        ``I^c``; Python ints, possibly astronomically large).
    cut_dim : int
        ``chi``, the dimension of the min cut used.
    gram_fallback : bool
        Whether a side fell back to the Gram form (accuracy ``sqrt(chi eps) s_1`` only).
    largest_intermediate : float
        Bytes of the largest stacked intermediate of the forest sides (budget estimate, 16 bytes per
        entry), for memory benchmarks; 0 when no side is a forest.
    """

    values: Any
    n_rows: int
    n_cols: int
    cut_dim: int
    gram_fallback: bool = False
    largest_intermediate: float = 0.0


def check_tolerance(value: Any, name: str) -> float | None:
    """``None``, or ``value`` as a finite non-negative float; else a ValueError/TypeError naming it.

    Parameters
    ----------
    value : real number or None
    name : str
        The option's name, for the message.

    Returns
    -------
    float or None

    Raises
    ------
    TypeError
        A bool or a non-real value.
    ValueError
        NaN, infinite or negative.

    Examples
    --------
    >>> check_tolerance(1e-3, "cutoff")
    0.001
    >>> check_tolerance(float("nan"), "rtol")
    Traceback (most recent call last):
    ...
    ValueError: rtol must be a finite number >= 0, got nan
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_max_bytes(value: Any) -> float | None:
    """``None``, or ``value`` as a finite positive byte budget; else a ValueError/TypeError naming it.

    Examples
    --------
    >>> check_max_bytes(2**20)
    1048576.0
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"max_bytes must be a positive number of bytes, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"max_bytes must be a finite positive number of bytes, got {value!r}")
    return v


def _check_sides(tn: Any, part: frozenset, tensor_sides: Any) -> np.ndarray:
    sides = np.asarray(tensor_sides)
    if sides.dtype != np.bool_ or sides.shape != (tn.n_tensors,):
        raise ValueError(f"tensor_sides must be a bool array of shape ({tn.n_tensors},) (one entry per tensor, "
                         f"True on the side of I), got dtype {sides.dtype} and shape {sides.shape}")
    opens = np.zeros(len(tn.open_inds), dtype=bool)
    opens[list(part)] = True
    return np.concatenate([sides, opens])


def _scaled(xp: Any, s: Any, log_scale: Any, concrete: bool, kw: dict[str, Any]) -> Any:
    if concrete and int(s.shape[0]) and float(s[0]) > 0:
        top = math.log(float(s[0])) + float(log_scale)
        if top > 700 or top < -700:
            raise SpectrumRangeError(
                f"the largest Schmidt value is exp({top:.1f}), outside float64; pass normalize=True "
                "(entropies and the geometric measure do not depend on the scale)"
            )
        return s * math.exp(float(log_scale)) if log_scale else s
    return s * xp.exp(xp.asarray(log_scale, dtype=s.dtype, **kw))


def side_factor(
    prep: PreparedNetwork, side_mask: np.ndarray, K: list[Hashable], max_bytes: float | None, engine: str = "levels"
) -> tuple[Any, Any, bool, float]:
    """``(R, log scale, used the Gram fallback, largest intermediate in bytes)`` for one side of the cut."""
    factors, tensors, open_ps = side_factors(prep, side_mask)
    key = (side_mask.tobytes(), engine)
    box = cached_plan(prep, key, lambda: [side_links(prep, set(np.flatnonzero(side_mask).tolist()), set(K)), None])
    (links, verts, forest), plan = box
    if forest:
        run = BatchFold(prep.xp, max_bytes, prep.kw.get("device"))
        run.concrete = prep.concrete
        R, a, box[1] = side_forest(prep.xp, run, factors, links, verts, K, engine == "levels", plan)
        return R, a, False, run.largest
    if prep.xp is not np:
        raise TypeError(
            "a side of this cut has cycles, which only numpy arrays support (opt_einsum on the host); "
            "convert the network's arrays with numpy.asarray to compute its spectrum"
        )
    try:
        R, a = side_direct(prep, tensors, open_ps, K, max_bytes)
        return R, a, False, 0.0
    except TensorTooLargeError as exc:
        reason = str(exc)
    R, a = side_gram(prep, tensors, open_ps, K, max_bytes)
    warnings.warn(
        "a side of the cut has cycles and its matrix X is over the byte budget "
        f"({reason.split(';')[0]}); its Gram matrix X^H X was used instead, so the Schmidt values are "
        "accurate only to about sqrt(chi * eps) * s_1 (about 1.5e-8 * sqrt(chi) * s_1)",
        SpectrumAccuracyWarning,
        stacklevel=5,
    )
    return R, a, True, 0.0


def _values(xp: Any, core: Any, n_vals: int, kw: dict[str, Any]) -> Any:
    """The singular values of the core, padded with exact zeros to ``n_vals`` (the rank bound)."""
    if xp is np:
        s = np.linalg.svd(core, compute_uv=False) if core.size else np.zeros(0)
        return np.concatenate([s[:n_vals], np.zeros(max(0, n_vals - s.size))])
    s = xp.linalg.svdvals(core) if math.prod(core.shape) else xp.zeros(0, dtype=xp.float64, **kw)
    s = s[:n_vals]
    if int(s.shape[0]) < n_vals:
        s = xp.concat([s, xp.zeros(n_vals - int(s.shape[0]), dtype=s.dtype, **kw)])
    return s


def cut_spectrum(tn: Any, part: frozenset, tensor_sides: Any, *, cutoff: float | None = None,
                 normalize: bool = False, max_bytes: float | None = None, engine: str = "levels") -> NetworkSpectrum:
    """Schmidt values of ``tn`` across ``(part, rest)`` through the cut that ``tensor_sides`` defines.

    Parameters
    ----------
    tn : TensorNetwork
        With arrays, all of one namespace (numpy, CuPy, JAX, torch, ...: the values are computed and
        returned in it; JAX arrays may be tracers, so ``jax.grad`` goes through).
    part : frozenset of int
        The open legs of ``I`` (validated by the caller).
    tensor_sides : bool array of shape (n_tensors,)
        True for the tensors on the side of ``I`` (``MinCut.tensor_sides()``). Any assignment gives the
        exact values; a min cut makes the core smallest.
    cutoff, normalize, max_bytes
        As :func:`tnconv.measures.network_schmidt_values`.
    engine : {"levels", "nodes"}
        ``"levels"`` stacks the same-shaped messages of each level and folds them at once; ``"nodes"``
        folds every vertex alone (same arithmetic, slower: a reference).

    Returns
    -------
    NetworkSpectrum

    Raises
    ------
    ValueError
        Sides of the wrong shape or dtype; NaN/inf tensors; an unknown engine.
    TypeError
        Arrays of several namespaces; a side with cycles on a namespace other than numpy.
    TensorTooLargeError
        A message or the core over ``max_bytes``.
    SpectrumRangeError
        Unnormalized values outside float64.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> tn = tc.deep(4, 2, 2, seed=0).to_tensor_network()
    >>> sides = np.array([True, True, True, False, False, False, False])
    >>> cut_spectrum(tn, frozenset({0, 1}), sides).cut_dim
    2
    """
    if engine not in ("levels", "nodes"):
        raise ValueError(f"engine must be 'levels' or 'nodes', got {engine!r}")
    side = _check_sides(tn, part, tensor_sides)
    if all(type(a) is np.ndarray for a in tn.arrays):
        xp: Any = np  # the common case, without array_namespace's per-array dispatch
    else:
        xp = namespace(*tn.arrays)
        xp = np if is_numpy(xp) else xp
    prep = PreparedNetwork(tn, xp)
    try:
        return _cut_spectrum(prep, part, side, cutoff, normalize, max_bytes, engine)
    except (SpectrumRangeError, np.linalg.LinAlgError):
        if prep.unchecked:
            prep.check_finite()  # a NaN or inf tensor: say which (else the error was genuine)
        raise


def _cut_spectrum(prep: PreparedNetwork, part: frozenset, side: np.ndarray, cutoff: float | None, normalize: bool,
                  max_bytes: float | None, engine: str) -> NetworkSpectrum:
    tn, xp = prep.tn, prep.xp
    K = cut_indices(prep, side)
    size = tn.size_dict
    chi = math.prod(int(size[i]) for i in K)
    P = len(tn.open_inds)
    n_rows = math.prod(int(size[tn.open_inds[p]]) for p in part)
    n_cols = math.prod(int(size[tn.open_inds[p]]) for p in range(P) if p not in part)
    with blas_threads(1 if chi <= SINGLE_THREAD_MAX_CHI else None):
        RL, aL, gL, mL = side_factor(prep, side, K, max_bytes, engine)
        RR, aR, gR, mR = side_factor(prep, ~side, K, max_bytes, engine)
        check_budget(f"the {RL.shape[0]}x{RR.shape[0]} core of the cut", 16.0 * RL.shape[0] * RR.shape[0] * 2,
                     max_bytes)
        # X = Q_L R_L and Y = Q_R R_R give [[A]]_I = X Y^T = Q_L (R_L R_R^T) Q_R^T.
        core = xp.matmul(RL, xp.permute_dims(RR, (1, 0)))
        # The core has at most min(r_L, r_R) <= n_vals values; the others are exactly zero (rank bound).
        if prep.unchecked and not np.isfinite(core).all():
            prep.check_finite()
        s = _values(xp, core, min(chi, n_rows, n_cols), prep.kw)
    if cutoff is not None and int(s.shape[0]):
        s = xp.where(s > cutoff * s[0], s, xp.zeros_like(s))
    if normalize:
        nrm = xp.linalg.vector_norm(s) if xp is not np else float(np.linalg.norm(s))
        values = s / xp.where(nrm > 0, nrm, xp.ones_like(nrm)) if xp is not np else (s / nrm if nrm > 0 else s)
    else:
        values = _scaled(xp, s, aL + aR, prep.concrete, prep.kw)
    return NetworkSpectrum(values, n_rows, n_cols, chi, gL or gR, max(mL, mR))
