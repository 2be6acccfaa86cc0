"""Section 7 -- implicit acceleration by overparameterization (a thin wrapper for the registry).

The experiment itself lives in :mod:`tnconv.experiments.linear_acceleration` (l_p regression with deep
linear networks against GD, AdaGrad, AdaDelta, Adam and Nesterov). This module gives it the common
interface of the other experiments: ``run(size, seed)``, ``plot(result, ax_or_path)`` and
``verdict(result)``, with ``p = 4`` (where depth should help) and ``p = 2`` (where it should not).

References
----------
.. [1] S. Arora, N. Cohen, E. Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.

Examples
--------
>>> from tnconv.experiments import implicit_acceleration as ia
>>> r = ia.run("small")
>>> ia.verdict(r).split(":")[0]
'SUPPORTED'
>>> import os, tempfile
>>> png = ia.plot(r, os.path.join(tempfile.mkdtemp(), "figure.png"))
>>> os.path.basename(png)
'figure.png'
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .common import check_size

__all__ = ["ImplicitAccelerationResult", "plot", "run", "verdict"]

CONFIG: dict[str, dict[str, Any]] = {
    "small": {"datasets": ("synthetic",), "n_iter": 200, "lr_grid": list(np.logspace(-3, 2, 11)), "depths": (1, 2, 3),
              "rel_target": 1e-2},
    "full": {"datasets": ("diabetes", "synthetic"), "n_iter": None, "lr_grid": None, "depths": (1, 2, 3, 4),
             "rel_target": None},
}


@dataclasses.dataclass
class ImplicitAccelerationResult:
    """``results``: one :class:`~tnconv.experiments.linear_acceleration.AccelerationResult` per
    (dataset, p), ``p = 4`` first."""

    results: list[Any]


def run(size: str = "small", seed: int = 0) -> ImplicitAccelerationResult:
    """Run the linear-network experiment for ``p = 4`` and ``p = 2``.

    Parameters
    ----------
    size : {"small", "full"}
        ``small``: the synthetic data set, 200 iterations over an 11-point learning-rate grid, target at
        1% of the initial excess loss; ``full``: the defaults of
        :func:`~tnconv.experiments.linear_acceleration.run` on every data set.
    seed : int

    Returns
    -------
    ImplicitAccelerationResult
    """
    from . import linear_acceleration as la

    cfg = CONFIG[check_size(size)]
    kw: dict[str, Any] = {"seed": seed, "depths": cfg["depths"]}
    if cfg["n_iter"] is not None:
        kw["n_iter"] = cfg["n_iter"]
    for key in ("lr_grid", "rel_target"):
        if cfg[key] is not None:
            kw[key] = cfg[key]
    return ImplicitAccelerationResult(results=la.run_all(ps=(4, 2), datasets=cfg["datasets"], **kw))


def verdict(result: ImplicitAccelerationResult) -> str:
    """The linear experiment's own verdict for each (dataset, p), one line each."""
    from . import linear_acceleration as la

    lines = [f"{r.dataset}, p={r.p:g}: {la.verdict(r)}" for r in result.results]
    holds = all("FAILS" not in line for line in lines)
    return "\n".join([("SUPPORTED" if holds else "NOT SUPPORTED (see the lines below)")
                      + ": implicit acceleration by depth for p = 4, none for p = 2."] + ["- " + x for x in lines])


def plot(result: ImplicitAccelerationResult, ax_or_path: Any = None) -> Any:
    """Loss vs iteration per optimizer, one panel per (dataset, p), via the linear experiment's ``plot``."""
    import os

    from . import linear_acceleration as la

    if isinstance(ax_or_path, (str, os.PathLike)):
        fig = la.plot(result.results, None)
        fig.savefig(ax_or_path, dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        return str(ax_or_path)
    return la.plot(result.results, ax_or_path)
