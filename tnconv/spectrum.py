"""Exact Schmidt spectra of tensor networks through a minimum cut, without the dense tensor.

A min cut (:func:`tnconv.min_cut`) splits the network into a side ``L`` holding the open legs of ``I``
and a side ``R`` holding those of ``I^c``, joined only by the severed indices ``K`` (of total
dimension ``chi``, the bound). Then ``[[A]]_I = X Y^T`` with ``X`` of shape ``(dims of I, chi)`` and
``Y`` of shape ``(dims of I^c, chi)``. Neither is formed. Each side is brought to orthogonal
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

import contextlib
import math
import numbers
import warnings
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._core.options import TensorTooLargeError, check_budget, options

__all__ = [
    "DEFAULT_MAX_CUT_DIM",
    "CutTooLargeError",
    "NetworkSpectrum",
    "SpectrumAccuracyWarning",
    "SpectrumRangeError",
    "check_max_bytes",
    "check_tolerance",
    "network_schmidt_values",
    "network_spectrum",
]

#: Largest cut dimension ``chi`` for which spectra are computed (the core is at most ``chi x chi``).
DEFAULT_MAX_CUT_DIM = 4096
#: Up to this ``chi`` the spectrum runs with one BLAS thread (threadpoolctl, when installed). Measured on
#: the shared 2-core machine: chi = 1024 took 0.9 s with one thread and 20 s with OpenBLAS's two
#: (spin-waiting threads on a busy machine); chi = 2048: 8 s vs 30 s; chi = 4096: 69 s vs 125 s.
SINGLE_THREAD_MAX_CHI = 4096

_EPS = float(np.finfo(np.float64).eps)

#: Largest ``m * n`` for which QR calls LAPACK's geqrf directly (its default workspace is unblocked).
_SMALL_QR = 2**14
#: Groups of up to this many factors are combined greedily (smallest product first), larger in order.
_GREEDY_MAX = 6


def _geqrf(dtype: np.dtype) -> Any:
    """SciPy's LAPACK ``?geqrf`` for float64/complex128, or None without SciPy."""
    try:
        from scipy.linalg import lapack
    except ImportError:  # pragma: no cover - SciPy is optional
        return None
    return lapack.zgeqrf if dtype.kind == "c" else lapack.dgeqrf


#: Message type: an array of shape ``(rows, *column dims)`` and the labels of its column axes.
Factor = tuple[np.ndarray, tuple[Hashable, ...]]


class CutTooLargeError(TensorTooLargeError):
    """The smallest cut is too large for an exact spectrum; the min-cut bound is still available.

    Parameters
    ----------
    bound : int
        The min-cut dimension ``chi``.
    limit : int
        The ``max_cut_dim`` in force.
    """

    def __init__(self, bound: int, limit: int):
        log2 = math.log2(bound)
        shown = str(bound) if log2 < 64 else f"2^{log2:.1f}"
        msg = (
            f"the smallest cut across this partition has dimension {shown} (> max_cut_dim={limit}), so the "
            f"exact spectrum would need a core of up to {shown} x {shown}. Use "
            "tnconv.min_cut(model_or_tn, part).bound as a Schmidt-rank bound (an upper bound; equal to the "
            "generic rank for unshared weights when all dimensions are powers of one integer), or pass "
            "max_cut_dim=... to raise the limit"
        )
        MemoryError.__init__(self, msg)
        self.n_bytes = 16.0 * float(bound) ** 2 if log2 < 500 else math.inf
        self.budget = 16.0 * float(limit) ** 2
        self.bound = bound
        self.limit = limit


class SpectrumRangeError(OverflowError, FloatingPointError):
    """Unnormalized Schmidt values outside float64 (deep products of many factors); use normalize=True."""


