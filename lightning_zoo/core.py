"""The base every zoo model inherits: exact resume, per-rank randomness, honest hyperparameters, stable names."""

from __future__ import annotations

import csv
import inspect
import math
import os
import random
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from lightning_utilities.core.apply_func import apply_to_collection
from pytorch_lightning.callbacks import Callback, EarlyStopping
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from pytorch_lightning.utilities.model_helpers import is_overridden
from torch import Tensor
from torchmetrics import Metric, MetricCollection

from lightning_zoo.files import atomic_path
from lightning_zoo.lightning_private import (
    count_cut_epoch_as_unfinished,
    in_resumed_epoch,
    keep_hyperparameters,
    resumed_at_epoch_end,
    should_log_this_step,
    training_epoch_finished,
)
from lightning_zoo.media import run_folder, written_checkpoints_run_folder

STAGES = ("train", "val", "test")


class ZooError(RuntimeError):
    """An error the user caused and can fix (wrong checkpoint, bad argument); the CLI prints only its message."""


class NonFiniteLossError(ZooError):
    """Training produced a NaN or infinite loss; raised before that loss updates any weight."""


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain values (Lightning loads checkpoints with ``weights_only``)."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def evaluating(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode (BatchNorm's running statistics, no dropout) and without gradients for the block,
    then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def stream_seed(*keys: int) -> int:
    """A seed of its own for each tuple of ``keys`` ((seed, rank), (seed, epoch, index) ...): ``seed + rank`` would
    give the next seed's rank 0 the stream of this seed's rank 1."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


def seed_rank(seed: int, rank: int) -> None:
    """Seeds torch, numpy and random with a stream of its own for ``rank`` (:func:`stream_seed`)."""
    rank_seed = stream_seed(seed, rank)
    torch.manual_seed(rank_seed)
    np.random.seed(rank_seed)
    random.seed(rank_seed)


def constructor_arguments(cls: type) -> list[str]:
    """The named arguments ``cls(...)`` accepts: its own, and, while a constructor forwards ``**kwargs`` to its
    parent, the parent's (as jsonargparse resolves them for ``--help``)."""
    names: list[str] = []
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__:
            continue
        parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]  # without self
        names += [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in names]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters) or klass is ZooModule:
            break
    return names


