"""What the contract tests need to run any card's config on fixture data, and to tell families apart by what their
bases declare (never by a model's name)."""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from pytorch_lightning.callbacks import Callback

from lightning_zoo.cards import Card
from lightning_zoo.cli import ZooCLI
from lightning_zoo.registry import cards
from tests.conftest import CLI, PYTHON, subprocess_env

FIXTURE_CHARACTER_WINDOW = 40

# Command-line options that point a DataModule at the fixture data of tests/conftest.py's data_root, by class name.
# A new DataModule adds one entry (and its fixture writer); the contract tests then cover every card that uses it.
DATA_FIXTURES: dict[str, Callable[[Path], list[str]]] = {
    "MNISTDataModule": lambda root: ["--data.data_dir", str(root), "--data.batch_size", "8"],
    "FashionMNISTDataModule": lambda root: ["--data.data_dir", str(root), "--data.batch_size", "8"],
    "CIFAR10DataModule": lambda root: ["--data.data_dir", str(root), "--data.batch_size", "8"],
    # The fixture has 48 training reviews: a quarter validates, all train (the GloVe config keeps 200, which it lacks).
    "IMDBDataModule": lambda root: [
        "--data.data_dir",
        str(root),
        "--data.batch_size",
        "8",
        "--data.val_size",
        "0.25",
        "--data.train_size",
        "null",
    ],  # fmt: skip
    # Windows of 40 characters keep the 2 x 800 War and Peace models' tests short (the books' are 100 and 160).
    "CharCorpusDataModule": lambda root: [
        "--data.data_dir",
        str(root),
        "--data.batch_size",
        "4",
        "--data.sequence_length",
        str(FIXTURE_CHARACTER_WINDOW),
    ],  # fmt: skip
    "WordCorpusDataModule": lambda root: ["--data.data_dir", str(root), "--data.batch_size", "8"],
    "AdditionDataModule": lambda root: [
        "--data.batch_size",
        "8",
        "--data.training_size",
        "400",
        "--data.test_size",
        "40",
    ],  # fmt: skip
    "WindowSeriesDataModule": lambda root: ["--data.data_dir", str(root), "--data.batch_size", "8"],
    # Short histories keep the weather tests fast (30 steps of input still fit the Conv1D front-end).
    "WeatherDataModule": lambda root: [
        "--data.data_dir",
        str(root),
        "--data.batch_size",
        "8",
        "--data.lookback",
        "60",
        "--data.step",
        "2",
        "--data.delay",
        "6",
        "--data.train_end",
        "0.5",
        "--data.val_end",
        "0.75",
    ],  # fmt: skip
    # 32x32 and 16 filters (the configs' 128) keep the RGB GANs' tests fast (a flat folder serves those GANs only);
    # their cards' parameter counts state the configs' sizes.
    "ImageFolderDataModule": lambda root: [
        "--data.folder",
        str(root / "pokemon" / "images"),
        "--data.batch_size",
        "4",
        "--data.image_size",
        "32",
        "--model.width",
        "16",
    ],  # fmt: skip
    # The 8 fixture images, 2 held out (8 turned images to validate on), at 32x32.
    "RotationFolderDataModule": lambda root: [
        "--data.folder",
        str(root / "pokemon" / "images"),
        "--data.batch_size",
        "4",
        "--data.image_size",
        "32",
        "--data.val_size",
        "2",
    ],  # fmt: skip
    "VGG16FeaturesDataModule": lambda root: [
        "--data.images.init_args.data_dir",
        str(root),
        "--data.images.init_args.image_size",
        "48",
        "--data.batch_size",
        "4",
    ],  # fmt: skip
    # 48x48 instead of 150x150 keeps the convnets' tests fast; the cards' parameter counts state the book's size.
    # 64 pairs of 32x28 fixture faces (the book: 8,000 pairs of 112x92).
    "ORLFacesDataModule": lambda root: [
        "--data.data_dir",
        str(root),
        "--data.batch_size",
        "8",
        "--data.pairs",
        "64",
    ],  # fmt: skip
    "CatsAndDogsSmallDataModule": lambda root: [
        "--data.data_dir",
        str(root),
        "--data.batch_size",
        "4",
        "--data.image_size",
        "48",
    ],  # fmt: skip
}

CARDS = cards()


