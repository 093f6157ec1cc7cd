"""Seeing inside a convnet ("Deep Learning with Python" 5.4 and the Keras DeepDream example): activation maps,
filter patterns by gradient ascent, Grad-CAM heatmaps and DeepDream, for any network of the zoo that takes [0, 1]
images, and for VGG16 and InceptionV3 with ImageNet weights. Each is a function, a callback that logs its images
during training, and a command that writes them for a checkpoint and an image:

    python -m lightning_zoo.visualization activations --checkpoint run/checkpoints/last.ckpt --image cat.jpg \
        --layers features.0 features.3 --out views/
    python -m lightning_zoo.visualization filters --vgg16 imagenet --layers block3_conv1 --size 150 --out views/
    python -m lightning_zoo.visualization gradcam --checkpoint ... --image cat.jpg --layers features.9 --out views/
    python -m lightning_zoo.visualization gradcam --vgg16 imagenet --image elephant.jpg --layers block5_conv3
    python -m lightning_zoo.visualization dream --checkpoint ... --image cat.jpg --layers features.6=1 features.9=2
    python -m lightning_zoo.visualization dream --inception-v3 imagenet --image photo.jpg --size 299 \
        --layers mixed2=0.2 mixed3=0.5 mixed4=2 mixed5=1.5      # the Keras example's layers and coefficients

Layers are named as the network's ``named_modules()`` names them (``features.3``); VGG16's and InceptionV3's also by
Keras' names (``block3_conv1``, ``mixed3``). Images are uint8 (3, H, W) tensors, written as PNG or logged through
``media.log_image``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_lightning.callbacks import Callback
from torch import Tensor, nn

from lightning_zoo.core import ZooError, evaluating
from lightning_zoo.media import log_image, save_png


class _Reached(Exception):
    """Raised by a hook to stop a forward pass once the deepest layer of interest has run."""


def find_layer(net: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; an unknown name ends with the convolutional layers the network has."""
    layers = dict(net.named_modules())
    if name not in layers:
        convs = [n for n, m in layers.items() if isinstance(m, nn.Conv2d)]
        raise ZooError(f"the network has no layer {name!r}; its convolutions are {', '.join(convs) or 'none'}")
    return layers[name]


