"""IMDB as text: Keras' tokenizer, word index and padding (checked against hand-computed values), reversed reviews,
the archive's conversion, the vocabulary that checkpoints carry to predict new text, the splits, and GloVe vectors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from datamodules import DataError, DatasetUnavailableError, IMDBDataModule
from datamodules.text.imdb import ARCHIVE, convert_archive, read_reviews
from datamodules.text.vocabulary import WordIndex, pad_sequences, ranked_words, words_of
from lightning_zoo.callbacks import PredictionWriter
from lightning_zoo.cli import ZooCLI
from lightning_zoo.core import ZooError
from lightning_zoo.sequence import RecurrentTextClassifier
from tests.helpers.contract import CARDS, cli_args, fit
from tests.helpers.text import imdb_rows
from tests.helpers.train import trainer

# Ranks 1-10: "the" is the most frequent word.
RANKED = ["the", "a", "film", "great", "awful", "plot", "of", "and", "it", "was"]


def imdb_dm(data_dir: Path, **kwargs) -> IMDBDataModule:
    dm = IMDBDataModule(data_dir=str(data_dir), **{"batch_size": 8, "download": False, **kwargs})
    dm.prepare_data()
    dm.setup("fit")
    return dm


def predicting(dm: IMDBDataModule) -> IMDBDataModule:
    """The DataModule as a trainer's ``predict`` sees it (only ``trainer.state.fn`` and the loader's fields)."""
    dm.trainer = SimpleNamespace(state=SimpleNamespace(fn="predict"), overfit_batches=0, world_size=1, global_rank=0)
    return dm


def rows_of(x: torch.Tensor) -> list[bytes]:
    return [r.numpy().tobytes() for r in x]


def test_words_are_keras_text_to_word_sequence_without_the_line_breaks():
    """Lower case, every punctuation mark but the apostrophe splits words, and IMDB's <br /> is no word "br"."""
    text = "Hello, World! It's a dog's life.<br /><br />The DOG-house (x)\tis 10/10...end"
    expected = "hello world it's a dog's life the dog house x is 10 10 end"  # typed by hand
    assert words_of(text) == expected.split(" ")
    kept = "hello world it's a dog's life br br the dog house x is 10 10 end"  # Keras' imdb.npz reading
    assert words_of(text, line_breaks=True) == kept.split(" ")


def test_words_split_on_spaces_only_as_kerass_so_an_ellipsis_character_joins_two_words():
    """Keras splits on " " after turning tabs, newlines and punctuation into spaces; other whitespace (the reviews'
    U+0085, a cp1252 ellipsis read as Latin-1; U+00A0, a no-break space) stays inside a word, as Keras' imdb index
    has "most\x85and"."""
    assert words_of("Most\x85and\xa0so \t on\n") == ["most\x85and\xa0so", "on"]


def test_words_are_ranked_by_frequency_with_ties_in_order_of_first_appearance():
    """Keras' Tokenizer sorts its word counts stably: equally frequent words keep the order they first appeared in."""
    assert ranked_words(["b a c a", "C d b. c"]) == ["c", "b", "a", "d"]  # c 3, then b 2 before a 2, then d
    assert ranked_words(["b a", "a b"]) == ["b", "a"]


def test_the_word_index_numbers_words_as_imdb_load_data_does():
    """Start marker 1, out-of-vocabulary 2, rank r -> r + 3; indices from num_words on are out of vocabulary."""
    index = WordIndex(RANKED, num_words=8)
    assert index.words == ["the", "a", "film", "great"]  # only ranks 1-4 get an index below 8
    assert [index.index(w) for w in ("the", "a", "film", "great", "awful", "zzz")] == [4, 5, 6, 7, None, None]
    assert index.encode("The film was GREAT, zzz!") == [1, 4, 6, 2, 7, 2]
    assert WordIndex(RANKED, num_words=20).encode("the awful was") == [1, 4, 8, 13]


def test_skip_top_counts_indices_after_the_offset_as_keras_does():
    """skip_top=10 turns ranks 1-6 (indices 4-9) and the start marker itself into oov; rank 7 (index 10) stays."""
    index = WordIndex(RANKED, num_words=20, skip_top=10)
    assert index.encode("the a film great awful plot of and was") == [2, 2, 2, 2, 2, 2, 2, 10, 11, 13]
    assert index.index("plot") is None and index.index("of") == 10


def test_without_an_oov_index_unknown_words_are_dropped():
    """oov_char=None drops out-of-vocabulary words instead of marking them."""
    index = WordIndex(RANKED, num_words=8, oov_char=None)
    assert index.encode("the zzz film was great") == [1, 4, 6, 7]
    assert WordIndex(RANKED, num_words=20, skip_top=10, oov_char=None).encode("the of") == [10]


