"""Generic contraction of a :class:`~tnconv.network.TensorNetwork`.

Any optimizer opt_einsum accepts works: a name (``"greedy"``, ``"random-greedy"``, ``"auto-hq"``...), an
``opt_einsum.paths.PathOptimizer`` (cotengra's ``HyperOptimizer`` is one), an explicit linear-format
path, or a ``cotengra.ContractionTree``. Networks compiled from a model default to the structure-derived
path (:func:`~tnconv.contract.paths.structure_path`), which needs no search.

Explicit paths (the structure path included) run through a small pairwise executor: opt_einsum's own
``contract_path`` re-scans all remaining operands at every step, which is quadratic in the number of
tensors (16 s for the 12k operands of a 4096-input ConvAC, measured here), and its per-pair dispatch costs
50-165 µs. The executor (:mod:`tnconv.contract.program`) maps every pair to one ``tensordot``, broadcast
product or batched ``matmul``, merges same-shaped steps of one tree height into one call on small
networks, runs larger ones depth-first, and knows its peak memory before it starts.
``executor="opt_einsum"`` sends explicit paths to ``opt_einsum.contract`` instead.

References
----------
.. [1] D. G. A. Smith, J. Gray, JOSS 3(26), 753 (2018) (opt_einsum).
.. [2] J. Gray, S. Kourtis, Quantum 5, 410 (2021), arXiv:2002.01935 (cotengra).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from .._core.arrays import namespace
from .._core.options import check_budget
from ..models.checks import as_array
from ..models.protocol import install_hook
from .backends import Backend, check_finite_features, device_weights, resolve_backend
from .paths import network_inputs, path_cost, structure_path
from .program import compile_path, run_program

__all__ = ["EXECUTORS", "EXHAUSTIVE_LIMITS", "contract_network", "execute_path", "resolve_optimizer"]

EXECUTORS = ("auto", "pairwise", "opt_einsum")


#: Path searches that are exponential in the number of operands, and the most operands tnconv lets
#: each of them search (opt_einsum's own "auto" stops using them far below these sizes). Past the limit
#: the call is refused with a ValueError that names "greedy" and the structure path instead.
EXHAUSTIVE_LIMITS = {"optimal": 10, "branch-all": 12, "branch-2": 16, "branch-1": 24, "dp": 24,
                     "dynamic-programming": 24}

# Path searches that are deterministic for a given network, so that their path can be reused.
_CACHEABLE = ("greedy", "auto", "optimal", "branch-all", "branch-2", "branch-1", "dp", "dynamic-programming",
              "eager", "opportunistic")
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


def _is_explicit_path(optimize: Any) -> bool:
    return isinstance(optimize, (list, tuple)) and all(isinstance(s, (list, tuple)) for s in optimize)


def _check_exhaustive(name: str, n_operands: int) -> None:
    limit = EXHAUSTIVE_LIMITS.get(name)
    if limit is not None and n_operands > limit:
        raise ValueError(
            f"optimize={name!r} is an exhaustive search, exponential in the number of operands; this network "
            f"has {n_operands} operands, over the limit of {limit} for {name!r} (tnconv.contract.generic."
            "EXHAUSTIVE_LIMITS). Use optimize='greedy', a cotengra HyperOptimizer, or optimize='structure' "
            "for networks compiled from a model"
        )


def _exhaustive_name(optimize: Any) -> str | None:
    import opt_einsum as oe

    if isinstance(optimize, oe.paths.DynamicProgramming):
        return "dp"
    if isinstance(optimize, oe.paths.BranchBound):
        nbranch = getattr(optimize, "nbranch", None)
        return "branch-all" if nbranch is None else f"branch-{nbranch}" if nbranch in (1, 2) else "branch-all"
    if optimize is oe.paths.optimal:
        return "optimal"
    return None


def resolve_optimizer(tn: Any, optimize: Any, features: bool, batch: int = 1) -> tuple[Any, list | None]:
    """Turn ``optimize`` into ``(what to pass to opt_einsum, explicit path or None)``.

    Raises
    ------
    ValueError
        An unknown optimizer name, an exhaustive search (``"optimal"``, ``"dp"``, ``"branch-*"``) on more
        operands than :data:`EXHAUSTIVE_LIMITS` allows, or an explicit path that does not fit the network.
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
    n_operands = tn.n_tensors + (len(tn.open_inds) if features else 0)
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
        _check_exhaustive(optimize, n_operands)
        return optimize, None
    if hasattr(optimize, "get_path") and hasattr(optimize, "inputs"):  # cotengra.ContractionTree
        path = [tuple(int(p) for p in s) for s in optimize.get_path()]
    elif _is_explicit_path(optimize):
        path = [tuple(s) for s in optimize]
    elif isinstance(optimize, oe.paths.PathOptimizer) or callable(optimize):
        name = _exhaustive_name(optimize)
        if name is not None:
            _check_exhaustive(name, n_operands)
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
    with _CACHE_LOCK:
        cache = tn.__dict__.setdefault("_tnconv_structure_paths", {})
        hit = cache.get(key)
    if hit is None:
        hit = structure_path(tn, features=features).path
        with _CACHE_LOCK:
            cache[key] = hit
    return hit


