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

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from .._core.executors import check_bool, check_int
from .batch import Queries, solve_queries
from .distributed import solve_distributed
from .flow import CutProblem, prepare
from .result import CutEdge, MinCut
from .tree import tree_min_cut

__all__ = ["CutEdge", "CutProblem", "MinCut", "min_cut", "min_cuts", "prepare", "tree_min_cut"]

_METHODS = ("auto", "tree", "networkx", "scipy")


def _preview(obj: Any, width: int = 40) -> str:
    text = repr(obj)
    return text if len(text) <= width else text[: width - 4] + " ..."


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


def min_cuts(
    model_or_tn: Any,
    parts: Iterable[Any] | Mapping[Any, Any],
    output: int = 0,
    method: str = "auto",
    flow_func: Callable | None = None,
    *,
    executor: Any = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> Any:
    """Exact min cuts for many partitions, reusing all partition-independent work.

    The tree solver handles the partitions in vectorized batches; the flow solvers reuse one flow
    network and only toggle its terminal arcs. Safe to call from several threads on one network or
    model. With an ``executor``, chunks of queries run as tasks (thousands of queries per task).

    Parameters
    ----------
    model_or_tn : model, TensorNetwork, quimb TensorNetwork or CutProblem
    parts : iterable of partitions, or dict name -> partition
        Each one side ``I`` in any form of :mod:`tnconv.partition_resolve` (positions, a boolean mask
        1D or of the image's shape, a partition name such as ``"odd_even"``, open-leg labels or tags),
        or an A|B pair ``(A, B)`` (see :func:`min_cut`). A dict gives a dict of cuts with the same keys.
    output : int
        Output channel of a model (0 for a network).
    method : {"auto", "tree", "networkx", "scipy"}
        See :func:`min_cut`.
    flow_func : callable, optional
        A networkx flow function (e.g. ``networkx.algorithms.flow.preflow_push``); implies networkx.
    executor : None, concurrent.futures.Executor or dask.distributed.Client
        Where the chunks run (see :func:`tnconv.sweep`): None runs serially. Workers receive the
        network's structure only (no weights) and send back labellings; the cuts are built here, on
        the caller's network, and equal the serial ones.
    chunk_size : int, optional
        Queries per task (default: about 4 tasks per worker).
    progress : bool
        A progress bar over the chunks (executors only).

    Returns
    -------
    list of MinCut, or dict of MinCut when ``parts`` is a dict

    Raises
    ------
    ValueError
        An invalid partition (naming the positions), an unknown partition name, an unknown method
        (listing the valid ones), ``method="tree"`` on a network with a cycle, a dimension that is not
        a positive int.
    TypeError
        A model without a tensor network; a partition that is not a partition (a dict, a single int);
        a bad executor; an unknown keyword.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(16, 2, 2, seed=0)
    >>> [c.bound for c in tc.min_cuts(net, [tc.partitions.odd_even(16), "left_right"])]
    [256, 2]
    >>> {k: c.bound for k, c in tc.min_cuts(net, {"first": [0], "pair": [0, 1]}).items()}
    {'first': 2, 'pair': 2}
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as pool:
    ...     [c.bound for c in tc.min_cuts(net, [[0], [0, 1], "odd_even"], executor=pool, chunk_size=2)]
    [2, 2, 256]

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    """
    method = _check_method(method, flow_func)
    if isinstance(parts, Mapping):
        keys = list(parts)
        cuts = min_cuts(model_or_tn, [parts[k] for k in keys], output=output, method=method, flow_func=flow_func,
                        executor=executor, chunk_size=chunk_size, progress=progress)
        return dict(zip(keys, cuts))
    if isinstance(parts, (str, bytes)) or not isinstance(parts, (Iterable, np.ndarray)):
        raise TypeError(f"parts must be an iterable of partitions (or a dict of them), got {_preview(parts)}")
    prob = prepare(model_or_tn, output)
    q = Queries(prob, parts)
    method = _resolve(prob, method, flow_func)
    if executor is None:
        check_bool("progress", progress)
        check_int("chunk_size", chunk_size, 1, allow_none=True)
        return solve_queries(prob, q, 0, len(q), method, flow_func)
    return solve_distributed(prob, q, method, flow_func, executor, chunk_size, progress)


def min_cut(
    model_or_tn: Any,
    part: Any,
    output: int = 0,
    method: str = "auto",
    flow_func: Callable | None = None,
) -> MinCut:
    """The exact minimum cut of a network between the open legs of ``I`` and those of ``I^c`` (or of
    ``A`` and ``B``, the other legs free).

    Its ``bound`` (the exact product of the severed dimensions, copy tensors charged once) upper-bounds
    the Schmidt rank of the network's tensor across ``(I, I^c)`` for any weights. For generic
    independent weights it equals the rank when all dimensions are powers of one integer; shared
    weights can fall below it (the module docstring has an example).

    Parameters
    ----------
    model_or_tn : TreeModel, TensorNetwork, quimb TensorNetwork or CutProblem
        A model is compiled with ``TensorNetwork.from_model(model, output)`` (cached per model). A
        ``MixedConvNet`` (two trees mixed, no tree network) is refused with a TypeError that names
        ``tnconv.tiling_rank_bounds``. A quimb network is imported with
        ``TensorNetwork.from_quimb(tn)`` (its outer indices open, quimb imported lazily).
    part : partition, or a pair ``(A, B)``
        The side ``I``, a non-empty proper subset of the open legs, in any form of
        :mod:`tnconv.partition_resolve`: positions, a boolean mask (1D or of the image's shape), a
        partition name for the model's geometry (``"odd_even"``, ``"checkerboard"``), open-leg labels
        or tags (``["k0", "k1"]``, ``["I0"]`` for a quimb MPS).

        A pair ``(A, B)`` of two such sides (two collections, e.g. ``([0], [5])``; ``("k0", "k1")`` is
        one side) asks for the cheapest cut separating the legs of ``A`` from those of ``B``, each other
        open leg free to go to either side: in the flow network, ``A``'s legs are tied to the source,
        ``B``'s to the sink, and the rest to neither (the tree DP leaves them unconstrained). Its bound
        is the minimum, over all ways to add the free legs to the two sides, of the ordinary bound;
        :attr:`MinCut.open_side` says where this cut puts them.
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
        Empty, full, duplicated or out-of-range partitions; overlapping ``A`` and ``B``; an unknown
        partition name, label or tag; an unknown method (listing the valid ones); ``method="tree"`` on
        a network with a cycle; a dimension that is not a positive int.
    TypeError
        A model that does not compile to a tensor network; a partition that is not one (a dict, a
        single int); an unknown keyword.

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
    >>> tc.min_cut(tc.deep((4, 4), 2, 2, seed=0), "left_right").bound
    2
    >>> tc.min_cut(tn, (["a"], ["d"])).bound     # open-leg labels
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