def one_card_per_family() -> list[Card]:
    """The first card of each family whose model has weights to train (a baseline has nothing to resume or to
    synchronise across DDP processes)."""
    first: dict[str, Card] = {}
    for card in CARDS:
        if sum(card.parameters.values()) > 0:
            first.setdefault(card.family, card)
    return list(first.values())


def ddp_cards() -> list[Card]:
    """The first card of each family, and every card that asks for the DDP test itself."""
    return one_card_per_family() + [c for c in CARDS if c.ddp and c not in one_card_per_family()]


@functools.cache
def read_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def data_class_name(card: Card) -> str:
    return read_config(card.config_path)["data"]["class_path"].rpartition(".")[2]


def fixture_model_options(card: Card) -> list[str]:
    """A model size that follows the data's, scaled as the fixture scales the data: a generation window (each
    character from the last ones re-read from a zero state; the books' is about their window) becomes the fixture's
    window, as 162 made the 2 x 800 LSTM's three-epoch run a minute of text sampling."""
    model = read_config(card.config_path)["model"].get("init_args", {})
    if model.get("generation_window") is None:
        return []
    return ["--model.generation_window", str(FIXTURE_CHARACTER_WINDOW)]


def starting_checkpoint(card: Card, data_root: Path) -> list[str]:
    """For a card that starts from another card's run: that card trained one epoch on the fixture data (once per test
    session), passed as ``--model.init_from``."""
    if card.starts_from is None:
        return []
    path = data_root.parent / "starts_from" / card.starts_from / "checkpoints" / "last.ckpt"
    if not path.is_file():
        [parent] = [c for c in CARDS if c.name == card.starts_from]
        fit(parent, data_root, path.parents[1], "--trainer.max_epochs", "1")
    return ["--model.init_from", str(path)]


def cli_args(card: Card, data_root: Path, workdir: Path, *extra: str) -> list[str]:
    """The card's config on fixture data: two training batches and one validation batch an epoch, no logger."""
    return [
        "--config", str(card.config_path), *DATA_FIXTURES[data_class_name(card)](data_root),
        *fixture_model_options(card), *starting_checkpoint(card, data_root),
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
        "--trainer.enable_model_summary", "false", "--trainer.default_root_dir", str(workdir),
        "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1", "--trainer.log_every_n_steps", "1",
        *extra,
    ]  # fmt: skip


def fit(card: Card, data_root: Path, workdir: Path, *extra: str) -> ZooCLI:
    return ZooCLI(args=["fit", *cli_args(card, data_root, workdir, *extra)])


def build(card: Card, data_root: Path, *extra: str) -> ZooCLI:
    """The card's model and DataModule as the CLI builds them, without running anything."""
    return ZooCLI(args=cli_args(card, data_root, data_root.parent / "unused", *extra), run=False)


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]


def forward(model: torch.nn.Module, example) -> torch.Tensor:
    """The model's output for its ``example_input_array`` (a tensor, a tuple of arguments or a dict of keywords)."""
    if isinstance(example, dict):
        return model(**example)
    return model(*example) if isinstance(example, (tuple, list)) else model(example)


class SaveAfterBatch(Callback):
    """Saves a checkpoint (as ``ModelCheckpoint(every_n_train_steps)`` does, after the batch) once the run has
    trained ``batches`` batches in all: a generic mid-epoch checkpoint, whatever a batch's optimizer steps."""

    def __init__(self, batches: int, path: str) -> None:
        self.batches, self.path, self.seen = batches, path, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.seen += 1
        if self.seen == self.batches:
            trainer.save_checkpoint(self.path)


def ddp_fit(card: Card, data_root: Path, root: Path, max_epochs: int, strategy: str, *extra: str) -> None:
    """The card's config under DDP with 2 CPU processes, launched as users launch it (DDP re-runs the script)."""
    command = [
        PYTHON, CLI, "fit", *cli_args(card, data_root, root, *extra),
        "--trainer.strategy", strategy, "--trainer.devices", "2", "--trainer.accelerator", "cpu",
        "--trainer.max_epochs", str(max_epochs),
    ]  # fmt: skip
    done = subprocess.run(command, env=subprocess_env(), cwd=root.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def rank_reports(folder: Path) -> list[dict]:
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in (0, 1)]