class SpectrumAccuracyWarning(RuntimeWarning):
    """A side of the cut fell back to its Gram matrix: values are accurate to ``sqrt(chi eps) s_1`` only."""


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
    """

    values: np.ndarray
    n_rows: int
    n_cols: int
    cut_dim: int
    gram_fallback: bool = False


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


def _as_network(obj: Any, output: Any) -> Any:
    from .network import TensorNetwork

    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int, got {output!r}")
    if isinstance(obj, TensorNetwork):
        if output != 0:
            raise ValueError(f"output={output!r} selects a model's output channel; a TensorNetwork has one tensor")
        return obj
    if hasattr(obj, "to_tensor_network"):
        return obj.to_tensor_network(output)
    raise TypeError(
        f"exact spectra without the dense tensor need a TensorNetwork or a model with to_tensor_network() "
        f"(product pooling); got {type(obj).__name__}. Pass its coefficient or grid tensor instead"
    )


def _host64(a: Any, k: int) -> np.ndarray:
    """A float64/complex128 numpy copy (float32 would lose digits; CuPy arrays are fetched once here,
    the spectrum being a small host-side computation)."""
    if type(a).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU only
        a = a.get()
    a = np.asarray(a)
    if a.dtype.kind not in "fiuc":
        raise TypeError(f"tensor {k} has data of dtype {a.dtype}, which cannot give a spectrum")
    a = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)
    if not np.isfinite(a).all():
        raise ValueError(f"tensor {k} contains NaN or infinite values")
    return a


@contextlib.contextmanager
def _single_thread_blas(small: bool) -> Iterator[None]:
    """One BLAS thread: on a busy machine OpenBLAS's spin-waiting threads made a 256x256 ``eigh`` 40x
    slower (1.2 s vs 30 ms measured here). Needs threadpoolctl; a no-op without it."""
    if not small:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


class _Row:
    """Marks the row copy of an open index whose tensor sits on the other side (or is shared)."""

    def __repr__(self) -> str:
        return "row"


_ROW = _Row()


class _SideContraction:
    """Pairwise, QR-compressed contraction of one side of the cut.

    ``count[label]`` is the number of live factors holding ``label``; a label shared by the two factors
    being combined is summed when no other factor needs it and it is not a cut index, else kept (a
    Khatri-Rao product along it).
    """

    def __init__(self, K: set[Hashable], max_bytes: float | None):
        self.K = K
        self.max_bytes = max_bytes
        self.count: Counter = Counter()
        self.log_scale = 0.0
        self.masks: dict[int, np.ndarray] = {}  # per instance: no cache shared across threads

    def register(self, factors: Iterable[Factor]) -> None:
        for _, cols in factors:
            self.count.update(cols)

    def reduce_dangling(self, f: Factor) -> Factor:
        """Sum axes that no other factor holds and that are not cut indices (plain traces)."""
        R, cols = f
        axes = [a for a, lab in enumerate(cols) if self.count[lab] == 1 and lab not in self.K]
        if axes:
            R = R.sum(axis=tuple(1 + a for a in axes))
            for a in axes:
                self.count[cols[a]] -= 1
            cols = tuple(lab for a, lab in enumerate(cols) if a not in set(axes))
        return self.compress(R, cols)

    def over_budget(self, n_bytes: float) -> bool:
        return n_bytes > (options["max_dense_bytes"] if self.max_bytes is None else self.max_bytes)

    def compress(self, R: np.ndarray, cols: tuple[Hashable, ...]) -> Factor:
        r = R.shape[0]
        n = math.prod(R.shape[1:])
        if r > n:
            if self.over_budget(32.0 * r * n):
                check_budget(f"the QR of a {r}x{n} message", 32.0 * r * n, self.max_bytes)
            R = self.qr_r(R.reshape(r, n)).reshape((n,) + R.shape[1:])
        top = float(np.abs(R).max()) if R.size else 0.0
        if top > 0:
            if not math.isfinite(top):  # pragma: no cover - inputs are finite and messages are rescaled
                raise SpectrumRangeError("a message of the cut-side contraction overflowed float64")
            R = R / top
            self.log_scale += math.log(top)
        return R, cols

    def qr_r(self, M: np.ndarray) -> np.ndarray:
        """The ``R`` factor (``n x n``) of a tall ``m x n`` matrix, by Householder QR."""
        m, n = M.shape
        geqrf = _geqrf(M.dtype) if m * n <= _SMALL_QR else None
        if geqrf is None:
            return np.asarray(np.linalg.qr(M, mode="r"))
        # LAPACK directly: numpy's qr costs ~150 us per call on small matrices, geqrf ~10 us.
        qr, _, _, info = geqrf(M)
        if info != 0:  # pragma: no cover - only for illegal arguments
            return np.asarray(np.linalg.qr(M, mode="r"))
        mask = self.masks.get(n)
        if mask is None:
            mask = self.masks[n] = np.triu(np.ones((n, n)))
        return qr[:n] * mask

    def combine(self, a: Factor, b: Factor) -> Factor:
        Ra, ca = a
        Rb, cb = b
        da = dict(zip(ca, Ra.shape[1:]))
        db = dict(zip(cb, Rb.shape[1:]))
        summed = [lab for lab in ca if lab in db and self.count[lab] == 2 and lab not in self.K]
        s_set = set(summed)
        kept = [lab for lab in ca if lab in db and lab not in s_set]
        only_a = [lab for lab in ca if lab not in db]
        only_b = [lab for lab in cb if lab not in da]
        ra, rb = Ra.shape[0], Rb.shape[0]
        dk = math.prod(da[lab] for lab in kept)
        ds = math.prod(da[lab] for lab in summed)
        dp = math.prod(da[lab] for lab in only_a)
        dq = math.prod(db[lab] for lab in only_b)
        if self.over_budget(16.0 * ra * rb * dk * dp * dq):
            check_budget(f"a {ra * rb}x{dk * dp * dq} message of the cut-side contraction",
                         16.0 * ra * rb * dk * dp * dq, self.max_bytes)
        pa = [ca.index(lab) + 1 for lab in kept + only_a + summed]
        pb = [cb.index(lab) + 1 for lab in kept + summed + only_b]
        A = Ra.transpose([0, *pa]).reshape(ra, dk, dp, ds).transpose(1, 0, 2, 3).reshape(dk, ra * dp, ds)
        B = Rb.transpose([0, *pb]).reshape(rb, dk, ds, dq).transpose(1, 2, 0, 3).reshape(dk, ds, rb * dq)
        C = np.matmul(A, B).reshape(dk, ra, dp, rb, dq).transpose(1, 3, 0, 2, 4)
        cols = tuple(kept + only_a + only_b)
        C = C.reshape((ra * rb,) + tuple(da[lab] for lab in kept + only_a) + tuple(db[lab] for lab in only_b))
        for lab in summed:
            self.count[lab] -= 2
        for lab in kept:
            self.count[lab] -= 1
        return self.compress(C, cols)

    def fold(self, group: list[Factor]) -> Factor:
        """Combine a vertex's factors; small groups pairwise by the smallest product first, large
        groups (copy tensors with many legs) in order."""
        group = list(group)
        while len(group) > _GREEDY_MAX and len(group) > 1:
            group[:2] = [self.combine(group[0], group[1])]
        while len(group) > 1:
            best, pair = math.inf, (0, 1)
            for x in range(len(group)):
                for y in range(x + 1, len(group)):
                    c = self.product_size(group[x], group[y])
                    if c < best:
                        best, pair = c, (x, y)
            x, y = pair
            f = self.combine(group[x], group[y])
            group = [g for k, g in enumerate(group) if k not in pair] + [f]
        return group[0]

    def product_size(self, a: Factor, b: Factor) -> float:
        (Ra, ca), (Rb, cb) = a, b
        da = dict(zip(ca, Ra.shape[1:]))
        db = dict(zip(cb, Rb.shape[1:]))
        n = float(Ra.shape[0]) * Rb.shape[0]
        for lab, d in da.items():
            if not (lab in db and self.count[lab] == 2 and lab not in self.K):
                n *= d
        for lab, d in db.items():
            if lab not in da:
                n *= d
        return n


class _Prepared:
    """The network's tensors with dimension-1 axes dropped (they contribute one entry each), as
    ``(array, labels)``, plus the index bookkeeping shared by both sides."""

    def __init__(self, tn: Any):
        self.tn = tn
        size = tn.size_dict
        self.tensors: list[Factor] = []
        for k, (arr, ix) in enumerate(zip(tn.arrays, tn.inds)):
            A = _host64(arr, k)
            keep = [a for a, i in enumerate(ix) if size[i] > 1]
            if len(keep) < len(ix):
                A = A.reshape([size[i] for i in ix if size[i] > 1])
            self.tensors.append((A, tuple(ix[a] for a in keep)))
        self.members = tn.index_members()
        self.opens = {i: p for p, i in enumerate(tn.open_inds)}


def _cut_indices(prep: _Prepared, side: np.ndarray) -> list[Hashable]:
    tn = prep.tn
    T = tn.n_tensors
    K: list[Hashable] = []
    for i, ms in prep.members.items():
        if tn.size_dict[i] == 1:
            continue
        verts = list(ms) + ([T + prep.opens[i]] if i in prep.opens else [])
        s = side[verts]
        if s.any() and not s.all():
            K.append(i)
    return K


def _side_factors(prep: _Prepared, side_mask: np.ndarray) -> tuple[dict[int, Factor], list[int], list[int]]:
    """Initial factors of one side: ``{vertex: (array with the direct open legs as rows, column labels)}``.

    An open index carried by exactly one tensor on this side becomes a row of that tensor; any other
    open index on this side gets an identity factor (row, index) at its open vertex.
    """
    tn = prep.tn
    T = tn.n_tensors
    size = tn.size_dict
    tensors = np.flatnonzero(side_mask[:T]).tolist()
    open_ps = np.flatnonzero(side_mask[T:]).tolist()
    direct = set()
    for p in open_ps:
        i = tn.open_inds[p]
        ms = prep.members[i]
        if size[i] > 1 and len(ms) == 1 and side_mask[ms[0]]:
            direct.add(i)
    factors: dict[int, Factor] = {}
    for k in tensors:
        A, ix = prep.tensors[k]
        rows = [a for a, i in enumerate(ix) if i in direct]
        cols = [a for a, i in enumerate(ix) if i not in direct]
        n_rows = math.prod(A.shape[a] for a in rows)
        factors[k] = (A.transpose(rows + cols).reshape((n_rows,) + tuple(A.shape[a] for a in cols)),
                      tuple(ix[a] for a in cols))
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] > 1 and i not in direct:
            factors[T + p] = (np.eye(size[i]), (i,))
    return factors, tensors, open_ps


def _side_links(prob: Any, on_side: set[int], K_set: set[Hashable]) -> tuple[dict[int, list[int]], set[int], bool]:
    """The side's graph (tensors, open vertices, copy tensors fully inside it) and whether it is a forest."""
    links: dict[int, list[int]] = defaultdict(list)
    verts = set(on_side)
    pairs: list[tuple[int, int]] = []
    for u, v, _ in prob.edges:
        if u in on_side and v in on_side:
            pairs.append((u, v))
    first_copy = prob.n_tensors + prob.n_open
    for j, (i, ms) in enumerate(prob.hyper):
        m = ms.tolist()
        if i in K_set or not all(x in on_side for x in m):
            continue
        h = first_copy + j
        verts.add(h)
        pairs.extend((h, x) for x in m)
    parent = {v: v for v in verts}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    forest = True
    for u, v in pairs:
        links[u].append(v)
        links[v].append(u)
        ru, rv = find(u), find(v)
        if ru == rv:
            forest = False
        else:
            parent[ru] = rv
    # A cut copy tensor still joins its members on this side (they share the cut index, never summed).
    # Linking them lets the traversal meet them early, while their messages are small, rather than
    # multiplying whole components at the end; links that would close a cycle are left out.
    for j, (i, ms) in enumerate(prob.hyper):
        if i not in K_set:
            continue
        m = [x for x in ms.tolist() if x in on_side]
        roots = {find(x) for x in m}
        if len(m) < 2 or len(roots) < len(m):
            continue
        h = first_copy + j
        verts.add(h)
        parent[h] = h
        for x in m:
            links[h].append(x)
            links[x].append(h)
            parent[find(x)] = h
    return links, verts, forest


