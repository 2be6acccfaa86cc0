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
from ..tree_windows import pooling_windows
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
    windows: Sequence[Any] | None = None,
    n_outputs: int = 1,
    shared: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: Any = "float64",
    weights: Mapping[Any, Any] | None = None,
    init: str = "normal",
) -> ConvAC:
    """A deep ConvAC with pooling windows of size 2 (1D) or 2x2 (2D), recursively: hierarchical Tucker.

    Any number of inputs and any image shape work. Sides that are not powers of the window follow the
    ragged-edge rule of :meth:`ModeTree.grid`: where a window does not divide a side's blocks, the last
    window along that side takes the blocks left over. ``windows`` sets each level's window
    explicitly. Windows that divide every side give a uniform tree, which the level-batched forward
    engine runs; a ragged tree runs node by node (at 100 x 100, M = 256, width 16, about 6x slower:
    ``benchmarks/images.py``).

    Parameters
    ----------
    n_inputs : int or (height, width)
        A sequence length (1D, :meth:`ModeTree.balanced` / :meth:`ModeTree.interleaved`) or an image
        shape (2D grid pooling, :meth:`ModeTree.grid`), at least 2 inputs.
    n_descriptors : int
        M, the number of features per input.
    widths : int, sequence or dict
        Output channels per tree height, **leaf level first**: one int for every layer, or one entry
        per pooling level, ``widths[0]`` after the leaves' 1x1 convolution and ``widths[l]`` the width of
        the nodes of height ``l`` (``len(widths)`` is the number of levels, ``len(windows)``: ``log2 N``
        for 1D size-2 pooling; the root's width is ``n_outputs``); or ``{node: width}`` for every
        non-root node.
    pooling : {"contiguous", "interleaved"}
        Contiguous windows, or windows joining inputs half the sequence/image apart.
    arity : int, optional
        The default window: 1D windows of ``arity`` (2), 2D windows of ``arity x arity``.
    windows : sequence, optional
        Per-level windows from the leaves up, as in :meth:`ModeTree.grid` (ints, or ``(rows, cols)``
        pairs in 2D), for example ``[(2, 2), (2, 2), (7, 7)]`` for ``(28, 28)``.
        :func:`tnconv.tree_windows.pooling_windows` lists the windows a shape gets by default.
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
        Non-positive sizes, windows that do not pool the input down to one block, a widths sequence
        with a length other than the number of levels, both ``arity`` and ``windows``, an unknown
        ``pooling`` or ``init``.
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
    >>> net = tc.deep((28, 28), 2, [4, 4, 4], windows=[(2, 2), (2, 2), (7, 7)], seed=0)
    >>> net.n_inputs, net.tree.height(net.tree.root)
    (784, 3)
    >>> tc.deep(6, 2, 2).tree.to_nested()  # 6 -> 3 -> 1: the last window takes the leftover block
    ((0, 1), (2, 3), (4, 5))
    """
    if not isinstance(pooling, str) or pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    if arity is not None and windows is not None:
        raise ValueError(f"deep: give either arity={arity!r} or windows, not both")
    a = 2 if arity is None else check_positive_int(arity, "arity")
    n, shape = _n_inputs(n_inputs)
    levels = pooling_windows(*(shape or (1, n)), windows, a, dims=1 if shape is None else 2)
    if isinstance(widths, Sequence) and not isinstance(widths, (str, bytes)) and len(widths) != len(levels):
        what = f"{shape[0]}x{shape[1]} image" if shape else f"sequence of {n}"
        sides = [w for _, w in levels] if shape is None else levels
        raise ValueError(
            f"widths {list(widths)} has {len(widths)} entries; a per-level sequence needs {len(levels)} for this "
            f"tree: deep pools the {what} in {len(levels)} levels (windows {sides}), one width per level from "
            "the leaves up"
        )
    if weights is None:
        _precheck(n, n_descriptors, widths, dtype)
    il = pooling == "interleaved"
    if shape is not None:
        tree = ModeTree.grid(shape[0], shape[1], window=a, interleaved=il, windows=windows)
    elif il:
        tree = ModeTree.interleaved(n, arity=a, windows=windows)
    else:
        tree = ModeTree.balanced(n, arity=a, windows=windows)
    return ConvAC(tree, n_descriptors, widths, n_outputs=n_outputs, shared=shared, seed=seed, dtype=dtype,
                  weights=weights, init=init)
