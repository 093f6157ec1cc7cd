from lightning_zoo.classification.antirectifier import AntirectifierMLP, AntirectifierNetwork
from lightning_zoo.classification.base import Classifier
from lightning_zoo.classification.cifar10_convnet import Cifar10ConvNet, Cifar10ConvNetNetwork
from lightning_zoo.classification.feature_cnn import FeatureCNN, FeatureCNNNetwork
from lightning_zoo.classification.intro_convnet import IntroConvNet, IntroConvNetNetwork
from lightning_zoo.classification.mlp import MLP, MLPNetwork
from lightning_zoo.classification.small_convnet import SmallConvNet, SmallConvNetNetwork
from lightning_zoo.classification.transfer_cnn import TransferCNN, TransferCNNNetwork
from lightning_zoo.classification.vgg16_transfer import VGG16Transfer, VGG16TransferNetwork

__all__ = [
    "MLP",
    "AntirectifierMLP",
    "AntirectifierNetwork",
    "Cifar10ConvNet",
    "Cifar10ConvNetNetwork",
    "Classifier",
    "FeatureCNN",
    "FeatureCNNNetwork",
    "IntroConvNet",
    "IntroConvNetNetwork",
    "MLPNetwork",
    "SmallConvNet",
    "SmallConvNetNetwork",
    "TransferCNN",
    "TransferCNNNetwork",
    "VGG16Transfer",
    "VGG16TransferNetwork",
]
