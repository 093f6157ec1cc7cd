"""Our IMDB reviews against Keras' own sequences, review by review: given a file in ``imdb.npz``'s layout (Keras'
``x_train, y_train, x_test, y_test``, or a ``numpy.savez`` of ``load_data``'s four arrays, ``arr_0`` to ``arr_3``,
after its ``num_words`` cut), encode the aclImdb reviews as ``load_data`` numbers them with the file's ``num_words``
and count the Keras reviews that one of ours equals: exactly, and up to the order of equally frequent words (where
Keras' order is not first appearance). The test reviews are read both ways, unseen words out of vocabulary (ours) and
left out (``--data.unseen_words skip``, Keras').

    python benchmarks/keras_imdb_sequences.py --data-dir ../shared/data --keras-npz imdb.npz --name NAME

Keras' whole ``imdb.npz`` cannot be downloaded here; a public 5,000 + 1,000-review sample of it (num_words 500,
``imdb.npz`` of github.com/limchaesung/NLP-Model) gave ``keras_imdb_sequences.json``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, write_result  # noqa: E402
from datamodules.text.imdb import read_reviews  # noqa: E402
from datamodules.text.vocabulary import WordIndex, words_of  # noqa: E402

INDEX_FROM = 3  # load_data's default: start 1, out of vocabulary 2, the top word 4
BOOK_NUM_WORDS = 5000  # Hands-On E4's load_data(num_words=5000)

Review = tuple[tuple[int, ...], int]


def keras_reviews(path: Path) -> tuple[list[Review], list[Review]]:
    with np.load(path, allow_pickle=True) as f:
        keys = ["x_train", "y_train", "x_test", "y_test"] if "x_train" in f.files else [f"arr_{i}" for i in range(4)]
        missing = sorted(set(keys) - set(f.files))
        if missing:
            raise SystemExit(f"{path} has {f.files}, not imdb.npz's x_train, y_train, x_test, y_test (or arr_0-arr_3)")
        x_train, y_train, x_test, y_test = (f[k] for k in keys)

    def reviews(xs, ys) -> list[Review]:
        return [(tuple(int(i) for i in x), int(y)) for x, y in zip(xs, ys, strict=True)]

    return reviews(x_train, y_train), reviews(x_test, y_test)


def matches(keras: list[Review], ours: list[Review], canonical=lambda i: i) -> int:
    """How many Keras reviews (sequence and label) one of ours equals, indices read through ``canonical``."""

    def read(review: Review) -> Review:
        return tuple(canonical(i) for i in review[0]), review[1]

    pool = Counter(read(r) for r in ours)
    found = 0
    for review in map(read, keras):
        if pool[review] > 0:
            pool[review] -= 1
            found += 1
    return found


def compare(
    train: tuple[list[str], list[int]],
    test: tuple[list[str], list[int]],
    keras_train: list[Review],
    keras_test: list[Review],
) -> dict:
    """Our reading of the ``train`` and ``test`` (texts, labels) against Keras' sequences of them."""
    num_words = 1 + max(i for x, _ in keras_train + keras_test for i in x)
    counts = Counter(w for text in train[0] for w in words_of(text, line_breaks=True))
    ranked = [w for w, _ in counts.most_common()]  # ties in order of first appearance

    def word_of(index: int) -> str:
        return ranked[index - INDEX_FROM - 1]

    def encoded(texts_and_labels, unseen_words="oov") -> list[Review]:
        words = WordIndex(ranked, num_words, line_breaks=True, unseen_words=unseen_words)
        return [(tuple(words.encode(t)), y) for t, y in zip(*texts_and_labels, strict=True)]

    # An index read as the first index of its word's count: equal up to the order of equally frequent words.
    first_of_count: dict[int, int] = {}
    for rank, w in enumerate(ranked, start=1):
        first_of_count.setdefault(counts[w], rank + INDEX_FROM)

    def by_count(index: int) -> int:
        return first_of_count[counts[word_of(index)]] if index > INDEX_FROM else index

    ours_train = encoded(train)
    # Keras' order of equal counts, read off the training reviews that equal ours up to it.
    ours_by_signature: dict = {}
    for seq, y in ours_train:
        ours_by_signature.setdefault((tuple(map(by_count, seq)), y), seq)
    keras_to_ours: dict[int, Counter] = {}
    for seq, y in keras_train:
        twin = ours_by_signature.get((tuple(map(by_count, seq)), y), ())
        for k, o in zip(seq, twin, strict=False):
            keras_to_ours.setdefault(k, Counter())[o] += 1
    reordered = {k: c.most_common(1)[0][0] for k, c in keras_to_ours.items() if c.most_common(1)[0][0] != k}
    as_keras = {o: k for k, o in reordered.items()}

    def counts_of(keras: list[Review], ours: list[Review]) -> dict:
        in_keras_order = [(tuple(as_keras.get(i, i) for i in s), y) for s, y in ours]
        return {
            "reviews": len(keras),
            "equal": matches(keras, ours),
            "equal_up_to_order_of_equal_counts": matches(keras, ours, by_count),
            "equal_in_keras_order_of_equal_counts": matches(keras, in_keras_order),
        }

    kept = BOOK_NUM_WORDS - INDEX_FROM - 1  # the words num_words=5000 keeps
    cut = counts[ranked[kept - 1]] if len(ranked) > kept else None
    return {
        "num_words": num_words,
        "our_reading": "aclImdb's reviews, words split as Keras (<br /> as 'br'), ranked over the training reviews",
        "train": counts_of(keras_train, ours_train),
        "test_unseen_words_oov": counts_of(keras_test, encoded(test, "oov")),
        "test_unseen_words_skip": counts_of(keras_test, encoded(test, "skip")),
        "words_keras_orders_otherwise": {
            word_of(o): {"count": counts[word_of(o)], "ours": o, "keras": k} for k, o in sorted(reordered.items())
        },
        "book_num_words_cut": cut
        and {
            "num_words": BOOK_NUM_WORDS,
            "count_of_last_word_kept": cut,
            "words_of_that_count": sum(c == cut for c in counts.values()),
            "of_them_kept": sum(counts[w] == cut for w in ranked[:kept]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_dir(parser, Path)
    parser.add_argument("--keras-npz", type=Path, required=True, help="a file in imdb.npz's layout")
    parser.add_argument("--name", default="keras_imdb_sequences")
    args = parser.parse_args()
    train = read_reviews(args.data_dir / "imdb" / "train.jsonl.gz")
    test = read_reviews(args.data_dir / "imdb" / "test.jsonl.gz")
    result = compare(train, test, *keras_reviews(args.keras_npz))
    write_result(args.name, {"keras_file": args.keras_npz.name, **result})


if __name__ == "__main__":
    main()