def _searched_path(tn: Any, opt: Any, features: bool, batch: int, memory_limit: Any) -> tuple[list, int]:
    """``(path, largest intermediate in elements)`` from opt_einsum's search, cached per structure."""
    import opt_einsum as oe

    inputs, output, sizes = network_inputs(tn, features, batch)
    key = None
    if isinstance(opt, str) and opt in _CACHEABLE:
        key = (opt, memory_limit, tuple(map(tuple, inputs)), tuple(output),
               tuple(sizes[i] for ix in inputs for i in ix))
        with _CACHE_LOCK:
            hit = tn.__dict__.get("_tnconv_searched_paths", {}).get(key)
        if hit is not None:
            return hit
    eq = tn.equation(features=features)
    shapes = [tuple(sizes[i] for i in ix) for ix in inputs]
    path, info = oe.contract_path(eq, *shapes, shapes=True, optimize=opt, memory_limit=memory_limit)
    result = ([tuple(int(p) for p in s) for s in path], int(info.largest_intermediate))
    if key is not None:
        with _CACHE_LOCK:
            cache = tn.__dict__.setdefault("_tnconv_searched_paths", {})
            if len(cache) >= _CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[key] = result
    return result


def _check_features(tn: Any, features: Any, xp: Any) -> Any:
    if type(features) is np.ndarray and features.dtype.kind == "f":
        # numpy fast path (the common call): the general checks below cost ~70 us, more than a small
        # network's whole contraction; any doubt falls through to them, so messages stay the same.
        tn.check_feature_shape(features)
        if {a.dtype for a in tn.arrays if a is not None} <= {features.dtype}:
            with np.errstate(all="ignore"):
                if np.isfinite(features.sum()):  # NaN and inf propagate into the sum
                    return features
    features, fxp = as_array(features)
    if not fxp.isdtype(features.dtype, ("real floating", "integral")):
        raise TypeError(f"features have dtype {features.dtype}; expected real numbers")
    tn.check_feature_shape(features)
    dtypes = {np.dtype(a.dtype) for a in tn.arrays if a is not None}
    fdt = np.dtype(str(features.dtype).rsplit(".", 1)[-1]) if fxp.isdtype(features.dtype, "real floating") else None
    if fdt is not None and dtypes and fdt not in dtypes:
        raise TypeError(
            f"features are {features.dtype} but the network's tensors are {sorted(map(str, dtypes))}; cast one "
            "of them (e.g. features.astype(...)) so that no silent up- or down-cast happens"
        )
    if fdt is None:
        target = next(iter(dtypes)) if len(dtypes) == 1 else np.dtype(np.float64)
        features = fxp.astype(features, getattr(fxp, target.name))
    check_finite_features(features)
    return features


def _device_arrays(tn: Any, be: Backend) -> list:
    tn._require_arrays("contract")
    if be.is_numpy:
        arrays = list(tn.arrays)
        if all(type(a) is np.ndarray for a in arrays):
            return arrays
        return [np.asarray(a) if type(a).__module__.split(".")[0] != "numpy" else a for a in tn.arrays]
    key = tuple(id(a) for a in tn.arrays)
    return device_weights(tn, be, ("arrays", key), lambda b: [b.asarray(a) for a in tn.arrays])


