"""Generative quality measured, not only looked at: the Frechet distance (FID) and kernel distance (KID) between
real and generated images in the feature space of a classifier this project trained on the same dataset
("classifier-FID", after the Inception FID); how the samples spread over the classes (a GAN that collapsed onto a
few modes draws some digits far too often); and, for GANs that take a class or a category, how often the samples
are of the class asked for. Available offline, comparable between runs of this project; not on the scale of
published Inception FIDs.

The zoo ships one feature network per dataset in ``lightning_zoo/feature_networks/`` (``python
benchmarks/feature_networks.py`` makes them, and records their checksums and test accuracy); a GAN's images are
brought to the network's layout (flattened -> 1x28x28, a 2-pixel border cropped, the value range mapped).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from lightning_zoo.callbacks import due
from lightning_zoo.core import ZooError, evaluating, load_zoo_module

FEATURE_NETWORKS = Path(__file__).parent / "feature_networks"
MAKE_FEATURE_NETWORKS = "python benchmarks/feature_networks.py --data-dir DIR --datasets {dataset}"


class FrozenFeatures(nn.Module):
    """A trained classifier's ``features()`` (or, with ``logits=True``, its class logits), frozen and always in eval
    mode, on images brought to the classifier's layout: ``input_shape`` and ``value_range``. Images whose values lie
    in ``source_range`` are mapped to ``value_range``; flat images are unflattened and a border is cropped where
    that gives ``input_shape`` (MNIST padded to 32x32 becomes 28x28 again)."""

    def __init__(
        self,
        classifier: nn.Module,
        num_features: int,
        input_shape: tuple[int, ...],
        value_range: tuple[float, float] = (-1.0, 1.0),
        source_range: tuple[float, float] | None = None,
        logits: bool = False,
    ) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.num_features = num_features  # read by torchmetrics instead of probing with a dummy image
        self.input_shape, self.value_range = tuple(input_shape), tuple(value_range)
        self.source_range, self.logits = tuple(source_range or value_range), logits

    def train(self, mode: bool = True) -> FrozenFeatures:
        return self  # whoever calls .train() on a parent, the features stay those of the trained classifier

    def to_layout(self, images: Tensor) -> Tensor:
        return to_layout(images, self.input_shape, self.source_range, self.value_range)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        images = self.to_layout(images)
        return self.classifier(images) if self.logits else self.classifier.features(images)


def to_layout(
    images: Tensor, shape: tuple[int, ...], source_range: tuple[float, float], value_range: tuple[float, float]
) -> Tensor:
    """``images`` as (N, *shape) in ``value_range``: flat images unflattened, images k times the side averaged over
    k x k blocks (128 px RGB for a 64 px network), otherwise a border cropped (MNIST padded to 32x32 becomes 28x28
    again), values mapped linearly from ``source_range``."""
    if tuple(images.shape[1:]) != tuple(shape):
        if images.dim() == 2 and images.shape[1] == math.prod(shape):
            images = images.view(-1, *shape)
        elif images.dim() == 4 and images.shape[1] == shape[0] and multiple(images.shape[2:], shape[1:]) > 1:
            images = nn.functional.avg_pool2d(images, multiple(images.shape[2:], shape[1:]))
        elif images.dim() == 4 and images.shape[1] == shape[0]:
            top, left = ((images.shape[i + 2] - shape[i + 1]) // 2 for i in range(2))
            if min(top, left) >= 0:
                images = images[..., top : top + shape[1], left : left + shape[2]]
        if tuple(images.shape[1:]) != tuple(shape):
            raise ZooError(
                f"the feature classifier takes {tuple(shape)} images, it was given {tuple(images.shape[1:])}: train "
                "one on the GAN's data layout (same size and value range)"
            )
    if tuple(source_range) != tuple(value_range):
        (a, b), (c, d) = source_range, value_range
        images = (images - a) * ((d - c) / (b - a)) + c
    return images


def feature_network_index() -> dict[str, dict[str, Any]]:
    """``feature_networks/index.json``: per dataset, the shipped file, its checksum, layout, ``task`` (``classes``,
    or ``rotation`` for a folder without classes: see ``RotationFolderDataModule``) and held-out accuracy."""
    index_path = FEATURE_NETWORKS / "index.json"
    return json.loads(index_path.read_text()) if index_path.is_file() else {}


def judging_dataset(datamodule: Any) -> str | None:
    """The dataset (``dataset_name``) whose zoo feature network judges the DataModule's images, with a warning when
    they come from another folder than the one it learnt on (a config's ``dataset_name: pokemon`` kept under
    ``--data.folder faces``: the distances would be measured by features of Pokemon)."""
    dataset = getattr(datamodule, "dataset_name", None)
    learnt_on = feature_network_index().get(dataset, {}).get("folder")
    folder = getattr(datamodule, "folder", None)
    if learnt_on and folder is not None and Path(folder).parts[-len(Path(learnt_on).parts) :] != Path(learnt_on).parts:
        rank_zero_warn(
            f"the zoo's {dataset!r} feature network learnt its features on {learnt_on}, not on {folder}: distances "
            "between these images are measured by features of others; pass a FeatureCNN trained on them "
            "(classifier_ckpt), or measure none: --data.dataset_name null and no classifier-FID callbacks"
        )
    return dataset


def multiple(sides: Sequence[int], target: Sequence[int]) -> int:
    """k where ``sides`` are k times ``target`` in both directions, else 0."""
    (h, w), (th, tw) = sides, target
    return h // th if h % th == 0 and w % tw == 0 and h // th == w // tw else 0


def shipped_feature_network(dataset: str) -> tuple[nn.Module, dict[str, Any]]:
    """The zoo's feature network for ``dataset`` (``mnist``, ``fashion_mnist``, ``pokemon``), checked against its
    recorded checksum, and its entry of ``feature_networks/index.json``."""
    index = feature_network_index()
    if dataset not in index:
        raise ZooError(
            f"the zoo has no feature network for {dataset!r} (it has {', '.join(sorted(index)) or 'none'}): make one "
            f"with `{MAKE_FEATURE_NETWORKS.format(dataset=dataset)}`, or pass the checkpoint of a FeatureCNN trained "
            "on the GAN's data as --trainer.callbacks.classifier_ckpt"
        )
    entry = index[dataset]
    path = FEATURE_NETWORKS / entry["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
    if digest != entry["sha256"]:
        raise ZooError(
            f"{path} does not match its recorded checksum ({digest[:12]} vs {entry['sha256'][:12]}): remake it with "
            f"`{MAKE_FEATURE_NETWORKS.format(dataset=dataset)}`"
        )
    return load_zoo_module(path), entry


def feature_extractor(
    classifier_ckpt: str | Path | None,
    dataset: str | None,
    source_range: tuple[float, float] | None = None,
    logits: bool = False,
) -> FrozenFeatures:
    """Features (or logits) of the classifier in ``classifier_ckpt`` (used on images of its own layout), or of the
    zoo's network for ``dataset`` (images brought to its layout from ``source_range``)."""
    if classifier_ckpt is not None:
        classifier = load_zoo_module(classifier_ckpt)
        value_range = source_range
    else:
        if dataset is None:
            raise ZooError(
                "a DataModule that names no dataset (--data.dataset_name) has no shipped feature network: pass one's "
                "checkpoint (classifier_ckpt), e.g. of configs/classification/feature_cnn_pokemon.yaml trained on "
                "these images (a rotation task needs no labels)"
            )
        classifier, entry = shipped_feature_network(dataset)
        value_range = tuple(entry["value_range"])
        if logits and entry.get("task", "classes") != "classes":
            raise ZooError(
                f"the zoo's feature network for {dataset!r} was trained to tell {entry['task']}s apart (the images "
                "have no classes): it serves classifier-FID, but counting samples per class needs a classifier of "
                "the images' classes (classifier_ckpt)"
            )
    if not callable(getattr(classifier, "features", None)):
        raise ZooError(
            f"{classifier_ckpt} holds the model {type(classifier).__name__}, which has no features(): train a "
            "FeatureCNN on the GAN's data (configs/classification/feature_cnn_mnist.yaml) and pass its checkpoint"
        )
    hparams = classifier.hparams
    width = hparams.num_classes if logits else hparams.feature_dim
    return FrozenFeatures(classifier, width, hparams.input_shape, value_range or (-1.0, 1.0), source_range, logits)


