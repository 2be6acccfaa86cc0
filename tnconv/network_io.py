"""Imports and exports of tensor networks: einsum equations, quimb networks, string labels.

The functions return the constructor arguments of :class:`tnconv.network.TensorNetwork`, which wraps
them (``TensorNetwork.from_einsum``, ``from_quimb``, ``to_quimb``); they hold the parsing and the
checks, each error naming the offending operand, index or dimension.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ._core.validate import check_arrays, check_dimension, check_labels

__all__ = ["LegTags", "einsum_parts", "is_quimb_network", "quimb_network", "quimb_parts", "string_labels"]


def einsum_parts(equation: Any, shapes: Any = None, arrays: Any = None) -> dict[str, Any]:
    """Constructor arguments for ``equation`` (see :meth:`TensorNetwork.from_einsum`, which documents the
    errors)."""
    if not isinstance(equation, str):
        raise TypeError(f"equation must be an einsum string such as 'ab,bc->ac', got {equation!r}")
    eq = equation.replace(" ", "")
    if eq.count("->") != 1:
        raise ValueError(
            f"equation {equation!r} needs exactly one explicit output ('->'); open legs are never inferred"
        )
    if "." in eq:
        raise ValueError(f"equation {equation!r}: ellipses are not supported")
    lhs, out = eq.split("->")
    for part, what in ((lhs, "inputs"), (out, "output")):
        bad = sorted({c for c in part if c in "-><" or (c == "," and what == "output")})
        if bad:
            raise ValueError(f"equation {equation!r}: stray {bad[0]!r} in the {what}")
    terms = lhs.split(",")
    if arrays is not None:
        arrays = check_arrays(arrays, len(terms), what=f"equation {equation!r} has {len(terms)} operands but")
    if shapes is None:
        if arrays is None:
            raise TypeError("from_einsum needs shapes (one tuple of ints per operand) or arrays")
        shapes = [tuple(a.shape) for a in arrays]
    if isinstance(shapes, (str, bytes)) or not isinstance(shapes, Iterable):
        raise TypeError(f"shapes must be a sequence of shapes (one tuple of ints per operand), got {shapes!r}")
    shapes = list(shapes)
    if len(terms) != len(shapes):
        hint = ""
        if len(terms) == 1 and shapes and all(isinstance(d, (int, np.integer)) for d in shapes):
            hint = f"; for one operand pass [{tuple(shapes)}]"
        raise ValueError(
            f"equation {equation!r} has {len(terms)} operands but {len(shapes)} shapes were given{hint}"
        )
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Iterable):
            raise TypeError(f"shape of operand {k} ({term!r}) must be a tuple of ints, got {shape!r}")
        shape = tuple(shape)
        if len(term) != len(shape):
            raise ValueError(f"operand {k} ({term!r}) has {len(term)} indices but shape {shape}")
        dims = tuple(
            check_dimension(d, f"dimension {a} of operand {k} ({term!r}, index {c!r})")
            for a, (c, d) in enumerate(zip(term, shape))
        )
        if arrays is not None and arrays[k] is not None and tuple(arrays[k].shape) != dims:
            raise ValueError(
                f"operand {k} ({term!r}) has shape {dims} but its array has shape {tuple(arrays[k].shape)}"
            )
        for c, d in zip(term, dims):
            if sizes.setdefault(c, d) != d:
                raise ValueError(f"index {c!r} has dimension {sizes[c]} on one operand but {d} on operand {k}")
    return {"arrays": arrays, "inds": [tuple(t) for t in terms], "size_dict": sizes, "open_inds": tuple(out)}


def is_quimb_network(obj: Any) -> bool:
    """Whether ``obj`` is a quimb tensor network (checked without importing quimb)."""
    return type(obj).__module__.split(".")[0] == "quimb" and hasattr(obj, "tensors") and hasattr(obj, "outer_inds")


def _outer_inds(tn: Any, tensors: Sequence[Any]) -> list[Hashable]:
    """The indices on exactly one tensor, site indices first (in site order) when the network has them."""
    counts: dict[Hashable, int] = {}
    for t in tensors:
        for i in t.inds:
            counts[i] = counts.get(i, 0) + 1
    outer = [i for i, c in counts.items() if c == 1]
    try:
        sites = [i for i in getattr(tn, "site_inds", ()) if counts.get(i) == 1]
    except (AttributeError, TypeError, ValueError):  # a network whose site_inds do not apply
        sites = []
    seen = set(sites)
    return sites + [i for i in outer if i not in seen]


def quimb_parts(tn: Any, open_inds: Sequence[Hashable] | None = None,
                sum_inds: Sequence[Hashable] = ()) -> dict[str, Any]:
    """Constructor arguments for a quimb network (see :meth:`TensorNetwork.from_quimb`, which documents
    the defaults and the errors)."""
    tensors_attr = getattr(tn, "tensors", None)
    if tensors_attr is None or isinstance(tn, (list, tuple)):
        raise TypeError(
            f"from_quimb needs a quimb.tensor.TensorNetwork, got {type(tn).__name__}; for plain arrays use "
            "TensorNetwork.from_einsum or TensorNetwork(arrays, inds, open_inds=...)"
        )
    tensors = list(tensors_attr)
    names, tags = [], []
    for k, t in enumerate(tensors):
        if not all(hasattr(t, a) for a in ("data", "inds", "tags")):
            raise TypeError(f"tensor {k} of the quimb network is a {type(t).__name__}, not a quimb Tensor")
        tk = sorted(map(str, t.tags))
        tags.append(frozenset(tk))
        names.append(",".join(tk) if tk else f"T{k}")
    outer = _outer_inds(tn, tensors)
    summed = check_labels(sum_inds, "sum_inds")
    if open_inds is None:
        opened = tuple(i for i in outer if i not in set(summed))
    else:
        opened = check_labels(open_inds, "open_inds")
    both = [i for i in summed if i in set(opened)]
    if both:
        raise ValueError(f"indices {both[:5]} are listed both in open_inds and in sum_inds")
    not_outer = [i for i in summed if i not in set(outer)]
    if not_outer:
        raise ValueError(f"sum_inds {not_outer[:5]} are not outer indices of the network (each must be on one tensor)")
    left = [i for i in outer if i not in set(opened) and i not in set(summed)]
    if left:
        raise ValueError(
            f"outer indices {left[:8]}{' ...' if len(left) > 8 else ''} are neither open nor summed: list "
            "them in open_inds to keep them open, or in sum_inds=[...] to sum over them"
        )
    arrays = [np.asarray(t.data) if type(t.data).__module__.split(".")[0] == "numpy" else t.data for t in tensors]
    return {"arrays": arrays, "inds": [tuple(t.inds) for t in tensors], "open_inds": opened, "names": names,
            "tags": tags, "leg_shape": _grid_shape(tn, opened)}


def _grid_shape(tn: Any, opened: Sequence[Hashable]) -> tuple[int, int] | None:
    """``(Lx, Ly)`` when the open legs are exactly a 2D quimb network's site indices in row-major order
    (a PEPS), so that 2D partition names apply; else None."""
    Lx, Ly = getattr(tn, "Lx", None), getattr(tn, "Ly", None)
    if not (isinstance(Lx, int) and isinstance(Ly, int)) or Lx * Ly != len(opened):
        return None
    try:
        sites = [tn.site_ind(i, j) for i in range(Lx) for j in range(Ly)]
    except (AttributeError, TypeError, ValueError):
        return None
    return (Lx, Ly) if list(opened) == sites else None


def string_labels(inds: Sequence[Sequence[Hashable]], open_inds: Sequence[Hashable]) -> dict[Hashable, str]:
    """The injective label-to-string map of :meth:`TensorNetwork.string_labels`."""
    labels = list(dict.fromkeys([*(i for ix in inds for i in ix), *open_inds]))
    taken = {i for i in labels if isinstance(i, str)}
    out: dict[Hashable, str] = {}
    for i in labels:
        if isinstance(i, str):
            out[i] = i
            continue
        name = str(i)
        if name in taken:
            name = f"{i!r}:{type(i).__name__}"
            k = 1
            while name in taken:
                name = f"{i!r}:{type(i).__name__}~{k}"
                k += 1
        taken.add(name)
        out[i] = name
    return out


def quimb_network(arrays: Sequence[Any], inds: Sequence[Sequence[Hashable]], names: Sequence[str],
                  labels: dict[Hashable, str]) -> Any:
    """A ``quimb.tensor.TensorNetwork`` of the tensors, with index labels mapped by ``labels``.

    Raises
    ------
    ImportError
        Without quimb.
    """
    try:
        import quimb.tensor as qtn
    except ImportError as exc:
        raise ImportError("to_quimb needs quimb: pip install 'tnconv[quimb]'") from exc
    return qtn.TensorNetwork(
        [
            qtn.Tensor(a, inds=tuple(labels[i] for i in ix), tags={name})
            for a, ix, name in zip(arrays, inds, names)
        ]
    )


class LegTags(Mapping):
    """Tag -> open-leg positions of a network, built on first use (a quimb import's tags, else the
    tensor names): a tag selects the open legs of every tensor that carries it."""

    def __init__(self, tn: Any):
        self._tn = tn
        self._map: dict[str, tuple[int, ...]] | None = None

    def _build(self) -> dict[str, tuple[int, ...]]:
        if self._map is None:
            tn = self._tn
            tags = tn.tensor_tags if tn.tensor_tags is not None else [frozenset([n]) for n in tn.names]
            members = tn.index_members()
            out: dict[str, list[int]] = {}
            for p, i in enumerate(tn.open_inds):
                for k in members.get(i, ()):
                    for tag in tags[k]:
                        out.setdefault(tag, []).append(p)
            self._map = {t: tuple(dict.fromkeys(ps)) for t, ps in out.items()}
        return self._map

    def __getitem__(self, key: str) -> tuple[int, ...]:
        return self._build()[key]

    def __iter__(self) -> Any:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())
