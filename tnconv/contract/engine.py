"""Dispatch of ``ConvNet.forward`` to an evaluation engine, and the coefficient tensor by contraction.

Engines
-------
``"levels"``
    One stacked GEMM plus one pooling per tree level (uniform trees: balanced 1D, 2D grids,
    interleaved). Any pooling operator. See :mod:`tnconv.contract.levels`.
``"nodes"``
    Any tree: nodes grouped by height and shape, one stacked GEMM per group.
``"reference"``
    The model's node-by-node numpy oracle (``model._forward_reference``).
``"auto"``
    ``"levels"`` when the tree allows it, ``"nodes"`` otherwise.

All engines agree to about 1e-12 relative in float64 (tested against each other and against brute-force
sums in ``tests/test_contract.py``).

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.options import check_budget
from .backends import resolve_backend
from .levels import level_plan, run_levels, run_nodes
from .logscale import check_flag, check_log_operator

__all__ = ["ENGINES", "coefficient_tensor", "run_forward", "select_engine"]

ENGINES = ("auto", "levels", "nodes", "reference")


def select_engine(model: Any, engine: str = "auto") -> str:
    """The engine ``engine="auto"`` resolves to for ``model`` (others are returned unchanged).

    Raises
    ------
    ValueError
        For an unknown engine name.

    Examples
    --------
    >>> import tnconv as tc
    >>> select_engine(tc.deep(8, 2, 2)), select_engine(tc.ConvAC(((0, 1), 2), 2, 2))
    ('levels', 'nodes')
    """
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if engine != "auto":
        return engine
    try:
        level_plan(model)
    except ValueError:
        return "nodes"
    return "levels"


def run_forward(model: Any, features: Any, backend: str | None = None, log: bool = False,
                engine: str = "auto") -> Any:
    """Evaluate ``model`` on ``features`` with the chosen engine and backend.

    Parameters
    ----------
    model : ConvNet
    features : array (batch, n_inputs, M)
        numpy or cupy; integer features are cast to the model's dtype.
    backend : {"numpy", "cupy"}, optional
        Defaults to the backend of ``features``.
    log : bool
        Return ``(sign, log|h|)`` with exact power-of-two rescaling after every convolution and inside
        every pooling window (product, relu_max, relu_sum only); see :mod:`tnconv.contract.logscale`
        for the accuracy.
    engine : {"auto", "levels", "nodes", "reference"}

    Returns
    -------
    array (batch, n_outputs) on the backend, or a ``(sign, log_abs)`` pair.

    Raises
    ------
    ValueError
        Unknown engine or backend, features of the wrong shape or with NaN/inf, ``engine="levels"`` on a
        tree that is not uniform, ``log=True`` with a non-homogeneous pooling operator.
    TypeError
        Features on another device than ``backend``, features of a non-real dtype, ``log`` not a bool.
    ImportError
        ``backend="cupy"`` without CuPy or without a GPU (names ``pip install 'tnconv[gpu]'``).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(16, 3, 4, seed=0)
    >>> F = np.random.default_rng(0).standard_normal((5, 16, 3))
    >>> fast, ref = net.forward(F, engine="levels"), net.forward(F, engine="reference")
    >>> bool(np.allclose(fast, ref, rtol=1e-12, atol=0))
    True
    >>> sign, logabs = net.forward(F, log=True)
    >>> bool(np.allclose(sign * np.exp(logabs), ref))
    True
    """
    log = check_flag(log, "log")
    engine = select_engine(model, engine)
    be = resolve_backend(backend, features)
    if engine == "reference":
        if not be.is_numpy:
            raise ValueError("engine='reference' runs on numpy only; use engine='levels' or 'nodes' on the GPU")
        return model._forward_reference(features, log=log)
    if log:
        check_log_operator(model.g)
    from ..models.convnet import check_features

    feats = check_features(features, model.n_inputs, model.n_descriptors, model.dtype)
    if engine == "levels":
        return run_levels(model, feats, be, log=log)
    return run_nodes(model, feats, be, log=log)


def coefficient_tensor(model: Any, output: int = 0, backend: str | None = None,
                       max_bytes: float | None = None) -> Any:
    """The coefficient tensor ``A^y`` of a ConvAC, by contracting its tensor network.

    The network is contracted bottom-up over the mode tree (the structure path), on numpy or cupy.

    Parameters
    ----------
    model : ConvAC (any ConvNet with product pooling)
    output : int
        The output channel ``y``.
    backend : {"numpy", "cupy"}, optional
        Default ``"numpy"``; with ``"cupy"`` the result stays on the GPU.
    max_bytes : float, optional
        Byte budget for the result and every intermediate (default
        ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    array of shape ``(M,) * n_inputs``

    Raises
    ------
    ValueError
        Non-product pooling (there is no coefficient tensor; use ``grid_tensor``), a bad ``output``.
    tnconv.TensorTooLargeError
        Before allocating, when the tensor or an intermediate exceeds the budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, COLT 2016, arXiv:1509.05009, Sec. 3.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(4, 2, 3, seed=0)
    >>> bool(np.allclose(coefficient_tensor(net), net.coefficient_tensor(), rtol=1e-12, atol=0))
    True
    """
    if not model.g.is_product:
        raise ValueError(
            f"a ConvNet with pooling {model.g.name!r} has no coefficient tensor; use grid_tensor(templates)"
        )
    output = model._check_output(output)
    be = resolve_backend(backend)
    from ..network import TensorNetwork
    from .generic import execute_path
    from .paths import structure_path

    tn = TensorNetwork.from_convac(model, output=output)
    item = np.dtype(model.dtype).itemsize
    n = model.n_inputs
    check_budget(f"the coefficient tensor ({model.n_descriptors}^{n} entries)",
                 float(model.n_descriptors) ** n * item, max_bytes)
    sp = structure_path(tn, features=False)
    check_budget("the largest intermediate of the coefficient tensor's contraction",
                 float(sp.cost.largest_intermediate) * item, max_bytes)
    arrays = [be.asarray(a) for a in tn.arrays]
    return execute_path(sp.inputs, sp.output, sp.path, arrays, be.xp)
