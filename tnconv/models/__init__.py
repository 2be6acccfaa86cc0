"""Network models over mode trees.

Every model module is imported here, so that each model class is registered for loading
(:mod:`tnconv.models.io`) whenever any part of ``tnconv.models`` is used.
"""

from .base import ConvAC, ConvNet
from .builders import deep, shallow
from .dilated import DilatedConvNet
from .forward_range import ForwardRangeWarning
from .mixed import MixedConvNet
from .operators import PoolingOperator, pooling_operator
from .representation import GaussianDescriptors, NeuronDescriptors

__all__ = [
           "ConvAC",
           "ConvNet",
           "DilatedConvNet",
           "ForwardRangeWarning",
           "GaussianDescriptors",
           "MixedConvNet",
           "NeuronDescriptors",
           "PoolingOperator",
           "deep",
           "pooling_operator",
           "shallow",
]
