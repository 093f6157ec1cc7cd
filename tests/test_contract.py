"""The contract every experiment card gets, with nothing listed per model: it trains through the real CLI, its
parameter counts are the card's, it learns, its checkpoints round-trip and resume bitwise, and predict writes its
family's artefact. Per family (not per model): a mid-epoch resume, and DDP with 2 CPU processes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from lightning_zoo.bayesian import VariationalClassifierBase
from lightning_zoo.classification import Classifier
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import load_zoo_module
from lightning_zoo.fewshot import PairModelBase
from lightning_zoo.forecasting import Forecaster, NaiveForecaster
from lightning_zoo.gan import GANBase
from lightning_zoo.language import LanguageModelBase
from lightning_zoo.seq2seq import AdditionSeq2Seq
from tests.conftest import isolated_environment
from tests.helpers.contract import (
    CARDS,
    DATA_FIXTURES,
    build,
    cli_args,
    data_class_name,
    ddp_cards,
    ddp_fit,
    fit,
    forward,
    one_card_per_family,
    rank_reports,
    weights,
)
from tests.helpers.train import MetricHistory, assert_same_state, state_of, trainer

FAMILIES = one_card_per_family()
UNDER_DDP = ddp_cards()


# Module scope: pytest runs each card's tests together, so its three-epoch run (below) is trained once for all.
@pytest.fixture(scope="module", params=CARDS, ids=[c.name for c in CARDS])
def card(request):
    return request.param


@pytest.fixture(params=FAMILIES, ids=[c.family for c in FAMILIES])
def family_card(request):
    return request.param


@dataclass
class ThreeEpochs:
    cli: ZooCLI
    folder: Path  # the run's default_root_dir: predictions/ once predicted
    checkpoints: Path  # last.ckpt, and each epoch's end as epoch=N-*.ckpt


@pytest.fixture(scope="module")
def three_epochs(card, data_root, torch_home, tmp_path_factory) -> ThreeEpochs:
    """The card's config trained through the CLI for three (two-batch) epochs on the fixture data, keeping every
    epoch's checkpoint: once per card, shared by the tests that train, reload, predict and resume."""
    folder = tmp_path_factory.mktemp(card.name) / "run"
    with isolated_environment(folder.parent, torch_home):
        every_epoch = ["--trainer.callbacks+=lightning_zoo.callbacks.ZooModelCheckpoint",
                       "--trainer.callbacks.save_top_k", "-1",
                       "--trainer.callbacks.dirpath", str(folder / "checkpoints")]  # fmt: skip
        cli = fit(card, data_root, folder, "--trainer.max_epochs", "3", *every_epoch)
    return ThreeEpochs(cli, folder, folder / "checkpoints")


def test_every_card_has_fixture_data_and_results(card):
    assert card.config_path.is_file(), f"card {card.name}: its config {card.config} is not there"
    assert data_class_name(card) in DATA_FIXTURES, f"add a fixture for {data_class_name(card)} to DATA_FIXTURES"
    assert card.results, f"card {card.name} reports no result"


def test_trains_through_the_cli(card, three_epochs):
    trainer, model = three_epochs.cli.trainer, three_epochs.cli.model
    assert trainer.state.finished and trainer.current_epoch == 3
    assert trainer.fit_loop.epoch_loop.batch_progress.total.completed == 3 * 2
    assert trainer.global_step >= 3 * 2 or not model.learns
    assert model.family == card.family, f"{card.name}: the card says {card.family}, the model is a {model.family}"


def test_parameter_counts_are_the_cards(card, data_root):
    model = build(card, data_root).model
    if card.parameter_sizes:
        model = type(model)(**{**model.hparams, **card.parameter_sizes})
    counted = {
        part: sum(p.numel() for p in (model.get_submodule(part) if part else model).parameters())
        for part in card.parameters
    }
    assert card.parameters, f"card {card.name} states no parameter count"
    assert counted == dict(card.parameters), f"card {card.name}: its config builds {type(model).__qualname__}"