def _check_memory_limit(memory_limit: Any) -> Any:
    if memory_limit is None or memory_limit == "max_input":
        return memory_limit
    numeric = (int, float, np.integer, np.floating)
    if isinstance(memory_limit, (bool, np.bool_)) or not isinstance(memory_limit, numeric):
        raise TypeError(f"memory_limit must be None, 'max_input' or a number of elements, got {memory_limit!r}")
    if not math.isfinite(float(memory_limit)) or memory_limit <= 0:
        raise ValueError(f"memory_limit must be a positive finite number of elements, got {memory_limit!r}")
    return int(memory_limit)


def contract_network(tn: Any, features: Any = None, optimize: Any = None, backend: str | None = None,
                     executor: str = "auto", memory_limit: Any = None, max_bytes: float | None = None) -> Any:
    """Contract ``tn`` (optionally with features on its open legs).

    The path is found first (no search for ``"structure"`` and explicit paths; searched paths of
    deterministic optimizers such as ``"greedy"`` are cached per network structure and batch size), its
    largest intermediate is checked against the byte budget, and only then does anything get allocated.

    Parameters
    ----------
    tn : TensorNetwork
    features : array (batch, n_open, M), optional
        One feature vector per open leg and sample; the result is then ``(batch,)``. NaN and inf are
        refused, as in ``ConvNet.forward``.
    optimize : str, PathOptimizer, ContractionTree or path, optional
        ``"structure"`` (default for compiled networks), any opt_einsum optimizer name (default
        ``"auto"`` otherwise), a ``PathOptimizer`` such as ``cotengra.HyperOptimizer(...)``, a
        ``cotengra.ContractionTree``, or an explicit linear-format path. Exhaustive searches
        (``"optimal"``, ``"dp"``, ``"branch-*"``) are refused past :data:`EXHAUSTIVE_LIMITS` operands.
    backend : {"numpy", "cupy"}, optional
        Defaults to the backend of ``features`` (numpy without features).
    executor : {"auto", "pairwise", "opt_einsum"}
        Who runs the path: the pairwise executor (``"auto"``, ``"pairwise"``) or ``opt_einsum.contract``.
    memory_limit : None, "max_input" or int, optional
        opt_einsum's ``memory_limit`` (elements) for the path search.
    max_bytes : float, optional
        Byte budget (default ``tnconv.options["max_dense_bytes"]``) of the compiled program's peak of
        live intermediates (:attr:`tnconv.contract.program.Program.peak`, computed before running) for the
        pairwise executor, of the largest intermediate for ``executor="opt_einsum"``; searched paths are
        also checked on their largest intermediate before they are compiled.

    Returns
    -------
    array
        Shape ``tuple(dims of open legs)``, or ``(batch,)`` with features; on the chosen backend.

    Raises
    ------
    ValueError
        Unknown backend, executor or optimizer, an exhaustive search on too many operands, an explicit
        path that does not fit, features of the wrong shape or with NaN/inf entries, a bad
        ``memory_limit``.
    TypeError
        Features on another device than ``backend``, features whose float dtype differs from the tensors'.
    tnconv.TensorTooLargeError
        Before contracting, when the program's peak (or the path's largest intermediate) exceeds the
        budget; the message names the bytes.
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
    ValueError: path step 0 (0, 99) does not fit the network: positions must be distinct and in 0..10 (11 operands ...
    """
    if not isinstance(executor, str) or executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {EXECUTORS}")
    memory_limit = _check_memory_limit(memory_limit)
    be = resolve_backend(backend, features)
    arrays = _device_arrays(tn, be)
    has_f = features is not None
    if has_f:
        features = _check_features(tn, features, be.xp)
    batch = int(features.shape[0]) if has_f else 1
    item = _item_size(arrays, features)
    # 1. The path: read off the tree, given, or searched (deterministic searches are cached). A searched
    #    path is refused on opt_einsum's count of its largest intermediate before it is compiled.
    opt, path = resolve_optimizer(tn, optimize, has_f, batch)
    if path is None:
        path, largest = _searched_path(tn, opt, has_f, batch, memory_limit)
        _check_bytes("the largest intermediate of the contraction", largest, item, max_bytes)
    elif executor == "opt_einsum":
        _check_bytes("the largest intermediate of the contraction", _largest(tn, path, has_f, batch), item, max_bytes)
    # 2. The contraction: opt_einsum, or this package's compiled program, whose peak of live intermediates
    #    (transient copies and the result included) is known, and checked, before anything is allocated.
    if executor == "opt_einsum":
        return _run_opt_einsum(tn, arrays, features, path, be)
    prog = _program(tn, path, arrays, features)
    _check_bytes("the peak of live intermediates of the contraction", prog.peak, item, max_bytes)
    if not has_f:
        return run_program(prog, arrays, _array_api(arrays, be.xp))
    xp = _array_api(arrays + [features], be.xp)
    stacked = features.transpose(1, 0, 2) if xp is np else xp.permute_dims(features, (1, 0, 2))
    return run_program(prog, arrays + [None] * len(tn.open_inds), xp, (stacked,))


