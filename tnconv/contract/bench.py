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

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._core.options import format_bytes
from .paths import network_inputs, path_cost, structure_path

__all__ = ["DEFAULT_OPTIMIZERS", "PathBenchmark", "benchmark_paths", "format_table"]

DEFAULT_OPTIMIZERS = ("levels", "structure", "structure+oe", "greedy", "random-greedy", "cotengra", "quimb",
                      "reference", "gemm")
_MODEL_ONLY = ("levels", "nodes", "reference")


class PathBenchmark(list):
    """The rows of :func:`benchmark_paths` (a list of dicts) with a text table and JSON export."""

    def table(self) -> str:
        return format_table(self)

    def to_json(self) -> str:
        return json.dumps(list(self), indent=2)

    def __str__(self) -> str:
        return self.table()


def _fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def _fmt_num(x: float | None) -> str:
    return "-" if x is None else f"{float(x):.3g}"


def format_table(rows: Sequence[dict]) -> str:
    """A fixed-width text table of benchmark rows.

    Examples
    --------
    >>> print(format_table([{"method": "x", "search_s": 0.0, "flops": 10, "largest_intermediate": 4,
    ...                      "contract_s": 0.001, "ratio": 1.0, "status": "ok"}]))
    method        search    flops (oe)   largest   contract   ratio  status
    x             0 ms      10           4         1 ms       1      ok
    """
    head = f"{'method':<13} {'search':<9} {'flops (oe)':<12} {'largest':<9} {'contract':<10} {'ratio':<6} status"
    lines = [head]
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.3g}"
        lines.append(
            f"{str(r['method'])[:13]:<13} {_fmt_time(r.get('search_s')):<9} {_fmt_num(r.get('flops')):<12} "
            f"{_fmt_num(r.get('largest_intermediate')):<9} {_fmt_time(r.get('contract_s')):<10} {ratio:<6} "
            f"{r.get('status', '')}"
        )
    return "\n".join(lines)


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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


class _Recorder:
    """Times each method's contraction under the byte budget and checks its output against the first."""

    def __init__(self, itemsize: int, budget: float, repeats: int, check: bool) -> None:
        self.rows: list[dict] = []
        self.itemsize, self.budget, self.repeats, self.check = itemsize, budget, repeats, check
        self.reference_out: Any = None

    def over_budget(self, cost: Any) -> bool:
        return cost is not None and cost.largest_intermediate * self.itemsize > self.budget

    def skip(self, method: str, status: str) -> None:
        """A row for a method that does not apply (``status`` says why)."""
        self.rows.append({"method": method, "search_s": None, "flops": None, "largest_intermediate": None,
                          "contract_s": None, "ratio": None, "status": status})

    def record(self, method: str, search: float | None, cost: Any, run: Callable[[], Any] | None) -> None:
        """Run ``run`` once (its output is checked), then time it; over-budget paths are never run."""
        row = {"method": method, "search_s": search, "flops": None if cost is None else int(cost.flops),
               "largest_intermediate": None if cost is None else int(cost.largest_intermediate),
               "contract_s": None, "ratio": None, "status": "ok"}
        self.rows.append(row)
        if run is None:
            return
        if self.over_budget(cost):
            row["status"] = (f"infeasible: largest intermediate {cost.largest_intermediate:.3g} elements "
                             f"({format_bytes(cost.largest_intermediate * self.itemsize)}) > budget")
            return
        try:
            out = np.asarray(run()).reshape(-1)
            row["contract_s"] = _median_time(run, self.repeats)
        except (MemoryError, ValueError) as exc:
            row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
            return
        if not self.check:
            return
        if self.reference_out is None:
            self.reference_out = out
        elif not np.allclose(out, self.reference_out, rtol=1e-6, atol=1e-12 * np.abs(self.reference_out).max()):
            row["status"] = "MISMATCH with the first method's output"

    def result(self) -> PathBenchmark:
        """The rows with ``ratio``: contraction time over the best method's (``gemm`` is not a method)."""
        times = [r["contract_s"] for r in self.rows if r["contract_s"] is not None and r["method"] != "gemm"
                 and str(r["status"]).startswith("ok")]
        best = min(times) if times else None
        for r in self.rows:
            if best and r["contract_s"] is not None:
                r["ratio"] = r["contract_s"] / best
        return PathBenchmark(self.rows)


