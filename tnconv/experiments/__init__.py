"""Experiments: one module per claim of the theory, each returning plain data plus a plot helper."""
