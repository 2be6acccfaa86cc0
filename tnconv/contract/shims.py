"""The few operations tnconv needs that a namespace may lack: the one place for array-API shims.

The array API standard has ``permute_dims`` but no ``transpose`` function, no ``.transpose`` or
``.reshape`` methods, no ``einsum``, and neither ``frexp`` nor ``ldexp``. This module fills those gaps
from standard functions, dispatching on the namespace of the inputs:

* :func:`transpose`, :func:`tensordot`, :func:`einsum` — the three functions ``opt_einsum`` calls on a
  backend. This module is itself an opt_einsum backend (``backend="tnconv.contract.shims"``), so
  ``opt_einsum.contract`` runs on array-api-strict, whose namespace has no ``einsum`` or ``transpose``.
  :func:`einsum` uses the namespace's own ``einsum`` when it has one, else pairwise contractions
  (:func:`pair_contract`: one ``tensordot``, broadcast product or batched ``matmul`` per pair).
* :func:`exponents` and :func:`scale_pow2` — binary exponents and exact power-of-two scaling for the log
  scale: ``frexp``/``ldexp`` on numpy and CuPy, else ``floor(log2|m|)`` corrected by one step and a
  multiplication by ``2**-k`` split in two factors, each exactly representable. The models' log-scale
  arithmetic needs them too, so they live in :mod:`tnconv.models.log_values` and are re-exported here.

All functions are functional (no in-place writes), so they trace under ``jax.jit`` and differentiate
under ``jax.grad`` and torch autograd.

References
----------
.. [1] The Python array API standard 2023.12, https://data-apis.org/array-api/latest/.
.. [2] D. G. A. Smith, J. Gray, JOSS 3(26), 753 (2018) (opt_einsum backends).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from .._core.arrays import namespace
from ..models.log_values import exponents, scale_pow2
from .program import pair_call, pair_ops, sum_op

__all__ = ["einsum", "exponents", "pair_contract", "scale_pow2", "sum_out", "tensordot", "transpose"]


# ---------------------------------------------------------------------- opt_einsum backend functions
def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    """``x`` with axes permuted (``permute_dims``; reversed when ``axes`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> transpose(np.ones((2, 3))).shape
    (3, 2)
    """
    xp = namespace(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    return xp.permute_dims(x, tuple(int(a) for a in axes))


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """``tensordot`` of the namespace of ``a`` and ``b``.

    Examples
    --------
    >>> import numpy as np
    >>> float(tensordot(np.ones(3), np.ones(3), axes=1))
    3.0
    """
    xp = namespace(a, b)
    if isinstance(axes, (list, tuple)):
        axes = (tuple(int(i) for i in axes[0]), tuple(int(i) for i in axes[1]))
    return xp.tensordot(a, b, axes=axes)


def einsum(eq: str, *operands: Any, **kwargs: Any) -> Any:
    """``einsum`` for any namespace: its own when it has one, else pairwise contractions.

    Only explicit equations (``"ab,bc->ac"``) without repeated indices inside one operand are supported
    by the fallback, which is what opt_einsum sends.

    Raises
    ------
    ValueError
        For an implicit equation or a repeated index inside one operand (the fallback only).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> einsum("ij,jk->ik", a, a.T).tolist()
    [[5.0, 14.0], [14.0, 50.0]]
    """
    xp = namespace(*operands)
    if hasattr(xp, "einsum"):
        return xp.einsum(eq, *operands, **kwargs)
    if "->" not in eq or "." in eq:
        raise ValueError(f"einsum fallback needs an explicit equation without ellipsis, got {eq!r}")
    lhs, out = eq.replace(" ", "").split("->")
    terms = lhs.split(",")
    for t in terms:
        if len(set(t)) != len(t):
            raise ValueError(f"einsum fallback: repeated index in operand {t!r} of {eq!r} is not supported")
    x = operands[0]
    ix: tuple[Any, ...] = tuple(terms[0])
    rest = [(o, tuple(t)) for o, t in zip(operands[1:], terms[1:])]
    for j, (y, iy) in enumerate(rest):
        later = {i for _, iz in rest[j + 1 :] for i in iz}
        x, ix = pair_contract(x, ix, y, iy, set(out) | later, xp)
    x, ix = sum_out(x, ix, set(out), xp)
    return xp.permute_dims(x, tuple(ix.index(i) for i in out)) if ix != tuple(out) else x


# ---------------------------------------------------------------------- pairwise contraction
def sum_out(x: Any, ix: tuple, keep: set, xp: Any) -> tuple[Any, tuple]:
    """Sum ``x`` over the indices not in ``keep``; returns the array and its remaining indices."""
    op, rest = sum_op(tuple(ix), keep)
    return (x if op is None else xp.sum(x, axis=op[1])), rest


def pair_contract(a: Any, ia: tuple, b: Any, ib: tuple, keep: set, xp: Any) -> tuple[Any, tuple[Hashable, ...]]:
    """Contract two operands with index tuples ``ia``, ``ib``, keeping the indices in ``keep``.

    The arithmetic of :func:`tnconv.contract.program.pair_ops`, run at once.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.ones((2, 3)), np.ones((3, 4))
    >>> r, ir = pair_contract(a, ("i", "j"), b, ("j", "k"), {"i", "k"}, namespace(a))
    >>> r.shape, ir
    ((2, 4), ('i', 'k'))
    """
    shape = dict(zip(ia, a.shape))
    shape.update(zip(ib, b.shape))
    pre_a, pre_b, op, rinds = pair_ops(tuple(ia), tuple(ib), keep, shape)
    for o in pre_a:
        a = xp.sum(a, axis=o[1])
    for o in pre_b:
        b = xp.sum(b, axis=o[1])
    return pair_call(op, a, b, xp), rinds
