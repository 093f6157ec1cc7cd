"""Pretrained networks the books start from: torchvision's VGG16 with its ImageNet weights, found on disk or
downloaded once, with Keras' layer names (``block5_conv1``) so that the books' choices can be stated as they are."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn
from torchvision.models import vgg

from lightning_zoo.core import ZooError

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's IMAGENET1K_V1 weights
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"


def _keras_vgg16_layers() -> dict[str, int]:
    """Keras' names of VGG16's layers -> their index in torchvision's ``vgg16().features`` (where each conv's ReLU is
    a module of its own)."""
    names, index = {}, 0
    for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)):
        for conv in range(1, convs + 1):
            names[f"block{block}_conv{conv}"] = index
            index += 2
        names[f"block{block}_pool"] = index
        index += 1
    return names


KERAS_VGG16_LAYERS = _keras_vgg16_layers()
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_weights_path(weights: str, file: str = VGG16_FILE, url: str = VGG16_URL, network: str = "VGG16") -> Path:
    """``"imagenet"``: torchvision's ``file`` in the torch hub cache (``$TORCH_HOME/hub/checkpoints``), downloaded there
    from ``url`` once if missing (checked against the hash its name carries); anything else: a path to a file of those
    weights."""
    if weights != "imagenet":
        path = Path(weights)
        if not path.is_file():
            raise ZooError(f"{path}: no such weights file (torchvision's {file}, from {url})")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / file
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Through a temporary file that is renamed only once the SHA-256 prefix in the name matches.
        torch.hub.download_url_to_file(url, str(path), hash_prefix=file.rsplit("-", 1)[1][:8], progress=False)
    except Exception as err:  # URLError, timeouts, HTTP errors, a hash mismatch (RuntimeError), a full disk
        raise ZooError(
            f"{network}'s ImageNet weights are not on disk and could not be downloaded ({type(err).__name__}: "
            f"{str(err)[:100]}): put {file} (from {url}) at {path}, or pass its path in place of 'imagenet' "
            "(--model.weights PATH for a VGG16 model, --data.weights PATH for the VGG16 features' DataModule, where "
            "null starts from random weights; the visualization command's "
            f"--{'vgg16' if network == 'VGG16' else 'inception-v3'} PATH)"
        ) from err
    return path


def vgg16_conv_base(weights: str | None = None) -> nn.Sequential:
    """VGG16's convolutional base (``include_top=False``: 13 convs and 5 poolings, 14,714,688 parameters), with
    torchvision's initialisation (without building the 124M-parameter classifier), or the ImageNet weights of
    ``weights`` (see :func:`imagenet_weights_path`)."""
    base = vgg.make_layers(vgg.cfgs["D"])
    for layer in base:
        if isinstance(layer, nn.Conv2d):  # torchvision's VGG initialisation of its convs
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    if weights is not None:
        base.load_state_dict(vgg16_imagenet_features(weights))
    return base


def vgg16_imagenet_features(weights: str) -> dict[str, Tensor]:
    """The conv base's part of the ImageNet weights, keyed as in ``vgg16().features``."""
    path = imagenet_weights_path(weights)
    state = read_weights(path, "VGG16")
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    if len(features) != 26:
        raise ZooError(f"{path} holds no VGG16 conv base ({len(features)} of its 26 tensors); replace it")
    return features


def vgg16(weights: str | None = None) -> nn.Module:
    """The whole VGG16 (Keras' ``include_top=True``: the conv base, then the 4096-4096-1000 classifier over
    ImageNet's classes; 138,357,544 parameters) for 224x224 images, with random weights or the ImageNet weights of
    ``weights`` (see :func:`imagenet_weights_path`). Needed where ImageNet's classes are (the book's Grad-CAM of an
    elephant); everything else takes the conv base alone."""
    net = vgg.vgg16(weights=None)
    if weights is not None:
        path = imagenet_weights_path(weights)
        state = read_weights(path, "VGG16")
        if not any(key.startswith("classifier.") for key in state):
            raise ZooError(
                f"{path} holds VGG16's conv base only, without the classifier that scores ImageNet's classes: "
                f"use torchvision's whole {VGG16_FILE} (from {VGG16_URL})"
            )
        try:
            net.load_state_dict(state)
        except RuntimeError as err:  # missing, unexpected or misshapen tensors
            raise ZooError(f"{path} holds no whole VGG16 ({str(err)[:200]}); replace it") from err
    return net


def imagenet_classes() -> list[str]:
    """ImageNet's 1,000 class names in the order of the networks' outputs (386: "African elephant"), as torchvision
    ships them (no download)."""
    return list(vgg.VGG16_Weights.IMAGENET1K_V1.meta["categories"])


def read_weights(path: Path, network: str) -> dict[str, Tensor]:
    """A weights file's state dict on the CPU; a truncated or foreign file ends with a :class:`ZooError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several kinds
        raise ZooError(f"{path} is not a readable {network} weights file ({type(err).__name__}); replace it") from err


def keras_vgg16_layer(name: str) -> int:
    """The index in ``vgg16().features`` of the layer Keras names ``name`` (e.g. ``block5_conv1`` -> 24)."""
    if name not in KERAS_VGG16_LAYERS:
        raise ValueError(f"VGG16 has no layer {name!r}; its layers are {', '.join(KERAS_VGG16_LAYERS)}")
    return KERAS_VGG16_LAYERS[name]


INCEPTION_V3_FILE = "inception_v3_google-0cc3c7bd.pth"  # torchvision's IMAGENET1K_V1 weights
INCEPTION_V3_URL = f"https://download.pytorch.org/models/{INCEPTION_V3_FILE}"
# Keras' names of InceptionV3's mixed blocks (the DeepDream example's mixed2-mixed5) -> torchvision's modules.
KERAS_INCEPTION_V3_LAYERS = {
    f"mixed{i}": name
    for i, name in enumerate(
        ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
         "Mixed_7b", "Mixed_7c")
    )
}  # fmt: skip


def inception_v3(weights: str | None = None) -> nn.Module:
    """torchvision's InceptionV3 on [-1, 1] inputs (as Keras' ``inception_v3.preprocess_input`` scales them, and as
    the Google weights were trained), with random weights or the ImageNet weights of ``weights`` (``"imagenet"`` or
    a file; see :func:`imagenet_weights_path`)."""
    from torchvision.models import inception_v3 as build

    net = build(weights=None, aux_logits=True, transform_input=False, init_weights=weights is None)
    if weights is not None:
        path = imagenet_weights_path(weights, INCEPTION_V3_FILE, INCEPTION_V3_URL, "InceptionV3")
        state = read_weights(path, "InceptionV3")
        try:
            net.load_state_dict(state)
        except RuntimeError as err:  # missing, unexpected or misshapen tensors
            raise ZooError(f"{path} holds no InceptionV3 weights ({str(err)[:200]}); replace it") from err
    return net


class ImageNetNormalize(nn.Module):
    """[0, 1] RGB images to the mean and spread the ImageNet weights were trained on."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
