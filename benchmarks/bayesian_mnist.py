"""The Bayesian softmax regression of Hands-On E9 on real MNIST, over seeds: each of 30 posterior samples' test
accuracy (the book lists its 30), then how uncertain the posterior is off its data: the 30 predictions for the first
test digit, for a Fashion-MNIST image and for a rendered letter "A" (notMNIST's letters are not available offline),
as histograms, and over whole sets the AUROC of telling the MNIST test set from Fashion-MNIST's by the predictive
entropy and by the samples' agreement.

Writes benchmarks/results/<config name>.json and <config name>_predictions.png.

    python benchmarks/bayesian_mnist.py --config configs/bayesian/bayesian_softmax_mnist.yaml \\
        --data-dir ../shared/data --fashion-dir /usr/share/datasets/fashion-mnist --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from torchmetrics.functional.classification import binary_auroc  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, machine, seeded_cli, seeded_run_options, write_result  # noqa: E402
from datamodules import FashionMNISTDataModule  # noqa: E402
from lightning_zoo.bayesian.base import predictive_summary  # noqa: E402


def letter_image(letter: str = "A") -> torch.Tensor:
    """A bold white letter on black filling most of a 28x28 image in [0, 1], as notMNIST's glyphs are drawn (rendered
    with PIL's built-in font)."""
    image = Image.new("L", (28, 28), 0)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=26)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font, stroke_width=2)
    position = ((28 - right - left) / 2, (28 - bottom - top) / 2)
    draw.text(position, letter, fill=255, font=font, stroke_width=2, stroke_fill=255)
    return torch.from_numpy(np.array(image)).float().div(255)[None]


