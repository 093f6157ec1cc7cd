"""Makes the zoo's feature networks (the instruments of classifier-FID/KID and of the conditional-accuracy checks):
trains configs/classification/feature_cnn_<dataset>.yaml on the real data, tests it, and ships its weights in
lightning_zoo/feature_networks/<dataset>.pt with their checksum in index.json. Then measures the scale their
distances live on: two disjoint sets of 10,000 real training images (the floor) and an untrained generator (near
the ceiling). Writes benchmarks/results/feature_networks.json.

    python benchmarks/feature_networks.py --data-dir DIR [--datasets mnist fashion_mnist] [--epochs 5]

DIR holds MNIST/raw and FashionMNIST/raw (Fashion-MNIST: Debian's dataset-fashion-mnist, /usr/share/datasets).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_DATA, RESULTS, ROOT, machine, write_result  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.files import atomic_path  # noqa: E402
from lightning_zoo.gan import FashionGAN, VanillaGAN  # noqa: E402
from lightning_zoo.metrics import FEATURE_NETWORKS, add_generated_images, classifier_fid  # noqa: E402

SAMPLES = 10_000
UNTRAINED = {"mnist": VanillaGAN, "fashion_mnist": FashionGAN}  # the generator of each dataset's untrained scale


def train(dataset: str, data_dir: str, epochs: int, workdir: Path) -> tuple[dict, torch.Tensor]:
    """Trains and tests the network; ships it; returns its index entry and the training images (for the scale)."""
    cli = ZooCLI(
        args=[
            "--config",
            str(ROOT / f"configs/classification/feature_cnn_{dataset}.yaml"),
            "--data.data_dir",
            data_dir,
            "--trainer.max_epochs",
            str(epochs),
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
    [test] = cli.trainer.test(cli.model, cli.datamodule, verbose=False)  # the final weights
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
        "epochs": epochs,
        "test_acc_pct": round(100 * test["test/acc"], 2),
        "command": "python " + " ".join(["benchmarks/feature_networks.py", *sys.argv[1:]]),
    }
    return entry, cli.datamodule.splits["train"].tensors[0]


def scale(dataset: str, images: torch.Tensor) -> dict:
    """Classifier-FID of two disjoint real sets, and of an untrained generator against real images."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    first, second = images[order[:SAMPLES]], images[order[SAMPLES : 2 * SAMPLES]]
    fid = classifier_fid(dataset=dataset)
    fid.update(first, real=True)
    fid.update(second, real=False)
    real_vs_real = float(fid.compute())
    return {"real_vs_real": round(real_vs_real, 3), "untrained_generator": round(untrained_fid(dataset, first), 1)}


def untrained_fid(dataset: str, real: torch.Tensor) -> float:
    """An untrained generator of the dataset's GAN (its samples mapped to the real images' range) vs real images."""
    gan = UNTRAINED[dataset]()
    fid = classifier_fid(dataset=dataset, source_range=tuple(gan.output_range))
    low, high = gan.output_range
    fid.update(real.sub(-1.0).div(2.0).mul(high - low).add(low), real=True)  # real images in the GAN's range
    add_generated_images([fid], gan, SAMPLES, 500, torch.Generator().manual_seed(0))
    return float(fid.compute())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"], choices=sorted(UNTRAINED))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "bench_feature_networks"))
    args = parser.parse_args()
    torch.manual_seed(0)
    index_path = FEATURE_NETWORKS / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    previous = RESULTS / "feature_networks.json"
    report = {k: v for k, v in json.loads(previous.read_text()).items() if k in UNTRAINED} if previous.is_file() else {}
    for dataset in args.datasets:
        index[dataset], images = train(dataset, args.data_dir, args.epochs, Path(args.workdir))
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        report[dataset] = {**index[dataset], "classifier_fid": scale(dataset, images)}
    write_result("feature_networks", {"what": __doc__.split("\n\n")[0], **report, **machine()})


if __name__ == "__main__":
    main()
