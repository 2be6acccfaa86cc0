"""Implicit acceleration by depth: l_p regression with deep linear networks vs adaptive optimizers.

The claim checked (Arora, Cohen & Hazan 2018, Section 8): on l_4 regression, overparameterizing a linear
model by depth 2 or 3 (even with hidden width 1) speeds gradient descent up by orders of magnitude and
beats AdaGrad and AdaDelta; on l_2 regression depth gains nothing.

Protocol (the same for every optimizer, so the comparison is fair):

* every optimizer starts from the same end-to-end weight vector ``w0`` (factor networks from a balanced
  factorization of it) and runs ``n_iter`` full-batch steps;
* every optimizer gets the same learning-rate grid (``lr_grid``, log-spaced) and therefore the same
  budget of ``len(lr_grid) * n_iter`` gradient evaluations; the whole grid runs as one stack of models;
* the target is ``L* + rel_target * (L(w0) - L*)`` where ``L*`` is the exact minimum (Newton's method
  on the convex problem); "iterations to target" is the first iteration from which the loss stays at
  or below the target until the end of the budget (touching it and bouncing back does not count);
  each optimizer reports its best learning rate = fewest iterations to the target (ties and misses
  broken by the lowest final loss). A run whose loss exceeds ``1e3 L(w0)`` or becomes non-finite
  counts as diverged and is never selected.

Optimizers: ``GD`` (depth 1), factor gradient descent at depths ``N >= 2`` with hidden width 1 (scalar
overparameterization) and a wider variant, the end-to-end rule at depth ``N``
(:func:`tnconv.linear.end_to_end_update`), AdaGrad, AdaDelta, Adam and Nesterov momentum.

The experiment is split by concept: :mod:`~tnconv.experiments.acceleration_data` (data sets, exact
minimum), :mod:`~tnconv.experiments.acceleration_optimizers` (the stacked optimizers),
:mod:`~tnconv.experiments.acceleration_runs` (:func:`run`, :class:`AccelerationResult`) and
:mod:`~tnconv.experiments.acceleration_report` (verdict, table, plot, JSON); this module re-exports them
and holds the command line.

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""

from __future__ import annotations

from .acceleration_data import DATASETS, load_dataset, minimum_loss
from .acceleration_optimizers import BASELINES
from .acceleration_report import format_table, plot, save, verdict
from .acceleration_runs import AccelerationResult, run, run_all

__all__ = [
    "BASELINES",
    "DATASETS",
    "AccelerationResult",
    "format_table",
    "load_dataset",
    "minimum_loss",
    "plot",
    "run",
    "run_all",
    "save",
    "verdict",
]

