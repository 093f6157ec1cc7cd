"""The CLI as users run it: every config, every subcommand, and the errors users can cause."""

from __future__ import annotations

import csv
import subprocess
import warnings
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from lightning_zoo.cli import ZooCLI, main
from lightning_zoo.core import ZooError, load_zoo_module
from tests.conftest import CLI, PYTHON, ROOT, subprocess_env

PRESETS = sorted((ROOT / "configs" / "trainer").glob("*.yaml"))
MLP_CONFIG = str(ROOT / "configs/classification/mlp_mnist.yaml")
DCGAN_CONFIG = str(ROOT / "configs/gan/dcgan_mnist.yaml")


def ids(paths):
    return [str(p.relative_to(ROOT / "configs")) for p in paths]


@pytest.mark.parametrize("preset", PRESETS, ids=ids(PRESETS))
def test_trainer_presets_combine_with_a_model_config(preset: Path, capsys):
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", "--config", DCGAN_CONFIG, "--config", str(preset), "--print_config"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert "accelerator: gpu" in printed and "class_path: lightning_zoo.gan.DCGAN" in printed


def test_help_and_print_config(capsys):
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", "--help"])
    assert exit_.value.code == 0 and "--model" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", "--config", MLP_CONFIG, "--print_config"])
    printed = capsys.readouterr().out
    assert exit_.value.code == 0
    expected = [
        "class_path: lightning_zoo.classification.MLP",
        "dropout: 0.45",
        "seed_everything: 0",
        "class_path: lightning_zoo.loggers.ZooWandbLogger",
        "max_epochs: 20",
        "flatten: true",
        "devices: 1",  # not Lightning's "auto", which takes every GPU and DDP with them
    ]
    assert all(line in printed for line in expected)


def test_data_sizes_are_linked_into_the_model_and_only_where_they_belong(data_root: Path):
    cli = ZooCLI(args=["--config", DCGAN_CONFIG, "--data.data_dir", str(data_root)], run=False)
    assert tuple(cli.model.hparams.input_shape) == (1, 32, 32)
    assert "num_classes" not in cli.model.hparams  # the DataModule has it, the DCGAN takes no such argument
    cli = ZooCLI(args=["--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--data.padding", "2"], run=False)
    assert tuple(cli.model.hparams.input_shape) == (1024,) and cli.model.net[1].in_features == 1024


def test_a_mistyped_option_ends_with_jsonargparses_message(capsys):
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", "--config", MLP_CONFIG, "--model.dropuot", "0.3"])
    assert exit_.value.code == 2 and "dropuot" in capsys.readouterr().err