def _item_size(arrays: list, features: Any) -> int:
    dtypes = {a.dtype for a in arrays} | ({features.dtype} if features is not None else set())
    return max(dt.itemsize if isinstance(dt, np.dtype) else np.dtype(str(dt).rsplit(".", 1)[-1]).itemsize
               for dt in dtypes)


def _largest(tn: Any, path: list, has_f: bool, batch: int) -> int:
    """The largest intermediate of ``path`` (or the result, if larger), in elements."""
    inputs, output, sizes = network_inputs(tn, has_f, batch)
    return max(path_cost(inputs, output, sizes, path).largest_intermediate, math.prod(sizes[i] for i in output))


def _check_bytes(what: str, elements: int, item: int, max_bytes: float | None) -> None:
    check_budget(what, _bytes(elements, item), max_bytes,
                 hint="contract with optimize='structure' (compiled networks) or a path with smaller intermediates")


def _run_opt_einsum(tn: Any, arrays: list, features: Any, path: list, be: Backend) -> Any:
    import opt_einsum as oe

    has_f = features is not None
    if has_f:
        arrays = arrays + [features[:, p, :] for p in range(len(tn.open_inds))]
    if not path:  # a single operand: opt_einsum returns it untouched for an empty path
        path = [(0,)]
    # Any namespace without einsum/transpose (array-api-strict) goes through this package's shims module.
    oe_backend = be.name if be.name in ("numpy", "cupy", "jax", "torch") else "tnconv.contract.shims"
    return oe.contract(tn.equation(features=has_f), *arrays, optimize=path, backend=oe_backend)


def _bytes(elements: int, item: int) -> float:
    return float(elements) * item if elements < 2**1000 else math.inf


def _program(tn: Any, path: list, arrays: list, features: Any) -> Any:
    """The compiled program of ``path`` on ``tn`` (features as one stacked input group), cached on ``tn``.

    Building the global cache's key walks every index of every operand (27 us for 36 tensors, more
    than the network's arithmetic); paths from this module's caches are the same object on every call,
    so the program is looked up by that object (kept alive by the entry) and the operand shapes.
    """
    has_f = features is not None
    key = (id(path), has_f, tuple(features.shape) if has_f else None, tuple([tuple(a.shape) for a in arrays]))
    with _CACHE_LOCK:
        cache = tn.__dict__.setdefault("_tnconv_programs", {})
        hit = cache.get(key)
    if hit is not None and hit[0] is path:
        return hit[1]
    batch = int(features.shape[0]) if has_f else 1
    inputs, output, sizes = network_inputs(tn, has_f, batch)
    shapes = [tuple(a.shape) for a in arrays] + [tuple(sizes[i] for i in ix) for ix in inputs[len(arrays):]]
    groups = [(len(arrays), len(tn.open_inds))] if has_f and tn.open_inds else []
    prog = compile_path(inputs, output, path, shapes, groups)
    with _CACHE_LOCK:
        if len(cache) >= _CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[key] = (path, prog)
    return prog


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
    prog = compile_path(inputs, output, path, [tuple(a.shape) for a in ops])
    return run_program(prog, ops, _array_api(ops, xp))


def _array_api(ops: Sequence[Any], xp: Any) -> Any:
    """The namespace to run on: numpy itself for numpy >= 2 arrays (it has the array API names, and its
    functions skip array_api_compat's wrappers), else the operands' array API namespace."""
    if not ops:
        return xp
    if hasattr(np, "permute_dims") and all(type(a) is np.ndarray for a in ops):
        return np
    if xp is np or not hasattr(xp, "permute_dims"):
        return namespace(*ops)
    return xp


# TensorNetwork.contract sits left of this layer and calls the executor through this hook.
install_hook("contract", contract_network)
