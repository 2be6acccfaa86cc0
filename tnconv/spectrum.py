"""Exact Schmidt spectra of tensor networks through a minimum cut, without the dense tensor.

A min cut (:func:`tnconv.min_cut`) splits the network into a side ``L`` holding the open legs of ``I``
and a side ``R`` holding those of ``I^c``, joined only by the severed indices ``K`` (of total
dimension ``chi``, the bound). Then ``[[A]]_I = X Y`` with ``X`` of shape ``(dims of I, chi)`` and ``Y``
of shape ``(chi, dims of I^c)``. Neither is formed: each side is contracted with its own conjugate over
its open legs, which gives the ``chi x chi`` Gram matrices ``X^H X`` and ``Y Y^H``. With a square-root
factor ``S_L^H S_L = X^H X`` (a symmetric eigendecomposition), ``X = Q_L S_L`` for an isometry ``Q_L``,
so ``(XY)(XY)^H = Q_L (S_L Y Y^H S_L^H) Q_L^H``: the squared singular values of ``[[A]]_I`` are the
eigenvalues of the ``chi x chi`` matrix ``S_L (Y Y^H) S_L^H``.

For networks whose graph is a forest (every ConvAC) each side is contracted vertex by vertex, leaves
first, so intermediate sizes stay at (bond dimension x carried cut dimension) squared and the cost is
linear in the number of tensors. Messages are rescaled as they go, with the scale kept as a logarithm,
so hundreds or thousands of inputs neither overflow nor underflow. Other networks are contracted by
opt_einsum (greedy path) after a size check.

Cost
----
Two sweeps over the tensors (one small einsum each) plus ``O(chi^3)`` dense linear algebra: one ``eigh``,
two matrix products and one ``eigvalsh`` of size ``chi``. Measured here (2 cores, busy): N = 1024 with
chi = 4 in 0.8 s; N = 256 with chi = 1024 in 0.9 s, chi = 2048 in 8 s, chi = 4096 in 69 s.

Precision
---------
Forming Gram matrices squares the condition number. A singular value ``s_k`` is accurate to about
``sqrt(chi * eps) * s_1`` in absolute terms (``eps`` = 2.2e-16 in float64, so about ``1.5e-8 *
sqrt(chi) * s_1``). Values below the noise floor ``cutoff * s_1``, with default ``cutoff =
sqrt(10 * chi * eps)``, cannot be told from zero and are returned as exactly 0. Consequently
:func:`tnconv.schmidt_rank` of a network counts the values above this floor. For exact ranks of deep
nets (whose spectra can span more than 15 decades, MATH.md §7) use the bound of :func:`tnconv.min_cut`
(tight for generic weights when all dimensions are powers of one integer) or arithmetic mod a prime.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (min cuts and
   entanglement of ConvACs).
.. [2] U. Schollwöck, "The density-matrix renormalization group in the age of matrix product
   states", Ann. Phys. 326 (2011), arXiv:1008.3477 (spectra from environments of a cut).
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np

from ._config import TensorTooLargeError, check_budget

__all__ = ["DEFAULT_MAX_CUT_DIM", "CutTooLargeError", "SpectrumRangeError", "network_schmidt_values"]

#: Largest cut dimension ``chi`` for which spectra are computed (Gram matrices are ``chi x chi``).
DEFAULT_MAX_CUT_DIM = 4096
#: Up to this ``chi`` the spectrum runs with one BLAS thread (threadpoolctl, when installed). Measured on
#: the shared 2-core machine: chi = 1024 took 0.9 s with one thread and 20 s with OpenBLAS's two
#: (spin-waiting threads on a busy machine); chi = 2048: 8 s vs 30 s; chi = 4096: 69 s vs 125 s.
SINGLE_THREAD_MAX_CHI = 4096


class CutTooLargeError(TensorTooLargeError):
    """The smallest cut is too large for an exact spectrum; the min-cut bound is still available."""

    def __init__(self, bound: int, limit: int):
        log2 = math.log2(bound)
        msg = (
            f"the smallest cut across this partition has dimension {bound if log2 < 64 else f'2^{log2:.1f}'} "
            f"(> max_cut_dim={limit}), so the exact spectrum would need {bound if log2 < 64 else '2^%.1f' % log2}"
            f"-square Gram matrices. Use tnconv.min_cut(model_or_tn, part).bound as the Schmidt-rank bound "
            f"(exact for generic weights), or pass max_cut_dim=... to raise the limit"
        )
        MemoryError.__init__(self, msg)
        self.n_bytes = 16.0 * float(bound) ** 2 if log2 < 500 else math.inf
        self.budget = 16.0 * float(limit) ** 2
        self.bound = bound
        self.limit = limit


class SpectrumRangeError(OverflowError, FloatingPointError):
    """Unnormalized Schmidt values outside float64 (deep products of many factors); use normalize=True."""


def _as_network(obj: Any, output: int) -> Any:
    from .network import TensorNetwork

    if isinstance(obj, TensorNetwork):
        return obj
    if hasattr(obj, "to_tensor_network"):
        return obj.to_tensor_network(output)
    raise TypeError(
        f"exact spectra without the dense tensor need a TensorNetwork or a model with to_tensor_network() "
        f"(product pooling); got {type(obj).__name__}. Pass its coefficient or grid tensor instead"
    )


def _host64(a: Any) -> np.ndarray:
    """A float64/complex128 numpy copy (float32 Grams would lose half the digits; CuPy arrays are
    fetched once here, the spectrum being a small host-side computation)."""
    if type(a).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU only
        a = a.get()
    a = np.asarray(a)
    if a.dtype.kind not in "fiuc":
        raise TypeError(f"tensor data of dtype {a.dtype} cannot give a spectrum")
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64, copy=False)


class _Labels:
    """Integer ids for index labels (originals and conjugate copies), and einsum symbols per call."""

    def __init__(self) -> None:
        self.ids: dict[Hashable, int] = {}

    def __call__(self, label: Hashable) -> int:
        return self.ids.setdefault(label, len(self.ids))


def _contract(
    factors: list[tuple[np.ndarray, tuple[int, ...]]], out: tuple[int, ...], optimize: str = "auto",
    cache: dict | None = None,
) -> np.ndarray:
    """Contract labelled factors; with ``cache``, reuse opt_einsum expressions of equal (equation,
    shapes), which repeat across the vertices of regular networks (path search once, not per vertex)."""
    from opt_einsum import contract, contract_expression, get_symbol

    sym: dict[int, str] = {}
    for _, ix in factors:
        for i in ix:
            sym.setdefault(i, get_symbol(len(sym)))
    eq = ",".join("".join(sym[i] for i in ix) for _, ix in factors) + "->" + "".join(sym[i] for i in out)
    arrays = [a for a, _ in factors]
    dims: dict[int, int] = {}
    for a, ix in factors:
        dims.update(zip(ix, a.shape))
    if len(arrays) <= 4 and math.prod(dims.values()) <= 2**15:
        # Tiny groups: one fused einsum loop beats any pairwise path (per-call overhead ~5 us vs ~100 us).
        return np.einsum(eq, *arrays, optimize=False)
    if cache is None:
        return contract(eq, *arrays, optimize=optimize)
    key = (eq, tuple(a.shape for a in arrays))
    expr = cache.get(key)
    if expr is None:
        expr = cache[key] = contract_expression(eq, *key[1], optimize=optimize)
    return expr(*arrays)


@contextlib.contextmanager
def _single_thread_blas(small: bool):
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


def _side_gram(
    tn: Any, prob: Any, side_mask: np.ndarray, K: list[Hashable], lab: _Labels, forest: bool, max_bytes: float | None
) -> tuple[np.ndarray, float]:
    """``M[k, k'] = sum over the side's open legs of X[.., k] conj(X[.., k'])``, as ``(matrix, log scale)``.

    ``side_mask``: bool over tensors + open vertices (True = on this side).
    """
    T, P = prob.n_tensors, prob.n_open
    size = tn.size_dict
    factors: dict[int, list[tuple[np.ndarray, tuple[int, ...]]]] = defaultdict(list)
    for k in np.flatnonzero(side_mask[:T]).tolist():
        A = _host64(tn.arrays[k])
        ix = tn.inds[k]
        factors[k].append((A, tuple(lab((i, 0)) for i in ix)))
        factors[k].append((A.conj() if np.iscomplexobj(A) else A, tuple(lab((i, 1)) for i in ix)))
    for p in np.flatnonzero(side_mask[T : T + P]).tolist():
        i = tn.open_inds[p]
        factors[T + p].append((np.eye(size[i]), (lab((i, 0)), lab((i, 1)))))
    out = tuple(lab((i, 0)) for i in K) + tuple(lab((i, 1)) for i in K)
    live: list[tuple[np.ndarray, tuple[int, ...]]]
    log_scale = 0.0
    if not forest:
        live = [f for fs in factors.values() for f in fs]
        from opt_einsum import contract_path, get_symbol

        sym: dict[int, str] = {}
        for _, ix in live:
            for i in ix:
                sym.setdefault(i, get_symbol(len(sym)))
        eq = ",".join("".join(sym[i] for i in ix) for _, ix in live) + "->" + "".join(sym[i] for i in out)
        _, info = contract_path(eq, *[a for a, _ in live], optimize="greedy")
        check_budget("the largest intermediate of the cut-side contraction", 16.0 * float(info.largest_intermediate),
                     max_bytes)
        G = _contract(live, out, optimize="greedy")
        return G, 0.0
    # Forest: contract vertex by vertex, leaves first, within the side (cut copy tensors excluded).
    K_set = set(K)
    n_links: dict[int, list[int]] = defaultdict(list)
    on_side = set(np.flatnonzero(side_mask).tolist())
    for u, v, ix in prob.edges:
        if u in on_side and v in on_side:
            n_links[u].append(v)
            n_links[v].append(u)
    first_copy = T + P
    for j, (i, ms) in enumerate(prob.hyper):
        m = ms.tolist()
        if i in K_set or not all(x in on_side for x in m):
            continue
        h = first_copy + j
        on_side.add(h)
        for x in m:
            n_links[h].append(x)
            n_links[x].append(h)
    count: Counter = Counter(i for fs in factors.values() for _, ix in fs for i in ix)
    count.update(out)
    roots: list[tuple[np.ndarray, tuple[int, ...]]] = []
    done: set[int] = set()
    cache: dict = {}
    for r in sorted(on_side):
        if r in done:
            continue
        order, parent = [], {r: -1}
        stack = [r]
        while stack:
            u = stack.pop()
            order.append(u)
            for v in n_links[u]:
                if v not in parent:
                    parent[v] = u
                    stack.append(v)
        done.update(order)
        msgs: dict[int, list[tuple[np.ndarray, tuple[int, ...]]]] = defaultdict(list)
        for u in reversed(order):
            group = factors.get(u, []) + msgs.pop(u, [])
            if not group:
                continue
            here = Counter(i for _, ix in group for i in ix)
            keep = tuple(i for i in here if count[i] > here[i])
            n_out = math.prod(
                next(a.shape[ix.index(i)] for a, ix in group if i in ix) for i in keep
            )
            check_budget(f"an environment of {n_out} entries", 16.0 * n_out, max_bytes)
            res = _contract(group, keep, cache=cache) if len(group) > 1 or group[0][1] != keep else group[0][0]
            for i in here:
                count[i] -= here[i]
            for i in keep:
                count[i] += 1
            res = np.asarray(res)
            scale = float(np.max(np.abs(res))) if res.size else 0.0
            if scale > 0 and np.isfinite(scale):
                res = res / scale
                log_scale += math.log(scale)
            item = (res, keep)
            if parent[u] >= 0:
                msgs[parent[u]].append(item)
            else:
                roots.append(item)
    G = np.asarray(_contract(roots, out, optimize="greedy") if roots else np.ones(()))
    # Rescale once more: a product of many root messages could reach subnormal numbers (slow LAPACK).
    top = float(np.max(np.abs(G))) if G.size else 0.0
    if top > 0 and np.isfinite(top):
        G = G / top
        log_scale += math.log(top)
    return G, log_scale


def _sqrt_factor(M: np.ndarray) -> np.ndarray:
    """``S`` with ``S^H S = M`` for a Hermitian PSD ``M`` (negative rounding noise clipped)."""
    M = (M + M.conj().T) / 2
    w, U = np.linalg.eigh(M)
    return np.sqrt(np.clip(w, 0, None))[:, None] * U.conj().T


def network_schmidt_values(
    obj: Any,
    part: Iterable[int],
    output: int = 0,
    max_cut_dim: int = DEFAULT_MAX_CUT_DIM,
    cutoff: float | None = None,
    method: str = "auto",
    normalize: bool = False,
    max_bytes: float | None = None,
    **kw: Any,
) -> np.ndarray:
    """Singular values of ``[[A]]_I`` of a network's tensor, computed through a min cut.

    Parameters
    ----------
    obj : model or TensorNetwork
        A model is compiled with ``obj.to_tensor_network(output)``; a network needs its arrays.
    part : iterable of int
        The side ``I``.
    output : int
        Output channel of a model.
    max_cut_dim : int
        Largest cut dimension accepted (default 4096); the Gram matrices are ``chi x chi``.
    cutoff : float, optional
        Values below ``cutoff * s_1`` are returned as 0 (default ``sqrt(10 * chi * eps)``: the noise
        floor of the Gram method, see the module notes).
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
    TypeError
        A model with no tensor network (rectifier pooling).
    ValueError
        An invalid partition, or a shape-only network.
    SpectrumRangeError
        (an ``OverflowError`` and ``FloatingPointError``) for unnormalized values that overflow or
        underflow float64 (use ``normalize=True``).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(8, 2, 2, seed=0, init="orthogonal")
    >>> s = network_schmidt_values(net, [0, 1, 2, 3])
    >>> dense = np.linalg.svd(tc.matricize(net.coefficient_tensor(), [0, 1, 2, 3]), compute_uv=False)
    >>> bool(np.allclose(s, dense[: s.size])), s.size
    (True, 2)

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    """
    from .mincut import min_cut, prepare
    from .partitions import validate_partition

    tn = _as_network(obj, output)
    tn._require_arrays("network_schmidt_values")
    part = validate_partition(part, len(tn.open_inds))
    if isinstance(max_cut_dim, bool) or not isinstance(max_cut_dim, (int, np.integer)) or max_cut_dim < 1:
        raise ValueError(f"max_cut_dim must be a positive int, got {max_cut_dim!r}")
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
    T, P = prob.n_tensors, prob.n_open
    side = cut._side.copy()  # tensors + open vertices, True on the I side
    # The indices joining the two sides (dimension-1 ones included: harmless).
    opens = {i: T + p for p, i in enumerate(tn.open_inds)}
    K: list[Hashable] = []
    for i, ms in tn.index_members().items():
        verts = list(ms) + ([opens[i]] if i in opens else [])
        s = side[verts]
        if s.any() and not s.all():
            K.append(i)
    chi = math.prod(int(tn.size_dict[i]) for i in K)
    lab = _Labels()
    with _single_thread_blas(chi <= SINGLE_THREAD_MAX_CHI):
        GL, aL = _side_gram(tn, prob, side, K, lab, prob.is_forest, max_bytes)
        GR, aR = _side_gram(tn, prob, ~side, K, lab, prob.is_forest, max_bytes)
        GL = np.asarray(GL).reshape(chi, chi)
        GR = np.asarray(GR).reshape(chi, chi)
        # M_L[k, k'] = sum X[., k] conj X[., k'] = conj(X^H X); M_R = Y Y^H. With S_L^H S_L = X^H X,
        # (XY)(XY)^H = Q_L (S_L M_R S_L^H) Q_L^H: its eigenvalues are the squared singular values.
        SL = _sqrt_factor(GL.conj())
        C = SL @ ((GR + GR.conj().T) / 2) @ SL.conj().T
        s = np.sqrt(np.clip(np.linalg.eigvalsh((C + C.conj().T) / 2), 0, None))[::-1]
    rows = math.prod(int(tn.size_dict[tn.open_inds[p]]) for p in part)
    cols = math.prod(int(tn.size_dict[tn.open_inds[p]]) for p in range(P) if p not in part)
    s = s[: min(chi, rows, cols)]
    eps = np.finfo(np.float64).eps
    cutoff = math.sqrt(10 * chi * eps) if cutoff is None else float(cutoff)
    if cutoff < 0:
        raise ValueError(f"cutoff must be non-negative, got {cutoff}")
    if s.size and s[0] > 0:
        s = np.where(s > cutoff * s[0], s, 0.0)
    log_scale = (aL + aR) / 2  # each Gram carries the square of its side's scale
    if normalize:
        nrm = float(np.linalg.norm(s))
        return s / nrm if nrm > 0 else s
    if log_scale:
        top = math.log(s[0]) + log_scale if s.size and s[0] > 0 else 0.0
        if top > 700 or top < -700:
            raise SpectrumRangeError(
                f"the largest Schmidt value is exp({top:.1f}), outside float64; pass normalize=True "
                "(entropies and the geometric measure do not depend on the scale)"
            )
        s = s * math.exp(log_scale)
    return s
