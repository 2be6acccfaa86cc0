"""The array namespace of the inputs, through the array API standard (``array_api_compat``).

Every numerical kernel of tnconv takes its namespace from its arguments with :func:`namespace`, so the
same code runs on numpy, CuPy, JAX, torch, dask.array and array-api-strict. Data never moves between
namespaces or devices implicitly.

References
----------
.. [1] The Python array API standard, https://data-apis.org/array-api/latest/.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_numpy_namespace

__all__ = ["is_numpy", "namespace"]


def namespace(*arrays: Any) -> Any:
    """The array API namespace shared by ``arrays`` (``None`` entries and Python scalars are ignored).

    Raises
    ------
    TypeError
        When the arrays come from different namespaces (nothing is converted silently).

    Examples
    --------
    >>> import numpy as np
    >>> xp = namespace(np.ones(2), np.zeros((2, 2)))
    >>> xp.__name__
    'array_api_compat.numpy'
    """
    try:
        return array_namespace(*arrays)
    except TypeError as exc:
        kinds = sorted({type(a).__module__.split(".")[0] + "." + type(a).__name__ for a in arrays if a is not None})
        raise TypeError(f"arrays from different or unsupported namespaces: {kinds} ({exc})") from None


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is numpy (plain or array_api_compat's wrapper).

    Examples
    --------
    >>> is_numpy(np), is_numpy(namespace(np.ones(1)))
    (True, True)
    """
    return xp is np or bool(is_numpy_namespace(xp))
