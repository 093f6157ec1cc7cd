"""Folders of image files: what is read and how (RGB from any mode, skipped non-images and unreadable files), the
layouts, seeded augmentation that a resumed run reproduces, the binary classifier the cats-vs-dogs convnet is, and
the builder of the book's cats-vs-dogs subset."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from pytorch_lightning import seed_everything
from pytorch_lightning.callbacks import Callback

from datamodules import (
    CatsAndDogsSmallDataModule,
    DataError,
    DatasetUnavailableError,
    ImageFolderDataModule,
    RotationFolderDataModule,
)
from datamodules.vision.cats_and_dogs import build_subset, main
from lightning_zoo.classification import SmallConvNet
from lightning_zoo.cli import ZooCLI
from lightning_zoo.cli import main as zoo_main
from lightning_zoo.core import ZooError
from tests.conftest import ROOT
from tests.helpers.contract import SaveAfterBatch
from tests.helpers.images import write_image_folder
from tests.helpers.train import assert_same_state, state_of, trainer


def epoch_batches(dm: ImageFolderDataModule, epoch: int, state: dict | None = None) -> list[torch.Tensor]:
    loader = dm.train_dataloader()
    if state:
        loader.load_state_dict(state)
    loader.sampler.set_epoch(epoch)
    return [x for x, _ in loader]


def folder_dm(folder: Path, **kwargs) -> ImageFolderDataModule:
    dm = ImageFolderDataModule(str(folder), **{"image_size": 16, "batch_size": 4, **kwargs})
    dm.setup("fit")
    return dm


def test_split_folders_give_labels_by_class_folder_in_the_books_order(tmp_path):
    write_image_folder(tmp_path, {"train": 5, "validation": 2, "test": 3})
    dm = folder_dm(tmp_path)
    assert dm.classes == ["cats", "dogs"] and dm.num_classes == 2 and dm.input_shape == (3, 16, 16)
    assert {s: len(d) for s, d in dm.splits.items()} == {"train": 10, "val": 4, "test": 6, "predict": 6}
    x, y = next(iter(dm.test_dataloader()))
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32 and sorted(dm.splits["test"].labels.tolist()) == [
        0, 0, 0, 1, 1, 1
    ]  # fmt: skip
    assert 0 <= x.min() and x.max() <= 1
    # held-out images come in a fixed shuffled order (a partial evaluation in folder order would see cats only)
    assert set(y.tolist()) == {0, 1} and torch.equal(
        folder_dm(tmp_path).splits["test"].labels, dm.splits["test"].labels
    )
    assert all(path.parent.name == dm.classes[label] for path, label in zip(*_files(dm, "test"), strict=True))


def _files(dm: ImageFolderDataModule, split: str) -> tuple[list[Path], list[int]]:
    return dm.splits[split].paths, dm.splits[split].labels.tolist()


def test_predictions_name_each_images_file_even_after_an_unreadable_one_is_skipped(tmp_path):
    """predictions.csv's index is the image's place in the predict split and its file the image's path: an
    unreadable image leaves a gap in the indices, not a shift of every later row's file."""
    import csv

    from lightning_zoo.callbacks import PredictionWriter

    write_image_folder(tmp_path, {"train": 2, "test": 3})
    dm = folder_dm(tmp_path, image_size=48)
    broken = dm.splits["predict"].paths[1]
    broken.write_bytes(broken.read_bytes()[:200])
    out = tmp_path / "out"
    model = SmallConvNet(input_shape=(3, 48, 48), num_classes=2)
    with pytest.warns(UserWarning, match="not a readable image"):
        trainer(tmp_path, callbacks=[PredictionWriter(str(out))]).predict(model, dm)
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    paths, labels = _files(dm, "predict")
    assert [int(r["index"]) for r in rows] == [0, 2, 3, 4, 5]
    for row in rows:
        i = int(row["index"])
        assert row["file"] == str(paths[i].relative_to(tmp_path)) and int(row["target"]) == labels[i]
        assert row["predicted_class"] == dm.classes[int(row["predicted"])]


def test_held_out_splits_take_the_training_classes_even_when_they_lack_one(tmp_path):
    write_image_folder(tmp_path, {"train": 2})
    write_image_folder(tmp_path, {"validation": 2}, classes=("dogs",))
    dm = folder_dm(tmp_path)
    assert dm.classes == ["cats", "dogs"] and dm.splits["val"].labels.tolist() == [1, 1]
    (tmp_path / "test" / "birds").mkdir(parents=True)
    with pytest.raises(DatasetUnavailableError, match="missing cats, dogs"):
        folder_dm(tmp_path)