def classifier_fid(checkpoint: str | Path | None = None, dataset: str | None = None, **kwargs: Any):
    """A torchmetrics FID over a classifier's features (see :func:`feature_extractor`). Real features persist across
    ``reset()``: compute them once, then compare each new set of samples."""
    return FrechetInceptionDistance(feature=feature_extractor(checkpoint, dataset, **kwargs), reset_real_features=False)


class ClassifierFID(Callback):
    """Logs ``val/classifier_fid`` and ``val/classifier_kid`` (with ``val/classifier_kid_std``) every
    ``every_n_epochs`` epochs and after the last one: the distances between ``num_samples`` training images and as
    many samples of the generator (from its own seeded latents, in eval mode), in a classifier's feature space;
    lower is better.

    ``--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID`` alone works on MNIST, Fashion-MNIST and the Pokemon
    folder: the zoo's feature network for the DataModule's dataset (``dataset_name``) is used. A training set smaller
    than ``num_samples`` is compared whole, with as many samples (and a warning: FID grows as the sample shrinks,
    so compare runs measured at one size; KID is unbiased). Works with any GAN of the zoo
    (``sample_latent``, ``generate``, ``output_range``). Under DDP each rank takes its share of both sets and the
    statistics are gathered. It draws no number from the global RNG, so adding it leaves training unchanged.

    Args:
        classifier_ckpt: A FeatureCNN checkpoint trained on the GAN's exact data layout, instead of the zoo's network.
        num_samples: Real and generated images compared (10,000 is the usual FID sample size).
        batch_size: Images per generator/classifier forward pass.
        every_n_epochs: How often to measure.
        seed: Seed of the generated samples' latents (the same samples' latents at every measurement).
        kid_subset_size: Size of KID's random subsets (capped by the number of images compared).
    """

    def __init__(
        self,
        classifier_ckpt: str | None = None,
        num_samples: int = 10_000,
        batch_size: int = 500,
        every_n_epochs: int = 1,
        seed: int = 0,
        kid_subset_size: int = 1000,
    ) -> None:
        if num_samples < 2 or batch_size < 1 or every_n_epochs < 1 or kid_subset_size < 2:
            raise ValueError(
                "ClassifierFID needs num_samples >= 2, batch_size >= 1, every_n_epochs >= 1 and kid_subset_size >= 2"
            )
        self.classifier_ckpt, self.num_samples, self.batch_size = classifier_ckpt, num_samples, batch_size
        self.every_n_epochs, self.seed, self.kid_subset_size = every_n_epochs, seed, kid_subset_size
        self.fid: FrechetInceptionDistance | None = None
        self.kid: KernelInceptionDistance | None = None
        self.compared = 0  # images of each set per process, once the real ones are in

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        check_generative(pl_module, "ClassifierFID")
        dataset = None if self.classifier_ckpt else judging_dataset(trainer.datamodule)
        features = feature_extractor(self.classifier_ckpt, dataset, tuple(pl_module.output_range))
        share = math.ceil(self.num_samples / trainer.world_size)
        self.fid = FrechetInceptionDistance(feature=features, reset_real_features=False)
        subset = min(self.kid_subset_size, share * trainer.world_size)
        self.kid = KernelInceptionDistance(feature=features, subset_size=subset, reset_real_features=False)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not due(trainer, self.every_n_epochs):
            return
        metrics = [self.fid.to(pl_module.device), self.kid.to(pl_module.device)]
        share = math.ceil(self.num_samples / trainer.world_size)
        cuda = [pl_module.device.index or 0] if pl_module.device.type == "cuda" else []
        if int(metrics[0].real_features_num_samples) == 0:  # real features: once per run
            if trainer.datamodule is None:
                raise ZooError("ClassifierFID takes its real images from a DataModule; fit with one")
            with torch.random.fork_rng(devices=cuda):  # a loader's workers may draw their seeds from the global RNG
                self.compared = add_real_images(metrics, trainer.datamodule.train_dataloader(), share, pl_module.device)
            if self.compared < share:
                rank_zero_warn(
                    f"ClassifierFID: the training set has only {self.compared * trainer.world_size} of the "
                    f"{self.num_samples} images asked for; it compares them with as many samples (FID is biased "
                    "upward at small sizes: compare runs measured at the same size)"
                )
            # KID's subsets are drawn from every rank's gathered features
            self.kid.subset_size = min(self.kid.subset_size, self.compared * trainer.world_size)
        noise_source = torch.Generator(device=pl_module.device).manual_seed(self.seed + trainer.global_rank)
        add_generated_images(metrics, pl_module, self.compared, self.batch_size, noise_source)
        fid = metrics[0].compute()  # gathers every rank's statistics
        # KID draws random subsets from the global RNG: from a seeded copy of it, so training is not disturbed.
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.seed)
            kid_mean, kid_std = metrics[1].compute()
        for metric in metrics:
            metric.reset()
        log_measured(
            pl_module, {"val/classifier_fid": fid, "val/classifier_kid": kid_mean, "val/classifier_kid_std": kid_std}
        )


