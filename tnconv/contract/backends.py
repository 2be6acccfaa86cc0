"""Array backends (numpy, CuPy, JAX, torch, any array API namespace), device placement, BLAS threads.

The engines take their array module from the inputs, as opt_einsum and autoray do, and never move data
between devices inside a loop: weights are copied to a device once and cached on the model.

CuPy is optional and imported lazily; asking for it without it installed raises an :class:`ImportError`
that names the ``gpu`` extra.

OpenBLAS runs the many small GEMMs of one tree level far faster single-threaded than with its default
thread pool (measured on a 2-core machine: 15-22 GFLOP/s with 1-2 BLAS threads for one stacked call,
33 GFLOP/s with two Python workers over 1-thread BLAS). :func:`blas_threads` limits BLAS threads through
``threadpoolctl`` when it is installed and does nothing otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import (
    BACKEND_NAMES,
    backend_name,
    cached_copy,
    clear_cached_copies,
    device_of,
    is_numpy,
    namespace,
    namespace_of_backend,
    to_namespace,
)
from .._core.threads import blas_threads
from ..models.checks import check_finite

__all__ = [
    "BACKENDS",
    "Backend",
    "array_backend_name",
    "blas_threads",
    "check_finite_features",
    "clear_device_cache",
    "device_weights",
    "get_backend",
    "n_workers",
    "resolve_backend",
]

#: Names accepted by ``backend=`` (a namespace module is accepted too).
BACKENDS = BACKEND_NAMES

GPU_HINT = "pip install 'tnconv[gpu]'"


@dataclass(frozen=True)
class Backend:
    """An array namespace, the device the inputs live on, and how to move host arrays there.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"cupy"``, ``"jax"``, ``"torch"`` or the namespace's module name.
    xp : module
        The array namespace (plain ``numpy`` for numpy, so that the fast paths can use its extras).
    device : object, optional
        The device of the inputs (``None``: the namespace's default).
    """

    name: str
    xp: Any
    device: Any = None

    def asarray(self, x: Any) -> Any:
        """Copy a host array to this backend and device (no copy for numpy)."""
        return x if self.is_numpy else to_namespace(x, self.xp, self.device)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend."""
        return array_backend_name(x) == self.name

    @property
    def is_numpy(self) -> bool:
        return self.xp is np


def array_backend_name(x: Any) -> str:
    """The backend name of array ``x`` (``"numpy"`` for anything numpy understands).

    Examples
    --------
    >>> array_backend_name(np.zeros(2)), array_backend_name([1.0])
    ('numpy', 'numpy')
    """
    try:
        return backend_name(namespace(x))
    except TypeError:
        return "numpy"


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(f"backend='cupy' needs CuPy and a CUDA GPU: {GPU_HINT}") from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise ImportError(f"backend='cupy': CuPy is installed but no CUDA device is usable ({exc})") from exc
    if n < 1:
        raise ImportError("backend='cupy': CuPy is installed but no CUDA device was found")
    return cupy


_NUMPY = Backend("numpy", np, None)


def get_backend(name: Any, device: Any = None) -> Backend:
    """The :class:`Backend` called ``name`` (or of namespace module ``name``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the choices).
    ImportError
        When the library is missing; for ``"cupy"`` also without a CUDA device (names the ``gpu`` extra).

    Examples
    --------
    >>> get_backend("numpy").xp is np
    True
    >>> get_backend("gpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'gpu'; choose from ('numpy', 'cupy', 'jax', 'torch') or pass a namespace module
    """
    if name == "numpy":
        return Backend("numpy", np, device)
    if name == "cupy":
        _import_cupy()
    xp = namespace_of_backend(name)
    return Backend(backend_name(xp), np if is_numpy(xp) else xp, device)


def resolve_backend(backend: Any, *arrays: Any) -> Backend:
    """Pick the backend: ``backend`` if given, else the one the arrays live on; check they agree.

    Raises
    ------
    ValueError
        Unknown backend name.
    TypeError
        Arrays in another namespace than ``backend`` (or in two namespaces at once).
    ImportError
        A backend whose library (or GPU) is missing.

    Examples
    --------
    >>> resolve_backend(None, np.ones(3)).name
    'numpy'
    """
    plain = backend is None or (isinstance(backend, str) and backend == "numpy")
    if plain and all(a is None or type(a) is np.ndarray for a in arrays):
        return _NUMPY  # the common case, without the namespace lookups below (~15 us)
    if backend is not None and not isinstance(backend, str) and not hasattr(backend, "asarray"):
        raise TypeError(f"backend must be a name such as 'numpy' or 'cupy', or a namespace module, got {backend!r}")
    given = [a for a in arrays if a is not None]
    names = {array_backend_name(a) for a in given}
    if len(names) > 1:
        raise TypeError(f"inputs live on different backends {sorted(names)}; move them to one device first")
    found = names.pop() if names else None
    device = None
    if found is not None and found != "numpy":
        device = device_of(given[0])
    if backend is None and found not in (None, "numpy"):
        be = Backend(str(found), namespace(given[0]), device)
    else:
        be = get_backend(backend if backend is not None else "numpy", device)
    if found is not None and found != be.name:
        mod = {"jax": "jax.numpy", "numpy": "numpy"}.get(be.name, be.name)
        move = f"{mod}.asarray(features)" if found == "numpy" else "features.get()"
        raise TypeError(
            f"features are {found} arrays but backend={be.name!r}; move them first ({move}) or pass "
            f"backend={found!r}"
        )
    return be


# ---------------------------------------------------------------------- threads
def n_workers() -> int:
    """Worker threads for CPU level execution: ``TNCONV_NUM_THREADS`` or the CPUs available.

    Raises
    ------
    ValueError
        If ``TNCONV_NUM_THREADS`` is set but is not a positive integer (the message names the value).

    Examples
    --------
    >>> n_workers() >= 1
    True
    """
    env = os.environ.get("TNCONV_NUM_THREADS")
    if env is not None and env.strip() != "":
        try:
            value = int(env)
        except ValueError:
            raise ValueError(f"TNCONV_NUM_THREADS must be a positive integer, got {env!r}") from None
        if value < 1:
            raise ValueError(f"TNCONV_NUM_THREADS must be a positive integer, got {env!r}")
        return value
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------- device weights
def device_weights(model: Any, backend: Backend, key: Any, build: Any) -> Any:
    """Device copies of a model's weights, built once per backend and device and cached (thread-safe).

    ``key`` identifies the host arrays (e.g. ``("levels", ids...)``; its first entry names the slot);
    when it changes, the copies are rebuilt. In-place edits of a weight array keep its id, so call
    :func:`clear_device_cache` after them. ``build(backend)`` makes the copies.
    """
    slot = (backend.name, str(backend.device), key[0] if isinstance(key, tuple) and key else None)
    return cached_copy(model, slot, key, lambda: build(backend))


def clear_device_cache(model: Any) -> None:
    """Drop the device copies of ``model``'s weights (after editing weight arrays in place).

    Examples
    --------
    >>> import tnconv as tc
    >>> clear_device_cache(tc.deep(4, 2, 2, seed=0))
    """
    clear_cached_copies(model)


#: The one NaN/inf check of ``ConvNet.forward`` and ``TensorNetwork.contract`` (any namespace).
check_finite_features = check_finite
