from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from tests.helpers.cifar import write_cifar10
from tests.helpers.faces import write_orl
from tests.helpers.idx import write_mnist
from tests.helpers.images import write_image_folder
from tests.helpers.series import write_closes
from tests.helpers.text import write_corpus, write_glove, write_imdb
from tests.helpers.weather import write_jena, write_nyc

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A 2-process run takes tens of seconds: every ``ddp`` test is ``slow`` too, so ``-m "not slow"`` skips it."""
    for item in items:
        if item.get_closest_marker("ddp") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of tiny fixtures in the real files' layouts: MNIST and Fashion-MNIST idx.gz (256 train, 64
    test images), a cats-vs-dogs subset of JPEGs (6 train, 3 validation, 3 test photos per class), a CIFAR-10
    archive (100 training, 20 test images), a flat folder of 8 images (pokemon/images), IMDB-format reviews (48
    training, 24 test), a GloVe-format file (glove/glove.6B.100d.txt), 120 days of closes
    (stocks/djia_2001_2017.csv), 600 Jena-format rows, 2 x 300 NYC-format hours and two 6,000-character texts
    (text/warpeace_input.txt with a BOM and \r line ends, text/sherlock.txt)
    and 14 x 10 ORL-format faces (32x28 PGM)."""
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, "MNIST", seed=0)
    write_mnist(root, "FashionMNIST", seed=1)
    write_image_folder(root / "cats_and_dogs_small", {"train": 6, "validation": 3, "test": 3})
    write_cifar10(root)
    write_image_folder(root / "pokemon", {"images": 8}, classes=("art",))  # read unlabelled: one class
    write_imdb(root)
    write_glove(root / "glove" / "glove.6B.100d.txt")
    write_closes(root / "stocks" / "djia_2001_2017.csv")
    write_jena(root / "jena_climate" / "jena_climate_2009_2016.csv")
    write_nyc(root / "weather" / "nyc_2013_hourly.csv.gz")
    write_corpus(root / "text" / "warpeace_input.txt", bom=True, newline="\r")  # the book's file has both
    write_corpus(root / "text" / "sherlock.txt", seed=1)
    write_orl(root / "orl_faces")
    return root


@pytest.fixture(scope="session")
def feature_checkpoint(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FeatureCNN (classifier-FID's feature network) trained for one short epoch on the fixture digits in the GAN
    layout (32x32, [-1, 1])."""
    from lightning_zoo.classification import FeatureCNN
    from tests.helpers.train import gan_data, trainer

    root = tmp_path_factory.mktemp("feature_cnn")
    t = trainer(root, max_epochs=1, limit_val_batches=0, enable_checkpointing=False)
    t.fit(FeatureCNN(input_shape=(1, 32, 32)), gan_data(data_root))
    t.save_checkpoint(root / "feature_cnn.ckpt")
    return root / "feature_cnn.ckpt"


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch hub cache holding "ImageNet weights" of VGG16 that are random (seeded), in torchvision's file and
    format: the conv base only (59 MB), which is all the zoo reads. Nothing is downloaded."""
    from lightning_zoo.pretrained import VGG16_FILE, vgg16_conv_base

    root = tmp_path_factory.mktemp("torch_home")
    (root / "hub" / "checkpoints").mkdir(parents=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        features = vgg16_conv_base().state_dict()
    torch.save({f"features.{k}": v for k, v in features.items()}, root / "hub" / "checkpoints" / VGG16_FILE)
    return root


@contextmanager
def isolated_environment(folder: Path, torch_home: Path) -> Iterator[None]:
    """Runs in ``folder``, with a cache folder beside it, W&B disabled, and a torch hub cache whose VGG16 weights are
    random; everything restored afterwards."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        monkeypatch.setenv("TORCH_HOME", str(torch_home))
        monkeypatch.setenv("XDG_CACHE_HOME", str(folder.with_name(folder.name + "_cache")))  # beside, not in, cwd
        monkeypatch.setenv("WANDB_MODE", "disabled")
        monkeypatch.setenv("WANDB_SILENT", "true")
        monkeypatch.delenv("LIGHTNING_ZOO_DATA", raising=False)
        monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
        yield


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_home: Path):
    """Each test runs in its own isolated environment (above); a test may change it further with ``monkeypatch``,
    which is undone first."""
    with isolated_environment(tmp_path, torch_home):
        yield
        import wandb

        if wandb.run is not None:
            wandb.finish()
        monkeypatch.undo()


def subprocess_env() -> dict[str, str]:
    """Environment for CLI subprocesses: the repository importable, W&B disabled, one intra-op thread (torchrun sets
    it too: processes compared bitwise must sum in the same order, whoever launched them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PL_", "LOCAL_RANK", "MASTER_", "WORLD_SIZE"))}
    env.update(PYTHONPATH=str(ROOT), WANDB_MODE="disabled", WANDB_SILENT="true", OMP_NUM_THREADS="1")
    return env


PYTHON = sys.executable
CLI = str(ROOT / "cli.py")
