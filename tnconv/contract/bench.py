"""Benchmark contraction paths on a user's own network: ``tc.benchmark_paths`` (CLI: ``tnconv bench paths``).

Every method gets the same random features (``(batch, n_inputs, M)``) and is timed the same way: the path
search once, then the contraction alone, ``repeats`` times (the median is reported). A method whose
largest intermediate would exceed the byte budget is reported ``infeasible`` from its path, without
running it (opt_einsum's ``greedy`` on a deep ConvAC plans intermediates of 1e12-1e19 elements).

Methods
-------
``levels``         tnconv's fast executor (``model.forward``; models only)
``nodes``          tnconv's any-tree engine (models only)
``structure``      the structure-derived path, run by tnconv's pairwise executor
``structure+oe``   the same path through ``opt_einsum.contract_expression``
``reference``      plain per-node numpy (``model._forward_reference``, 1-thread BLAS; models only)
``cotengra``       ``cotengra.HyperOptimizer`` (capped by ``max_time`` / ``max_repeats``), contracted by
                   cotengra's ``ContractionTree.contract``
``quimb``          quimb's ``contraction_tree`` (a capped ``HyperOptimizer``, see ``quimb_optimize``)
                   then quimb's ``contract`` (explicit ``output_inds``)
any other string   an opt_einsum optimizer name (``greedy``, ``random-greedy``, ``auto-hq``, ``dp``...)
a PathOptimizer    used through ``opt_einsum.contract_path``
``gemm``           the GEMM-equivalent limit: one square matmul with the structure path's flop count

References
----------
.. [1] D. G. A. Smith, J. Gray, JOSS 3(26), 753 (2018) (opt_einsum).
.. [2] J. Gray, S. Kourtis, Quantum 5, 410 (2021), arXiv:2002.01935 (cotengra).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .bench_rows import PathBenchmark, Recorder, format_table, median_time
from .paths import network_inputs, path_cost, structure_path

__all__ = ["DEFAULT_OPTIMIZERS", "PathBenchmark", "benchmark_paths", "format_table"]

DEFAULT_OPTIMIZERS = ("levels", "structure", "structure+oe", "greedy", "random-greedy", "cotengra", "quimb",
                      "reference", "gemm")
_MODEL_ONLY = ("levels", "nodes", "reference")


def _symbol_map(inputs: Sequence[Sequence[Any]]) -> dict:
    # cotengra builds einsum strings from the labels, so give it single-character symbols.
    from opt_einsum import get_symbol

    sym: dict = {}
    for ix in inputs:
        for i in ix:
            if i not in sym:
                sym[i] = get_symbol(len(sym))
    return sym


def _label(opt: Any) -> str:
    if isinstance(opt, str):
        return opt
    return type(opt).__name__


def _never_run() -> None:  # pragma: no cover - record() refuses to run over-budget paths
    return None


def _first_output(model: Any, features: Any, engine: str) -> Any:
    return model.forward(features, engine=engine)[:, 0]


def _quimb_contract(qt: Any, qtree: Any, batch_index: str) -> Any:
    return qt.contract(..., optimize=qtree, output_inds=(batch_index,)).data


@dataclass
class _Problem:
    """The network under test, resolved once: what every method contracts."""

    model: Any  # the model, or None for a plain network
    tn: Any
    features: Any
    inputs: list
    output: tuple
    sizes: dict
    eq: str
    ops: list
    structure: Any = None  # the structure path (None without a mode tree)
    structure_s: float = 0.0  # its search time

    @property
    def shapes(self) -> list:
        return [o.shape for o in self.ops]


def _resolve(model_or_tn: Any, features: Any, batch: int, seed: int) -> _Problem:
    """The network of ``model_or_tn``, its features (random ones by default) and its structure path."""
    from ..network import TensorNetwork

    batch = int(batch)
    if isinstance(model_or_tn, TensorNetwork):
        model, tn = None, model_or_tn
    elif hasattr(model_or_tn, "tree") and hasattr(model_or_tn, "weights"):
        model = model_or_tn
        if not model.g.is_product:
            raise ValueError(
                f"benchmark_paths compiles a tensor network, which needs product pooling, not {model.g.name!r}"
            )
        tn = TensorNetwork.from_convac(model)
    else:
        raise TypeError(f"benchmark_paths needs a ConvAC or a TensorNetwork, got {type(model_or_tn).__name__}")
    M = [tn.size_dict[i] for i in tn.open_inds]
    if features is None:
        if len(set(M)) != 1:
            raise ValueError("open legs of different dimensions: pass features explicitly")
        features = np.random.default_rng(seed).standard_normal((batch, len(tn.open_inds), M[0]))
        if model is not None:
            features = features.astype(model.dtype)
    batch = int(features.shape[0])
    inputs, output, sizes = network_inputs(tn, True, batch)
    problem = _Problem(model, tn, features, inputs, output, sizes, tn.equation(features=True), tn.operands(features))
    if tn.tree is not None and tn.tensor_nodes is not None:
        t0 = time.perf_counter()
        problem.structure = structure_path(tn, features=True, batch=batch)
        problem.structure_s = time.perf_counter() - t0
    return problem


def _reference_output(model: Any, features: Any) -> Any:
    from .backends import blas_threads

    # single-threaded BLAS: the default thread pool is 5-50x slower on these small GEMMs
    with blas_threads(1):
        return model._forward_reference(features)[:, 0]


def _bench_model_engine(label: str, p: _Problem, rec: Recorder) -> None:
    """``levels``, ``nodes`` and ``reference``: the model's own forward passes (flops of the structure path)."""
    if p.model is None:
        rec.skip(label, "n/a: needs a model")
        return
    cost = p.structure.cost if p.structure is not None else None
    if label == "reference":
        rec.record(label, 0.0, cost, partial(_reference_output, p.model, p.features))
    else:
        rec.record(label, 0.0, cost, partial(_first_output, p.model, p.features, label))


