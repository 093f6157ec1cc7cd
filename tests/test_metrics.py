"""Generative quality: the feature networks (shipped and trained), classifier-FID/KID as a callback that needs no
setup, layouts brought to the network's, and the class fidelity of conditional and code-based GANs."""

from __future__ import annotations

import json
import logging
import math
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from datamodules import ImageFolderDataModule, MNISTDataModule
from lightning_zoo import metrics
from lightning_zoo.classification import FeatureCNN
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import ZooError
from lightning_zoo.gan import ACGAN, DCGAN, ConditionalGAN, ImageDCGAN, InfoGAN, VanillaGAN
from lightning_zoo.metrics import (
    ClassifierFID,
    ConditionalAccuracy,
    FrozenFeatures,
    best_assignment,
    class_fidelity,
    classifier_fid,
    shipped_feature_network,
)
from tests.conftest import ROOT
from tests.helpers.train import gan_data, state_of, trainer

DCGAN_CONFIG = str(ROOT / "configs/gan/dcgan_mnist.yaml")


def real_images(data_root: Path, **kwargs) -> torch.Tensor:
    data = gan_data(data_root, train_split="train+test", **kwargs)
    data.setup("fit")
    return data.splits["train"].tensors[0]


def test_feature_cnn_gives_features_and_logits_and_refuses_odd_sizes():
    model = FeatureCNN()
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    assert model.features(x).shape == (3, 64) and model(x).shape == (3, 10)
    with pytest.raises(ValueError, match="divisible by 4"):
        FeatureCNN(input_shape=(1, 30, 30))
    assert model.hparams.optimizer == "adam" and isinstance(model.configure_optimizers(), torch.optim.Adam)
    with pytest.raises(ValueError, match="FeatureCNN trains with Adam"):
        FeatureCNN(optimizer="sgd")  # not silently ignored


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_the_shipped_feature_networks_load_match_their_checksums_and_classify(dataset, data_root):
    network, entry = shipped_feature_network(dataset)
    recorded = json.loads((ROOT / "benchmarks/results/feature_networks.json").read_text())[dataset]
    assert entry["sha256"] == recorded["sha256"] and entry["test_acc_pct"] == recorded["test_acc_pct"] > 85
    assert isinstance(network, FeatureCNN) and tuple(network.hparams.input_shape) == (1, 28, 28)
    # The fixture digits (class c lights up row band c) are not MNIST, but a network that learned digits gives
    # finite features of its width for them.
    features = network.features(real_images(data_root, padding=0))
    assert features.shape[1] == 64 and torch.isfinite(features).all()


def test_the_pokemon_folders_network_is_the_recorded_rotation_network_and_sees_turns(data_root):
    network, entry = shipped_feature_network("pokemon")
    recorded = json.loads((ROOT / "benchmarks/results/feature_networks.json").read_text())["pokemon"]
    assert entry["task"] == "rotation" and entry["sha256"] == recorded["sha256"]
    assert entry["val_acc_pct"] == recorded["val_acc_pct"] > 50  # chance: 25 %
    assert tuple(network.hparams.input_shape) == (3, 64, 64) and network.hparams.num_classes == 4
    # Its logits are four turn scores and depend on the turn: one image turned four ways is scored four ways.
    dm = pokemon_fixture(data_root)
    dm.setup("fit")
    image = dm.unaugmented("train")[0][0]
    turned = torch.stack([torch.rot90(image, k, dims=(1, 2)) for k in range(4)])
    with torch.no_grad():
        logits, features = network.eval()(turned), network.features(turned)
    assert logits.shape == (4, 4) and features.shape == (4, network.hparams.feature_dim)
    assert all(not torch.allclose(logits[0], logits[k]) for k in (1, 2, 3))


def pokemon_fixture(data_root: Path, size: int = 64) -> ImageFolderDataModule:
    folder = str(data_root / "pokemon" / "images")  # 8 images
    return ImageFolderDataModule(
        folder, size, labelled=False, value_range=(-1.0, 1.0), batch_size=4, dataset_name="pokemon"
    )


@pytest.mark.parametrize("side", [64, 128])  # 128 px images are averaged down to the network's 64
def test_a_folder_smaller_than_the_sample_is_compared_whole_with_a_warning(side, data_root, tmp_path, caplog):
    measured = ClassifierFID(num_samples=100, kid_subset_size=50)
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[measured])
    with pytest.warns(UserWarning, match="has only 8 of the 100 images asked for"), caplog.at_level(logging.INFO):
        fit.fit(ImageDCGAN(input_shape=(3, side, side), width=4), pokemon_fixture(data_root, side))
    assert measured.compared == int(measured.fid.real_features_num_samples) == measured.kid.subset_size == 8
    fid = float(fit.callback_metrics["val/classifier_fid"])
    assert math.isfinite(fid)
    assert f"epoch 0: val/classifier_fid {fid:.4g}, val/classifier_kid " in caplog.text  # seen without a logger


