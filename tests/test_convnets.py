"""What is special about the convnets and transfer models (the contract tests cover the rest): the Antirectifier's
formula, the class subsets of the transfer example, and starting a run from another run's checkpoint."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from datamodules import (
    CatsAndDogsSmallDataModule,
    DataError,
    ImageFolderDataModule,
    MNISTDataModule,
    VGG16FeaturesDataModule,
)
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
    model.load_initial_weights()
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


def test_phase_2_without_init_from_says_what_to_pass_when_it_fits_only(phase_1, data_root, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        fit_phase(PHASE_2, data_root, tmp_path / "fit", "--trainer.logger", "CSVLogger",
                  "--trainer.logger.save_dir", str(tmp_path / "logs"))  # fmt: skip
    assert not (tmp_path / "logs").exists()  # refused before the logger wrote the run's config
    message = str(exit_.value.code)
    assert "--model.init_from PATH (phase 1's checkpoints/last.ckpt, or its run folder)" in message
    assert "\n" not in message
    # Testing a phase-2 run's checkpoint needs no phase-1 file (its config names none)
    fit_phase(PHASE_2, data_root, tmp_path / "run", "--model.init_from", str(phase_1))
    main(["test", "--config", PHASE_2, "--data.data_dir", str(data_root), "--trainer.logger", "false",
          "--ckpt_path", str(tmp_path / "run" / "checkpoints" / "last.ckpt")])  # fmt: skip


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
        str(exit_.value.code)
        == f"error: {mlp} holds the model MLP, not TransferCNN: pass a checkpoint of a run of TransferCNN"
    )


def test_init_from_a_run_folder_takes_its_one_last_checkpoint_and_says_which(phase_1, tmp_path, caplog):
    model = TransferCNN(num_classes=5)
    with caplog.at_level(logging.INFO):
        model.initialise_from(phase_1.parents[1])  # the run's default_root_dir
    assert torch.equal(model.net.head[0].weight, weights(phase_1)["net.head.0.weight"])
    assert f"TransferCNN: weights from {phase_1} (" in caplog.text
    (tmp_path / "a" / "checkpoints").mkdir(parents=True)
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    for run in ("a", "b"):
        (tmp_path / run / "checkpoints" / "last.ckpt").write_bytes(phase_1.read_bytes())
    with pytest.raises(
        ZooError, match=r"holds 2 runs' checkpoints/last.ckpt \(.*a/checkpoints/last.ckpt, .*: pass one"
    ):
        model.initialise_from(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZooError, match=r"empty is a folder that holds no checkpoints/last.ckpt: pass a checkpoint"):
        model.initialise_from(tmp_path / "empty")
    best = tmp_path / "best" / "checkpoints" / "epoch=3-step=40.ckpt"  # a ModelCheckpoint without save_last
    best.parent.mkdir(parents=True)
    best.write_bytes(phase_1.read_bytes())
    with pytest.raises(ZooError, match=rf"holds no checkpoints/last.ckpt: pass a checkpoint file \(it holds {best}\)"):
        model.initialise_from(tmp_path / "best")


def test_init_from_a_model_of_other_sizes_names_the_misfit(phase_1):
    model = TransferCNN(num_classes=5, dense_units=64, init_from=str(phase_1))
    with pytest.raises(
        ZooError,
        match=r"weights do not fit this TransferCNN \(3 of 8 tensors missing or of another shape, e.g. \['net.head.0",
    ):
        model.initialise_from(phase_1)


def test_cifar10_reads_the_archive_and_the_unpacked_folder_alike(tmp_path):
    from datamodules import CIFAR10DataModule
    from tests.helpers.cifar import write_cifar10

    packed, unpacked = write_cifar10(tmp_path / "a"), write_cifar10(tmp_path / "b", unpack=True)
    (unpacked / "cifar-10-python.tar.gz").unlink()  # only the folder is left
    splits = []
    for root in (packed, unpacked):
        dm = CIFAR10DataModule(data_dir=str(root), download=False)
        dm.setup("fit")
        splits.append(dm.splits)
    for split in ("train", "test"):
        (x, y), (x2, y2) = splits[0][split].tensors, splits[1][split].tensors
        assert x.shape == ((100 if split == "train" else 20), 3, 32, 32) and torch.equal(x, x2) and torch.equal(y, y2)
    assert 0 <= x.min() and x.max() == 1.0 and splits[0]["val"] is splits[0]["test"]


def test_cifar10_offline_or_damaged_ends_with_what_to_do(tmp_path):
    from datamodules import CIFAR10DataModule, DatasetUnavailableError
    from tests.helpers.cifar import write_cifar10

    with pytest.raises(
        DatasetUnavailableError, match=r"cifar-10-python.tar.gz  \(md5 c58f30108f718f92721af3b95e74349a"
    ):
        CIFAR10DataModule(data_dir=str(tmp_path / "none"), download=False).prepare_data()
    archive = write_cifar10(tmp_path / "cut") / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DatasetUnavailableError, match="is not a complete CIFAR-10 archive .* delete it and run again"):
        CIFAR10DataModule(data_dir=str(archive.parent), download=False).setup("fit")


def test_cifar10_augmentation_shifts_and_flips_training_images_only(data_root):
    from datamodules import CIFAR10DataModule

    dm = CIFAR10DataModule(data_dir=str(data_root), batch_size=100)
    dm.setup("fit")
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(0)
    [(x, y)] = list(loader)
    plain, labels = dm.splits["train"].tensors
    order = loader.sampler.__iter__().__next__()[1]
    assert torch.equal(y, labels[order]) and not torch.equal(x, plain[order])
    assert torch.equal(next(iter(dm.test_dataloader()))[0], dm.splits["test"].tensors[0][:100])


def test_keras_decay_divides_the_learning_rate_by_one_plus_decay_times_batches():
    from lightning_zoo.classification import Cifar10ConvNet

    scheduled = Cifar10ConvNet(num_classes=10, decay=0.01).configure_optimizers()
    optimizer, schedule = scheduled["optimizer"], scheduled["lr_scheduler"]["scheduler"]
    for _ in range(50):
        optimizer.step()
        schedule.step()
    assert scheduled["lr_scheduler"]["interval"] == "step"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 / (1 + 0.01 * 50))


def cats_and_dogs_features(data_root: Path, **kwargs):
    from datamodules import CatsAndDogsSmallDataModule, VGG16FeaturesDataModule

    images = CatsAndDogsSmallDataModule(data_dir=str(data_root), image_size=48)
    return VGG16FeaturesDataModule(images, **kwargs)


def test_cached_vgg16_features_equal_features_computed_on_the_fly(data_root):
    from lightning_zoo.classification import VGG16Transfer

    dm = cats_and_dogs_features(data_root)
    dm.setup("fit")
    model = VGG16Transfer(input_shape=(3, 48, 48), num_classes=2)
    model.load_initial_weights()  # the same (test) ImageNet file the features were made with
    images, labels = next(iter(dm.images.loader(dm.images.splits["test"])))
    cached, cached_labels = dm.splits["test"].tensors
    with torch.inference_mode():
        on_the_fly = model.net.base(model.net.normalize(images.float())).flatten(1)
    assert dm.input_shape == (512,) and cached.shape == (6, 512)
    torch.testing.assert_close(cached[: len(images)], on_the_fly, rtol=1e-5, atol=1e-5)
    assert torch.equal(cached_labels[: len(labels)], labels)


def test_vgg16_features_are_computed_once_and_recomputed_for_other_images(data_root, tmp_path, monkeypatch):
    from datamodules.vision.vgg16_features import VGG16FeaturesDataModule

    cats_and_dogs_features(data_root, cache_dir=str(tmp_path / "cache")).setup("fit")
    assert len(list((tmp_path / "cache").glob("vgg16_*.pt"))) == 1

    def no_extraction(self, split):
        raise AssertionError("the cached features were computed again")

    monkeypatch.setattr(VGG16FeaturesDataModule, "_extract", no_extraction)
    again = cats_and_dogs_features(data_root, cache_dir=str(tmp_path / "cache"))
    again.setup("fit")
    assert len(again.splits["train"]) == 12
    other = cats_and_dogs_features(data_root, cache_dir=str(tmp_path / "cache"), imagenet_normalize=False)
    with pytest.raises(AssertionError, match="computed again"):
        other.setup("fit")
    renamed = tmp_path / "renamed"
    shutil.copytree(data_root / "cats_and_dogs_small", renamed / "cats_and_dogs_small")
    (renamed / "cats_and_dogs_small/train/cats/cat.0.jpg").rename(renamed / "cats_and_dogs_small/train/cats/cat.99.jpg")
    with pytest.raises(AssertionError, match="computed again"):
        cats_and_dogs_features(renamed, cache_dir=str(tmp_path / "cache")).setup("fit")


def test_fine_tuning_trains_block_5_and_the_head_only_and_the_frozen_base_stays_bitwise(data_root, tmp_path):
    from datamodules import CatsAndDogsSmallDataModule
    from lightning_zoo.classification import VGG16Transfer

    model = VGG16Transfer(input_shape=(3, 48, 48), num_classes=2, trainable_from="block5_conv1", weights=None)
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trained == {f"net.base.{i}.{k}" for i in (24, 26, 28) for k in ("weight", "bias")} | {
        "net.head.1.weight", "net.head.1.bias", "net.head.3.weight", "net.head.3.bias",
    }  # fmt: skip
    [group] = model.configure_optimizers().param_groups
    assert len(group["params"]) == len(trained)
    dm = CatsAndDogsSmallDataModule(data_dir=str(data_root), image_size=48, batch_size=4)
    # As the book: from a trained head (an untrained one's gradients would wreck the base), so from the frozen run
    with pytest.raises(ZooError, match=r"fine-tuning \(trainable_from\) starts from the frozen-base run's trained"):
        trainer(tmp_path / "unstarted", max_steps=1, limit_val_batches=0).fit(model, dm)
    frozen = VGG16Transfer(input_shape=(3, 48, 48), num_classes=2, weights=None)
    first = trainer(tmp_path / "frozen", max_steps=1, limit_val_batches=0)
    first.fit(frozen, dm)
    first.save_checkpoint(tmp_path / "frozen.ckpt")
    before = state_of(frozen)
    model = VGG16Transfer(input_shape=(3, 48, 48), num_classes=2, trainable_from="block5_conv1", weights=None,
                          init_from=str(tmp_path / "frozen.ckpt"))  # fmt: skip
    trainer(tmp_path, max_steps=3, limit_val_batches=0).fit(model, dm)
    after = state_of(model)
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved == trained and all(
        k.startswith(("net.base.24", "net.base.26", "net.base.28", "net.head")) for k in moved
    )


def test_vgg16_weights_missing_offline_say_which_file_goes_where(tmp_path, monkeypatch):
    import urllib.error

    from lightning_zoo.classification import VGG16Transfer
    from lightning_zoo.pretrained import keras_vgg16_layer

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "urlopen", offline)  # the download goes through torch.hub
    model = VGG16Transfer(input_shape=(3, 48, 48), num_classes=2)  # building it needs no weights
    with pytest.raises(ZooError) as error:
        model.load_initial_weights()
    message = str(error.value)
    assert "put vgg16-397923af.pth (from https://download.pytorch.org/models/vgg16-397923af.pth) at " in message
    assert str(tmp_path / "empty" / "hub" / "checkpoints" / "vgg16-397923af.pth") in message and "\n" not in message
    assert not list((tmp_path / "empty" / "hub" / "checkpoints").iterdir())  # no partial file left
    with pytest.raises(ValueError, match="VGG16 has no layer 'block6_conv1'; its layers are block1_conv1, "):
        keras_vgg16_layer("block6_conv1")


def test_the_transfer_examples_adadelta_has_keras_2_0s_epsilon_and_sgd_refuses_one():
    assert TransferCNN(num_classes=5).configure_optimizers().defaults["eps"] == 1e-8  # the pinned code's Keras
    assert TransferCNN(num_classes=5, eps=1e-6).configure_optimizers().defaults["eps"] == 1e-6
    with pytest.raises(ValueError, match="sgd has none"):
        TransferCNN(num_classes=5, optimizer="sgd", eps=1e-8)


def test_the_imagenet_normalisation_is_torchvisions_for_the_vgg16_weights():
    """The statistics the pretrained VGG16 was trained on, as torchvision's weights enum states them (no download)."""
    import torchvision
    from torchvision.transforms.functional import normalize

    from lightning_zoo.pretrained import ImageNetNormalize

    reference = torchvision.models.VGG16_Weights.IMAGENET1K_V1.transforms()
    images = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(ImageNetNormalize()(images), normalize(images, reference.mean, reference.std))


