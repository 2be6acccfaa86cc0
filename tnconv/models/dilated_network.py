"""A product-pooling dilated ConvNet compiled into a :class:`~tnconv.network.TensorNetwork`.

Tensors: ``W_leaf[d_i, c_leaf]`` per input (open leg ``d{i}``), and one matrix ``W_{v,u}[c_u, c_v]`` per
child ``u`` of every internal node ``v``; the children's legs ``c_v`` meet at the copy tensor of ``v``.

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trees import format_node
from .dilated_dense import check_output

__all__ = ["tensor_network"]


def tensor_network(net: Any, output: int = 0) -> Any:
    """``DilatedConvNet.to_tensor_network``: see there."""
    from ..network import TensorNetwork
    from .io import node_key

    if not net.g.is_product:
        raise ValueError(f"g={net.g.name!r} is not a product: only product pooling is a tensor network")
    output = check_output(output, net.n_outputs)
    tree = net.tree
    arrays: list[np.ndarray] = []
    inds: list[tuple[str, ...]] = []
    names: list[str] = []
    info: dict[str, str] = {}

    def leg(v: frozenset) -> str:
        return "c" + node_key(v)

    for v in tree.nodes:
        if tree.is_leaf(v):
            i = next(iter(v))
            arrays.append(net.weights[v])
            inds.append((f"d{i}", leg(v)))
            names.append(f"W{format_node(v)}")
            info[f"d{i}"] = f"open leg of input {i} (dim {net.n_descriptors})"
            info[leg(v)] = f"output channels of leaf {format_node(v)} (dim {net.width})"
            continue
        for u, W in zip(tree.children(v), net.weights[v]):
            if v == tree.root:
                arrays.append(W[:, output : output + 1])
                inds.append((leg(u), "y"))
            else:
                arrays.append(W)
                inds.append((leg(u), leg(v)))
            names.append(f"W{format_node(v)}<-{format_node(u)}")
        if v != tree.root:
            info[leg(v)] = f"copy tensor of node {format_node(v)} (dim {net.width})"
    info["y"] = f"output {output} of the root (dim 1): the root is a single product"
    open_inds = [f"d{i}" for i in range(tree.n_inputs)]
    return TensorNetwork(arrays, inds, open_inds=open_inds, names=names, index_info=info)