def test_a_mistyped_config_key_ends_with_jsonargparses_message(tmp_path: Path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  class_path: lightning_zoo.classification.MLP\n  init_args:\n    hiden_units: [8]\n")
    with pytest.raises(SystemExit) as exit_:
        ZooCLI(args=["fit", "--config", str(config)])
    assert exit_.value.code == 2 and "hiden_units" in capsys.readouterr().err


def test_a_missing_dataset_offline_ends_with_the_clear_message(tmp_path: Path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", MLP_CONFIG, "--data.data_dir", str(missing), "--data.download", "false"])
    message = str(exit_.value.code)
    assert message.startswith("error: MNIST is not in") and "train-images-idx3-ubyte.gz" in message
    assert "Traceback" not in message and not missing.exists()


@pytest.mark.parametrize(
    "config, option, message",
    [
        (DCGAN_CONFIG, ["--data.padding", "0"], "DCGAN's layer table makes 32x32 images, the data has 28x28: pad"),
        (MLP_CONFIG, ["--model.dropout", "1.5"], "dropout must be in [0, 1), got 1.5"),
        (MLP_CONFIG, ["--data.batch_size", "0"], "batch_size must be at least 1, got 0"),
        (
            DCGAN_CONFIG,
            ["--model.predict_samples", "-4"],
            "latent_dim, num_fixed_samples and predict_samples must be at least 1",
        ),
        (
            DCGAN_CONFIG,
            ["--data.flatten", "true"],
            "DCGAN takes (channels, height, width) images, the data gives (1024,): drop --data.flatten",
        ),
    ],
    ids=["image-size", "dropout", "batch-size", "samples", "flattened"],
)
def test_an_argument_a_constructor_refuses_ends_with_its_message(config, option, message, data_root):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", config, "--data.data_dir", str(data_root), *option])
    text = str(exit_.value.code)
    assert text.startswith(f"error: invalid configuration: {message}") and "Union" not in text


@pytest.mark.parametrize(
    ("config", "option", "decided"),
    [("configs/gan/cgan_mnist.yaml", ["--model.num_classes", "3"], "the model's num_classes 3 (--model.num_classes or "
      "a config): the data decide it (10"),
     ("configs/gan/dcgan_mnist.yaml", ["--model.input_shape", "[1, 28, 28]"], "the model's input_shape [1, 28, 28] "
      "(--model.input_shape or a config): the data decide it ([1, 32, 32]")],
)  # fmt: skip
def test_a_size_the_data_decides_given_as_a_model_option_is_refused_not_replaced(config, option, decided, data_root):
    """The link replaced it in silence (a CGAN of ten classes for --model.num_classes 3); the same value as the data's,
    or the model's own default under data that decide otherwise (keep_classes), are not refused."""
    common = ["--config", str(ROOT / config), "--data.data_dir", str(data_root)]
    with pytest.raises(SystemExit) as exit_:
        main(["fit", *common, *option])
    assert str(exit_.value.code).startswith(f"error: {decided} here, linked from data.")
    assert str(exit_.value.code).endswith("): leave it out")
    cgan = ZooCLI(args=["--config", str(ROOT / "configs/gan/cgan_mnist.yaml"), "--data.data_dir", str(data_root),
                        "--data.keep_classes", "[3, 5]", "--model.input_shape", "[1, 28, 28]"], run=False)  # fmt: skip
    assert cgan.model.hparams.num_classes == 2


def test_a_split_the_data_cannot_give_ends_with_its_message(data_root):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--data.val_size", "1000"])
    assert str(exit_.value.code) == "error: val_size=1000 leaves no training data out of 256 samples"


def fit_quickly(config: str, data_root: Path, *extra: str) -> ZooCLI:
    return ZooCLI(args=["fit", "--config", config, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
                        "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", *extra])  # fmt: skip


def test_a_checkpoint_of_images_scaled_otherwise_ends_with_the_options_to_pass(data_root: Path):
    """Pixels in [-1, 1] for a model that learnt [0, 1] (or other classes kept) are refused by name, not tested."""
    checkpoint = fit_quickly(MLP_CONFIG, data_root).trainer.checkpoint_callback.last_model_path
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--data.value_range", "[-1, 1]",
              "--ckpt_path", checkpoint])  # fmt: skip
    assert exit_.value.code == (
        "error: the checkpoint's images were made with --data.value_range [0.0, 1.0] (here [-1.0, 1.0]): pass the "
        "same options"
    )


def test_a_missing_checkpoint_ends_with_a_clear_message(data_root: Path):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", "nowhere/last.ckpt"])
    assert exit_.value.code == "error: --ckpt_path nowhere/last.ckpt: no such checkpoint file"


