"""Saving and loading models: one ``.npz`` file holding the weights and a JSON spec. Never pickle.

File format (version 2, written by :func:`save_model`)
------------------------------------------------------
An uncompressed zip (``numpy.savez``) of ``.npy`` members:

- ``__spec__``: the UTF-8 bytes of a JSON object (a ``uint8`` array) with ``format`` (``"tnconv.model"``),
  ``version``, ``class``, the tree as flat post-order codes (``tree``: an input ``i`` is ``i``, a node
  with ``k`` children is ``-k``), ``n_descriptors``, ``n_outputs``, ``g``, ``shared``, ``dtype`` and, for
  ConvNet/ConvAC, ``widths`` (one per non-root node in post-order); for DilatedConvNet ``width`` and
  ``dilations``; for MixedConvNet ``nets`` (two such specs) and ``mixture_nodes`` (post-order indices
  into the first tree).
- ``w:<k>``: the weights of the ``k``-th node in post-order; ``w:<k>:<j>`` the matrix of its ``j``-th
  child (DilatedConvNet); ``h:<height>`` one matrix per height when weights are shared. MixedConvNet
  members are prefixed ``a/`` and ``b/``.

Version 1 files (nested-list trees, node-keyed members, a unicode spec) are still read.

Loading is defensive: the path must be a regular file (a FIFO is refused without blocking), the spec
member is read first (at most :data:`MAX_SPEC_BYTES`) and checked completely, the tree is built in
linear time (at most :data:`MAX_FILE_INPUTS` inputs, and within the byte budget), then only the members
the spec names are read, each after its ``.npy`` header has been checked against the shape and dtype
the spec implies, and the total against the byte budget. Nothing is unpickled. Every problem with the
file is a ``ValueError`` naming the file (the readers are in :mod:`tnconv.models.io_validate`).

Registry
--------
This module imports no model class: every :class:`Persistable` subclass registers itself by class name
(``tnconv.models`` imports every model module), a file is decoded by the class its spec names (an
unknown name is a ``ValueError``), and a class's layout is read off its constructor.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import stat
import struct
import threading
import zipfile
from typing import Any

import numpy as np

from .._core.keys import node_key, parse_node_key
from .._core.options import check_budget
from ..trees import ModeTree
from .io_validate import (
    FORMAT,
    MAX_FILE_INPUTS,
    MAX_SPEC_BYTES,
    SpecReader,
    build_tree,
    count_leaves_v1,
    open_regular,
    read_array,
    read_spec,
    short,
    spec_int,
    tree_from_codes,
)

__all__ = [
    "FORMAT",
    "LAYOUTS",
    "MAX_FILE_INPUTS",
    "MAX_SPEC_BYTES",
    "VERSION",
    "Persistable",
    "load",
    "load_model",
    "model_class",
    "node_key",
    "parse_node_key",
    "register_model",
    "registered_models",
    "save",
    "save_model",
]

#: The version written; versions 1 and 2 are read.
VERSION = 2
_DTYPES = ("float64", "float32")
#: The spec layouts: per-node ``widths``; one ``width`` and ``dilations``; two ``nets`` mixed.
LAYOUTS = ("widths", "dilated", "mixed")

_REGISTRY: dict[str, tuple[type, str]] = {}
_REGISTRY_LOCK = threading.Lock()


def _layout_of(cls: type) -> str:
    params = inspect.signature(cls).parameters
    if "tree_a" in params and "tree_b" in params:
        return "mixed"
    if "widths" in params:
        return "widths"
    if "width" in params:
        return "dilated"
    raise TypeError(f"cannot tell the file layout of {cls.__name__} from its constructor; pass "
                    f"layout= (one of {list(LAYOUTS)}) to register_model or in the class statement")


def register_model(cls: type, layout: str | None = None, name: str | None = None) -> type:
    """Register ``cls`` for :func:`load_model` under ``name`` (default: the class name).

    Subclasses of :class:`Persistable` are registered automatically; call this for other classes that
    provide the model attributes :func:`save_model` reads.

    Parameters
    ----------
    cls : type
    layout : {"widths", "dilated", "mixed"}, optional
        The spec layout (default: read off the constructor's parameters).
    name : str, optional

    Returns
    -------
    type
        ``cls`` (a decorator).

    Raises
    ------
    ValueError, TypeError
        An unknown layout or a name taken by another class; not a class, or a layout that cannot be told.

    Examples
    --------
    >>> import tnconv as tc
    >>> model_class("ConvAC") is tc.ConvAC
    True
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_model needs a class, got {cls!r}")
    layout = _layout_of(cls) if layout is None else layout
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    key = cls.__name__ if name is None else str(name)
    with _REGISTRY_LOCK:
        old = _REGISTRY.get(key)
        if old is not None and old[0] is not cls and old[0].__qualname__ != cls.__qualname__:
            raise ValueError(f"a model class named {key!r} is already registered ({old[0].__module__})")
        # A reloaded module re-registers its class under the same name: the new one wins.
        _REGISTRY[key] = (cls, layout)
    return cls


def registered_models() -> dict[str, type]:
    """``{name: class}`` of every registered model class (a copy)."""
    with _REGISTRY_LOCK:
        return {k: c for k, (c, _) in _REGISTRY.items()}

def model_class(name: str, where: str = "the file") -> type:
    """The registered class called ``name``; a ValueError naming it (and ``where``) otherwise."""
    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(name)
        known = sorted(_REGISTRY)
    if entry is None:
        raise ValueError(f"{where}: field 'class' is {short(name)}, not a registered model class; known: {known}")
    return entry[0]


def _registered_name(model: Any) -> str:
    """The registry name of ``model``'s class (its own, or that of the nearest registered base)."""
    with _REGISTRY_LOCK:
        for klass in type(model).__mro__:
            entry = _REGISTRY.get(klass.__name__)
            if entry is not None and entry[0] is klass:
                return klass.__name__
        known = sorted(_REGISTRY)
    raise TypeError(f"cannot save a {type(model).__name__}: not a registered model class (known: {known})")


def _layout(name: str) -> str:
    with _REGISTRY_LOCK:
        return _REGISTRY[name][1]


class Persistable:
    """``save``/``load`` for models: one ``.npz`` with a JSON spec inside, never pickle.

    Subclasses register themselves (by class name) for :func:`load_model`; ``layout=`` in the class
    statement sets the spec layout when the constructor does not tell it.
    """

    def __init_subclass__(cls, layout: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register_model(cls, layout)

    def save(self, path: str | os.PathLike) -> None:
        """Save as ``.npz`` with a JSON spec inside (no pickle); see :func:`save_model`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (``.npz``).

        Examples
        --------
        >>> import os, tempfile, tnconv as tc
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> tc.deep(4, 2, [2, 3], seed=0).save(path)
        >>> tc.ConvAC.load(path).weight_shape({0, 1})
        (2, 3)
        """
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a model saved by :meth:`save`; see :func:`load_model`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        model
            An instance of this class.

        Raises
        ------
        TypeError
            If the file holds another model class.
        ValueError
            If the file is not a valid tnconv model file (see :func:`load_model`).

        Examples
        --------
        >>> import os, tempfile, tnconv as tc
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> tc.deep(4, 2, [2, 3], seed=0).save(path)
        >>> tc.ConvAC.load(path).weight_shape({0, 1})
        (2, 3)
        """
        model = load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{os.fspath(path)} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def _tree_codes(tree: ModeTree) -> list[int]:
    return [next(iter(v)) if tree.is_leaf(v) else -len(tree.children(v)) for v in tree.nodes]


def _convnet_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from .operators import OPERATORS

    if model.g.name not in OPERATORS or OPERATORS[model.g.name] is not model.g:
        raise ValueError(f"cannot save a model with the custom pooling operator {model.g.name!r}; only named ones")
    tree: ModeTree = model.tree
    spec: dict[str, Any] = {
        "class": _registered_name(model),
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
    if _layout(spec["class"]) == "dilated":
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


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write ``model`` (ConvAC, ConvNet, DilatedConvNet or MixedConvNet) to ``path`` (``.npz``).

    The file format is described in the module docstring; its size is linear in the number of weights
    and tree nodes.

    Parameters
    ----------
    model : ConvAC, ConvNet, DilatedConvNet or MixedConvNet
    path : str or path-like
        Written as given (no ``.npz`` suffix is added). An existing non-regular file (a FIFO, a
        directory) is refused.

    Raises
    ------
    ValueError
        For a custom (callable) pooling operator, which cannot be written as data, or a path that is
        not a regular file.

    Examples
    --------
    >>> import tempfile, os, numpy as np, tnconv as tc
    >>> net = tc.deep(4, 2, 3, seed=1)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> net.save(path)
    >>> bool(np.array_equal(tc.ConvAC.load(path).coefficient_tensor(), net.coefficient_tensor()))
    True
    """
    name = _registered_name(model)
    if _layout(name) == "mixed":
        tree_a = model.nets[0].tree
        index = {v: k for k, v in enumerate(tree_a.nodes)}
        spec: dict[str, Any] = {"class": name,
                                "mixture_nodes": [index[frozenset(m)] for m in model.mixture_nodes], "nets": []}
        arrays: dict[str, np.ndarray] = {}
        for tag, net in zip("ab", model.nets):
            sub, sub_arrays = _convnet_spec(net)
            spec["nets"].append(sub)
            arrays.update({f"{tag}/{k}": v for k, v in sub_arrays.items()})
    else:
        spec, arrays = _convnet_spec(model)
    spec.update(format=FORMAT, version=VERSION)
    arrays["__spec__"] = np.frombuffer(json.dumps(spec, separators=(",", ":")).encode("utf-8"), dtype=np.uint8)
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{name} exists and is not a regular file; refusing to write a model there")
    with open(name, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle


class _Plan:
    """What one network's spec implies: its tree, constructor arguments and the arrays to read."""

    def __init__(self, path: str, obj: Any, version: int, where: str, prefix: str = ""):
        spec = SpecReader(path, obj, where)
        self.spec = spec
        self.cls = spec.string("class")
        self.model = model_class(self.cls, f"{path}: {where}")
        self.layout = _layout(self.cls)
        if self.layout == "mixed":
            raise spec.fail(f"a {self.cls} cannot be nested inside another model")
        raw_tree = spec.get("tree")
        if version == 1:
            count_leaves_v1(spec, raw_tree)
            self.tree = build_tree(spec, raw_tree)
        else:
            self.tree = tree_from_codes(spec, raw_tree)
        tree = self.tree
        if "image_shape" in spec.obj:
            image = spec.int_list("image_shape", 1, tree.n_inputs)
            if len(image) != 2 or image[0] * image[1] != tree.n_inputs:
                raise spec.fail(f"field 'image_shape' {image} is not (height, width) of the tree's "
                                f"{tree.n_inputs} inputs")
            tree.image_shape = (image[0], image[1])
        nodes = tree.nodes
        self.M = spec.integer("n_descriptors")
        self.n_outputs = spec.integer("n_outputs")
        from .operators import OPERATORS

        self.g = spec.string("g", tuple(OPERATORS))
        self.shared = spec.boolean("shared")
        self.dtype = np.dtype(spec.string("dtype", _DTYPES))
        keys = [node_key(v) for v in nodes] if version == 1 else [str(k) for k in range(len(nodes))]
        self.members: list[tuple[str, tuple[int, ...]]] = []
        self.width = 0
        self.dilations: list[int] | None = None
        self.widths: dict[frozenset, int] = {}
        if self.layout == "dilated":
            self.width = spec.integer("width")
            dil = spec.get("dilations")
            self.dilations = None if dil is None else spec.int_list("dilations", 1)
            w = self.width
            for v, key in zip(nodes, keys):
                if tree.is_leaf(v):
                    self.members.append((f"{prefix}w:{key}", (self.M, w)))
                else:
                    cols = self.n_outputs if v == tree.root else w
                    self.members.extend((f"{prefix}w:{key}:{j}", (w, cols)) for j in range(len(tree.children(v))))
            return
        raw_widths = spec.get("widths")
        if version == 1:
            if not isinstance(raw_widths, dict):
                raise spec.fail(f"field 'widths' must be an object, got {short(raw_widths)}")
            given = {k: spec_int(spec, x, f"widths[{k[:40]!r}]", 1, None) for k, x in raw_widths.items()}
            missing = [k for k in keys[:-1] if k not in given]
            if missing or len(given) != len(keys) - 1:
                raise spec.fail(f"field 'widths' must list every non-root node once (missing {len(missing)})")
            values = [given[k] for k in keys[:-1]]
        else:
            values = spec.int_list("widths", 1)
            if len(values) != len(nodes) - 1:
                raise spec.fail(f"field 'widths' has {len(values)} entries; the tree has {len(nodes) - 1} "
                                "non-root nodes")
        self.widths = dict(zip(nodes[:-1], values))
        widths = dict(self.widths)
        widths[tree.root] = self.n_outputs
        by_height: dict[int, tuple[int, ...]] = {}
        for v, key in zip(nodes, keys):
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
        return float(sum(math.prod(shape) for _, shape in self.members)) * self.dtype.itemsize

    def build(self, arrays: dict[str, np.ndarray], prefix: str = "") -> Any:
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


def load_model(path: str | os.PathLike) -> Any:
    """Read a model written by :func:`save_model` (never unpickles anything).

    The spec is read and checked first; then only the arrays it names are read, each after its header
    has been checked against the shape and dtype the spec implies. Work is linear in the file's size.

    Parameters
    ----------
    path : str or path-like
        A regular file (``.npz``).

    Returns
    -------
    ConvAC, ConvNet, DilatedConvNet or MixedConvNet

    Raises
    ------
    ValueError
        Naming the file and the problem: not a regular file, not a zip archive, corrupt or truncated,
        no or bad spec (wrong format or version, a missing field, a non-integer number), a tree over
        :data:`MAX_FILE_INPUTS` inputs, a missing member or one whose shape or dtype differs from what
        the spec implies, weights the model refuses.
    TensorTooLargeError
        If the tree or the weights would exceed the byte budget (``tnconv.options["max_dense_bytes"]``).
    FileNotFoundError, PermissionError
        If the path cannot be opened at all.

    Examples
    --------
    >>> import tempfile, os, tnconv as tc
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.npz")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"not a zip")
    >>> tc.ConvAC.load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...bad.npz is not a tnconv model file (not a zip/.npz archive)
    """
    name = os.fspath(path)
    if not isinstance(name, str):
        name = os.fsdecode(name)
    with open_regular(name) as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError, OverflowError,
                NotImplementedError, UnicodeDecodeError):
            raise ValueError(f"{name} is not a tnconv model file (not a zip/.npz archive)") from None
        with zf:
            spec = read_spec(zf, name)
            version = spec["version"]
            top = SpecReader(name, spec)
            cls_name = top.string("class")
            mixed_cls = model_class(cls_name, name)
            if _layout(cls_name) == "mixed":
                nets = top.get("nets")
                if not isinstance(nets, list) or len(nets) != 2:
                    raise top.fail(f"field 'nets' must be a list of two network specs, got {short(nets)}")
                plans = [_Plan(name, sub, version, f"spec of net {tag!r}", f"{tag}/") for tag, sub in zip("ab", nets)]
                for p in plans:
                    if p.layout != "dilated":
                        raise p.spec.fail(f"a {cls_name} mixes dilated networks, not {p.cls}")
            else:
                plans = [_Plan(name, spec, version, "spec")]
            check_budget(f"the weights in {name}", sum(p.n_bytes() for p in plans) * 2)
            arrays = {member: read_array(zf, name, member, shape, p.dtype)
                      for p in plans for member, shape in p.members}
    try:
        if len(plans) == 1:
            return plans[0].build(arrays)
        net_a, net_b = (p.build(arrays, f"{tag}/") for p, tag in zip(plans, "ab"))
        tree_a = plans[0].tree
        if version == 1:
            raw = top.get("mixture_nodes")
            if not isinstance(raw, list):
                raise top.fail(f"field 'mixture_nodes' must be a list, got {short(raw)}")
            mixture = [frozenset(top.int_list(f"mixture_nodes[{k}]", 0, tree_a.n_inputs - 1, value=m))
                       for k, m in enumerate(raw)]
        else:
            idx = top.int_list("mixture_nodes", 0, len(tree_a.nodes) - 1)
            mixture = [tree_a.nodes[k] for k in idx]
        return mixed_cls.from_nets(net_a, net_b, mixture)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name}: the model in the file is invalid: {exc}") from None


save = save_model  # tc.save(model, path) and tc.load(path)
load = load_model
