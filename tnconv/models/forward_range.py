"""The range check of a plain (not log-scale) forward: :class:`ForwardRangeWarning` and its one-pass test.

A product-pooling net multiplies ``N`` activations, so its plain output leaves the float range for large
``N``: it underflows to zero, turns subnormal, or overflows to infinity. :func:`warn_out_of_range` tells
these apart from an output that is exactly zero because a feature vector is (a zero factor), and warns
once per call; ``forward(x, log=True)`` has no range limit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ForwardRangeWarning", "warn_out_of_range"]


class ForwardRangeWarning(RuntimeWarning):
    """A plain (not log-scale) forward left the float range: zeros from underflow, subnormals, or
    infinities from overflow. ``forward(x, log=True)`` returns ``(sign, log|h|)`` without range limits.

    A ``RuntimeWarning``, so ``warnings.simplefilter("error", tc.ForwardRangeWarning)`` turns it into an
    exception and ``"ignore"`` silences it.

    Examples
    --------
    >>> import warnings, numpy as np, tnconv as tc
    >>> net = tc.deep(256, 2, 2, seed=0)
    >>> x = np.full((1, 256, 2), 1e-3)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     out = net.forward(x)
    >>> float(out[0, 0]), caught[0].category is tc.ForwardRangeWarning
    (0.0, True)
    >>> sign, log_abs = net.forward(x, log=True)   # no range limit
    >>> bool(np.isfinite(log_abs).all())
    True
    """


def warn_out_of_range(out: np.ndarray, features: np.ndarray) -> None:
    """Warn (once) when ``out`` left the float range; cheap: one pass over ``out``, and over the features
    of the zero samples only (a zero feature vector makes a product net's output exactly 0).

    Called by ``forward`` itself: the warning points at the caller of ``forward`` (``stacklevel=3``).

    Parameters
    ----------
    out : numpy.ndarray of shape (batch, ...)
        The plain output of a product-pooling net.
    features : numpy.ndarray of shape (batch, n_inputs, M)
        The features it was evaluated on.

    Warns
    -----
    ForwardRangeWarning
        Naming how many samples underflowed to exactly 0 (with no zero feature vector), how many values
        are subnormal and how many overflowed to inf.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_out_of_range(np.array([[0.0], [1.0]]), np.ones((2, 3, 2)))
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    forward left the float64 range: 1 sample(s) underflowed to exactly 0. Use forward(x, log=True), ...
    >>> warn_out_of_range(np.array([[0.0]]), np.zeros((1, 3, 2)))  # a zero feature vector: a true 0
    """
    import warnings

    if not np.issubdtype(out.dtype, np.floating):
        return
    mag = np.abs(out)
    tiny = np.finfo(out.dtype).tiny
    low = mag < tiny
    if not low.any() and np.isfinite(out).all():
        return
    problems = []
    rows = np.nonzero(low.any(axis=tuple(range(1, out.ndim))))[0] if out.ndim > 1 else np.nonzero(low)[0]
    zero_rows = rows[np.all(out[rows].reshape(len(rows), -1) == 0, axis=1)] if rows.size else rows
    # a sample with an all-zero feature vector is a true 0; checked in blocks of rows, not per sample in Python
    # (that loop was 60% of a small float32 forward that underflowed), and without copying all features at once
    real_zero = np.concatenate([np.all(features[zero_rows[i: i + 256]] == 0, axis=-1).any(axis=-1)
                                for i in range(0, zero_rows.size, 256)]) if zero_rows.size else zero_rows.astype(bool)
    underflow = int((~real_zero).sum()) if zero_rows.size else 0
    if underflow:
        problems.append(f"{underflow} sample(s) underflowed to exactly 0")
    subnormal = int(np.count_nonzero(low & (mag > 0)))
    if subnormal:
        problems.append(f"{subnormal} value(s) are subnormal (below {tiny:.3g}; precision lost)")
    overflow = int(np.count_nonzero(~np.isfinite(out)))
    if overflow:
        problems.append(f"{overflow} value(s) overflowed to inf")
    if problems:
        warnings.warn(f"forward left the {out.dtype} range: {'; '.join(problems)}. Use forward(x, log=True), "
                      "which returns (sign, log|h|) and never over- or underflows.", ForwardRangeWarning,
                      stacklevel=3)