def test_a_checkpoint_of_another_model_ends_with_a_clear_message_before_any_run_starts(data_root: Path, monkeypatch):
    dcgan = fit_quickly(DCGAN_CONFIG, data_root)
    checkpoint = dcgan.trainer.checkpoint_callback.last_model_path

    def started(*args, **kwargs):
        raise AssertionError("the run started: a logger or DDP would have begun before the checkpoint was refused")

    monkeypatch.setattr(pl.Trainer, "_run", started)  # where fit and test set up loggers and strategy
    for subcommand in ("test", "fit"):
        with pytest.raises(SystemExit) as exit_:
            main([subcommand, "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
        assert str(exit_.value.code) == (
            "error: the checkpoint last.ckpt holds the model DCGAN, not MLP: pass a checkpoint of this model, or the "
            "config of the model it holds"
        )
    # Of other data too: the refusal alone (a warning that the data differ spoke first, as if the run would go on)
    fashion = str(ROOT / "configs" / "classification" / "mlp_fashion_mnist.yaml")
    with warnings.catch_warnings(record=True) as caught, pytest.raises(SystemExit, match="holds the model DCGAN"):
        warnings.simplefilter("always")
        main(["test", "--config", fashion, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
    assert not [w for w in caught if "learnt from" in str(w.message)]


def test_mlp_validate_test_and_predict_from_a_checkpoint(data_root: Path):
    fitted = fit_quickly(MLP_CONFIG, data_root)
    checkpoint = Path(fitted.trainer.checkpoint_callback.last_model_path)
    common = ["--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", str(checkpoint)]
    trained = load_zoo_module(checkpoint).eval()
    for subcommand, split in (("validate", "val"), ("test", "test")):
        cli = ZooCLI(args=[subcommand, *common])
        images, labels = cli.datamodule.splits[split].tensors
        with torch.no_grad():  # the checkpoint's weights, scored here rather than by the module's metrics
            expected = (trained(images).argmax(1) == labels).float().mean()
        assert float(cli.trainer.callback_metrics[f"{split}/acc"]) == pytest.approx(float(expected), abs=1e-6)
        assert all(torch.equal(p, trained.state_dict()[k]) for k, p in cli.model.state_dict().items())
    ZooCLI(args=["predict", *common])
    rows = list(csv.DictReader(open(checkpoint.parent.parent / "predictions" / "predictions.csv")))
    assert len(rows) == 64 and {"index", "target", "predicted", "prob_9"} <= set(rows[0])
    assert all(r["predicted_class"] == str(r["predicted"]) for r in rows)  # MNIST names its classes "0" to "9"


def test_a_run_folder_as_ckpt_path_stands_for_its_last_checkpoint(data_root: Path):
    checkpoint = Path(fit_quickly(MLP_CONFIG, data_root).trainer.checkpoint_callback.last_model_path)
    run = checkpoint.parent.parent
    cli = ZooCLI(args=["validate", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", str(run)])
    assert Path(cli.trainer.ckpt_path) == checkpoint


@pytest.mark.parametrize(
    "subcommand, config, option, message",
    [
        (
            "fit",
            MLP_CONFIG,
            ["--model.lr", "-1"],
            "Invalid learning rate: -1.0 (the model's optimizer options: --model.optimizer adam, --model.lr -1.0)",
        ),
        (
            "fit",
            str(ROOT / "configs/gan/dcgan_mnist.yaml"),
            ["--model.lr_g", "-0.1"],  # which of the GAN's two rates
            "Invalid learning rate: -0.1 (the model's optimizer options: --model.lr_g -0.1, --model.lr_d 0.0002, "
            "--model.betas [0.5,0.999])",
        ),
        (
            "fit",
            MLP_CONFIG,
            ["--trainer.fast_dev_run", "false", "--trainer.limit_train_batches", "-1"],
            "You have passed invalid value -1 for limit_train_batches",
        ),  # the Trainer's refusal
        ("fit", MLP_CONFIG, ["--trainer.accelerator", "tpu"], "Requirement 'torch_xla"),  # a package not installed
        pytest.param(
            "fit",
            MLP_CONFIG,
            ["--config", str(ROOT / "configs/trainer/gpu_bf16.yaml")],
            "No supported gpu backend found! (accelerator gpu, from --trainer.accelerator or a preset of "
            "configs/trainer/, but this machine has no GPU that PyTorch can use: leave that preset out, or add "
            "--trainer.accelerator cpu and, for processes, --trainer.devices N",
            marks=pytest.mark.skipif(
                torch.cuda.is_available() or torch.backends.mps.is_available(), reason="a GPU is there"
            ),
        ),
        (
            "fit",
            MLP_CONFIG,
            ["--config", str(ROOT / "configs/trainer/ddp.yaml"), "--trainer.accelerator", "cpu"],
            "--trainer.devices -1 takes every GPU; on the CPU give the number of processes",
        ),  # (Lightning's TypeError, a traceback)
        (
            "fit",
            DCGAN_CONFIG,
            ["--trainer.gradient_clip_val", "1.0", "--trainer.accumulate_grad_batches", "2"],
            "DCGAN steps its optimizers itself (manual optimisation, as a GAN's generator and discriminator take "
            "turns): --trainer.accumulate_grad_batches 2 and --trainer.gradient_clip_val 1.0 are for automatic",
        ),  # (Lightning's refusal said to switch to automatic optimisation)
    ],
    ids=["optimizer", "gan_optimizer", "lightning", "requirement", "no_gpu", "every_gpu_on_the_cpu", "gan_clipping"],
)
def test_a_value_lightning_or_torch_refuses_ends_with_one_line(data_root, subcommand, config, option, message):
    with pytest.raises(SystemExit) as exit_:
        main([subcommand, "--config", config, "--data.data_dir", str(data_root), "--trainer.fast_dev_run", "true",
              *option])  # fmt: skip
    assert str(exit_.value.code).startswith(f"error: {message}")


def test_only_lightnings_missing_package_messages_end_in_one_line(monkeypatch):
    from lightning_utilities.core.imports import ModuleAvailableCache, RequirementCache

    for cache in (RequirementCache("absent_package>=1"), ModuleAvailableCache("absent_module")):
        monkeypatch.setattr("lightning_zoo.cli.ZooCLI", lambda args, message=str(cache): _raise(message))
        with pytest.raises(SystemExit) as exit_:
            main(["fit"])
        assert exit_.value.code == f"error: {cache}"
    monkeypatch.setattr("lightning_zoo.cli.ZooCLI", lambda args: _raise("No module named 'absent'"))
    with pytest.raises(ModuleNotFoundError):  # an import the code itself got wrong: a bug, with its traceback
        main(["fit"])


def _raise(message: str):
    raise ModuleNotFoundError(message)


def test_only_an_optimizers_constructor_refusal_counts_as_an_option_of_the_user():
    from lightning_zoo.cli import raised_by_an_optimizer

    with pytest.raises(ValueError) as bad_rate:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=-1)
    assert raised_by_an_optimizer(bad_rate.value)
    one = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    two = torch.optim.Adam([torch.zeros(1, requires_grad=True), torch.zeros(2, requires_grad=True)])
    with pytest.raises(ValueError) as other_parameters:  # a resume whose trainable parameters differ
        one.load_state_dict(two.state_dict())
    assert not raised_by_an_optimizer(other_parameters.value)


def test_dcgan_predict_writes_samples_beside_the_run_is_seeded_and_keeps_an_earlier_predicts(
    data_root: Path, tmp_path: Path
):
    fitted = fit_quickly(DCGAN_CONFIG, data_root)
    checkpoint = Path(fitted.trainer.checkpoint_callback.last_model_path)
    args = ["predict", "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", str(checkpoint),
            "--model.predict_samples", "12"]  # fmt: skip
    ZooCLI(args=[*args, "--trainer.callbacks+=lightning_zoo.callbacks.PredictionWriter",
                 "--trainer.callbacks.output_dir", str(tmp_path / "first")])  # fmt: skip
    ZooCLI(args=args)
    default_dir = checkpoint.parent.parent / "predictions"
    first, second = torch.load(tmp_path / "first" / "samples.pt"), torch.load(default_dir / "samples.pt")
    assert first.shape == (12, 1, 32, 32) and torch.equal(first, second)
    assert (default_dir / "samples.png").stat().st_size > 0
    (default_dir.parent / "predictions-2").mkdir()  # an empty folder is taken; a file of that name is not
    (default_dir.parent / "predictions-3").write_text("mine")
    ZooCLI(args=[*args, "--model.predict_samples", "4"])  # another predict of the run: into the next free folder
    ZooCLI(args=[*args, "--model.predict_samples", "2"])
    assert torch.equal(torch.load(default_dir / "samples.pt"), first)
    assert torch.load(default_dir.parent / "predictions-2" / "samples.pt").shape[0] == 4
    assert (default_dir.parent / "predictions-3").read_text() == "mine"
    assert torch.load(default_dir.parent / "predictions-4" / "samples.pt").shape[0] == 2


def test_a_shortened_option_is_a_typo_not_the_option_it_begins(data_root: Path, capsys):
    """argparse would take --trainer.max_epoch for --trainer.max_epochs and run on without a word."""
    with pytest.raises(SystemExit):
        ZooCLI(args=["fit", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--trainer.max_epoch", "1"])
    assert "unrecognized arguments: --trainer.max_epoch 1" in capsys.readouterr().err


def test_a_gan_has_nothing_to_test_and_says_what_measures_it(data_root: Path):
    checkpoint = fit_quickly(DCGAN_CONFIG, data_root).trainer.checkpoint_callback.last_model_path
    for subcommand, step in (("test", "test_step"), ("validate", "validation_step")):
        with pytest.raises(SystemExit) as exit_:
            main([subcommand, "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
        assert exit_.value.code.startswith(f"error: DCGAN has no {step}: nothing to {subcommand}; a GAN is measured")
        assert "lightning_zoo.metrics.ClassifierFID" in exit_.value.code


def test_a_checkpoint_of_another_architecture_names_the_settings_to_pass(data_root: Path):
    fitted = fit_quickly(MLP_CONFIG, data_root, "--model.hidden_units", "[32,16]", "--model.lr", "0.01")
    checkpoint = fitted.trainer.checkpoint_callback.last_model_path
    with pytest.raises(SystemExit) as exit_:
        main(["test", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
    message = str(exit_.value.code)
    assert "do not fit this MLP" in message and "hidden_units=[32, 16] (here [256, 256])" in message
    assert "lr=" not in message  # it differs too, but does not change the weights' shapes
    cli = ZooCLI(args=["test", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint,
                       "--model.hidden_units", "[32,16]"])  # fmt: skip
    assert "test/acc" in cli.trainer.callback_metrics


def test_a_checkpoint_whose_data_gave_other_sizes_names_them_as_the_datas_and_the_runs_config(
    data_root: Path, monkeypatch
):
    """The stock GRU's checkpoint given to the weather GRU's config: its input_size comes from the data (one column,
    not eight), which no --model option fixes; the message says so and names the run's own config."""
    monkeypatch.setenv("WANDB_MODE", "disabled")  # the run folder then holds config.yaml
    stock = fit_quickly(str(ROOT / "configs/forecasting/gru_djia.yaml"), data_root)
    checkpoint = Path(stock.trainer.checkpoint_callback.last_model_path)
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--config", str(ROOT / "configs/forecasting/gru_nyc_weather.yaml"), "--data.data_dir",
              str(data_root), "--ckpt_path", str(checkpoint)])  # fmt: skip
    message = str(exit_.value.code)
    assert "hidden_size=256 (here 32), input_size=1 (here 8, from the data)" in message
    config = checkpoint.parent.parent / "config.yaml"
    assert config.is_file()
    assert message.endswith(f"pass the same --model options and the data it was trained on (its run's config: "
                            f"--config {config})")  # fmt: skip


def test_a_checkpoint_refused_by_the_data_and_the_model_names_both_in_one_run(data_root: Path):
    """The E4 BiLSTM's checkpoint under the DLwP LSTM's config: its reviews were encoded otherwise (a DataModule
    refusal, raised while the classes are built) and its weights do not fit; one message names both, not one per
    attempt. The data alone (another maxlen, same weights) is refused alone."""
    bilstm = str(ROOT / "configs/sequence/bilstm_imdb.yaml")
    small = ["--model.recurrent_dropout", "0", "--model.hidden_size", "4", "--model.embedding_dim", "4"]
    fitted = fit_quickly(bilstm, data_root, *small, "--data.val_size", "8", "--data.maxlen", "20")
    common = ["--data.data_dir", str(data_root), "--ckpt_path", fitted.trainer.checkpoint_callback.last_model_path]
    with pytest.raises(SystemExit) as both:
        main(["test", "--config", str(ROOT / "configs/sequence/lstm_imdb.yaml"), *common])
    message = str(both.value.code)
    assert message.startswith("error: the checkpoint's reviews were encoded with --data.num_words 5000 (here 10000)")
    assert "pass the same options; and the checkpoint's weights do not fit this RecurrentTextClassifier" in message
    assert "bidirectional=True (here False)" in message
    with pytest.raises(SystemExit) as data_only:
        main(["test", "--config", bilstm, *small, "--data.maxlen", "100", *common])
    assert data_only.value.code.endswith("encoded with --data.maxlen 20 (here 100): pass the same options")


@pytest.mark.parametrize("logger", ["default", "tensorboard"])
def test_a_resumed_fit_goes_on_in_its_run_folder_and_keeps_the_first_config(data_root: Path, logger: str):
    """fit --ckpt_path <run> continues that run in its folder (W&B: the same run id; TensorBoard: the same version):
    its best checkpoint is ranked with the new ones (Lightning would warn that the folder changed and drop the
    ranking), no new run folder appears, and the first config stays beside the resumed run's."""
    extra = (
        ["--trainer.logger", "TensorBoardLogger", "--trainer.logger.save_dir", "tb"] if logger == "tensorboard" else []
    )
    first = fit_quickly(MLP_CONFIG, data_root, *extra)
    run = Path(first.trainer.checkpoint_callback.last_model_path).parent.parent
    folders = sorted(run.parent.iterdir())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The dirpath has changed")
        resumed = fit_quickly(MLP_CONFIG, data_root, *extra, "--trainer.max_epochs", "2", "--ckpt_path", str(run))
    assert Path(resumed.trainer.checkpoint_callback.dirpath) == run / "checkpoints"
    assert sorted(run.parent.iterdir()) == folders
    assert sorted(p.name for p in (run / "checkpoints").iterdir())[-1] == "last.ckpt"
    assert resumed.trainer.checkpoint_callback.best_model_path.startswith(str(run))
    assert "max_epochs: 1" in (run / "config.yaml").read_text()
    assert "max_epochs: 2" in (run / "config-2.yaml").read_text()


def test_with_w_and_b_disabled_a_predict_or_a_refused_fit_leaves_no_run_folder_of_its_config_alone(data_root: Path):
    """Their config.yaml was all such a folder held (predict writes beside the checkpoint's run), one per call; each
    CLI call is a process of its own (in one process W&B's disabled runs share an id, and so a folder)."""
    fitted = fit_quickly(DCGAN_CONFIG, data_root)
    run = Path(fitted.trainer.checkpoint_callback.last_model_path).parent.parent
    assert (run / "config.yaml").is_file()  # a fit's run keeps its config
    runs = sorted(run.parent.iterdir())
    common = ["--config", DCGAN_CONFIG, "--data.data_dir", str(data_root)]
    for args, rc in ((["predict", *common, "--ckpt_path", str(run)], 0), (["fit", *common, "--data.value_range",
                                                                            "[0, 1]"], 1)):  # fmt: skip
        done = subprocess.run([PYTHON, CLI, *args], env=subprocess_env(), capture_output=True, text=True)
        assert done.returncode == rc, done.stderr[-2000:]  # the fit is refused in the model's setup, config written
    assert sorted(run.parent.iterdir()) == runs and (run / "predictions" / "samples.pt").is_file()


def test_a_requeued_slurm_job_goes_on_as_its_run(data_root: Path, tmp_path: Path, monkeypatch):
    """Lightning resumes a requeued job from the HPC checkpoint it saved in default_root_dir: the weights came back,
    but the job went on as a new run (a new folder and W&B run, the best checkpoint left behind in the old one)."""
    slurm = {"SLURM_NTASKS": "1", "SLURM_JOB_NAME": "zoo", "SLURM_NODELIST": "localhost", "SLURM_PROCID": "0",
             "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_JOB_ID": "7"}  # fmt: skip
    for name, value in slurm.items():
        monkeypatch.setenv(name, value)
    tensorboard = ["--trainer.logger", "TensorBoardLogger", "--trainer.logger.save_dir", str(tmp_path / "tb"),
                   "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    first = fit_quickly(MLP_CONFIG, data_root, *tensorboard)
    run = Path(first.trainer.checkpoint_callback.last_model_path).parent.parent
    hpc = tmp_path / "hpc_ckpt_1.ckpt"  # as Lightning's handler of SLURM's signal saves it before the requeue
    hpc.write_bytes((run / "checkpoints" / "last.ckpt").read_bytes())
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The dirpath has changed")
        requeued = fit_quickly(MLP_CONFIG, data_root, *tensorboard, "--trainer.max_epochs", "2")
    assert requeued.trainer.current_epoch == 2 and requeued.trainer.ckpt_path == str(hpc)
    assert Path(requeued.trainer.checkpoint_callback.dirpath) == run / "checkpoints"
    assert [p.name for p in run.parent.iterdir()] == [run.name]


def test_a_checkpoint_outside_a_run_folder_resumes_into_a_new_run(data_root: Path, tmp_path: Path):
    first = fit_quickly(MLP_CONFIG, data_root)
    copy = tmp_path / "elsewhere.ckpt"
    copy.write_bytes(Path(first.trainer.checkpoint_callback.last_model_path).read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's: the folder changed
        resumed = fit_quickly(MLP_CONFIG, data_root, "--trainer.max_epochs", "2", "--ckpt_path", str(copy))
    assert Path(resumed.trainer.checkpoint_callback.dirpath).parent.parent == Path("logs/lightning-zoo").absolute()
    assert resumed.trainer.current_epoch == 2


def test_a_python_callers_trainer_defaults_add_to_the_zoos_not_replace_them(data_root: Path):
    """trainer_defaults from code keep the zoo's logger and one-device defaults; its callbacks join the zoo's (its
    ModelCheckpoint counts as the checkpointing one)."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    from lightning_zoo.callbacks import EpochTimer

    mine = ModelCheckpoint(save_top_k=0)
    cli = ZooCLI(
        args=["--config", MLP_CONFIG, "--data.data_dir", str(data_root)],
        run=False,
        trainer_defaults={"callbacks": [EpochTimer(), mine], "log_every_n_steps": 7},
    )
    assert cli.trainer.log_every_n_steps == 7 and cli.trainer.num_devices == 1
    assert type(cli.trainer.logger).__name__ == "ZooWandbLogger"
    assert any(isinstance(c, EpochTimer) for c in cli.trainer.callbacks)
    assert [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)] == [mine]


def test_a_checkpoint_of_other_data_is_used_with_a_warning_that_says_what_goes_unchecked(data_root: Path):
    """An MNIST model on Fashion-MNIST (a look at data it never saw) runs, but says that the options are unchecked
    and that the predictions carry Fashion-MNIST's class names."""
    checkpoint = fit_quickly(MLP_CONFIG, data_root).trainer.checkpoint_callback.last_model_path
    fashion = str(ROOT / "configs" / "classification" / "mlp_fashion_mnist.yaml")
    with pytest.warns(UserWarning, match="learnt from MNISTDataModule's data, these are FashionMNISTDataModule's"):
        ZooCLI(args=["test", "--config", fashion, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ZooCLI(args=["test", "--config", MLP_CONFIG, "--data.data_dir", str(data_root), "--ckpt_path", checkpoint])
    assert not [w for w in caught if "learnt from" in str(w.message)]  # its own data: nothing to say


@pytest.mark.parametrize(
    "text", ["#1 film of the year", "- not good", "great: really", "&awful", "[spoiler] great", "yes", "3.50", "null"]
)
@pytest.mark.parametrize("form", ["separate", "equals"])
def test_one_text_on_the_command_line_is_read_as_it_is(text, form):
    """jsonargparse reads a value as YAML: "#1 film" was a comment (null, so predict classified the test set in
    silence), "- not good" a list of "not good", "great: really" a mapping, "yes" a boolean."""
    option = ["--data.predict_text", text] if form == "separate" else [f"--data.predict_text={text}"]
    config = ["--config", str(ROOT / "configs/sequence/lstm_imdb.yaml")]
    assert ZooCLI(args=[*config, *option], run=False).datamodule.predict_text == [text]
    listed = ZooCLI(args=[*config, "--data.predict_text", '["#1 film", "- not good"]'], run=False)
    assert listed.datamodule.predict_text == ["#1 film", "- not good"]
    spelt_out = ZooCLI(args=[*config, "--data.init_args.predict_text", text], run=False)
    assert spelt_out.datamodule.predict_text == [text]


def test_a_malformed_list_or_a_missing_text_is_refused_not_read_as_a_text():
    config = ["--config", str(ROOT / "configs/sequence/lstm_imdb.yaml")]
    with pytest.raises(ZooError, match=r"""^--data.predict_text \["a", "b": a list of texts is not closed"""):
        ZooCLI(args=[*config, "--data.predict_text", '["a", "b"'], run=False)
    with pytest.raises(SystemExit):  # the parser's "expected one argument", not the text "--trainer.max_epochs"
        ZooCLI(args=[*config, "--data.predict_text", "--trainer.max_epochs", "1"], run=False)


def test_resuming_a_finished_fit_is_refused_naming_the_limit_to_raise(data_root: Path):
    """Lightning restored it, trained nothing, said "max_epochs=1 reached" and wrote the run's config again."""
    fitted = fit_quickly(MLP_CONFIG, data_root, "--trainer.logger", "false")
    checkpoint = fitted.trainer.checkpoint_callback.last_model_path
    common = [
        "fit",
        "--config",
        MLP_CONFIG,
        "--data.data_dir",
        str(data_root),
        "--trainer.logger",
        "false",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "1",
        "--ckpt_path",
        checkpoint,
    ]
    for limit in (["--trainer.max_epochs", "1"], ["--trainer.max_epochs", "5", "--trainer.max_steps", "2"]):
        with pytest.raises(SystemExit) as exit_:
            main([*common, *limit])
        assert str(exit_.value.code) == (
            f"error: --ckpt_path {checkpoint} has trained 1 epoch(s), 2 step(s): {limit[-2]} {limit[-1]} leaves "
            "nothing to train; raise it to go on"
        )
    resumed = ZooCLI(args=[*common, "--trainer.max_epochs", "2"])
    assert resumed.trainer.current_epoch == 2 and resumed.trainer.global_step == 4
