"""Makes the zoo's feature networks (the instruments of classifier-FID/KID and of the conditional-accuracy checks):
trains configs/classification/feature_cnn_<dataset>.yaml on the real data, tests it, and ships its weights in
lightning_zoo/feature_networks/<dataset>.pt with their checksum in index.json. Then measures the scale their
distances live on: two disjoint sets of 10,000 real training images (the floor) and an untrained generator (near
the ceiling). Writes benchmarks/results/feature_networks.json.

    python benchmarks/feature_networks.py --data-dir DIR [--datasets mnist fashion_mnist pokemon] [--epochs N]

DIR holds MNIST/raw and FashionMNIST/raw (Fashion-MNIST: Debian's dataset-fashion-mnist, /usr/share/datasets) and
pokemon/images (../shared/data). The Pokemon folder has no classes: its network learns to tell image rotations apart
(``RotationFolderDataModule``) and is evaluated on its held-out validation images (the folder has no test split).
--epochs defaults to each config's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, ROOT, add_data_dir, machine, write_result  # noqa: E402
from datamodules import ImageFolderDataModule  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.files import atomic_path  # noqa: E402
from lightning_zoo.gan import FashionGAN, ImageDCGAN, VanillaGAN  # noqa: E402
from lightning_zoo.metrics import (  # noqa: E402
    FEATURE_NETWORKS,
    add_generated_images,
    classifier_fid,
    feature_network_index,
)

SAMPLES = 10_000
UNTRAINED = {"mnist": VanillaGAN, "fashion_mnist": FashionGAN, "pokemon": ImageDCGAN}  # the untrained scale's G
FOLDERS = {"pokemon": "pokemon/images"}  # image folders without classes: their networks learn rotations


def train(dataset: str, data_dir: str, epochs: int | None, workdir: Path) -> tuple[dict, torch.Tensor]:
    """Trains the network and evaluates it on held-out images; ships it; returns its index entry and the real
    images of the scale (the training images; a folder's every image, unturned)."""
    data = ["--data.folder", f"{data_dir}/{FOLDERS[dataset]}"] if dataset in FOLDERS else ["--data.data_dir", data_dir]
    cli = ZooCLI(
        args=[
            "--config",
            str(ROOT / f"configs/classification/feature_cnn_{dataset}.yaml"),
            *data,
            *(["--trainer.max_epochs", str(epochs)] if epochs else []),
            "--trainer.logger",
            "CSVLogger",
            "--trainer.logger.save_dir",
            str(workdir / dataset),
            "--trainer.enable_progress_bar",
            "false",
        ],  # fmt: skip
        run=False,
    )
    cli.trainer.fit(cli.model, cli.datamodule)
    # The final weights, on the test split; a folder has none, only the validation images held out of training.
    held_out = "val" if dataset in FOLDERS else "test"
    evaluate = cli.trainer.validate if held_out == "val" else cli.trainer.test
    [metrics] = evaluate(cli.model, cli.datamodule, verbose=False)
    path = FEATURE_NETWORKS / f"{dataset}.pt"
    shipped = {
        "zoo_model": cli.model.model_name,  # a minimal zoo checkpoint: load_zoo_module reads it
        "hyper_parameters": dict(cli.model.hparams),
        "state_dict": {k: v.detach().cpu().clone() for k, v in cli.model.state_dict().items()},
    }
    with atomic_path(path) as partial:
        torch.save(shipped, partial)
    entry = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "value_range": list(cli.datamodule.value_range),
        "input_shape": list(cli.model.hparams.input_shape),
        "task": "rotation" if dataset in FOLDERS else "classes",
        "epochs": cli.trainer.current_epoch,
        f"{held_out}_acc_pct": round(100 * metrics[f"{held_out}/acc"], 2),
        f"{held_out}_images": len(cli.datamodule.splits[held_out]),
        "command": "python " + " ".join(["benchmarks/feature_networks.py", *sys.argv[1:]]),
    }
    if dataset in FOLDERS:
        entry["folder"] = FOLDERS[dataset]  # the images it knows: classifier-FID warns under another --data.folder
        return entry, folder_images(f"{data_dir}/{FOLDERS[dataset]}", cli.datamodule.image_size)
    return entry, cli.datamodule.splits["train"].tensors[0]


def folder_images(folder: str, size: int) -> torch.Tensor:
    """Every image of a folder as the GANs' configs serve them (crop to ``size``, [-1, 1]), unflipped."""
    images = ImageFolderDataModule(folder, image_size=size, labelled=False, value_range=(-1.0, 1.0))
    images.setup("fit")
    return torch.stack([image for image, _ in images.unaugmented("train")])


def scale(dataset: str, images: torch.Tensor) -> dict:
    """Classifier-FID of two disjoint real sets (of 10,000 images, or half a smaller set's), and of an untrained
    generator against the first of them."""
    half = min(SAMPLES, len(images) // 2)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    first, second = images[order[:half]], images[order[half : 2 * half]]
    fid = classifier_fid(dataset=dataset)
    fid.update(first, real=True)
    fid.update(second, real=False)
    real_vs_real = float(fid.compute())
    return {
        "images_per_set": half,
        "real_vs_real": round(real_vs_real, 3),
        "untrained_generator": round(untrained_fid(dataset, first), 1),
    }


def untrained_fid(dataset: str, real: torch.Tensor) -> float:
    """An untrained generator of the dataset's GAN (its samples mapped to the real images' range) vs real images."""
    gan = UNTRAINED[dataset]()
    fid = classifier_fid(dataset=dataset, source_range=tuple(gan.output_range))
    low, high = gan.output_range
    fid.update(real.sub(-1.0).div(2.0).mul(high - low).add(low), real=True)  # real images in the GAN's range
    add_generated_images([fid], gan, len(real), 500, torch.Generator().manual_seed(0))
    return float(fid.compute())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"], choices=sorted(UNTRAINED))
    parser.add_argument("--epochs", type=int, help="default: the config's")
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "bench_feature_networks"))
    args = parser.parse_args()
    torch.manual_seed(0)
    index, index_path = feature_network_index(), FEATURE_NETWORKS / "index.json"
    previous = RESULTS / "feature_networks.json"
    report = {k: v for k, v in json.loads(previous.read_text()).items() if k in UNTRAINED} if previous.is_file() else {}
    for dataset in args.datasets:
        index[dataset], images = train(dataset, args.data_dir, args.epochs, Path(args.workdir))
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        report[dataset] = {**index[dataset], "classifier_fid": scale(dataset, images)}
    write_result("feature_networks", {"what": __doc__.split("\n\n")[0], **report, **machine()})


if __name__ == "__main__":
    main()
