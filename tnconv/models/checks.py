"""Validation helpers of the models: sizes, flags, dtypes, seeds, trees, nodes and features.

Validation that reads values (NaN checks) runs on concrete arrays only, so that it never breaks a JAX
trace (:func:`tnconv._core.arrays.is_concrete`); shape checks run always.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._core.arrays import is_concrete, is_numpy, namespace
from ..trees import ModeTree

__all__ = [
    "INITS",
    "as_array",
    "as_mode_tree",
    "as_node",
    "check_bool",
    "check_features",
    "check_finite",
    "check_init",
    "check_positive_int",
    "check_templates",
    "make_rng",
    "planned_init_bytes",
    "resolve_dtype",
    "xp_dtype",
]


def resolve_dtype(dtype: Any) -> np.dtype:
    """Accept float32/float64 only (the arithmetic of every engine)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype {dtype!r} is not a numpy dtype; use 'float32' or 'float64'") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype {dt} is not supported; use 'float32' or 'float64'")
    return dt


def as_array(x: Any, what: str = "features") -> tuple[Any, Any]:
    """``(array, namespace)``: arrays of any namespace as they are, anything else through ``numpy.asarray``.

    Raises
    ------
    ValueError
        For ragged input that is not a rectangular array (naming ``what``).
    """
    try:
        return x, namespace(x)
    except TypeError:
        pass
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} are not a rectangular array: {exc}") from None
    return arr, namespace(arr)


def _is_real(xp: Any, dtype: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, ("real floating", "integral")))
    except (TypeError, ValueError):
        return False


def xp_dtype(xp: Any, dtype: np.dtype) -> Any:
    """The dtype of namespace ``xp`` named like the numpy dtype ``dtype`` (``float32``/``float64``)."""
    return getattr(xp, np.dtype(dtype).name)


def check_features(features: Any, n_inputs: int, n_descriptors: int, dtype: np.dtype, finite: bool = True) -> Any:
    """Validate features of shape ``(batch, n_inputs, M)`` and cast them to ``dtype``.

    Arrays of any array API namespace stay in it and on their device. Integer features are cast;
    complex, boolean, object and string arrays, wrong shapes and non-finite values raise. The NaN check
    runs on concrete arrays only (not on JAX tracers); ``finite=False`` leaves it to the caller.

    Raises
    ------
    ValueError
        Wrong shape, NaN or infinite entries.
    TypeError
        Unsupported dtype.

    Examples
    --------
    >>> check_features([[[1, 2]]], 1, 2, np.dtype("float64")).dtype
    dtype('float64')
    """
    arr, xp = as_array(features)
    if not _is_real(xp, arr.dtype):
        raise TypeError(
            f"features have dtype {arr.dtype}; expected real numbers (float32/float64 or integers)"
        )
    shape = tuple(arr.shape)
    if len(shape) != 3 or shape[1:] != (n_inputs, n_descriptors):
        hint = " (add a batch axis: features[None])" if shape == (n_inputs, n_descriptors) else ""
        raise ValueError(
            f"features have shape {shape}; expected (batch, n_inputs={n_inputs}, "
            f"n_descriptors={n_descriptors}){hint}"
        )
    if is_numpy(xp):
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype != xp_dtype(xp, dtype):
        arr = xp.astype(arr, xp_dtype(xp, dtype))
    if finite:
        check_finite(arr)
    return arr


def check_finite(features: Any, what: str = "features") -> None:
    """Refuse arrays (any namespace) with NaN or infinite entries, naming the index of the first one.

    Runs on concrete arrays only: under a JAX trace it does nothing (it would have to read values).

    Raises
    ------
    ValueError
        Naming the index ``(batch, input, descriptor)`` of the first non-finite entry.

    Examples
    --------
    >>> check_finite(np.zeros((1, 2, 2)))
    >>> check_finite(np.array([[[0.0, np.nan]]]))
    Traceback (most recent call last):
    ...
    ValueError: features contain NaN or infinite values, first at index (batch, input, descriptor) = (0, 0, 1)
    """
    if not is_concrete(features):
        return
    xp = namespace(features)
    finite = xp.isfinite(features)
    ok = xp.all(finite)
    if not is_concrete(ok):  # concrete inputs staged inside jax.jit give traced results
        return
    if not bool(ok):
        bad = tuple(int(i[0]) for i in xp.nonzero(xp.logical_not(finite)))
        where = " (batch, input, descriptor)" if len(bad) == 3 else ""
        raise ValueError(f"{what} contain NaN or infinite values, first at index{where} = {bad}")


def check_templates(template_features: Any, n_descriptors: int, dtype: np.dtype) -> Any:
    """Validate grid-tensor templates of shape ``(T, M)`` (as features) and cast them to ``dtype``."""
    tf, xp = as_array(template_features, "template_features")
    if tf.ndim != 2 or tf.shape[1] != n_descriptors:
        raise ValueError(f"template_features have shape {tuple(tf.shape)}; expected (T, {n_descriptors})")
    return check_features(xp.reshape(tf, (1, *tf.shape)), tf.shape[0], n_descriptors, dtype)[0, ...]


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is a positive int (numpy ints too; bools and floats refused).

    Raises
    ------
    TypeError
        Not an int (naming ``name`` and the value).
    ValueError
        Below 1.

    Examples
    --------
    >>> check_positive_int(3, "width")
    3
    >>> check_positive_int(2.5, "width")
    Traceback (most recent call last):
    ...
    TypeError: width must be a positive int, got 2.5 (float)
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return int(value)




def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a bool (``numpy.bool_`` too); anything else raises ``TypeError`` naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: The random weight initializations.
INITS = ("normal", "orthogonal")


def check_init(init: Any) -> str:
    """``init`` if it names an initialization in :data:`INITS`, else ``ValueError`` listing them."""
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}, got {init!r}")
    return init


def make_rng(seed: Any) -> np.random.Generator:
    """``numpy.random.default_rng(seed)``, refusing bools and naming an invalid seed."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"seed {seed!r} is not valid: {exc}") from None


def as_mode_tree(tree: Any, name: str = "tree") -> ModeTree:
    """``tree`` as a :class:`ModeTree` (nested tuples or lists are converted)."""
    if isinstance(tree, ModeTree):
        return tree
    if isinstance(tree, (tuple, list)):
        return ModeTree.from_nested(tree)
    raise TypeError(f"{name} must be a ModeTree or nested tuples of ints, got {tree!r}")


def as_node(key: Any, what: str) -> frozenset:
    if isinstance(key, frozenset):
        return key
    if isinstance(key, (str, bytes)) or not isinstance(key, Iterable):
        raise TypeError(f"{what}: {key!r} is not a node; a node is a set of input positions, e.g. {{0, 1}}")
    try:
        return frozenset(key)
    except TypeError:
        raise TypeError(f"{what}: {key!r} is not a node; a node is a set of input positions") from None


def planned_init_bytes(shapes: Iterable[tuple[int, int]], dtype: Any, init: str) -> float:
    """Peak bytes of drawing random weight matrices of ``shapes``: all results plus the float64
    temporaries of the largest draw (the Gaussian sample and its scaled copy, or the QR factors)."""
    item = np.dtype(dtype).itemsize
    total, temp = 0.0, 0.0
    for a, b in shapes:
        entries = float(a) * float(b)
        total += entries * item
        temp = max(temp, entries * 8 * (4 if init == "orthogonal" else 2) + float(min(a, b)) ** 2 * 8)
    return total + temp

