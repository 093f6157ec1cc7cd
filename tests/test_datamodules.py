from __future__ import annotations

import csv
import gzip
import hashlib
import http.server
import logging
import re
import subprocess
import threading
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pytorch_lightning.trainer.states import TrainerFn

from datamodules import DataError, DatasetUnavailableError, EpochBatchSampler, FashionMNISTDataModule, MNISTDataModule
from datamodules.vision.mnist import read_idx
from lightning_zoo.classification import MLP
from lightning_zoo.cli import ZooCLI, main
from lightning_zoo.gan import DCGAN
from tests.conftest import CLI, PYTHON, ROOT, subprocess_env
from tests.helpers.idx import idx_bytes, write_mnist
from tests.helpers.train import trainer


def setup_dm(**kwargs) -> MNISTDataModule:
    dm = MNISTDataModule(**kwargs)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_reads_idx_files_into_memory_with_the_requested_layout(data_root: Path):
    dm = setup_dm(data_dir=str(data_root), flatten=True)
    x, y = dm.splits["train"].tensors
    assert x.shape == (256, 784) and x.dtype == torch.float32
    assert dm.input_shape == (784,) and dm.num_classes == 10
    assert 0.0 <= x.min() and x.max() == 1.0
    raw = read_idx(data_root / "MNIST/raw/train-images-idx3-ubyte.gz", ndim=3)
    torch.testing.assert_close(x[0], raw[0].flatten().float() / 255)
    assert y.dtype == torch.int64 and set(y.tolist()) <= set(range(10))


def test_padding_and_symmetric_range_give_the_gan_layout_with_a_black_border(data_root: Path):
    dm = setup_dm(data_dir=str(data_root), padding=2, value_range=(-1.0, 1.0), train_split="train+test")
    x, _ = dm.splits["train"].tensors
    assert x.shape == (256 + 64, 1, 32, 32) and dm.input_shape == (1, 32, 32)
    assert x.min() == -1.0 and x.max() == 1.0
    # The book pads after scaling (a grey 0 border); we pad with background, which is -1 after scaling.
    assert torch.all(x[:, :, :2, :] == -1.0) and torch.all(x[:, :, :, -2:] == -1.0)


def test_train_plus_test_holds_nothing_out_to_validate_or_test_on(data_root: Path, tmp_path: Path):
    """The GAN chapters train on all 70,000 digits: validation and test were the test images trained on."""
    from lightning_zoo.classification import MLP

    dm = setup_dm(data_dir=str(data_root), flatten=True, train_split="train+test")
    assert "val" not in dm.splits and "test" not in dm.splits and not dm.has_validation
    for stage in ("validate", "test"):
        with pytest.raises(DataError, match=rf"^train_split 'train\+test' trains on the test images too: nothing is "
                                            rf"held out to {stage} on \(--data.train_split train"):  # fmt: skip
            getattr(trainer(tmp_path), stage)(MLP(hidden_units=[4]), datamodule=dm)
    trainer(tmp_path, max_epochs=1, limit_train_batches=1).fit(MLP(hidden_units=[4]), datamodule=dm)  # no validation
    validating = setup_dm(data_dir=str(data_root), train_split="train+test", val_size=20)
    assert len(validating.splits["val"]) == 20 and "test" not in validating.splits


def test_val_size_zero_validates_on_the_test_set_as_the_books_do(data_root: Path):
    dm = setup_dm(data_dir=str(data_root))
    assert dm.splits["val"] is dm.splits["test"]
    assert len(dm.splits["train"]) == 256 and len(dm.splits["test"]) == 64


