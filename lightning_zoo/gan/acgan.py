"""The auxiliary-classifier GAN of the Keras example ``mnist_acgan.py`` (spec A3): a class embedding multiplied into
the noise, and a discriminator with a second head that classifies the digit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_zoo.cards import Card, Result, classifier_fid_results
from lightning_zoo.gan.base import ClassConditionedGAN, Latent, RealBatch
from lightning_zoo.layers import checked_image_shape


class ACGANGenerator(nn.Module):
    """(z, label) -> 28x28 images: z * Embedding(label) -> Dense 1024 -> Dense 6272 (ReLU) -> 128x7x7 -> upsample ->
    Conv 256 5x5 (ReLU) -> upsample -> Conv 128 5x5 (ReLU) -> Conv channels 2x2 (tanh); 'same' convolutions,
    Keras' initialisers (glorot-normal convolutions and embedding, glorot-uniform dense layers, zero biases)."""

    def __init__(self, latent_dim: int = 100, num_classes: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_classes, latent_dim)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 1024), nn.ReLU(),
            nn.Linear(1024, 128 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (128, 7, 7)),
            nn.Upsample(scale_factor=2), nn.Conv2d(128, 256, 5, padding="same"), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(256, 128, 5, padding="same"), nn.ReLU(),
            nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(128, channels, 2), nn.Tanh(),  # TF's 'same' for a 2x2 kernel
        )  # fmt: skip
        nn.init.xavier_normal_(self.embedding.weight)
        for layer in self.net:
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                (nn.init.xavier_normal_ if isinstance(layer, nn.Conv2d) else nn.init.xavier_uniform_)(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.net(z * self.embedding(labels))


class ACGANDiscriminator(nn.Module):
    """28x28 images -> (real/fake logit (N,), class logits (N, num_classes)): Conv 32 (3x3/2), 64 (/1), 128 (/2),
    256 (/1), each followed by LeakyReLU(0.3) and Dropout(0.3) (Keras' defaults in the script), then two linear
    heads on the flattened 12,544 features. The script's sigmoid and softmax live in the losses."""

    def __init__(self, num_classes: int = 10, channels: int = 1, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for a, b, stride in [(channels, 32, 2), (32, 64, 1), (64, 128, 2), (128, 256, 1)]:
            conv = nn.Conv2d(a, b, 3, stride=stride, padding=1)  # 'same' shapes at stride 1 and 2 (28 -> 14 -> 7)
            layers += [conv, nn.LeakyReLU(0.3), nn.Dropout(dropout)]
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.adversarial = nn.Linear(256 * 7 * 7, 1)
        self.auxiliary = nn.Linear(256 * 7 * 7, num_classes)
        for layer in self.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(images)
        return self.adversarial(h).flatten(), self.auxiliary(h)


class ACGAN(ClassConditionedGAN):
    """The Keras ``mnist_acgan`` example: per batch, one discriminator step on the real images (with their labels)
    and as many fakes (with random labels) in one batch, then one generator step on twice as many new latents with
    real targets for all of them; losses BCE on the real/fake logit plus cross-entropy of the class head, both on
    logits; Adam 2e-4 / 0.5, batch 100, 50 epochs (the 2017 script). Labels are hard (the spec lists no smoothing).

    Args:
        input_shape: (channels, 28, 28), linked from the DataModule.
        dropout: Dropout after each discriminator convolution.
        **kwargs: ``num_classes`` (linked) and any argument of :class:`~lightning_zoo.gan.base.GANBase`.
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), dropout: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        channels, _, _ = checked_image_shape(type(self).__name__, input_shape, side=28, fix=": use --data.padding 0")
        self.generator = ACGANGenerator(self.hparams.latent_dim, self.hparams.num_classes, channels)
        self.discriminator = ACGANDiscriminator(self.hparams.num_classes, channels, dropout)

    def losses(self, images: Tensor, real: Tensor, labels: Tensor) -> Tensor:
        """BCE of the real/fake head against ``real`` (targets) plus cross-entropy of the class head, on logits."""
        adversarial, classes = self.discriminator(images)
        return F.binary_cross_entropy_with_logits(adversarial, real) + F.cross_entropy(classes, labels)

    def d_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        n = len(batch.images)
        fakes = self.generate(latent).detach()
        targets = torch.cat([torch.full((n,), self.hparams.real_label), torch.zeros(n)]).to(fakes)
        labels = torch.cat([self.real_labels(batch), latent["labels"]])
        return self.losses(torch.cat([batch.images, fakes]), targets, labels)

    def g_loss(self, batch: RealBatch, latent: Latent) -> Tensor:
        fresh = self.sample_latent(2 * len(batch.images))  # the script's generator step: 2 x batch new latents
        fakes = self.generate(fresh)
        return self.losses(fakes, torch.ones(len(fakes), device=fakes.device), fresh["labels"])

    def discriminate(self, images: Tensor, latent: Mapping[str, Tensor]) -> Tensor:
        return self.discriminator(images)[0]


# A CPU with AMX trains it several times faster in bf16 than in float32 (README, Speed): a result says which.
PART_OF_SCHEDULE = "{epochs_trained} of the script's {book_epochs} epochs, {precision}"

CARDS = (
    Card(
        name="acgan_mnist",
        family="gan",
        source="Keras example mnist_acgan.py (spec A3)",
        config="configs/gan/acgan_mnist.yaml",
        dataset="MNIST train (60,000)",
        parameters={"generator": 8_172_521, "discriminator": 525_835},
        parameters_from_book=False,
        results=(
            *classifier_fid_results("acgan_mnist", PART_OF_SCHEDULE),
            Result(
                "samples classified as the requested digit",
                None,
                "1,000 samples per digit, classified by the zoo's MNIST feature network (our target: at least 90 %)",
                ours="acgan_mnist.json:conditional_accuracy_pct",
                note=PART_OF_SCHEDULE,
            ),
        ),
        deviations=(
            "sigmoid and softmax heads become logits with BCE-with-logits and cross-entropy (numerically stabler)",
            "the discriminator's stride-2 3x3 convolutions pad one pixel on every side; Keras' 'same' pads only after "
            "(0 before, 1 after): the same shapes and parameter counts, the grid shifted by one pixel",
            "glorot_normal kernels are PyTorch's untruncated xavier_normal_ (Keras 2's is a truncated normal)",
        ),
    ),
)
