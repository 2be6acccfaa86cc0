"""ConvNets over a mode tree: convolutional arithmetic circuits and generalized (rectifier) nets.

A network over a :class:`~tnconv.trees.ModeTree` applies a 1x1 convolution (a matrix) at every tree node
and pools the children of each internal node with an operator ``g``. With ``g = product`` it is a
convolutional arithmetic circuit (ConvAC) whose function is

    h_y(X) = sum_{d_1..d_N} A^y[d_1..d_N] prod_i f_{d_i}(x_i),

with ``A^y`` a hierarchical tensor decomposition over the tree (CP for a flat tree, hierarchical Tucker
for a balanced binary one).

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor Analysis",
   COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor Decompositions",
   ICML 2016, arXiv:1603.00162.
"""

from __future__ import annotations

from .._core.arrays import namespace
from .base import ConvAC, ConvNet, WidthSpec
from .builders import POOLINGS, deep, shallow
from .checks import (
    INITS,
    as_mode_tree,
    check_bool,
    check_features,
    check_init,
    check_positive_int,
    check_templates,
    make_rng,
    planned_init_bytes,
    resolve_dtype,
)

__all__ = [
    "INITS",
    "POOLINGS",
    "ConvAC",
    "ConvNet",
    "WidthSpec",
    "as_mode_tree",
    "check_bool",
    "check_features",
    "check_init",
    "check_positive_int",
    "check_templates",
    "deep",
    "make_rng",
    "planned_init_bytes",
    "resolve_dtype",
    "shallow",
]

# Kept for models/dilated.py and models/mixed.py, which still import it: the namespace helper.
_array_module = namespace