class HalvedLoss(MetricHistory):
    """Stops the run once the mean loss of the last 5 steps is under half that of the first 5."""

    def __init__(self) -> None:
        super().__init__("train/loss_step")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        losses = self.history["train/loss_step"]
        if len(losses) >= 10 and sum(losses[-5:]) < 0.5 * sum(losses[:5]):
            trainer.should_stop = True


def loss_halves(
    model: Classifier | Forecaster | LanguageModelBase | AdditionSeq2Seq | PairModelBase | VariationalClassifierBase,
    cli,
    workdir: Path,
    steps: int,
):
    """The loss on one batch halves (the mean of 5 steps against the first 5) within the card's ``learns_within``
    steps (100 unless it says more). Most classifiers need 10-30; the Antirectifier (its unit-norm features grow
    the logits slowly) and the CIFAR-10 convnet (its batch is augmented anew every step) 50-80."""
    halved = HalvedLoss()
    trainer(workdir, max_steps=steps, overfit_batches=1, callbacks=[halved], limit_val_batches=0).fit(
        model, cli.datamodule
    )
    losses = halved.history["train/loss_step"]
    assert trainer_stopped_early(losses, steps), (
        f"the loss did not halve in {steps} steps: {losses[:5]}...{losses[-5:]}"
    )


def trainer_stopped_early(losses: list[float], steps: int) -> bool:
    return len(losses) < steps or sum(losses[-5:]) < 0.5 * sum(losses[:5])


def gan_learns(model: GANBase, cli, workdir: Path, steps: int) -> None:
    """On one fixed batch: every discriminator step changes the discriminator only and lowers its loss on that
    batch and latent, every generator step likewise for the generator; after a few batches every parameter moved.
    (``steps`` is not needed: six batches of ``n_critic`` discriminator steps show all of it.)"""
    events: list[tuple[str, bool, bool, bool]] = []

    def probed(kind: str, step, loss):
        def wrapper(optimizer, batch, latent):
            g, d = state_of(model.generator), state_of(model.discriminator)
            rng = torch.get_rng_state()
            loss_before = step(optimizer, batch, latent)
            # Again with the step's randomness (dropout masks, WGAN-GP's mixing), without changing training's RNG
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                torch.set_rng_state(rng)
                lowered = float(loss(batch, latent)) < float(loss_before)
            g_moved = any(not torch.equal(p, g[k]) for k, p in model.generator.named_parameters())
            d_moved = any(not torch.equal(p, d[k]) for k, p in model.discriminator.named_parameters())
            events.append((kind, g_moved, d_moved, lowered))
            return loss_before

        return wrapper

    # A tenth of the configured learning rates: Adam's first steps move every weight by about lr, which on a batch
    # of 8 overshoots an unbounded loss (LSGAN's squares go up at 2e-4, and down at every step at 2e-5).
    model.hparams.lr_g, model.hparams.lr_d = model.hparams.lr_g / 10, model.hparams.lr_d / 10
    before = state_of(model)
    model.discriminator_step = probed("D", model.discriminator_step, model.d_loss)
    model.generator_step = probed("G", model.generator_step, model.g_loss)
    batches = 6 * model.hparams.n_critic
    trainer(workdir, max_epochs=batches, overfit_batches=1, limit_val_batches=0).fit(model, cli.datamodule)
    assert {e[:3] for e in events} == {("D", False, True), ("G", True, False)}
    assert sum(e[3] for e in events) >= 0.8 * len(events), events
    after = state_of(model)
    assert all(not torch.equal(before[k], after[k]) for k, _ in model.named_parameters())


def baseline_is_its_formula(model: NaiveForecaster, cli, workdir: Path, steps: int) -> None:
    """A baseline learns nothing: its forecast is the target's last input value, and its loss that formula's
    error (the book's ``np.mean(np.abs(samples[:, -1, 1] - targets))``, or its square for an MSE card)."""
    cli.datamodule.setup("fit")
    x, y, *_ = next(iter(cli.datamodule.train_dataloader()))
    last = x[:, -1, cli.datamodule.target_index]
    assert torch.equal(model(x), last)
    error = last - y
    expected = error.abs().mean() if model.hparams.loss == "mae" else error.pow(2).mean()
    assert torch.isclose(model.loss_fn(model(x), y), expected)


