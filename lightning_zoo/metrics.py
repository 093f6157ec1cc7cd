"""Generative quality measured, not only looked at: the Frechet distance between real and generated images in the
feature space of a classifier this project trained on the same data ("classifier-FID", after the Inception FID).
Available offline, and comparable between runs of this project; not on the scale of published Inception FIDs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from lightning_zoo.core import ZooError, inference_mode_of, load_zoo_module


class FrozenFeatures(nn.Module):
    """A trained classifier's ``features()``, frozen and always in eval mode (dropout off, BatchNorm fixed)."""

    def __init__(self, classifier: nn.Module, num_features: int, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.num_features = num_features  # read by torchmetrics instead of probing with a dummy image
        self.input_shape = tuple(input_shape)

    def train(self, mode: bool = True) -> FrozenFeatures:
        return self  # whoever calls .train() on a parent, the features stay those of the trained classifier

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        if tuple(images.shape[1:]) != self.input_shape:
            raise ZooError(
                f"the feature classifier takes {self.input_shape} images, it was given {tuple(images.shape[1:])}: "
                "train it on the GAN's data layout (same size and value range)"
            )
        return self.classifier.features(images)


def classifier_fid(checkpoint: str | Path) -> FrechetInceptionDistance:
    """A torchmetrics FID over the features of the classifier in ``checkpoint`` (e.g. a trained ``FeatureCNN``).
    Real features persist across ``reset()``: compute them once, then compare each new set of samples."""
    classifier = load_zoo_module(checkpoint)
    if not callable(getattr(classifier, "features", None)):
        raise ZooError(
            f"{checkpoint} holds a {type(classifier).__name__}, which has no features(): train a FeatureCNN on the "
            "GAN's data (configs/classification/feature_cnn_mnist.yaml) and pass its checkpoint"
        )
    features = FrozenFeatures(classifier, classifier.hparams.feature_dim, classifier.hparams.input_shape)
    return FrechetInceptionDistance(feature=features, reset_real_features=False)


class ClassifierFID(Callback):
    """Logs ``val/classifier_fid`` every ``every_n_epochs`` epochs: classifier-FID between ``num_samples`` training
    images and as many samples of the generator (from its own seeded noise, in eval mode), lower is better.

    Works with any model that has ``generator``, ``sample_latent(n, generator)`` and ``generate(latent)`` (the GAN
    base). Under DDP each
    rank takes its share of both sets and the statistics are summed across ranks. It draws no number from the
    global RNG, so adding it leaves training unchanged.

    Args:
        classifier_ckpt: A ``FeatureCNN`` checkpoint trained on the same data layout as the GAN's.
        num_samples: Real and generated images compared (10,000 is the usual FID sample size).
        batch_size: Images per generator/classifier forward pass.
        every_n_epochs: How often to measure.
        seed: Seed of the generated samples' noise (the same samples' noise at every measurement).
    """

    def __init__(
        self,
        classifier_ckpt: str,
        num_samples: int = 10_000,
        batch_size: int = 500,
        every_n_epochs: int = 1,
        seed: int = 0,
    ) -> None:
        if num_samples < 2 or batch_size < 1 or every_n_epochs < 1:
            raise ValueError("ClassifierFID needs num_samples >= 2, batch_size >= 1 and every_n_epochs >= 1")
        self.classifier_ckpt, self.num_samples, self.batch_size = classifier_ckpt, num_samples, batch_size
        self.every_n_epochs, self.seed = every_n_epochs, seed
        self.fid: FrechetInceptionDistance | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not all(callable(getattr(pl_module, name, None)) for name in ("sample_latent", "generate")):
            raise ZooError(f"ClassifierFID needs a GAN (sample_latent, generate); {type(pl_module).__name__} is not")
        self.fid = classifier_fid(self.classifier_ckpt)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        fid = self.fid.to(pl_module.device)
        share = math.ceil(self.num_samples / trainer.world_size)
        if int(fid.real_features_num_samples) == 0:  # real features: once per run
            loader = trainer.datamodule.train_dataloader() if trainer.datamodule else trainer.train_dataloader
            add_real_images(fid, loader, share, pl_module.device)  # this rank's shard of the training data
        noise_source = torch.Generator(device=pl_module.device).manual_seed(self.seed + trainer.global_rank)
        add_generated_images(fid, pl_module, share, self.batch_size, noise_source)
        value = fid.compute()  # sums every rank's statistics
        fid.reset()
        pl_module.log("val/classifier_fid", value, on_epoch=True)


def add_real_images(fid: FrechetInceptionDistance, loader: Iterable, count: int, device: torch.device) -> None:
    """The first ``count`` images of ``loader`` (batches of images, or of (images, labels)) as real images."""
    seen = 0
    for batch in loader:
        images = batch[0] if isinstance(batch, (list, tuple)) else batch
        images = images[: count - seen].to(device)
        fid.update(images, real=True)
        seen += len(images)
        if seen >= count:
            return
    raise ZooError(f"classifier-FID wants {count} real images per process, the data has only {seen}")


def add_generated_images(
    fid: FrechetInceptionDistance, gan: nn.Module, count: int, batch_size: int, noise_source: torch.Generator
) -> None:
    """``count`` samples of ``gan`` (generator in eval mode), from latents drawn with ``noise_source``."""
    with inference_mode_of(gan.generator):
        for start in range(0, count, batch_size):
            fid.update(gan.generate(gan.sample_latent(min(batch_size, count - start), noise_source)), real=False)
