"""Mean-field variational classifiers (Bayes by backprop): weights with a Normal posterior learnt through the
reparameterisation trick, trained on the evidence lower bound, and tested on samples of the posterior."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn
from torchmetrics import Metric

from lightning_zoo.core import EpochMeans, ZooError, ZooModule, batch_labels
from lightning_zoo.media import results_path, write_csv, writes_files


def normal_kl(loc: Tensor, scale: Tensor, prior_scale: float) -> Tensor:
    """KL(N(loc, scale^2) || N(0, prior_scale^2)), summed over the elements: the closed form, no sampling."""
    ratio = scale / prior_scale
    return (0.5 * (ratio.pow(2) + (loc / prior_scale).pow(2) - 1) - ratio.log()).sum()


class VariationalLinear(nn.Module):
    """A dense layer whose weights and biases each have a Normal posterior ``N(loc, softplus(rho)^2)`` and a prior
    ``N(0, prior_scale^2)``.

    In training, each call draws one sample of every weight for the whole batch (the reparameterisation trick;
    Edward's ``KLqp`` with ``n_samples=1``). In evaluation it uses the posterior means, unless :func:`posterior_samples`
    has drawn a set of samples: then a (B, in) input gives (S, B, out), one output per sample, and an (S, B, in)
    input (from an earlier variational layer) gives sample s's output for its input s.

    ``loc`` and ``rho`` start at N(0, 1) draws, as the book's ``tf.random_normal`` variables.
    """

    def __init__(self, in_features: int, out_features: int, prior_scale: float = 1.0) -> None:
        super().__init__()
        self.prior_scale = prior_scale
        self.weight_loc = nn.Parameter(torch.randn(out_features, in_features))
        self.weight_rho = nn.Parameter(torch.randn(out_features, in_features))
        self.bias_loc = nn.Parameter(torch.randn(out_features))
        self.bias_rho = nn.Parameter(torch.randn(out_features))
        self.samples: tuple[Tensor, Tensor] | None = None  # (S, out, in), (S, out) while posterior_samples holds

    def posterior(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The posterior's (weight loc, weight scale, bias loc, bias scale)."""
        return self.weight_loc, F.softplus(self.weight_rho), self.bias_loc, F.softplus(self.bias_rho)

    def kl(self) -> Tensor:
        w_loc, w_scale, b_loc, b_scale = self.posterior()
        return normal_kl(w_loc, w_scale, self.prior_scale) + normal_kl(b_loc, b_scale, self.prior_scale)

    def draw(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` samples of (weight, bias) from the posterior."""
        w_loc, w_scale, b_loc, b_scale = self.posterior()

        def noise(t: Tensor) -> Tensor:
            return torch.randn((n, *t.shape), generator=generator, device="cpu").to(t)

        return w_loc + w_scale * noise(w_loc), b_loc + b_scale * noise(b_loc)

    def forward(self, x: Tensor) -> Tensor:
        if self.samples is not None:
            weight, bias = self.samples
            # A (B, in) input goes through every sample; a deeper layer gets (S, B, in), one input per sample.
            return torch.einsum("bi,soi->sbo" if x.dim() == 2 else "sbi,soi->sbo", x, weight) + bias[:, None]
        if not self.training:
            return F.linear(x, self.weight_loc, self.bias_loc)
        w_loc, w_scale, b_loc, b_scale = self.posterior()
        weight = w_loc + w_scale * torch.randn_like(w_loc)
        return F.linear(x, weight, b_loc + b_scale * torch.randn_like(b_loc))


def variational_layers(module: nn.Module) -> list[VariationalLinear]:
    return [m for m in module.modules() if isinstance(m, VariationalLinear)]


def hold_posterior_samples(module: nn.Module, n: int, generator: torch.Generator | None = None) -> None:
    """Makes every :class:`VariationalLinear` of ``module`` use the same ``n`` posterior samples for all inputs (a
    batch of B gives S x B outputs) until :func:`release_posterior_samples`, so that a sample's accuracy can be
    counted over many batches."""
    with torch.no_grad():
        for layer in variational_layers(module):
            layer.samples = layer.draw(n, generator)


def release_posterior_samples(module: nn.Module) -> None:
    for layer in variational_layers(module):
        layer.samples = None


@contextmanager
def posterior_samples(module: nn.Module, n: int, generator: torch.Generator | None = None) -> Iterator[None]:
    """:func:`hold_posterior_samples` for the block."""
    hold_posterior_samples(module, n, generator)
    try:
        yield
    finally:
        release_posterior_samples(module)


class SampleAccuracies(Metric):
    """The accuracy of each of S posterior samples, counted over an epoch (summed over DDP ranks)."""

    full_state_update = False

    def __init__(self, samples: int) -> None:
        super().__init__()
        self.add_state("correct", torch.zeros(samples, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predicted: Tensor, target: Tensor) -> None:  # predicted: (S, B)
        self.correct += (predicted == target).sum(1)
        self.count += target.numel()

    def compute(self) -> Tensor:
        return self.correct / self.count


def predictive_summary(probs: Tensor) -> dict[str, Tensor]:
    """From the class probabilities of S posterior samples (S, B, C): the predictive distribution (their mean), its
    entropy (nats), the majority class of the S predictions, and the share of samples that predict it."""
    votes = probs.argmax(-1)  # (S, B)
    predictive = probs.mean(0)
    majority = votes.mode(0).values
    return {
        "probs": predictive,
        "entropy": -(predictive * predictive.clamp_min(1e-12).log()).sum(-1),
        "majority": majority,
        "agreement": (votes == majority).float().mean(0),
        "votes": votes,
    }


class VariationalClassifierBase(ZooModule):
    """Base of the variational classifiers: a subclass builds ``self.net`` from :class:`VariationalLinear` layers
    (logits out). Training minimises the negative ELBO per training sample: the batch's mean negative log-likelihood
    plus the closed-form KL of the posterior from the prior over ``dataset_size`` (Edward's ``scale`` = N / batch,
    divided through by N), logged as ``train/loss``, ``train/nll`` and ``train/kl``. Validation scores the posterior
    means (``val/loss``, ``val/acc``).

    Testing draws ``posterior_samples`` weight samples once (seeded by ``test_seed``) and logs each one's accuracy
    (``test/acc_mean``, ``_min``, ``_max``, ``_std``), the posterior means' (``test/acc_posterior_mean``), the
    predictive distribution's (``test/acc_predictive``), and the mean predictive entropy and agreement of the samples;
    the list of accuracies goes to ``test/posterior_accuracies-<checkpoint>.csv`` in the run folder. ``predict``
    writes each input's majority class, agreement, entropy and predictive probabilities.

    Args:
        num_classes: Output classes (linked from the DataModule).
        dataset_size: Training samples the likelihood stands for; None (default): the training set's size, read when
            the fit starts (the book's 60,000; 54,000 with ``--data.val_size 0.1``).
        posterior_samples: Weight samples drawn at test and predict time (the book: 30).
        test_seed: Seed of those samples.
    """

    is_family_base = True
    family = "bayesian"
    monitor = "val/acc"
    monitor_mode = "max"
    prediction_files = ("predictions.csv",)

    def __init__(
        self, num_classes: int = 10, dataset_size: int | None = None, posterior_samples: int = 30, test_seed: int = 0
    ) -> None:
        super().__init__()
        if (dataset_size is not None and dataset_size < 1) or posterior_samples < 1:
            raise ValueError(
                f"dataset_size and posterior_samples must be positive, got {dataset_size}, {posterior_samples}"
            )
        self.train_means = EpochMeans("loss", "nll", "kl", "acc")
        self.val_means = EpochMeans("loss", "acc")
        self.sample_accuracies = SampleAccuracies(posterior_samples)
        self.test_means = EpochMeans("acc_posterior_mean", "acc_predictive", "entropy", "agreement")
        self.track_epoch_metrics(train={"means": self.train_means}, val={"means": self.val_means})

    net: nn.Module
    built_networks = ("net",)
    last_sample_accuracies: Tensor | None = None  # each posterior sample's accuracy in the last test
    training_size: int | None = None  # the samples the likelihood stands for, once known

    def on_train_start(self) -> None:
        super().on_train_start()
        # The whole training set, on every DDP rank (each rank's batch gradient stands for it, and they are averaged),
        # and under limit_train_batches or overfit_batches too: the posterior is still the whole set's.
        given = self.hparams.dataset_size
        if given is None:
            try:
                given = len(self.trainer.train_dataloader.dataset)
            except TypeError as err:  # a dataset without a length (an iterable one)
                raise ZooError(
                    "the training data has no length: pass --model.dataset_size, the samples it holds"
                ) from err
        self.training_size = given
        rank_zero_info(f"the ELBO's likelihood stands for {self.training_size:,} training samples")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def kl(self) -> Tensor:
        return sum(layer.kl() for layer in variational_layers(self.net))

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        x, y = batch
        logits = self(x)
        nll = F.cross_entropy(logits, y)
        size = self.training_size or self.hparams.dataset_size  # (a step outside a fit needs a given size)
        if size is None:
            raise ZooError("a training step outside a fit needs dataset_size: the training set's size is read then")
        kl = self.kl() / size
        loss = nll + kl
        self.check_finite(loss)
        n = len(y)
        self.train_means.update(n, loss=loss * n, nll=nll * n, kl=kl * n, acc=(logits.argmax(-1) == y).sum())
        self.log_on_logging_steps({"train/loss_step": loss})
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)  # eval mode: the posterior means
        n = len(y)
        self.val_means.update(n, loss=F.cross_entropy(logits, y) * n, acc=(logits.argmax(-1) == y).sum())

    # ------------------------------------------------------------------------------------------ posterior samples

    def sampled_probs(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Class probabilities under ``posterior_samples`` fresh weight samples: (S, B, C)."""
        with posterior_samples(self.net, self.hparams.posterior_samples, generator):
            return self(x).softmax(-1)

    def _test_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.hparams.test_seed)

    def on_test_epoch_start(self) -> None:
        # One set of samples for the whole test set: each sample's accuracy is then one network's accuracy.
        hold_posterior_samples(self.net, self.hparams.posterior_samples, self._test_generator())

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        x, y = batch
        probs = self(x).softmax(-1)
        summary = predictive_summary(probs)
        self.sample_accuracies.update(summary["votes"], y)
        n = len(y)
        self.test_means.update(
            n,
            acc_posterior_mean=(self._posterior_mean_logits(x).argmax(-1) == y).sum(),
            acc_predictive=(summary["probs"].argmax(-1) == y).sum(),
            entropy=summary["entropy"].sum(),
            agreement=summary["agreement"].sum(),
        )

    def _posterior_mean_logits(self, x: Tensor) -> Tensor:
        """The logits of the posterior means, while a set of samples is held."""
        layers = variational_layers(self.net)
        held = [layer.samples for layer in layers]
        for layer in layers:
            layer.samples = None
        try:
            return self(x)
        finally:
            for layer, samples in zip(layers, held, strict=True):
                layer.samples = samples

    def on_test_epoch_end(self) -> None:
        release_posterior_samples(self.net)
        # reshape: with one posterior sample the metric computes a 0-d tensor
        accuracies = self.last_sample_accuracies = self.sample_accuracies.compute().float().cpu().reshape(-1)
        self.sample_accuracies.reset()
        summary = {f"test/{k}": v for k, v in self.test_means.compute().items()}
        self.test_means.reset()
        summary |= {
            "test/acc_mean": accuracies.mean(),
            "test/acc_min": accuracies.min(),
            "test/acc_max": accuracies.max(),
            "test/acc_std": accuracies.std(unbiased=False),
        }
        self.log_dict(summary)
        path = results_path(self.trainer, "posterior_accuracies.csv")
        if self.trainer.is_global_zero and writes_files(self.trainer):
            rows = [[i, f"{100 * float(a):.2f}"] for i, a in enumerate(accuracies)]
            path = write_csv(path, ["sample", "test_acc_pct"], rows)
            rank_zero_info(f"the accuracies of {len(rows)} posterior samples are in {path}")

    # ---------------------------------------------------------------------------------------------------- predict

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> dict[str, Tensor]:
        x, *rest = batch
        generator = torch.Generator().manual_seed(self.hparams.test_seed)  # the same samples for every batch
        summary = predictive_summary(self.sampled_probs(x, generator))
        return {**{k: summary[k] for k in ("probs", "entropy", "majority", "agreement")}, **batch_labels(rest)}

    def write_predictions(self, outputs: list[dict[str, Any]], directory: Path) -> list[Path]:
        """``predictions.csv`` (``ZooModule.write_class_predictions``): per input its target, the majority class of
        the posterior samples, the share of samples that predict it (``agreement``), the predictive entropy and the
        predictive probabilities."""
        column = {key: [f"{v:.4f}" for v in torch.cat([o[key] for o in outputs]).cpu().tolist()]
                  for key in ("agreement", "entropy")}  # fmt: skip
        majority = torch.cat([o["majority"] for o in outputs]).cpu()
        return [self.write_class_predictions(outputs, directory, predicted=majority, extra=column)]
