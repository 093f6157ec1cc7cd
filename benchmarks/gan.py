"""A GAN of the zoo on real data through the CLI and its config, in chunks that resume exactly, measured as it
trains: classifier-FID and KID (the zoo's feature network for the dataset) and the rarest and commonest class's share
of the samples (mode coverage) every --measure-every epochs and at the last one, the final class histogram of 10,000
samples, and, for GANs with class labels or a category code, how often the samples are of the class asked for (per
class, and InfoGAN's category -> digit mapping). Writes benchmarks/results/<name>.json and the sample grid; run again
at the epoch it reached, it only measures again.

    python benchmarks/gan.py --config configs/gan/gan_mnist.yaml --data-dir DIR --epochs 100
    python benchmarks/gan.py --config configs/gan/infogan_mnist.yaml --data-dir DIR --epochs 3   # continue: --epochs 5
    python benchmarks/gan.py ... --trainer.accelerator gpu --trainer.devices 1     # other options go to the CLI
    python benchmarks/gan.py --config configs/gan/wgan_gp64_pokemon.yaml --data.folder DIR/pokemon/images --epochs 500
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, ROOT, add_data_dir, machine  # noqa: E402
from lightning_zoo.callbacks import EpochTimer  # noqa: E402
from lightning_zoo.cli import ZooCLI  # noqa: E402
from lightning_zoo.core import evaluating  # noqa: E402
from lightning_zoo.metrics import (  # noqa: E402
    ClassifierFID,
    ConditionalAccuracy,
    ModeCoverage,
    feature_network_index,
    fidelity_report,
    mode_report,
)
from lightning_zoo.registry import cards  # noqa: E402

LOGGED = {
    "val/classifier_fid": ("classifier_fid", 1.0),
    "val/classifier_kid": ("classifier_kid", 1.0),
    "val/rarest_class_share": ("rarest_class_pct", 100.0),
    "val/commonest_class_share": ("commonest_class_pct", 100.0),
    "val/conditional_acc": ("conditional_accuracy_pct", 100.0),
    "val/category_purity": ("category_purity_pct", 100.0),
    "train/d_loss": ("d_loss", 1.0),
    "train/g_loss": ("g_loss", 1.0),
    "train/wasserstein": ("wasserstein_estimate", 1.0),  # WGAN and WGAN-GP critics
    "train/gradient_penalty": ("gradient_penalty", 1.0),
}


def logged_per_epoch(csv_dir: Path) -> dict[int, dict[str, float]]:
    """{epoch (from 1): {name: value}} of the epoch-level values in the CSV logs of every chunk."""
    values: dict[int, dict[str, float]] = {}
    for path in csv_dir.glob("version_*/metrics.csv"):
        with path.open() as file:
            for row in csv.DictReader(file):
                for key, (name, scale) in LOGGED.items():
                    if row.get(key):
                        values.setdefault(int(row["epoch"]) + 1, {})[name] = round(float(row[key]) * scale, 3)
    return values


def spearman(xs: list[float], ys: list[float]) -> float:
    """Spearman's rank correlation (no ties expected among measured losses and distances)."""

    def ranks(values: list[float]) -> list[int]:
        order = sorted(range(len(values)), key=values.__getitem__)
        return [order.index(i) for i in range(len(values))]

    n, rx, ry = len(xs), ranks(xs), ranks(ys)
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(rx, ry, strict=True)) / (n * (n * n - 1))


def run_precision(earlier: str | None, this_chunk: str) -> str:
    """The precision a run was trained in (``32-true``, ``bf16-mixed``), over its chunks: one value while they agree,
    else each change in order (``bf16-mixed, then 32-true``)."""
    if earlier is None or earlier.endswith(this_chunk):
        return earlier or this_chunk
    return f"{earlier}, then {this_chunk}"


