"""The JSON spec of a model file, both ways: :func:`model_spec` writes it, :class:`ModelPlan` reads it.

A spec names the model class, the tree (flat post-order codes in version 2, nested lists in version 1),
the sizes, the pooling operator, the dtype and the layout's own fields (per-node ``widths``; one
``width`` and ``dilations``; two ``nets`` mixed). Reading it yields one :class:`NetworkPlan` per network:
the constructor arguments and the exact shape of every member array, checked completely before any
array is read; :meth:`ModelPlan.build` puts the model together from the arrays. The file format itself
is described in :mod:`tnconv.models.io`.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from .._core.keys import node_key
from ..trees import ModeTree
from .io_registry import model_class, model_layout, registered_name
from .io_validate import SpecReader, build_tree, count_leaves_v1, short, spec_int, tree_from_codes
from .operators import OPERATORS

__all__ = ["ModelPlan", "NetworkPlan", "model_spec", "network_spec"]

_DTYPES = ("float64", "float32")


def _tree_codes(tree: ModeTree) -> list[int]:
    return [next(iter(v)) if tree.is_leaf(v) else -len(tree.children(v)) for v in tree.nodes]


def network_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The spec and the member arrays of one network (a ``widths`` or ``dilated`` layout).

    Parameters
    ----------
    model : ConvAC, ConvNet or DilatedConvNet
        With a named pooling operator.

    Returns
    -------
    (dict, dict)
        The spec (without ``format`` and ``version``) and ``{member name: array}``.

    Raises
    ------
    ValueError
        For a custom (callable) pooling operator, which cannot be written as data.

    Examples
    --------
    >>> import tnconv as tc
    >>> spec, arrays = network_spec(tc.deep(4, 2, 3, seed=0))
    >>> spec["tree"], spec["widths"], sorted(arrays)[:3]
    ([0, 1, -2, 2, 3, -2, -2], [3, 3, 3, 3, 3, 3], ['w:0', 'w:1', 'w:2'])
    """
    if model.g.name not in OPERATORS or OPERATORS[model.g.name] is not model.g:
        raise ValueError(f"cannot save a model with the custom pooling operator {model.g.name!r}; only named ones")
    tree: ModeTree = model.tree
    spec: dict[str, Any] = {
        "class": registered_name(model),
        "tree": _tree_codes(tree),
        "n_descriptors": int(model.n_descriptors),
        "n_outputs": int(model.n_outputs),
        "g": model.g.name,
        "shared": bool(model.shared),
        "dtype": model.dtype.name,
    }
    if tree.image_shape is not None:  # the geometry that partition names ("checkerboard") read
        spec["image_shape"] = [int(n) for n in tree.image_shape]
    arrays: dict[str, np.ndarray] = {}
    if model_layout(spec["class"]) == "dilated":
        spec["width"] = int(model.width)
        spec["dilations"] = [int(d) for d in model.dilations] if model.dilations is not None else None
        for k, v in enumerate(tree.nodes):
            w = model.weights[v]
            if isinstance(w, tuple):
                for j, m in enumerate(w):
                    arrays[f"w:{k}:{j}"] = m
            else:
                arrays[f"w:{k}"] = w
        return spec, arrays
    spec["widths"] = [int(model.widths[v]) for v in tree.nodes[:-1]]
    for k, v in enumerate(tree.nodes):
        key = f"h:{tree.height(v)}" if model.shared else f"w:{k}"
        arrays.setdefault(key, model.weights[v])
    return spec, arrays