def _reference_output(model: Any, features: Any) -> Any:
    from .backends import blas_threads

    # single-threaded BLAS: the default thread pool is 5-50x slower on these small GEMMs
    with blas_threads(1):
        return model._forward_reference(features)[:, 0]


def _bench_model_engine(label: str, p: _Problem, rec: _Recorder) -> None:
    """``levels``, ``nodes`` and ``reference``: the model's own forward passes (flops of the structure path)."""
    if p.model is None:
        rec.skip(label, "n/a: needs a model")
        return
    cost = p.structure.cost if p.structure is not None else None
    if label == "reference":
        rec.record(label, 0.0, cost, partial(_reference_output, p.model, p.features))
    else:
        rec.record(label, 0.0, cost, partial(_first_output, p.model, p.features, label))


def _bench_structure(label: str, p: _Problem, rec: _Recorder) -> None:
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


def _bench_gemm(p: _Problem, rec: _Recorder, seed: int) -> None:
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
        one = _median_time(partial(np.matmul, A, B), rec.repeats)
    many = _median_time(partial(np.matmul, A, B), rec.repeats)
    rec.rows.append({"method": "gemm", "search_s": None, "flops": int(2 * n**3), "largest_intermediate": n * n,
                     "contract_s": min(one, many), "ratio": None,
                     "status": f"ok: one {n}x{n} matmul, {'1 thread' if one < many else 'all threads'}"})


def _bench_cotengra(p: _Problem, rec: _Recorder, max_repeats: int, max_time: float) -> None:
    """A capped ``cotengra.HyperOptimizer`` search, contracted by cotengra's ``ContractionTree``."""
    try:
        import cotengra as ctg
    except ImportError:
        rec.skip("cotengra", "n/a: pip install 'tnconv[quimb]'")
        return
    t0 = time.perf_counter()
    opt = ctg.HyperOptimizer(max_repeats=max_repeats, max_time=max_time, progbar=False)
    sym = _symbol_map(p.inputs)
    tree = opt.search([tuple(sym[i] for i in ix) for ix in p.inputs], tuple(sym[i] for i in p.output),
                      {sym[i]: d for i, d in p.sizes.items() if i in sym})
    search = time.perf_counter() - t0
    cost = path_cost(p.inputs, p.output, p.sizes, [tuple(s) for s in tree.get_path()])
    rec.record("cotengra", search, cost, partial(tree.contract, p.ops))


def _bench_quimb(p: _Problem, rec: _Recorder, optimize: Any, max_repeats: int, max_time: float) -> None:
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
            import cotengra as ctg

            optimize = ctg.HyperOptimizer(max_repeats=max_repeats, max_time=max_time, progbar=False)
        except ImportError:
            optimize = "auto-hq"
    t0 = time.perf_counter()
    qtree = qt.contraction_tree(optimize=optimize, output_inds=(bname,))
    search = time.perf_counter() - t0
    cost = path_cost([tuple(t.inds) for t in qt.tensors], (bname,),
                     {i: d for t in qt.tensors for i, d in zip(t.inds, t.shape)},
                     [tuple(s) for s in qtree.get_path()])
    rec.record("quimb", search, cost, partial(_quimb_contract, qt, qtree, bname))


