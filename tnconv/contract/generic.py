"""Generic contraction of a :class:`~tnconv.network.TensorNetwork`.

Any optimizer opt_einsum accepts works: a name (``"greedy"``, ``"random-greedy"``, ``"auto-hq"``...), an
``opt_einsum.paths.PathOptimizer`` (cotengra's ``HyperOptimizer`` is one), an explicit linear-format
path, or a ``cotengra.ContractionTree``. Networks compiled from a model default to the structure-derived
path (:func:`~tnconv.contract.paths.structure_path`), which needs no search.

Explicit paths (the structure path included) run through a small pairwise executor: opt_einsum's own
``contract_path`` re-scans all remaining operands at every step, which is quadratic in the number of
tensors (16 s for the 12k operands of a 4096-input ConvAC, measured here), and its per-pair dispatch costs
50-165 µs. The executor maps every pair to one ``tensordot``, broadcast product or batched ``matmul``.
``executor="opt_einsum"`` sends explicit paths to ``opt_einsum.contract`` instead.

References
----------
.. [1] D. G. A. Smith, J. Gray, JOSS 3(26), 753 (2018) (opt_einsum).
.. [2] J. Gray, S. Kourtis, Quantum 5, 410 (2021), arXiv:2002.01935 (cotengra).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from .backends import Backend, device_weights, resolve_backend
from .paths import network_inputs, path_cost, structure_path

__all__ = ["EXECUTORS", "contract_network", "execute_path", "resolve_optimizer"]

EXECUTORS = ("auto", "pairwise", "opt_einsum")


def _is_explicit_path(optimize: Any) -> bool:
    return isinstance(optimize, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in optimize)


def resolve_optimizer(tn: Any, optimize: Any, features: bool, batch: int = 1) -> tuple[Any, list | None]:
    """Turn ``optimize`` into ``(what to pass to opt_einsum, explicit path or None)``.

    Raises
    ------
    ValueError
        An unknown optimizer name, or an explicit path that does not fit the network.
    TypeError
        Anything that is not a name, an explicit path, a ``PathOptimizer`` or a ``ContractionTree``.

    Examples
    --------
    >>> import tnconv as tc
    >>> tn = tc.deep(4, 2, 2, seed=0).to_tensor_network()
    >>> resolve_optimizer(tn, None, features=False)[1][:2]
    [(0, 1), (0, 5)]
    >>> resolve_optimizer(tn, "greedy", features=False)
    ('greedy', None)
    """
    import opt_einsum as oe

    if optimize is None:
        optimize = "structure" if tn.tree is not None and tn.tensor_nodes is not None else "auto"
    if isinstance(optimize, str):
        if optimize == "structure":
            path = _cached_structure_path(tn, features)
            return path, path
        try:
            oe.paths.get_path_fn(optimize)
        except KeyError:
            names = sorted(oe.paths._PATH_OPTIONS) if hasattr(oe.paths, "_PATH_OPTIONS") else []
            raise ValueError(
                f"unknown optimizer {optimize!r}; use 'structure', an opt_einsum name {names}, a PathOptimizer "
                "(e.g. cotengra.HyperOptimizer), a cotengra ContractionTree or an explicit path"
            ) from None
        return optimize, None
    if hasattr(optimize, "get_path") and hasattr(optimize, "inputs"):  # cotengra.ContractionTree
        path = [tuple(int(p) for p in s) for s in optimize.get_path()]
    elif _is_explicit_path(optimize):
        path = [tuple(s) for s in optimize]
    elif isinstance(optimize, oe.paths.PathOptimizer) or callable(optimize):
        return optimize, None
    else:
        raise TypeError(
            f"optimize must be an optimizer name, a PathOptimizer, a ContractionTree or a path, got {optimize!r}"
        )
    inputs, output, sizes = network_inputs(tn, features, batch)
    path_cost(inputs, output, sizes, path)  # raises ValueError naming the offending step
    return path, path


def _cached_structure_path(tn: Any, features: bool) -> list:
    # The path depends on the network's structure only (not on the batch size): reuse it across calls.
    key = (features, id(tn.inds), len(tn.inds), id(tn.tree))
    cache = tn.__dict__.setdefault("_tnconv_structure_paths", {})
    if key not in cache:
        cache[key] = structure_path(tn, features=features).path
    return cache[key]


def _check_features(tn: Any, features: Any, xp: Any) -> Any:
    if not hasattr(features, "shape") or not hasattr(features, "dtype"):
        features = np.asarray(features)
    if features.dtype.kind not in "fiu":
        raise TypeError(f"features have dtype {features.dtype}; expected real numbers")
    tn.check_feature_shape(features)
    dtypes = {np.dtype(a.dtype) for a in tn.arrays if a is not None}
    if features.dtype.kind == "f" and dtypes and features.dtype not in dtypes:
        raise TypeError(
            f"features are {features.dtype} but the network's tensors are {sorted(map(str, dtypes))}; cast one "
            "of them (e.g. features.astype(...)) so that no silent up- or down-cast happens"
        )
    if features.dtype.kind in "iu":
        features = features.astype(next(iter(dtypes)) if len(dtypes) == 1 else np.float64)
    return features


def _device_arrays(tn: Any, be: Backend) -> list:
    tn._require_arrays("contract")
    if be.is_numpy:
        return [np.asarray(a) if type(a).__module__.split(".")[0] != "numpy" else a for a in tn.arrays]
    key = tuple(id(a) for a in tn.arrays)
    return device_weights(tn, be, ("arrays", key), lambda b: [b.asarray(a) for a in tn.arrays])


def contract_network(tn: Any, features: Any = None, optimize: Any = None, backend: str | None = None,
                     executor: str = "auto", **kw: Any) -> Any:
    """Contract ``tn`` (optionally with features on its open legs).

    Parameters
    ----------
    tn : TensorNetwork
    features : array (batch, n_open, M), optional
        One feature vector per open leg and sample; the result is then ``(batch,)``.
    optimize : str, PathOptimizer, ContractionTree or path, optional
        ``"structure"`` (default for compiled networks), any opt_einsum optimizer name (default
        ``"auto"`` otherwise), a ``PathOptimizer`` such as ``cotengra.HyperOptimizer(...)``, a
        ``cotengra.ContractionTree``, or an explicit linear-format path.
    backend : {"numpy", "cupy"}, optional
        Defaults to the backend of ``features`` (numpy without features).
    executor : {"auto", "pairwise", "opt_einsum"}
        Who runs an explicit path: the pairwise executor (``auto``) or ``opt_einsum.contract``.
    **kw
        Passed to ``opt_einsum.contract`` (e.g. ``memory_limit``).

    Returns
    -------
    array
        Shape ``tuple(dims of open legs)``, or ``(batch,)`` with features; on the chosen backend.

    Raises
    ------
    ValueError
        Unknown backend or optimizer, an explicit path that does not fit, features of the wrong shape.
    TypeError
        Features on another device than ``backend``, features whose float dtype differs from the tensors'.
    ImportError
        ``backend="cupy"`` without CuPy or a GPU (names the ``gpu`` extra).

    References
    ----------
    .. [1] J. Gray, S. Kourtis, Quantum 5, 410 (2021), arXiv:2002.01935.

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(4, 2, 3, seed=0)
    >>> tn = net.to_tensor_network()
    >>> F = np.random.default_rng(0).standard_normal((6, 4, 2))
    >>> out = contract_network(tn, F)                      # structure path, no search
    >>> bool(np.allclose(out, net.forward(F)[:, 0]))
    True
    >>> bool(np.allclose(contract_network(tn, F, optimize="greedy"), out))
    True
    >>> contract_network(tn, F, optimize=[(0, 99)])
    Traceback (most recent call last):
    ...
    ValueError: path step 0 (0, 99) does not fit the network: positions must be distinct and in 0..10 (11 operands remain at that step)
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {EXECUTORS}")
    be = resolve_backend(backend, features)
    arrays = _device_arrays(tn, be)
    batch = 1
    if features is not None:
        features = _check_features(tn, features, be.xp)
        batch = int(features.shape[0])
        arrays = arrays + [features[:, p, :] for p in range(len(tn.open_inds))]
    opt, path = resolve_optimizer(tn, optimize, features is not None, batch)
    if path is not None and executor != "opt_einsum" and not kw:
        inputs, output, _ = network_inputs(tn, features is not None, batch)
        return execute_path(inputs, output, path, arrays, be.xp)
    import opt_einsum as oe

    eq = tn.equation(features=features is not None)
    return oe.contract(eq, *arrays, optimize=opt, backend=be.name, **kw)