@pytest.mark.parametrize(
    "fn, limit_val_batches, model, said",
    [(None, 1.0, None, True), ("fit", 1.0, MLP(), True), ("validate", 1.0, MLP(), True), ("fit", 0, MLP(), False),
     ("test", 1.0, MLP(), False), ("fit", 1.0, DCGAN(), False)],
)  # fmt: skip
def test_validating_on_the_test_set_is_said_only_when_a_validation_runs(
    data_root, caplog, fn, limit_val_batches, model, said
):
    """A GAN's fit (no validation step, even where fast_dev_run sets limit_val_batches 1), a test or a predict would
    be told of a validation that does not happen."""
    dm = MNISTDataModule(data_dir=str(data_root))
    if fn is not None:
        dm.trainer = SimpleNamespace(state=SimpleNamespace(fn=fn), limit_val_batches=limit_val_batches,
                                     lightning_module=model)  # fmt: skip
    with caplog.at_level(logging.INFO):
        dm.setup(fn or "fit")
    assert ("so validation runs on the test set" in caplog.text) == said


def test_data_on_device_moves_each_split_once_and_serves_batches_from_there(data_root: Path):
    dm = setup_dm(data_dir=str(data_root), data_on_device=True)
    # The meta device stands in for a GPU: tensors there have shapes but no storage, so any copy back shows.
    dm.trainer = SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device("meta")), world_size=1, global_rank=0, overfit_batches=0
    )
    x, y = next(iter(dm.train_dataloader()))
    assert x.device.type == y.device.type == "meta" and x.shape == (128, 1, 28, 28)
    x, _ = next(iter(dm.val_dataloader()))
    assert x.device.type == "meta"
    assert dm.splits["val"] is dm.splits["test"] is dm.splits["predict"]  # one copy on the device, not three
    assert dm.splits["test"].tensors[0].device.type == "meta"


def test_data_on_device_refuses_loader_workers_and_pinning(data_root: Path):
    with pytest.raises(ValueError, match="num_workers=0, pin_memory=false"):
        MNISTDataModule(data_dir=str(data_root), data_on_device=True, pin_memory=True)


@pytest.mark.parametrize("val_size, n_val", [(32, 32), (0.25, 64)])
def test_validation_split_is_seeded_and_disjoint(data_root: Path, val_size, n_val):
    a = setup_dm(data_dir=str(data_root), val_size=val_size, split_seed=3)
    b = setup_dm(data_dir=str(data_root), val_size=val_size, split_seed=3)
    c = setup_dm(data_dir=str(data_root), val_size=val_size, split_seed=4)
    assert len(a.splits["val"]) == n_val and len(a.splits["train"]) == 256 - n_val
    assert torch.equal(a.splits["val"].tensors[0], b.splits["val"].tensors[0])
    assert not torch.equal(a.splits["val"].tensors[0], c.splits["val"].tensors[0])
    train_rows = {r.numpy().tobytes() for r in a.splits["train"].tensors[0]}
    assert not any(r.numpy().tobytes() in train_rows for r in a.splits["val"].tensors[0])


def test_bad_val_size_is_refused(data_root: Path):
    with pytest.raises(DataError, match="no training data"):
        setup_dm(data_dir=str(data_root), val_size=256)


def test_fashion_mnist_is_the_same_implementation_on_its_own_folder(data_root: Path):
    dm = FashionMNISTDataModule(data_dir=str(data_root))
    dm.prepare_data()
    dm.setup("fit")
    mnist = setup_dm(data_dir=str(data_root))
    assert dm.classes[0] == "T-shirt/top" and dm.num_classes == 10
    assert not torch.equal(dm.splits["train"].tensors[0], mnist.splits["train"].tensors[0])


def test_data_dir_defaults_to_the_environment_variable(data_root: Path, monkeypatch):
    monkeypatch.setenv("LIGHTNING_ZOO_DATA", str(data_root))
    assert len(setup_dm().splits["train"]) == 256