def every_ranks(state: Any) -> list[Any]:
    """``state`` of every DDP rank, in rank order (``[state]`` in one process). A collective: every rank calls it."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        states: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(states, state)
        return states
    return [state]


def metric_states(module: torch.nn.Module) -> dict[str, dict[str, Any]]:
    """Where each ``torchmetrics`` metric of ``module`` stands (an epoch's sums so far), on the CPU, by module name."""
    return {
        name: {"state": apply_to_collection(metric.metric_state, Tensor, Tensor.cpu), "updates": metric.update_count}
        for name, metric in module.named_modules()
        if isinstance(metric, Metric)
    }


def restore_metric_states(module: torch.nn.Module, states: Mapping[str, Mapping[str, Any]]) -> None:
    """Puts back what :func:`metric_states` saved, into the metrics ``module`` still has under those names."""
    metrics = dict(module.named_modules())
    for name, saved in states.items():
        metric = metrics.get(name)
        if not isinstance(metric, Metric) or set(saved["state"]) != set(metric.metric_state):
            continue  # a metric the model no longer has: it starts the epoch afresh
        for key, value in saved["state"].items():
            setattr(metric, key, apply_to_collection(value, Tensor, Tensor.to, metric.device))
        metric._update_count = saved["updates"]  # torchmetrics' count (its compute() warns of a metric never updated)


class EpochMeans(Metric):
    """Per-sample means over an epoch of several values, kept as sums: ``update(n, loss=l, acc=c)`` adds ``l`` and ``c``
    (a batch's summed loss, its count of correct predictions) and ``n`` to each one's sample count; ``compute()``
    gives ``{"loss": ..., "acc": ...}``, summed over DDP ranks. A value may skip batches (a GAN's generator loss).

    One update call and in-place additions per step: every ``torchmetrics`` update costs a wrapper call and every
    state reassignment an ``nn.Module.__setattr__``, which on a small model's CPU step add up to percents.
    """

    full_state_update = False

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = names
        for name in names:
            self.add_state(f"{name}_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{name}_count", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, n: int, **totals: Tensor) -> None:
        for name, total in totals.items():
            getattr(self, f"{name}_sum").add_(total.detach())
            getattr(self, f"{name}_count").add_(n)

    def compute(self) -> dict[str, Tensor]:
        return {
            name: (getattr(self, f"{name}_sum") / getattr(self, f"{name}_count")).float()
            for name in self.names
            if getattr(self, f"{name}_count") > 0
        }


_MODELS: dict[str, type[ZooModule]] = {}


class ZooModule(pl.LightningModule):
    """Base class of every model in the zoo.

    It makes these things hold for every model, however it is trained:

    - **Exact resume.** Lightning stores no RNG state; this class stores every rank's torch/numpy/python RNG state
      in each checkpoint and restores it on resume, so dropout masks and noise continue exactly where they stopped.
    - **Each DDP rank its own randomness.** ``seed_everything`` gives every rank the same stream (same noise, same
      dropout masks); ``setup`` re-seeds each rank with a stream derived from the global seed and its rank.
    - **Honest hyperparameters.** The constructor arguments of the whole class hierarchy are recorded with their
      values (models do not call ``save_hyperparameters``), and nothing else: not the sizes LightningCLI links into
      models that take no such argument, not its import path.
    - **Stable names.** Checkpoints name the model (``model_name``, default the class name), not its import path, so
      moving a class orphans no checkpoint; ``checkpoint_renames`` maps state keys of older checkpoints to new ones.
    - **No training on a non-finite loss.** :meth:`check_finite` stops the run before a NaN loss updates a weight.
    - **Plateau schedules survive a resume.** An epoch ``ReduceLROnPlateau`` is stepped before the epoch's checkpoint.

    A family base sets ``is_family_base = True`` (it cannot be instantiated), its ``family`` name, the DDP strategy
    its loop needs (``ddp_strategy``), its epoch metrics (:meth:`track_epoch_metrics`), the files ``predict`` writes
    (``prediction_files``) and its default callbacks (``family_callbacks``). A model names the metric its best
    checkpoint is chosen by in ``monitor`` / ``monitor_mode``, and where its initial weights come from in
    :meth:`load_initial_weights`. Subclasses that override ``setup``, ``on_fit_start``, ``on_save_checkpoint``,
    ``on_load_checkpoint`` or an ``on_*_epoch_end`` hook must call ``super()`` (an epoch-end hook after logging a
    metric a plateau schedule watches: ``super()`` steps it).
    """

    is_family_base: ClassVar[bool] = True
    family: ClassVar[str] = "zoo"
    model_name: ClassVar[str] = "ZooModule"
    ddp_strategy: ClassVar[str] = "ddp"
    monitor: ClassVar[str | None] = None
    monitor_mode: ClassVar[Literal["min", "max"]] = "min"
    prediction_files: ClassVar[tuple[str, ...]] = ()
    checkpoint_renames: ClassVar[Mapping[str, str]] = {}
    built_networks: ClassVar[tuple[str, ...]] = ()  # attributes a model must set to its networks (its base reads them)
    # Whether the class has weights to train, known before an instance exists (``learns`` says it of an instance):
    # predict without --ckpt_path is refused for it before the data are read (a baseline sets False)
    has_weights: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "is_family_base" not in cls.__dict__:
            cls.is_family_base = False
        if "model_name" not in cls.__dict__:
            cls.model_name = cls.__name__
        if cls.is_family_base:
            return
        known = _MODELS.get(cls.model_name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} and {known.__module__}.{known.__qualname__} are both named "
                f"{cls.model_name!r}: set model_name on one of them (checkpoints identify models by this name)"
            )
        _MODELS[cls.model_name] = cls

    def __init__(self) -> None:
        if type(self).is_family_base:
            from lightning_zoo.registry import import_models

            import_models()
            models = sorted(name for name, cls in _MODELS.items() if issubclass(cls, type(self)))
            raise ValueError(
                f"{type(self).__name__} is the base of a family, not a model: choose one of {', '.join(models)}"
            )
        super().__init__()
        self._last_train_epoch_end: int | None = None  # the epoch whose training end last ran
        # A resumed fit's checkpoint: (epoch, this rank's metric sums, whether that epoch's training end had run)
        self._saved_epoch_sums: tuple[int | None, dict[str, Any], bool] | None = None
        self._train_plateau_due_on_resume = False  # its epoch's sums were restored and its step is still to take
        # This runs inside the constructor chain of the model, so Lightning collects the arguments of every class
        # in the hierarchy (the leaf's values win), including defaults of the bases that kwargs forwarding hides.
        self.save_hyperparameters(frame=inspect.currentframe().f_back)

    def save_hyperparameters(self, *args: Any, ignore: Any = None, frame: Any = None, logger: bool = True) -> None:
        frame = frame or inspect.currentframe().f_back  # the caller's __init__, not this override
        super().save_hyperparameters(*args, ignore=ignore, frame=frame, logger=logger)
        keep_hyperparameters(self, set(constructor_arguments(type(self))))

    # ------------------------------------------------------------------------------------------------ epoch values

    def track_epoch_metrics(self, **stages: Mapping[str, Metric]) -> None:
        """Declares a stage's epoch values, e.g. ``track_epoch_metrics(train={"means": EpochMeans("loss")})``: a
        ``MetricCollection`` ``self.train_metrics``, logged as ``train/loss`` (a metric that returns a dict gives
        one value per key) at the end of the stage's epoch, and reset. Update the metrics themselves, held in an
        attribute of their own: a collection's ``update`` passes every argument to every metric, and even its item
        lookup costs more than a small model's step can spare."""
        for stage, metrics in stages.items():
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}; choose from {STAGES}")
            setattr(self, f"{stage}_metrics", MetricCollection(dict(metrics), prefix=f"{stage}/", compute_groups=False))

    def _log_and_reset(self, stage: str, reset: bool = True) -> None:
        # compute() syncs across DDP ranks, so every rank logs the same value; call it on every rank (collective).
        # One log_dict an epoch: self.log costs Lightning 0.3-1 ms a call on a CPU, about a small model's whole step.
        collection = getattr(self, f"{stage}_metrics", None)
        if collection is not None:
            self.log_dict(collection.compute(), prog_bar=True)
            if reset:
                collection.reset()

    def on_train_epoch_end(self) -> None:
        # An epoch cut by a stop within it (max_steps, max_time) logs its means so far but keeps its sums: a checkpoint
        # written now is one within the epoch (see count_cut_epoch_as_unfinished), which a resume finishes.
        finished = training_epoch_finished(self.trainer)
        self._log_and_reset("train", reset=finished)
        self._step_epoch_plateaus(after_validation=False)
        if finished:
            self._last_train_epoch_end = self.current_epoch

    def on_validation_epoch_end(self) -> None:
        self._log_and_reset("val")
        self._step_epoch_plateaus(after_validation=True)

    def on_test_epoch_end(self) -> None:
        self._log_and_reset("test")

    # ------------------------------------------------------------------------------------------ plateau schedules

    # Lightning steps a ReduceLROnPlateau of interval "epoch" after the epoch's checkpoint is written, and skips that
    # step when a run resumes from the checkpoint (it saves no metric), so a resumed run would miss one step. The zoo
    # steps such a schedule itself as soon as its metric is logged, before any checkpoint of the epoch: a "val/" metric
    # after the validation at the epoch's end (none in an epoch that does not validate, as Keras), any other at the
    # training epoch's end. Lightning still saves and restores the schedule's state. Plateaus stepped every
    # "step", and schedules of manual optimisation, stay as Lightning (or the model) steps them. A metric that is not
    # "val/" is stepped after a checkpoint written at the epoch's validation (validating several times an epoch or
    # every n epochs): a resume from it takes that step, from the epoch's sums the checkpoint holds. (Lightning skips
    # its plateau step at the end of any epoch a resume started in.)

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if not any(config.scheduler is scheduler for config in self._epoch_plateau_configs()):
            super().lr_scheduler_step(scheduler, metric)

    def _epoch_plateau_configs(self) -> list[Any]:
        if self._trainer is None or not self.automatic_optimization:
            return []
        return [c for c in self.trainer.lr_scheduler_configs if c.reduce_on_plateau and c.interval == "epoch"]

    def _step_epoch_plateaus(self, after_validation: bool) -> None:
        trainer = self._trainer
        if trainer is None or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        if not training_epoch_finished(trainer):
            return
        # The end of the epoch a resume started in: a validation metric's step taken before a checkpoint written at
        # the epoch's end is in its scheduler state; a training metric's step is taken only from the epoch's sums the
        # checkpoint held (without them, as from a checkpoint of before they were saved, it is skipped: the epoch's
        # training metric covers only the batches after the resume, or was not logged at all).
        if in_resumed_epoch(trainer) and (
            resumed_at_epoch_end(trainer) if after_validation else not self._train_plateau_due_on_resume
        ):
            return
        for config in self._epoch_plateau_configs():
            if str(config.monitor).startswith("val/") != after_validation:
                continue
            if (trainer.current_epoch + 1) % config.frequency:
                continue
            value = trainer.callback_metrics.get(config.monitor)
            if value is None:
                if config.strict:
                    raise ZooError(
                        f"the ReduceLROnPlateau schedule watches {config.monitor!r}, which this model does not log; "
                        f"it logs {sorted(trainer.callback_metrics)}"
                    )
                continue
            config.scheduler.step(float(value))

    def log_on_logging_steps(self, metrics: dict[str, Any], prog_bar: bool = True) -> None:
        """Logs per-step values only on the steps the loggers record (every ``log_every_n_steps``)."""
        if should_log_this_step(self._trainer):
            self.log_dict(metrics, prog_bar=prog_bar, on_step=True, on_epoch=False)

    def check_finite(self, loss: Tensor, name: str = "loss") -> None:
        """Stops training, before ``loss`` updates any weight, when it is NaN or infinite (on every DDP rank at once,
        whichever rank saw it)."""
        # item() of a one-element tensor is a tenth of isfinite().all() on a CPU; on a GPU both wait for the step.
        finite_here = math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all())
        finite = finite_here
        if self._distributed:
            finite = self.trainer.strategy.reduce_boolean_decision(finite_here, all=True)
        if finite:
            return
        rates = [f"--model.{k} {v}" for k, v in self.hparams.items() if k.startswith("lr") and v is not None]
        where = ""
        if self._trainer is not None:
            where = f" at step {self.trainer.global_step} (epoch {self.trainer.current_epoch})"
        value = "non-finite in another process" if finite_here else f"{float(loss.detach().float().flatten()[0])}"
        raise NonFiniteLossError(
            f"training stopped{where}: the {name} is {value}; no weight was updated with it and no checkpoint was "
            "written after it. The run diverged: try a smaller learning rate"
            + (f" (now {' '.join(rates)})" if rates else "")
        )

    @property
    def learns(self) -> bool:
        """Whether the model has weights to train (a baseline such as the last-value forecaster has none, so it takes
        no optimizer steps and Lightning writes no epoch checkpoints for it)."""
        return any(p.requires_grad for p in self.parameters())

    def networks(self) -> dict[str, torch.nn.Module]:
        """The model's networks: its direct submodules that hold parameters (not its metrics)."""
        return {
            name: module
            for name, module in self.named_children()
            if not isinstance(module, (Metric, MetricCollection)) and any(True for _ in module.parameters())
        }

    # -------------------------------------------------------------------------------------------- family defaults

    @classmethod
    def family_callbacks(cls) -> list[Callback]:
        """Callbacks every run of this family gets unless its config brings one of the same kind (the GAN sample
        grid, the language model's text samples)."""
        return []

    # ------------------------------------------------------------------------------------------------------ setup

    _distributed = False  # set in setup: more than one process

    def setup(self, stage: str) -> None:
        for name in self.built_networks:
            if not isinstance(getattr(self, name, None), torch.nn.Module):
                raise ZooError(
                    f"{type(self).__name__} sets no self.{name}, where the {type(self).family} base reads its "
                    "network: build it in __init__"
                )
        self._distributed = self.trainer.world_size > 1
        seed = os.environ.get("PL_GLOBAL_SEED")  # unset with --seed_everything false: each process stays unseeded
        if self._distributed and seed is not None:
            seed_rank(int(seed), self.trainer.global_rank)
        if stage == "fit":
            refuse_stopping_on_missing_validation(self.trainer, self)

    # ------------------------------------------------------------------------------------------------ checkpoints

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["zoo_model"] = self.model_name
        # the run that wrote it, which a requeued SLURM job goes on as (its HPC checkpoint lies outside the run folder)
        if self._trainer is not None:
            folder = written_checkpoints_run_folder(self._trainer) or run_folder(self._trainer)
            checkpoint["zoo_run_folder"] = str(folder.absolute())
            count_cut_epoch_as_unfinished(self._trainer, checkpoint)
        # Every rank's RNG and its epoch's sums so far (a checkpoint within an epoch: the resumed epoch's means are the
        # whole's), in one gather
        states = every_ranks((capture_rng_state(), metric_states(self)))
        checkpoint["rng_states"], checkpoint["metric_states"] = ([state[i] for state in states] for i in (0, 1))
        checkpoint["train_epoch_end_ran"] = self._last_train_epoch_end == self.current_epoch

    def _check_weights_fit(
        self, checkpoint: dict[str, Any], source: str | Path | None, from_data: Sequence[str]
    ) -> None:
        saved, own = checkpoint.get("state_dict", {}), self.state_dict()
        misfits = sorted(
            k for k in own.keys() | saved.keys() if k not in saved or k not in own or saved[k].shape != own[k].shape
        )
        if not misfits:
            return
        hparams = checkpoint.get("hyper_parameters", {})
        differing = {
            k: v for k, v in hparams.items() if k in self.hparams and comparable(self.hparams.get(k)) != comparable(v)
        }
        # Name the settings that change the weights' shapes (or might: a model that cannot be built on the meta
        # device), not a learning rate that also differs; if no single one does, all of them.
        own_shapes = {k: v.shape for k, v in own.items()}
        shaping = [k for k in differing if self._state_shapes_with(k, differing[k]) != own_shapes] or list(differing)
        # A size the DataModule gives the model (input_size, num_classes) is fixed by passing its data, not a --model
        # option; the run's config.yaml has both.
        named = [f"{k}={differing[k]!r} (here {self.hparams.get(k)!r}{', from the data' * (k in from_data)})"
                 for k in shaping]  # fmt: skip
        fix = "pass the same --model options"
        if any(k in from_data for k in shaping):
            fix += " and the data it was trained on"
        if source is not None and "://" not in str(source):
            from lightning_zoo.media import checkpoint_run_folder

            config = checkpoint_run_folder(source) / "config.yaml"
            if config.is_file():
                fix += f" (its run's config: --config {config})"
        raise ZooError(
            f"the checkpoint's weights do not fit this {type(self).__name__} ({len(misfits)} tensors differ, first "
            f"{misfits[0]!r}); it was trained with {', '.join(named) or 'other settings'}: {fix}"
        )

    def _state_shapes_with(self, name: str, value: Any) -> dict[str, torch.Size] | None:
        """The shapes of this model's state were it built with ``name=value``, built on the meta device (no memory,
        no initialisation); None when it cannot be built so."""
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = type(self)(**{**self.hparams, name: value})
        except Exception:  # an argument it refuses, or a constructor that needs real tensors
            return None
        return {k: v.shape for k, v in model.state_dict().items()}

    def check_checkpoint(
        self, checkpoint: dict[str, Any], source: str | Path | None = None, from_data: Sequence[str] = ()
    ) -> None:
        """Refuses, with the fix, a checkpoint of another model or whose weights do not fit this one; older key
        names are renamed to today's first (in ``checkpoint``). ``from_data`` names the arguments the DataModule
        sets (the CLI's linked sizes), whose fix is other data, not a ``--model`` option."""
        saved_by = checkpoint_model_name(checkpoint)
        if saved_by is not None and saved_by != self.model_name:
            raise ZooError(
                f"the checkpoint {Path(source).name + ' ' if source else ''}holds the model {saved_by}, not "
                f"{self.model_name}: pass a checkpoint of this model, or the config of the model it holds"
            )
        rename_state(checkpoint, self.checkpoint_renames)
        self._check_weights_fit(checkpoint, source, from_data)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Lightning calls this before it loads the state dict (in fit and in load_from_checkpoint): older key names
        # can still be renamed here. (The CLI has checked its --ckpt_path already, before any run started.)
        self.check_checkpoint(checkpoint, getattr(self._trainer, "ckpt_path", None) if self._trainer else None)
        # Restore RNG only when resuming training; load_from_checkpoint must not reset the caller's RNG.
        if self._trainer is None or self.trainer.state.fn != "fit":
            return
        states = checkpoint.get("rng_states")
        if states is None:
            rank_zero_warn("this checkpoint holds no RNG state: the resumed run continues with fresh randomness")
        elif len(states) != self.trainer.world_size:
            rank_zero_warn(
                f"this checkpoint was written by {len(states)} process(es), the run has {self.trainer.world_size}: "
                "weights and optimizer state are restored, but data shards, dropout and noise continue differently, "
                "and the resumed epoch's means cover its batches after the resume"
            )
        else:
            restore_rng_state(states[self.trainer.global_rank])
            sums = checkpoint.get("metric_states")  # (none in a checkpoint of before they were saved)
            if sums is not None and len(sums) == len(states):
                ran = checkpoint.get("train_epoch_end_ran", True)
                self._saved_epoch_sums = (checkpoint.get("epoch"), sums[self.trainer.global_rank], ran)

    def on_train_start(self) -> None:
        # An epoch's sums go back only into that epoch: from a checkpoint after an epoch's last batch Lightning goes
        # on with the next epoch (without the end of that one), which starts from zero.
        saved, self._saved_epoch_sums = self._saved_epoch_sums, None
        self._train_plateau_due_on_resume = False
        if saved is not None and saved[0] == self.current_epoch:
            restore_metric_states(self, saved[1])
            self._train_plateau_due_on_resume = not saved[2]  # unless the checkpoint followed the step

    def on_fit_start(self) -> None:
        # Only now does the trainer know whether it resumes (then the checkpoint holds the weights).
        if self.trainer.ckpt_path is None:
            self.check_fit_from_scratch()
            self.load_initial_weights()

    def check_fit_from_scratch(self) -> None:
        """Refuses a fit from scratch that cannot start (a transfer without the run it transfers from). The CLI calls
        it before the trainer starts any logger or process; a fit started from Python, when it starts. Nothing by
        default."""

    def load_initial_weights(self) -> None:
        """Weights a run starts from, read when a fit starts from scratch (not when it resumes, nor when a
        checkpoint is loaded for predict or test, so the files need not exist then): pretrained weights, or another
        run's checkpoint through :meth:`initialise_from`. Nothing by default."""

    def initialise_from(self, path: str | Path, parts: Sequence[str] = ("",)) -> None:
        """Copies the weights of ``parts`` (submodule names; ``""`` is the whole model) from a checkpoint of this model
        written by another run: how a transfer experiment starts from the run it transfers from. A missing or damaged
        file, a checkpoint of another model, or weights of other shapes end with a :class:`ZooError` saying so.
        A folder stands for the one ``last.ckpt`` below it (a run's ``--trainer.default_root_dir``)."""
        path = run_checkpoint(path)
        checkpoint = read_checkpoint(path)
        saved_by = checkpoint_model_name(checkpoint)
        if saved_by != self.model_name:
            held = f"the model {saved_by}" if saved_by else "no lightning-zoo model"
            raise ZooError(
                f"{path} holds {held}, not {self.model_name}: pass a checkpoint of a run of {self.model_name}"
            )
        rename_state(checkpoint, self.checkpoint_renames)
        saved, own = checkpoint["state_dict"], self.state_dict()
        wanted = [k for k in own if any(not part or k == part or k.startswith(part + ".") for part in parts)]
        misfits = [k for k in wanted if k not in saved or saved[k].shape != own[k].shape]
        if not wanted or misfits:
            raise ZooError(
                f"{path}: its weights do not fit this {self.model_name}"
                f"{'' if list(parts) == [''] else ' (' + ', '.join(parts) + ')'} "
                f"({len(misfits)} of {len(wanted)} tensors missing or of another shape, e.g. {misfits[:1]}); the run "
                "that wrote it was configured differently"
            )
        with torch.no_grad():
            for key in wanted:
                own[key].copy_(saved[key])
        what = "weights" if list(parts) == [""] else "weights of " + ", ".join(parts)
        rank_zero_info(f"{self.model_name}: {what} from {path} ({len(wanted)} tensors)")

    def _class_names(self, classes: int) -> tuple[str, ...] | None:
        """The DataModule's names of the ``classes`` classes (``class_names``), if it names that many."""
        names = getattr(getattr(self._trainer, "datamodule", None), "class_names", None)
        return tuple(names) if names is not None and len(names) == classes else None

    def write_class_predictions(
        self,
        outputs: list[dict[str, Tensor]],
        directory: Path,
        predicted: Tensor | None = None,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> Path:
        """``predictions.csv`` of a model that predicts classes, from its predict steps' ``probs`` (and the
        ``target`` and ``sample`` of :func:`batch_labels`): one row per sample in dataset order (``index``: its place
        in the dataset, which an unreadable image file skipped leaves out), its target (unless the DataModule's
        ``predict_has_targets`` says they are placeholders, as new images' are), the ``predicted`` class (by
        default the most probable) and its name, ``predicted_class``, when the DataModule names its classes, the
        ``extra`` columns, every class probability, then the columns the DataModule's ``prediction_inputs()``
        names each sample by (a review's ``text``, an image's ``file``)."""
        joined = {key: torch.cat([o[key] for o in outputs]).cpu() for key in ("probs", "target", "sample")
                  if key in outputs[0]}  # fmt: skip
        probs = joined["probs"].float()
        chosen = (probs.argmax(1) if predicted is None else predicted).tolist()
        targets = joined.get("target")
        if not getattr(getattr(self._trainer, "datamodule", None), "predict_has_targets", True):
            targets = None
        samples = joined["sample"].tolist() if "sample" in joined else list(range(len(probs)))
        inputs, names, extra = self._prediction_inputs(samples), self._class_names(probs.shape[1]), extra or {}
        header = ["index", *(["target"] if targets is not None else []), "predicted"]
        header += ["predicted_class"] * (names is not None) + list(extra) + [f"prob_{c}" for c in range(probs.shape[1])]
        path = directory / "predictions.csv"
        with atomic_path(path) as partial, open(partial, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header + list(inputs))
            for i, (p, pred) in enumerate(zip(probs.tolist(), chosen, strict=True)):
                target = [int(targets[i])] if targets is not None else []
                name = [names[pred]] if names is not None else []
                writer.writerow([samples[i], *target, pred, *name, *(c[i] for c in extra.values()),
                                 *(f"{v:.6f}" for v in p), *(c[i] for c in inputs.values())])  # fmt: skip
        return path

    def _prediction_inputs(self, samples: int | Sequence[int]) -> dict[str, list]:
        """The DataModule's columns for the predicted samples, if it has ``prediction_inputs()`` (a text
        classifier's given ``text``, a forecaster's ``split``, an image's ``file``): ``samples`` is their indices,
        or a count of the first ones (a ``limit_predict_batches`` run predicts the first: predict serves samples in
        order, in one process)."""
        samples = range(samples) if isinstance(samples, int) else samples
        describe = getattr(getattr(self._trainer, "datamodule", None), "prediction_inputs", None)
        columns = describe() if callable(describe) else {}
        short = [name for name, values in columns.items() if len(values) <= max(samples, default=-1)]
        if short:
            raise ZooError(f"the DataModule names fewer samples in {short[0]!r} than were predicted ({len(samples)})")
        return {name: [values[i] for i in samples] for name, values in columns.items()}


def batch_labels(rest: Sequence[Tensor]) -> dict[str, Tensor]:
    """What a predict batch holds after its inputs, by name: its ``target`` (labels) and the ``sample`` indices in
    the dataset (image files: an unreadable one is skipped, so the batch says which samples it holds)."""
    return dict(zip(("target", "sample"), rest, strict=False))


def refuse_stopping_on_missing_validation(trainer: pl.Trainer, model: pl.LightningModule) -> None:
    """An EarlyStopping on a ``val/`` metric in a fit that validates on nothing would fail at the first epoch's end
    (Lightning's "not available" RuntimeError), that epoch's training lost: refused before training instead. Only
    for a model whose ``val/`` metrics come from its validation step: a GAN's (classifier-FID, ...) come from
    callbacks at each training epoch's end, with no validation at all."""
    if not is_overridden("validation_step", model):
        return
    if trainer.limit_val_batches == 0:
        reason = "--trainer.limit_val_batches 0"
    elif not getattr(trainer.datamodule, "has_validation", True):
        reason = "the data hold no validation samples: a val_fraction or val_size of 0?"
    else:
        return
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping) and callback.strict and str(callback.monitor).startswith("val/"):
            raise ZooError(
                f"EarlyStopping monitors {callback.monitor}, but this fit validates on nothing ({reason}): keep a "
                "validation part, or stop on a training metric (EarlyStopping's monitor: train/loss)"
            )