def log_measured(pl_module: pl.LightningModule, values: Mapping[str, Tensor | float]) -> None:
    """Logs a callback's measurements of the generator and prints them in one line: without a logger (or with W&B
    offline) they would otherwise reach nobody before the run ends."""
    pl_module.log_dict(dict(values), on_epoch=True)
    shown = ", ".join(f"{name} {float(value):.4g}" for name, value in values.items())
    rank_zero_info(f"epoch {pl_module.current_epoch}: {shown}")


def check_generative(pl_module: pl.LightningModule, who: str) -> None:
    if not all(callable(getattr(pl_module, name, None)) for name in ("sample_latent", "generate")):
        raise ZooError(f"{who} needs a GAN (sample_latent, generate); {type(pl_module).__name__} is not")


def add_real_images(metrics: list[Any], loader: Iterable, count: int, device: torch.device) -> int:
    """The first ``count`` images of ``loader`` (batches of images, or of (images, labels)) as real images; returns
    how many there were (fewer than ``count`` where the loader ends first)."""
    seen = 0
    for batch in loader:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        images = images[: count - seen].to(device)
        for metric in metrics:
            metric.update(images, real=True)
        seen += len(images)
        if seen >= count:
            break
    if seen < 2:
        raise ZooError(f"classifier-FID needs at least 2 real images per process, the data has {seen}")
    return seen