def test_words_no_training_text_has_can_be_skipped_as_in_keras_imdb_npz():
    """imdb.npz's test reviews lack the words no training review has; a ranked word beyond num_words is still oov."""
    index = WordIndex(RANKED, num_words=8, unseen_words="skip")
    assert index.encode("The film was GREAT, zzz!") == [1, 4, 6, 2, 7]  # zzz (unseen) left out, was (rank 8) oov
    assert index.words == RANKED[:4] and index.saved_words == RANKED  # the whole ranking: what a checkpoint keeps
    with pytest.raises(ValueError, match="unseen_words must be 'oov' or 'skip', got 'drop'"):
        WordIndex(RANKED, num_words=8, unseen_words="drop")


def test_skipped_unseen_words_travel_with_the_vocabulary(data_root, tmp_path):
    """With unseen_words skip the state holds every training word, so a fresh DataModule skips the same words; a
    state of the other choice, or from before the option (oov), is refused naming it."""
    fitted = imdb_dm(data_root, num_words=20, unseen_words="skip")
    state = fitted.state_dict()
    assert state["encoding"]["unseen_words"] == "skip" and len(state["words"]) > 16  # beyond the 16 indexed words
    fresh = IMDBDataModule(data_dir=str(tmp_path), num_words=20, unseen_words="skip")
    fresh.load_state_dict(state)
    texts = ["zzz a great film zzz", " ".join(state["words"][16:20]) + " qqq"]
    assert torch.equal(fresh.encode(texts), fitted.encode(texts))
    assert fresh.encode(texts)[1, -5:].tolist() == [1, 2, 2, 2, 2]  # ranked words past num_words: oov; qqq: gone
    with pytest.raises(DataError, match=r"--data.unseen_words \"skip\" \(here \"oov\"\)"):
        IMDBDataModule(data_dir=str(tmp_path), num_words=20).load_state_dict(state)
    old = imdb_dm(data_root, num_words=20).state_dict()
    del old["encoding"]["unseen_words"]
    with pytest.raises(DataError, match=r"--data.unseen_words \"oov\" \(here \"skip\"\)"):
        IMDBDataModule(data_dir=str(tmp_path), num_words=20, unseen_words="skip").load_state_dict(old)


def test_no_start_marker_and_index_from_zero_is_keras_tokenizer():
    """start_char=None, oov_char=None, index_from=0 is Tokenizer(num_words): the top word is 1, indices < num_words."""
    index = WordIndex(RANKED, num_words=4, start_char=None, oov_char=None, index_from=0)
    assert index.words == ["the", "a", "film"]
    assert index.encode("the great film zzz a") == [1, 3, 2]
    with pytest.raises(ValueError, match=r"num_words \(4\) must exceed index_from \+ 1 \(4\)"):
        WordIndex(RANKED, num_words=4)


def test_pad_sequences_pads_and_truncates_at_the_front():
    """Keras' defaults: zeros in front of short sequences, long ones keep their last maxlen indices."""
    padded = pad_sequences([[1, 2, 3], [4, 5, 6, 7, 8], [], [9, 9, 9, 9]], maxlen=4)
    assert padded.dtype == torch.long
    assert padded.tolist() == [[0, 1, 2, 3], [5, 6, 7, 8], [0, 0, 0, 0], [9, 9, 9, 9]]
    assert pad_sequences([[1]], maxlen=3, value=7).tolist() == [[7, 7, 1]]


def test_reverse_reverses_the_words_before_padding_and_truncation(tmp_path):
    """As the book's x[::-1] before pad_sequences: padding stays in front, truncation keeps the review's first words."""
    text = "the great film was awful"  # [1, 4, 6, 5, 2, 7] with the vocabulary below
    encoded = {}
    for reverse in (False, True):
        for maxlen in (8, 3):
            dm = IMDBDataModule(data_dir=str(tmp_path), num_words=10, maxlen=maxlen, reverse=reverse)
            dm.word_index = WordIndex(["the", "film", "great", "awful"], **dm.encoding)
            encoded[reverse, maxlen] = dm.encode([text]).tolist()[0]
    assert encoded[False, 8] == [0, 0, 1, 4, 6, 5, 2, 7]
    assert encoded[True, 8] == [0, 0, 7, 2, 5, 6, 4, 1]
    assert encoded[False, 3] == [5, 2, 7]  # the review's end
    assert encoded[True, 3] == [6, 4, 1]  # its start ("<start> the great"), reversed