# The first matching base decides: the baseline before the forecasters that learn.
LEARNING_CHECKS = {
    Classifier: loss_halves,
    NaiveForecaster: baseline_is_its_formula,
    Forecaster: loss_halves,
    GANBase: gan_learns,
    LanguageModelBase: loss_halves,
    AdditionSeq2Seq: loss_halves,
    PairModelBase: loss_halves,
    VariationalClassifierBase: loss_halves,
}


def test_learns_on_a_fixed_batch(card, data_root, tmp_path):
    torch.manual_seed(0)
    cli = build(card, data_root)
    checks = [check for base, check in LEARNING_CHECKS.items() if isinstance(cli.model, base)]
    assert checks, f"no learning check for the family of {type(cli.model).__name__}: add one to LEARNING_CHECKS"
    checks[0](cli.model, cli, tmp_path, card.learns_within)


def test_checkpoint_round_trip_gives_identical_outputs(three_epochs):
    last = three_epochs.checkpoints / "last.ckpt"
    model = load_zoo_module(last)
    again = type(model).load_from_checkpoint(last).eval()
    example = model.example_input_array
    assert example is not None, f"{type(model).__name__} sets no example_input_array"
    assert_same_state(state_of(model), state_of(again))
    assert torch.equal(forward(model, example), forward(again, example))
    assert_same_state(weights(last), state_of(model))


def test_resume_after_epoch_1_of_3_is_bitwise_the_uninterrupted_run(card, data_root, three_epochs, tmp_path):
    if not three_epochs.cli.model.learns:
        pytest.skip("a baseline without parameters takes no steps, so Lightning writes no epoch checkpoints")
    resume_from = epoch_checkpoint(three_epochs.checkpoints, 1)
    fit(card, data_root, tmp_path / "resumed", "--trainer.max_epochs", "3", "--ckpt_path", str(resume_from))
    assert_same_state(
        weights(epoch_checkpoint(three_epochs.checkpoints, 3)), weights(tmp_path / "resumed/checkpoints/last.ckpt")
    )


def test_predict_writes_the_familys_artefact_beside_the_run(card, data_root, three_epochs):
    run, last = three_epochs.folder, three_epochs.checkpoints / "last.ckpt"
    cli = ZooCLI(args=["predict", *cli_args(card, data_root, run), "--ckpt_path", str(last)])
    expected = type(cli.model).prediction_files
    assert expected, f"{type(cli.model).__name__}'s family declares no prediction_files"
    for name in expected:
        assert (run / "predictions" / name).stat().st_size > 0


def epoch_checkpoint(folder: Path, epochs: int) -> Path:
    """The checkpoint ModelCheckpoint wrote at the end of the ``epochs``-th epoch."""
    [path] = folder.glob(f"epoch={epochs - 1}-*.ckpt")
    return path


def checkpoints_every_epoch_and_after_batch(folder: Path, batches: int) -> list[str]:
    """CLI options that keep a checkpoint of every epoch (``epoch=N-step=M.ckpt``) and one after ``batches``
    batches (``mid.ckpt``) in ``folder``."""
    return [
        "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.save_top_k", "-1",
        "--trainer.callbacks.dirpath", str(folder),
        "--trainer.callbacks+=tests.helpers.contract.SaveAfterBatch", "--trainer.callbacks.batches", str(batches),
        "--trainer.callbacks.path", str(folder / "mid.ckpt"),
    ]  # fmt: skip


