"""The registry of experiments: one entry per claim, with its notebook and figure.

Every experiment module provides ``run(size="small"|"full", seed=0)`` (trained ones also ``"medium"``), ``plot(result, ax_or_path=None)``
and ``verdict(result) -> str``. :func:`run_experiment` runs one by name and can write its PNG and JSON.

Examples
--------
>>> from tnconv.experiments.registry import EXPERIMENTS, get
>>> list(EXPERIMENTS)[:2]
['depth_efficiency', 'pooling_geometry']
>>> get("pooling_geometry").notebook
'02_pooling_geometry.ipynb'
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import time
import warnings
from types import ModuleType
from typing import Any

from .common import SIZES, TRAINED_SIZES, check_size, save_json

__all__ = ["EXPERIMENTS", "Experiment", "UnknownExperimentError", "get", "names", "run_experiment"]


class UnknownExperimentError(KeyError):
    """An experiment name that is not registered (a ``KeyError`` with a readable message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One claim: its name, section, module, notebook and figure file, and a one-line statement."""

    name: str
    section: int
    title: str
    claim: str
    module: str
    paper: str
    #: The sizes ``run`` accepts, and the one the notebook uses (its figures are the recorded results).
    sizes: tuple[str, ...] = SIZES
    notebook_size: str = "full"

    @property
    def notebook(self) -> str:
        return f"{self.section:02d}_{self.name}.ipynb"

    @property
    def figure(self) -> str:
        return f"{self.name}.png"

    def load(self) -> ModuleType:
        """Import the experiment's module (``ImportError`` names what is missing)."""
        return importlib.import_module(self.module)


_E = Experiment
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    _E("depth_efficiency", 1, "Efficiency of depth",
       "A deep ConvAC has odd/even rank min(M,w)^(N/2); a shallow one needs that width. Removing k top layers "
       "forces the top width up to min(M,w)^(2^(k-1)).", "tnconv.experiments.depth_efficiency", "arXiv:1509.05009"),
    _E("pooling_geometry", 2, "Pooling geometry",
       "Contiguous pooling favours interleaved partitions (checkerboard), interleaved/mirror pooling favours "
       "coarse ones (left/right).", "tnconv.experiments.pooling_geometry", "arXiv:1605.06743"),
    _E("width_range", 3, "Layer widths vs interaction range",
       "Early widths govern short-range interactions, deep widths long-range ones; allocate_widths inverts this.",
       "tnconv.experiments.width_range", "arXiv:1704.01552"),
    _E("entanglement_vs_bound", 4, "Entanglement vs the min-cut bound",
       "Entropy <= log(min cut) and geometric measure <= 1 - 1/min cut; trained-like nets use little of it.",
       "tnconv.experiments.entanglement_vs_bound", "arXiv:1704.01552"),
    _E("rectifier", 5, "Rectifier networks",
       "ConvACs reach their generic rank on every draw; ReLU+max nets fall below it with positive probability.",
       "tnconv.experiments.rectifier", "arXiv:1603.00162"),
    _E("mixed_dilated", 6, "Mixed dilated networks",
       "Hybrid trees and mixed nets reach ranks a single tree needs width ~(r/2)^(4/3) for.",
       "tnconv.experiments.mixed_dilated", "arXiv:1703.06846"),
    _E("implicit_acceleration", 7, "Implicit acceleration",
       "Depth-2/3 overparameterization speeds up l_4 regression and beats AdaGrad/AdaDelta; no gain for l_2.",
       "tnconv.experiments.implicit_acceleration", "arXiv:1802.06509"),
    _E("contraction_paths", 8, "Contraction paths",
       "The network's own structure gives a contraction path as cheap as generic search, without the search.",
       "tnconv.experiments.contraction_paths", "arXiv:2002.01935"),
    _E("pooling_geometry_trained", 9, "Pooling geometry, trained",
       "Trained on closedness, square (contiguous) pooling wins; trained on left-right symmetry, mirror pooling "
       "wins, each by more than the seed-to-seed spread.", "tnconv.experiments.pooling_geometry_trained",
       "arXiv:1605.06743", TRAINED_SIZES, "medium"),
    _E("width_range_trained", 10, "Layer widths vs interaction range, trained",
       "At equal parameter count, wide-base nets win a local task and wide-tip nets a global one.",
       "tnconv.experiments.width_range_trained", "arXiv:1704.01552", TRAINED_SIZES, "medium"),
    _E("entanglement_trained", 11, "Entanglement of trained nets vs the min-cut bound",
       "After training, entropies stay below log(min cut), and trained nets use less of the bound than random ones.",
       "tnconv.experiments.entanglement_trained", "arXiv:1704.01552", TRAINED_SIZES, "medium"),
)}


def names() -> list[str]:
    """The registered experiment names, in section order.

    Returns
    -------
    list of str

    Examples
    --------
    >>> names()[:3]
    ['depth_efficiency', 'pooling_geometry', 'width_range']
    """
    return list(EXPERIMENTS)


def get(name: str) -> Experiment:
    """Look an experiment up by name.

    Parameters
    ----------
    name : str

    Returns
    -------
    Experiment

    Raises
    ------
    UnknownExperimentError
        A ``KeyError`` for an unknown name (the message lists the known ones).

    Examples
    --------
    >>> get("rectifier").section, get("rectifier").figure
    (5, 'rectifier.png')
    """
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise UnknownExperimentError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def run_experiment(name: str, size: str = "small", seed: int = 0,
                   out: str | os.PathLike | None = None) -> dict[str, Any]:
    """Run one experiment; with ``out``, write ``NAME.json`` (result + verdict) and ``NAME.png`` there.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.
    size : str
        One of the experiment's ``sizes`` (``"small"``, ``"full"``; trained ones also ``"medium"``).
    seed : int
    out : path, optional
        A directory (created if needed).

    Returns
    -------
    dict
        ``result``, ``verdict``, ``seconds`` and, with ``out``, the ``json`` and ``png`` paths.

    Raises
    ------
    KeyError
        An unknown experiment.
    ValueError
        An unknown size.

    Examples
    --------
    >>> out = run_experiment("width_range")
    >>> sorted(out), out["verdict"].split(":")[0]
    (['result', 'seconds', 'verdict'], 'SUPPORTED')
    """
    exp = get(name)
    check_size(size, exp.sizes)
    mod = exp.load()
    t0 = time.perf_counter()
    result = mod.run(size=size, seed=seed)
    seconds = time.perf_counter() - t0
    text = mod.verdict(result)
    info: dict[str, Any] = {"result": result, "verdict": text, "seconds": seconds}
    if out is not None:
        os.makedirs(out, exist_ok=True)
        info["json"] = save_json({"experiment": name, "size": size, "seed": seed, "seconds": seconds,
                                  "verdict": text, "result": result}, os.path.join(out, f"{name}.json"))
        try:
            info["png"] = mod.plot(result, os.path.join(out, exp.figure))
        except ImportError as exc:  # the data is still worth having without matplotlib
            warnings.warn(f"{name}: wrote JSON but no figure ({exc})", stacklevel=2)
            info["png"] = None
    return info