def test_a_feature_network_used_on_another_folder_than_it_learnt_on_is_warned_of(data_root, tmp_path):
    """A config's dataset_name pokemon kept under --data.folder faces measured the faces by Pokemon features in
    silence: a warning now; the Pokemon folder itself, wherever it lies, passes."""
    faces = tmp_path / "faces"
    shutil.copytree(data_root / "pokemon" / "images", faces)
    other = ImageFolderDataModule(str(faces), 64, labelled=False, dataset_name="pokemon")
    with pytest.warns(UserWarning, match=rf"learnt its features on pokemon/images, not on {faces}: distances"):
        assert metrics.judging_dataset(other) == "pokemon"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert metrics.judging_dataset(pokemon_fixture(data_root)) == "pokemon"
        assert metrics.judging_dataset(SimpleNamespace(dataset_name="mnist")) == "mnist"  # no folder to compare
    assert not caught
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[ClassifierFID(num_samples=8)])
    with pytest.warns(UserWarning, match="learnt its features on pokemon/images"):  # what the callback says
        fit.fit(ImageDCGAN(width=4), ImageFolderDataModule(str(faces), 64, labelled=False, value_range=(-1.0, 1.0),
                                                            batch_size=4, dataset_name="pokemon"))  # fmt: skip


def test_a_network_trained_on_turns_counts_no_classes(data_root, tmp_path):
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[metrics.ModeCoverage(num_samples=8)])
    with pytest.raises(ZooError, match="trained to tell rotations apart"):
        fit.fit(ImageDCGAN(width=4), pokemon_fixture(data_root))


def test_a_missing_or_altered_feature_network_ends_with_the_command_that_makes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "FEATURE_NETWORKS", tmp_path)
    with pytest.raises(ZooError, match="no feature network for 'cifar10'.*python benchmarks/feature_networks.py"):
        shipped_feature_network("cifar10")
    shutil.copy(ROOT / "lightning_zoo/feature_networks/index.json", tmp_path / "index.json")
    (tmp_path / "mnist.pt").write_bytes(b"not the network")
    with pytest.raises(ZooError, match="does not match its recorded checksum"):
        shipped_feature_network("mnist")


def test_images_are_brought_to_the_networks_layout():
    features = FrozenFeatures(FeatureCNN(), 64, (1, 28, 28), (-1.0, 1.0), source_range=(0.0, 1.0))
    image = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(features.to_layout(image), image * 2 - 1)  # [0, 1] -> [-1, 1]
    torch.testing.assert_close(features.to_layout(image.flatten(1)), image * 2 - 1)  # flat -> 1x28x28
    padded = torch.nn.functional.pad(image, (2, 2, 2, 2))
    torch.testing.assert_close(features.to_layout(padded), image * 2 - 1)  # 32x32 -> the inner 28x28
    with pytest.raises(ZooError, match=r"takes \(1, 28, 28\) images, it was given \(3, 28, 28\)"):
        features.to_layout(torch.rand(2, 3, 28, 28))
    twice = image.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # 56x56 -> averaged over 2x2 blocks
    torch.testing.assert_close(features.to_layout(twice), image * 2 - 1)


def test_classifier_fid_is_zero_for_the_same_images_and_grows_with_their_distortion(data_root):
    images = real_images(data_root, padding=0)
    fid = classifier_fid(dataset="mnist")
    fid.update(images, real=True)

    def against(fake: torch.Tensor) -> float:
        fid.reset()  # keeps the real features
        fid.update(fake, real=False)
        return float(fid.compute())

    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1  # in the images' range
    same, slight, strong, unrelated = (against((1 - mix) * images + mix * noise) for mix in (0.0, 0.1, 0.5, 1.0))
    assert abs(same) < 1e-3 * slight
    assert 0 < slight < strong < unrelated


