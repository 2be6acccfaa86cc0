"""The compiled JAX functions of training, shared by every fit of the same structure.

``jax.jit`` compiles once per traced function object, so building a fresh ``jax.jit(step)`` on every
:func:`tnconv.train.fit` recompiled the whole training step each time (seconds per fit, most of a small
fit's time, and the cost of every ``GridSearchCV`` or ``cross_val_score`` candidate). Here the jitted
functions are kept in a small thread-safe LRU cache keyed on everything the traced computation depends
on structurally (:func:`structure_key`); what varies between fits of one structure (the parameters,
the signed per-level scales, the learning rate of ``"adam"``/``"sgd"``) enters them as traced
arguments, so a cached function gives exactly the result of a freshly compiled one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.caches import LRUCache
from ..models.operators import OPERATORS
from .forward import group_plan

__all__ = ["CACHE_SIZE", "CompiledFit", "cache_info", "clear_cache", "compiled_fit", "structure_key", "take_rows"]

#: At most this many structures keep their compiled functions (least recently used ones are dropped).
CACHE_SIZE = 64

#: The built-in optimizers: optax factories whose learning rate is injected as a traced hyperparameter.
NAMED_OPTIMIZERS = ("adam", "sgd")

_LOCK = threading.Lock()
_CACHE = LRUCache()


class _Same:
    """A key part equal only to itself: compares its object by identity and holds a reference to it, so
    that the object's ``id`` cannot be reused by another object while the key lives."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any):
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __repr__(self) -> str:
        return f"same({getattr(self.obj, '__name__', type(self.obj).__name__)})"


def _pooling_key(g: Any) -> Any:
    name = g.name
    if OPERATORS.get(name) is g:
        return name
    # a user's operator: the callable it wraps, by identity (two models built from one callable share)
    return ("custom", g.name, _Same(getattr(g.pair, "fn", g.pair)), _Same(g.reduce_fn))


def _plan_key(model: Any) -> tuple:
    plan = group_plan(model)
    out = []
    for ((arity, shape), nodes), h, src in zip(plan.groups, plan.heights, plan.sources):
        where = src.tobytes() if arity == 0 else (src[0], src[1].tobytes())
        out.append((arity, tuple(shape), len(nodes), h, where))
    return tuple(out)


def structure_key(objective: Any, loss: Callable, optimizer: Any) -> tuple:
    """What the traced training step of ``objective`` depends on, beyond the shapes of its arguments.

    The model's group plan (which nodes are stacked, where every group gathers its inputs: the mode
    tree and the widths, as far as they shape the computation), its sharing, pooling operator (a
    built-in one by name, a user's callable by identity), number of descriptors and outputs, dtype;
    the parameterization; the representation's type, ``M``, ``s`` and ``learnable``; the loss (by
    identity: loss names resolve to module functions); the optimizer (``"adam"``/``"sgd"`` by name, the
    learning rate being a traced argument; a user's optax transformation by identity).

    Parameters
    ----------
    objective : Objective
    loss : callable
        The resolved loss ``loss(logits, y)``.
    optimizer : {"adam", "sgd"} or optax transformation

    Returns
    -------
    tuple
        Hashable; it holds references to the objects compared by identity.

    Examples
    --------
    >>> import tnconv as tc
    >>> from tnconv.train.objective import Objective
    >>> from tnconv.train.losses import cross_entropy
    >>> a, b = (Objective(tc.deep(4, 2, 3, n_outputs=2, seed=s)) for s in (0, 1))
    >>> structure_key(a, cross_entropy, "adam") == structure_key(b, cross_entropy, "adam")
    True
    >>> structure_key(a, cross_entropy, "adam") == structure_key(a, cross_entropy, "sgd")
    False
    """
    model, rep = objective.model, objective.representation
    rep_key = None if rep is None else (type(rep), rep.M, rep.s, bool(rep.learnable))
    opt_key = optimizer if isinstance(optimizer, str) else _Same(optimizer)
    return (objective.kind, np.dtype(model.dtype).str, bool(model.shared), model.n_descriptors, model.n_outputs,
            _plan_key(model), _pooling_key(model.g), rep_key, _Same(loss), opt_key)


@dataclass(frozen=True)
class CompiledFit:
    """The jitted functions of one training structure.

    Attributes
    ----------
    init : callable
        ``init(params, lr) -> state``: the optimizer state, the learning rate set to ``lr``.
    step : callable
        ``step(params, state, constants, xb, yb) -> (params, state, loss, correct)``: one optimizer step
        (``correct`` counts the batch's right answers; 0 for real targets).
    logits : callable
        ``logits(params, constants, xb)``.
    loss : callable
        ``loss(logits, y)``.
    """

    init: Callable
    step: Callable
    logits: Callable
    loss: Callable


