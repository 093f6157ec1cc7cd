"""What is special about each GAN of the books, beyond the contract every card gets: step counts, what each step
may change, the losses the books (and their bugs) define, and what conditioning does."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lightning_zoo.core import ZooError
from lightning_zoo.gan import ACGAN, ConditionalGAN, FashionGAN, InfoGAN, VanillaGAN
from lightning_zoo.gan.base import RealBatch, as_real_batch
from tests.helpers.train import gan_data, state_of, trainer

LAYOUTS = {VanillaGAN: 0, ConditionalGAN: 0, ACGAN: 0, InfoGAN: 2}  # MNIST padding each model's layout needs


def fixed_batch(data_root, padding: int, n: int = 16) -> RealBatch:
    data = gan_data(data_root, padding=padding, batch_size=n)
    data.setup("fit")
    return as_real_batch(next(iter(data.train_dataloader())))


@pytest.mark.parametrize(
    "model, d_per_batch, g_per_batch",
    [(VanillaGAN(), 1, 2), (ConditionalGAN(), 1, 2), (InfoGAN(), 1, 2), (ACGAN(), 1, 1)],
    ids=["vanilla", "cgan", "infogan", "acgan"],
)
def test_steps_per_batch_and_each_step_changes_only_its_own_network(
    model, d_per_batch, g_per_batch, data_root, tmp_path
):
    events = []
    for kind, name in (("D", "discriminator_step"), ("G", "generator_step")):
        step = getattr(model, name)

        def recorded(optimizer, batch, latent, kind=kind, step=step):
            g, d = state_of(model.generator), state_of(model.discriminator)
            loss = step(optimizer, batch, latent)
            moved = {
                "G": [k for k, p in model.generator.named_parameters() if not torch.equal(p, g[k])],
                "D": [k for k, p in model.discriminator.named_parameters() if not torch.equal(p, d[k])],
            }
            events.append((kind, moved))
            return loss

        setattr(model, name, recorded)
    padding = LAYOUTS[type(model)]
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root, padding=padding, batch_size=8))
    assert [kind for kind, _ in events] == (["D"] * d_per_batch + ["G"] * g_per_batch) * 2
    assert t.global_step == 2 * (d_per_batch + g_per_batch)
    for kind, moved in events:
        other = "G" if kind == "D" else "D"
        assert moved[kind] and not moved[other], (kind, moved)
    if isinstance(model, InfoGAN):  # the Q heads are the discriminator's: its steps train them, G's never do
        d_moved = set().union(*(set(m["D"]) for k, m in events if k == "D"))
        assert {"continuous.weight", "categorical.weight", "adversarial.weight"} <= d_moved


def test_label_smoothing_changes_the_discriminator_loss_by_the_expected_amount(data_root):
    """BCE(l, t) = softplus(l) - t * l, so lowering the real target from 1 to 0.9 adds 0.1 * mean(real logits)."""
    torch.manual_seed(0)
    model = VanillaGAN()
    batch = fixed_batch(data_root, padding=0)
    latent = model.sample_latent(len(batch.images))
    plain = model.d_loss(batch, latent)
    model.hparams.real_label = 0.9
    smoothed = model.d_loss(batch, latent)
    real_logits = model.discriminator(batch.images)
    torch.testing.assert_close(smoothed - plain, 0.1 * real_logits.mean())


def test_infogan_continuous_loss_is_zero_when_q_recovers_the_sampled_code_and_positive_otherwise():
    """The book's bug: its loss ``sum(Q_cont^2)`` never looked at the sampled code."""
    model = InfoGAN()
    latent = model.sample_latent(64, torch.Generator().manual_seed(0))
    exact_category = F.one_hot(latent["category"], 10).float() * 50  # (near) certain, right category
    recovered = model.information_loss(latent["code"].clone(), exact_category, latent)
    assert float(recovered) < 1e-6
    wrong_code = model.information_loss(latent["code"] + 1.0, exact_category, latent)
    assert float(wrong_code) == pytest.approx(0.1 * 1.0, rel=1e-4)  # lambda_cont * mean((1.0)^2)
    zero_q = model.information_loss(torch.zeros_like(latent["code"]), exact_category, latent)
    assert float(zero_q) > 0.05  # the book's loss would have called Q's output 0 perfect
    wrong_category = model.information_loss(latent["code"], exact_category.roll(1, dims=1), latent)
    assert float(wrong_category) > 10  # lambda_cat * cross-entropy of a confident wrong category


