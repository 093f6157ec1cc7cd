"""Classifier-FID: the feature network, the metric's behaviour, and the callback inside a GAN run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from lightning_zoo.classification import FeatureCNN
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import ZooError
from lightning_zoo.gan import DCGAN
from lightning_zoo.metrics import ClassifierFID, classifier_fid
from tests.conftest import ROOT
from tests.helpers.train import MetricHistory, gan_data, state_of, trainer

DCGAN_CONFIG = str(ROOT / "configs/gan/dcgan_mnist.yaml")


def real_images(data_root: Path) -> torch.Tensor:
    data = gan_data(data_root, train_split="train+test")
    data.setup("fit")
    return data.splits["train"].tensors[0]


def test_feature_cnn_gives_features_and_logits_and_refuses_odd_sizes():
    model = FeatureCNN()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    assert model.features(x).shape == (3, 128) and model(x).shape == (3, 10)
    with pytest.raises(ValueError, match="divisible by 4"):
        FeatureCNN(input_shape=(1, 30, 30))


def test_feature_cnn_learns_a_fixed_batch(data_root: Path, tmp_path: Path):
    history = MetricHistory("train/loss_step")
    trainer(tmp_path, max_steps=30, overfit_batches=1, limit_val_batches=0, callbacks=[history]).fit(
        FeatureCNN(), gan_data(data_root)
    )
    losses = history.history["train/loss_step"]
    assert losses[-1] < 0.3 * losses[0]


def test_classifier_fid_is_zero_for_the_same_images_and_grows_with_their_distortion(feature_checkpoint, data_root):
    images = real_images(data_root)
    fid = classifier_fid(feature_checkpoint)
    fid.update(images, real=True)

    def against(fake: torch.Tensor) -> float:
        fid.reset()  # keeps the real features
        fid.update(fake, real=False)
        return float(fid.compute())

    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1  # in the images' range
    same, slight, strong, unrelated = (against((1 - mix) * images + mix * noise) for mix in (0.0, 0.1, 0.5, 1.0))
    assert abs(same) < 1e-3 * slight
    assert 0 < slight < strong < unrelated


def test_the_callback_logs_classifier_fid_and_leaves_training_unchanged(feature_checkpoint, data_root, tmp_path):
    def fit(*callbacks) -> DCGAN:
        torch.manual_seed(0)
        model = DCGAN()
        trainer(tmp_path, max_epochs=2, limit_train_batches=2, callbacks=list(callbacks)).fit(
            model, gan_data(data_root)
        )
        return model

    measured = ClassifierFID(str(feature_checkpoint), num_samples=96, batch_size=40)
    with_fid, without = fit(measured), fit()
    assert state_of(with_fid).keys() == state_of(without).keys()
    assert all(torch.equal(state_of(with_fid)[k], state_of(without)[k]) for k in state_of(without))
    value = float(with_fid.trainer.callback_metrics["val/classifier_fid"])
    assert math.isfinite(value) and value > 0
    assert int(measured.fid.real_features_num_samples) == 96  # real features were computed once, not per epoch


def test_the_callback_is_configured_from_the_command_line(feature_checkpoint, data_root):
    cli = ZooCLI(args=["fit", "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
                       "--trainer.limit_train_batches", "1", "--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID",
                       "--trainer.callbacks.classifier_ckpt", str(feature_checkpoint),
                       "--trainer.callbacks.num_samples", "64"])  # fmt: skip
    assert math.isfinite(float(cli.trainer.callback_metrics["val/classifier_fid"]))


def test_a_checkpoint_without_features_or_of_another_layout_is_refused(feature_checkpoint, data_root, tmp_path):
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=1)
    t.fit(DCGAN(), gan_data(data_root))
    t.save_checkpoint(tmp_path / "dcgan.ckpt")
    with pytest.raises(ZooError, match="has no features\\(\\): train a FeatureCNN"):
        classifier_fid(tmp_path / "dcgan.ckpt")
    with pytest.raises(ZooError, match="no such checkpoint file"):
        classifier_fid(tmp_path / "missing.ckpt")
    fid = classifier_fid(feature_checkpoint)
    with pytest.raises(ZooError, match=r"takes \(1, 32, 32\) images, it was given \(1, 28, 28\)"):
        fid.update(torch.zeros(2, 1, 28, 28), real=True)
