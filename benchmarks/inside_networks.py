"""The gallery of "Deep Learning with Python" 5.4 on the zoo's own trained convnets: the activation maps of the
cats-vs-dogs convnet for the book's cat.1700.jpg, the patterns its filters respond to, Grad-CAM for the class it
predicts and for the other, DeepDream on the same photo, and Grad-CAM of the MNIST intro convnet on test digits.
(The book's VGG16 examples need ImageNet weights, which this machine cannot download.)

Writes benchmarks/results/inside_networks/*.png and benchmarks/results/inside_networks.json. The checkpoints are the
final weights of the classifier benchmarks' runs:

    python benchmarks/classifier.py --config configs/classification/small_convnet_cats_and_dogs.yaml \\
        --data-dir ../shared/data --seeds 0 --data.num_workers 1    # logs/bench_small_convnet_cats_and_dogs/seed_0.ckpt
    python benchmarks/classifier.py --config configs/classification/intro_convnet_mnist.yaml --data-dir ../shared/data

    python benchmarks/inside_networks.py --data-dir ../shared/data \\
        --cats-and-dogs logs/bench_small_convnet_cats_and_dogs/seed_0.ckpt \\
        --mnist logs/bench_intro_convnet_mnist/seed_0.ckpt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, add_data_dir, machine, write_result  # noqa: E402
from datamodules import MNISTDataModule  # noqa: E402
from lightning_zoo.core import load_zoo_module  # noqa: E402
from lightning_zoo.media import save_png  # noqa: E402
from lightning_zoo.visualization import (  # noqa: E402
    activation_grid,
    activation_maps,
    deep_dream,
    filter_grid,
    filter_pattern,
    grad_cam,
    load_image,
    overlay,
)

OUT = RESULTS / "inside_networks"
# A Keras Conv2D's output is after its ReLU: here the ReLU modules after the small convnet's four convs.
CONVS = ("features.1", "features.4", "features.7", "features.10")
POOLS = ("features.2", "features.5", "features.8", "features.11")


def cats_and_dogs(checkpoint: Path, data_dir: Path, filters: int) -> dict:
    model = load_zoo_module(checkpoint)
    net, shape = model.net, tuple(model.hparams.input_shape)
    image = load_image(data_dir / "cats_and_dogs_small" / "test" / "cats" / "cat.1700.jpg", shape[0], shape[1:])
    save_png(image.mul(255).round().byte(), OUT / "cat_1700.png")
    with torch.no_grad():
        dog_probability = float(torch.sigmoid(net(image[None]))[0, 0])
    record: dict = {"checkpoint": str(checkpoint), "p_dog_cat_1700": round(dog_probability, 4), "filter_losses": {}}
    layers = [layer for pair in zip(CONVS, POOLS, strict=True) for layer in pair]  # the book's first 8 layers
    for name, maps in activation_maps(net, image, layers).items():
        save_png(activation_grid(maps), OUT / f"cat_activations_{name.replace('.', '_')}.png")
    generator = torch.Generator().manual_seed(0)
    for layer in CONVS:
        started, patterns, gains = time.perf_counter(), [], []
        for index in range(filters):
            # 64x64 as the book's grids of patterns (its single pattern is 150x150); the convs take any size.
            pattern, losses = filter_pattern(net, layer, index, (shape[0], 64, 64), generator=generator)
            patterns.append(pattern)
            gains.append((losses[0], losses[-1]))
        save_png(filter_grid(patterns), OUT / f"filters_{layer.replace('.', '_')}.png")
        record["filter_losses"][layer] = {
            "first_step_mean": round(sum(g[0] for g in gains) / filters, 4),
            "last_step_mean": round(sum(g[1] for g in gains) / filters, 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
    for class_index, label in ((0, "cat"), (1, "dog")):
        heatmap, _ = grad_cam(net, CONVS[-1], image, class_index)
        save_png(overlay(image, heatmap), OUT / f"cat_grad_cam_{label}.png")
    dreamt, losses = deep_dream(net, image, {CONVS[2]: 1.0, CONVS[3]: 2.0})
    save_png(dreamt, OUT / "cat_deep_dream.png")
    record["dream_loss_first_last"] = [round(losses[0], 4), round(losses[-1], 4)]
    return record


def mnist(checkpoint: Path, data_dir: Path) -> dict:
    model = load_zoo_module(checkpoint)
    data = MNISTDataModule(data_dir=str(data_dir), download=False)
    data.setup("test")
    digits, labels = data.splits["test"].tensors
    pictures, predicted = [], []
    for image in digits[:8]:
        heatmap, chosen = grad_cam(model.net, "7", image)  # the last conv layer's ReLU
        pictures.append(overlay(image, heatmap))
        predicted.append(chosen)
    save_png(filter_grid(pictures, per_row=8, margin=2), OUT / "mnist_grad_cam.png")
    return {"checkpoint": str(checkpoint), "labels": labels[:8].tolist(), "predicted": predicted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser, Path)
    parser.add_argument("--cats-and-dogs", type=Path, required=True, help="a SmallConvNet checkpoint (150x150)")
    parser.add_argument("--mnist", type=Path, required=True, help="an IntroConvNet checkpoint")
    parser.add_argument("--filters", type=int, default=16, help="filter patterns per conv layer")
    args = parser.parse_args()
    result = {
        "cats_and_dogs": cats_and_dogs(args.cats_and_dogs, args.data_dir, args.filters),
        "mnist": mnist(args.mnist, args.data_dir),
        "images": sorted(str(p.relative_to(RESULTS)) for p in OUT.glob("*.png")),
        **machine(),
    }
    write_result("inside_networks", result)


if __name__ == "__main__":
    main()