def test_infogan_grid_has_the_books_rows_and_columns():
    model = InfoGAN()
    assert model.fixed_code.flatten().tolist() == [float(-3 + 2 * (i // 10)) for i in range(40)]
    assert model.fixed_category.tolist() == [i % 10 for i in range(40)]


@pytest.mark.parametrize("model_class", [ConditionalGAN, ACGAN])
def test_a_conditional_generators_output_depends_on_the_label(model_class):
    model = model_class().eval()
    latent = model.sample_latent(8, torch.Generator().manual_seed(0))
    other = {**latent, "labels": (latent["labels"] + 1) % 10}
    assert not torch.allclose(model.generate(latent), model.generate(other))
    assert model.fixed_labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # a class per grid column


def test_cgan_scores_real_and_fake_with_the_real_batchs_labels(data_root):
    model = ConditionalGAN()
    batch = fixed_batch(data_root, padding=0)
    latent = model.latent_for(batch)
    assert torch.equal(latent["labels"], batch.labels)
    seen = []
    model.discriminator.forward = lambda images, labels, f=model.discriminator.forward: (
        seen.append(labels) or f(images, labels)
    )
    model.d_loss(batch, latent)
    assert len(seen) == 2 and all(torch.equal(labels, batch.labels) for labels in seen)


def test_acgan_class_head_loss_uses_logits_not_probabilities(data_root, monkeypatch):
    """Other collections put a softmax before cross-entropy (a second softmax); here the head's logits go in."""
    model = ACGAN()
    batch = fixed_batch(data_root, padding=0)
    latent = model.sample_latent(len(batch.images))
    received = []
    monkeypatch.setattr(F, "cross_entropy", lambda logits, target, **kw: received.append(logits) or logits.sum() * 0)
    model.d_loss(batch, latent)
    _, class_logits = model.discriminator(torch.cat([batch.images, model.generate(latent)]))
    assert len(received) == 1 and received[0].shape == (32, 10)
    assert not torch.allclose(received[0].softmax(1).sum(1), received[0].sum(1))  # raw logits, not probabilities
    assert received[0].min() < 0 or received[0].max() > 1


def test_acgan_generator_step_draws_twice_the_batch_of_fresh_latents(data_root):
    model = ACGAN()
    batch = fixed_batch(data_root, padding=0, n=8)
    sizes = []
    model.generate = lambda latent, f=model.generate: sizes.append(len(latent["z"])) or f(latent)
    model.g_loss(batch, model.sample_latent(8))
    assert sizes == [16]


def test_acgan_losses_are_their_formulas_on_a_fixed_batch(data_root):
    """The discriminator: BCE of real (target real_label) and fake (0) plus cross-entropy of every image's class; the
    generator: BCE of its fresh fakes against 1 plus cross-entropy of the classes it was asked for."""
    torch.manual_seed(0)
    model = ACGAN().eval()  # dropout off: the same outputs in every call
    batch = fixed_batch(data_root, padding=0, n=8)
    latent = model.sample_latent(8)
    with torch.no_grad():
        adversarial, classes = model.discriminator(torch.cat([batch.images, model.generate(latent)]))
        targets = torch.cat([torch.full((8,), model.hparams.real_label), torch.zeros(8)])
        expected_d = F.binary_cross_entropy_with_logits(adversarial, targets) + F.cross_entropy(
            classes, torch.cat([batch.labels, latent["labels"]])
        )
        torch.testing.assert_close(model.d_loss(batch, latent), expected_d)
        torch.manual_seed(1)
        g_loss = model.g_loss(batch, latent)
        torch.manual_seed(1)
        fresh = model.sample_latent(16)
        adversarial, classes = model.discriminator(model.generate(fresh))
        expected_g = F.binary_cross_entropy_with_logits(adversarial, torch.ones(16)) + F.cross_entropy(
            classes, fresh["labels"]
        )
        torch.testing.assert_close(g_loss, expected_g)


def test_infogan_losses_are_their_formulas_with_the_books_weights_on_a_fixed_batch(data_root):
    """Both networks add the information loss (cross-entropy of the category, 0.1 x MSE of the continuous code) to
    their BCE: the discriminator's of real (target real_label) and fake (0), the generator's of fake against 1."""
    torch.manual_seed(0)
    model = InfoGAN().eval()  # BatchNorm from running statistics: the same outputs in every call
    batch = fixed_batch(data_root, padding=2, n=8)
    latent = model.sample_latent(8)
    with torch.no_grad():
        real_logits, _, _ = model.discriminator(batch.images)
        fake_logits, code, category_logits = model.discriminator(model.generate(latent))
        information = F.cross_entropy(category_logits, latent["category"]) + 0.1 * F.mse_loss(code, latent["code"])
        real_target = torch.full_like(real_logits, model.hparams.real_label)
        expected_d = (
            F.binary_cross_entropy_with_logits(real_logits, real_target)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            + information
        )
        expected_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits)) + information
        torch.testing.assert_close(model.d_loss(batch, latent), expected_d)
        torch.testing.assert_close(model.g_loss(batch, latent), expected_g)


def test_the_sigmoid_gans_work_in_zero_one():
    assert FashionGAN.output_range == (0.0, 1.0) and VanillaGAN(output="sigmoid").output_range == (0.0, 1.0)
    images = FashionGAN().generate(FashionGAN().sample_latent(4))
    assert images.shape == (4, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_the_minimax_generator_loss_is_log_one_minus_d(data_root):
    model = VanillaGAN(generator_loss="minimax")
    batch = fixed_batch(data_root, padding=0)
    latent = model.sample_latent(len(batch.images))
    logits = model.discriminator(model.generate(latent))
    torch.testing.assert_close(model.g_loss(batch, latent), torch.log1p(-torch.sigmoid(logits)).mean())


@pytest.mark.parametrize("model_class", [ConditionalGAN, ACGAN])
def test_class_conditioned_gans_refuse_unlabelled_images_with_one_line(model_class):
    model = model_class()
    batch = RealBatch(torch.zeros(4, 1, 28, 28))
    with pytest.raises(ZooError, match="trains on labelled images; the DataModule gives images alone"):
        model.d_loss(batch, model.latent_for(batch))


@pytest.mark.parametrize(("model_class", "key", "options"), [(ConditionalGAN, "labels", "predict_classes"),
                                                           (InfoGAN, "category", "predict_categories")])  # fmt: skip
def test_predict_draws_every_class_in_order_or_the_chosen_ones_and_saves_the_latent_that_made_each_sample(
    model_class, key, options, tmp_path
):
    """Each column of the 10-wide grid is one class; ``latent.pt`` regenerates ``samples.pt`` exactly."""
    every = model_class(predict_samples=23)
    outputs = trainer(tmp_path).predict(every)
    every.write_predictions(outputs, tmp_path / "every")
    latent = torch.load(tmp_path / "every" / "latent.pt")
    assert latent[key].tolist() == [i % 10 for i in range(23)] and latent["z"].shape == (23, 100)
    with torch.no_grad():
        torch.testing.assert_close(every.eval().generate(latent), torch.load(tmp_path / "every" / "samples.pt"))
    sevens = model_class(predict_samples=5, **{options: [7, 2]})
    sevens.write_predictions(trainer(tmp_path).predict(sevens), tmp_path / "sevens")
    assert torch.load(tmp_path / "sevens" / "latent.pt")[key].tolist() == [7, 2, 7, 2, 7]
    for wrong in ([], [10], [-1]):
        with pytest.raises(ValueError, match=rf"{options} must name at least one label in \[0, "):
            model_class(**{options: wrong})


def test_a_gan_refuses_data_in_another_range_than_its_generators_and_batches_one_batchnorm1d_cannot_take(
    data_root, tmp_path
):
    with pytest.raises(ZooError, match=r"the data's images are in \[0.0, 1.0\] and the generator's in \[-1.0, 1.0\]"):
        trainer(tmp_path, max_epochs=1).fit(ConditionalGAN(), gan_data(data_root, padding=0, value_range=(0.0, 1.0)))
    FashionGAN().check_fits_data(gan_data(data_root, padding=0, value_range=(0.0, 1.0)))  # its sigmoid's range
    with pytest.raises(ZooError, match="InfoGAN normalises features over a batch .BatchNorm1d.: use --data.batch_"):
        InfoGAN().check_fits_data(gan_data(data_root, batch_size=1))
    ConditionalGAN().check_fits_data(gan_data(data_root, padding=0, batch_size=1))  # no BatchNorm1d: one image is fine


def test_an_epochs_last_batch_of_one_image_is_skipped_by_a_gan_with_batchnorm1d(data_root, tmp_path):
    """256 training images in batches of 255 leave one: BatchNorm1d cannot normalise it (it raised after the whole
    epoch); the batch is skipped with a warning and the epoch's other batch trained."""
    model = InfoGAN()
    with pytest.warns(UserWarning, match="InfoGAN: the epoch's last batch, of one image, is skipped"):
        trainer(tmp_path, max_epochs=1).fit(model, gan_data(data_root, batch_size=255, train_split="train"))
    assert model.trainer.global_step == 1 + 2  # one batch's discriminator step and two generator steps
    ones = torch.utils.data.DataLoader(torch.zeros(4, 1, 32, 32), batch_size=1)  # not the data's: no check before
    with pytest.raises(ZooError, match="InfoGAN normalises features over a batch .BatchNorm1d.: batches of 2 or more"):
        trainer(tmp_path, max_epochs=1).fit(InfoGAN(), ones)  # every batch skipped would train nothing, in silence


@pytest.mark.parametrize("model_class", [VanillaGAN, ConditionalGAN, InfoGAN, ACGAN, FashionGAN])
def test_discriminate_gives_one_real_fake_logit_per_image(model_class):
    """``discriminate`` is the real/fake logit whatever heads the discriminator has (InfoGAN's returned its Q heads
    too, a 3-tuple, for any code that scored images through it)."""
    model = model_class().eval()
    latent = model.sample_latent(4)
    with torch.no_grad():
        logits = model.discriminate(model.generate(latent), latent)
    assert isinstance(logits, torch.Tensor) and logits.shape == (4,)


def test_a_checkpoint_of_unnamed_optimizer_groups_is_resumed_with_the_groups_named(data_root, tmp_path):
    """Checkpoints of before the groups were named: restored as they are, a resumed run's learning rates would be
    logged as lr-Adam and lr-Adam-1 again, a new run's as lr-Adam/generator and lr-Adam-1/discriminator."""
    from lightning_zoo.gan import DCGAN

    fit = trainer(tmp_path, max_steps=1)
    fit.fit(DCGAN(), gan_data(data_root, padding=2))
    fit.save_checkpoint(tmp_path / "old.ckpt")
    checkpoint = torch.load(tmp_path / "old.ckpt", weights_only=False)
    for state in checkpoint["optimizer_states"]:
        assert [group.pop("name") for group in state["param_groups"]] in (["generator"], ["discriminator"])
    DCGAN().on_load_checkpoint(checkpoint)
    assert [s["param_groups"][0]["name"] for s in checkpoint["optimizer_states"]] == ["generator", "discriminator"]
    optimizers = DCGAN().configure_optimizers()
    optimizers[0].load_state_dict(checkpoint["optimizer_states"][0])
    assert optimizers[0].param_groups[0]["name"] == "generator"