def _centroid(start: int, links: dict[int, list[int]], weight: dict[int, int]) -> int:
    """A vertex of ``start``'s tree whose removal leaves no subtree with more than half the weight."""
    order, parent = [start], {start: -1}
    for u in order:
        for v in links[u]:
            if v not in parent:
                parent[v] = u
                order.append(v)
    sub = {u: weight.get(u, 0) for u in order}
    for u in reversed(order[1:]):
        sub[parent[u]] += sub[u]
    total, u = sub[start], start
    while True:
        heavy = [v for v in links[u] if parent.get(v) == u and 2 * sub[v] > total]
        if not heavy:
            return u
        u = heavy[0]


def _side_forest(
    factors: dict[int, Factor], links: dict[int, list[int]], verts: set[int], K: list[Hashable],
    max_bytes: float | None,
) -> tuple[np.ndarray, float]:
    """``R`` of shape ``(r, chi)`` with ``X = Q R`` (``Q`` an isometry) and the log of its scale."""
    K_set = set(K)
    run = _SideContraction(K_set, max_bytes)
    run.register(factors.values())
    own = {v: run.reduce_dangling(f) for v, f in factors.items()}
    roots: list[Factor] = []
    done: set[int] = set()
    # Root each component at the centroid of its cut indices, so that no message carries more than half.
    n_cut = {v: sum(lab in K_set for lab in f[1]) for v, f in own.items()}
    for start in sorted(verts):
        if start in done:
            continue
        comp, stack = [start], [start]
        seen = {start}
        while stack:
            u = stack.pop()
            for v in links[u]:
                if v not in seen:
                    seen.add(v)
                    comp.append(v)
                    stack.append(v)
        done |= seen
        root = _centroid(start, links, n_cut)
        order, parent = [], {root: -1}
        stack = [root]
        while stack:
            u = stack.pop()
            order.append(u)
            for v in links[u]:
                if v not in parent:
                    parent[v] = u
                    stack.append(v)
        msgs: dict[int, list[Factor]] = defaultdict(list)
        for u in reversed(order):
            group = ([own[u]] if u in own else []) + msgs.pop(u, [])
            if not group:
                continue
            item = run.fold(group)
            if parent[u] >= 0:
                msgs[parent[u]].append(item)
            else:
                roots.append(item)
    R, cols = run.fold(roots)
    if set(cols) != K_set or len(cols) != len(K):  # pragma: no cover - guards the bookkeeping above
        raise RuntimeError(f"internal error: a side ends with indices {cols}, expected the cut {K}")
    R = R.transpose([0] + [cols.index(lab) + 1 for lab in K])
    return R.reshape(R.shape[0], -1), run.log_scale


