"""What Keras' ``imdb.npz`` does with test words no training review has (it leaves them out; ours read them as
out of vocabulary unless ``--data.unseen_words skip``): how many test words and 200-word windows that changes, and
the test loss and accuracy of trained IMDB checkpoints with the test reviews read both ways, at the same weights.

    python benchmarks/imdb_unseen_words.py --data-dir ../shared/data --checkpoints CKPT [CKPT ...] --name NAME
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import add_data_dir, machine, write_result  # noqa: E402
from datamodules.text.imdb import IMDBDataModule  # noqa: E402
from datamodules.text.vocabulary import words_of  # noqa: E402
from lightning_zoo.core import load_zoo_module, read_checkpoint  # noqa: E402

CHOICES = ("oov", "skip")


def test_data(data_dir: Path, encoding: dict, words: list[str], unseen_words: str) -> IMDBDataModule:
    """The test reviews encoded as the checkpoint's DataModule did, but for ``unseen_words``."""
    encoding = {**encoding, "unseen_words": unseen_words}
    dm = IMDBDataModule(data_dir=str(data_dir), val_size=0, batch_size=1000, download=False, **encoding)
    dm.setup("test")
    if dm.word_index.words != words[: len(dm.word_index.words)]:  # a "skip" checkpoint's holds every word
        raise SystemExit("the checkpoint's vocabulary is not the one these reviews rank: another corpus?")
    return dm


@torch.no_grad()
def evaluate(model: torch.nn.Module, dm: IMDBDataModule) -> dict:
    logits, targets = [], []
    for x, y in dm.test_dataloader():
        logits.append(model(x).squeeze(-1))
        targets.append(y.float())
    logit, target = torch.cat(logits), torch.cat(targets)
    return {
        "test_loss": round(F.binary_cross_entropy_with_logits(logit, target).item(), 4),
        "test_acc_pct": round(100 * ((logit > 0).float() == target).float().mean().item(), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_dir(parser, Path)
    parser.add_argument("--checkpoints", nargs="+", required=True, help="trained IMDB classifiers' checkpoints")
    parser.add_argument("--name", default="imdb_unseen_words", help="results file name")
    args = parser.parse_args()
    torch.manual_seed(0)
    data, runs = {}, []
    for path in args.checkpoints:
        checkpoint = read_checkpoint(path)
        state, options = checkpoint["IMDBDataModule"], checkpoint["datamodule_hyper_parameters"]
        # maxlen and reverse: from the hyperparameters (the state holds them only since they travel with it)
        encoding = {**state["encoding"], "maxlen": options["maxlen"], "reverse": options["reverse"]}
        model = load_zoo_module(path)
        key = repr(sorted(encoding.items()))
        if key not in data:
            data[key] = {choice: test_data(args.data_dir, encoding, state["words"], choice) for choice in CHOICES}
        runs.append({"checkpoint": path, **{choice: evaluate(model, dm) for choice, dm in data[key].items()}})
        print(runs[-1], flush=True)
    dm = next(iter(data.values()))
    seen = set(dm["skip"].word_index.saved_words)
    line_breaks = dm["skip"].encoding["line_breaks"]
    test_words = [words_of(text, line_breaks) for text in dm["skip"].texts["test"][0]]
    unseen = sum(w not in seen for words in test_words for w in words)
    windows = [dm[choice].splits["test"].tensors[0] for choice in CHOICES]
    write_result(
        args.name,
        {
            "training_words": len(seen),
            "test_words": sum(map(len, test_words)),
            "test_words_unseen_in_training": unseen,
            "test_reviews_with_unseen_words": sum(any(w not in seen for w in words) for words in test_words),
            "test_reviews_whose_window_changes": int((windows[0] != windows[1]).any(dim=1).sum()),
            "runs": runs,
            "note": "the same weights on the same test reviews, read two ways: oov (ours: a word no training review "
            "has is out of vocabulary, index 2) and skip (imdb.npz's: such words are left out)",
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
