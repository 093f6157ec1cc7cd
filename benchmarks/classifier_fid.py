"""Classifier-FID on MNIST: trains its feature network (configs/classification/feature_cnn_mnist.yaml) on real
MNIST, then measures the values that give a DCGAN's classifier-FID a scale: two disjoint sets of 10,000 real images
(the floor), an untrained DCGAN (the ceiling) and any DCGAN checkpoints given. The real set is the one the
ClassifierFID callback uses (the first 10,000 images of the seed-0 shuffled GAN training data); the generated sets
use its noise seed 0. Writes benchmarks/results/classifier_fid_mnist.json; the network's checkpoint stays in
--workdir for ClassifierFID (--trainer.callbacks.classifier_ckpt).

    python benchmarks/classifier_fid.py --data-dir ../shared/data --dcgan-ckpt logs/bench_dcgan/checkpoints/last.ckpt
    python benchmarks/classifier_fid.py --feature-ckpt logs/bench_classifier_fid/feature_cnn_mnist.ckpt ...  # reuse
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DEFAULT_DATA, ROOT, machine, write_result  # noqa: E402
from datamodules import MNISTDataModule  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.core import load_zoo_module  # noqa: E402
from lightning_zoo.gan import DCGAN  # noqa: E402
from lightning_zoo.metrics import add_generated_images, add_real_images, classifier_fid  # noqa: E402

SAMPLES = 10_000


def feature_network(data_dir: str, workdir: Path, epochs: int, checkpoint: Path | None) -> tuple[Path, dict]:
    """Trains the feature network (or takes ``checkpoint``) and tests it on the MNIST test set."""
    cli_args = [
        "--config", str(ROOT / "configs/classification/feature_cnn_mnist.yaml"),
        "--data.data_dir", data_dir,
        "--trainer.max_epochs", str(epochs),
        "--trainer.logger", "CSVLogger",
        "--trainer.logger.save_dir", str(workdir),
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    cli = ZooCLI(args=cli_args, run=False)
    if checkpoint is None:
        cli.trainer.fit(cli.model, cli.datamodule)
        checkpoint = workdir / "feature_cnn_mnist.ckpt"
        shutil.copy(cli.trainer.checkpoint_callback.last_model_path, checkpoint)
    [test] = cli.trainer.test(cli.model, cli.datamodule, ckpt_path=str(checkpoint), verbose=False)
    steps = torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"]
    return checkpoint, {
        "epochs": steps // len(cli.datamodule.train_dataloader()),
        "test_acc_pct": round(100 * test["test/acc"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=5, help="of the feature network")
    parser.add_argument("--feature-ckpt", type=Path, help="a trained feature network, instead of training one")
    parser.add_argument("--dcgan-ckpt", nargs="*", default=[])
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "bench_classifier_fid"))
    args = parser.parse_args()
    checkpoint, feature_report = feature_network(args.data_dir, Path(args.workdir), args.epochs, args.feature_ckpt)

    gan_data = MNISTDataModule(args.data_dir, train_split="train+test", padding=2, value_range=(-1.0, 1.0))
    gan_data.prepare_data()
    gan_data.setup("fit")
    images = torch.cat([x for x, _ in gan_data.train_dataloader()])  # the seed-0 order ClassifierFID sees
    fid = classifier_fid(checkpoint)
    add_real_images(fid, [images[:SAMPLES]], SAMPLES, torch.device("cpu"))

    def against(add_fake) -> float:
        fid.reset()  # keeps the real features
        add_fake()
        return round(float(fid.compute()), 3)

    def generated(gan: DCGAN) -> float:
        return against(lambda: add_generated_images(fid, gan, SAMPLES, 500, torch.Generator().manual_seed(0)))

    def epochs_trained(dcgan_checkpoint: str) -> int:  # from the step count: Lightning's "epoch" field varies
        optimizer_steps = torch.load(dcgan_checkpoint, map_location="cpu", weights_only=True)["global_step"]
        return optimizer_steps // 3 // len(gan_data.train_dataloader())  # 1 D + 2 G steps per batch

    torch.manual_seed(0)
    results = {
        "real_vs_real": against(lambda: fid.update(images[SAMPLES : 2 * SAMPLES], real=False)),
        "untrained_dcgan": generated(DCGAN()),
        "dcgan_checkpoints": {
            path: {"epochs": epochs_trained(path), "classifier_fid": generated(load_zoo_module(path))}
            for path in args.dcgan_ckpt
        },
    }
    write_result(
        "classifier_fid_mnist",
        {
            "what": f"classifier-FID, {SAMPLES} real vs {SAMPLES} other images, in the feature space (128-d) of "
            "FeatureCNN trained on MNIST padded to 32x32 in [-1, 1]; lower is better; comparable between runs of "
            "this project only",
            "feature_network": {
                "config": "configs/classification/feature_cnn_mnist.yaml",
                **feature_report,
                "checkpoint": str(checkpoint),
            },
            **results,
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
