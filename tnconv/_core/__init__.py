"""Low-level helpers every layer may use: array namespaces, options and budgets, validation, symbols.

Nothing here imports from the rest of tnconv.
"""
