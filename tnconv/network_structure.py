"""The structure of a tensor network: its tensors' shapes, which tensors carry each index, bonds and copy
tensors for cuts, hyperedges, and a ``networkx`` view.

:class:`NetworkStructure` holds these queries as methods and properties; :class:`tnconv.network.TensorNetwork`
inherits them. They read only the index labels (``inds``, ``open_inds``), the dimensions (``size_dict``)
and the descriptions (``names``, ``index_info``), never the arrays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import Any

import numpy as np

__all__ = ["NetworkStructure"]


class NetworkStructure:
    """Structural queries of a tensor network (a base of :class:`tnconv.network.TensorNetwork`).

    Examples
    --------
    >>> from tnconv import TensorNetwork
    >>> issubclass(TensorNetwork, NetworkStructure)
    True
    """

    inds: list[tuple[Hashable, ...]]
    open_inds: tuple[Hashable, ...]
    size_dict: dict[Hashable, int]
    names: list[str]
    index_info: dict[Any, str]

    @property
    def open_legs(self) -> tuple[Hashable, ...]:
        """The open indices, one per input position, in order (the same tuple as ``open_inds``)."""
        return self.open_inds

    @property
    def n_tensors(self) -> int:
        """The number of tensors (weights and copy tensors alike)."""
        return len(self.inds)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of every tensor, in tensor order."""
        return [tuple(self.size_dict[i] for i in ix) for ix in self.inds]

    def index_members(self) -> dict[Hashable, list[int]]:
        """``{index: [tensor positions carrying it]}``.

        Examples
        --------
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.index_members()
        {'a': [0], 'b': [0, 1], 'c': [1]}
        """
        members: dict[Hashable, list[int]] = defaultdict(list)
        for k, ix in enumerate(self.inds):
            for i in ix:
                members[i].append(k)
        return dict(members)

    def links(self) -> tuple[list[tuple[int, int, tuple[Hashable, ...]]], list[tuple[Hashable, np.ndarray]]]:
        """The network as a graph for cuts: bonds and copy tensors over numbered vertices.

        Vertices are the tensors ``0..T-1`` and the open legs ``T..T+P-1``. Indices of dimension 1 are
        left out (cutting them is free). An index with two ends is a bond (parallel bonds between the same
        two vertices are merged into one entry listing their indices); one with three or more ends is a
        copy tensor (hyperedge).

        Returns
        -------
        bonds : list of ``(u, v, indices)`` with ``u < v``
        copies : list of ``(index, member vertices)``

        Examples
        --------
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc,bd->acd", [(2, 3), (3, 2), (3, 2)])
        >>> tn.links()[0], [(i, m.tolist()) for i, m in tn.links()[1]]
        ([(0, 3, ('a',)), (1, 4, ('c',)), (2, 5, ('d',))], [('b', [0, 1, 2])])
        """
        # One integer id per index, then a stable sort of the (index, vertex) ends: a loop over numpy arrays
        # instead of a Python list of members per index (the cut graph of 10**5 tensors in a few ms).
        T = self.n_tensors
        ids: dict[Hashable, int] = {}
        flat = [ids.setdefault(i, len(ids)) for ix in self.inds for i in ix]
        labels = list(ids)
        lens = np.fromiter(map(len, self.inds), dtype=np.int64, count=T)
        key = np.concatenate([np.array(flat, dtype=np.int64),
                              np.array([ids[i] for i in self.open_inds], dtype=np.int64)])
        vert = np.concatenate([np.repeat(np.arange(T, dtype=np.int64), lens),
                               np.arange(T, T + len(self.open_inds), dtype=np.int64)])
        # Stable: each index's tensors stay in tensor order and its open vertex (above every tensor) last,
        # so the ends of a bond are already sorted.
        order = np.argsort(key, kind="stable")
        ends = vert[order]
        count = np.bincount(key, minlength=len(labels))
        start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        wide = np.array([self.size_dict[i] != 1 for i in labels], dtype=bool)
        pairs: dict[tuple[int, int], list[Hashable]] = defaultdict(list)
        bond = np.flatnonzero(wide & (count == 2))
        for j, u, v in zip(bond.tolist(), ends[start[bond]].tolist(), ends[start[bond] + 1].tolist()):
            pairs[(u, v)].append(labels[j])
        hyper = np.flatnonzero(wide & (count >= 3))
        copies = [(labels[j], ends[a:a + c].copy())
                  for j, a, c in zip(hyper.tolist(), start[hyper].tolist(), count[hyper].tolist())]
        return [(u, v, tuple(ix)) for (u, v), ix in pairs.items()], copies

    @property
    def hyperedges(self) -> list[Hashable]:
        """Indices that act as copy tensors: on 3+ tensors, or on 2+ tensors and open."""
        opens = set(self.open_inds)
        return [i for i, m in self.index_members().items() if len(m) + (i in opens) >= 3]

    @property
    def graph(self) -> Any:
        """A ``networkx.Graph`` view: tensors, copy tensors and open legs as nodes.

        Node keys: ``("tensor", k)``, ``("copy", index)`` for hyperedges, ``("open", position)`` for open
        legs. Each edge has ``dim`` (the bond dimension, the product when tensors share several indices)
        and ``inds``. Node attributes: ``kind`` and ``label``.
        """
        import networkx as nx

        G = nx.Graph()
        for k, name in enumerate(self.names):
            G.add_node(("tensor", k), kind="tensor", label=name)
        hyper = set(self.hyperedges)
        open_pos = {i: p for p, i in enumerate(self.open_inds)}
        for i, members in self.index_members().items():
            d = self.size_dict[i]
            if i in hyper:
                c = ("copy", i)
                G.add_node(c, kind="copy", label=self.index_info.get(i, f"copy tensor {i}"), dim=d)
                ends = [("tensor", k) for k in members] + ([("open", open_pos[i])] if i in open_pos else [])
                for e in ends:
                    if e[0] == "open":
                        G.add_node(e, kind="open", label=f"input {e[1]}")
                    G.add_edge(c, e, dim=d, inds=[i])
                continue
            ends = [("tensor", k) for k in members]
            if i in open_pos:
                ends.append(("open", open_pos[i]))
                G.add_node(ends[-1], kind="open", label=f"input {open_pos[i]}")
            if len(ends) == 2:
                u, v = ends
                if G.has_edge(u, v):
                    G[u][v]["dim"] *= d
                    G[u][v]["inds"].append(i)
                else:
                    G.add_edge(u, v, dim=d, inds=[i])
        return G
