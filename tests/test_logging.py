"""W&B by default (offline without credentials), the full config in each run, images on any logger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from lightning_zoo.callbacks import ZooModelCheckpoint, ZooProgressBar
from lightning_zoo.classification import MLP
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import ZooError
from lightning_zoo.loggers import ZooWandbLogger, has_wandb_credentials
from lightning_zoo.media import image_grid, log_image, log_table, log_text
from tests.conftest import ROOT
from tests.helpers.wandb_records import history_and_config


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch):
    import wandb

    wandb.teardown()  # W&B keeps process-wide settings (e.g. the disabled mode of earlier tests) until torn down
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    yield
    wandb.finish()  # nor leave this test's run and settings to the next (W&B reads WANDB_MODE once, at its setup)
    wandb.teardown()


def test_credentials_come_from_the_environment_or_netrc(no_credentials, tmp_path, monkeypatch):
    assert not has_wandb_credentials()
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password abc\n")
    assert has_wandb_credentials()
    (tmp_path / "netrc").unlink()
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert has_wandb_credentials()
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("WANDB_IDENTITY_TOKEN_FILE", str(tmp_path / "token"))
    assert has_wandb_credentials()


def test_a_netrc_in_home_that_others_can_read_still_counts_as_w_and_bs_does(no_credentials, tmp_path, monkeypatch):
    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not has_wandb_credentials()
    (tmp_path / ".netrc").write_text("machine api.wandb.ai login user password abc\n")
    (tmp_path / ".netrc").chmod(0o644)  # Python's netrc() without a path refuses this file; W&B reads it
    assert has_wandb_credentials()


def test_without_credentials_the_logger_goes_offline_with_a_hint(no_credentials, caplog):
    with caplog.at_level("INFO"):
        logger = ZooWandbLogger()
    assert logger.logs_offline and "wandb sync logs/wandb/offline-run-*" in caplog.text


def test_offline_by_itself_still_keeps_checkpoints_with_log_model(no_credentials):
    """Lightning's offline flag refuses log_model; W&B's offline mode keeps the artifacts for `wandb sync`."""
    logger = ZooWandbLogger(log_model=True)
    assert logger.logs_offline and logger._wandb_init["mode"] == "offline"


def test_w_and_bs_own_mode_argument_is_an_explicit_mode_too(no_credentials, monkeypatch, caplog):
    with caplog.at_level("INFO"):
        online = ZooWandbLogger(mode="online")  # no credentials: W&B will say so, not the zoo go offline
    assert not online.logs_offline and online._wandb_init["mode"] == "online" and "offline" not in caplog.text
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr("lightning_zoo.loggers.wandb_server_answers", lambda timeout: pytest.fail("asked the server"))
    assert ZooWandbLogger(mode="offline").logs_offline


def test_a_w_and_b_mode_it_does_not_know_ends_with_the_choices(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "Offline")
    with pytest.raises(ZooError, match="WANDB_MODE='Offline': choose one of online, offline, disabled"):
        ZooWandbLogger()


def test_with_w_and_b_disabled_images_are_written_as_files(no_credentials, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    trainer = pl.Trainer(logger=ZooWandbLogger(save_dir=str(tmp_path / "logs")), default_root_dir=tmp_path)
    path = log_image(trainer, "samples", torch.zeros(3, 4, 4, dtype=torch.uint8))
    assert path is not None and path.is_file()  # not dropped as if W&B had shown it


@pytest.mark.slow
def test_with_w_and_b_disabled_a_runs_images_and_config_are_in_its_folder(no_credentials, monkeypatch, data_root):
    """W&B's disabled mode keeps no files: the sample grids and the config go beside the run's checkpoints, not
    into the working folder, where the next run would overwrite them."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    ZooCLI(args=["fit", "--config", str(ROOT / "configs/gan/dcgan_mnist.yaml"), "--data.data_dir", str(data_root),
                 "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"])  # fmt: skip
    [checkpoints] = Path("logs").rglob("checkpoints")
    run = checkpoints.parent
    assert len(list((run / "images").rglob("*.png"))) == 1 and (run / "config.yaml").is_file()
    assert sorted(p.name for p in Path().iterdir()) == ["logs"]


