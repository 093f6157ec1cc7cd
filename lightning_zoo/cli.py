"""The zoo's LightningCLI: any model with any DataModule, W&B logging, checkpoints and sizes linked from the data."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from jsonargparse import lazy_instance
from pytorch_lightning.callbacks import (
    BasePredictionWriter,
    Callback,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
)
from pytorch_lightning.cli import ArgsType, LightningArgumentParser, LightningCLI
from pytorch_lightning.utilities.model_helpers import is_overridden

import datamodules  # noqa: F401  (imported so that --data accepts short class names)
import lightning_zoo.classification  # noqa: F401  (likewise for --model)
import lightning_zoo.gan  # noqa: F401
from datamodules.base import DataError
from lightning_zoo.callbacks import PredictionWriter, ZooModelCheckpoint
from lightning_zoo.core import ZooError, ZooModule
from lightning_zoo.loggers import ConfigToLoggers, ZooWandbLogger

# Sizes that only the data knows, passed to any model whose constructor takes an argument of the same name.
DATA_SIZES = ("num_classes", "input_shape")

# Warnings that are only noise here:
warnings.filterwarnings("ignore", ".*does not have many workers.*")  # in-memory DataModules need none
warnings.filterwarnings("ignore", ".*LearningRateMonitor.*no learning rate schedulers.*")
warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")  # Lightning 2.6 on torch 2.14, harmless
warnings.filterwarnings("ignore", ".*infer the batch indices.*")  # our writers need none
warnings.filterwarnings("ignore", ".*val_dataloader. but have no .validation_step.*")  # GANs validate nothing (yet)


def default_callbacks(trainer_config: dict[str, Any], subcommand: str | None) -> list[Callback]:
    """Checkpointing, learning-rate monitor, rich progress bar and, for predict, the prediction writer, each
    unless the config turns that feature off or brings its own callback of that kind."""
    given = trainer_config.get("callbacks") or []
    given = given if isinstance(given, list) else [given]

    def has(kind: type) -> bool:
        return any(isinstance(c, kind) for c in given)

    callbacks: list[Callback] = []
    if trainer_config.get("enable_checkpointing", True) is not False and not has(ModelCheckpoint):
        callbacks.append(ZooModelCheckpoint())
    if trainer_config.get("logger") is not False and not has(LearningRateMonitor):
        callbacks.append(LearningRateMonitor())
    if trainer_config.get("enable_progress_bar", True) is not False and not has(ProgressBar):
        callbacks.append(RichProgressBar())
    if subcommand == "predict" and not has(BasePredictionWriter):
        callbacks.append(PredictionWriter())
    return callbacks


class ZooCLI(LightningCLI):
    """``python cli.py {fit,validate,test,predict} --config configs/<family>/<model>_<dataset>.yaml``."""

    def __init__(self, args: ArgsType = None, run: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("trainer_defaults", {"logger": lazy_instance(ZooWandbLogger)})
        kwargs.setdefault("seed_everything_default", 0)
        super().__init__(
            ZooModule,
            pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=ConfigToLoggers,
            save_config_kwargs={"save_to_log_dir": False},
            auto_configure_optimizers=False,  # every model configures its own (a GAN has two)
            args=args,
            run=run,
            **kwargs,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for size in DATA_SIZES:
            parser.link_arguments(f"data.{size}", f"model.init_args.{size}", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Lightning would rebuild the model from the checkpoint's hyperparameters, silently overriding the config and
        the command line (even the model class). Here the config decides and the checkpoint supplies the weights;
        ``ZooModule.on_load_checkpoint`` explains any mismatch. A path that is no file ends here, with one line."""
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        special = path in ("last", "best", "hpc", "registry") or "://" in str(path)  # Lightning resolves these itself
        if path is not None and not special and not Path(path).is_file():
            raise ZooError(f"--ckpt_path {path}: no such checkpoint file")

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:
            # A constructor refused an argument (a DCGAN given 28x28 images, dropout 1.5): the config's fault, not a
            # bug. jsonargparse buries the constructor's message in a union-validation report; show it alone.
            root: BaseException = err
            while root.__cause__ is not None:
                root = root.__cause__
            raise ZooError(f"invalid configuration: {root}") from err

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        self.trainer_defaults["callbacks"] = default_callbacks(config.get("trainer", {}), self.subcommand)
        return super().instantiate_trainer(**kwargs)

    def predict(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, **kwargs: Any):
        # A model that brings its own prediction inputs (a GAN's noise) is not fed the DataModule's samples.
        if is_overridden("predict_dataloader", model):
            datamodule = None
        return self.trainer.predict(model, datamodule=datamodule, **kwargs)


def main(args: ArgsType = None) -> None:
    """Runs the CLI; errors a user can fix end with their message alone, not a traceback."""
    try:
        ZooCLI(args=args)
    except (ZooError, DataError) as err:
        sys.exit(f"error: {err}")


__all__ = ["ZooCLI", "ZooWandbLogger", "main"]