def _einsum_plan(operands: list[Factor], out: tuple[Hashable, ...]) -> tuple[str, list[np.ndarray]]:
    from opt_einsum import get_symbol

    sym: dict[Hashable, str] = {}
    for _, ix in operands:
        for i in ix:
            sym.setdefault(i, get_symbol(len(sym)))
    for i in out:
        sym.setdefault(i, get_symbol(len(sym)))
    eq = ",".join("".join(sym[i] for i in ix) for _, ix in operands) + "->" + "".join(sym[i] for i in out)
    return eq, [a for a, _ in operands]


def _side_direct(
    prep: _Prepared, tensors: list[int], open_ps: list[int], K: list[Hashable], max_bytes: float | None
) -> tuple[np.ndarray, float]:
    """``R`` of a side with cycles: contract ``X`` (rows = this side's open legs, columns = ``K``), QR it.

    Raises TensorTooLargeError when ``X`` or an intermediate is over the budget.
    """
    from opt_einsum import contract, contract_path

    tn = prep.tn
    size = tn.size_dict
    K_set = set(K)
    operands: list[Factor] = [prep.tensors[k] for k in tensors]
    rows: list[Hashable] = []
    n_rows = 1
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] == 1:
            continue
        n_rows *= int(size[i])
        if i in K_set:
            operands.append((np.eye(size[i]), ((_ROW, i), i)))
            rows.append((_ROW, i))
        else:
            rows.append(i)
    out = tuple(rows) + tuple(K)
    eq, arrays = _einsum_plan(operands, out)
    chi = math.prod(size[i] for i in K)
    check_budget(f"the {n_rows}x{chi} side matrix X of the cut", 16.0 * n_rows * chi, max_bytes)
    _, info = contract_path(eq, *arrays, optimize="greedy")
    check_budget("the largest intermediate of the cut-side contraction", 16.0 * float(info.largest_intermediate),
                 max_bytes)
    X = np.asarray(contract(eq, *arrays, optimize="greedy")).reshape(n_rows, chi)
    if n_rows > chi:
        X = np.asarray(np.linalg.qr(X, mode="r"))
    top = float(np.max(np.abs(X))) if X.size else 0.0
    if not math.isfinite(top):
        raise SpectrumRangeError(
            "contracting a side of this network (it has cycles) overflowed float64; rescale its tensors"
        )
    if top > 0:
        return X / top, math.log(top)
    return X, 0.0


