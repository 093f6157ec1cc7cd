"""The Siamese network of Hands-On E10 beyond the contract: the ORL pairs (balanced, distinct, seeded, the book's
bugs fixed), the honest protocol's held-out subjects, the archive download, and the N-way one-shot routine on
similarities whose answer is known."""

from __future__ import annotations

import csv
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from datamodules import DataError, ORLFacesDataModule
from datamodules.base import DatasetUnavailableError
from datamodules.vision.orl_faces import sample_pairs
from lightning_zoo.cli import ZooCLI
from lightning_zoo.fewshot import SiameseNetwork, n_way_one_shot
from lightning_zoo.fewshot.base import gather_rows
from lightning_zoo.keras import keras_logit_clip
from tests.conftest import CLI, PYTHON, subprocess_env
from tests.helpers.faces import write_orl

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "fewshot"
K = 10  # images per subject


def pairs(subjects=range(40), positives=400, negatives=400, seed=42):
    return sample_pairs(torch.tensor(list(subjects)), K, positives, negatives, torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------------- pairs


def test_pairs_are_half_positive_with_two_images_of_one_subject_or_two_subjects():
    first, second, label = pairs(positives=4000, negatives=4000)
    assert len(label) == 8000 and int(label.sum()) == 4000
    same = label == 1
    assert torch.equal(first // K == second // K, same)  # positives: one subject; negatives: two
    assert bool((first[same] != second[same]).all())  # a positive pair shows two different images
    assert set(label[:20].tolist()) == {0.0, 1.0}  # shuffled, not positives first (the book's order)


def test_every_distinct_positive_pair_is_used_before_any_repeats():
    first, second, label = pairs(positives=4000, negatives=10)
    same = label == 1
    unordered = torch.stack([torch.minimum(first, second), torch.maximum(first, second)], 1)[same]
    _, counts = unordered.unique(dim=0, return_counts=True)
    assert len(counts) == 40 * 45  # all 1,800 distinct pairs appear
    assert counts.min() == 2 and counts.max() == 3  # 4,000 = 1,800 x 2 + 400: as even as it can be


def test_pairs_are_a_function_of_the_seed():
    a, b, c = pairs(seed=42), pairs(seed=42), pairs(seed=43)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


def test_pairs_draw_only_the_subjects_they_are_given():
    first, second, _ = pairs(subjects=[3, 7, 8])
    assert set((first // K).tolist()) | set((second // K).tolist()) == {3, 7, 8}


# ---------------------------------------------------------------------------------------------------- DataModule


def faces(data_root: Path, **kwargs) -> ORLFacesDataModule:
    dm = ORLFacesDataModule(data_dir=str(data_root), **{"pairs": 200, "batch_size": 8, **kwargs})
    dm.setup("fit")
    return dm


def test_faces_are_upright_in_0_1_and_validation_is_half_positive(data_root):
    dm = faces(data_root, val_size=0.2)
    pixels = np.array(Image.open(data_root / "orl_faces" / "s2" / "3.pgm"))
    assert dm.input_shape == (1, *pixels.shape)  # (1, height, width): not the book's scrambling reshape
    assert torch.equal(dm.images[1, 2, 0], torch.from_numpy(pixels).float() / 255)
    first, second, same = dm.splits["val"][torch.arange(40)]
    assert int(same.sum()) == 20  # the book's validation split holds only negative pairs
    assert first.shape == (40, *dm.input_shape)


@pytest.mark.parametrize("val_size", [0, 1])
def test_no_validation_or_a_single_pair_of_it_is_possible(data_root, val_size):
    """0 (every pair trains) or 1 (one negative pair) validation pairs: no positive pair to draw is no error."""
    dm = faces(data_root, val_size=val_size)
    assert len(dm.splits["val"]) == val_size and len(dm.splits["train"]) == 200 - val_size
    assert dm.has_validation == bool(val_size)


def keys(first: torch.Tensor, second: torch.Tensor) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in zip(first.tolist(), second.tolist(), strict=True)}


def test_no_validation_pair_is_a_training_pair_in_either_order(data_root):
    dm = faces(data_root, pairs=2000, val_size=0.2)
    val, train = keys(*dm.splits["val"].tensors[:2]), keys(*dm.splits["train"].tensors[:2])
    assert len(val) > 300 and not val & train
    # the training positives still use every remaining distinct pair: 14 x 45 less validation's (the fixture's 14)
    same = dm.splits["train"].tensors[2] == 1
    train_positives = keys(*(t[same] for t in dm.splits["train"].tensors[:2]))
    val_positives = {(a, b) for a, b in val if a // K == b // K}
    assert len(train_positives) == 14 * 45 - len(val_positives)


def test_excluded_pairs_are_never_drawn_and_too_many_are_an_error():
    val = pairs(subjects=range(3), positives=100, negatives=100)
    first, second, _ = sample_pairs(
        torch.arange(3), K, 500, 500, torch.Generator().manual_seed(0), exclude=(val[0], val[1])
    )
    assert not keys(first, second) & keys(val[0], val[1])
    with pytest.raises(DataError, match="take every positive pair"):
        every = pairs(subjects=range(2), positives=90, negatives=0)  # both subjects' 2 x 45, each once
        sample_pairs(torch.arange(2), K, 1, 1, torch.Generator(), exclude=(every[0], every[1]))


def test_held_out_subjects_appear_in_no_pair_and_make_the_whole_gallery(data_root):
    dm = faces(data_root, test_subjects=10)  # the fixture has 14 subjects: s1-s4 train, s5-s14 test
    for split in ("train", "val"):
        first, second, _ = dm.splits[split].tensors
        assert int(torch.cat([first, second]).max()) < 4 * K
    _, subjects, numbers = dm.splits["test"].tensors
    assert subjects.unique().tolist() == list(range(4, 14)) and len(numbers) == 100


def test_the_books_protocol_tests_on_the_training_subjects(data_root):
    dm = faces(data_root)
    assert dm.splits["test"].tensors[1].unique().tolist() == list(range(14))


def test_a_missing_folder_names_the_archive_and_the_layout(tmp_path):
    dm = ORLFacesDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetUnavailableError, match=r"att_faces\.zip.*s1/1\.pgm"):
        dm.prepare_data()
    assert not (tmp_path / "orl_faces").exists()


def test_unequal_subjects_and_too_many_held_out_subjects_are_clear_errors(tmp_path):
    write_orl(tmp_path / "orl_faces", subjects=3)
    (tmp_path / "orl_faces" / "s2" / "10.pgm").unlink()
    with pytest.raises(DatasetUnavailableError, match="same number.*s2: 9"):
        faces(tmp_path)
    (tmp_path / "orl_faces" / "s2" / "10.pgm").write_bytes((tmp_path / "orl_faces" / "s2" / "9.pgm").read_bytes())
    with pytest.raises(DataError, match="test_subjects=2 leaves 1 of the 3 subjects"):
        faces(tmp_path, test_subjects=2)
    # A test needs no training pairs: its gallery may be a folder too small for them.
    tested = ORLFacesDataModule(data_dir=str(tmp_path), test_subjects=2)
    tested.setup("test")
    assert "train" not in tested.splits and tested.splits["test"].tensors[1].tolist() == [1] * 10 + [2] * 10
    with pytest.raises(DataError, match="test_subjects=4, but the folder holds 3 subjects"):
        ORLFacesDataModule(data_dir=str(tmp_path), test_subjects=4).setup("test")


def archive_of(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for file in sorted(folder.rglob("*.pgm")):
            zipped.write(file, Path("att_faces") / file.relative_to(folder))
    return path


def images_digest(folder: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for subject in range(1, 41):
        for image in range(1, 11):
            digest.update((folder / f"s{subject}" / f"{image}.pgm").read_bytes())
    return digest.hexdigest()


def test_the_archive_is_downloaded_checked_and_unpacked(tmp_path, monkeypatch):
    source = write_orl(tmp_path / "source", subjects=40, size=(16, 12))
    zipped = archive_of(source, tmp_path / "att_faces.zip")
    monkeypatch.setattr(ORLFacesDataModule, "url", zipped.as_uri())
    monkeypatch.setattr(ORLFacesDataModule, "images_sha256", images_digest(source))
    dm = ORLFacesDataModule(data_dir=str(tmp_path / "data"), pairs=100)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.images.shape == (40, 10, 1, 16, 12)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["orl_faces"]  # no partial files left


def test_an_archive_whose_images_differ_leaves_nothing_behind(tmp_path, monkeypatch):
    source = write_orl(tmp_path / "source", subjects=40, size=(16, 12))
    monkeypatch.setattr(ORLFacesDataModule, "url", archive_of(source, tmp_path / "att_faces.zip").as_uri())
    dm = ORLFacesDataModule(data_dir=str(tmp_path / "data"))
    with pytest.raises(DatasetUnavailableError, match="SHA-256"):
        dm.prepare_data()
    assert not any((tmp_path / "data").iterdir())


# ---------------------------------------------------------------------------------------------- N-way one-shot


def gallery(subjects: int = 12, per_subject: int = 10) -> torch.Tensor:
    return torch.arange(subjects).repeat_interleave(per_subject)


@pytest.mark.parametrize("ways", [4, 12])
def test_a_similarity_that_knows_the_subjects_is_always_right(ways):
    labels = gallery()
    one_hot = torch.nn.functional.one_hot(labels).float()
    similarity = one_hot @ one_hot.T + 0.01 * torch.rand(len(labels), len(labels))  # ties broken by noise
    assert n_way_one_shot(similarity, labels, ways, 500, torch.Generator().manual_seed(0)) == 1.0


@pytest.mark.parametrize("ways", [4, 9])
def test_a_similarity_that_knows_nothing_scores_chance_even_when_it_favours_the_first_candidate(ways):
    labels = gallery()
    constant = torch.zeros(len(labels), len(labels))  # argmax always picks the first candidate
    accuracy = n_way_one_shot(constant, labels, ways, 4000, torch.Generator().manual_seed(0))
    assert abs(accuracy - 1 / ways) < 0.025  # the book's trials, truth always first, would score 1.0


def test_a_similarity_that_confuses_two_subjects_loses_exactly_those_trials():
    labels = gallery(subjects=4)
    merged = labels.clamp(max=2)  # subjects 2 and 3 look alike: the query's own image ties with the other's
    similarity = (merged[:, None] == merged[None, :]).float()
    accuracy = n_way_one_shot(similarity, labels, 4, 4000, torch.Generator().manual_seed(0))
    # Queries of subjects 0 and 1 (half) are always right; of 2 and 3, a tie of two: right half the time.
    assert abs(accuracy - 0.75) < 0.03


def test_the_books_draw_loses_the_trials_whose_distractor_is_the_querys_own_subject():
    labels = gallery()
    one_hot = torch.nn.functional.one_hot(labels).float()
    similarity = one_hot @ one_hot.T + 0.01 * torch.rand(len(labels), len(labels))
    book = n_way_one_shot(similarity, labels, 12, 4000, torch.Generator().manual_seed(0), distinct_subjects=False)
    # 11 distractors of 12 subjects drawn with replacement: none is the query's subject in (11/12)^11 = 38 % of trials;
    # otherwise the true match ties with one or more of its own subject's images (and the query itself may be one).
    assert 0.38 < book < 0.85


def test_more_ways_than_subjects_is_an_error():
    with pytest.raises(ValueError, match="13-way tests need 13 subjects"):
        n_way_one_shot(torch.zeros(120, 120), gallery(), 13, 10, torch.Generator())


# ---------------------------------------------------------------------------------------------------- the model


def test_the_one_shot_table_is_logged_and_written_with_the_ways_the_gallery_allows(data_root, tmp_path):
    common = ["--config", str(CONFIGS / "siamese_orl.yaml"), "--data.data_dir", str(data_root),
              "--data.pairs", "64", "--data.batch_size", "16", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path),
              "--model.trials", "200"]  # fmt: skip
    cli = ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1"])
    ZooCLI(args=["test", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    results = tmp_path / "test" / "n_way-last.csv"  # in the tested run's folder, named after its checkpoint
    with open(results) as f:
        rows = list(csv.DictReader(f))
    written = results.read_text()
    ZooCLI(args=["test", *common, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt"),
                 "--trainer.fast_dev_run", "true", "--model.trials", "20"])  # fmt: skip
    assert results.read_text() == written  # a fast_dev_run (one batch of the gallery) leaves it alone
    assert [int(r["ways"]) for r in rows] == [4, 9]  # 16-40 ways need more than the fixture's 14 subjects
    # With the default logger, W&B disabled: the test's own run folder, which held only its config and a copy of the
    # table, is gone again
    at = common.index("--trainer.logger")
    logged = common[:at] + common[at + 2 :]
    ZooCLI(args=["test", *logged, "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    assert not list(tmp_path.rglob("tables")) and not list(tmp_path.glob("lightning-zoo/*"))
    assert list(rows[0]) == ["ways", "acc", "pixel_nn_acc", "acc_book_draw", "pixel_nn_acc_book_draw"]
    assert all(0 <= float(value) <= 1 for r in rows for key, value in r.items() if key != "ways")
    # The fixture's faces are blocks of 4x4 pixels shifted by at most 2: the pixel nearest neighbour tells them apart.
    assert float(rows[0]["pixel_nn_acc"]) > 0.8
    assert isinstance(cli.model, SiameseNetwork)
    # Tested under another protocol (other subjects held out of training): refused by name, the results kept
    with pytest.raises(DataError, match=r"training subjects were chosen with --data.test_subjects 0 \(here 4\)"):
        ZooCLI(args=["test", *common, "--data.test_subjects", "4", "--ckpt_path", str(tmp_path)])
    assert ORLFacesDataModule(test_subjects=4).state_dict() == {"test_subjects": 4}  # the layout it first saved
    ZooCLI(args=["test", *common, "--model.ways", "[4]", "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    assert results.read_text() == written  # another test's table goes beside it
    assert results.with_name("n_way-last-2.csv").read_text().splitlines()[1].startswith("4,")


def test_the_pair_logit_is_symmetric_and_the_tower_shared():
    model = SiameseNetwork(input_shape=(1, 32, 28)).eval()
    a, b = torch.rand(3, 1, 32, 28), torch.rand(3, 1, 32, 28)
    assert torch.allclose(model(a, b), model(b, a))
    assert model(a, b).shape == (3,)


def test_the_training_loss_is_kerass_clipped_binary_cross_entropy():
    model = SiameseNetwork(input_shape=(1, 32, 28)).eval()  # no dropout: the two losses see the same logits
    a, b = torch.rand(4, 1, 32, 28), torch.rand(4, 1, 32, 28)
    same = torch.tensor([1.0, 0.0, 1.0, 0.0])
    loss = model.shared_step((a, b, same), "train")
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(model(a, b), same))  # inside the clip
    with torch.no_grad():
        model.head.bias.fill_(40.0)  # every pair far past Keras' clip: the positives right, the negatives wrong
    loss = model.shared_step((a, b, same), "train")
    loss.backward()
    # the negatives' loss stops at the clip's logit (15.94), the positives' at ~0: F's mean would be 20
    assert float(loss.detach()) == pytest.approx(keras_logit_clip()[1] / 2, abs=1e-4)
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_too_small_images_are_refused_with_the_size_needed():
    with pytest.raises(ValueError, match=r"at least 12x12, the data has 10x40 \(its 6x6 convolution"):
        SiameseNetwork(input_shape=(1, 10, 40))


@pytest.mark.ddp
def test_two_processes_test_the_whole_gallery_as_one_does(data_root, tmp_path):
    """Each rank embeds half the gallery; the N-way trials run on all of it, so the table is the one-process table."""
    common = ["--config", str(CONFIGS / "siamese_orl.yaml"), "--data.data_dir", str(data_root),
              "--data.pairs", "64", "--data.batch_size", "8", "--trainer.logger", "false",
              "--trainer.enable_progress_bar", "false", "--model.trials", "300"]  # fmt: skip
    ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "fit")])
    checkpoint = ["--ckpt_path", str(tmp_path / "fit" / "checkpoints" / "last.ckpt")]
    ZooCLI(args=["test", *common, *checkpoint, "--trainer.default_root_dir", str(tmp_path / "one")])
    results = tmp_path / "fit" / "test" / "n_way-last.csv"
    one = results.read_text()
    results.unlink()  # the two-process run must write it again
    command = [PYTHON, CLI, "test", *common, *checkpoint, "--trainer.default_root_dir", str(tmp_path / "two"),
               "--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.accelerator", "cpu"]  # fmt: skip
    done = subprocess.run(command, env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    two = results.read_text()
    assert one == two and len(one.splitlines()) == 3


def gather_on_rank(rank: int, world_size: int, folder: str) -> None:
    """Rank ``rank`` of a gloo group: gathers a shard of ``4 - rank`` rows, saves what it got."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world_size)
    try:
        shard = torch.arange(10 * rank, 10 * rank + 2 * (4 - rank)).reshape(4 - rank, 2)
        torch.save(gather_rows(shard), f"{folder}/rank_{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.ddp
def test_gather_rows_joins_shards_of_unequal_length_in_rank_order(tmp_path):
    """An evaluation's shards differ by a sample between ranks (they are not padded); ``all_gather`` wants equal
    shapes, so the gallery of the one-shot tests is gathered row counts first."""
    torch.multiprocessing.spawn(gather_on_rank, args=(3, str(tmp_path)), nprocs=3)
    expected = torch.cat([torch.arange(10 * r, 10 * r + 2 * (4 - r)).reshape(4 - r, 2) for r in range(3)])
    for rank in range(3):
        assert torch.equal(torch.load(tmp_path / f"rank_{rank}.pt"), expected)


def test_fresh_pairs_change_every_epoch_and_repeat_for_the_same_epoch(data_root):
    dm = faces(data_root, fresh_pairs=True, pairs=40, val_size=8)

    def epoch(number: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(number)
        return tuple(torch.cat(parts) for parts in zip(*loader, strict=True))

    first, second, same = epoch(0)
    assert len(same) == 32 and int(same.sum()) == 16
    one = dm.images.flatten(0, 1).flatten(1)
    subject = {tuple(row.tolist()): i // K for i, row in enumerate(one)}  # the fixture's images are all different
    subjects = [
        (subject[tuple(a.flatten().tolist())], subject[tuple(b.flatten().tolist())])
        for a, b in zip(first, second, strict=True)
    ]
    assert [s1 == s2 for s1, s2 in subjects] == [bool(v) for v in same]
    assert not any(torch.equal(a, b) for a, b, v in zip(first, second, same, strict=True) if v)
    assert torch.equal(epoch(0)[0], first) and not torch.equal(epoch(1)[0], first)


def test_fresh_pairs_never_draw_a_validation_pair(data_root):
    dm = faces(data_root, fresh_pairs=True, pairs=600, val_size=300)  # validation holds 150 of the 630 positives
    images = dm.images.flatten(0, 1).flatten(1)
    index = {tuple(row.tolist()): i for i, row in enumerate(images)}
    val = keys(*dm.splits["val"].tensors[:2])
    for number in range(3):
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(number)
        for first, second, _ in loader:
            drawn = {
                (min(i, j), max(i, j))
                for i, j in (
                    (index[tuple(a.flatten().tolist())], index[tuple(b.flatten().tolist())])
                    for a, b in zip(first, second, strict=True)
                )
            }
            assert not drawn & val
