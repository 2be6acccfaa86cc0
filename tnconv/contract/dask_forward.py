"""``forward`` on a ``dask.array`` batch: a lazy dask array, one engine call per batch chunk.

The batch axis may be chunked any way; the input and descriptor axes are joined into one chunk each
(a sample's inputs are needed together). Each chunk runs the ordinary engine (:func:`run_forward`) on
its numpy (or CuPy) block. The model enters the graph once, as one ``dask.delayed`` key that every block
task depends on: the threaded scheduler passes it by reference, and a distributed scheduler ships it to
each worker once, not once per chunk. With a ``dask.distributed.Client`` the model can also be
scattered first (``client.scatter(model, broadcast=True)``) and the future passed as ``model=``.

The shape and dtype of the features are checked when the graph is built; their values (NaN, inf) are
checked per chunk, when it is computed.

References
----------
.. [1] Dask Development Team, "Dask: Library for dynamic task scheduling", https://dask.org (2016).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

__all__ = ["forward_dask", "is_dask_array"]


def is_dask_array(x: Any) -> bool:
    """Whether ``x`` is a ``dask.array.Array`` (duck-typed: dask is not imported for the check).

    Examples
    --------
    >>> is_dask_array(np.ones(3))
    False
    """
    return any(c.__name__ == "Array" and (c.__module__ or "").startswith("dask.array") for c in type(x).__mro__)


def _block(feats: Any, model: Any, run: Any, log: bool, engine: str, backend: Any) -> Any:
    out = run(model, feats, backend=backend, log=log, engine=engine)
    if log:
        sign, logabs = out
        xp = type(sign).__module__.split(".")[0]
        stack = np.stack if xp == "numpy" else __import__(xp).stack
        return stack([sign, logabs], axis=-1)
    return out


def forward_dask(model: Any, features: Any, run: Any, backend: Any = None, log: bool = False,
                 engine: str = "auto", model_ref: Any = None) -> Any:
    """Evaluate ``model`` on a dask array of features ``(batch, n_inputs, M)``, lazily.

    Parameters
    ----------
    model : ConvNet
    features : dask.array.Array (batch, n_inputs, M)
        Chunked along the batch axis; numpy or CuPy blocks.
    run : callable
        The per-block forward, ``run(model, block, backend=, log=, engine=)`` (the engine's
        ``run_forward``, passed in so that this module does not import the engine).
    backend, log, engine
        As :func:`~tnconv.contract.engine.run_forward`, applied to every block.
    model_ref : dask Delayed or distributed Future, optional
        The model already in the graph or on the cluster (e.g. ``client.scatter(model, broadcast=True)``);
        by default one ``dask.delayed`` key holding ``model``.

    Returns
    -------
    dask.array.Array (batch, n_outputs), or a ``(sign, log_abs)`` pair of them, chunked like the batch.

    Raises
    ------
    ValueError
        Features of the wrong shape (when building the graph); NaN/inf entries (when computing).
    TypeError
        A non-real dtype.
    ImportError
        Without dask (names ``pip install 'tnconv[dask]'``).

    Examples
    --------
    >>> import dask.array as da, tnconv as tc
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((10, 8, 2))
    >>> lazy = net.forward(da.from_array(F, chunks=(4, 8, 2)))
    >>> lazy.chunks
    ((4, 4, 2), (1,))
    >>> bool(np.allclose(lazy.compute(scheduler="threads"), net.forward(F), rtol=1e-12, atol=0))
    True
    """
    try:
        import dask
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - dask is a test dependency
        raise ImportError("forward on a dask array needs dask: pip install 'tnconv[dask]'") from exc
    shape = tuple(features.shape)
    if len(shape) != 3 or shape[1:] != (model.n_inputs, model.n_descriptors):
        raise ValueError(
            f"features have shape {shape}; expected (batch, n_inputs={model.n_inputs}, "
            f"n_descriptors={model.n_descriptors})"
        )
    kind = np.dtype(features.dtype).kind
    if kind not in "fiu":
        raise TypeError(f"features have dtype {features.dtype}; expected real numbers (float32/float64 or integers)")
    x = features.rechunk({1: -1, 2: -1})
    ref = model_ref if model_ref is not None else dask.delayed(model, name=f"tnconv-model-{uuid.uuid4().hex}",
                                                               traverse=False)
    dtype = np.dtype(model.dtype)
    n_out = model.n_outputs
    meta = getattr(x, "_meta", np.empty((0, 0, 0)))
    if log:
        out = da.map_blocks(_block, x, ref, run, log=True, engine=engine, backend=backend, dtype=dtype,
                            chunks=(x.chunks[0], (n_out,), (2,)), meta=meta[:0, :0, :0].astype(dtype))
        return out[..., 0], out[..., 1]
    meta2 = meta[:0, :0, :0].reshape((0, 0)).astype(dtype)
    return da.map_blocks(_block, x, ref, run, log=False, engine=engine, backend=backend, dtype=dtype,
                         chunks=(x.chunks[0], (n_out,)), drop_axis=2, meta=meta2)
