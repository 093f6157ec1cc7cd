"""Tiny IMDB-format review files and a GloVe-format vector file, written by the tests themselves."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

POSITIVE = ("great", "wonderful", "loved", "superb", "moving", "brilliant")
NEGATIVE = ("awful", "boring", "hated", "dull", "terrible", "worst")
NEUTRAL = ("the", "a", "film", "movie", "and", "of", "it", "was", "this", "plot", "actor", "scene", "story", "i")


def review(rng: random.Random, positive: bool) -> str:
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(8, 30))]
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if positive else NEGATIVE))
    return " ".join(words).capitalize() + ".<br /><br />" + rng.choice(NEUTRAL).capitalize() + "!"


def imdb_rows(n_per_class: int, seed: int) -> list[dict]:
    """Reviews in ``shared/data/imdb``'s layout: negatives first, then positives, each by id."""
    rng = random.Random(seed)
    return [
        {"id": i, "rating": rng.randint(*(7, 10) if label else (1, 4)), "label": label, "text": review(rng, label)}
        for label in (0, 1)
        for i in range(n_per_class)
    ]


def write_imdb(root: Path, train_per_class: int = 24, test_per_class: int = 12) -> None:
    """``root/imdb/{train,test}.jsonl.gz``: reviews of a few dozen words whose sentiment words decide the label."""
    folder = root / "imdb"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", train_per_class, 0), ("test", test_per_class, 1)):
        with gzip.open(folder / f"{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in imdb_rows(n, seed))


def write_glove(path: Path, dim: int = 100, seed: int = 0) -> None:
    """A GloVe-format file (``word v1 ... v_dim`` per line) with seeded vectors for the fixture's words."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for word in (*NEUTRAL, *POSITIVE, *NEGATIVE):
            f.write(word + " " + " ".join(f"{rng.uniform(-1, 1):.5f}" for _ in range(dim)) + "\n")


CORPUS_WORDS = ("the", "count", "said", "prince", "andrew", "was", "and", "to", "of", "her", "him", "in", "with")


def corpus_text(characters: int, seed: int) -> str:
    """Sentences of a few common words (some capitalised, with punctuation and line breaks), ``characters`` long."""
    rng = random.Random(seed)
    parts: list[str] = []
    length = 0
    while length < characters:
        words = [rng.choice(CORPUS_WORDS) for _ in range(rng.randint(3, 9))]
        sentence = " ".join(words).capitalize() + rng.choice((". ", ", ", "! ", "?\n", ".\n"))
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)[:characters]


def write_corpus(path: Path, characters: int = 6000, seed: int = 0, bom: bool = False, newline: str = "\n") -> str:
    """A text file of :func:`corpus_text`, optionally with War and Peace's byte-order mark and ``\\r`` line ends;
    returns the text as the books' ``open(f).read()`` reads it back."""
    text = corpus_text(characters, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline=newline) as f:
        f.write(("\ufeff" if bom else "") + text)
    return ("\ufeff" if bom else "") + text
