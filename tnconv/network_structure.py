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
        T = self.n_tensors
        opens = {i: T + p for p, i in enumerate(self.open_inds)}
        pairs: dict[tuple[int, int], list[Hashable]] = defaultdict(list)
        copies: list[tuple[Hashable, np.ndarray]] = []
        for i, ms in self.index_members().items():
            if self.size_dict[i] == 1:
                continue
            ends = list(ms) + ([opens[i]] if i in opens else [])
            if len(ends) == 2:
                u, v = sorted(ends)
                pairs[(u, v)].append(i)
            elif len(ends) >= 3:
                copies.append((i, np.array(ends, dtype=np.int64)))
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
