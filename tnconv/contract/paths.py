"""Structure-derived contraction paths and path costs.

A network compiled from a model over a mode tree needs no path search: contracting it bottom-up over the
tree (each leaf's weight with its feature, then each window's children together, then the window's
weight) is the order the network itself computes in. :func:`structure_path` writes that order as an
opt_einsum linear-format path in time linear in the number of tensors, with no search. Inside one tree
node (a handful of operands) the pair whose result is smallest goes first.

:func:`path_cost` checks any explicit path against a network and counts its cost. Flops follow
opt_einsum's convention (a multiply-add counts 2 when an index is summed, as in
``opt_einsum.helpers.flop_count``); ``cotengra_flops`` counts 1 per multiply-add, as cotengra's
``ContractionTree.total_flops`` does. Sizes are in elements.

References
----------
.. [1] D. G. A. Smith, J. Gray, "opt_einsum - A Python package for optimizing contraction order for
   einsum-like expressions", JOSS 3(26), 753 (2018).
.. [2] J. Gray, S. Kourtis, "Hyper-optimized tensor network contraction", Quantum 5, 410 (2021),
   arXiv:2002.01935.
.. [3] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552 (ConvACs as tensor
   networks).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BATCH_INDEX", "PathCost", "StructurePath", "network_inputs", "path_cost", "structure_path"]

#: Label of the batch index used when features are attached to the open legs.
BATCH_INDEX = "__batch__"

#: Tree nodes with more operands than this are folded in one pass (linear) rather than by the
#: smallest-pair scan (cubic in the operands of the node).
WIDE_NODE = 12


@dataclass(frozen=True)
class PathCost:
    """The cost of a contraction path.

    Attributes
    ----------
    flops : int
        opt_einsum convention (2 per multiply-add when something is summed, 1 for pure products).
    cotengra_flops : int
        cotengra convention (1 per multiply-add).
    largest_intermediate : int
        Elements of the largest intermediate (results only, as in opt_einsum's ``PathInfo``).
    n_steps : int
        Pairwise (or k-ary) contractions.
    """

    flops: int
    cotengra_flops: int
    largest_intermediate: int
    n_steps: int

    def describe(self) -> str:
        """One line, in the spirit of cotengra's ``describe()``."""
        return (
            f"log10[FLOPs]={math.log10(max(self.flops, 1)):.2f} (opt_einsum convention) "
            f"log2[SIZE]={math.log2(max(self.largest_intermediate, 1)):.2f} steps={self.n_steps}"
        )


def network_inputs(tn: Any, features: bool, batch: int = 1) -> tuple[list[tuple], tuple, dict]:
    """``(inputs, output, size_dict)`` of ``tn``, with one ``(batch, leg)`` operand per open leg when
    ``features`` (in the order of ``tn.operands``)."""
    inputs = [tuple(ix) for ix in tn.inds]
    sizes = dict(tn.size_dict)
    if not features:
        return inputs, tuple(tn.open_inds), sizes
    if BATCH_INDEX in sizes:
        raise ValueError(f"the network already uses the index {BATCH_INDEX!r}, reserved for the batch")
    sizes[BATCH_INDEX] = int(batch)
    inputs += [(BATCH_INDEX, i) for i in tn.open_inds]
    return inputs, (BATCH_INDEX,), sizes


def _size(ix: Any, sizes: dict) -> int:
    out = 1
    for i in ix:
        out *= sizes[i]
    return out


def path_cost(inputs: Sequence[Sequence[Hashable]], output: Sequence[Hashable], size_dict: dict,
              path: Sequence[Sequence[int]]) -> PathCost:
    """Check that ``path`` (opt_einsum linear format) contracts ``inputs`` to one tensor; count its cost.

    Parameters
    ----------
    inputs : sequence of index tuples
    output : sequence of indices
    size_dict : dict
    path : sequence of tuples of int
        Each step lists positions in the current operand list; the contracted operands are removed and
        the result appended, as in ``opt_einsum.contract_path``.

    Returns
    -------
    PathCost

    Raises
    ------
    ValueError
        A step that is not a tuple of distinct in-range positions, or a path that leaves more than one
        operand (the message names the step).

    Examples
    --------
    >>> c = path_cost([("a", "b"), ("b", "c"), ("c", "d")], ("a", "d"), {"a": 2, "b": 3, "c": 4, "d": 5},
    ...               [(0, 1), (0, 1)])
    >>> c.flops, c.cotengra_flops, c.largest_intermediate
    (128, 64, 10)
    """
    ops: list[frozenset] = [frozenset(ix) for ix in inputs]
    count: Counter = Counter(i for ix in ops for i in ix)
    out = frozenset(output)
    flops = cflops = largest = 0
    try:
        steps = [tuple(step) for step in path]
    except TypeError:
        raise ValueError(f"a contraction path is a list of tuples of operand positions, got {path!r}") from None
    for k, step in enumerate(steps):
        n = len(ops)
        if len(step) < 1 or any(isinstance(p, bool) or not isinstance(p, int) for p in step):
            raise ValueError(f"path step {k} {step!r} must be a non-empty tuple of ints")
        if len(set(step)) != len(step) or any(not 0 <= p < n for p in step):
            raise ValueError(
                f"path step {k} {step!r} does not fit the network: positions must be distinct and in 0..{n - 1} "
                f"({n} operands remain at that step)"
            )
        taken = [ops[p] for p in step]
        for p in sorted(step, reverse=True):
            del ops[p]
        union = frozenset().union(*taken)
        for ix in taken:
            count.subtract(ix)
        result = frozenset(i for i in union if count[i] > 0 or i in out)
        count.update(result)
        size_all = _size(union, size_dict)
        summed = len(result) < len(union)
        flops += size_all * (max(1, len(step) - 1) + (1 if summed else 0))
        cflops += size_all
        largest = max(largest, _size(result, size_dict))
        ops.append(result)
    if len(ops) != 1:
        raise ValueError(
            f"the path has {len(steps)} steps and leaves {len(ops)} operands; a complete path for "
            f"{len(inputs)} operands reduces them to one"
        )
    return PathCost(flops, cflops, largest, len(steps))


@dataclass
class StructurePath:
    """A structure-derived path with its cost.

    Attributes
    ----------
    path : list of tuple of int
        opt_einsum linear format, ready for ``opt_einsum.contract(..., optimize=path)``.
    cost : PathCost
    inputs, output, size_dict
        The network as index tuples (features appended when requested).
    """

    path: list
    cost: PathCost
    inputs: list = field(repr=False)
    output: tuple = field(repr=False)
    size_dict: dict = field(repr=False)

    @property
    def flops(self) -> int:
        return self.cost.flops

    @property
    def largest_intermediate(self) -> int:
        return self.cost.largest_intermediate

    def to_cotengra(self) -> Any:
        """The path as a ``cotengra.ContractionTree`` (``ContractionTree.from_path``).

        Raises
        ------
        ImportError
            Without cotengra (``pip install 'tnconv[quimb]'``).
        """
        try:
            import cotengra as ctg
        except ImportError as exc:
            raise ImportError("to_cotengra needs cotengra: pip install 'tnconv[quimb]'") from exc
        from opt_einsum import get_symbol

        # cotengra builds einsum strings from the labels: give it single-character symbols.
        sym: dict = {}
        for ix in self.inputs:
            for i in ix:
                sym.setdefault(i, get_symbol(len(sym)))
        inputs = [tuple(sym[i] for i in ix) for ix in self.inputs]
        sizes = {sym[i]: d for i, d in self.size_dict.items() if i in sym}
        return ctg.ContractionTree.from_path(inputs, tuple(sym[i] for i in self.output), sizes, path=self.path)


class _Fenwick:
    """Prefix counts of live operands, to turn operand ids into linear-path positions in O(log n)."""

    def __init__(self, n: int, alive: int = 0):
        # ids 0..alive-1 start live; node i covers ids (i - lowbit(i), i], built in O(n)
        self.n = n
        self.tree = [max(0, min(i, alive) - (i - (i & -i))) for i in range(n + 1)]

    def add(self, i: int, v: int) -> None:
        i += 1
        while i <= self.n:
            self.tree[i] += v
            i += i & -i

    def prefix(self, i: int) -> int:  # live ids < i
        s = 0
        while i > 0:
            s += self.tree[i]
            i -= i & -i
        return s


def _operands_by_node(tn: Any, tree: Any, features: bool) -> dict[Any, list[int]]:
    """The operand ids contracted at each tree node (unassigned ones at the root; features with their carrier).

    Raises ``ValueError`` if a tensor is assigned to a node that is not in the tree.
    """
    known = set(tree.nodes)
    owner: list[Any] = []
    for k, v in enumerate(tn.tensor_nodes):
        if v is not None and v not in known:
            raise ValueError(f"tensor {k} ({tn.names[k]}) is assigned to {sorted(v)}, which is not a node of the tree")
        owner.append(v)
    if features:
        carrier: dict[Hashable, Any] = {}
        for k, ix in enumerate(tn.inds):
            for i in ix:
                carrier.setdefault(i, owner[k])
        owner += [carrier.get(i) for i in tn.open_inds]
    local: dict[Any, list[int]] = {}
    for k, v in enumerate(owner):
        local.setdefault(v if v is not None else tree.root, []).append(k)
    return local


class _PathBuilder:
    """A linear-format path built one contraction at a time, with its running cost.

    Operands have ids (inputs first, then each result in turn); a Fenwick tree of the live ids turns an
    id into its position in opt_einsum's shrinking operand list.
    """

    def __init__(self, inputs: list[tuple], output: tuple, sizes: dict):
        n_ops = len(inputs)
        self.sizes = sizes
        self.fen = _Fenwick(2 * n_ops, alive=n_ops)
        self.inds: list[frozenset] = [frozenset(ix) for ix in inputs] + [frozenset()] * n_ops
        self.count: Counter = Counter(i for ix in inputs for i in ix)
        self.out = frozenset(output)
        self.path: list[tuple[int, int]] = []
        self.flops = self.cflops = self.largest = 0
        self.next_id = n_ops

    def contract(self, a: int, b: int) -> int:
        """Contract operands ``a`` and ``b``; return the id of the result."""
        fen, inds, count, sizes = self.fen, self.inds, self.count, self.sizes
        pa, pb = fen.prefix(a), fen.prefix(b)
        self.path.append((min(pa, pb), max(pa, pb)))
        union = inds[a] | inds[b]
        count.subtract(inds[a])
        count.subtract(inds[b])
        res = frozenset(i for i in union if count[i] > 0 or i in self.out)
        count.update(res)
        fen.add(a, -1)
        fen.add(b, -1)
        new = self.next_id
        self.next_id += 1
        fen.add(new, 1)
        inds[new] = res
        size_all = _size(union, sizes)
        self.flops += size_all * (2 if len(res) < len(union) else 1)
        self.cflops += size_all
        self.largest = max(self.largest, _size(res, sizes))
        return new

    def reduce(self, items: list[int]) -> int:
        """Contract ``items`` to one operand, smallest result first (sharing an index before not); its id."""
        items = list(items)
        if len(items) == 2:
            return self.contract(items[0], items[1])
        if len(items) > WIDE_NODE:
            return self.fold(items)
        inds, count, out, sizes = self.inds, self.count, self.out, self.sizes
        while len(items) > 1:
            best = None
            for x in range(len(items)):
                for y in range(x + 1, len(items)):
                    a, b = items[x], items[y]
                    shared = bool(inds[a] & inds[b])
                    union = inds[a] | inds[b]
                    # indices of a and b that nothing else still needs are summed away
                    res = [i for i in union if i in out or count[i] - (i in inds[a]) - (i in inds[b]) > 0]
                    key = (not shared, _size(res, sizes), _size(union, sizes))
                    if best is None or key < best[0]:
                        best = (key, x, y)
            _, x, y = best  # type: ignore[misc]
            new = self.contract(items[x], items[y])
            items = [it for k, it in enumerate(items) if k not in (x, y)] + [new]
        return items[0]

    def fold(self, items: list[int]) -> int:
        """Contract ``items`` into one accumulator in a single pass (for wide nodes); its id."""
        # A wide window (a flat tree has thousands of children): the pairwise scan of reduce is cubic in
        # the number of items, so fold them into one accumulator instead, operands that carry an index to
        # the rest of the network (the window's weight) last, smallest first, each time taking the next
        # operand that shares an index with the accumulator.
        inds, count, out, sizes = self.inds, self.count, self.out, self.sizes
        local = Counter(i for it in items for i in inds[it])

        def outward(it: int) -> bool:
            return any(count[i] > local[i] or i in out for i in inds[it])

        pending = sorted(items, key=lambda it: (outward(it), _size(inds[it], sizes)))
        acc = pending.pop(0)
        while pending:
            j = next((k for k, it in enumerate(pending) if inds[it] & inds[acc]), 0)
            acc = self.contract(acc, pending.pop(j))
        return acc


def structure_path(tn: Any, features: bool = False, batch: int = 1) -> StructurePath:
    """The bottom-up path over ``tn.tree``: no search, linear time.

    Parameters
    ----------
    tn : TensorNetwork
        A network with ``tree`` and ``tensor_nodes`` set (compiled from a model).
    features : bool
        Whether one ``(batch, M)`` feature operand per open leg is appended (as in
        ``tn.equation(features=True)``).
    batch : int
        Batch size used for the cost.

    Returns
    -------
    StructurePath

    Raises
    ------
    ValueError
        If the network has no tree, or a tensor's node is not in the tree.

    Examples
    --------
    >>> import numpy as np, opt_einsum as oe, tnconv as tc
    >>> net = tc.deep(8, 2, 3, seed=0)
    >>> tn = net.to_tensor_network()
    >>> sp = structure_path(tn, features=True, batch=5)
    >>> F = np.random.default_rng(0).standard_normal((5, 8, 2))
    >>> out = oe.contract(tn.equation(features=True), *tn.operands(F), optimize=sp.path)
    >>> bool(np.allclose(out, net.forward(F)[:, 0]))
    True
    >>> sp.cost.largest_intermediate
    15
    """
    from .._core.validate import check_flag

    features = check_flag(features, "features")
    if tn.tree is None or tn.tensor_nodes is None:
        raise ValueError("structure_path needs a network compiled from a model over a mode tree (tn.tree is None)")
    tree = tn.tree
    inputs, output, sizes = network_inputs(tn, features, batch)
    local = _operands_by_node(tn, tree, features)
    builder = _PathBuilder(inputs, output, sizes)
    result: dict[Any, int] = {}
    for v in tree.nodes:
        items = [result.pop(c) for c in tree.children(v) if c in result] + local.get(v, [])
        if items:
            result[v] = builder.reduce(items)
    cost = PathCost(builder.flops, builder.cflops, builder.largest, len(builder.path))
    return StructurePath(builder.path, cost, inputs, output, sizes)
