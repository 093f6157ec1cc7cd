"""Checkpoints name their model, not an import path; older checkpoints still load; loading leaves the caller's RNG
alone; a damaged file ends with one line; resume restores RNG state (and without it, the run differs)."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning import seed_everything
from pytorch_lightning.callbacks import Callback

from lightning_zoo.callbacks import ZooModelCheckpoint
from lightning_zoo.classification import MLP, FeatureCNN
from lightning_zoo.cli import ZooCLI, main
from lightning_zoo.core import ZooError, ZooModule, load_zoo_module, read_checkpoint
from lightning_zoo.gan import DCGAN
from tests.conftest import ROOT
from tests.helpers.train import assert_same_state, gan_data, mlp_data, state_of, trainer

LEGACY = Path(__file__).parent / "data" / "legacy"
MLP_CONFIG = str(ROOT / "configs/classification/mlp_mnist.yaml")


def fit_mlp(data_root: Path, root: Path, max_epochs: int, ckpt_path: Path | None = None, **model_args) -> MLP:
    seed_everything(0)
    model = MLP(**model_args)
    t = trainer(root, max_epochs=max_epochs, callbacks=[ZooModelCheckpoint(dirpath=root / "ckpt")])
    t.fit(model, mlp_data(data_root), ckpt_path=ckpt_path)
    return model


def test_a_checkpoint_names_its_model_not_an_import_path(data_root, tmp_path):
    fit_mlp(data_root, tmp_path, 1)
    checkpoint = torch.load(tmp_path / "ckpt/last.ckpt", weights_only=True)
    assert checkpoint["zoo_model"] == "MLP"
    assert not [k for k in checkpoint["hyper_parameters"] if k.startswith("_")]  # no _class_path, no _instantiator


def test_a_checkpoint_whose_class_path_no_longer_imports_still_loads(data_root, tmp_path):
    """As if the class had moved: the checkpoint's recorded import path is gone, its model name is not."""
    model = fit_mlp(data_root, tmp_path, 1)
    checkpoint = torch.load(tmp_path / "ckpt/last.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["_class_path"] = "lightning_zoo.old_place.MLP"
    torch.save(checkpoint, tmp_path / "moved.ckpt")
    assert_same_state(state_of(load_zoo_module(tmp_path / "moved.ckpt")), state_of(model))


def test_checkpoints_of_the_code_before_model_names_still_load(data_root):
    mlp = load_zoo_module(LEGACY / "mlp_75931a4.ckpt")
    saved = torch.load(LEGACY / "mlp_75931a4.ckpt", weights_only=True)
    assert saved["zoo_model"] == "lightning_zoo.classification.mlp.MLP"
    assert isinstance(mlp, MLP) and tuple(mlp.hparams.hidden_units) == (4,)
    assert_same_state(state_of(mlp), saved["state_dict"])
    assert isinstance(MLP.load_from_checkpoint(LEGACY / "mlp_75931a4.ckpt"), MLP)
    # The FeatureCNN's layers have moved into its network class since; the checkpoint's keys are renamed on load.
    cnn = load_zoo_module(LEGACY / "feature_cnn_75931a4.ckpt")
    saved = torch.load(LEGACY / "feature_cnn_75931a4.ckpt", weights_only=True)["state_dict"]
    assert "extractor.0.weight" in saved and "net.extractor.0.weight" in cnn.state_dict()
    assert torch.equal(cnn.net.extractor[0].weight, saved["extractor.0.weight"])
    assert torch.equal(cnn.net.head[1].bias, saved["head.1.bias"])
    # ...and through the CLI, as a user would test an old run.
    legacy = str(LEGACY / "mlp_75931a4.ckpt")
    cli = ZooCLI(args=["test", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--model.hidden_units",
                       "[4]", "--trainer.logger", "false", "--ckpt_path", legacy])  # fmt: skip
    images, labels = cli.datamodule.splits["test"].tensors
    with torch.no_grad():  # the old weights, scored here rather than by the module's metrics
        expected = (mlp.eval()(images).argmax(1) == labels).float().mean()
    assert float(cli.trainer.callback_metrics["test/acc"]) == pytest.approx(float(expected), abs=1e-6)


def test_a_dcgan_checkpoint_with_the_old_fixed_noise_key_still_loads(data_root, tmp_path):
    model = DCGAN()
    t = trainer(tmp_path, max_steps=3, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, gan_data(data_root))
    t.save_checkpoint(tmp_path / "new.ckpt")
    old = torch.load(tmp_path / "new.ckpt", weights_only=True)
    old["state_dict"]["fixed_noise"] = old["state_dict"].pop("fixed_z")
    old["zoo_model"] = "lightning_zoo.gan.dcgan.DCGAN"
    torch.save(old, tmp_path / "old.ckpt")
    for loaded in (load_zoo_module(tmp_path / "old.ckpt"), DCGAN.load_from_checkpoint(tmp_path / "old.ckpt")):
        assert torch.equal(loaded.fixed_z, model.fixed_z)
        assert torch.equal(loaded.eval().fixed_samples(), model.eval().fixed_samples())


def test_two_models_cannot_share_a_name():
    with pytest.raises(TypeError, match="both named 'MLP'"):
        type("MLP", (ZooModule,), {"__module__": "somewhere.else"})


def test_loading_builds_the_model_without_touching_the_callers_rng(data_root, tmp_path):
    fit_mlp(data_root, tmp_path, 1)
    torch.manual_seed(123)
    MLP()
    after_construction = torch.get_rng_state()
    for load in (MLP.load_from_checkpoint, load_zoo_module):
        torch.manual_seed(123)
        load(tmp_path / "ckpt/last.ckpt")
        # load_from_checkpoint draws the initial weights, as construction does; load_zoo_module draws nothing.
        expected = after_construction if load is MLP.load_from_checkpoint else torch.manual_seed(123).get_state()
        assert torch.equal(torch.get_rng_state(), expected)


def test_without_the_saved_rng_state_the_resumed_run_differs(data_root, tmp_path, monkeypatch):
    """The control of the contract's exact-resume test: dropout masks drawn from a fresh RNG give other weights."""
    uninterrupted = fit_mlp(data_root, tmp_path / "a", 3)
    fit_mlp(data_root, tmp_path / "b", 1)
    monkeypatch.setattr("lightning_zoo.core.restore_rng_state", lambda state: None)
    resumed = fit_mlp(data_root, tmp_path / "c", 3, ckpt_path=tmp_path / "b/ckpt/last.ckpt")
    assert not torch.equal(uninterrupted.net[1].weight, resumed.net[1].weight)


def test_last_ckpt_is_the_latest_epoch_even_when_the_metric_stops_improving(data_root, tmp_path):
    """Lightning 2.6 rewrites last.ckpt only with a new best; the zoo's checkpoint keeps it the latest state."""
    fit_mlp(data_root, tmp_path, 4, hidden_units=(4,), dropout=0.0, lr=0.0)  # lr 0: val/acc never improves
    assert torch.load(tmp_path / "ckpt/last.ckpt", weights_only=True)["epoch"] == 3
    [best] = (tmp_path / "ckpt").glob("epoch=*.ckpt")
    assert best.name.startswith("epoch=0-")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_ends_with_one_line_naming_it(damage, data_root, tmp_path):
    fit_mlp(data_root, tmp_path, 1)
    path = tmp_path / f"{damage}.ckpt"
    data = (tmp_path / "ckpt/last.ckpt").read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a checkpoint" * 100, "empty": b""}[damage])
    with pytest.raises(ZooError, match="is not a readable checkpoint: the file is incomplete .* or corrupt"):
        read_checkpoint(path)
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", str(path)])
    message = str(exit_.value.code)
    assert message.startswith(f"error: --ckpt_path {path} is not a readable checkpoint") and "\n" not in message
    if damage == "garbage":  # torch's long message, cut between words and said to be cut
        with pytest.raises(Exception) as torchs:
            torch.load(path, weights_only=True)
        kept = message.split(f"{type(torchs.value).__name__}: ", 1)[1].removesuffix(" ...)")
        assert message.endswith(" ...)") and f"{str(torchs.value).splitlines()[0]} ".startswith(f"{kept} ")


def test_a_checkpoint_that_is_not_the_zoos_is_named_as_such(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "plain.ckpt")
    with pytest.raises(ZooError, match="not a checkpoint written by a lightning-zoo model"):
        load_zoo_module(tmp_path / "plain.ckpt")
    shutil.copy(LEGACY / "feature_cnn_75931a4.ckpt", tmp_path / "cnn.ckpt")
    assert isinstance(load_zoo_module(tmp_path / "cnn.ckpt"), FeatureCNN)


class PlateauMLP(MLP):
    """An MLP whose plateau schedule never sees an improvement after its first value (threshold 1e9), so the rate
    halves at every step after the first: the rates tell exactly when it was stepped."""

    model_name = "PlateauMLPOfTheTests"

    def __init__(self, monitor: str = "val/loss", frequency: int = 1, strict: bool = True, **kwargs) -> None:
        super().__init__(hidden_units=(8,), **kwargs)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=1.0)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=0, threshold=1e9, threshold_mode="abs"
        )
        schedule = {"scheduler": plateau, "monitor": self.hparams.monitor}
        return {"optimizer": optimizer, "lr_scheduler": {**schedule, "frequency": self.hparams.frequency,
                                                         "strict": self.hparams.strict}}  # fmt: skip


