"""Wasserstein GANs as anchors-and-practices.md section 5.1 states them: WGAN (weight clipping, Arjovsky et al. 2017)
and WGAN-GP (gradient penalty, Gulrajani et al. 2017), as losses mixed into the DCGAN layers (32x32) or the RGB DCGAN
layers (a folder of images)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

from lightning_zoo.cards import Card, Result, classifier_fid_results
from lightning_zoo.gan.base import Latent, RealBatch
from lightning_zoo.gan.dcgan import DCGAN
from lightning_zoo.gan.image_dcgan import POKEMON, ImageDCGAN


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP's penalty: mean over samples of (||grad_x critic(x)|| - 1)^2 at x = a real + (1 - a) fake, with one
    coefficient a ~ U(0, 1) per sample and the norm of each sample's whole (flattened) gradient. ``create_graph``
    keeps it differentiable for the critic's update (a double backward)."""
    alpha = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    with torch.enable_grad():  # the penalty is a gradient, also where the loss is only evaluated
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (gradients.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


class WassersteinLosses:
    """A Wasserstein GAN's training, for any GAN architecture it is mixed into (``class WGAN(WassersteinLosses,
    DCGAN)``): the discriminator is a critic whose score is not squashed; it minimises mean(critic(fake)) -
    mean(critic(real)) on every batch (a fresh real batch per critic step), the generator -mean(critic(fake)) on
    every ``n_critic``-th; the critic's weights are clipped to [-``clip_value``, ``clip_value``] after every critic
    step; RMSprop 5e-5 for both.

    Args:
        clip_value: Weight clipping after every critic step (None: no clipping).
        gradient_penalty: lambda of WGAN-GP's penalty (0: none).
        optimizer: ``rmsprop`` (WGAN) or ``adam`` with ``betas`` (WGAN-GP).
        n_critic: Critic steps (batches) per generator step.
        g_steps: Generator steps on each of those batches.
        lr_g: Learning rate of the generator.
        lr_d: Learning rate of the critic.
        **kwargs: Any argument of the architecture and of :class:`~lightning_zoo.gan.base.GANBase`.
    """

    # The critic's estimate of the Wasserstein distance, mean(critic(real)) - mean(critic(fake)), is logged apart from
    # the penalty as train/wasserstein: the quantity that should track sample quality (WGAN paper, figure 3).
    loss_terms = ("wasserstein", "gradient_penalty")

    # The critic's score has no bias: both losses are differences of means, which a constant offset leaves unchanged,
    # so a bias would never receive a gradient (the WGAN reference critic has none either).
    discriminator_output_bias = False

    def __init__(
        self,
        clip_value: float | None = 0.01,
        gradient_penalty: float = 0.0,
        optimizer: Literal["rmsprop", "adam"] = "rmsprop",
        n_critic: int = 5,
        g_steps: int = 1,
        lr_g: float = 5e-5,
        lr_d: float = 5e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_critic=n_critic, g_steps=g_steps, lr_g=lr_g, lr_d=lr_d, **kwargs)
        if clip_value is not None and clip_value <= 0:
            raise ValueError(f"clip_value must be positive (or null for no clipping), got {clip_value}")

    def d_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        fake = self.generate(latent).detach()
        wasserstein = self.discriminate(batch.images, latent).mean() - self.discriminate(fake, latent).mean()
        if not self.hparams.gradient_penalty:
            self.record_loss_terms(len(fake), wasserstein=wasserstein)
            return -wasserstein
        penalty = gradient_penalty(lambda x: self.discriminate(x, latent), batch.images, fake)
        self.record_loss_terms(len(fake), wasserstein=wasserstein, gradient_penalty=penalty)
        return self.hparams.gradient_penalty * penalty - wasserstein

    def g_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        return -self.discriminate(self.generate(latent), latent).mean()

    def after_discriminator_step(self) -> None:
        if self.hparams.clip_value is not None:
            with torch.no_grad():
                for parameter in self.discriminator.parameters():
                    parameter.clamp_(-self.hparams.clip_value, self.hparams.clip_value)

    def configure_optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        if self.hparams.optimizer == "adam":
            return super().configure_optimizers()
        return self.named_optimizers(torch.optim.RMSprop)


class GradientPenaltyLosses(WassersteinLosses):
    """WGAN-GP's training for any architecture it is mixed into: the gradient penalty (lambda 10) in place of
    clipping, a critic without BatchNorm (the penalty is per sample, which BatchNorm's batch statistics would break),
    Adam 1e-4 with betas (0, 0.9), n_critic 5."""

    def __init__(
        self,
        clip_value: float | None = None,
        gradient_penalty: float = 10.0,
        discriminator_batch_norm: bool = False,
        optimizer: Literal["rmsprop", "adam"] = "adam",
        lr_g: float = 1e-4,
        lr_d: float = 1e-4,
        betas: tuple[float, float] = (0.0, 0.9),
        **kwargs: Any,
    ) -> None:
        super().__init__(
            clip_value=clip_value, gradient_penalty=gradient_penalty, discriminator_batch_norm=discriminator_batch_norm,
            optimizer=optimizer, lr_g=lr_g, lr_d=lr_d, betas=betas, **kwargs,
        )  # fmt: skip


class WGAN(WassersteinLosses, DCGAN):
    """WGAN on the 32x32 DCGAN layers (:class:`WassersteinLosses`; every :class:`~lightning_zoo.gan.dcgan.DCGAN`
    argument too)."""


class WGANGP(GradientPenaltyLosses, DCGAN):
    """WGAN-GP on the 32x32 DCGAN layers (:class:`GradientPenaltyLosses`)."""


class ImageWGAN(WassersteinLosses, ImageDCGAN):
    """WGAN on the RGB DCGAN layers for a folder of images (:class:`WassersteinLosses`; every
    :class:`~lightning_zoo.gan.image_dcgan.ImageDCGAN` argument too)."""


class ImageWGANGP(GradientPenaltyLosses, ImageDCGAN):
    """WGAN-GP on the RGB DCGAN layers for a folder of images (:class:`GradientPenaltyLosses`)."""


SOURCE = "issue 8 after anchors-and-practices.md 5.1 (no book model: the WGAN papers' losses on the DCGAN layers)"
MNIST = "MNIST train+test (70,000), padded to 32x32"
PART_OF_SCHEDULE = "{epochs_trained} of the config's {book_epochs} epochs"  # the folder WGANs' 500 are for a GPU


def critic_tracks_quality(results_file: str, measurements: str) -> Result:
    """The card row for WGAN's claim that its critic's estimate tracks sample quality (``benchmarks/gan.py``)."""
    return Result(
        "rank correlation of the critic's Wasserstein estimate with classifier-FID",
        None,
        "over the measurements of one run (WGAN's claim: the critic's estimate tracks sample quality; our target: "
        "above 0.8)",
        ours=f"{results_file}.json:wasserstein_fid_spearman",
        unit="",
        note=f"Spearman, {measurements}; the two curves: {{critic_curve}}",
    )


CARDS = (
    Card(
        name="wgan_mnist",
        family="gan",
        source=f"WGAN (weight clipping 0.01, n_critic 5, RMSprop 5e-5), {SOURCE}",
        config="configs/gan/wgan_mnist.yaml",
        dataset=MNIST,
        parameters={"generator": 1_439_873, "discriminator": 1_030_912},
        parameters_from_book=False,
        results=(
            *classifier_fid_results("wgan_mnist", "{epochs_trained} epochs"),
            critic_tracks_quality("wgan_mnist", "one measurement every 2 epochs, to epoch {epochs_trained}"),
        ),
    ),
    Card(
        name="wgan_gp_mnist",
        family="gan",
        source=f"WGAN-GP (lambda 10, n_critic 5, Adam 1e-4 (0, 0.9), no BatchNorm in the critic), {SOURCE}",
        config="configs/gan/wgan_gp_mnist.yaml",
        dataset=MNIST,
        parameters={"generator": 1_439_873, "discriminator": 1_030_144},
        parameters_from_book=False,
        results=(
            *classifier_fid_results("wgan_gp_mnist", "{epochs_trained} of {book_epochs} epochs, {precision}"),
            critic_tracks_quality("wgan_gp_mnist", "one measurement every 2 epochs, to epoch {epochs_trained}"),
            critic_tracks_quality(
                "wgan_gp_mnist_curve",
                "a separate float32 run measured every 110 batches (a fifth of an epoch), {epochs_trained} times",
            ),
        ),
    ),
    Card(
        name="wgan64_pokemon",
        family="gan",
        source=f"WGAN (weight clipping 0.01, n_critic 5, RMSprop 5e-5) on article 11's 64x64 RGB DCGAN layers, "
        f"{SOURCE}",
        config="configs/gan/wgan64_pokemon.yaml",
        dataset=POKEMON + ", 64x64",
        parameters={"generator": 12_675_715, "discriminator": 11_038_080},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 64, 64), "width": 128},
        results=classifier_fid_results("wgan64_pokemon", PART_OF_SCHEDULE + ", {precision}", folder=True),
    ),
    Card(
        name="wgan_gp64_pokemon",
        family="gan",
        source=f"WGAN-GP (lambda 10, n_critic 5, Adam 1e-4 (0, 0.9), no BatchNorm in the critic) on article 11's 64x64 "
        f"RGB DCGAN layers, {SOURCE}",
        config="configs/gan/wgan_gp64_pokemon.yaml",
        dataset=POKEMON + ", 64x64",
        parameters={"generator": 12_675_715, "discriminator": 11_034_496},
        parameters_from_book=False,
        parameter_sizes={"input_shape": (3, 64, 64), "width": 128},
        results=classifier_fid_results("wgan_gp64_pokemon", PART_OF_SCHEDULE, folder=True),
    ),
)
