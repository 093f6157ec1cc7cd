"""Experiment cards: one per config, `cli.py list` prints them with the book's number next to ours, and the README's
model table is exactly `cli.py list --markdown`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lightning_zoo.cards import README_TABLE, Card, Result, markdown_table, readme_with_table, table_rows
from lightning_zoo.registry import cards
from tests.conftest import CLI, PYTHON, ROOT, subprocess_env


def test_every_experiment_config_has_exactly_one_card():
    configs = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "configs").rglob("*.yaml")
        if p.parent.name not in ("trainer", "sweeps")
    )
    carded = [card.config for card in cards()]
    assert not set(configs) - set(carded), "configs without a card (the model file's CARDS)"
    assert not set(carded) - set(configs), "cards whose config is not there"
    assert sorted(carded) == configs  # one card each
    assert all(Path(card.config).stem == card.name for card in cards())  # <family>/<name>.yaml


def test_every_result_names_a_key_its_results_file_holds():
    """A misspelt key (or a path written from the repository root) showed "not run" for ever. A key may be missing
    only where it is an epoch a run has not reached yet (``epoch_train_loss.299`` of an unfinished run)."""
    for card in cards():
        for result in card.results:
            file, _, key = (result.ours or "").partition(":")
            if not (ROOT / "benchmarks/results" / file).is_file() or result.our_value() is not None:
                continue
            *parents, last = key.split(".")
            an_epoch_not_reached = last.isdigit() and parents and parents[-1].startswith("epoch")
            assert an_epoch_not_reached, f"{card.name}: {result.ours} holds no number"


@pytest.mark.parametrize(
    "ours, tolerance, mistake",
    [
        ("benchmarks/results/r.json:acc", 0.3, "ours is 'benchmarks/results/r.json:acc': write '<file>.json:<key>'"),
        ("r.json", 0.3, "ours is 'r.json': write"),
        ("r.json:acc", None, "a book number needs a tolerance"),
    ],
)
def test_a_card_refuses_a_result_written_wrong_naming_both(ours, tolerance, mistake):
    result = Result("test accuracy", 98.5, "test", ours=ours, tolerance=tolerance)
    with pytest.raises(ValueError, match=f"^card 'new_mnist', result 'test accuracy': {mistake}"):
        Card("new_mnist", "classifier", "a book", "configs/x.yaml", "MNIST", results=(result,))


def test_the_zoo_lists_the_foundation_models_with_the_books_number_and_ours():
    listed = subprocess.run([PYTHON, CLI, "list"], capture_output=True, text=True, env=subprocess_env(), check=True)
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "metric", "dataset", "book", "ours", "reproduced"]
    rows = {line.split()[0] for line in lines[1:]}
    assert {"mlp_mnist", "mlp_fashion_mnist", "dcgan_mnist", "feature_cnn_mnist"} <= rows
    mlp_test = next(line for line in lines if line.startswith("mlp_mnist") and "98.5 %" in line)
    assert mlp_test.split()[1:3] == ["test", "accuracy"]  # the metric's name tells a card's rows apart
    ours = json.loads((ROOT / "benchmarks/results/mlp_mnist.json").read_text())["test_acc_pct_mean"]
    assert f"{ours:.2f}".rstrip("0").rstrip(".") + " %" in mlp_test


def test_list_with_names_shows_only_the_cards_whose_name_holds_one(capsys):
    from lightning_zoo.cli import main

    main(["list", "dcgan", "mlp_mnist"])
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert names and all("dcgan" in n or "mlp_mnist" in n for n in names) and {"dcgan_mnist", "mlp_mnist"} <= names
    with pytest.raises(SystemExit) as exit_:
        main(["list", "zzz"])
    assert exit_.value.code == "error: no card's name holds zzz: `python cli.py list` shows them all"


def test_the_readme_model_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    start, end = (readme.index(marker) for marker in README_TABLE)
    in_readme = readme[start + len(README_TABLE[0]) : end].strip("\n") + "\n"
    assert in_readme == markdown_table(cards()), "run `python cli.py list --readme README.md`"


def test_list_readme_writes_the_table_between_the_markers_and_keeps_the_rest(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Zoo\n\n{README_TABLE[0]}\n| old | table |\n{README_TABLE[1]}\n\nThe rest.\n")
    subprocess.run([PYTHON, CLI, "list", "--readme", str(readme)], env=subprocess_env(), check=True)
    table = markdown_table(cards())
    assert readme.read_text() == f"# Zoo\n\n{README_TABLE[0]}\n{table}{README_TABLE[1]}\n\nThe rest.\n"
    (tmp_path / "other.md").write_text("no markers\n")
    listed = subprocess.run([PYTHON, CLI, "list", "--readme", str(tmp_path / "other.md")], env=subprocess_env(),
                            capture_output=True, text=True)  # fmt: skip
    assert listed.returncode == 1 and "has no model table between the lines" in listed.stderr
    with pytest.raises(ValueError):
        readme_with_table(f"{README_TABLE[1]} before {README_TABLE[0]}", "| t |\n")


def write_results(folder: Path, **values) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "r.json").write_text(json.dumps({"runs": [{"acc": 1.0}, {"acc": values.get("last", 97.0)}], **values}))
    return folder


@pytest.mark.parametrize(
    "result, expected",
    [
        (Result("acc", 98.5, "test", ours="r.json:mean", tolerance=0.3), "yes"),  # 98.3: 0.2 short
        (Result("acc", 98.5, "test", ours="r.json:mean", tolerance=0.1), "no"),
        (Result("acc", 98.0, "test", ours="r.json:mean", tolerance=0.1), "yes"),  # better than the book
        (Result("fid", 8.0, "x", ours="r.json:mean", unit="", tolerance=0.5, lower_is_better=True), "no"),
        (Result("fid", 99.0, "x", ours="r.json:mean", unit="", tolerance=0.5, lower_is_better=True), "yes"),
        (Result("acc", None, "test", ours="r.json:mean"), "no book number"),
        (Result("acc", 98.5, "test", ours="missing.json:mean", tolerance=0.3), "not run"),
        (Result("acc", 98.5, "test", ours="r.json:absent", tolerance=0.3), "not run"),
        (Result("acc", 98.5, "test", ours=None, tolerance=0.3), "not run"),
    ],
)
def test_a_result_is_reproduced_when_ours_is_within_the_tolerance(result, expected, tmp_path):
    assert result.status(write_results(tmp_path, mean=98.3)) == expected


def test_a_run_short_of_its_schedule_is_unfinished_not_judged(tmp_path):
    result = Result("acc", 82.0, "val", ours="r.json:mean", tolerance=2.0)
    assert result.status(write_results(tmp_path, mean=70.0, epochs_run=60, epochs_scheduled=160)) == "unfinished"
    assert result.status(write_results(tmp_path, mean=70.0, epochs_run=160, epochs_scheduled=160)) == "no"
    assert result.status(write_results(tmp_path, mean=81.0, epochs_run=160, epochs_scheduled=160)) == "yes"
    # a number at a given epoch of an epoch list is final once that epoch is recorded; the last one so far is not
    short = write_results(tmp_path, mean=70.0, epoch_loss=[2.5, 2.0], sizes=[0.5], epochs_run=2, epochs_scheduled=300)

    def loss(at: str, book: float) -> Result:
        return Result("loss", book, at, ours=f"r.json:epoch_loss.{at}", unit="", tolerance=0.05, lower_is_better=True)

    assert (loss("1", 2.1).status(short), loss("2", 2.1).status(short)) == ("yes", "not run")
    assert loss("-1", 1.9).status(short) == "unfinished"
    assert Result("size", 0.5, "no epoch", ours="r.json:sizes.0", unit="", tolerance=0.1).status(short) == "unfinished"


def test_result_keys_descend_into_lists_and_objects(tmp_path):
    folder = write_results(tmp_path, mean=98.3, last=96.5)
    assert Result("acc", None, "test", ours="r.json:runs.-1.acc").our_value(folder) == 96.5
    assert Result("acc", None, "test", ours="r.json:runs.0.acc").our_value(folder) == 1.0


def test_a_note_is_filled_from_its_results_file(tmp_path):
    folder = write_results(tmp_path, mean=98.3, epochs_trained=7)
    result = Result("fid", None, "x", ours="r.json:mean", unit="", note="{epochs_trained} of 100 epochs")
    assert result.note_text(folder) == "7 of 100 epochs"
    assert result.note_text(tmp_path / "nowhere") == "{epochs_trained} of 100 epochs"  # not run yet: as written
    card = Card("x", "gan", "a book", "configs/gan/gan_mnist.yaml", "MNIST", results=(result,))
    assert table_rows([card], folder)[0][6] == "98.3 (7 of 100 epochs)"
    assert table_rows([card], tmp_path / "nowhere")[0][6] == "-"  # no number, no note


def test_a_notes_seeds_say_which_seed_or_how_many(tmp_path):
    result = Result("acc", None, "test", ours="r.json:mean", note="{seeds}, 10 epochs")
    one = write_results(tmp_path / "one", mean=88.5, runs=[{"seed": 3}])
    three = write_results(tmp_path / "three", mean=88.5, runs=[{"seed": 0}, {"seed": 1}, {"seed": 2}])
    unseeded = write_results(tmp_path / "unseeded", mean=88.5, runs=[{"acc": 1.0}])
    assert result.note_text(one) == "seed 3, 10 epochs"
    assert result.note_text(three) == "mean of 3 seeds, 10 epochs"
    assert result.note_text(unseeded) == "{seeds}, 10 epochs"  # no seeds recorded: left as written
    own_key = write_results(tmp_path / "own", mean=88.5, runs=[{"seed": 3}], seeds=[3])  # a "seeds" key of its own
    assert result.note_text(own_key) == "seed 3, 10 epochs"


def test_list_readme_interrupted_while_writing_leaves_the_readme_whole(tmp_path, monkeypatch):
    from lightning_zoo.cli import list_zoo
    from lightning_zoo.core import ZooError

    readme = tmp_path / "README.md"
    before = f"# Zoo\n\n{README_TABLE[0]}\n| old | table |\n{README_TABLE[1]}\n\nThe rest.\n"
    readme.write_text(before)
    write_text = Path.write_text

    def cut_short(path, text, *args, **kwargs):
        write_text(path, text[:20], *args, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(ZooError, match="README.md: No space left on device"):
        list_zoo(["--readme", str(readme)])
    monkeypatch.undo()
    assert readme.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["README.md"]
