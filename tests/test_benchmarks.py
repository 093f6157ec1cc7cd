"""The benchmark scripts' own logic that decides what a reported number is: where a chunked run goes on, and that
it records what one uninterrupted run would."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.common import resume_point
from tests.conftest import ROOT


def checkpoint_after(path, epochs: int, mtime: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": epochs - 1}, path)  # Lightning's "epoch" is the index of the epoch just ended
    os.utime(path, (mtime, mtime))
    return path


def test_resume_point_takes_the_newest_last_checkpoint_or_the_one_named_and_cuts_the_record_to_it(tmp_path):
    workdir, results = tmp_path / "bench_run", tmp_path / "run.json"
    older = checkpoint_after(workdir / "lightning_logs/version_9/checkpoints/last.ckpt", 2, mtime=1_000)
    newest = checkpoint_after(workdir / "lightning_logs/version_10/checkpoints/last.ckpt", 3, mtime=2_000)
    checkpoint_after(workdir / "lightning_logs/version_10/checkpoints/epoch=0.ckpt", 1, mtime=3_000)  # not a last
    # version_10 sorts before version_9 by name: the newest is the one written last. The record goes on to an
    # epoch 4 that no checkpoint holds (a chunk stopped after writing it): it is not part of the run resumed.
    curve = [{"epoch": e, "val_acc_pct": 50 + e} for e in (1, 2, 3, 4)]
    results.write_text(json.dumps({"runs": [{"seed": 0, "curve": curve}], "command": "python first chunk"}))

    checkpoint, recorded, epochs = resume_point(workdir, results, lambda r: r["runs"][0]["curve"])

    assert checkpoint == newest
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert recorded["command"] == "python first chunk"
    # a checkpoint named (``--resume CKPT``, e.g. one carried from another machine) is taken as it is
    checkpoint, _, epochs = resume_point(older, results, lambda r: r["runs"][0]["curve"])
    assert checkpoint == older and [e["epoch"] for e in epochs] == [1, 2]


def test_resume_point_refuses_a_record_of_another_run_and_a_missing_one(tmp_path):
    workdir, results = tmp_path / "bench_run", tmp_path / "run.json"
    checkpoint_after(workdir / "checkpoints/last.ckpt", 3, mtime=1_000)
    results.write_text(json.dumps({"epochs": [{"epoch": 1}, {"epoch": 2}]}))  # stops short of the checkpoint's 3
    with pytest.raises(SystemExit, match=r"ends epoch 3, but .* records epochs \[1, 2\]: they are not one run"):
        resume_point(workdir, results)
    with pytest.raises(SystemExit, match="no such checkpoint or folder: .*mistyped.ckpt"):
        resume_point(tmp_path / "mistyped.ckpt", results)
    (tmp_path / "never_run").mkdir()
    with pytest.raises(SystemExit, match="needs a last.ckpt under .*never_run.*run without --resume first"):
        resume_point(tmp_path / "never_run", results)
    with pytest.raises(SystemExit, match="run without --resume first"):
        resume_point(workdir, tmp_path / "no_results.json")


def test_resume_point_refuses_the_results_of_another_config(tmp_path):
    workdir, results = tmp_path / "bench_run", tmp_path / "run.json"
    checkpoint_after(workdir / "checkpoints/last.ckpt", 1, mtime=1_000)
    results.write_text(json.dumps({"config": "configs/a.yaml", "epochs": [{"epoch": 1}]}))
    assert resume_point(workdir, results, config=Path("configs/a.yaml"))[2] == [{"epoch": 1}]
    with pytest.raises(SystemExit, match="records a run of configs/a.yaml, not of configs/b.yaml"):
        resume_point(workdir, results, config=Path("configs/b.yaml"))


def run_classifier_script(monkeypatch, results, data_root, workdir, *options) -> dict:
    """``benchmarks/classifier.py`` on the MNIST fixture (2 batches an epoch), its results file read back."""
    from benchmarks import classifier, common

    for module in (classifier, common):
        monkeypatch.setattr(module, "RESULTS", results)
    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))  # the script sets it; the test's environment is kept
    config = ROOT / "configs/classification/mlp_mnist.yaml"
    argv = ["classifier.py", "--config", str(config), "--data-dir", str(data_root), "--workdir", str(workdir)]
    argv += ["--name", "mlp", "--trainer.limit_train_batches", "2", "--data.batch_size", "32", *options]
    monkeypatch.setattr(sys, "argv", argv)
    classifier.main()
    return json.loads((results / "mlp.json").read_text())


def test_a_classifier_run_in_two_chunks_records_what_the_uninterrupted_run_does(tmp_path, monkeypatch, data_root):
    whole = run_classifier_script(monkeypatch, tmp_path / "a", data_root, tmp_path / "a", "--max-epochs", "3")
    first = run_classifier_script(monkeypatch, tmp_path / "b", data_root, tmp_path / "b", "--max-epochs", "1")
    assert (first["epochs_run"], first["epochs_scheduled"]) == (1, 20)  # the config's 20: the card says unfinished
    chunked = run_classifier_script(monkeypatch, tmp_path / "b", data_root, tmp_path / "b", "--max-epochs", "3",
                                    "--resume")  # fmt: skip

    def without_seconds(run: dict) -> list[dict]:
        return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in run["curve"]]

    [whole_run], [chunked_run] = whole["runs"], chunked["runs"]
    assert [e["epoch"] for e in chunked_run["curve"]] == [1, 2, 3]
    assert without_seconds(chunked_run) == without_seconds(whole_run)
    for key in ("val_acc_pct", "test_acc_pct", "test_loss", "train_eval_acc_pct", "best_val_acc_pct"):
        assert chunked_run[key] == whole_run[key], key
    assert len(chunked["earlier_commands"]) == 1 and "--max-epochs 1" in chunked["earlier_commands"][0]
    with pytest.raises(SystemExit, match="one seed's: give one --seeds"):
        run_classifier_script(monkeypatch, tmp_path / "c", data_root, tmp_path / "c", "--max-epochs", "1",
                              "--seeds", "0", "1")  # fmt: skip


def test_the_layout_and_precision_benchmark_times_each_variant_as_named_and_skips_the_warm_up(
    tmp_path, monkeypatch, capsys
):
    """Which precision and layout each variant's runs got, and that its ratio is float32's seconds over its own,
    counted from the second epoch of each run (the trainings are replaced by recorded epoch times)."""
    from benchmarks import common, layout_precision_speed
    from lightning_zoo.callbacks import ChannelsLast

    calls = []
    seconds = {("32-true", False): 8.0, ("32-true", True): 4.0, ("bf16-mixed", False): 2.0, ("bf16-mixed", True): 1.0}

    def timed(config, data_dir, epochs, callbacks, options):
        variant = (
            options[options.index("--trainer.precision") + 1],
            any(isinstance(c, ChannelsLast) for c in callbacks),
        )
        calls.append(variant)
        return [100.0] + [seconds[variant]] * (epochs - 1)  # a slow first epoch that must not count

    monkeypatch.setattr(layout_precision_speed, "epoch_seconds", timed)
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    argv = ["layout_precision_speed.py", "--config", "configs/gan/acgan_mnist.yaml", "--epochs", "3", "--rounds", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--trainer.limit_train_batches", "10"])
    layout_precision_speed.main()
    result = json.loads((tmp_path / "layout_precision_speed_acgan_mnist.json").read_text())
    assert sorted(calls[:4]) == sorted(calls[4:]) == sorted(seconds)  # every variant once a round
    assert calls[:4] != calls[4:]  # the two rounds in different orders
    assert result["speedup_over_float32"] == {
        "float32": 1.0, "float32_channels_last": 2.0, "bf16": 4.0, "bf16_channels_last": 8.0
    }  # fmt: skip
    assert result["seconds_each_later_epoch"]["bf16"] == [2.0] * 4 and result["options"][-1] == "10"
    monkeypatch.setattr(sys, "argv", [*argv[:-4], "--epochs", "1"])
    with pytest.raises(SystemExit):
        layout_precision_speed.main()
    assert "--epochs must be at least 2" in capsys.readouterr().err


def test_a_timed_run_leaves_nothing_in_the_working_directory(tmp_path, monkeypatch, data_root):
    """The speed benchmarks' runs have no logger, so a GAN's sample grids would land where the script was started."""
    from benchmarks.common import epoch_seconds

    monkeypatch.chdir(tmp_path)
    options = ["--trainer.limit_train_batches", "1", "--data.batch_size", "8"]
    assert len(epoch_seconds(ROOT / "configs/gan/dcgan_mnist.yaml", str(data_root), 2, [], options)) == 2
    assert list(tmp_path.iterdir()) == []


def test_a_gan_run_records_the_precision_of_its_chunks_and_each_change():
    from benchmarks.gan import run_precision

    assert run_precision(None, "bf16-mixed") == "bf16-mixed"
    assert run_precision("bf16-mixed", "bf16-mixed") == "bf16-mixed"
    assert run_precision("bf16-mixed", "32-true") == "bf16-mixed, then 32-true"
    assert run_precision("bf16-mixed, then 32-true", "32-true") == "bf16-mixed, then 32-true"
    assert run_precision("bf16-mixed, then 32-true", "bf16-mixed") == "bf16-mixed, then 32-true, then bf16-mixed"


def test_the_discriminator_outputs_recorded_are_those_the_losses_saw(tmp_path, monkeypatch, data_root):
    """LSGAN's discriminator loss is a function of the outputs on the real and the generated batch: recomputed from
    the recorded means and spreads it must equal the logged loss, which holds only if the first output recorded in a
    discriminator step is the real batch's and both are the outputs before that step's update. The config reads a
    folder of images (its DataModule has no ``data_dir``)."""
    from benchmarks import common, discriminator_outputs

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(discriminator_outputs, "RESULTS", tmp_path)
    batch = 4
    argv = ["discriminator_outputs.py", "--config", str(ROOT / "configs/gan/lsgan64_pokemon.yaml"), "--batches", "3"]
    options = ["--data.folder", str(data_root / "pokemon" / "images"), "--data.batch_size", str(batch)]
    monkeypatch.setattr(sys, "argv", [*argv, *options, "--model.width", "8"])
    discriminator_outputs.main()

    result = json.loads((tmp_path / "discriminator_outputs_lsgan64_pokemon.json").read_text())
    rows = result["batches"]
    assert [r["batch"] for r in rows] == [1, 2, 3]  # over two epochs of two batches, stopped at three
    assert (tmp_path / result["plot"]).stat().st_size > 0
    for row in rows:
        # mean((x - t)^2) over the batch = population variance + (mean - t)^2; the recorded std is the sample one
        square_error = lambda mean, std, target: std**2 * (batch - 1) / batch + (mean - target) ** 2  # noqa: E731
        expected = 0.5 * square_error(row["real_mean"], row["real_std"], 1.0) + 0.5 * square_error(
            row["fake_mean"], row["fake_std"], 0.0
        )
        assert row["d_loss"] == pytest.approx(expected, rel=2e-3, abs=2e-3)
        expected_g = 0.5 * square_error(row["fake_mean_in_g_step"], row["fake_std_in_g_step"], 1.0)
        assert row["g_loss"] == pytest.approx(expected_g, rel=2e-3, abs=2e-3)


def test_a_language_run_keeps_its_curve_when_generation_fails_and_says_it_is_unfinished(
    tmp_path, monkeypatch, data_root
):
    """The curve is written before the samples are generated (a GPU loan once ended during generation and took the
    whole record with it), and a run cut short of the config's 300 epochs is recorded as such."""
    from benchmarks import common, language_curves

    for module in (language_curves, common):
        monkeypatch.setattr(module, "RESULTS", tmp_path)

    def fail(*args, **kwargs):
        raise RuntimeError("the machine went back")

    monkeypatch.setattr(language_curves, "load_zoo_module", fail)  # what follows training: test, generation
    config = ROOT / "configs/language/char_rnn_warpeace.yaml"
    argv = ["language_curves.py", "--config", str(config), "--data-dir", str(data_root), "--name", "lm"]
    argv += ["--max-epochs", "2", "--trainer.default_root_dir", str(tmp_path / "run"), "--model.init_args.hidden_size"]
    argv += ["16", "--data.init_args.sequence_length", "20", "--trainer.limit_train_batches", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(RuntimeError, match="went back"):
        language_curves.main()
    recorded = json.loads((tmp_path / "lm.json").read_text())
    assert [e["epoch"] for e in recorded["epochs"]] == [1, 2] and len(recorded["epoch_train_loss"]) == 2
    assert (recorded["epochs_run"], recorded["epochs_scheduled"], recorded["stopped_by"]) == (2, 300, "max_epochs 2")
    assert recorded["precision"] == "32-true"  # a bf16 curve (gpu.sh PRECISION=bf16-mixed) must say so
    assert "samples" not in recorded

    timer = ["--trainer.callbacks+=pytorch_lightning.callbacks.Timer", "--trainer.callbacks.interval", "epoch"]
    timer += ["--trainer.callbacks.duration", "00:00:00:01", "--trainer.max_epochs", "1000"]  # stops after a second
    monkeypatch.setattr(sys, "argv", [*argv, *timer])
    with pytest.raises(RuntimeError, match="went back"):
        language_curves.main()
    recorded = json.loads((tmp_path / "lm.json").read_text())
    assert (recorded["epochs_scheduled"], recorded["stopped_by"]) == (300, "a time limit")
    assert 1 <= recorded["epochs_run"] < 1000


def test_results_are_copied_to_out_where_it_is_set(tmp_path, monkeypatch):
    """On a lent GPU machine only what lies in $OUT comes back, also from a call cut short later."""
    from benchmarks import common

    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.delenv("OUT", raising=False)
    common.write_result("here_only", {"x": 1})
    (tmp_path / "out").mkdir()
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    path = common.write_result("run", {"x": 2})
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["run.json"]
    assert (tmp_path / "out" / "run.json").read_text() == path.read_text()


@pytest.mark.parametrize(
    ("float32_step", "bf16_step", "picked"),
    [
        (0.005, 0.001, "32-true"),  # float32 fits the whole schedule: bf16's speed buys nothing
        (0.02, 0.005, "bf16-mixed"),  # only bf16 fits the schedule
        (0.01, 0.009, "32-true"),  # float32 reaches the book's epoch 151 (the schedule fits neither)
        (0.03, 0.01, "bf16-mixed"),  # only bf16 reaches epoch 151
        (0.0209, 0.0200, "32-true"),  # the H100's E2: neither reaches a figure, bf16's 4 % buys none
    ],
)
def test_the_precision_probe_turns_a_step_into_an_epoch_of_the_corpus_and_runs_bf16_only_for_a_book_figure(
    tmp_path, monkeypatch, capsys, float32_step, bf16_step, picked
):
    """E2's epoch is 200 batches of 100 windows of 160 characters (19,976 windows, the last batch smaller); the
    steps' times are stand-ins (a real step of the 2 x LSTM(800) takes seconds here)."""
    from benchmarks import char_rnn_precision_speed as probe
    from benchmarks import common

    steps = {False: float32_step, True: bf16_step}
    monkeypatch.setattr(probe, "seconds_per_step", lambda model, batch, length, device, bf16, n: steps[bf16])
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    config = str(ROOT / "configs/language/char_lstm_warpeace.yaml")
    argv = ["probe", "--config", config, "--device", "cpu", "--budget", "480", "--reach", "151", "--pick"]
    monkeypatch.setattr(sys, "argv", argv)
    probe.main()
    assert capsys.readouterr().out.splitlines()[-1] == picked
    result = json.loads((tmp_path / "char_rnn_precision_speed.json").read_text())
    assert (result["batches_per_epoch"], result["scheduled_epochs"], result["pick"]) == (200, 300, picked)
    epoch = float32_step * 200 * 1.1  # the trainer's loop over the bare steps: --overhead 1.1
    assert result["32-true"]["seconds_per_epoch_estimate"] == round(epoch, 2)
    assert result["32-true"]["epochs_in_budget"] == int(480 // epoch)


def test_a_multi_seed_epoch_curve_run_keeps_the_seeds_it_finished_when_a_later_one_fails(tmp_path, monkeypatch):
    from benchmarks import common, epoch_curves

    def run(config, data_dir, seed, workdir, cli_args):
        if seed == 2:
            raise RuntimeError("the machine went back")
        accuracy = 88.0 + seed
        return {"seed": seed, "epochs_trained": 10, "best_val_acc_pct": accuracy, "test_acc_at_best_val_pct": accuracy,
                "best_test_acc_pct": accuracy, "final_test_acc_pct": accuracy, "epochs": []}  # fmt: skip

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(epoch_curves, "run", run)
    argv = ["epoch_curves.py", "--config", "configs/sequence/bilstm_imdb.yaml", "--seeds", "0", "1", "2", "--name", "r"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(RuntimeError):
        epoch_curves.main()
    recorded = json.loads((tmp_path / "r.json").read_text())
    assert [r["seed"] for r in recorded["runs"]] == [0, 1]
    assert recorded["seeds_run"] == 2 and recorded["best_test_acc_pct_mean"] == 88.5
    assert recorded["best_test_acc_pct_range"] == "88.00-89.00" and recorded["best_test_acc_pct_stdev"] == 0.71


def test_the_keras_index_check_counts_a_rank_among_equally_frequent_words_as_consistent(monkeypatch):
    """Keras orders equally frequent words its own way, so a Keras rank anywhere among the ranks of the words with
    the same count is consistent; a rank outside them, or a word we never saw, is not."""
    from benchmarks import keras_imdb_index

    # ours: the (3), then cat, sat, mat, br (1 each, in order of first appearance) at ranks 2-5
    keras = {"the": 1, "cat": 3, "sat": 2, "mat": 4, "br": 1, "dog": 2}
    monkeypatch.setattr(keras_imdb_index, "KERAS_INDEX", keras)
    result = keras_imdb_index.compare(["The cat sat.", "the mat, the<br />"])
    assert result["words"] == 5  # "br" counts: Keras' reading
    assert result["same_rank"] == 2  # the, mat
    assert result["consistent"] == 4  # and cat (3 in 2-5), sat (2 in 2-5)
    assert result["inconsistent"] == {"br": [1, 5]}  # 1 is outside the ranks of the words seen once
    assert result["never_seen"] == ["dog"]


def test_the_keras_sequences_check_finds_keras_order_of_equal_counts_and_its_unseen_test_words(tmp_path):
    """Keras' sequences of a tiny corpus whose three words are equally frequent, numbered in another order than
    ours (first appearance: b, a, c), its test's unseen word left out: no review is equal as read, every one is up to
    that order, which the check reads off the training reviews; the test is equal only with unseen words skipped."""
    import numpy as np

    from benchmarks.keras_imdb_sequences import compare, keras_reviews

    train, test = (["b a a c", "c b"], [1, 0]), (["a zebra c", "b b"], [0, 1])
    a, b, c = 4, 5, 6  # Keras' order: a, b, c (ours: b 4, a 5, c 6)
    x_train, x_test = [[1, b, a, a, c], [1, c, b]], [[1, a, c], [1, b, b]]
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=np.array(x_train, dtype=object), y_train=train[1], x_test=np.array(x_test), y_test=test[1])

    result = compare(train, test, *keras_reviews(path))

    assert result["num_words"] == 7
    assert result["train"] == {
        "reviews": 2, "equal": 0, "equal_up_to_order_of_equal_counts": 2, "equal_in_keras_order_of_equal_counts": 2
    }  # fmt: skip
    assert result["words_keras_orders_otherwise"] == {
        "a": {"count": 2, "ours": 5, "keras": a}, "b": {"count": 2, "ours": 4, "keras": b}
    }  # fmt: skip
    # "a zebra c" is [1, 5, 2, 6] read ours (zebra out of vocabulary), [1, 5, 6] skipped: Keras' [1, a, c] up to order
    assert result["test_unseen_words_oov"]["equal_in_keras_order_of_equal_counts"] == 1  # only "b b"
    assert result["test_unseen_words_skip"]["equal"] == 0
    assert result["test_unseen_words_skip"]["equal_in_keras_order_of_equal_counts"] == 2
    assert result["book_num_words_cut"] is None  # fewer words than num_words=5000 keeps
    # a file with other arrays is refused by name
    np.savez(tmp_path / "other.npz", images=np.zeros(2))
    with pytest.raises(SystemExit, match="not imdb.npz's x_train"):
        keras_reviews(tmp_path / "other.npz")


def test_the_epoch_log_records_each_epochs_logged_losses_and_the_test_of_that_epochs_weights(
    tmp_path, monkeypatch, data_root
):
    """epoch_curves' log on the MNIST fixture: each epoch's training and validation loss as the CSV logger has them
    (the training loss is logged after the callbacks' epoch end, so the log reads it late), and the last epoch's
    test accuracy as ``trainer.test`` gives it for the final weights."""
    import csv

    from benchmarks.common import seeded_cli
    from benchmarks.epoch_curves import TestEveryEpoch

    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))
    options = ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "2", "--data.batch_size", "32"]
    cli = seeded_cli(ROOT / "configs/classification/mlp_mnist.yaml", str(data_root), 0, tmp_path, options)
    log = TestEveryEpoch()
    cli.trainer.callbacks.append(log)
    cli.trainer.fit(cli.model, cli.datamodule)
    [tested] = cli.trainer.test(cli.model, cli.datamodule, verbose=False)

    with open(next(tmp_path.rglob("metrics.csv"))) as f:
        rows = list(csv.DictReader(f))
    logged = {key: [float(r[key]) for r in rows if r.get(key)] for key in ("train/loss", "val/loss")}
    assert [e["epoch"] for e in log.epochs] == [1, 2, 3]
    assert [e["train_loss"] for e in log.epochs] == [round(v, 4) for v in logged["train/loss"]]
    assert [e["val_loss"] for e in log.epochs] == [round(v, 4) for v in logged["val/loss"]]
    assert log.epochs[-1]["test_acc_pct"] == round(100 * tested["test/acc"], 2)
    assert all(e["seconds_train_and_val"] >= 0 for e in log.epochs)  # rounded to 0.1 s: a fixture epoch is less