def _bench_structure(label: str, p: _Problem, rec: Recorder) -> None:
    """``structure`` (tnconv's pairwise executor) and ``structure+oe`` (opt_einsum's) on the structure path."""
    import opt_einsum as oe

    from .generic import execute_path

    if p.structure is None:
        rec.skip(label, "n/a: the network has no mode tree")
    elif label == "structure":
        rec.record(label, p.structure_s, p.structure.cost,
                   partial(execute_path, p.inputs, p.output, p.structure.path, p.ops))
    else:
        t0 = time.perf_counter()
        expr = oe.contract_expression(p.eq, *p.shapes, optimize=p.structure.path)
        rec.record(label, p.structure_s + time.perf_counter() - t0, p.structure.cost, partial(expr, *p.ops))


def _bench_gemm(p: _Problem, rec: Recorder, seed: int) -> None:
    """The GEMM-equivalent limit: one square matmul with the structure path's flop count."""
    from .backends import blas_threads

    if p.structure is None:
        rec.skip("gemm", "n/a: the network has no mode tree")
        return
    n = max(1, round((p.structure.cost.flops / 2) ** (1 / 3)))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n)).astype(p.features.dtype)
    B = rng.standard_normal((n, n)).astype(p.features.dtype)
    # The machine's limit: the faster of single- and multi-threaded BLAS (on a loaded machine the
    # threaded one can be many times slower).
    with blas_threads(1):
        one = median_time(partial(np.matmul, A, B), rec.repeats, rec.max_time)[1]
    many = median_time(partial(np.matmul, A, B), rec.repeats, rec.max_time)[1]
    rec.add({"method": "gemm", "search_s": None, "flops": int(2 * n**3), "largest_intermediate": n * n,
                     "contract_s": min(one, many), "ratio": None,
                     "status": f"ok: one {n}x{n} matmul, {'1 thread' if one < many else 'all threads'}"})


