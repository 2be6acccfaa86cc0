"""Array backends (numpy, cupy), device placement and BLAS thread control.

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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

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

#: Names accepted by ``backend=``.
BACKENDS = ("numpy", "cupy")

GPU_HINT = "pip install 'tnconv[gpu]'"


@dataclass(frozen=True)
class Backend:
    """An array module and how to move host arrays onto it.

    Attributes
    ----------
    name : str
        ``"numpy"`` or ``"cupy"`` (or a test double).
    xp : module
        The array namespace (``numpy`` or ``cupy``).
    """

    name: str
    xp: Any

    def asarray(self, x: Any) -> Any:
        """Copy a host array to this backend (no copy for numpy)."""
        return self.xp.asarray(x)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend."""
        return array_backend_name(x) == self.name

    @property
    def is_numpy(self) -> bool:
        return self.xp is np


def array_backend_name(x: Any) -> str:
    """``"cupy"`` for CuPy arrays, ``"numpy"`` for everything numpy understands.

    Examples
    --------
    >>> array_backend_name(np.zeros(2)), array_backend_name([1.0])
    ('numpy', 'numpy')
    """
    mod = type(x).__module__.split(".")[0]
    return "cupy" if mod == "cupy" else "numpy"


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


def get_backend(name: str) -> Backend:
    """The :class:`Backend` called ``name``.

    Parameters
    ----------
    name : {"numpy", "cupy"}

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        For an unknown name (the message lists the choices).
    ImportError
        For ``"cupy"`` when CuPy or a CUDA device is missing (names the ``gpu`` extra).

    Examples
    --------
    >>> get_backend("numpy").xp is np
    True
    >>> get_backend("torch")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'torch'; choose from ('numpy', 'cupy')
    """
    if name == "numpy":
        return Backend("numpy", np)
    if name == "cupy":
        return Backend("cupy", _import_cupy())
    raise ValueError(f"unknown backend {name!r}; choose from {BACKENDS}")


def resolve_backend(backend: str | None, *arrays: Any) -> Backend:
    """Pick the backend: ``backend`` if given, else the one the arrays live on; check they agree.

    Parameters
    ----------
    backend : str or None
    *arrays : arrays (``None`` entries are skipped)

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown backend name.
    TypeError
        Arrays on a different device than ``backend`` (or on two devices at once).
    ImportError
        ``"cupy"`` without CuPy or without a GPU.

    Examples
    --------
    >>> resolve_backend(None, np.ones(3)).name
    'numpy'
    """
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"backend must be a name such as 'numpy' or 'cupy', got {backend!r}")
    names = {array_backend_name(a) for a in arrays if a is not None}
    if len(names) > 1:
        raise TypeError(f"inputs live on different backends {sorted(names)}; move them to one device first")
    found = names.pop() if names else None
    be = get_backend(backend if backend is not None else (found or "numpy"))
    if found is not None and found != be.name:
        move = "cupy.asarray(features)" if be.name == "cupy" else "features.get()"
        raise TypeError(
            f"features are {found} arrays but backend={be.name!r}; move them first ({move}) or pass "
            f"backend={found!r}"
        )
    return be


# ---------------------------------------------------------------------- threads
_CONTROLLER: Any = None
_CONTROLLER_LOCK = threading.Lock()


def _controller() -> Any:
    global _CONTROLLER
    with _CONTROLLER_LOCK:
        if _CONTROLLER is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                _CONTROLLER = False
            else:
                # Scanning the loaded libraries costs milliseconds; do it once per process.
                _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


@contextmanager
def blas_threads(n: int | None) -> Iterator[bool]:
    """Limit BLAS to ``n`` threads inside the block (``None``: leave it alone).

    Yields ``True`` when the limit is in force (threadpoolctl installed), ``False`` otherwise.

    Examples
    --------
    >>> with blas_threads(1) as limited:
    ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    ctl: Any = _controller() if n is not None else False
    if n is None or not ctl:
        yield False
        return
    with ctl.limit(limits=int(n), user_api="blas"):
        yield True


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
_CACHE_ATTR = "_tnconv_device_cache"


def device_weights(model: Any, backend: Backend, key: Any, build: Any) -> Any:
    """Device copies of a model's weights, built once per backend and cached on the model.

    ``key`` identifies the host arrays (e.g. ``("levels", ids...)``; its first entry names the slot);
    when it changes, the copies are rebuilt. In-place edits of a weight array keep its id, so call
    :func:`clear_device_cache` after them. ``build(backend)`` makes the copies.
    """
    cache = model.__dict__.setdefault(_CACHE_ATTR, {})
    slot = (backend.name, key[0] if isinstance(key, tuple) and key else None)
    hit = cache.get(slot)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = build(backend)
    cache[slot] = (key, value)
    return value


def clear_device_cache(model: Any) -> None:
    """Drop the device copies of ``model``'s weights (after editing weight arrays in place).

    Examples
    --------
    >>> import tnconv as tc
    >>> clear_device_cache(tc.deep(4, 2, 2, seed=0))
    """
    model.__dict__.pop(_CACHE_ATTR, None)


def check_finite_features(features: Any) -> None:
    """Refuse features with NaN or infinite entries (numpy or cupy), naming the first one.

    The one check behind ``ConvNet.forward`` and ``TensorNetwork.contract``.

    Raises
    ------
    ValueError
        Naming the index ``(batch, input, descriptor)`` of the first non-finite entry.

    Examples
    --------
    >>> check_finite_features(np.zeros((1, 2, 2)))
    >>> check_finite_features(np.array([[[0.0, np.nan]]]))
    Traceback (most recent call last):
    ...
    ValueError: features contain NaN or infinite values, first at index (batch, input, descriptor) = (0, 0, 1)
    """
    xp = np if type(features).__module__.split(".")[0] == "numpy" else _module_of(features)
    finite = xp.isfinite(features)
    if not bool(finite.all()):
        bad = tuple(int(i) for i in xp.argwhere(~finite)[0])
        raise ValueError(
            f"features contain NaN or infinite values, first at index (batch, input, descriptor) = {bad}"
        )


def _module_of(x: Any) -> Any:
    if type(x).__module__.split(".")[0] == "cupy":  # pragma: no cover - GPU only
        import cupy

        return cupy
    return np
