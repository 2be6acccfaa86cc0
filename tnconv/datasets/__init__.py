"""Datasets generated in the package (no downloads, deterministic by seed) for training ConvNets.

* :func:`blobs`: binary blob images labelled by closedness or left-right symmetry (ICLR'17);
* :func:`digits_canvas`: scikit-learn's bundled 8x8 digits on a noisy canvas, a local and a global task
  (Levine et al., ICLR'18).

Morphology and smoothing are numpy-only (:mod:`tnconv.datasets.morphology`); scikit-learn is needed for
:func:`digits_canvas` only, and imported when it is called.

Examples
--------
>>> import tnconv as tc
>>> X, y = tc.datasets.blobs(8, size=8, seed=1)
>>> X.shape, y.dtype.name
((8, 8, 8), 'int64')
"""

from __future__ import annotations

from .blobs import blob_images, blob_scores, blobs, closedness, closing_radius, symmetry
from .digits import digits_canvas, load_source_digits, resize_bilinear

__all__ = ["blob_images", "blob_scores", "blobs", "closedness", "closing_radius", "digits_canvas",
           "load_source_digits", "resize_bilinear", "symmetry"]
