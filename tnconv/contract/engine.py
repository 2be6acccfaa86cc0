"""Dispatch of ``forward`` to an evaluation engine."""

from __future__ import annotations

from typing import Any

ENGINES = ("auto", "reference")


def run_forward(model: Any, features: Any, backend: str | None = None, log: bool = False, engine: str = "auto") -> Any:
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {ENGINES}")
    if backend not in (None, "numpy"):
        raise ValueError(f"unknown backend {backend!r}; choose 'numpy'")
    return model._forward_reference(features, log=log)
