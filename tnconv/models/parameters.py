"""Weights in any array namespace: ``to``, ``parameters``, ``with_parameters`` and the device copies.

A model's weights live in one namespace. :meth:`~Parameters.to` copies them into another (the one
explicit move); :meth:`~Parameters.with_parameters` swaps in arrays of any namespace without reading
their values, so JAX tracers and torch tensors that require grad pass through. A numpy-weighted model
given features of another namespace (CuPy, array-api-strict on a device, JAX, torch) moves its weights
there once and caches the copies (:func:`weights_for`). A model whose weights are not numpy refuses
features of another namespace or device with a ``TypeError``.

References
----------
.. [1] The Python array API standard, https://data-apis.org/array-api/latest/.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._core.arrays import (
    backend_name,
    cached_copy,
    device_of,
    is_concrete,
    is_numpy,
    namespace,
    namespace_of_backend,
    to_namespace,
    to_numpy,
)
from ..trees import format_node
from .io import node_key

__all__ = ["Parameters", "weights_for", "weights_namespace"]

# Caches that hold arrays (device copies): a model with other weights must not inherit them.
_ARRAY_CACHES = ("_tnconv_device_cache", "_tnconv_weights_ns")


def weights_namespace(model: Any) -> Any:
    """The namespace of ``model.weights`` (cached per set of array types).

    Raises
    ------
    TypeError
        When the weights mix namespaces.
    """
    types = frozenset(type(w) for w in model.weights.values())
    hit = model.__dict__.get("_tnconv_weights_ns")
    if hit is not None and hit[0] == types:
        return hit[1]
    xp = namespace(*model.weights.values())
    model.__dict__["_tnconv_weights_ns"] = (types, xp)
    return xp


def _same_device(a: Any, b: Any) -> bool:
    if not (is_concrete(a) and is_concrete(b)):
        return True  # traced arrays carry no device to compare; JAX itself checks them
    try:
        return str(device_of(a)) == str(device_of(b))
    except (TypeError, ValueError, AttributeError):
        return True


def weights_for(model: Any, xp: Any, like: Any) -> dict:
    """``model``'s weights in namespace ``xp`` on the device of ``like`` (an input array).

    Numpy weights are copied to ``xp``'s device once and cached on the model (thread-safe); weights
    already in ``xp`` are used as they are.

    Raises
    ------
    TypeError
        When the weights are in another namespace than ``xp`` (and are not numpy), or on another device.
    """
    wxp = weights_namespace(model)
    ws = model.weights
    if backend_name(wxp) == backend_name(xp):
        first = next(iter(ws.values()))
        if not is_numpy(xp) and not _same_device(first, like):
            raise TypeError(
                f"the inputs are on device {device_of(like)} but the model's weights are on {device_of(first)}; "
                "move one of them (net.to(backend, device=...))"
            )
        return ws
    if not is_numpy(wxp):
        raise TypeError(
            f"the inputs are {backend_name(xp)} arrays but the model's weights are {backend_name(wxp)} arrays; "
            f"convert the inputs (e.g. {backend_name(wxp)}'s asarray) or the model (net.to({backend_name(xp)!r}))"
        )
    device = device_of(like)
    key = tuple(id(w) for w in ws.values())

    def build() -> dict:
        moved: dict[int, Any] = {}
        for w in ws.values():
            if id(w) not in moved:
                moved[id(w)] = to_namespace(w, xp, device)
        return {v: moved[id(w)] for v, w in ws.items()}

    probe = to_namespace(np.zeros(1), xp, device)
    if not is_concrete(probe):  # inside jax.jit, arrays made there are tracers: never cache them
        return build()
    return cached_copy(model, ("weights", backend_name(xp), str(device)), key, build)


def _np_dtype(dtype: Any) -> np.dtype:
    name = str(dtype).rsplit(".", 1)[-1]
    if name not in ("float32", "float64"):
        raise TypeError(f"weights have dtype {dtype}; use float32 or float64")
    return np.dtype(name)


class Parameters:
    """Mixin of the tree models: weights as a pytree of arrays in any namespace."""

    weights: dict

    def parameters(self) -> dict[str, Any]:
        """The weights as ``{node key: array}``, keyed like the ``.npz`` files (``"0,1"``).

        A plain dict (a pytree): ``jax.grad`` differentiates it and torch optimizers take its values.

        Examples
        --------
        >>> import tnconv as tc
        >>> sorted(tc.deep(2, 2, 2, seed=0).parameters())
        ['0', '0,1', '1']
        """
        return {node_key(v): w for v, w in self.weights.items()}

    def with_parameters(self, params: Mapping[str, Any]) -> Any:
        """A model of the same structure with the arrays ``params`` (any namespace, not copied).

        Only keys and shapes are checked, never values, so JAX tracers pass through.

        Parameters
        ----------
        params : mapping
            ``{node key: array}``, as :meth:`parameters` returns.

        Returns
        -------
        model

        Raises
        ------
        TypeError
            ``params`` is not a mapping, mixes namespaces, or holds arrays that are not float32/float64.
        ValueError
            Missing or unknown keys, or an array of the wrong shape (naming the node).

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.deep(4, 2, 2, seed=0)
        >>> twice = net.with_parameters({k: 2 * w for k, w in net.parameters().items()})
        >>> F = np.ones((1, 4, 2))
        >>> bool(np.allclose(twice.forward(F), 2 ** 7 * net.forward(F)))
        True
        """
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict {{node key: array}}, got {type(params).__name__}")
        nodes = {node_key(v): v for v in self.weights}
        missing = [k for k in nodes if k not in params]
        extra = [k for k in params if k not in nodes]
        if missing or extra:
            raise ValueError(f"params do not fit the model: missing keys {missing[:5]}, unknown keys {extra[:5]}")
        new_w = {}
        for k, v in nodes.items():
            w = params[k]
            shape = tuple(getattr(w, "shape", ()))
            if shape != self.weight_shape(v):  # type: ignore[attr-defined]
                raise ValueError(
                    f"params[{k!r}] (node {format_node(v)}) has shape {shape}, "
                    f"expected {self.weight_shape(v)}"  # type: ignore[attr-defined]
                )
            new_w[v] = w
        namespace(*new_w.values())  # one namespace, or TypeError
        dtypes = {_np_dtype(w.dtype) for w in new_w.values()}
        if len(dtypes) > 1:
            raise TypeError(f"params mix dtypes {sorted(map(str, dtypes))}; use one")
        new = copy.copy(self)
        for name in _ARRAY_CACHES:
            new.__dict__.pop(name, None)
        new.weights = new_w
        new.dtype = dtypes.pop()  # type: ignore[attr-defined]
        return new

    def to(self, backend: Any, device: Any = None) -> Any:
        """A copy whose weights live in ``backend`` (``"numpy"``, ``"cupy"``, ``"jax"``, ``"torch"`` or a
        namespace module), on ``device``. Arrays shared between nodes stay shared.

        Parameters
        ----------
        backend : str or array namespace
        device : optional
            A device of that library (its default when None).

        Returns
        -------
        model

        Raises
        ------
        ValueError
            An unknown backend name.
        ImportError
            The library is not installed.

        Examples
        --------
        >>> import array_api_strict as xs, tnconv as tc
        >>> net = tc.deep(4, 2, 2, seed=0).to(xs, device=xs.Device("device1"))
        >>> str(net.weights[net.tree.root].device)
        "array_api_strict.Device('device1')"
        """
        xp = namespace_of_backend(backend)
        moved: dict[int, Any] = {}
        for w in self.weights.values():
            if id(w) not in moved:
                host = to_numpy(w)
                moved[id(w)] = host if is_numpy(xp) and device is None else to_namespace(host, xp, device)
        return self.with_parameters({k: moved[id(w)] for k, w in self.parameters().items()})