def test_the_callback_needs_no_setup_logs_fid_and_kid_and_leaves_training_unchanged(data_root, tmp_path):
    def fit(*callbacks) -> DCGAN:
        torch.manual_seed(0)
        model = DCGAN()
        trainer(tmp_path, max_epochs=2, limit_train_batches=2, callbacks=list(callbacks)).fit(
            model, gan_data(data_root)
        )
        return model

    measured = ClassifierFID(num_samples=96, batch_size=40, kid_subset_size=50)  # the shipped MNIST network
    with_fid, without = fit(measured), fit()
    assert state_of(with_fid).keys() == state_of(without).keys()
    assert all(torch.equal(state_of(with_fid)[k], state_of(without)[k]) for k in state_of(without))
    logged = with_fid.trainer.callback_metrics
    assert math.isfinite(float(logged["val/classifier_fid"])) and float(logged["val/classifier_fid"]) > 0
    assert math.isfinite(float(logged["val/classifier_kid"])) and float(logged["val/classifier_kid_std"]) >= 0
    assert int(measured.fid.real_features_num_samples) == 96  # real features were computed once, not per epoch


def test_the_callback_is_added_from_the_command_line_alone(data_root):
    fid = ["--trainer.callbacks+=lightning_zoo.metrics.ClassifierFID", "--trainer.callbacks.num_samples", "64",
           "--trainer.callbacks.kid_subset_size", "32"]  # fmt: skip
    cli = ZooCLI(args=["fit", "--config", DCGAN_CONFIG, "--data.data_dir", str(data_root), "--trainer.max_epochs", "1",
                       "--trainer.limit_train_batches", "1", *fid])  # fmt: skip
    assert math.isfinite(float(cli.trainer.callback_metrics["val/classifier_fid"]))


def test_a_checkpoint_without_features_or_of_another_layout_is_refused(data_root, tmp_path):
    t = trainer(tmp_path, max_epochs=1, limit_train_batches=1)
    t.fit(DCGAN(), gan_data(data_root))
    t.save_checkpoint(tmp_path / "dcgan.ckpt")
    with pytest.raises(ZooError, match="has no features\\(\\): train a FeatureCNN"):
        classifier_fid(tmp_path / "dcgan.ckpt")
    with pytest.raises(ZooError, match="no such checkpoint file"):
        classifier_fid(tmp_path / "missing.ckpt")
    fid = classifier_fid(dataset="mnist")
    with pytest.raises(ZooError, match=r"takes \(1, 28, 28\) images, it was given \(1, 27, 27\)"):
        fid.update(torch.zeros(2, 1, 27, 27), real=True)


def test_best_assignment_is_the_one_to_one_mapping_with_the_most_counts():
    counts = torch.tensor([[9, 8], [7, 0]])  # each row greedily taking its best column would score 9 + 0
    assert best_assignment(counts) == [1, 0]  # 8 + 7
    counts = torch.tensor([[5, 9, 0], [6, 8, 0], [0, 1, 7]])
    assert best_assignment(counts) == [1, 0, 2]
    mapping = best_assignment(torch.tensor([[1, 5], [4, 0], [9, 1]]))  # more rows than columns: one maps to none
    assert mapping[0] == 1 and mapping[2] == 0 and mapping[1] >= 2


def test_class_fidelity_reports_accuracy_purity_and_the_mapping():
    counts = torch.tensor([[8, 2, 0], [0, 0, 10], [1, 9, 0]])  # categories come in another order than the classes
    fidelity = class_fidelity(counts)
    assert fidelity["accuracy_pct"] == round(100 * 8 / 30, 2)
    assert fidelity["majority_class"] == [0, 2, 1] and fidelity["purity_pct"] == round(100 * 27 / 30, 2)
    assert fidelity["one_to_one_mapping"] == [0, 2, 1] and fidelity["one_to_one_accuracy_pct"] == 90.0


@pytest.mark.parametrize(
    "model_class, key", [(ConditionalGAN, "val/conditional_acc"), (InfoGAN, "val/category_purity")]
)
def test_conditional_accuracy_is_measured_for_labels_and_for_categories(model_class, key, data_root, tmp_path):
    model = model_class()
    data = gan_data(data_root, batch_size=16, padding=2 if model_class is InfoGAN else 0)
    trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[ConditionalAccuracy(per_class=8)]).fit(
        model, data
    )
    value = float(model.trainer.callback_metrics[key])
    assert 0 <= value <= 1
    with pytest.raises(ZooError, match="needs a GAN whose latent has labels or a category"):
        trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[ConditionalAccuracy()]).fit(
            VanillaGAN(), gan_data(data_root, padding=0)
        )


class Painter(ACGAN):
    """A 'generator' that paints the fixture pattern of the requested class (row band c), of the next class with
    ``shift`` 1, or of ``only`` whatever class is asked for (a generator collapsed onto one mode)."""

    only: int | None = None
    shift: int = 0

    def generate(self, latent):
        images = torch.full((len(latent["labels"]), 1, 28, 28), -1.0)
        for i, c in enumerate(latent["labels"].tolist()):
            c = (c + self.shift) % 10 if self.only is None else self.only
            images[i, 0, 2 + 2 * c : 4 + 2 * c, 4:24] = 1.0
        return images


