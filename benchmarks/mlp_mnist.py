"""The book's MLP (listing 1.3.2) on real data through the CLI and its config: 20 epochs, then test accuracy of the
final weights (as the book evaluates), next to the book's 98.5 % on MNIST. Writes benchmarks/results/<config>.json.

    python benchmarks/mlp_mnist.py --data-dir ../shared/data [--seeds 0 1 2]
    python benchmarks/mlp_mnist.py --config configs/classification/mlp_fashion_mnist.yaml --data-dir DIR
    python benchmarks/mlp_mnist.py --name mlp_mnist_gpu_bf16 --trainer.accelerator gpu --trainer.devices 1 \\
        --trainer.precision bf16-mixed --data.data_on_device true    # other options go to the CLI as they are
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classifier import run  # noqa: E402
from benchmarks.common import ROOT, add_data_dir, machine, write_result  # noqa: E402

BOOK_LABEL_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs/classification/mlp_mnist.yaml")
    add_data_dir(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "bench_mlp"))
    parser.add_argument("--name", help="results file name (default: the config's)")
    args, cli_args = parser.parse_known_args()
    runs = []
    for seed in args.seeds:
        result, cli = run(args.config, args.data_dir, seed, Path(args.workdir), cli_args)
        labels = {s: cli.datamodule.splits[s].tensors[1].bincount(minlength=10).tolist() for s in ("train", "test")}
        if cli.datamodule.folder == "MNIST":
            assert labels == BOOK_LABEL_COUNTS, f"label counts {labels} differ from the book's (L162-L163)"
        runs.append(result)
    accuracies = [r["test_acc_pct"] for r in runs]
    train_accuracies = [r["train_eval_acc_pct"] for r in runs]
    mnist = args.config.stem == "mlp_mnist"
    write_result(
        args.name or args.config.stem,
        {
            "model": "MLP 784-256-256-10, dropout 0.45, Adam (Keras defaults), batch 128, 20 epochs",
            "data": "MNIST 60,000 train / 10,000 test (label counts checked against the book)"
            if mnist
            else f"{args.config.stem.removeprefix('mlp_')}: 60,000 train / 10,000 test",
            "book_test_acc_pct": 98.5 if mnist else None,
            "book_train_acc_pct": 99.39 if mnist else None,
            "test_acc_pct_mean": round(statistics.mean(accuracies), 2),
            "train_eval_acc_pct_mean": round(statistics.mean(train_accuracies), 2),
            "note": "test accuracy of the final weights after 20 epochs, as the book evaluates; train_eval_acc_pct is "
            "the final weights on the training images in eval mode (dropout off); final_train_acc_pct the "
            "training-epoch accuracy with dropout active (Keras' progress-bar number)"
            + (
                ". The porting spec measured 98.28 % (Keras 3) and 98.39 % (plain PyTorch) at seed 0: the book's "
                "98.5 % is at the top of the seed spread."
                if mnist
                else ""
            ),
            "runs": runs,
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