def test_an_explicit_mode_or_credentials_are_respected(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    logger = ZooWandbLogger(offline=True)
    assert not logger.logs_offline and "mode" not in logger._wandb_init  # W&B itself applies WANDB_MODE
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr("lightning_zoo.loggers.wandb_server_answers", lambda timeout: True)
    assert not ZooWandbLogger().logs_offline
    assert ZooWandbLogger(offline=True).logs_offline


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_offline_run_folder_holds_metrics_config_and_images(model, data_root, no_credentials):
    config = {"mlp": "classification/mlp_mnist.yaml", "dcgan": "gan/dcgan_mnist.yaml"}[model]
    ZooCLI(args=["fit", "--config", str(ROOT / "configs" / config), "--data.data_dir", str(data_root),
                 "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "2"])  # fmt: skip
    import wandb

    wandb.finish()
    [run_dir] = Path("logs/wandb").glob("offline-run-*")
    history, run_config = history_and_config(run_dir)
    logged = set().union(*history)
    # The full resolved CLI config, not only the model's hyperparameters:
    assert run_config["model"]["class_path"].endswith({"mlp": "MLP", "dcgan": "DCGAN"}[model])
    assert run_config["trainer"]["max_epochs"] == 2 and run_config["data"]["init_args"]["data_dir"] == str(data_root)
    assert "seed_everything" in run_config and (run_dir / "files" / "lightning_config.yaml").is_file()
    if model == "mlp":
        assert {"train/loss", "train/acc", "val/acc", "val/loss", "lr-Adam"} <= logged
        assert run_config["dropout"] == 0.45  # the model's hyperparameters too
        ZooCLI(args=["predict", "--config", str(ROOT / "configs" / config), "--data.data_dir", str(data_root),
                     "--ckpt_path", str(next(Path("logs").rglob("last.ckpt")))])  # fmt: skip
        wandb.finish()
        [predict_dir] = set(Path("logs/wandb").glob("offline-run-*")) - {run_dir}
        predict_config = history_and_config(predict_dir)[1]  # the predict run records its config too
        assert predict_config["ckpt_path"].endswith("last.ckpt") and predict_config["model"] == run_config["model"]
        assert (predict_dir / "files" / "lightning_config.yaml").is_file()
    else:
        assert {"train/d_loss", "train/g_loss", "samples"} <= {k.split("/_type")[0] for k in logged} | logged
        assert {"lr-Adam/generator", "lr-Adam-1/discriminator"} <= logged  # which network each rate is
        images = list((run_dir / "files" / "media" / "images").glob("samples_*.png"))
        assert len(images) == 2  # one grid per epoch
        grid = np.asarray(Image.open(images[0]))
        assert (
            grid.shape == (4 * 34 + 2, 10 * 34 + 2, 3) and grid.max() > 100
        )  # 4x10 grid, not black (wandb.Image would truncate floats to 0)


def make_trainer(tmp_path: Path, logger) -> pl.Trainer:
    trainer = pl.Trainer(logger=logger, default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.strategy.connect(MLP())
    return trainer


def test_image_goes_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path)
    image = image_grid(torch.rand(4, 1, 8, 8) * 2 - 1, nrow=2, value_range=(-1, 1))
    assert log_image(make_trainer(tmp_path, logger), "grid", image) is None
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    assert events.Tags()["images"] == ["grid"]


def test_image_becomes_a_png_when_no_logger_shows_images(tmp_path):
    image = image_grid(torch.rand(6, 1, 8, 8), nrow=3, value_range=(0, 1))
    path = log_image(make_trainer(tmp_path, CSVLogger(tmp_path)), "samples", image)
    assert path.parent.name == "samples" and path.suffix == ".png"
    assert np.array_equal(np.asarray(Image.open(path)), image.permute(1, 2, 0).numpy())
    path = log_image(make_trainer(tmp_path / "none", False), "samples", image)
    assert path.is_file() and str(tmp_path / "none") in str(path)


def test_image_grid_is_uint8_rescaled_from_the_value_range():
    grid = image_grid(torch.tensor([[[[-1.0, 1.0]]], [[[0.0, 0.0]]]]), nrow=2, value_range=(-1, 1))
    assert grid.dtype == torch.uint8 and grid.shape == (3, 5, 10)
    assert grid[:, 2, 2].tolist() == [0] * 3 and grid[:, 2, 3].tolist() == [255] * 3 and grid[0, 2, 6] == 128


def test_checkpoint_follows_the_metric_the_model_names(data_root, tmp_path):
    from tests.helpers.train import mlp_data, trainer

    checkpoint = ZooModelCheckpoint(dirpath=tmp_path / "ckpt")
    trainer(tmp_path, max_epochs=2, callbacks=[checkpoint]).fit(MLP(), mlp_data(data_root))
    assert checkpoint.monitor == "val/acc" and checkpoint.mode == "max"
    assert (
        Path(checkpoint.best_model_path).name.startswith("epoch=")
        and Path(checkpoint.last_model_path).name == "last.ckpt"
    )
    assert float(checkpoint.best_model_score) == max(float(s) for s in checkpoint.best_k_models.values())
    named = ZooModelCheckpoint(dirpath=tmp_path / "named", monitor="val/acc")  # the model's metric, named: its mode
    named.setup(trainer(tmp_path), MLP(), "fit")
    assert named.mode == "max" and float(named.kth_value) == float("-inf")
    other = ZooModelCheckpoint(dirpath=tmp_path / "other", monitor="val/loss")  # another metric: Lightning's "min"
    other.setup(trainer(tmp_path), MLP(), "fit")
    assert other.monitor == "val/loss" and other.mode == "min"


def test_checkpoint_of_a_model_without_a_metric_keeps_last_only_unless_told(data_root, tmp_path):
    from lightning_zoo.gan import DCGAN
    from tests.helpers.train import gan_data, trainer

    for name, options in (("default", {}), ("every", {"save_top_k": -1})):
        checkpoint = ZooModelCheckpoint(dirpath=tmp_path / name, **options)
        trainer(tmp_path, max_epochs=2, limit_train_batches=1, callbacks=[checkpoint]).fit(DCGAN(), gan_data(data_root))
        saved = sorted(p.name for p in (tmp_path / name).iterdir())
        assert saved == (
            ["last.ckpt"] if name == "default" else ["epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", "last.ckpt"]
        )


def test_text_goes_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path)
    rows = [[1, 0.5, "the", "count said\nhe"]]
    assert log_text(make_trainer(tmp_path, logger), "samples", ["epoch", "temperature", "prompt", "text"], rows) is None
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    assert events.Tags()["tensors"] == ["samples/text_summary"]


def test_text_becomes_a_file_when_no_logger_shows_text(tmp_path):
    rows = [[3, 0.2, "a", "first\nsample"], [3, 1.0, "a", "second"]]
    path = log_text(
        make_trainer(tmp_path, CSVLogger(tmp_path)), "samples", ["epoch", "temperature", "prompt", "text"], rows
    )
    assert path.read_text(encoding="utf-8") == (
        "--- {'epoch': 3, 'temperature': 0.2, 'prompt': 'a'}\nfirst\nsample\n"
        "--- {'epoch': 3, 'temperature': 1.0, 'prompt': 'a'}\nsecond\n"
    )


def test_a_table_is_a_csv_file_when_no_logger_shows_tables_and_markdown_in_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = [[4, 0.96, 0.87], [9, 0.93, 0.75]]
    path = log_table(make_trainer(tmp_path, CSVLogger(tmp_path)), "test/n_way", ["ways", "model", "pixel_nn"], rows)
    assert path.suffix == ".csv" and path.read_text().splitlines() == [
        "ways,model,pixel_nn",
        "4,0.96,0.87",
        "9,0.93,0.75",
    ]
    logger = TensorBoardLogger(tmp_path / "tb")
    assert log_table(make_trainer(tmp_path, logger), "n_way", ["ways", "model", "pixel_nn"], rows) is None
    logger.experiment.flush()
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    assert events.Tags()["tensors"] == ["n_way/text_summary"]


@pytest.mark.slow
def test_language_model_samples_are_a_wandb_table(data_root, no_credentials):
    """Each epoch a table of 4 rows (the config's temperatures) and 4 columns (epoch, temperature, prompt, text)."""
    ZooCLI(args=["fit", "--config", str(ROOT / "configs" / "language" / "char_lstm_sherlock.yaml"),
                 "--data.data_dir", str(data_root), "--model.hidden_size", "8", "--trainer.max_epochs", "2",
                 "--trainer.limit_train_batches", "2"])  # fmt: skip
    import wandb

    wandb.finish()
    [run_dir] = Path("logs/wandb").glob("offline-run-*")
    history, _ = history_and_config(run_dir)
    tables = [row for row in history if row.get("samples/_type") == "table-file"]
    assert len(tables) == 2 and all(t["samples/nrows"] == 4 and t["samples/ncols"] == 4 for t in tables)
    assert {"train/loss", "train/acc"} <= set().union(*history)


@pytest.mark.slow
def test_the_one_shot_table_is_a_wandb_table(data_root, no_credentials):
    """The Siamese network's N-way test: one table of 2 rows (the ways 14 fixture subjects allow of the book's
    4-40) and 5 columns (ways; the model and the pixel 1-NN, with distinct distractors and with the book's draw)."""
    common = ["--config", str(ROOT / "configs" / "fewshot" / "siamese_orl.yaml"), "--data.data_dir", str(data_root),
              "--data.pairs", "32", "--model.trials", "50"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.logger", "false",
                 "--trainer.default_root_dir", "run"])  # fmt: skip
    ZooCLI(args=["test", *common, "--ckpt_path", "run/checkpoints/last.ckpt"])
    import wandb

    wandb.finish()
    [run_dir] = Path("logs/wandb").glob("offline-run-*")
    history, _ = history_and_config(run_dir)
    [table] = [row for row in history if row.get("test/n_way/_type") == "table-file"]
    assert table["test/n_way/nrows"] == 2 and table["test/n_way/ncols"] == 5


@pytest.mark.parametrize("logger", [CSVLogger, TensorBoardLogger])
def test_the_progress_bar_shows_a_loggers_version_without_decimals(tmp_path, logger):
    """Rich formats every number in the bar as a metric; a logger's version 3 read "v_num: 3.000"."""
    bar = ZooProgressBar()
    trainer = pl.Trainer(logger=logger(tmp_path, version=3), callbacks=[bar], default_root_dir=tmp_path)
    assert bar.get_metrics(trainer, MLP())["v_num"] == "3"


def test_the_progress_bar_updates_at_most_every_interval_and_at_an_epochs_last_batch(monkeypatch):
    """Rich's bar updates after every batch; ours when ``update_interval`` has passed, and always at the last batch
    (so an epoch's bar ends full)."""
    clock = iter([100.0, 100.1, 100.2, 100.3, 100.4])
    monkeypatch.setattr("lightning_zoo.callbacks.time.monotonic", lambda: next(clock))
    bar = ZooProgressBar(update_interval=0.25)
    assert [bar._due(i, 5) for i in range(5)] == [True, False, False, True, True]  # 100.0, then 100.3; the last


def test_the_progress_bar_shows_small_metrics_with_significant_digits():
    """Rich's 3 decimals showed a forecaster's validation MSE of about 1e-4 as 0.000."""
    from pytorch_lightning.callbacks.progress.rich_progress import MetricsTextColumn

    column = MetricsTextColumn(None, "", " ", ZooProgressBar().theme.metrics_format)
    column._metrics = {"val/mse": 0.000123456, "val/loss": 1.93041, "v_num": "3"}
    assert list(column._generate_metrics_texts()) == ["val/mse: 0.0001235", "val/loss: 1.93", "v_num: 3"]


def test_the_progress_bar_left_after_fit_shows_the_last_epochs_means(tmp_path):
    """A model logs its train/ means in its own on_train_epoch_end, after the bar's: the bar left on screen showed
    the means of the epoch before the last."""
    from tests.helpers.toys import AugmentedDataModule, ToyRegressor

    class EpochMeans(ToyRegressor):
        def on_train_epoch_end(self) -> None:
            self.log("train/epoch", float(self.current_epoch + 1), prog_bar=True)

    bar = ZooProgressBar()
    trainer = pl.Trainer(max_epochs=3, callbacks=[bar], logger=False, enable_checkpointing=False,
                         default_root_dir=tmp_path, enable_model_summary=False)  # fmt: skip
    trainer.fit(EpochMeans(), AugmentedDataModule(batch_size=8))
    assert bar._metric_component._metrics["train/epoch"] == 3.0


def test_the_prediction_writer_names_its_files_by_absolute_path(tmp_path, caplog, monkeypatch):
    """A relative output folder was printed as given ("predictions/forecasts.csv"), other runs' files absolutely."""
    import logging
    from types import SimpleNamespace

    from lightning_zoo.callbacks import PredictionWriter

    monkeypatch.chdir(tmp_path)
    module = SimpleNamespace(write_predictions=lambda predictions, folder: [folder / "forecasts.csv"])
    with caplog.at_level(logging.INFO):
        PredictionWriter("out").write_on_epoch_end(None, module, [], [])
    assert f"predictions written to {tmp_path / 'out' / 'forecasts.csv'}" in caplog.text
