"""Data of the implicit-acceleration experiment: standardized regression sets and the exact l_p minimum.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

import numpy as np

from ..linear import LpLoss

__all__ = ["DATASETS", "load_dataset", "minimum_loss"]

DATASETS = ("diabetes", "synthetic")


def load_dataset(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardized regression data: ``"diabetes"`` (scikit-learn's bundled copy) or ``"synthetic"``.

    Parameters
    ----------
    name : {"diabetes", "synthetic"}
        ``"diabetes"``: 442 patients x 10 features, shipped inside scikit-learn (no download).
        ``"synthetic"``: 500 x 20 Gaussian features whose covariance has singular values from 1 down to
        0.05 along random directions (an ill-conditioned design that is not axis-aligned) and a linear
        target with heavy-tailed (Student-t, 3 dof) noise.
    seed : int
        Seed of the synthetic data.

    Returns
    -------
    X : numpy.ndarray, shape (m, d)
        Features with zero mean (diabetes: unit variance per column as well).
    y : numpy.ndarray, shape (m,)
        Targets with zero mean and unit variance.

    Raises
    ------
    ValueError
        An unknown name.
    ImportError
        ``"diabetes"`` without scikit-learn.

    Examples
    --------
    >>> from tnconv.experiments.linear_acceleration import load_dataset
    >>> X, y = load_dataset("synthetic")
    >>> X.shape, y.shape
    ((500, 20), (500,))
    """
    if name == "diabetes":
        try:
            from sklearn.datasets import load_diabetes
        except ImportError as exc:
            raise ImportError(
                "the diabetes data set ships with scikit-learn: pip install 'tnconv[notebooks]' "
                "(or scikit-learn), or use dataset='synthetic'"
            ) from exc
        X, y = load_diabetes(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
    elif name == "synthetic":
        rng = np.random.default_rng(seed)
        m, d = 500, 20
        # Ill-conditioned along random (not axis-aligned) directions, so that a diagonal
        # preconditioner such as AdaGrad's gets no free win from the coordinate system.
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        X = (rng.standard_normal((m, d)) * np.geomspace(1.0, 0.05, d)) @ Q.T
        X -= X.mean(0)
        y = X @ rng.standard_normal(d) + 0.5 * rng.standard_t(3, m)
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from {DATASETS}")
    y = (y - y.mean()) / y.std()
    return np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(y, dtype=float)


def minimum_loss(X: np.ndarray, y: np.ndarray, p: float, tol: float = 1e-28) -> tuple[float, np.ndarray]:
    """The exact minimum of the convex l_p loss ``1/(p m) sum |x_i.w - y_i|^p`` by damped Newton.

    Parameters
    ----------
    X, y : arrays
        Data as from :func:`load_dataset`.
    p : float
        Exponent ``>= 2``.
    tol : float
        Stop when the Newton decrement ``g^T H^+ g`` falls below ``tol * L(w)``.

    Returns
    -------
    (float, numpy.ndarray)
        The minimum value and the minimizer ``w*``.

    Raises
    ------
    ValueError
        ``p < 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from tnconv.experiments.linear_acceleration import minimum_loss
    >>> value, w = minimum_loss(np.eye(2), np.array([1.0, 2.0]), p=4)
    >>> round(value, 12), np.round(w, 9)
    (0.0, array([1., 2.]))
    """
    loss = LpLoss(X, y, p)
    w = np.linalg.lstsq(X, y, rcond=None)[0]  # the exact answer for p = 2, a good start otherwise
    m = X.shape[0]
    for _ in range(0 if p == 2 else 300):
        value, grad = loss(w[None, :])
        g = grad[0]
        r = X @ w - y
        H = (p - 1) / m * (X.T * np.abs(r) ** (p - 2)) @ X
        step = np.linalg.lstsq(H, g, rcond=None)[0]  # H is singular at an exact fit (r = 0)
        dec = float(g @ step)
        if not dec > tol * float(value) or not np.any(step):
            break
        t = 1.0
        # Close to the minimum a loss decrease is below rounding and cannot be checked: take the full
        # Newton step, which converges quadratically there.
        while dec > 1e-8 * float(value) and float(loss((w - t * step)[None, :])[0]) > float(value) - 0.25 * t * dec:
            t /= 2
            if t < 1e-12:  # no decrease at machine precision: converged
                return float(value), w
        w = w - t * step
    return float(loss(w[None, :])[0]), w