@pytest.mark.parametrize("head_bias", [0.0, 30.0])
def test_the_keras_loss_run_counts_the_training_samples_past_the_clip(tmp_path, monkeypatch, data_root, head_bias):
    """keras_bce_clip.py on the IMDB fixture: with the network as built no logit reaches the clip and the run trains
    exactly as the zoo's loss does; with every logit started past it (head bias 30) every training review is counted
    each epoch and, Keras' gradient being zero there, nothing trains, where the zoo's loss does."""
    from benchmarks.common import seeded_cli
    from benchmarks.epoch_curves import TestEveryEpoch
    from benchmarks.keras_bce_clip import KerasLossPastClip

    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))
    options = ["--trainer.max_epochs", "2", "--data.val_size", "0", "--data.batch_size", "8", "--data.maxlen", "20"]
    options += ["--model.embedding_dim", "4", "--model.hidden_size", "4", "--model.recurrent_dropout", "0"]
    runs = {}
    for name, log in (("keras", KerasLossPastClip()), ("zoo", TestEveryEpoch())):
        cli = seeded_cli(ROOT / "configs/sequence/bilstm_imdb.yaml", str(data_root), 0, tmp_path / name, options)
        torch.nn.init.constant_(cli.model.net.head.bias, head_bias)
        before = [p.detach().clone() for p in cli.model.parameters()]
        cli.trainer.callbacks.append(log)
        cli.trainer.fit(cli.model, cli.datamodule)
        trained = any(not torch.equal(b, p) for b, p in zip(before, cli.model.parameters(), strict=True))
        runs[name] = [{k: v for k, v in e.items() if k != "seconds_train_and_val"} for e in log.epochs], trained
    (keras, keras_trained), (zoo, zoo_trained) = runs["keras"], runs["zoo"]
    past_clip = [e.pop("training_samples_past_clip") for e in keras]
    assert zoo_trained
    if head_bias == 0:
        assert past_clip == [0, 0] and keras == zoo and keras_trained
    else:
        assert past_clip == [len(cli.datamodule.splits["train"])] * 2 and not keras_trained


