"""Deep linear networks and the end-to-end update rule (implicit acceleration by depth).

A depth-``N`` linear network ``x -> W_N ... W_1 x`` computes the same functions as the single matrix
``W = W_N ... W_1`` (the *end-to-end* matrix), so depth adds no expressiveness. It does change how gradient
descent moves: with a *balanced* initialization (``W_{j+1}^T W_{j+1} = W_j W_j^T``), gradient descent on
the factors with step ``eta`` moves ``W`` by the **end-to-end update rule**, exactly for gradient flow and
to first order in ``eta`` for gradient descent:

    W <- W - eta * sum_{j=1..N} (W W^T)^((j-1)/N) grad L(W) (W^T W)^((N-j)/N)

The rule depends on the depth ``N`` only, never on the hidden widths. For a single output (``W = w^T``)
it reads ``w <- w - eta ||w||^(2-2/N) (g + (N-1) (g . w_hat) w_hat)``: an adaptive step plus momentum
along the direction already taken.

The array namespace is taken from the inputs (numpy, CuPy, JAX, torch, array-api-strict). Every function also accepts
*stacks* of matrices (shape ``(..., rows, cols)``) with a learning rate that broadcasts over the stack,
which is how :mod:`tnconv.experiments.linear_acceleration` runs a whole learning-rate grid at once.

The package holds one concept per module: :mod:`~tnconv.linear.update` (the rule and gradient descent
driven by it), :mod:`~tnconv.linear.powers` (fractional PSD powers), :mod:`~tnconv.linear.networks`
(:class:`DeepLinearNetwork`), :mod:`~tnconv.linear.losses` (losses of the end-to-end matrix) and
:mod:`~tnconv.linear.checks` (argument checks, :class:`DivergenceError`).

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

from .checks import DivergenceError
from .losses import LpLoss, SoftmaxCrossEntropy, SquaredLoss
from .networks import DeepLinearNetwork
from .powers import psd_power
from .update import end_to_end_field, end_to_end_update, end_to_end_update_single_output, fit_end_to_end

__all__ = [
    "DeepLinearNetwork",
    "DivergenceError",
    "LpLoss",
    "SoftmaxCrossEntropy",
    "SquaredLoss",
    "end_to_end_field",
    "end_to_end_update",
    "end_to_end_update_single_output",
    "fit_end_to_end",
    "psd_power",
]
