"""Measures of a network through its min cut: the network form of the entanglement measures.

:func:`network_spectrum` finds a minimum cut (:func:`tnconv.min_cut`) and computes the Schmidt values
through it (:func:`tnconv.spectrum.cut_spectrum`, from the cut's public ``tensor_sides()``). This is the
measures layer: it may use both ``mincut`` and ``spectrum``, which never import each other.
:mod:`tnconv.entanglement` builds the public dense-or-model functions on it.

References
----------
.. [1] Y. Levine, D. Yakira, N. Cohen, A. Shashua, ICLR 2018, arXiv:1704.01552.
.. [2] U. Schollwöck, Ann. Phys. 326 (2011), arXiv:1008.3477.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from ._core.arrays import cached_copy, is_concrete
from ._core.caches import LRUCache
from .mincut import min_cut, prepare
from .network import TensorNetwork
from .network_io import is_quimb_network
from .partition_resolve import is_pair
from .spectrum import (
    DEFAULT_MAX_CUT_DIM,
    CutTooLargeError,
    NetworkSpectrum,
    check_max_bytes,
    check_tolerance,
    cut_spectrum,
)

__all__ = ["model_network", "network_schmidt_values", "network_spectrum"]


def model_network(model: Any, output: int = 0) -> TensorNetwork:
    """``TensorNetwork.from_model(model, output)``, cached on the model while its weights are the same.

    The key is the identity of every weight array (the network holds them, so their ids cannot be
    reused while it is cached); in-place edits of the arrays reach the cached network too, since it
    holds the same arrays. Replacing a weight recompiles. Thread-safe (:func:`tnconv._core.arrays.cached_copy`);
    traced weights (JAX) are never cached.

    Examples
    --------
    >>> import tnconv as tc
    >>> net = tc.deep(4, 2, 2, seed=0)
    >>> model_network(net) is model_network(net)
    True
    """
    weights = getattr(model, "weights", None)
    if not isinstance(weights, dict) or not (all(type(w) is np.ndarray for w in weights.values())
                                             or all(is_concrete(w) for w in weights.values())):
        # The one compiler: its errors name what a model lacks (non-product pooling, a MixedConvNet).
        return TensorNetwork.from_model(model, output)
    key = (tuple(weights), tuple(map(id, weights.values())))
    return cached_copy(model, ("tensor network", int(output)), key, lambda: TensorNetwork.from_model(model, output))


def _as_network(obj: Any, output: Any) -> Any:
    if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
        raise TypeError(f"output must be an int, got {output!r}")
    if is_quimb_network(obj):
        obj = TensorNetwork.from_quimb(obj)
    if isinstance(obj, TensorNetwork):
        if output != 0:
            raise ValueError(f"output={output!r} selects a model's output channel; a TensorNetwork has one tensor")
        return obj
    if hasattr(obj, "n_inputs") and hasattr(obj, "g"):
        return model_network(obj, int(output))
    raise TypeError(
        f"exact spectra without the dense tensor need a TensorNetwork or a tree model "
        f"(tnconv.models.protocol.TreeModel, product pooling); got {type(obj).__name__}. Pass its "
        "coefficient or grid tensor instead"
    )


def network_spectrum(
    obj: Any,
    part: Any,
    output: int = 0,
    *,
    max_cut_dim: int = DEFAULT_MAX_CUT_DIM,
    cutoff: float | None = None,
    method: str = "auto",
    normalize: bool = False,
    max_bytes: float | None = None,
) -> NetworkSpectrum:
    """Schmidt values of a network across ``(I, I^c)`` through a min cut, with the matricization's size.

    Same parameters, computation and accuracy as :func:`network_schmidt_values`, which returns
    ``network_spectrum(...).values``.

    ``part`` takes every form :func:`tnconv.min_cut` takes (positions, masks, names, open-leg labels and
    tags), and an A|B pair ``(A, B)``. For a pair, the spectrum is defined by the cut: with ``C`` the
    free legs (in neither ``A`` nor ``B``), the min cut :func:`tnconv.min_cut` returns for ``(A, B)``
    puts each leg of ``C`` on one side (:attr:`MinCut.open_side` holds ``A`` and the free legs on its
    side, ``C_A``), and the values returned are the Schmidt values of the network's tensor across
    ``(A ∪ C_A, B ∪ C_B)``: the singular values of that matricization, every free leg left open on
    the side the cut puts it. Their number is at most ``cut.bound``, the minimum over all splits of
    ``C`` of the ordinary bound, so this is the smallest-rank decomposition the network's structure
    allows. When several cuts are optimal the split is the deterministic one the solver returns
    (ties go to the side of the leg's tensor), and another optimal split can give different values:
    read ``min_cut(obj, (A, B)).open_side`` to know which matricization was decomposed.

    Returns
    -------
    NetworkSpectrum

    Examples
    --------
    >>> import tnconv as tc
    >>> sp = network_spectrum(tc.deep(8, 2, 2, seed=0), [0, 1, 2, 3])
    >>> sp.values.size, sp.n_rows, sp.n_cols, sp.cut_dim
    (2, 16, 16, 2)

    An A|B pair: inputs 0 and 7, the six others free. The cut leaves them all with input 0, so the values
    are those of the 128 x 2 matricization ``({0, ..., 6}, {7})``:

    >>> sp = network_spectrum(tc.deep(8, 2, 2, seed=0), ([0], [7]))
    >>> sp.values.size, sp.n_rows, sp.n_cols
    (2, 128, 2)
    """
    if isinstance(max_cut_dim, (bool, np.bool_)) or not isinstance(max_cut_dim, (int, np.integer)):
        raise TypeError(f"max_cut_dim must be a positive int, got {max_cut_dim!r}")
    if max_cut_dim < 1:
        raise ValueError(f"max_cut_dim must be a positive int, got {max_cut_dim!r}")
    cut_tol = check_tolerance(cutoff, "cutoff")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    max_bytes = check_max_bytes(max_bytes)
    tn = _as_network(obj, output)
    if any(a is None for a in tn.arrays):
        raise ValueError("network_schmidt_values needs arrays, but this network is shape-only (built without arrays)")
    # A model's network is cached by model_network (while its weights are the same arrays), so its
    # prepared cut problem, cached per network, is too: no second compilation of the model.
    target: Any = prepare(tn)
    if is_pair(part) or not isinstance(method, str):
        cut = min_cut(target, part if is_pair(part) else target.resolver.resolve(part), method=method)
        sides = cut.tensor_sides()
    else:
        part = target.resolver.resolve(part)
        cut, sides = _cached_cut(target, part, method)
    if cut.bound > max_cut_dim:
        raise CutTooLargeError(cut.bound, int(max_cut_dim))
    return cut_spectrum(tn, cut.open_side, sides, cutoff=cut_tol, normalize=bool(normalize), max_bytes=max_bytes)


#: Min cuts (and their tensor sides) kept per cut problem, by partition and method.
_CUTS: weakref.WeakKeyDictionary[Any, LRUCache] = weakref.WeakKeyDictionary()
_CUTS_LOCK = threading.Lock()
_MAX_CUTS = 64


def _cached_cut(prob: Any, part: frozenset, method: str) -> tuple[Any, np.ndarray]:
    """``min_cut(prob, part, method=method)`` and its ``tensor_sides()``, cached: the cut depends only on
    the network's structure, which a prepared problem fixes (the spectrum reads the current arrays)."""
    with _CUTS_LOCK:
        per = _CUTS.setdefault(prob, LRUCache())

    def build() -> tuple[Any, np.ndarray]:
        cut = min_cut(prob, part, method=method)
        sides = cut.tensor_sides()
        sides.setflags(write=False)
        return cut, sides

    return per.get_or_build((part, method), build, _MAX_CUTS)


def network_schmidt_values(
    obj: Any,
    part: Any,
    output: int = 0,
    max_cut_dim: int = DEFAULT_MAX_CUT_DIM,
    cutoff: float | None = None,
    method: str = "auto",
    normalize: bool = False,
    max_bytes: float | None = None,
) -> np.ndarray:
    """Singular values of ``[[A]]_I`` of a network's tensor, computed through a min cut.

    Each side of the cut is brought to QR-canonical form and the values are those of the small core
    (module notes). Accuracy: an absolute error of about ``eps * ||X|| ||Y||`` (of the order of
    ``eps * s_1``; tested to ``1e-12 * s_1`` against dense SVDs), or ``sqrt(chi * eps) * s_1`` where a
    side with cycles falls back to its Gram matrix (with a :class:`SpectrumAccuracyWarning`).

    Parameters
    ----------
    obj : TreeModel, TensorNetwork or quimb TensorNetwork
        A model is compiled with ``TensorNetwork.from_model(obj, output)``; a network needs its arrays.
    part : partition or A|B pair
        The side ``I`` in any form :func:`tnconv.min_cut` takes, or a pair ``(A, B)`` (its spectrum is
        defined in :func:`network_spectrum`).
    output : int
        Output channel of a model (0 for a network).
    max_cut_dim : int
        Largest cut dimension accepted (default 4096); the core is at most ``chi x chi``.
    cutoff : float, optional
        If given (finite, ``>= 0``), values ``<= cutoff * s_1`` are returned as 0. By default nothing is
        zeroed: values that are zero in exact arithmetic come back at the rounding level.
    method : str
        Min-cut solver (see :func:`tnconv.min_cut`).
    normalize : bool
        Return ``s / ||s||`` (unit Frobenius norm). Use it for very large networks whose raw values
        would overflow or underflow float64; entropies do not depend on it.
    max_bytes : float, optional
        Byte budget of intermediates (default ``tnconv.options["max_dense_bytes"]``).

    Returns
    -------
    numpy.ndarray
        ``min(chi, dims of I, dims of I^c)`` values in descending order, unnormalized unless
        ``normalize``.

    Raises
    ------
    CutTooLargeError
        (a ``MemoryError``) when the min cut exceeds ``max_cut_dim``; its message gives the bound.
    TensorTooLargeError
        (a ``MemoryError``) when a message or the core would exceed ``max_bytes``.
    TypeError
        A model with no tensor network, or options of the wrong type (bool ``max_cut_dim``, non-bool
        ``normalize``).
    ValueError
        An invalid partition, a shape-only network, NaN/inf tensors, or a NaN, infinite or negative
        ``cutoff`` / ``max_bytes``.
    SpectrumRangeError
        (an ``OverflowError`` and ``FloatingPointError``) for unnormalized values that overflow or
        underflow float64 (use ``normalize=True``).

    Examples
    --------
    >>> import numpy as np, tnconv as tc
    >>> net = tc.deep(8, 2, 2, seed=0)
    >>> s = network_schmidt_values(net, [0, 1, 2, 3])
    >>> dense = np.linalg.svd(tc.matricize(net.coefficient_tensor(), [0, 1, 2, 3]), compute_uv=False)
    >>> bool(np.allclose(s, dense[: s.size], rtol=1e-12, atol=1e-13 * dense[0])), s.size
    (True, 2)

    References
    ----------
    .. [1] Levine et al., ICLR 2018, arXiv:1704.01552.
    .. [2] U. Schollwöck, Ann. Phys. 326 (2011), arXiv:1008.3477.
    """
    return network_spectrum(obj, part, output, max_cut_dim=max_cut_dim, cutoff=cutoff, method=method,
                            normalize=normalize, max_bytes=max_bytes).values
