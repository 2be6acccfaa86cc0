"""``fit``: train any ConvNet with one loop over mini-batches, on JAX (optax) or torch (torch.optim).

The loop (shuffling, history, validation, early stopping, the divergence check, the progress bar) is
backend-free; a small adapter per autodiff backend (:mod:`tnconv.train.adapters`) does the steps. What
is differentiated is :class:`~tnconv.train.objective.Objective`: the net under one of the two
parameterizations of :mod:`tnconv.train.logspace` (log space for deep product nets, signed weights with
per-level scales otherwise).

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "Deep SimNets", CVPR 2016, arXiv:1506.03059.
.. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
   Geometry", ICLR 2017, arXiv:1605.06743.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.progress import progress as progress_bar
from .._core.validate import check_flag
from .adapters import make_adapter
from .checks import check_model, check_number, check_optional_int, check_X, check_y
from .logspace import log_forward
from .losses import cross_entropy, resolve_loss, squared
from .objective import Objective

__all__ = ["DivergenceError", "FitResult", "fit"]

#: Samples of the training set (in seed order) that fix the per-level scales of signed training.
SCALE_SAMPLES = 256


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    model : ConvNet
        The trained net, same kind as the input, numpy weights (the epoch with the best monitored loss
        when early stopping is on, else the last epoch).
    history : dict[str, list[float]]
        Per epoch: ``"loss"``, ``"accuracy"`` (running means over the epoch's mini-batches),
        ``"val_loss"``, ``"val_accuracy"`` (NaN without a validation set), ``"seconds"``. Accuracies are
        NaN for real-valued targets.
    representation : GaussianDescriptors or None
        The trained (or fixed) representation layer.
    parameterization : {"log", "signed"}
    backend : {"jax", "torch"}
    best_epoch : int
        The epoch (1-based) whose weights :attr:`model` holds.
    stopped_early : bool
    """

    model: Any
    history: dict[str, list[float]]
    representation: Any = None
    parameterization: str = "signed"
    backend: str = "jax"
    best_epoch: int = 0
    stopped_early: bool = False

    def logits(self, X: Any) -> np.ndarray:
        """Logits ``(n, n_outputs)`` of raw inputs ``X`` (as given to :func:`fit`), in numpy float64.

        Log space: ``log h_y`` from the log features and ``log W`` (no ``exp`` of a feature is taken, so
        nothing underflows); signed: the net's forward on the features.

        Parameters
        ----------
        X : array
            Raw inputs, as given to :func:`fit`.

        Returns
        -------
        numpy.ndarray of shape (n, n_outputs)
        """
        net, rep = self.model, self.representation
        width, name = (rep.s, "patch size s") if rep is not None else (net.n_descriptors, "n_descriptors")
        X = check_X(X, net.n_inputs, width, width_name=name)
        if self.parameterization == "log":
            lf = rep.log_features(X) if rep is not None else np.log(X)
            lw = {v: np.log(np.asarray(w, dtype=np.float64)) for v, w in net.weights.items()}
            return np.asarray(log_forward(net, lw, lf))
        feats = rep(X) if rep is not None else X
        return np.asarray(net.forward(feats), dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``softmax(logits)``: ``p(y|x) = h_y / sum h`` in log space.

        Parameters
        ----------
        X : array
            Raw inputs, as given to :func:`fit`.

        Returns
        -------
        numpy.ndarray of shape (n, n_outputs)
        """
        z = self.logits(X)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most likely class of every sample.

        Parameters
        ----------
        X : array
            Raw inputs, as given to :func:`fit`.

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return np.argmax(self.logits(X), axis=1)


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or weights. ``result`` holds the last finite epoch's :class:`FitResult`.

    Parameters
    ----------
    message : str
    result : FitResult
        The last finite epoch.

    Examples
    --------
    >>> err = DivergenceError("the loss is NaN at epoch 3", FitResult(model=None, history={"loss": [0.7]}))
    >>> isinstance(err, FloatingPointError), err.result.history["loss"]
    (True, [0.7])
    """

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


def _options(lr: Any, epochs: Any, batch_size: Any, patience: Any, progress: Any) -> tuple:
    return (check_number(lr, "lr"), check_number(epochs, "epochs", integer=True),
            check_number(batch_size, "batch_size", integer=True), check_optional_int(patience, "patience"),
            check_flag(progress, "progress"))


def _data(model: Any, representation: Any, X: Any, y: Any, regression: bool, what: str = "") -> tuple:
    width, name = (representation.s, "patch size s") if representation is not None else (
        model.n_descriptors, "n_descriptors")
    Xc = check_X(X, model.n_inputs, width, what=f"X{what}", width_name=name)
    return Xc, check_y(y, Xc.shape[0], model.n_outputs, regression, what=f"y{what}")


def _evaluate(adapter: Any, Xd: Any, y: np.ndarray, batch_size: int) -> tuple[float, float]:
    n = y.shape[0]
    parts = [adapter.logits(adapter.take(Xd, np.arange(i, min(i + batch_size, n)))) for i in range(0, n, batch_size)]
    logits = np.concatenate(parts).astype(np.float64)
    val = adapter.loss(logits, y)
    acc = float(np.mean(logits.argmax(axis=1) == y)) if y.ndim == 1 else math.nan
    return val, acc


def _run_epoch(adapter: Any, Xd: Any, yd: Any, n: int, batch_size: int, rng: np.random.Generator) -> tuple:
    perm = rng.permutation(n)
    steps = []
    for start in range(0, n, batch_size):
        idx = perm[start : start + batch_size]
        steps.append((len(idx), *adapter.step(*adapter.take_batch((Xd, yd), idx))))
    # summed on the host at the end: no per-step sync, and no eager backend op to compile
    total = sum(adapter.scalar(val) * size for size, val, _ in steps)
    correct = sum(adapter.scalar(c) for _, _, c in steps)
    return total / n, correct / n


def _diverged(epoch: int, loss: float, lr: float, kind: str, result: FitResult) -> DivergenceError:
    hint = "lower lr" + ("" if kind == "log" else ", or use parameterization='log' (product pooling)")
    return DivergenceError(
        f"training diverged at epoch {epoch}: the loss is {loss} or the weights are no longer finite (lr={lr}); "
        f"{hint}. The last finite weights (epoch {result.best_epoch}) are in this error's .result",
        result,
    )


def fit(model: Any, X: Any, y: Any, *, loss: Any = "cross_entropy", optimizer: Any = "adam", lr: float = 1e-2,
        epochs: int = 10, batch_size: int = 64, seed: Any = None, validation: Any = None,
        representation: Any = None, backend: str = "jax", progress: bool = True, patience: int | None = None,
        parameterization: str = "auto") -> FitResult:
    """Train a :class:`~tnconv.models.ConvNet` on ``(X, y)``.

    Parameters
    ----------
    model : ConvNet
        Any pooling (product, relu_max, relu_sum), shared or not, any mode tree; its weights are the
        starting point and are not modified.
    X : array (n, n_inputs, M) or (n, n_inputs, s)
        Features ``f_d(x_i)``; or raw patches of dimension ``s`` when ``representation`` is given.
    y : array (n,)
        Integer labels in ``0..n_outputs-1``; with ``loss="squared"`` also real targets ``(n, n_outputs)``.
    loss : {"cross_entropy", "squared"} or callable
        A callable ``loss(logits, y)`` gets backend arrays (jax or torch) and returns a scalar.
    optimizer : {"adam", "sgd"}, an optax transformation (jax) or a torch.optim.Optimizer class (torch)
    lr : float
    epochs, batch_size : int
    seed : int, optional
        Shuffling and the sample that fixes the signed scales; a fixed seed gives identical results.
    validation : (X_val, y_val), optional
        Evaluated after every epoch.
    representation : GaussianDescriptors, optional
        Maps patches to features; with ``learnable=True`` its means and log-scales are trained too.
    backend : {"jax", "torch"}
    progress : bool
        A progress bar over the epochs (on a terminal).
    patience : int, optional
        Early stopping: stop after ``patience`` epochs without a lower monitored loss (the validation
        loss when given, else the training loss), and keep the best epoch's weights.
    parameterization : {"auto", "log", "signed"}
        ``"log"``: positive weights stored as logs, log-sum-exp convolutions, pooling as a sum of logs,
        logits ``log h_y`` (product pooling only; any ``N``). ``"signed"``: signed weights with fixed
        per-level scales, logits ``h_y`` (any pooling; product nets of moderate ``N`` only). ``"auto"``:
        log space for product pooling, signed for ReLU and custom pooling. See :mod:`tnconv.train.logspace`.

    Returns
    -------
    FitResult
        ``.model`` (numpy weights), ``.history``, ``.representation``, ``.predict(X)``.

    Raises
    ------
    ValueError
        Mismatched ``X``/``y`` lengths, labels out of range, ``X`` of the wrong shape, NaN inputs, an
        unknown loss, optimizer, backend or parameterization, non-positive features in log space.
    TypeError
        A model that is not a ConvNet, non-integer labels for a classification loss, bad option types.
    ImportError
        The backend is not installed (naming ``pip install 'tnconv[jax]'`` or ``'tnconv[torch]'``).
    DivergenceError
        A ``FloatingPointError`` naming the epoch and a hint when the loss or the weights stop being
        finite; NaN weights are never returned (its ``.result`` holds the last finite epoch).

    Notes
    -----
    On JAX the training step is compiled once per structure (tree, widths, pooling, sharing, dtype,
    parameterization, representation shape, loss, optimizer; see
    :func:`tnconv.train.jax_cache.structure_key`) and batch shape, and reused by later fits in the
    process: seeds, learning rates of ``"adam"``/``"sgd"``, weights and data of other values cost no
    compile (cross-validation, grid searches). A callable loss, pooling operator or optax
    transformation is recognized by identity, so changing what it closes over between fits is not
    seen; :func:`tnconv.train.jax_cache.clear_cache` forgets every compiled step.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(0.1, 1.0, (64, 4, 2)); y = (X[:, 0, 0] > X[:, 0, 1]).astype(int)
    >>> res = tc.train.fit(tc.deep(4, 2, 4, n_outputs=2, seed=0), X, y, epochs=2, seed=0, progress=False)
    >>> len(res.history["loss"]), type(res.model).__name__, res.parameterization
    (2, 'ConvAC', 'log')
    >>> res.logits(X[:3]).shape, res.predict_proba(X[:3]).shape, res.predict(X[:3]).shape
    ((3, 2), (3, 2), (3,))
    """
    model = check_model(model)
    lr, epochs, batch_size, patience, progress = _options(lr, epochs, batch_size, patience, progress)
    loss_fn = resolve_loss(loss)
    regression = loss_fn is squared or (loss_fn is not cross_entropy and not isinstance(loss, str))
    X, y = _data(model, representation, X, y, regression)
    val = None if validation is None else _validation(model, representation, validation, regression)
    adapter = make_adapter(backend, model.dtype)
    obj = Objective(model, parameterization, representation)
    rng = np.random.default_rng(seed)
    Xp = obj.prepare(X)
    params = obj.init_params(Xp[rng.permutation(X.shape[0])[:SCALE_SAMPLES]])
    with adapter.context():
        adapter.setup(obj, loss_fn, optimizer, lr, params)
        return _loop(adapter, obj, (Xp, y), val, params, rng, lr, epochs, batch_size, patience, progress)


def _validation(model: Any, representation: Any, validation: Any, regression: bool) -> tuple:
    if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
        raise TypeError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__}")
    return _data(model, representation, validation[0], validation[1], regression, what="_val")


