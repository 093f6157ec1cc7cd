"""What is special about the Wasserstein and least-squares GANs: WGAN's clipping, WGAN-GP's per-sample gradient
penalty, n_critic with WGAN's defaults, and LSGAN's losses."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from lightning_zoo.gan import LSGAN, WGAN, WGANGP, ImageDCGAN, ImageLSGAN, ImageWGAN, ImageWGANGP
from lightning_zoo.gan.base import RealBatch
from lightning_zoo.gan.wgan import gradient_penalty
from tests.helpers.train import gan_data, trainer

# The losses are mixins: each on the 32x32 DCGAN layers and on the RGB DCGAN layers (here at 1 x 32 x 32, narrow).
SMALL_IMAGE = {"input_shape": (1, 32, 32), "width": 8}


@pytest.mark.parametrize("architecture", [WGAN, partial(ImageWGAN, **SMALL_IMAGE)], ids=["dcgan", "image_dcgan"])
def test_wgan_clips_every_critic_weight_after_every_critic_step_and_never_the_generators(
    architecture, data_root, tmp_path
):
    model = architecture(lr_d=1e-2, lr_g=1e-2, n_critic=2)  # large steps: unclipped weights would leave the box
    clipped_after, generator_max = [], []
    step = model.discriminator_step

    def checked(optimizer, batch, latent):
        loss = step(optimizer, batch, latent)
        clipped_after.append(max(p.abs().max().item() for p in model.discriminator.parameters()))
        generator_max.append(max(p.abs().max().item() for p in model.generator.parameters()))
        return loss

    model.discriminator_step = checked
    trainer(tmp_path, max_epochs=1, limit_train_batches=4, limit_val_batches=0).fit(model, gan_data(data_root))
    assert len(clipped_after) == 4 and all(value <= 0.01 for value in clipped_after)
    assert min(generator_max) > 0.5  # BatchNorm's weights (1) and trained kernels are left alone


def linear_critic(weight: torch.Tensor):
    return lambda x: x.flatten(1) @ weight.flatten()


def test_the_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic_and_per_sample():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4)
    unit = torch.randn(1, 4, 4)
    unit /= unit.norm()
    # The gradient of x -> <w, x> is w everywhere: its per-sample norm is 1, so the penalty vanishes; a norm taken
    # per pixel (over channels only) would see |w_ij|, not 1, and give a positive penalty.
    assert gradient_penalty(linear_critic(unit), real, fake).item() < 1e-10
    torch.testing.assert_close(gradient_penalty(linear_critic(2 * unit), real, fake), torch.tensor(1.0))


def test_the_penalty_mixes_each_pair_with_its_own_coefficient():
    torch.manual_seed(0)
    real, fake = torch.randn(5, 1, 4, 4), torch.randn(5, 1, 4, 4)
    seen = []

    def critic(x):
        seen.append(x.detach())
        return x.flatten(1).sum(1)

    gradient_penalty(critic, real, fake)
    alpha = (seen[0] - fake) / (real - fake)  # the coefficient of every pixel
    per_sample = alpha.flatten(1)
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))  # one per sample
    assert per_sample[:, 0].unique().numel() == 5 and ((0 <= per_sample) & (per_sample <= 1)).all()


def test_the_penalty_and_its_gradient_in_bf16_autocast_are_float32s_to_bf16_precision():
    """The MNIST WGAN-GP card trains in bf16 mixed precision on the CPU: the penalty's double backward through the
    critic's bf16 convolutions must give the float32 penalty and the same gradient for the critic."""
    critic = WGANGP().discriminator
    torch.manual_seed(0)
    real, fake = torch.rand(16, 1, 32, 32) * 2 - 1, torch.rand(16, 1, 32, 32) * 2 - 1
    penalties, gradients = [], []
    for bf16 in (False, True):
        torch.manual_seed(1)  # the same interpolation coefficients
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            penalty = gradient_penalty(critic, real, fake)
        critic.zero_grad()
        penalty.backward()
        penalties.append(penalty.float())
        gradients.append(torch.cat([p.grad.flatten() for p in critic.parameters()]))
    assert penalties[0] > 0.1  # a random critic is far from 1-Lipschitz: a penalty to compare
    torch.testing.assert_close(penalties[1], penalties[0], rtol=1e-2, atol=0)
    assert torch.nn.functional.cosine_similarity(gradients[0], gradients[1], dim=0) > 0.999
    assert gradients[1].norm() / gradients[0].norm() == pytest.approx(1, rel=1e-2)


@pytest.mark.parametrize("architecture", [WGANGP, partial(ImageWGANGP, **SMALL_IMAGE)], ids=["dcgan", "image_dcgan"])
def test_wgan_gp_penalises_a_steep_critic_and_has_no_batch_norm_or_clipping(architecture):
    model = architecture()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())
    assert model.hparams.clip_value is None and model.hparams.betas == (0.0, 0.9)
    torch.manual_seed(0)
    real, fake = torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1
    with torch.no_grad():  # every layer 10x steeper: far from 1-Lipschitz
        for layer in model.discriminator:
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                layer.weight.mul_(10)
    assert gradient_penalty(model.discriminator, real, fake) > 1