def test_without_a_validation_folder_val_size_splits_the_training_images_and_the_test_folder_stays(tmp_path):
    write_image_folder(tmp_path, {"train": 10, "test": 3})
    dm = folder_dm(tmp_path, val_size=0.2)
    assert {s: len(d) for s, d in dm.splits.items()} == {"train": 16, "val": 4, "test": 6, "predict": 6}
    assert not set(dm.splits["val"].paths) & set(dm.splits["train"].paths)
    assert all(path.parent.parent.name == "test" for path in dm.splits["test"].paths)


def test_a_held_out_class_the_training_images_lack_is_an_error_unless_classes_are_chosen(tmp_path):
    write_image_folder(tmp_path, {"train": 2, "test": 2})
    write_image_folder(tmp_path, {"test": 1}, classes=("horses",))
    with pytest.raises(DataError, match="test has class folder.* that train/ lacks: horses"):
        folder_dm(tmp_path)
    dm = folder_dm(tmp_path, classes=["cats", "dogs"])
    assert len(dm.splits["test"]) == 4 and dm.splits["test"].labels.tolist() == [0, 0, 1, 1]


def test_a_flat_unlabelled_folder_is_one_class_with_a_seeded_validation_split(tmp_path):
    write_image_folder(tmp_path, {"": 10}, classes=("a", "b"))
    dm = folder_dm(tmp_path, labelled=False, val_size=0.25, value_range=(-1.0, 1.0))
    again = folder_dm(tmp_path, labelled=False, val_size=0.25, value_range=(-1.0, 1.0))
    assert dm.num_classes == 1 and (len(dm.splits["train"]), len(dm.splits["val"])) == (15, 5)
    assert dm.splits["val"].paths == again.splits["val"].paths
    assert not set(dm.splits["val"].paths) & set(dm.splits["train"].paths)
    x, y = next(iter(dm.val_dataloader()))
    x01, _ = next(iter(folder_dm(tmp_path, labelled=False, val_size=0.25).val_dataloader()))
    torch.testing.assert_close(x, 2 * x01 - 1)
    assert x.max() == 1.0 and set(y.tolist()) == {0}


