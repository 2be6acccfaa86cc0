"""The registry of model classes that files can hold: class name -> (class, spec layout).

:mod:`tnconv.models.io` imports no model class: every :class:`~tnconv.models.io.Persistable` subclass
registers itself by class name (``tnconv.models`` imports every model module), a file is decoded by the
class its spec names (an unknown name is a ``ValueError``), and a class's layout is read off its
constructor.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

from .io_validate import short

__all__ = ["LAYOUTS", "model_class", "model_layout", "register_model", "registered_models", "registered_name"]

#: The spec layouts: per-node ``widths``; one ``width`` and ``dilations``; two ``nets`` mixed.
LAYOUTS = ("widths", "dilated", "mixed")

_REGISTRY: dict[str, tuple[type, str]] = {}
_REGISTRY_LOCK = threading.Lock()


def _layout_of(cls: type) -> str:
    params = inspect.signature(cls).parameters
    if "tree_a" in params and "tree_b" in params:
        return "mixed"
    if "widths" in params:
        return "widths"
    if "width" in params:
        return "dilated"
    raise TypeError(f"cannot tell the file layout of {cls.__name__} from its constructor; pass "
                    f"layout= (one of {list(LAYOUTS)}) to register_model or in the class statement")


def register_model(cls: type, layout: str | None = None, name: str | None = None) -> type:
    """Register ``cls`` for :func:`~tnconv.models.io.load_model` under ``name`` (default: the class name).

    Subclasses of :class:`~tnconv.models.io.Persistable` are registered automatically; call this for other
    classes that provide the model attributes :func:`~tnconv.models.io.save_model` reads.

    Parameters
    ----------
    cls : type
    layout : {"widths", "dilated", "mixed"}, optional
        The spec layout (default: read off the constructor's parameters).
    name : str, optional

    Returns
    -------
    type
        ``cls`` (a decorator).

    Raises
    ------
    ValueError, TypeError
        An unknown layout or a name taken by another class; not a class, or a layout that cannot be told.

    Examples
    --------
    >>> import tnconv as tc
    >>> model_class("ConvAC") is tc.ConvAC
    True
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_model needs a class, got {cls!r}")
    layout = _layout_of(cls) if layout is None else layout
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    key = cls.__name__ if name is None else str(name)
    with _REGISTRY_LOCK:
        old = _REGISTRY.get(key)
        if old is not None and old[0] is not cls and old[0].__qualname__ != cls.__qualname__:
            raise ValueError(f"a model class named {key!r} is already registered ({old[0].__module__})")
        # A reloaded module re-registers its class under the same name: the new one wins.
        _REGISTRY[key] = (cls, layout)
    return cls


def registered_models() -> dict[str, type]:
    """``{name: class}`` of every registered model class (a copy)."""
    with _REGISTRY_LOCK:
        return {k: c for k, (c, _) in _REGISTRY.items()}


def model_class(name: str, where: str = "the file") -> type:
    """The registered class called ``name``; a ValueError naming it (and ``where``) otherwise."""
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(name)
        known = sorted(_REGISTRY)
    if entry is None:
        raise ValueError(f"{where}: field 'class' is {short(name)}, not a registered model class; known: {known}")
    return entry[0]


def registered_name(model: Any) -> str:
    """The registry name of ``model``'s class (its own, or that of the nearest registered base).

    Parameters
    ----------
    model : object
        An instance of a registered class (or of a subclass of one).

    Returns
    -------
    str

    Raises
    ------
    TypeError
        When no class in ``type(model).__mro__`` is registered (listing the registered names).

    Examples
    --------
    >>> import tnconv as tc
    >>> registered_name(tc.deep(4, 2, 2, seed=0))
    'ConvAC'
    """
    with _REGISTRY_LOCK:
        for klass in type(model).__mro__:
            entry = _REGISTRY.get(klass.__name__)
            if entry is not None and entry[0] is klass:
                return klass.__name__
        known = sorted(_REGISTRY)
    raise TypeError(f"cannot save a {type(model).__name__}: not a registered model class (known: {known})")


def model_layout(name: str) -> str:
    """The spec layout of the registered class ``name`` (one of :data:`LAYOUTS`).

    Parameters
    ----------
    name : str
        A registered name (as :func:`registered_name` or :func:`model_class` accept).

    Returns
    -------
    str

    Examples
    --------
    >>> import tnconv as tc
    >>> model_layout("ConvNet"), model_layout("DilatedConvNet"), model_layout("MixedConvNet")
    ('widths', 'dilated', 'mixed')
    """
    with _REGISTRY_LOCK:
        return _REGISTRY[name][1]
