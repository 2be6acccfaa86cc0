"""Representation layers: the functions ``f_1..f_M`` applied to every input patch.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3 (representation layer);
   Gaussian descriptors as in Deep SimNets, CVPR 2016.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["GaussianDescriptors", "NeuronDescriptors"]


def _check_patches(x: Any, s: int) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"patches have dtype {x.dtype}; expected real numbers")
    if x.ndim != 3 or x.shape[2] != s:
        raise ValueError(f"patches have shape {x.shape}; expected (batch, n_inputs, s={s})")
    if not np.isfinite(x).all():
        raise ValueError("patches contain NaN or infinite values")
    return x.astype(np.float64, copy=False)


class GaussianDescriptors:
    """``f_d(x) = exp(-||x - mu_d||^2 / (2 sigma_d^2))``: Gaussian (RBF) descriptors.

    Parameters
    ----------
    M : int
        Number of descriptors.
    s : int
        Patch dimension.
    seed : int, optional
    means, sigmas : arrays, optional
        ``(M, s)`` centers and ``(M,)`` widths (default: standard normal centers, ``sigma = sqrt(s)``).

    Examples
    --------
    >>> import numpy as np
    >>> rep = GaussianDescriptors(3, 2, seed=0)
    >>> rep(np.zeros((4, 5, 2))).shape
    (4, 5, 3)
    """

    def __init__(self, M: int, s: int, seed: Any = None, means: Any = None, sigmas: Any = None):
        rng = np.random.default_rng(seed)
        self.M, self.s = int(M), int(s)
        if self.M < 1 or self.s < 1:
            raise ValueError(f"M and s must be positive, got M={M}, s={s}")
        self.means = rng.standard_normal((self.M, self.s)) if means is None else np.asarray(means, float)
        self.sigmas = np.full(self.M, np.sqrt(self.s)) if sigmas is None else np.asarray(sigmas, float)
        if self.means.shape != (self.M, self.s):
            raise ValueError(f"means have shape {self.means.shape}, expected ({self.M}, {self.s})")
        if self.sigmas.shape != (self.M,) or (self.sigmas <= 0).any():
            raise ValueError(f"sigmas must be {self.M} positive numbers, got {self.sigmas}")

    def __call__(self, patches: Any) -> np.ndarray:
        x = _check_patches(patches, self.s)
        d2 = ((x[:, :, None, :] - self.means[None, None]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * self.sigmas**2))


class NeuronDescriptors:
    """``f_d(x) = sigma(w_d . x + b_d)``: one neuron per descriptor.

    Parameters
    ----------
    M, s : int
    activation : {"relu", "sigmoid", "tanh", "linear"} or callable
    seed : int, optional

    Examples
    --------
    >>> import numpy as np
    >>> rep = NeuronDescriptors(4, 3, activation="sigmoid", seed=0)
    >>> float(rep(np.zeros((1, 2, 3))).max()) <= 1.0
    True
    """

    ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "relu": lambda z: np.maximum(z, 0),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "tanh": np.tanh,
        "linear": lambda z: z,
    }

    def __init__(self, M: int, s: int, activation: str | Callable[[np.ndarray], np.ndarray] = "relu", seed: Any = None):
        rng = np.random.default_rng(seed)
        self.M, self.s = int(M), int(s)
        if self.M < 1 or self.s < 1:
            raise ValueError(f"M and s must be positive, got M={M}, s={s}")
        if isinstance(activation, str):
            if activation not in self.ACTIVATIONS:
                raise ValueError(f"unknown activation {activation!r}; choose from {sorted(self.ACTIVATIONS)}")
            self.activation = self.ACTIVATIONS[activation]
        elif callable(activation):
            self.activation = activation
        else:
            raise TypeError(f"activation must be a name or a callable, got {activation!r}")
        self.W = rng.standard_normal((self.s, self.M)) / np.sqrt(self.s)
        self.b = rng.standard_normal(self.M) * 0.1

    def __call__(self, patches: Any) -> np.ndarray:
        x = _check_patches(patches, self.s)
        return self.activation(x @ self.W + self.b)
