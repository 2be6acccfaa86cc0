"""The errors and warnings of spectra through a cut."""

from __future__ import annotations

import math

from .._core.options import TensorTooLargeError

__all__ = ["CutTooLargeError", "SpectrumAccuracyWarning", "SpectrumRangeError"]



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