class CategoryPainter(Painter):
    """The painter asked for a class by InfoGAN's ``category`` code instead of ``labels``."""

    def sample_latent(self, n, generator=None):
        latent = super().sample_latent(n, generator)
        return {"z": latent["z"], "category": latent["labels"]}

    def generate(self, latent):
        return super().generate({"labels": latent["category"]})


def measured_by(callback, gan, judge, monkeypatch, datamodule=None) -> dict[str, float]:
    """What ``callback`` logs at the end of a run's last epoch for ``gan``, classified by ``judge``."""
    monkeypatch.setattr(metrics, "feature_extractor", lambda *args, **kwargs: judge)
    logged = {}
    monkeypatch.setattr(metrics, "log_measured", lambda module, values: logged.update(values))
    last_epoch = SimpleNamespace(current_epoch=0, max_epochs=1, should_stop=False, max_steps=-1, global_step=0,
                                 sanity_checking=False, world_size=1, global_rank=0, datamodule=datamodule,
                                 strategy=SimpleNamespace(reduce=lambda value, reduce_op: value))  # fmt: skip
    callback.setup(last_epoch, gan, "fit")
    callback.on_train_epoch_end(last_epoch, gan)
    return {name: float(value) for name, value in logged.items()}


@pytest.fixture(scope="module")
def judge() -> FrozenFeatures:
    """A classifier that learned the painter's ten patterns in a few steps."""
    torch.manual_seed(0)
    classifier, painter = FeatureCNN(), Painter()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-2)
    for _ in range(60):
        latent = painter.sample_latent(64)
        loss = torch.nn.functional.cross_entropy(classifier(painter.generate(latent)), latent["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return FrozenFeatures(classifier, 10, (1, 28, 28), logits=True)


def test_class_fidelity_of_a_generator_that_draws_the_requested_class_is_perfect(judge):
    counts = metrics.class_confusion(Painter(), judge, "labels", 20, torch.Generator().manual_seed(0))
    assert class_fidelity(counts)["accuracy_pct"] == 100.0


def test_class_shares_find_a_generator_collapsed_onto_one_mode(judge):
    balanced = metrics.predicted_classes(Painter(), judge, 2000, torch.Generator().manual_seed(0), batch=300)
    assert int(balanced.sum()) == 2000
    shares = metrics.class_shares(balanced)
    assert shares["every_class_within"] and 5 <= shares["rarest_class_pct"] <= 10 <= shares["commonest_class_pct"] <= 15
    assert sum(shares["class_share_pct"]) == pytest.approx(100, abs=0.1)
    collapsed = Painter()
    collapsed.only = 3
    shares = metrics.class_shares(metrics.predicted_classes(collapsed, judge, 500, torch.Generator().manual_seed(0)))
    assert not shares["every_class_within"]
    assert shares["class_share_pct"][3] == shares["commonest_class_pct"] == 100.0 and shares["rarest_class_pct"] == 0
    assert metrics.class_shares(torch.tensor([4, 16] + [10] * 8))["every_class_within"] is False  # one class too rare


def test_conditional_accuracy_logs_the_classes_asked_for_and_purity_for_categories(judge, monkeypatch):
    """Asked for class c, a painter of class c + 1 is always wrong (accuracy 0) and always consistent (purity 1): a
    category code has no order to be right in, so for it the purity is logged."""
    right, shifted, category_shifted = Painter(), Painter(), CategoryPainter()
    shifted.shift = category_shifted.shift = 1
    category_shifted.hparams["num_categories"] = 10
    assert measured_by(ConditionalAccuracy(per_class=10), right, judge, monkeypatch) == {"val/conditional_acc": 1.0}
    assert measured_by(ConditionalAccuracy(per_class=10), shifted, judge, monkeypatch) == {"val/conditional_acc": 0.0}
    assert measured_by(ConditionalAccuracy(per_class=10), category_shifted, judge, monkeypatch) == {
        "val/category_purity": 1.0
    }


def test_mode_coverage_logs_the_shares_of_the_rarest_and_commonest_class(judge, monkeypatch):
    collapsed = Painter()
    collapsed.only = 3
    measured = measured_by(metrics.ModeCoverage(num_samples=200), collapsed, judge, monkeypatch)
    assert measured == {"val/rarest_class_share": 0.0, "val/commonest_class_share": 1.0}
    balanced = measured_by(metrics.ModeCoverage(num_samples=200), Painter(), judge, monkeypatch)
    assert 0.05 < balanced["val/rarest_class_share"] < 0.1 < balanced["val/commonest_class_share"] < 0.15


class KeptPainter(Painter):
    """A painter trained on MNIST's ``--data.keep_classes [3, 5]``: its label 0 is a 3, its label 1 a 5."""

    def generate(self, latent):
        return super().generate({"labels": torch.tensor([3, 5])[latent["labels"]]})


def test_class_metrics_judge_kept_classes_as_the_dataset_classes_they_are(judge, monkeypatch):
    """With ``keep_classes [3, 5]`` the data's label 1 is digit 5: a generator that draws exactly the digit asked
    for scored 0 (label i was judged against digit i), and 8 never-drawn digits made its rarest share 0."""
    kept = SimpleNamespace(classes=tuple("0123456789"), class_names=("3", "5"), dataset_name=None)
    assert metrics.judged_classes(kept) == [3, 5]
    every = SimpleNamespace(classes=tuple("0123456789"), class_names=tuple("0123456789"), dataset_name=None)
    assert metrics.judged_classes(every) is None and metrics.judged_classes(None) is None
    assert metrics.judged_classes(SimpleNamespace(classes=["cat", "dog"], class_names=("dog", "fox"))) is None
    digits = MNISTDataModule(keep_classes=[3, 5])  # the real DataModule's names, not only the stand-in's
    assert metrics.judged_classes(digits) == [3, 5]
    painter = KeptPainter(num_classes=2)
    measured = measured_by(ConditionalAccuracy(per_class=20), painter, judge, monkeypatch, kept)
    assert measured == {"val/conditional_acc": 1.0}
    shares = measured_by(metrics.ModeCoverage(num_samples=200), painter, judge, monkeypatch, kept)
    assert 0.4 < shares["val/rarest_class_share"] <= 0.5 <= shares["val/commonest_class_share"] < 0.6
    assert shares["val/rarest_class_share"] + shares["val/commonest_class_share"] == pytest.approx(1.0)
    counts = torch.tensor([[1, 0, 9], [0, 10, 0]])  # value 0 drawn as class 2 nine times in ten, value 1 as class 1
    assert class_fidelity(counts, targets=[2, 1])["accuracy_per_class_pct"] == [90.0, 100.0]


def test_mode_coverage_is_logged_as_the_rarest_and_commonest_class_share(data_root, tmp_path):
    model = DCGAN()
    fit = trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[metrics.ModeCoverage(num_samples=50)])
    fit.fit(model, gan_data(data_root, batch_size=16))
    rarest, commonest = (float(fit.callback_metrics[f"val/{k}_class_share"]) for k in ("rarest", "commonest"))
    assert 0 <= rarest <= 0.1 <= commonest <= 1 and (rarest * 50).is_integer() and (commonest * 50).is_integer()
    with pytest.raises(ZooError, match="ModeCoverage needs a GAN"):
        trainer(tmp_path, max_epochs=1, limit_train_batches=1, callbacks=[metrics.ModeCoverage()]).fit(
            FeatureCNN(), gan_data(data_root, padding=0)
        )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: metrics.ConditionalAccuracy(per_class=0), "ConditionalAccuracy needs per_class >= 1, got 0"),
        (lambda: metrics.ConditionalAccuracy(every_n_epochs=0), "ConditionalAccuracy needs every_n_epochs >= 1"),
        (lambda: metrics.ModeCoverage(num_samples=0), "ModeCoverage needs num_samples >= 1, got 0"),
        (lambda: metrics.ModeCoverage(every_n_epochs=0), "ModeCoverage needs every_n_epochs >= 1"),
    ],
    ids=["per_class", "conditional every_n_epochs", "num_samples", "coverage every_n_epochs"],
)
def test_sample_classifying_callbacks_refuse_counts_below_one_when_built(build, message):
    """Not at the end of the first epoch, before its checkpoint (a ZeroDivisionError there lost the epoch)."""
    with pytest.raises(ValueError, match=message):
        build()


def test_a_dataset_without_a_feature_network_says_how_to_get_one():
    from lightning_zoo.metrics import feature_extractor

    with pytest.raises(ZooError, match=r"names no dataset \(--data.dataset_name\) has no shipped feature network: "
                                       r"pass one's checkpoint \(classifier_ckpt\), e.g. of configs/classification/"
                                       r"feature_cnn_pokemon.yaml"):  # fmt: skip
        feature_extractor(None, None)