def test_uncompressed_files_as_torchvision_leaves_them_are_read_too(tmp_path: Path):
    raw = write_mnist(tmp_path / "d", n_train=20, n_test=10) / "MNIST" / "raw"
    for gz in raw.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    assert len(setup_dm(data_dir=str(tmp_path / "d")).splits["train"]) == 20


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[: len(b) // 2], "not a readable idx file"),  # truncated gzip
        (lambda b: gzip.compress(gzip.decompress(b)[:-100]), "truncated or corrupt"),
        (lambda b: gzip.compress(b"\x00\x00\x0d\x03" + gzip.decompress(b)[4:]), "bad header"),
    ],
)
def test_a_corrupt_file_gives_a_clear_error(tmp_path: Path, damage, message):
    raw = write_mnist(tmp_path / "d", n_train=20, n_test=10) / "MNIST" / "raw"
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetUnavailableError, match=message):
        setup_dm(data_dir=str(tmp_path / "d"))


def test_missing_dataset_offline_says_which_files_to_place_where_and_leaves_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(MNISTDataModule, "mirrors", ("http://127.0.0.1:9/",))  # connection refused at once
    dm = MNISTDataModule(data_dir=str(tmp_path / "data"))
    with pytest.raises(DatasetUnavailableError) as err:
        dm.prepare_data()
    text = str(err.value)
    raw = (tmp_path / "data" / "MNIST" / "raw").resolve()
    assert f"{raw}/train-images-idx3-ubyte.gz  (md5 f68b3c2dcbeaaa9fbdd348bbdeb94873)" in text
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in text and "--data.data_dir" in text
    assert not (tmp_path / "data").exists()  # the folders it made are gone again


@pytest.fixture
def file_server(tmp_path: Path):
    """Serves tmp_path/served over HTTP on a free local port."""
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


