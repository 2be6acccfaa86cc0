"""The einsum form of a tensor network: index symbols, the equation and its operands, with or without
features on the open legs.

:class:`EinsumForm` holds these exports as methods; :class:`tnconv.network.TensorNetwork` inherits them,
and its ``contract`` runs the equation (:func:`tnconv.contract.generic.contract_network`).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ._core.symbols import einsum_symbols, symbol
from .models.checks import as_array

__all__ = ["EinsumForm"]


class EinsumForm:
    """The einsum equation and operands of a tensor network (a base of :class:`tnconv.network.TensorNetwork`).

    Examples
    --------
    >>> from tnconv import TensorNetwork
    >>> issubclass(TensorNetwork, EinsumForm)
    True
    """

    inds: list[tuple[Hashable, ...]]
    open_inds: tuple[Hashable, ...]
    size_dict: dict[Hashable, int]
    arrays: list[Any]

    def symbols(self) -> dict[Hashable, str]:
        """A map from index labels to single einsum symbols (``opt_einsum.get_symbol``).

        Examples
        --------
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> sorted(tn.symbols().items())
        [('a', 'a'), ('b', 'b'), ('c', 'c')]
        """
        return einsum_symbols(self.inds)

    def equation(self, features: bool = False) -> str:
        """The einsum equation; with ``features=True`` one ``(batch, M)`` operand per open leg is
        appended and the output is the batch index alone (the network's forward pass).

        Parameters
        ----------
        features : bool

        Returns
        -------
        str

        Examples
        --------
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.equation()
        'ab,bc->ac'
        >>> tn.equation(features=True)
        'ab,bc,da,dc->d'
        """
        sym = self.symbols()
        terms = ["".join(sym[i] for i in ix) for ix in self.inds]
        if not features:
            return ",".join(terms) + "->" + "".join(sym[i] for i in self.open_inds)
        b = symbol(len(sym))
        terms += [b + sym[i] for i in self.open_inds]
        return ",".join(terms) + "->" + b

    def operands(self, features: Any = None) -> list[Any]:
        """The arrays in equation order; with ``features`` of shape ``(batch, n_open, M)`` the feature
        slices are appended.

        Parameters
        ----------
        features : array (batch, n_open, M), optional

        Returns
        -------
        list of array

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 2)], [np.ones((2, 3)), np.ones((3, 2))])
        >>> [op.shape for op in tn.operands(np.ones((5, 2, 2)))]
        [(2, 3), (3, 2), (5, 2), (5, 2)]
        """
        self._require_arrays("operands")
        ops = list(self.arrays)
        if features is not None:
            if not hasattr(features, "shape"):
                features, _ = as_array(features)
                if features.dtype.kind not in "fiu":
                    raise TypeError(f"features have dtype {features.dtype}; expected real numbers")
            self.check_feature_shape(features)
            ops += [features[:, p, :] for p in range(len(self.open_inds))]
        return ops

    def check_feature_shape(self, features: Any) -> None:
        """Check that ``features`` is ``(batch, n_open, M)`` with ``M`` matching every open leg.

        Parameters
        ----------
        features : array

        Raises
        ------
        TypeError
            Features that are not an array.
        ValueError
            Naming the shape, or the open leg whose dimension differs.

        Examples
        --------
        >>> import numpy as np
        >>> from tnconv import TensorNetwork
        >>> tn = TensorNetwork.from_einsum("ab,bc->ac", [(2, 3), (3, 4)])
        >>> tn.check_feature_shape(np.ones((5, 2, 2)))
        Traceback (most recent call last):
            ...
        ValueError: ...
        """
        n = len(self.open_inds)
        if not hasattr(features, "shape") or not hasattr(features, "ndim"):
            raise TypeError(f"features must be an array of shape (batch, {n}, M), got {type(features).__name__}")
        if features.ndim != 3 or features.shape[1] != n:
            raise ValueError(f"features have shape {tuple(features.shape)}; expected (batch, {n} open legs, M)")
        for p, i in enumerate(self.open_inds):
            if features.shape[2] != self.size_dict[i]:
                raise ValueError(
                    f"features have {features.shape[2]} descriptors but open leg {p} ({i!r}) has dimension "
                    f"{self.size_dict[i]}"
                )

    def _require_arrays(self, what: str) -> None:
        if any(a is None for a in self.arrays):
            raise ValueError(f"{what} needs arrays, but this network is shape-only (built without arrays)")
