"""Network models over mode trees."""

from .convnet import ConvAC, ConvNet, deep, shallow
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
