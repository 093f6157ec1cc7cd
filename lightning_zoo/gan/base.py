"""The manual-optimisation loop every GAN shares; a GAN defines its networks and, where they differ, its latent
and its losses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from lightning_zoo.core import EpochMeans, ZooError, ZooModule, evaluating
from lightning_zoo.files import atomic_path
from lightning_zoo.lightning_private import batch_index_of_run, ddp_finds_unused_parameters
from lightning_zoo.media import image_grid, save_png
from lightning_zoo.strategies import GANDDPStrategy, wrapped

Latent = dict[str, Tensor]


class RealBatch(NamedTuple):
    """A batch of training images and, where the data has them, their class labels."""

    images: Tensor
    labels: Tensor | None = None


class GANBase(ZooModule):
    """Base of the GANs. Per batch: ``d_steps`` discriminator steps, then, on every ``n_critic``-th batch,
    ``g_steps`` generator steps, all with the batch's latent (the books' "1 D step, then 2 G steps" is
    ``d_steps=1, g_steps=2``; WGAN's five critic steps per generator step, each on a fresh real batch, are
    ``n_critic=5``, counted in batches, never in optimizer steps).

    **The latent contract** every GAN of the books fits: :meth:`sample_latent` returns a dict (``z``, and where the
    model has them class labels or codes), :meth:`generate` turns one into images in ``output_range``. Sample grids,
    classifier-FID, interpolations and ``predict`` all go through ``generate(sample_latent(...))``. A subclass sets
    ``self.generator`` and ``self.discriminator`` (named ``nn.Module`` classes) and overrides only what differs:
    ``sample_latent`` / ``latent_for`` / ``generate`` / ``discriminate`` for conditional or code-based GANs,
    ``d_loss`` / ``g_loss`` for other objectives (both receive the real batch and the latent),
    ``after_discriminator_step`` for weight clipping.
    ``sample_latent`` may read only hyperparameters (``self.hparams``): the base calls it while constructing.

    Each step toggles its optimizer, so the other network's parameters get no gradient. Lightning's DDP, which
    wraps the whole module, then needs ``ddp_find_unused_parameters_true``; the zoo's ``ddp_gan`` strategy
    (``ddp_gan.yaml``) wraps each network in its own DDP instead, and each step runs the network it trains through
    its wrapper (:meth:`training_network`). ``trainer.global_step`` counts every optimizer step, so one batch
    advances it by ``d_steps + g_steps``.

    Args:
        latent_dim: Size of the noise vector z ~ U(-1, 1)^latent_dim.
        lr_g: Adam learning rate of the generator.
        lr_d: Adam learning rate of the discriminator.
        betas: Adam betas (beta1 0.5 as in DCGAN).
        d_steps: Discriminator steps per batch, on that same batch.
        g_steps: Generator steps per generator batch.
        n_critic: Batches per generator update: the discriminator steps on every batch (a fresh real batch each
            time), the generator on every ``n_critic``-th.
        real_label: Target of real images in the discriminator's loss; 0.9 is one-sided label smoothing.
        num_fixed_samples: Size of the fixed latent batch the sample grids are drawn from.
        predict_samples: Number of samples ``predict`` generates.
    """

    is_family_base = True
    family = "gan"
    without_evaluation: ClassVar[str] = (
        "a GAN is measured while it trains, by callbacks (--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID; "
        "the README's 'Generative quality'), and sampled with predict"
    )
    ddp_strategy = "ddp_gan"
    ddp_networks = ("generator", "discriminator")  # each wrapped in its own DDP by the ddp_gan strategy
    output_range = (-1.0, 1.0)
    # The last layer's bias of a convolutional discriminator (a WGAN critic has none)
    discriminator_output_bias: ClassVar[bool] = True
    built_networks = ("generator", "discriminator")
    prediction_files = ("samples.pt", "latent.pt", "samples.png")
    checkpoint_renames = {"fixed_noise": "fixed_z"}  # the fixed latent was only z before the latent contract
    # Parts of the discriminator's loss that d_loss reports (record_loss_terms), logged as epoch means train/<name>
    loss_terms: tuple[str, ...] = ()
    generator: nn.Module
    discriminator: nn.Module

    def __init__(
        self,
        latent_dim: int = 100,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        d_steps: int = 1,
        g_steps: int = 1,
        n_critic: int = 1,
        real_label: float = 1.0,
        num_fixed_samples: int = 40,
        predict_samples: int = 100,
    ) -> None:
        super().__init__()
        if min(d_steps, g_steps, n_critic) < 1:
            raise ValueError(f"d_steps, g_steps and n_critic must be at least 1, got {d_steps}, {g_steps}, {n_critic}")
        if not 0 < real_label <= 1:
            raise ValueError(f"real_label must be in (0, 1], got {real_label}")
        if min(latent_dim, num_fixed_samples, predict_samples) < 1:
            raise ValueError(
                f"latent_dim, num_fixed_samples and predict_samples must be at least 1, got {latent_dim}, "
                f"{num_fixed_samples}, {predict_samples}"
            )
        self.automatic_optimization = False
        # Buffers: they move with .to(device), land in checkpoints and are the same on every DDP rank. Their own
        # generator keeps the grid's latent the same whatever the training seed, so runs can be compared.
        fixed = self.make_fixed_latent(num_fixed_samples, torch.Generator().manual_seed(0))
        self.fixed_latent_keys = tuple(fixed)
        for key, value in fixed.items():
            self.register_buffer(f"fixed_{key}", value)
        self.example_input_array = {key: value[:2] for key, value in fixed.items()}  # forward takes the latent
        self.train_means = EpochMeans("d_loss", "g_loss", *self.loss_terms)  # updated every step
        self.track_epoch_metrics(train={"means": self.train_means})

    @classmethod
    def family_callbacks(cls) -> list[Callback]:
        from lightning_zoo.callbacks import SampleGrid

        return [SampleGrid()]

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            self.check_fits_data(self.trainer.datamodule)
        # Lightning would only fail at the first generator backward, with a traceback; say it up front.
        strategy = self.trainer.strategy
        if ddp_finds_unused_parameters(strategy) is False and not isinstance(strategy, GANDDPStrategy):
            raise ZooError(
                "a GAN step updates one network at a time, which Lightning's DDP (one wrapper for the whole module) "
                f"cannot sync: use --trainer.strategy {self.ddp_strategy} (or --config configs/trainer/ddp_gan.yaml)"
            )

    def check_fits_data(self, datamodule: Any) -> None:
        """Refuse, before any step, data this GAN would train on wrongly: images in another range than the
        generator's (a discriminator tells them apart by range alone), or batches of one for BatchNorm1d."""
        if getattr(datamodule, "batch_size", None) == 1 and self.normalises_vectors:
            name = type(self).__name__
            raise ZooError(f"{name} normalises features over a batch (BatchNorm1d): use --data.batch_size 2 or more")
        data_range = getattr(datamodule, "value_range", None)
        made = [*map(float, self.output_range)]
        if data_range is not None and [*map(float, data_range)] != made:
            raise ZooError(
                f"the data's images are in {[*map(float, data_range)]} and the generator's in {made}: a discriminator "
                f"would tell them apart by their range alone; use --data.value_range '{made}'"
            )

    # -------------------------------------------------------------------------------------------- latent contract

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Latent:
        """``n`` latents: z ~ U(-1, 1), as the books' code draws it (their prose says Gaussian). Drawn with
        ``generator`` (on its device) or, without one, from the global RNG on the module's device."""
        device = generator.device if generator is not None else self.device
        return {"z": torch.rand(n, self.hparams.latent_dim, generator=generator, device=device).mul_(2).sub_(1)}

    def make_fixed_latent(self, n: int, generator: torch.Generator) -> Latent:
        """The latents the sample grids show (a conditional GAN orders their classes); called while constructing."""
        return self.sample_latent(n, generator)

    def latent_for(self, batch: RealBatch) -> Latent:
        """The latent a training batch is paired with (a conditional GAN takes the real batch's labels)."""
        return self.sample_latent(len(batch.images))

    def generate(self, latent: Mapping[str, Tensor]) -> Tensor:
        return self.generator(latent["z"])

    def forward(self, z: Tensor, **codes: Tensor) -> Tensor:
        return self.generate({"z": z, **codes})

    def fixed_latent(self) -> Latent:
        return {key: getattr(self, f"fixed_{key}") for key in self.fixed_latent_keys}

    def fixed_samples(self) -> Tensor:
        """Generator output for the fixed latent, with BatchNorm in inference mode (the books' ``training=False``)."""
        with evaluating(self.generator):
            return self.generate(self.fixed_latent())

    def interpolate(self, start: Latent, end: Latent, steps: int, spherical: bool = False) -> Latent:
        """``steps`` latents from each latent of ``start`` to the one of ``end``, row after row: float entries (z,
        continuous codes) are interpolated, the others (class labels, categories) kept from ``start``, so a
        conditional GAN walks its latent space at a fixed class. ``spherical`` follows the great circle between
        vectors of more than one element (slerp), which keeps a high-dimensional z at a typical norm."""
        weights = torch.linspace(0, 1, steps, device=start["z"].device).view(1, steps, 1)
        out = {}
        for key, a in start.items():
            if not a.is_floating_point():
                out[key] = a.repeat_interleave(steps, dim=0)
                continue
            a, b = a.flatten(1).unsqueeze(1), end[key].flatten(1).unsqueeze(1)  # (n, 1, d)
            if spherical and a.shape[-1] > 1:
                cos = F.cosine_similarity(a, b, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7).unsqueeze(-1)
                angle = torch.acos(cos)
                path = (torch.sin((1 - weights) * angle) * a + torch.sin(weights * angle) * b) / torch.sin(angle)
            else:
                path = torch.lerp(a, b, weights)
            out[key] = path.flatten(0, 1).view(-1, *start[key].shape[1:])
        return out

    # --------------------------------------------------------------------------------------------------- losses

    def real_targets(self, logits: Tensor) -> Tensor:
        return torch.full_like(logits, self.hparams.real_label)

    def discriminate(self, images: Tensor, latent: Latent) -> Tensor:
        """The discriminator's logits for ``images``, real or generated, paired with ``latent`` (a conditional
        discriminator reads its labels: the real batch's, as ``latent_for`` put them there)."""
        return self.discriminator(images)

    def d_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        # Two separate calls, as the books do, so BatchNorm never mixes real and fake statistics.
        real_logits = self.discriminate(batch.images, latent)
        return self.bce_d_loss(real_logits, self.discriminate(self.generate(latent).detach(), latent))

    def g_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        return self.bce_g_loss(self.discriminate(self.generate(latent), latent))

    def bce_d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The books' discriminator loss: binary cross-entropy of real images against ``real_label``, of generated
        ones against 0."""
        real = F.binary_cross_entropy_with_logits(real_logits, self.real_targets(real_logits))
        return real + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))

    def bce_g_loss(self, fake_logits: Tensor) -> Tensor:
        """The non-saturating generator loss: binary cross-entropy of generated images against 1."""
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

    def record_loss_terms(self, n: int, **batch_means: Tensor) -> None:
        """Adds parts of a loss (their means over a batch of ``n``), named in ``loss_terms``, to the epoch's means."""
        self.train_means.update(n, **{name: value.detach() * n for name, value in batch_means.items()})

    def after_discriminator_step(self) -> None:
        """Runs after every discriminator optimizer step (WGAN clips the critic's weights here)."""

    # ----------------------------------------------------------------------------------------------------- loop

    @contextmanager
    def training_network(self, name: str) -> Iterator[None]:
        """Within the block, ``self.<name>`` is the network's DDP wrapper under the ``ddp_gan`` strategy (so its
        backward syncs the gradients), the network itself otherwise; the other network stays unwrapped."""
        wrapper = wrapped(self, name)
        if wrapper is None:
            yield
            return
        network = self._modules[name]
        self._modules[name] = wrapper
        try:
            yield
        finally:
            self._modules[name] = network

    def discriminator_step(self, optimizer: LightningOptimizer, batch: RealBatch, latent: Latent) -> Tensor:
        with self.toggled_optimizer(optimizer), self.training_network("discriminator"):
            loss = self.d_loss(batch, latent)
            self.check_finite(loss, "discriminator loss")
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        self.after_discriminator_step()
        return loss.detach()

    def generator_step(self, optimizer: LightningOptimizer, batch: RealBatch, latent: Latent) -> Tensor:
        with self.toggled_optimizer(optimizer), self.training_network("generator"):
            loss = self.g_loss(batch, latent)
            self.check_finite(loss, "generator loss")
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        return loss.detach()

    @property
    def normalises_vectors(self) -> bool:
        """Whether a network has BatchNorm1d, which cannot normalise a batch of one vector in training."""
        return any(isinstance(m, nn.BatchNorm1d) for m in self.modules())

    def training_step(self, batch: Sequence[Tensor] | Tensor, batch_idx: int) -> None:
        real = as_real_batch(batch)
        n = len(real.images)
        if n == 1 and self.normalises_vectors:  # BatchNorm1d cannot normalise one vector in training
            name = type(self).__name__
            if self._trainer is None or batch_idx != self.trainer.num_training_batches - 1:
                raise ZooError(f"{name} normalises features over a batch (BatchNorm1d): batches of 2 or more images")
            # An epoch's remainder of one image: skipped (n_critic still counts it as a batch)
            rank_zero_warn(
                f"{name}: the epoch's last batch, of one image, is skipped (BatchNorm1d cannot normalise it)"
            )
            return
        opt_g, opt_d = self.optimizers()
        latent = self.latent_for(real)
        for _ in range(self.hparams.d_steps):
            d_loss = self.discriminator_step(opt_d, real, latent)
        step_values = {"train/d_loss_step": d_loss}
        # n_critic counts batches over the whole run, so a generator step is not lost at each epoch's end
        run_batch = batch_index_of_run(self.trainer) if self._trainer is not None else batch_idx
        if (run_batch + 1) % self.hparams.n_critic == 0:
            for _ in range(self.hparams.g_steps):
                g_loss = self.generator_step(opt_g, real, latent)
            step_values["train/g_loss_step"] = g_loss
            self.train_means.update(n, d_loss=d_loss * n, g_loss=g_loss * n)
        else:
            self.train_means.update(n, d_loss=d_loss * n)
        self.log_on_logging_steps(step_values)

    def configure_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        return self.named_optimizers(torch.optim.Adam, betas=tuple(self.hparams.betas))

    def named_optimizers(self, optimizer: type[torch.optim.Optimizer], **options) -> tuple[torch.optim.Optimizer, ...]:
        """The generator's and the discriminator's optimizers, their parameter groups named so that the learning-rate
        columns read ``lr-Adam/generator`` and ``lr-Adam-1/discriminator`` (not ``lr-Adam`` and ``lr-Adam-1``)."""
        return tuple(
            optimizer([{"params": network.parameters(), "name": name}], lr=lr, **options)
            for name, network, lr in (
                ("generator", self.generator, self.hparams.lr_g),
                ("discriminator", self.discriminator, self.hparams.lr_d),
            )
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        # A checkpoint of before the parameter groups were named resumes with them named (Lightning restores the
        # optimizers after this hook), so that its learning rates are logged under the same columns as a new run's
        for state, name in zip(checkpoint.get("optimizer_states", []), ("generator", "discriminator"), strict=False):
            for group in state.get("param_groups", []):
                group.setdefault("name", name)

    # -------------------------------------------------------------------------------------------------- predict

    def predict_dataloader(self) -> DataLoader:
        # A GAN's prediction input is its latent, drawn on the CPU from the global RNG (seeded by --seed_everything).
        latent = self.sample_latent(self.hparams.predict_samples, generator=torch.default_generator)
        return DataLoader(LatentDataset(self.predict_latent(latent)), batch_size=256)

    def predict_latent(self, latent: Latent) -> Latent:
        """The latent ``predict`` generates from, given a random one: a conditional GAN sets its classes here."""
        return latent

    def predict_step(self, batch: Latent, batch_idx: int) -> dict[str, Tensor]:
        return {"images": self.generate(batch), **batch}

    def write_predictions(self, outputs: list[dict[str, Tensor]], directory: Path) -> list[Path]:
        """``samples.pt`` (the raw N x C x H x W tensor in ``output_range``), ``latent.pt`` (the dict of latent tensors
        that made them, row i making sample i: ``z``, and a conditional GAN's ``labels`` or InfoGAN's ``category``
        and ``code``; ``generate(torch.load(...))`` makes the samples again) and ``samples.png`` (a grid, 10 a row)."""
        joined = {key: torch.cat([o[key] for o in outputs]).cpu() for key in outputs[0]}
        images = joined.pop("images").float()
        paths = [directory / "samples.pt", directory / "latent.pt"]
        for path, value in zip(paths, (images, joined), strict=True):
            with atomic_path(path) as partial:
                torch.save(value, partial)
        return [*paths, save_png(image_grid(images, 10, self.output_range), directory / "samples.png")]


class ClassConditionedGAN(GANBase):
    """Base of the GANs whose latent holds a class label (``labels``, integers in [0, num_classes)): drawn
    uniformly, and in order 0, 1, ..., num_classes - 1, 0, 1, ... in the fixed latent, so each column of a grid of
    ``num_classes`` columns shows one class. Subclasses decide what the networks do with the label.

    ``predict`` draws its classes in order (0, 1, ..., num_classes - 1, 0, ...: with 10 classes each column of
    ``samples.png`` is one class) or cycles through ``predict_classes``.

    Args:
        num_classes: Classes (linked from the DataModule).
        predict_classes: The class labels ``predict`` generates, cycled (``[7]``: only sevens); labels are the
            data's, so with ``--data.keep_classes [3, 5]`` label 1 is a 5. Default: every class.
    """

    is_family_base = True

    def __init__(self, num_classes: int = 10, predict_classes: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_choices(predict_classes, num_classes, "predict_classes", "num_classes")

    def predict_latent(self, latent: Latent) -> Latent:
        return {**latent, "labels": cycled(self.hparams.predict_classes, self.hparams.num_classes, len(latent["z"]))}

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Latent:
        latent = super().sample_latent(n, generator)
        device = latent["z"].device
        labels = torch.randint(self.hparams.num_classes, (n,), generator=generator, device=device)
        return {**latent, "labels": labels}

    def make_fixed_latent(self, n: int, generator: torch.Generator) -> Latent:
        return {**self.sample_latent(n, generator), "labels": torch.arange(n) % self.hparams.num_classes}

    @staticmethod
    def real_labels(batch: RealBatch) -> Tensor:
        if batch.labels is None:
            raise ZooError("a class-conditioned GAN trains on labelled images; the DataModule gives images alone")
        return batch.labels

    def generate(self, latent: Mapping[str, Tensor]) -> Tensor:
        return self.generator(latent["z"], latent["labels"])


def check_choices(chosen: Sequence[int] | None, count: int, option: str, of: str) -> None:
    """A conditional GAN's ``predict`` choice of labels (or categories): at least one, each in [0, count)."""
    if chosen is not None and (not chosen or any(not 0 <= c < count for c in chosen)):
        raise ValueError(f"{option} must name at least one label in [0, {of} = {count}), got {list(chosen)}")


def cycled(chosen: Sequence[int] | None, count: int, n: int) -> Tensor:
    """``n`` labels cycling through ``chosen`` (default 0 .. count - 1)."""
    values = torch.tensor(list(range(count)) if chosen is None else list(chosen), dtype=torch.long)
    return values[torch.arange(n) % len(values)]


class LatentDataset(Dataset):
    """The samples of a latent dict, one dict per index (the DataLoader collates them back into batches)."""

    def __init__(self, latent: Latent) -> None:
        self.latent = latent

    def __len__(self) -> int:
        return len(self.latent["z"])

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {key: value[index] for key, value in self.latent.items()}


def as_real_batch(batch: Any) -> RealBatch:
    """The DataModule's batch, ``images`` or ``(images,)`` or ``(images, labels)``, as a :class:`RealBatch`."""
    if isinstance(batch, Tensor):
        return RealBatch(batch)
    return RealBatch(batch[0], batch[1] if len(batch) > 1 else None)


def normal_init_(module: nn.Module, std: float = 0.02) -> None:
    """The GAN chapters' initialisation: every conv/dense weight N(0, std), biases 0 (BatchNorm keeps 1 and 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