def _build(objective: Any, loss: Callable, optimizer: Any) -> CompiledFit:
    import jax
    import optax

    injected = isinstance(optimizer, str)
    # the learning rate given here is a placeholder: init() sets every fit's own as a traced value
    tx = optax.inject_hyperparams(getattr(optax, optimizer))(learning_rate=1.0) if injected else optimizer
    logits = objective.logits

    def init(p: dict, lr: Any) -> Any:
        state = tx.init(p)
        if injected:
            state = state._replace(hyperparams={**state.hyperparams, "learning_rate": lr})
        return state

    def objective_fn(p: dict, consts: dict, xb: Any, yb: Any) -> Any:
        out = logits(p, xb, consts)
        return loss(out, yb), out

    def step(p: dict, s: Any, consts: dict, xb: Any, yb: Any) -> Any:
        (val, out), grads = jax.value_and_grad(objective_fn, has_aux=True)(p, consts, xb, yb)
        updates, s = tx.update(grads, s, p)
        correct = (out.argmax(axis=1) == yb).sum() if yb.ndim == 1 else val * 0
        return optax.apply_updates(p, updates), s, val, correct

    return CompiledFit(jax.jit(init), jax.jit(step), jax.jit(lambda p, consts, xb: logits(p, xb, consts)),
                       jax.jit(loss))


def compiled_fit(objective: Any, loss: Callable, optimizer: Any) -> CompiledFit:
    """The jitted functions for ``objective``, ``loss`` and ``optimizer``: cached, or built and cached.

    Thread-safe; at most :data:`CACHE_SIZE` structures are kept (least recently used first out).

    Parameters
    ----------
    objective : Objective
    loss : callable
    optimizer : {"adam", "sgd"} or optax transformation

    Returns
    -------
    CompiledFit

    Raises
    ------
    ValueError
        An optimizer name other than ``"adam"`` and ``"sgd"``.

    Examples
    --------
    >>> import tnconv as tc
    >>> from tnconv.train.objective import Objective
    >>> from tnconv.train.losses import cross_entropy
    >>> a, b = (Objective(tc.deep(4, 2, 3, n_outputs=2, seed=s)) for s in (0, 1))
    >>> compiled_fit(a, cross_entropy, "adam") is compiled_fit(b, cross_entropy, "adam")
    True
    """
    if isinstance(optimizer, str) and optimizer not in NAMED_OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose from {NAMED_OPTIMIZERS} or pass an optax transformation"
        )
    key = structure_key(objective, loss, optimizer)
    # cheap: jit compiles at the first call; threads building one key at once all get the first stored
    return _CACHE.get_or_build(key, lambda: _build(objective, loss, optimizer), CACHE_SIZE)


_TAKE: list = []


def take_rows(idx: Any, *arrays: Any) -> tuple:
    """``(a[idx] for a in arrays)`` for JAX arrays, in one jitted call: one compile per shapes instead of
    the several small ones of eager indexing (bounds handling, gather, broadcasts) per array.

    Parameters
    ----------
    idx : jax array of int
        Row indices, in range.
    *arrays : jax arrays

    Returns
    -------
    tuple of jax arrays

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> X, y = take_rows(jnp.array([2, 0]), jnp.arange(6).reshape(3, 2), jnp.array([7, 8, 9]))
    >>> X.tolist(), y.tolist()
    ([[4, 5], [0, 1]], [9, 7])
    """
    if not _TAKE:
        import jax

        with _LOCK:
            if not _TAKE:
                _TAKE.append(jax.jit(lambda i, *a: tuple(x[i] for x in a)))
    return _TAKE[0](idx, *arrays)


def clear_cache() -> None:
    """Forget every cached compiled function (the next fit of any structure compiles afresh).

    Examples
    --------
    >>> clear_cache()
    >>> cache_info()["size"]
    0
    """
    _CACHE.clear()


def cache_info() -> dict[str, int]:
    """``{"size", "max_size", "hits", "misses"}`` of the cache since the last :func:`clear_cache`.

    Returns
    -------
    dict

    Examples
    --------
    >>> sorted(cache_info())
    ['hits', 'max_size', 'misses', 'size']
    """
    return {"size": len(_CACHE), "max_size": CACHE_SIZE, "hits": _CACHE.hits, "misses": _CACHE.misses}