class EpochRates(Callback):
    def __init__(self) -> None:
        self.rates: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


class EpochTrainLosses(Callback):
    """Each finished epoch's train/loss (read when the next epoch starts, and at the end)."""

    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if "train/loss" in trainer.callback_metrics:
            self.losses[trainer.current_epoch - 1] = float(trainer.callback_metrics["train/loss"])

    def on_train_end(self, trainer, pl_module) -> None:
        self.losses[trainer.current_epoch - 1] = float(trainer.callback_metrics["train/loss"])


def fit_plateau(
    data_root, root, max_epochs, ckpt_path=None, model_args=None, callbacks=(), **trainer_args
) -> list[float]:
    rates = EpochRates()
    checkpoints = ZooModelCheckpoint(dirpath=root / "ckpt", save_top_k=-1, monitor="val/acc", mode="max")
    t = trainer(root, max_epochs=max_epochs, callbacks=[rates, checkpoints, *callbacks], **trainer_args)
    t.fit(PlateauMLP(**(model_args or {})), mlp_data(data_root), ckpt_path=ckpt_path)
    return rates.rates


def test_an_epoch_plateau_steps_before_the_epoch_checkpoint_so_a_resume_keeps_every_step(data_root, tmp_path):
    """Lightning steps it after the checkpoint and skips that step on a resume: the resumed run would train epoch 2
    at 1.0, not 0.5. Validating twice an epoch steps it once, after the epoch's last validation."""
    assert fit_plateau(data_root, tmp_path / "whole", 4) == [1.0, 1.0, 0.5, 0.25]
    [second] = (tmp_path / "whole" / "ckpt").glob("epoch=1-*.ckpt")
    assert fit_plateau(data_root, tmp_path / "resumed", 4, ckpt_path=second) == [0.5, 0.25]
    assert fit_plateau(data_root, tmp_path / "twice", 4, val_check_interval=0.5) == [1.0, 1.0, 0.5, 0.25]