@contextmanager
def recorded(net: nn.Module, names: Sequence[str], stop: bool = True) -> Iterator[dict[str, Tensor]]:
    """Inside the block, a forward pass of ``net`` records the outputs of the ``names`` layers in the yielded dict;
    with ``stop`` it ends (silently, see :func:`run_to`) once all of them have run, so the rest of the network need
    not accept the input's size."""
    outputs: dict[str, Tensor] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            outputs[name] = output
            if stop and len(outputs) == len(names):
                raise _Reached

        return record

    handles = [find_layer(net, name).register_forward_hook(hook(name)) for name in names]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def gradients_on() -> Iterator[None]:
    """Autograd on, also inside ``torch.inference_mode`` (where Lightning runs ``validate`` and ``test``, and so the
    callbacks' hooks), which ``torch.enable_grad`` alone does not undo."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def run_to(net: nn.Module, images: Tensor) -> Tensor | None:
    """``net(images)``, or None where a :func:`recorded` hook stopped it early."""
    try:
        return net(images)
    except _Reached:
        return None


# ---------------------------------------------------------------------------------------------- activation maps


def activation_maps(net: nn.Module, image: Tensor, layers: Sequence[str]) -> dict[str, Tensor]:
    """The (channels, h, w) outputs of ``layers`` for one (C, H, W) image, in evaluation mode."""
    with evaluating(net), recorded(net, layers) as outputs:
        run_to(net, image[None])
    return {name: outputs[name][0].detach() for name in layers}


def activation_grid(maps: Tensor, per_row: int = 16, colormap: str = "viridis") -> Tensor:
    """Every channel of (C, h, w) activations as one tile of a grid, as the book draws them: each channel standardised
    (x64 + 128, clipped to 0-255), then coloured. A uint8 (3, H, W) image."""
    maps = maps.float().cpu()
    flat = maps.flatten(1)
    std = flat.std(1, unbiased=False)[:, None, None]
    tiles = ((maps - flat.mean(1)[:, None, None]) / (std + 1e-5) * 64 + 128).clamp(0, 255) / 255
    channels, h, w = tiles.shape
    rows = math.ceil(channels / per_row)
    grid = torch.zeros(rows * (h + 1) - 1, min(channels, per_row) * (w + 1) - 1)
    for c in range(channels):
        r, col = divmod(c, per_row)
        grid[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = tiles[c]
    return coloured(grid, colormap)


def coloured(values: Tensor, colormap: str) -> Tensor:
    """A (H, W) map of [0, 1] values in a matplotlib colormap, as a uint8 (3, H, W) image."""
    rgba = matplotlib.colormaps[colormap](values.numpy())
    return torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).mul(255).round().to(torch.uint8)


# ----------------------------------------------------------------------------------------------- filter patterns


def filter_pattern(
    net: nn.Module,
    layer: str,
    index: int,
    input_shape: Sequence[int],
    steps: int = 40,
    step: float = 1 / 255,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, list[float]]:
    """The input that filter ``index`` of ``layer`` responds to most, by gradient ascent from grey with a little noise
    (the book: 40 steps of 1 on 0-255 pixels, that is 1/255 here, each along the gradient divided by its RMS).
    Returns the pattern as the book deprocesses it (uint8, (C, H, W)) and the mean activation before each step."""
    device = next(net.parameters()).device
    losses = []
    with evaluating(net), gradients_on(), recorded(net, [layer]) as outputs:
        start = (128 + 20 * torch.rand((1, *input_shape), generator=generator)) / 255
        x = start.to(device).requires_grad_(True)
        for _ in range(steps):
            run_to(net, x)
            activation = outputs[layer]
            if activation.dim() != 4 or not 0 <= index < activation.shape[1]:
                raise ZooError(f"{layer} gives {tuple(activation.shape[1:])}: it has no filter {index} to visualise")
            loss = activation[:, index].mean()
            (grad,) = torch.autograd.grad(loss, x)
            losses.append(float(loss.detach()))
            with torch.no_grad():
                x += step * grad / (grad.pow(2).mean().sqrt() + 1e-5)
    return deprocess(x.detach()[0]), losses


def deprocess(x: Tensor) -> Tensor:
    """The book's ``deprocess_image``: standardise, shrink to a spread of 0.1 around grey, clip; uint8."""
    x = (x - x.mean()) / (x.std(unbiased=False) + 1e-5) * 0.1 + 0.5
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


def filter_grid(patterns: Sequence[Tensor], per_row: int = 8, margin: int = 5) -> Tensor:
    """Filter patterns (C, h, w) as one uint8 (3, H, W) image with ``margin`` pixels between them (the book's 8x8)."""
    c, h, w = patterns[0].shape
    rows = math.ceil(len(patterns) / per_row)
    cols = min(len(patterns), per_row)
    grid = torch.zeros(3, rows * h + (rows - 1) * margin, cols * w + (cols - 1) * margin, dtype=torch.uint8)
    for i, pattern in enumerate(patterns):
        r, col = divmod(i, per_row)
        grid[:, r * (h + margin) : r * (h + margin) + h, col * (w + margin) : col * (w + margin) + w] = pattern.expand(
            3, h, w
        )
    return grid


# ------------------------------------------------------------------------------------------------------ Grad-CAM