def test_a_rotation_folder_serves_every_image_at_four_turns_labelled_by_the_turn(tmp_path):
    write_image_folder(tmp_path, {"": 5}, classes=("a", "b"))
    dm = RotationFolderDataModule(str(tmp_path), image_size=16, batch_size=4, val_size=2, augment="flip")
    dm.setup("fit")
    plain = folder_dm(tmp_path, labelled=False, val_size=2)  # the same seeded split, unturned
    assert dm.num_classes == 4 and dm.classes == list(RotationFolderDataModule.turns)
    assert (len(dm.splits["train"]), len(dm.splits["val"])) == (4 * 8, 4 * 2)
    for split in ("train", "val"):
        turned, upright = dm.unaugmented(split), plain.unaugmented(split)
        for index in range(len(turned)):
            image, turns = turned[index]
            assert int(turns) == index % 4
            torch.testing.assert_close(image, torch.rot90(upright[index // 4][0], index % 4, dims=(1, 2)))
    x, y = next(iter(dm.val_dataloader()))
    assert y.tolist() == [0, 1, 2, 3] and not torch.equal(x[0], x[1])
    files = [str(p.relative_to(tmp_path)) for p in plain.splits["val"].paths]  # predict: the held-out images
    assert dm.prediction_inputs() == {"file": [f for f in files for _ in range(4)], "turn": list(dm.turns) * 2}
    *_, index = next(iter(dm.predict_dataloader()))
    assert index.tolist() == [0, 1, 2, 3]  # each sample's place, for predictions.csv
    with pytest.raises(TypeError, match="labels every image by its turn"):
        RotationFolderDataModule(str(tmp_path), labelled=True)


def test_grey_palette_and_rgba_images_become_rgb_with_transparency_on_white(tmp_path):
    folder = tmp_path / "art"
    folder.mkdir()
    Image.new("L", (8, 8), 100).save(folder / "grey.png")
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([10, 200, 30] + [0] * 765)
    palette.save(folder / "palette.png")
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :4] = (255, 0, 0, 255)  # opaque red on the left, fully transparent black on the right
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.fromarray(np.full((8, 8), 51400, np.uint16)).save(folder / "grey16.png")  # 16 bits: 51400 / 257 = 200
    Image.fromarray(np.full((8, 8), 200, np.int32), mode="I").save(folder / "grey_int.tif")  # 32-bit of 8-bit values
    (folder / "dark16.pgm").write_bytes(b"P5 8 8 65535\n" + np.full((8, 8), 200, ">u2").tobytes())  # 16 bits, dark: 1
    dm = folder_dm(folder, labelled=False, image_size=8)
    images = {p.stem: dm.splits["train"][i][0] for i, p in enumerate(dm.splits["train"].paths)}
    assert all(x.shape == (3, 8, 8) for x in images.values())
    assert torch.allclose(images["grey"], torch.full((3, 8, 8), 100 / 255))
    assert torch.allclose(images["grey16"], torch.full((3, 8, 8), 200 / 255))  # (PIL's convert gave 255)
    assert torch.allclose(images["grey_int"], torch.full((3, 8, 8), 200 / 255))
    assert torch.allclose(images["dark16"], torch.full((3, 8, 8), 1 / 255))  # (not taken for 8 bits by its values)
    assert torch.allclose(images["palette"][:, 0, 0], torch.tensor([10, 200, 30]) / 255)
    assert images["rgba"][:, :, :4].mean((1, 2)).tolist() == [1.0, 0.0, 0.0]
    assert images["rgba"][:, :, 4:].eq(1).all()  # white, not the transparent pixels' black


def test_files_that_are_not_images_are_skipped_with_one_warning_that_counts_them(tmp_path):
    write_image_folder(tmp_path, {"train": 3})
    for name in ("notes.txt", "cats/.DS_Store", "dogs/labels.csv"):
        (tmp_path / "train" / name).write_text("not an image")
    with pytest.warns(UserWarning, match=r"skipped 3 files that are not images in a class folder \(e.g. ") as caught:
        dm = folder_dm(tmp_path)
    assert len([w for w in caught if "not images" in str(w.message)]) == 1
    assert len(dm.splits["train"]) == 6


def test_an_unreadable_image_met_during_an_epoch_is_skipped_and_named(tmp_path):
    write_image_folder(tmp_path, {"train": 4})
    broken = tmp_path / "train" / "dogs" / "dog.1.jpg"
    broken.write_bytes(broken.read_bytes()[:200])  # a truncated download
    dm = folder_dm(tmp_path, batch_size=8)
    with pytest.warns(UserWarning, match=rf"skipped {broken}: not a readable image .*1 unreadable so far"):
        [batch] = epoch_batches(dm, 0)
    assert len(batch) == 7


def test_a_batch_of_nothing_but_unreadable_files_is_an_error_that_says_so(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for i in range(2):
        (folder / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    dm = folder_dm(folder, labelled=False, batch_size=2)
    with warnings.catch_warnings(), pytest.raises(DataError, match="a whole batch of 2 image files could not be read"):
        warnings.simplefilter("ignore")
        next(iter(dm.train_dataloader()))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such folder of images"),
        (lambda p: p.mkdir(), "expected one sub-folder of images per class, found none"),
        (lambda p: (p / "cats").mkdir(parents=True), "no image files"),
    ],
    ids=["missing", "empty", "class-folder-without-images"],
)
def test_a_missing_or_empty_folder_ends_with_one_clear_line(tmp_path, make, message):
    folder = tmp_path / "photos"
    make(folder)
    with pytest.raises(DatasetUnavailableError, match=message) as error:
        folder_dm(folder)
    assert "\n" not in str(error.value)


def test_a_file_given_as_a_folder_is_called_a_file(tmp_path):
    """It said "no such folder of images" of a path that is there."""
    write_image_folder(tmp_path / "photos", {"": 2})
    photo = next((tmp_path / "photos" / "cats").iterdir())
    with pytest.raises(DataError, match=rf"^{photo} is a file, not a folder of images: give --data.folder the folder"):
        folder_dm(photo)
    dm = ImageFolderDataModule(folder=str(tmp_path / "photos"), image_size=48, predict_folder=str(photo))
    with pytest.raises(DataError, match=rf"^{photo} is a file, not a folder of images: give the folder that holds"):
        dm.setup("predict")


def test_an_empty_class_folder_is_refused_and_loose_images_are_pointed_to_labelled_false(tmp_path):
    """An empty train/birds/ would add an output the model never learns; images without class folders (a GAN's
    folder) are a folder for --data.labelled false."""
    write_image_folder(tmp_path, {"train": 2})
    (tmp_path / "train" / "birds").mkdir()
    with pytest.raises(DataError, match=r"train: the class folder\(s\) birds hold no images; add some, remove"):
        folder_dm(tmp_path)
    assert folder_dm(tmp_path, classes=["cats", "dogs"]).num_classes == 2
    (tmp_path / "test" / "cats").mkdir(parents=True)  # a held-out split may lack images of a class
    write_image_folder(tmp_path, {"test": 1}, classes=("dogs",))
    assert folder_dm(tmp_path, classes=["cats", "dogs"]).splits["test"].labels.tolist() == [1]
    (tmp_path / "loose").mkdir()
    for i in range(2):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / "loose" / f"{i}.png")
    with pytest.raises(DatasetUnavailableError, match="found none; images without classes .* --data.labelled false"):
        folder_dm(tmp_path / "loose")
    assert len(folder_dm(tmp_path / "loose", labelled=False).splits["train"]) == 2


def test_keras_augmentation_is_seeded_per_sample_and_the_same_in_workers(tmp_path):
    write_image_folder(tmp_path, {"train": 6})
    in_process, in_workers = folder_dm(tmp_path, augment="keras"), folder_dm(tmp_path, augment="keras", num_workers=2)
    for epoch in (0, 1):
        a, b = epoch_batches(in_process, epoch), epoch_batches(in_workers, epoch)
        assert len(a) == 3 and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    plain = torch.cat(epoch_batches(folder_dm(tmp_path), 0))
    assert not torch.equal(torch.cat(epoch_batches(in_process, 0)), plain)  # augmented
    rest = epoch_batches(folder_dm(tmp_path, augment="keras", num_workers=2), 1, {"epoch": 1, "batches_done": 1})
    assert all(torch.equal(x, y) for x, y in zip(epoch_batches(in_process, 1)[1:], rest, strict=True))


class BatchLog(Callback):
    def __init__(self) -> None:
        self.batches: list[torch.Tensor] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch[0].clone())


