"""Experiments: one module per claim of the theory, each returning plain data plus a plot helper.

Every module provides ``run(size="small"|"full", seed=0)`` (a dataclass of plain lists and numbers),
``plot(result, ax_or_path=None)`` (matplotlib, imported lazily) and ``verdict(result) -> str``, which
says, from the numbers, whether they support the claim. :mod:`~tnconv.experiments.registry` maps names
to modules, notebooks and figures; ``tnconv experiments list|run`` is the command line.

Modules are imported on first attribute access, so ``import tnconv.experiments`` stays cheap.

Examples
--------
>>> import tnconv.experiments as ex
>>> ex.names()[0], ex.to_json({"a": 1}, indent=None)
('depth_efficiency', '{"a": 1}')
"""

from __future__ import annotations

import importlib
from typing import Any

from .common import to_json, to_plain
from .registry import EXPERIMENTS, get, names, run_experiment

__all__ = ["EXPERIMENTS", "get", "names", "run_experiment", "to_json", "to_plain", "allocate_widths",
           *EXPERIMENTS, "linear_acceleration"]


def __getattr__(name: str) -> Any:  # PEP 562
    if name in EXPERIMENTS or name == "linear_acceleration":
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name == "allocate_widths":
        from .width_range import allocate_widths

        return allocate_widths
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
