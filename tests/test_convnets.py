"""What is special about the convnets and transfer models (the contract tests cover the rest): the Antirectifier's
formula, the class subsets of the transfer example, and starting a run from another run's checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from datamodules import MNISTDataModule
from lightning_zoo.classification import MLP, TransferCNN
from lightning_zoo.cli import main
from lightning_zoo.core import ZooError
from lightning_zoo.layers import Antirectifier
from tests.conftest import ROOT
from tests.helpers.train import state_of, trainer

PHASE_1 = str(ROOT / "configs/classification/transfer_cnn_mnist_0_4.yaml")
PHASE_2 = str(ROOT / "configs/classification/transfer_cnn_mnist_5_9.yaml")


def test_the_antirectifier_is_its_formula_and_doubles_the_width():
    x = torch.randn(5, 7, dtype=torch.float64)
    centred = x - x.sum(1, keepdim=True) / 7
    unit = centred / centred.pow(2).sum(1, keepdim=True).clamp_min(1e-12).sqrt()
    out = Antirectifier()(x)
    assert out.shape == (5, 14)
    torch.testing.assert_close(out, torch.cat([unit.clamp_min(0), (-unit).clamp_min(0)], 1))
    torch.testing.assert_close(out[:, :7] - out[:, 7:], unit)  # nothing is discarded
    with pytest.raises(ValueError, match=r"takes \(samples, features\)"):
        Antirectifier()(torch.zeros(2, 3, 4))


def test_keep_classes_keeps_those_classes_relabelled_in_order(data_root):
    every = MNISTDataModule(data_dir=str(data_root))
    kept = MNISTDataModule(data_dir=str(data_root), keep_classes=[7, 2, 5])
    for data in (every, kept):
        data.setup("fit")
    assert kept.num_classes == 3 and kept.class_names == ("7", "2", "5")
    for split in ("train", "test"):
        x, y = every.splits[split].tensors
        kx, ky = kept.splits[split].tensors
        for label, digit in enumerate((7, 2, 5)):
            assert torch.equal(kx[ky == label], x[y == digit])
        assert len(ky) == sum(int((y == d).sum()) for d in (7, 2, 5))


@pytest.mark.parametrize("bad", [[], [1, 1], [3, 10], [-1]])
def test_keep_classes_refuses_what_names_no_class(bad):
    with pytest.raises(ValueError, match="keep_classes must name distinct classes among 0..9"):
        MNISTDataModule(keep_classes=bad)


def fit_phase(config: str, data_root: Path, root: Path, *extra: str) -> None:
    main(["fit", "--config", config, "--data.data_dir", str(data_root), "--data.batch_size", "16",
          "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "1",
          "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
          "--trainer.default_root_dir", str(root), *extra])  # fmt: skip


@pytest.fixture(scope="module")
def phase_1(data_root, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phase_1")
    fit_phase(PHASE_1, data_root, root)
    return root / "checkpoints" / "last.ckpt"


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_phase_2_trains_the_head_on_frozen_features_from_phase_1(phase_1, data_root, tmp_path):
    fit_phase(PHASE_2, data_root, tmp_path, "--model.init_from", str(phase_1))
    before, after = weights(phase_1), weights(tmp_path / "checkpoints" / "last.ckpt")
    features = [k for k in before if k.startswith("net.features.")]
    head = [k for k in before if k.startswith("net.head.")]
    assert features and head and set(features + head) == set(before)
    assert all(torch.equal(before[k], after[k]) for k in features)
    assert all(not torch.equal(before[k], after[k]) for k in head)


def test_the_optimizer_of_a_frozen_run_holds_the_head_only(phase_1):
    model = TransferCNN(num_classes=5, init_from=str(phase_1), freeze_features=True)
    [group] = model.configure_optimizers().param_groups
    assert {id(p) for p in group["params"]} == {id(p) for p in model.net.head.parameters()}


def test_new_head_takes_the_features_only(phase_1):
    torch.manual_seed(1)
    model = TransferCNN(num_classes=5, init_from=str(phase_1), freeze_features=True, new_head=True)
    fresh_head = state_of(model.net.head)
    model.initialise_from(phase_1, ["net.features"])
    saved = weights(phase_1)
    assert all(torch.equal(p, saved[f"net.features.{k}"]) for k, p in model.net.features.state_dict().items())
    assert all(torch.equal(p, fresh_head[k]) for k, p in model.net.head.state_dict().items())
    assert not torch.equal(model.net.head[0].weight, saved["net.head.0.weight"])


def test_phase_2_resumed_reads_its_own_checkpoint_not_init_from(phase_1, data_root, tmp_path):
    """A resumed phase 2 must continue from its checkpoint: init_from (even deleted by now) is not read again."""
    fit_phase(PHASE_2, data_root, tmp_path / "a", "--model.init_from", str(phase_1))
    gone = tmp_path / "deleted.ckpt"
    fit_phase(PHASE_2, data_root, tmp_path / "b", "--model.init_from", str(gone), "--trainer.max_epochs", "2",
              "--ckpt_path", str(tmp_path / "a" / "checkpoints" / "last.ckpt"))  # fmt: skip
    assert weights(tmp_path / "b" / "checkpoints" / "last.ckpt")["net.features.0.weight"].equal(
        weights(phase_1)["net.features.0.weight"]
    )


def test_phase_2_without_init_from_says_what_to_pass(data_root, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        fit_phase(PHASE_2, data_root, tmp_path)
    message = str(exit_.value.code)
    assert "--model.init_from PATH (phase 1's checkpoints/last.ckpt)" in message and "\n" not in message


def test_init_from_a_missing_file_or_another_model_ends_with_one_line(data_root, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        fit_phase(PHASE_2, data_root, tmp_path, "--model.init_from", str(tmp_path / "nothing.ckpt"))
    assert str(exit_.value.code) == f"error: {tmp_path / 'nothing.ckpt'}: no such checkpoint file"

    mlp = tmp_path / "mlp.ckpt"
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0)
    t.fit(MLP(), MNISTDataModule(data_dir=str(data_root), flatten=True, batch_size=8))
    t.save_checkpoint(mlp)
    with pytest.raises(SystemExit) as exit_:
        fit_phase(PHASE_2, data_root, tmp_path, "--model.init_from", str(mlp))
    assert (
        str(exit_.value.code) == f"error: {mlp} holds a MLP, not a TransferCNN: pass a checkpoint of a TransferCNN run"
    )


def test_init_from_a_model_of_other_sizes_names_the_misfit(phase_1):
    model = TransferCNN(num_classes=5, dense_units=64, init_from=str(phase_1))
    with pytest.raises(
        ZooError,
        match=r"weights do not fit this TransferCNN \(3 of 8 tensors missing or of another shape, e.g. \['net.head.0",
    ):
        model.initialise_from(phase_1)