def _loop(adapter: Any, obj: Objective, train: tuple, val: tuple | None, params: dict,
          rng: np.random.Generator, lr: float, epochs: int, batch_size: int, patience: int | None,
          progress: bool) -> FitResult:
    Xp, y = train
    n = y.shape[0]
    Xd, yd = adapter.put(Xp), adapter.put(y)
    Xv = None if val is None else (adapter.put(obj.prepare(val[0])), val[1])
    keys = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")
    history: dict[str, list[float]] = {k: [] for k in keys}
    best = (math.inf, params, 0)
    last = (params, 0)
    since = 0
    epoch_iter = progress_bar(range(1, epochs + 1), desc="fit") if progress else range(1, epochs + 1)
    for epoch in epoch_iter:
        t0 = time.perf_counter()
        tl, ta = _run_epoch(adapter, Xd, yd, n, batch_size, rng)
        current = adapter.numpy_params()
        if not (math.isfinite(tl) and all(np.isfinite(p).all() for p in current.values())):
            raise _diverged(epoch, tl, lr, obj.kind, _result(obj, adapter, history, last[0], last[1], False))
        vl, va = _evaluate(adapter, Xv[0], Xv[1], batch_size) if Xv is not None else (math.nan, math.nan)
        for k, v in zip(keys, (tl, ta if y.ndim == 1 else math.nan, vl, va, time.perf_counter() - t0)):
            history[k].append(v)
        last = (current, epoch)
        monitored = vl if Xv is not None else tl
        if patience is None:
            best = (monitored, current, epoch)
            continue
        if monitored < best[0]:
            best, since = (monitored, current, epoch), 0
        else:
            since += 1
            if since >= patience:
                return _result(obj, adapter, history, best[1], best[2], True)
    return _result(obj, adapter, history, best[1], best[2], False)


def _result(obj: Objective, adapter: Any, history: dict, params: dict, epoch: int, stopped: bool) -> FitResult:
    return FitResult(obj.to_model(params), history, obj.to_representation(params), obj.kind, adapter.name,
                     epoch, stopped)