def write_archive(path: Path, members: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def read_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_the_archive_becomes_jsonl_rows_negatives_first_by_numeric_id(tmp_path):
    """Only aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt are reviews; ids sort as numbers, texts stay exact."""
    write_archive(
        tmp_path / ARCHIVE,
        {
            "aclImdb/imdb.vocab": "the\nand\n",
            "aclImdb/train/pos/3_9.txt": "Amélie <br />is great.",
            "aclImdb/train/neg/10_1.txt": "Awful!",
            "aclImdb/train/unsup/0_0.txt": "no label",
            "aclImdb/train/neg/2_3.txt": "Dull, dull.",
            "aclImdb/train/pos/1_7.txt": "Good",
            "aclImdb/train/urls_pos.txt": "http://example.org",
            "aclImdb/test/neg/5_4.txt": "Meh",
            "aclImdb/test/pos/0_8.txt": "Fine",
        },
    )
    convert_archive(tmp_path / ARCHIVE, tmp_path)
    assert read_rows(tmp_path / "train.jsonl.gz") == [
        {"id": 2, "rating": 3, "label": 0, "text": "Dull, dull."},
        {"id": 10, "rating": 1, "label": 0, "text": "Awful!"},
        {"id": 1, "rating": 7, "label": 1, "text": "Good"},
        {"id": 3, "rating": 9, "label": 1, "text": "Amélie <br />is great."},
    ]
    assert read_rows(tmp_path / "test.jsonl.gz") == [
        {"id": 5, "rating": 4, "label": 0, "text": "Meh"},
        {"id": 0, "rating": 8, "label": 1, "text": "Fine"},
    ]
    assert read_reviews(tmp_path / "test.jsonl.gz") == (["Meh", "Fine"], [0, 1])
    assert sorted(p.name for p in tmp_path.iterdir()) == [ARCHIVE, "test.jsonl.gz", "train.jsonl.gz"]


def test_a_corrupt_archive_or_one_without_reviews_is_refused_by_name(tmp_path):
    """A damaged download and an archive of something else end with an error naming the file, and write nothing."""
    corrupt = tmp_path / ARCHIVE
    corrupt.write_bytes(b"this is no gzip")
    with pytest.raises(DatasetUnavailableError, match="is not a readable tar.gz archive") as err:
        convert_archive(corrupt, tmp_path)
    assert str(corrupt) in str(err.value)
    empty = tmp_path / "other.tar.gz"
    write_archive(empty, {"aclImdb/imdb.vocab": "the\n", "aclImdb/train/unsup/0_0.txt": "no label"})
    with pytest.raises(DatasetUnavailableError, match=r"holds no aclImdb/train/\(pos\|neg\)/\*\.txt reviews") as err:
        convert_archive(empty, tmp_path)
    assert str(empty) in str(err.value)
    assert not list(tmp_path.glob("*.jsonl.gz"))


def test_a_damaged_reviews_file_is_refused_by_name(tmp_path):
    """A truncated or foreign reviews file says which file to delete, rather than a JSON or gzip traceback."""
    path = tmp_path / "train.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"id": 0, "text": "no label"}\n')
    with pytest.raises(DatasetUnavailableError, match="is not a readable reviews file") as err:
        read_reviews(path)
    assert str(path) in str(err.value)


def test_missing_reviews_offline_name_the_folder_and_the_archives_md5(tmp_path):
    """With download=False and nothing on disk, prepare_data says what to place where (and touches no network)."""
    dm = IMDBDataModule(data_dir=str(tmp_path / "nowhere"), download=False)
    with pytest.raises(DatasetUnavailableError) as err:
        dm.prepare_data()
    text = str(err.value)
    assert f"{(tmp_path / 'nowhere' / 'imdb').resolve() / ARCHIVE}  (md5 7c2ac02c03563afcf9b574c7e56c153a)" in text
    assert text.startswith("IMDB is not in") and not (tmp_path / "nowhere").exists()


def test_an_archive_placed_by_hand_is_converted_by_setup(tmp_path):
    """setup() without prepare_data converts an archive found in the folder, as the error message suggests."""
    (tmp_path / "imdb").mkdir()
    write_archive(
        tmp_path / "imdb" / ARCHIVE,
        {
            "aclImdb/train/neg/0_1.txt": "bad film",
            "aclImdb/train/pos/0_9.txt": "good film film",
            "aclImdb/test/neg/0_2.txt": "bad",
            "aclImdb/test/pos/0_8.txt": "good",
        },
    )
    dm = IMDBDataModule(data_dir=str(tmp_path), download=False, val_size=0, maxlen=4)
    dm.setup("fit")
    assert dm.word_index.words == ["film", "bad", "good"]
    assert dm.texts["train"] == (["bad film", "good film film"], [0, 1])
    dm.train_dataloader()
    x, y = dm.splits["train"].tensors
    assert sorted(x.tolist()) == [[0, 1, 5, 4], [1, 6, 4, 4]] and sorted(y.tolist()) == [0, 1]


def test_the_vocabulary_round_trips_through_the_state_dict(data_root, tmp_path):
    """A DataModule given a fitted one's state encodes text as the fitted one does, without the corpus."""
    fitted = imdb_dm(data_root, num_words=20)
    state = fitted.state_dict()
    assert state["encoding"] == {
        "num_words": 20, "skip_top": 0, "start_char": 1, "oov_char": 2, "index_from": 3, "line_breaks": False,
        "unseen_words": "oov",
    }  # fmt: skip
    assert state["words"] == fitted.word_index.words and len(state["words"]) == 16
    fresh = IMDBDataModule(data_dir=str(tmp_path), num_words=20)
    assert fresh.state_dict() == {}
    fresh.load_state_dict(state)
    texts = ["A great film, and a boring plot.", "zzz " + " ".join(state["words"])]
    assert torch.equal(fresh.encode(texts), fitted.encode(texts))
    assert fresh.encode(texts)[1, -16:].tolist() == list(range(4, 20))


def test_line_breaks_are_the_word_br_ranked_and_kept_by_skip_top_as_in_keras(tmp_path):
    """With line_breaks, "<br />" is a word: ranked by its count like any other, and a skip_top that drops the words
    above it keeps it (in Keras' imdb.npz "br" is 7th: index 10, kept by E4's skip_top 10)."""
    (tmp_path / "imdb").mkdir()
    write_archive(
        tmp_path / "imdb" / ARCHIVE,
        {
            "aclImdb/train/neg/0_1.txt": "the the the bad<br /><br />film",
            "aclImdb/train/pos/0_9.txt": "the good<br /><br />film film",
            "aclImdb/test/neg/0_2.txt": "bad<br />",
            "aclImdb/test/pos/0_8.txt": "good",
        },
    )
    dm = IMDBDataModule(data_dir=str(tmp_path), download=False, val_size=0, maxlen=6, line_breaks=True, skip_top=5)
    dm.setup("fit")
    assert dm.word_index.words == ["the", "br", "film", "bad", "good"]  # the 4, br 4 (first seen later), film 3
    # start (1) and "the" (4) are below skip_top 5 and become oov (2); br (5) is kept
    assert dm.encode(["the bad<br />film"]).tolist() == [[0, 2, 2, 7, 5, 6]]
    plain = IMDBDataModule(data_dir=str(tmp_path), download=False, val_size=0, maxlen=6)
    plain.setup("fit")
    assert plain.word_index.words == ["the", "film", "bad", "good"]


def test_a_vocabulary_saved_before_the_line_breaks_option_loads_as_without_them(data_root, tmp_path):
    state = imdb_dm(data_root, num_words=20).state_dict()
    del state["encoding"]["line_breaks"]
    fresh = IMDBDataModule(data_dir=str(tmp_path), num_words=20)
    fresh.load_state_dict(state)
    assert fresh.word_index.words == state["words"]
    with pytest.raises(DataError, match=r"--data.line_breaks false \(here true\)"):
        IMDBDataModule(data_dir=str(tmp_path), num_words=20, line_breaks=True).load_state_dict(state)


def test_a_vocabulary_of_other_encoding_options_is_refused_naming_them(data_root, tmp_path):
    """Indices mean other words under other options: loading such a state says which --data option differs."""
    state = imdb_dm(data_root, num_words=20).state_dict()
    other = IMDBDataModule(data_dir=str(tmp_path), num_words=30, oov_char=None)
    with pytest.raises(
        DataError,
        match=r"encoded with --data.num_words 20 \(here 30\), --data.oov_char 2 \(here null\): pass the same options$",
    ):
        other.load_state_dict(state)
    assert other.word_index is None


def test_maxlen_and_reverse_travel_with_the_vocabulary_and_others_are_refused_naming_the_checkpoints(
    data_root, tmp_path
):
    """A review padded, truncated or reversed otherwise than in training is other input to the model: a checkpoint
    is refused under another maxlen or reverse, in one line naming each option and the checkpoint's value."""
    state = imdb_dm(data_root, num_words=20, maxlen=40).state_dict()
    assert state["sequences"] == {"maxlen": 40, "reverse": False}
    same = IMDBDataModule(data_dir=str(tmp_path), num_words=20, maxlen=40)
    same.load_state_dict(state)
    assert same.word_index.words == state["words"]
    for options, message in [
        ({"reverse": True}, r"encoded with --data.reverse false \(here true\): pass the same options$"),
        ({"maxlen": 500}, r"encoded with --data.maxlen 40 \(here 500\): pass the same options$"),
        (
            {"maxlen": 39, "reverse": True, "line_breaks": True},
            r"--data.line_breaks false \(here true\), --data.maxlen 40 \(here 39\), --data.reverse false \(here true\)",
        ),
    ]:
        other = IMDBDataModule(data_dir=str(tmp_path), num_words=20, **{"maxlen": 40, **options})
        with pytest.raises(DataError, match=message):
            other.load_state_dict(state)
        assert other.word_index is None


def test_a_checkpoint_from_before_maxlen_and_reverse_travelled_still_loads(data_root, tmp_path):
    state = imdb_dm(data_root, num_words=20).state_dict()
    del state["sequences"]
    fresh = IMDBDataModule(data_dir=str(tmp_path), num_words=20, maxlen=7, reverse=True)
    fresh.load_state_dict(state)  # nothing to check them against
    assert fresh.word_index.words == state["words"] and fresh.encode(["great"]).shape == (1, 7)


def test_predict_text_needs_the_vocabulary_not_the_corpus(data_root, tmp_path):
    """In predict, given text is encoded with the loaded vocabulary; an empty data folder is never read."""
    state, empty = imdb_dm(data_root, maxlen=5).state_dict(), tmp_path / "empty"
    empty.mkdir()
    dm = predicting(IMDBDataModule(data_dir=str(empty), predict_text=["a great film", "awful"], maxlen=5))
    dm.prepare_data()
    dm.setup("predict")
    with pytest.raises(DataError, match="needs --ckpt_path of a trained run"):
        dm.predict_dataloader()
    dm.load_state_dict(state)
    [(x,)] = list(dm.predict_dataloader())
    expected = [1, *(dm.word_index.index(w) for w in ("a", "great", "film"))]
    assert x.tolist() == [[0, *expected], [0, 0, 0, 1, dm.word_index.index("awful")]]
    assert list(empty.iterdir()) == []


def test_predict_file_reviews_are_its_non_empty_lines_and_a_bad_file_is_refused(data_root, tmp_path):
    """One review per line (blank lines skipped); a missing or empty file ends with a DataError naming it."""
    state = imdb_dm(data_root, maxlen=3).state_dict()

    def predict_batches(path: Path) -> list[torch.Tensor]:
        dm = predicting(IMDBDataModule(data_dir=str(tmp_path), predict_file=str(path), maxlen=3))
        dm.load_state_dict(state)
        return list(dm.predict_dataloader())

    reviews = tmp_path / "reviews.txt"
    reviews.write_text("great\n\n  \nawful film\n")
    [(x,)] = predict_batches(reviews)
    assert x.shape == (2, 3) and x[0, :2].tolist() == [0, 1] and x[1, 0].item() == 1
    with pytest.raises(DataError, match=f"--data.predict_file {tmp_path / 'none.txt'}: no such file"):
        predict_batches(tmp_path / "none.txt")
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(DataError, match="holds no review"):
        predict_batches(tmp_path / "blank.txt")


def test_an_empty_predict_text_is_refused_in_one_line(data_root, tmp_path):
    """``--data.predict_text '[]'`` would predict nothing (Lightning only warns of an empty loader) and leave an
    earlier predictions.csv looking current."""
    dm = predicting(IMDBDataModule(data_dir=str(tmp_path), predict_text=[]))
    dm.load_state_dict(imdb_dm(data_root).state_dict())
    with pytest.raises(DataError, match=r"^--data.predict_text is empty: give at least one review"):
        dm.predict_dataloader()
    for blank, which in (("", "review 1 of 1 is"), (["good", "   ", "\n"], "reviews 2, 3 of 3 are")):  # p = 0.51
        dm = predicting(IMDBDataModule(data_dir=str(tmp_path), predict_text=blank))
        dm.load_state_dict(imdb_dm(data_root).state_dict())
        with pytest.raises(DataError, match=rf"^--data.predict_text: {which} blank$"):
            dm.predict_dataloader()


def test_predictions_csv_holds_each_reviews_text_and_file_line(data_root, tmp_path):
    """Blank lines of a predict file are skipped, so a row's index is not its line: each row gives the review's line
    number and its text, CSV-quoted (commas, quotes, U+0085 inside a review, a CRLF line end); given text has no
    line. Rows are in the order of the reviews, with the probabilities the model gives each."""
    state = imdb_dm(data_root, num_words=100, maxlen=20).state_dict()
    reviews = ["great film", 'awful, "boring" plot', "most\x85and a film, again"]
    path = tmp_path / "reviews.txt"
    path.write_bytes(f"{reviews[0]}\n\n  \n{reviews[1]}\r\n{reviews[2]}\n\n".encode())
    model = RecurrentTextClassifier(vocab_size=100, embedding_dim=8, hidden_size=4, num_classes=2).eval()

    def predicted_rows(**given) -> list[dict[str, str]]:
        dm = IMDBDataModule(data_dir=str(tmp_path), num_words=100, maxlen=20, batch_size=2, **given)
        dm.load_state_dict(state)
        out = tmp_path / "out"
        trainer(tmp_path, callbacks=[PredictionWriter(str(out))]).predict(model, dm)
        with open(out / "predictions.csv", newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    rows = predicted_rows(predict_file=str(path))
    assert [(r["index"], r["line"], r["text"]) for r in rows] == [("0", "1", reviews[0]), ("1", "4", reviews[1]),
                                                                   ("2", "5", reviews[2])]  # fmt: skip
    with torch.no_grad():
        positive = torch.sigmoid(model(state_encoded(state, reviews))).squeeze(-1)
    torch.testing.assert_close(torch.tensor([float(r["prob_1"]) for r in rows]), positive, atol=2e-6, rtol=0)
    assert [r["predicted_class"] for r in rows] == ["positive" if p > 0.5 else "negative" for p in positive.tolist()]
    given = ["a great film,\nthen awful", "awful"]
    rows = predicted_rows(predict_text=given)
    assert list(rows[0]) == ["index", "predicted", "predicted_class", "prob_0", "prob_1", "text"]
    assert [r["text"] for r in rows] == given


def state_encoded(state: dict, texts: list[str]) -> torch.Tensor:
    dm = IMDBDataModule(num_words=100, maxlen=20)
    dm.load_state_dict(state)
    return dm.encode(texts)


def test_predict_text_after_a_fit_of_the_same_datamodule_classifies_that_text(data_root, tmp_path):
    """In one process, fit then predict with one DataModule predicts the given text, not the test set that fit
    left as the predict split; the test set is still there for test."""
    dm = imdb_dm(data_root, num_words=100, maxlen=20, val_size=0.25, predict_text=["a great film", "awful"])
    model = RecurrentTextClassifier(vocab_size=100, embedding_dim=8, hidden_size=4, num_classes=2)
    t = trainer(tmp_path, max_steps=1, limit_val_batches=0, enable_checkpointing=False)
    t.fit(model, dm)
    [batch] = t.predict(model, dm)
    assert batch["probs"].shape == (2, 2) and "target" not in batch
    assert len(dm.test_dataloader().dataset) == 24


@pytest.fixture(scope="module")
def lstm_imdb_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ZooCLI, list[str]]:
    """The LSTM IMDB card trained one epoch on the fixture reviews with --data.maxlen 40, and the options that
    predict from its last.ckpt with an empty data folder."""
    [card] = [c for c in CARDS if c.name == "lstm_imdb"]
    run = tmp_path_factory.mktemp("lstm_imdb") / "run"
    empty = run.parent / "empty"
    empty.mkdir()
    fitted = fit(card, data_root, run, "--trainer.max_epochs", "1", "--data.maxlen", "40")
    checkpoint = Path(fitted.trainer.checkpoint_callback.last_model_path)
    options = [*cli_args(card, data_root, run), "--data.maxlen", "40", "--ckpt_path", str(checkpoint)]
    return fitted, [*options, "--data.data_dir", str(empty)]


@pytest.mark.slow
def test_predict_through_the_cli_classifies_new_text_with_the_checkpoints_vocabulary(lstm_imdb_run):
    """Predict two sentences from the trained run's last.ckpt with an empty data folder: predictions.csv holds the
    trained model's probabilities for those sentences, encoded as in training, and the sentences."""
    fitted, options = lstm_imdb_run
    texts = ["a great film", "awful"]
    ZooCLI(args=["predict", *options, "--data.predict_text", json.dumps(texts)])
    run = Path(fitted.trainer.default_root_dir)
    rows = list(csv.DictReader(open(run / "predictions" / "predictions.csv")))
    assert len(rows) == 2 and "target" not in rows[0] and [r["text"] for r in rows] == texts
    assert list((run.parent / "empty").iterdir()) == []
    model = fitted.model.eval()
    with torch.no_grad():
        positive = torch.sigmoid(model(fitted.datamodule.encode(texts))).squeeze(-1)
    torch.testing.assert_close(torch.tensor([float(r["prob_1"]) for r in rows]), positive, atol=2e-6, rtol=0)


@pytest.mark.slow
def test_predict_through_the_cli_refuses_other_encoding_options_and_no_text(lstm_imdb_run):
    """A maxlen or reverse other than the checkpoint's, and an empty --data.predict_text, end in one line before
    anything is predicted; an earlier predictions.csv is left as it was, not rewritten as if current."""
    fitted, options = lstm_imdb_run
    written = Path(fitted.trainer.default_root_dir) / "predictions" / "predictions.csv"
    written.parent.mkdir(exist_ok=True)
    written.write_text("index,predicted,prob_0,prob_1\n")
    for extra, message in [
        (["--data.reverse", "true"], r"encoded with --data.reverse false \(here true\): pass the same options$"),
        (["--data.maxlen", "41"], r"encoded with --data.maxlen 40 \(here 41\): pass the same options$"),
        (["--data.predict_text", "[]"], r"^--data.predict_text is empty"),
    ]:
        text = ["--data.predict_text", '["Great film"]'] if "--data.predict_text" not in extra else []
        with pytest.raises((DataError, ZooError), match=message):  # the CLI prints either as one line
            ZooCLI(args=["predict", *options, *text, *extra])
    assert written.read_text() == "index,predicted,prob_0,prob_1\n"


def test_val_size_zero_validates_on_the_test_set(data_root):
    """As the books' validation_data=(x_test, y_test): all 48 reviews train, the 24 test reviews validate."""
    dm = imdb_dm(data_root, val_size=0, maxlen=50)
    dm.train_dataloader()
    assert dm.splits["val"] is dm.splits["test"] is dm.splits["predict"]
    assert len(dm.splits["train"]) == 48 and len(dm.splits["test"]) == 24
    x, y = dm.splits["test"].tensors
    assert x.shape == (24, 50) and sorted(y.tolist()) == [0] * 12 + [1] * 12


def test_the_test_reviews_come_in_a_fixed_shuffled_order_so_a_partial_test_sees_both_classes(data_root):
    """The files list the negative test reviews first (12 then 12 positive): served in that order, a test of the
    first batches (--trainer.limit_test_batches) would score one class. Keras' load_data shuffles them (seed 113);
    so do we, the same order every time, each review with its own label."""
    dm = imdb_dm(data_root, val_size=0, maxlen=50)
    dm.test_dataloader()
    x, y = dm.splits["test"].tensors
    assert dm.texts["test"][1] == [0] * 12 + [1] * 12
    assert 0 < sum(y[:8].tolist()) < 8
    again = imdb_dm(data_root, val_size=0, maxlen=50)
    again.test_dataloader()
    assert torch.equal(again.splits["test"].tensors[0], x) and torch.equal(again.splits["test"].tensors[1], y)
    in_file_order = dm.encode(dm.texts["test"][0])
    for row, label in zip(x, y.tolist(), strict=True):  # each review keeps its label
        [i] = [i for i in range(24) if torch.equal(in_file_order[i], row)]
        assert dm.texts["test"][1][i] == label


def test_a_fractional_val_size_is_a_seeded_disjoint_split_and_train_size_subsets_it(data_root):
    """val_size=0.25 holds 12 of the 48 training reviews out (the same for a seed, others for another seed);
    train_size keeps that many of the rest, and more than remain is refused."""

    def splits(**kwargs) -> dict:
        dm = imdb_dm(data_root, maxlen=50, **{"val_size": 0.25, **kwargs})
        dm.train_dataloader()
        return dm.splits

    a, b, c = splits(split_seed=3), splits(split_seed=3), splits(split_seed=4)
    all_rows = sorted(rows_of(splits(val_size=0)["train"].tensors[0]))
    assert len(a["val"]) == 12 and len(a["train"]) == 36
    assert torch.equal(a["val"].tensors[0], b["val"].tensors[0])
    assert not torch.equal(a["val"].tensors[0], c["val"].tensors[0])
    assert sorted(rows_of(a["train"].tensors[0]) + rows_of(a["val"].tensors[0])) == all_rows
    assert a["test"] is not a["val"] and len(a["test"]) == 24
    subset = splits(split_seed=3, train_size=10)
    assert len(subset["train"]) == 10 and set(rows_of(subset["train"].tensors[0])) <= set(
        rows_of(a["train"].tensors[0])
    )
    assert torch.equal(subset["val"].tensors[0], a["val"].tensors[0])
    with pytest.raises(DataError, match="train_size=37, but only 36 training reviews remain"):
        splits(split_seed=3, train_size=37)


def test_embedding_matrix_rows_are_the_files_vectors_and_zeros_elsewhere(tmp_path):
    """Words of the vocabulary get their vector (relative paths are under data_dir); words the file lacks, and the
    padding, start and oov indices, stay zero; words outside the vocabulary are skipped."""
    (tmp_path / "vectors.txt").write_text("the 0.1 0.2 0.3\nzzz 1 2\ngreat -1 0.5 2\n")
    dm = IMDBDataModule(data_dir=str(tmp_path), num_words=10, word_vectors="vectors.txt")
    with pytest.raises(DataError, match="the vocabulary is built in setup"):
        dm.embedding_matrix(3)
    dm.word_index = WordIndex(["the", "film", "great"], **dm.encoding)  # the 4, film 5, great 6
    matrix = dm.embedding_matrix(3)
    expected = torch.zeros(10, 3)
    expected[4], expected[6] = torch.tensor([0.1, 0.2, 0.3]), torch.tensor([-1, 0.5, 2])
    torch.testing.assert_close(matrix, expected, atol=0, rtol=0)
    dm.word_vectors = str(tmp_path / "vectors.txt")  # an absolute path is used as it is
    torch.testing.assert_close(dm.embedding_matrix(3), expected, atol=0, rtol=0)


def test_embedding_matrix_refuses_a_wrong_width_a_missing_file_and_no_file(tmp_path):
    """A vector of another width names its line; a missing file says where to unpack GloVe."""
    (tmp_path / "vectors.txt").write_text("the 0.1 0.2 0.3\ngreat 1 2 3\nfilm 1 2\n")
    dm = IMDBDataModule(data_dir=str(tmp_path), num_words=10, word_vectors="vectors.txt")
    dm.word_index = WordIndex(["the", "film", "great"], **dm.encoding)
    with pytest.raises(DataError, match=r"vectors.txt, line 3: 2 values for 'film', the model wants 3"):
        dm.embedding_matrix(3)
    dm.word_vectors = "glove/glove.6B.100d.txt"
    with pytest.raises(DatasetUnavailableError) as err:
        dm.embedding_matrix(100)
    assert str(err.value).startswith(f"word vectors {tmp_path / 'glove/glove.6B.100d.txt'} not found")
    assert "glove.6B.zip" in str(err.value) and "the 100-d file there" in str(err.value)
    dm.word_vectors = None
    with pytest.raises(DataError, match="pass --data.word_vectors"):
        dm.embedding_matrix(3)


def test_embedding_matrix_refuses_a_vector_of_words_and_a_file_of_none_of_the_words_and_warns_at_few(tmp_path):
    """A value that is no number named by its line (it was float()'s traceback); a file whose words are none of the
    vocabulary's (upper-case, say) trained on a frozen embedding of zeros after one info line; under half: said."""
    dm = IMDBDataModule(data_dir=str(tmp_path), num_words=10, word_vectors="vectors.txt")
    dm.word_index = WordIndex(["the", "film", "great"], **dm.encoding)
    (tmp_path / "vectors.txt").write_text("the 0.1 0.2 0.3\ngreat 1 x 3\n")
    with pytest.raises(DataError, match=r"vectors.txt, line 2: the vector of 'great' is not numbers \(could not"):
        dm.embedding_matrix(3)
    (tmp_path / "vectors.txt").write_text("THE 0.1 0.2 0.3\nGREAT 1 2 3\n")
    with pytest.raises(DataError, match="has a vector for none of the vocabulary's 3 words: a GloVe-format file"):
        dm.embedding_matrix(3)
    (tmp_path / "vectors.txt").write_text("the 0.1 0.2 0.3\nGREAT 1 2 3\n")
    with pytest.warns(UserWarning, match="has vectors for 1 of the 3 words .the others stay zero and frozen"):
        dm.embedding_matrix(3)


def test_predict_inputs_given_to_another_stage_are_said_to_be_unused(data_root):
    """``test --data.predict_text ...`` scored the test set and never said the text was not read."""
    with pytest.warns(UserWarning, match="--data.predict_text is read by predict alone: this test does not use it"):
        IMDBDataModule(data_dir=str(data_root), predict_text="A fine film.").setup("test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        IMDBDataModule(data_dir=str(data_root)).setup("test")
    assert not [w for w in caught if "read by predict alone" in str(w.message)]


def test_test_set_predictions_name_each_reviews_archive_file_in_the_order_served(data_root):
    """The test reviews are served in Keras' shuffled order (seed 113), so predictions.csv's index was no review
    anyone could find: each row now names its aclImdb file (split, sentiment, id and rating), the served label's."""
    dm = predicting(imdb_dm(data_root))
    dm.predict_dataloader()
    files = dm.prediction_inputs()["file"]
    labels = dm.splits["predict"].tensors[1].tolist()
    assert len(files) == len(labels) == 24 and len(set(files)) == 24 and files != sorted(files)  # shuffled, distinct
    served = zip(files, labels, strict=True)
    assert all(f.startswith(f"test/{'pos' if y else 'neg'}/") and f.endswith(".txt") for f, y in served)
    rows = {f"test/{'pos' if r['label'] else 'neg'}/{r['id']}_{r['rating']}.txt": r for r in imdb_rows(12, 1)}
    texts = dm.texts["test"][0]
    assert [rows[f]["text"] for f in files] == [texts[i] for i in dm.test_order]  # each name is its review's
