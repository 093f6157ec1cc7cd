"""W&B as the default logger, without ever blocking on the network, with the full config in every run."""

from __future__ import annotations

import netrc
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytorch_lightning as pl
import yaml
from pytorch_lightning.cli import SaveConfigCallback
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_info

from lightning_zoo.core import ZooError
from lightning_zoo.files import atomic_path, numbered
from lightning_zoo.lightning_private import drop_wandb_init_setting, wandb_run_started
from lightning_zoo.media import run_folder, w_and_b_disabled


def has_wandb_credentials() -> bool:
    """Whether W&B could log in: an API key or identity-token file in the environment, or a netrc entry for the
    W&B server, found where W&B looks (``$NETRC``, else ``~/.netrc``, else ``~/_netrc``)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).netloc
    candidates = [os.environ["NETRC"]] if os.environ.get("NETRC") else ["~/.netrc", "~/_netrc"]
    path = next((p for p in map(os.path.expanduser, candidates) if os.path.isfile(p)), None)
    try:
        # An explicit path, as W&B passes: netrc() with none refuses a ~/.netrc that others can read (mode 0644)
        # when it holds a password, where W&B reads it.
        return path is not None and netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_server_answers(timeout: float) -> bool:
    """Whether the W&B server (``WANDB_BASE_URL``) answers an HTTP request within ``timeout`` seconds; any answer,
    an error status included, counts. A cluster node without a route to it times out here, where ``wandb.init``
    would wait 90 s and then fail."""
    url = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):  # URLError, timeouts, refused connections; ValueError: a malformed URL
        return False


WANDB_MODES = ("online", "offline", "disabled", "shared", "dryrun", "run")  # what W&B's settings accept
LOG_DIR = "logs"  # the default save_dir of the zoo's loggers; the CLI moves it under --trainer.default_root_dir


class ZooWandbLogger(WandbLogger):
    """``WandbLogger`` that never blocks a run on the network: it logs offline when there are no credentials (W&B
    itself would stop with an error) or when the server does not answer within ``connect_timeout`` seconds (W&B
    would hang for 90 s, then fail); ``wandb sync`` uploads the offline run later.

    Args:
        project: W&B project.
        save_dir: Folder of the local ``wandb/`` run folders (created if missing). Left at ``logs``, the CLI
            puts it under ``--trainer.default_root_dir`` when that is given.
        offline: True or False forces the mode; None (default) decides by the credentials and the server. An
            explicit mode always wins: ``WANDB_MODE`` in the environment, or W&B's own ``mode`` argument
            (``--trainer.logger.mode offline``).
        connect_timeout: Seconds to wait for the W&B server before going offline.
        **kwargs: Any other ``WandbLogger`` argument (``name``, ``log_model``, ``tags`` ...).
    """

    def __init__(
        self,
        project: str = "lightning-zoo",
        save_dir: str = LOG_DIR,
        offline: bool | None = None,
        connect_timeout: float = 5.0,
        **kwargs: Any,
    ):
        if os.environ.get("WANDB_MODE") == "":
            del os.environ["WANDB_MODE"]  # W&B itself fails on the empty value with a settings traceback
            rank_zero_info("W&B: WANDB_MODE is set but empty, treated as unset")
        if os.environ.get("WANDB_MODE", "online") not in WANDB_MODES:  # W&B: a 60-line settings traceback
            raise ZooError(f"WANDB_MODE={os.environ['WANDB_MODE']!r}: choose one of {', '.join(WANDB_MODES)}")
        explicit_mode = os.environ.get("WANDB_MODE") or kwargs.get("mode")
        if offline is None and not explicit_mode:
            why = None
            if not has_wandb_credentials():
                why = "no credentials (WANDB_API_KEY or `wandb login`)"
            elif not wandb_server_answers(connect_timeout):
                why = (
                    f"{os.environ.get('WANDB_BASE_URL', 'https://api.wandb.ai')} did not answer in {connect_timeout} s"
                )
            offline = why is not None
            if offline:
                rank_zero_info(
                    f"W&B: {why}, logging offline to {save_dir}/wandb; "
                    f"upload later with `wandb sync {save_dir}/wandb/offline-run-*`"
                )
        # Offline through W&B's own mode, not Lightning's flag, which refuses log_model (W&B keeps the checkpoint
        # artifacts of an offline run and `wandb sync` uploads them). An explicit WANDB_MODE wins.
        if explicit_mode:
            self.logs_offline = explicit_mode in ("offline", "dryrun")
        else:
            self.logs_offline = bool(offline)
            if self.logs_offline:  # the CLI passes wandb.init's mode=None along
                kwargs["mode"] = "offline"
        # Absolute: W&B's service process outlives a run and resolves relative paths against its own start folder.
        super().__init__(project=project, save_dir=os.path.abspath(save_dir), **kwargs)
        if kwargs.get("anonymous") is None:
            drop_wandb_init_setting(self, "anonymous")  # else W&B warns on every run that the setting has no effect

    @property
    def experiment(self):
        if not wandb_run_started(self) and self.save_dir:
            Path(self.save_dir).mkdir(parents=True, exist_ok=True)  # W&B misreports a missing dir as a git problem
        return super().experiment


class ConfigToLoggers(SaveConfigCallback):
    """Records the full resolved CLI config in each run, never in a folder every run shares.

    W&B: the run's config (so runs can be filtered by any setting) and ``lightning_config.yaml`` among the run's
    files; with ``WANDB_MODE=disabled``, which keeps no files, ``config.yaml`` in the run's folder (beside its
    ``checkpoints/``). Loggers with a per-run ``log_dir`` (TensorBoard, CSV): ``config.yaml`` there. Every
    subcommand's run, predict's too (Lightning starts a logger's run for it, with the model's hyperparameters alone
    otherwise).
    """

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        text = self.parser.dump(self.config, skip_none=False)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                if w_and_b_disabled(logger):
                    self.written_alone = _write_beside(run_folder(trainer) / self.config_filename, text)
                    continue
                run = logger.experiment
                run.config.update(yaml.safe_load(text), allow_val_change=True)
                path = Path(run.dir) / "lightning_config.yaml"
                _write(path, text)
                run.save(str(path), base_path=run.dir, policy="now")
            elif getattr(logger, "log_dir", None):
                _write_beside(Path(logger.log_dir) / self.config_filename, text)

    # With W&B disabled the config is the only file a test or predict writes in its new run folder (their results go
    # beside the checkpoint's run), as in a fit refused before its first checkpoint: such a folder is removed.
    written_alone: Path | None = None  # the config.yaml this run wrote where W&B keeps nothing

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            self._remove_config_only_run_folder()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._remove_config_only_run_folder()

    def _remove_config_only_run_folder(self) -> None:
        written, self.written_alone = self.written_alone, None
        if written is None or not written.is_file() or any(p != written for p in written.parent.iterdir()):
            return
        try:
            written.unlink()
            written.parent.rmdir()
        except OSError:  # another process wrote there meanwhile: the folder is its too
            pass


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as partial:
        partial.write_text(text)


def _write_beside(path: Path, text: str) -> Path | None:
    """``text`` at ``path``, or, when a run folder's ``config.yaml`` holds another (a resumed run's first config),
    at the first free ``config-2.yaml``, ``config-3.yaml`` ...; a text already there is not written again. Returns
    the path written, None if none was."""
    for candidate in numbered(path):
        if not candidate.exists():
            _write(candidate, text)
            return candidate
        if candidate.read_text() == text:
            return None