def test_a_plateau_on_the_training_loss_resumes_from_a_checkpoint_written_after_validation(data_root, tmp_path):
    """Validating twice an epoch, the epoch's checkpoint is written after its last validation, before the training
    loss is logged and the plateau steps on it: the resume reruns the epoch's end from the epoch's sums the
    checkpoint holds, and takes that step (the resumed run trained epoch 2 at 1.0, and logged no loss of epoch 1)."""
    training_loss = {"monitor": "train/loss"}
    whole, resumed = EpochTrainLosses(), EpochTrainLosses()
    assert fit_plateau(data_root, tmp_path / "whole", 4, model_args=training_loss, callbacks=[whole],
                       val_check_interval=0.5) == [1.0, 1.0, 0.5, 0.25]  # fmt: skip
    steps = {int(p.stem.rpartition("step=")[2]): p for p in (tmp_path / "whole" / "ckpt").glob("epoch=1-*.ckpt")}
    second = steps[max(steps)]  # after the epoch's last validation (the other is from its middle)
    assert fit_plateau(data_root, tmp_path / "resumed", 4, second, model_args=training_loss, callbacks=[resumed],
                       val_check_interval=0.5) == [0.5, 0.25]  # fmt: skip
    assert resumed.losses == {epoch: whole.losses[epoch] for epoch in (1, 2, 3)}


