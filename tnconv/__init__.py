"""tnconv: convolutional networks as tensor networks.

Build ConvACs and generalized ConvNets over any pooling geometry, compile them into tensor networks,
contract them fast, and bound or compute their entanglement across any input partition.
"""

from . import partitions
from ._core.options import TensorTooLargeError, option_context, options, set_options
from ._version import __version__

# The forward engines and the network executor install themselves as hooks (tnconv.models.protocol).
from .contract import engine as _contract_engine  # noqa: F401
from .contract import generic as _contract_generic  # noqa: F401
from .entanglement import (
    entanglement_entropy,
    geometric_measure,
    matricize,
    schmidt_rank,
    schmidt_values,
)
from .models import (
    ConvAC,
    ConvNet,
    ForwardRangeWarning,
    GaussianDescriptors,
    NeuronDescriptors,
    PoolingOperator,
    deep,
    pooling_operator,
    shallow,
)
from .models.io import load_model as load
from .models.io import save_model as save
from .network import TensorNetwork
from .trees import ModeTree, hybrid_trees

__all__ = [
    "ConvAC",
    "ConvNet",
    "ForwardRangeWarning",
    "GaussianDescriptors",
    "ModeTree",
    "NeuronDescriptors",
    "PoolingOperator",
    "TensorNetwork",
    "TensorTooLargeError",
    "__version__",
    "deep",
    "entanglement_entropy",
    "geometric_measure",
    "hybrid_trees",
    "load",
    "matricize",
    "option_context",
    "options",
    "partitions",
    "pooling_operator",
    "save",
    "schmidt_rank",
    "schmidt_values",
    "set_options",
    "shallow",
]

# Names provided by modules that import heavier dependencies are loaded on first use.
_LAZY = {
    "min_cut": "tnconv.mincut",
    "min_cuts": "tnconv.mincut",
    "MinCut": "tnconv.mincut",
    "CutEdge": "tnconv.mincut",
    "plot_partition": "tnconv.plot",
    "plot_partitions": "tnconv.plot",
    "benchmark_paths": "tnconv.contract.bench",
    "DilatedConvNet": "tnconv.models.dilated",
    "MixedConvNet": "tnconv.models.mixed",
    "tiling_rank_bounds": "tnconv.models.mixed",
    "linear": "tnconv.linear",
    "exact": "tnconv.exact",
    "generic_schmidt_rank": "tnconv.exact",
    "experiments": "tnconv.experiments",
    "sweep": "tnconv.parallel",
    "train": "tnconv.train",
    "datasets": "tnconv.datasets",
    "ConvACClassifier": "tnconv.train",
}
__all__ += list(_LAZY)


def __getattr__(name: str):  # PEP 562
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tnconv' has no attribute {name!r}")


def __dir__() -> list[str]:  # PEP 562: tab completion sees the lazily loaded names too
    return sorted(set(globals()) | set(_LAZY))
