"""The zoo's LightningCLI: any model with any DataModule, W&B logging, checkpoints and sizes linked from the data."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml
from jsonargparse import Namespace, lazy_instance
from pytorch_lightning.callbacks import (
    BasePredictionWriter,
    Callback,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
)
from pytorch_lightning.cli import ArgsType, LightningArgumentParser, LightningCLI
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from pytorch_lightning.utilities.exceptions import MisconfigurationException
from pytorch_lightning.utilities.model_helpers import is_overridden

import datamodules  # noqa: F401  (imported so that --data accepts short class names)
from datamodules.base import DataError, ZooDataModule
from lightning_zoo.callbacks import PredictionWriter, ZooModelCheckpoint, ZooProgressBar
from lightning_zoo.cards import markdown_table, plain_table, readme_with_table
from lightning_zoo.core import (
    ZooError,
    ZooModule,
    checkpoint_model_name,
    comparable,
    read_checkpoint,
    run_checkpoint,
)
from lightning_zoo.files import atomic_path
from lightning_zoo.loggers import LOG_DIR, ConfigToLoggers, ZooWandbLogger
from lightning_zoo.media import checkpoint_run_folder
from lightning_zoo.registry import cards, import_models

import_models()  # every model registers itself, so --model accepts short class names

# Warnings that are only noise here:
warnings.filterwarnings("ignore", ".*does not have many workers.*")  # in-memory DataModules need none
warnings.filterwarnings("ignore", ".*LearningRateMonitor.*no learning rate schedulers.*")
warnings.filterwarnings("ignore", ".*isinstance.treespec, LeafSpec.*")  # Lightning 2.6 on torch 2.14, harmless
warnings.filterwarnings("ignore", ".*infer the batch indices.*")  # our writers need none
warnings.filterwarnings("ignore", ".*val_dataloader. but have no .validation_step.*")  # GANs validate nothing (yet)
warnings.filterwarnings("ignore", ".*add_instantiator. was deprecated.*")  # Lightning 2.6 calls it too
warnings.filterwarnings("ignore", ".*Total length of .list. across ranks is zero.*")  # no validation split (the books')
# Epoch values are torchmetrics states synced by compute() (ZooModule._log_and_reset): logging them needs no sync_dist.
warnings.filterwarnings("ignore", ".*It is recommended to use .self.log.*sync_dist=True.*")


def data_sizes() -> list[str]:
    """Every size some imported DataModule provides (``data_sizes``), in a stable order: the zoo's, and those of any
    DataModule imported before the parser is built."""
    names: list[str] = []
    pending = [ZooDataModule]
    while pending:
        cls = pending.pop()
        names += [name for name in cls.data_sizes if name not in names]
        pending += cls.__subclasses__()
    return sorted(names)


def as_list(value: Any) -> list[Any]:
    if value is None or value is False or value is True:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def default_callbacks(
    trainer_config: dict[str, Any], subcommand: str | None, model: Any = None, also_given: Sequence[Callback] = ()
) -> list[Callback]:
    """Checkpointing, learning-rate monitor, progress bar, the model family's own callbacks (a GAN's sample grid)
    and, for predict, the prediction writer: each unless the config turns that feature off or brings its own
    callback of that kind (``also_given``: callbacks from elsewhere, a Python caller's ``trainer_defaults``). Added
    here, not in the configs, so that a second ``--config`` with callbacks of its own cannot silently drop them."""
    given = [*as_list(trainer_config.get("callbacks")), *also_given]

    def has(kind: type) -> bool:
        return any(isinstance(c, kind) for c in given)

    callbacks: list[Callback] = []
    if trainer_config.get("enable_checkpointing", True) is not False and not has(ModelCheckpoint):
        callbacks.append(ZooModelCheckpoint())
    if trainer_config.get("logger") is not False and not has(LearningRateMonitor):
        callbacks.append(LearningRateMonitor())
    if trainer_config.get("enable_progress_bar", True) is not False and not has(ProgressBar):
        callbacks.append(ZooProgressBar())
    if subcommand in (None, "fit") and isinstance(model, ZooModule):  # None: built with run=False, to fit
        # The exact kind: an InterpolationGrid (a SampleGrid subclass) adds its rows, it does not replace the grid.
        given_kinds = {type(c) for c in given}
        callbacks += [c for c in model.family_callbacks() if type(c) not in given_kinds]
    if subcommand == "predict" and not has(BasePredictionWriter):
        callbacks.append(PredictionWriter())
    return callbacks


def place_loggers(trainer_config: Namespace) -> None:
    """With ``--trainer.default_root_dir DIR``, loggers whose ``save_dir`` is the zoo's default (``logs``, which
    jsonargparse also carries over to another logger class given on the command line) write under ``DIR``, and so
    do the checkpoints, which Lightning puts in the first logger's run folder."""
    root = trainer_config.get("default_root_dir")
    for logger in as_list(trainer_config.get("logger")) if root else []:
        init_args = logger.get("init_args") if isinstance(logger, Namespace) else None
        if init_args is not None and init_args.get("save_dir") == LOG_DIR:
            init_args["save_dir"] = str(root)