def _hyper_optimizer(rec: Recorder, max_repeats: int, executor: Any) -> Any:
    """A cotengra ``HyperOptimizer`` that ends its own search a little before the hard cap (so that it
    returns its tree), serial unless an executor is given (cotengra's ``parallel=``)."""
    import warnings

    import cotengra as ctg

    soft = None if rec.max_time is None else 0.8 * rec.max_time
    with warnings.catch_warnings():  # said on every construction; the paths are still valid without it
        warnings.filterwarnings("ignore", message=".*kahypar", category=UserWarning)
        return ctg.HyperOptimizer(max_repeats=max_repeats, max_time=soft, progbar=False,
                                  parallel=False if executor is None else executor)


def _best_tree(opt: Any) -> Any:
    return getattr(opt, "best", {}).get("tree")


def _bench_cotengra(p: _Problem, rec: Recorder, max_repeats: int, executor: Any) -> None:
    """A capped ``cotengra.HyperOptimizer`` search, contracted by cotengra's ``ContractionTree``."""
    try:
        opt = _hyper_optimizer(rec, max_repeats, executor)
    except ImportError:
        rec.skip("cotengra", "n/a: pip install 'tnconv[quimb]'")
        return
    sym = _symbol_map(p.inputs)
    found = rec.search("cotengra", partial(opt.search, [tuple(sym[i] for i in ix) for ix in p.inputs],
                                           tuple(sym[i] for i in p.output),
                                           {sym[i]: d for i, d in p.sizes.items() if i in sym}),
                       partial(_best_tree, opt))
    if found is None:
        return
    tree, search = found
    cost = path_cost(p.inputs, p.output, p.sizes, [tuple(s) for s in tree.get_path()])
    rec.record("cotengra", search, cost, partial(tree.contract, p.ops))


def _best_path(opt: Any) -> Any:
    tree = _best_tree(opt)
    return None if tree is None else tree.get_path()


def _bench_quimb(p: _Problem, rec: Recorder, optimize: Any, max_repeats: int, executor: Any) -> None:
    """quimb's ``contraction_tree`` (capped search) and ``contract`` with explicit ``output_inds``."""
    try:
        import quimb.tensor as qtn
    except ImportError:
        rec.skip("quimb", "n/a: pip install 'tnconv[quimb]'")
        return
    qt = p.tn.to_quimb()
    bname = "__batch__"
    for k, i in enumerate(p.tn.open_inds):
        qt.add_tensor(qtn.Tensor(p.features[:, k, :], inds=(bname, str(i)), tags={f"F{k}"}))
    if optimize is None:
        try:  # quimb's own "auto-hq" has no time cap (96 s at N = 256 here): cap the search
            optimize = _hyper_optimizer(rec, max_repeats, executor)
        except ImportError:
            optimize = "auto-hq"
    found = rec.search("quimb", partial(qt.contraction_tree, optimize=optimize, output_inds=(bname,)),
                       partial(_best_path, optimize))
    if found is None:
        return
    qtree, search = found
    if not hasattr(qtree, "get_path"):  # stopped at the cap: quimb's tree from the best path found
        qtree = qt.contraction_tree(optimize=qtree, output_inds=(bname,))
    cost = path_cost([tuple(t.inds) for t in qt.tensors], (bname,),
                     {i: d for t in qt.tensors for i, d in zip(t.inds, t.shape)},
                     [tuple(s) for s in qtree.get_path()])
    rec.record("quimb", search, cost, partial(_quimb_contract, qt, qtree, bname))


