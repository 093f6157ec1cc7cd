from lightning_zoo.classification.base import Classifier
from lightning_zoo.classification.feature_cnn import FeatureCNN
from lightning_zoo.classification.mlp import MLP

__all__ = ["MLP", "Classifier", "FeatureCNN"]
