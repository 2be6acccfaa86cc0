"""Network models over mode trees."""

from .base import ConvAC, ConvNet
from .builders import deep, shallow
from .operators import PoolingOperator, pooling_operator
from .representation import GaussianDescriptors, NeuronDescriptors

__all__ = [
           "ConvAC",
           "ConvNet",
           "GaussianDescriptors",
           "NeuronDescriptors",
           "PoolingOperator",
           "deep",
           "pooling_operator",
           "shallow",
]