def _opt_einsum_optimizer(opt: Any, max_repeats: int, max_time: float | None) -> Any:
    """``opt`` checked against opt_einsum's optimizer names; ``random-greedy`` gets the search caps
    (its own limit a little before the hard cap, so that it returns its path)."""
    import opt_einsum as oe

    if not isinstance(opt, str):
        return opt
    try:
        oe.paths.get_path_fn(opt)
    except KeyError:
        raise ValueError(
            f"unknown method {opt!r}: use one of {DEFAULT_OPTIMIZERS + ('nodes',)} or an opt_einsum optimizer name"
        ) from None
    if opt != "random-greedy":
        return opt
    return oe.RandomGreedy(max_repeats=max_repeats, max_time=None if max_time is None else 0.8 * max_time)


def _random_best(opt: Any) -> Any:
    # opt_einsum's random optimizers keep the best path found so far
    best = getattr(opt, "best", None)
    if isinstance(best, dict) and best.get("ssa_path") is not None:
        return opt.path
    return None


def _bench_opt_einsum(opt: Any, p: _Problem, rec: Recorder, max_repeats: int) -> None:
    """An opt_einsum optimizer (name or ``PathOptimizer``), run by opt_einsum's own executor."""
    import opt_einsum as oe

    label = _label(opt)
    opt = _opt_einsum_optimizer(opt, max_repeats, rec.max_time)
    found = rec.search(label, lambda: oe.contract_path(p.eq, *p.shapes, shapes=True, optimize=opt)[0],
                       partial(_random_best, opt))
    if found is None:
        return
    path, search = found
    cost = path_cost(p.inputs, p.output, p.sizes, path)
    if rec.over_budget(cost):
        rec.record(label, search, cost, _never_run)  # record() reports it infeasible without running it
        return
    # building the expression (quadratic in the number of tensors) belongs to the path cost, not to
    # the contraction
    t0 = time.perf_counter()
    expr = oe.contract_expression(p.eq, *p.shapes, optimize=path)
    rec.record(label, search + time.perf_counter() - t0, cost, partial(expr, *p.ops))


def _bench_method(opt: Any, p: _Problem, rec: Recorder, seed: int, max_repeats: int, quimb_optimize: Any,
                  executor: Any) -> None:
    """One method's row(s), by the method family of ``opt``."""
    label = _label(opt)
    if label in _MODEL_ONLY:
        _bench_model_engine(label, p, rec)
    elif label in ("structure", "structure+oe"):
        _bench_structure(label, p, rec)
    elif label == "gemm":
        _bench_gemm(p, rec, seed)
    elif label == "cotengra":
        _bench_cotengra(p, rec, max_repeats, executor)
    elif label == "quimb":
        _bench_quimb(p, rec, quimb_optimize, max_repeats, executor)
    else:
        _bench_opt_einsum(opt, p, rec, max_repeats)


