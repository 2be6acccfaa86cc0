"""The result of a min-cut query: the bound, and where in the network the bottleneck is.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

__all__ = ["CutEdge", "MinCut"]


class CutEdge(NamedTuple):
    """One severed index of a cut.

    Attributes
    ----------
    kind : {"copy", "bond", "open"}
        A copy tensor (hyperedge, charged once), a bond between two tensors, or an open leg cut off
        from its tensor.
    index : hashable
        The index label in the network.
    dim : int
    description : str
        Where it is, e.g. ``"copy tensor of window {0,1,2,3} (dim 8)"``.
    tensors : tuple of str
        Names of the tensors that carry the index.

    Examples
    --------
    >>> import tnconv as tc
    >>> tc.min_cut(tc.deep(4, 2, 2, seed=0), [0, 1]).edges[0].kind
    'copy'
    """

    kind: str
    index: Hashable  # type: ignore[assignment]  # the field name shadows tuple.index (public API)
    dim: int
    description: str
    tensors: tuple[str, ...]


@dataclass(frozen=True, eq=False, repr=False)
class MinCut:
    """A minimum cut of a tensor network between the open legs of ``I`` and those of ``I^c``.

    ``bound`` upper-bounds the Schmidt rank ``rank [[A]]_I`` of the network's tensor for any weights. For
    generic *independent* weights it equals the rank when every dimension is a power of one integer
    (theory page, :ref:`theory-mincut`); tied (shared) weights can fall below it, e.g.
    ``ConvAC(ModeTree.from_nested(((2, 1, 0), 4, 3)), 2, 4, shared=True)`` across ``{0, 2}``: min cut 4, generic rank 3.

    Attributes
    ----------
    bound : int
        The exact product of the dimensions severed (copy tensors once), minimal over all cuts.
    log2_bound : float
        ``math.log2(bound)`` (correctly rounded from the exact integer).
    part : frozenset of int
        The side ``I`` (for an A|B cut, ``A``).
    other : frozenset of int or None
        ``B`` for an A|B cut (the legs in neither are free, see :attr:`free` and :attr:`open_side`);
        None for an ordinary cut, whose other side is the complement of ``part``.
    method : str
        The solver that found the cut (``"tree"``, ``"networkx"`` or ``"scipy"``).
    edges : tuple of CutEdge
        What is severed; the product of their ``dim`` is ``bound``.
    side : frozenset of str
        Names of the tensors on the ``I`` side.

    Examples
    --------
    >>> import tnconv as tc
    >>> cut = tc.min_cut(tc.deep(8, 2, 2, seed=0), [0, 1, 2, 3])
    >>> cut.bound, cut.edges[0].description
    (2, 'copy tensor of window {4,5,6,7} (dim 2)')
    """

    bound: int
    log2_bound: float
    # The side I as the caller gave it (a frozenset) or as positions (an int array, turned into the
    # frozenset ``part`` on first use): batches of 10^5 queries need not hold 10^5 frozensets.
    _part: Any = field(repr=False)
    method: str
    _prob: Any = field(repr=False)
    # Packed bits (np.packbits) of the side of every tensor and open leg: V/8 bytes per cut.
    _side_bits: np.ndarray = field(repr=False)
    _cut_e: np.ndarray = field(repr=False)
    _cut_h: np.ndarray = field(repr=False)
    other: frozenset | None = None

    @functools.cached_property
    def part(self) -> frozenset:
        p = self._part
        return p if isinstance(p, frozenset) else frozenset(np.asarray(p).tolist())

    @property
    def _side(self) -> np.ndarray:
        V = self._prob.n_tensors + self._prob.n_open
        return np.unpackbits(self._side_bits, count=V).astype(bool)

    @property
    def free(self) -> frozenset:
        """The open legs in neither side of an A|B cut (empty for an ordinary cut)."""
        if self.other is None:
            return frozenset()
        return frozenset(range(self._prob.n_open)) - self.part - self.other

    @property
    def open_side(self) -> frozenset:
        """The open legs that this cut puts on the side of :attr:`part`: ``part`` itself, plus, for an
        A|B cut, the free legs that the cut leaves there (ties go to the side of their tensor).

        Examples
        --------
        >>> import tnconv as tc
        >>> tn = tc.TensorNetwork.from_einsum("ab,bc,cd->acd", [(2, 4), (4, 4), (4, 2)])
        >>> cut = tc.min_cut(tn, ([0], [1]))   # leg 2 free
        >>> cut.bound, sorted(cut.open_side), sorted(cut.free)
        (2, [0], [2])
        """
        T = self._prob.n_tensors
        return frozenset(np.flatnonzero(self._side[T:]).tolist())

    @property
    def edges(self) -> tuple[CutEdge, ...]:
        """What the cut severs: one :class:`CutEdge` per index (copy tensors first, then bonds, then open legs).

        The dimensions multiply to :attr:`bound`.
        """
        prob = self._prob
        tn = prob.tn
        T = prob.n_tensors
        info = tn.index_info
        out: list[CutEdge] = []
        for j in self._cut_h.tolist():
            i, ms = prob.hyper[j]
            names = tuple(tn.names[m] for m in ms.tolist() if m < T)
            d = prob.hyper_dims[j]
            more = "..." if len(names) > 4 else ""
            desc = info.get(i) or f"copy tensor {i!r} joining {', '.join(names[:4])}{more} (dim {d})"
            out.append(CutEdge("copy", i, d, desc, names))
        # Bonds between tensors first, then open legs by input position.
        for k in sorted(self._cut_e.tolist(), key=lambda k: (max(prob.edges[k][:2]) >= T, max(prob.edges[k][:2]))):
            u, v, inds = prob.edges[k]
            names = tuple(tn.names[x] for x in (u, v) if x < T)
            kind = "open" if max(u, v) >= T else "bond"
            for i in inds:
                d = int(tn.size_dict[i])
                if i in info:
                    desc = info[i]
                elif kind == "open":
                    desc = f"open leg {max(u, v) - T} (index {i!r}, dim {d}) of {names[0]}"
                else:
                    desc = f"bond {i!r} between {names[0]} and {names[1]} (dim {d})"
                out.append(CutEdge(kind, i, d, desc, names))
        return tuple(out)

    @property
    def side(self) -> frozenset:
        """The names of the tensors on the ``I`` side (see :meth:`tensor_sides` for the boolean form)."""
        names = self._prob.tn.names
        return frozenset(names[k] for k in np.flatnonzero(self._side[: self._prob.n_tensors]))

    @property
    def problem(self) -> Any:
        """The :class:`~tnconv.mincut.flow.CutProblem` the cut was found on (structure and capacities)."""
        return self._prob

    @property
    def network(self) -> Any:
        """The :class:`~tnconv.network.TensorNetwork` that was cut (its structure; see :attr:`problem`)."""
        return self._prob.tn

    def tensor_sides(self) -> np.ndarray:
        """Boolean array over the network's tensors: True on the ``I`` side (a copy).

        With :attr:`part` (the open legs of ``I``) it fixes the cut completely: an index is severed when
        the tensors and open legs that carry it lie on both sides (:attr:`cut_indices`).

        Examples
        --------
        >>> import tnconv as tc
        >>> cut = tc.min_cut(tc.deep(4, 2, 2, seed=0), [0, 1])
        >>> cut.tensor_sides().tolist()
        [True, True, True, False, False, True, True]
        """
        return self._side[: self._prob.n_tensors].copy()

    @property
    def cut_indices(self) -> tuple:
        """The labels of the severed indices, in the order of :attr:`edges`; their dimensions multiply
        to :attr:`bound`."""
        return tuple(e.index for e in self.edges)

    def summary(self, max_edges: int = 8) -> str:
        """A few lines: the bound and where the cut runs.

        Parameters
        ----------
        max_edges : int
            Severed indices listed before "... and k more".

        Returns
        -------
        str

        Examples
        --------
        >>> import tnconv as tc
        >>> print(tc.min_cut(tc.deep(4, 2, 2, seed=0), [0, 1]).summary())
        min cut 2 (log2 1) across 1 severed indices [tree]
          copy tensor of window {...} (dim 2)
        """
        es = self.edges
        lines = [f"min cut {self.bound} (log2 {self.log2_bound:.4g}) across {len(es)} severed indices [{self.method}]"]
        for e in es[:max_edges]:
            lines.append(f"  {e.description}")
        if len(es) > max_edges:
            lines.append(f"  ... and {len(es) - max_edges} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        bound = str(self.bound) if self.log2_bound < 64 else f"2^{self.log2_bound:.6g}"
        pair = "" if self.other is None else f", |B|={len(self.other)}"
        return (f"MinCut(bound={bound}, log2_bound={self.log2_bound:.6g}, |I|={len(self._part)}{pair}, "
                f"severed={len(self._cut_e) + len(self._cut_h)} groups, method={self.method!r})")

    def draw(self, ax: Any = None, layout: str = "auto", with_labels: bool | None = None, shape: Any = None,
             view: str = "auto", legend: bool = True) -> Any:
        """Draw the cut: the network with its two sides coloured and the severed bonds and copy tensors
        in red, or, for a 2D model, the image with each side's pixels coloured.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw (one view). Default: a new figure (both views side by side when ``shape`` is
            given and ``view="auto"``).
        layout : {"auto", "tree", "chain", "grid", "spring"}
            ``"tree"`` lays forest networks out by depth (root on top), ``"chain"`` draws an MPS,
            ``"grid"`` a PEPS; ``"auto"`` picks from the network's structure (or quimb's tags).
        with_labels : bool, optional
            Tensor names; by default only for at most 16 tensors.
        shape : (height, width), optional
            The image shape of the inputs (position ``r * width + c``); adds the image view, which
            outlines the window of every severed index, coloured by its height in the pooling tree.
        view : {"auto", "network", "image", "both"}
            ``"auto"``: the network alone without ``shape``; with it, both views (one when ``ax`` is given).
        legend : bool
            A legend naming the sides and the severed legs.

        Returns
        -------
        matplotlib Axes
            The image view's axes when there is one, else the network's (``ax.figure.axes`` holds both).

        Raises
        ------
        ValueError
            An unknown ``layout`` or ``view``, an image view without ``shape``, or a ``shape`` that does not
            match the inputs.
        ImportError
            Without matplotlib: ``pip install 'tnconv[plot]'``.

        See Also
        --------
        tnconv.mincut.draw.draw_cut : the same picture as a function.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt, tnconv as tc
        >>> ax = tc.min_cut(tc.deep(4, 2, 2, seed=0), [0, 1]).draw()
        >>> type(ax).__name__
        'Axes'
        >>> cut = tc.min_cut(tc.deep((4, 4), 2, 2, seed=0), tc.partitions.checkerboard((4, 4)))
        >>> [a.get_title() for a in cut.draw(shape=(4, 4)).figure.axes]
        ['min cut 16 = 2^4: on the image', 'min cut 16 = 2^4']
        >>> plt.close("all")
        """
        from .draw import draw_cut

        return draw_cut(self, ax=ax, layout=layout, with_labels=with_labels, shape=shape, view=view,
                        legend=legend)