# Options of free text. jsonargparse reads every value as YAML first: one text such as "#1 film" (a comment, so null)
# left predict on the test set in silence, "- not good" lost its dash and "great: really" was a mapping.
TEXT_OPTIONS = ("--data.predict_text", "--data.init_args.predict_text")


def literal_texts(argv: Sequence[str]) -> list[str]:
    """``argv`` with each single text of a :data:`TEXT_OPTIONS` option made a JSON list of it, so that it is read as
    it is; a list in brackets (``'["a", "b"]'``) stays a list."""

    def is_list(value: str) -> bool:
        try:
            return value.lstrip().startswith("[") and isinstance(yaml.safe_load(value), list)
        except yaml.YAMLError:  # "[spoiler] what a film": one text, but '["a", "b"' a list cut short
            if value.lstrip().startswith(('["', "['")):
                unclosed = f"--data.predict_text {value}: a list of texts is not closed (a missing ] or quote?)"
                raise ZooError(unclosed) from None
            return False

    out = list(argv)
    for i, arg in enumerate(out):
        name, equals, value = arg.partition("=")
        if name not in TEXT_OPTIONS:
            continue
        if equals and not is_list(value):
            out[i] = f"{name}={json.dumps([value])}"
        elif not equals and i + 1 < len(out) and not out[i + 1].startswith("--") and not is_list(out[i + 1]):
            out[i + 1] = json.dumps([out[i + 1]])
    return out


def refuse_without_step(model: pl.LightningModule, step: str, subcommand: str) -> None:
    """A model without the step a subcommand runs ends with what it offers instead (Lightning: "No `test_step()`
    method defined"), its ``without_evaluation`` hint."""
    if not is_overridden(step, model):
        hint = getattr(model, "without_evaluation", None)
        raise ZooError(f"{type(model).__name__} has no {step}: nothing to {subcommand}" + (f"; {hint}" if hint else ""))


def refuse_overridden_sizes(model: pl.LightningModule, given: dict[str, Any]) -> None:
    """A size the data decides (``num_classes``, ``vocab_size`` ...), given another value as a model option: the
    link replaced it in silence (``--model.num_classes 3`` trained ten classes). The model's own default is no one's
    choice, so it passes, whatever the data decide."""
    hparams = getattr(model, "hparams", {})
    for size, value in given.items():
        decided = comparable(hparams.get(size))
        chosen = comparable(value) != comparable(signature_default(type(model), size))
        if size in hparams and chosen and comparable(value) != decided:
            raise ZooError(
                f"the model's {size} {json.dumps(comparable(value))} (--model.{size} or a config): the data decide "
                f"it ({json.dumps(decided)} here, linked from data.{size}): leave it out"
            )


def signature_default(model_class: type, name: str) -> Any:
    """The default of the argument ``name`` of ``model_class``, from the first ``__init__`` in its MRO that declares
    it (a subclass passes it on in ``**kwargs``); ``inspect.Parameter.empty`` where none does."""
    for cls in model_class.__mro__:
        init = cls.__dict__.get("__init__")
        parameter = inspect.signature(init).parameters.get(name) if init is not None else None
        if parameter is not None:
            return parameter.default
    return inspect.Parameter.empty


def configured_model_class(config: Namespace) -> type | None:
    """The model class a subcommand's config names (``model.class_path``), None if it names none."""
    class_path = (config.get("model") or Namespace()).get("class_path")
    if not class_path:
        return None
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name, None)