def script_help(path: Path, tmp_path: Path, monkeypatch, capsys) -> str:
    """What ``python <path> --help`` prints, run in this process from an empty working directory ``tmp_path``, which
    it must leave empty (results, were the script to run, go to ``tmp_path/results``, never to ours)."""
    import runpy

    from benchmarks import common

    tmp_path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(path), run_name="__main__")
    assert exit.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage:") and list(tmp_path.iterdir()) == []
    return shown


SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name not in ("__init__.py", "common.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_script_answers_help_without_running_anything(script, tmp_path, monkeypatch, capsys):
    """``--help`` lists every option (the data folder's rule included) and runs nothing: no results file, nothing in
    the working directory; and the usage examples in the description are not run together by a ``\\`` that the
    docstring read as a line continuation."""
    import ast

    path = ROOT / "benchmarks" / script
    shown = script_help(path, tmp_path, monkeypatch, capsys)
    if "--data-dir" in shown:
        assert "LIGHTNING_ZOO_DATA" in shown
    if script == "bayesian_mnist.py":
        assert "--fashion-dir" in shown
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
    assert not [line for line in docstring.splitlines() if re.search(r"\S {4,}--", line)]


def test_the_data_dir_default_is_the_clis_data_root(tmp_path, monkeypatch):
    """--data-dir, else $LIGHTNING_ZOO_DATA, else ./data (an empty variable counts as unset), as the CLI reads data."""
    from benchmarks import step_time
    from benchmarks.common import seeded_run_options

    def data_dir(*options: str) -> str:
        monkeypatch.setattr(sys, "argv", ["script.py", "--config", "c.yaml", *options])
        return seeded_run_options("d")[0].data_dir

    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(tmp_path / "zoo_data"))
    assert data_dir() == str(tmp_path / "zoo_data")
    # Absolute, as given from where the script was started: some scripts run the CLI in another folder.
    assert data_dir("--data-dir", "elsewhere") == os.path.abspath("elsewhere")
    monkeypatch.setenv("LIGHTNING_ZOO_DATA", "")
    assert data_dir() == os.path.abspath("data")
    monkeypatch.delenv("LIGHTNING_ZOO_DATA")
    assert data_dir() == os.path.abspath("data")

    seen = []

    def quiet_fit(config, data_dir, epochs, callbacks, cli_args):
        seen.append(data_dir)
        raise RuntimeError("stop here")

    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(tmp_path / "zoo_data"))
    monkeypatch.setattr(step_time, "quiet_fit", quiet_fit)
    monkeypatch.setattr(sys, "argv", ["step_time.py", "--config", "configs/classification/mlp_mnist.yaml"])
    with pytest.raises(RuntimeError, match="stop here"):
        step_time.main()
    assert seen == [str(tmp_path / "zoo_data")]


