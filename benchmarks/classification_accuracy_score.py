"""Classification accuracy score of a conditional GAN: 60,000 labelled samples of it (6,000 per class) train the
zoo's small CNN (configs/classification/feature_cnn_mnist.yaml: the same network, data layout and 5 epochs as the
shipped MNIST feature network), which is then tested on the 10,000 real MNIST test images. Next to it, the same
CNN trained on the real training images (the shipped network's recorded test accuracy). The articles' "GANs for
data augmentation" idea, made measurable. Writes benchmarks/results/cas_<card>.json.

    python benchmarks/classification_accuracy_score.py --gan-ckpt logs/bench_cgan_mnist/checkpoints/last.ckpt \\
        --data-dir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, ROOT, add_data_dir, machine, write_result  # noqa: E402
from datamodules import MNISTDataModule, TensorBatchDataset  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.core import evaluating, load_zoo_module, read_checkpoint  # noqa: E402
from lightning_zoo.metrics import to_layout  # noqa: E402


def generated_set(gan_ckpt: Path, per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` samples of each class, in the feature network's layout (1x28x28, [-1, 1])."""
    gan = load_zoo_module(gan_ckpt)
    generator = torch.Generator().manual_seed(seed)
    images, labels = [], []
    with evaluating(gan.generator):
        for label in range(gan.hparams.num_classes):
            for start in range(0, per_class, 500):
                latent = gan.sample_latent(min(500, per_class - start), generator)
                latent["labels"] = torch.full_like(latent["labels"], label)
                images.append(to_layout(gan.generate(latent), (1, 28, 28), tuple(gan.output_range), (-1.0, 1.0)))
                labels.append(latent["labels"])
    return torch.cat(images), torch.cat(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gan-ckpt", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--per-class", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", help="results file name (default: cas_<the GAN's model name>)")
    args = parser.parse_args()
    images, labels = generated_set(args.gan_ckpt, args.per_class, args.seed)
    cli = ZooCLI(
        args=[
            "--config",
            str(ROOT / "configs/classification/feature_cnn_mnist.yaml"),
            "--data.data_dir",
            args.data_dir,
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.enable_checkpointing",
            "false",
            "--seed_everything",
            str(args.seed),
        ],  # fmt: skip
        run=False,
    )
    data: MNISTDataModule = cli.datamodule
    data.prepare_data()
    data.setup("fit")
    data.splits["train"] = TensorBatchDataset(images, labels)  # the generated set in place of the real one
    cli.trainer.fit(cli.model, data)
    [test] = cli.trainer.test(cli.model, data, verbose=False)  # the real test images
    real = json.loads((RESULTS / "feature_networks.json").read_text())["mnist"]
    checkpoint = read_checkpoint(args.gan_ckpt)
    write_result(
        args.name or f"cas_{checkpoint['zoo_model'].lower()}",
        {
            "what": __doc__.split("\n\n")[0],
            "gan": {
                "checkpoint": str(args.gan_ckpt),
                "model": checkpoint["zoo_model"],
                "epochs_trained": checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"],
            },
            "generated_samples": len(images),
            "classifier": "configs/classification/feature_cnn_mnist.yaml",
            "epochs": cli.trainer.current_epoch,
            "cas_test_acc_pct": round(100 * test["test/acc"], 2),
            "real_data_test_acc_pct": real["test_acc_pct"],
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
