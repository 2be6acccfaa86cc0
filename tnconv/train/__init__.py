"""Training ConvNets: :func:`fit` (JAX or torch) and the scikit-learn estimator ``ConvACClassifier``.

See :mod:`tnconv.train.logspace` for the two parameterizations (log space for deep product nets, signed
weights with per-level scales for moderate ``N`` and ReLU nets) and when each is used.
``ConvACClassifier`` needs scikit-learn and is loaded on first use.
"""

from typing import Any

from .fit import DivergenceError, FitResult, fit

__all__ = ["ConvACClassifier", "DivergenceError", "FitResult", "fit"]


def __getattr__(name: str) -> Any:  # PEP 562: scikit-learn is imported only for the estimator
    if name == "ConvACClassifier":
        from .classifier import ConvACClassifier

        globals()[name] = ConvACClassifier
        return ConvACClassifier
    raise AttributeError(f"module 'tnconv.train' has no attribute {name!r}")