def test_vgg16_features_of_other_images_or_weights_are_refused_by_name(data_root):
    """The images' options travel under their own names (``--data.images.image_size``), with the weights' kind and
    normalisation; where the ImageNet file lies may differ."""
    saved = cats_and_dogs_features(data_root).state_dict()
    assert saved["sample_options"] == {"images.image_size": 48, "images.resize": "squash",
                                       "images.value_range": [0.0, 1.0], "weights": "imagenet",
                                       "imagenet_normalize": True}  # fmt: skip
    assert saved["images"]["classes"] == ["cats", "dogs"]  # the images' own state, checked by them
    swapped = ImageFolderDataModule(str(data_root / "cats_and_dogs_small"), image_size=48, resize="squash",
                                    classes=["dogs", "cats"])  # fmt: skip
    with pytest.raises(DataError, match=r'learnt the classes \["cats", "dogs"\] in that label order'):
        VGG16FeaturesDataModule(swapped).load_state_dict(saved)
    cats_and_dogs_features(data_root, weights="/elsewhere/vgg16-397923af.pth").load_state_dict(saved)
    with pytest.raises(DataError, match=r"^the checkpoint's features were made with --data.weights \"imagenet\" "
                                        r"\(here null\), --data.imagenet_normalize true \(here false\)"):  # fmt: skip
        cats_and_dogs_features(data_root, weights=None, imagenet_normalize=False).load_state_dict(saved)
    other_size = VGG16FeaturesDataModule(CatsAndDogsSmallDataModule(data_dir=str(data_root), image_size=64))
    with pytest.raises(DataError, match=r"--data.images.image_size 48 \(here 64\)"):
        other_size.load_state_dict(saved)


