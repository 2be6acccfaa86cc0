"""The one BLAS thread limiter (threadpoolctl, when installed).

On a busy machine OpenBLAS's spin-waiting threads made a 256x256 ``eigh`` 40x slower (1.2 s against
30 ms measured here), so small dense kernels run with one BLAS thread.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["blas_threads"]

_CONTROLLER: Any = None
_CONTROLLER_LOCK = threading.Lock()


def _controller() -> Any:
    global _CONTROLLER
    with _CONTROLLER_LOCK:
        if _CONTROLLER is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:
                _CONTROLLER = False
            else:
                # SciPy's wheels carry their own OpenBLAS: load it before the one scan, or it runs unlimited.
                with contextlib.suppress(ImportError):
                    import scipy.linalg  # noqa: F401
                # Scanning the loaded libraries costs milliseconds; do it once per process.
                _CONTROLLER = ThreadpoolController()
        return _CONTROLLER


@contextmanager
def blas_threads(n: int | None) -> Iterator[bool]:
    """Limit BLAS to ``n`` threads inside the block (``None``: leave it alone).

    Yields ``True`` when the limit is in force (threadpoolctl installed), ``False`` otherwise.

    Raises
    ------
    TypeError
        ``n`` is not an int or None (bools refused).
    ValueError
        ``n`` below 1.

    Examples
    --------
    >>> import numpy as np
    >>> with blas_threads(1) as limited:
    ...     _ = np.ones((4, 4)) @ np.ones((4, 4))
    """
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"the BLAS thread count must be an int or None, got {n!r}")
        if n < 1:
            raise ValueError(f"the BLAS thread count must be >= 1, got {n}")
    ctl: Any = _controller() if n is not None else False
    if n is None or not ctl:
        yield False
        return
    with ctl.limit(limits=int(n), user_api="blas"):
        yield True