def test_a_run_resumed_mid_epoch_sees_the_uninterrupted_runs_augmented_batches(tmp_path):
    write_image_folder(tmp_path / "photos", {"train": 6, "validation": 2})

    def run(root: Path, ckpt_path: Path | None = None, callbacks=()) -> tuple[SmallConvNet, BatchLog]:
        seed_everything(0)
        log = BatchLog()
        model = SmallConvNet(input_shape=(3, 48, 48), num_classes=2)
        dm = ImageFolderDataModule(
            str(tmp_path / "photos"), image_size=48, augment="keras", batch_size=4, num_workers=2
        )
        trainer(root, max_epochs=2, callbacks=[log, *callbacks], enable_checkpointing=False).fit(
            model, dm, ckpt_path=ckpt_path
        )
        return model, log

    full, full_log = run(tmp_path / "a", callbacks=[SaveAfterBatch(4, str(tmp_path / "mid.ckpt"))])  # 3 an epoch
    resumed, resumed_log = run(tmp_path / "b", tmp_path / "mid.ckpt")
    assert len(full_log.batches) == 6 and len(resumed_log.batches) == 2
    assert all(torch.equal(a, b) for a, b in zip(full_log.batches[4:], resumed_log.batches, strict=True))
    assert_same_state(state_of(full), state_of(resumed))


def test_one_output_is_a_binary_classifier_with_binary_cross_entropy():
    model = SmallConvNet(input_shape=(3, 48, 48), num_classes=2)
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([1, 1, 0])
    loss, predicted = model.loss_and_predictions(logits, y)
    expected = -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(-1.0)) + F.logsigmoid(torch.tensor(-0.5)))
    torch.testing.assert_close(loss, expected / 3)
    assert predicted.tolist() == [1, 0, 1]
    model.eval()
    out = model.predict_step((torch.rand(3, 3, 48, 48),), 0)["probs"]
    assert out.shape == (3, 2) and torch.allclose(out.sum(1), torch.ones(3))
    assert model.net.head[-1].out_features == 1
    assert SmallConvNet(input_shape=(3, 48, 48), num_classes=2, binary_output=False).net.head[-1].out_features == 2


def kaggle_train_folder(root: Path, upto: int = 2005) -> Path:
    root.mkdir(parents=True)
    for kind in ("cat", "dog"):
        for i in range(upto):
            (root / f"{kind}.{i}.jpg").write_bytes(f"{kind} {i}".encode())
    return root


def test_the_subset_builder_selects_exactly_the_books_files(tmp_path):
    source = kaggle_train_folder(tmp_path / "train")
    assert build_subset(source, tmp_path / "small") == 4000
    for split, numbers in {"train": range(0, 1000), "validation": range(1000, 1500), "test": range(1500, 2000)}.items():
        for folder, kind in (("cats", "cat"), ("dogs", "dog")):
            names = {p.name for p in (tmp_path / "small" / split / folder).iterdir()}
            assert names == {f"{kind}.{i}.jpg" for i in numbers}
    assert (tmp_path / "small/test/dogs/dog.1999.jpg").read_text() == "dog 1999"
    assert not (tmp_path / "small.partial").exists()