def test_vgg16_features_refuse_a_predict_folder_they_cannot_read(data_root, tmp_path):
    images = CatsAndDogsSmallDataModule(data_dir=str(data_root), image_size=48, predict_folder=str(tmp_path))
    with pytest.raises(DataError, match="new images .--data.images.predict_folder. are classified by a model that"):
        VGG16FeaturesDataModule(images, weights=None).setup("predict")


def test_a_vgg16_features_run_is_tested_without_a_false_warning_and_refuses_new_images_before_extracting(
    data_root, tmp_path
):
    """The images' DataModule inside the features' has no state of its own in the checkpoint (the features' holds
    it): no "learnt from another DataModule" warning. A predict folder is refused before any image is read."""
    config = str(ROOT / "configs/classification/vgg16_features_cats_and_dogs.yaml")
    common = ["--config", config, "--data.images.data_dir", str(data_root), "--data.images.image_size", "48",
              "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    main(["fit", *common, "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path / "run")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["test", *common, "--ckpt_path", str(tmp_path / "run")])
    assert not [w for w in caught if "learnt from" in str(w.message)]
    with pytest.raises(SystemExit) as exit_:
        main(["predict", *common, "--data.images.data_dir", str(tmp_path / "no_subset"),
              "--data.images.predict_folder", str(tmp_path), "--ckpt_path", str(tmp_path / "run")])  # fmt: skip
    assert "are classified by a model that reads images" in str(exit_.value.code)


@pytest.mark.parametrize("val_size, said", [(0, True), (20, False)])
def test_cifar10_says_when_the_test_set_validates(data_root, caplog, val_size, said):
    """As MNIST and IMDB say it: the books' val_size 0 validates on the test set (CIFAR-10 did so in silence)."""
    from datamodules import CIFAR10DataModule

    with caplog.at_level(logging.INFO):
        CIFAR10DataModule(data_dir=str(data_root), val_size=val_size).setup("fit")
    assert ("CIFAR-10: val_size=0, so validation runs on the test set" in caplog.text) == said
