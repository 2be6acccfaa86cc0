"""scipy's max flow (``scipy.sparse.csgraph.maximum_flow``, Dinic) on a cut problem's flow network.

The network is built once per :class:`~tnconv.mincut.flow.CutProblem` (int32 capacities, the hyperedge
gadget of :mod:`tnconv.mincut.flow`); a query rewrites only the capacities of the terminal arcs, in
its own copy of the data, so queries may run from several threads at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["build_scipy_network", "solve_scipy"]


def build_scipy_network(prob: Any) -> dict[str, Any]:
    """The CSR flow network of a :class:`~tnconv.mincut.flow.CutProblem` (hyperedge gadget, both terminal
    arcs of every open leg stored), with the slots a query rewrites."""
    if not prob.scipy_fits():
        raise OverflowError(
            f"the exact integer capacities of this network total about 2^{prob.total_units.bit_length()}, "
            "more than scipy's int32 max-flow holds"
        )
    T, P, H = prob.n_tensors, prob.n_open, len(prob.hyper)
    inf = prob.total_units + 1
    rows, cols, data = [], [], []
    for (u, v, _), c in zip(prob.edges, prob.edge_units):
        if u == v:
            continue
        rows += [u, v]
        cols += [v, u]
        data += [c, c]
    for j, ((_, ms), c) in enumerate(zip(prob.hyper, prob.hyper_units)):
        hin, hout = T + P + j, T + P + H + j
        rows.append(hin)
        cols.append(hout)
        data.append(c)
        m = ms.tolist()
        rows += m + [hout] * len(m)
        cols += [hin] * len(m) + m
        data += [inf] * (2 * len(m))
    import scipy.sparse as sp

    n, s, t = T + P + 2 * H + 2, T + P + 2 * H, T + P + 2 * H + 1
    # Both terminal arcs of every open leg are stored (explicit zeros allowed): a query only
    # rewrites their capacities in a copy of ``data``.
    opens = list(range(T, T + P))
    rows += [s] * P + opens
    cols += opens + [t] * P
    data += [0] * (2 * P)
    cap = sp.csr_array((np.array(data, dtype=np.int32), (np.array(rows, dtype=np.int32),
                        np.array(cols, dtype=np.int32))), shape=(n, n))
    cap.sum_duplicates()
    cap.sort_indices()

    def slot(r: int, c: int) -> int:
        lo, hi = cap.indptr[r], cap.indptr[r + 1]
        return int(lo + np.searchsorted(cap.indices[lo:hi], c))

    return {
        "cap": cap,
        "from_s": np.array([slot(s, o) for o in opens], dtype=np.int64),
        "to_t": np.array([slot(o, t) for o in opens], dtype=np.int64),
        "inf": inf,
        "s": s,
        "t": t,
    }


def solve_scipy(prob: Any, net: dict[str, Any], part: frozenset, other: frozenset | None = None
                ) -> tuple[np.ndarray, int]:
    """The source side of every tensor and open leg, and the flow value (see ``CutProblem.solve_scipy``)."""
    try:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import breadth_first_order, maximum_flow
    except ImportError as exc:  # pragma: no cover - scipy is in the test extra
        raise ImportError("method='scipy' needs scipy: pip install 'tnconv[scipy]'") from exc
    T, P = prob.n_tensors, prob.n_open
    s, t, inf, base = net["s"], net["t"], net["inf"], net["cap"]
    on = np.zeros(P, dtype=bool)
    on[list(part)] = True
    sink = ~on
    if other is not None:
        sink = np.zeros(P, dtype=bool)
        sink[list(other)] = True
    data = base.data.copy()
    data[net["from_s"]] = np.where(on, inf, 0)
    data[net["to_t"]] = np.where(sink, inf, 0)
    cap = sp.csr_array((data, base.indices.copy(), base.indptr.copy()), shape=base.shape)
    res = maximum_flow(cap, s, t)
    resid = (cap - res.flow).tocsr()
    resid.data = (resid.data > 0).astype(np.int8)
    resid.eliminate_zeros()
    reach = breadth_first_order(resid, s, directed=True, return_predecessors=False)
    side = np.zeros(T + P, dtype=bool)
    reach = reach[reach < T + P]
    side[reach] = True
    return side, int(res.flow_value)
