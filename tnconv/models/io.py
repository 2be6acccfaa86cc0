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
file is a ``ValueError`` naming the file (the readers are in :mod:`tnconv.models.io_validate`, the spec
both ways in :mod:`tnconv.models.io_spec`).

Registry
--------
This module imports no model class: every :class:`Persistable` subclass registers itself by class name
(``tnconv.models`` imports every model module), a file is decoded by the class its spec names (an
unknown name is a ``ValueError``), and a class's layout is read off its constructor
(:mod:`tnconv.models.io_registry`).
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import numpy as np

from .._core.keys import node_key, parse_node_key
from .._core.options import check_budget
from .io_registry import LAYOUTS, model_class, register_model, registered_models
from .io_spec import ModelPlan, model_spec
from .io_validate import FORMAT, MAX_FILE_INPUTS, MAX_SPEC_BYTES, open_archive, open_regular, read_array, read_spec

# The registry (io_registry), the readers (io_validate) and the keys (_core.keys) are imported from here too.
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
    spec, arrays = model_spec(model)
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
    with open_regular(name) as fh, open_archive(fh, name) as zf:
        plan = ModelPlan(name, read_spec(zf, name))
        check_budget(f"the weights in {name}", plan.n_bytes() * 2)
        arrays = {member: read_array(zf, name, member, shape, dtype) for member, shape, dtype in plan.members()}
    try:
        return plan.build(arrays)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name}: the model in the file is invalid: {exc}") from None


save = save_model  # tc.save(model, path) and tc.load(path)
load = load_model
