"""The base every zoo model inherits: exact resume, per-rank randomness, honest hyperparameters."""

from __future__ import annotations

import importlib
import inspect
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from pytorch_lightning.utilities import rank_zero_warn
from torchmetrics import Metric


class ZooError(RuntimeError):
    """An error the user caused and can fix (wrong checkpoint, bad argument); the CLI prints only its message."""


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
def inference_mode_of(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode (BatchNorm's running statistics, no dropout) and without gradients for the block,
    then back in the mode it was in."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def seed_rank(seed: int, rank: int) -> None:
    """Seeds torch, numpy and random with a stream of its own for ``rank`` (not ``seed + rank``, which collides
    with the next seed's rank 0)."""
    rank_seed = int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])
    torch.manual_seed(rank_seed)
    np.random.seed(rank_seed)
    random.seed(rank_seed)


class ZooModule(pl.LightningModule):
    """Base class of every model in the zoo.

    It makes three things hold for every model, however it is trained:

    - **Exact resume.** Lightning stores no RNG state; this class stores every rank's torch/numpy/python RNG state
      in each checkpoint and restores it on resume, so dropout masks and noise continue exactly where they stopped.
    - **Each DDP rank its own randomness.** ``seed_everything`` gives every rank the same stream (same noise, same
      dropout masks); ``setup`` re-seeds each rank with a stream derived from the global seed and its rank.
    - **Honest hyperparameters.** LightningCLI records every data-dependent size it links (e.g. ``num_classes``)
      even for models that take no such argument; ``save_hyperparameters`` keeps only constructor arguments.

    Subclasses that override ``setup``, ``on_save_checkpoint`` or ``on_load_checkpoint`` must call ``super()``.
    A model names the metric its best checkpoint is chosen by in ``monitor`` / ``monitor_mode``.
    """

    monitor: ClassVar[str | None] = None
    monitor_mode: ClassVar[Literal["min", "max"]] = "min"

    def save_hyperparameters(self, *args: Any, ignore: Any = None, frame: Any = None, logger: bool = True) -> None:
        frame = frame or inspect.currentframe().f_back  # the caller's __init__, not this override
        super().save_hyperparameters(*args, ignore=ignore, frame=frame, logger=logger)
        parameters = inspect.signature(type(self).__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return
        for key in [k for k in self._hparams if not k.startswith("_") and k not in parameters]:
            self._hparams.pop(key)
            self._hparams_initial.pop(key, None)

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1:
            seed_rank(int(os.environ.get("PL_GLOBAL_SEED", 0)), self.trainer.global_rank)

    def log_on_logging_steps(self, metrics: dict[str, Any], prog_bar: bool = True) -> None:
        """Logs per-step values only on the steps the loggers record (every ``log_every_n_steps``).

        ``self.log`` costs Lightning 2.6 0.3-1 ms a call on a CPU, about a small model's whole step; calling it
        every step made an MLP epoch 1.5x slower than a plain loop. Epoch values go through
        :meth:`log_epoch_metrics` instead.
        """
        connector = getattr(self._trainer, "_logger_connector", None)
        if connector is None or connector.should_update_logs:
            self.log_dict(metrics, prog_bar=prog_bar, on_step=True, on_epoch=False)

    def log_epoch_metrics(self, metrics: dict[str, Metric]) -> None:
        """Logs and resets torchmetrics objects that were updated every step of the epoch.

        ``compute()`` syncs them across DDP ranks, so every rank logs the same epoch value; one ``log_dict`` per
        epoch is far cheaper than ``self.log`` in every step. Call on every rank (``compute`` is collective).
        """
        self.log_dict({name: metric.compute() for name, metric in metrics.items()}, prog_bar=True)
        for metric in metrics.values():
            metric.reset()

    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["zoo_model"] = self.qualified_name()
        state = capture_rng_state()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            states: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(states, state)  # every rank runs this hook, so the collective is safe
        else:
            states = [state]
        checkpoint["rng_states"] = states

    def _check_weights_fit(self, checkpoint: dict[str, Any]) -> None:
        saved, own = checkpoint.get("state_dict", {}), self.state_dict()
        misfits = sorted(
            k for k in own.keys() | saved.keys() if k not in saved or k not in own or saved[k].shape != own[k].shape
        )
        if not misfits:
            return
        hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if not k.startswith("_")}
        differing = ", ".join(
            f"{k}={v!r} (here {self.hparams.get(k)!r})" for k, v in hparams.items() if self.hparams.get(k) != v
        )
        raise ZooError(
            f"the checkpoint's weights do not fit this {type(self).__name__} ({len(misfits)} tensors differ, first "
            f"{misfits[0]!r}); it was trained with {differing or 'other settings'}: pass the same --model options"
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved_by = checkpoint.get("zoo_model")
        if saved_by is not None and saved_by != self.qualified_name():
            source = getattr(self._trainer, "ckpt_path", None) if self._trainer else None
            raise ZooError(
                f"the checkpoint {Path(source).name + ' ' if source else ''}holds a {saved_by}, not a "
                f"{self.qualified_name()}: pass a checkpoint of this model, or the config of the model it holds"
            )
        self._check_weights_fit(checkpoint)
        # Restore RNG only when resuming training; load_from_checkpoint must not reset the caller's RNG.
        if self._trainer is None or self.trainer.state.fn != "fit":
            return
        states = checkpoint.get("rng_states")
        if states is None:
            rank_zero_warn("this checkpoint holds no RNG state: the resumed run continues with fresh randomness")
        elif len(states) != self.trainer.world_size:
            rank_zero_warn(
                f"this checkpoint was written by {len(states)} process(es), the run has {self.trainer.world_size}: "
                "weights and optimizer state are restored, but data shards, dropout and noise continue differently"
            )
        else:
            restore_rng_state(states[self.trainer.global_rank])


def load_zoo_module(path: str | Path) -> ZooModule:
    """The module a zoo checkpoint holds, whatever its class (the checkpoint names it), on the CPU."""
    if not Path(path).is_file():
        raise ZooError(f"{path}: no such checkpoint file")
    qualified_name = torch.load(path, map_location="cpu", weights_only=True).get("zoo_model")
    if qualified_name is None:
        raise ZooError(f"{path} is not a checkpoint written by a lightning-zoo model")
    module_name, _, class_name = qualified_name.rpartition(".")
    module_class = getattr(importlib.import_module(module_name), class_name)
    with torch.random.fork_rng(devices=[]):  # building the module draws initial weights: not from the caller's RNG
        return module_class.load_from_checkpoint(path, map_location="cpu")