def execute_path(inputs: Sequence[Sequence[Hashable]], output: Sequence[Hashable], path: Sequence[Sequence[int]],
                 arrays: Sequence[Any], xp: Any = np) -> Any:
    """Run a linear-format ``path`` with one array call per pair.

    Parameters
    ----------
    inputs : index tuples of the operands
    output : the output indices, in order
    path : opt_einsum linear format (already validated)
    arrays : the operands
    xp : array module (numpy or cupy)

    Returns
    -------
    array with axes in ``output`` order

    Examples
    --------
    >>> a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    >>> bool(np.allclose(execute_path([("i", "j"), ("j", "k")], ("k", "i"), [(0, 1)], [a, b]), (a @ b).T))
    True
    """
    ops = list(arrays)
    inds = [tuple(ix) for ix in inputs]
    count: Counter = Counter(i for ix in inds for i in ix)
    out = set(output)
    for step in path:
        taken = [(ops[p], inds[p]) for p in step]
        for p in sorted(step, reverse=True):
            del ops[p]
            del inds[p]
        for _, ix in taken:
            count.subtract(ix)
        union = {i for _, ix in taken for i in ix}
        keep = {i for i in union if count[i] > 0 or i in out}
        x, ix = taken[0]
        if len(taken) == 1:
            x, ix = _sum_out(x, ix, keep, xp)
        for j in range(1, len(taken)):
            y, iy = taken[j]
            later = {i for _, iz in taken[j + 1 :] for i in iz}
            x, ix = _pair(x, ix, y, iy, keep | later, xp)
        count.update(ix)
        ops.append(x)
        inds.append(ix)
    if len(ops) != 1:
        raise ValueError(f"the path leaves {len(ops)} operands; it must reduce them to one")
    x, ix = _sum_out(ops[0], inds[0], out, xp)
    return xp.transpose(x, [ix.index(i) for i in output]) if tuple(ix) != tuple(output) else x


