"""The dense tensors and the tensor network of a dilated ConvNet: a mixin of
:class:`~tnconv.models.dilated.DilatedConvNet`.

The grid tensor (the outputs on every combination of templates, any pooling ``g``) and, for product
pooling, the coefficient tensor ``A^y`` and the compiled :class:`~tnconv.network.TensorNetwork`. The
dense tables are built by :func:`~tnconv.models.dilated_dense.dense_tensor`; the network by the compiler
the network layer installs (:func:`~tnconv.models.protocol.compile_network`).

References
----------
.. [1] N. Cohen, R. Tamari, A. Shashua, ICLR 2018, arXiv:1703.06846, Sec. 3.
.. [2] N. Cohen, A. Shashua, ICML 2016, arXiv:1603.00162 (grid tensors).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dilated_dense import check_output, dense_tensor
from .dilated_eval import check_templates_in, resolve_namespace
from .operators import PoolingOperator

__all__ = ["DilatedTensors"]


class DilatedTensors:
    """Mixin of :class:`~tnconv.models.dilated.DilatedConvNet`: ``grid_tensor``, ``coefficient_tensor``
    and ``to_tensor_network``.

    Examples
    --------
    >>> import tnconv as tc
    >>> issubclass(tc.DilatedConvNet, DilatedTensors)
    True
    """

    n_descriptors: int
    n_outputs: int
    dtype: np.dtype
    g: PoolingOperator

    def grid_tensor(self, template_features: Any, output: int = 0, max_bytes: float | None = None) -> Any:
        """The network's output on every combination of templates (any ``g``).

        Parameters
        ----------
        template_features : array of shape (T, M)
            Row ``j`` holds the features of template ``j``; any array namespace (the result is in it).
        output : int
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).

        Returns
        -------
        array of shape ``(T,) * n_inputs``

        Raises
        ------
        tnconv.TensorTooLargeError
            If the tensor or an intermediate table exceeds the budget.
        ValueError
            Templates of the wrong shape, an output out of range.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 2, g="relu_sum", seed=0)
        >>> G = net.grid_tensor(np.eye(2))
        >>> G.shape, bool(np.isclose(G[1, 0, 0, 1], net.forward(np.eye(2)[[[1, 0, 0, 1]]])[0, 0]))
        ((2, 2, 2, 2), True)
        """
        output = check_output(output, self.n_outputs)
        xp = resolve_namespace(template_features, None)
        tf = check_templates_in(xp, template_features, self.n_descriptors, self.dtype)
        return dense_tensor([self], [], tf, output, "grid tensor", max_bytes, xp)

    def coefficient_tensor(self, output: int = 0, max_bytes: float | None = None, backend: Any = None) -> Any:
        """The dense coefficient tensor ``A^y`` of shape ``(M,) * n_inputs`` (product ``g`` only).

        Parameters
        ----------
        output : int
        max_bytes : float, optional
            Byte budget (default ``tnconv.options["max_dense_bytes"]``).
        backend : {None, "numpy", "cupy"} or an array namespace module
            Where to build the tensor (default numpy, the weights' namespace).

        Raises
        ------
        ValueError
            For a non-product ``g`` (use :meth:`grid_tensor`), an output out of range.
        tnconv.TensorTooLargeError
            If the tensor would exceed the byte budget.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2, [2, 1]), 2, 2, seed=0)
        >>> A = net.coefficient_tensor()
        >>> F = np.random.default_rng(1).standard_normal((3, 4, 2))
        >>> direct = np.einsum("abcd,na,nb,nc,nd->n", A, F[:, 0], F[:, 1], F[:, 2], F[:, 3])
        >>> bool(np.allclose(net.forward(F)[:, 0], direct))
        True
        """
        if not self.g.is_product:
            raise ValueError(
                f"g={self.g.name!r} has no coefficient tensor (only product pooling does); use grid_tensor"
            )
        output = check_output(output, self.n_outputs)
        xp = resolve_namespace(None, backend)
        eye = xp.eye(self.n_descriptors, dtype=getattr(xp, self.dtype.name))
        return dense_tensor([self], [], eye, output, "coefficient tensor", max_bytes, xp)

    def to_tensor_network(self, output: int = 0) -> Any:
        """Compile into a :class:`~tnconv.network.TensorNetwork` (product ``g`` only).

        Tensors: ``W_leaf[d_i, c_leaf]`` per input (open leg ``d{i}``), and one matrix
        ``W_{v,u}[c_u, c_v]`` per child ``u`` of every internal node ``v``. The output legs ``c_v`` of
        the children's matrices meet at the copy tensor of ``v`` (a hyperedge also carrying the input leg
        of the parent's matrix). At the root the output column is fixed and the two root vectors share a
        bond ``y`` of dimension 1, so the network is a tree and its min cut sees the root's rank 1.

        Parameters
        ----------
        output : int
            The output channel.

        Returns
        -------
        TensorNetwork

        Raises
        ------
        ValueError
            For a non-product ``g``, an output out of range.

        Examples
        --------
        >>> import numpy as np, tnconv as tc
        >>> net = tc.DilatedConvNet(tc.ModeTree.dilated(2), 2, 3, seed=0)
        >>> tn = net.to_tensor_network()
        >>> tn.n_tensors, len(tn.hyperedges)
        (10, 2)
        >>> bool(np.allclose(tn.contract(), net.coefficient_tensor()))
        True
        """
        from .protocol import compile_network

        if not self.g.is_product:
            raise ValueError(f"g={self.g.name!r} is not a product: only product pooling is a tensor network")
        return compile_network(self, check_output(output, self.n_outputs))