def refuse_untrained(model: pl.LightningModule | None, subcommand: str, ckpt_path: str | None) -> None:
    """``validate``, ``test`` or ``predict`` without ``--ckpt_path`` would use freshly initialised weights; a model
    with nothing to learn (a baseline) needs no checkpoint. ``model`` None: refused without looking."""
    if ckpt_path is None and (model is None or getattr(model, "learns", False)):
        predict = subcommand == "predict"
        raise ZooError(
            f"{subcommand} without --ckpt_path would {'use' if predict else 'score'} untrained weights: pass the "
            "checkpoint of a trained run, e.g. --ckpt_path logs/lightning-zoo/<run> (a run's folder stands for its "
            "checkpoints/last.ckpt" + ("; the output goes beside that run)" if predict else ")")
        )


def refuse_automatic_options(model: pl.LightningModule, trainer: pl.Trainer) -> None:
    """Trainer options of automatic optimisation, for a model that steps its optimizers itself (a GAN): Lightning's
    refusal says to switch to automatic optimisation, which a zoo user cannot."""
    given = [f"--trainer.{name} {value}" for name, value, unset in (
        ("accumulate_grad_batches", trainer.accumulate_grad_batches, 1),
        ("gradient_clip_val", trainer.gradient_clip_val, None),
    ) if value not in (unset, 0)]  # fmt: skip
    if given and not model.automatic_optimization:
        raise ZooError(
            f"{type(model).__name__} steps its optimizers itself (manual optimisation, as a GAN's generator and "
            f"discriminator take turns): {' and '.join(given)} {'are' if len(given) > 1 else 'is'} for automatic "
            "optimisation only"
        )


def refuse_finished(checkpoint: dict[str, Any], path: str, trainer_config: Namespace) -> None:
    """A fit resumed from a checkpoint that has reached ``max_epochs`` or ``max_steps`` already: Lightning restores
    it, trains nothing and writes the run's config again; refused here, naming the limit to raise."""
    epochs = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
    epochs, steps = epochs.get("processed"), checkpoint.get("global_step")
    max_epochs, max_steps = trainer_config.get("max_epochs"), trainer_config.get("max_steps")
    if epochs is not None and max_epochs is not None and 0 <= max_epochs <= epochs:
        limit = f"--trainer.max_epochs {max_epochs}"
    elif steps is not None and max_steps is not None and 0 <= max_steps <= steps:
        limit = f"--trainer.max_steps {max_steps}"
    else:
        return
    raise ZooError(
        f"--ckpt_path {path} has trained {epochs} epoch(s), {steps} step(s): {limit} leaves nothing to train; raise "
        "it to go on"
    )


def requeued_run(trainer_config: Namespace) -> Path | None:
    """On SLURM, the run folder of the HPC checkpoint Lightning resumes a requeued job from (``hpc_ckpt_N.ckpt`` in
    ``default_root_dir``, the newest; it records the folder of the run that wrote it), so that the job goes on as that
    run; None elsewhere, or without one."""
    if not SLURMEnvironment.detect():
        return None
    root = Path(trainer_config.get("default_root_dir") or os.getcwd()).expanduser()  # as Lightning reads it
    numbered = [(int(p.stem.rpartition("_")[2]), p) for p in root.glob("hpc_ckpt_*.ckpt") if p.stem[9:].isdigit()]
    if not numbered:
        return None
    folder = read_checkpoint(max(numbered)[1]).get("zoo_run_folder")
    return Path(folder) if folder else None


def continue_run(trainer_config: Namespace, run: Path) -> Path | None:
    """A fit resumed from a checkpoint of a run folder ``run`` its first logger would lay out (W&B: ``<save_dir>/
    <project>/<id>``; TensorBoard, CSV: ``<save_dir>/<name>/<version>``) goes on in that folder, as that run: the logger
    takes its id or version (W&B resumes the run), unless one was given. Otherwise Lightning starts a new folder,
    leaves the best checkpoint behind in the old one and cannot carry over its ranking. Returns the folder, if so."""
    loggers = [logger for logger in as_list(trainer_config.get("logger")) if isinstance(logger, Namespace)]
    args = loggers[0].get("init_args") if loggers else None
    if args is None or args.get("save_dir") is None or args.get("version") is not None or args.get("id") is not None:
        return None
    wandb = "project" in args
    group = args.get("project") if wandb else args.get("name") or ""  # no name: <save_dir>/<version>
    if group is None or Path(os.path.abspath(args["save_dir"])) / group != run.parent:
        return None
    args["id" if wandb else "version"] = run.name
    if wandb and args.get("resume") is None:
        args["resume"] = "allow"
    return run


