"""One small adapter per autodiff backend: JAX (with optax) and torch (with torch.optim).

The training loop of :func:`tnconv.train.fit` is backend-free; an adapter moves arrays to the backend,
builds the differentiated step from :meth:`~tnconv.train.objective.Objective.logits` and a loss, runs
it, and hands parameters back as numpy. The same split as quimb's ``TNOptimizer(autodiff_backend=...)``.

JAX: the whole step (forward, gradient, optimizer update) is one ``jax.jit``-compiled function, shared
by every fit of the same structure (:mod:`tnconv.train.jax_cache`); a float64 model trains under
``jax.enable_x64``. torch: eager autograd, ``torch.optim.Adam``/``SGD``.

References
----------
.. [1] J. Gray, "quimb: a python package for quantum information and many-body calculations",
   JOSS 2018 (``TNOptimizer``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .jax_cache import compiled_fit, take_rows

__all__ = ["BACKENDS", "OPTIMIZERS", "JaxAdapter", "TorchAdapter", "make_adapter"]

BACKENDS = ("jax", "torch")
OPTIMIZERS = ("adam", "sgd")


def _missing(backend: str, what: str, exc: ImportError) -> ImportError:
    return ImportError(
        f"backend={backend!r} needs {what}, which is not installed ({exc}); pip install 'tnconv[{backend}]'"
    )


class JaxAdapter:
    """Training steps with ``jax.value_and_grad`` and an optax optimizer, jit-compiled.

    Raises
    ------
    ImportError
        Without jax or optax (naming ``pip install 'tnconv[jax]'``).
    """

    name = "jax"

    def __init__(self, dtype: np.dtype):
        try:
            import jax
            import jax.numpy as jnp
            import optax
        except ImportError as exc:
            raise _missing("jax", "jax and optax", exc) from None
        self.jax, self.jnp, self.optax = jax, jnp, optax
        self.dtype = np.dtype(dtype)

    def context(self) -> Any:
        """float64 models run under ``jax.enable_x64`` (JAX computes in float32 otherwise)."""
        return self.jax.enable_x64(True) if self.dtype == np.float64 else contextlib.nullcontext()

    def put(self, a: np.ndarray) -> Any:
        # device_put, not jnp.asarray: asarray compiles a small copy per new shape, device_put nothing
        return self.jax.device_put(np.asarray(a))

    def take(self, a: Any, idx: np.ndarray) -> Any:
        return take_rows(self.put(idx), a)[0]

    def take_batch(self, arrays: tuple, idx: np.ndarray) -> tuple:
        return take_rows(self.put(idx), *arrays)

    def _check_optimizer(self, optimizer: Any) -> None:
        if isinstance(optimizer, str) and optimizer in OPTIMIZERS:
            return
        if isinstance(optimizer, self.optax.GradientTransformation):
            return
        raise ValueError(f"unknown optimizer {optimizer!r}; choose from {OPTIMIZERS} or pass an optax transformation")

    def setup(self, objective: Any, loss: Callable, optimizer: Any, lr: float, params: dict) -> None:
        """Take the compiled functions of this structure from :mod:`~tnconv.train.jax_cache` and start."""
        self._check_optimizer(optimizer)
        self._fns = compiled_fit(objective, loss, optimizer)
        self.params = {k: self.put(v) for k, v in params.items()}
        self.constants = {k: self.put(v) for k, v in objective.constants().items()}
        self.state = self._fns.init(self.params, self.put(np.asarray(lr, dtype=self.dtype)))

    def step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        self.params, self.state, val, correct = self._fns.step(self.params, self.state, self.constants, xb, yb)
        return val, correct

    def logits(self, xb: Any) -> np.ndarray:
        return np.asarray(self._fns.logits(self.params, self.constants, xb))

    def loss(self, logits: np.ndarray, y: np.ndarray) -> float:
        """The loss of numpy ``logits`` (float64, cast to the model's dtype) against ``y``, compiled."""
        return float(self._fns.loss(self.put(logits.astype(self.dtype)), self.put(y)))

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.params.items()}

    @staticmethod
    def scalar(value: Any) -> float:
        return float(value)


class TorchAdapter:
    """Training steps with torch autograd and ``torch.optim`` (``Adam``, ``SGD`` or any optimizer class).

    Raises
    ------
    ImportError
        Without torch (naming ``pip install 'tnconv[torch]'``).
    """

    name = "torch"

    def __init__(self, dtype: np.dtype):
        try:
            import torch
        except ImportError as exc:
            raise _missing("torch", "torch", exc) from None
        self.torch = torch
        self.dtype = np.dtype(dtype)

    def context(self) -> Any:
        return contextlib.nullcontext()

    def put(self, a: np.ndarray) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(a))

    def take(self, a: Any, idx: np.ndarray) -> Any:
        return a[self.torch.from_numpy(np.asarray(idx, dtype=np.int64))]

    def take_batch(self, arrays: tuple, idx: np.ndarray) -> tuple:
        return tuple(self.take(a, idx) for a in arrays)

    def _optimizer(self, optimizer: Any, lr: float, params: list) -> Any:
        optim = self.torch.optim
        if optimizer == "adam":
            return optim.Adam(params, lr=lr)
        if optimizer == "sgd":
            return optim.SGD(params, lr=lr)
        if isinstance(optimizer, type) and issubclass(optimizer, optim.Optimizer):
            return optimizer(params, lr=lr)
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose from {OPTIMIZERS} or pass a torch.optim.Optimizer class"
        )

    def setup(self, objective: Any, loss: Callable, optimizer: Any, lr: float, params: dict) -> None:
        torch = self.torch
        self.params = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in params.items()}
        self.opt = self._optimizer(optimizer, lr, list(self.params.values()))
        self._fn, self._loss = objective.logits, loss

    def step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        self.opt.zero_grad(set_to_none=True)
        out = self._fn(self.params, xb)
        val = self._loss(out, yb)
        val.backward()
        self.opt.step()
        correct = (out.detach().argmax(dim=1) == yb).sum() if yb.ndim == 1 else val.detach() * 0
        return val.detach(), correct

    def logits(self, xb: Any) -> np.ndarray:
        with self.torch.no_grad():
            return self._fn(self.params, xb).numpy()

    def numpy_params(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().copy() for k, v in self.params.items()}

    def loss(self, logits: np.ndarray, y: np.ndarray) -> float:
        """The loss of numpy ``logits`` (float64, cast to the model's dtype) against ``y``."""
        return float(self._loss(self.put(logits.astype(self.dtype)), self.put(y)))

    @staticmethod
    def scalar(value: Any) -> float:
        return float(value)


def make_adapter(backend: Any, dtype: Any) -> JaxAdapter | TorchAdapter:
    """The adapter of ``backend`` (``"jax"`` or ``"torch"``) for a model of ``dtype``.

    Raises
    ------
    ValueError
        An unknown backend (listing the valid ones).
    ImportError
        The backend is not installed (naming the extra to install).

    Examples
    --------
    >>> make_adapter("jax", "float32").name
    'jax'
    """
    if backend == "jax":
        return JaxAdapter(np.dtype(dtype))
    if backend == "torch":
        return TorchAdapter(np.dtype(dtype))
    raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