def add_generated_images(
    metrics: list[Any], gan: nn.Module, count: int, batch_size: int, noise_source: torch.Generator
) -> None:
    """``count`` samples of ``gan`` (generator in eval mode), from latents drawn with ``noise_source``."""
    with evaluating(gan.generator):
        for start in range(0, count, batch_size):
            images = gan.generate(gan.sample_latent(min(batch_size, count - start), noise_source))
            for metric in metrics:
                metric.update(images, real=False)


# ------------------------------------------------------------------------------------------------ mode coverage


def predicted_classes(
    gan: nn.Module, classifier: FrozenFeatures, count: int, generator: torch.Generator, batch: int = 500
) -> Tensor:
    """How many of ``count`` samples of ``gan`` (its own latent distribution: a conditional GAN's labels uniform, as
    in training) the classifier puts in each class."""
    counts = torch.zeros(classifier.num_features, dtype=torch.long)
    with evaluating(gan.generator):
        for start in range(0, count, batch):
            predicted = classifier(gan.generate(gan.sample_latent(min(batch, count - start), generator))).argmax(1)
            counts += torch.bincount(predicted.cpu(), minlength=classifier.num_features)
    return counts


def class_shares(counts: Tensor, within: tuple[float, float] = (5.0, 15.0)) -> dict[str, Any]:
    """Each class's share of the samples (%), the rarest and the commonest, and whether every class is ``within``
    the range (issue 8's test of mode collapse on a ten-class dataset: every class between 5 % and 15 %)."""
    shares = [100 * float(c) / max(int(counts.sum()), 1) for c in counts]
    return {
        "class_share_pct": [round(share, 2) for share in shares],
        "rarest_class_pct": round(min(shares), 2),
        "commonest_class_pct": round(max(shares), 2),
        "every_class_within_pct": list(within),
        "every_class_within": all(within[0] <= share <= within[1] for share in shares),
    }


class ClassifiedSamples(Callback):
    """Base of the callbacks that classify a GAN's samples with the dataset's feature network (its class logits;
    ``classifier_ckpt`` instead: a FeatureCNN checkpoint for the GAN's data), every ``every_n_epochs`` epochs and
    after the last one, from latents seeded with ``seed``."""

    def __init__(self, every_n_epochs: int, seed: int, classifier_ckpt: str | None) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"{type(self).__name__} needs every_n_epochs >= 1, got {every_n_epochs}")
        self.every_n_epochs, self.seed, self.classifier_ckpt = every_n_epochs, seed, classifier_ckpt
        self.classifier: FrozenFeatures | None = None
        self.judged: list[int] | None = None  # the classifier's class of each data label (judged_classes)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        check_generative(pl_module, type(self).__name__)
        dataset = None if self.classifier_ckpt else judging_dataset(trainer.datamodule)
        self.classifier = feature_extractor(self.classifier_ckpt, dataset, tuple(pl_module.output_range), logits=True)
        self.judged = judged_classes(trainer.datamodule)