def grad_cam(net: nn.Module, layer: str, image: Tensor, class_index: int | None = None) -> tuple[Tensor, int]:
    """Grad-CAM for one (C, H, W) image: the ``layer`` feature maps weighted by the mean gradient of the class score
    over each map, averaged over the maps, negative values cut, scaled to a maximum of 1. ``class_index`` None takes
    the predicted class; a one-logit (binary) network scores class 1 by its logit and class 0 by minus it.
    Returns the (h, w) heatmap and the class."""
    with evaluating(net), gradients_on(), recorded(net, [layer], stop=False) as outputs:
        logits = net(image[None].clone())  # a clone: an image made under inference mode cannot enter autograd
        features = outputs[layer]
        if logits.dim() != 2:
            raise ZooError(
                f"Grad-CAM needs a network that outputs class scores, this one gives {tuple(logits.shape[1:])} "
                "(a conv base alone has no classifier)"
            )
        if logits.shape[-1] == 1:
            predicted = int(logits[0, 0] > 0)
            chosen = predicted if class_index is None else class_index
            score = logits[0, 0] if chosen == 1 else -logits[0, 0]
        else:
            chosen = int(logits[0].argmax()) if class_index is None else class_index
            score = logits[0, chosen]
        (grads,) = torch.autograd.grad(score, features)
    weights = grads[0].mean((1, 2))
    heatmap = F.relu((features[0] * weights[:, None, None]).mean(0)).detach()
    peak = heatmap.max()
    return (heatmap / peak if peak > 0 else heatmap).cpu(), chosen


def overlay(image: Tensor, heatmap: Tensor, intensity: float = 0.4) -> Tensor:
    """The heatmap resized to the (C, H, W) [0, 1] image, in the jet colormap, times ``intensity``, added to the image
    (the book's ``heatmap * 0.4 + img``, clipped); uint8 (3, H, W)."""
    height, width = image.shape[1:]
    resized = F.interpolate(heatmap[None, None].float(), size=(height, width), mode="bilinear", align_corners=False)
    heat = coloured(resized[0, 0].clamp(0, 1), "jet").float() / 255
    return (
        (heat * intensity + image.cpu().float().expand(3, height, width)).clamp(0, 1).mul(255).round().to(torch.uint8)
    )


# ----------------------------------------------------------------------------------------------------- DeepDream


def dream_loss(outputs: Mapping[str, Tensor], coefficients: Mapping[str, float]) -> Tensor:
    """The Keras example's loss: for each layer, its coefficient times the mean square of its activations, borders
    of 2 pixels excluded."""
    loss = torch.zeros(())
    for name, coefficient in coefficients.items():
        activation = outputs[name]
        inner = activation[:, :, 2:-2, 2:-2] if min(activation.shape[2:]) > 4 else activation
        loss = loss + coefficient * inner.pow(2).sum() / activation.numel()
    return loss


def deep_dream(
    net: nn.Module,
    image: Tensor,
    layers: Mapping[str, float],
    octaves: int = 3,
    octave_scale: float = 1.4,
    iterations: int = 20,
    step: float = 0.005,
    max_loss: float = 10.0,
) -> tuple[Tensor, list[float]]:
    """DeepDream on a (C, H, W) [0, 1] image, as the Keras example: gradient ascent on :func:`dream_loss` (steps of
    ``step`` along the gradient divided by its mean absolute value; the example's 0.01 on [-1, 1] pixels is 0.005
    here) at ``octaves`` scales from the smallest up, re-injecting after each the detail that shrinking lost, and
    stopping an octave's ascent once the loss passes ``max_loss``. Returns the uint8 image and the losses."""
    names = list(layers)
    size = torch.tensor(image.shape[1:], dtype=torch.float64)
    shapes = [tuple(int(v) for v in (size / octave_scale**i).round()) for i in reversed(range(octaves))]
    losses: list[float] = []
    with evaluating(net), gradients_on(), recorded(net, names) as outputs:
        original = image[None].float().clone()  # see grad_cam
        dream = original.clone()
        shrunk_original = F.interpolate(original, size=shapes[0], mode="bilinear", align_corners=False)
        for octave, shape in enumerate(shapes, start=1):
            dream = F.interpolate(dream, size=shape, mode="bilinear", align_corners=False)
            for _ in range(iterations):
                x = dream.clone().requires_grad_(True)
                try:
                    run_to(net, x)
                except RuntimeError as err:  # an octave too small for the layers up to the one dreamt on
                    if not any(size in str(err) for size in ("Kernel size", "Output size is too small")):
                        raise
                    raise ZooError(
                        f"DeepDream: octave {octave} of {octaves} shrinks the image to {shape[0]}x{shape[1]}, which "
                        f"the network cannot read up to layer(s) {', '.join(names)} ({str(err).splitlines()[0]}): "
                        "use fewer octaves or a smaller octave_scale"
                    ) from err
                loss = dream_loss(outputs, layers)
                if float(loss.detach()) > max_loss:
                    break
                (grad,) = torch.autograd.grad(loss, x)
                losses.append(float(loss.detach()))
                dream = dream + step * grad / grad.abs().mean().clamp_min(1e-7)
            upscaled = F.interpolate(shrunk_original, size=shape, mode="bilinear", align_corners=False)
            same_size = F.interpolate(original, size=shape, mode="bilinear", align_corners=False)
            dream = dream + (same_size - upscaled)  # the detail lost by shrinking
            shrunk_original = same_size
    return dream[0].clamp(0, 1).mul(255).round().to(torch.uint8), losses