def _side_gram(
    prep: _Prepared, tensors: list[int], open_ps: list[int], K: list[Hashable], max_bytes: float | None
) -> tuple[np.ndarray, float]:
    """``R`` from the Gram matrix ``X^H X`` of a side (the fallback; accurate to ``sqrt(chi eps)``)."""
    from opt_einsum import contract, contract_path

    tn = prep.tn
    size = tn.size_dict
    operands: list[Factor] = []
    for k in tensors:
        A, ix = prep.tensors[k]
        operands.append((A, tuple((i, 0) for i in ix)))
        operands.append((A.conj() if np.iscomplexobj(A) else A, tuple((i, 1) for i in ix)))
    for p in open_ps:
        i = tn.open_inds[p]
        if size[i] > 1:
            operands.append((np.eye(size[i]), ((i, 0), (i, 1))))
    out = tuple((i, 0) for i in K) + tuple((i, 1) for i in K)
    eq, arrays = _einsum_plan(operands, out)
    _, info = contract_path(eq, *arrays, optimize="greedy")
    check_budget("the largest intermediate of the cut-side Gram contraction",
                 16.0 * float(info.largest_intermediate), max_bytes)
    chi = math.prod(size[i] for i in K)
    G = np.asarray(contract(eq, *arrays, optimize="greedy")).reshape(chi, chi)
    top = float(np.max(np.abs(G))) if G.size else 0.0
    if not math.isfinite(top):
        raise SpectrumRangeError(
            "contracting a side of this network (it has cycles) overflowed float64; rescale its tensors"
        )
    log_scale = 0.0
    if top > 0:
        G = G / top
        log_scale = math.log(top) / 2
    # G[k, k'] = sum X[., k] conj X[., k'] = conj(X^H X); S with S^H S = X^H X gives X = Q S.
    M = G.conj()
    M = (M + M.conj().T) / 2
    w, U = np.linalg.eigh(M)
    return np.sqrt(np.clip(w, 0, None))[:, None] * U.conj().T, log_scale