def test_the_subset_builder_refuses_to_overwrite_and_names_missing_files(tmp_path, capsys):
    source = kaggle_train_folder(tmp_path / "train")
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exit_:
        main(["--kaggle-train", str(source), "--to", str(tmp_path / "small")])
    assert "already exists and is not empty: refusing to overwrite it" in str(exit_.value.code)
    assert (tmp_path / "small" / "mine.txt").read_text() == "keep me"
    (source / "dog.1234.jpg").unlink()
    with pytest.raises(
        DatasetUnavailableError, match=r"1 of the subset's 4000 files are missing \(e.g. dog.1234.jpg\)"
    ):
        build_subset(source, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_the_cats_and_dogs_data_module_reads_the_subset_and_says_how_to_build_it(data_root, tmp_path):
    dm = CatsAndDogsSmallDataModule(data_dir=str(data_root), image_size=48)
    dm.setup("fit")
    assert dm.classes == ["cats", "dogs"] and {s: len(dm.splits[s]) for s in ("train", "val", "test")} == {
        "train": 12, "val": 6, "test": 6,
    }  # fmt: skip
    with pytest.raises(DatasetUnavailableError, match="build the subset once from Kaggle's training folder"):
        CatsAndDogsSmallDataModule(data_dir=str(tmp_path)).prepare_data()


POKEMON_CONFIGS = sorted(
    [*(ROOT / "configs" / "gan").glob("*pokemon*.yaml"), ROOT / "configs/classification/feature_cnn_pokemon.yaml"]
)


def test_a_relative_folder_is_under_the_data_root_and_an_absolute_one_is_itself(tmp_path, monkeypatch):
    """``folder: pokemon/images`` is read below ``data_dir``, else ``$LIGHTNING_ZOO_DATA``, as every dataset."""
    write_image_folder(tmp_path / "root" / "pokemon", {"images": 3}, classes=("art",))
    monkeypatch.chdir(tmp_path)  # no pokemon/ here
    images = tmp_path / "root" / "pokemon" / "images"
    assert folder_dm(Path("pokemon/images"), data_dir=str(tmp_path / "root"), labelled=False).folder == images
    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(tmp_path / "root"))
    dm = folder_dm(Path("pokemon/images"), labelled=False)
    assert dm.folder == images and len(dm.splits["train"]) == 3
    assert folder_dm(images, data_dir=str(tmp_path / "elsewhere"), labelled=False).folder == images