def critic_tracks_quality(report: dict, name: str) -> dict:
    """For a Wasserstein GAN: how its critic's estimate of the distance follows classifier-FID over the measured
    epochs (their rank correlation; WGAN's claim is that it tracks sample quality) and the two curves as a plot."""
    points = [e for e in report["epochs"] if "wasserstein_estimate" in e and "classifier_fid" in e]
    if len(points) < 3:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = [e["epoch"] * report["batches_per_epoch"] for e in points]
    figure, fid_axis = plt.subplots(figsize=(7, 4))
    fid_axis.plot(batches, [e["classifier_fid"] for e in points], "o-", color="tab:blue")
    fid_axis.set(xlabel="real batches trained on", ylabel="classifier-FID (log scale)", yscale="log")
    critic_axis = fid_axis.twinx()
    critic_axis.plot(batches, [e["wasserstein_estimate"] for e in points], "s--", color="tab:red")
    critic_axis.set_ylabel("critic: mean D(real) - mean D(fake)", color="tab:red")
    figure.suptitle(f"{name}: the critic's Wasserstein estimate next to classifier-FID")
    figure.tight_layout()
    figure.savefig(RESULTS / f"{name}_critic_curve.png", dpi=100)
    plt.close(figure)
    fid, critic = [e["classifier_fid"] for e in points], [e["wasserstein_estimate"] for e in points]
    return {"wasserstein_fid_spearman": round(spearman(critic, fid), 3), "critic_curve": f"{name}_critic_curve.png"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True)
    add_data_dir(parser)
    parser.add_argument("--epochs", type=int, required=True, help="train (or continue) to this epoch")
    parser.add_argument("--measure-every", type=int, default=10, help="epochs between quality measurements")
    parser.add_argument("--name", help="results file name (default: the config's)")
    parser.add_argument("--workdir", help="default: logs/bench_<name>")
    args, extra_cli_args = parser.parse_known_args()
    name = args.name or args.config.stem
    workdir = Path(args.workdir or ROOT / "logs" / f"bench_{name}")
    last = workdir / "checkpoints" / "last.ckpt"
    # The DataModules' default data folder (a folder of images takes --data.folder instead).
    os.environ["LIGHTNING_ZOO_DATA"] = args.data_dir
    cli = ZooCLI(
        args=[
            "--config",
            str(args.config),
            "--trainer.max_epochs",
            str(args.epochs),
            "--trainer.logger",
            "CSVLogger",
            "--trainer.logger.save_dir",
            str(workdir),
            "--trainer.logger.name",
            "csv",
            "--trainer.callbacks+=lightning_zoo.callbacks.ZooModelCheckpoint",
            "--trainer.callbacks.dirpath",
            str(workdir / "checkpoints"),
            "--trainer.enable_progress_bar",
            "false",
            *extra_cli_args,
        ],  # fmt: skip
        run=False,
    )
    timer = EpochTimer()
    dataset = cli.datamodule.dataset_name
    fid = ClassifierFID(every_n_epochs=args.measure_every)
    measured: list = [fid]
    if dataset is None:  # a folder of images the zoo has no feature network for
        print(f"{type(cli.datamodule).__name__} names no dataset with a feature network: losses and samples only")
        measured = []
    # A network trained on classes also counts the samples per class; one trained on rotations (a folder without
    # classes) gives classifier-FID only.
    classes = dataset is not None and feature_network_index().get(dataset, {}).get("task", "classes") == "classes"
    if classes:
        measured.append(ModeCoverage(every_n_epochs=args.measure_every))
    if classes and {"labels", "category"} & set(cli.model.sample_latent(1)):
        measured.append(ConditionalAccuracy(every_n_epochs=args.measure_every))
    cli.trainer.callbacks += [timer, *measured]
    start = time.time()
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=str(last) if last.exists() else None)
    epochs = cli.trainer.current_epoch  # the callbacks measure the last epoch too

    report_path = RESULTS / f"{name}.json"
    report = json.loads(report_path.read_text()) if report_path.exists() and last.exists() else {"epochs": []}
    first_epoch = epochs - len(timer.durations)
    report["epochs"] = [e for e in report["epochs"] if e["epoch"] <= first_epoch]
    report["epochs"] += [{"epoch": first_epoch + i + 1, "seconds": round(s, 1)} for i, s in enumerate(timer.durations)]
    per_epoch = logged_per_epoch(workdir / "csv")
    for entry in report["epochs"]:
        entry.update(per_epoch.get(entry["epoch"], {}))
    final = {name: float(cli.trainer.callback_metrics[key]) * scale for key, (name, scale) in LOGGED.items()
             if key in cli.trainer.callback_metrics}  # fmt: skip
    modes = None
    if classes:  # the class histogram of the final generator, measured even where training had no epoch left
        modes = mode_report(cli.model, dataset)
        final.update(rarest_class_pct=modes["rarest_class_pct"], commonest_class_pct=modes["commonest_class_pct"])
    if any(isinstance(m, ConditionalAccuracy) for m in measured):
        with evaluating(cli.model.generator):
            final["fidelity"] = fidelity_report(cli.model, dataset)
    grids = sorted((workdir / "csv").rglob("images/samples/*.png"))
    if grids:
        shutil.copy(grids[-1], RESULTS / f"{name}_samples.png")
    card = next((c for c in cards() if c.config == str(args.config.resolve().relative_to(ROOT))), None)
    report.update(
        {key: round(value, 3) for key, value in final.items() if key != "fidelity"},
        fidelity=final.get("fidelity"),
        modes=modes,
        feature_network=dataset,
        # Images in each set (real, generated): 10,000, or a smaller folder's every image.
        fid_images=(fid.compared * cli.trainer.world_size or report.get("fid_images")) if measured else None,
        config=str(args.config),
        card=card.name if card else None,
        epochs_trained=epochs,
        book_epochs=yaml.safe_load(args.config.read_text())["trainer"]["max_epochs"],
        batches_per_epoch=cli.trainer.num_training_batches,  # fewer than the data's with limit_train_batches
        seconds_per_epoch_median=round(statistics.median(e["seconds"] for e in report["epochs"]), 1),
        samples=f"{name}_samples.png (fixed latent, epoch {epochs})" if grids else None,
        **machine(),
    )
    command = " ".join(["python benchmarks/gan.py", *sys.argv[1:]])
    if timer.durations or "command" not in report:
        report.update(command=command, wall_seconds_this_chunk=round(time.time() - start, 1))
        report["precision"] = run_precision(report.get("precision"), cli.trainer.precision)
        report.pop("measured_again_by", None)  # of an earlier chunk's generator
    else:  # the run had reached --epochs: measured again, the training chunk's record kept
        report["measured_again_by"] = command
    RESULTS.mkdir(parents=True, exist_ok=True)
    report.update(critic_tracks_quality(report, name))
    measured_fids = [(e["classifier_fid"], e["epoch"]) for e in report["epochs"] if "classifier_fid" in e]
    if measured_fids:  # a GAN can get worse with more epochs: where it was best, next to where it ended
        report["lowest_classifier_fid"], report["lowest_classifier_fid_epoch"] = min(measured_fids)
    else:  # an earlier chunk's, of epochs this record no longer holds
        report.pop("lowest_classifier_fid", None), report.pop("lowest_classifier_fid_epoch", None)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "epochs"}, indent=2))


if __name__ == "__main__":
    main()