class SharedStepModule(ZooModule):
    """A family base whose training, validation and test steps are one :meth:`shared_step`: the batch's loss, added
    to the stage's ``epoch_means`` (declared with :meth:`track_epoch_means`). Training also stops on a non-finite
    loss and logs the step's loss on logging steps. A family overrides a step where its stage differs (a test that
    is not a loss, a model that does not train)."""

    is_family_base = True

    def track_epoch_means(self, *names: str, stages: Sequence[str] = STAGES) -> None:
        """``self.epoch_means[stage]``, an :class:`EpochMeans` of ``names`` for each stage, logged as
        ``{stage}/{name}`` at the end of the stage's epoch."""
        self.epoch_means = {stage: EpochMeans(*names) for stage in stages}
        self.track_epoch_metrics(**{stage: {"means": means} for stage, means in self.epoch_means.items()})

    def shared_step(self, batch: Any, stage: str) -> Tensor:
        """The loss of ``batch``, after adding its values to ``self.epoch_means[stage]``."""
        raise NotImplementedError

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss = self.shared_step(batch, "train")
        self.check_finite(loss)
        self.log_on_logging_steps({"train/loss_step": loss})
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.shared_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.shared_step(batch, "test")


def comparable(value: Any) -> Any:
    """A hyperparameter as compared: lists and tuples alike (the config gives lists, defaults are tuples)."""
    return list(value) if isinstance(value, (list, tuple)) else value