def _sum_out(x: Any, ix: tuple, keep: set, xp: Any) -> tuple[Any, tuple]:
    drop = [k for k, i in enumerate(ix) if i not in keep]
    if not drop:
        return x, ix
    return x.sum(axis=tuple(drop)), tuple(i for i in ix if i in keep)


def _pair(a: Any, ia: tuple, b: Any, ib: tuple, keep: set, xp: Any) -> tuple[Any, tuple]:
    sb = set(ib)
    a, ia = _sum_out(a, ia, keep | sb, xp)
    sa = set(ia)
    b, ib = _sum_out(b, ib, keep | sa, xp)
    sb = set(ib)
    batch = [i for i in ia if i in sb and i in keep]
    summed = [i for i in ia if i in sb and i not in keep]
    afree = [i for i in ia if i not in sb]
    bfree = [i for i in ib if i not in sa]
    if not batch:
        r = xp.tensordot(a, b, axes=([ia.index(i) for i in summed], [ib.index(i) for i in summed]))
        return r, tuple(afree + bfree)
    shape = dict(zip(ia, a.shape))
    shape.update(zip(ib, b.shape))

    def prod(ix: list) -> int:
        p = 1
        for i in ix:
            p *= shape[i]
        return p

    at = xp.transpose(a, [ia.index(i) for i in batch + afree + summed])
    bt = xp.transpose(b, [ib.index(i) for i in batch + summed + bfree])
    Pb, Pa, Pc, Pf = prod(batch), prod(afree), prod(summed), prod(bfree)
    if not summed:
        r = at.reshape(Pb, Pa, 1) * bt.reshape(Pb, 1, Pf)
    else:
        r = xp.matmul(at.reshape(Pb, Pa, Pc), bt.reshape(Pb, Pc, Pf))
    rinds = batch + afree + bfree
    return r.reshape([shape[i] for i in rinds]), tuple(rinds)
