"""Plain-text corpora for language models: a text file read as the books read it, its vocabulary (saved in
checkpoints, so ``predict`` needs no corpus), and training windows that are views over one tensor of indices."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    as_text_list,
    data_root,
    nonempty_texts,
    predict_file_lines,
)
from datamodules.text.vocabulary import words_of

# Where the books' corpora come from, for the message when one is missing (neither has a canonical download that
# gives the books' exact file: both are Project Gutenberg texts with the licence header and footer removed).
KNOWN_CORPORA = {
    "warpeace_input.txt": "the char-rnn 'War and Peace' (Project Gutenberg #2600 without its header and footer; our "
    "copy has MD5 a9ab5e2348f6af35f8cbc4a4fe4ab4b2, 3,196,234 bytes, a BOM and \\r line ends)",
    "sherlock.txt": "'The Adventures of Sherlock Holmes' (https://www.gutenberg.org/ebooks/1661, the text between "
    "the '*** START' and '*** END' lines; our copy has MD5 abd41d9c274527a59208f22d311cb7c3)",
}


class Vocabulary:
    """Tokens numbered by their position in ``tokens``. ``oov``, when given, is the token unknown ones become;
    without it an unknown token is an error naming it."""

    def __init__(self, tokens: Sequence[str], oov: str | None = None) -> None:
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary's tokens must be distinct")
        if oov is not None and oov not in self.index:
            raise ValueError(f"the out-of-vocabulary token {oov!r} is not in the vocabulary")
        self.oov = oov

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str], what: str = "the text") -> Tensor:
        if self.oov is not None:
            oov = self.index[self.oov]
            return torch.tensor([self.index.get(t, oov) for t in tokens], dtype=torch.long)
        try:
            return torch.tensor([self.index[t] for t in tokens], dtype=torch.long)
        except KeyError:
            raise DataError(f"{what} has {self.outside(tokens, 'character')}") from None

    def outside(self, tokens: Sequence[str], kind: str) -> str:
        """Says which of ``tokens`` the vocabulary lacks: "2 word(s) outside the model's vocabulary of 5,000: ..."."""
        unknown = sorted(set(tokens) - self.index.keys())
        shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        return f"{len(unknown)} {kind}(s) outside the model's vocabulary of {len(self):,}: {shown}"

    def decode(self, indices: Sequence[int] | Tensor) -> list[str]:
        return [self.tokens[int(i)] for i in indices]


def windows(ids: Tensor, length: int, step: int, target: Literal["sequence", "next"]) -> tuple[Tensor, Tensor]:
    """Every ``step``-th window of ``length`` tokens whose next token exists, as views of ``ids`` (no copy).

    ``target="sequence"``: the windows shifted by one token (E1/E2's ``Y = chars[i*100+1 : (i+1)*100+1]``);
    ``"next"``: the one token after each window (article 3's ``next_chars``). Either way there are
    ``(len(ids) - length - 1) // step + 1`` windows: War and Peace gives 31,962 at length 100 and 19,976 at 160.
    """
    count = (len(ids) - length - 1) // step + 1
    if count < 1:
        raise DataError(f"{len(ids)} tokens are too few for one window of {length} and the token after it")
    inputs = ids.unfold(0, length, step)[:count]
    targets = ids[1:].unfold(0, length, step)[:count] if target == "sequence" else ids[length::step][:count]
    return inputs, targets


class CorpusDataModule(InMemoryDataModule):
    """Base of the language models' DataModules: one text file, split into tokens, numbered by a vocabulary that
    travels in checkpoints, served as windows of ``sequence_length`` tokens every ``step`` tokens.

    Validation, when ``val_fraction`` > 0, is the end of the text (windows never cross the boundary, so no
    validation token is trained on); the books have none and watch the training loss. ``predict`` continues the
    prompts of ``predict_text`` or ``predict_file``, or, without any, a random token of the vocabulary (the book's
    start); it needs only the checkpoint's vocabulary, not the corpus.

    A subclass says how text becomes tokens (:meth:`tokenize`), how tokens become a vocabulary
    (:meth:`build_vocabulary`) and text again (``joiner``).
    """

    data_sizes = ("vocab_size", "sequence_length")
    joiner: ClassVar[str] = ""
    kind: ClassVar[str] = "token"
    special_tokens: ClassVar[tuple[int, ...]] = ()  # indices that are no text (padding, OOV): never generated

    def __init__(
        self,
        file: str,
        data_dir: str | None = None,
        batch_size: int = 100,
        sequence_length: int = 100,
        step: int | None = None,
        target: Literal["sequence", "next"] = "sequence",
        val_fraction: float = 0.0,
        predict_text: Sequence[str] | str | None = None,
        predict_file: str | None = None,
        predict_seed: int = 0,
        num_workers: int = 0,
        pin_memory: bool = False,
        data_on_device: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, data_on_device)
        if sequence_length < 1 or (step is not None and step < 1):
            raise ValueError(f"sequence_length and step must be at least 1, got {sequence_length} and {step}")
        if target not in ("sequence", "next"):
            raise ValueError(f"target must be 'sequence' or 'next', got {target!r}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if predict_text is not None and predict_file is not None:
            raise ValueError("give predict_text or predict_file, not both")
        self.data_dir = data_root(data_dir)
        self.file = file
        self.sequence_length, self.step = sequence_length, step or sequence_length
        self.target, self.val_fraction = target, val_fraction
        self.predict_text = as_text_list(predict_text)
        self.predict_file, self.predict_seed = predict_file, predict_seed
        self.vocabulary: Vocabulary | None = None
        self.text: str | None = None

    # ------------------------------------------------------------------------------------------ what subclasses say

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def build_vocabulary(self, tokens: Sequence[str]) -> Vocabulary:
        raise NotImplementedError

    def vocabulary_settings(self) -> dict[str, Any]:
        """The options the vocabulary depends on (``lower``, ``num_words``, ...)."""
        return {}

    # ---------------------------------------------------------------------------------------------------- the text

    @property
    def path(self) -> Path:
        path = Path(self.file)
        return path if path.is_absolute() else self.data_dir / path

    @property
    def vocab_size(self) -> int:
        if self.vocabulary is None:
            self._read()
        return len(self.vocabulary)

    @property
    def has_validation(self) -> bool:
        return self.val_fraction > 0

    def _read(self) -> None:
        """Reads the text (once) and, unless a checkpoint brought one, builds the vocabulary from it."""
        if self.text is None:
            if not self.path.is_file():
                known = KNOWN_CORPORA.get(self.path.name)
                raise DatasetUnavailableError(
                    f"text file {self.path} not found: place "
                    + (known if known else "a UTF-8 text file")
                    + " there, or pass --data.file <path> (relative paths are under --data.data_dir)"
                )
            try:
                # Text mode, as the books read it: "\r" and "\r\n" line ends become "\n", a BOM stays a character.
                self.text = self.prepare_text(self.path.read_text(encoding="utf-8"))
            except UnicodeDecodeError as err:
                raise DataError(f"{self.path} is not UTF-8 text ({err})") from err
            if not self.text.strip():
                raise DataError(f"{self.path} holds no text: pass --data.file a UTF-8 text file to learn from")
            rank_zero_info(f"{type(self).__name__}: {self.path.name}, {len(self.text):,} characters")
        if self.vocabulary is None:
            self.vocabulary = self.build_vocabulary(self.tokenize(self.vocabulary_text()))

    def prepare_text(self, text: str) -> str:
        """The text as the model reads it (lower-cased, normalised), before tokenizing."""
        return text

    def vocabulary_text(self) -> str:
        """The text the vocabulary is built from: the training part (held-out words become OOV)."""
        return self.text[: self._boundary()]

    def _boundary(self) -> int:
        return round(len(self.text) * (1 - self.val_fraction))

    def prepare_data(self) -> None:
        pass  # a local file: nothing to download (the message in _read says where the books' texts come from)

    def setup(self, stage: str) -> None:
        self.say_predict_inputs_unused(stage)
        if stage != "predict":
            self._read()

    # The vocabulary travels in checkpoints, with the options it depends on and the windows' length. Lightning
    # restores it after setup(), so the text is encoded when a loader is first asked for, with whichever vocabulary
    # is in place by then.
    sample_options_made = "text was encoded"

    def sample_options(self) -> dict[str, Any]:
        """The vocabulary's options and the windows' length: a word model generates from the last
        ``sequence_length`` words, and 8 where it learnt from 4 would predict from a context it never saw."""
        return {**self.vocabulary_settings(), "sequence_length": self.sequence_length}

    def state_dict(self) -> dict[str, Any]:
        if self.vocabulary is None:
            return {}
        return {"tokens": self.vocabulary.tokens, "oov": self.vocabulary.oov, "settings": self.vocabulary_settings(),
                "windows": {"sequence_length": self.sequence_length}}  # fmt: skip

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        # this class's own layout (not under sample_options_key); checkpoints from before the windows travelled
        return {**state["settings"], **state.get("windows", {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Takes a checkpoint's vocabulary, then refuses it if its text was encoded under other options (see the
        base class): checked after, so that the CLI links the vocabulary's size without the corpus and names this
        refusal, not a missing text file."""
        if not state:
            return
        if self.vocabulary is None or self.vocabulary.tokens != state["tokens"]:
            self.vocabulary = Vocabulary(state["tokens"], state["oov"])
            self.splits = {}
        super().load_state_dict(state)

    def encode(self, text: str, what: str = "the text") -> Tensor:
        if self.vocabulary is None:
            raise DataError("no vocabulary: predict needs --ckpt_path of a trained run (its checkpoint holds it)")
        return self.vocabulary.encode(self.tokenize(text), what)

    def decode(self, indices: Sequence[int] | Tensor) -> str:
        return self.joiner.join(self.vocabulary.decode(indices))

    def _encode_splits(self) -> None:
        boundary = self._boundary()
        train = self.encode(self.text[:boundary], f"{self.path.name}")
        self.splits["train"] = TensorBatchDataset(*windows(train, self.sequence_length, self.step, self.target))
        if self.has_validation:
            held_out = self.encode(self.text[boundary:], f"{self.path.name}")
            self.splits["val"] = TensorBatchDataset(*windows(held_out, self.sequence_length, self.step, self.target))

    def random_token(self, generator: torch.Generator) -> Tensor:
        """One token drawn uniformly from the vocabulary without its special tokens, as a 1-element tensor."""
        allowed = torch.tensor([i for i in range(self.vocab_size) if i not in set(self.special_tokens)])
        return allowed[torch.randint(len(allowed), (1,), generator=generator)]

    def random_window(self, generator: torch.Generator) -> Tensor:
        """The input tokens of a random training window: a random slice of the training text, as long as the
        windows (the books' seed text)."""
        if "train" not in self.splits:
            self._encode_splits()
        inputs = self.splits["train"].tensors[0]
        return inputs[int(torch.randint(len(inputs), (1,), generator=generator))].cpu()

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        if split not in self.splits:
            self._encode_splits()
        return super()._loader(split, shuffle)

    def val_dataloader(self) -> DataLoader | list:
        if self.has_validation:
            return self._loader("val")
        if self.trainer_fn == "validate":  # it would print nothing and end
            raise DataError("no held-out text to validate on: pass --data.val_fraction (the end of the text held out)")
        return []  # a fit without validation (the books'): Lightning skips validation when there is no loader

    def test_dataloader(self) -> DataLoader:
        if not self.has_validation:
            raise DataError("no held-out text to test on: pass --data.val_fraction (the end of the text held out)")
        return self._loader("val")

    # ------------------------------------------------------------------------------------------------------ predict

    def prompts(self) -> list[Tensor]:
        """The token indices of each prompt to continue: ``predict_text``, the lines of ``predict_file``, or one
        random token of the vocabulary (seeded by ``predict_seed``)."""
        if self.vocabulary is None:
            raise DataError("no vocabulary: predict needs --ckpt_path of a trained run (its checkpoint holds it)")
        if self.predict_text is None and self.predict_file is None:
            generator = torch.Generator().manual_seed(self.predict_seed)
            return [self.random_token(generator)]
        if self.predict_text is None:
            texts = predict_file_lines(self.predict_file, "prompt")
        else:
            texts = nonempty_texts(self.predict_text, "prompt", "It was", "leave it out to start from a random token")
        prompts = []
        for text in texts:
            tokens = self.tokenize(self.prepare_text(text))
            if not tokens:
                raise DataError(f"the prompt {text!r} has no {self.kind} to start from")
            known = self.vocabulary.index.keys()
            if self.vocabulary.oov is not None and not set(tokens) <= known:  # read as OOV: said, refused if all are
                outside = self.vocabulary.outside(tokens, self.kind)
                if not set(tokens) & known:
                    raise DataError(f"the prompt {text[:40]!r} has no {self.kind} the model knows: {outside}")
                rank_zero_warn(f"the prompt {text[:40]!r} has {outside}, each read as {self.vocabulary.oov}")
            prompts.append(self.vocabulary.encode(tokens, f"the prompt {text[:40]!r}"))
        return prompts

    def predict_dataloader(self) -> DataLoader:
        # One prompt per batch: prompts differ in length, and each is continued on its own.
        return DataLoader(self.prompts(), batch_size=None)


class CharCorpusDataModule(CorpusDataModule):
    """A text file as characters, read as the books read it (``open(f).read().lower()``): the vocabulary is the
    sorted set of its characters, the held-out end's too (War and Peace: 57, with the BOM and ``"\\n"``).

    Args:
        file: The text file; relative paths are under ``data_dir`` (``text/warpeace_input.txt``).
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Windows per batch.
        sequence_length: Characters per window.
        step: Characters between window starts; default ``sequence_length`` (the books' non-overlapping windows).
        target: ``"sequence"``: predict every next character (E1/E2); ``"next"``: only the one after the window
            (article 3).
        lower: Lower-case the text, as the books do.
        normalise: Drop the byte-order mark and compose accents (Unicode NFC); the book keeps the BOM, which then is
            a character of its vocabulary.
        val_fraction: The end of the text held out for validation (0, the books' way: none).
        predict_text: Prompts to continue with ``predict``.
        predict_file: A file of prompts, one per line.
        predict_seed: Seed of the random start character when no prompt is given.
    """

    kind = "character"

    def __init__(self, lower: bool = True, normalise: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self.lower, self.normalise = lower, normalise

    def prepare_text(self, text: str) -> str:
        if self.normalise:
            text = unicodedata.normalize("NFC", text.replace("\ufeff", ""))
        return text.lower() if self.lower else text

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def vocabulary_text(self) -> str:
        # The whole text's characters, as the books' sorted(set(text)): a character vocabulary has no OOV token, so
        # one first seen in the held-out end (Sherlock's "è" at val_fraction 0.1) could not be read, and the
        # vocabulary's size, the model's too, would change with val_fraction. Which characters occur says nothing
        # the model could learn about the held-out text.
        return self.text

    def build_vocabulary(self, tokens: Sequence[str]) -> Vocabulary:
        return Vocabulary(sorted(set(tokens)))

    def vocabulary_settings(self) -> dict[str, Any]:
        return {"lower": self.lower, "normalise": self.normalise}


class WordCorpusDataModule(CorpusDataModule):
    """A text file as words, with Keras' ``Tokenizer`` conventions (lower case, punctuation removed): index 0 is the
    padding of prompts shorter than a window, 1 the out-of-vocabulary token, then words by frequency in the
    training text (ties in order of appearance). Windows of ``sequence_length`` words predict the next word.

    Args:
        file: The text file; relative paths are under ``data_dir``.
        num_words: Vocabulary size including padding and out-of-vocabulary (None: every training word).
        sequence_length: Words that predict the next one (article 2: 4).
        step: Words between window starts (default 1: every window).
        target: ``"next"`` (the next word) or ``"sequence"``.
        **kwargs: As :class:`CorpusDataModule`.
    """

    joiner = " "
    kind = "word"
    special_tokens = (0, 1)
    PAD, OOV = "<pad>", "<oov>"

    def __init__(
        self,
        num_words: int | None = None,
        sequence_length: int = 4,
        step: int | None = 1,
        target: Literal["sequence", "next"] = "next",
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        super().__init__(sequence_length=sequence_length, step=step, target=target, batch_size=batch_size, **kwargs)
        if num_words is not None and num_words < 3:
            raise ValueError(f"num_words must leave room for a word beside padding and OOV (>= 3), got {num_words}")
        self.save_hyperparameters()
        self.num_words = num_words

    def tokenize(self, text: str) -> list[str]:
        return words_of(text)

    def build_vocabulary(self, tokens: Sequence[str]) -> Vocabulary:
        ranked = [word for word, _ in Counter(tokens).most_common()]
        keep = None if self.num_words is None else self.num_words - 2
        return Vocabulary([self.PAD, self.OOV, *ranked[:keep]], oov=self.OOV)

    def vocabulary_settings(self) -> dict[str, Any]:
        return {"num_words": self.num_words}