def _side_factor(
    prep: _Prepared, prob: Any, side_mask: np.ndarray, K: list[Hashable], max_bytes: float | None
) -> tuple[np.ndarray, float, bool]:
    """``(R, log scale, used the Gram fallback)`` for one side of the cut."""
    factors, tensors, open_ps = _side_factors(prep, side_mask)
    on_side = set(np.flatnonzero(side_mask).tolist())
    links, verts, forest = _side_links(prob, on_side, set(K))
    if forest:
        R, a = _side_forest(factors, links, verts, K, max_bytes)
        return R, a, False
    try:
        R, a = _side_direct(prep, tensors, open_ps, K, max_bytes)
        return R, a, False
    except TensorTooLargeError as exc:
        reason = str(exc)
    R, a = _side_gram(prep, tensors, open_ps, K, max_bytes)
    warnings.warn(
        "a side of the cut has cycles and its matrix X is over the byte budget "
        f"({reason.split(';')[0]}); its Gram matrix X^H X was used instead, so the Schmidt values are "
        "accurate only to about sqrt(chi * eps) * s_1 (about 1.5e-8 * sqrt(chi) * s_1)",
        SpectrumAccuracyWarning,
        stacklevel=4,
    )
    return R, a, True


def network_spectrum(
    obj: Any,
    part: Iterable[int],
    output: int = 0,
    *,
    max_cut_dim: int = DEFAULT_MAX_CUT_DIM,
    cutoff: float | None = None,
    method: str = "auto",
    normalize: bool = False,
    max_bytes: float | None = None,
) -> NetworkSpectrum:
    """Schmidt values of a network across ``(I, I^c)`` through a min cut, with the matricization's size.

    Same parameters, computation and accuracy as :func:`network_schmidt_values`, which returns
    ``network_spectrum(...).values``.

    Returns
    -------
    NetworkSpectrum

    Examples
    --------
    >>> import tnconv as tc
    >>> sp = network_spectrum(tc.deep(8, 2, 2, seed=0), [0, 1, 2, 3])
    >>> sp.values.size, sp.n_rows, sp.n_cols, sp.cut_dim
    (2, 16, 16, 2)
    """
    from .mincut import min_cut, prepare
    from .partitions import validate_partition

    if isinstance(max_cut_dim, (bool, np.bool_)) or not isinstance(max_cut_dim, (int, np.integer)):
        raise TypeError(f"max_cut_dim must be a positive int, got {max_cut_dim!r}")
    if max_cut_dim < 1:
        raise ValueError(f"max_cut_dim must be a positive int, got {max_cut_dim!r}")
    cut_tol = check_tolerance(cutoff, "cutoff")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    max_bytes = check_max_bytes(max_bytes)
    tn = _as_network(obj, output)
    if any(a is None for a in tn.arrays):
        raise ValueError("network_schmidt_values needs arrays, but this network is shape-only (built without arrays)")
    part = validate_partition(part, len(tn.open_inds))
    target: Any = tn
    if tn is not obj:
        # A model compiles to a fresh network (current weights) each time; its structure is cached by
        # prepare(), so reuse that (and its tree solver) whenever the compiled layout is the same.
        cached = prepare(obj, output)
        if cached.tn.inds == tn.inds and cached.tn.open_inds == tn.open_inds:
            target = cached
    cut = min_cut(target, part, method=method)
    if cut.bound > max_cut_dim:
        raise CutTooLargeError(cut.bound, int(max_cut_dim))
    prob = cut._prob
    side = np.asarray(cut._side, dtype=bool).copy()  # tensors + open vertices, True on the I side
    prep = _Prepared(tn)
    K = _cut_indices(prep, side)
    size = tn.size_dict
    chi = math.prod(int(size[i]) for i in K)
    P = len(tn.open_inds)
    n_rows = math.prod(int(size[tn.open_inds[p]]) for p in part)
    n_cols = math.prod(int(size[tn.open_inds[p]]) for p in range(P) if p not in part)
    with _single_thread_blas(chi <= SINGLE_THREAD_MAX_CHI):
        RL, aL, gL = _side_factor(prep, prob, side, K, max_bytes)
        RR, aR, gR = _side_factor(prep, prob, ~side, K, max_bytes)
        check_budget(f"the {RL.shape[0]}x{RR.shape[0]} core of the cut", 16.0 * RL.shape[0] * RR.shape[0] * 2,
                     max_bytes)
        # X = Q_L R_L and Y = Q_R R_R give [[A]]_I = X Y^T = Q_L (R_L R_R^T) Q_R^T.
        core = RL @ RR.T
        s = np.linalg.svd(core, compute_uv=False) if core.size else np.zeros(0)
    n_vals = min(chi, n_rows, n_cols)
    # The core has at most min(r_L, r_R) <= n_vals values; the others are exactly zero (rank bound).
    s = np.concatenate([s[:n_vals], np.zeros(max(0, n_vals - s.size))])
    if cut_tol is not None and s.size and s[0] > 0:
        s = np.where(s > cut_tol * s[0], s, 0.0)
    if normalize:
        nrm = float(np.linalg.norm(s))
        values = s / nrm if nrm > 0 else s
    else:
        log_scale = aL + aR
        if log_scale and s.size and s[0] > 0:
            top = math.log(s[0]) + log_scale
            if top > 700 or top < -700:
                raise SpectrumRangeError(
                    f"the largest Schmidt value is exp({top:.1f}), outside float64; pass normalize=True "
                    "(entropies and the geometric measure do not depend on the scale)"
                )
            s = s * math.exp(log_scale)
        values = s
    return NetworkSpectrum(values, n_rows, n_cols, chi, gL or gR)