def model_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The spec and the member arrays of ``model``; a mixed model's networks are prefixed ``a/``, ``b/``.

    Parameters
    ----------
    model : ConvAC, ConvNet, DilatedConvNet or MixedConvNet

    Returns
    -------
    (dict, dict)
        The spec (without ``format`` and ``version``) and ``{member name: array}``.

    Raises
    ------
    TypeError
        ``model`` is not of a registered class.
    ValueError
        For a custom (callable) pooling operator.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.MixedConvNet(tc.ModeTree.dilated(2, [1, 2]), tc.ModeTree.dilated(2, [2, 1]), [], 2, 2,
    ...                       seed=0)
    >>> spec, arrays = model_spec(net)
    >>> spec["class"], len(spec["nets"]), sorted(arrays)[0]
    ('MixedConvNet', 2, 'a/w:0')
    """
    name = registered_name(model)
    if model_layout(name) != "mixed":
        return network_spec(model)
    tree_a = model.nets[0].tree
    index = {v: k for k, v in enumerate(tree_a.nodes)}
    spec: dict[str, Any] = {"class": name,
                            "mixture_nodes": [index[frozenset(m)] for m in model.mixture_nodes], "nets": []}
    arrays: dict[str, np.ndarray] = {}
    for tag, net in zip("ab", model.nets):
        sub, sub_arrays = network_spec(net)
        spec["nets"].append(sub)
        arrays.update({f"{tag}/{k}": v for k, v in sub_arrays.items()})
    return spec, arrays


def _read_tree(spec: SpecReader, version: int) -> ModeTree:
    """The tree of a spec (codes in version 2, nested lists in version 1) with its ``image_shape``."""
    raw_tree = spec.get("tree")
    if version == 1:
        count_leaves_v1(spec, raw_tree)
        tree = build_tree(spec, raw_tree)
    else:
        tree = tree_from_codes(spec, raw_tree)
    if "image_shape" in spec.obj:
        image = spec.int_list("image_shape", 1, tree.n_inputs)
        if len(image) != 2 or image[0] * image[1] != tree.n_inputs:
            raise spec.fail(f"field 'image_shape' {image} is not (height, width) of the tree's "
                            f"{tree.n_inputs} inputs")
        tree.image_shape = (image[0], image[1])
    return tree


def _read_widths(spec: SpecReader, keys: list[str], version: int) -> list[int]:
    """The widths of the non-root nodes, in post-order (``keys`` name every node, the root last)."""
    raw_widths = spec.get("widths")
    if version == 1:
        if not isinstance(raw_widths, dict):
            raise spec.fail(f"field 'widths' must be an object, got {short(raw_widths)}")
        given = {k: spec_int(spec, x, f"widths[{k[:40]!r}]", 1, None) for k, x in raw_widths.items()}
        missing = [k for k in keys[:-1] if k not in given]
        if missing or len(given) != len(keys) - 1:
            raise spec.fail(f"field 'widths' must list every non-root node once (missing {len(missing)})")
        return [given[k] for k in keys[:-1]]
    values = spec.int_list("widths", 1)
    if len(values) != len(keys) - 1:
        raise spec.fail(f"field 'widths' has {len(values)} entries; the tree has {len(keys) - 1} "
                        "non-root nodes")
    return values


class NetworkPlan:
    """What one network's spec implies: its tree, constructor arguments and the arrays to read.

    Parameters
    ----------
    path : str
        The file (named in every error).
    obj : dict
        The network's JSON spec.
    version : {1, 2}
        The file's format version.
    where : str
        Which spec this is, for error messages (``"spec"``, ``"spec of net 'a'"``).
    prefix : str
        Prepended to the member names (``"a/"``, ``"b/"`` in a mixed model).

    Attributes
    ----------
    members : list of (str, tuple of int)
        Every member array to read, with the shape the spec implies.

    Raises
    ------
    ValueError
        Naming the file and the field: a missing or ill-typed field, an unknown class or operator, an
        invalid or oversized tree, widths that do not fit the tree.

    Examples
    --------
    >>> import tnconv as tc
    >>> spec, _ = model_spec(tc.deep(4, 2, 3, seed=0))
    >>> plan = NetworkPlan("net.npz", spec, 2, "spec")
    >>> plan.cls, plan.members[0], plan.members[-1], plan.n_bytes()  # (4 * 2*3 + 2 * 3*3 + 3*1) * 8 bytes
    ('ConvAC', ('w:0', (2, 3)), ('w:6', (3, 1)), 360.0)
    """

    def __init__(self, path: str, obj: Any, version: int, where: str, prefix: str = ""):
        spec = SpecReader(path, obj, where)
        self.spec = spec
        self.cls = spec.string("class")
        self.model = model_class(self.cls, f"{path}: {where}")
        self.layout = model_layout(self.cls)
        if self.layout == "mixed":
            raise spec.fail(f"a {self.cls} cannot be nested inside another model")
        self.tree = _read_tree(spec, version)
        nodes = self.tree.nodes
        self.M = spec.integer("n_descriptors")
        self.n_outputs = spec.integer("n_outputs")
        self.g = spec.string("g", tuple(OPERATORS))
        self.shared = spec.boolean("shared")
        self.dtype = np.dtype(spec.string("dtype", _DTYPES))
        keys = [node_key(v) for v in nodes] if version == 1 else [str(k) for k in range(len(nodes))]
        self.members: list[tuple[str, tuple[int, ...]]] = []
        self.width = 0
        self.dilations: list[int] | None = None
        self.widths: dict[frozenset, int] = {}
        if self.layout == "dilated":
            self._plan_dilated(keys, prefix)
        else:
            self.widths = dict(zip(nodes[:-1], _read_widths(spec, keys, version)))
            self._plan_widths(keys, prefix)

    def _plan_dilated(self, keys: list[str], prefix: str) -> None:
        spec, tree = self.spec, self.tree
        self.width = spec.integer("width")
        dil = spec.get("dilations")
        self.dilations = None if dil is None else spec.int_list("dilations", 1)
        w = self.width
        for v, key in zip(tree.nodes, keys):
            if tree.is_leaf(v):
                self.members.append((f"{prefix}w:{key}", (self.M, w)))
            else:
                cols = self.n_outputs if v == tree.root else w
                self.members.extend((f"{prefix}w:{key}:{j}", (w, cols)) for j in range(len(tree.children(v))))

    def _plan_widths(self, keys: list[str], prefix: str) -> None:
        spec, tree = self.spec, self.tree
        widths = dict(self.widths)
        widths[tree.root] = self.n_outputs
        by_height: dict[int, tuple[int, ...]] = {}
        for v, key in zip(tree.nodes, keys):
            ch = tree.children(v)
            rows = self.M if not ch else widths[ch[0]]
            for c in ch[1:]:
                if widths[c] != rows:
                    raise spec.fail(f"the children of one node have different widths ({rows} and {widths[c]})")
            shape = (rows, widths[v])
            if self.shared:
                h = tree.height(v)
                if by_height.setdefault(h, shape) != shape:
                    raise spec.fail(f"shared weights, but nodes of height {h} need shapes {by_height[h]} and {shape}")
            else:
                self.members.append((f"{prefix}w:{key}", shape))
        self.members.extend((f"{prefix}h:{h}", shape) for h, shape in by_height.items())

    def n_bytes(self) -> float:
        """The bytes of all member arrays."""
        return float(sum(math.prod(shape) for _, shape in self.members)) * self.dtype.itemsize

    def build(self, arrays: dict[str, np.ndarray], prefix: str = "") -> Any:
        """The network, from ``arrays`` (``{member name: array}``, as :attr:`members` names them)."""
        tree = self.tree
        keys = {name[len(prefix):]: arr for name, arr in arrays.items() if name.startswith(prefix)}
        names = [name[len(prefix):] for name, _ in self.members]
        if self.layout == "dilated":
            it = iter(names)
            weights: dict[frozenset, Any] = {}
            for v in tree.nodes:
                if tree.is_leaf(v):
                    weights[v] = keys[next(it)]
                else:
                    weights[v] = tuple(keys[next(it)] for _ in tree.children(v))
            return self.model(tree, self.M, self.width, g=self.g, n_outputs=self.n_outputs, dtype=self.dtype.name,
                                  weights=weights, shared=self.shared, dilations=self.dilations)
        if self.shared:
            weights = {v: keys[f"h:{tree.height(v)}"] for v in tree.nodes}
        else:
            weights = dict(zip(tree.nodes, (keys[n] for n in names)))
        kw: dict[str, Any] = {"n_outputs": self.n_outputs, "dtype": self.dtype.name, "shared": self.shared,
                              "weights": weights}
        if "g" in inspect.signature(self.model).parameters:
            kw["g"] = self.g
        elif self.g != "product":
            raise self.spec.fail(f"a {self.cls} pools with product only, but the spec says g={self.g!r}")
        return self.model(tree, self.M, self.widths, **kw)


class ModelPlan:
    """What a file's spec implies: one :class:`NetworkPlan` per network, and how to put the model together.

    Parameters
    ----------
    path : str
        The file (named in every error).
    spec : dict
        The file's top-level JSON spec (its ``format`` and ``version`` already checked).

    Attributes
    ----------
    nets : list of NetworkPlan
        One plan, or two (members prefixed ``a/`` and ``b/``) for a mixed model.

    Raises
    ------
    ValueError
        Naming the file and the field (see :class:`NetworkPlan`); a mixed model whose ``nets`` are not two
        dilated networks.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 3, seed=0)
    >>> spec, arrays = model_spec(net)
    >>> plan = ModelPlan("net.npz", {**spec, "version": 2})
    >>> [(name, shape) for name, shape, _ in plan.members()][:2]
    [('w:0', (2, 3)), ('w:1', (2, 3))]
    >>> bool(np.array_equal(plan.build(arrays).coefficient_tensor(), net.coefficient_tensor()))
    True
    """

    def __init__(self, path: str, spec: dict[str, Any]):
        self.version = spec["version"]
        self.top = SpecReader(path, spec)
        self.cls_name = self.top.string("class")
        self.model = model_class(self.cls_name, path)
        if model_layout(self.cls_name) == "mixed":
            nets = self.top.get("nets")
            if not isinstance(nets, list) or len(nets) != 2:
                raise self.top.fail(f"field 'nets' must be a list of two network specs, got {short(nets)}")
            self.nets = [NetworkPlan(path, sub, self.version, f"spec of net {tag!r}", f"{tag}/")
                         for tag, sub in zip("ab", nets)]
            for p in self.nets:
                if p.layout != "dilated":
                    raise p.spec.fail(f"a {self.cls_name} mixes dilated networks, not {p.cls}")
        else:
            self.nets = [NetworkPlan(path, spec, self.version, "spec")]

    def n_bytes(self) -> float:
        """The bytes of all member arrays."""
        return sum(p.n_bytes() for p in self.nets)

    def members(self) -> list[tuple[str, tuple[int, ...], np.dtype]]:
        """``(member name, shape, dtype)`` of every array to read, in the order of the networks."""
        return [(member, shape, p.dtype) for p in self.nets for member, shape in p.members]

    def build(self, arrays: dict[str, np.ndarray]) -> Any:
        """The model, from ``arrays`` (``{member name: array}``, as :meth:`members` names them)."""
        if len(self.nets) == 1:
            return self.nets[0].build(arrays)
        net_a, net_b = (p.build(arrays, f"{tag}/") for p, tag in zip(self.nets, "ab"))
        return self.model.from_nets(net_a, net_b, self._mixture_nodes())  # type: ignore[attr-defined]

    def _mixture_nodes(self) -> list[frozenset]:
        top, tree_a = self.top, self.nets[0].tree
        if self.version == 1:
            raw = top.get("mixture_nodes")
            if not isinstance(raw, list):
                raise top.fail(f"field 'mixture_nodes' must be a list, got {short(raw)}")
            return [frozenset(top.int_list(f"mixture_nodes[{k}]", 0, tree_a.n_inputs - 1, value=m))
                    for k, m in enumerate(raw)]
        idx = top.int_list("mixture_nodes", 0, len(tree_a.nodes) - 1)
        return [tree_a.nodes[k] for k in idx]
