"""Keras' text conventions, reimplemented: ``text_to_word_sequence``, word ranks by frequency, the
``imdb.load_data`` index scheme (padding 0, start 1, out-of-vocabulary 2, words from 3), and ``pad_sequences``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

import torch
from torch import Tensor

# Keras' Tokenizer filters (every ASCII punctuation mark but the apostrophe, tabs and newlines).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_TO_SPACES = str.maketrans(KERAS_FILTERS, " " * len(KERAS_FILTERS))


def words_of(text: str, line_breaks: bool = False) -> list[str]:
    """Keras' ``text_to_word_sequence``: lower case, punctuation, tabs and newlines to spaces, split on spaces only
    (other whitespace stays in a word: Keras' IMDB index has "most\\x85and"). IMDB's ``<br />`` line breaks are
    removed first unless ``line_breaks``; kept, each is the word "br", as in Keras' ``imdb.npz`` (where "br" is the
    7th most frequent word)."""
    if not line_breaks:
        text = text.replace("<br />", " ")
    return [word for word in text.lower().translate(_TO_SPACES).split(" ") if word]


def ranked_words(texts: Iterable[str], line_breaks: bool = False) -> list[str]:
    """Every word of ``texts`` (read by :func:`words_of`) by descending frequency (ties in order of first
    appearance, as Keras' Tokenizer): rank 1 is the first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words_of(text, line_breaks))
    return [word for word, _ in counts.most_common()]


class WordIndex:
    """Words to indices as ``keras.datasets.imdb.load_data`` numbers them: the word of rank r (1 the most frequent)
    is ``r + index_from``; each sequence starts with ``start_char``; indices outside ``[skip_top, num_words)``
    become ``oov_char`` (or are dropped when it is None).

    Keras applies that range test after the start marker and the offset, so ``skip_top`` counts indices, not
    ranks: ``skip_top=10`` turns ranks 1-6 and the start marker itself into ``oov_char`` (as ``load_data`` does).
    Words never seen in the ranked corpus are out of vocabulary too, or with ``unseen_words="skip"`` left out: Keras'
    ``imdb.npz`` left out of its test reviews the words no training review has ("the 'out of vocabulary'
    character is only used for words that were present in the training set", ``load_data``'s docstring); that
    needs every ranked word, not only the top ``num_words``. With ``start_char=None``, ``oov_char=None`` and
    ``index_from=0`` this is Keras' ``Tokenizer(num_words)`` (unknown words dropped, the top word is 1).
    """

    def __init__(
        self,
        ranked: Sequence[str],
        num_words: int,
        skip_top: int = 0,
        start_char: int | None = 1,
        oov_char: int | None = 2,
        index_from: int = 3,
        line_breaks: bool = False,
        unseen_words: Literal["oov", "skip"] = "oov",
    ) -> None:
        if num_words <= index_from + 1:
            raise ValueError(f"num_words ({num_words}) must exceed index_from + 1 ({index_from + 1}) to keep any word")
        if unseen_words not in ("oov", "skip"):
            raise ValueError(f"unseen_words must be 'oov' or 'skip', got {unseen_words!r}")
        self.num_words, self.skip_top, self.line_breaks = num_words, skip_top, line_breaks
        self.start_char, self.oov_char, self.index_from = start_char, oov_char, index_from
        self.words = list(ranked[: num_words - index_from - 1])  # the only ones that can get an index
        self._index = {word: rank + index_from for rank, word in enumerate(self.words, start=1)}
        # Skipping unseen words needs all the ranked words: they are what a checkpoint must keep (``saved_words``).
        self.saved_words = list(ranked) if unseen_words == "skip" else self.words
        self._seen = frozenset(ranked) if unseen_words == "skip" else None

    def index(self, word: str) -> int | None:
        """A word's index, or None if it is out of the vocabulary."""
        i = self._index.get(word)
        return i if i is not None and self.skip_top <= i < self.num_words else None

    def encode(self, text: str) -> list[int]:
        words = words_of(text, self.line_breaks)
        if self._seen is not None:
            words = [w for w in words if w in self._seen]
        raw = ([self.start_char] if self.start_char is not None else []) + [
            self._index.get(w, self.num_words) for w in words
        ]
        kept = [i if self.skip_top <= i < self.num_words else self.oov_char for i in raw]
        return [i for i in kept if i is not None]


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int, value: int = 0) -> Tensor:
    """Keras' ``pad_sequences`` with its defaults: padding and truncation at the front (the end of a text is kept)."""
    out = torch.full((len(sequences), maxlen), value, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        kept = sequence[-maxlen:] if maxlen else []
        if kept:
            out[row, maxlen - len(kept) :] = torch.tensor(kept, dtype=torch.long)
    return out