def network_schmidt_values(
    obj: Any,
    part: Iterable[int],
    output: int = 0,
    max_cut_dim: int = DEFAULT_MAX_CUT_DIM,
    cutoff: float | None = None,
    method: str = "auto",
    normalize: bool = False,
    max_bytes: float | None = None,
) -> np.ndarray:
    """Singular values of ``[[A]]_I`` of a network's tensor, computed through a min cut.

    Each side of the cut is brought to QR-canonical form and the values are those of the small core
    (module notes). Accuracy: an absolute error of about ``eps * ||X|| ||Y||`` (of the order of
    ``eps * s_1``; tested to ``1e-12 * s_1`` against dense SVDs), or ``sqrt(chi * eps) * s_1`` where a
    side with cycles falls back to its Gram matrix (with a :class:`SpectrumAccuracyWarning`).

    Parameters
    ----------
    obj : model or TensorNetwork
        A model is compiled with ``obj.to_tensor_network(output)``; a network needs its arrays.
    part : iterable of int
        The side ``I``.
    output : int
        Output channel of a model (0 for a network).
    max_cut_dim : int
        Largest cut dimension accepted (default 4096); the core is at most ``chi x chi``.
    cutoff : float, optional
        If given (finite, ``>= 0``), values ``<= cutoff * s_1`` are returned as 0. By default nothing is
        zeroed: values that are zero in exact arithmetic come back at the rounding level.
    method : str
        Min-cut solver (see :func:`tnconv.min_cut`).
    normalize : bool
        Return ``s / ||s||`` (unit Frobenius norm). Use it for very large networks whose raw values
        would overflow or underflow float64; entropies do not depend on it.
    max_bytes : float, optional
        Byte budget of intermediates (default ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    numpy.ndarray
        ``min(chi, dims of I, dims of I^c)`` values in descending order, unnormalized unless
        ``normalize``.

    Raises
    ------
    CutTooLargeError
        (a ``MemoryError``) when the min cut exceeds ``max_cut_dim``; its message gives the bound.
    TensorTooLargeError
        (a ``MemoryError``) when a message or the core would exceed ``max_bytes``.
    TypeError
        A model with no tensor network, or options of the wrong type (bool ``max_cut_dim``, non-bool
        ``normalize``).
    ValueError
        An invalid partition, a shape-only network, NaN/inf tensors, or a NaN, infinite or negative
        ``cutoff`` / ``max_bytes``.
    SpectrumRangeError
        (an ``OverflowError`` and ``FloatingPointError``) for unnormalized values that overflow or
        underflow float64 (use ``normalize=True``).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(8, 2, 2, seed=0)
    >>> s = network_schmidt_values(net, [0, 1, 2, 3])
    >>> dense = np.linalg.svd(tc.matricize(net.coefficient_tensor(), [0, 1, 2, 3]), compute_uv=False)
    >>> bool(np.allclose(s, dense[: s.size], rtol=1e-12, atol=1e-13 * dense[0])), s.size
    (True, 2)

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    .. [2] U. Schollwöck, Ann. Phys. 326 (2011), arXiv:1008.3477.
    """
    return network_spectrum(obj, part, output, max_cut_dim=max_cut_dim, cutoff=cutoff, method=method,
                            normalize=normalize, max_bytes=max_bytes).values
