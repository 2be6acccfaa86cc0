"""Min-cut bounds on the Schmidt rank of tensor networks, for any bipartition of the open legs.

Cut the network into a part holding the open legs of ``I`` and a part holding those of ``I^c``:
contracting each part separately factors ``[[A]]_I`` through the severed indices, so
``rank [[A]]_I <= min over cuts of prod(dims severed)``. Copy tensors (product pooling) are hyperedges,
charged once. Three exact solvers:

* ``"tree"``: dynamic programming for networks whose graph is a forest (every ConvAC, dilated nets),
  linear time and vectorized over a batch of partitions;
* ``"scipy"``: ``scipy.sparse.csgraph.maximum_flow`` (Dinic) with int32 capacities;
* ``"networkx"``: any networkx flow function (``flow_func=``), default ``boykov_kolmogorov``, on Python
  ints.

All three minimize the exact product of the severed dimensions: capacities are integer exponents when
the dimensions share a base, and otherwise scaled logarithms whose rounding provably cannot reorder two
cuts (:mod:`tnconv.mincut.flow`). ``method="auto"`` picks the tree solver for forests, else scipy when
the exact capacities fit int32, else networkx.

The bound is an upper bound on the Schmidt rank of the network's tensor for any weights. For generic
*independent* weights it is attained when every dimension is a power of one integer (tested here on
ConvACs against exact ranks mod a prime). With *shared* weights (``ConvAC(..., shared=True)``) the rank
can fall below it: ``ConvAC(ModeTree.from_nested(((2, 1, 0), 4, 3)), 2, 4, shared=True)`` across
``{0, 2}`` has min cut 4 and generic rank 3.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552.
.. [2] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..partitions import validate_partition
from .flow import CutProblem, fallback_warning, prepare
from .result import CutEdge, MinCut
from .tree import tree_min_cut

__all__ = ["CutEdge", "CutProblem", "MinCut", "min_cut", "min_cuts", "prepare", "tree_min_cut"]

_METHODS = ("auto", "tree", "networkx", "scipy")
# Vertices x partitions per vectorized tree-DP batch (each work array is at most 16 MiB in float32).
_BATCH_ELEMENTS = 2**22


def _validate(part: Any, n: int) -> tuple[frozenset, np.ndarray]:
    """``validate_partition`` with a fast path for well-formed sets/arrays of ints (the common case in
    batched queries); anything unusual goes through ``validate_partition`` for its error message.
    Returns the partition and its positions as an array."""
    if isinstance(part, (str, bytes)):
        raise TypeError(
            f"a partition is a set of input positions, got the string {part!r}; for a named partition "
            f"use tnconv.partitions.named({part!r}, shape)"
        )
    if isinstance(part, Mapping):
        raise TypeError(
            f"a partition is a set of input positions, got a {type(part).__name__} "
            f"({_preview(part)}); min_cuts(model, {{name: partition, ...}}) takes a dict of partitions"
        )
    # map/set run in C; bools, floats and out-of-range ints take the slow path (its error messages)
    if (isinstance(part, (frozenset, set, list, tuple, range)) and 0 < len(part) < n
            and set(map(type, part)) == {int} and min(part) >= 0 and max(part) < n):
        arr = np.fromiter(part, dtype=np.int64, count=len(part))
        if isinstance(part, (frozenset, set, range)) or np.unique(arr).size == arr.size:
            return (part if isinstance(part, frozenset) else frozenset(arr.tolist())), arr
    fs = validate_partition(part, n)
    return fs, np.fromiter(fs, dtype=np.int64, count=len(fs))


def _preview(obj: Any, width: int = 40) -> str:
    text = repr(obj)
    return text if len(text) <= width else text[: width - 4] + " ..."


def _mask(arrs: Sequence[np.ndarray], P: int) -> np.ndarray:
    """(P, B) bool: ``on[p, b]`` iff open leg p is in partition b."""
    on = np.zeros((P, len(arrs)), dtype=bool)
    if arrs:
        cols = np.repeat(np.arange(len(arrs)), [a.size for a in arrs])
        on[np.concatenate(arrs), cols] = True
    return on


def _scipy_ok(prob: CutProblem) -> bool:
    try:
        import scipy.sparse.csgraph  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return prob.scipy_fits()


def _check_method(method: Any, flow_func: Any) -> str:
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _METHODS))}; got {method!r}")
    if flow_func is not None and not callable(flow_func):
        raise TypeError(f"flow_func must be a networkx flow function (callable), got {_preview(flow_func)}")
    if flow_func is not None and method not in ("auto", "networkx"):
        raise ValueError(f"flow_func is a networkx flow function; it needs method='networkx', not {method!r}")
    return method


def _resolve(prob: CutProblem, method: str, flow_func: Any) -> str:
    if method == "auto":
        if flow_func is not None:
            return "networkx"
        if prob.is_forest:
            return "tree"
        return "scipy" if _scipy_ok(prob) else "networkx"
    if method == "tree" and not prob.is_forest:
        raise ValueError(
            "method='tree' needs a network whose graph is a forest, but this network has a cycle; "
            "use method='auto', 'scipy' or 'networkx'"
        )
    return method


def _make_batch(
    prob: CutProblem, parts: Sequence[frozenset], on: np.ndarray, sides: np.ndarray, method: str,
    expect: Sequence[int],
) -> list[MinCut]:
    """MinCut objects from labellings ``sides`` ((T+P, B) bool), checked against the exact optimum
    ``expect`` (integer capacity units) that the solver reported."""
    cut_e, cut_h = prob.cut_masks(sides, on)
    out = []
    for b, part in enumerate(parts):
        ce, ch = np.flatnonzero(cut_e[:, b]), np.flatnonzero(cut_h[:, b])
        ce_l, ch_l = ce.tolist(), ch.tolist()
        # The labelling must cost exactly the optimum the solver reported (the DP value, or the max
        # flow by max-flow min-cut): anything else is a solver bug, never a silent result.
        got = prob.cut_units(ce_l, ch_l)
        if got != expect[b]:
            raise RuntimeError(
                f"internal error: the {method} cut costs {got} units but the optimum is {expect[b]} "
                f"(partition {sorted(part)[:10]})"
            )
        bound = prob.bound_of(ce_l, ch_l)
        out.append(MinCut(bound, _log2(bound), part, method, prob, sides[:, b].copy(), ce, ch))
    return out


def _log2(n: int) -> float:
    import math

    return math.log2(n)  # exact input (an int of any size), correctly rounded enough for display


def _solve_flow(prob: CutProblem, part: frozenset, arr: np.ndarray, method: str, flow_func: Any) -> MinCut:
    if method == "scipy":
        try:
            side, value = prob.solve_scipy(part)
        except OverflowError as exc:
            fallback_warning(str(exc))
            side, value = prob.solve_networkx(part)
            method = "networkx"
    else:
        side, value = prob.solve_networkx(part, flow_func)
    on = _mask([arr], prob.n_open)
    return _make_batch(prob, [part], on, side[:, None], method, [value])[0]


def min_cuts(
    model_or_tn: Any,
    parts: Iterable[Iterable[int]] | Mapping[Any, Iterable[int]],
    output: int = 0,
    method: str = "auto",
    flow_func: Callable | None = None,
) -> Any:
    """Exact min cuts for many partitions, reusing all partition-independent work.

    The tree solver handles the partitions in vectorized batches; the flow solvers reuse one flow
    network and only toggle its terminal arcs. Safe to call from several threads on one network or
    model.

    Parameters
    ----------
    model_or_tn : model, TensorNetwork or CutProblem
    parts : iterable of partitions, or dict name -> partition
        Each one side ``I`` (iterable of input positions, or a boolean mask). A dict gives a dict of
        cuts with the same keys.
    output : int
        Output channel of a model (0 for a network).
    method : {"auto", "tree", "networkx", "scipy"}
        See :func:`min_cut`.
    flow_func : callable, optional
        A networkx flow function (e.g. ``networkx.algorithms.flow.preflow_push``); implies networkx.

    Returns
    -------
    list of MinCut, or dict of MinCut when ``parts`` is a dict

    Raises
    ------
    ValueError
        An invalid partition (naming the positions), an unknown method (listing the valid ones),
        ``method="tree"`` on a network with a cycle, a dimension that is not a positive int.
    TypeError
        A model without a tensor network; a partition that is not a set of ints (a string, a dict);
        an unknown keyword.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(16, 2, 2, seed=0)
    >>> [c.bound for c in tc.min_cuts(net, [tc.partitions.odd_even(16), tc.partitions.left_right(16)])]
    [256, 2]
    >>> {k: c.bound for k, c in tc.min_cuts(net, {"first": [0], "pair": [0, 1]}).items()}
    {'first': 2, 'pair': 2}

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    """
    method = _check_method(method, flow_func)
    if isinstance(parts, Mapping):
        keys = list(parts)
        cuts = min_cuts(model_or_tn, [parts[k] for k in keys], output=output, method=method, flow_func=flow_func)
        return dict(zip(keys, cuts))
    if isinstance(parts, (str, bytes)) or not isinstance(parts, Iterable):
        raise TypeError(f"parts must be an iterable of partitions (or a dict of them), got {_preview(parts)}")
    prob = prepare(model_or_tn, output)
    checked = [_validate(p, prob.n_open) for p in parts]
    method = _resolve(prob, method, flow_func)
    if method != "tree":
        return [_solve_flow(prob, p, a, method, flow_func) for p, a in checked]
    solver = prob.tree_solver()
    out: list[MinCut] = []
    # Object (Python int) work arrays cost ~50 bytes an entry, not 4-8: smaller batches.
    elements = _BATCH_ELEMENTS if solver.dtype != object else _BATCH_ELEMENTS // 16
    batch = max(1, elements // max(prob.n_vertices, 1))
    for lo in range(0, len(checked), batch):
        chunk = checked[lo : lo + batch]
        on = _mask([a for _, a in chunk], prob.n_open)
        sides, cost = solver.solve(on)
        out += _make_batch(prob, [p for p, _ in chunk], on, sides, "tree", cost)
    return out


def min_cut(
    model_or_tn: Any,
    part: Iterable[int],
    output: int = 0,
    method: str = "auto",
    flow_func: Callable | None = None,
) -> MinCut:
    """The exact minimum cut of a network between the open legs of ``I`` and those of ``I^c``.

    Its ``bound`` (the exact product of the severed dimensions, copy tensors charged once) upper-bounds
    the Schmidt rank of the network's tensor across ``(I, I^c)`` for any weights. For generic
    independent weights it equals the rank when all dimensions are powers of one integer; shared
    weights can fall below it (the module docstring has an example).

    Parameters
    ----------
    model_or_tn : TreeModel, TensorNetwork or CutProblem
        A model is compiled with ``TensorNetwork.from_model(model, output)`` (cached per model). A
        ``MixedConvNet`` (two trees mixed, no tree network) is refused with a TypeError that names
        ``tnconv.tiling_rank_bounds``.
    part : iterable of int
        The side ``I``: a non-empty proper subset of the open-leg positions (or a boolean mask).
    output : int
        Output channel of a model (0 for a network).
    method : {"auto", "tree", "networkx", "scipy"}
        ``"auto"``: the tree DP when the network's graph is a forest, else scipy's Dinic when the exact
        integer capacities fit int32, else networkx. An explicit ``"scipy"`` whose capacities do not
        fit runs networkx with a ``RuntimeWarning`` (the cut's ``method`` says so). Every method
        returns the exact minimum.
    flow_func : callable, optional
        A networkx flow function (default ``boykov_kolmogorov``, the fastest networkx one measured).

    Returns
    -------
    MinCut

    Raises
    ------
    ValueError
        Empty, full, duplicated or out-of-range partitions; an unknown method (listing the valid ones);
        ``method="tree"`` on a network with a cycle; a dimension that is not a positive int.
    TypeError
        A model that does not compile to a tensor network; a partition that is not a set of ints (a
        string, a dict); an unknown keyword.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(8, 2, [2, 2, 2], seed=0)
    >>> cut = tc.min_cut(net, tc.partitions.odd_even(8))
    >>> cut.bound, cut.log2_bound, len(cut.edges)
    (16, 4.0, 4)
    >>> tn = tc.TensorNetwork.from_einsum("ab,bc,cd->ad", [(2, 3), (3, 3), (3, 2)])
    >>> tc.min_cut(tn, [0]).bound
    2

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    """
    _validate_single(part)
    return min_cuts(model_or_tn, [part], output=output, method=method, flow_func=flow_func)[0]


def _validate_single(part: Any) -> None:
    if isinstance(part, Mapping):
        raise TypeError(
            f"min_cut takes one partition (a set of input positions), got a {type(part).__name__} "
            f"({_preview(part)}); use min_cuts for a dict of named partitions"
        )
