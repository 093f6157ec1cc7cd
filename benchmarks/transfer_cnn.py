"""The Keras transfer example on real MNIST: phase 1 (digits 0-4, 5 epochs), then phase 2 from phase 1's final weights
(digits 5-9 on the frozen features, 5 epochs); the test accuracy of each phase's final weights, as the script prints
them, next to its 99.8 % and 99.2 %. Writes benchmarks/results/transfer_cnn_mnist.json.

    python benchmarks/transfer_cnn.py --data-dir ../shared/data --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.classifier import NOTE, run  # noqa: E402
from benchmarks.common import ROOT, add_data_dir, machine, write_result  # noqa: E402

PHASES = (
    ROOT / "configs/classification/transfer_cnn_mnist_0_4.yaml",
    ROOT / "configs/classification/transfer_cnn_mnist_5_9.yaml",
)


def features(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.features.")}


PHASE_2_NOTE = "phase 2 starts from phase 1's final weights of the same seed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir(parser)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workdir", type=Path, help="where the runs write (default: logs/bench_<name>)")
    parser.add_argument("--name", default="transfer_cnn_mnist", help="results file name (benchmarks/results/NAME.json)")
    parser.add_argument("--note", default="", help="what this run changes, recorded with it")
    args, cli_args = parser.parse_known_args()
    args.workdir = args.workdir or ROOT / "logs" / f"bench_{args.name}"  # variants run side by side keep apart
    runs = []
    for seed in args.seeds:
        phase_1, _ = run(PHASES[0], args.data_dir, seed, args.workdir / "phase_1", cli_args)
        start = args.workdir / "phase_1" / f"seed_{seed}.ckpt"
        phase_2, _ = run(
            PHASES[1], args.data_dir, seed, args.workdir / "phase_2", [*cli_args, "--model.init_from", str(start)]
        )
        after = features(args.workdir / "phase_2" / f"seed_{seed}.ckpt")
        frozen = all(torch.equal(v, after[k]) for k, v in features(start).items())
        runs.append({"seed": seed, "phase_1": phase_1, "phase_2": phase_2, "features_unchanged_by_phase_2": frozen})
    write_result(
        args.name,
        {
            "seeds_run": len(runs),
            "phase_1_test_acc_pct_mean": round(statistics.mean(r["phase_1"]["test_acc_pct"] for r in runs), 2),
            "phase_2_test_acc_pct_mean": round(statistics.mean(r["phase_2"]["test_acc_pct"] for r in runs), 2),
            "book_test_acc_pct": {"phase_1": 99.8, "phase_2": 99.2},
            "note": "; ".join(filter(None, [NOTE, PHASE_2_NOTE, args.note])),
            "runs": runs,
            **machine(),
        },
    )


if __name__ == "__main__":
    main()
