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

__all__ = ["HOOKS", "TreeModel", "compile_network", "hook", "install_compiler", "install_hook", "is_tree_model"]


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


_HOOKS: dict[str, Callable[..., Any]] = {}
_LOCK = threading.Lock()
#: What the layers right of the models install here at import time: the network compiler
#: (:mod:`tnconv.network`), the forward engines and the contracted coefficient tensor
#: (:mod:`tnconv.contract.engine`), and the network contraction (:mod:`tnconv.contract.generic`), which
#: ``TensorNetwork.contract`` calls.
HOOKS = ("compile", "forward", "coefficient_tensor", "contract")


def install_hook(name: str, fn: Callable[..., Any]) -> None:
    """Install the implementation of ``name`` (one of :data:`HOOKS`) that models call.

    Models sit left of the network and contraction layers, so they cannot import them; those layers
    install themselves here instead (``import tnconv`` imports them all).

    Raises
    ------
    ValueError
        An unknown hook name.
    TypeError
        ``fn`` is not callable.
    """
    if name not in HOOKS:
        raise ValueError(f"unknown hook {name!r}; the hooks are {HOOKS}")
    if not callable(fn):
        raise TypeError(f"the {name} hook must be callable, got {fn!r}")
    with _LOCK:
        _HOOKS[name] = fn


def hook(name: str) -> Callable[..., Any]:
    """The installed implementation of ``name``.

    Raises
    ------
    RuntimeError
        Nothing installed (only when ``tnconv.models`` is used without ``import tnconv``, which cannot
        happen through the package: ``tnconv/__init__`` imports every layer that installs a hook).
    """
    with _LOCK:
        fn = _HOOKS.get(name)
    if fn is None:  # pragma: no cover - tnconv/__init__ installs every hook
        raise RuntimeError(f"no {name!r} implementation installed; import tnconv")
    return fn


def install_compiler(fn: Callable[[Any, int], Any]) -> None:
    """Install the model-to-network compiler (called once by :mod:`tnconv.network`)."""
    install_hook("compile", fn)


def compile_network(model: Any, output: int = 0) -> Any:
    """``model``'s tensor network, by the installed compiler (``TensorNetwork.from_model``).

    Raises
    ------
    TypeError, ValueError
        As :meth:`tnconv.network.TensorNetwork.from_model`.
    """
    return hook("compile")(model, output)
