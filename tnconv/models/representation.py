"""Representation layers: the functions ``f_1..f_M`` applied to every input patch.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3 (representation layer);
   Gaussian descriptors as in Deep SimNets, CVPR 2016.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from .._core.arrays import is_numpy, namespace
from .._core.options import check_budget
from .._core.validate import real_array
from .checks import check_bool, check_positive_int, make_rng

__all__ = ["GaussianDescriptors", "NeuronDescriptors"]


def _check_patches(x: Any, s: int) -> np.ndarray:
    x = real_array(x, "patches")
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

    With ``learnable=True`` the means and the log-scales ``log sigma_d`` are trainable parameters
    (the similarity layer of SimNets [2]_): :func:`tnconv.train.fit` optimizes them with the network.
    :meth:`parameters` / :meth:`with_parameters` expose them as a pytree of arrays in any namespace, and
    :meth:`log_features` evaluates ``log f_d(x) = -||x - mu_d||^2 / (2 sigma_d^2)`` exactly, without the
    ``exp`` that underflows for patches far from every mean (what log-space training uses).

    Parameters
    ----------
    M : int
        Number of descriptors.
    s : int
        Patch dimension.
    seed : int, optional
    means, sigmas : arrays, optional
        ``(M, s)`` centers and ``(M,)`` widths (default: standard normal centers, ``sigma = sqrt(s)``).
    learnable : bool
        Whether training updates the means and log-scales (default False: a fixed representation).

    Raises
    ------
    TypeError
        ``M`` or ``s`` not an int (bools and floats refused); ``learnable`` not a bool.
    ValueError
        Non-positive sizes, means or sigmas of the wrong shape, non-finite, or non-positive sigmas.
    tnconv.TensorTooLargeError
        Parameters, or (when called) the ``(batch, n_inputs, M, s)`` temporaries, over the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3.
    .. [2] N. Cohen, O. Sharir, A. Shashua, "Deep SimNets", CVPR 2016, arXiv:1506.03059.

    Examples
    --------
    >>> import numpy as np
    >>> rep = GaussianDescriptors(3, 2, seed=0)
    >>> rep(np.zeros((4, 5, 2))).shape
    (4, 5, 3)
    >>> rep = GaussianDescriptors(3, 2, seed=0, learnable=True)
    >>> sorted(rep.parameters())
    ['log_sigmas', 'means']
    >>> bool(np.allclose(np.exp(rep.log_features(np.ones((1, 1, 2)))), rep(np.ones((1, 1, 2)))))
    True
    """

    def __init__(self, M: int, s: int, seed: Any = None, means: Any = None, sigmas: Any = None,
                 learnable: bool = False):
        self.M, self.s = check_positive_int(M, "M"), check_positive_int(s, "s")
        self.learnable = check_bool(learnable, "learnable")
        rng = make_rng(seed)
        check_budget(f"GaussianDescriptors(M={self.M}, s={self.s}) means", float(self.M) * self.s * 8 + self.M * 8)
        means = rng.standard_normal((self.M, self.s)) if means is None else _real_array(means, "means")
        sigmas = np.full(self.M, np.sqrt(self.s)) if sigmas is None else _real_array(sigmas, "sigmas")
        if means.shape != (self.M, self.s):
            raise ValueError(f"means have shape {means.shape}, expected ({self.M}, {self.s})")
        if sigmas.shape != (self.M,) or not (sigmas > 0).all():
            raise ValueError(f"sigmas must be {self.M} positive numbers, got {sigmas}")
        self.means: Any = means
        self.log_sigmas: Any = np.log(sigmas)

    @property
    def sigmas(self) -> Any:
        """The widths ``exp(log_sigmas)``, in the namespace of the parameters."""
        return namespace(self.log_sigmas).exp(self.log_sigmas)

    def parameters(self) -> dict[str, Any]:
        """``{"means": (M, s), "log_sigmas": (M,)}``: the trainable arrays (a pytree).

        Returns
        -------
        dict

        Examples
        --------
        >>> rep = GaussianDescriptors(3, 2, seed=0, learnable=True)
        >>> {k: v.shape for k, v in rep.parameters().items()}
        {'means': (3, 2), 'log_sigmas': (3,)}
        """
        return {"means": self.means, "log_sigmas": self.log_sigmas}

    def with_parameters(self, params: Mapping[str, Any]) -> GaussianDescriptors:
        """A copy holding ``params`` (any namespace, not copied; only keys and shapes are checked).

        Parameters
        ----------
        params : mapping
            ``{"means": (M, s), "log_sigmas": (M,)}``, as :meth:`parameters` returns.

        Returns
        -------
        GaussianDescriptors

        Raises
        ------
        TypeError
            ``params`` is not a mapping.
        ValueError
            Missing or unknown keys, or arrays of the wrong shape (naming the key).

        Examples
        --------
        >>> import numpy as np
        >>> params = {"means": np.zeros((3, 2)), "log_sigmas": np.zeros(3)}
        >>> rep = GaussianDescriptors(3, 2, seed=0).with_parameters(params)
        >>> rep(np.zeros((1, 1, 2))).tolist()
        [[[1.0, 1.0, 1.0]]]
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict with 'means' and 'log_sigmas', got {type(params).__name__}")
        if set(params) != {"means", "log_sigmas"}:
            raise ValueError(f"params must have the keys ['log_sigmas', 'means'], got {sorted(map(str, params))}")
        for key, shape in (("means", (self.M, self.s)), ("log_sigmas", (self.M,))):
            got = tuple(getattr(params[key], "shape", ()))
            if got != shape:
                raise ValueError(f"params[{key!r}] has shape {got}, expected {shape}")
        new = copy.copy(self)
        new.means, new.log_sigmas = params["means"], params["log_sigmas"]
        return new

    def log_features(self, patches: Any) -> Any:
        """``log f_d(x) = -||x - mu_d||^2 / (2 sigma_d^2)`` of shape ``(batch, n_inputs, M)``, exactly.

        In the namespace of ``patches`` (numpy patches are validated and computed in float64); the
        parameters must be in that namespace too (or numpy, for numpy patches). Differentiable.

        Parameters
        ----------
        patches : array of shape (batch, n_inputs, s)

        Returns
        -------
        array of shape (batch, n_inputs, M)

        Examples
        --------
        >>> import numpy as np
        >>> rep = GaussianDescriptors(3, 2, seed=0)
        >>> x = np.ones((1, 1, 2))
        >>> bool(np.allclose(np.exp(rep.log_features(x)), rep(x)))
        True
        """
        if is_numpy(namespace(patches)) and is_numpy(namespace(self.means, self.log_sigmas)):
            x = _check_patches(patches, self.s)
            b, n = x.shape[:2]
            # the (batch, n_inputs, M, s) difference and its square exist at once
            check_budget(f"GaussianDescriptors on patches of shape {x.shape}", 2.0 * b * n * self.M * self.s * 8)
            means, log_s = np.asarray(self.means, np.float64), np.asarray(self.log_sigmas, np.float64)
        else:
            x, means, log_s = patches, self.means, self.log_sigmas
            if tuple(x.shape[2:]) != (self.s,) or len(x.shape) != 3:
                raise ValueError(f"patches have shape {tuple(x.shape)}; expected (batch, n_inputs, s={self.s})")
        xp = namespace(x, means, log_s)
        d2 = xp.sum((x[:, :, None, :] - means[None, None, :, :]) ** 2, axis=-1)
        return -d2 * (0.5 * xp.exp(-2 * log_s))

    def __call__(self, patches: Any) -> Any:
        lf = self.log_features(patches)
        return namespace(lf).exp(lf)


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
