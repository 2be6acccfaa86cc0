"""Pooling operators ``g`` of generalized tensor products.

A ConvNet layer's activation and pooling fuse into one associative, commutative operator ``g``:
``product`` (linear activation with product pooling: a ConvAC), ``relu_max`` (ReLU with max pooling:
``max(a, b, 0)``) and ``relu_sum`` (ReLU with sum/average pooling: ``max(a, 0) + max(b, 0)``).

References
----------
.. [1] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor
   Decompositions", ICML 2016, arXiv:1603.00162.

Examples
--------
>>> import numpy as np
>>> op = pooling_operator("relu_max")
>>> op.reduce(np.array([[-1.0, 2.0], [-3.0, 0.5]]), axis=0)
array([0., 2.])
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import is_numpy, namespace

__all__ = ["HOMOGENEOUS", "OPERATORS", "PoolingOperator", "check_log_operator", "pooling_operator"]

#: Pooling operators with g(c a, c b) = c g(a, b) for c > 0: the ones log-scale evaluation supports.
HOMOGENEOUS = ("product", "relu_max", "relu_sum")


@dataclass(frozen=True)
class PoolingOperator:
    """An associative, commutative pooling operator ``g``.

    Attributes
    ----------
    name : str
    pair : callable
        ``pair(a, b)``, elementwise on arrays.
    reduce_fn : callable or None
        ``reduce_fn(x, axis)``, a vectorized fold over one axis (falls back to folding ``pair``).

    Examples
    --------
    >>> import numpy as np
    >>> g = pooling_operator("relu_max")
    >>> g.pair(np.array([-1.0, 2.0]), np.array([-3.0, 1.0])).tolist()
    [0.0, 2.0]
    """

    name: str
    pair: Callable[[Any, Any], Any]
    reduce_fn: Callable[[Any, int], Any] | None = None

    @property
    def is_product(self) -> bool:
        """Whether this is product pooling (a ConvAC: coefficient tensor and tensor network exist)."""
        return self.name == "product"

    def reduce(self, x: Any, axis: int) -> Any:
        """Fold ``g`` over ``axis`` of ``x``.

        Parameters
        ----------
        x : array
        axis : int

        Returns
        -------
        array
            ``x`` with ``axis`` folded away.

        Examples
        --------
        >>> import numpy as np
        >>> pooling_operator("relu_sum").reduce(np.array([[-1.0, 2.0, 3.0]]), axis=1).tolist()
        [5.0]
        """
        if self.reduce_fn is not None:
            return self.reduce_fn(x, axis)
        idx: list[Any] = [slice(None)] * x.ndim
        parts = []
        for i in range(x.shape[axis]):
            idx[axis] = i
            parts.append(x[tuple(idx)])
        return self.fold(parts)

    def fold(self, arrays: list[Any]) -> Any:
        """Fold ``g`` over a list of equally shaped arrays (at least one).

        Parameters
        ----------
        arrays : list of array

        Returns
        -------
        array

        Raises
        ------
        ValueError
            An empty list.

        Examples
        --------
        >>> import numpy as np
        >>> pooling_operator("product").fold([np.array([2.0]), np.array([3.0]), np.array([4.0])]).tolist()
        [24.0]
        """
        if not len(arrays):
            raise ValueError(f"pooling operator {self.name!r}: fold needs at least one array, got none")
        out = arrays[0]
        for a in arrays[1:]:
            out = self.pair(out, a)
        return out


def _relu(x: Any, xp: Any) -> Any:
    return xp.maximum(x, xp.zeros_like(x)) if not is_numpy(xp) else np.maximum(x, 0)


def _relu_max_pair(a: Any, b: Any) -> Any:
    xp = namespace(a, b)
    return _relu(xp.maximum(a, b), xp)


def _relu_sum_pair(a: Any, b: Any) -> Any:
    xp = namespace(a, b)
    return _relu(a, xp) + _relu(b, xp)


def _relu_max_reduce(x: Any, axis: int) -> Any:
    xp = namespace(x)
    return _relu(xp.max(x, axis=axis), xp)


def _relu_sum_reduce(x: Any, axis: int) -> Any:
    xp = namespace(x)
    return xp.sum(_relu(x, xp), axis=axis)


def _product_reduce(x: Any, axis: int) -> Any:
    return namespace(x).prod(x, axis=axis)


OPERATORS: dict[str, PoolingOperator] = {
    "product": PoolingOperator("product", operator.mul, _product_reduce),
    "relu_max": PoolingOperator("relu_max", _relu_max_pair, _relu_max_reduce),
    "relu_sum": PoolingOperator("relu_sum", _relu_sum_pair, _relu_sum_reduce),
}


class _NamespaceCheckedPair:
    """A user's ``g(a, b)``, refused clearly when it leaves the namespace of its inputs.

    A callable written with numpy (``np.maximum``) turns JAX, torch or CuPy arrays into numpy arrays,
    or fails on a JAX tracer with an error that does not say why; ``xp = array_namespace(a, b)`` inside
    ``g`` is what makes it work everywhere.
    """

    def __init__(self, fn: Callable[[Any, Any], Any], name: str) -> None:
        self.fn, self.name = fn, name

    def __call__(self, a: Any, b: Any) -> Any:
        hint = ("write g with the inputs' own namespace, e.g. `xp = array_api_compat.array_namespace(a, b); "
                "return xp.maximum(a, b)`")
        try:
            out = self.fn(a, b)
        except Exception as exc:
            if is_numpy(namespace(a, b)):
                raise
            raise TypeError(f"pooling operator {self.name!r} failed on {type(a).__name__} inputs: {exc}; "
                            f"{hint}") from exc
        if type(out) is not type(a) and not (isinstance(a, np.ndarray) and np.isscalar(out)):
            try:
                same = namespace(out) is namespace(a)
            except TypeError:
                same = False
            if not same:
                raise TypeError(f"pooling operator {self.name!r} returned {type(out).__name__} for "
                                f"{type(a).__name__} inputs; {hint}")
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _NamespaceCheckedPair) and other.fn == self.fn

    def __hash__(self) -> int:
        return hash(self.fn)


def pooling_operator(g: str | Callable[[Any, Any], Any] | PoolingOperator, check: bool = True) -> PoolingOperator:
    """Resolve ``g`` (a name, a callable or a :class:`PoolingOperator`).

    Parameters
    ----------
    g : str, callable or PoolingOperator
        ``"product"``, ``"relu_max"``, ``"relu_sum"``, or an elementwise ``g(a, b)``. A callable must
        return an array of its inputs' namespace, so that models on JAX, torch or CuPy can run it: write
        it with ``xp = array_api_compat.array_namespace(a, b)`` rather than numpy functions. One that
        leaves the namespace raises ``TypeError`` at the forward, naming the operator.
    check : bool
        For callables, test commutativity and associativity on random samples.

    Returns
    -------
    PoolingOperator

    Raises
    ------
    ValueError
        Unknown names; callables that are not commutative or not associative on random samples.
    TypeError
        Anything else.

    References
    ----------
    .. [1] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162, Sec. 3 (generalized tensor products).

    Examples
    --------
    >>> import numpy as np
    >>> pooling_operator("relu_sum").pair(np.array([-1.0, 2.0]), np.array([3.0, -4.0]))
    array([3., 2.])
    >>> pooling_operator(np.maximum).name
    'maximum'
    """
    if isinstance(g, PoolingOperator):
        return g
    if not isinstance(check, (bool, np.bool_)):
        raise TypeError(f"check must be True or False, got {check!r}")
    if isinstance(g, str):
        if g not in OPERATORS:
            raise ValueError(f"unknown pooling operator {g!r}; choose from {sorted(OPERATORS)} or pass a callable")
        return OPERATORS[g]
    if not callable(g):
        raise TypeError(f"pooling operator g must be a name or a callable g(a, b), got {g!r}")
    name = getattr(g, "__name__", "custom")
    if check:
        rng = np.random.default_rng(12345)
        a, b, c = rng.standard_normal((3, 64))
        try:
            ab, ba = np.asarray(g(a, b), float), np.asarray(g(b, a), float)
            left, right = np.asarray(g(g(a, b), c), float), np.asarray(g(a, g(b, c)), float)
        except Exception as exc:
            raise ValueError(f"pooling operator {name!r} failed on arrays of shape (64,): {exc}") from exc
        if ab.shape != a.shape:
            raise ValueError(f"pooling operator {name!r} must be elementwise; returned shape {ab.shape} for (64,)")
        if not np.allclose(ab, ba, rtol=1e-10, atol=1e-12):
            raise ValueError(f"pooling operator {name!r} is not commutative: g(a, b) != g(b, a) on random samples")
        if not np.allclose(left, right, rtol=1e-10, atol=1e-12):
            raise ValueError(
                f"pooling operator {name!r} is not associative: g(g(a, b), c) != g(a, g(b, c)) on random samples"
            )
    return PoolingOperator(name, _NamespaceCheckedPair(g, name))


def check_log_operator(g: Any) -> None:
    """Refuse ``log=True`` for pooling operators that are not positively homogeneous.

    Raises
    ------
    ValueError
        Naming the operator.

    Examples
    --------
    >>> from tnconv.models.operators import pooling_operator
    >>> check_log_operator(pooling_operator("relu_max"))
    """
    if g.name not in HOMOGENEOUS:
        raise ValueError(f"log=True needs a positively homogeneous pooling operator, not {g.name!r}")