class ZooCLI(LightningCLI):
    """``python cli.py {fit,validate,test,predict} --config configs/<family>/<model>_<dataset>.yaml``; ``python
    cli.py list`` prints the zoo."""

    def __init__(self, args: ArgsType = None, run: bool = True, **kwargs: Any) -> None:
        # One device unless asked: Lightning's "auto" takes every GPU and DDP with them, which would change a book's
        # batch and schedule silently (the presets in configs/trainer/ ask for all GPUs).
        defaults = {"logger": lazy_instance(ZooWandbLogger), "devices": 1, **kwargs.get("trainer_defaults", {})}
        self._callers_callbacks = as_list(defaults.pop("callbacks", None))  # kept beside the zoo's defaults
        kwargs["trainer_defaults"] = defaults
        kwargs.setdefault("seed_everything_default", 0)
        kwargs.setdefault(
            "parser_kwargs",
            {
                "description": "Train, evaluate and sample the zoo's models. `list` prints the zoo.",
                "allow_abbrev": False,
            },
        )
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

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        if args is None or isinstance(args, list):
            self.config = parser.parse_args(literal_texts(sys.argv[1:] if args is None else args))
        else:
            super().parse_arguments(parser, args)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # A link whose DataModule lacks the size, or whose model takes no such argument, is skipped.
        for size in data_sizes():
            parser.link_arguments(f"data.{size}", f"model.init_args.{size}", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """Lightning would rebuild the model from the checkpoint's hyperparameters, silently overriding the config and
        the command line (even the model class). Here the config decides and the checkpoint supplies the weights;
        ``ZooModule.on_load_checkpoint`` explains any mismatch. A path that is no readable checkpoint, or a predict
        without one, ends here, with one line."""
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        path = self.config[subcommand].get("ckpt_path")
        if path is None and subcommand == "predict" and getattr(configured_model_class(self.config[subcommand]),
                                                                 "has_weights", True):  # fmt: skip
            refuse_untrained(None, "predict", None)  # before the data are read: a missing corpus would speak first
        if path in ("last", "best") and subcommand != "fit":
            # Lightning's names for the checkpoints of a fit run by the same Trainer: a new process has none, so
            # "last" went on with untrained weights after a warning, and "best" ended in a traceback
            raise ZooError(
                f"--ckpt_path {path} names a checkpoint of a fit in the same process, which a {subcommand} from the "
                "command line has not: pass the run's folder, e.g. --ckpt_path logs/lightning-zoo/<run> (its "
                "checkpoints/last.ckpt), or a checkpoint file"
            )
        # Lightning resolves these itself (the model registry: "registry" or "registry:<name>[:version:<v>]")
        registry = str(path).lower().partition(":")[0] == "registry"
        special = path in ("last", "best", "hpc") or registry or "://" in str(path)
        if path is not None and not special:
            try:
                path = self.config[subcommand]["ckpt_path"] = str(run_checkpoint(path))  # a run's folder: its last
                checkpoint = read_checkpoint(path)  # tensors mapped, not read: cheap even for large files
            except ZooError as err:
                raise ZooError(f"--ckpt_path {err}") from err
            self._checkpoint = (path, checkpoint)  # checked against the model once it is built
            model_name = getattr(configured_model_class(self.config[subcommand]), "model_name", None)
            if subcommand == "fit" and checkpoint_model_name(checkpoint) == model_name:  # (else refused as such)
                refuse_finished(checkpoint, path, self.config[subcommand].trainer)
            if subcommand != "fit":
                self._data_states = {k: v for k, v in checkpoint.items() if isinstance(v, dict) and k[:1].isupper()}

    _data_states: dict[str, Any] = {}
    _sizes_given: dict[str, Any] = {}
    _data_refusal: DataError | None = None
    _checkpoint: tuple[str, dict[str, Any]] | None = None

    def _data_with_checkpoint_state(
        self, class_type: type, *args: Any, applied_instantiation_links: dict | None = None, **kwargs: Any
    ) -> pl.LightningDataModule:
        """A DataModule built with the state a checkpoint saved for it (a vocabulary) already loaded, so that sizes
        linked into the model (``vocab_size``) come from it, and evaluating or predicting needs no corpus. Lightning
        loads the same state again later, which changes nothing."""
        datamodule = class_type(*args, **kwargs)
        state = self._data_states.get(class_type.__qualname__)
        if state:
            try:
                datamodule.load_state_dict(state)
            except DataError as refusal:  # raised with the model's own refusal, if any, so that one run names both
                self._data_refusal = refusal
        return datamodule

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        place_loggers(config.trainer)
        if config.trainer.get("accelerator") == "cpu" and str(config.trainer.get("devices")) == "-1":
            # ("every GPU" in the presets; Lightning's TypeError said only that it wants an int > 0)
            raise ZooError(
                f"--trainer.devices {config.trainer.devices} takes every GPU; on the CPU give the number of processes, "
                "e.g. --trainer.devices 2 (with a ddp strategy) or 1"
            )
        model_args = (config.get("model") or Namespace()).get("init_args") or Namespace()
        self._sizes_given = {size: model_args.get(size) for size in data_sizes() if model_args.get(size) is not None}
        if self.subcommand == "fit":
            # a --ckpt_path of a run folder, or the HPC checkpoint a requeued SLURM job resumes from
            source = checkpoint_run_folder(self._checkpoint[0]) if self._checkpoint else requeued_run(config.trainer)
            run = continue_run(config.trainer, source) if source is not None else None
            if run is not None:
                rank_zero_info(f"resuming in the checkpoint's run folder {run}: its checkpoints and logs go on there")
        if self._data_states:
            self.parser.add_instantiator(self._data_with_checkpoint_state, ZooDataModule, subclasses=True, prepend=True)

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
        refuse_overridden_sizes(self.model, self._sizes_given)
        data_refusal, self._data_refusal = self._data_refusal, None
        if self._checkpoint is not None and isinstance(self.model, ZooModule):
            # Here, before any logger starts a run or DDP launches processes, not when Lightning loads it in fit.
            path, checkpoint = self._checkpoint
            self._checkpoint = None
            try:
                self.model.check_checkpoint(checkpoint, path, getattr(type(self.datamodule), "data_sizes", ()))
            except ZooError as refusal:
                if data_refusal is None or checkpoint_model_name(checkpoint) not in (None, self.model.model_name):
                    raise  # another model's data options are beside the point
                raise ZooError(f"{data_refusal}; and {refusal}") from refusal
        if data_refusal is not None:
            raise data_refusal
        data_class = type(self.datamodule).__qualname__
        if self._data_states and data_class not in self._data_states:  # an out-of-distribution look: said, not refused
            rank_zero_warn(  # (after the checkpoint's model is checked: another model's data are beside the point)
                f"the checkpoint's model learnt from {next(iter(self._data_states))}'s data, these are {data_class}'s: "
                "the options that made its samples are not checked, and a classifier's predictions are named by "
                "these data's classes"
            )

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        defaults = default_callbacks(config.get("trainer", {}), self.subcommand, self.model, self._callers_callbacks)
        self.trainer_defaults["callbacks"] = [*self._callers_callbacks, *defaults]
        return super().instantiate_trainer(**kwargs)

    def fit(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, **kwargs: Any):
        if kwargs.get("ckpt_path") is None and isinstance(model, ZooModule):
            model.check_fit_from_scratch()  # before any logger starts a run or DDP launches processes
        refuse_automatic_options(model, self.trainer)
        try:
            return self.trainer.fit(model, datamodule=datamodule, **kwargs)
        except ValueError as err:
            if not raised_by_an_optimizer(err):
                raise
            raise ZooError(f"{err} ({optimizer_options(model)})") from err

    def validate(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, **kwargs: Any):
        refuse_without_step(model, "validation_step", "validate")
        refuse_untrained(model, "validate", kwargs.get("ckpt_path"))
        return self.trainer.validate(model, datamodule=datamodule, **kwargs)

    def test(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, **kwargs: Any):
        refuse_without_step(model, "test_step", "test")
        refuse_untrained(model, "test", kwargs.get("ckpt_path"))
        return self.trainer.test(model, datamodule=datamodule, **kwargs)

    def predict(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, **kwargs: Any):
        # A model that brings its own prediction inputs (a GAN's latent) is not fed the DataModule's samples.
        if is_overridden("predict_dataloader", model):
            datamodule = None
        return self.trainer.predict(model, datamodule=datamodule, **kwargs)


def list_zoo(args: list[str]) -> None:
    """``python cli.py list [NAME ...] [--markdown | --readme README.md]``: one row per number a card reports, the
    book's next to ours."""
    parser = argparse.ArgumentParser(prog="cli.py list", description=list_zoo.__doc__)
    parser.add_argument("names", nargs="*", help="only the cards whose name holds one of these (dcgan, imdb, ...)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--markdown", action="store_true", help="print the README's model table")
    output.add_argument("--readme", type=Path, help="write the model table into this README, between its markers")
    options = parser.parse_args(args)
    if options.readme is None:
        chosen = [card for card in cards() if not options.names or any(n in card.name for n in options.names)]
        if not chosen:
            raise ZooError(f"no card's name holds {' or '.join(options.names)}: `python cli.py list` shows them all")
        print((markdown_table if options.markdown else plain_table)(chosen), end="")
        return
    if options.names:
        parser.error("--readme writes the whole table: give no names")
    try:
        readme = options.readme.read_text(encoding="utf-8")
        with atomic_path(options.readme) as partial:  # an interrupted write leaves the README whole
            partial.write_text(readme_with_table(readme, markdown_table(cards())), encoding="utf-8")
    except (OSError, ValueError) as err:
        raise ZooError(f"{options.readme}: {err}") from err
    print(f"{options.readme}: model table regenerated")


def main(args: ArgsType = None) -> None:
    """Runs the CLI; errors a user can fix end with their message alone, not a traceback."""
    argv = sys.argv[1:] if args is None else args
    try:
        if isinstance(argv, list) and argv[:1] == ["list"]:
            list_zoo(argv[1:])
        else:
            ZooCLI(args=args)
    except (ZooError, DataError, MisconfigurationException) as err:  # Lightning's: e.g. no GPU for accelerator gpu
        sys.exit(f"error: {err}{without_gpu_hint(err)}")
    except ModuleNotFoundError as err:
        # Lightning's refusal of an optional package the options need (torch_xla for --trainer.accelerator tpu, a
        # logger's package): lightning_utilities' message names the package and how to install it.
        if not str(err).startswith(("Requirement '", "Module not found: '")):
            raise
        sys.exit(f"error: {err}")


def without_gpu_hint(err: BaseException) -> str:
    """What to do when Lightning finds no GPU for ``accelerator: gpu`` (``configs/trainer/gpu_bf16.yaml``, say): its
    message names neither the option nor the way to run on the CPU."""
    if "No supported gpu backend found" not in str(err):
        return ""
    return (
        " (accelerator gpu, from --trainer.accelerator or a preset of configs/trainer/, but this machine has no GPU "
        "that PyTorch can use: leave that preset out, or add --trainer.accelerator cpu and, for processes, "
        "--trainer.devices N; bf16-mixed precision runs on the CPU too)"
    )


OPTIMIZER_OPTION = re.compile(r"^(optimizer|lr|min_lr|eps|betas|momentum|decay)(_|$)|^plateau_")


def optimizer_options(model: pl.LightningModule) -> str:
    """The model's options that its optimizer and schedule are built from, set ones with their values as a command
    line takes them, for a refusal by ``torch.optim`` that names a value but not the option (``Invalid learning rate:
    -0.1``: lr_g or lr_d?)."""
    named = [f"--model.{name} {as_command_line(value)}" for name, value in model.hparams.items()
             if OPTIMIZER_OPTION.search(name) and value is not None]  # fmt: skip
    return f"the model's optimizer options: {', '.join(named)}" if named else "an option of the model's optimizer"


def as_command_line(value: Any) -> str:
    """A value as the command line takes it: a list without spaces (``[0.5,0.999]``), another as it prints."""
    return json.dumps(list(value), separators=(",", ":")) if isinstance(value, (list, tuple)) else str(value)


def raised_by_an_optimizer(err: BaseException) -> bool:
    """Whether ``err`` comes from a ``torch.optim`` constructor: they refuse bad hyperparameters (a negative learning
    rate, betas outside [0, 1), a plateau factor of 1 or more) with a ValueError, which only a user's option can
    cause; not from loading an optimizer's state (a resume whose trainable parameters differ)."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].name == "__init__" and "torch/optim/" in frames[-1].filename.replace("\\", "/")


__all__ = ["ZooCLI", "ZooWandbLogger", "main"]
