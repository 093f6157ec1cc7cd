"""How our IMDB vocabulary compares with Keras' ``imdb_word_index.json``: word ranks over the training reviews or
over all 50,000, against 92 entries of Keras' index (transcribed from a printout of ``imdb.get_word_index()``; the
whole file, 88,584 words, cannot be downloaded here). A Keras rank is "consistent" with ours when it lies among the
ranks we give the words of the same count (Keras' order among equally frequent words is not first appearance).

    python benchmarks/keras_imdb_index.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, write_result  # noqa: E402
from datamodules.text.imdb import read_reviews  # noqa: E402
from datamodules.text.vocabulary import words_of  # noqa: E402

# word: index in Keras' imdb_word_index.json (1 the most frequent)
KERAS_INDEX = {
    "the": 1, "br": 7, "has": 44, "had": 66, "much": 73, "want": 178, "effects": 299, "wrong": 352, "kids": 359,
    "feeling": 544, "saying": 657, "lots": 772, "nature": 873, "needed": 884, "fit": 1180, "starring": 1181,
    "purpose": 1285, "master": 1297, "bottom": 1321, "cinematic": 1357, "woods": 1408, "wooden": 1636,
    "nicely": 1777, "screaming": 1927, "travel": 2103, "woody": 2289, "crowd": 2290, "bringing": 2338,
    "hanging": 2345, "hat": 2401, "hong": 2576, "extent": 2823, "spin": 3084, "dialogs": 3230, "shoots": 3231,
    "raped": 3537, "altogether": 3899, "superficial": 3900, "dinosaurs": 3930, "errors": 4010, "disturbed": 4011,
    "fix": 4287, "hal": 4311, "corporate": 4449, "mummy": 4588, "subplots": 4760, "ham": 4892, "tech": 4988,
    "doubts": 4989, "uplifting": 5034, "barrymore": 5120, "wang": 5283, "marshall": 5340, "positively": 5399,
    "morally": 5621, "affairs": 5622, "tempted": 5745, "else's": 5924, "disgrace": 6041, "ingrid": 6192,
    "spit": 6259, "crown": 6627, "barbra": 6702, "butcher": 6703, "arranged": 6746, "olds": 6792, "ira": 6887,
    "controversy": 7093, "stern": 7180, "martian": 7253, "arkin": 7364, "plate": 7476, "discipline": 7693,
    "wholesome": 7799, "adapt": 7916, "fabric": 8289, "padded": 8422, "lds": 8776, "bothers": 8777, "rapes": 8926,
    "welcomed": 9092, "academic": 9094, "honeymoon": 9095, "lotr": 9259, "passenger": 9457, "hurting": 9654,
    "zatoichi": 9836, "projection": 9878, "irs": 9879, "yahoo": 10307, "venoms": 10584, "tom's": 11038,
}  # fmt: skip


def compare(texts: list[str]) -> dict:
    counts = Counter(word for text in texts for word in words_of(text, line_breaks=True))
    ranked = [word for word, _ in counts.most_common()]
    rank = {word: r for r, word in enumerate(ranked, start=1)}
    first, last = {}, {}
    for r, word in enumerate(ranked, start=1):
        first.setdefault(counts[word], r)
        last[counts[word]] = r
    seen = {w: k for w, k in KERAS_INDEX.items() if w in counts}
    consistent = [w for w, k in seen.items() if first[counts[w]] <= k <= last[counts[w]]]
    return {
        "words": len(ranked),
        "same_rank": sum(rank[w] == k for w, k in seen.items()),
        "consistent": len(consistent),
        "median_rank_difference": statistics.median(abs(rank[w] - k) for w, k in seen.items()) if seen else None,
        "inconsistent": {w: [k, rank[w]] for w, k in seen.items() if w not in consistent},
        "never_seen": sorted(set(KERAS_INDEX) - set(seen)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_dir(parser, Path)
    args = parser.parse_args()
    train = read_reviews(args.data_dir / "imdb" / "train.jsonl.gz")[0]
    test = read_reviews(args.data_dir / "imdb" / "test.jsonl.gz")[0]
    write_result(
        "keras_imdb_index",
        {
            "keras_entries": len(KERAS_INDEX),
            "keras_words": 88584,
            "ranked_over_training_reviews": compare(train),
            "ranked_over_all_reviews": compare(train + test),
            "note": "our reading (datamodules.text.vocabulary.words_of, <br /> as 'br'); Keras' entries are "
            "consistent when they lie among the ranks of the words with the same count",
        },
    )


if __name__ == "__main__":
    main()
