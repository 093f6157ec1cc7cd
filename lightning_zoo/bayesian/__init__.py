from lightning_zoo.bayesian.base import VariationalClassifierBase, VariationalLinear, normal_kl, posterior_samples
from lightning_zoo.bayesian.softmax_regression import BayesianSoftmaxRegression

__all__ = [
    "BayesianSoftmaxRegression",
    "VariationalClassifierBase",
    "VariationalLinear",
    "normal_kl",
    "posterior_samples",
]
