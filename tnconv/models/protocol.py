"""What an analysis needs from a tree model: the typed :class:`TreeModel` protocol, and the compiler hook.

Every analysis (min cuts, generic ranks, spectra and measures, save/load) takes any object that provides
:class:`TreeModel`; it never asks for a concrete class. ``ConvNet``/``ConvAC`` and ``DilatedConvNet``
provide it. ``MixedConvNet`` provides the same attributes except ``tree``/``weights`` (it holds two
trees, ``nets``), and analyses name that limit in their errors.

Compiling to a tensor network belongs to the network layer (:mod:`tnconv.network`), to the right of
the models, so models cannot import it. Instead :mod:`tnconv.network` installs its compiler here at
import time (:func:`install_compiler`), and ``model.to_tensor_network(output)`` calls
:func:`compile_network`. ``import tnconv`` imports :mod:`tnconv.network`, so the hook is always there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..trees import ModeTree

__all__ = ["TreeModel", "compile_network", "install_compiler", "is_tree_model"]


@runtime_checkable
class TreeModel(Protocol):
    """A network model over one mode tree.

    Attributes
    ----------
    tree : ModeTree
        The pooling geometry.
    n_inputs : int
        Input positions (leaves of ``tree``).
    n_descriptors : int
        ``M``, the dimension of every input (open leg).
    n_outputs : int
        Output channels.
    weights : mapping
        ``{node: matrix}`` (one matrix per node: ConvNet) or ``{node: tuple of matrices}`` (one per child
        of an internal node: DilatedConvNet); leaves hold ``(M, width)`` matrices.
    g : PoolingOperator
        The pooling operator; ``g.is_product`` tells whether the model is a tensor network.

    Methods
    -------
    to_tensor_network(output=0)
        The model's :class:`~tnconv.network.TensorNetwork` (product pooling only).

    ``widths`` (per-node channels, ConvNet) or ``width`` (DilatedConvNet) complete the description.

    Examples
    --------
    >>> import tnconv as tc
    >>> isinstance(tc.deep(4, 2, 2), TreeModel), isinstance(tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2),
    ...                                                       TreeModel)
    (True, True)
    >>> isinstance("not a model", TreeModel)
    False
    """

    tree: ModeTree
    weights: Mapping[Any, Any]

    @property
    def n_inputs(self) -> int: ...

    @property
    def n_descriptors(self) -> int: ...

    @property
    def n_outputs(self) -> int: ...

    @property
    def g(self) -> Any: ...

    def to_tensor_network(self, output: int = 0) -> Any: ...


def is_tree_model(obj: Any) -> bool:
    """Whether ``obj`` provides :class:`TreeModel` with a :class:`ModeTree` (not merely the names)."""
    return isinstance(obj, TreeModel) and isinstance(getattr(obj, "tree", None), ModeTree)


_COMPILER: list[Callable[[Any, int], Any]] = []
_LOCK = threading.Lock()


def install_compiler(fn: Callable[[Any, int], Any]) -> None:
    """Install the model-to-network compiler (called once by :mod:`tnconv.network`).

    Raises
    ------
    TypeError
        ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"the compiler must be callable, got {fn!r}")
    with _LOCK:
        _COMPILER[:] = [fn]


def compile_network(model: Any, output: int = 0) -> Any:
    """``model``'s tensor network, by the installed compiler (``TensorNetwork.from_model``).

    Raises
    ------
    RuntimeError
        No compiler installed (only when ``tnconv.models`` is used without ``import tnconv``, which
        cannot happen through the package: ``tnconv/__init__`` imports the network layer).
    TypeError, ValueError
        As :meth:`tnconv.network.TensorNetwork.from_model`.
    """
    with _LOCK:
        fn = _COMPILER[0] if _COMPILER else None
    if fn is None:  # pragma: no cover - tnconv/__init__ installs it
        raise RuntimeError("no tensor-network compiler installed; import tnconv (it installs tnconv.network's)")
    return fn(model, output)
