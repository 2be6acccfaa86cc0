"""Losses on logits, in any array namespace (the autodiff backend's arrays go through them unchanged).

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "Deep SimNets", CVPR 2016, arXiv:1506.03059 (softmax over
   ``log h_y``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core.arrays import namespace

__all__ = ["LOSSES", "cross_entropy", "one_hot", "resolve_loss", "squared"]


def one_hot(y: Any, n_classes: int, like: Any) -> Any:
    """``(batch, n_classes)`` one-hot rows of integer labels ``y``, in the dtype of ``like``.

    Examples
    --------
    >>> import numpy as np
    >>> one_hot(np.array([1, 0]), 3, np.zeros(1)).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    xp = namespace(y, like)
    classes = xp.arange(n_classes, dtype=y.dtype, device=getattr(y, "device", None))
    return xp.astype(y[:, None] == classes[None, :], like.dtype)


def cross_entropy(logits: Any, y: Any) -> Any:
    """Mean of ``-log softmax(logits)[y]`` over the batch: ``logsumexp(logits) - logits[y]``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(cross_entropy(np.log(np.array([[1.0, 3.0]])), np.array([1]))), 6)
    0.287682
    """
    xp = namespace(logits, y)
    m = xp.max(logits, axis=1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(logits - m), axis=1)) + m[:, 0]
    picked = xp.sum(logits * one_hot(y, logits.shape[1], logits), axis=1)
    return xp.mean(lse - picked)


def squared(logits: Any, y: Any) -> Any:
    """Mean over the batch of ``||logits - onehot(y)||^2`` (integer labels) or ``||logits - y||^2``.

    Float targets ``y`` of shape ``(batch, n_outputs)`` (or ``(batch,)`` for one output) make this a
    regression loss.

    Examples
    --------
    >>> import numpy as np
    >>> float(squared(np.array([[0.5, 0.5]]), np.array([1])))
    0.5
    """
    xp = namespace(logits, y)
    if xp.isdtype(y.dtype, "integral"):
        target = one_hot(y, logits.shape[1], logits)
    else:
        target = xp.reshape(y, (y.shape[0], -1))
    return xp.mean(xp.sum((logits - target) ** 2, axis=1))


LOSSES: dict[str, Callable[[Any, Any], Any]] = {"cross_entropy": cross_entropy, "squared": squared}


def resolve_loss(loss: Any) -> Callable[[Any, Any], Any]:
    """A loss ``f(logits, y) -> scalar`` from a name in :data:`LOSSES` or a callable.

    Raises
    ------
    ValueError
        An unknown name (listing the valid ones).
    TypeError
        Neither a name nor a callable.

    Examples
    --------
    >>> resolve_loss("squared") is squared
    True
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose from {sorted(LOSSES)} or pass a callable f(logits, y)")
        return LOSSES[loss]
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name {sorted(LOSSES)} or a callable f(logits, y), got {loss!r}")
