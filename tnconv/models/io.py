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
file is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from .._core.options import check_budget
from ..trees import ModeTree

__all__ = [
    "FORMAT",
    "MAX_FILE_INPUTS",
    "MAX_SPEC_BYTES",
    "VERSION",
    "Persistable",
    "load_model",
    "node_key",
    "parse_node_key",
    "save_model",
]

FORMAT = "tnconv.model"
#: The version written; versions 1 and 2 are read.
VERSION = 2
#: The largest spec member (bytes of JSON) that :func:`load_model` reads.
MAX_SPEC_BYTES = 64 * 2**20
#: The most inputs (leaves) a tree in a model file may have.
MAX_FILE_INPUTS = 2**20
#: The largest ``.npy`` header read from a member.
_MAX_HEADER_BYTES = 10_000
_DTYPES = ("float64", "float32")
_CLASSES = ("ConvAC", "ConvNet", "DilatedConvNet", "MixedConvNet")


class Persistable:
    """``save``/``load`` for models: one ``.npz`` with a JSON spec inside, never pickle."""

    def save(self, path: str | os.PathLike) -> None:
        """Save as ``.npz`` with a JSON spec inside (no pickle); see :func:`save_model`."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a model saved by :meth:`save`; see :func:`load_model`.

        Raises
        ------
        TypeError
            If the file holds another model class.
        ValueError
            If the file is not a valid tnconv model file (see :func:`load_model`).
        """
        model = load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{os.fspath(path)} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def node_key(node: frozenset) -> str:
    """The text ``"0,1,5"`` of a node (its sorted inputs)."""
    return ",".join(map(str, sorted(node)))


def parse_node_key(key: str) -> frozenset:
    """The inverse of :func:`node_key`.

    Raises
    ------
    ValueError
        If ``key`` is not comma-separated non-negative integers.
    """
    parts = key.split(",")
    if not all(p.isdigit() and p.isascii() for p in parts):
        raise ValueError(f"node key {key[:60]!r} is not comma-separated non-negative integers")
    return frozenset(int(x) for x in parts)


# ---------------------------------------------------------------------------------------------- writing
def _tree_codes(tree: ModeTree) -> list[int]:
    return [next(iter(v)) if tree.is_leaf(v) else -len(tree.children(v)) for v in tree.nodes]