def judged_classes(datamodule: Any) -> list[int] | None:
    """The feature network's class of each of the data's labels, where the data keeps some classes of the dataset
    (MNIST's ``keep_classes [3, 5]``: label 0 is class 3, label 1 class 5); None where label i is class i, or where
    the labels are not named among the dataset's classes. (The zoo's feature network for a dataset learnt its classes
    in the order of the DataModule's ``classes``; a ``classifier_ckpt`` of another order is read as if it had.)"""
    every, kept = getattr(datamodule, "classes", None), getattr(datamodule, "class_names", None)
    if not every or not kept or list(every) == list(kept) or not set(kept) <= set(every):
        return None
    return [list(every).index(name) for name in kept]


class ModeCoverage(ClassifiedSamples):
    """Logs ``val/rarest_class_share`` and ``val/commonest_class_share``: how the dataset's feature network classifies
    ``num_samples`` samples of the generator (seeded latents, eval mode), every ``every_n_epochs`` epochs and after
    the last one. A GAN that collapsed onto a few modes draws some classes rarely or never (a balanced ten-class
    dataset gives 10 % each). Under DDP each rank draws its share and the counts are summed.

    Args:
        num_samples: Samples classified.
        every_n_epochs: How often to measure.
        seed: Seed of the latents (the same at every measurement).
        classifier_ckpt: A FeatureCNN checkpoint for the GAN's data, instead of the zoo's network.
    """

    def __init__(
        self, num_samples: int = 10_000, every_n_epochs: int = 1, seed: int = 0, classifier_ckpt: str | None = None
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"ModeCoverage needs num_samples >= 1, got {num_samples}")
        super().__init__(every_n_epochs, seed, classifier_ckpt)
        self.num_samples = num_samples

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not due(trainer, self.every_n_epochs):
            return
        self.classifier.to(pl_module.device)
        share = math.ceil(self.num_samples / trainer.world_size)
        noise_source = torch.Generator(device=pl_module.device).manual_seed(self.seed + trainer.global_rank)
        counts = predicted_classes(pl_module, self.classifier, share, noise_source)
        counts = trainer.strategy.reduce(counts.to(pl_module.device, torch.float64), reduce_op="sum")  # collective
        shares = (counts if self.judged is None else counts[self.judged]) / counts.sum()  # the data's classes only
        log_measured(
            pl_module,
            {"val/rarest_class_share": shares.min().float(), "val/commonest_class_share": shares.max().float()},
        )


def mode_report(gan: nn.Module, dataset: str, num_samples: int = 10_000, seed: int = 0) -> Mapping[str, Any]:
    """:func:`class_shares` of ``num_samples`` samples of ``gan``, with the zoo's feature network for ``dataset``."""
    classifier = feature_extractor(None, dataset, tuple(gan.output_range), logits=True)
    return class_shares(predicted_classes(gan, classifier, num_samples, torch.Generator().manual_seed(seed)))


# ------------------------------------------------------------------------------------------------ class fidelity


def class_confusion(
    gan: nn.Module, classifier: FrozenFeatures, key: str, per_value: int, generator: torch.Generator, batch: int = 500
) -> Tensor:
    """(values of the latent's ``key``) x (classes) counts: how the classifier labels ``per_value`` samples generated
    with each value of ``key`` (``labels`` for a conditional GAN, ``category`` for InfoGAN)."""
    values = int(gan.hparams["num_classes" if key == "labels" else "num_categories"])
    counts = torch.zeros(values, classifier.num_features, dtype=torch.long)
    with evaluating(gan.generator):
        for value in range(values):
            for start in range(0, per_value, batch):
                latent = gan.sample_latent(min(batch, per_value - start), generator)
                latent[key] = torch.full_like(latent[key], value)
                predicted = classifier(gan.generate(latent)).argmax(1).cpu()
                counts[value] += torch.bincount(predicted, minlength=classifier.num_features)
    return counts