@pytest.mark.parametrize("config", POKEMON_CONFIGS, ids=[p.stem for p in POKEMON_CONFIGS])
@pytest.mark.parametrize("how", ["--data.data_dir", "LIGHTNING_ZOO_DATA"])
def test_the_pokemon_configs_read_their_folder_below_the_data_root(config, how, data_root, tmp_path, monkeypatch):
    """As the README says for every dataset: --data.data_dir DIR, or LIGHTNING_ZOO_DATA=DIR, from any folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIGHTNING_ZOO_DATA", raising=False)
    options = ["--data.data_dir", str(data_root)] if how == "--data.data_dir" else []
    if how == "LIGHTNING_ZOO_DATA":
        monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))
    cli = ZooCLI(args=["--config", str(config), *options, "--trainer.logger", "false"], run=False)
    assert cli.datamodule.folder == data_root / "pokemon" / "images"
    cli.datamodule.setup("fit")
    assert len(cli.datamodule.unaugmented("train")) in (8, 4 * 7)  # the rotation network holds one of 8 out


def test_an_old_folder_relative_to_the_current_folder_is_still_read(data_root, tmp_path, monkeypatch):
    """A checkpoint's or an old command's ``folder: data/pokemon/images`` (below the current folder, not below the
    data root ./data): read from the current folder, as before the data root."""
    (tmp_path / "data" / "pokemon").mkdir(parents=True)
    (tmp_path / "data" / "pokemon" / "images").symlink_to(data_root / "pokemon" / "images")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIGHTNING_ZOO_DATA", raising=False)
    dm = folder_dm(Path("data/pokemon/images"), labelled=False)
    assert dm.folder == Path("data/pokemon/images") and len(dm.splits["train"]) == 8


@pytest.mark.parametrize("folder", ["pokemon/images", "absolute"])
def test_a_missing_folder_names_the_path_it_looked_at_and_the_options(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = str(tmp_path / "nowhere") if folder == "absolute" else folder
    hint = "pass --data.folder" if folder.startswith("/") else "point --data.data_dir .* holds pokemon/images/, or pass"
    looked_at = Path(folder) if folder.startswith("/") else tmp_path / "empty" / folder
    with pytest.raises(DatasetUnavailableError, match=f"^{looked_at}: no such folder of images; {hint}"):
        folder_dm(Path(folder), data_dir=str(tmp_path / "empty"), labelled=False)


def test_cats_and_dogs_reads_its_folder_below_the_data_root(data_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))
    assert CatsAndDogsSmallDataModule().folder == data_root / "cats_and_dogs_small"
    with pytest.raises(DatasetUnavailableError, match=f"{tmp_path}/empty/cats_and_dogs_small/train not found"):
        CatsAndDogsSmallDataModule(data_dir=str(tmp_path / "empty")).setup("fit")


def test_the_subset_builder_runs_as_a_module_without_pythons_warning():
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    done = subprocess.run([sys.executable, "-W", "always", "-m", "datamodules.vision.make_cats_and_dogs", "--help"],
                          cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "--kaggle-train" in done.stdout
    assert "RuntimeWarning" not in done.stderr, done.stderr


def test_a_checkpoint_of_images_made_otherwise_is_refused_by_name_and_an_old_one_loads(tmp_path):
    """Squashed images in [-1, 1] for a model that learnt cropped ones in [0, 1], or its classes in another label
    order, are refused, naming each option; the folder itself may differ (a model classifies new images), and a
    checkpoint from before the options travelled loads unchecked."""
    classes = ("cats", "dogs", "owls")
    write_image_folder(tmp_path / "photos", {"train": 3, "validation": 1}, classes=classes)
    common = ["--model", "lightning_zoo.classification.SmallConvNet", "--data", "datamodules.ImageFolderDataModule",
              "--data.folder", str(tmp_path / "photos"), "--data.image_size", "48", "--data.batch_size", "4",
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "run")])
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["ImageFolderDataModule"] == {
        "image_options": {"image_size": 48, "resize": "crop", "value_range": [0.0, 1.0]}, "classes": list(classes)
    }  # fmt: skip
    with pytest.raises(DataError) as refusal:
        ZooCLI(args=["test", *common, "--data.resize", "squash", "--data.value_range", "[-1, 1]",
                     "--ckpt_path", str(checkpoint)])  # fmt: skip
    assert str(refusal.value) == (
        'the checkpoint\'s images were made with --data.resize "crop" (here "squash"), --data.value_range '
        "[0.0, 1.0] (here [-1.0, 1.0]): pass the same options"
    )
    reorderings = (
        ["--data.classes", "[dogs, cats, owls]"],
        ["--data.folder", str(tmp_path / "renamed")],
        ["--data.folder", str(tmp_path / "renamed"), "--data.predict_folder", str(tmp_path)],  # (used by predict only)
    )
    for reordered in reorderings:
        write_image_folder(tmp_path / "renamed", {"train": 1, "test": 1}, classes=("bats", "cats", "dogs"))
        with pytest.raises(DataError, match=r'learnt the classes \["cats", "dogs", "owls"\] in that label order'):
            ZooCLI(args=["test", *common, *reordered, "--ckpt_path", str(checkpoint)])
    write_image_folder(tmp_path / "fewer", {"train": 1, "test": 1}, classes=("cats", "owls"))
    with pytest.raises(
        ZooError, match=r'learnt the classes \["cats", "dogs", "owls"\] .*here \["cats", "owls"\].*; and '
    ):
        ZooCLI(args=["test", *common, "--data.folder", str(tmp_path / "fewer"), "--ckpt_path", str(checkpoint)])
    write_image_folder(tmp_path / "new", {"train": 1, "test": 2}, classes=classes, seed=1)
    ZooCLI(args=["test", *common, "--data.folder", str(tmp_path / "new"), "--ckpt_path", str(checkpoint)])
    del saved["ImageFolderDataModule"]  # as the code before saved it
    torch.save(saved, tmp_path / "old.ckpt")
    ZooCLI(args=["test", *common, "--data.folder", str(tmp_path / "new"), "--data.resize", "squash",
                 "--ckpt_path", str(tmp_path / "old.ckpt")])  # fmt: skip
    with pytest.raises(DataError, match="the checkpoint names no classes .it predates their travelling"):
        ZooCLI(args=["predict", *common, "--data.folder", str(tmp_path / "gone"), "--data.predict_folder",
                     str(tmp_path / "new"), "--ckpt_path", str(tmp_path / "old.ckpt")])  # fmt: skip


def test_loose_new_images_are_classified_into_the_checkpoints_classes_by_name(tmp_path):
    """A folder of unsorted images (labelled false) is one class to the data, but the checkpoint's model has three,
    named in predictions.csv as the model learnt them."""
    write_image_folder(tmp_path / "photos", {"train": 3, "validation": 1}, classes=("cats", "dogs", "owls"))
    write_image_folder(tmp_path / "loose", {"": 2}, classes=("unsorted",), seed=2)
    common = ["--model", "lightning_zoo.classification.SmallConvNet", "--data", "datamodules.ImageFolderDataModule",
              "--data.image_size", "48", "--data.batch_size", "4", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--data.folder", str(tmp_path / "photos"), "--trainer.max_epochs", "1",
                 "--trainer.default_root_dir", str(tmp_path / "run")])  # fmt: skip
    checkpoint = next((tmp_path / "run").rglob("last.ckpt"))
    cli = ZooCLI(args=["predict", *common, "--data.folder", str(tmp_path / "loose"), "--data.labelled", "false",
                       "--ckpt_path", str(checkpoint)])  # fmt: skip
    assert cli.datamodule.num_classes == 3 and cli.model.hparams.num_classes == 3
    with open(next((tmp_path / "run").rglob("predictions.csv"))) as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == ["unsorted/unsorted.0.jpg", "unsorted/unsorted.1.jpg"]
    names = {"0": "cats", "1": "dogs", "2": "owls"}
    assert all(row["predicted_class"] == names[row["predicted"]] for row in rows) and "prob_2" in rows[0]
    # The same images as a predict folder of the training config, the training folder gone: the same predictions
    (tmp_path / "photos").rename(tmp_path / "gone")
    ZooCLI(args=["predict", *common, "--data.folder", str(tmp_path / "photos"), "--data.predict_folder",
                 str(tmp_path / "loose"), "--ckpt_path", str(checkpoint)])  # fmt: skip
    with open(next((tmp_path / "run").rglob("predictions-2/predictions.csv"))) as f:
        assert list(csv.DictReader(f)) == rows


def test_new_photos_are_classified_with_the_cats_and_dogs_config_without_the_subset(data_root, tmp_path):
    config = str(ROOT / "configs/classification/small_convnet_cats_and_dogs.yaml")
    common = ["--config", config, "--data.image_size", "48", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
                 "--trainer.default_root_dir", str(tmp_path / "run")])  # fmt: skip
    write_image_folder(tmp_path / "mine", {"": 1}, classes=("holiday",), seed=4)
    ZooCLI(args=["predict", *common, "--data.data_dir", str(tmp_path / "no_subset"), "--data.predict_folder",
                 str(tmp_path / "mine"), "--ckpt_path", str(tmp_path / "run")])  # fmt: skip
    with open(next((tmp_path / "run").rglob("predictions.csv"))) as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == ["holiday/holiday.0.jpg"]
    assert rows[0]["predicted_class"] == ("cats", "dogs")[int(rows[0]["predicted"])]


def test_new_images_skip_what_is_no_image_and_have_no_target_column(tmp_path):
    """A predict folder as users have them: a macOS zip's __MACOSX/._*.jpg (not images, despite the suffix), a
    notebook's .ipynb_checkpoints/, a note; predictions.csv then has no target (the label 0 is a placeholder)."""
    write_image_folder(tmp_path / "photos", {"train": 2, "validation": 1})
    mine = write_image_folder(tmp_path / "mine", {"": 2}, classes=("trip",), seed=5)
    (mine / "__MACOSX" / "trip").mkdir(parents=True)
    (mine / "__MACOSX" / "trip" / "._trip.0.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (mine / ".ipynb_checkpoints").mkdir()
    (mine / ".ipynb_checkpoints" / "trip.0-checkpoint.jpg").write_bytes((mine / "trip" / "trip.0.jpg").read_bytes())
    (mine / "trip" / "renamed.jpg").write_text("not a picture")
    (mine / "notes.txt").write_text("holiday")
    common = ["--model", "lightning_zoo.classification.SmallConvNet", "--data", "datamodules.ImageFolderDataModule",
              "--data.folder", str(tmp_path / "photos"), "--data.image_size", "48", "--data.batch_size", "2",
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "run")])
    with pytest.warns(UserWarning, match=r"mine: skipped 4 files that are not images \(e.g. "):
        ZooCLI(args=["predict", *common, "--data.predict_folder", str(mine), "--ckpt_path", str(tmp_path / "run")])
    with open(next((tmp_path / "run").rglob("predictions.csv"))) as f:
        rows = list(csv.DictReader(f))
    assert [row["file"] for row in rows] == ["trip/trip.0.jpg", "trip/trip.1.jpg"] and "target" not in rows[0]


