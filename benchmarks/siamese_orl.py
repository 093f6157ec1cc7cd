"""A pair-model config (the Siamese network of Hands-On E10) on the real ORL faces: trained for its schedule, then its
final weights (as the book's) tested with N-way one-shot trials against the pixel nearest neighbour, over seeds.

Writes benchmarks/results/<config name>.json.

    python benchmarks/siamese_orl.py --config configs/fewshot/siamese_orl.yaml --data-dir ../shared/data --seeds 0 1 2
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import EpochLog, machine, seeded_cli, seeded_run_options, write_result  # noqa: E402

# Names in the results file -> the model's logged keys (after "test/{N}_way_").
COLUMNS = {
    "model_pct": "acc",
    "pixel_nn_pct": "pixel_nn_acc",
    "model_book_draw_pct": "acc_book_draw",
    "pixel_nn_book_draw_pct": "pixel_nn_acc_book_draw",
}


def run(config: Path, data_dir: str, seed: int, workdir: Path, cli_args: list[str]) -> dict:
    cli = seeded_cli(config, data_dir, seed, workdir, cli_args)
    losses = EpochLog()  # each epoch's training and validation loss and accuracy, as the book's log
    cli.trainer.callbacks.append(losses)
    cli.trainer.fit(cli.model, cli.datamodule)
    [tested] = cli.trainer.test(cli.model, cli.datamodule, verbose=False)  # the final weights, as the book
    ways = sorted({int(k.split("/")[1].split("_")[0]) for k in tested})
    return {
        "seed": seed,
        "n_way": {
            n: {name: round(100 * tested[f"test/{n}_way_{key}"], 1) for name, key in COLUMNS.items()} for n in ways
        },
        "epochs": losses.epochs,
    }


def summarise(runs: list[dict]) -> dict:
    """Each N's mean over the seeds of every column, the seeds' values, and their range as text ("65.7-75.3",
    keyed "25_model_book_draw_pct", for the cards' notes)."""
    per_seed = {n: {key: [r["n_way"][n][key] for r in runs] for key in COLUMNS} for n in runs[0]["n_way"]}
    n_way = {
        n: {key: round(statistics.mean(values), 1) for key, values in columns.items()}
        | {f"{key}_per_seed": values for key, values in columns.items()}
        for n, columns in per_seed.items()
    }
    seed_range = {
        f"{n}_{key}": f"{min(values)}-{max(values)}"
        for n, columns in per_seed.items()
        for key, values in columns.items()
    }
    return {"seeds_run": len(runs), "epochs": len(runs[0]["epochs"]), "n_way": n_way, "seed_range": seed_range}


def main() -> None:
    args, cli_args = seeded_run_options(__doc__)
    runs = [run(args.config, args.data_dir, seed, args.workdir, cli_args) for seed in args.seeds]
    summary = summarise(runs)
    write_result(args.name, {"config": str(args.config), **summary, "runs": runs, "threads": torch.get_num_threads(),
                             **machine()})  # fmt: skip


if __name__ == "__main__":
    main()