def _convnet_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from .operators import OPERATORS

    if model.g.name not in OPERATORS or OPERATORS[model.g.name] is not model.g:
        raise ValueError(f"cannot save a model with the custom pooling operator {model.g.name!r}; only named ones")
    tree: ModeTree = model.tree
    spec: dict[str, Any] = {
        "class": type(model).__name__,
        "tree": _tree_codes(tree),
        "n_descriptors": int(model.n_descriptors),
        "n_outputs": int(model.n_outputs),
        "g": model.g.name,
        "shared": bool(model.shared),
        "dtype": model.dtype.name,
    }
    arrays: dict[str, np.ndarray] = {}
    if spec["class"] == "DilatedConvNet":
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
    if type(model).__name__ == "MixedConvNet":
        tree_a = model.nets[0].tree
        index = {v: k for k, v in enumerate(tree_a.nodes)}
        spec: dict[str, Any] = {"class": "MixedConvNet",
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


# ---------------------------------------------------------------------------------------------- reading
class _Spec:
    """Typed access to one JSON object of a spec; every failure names the file and the field."""

    def __init__(self, path: str, obj: Any, where: str = "spec"):
        if not isinstance(obj, dict):
            raise ValueError(f"{path}: the {where} is not a JSON object but {type(obj).__name__}")
        self.path, self.obj, self.where = path, obj, where

    def fail(self, msg: str) -> ValueError:
        return ValueError(f"{self.path}: {self.where}: {msg}")

    def get(self, key: str) -> Any:
        if key not in self.obj:
            raise self.fail(f"missing field {key!r}")
        return self.obj[key]

    def integer(self, key: str, lo: int = 1, hi: int | None = None) -> int:
        return _spec_int(self, self.get(key), key, lo, hi)

    def string(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(key)
        if not isinstance(v, str):
            raise self.fail(f"field {key!r} must be a string, got {_short(v)}")
        if choices is not None and v not in choices:
            raise self.fail(f"field {key!r} is {_short(v)}; expected one of {list(choices)}")
        return v

    def boolean(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise self.fail(f"field {key!r} must be true or false, got {_short(v)}")
        return v

    def int_list(self, key: str, lo: int, hi: int | None = None, value: Any = None) -> list[int]:
        v = self.get(key) if value is None else value
        if not isinstance(v, list):
            raise self.fail(f"field {key!r} must be a list, got {type(v).__name__}")
        for k, x in enumerate(v):
            if type(x) is not int or x < lo or (hi is not None and x > hi):
                _spec_int(self, x, f"{key}[{k}]", lo, hi)
        return v


def _spec_int(spec: _Spec, v: Any, key: str, lo: int, hi: int | None) -> int:
    # JSON gives bool for true/false and float for 2.7 or 2.0; neither is an integer field.
    if type(v) is not int:
        raise spec.fail(f"field {key!r} must be an integer, got {_short(v)}")
    if v < lo or (hi is not None and v > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise spec.fail(f"field {key!r} is {_short(v)}; it must be {bound}")
    return v


def _short(v: Any, limit: int = 60) -> str:
    if isinstance(v, (list, dict)):
        return f"a {type(v).__name__} of {len(v)} entries"
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _archive_errors(path: str, what: str) -> Iterator[None]:
    """Turn the errors of a corrupt or truncated zip into a ValueError naming the file."""
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error, NotImplementedError,
            RuntimeError, OverflowError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: corrupt or truncated archive while reading {what} "
                         f"({type(exc).__name__}: {exc})") from None


def _open_regular(path: str) -> IO[bytes]:
    """Open ``path`` for reading if it is a regular file; never block on a FIFO or device."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file (a model file is a .npz archive)")
    # O_NONBLOCK: if the path is swapped for a FIFO after the stat, the open still returns at once.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path} is not a regular file (a model file is a .npz archive)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _member(zf: zipfile.ZipFile, path: str, name: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name + ".npy")
    except KeyError:
        raise ValueError(f"{path}: the spec names the array {name!r}, which the file does not hold") from None


def _read_header(fh: IO[bytes], path: str, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh, max_header_size=_MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh, max_header_size=_MAX_HEADER_BYTES)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{path}: member {name!r} is not a valid .npy array ({exc})") from None
    return tuple(shape), bool(fortran), dtype


def _read_array(zf: zipfile.ZipFile, path: str, name: str, shape: tuple[int, ...] | None,
                dtype: np.dtype | None, max_bytes: int | None = None) -> np.ndarray:
    """Read member ``name`` after checking its header: ``shape``/``dtype`` (or ``max_bytes`` when None)."""
    info = _member(zf, path, name)
    with _archive_errors(path, f"member {name!r}"), zf.open(info) as fh:
        got_shape, fortran, got_dtype = _read_header(fh, path, name)
        if got_dtype.hasobject:
            raise ValueError(f"{path}: member {name!r} holds Python objects (dtype {got_dtype}); refused, "
                             "tnconv files never hold pickled data")
        if dtype is not None and got_dtype != dtype:
            raise ValueError(f"{path}: member {name!r} has dtype {got_dtype}, but the spec implies {dtype}")
        if shape is not None and got_shape != shape:
            raise ValueError(f"{path}: member {name!r} has shape {got_shape}, but the spec implies {shape}")
        n_bytes = math.prod(got_shape) * got_dtype.itemsize
        if max_bytes is not None and n_bytes > max_bytes:
            raise ValueError(f"{path}: member {name!r} declares {n_bytes} bytes, over the limit of {max_bytes}")
        if info.file_size - fh.tell() != n_bytes:
            raise ValueError(f"{path}: member {name!r} holds {info.file_size - fh.tell()} data bytes, but its "
                             f"header declares {n_bytes}")
        data = fh.read(n_bytes)
        if len(data) != n_bytes:
            raise ValueError(f"{path}: member {name!r} is truncated")
    arr = np.frombuffer(bytearray(data), dtype=got_dtype)
    return arr.reshape(got_shape, order="F" if fortran else "C")


def _read_spec(zf: zipfile.ZipFile, path: str) -> dict[str, Any]:
    try:
        info = zf.getinfo("__spec__.npy")
    except KeyError:
        raise ValueError(f"{path} is not a tnconv model file (no __spec__ entry)") from None
    with _archive_errors(path, "the spec"), zf.open(info) as fh:
        shape, _, dtype = _read_header(fh, path, "__spec__")
    if not ((dtype == np.uint8 and len(shape) == 1) or (dtype.kind == "U" and shape == ())):
        raise ValueError(f"{path}: the __spec__ member has dtype {dtype} and shape {shape}; expected JSON text")
    raw = _read_array(zf, path, "__spec__", None, None, MAX_SPEC_BYTES)
    try:
        text = raw.tobytes().decode("utf-8") if raw.dtype == np.uint8 else str(raw[()])
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: the spec is not UTF-8 text ({exc})") from None

    def no_constants(name: str) -> Any:
        raise ValueError(f"{path}: the spec holds the non-standard JSON number {name}")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise ValueError(f"{path}: the spec repeats a field name in one object")
        return out

    try:
        spec = json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: the spec is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: the spec nests lists deeper than the JSON decoder allows") from None
    top = _Spec(path, spec)
    fmt = top.get("format")
    if fmt != FORMAT:
        raise ValueError(f"{path} has format {_short(fmt)}, expected {FORMAT!r}")
    top.integer("version", 1)
    if spec["version"] not in (1, 2):
        raise ValueError(f"{path} has format version {spec['version']}; this tnconv reads versions 1 and 2 "
                         "(a newer tnconv wrote it?)")
    return spec


def _tree_from_codes(spec: _Spec, codes: Any) -> ModeTree:
    """Decode version 2 post-order codes iteratively into nested tuples, then build the tree."""
    codes = spec.int_list("tree", -MAX_FILE_INPUTS, MAX_FILE_INPUTS - 1, value=codes)
    stack: list[Any] = []
    for k, c in enumerate(codes):
        if c >= 0:
            stack.append(c)
            continue
        if -c < 2 or -c > len(stack):
            raise spec.fail(f"tree code {c} at position {k} closes a node of {-c} children, but "
                            f"{len(stack)} are open")
        node = tuple(stack[c:])
        del stack[c:]
        stack.append(node)
    if len(stack) != 1 or isinstance(stack[0], int):
        raise spec.fail(f"the tree codes leave {len(stack)} unfinished subtrees (expected one root node)")
    return _build_tree(spec, stack[0])


def _build_tree(spec: _Spec, nested: Any) -> ModeTree:
    try:
        tree = ModeTree.from_nested(nested)
    except (ValueError, TypeError) as exc:
        raise spec.fail(f"invalid tree: {exc}") from None
    if tree.n_inputs > MAX_FILE_INPUTS:
        raise spec.fail(f"the tree has {tree.n_inputs} inputs, over the limit of {MAX_FILE_INPUTS}")
    return tree


def _count_leaves_v1(spec: _Spec, obj: Any) -> None:
    """Refuse an oversized version 1 (nested-list) tree before building it."""
    count = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            count += 1
            if count > MAX_FILE_INPUTS:
                raise spec.fail(f"the tree has more than {MAX_FILE_INPUTS} leaves, the limit")


class _Plan:
    """What one network's spec implies: its tree, constructor arguments and the arrays to read."""

    def __init__(self, path: str, obj: Any, version: int, where: str, prefix: str = ""):
        spec = _Spec(path, obj, where)
        self.spec = spec
        self.cls = spec.string("class", _CLASSES[:3])
        raw_tree = spec.get("tree")
        if version == 1:
            _count_leaves_v1(spec, raw_tree)
            self.tree = _build_tree(spec, raw_tree)
        else:
            self.tree = _tree_from_codes(spec, raw_tree)
        tree = self.tree
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
        if self.cls == "DilatedConvNet":
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
                raise spec.fail(f"field 'widths' must be an object, got {_short(raw_widths)}")
            given = {k: _spec_int(spec, x, f"widths[{k[:40]!r}]", 1, None) for k, x in raw_widths.items()}
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
        from .convnet import ConvAC, ConvNet
        from .dilated import DilatedConvNet

        tree = self.tree
        keys = {name[len(prefix):]: arr for name, arr in arrays.items() if name.startswith(prefix)}
        names = [name[len(prefix):] for name, _ in self.members]
        if self.cls == "DilatedConvNet":
            it = iter(names)
            weights: dict[frozenset, Any] = {}
            for v in tree.nodes:
                if tree.is_leaf(v):
                    weights[v] = keys[next(it)]
                else:
                    weights[v] = tuple(keys[next(it)] for _ in tree.children(v))
            return DilatedConvNet(tree, self.M, self.width, g=self.g, n_outputs=self.n_outputs, dtype=self.dtype.name,
                                  weights=weights, shared=self.shared, dilations=self.dilations)
        if self.shared:
            weights = {v: keys[f"h:{tree.height(v)}"] for v in tree.nodes}
        else:
            weights = dict(zip(tree.nodes, (keys[n] for n in names)))
        kw: dict[str, Any] = {"n_outputs": self.n_outputs, "dtype": self.dtype.name, "shared": self.shared,
                              "weights": weights}
        if self.cls == "ConvAC":
            return ConvAC(tree, self.M, self.widths, **kw)
        return ConvNet(tree, self.M, self.widths, g=self.g, **kw)


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
    with _open_regular(name) as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError, OverflowError,
                NotImplementedError, UnicodeDecodeError):
            raise ValueError(f"{name} is not a tnconv model file (not a zip/.npz archive)") from None
        with zf:
            spec = _read_spec(zf, name)
            version = spec["version"]
            top = _Spec(name, spec)
            if top.string("class", _CLASSES) == "MixedConvNet":
                nets = top.get("nets")
                if not isinstance(nets, list) or len(nets) != 2:
                    raise top.fail(f"field 'nets' must be a list of two network specs, got {_short(nets)}")
                plans = [_Plan(name, sub, version, f"spec of net {tag!r}", f"{tag}/") for tag, sub in zip("ab", nets)]
                for p in plans:
                    if p.cls != "DilatedConvNet":
                        raise p.spec.fail(f"a MixedConvNet mixes DilatedConvNets, not {p.cls}")
            else:
                plans = [_Plan(name, spec, version, "spec")]
            check_budget(f"the weights in {name}", sum(p.n_bytes() for p in plans) * 2)
            arrays = {member: _read_array(zf, name, member, shape, p.dtype)
                      for p in plans for member, shape in p.members}
    try:
        if len(plans) == 1:
            return plans[0].build(arrays)
        from .mixed import MixedConvNet

        net_a, net_b = (p.build(arrays, f"{tag}/") for p, tag in zip(plans, "ab"))
        tree_a = plans[0].tree
        if version == 1:
            raw = top.get("mixture_nodes")
            if not isinstance(raw, list):
                raise top.fail(f"field 'mixture_nodes' must be a list, got {_short(raw)}")
            mixture = [frozenset(top.int_list(f"mixture_nodes[{k}]", 0, tree_a.n_inputs - 1, value=m))
                       for k, m in enumerate(raw)]
        else:
            idx = top.int_list("mixture_nodes", 0, len(tree_a.nodes) - 1)
            mixture = [tree_a.nodes[k] for k in idx]
        return MixedConvNet.from_nets(net_a, net_b, mixture)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name}: the model in the file is invalid: {exc}") from None