def test_n_critic_5_takes_5_real_batches_for_5_critic_steps_and_1_generator_step(data_root, tmp_path):
    model = WGAN()
    assert model.hparams.n_critic == 5
    seen = {"D": [], "G": []}
    for kind, name in (("D", "discriminator_step"), ("G", "generator_step")):
        step = getattr(model, name)

        def recorded(optimizer, batch, latent, kind=kind, step=step):
            seen[kind].append(float(batch.images.sum()))
            return step(optimizer, batch, latent)

        setattr(model, name, recorded)
    trainer(tmp_path, max_epochs=1, limit_train_batches=10, limit_val_batches=0).fit(
        model, gan_data(data_root, batch_size=8)
    )
    assert len(seen["D"]) == 10 and len(set(seen["D"])) == 10
    assert seen["G"] == [seen["D"][4], seen["D"][9]]


def test_lsgan_losses_are_their_formulas_on_a_fixed_batch(data_root):
    torch.manual_seed(0)
    model = LSGAN(a=-0.5, b=0.75, c=0.25)
    dm = gan_data(data_root, batch_size=8)
    dm.setup("fit")
    images = next(iter(dm.train_dataloader()))[0]
    real_batch, latent = RealBatch(images), model.sample_latent(8)
    with torch.no_grad():
        model.eval()  # BatchNorm from running statistics: the same outputs in every call
        d_real, d_fake = model.discriminator(images), model.discriminator(model.generate(latent))
        expected_d = 0.5 * ((d_real - 0.75) ** 2).mean() + 0.5 * ((d_fake + 0.5) ** 2).mean()
        expected_g = 0.5 * ((d_fake - 0.25) ** 2).mean()
        torch.testing.assert_close(model.d_loss(real_batch, latent), expected_d)
        torch.testing.assert_close(model.g_loss(real_batch, latent), expected_g)


@pytest.mark.parametrize("architecture", [WGAN, WGANGP], ids=lambda c: c.__name__)
def test_the_critic_and_generator_losses_are_the_wasserstein_formulas_on_a_fixed_batch(architecture, data_root):
    """The critic minimises D(fake) - D(real) (plus 10 x the gradient penalty for WGAN-GP), the generator -D(fake):
    the signs a "lowers its own loss" check cannot tell apart."""
    torch.manual_seed(0)
    model = architecture().eval()
    dm = gan_data(data_root, batch_size=8)
    dm.setup("fit")
    images = next(iter(dm.train_dataloader()))[0]
    real_batch, latent = RealBatch(images), model.sample_latent(8)
    fake = model.generate(latent).detach()
    d_real, d_fake = model.discriminator(images).mean().detach(), model.discriminator(fake).mean().detach()
    torch.testing.assert_close(model.g_loss(real_batch, latent).detach(), -d_fake)
    torch.manual_seed(1)  # the penalty's interpolation points
    d_loss = model.d_loss(real_batch, latent).detach()
    if architecture is WGAN:
        torch.testing.assert_close(d_loss, d_fake - d_real)
    else:
        torch.manual_seed(1)
        penalty = gradient_penalty(model.discriminator, images, fake).detach()
        torch.testing.assert_close(d_loss, 10 * penalty + d_fake - d_real)


@pytest.mark.parametrize(
    ("on_dcgan", "on_images"), [(WGAN, ImageWGAN), (WGANGP, ImageWGANGP), (LSGAN, ImageLSGAN)], ids=lambda c: c.__name__
)
def test_the_rgb_folder_gans_train_as_their_32x32_namesakes(on_dcgan, on_images):
    dcgan, images = on_dcgan(), on_images(**SMALL_IMAGE)
    architecture_arguments = {"input_shape", "width"}
    shared = {k: v for k, v in dcgan.hparams.items() if k not in architecture_arguments}
    assert shared == {k: v for k, v in images.hparams.items() if k not in architecture_arguments}
    assert images.hparams.g_steps == 1  # not the book DCGAN's 2
    assert type(images.configure_optimizers()[1]) is type(dcgan.configure_optimizers()[1])
    critic_output = images.discriminator[-2]
    assert (critic_output.bias is None) == (dcgan.discriminator[-2].bias is None) == (on_dcgan is not LSGAN)
    assert isinstance(images, ImageDCGAN)


@pytest.mark.parametrize("architecture", [WGAN, WGANGP], ids=lambda c: c.__name__)
def test_the_critics_wasserstein_estimate_and_penalty_are_logged_apart_from_its_loss(architecture, data_root, tmp_path):
    torch.manual_seed(0)
    model = architecture()
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=3, limit_val_batches=0)
    fit.fit(model, gan_data(data_root, batch_size=8))
    logged = {k: float(v) for k, v in fit.callback_metrics.items() if k in {"train/d_loss", "train/wasserstein",
                                                                              "train/gradient_penalty"}}  # fmt: skip
    # train/d_loss is the mean of the batches' last critic losses; with one critic step a batch, the same batches
    if architecture is WGAN:
        assert set(logged) == {"train/d_loss", "train/wasserstein"}
        assert logged["train/d_loss"] == pytest.approx(-logged["train/wasserstein"], rel=1e-5)
    else:
        assert logged["train/gradient_penalty"] > 0
        assert logged["train/d_loss"] == pytest.approx(
            10 * logged["train/gradient_penalty"] - logged["train/wasserstein"], rel=1e-5
        )