def test_a_checkpoint_without_epoch_sums_resumes_without_the_training_plateaus_step(data_root, tmp_path):
    """A checkpoint of before the sums were saved (or of another number of processes): the resumed epoch's
    training loss is of no batch at all here, so its step is skipped, not refused for a metric not logged."""
    training_loss = {"monitor": "train/loss"}
    fit_plateau(data_root, tmp_path / "whole", 4, model_args=training_loss, val_check_interval=0.5)
    steps = {int(p.stem.rpartition("step=")[2]): p for p in (tmp_path / "whole" / "ckpt").glob("epoch=1-*.ckpt")}
    old = torch.load(steps[max(steps)], weights_only=True)
    del old["metric_states"], old["train_epoch_end_ran"]
    torch.save(old, tmp_path / "old.ckpt")
    resumed = fit_plateau(data_root, tmp_path / "resumed", 4, tmp_path / "old.ckpt", model_args=training_loss,
                          val_check_interval=0.5)  # fmt: skip
    assert resumed == [1.0, 0.5]  # epoch 1's step is lost with its sums


def test_a_checkpoint_after_an_epochs_last_batch_starts_the_next_epochs_sums_from_zero(data_root, tmp_path):
    """Lightning goes on with the next epoch without the end of that one: the restored sums of the finished epoch
    were added to the next epoch's means."""
    from tests.helpers.contract import SaveAfterBatch

    per_epoch = 4  # the fixture's 256 training digits in batches of 64
    whole, resumed = EpochTrainLosses(), EpochTrainLosses()
    last_batch = SaveAfterBatch(2 * per_epoch, str(tmp_path / "last_batch.ckpt"))
    for callbacks, ckpt_path in (([whole, last_batch], None), ([resumed], tmp_path / "last_batch.ckpt")):
        t = trainer(tmp_path, max_epochs=4, callbacks=callbacks, limit_val_batches=0, enable_checkpointing=False)
        t.fit(MLP(hidden_units=(8,)), mlp_data(data_root), ckpt_path=ckpt_path)
    assert resumed.losses == {epoch: whole.losses[epoch] for epoch in (2, 3)}


def test_a_resume_from_within_an_epoch_ends_that_epoch_as_the_whole_run(data_root, tmp_path):
    """A checkpoint after the second batch of epoch 2: the resumed epoch's train/loss is the mean of all its batches
    (it was of those after the resume), and its plateau steps (Lightning, and the zoo, skipped it: the whole run
    trained epoch 3 at 0.5, the resumed one at 1.0)."""
    from tests.helpers.contract import SaveAfterBatch

    training_loss = {"monitor": "train/loss"}
    per_epoch = 4  # the fixture's 256 training digits in batches of 64
    whole, resumed = EpochTrainLosses(), EpochTrainLosses()
    middle = SaveAfterBatch(per_epoch + 2, str(tmp_path / "mid.ckpt"))
    assert fit_plateau(data_root, tmp_path / "whole", 4, model_args=training_loss, callbacks=[whole, middle],
                       limit_val_batches=0) == [1.0, 1.0, 0.5, 0.25]  # fmt: skip
    loops = torch.load(tmp_path / "mid.ckpt", weights_only=True)["loops"]["fit_loop"]
    assert loops["epoch_loop.batch_progress"]["current"]["processed"] == 2 < per_epoch
    rates = fit_plateau(data_root, tmp_path / "resumed", 4, tmp_path / "mid.ckpt", model_args=training_loss,
                        callbacks=[resumed], limit_val_batches=0)  # fmt: skip
    assert rates == [0.5, 0.25]  # of epochs 3 and 4 (Lightning does not start the resumed epoch again)
    assert resumed.losses == {epoch: whole.losses[epoch] for epoch in (1, 2, 3)}


@pytest.mark.parametrize(
    ("model_args", "trainer_args", "rates"),
    [
        ({"monitor": "train/loss"}, {"limit_val_batches": 0}, [1.0, 1.0, 0.5, 0.25, 0.125]),
        ({"frequency": 2}, {}, [1.0, 1.0, 1.0, 1.0, 0.5]),
        # Not stepped in the epochs without validation (with strict, Lightning refuses the run after the first)
        ({"strict": False}, {"check_val_every_n_epoch": 2}, [1.0, 1.0, 1.0, 1.0, 0.5]),
        ({"monitor": "val/nothing", "strict": False}, {}, [1.0] * 5),
    ],
    ids=["training loss", "frequency 2", "validation every 2nd epoch", "missing, not strict"],
)
def test_an_epoch_plateau_steps_when_lightning_would_and_its_metric_exists(
    data_root, tmp_path, model_args, trainer_args, rates
):
    assert fit_plateau(data_root, tmp_path, 5, model_args=model_args, **trainer_args) == rates


