"""Representation layers: the functions ``f_1..f_M`` applied to every input patch.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3 (representation layer);
   Gaussian descriptors as in Deep SimNets, CVPR 2016.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._core.options import check_budget
from .checks import check_positive_int, make_rng

__all__ = ["GaussianDescriptors", "NeuronDescriptors"]


def _check_patches(x: Any, s: int) -> np.ndarray:
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"patches are not a rectangular array of numbers: {exc}") from None
    if x.dtype.kind not in "fiu":
        raise TypeError(f"patches have dtype {x.dtype}; expected real numbers")
    if x.ndim != 3 or x.shape[2] != s:
        raise ValueError(f"patches have shape {x.shape}; expected (batch, n_inputs, s={s})")
    if not np.isfinite(x).all():
        raise ValueError("patches contain NaN or infinite values")
    return x.astype(np.float64, copy=False)


def _real_array(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}: {exc}") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


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

    Raises
    ------
    TypeError
        ``M`` or ``s`` not an int (bools and floats refused).
    ValueError
        Non-positive sizes, means or sigmas of the wrong shape, non-finite, or non-positive sigmas.
    tnconv.TensorTooLargeError
        Parameters, or (when called) the ``(batch, n_inputs, M, s)`` temporaries, over the byte budget.

    Examples
    --------
    >>> import numpy as np
    >>> rep = GaussianDescriptors(3, 2, seed=0)
    >>> rep(np.zeros((4, 5, 2))).shape
    (4, 5, 3)
    """

    def __init__(self, M: int, s: int, seed: Any = None, means: Any = None, sigmas: Any = None):
        self.M, self.s = check_positive_int(M, "M"), check_positive_int(s, "s")
        rng = make_rng(seed)
        check_budget(f"GaussianDescriptors(M={self.M}, s={self.s}) means", float(self.M) * self.s * 8 + self.M * 8)
        self.means = rng.standard_normal((self.M, self.s)) if means is None else _real_array(means, "means")
        self.sigmas = np.full(self.M, np.sqrt(self.s)) if sigmas is None else _real_array(sigmas, "sigmas")
        if self.means.shape != (self.M, self.s):
            raise ValueError(f"means have shape {self.means.shape}, expected ({self.M}, {self.s})")
        if self.sigmas.shape != (self.M,) or not (self.sigmas > 0).all():
            raise ValueError(f"sigmas must be {self.M} positive numbers, got {self.sigmas}")

    def __call__(self, patches: Any) -> np.ndarray:
        x = _check_patches(patches, self.s)
        b, n = x.shape[:2]
        # the (batch, n_inputs, M, s) difference and its square exist at once
        check_budget(f"GaussianDescriptors on patches of shape {x.shape}", 2.0 * b * n * self.M * self.s * 8)
        d2 = ((x[:, :, None, :] - self.means[None, None]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * self.sigmas**2))


# Module-level functions, not lambdas, so that models and representation layers pickle (process pools).
def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _identity(z: np.ndarray) -> np.ndarray:
    return z


class NeuronDescriptors:
    """``f_d(x) = sigma(w_d^T x + b_d)``: one neuron per descriptor.

    Parameters
    ----------
    M, s : int
    activation : {"relu", "sigmoid", "tanh", "linear"} or callable
    seed : int, optional

    Raises
    ------
    TypeError
        ``M`` or ``s`` not an int (bools and floats refused); an activation that is neither a name nor a
        callable.
    ValueError
        Non-positive sizes; an unknown activation name (listing the valid ones).

    Examples
    --------
    >>> import numpy as np
    >>> rep = NeuronDescriptors(4, 3, activation="sigmoid", seed=0)
    >>> float(rep(np.zeros((1, 2, 3))).max()) <= 1.0
    True
    """

    ACTIVATIONS: ClassVar[dict[str, Callable[[np.ndarray], np.ndarray]]] = {
        "relu": _relu,
        "sigmoid": _sigmoid,
        "tanh": np.tanh,
        "linear": _identity,
    }

    def __init__(self, M: int, s: int, activation: str | Callable[[np.ndarray], np.ndarray] = "relu", seed: Any = None):
        self.M, self.s = check_positive_int(M, "M"), check_positive_int(s, "s")
        rng = make_rng(seed)
        check_budget(f"NeuronDescriptors(M={self.M}, s={self.s}) weights", float(self.M) * (self.s + 1) * 8)
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
