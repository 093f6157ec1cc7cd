"""The manual-optimisation loop every GAN shares; a GAN defines only its networks (and, if it differs, its losses)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_lightning.core.optimizer import LightningOptimizer
from pytorch_lightning.strategies import DDPStrategy
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics import MeanMetric

from lightning_zoo.core import ZooError, ZooModule, inference_mode_of
from lightning_zoo.files import atomic_path
from lightning_zoo.media import image_grid, save_png


class GAN(ZooModule):
    """Base of the GANs: per batch, ``d_steps`` discriminator steps then ``g_steps`` generator steps, all on the
    same noise batch (the books' "1 D step, then 2 G steps").

    Subclasses set ``self.generator`` (noise -> images in ``output_range``) and ``self.discriminator``
    (images -> one logit each) and may override ``d_loss`` / ``g_loss`` (e.g. a gradient penalty needs both).
    The default losses are the non-saturating BCE-with-logits losses.

    Each step toggles its optimizer, so the other network's parameters get no gradient. Under DDP that leaves
    parameters unused in every backward: use ``strategy: ddp_find_unused_parameters_true`` (the GAN configs do).
    ``trainer.global_step`` counts every optimizer step, so one batch advances it by ``d_steps + g_steps``.

    Args:
        latent_dim: Size of the noise vector z ~ U(-1, 1)^latent_dim.
        lr_g, lr_d: Adam learning rates of generator and discriminator.
        betas: Adam betas (beta1 0.5 as in DCGAN).
        d_steps, g_steps: Discriminator and generator steps per batch.
        num_fixed_samples: Size of the fixed noise batch the sample grids are drawn from.
        predict_samples: Number of samples ``predict`` generates.
    """

    output_range = (-1.0, 1.0)
    generator: nn.Module
    discriminator: nn.Module

    def __init__(
        self,
        latent_dim: int = 100,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        d_steps: int = 1,
        g_steps: int = 2,
        num_fixed_samples: int = 40,
        predict_samples: int = 100,
    ) -> None:
        super().__init__()
        if d_steps < 1 or g_steps < 1:
            raise ValueError(f"d_steps and g_steps must be at least 1, got {d_steps} and {g_steps}")
        self.automatic_optimization = False
        self.latent_dim, self.lr_g, self.lr_d, self.betas = latent_dim, lr_g, lr_d, tuple(betas)
        self.d_steps, self.g_steps, self.predict_samples = d_steps, g_steps, predict_samples
        # A buffer: it moves with .to(device), lands in checkpoints and is the same on every DDP rank. Its own
        # generator keeps the grid's noise the same whatever the training seed, so runs can be compared.
        self.register_buffer("fixed_noise", self.sample_noise(num_fixed_samples, torch.Generator().manual_seed(0)))
        # Epoch values (see log_epoch_metrics); a NaN loss stays visible instead of being dropped.
        self.d_loss_mean, self.g_loss_mean = MeanMetric(nan_strategy="disable"), MeanMetric(nan_strategy="disable")

    def setup(self, stage: str) -> None:
        super().setup(stage)
        strategy = self.trainer.strategy
        # Lightning would only fail at the first generator backward, with a traceback; say it up front.
        if isinstance(strategy, DDPStrategy) and not getattr(strategy, "_ddp_kwargs", {}).get("find_unused_parameters"):
            raise ZooError(
                "a GAN step updates one network at a time, so DDP must expect unused parameters: use "
                "--trainer.strategy ddp_find_unused_parameters_true (or --config configs/trainer/ddp_gan.yaml)"
            )

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ U(-1, 1), as the books' code draws it (their prose says Gaussian)."""
        device = generator.device if generator is not None else self.device
        return torch.rand(n, self.latent_dim, generator=generator, device=device).mul_(2).sub_(1)

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        # Two separate calls, as the books do, so BatchNorm never mixes real and fake statistics.
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(
            real_logits, torch.ones_like(real_logits)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))

    def g_loss(self, fake: Tensor) -> Tensor:
        fake_logits = self.discriminator(fake)
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

    def discriminator_step(self, optimizer: LightningOptimizer, real: Tensor, z: Tensor) -> Tensor:
        with self.toggled_optimizer(optimizer):
            loss = self.d_loss(real, self.generator(z).detach())
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        return loss.detach()

    def generator_step(self, optimizer: LightningOptimizer, z: Tensor) -> Tensor:
        with self.toggled_optimizer(optimizer):
            loss = self.g_loss(self.generator(z))
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        return loss.detach()

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        real = batch[0]
        opt_g, opt_d = self.optimizers()
        z = self.sample_noise(real.shape[0])
        for _ in range(self.d_steps):
            d_loss = self.discriminator_step(opt_d, real, z)
        for _ in range(self.g_steps):
            g_loss = self.generator_step(opt_g, z)
        self.d_loss_mean.update(d_loss, weight=len(real))
        self.g_loss_mean.update(g_loss, weight=len(real))
        self.log_on_logging_steps({"train/d_loss_step": d_loss, "train/g_loss_step": g_loss})

    def on_train_epoch_end(self) -> None:
        self.log_epoch_metrics({"train/d_loss": self.d_loss_mean, "train/g_loss": self.g_loss_mean})

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.lr_g, betas=self.betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.lr_d, betas=self.betas)
        return opt_g, opt_d

    def fixed_samples(self) -> Tensor:
        """Generator output for the fixed noise, with BatchNorm in inference mode (the books' ``training=False``)."""
        with inference_mode_of(self.generator):
            return self.generator(self.fixed_noise)

    def predict_dataloader(self) -> DataLoader:
        # A GAN's prediction input is noise, drawn on the CPU from the global RNG (seeded by --seed_everything).
        noise = self.sample_noise(self.predict_samples, generator=torch.default_generator)
        return DataLoader(TensorDataset(noise), batch_size=256)

    def predict_step(self, batch: tuple[Tensor], batch_idx: int) -> Tensor:
        return self.generator(batch[0])

    def write_predictions(self, outputs: list[Tensor], directory: Path) -> list[Path]:
        """``samples.pt`` (the raw N x C x H x W tensor in ``output_range``) and ``samples.png`` (a grid)."""
        images = torch.cat(outputs).float().cpu()
        tensor_path = directory / "samples.pt"
        with atomic_path(tensor_path) as partial:
            torch.save(images, partial)
        return [tensor_path, save_png(image_grid(images, 10, self.output_range), directory / "samples.png")]


def normal_init_(module: nn.Module, std: float = 0.02) -> None:
    """The GAN chapters' initialisation: every conv/dense weight N(0, std), biases 0 (BatchNorm keeps 1 and 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            nn.init.zeros_(m.bias)