def test_an_epoch_plateau_on_a_metric_the_model_does_not_log_names_the_ones_it_does(data_root, tmp_path):
    with pytest.raises(ZooError, match=r"watches 'val/nothing', which this model does not log; it logs \[.*'val/loss'"):
        fit_plateau(data_root, tmp_path, 1, model_args={"monitor": "val/nothing"})


def test_a_fast_dev_run_writes_no_checkpoint_and_no_sample_file(data_root, tmp_path):
    from lightning_zoo.callbacks import SampleGrid

    callbacks = [ZooModelCheckpoint(dirpath=tmp_path / "ckpt"), SampleGrid()]
    trainer(tmp_path, fast_dev_run=True, callbacks=callbacks).fit(DCGAN(), gan_data(data_root))
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize("stage", ["fit", "validate"])
def test_only_a_resumed_fit_warns_that_the_checkpoint_folder_changed(stage, data_root, tmp_path):
    data = mlp_data(data_root, batch_size=8)
    batches = {"limit_train_batches": 1, "limit_val_batches": 1}
    first = trainer(tmp_path, max_epochs=1, callbacks=[ZooModelCheckpoint(dirpath=tmp_path / "first")], **batches)
    first.fit(MLP(), data)
    later = trainer(tmp_path, max_epochs=2, callbacks=[ZooModelCheckpoint(dirpath=tmp_path / "later")], **batches)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(later, stage)(MLP(), data, ckpt_path=tmp_path / "first" / "last.ckpt")
    assert any("The dirpath has changed" in str(w.message) for w in caught) == (stage == "fit")


def test_a_fit_says_where_its_checkpoints_are(data_root, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        fitted = trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1,
                         callbacks=[ZooModelCheckpoint()])  # fmt: skip
        fitted.fit(MLP(), mlp_data(data_root, batch_size=8))
    assert f"this run's checkpoints are in {tmp_path / 'checkpoints'}" in caplog.text


def test_a_checkpoints_run_folder_holds_its_checkpoints_folder_or_else_the_checkpoint(tmp_path):
    from lightning_zoo.media import checkpoint_run_folder

    assert checkpoint_run_folder(tmp_path / "run" / "checkpoints" / "last.ckpt") == (tmp_path / "run").resolve()
    assert checkpoint_run_folder(tmp_path / "model.ckpt") == tmp_path.resolve()  # not the folder above it
    (tmp_path / "linked" / "checkpoints").mkdir(parents=True)
    (tmp_path / "linked" / "checkpoints" / "last.ckpt").symlink_to(tmp_path / "model.ckpt")
    assert checkpoint_run_folder(tmp_path / "linked" / "checkpoints" / "last.ckpt") == (tmp_path / "linked").resolve()


@pytest.mark.parametrize("dirpath", ["run/checkpoints", "run/ckpt"])
def test_a_test_after_fit_writes_its_results_where_a_later_test_of_its_checkpoint_does(data_root, tmp_path, dirpath):
    from lightning_zoo.bayesian import BayesianSoftmaxRegression

    checkpoints, data = tmp_path / dirpath, mlp_data(data_root, batch_size=16)
    callbacks = [ZooModelCheckpoint(dirpath=checkpoints)]
    fitted = trainer(tmp_path, max_epochs=1, limit_train_batches=2, limit_val_batches=0, callbacks=callbacks)
    model = BayesianSoftmaxRegression()
    fitted.fit(model, data)
    fitted.test(model, data)  # the weights in memory
    trainer(tmp_path / "later").test(BayesianSoftmaxRegression(), data, ckpt_path=checkpoints / "last.ckpt")
    [folder] = {path.parent for path in tmp_path.rglob("posterior_accuracies*.csv")}
    written = sorted(path.name for path in folder.iterdir())
    assert written == ["posterior_accuracies-last.csv", "posterior_accuracies.csv"]


@pytest.mark.parametrize("limit, name", [(1.0, "n_way-last.csv"), (0.25, "n_way-limit_test_batches_0.25-last.csv"),
                                         (1, "n_way-limit_test_batches_1-last.csv")])  # fmt: skip