def test_the_recurrent_loop_benchmark_takes_its_steps_and_name(tmp_path, monkeypatch):
    from benchmarks import common, recurrent_dropout_speed

    calls = []

    def seconds_per_step(training=True, steps=10, **options):
        calls.append((training, steps))
        return 0.5 if options.get("recurrent_dropout") else 0.25

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(recurrent_dropout_speed, "seconds_per_step", seconds_per_step)
    monkeypatch.setattr(sys, "argv", ["recurrent_dropout_speed.py", "--steps", "3", "--name", "loop"])
    recurrent_dropout_speed.main()
    recorded = json.loads((tmp_path / "loop.json").read_text())
    assert calls == [(True, 3)] * 3 + [(False, 3)] * 2
    assert "median of 3 after" in recorded["what"] and recorded["ratio"] == 2.0
    assert recorded["command"] == "python benchmarks/recurrent_dropout_speed.py --steps 3 --name loop"


def test_every_recorded_command_names_a_script_that_exists_or_says_what_runs_it_now(tmp_path, monkeypatch, capsys):
    """A results file keeps the command that ran; where that script was renamed since, it says which script runs it
    now, with the equivalent command, whose options that script still has."""
    for path in sorted((ROOT / "benchmarks/results").glob("*.json")):
        recorded = json.loads(path.read_text())
        if not isinstance(recorded, dict) or "command" not in recorded:
            continue
        script = re.match(r"python (benchmarks/\S+\.py)", recorded["command"])
        if script is None or (ROOT / script[1]).is_file():
            continue
        assert "equivalent_command" in recorded and "script_renamed" in recorded, path.name
        now = recorded["equivalent_command"].split()
        assert now[0] == "python" and (ROOT / now[1]).is_file(), path.name
        assert now[2:] == recorded["command"].split()[2:], path.name  # only the script's name differs
        shown = script_help(ROOT / now[1], tmp_path / path.stem, monkeypatch, capsys)
        assert all(option in shown for option in now[2:] if option.startswith("--")), path.name
