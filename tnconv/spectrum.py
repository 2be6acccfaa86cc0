"""Schmidt spectra of networks without the dense tensor."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def network_schmidt_values(obj: Any, part: Iterable[int], output: int = 0, **kw: Any) -> np.ndarray:
    from .entanglement import schmidt_values

    if hasattr(obj, "coefficient_tensor"):
        return schmidt_values(obj.coefficient_tensor(output), part)
    return schmidt_values(obj.contract(), part)