@pytest.mark.parametrize("subcommand", ["validate", "test"])
def test_unlabelled_images_are_not_scored_and_a_classifier_needs_two_classes(subcommand, tmp_path):
    """Read with --data.labelled false, every image is class 0: a score against it, or a classifier of one class
    (trained on targets that never differ), would be meaningless."""
    write_image_folder(tmp_path / "photos", {"train": 2, "validation": 1, "test": 1})
    common = ["--model", "lightning_zoo.classification.SmallConvNet", "--data", "datamodules.ImageFolderDataModule",
              "--data.image_size", "48", "--data.batch_size", "2", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--data.folder", str(tmp_path / "photos"), "--trainer.max_epochs", "1",
                 "--trainer.default_root_dir", str(tmp_path / "run")])  # fmt: skip
    with pytest.raises(DataError, match=f"--data.labelled false have no classes to {subcommand} against"):
        ZooCLI(args=[subcommand, *common, "--data.folder", str(tmp_path / "photos" / "test"), "--data.labelled",
                     "false", "--data.val_size", "1", "--ckpt_path", str(tmp_path / "run")])  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        zoo_main(["fit", *common, "--data.folder", str(tmp_path / "photos"), "--data.labelled", "false"])
    assert str(exit_.value.code).startswith("error: invalid configuration: a classifier needs at least 2 classes, the ")


