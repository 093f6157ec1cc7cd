"""The Large Movie Review Dataset (Maas et al. 2011): 25,000 training and 25,000 test reviews, tokenised here with
Keras' conventions, since the books read Keras' pre-tokenised copy."""

from __future__ import annotations

import gzip
import json
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader

from datamodules.base import (
    DataError,
    DatasetUnavailableError,
    InMemoryDataModule,
    TensorBatchDataset,
    as_text_list,
    data_root,
    nonempty_texts,
    numbered_predict_lines,
    seeded_split,
    split_sizes,
)
from datamodules.download import ensure_files
from datamodules.text.vocabulary import WordIndex, pad_sequences, ranked_words
from lightning_zoo.files import atomic_path

ARCHIVE = "aclImdb_v1.tar.gz"
_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def convert_archive(archive: Path, folder: Path) -> None:
    """``aclImdb_v1.tar.gz`` to ``{train,test}.jsonl.gz``: one ``{"id", "rating", "label", "text"}`` line per review,
    negatives first, each by id (the layout ``../shared/data/imdb`` holds). Each file appears whole or not at all."""
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                match = _MEMBER.search(member.name)
                if match and member.isfile():
                    split, sentiment, review_id, rating = match.groups()
                    text = tar.extractfile(member).read().decode("utf-8")
                    label = int(sentiment == "pos")
                    rows[split].append({"id": int(review_id), "rating": int(rating), "label": label, "text": text})
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DatasetUnavailableError(
            f"{archive} is not a readable tar.gz archive ({err}); delete it and run again"
        ) from err
    for split, reviews in rows.items():
        if not reviews:
            raise DatasetUnavailableError(f"{archive} holds no aclImdb/{split}/(pos|neg)/*.txt reviews")
        reviews.sort(key=lambda r: (r["label"], r["id"]))
        with atomic_path(folder / f"{split}.jsonl.gz") as partial, gzip.open(partial, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in reviews)


def read_review_rows(path: Path) -> list[dict[str, Any]]:
    """The reviews of a ``{train,test}.jsonl.gz``, one dict a line (``text``, ``label``; from the archive, ``id`` and
    ``rating`` too)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [{**r, "text": r["text"], "label": int(r["label"])} for r in rows]  # each must have both
    except (OSError, EOFError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise DatasetUnavailableError(
            f"{path} is not a readable reviews file (gzipped JSON lines with text and label: {err}); delete it and "
            "run again to rebuild it from the archive"
        ) from err


def read_reviews(path: Path) -> tuple[list[str], list[int]]:
    return texts_and_labels(read_review_rows(path))


def texts_and_labels(rows: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    return [r["text"] for r in rows], [r["label"] for r in rows]


def archive_names(rows: list[dict[str, Any]], split: str) -> list[str] | None:
    """Each review's file in the aclImdb archive (``test/neg/0_2.txt``: split, sentiment, id and rating), in the
    rows' order; None if a row lacks its id or rating (a reviews file made otherwise)."""
    if not all("id" in r and "rating" in r for r in rows):
        return None
    sentiment = ("neg", "pos")
    return [f"{split}/{sentiment[r['label']]}/{r['id']}_{r['rating']}.txt" for r in rows]


TEST_ORDER_SEED = 113  # keras.datasets.imdb.load_data's default seed