def test_mid_epoch_resume_is_bitwise_the_uninterrupted_run(family_card, data_root, tmp_path):
    """Four batches an epoch; a checkpoint after batch 2 of epoch 2, resumed: the loader skips what was trained."""
    four_batches = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "4"]
    fit(
        family_card,
        data_root,
        tmp_path / "full",
        *four_batches,
        *checkpoints_every_epoch_and_after_batch(tmp_path / "ckpt", 6),
    )
    mid = tmp_path / "ckpt" / "mid.ckpt"
    loops = torch.load(mid, weights_only=True)["loops"]["fit_loop"]
    assert loops["epoch_progress"]["current"]["completed"] == 1  # in the second epoch...
    assert loops["epoch_loop.batch_progress"]["current"]["processed"] == 2  # ...after its second batch
    fit(family_card, data_root, tmp_path / "resumed", *four_batches, "--ckpt_path", str(mid))
    assert_same_state(
        weights(epoch_checkpoint(tmp_path / "ckpt", 2)), weights(tmp_path / "resumed/checkpoints/last.ckpt")
    )


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.parametrize("family_card", UNDER_DDP, ids=[c.name for c in UNDER_DDP])
def test_ddp_shards_data_draws_per_rank_randomness_and_resumes_exactly(family_card, data_root, tmp_path):
    model_class = type(build(family_card, data_root).model)
    probe = [
        "--trainer.callbacks+=tests.helpers.probe.RankProbe",
        "--trainer.callbacks.out_dir",
        str(tmp_path / "probe"),
    ]
    generative = hasattr(model_class, "sample_latent")
    if generative:  # classifier-FID/KID and mode coverage from both ranks' shares (collectives, logged the same on
        # both ranks); the resumed runs below, without them, must agree
        probe += ["--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID", "--trainer.callbacks.num_samples", "32",
                  "--trainer.callbacks.kid_subset_size", "16"]  # fmt: skip
        probe += ["--trainer.callbacks+=lightning_zoo.metrics.ModeCoverage", "--trainer.callbacks.num_samples", "32"]
    strategy, four_batches = model_class.ddp_strategy, ["--trainer.limit_train_batches", "4"]
    ckpt = tmp_path / "ckpt"
    ddp_fit(family_card, data_root, tmp_path / "full", 2, strategy, *four_batches, *probe,
            *checkpoints_every_epoch_and_after_batch(ckpt, 2))  # fmt: skip
    ranks = rank_reports(tmp_path / "probe")
    # Each rank sees its own half of every epoch's data and draws its own dropout masks and latents...
    for batch0, batch1 in zip(ranks[0]["samples"], ranks[1]["samples"], strict=True):
        assert not set(batch0) & set(batch1)
    assert ranks[0]["dropout"] != ranks[1]["dropout"]
    assert ranks[0]["latent"] != ranks[1]["latent"] or not ranks[0]["latent"]
    # ...while the parameters and the logged epoch metrics are the same on every rank.
    assert ranks[0]["parameters"] == ranks[1]["parameters"]
    assert ranks[0]["metrics"] == ranks[1]["metrics"] and ranks[0]["metrics"]
    assert not generative or ranks[0]["metrics"]["val/classifier_fid"] > 0
    assert not generative or "val/rarest_class_share" in ranks[0]["metrics"]  # the ranks' counts summed: the same

    # Resumed after batch 2 of epoch 1, bitwise the uninterrupted run: it restores each rank's place in its shard and
    # crosses the end of epoch 1 (without the measuring callbacks, which therefore changed nothing in training). The
    # first family also resumes from the end of epoch 1; the other families' epoch-end resumes are the same
    # restoring code at an easier place, and each costs a 2-process launch.
    resumes = [("mid", ckpt / "mid.ckpt")]
    if family_card is UNDER_DDP[0]:
        resumes.append(("epoch", epoch_checkpoint(ckpt, 1)))
    for name, checkpoint in resumes:
        ddp_fit(family_card, data_root, tmp_path / name, 2, strategy, *four_batches, "--ckpt_path", str(checkpoint))
        assert_same_state(weights(epoch_checkpoint(ckpt, 2)), weights(tmp_path / name / "checkpoints/last.ckpt"))
