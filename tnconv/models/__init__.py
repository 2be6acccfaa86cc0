"""Network models over mode trees."""

from .convnet import ConvAC, ConvNet, deep, shallow
from .operators import PoolingOperator, pooling_operator
from .representation import GaussianDescriptors, NeuronDescriptors

__all__ = ["ConvAC", "ConvNet", "deep", "shallow", "PoolingOperator", "pooling_operator",
           "GaussianDescriptors", "NeuronDescriptors"]
