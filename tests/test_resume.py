"""Checkpoints: exact resume (weights bitwise equal to an uninterrupted run) and load_from_checkpoint round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from pytorch_lightning import seed_everything
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_zoo.callbacks import ZooModelCheckpoint
from lightning_zoo.classification import MLP, FeatureCNN
from lightning_zoo.core import ZooModule
from lightning_zoo.gan import DCGAN
from tests.helpers.train import assert_same_state, gan_data, mlp_data, state_of, trainer

MODELS = {
    "mlp": (lambda: MLP(), mlp_data, {}),
    "dcgan": (
        lambda: DCGAN(),
        lambda root: gan_data(root, batch_size=16),
        {"limit_train_batches": 2, "limit_val_batches": 0},
    ),
    "feature_cnn": (lambda: FeatureCNN(), lambda root: gan_data(root, batch_size=64), {"limit_val_batches": 1}),
}


def run(name: str, data_root: Path, root: Path, max_epochs: int, ckpt_path: Path | None = None):
    """Like the CLI: seed, build the model and data, fit; a checkpoint every epoch."""
    make_model, make_data, options = MODELS[name]
    seed_everything(0)
    model = make_model()
    t = trainer(root, max_epochs=max_epochs, callbacks=[ZooModelCheckpoint(dirpath=root / "ckpt")], **options)
    t.fit(model, make_data(data_root), ckpt_path=ckpt_path)
    return model


@pytest.mark.parametrize("name", MODELS)
def test_resume_after_epoch_1_of_3_matches_an_uninterrupted_run(name, data_root, tmp_path):
    uninterrupted = run(name, data_root, tmp_path / "a", max_epochs=3)
    run(name, data_root, tmp_path / "b", max_epochs=1)
    resumed = run(name, data_root, tmp_path / "c", max_epochs=3, ckpt_path=tmp_path / "b/ckpt/last.ckpt")
    assert_same_state(state_of(uninterrupted), state_of(resumed))


def test_resume_from_a_mid_epoch_checkpoint_matches_an_uninterrupted_run(data_root, tmp_path):
    """4 batches per epoch; stopped after batch 2 of epoch 2 (step 6), resumed: the loader skips what was trained."""
    uninterrupted = run("mlp", data_root, tmp_path / "a", max_epochs=2)
    seed_everything(0)
    every_2_steps = ModelCheckpoint(dirpath=tmp_path / "b", every_n_train_steps=2, save_top_k=-1)
    trainer(tmp_path / "b", max_steps=6, callbacks=[every_2_steps]).fit(MLP(), mlp_data(data_root))
    resumed = run("mlp", data_root, tmp_path / "c", max_epochs=2, ckpt_path=tmp_path / "b/epoch=1-step=6.ckpt")
    assert_same_state(state_of(uninterrupted), state_of(resumed))


def test_without_the_saved_rng_state_the_resumed_run_differs(data_root, tmp_path, monkeypatch):
    """The control for the test above: dropout masks drawn from a fresh RNG give other weights."""
    uninterrupted = run("mlp", data_root, tmp_path / "a", max_epochs=3)
    run("mlp", data_root, tmp_path / "b", max_epochs=1)
    monkeypatch.setattr(ZooModule, "on_load_checkpoint", lambda self, checkpoint: None)
    resumed = run("mlp", data_root, tmp_path / "c", max_epochs=3, ckpt_path=tmp_path / "b/ckpt/last.ckpt")
    assert not torch.equal(uninterrupted.net[1].weight, resumed.net[1].weight)


@pytest.mark.parametrize("name", MODELS)
def test_load_from_checkpoint_gives_identical_outputs(name, data_root, tmp_path):
    model = run(name, data_root, tmp_path, max_epochs=1).eval()
    torch.manual_seed(123)
    type(model)()
    after_construction = torch.get_rng_state()
    torch.manual_seed(123)
    loaded = type(model).load_from_checkpoint(tmp_path / "ckpt/last.ckpt").eval()
    # Loading builds the model and nothing more: it does not set the RNG to the checkpoint's saved state.
    assert torch.equal(torch.get_rng_state(), after_construction)
    assert_same_state(state_of(model), state_of(loaded))
    if name == "mlp":
        x = torch.rand(8, 784)
        assert torch.equal(model(x), loaded(x))
    elif name == "feature_cnn":
        x = torch.rand(8, 1, 32, 32) * 2 - 1
        assert torch.equal(model(x), loaded(x)) and torch.equal(model.features(x), loaded.features(x))
    else:
        assert torch.equal(model.fixed_samples(), loaded.fixed_samples())
        images = torch.rand(8, 1, 32, 32) * 2 - 1
        assert torch.equal(model.discriminator(images), loaded.discriminator(images))
