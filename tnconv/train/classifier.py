"""``ConvACClassifier``: a scikit-learn estimator that trains a ConvAC (or a ReLU ConvNet) on raw images.

Pixels (or ``patch x patch`` neighbourhoods) go through a learnable Gaussian representation layer
(SimNets' similarity layer) to ``n_descriptors`` features; a ConvNet over a square or mirror pooling
tree (:mod:`tnconv.train.images`) maps them to one output per class, trained by :func:`tnconv.train.fit`.

This module imports scikit-learn; ``tnconv.train`` loads it only when ``ConvACClassifier`` is used.

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743.
.. [2] N. Cohen, O. Sharir, A. Shashua, "Deep SimNets", CVPR 2016, arXiv:1506.03059.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..models.base import ConvNet
from ..models.representation import GaussianDescriptors
from ..trees import ModeTree
from .fit import FitResult, fit
from .images import as_images, image_patches, image_tree

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(f"ConvACClassifier needs scikit-learn ({exc}); pip install 'tnconv[train]'") from None

__all__ = ["ConvACClassifier"]


class ConvACClassifier(ClassifierMixin, BaseEstimator):
    """A ConvAC image classifier with scikit-learn's interface (``clone``, ``GridSearchCV`` ... work).

    Parameters
    ----------
    shape : (h, w), optional
        The image size; default: taken from ``X`` in :meth:`fit` (rows ``(n, d)`` are ``1 x d`` images).
    pooling : {"square", "mirror"} or ModeTree
        Contiguous ``2 x 2`` windows, mirror-image windows (ICLR'17), or any tree over ``h * w`` inputs.
    widths : int or sequence
        Channels per node (see :class:`~tnconv.models.ConvNet`).
    n_descriptors : int
        M, the Gaussian features per pixel.
    g : {"product", "relu_max", "relu_sum"}
        Pooling operator.
    patch : int
        Odd patch size: each input is a pixel's ``patch x patch`` neighbourhood (edge-padded).
    shared : bool
        One weight matrix per tree height (a true convolution).
    epochs, lr, batch_size, optimizer, backend, parameterization, patience :
        Passed to :func:`tnconv.train.fit`.
    dtype : {"float32", "float64"}
    seed : int, optional
        Weights, representation and shuffling; a fixed seed gives identical fits.

    Attributes
    ----------
    classes_ : array
        The labels seen in :meth:`fit`, in sorted order.
    model_ : ConvNet
        The trained net (numpy weights; min cuts, spectra, ``tc.save`` apply).
    representation_ : GaussianDescriptors
        The trained representation layer.
    result_ : FitResult
        With the per-epoch ``history``.
    shape_, n_features_in_ :
        The image size and ``h * w * c``.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(64, 4, 4)); y = (X[:, :2].mean((1, 2)) > X[:, 2:].mean((1, 2))).astype(int)
    >>> clf = tc.ConvACClassifier(widths=3, n_descriptors=3, epochs=1, seed=0).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.model_.n_inputs
    ((64, 2), 16)
    """

    def __init__(self, shape: Any = None, pooling: Any = "square", widths: Any = 8, n_descriptors: int = 8,
                 g: str = "product", patch: int = 1, shared: bool = False, epochs: int = 10, lr: float = 1e-2,
                 batch_size: int = 64, optimizer: str = "adam", backend: str = "jax",
                 parameterization: str = "auto", patience: int | None = None, dtype: str = "float32",
                 seed: int | None = None):
        self.shape = shape
        self.pooling = pooling
        self.widths = widths
        self.n_descriptors = n_descriptors
        self.g = g
        self.patch = patch
        self.shared = shared
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.backend = backend
        self.parameterization = parameterization
        self.patience = patience
        self.dtype = dtype
        self.seed = seed

    # ------------------------------------------------------------------ helpers
    def _images(self, X: Any, fitted: bool) -> np.ndarray:
        images = as_images(X)
        n, h, w, c = images.shape
        if fitted:
            if images.shape[1:] != self.shape_ + (self.n_channels_,):
                raise ValueError(
                    f"X has {h * w * c} features, but ConvACClassifier is expecting {self.n_features_in_} features "
                    f"as input: images of shape {images.shape[1:]}, fitted on {self.shape_ + (self.n_channels_,)}"
                )
        elif self.shape is not None and tuple(self.shape) != (h, w):
            flat = np.asarray(X).ndim == 2 and h * w * c == int(np.prod(self.shape))
            if not flat:
                raise ValueError(f"X holds images of shape {(h, w)}, but shape={tuple(self.shape)}")
            images = images.reshape(n, *tuple(self.shape), 1)
        return images

    def _patches(self, images: np.ndarray) -> np.ndarray:
        return image_patches(images, self.patch)

    def _tree(self, h: int, w: int) -> ModeTree:
        if isinstance(self.pooling, ModeTree):
            if self.pooling.n_inputs != h * w:
                raise ValueError(f"pooling tree has {self.pooling.n_inputs} inputs but the images have {h * w} pixels")
            return self.pooling
        return image_tree(h, w, self.pooling)

    def _representation(self, patches: np.ndarray, rng: np.random.Generator) -> GaussianDescriptors:
        flat = patches.reshape(-1, patches.shape[-1])
        picks = flat[rng.choice(flat.shape[0], size=self.n_descriptors, replace=flat.shape[0] < self.n_descriptors)]
        spread = float(flat.std()) or 1.0
        means = picks + 0.1 * spread * rng.standard_normal(picks.shape)
        sigmas = np.full(self.n_descriptors, spread * np.sqrt(flat.shape[1]))
        return GaussianDescriptors(self.n_descriptors, flat.shape[1], means=means, sigmas=sigmas, learnable=True)

    # ------------------------------------------------------------------ sklearn interface
    def fit(self, X: Any, y: Any) -> ConvACClassifier:
        """Train on images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array
            Images ``(n, h, w)`` or ``(n, h, w, c)`` (or rows ``(n, d)``, read as ``1 x d`` images).
        y : array
            One class label per image.

        Returns
        -------
        ConvACClassifier
            ``self``, fitted (``model_``, ``classes_``, ``history_``).

        Raises
        ------
        ValueError
            Mismatched lengths, NaN pixels, images unlike ``shape``, fewer than two classes, a
            continuous ``y``, invalid hyper-parameters (naming the value).
        """
        if y is None:
            raise ValueError("ConvACClassifier requires y to be passed, but the target y is None")
        images = self._images(X, fitted=False)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn("A column-vector y was passed when a 1d array was expected; use y.ravel()",
                          DataConversionWarning, stacklevel=2)
            y = y.ravel()
        check_classification_targets(y)
        if y.shape[0] != images.shape[0]:
            raise ValueError(f"X has {images.shape[0]} samples but y has {y.shape[0]}; they must match")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(f"y has only one class ({self.classes_[0]!r}); a classifier needs at least 2")
        _, h, w, c = images.shape
        self.shape_, self.n_channels_, self.n_features_in_ = (h, w), c, h * w * c
        rng = np.random.default_rng(self.seed)
        patches = self._patches(images)
        rep = self._representation(patches, rng)
        net = ConvNet(self._tree(h, w), self.n_descriptors, self.widths, n_outputs=self.classes_.size, g=self.g,
                      shared=self.shared, seed=rng, dtype=self.dtype)
        self.result_: FitResult = fit(
            net, patches, codes, optimizer=self.optimizer, lr=self.lr, epochs=self.epochs,
            batch_size=self.batch_size, seed=rng, representation=rep, backend=self.backend, progress=False,
            patience=self.patience, parameterization=self.parameterization,
        )
        self.model_, self.representation_ = self.result_.model, self.result_.representation
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this ConvACClassifier is not fitted yet; call fit(X, y) first")

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits ``(n, n_classes)``: ``log h_y(x)`` in log space, ``h_y(x)`` with signed weights.

        Parameters
        ----------
        X : array
            Images ``(n, h, w)`` or ``(n, h, w, c)`` of the fitted shape.

        Returns
        -------
        numpy.ndarray
        """
        self._check_fitted()
        z = self.result_.logits(self._patches(self._images(X, fitted=True)))
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``softmax(logits)``, columns in the order of :attr:`classes_`.

        Parameters
        ----------
        X : array
            Images ``(n, h, w)`` or ``(n, h, w, c)`` of the fitted shape.

        Returns
        -------
        numpy.ndarray of shape (n, n_classes)
        """
        self._check_fitted()
        return self.result_.predict_proba(self._patches(self._images(X, fitted=True)))

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of every image.

        Parameters
        ----------
        X : array
            Images ``(n, h, w)`` or ``(n, h, w, c)`` of the fitted shape.

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        self._check_fitted()
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