class IMDBDataModule(InMemoryDataModule):
    """IMDB sentiment: reviews as word indices with Keras' conventions, labels 1 (positive) and 0 (negative).

    Reviews are read from ``<data_dir>/imdb/{train,test}.jsonl.gz``; when those are missing, the canonical archive
    (``aclImdb_v1.tar.gz``, MD5-checked) is downloaded there and converted once. Words are ranked by frequency over the
    25,000 training reviews, as Keras' copy ranked them (``benchmarks/keras_imdb_index.py``: each of 92 entries of
    Keras' index lies among our ranks of its count, which ranking over all 50,000 contradicts; only the order of equally
    frequent words differs; ``benchmarks/keras_imdb_sequences.py``: 5,000 training reviews of Keras' ``imdb.npz`` are
    ours review by review, up to that order) and numbered as ``keras.datasets.imdb.load_data`` does (see
    :class:`~datamodules.text.vocabulary.WordIndex`); sequences are padded and truncated at the front, as
    ``pad_sequences`` does. The vocabulary is saved in checkpoints, so ``predict`` classifies new text with the words
    the model was trained on, without the corpus; so are the options that encode a review (a checkpoint is refused
    under other ones, naming them), and ``predictions.csv`` holds each given review's text (and file line).

    Args:
        data_dir: Root folder; default ``$LIGHTNING_ZOO_DATA`` or ``./data``.
        batch_size: Reviews per batch.
        num_words: Indices below this are kept (Keras' ``num_words``): the embedding's input size.
        skip_top: Keras' ``skip_top`` (it counts indices: 10 drops ranks 1-6 and the start marker).
        maxlen: Length every sequence is padded or truncated to (at the front).
        reverse: Reverse each review's words before padding, as "Deep Learning with Python" 6.3 does (``x[::-1]``
            before ``pad_sequences``): the padding stays in front, the truncation keeps the review's first words.
        start_char: Index marking the start of a review (None: no marker).
        oov_char: Index of out-of-vocabulary words (None: they are dropped, as Keras' ``Tokenizer``).
        index_from: The most frequent word's index is ``index_from + 1``.
        line_breaks: Read the reviews' ``<br />`` line breaks as the word "br", as Keras' ``imdb.npz`` does (there
            the 7th most frequent word, so ``skip_top=10`` keeps it); False drops them.
        unseen_words: What becomes of a word that no training review has: ``"oov"``, the out-of-vocabulary index
            (as a word beyond ``num_words``), or ``"skip"``, left out, as Keras' ``imdb.npz`` left such words out
            of its test reviews (1.1 % of the test words; 62 % of the test reviews then keep another 200-word
            window). With ``"skip"`` checkpoints hold every training word (88,582 in IMDB's), not only the top
            ``num_words``.
        val_size: Validation reviews held out of the training reviews (a count or a fraction, seeded); 0 validates
            on the test set, as the books' ``validation_data=(x_test, y_test)`` does. The words are ranked over all
            25,000 training reviews, the validation ones among them, as the books' Keras data were: a validation
            review has no unseen word, while 1.1 % of the test reviews' words are unseen
            (``benchmarks/results/bilstm_imdb_unseen_words.json``), so validation reads a little easier than test.
        train_size: Keep only this many training reviews (after the validation split), as the GloVe example trains
            on 200; None keeps all.
        split_seed: Seed of the validation split and of the ``train_size`` subset.
        word_vectors: A GloVe-format text file (``word v1 v2 ...`` per line); relative paths are under
            ``data_dir``. Models with ``pretrained_embedding`` start their embedding from it.
        predict_text: Reviews to classify with ``predict``, instead of the test set (at least one).
        predict_file: A text file of reviews to classify with ``predict``, one per line (blank lines are skipped;
            ``predictions.csv`` gives each review's line number).
        download: Download the archive when the reviews are missing.
        num_workers: DataLoader workers; 0 is fastest for in-memory tensors.
        pin_memory: Pin batches for faster host-to-GPU copies.
    """

    data_sizes = ("num_classes", "vocab_size", "sequence_length")
    folder = "imdb"
    mirrors = ("https://ai.stanford.edu/~amaas/data/sentiment/",)
    resources = {ARCHIVE: "7c2ac02c03563afcf9b574c7e56c153a"}
    class_names = ("negative", "positive")
    num_classes = 2

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 128,
        num_words: int = 10000,
        skip_top: int = 0,
        maxlen: int = 500,
        reverse: bool = False,
        start_char: int | None = 1,
        oov_char: int | None = 2,
        index_from: int = 3,
        line_breaks: bool = False,
        unseen_words: Literal["oov", "skip"] = "oov",
        val_size: int | float = 0.2,
        train_size: int | None = None,
        split_seed: int = 0,
        word_vectors: str | None = None,
        predict_text: Sequence[str] | str | None = None,
        predict_file: str | None = None,
        download: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory)
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        if num_words <= index_from + 1:
            raise ValueError(f"num_words ({num_words}) must exceed index_from + 1 ({index_from + 1})")
        if train_size is not None and train_size < 1:
            raise ValueError(f"train_size must be at least 1 (or None for all), got {train_size}")
        if predict_text is not None and predict_file is not None:
            raise ValueError("give predict_text or predict_file, not both")
        self.save_hyperparameters()
        self.data_dir = data_root(data_dir)
        self.num_words, self.maxlen, self.reverse = num_words, maxlen, reverse
        self.encoding = {
            "num_words": num_words,
            "skip_top": skip_top,
            "start_char": start_char,
            "oov_char": oov_char,
            "index_from": index_from,
            "line_breaks": line_breaks,
            "unseen_words": unseen_words,
        }
        self.val_size, self.train_size, self.split_seed = val_size, train_size, split_seed
        self.word_vectors = word_vectors
        self.predict_text = as_text_list(predict_text)
        self.predict_file, self.download = predict_file, download
        self.word_index: WordIndex | None = None
        self.texts: dict[str, tuple[list[str], list[int]]] = {}
        self.predicted_inputs: dict[str, list] = {}
        self.test_order: list[int] = []  # the test reviews' indices in the file, in the order they are served
        self.archive_names: dict[str, list[str] | None] = {}  # each split's review files (predictions.csv's file)

    @property
    def vocab_size(self) -> int:
        return self.num_words

    @property
    def sequence_length(self) -> int:
        return self.maxlen

    @property
    def imdb_folder(self) -> Path:
        return self.data_dir / self.folder

    def _has_reviews(self) -> bool:
        return all((self.imdb_folder / f"{split}.jsonl.gz").is_file() for split in ("train", "test"))

    def prepare_data(self) -> None:
        if self._predicts_given_text() or self._has_reviews():
            return
        ensure_files(self.imdb_folder, self.resources, self.mirrors, "IMDB", self.download, uncompressed_ok=False)
        rank_zero_info(f"IMDB: converting {ARCHIVE} to {self.imdb_folder}/{{train,test}}.jsonl.gz (once)")
        convert_archive(self.imdb_folder / ARCHIVE, self.imdb_folder)

    def _predicts_given_text(self) -> bool:
        trainer_fn = getattr(getattr(self.trainer, "state", None), "fn", None)
        return (self.predict_text is not None or self.predict_file is not None) and trainer_fn == "predict"

    def setup(self, stage: str) -> None:
        self.say_predict_inputs_unused(stage)
        if stage == "predict" and self._predicts_given_text():
            return  # new text needs only the vocabulary, which the checkpoint brings (load_state_dict)
        if self.texts:
            return
        if not self._has_reviews():
            ensure_files(self.imdb_folder, self.resources, self.mirrors, "IMDB", download=False, uncompressed_ok=False)
            convert_archive(self.imdb_folder / ARCHIVE, self.imdb_folder)  # placed by hand after prepare_data
        for split in ("train", "test"):
            rows = read_review_rows(self.imdb_folder / f"{split}.jsonl.gz")
            self.texts[split] = texts_and_labels(rows)
            self.archive_names[split] = archive_names(rows, split)
        if self.word_index is None:
            ranked = ranked_words(self.texts["train"][0], self.encoding["line_breaks"])
            self.word_index = WordIndex(ranked, **self.encoding)

    # The vocabulary travels in checkpoints, with every option that changes how a review becomes indices. Lightning
    # restores it after setup(), so reviews are encoded when a loader is first asked for, with whichever vocabulary
    # is in place by then.
    sample_options_made = "reviews were encoded"

    def sample_options(self) -> dict[str, Any]:
        return {**self.encoding, "maxlen": self.maxlen, "reverse": self.reverse}

    def state_dict(self) -> dict[str, Any]:
        if self.word_index is None:
            return {}
        return {"words": self.word_index.saved_words, "encoding": dict(self.encoding),
                "sequences": {"maxlen": self.maxlen, "reverse": self.reverse}}  # fmt: skip

    def saved_sample_options(self, state: dict[str, Any]) -> dict[str, Any]:
        """The options in this class's own layout (not under ``sample_options_key``). Checkpoints from before an
        option was saved load as if it had its value of then (line_breaks False, unseen_words oov) or unchecked
        (maxlen and reverse)."""
        return {"line_breaks": False, "unseen_words": "oov", **state["encoding"], **state.get("sequences", {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Takes a checkpoint's vocabulary, unless its reviews were encoded under other options (refused, see the
        base class)."""
        if not state:
            return
        super().load_state_dict(state)
        if self.word_index is None or self.word_index.saved_words != state["words"]:
            self.word_index = WordIndex(state["words"], **self.encoding)
            self.splits = {}

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Reviews as a (reviews, maxlen) tensor of word indices, with the vocabulary in place."""
        if self.word_index is None:
            raise DataError(
                "no vocabulary: predicting new text needs --ckpt_path of a trained run (its checkpoint holds the "
                "vocabulary)"
            )
        sequences = [self.word_index.encode(text) for text in texts]
        if self.reverse:
            sequences = [s[::-1] for s in sequences]
        return pad_sequences(sequences, self.maxlen)

    def _encode_splits(self) -> None:
        if self._predicts_given_text():
            inputs = self._inputs_to_predict()
            self.splits["predict"] = TensorBatchDataset(self.encode(inputs["text"]))
            self.predicted_inputs = inputs
            return
        train_x, train_y = self.encode(self.texts["train"][0]), torch.tensor(self.texts["train"][1])
        # aclImdb lists its test reviews negative first: a partial test (--trainer.limit_test_batches) would see one
        # class. They are served in a fixed shuffled order, as Keras' load_data serves its (seed 113).
        order = torch.randperm(len(self.texts["test"][1]), generator=torch.Generator().manual_seed(TEST_ORDER_SEED))
        self.test_order = order.tolist()
        test = TensorBatchDataset(self.encode(self.texts["test"][0])[order], torch.tensor(self.texts["test"][1])[order])
        _, n_val = split_sizes(len(train_x), self.val_size)
        train_idx, val_idx = seeded_split(len(train_x), n_val, self.split_seed)
        if self.train_size is not None:
            if self.train_size > len(train_idx):
                raise DataError(f"train_size={self.train_size}, but only {len(train_idx)} training reviews remain")
            train_idx = train_idx[: self.train_size]  # already in a seeded random order
        self.splits["train"] = TensorBatchDataset(train_x[train_idx], train_y[train_idx])
        if n_val:
            self.splits["val"] = TensorBatchDataset(train_x[val_idx], train_y[val_idx])
        else:
            self.say_validation_is_the_test_set("IMDB")
            self.splits["val"] = test
        self.splits["test"] = self.splits["predict"] = test

    def _inputs_to_predict(self) -> dict[str, list]:
        """The reviews to classify, as the columns that identify them in ``predictions.csv``: ``text``, and for a
        file ``line``, each review's 1-based line number (blank lines are skipped)."""
        if self.predict_text is not None:
            texts = nonempty_texts(self.predict_text, "review", "A moving film.", "--data.predict_file")
            blank = [number for number, text in enumerate(texts, start=1) if not text.strip()]
            if blank:  # all padding: a prediction (p = 0.51) of nothing (a predict_file's blank lines are skipped)
                which = (
                    f"reviews {', '.join(map(str, blank))} of {len(texts)} are"
                    if len(blank) > 1
                    else f"review {blank[0]} of {len(texts)} is"
                )
                raise DataError(f"--data.predict_text: {which} blank")
            return {"text": texts}
        numbered = numbered_predict_lines(self.predict_file, "review")
        return {"line": [n for n, _ in numbered], "text": [text for _, text in numbered]}

    def prediction_inputs(self) -> dict[str, list]:
        """Columns naming each predicted sample, in order, for the classifier's ``predictions.csv``: the given text
        (and file line) when predicting ``predict_text`` or ``predict_file``; for the test set (served in Keras'
        shuffled order), each review's ``file`` in the aclImdb archive."""
        if self._predicts_given_text():
            return self.predicted_inputs
        files = self.archive_names.get("test") if self.test_order else None
        return {} if files is None else {"file": [files[i] for i in self.test_order]}

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        # Given text replaces the test set an earlier fit or test of this DataModule left as the predict split.
        if split not in self.splits or (split == "predict" and self._predicts_given_text()):
            self._encode_splits()
        return super()._loader(split, shuffle)

    def embedding_matrix(self, dim: int) -> torch.Tensor:
        """Rows of ``word_vectors`` for the vocabulary's indices (zeros for words the file lacks, as the book
        leaves them), a (num_words, dim) tensor; its coverage is logged."""
        if self.word_vectors is None:
            raise DataError("pretrained_embedding needs word vectors: pass --data.word_vectors <GloVe .txt file>")
        if self.word_index is None:
            raise DataError("the vocabulary is built in setup(): call it first")
        path = Path(self.word_vectors)
        path = path if path.is_absolute() else self.data_dir / path
        if not path.is_file():
            raise DatasetUnavailableError(
                f"word vectors {path} not found: download GloVe (https://nlp.stanford.edu/projects/glove/, e.g. "
                f"glove.6B.zip) and unpack the {dim}-d file there, or pass --data.word_vectors <file>"
            )
        matrix = torch.zeros(self.num_words, dim)
        found = 0
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                word, *values = line.rstrip().split(" ")
                index = self.word_index.index(word)
                if index is None:
                    continue
                if len(values) != dim:
                    raise DataError(f"{path}, line {number}: {len(values)} values for {word!r}, the model wants {dim}")
                try:
                    matrix[index] = torch.tensor([float(v) for v in values])
                except ValueError as err:  # float()'s "could not convert string to float: 'x'"
                    raise DataError(f"{path}, line {number}: the vector of {word!r} is not numbers ({err})") from None
                found += 1
        words = len(self.word_index.words)
        if found == 0:  # a frozen embedding of zeros: the model could never tell one word from another
            raise DataError(
                f"{path} has a vector for none of the vocabulary's {words} words: a GloVe-format file has one line a "
                f"word, the lower-case word and then its {dim} numbers, separated by spaces"
            )
        (rank_zero_warn if found < words / 2 else rank_zero_info)(
            f"IMDB: {path.name} has vectors for {found} of the {words} words"
            + (" (the others stay zero and frozen: is it the right file?)" if found < words / 2 else "")
        )
        return matrix