def test_validate_without_validation_images_says_so(tmp_path):
    write_image_folder(tmp_path / "photos", {"train": 2})
    common = ["--model", "lightning_zoo.classification.SmallConvNet", "--data", "datamodules.ImageFolderDataModule",
              "--data.folder", str(tmp_path / "photos"), "--data.image_size", "48", "--data.batch_size", "2",
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "run")])
    with pytest.raises(DataError, match="has no val images: add a validation/ folder or set --data.val_size$"):
        ZooCLI(args=["validate", *common, "--ckpt_path", str(tmp_path / "run")])
    flat = write_image_folder(tmp_path / "flat", {"": 2})  # one folder of classes: a validation/ in it is a class
    with pytest.raises(DataError, match="flat has no val images: set --data.val_size$"):
        ZooCLI(args=["validate", *common, "--data.folder", str(flat), "--ckpt_path", str(tmp_path / "run")])
    with pytest.raises(DataError, match="flat has no test images: lay the images out as train/<class>/ and test/<c"):
        ZooCLI(args=["test", *common, "--data.folder", str(flat), "--ckpt_path", str(tmp_path / "run")])


def test_a_predict_folder_is_predicted_after_another_stage_in_the_same_process(tmp_path):
    """From Python, a fit then a predict on one DataModule: the predict folder's images, not the held-out ones the
    fit's setup put in place; and a rotation folder predicted first still trains afterwards."""
    write_image_folder(tmp_path / "photos", {"train": 2, "validation": 1})
    write_image_folder(tmp_path / "mine", {"": 1}, classes=("new",), seed=6)
    dm = ImageFolderDataModule(str(tmp_path / "photos"), image_size=48, batch_size=2,
                               predict_folder=str(tmp_path / "mine"))  # fmt: skip
    model = SmallConvNet(input_shape=(3, 48, 48), num_classes=2)
    fit = trainer(tmp_path, max_epochs=1, enable_checkpointing=False)
    fit.fit(model, dm)
    fit.predict(model, dm)
    assert dm.prediction_inputs() == {"file": ["new/new.0.jpg"]} and not dm.predict_has_targets
    rotations = RotationFolderDataModule(str(tmp_path / "mine"), image_size=16, val_size=0, batch_size=2,
                                         predict_folder=str(tmp_path / "mine"))  # fmt: skip
    rotations.setup("predict")
    rotations.setup("fit")
    assert len(rotations.splits["train"]) == 4 and len(rotations.splits["predict"]) == 4  # one image, four turns


def test_hidden_folders_in_a_split_layout_are_no_classes(tmp_path):
    write_image_folder(tmp_path / "photos", {"train": 2, "validation": 1})
    (tmp_path / "photos" / "train" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "photos" / "validation" / "__MACOSX").mkdir()
    assert folder_dm(tmp_path / "photos").classes == ["cats", "dogs"]


def test_a_folder_gan_samples_from_its_checkpoint_without_the_training_images(data_root: Path, tmp_path: Path):
    """An unlabelled folder is one class whatever it holds: the CLI's size link no longer scans the folder, which a
    GAN's predict does not need (it said "no such folder of images")."""
    config = str(ROOT / "configs/gan/dcgan64_pokemon.yaml")
    fitted = ZooCLI(args=["fit", "--config", config, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
                          "--trainer.limit_train_batches", "1", "--data.batch_size", "4",
                          "--trainer.default_root_dir", str(tmp_path / "run")])  # fmt: skip
    checkpoint = fitted.trainer.checkpoint_callback.last_model_path
    ZooCLI(args=["predict", "--config", config, "--data.data_dir", str(tmp_path / "nothing_here"), "--ckpt_path",
                 checkpoint, "--model.predict_samples", "3"])  # fmt: skip
    samples = torch.load(Path(checkpoint).parent.parent / "predictions" / "samples.pt")
    assert samples.shape == (3, 3, 64, 64) and not (tmp_path / "nothing_here").exists()


def test_early_stopping_on_validation_without_validation_images_is_refused_before_training(tmp_path):
    """A folder with no validation part and val_size 0: Lightning would fail at the first epoch's end ("not
    available"), the epoch's training lost."""
    from pytorch_lightning.callbacks import EarlyStopping

    from lightning_zoo.core import ZooError

    write_image_folder(tmp_path / "images", {"": 4})
    dm = ImageFolderDataModule(folder=str(tmp_path / "images"), image_size=48, batch_size=4)
    assert dm.has_validation  # cannot tell before setup
    model = SmallConvNet(input_shape=(3, 48, 48), num_classes=2)
    stop = EarlyStopping(monitor="val/loss")
    with pytest.raises(ZooError, match=r"validates on nothing \(the data hold no validation samples"):
        trainer(tmp_path, callbacks=[stop], max_epochs=1).fit(model, dm)
    assert not dm.has_validation
    dm = ImageFolderDataModule(folder=str(tmp_path / "images"), image_size=16, batch_size=4, val_size=2)
    dm.setup("fit")
    assert dm.has_validation
