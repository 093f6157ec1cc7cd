"""What a new user hit when trying the zoo, each fixed and kept fixed: an unreachable W&B server, a diverging run,
predict without weights, loggers that ignored default_root_dir, an empty WANDB_MODE. (A truncated checkpoint is
in test_checkpoints.py.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch

from lightning_zoo.callbacks import ZooModelCheckpoint
from lightning_zoo.classification import MLP
from lightning_zoo.cli import ZooCLI, main
from lightning_zoo.core import NonFiniteLossError
from lightning_zoo.gan import DCGAN
from tests.conftest import ROOT
from tests.helpers.train import gan_data, mlp_data, state_of, trainer

MLP_CONFIG = str(ROOT / "configs/classification/mlp_mnist.yaml")
DCGAN_CONFIG = str(ROOT / "configs/gan/dcgan_mnist.yaml")


def short_fit(data_root: Path, *extra: str) -> list[str]:
    return ["fit", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
            "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", *extra]  # fmt: skip


@pytest.fixture
def wandb_unset(tmp_path, monkeypatch):
    import wandb

    wandb.teardown()  # W&B keeps process-wide settings (e.g. the disabled mode of earlier tests) until torn down
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    yield
    wandb.finish()  # nor leave this test's run and settings to the next (W&B reads WANDB_MODE once, at its setup)
    wandb.teardown()


@pytest.fixture
def silent_server():
    """A W&B server on a route that accepts connections and never answers, like a firewalled cluster node."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_a_wandb_key_without_a_route_to_the_server_falls_back_to_offline(
    wandb_unset, silent_server, data_root, monkeypatch, caplog
):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", silent_server)
    with caplog.at_level("INFO"):
        cli = ZooCLI(args=short_fit(data_root, "--trainer.logger.connect_timeout", "1"))
    assert cli.trainer.state.finished and cli.trainer.logger.logs_offline
    assert f"W&B: {silent_server} did not answer in 1.0 s, logging offline" in caplog.text
    assert "wandb sync logs/wandb/offline-run-*" in caplog.text
    assert list(Path("logs/wandb").glob("offline-run-*"))


def test_an_empty_wandb_mode_counts_as_unset(wandb_unset, data_root, monkeypatch, caplog):
    monkeypatch.setenv("WANDB_MODE", "")
    with caplog.at_level("INFO"):
        cli = ZooCLI(args=short_fit(data_root))
    assert cli.trainer.state.finished and "WANDB_MODE is set but empty, treated as unset" in caplog.text
    assert list(Path("logs/wandb").glob("offline-run-*"))  # no credentials here: offline, as without the variable


def test_a_diverging_run_stops_at_the_first_non_finite_loss_with_one_line(data_root, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(short_fit(data_root, "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path),
                       "--trainer.limit_train_batches", "8", "--data.batch_size", "32", "--model.optimizer", "sgd",
                       "--model.lr", "1e8"))  # fmt: skip
    message = str(exit_.value.code)  # sys.exit with a message: exit status 1
    assert message.startswith("error: training stopped at step ") and "\n" not in message
    assert "the loss is nan" in message or "the loss is inf" in message
    assert "try a smaller learning rate (now --model.lr 100000000.0)" in message
    assert not list(tmp_path.rglob("*.ckpt"))  # nothing was checkpointed, let alone marked best


def test_the_non_finite_loss_never_reaches_the_weights(data_root, tmp_path):
    model = MLP(optimizer="sgd", lr=1e8)
    checkpoint = ZooModelCheckpoint(dirpath=tmp_path / "ckpt")
    weights_before_each_step = []

    class Recorder(torch.nn.Module):
        def forward(self, x):
            weights_before_each_step.append(state_of(model.net))
            return x

    model.net.insert(0, Recorder())
    t = trainer(tmp_path, max_epochs=3, callbacks=[checkpoint])
    with pytest.raises(NonFiniteLossError) as raised:
        t.fit(model, mlp_data(data_root, batch_size=8))
    assert f"training stopped at step {t.global_step} (epoch 0)" in str(raised.value)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.equal(p, weights_before_each_step[-1][k]) for k, p in model.net.state_dict().items())
    assert checkpoint.best_model_path == "" and not (tmp_path / "ckpt").exists()


@pytest.mark.parametrize(
    "network, refusal",
    [("discriminator", "at step 0 .*the discriminator loss is nan.* --model.lr_d 0.0002"),
     ("generator", "the generator loss is nan.* --model.lr_g 0.0002")],
)  # fmt: skip
def test_a_gan_stops_before_a_non_finite_loss_updates_its_network(network, refusal, data_root, tmp_path, monkeypatch):
    """The NaN flows back through the network's weights: a step taken before the check would write NaN into them."""
    model = DCGAN()
    name = "d_loss" if network == "discriminator" else "g_loss"
    loss = getattr(model, name)
    monkeypatch.setattr(model, name, lambda batch, latent: loss(batch, latent) * float("nan"))
    before = {k: p.detach().clone() for k, p in getattr(model, network).named_parameters()}
    with pytest.raises(NonFiniteLossError, match=refusal):
        trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(model, gan_data(data_root))
    # (BatchNorm's running statistics, of the finite images, moved in the forward pass)
    assert all(torch.equal(p, before[k]) for k, p in getattr(model, network).named_parameters())


