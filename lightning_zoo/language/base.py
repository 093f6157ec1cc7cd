"""The loop every language model shares: a cross-entropy at every predicted step (teacher forcing), and generation
one token at a time, greedy or sampled with a temperature, from a state carried across the generated tokens."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import Callback
from torch import Tensor

from lightning_zoo.callbacks import due
from lightning_zoo.core import SharedStepModule, ZooError, evaluating
from lightning_zoo.files import atomic_path
from lightning_zoo.keras import KerasOptimizer, keras_categorical_crossentropy, keras_optimizer
from lightning_zoo.media import log_text


def pick_token(logits: Tensor, temperature: float, generator: torch.Generator | None = None) -> Tensor:
    """The next token from one step's logits: the most likely (temperature 0, the books' greedy decoding) or a draw
    from ``softmax(logits / temperature)``, which is Keras' ``sample``: ``exp(log(p) / T)`` renormalised."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(-1)
    probabilities = torch.softmax(logits.double() / temperature, dim=-1)
    if generator is not None:  # a generator draws on its own device
        probabilities = probabilities.to(generator.device)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1).to(logits.device)


class LanguageModelBase(SharedStepModule):
    """Base of the language models. A subclass defines ``read(tokens, state=None)``: (batch, time) token indices,
    read from ``state`` (None: the start), to logits (batch, steps, vocab) whose last step predicts the token after
    the input, and the state to continue from. ``forward`` gives the logits alone.

    Batches are ``(inputs, targets)`` as the corpus DataModules make them: targets of the inputs' shape (every step
    predicts the next token) or one per window (only the last step's prediction is scored). Logs ``loss`` (mean
    cross-entropy per predicted token, nats) and ``acc`` per stage and epoch. The best checkpoint is chosen by the
    validation loss when the data has a validation split, else by the training loss, as the books'
    ``ModelCheckpoint(monitor="loss")``. ``predict`` continues each prompt at every temperature of
    ``temperatures`` and writes ``generated.txt`` and ``generated.jsonl``.

    Args:
        vocab_size: Tokens in the vocabulary (linked from the DataModule).
        optimizer: A Keras optimizer with Keras' defaults.
        lr: Learning rate; default Keras' for the optimizer.
        eps: The optimizer's epsilon; default Keras 2.1.3 and later's, 1e-7. Keras up to 2.1.2 (DLwP's) defaulted to
            1e-8, and the Hands-On book's RMSprop passes it.
        loss: ``"keras"``: Keras 2's ``categorical_crossentropy``, the books' loss, whose clipped probabilities
            bound a sample's loss at 16.1 and give no gradient past the clip (see
            :func:`~lightning_zoo.keras.keras_categorical_crossentropy`); ``"cross_entropy"``: PyTorch's, unbounded.
        plateau_factor: Keras' ``ReduceLROnPlateau``: multiply the learning rate by this when the monitored loss
            (see above) has not improved by 1e-4 for ``plateau_patience`` epochs, down to ``min_lr``. None: off.
        plateau_patience: Epochs without improvement before the learning rate drops, counted as Keras 2.1.6 and
            later count them: ``1`` lowers the rate after the first epoch that does not improve. (Keras 2.0-2.1.5, and
            PyTorch's ``ReduceLROnPlateau``, wait one epoch more; the article's log format is Keras 2.0.9 or later,
            and its five epochs' loss improves every epoch, so either way gives the same run.)
        min_lr: The lowest learning rate the plateau schedule goes to.
        generate_length: Tokens ``predict`` generates after each prompt.
        temperatures: Temperatures ``predict`` generates at (0: greedy).
    """

    is_family_base = True
    family = "language_model"
    prediction_files = ("generated.txt", "generated.jsonl")

    def __init__(
        self,
        vocab_size: int = 57,
        optimizer: KerasOptimizer = "rmsprop",
        lr: float | None = None,
        eps: float | None = None,
        loss: Literal["keras", "cross_entropy"] = "keras",
        plateau_factor: float | None = None,
        plateau_patience: int = 1,
        min_lr: float = 0.0,
        generate_length: int = 200,
        temperatures: Sequence[float] = (0.0,),
    ) -> None:
        super().__init__()
        if loss not in ("keras", "cross_entropy"):
            raise ValueError(f"loss must be 'keras' or 'cross_entropy', got {loss!r}")
        if generate_length < 1 or any(t < 0 for t in temperatures) or not temperatures:
            raise ValueError(
                f"need generate_length >= 1 and at least one temperature, each >= 0; got {generate_length}, "
                f"{list(temperatures)}"
            )
        self.track_epoch_means("loss", "acc")
        self.example_input_array = torch.zeros(2, 8, dtype=torch.long)

    def read(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def forward(self, tokens: Tensor) -> Tensor:
        return self.read(tokens)[0]

    @property
    def monitor(self) -> str:  # type: ignore[override]
        datamodule = self._trainer.datamodule if self._trainer is not None else None
        return "val/loss" if getattr(datamodule, "has_validation", False) else "train/loss"

    @classmethod
    def family_callbacks(cls) -> list[Callback]:
        return [TextSamples()]

    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        optimizer = keras_optimizer(self.hparams.optimizer, self.parameters(), self.hparams.lr, self.hparams.eps)
        if self.hparams.plateau_factor is None:
            return optimizer
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            factor=self.hparams.plateau_factor,
            patience=max(self.hparams.plateau_patience - 1, 0),  # PyTorch lowers after patience + 1 bad epochs
            min_lr=self.hparams.min_lr,
            threshold=1e-4,
            threshold_mode="abs",  # Keras' min_delta is absolute
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": plateau, "monitor": self.monitor}}

    # --------------------------------------------------------------------------------------------------- training

    def loss_and_predictions(self, logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """Mean cross-entropy over the predicted tokens (``loss``), and the predictions (argmax)."""
        if targets.dim() == 1:
            logits = logits[:, -1]  # one target per window: the prediction after its last token
        elif logits.shape[1] != targets.shape[1]:
            raise ZooError(f"{type(self).__name__} predicts one token per window: use --data.target next")
        flat_logits, flat_targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
        if self.hparams.loss == "keras":
            loss = keras_categorical_crossentropy(flat_logits, flat_targets)
        else:
            loss = F.cross_entropy(flat_logits, flat_targets)
        return loss, logits.argmax(-1)

    def shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        tokens, targets = batch
        loss, predicted = self.loss_and_predictions(self(tokens), targets)
        with torch.no_grad():
            n = targets.numel()
            self.epoch_means[stage].update(n, loss=loss.detach() * n, acc=(predicted == targets).sum())
        return loss

    # ------------------------------------------------------------------------------------------------- generation

    def start(self, prompt: Tensor) -> tuple[Tensor, Any]:
        """The logits of the token after ``prompt`` (1-D indices) and the state to continue from. A recurrent model's
        state is its hidden state; a model that reads fixed windows keeps the last window instead."""
        logits, state = self.read(prompt.unsqueeze(0))
        return logits[0, -1], state

    def advance(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The logits after one more token, from the state :meth:`start` or this returned."""
        logits, state = self.read(token.view(1, 1), state)
        return logits[0, -1], state

    def generate(
        self,
        prompt: Tensor,
        length: int,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        exclude: Sequence[int] = (),
    ) -> Tensor:
        """``length`` tokens continuing ``prompt``, each fed back with the carried state (the prompt is read once,
        not again for every token). Runs in eval mode without gradients; sampling draws from ``generator``
        (default: the global RNG). Tokens of ``exclude`` are never chosen (a word corpus' padding and OOV marker)."""
        tokens = []
        with evaluating(self):
            logits, state = self.start(prompt.to(self.device))
            for _ in range(length):
                if exclude:
                    logits = logits.index_fill(-1, torch.tensor(list(exclude), device=logits.device), -torch.inf)
                token = pick_token(logits, temperature, generator)
                tokens.append(token)
                logits, state = self.advance(token, state)
        return torch.stack(tokens).cpu()

    def predict_step(self, prompt: Tensor, batch_idx: int) -> list[dict[str, Any]]:
        exclude = getattr(self.trainer.datamodule, "special_tokens", ())
        length = self.hparams.generate_length
        return [
            {"prompt": prompt, "temperature": t, "tokens": self.generate(prompt, length, t, exclude=exclude)}
            for t in self.hparams.temperatures
        ]

    def write_predictions(self, outputs: list[list[dict[str, Any]]], directory: Path) -> list[Path]:
        """``generated.txt`` (each prompt's continuation at each temperature, the prompt in brackets) and
        ``generated.jsonl`` (one ``{"prompt", "temperature", "text"}`` object per line)."""
        decode = self.trainer.datamodule.decode
        rows = [
            {"prompt": decode(g["prompt"]), "temperature": g["temperature"], "text": decode(g["tokens"])}
            for batch in outputs
            for g in batch
        ]
        readable, lines = directory / "generated.txt", directory / "generated.jsonl"
        with atomic_path(readable) as partial:
            partial.write_text(
                "".join(f"=== temperature {r['temperature']}\n[{r['prompt']}]{r['text']}\n\n" for r in rows),
                encoding="utf-8",
            )
        with atomic_path(lines) as partial:
            partial.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return [readable, lines]


class TextSamples(Callback):
    """Every ``every_n_epochs`` epochs (and after the last), text the model generates at each temperature, from
    ``prompt`` or a random token of the vocabulary (the books' start): a W&B table (epoch, temperature, prompt,
    text), TensorBoard text, or text files under the run's ``text/`` folder. Sampling uses a generator of its own,
    seeded by ``(seed, epoch)``, so that the samples leave training's randomness untouched (and resumes exact).

    Args:
        every_n_epochs: Epochs between samples (the book: 10).
        from_first_epoch: Sample after epochs 1, n + 1, 2n + 1, ... (the book's Keras callback, ``epoch % n == 0``)
            instead of after epochs n, 2n, ...; after the last epoch either way.
        length: Tokens generated (the books: 200, 400 and 500 characters).
        temperatures: Temperatures (0: greedy, the book's; article 3: 0.2, 0.5, 1.0, 1.2).
        prompt: Text to continue; default a random token.
        prompt_from_data: Continue a random training window instead (its input tokens): the article's seed, a random
            slice of the text as long as the windows (ignored when ``prompt`` is given).
        seed: Seed of the random start and of the sampling.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        length: int = 200,
        temperatures: Sequence[float] = (0.0,),
        prompt: str | None = None,
        seed: int = 0,
        key: str = "samples",
        from_first_epoch: bool = False,
        prompt_from_data: bool = False,
    ) -> None:
        if every_n_epochs < 1 or length < 1 or any(t < 0 for t in temperatures) or not temperatures:
            raise ValueError(
                "TextSamples needs every_n_epochs >= 1, length >= 1 and at least one temperature, each >= 0; got "
                f"{every_n_epochs}, {length}, {list(temperatures)}"
            )
        self.every_n_epochs, self.length, self.temperatures = every_n_epochs, length, list(temperatures)
        self.prompt, self.seed, self.key, self.from_first_epoch = prompt, seed, key, from_first_epoch
        self.prompt_from_data = prompt_from_data

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not callable(getattr(pl_module, "generate", None)):
            raise ZooError(f"TextSamples needs a language model (generate); {type(pl_module).__name__} is not one")
        if self.prompt is not None and stage == "fit" and trainer.datamodule is not None:
            # now, not after the first epoch: a prompt the vocabulary cannot encode would cost that epoch's training
            self._prompt_tokens(trainer.datamodule)

    def _prompt_tokens(self, datamodule: Any) -> Tensor:
        return datamodule.encode(datamodule.prepare_text(self.prompt), "TextSamples' prompt")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: LanguageModelBase) -> None:
        if not (due(trainer, self.every_n_epochs, self.from_first_epoch) and trainer.is_global_zero):
            return
        datamodule = trainer.datamodule
        special = getattr(datamodule, "special_tokens", ())
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + trainer.current_epoch)
        if self.prompt is not None:
            prompt = self._prompt_tokens(datamodule)
        elif self.prompt_from_data:
            prompt = datamodule.random_window(generator)
        else:
            prompt = datamodule.random_token(generator)
        rows = [
            [trainer.current_epoch + 1, t, datamodule.decode(prompt),
             datamodule.decode(pl_module.generate(prompt, self.length, t, generator, special))]
            for t in self.temperatures
        ]  # fmt: skip
        log_text(trainer, self.key, ["epoch", "temperature", "prompt", "text"], rows)
