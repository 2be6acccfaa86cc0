"""Reading model files defensively: the archive, the ``.npy`` headers, the JSON spec and the tree.

Every function here turns a problem with the file into a ``ValueError`` naming the file (and the spec
field, where there is one); nothing is unpickled, and nothing is read before its size is known.
:mod:`tnconv.models.io` builds models on top of these readers.
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

from ..trees import ModeTree

__all__ = [
    "FORMAT",
    "MAX_FILE_INPUTS",
    "MAX_HEADER_BYTES",
    "MAX_SPEC_BYTES",
    "SpecReader",
    "archive_errors",
    "build_tree",
    "count_leaves_v1",
    "open_archive",
    "open_regular",
    "read_array",
    "read_spec",
    "short",
    "spec_int",
    "tree_from_codes",
]

FORMAT = "tnconv.model"
#: The largest spec member (bytes of JSON) that is read.
MAX_SPEC_BYTES = 64 * 2**20
#: The most inputs (leaves) a tree in a model file may have.
MAX_FILE_INPUTS = 2**20
#: The largest ``.npy`` header read from a member.
MAX_HEADER_BYTES = 10_000


class SpecReader:
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
        return spec_int(self, self.get(key), key, lo, hi)

    def string(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        v = self.get(key)
        if not isinstance(v, str):
            raise self.fail(f"field {key!r} must be a string, got {short(v)}")
        if choices is not None and v not in choices:
            raise self.fail(f"field {key!r} is {short(v)}; expected one of {list(choices)}")
        return v

    def boolean(self, key: str) -> bool:
        v = self.get(key)
        if not isinstance(v, bool):
            raise self.fail(f"field {key!r} must be true or false, got {short(v)}")
        return v

    def int_list(self, key: str, lo: int, hi: int | None = None, value: Any = None) -> list[int]:
        v = self.get(key) if value is None else value
        if not isinstance(v, list):
            raise self.fail(f"field {key!r} must be a list, got {type(v).__name__}")
        for k, x in enumerate(v):
            if type(x) is not int or x < lo or (hi is not None and x > hi):
                spec_int(self, x, f"{key}[{k}]", lo, hi)
        return v


def spec_int(spec: SpecReader, v: Any, key: str, lo: int, hi: int | None) -> int:
    # JSON gives bool for true/false and float for 2.7 or 2.0; neither is an integer field.
    if type(v) is not int:
        raise spec.fail(f"field {key!r} must be an integer, got {short(v)}")
    if v < lo or (hi is not None and v > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise spec.fail(f"field {key!r} is {short(v)}; it must be {bound}")
    return v


def short(v: Any, limit: int = 60) -> str:
    if isinstance(v, (list, dict)):
        return f"a {type(v).__name__} of {len(v)} entries"
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def archive_errors(path: str, what: str) -> Iterator[None]:
    """Turn the errors of a corrupt or truncated zip into a ValueError naming the file."""
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error, NotImplementedError,
            RuntimeError, OverflowError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: corrupt or truncated archive while reading {what} "
                         f"({type(exc).__name__}: {exc})") from None


def open_regular(path: str) -> IO[bytes]:
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


def open_archive(fh: IO[bytes], path: str) -> zipfile.ZipFile:
    """The zip archive in the open file ``fh``; a ValueError naming ``path`` if it is not one.

    Parameters
    ----------
    fh : binary file
        Open for reading (from :func:`open_regular`).
    path : str
        The file's name, for the message.

    Returns
    -------
    zipfile.ZipFile

    Raises
    ------
    ValueError
        When the file is not a zip/.npz archive.

    Examples
    --------
    >>> import io
    >>> open_archive(io.BytesIO(b"not a zip"), "bad.npz")
    Traceback (most recent call last):
    ...
    ValueError: bad.npz is not a tnconv model file (not a zip/.npz archive)
    """
    try:
        return zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, struct.error, ValueError, OverflowError,
            NotImplementedError, UnicodeDecodeError):
        raise ValueError(f"{path} is not a tnconv model file (not a zip/.npz archive)") from None


def member_info(zf: zipfile.ZipFile, path: str, name: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name + ".npy")
    except KeyError:
        raise ValueError(f"{path}: the spec names the array {name!r}, which the file does not hold") from None


def read_header(fh: IO[bytes], path: str, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(fh, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npy_format.read_array_header_2_0(fh, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, TypeError) as exc:
        raise ValueError(f"{path}: member {name!r} is not a valid .npy array ({exc})") from None
    return tuple(shape), bool(fortran), dtype


def read_array(zf: zipfile.ZipFile, path: str, name: str, shape: tuple[int, ...] | None,
                dtype: np.dtype | None, max_bytes: int | None = None) -> np.ndarray:
    """Read member ``name`` after checking its header: ``shape``/``dtype`` (or ``max_bytes`` when None)."""
    info = member_info(zf, path, name)
    with archive_errors(path, f"member {name!r}"), zf.open(info) as fh:
        got_shape, fortran, got_dtype = read_header(fh, path, name)
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


def read_spec(zf: zipfile.ZipFile, path: str) -> dict[str, Any]:
    try:
        info = zf.getinfo("__spec__.npy")
    except KeyError:
        raise ValueError(f"{path} is not a tnconv model file (no __spec__ entry)") from None
    with archive_errors(path, "the spec"), zf.open(info) as fh:
        shape, _, dtype = read_header(fh, path, "__spec__")
    if not ((dtype == np.uint8 and len(shape) == 1) or (dtype.kind == "U" and shape == ())):
        raise ValueError(f"{path}: the __spec__ member has dtype {dtype} and shape {shape}; expected JSON text")
    raw = read_array(zf, path, "__spec__", None, None, MAX_SPEC_BYTES)
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
    top = SpecReader(path, spec)
    fmt = top.get("format")
    if fmt != FORMAT:
        raise ValueError(f"{path} has format {short(fmt)}, expected {FORMAT!r}")
    top.integer("version", 1)
    if spec["version"] not in (1, 2):
        raise ValueError(f"{path} has format version {spec['version']}; this tnconv reads versions 1 and 2 "
                         "(a newer tnconv wrote it?)")
    return spec


def tree_from_codes(spec: SpecReader, codes: Any) -> ModeTree:
    """Build the tree of version 2 post-order codes, in linear time and without recursion."""
    codes = spec.int_list("tree", -MAX_FILE_INPUTS, MAX_FILE_INPUTS - 1, value=codes)
    try:
        tree = ModeTree.from_codes(codes)
    except (ValueError, TypeError) as exc:
        raise spec.fail(f"invalid tree: {exc}") from None
    return tree


def build_tree(spec: SpecReader, nested: Any) -> ModeTree:
    try:
        tree = ModeTree.from_nested(nested)
    except (ValueError, TypeError) as exc:
        raise spec.fail(f"invalid tree: {exc}") from None
    if tree.n_inputs > MAX_FILE_INPUTS:
        raise spec.fail(f"the tree has {tree.n_inputs} inputs, over the limit of {MAX_FILE_INPUTS}")
    return tree


def count_leaves_v1(spec: SpecReader, obj: Any) -> None:
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
