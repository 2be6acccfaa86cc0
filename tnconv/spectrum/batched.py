"""The QR-compressed pairwise contraction of one side of a cut, on stacks of same-shaped messages.

A *batch* is an array of shape ``(B, rows, *column dims)``: ``B`` messages of one shape and one label
pattern, stacked. :class:`BatchFold` combines and compresses whole batches at once with batched
``matmul`` and QR, so the Python cost is paid per level and per shape rather than per tensor. The
column axes carry *local* labels (small ints) whose state is the same for every message of the batch:

* ``"K"``: a cut index, never summed;
* ``"o"``: also held outside the group being folded (a bond to the parent), never summed here;
* ``"i"``: held only inside the group: summed when its last two holders meet (or alone, a trace).

Every kernel is written once against an array API namespace ``xp``; numpy alone gets LAPACK's
``geqrf`` per matrix (batched ``numpy.linalg.qr`` is 4x slower on ``1024 x 32`` matrices here), which is
a kernel choice, not a second recursion. Scales are kept as logarithms: each message is divided by its
largest entry and ``log(top)`` summed into :attr:`BatchFold.log_scale`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from .._core.options import check_budget, options
from .errors import SpectrumRangeError

__all__ = ["STAIRCASE_MIN", "Batch", "BatchFold", "qr_r", "staircase"]

#: A batched factor: ``(array of shape (B, rows, *cols), local labels of the column axes, triangular)``;
#: ``triangular`` marks square upper-triangular messages (fresh ``R`` factors of a QR).
Batch = tuple[Any, tuple[int, ...], bool]
#: Groups of up to this many factors are combined greedily (smallest product first), larger in order.
GREEDY_MAX = 6
#: Khatri-Rao products of triangular factors at least this wide take the staircase QR (:func:`staircase`).
STAIRCASE_MIN = 9
#: Up to this ``m * n`` numpy's batched QR (one gufunc call) beats a loop of ``geqrf`` calls.
_GUFUNC_QR_MAX = 1024


def _geqrf(dtype: np.dtype) -> Any:
    try:
        from scipy.linalg import lapack
    except ImportError:  # pragma: no cover - SciPy is optional
        return None
    return lapack.zgeqrf if dtype.kind == "c" else lapack.dgeqrf


def qr_r(xp: Any, A: Any) -> Any:
    """The ``R`` factors ``(B, n, n)`` of a stack ``(B, m, n)`` of tall matrices (Householder QR).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((3, 5, 2))
    >>> R = qr_r(np, A)
    >>> bool(np.allclose(np.abs(R), np.abs(np.linalg.qr(A, mode="r"))))
    True
    """
    B, m, n = A.shape
    if xp is not np:
        return xp.linalg.qr(A, mode="reduced")[1]
    geqrf = _geqrf(A.dtype)
    if geqrf is None or m * n <= _GUFUNC_QR_MAX:
        return np.linalg.qr(A, mode="r")
    out = np.empty((B, n, n), dtype=A.dtype)
    lwork = max(1, 32 * n)
    for b in range(B):
        qr, _, _, info = geqrf(A[b], lwork=lwork)
        if info != 0:  # pragma: no cover - only for illegal arguments
            return np.linalg.qr(A, mode="r")
        out[b] = qr[:n]
    out *= _upper(n)
    return out


def _prod(dims: Any) -> int:
    return math.prod(int(d) for d in dims)


@functools.lru_cache(maxsize=64)
def staircase(n: int) -> tuple[np.ndarray, tuple[tuple[int, int, int], ...]]:
    """Row blocks of the Khatri-Rao product of two upper-triangular ``n x n`` matrices.

    Row ``(i, j)`` of ``KR(A, B)`` (entries ``A[i, k] B[j, k]``, row ``i * n + j``) is zero left of
    ``max(i, j)``. Rows are grouped by ``max(i, j)`` into (up to) four ranges ``[lo, hi)`` chosen to
    minimize the flops of the sequence of QRs ``R <- qr([rows of the block, columns lo:; R])``, last
    block first: about ``0.6 n^4`` flops instead of ``2 n^4`` for the QR of the whole ``n^2 x n``
    matrix (3.4x fewer at ``n = 32``). Returns the row order (blocks contiguous, last block first) and
    each block's ``(lo, first row, end row)`` in that order.
    """
    def cost(bounds: tuple[int, ...]) -> float:
        b, c = (0, *bounds, n), 0.0
        for q in range(len(b) - 1):
            lo, hi = b[q], b[q + 1]
            cols = n - lo
            c += 2.0 * max(hi * hi - lo * lo + n - hi, cols) * cols * cols
        return c

    best = min((c for p in range(4) for c in itertools.combinations(range(1, n), p)), key=cost)
    b = (0, *best, n)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    top = np.maximum(ii, jj).ravel()
    order, blocks, at = [], [], 0
    for q in reversed(range(len(b) - 1)):
        lo, hi = b[q], b[q + 1]
        rows = np.flatnonzero((top >= lo) & (top < hi))
        order.append(rows)
        blocks.append((lo, at, at + rows.size))
        at += rows.size
    return np.concatenate(order), tuple(blocks)


@functools.lru_cache(maxsize=64)
def _upper(n: int) -> np.ndarray:
    return np.triu(np.ones((n, n)))


class BatchFold:
    """Batched pairwise, QR-compressed contraction of one side of the cut (see the module notes).

    ``largest`` is the largest intermediate allocated, in bytes (for the memory benchmarks).
    """

    def __init__(self, xp: Any, max_bytes: float | None, device: Any = None):
        self.xp = xp
        self.kw: dict[str, Any] = {} if xp is np or device is None else {"device": device}
        self.max_bytes = max_bytes
        self.log_scale: Any = 0.0
        self.largest = 0.0
        self.concrete = True  # set False by the caller while tracing (JAX): no float() of values

    def _budget(self, what: str, per_item: float, B: int) -> None:
        limit = options["max_dense_bytes"] if self.max_bytes is None else self.max_bytes
        if per_item > limit:
            check_budget(what, per_item, self.max_bytes)
        self.largest = max(self.largest, per_item * B)

    def reduce(self, f: Batch, state: dict[int, str], holders: Counter) -> Batch:
        """Sum the axes that no other factor of the group holds and that are not kept (traces)."""
        R, cols, _ = f
        axes = [a for a, lab in enumerate(cols) if state[lab] == "i" and holders[lab] == 1]
        if not axes:
            return self.compress(R, cols) if R.shape[1] > _prod(R.shape[2:]) else f
        R = self.xp.sum(R, axis=tuple(2 + a for a in axes))
        for a in axes:
            holders[cols[a]] -= 1
        return self.compress(R, tuple(lab for a, lab in enumerate(cols) if a not in set(axes)))

    def compress(self, R: Any, cols: tuple[int, ...]) -> Batch:
        """Replace each message with more rows than columns by its ``R`` factor; rescale each."""
        xp = self.xp
        B, r = R.shape[0], R.shape[1]
        tail = tuple(R.shape[2:])
        n = _prod(tail)
        tri = r > n
        if tri:
            self._budget(f"the QR of a {r}x{n} message", 32.0 * r * n, B)
            R = xp.reshape(qr_r(xp, xp.reshape(R, (B, r, n))), (B, n) + tail)
        return self.rescale(R, cols, tri)

    def rescale(self, R: Any, cols: tuple[int, ...], tri: bool) -> Batch:
        """Divide each message by its largest entry, adding the logarithms to :attr:`log_scale`."""
        xp = self.xp
        B = R.shape[0]
        if B == 0 or _prod(R.shape) == 0:
            return R, cols, tri
        top = xp.max(xp.abs(xp.reshape(R, (B, -1))), axis=1)
        if self.concrete:
            t = np.asarray(top) if xp is np else None
            if t is not None and not np.isfinite(t).all():  # pragma: no cover - inputs are finite, rescaled
                raise SpectrumRangeError("a message of the cut-side contraction overflowed float64")
        safe = xp.where(top > 0, top, xp.ones_like(top))
        R = R / xp.reshape(safe, (B,) + (1,) * (R.ndim - 1))
        step = xp.sum(xp.log(safe))
        self.log_scale = self.log_scale + (float(step) if xp is np else step)
        return R, cols, tri

    def kr_triangular(self, Ra: Any, Rb: Any, cols: tuple[int, ...]) -> Batch:
        """``R`` of the Khatri-Rao product of two batches of upper-triangular ``n x n`` factors along
        their one (kept) column label, block by block (:func:`staircase`)."""
        xp = self.xp
        B, n = Ra.shape[0], Ra.shape[1]
        self._budget(f"a {n * n}x{n} message of the cut-side contraction", 16.0 * n ** 3, B)
        _, blocks = staircase(n)
        # Block [lo, hi) holds the rows (i, j) with max(i, j) in [lo, hi): the rectangles i in [lo, hi),
        # j < hi and i < lo, j in [lo, hi). The order of rows within a QR does not change its R (up to
        # signs), so each block is built from its two broadcasts, never the whole product (memory).
        T = None
        hi = n
        for lo, _, _ in blocks:
            top = xp.reshape(xp.multiply(xp.reshape(Ra[:, lo:hi, lo:], (B, hi - lo, 1, n - lo)),
                                         xp.reshape(Rb[:, :hi, lo:], (B, 1, hi, n - lo))), (B, -1, n - lo))
            parts = [top]
            if lo:
                parts.append(xp.reshape(xp.multiply(xp.reshape(Ra[:, :lo, lo:], (B, lo, 1, n - lo)),
                                                    xp.reshape(Rb[:, lo:hi, lo:], (B, 1, hi - lo, n - lo))),
                                        (B, -1, n - lo)))
            if T is not None:
                pad = xp.zeros((B, T.shape[1], n - lo - T.shape[2]), dtype=Ra.dtype, **self.kw)
                parts.append(xp.concat([pad, T], axis=2))
            rows = parts[0] if len(parts) == 1 else xp.concat(parts, axis=1)
            del parts, top
            T = qr_r(xp, rows)  # every block has at least as many rows as columns: (n-lo)(n+lo) >= n-lo
            del rows
            hi = lo
        return self.rescale(T, cols, True)

    def combine(self, a: Batch, b: Batch, state: dict[int, str], holders: Counter) -> Batch:
        """Contract two batched factors: shared labels summed when no one else needs them, else kept
        (a Khatri-Rao product along them)."""
        xp = self.xp
        (Ra, ca, ta), (Rb, cb, tb) = a, b
        B = Ra.shape[0]
        if len(ca) == 1 and ca == cb and not (state[ca[0]] == "i" and holders[ca[0]] == 2):
            n = int(Ra.shape[2])
            if n >= STAIRCASE_MIN and tuple(Ra.shape[1:]) == tuple(Rb.shape[1:]) == (n, n):
                # Square factors are made triangular first: A = Q R gives KR(A, B) = (Q_A x Q_B) KR(R_A, R_B)
                # with an orthogonal Kronecker factor, so the same R for 2 (4/3) n^3 + 0.6 n^4 flops instead
                # of the 2 n^4 of the QR of the whole n^2 x n product.
                if not ta:
                    self._budget(f"the QR of a {n}x{n} message", 32.0 * n * n, B)
                    Ra = qr_r(self.xp, Ra)
                if not tb:
                    self._budget(f"the QR of a {n}x{n} message", 32.0 * n * n, B)
                    Rb = qr_r(self.xp, Rb)
                holders[ca[0]] -= 1
                return self.kr_triangular(Ra, Rb, ca)
        da = dict(zip(ca, Ra.shape[2:]))
        db = dict(zip(cb, Rb.shape[2:]))
        summed = [lab for lab in ca if lab in db and state[lab] == "i" and holders[lab] == 2]
        s_set = set(summed)
        kept = [lab for lab in ca if lab in db and lab not in s_set]
        only_a = [lab for lab in ca if lab not in db]
        only_b = [lab for lab in cb if lab not in da]
        ra, rb = Ra.shape[1], Rb.shape[1]
        dk, ds = _prod(da[x] for x in kept), _prod(da[x] for x in summed)
        dp, dq = _prod(da[x] for x in only_a), _prod(db[x] for x in only_b)
        self._budget(f"a {ra * rb}x{dk * dp * dq} message of the cut-side contraction",
                     16.0 * ra * rb * dk * dp * dq, B)
        pa = [ca.index(x) + 2 for x in kept + only_a + summed]
        pb = [cb.index(x) + 2 for x in kept + summed + only_b]
        A = xp.reshape(xp.permute_dims(Ra, (0, 1, *pa)), (B, ra, dk, dp, ds))
        A = xp.reshape(xp.permute_dims(A, (0, 2, 1, 3, 4)), (B, dk, ra * dp, ds))
        Bm = xp.reshape(xp.permute_dims(Rb, (0, 1, *pb)), (B, rb, dk, ds, dq))
        Bm = xp.reshape(xp.permute_dims(Bm, (0, 2, 3, 1, 4)), (B, dk, ds, rb * dq))
        # Nothing summed: the product is an outer product per kept index, a broadcast, not a matmul.
        C = xp.multiply(A, Bm) if ds == 1 else xp.matmul(A, Bm)
        C = xp.reshape(C, (B, dk, ra, dp, rb, dq))
        C = xp.permute_dims(C, (0, 2, 4, 1, 3, 5))
        shape = (B, ra * rb) + tuple(da[x] for x in kept + only_a) + tuple(db[x] for x in only_b)
        C = xp.reshape(C, shape)
        for x in summed:
            holders[x] -= 2
        for x in kept:
            holders[x] -= 1
        return self.compress(C, tuple(kept + only_a + only_b))

    def fold(self, group: list[Batch], state: dict[int, str]) -> Batch:
        """Combine a group's factors into one: small groups pairwise by the smallest product first,
        large groups (copy tensors with many legs) in order."""
        holders: Counter = Counter()
        for _, cols, _ in group:
            holders.update(cols)
        group = [self.reduce(f, state, holders) for f in group]
        while len(group) > GREEDY_MAX:
            group[:2] = [self.combine(group[0], group[1], state, holders)]
        while len(group) > 1:
            best, pair = math.inf, (0, 1)
            for x in range(len(group)):
                for y in range(x + 1, len(group)):
                    c = self.product_size(group[x], group[y], state, holders)
                    if c < best:
                        best, pair = c, (x, y)
            x, y = pair
            f = self.combine(group[x], group[y], state, holders)
            group = [g for k, g in enumerate(group) if k not in pair] + [f]
        return self.reduce(group[0], state, holders)

    @staticmethod
    def product_size(a: Batch, b: Batch, state: dict[int, str], holders: Counter) -> float:
        (Ra, ca, _), (Rb, cb, _) = a, b
        da = dict(zip(ca, Ra.shape[2:]))
        db = dict(zip(cb, Rb.shape[2:]))
        n = float(Ra.shape[1]) * Rb.shape[1]
        for lab, d in da.items():
            if not (lab in db and holders[lab] == 2 and state[lab] == "i"):
                n *= d
        for lab, d in db.items():
            if lab not in da:
                n *= d
        return n
