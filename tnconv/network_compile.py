"""The one model-to-network compiler: tree models (ConvNet/ConvAC, DilatedConvNet) to tensor networks.

:func:`compile_parts` returns the constructor arguments of :class:`tnconv.network.TensorNetwork`;
``TensorNetwork.from_model`` wraps it, and ``model.to_tensor_network(output)`` reaches it through the
hook that :mod:`tnconv.network` installs in :mod:`tnconv.models.protocol` at import time (models never
import the network layer).

Two weight layouts exist (:class:`tnconv.models.protocol.TreeModel`):

* one matrix per node (``weights[v]`` of shape ``(in, out)``; ConvNet/ConvAC): leaf ``i`` holds
  ``W_i[d_i, c]`` (open leg ``d{i}``), node ``v`` holds ``W_v[c_v, c_parent]``, the root its output
  column. The channel index ``c_v`` is shared by the children and ``W_v``: a copy tensor.
* one matrix per child (``weights[v]`` a tuple; DilatedConvNet): ``W_{v,u}[c_u, c_v]``; the output legs
  of the children's matrices meet at the copy tensor of ``v``. At the root the two root vectors share a
  bond ``y`` of dimension 1, so the network is a tree and its min cut sees the root's rank 1.

Both carry the mode tree and each tensor's node, so that both get the structure path
(:func:`tnconv.contract.paths.structure_path`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from .trees import ModeTree, format_node

__all__ = ["compile_parts"]


def _check_model(model: Any, output: Any) -> tuple[ModeTree, int]:
    nets = getattr(model, "nets", None)
    if isinstance(nets, tuple) and hasattr(model, "mixture_nodes"):
        raise TypeError(
            f"a {type(model).__name__} has no tree tensor network: it sums two tree networks that exchange "
            "channels at mixture nodes, which no single tree network holds and tnconv does not compile. "
            "Bound its ranks with tc.tiling_rank_bounds(tree_a, tree_b, mixture_nodes, width), or compute "
            "them from coefficient_tensor() (dense; small nets only)"
        )
    tree = getattr(model, "tree", None)
    if not isinstance(tree, ModeTree) or not isinstance(getattr(model, "weights", None), Mapping):
        raise TypeError(
            f"a tensor network needs a tree model (a model over a ModeTree with weights per node), got "
            f"{type(model).__name__}"
        )
    g = getattr(model, "g", None)
    if not getattr(g, "is_product", False):
        name = getattr(g, "name", g)
        raise ValueError(
            f"g={name!r} is not a product: only product pooling (a ConvAC) is a tensor network; use the "
            "model's grid tensor for rectifier nets"
        )
    n_outputs = int(getattr(model, "n_outputs", 1))
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int in 0..{n_outputs - 1}, got {output!r}")
    if not 0 <= output < n_outputs:
        raise ValueError(f"output {output} out of range for n_outputs={n_outputs}")
    return tree, int(output)


def compile_parts(model: Any, output: int = 0) -> dict[str, Any]:
    """Constructor arguments of the tensor network of a tree model with product pooling.

    Parameters
    ----------
    model : TreeModel
        ConvNet/ConvAC (product pooling) or DilatedConvNet, or any model with the same attributes.
    output : int
        The output channel.

    Returns
    -------
    dict
        ``arrays, inds, open_inds, names, index_info, tree, tensor_nodes``.

    Raises
    ------
    TypeError
        Not a tree model (a MixedConvNet, whose message names its bounds); a non-int output.
    ValueError
        Non-product pooling; an output out of range.

    Examples
    --------
    >>> import tnconv as tc
    >>> parts = compile_parts(tc.deep(4, 2, 2, seed=0))
    >>> len(parts["arrays"]), parts["open_inds"]
    (7, ['d0', 'd1', 'd2', 'd3'])
    """
    tree, output = _check_model(model, output)
    per_child = not tree.is_leaf(tree.root) and isinstance(model.weights[tree.root], tuple)
    parts = _per_child(model, tree, output) if per_child else _per_node(model, tree, output)
    parts["open_inds"] = [f"d{i}" for i in range(tree.n_inputs)]
    parts["tree"] = tree
    return parts


def _labels(tree: ModeTree) -> tuple[dict[frozenset, str], dict[frozenset, str]]:
    """The channel leg (``"c" + node_key(v)``) and the printed form (``format_node(v)``) of every node.

    Each node is sorted once and its inputs' strings are made once: calling ``node_key`` and
    ``format_node`` per tensor sorted every parent again for each of its children, which dominated the
    compilation of trees with thousands of wide nodes.
    """
    digits = [str(i) for i in range(tree.n_inputs)]
    legs: dict[frozenset, str] = {}
    shown: dict[frozenset, str] = {}
    for v in tree.nodes:
        if len(v) == 1:
            key = digits[next(iter(v))]
            legs[v], shown[v] = "c" + key, "{" + key + "}"
            continue
        items = sorted(v)
        legs[v] = "c" + ",".join([digits[i] for i in items])
        shown[v] = format_node(items)
    return legs, shown


def _per_node(model: Any, tree: ModeTree, output: int) -> dict[str, Any]:
    arrays: list[Any] = []
    inds: list[tuple[str, ...]] = []
    names: list[str] = []
    nodes: list[frozenset] = []
    info: dict[Hashable, str] = {}
    legs, shown = _labels(tree)
    weights = model.weights
    for v in tree.nodes:
        W = weights[v]
        parent = tree.parent(v)
        if tree.is_leaf(v):
            i = next(iter(v))
            ix_in = f"d{i}"
            info[ix_in] = f"open leg of input {i} (dim {W.shape[0]})"
        else:
            ix_in = legs[v]
            info[ix_in] = f"copy tensor of window {shown[v]} (dim {W.shape[0]})"
        if parent is None:
            arrays.append(W[:, output])
            inds.append((ix_in,))
        else:
            arrays.append(W)
            inds.append((ix_in, legs[parent]))
        names.append(f"W{shown[v]}")
        nodes.append(v)
    return {"arrays": arrays, "inds": inds, "names": names, "index_info": info, "tensor_nodes": nodes}


def _per_child(model: Any, tree: ModeTree, output: int) -> dict[str, Any]:
    arrays: list[Any] = []
    inds: list[tuple[str, ...]] = []
    names: list[str] = []
    nodes: list[frozenset] = []
    info: dict[Hashable, str] = {}
    legs, shown = _labels(tree)
    root = tree.root
    for v in tree.nodes:
        if tree.is_leaf(v):
            i = next(iter(v))
            W = model.weights[v]
            arrays.append(W)
            inds.append((f"d{i}", legs[v]))
            names.append(f"W{shown[v]}")
            nodes.append(v)
            info[f"d{i}"] = f"open leg of input {i} (dim {W.shape[0]})"
            info[legs[v]] = f"output channels of leaf {shown[v]} (dim {W.shape[1]})"
            continue
        for u, W in zip(tree.children(v), model.weights[v]):
            if v == root:
                arrays.append(W[:, output : output + 1])
                inds.append((legs[u], "y"))
            else:
                arrays.append(W)
                inds.append((legs[u], legs[v]))
            names.append(f"W{shown[v]}<-{shown[u]}")
            nodes.append(v)
            if v != root:
                info[legs[v]] = f"copy tensor of node {shown[v]} (dim {W.shape[1]})"
    info["y"] = f"output {output} of the root (dim 1): the root is a single product"
    return {"arrays": arrays, "inds": inds, "names": names, "index_info": info, "tensor_nodes": nodes}