def summaries(model, images: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """The predictive summary of ``images`` under the model's test samples (the same 30 for every batch)."""
    parts = []
    with torch.no_grad():
        for batch in images.split(1000):
            parts.append(predictive_summary(model.sampled_probs(batch, torch.Generator().manual_seed(seed))))
    return {k: torch.cat([p[k] for p in parts], dim=1 if k == "votes" else 0) for k in parts[0]}


def run(config: Path, data_dir: str, fashion: Path, seed: int, workdir: Path, cli_args: list[str]) -> dict:
    cli = seeded_cli(config, data_dir, seed, workdir, cli_args)
    started = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = time.perf_counter() - started
    [tested] = cli.trainer.test(cli.model, cli.datamodule, verbose=False)
    accuracies = cli.model.last_sample_accuracies.tolist()
    model = cli.model.eval()
    test_seed = model.hparams.test_seed
    mnist = cli.datamodule.splits["test"].tensors[0]
    fashion_dm = FashionMNISTDataModule(data_dir=str(fashion), download=False)
    fashion_dm.setup("test")
    clothes = fashion_dm.splits["test"].tensors[0]
    inside, outside = summaries(model, mnist, test_seed), summaries(model, clothes, test_seed)
    is_ood = torch.cat([torch.zeros(len(mnist)), torch.ones(len(clothes))]).long()
    inputs = {
        "MNIST test[0] (a 7)": mnist[:1],
        "Fashion-MNIST test[0] (an ankle boot)": clothes[:1],
        'a rendered letter "A"': letter_image()[None],
    }
    examples = {name: summaries(model, x, test_seed)["votes"][:, 0] for name, x in inputs.items()}
    agreements = {"MNIST test": inside["agreement"], "Fashion-MNIST test": outside["agreement"]}
    return {
        "seed": seed,
        "seconds_to_train": round(seconds, 1),
        "sample_acc_pct": [round(100 * a, 2) for a in accuracies],
        "acc_mean_pct": round(100 * tested["test/acc_mean"], 2),
        "acc_min_pct": round(100 * tested["test/acc_min"], 2),
        "acc_max_pct": round(100 * tested["test/acc_max"], 2),
        "acc_posterior_mean_pct": round(100 * tested["test/acc_posterior_mean"], 2),
        "acc_predictive_pct": round(100 * tested["test/acc_predictive"], 2),
        "mean_entropy_mnist": round(float(inside["entropy"].mean()), 4),
        "mean_entropy_fashion": round(float(outside["entropy"].mean()), 4),
        "mean_agreement_mnist": round(float(inside["agreement"].mean()), 4),
        "mean_agreement_fashion": round(float(outside["agreement"].mean()), 4),
        "ood_auroc_entropy": round(float(binary_auroc(torch.cat([inside["entropy"], outside["entropy"]]), is_ood)), 4),
        "ood_auroc_agreement": round(
            float(binary_auroc(-torch.cat([inside["agreement"], outside["agreement"]]), is_ood)), 4
        ),
        "example_predictions": {name: votes.tolist() for name, votes in examples.items()},
        "_inputs": {name: x[0, 0] for name, x in inputs.items()},
        "_agreements": agreements,
    }


def histograms(run: dict, path: Path) -> None:
    """The book's histograms of the 30 sampled predictions under each example input, and beside them the share of
    the 30 samples that agree with their majority over whole test sets."""
    examples = run["example_predictions"]
    figure, axes = plt.subplots(2, len(examples) + 1, figsize=(4 * (len(examples) + 1), 5.5),
                                gridspec_kw={"height_ratios": [1, 2]})  # fmt: skip
    for column, (name, votes) in enumerate(examples.items()):
        axes[0, column].imshow(run["_inputs"][name].numpy(), cmap="Blues")
        axes[0, column].set_title(name, fontsize=9)
        axes[0, column].axis("off")
        axes[1, column].hist(votes, bins=range(11), align="left", rwidth=0.8)
        axes[1, column].set_xticks(range(10))
        axes[1, column].set_xlabel("predicted digit")
        axes[1, column].set_ylim(0, 31)
    axes[1, 0].set_ylabel("of 30 posterior samples")
    axes[0, -1].axis("off")
    axes[0, -1].text(0, 0.5, f"AUROC, MNIST vs Fashion-MNIST\nby agreement: {run['ood_auroc_agreement']:.3f}\n"
                     f"by predictive entropy: {run['ood_auroc_entropy']:.3f}", fontsize=9)  # fmt: skip
    for name, agreement in run["_agreements"].items():
        axes[1, -1].hist(agreement.numpy(), bins=np.linspace(0, 1, 21), alpha=0.6, label=name, density=True)
    axes[1, -1].set_xlabel("share of the 30 samples agreeing")
    axes[1, -1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    def fashion_dir(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--fashion-dir", type=Path, required=True,
                            help="a folder of Fashion-MNIST's four *-ubyte.gz files")  # fmt: skip

    args, cli_args = seeded_run_options(__doc__, add_options=fashion_dir)
    fashion_files = args.fashion_dir
    with tempfile.TemporaryDirectory() as fashion:  # the DataModule's layout over the Debian package's files
        raw = Path(fashion) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for gz in fashion_files.glob("*-ubyte.gz"):
            shutil.copy(gz, raw / gz.name)
        runs = [run(args.config, args.data_dir, Path(fashion), seed, args.workdir, cli_args) for seed in args.seeds]
    keys = ("acc_mean_pct", "acc_min_pct", "acc_max_pct", "acc_posterior_mean_pct", "acc_predictive_pct")
    means = {k: round(statistics.mean(r[k] for r in runs), 2) for k in keys}
    means |= {k: round(statistics.mean(r[k] for r in runs), 4) for k in ("ood_auroc_entropy", "ood_auroc_agreement")}
    histograms(runs[0], RESULTS / f"{args.name}_predictions.png")
    for r in runs:  # tensors for the figure only
        del r["_inputs"], r["_agreements"]
    write_result(args.name, {"config": str(args.config), "seeds_run": len(runs), **means, "runs": runs,
                             "threads": torch.get_num_threads(), **machine()})  # fmt: skip


if __name__ == "__main__":
    main()
