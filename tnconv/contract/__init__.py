"""Contraction engines: structure-derived paths, level-batched execution, log-scale evaluation.

Modules
-------
``engine``    ``run_forward`` (the engines behind ``ConvNet.forward``) and ``coefficient_tensor``
``levels``    the level-batched numpy executor: tuning, the band schedule, ``live_bytes``, ``run_levels``
``level_order``, ``level_tasks``  the level order of a uniform tree; what one task of a band runs
``program``   paths compiled once into plain array calls (``compile_path``, ``run_program``), cached
``program_ops``, ``program_order``, ``program_lower``  one step's calls; depth-first order and peak;
              lowering steps to (batched) calls
``stacks``    packed per-level weights; ``dask_forward``: the lazy forward on dask arrays
``shims``     what a namespace lacks (``einsum``, ``tensordot``, ``transpose``, frexp/ldexp)
``logscale``  ``(sign, log|h|)`` evaluation with exact power-of-two rescaling
``paths``     ``structure_path`` (no search), ``path_cost`` (validation and flops/size accounting)
``generic``   ``contract_network`` through opt_einsum / cotengra optimizers or explicit paths
``backends``  numpy / cupy dispatch, device weight caches, BLAS thread control
``bench``     ``benchmark_paths`` and the ``tnconv bench paths`` command

Submodules are imported on use, so that ``import tnconv`` stays light.
"""