def _opt_einsum_optimizer(opt: Any, max_repeats: int, max_time: float) -> Any:
    """``opt`` checked against opt_einsum's optimizer names; ``random-greedy`` gets the search caps."""
    import opt_einsum as oe

    if not isinstance(opt, str):
        return opt
    try:
        oe.paths.get_path_fn(opt)
    except KeyError:
        raise ValueError(
            f"unknown method {opt!r}: use one of {DEFAULT_OPTIMIZERS + ('nodes',)} or an opt_einsum optimizer name"
        ) from None
    return oe.RandomGreedy(max_repeats=max_repeats, max_time=max_time) if opt == "random-greedy" else opt


def _bench_opt_einsum(opt: Any, p: _Problem, rec: _Recorder, max_repeats: int, max_time: float) -> None:
    """An opt_einsum optimizer (name or ``PathOptimizer``), run by opt_einsum's own executor."""
    import opt_einsum as oe

    label = _label(opt)
    opt = _opt_einsum_optimizer(opt, max_repeats, max_time)
    t0 = time.perf_counter()
    path, _ = oe.contract_path(p.eq, *p.shapes, shapes=True, optimize=opt)
    search = time.perf_counter() - t0
    cost = path_cost(p.inputs, p.output, p.sizes, path)
    if rec.over_budget(cost):
        rec.record(label, search, cost, _never_run)  # record() reports it infeasible without running it
        return
    # building the expression (quadratic in the number of tensors) belongs to the path cost, not to
    # the contraction
    t0 = time.perf_counter()
    expr = oe.contract_expression(p.eq, *p.shapes, optimize=path)
    rec.record(label, search + time.perf_counter() - t0, cost, partial(expr, *p.ops))


def _bench_method(opt: Any, p: _Problem, rec: _Recorder, seed: int, max_repeats: int, max_time: float,
                  quimb_optimize: Any) -> None:
    """One method's row(s), by the method family of ``opt``."""
    label = _label(opt)
    if label in _MODEL_ONLY:
        _bench_model_engine(label, p, rec)
    elif label in ("structure", "structure+oe"):
        _bench_structure(label, p, rec)
    elif label == "gemm":
        _bench_gemm(p, rec, seed)
    elif label == "cotengra":
        _bench_cotengra(p, rec, max_repeats, max_time)
    elif label == "quimb":
        _bench_quimb(p, rec, quimb_optimize, max_repeats, max_time)
    else:
        _bench_opt_einsum(opt, p, rec, max_repeats, max_time)


def benchmark_paths(model_or_tn: Any, optimizers: Sequence[Any] | None = None, batch: int = 256,
                    repeats: int = 5, max_bytes: float | None = None, seed: int = 0, max_time: float = 10.0,
                    max_repeats: int = 32, features: Any = None, show_progress: bool = True,
                    check: bool = True, quimb_optimize: Any = None) -> PathBenchmark:
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
    max_time, max_repeats : float, int
        Caps of the ``random-greedy`` and ``cotengra`` searches.
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

    Returns
    -------
    PathBenchmark
        One dict per method: ``method``, ``search_s``, ``flops`` (opt_einsum convention),
        ``largest_intermediate`` (elements), ``contract_s`` (median), ``ratio`` (contraction time over
        the best method's; the ``gemm`` limit is not counted as a method), ``status``.

    Raises
    ------
    TypeError
        If ``model_or_tn`` is neither a model nor a TensorNetwork.
    ValueError
        For an unknown method or optimizer name.

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

    problem = _resolve(model_or_tn, features, batch, seed)
    show_progress = check_flag(show_progress, "show_progress")
    check = check_flag(check, "check")
    budget = float(options["max_dense_bytes"] if max_bytes is None else max_bytes)
    rec = _Recorder(np.dtype(problem.features.dtype).itemsize, budget, repeats, check)
    methods = list(DEFAULT_OPTIMIZERS if optimizers is None else optimizers)
    for opt in progress(methods, desc="benchmark_paths") if show_progress else methods:
        _bench_method(opt, problem, rec, seed, max_repeats, max_time, quimb_optimize)
    return rec.result()