def test_a_test_of_part_of_the_test_set_keeps_the_whole_sets_results(tmp_path, limit, name):
    from types import SimpleNamespace

    from lightning_zoo.media import results_path

    tested = SimpleNamespace(ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"), limit_test_batches=limit)
    assert results_path(tested, "n_way.csv") == tmp_path.resolve() / "test" / name


def test_a_second_test_of_a_checkpoint_keeps_the_firsts_results(tmp_path):
    """A test with other ways (or under another protocol's config) writes n_way-last-2.csv, -3 ..., never over the
    earlier file."""
    from types import SimpleNamespace

    from lightning_zoo.media import results_path

    tested = SimpleNamespace(ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"), limit_test_batches=1.0)
    folder = tmp_path.resolve() / "test"
    folder.mkdir()
    for expected in ("n_way-last.csv", "n_way-last-2.csv", "n_way-last-3.csv"):
        path = results_path(tested, "n_way.csv")
        assert path == folder / expected
        path.write_text("ways\n")


def test_a_checkpoint_of_two_processes_without_epoch_sums_resumes_on_either_rank():
    """Written before the sums were saved: rank 1 looked up the second of none (IndexError) while rank 0 waited."""
    from types import SimpleNamespace

    from lightning_zoo.core import capture_rng_state

    checkpoint = {"rng_states": [capture_rng_state(), capture_rng_state()], "zoo_model": "MLP", "state_dict": {}}
    for rank in (0, 1):
        model = MLP(hidden_units=(4,))
        model.check_checkpoint = lambda *args: None  # (the weights are not the point here)
        model._trainer = SimpleNamespace(state=SimpleNamespace(fn="fit"), world_size=2, global_rank=rank)
        model.on_load_checkpoint(checkpoint)
        assert model._saved_epoch_sums is None


class StopAtStep(Callback):
    """Stops training after the batch that reaches ``step``, as ``max_time``'s Timer does."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


@pytest.mark.parametrize("validates", [False, True], ids=["without validation", "validating"])
@pytest.mark.parametrize("stop", ["max_steps", "callback"])
def test_a_run_stopped_within_an_epoch_resumes_the_rest_of_that_epoch(data_root, tmp_path, validates, stop):
    """A stop after batch 2 of epoch 2 (4 batches an epoch): max_steps, or max_time and any callback's should_stop
    (a validation runs at such a stop). Lightning counts the cut epoch as done, so the last.ckpt written at its end or
    the training's made the resume to step 12 skip its other 2 batches, ending with other weights than the
    uninterrupted run's. The cut epoch's means so far stay in the checkpoint: the resumed epoch's are the whole's."""

    def fit(root: Path, callbacks: list, ckpt_path: Path | None = None, **limits) -> pl.Trainer:
        seed_everything(0)
        every = ZooModelCheckpoint(dirpath=root / "ckpt", save_top_k=-1)  # every validation's checkpoint, ranked
        t = trainer(root, callbacks=[every, *callbacks], limit_val_batches=1 if validates else 0, **limits)
        t.fit(MLP(hidden_units=(8,)), mlp_data(data_root), ckpt_path=ckpt_path)
        return t

    whole_losses, resumed_losses = EpochTrainLosses(), EpochTrainLosses()
    whole = fit(tmp_path / "whole", [whole_losses], max_steps=12)
    if stop == "max_steps":
        cut = fit(tmp_path / "cut", [], max_steps=6)
    else:
        cut = fit(tmp_path / "cut", [StopAtStep(6)], max_steps=12)
    loops = torch.load(tmp_path / "cut/ckpt/last.ckpt", weights_only=True)["loops"]["fit_loop"]
    assert loops["epoch_progress"]["current"]["processed"] == 1  # epoch 2 not done: 2 of its batches trained
    if validates and stop == "callback":  # the validation at the stop is ranked like any other
        assert any("step=6" in path for path in cut.checkpoint_callback.best_k_models)
    resumed = fit(tmp_path / "resumed", [resumed_losses], tmp_path / "cut/ckpt/last.ckpt", max_steps=12)
    assert resumed.current_epoch == whole.current_epoch == 3
    assert_same_state(state_of(resumed.lightning_module), state_of(whole.lightning_module))
    assert resumed_losses.losses == {epoch: whole_losses.losses[epoch] for epoch in (1, 2)}