def rename_state(checkpoint: dict[str, Any], renames: Mapping[str, str]) -> None:
    """Renames the state-dict entries of an older checkpoint in place: a key equal to ``old``, or starting with
    ``old.``, gets ``new`` in its place."""
    state = checkpoint.get("state_dict")
    if not renames or state is None:
        return
    for key in list(state):
        for old, new in renames.items():
            if key == old or key.startswith(old + "."):
                state[new + key[len(old) :]] = state.pop(key)
                break


def checkpoint_model_name(checkpoint: Mapping[str, Any]) -> str | None:
    """The model a zoo checkpoint holds; checkpoints before model names stored an import path ending in the class."""
    saved = checkpoint.get("zoo_model")
    return saved.rpartition(".")[2] if saved else None


def run_checkpoint(path: str | Path) -> Path:
    """``path``, or for a folder (a run's folder, or a ``--trainer.default_root_dir``) the one ``last.ckpt`` in a
    ``checkpoints/`` folder below it; a folder with none or several ends with a :class:`ZooError` listing them."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = sorted(path.rglob("checkpoints/last.ckpt"))
    if not found:
        others = sorted(path.rglob("*.ckpt"))  # a run with a ModelCheckpoint of its own, without save_last
        listed = f" (it holds {', '.join(str(p) for p in others[:3])}{' ...' if len(others) > 3 else ''})"
        raise ZooError(
            f"{path} is a folder that holds no checkpoints/last.ckpt: pass a checkpoint file{listed if others else ''}"
        )
    if len(found) > 1:
        listed = ", ".join(str(p) for p in found[:3]) + (" ..." if len(found) > 3 else "")
        raise ZooError(f"{path} holds {len(found)} runs' checkpoints/last.ckpt ({listed}): pass one of them")
    return found[0]


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents on the CPU, tensors mapped lazily from disk (so a 1 GB checkpoint costs no 1 GB read).
    A missing, truncated or corrupt file ends with a :class:`ZooError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError ... depending on the damage
        detail = (str(err).splitlines() or [""])[0]
        detail = detail if len(detail) <= 120 else detail[:120].rsplit(" ", 1)[0] + " ..."  # whole words
        raise ZooError(
            f"{path} is not a readable checkpoint: the file is incomplete (a copy or save that did not finish) or "
            f"corrupt ({type(err).__name__}{': ' + detail if detail else ''})"
        ) from err


def zoo_model_class(name: str) -> type[ZooModule]:
    """The model class a stable name (or an older checkpoint's import path) refers to."""
    from lightning_zoo.registry import import_models

    import_models()
    model = _MODELS.get(name.rpartition(".")[2])
    if model is None:
        raise ZooError(f"no model of the zoo is named {name!r}; the zoo has {', '.join(sorted(_MODELS))}")
    return model


def load_zoo_module(path: str | Path) -> ZooModule:
    """The module a zoo checkpoint holds, whatever its class (the checkpoint names it), on the CPU, in eval mode."""
    checkpoint = read_checkpoint(path)
    name = checkpoint_model_name(checkpoint)
    if name is None:
        raise ZooError(f"{path} is not a checkpoint written by a lightning-zoo model")
    model_class = zoo_model_class(name)
    arguments = set(constructor_arguments(model_class))
    hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if k in arguments}
    with torch.random.fork_rng(devices=[]):  # building the module draws initial weights: not from the caller's RNG
        module = model_class(**hparams)
    module.on_load_checkpoint(checkpoint)
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()