def test_predict_without_a_checkpoint_is_refused_with_the_fix(data_root, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root)])
    assert str(exit_.value.code).startswith("error: predict without --ckpt_path would use untrained weights: pass")
    assert not Path("predictions").exists()
    with pytest.raises(SystemExit) as exit_:  # said before the data are read: not "warpeace_input.txt not found"
        main(["predict", "--config", str(ROOT / "configs/language/char_rnn_warpeace.yaml"), "--data.data_dir",
              str(tmp_path / "nothing_here")])  # fmt: skip
    assert str(exit_.value.code).startswith("error: predict without --ckpt_path would use untrained weights: pass")


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_evaluating_without_a_checkpoint_is_refused_unless_there_is_nothing_to_learn(subcommand, data_root, tmp_path):
    """A fresh model's scores (10 % on MNIST) would pass for a result; the last-value forecaster has no weights
    (its predict was refused too, against the README). Lightning's ``last`` and ``best`` name a checkpoint of a fit
    in the same process: from the command line ``last`` went on with untrained weights, ``best`` gave a traceback."""
    with pytest.raises(SystemExit) as exit_:
        main([subcommand, "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--trainer.logger", "false"])
    verb = "use" if subcommand == "predict" else "score"
    assert str(exit_.value.code).startswith(f"error: {subcommand} without --ckpt_path would {verb} untrained weights")
    for name in ("last", "best"):
        with pytest.raises(SystemExit) as exit_:
            main([subcommand, "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", name])
        assert str(exit_.value.code).startswith(f"error: --ckpt_path {name} names a checkpoint of a fit in the same")
    baseline = ZooCLI(args=[subcommand, "--config", str(ROOT / "configs/forecasting/naive_djia.yaml"),
                            "--data.data_dir", str(data_root), "--trainer.logger", "false",
                            "--trainer.default_root_dir", str(tmp_path)])  # fmt: skip
    if subcommand == "predict":
        assert (Path("predictions") / "forecasts.csv").is_file()
    else:
        assert baseline.trainer.callback_metrics


@pytest.mark.parametrize("logger", ["CSVLogger", "TensorBoardLogger", "ZooWandbLogger"])
def test_every_logger_and_the_checkpoints_go_under_default_root_dir(logger, wandb_unset, data_root, tmp_path):
    root = tmp_path / "DIR"
    cli = ZooCLI(args=short_fit(data_root, "--trainer.logger", logger, "--trainer.default_root_dir", str(root)))
    written = [p for p in Path.cwd().rglob("*") if p.is_file()]
    assert written and all(root in p.parents for p in written), [str(p) for p in written if root not in p.parents]
    assert Path(cli.trainer.checkpoint_callback.last_model_path).is_relative_to(root)
    assert not Path("logs").exists()


def test_stopping_on_a_val_metric_without_validation_is_refused_only_where_validation_makes_it():
    """A classifier's val/ metrics come from its validation step: without validation, refused. A GAN's (classifier-FID)
    come from callbacks at each training epoch's end, with validation off in every GAN config: allowed."""
    from types import SimpleNamespace

    from pytorch_lightning.callbacks import EarlyStopping

    from lightning_zoo.core import ZooError, refuse_stopping_on_missing_validation

    trainer = SimpleNamespace(limit_val_batches=0, datamodule=None, callbacks=[EarlyStopping("val/classifier_fid")])
    refuse_stopping_on_missing_validation(trainer, DCGAN())
    with pytest.raises(ZooError, match="EarlyStopping monitors val/classifier_fid, but this fit validates on nothing"):
        refuse_stopping_on_missing_validation(trainer, MLP())


def test_a_ddp_rank_reseeds_its_own_stream_only_when_the_run_is_seeded(monkeypatch):
    """With --seed_everything false (no PL_GLOBAL_SEED) every process keeps its own unseeded randomness; seeded runs
    give each rank a stream of its own."""
    from types import SimpleNamespace

    model = MLP()
    model._trainer = SimpleNamespace(world_size=2, global_rank=1, limit_val_batches=1.0, datamodule=None, callbacks=[])
    torch.manual_seed(123)
    model.setup("fit")
    assert torch.initial_seed() == 123
    monkeypatch.setenv("PL_GLOBAL_SEED", "0")
    model.setup("fit")
    assert torch.initial_seed() != 123 and model._distributed


def test_the_imdb_convnet_refuses_reviews_shorter_than_its_convolutions_before_a_step(data_root):
    """--data.maxlen 20 under the 41 words Conv1D(7) - MaxPool(5) - Conv1D(7) needs: a 40-frame traceback from the
    network's forward before; now one line naming the option, when the model meets the data."""
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(ROOT / "configs/sequence/conv1d_imdb.yaml"), "--data.data_dir", str(data_root),
              "--data.maxlen", "20", "--data.val_size", "8", "--trainer.fast_dev_run", "true"])  # fmt: skip
    assert exit_.value.code == (
        "error: Conv1DTextClassifier's two convolutions need reviews of at least 41 words, the data pads them to 20: "
        "raise --data.maxlen"
    )
