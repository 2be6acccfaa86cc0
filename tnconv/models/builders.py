"""The model builders: ``shallow`` (CP decomposition) and ``deep`` (hierarchical Tucker) ConvACs.

References
----------
.. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor Analysis",
   COLT 2016, arXiv:1509.05009.
.. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
   Geometry", ICLR 2017, arXiv:1605.06743.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._core.options import check_budget
from ..trees import ModeTree
from .base import ConvAC, WidthSpec
from .checks import check_positive_int, resolve_dtype

__all__ = ["POOLINGS", "deep", "shallow"]


def _n_inputs(n_inputs: Any) -> tuple[int, tuple[int, int] | None]:
    """``(n, shape)`` from an int or an image shape ``(height, width)`` of positive ints."""
    if isinstance(n_inputs, (tuple, list)):
        if len(n_inputs) != 2:
            raise ValueError(f"n_inputs must be an int or a (height, width) pair, got {n_inputs!r}")
        h = check_positive_int(n_inputs[0], "n_inputs[0] (the image height)")
        w = check_positive_int(n_inputs[1], "n_inputs[1] (the image width)")
        return h * w, (h, w)
    return check_positive_int(n_inputs, "n_inputs"), None


def _precheck(n: int, n_descriptors: Any, leaf_width: Any, dtype: Any) -> None:
    # Before the tree is built: the leaves alone hold n * M * w weights, and the tree about 500 bytes
    # per input, so a request far over the budget is refused without building anything.
    M = check_positive_int(n_descriptors, "n_descriptors")
    item = resolve_dtype(dtype).itemsize
    if isinstance(leaf_width, Sequence) and not isinstance(leaf_width, (str, bytes)) and len(leaf_width):
        leaf_width = leaf_width[0]
    valid = isinstance(leaf_width, (int, np.integer)) and not isinstance(leaf_width, bool) and leaf_width > 0
    w = int(leaf_width) if valid else 1  # anything else is refused by the model, with its own message
    check_budget(f"a model over {n} inputs with n_descriptors={M} and leaf width {w}",
                 float(n) * (float(M) * w * item + 500))


def shallow(
    n_inputs: int | tuple[int, int],
    n_descriptors: int,
    width: int,
    *,
    n_outputs: int = 1,
    shared: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = "float64",
    weights: Mapping[Any, Any] | None = None,
    init: str = "normal",
) -> ConvAC:
    """A shallow ConvAC (one hidden layer, global product pooling): the CP decomposition.

    Its coefficient tensor has CP rank at most ``width``, so every matricization has rank at most
    ``width``.

    Parameters
    ----------
    n_inputs : int or (height, width)
        Positive ints; an image shape gives ``height * width`` inputs.
    n_descriptors : int
        M, the number of features per input.
    width : int
        Channels of the one hidden layer (the CP rank).
    n_outputs, shared, seed, dtype, weights, init
        As :class:`ConvAC` (``seed`` makes the random weights reproducible).

    Raises
    ------
    TypeError
        Sizes that are not ints (bools and floats are refused), unknown keywords.
    ValueError
        Non-positive sizes, an unknown ``init``.
    tnconv.TensorTooLargeError
        When the weights would exceed the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.  Shallow networks = CP decompositions.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.shallow(4, 2, width=3, seed=0)
    >>> net.tree.to_nested(), net.n_parameters
    ((0, 1, 2, 3), 27)
    """
    n, _ = _n_inputs(n_inputs)
    width = check_positive_int(width, "width")
    if weights is None:
        _precheck(n, n_descriptors, width, dtype)
    return ConvAC(ModeTree.flat(n), n_descriptors, width, n_outputs=n_outputs, shared=shared, seed=seed,
                  dtype=dtype, weights=weights, init=init)


#: The pooling geometries of :func:`deep`.
POOLINGS = ("contiguous", "interleaved")


def deep(
    n_inputs: int | tuple[int, int],
    n_descriptors: int,
    widths: WidthSpec,
    pooling: str = "contiguous",
    arity: int | None = None,
    *,
    n_outputs: int = 1,
    shared: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = "float64",
    weights: Mapping[Any, Any] | None = None,
    init: str = "normal",
) -> ConvAC:
    """A deep ConvAC with pooling windows of size 2 (1D) or 2x2 (2D), recursively: hierarchical Tucker.

    Parameters
    ----------
    n_inputs : int or (height, width)
        A power of 2 (1D) or an image shape with power-of-2 sides (2D grid pooling).
    n_descriptors : int
        M, the number of features per input.
    widths : int, sequence or dict
        Output channels per tree height, **leaf level first**: one int for every layer, or one entry
        per height below the root, ``widths[0]`` after the first 1x1 convolution (at the leaves) and
        ``widths[-1]`` entering the root (``len(widths)`` is the tree height, ``log2 N`` for 1D size-2
        pooling); or ``{node: width}`` for every non-root node.
    pooling : {"contiguous", "interleaved"}
        Contiguous windows, or windows joining inputs half the sequence/image apart.
    arity : int, optional
        1D window size (default 2); 2D windows are ``arity x arity``.
    n_outputs : int
        Outputs (classes) of the root.
    shared : bool
        One weight matrix per height (a true convolution).
    seed : int or numpy Generator, optional
        Seed of the random weights; the same seed gives the same model.
    dtype, weights
        As :class:`ConvAC`.
    init : {"normal", "orthogonal"}
        Random weights: Gaussian scaled by ``1/sqrt(fan_in)``, or random orthonormal columns.

    Raises
    ------
    TypeError
        Sizes that are not ints (bools and floats are refused), unknown keywords.
    ValueError
        Non-positive sizes, sizes that are not powers of the arity, an unknown ``pooling`` or ``init``.
    tnconv.TensorTooLargeError
        When the weights would exceed the byte budget.

    References
    ----------
    .. [1] N. Cohen, O. Sharir, A. Shashua, "On the Expressive Power of Deep Learning: A Tensor
       Analysis", COLT 2016, arXiv:1509.05009.
    .. [2] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling
       Geometry", ICLR 2017, arXiv:1605.06743.

    Examples
    --------
    >>> import tnconv as tc
    >>> tc.deep(8, 2, 2).tree.to_nested()
    (((0, 1), (2, 3)), ((4, 5), (6, 7)))
    >>> tc.deep((4, 4), 2, [2, 2]).n_inputs
    16
    >>> net = tc.deep(8, 2, [4, 3, 2], seed=0, init="orthogonal")  # widths per height, leaves first
    >>> net.weight_shape({0}), net.weight_shape({0, 1}), net.weight_shape(range(4)), net.weight_shape(range(8))
    ((2, 4), (4, 3), (3, 2), (2, 1))
    """
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    a = 2 if arity is None else check_positive_int(arity, "arity")
    n, shape = _n_inputs(n_inputs)
    if weights is None:
        _precheck(n, n_descriptors, widths, dtype)
    if shape is not None:
        tree = ModeTree.grid(shape[0], shape[1], window=a, interleaved=pooling == "interleaved")
    elif pooling == "interleaved":
        tree = ModeTree.interleaved(n, arity=a)
    else:
        tree = ModeTree.balanced(n, arity=a)
    return ConvAC(tree, n_descriptors, widths, n_outputs=n_outputs, shared=shared, seed=seed, dtype=dtype,
                  weights=weights, init=init)
