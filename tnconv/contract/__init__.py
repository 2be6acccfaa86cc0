"""Contraction engines: structure-derived paths, level-batched execution, log-scale evaluation.

Modules
-------
``engine``    ``run_forward`` (the engines behind ``ConvNet.forward``) and ``coefficient_tensor``
``levels``    the level-batched executor (uniform trees) and the grouped any-tree executor
``logscale``  ``(sign, log|h|)`` evaluation with exact power-of-two rescaling
``paths``     ``structure_path`` (no search), ``path_cost`` (validation and flops/size accounting)
``generic``   ``contract_network`` through opt_einsum / cotengra optimizers or explicit paths
``backends``  numpy / cupy dispatch, device weight caches, BLAS thread control
``bench``     ``benchmark_paths`` and the ``tnconv bench paths`` command

Submodules are imported on use, so that ``import tnconv`` stays light.
"""
