"""Each private Lightning API in lightning_zoo/lightning_private.py, and each private hook the zoo overrides, still
behaves as the zoo expects. A Lightning upgrade that changes one fails here, by name."""

from __future__ import annotations

import inspect

import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.strategies import DDPStrategy, SingleDeviceStrategy

from lightning_zoo import lightning_private as private
from lightning_zoo.classification import MLP
from lightning_zoo.gan import DCGAN
from tests.helpers.train import gan_data, mlp_data, trainer


class Positions(Callback):
    def __init__(self) -> None:
        self.rows: list[tuple[bool, int, int, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.rows.append(
            (
                private.should_log_this_step(trainer),
                private.logger_step(trainer),
                private.batches_trained_this_epoch(trainer),
                trainer.global_step,
            )
        )


def test_logging_steps_logger_steps_and_batches_trained_as_lightning_counts_them(data_root, tmp_path):
    positions = Positions()
    t = trainer(tmp_path, max_epochs=2, limit_train_batches=3, limit_val_batches=0, log_every_n_steps=2,
                callbacks=[positions], enable_checkpointing=False)  # fmt: skip
    t.fit(DCGAN(), gan_data(data_root, batch_size=8))
    should_log, logger_steps, batches, global_steps = zip(*positions.rows, strict=True)
    assert list(logger_steps) == [0, 1, 2, 3, 4, 5]  # batches, while global_step counts 3 optimizer steps each
    assert list(global_steps) == [3, 6, 9, 12, 15, 18]
    assert list(batches) == [1, 2, 3, 1, 2, 3]  # finished, this one included: where a resumed loader starts
    assert list(should_log) == [False, True, False, True, False, True]  # every second batch (log_every_n_steps=2)
    assert private.should_log_this_step(None)


def test_ddp_strategy_says_whether_it_finds_unused_parameters():
    assert private.ddp_finds_unused_parameters(DDPStrategy(find_unused_parameters=True)) is True
    assert private.ddp_finds_unused_parameters(DDPStrategy()) is False
    assert private.ddp_finds_unused_parameters(SingleDeviceStrategy("cpu")) is None


def test_hyperparameters_can_be_pruned_from_both_records():
    model = MLP()
    model._set_hparams({**model.hparams, "_class_path": "x.MLP", "num_classes_of_data": 3})
    model._hparams_initial = model.hparams.copy()
    private.keep_hyperparameters(model, {"dropout", "lr"})
    assert set(model.hparams) == set(model.hparams_initial) == {"dropout", "lr"}


def test_wandb_logger_internals(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    logger = WandbLogger(save_dir=str(tmp_path), offline=True)
    assert "anonymous" in logger._wandb_init
    private.drop_wandb_init_setting(logger, "anonymous")
    assert "anonymous" not in logger._wandb_init
    assert not private.wandb_run_started(logger)
    logger.experiment  # noqa: B018
    assert private.wandb_run_started(logger)


def test_model_checkpoint_internals_that_keep_last_ckpt_current(data_root, tmp_path):
    for name in ("_should_skip_saving_checkpoint", "_should_save_on_train_epoch_end", "_save_last_checkpoint",
                 "_monitor_candidates"):  # fmt: skip
        assert callable(getattr(ModelCheckpoint, name)), name
    # Plain Lightning leaves last.ckpt at the best epoch when the metric stops improving (the zoo's checkpoint
    # callback is tested to keep it current in test_checkpoints.py); if this changes, the workaround can go.
    checkpoint = ModelCheckpoint(dirpath=tmp_path, monitor="val/acc", mode="max", save_last=True)
    trainer(tmp_path, max_epochs=3, callbacks=[checkpoint]).fit(MLP(lr=0.0), mlp_data(data_root))
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 0


def test_lightning_cli_still_parses_ckpt_path_in_the_hook_the_zoo_overrides():
    assert "self._parse_ckpt_path()" in inspect.getsource(LightningCLI.__init__)


def test_on_load_checkpoint_runs_before_the_state_dict_is_loaded():
    """The zoo renames older checkpoint keys in on_load_checkpoint; both loading paths must call it first."""
    from pytorch_lightning.core import saving
    from pytorch_lightning.trainer.connectors.checkpoint_connector import _CheckpointConnector

    load = inspect.getsource(saving._load_state)
    assert load.index("obj.on_load_checkpoint(checkpoint)") < load.index('obj.load_state_dict(checkpoint["state_dict"]')
    restore = inspect.getsource(_CheckpointConnector.restore_model)
    assert restore.index('"on_load_checkpoint"') < restore.index("load_model_state_dict")


class EpochEnds(Callback):
    def __init__(self) -> None:
        self.rows: list[tuple[str, bool]] = []

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.rows.append(("val", private.training_epoch_finished(trainer)))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.rows.append(("train", private.training_epoch_finished(trainer)))


def test_training_epoch_finished_tells_the_validation_at_the_epochs_end_and_a_cut_epoch(data_root, tmp_path):
    ends = EpochEnds()
    t = trainer(tmp_path, max_epochs=2, max_steps=6, limit_train_batches=4, limit_val_batches=1,
                val_check_interval=2, callbacks=[ends], enable_checkpointing=False)  # fmt: skip
    t.fit(MLP(), mlp_data(data_root))
    # Epoch 0: validation within it, then at its end; epoch 1 stops at step 6, in the middle of its batches.
    assert ends.rows == [("val", False), ("val", True), ("train", True), ("val", False), ("train", False)]
