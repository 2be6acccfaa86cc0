"""The dense tensors and the tensor network of a ConvNet: a mixin of :class:`~tnconv.models.base.ConvNet`.

The grid tensor (the outputs on every combination of templates, any pooling ``g``), the coefficient
tensor ``A^y`` and the compiled :class:`~tnconv.network.TensorNetwork` (product pooling only). The dense
tables are built by :func:`~tnconv.models.tables.dense_table`; the network by the compiler the network
layer installs (:func:`~tnconv.models.protocol.compile_network`).

References
----------
.. [1] N. Cohen, A. Shashua, "Convolutional Rectifier Networks as Generalized Tensor Decompositions",
   ICML 2016, arXiv:1603.00162, Sec. 3 (grid tensors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.arrays import device_of, namespace
from ..trees import ModeTree
from .checks import check_templates, xp_dtype
from .operators import PoolingOperator
from .parameters import weights_for, weights_namespace
from .tables import dense_table

__all__ = ["ConvNetTensors"]


class ConvNetTensors:
    """Mixin of :class:`~tnconv.models.base.ConvNet`: ``grid_tensor``, ``coefficient_tensor``,
    ``to_tensor_network`` and the checks they share (an output channel, product pooling).

    Examples
    --------
    >>> import tnconv as tc
    >>> issubclass(tc.ConvNet, ConvNetTensors)
    True
    """

    tree: ModeTree
    n_descriptors: int
    n_outputs: int
    dtype: np.dtype
    g: PoolingOperator
    weights: dict

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> Any:
        """The network's outputs on every combination of templates.

        Parameters
        ----------
        template_features : array of shape (T, M)
            Row ``j`` holds the features of template ``j``; any array namespace (numpy weights are
            moved to its device once and cached).
        output : int
            The output channel ``y``.
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        array of shape ``(T,) * n_inputs``, in the namespace of ``template_features``
            Entry ``[j_1..j_N]`` is the output on templates ``j_1..j_N``.

        Raises
        ------
        tnconv.TensorTooLargeError
            If the tensor or an intermediate would exceed the budget (the message gives the size).
        TypeError
            Templates in another namespace than weights that are not numpy.

        References
        ----------
        .. [1] Cohen & Shashua, ICML 2016, arXiv:1603.00162, Sec. 3 (grid tensors).

        Examples
        --------
        >>> from tnconv import ConvAC
        >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
        >>> G = net.grid_tensor(np.eye(2))   # templates with features e_1, e_2: the coefficient tensor
        >>> G.shape, bool(np.allclose(G, net.coefficient_tensor()))
        ((2, 2, 2, 2), True)
        """
        output = self._check_output(output)
        tf = check_templates(template_features, self.n_descriptors, self.dtype)
        ws = weights_for(self, namespace(tf), tf)
        return dense_table(self, tf, ws, output, "grid tensor", max_bytes)

    def _check_output(self, output: int) -> int:
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)):
            raise TypeError(f"output must be an int in 0..{self.n_outputs - 1}, got {output!r}")
        if not 0 <= output < self.n_outputs:
            raise ValueError(f"output {output!r} out of range for n_outputs={self.n_outputs}")
        return int(output)

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None, backend: str | None = None) -> Any:
        """The dense coefficient tensor ``A^y`` of shape ``(M,) * n_inputs``.

        Built in the namespace and on the device of the weights (differentiable under ``jax.grad``).

        Parameters
        ----------
        output : int
            The output channel ``y``.
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``, 2 GiB).
        backend : {None, "numpy", "cupy"}
            ``"cupy"`` contracts the tensor network on the GPU and returns a CuPy array.

        Raises
        ------
        tnconv.TensorTooLargeError
            A ``MemoryError`` whose message says how many bytes the tensor would need.
        ValueError
            For a non-product pooling operator (use :meth:`grid_tensor`).

        Examples
        --------
        >>> import tnconv as tc
        >>> tc.shallow(3, 2, 4, seed=0).coefficient_tensor().shape
        (2, 2, 2)
        """
        self._require_product("coefficient_tensor")
        if backend not in (None, "numpy"):
            from .protocol import hook

            return hook("coefficient_tensor")(self, output, backend=backend, max_bytes=max_bytes)
        output = self._check_output(output)
        xp = weights_namespace(self)
        first = self.weights[self.tree.root]
        eye = xp.eye(self.n_descriptors, dtype=xp_dtype(xp, self.dtype), device=device_of(first))
        return dense_table(self, eye, self.weights, output, "coefficient tensor", max_bytes)

    def to_tensor_network(self, output: int = 0) -> Any:
        """Compile into a :class:`~tnconv.network.TensorNetwork` (weights, copy tensors, open legs).

        Parameters
        ----------
        output : int
            The output channel ``y`` (the root's column).

        Returns
        -------
        TensorNetwork

        Raises
        ------
        ValueError
            For a non-product pooling operator, which has no tensor network.

        Examples
        --------
        >>> from tnconv import ConvAC
        >>> net = ConvAC(ModeTree.balanced(4), 2, 2, seed=0)
        >>> tn = net.to_tensor_network()
        >>> len(tn.open_legs), bool(np.allclose(tn.contract(), net.coefficient_tensor()))
        (4, True)
        """
        from .protocol import compile_network

        self._require_product("to_tensor_network")
        return compile_network(self, self._check_output(output))

    def _require_product(self, what: str) -> None:
        if not self.g.is_product:
            raise ValueError(
                f"{what} needs product pooling (a ConvAC); this net pools with {self.g.name!r}, which has no "
                "coefficient tensor: use grid_tensor(template_features) instead"
            )
