from lightning_zoo.classification.base import Classifier
from lightning_zoo.classification.feature_cnn import FeatureCNN, FeatureCNNNetwork
from lightning_zoo.classification.mlp import MLP, MLPNetwork

__all__ = ["MLP", "Classifier", "FeatureCNN", "FeatureCNNNetwork", "MLPNetwork"]
