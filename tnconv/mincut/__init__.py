"""Min-cut bounds on the Schmidt rank of tensor networks, for any bipartition of the open legs.

Cut the network into a part holding the open legs of ``I`` and a part holding those of ``I^c``:
contracting each part separately factors ``[[A]]_I`` through the severed indices, so
``rank [[A]]_I <= min over cuts of prod(dims severed)``. Copy tensors (product pooling) are hyperedges,
charged once. Three exact solvers:

* ``"tree"``: dynamic programming for networks whose graph is a forest (every ConvAC, dilated nets),
  linear time and vectorized over a batch of partitions;
* ``"scipy"``: ``scipy.sparse.csgraph.maximum_flow`` (Dinic) with integer capacities;
* ``"networkx"``: any networkx flow function (``flow_func=``), default ``boykov_kolmogorov``.

``method="auto"`` picks the tree solver for forests, else scipy when its int32 capacities fit, else
networkx.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, "Deep Learning and Quantum Entanglement: Fundamental
   Connections with Implications to Network Design", ICLR 2018, arXiv:1704.01552.
.. [2] N. Cohen, A. Shashua, ICLR 2017, arXiv:1605.06743.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..partitions import validate_partition
from .flow import CutProblem, prepare
from .result import CutEdge, MinCut

__all__ = ["CutEdge", "CutProblem", "MinCut", "min_cut", "min_cuts", "prepare"]

_METHODS = ("auto", "tree", "networkx", "scipy")
# Vertices x partitions per vectorized tree-DP batch (each work array is at most 16 MiB in float32).
_BATCH_ELEMENTS = 2**22


def _validate(part: Any, n: int) -> tuple[frozenset, np.ndarray]:
    """``validate_partition`` with a fast path for well-formed sets/arrays of ints (the common case in
    batched queries); anything unusual goes through ``validate_partition`` for its error message.
    Returns the partition and its positions as an array."""
    if isinstance(part, (frozenset, set, list, tuple, range)) and 0 < len(part) < n:
        if set(map(type, part)) == {int}:  # map/set run in C; bools and floats take the slow path
            arr = np.fromiter(part, dtype=np.int64, count=len(part))
            if arr.min() >= 0 and arr.max() < n and (isinstance(part, (frozenset, set, range))
                                                     or np.unique(arr).size == arr.size):
                return (part if isinstance(part, frozenset) else frozenset(arr.tolist())), arr
    fs = validate_partition(part, n)
    return fs, np.fromiter(fs, dtype=np.int64, count=len(fs))


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
    try:
        prob._scipy_network()
    except OverflowError:
        return False
    return True


def _resolve(prob: CutProblem, method: str, flow_func: Any) -> str:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
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
    if flow_func is not None and method != "networkx":
        raise ValueError(f"flow_func is a networkx flow function; it needs method='networkx', not {method!r}")
    return method


def _make_batch(
    prob: CutProblem, parts: Sequence[frozenset], on: np.ndarray, sides: np.ndarray, method: str,
    expect: np.ndarray | None,
) -> list[MinCut]:
    """MinCut objects from labellings ``sides`` ((T+P, B) bool), verified against the optimum ``expect``."""
    cut_e, cut_h = prob.cut_masks(sides, on)
    # Masked sums rather than a BLAS matvec: a (E, 1) gemv measured 30 ms here (thread start-up).
    value = np.where(cut_e, prob.edge_cap[:, None], 0.0).sum(axis=0) + np.where(
        cut_h, prob.hyper_cap[:, None], 0.0).sum(axis=0)
    if expect is not None:
        bad = np.flatnonzero(~np.isclose(value, expect, rtol=1e-9, atol=1e-9))
        if bad.size:
            b = int(bad[0])
            raise RuntimeError(
                f"internal error: the {method} cut costs {value[b]} but the optimum is {expect[b]} "
                f"(partition {sorted(parts[b])[:10]})"
            )
    out = []
    for b, part in enumerate(parts):
        ce, ch = np.flatnonzero(cut_e[:, b]), np.flatnonzero(cut_h[:, b])
        if prob.base is not None:
            bound = int(prob.base) ** int(round(value[b]))
        else:
            bound = prob.bound_of(ce, ch)
        out.append(MinCut(bound, math.log2(bound), part, method, prob, sides[:, b].copy(), ce, ch))
    return out


def _solve_flow(prob: CutProblem, part: frozenset, method: str, flow_func: Any) -> MinCut:
    if method == "scipy":
        try:
            side, value = prob.solve_scipy(part)
        except OverflowError as exc:
            from .flow import _fallback_warning

            _fallback_warning(str(exc))
            side, value = prob.solve_networkx(part)
            method = "networkx"
    else:
        side, value = prob.solve_networkx(part, flow_func)
    on = _mask([np.fromiter(part, dtype=np.int64, count=len(part))], prob.n_open)
    cut = _make_batch(prob, [part], on, side[:, None], method, None)[0]
    # The flow ran on integer capacities, so the cut read from the residual network must carry
    # exactly the max flow (max-flow min-cut); anything else is a solver bug, never a silent result.
    ecap, hcap = prob._scipy["caps"] if method == "scipy" else prob._nx[3]
    got = sum(ecap[k] for k in cut._cut_e.tolist()) + sum(hcap[k] for k in cut._cut_h.tolist())
    if got != value:
        raise RuntimeError(f"internal error: {method} cut of capacity {got} but max flow {value}")
    return cut


def min_cuts(
    model_or_tn: Any,
    parts: Iterable[Iterable[int]],
    output: int = 0,
    method: str = "auto",
    flow_func: Callable | None = None,
) -> list[MinCut]:
    """Min cuts for many partitions, reusing all partition-independent work.

    The tree solver handles the partitions in vectorized batches; the flow solvers reuse one flow
    network and only toggle its terminal arcs.

    Parameters
    ----------
    model_or_tn : model, TensorNetwork or CutProblem
    parts : iterable of partitions
        Each one side ``I`` (iterable of input positions, or a boolean mask).
    output : int
        Output channel of a model.
    method : {"auto", "tree", "networkx", "scipy"}
    flow_func : callable, optional
        A networkx flow function (e.g. ``networkx.algorithms.flow.preflow_push``); implies networkx.

    Returns
    -------
    list of MinCut

    Raises
    ------
    ValueError
        An invalid partition (naming the positions), an unknown method, ``method="tree"`` on a network
        with a cycle.
    TypeError
        A model without a tensor network.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(16, 2, 2, seed=0)
    >>> [c.bound for c in tc.min_cuts(net, [tc.partitions.odd_even(16), tc.partitions.left_right(16)])]
    [256, 2]

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    """
    prob = prepare(model_or_tn, output)
    checked = [_validate(p, prob.n_open) for p in parts]
    method = _resolve(prob, method, flow_func)
    if method != "tree":
        return [_solve_flow(prob, p, method, flow_func) for p, _ in checked]
    if prob._tree is None:
        from .tree import TreeSolver

        prob._tree = TreeSolver(prob)
    solver = prob._tree
    out: list[MinCut] = []
    batch = max(1, _BATCH_ELEMENTS // max(prob.n_vertices, 1))
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
    """The minimum cut of a network between the open legs of ``I`` and those of ``I^c``.

    Its ``bound`` (the product of the severed dimensions) upper-bounds the Schmidt rank of the
    network's tensor across ``(I, I^c)``, and equals it for generic weights when all dimensions are
    powers of one integer.

    Parameters
    ----------
    model_or_tn : model, TensorNetwork or CutProblem
        A model is compiled with ``model.to_tensor_network(output)`` (cached per model).
    part : iterable of int
        The side ``I``: a non-empty proper subset of the open-leg positions.
    output : int
        Output channel of a model.
    method : {"auto", "tree", "networkx", "scipy"}
        ``"auto"``: the tree DP when the network's graph is a forest, else scipy's Dinic when its
        int32 capacities fit, else networkx.
    flow_func : callable, optional
        A networkx flow function (default ``boykov_kolmogorov``, the fastest networkx one measured).

    Returns
    -------
    MinCut

    Raises
    ------
    ValueError
        Empty, full, duplicated or out-of-range partitions; an unknown method; ``method="tree"`` on a
        network with a cycle.
    TypeError
        A model that does not compile to a tensor network.

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
    return min_cuts(model_or_tn, [part], output=output, method=method, flow_func=flow_func)[0]
