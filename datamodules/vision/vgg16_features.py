"""Features of VGG16's convolutional base, computed once over the images of another DataModule and cached on disk:
"fast feature extraction" of "Deep Learning with Python" (1st ed., 5.3)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor

from datamodules.base import DataError, InMemoryDataModule, TensorBatchDataset
from datamodules.vision.image_folder import ImageFolderDataModule
from lightning_zoo.files import atomic_path
from lightning_zoo.pretrained import ImageNetNormalize, imagenet_weights_path, vgg16_conv_base


class VGG16FeaturesDataModule(InMemoryDataModule):
    """The flattened output of VGG16's conv base (4 x 4 x 512 = 8,192 values for 150x150 photos) for every image of
    ``images``, with its label. No augmentation (whatever ``images`` would do in training): each image passes through
    the base once.

    Features are computed on the CPU (or the trainer's GPU) in ``prepare_data``, or in ``setup`` when that did not
    run, and cached in ``cache_dir`` under a key of the weights file, the image size and every image file's name and
    size, so that a changed folder or other weights never reuse stale features.

    Args:
        images: The DataModule of the images (its splits become these splits).
        weights: ``imagenet`` (torchvision's file in the torch hub cache, downloaded once), a path to it, or None
            (random weights, seeded: tests).
        imagenet_normalize: Normalise [0, 1] images with ImageNet's statistics first.
        cache_dir: Where the features are kept; default ``~/.cache/lightning-zoo/vgg16_features`` (or under
            ``$XDG_CACHE_HOME``), apart from the data, which may be a read-only copy.
        batch_size: Feature vectors per training batch (20 in the book).
        extract_batch_size: Images per pass through the base.
    """

    data_sizes = ("num_classes", "input_shape")

    def __init__(
        self,
        images: ImageFolderDataModule,
        weights: str | None = "imagenet",
        imagenet_normalize: bool = True,
        cache_dir: str | None = None,
        batch_size: int = 20,
        extract_batch_size: int = 32,
    ) -> None:
        super().__init__(batch_size)
        self.save_hyperparameters(ignore=["images"])
        self.images, self.weights, self.imagenet_normalize = images, weights, imagenet_normalize
        cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.cache_dir = Path(cache_dir) if cache_dir else cache_home / "lightning-zoo" / "vgg16_features"
        self.extract_batch_size = extract_batch_size

    sample_options_made = "features were made"

    def sample_options(self) -> dict[str, Any]:
        """The images' options and how they became features: ImageNet's weights (from wherever the file lies) or
        random ones, normalised or not."""
        images = {f"images.{name}": value for name, value in self.images.sample_options().items()}
        weights = None if self.weights is None else "imagenet"
        return {**images, "weights": weights, "imagenet_normalize": self.imagenet_normalize}

    # The images' own state travels too (a labelled folder's classes, in label order), checked by the images.
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "images": self.images.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state.get("images"):
            self.images.load_state_dict(state["images"])

    @property
    def num_classes(self) -> int:
        return self.images.num_classes

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return self.images.class_names

    @property
    def input_shape(self) -> tuple[int]:
        _, height, width = self.images.input_shape
        for _ in range(5):  # five 2x2 poolings, rounding down
            height, width = height // 2, width // 2
        return (512 * height * width,)

    def prepare_data(self) -> None:
        self._refuse_new_images(self.trainer_fn)
        self.images.prepare_data()
        self._features()

    def setup(self, stage: str) -> None:
        self._refuse_new_images(stage)
        if not self.splits:
            features = self._features()
            held_out = [features[s] for s in ("val", "test") if s in features]
            if not held_out:
                raise DataError(f"{self.images.folder} has no validation or test images to evaluate the head on")
            self.splits.update(train=features["train"], val=held_out[0], test=held_out[-1], predict=held_out[-1])

    def _refuse_new_images(self, stage: str | None) -> None:
        """Before any image is read (prepare_data runs first, and would compute the folder's features)."""
        if stage == "predict" and getattr(self.images, "predict_folder", None) is not None:
            raise DataError(
                "VGG16 features are computed for the folder's own splits; new images (--data.images.predict_folder) "
                "are classified by a model that reads images: configs/classification/vgg16_frozen_cats_and_dogs.yaml"
            )

    def _cache_key(self) -> str:
        """A digest of everything the features depend on: the weights file, how images become tensors, and every
        image's file (path below the folder, size) and label."""
        digest = hashlib.sha1()
        weights = "random" if self.weights is None else imagenet_weights_path(self.weights)
        stamp = "random" if self.weights is None else f"{weights.name}:{weights.stat().st_size}"
        images = self.images
        digest.update(
            f"{stamp}|{self.imagenet_normalize}|{images.input_shape}|{images.resize}|{images.value_range}|"
            f"{images.classes}".encode()
        )
        for split in ("train", "val", "test"):
            data = images.splits.get(split)
            for path, label in zip(data.paths if data else [], data.labels.tolist() if data else [], strict=True):
                digest.update(f"{split}|{path.relative_to(images.folder)}|{path.stat().st_size}|{label}".encode())
        return digest.hexdigest()[:16]

    def _features(self) -> dict[str, TensorBatchDataset]:
        self.images.setup("fit")
        splits = [s for s in ("train", "val", "test") if s in self.images.splits]
        path = self.cache_dir / f"vgg16_{self._cache_key()}.pt"
        if path.is_file():
            cached = torch.load(path, map_location="cpu", weights_only=True)
        else:
            rank_zero_info(f"VGG16 features of {self.images.folder}: computing once, cached in {path}")
            cached = {split: self._extract(split) for split in splits}
            with atomic_path(path) as partial:
                torch.save(cached, partial)
        return {split: TensorBatchDataset(*cached[split]) for split in splits}

    @torch.inference_mode()
    def _extract(self, split: str) -> tuple[Tensor, Tensor]:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # random weights (weights=None) are the same every time
            base = vgg16_conv_base(self.weights).eval().to(device)
        normalize = ImageNetNormalize().to(device) if self.imagenet_normalize else torch.nn.Identity()
        images, batch_size = self.images, self.images.batch_size
        images.batch_size = self.extract_batch_size
        try:
            loader = images.eval_loader(split)  # in order, no augmentation
            features, labels = [], []
            for x, y in loader:
                features.append(base(normalize(x.to(device))).flatten(1).cpu())
                labels.append(y)
        finally:
            images.batch_size = batch_size
        return torch.cat(features), torch.cat(labels)
