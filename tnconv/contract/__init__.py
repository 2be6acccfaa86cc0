"""Contraction engines: structure-derived paths, level-batched execution, log-scale evaluation."""
