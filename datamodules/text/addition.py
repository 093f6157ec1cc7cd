"""The Keras ``addition_rnn`` example's data: "a+b" questions of up to ``digits`` digits and their sums, as strings of
symbols from ``' +0123456789'``, generated (nothing to download)."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from datamodules.base import (
    DataError,
    InMemoryDataModule,
    TensorBatchDataset,
    as_text_list,
    predict_file_lines,
    seeded_split,
    split_sizes,
)

SYMBOLS = " +0123456789"  # sorted(set('0123456789+ ')), the script's CharacterTable order: padding is index 0


def addition_questions(count: int, digits: int, seed: int) -> list[tuple[int, int]]:
    """``count`` distinct pairs (a, b) drawn as the script draws them (each number has a uniformly random count of
    1 to ``digits`` digits, each digit uniform), a pair and its swap counting once."""
    limit = sum(9 * 10 ** (k - 1) for k in range(2, digits + 1)) + 10  # numbers of 1..digits digits
    if count > limit * (limit + 1) // 2:
        raise DataError(f"there are fewer than {count} distinct additions of numbers up to {digits} digits")
    rng = random.Random(seed)

    def number() -> int:
        return int("".join(rng.choice("0123456789") for _ in range(rng.randint(1, digits))))

    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    while len(pairs) < count:
        a, b = number(), number()
        key = (min(a, b), max(a, b))
        if key not in seen:
            seen.add(key)
            pairs.append((a, b))
    return pairs


class AdditionDataModule(InMemoryDataModule):
    """Questions ``"a+b"`` (space-padded to ``2 * digits + 1`` symbols, reversed by default as the script's
    ``REVERSE = True``) and answers (the sum, space-padded to ``digits + 1``), as symbol indices.

    The script generates 50,000 distinct questions, shuffles them and holds out the last 10 % for validation, which
    is also what it reports. Here ``test_size`` more questions, distinct from all of those, form a test set that
    choosing the epoch never sees.

    Args:
        digits: Most digits of each number.
        training_size: Questions generated for training and validation (the script's ``TRAINING_SIZE``).
        val_fraction: Part of them held out for validation.
        test_size: Further distinct questions for the test set.
        reverse: Reverse the padded question (the script's ``REVERSE``).
        seed: Seed of the questions and of the split.
        predict_text: Questions to answer with ``predict`` (``"12+345"``), instead of the test set.
        predict_file: A file of questions, one per line.
        batch_size: Questions per batch.
    """

    data_sizes = ("vocab_size", "answer_length")

    def __init__(
        self,
        digits: int = 3,
        training_size: int = 50000,
        val_fraction: float = 0.1,
        test_size: int = 5000,
        reverse: bool = True,
        seed: int = 0,
        predict_text: Sequence[str] | str | None = None,
        predict_file: str | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        pin_memory: bool = False,
        data_on_device: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, data_on_device)
        if digits < 1 or training_size < 2 or test_size < 1:
            raise ValueError(f"need digits >= 1, training_size >= 2, test_size >= 1; got {digits}, {training_size}, "
                             f"{test_size}")  # fmt: skip
        if predict_text is not None and predict_file is not None:
            raise ValueError("give predict_text or predict_file, not both")
        self.save_hyperparameters()
        self.digits, self.training_size, self.val_fraction = digits, training_size, val_fraction
        self.test_size, self.reverse, self.seed = test_size, reverse, seed
        self.predict_text, self.predict_file = as_text_list(predict_text), predict_file

    vocab_size = len(SYMBOLS)

    @property
    def question_length(self) -> int:
        return 2 * self.digits + 1

    @property
    def answer_length(self) -> int:
        return self.digits + 1

    sample_options_key = "question_options"
    sample_options_made = "questions were made"

    def sample_options(self) -> dict[str, Any]:
        """How a question is written and which questions train: with other ``digits`` or ``reverse`` the model reads
        every question wrong (a 2-digit model answered "12+34" with 13); with another ``seed``, ``training_size`` or
        ``val_fraction`` the validation and test questions would hold ones it trained on."""
        return {"digits": self.digits, "reverse": self.reverse, "training_size": self.training_size,
                "val_fraction": self.val_fraction, "seed": self.seed}  # fmt: skip

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        """Questions given to ``predict`` need only be written as the model learnt (test and validate score the
        seeded questions, given ones or not)."""
        saved = super().saved_sample_options(state)
        given = self.predict_text is not None or self.predict_file is not None
        predicting = self.trainer_fn in (None, "predict")  # None: the CLI's early look
        return {k: v for k, v in saved.items() if k in ("digits", "reverse")} if given and predicting else saved

    def encode_question(self, a: int, b: int) -> Tensor:
        query = f"{a}+{b}".ljust(self.question_length)
        return self._symbols(query[::-1] if self.reverse else query)

    def encode_answer(self, total: int) -> Tensor:
        return self._symbols(str(total).ljust(self.answer_length))

    @staticmethod
    def _symbols(text: str) -> Tensor:
        return torch.tensor([SYMBOLS.index(c) for c in text], dtype=torch.long)

    @staticmethod
    def decode(indices: Tensor) -> str:
        return "".join(SYMBOLS[int(i)] for i in indices).strip()

    def question_text(self, encoded: Tensor) -> str:
        """The question as it was asked ("12+345"), from its encoding."""
        text = "".join(SYMBOLS[int(i)] for i in encoded)
        return (text[::-1] if self.reverse else text).strip()

    def _dataset(self, pairs: Sequence[tuple[int, int]]) -> TensorBatchDataset:
        questions = torch.stack([self.encode_question(a, b) for a, b in pairs])
        answers = torch.stack([self.encode_answer(a + b) for a, b in pairs])
        return TensorBatchDataset(questions, answers)

    def setup(self, stage: str) -> None:
        self.say_predict_inputs_unused(stage)
        if stage == "predict" and (self.predict_text is not None or self.predict_file is not None):
            self.splits["predict"] = self._dataset(self._asked())
            return
        if "train" in self.splits:
            return
        pairs = addition_questions(self.training_size + self.test_size, self.digits, self.seed)
        known = self._dataset(pairs[: self.training_size])
        _, n_val = split_sizes(self.training_size, self.val_fraction)
        train, val = seeded_split(self.training_size, n_val, self.seed)
        self.splits["train"] = TensorBatchDataset(*(t[train] for t in known.tensors))
        self.splits["val"] = TensorBatchDataset(*(t[val] for t in known.tensors))
        self.splits["test"] = self.splits["predict"] = self._dataset(pairs[self.training_size :])

    def _asked(self) -> list[tuple[int, int]]:
        if self.predict_text is not None:
            texts = list(self.predict_text)
        else:
            texts = predict_file_lines(self.predict_file, "question")
        if not texts:
            raise DataError("no question to answer: give --data.predict_text '[\"12+345\"]' or a file of them")
        pattern = re.compile(rf"^(\d{{1,{self.digits}}})\+(\d{{1,{self.digits}}})$")
        pairs = []
        for text in texts:
            match = pattern.match(text.replace(" ", ""))
            if match is None:
                raise DataError(f"{text!r} is not a question this model can answer: 'a+b', each up to "
                                f"{self.digits} digits")  # fmt: skip
            pairs.append((int(match[1]), int(match[2])))
        return pairs