def benchmark_paths(model_or_tn: Any, optimizers: Sequence[Any] | None = None, batch: int = 256,
                    repeats: int = 5, max_bytes: float | None = None, seed: int = 0, max_time: float = 10.0,
                    max_repeats: int = 32, features: Any = None, show_progress: bool = True,
                    check: bool = True, quimb_optimize: Any = None, total_time: float | None = None,
                    on_row: Callable[[dict], Any] | None = None, executor: Any = None) -> PathBenchmark:
    """Compare contraction methods on one network with features attached.

    Parameters
    ----------
    model_or_tn : ConvAC or TensorNetwork
        A model (its network is ``to_tensor_network()``) or any network with open legs.
    optimizers : sequence, optional
        Method names (see the module docstring), opt_einsum names or ``PathOptimizer`` objects.
        Default :data:`DEFAULT_OPTIMIZERS`.
    batch : int
        Samples per contraction.
    repeats : int
        Timed contractions per method (the median is reported).
    max_bytes : float, optional
        A path whose largest intermediate exceeds this many bytes is reported ``infeasible`` and not
        run. Default ``tnconv.options["max_dense_bytes"]``.
    seed : int
        Seed of the random features.
    max_time : float or None
        A wall-clock cap, in seconds, on every path search (``None``: no cap). In the main thread of
        a POSIX process it is hard (:func:`tnconv.contract.time_cap.time_cap`): a search still running
        at the cap is stopped; ``cotengra``, ``quimb`` and ``random-greedy`` are told to end at 80% of
        it, and if stopped they keep the best path found so far (``status`` says so), any other
        search is reported ``timeout`` and not contracted. Elsewhere a search that ran past the cap is
        reported ``timeout`` afterwards. The timed contractions stop repeating once they have taken
        ``max_time`` in all (one warm-up and at least one timed call are always made).
    max_repeats : int
        Trials of the ``random-greedy`` and ``cotengra`` searches.
    features : array (batch, n_inputs, M), optional
        Use these instead of random ones.
    show_progress : bool
        Progress bar on stderr (only when it is a terminal).
    check : bool
        Compare every method's output with the first successful one; a disagreement (relative 1e-6)
        is reported in the ``status`` column.
    quimb_optimize : optional
        The ``optimize`` of quimb's ``contraction_tree``; default a cotengra ``HyperOptimizer`` capped
        by ``max_time`` and ``max_repeats`` (``"auto-hq"`` without cotengra).
    total_time : float, optional
        No method starts once the benchmark has run this many seconds; the remaining ones get a
        ``skipped`` row.
    on_row : callable, optional
        Called with a copy of each row as soon as it is finished (partial results as they come;
        ``ratio`` is only known at the end).
    executor : optional
        Passed to cotengra's ``HyperOptimizer(parallel=...)`` for the ``cotengra`` and ``quimb``
        searches: a ``concurrent.futures.Executor`` or a ``dask.distributed.Client``. Default serial.

    Returns
    -------
    PathBenchmark
        One dict per method: ``method``, ``search_s``, ``flops`` (opt_einsum convention),
        ``largest_intermediate`` (elements), ``contract_s`` (median), ``ratio`` (contraction time over
        the best method's; the ``gemm`` limit is not counted as a method), ``status``.

    Raises
    ------
    TypeError
        If ``model_or_tn`` is neither a model nor a TensorNetwork, or ``executor`` has no ``submit``.
    ValueError
        For an unknown method or optimizer name, or a negative ``max_time`` / ``total_time``.

    Examples
    --------
    >>> import tnconv as tc
    >>> rows = benchmark_paths(tc.deep(16, 4, 4, seed=0), ["levels", "structure", "greedy"], batch=8,
    ...                        repeats=1, show_progress=False)
    >>> [r["method"] for r in rows], all(r["status"] == "ok" for r in rows)
    (['levels', 'structure', 'greedy'], True)
    """
    from .._core.options import options
    from .._core.progress import progress
    from .._core.validate import check_flag

    start = time.perf_counter()
    for name, value in (("max_time", max_time), ("total_time", total_time)):
        if value is not None and not (isinstance(value, (int, float)) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number of seconds or None, got {value!r}")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor or a dask Client, got {executor!r}")
    problem = _resolve(model_or_tn, features, batch, seed)
    show_progress = check_flag(show_progress, "show_progress")
    check = check_flag(check, "check")
    budget = float(options["max_dense_bytes"] if max_bytes is None else max_bytes)
    rec = Recorder(np.dtype(problem.features.dtype).itemsize, budget, repeats, check,
                    None if max_time is None else float(max_time), on_row)
    methods = list(DEFAULT_OPTIMIZERS if optimizers is None else optimizers)
    for opt in methods:  # unknown names fail before anything runs
        if not (isinstance(opt, str) and opt in DEFAULT_OPTIMIZERS + ("nodes",)):
            _opt_einsum_optimizer(opt, max_repeats, None)
    for opt in progress(methods, desc="benchmark_paths") if show_progress else methods:
        if total_time is not None and time.perf_counter() - start > total_time:
            rec.skip(_label(opt), f"skipped: the total time limit of {total_time:g} s was reached")
            continue
        _bench_method(opt, problem, rec, seed, max_repeats, quimb_optimize, executor)
    return rec.result()