def test_download_verifies_checksums_and_keeps_only_complete_files(tmp_path: Path, monkeypatch, file_server):
    served, url = file_server
    source = write_mnist(tmp_path / "src", n_train=30, n_test=10) / "MNIST" / "raw"
    resources = {}
    for path in source.iterdir():
        (served / path.name).write_bytes(path.read_bytes())
        resources[path.name] = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(MNISTDataModule, "mirrors", (url,))
    monkeypatch.setattr(MNISTDataModule, "resources", resources)

    dm = setup_dm(data_dir=str(tmp_path / "data"))
    assert len(dm.splits["train"]) == 30
    assert sorted(p.name for p in dm.raw_folder.iterdir()) == sorted(resources)

    # A corrupted copy on the server: the checksum fails, and no file (not even a partial one) is left.
    (served / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(DatasetUnavailableError, match="checksum mismatch"):
        MNISTDataModule(data_dir=str(tmp_path / "data2")).prepare_data()
    leftovers = (
        [p.name for p in (tmp_path / "data2").rglob("*") if p.is_file()] if (tmp_path / "data2").exists() else []
    )
    assert "t10k-labels-idx1-ubyte.gz" not in leftovers and not any(".part" in n for n in leftovers)


def test_a_download_cut_short_is_refused_and_leaves_no_file(tmp_path: Path):
    """A connection closed before the promised Content-Length ends urllib's reads without an error: a file without a
    published checksum (the Jena archive) was kept, and every later run found it present and unreadable."""
    from datamodules.download import download_file

    class CutShort(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(OSError, match="incomplete download: 1,000 of 100,000 bytes"):
            download_file(f"http://127.0.0.1:{server.server_port}/jena.zip", tmp_path / "jena.zip", md5=None)
    finally:
        server.shutdown()
    assert list(tmp_path.iterdir()) == []


def test_idx_writer_and_reader_agree():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = Path("x-idx3-ubyte")
    path.write_bytes(idx_bytes(a))
    assert torch.equal(read_idx(path, 3), torch.from_numpy(a))


class TestEpochBatchSampler:
    def test_order_depends_only_on_seed_and_epoch(self):
        a, b = EpochBatchSampler(100, 16, shuffle=True, seed=5), EpochBatchSampler(100, 16, shuffle=True, seed=5)
        a.set_epoch(3)
        b.set_epoch(3)
        assert [x.tolist() for x in a] == [x.tolist() for x in b]
        b.set_epoch(4)
        assert [x.tolist() for x in a] != [x.tolist() for x in b]
        assert [x.tolist() for x in a] == [x.tolist() for x in a]  # iterating again repeats the epoch

    def test_seeds_do_not_share_orders_across_epochs(self):
        """Seeded by seed + epoch, seed 1's first epoch was seed 0's second: runs of several seeds saw one order."""
        orders = set()
        for seed in range(3):
            sampler = EpochBatchSampler(100, 100, shuffle=True, seed=seed)
            for epoch in range(3):
                sampler.set_epoch(epoch)
                orders.add(tuple(next(iter(sampler)).tolist()))
        assert len(orders) == 9

    def test_a_mid_epoch_resume_skips_the_trained_batches_of_that_epoch_only(self):
        sampler = EpochBatchSampler(100, 16, shuffle=True, seed=5)
        sampler.set_epoch(3)
        full = [b.tolist() for b in sampler]
        sampler.resume_at(epoch=3, batches_done=4)
        assert [b.tolist() for b in sampler] == full[4:]
        assert [b.tolist() for b in sampler] == full  # only the first iteration after the resume skips
        sampler.resume_at(epoch=2, batches_done=4)  # saved at the end of an earlier epoch: nothing to skip
        assert [b.tolist() for b in sampler] == full

    def test_keeps_the_last_partial_batch_like_keras(self):
        batches = list(EpochBatchSampler(100, 16, shuffle=True))
        assert len(batches) == 7 and [len(b) for b in batches][-1] == 4
        assert sorted(torch.cat(batches).tolist()) == list(range(100))

    def test_ranks_partition_the_data_with_equal_batch_counts(self):
        ranks = [EpochBatchSampler(101, 8, shuffle=True, seed=1, num_replicas=3, rank=r) for r in range(3)]
        for s in ranks:
            s.set_epoch(2)
        seen = [torch.cat(list(s)).tolist() for s in ranks]
        assert len({len(list(s)) for s in ranks}) == 1 and all(len(s) == len(list(s)) for s in ranks)
        counts = Counter(i for part in seen for i in part)
        assert set(counts) == set(range(101)) and sum(counts.values()) == 102  # one index padded
        assert not set(seen[0]) & set(seen[1])

    @pytest.mark.parametrize("size, replicas", [(101, 2), (101, 3), (64, 3), (7, 3), (3, 3)])
    def test_unpadded_ranks_take_every_index_exactly_once(self, size, replicas):
        ranks = [
            EpochBatchSampler(size, 8, True, seed=1, num_replicas=replicas, rank=r, pad=False) for r in range(replicas)
        ]
        batches = [list(s) for s in ranks]
        assert sorted(torch.cat([torch.cat(b) for b in batches]).tolist()) == list(range(size))
        assert all(len(s) == len(b) >= 1 for s, b in zip(ranks, batches, strict=True))
        assert max(len(b) for b in batches) - min(len(b) for b in batches) <= 1

    def test_a_split_smaller_than_the_ranks_still_gives_each_rank_one_index(self):
        """A rank without a batch would stop Lightning ("within local rank has zero length"): padding is then the
        lesser evil."""
        ranks = [EpochBatchSampler(2, 8, False, num_replicas=3, rank=r, pad=False) for r in range(3)]
        assert [[b.tolist() for b in s] for s in ranks] == [[[0]], [[1]], [[0]]]
        assert [len(s) for s in ranks] == [1, 1, 1]


def test_evaluation_loaders_count_every_sample_once_under_ddp_and_training_loaders_stay_equal(data_root: Path):
    """Validation and test shards are not padded (metrics summed over ranks are then the one-process metrics); the
    training shards are, to equal batch counts, which DDP's gradient all-reduce needs."""
    dm = setup_dm(data_dir=str(data_root), val_size=33, batch_size=8)  # val: 33 samples, test: 64, train: 223

    def shards(loader_name: str, replicas: int) -> list[list[torch.Tensor]]:
        loaders = []
        for rank in range(replicas):
            dm.trainer = SimpleNamespace(world_size=replicas, global_rank=rank, overfit_batches=0)
            loaders.append(getattr(dm, loader_name)())
        return [[y for _, y in loader] for loader in loaders]

    for loader_name, split, replicas in (("val_dataloader", "val", 2), ("test_dataloader", "test", 3)):
        parts = shards(loader_name, replicas)
        labels = torch.cat([torch.cat(part) for part in parts])
        expected = dm.splits[split].tensors[1]
        assert len(labels) == len(expected)  # padding would add one sample (val) or two (test)
        assert torch.equal(labels.sort().values, expected.sort().values)
    train = shards("train_dataloader", 2)
    assert len(train[0]) == len(train[1]) and sum(len(y) for part in train for y in part) == 224  # 223 + 1 padded


def test_a_fractional_evaluation_limit_pads_the_shards_so_that_no_rank_rounds_to_no_batch(data_root, tmp_path):
    """33 validation samples in batches of 16 on two ranks: 17 and 16 samples, 2 batches and 1, unpadded, where
    limit_val_batches 0.5 would give rank 1 no batch (Lightning raises there alone, and rank 0 waits); padded, 2
    each."""
    dm = setup_dm(data_dir=str(data_root), val_size=33, batch_size=16)
    lengths = {}
    fitting, testing = SimpleNamespace(fn=TrainerFn.FITTING), SimpleNamespace(fn=TrainerFn.TESTING)
    for limit in (1.0, 0.5):
        loaders = []
        for rank in range(2):
            dm.trainer = SimpleNamespace(world_size=2, global_rank=rank, overfit_batches=0, limit_val_batches=limit,
                                         limit_test_batches=1.0, state=fitting)  # fmt: skip
            loaders.append(dm.val_dataloader())
        lengths[limit] = [len(loader) for loader in loaders]
    assert lengths == {1.0: [2, 1], 0.5: [2, 2]}
    # Only the running evaluation's own limit pads: a test (its limit 1.0) of 63 samples counts each one once.
    dm = setup_dm(data_dir=str(write_mnist(tmp_path, n_test=63)), val_size=33, batch_size=16)
    tested = []
    for rank in range(2):
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank, overfit_batches=0, limit_val_batches=0.5,
                                     limit_test_batches=1.0, state=testing)  # fmt: skip
        tested.append(sum(len(batch[1]) for batch in dm.test_dataloader()))
    assert sum(tested) == len(dm.splits["test"]) == 63


@pytest.mark.ddp
def test_two_processes_validate_and_test_a_classifier_on_odd_splits_as_one_does(tmp_path: Path):
    """33 validation and 63 test digits on two ranks: each digit is evaluated once (a padded shard would count one
    twice), so the accuracy summed over the ranks is the one-process accuracy."""
    data = write_mnist(tmp_path / "data", n_test=63)
    common = ["--config", str(ROOT / "configs/classification/mlp_mnist.yaml"), "--data.data_dir", str(data),
              "--data.val_size", "33", "--data.batch_size", "8", "--trainer.logger", "CSVLogger",
              "--trainer.enable_progress_bar", "false"]  # fmt: skip
    two = ["--trainer.devices", "2", "--trainer.strategy", "ddp", "--trainer.accelerator", "cpu"]
    fitted = ZooCLI(args=["fit", *common, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
                          "--trainer.default_root_dir", str(tmp_path / "fit")])  # fmt: skip
    common += ["--ckpt_path", fitted.trainer.checkpoint_callback.last_model_path]  # the same weights in every run
    for stage in ("validate", "test"):
        ZooCLI(args=[stage, *common, "--trainer.default_root_dir", str(tmp_path / f"{stage}_one")])
        command = [PYTHON, CLI, stage, *common, "--trainer.default_root_dir", str(tmp_path / f"{stage}_two"), *two]
        done = subprocess.run(command, env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        one, two_ = (logged_metrics(tmp_path / f"{stage}_{run}") for run in ("one", "two"))
        prefix = "val" if stage == "validate" else "test"
        assert one[f"{prefix}/acc"] == two_[f"{prefix}/acc"]  # counts of right answers over 33 or 63: exact
        assert one[f"{prefix}/loss"] == pytest.approx(two_[f"{prefix}/loss"], rel=1e-6)  # summed in another order


def logged_metrics(root: Path) -> dict[str, float]:
    """The values of the one row of the metrics.csv a CSVLogger wrote under ``root``."""
    with open(next(root.rglob("metrics.csv"))) as f:
        [row] = list(csv.DictReader(f))
    return {key: float(value) for key, value in row.items() if value}


class TestPerSampleData:
    """Any map-style dataset (decoded per sample, randomly augmented, in workers) gets the same guarantees as the
    in-memory tensors: an order and an augmentation that depend only on (seed, epoch, index)."""

    @staticmethod
    def epoch(dm, epoch: int, state: dict | None = None) -> list[torch.Tensor]:
        loader = dm.train_dataloader()
        if state:
            loader.load_state_dict(state)
        loader.sampler.set_epoch(epoch)
        return [x for x, _ in loader]

    def test_batches_are_the_same_with_any_number_of_workers_and_differ_between_epochs(self):
        from tests.helpers.toys import AugmentedDataModule

        in_process, in_workers = AugmentedDataModule(num_workers=0), AugmentedDataModule(num_workers=2)
        for epoch in (0, 1):
            a, b = self.epoch(in_process, epoch), self.epoch(in_workers, epoch)
            assert len(a) == 12 and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
        first, second = self.epoch(in_process, 0), self.epoch(in_process, 1)
        assert not torch.equal(torch.cat(first).sort(0).values, torch.cat(second).sort(0).values)  # new noise

    def test_a_mid_epoch_position_resumes_with_the_same_samples_and_noise(self):
        from tests.helpers.toys import AugmentedDataModule

        full = self.epoch(AugmentedDataModule(num_workers=2), 3)
        rest = self.epoch(AugmentedDataModule(num_workers=2), 3, {"epoch": 3, "batches_done": 5})
        assert len(rest) == 7 and all(torch.equal(x, y) for x, y in zip(full[5:], rest, strict=True))

    def test_loading_in_the_main_process_leaves_the_global_rng_alone(self):
        from tests.helpers.toys import AugmentedDataModule

        torch.manual_seed(0)
        before = torch.get_rng_state()
        self.epoch(AugmentedDataModule(num_workers=0), 0)
        assert torch.equal(torch.get_rng_state(), before)

    @pytest.mark.parametrize("batches", [17, 12], ids=["mid-epoch", "last-batch-of-an-epoch"])
    def test_training_with_augmentation_in_workers_resumes_bitwise(self, batches, tmp_path):
        """Lightning creates a resumed run's iterator before it sets the epoch, and workers draw indices at once:
        unless the loader starts its workers at the first batch, the resumed epoch replays another epoch's order
        (or, resumed after an epoch's last batch, trains on nothing)."""
        from pytorch_lightning import seed_everything
        from pytorch_lightning.callbacks import LambdaCallback

        from tests.helpers.contract import SaveAfterBatch, weights
        from tests.helpers.toys import AugmentedDataModule, ToyRegressor
        from tests.helpers.train import assert_same_state, state_of, trainer

        def run(root, ckpt_path=None, callbacks=()):
            seed_everything(0)
            model = ToyRegressor()
            trainer(root, max_epochs=2, callbacks=list(callbacks), limit_val_batches=0, enable_checkpointing=False).fit(
                model, AugmentedDataModule(num_workers=2), ckpt_path=ckpt_path
            )
            return model

        full = run(tmp_path / "a", callbacks=[SaveAfterBatch(batches, str(tmp_path / "mid.ckpt"))])  # 12 an epoch
        trained = []
        resumed = run(
            tmp_path / "b", tmp_path / "mid.ckpt", [LambdaCallback(on_train_batch_end=lambda *_: trained.append(1))]
        )
        assert len(trained) == 24 - batches
        assert_same_state(state_of(full), state_of(resumed))
        assert not torch.equal(weights(tmp_path / "mid.ckpt")["net.1.weight"], state_of(full)["net.1.weight"])


def offline_datamodule(name: str, data_dir: str | None):
    """The DataModule of ``name`` with downloading off."""
    from datamodules import CIFAR10DataModule, IMDBDataModule, WeatherDataModule

    classes = {"MNIST": MNISTDataModule, "IMDB": IMDBDataModule, "Jena": WeatherDataModule, "CIFAR": CIFAR10DataModule}
    return classes[name](data_dir=data_dir, download=False)


@pytest.mark.parametrize(
    "name, holds",
    [("MNIST", "MNIST/raw/"), ("IMDB", "imdb/"), ("Jena", "jena_climate/"), ("CIFAR", "cifar-10-python.tar.gz")],
)
@pytest.mark.parametrize("where", ["data_dir", "default ./data"])
def test_the_missing_dataset_hint_names_the_datasets_path_below_the_data_root(
    tmp_path, monkeypatch, name, holds, where
):
    """ "point --data.data_dir at a folder that holds imdb/", not "emptydata/imdb/" (nor "data/imdb/" from the
    default ./data): the path below the root, however deep (MNIST/raw/), or the files of a dataset in the root."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIGHTNING_ZOO_DATA", raising=False)
    dm = offline_datamodule(name, str(tmp_path / "emptydata") if where == "data_dir" else None)
    with pytest.raises(DatasetUnavailableError) as err:
        dm.prepare_data()
    assert str(err.value).endswith(f"at a folder that holds {holds}.")


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_or_unset_data_variable_means_the_data_folder(monkeypatch, value):
    """LIGHTNING_ZOO_DATA= (set but empty) is ./data, as unset, not the current folder."""
    from datamodules.base import data_root

    if value is None:
        monkeypatch.delenv("LIGHTNING_ZOO_DATA", raising=False)
    else:
        monkeypatch.setenv("LIGHTNING_ZOO_DATA", value)
    assert data_root(None) == Path("data") and data_root("") == Path("data")
    assert MNISTDataModule().raw_folder == Path("data/MNIST/raw")


@pytest.mark.parametrize("name", ["MNIST", "IMDB", "Jena", "CIFAR"])
@pytest.mark.parametrize("download", [True, False])
def test_a_data_dir_that_is_a_file_is_a_data_error_naming_it(tmp_path, name, download):
    """Not a NotADirectoryError from mkdir: the error the CLI prints in one line, naming the file."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    dm = offline_datamodule(name, str(afile))
    dm.download = download
    with pytest.raises(DataError, match=f"{afile} is a file, not a folder: point --data.data_dir"):
        dm.prepare_data()


def test_a_data_dir_that_is_a_file_ends_the_cli_with_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        main(["fit", "--config", str(ROOT / "configs/classification/mlp_mnist.yaml"), "--data.data_dir", str(afile)])
    assert str(exit_.value.code).startswith(f"error: {afile} is a file, not a folder")


def test_a_folder_that_cannot_be_made_is_a_data_error(tmp_path, monkeypatch):
    """A read-only data root: the missing dataset's message with the reason, not a PermissionError."""

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(DatasetUnavailableError, match=r"cannot create .*MNIST/raw \(Permission denied\)"):
        MNISTDataModule(data_dir=str(tmp_path / "readonly")).prepare_data()


def test_a_predict_file_line_ends_at_a_newline_only_not_at_the_u0085_reviews_hold(tmp_path):
    from datamodules.base import numbered_predict_lines, predict_file_lines

    path = tmp_path / "prompts.txt"
    path.write_bytes("most\u0085and more\r\n\n  \nsecond\rthird\u2028still third\n".encode())
    assert predict_file_lines(path, "prompt") == ["most\u0085and more", "second", "third\u2028still third"]
    assert [n for n, _ in numbered_predict_lines(path, "prompt")] == [1, 4, 5]


def test_a_predict_file_with_a_byte_order_mark_reads_without_it_and_one_not_in_utf8_is_refused_by_line(tmp_path):
    from datamodules.base import numbered_predict_lines

    path = tmp_path / "reviews.txt"
    path.write_bytes("\ufeffGood film\r\n\r\nbad\n".encode())  # Windows Notepad's UTF-8
    assert numbered_predict_lines(path, "review") == [(1, "Good film"), (3, "bad")]
    # far past Python's first 8 KB read, so the line is counted in the file, not in a buffer
    path.write_bytes(("fine\n" * 3000).encode() + "caf\xe9 awful\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"reviews.txt is not UTF-8 text \(line 3001: byte 0xe9 invalid continuation"):
        numbered_predict_lines(path, "review")


def old_layout_refusals():
    """Each DataModule with a state as the code before this one saved it (its own key, or none), and an option that
    state holds otherwise: a checkpoint of then is still refused by name, not loaded unchecked."""
    from datamodules import (
        AdditionDataModule,
        CharCorpusDataModule,
        IMDBDataModule,
        ORLFacesDataModule,
        WindowSeriesDataModule,
    )

    imdb_encoding = {"num_words": 5000, "skip_top": 0, "start_char": 1, "oov_char": 2, "index_from": 3}
    return [
        (MNISTDataModule, {"image_options": {"value_range": [-1.0, 1.0], "padding": 0, "keep_classes": None}},
         "images were made with --data.value_range [-1.0, 1.0] (here [0.0, 1.0])"),
        (AdditionDataModule, {"question_options": {"digits": 2, "reverse": True}},
         "questions were made with --data.digits 2 (here 3)"),
        (ORLFacesDataModule, {"test_subjects": 10},
         "training subjects were chosen with --data.test_subjects 10 (here 0)"),
        (lambda: CharCorpusDataModule(file="x.txt"), {"tokens": ["a", "b"], "oov": None,
                                                      "settings": {"lower": False, "normalise": False}},
         "text was encoded with --data.lower false (here true)"),  # from before the windows' length travelled
        (IMDBDataModule, {"words": ["film"], "encoding": imdb_encoding},  # from before maxlen, reverse, line_breaks
         "reviews were encoded with --data.num_words 5000 (here 10000)"),
        (WindowSeriesDataModule, {"sample_options": {"value_columns": ["Close"], "target_column": "Close",
                                                     "window": 20, "scale_by_last": True}},
         "samples were made with --data.window 20 (here 10)"),
    ]  # fmt: skip


def test_keeping_every_class_in_order_is_keeping_them_all():
    saved = MNISTDataModule().state_dict()
    MNISTDataModule(keep_classes=list(range(10))).load_state_dict(saved)  # not refused: the same images and labels
    MNISTDataModule().load_state_dict(MNISTDataModule(keep_classes=list(range(10))).state_dict())
    MNISTDataModule().load_state_dict({"image_options": {**saved["image_options"], "keep_classes": list(range(10))}})
    with pytest.raises(DataError, match=r"--data.keep_classes null \(here \[9, 8, 7, 6, 5, 4, 3, 2, 1, 0\]\)"):
        MNISTDataModule(keep_classes=list(range(9, -1, -1))).load_state_dict(saved)


@pytest.mark.parametrize(
    "build, state, refusal", old_layout_refusals(), ids=["mnist", "addition", "orl", "corpus", "imdb", "series"]
)
def test_a_checkpoint_state_of_the_code_before_is_still_refused_by_the_option_it_holds(build, state, refusal):
    with pytest.raises(DataError, match=f"^the checkpoint's {re.escape(refusal)}: pass the same options$"):
        build().load_state_dict(state)