# ----------------------------------------------------------------------------------------------------- callbacks


class NetworkView(Callback):
    """Base of the callbacks that log a view inside the model's network after validation epochs, for one validation
    image (the first element of a validation batch, e.g. a pair's first face).

    Args:
        network: The module's attribute holding the network that takes images (classifiers: ``net``).
        image_index: Which image of the first validation batch.
        every_n_epochs: Log after every n-th epoch.
    """

    key = "view"

    def __init__(self, network: str = "net", image_index: int = 0, every_n_epochs: int = 1) -> None:
        self.network, self.image_index, self.every_n_epochs = network, image_index, every_n_epochs

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        net = getattr(pl_module, self.network, None)
        if not isinstance(net, nn.Module):
            raise ZooError(f"{type(pl_module).__name__} has no network {self.network!r}: set the callback's network")
        batch = next(iter(trainer.datamodule.val_dataloader()))
        image = batch[0][self.image_index].to(pl_module.device)
        for key, picture in self.views(net, image).items():
            log_image(trainer, f"{self.key}/{key}", picture)

    def views(self, net: nn.Module, image: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError


class ActivationMaps(NetworkView):
    """Logs the activation maps of ``layers`` for a validation image, one grid per layer."""

    key = "activations"

    def __init__(self, layers: Sequence[str], per_row: int = 16, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layers, self.per_row = list(layers), per_row

    def views(self, net: nn.Module, image: Tensor) -> dict[str, Tensor]:
        maps = activation_maps(net, image, self.layers)
        return {name: activation_grid(m, self.per_row) for name, m in maps.items()}


class FilterPatterns(NetworkView):
    """Logs the patterns the first ``filters`` filters of ``layer`` respond to most (gradient ascent on the input)."""

    key = "filters"

    def __init__(self, layer: str, filters: int = 16, steps: int = 40, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer, self.filters, self.steps = layer, filters, steps

    def views(self, net: nn.Module, image: Tensor) -> dict[str, Tensor]:
        generator = torch.Generator().manual_seed(0)
        patterns = [
            filter_pattern(net, self.layer, i, image.shape, self.steps, generator=generator)[0]
            for i in range(self.filters)
        ]
        return {self.layer: filter_grid(patterns)}


class GradCAM(NetworkView):
    """Logs the Grad-CAM heatmap of ``layer`` over a validation image, for the predicted class or ``class_index``."""

    key = "grad_cam"

    def __init__(self, layer: str, class_index: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layer, self.class_index = layer, class_index

    def views(self, net: nn.Module, image: Tensor) -> dict[str, Tensor]:
        heatmap, _ = grad_cam(net, self.layer, image, self.class_index)
        return {self.layer: overlay(image, heatmap)}


class DeepDream(NetworkView):
    """Logs DeepDream of a validation image on ``layers`` (layer name -> coefficient)."""

    key = "deep_dream"

    def __init__(self, layers: dict[str, float], octaves: int = 3, iterations: int = 20, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layers, self.octaves, self.iterations = dict(layers), octaves, iterations

    def views(self, net: nn.Module, image: Tensor) -> dict[str, Tensor]:
        dreamt, _ = deep_dream(net, image, self.layers, self.octaves, iterations=self.iterations)
        return {"image": dreamt}


# ------------------------------------------------------------------------------------------------------- command


def network_of(args: argparse.Namespace) -> tuple[nn.Module, tuple[int, ...] | None]:
    """The network the command looks into and the input shape it was trained on (None for the ImageNet networks,
    which take any size)."""
    from lightning_zoo.pretrained import inception_v3, vgg16, vgg16_conv_base

    if args.vgg16 is not None:  # Grad-CAM needs the class scores of the whole network; the rest, the conv base
        return ImageNetInput(vgg16(args.vgg16) if args.view == "gradcam" else vgg16_conv_base(args.vgg16)), None
    if args.inception_v3 is not None:
        return InceptionInput(inception_v3(args.inception_v3)), None
    from lightning_zoo.core import load_zoo_module

    module = load_zoo_module(args.checkpoint)
    net = getattr(module, args.network, None)
    if not isinstance(net, nn.Module):
        raise ZooError(f"the checkpoint's {type(module).__name__} has no network {args.network!r}: pass --network")
    shape = module.hparams.get("input_shape")
    return net, tuple(shape) if shape is not None else None


class ImageNetInput(nn.Module):
    """VGG16 (its conv base, or the whole network) on [0, 1] RGB images (ImageNet-normalised inside)."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        from lightning_zoo.pretrained import ImageNetNormalize

        self.normalize, self.base = ImageNetNormalize(), base

    def forward(self, x: Tensor) -> Tensor:
        return self.base(self.normalize(x))


class InceptionInput(nn.Module):
    """InceptionV3 on [0, 1] RGB images (scaled to its [-1, 1] inside)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x * 2 - 1)


def imagenet_top(net: nn.Module, image: Tensor, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most probable ImageNet classes of a (3, H, W) image, as (name, probability)."""
    from lightning_zoo.pretrained import imagenet_classes

    with evaluating(net), torch.no_grad():
        probabilities = net(image[None]).softmax(-1)[0]
    top = probabilities.topk(k)
    names = imagenet_classes()
    return [(names[i], float(p)) for p, i in zip(top.values, top.indices, strict=True)]


def keras_name(net: nn.Module, name: str) -> str:
    """A layer's Keras name (VGG16's ``block3_conv1``, InceptionV3's ``mixed3``) as the module path
    :func:`find_layer` knows (``base.10``, ``net.Mixed_6a``); other names as they are."""
    from lightning_zoo.pretrained import KERAS_INCEPTION_V3_LAYERS, KERAS_VGG16_LAYERS

    if isinstance(net, ImageNetInput) and name in KERAS_VGG16_LAYERS:
        features = "base.features" if hasattr(net.base, "classifier") else "base"
        return f"{features}.{KERAS_VGG16_LAYERS[name]}"
    if isinstance(net, InceptionInput) and name in KERAS_INCEPTION_V3_LAYERS:
        return f"net.{KERAS_INCEPTION_V3_LAYERS[name]}"
    return name


def load_image(path: Path, channels: int, size: tuple[int, int]) -> Tensor:
    """An image file as (channels, H, W) in [0, 1], resized to ``size`` (H, W) as Keras' ``load_img(target_size)``
    resizes (nearest neighbour)."""
    if not path.is_file():
        raise ZooError(f"{path}: no such image")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize(size[::-1], Image.Resampling.NEAREST)
    except OSError as err:
        raise ZooError(f"{path} is not a readable image ({err})") from err
    pixels = torch.from_numpy(np.array(image)).float().div(255)
    return pixels.reshape(size[0], size[1], -1).permute(2, 0, 1)


def main(argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m lightning_zoo.visualization", description=__doc__.split("\n\n")[0])
    parser.add_argument("view", choices=("activations", "filters", "gradcam", "dream"))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a checkpoint of a zoo model that takes images")
    source.add_argument(
        "--vgg16",
        help="VGG16 ('imagenet': torchvision's weights; or a weights file): the conv base, "
        "or for gradcam the whole network with its ImageNet classifier (at 224x224)",
    )
    source.add_argument("--inception-v3", help="InceptionV3: 'imagenet' (torchvision's weights) or a weights file")
    parser.add_argument("--network", default="net", help="the model's attribute holding the network (default net)")
    parser.add_argument("--image", type=Path, help="the input image (all views but filters)")
    parser.add_argument("--layers", nargs="+", required=True, help="layer names (dream: name=coefficient)")
    parser.add_argument("--size", type=int, help="image side for the ImageNet networks (default 150; 224 for gradcam)")
    parser.add_argument("--octaves", type=int, default=3, help="DeepDream's scales (default 3)")
    parser.add_argument("--iterations", type=int, default=20, help="DeepDream's steps per scale (default 20)")
    parser.add_argument("--filters", type=int, default=16, help="filters per layer (filters)")
    parser.add_argument("--class-index", type=int, help="Grad-CAM's class (default: the predicted one)")
    parser.add_argument("--out", type=Path, default=Path("views"))
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except ZooError as err:
        parser.exit(2, f"error: {err}\n")


def run_command(args: argparse.Namespace) -> list[Path]:
    net, input_shape = network_of(args)
    if input_shape is None:  # the whole VGG16 (Grad-CAM's) takes 224x224 as in Keras; the conv bases, the book's 150
        side = args.size or (224 if args.view == "gradcam" and args.vgg16 is not None else 150)
        input_shape = (3, side, side)
    coefficients, named = {}, {}  # module path -> DeepDream coefficient, and -> the name given (for file names)
    for spec in args.layers:
        given, _, coefficient = spec.partition("=")
        path = keras_name(net, given)
        find_layer(net, path)
        coefficients[path], named[path] = float(coefficient or 1.0), given
    layers = list(coefficients)
    if args.view != "filters" and args.image is None:
        raise ZooError(f"{args.view} needs --image")
    image = load_image(args.image, input_shape[0], tuple(input_shape[1:])) if args.image else None
    written: list[Path] = []

    def write(layer: str, picture: Tensor, suffix: str = "") -> None:
        name = named.get(layer, layer).replace(".", "_")
        written.append(save_png(picture, args.out / f"{args.view}_{name}{suffix}.png"))

    if args.view == "activations":
        for layer, maps in activation_maps(net, image, layers).items():
            write(layer, activation_grid(maps))
    elif args.view == "filters":
        generator = torch.Generator().manual_seed(0)
        for layer in layers:
            patterns = [filter_pattern(net, layer, i, input_shape, generator=generator)[0] for i in range(args.filters)]
            write(layer, filter_grid(patterns))
    elif args.view == "gradcam":
        if isinstance(net, ImageNetInput):  # the book prints decode_predictions' top 3 before its heatmap
            print(", ".join(f"{name} {p:.3f}" for name, p in imagenet_top(net, image)))
        for layer in layers:
            heatmap, chosen = grad_cam(net, layer, image, args.class_index)
            write(layer, overlay(image, heatmap), f"_class{chosen}")
    else:
        write("image", deep_dream(net, image, coefficients, args.octaves, iterations=args.iterations)[0])
    print("\n".join(str(p) for p in written))
    return written


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