def best_assignment(counts: Tensor) -> list[int]:
    """The one-to-one mapping of rows to columns with the most counts, exact (dynamic programming over subsets of
    columns: up to about 16 columns; beyond, each row takes its best free column in turn). With more rows than
    columns, the extra rows map to columns past the last (that is, to nothing)."""
    rows, columns = counts.shape
    if rows > columns:
        counts = torch.cat([counts, counts.new_zeros(rows, rows - columns)], 1)
        columns = rows
    table = counts.tolist()
    if columns > 16:
        taken: list[int] = []
        for row in table:
            taken.append(max((c for c in range(columns) if c not in taken), key=lambda c: row[c]))
        return taken
    best: dict[int, tuple[int, list[int]]] = {0: (0, [])}
    for row in range(rows):
        nxt: dict[int, tuple[int, list[int]]] = {}
        for used, (score, chosen) in best.items():
            for column in range(columns):
                if not used >> column & 1:
                    key, value = used | 1 << column, (score + table[row][column], [*chosen, column])
                    if key not in nxt or value[0] > nxt[key][0]:
                        nxt[key] = value
        best = nxt
    return max(best.values())[1]


def class_fidelity(counts: Tensor, targets: Sequence[int] | None = None) -> dict[str, Any]:
    """From a confusion of requested value x predicted class: the accuracy (value i should give class
    ``targets[i]``, default i), per class; the majority class of each value and the purity (samples in their value's
    majority class), and the best one-to-one mapping and its accuracy (for InfoGAN, whose categories come in no
    order)."""
    total = int(counts.sum())
    per_value = counts.sum(1).clamp(min=1)
    mapping = best_assignment(counts)
    rows = torch.arange(len(counts))
    hits = counts[rows, rows if targets is None else torch.as_tensor(targets)]
    return {
        "accuracy_pct": round(100 * float(hits.sum()) / total, 2),
        "accuracy_per_class_pct": [round(100 * float(v), 2) for v in hits / per_value],
        "majority_class": counts.argmax(1).tolist(),
        "purity_pct": round(100 * float(counts.max(1).values.sum()) / total, 2),
        "one_to_one_mapping": mapping,
        "one_to_one_accuracy_pct": round(
            100 * sum(int(counts[i, c]) for i, c in enumerate(mapping) if c < counts.shape[1]) / total, 2
        ),
    }


class ConditionalAccuracy(ClassifiedSamples):
    """For a GAN whose latent has class ``labels`` (CGAN, ACGAN): logs ``val/conditional_acc``, the fraction of
    samples the dataset's feature network classifies as the class asked for. For one with a ``category`` code
    (InfoGAN): logs ``val/category_purity``, the fraction of samples in their category's majority class.

    Args:
        per_class: Samples generated for each class (or category).
        every_n_epochs: How often to measure.
        seed: Seed of the latents (the same at every measurement).
        classifier_ckpt: A FeatureCNN checkpoint for the GAN's data, instead of the zoo's network.
    """

    def __init__(
        self, per_class: int = 1000, every_n_epochs: int = 1, seed: int = 0, classifier_ckpt: str | None = None
    ) -> None:
        if per_class < 1:
            raise ValueError(f"ConditionalAccuracy needs per_class >= 1, got {per_class}")
        super().__init__(every_n_epochs, seed, classifier_ckpt)
        self.per_class = per_class
        self.key = ""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage == "fit":
            self.key = conditioning_key(pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not due(trainer, self.every_n_epochs):
            return
        self.classifier.to(pl_module.device)
        noise_source = torch.Generator(device=pl_module.device).manual_seed(self.seed)
        counts = class_confusion(pl_module, self.classifier, self.key, self.per_class, noise_source)
        fidelity = class_fidelity(counts, self.judged if self.key == "labels" else None)
        name, value = (
            ("val/conditional_acc", fidelity["accuracy_pct"])
            if self.key == "labels"
            else ("val/category_purity", fidelity["purity_pct"])
        )
        log_measured(pl_module, {name: value / 100})  # the same value on every rank (the same latents)


def conditioning_key(gan: nn.Module) -> str:
    """The latent entry that asks for a class: ``labels`` (CGAN, ACGAN) or ``category`` (InfoGAN)."""
    keys = set(gan.sample_latent(1, torch.Generator().manual_seed(0)))
    key = next((k for k in ("labels", "category") if k in keys), None)
    if key is None:
        raise ZooError(f"class fidelity needs a GAN whose latent has labels or a category; {sorted(keys)} has neither")
    return key


def fidelity_report(gan: nn.Module, dataset: str, per_class: int = 1000, seed: int = 0) -> Mapping[str, Any]:
    """:func:`class_fidelity` of a conditional or code-based GAN, with the zoo's feature network for ``dataset``."""
    key = conditioning_key(gan)
    classifier = feature_extractor(None, dataset, tuple(gan.output_range), logits=True)
    return class_fidelity(class_confusion(gan, classifier, key, per_class, torch.Generator().manual_seed(seed)))
