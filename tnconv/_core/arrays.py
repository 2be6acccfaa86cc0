"""The array namespace of the inputs, through the array API standard (``array_api_compat``).

Every numerical kernel of tnconv takes its namespace from its arguments with :func:`namespace`, so the
same code runs on numpy, CuPy, JAX, torch, dask.array and array-api-strict. Data never moves between
namespaces or devices implicitly: :func:`to_namespace` is the one explicit move.

References
----------
.. [1] The Python array API standard, https://data-apis.org/array-api/latest/.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_numpy_namespace
from array_api_compat import device as array_device

__all__ = [
    "BACKEND_NAMES",
    "backend_name",
    "cached_copy",
    "clear_cached_copies",
    "device_of",
    "is_concrete",
    "is_numpy",
    "namespace",
    "namespace_of_backend",
    "to_namespace",
    "to_numpy",
]

#: The names ``backend=`` accepts, besides a namespace module.
BACKEND_NAMES = ("numpy", "cupy", "jax", "torch")

_MODULES = {"numpy": "numpy", "cupy": "cupy", "jax": "jax.numpy", "torch": "torch"}
_HINTS = {"cupy": "pip install 'tnconv[gpu]'", "jax": "pip install jax", "torch": "pip install 'tnconv[torch]'"}


def namespace(*arrays: Any) -> Any:
    """The array API namespace shared by ``arrays`` (``None`` entries and Python scalars are ignored).

    Raises
    ------
    TypeError
        When the arrays come from different namespaces (nothing is converted silently).

    Examples
    --------
    >>> import numpy as np
    >>> xp = namespace(np.ones(2), np.zeros((2, 2)))
    >>> xp.__name__
    'array_api_compat.numpy'
    """
    try:
        return array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays if a is not None})
        raise TypeError(f"arrays from different or unsupported namespaces: {kinds} ({exc})") from None


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is numpy (plain or array_api_compat's wrapper).

    Examples
    --------
    >>> is_numpy(np), is_numpy(namespace(np.ones(1)))
    (True, True)
    """
    return xp is np or bool(is_numpy_namespace(xp))


def backend_name(xp: Any) -> str:
    """A short name for namespace ``xp``: ``"numpy"``, ``"cupy"``, ``"jax"``, ``"torch"``, or its module name.

    Examples
    --------
    >>> backend_name(namespace(np.ones(1))), backend_name(np)
    ('numpy', 'numpy')
    """
    if is_numpy(xp):
        return "numpy"
    name = getattr(xp, "__name__", type(xp).__name__)
    for short in ("cupy", "jax", "torch"):
        if short in name.split("."):
            return short
    return name.removeprefix("array_api_compat.")


def namespace_of_backend(backend: Any) -> Any:
    """The array API namespace called ``backend`` (a name of :data:`BACKEND_NAMES` or a namespace module).

    Raises
    ------
    ValueError
        An unknown name (the message lists the choices).
    ImportError
        When the library is not installed (the message names how to install it).
    TypeError
        Anything that is neither a name nor a module with ``asarray``.

    Examples
    --------
    >>> namespace_of_backend("numpy").__name__
    'array_api_compat.numpy'
    """
    if isinstance(backend, str):
        if backend not in _MODULES:
            raise ValueError(f"unknown backend {backend!r}; choose from {BACKEND_NAMES} or pass a namespace module")
        try:
            mod = importlib.import_module(_MODULES[backend])
        except ImportError as exc:
            raise ImportError(f"backend={backend!r} needs {backend}: {_HINTS.get(backend, '')}") from exc
        return namespace(mod.asarray([0.0]))
    if hasattr(backend, "asarray") and hasattr(backend, "__name__"):
        return namespace(backend.asarray([0.0]))
    raise TypeError(f"backend must be one of {BACKEND_NAMES} or an array namespace module, got {backend!r}")


def device_of(x: Any) -> Any:
    """The device of array ``x`` (``"cpu"`` for numpy)."""
    return array_device(x)


def to_namespace(x: Any, xp: Any, device: Any = None) -> Any:
    """Copy ``x`` into namespace ``xp`` on ``device``: the one explicit move between namespaces.

    Host (numpy) arrays go through ``xp.asarray``; arrays of another namespace are first brought to the
    host with :func:`to_numpy`.

    Examples
    --------
    >>> import array_api_strict as xs
    >>> y = to_namespace(np.ones(2), xs, xs.Device("device1"))
    >>> str(y.device)
    "array_api_strict.Device('device1')"
    """
    if device is None:
        return xp.asarray(x)
    return xp.asarray(x, device=device)


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array, through the namespace's own host transfer (explicit by design).

    Examples
    --------
    >>> to_numpy(np.arange(2)).tolist()
    [0, 1]
    """
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":  # pragma: no cover - GPU only
        return x.get()
    if mod == "torch":
        return x.detach().cpu().numpy()
    if mod == "array_api_strict":
        import array_api_strict as xs

        return np.asarray(xs.asarray(x, device=xs.Device("CPU_DEVICE")) if str(x.device) != "CPU_DEVICE" else x)
    return np.asarray(x)


def is_concrete(x: Any) -> bool:
    """Whether ``x`` holds values (not a JAX tracer, not a lazy dask array): validation may read it then.

    Duck-typed, so that jax is never imported here.

    Examples
    --------
    >>> is_concrete(np.ones(1))
    True
    """
    for cls in type(x).__mro__:
        mod = cls.__module__ or ""
        if cls.__name__.endswith("Tracer") and mod.startswith("jax"):
            return False
        if cls.__name__ == "Array" and mod.startswith("dask"):
            return False
    return True


_CACHE_ATTR = "_tnconv_device_cache"
_CACHE_LOCK = __import__("threading").RLock()


def cached_copy(owner: Any, slot: Any, key: Any, build: Any) -> Any:
    """``build()`` cached on ``owner`` under ``slot`` while ``key`` is unchanged (thread-safe).

    Used for the one-time move of host weights to a device: ``slot`` names the namespace, device and
    use; ``key`` identifies the host arrays (their ids), so replaced arrays are copied again. In-place
    edits keep the ids: drop the copies with :func:`clear_cached_copies` after them.

    Examples
    --------
    >>> class Box: pass
    >>> b = Box(); calls = []
    >>> _ = cached_copy(b, "s", 1, lambda: calls.append(1) or "v"); _ = cached_copy(b, "s", 1, lambda: "w")
    >>> len(calls)
    1
    """
    with _CACHE_LOCK:
        cache = owner.__dict__.setdefault(_CACHE_ATTR, {})
        hit = cache.get(slot)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        cache[slot] = (key, value)
        return value


def clear_cached_copies(owner: Any) -> None:
    """Drop every copy :func:`cached_copy` holds for ``owner``."""
    with _CACHE_LOCK:
        owner.__dict__.pop(_CACHE_ATTR, None)
