"""Saving and loading models: one ``.npz`` file holding the weights and a JSON spec. Never pickle.

The spec (``__spec__``, a JSON string stored as a unicode array) records the class, the tree as nested
lists, sizes, widths, the pooling operator and the dtype. Weights are stored under ``w:<positions>``
(one per node) or ``h:<height>`` (one per height when shared). Loading uses ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ..trees import ModeTree

__all__ = ["Persistable", "load_model", "node_key", "parse_node_key", "save_model"]

FORMAT = "tnconv.model"
VERSION = 1


class Persistable:
    """``save``/``load`` for models: one ``.npz`` with a JSON spec inside, never pickle."""

    def save(self, path: str | os.PathLike) -> None:
        """Save as ``.npz`` with a JSON spec inside (no pickle); see :func:`save_model`."""
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a model saved by :meth:`save`.

        Raises
        ------
        TypeError
            If the file holds another model class.
        """
        model = load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


def node_key(node: frozenset) -> str:
    return ",".join(map(str, sorted(node)))


def parse_node_key(key: str) -> frozenset:
    return frozenset(int(x) for x in key.split(","))


def _nested_to_json(nested: Any) -> Any:
    return [_nested_to_json(x) for x in nested] if isinstance(nested, tuple) else nested


def _json_to_nested(obj: Any) -> Any:
    return tuple(_json_to_nested(x) for x in obj) if isinstance(obj, list) else obj


def _convnet_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from .operators import OPERATORS

    if model.g.name not in OPERATORS or OPERATORS[model.g.name] is not model.g:
        raise ValueError(f"cannot save a model with the custom pooling operator {model.g.name!r}; only named ones")
    tree: ModeTree = model.tree
    spec: dict[str, Any] = {
        "class": type(model).__name__,
        "tree": _nested_to_json(tree.to_nested()),
        "n_descriptors": model.n_descriptors,
        "n_outputs": model.n_outputs,
        "g": model.g.name,
        "shared": model.shared,
        "dtype": model.dtype.name,
    }
    arrays: dict[str, np.ndarray] = {}
    if spec["class"] == "DilatedConvNet":
        spec["width"] = model.width
        spec["dilations"] = list(model.dilations) if model.dilations is not None else None
        for v in tree.nodes:
            w = model.weights[v]
            if isinstance(w, tuple):
                for k, m in enumerate(w):
                    arrays[f"w:{node_key(v)}:{k}"] = m
            else:
                arrays[f"w:{node_key(v)}"] = w
        return spec, arrays
    spec["widths"] = {node_key(v): w for v, w in model.widths.items() if v != tree.root}
    for v in tree.nodes:
        key = f"h:{tree.height(v)}" if model.shared else f"w:{node_key(v)}"
        arrays.setdefault(key, model.weights[v])
    return spec, arrays


def _convnet_from_spec(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    from .convnet import ConvAC, ConvNet

    tree = ModeTree.from_nested(_json_to_nested(spec["tree"]))
    kw: dict[str, Any] = dict(n_outputs=spec["n_outputs"], dtype=spec["dtype"], shared=spec["shared"])
    if spec["class"] == "DilatedConvNet":
        from .dilated import DilatedConvNet

        weights = {}
        for v in tree.nodes:
            if tree.is_leaf(v):
                weights[v] = arrays[f"w:{node_key(v)}"]
            else:
                weights[v] = tuple(arrays[f"w:{node_key(v)}:{k}"] for k in range(len(tree.children(v))))
        return DilatedConvNet(tree, spec["n_descriptors"], spec["width"], g=spec["g"], weights=weights,
                              dilations=spec.get("dilations"), **kw)
    widths = {parse_node_key(k): int(w) for k, w in spec["widths"].items()}
    kw["weights"] = {
        v: arrays[f"h:{tree.height(v)}"] if spec["shared"] else arrays[f"w:{node_key(v)}"] for v in tree.nodes
    }
    if spec["class"] == "ConvAC":
        return ConvAC(tree, spec["n_descriptors"], widths, **kw)
    if spec["class"] == "ConvNet":
        return ConvNet(tree, spec["n_descriptors"], widths, g=spec["g"], **kw)
    raise ValueError(f"unknown model class {spec['class']!r}")


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write ``model`` (ConvAC, ConvNet, DilatedConvNet or MixedConvNet) to ``path`` (``.npz``).

    Raises
    ------
    ValueError
        For a custom (callable) pooling operator, which cannot be written as data.

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
        spec: dict[str, Any] = {"class": "MixedConvNet",
                                "mixture_nodes": [sorted(m) for m in model.mixture_nodes], "nets": []}
        arrays: dict[str, np.ndarray] = {}
        for tag, net in zip("ab", model.nets):
            sub, sub_arrays = _convnet_spec(net)
            spec["nets"].append(sub)
            arrays.update({f"{tag}/{k}": v for k, v in sub_arrays.items()})
    else:
        spec, arrays = _convnet_spec(model)
    spec.update(format=FORMAT, version=VERSION)
    arrays["__spec__"] = np.array(json.dumps(spec))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_model(path: str | os.PathLike) -> Any:
    """Read a model written by :func:`save_model` (``allow_pickle=False``).

    Raises
    ------
    ValueError
        If the file is not a tnconv model file or its spec is inconsistent with the weights.
    """
    with np.load(path, allow_pickle=False) as data:
        if "__spec__" not in data.files:
            raise ValueError(f"{path} is not a tnconv model file (no __spec__ entry)")
        spec = json.loads(str(data["__spec__"]))
        if spec.get("format") != FORMAT:
            raise ValueError(f"{path} has format {spec.get('format')!r}, expected {FORMAT!r}")
        arrays = {k: data[k] for k in data.files if k != "__spec__"}
    try:
        if spec["class"] == "MixedConvNet":
            from .mixed import MixedConvNet

            nets = [
                _convnet_from_spec(sub, {k[2:]: v for k, v in arrays.items() if k.startswith(f"{tag}/")})
                for tag, sub in zip("ab", spec["nets"])
            ]
            return MixedConvNet.from_nets(nets[0], nets[1], [frozenset(m) for m in spec["mixture_nodes"]])
        return _convnet_from_spec(spec, arrays)
    except KeyError as exc:
        raise ValueError(f"{path}: the spec names weights {exc} that the file does not hold") from None
