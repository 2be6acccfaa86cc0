"""Generic contraction of a TensorNetwork through opt_einsum."""

from __future__ import annotations

from typing import Any

import opt_einsum as oe


def contract_network(tn: Any, features: Any = None, optimize: Any = None, backend: str | None = None, **kw: Any) -> Any:
    eq = tn.equation(features=features is not None)
    ops = tn.operands(features)
    return oe.contract(eq, *ops, optimize="auto" if optimize is None else optimize,
                       backend="auto" if backend is None else backend, **kw)
